// Barlow Twins: the loss against the official code (../shared/fixtures/losses/
// barlow.safetensors), values and gradients; the method end to end on a tiny backbone.
#include "barlow_twins.h"
#include "fixtures.h"
#include "test_methods_support.h"

#include <mdlab/safetensors.h>

#include <catch2/catch.hpp>

using namespace mdlab;
using namespace mdlab::test;

TEST_CASE("Barlow Twins loss matches the official code, values and gradients") {
  auto dir = fixture_dir("losses");
  if (!dir) return;
  auto file = read_safetensors(*dir / "barlow.safetensors");
  auto z1 = file.at("z1").clone().requires_grad_(true);
  auto z2 = file.at("z2").clone().requires_grad_(true);
  const double lambda = file.at("lambd").item<double>();
  CHECK(lambda == Approx(0.0051));
  auto terms = barlow_twins::barlow_loss(z1, z2, lambda, 1.0, local_collectives());
  terms.loss.backward();
  check_close(terms.loss, file.at("loss"), 1e-5, 1e-6, "loss");
  check_close(z1.grad(), file.at("grad_z1"), 1e-4, 1e-6, "grad_z1");
  check_close(z2.grad(), file.at("grad_z2"), 1e-4, 1e-6, "grad_z2");
  // The terms recombine into the loss.
  CHECK((terms.on_diag + lambda * terms.off_diag).item<double>() ==
        Approx(terms.loss.item<double>()).epsilon(1e-6));
}

TEST_CASE("Barlow Twins trains a tiny backbone: official names, asymmetric views, lower loss") {
  TestContext context;
  Options options = default_options(barlow_twins::BarlowTwins::options_schema());
  options.set("projector", OptionValue(std::vector<int64_t>{32, 32}));
  barlow_twins::BarlowTwins method(options, context);
  const auto slots = method.view_slots();
  REQUIRE(slots.size() == 2);
  CHECK(slots[0].augment == "byol1");
  CHECK(slots[1].augment == "byol2");
  method.attach(std::make_shared<TinyBackbone>(), context);
  auto params = method.named_parameters();
  CHECK(params.contains("projector.0.weight"));
  CHECK(!params.contains("projector.0.bias"));
  CHECK(params.contains("projector.1.weight"));  // BatchNorm1d between layers
  CHECK(params.contains("projector.3.weight"));
  CHECK(method.named_buffers().contains("bn.running_mean"));
  CHECK(!params.contains("bn.weight"));  // affine-free

  torch::manual_seed(1);
  auto images = torch::randn({24, 3, 12, 12});
  Batch batch;
  batch.views = {images + 0.05 * torch::randn_like(images),
                 images + 0.05 * torch::randn_like(images)};
  batch.labels = torch::zeros({24}, torch::kLong);
  torch::optim::SGD sgd(method.parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  method.train();
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    sgd.zero_grad();
    auto out = method.compute_loss(batch, StepInfo{step, 0, 30, 30});
    REQUIRE(out.terms.size() == 2);
    out.loss.backward();
    sgd.step();
    (step == 0 ? first : last) = out.loss.item<double>();
  }
  CHECK(std::isfinite(last));
  CHECK(last < first);
  CHECK(method.named_buffers()["bn.num_batches_tracked"].item<int64_t>() == 60);
}
