// One rank of the distributed-loss test (test_distributed.cpp starts 2 of these): joins a
// Gloo group through a FileStore on loopback, computes SimCLR's and Barlow Twins' losses on
// its half of the seeded global batch, and writes the losses and the gradients of its inputs.
// Usage: mdlab_dist_worker STORE_FILE RANK WORLD_SIZE OUT.safetensors
#include "barlow_twins.h"
#include "gloo_collectives.h"
#include "simclr.h"

#include <mdlab/safetensors.h>

#include <torch/torch.h>

#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: mdlab_dist_worker STORE_FILE RANK WORLD_SIZE OUT\n";
    return 2;
  }
  try {
    const int64_t rank = std::atoll(argv[2]), world = std::atoll(argv[3]);
    mdlab::GlooCollectives collectives(argv[1], rank, world);
    torch::manual_seed(0);  // the same global batch on every rank (and in the test)
    auto z0 = torch::randn({8, 32}), z1 = torch::randn({8, 32});
    auto b1 = torch::randn({16, 64}), b2 = torch::randn({16, 64}) + 0.5 * b1;
    auto mine = [&](const torch::Tensor& t) {
      const int64_t rows = t.size(0) / world;
      return t.narrow(0, rank * rows, rows).clone().requires_grad_(true);
    };
    auto s0 = mine(z0), s1 = mine(z1), c1 = mine(b1), c2 = mine(b2);
    auto nt = mdlab::simclr::nt_xent(s0, s1, 0.2, collectives);
    nt.backward();
    auto bt = mdlab::barlow_twins::barlow_loss(c1, c2, 0.0051, 1.0, collectives);
    bt.loss.backward();
    mdlab::write_safetensors(argv[4], {{"nt_xent", nt.detach()},
                                       {"grad_z0", s0.grad()},
                                       {"grad_z1", s1.grad()},
                                       {"barlow", bt.loss.detach()},
                                       {"grad_b1", c1.grad()},
                                       {"grad_b2", c2.grad()}});
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "mdlab_dist_worker: " << e.what() << "\n";
    return 1;
  }
}
