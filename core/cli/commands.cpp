#include "commands.h"

#include "build_info.h"
#include "config_reference.h"
#include "evaluation.h"
#include "exit_codes.h"
#include "experiment.h"
#include "experiment_schema.h"
#include "generate_command.h"
#include "host_checks.h"
#include "launch_environment.h"
#include "local_launcher.h"
#include "model_tools.h"
#include "plugin_registry.h"
#include "report.h"
#include "report_command.h"
#include "run_command.h"
#include "run_comparison.h"
#include "run_log_reader.h"
#include "sweep_command.h"
#include "sweep_record.h"
#include "text_table.h"
#include "workflow.h"

#include <mdlab/plugin.h>
#include <mdlab/version.h>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace mdlab {
namespace {

// Options every command that loads plugins accepts.
po::options_description plugin_options(std::vector<std::string>& plugin_paths) {
  po::options_description d("plugin options");
  d.add_options()("plugin-path", po::value(&plugin_paths)->composing(),
                  "extra directory searched for plugins (repeatable; also MDLAB_PLUGIN_PATH)");
  return d;
}

// A command's required positional argument (EXP.toml, RUN_DIR) as Program_options wants it:
// a hidden option plus its position.
struct Positional {
  po::options_description hidden;
  po::positional_options_description position;
};

Positional positional(const char* name, std::string& target) {
  Positional p;
  p.hidden.add_options()(name, po::value(&target)->required(), name);
  p.position.add(name, 1);
  return p;
}

// One or more positional arguments (RUN ...), at least one required.
Positional positionals(const char* name, std::vector<std::string>& targets) {
  Positional p;
  p.hidden.add_options()(name, po::value(&targets)->required()->multitoken(), name);
  p.position.add(name, -1);
  return p;
}

// Parses `args` against `visible` and the positional; returns false after printing help.
bool parse(const std::vector<std::string>& args, const std::string& usage,
           const po::options_description& visible, const Positional& positional,
           po::variables_map& vm) {
  po::options_description all;
  all.add(visible).add(positional.hidden);
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional.position).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << visible << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::required_option& e) {
    const std::string name = e.get_option_name();
    const bool is_positional =
        positional.hidden.find_nothrow(name.substr(name.find_first_not_of('-')), false);
    if (is_positional)
      throw UsageError(
          fmt::format("missing argument: {}", name.substr(name.find_first_not_of('-'))));
    throw UsageError(e.what());
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return true;
}

PluginRegistry load_plugins(const std::vector<std::string>& extra, bool report_problems) {
  std::vector<fs::path> dirs;
  for (const auto& p : extra) {
    // A mistyped --plugin-path would otherwise run with the built-in plugins only, unnoticed.
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      throw UsageError(fmt::format("--plugin-path {}: {}", p,
                                   fs::exists(p, ec) ? "is not a directory" : "no such directory"));
    }
    dirs.emplace_back(p);
  }
  PluginRegistry registry;
  registry.load_directories(default_plugin_dirs(dirs));
  if (report_problems) {
    for (const auto& p : registry.problems())
      std::fprintf(stderr, "mdlab: error: plugin refused: %s\n", p.message.c_str());
  }
  return registry;
}

}  // namespace

void print_version() {
  std::printf("%s\n", build_summary().c_str());
  const std::string blas = loaded_blas_library();
  std::printf("BLAS: %s\n", blas.empty() ? "(none found)" : blas.c_str());
  if (auto warning = reference_blas_warning())
    std::fprintf(stderr, "mdlab: warning: %s\n", warning->c_str());
}

int command_run(const std::vector<std::string>& args) {
  RunRequest request;
  std::string experiment, out;
  std::vector<std::string> plugin_paths;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")(
      "set", po::value(&request.sets)->composing(),
      "override a config value, e.g. --set train.lr=0.2 (value parsed as TOML; repeatable)")(
      "out", po::value(&out), "run directory (default: <output_dir>/<name>/<timestamp>)")(
      "resume", po::bool_switch(&request.resume),
      "continue the run in --out (or the RUN_DIR given instead of EXP.toml) from its last "
      "checkpoint")(
      "nproc", po::value(&request.nproc)->default_value(1),
      "train data-parallel in N local processes (one per GPU, or CPU workers); batch_size is "
      "per process (docs/distributed.md)");
  visible.add(plugin_options(plugin_paths));
  const auto positional_arg = positional("experiment", experiment);
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab run EXP.toml [--set key=value]... [--out DIR] [--resume] [--nproc N]\n"
             "       mdlab run --resume RUN_DIR [--nproc N]\n\n"
             "Trains the experiment and writes config.toml, run.h5, log.txt and checkpoints/ "
             "into the run directory.",
             visible, positional_arg, vm))
    return kExitOk;
  request.experiment = experiment;
  if (!out.empty()) request.out = fs::path(out);
  request.plugin_paths = plugin_paths;
  auto registry = load_plugins(plugin_paths, true);
  if (!request.resume && is_workflow_file(request.experiment)) {
    MDLAB_CHECK(request.sets.empty(),
                "{} is a workflow: --set applies to experiment files; put overrides in a "
                "stage's `set` list",
                experiment);
    WorkflowRequest workflow;
    workflow.file = request.experiment;
    workflow.out = request.out;
    workflow.nproc = request.nproc;
    workflow.plugin_paths = plugin_paths;
    return run_workflow(workflow, registry);
  }
  return run_experiment(request, registry);
}

int command_sweep(const std::vector<std::string>& args) {
  SweepRequest request;
  std::string experiment, out;
  std::vector<std::string> plugin_paths;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")(
      "set", po::value(&request.sets)->composing(),
      "override a value of the base experiment (as for run; repeatable)")(
      "out", po::value(&out), "sweep folder (default: <output_dir>/<name>/sweep)")(
      "seeds", po::value(&request.seeds)->default_value(1),
      "repeat every cell with experiment.seed = seed, seed + 1, ... (innermost)")(
      "cell", po::value(&request.cell),
      "run one cell, by index from 0 or by name (a SLURM array task: --cell "
      "$SLURM_ARRAY_TASK_ID)")("dry-run", po::bool_switch(&request.dry_run),
                               "list the cells and what would be done with each; run nothing")(
      "retry-failed", po::bool_switch(&request.retry_failed),
      "run cells that failed before again (from their last checkpoint)")(
      "nproc", po::value(&request.nproc)->default_value(1),
      "train each cell data-parallel in N local processes (as mdlab run --nproc)");
  visible.add(plugin_options(plugin_paths));
  const auto positional_arg = positional("experiment", experiment);
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab sweep EXP.toml [--set key=value]... [--out DIR] [--seeds N] "
             "[--cell K] [--dry-run] [--retry-failed] [--nproc N]\n\n"
             "Runs every cell of the file's [sweep] table, each in its own run directory named "
             "after its values below the sweep folder, and keeps the sweep record sweep.h5 "
             "there. Every cell is validated before any runs. Run it again to continue: "
             "completed cells are skipped, interrupted ones resumed. `mdlab show DIR` prints "
             "the results.",
             visible, positional_arg, vm))
    return kExitOk;
  request.file = experiment;
  if (!out.empty()) request.out = fs::path(out);
  request.plugin_paths = plugin_paths;
  auto registry = load_plugins(plugin_paths, true);
  return run_sweep(request, registry);
}

int command_validate(const std::vector<std::string>& args) {
  std::string experiment;
  std::vector<std::string> sets, plugin_paths;
  bool print = false, skip_data = false;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")("set", po::value(&sets)->composing(),
                                               "override a config value (as for run)")(
      "print", po::bool_switch(&print),
      "print the resolved config (extends merged, --set applied)")(
      "skip-data", po::bool_switch(&skip_data),
      "do not check that the data folders and files exist (a config for another machine)");
  visible.add(plugin_options(plugin_paths));
  const auto positional_arg = positional("experiment", experiment);
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab validate EXP.toml [--set key=value]... [--print] [--skip-data]\n\n"
             "Checks the experiment file against core's and the plugins' schemas, and that "
             "its data folders and files exist; reports every problem as file:line:col and "
             "exits 2, or exits 0. A workflow's stages are checked against the schemas only "
             "(earlier stages make the data of later ones).",
             visible, positional_arg, vm))
    return kExitOk;
  auto registry = load_plugins(plugin_paths, true);
  if (is_workflow_file(experiment)) {
    MDLAB_CHECK(sets.empty() && !print,
                "{} is a workflow: --set and --print apply to experiment files", experiment);
    WorkflowRequest workflow;
    workflow.file = experiment;
    workflow.validate_only = true;
    run_workflow(workflow, registry);
    std::fprintf(stderr, "%s: ok\n", experiment.c_str());
    return kExitOk;
  }
  if (is_sweep_file(experiment)) {
    MDLAB_CHECK(!print,
                "{} is a sweep: --print applies to experiment files (`mdlab sweep "
                "--dry-run` lists its cells)",
                experiment);
    const auto checked = load_sweep_checked(experiment, sets, 1, registry, !skip_data);
    std::fprintf(stderr, "%s: ok (a sweep of %zu cells)\n", experiment.c_str(),
                 checked.cells.size());
    return kExitOk;
  }
  Experiment exp = load_experiment_checked(experiment, sets, registry);
  if (!skip_data) check_data_paths(exp);
  if (print) std::fputs(exp.text.c_str(), stdout);
  std::fprintf(stderr, "%s: ok\n", experiment.c_str());
  return kExitOk;
}

int command_plugins(const std::vector<std::string>& args) {
  std::string describe;
  std::vector<std::string> plugin_paths;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")("describe", po::value(&describe),
                                               "print a plugin's options");
  visible.add(plugin_options(plugin_paths));
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab plugins [--describe NAME] [--plugin-path DIR]...\n\n"
             "Lists the plugins found (built-in directory, MDLAB_PLUGIN_PATH, --plugin-path) "
             "and the files refused, with the reason.",
             visible, Positional{}, vm))
    return kExitOk;
  auto registry = load_plugins(plugin_paths, true);
  if (!describe.empty()) {
    const LoadedPlugin* p = registry.find_any(describe);
    if (!p) {
      std::vector<std::string> names;
      for (const auto* q : registry.all()) names.push_back(q->name);
      throw UsageError(
          fmt::format("no plugin named '{}' (available: {})", describe, fmt::join(names, ", ")));
    }
    std::printf(
        "%s (%s plugin, version %s)\n  %s\n  file: %s\n  built with: %s, LibTorch %s, "
        "SDK %u.%u\n\n",
        p->name.c_str(), plugin_kind_name(p->kind), p->version.c_str(), p->summary.c_str(),
        p->file.c_str(), p->compiler.c_str(), p->torch_version.c_str(), p->abi_major, p->api_minor);
    TextTable table({"option", "type", "default", "constraint", "doc"});
    const OptionsSchema schema = p->factory->options_schema();
    for (const auto& spec : schema.specs()) {
      table.add_row({spec.name, option_type_name(spec.type),
                     spec.required        ? "(required)"
                     : spec.default_value ? option_value_to_toml(*spec.default_value)
                                          : "(none)",
                     spec.constraint_text(), spec.doc});
    }
    std::fputs(table.render().c_str(), stdout);
    return kExitOk;
  }
  TextTable table({"kind", "name", "version", "summary"});
  for (const auto* p : registry.all())
    table.add_row({plugin_kind_name(p->kind), p->name, p->version, p->summary});
  std::fputs(table.render().c_str(), stdout);
  if (registry.all().empty()) std::printf("(no plugins found)\n");
  return kExitOk;
}

int command_show(const std::vector<std::string>& args) {
  std::vector<std::string> runs, metrics;
  std::string format_name = "text";
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")(
      "format", po::value(&format_name)->default_value("text"),
      "tables as text, markdown or tsv (markdown and tsv print the evaluation tables only)")(
      "metric", po::value(&metrics)->composing(),
      "a sweep's final metric to show: a name, or a prefix ending in '*' ('*' for all; "
      "repeatable; default train/loss and val/*)");
  const auto positional_args = positionals("run", runs);
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab show RUN_DIR|RUN_LOG.h5|SWEEP_DIR [RUN ...] [--format "
             "text|markdown|tsv]\n\n"
             "Prints a run's status, config summary, final metrics and evaluation tables. Given "
             "several runs (or a --format other than text), prints their evaluation tables "
             "stacked: one row per run and table row, the columns of all runs. Given a sweep "
             "folder, prints its cells x final metrics and evaluation tables, as mean ± std "
             "over the seeds of each cell.",
             visible, positional_args, vm))
    return kExitOk;
  TableFormat format;
  try {
    format = parse_table_format(format_name);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  if (runs.size() == 1 && (fs::exists(fs::path(runs[0]) / kSweepRecordFile) ||
                           fs::path(runs[0]).filename() == kSweepRecordFile)) {
    const fs::path dir =
        fs::is_directory(runs[0]) ? fs::path(runs[0]) : fs::path(runs[0]).parent_path();
    const fs::path file = dir / kSweepRecordFile;
    SweepRecord record = read_sweep_record(file);
    refresh_sweep_results(dir, record);
    std::fputs(
        render_sweep_summary(record, file, format, metrics.empty() ? kDefaultSweepMetrics : metrics)
            .c_str(),
        stdout);
    return kExitOk;
  }
  std::vector<RunLogContents> contents;
  for (const auto& run : runs) {
    const fs::path file = fs::is_directory(run) ? fs::path(run) / "run.h5" : fs::path(run);
    contents.push_back(read_run_log(file));
  }
  if (contents.size() == 1 && format == TableFormat::Text) {
    std::fputs(render_run_summary(contents.front()).c_str(), stdout);
  } else {
    std::fputs(render_comparison(contents, format).c_str(), stdout);
  }
  return kExitOk;
}

int command_report(const std::vector<std::string>& args) {
  ReportRequest request;
  std::string dir, out;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")(
      "out", po::value(&out), "output file (default: DIR/report.<format>; - for stdout)")(
      "format", po::value(&request.format)->default_value("html"),
      "html (one self-contained page: charts, tables, images, config), md or csv");
  const auto positional_arg = positional("dir", dir);
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab report RUN_DIR|SWEEP_DIR [--out FILE] [--format html|md|csv]\n\n"
             "Writes a run or a sweep as one page: configuration, training curves, evaluation "
             "tables, for a sweep the results against each swept value (mean ± std over "
             "seeds), and the folder's images. The HTML page needs no network.",
             visible, positional_arg, vm))
    return kExitOk;
  try {
    parse_report_format(request.format);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  request.dir = dir;
  if (!out.empty()) request.out = fs::path(out);
  return write_report(request);
}

int command_export_backbone(const std::vector<std::string>& args) {
  std::string run_dir, out;
  std::vector<std::string> plugin_paths;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")("out", po::value(&out)->required(),
                                               "output safetensors file");
  visible.add(plugin_options(plugin_paths));
  const auto positional_arg = positional("run", run_dir);
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab export-backbone RUN_DIR --out FILE.safetensors\n\n"
             "Writes the encoder of the run's last checkpoint with the reference key names "
             "(torchvision for ResNets, DINO for ViTs), loadable from PyTorch with "
             "safetensors.torch.load_file + model.load_state_dict.",
             visible, positional_arg, vm))
    return kExitOk;
  auto registry = load_plugins(plugin_paths, true);
  const size_t n = export_backbone(run_dir, out, registry);
  std::fprintf(stderr, "mdlab: wrote %zu tensors to %s\n", n, out.c_str());
  return kExitOk;
}

int command_export_model(const std::vector<std::string>& args) {
  std::string run_dir, out;
  bool overwrite = false;
  std::vector<std::string> plugin_paths;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")("out", po::value(&out)->required(),
                                               "output model folder")(
      "overwrite", po::bool_switch(&overwrite), "replace an existing folder");
  visible.add(plugin_options(plugin_paths));
  const auto positional_arg = positional("run", run_dir);
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab export-model RUN_DIR --out DIR [--overwrite]\n\n"
             "Writes the model a run trained besides its encoder as a model folder from its last "
             "checkpoint: for a diffae run, the diffusion autoencoder the diffae_variations "
             "generator loads ([generator] model = DIR). The folder appears whole or not at all.",
             visible, positional_arg, vm))
    return kExitOk;
  auto registry = load_plugins(plugin_paths, true);
  const auto checkpoint = export_model(run_dir, out, registry, overwrite);
  std::fprintf(stderr, "mdlab: wrote %s from %s\n", out.c_str(), checkpoint.c_str());
  return kExitOk;
}

int command_embed(const std::vector<std::string>& args) {
  EmbedRequest request;
  std::string experiment, weights, input, out;
  bool data = false;
  std::vector<std::string> plugin_paths;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")("weights", po::value(&weights)->required(),
                                               "backbone weights (safetensors)")(
      "input", po::value(&input), "safetensors file holding images `x` [N, C, H, W] float32")(
      "data", po::bool_switch(&data), "embed the experiment's dataset instead of --input")(
      "split", po::value(&request.split)->default_value("test"), "dataset split with --data")(
      "out", po::value(&out)->required(), "output safetensors file")(
      "attention", po::bool_switch(&request.attention),
      "also write the last block's attention (ViT)")(
      "batch", po::value(&request.batch_size)->default_value(256), "images per forward pass")(
      "set", po::value(&request.sets)->composing(), "override a config value (as for run)");
  visible.add(plugin_options(plugin_paths));
  const auto positional_arg = positional("experiment", experiment);
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab embed EXP.toml --weights W.safetensors (--input X.safetensors | "
             "--data [--split S]) --out OUT.safetensors [--attention]\n\n"
             "Runs the experiment's [backbone] with the given weights in eval mode and writes "
             "`features` [N, D] (plus `labels` and `keys` from a dataset, `attention` with "
             "--attention).",
             visible, positional_arg, vm))
    return kExitOk;
  if (data == !input.empty()) throw UsageError("give exactly one of --input FILE and --data");
  if (request.batch_size < 1) throw UsageError("--batch must be at least 1");
  request.experiment = experiment;
  request.weights = weights;
  if (!input.empty()) request.input = fs::path(input);
  request.out = out;
  auto registry = load_plugins(plugin_paths, true);
  const int64_t n = embed(request, registry);
  std::fprintf(stderr, "mdlab: wrote features of %lld images to %s\n", static_cast<long long>(n),
               out.c_str());
  return kExitOk;
}

int command_eval(const std::vector<std::string>& args) {
  EvalRequest request;
  std::string experiment, checkpoint, weights, out;
  std::vector<std::string> plugin_paths;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")(
      "checkpoint", po::value(&checkpoint),
      "run directory: evaluate the encoder of its last checkpoint, tables into its run log")(
      "weights", po::value(&weights),
      "backbone weights (safetensors) for the experiment's [backbone]")(
      "out", po::value(&out), "with --weights: run directory for the results")(
      "set", po::value(&request.sets)->composing(), "override a config value (as for run)");
  visible.add(plugin_options(plugin_paths));
  // EXP.toml is optional here: with --checkpoint the run's own config is the default.
  Positional optional_experiment;
  optional_experiment.hidden.add_options()("experiment", po::value(&experiment), "experiment");
  optional_experiment.position.add("experiment", 1);
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab eval [EXP.toml] (--checkpoint RUN_DIR | --weights W.safetensors "
             "[--out DIR])\n\n"
             "Runs the [[eval]] entries of EXP.toml (default: the run's config.toml) on a "
             "frozen encoder and writes their tables to the run log (/eval/<evaluator>/...).",
             visible, optional_experiment, vm))
    return kExitOk;
  if (checkpoint.empty() == weights.empty())
    throw UsageError("give exactly one of --checkpoint RUN_DIR and --weights FILE");
  if (!weights.empty() && experiment.empty())
    throw UsageError("with --weights, name the experiment file (EXP.toml)");
  if (!out.empty() && weights.empty())
    throw UsageError("--out goes with --weights (--checkpoint writes into the run)");
  if (!experiment.empty()) request.experiment = fs::path(experiment);
  if (!checkpoint.empty()) request.checkpoint = fs::path(checkpoint);
  if (!weights.empty()) request.weights = fs::path(weights);
  if (!out.empty()) request.out = fs::path(out);
  auto registry = load_plugins(plugin_paths, true);
  return eval_command(request, registry);
}

int command_generate(const std::vector<std::string>& args) {
  GenerateRequest request;
  std::string config, shard, out, run_dir;
  std::vector<std::string> plugin_paths;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")("set", po::value(&request.sets)->composing(),
                                               "override a config value (as for run)")(
      "shard", po::value(&shard),
      "i/n: make only shard i of n (every n-th real image from the i-th; job arrays, GPUs)")(
      "out", po::value(&out),
      "root of the mirror tree (default: [generate] out, else "
      "[data.synthetic] root)")(
      "run-dir", po::value(&run_dir),
      "directory for run.h5 and manifest.tsv (default: <output_dir>/<name>/<timestamp>-generate)")(
      "validate", po::bool_switch(&request.validate_only),
      "check the file (all errors at once) and make nothing")(
      "nproc", po::value(&request.nproc)->default_value(1),
      "make the set in N local processes, shard i of N each (one per GPU); under torchrun or "
      "srun each process takes its RANK / WORLD_SIZE shard without --shard");
  visible.add(plugin_options(plugin_paths));
  const auto positional_arg = positional("config", config);
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab generate GEN.toml [--set key=value]... [--shard i/n] [--out DIR]\n\n"
             "Writes synthetic variations of the [data] images, made by the [generator] plugin, "
             "as a mirror tree with the same keys ([generate] table). Rerunning resumes: "
             "finished images are kept.",
             visible, positional_arg, vm))
    return kExitOk;
  request.config = config;
  if (!shard.empty()) {
    try {
      request.shard = parse_shard(shard);
    } catch (const Error& e) {
      throw UsageError(e.message());
    }
  }
  if (!out.empty()) request.out = fs::path(out);
  if (!run_dir.empty()) request.run_dir = fs::path(run_dir);
  if (request.nproc > 1) {
    if (!shard.empty()) throw UsageError("--nproc and --shard exclude each other");
    if (request.validate_only) throw UsageError("--validate runs in one process; drop --nproc");
    if (launched_by_mdlab() || launch_environment(std::getenv))
      throw UsageError("--nproc starts the processes itself; under torchrun or srun leave it out");
  }
  request.plugin_paths = plugin_paths;
  if (shard.empty() && !request.validate_only && request.nproc == 1) {
    if (auto launch = launch_environment(std::getenv)) {
      request.shard = Shard{launch->rank, launch->world_size};
      request.shard_from_environment = true;
    }
  }
  auto registry = load_plugins(plugin_paths, true);
  return generate_command(request, registry);
}

int command_config_reference(const std::vector<std::string>& args) {
  std::string out, check;
  std::vector<std::string> plugin_paths;
  po::options_description visible("options");
  visible.add_options()("help,h", "this text")("out", po::value(&out),
                                               "write to FILE instead of stdout")(
      "check", po::value(&check), "exit 1 when FILE differs from the generated reference");
  visible.add(plugin_options(plugin_paths));
  po::variables_map vm;
  if (!parse(args,
             "usage: mdlab config-reference [--out FILE | --check FILE]\n\n"
             "Generates the experiment-file reference from core's and the plugins' schemas.",
             visible, Positional{}, vm))
    return kExitOk;
  auto registry = load_plugins(plugin_paths, true);
  RegistryCatalog catalog(registry);
  const std::string text = render_config_reference(experiment_schema(), catalog);
  if (!check.empty()) {
    std::ifstream in(check);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (buffer.str() != text) {
      std::fprintf(stderr,
                   "mdlab: %s is out of date with the schemas; regenerate it with: mdlab "
                   "config-reference --out %s\n",
                   check.c_str(), check.c_str());
      return kExitFailure;
    }
    std::fprintf(stderr, "%s: up to date\n", check.c_str());
    return kExitOk;
  }
  if (!out.empty()) {
    std::ofstream file(out);
    file << text;
    return file.good() ? kExitOk : kExitFailure;
  }
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

}  // namespace mdlab
