#include "idx_source.h"

#include "class_list.h"
#include "idx_file.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>

namespace fs = std::filesystem;

namespace mdlab {
namespace {

// MNIST-family label files hold digits (or ten garment kinds); a split that happens to miss
// the top label must still get the same class count as its partner split.
constexpr int64_t kMinClasses = 10;

class IdxSource final : public DataSource {
 public:
  explicit IdxSource(const SourceRequest& request);

  int64_t size() const override { return static_cast<int64_t>(keys_.size()); }
  const std::string& key(int64_t i) const override { return keys_.at(static_cast<size_t>(i)); }
  int64_t label(int64_t i) const override { return labels_.at(static_cast<size_t>(i)); }
  const std::vector<std::string>& classes() const override { return classes_; }
  void load(int64_t i, ImageU8& out, const DecodeHint&) const override {
    const int64_t record = records_.at(static_cast<size_t>(i));
    out.resize(height_, width_, 1);
    std::memcpy(out.data.data(), pixels_.data_ptr<uint8_t>() + record * height_ * width_,
                out.data.size());
  }
  std::string describe() const override {
    return fmt::format("idx {} split {}: {} images {}x{}, {} classes{}", root_.string(), split_,
                       size(), width_, height_, classes_.size(),
                       dropped_ > 0 ? fmt::format(" ({} classes outside train_classes)", dropped_)
                                    : std::string());
  }

 private:
  fs::path root_;
  std::string split_;
  torch::Tensor pixels_;  // uint8 [N, H, W], contiguous, every record of the file
  int height_ = 0;
  int width_ = 0;
  std::vector<int64_t> records_;  // sample -> record in the file
  std::vector<std::string> keys_;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
  int64_t dropped_ = 0;
};

IdxSource::IdxSource(const SourceRequest& request) : root_(request.root), split_(request.split) {
  IdxSplit idx = read_idx_split(root_, split_);
  pixels_ = idx.images.data.contiguous();
  height_ = static_cast<int>(idx.images.dims[1]);
  width_ = static_cast<int>(idx.images.dims[2]);
  const int64_t n = idx.images.dims[0];
  const uint8_t* raw_labels = idx.labels.data.data_ptr<uint8_t>();
  const int64_t needed = n > 0 ? *std::max_element(raw_labels, raw_labels + n) + 1 : 0;

  std::vector<std::string> own;
  if (!request.class_list.empty()) {
    own = class_names_from_list(request.class_list, needed);
  } else if (looks_like_fashion_mnist(root_) && needed <= kMinClasses) {
    own = fashion_mnist_classes();
  } else {
    own = index_class_names(std::max(kMinClasses, needed));
  }
  ClassRestriction restricted = restrict_classes(
      own, request.train_classes, fmt::format("IDX dataset {}", idx.labels_file.string()));
  classes_ = std::move(restricted.classes);
  dropped_ = restricted.dropped;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t label = restricted.relabel[raw_labels[r]];
    if (label < 0) continue;
    records_.push_back(r);
    labels_.push_back(label);
    keys_.push_back(fmt::format("{}/{}", split_, r));
  }
}

}  // namespace

std::unique_ptr<DataSource> open_idx_source(const SourceRequest& request) {
  return std::make_unique<IdxSource>(request);
}

SourceFormat idx_source_format() {
  return {
      "idx",
      "MNIST / Fashion-MNIST IDX files: <root>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]",
      open_idx_source};
}

}  // namespace mdlab
