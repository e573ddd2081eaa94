// The Context the host hands to plugins during a run: device, seed streams, the run's log
// file, progress, run directory and the run log's metrics.
#pragma once

#include <mdlab/context.h>

#include <cstdio>
#include <filesystem>
#include <mutex>

namespace mdlab {

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

 private:
  c10::Device device_;
  uint64_t seed_;
  std::filesystem::path run_dir_;
  RunLog* run_log_;
  ProgressReporter& progress_;
  LogLevel min_level_;
  std::FILE* log_file_ = nullptr;
  std::mutex mutex_;
};

}  // namespace mdlab
