// Supervised baseline: it learns a separable toy problem, reports its terms, covers every
// parameter once in its groups, and loads as a plugin.
#include "fixtures.h"
#include "plugin_registry.h"
#include "supervised.h"
#include "test_context.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

using mdlab::supervised::Supervised;

namespace {

// The shared test context (tests/support/test_context.h) with this file's seed.
struct TestContext : mdlab::test::TestContext {
  TestContext() : mdlab::test::TestContext(11) {}
};

// A tiny backbone: flatten, linear, ReLU.
class TinyBackbone final : public mdlab::Backbone {
 public:
  TinyBackbone(int64_t in, int64_t dim) : dim_(dim) {
    fc = register_module("fc", torch::nn::Linear(in, dim));
  }
  torch::Tensor forward(const torch::Tensor& images) override {
    return torch::relu(fc->forward(images.flatten(1)));
  }
  int64_t feature_dim() const override { return dim_; }
  torch::nn::Linear fc{nullptr};

 private:
  int64_t dim_;
};

mdlab::Options options_for(int64_t classes, double smoothing) {
  auto options = mdlab::default_options(Supervised::options_schema());
  options.set("num_classes", classes);
  options.set("label_smoothing", smoothing);
  return options;
}

// Images [n, 1, 2, 4] whose class (0..3) is the quadrant of their mean in two 4-pixel halves.
std::pair<torch::Tensor, torch::Tensor> toy_data(int64_t n) {
  auto gen = mdlab::make_cpu_generator(5);
  auto labels = torch::randint(0, 4, {n}, gen, torch::kLong);
  auto centres = torch::tensor({{-2.f, -2.f}, {-2.f, 2.f}, {2.f, -2.f}, {2.f, 2.f}});
  auto mean = centres.index_select(0, labels);  // [n, 2]
  auto pixels = mean.unsqueeze(2).expand({n, 2, 4}) + 0.3 * torch::randn({n, 2, 4}, gen);
  return {pixels.reshape({n, 1, 2, 4}).contiguous(), labels};
}

}  // namespace

TEST_CASE("a few SGD steps on a separable problem reduce the loss") {
  for (double smoothing : {0.0, 0.1}) {
    INFO("label_smoothing " << smoothing);
    TestContext context;
    torch::manual_seed(0);
    Supervised method(options_for(4, smoothing), context);
    method.attach(std::make_shared<TinyBackbone>(8, 16), context);
    REQUIRE(method.view_slots().size() == 1);
    CHECK(method.view_slots()[0].name == "image");

    auto [images, labels] = toy_data(64);
    mdlab::Batch batch{{images}, labels};
    torch::optim::SGD opt(method.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    double first = 0, last = 0, last_acc = 0;
    for (int step = 0; step < 30; ++step) {
      auto out = method.compute_loss(batch, mdlab::StepInfo{step, 0, 30, 30});
      REQUIRE(out.terms.size() == 2);
      CHECK(out.terms[0].first == "ce");
      CHECK(out.terms[1].first == "accuracy");
      CHECK_FALSE(out.terms[0].second.requires_grad());
      if (step == 0) first = out.loss.item<double>();
      last = out.loss.item<double>();
      last_acc = out.terms[1].second.item<double>();
      opt.zero_grad();
      out.loss.backward();
      opt.step();
    }
    CHECK(last < 0.5 * first);
    CHECK(last_acc == 1.0);
  }
}

TEST_CASE("unknown labels are left out and bad labels are named") {
  TestContext context;
  Supervised method(options_for(4, 0.0), context);
  method.attach(std::make_shared<TinyBackbone>(8, 16), context);
  auto [images, labels] = toy_data(8);
  auto partial = labels.clone();
  partial.slice(0, 0, 4).fill_(-1);
  auto out = method.compute_loss({{images}, partial}, {});
  // Same loss as the labelled half alone.
  auto half = method.compute_loss({{images.slice(0, 4)}, labels.slice(0, 4)}, {});
  CHECK(out.loss.item<double>() == Approx(half.loss.item<double>()).epsilon(1e-5));
  CHECK(out.terms[1].second.item<double>() == Approx(half.terms[1].second.item<double>()));

  CHECK_THROWS_WITH(method.compute_loss({{images}, torch::full({8}, 4, torch::kLong)}, {}),
                    Catch::Contains("labels range over [4, 4] but num_classes is 4"));
  CHECK_THROWS_WITH(method.compute_loss({{images}, torch::full({8}, -1, torch::kLong)}, {}),
                    Catch::Contains("no labelled image"));
  CHECK_THROWS_WITH(method.compute_loss({{images, images}, labels}, {}),
                    Catch::Contains("expected 1 view"));
}

TEST_CASE("param_groups cover every parameter exactly once") {
  TestContext context;
  Supervised method(options_for(10, 0.0), context);
  auto backbone = std::make_shared<TinyBackbone>(8, 16);
  method.attach(backbone, context);
  CHECK(method.encoder() == backbone);
  CHECK(method.head()->weight.sizes() == torch::IntArrayRef({10, 16}));

  std::map<const void*, int> seen;
  for (const auto& group : method.param_groups())
    for (const auto& p : group.params) ++seen[p.unsafeGetTensorImpl()];
  std::set<std::string> names;
  for (const auto& item : method.named_parameters()) {
    names.insert(item.key());
    INFO(item.key());
    CHECK(seen[item.value().unsafeGetTensorImpl()] == 1);
  }
  CHECK(seen.size() == method.parameters().size());
  CHECK(names == std::set<std::string>{"backbone.fc.weight", "backbone.fc.bias", "head.weight",
                                       "head.bias"});
}

TEST_CASE("the head is seeded from the context") {
  TestContext context;
  Supervised a(options_for(3, 0.0), context), b(options_for(3, 0.0), context);
  a.attach(std::make_shared<TinyBackbone>(8, 16), context);
  b.attach(std::make_shared<TinyBackbone>(8, 16), context);
  CHECK(torch::equal(a.head()->weight, b.head()->weight));
  CHECK(a.head()->weight.abs().max().item<double>() <= 0.25);  // U(+-1/sqrt(16))
}

TEST_CASE("the plugin loads through the registry") {
  mdlab::PluginRegistry registry;
  REQUIRE(registry.load_file(MDLAB_SUPERVISED_PLUGIN_FILE));
  const auto* plugin = registry.find(MDLAB_PLUGIN_METHOD, "supervised");
  REQUIRE(plugin != nullptr);
  auto schema = plugin->factory->options_schema();
  CHECK(schema.find("num_classes")->check(int64_t{1}) != "");
  CHECK(schema.find("label_smoothing")->check(1.5) != "");
  TestContext context;
  auto options = mdlab::default_options(schema);
  CHECK(options.get_int("num_classes") == 10);
  auto method = registry.create_method("supervised", options, context);
  method->attach(std::make_shared<TinyBackbone>(8, 16), context);
  auto [images, labels] = toy_data(4);
  auto out = method->compute_loss({{images}, labels}, {});
  CHECK(std::isfinite(out.loss.item<double>()));

  options.set("label_smoothing", 1.0);
  CHECK_THROWS_WITH(registry.create_method("supervised", options, context),
                    Catch::Contains("label_smoothing 1 is not in [0, 1)"));
}
