// The loader refuses each deliberately broken plugin with its own message while the good
// plugins beside them load and work.
#include "plugin_registry.h"

#include <mdlab/version.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <algorithm>

namespace fs = std::filesystem;

namespace {

std::string problem_for(const mdlab::PluginRegistry& registry, std::string_view file_name) {
  for (const auto& p : registry.problems())
    if (p.file.filename() == file_name) return p.message;
  return "";
}

mdlab::PluginRegistry load_broken() {
  mdlab::PluginRegistry registry;
  registry.load_directories({MDLAB_BROKEN_TEST_PLUGIN_DIR});
  return registry;
}

}  // namespace

TEST_CASE("good plugins in a directory of broken ones still load") {
  auto registry = load_broken();
  const auto* good = registry.find(MDLAB_PLUGIN_EVALUATOR, "test-good-too");
  REQUIRE(good != nullptr);
  CHECK(good->version == "1.0.0");
  CHECK(good->abi_major == MDLAB_SDK_ABI_MAJOR);
  CHECK(good->factory->options_schema().find("max_batches") != nullptr);
  // The duplicate's first copy stays registered.
  const auto* dup = registry.find(MDLAB_PLUGIN_EVALUATOR, "test-duplicate");
  REQUIRE(dup != nullptr);
  CHECK(dup->file.filename() == "mdlab_plugin_dup_a.so");
  CHECK(registry.all().size() == 2);
}

TEST_CASE("wrong SDK ABI major is refused naming both versions") {
  auto msg = problem_for(load_broken(), "mdlab_plugin_bad_abi.so");
  CHECK_THAT(msg, Catch::Contains("SDK ABI mismatch") &&
                      Catch::Contains("plugin built for mdlab SDK ABI 99") &&
                      Catch::Contains("provides ABI " + std::to_string(MDLAB_SDK_ABI_MAJOR)));
}

TEST_CASE("newer SDK API minor is refused") {
  auto msg = problem_for(load_broken(), "mdlab_plugin_newer_api.so");
  const std::string abi = std::to_string(MDLAB_SDK_ABI_MAJOR);
  CHECK_THAT(msg,
             Catch::Contains("needs SDK API " + abi + ".77") &&
                 Catch::Contains("provides " + abi + "." + std::to_string(MDLAB_SDK_API_MINOR)));
}

TEST_CASE("LibTorch version mismatch is refused naming both versions") {
  auto msg = problem_for(load_broken(), "mdlab_plugin_bad_torch.so");
  CHECK_THAT(msg, Catch::Contains("LibTorch mismatch") && Catch::Contains("LibTorch 0.4.1") &&
                      Catch::Contains(std::string("uses LibTorch ") + mdlab::sdk_torch_version()));
}

TEST_CASE("libstdc++ ABI mismatch is refused") {
  auto msg = problem_for(load_broken(), "mdlab_plugin_bad_cxxabi.so");
  CHECK_THAT(
      msg, Catch::Contains("_GLIBCXX_USE_CXX11_ABI=7") &&
               Catch::Contains("_GLIBCXX_USE_CXX11_ABI=" + std::to_string(mdlab::sdk_cxx11_abi())));
}

TEST_CASE("unknown plugin kind is refused") {
  auto msg = problem_for(load_broken(), "mdlab_plugin_bad_kind.so");
  CHECK_THAT(msg, Catch::Contains("unknown plugin kind 42"));
}

TEST_CASE("missing handshake symbol is refused") {
  auto msg = problem_for(load_broken(), "mdlab_plugin_no_handshake.so");
  CHECK_THAT(msg,
             Catch::Contains("not an mdlab plugin") && Catch::Contains("mdlab_plugin_get_info"));
}

TEST_CASE("a handshake without factory alias is refused") {
  auto msg = problem_for(load_broken(), "mdlab_plugin_no_factory.so");
  CHECK_THAT(msg, Catch::Contains("lacks the factory alias"));
}

TEST_CASE("a file that is not a shared object is refused") {
  auto msg = problem_for(load_broken(), "mdlab_plugin_not_elf.so");
  CHECK_THAT(msg, Catch::Contains("cannot load") && Catch::Contains("not an ELF shared object"));
}

TEST_CASE("a truncated plugin is refused before it is mapped") {
  // dlopen of a file cut short maps segments past its end; the first touch was a SIGBUS.
  auto msg = problem_for(load_broken(), "mdlab_plugin_truncated.so");
  CHECK_THAT(msg, Catch::Contains("cannot load") && Catch::Contains("truncated ELF file"));
}

TEST_CASE("a duplicate name is refused naming both files") {
  auto msg = problem_for(load_broken(), "mdlab_plugin_dup_b.so");
  CHECK_THAT(msg, Catch::Contains("duplicate plugin name 'test-duplicate'") &&
                      Catch::Contains("mdlab_plugin_dup_a.so") &&
                      Catch::Contains("mdlab_plugin_dup_b.so"));
}

TEST_CASE("every broken plugin gets its own refusal") {
  auto registry = load_broken();
  CHECK(registry.problems().size() == 10);
}

TEST_CASE("a plugin directory given twice loads each file once") {
  mdlab::PluginRegistry registry;
  registry.load_directories({MDLAB_GOOD_TEST_PLUGIN_DIR, MDLAB_GOOD_TEST_PLUGIN_DIR});
  CHECK(registry.problems().empty());
  CHECK(registry.all().size() == 2);
}

namespace {

class OneSplit final : public mdlab::EvalData {
 public:
  std::vector<std::string> splits() const override { return {"test"}; }
  std::unique_ptr<mdlab::BatchStream> open(const std::string&) override {
    struct Stream final : mdlab::BatchStream {
      bool done = false;
      bool next(torch::Tensor& images, torch::Tensor& labels) override {
        if (done) return false;
        done = true;
        images = torch::ones({4, 3});
        labels = torch::zeros({4}, torch::kLong);
        return true;
      }
      int64_t size() const override { return 4; }
      int64_t num_classes() const override { return 1; }
    };
    return std::make_unique<Stream>();
  }
  std::vector<std::string> class_names(const std::string&) override { return {"0"}; }
  mdlab::Normalization normalization(const std::string&) override { return {{0.5}, {0.5}}; }
  mdlab::FeatureSet features(const std::string&) override {
    return {torch::ones({4, 3}), torch::zeros({4}, torch::kLong), 1};
  }
};

class Identity final : public mdlab::Backbone {
 public:
  torch::Tensor forward(const torch::Tensor& x) override { return x; }
  int64_t feature_dim() const override { return 3; }
};

class NullContext final : public mdlab::Context {
 public:
  c10::Device device() const override { return c10::Device("cpu"); }
  uint64_t seed() const override { return 0; }
  at::Generator generator(std::string_view s) const override {
    return mdlab::make_cpu_generator(mdlab::derive_seed(0, s));
  }
  void log(mdlab::LogLevel, std::string_view) override {}
  mdlab::ProgressReporter& progress() override { throw std::logic_error("unused"); }
  const fs::path& run_dir() const override { return dir_; }
  void metric(std::string_view, int64_t, double) override {}

 private:
  fs::path dir_;
};

}  // namespace

TEST_CASE("objects created by a plugin work through the SDK interface") {
  mdlab::PluginRegistry registry;
  registry.load_directories({MDLAB_GOOD_TEST_PLUGIN_DIR});
  NullContext context;
  auto options = mdlab::default_options(
      registry.find(MDLAB_PLUGIN_EVALUATOR, "test-good")->factory->options_schema());
  auto evaluator = registry.create_evaluator("test-good", options, context);
  Identity encoder;
  OneSplit data;
  auto result = evaluator->evaluate(encoder, data, context);
  REQUIRE(result.tables.size() == 1);
  CHECK(result.tables[0].values[0][0] == Approx(std::sqrt(3.0)));
  CHECK(result.tables[0].values[0][1] == 4.0);
}

TEST_CASE("creating from an unknown plugin lists those available") {
  mdlab::PluginRegistry registry;
  registry.load_directories({MDLAB_GOOD_TEST_PLUGIN_DIR});
  NullContext context;
  CHECK_THROWS_WITH(registry.create_evaluator("nope", {}, context),
                    Catch::Contains("no evaluator plugin named 'nope'") &&
                        Catch::Contains("available: test-good"));
}

TEST_CASE("options from outside an experiment file are checked and completed") {
  mdlab::PluginRegistry registry;
  registry.load_directories({MDLAB_GOOD_TEST_PLUGIN_DIR});
  const auto schema = registry.find(MDLAB_PLUGIN_EVALUATOR, "test-good")->factory->options_schema();
  REQUIRE_FALSE(schema.specs().empty());
  // Nothing given: the defaults.
  const auto defaults = registry.complete_options(MDLAB_PLUGIN_EVALUATOR, "test-good", {});
  const bool same_as_defaults = defaults.values() == mdlab::default_options(schema).values();
  CHECK(same_as_defaults);
  // An unknown key is named with the known ones.
  mdlab::Options unknown;
  unknown.set("no_such_option", int64_t{1});
  CHECK_THROWS_WITH(registry.complete_options(MDLAB_PLUGIN_EVALUATOR, "test-good", unknown),
                    Catch::Contains("has no option 'no_such_option'") &&
                        Catch::Contains(schema.specs().front().name));
  // A value of the wrong type is refused naming the key.
  const auto& first = schema.specs().front();
  mdlab::Options wrong;
  wrong.set(first.name, first.type == mdlab::OptionType::String ? mdlab::OptionValue{true}
                                                                : mdlab::OptionValue{"text"});
  CHECK_THROWS_WITH(registry.complete_options(MDLAB_PLUGIN_EVALUATOR, "test-good", wrong),
                    Catch::Contains("option '" + first.name + "'"));
  CHECK_THROWS_WITH(registry.complete_options(MDLAB_PLUGIN_BACKBONE, "test-good", {}),
                    Catch::Contains("no backbone plugin named 'test-good'"));
}

TEST_CASE("libraries stay loaded after the registry is gone") {
  std::shared_ptr<mdlab::Evaluator> evaluator;
  NullContext context;
  {
    mdlab::PluginRegistry registry;
    registry.load_directories({MDLAB_GOOD_TEST_PLUGIN_DIR});
    evaluator = registry.create_evaluator(
        "test-good",
        mdlab::default_options(
            registry.find(MDLAB_PLUGIN_EVALUATOR, "test-good")->factory->options_schema()),
        context);
  }
  Identity encoder;
  OneSplit data;
  // Calls into the library's code after its registry died: would crash if unloaded.
  CHECK(evaluator->evaluate(encoder, data, context).tables.size() == 1);
}
