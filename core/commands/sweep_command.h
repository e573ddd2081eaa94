// `mdlab sweep`: the cells of a sweep file (core/config/sweep.h) run one after another, each in
// its own run directory named after its values below the sweep folder:
//
//   <sweep folder>/sweep.toml        the sweep file resolved ([sweep] table included)
//   <sweep folder>/sweep.h5          the sweep record (core/runlog/sweep_record.h)
//   <sweep folder>/<cell name>/      an ordinary run directory (config.toml, run.h5, ...)
//
// Every cell is validated (and its data paths checked) before any runs. Running the command
// again continues the sweep: completed cells are skipped, interrupted or killed ones resumed
// from their last checkpoint, failed ones reported (and run again with --retry-failed). A
// cell folder that holds a run of another configuration is an error, so results never mix.
// Several processes may share a sweep folder when each runs other cells (`--cell K`, as a
// SLURM job array does). With `--nproc N` each cell trains data-parallel in N local processes,
// which read the cell's resolved config.toml from its folder, as `mdlab run --resume` does.
#pragma once

#include "experiment.h"
#include "plugin_registry.h"
#include "sweep.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mdlab {

/// Arguments of `mdlab sweep`.
struct SweepRequest {
  std::filesystem::path file;                ///< the sweep file
  std::vector<std::string> sets;             ///< --set overrides of the base experiment
  std::optional<std::filesystem::path> out;  ///< --out (default <output_dir>/<name>/sweep)
  int64_t seeds = 1;                         ///< --seeds: repeat every cell over seeds
  std::string cell;           ///< --cell: one cell by index (from 0) or name; "" for all
  bool dry_run = false;       ///< --dry-run: list the cells and their state, run nothing
  bool retry_failed = false;  ///< --retry-failed: run failed cells again (resuming)
  int64_t nproc = 1;          ///< --nproc: train each cell in that many local processes
  std::vector<std::string> plugin_paths;  ///< --plugin-path, given on to those processes
};

/// A sweep file expanded and every cell checked.
struct CheckedSweep {
  std::string text;               ///< the file resolved, [sweep] included (for the record)
  Sweep sweep;                    ///< the cells' names, overrides and values
  std::vector<Experiment> cells;  ///< one validated experiment per cell
  std::filesystem::path out;      ///< default sweep folder: <output_dir>/<name>/sweep
};

/// Whether `file` (with its `extends`) has a [sweep] table; false when it cannot be loaded
/// (the loader then reports why).
bool is_sweep_file(const std::filesystem::path& file);

/// Loads `file` with `sets`, expands its [sweep] over `seeds` and validates every cell (with
/// `check_data`, also that its data paths exist). Throws ConfigError with every problem of
/// every cell, each once: a problem of a swept value points at that value in the sweep file,
/// and one that only some cells have names them.
CheckedSweep load_sweep_checked(const std::filesystem::path& file,
                                const std::vector<std::string>& sets, int64_t seeds,
                                const PluginRegistry& registry, bool check_data);

/// Runs the sweep; returns the exit status: 0 when every cell it ran or skipped completed,
/// 1 when any failed, 130 when interrupted (the command continues the sweep), 2 for config
/// errors (thrown as ConfigError before anything runs).
int run_sweep(const SweepRequest& request, const PluginRegistry& registry);

}  // namespace mdlab
