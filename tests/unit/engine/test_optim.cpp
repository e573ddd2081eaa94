// Optimizers against hand-computed updates, and schedules at key steps.
#include "fixtures.h"
#include "lars.h"
#include "mixed_precision.h"
#include "schedules.h"
#include "test_device.h"

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cmath>

namespace {

torch::optim::OptimizerParamGroup group(torch::Tensor p, std::unique_ptr<mdlab::LarsOptions> o) {
  return torch::optim::OptimizerParamGroup({p}, std::move(o));
}

}  // namespace

TEST_CASE("LARS follows its formula on a tiny tensor") {
  // p = [3, 4] (norm 5), g = [0.6, 0.8] (norm 1), lr 0.5, wd 0.1, eta 0.02, momentum 0.9.
  auto p = torch::tensor({3.0, 4.0}, torch::kDouble).requires_grad_();
  auto opts = std::make_unique<mdlab::LarsOptions>(0.5);
  opts->momentum(0.9).weight_decay(0.1).eta(0.02).eps(0.0);
  mdlab::Lars lars({group(p, std::move(opts))}, mdlab::LarsOptions(0.5));
  p.mutable_grad() = torch::tensor({0.6, 0.8}, torch::kDouble);
  lars.step();
  // trust = 0.02 * 5 / (1 + 0.1 * 5) = 1/15; d = trust * (g + 0.1 p) = [0.9, 1.2] / 15
  const double trust = 0.02 * 5.0 / (1.0 + 0.5);
  const double d0 = trust * (0.6 + 0.3), d1 = trust * (0.8 + 0.4);
  CHECK(p[0].item<double>() == Approx(3.0 - 0.5 * d0).epsilon(1e-12));
  CHECK(p[1].item<double>() == Approx(4.0 - 0.5 * d1).epsilon(1e-12));
  // Second step: buf = 0.9 * d_prev + d_new.
  const double p0 = p[0].item<double>(), p1 = p[1].item<double>();
  p.mutable_grad() = torch::tensor({0.6, 0.8}, torch::kDouble);
  lars.step();
  const double pn = std::sqrt(p0 * p0 + p1 * p1);
  const double t2 = 0.02 * pn / (1.0 + 0.1 * pn);
  const double e0 = t2 * (0.6 + 0.1 * p0), e1 = t2 * (0.8 + 0.1 * p1);
  CHECK(p[0].item<double>() == Approx(p0 - 0.5 * (0.9 * d0 + e0)).epsilon(1e-12));
  CHECK(p[1].item<double>() == Approx(p1 - 0.5 * (0.9 * d1 + e1)).epsilon(1e-12));
}

TEST_CASE("LARS leaves excluded tensors to plain momentum SGD without weight decay") {
  auto p = torch::tensor({1.0, -2.0}, torch::kDouble).requires_grad_();
  auto opts = std::make_unique<mdlab::LarsOptions>(0.1);
  opts->momentum(0.9).weight_decay(0.5).adapt(false);
  mdlab::Lars lars({group(p, std::move(opts))}, mdlab::LarsOptions(0.1));
  p.mutable_grad() = torch::tensor({1.0, 1.0}, torch::kDouble);
  lars.step();
  CHECK(p[0].item<double>() == Approx(0.9));
  CHECK(p[1].item<double>() == Approx(-2.1));
}

TEST_CASE("LARS clips the trust ratio by the learning rate when asked") {
  // trust = 0.02 * 5 / 1 = 0.1; clipped: min(0.1 / 0.01, 1) = 1 -> d = g.
  auto p = torch::tensor({3.0, 4.0}, torch::kDouble).requires_grad_();
  auto opts = std::make_unique<mdlab::LarsOptions>(0.01);
  opts->momentum(0).eta(0.02).eps(0).clip_lr(true);
  mdlab::Lars lars({group(p, std::move(opts))}, mdlab::LarsOptions(0.01));
  p.mutable_grad() = torch::tensor({0.6, 0.8}, torch::kDouble);
  lars.step();
  CHECK(p[0].item<double>() == Approx(3.0 - 0.01 * 0.6));
  CHECK(p[1].item<double>() == Approx(4.0 - 0.01 * 0.8));
}

TEST_CASE("LARS state survives torch::save and torch::load") {
  auto make = [](torch::Tensor p) {
    auto opts = std::make_unique<mdlab::LarsOptions>(0.5);
    opts->momentum(0.9).weight_decay(0.1);
    return std::make_unique<mdlab::Lars>(
        std::vector<torch::optim::OptimizerParamGroup>{group(p, std::move(opts))},
        mdlab::LarsOptions(0.5));
  };
  auto p = torch::tensor({3.0, 4.0}).requires_grad_();
  auto a = make(p);
  p.mutable_grad() = torch::tensor({0.6, 0.8});
  a->step();
  auto file = mdlab::test::temp_dir("lars") / "opt.pt";
  torch::save(*a, file.string());
  auto q = p.detach().clone().requires_grad_();
  auto b = make(q);
  torch::load(*b, file.string());
  p.mutable_grad() = torch::tensor({0.1, 0.2});
  q.mutable_grad() = torch::tensor({0.1, 0.2});
  a->step();
  b->step();
  CHECK(torch::equal(p, q));
}

TEST_CASE("SGD and AdamW take the textbook first step") {
  auto p = torch::tensor({1.0}, torch::kDouble).requires_grad_();
  torch::optim::SGD sgd({p}, torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(0.01));
  p.mutable_grad() = torch::tensor({2.0}, torch::kDouble);
  sgd.step();
  CHECK(p.item<double>() == Approx(1.0 - 0.1 * (2.0 + 0.01)));
  auto q = torch::tensor({1.0}, torch::kDouble).requires_grad_();
  torch::optim::AdamW adamw({q}, torch::optim::AdamWOptions(0.1).weight_decay(0.5));
  q.mutable_grad() = torch::tensor({2.0}, torch::kDouble);
  adamw.step();
  // Decoupled decay then a bias-corrected Adam step of size lr * sign(g) at the first step.
  CHECK(q.item<double>() == Approx(1.0 * (1 - 0.1 * 0.5) - 0.1).epsilon(1e-6));
}

TEST_CASE("schedules at their key steps") {
  CHECK(mdlab::cosine_schedule(0, 100, 0.996, 1.0) == Approx(0.996));
  CHECK(mdlab::cosine_schedule(50, 100, 0.996, 1.0) == Approx(0.998));
  CHECK(mdlab::cosine_schedule(100, 100, 0.996, 1.0) == Approx(1.0));
  CHECK(mdlab::cosine_schedule(25, 100, 0.04, 0.4) ==
        Approx(0.4 + 0.5 * (0.04 - 0.4) * (1 + std::cos(M_PI / 4))));
  CHECK(mdlab::linear_then_constant(0, 30, 0.04, 0.07) == Approx(0.04));
  CHECK(mdlab::linear_then_constant(15, 30, 0.04, 0.07) == Approx(0.055));
  CHECK(mdlab::linear_then_constant(30, 30, 0.04, 0.07) == Approx(0.07));
  CHECK(mdlab::linear_then_constant(99, 30, 0.04, 0.07) == Approx(0.07));
  CHECK(mdlab::scaled_lr(0.0005, 512, true) == Approx(0.001));
  CHECK(mdlab::scaled_lr(0.3, 512, false) == Approx(0.3));
}

TEST_CASE("the fp16 loss scaler backs off on overflow and grows after clean steps") {
  mdlab::LossScaler scaler(1024.0, 2);
  auto p = torch::ones({2}).requires_grad_();
  CHECK(scaler.scale(torch::tensor(0.5)).item<double>() == 512.0);
  p.mutable_grad() = torch::tensor({1024.0f, 2048.0f});
  CHECK(scaler.unscale_and_update({p}));
  CHECK(torch::equal(p.grad(), torch::tensor({1.0f, 2.0f})));  // unscaled
  CHECK(scaler.current() == 1024.0);
  p.mutable_grad() = torch::tensor({1024.0f, 1024.0f});
  CHECK(scaler.unscale_and_update({p}));
  CHECK(scaler.current() == 2048.0);  // two clean steps: doubled
  p.mutable_grad() = torch::tensor({INFINITY, 1.0f});
  CHECK_FALSE(scaler.unscale_and_update({p}));
  CHECK(scaler.current() == 1024.0);  // overflow: halved, step to be skipped
  CHECK(scaler.growth_tracker() == 0);
  scaler.restore(8.0, 1);
  CHECK(scaler.current() == 8.0);
}

TEST_CASE("autocast to bfloat16 covers matmuls inside the guard only") {
  auto a = torch::randn({4, 4}), b = torch::randn({4, 4});
  {
    mdlab::AutocastGuard guard(c10::Device("cpu"), torch::kBFloat16, true);
    CHECK(torch::mm(a, b).scalar_type() == torch::kBFloat16);
  }
  CHECK(torch::mm(a, b).scalar_type() == torch::kFloat);
  mdlab::AutocastGuard off(c10::Device("cpu"), torch::kBFloat16, false);
  CHECK(torch::mm(a, b).scalar_type() == torch::kFloat);
}

TEST_CASE("autocast on CUDA: bf16 and fp16 matmuls inside the guard, the state restored after",
          "[device]") {
  const auto device = mdlab::test::cuda_test_device();
  if (!device) return;
  auto a = torch::randn({64, 64}, torch::TensorOptions().device(*device)), b = torch::randn_like(a);
  for (auto dtype : {torch::kBFloat16, torch::kHalf}) {
    CAPTURE(dtype);
    {
      mdlab::AutocastGuard guard(*device, dtype, true);
      CHECK(torch::mm(a, b).scalar_type() == dtype);
      // A CPU region is unaffected by the CUDA guard.
      CHECK(torch::mm(a.cpu(), b.cpu()).scalar_type() == torch::kFloat);
    }
    CHECK(torch::mm(a, b).scalar_type() == torch::kFloat);
  }
  // Nested guards restore the outer region's dtype, not fp32.
  {
    mdlab::AutocastGuard outer(*device, torch::kBFloat16, true);
    { mdlab::AutocastGuard inner(*device, torch::kHalf, true); }
    CHECK(torch::mm(a, b).scalar_type() == torch::kBFloat16);
  }
}

TEST_CASE("the fp16 loss scaler on CUDA: a real fp16 overflow is caught and the step skipped",
          "[device]") {
  const auto device = mdlab::test::cuda_test_device();
  if (!device) return;
  torch::manual_seed(0);
  auto lin = torch::nn::Linear(256, 256);
  lin->to(*device);
  auto x = torch::randn({32, 256}, torch::TensorOptions().device(*device)) * 100;
  mdlab::LossScaler scaler(65536.0, 2);
  auto step = [&] {
    for (auto& p : lin->parameters()) p.mutable_grad() = torch::Tensor();
    torch::Tensor loss;
    {
      mdlab::AutocastGuard autocast(*device, torch::kHalf, true);
      loss = lin(x).pow(2).mean();
    }
    scaler.scale(loss).backward();
    return scaler.unscale_and_update(lin->parameters());
  };
  // At 65536 the fp16 backward of this loss overflows (its gradients exceed 65504): skipped,
  // and the scale halves until the gradients are finite again.
  int skipped = 0;
  while (!step()) {
    ++skipped;
    REQUIRE(skipped < 20);
  }
  CHECK(skipped >= 1);
  CHECK(scaler.current() == 65536.0 / (1 << skipped));
  for (const auto& p : lin->parameters()) CHECK(p.grad().isfinite().all().item<bool>());
  // The unscaled gradient equals the fp32 one to fp16 precision.
  auto reference = lin(x).pow(2).mean();
  auto grads = torch::autograd::grad({reference}, {lin->weight});
  const double rel =
      ((lin->weight.grad() - grads[0]).abs().max() / grads[0].abs().max()).item<double>();
  CHECK(rel < 2e-2);
}
