// A Context for unit tests: CPU, a fixed seed, no run directory, logs, progress and metrics
// dropped, and, when given, a factory for create_backbone() (methods with a teacher network).
#pragma once

#include <mdlab/backbone.h>
#include <mdlab/context.h>
#include <mdlab/error.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

namespace mdlab::test {

/// The context of a plugin under test.
class TestContext : public Context {
 public:
  /// Streams derive from `seed`; `make_backbone` serves create_backbone() (none: it throws).
  explicit TestContext(uint64_t seed = 5,
                       std::function<std::shared_ptr<Backbone>()> make_backbone = {})
      : seed_(seed), make_backbone_(std::move(make_backbone)) {}
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  uint64_t seed() const override { return seed_; }
  at::Generator generator(std::string_view stream) const override {
    return make_cpu_generator(derive_seed(seed_, stream));
  }
  void log(LogLevel, std::string_view) override {}
  ProgressReporter& progress() override { return progress_; }
  const std::filesystem::path& run_dir() const override { return dir_; }
  void metric(std::string_view, int64_t, double) override {}
  std::shared_ptr<Backbone> create_backbone() override {
    return make_backbone_ ? make_backbone_() : Context::create_backbone();
  }

 private:
  uint64_t seed_;
  std::function<std::shared_ptr<Backbone>()> make_backbone_;
  // Progress is dropped, as logs and metrics are.
  struct SilentProgress final : ProgressReporter {
    void begin(std::string_view, int64_t) override {}
    void update(int64_t, std::string_view) override {}
    void end() override {}
  } progress_;
  std::filesystem::path dir_ = std::filesystem::temp_directory_path();
};

}  // namespace mdlab::test
