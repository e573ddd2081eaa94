// Running the [[eval]] entries of an experiment on a frozen encoder: after training (`mdlab
// run`) and on their own (`mdlab eval`).
//
// Each entry's evaluator plugin gets the encoder (eval mode, no gradients) and a CoreEvalData
// shared by all entries, so features of a split are computed once per run. Its tables go to
// the run log as /eval/<group>/<table>, where the group is the plugin name (with _2, _3, ...
// for further entries of the same plugin); a row labelled "" is the model under evaluation and
// takes the experiment's name. Artifacts go to /artifacts/eval/<group>/<name>, and images
// among them (uint8 [H, W] or [H, W, 3]) also to <run dir>/eval/<group>/<name>.png. Each table
// is logged aligned as it arrives.
#pragma once

#include "experiment.h"
#include "plugin_registry.h"

#include <mdlab/backbone.h>
#include <mdlab/method.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mdlab {

class RunContext;
class RunLog;

/// Side of the evaluation images: [data.eval] size when given, else the size of the method's
/// first view slot, else (0) the dataset's own.
int evaluation_size(const Experiment& experiment, const std::vector<ViewSlot>& slots);

/// Runs every [[eval]] entry of `experiment` on `encoder`; returns the number of tables written.
/// Throws mdlab::Error naming the entry that failed.
size_t run_evaluations(const Experiment& experiment, const PluginRegistry& registry,
                       Backbone& encoder, int eval_size, RunContext& context, RunLog& run_log);

/// Arguments of `mdlab eval`.
struct EvalRequest {
  std::optional<std::filesystem::path> experiment;  ///< [[eval]] and data; default: the run's
  std::vector<std::string> sets;                    ///< --set overrides
  std::optional<std::filesystem::path> checkpoint;  ///< a run directory (its last checkpoint)
  std::optional<std::filesystem::path> weights;     ///< or a backbone weights file
  std::optional<std::filesystem::path> out;         ///< run directory for results (weights)
};

/// `mdlab eval`: loads the encoder, runs the evaluations and writes their tables into the
/// checkpoint's run log (or, with weights, into a new run directory). Returns the exit code.
int eval_command(const EvalRequest& request, const PluginRegistry& registry);

}  // namespace mdlab
