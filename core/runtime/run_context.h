// The Context the host hands to plugins during a run: device, seed streams, the run's log
// file, progress, run directory and the run log's metrics.
#pragma once

#include <mdlab/backbone.h>
#include <mdlab/collectives.h>
#include <mdlab/context.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>

namespace mdlab {

class PluginRegistry;
class RunLog;

/// Context of one run (or of a command without a run directory when run_log is null).
class RunContext final : public Context {
 public:
  /// `run_log` may be null (validate, plugins): metrics are then dropped.
  RunContext(c10::Device device, uint64_t seed, std::filesystem::path run_dir, RunLog* run_log,
             ProgressReporter& progress, LogLevel min_level = LogLevel::Info);
  ~RunContext() override;

  c10::Device device() const override { return device_; }
  uint64_t seed() const override { return seed_; }
  at::Generator generator(std::string_view stream) const override;
  void log(LogLevel level, std::string_view message) override;
  ProgressReporter& progress() override { return progress_; }
  const std::filesystem::path& run_dir() const override { return run_dir_; }
  void metric(std::string_view name, int64_t step, double value) override;
  Collectives& collectives() override { return *collectives_; }
  std::shared_ptr<Backbone> create_backbone() override;
  /// How create_backbone() builds one (the experiment's [backbone] through the registry).
  void set_backbone_factory(std::function<std::shared_ptr<Backbone>()> factory) {
    backbone_factory_ = std::move(factory);
  }
  /// Builds backbones by plugin name (create_plugin_backbone(plugin, options)) from `registry`,
  /// which must outlive the context; without one that call throws.
  void set_registry(const PluginRegistry& registry) { registry_ = &registry; }
  std::shared_ptr<Backbone> create_plugin_backbone(std::string_view plugin,
                                                   const Options& options) override;
  /// The collectives of a distributed run (must outlive the context); local by default.
  void set_collectives(Collectives& collectives) { collectives_ = &collectives; }

 private:
  c10::Device device_;
  uint64_t seed_;
  std::filesystem::path run_dir_;
  RunLog* run_log_;
  ProgressReporter& progress_;
  LogLevel min_level_;
  std::FILE* log_file_ = nullptr;
  std::function<std::shared_ptr<Backbone>()> backbone_factory_;
  const PluginRegistry* registry_ = nullptr;
  Collectives* collectives_ = &local_collectives();
  std::mutex mutex_;
};

}  // namespace mdlab
