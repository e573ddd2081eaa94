// SimCLR: NT-Xent against lightly's NTXentLoss (../shared/fixtures/losses/ntxent.safetensors)
// at two temperatures, values and gradients; the method end to end on a tiny backbone.
#include "fixtures.h"
#include "simclr.h"
#include "test_methods_support.h"

#include <mdlab/losses.h>
#include <mdlab/safetensors.h>

#include <catch2/catch.hpp>

using namespace mdlab;
using namespace mdlab::test;

TEST_CASE("NT-Xent matches lightly's loss and gradients at temperatures 0.5 and 0.1") {
  auto dir = fixture_dir("losses");
  if (!dir) return;
  auto file = read_safetensors(*dir / "ntxent.safetensors");
  for (auto [prefix, t] : {std::pair{"t0p5_", 0.5}, std::pair{"t0p1_", 0.1}}) {
    const std::string p = prefix;
    auto out0 = file.at("out0").clone().requires_grad_(true);
    auto out1 = file.at("out1").clone().requires_grad_(true);
    auto loss = nt_xent(out0, out1, t, local_collectives());
    loss.backward();
    check_close(loss, file.at(p + "loss"), 1e-5, 1e-6, p + "loss");
    check_close(out0.grad(), file.at(p + "grad_out0"), 1e-4, 1e-6, p + "grad_out0");
    check_close(out1.grad(), file.at(p + "grad_out1"), 1e-4, 1e-6, p + "grad_out1");
  }
}

TEST_CASE("SimCLR trains a tiny backbone: projector names, views, probe features, lower loss") {
  TestContext context;
  Options options = default_options(simclr::SimClr::options_schema());
  options.set("proj_hidden_dim", OptionValue(int64_t{32}));
  options.set("proj_output_dim", OptionValue(int64_t{8}));
  simclr::SimClr method(options, context);
  const auto slots = method.view_slots();
  REQUIRE(slots.size() == 2);
  CHECK(slots[0].name == "view1");
  CHECK(slots[1].augment == "simclr");
  method.attach(std::make_shared<TinyBackbone>(), context);
  std::vector<std::string> names;
  for (const auto& p : method.named_parameters()) names.push_back(p.key());
  CHECK(std::find(names.begin(), names.end(), "projector.0.weight") != names.end());
  CHECK(std::find(names.begin(), names.end(), "projector.1.weight") != names.end());
  CHECK(std::find(names.begin(), names.end(), "projector.3.bias") != names.end());

  torch::manual_seed(0);
  auto images = torch::randn({16, 3, 12, 12});
  Batch batch;
  batch.views = {images + 0.05 * torch::randn_like(images),
                 images + 0.05 * torch::randn_like(images)};
  batch.labels = torch::zeros({16}, torch::kLong);
  torch::optim::SGD sgd(method.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  method.train();
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    sgd.zero_grad();
    auto out = method.compute_loss(batch, StepInfo{step, 0, 30, 30});
    REQUIRE(out.features.sizes() == torch::IntArrayRef{16, 16});
    REQUIRE(out.terms.at(0).first == "nt_xent");
    out.loss.backward();
    sgd.step();
    (step == 0 ? first : last) = out.loss.item<double>();
  }
  CHECK(std::isfinite(last));
  CHECK(last < first);
}
