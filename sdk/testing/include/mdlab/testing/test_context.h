// A Context for unit tests of plugins: CPU, a fixed seed, no run directory of its own, logs
// and progress dropped, metrics kept in memory, and, when given, a factory serving
// create_backbone() (methods with a teacher or target network) and collectives (checking a
// loss across ranks).
#pragma once

#include <mdlab/backbone.h>
#include <mdlab/collectives.h>
#include <mdlab/context.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mdlab::testing {

/// The context of a plugin under test.
class TestContext : public Context {
 public:
  /// Random streams derive from `seed` as in a run; `make_backbone` serves create_backbone()
  /// (none: it throws, as a context without an experiment does).
  explicit TestContext(uint64_t seed = 5,
                       std::function<std::shared_ptr<Backbone>()> make_backbone = {});
  ~TestContext() override;

  c10::Device device() const override;
  uint64_t seed() const override;
  at::Generator generator(std::string_view stream) const override;
  void log(LogLevel level, std::string_view message) override;
  ProgressReporter& progress() override;
  const std::filesystem::path& run_dir() const override;
  void metric(std::string_view name, int64_t step, double value) override;
  Collectives& collectives() override;
  std::shared_ptr<Backbone> create_backbone() override;

  /// Uses `collectives` (borrowed; must outlive the context) instead of one process's.
  void set_collectives(Collectives* collectives) { collectives_ = collectives; }
  /// The metrics recorded so far, by name: (step, value) in call order.
  const std::map<std::string, std::vector<std::pair<int64_t, double>>, std::less<>>& metrics()
      const {
    return metrics_;
  }
  /// The messages logged at LogLevel::Warning or above.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  uint64_t seed_;
  std::function<std::shared_ptr<Backbone>()> make_backbone_;
  Collectives* collectives_ = nullptr;
  std::map<std::string, std::vector<std::pair<int64_t, double>>, std::less<>> metrics_;
  std::vector<std::string> warnings_;
  std::unique_ptr<ProgressReporter> progress_;
  std::filesystem::path dir_;
};

}  // namespace mdlab::testing
