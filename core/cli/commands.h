// The subcommands of `mdlab`. Each parses its own options (Boost.Program_options) and returns
// the process exit status; usage errors are thrown as UsageError (exit 2).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace mdlab {

/// A bad command line (unknown option, missing argument).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Prints versions of mdlab, the SDK and LibTorch.
void print_version();
/// `mdlab run EXP.toml [--set k=v]... [--out DIR] [--resume]`.
int command_run(const std::vector<std::string>& args);
/// `mdlab sweep EXP.toml [--set k=v]... [--out DIR] [--seeds N] [--cell K] [--dry-run]`.
int command_sweep(const std::vector<std::string>& args);
/// `mdlab validate EXP.toml [--set k=v]...`.
int command_validate(const std::vector<std::string>& args);
/// `mdlab plugins [--describe NAME]`.
int command_plugins(const std::vector<std::string>& args);
/// `mdlab show RUN_DIR|SWEEP_DIR [RUN ...]`.
int command_show(const std::vector<std::string>& args);
/// `mdlab report RUN_OR_SWEEP_DIR [--out FILE] [--format html|md|csv]`.
int command_report(const std::vector<std::string>& args);
/// `mdlab export-backbone RUN_DIR --out FILE.safetensors`.
int command_export_backbone(const std::vector<std::string>& args);
/// `mdlab export-model RUN_DIR --out DIR [--overwrite]`.
int command_export_model(const std::vector<std::string>& args);
/// `mdlab eval [EXP.toml] (--checkpoint RUN_DIR | --weights W [--out DIR])`.
int command_eval(const std::vector<std::string>& args);
/// `mdlab generate GEN.toml [--set k=v]... [--shard i/n] [--out DIR] [--run-dir DIR]`.
int command_generate(const std::vector<std::string>& args);
/// `mdlab embed EXP.toml --weights W (--input X | --data) --out OUT [--attention]`.
int command_embed(const std::vector<std::string>& args);
/// `mdlab config-reference [--out FILE] [--check FILE]`.
int command_config_reference(const std::vector<std::string>& args);

}  // namespace mdlab
