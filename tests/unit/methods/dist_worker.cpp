// One rank of the distributed-loss test (test_distributed.cpp starts 2 of these): joins a
// Gloo group through a FileStore on loopback, computes SimCLR's and Barlow Twins' losses on
// its half of the seeded global batch, and writes the losses and the gradients of its inputs.
// Usage: mdlab_dist_worker STORE_FILE RANK WORLD_SIZE OUT.safetensors
#include "barlow_twins.h"
#include "process_group.h"
#include "simclr.h"

#include <mdlab/batch_norm.h>
#include <mdlab/losses.h>
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
    auto group = mdlab::ProcessGroup::join_file(argv[1], rank, world);
    mdlab::Collectives& collectives = *group;
    torch::manual_seed(0);  // the same global batch on every rank (and in the test)
    auto z0 = torch::randn({8, 32}), z1 = torch::randn({8, 32});
    auto b1 = torch::randn({16, 64}), b2 = torch::randn({16, 64}) + 0.5 * b1;
    auto mine = [&](const torch::Tensor& t) {
      const int64_t rows = t.size(0) / world;
      return t.narrow(0, rank * rows, rows).clone().requires_grad_(true);
    };
    auto s0 = mine(z0), s1 = mine(z1), c1 = mine(b1), c2 = mine(b2);
    auto nt = mdlab::nt_xent(s0, s1, 0.2, collectives);
    nt.backward();
    auto bt = mdlab::barlow_twins::barlow_loss(c1, c2, 0.0051, 1.0, collectives);
    bt.loss.backward();
    // VICReg's global-batch terms.
    torch::manual_seed(3);
    auto v_full = torch::randn({16, 12}) * torch::linspace(0.2, 2.0, 12);
    auto v = mine(v_full);
    auto vic = mdlab::variance_hinge(v, 1.0, 1e-4, collectives) +
               mdlab::covariance_penalty(v, collectives);
    vic.backward();
    // SyncBatchNorm: a conv + BN + in-place ReLU + BN net run on two views of this rank's
    // rows, as Barlow Twins runs its backbone; loss = mean of squares of both outputs.
    torch::manual_seed(1);
    auto images0 = torch::randn({8, 3, 6, 6}), images1 = torch::randn({8, 3, 6, 6}) * 2 + 1;
    torch::manual_seed(2);
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3).bias(false));
    mdlab::BatchNorm bn1(4), bn2(4);
    {
      torch::NoGradGuard no_grad;
      bn1->weight.uniform_(0.5, 1.5);
      bn1->bias.uniform_(-0.5, 0.5);
    }
    mdlab::sync_batch_norms(*bn1, &collectives);
    mdlab::sync_batch_norms(*bn2, &collectives);
    auto net = [&](const torch::Tensor& x) { return bn2(bn1(conv(x)).relu_()); };
    auto x0 = mine(images0), x1 = mine(images1);
    auto y0 = net(x0), y1 = net(x1);
    auto bn_loss = (y0.square().mean() + y1.square().mean() * 0.5) +
                   (y0.select(1, 0) * y1.select(1, 1)).mean();
    bn_loss.backward();
    // A second step after an SGD update with the averaged gradients (the state a second
    // training step sees: weights no longer 1, running statistics moved).
    std::vector<torch::Tensor> params{conv->weight, bn1->weight, bn1->bias, bn2->weight, bn2->bias};
    {
      torch::NoGradGuard no_grad;
      for (auto& p : params) {
        p.sub_(collectives.sum_raw(p.grad()) / world * 0.5);
        p.mutable_grad().zero_();
      }
    }
    x0.mutable_grad().zero_();
    x1.mutable_grad().zero_();
    y0 = net(x0);
    y1 = net(x1);
    bn_loss = (y0.square().mean() + y1.square().mean() * 0.5) +
              (y0.select(1, 0) * y1.select(1, 1)).mean();
    bn_loss.backward();
    mdlab::write_safetensors(argv[4], {{"nt_xent", nt.detach()},
                                       {"bn_loss", bn_loss.detach()},
                                       {"bn_y0", y0.detach()},
                                       {"bn_grad_x0", x0.grad()},
                                       {"bn_grad_x1", x1.grad()},
                                       {"bn_grad_conv", conv->weight.grad()},
                                       {"bn_grad_weight", bn1->weight.grad()},
                                       {"bn_grad_bias", bn1->bias.grad()},
                                       {"bn_running_var", bn1->running_var},
                                       {"grad_z0", s0.grad()},
                                       {"grad_z1", s1.grad()},
                                       {"barlow", bt.loss.detach()},
                                       {"grad_b1", c1.grad()},
                                       {"grad_b2", c2.grad()},
                                       {"vicreg", vic.detach()},
                                       {"grad_v", v.grad()}});
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "mdlab_dist_worker: " << e.what() << "\n";
    return 1;
  }
}
