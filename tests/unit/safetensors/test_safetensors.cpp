// Safetensors reader/writer: round trips, byte-for-byte agreement with the Python library's
// files, one distinct message per kind of damage, and the state-dict loader's strict errors.
#include "fixtures.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A file with the given header text (not padded) and `data_bytes` zero bytes of data.
fs::path crafted(const fs::path& dir, const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += header;
  bytes.append(data_bytes, '\0');
  auto file = dir / "crafted.safetensors";
  write_bytes(file, bytes);
  return file;
}

// The message read_safetensors throws for `file` ("" when it does not throw).
std::string read_error(const fs::path& file) {
  try {
    mdlab::read_safetensors(file);
  } catch (const mdlab::Error& e) {
    return e.what();
  }
  return "";
}

std::string header_error(const std::string& header, size_t data_bytes = 64) {
  auto dir = mdlab::test::temp_dir("safetensors");
  auto file = crafted(dir, header, data_bytes);
  auto message = read_error(file);
  // Every message names the file it is about.
  if (!message.empty()) CHECK_THAT(message, Catch::Contains(file.string()));
  return message;
}

}  // namespace

TEST_CASE("every dtype survives a round trip") {
  auto dir = mdlab::test::temp_dir("safetensors");
  auto file = dir / "all.safetensors";
  torch::manual_seed(3);
  auto base = torch::randn({3, 5}) * 50;
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"f32", base.to(torch::kFloat32)},
      {"f16", base.to(torch::kFloat16)},
      {"bf16", base.to(torch::kBFloat16)},
      {"f64", base.to(torch::kFloat64)},
      {"i64", (base * 1e6).to(torch::kInt64)},
      {"i32", base.to(torch::kInt32)},
      {"i16", base.to(torch::kInt16)},
      {"i8", base.clamp(-128, 127).to(torch::kInt8)},
      {"u8", base.abs().clamp(0, 255).to(torch::kUInt8)},
      {"bool", base.gt(0)},
      {"scalar", torch::tensor(7.5)},
      {"empty", torch::zeros({0, 4}, torch::kFloat16)},
      {"strided", base.t()},  // non-contiguous input is written in row-major order
      {"odd \"name\"\n\u00e9", torch::arange(3, torch::kInt16)},
  };
  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"note", "quote \" back\\slash \t tab \x01"}};
  mdlab::write_safetensors(file, tensors, metadata);
  auto read = mdlab::read_safetensors(file);
  REQUIRE(read.tensors.size() == tensors.size());
  for (const auto& [name, expected] : tensors) {
    INFO(name);
    REQUIRE(read.contains(name));
    const auto& t = read.at(name);
    CHECK(t.scalar_type() == expected.scalar_type());
    CHECK(t.sizes() == expected.sizes());
    CHECK(t.device().is_cpu());
    CHECK(torch::equal(t, expected));
  }
  CHECK(read.metadata == metadata);
  CHECK(mdlab::safetensors_dtype_name(torch::kBFloat16) == "BF16");

  SECTION("header is padded to 8 bytes and tensors are ordered as the Python library does") {
    auto bytes = read_bytes(file);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    CHECK(n % 8 == 0);
    CHECK(bytes.substr(8, 16) == "{\"__metadata__\":");
    // Widest dtype first, then by name.
    std::vector<std::string> expected_order = {"i64",
                                               "f64",
                                               "f32",
                                               "scalar",
                                               "strided",
                                               "i32",
                                               "bf16",
                                               "empty",
                                               "f16",
                                               "i16",
                                               "odd \"name\"\n\u00e9",
                                               "i8",
                                               "u8",
                                               "bool"};
    CHECK(read.names == expected_order);
  }
  SECTION("no temporary file is left behind and rewriting replaces the file") {
    mdlab::write_safetensors(file, {{"only", torch::ones({2})}});
    CHECK(mdlab::read_safetensors(file).names == std::vector<std::string>{"only"});
    int entries = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      (void)e;
      ++entries;
    }
    CHECK(entries == 1);
  }
}

TEST_CASE("tensors outlive the file object and writing to them leaves the file alone") {
  auto dir = mdlab::test::temp_dir("safetensors");
  auto file = dir / "t.safetensors";
  mdlab::write_safetensors(file, {{"x", torch::arange(6, torch::kFloat32)}});
  torch::Tensor x;
  {
    auto read = mdlab::read_safetensors(file);
    x = read.at("x");
  }
  CHECK(torch::equal(x, torch::arange(6, torch::kFloat32)));
  x.add_(1);
  CHECK(torch::equal(mdlab::read_safetensors(file).at("x"), torch::arange(6, torch::kFloat32)));
}

TEST_CASE("a missing tensor is named with its file") {
  auto dir = mdlab::test::temp_dir("safetensors");
  auto file = dir / "t.safetensors";
  mdlab::write_safetensors(file, {{"x", torch::ones({1})}});
  auto read = mdlab::read_safetensors(file);
  CHECK_THROWS_WITH(read.at("y"),
                    Catch::Contains("has no tensor 'y'") && Catch::Contains(file.string()));
}

TEST_CASE("the writer refuses what the format cannot hold") {
  auto dir = mdlab::test::temp_dir("safetensors");
  auto file = dir / "w.safetensors";
  CHECK_THROWS_WITH(
      mdlab::write_safetensors(file, {{"a", torch::ones({1})}, {"a", torch::ones({2})}}),
      Catch::Contains("'a' appears twice"));
  CHECK_THROWS_WITH(mdlab::write_safetensors(file, {{"c", torch::ones({1}, torch::kComplexFloat)}}),
                    Catch::Contains("safetensors cannot store"));
  CHECK_THROWS_WITH(mdlab::write_safetensors(file, {{"__metadata__", torch::ones({1})}}),
                    Catch::Contains("reserved"));
  CHECK_THROWS_WITH(mdlab::write_safetensors(file, {{"", torch::ones({1})}}),
                    Catch::Contains("empty name"));
  CHECK_FALSE(fs::exists(file));
  CHECK(fs::is_empty(dir));  // failed writes leave no temporary file either
}

TEST_CASE("files shorter than the length prefix are refused") {
  auto dir = mdlab::test::temp_dir("safetensors");
  auto file = dir / "short.safetensors";
  write_bytes(file, "abc");
  CHECK_THAT(read_error(file), Catch::Contains("3 bytes, shorter than the 8-byte header length") &&
                                   Catch::Contains(file.string()));
  write_bytes(file, "");
  CHECK_THAT(read_error(file), Catch::Contains("0 bytes, shorter"));
  CHECK_THAT(read_error(dir / "absent.safetensors"), Catch::Contains("cannot open"));
}

TEST_CASE("a header length beyond the file is refused") {
  auto dir = mdlab::test::temp_dir("safetensors");
  auto file = dir / "long.safetensors";
  std::string bytes(8, '\0');
  uint64_t n = 1000;
  std::memcpy(bytes.data(), &n, 8);
  write_bytes(file, bytes + "{}");
  CHECK_THAT(read_error(file), Catch::Contains("header length 1000 exceeds the 2 bytes"));
}

TEST_CASE("truncated files are refused") {
  auto dir = mdlab::test::temp_dir("safetensors");
  auto file = dir / "cut.safetensors";
  mdlab::write_safetensors(file, {{"a", torch::ones({100})}, {"b", torch::ones({100})}});
  auto bytes = read_bytes(file);
  write_bytes(file, bytes.substr(0, bytes.size() - 10));  // cut inside the data
  CHECK_THAT(read_error(file), Catch::Contains("tensor 'b': data_offsets [400, 800] lie outside "
                                               "the data area of 790 bytes"));
  write_bytes(file, bytes.substr(0, 30));  // cut inside the header
  CHECK_THAT(read_error(file), Catch::Contains("exceeds the 22 bytes after the length prefix"));
}

TEST_CASE("each kind of damaged header gets its own message") {
  const std::string ok_entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  CHECK(header_error(R"({"a":)" + ok_entry + "}", 8).empty());  // the control: this one is fine

  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2])"),
             Catch::Contains("header is not valid JSON") && Catch::Contains("at byte"));
  CHECK_THAT(header_error(R"({"a":1,})"), Catch::Contains("not valid JSON"));
  CHECK_THAT(header_error("{\"a\tb\":1}"), Catch::Contains("unescaped control character"));
  CHECK_THAT(header_error(R"({"a":01})"), Catch::Contains("leading zero"));
  CHECK_THAT(header_error(R"({"a":"\x"})"), Catch::Contains("invalid escape"));
  CHECK_THAT(header_error(R"({"a":"\ud800"})"), Catch::Contains("lone high surrogate"));
  CHECK_THAT(header_error(R"({"a":)" + ok_entry + "} x", 8),
             Catch::Contains("trailing characters"));
  CHECK_THAT(header_error(R"({"a":)" + ok_entry + R"(,"a":)" + ok_entry + "}", 8),
             Catch::Contains("duplicate key \"a\""));
  CHECK_THAT(header_error("[1, 2]"), Catch::Contains("header is not a JSON object"));
  CHECK_THAT(header_error(R"({"a":[1]})"),
             Catch::Contains("tensor 'a': entry is not a JSON object"));

  CHECK_THAT(header_error(R"({"a":{"shape":[2],"data_offsets":[0,8]}})"),
             Catch::Contains("tensor 'a': entry has no 'dtype'"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})"),
             Catch::Contains("tensor 'a': entry has no 'shape'"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2]}})"),
             Catch::Contains("tensor 'a': entry has no 'data_offsets'"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})"),
             Catch::Contains("tensor 'a': unknown dtype 'F8_E4M3'"));
  CHECK_THAT(header_error(R"({"a":{"dtype":5,"shape":[2],"data_offsets":[0,8]}})"),
             Catch::Contains("'dtype' is not a string"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})"),
             Catch::Contains("'shape' is not an array of non-negative integers"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})"),
             Catch::Contains("'shape' is not an array of non-negative integers"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})"),
             Catch::Contains("'data_offsets' is not an array of two non-negative integers"));
  CHECK_THAT(
      header_error(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})"),
      Catch::Contains("is too large"));

  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})"),
             Catch::Contains("tensor 'a': data_offsets [8, 0] end before they begin"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})"),
             Catch::Contains("tensor 'a': data_offsets [0, 8] hold 8 bytes but shape [3] of F32 "
                             "needs 12 bytes"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[60,68]}})", 64),
             Catch::Contains("tensor 'a': data_offsets [60, 68] lie outside the data area of 64 "
                             "bytes"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})"),
             Catch::Contains("tensors 'a' [0, 16] and 'b' [12, 20] overlap"));
  CHECK_THAT(header_error(R"({"__metadata__":{"k":1}})"),
             Catch::Contains("'__metadata__' value of 'k' is not a string"));
  CHECK_THAT(header_error(R"({"__metadata__":[]})"),
             Catch::Contains("'__metadata__' is not a JSON object"));
}

TEST_CASE("the header parser handles escapes, unknown fields and empty tensors") {
  auto dir = mdlab::test::temp_dir("safetensors");
  auto file = crafted(dir,
                      R"({"\u00e9\ud83d\ude00\/":{"dtype":"U8","shape":[2],"data_offsets":[0,2],)"
                      R"("extra":{"nested":[true,false,null,-1.5e3]}},)"
                      R"( "e" : {"dtype":"F64","shape":[0,3],"data_offsets":[2,2]},)"
                      R"("__metadata__":{"k":"v\n"}}   )",
                      2);
  auto read = mdlab::read_safetensors(file);
  CHECK(read.contains("\u00e9\U0001F600/"));
  CHECK(read.at("e").sizes() == torch::IntArrayRef({0, 3}));
  CHECK(read.metadata.at("k") == "v\n");
  // An F64 that does not start on an 8-byte boundary is still read (copied, not mapped).
  auto file2 = crafted(dir,
                       R"({"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                       R"("d":{"dtype":"F64","shape":[1],"data_offsets":[1,9]}})",
                       9);
  CHECK(mdlab::read_safetensors(file2).at("d").item<double>() == 0.0);
}

TEST_CASE("BOOL bytes other than 0 and 1 are refused") {
  auto dir = mdlab::test::temp_dir("safetensors");
  std::string header = R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})";
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += header;
  bytes += std::string("\x01\x02", 2);
  auto file = dir / "bool.safetensors";
  write_bytes(file, bytes);
  CHECK_THAT(read_error(file), Catch::Contains("tensor 'm': BOOL byte 1 has value 2"));
}

TEST_CASE("the reference ResNet-18 weights are read") {
  auto dir = mdlab::test::fixture_dir("resnet");
  if (!dir) return;
  auto read = mdlab::read_safetensors(*dir / "weights.safetensors");
  CHECK(read.tensors.size() == 122);
  CHECK(read.metadata.at("arch") == "resnet18");
  CHECK(read.at("conv1.weight").sizes() == torch::IntArrayRef({64, 3, 7, 7}));
  CHECK(read.at("conv1.weight").scalar_type() == torch::kFloat32);
  CHECK(read.at("bn1.num_batches_tracked").dim() == 0);
  CHECK(read.at("bn1.num_batches_tracked").scalar_type() == torch::kInt64);
  CHECK(read.at("fc.weight").sizes() == torch::IntArrayRef({1000, 512}));
  CHECK(read.names.front() == "bn1.num_batches_tracked");  // I64 first, as written by Python
  // A fresh torchvision init: BN running stats are 0 / 1.
  CHECK(torch::equal(read.at("bn1.running_var"), torch::ones({64})));
  CHECK(std::isfinite(read.at("conv1.weight").abs().sum().item<double>()));
}

TEST_CASE("rewriting the Python library's files reproduces them byte for byte") {
  auto dir = mdlab::test::fixture_dir("resnet");
  if (!dir) return;
  auto out = mdlab::test::temp_dir("safetensors");
  // Files without metadata: the Python library orders metadata keys by hash, so files with
  // several metadata keys agree in content but not in bytes.
  for (const char* name : {"io.safetensors", "bn_override.safetensors"}) {
    INFO(name);
    auto read = mdlab::read_safetensors(*dir / name);
    REQUIRE(read.metadata.empty());
    std::vector<std::pair<std::string, torch::Tensor>> tensors(read.tensors.begin(),
                                                               read.tensors.end());
    mdlab::write_safetensors(out / name, tensors);
    CHECK(read_bytes(out / name) == read_bytes(*dir / name));
  }
}

// ---------------------------------------------------------------------------------------
// State dicts
// ---------------------------------------------------------------------------------------

namespace {

struct Net : torch::nn::Module {
  Net() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    bn = register_module("bn", torch::nn::BatchNorm2d(4));
    fc = register_module("fc", torch::nn::Linear(4, 2));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};

std::map<std::string, torch::Tensor> snapshot(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, t] : mdlab::state_dict(m)) out.emplace(name, t.clone());
  return out;
}

std::string load_error(torch::nn::Module& m, const std::map<std::string, torch::Tensor>& t,
                       const mdlab::LoadOptions& options = {}) {
  try {
    mdlab::load_state_dict(m, t, options);
  } catch (const mdlab::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("state_dict lists parameters and buffers in PyTorch's order") {
  Net net;
  std::vector<std::string> names;
  for (const auto& [name, t] : mdlab::state_dict(net)) names.push_back(name);
  CHECK(names == std::vector<std::string>{"conv.weight", "conv.bias", "bn.weight", "bn.bias",
                                          "bn.running_mean", "bn.running_var",
                                          "bn.num_batches_tracked", "fc.weight", "fc.bias"});
}

TEST_CASE("a state dict round-trips through a file into another module") {
  torch::manual_seed(1);
  Net a;
  torch::manual_seed(2);
  Net b;
  auto dir = mdlab::test::temp_dir("safetensors");
  mdlab::write_safetensors(dir / "net.safetensors", mdlab::state_dict(a));
  auto report = mdlab::load_state_dict(b, mdlab::read_safetensors(dir / "net.safetensors").tensors);
  CHECK(report.loaded.size() == 9);
  CHECK(report.complete());
  auto expected = snapshot(a);
  for (const auto& [name, t] : mdlab::state_dict(b)) {
    INFO(name);
    CHECK(torch::equal(t, expected.at(name)));
  }
}

TEST_CASE("strict loading names missing, unexpected and mis-shaped keys and changes nothing") {
  Net net;
  auto before = snapshot(net);
  auto tensors = before;
  tensors.erase("bn.running_var");
  tensors.erase("fc.bias");
  tensors["extra.weight"] = torch::ones({1});
  tensors["conv.weight"] = torch::ones({4, 1, 3, 3});
  tensors["bn.num_batches_tracked"] = torch::ones({}, torch::kFloat32);
  auto message = load_error(net, tensors);
  CHECK_THAT(message, Catch::Contains("missing from the file (2): bn.running_var, fc.bias"));
  CHECK_THAT(message, Catch::Contains("not in the module (1): extra.weight"));
  CHECK_THAT(message, Catch::Contains("conv.weight: shape [4, 1, 3, 3] in the file, "
                                      "[4, 3, 3, 3] in the module"));
  CHECK_THAT(message, Catch::Contains("bn.num_batches_tracked: dtype Float in the file, Long in "
                                      "the module"));
  for (const auto& [name, t] : mdlab::state_dict(net)) {
    INFO(name);
    CHECK(torch::equal(t, before.at(name)));
  }

  SECTION("non-strict loading copies what fits and reports the rest") {
    mdlab::LoadOptions options;
    options.strict = false;
    tensors["bn.weight"] = torch::full({4}, 3.0);
    auto report = mdlab::load_state_dict(net, tensors, options);
    CHECK(report.missing == std::vector<std::string>{"bn.running_var", "fc.bias"});
    CHECK(report.unexpected == std::vector<std::string>{"extra.weight"});
    CHECK(report.mismatched.size() == 2);
    CHECK_FALSE(report.complete());
    CHECK(torch::equal(net.bn->weight, torch::full({4}, 3.0)));
  }
  SECTION("ignored prefixes are skipped on both sides") {
    mdlab::LoadOptions options;
    options.ignore_prefixes = {"fc.", "extra."};
    auto t2 = before;
    t2.erase("fc.bias");
    t2["extra.weight"] = torch::ones({1});
    auto report = mdlab::load_state_dict(net, t2, options);
    CHECK(report.loaded.size() == 7);
    CHECK(report.ignored == std::vector<std::string>{"fc.weight", "fc.bias", "extra.weight"});
  }
}

TEST_CASE("half-precision files load into a float32 model") {
  Net net;
  auto tensors = snapshot(net);
  for (auto& [name, t] : tensors) {
    if (!t.is_floating_point()) continue;
    const bool is_bn = name.rfind("bn.", 0) == 0;
    t = torch::full_like(t, 0.5).to(is_bn ? torch::kBFloat16 : torch::kFloat16);
  }
  mdlab::load_state_dict(net, tensors);
  CHECK(net.conv->weight.scalar_type() == torch::kFloat32);
  CHECK(torch::equal(net.conv->weight, torch::full_like(net.conv->weight, 0.5)));
  CHECK(torch::equal(net.bn->running_mean, torch::full({4}, 0.5)));
  CHECK(net.conv->weight.requires_grad());
}
