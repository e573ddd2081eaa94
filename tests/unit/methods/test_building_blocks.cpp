// The SDK's building blocks for methods: MLP heads (child names and order of the reference
// layouts, seeded init drawn in layer order, the BatchNorm options, the errors) and the loss
// pieces of losses.h on one process (their cross-rank behaviour: test_distributed.cpp).
#include <mdlab/batch_norm.h>
#include <mdlab/context.h>
#include <mdlab/heads.h>
#include <mdlab/losses.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

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
