// The installed test kit (mdlab/testing.h) finds what it promises: fake batches of any layout,
// gradients that miss parameters or groups, gradients that disagree with finite
// differences, and the context's records.
#include <mdlab/error.h>
#include <mdlab/testing.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

namespace kit = mdlab::testing;

namespace {

// A method with deliberate faults, each switched on by a flag.
class FaultyMethod final : public mdlab::Method {
 public:
  enum Fault { kNone, kUnreached, kOutsideGroups, kNonFinite, kWrongGradient };
  explicit FaultyMethod(Fault fault) : fault_(fault) {
    w_ = register_parameter("w", torch::full({4}, 0.5));
    unused_ = register_parameter("unused", torch::ones({2}));
  }
  std::vector<mdlab::ViewSlot> view_slots() const override {
    return {{"global0", "global", 16, ""}, {"local0", "local", 8, ""}};
  }
  void attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context&) override {
    backbone_ = register_module("backbone", std::move(backbone));
  }
  std::shared_ptr<mdlab::Backbone> encoder() const override { return backbone_; }
  mdlab::LossOutput compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo&) override {
    auto f = backbone_->forward(batch.views[0]).mean(0).narrow(0, 0, 4);
    torch::Tensor loss = (f * w_).pow(2).sum();
    if (fault_ == kWrongGradient) loss = loss + (w_ * w_.detach()).sum();  // d/dw is w, not 2w
    if (fault_ == kNonFinite) loss = loss + torch::sqrt(w_ - 0.5).sum();   // d/dw at 0 is inf
    if (fault_ != kUnreached) loss = loss + unused_.sum() * 0.0 + unused_.pow(2).sum();
    return {loss, {}, {}, {}};
  }
  std::vector<mdlab::ParamGroup> param_groups() override {
    auto groups = mdlab::Method::param_groups();
    if (fault_ == kOutsideGroups)
      for (auto& g : groups)
        std::erase_if(g.params, [&](const torch::Tensor& p) { return p.is_same(unused_); });
    return groups;
  }

 private:
  Fault fault_;
  torch::Tensor w_, unused_;
  std::shared_ptr<mdlab::Backbone> backbone_;
};

std::shared_ptr<FaultyMethod> faulty(FaultyMethod::Fault fault) {
  kit::TestContext context;
  auto method = std::make_shared<FaultyMethod>(fault);
  method->attach(kit::tiny_backbone(3, 8, 1), context);
  return method;
}

}  // namespace

TEST_CASE("fake batches follow the slots and the seed", "[kit]") {
  const std::vector<mdlab::ViewSlot> slots = {
      {"global0", "global", 24, ""}, {"global1", "global", 24, ""}, {"local0", "local", 0, ""}};
  auto batch = kit::fake_batch(
      slots, {.batch_size = 5, .channels = 1, .size = 10, .num_classes = 3, .seed = 8});
  REQUIRE(batch.views.size() == 3);
  CHECK(batch.views[0].sizes() == torch::IntArrayRef({5, 1, 24, 24}));
  CHECK(batch.views[2].sizes() == torch::IntArrayRef({5, 1, 10, 10}));
  CHECK(batch.labels.sizes() == torch::IntArrayRef({5}));
  CHECK(batch.labels.min().item<int64_t>() >= 0);
  CHECK(batch.labels.max().item<int64_t>() < 3);
  CHECK_FALSE(torch::equal(batch.views[0], batch.views[1]));
  auto again = kit::fake_batch(
      slots, {.batch_size = 5, .channels = 1, .size = 10, .num_classes = 3, .seed = 8});
  CHECK(torch::equal(batch.views[1], again.views[1]));
  CHECK(torch::equal(batch.labels, again.labels));
  auto other = kit::fake_batch(
      slots, {.batch_size = 5, .channels = 1, .size = 10, .num_classes = 3, .seed = 9});
  CHECK_FALSE(torch::equal(batch.views[1], other.views[1]));
  CHECK_THROWS_WITH(kit::fake_batch(slots, {.batch_size = 0}), Catch::Contains("positive"));
}

TEST_CASE("the gradient check names what is wrong", "[kit]") {
  auto healthy = faulty(FaultyMethod::kNone);
  auto batch = kit::fake_batch(*healthy, {.batch_size = 4});
  auto report = kit::check_gradients(*healthy, batch);
  INFO(report.describe());
  CHECK(report.ok());
  CHECK(report.describe() == "ok");

  report = kit::check_gradients(*faulty(FaultyMethod::kUnreached), batch);
  CHECK_FALSE(report.ok());
  CHECK(report.without_gradient == std::vector<std::string>{"unused"});
  CHECK_THAT(report.describe(), Catch::Contains("unused: trainable, but the loss does not reach"));

  report = kit::check_gradients(*faulty(FaultyMethod::kOutsideGroups), batch);
  CHECK(report.outside_groups == std::vector<std::string>{"unused"});

  report = kit::check_gradients(*faulty(FaultyMethod::kNonFinite), batch);
  CHECK(report.non_finite == std::vector<std::string>{"w"});
}

TEST_CASE("finite differences agree with correct gradients and catch wrong ones", "[kit]") {
  auto healthy = faulty(FaultyMethod::kNone);
  auto batch = kit::fake_batch(*healthy, {.batch_size = 4, .seed = 1});
  auto fd = kit::finite_difference_check(*healthy, batch, {.samples = 40});
  INFO(fd.worst);
  CHECK(fd.ok());
  CHECK(fd.checked == 40);

  auto wrong = faulty(FaultyMethod::kWrongGradient);
  // Only w's coordinates are wrong: sample them alone.
  auto bad = kit::finite_difference_check(*wrong, batch, {.samples = 4, .prefix = "w"});
  CHECK_FALSE(bad.ok());
  CHECK_THAT(bad.worst, Catch::StartsWith("w["));
  CHECK_THROWS_WITH(kit::finite_difference_check(*wrong, batch, {.prefix = "head."}),
                    Catch::Contains("no trainable parameters named 'head....'"));
}

TEST_CASE("the test context derives streams, keeps metrics and warnings, serves backbones",
          "[kit]") {
  kit::TestContext context(21, [] { return kit::tiny_backbone(1, 4, 3); });
  auto a = torch::rand({3}, context.generator("x"));
  auto b = torch::rand({3}, context.generator("x"));
  auto c = torch::rand({3}, context.generator("y"));
  CHECK(torch::equal(a, b));
  CHECK_FALSE(torch::equal(a, c));
  context.metric("loss", 0, 1.5);
  context.metric("loss", 1, 1.25);
  context.log(mdlab::LogLevel::Info, "dropped");
  context.log(mdlab::LogLevel::Warning, "kept");
  REQUIRE(context.metrics().at("loss").size() == 2);
  CHECK(context.metrics().at("loss")[1] == std::pair<int64_t, double>{1, 1.25});
  CHECK(context.warnings() == std::vector<std::string>{"kept"});
  CHECK(context.create_backbone()->feature_dim() == 4);
  CHECK(context.collectives().world_size() == 1);
  kit::TestContext bare;
  CHECK_THROWS_AS(bare.create_backbone(), mdlab::Error);
  // Equal seeds build equal tiny backbones.
  auto x = torch::randn({2, 1, 9, 9});
  CHECK(torch::equal(kit::tiny_backbone(1, 4, 3)->forward(x),
                     kit::tiny_backbone(1, 4, 3)->forward(x)));
}

TEST_CASE("the kit refuses a library that is not a plugin", "[kit]") {
  CHECK_THROWS_WITH(kit::PluginUnderTest("/nonexistent/mdlab_plugin_none.so"),
                    Catch::Contains("cannot load /nonexistent/mdlab_plugin_none.so"));
}
