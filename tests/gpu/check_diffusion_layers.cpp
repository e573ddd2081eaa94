// A manual GPU check (CI has no GPU): the diffusion layers built against a CUDA LibTorch. The
// fused scaled_dot_product_attention path taken on CUDA must match the chunked matmul path of
// the CPU (fp32 to 1e-5, fp16 and bf16 to their precision), and whole blocks must agree in
// fp32 with TF32 off (cuDNN convolutions use TF32 by default on Ampere and later, which alone
// moves a ResnetBlock2D output by about 3e-4 relative). Exit status 1 on any failure.
// Run: bash tests/gpu/check_diffusion_layers.sh (on a machine with CUDA PyTorch).
#include "layers.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

using namespace mdlab::diffusion;

static int failures = 0;

// Prints the check and counts it as failed when diff > tol * max(1, |ref|max).
static void check(const char* what, double d, double ref_max, double tol) {
  const bool ok = d <= tol * std::max(1.0, ref_max);
  failures += ok ? 0 : 1;
  std::printf("%-4s %s: max |diff| %.3g (tolerance %.3g)\n", ok ? "ok" : "FAIL", what, d,
              tol * std::max(1.0, ref_max));
}

static double diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU).to(torch::kDouble) - b.to(torch::kCPU).to(torch::kDouble))
      .abs()
      .max()
      .item<double>();
}

int main() {
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  std::printf("torch %s, cuda %d, devices %d\n", TORCH_VERSION, (int)torch::cuda::is_available(),
              (int)torch::cuda::device_count());
  torch::manual_seed(0);
  struct Shape {
    int64_t n, h, lq, lk, d;
  };
  for (Shape s : {Shape{2, 8, 4096, 4096, 40}, Shape{2, 8, 4096, 1, 40},
                  Shape{1, 1, 4096, 4096, 512}, Shape{3, 5, 77, 257, 64}}) {
    auto q = torch::randn({s.n, s.h, s.lq, s.d}), k = torch::randn({s.n, s.h, s.lk, s.d}),
         v = torch::randn({s.n, s.h, s.lk, s.d});
    const double scale = 1.0 / std::sqrt((double)s.d);
    auto ref = attention(q, k, v, scale, false);
    auto got32 = attention(q.cuda(), k.cuda(), v.cuda(), scale, false);
    auto got16 = attention(q.cuda().to(torch::kHalf), k.cuda().to(torch::kHalf),
                           v.cuda().to(torch::kHalf), scale, true);
    auto gotbf = attention(q.cuda().to(torch::kBFloat16), k.cuda().to(torch::kBFloat16),
                           v.cuda().to(torch::kBFloat16), scale, false);
    const double m = ref.abs().max().item<double>();
    char what[128];
    std::snprintf(what, sizeof what, "attention [%ld,%ld,%ld,%ld] x Lk %ld", (long)s.n, (long)s.h,
                  (long)s.lq, (long)s.d, (long)s.lk);
    check((std::string(what) + " fp32").c_str(), diff(got32, ref), m, 1e-5);
    check((std::string(what) + " fp16").c_str(), diff(got16, ref), m, 5e-3);
    check((std::string(what) + " bf16").c_str(), diff(gotbf, ref), m, 3e-2);
  }
  torch::NoGradGuard no_grad;
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  ResnetBlock2D block(64, 128, 256, 32, 1e-5);
  auto x = torch::randn({2, 64, 32, 32}), temb = torch::randn({2, 256});
  auto ref = block->forward(x, temb);
  block->to(torch::kCUDA);
  check("ResnetBlock2D fp32", diff(block->forward(x.cuda(), temb.cuda()), ref),
        ref.abs().max().item<double>(), 1e-5);
  CrossAttention attn(320, 768, 8, 40, false);
  auto h = torch::randn({2, 1024, 320}), ctx = torch::randn({2, 1, 768});
  auto aref = attn->forward(h, ctx);
  CrossAttention self_attn(320, 320, 8, 40, false);
  auto sref = self_attn->forward(h);
  attn->to(torch::kCUDA);
  self_attn->to(torch::kCUDA);
  check("CrossAttention (one context token) fp32", diff(attn->forward(h.cuda(), ctx.cuda()), aref),
        aref.abs().max().item<double>(), 1e-5);
  check("CrossAttention (self) fp32", diff(self_attn->forward(h.cuda()), sref),
        sref.abs().max().item<double>(), 1e-5);
  std::printf("%d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
