// The diffusion layers on a CUDA device (MDLAB_TEST_DEVICE=cuda; skipped elsewhere) against
// the CPU. On CUDA attention goes through the fused scaled_dot_product_attention (LibTorch
// 2.1+), on the CPU through matmuls and a softmax (per head in reused buffers, or chunked):
// fp32 must agree to 1e-5 and fp16 / bf16 to their precision. Whole blocks are compared in
// fp32 with TF32 off: cuDNN's convolutions use TF32 by default on Ampere and later, which
// alone moves a ResnetBlock2D output by ~3e-4.
#include "layers.h"
#include "test_device.h"

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <algorithm>

using namespace mdlab::diffusion;

namespace {

// max |a - b| relative to max(1, max |ref|), on the CPU in double.
double relative_diff(const torch::Tensor& got, const torch::Tensor& ref) {
  const auto r = ref.to(torch::kCPU, torch::kDouble);
  const double scale = std::max(1.0, r.abs().max().item<double>());
  return (got.to(torch::kCPU, torch::kDouble) - r).abs().max().item<double>() / scale;
}

// Restores LibTorch's TF32 switches on scope exit.
struct NoTf32 {
  bool cudnn = at::globalContext().allowTF32CuDNN();
  bool cublas = at::globalContext().allowTF32CuBLAS();
  NoTf32() {
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
  }
  ~NoTf32() {
    at::globalContext().setAllowTF32CuDNN(cudnn);
    at::globalContext().setAllowTF32CuBLAS(cublas);
  }
};

}  // namespace

TEST_CASE("attention on CUDA matches the CPU's path in fp32, fp16 and bf16", "[device]") {
  const auto device = mdlab::test::cuda_test_device();
  if (!device) return;
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  struct Shape {
    int64_t n, h, lq, lk, d;
  };
  // Self-attention at a 64x64 latent (per head on the CPU), one context token, a wide head
  // (beyond flash attention's head sizes) and odd lengths.
  for (Shape s : {Shape{2, 8, 4096, 4096, 40}, Shape{2, 8, 4096, 1, 40},
                  Shape{1, 1, 1024, 1024, 512}, Shape{3, 5, 77, 257, 64}}) {
    CAPTURE(s.n, s.h, s.lq, s.lk, s.d);
    auto q = torch::randn({s.n, s.h, s.lq, s.d}), k = torch::randn({s.n, s.h, s.lk, s.d}),
         v = torch::randn({s.n, s.h, s.lk, s.d});
    const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
    const auto ref = attention(q, k, v, scale, false);
    auto on = [&](torch::ScalarType dtype, bool upcast) {
      return attention(q.to(*device, dtype), k.to(*device, dtype), v.to(*device, dtype), scale,
                       upcast);
    };
    CHECK(relative_diff(on(torch::kFloat, false), ref) <= 1e-5);
    CHECK(relative_diff(on(torch::kHalf, true), ref) <= 5e-3);
    CHECK(relative_diff(on(torch::kBFloat16, false), ref) <= 3e-2);
  }
}

TEST_CASE("ResnetBlock2D and CrossAttention on CUDA match the CPU in fp32 without TF32",
          "[device]") {
  const auto device = mdlab::test::cuda_test_device();
  if (!device) return;
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  NoTf32 no_tf32;
  ResnetBlock2D block(64, 128, 256, 32, 1e-5);
  auto x = torch::randn({2, 64, 32, 32}), temb = torch::randn({2, 256});
  const auto block_ref = block->forward(x, temb);
  block->to(*device);
  CHECK(relative_diff(block->forward(x.to(*device), temb.to(*device)), block_ref) <= 1e-5);

  CrossAttention cross(320, 768, 8, 40, false), self(320, 320, 8, 40, false);
  auto h = torch::randn({2, 1024, 320}), context = torch::randn({2, 1, 768});
  const auto cross_ref = cross->forward(h, context);
  const auto self_ref = self->forward(h);
  cross->to(*device);
  self->to(*device);
  CHECK(relative_diff(cross->forward(h.to(*device), context.to(*device)), cross_ref) <= 1e-5);
  CHECK(relative_diff(self->forward(h.to(*device)), self_ref) <= 1e-5);
}
