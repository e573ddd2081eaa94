// The context a plugin runs in: device, seeded random streams, logging, progress, run
// directory and metrics. The host implements it; plugins only call it.
//
// Random streams: every random decision of a plugin draws from a generator derived from
// (run seed, stream name), so results do not depend on the order plugins are created in.
#pragma once

#include <mdlab/export.h>

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

namespace mdlab {

class Backbone;
class Collectives;
class Options;

/// Severity of a log message.
enum class LogLevel : uint32_t { Debug = 0, Info = 1, Warning = 2, Error = 3 };

/// Reports progress of long work: a TTY gets a live line, a log gets periodic lines.
class MDLAB_SDK_API ProgressReporter {
 public:
  virtual ~ProgressReporter();
  /// Starts a task of `total` units (0 when unknown).
  virtual void begin(std::string_view task, int64_t total) = 0;
  /// Marks `done` units as finished since begin(); `status` is a short suffix ("loss 0.3").
  virtual void update(int64_t done, std::string_view status) = 0;
  /// Ends the current task.
  virtual void end() = 0;
};

/// The host services a plugin may use.
class MDLAB_SDK_API Context {
 public:
  virtual ~Context();
  /// Device tensors should live on ("cpu", "cuda:0").
  virtual c10::Device device() const = 0;
  /// Seed of the run (the experiment's `seed`).
  virtual uint64_t seed() const = 0;
  /// A CPU generator seeded from (seed(), stream): same stream name, same numbers.
  virtual at::Generator generator(std::string_view stream) const = 0;
  /// Writes a message to the run's log (stderr and the run directory).
  virtual void log(LogLevel level, std::string_view message) = 0;
  /// The progress reporter of the run.
  virtual ProgressReporter& progress() = 0;
  /// Directory of the run (config, run log, checkpoints, artifacts).
  virtual const std::filesystem::path& run_dir() const = 0;
  /// Records a scalar metric `name` at `step` in the run log.
  virtual void metric(std::string_view name, int64_t step, double value) = 0;
  /// Cross-process collectives of the run (collectives.h); local_collectives() by default.
  virtual Collectives& collectives();
  /// A new backbone built from the experiment's [backbone] table, on device(), with its own
  /// initial weights (DINO's teacher, BYOL's target network). The default throws
  /// mdlab::Error: contexts without an experiment cannot build one.
  virtual std::shared_ptr<Backbone> create_backbone();
  /// A new backbone of plugin `plugin` on device() with its own initial weights, configured
  /// by `options` as its experiment table would be: the host checks each value against the
  /// plugin's schema (unknown keys, types, ranges) and fills in the defaults. For plugins that
  /// rebuild a saved encoder (a generator's semantic encoder). The default throws
  /// mdlab::Error: contexts without a plugin registry cannot build one.
  virtual std::shared_ptr<Backbone> create_plugin_backbone(std::string_view plugin,
                                                           const Options& options);
};

/// 64-bit seed derived from a parent seed and a stream name (SplitMix64 over FNV-1a);
/// stable across platforms and releases.
MDLAB_SDK_API uint64_t derive_seed(uint64_t seed, std::string_view stream);

/// A CPU generator seeded with `seed`.
MDLAB_SDK_API at::Generator make_cpu_generator(uint64_t seed);

}  // namespace mdlab
