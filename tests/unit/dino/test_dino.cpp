// DINO: the loss against the reference DINOLoss (dino.safetensors), the head's weight-normalised
// last layer and names, the teacher (copy, EMA, DINO's train mode), parameter groups, a few
// optimisation steps on multi-crop input, and the plugin through the registry.
// Few TEST_CASEs on purpose: each is a process paying LibTorch's start-up.
#include "dino.h"
#include "dino_head.h"
#include "dino_loss.h"
#include "fixtures.h"
#include "plugin_registry.h"
#include "test_context.h"

#include <mdlab/error.h>
#include <mdlab/momentum.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

using mdlab::dino::Dino;
using mdlab::dino::DinoHead;
using mdlab::dino::DinoHeadConfig;
using mdlab::dino::DinoLoss;
using mdlab::dino::DinoLossConfig;

namespace {

// A tiny backbone with the layers whose mode matters to DINO's teacher: BatchNorm (batch
// statistics in training) and Dropout (off in the teacher). Works at any input size.
class TinyBackbone final : public mdlab::Backbone {
 public:
  explicit TinyBackbone(int64_t dim) : dim_(dim) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).padding(1)));
    bn = register_module("bn", torch::nn::BatchNorm2d(8));
    drop = register_module("drop", torch::nn::Dropout(0.1));
    fc = register_module("fc", torch::nn::Linear(8, dim));
  }
  torch::Tensor forward(const torch::Tensor& images) override {
    auto x = torch::relu(bn->forward(conv->forward(images)));
    return fc->forward(drop->forward(x.mean({2, 3})));
  }
  int64_t feature_dim() const override { return dim_; }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Dropout drop{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  int64_t dim_;
};

// The shared test context (tests/support/test_context.h); create_backbone() gives a fresh
// backbone with its own random weights, as the host does.
struct TestContext : mdlab::test::TestContext {
  TestContext() : mdlab::test::TestContext(7, [] { return std::make_shared<TinyBackbone>(16); }) {}
};

// Two ranks seen from rank 0: the other rank's tensor is `other`.
class TwoRanks final : public mdlab::Collectives {
 public:
  explicit TwoRanks(torch::Tensor other) : other_(std::move(other)) {}
  int64_t rank() const override { return 0; }
  int64_t world_size() const override { return 2; }
  torch::Tensor gather_raw(const torch::Tensor& x) override { return torch::cat({x, other_}); }
  torch::Tensor sum_raw(const torch::Tensor& x) override { return x + other_; }

 private:
  torch::Tensor other_;
};

// Small shapes: out_dim 64, 2 global 8 px + 2 local 4 px crops.
mdlab::Options tiny_options() {
  auto o = mdlab::default_options(Dino::options_schema());
  o.set("out_dim", int64_t{64});
  o.set("hidden_dim", int64_t{32});
  o.set("bottleneck_dim", int64_t{16});
  o.set("local_crops_number", int64_t{2});
  o.set("global_crops_size", int64_t{8});
  o.set("local_crops_size", int64_t{4});
  return o;
}

mdlab::Batch multi_crop_batch(int64_t n, uint64_t seed) {
  auto gen = mdlab::make_cpu_generator(seed);
  mdlab::Batch batch;
  for (int64_t size : {8, 8, 4, 4}) batch.views.push_back(torch::randn({n, 3, size, size}, gen));
  batch.labels = torch::full({n}, -1, torch::kLong);
  return batch;
}

// |a - b| <= atol + rtol * |b| everywhere; prints the worst element otherwise.
void check_close(const torch::Tensor& actual, const torch::Tensor& expected, double rtol,
                 double atol, const std::string& what) {
  INFO(what << ": shapes " << actual.sizes() << " vs " << expected.sizes());
  REQUIRE(actual.sizes() == expected.sizes());
  auto a = actual.detach().to(torch::kDouble), b = expected.detach().to(torch::kDouble);
  auto excess = (a - b).abs() - (atol + rtol * b.abs());
  const double worst = excess.max().item<double>();
  INFO(what << ": max |diff| " << (a - b).abs().max().item<double>() << ", worst excess " << worst);
  CHECK(worst <= 0.0);
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE("DinoLoss matches the reference DINOLoss (values, gradients, centre, schedule)") {
  {
    // The centre averages the teacher rows of every rank: (sum here + sum there) / (rows * 2).
    DinoLossConfig config;
    config.out_dim = 4;
    auto teacher = torch::randn({6, 4});
    auto other_sum = torch::randn({1, 4});
    TwoRanks ranks(other_sum);
    DinoLoss loss(config, ranks);
    loss->forward(torch::randn({12, 4}), teacher, 0);
    auto expected = 0.1 * (teacher.sum(0, true) + other_sum) / 12;
    CHECK(max_abs_diff(loss->center, expected) < 1e-7);
  }
  auto dir = mdlab::test::fixture_dir("losses");
  if (!dir) return;
  const auto file = mdlab::read_safetensors(*dir / "dino.safetensors");
  // The fixture's DINOLoss(out_dim=256, ncrops=6, 0.04, 0.07, 3 warm-up epochs, nepochs=10).
  DinoLossConfig config;
  config.out_dim = 256;
  config.warmup_teacher_temp = 0.04;
  config.teacher_temp = 0.07;
  config.warmup_teacher_temp_epochs = 3;
  config.student_temp = 0.1;
  config.center_momentum = 0.9;

  const auto schedule = file.at("teacher_temp_schedule");
  REQUIRE(schedule.numel() == 10);
  for (int64_t e = 0; e < 10; ++e) {
    INFO("epoch " << e);
    CHECK(mdlab::dino::teacher_temperature(config, e) == schedule[e].item<double>());
  }

  // Loss rtol 1e-5 (atol 1e-6), gradients atol 1e-6 rtol 1e-4, centre atol 1e-7 (MANIFEST).
  auto run = [&](DinoLoss& loss, const std::string& prefix, const std::string& inputs,
                 int64_t epoch) {
    auto student = file.at(inputs + "_student_output").clone().requires_grad_(true);
    auto teacher = file.at(inputs + "_teacher_output").clone();
    auto value = loss->forward(student, teacher, epoch);
    value.backward();
    check_close(value, file.at(prefix + "_loss"), 1e-5, 1e-6, prefix + " loss");
    check_close(student.grad(), file.at(prefix + "_grad_student_output"), 1e-4, 1e-6,
                prefix + " gradient");
    check_close(loss->center, file.at(prefix + "_center_after"), 0.0, 1e-7, prefix + " centre");
  };
  DinoLoss loss(config);
  check_close(loss->center, file.at("e0_center_before"), 0.0, 0.0, "initial centre");
  run(loss, "e0", "e0", 0);
  // Same module: the epoch-5 call starts from the centre the first call left.
  check_close(loss->center, file.at("e5_center_before"), 0.0, 1e-7, "e5 centre before");
  run(loss, "e5", "e5", 5);
  DinoLoss fresh(config);
  run(fresh, "e5fresh", "e5", 5);

  // No centre update when asked (validation), and shapes are checked.
  auto before = fresh->center.clone();
  fresh->forward(file.at("e0_student_output"), file.at("e0_teacher_output"), 0, false);
  CHECK(torch::equal(before, fresh->center));
  CHECK_THROWS_WITH(
      fresh->forward(file.at("e0_student_output").slice(0, 0, 20), file.at("e0_teacher_output"), 0),
      Catch::Contains("not a multiple"));
  CHECK_THROWS_WITH(
      fresh->forward(file.at("e0_student_output").slice(1, 0, 64), file.at("e0_teacher_output"), 0),
      Catch::Contains("student_output must be [V*B, 256]"));
}

TEST_CASE("DinoHead: DINO's names, init and a weight-normalised last layer of norm 1") {
  auto gen = mdlab::make_cpu_generator(3);
  DinoHeadConfig config;
  config.in_dim = 24;
  config.out_dim = 64;
  config.hidden_dim = 256;
  config.bottleneck_dim = 16;

  SECTION("names, init and forward") {
    DinoHead head(config, gen);
    std::vector<std::string> names;
    for (const auto& item : head->named_parameters()) names.push_back(item.key());
    CHECK(names == std::vector<std::string>{"mlp.0.weight", "mlp.0.bias", "mlp.2.weight",
                                            "mlp.2.bias", "mlp.4.weight", "mlp.4.bias",
                                            "last_layer.weight_g", "last_layer.weight_v"});
    CHECK(head->last_layer->weight_g.sizes() == torch::IntArrayRef({64, 1}));
    CHECK(head->last_layer->weight_v.sizes() == torch::IntArrayRef({64, 16}));
    CHECK_FALSE(head->last_layer->weight_g.requires_grad());
    CHECK(head->last_layer->weight_v.requires_grad());
    // trunc_normal(std 0.02) weights, zero biases, weight_g = 1.
    auto w = head->named_parameters()["mlp.2.weight"];
    CHECK(w.std().item<double>() == Approx(0.02).epsilon(0.05));
    CHECK(head->named_parameters()["mlp.0.bias"].abs().max().item<double>() == 0.0);
    CHECK(torch::equal(head->last_layer->weight_g, torch::ones({64, 1})));
    // The same generator seed gives the same head.
    auto gen2 = mdlab::make_cpu_generator(3);
    DinoHead again(config, gen2);
    CHECK(torch::equal(again->last_layer->weight_v, head->last_layer->weight_v));

    // forward = normalize(mlp(x)) @ (v / ||v||_row)^T.
    auto x = torch::randn({5, 24});
    auto h = head->mlp->forward(x);
    h = h / h.norm(2, -1, true);
    auto v = head->last_layer->weight_v;
    auto expected = torch::matmul(h, (v / v.norm(2, 1, true)).t());
    check_close(head->forward(x), expected, 1e-5, 1e-6, "head forward");
  }

  SECTION("norm_last_layer keeps row norms at 1 through training; off trains weight_g") {
    DinoHead head(config, gen);
    auto v0 = head->last_layer->weight_v.clone();
    torch::optim::SGD opt(head->parameters(), torch::optim::SGDOptions(0.5));
    auto x = torch::randn({16, 24});
    for (int i = 0; i < 3; ++i) {
      opt.zero_grad();
      head->forward(x).pow(2).sum().backward();
      opt.step();
    }
    CHECK(max_abs_diff(head->last_layer->weight().norm(2, 1), torch::ones({64})) < 1e-5);
    CHECK(max_abs_diff(head->last_layer->weight_v, v0) > 1e-4);  // the direction did train

    config.norm_last_layer = false;
    DinoHead free(config, gen);
    CHECK(free->last_layer->weight_g.requires_grad());
    free->forward(x).sum().backward();
    CHECK(free->last_layer->weight_g.grad().defined());
  }

  SECTION("batch norm and a single layer") {
    config.use_bn = true;
    DinoHead bn(config, gen);
    std::set<std::string> names;
    for (const auto& item : bn->named_parameters()) names.insert(item.key());
    CHECK(names.count("mlp.1.weight") == 1);
    CHECK(names.count("mlp.6.weight") == 1);  // Linear, BN, GELU, Linear, BN, GELU, Linear
    CHECK(bn->named_buffers().contains("mlp.1.running_mean"));
    config.nlayers = 1;
    DinoHead single(config, gen);
    std::vector<std::string> single_names;
    for (const auto& item : single->named_parameters()) single_names.push_back(item.key());
    CHECK(single_names == std::vector<std::string>{"mlp.weight", "mlp.bias", "last_layer.weight_g",
                                                   "last_layer.weight_v"});
    CHECK(single->forward(torch::randn({2, 24})).sizes() == torch::IntArrayRef({2, 64}));
  }
}

TEST_CASE("Dino: slots, teacher copy and mode, EMA, parameter groups, training steps") {
  TestContext context;
  torch::manual_seed(1);
  auto options = tiny_options();
  options.set("momentum_teacher", 0.5);  // a visible EMA step
  Dino method(options, context);
  auto backbone = std::make_shared<TinyBackbone>(16);
  method.attach(backbone, context);
  auto& teacher = method.teacher_backbone();
  REQUIRE(teacher != nullptr);
  REQUIRE(teacher != backbone);

  SECTION("view slots and state names") {
    auto slots = method.view_slots();
    REQUIRE(slots.size() == 4);
    CHECK(slots[0].name == "global0");
    CHECK(slots[0].group == "global");
    CHECK(slots[0].default_size == 8);
    CHECK(slots[0].augment == "dino_global1");
    CHECK(slots[1].augment == "dino_global2");
    CHECK(slots[3].name == "local1");
    CHECK(slots[3].group == "local");
    CHECK(slots[3].default_size == 4);
    CHECK(slots[3].augment == "dino_local");
    CHECK(method.encoder() == backbone);

    std::set<std::string> names;
    for (const auto& [name, _] : mdlab::state_dict(method)) names.insert(name);
    for (const char* name : {"backbone.conv.weight", "head.mlp.0.weight",
                             "head.last_layer.weight_g", "teacher_backbone.bn.running_mean",
                             "teacher_head.last_layer.weight_v", "dino_loss.center"})
      CHECK(names.count(name) == 1);
  }

  SECTION("the teacher starts as the student, frozen, in DINO's train mode") {
    auto s = mdlab::state_dict(*backbone), t = mdlab::state_dict(*teacher);
    REQUIRE(s.size() == t.size());
    for (size_t i = 0; i < s.size(); ++i) {
      INFO(s[i].first);
      CHECK(torch::equal(s[i].second, t[i].second));
    }
    CHECK(torch::equal(method.head()->last_layer->weight_v,
                       method.teacher_head()->last_layer->weight_v));
    for (const auto& p : teacher->parameters()) CHECK_FALSE(p.requires_grad());
    for (const auto& p : method.teacher_head()->parameters()) CHECK_FALSE(p.requires_grad());

    auto* tb = dynamic_cast<TinyBackbone*>(teacher.get());
    REQUIRE(tb != nullptr);
    method.train();
    CHECK(backbone->drop->is_training());
    CHECK(tb->bn->is_training());
    CHECK_FALSE(tb->drop->is_training());
    CHECK(method.teacher_head()->is_training());
    method.eval();
    CHECK_FALSE(tb->bn->is_training());
    CHECK_FALSE(backbone->is_training());
    method.train();
    CHECK(tb->bn->is_training());
  }

  SECTION("after_optimizer_step moves the teacher by the scheduled momentum") {
    // Module::to swaps parameter data in place: the EMA's parameter lists stay linked.
    method.to(torch::kDouble);
    method.to(torch::kFloat);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : method.parameters())
        if (p.requires_grad()) p.add_(torch::randn(p.sizes()) * 0.1);
    }
    std::vector<torch::Tensor> s0, t0;
    for (auto& p : backbone->parameters()) s0.push_back(p.clone());
    for (auto& p : method.head()->parameters()) s0.push_back(p.clone());
    for (auto& p : teacher->parameters()) t0.push_back(p.clone());
    for (auto& p : method.teacher_head()->parameters()) t0.push_back(p.clone());
    auto running_mean = dynamic_cast<TinyBackbone&>(*teacher).bn->running_mean.clone();

    const mdlab::StepInfo step{3, 0, 10, 10};
    const double m = mdlab::cosine_momentum(0.5, 3, 10);
    CHECK(m == Approx(1.0 - 0.25 * (1.0 + std::cos(M_PI * 0.3))));
    CHECK(mdlab::cosine_momentum(0.996, 0, 100) == Approx(0.996));
    CHECK(mdlab::cosine_momentum(0.996, 99, 100) == Approx(1.0).margin(1e-5));
    method.after_optimizer_step(step);

    std::vector<torch::Tensor> t1 = teacher->parameters();
    for (auto& p : method.teacher_head()->parameters()) t1.push_back(p);
    REQUIRE(t1.size() == t0.size());
    for (size_t i = 0; i < t1.size(); ++i)
      check_close(t1[i], m * t0[i] + (1 - m) * s0[i], 1e-6, 1e-7,
                  "teacher parameter " + std::to_string(i));
    // Buffers are not averaged (DINO): the teacher's BN keeps its own statistics.
    CHECK(torch::equal(running_mean, dynamic_cast<TinyBackbone&>(*teacher).bn->running_mean));
  }

  SECTION("parameter groups hold every trainable student parameter once") {
    auto groups = method.param_groups();
    std::map<const void*, std::string> group_of;
    int64_t count = 0;
    for (const auto& g : groups)
      for (const auto& p : g.params) {
        ++count;
        group_of[p.unsafeGetTensorImpl()] = g.name;
      }
    CHECK(count == static_cast<int64_t>(group_of.size()));
    int64_t trainable = 0;
    for (const auto& item : method.named_parameters()) {
      const auto& name = item.key();
      INFO(name);
      const void* key = item.value().unsafeGetTensorImpl();
      const bool teacher_param = name.rfind("teacher_", 0) == 0;
      if (teacher_param || !item.value().requires_grad()) {
        CHECK(group_of.count(key) == 0);
        continue;
      }
      ++trainable;
      REQUIRE(group_of.count(key) == 1);
      if (name.rfind("head.last_layer.", 0) == 0)
        CHECK(group_of[key] == "last_layer");
      else if (item.value().dim() <= 1)
        CHECK(group_of[key] == "no_decay");
      else
        CHECK(group_of[key] == "default");
    }
    CHECK(trainable == count);
    for (const auto& g : groups) {
      INFO(g.name);
      CHECK(g.frozen_epochs == (g.name == "last_layer" ? 1 : 0));
      CHECK(g.weight_decay == (g.name != "no_decay"));
      CHECK(g.lars_adaptation == (g.name != "no_decay"));
    }
    // last_layer holds weight_v only (weight_g is fixed with norm_last_layer).
    REQUIRE(groups.back().name == "last_layer");
    REQUIRE(groups.back().params.size() == 1);
    CHECK(groups.back().params[0].is_same(method.head()->last_layer->weight_v));
  }

  SECTION("compute_loss: multi-crop plumbing, terms, features, centre only in training") {
    auto batch = multi_crop_batch(6, 11);
    method.eval();
    {
      torch::NoGradGuard no_grad;
      // Grouped by resolution = crop by crop (BN uses running statistics in eval mode).
      auto grouped = method.student_forward(batch.views);
      std::vector<torch::Tensor> one_by_one;
      for (const auto& v : batch.views) one_by_one.push_back(method.student_forward({v}));
      check_close(grouped, torch::cat(one_by_one), 1e-5, 1e-6, "multi-crop grouping");

      auto center = method.loss()->center.clone();
      auto out = method.compute_loss(batch, {0, 0, 10, 10});
      CHECK(torch::equal(center, method.loss()->center));
      auto expected = method.loss()->forward(
          grouped, method.teacher_forward({batch.views[0], batch.views[1]}), 0, false);
      CHECK(out.loss.item<double>() == Approx(expected.item<double>()).epsilon(1e-6));
    }
    method.train();
    auto out = method.compute_loss(batch, {4, 0, 10, 10});
    CHECK_FALSE(torch::equal(method.loss()->center, torch::zeros({1, 64})));
    REQUIRE(out.terms.size() == 3);
    CHECK(out.terms[0].first == "dino_loss");
    CHECK(out.terms[1].first == "teacher_temp");
    CHECK(out.terms[1].second.item<double>() == Approx(0.04));
    CHECK(out.terms[2].first == "teacher_momentum");
    CHECK(out.terms[2].second.item<double>() == Approx(mdlab::cosine_momentum(0.5, 4, 10)));
    for (const auto& [name, value] : out.terms) CHECK_FALSE(value.requires_grad());
    CHECK(out.loss.requires_grad());
    CHECK(out.features.sizes() == torch::IntArrayRef({6, 16}));
    out.loss.backward();
    CHECK(backbone->conv->weight.grad().defined());
    for (const auto& p : teacher->parameters()) CHECK_FALSE(p.grad().defined());

    batch.views.pop_back();
    CHECK_THROWS_WITH(method.compute_loss(batch, {}), Catch::Contains("expected 4 views"));
  }

  SECTION("a few optimisation steps run finite and lower the loss") {
    auto batch = multi_crop_batch(8, 5);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    for (const auto& g : method.param_groups()) groups.emplace_back(g.params);
    torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(1e-2).weight_decay(0.0));
    method.train();
    double first = 0, last = 0;
    const int64_t steps = 12;
    for (int64_t step = 0; step < steps; ++step) {
      const mdlab::StepInfo info{step, 0, steps, steps};
      auto out = method.compute_loss(batch, info);
      const double value = out.loss.item<double>();
      REQUIRE(std::isfinite(value));
      if (step == 0) first = value;
      last = value;
      opt.zero_grad();
      out.loss.backward();
      opt.step();
      method.after_optimizer_step(info);
    }
    INFO("loss " << first << " -> " << last);
    CHECK(last < first);
    CHECK(max_abs_diff(method.head()->last_layer->weight().norm(2, 1), torch::ones({64})) < 1e-5);
  }
}

TEST_CASE("the dino plugin loads through the registry and checks its options") {
  mdlab::PluginRegistry registry;
  REQUIRE(registry.load_file(MDLAB_DINO_PLUGIN_FILE));
  const auto* plugin = registry.find(MDLAB_PLUGIN_METHOD, "dino");
  REQUIRE(plugin != nullptr);
  const auto schema = plugin->factory->options_schema();
  for (const auto& spec : schema.specs()) {
    INFO(spec.name);
    CHECK_FALSE(spec.doc.empty());
  }
  auto defaults = mdlab::default_options(schema);
  CHECK(defaults.get_int("out_dim") == 65536);
  CHECK(defaults.get_int("hidden_dim") == 2048);
  CHECK(defaults.get_int("bottleneck_dim") == 256);
  CHECK(defaults.get_int("nlayers") == 3);
  CHECK_FALSE(defaults.get_bool("use_bn_in_head"));
  CHECK(defaults.get_bool("norm_last_layer"));
  CHECK(defaults.get_float("warmup_teacher_temp") == 0.04);
  CHECK(defaults.get_float("teacher_temp") == 0.04);
  CHECK(defaults.get_int("warmup_teacher_temp_epochs") == 0);
  CHECK(defaults.get_float("student_temp") == 0.1);
  CHECK(defaults.get_float("center_momentum") == 0.9);
  CHECK(defaults.get_float("momentum_teacher") == 0.996);
  CHECK(defaults.get_int("freeze_last_layer") == 1);
  CHECK(defaults.get_int("local_crops_number") == 8);
  CHECK(defaults.get_int("global_crops_size") == 224);
  CHECK(defaults.get_int("local_crops_size") == 96);
  CHECK(defaults.get_string("eval_encoder") == "student");
  CHECK(schema.find("center_momentum")->check(1.5) != "");
  CHECK(schema.find("eval_encoder")->check(std::string("both")) != "");

  TestContext context;
  auto method = registry.create_method("dino", defaults, context);
  CHECK(method->view_slots().size() == 10);

  auto options = tiny_options();
  options.set("eval_encoder", std::string("teacher"));
  method = registry.create_method("dino", options, context);
  auto backbone = std::make_shared<TinyBackbone>(16);
  method->attach(backbone, context);
  CHECK(method->encoder() != backbone);
  auto out = method->compute_loss(multi_crop_batch(4, 2), {});
  CHECK(std::isfinite(out.loss.item<double>()));

  options.set("student_temp", 0.0);
  CHECK_THROWS_WITH(registry.create_method("dino", options, context),
                    Catch::Contains("student_temp 0 must be positive"));
}
