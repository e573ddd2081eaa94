// Distributed losses: 2 processes (Gloo, loopback) with half the batch each give the loss and
// input gradients of 1 process with the whole batch — SimCLR's negatives gathered with an
// autograd-correct all-gather, Barlow Twins' statistics and cross-correlation summed with an
// autograd-correct all-reduce. Each rank's gradients are those of the sum of the ranks'
// losses (collectives.h), so they are compared with world_size x the 1-process gradients of
// the mean loss.
#include "barlow_twins.h"
#include "fixtures.h"
#include "simclr.h"
#include "test_methods_support.h"

#include <mdlab/losses.h>
#include <mdlab/safetensors.h>

#include <catch2/catch.hpp>

#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <vector>

extern char** environ;

using namespace mdlab;
using namespace mdlab::test;

namespace {

pid_t spawn_worker(const std::string& store, int rank, const std::string& out) {
  std::vector<std::string> args{MDLAB_DIST_WORKER, store, std::to_string(rank), "2", out};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  return pid;
}

}  // namespace

TEST_CASE("2 Gloo processes with B/2 each give the loss and gradients of 1 process with B") {
  const auto dir = temp_dir("dist");
  const std::string store = (dir / "store").string();
  std::vector<pid_t> pids;
  for (int r = 0; r < 2; ++r)
    pids.push_back(spawn_worker(store, r, (dir / ("rank" + std::to_string(r))).string()));
  for (pid_t pid : pids) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
  }

  // One process, the whole batch (the workers draw the same tensors from seed 0).
  torch::manual_seed(0);
  auto z0 = torch::randn({8, 32}).requires_grad_(true);
  auto z1 = torch::randn({8, 32}).requires_grad_(true);
  auto b1 = torch::randn({16, 64});
  auto b2 = (torch::randn({16, 64}) + 0.5 * b1).requires_grad_(true);
  b1.requires_grad_(true);
  auto nt = nt_xent(z0, z1, 0.2, local_collectives());
  nt.backward();
  auto bt = barlow_twins::barlow_loss(b1, b2, 0.0051, 1.0, local_collectives());
  bt.loss.backward();
  torch::manual_seed(3);
  auto v = (torch::randn({16, 12}) * torch::linspace(0.2, 2.0, 12)).requires_grad_(true);
  auto vic = variance_hinge(v, 1.0, 1e-4, local_collectives()) +
             covariance_penalty(v, local_collectives());
  vic.backward();

  double nt_mean = 0;
  for (int r = 0; r < 2; ++r) {
    INFO("rank " << r);
    auto out = read_safetensors(dir / ("rank" + std::to_string(r)));
    nt_mean += out.at("nt_xent").item<double>() / 2;
    // Barlow Twins: every rank computes the global loss.
    check_close(out.at("barlow"), bt.loss.detach(), 1e-5, 1e-6, "barlow loss");
    check_close(out.at("grad_z0") / 2, z0.grad().narrow(0, 4 * r, 4), 1e-4, 1e-6, "grad_z0");
    check_close(out.at("grad_z1") / 2, z1.grad().narrow(0, 4 * r, 4), 1e-4, 1e-6, "grad_z1");
    check_close(out.at("grad_b1") / 2, b1.grad().narrow(0, 8 * r, 8), 1e-4, 1e-6, "grad_b1");
    check_close(out.at("grad_b2") / 2, b2.grad().narrow(0, 8 * r, 8), 1e-4, 1e-6, "grad_b2");
    // VICReg's variance and covariance terms: global on every rank, as Barlow Twins'.
    check_close(out.at("vicreg"), vic.detach(), 1e-5, 1e-6, "vicreg terms");
    check_close(out.at("grad_v") / 2, v.grad().narrow(0, 8 * r, 8), 1e-4, 1e-6, "grad_v");
  }
  // SimCLR: each rank averages over its anchors; the mean over ranks is the global loss.
  CHECK(nt_mean == Approx(nt.item<double>()).epsilon(1e-5));

  // SyncBatchNorm: LibTorch's batch norm on the whole batch. Each rank's loss is the mean
  // over its rows, so the 1-process loss is the mean over ranks; the ranks' input gradients
  // are those of the sum of their losses (x 1), their parameter gradients each rank's share,
  // which sum to the 1-process gradient of the summed losses.
  torch::manual_seed(1);
  auto images0 = torch::randn({8, 3, 6, 6}).requires_grad_(true);
  auto images1 = (torch::randn({8, 3, 6, 6}) * 2 + 1).requires_grad_(true);
  torch::manual_seed(2);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3).bias(false));
  torch::nn::BatchNorm2d bn1(4), bn2(4);
  {
    torch::NoGradGuard no_grad;
    bn1->weight.uniform_(0.5, 1.5);
    bn1->bias.uniform_(-0.5, 0.5);
  }
  auto net = [&](const torch::Tensor& x) { return bn2(bn1(conv(x)).relu_()); };
  auto y0 = net(images0), y1 = net(images1);
  // The sum of the two ranks' losses (each a mean over its 4 rows).
  auto rank_loss = [&](int64_t r) {
    auto a = y0.narrow(0, 4 * r, 4), b = y1.narrow(0, 4 * r, 4);
    return (a.square().mean() + b.square().mean() * 0.5) + (a.select(1, 0) * b.select(1, 1)).mean();
  };
  auto summed = rank_loss(0) + rank_loss(1);
  summed.backward();
  // The second step (dist_worker.cpp): SGD with the mean of the ranks' gradients, i.e. the
  // 1-process gradient of the summed losses / 2.
  std::vector<torch::Tensor> params{conv->weight, bn1->weight, bn1->bias, bn2->weight, bn2->bias};
  {
    torch::NoGradGuard no_grad;
    for (auto& p : params) {
      p.sub_(p.grad() / 2 * 0.5);
      p.mutable_grad().zero_();
    }
  }
  images0.mutable_grad().zero_();
  images1.mutable_grad().zero_();
  y0 = net(images0);
  y1 = net(images1);
  summed = rank_loss(0) + rank_loss(1);
  summed.backward();
  torch::Tensor conv_grad, weight_grad, bias_grad;
  for (int r = 0; r < 2; ++r) {
    INFO("rank " << r);
    auto out = read_safetensors(dir / ("rank" + std::to_string(r)));
    check_close(out.at("bn_loss"), rank_loss(r).detach(), 1e-5, 1e-6, "bn loss");
    check_close(out.at("bn_y0"), y0.detach().narrow(0, 4 * r, 4), 1e-5, 1e-6, "bn output");
    check_close(out.at("bn_grad_x0"), images0.grad().narrow(0, 4 * r, 4), 1e-5, 1e-6, "dx0");
    check_close(out.at("bn_grad_x1"), images1.grad().narrow(0, 4 * r, 4), 1e-5, 1e-6, "dx1");
    check_close(out.at("bn_running_var"), bn1->running_var, 1e-5, 1e-6, "running var");
    conv_grad = r == 0 ? out.at("bn_grad_conv") : conv_grad + out.at("bn_grad_conv");
    weight_grad = r == 0 ? out.at("bn_grad_weight") : weight_grad + out.at("bn_grad_weight");
    bias_grad = r == 0 ? out.at("bn_grad_bias") : bias_grad + out.at("bn_grad_bias");
  }
  check_close(conv_grad, conv->weight.grad(), 1e-4, 1e-6, "conv weight grad");
  check_close(weight_grad, bn1->weight.grad(), 1e-4, 1e-6, "bn weight grad");
  check_close(bias_grad, bn1->bias.grad(), 1e-4, 1e-6, "bn bias grad");
}
