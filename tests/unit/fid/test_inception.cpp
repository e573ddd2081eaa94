// The FID Inception: torchvision's state-dict names and shapes (fixture written by
// tests/fixtures/fid/make_fixtures.py), numerical parity with pytorch-fid's network on
// deterministic weights, weight loading and its errors, the input preparation.
#include "fixtures.h"
#include "inception_v3.h"

#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using mdlab::fid::InceptionV3;

namespace {

std::filesystem::path fixtures() {
  return mdlab::test::source_dir() / "tests" / "fixtures" / "fid";
}

std::string shape_text(torch::IntArrayRef sizes) {
  return fmt::format("[{}]", fmt::join(sizes, ","));
}

// The deterministic values of make_fixtures.py: splitmix64's finaliser on
// (stream << 32) + k, top 53 bits as a double in [0, 1). Integer arithmetic wraps identically
// in numpy's uint64 and here, so both sides produce the same bits.
double unit(uint64_t stream, uint64_t k) {
  uint64_t z = (stream << 32) + k + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

// Sets every tensor of `net` from the formula of make_fixtures.py (state-dict order: the
// l-th BasicConv2d is the l-th "conv.weight"; slot t picks the stream 8 l + t).
void set_deterministic_weights(InceptionV3& net) {
  torch::NoGradGuard no_grad;
  int64_t layer = -1;
  for (auto& [name, tensor] : mdlab::state_dict(*net)) {
    const auto dot = name.rfind('.', name.rfind('.') - 1);
    const std::string tail = name.substr(dot + 1);
    if (tail == "conv.weight") ++layer;
    if (tail == "bn.num_batches_tracked") {
      tensor.zero_();
      continue;
    }
    const int slot = tail == "conv.weight"       ? 0
                     : tail == "bn.weight"       ? 1
                     : tail == "bn.bias"         ? 2
                     : tail == "bn.running_mean" ? 3
                                                 : 4;
    REQUIRE((slot != 4 || tail == "bn.running_var"));
    const int64_t n = tensor.numel();
    std::vector<float> values(static_cast<size_t>(n));
    const double fan_in = static_cast<double>(tensor[0].numel());
    for (int64_t k = 0; k < n; ++k) {
      const double u = unit(static_cast<uint64_t>(8 * layer + slot), static_cast<uint64_t>(k));
      double v;
      if (slot == 0)
        v = (2 * u - 1) * std::sqrt(6.0 / fan_in);
      else if (slot == 1 || slot == 4)
        v = 0.8 + 0.4 * u;
      else
        v = 0.2 * u - 0.1;
      values[static_cast<size_t>(k)] = static_cast<float>(v);
    }
    tensor.copy_(torch::from_blob(values.data(), tensor.sizes(), torch::kFloat32));
  }
}

torch::Tensor deterministic_input(uint64_t stream, std::vector<int64_t> shape) {
  const int64_t n = c10::multiply_integers(shape);
  std::vector<float> values(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k)
    values[static_cast<size_t>(k)] = static_cast<float>(unit(stream, static_cast<uint64_t>(k)));
  return torch::from_blob(values.data(), shape, torch::kFloat32).clone();
}

}  // namespace

TEST_CASE("Inception state dict has the torchvision names and shapes in order") {
  std::ifstream in(fixtures() / "inception_v3_state_dict.txt");
  REQUIRE(in);
  std::vector<std::pair<std::string, std::string>> expected;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, shape;
    fields >> name >> shape;
    expected.emplace_back(name, shape);
  }
  REQUIRE(expected.size() == 564);  // 94 BasicConv2d x (conv weight + 5 BatchNorm tensors)

  InceptionV3 net(mdlab::make_cpu_generator(1));
  std::vector<std::pair<std::string, std::string>> actual;
  for (const auto& [name, tensor] : mdlab::state_dict(*net))
    actual.emplace_back(name, shape_text(tensor.sizes()));
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("entry " << i);
    CHECK(actual[i] == expected[i]);
  }
  // The same set through named_parameters + named_buffers (what the host sees).
  size_t count = 0;
  for (const auto& p : net->named_parameters()) count += p.key().empty() ? 0 : 1;
  for (const auto& b : net->named_buffers()) count += b.key().empty() ? 0 : 1;
  CHECK(count == expected.size());
  // BatchNorm eps of the TensorFlow graph.
  CHECK(net->Conv2d_1a_3x3->bn->options.eps() == 0.001);
  CHECK(net->Mixed_7c->branch_pool->bn->options.eps() == 0.001);
}

TEST_CASE("Inception pool3 features match the pytorch-fid network on deterministic weights") {
  InceptionV3 net(mdlab::make_cpu_generator(1));
  set_deterministic_weights(net);
  net->eval();
  const auto reference = mdlab::read_safetensors(fixtures() / "inception_parity.safetensors");
  struct Case {
    const char* name;
    uint64_t stream;
    std::vector<int64_t> shape;
  };
  const std::vector<Case> cases = {{"small", 1000, {2, 3, 37, 41}},
                                   {"large", 1001, {1, 3, 331, 317}}};
  torch::NoGradGuard no_grad;
  for (const auto& c : cases) {
    INFO("case " << c.name);
    const auto expected = reference.at(std::string(c.name) + "/features").to(torch::kFloat64);
    const auto actual = net->forward(deterministic_input(c.stream, c.shape)).to(torch::kFloat64);
    REQUIRE(actual.sizes() == expected.sizes());
    REQUIRE(actual.size(1) == 2048);
    // Relative to the largest feature: a float32 run of the 94-layer network vs the float64
    // reference differs by ~1e-6 (make_fixtures.py prints it); 1e-4 leaves room for other
    // convolution algorithms, while any structural slip (a pool with padding counted, a wrong
    // branch order, an avg pool instead of a max pool) moves features by far more.
    const double error = ((actual - expected).abs().max() / expected.abs().max()).item<double>();
    std::printf("fid parity %s: max |ours - reference| / max |reference| = %.3g\n", c.name, error);
    CHECK(error < 1e-4);
    // The features are not degenerate (a dead network would pass trivially).
    CHECK(expected.std().item<double>() > 0.1);
  }
}

TEST_CASE("Inception input preparation is the pytorch-fid resize and scaling to -1 to 1") {
  // A constant image stays constant through bilinear resizing: 0.25 -> -0.5.
  auto x = mdlab::fid::prepare_inception_input(torch::full({2, 3, 10, 12}, 0.25f));
  REQUIRE(x.sizes() == torch::IntArrayRef({2, 3, 299, 299}));
  CHECK(torch::allclose(x, torch::full_like(x, -0.5f)));
  // No antialias, align_corners = false: equals upsample_bilinear2d with those settings.
  auto img = torch::rand({1, 3, 400, 350}, mdlab::make_cpu_generator(3));
  auto expected = torch::upsample_bilinear2d(img, {299, 299}, false) * 2 - 1;
  CHECK(torch::equal(mdlab::fid::prepare_inception_input(img), expected));
}

TEST_CASE("Inception random init is seeded and features are finite and non-negative") {
  InceptionV3 a(mdlab::make_cpu_generator(11)), b(mdlab::make_cpu_generator(11));
  InceptionV3 c(mdlab::make_cpu_generator(12));
  CHECK(
      torch::equal(a->Mixed_6b->branch7x7_2->conv->weight, b->Mixed_6b->branch7x7_2->conv->weight));
  CHECK_FALSE(
      torch::equal(a->Mixed_6b->branch7x7_2->conv->weight, c->Mixed_6b->branch7x7_2->conv->weight));
  CHECK_FALSE(a->is_training());
  torch::NoGradGuard no_grad;
  auto f = a->forward(torch::rand({2, 3, 32, 32}, mdlab::make_cpu_generator(4)));
  REQUIRE(f.sizes() == torch::IntArrayRef({2, 2048}));
  CHECK(torch::isfinite(f).all().item<bool>());
  CHECK(f.min().item<float>() >= 0.f);
  CHECK(f.max().item<float>() > 0.f);
  CHECK_THROWS_WITH(a->forward(torch::rand({2, 1, 32, 32})),
                    Catch::Contains("takes images [N, 3, H, W]"));
}

TEST_CASE("Inception weights load from safetensors and bad files name the tensor and shapes") {
  const auto dir = mdlab::test::temp_dir("fid-weights");
  InceptionV3 source(mdlab::make_cpu_generator(21));
  // Give the running statistics non-default values so buffers are checked too.
  {
    torch::NoGradGuard no_grad;
    source->Mixed_5b->branch_pool->bn->running_mean.fill_(0.25);
  }
  auto tensors = mdlab::state_dict(*source);
  auto with_fc = tensors;
  with_fc.emplace_back("fc.weight", torch::zeros({10, 2048}));  // the classifier: ignored
  with_fc.emplace_back("fc.bias", torch::zeros({10}));
  mdlab::write_safetensors(dir / "good.safetensors", with_fc);

  InceptionV3 target(mdlab::make_cpu_generator(22));
  CHECK(target->load_weights(dir / "good.safetensors") == 564);
  torch::NoGradGuard no_grad;
  auto x = torch::rand({1, 3, 40, 40}, mdlab::make_cpu_generator(5));
  CHECK(torch::equal(source->forward(x), target->forward(x)));

  // A wrong shape: the error names the tensor and both shapes.
  auto wrong = tensors;
  for (auto& [name, t] : wrong)
    if (name == "Mixed_7c.branch_pool.conv.weight") t = torch::zeros({192, 2047, 1, 1});
  mdlab::write_safetensors(dir / "wrong.safetensors", wrong);
  CHECK_THROWS_WITH(
      target->load_weights(dir / "wrong.safetensors"),
      Catch::Contains("Mixed_7c.branch_pool.conv.weight") && Catch::Contains("[192, 2047, 1, 1]") &&
          Catch::Contains("[192, 2048, 1, 1]") && Catch::Contains("wrong.safetensors"));

  // A missing tensor: named.
  auto missing = tensors;
  missing.erase(missing.begin() + 3);  // Conv2d_1a_3x3.bn.running_mean
  mdlab::write_safetensors(dir / "missing.safetensors", missing);
  CHECK_THROWS_WITH(target->load_weights(dir / "missing.safetensors"),
                    Catch::Contains("Conv2d_1a_3x3.bn.running_mean"));

  CHECK_THROWS_WITH(target->load_weights(dir / "absent.safetensors"),
                    Catch::Contains("absent.safetensors"));
  std::filesystem::remove_all(dir);
}
