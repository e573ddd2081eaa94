#include "attention_maps.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

namespace mdlab::eval {

torch::Tensor threshold_masks(const torch::Tensor& attention, double threshold) {
  MDLAB_CHECK(attention.dim() == 3, "attention maps must be [N, heads, patches], got {}",
              c10::str(attention.sizes()));
  // As DINO's visualisation: sort ascending, keep the patches whose cumulative share (from
  // the smallest) exceeds 1 - threshold, i.e. the largest ones holding `threshold` of the mass.
  auto [sorted, order] = attention.sort(-1);
  const torch::Tensor share = sorted / sorted.sum(-1, true).clamp_min(1e-30);
  const torch::Tensor keep_sorted = share.cumsum(-1) > (1.0 - threshold);
  torch::Tensor mask = torch::zeros_like(keep_sorted);
  mask.scatter_(-1, order, keep_sorted);
  return mask;
}

AttentionMapsEvaluator::AttentionMapsEvaluator(const Options& options, Context&)
    : options_(options) {}

OptionsSchema AttentionMapsEvaluator::options_schema() {
  OptionsSchema s;
  s.add_string("split", "test", "Split whose first images are shown");
  s.add_int("images", 4, "Number of images").range(1, 1024);
  s.add_float("threshold", 0.6, "Share of the attention mass a mask keeps (DINO: 0.6)")
      .range(0.0, 1.0);
  return s;
}

EvalResult AttentionMapsEvaluator::evaluate(Backbone& encoder, EvalData& data, Context& context) {
  const std::string split = options_.get_string("split");
  const int64_t wanted = options_.get_int("images");
  auto stream = data.open(split);
  std::vector<torch::Tensor> parts;
  int64_t have = 0;
  torch::Tensor images, labels;
  while (have < wanted && stream->next(images, labels)) {
    parts.push_back(images.slice(0, 0, wanted - have).clone());
    have += parts.back().size(0);
  }
  MDLAB_CHECK(have > 0, "split '{}' is empty", split);
  const torch::Tensor x = torch::cat(parts);
  const int64_t n = x.size(0), height = x.size(2), width = x.size(3);

  torch::NoGradGuard no_grad;
  auto attention = encoder.last_attention(x.to(context.device()));
  MDLAB_CHECK(attention.has_value(),
              "the encoder has no attention maps: attention_maps needs a ViT backbone");
  const torch::Tensor att = attention->to(torch::kCPU, torch::kFloat);
  MDLAB_CHECK(att.dim() == 4 && att.size(0) == n && att.size(2) == att.size(3),
              "last_attention returned {}, expected [{}, heads, tokens, tokens]",
              c10::str(att.sizes()), n);
  const int64_t heads = att.size(1), patches = att.size(2) - 1;
  // The patch side p from the token count: (H / p) * (W / p) = patches.
  const auto p = static_cast<int64_t>(
      std::llround(std::sqrt(static_cast<double>(height * width) / static_cast<double>(patches))));
  MDLAB_CHECK(p > 0 && height % p == 0 && width % p == 0 && (height / p) * (width / p) == patches,
              "cannot place {} patch tokens on a {}x{} image", patches, height, width);
  const int64_t gh = height / p, gw = width / p;

  const torch::Tensor cls = att.select(2, 0).slice(2, 1);  // [N, heads, patches]
  const torch::Tensor masks = threshold_masks(cls, options_.get_float("threshold"));
  const torch::Tensor area = masks.to(torch::kFloat).mean(-1);  // [N, heads]

  EvalResult result;
  result.artifacts.push_back({"attention", cls.reshape({n, heads, gh, gw}).contiguous()});
  // Inputs back to bytes for display.
  const Normalization norm = data.normalization(split);
  const int64_t channels = x.size(1);
  auto channel_values = [&](const std::vector<double>& v) {
    std::vector<float> out;
    for (int64_t c = 0; c < channels; ++c)
      out.push_back(static_cast<float>(v.size() == 1 ? v[0] : v[static_cast<size_t>(c)]));
    return torch::tensor(out).view({1, channels, 1, 1});
  };
  const torch::Tensor pixels = (x * channel_values(norm.stddev) + channel_values(norm.mean))
                                   .mul(255)
                                   .round()
                                   .clamp(0, 255)
                                   .to(torch::kUInt8);
  auto upsample = [&](const torch::Tensor& map) {  // [gh, gw] -> [H, W]
    return map.repeat_interleave(p, 0).repeat_interleave(p, 1).contiguous();
  };
  auto to_bytes = [](const torch::Tensor& map) {
    return (map / map.max().clamp_min(1e-30) * 255).round().clamp(0, 255).to(torch::kUInt8);
  };

  Table table;
  table.name = "masks";
  for (int64_t h = 0; h < heads; ++h) table.columns.push_back(fmt::format("area_head{}", h));
  table.columns.push_back("sharpest_head");
  for (int64_t i = 0; i < n; ++i) {
    result.artifacts.push_back(
        {fmt::format("image_{}", i), pixels[i].permute({1, 2, 0}).contiguous()});
    for (int64_t h = 0; h < heads; ++h) {
      const torch::Tensor map = cls[i][h].view({gh, gw});
      result.artifacts.push_back(
          {fmt::format("attention_{}_head{}", i, h), upsample(to_bytes(map))});
      result.artifacts.push_back({fmt::format("mask_{}_head{}", i, h),
                                  upsample(masks[i][h].view({gh, gw}).to(torch::kUInt8) * 255)});
    }
    result.artifacts.push_back(
        {fmt::format("attention_{}_mean", i), upsample(to_bytes(cls[i].mean(0).view({gh, gw})))});
    table.rows.push_back(fmt::format("image_{}", i));
    std::vector<double> row;
    for (int64_t h = 0; h < heads; ++h) row.push_back(area[i][h].item<double>());
    row.push_back(static_cast<double>(area[i].argmin().item<int64_t>()));
    table.values.push_back(std::move(row));
  }
  context.log(LogLevel::Info, fmt::format("attention maps: {} images x {} heads on a {}x{} grid", n,
                                          heads, gh, gw));
  result.tables.push_back(std::move(table));
  return result;
}

}  // namespace mdlab::eval
