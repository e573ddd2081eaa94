// Feature sets with known answers for the evaluator tests: well separated Gaussian clusters
// (any sound classifier reaches ~100%) and the same features with shuffled labels (chance).
#pragma once

#include <mdlab/backbone.h>

#include <torch/torch.h>

#include <cstdint>
#include <utility>

namespace mdlab::test {

/// `n` samples of `classes` clusters in `dim` dimensions: class c is centred at 8 * e_c
/// (plus a shared offset) with unit noise; labels cycle through the classes.
inline std::pair<torch::Tensor, torch::Tensor> separable_set(int64_t n, int64_t classes,
                                                             int64_t dim, uint64_t seed) {
  auto g = at::detail::createCPUGenerator(seed);
  torch::Tensor labels = torch::arange(n, torch::kLong) % classes;
  torch::Tensor centres = torch::zeros({classes, dim});
  for (int64_t c = 0; c < classes; ++c) centres[c][c % dim] = 8.0;
  torch::Tensor x = centres.index_select(0, labels) + torch::randn({n, dim}, g) + 3.0;
  return {x, labels};
}

/// `labels` permuted by a seeded shuffle: features no longer predict them.
inline torch::Tensor shuffled(const torch::Tensor& labels, uint64_t seed) {
  auto g = at::detail::createCPUGenerator(seed);
  return labels.index_select(0, torch::randperm(labels.size(0), g, torch::kLong));
}

/// An encoder whose features are its inputs (in-memory feature sets stand for images).
struct IdentityEncoder final : Backbone {
  torch::Tensor forward(const torch::Tensor& x) override { return x.flatten(1); }
  int64_t feature_dim() const override { return 0; }
};

}  // namespace mdlab::test
