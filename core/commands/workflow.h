// Workflows: one TOML file that chains whole commands, for jobs that are more than one run,
// such as MixDiff end to end (train a generator, export it, generate the synthetic partners,
// train SSL on real and on mixed data, compare). `mdlab run FILE` runs a file whose top level
// has a [workflow] table as a workflow.
//
//   [workflow]
//   name = "quickstart"              # directory <output_dir>/<name>/<timestamp> (or --out)
//   output_dir = "runs"
//   cache_dir = "runs/cache"         # where stages with cache = true keep their outputs
//
//   [[stage]]                        # in order; exactly one of run / generate / export_model
//   name = "generator"               # [a-z0-9_], unique
//   run = "fmnist/diffae.toml"       # an experiment file (paths relative to this file)
//   set = ["train.epochs = 2"]       # --set overrides; "{stage}" is an earlier stage's output
//   cache = true                     # reuse the output of an identical earlier stage
//
//   [[stage]]
//   name = "model"
//   export_model = "generator"       # `mdlab export-model` of an earlier run stage
//
//   [[stage]]
//   name = "partners"
//   generate = "fmnist/generate_diffae.toml"
//   set = ['generator.model = "{model}"']
//
//   [compare]
//   stages = ["real", "mixdiff"]     # run stages whose evaluation tables are printed stacked
//
// Outputs: a run stage's run directory, an export stage's model folder, a generate stage's
// image tree. Uncached stages write into the workflow directory under their name; cached ones
// into <cache_dir>/<name>-<key>, the key a hash of the stage's resolved configuration (the
// experiment text after extends and overrides, outputs of earlier stages included, and the
// mdlab version), linked from the workflow directory. A cached run that completed is reused,
// one that did not is resumed; a cached export is reused when its folder exists; a generate
// stage always runs and makes only the images missing. Every stage file is validated before
// anything runs. The workflow directory gets workflow.toml (the resolved stages) and
// comparison.txt (the table printed at the end). `mdlab run FILE --nproc N` runs the run and
// generate stages in N local processes each; a run stage's cache key then holds N, since
// batch_size is per process.
#pragma once

#include "plugin_registry.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mdlab {

/// True when the TOML file `file` (with its extends) is a workflow: its top level has a
/// [workflow] table. Throws ConfigError for unreadable or malformed TOML.
bool is_workflow_file(const std::filesystem::path& file);

/// Arguments of a workflow run.
struct WorkflowRequest {
  std::filesystem::path file;                ///< the workflow file
  std::optional<std::filesystem::path> out;  ///< the workflow directory (default: timestamped)
  bool validate_only = false;                ///< check the file and every stage's, run nothing
  int64_t nproc = 1;  ///< --nproc: run and generate stages in that many local processes
  std::vector<std::string> plugin_paths;  ///< --plugin-path, given on to those processes
};

/// Runs (or validates) a workflow; returns the exit status (0, 1, 130; the first stage that
/// fails or is interrupted stops it with its status). Config errors in the workflow file or
/// any stage file are thrown as ConfigError before anything runs.
int run_workflow(const WorkflowRequest& request, const PluginRegistry& registry);

}  // namespace mdlab
