// Shared pieces of the method tests: a tiny backbone and tensor comparison.
#pragma once

#include "test_context.h"

#include <mdlab/backbone.h>
#include <mdlab/context.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <string>

namespace mdlab::test {

/// A small conv net with BatchNorm: [N, C, H, W] -> [N, 16].
class TinyBackbone final : public Backbone {
 public:
  explicit TinyBackbone(int64_t channels = 3) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 8, 3)));
    bn = register_module("bn", torch::nn::BatchNorm2d(8));
    fc = register_module("fc", torch::nn::Linear(8, 16));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto h = torch::relu(bn->forward(conv->forward(x)));
    return fc->forward(h.mean({2, 3}));
  }
  int64_t feature_dim() const override { return 16; }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};

/// |a - b| <= atol + rtol * |b| everywhere, with the worst element in the message.
inline void check_close(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol,
                        const std::string& what) {
  INFO(what << ": shapes " << a.sizes() << " vs " << b.sizes());
  REQUIRE(a.sizes() == b.sizes());
  auto diff = (a.to(torch::kDouble) - b.to(torch::kDouble)).abs();
  auto bound = atol + rtol * b.to(torch::kDouble).abs();
  INFO(what << ": max |diff| " << diff.max().item<double>() << ", max excess "
            << (diff - bound).max().item<double>());
  CHECK((diff <= bound).all().item<bool>());
}

}  // namespace mdlab::test
