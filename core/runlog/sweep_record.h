// The sweep record (`sweep.h5` in a sweep folder): every cell of a sweep with its values,
// status and final results in one HDF5 file, so a sweep is read (`mdlab show`, reports, h5py)
// without opening each run. The run logs of the cells stay the source of truth; the record is
// rebuilt from them (collect_sweep_results) and rewritten whole after every cell.
//
// File layout (format version 1, root attribute `mdlab_sweep_record_version`):
//   /config            scalar variable-length UTF-8 string: the sweep file resolved, [sweep]
//                      table included
//   /axes              1-D string [A]: each axis's key ("k1+k2" for a [[sweep.zip]] axis,
//                      "experiment.seed" for --seeds)
//   /cells/name        1-D string [N]: each cell's run directory, below the sweep folder
//   /cells/values      2-D string [N, A]: each cell's value on each axis, as inline TOML
//   /cells/status      1-D string [N]: pending, running, completed, failed or interrupted
//   /cells/reason      1-D string [N]: why a cell failed or stopped ("" for none)
//   /final             2-D float64 [N, M], string-array attribute `columns`: the last value of
//                      every metric series of each cell's run log (NaN where a cell has none)
//   /eval/<evaluator>/<table>  2-D float64 [R, C] as in a run log (attributes `rows`,
//                      `columns`, maybe `notes`), the rows of every cell stacked, and the
//                      string-array attribute `cells`: the cell of each row
// All strings are variable-length UTF-8.
#pragma once

#include "run_comparison.h"
#include "run_log_reader.h"

#include <mdlab/evaluator.h>

#include <filesystem>
#include <string>
#include <vector>

namespace mdlab {

/// File name of the record inside a sweep folder.
inline constexpr const char* kSweepRecordFile = "sweep.h5";

/// One cell as the record keeps it.
struct SweepRecordCell {
  std::string name;                 ///< run directory below the sweep folder
  std::vector<std::string> values;  ///< one per axis, inline TOML
  std::string status = "pending";   ///< pending, running, completed, failed or interrupted
  std::string reason;               ///< why it failed or stopped ("" for none)
};

/// Everything a sweep record holds.
struct SweepRecord {
  std::string config_toml;                 ///< the sweep file resolved
  std::vector<std::string> axes;           ///< axis keys
  std::vector<SweepRecordCell> cells;      ///< in grid order
  std::vector<std::string> final_columns;  ///< metric names, sorted
  std::vector<std::vector<double>> final;  ///< [cell][metric]: last values, NaN when absent
  /// Evaluation tables of all cells stacked; rows are labelled "<cell>" (the run's own row)
  /// or "<cell>: <row>", and StackedTable::run_of_row indexes `cells`.
  std::vector<StackedTable> tables;
};

/// Writes `record` to `file` atomically (a temporary file in the same folder, then rename),
/// so a reader sees the old record or the new one, never a partial file.
void write_sweep_record(const std::filesystem::path& file, const SweepRecord& record);

/// Reads a record; mdlab::Error naming the file when it is missing, not HDF5, not a sweep
/// record, of a newer format, or inconsistent (sizes that disagree).
SweepRecord read_sweep_record(const std::filesystem::path& file);

/// Refreshes the status, final metrics and evaluation tables of every cell of `record` from
/// the run logs `<dir>/<cell>/run.h5`: a cell without one is pending, one whose log cannot be
/// read is reported as failed with the reader's message.
/// With `logs`, the run logs read are handed over (one per cell, empty for a pending one), so
/// a caller that needs them too does not read them again.
void collect_sweep_results(const std::filesystem::path& dir, SweepRecord& record,
                           std::vector<RunLogContents>* logs = nullptr);

/// Cells that differ only in `experiment.seed`: the unit a sweep's results are averaged over.
struct SweepGroup {
  std::string label;                ///< the cells' name without its seed part ("base" if empty)
  std::vector<std::string> values;  ///< one per axis but experiment.seed, inline TOML
  std::vector<size_t> cells;        ///< indices into SweepRecord::cells
  std::vector<size_t> completed;    ///< those completed: the ones averaged
};

/// The groups of `record`'s cells, in the order of their first cell.
std::vector<SweepGroup> group_sweep_cells(const SweepRecord& record);

/// A table of a sweep's results averaged over seeds.
struct SweepSummaryTable {
  std::string title;                 ///< "Final metrics", or "<evaluator> / <table>"
  std::string evaluator, table;      ///< empty for the final metrics
  std::vector<std::string> columns;  ///< metric or table columns
  struct Row {
    std::string label;           ///< group label, then ": <row>" for a table's other rows
    size_t group = 0;            ///< index into group_sweep_cells()
    std::string sub_row;         ///< the table's row after the cell name ("" for its own)
    size_t n = 0;                ///< most completed cells averaged in any column
    std::vector<double> mean;    ///< per column; NaN without values
    std::vector<double> std;     ///< per column: sample standard deviation; NaN below 2
    std::vector<size_t> counts;  ///< per column: finite values averaged
  };
  std::vector<Row> rows;  ///< groups in order; a group without completed cells has n = 0
};

/// The final metrics that `metrics` selects (names, or prefixes ending in '*') and every
/// evaluation table but "validation" (whose values are the val/ metrics), averaged over the
/// completed cells of each group.
std::vector<SweepSummaryTable> summarise_sweep(const SweepRecord& record,
                                               const std::vector<std::string>& metrics);

/// The final metrics `mdlab show` prints for a sweep unless asked for others.
inline const std::vector<std::string> kDefaultSweepMetrics{"train/loss", "val/*"};

/// collect_sweep_results when the cells' run directories are there (every cell the record does
/// not call pending has its run log), so results of cells that finished in other processes
/// since the record was written are seen; a record copied without its cells stays as it is.
/// Returns whether it refreshed.
bool refresh_sweep_results(const std::filesystem::path& dir, SweepRecord& record,
                           std::vector<RunLogContents>* logs = nullptr);

/// Text for `mdlab show SWEEP_DIR`: the axes and cell statuses, then summarise_sweep()'s
/// tables as mean ± std (n counts the completed seeds averaged). Pending and failed cells are
/// listed but not averaged. Markdown and TSV print the tables only (TSV with separate mean
/// and std columns, full precision).
std::string render_sweep_summary(const SweepRecord& record, const std::filesystem::path& file,
                                 TableFormat format,
                                 const std::vector<std::string>& metrics = kDefaultSweepMetrics);

}  // namespace mdlab
