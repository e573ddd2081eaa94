// `mdlab run`: an experiment from file to finished run directory.
#pragma once

#include "experiment.h"
#include "plugin_registry.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mdlab {

/// Arguments of `mdlab run`.
struct RunRequest {
  std::filesystem::path experiment;          ///< experiment file, or a run directory to resume
  std::vector<std::string> sets;             ///< --set overrides
  std::optional<std::filesystem::path> out;  ///< --out: the run directory itself
  bool resume = false;                       ///< --resume
  int64_t nproc = 1;                         ///< --nproc: local processes (data parallel)
  std::vector<std::string> plugin_paths;     ///< --plugin-path, given on to those processes
};

/// `--plugin-path P` for each of `plugin_paths`: what a launched process needs to find the
/// plugins its launcher found.
std::vector<std::string> plugin_path_args(const std::vector<std::string>& plugin_paths);

/// The local time now, formatted with fmt's chrono `format` ("{:%Y%m%d-%H%M%S}").
std::string now_text(const char* format);

/// Runs an experiment; returns the process exit status (0, 1, 2 or 130). Config errors are
/// thrown as ConfigError before the run directory is created.
int run_experiment(const RunRequest& request, const PluginRegistry& registry);

/// Runs `experiment`, already loaded and checked (data paths included), in `run_dir`: a new
/// run, or with `resume` the continuation of the run the directory holds. Exit status as
/// run_experiment.
int run_checked_experiment(const Experiment& experiment, const std::filesystem::path& run_dir,
                           bool resume, const PluginRegistry& registry);

}  // namespace mdlab
