// BYOL: the loss against the official regression loss, the target network's start and EMA,
// gradients through the test kit, and the plugin library as the host loads it.
#include "byol.h"
#include "test_methods_support.h"

#include <mdlab/momentum.h>
#include <mdlab/testing.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

using mdlab::byol::Byol;
namespace kit = mdlab::testing;

namespace {

// BYOL's regression_loss (byol/byol_experiment.py), written as the official JAX code:
// l2_normalize(x) = x * rsqrt(max(sum x^2, 1e-12)); sum over features of the squared
// difference; the two orderings added, then the batch mean.
torch::Tensor official_byol_loss(const torch::Tensor& p1, const torch::Tensor& p2,
                                 const torch::Tensor& t1, const torch::Tensor& t2) {
  auto l2_normalize = [](const torch::Tensor& x) {
    return x * torch::rsqrt(torch::clamp_min((x * x).sum(-1, true), 1e-12));
  };
  auto regression = [&](const torch::Tensor& x, const torch::Tensor& y) {
    return (l2_normalize(x) - l2_normalize(y)).pow(2).sum(-1);
  };
  return (regression(p1, t2) + regression(p2, t1)).mean();
}

mdlab::Options small_options() {
  auto options = mdlab::default_options(Byol::options_schema());
  options.set("projector", std::vector<int64_t>{64, 16});
  options.set("predictor", std::vector<int64_t>{32, 16});
  options.set("view_size", int64_t{0});
  return options;
}

kit::TestContext context_with_target() {
  return kit::TestContext(3, [] { return kit::tiny_backbone(3, 32, /*seed=*/99); });
}

}  // namespace

TEST_CASE("byol loss equals the official regression loss", "[byol]") {
  auto g = mdlab::make_cpu_generator(4);
  auto p1 = torch::randn({12, 16}, g, torch::kDouble);
  auto p2 = torch::randn({12, 16}, g, torch::kDouble);
  auto t1 = torch::randn({12, 16}, g, torch::kDouble);
  auto t2 = torch::randn({12, 16}, g, torch::kDouble);
  auto ours = mdlab::byol::byol_loss(p1, p2, t1, t2);
  mdlab::test::check_close(ours.loss, official_byol_loss(p1, p2, t1, t2), 1e-12, 1e-12, "loss");
  // 2 - 2 cos, from its definition.
  auto cos12 = torch::cosine_similarity(p1, t2, 1, 0.0);
  mdlab::test::check_close(ours.one_two, (2 - 2 * cos12).mean(), 1e-12, 1e-12, "one_two");
  // Identical directions cost nothing; opposite ones cost 4 per pair.
  CHECK(mdlab::byol::byol_loss(p1, p1, 3 * p1, 3 * p1).loss.item<double>() ==
        Approx(0).margin(1e-12));
  CHECK(mdlab::byol::byol_loss(p1, p1, -p1, -p1).loss.item<double>() == Approx(8));
}

TEST_CASE("byol's target starts as the online network and follows it by EMA", "[byol]") {
  auto context = context_with_target();
  Byol method(small_options(), context);
  method.attach(kit::tiny_backbone(3, 32, /*seed=*/1), context);
  auto params = method.named_parameters();
  for (const char* prefix : {"backbone.", "projector."}) {
    for (const auto& item : params) {
      if (item.key().rfind(prefix, 0) != 0) continue;
      const auto& target = params["target_" + item.key()];
      INFO(item.key());
      CHECK(torch::equal(item.value(), target));
      CHECK_FALSE(target.requires_grad());
    }
  }
  CHECK(method.validation_views() == mdlab::ValidationViews::Augmented);

  // One SGD step on the online weights, then the EMA at this step's momentum.
  auto batch = kit::fake_batch(method, {.batch_size = 6, .seed = 2});
  const mdlab::StepInfo step{3, 0, 10, 10};
  auto before = params["target_backbone.fc.weight"].clone();
  auto out = method.compute_loss(batch, step);
  out.loss.backward();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : method.parameters())
      if (p.grad().defined()) p.sub_(0.5 * p.grad());
  }
  method.after_optimizer_step(step);
  const double m = mdlab::cosine_momentum(0.996, 3, 10);
  CHECK(out.terms[2].first == "target_momentum");
  CHECK(out.terms[2].second.item<double>() == Approx(m));
  mdlab::test::check_close(params["target_backbone.fc.weight"],
                           m * before + (1 - m) * params["backbone.fc.weight"], 1e-6, 1e-7,
                           "EMA of the target");
  CHECK_FALSE(torch::equal(params["target_backbone.fc.weight"], params["backbone.fc.weight"]));
}

TEST_CASE("byol's gradients reach the online network only, and match finite differences",
          "[byol][kit]") {
  auto context = context_with_target();
  Byol method(small_options(), context);
  method.attach(kit::tiny_backbone(3, 32, 1), context);
  auto batch = kit::fake_batch(method, {.batch_size = 8, .size = 12, .seed = 5});
  auto report = kit::check_gradients(method, batch);
  INFO(report.describe());
  CHECK(report.ok());
  auto fd = kit::finite_difference_check(method, batch);
  INFO(fd.worst);
  CHECK(fd.ok());
}

TEST_CASE("the byol plugin loads through the kit and checks its options", "[byol][kit]") {
  kit::PluginUnderTest plugin(MDLAB_BYOL_PLUGIN);
  CHECK(std::string(plugin.info().name) == "byol");
  auto context = context_with_target();
  auto method = plugin.create_method(plugin.options({{"projector", std::vector<int64_t>{32, 8}},
                                                     {"predictor", std::vector<int64_t>{16, 8}},
                                                     {"view_size", 0}}),
                                     context);
  method->attach(kit::tiny_backbone(3, 32, 1), context);
  auto report = kit::check_gradients(*method, kit::fake_batch(*method, {.size = 16}));
  INFO(report.describe());
  CHECK(report.ok());
  CHECK_THROWS_WITH(
      plugin.create_method(plugin.options({{"predictor", std::vector<int64_t>{16, 4}}}), context),
      Catch::Contains("predictor's output width 4 must equal the projection width 256"));
  CHECK_THROWS_WITH(
      plugin.options({{"base_momentun", 0.99}}),
      Catch::Contains("no option 'base_momentun'") && Catch::Contains("base_momentum"));
  CHECK_THROWS_WITH(plugin.options({{"base_momentum", 1.5}}), Catch::Contains("base_momentum"));
}
