// ResNet backbone: parity with torchvision's resnet18 on the reference fixtures, torchvision's
// state-dict names and sizes, the options, and the real plugin loaded through the registry.
#include "fixtures.h"
#include "plugin_registry.h"
#include "resnet.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>

using mdlab::resnet::ResNet;
using mdlab::resnet::ResNetConfig;

namespace {

// The host services a backbone may use, reduced to what a unit test needs.
class TestContext final : public mdlab::Context {
 public:
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  uint64_t seed() const override { return 7; }
  at::Generator generator(std::string_view stream) const override {
    return mdlab::make_cpu_generator(mdlab::derive_seed(seed(), stream));
  }
  void log(mdlab::LogLevel, std::string_view message) override { logs.emplace_back(message); }
  mdlab::ProgressReporter& progress() override { throw mdlab::Error("no progress in tests"); }
  const std::filesystem::path& run_dir() const override { return dir_; }
  void metric(std::string_view, int64_t, double) override {}

  std::vector<std::string> logs;

 private:
  std::filesystem::path dir_ = std::filesystem::temp_directory_path();
};

ResNet make(int64_t depth, int64_t width = 64, bool cifar = false, int64_t in_channels = 3) {
  ResNetConfig c;
  c.depth = depth;
  c.width = width;
  c.cifar_stem = cifar;
  c.in_channels = in_channels;
  return ResNet(c, mdlab::make_cpu_generator(0));
}

int64_t parameter_count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// Largest |a - b| and whether all elements are within atol + rtol * |b|.
std::pair<double, bool> compare(const torch::Tensor& a, const torch::Tensor& b) {
  const double atol = 1e-4, rtol = 1e-4;
  double max_err = (a - b).abs().max().item<double>();
  return {max_err, torch::allclose(a, b, rtol, atol)};
}

}  // namespace

TEST_CASE("resnet18 matches torchvision on the reference input") {
  auto dir = mdlab::test::fixture_dir("resnet");
  if (!dir) return;
  torch::NoGradGuard no_grad;
  auto net = make(18);
  net.eval();
  auto report = net.load_weights(*dir / "weights.safetensors");
  CHECK(report.loaded.size() == 120);
  CHECK(report.ignored == std::vector<std::string>{"fc.bias", "fc.weight"});

  auto io = mdlab::read_safetensors(*dir / "io.safetensors");
  auto weights = mdlab::read_safetensors(*dir / "weights.safetensors");
  auto logits_of = [&](const torch::Tensor& f) {
    return torch::addmm(weights.at("fc.bias"), f, weights.at("fc.weight").t());
  };

  auto features = net.forward(io.at("input"));
  REQUIRE(features.sizes() == io.at("features").sizes());
  auto [err, ok] = compare(features, io.at("features"));
  auto [lerr, lok] = compare(logits_of(features), io.at("logits"));
  std::printf("resnet18 parity: features max |err| %.3g, logits max |err| %.3g\n", err, lerr);
  CHECK(ok);
  CHECK(lok);

  // bnrand: random BN affine and running statistics exercise the eval-mode BN math.
  auto bn = mdlab::read_safetensors(*dir / "bn_override.safetensors");
  mdlab::LoadOptions partial;
  partial.strict = false;
  auto bn_report = mdlab::load_state_dict(net, bn.tensors, partial);
  CHECK(bn_report.loaded.size() == bn.tensors.size());
  CHECK(bn_report.unexpected.empty());
  CHECK(bn_report.mismatched.empty());
  auto features_bn = net.forward(io.at("input"));
  auto [berr, bok] = compare(features_bn, io.at("features_bnrand"));
  auto [blerr, blok] = compare(logits_of(features_bn), io.at("logits_bnrand"));
  std::printf("resnet18 bnrand parity: features max |err| %.3g, logits max |err| %.3g\n", berr,
              blerr);
  CHECK(bok);
  CHECK(blok);
}

TEST_CASE("resnet18's state dict has torchvision's names and shapes, minus fc") {
  auto dir = mdlab::test::fixture_dir("resnet");
  if (!dir) return;
  auto reference = mdlab::read_safetensors(*dir / "weights.safetensors");
  std::map<std::string, std::vector<int64_t>> expected, actual;
  for (const auto& [name, t] : reference.tensors)
    if (name.rfind("fc.", 0) != 0) expected.emplace(name, t.sizes().vec());
  auto net = make(18);
  for (const auto& [name, t] : mdlab::state_dict(net)) actual.emplace(name, t.sizes().vec());
  CHECK(actual == expected);
}

TEST_CASE("parameter counts and feature widths match torchvision for every depth") {
  // torchvision's totals minus the 1000-class fc (512*1000+1000 or 2048*1000+1000).
  const std::map<int64_t, int64_t> params = {
      {18, 11'689'512 - 513'000},
      {34, 21'797'672 - 513'000},
      {50, 25'557'032 - 2'049'000},
      {101, 44'549'160 - 2'049'000},
  };
  for (auto [depth, count] : params) {
    INFO("depth " << depth);
    auto net = make(depth);
    CHECK(parameter_count(net) == count);
    CHECK(net.feature_dim() == (depth < 50 ? 512 : 2048));
  }
  // Narrow nets run on small inputs: D = 8 * width (basic) or 32 * width (bottleneck).
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 3, 32, 32});
  for (int64_t depth : {18, 34, 50, 101}) {
    INFO("depth " << depth);
    auto net = make(depth, 16);
    const int64_t d = depth < 50 ? 8 * 16 : 32 * 16;
    CHECK(net.feature_dim() == d);
    CHECK(net.forward(x).sizes() == torch::IntArrayRef({2, d}));
  }
}

TEST_CASE("the cifar stem keeps small images at full resolution") {
  auto net = make(18, 16, /*cifar=*/true);
  auto sd = mdlab::state_dict(net);
  CHECK(sd.front().first == "conv1.weight");
  CHECK(sd.front().second.sizes() == torch::IntArrayRef({16, 3, 3, 3}));
  // 28 -> 28 (stem) -> 28, 14, 7, 4 (layers): a 4x4 map is pooled.
  auto y = net.forward(torch::randn({3, 3, 28, 28}));
  CHECK(y.sizes() == torch::IntArrayRef({3, 128}));
  CHECK(torch::isfinite(y).all().item<bool>());
  // Training mode updates the BN statistics; gradients reach the stem.
  y.sum().backward();
  CHECK(net.named_parameters()["conv1.weight"].grad().defined());
  CHECK(net.named_buffers()["bn1.num_batches_tracked"].item<int64_t>() == 1);
}

TEST_CASE("single-channel inputs and the channel check") {
  auto net = make(18, 8, false, 1);
  CHECK(mdlab::state_dict(net).front().second.sizes() == torch::IntArrayRef({8, 1, 7, 7}));
  torch::NoGradGuard no_grad;
  CHECK(net.forward(torch::randn({2, 1, 64, 64})).sizes() == torch::IntArrayRef({2, 64}));
  CHECK_THROWS_WITH(net.forward(torch::randn({2, 3, 64, 64})),
                    Catch::Contains("expected images [N, 1, H, W], got [2, 3, 64, 64]"));
}

TEST_CASE("initialisation follows torchvision and is seeded") {
  auto a = make(50, 16);
  auto b = make(50, 16);
  // Same generator seed, same network.
  auto sa = mdlab::state_dict(a), sb = mdlab::state_dict(b);
  for (size_t i = 0; i < sa.size(); ++i) CHECK(torch::equal(sa[i].second, sb[i].second));

  // Kaiming normal, fan_out, ReLU gain: std = sqrt(2 / (out * kh * kw)).
  auto w = a.named_parameters()["layer3.0.conv2.weight"];  // [64, 64, 3, 3]
  const double expected_std = std::sqrt(2.0 / (64 * 9));
  CHECK(w.std().item<double>() == Approx(expected_std).epsilon(0.05));
  CHECK(torch::equal(a.named_parameters()["layer1.0.bn3.weight"], torch::ones({64})));
  CHECK(torch::equal(a.named_parameters()["layer1.0.bn3.bias"], torch::zeros({64})));

  ResNetConfig c;
  c.depth = 50;
  c.width = 16;
  c.zero_init_residual = true;
  ResNet z(c, mdlab::make_cpu_generator(0));
  auto zp = z.named_parameters();
  CHECK(zp["layer2.3.bn3.weight"].abs().sum().item<double>() == 0.0);
  CHECK(zp["layer2.3.bn2.weight"].abs().sum().item<double>() > 0.0);
  c.depth = 18;
  ResNet z18(c, mdlab::make_cpu_generator(0));
  CHECK(z18.named_parameters()["layer4.1.bn2.weight"].abs().sum().item<double>() == 0.0);
  CHECK(z18.named_parameters()["layer4.1.bn1.weight"].abs().sum().item<double>() > 0.0);
}

TEST_CASE("the plugin loads through the registry and validates its options") {
  mdlab::PluginRegistry registry;
  REQUIRE(registry.load_file(MDLAB_RESNET_PLUGIN_FILE));
  const auto* plugin = registry.find(MDLAB_PLUGIN_BACKBONE, "resnet");
  REQUIRE(plugin != nullptr);
  auto schema = plugin->factory->options_schema();
  for (const char* key :
       {"depth", "width", "cifar_stem", "zero_init_residual", "in_channels", "weights"})
    CHECK(schema.find(key) != nullptr);
  CHECK_FALSE(schema.find("depth")->check(int64_t{152}).empty());
  CHECK_FALSE(schema.find("width")->check(int64_t{4}).empty());
  CHECK_FALSE(schema.find("in_channels")->check(int64_t{17}).empty());

  TestContext context;
  auto options = mdlab::default_options(schema);
  options.set("depth", int64_t{18});
  options.set("width", int64_t{8});
  auto backbone = registry.create_backbone("resnet", options, context);
  CHECK(backbone->feature_dim() == 64);
  CHECK(backbone->forward(torch::randn({2, 3, 32, 32})).sizes() == torch::IntArrayRef({2, 64}));
}

TEST_CASE("the plugin loads weights strictly") {
  auto dir = mdlab::test::fixture_dir("resnet");
  if (!dir) return;
  mdlab::PluginRegistry registry;
  REQUIRE(registry.load_file(MDLAB_RESNET_PLUGIN_FILE));
  TestContext context;
  auto options = mdlab::default_options(registry.find_any("resnet")->factory->options_schema());
  options.set("depth", int64_t{18});
  options.set("width", int64_t{64});
  options.set("weights", (*dir / "weights.safetensors").string());
  auto backbone = registry.create_backbone("resnet", options, context);
  REQUIRE_FALSE(context.logs.empty());
  CHECK_THAT(context.logs.back(), Catch::Contains("loaded 120 tensors"));
  auto reference = mdlab::read_safetensors(*dir / "weights.safetensors");
  CHECK(torch::equal(backbone->named_parameters()["layer4.1.conv2.weight"],
                     reference.at("layer4.1.conv2.weight")));

  // Weights of another shape are refused with both shapes named.
  options.set("in_channels", int64_t{1});
  CHECK_THROWS_WITH(registry.create_backbone("resnet", options, context),
                    Catch::Contains("weights.safetensors") &&
                        Catch::Contains("conv1.weight: shape [64, 3, 7, 7] in the file, "
                                        "[64, 1, 7, 7] in the module"));
}
