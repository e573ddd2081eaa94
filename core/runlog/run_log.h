// The run log: one HDF5 file per run (`run.h5`), readable by h5py and h5dump while the run is
// live and after it was killed.
//
// File layout (format version 1, root attribute `mdlab_run_log_version`):
//   /config                 scalar variable-length UTF-8 string: the resolved TOML
//   /meta                   group; each attribute a fixed-length UTF-8 string (versions, git
//                           commit, host, device, seed, start/end time, ...), among them
//                           `status` (running|completed|failed|interrupted) and
//                           `status_reason`; root attribute `start_time_unix` (float64)
//   /metrics/<name>         1-D chunked extendible dataset of compound
//                           {step: int64, value: float64, time: float64}; `time` is seconds
//                           since the run started. A '/' in <name> ("train/loss") is a subgroup.
//   /eval/<evaluator>/<table>  2-D float64 [rows, columns] with string-array attributes
//                           `rows` and `columns`
//   /artifacts/<name>       N-D float32 or uint8 array
//
// Durability: metrics are buffered in memory and reach the file only in flush() (and
// maybe_flush() once the flush interval has passed); every other write (meta, status,
// tables, artifacts) is flushed at once. HDF5's metadata cache is configured never to evict,
// so the bytes on disk change only inside those calls: a process killed with SIGKILL between
// them leaves a file holding everything up to its last completed flush. A kill *during* a
// flush (about a millisecond each) can leave the objects that flush was changing unreadable:
// HDF5 1.10 without SWMR does not order its metadata writes. Appending to existing metrics
// is the least exposed case; the reader lists damaged objects and reads the rest. There is
// no fsync, so this protects against a killed process, not against a lost machine. SWMR is
// not used (its flags block readers after a crash); the writer opens the file without
// HDF5's file locks so readers can open it while the run is live (a read that overlaps a
// flush may fail and can be retried).
//
// Not thread-safe: one thread owns a RunLog (the trainer's); a signal handler should only
// set a flag that this thread turns into set_status(Interrupted). One writer per file: with
// HDF5's file locks off, nothing stops a second process from opening the same log to append.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

namespace mdlab {

struct Table;

/// The lifecycle state stored in /meta/status.
enum class RunStatus { Running, Completed, Failed, Interrupted };

/// "running", "completed", "failed" or "interrupted".
const char* run_status_name(RunStatus status);

/// One point of a metric series as stored in /metrics/<name>.
struct MetricPoint {
  int64_t step = 0;  ///< training step (or epoch) the value belongs to
  double value = 0;  ///< the measurement
  double time = 0;   ///< seconds since the run started (wall clock, across resumes)
};

/// Writer of one run's HDF5 log. Movable, not copyable; the destructor flushes and closes
/// without throwing (a failure there is reported on stderr). Not thread-safe.
class RunLog {
 public:
  /// Creates `file` (which must not exist; its folder must) holding `config_toml`, with
  /// status running.
  static RunLog create(const std::filesystem::path& file, std::string_view config_toml);
  /// Opens an existing run log to append (resume): metrics continue after their stored points.
  static RunLog open(const std::filesystem::path& file);

  RunLog(RunLog&& other) noexcept;
  RunLog& operator=(RunLog&& other) noexcept;
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  /// Flushes and closes; never throws.
  ~RunLog();

  /// Sets the string attribute /meta/<key> (any key but status and status_reason); flushes.
  void set_meta(std::string_view key, std::string_view value);
  /// Buffers one point of metric `name` (memory only until the next flush).
  void add_metric(std::string_view name, int64_t step, double value);
  /// Records the run's status and why (empty reason for none); flushes at once.
  void set_status(RunStatus status, std::string_view reason = "");
  /// Writes `table` to /eval/<evaluator>/<table.name>, replacing an earlier one; flushes.
  void write_table(std::string_view evaluator, const Table& table);
  /// Writes a float32 array of `shape` (row-major) to /artifacts/<name>, replacing; flushes.
  void write_artifact(std::string_view name, const std::vector<int64_t>& shape, const float* data);
  /// Writes a uint8 array of `shape` (row-major) to /artifacts/<name>, replacing; flushes.
  void write_artifact(std::string_view name, const std::vector<int64_t>& shape,
                      const uint8_t* data);
  /// Drops every metric point with a step greater than `step`, stored or buffered (a run
  /// resumed from a checkpoint at `step` then logs exactly what an uninterrupted run would).
  void truncate_metrics_after(int64_t step);
  /// Writes the buffered metric points and makes the file on disk complete and consistent.
  void flush();
  /// flush() when the flush interval has passed since the last flush; cheap otherwise.
  void maybe_flush();
  /// How often maybe_flush() flushes (default 5 s; zero flushes on every call).
  void set_flush_interval(std::chrono::milliseconds interval);
  /// Flushes and closes now, throwing on failure (the destructor cannot); the RunLog is
  /// unusable afterwards.
  void close();
  /// The file.
  const std::filesystem::path& path() const;

 private:
  struct Impl;
  explicit RunLog(std::unique_ptr<Impl> impl);
  Impl& impl() const;

  std::unique_ptr<Impl> impl_;
};

}  // namespace mdlab
