#include "image_set.h"

#include "idx_file.h"

#include <mdlab/context.h>
#include <mdlab/error.h>

#include <torch/torch.h>

#include <cmath>

namespace fs = std::filesystem;

namespace mdlab {

std::string ImageSet::key(int64_t i) const {
  int64_t original = source_index.defined() ? source_index[i].item<int64_t>() : i;
  return split + "/" + std::to_string(original);
}

ImageSet load_idx_split(const fs::path& root, const std::string& split) {
  IdxSplit idx = read_idx_split(root, split);
  IdxArray& images = idx.images;
  IdxArray& labels = idx.labels;
  ImageSet set;
  set.split = split;
  set.images = images.data.unsqueeze(1);
  set.labels = labels.data.to(torch::kLong);
  set.num_classes = set.labels.max().item<int64_t>() + 1;
  set.source_index = torch::arange(set.size(), torch::kLong);
  // Mean/std of the split's pixels: what torchvision users hard-code per dataset, computed.
  auto pixels = set.images.to(torch::kFloat).div_(255.0);
  set.mean = {pixels.mean().item<double>()};
  set.std = {pixels.std().item<double>()};
  return set;
}

ImageSet stratified_subset(const ImageSet& set, double fraction, uint64_t seed) {
  MDLAB_CHECK(fraction > 0 && fraction <= 1, "fraction must be in (0, 1], got {}", fraction);
  if (fraction == 1.0) return set;
  auto gen = make_cpu_generator(derive_seed(seed, "data/subset"));
  std::vector<torch::Tensor> keep;
  for (int64_t c = 0; c < set.num_classes; ++c) {
    auto idx = (set.labels == c).nonzero().flatten();
    if (idx.numel() == 0) continue;
    auto perm = torch::randperm(idx.numel(), gen, torch::kLong);
    int64_t k = std::max<int64_t>(1, static_cast<int64_t>(std::llround(fraction * idx.numel())));
    keep.push_back(idx.index_select(0, perm.slice(0, 0, k)));
  }
  auto chosen = std::get<0>(torch::cat(keep).sort());
  ImageSet out = set;
  out.images = set.images.index_select(0, chosen).contiguous();
  out.labels = set.labels.index_select(0, chosen);
  out.source_index = set.source_index.index_select(0, chosen);
  return out;
}

ImageSet with_channels(const ImageSet& set, int64_t channels) {
  const int64_t have = set.images.size(1);
  if (have == channels) return set;
  MDLAB_CHECK(have == 1 && channels == 3, "cannot turn {}-channel images into {} channels", have,
              channels);
  ImageSet out = set;
  out.images = set.images.expand({-1, 3, -1, -1}).contiguous();
  out.mean.assign(3, set.mean[0]);
  out.std.assign(3, set.std[0]);
  return out;
}

torch::Tensor make_batch(const ImageSet& set, const torch::Tensor& indices,
                         const c10::Device& device) {
  auto x = set.images.index_select(0, indices).to(device).to(torch::kFloat).div_(255.0);
  auto opts = torch::TensorOptions().dtype(torch::kFloat).device(device);
  auto mean = torch::tensor(set.mean, torch::kDouble).to(opts).view({1, -1, 1, 1});
  auto std = torch::tensor(set.std, torch::kDouble).to(opts).view({1, -1, 1, 1});
  return x.sub_(mean).div_(std);
}

torch::Tensor epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  auto gen = make_cpu_generator(derive_seed(seed, "data/epoch/" + std::to_string(epoch)));
  return torch::randperm(n, gen, torch::kLong);
}

}  // namespace mdlab
