// Reading a run log (layout in run_log.h) back, and rendering it for people (`mdlab show`).
//
// The reader opens the file read-only without HDF5 file locks, so it works while the run is
// live; a read that overlaps the writer's flush may fail and can simply be retried.
#pragma once

#include "run_log.h"

#include <mdlab/evaluator.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// Element type of an artifact array.
enum class ArtifactType { Float32, UInt8, Other };

/// An artifact's name and shape (its data stays in the file: see read_artifact_*).
struct ArtifactInfo {
  std::string name;                         ///< path below /artifacts
  ArtifactType type = ArtifactType::Other;  ///< element type
  std::vector<int64_t> shape;               ///< dimensions, row-major (empty for a scalar)
};

/// Everything a run log holds except artifact data.
struct RunLogContents {
  std::filesystem::path file;                               ///< the file that was read
  std::string config_toml;                                  ///< /config
  std::map<std::string, std::string> meta;                  ///< /meta attributes except status*
  RunStatus status = RunStatus::Running;                    ///< /meta/status
  std::string status_reason;                                ///< /meta/status_reason
  std::map<std::string, std::vector<MetricPoint>> metrics;  ///< metric name -> points
  std::map<std::string, std::vector<Table>> tables;         ///< evaluator -> tables (by name)
  std::vector<ArtifactInfo> artifacts;                      ///< by name
  /// Objects that could not be read, one line each (empty for an intact file). A writer
  /// killed in the middle of a flush can leave the objects that flush changed unreadable; the
  /// rest of the file still reads.
  std::vector<std::string> problems;
};

/// The status named `name` ("running", ...), or false when it is none of them.
bool parse_run_status(std::string_view name, RunStatus& status);

/// "float32", "uint8" or "other".
const char* artifact_type_name(ArtifactType type);

/// Reads a whole run log; mdlab::Error naming the file when it is missing, not HDF5, not a
/// run log, or its /config or /meta is unreadable. Unreadable metrics, tables or artifacts
/// are listed in `problems` instead.
RunLogContents read_run_log(const std::filesystem::path& file);

/// The data of float32 artifact `name` (row-major); mdlab::Error for another type.
std::vector<float> read_artifact_float32(const std::filesystem::path& file, std::string_view name);

/// The data of uint8 artifact `name` (row-major); mdlab::Error for another type.
std::vector<uint8_t> read_artifact_uint8(const std::filesystem::path& file, std::string_view name);

/// A value as the summary prints it: 4 decimals, scientific notation for magnitudes below
/// 1e-3 or from 1e6 on, "nan"/"inf" for non-finite values.
std::string format_value(double value);

/// One evaluation table aligned, each line prefixed with `indent`: a column of row labels,
/// one per metric ("-" for NaN: no value), and a "note" column when any row has a note.
std::string render_table(const Table& table, std::string_view indent = "");

/// Text for `mdlab show`: sections Run (status, reason, meta), Config (experiment, seed,
/// device and one line per plugin section), Metrics (name, count, last step, last value, min,
/// max), Evaluation (each table aligned), then Artifacts and Damaged when there are any.
std::string render_run_summary(const RunLogContents& contents);

}  // namespace mdlab
