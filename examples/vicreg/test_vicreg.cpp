// Unit tests of the VICReg example through the installed test kit: the plugin is loaded as
// mdlab loads it, its loss is compared with the official formula, and its gradients checked.
#include <mdlab/testing.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

namespace kit = mdlab::testing;

namespace {

// facebookresearch/vicreg main_vicreg.py, VICReg.forward, on one process.
torch::Tensor official_vicreg(torch::Tensor x, torch::Tensor y) {
  auto repr_loss = torch::mse_loss(x, y);
  x = x - x.mean(0);
  y = y - y.mean(0);
  auto std_x = torch::sqrt(x.var(0) + 0.0001);
  auto std_y = torch::sqrt(y.var(0) + 0.0001);
  auto std_loss = torch::relu(1 - std_x).mean() / 2 + torch::relu(1 - std_y).mean() / 2;
  const double n = x.size(0) - 1, d = x.size(1);
  auto off_diagonal = [](const torch::Tensor& m) { return m - torch::diag(torch::diag(m)); };
  auto cov_loss = off_diagonal(x.t().mm(x) / n).pow(2).sum() / d +
                  off_diagonal(y.t().mm(y) / n).pow(2).sum() / d;
  return 25.0 * repr_loss + 25.0 * std_loss + 1.0 * cov_loss;
}

std::shared_ptr<mdlab::Method> make_vicreg(kit::TestContext& context) {
  kit::PluginUnderTest plugin(MDLAB_TEST_PLUGIN);
  auto options = plugin.options({{"projector", std::vector<int64_t>{64, 32}}, {"view_size", 0}});
  auto method = plugin.create_method(options, context);
  method->attach(kit::tiny_backbone(3, 16), context);
  return method;
}

}  // namespace

TEST_CASE("vicreg's loss is the official formula") {
  kit::TestContext context;
  auto method = make_vicreg(context);
  auto batch = kit::fake_batch(*method, {.batch_size = 16, .size = 12});
  auto out = method->compute_loss(batch, {});
  // The official loss of the method's own embeddings.
  auto backbone = method->encoder();
  auto& projector = *method->named_children()["projector"]->as<torch::nn::Sequential>();
  auto x = projector.forward(backbone->forward(batch.views[0]));
  auto y = projector.forward(backbone->forward(batch.views[1]));
  CHECK(out.loss.item<double>() == Approx(official_vicreg(x, y).item<double>()).epsilon(1e-5));
  REQUIRE(out.terms.size() == 3);
  CHECK(out.terms[0].first == "invariance");
}

TEST_CASE("vicreg's gradients reach every parameter and match finite differences") {
  kit::TestContext context;
  auto method = make_vicreg(context);
  auto batch = kit::fake_batch(*method, {.batch_size = 8, .size = 12});
  auto report = kit::check_gradients(*method, batch);
  INFO(report.describe());
  CHECK(report.ok());
  auto fd = kit::finite_difference_check(*method, batch);
  INFO(fd.worst);
  CHECK(fd.ok());
}

TEST_CASE("vicreg's options are checked") {
  kit::PluginUnderTest plugin(MDLAB_TEST_PLUGIN);
  CHECK_THROWS_WITH(plugin.options({{"sim_coef", 10.0}}), Catch::Contains("sim_coeff"));
  CHECK_THROWS_WITH(plugin.options({{"std_coeff", -1.0}}), Catch::Contains("std_coeff"));
}
