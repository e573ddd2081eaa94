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
  auto nt = simclr::nt_xent(z0, z1, 0.2, local_collectives());
  nt.backward();
  auto bt = barlow_twins::barlow_loss(b1, b2, 0.0051, 1.0, local_collectives());
  bt.loss.backward();

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
  }
  // SimCLR: each rank averages over its anchors; the mean over ranks is the global loss.
  CHECK(nt_mean == Approx(nt.item<double>()).epsilon(1e-5));
}
