// attention() on the CPU: the fp32 inference path that goes one head at a time through reused
// buffers gives the batched matmul + softmax result, over one tile and over several; with
// autograd the differentiable path is taken and gradients flow.
#include "layers.h"

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>

using mdlab::diffusion::attention;

namespace {

torch::Tensor reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        double scale) {
  return torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-1, -2)) * scale, -1), v);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE("CPU attention through reused buffers equals the batched matmul and softmax") {
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  // 128 MiB of scores (tiled; one tile per head), then 160 MB with 40,000 keys (two tiles of
  // 419 and 93 queries per head), and a value width that differs from the key width.
  struct Shape {
    int64_t n, h, lq, lk, d, dv;
  };
  for (Shape s : {Shape{2, 8, 1024, 1024, 40, 40}, Shape{1, 2, 512, 40000, 16, 24}}) {
    CAPTURE(s.n, s.h, s.lq, s.lk, s.d, s.dv);
    auto q = torch::randn({s.n, s.h, s.lq, s.d}), k = torch::randn({s.n, s.h, s.lk, s.d}),
         v = torch::randn({s.n, s.h, s.lk, s.dv});
    const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
    const auto got = attention(q, k, v, scale);
    REQUIRE(got.sizes() == torch::IntArrayRef({s.n, s.h, s.lq, s.dv}));
    CHECK(max_diff(got, reference(q, k, v, scale)) < 1e-5);
  }
}

TEST_CASE("CPU attention under autograd takes the differentiable path") {
  torch::manual_seed(1);
  auto q = torch::randn({1, 8, 1024, 40}).requires_grad_(), k = torch::randn({1, 8, 1024, 40}),
       v = torch::randn({1, 8, 1024, 40});
  auto out = attention(q, k, v, 0.158);
  out.sum().backward();
  REQUIRE(q.grad().defined());
  auto q2 = q.detach().clone().requires_grad_();
  reference(q2, k, v, 0.158).sum().backward();
  CHECK(max_diff(q.grad(), q2.grad()) < 1e-4);
}
