// The `mdlab` command: dispatches to one subcommand per verb. Exit statuses: 0 ok,
// 1 runtime failure, 2 usage or config error, 130 interrupted (docs/cli.md).
#include "commands.h"
#include "config_error.h"
#include "error_text.h"
#include "exit_codes.h"

#include <mdlab/error.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace {

void print_usage(std::FILE* out) {
  std::fputs(
      "usage: mdlab <command> [options]\n"
      "\n"
      "Self-supervised learning on mixed real and synthetic images.\n"
      "\n"
      "commands:\n"
      "  run EXP.toml            train (and evaluate) an experiment into a run directory\n"
      "  sweep EXP.toml          run every cell of a [sweep] (resumable; --cell K, --dry-run)\n"
      "  validate EXP.toml       check an experiment file against every schema, run nothing\n"
      "  plugins                 list plugins found, and refused ones (--describe NAME)\n"
      "  show RUN_DIR            print a run's config, final metrics and evaluation tables\n"
      "                          (a sweep folder: cells x metrics, mean ± std over seeds)\n"
      "  report DIR              a run or sweep as one self-contained HTML page (or md, csv)\n"
      "  export-backbone RUN_DIR --out FILE   the trained encoder as safetensors (reference "
      "names)\n"
      "  export-model RUN_DIR --out DIR      a trained generator (diffae) as a model folder\n"
      "  embed EXP.toml ...      features of a tensor file or of the dataset with given weights\n"
      "  eval [EXP.toml] ...     the [[eval]] entries on a run's checkpoint or on given weights\n"
      "  generate GEN.toml       synthetic variations of a dataset as a mirror tree (resumable)\n"
      "  config-reference        print the experiment-file reference (docs/config.md)\n"
      "\n"
      "options:\n"
      "  -h, --help              this text; `mdlab <command> --help` for a command\n"
      "  --version               versions of mdlab, its SDK and LibTorch\n"
      "\n"
      "exit status: 0 ok, 1 runtime failure, 2 usage or config error, 130 interrupted\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_usage(stderr);
    return mdlab::kExitUsage;
  }
  const std::string command = args.front();
  if (command == "-h" || command == "--help" || command == "help") {
    print_usage(stdout);
    return mdlab::kExitOk;
  }
  if (command == "--version" || command == "version") {
    mdlab::print_version();
    return mdlab::kExitOk;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    if (command == "run") return mdlab::command_run(rest);
    if (command == "sweep") return mdlab::command_sweep(rest);
    if (command == "validate") return mdlab::command_validate(rest);
    if (command == "plugins") return mdlab::command_plugins(rest);
    if (command == "show") return mdlab::command_show(rest);
    if (command == "report") return mdlab::command_report(rest);
    if (command == "export-backbone") return mdlab::command_export_backbone(rest);
    if (command == "export-model") return mdlab::command_export_model(rest);
    if (command == "embed") return mdlab::command_embed(rest);
    if (command == "eval") return mdlab::command_eval(rest);
    if (command == "generate") return mdlab::command_generate(rest);
    if (command == "config-reference") return mdlab::command_config_reference(rest);
    std::fprintf(stderr, "mdlab: unknown command '%s'\n\n", command.c_str());
    print_usage(stderr);
    return mdlab::kExitUsage;
  } catch (const mdlab::ConfigError& error) {
    std::fprintf(stderr, "%s\n", error.what());
    std::fprintf(stderr, "mdlab: %zu configuration error%s; nothing was run\n",
                 error.issues().size(), error.issues().size() == 1 ? "" : "s");
    return mdlab::kExitUsage;
  } catch (const mdlab::UsageError& error) {
    std::fprintf(stderr, "mdlab %s: %s\n(see: mdlab %s --help)\n", command.c_str(), error.what(),
                 command.c_str());
    return mdlab::kExitUsage;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "mdlab: error: %s\n", mdlab::error_text(error).c_str());
    return mdlab::kExitFailure;
  }
}
