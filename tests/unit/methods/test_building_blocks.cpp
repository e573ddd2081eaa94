// The SDK's building blocks for methods: MLP heads (child names and order of the reference
// layouts, seeded init drawn in layer order, the BatchNorm options, the errors) and the loss
// pieces of losses.h on one process (their cross-rank behaviour: test_distributed.cpp), VICReg's
// terms against the official code's formulas, and momentum.h's MomentumEncoder.
#include <mdlab/batch_norm.h>
#include <mdlab/context.h>
#include <mdlab/heads.h>
#include <mdlab/losses.h>
#include <mdlab/momentum.h>
#include <mdlab/testing.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace {

std::vector<std::string> names(const torch::nn::Sequential& head) {
  std::vector<std::string> out;
  for (const auto& item : head->named_parameters()) out.push_back(item.key());
  for (const auto& item : head->named_buffers()) out.push_back(item.key());
  return out;
}

}  // namespace

TEST_CASE("MLP heads have the reference names and a seeded init", "[heads]") {
  // SimCLR's projector without BatchNorm keeps the reference's index 1 (an Identity).
  mdlab::MlpHeadSpec simclr;
  simclr.widths = {32, 16};
  simclr.batch_norm = false;
  simclr.keep_norm_slot = true;
  auto gen = mdlab::make_cpu_generator(7);
  auto head = mdlab::mlp_head(8, simclr, gen);
  CHECK(names(head) == std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"});
  CHECK(head->size() == 4);
  // The draws: weight then bias of each Linear, U(+-1/sqrt(fan_in)), in layer order.
  auto again = mdlab::make_cpu_generator(7);
  const auto w0 = torch::empty({32, 8}).uniform_(-1 / std::sqrt(8.0), 1 / std::sqrt(8.0), again);
  const auto b0 = torch::empty({32}).uniform_(-1 / std::sqrt(8.0), 1 / std::sqrt(8.0), again);
  const auto w3 = torch::empty({16, 32}).uniform_(-1 / std::sqrt(32.0), 1 / std::sqrt(32.0), again);
  const auto params = head->named_parameters();
  CHECK(torch::equal(params["0.weight"], w0));
  CHECK(torch::equal(params["0.bias"], b0));
  CHECK(torch::equal(params["3.weight"], w3));
  CHECK(head->forward(torch::randn({5, 8})).sizes() == torch::IntArrayRef({5, 16}));

  // Barlow Twins' projector: no biases, BatchNorm + ReLU between the Linears.
  mdlab::MlpHeadSpec barlow;
  barlow.widths = {24, 24, 12};
  barlow.bias = false;
  barlow.last_bias = false;
  auto bt = mdlab::mlp_head(8, barlow, gen);
  CHECK(bt->size() == 7);
  CHECK(bt[1]->as<mdlab::BatchNorm>() != nullptr);
  CHECK(names(bt) == std::vector<std::string>{
                         "0.weight", "1.weight", "1.bias", "3.weight", "4.weight", "4.bias",
                         "6.weight", "1.running_mean", "1.running_var", "1.num_batches_tracked",
                         "4.running_mean", "4.running_var", "4.num_batches_tracked"});

  // A last BatchNorm without affine parameters, GELU in between.
  mdlab::MlpHeadSpec last;
  last.widths = {8, 4};
  last.activation = "gelu";
  last.last_batch_norm = true;
  last.last_batch_norm_affine = false;
  auto lh = mdlab::mlp_head(3, last, gen);
  CHECK(lh->size() == 5);
  CHECK(lh[4]->as<mdlab::BatchNorm>()->options.affine == false);

  mdlab::MlpHeadSpec bad;
  CHECK_THROWS_WITH(mdlab::mlp_head(3, bad, gen), Catch::Contains("no layer widths"));
  bad.widths = {4};
  bad.activation = "tanh";
  CHECK_THROWS_WITH(mdlab::mlp_head(3, bad, gen), Catch::Contains("\"tanh\" is not relu or gelu"));
  bad.activation = "relu";
  bad.widths = {0};
  CHECK_THROWS_WITH(mdlab::mlp_head(3, bad, gen), Catch::Contains("layer 0 has width 0"));
}

TEST_CASE("loss pieces: off-diagonal, batch standardisation, cross-correlation", "[losses]") {
  auto m = torch::arange(16, torch::kFloat).view({4, 4});
  // Row by row, the diagonal (0, 5, 10, 15) left out.
  CHECK(torch::equal(mdlab::off_diagonal(m), torch::tensor({1.f, 2.f, 3.f, 4.f, 6.f, 7.f, 8.f, 9.f,
                                                            11.f, 12.f, 13.f, 14.f})));
  CHECK_THROWS_WITH(mdlab::off_diagonal(torch::zeros({2, 3})), Catch::Contains("square"));
  torch::manual_seed(0);
  auto z = torch::randn({10, 3}) * 3 + 1;
  torch::Tensor mean, var;
  auto n = mdlab::standardize_over_batch(z, 1e-5, mdlab::local_collectives(), &mean, &var);
  // LibTorch's batch norm in train mode, without affine parameters.
  auto reference = torch::batch_norm(z, {}, {}, {}, {}, true, 0.1, 1e-5, false);
  CHECK(torch::allclose(n, reference, 1e-5, 1e-6));
  CHECK(torch::allclose(var, z.var(0), 1e-5, 1e-6));
  CHECK(torch::allclose(mean, z.mean(0), 1e-5, 1e-6));
  auto c = mdlab::cross_correlation(n, n, mdlab::local_collectives());
  CHECK(torch::allclose(c, torch::mm(n.t(), n) / 10, 1e-5, 1e-6));
  CHECK(torch::allclose(torch::diagonal(c), torch::ones({3}), 1e-3, 1e-4));
}

TEST_CASE("VICReg's variance and covariance terms follow the official code", "[losses]") {
  auto g = mdlab::make_cpu_generator(12);
  // Columns of very different spreads, so some stds are below 1 and some above.
  auto z = torch::randn({10, 6}, g, torch::kDouble) *
           torch::tensor({0.1, 0.5, 1.0, 2.0, 0.05, 3.0}, torch::kDouble);
  auto& local = mdlab::local_collectives();

  // main_vicreg.py: x = x - x.mean(dim=0); std_x = sqrt(x.var(dim=0) + 0.0001);
  // std_loss = mean(relu(1 - std_x)); cov_x = x.T @ x / (batch_size - 1);
  // cov_loss = off_diagonal(cov_x).pow(2).sum() / num_features. Written out element-wise.
  const int64_t n = z.size(0), d = z.size(1);
  double std_loss = 0, cov_loss = 0;
  std::vector<double> mean(d, 0.0);
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t i = 0; i < n; ++i) mean[j] += z[i][j].item<double>() / n;
  }
  for (int64_t j = 0; j < d; ++j) {
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += std::pow(z[i][j].item<double>() - mean[j], 2);
    std_loss += std::max(0.0, 1.0 - std::sqrt(var / (n - 1) + 1e-4)) / d;
    for (int64_t k = 0; k < d; ++k) {
      if (k == j) continue;
      double cov = 0;
      for (int64_t i = 0; i < n; ++i)
        cov += (z[i][j].item<double>() - mean[j]) * (z[i][k].item<double>() - mean[k]);
      cov_loss += std::pow(cov / (n - 1), 2) / d;
    }
  }
  CHECK(mdlab::variance_hinge(z, 1.0, 1e-4, local).item<double>() ==
        Approx(std_loss).epsilon(1e-12));
  CHECK(mdlab::covariance_penalty(z, local).item<double>() == Approx(cov_loss).epsilon(1e-12));
  // Columns with std above gamma cost nothing.
  CHECK(mdlab::variance_hinge(z * 100, 1.0, 1e-4, local).item<double>() == 0.0);
  CHECK_THROWS_WITH(mdlab::variance_hinge(z.narrow(0, 0, 1), 1.0, 1e-4, local),
                    Catch::Contains("at least 2 samples"));
  CHECK_THROWS_WITH(mdlab::covariance_penalty(z.flatten(), local), Catch::Contains("[B, D]"));
}

TEST_CASE("normalized_mse is BYOL's 2 - 2 cos", "[losses]") {
  auto g = mdlab::make_cpu_generator(13);
  auto p = torch::randn({7, 5}, g, torch::kDouble);
  auto z = torch::randn({7, 5}, g, torch::kDouble);
  auto expected = (2 - 2 * torch::cosine_similarity(p, z, 1, 0.0)).mean();
  CHECK(mdlab::normalized_mse(p, z).item<double>() ==
        Approx(expected.item<double>()).epsilon(1e-12));
  CHECK(mdlab::normalized_mse(p, 5 * p).item<double>() == Approx(0).margin(1e-12));
  // A zero row stays finite (the floored norm), as in the official l2_normalize.
  auto zero = torch::zeros({1, 5}, torch::kDouble);
  CHECK(std::isfinite(mdlab::normalized_mse(zero, z.narrow(0, 0, 1)).item<double>()));
  CHECK_THROWS_WITH(mdlab::normalized_mse(p, z.narrow(1, 0, 4)), Catch::Contains("one shape"));
}

TEST_CASE("MomentumEncoder copies, freezes and follows", "[momentum]") {
  auto g = mdlab::make_cpu_generator(14);
  mdlab::MlpHeadSpec spec;
  spec.widths = {8, 4};
  auto online = mdlab::mlp_head(6, spec, g);
  auto target = mdlab::mlp_head(6, spec, g);  // other draws: follow() overwrites them
  mdlab::MomentumEncoder momentum;
  CHECK(momentum.empty());
  momentum.follow(*online, *target, "head");
  CHECK_FALSE(momentum.empty());
  auto op = online->named_parameters();
  auto tp = target->named_parameters();
  for (const auto& item : op) {
    CHECK(torch::equal(item.value(), tp[item.key()]));
    CHECK_FALSE(tp[item.key()].requires_grad());
    CHECK(item.value().requires_grad());
  }
  CHECK(torch::equal(online->named_buffers()["1.running_var"],
                     target->named_buffers()["1.running_var"]));
  {
    torch::NoGradGuard no_grad;
    op["0.weight"].add_(1.0);
  }
  auto before = tp["0.weight"].clone();
  momentum.update(0.9);
  CHECK(torch::allclose(tp["0.weight"], 0.9 * before + 0.1 * op["0.weight"]));
  CHECK_THROWS_WITH(momentum.update(1.5), Catch::Contains("not in [0, 1]"));

  spec.widths = {8, 5};
  auto other = mdlab::mlp_head(6, spec, g);
  CHECK_THROWS_WITH(momentum.follow(*online, *other, "teacher head"),
                    Catch::Contains("teacher head: the copy's parameter '3.weight' [5, 8] differs "
                                    "from the original's '3.weight' [4, 8]"));
}

TEST_CASE("create_twin_backbone checks what the context makes", "[momentum]") {
  auto online = mdlab::testing::tiny_backbone(3, 8, 1);
  mdlab::testing::TestContext good(1, [] { return mdlab::testing::tiny_backbone(3, 8, 2); });
  auto twin = mdlab::create_twin_backbone(good, *online, "byol target");
  CHECK(twin != online);
  CHECK(twin->feature_dim() == 8);
  mdlab::testing::TestContext same(1, [&] { return online; });
  CHECK_THROWS_WITH(mdlab::create_twin_backbone(same, *online, "byol target"),
                    Catch::Contains("byol target: Context::create_backbone() must return a new"));
  mdlab::testing::TestContext narrow(1, [] { return mdlab::testing::tiny_backbone(3, 4, 2); });
  CHECK_THROWS_WITH(mdlab::create_twin_backbone(narrow, *online, "dino teacher"),
                    Catch::Contains("dino teacher: the new backbone has feature_dim 4, the online "
                                    "one 8"));
  mdlab::testing::TestContext none;
  CHECK_THROWS_WITH(mdlab::create_twin_backbone(none, *online, "byol target"),
                    Catch::Contains("cannot create backbones"));
}
