#include "sweep_command.h"

#include "atomic_file.h"
#include "config_error.h"
#include "error_text.h"
#include "exit_codes.h"
#include "experiment_file.h"
#include "experiment_schema.h"
#include "run_command.h"
#include "run_log_reader.h"
#include "signals.h"
#include "sweep_record.h"
#include "toml_util.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

namespace fs = std::filesystem;

namespace mdlab {
namespace {

// The most cells an issue lists by name before it counts the rest.
constexpr size_t kNamedCells = 3;

// A cell's issue moved from the "--set KEY=VALUE" it was found in to that value's place in the
// sweep file.
ConfigIssue located(ConfigIssue issue, const SweepCell& cell) {
  for (size_t i = 0; i < cell.sets.size(); ++i) {
    const auto& origin = cell.origins[i];
    if (issue.source != "--set " + cell.sets[i] || !origin.path) continue;
    issue.source = *origin.path;
    issue.line = origin.begin.line;
    issue.column = origin.begin.column;
    break;
  }
  return issue;
}

// Keys whose values differ between two resolved configs, as "key (A in the run, B now)".
void differences(const toml::table& run, const toml::table& now, const std::string& prefix,
                 std::vector<std::string>& out) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : run) keys.emplace_back(k.str());
  for (const auto& [k, v] : now)
    if (!run.contains(k.str())) keys.emplace_back(k.str());
  for (const auto& key : keys) {
    const toml::node* a = run.get(key);
    const toml::node* b = now.get(key);
    const std::string dotted = prefix + key;
    if (a && b && a->is_table() && b->is_table()) {
      differences(*a->as_table(), *b->as_table(), dotted + ".", out);
      continue;
    }
    const std::string ta = a ? config_detail::inline_value_text(*a) : "(unset)";
    const std::string tb = b ? config_detail::inline_value_text(*b) : "(unset)";
    if (ta != tb) out.push_back(fmt::format("{} ({} in the run, {} now)", dotted, ta, tb));
  }
}

// What the sweep does with a cell.
enum class CellState { New, Completed, Resume, Failed };

const char* state_name(CellState state) {
  switch (state) {
    case CellState::New: return "new";
    case CellState::Completed: return "completed";
    case CellState::Resume: return "resume";
    case CellState::Failed: return "failed";
  }
  return "?";
}

struct CellPlan {
  CellState state = CellState::New;
  std::string reason;  // why a failed cell failed
};

// The state of a cell's folder; ConfigIssue in `issues` when it holds another configuration.
CellPlan plan_cell(const fs::path& dir, const Experiment& exp, const SweepCell& cell,
                   std::vector<ConfigIssue>& issues) {
  CellPlan plan;
  if (!fs::exists(dir / "run.h5")) return plan;
  const fs::path config = dir / "config.toml";
  if (fs::exists(config)) {
    std::vector<std::string> changed;
    toml::table stored;
    try {
      stored = toml::parse_file(config.string());
    } catch (const toml::parse_error& e) {
      changed.push_back(fmt::format("its config.toml does not parse: {}", e.description()));
    }
    if (changed.empty()) differences(stored, exp.table, "", changed);
    if (!changed.empty()) {
      if (changed.size() > kNamedCells) {
        const size_t more = changed.size() - kNamedCells;
        changed.resize(kNamedCells);
        changed.push_back(fmt::format("{} more", more));
      }
      issues.push_back({exp.file.string(), 0, 0, "",
                        fmt::format("cell {}: {} holds a run of another configuration: {}; move "
                                    "the folder away to run the cell anew, or use another --out",
                                    cell.name, dir.string(), fmt::join(changed, ", "))});
    }
  }
  const RunLogContents log = read_run_log(dir / "run.h5");
  switch (log.status) {
    case RunStatus::Completed: plan.state = CellState::Completed; break;
    case RunStatus::Failed:
      plan.state = CellState::Failed;
      plan.reason = log.status_reason;
      break;
    // A run that says "running" was killed (or is running in another process: cells are
    // shared out with --cell, never run twice at once).
    case RunStatus::Running:
    case RunStatus::Interrupted: plan.state = CellState::Resume; break;
  }
  return plan;
}

// The record of `checked` refreshed from the cells' run logs, written into `out`.
void update_record(const fs::path& out, const CheckedSweep& checked) {
  SweepRecord record;
  record.config_toml = checked.text;
  record.axes = checked.sweep.axes;
  for (const auto& cell : checked.sweep.cells) {
    SweepRecordCell entry;
    entry.name = cell.name;
    entry.values = cell.values;
    record.cells.push_back(std::move(entry));
  }
  collect_sweep_results(out, record);
  write_sweep_record(out / kSweepRecordFile, record);
}

// The cell `which` names: an index from 0, or a name.
size_t find_cell(const Sweep& sweep, const std::string& which) {
  const bool digits = !which.empty() && std::all_of(which.begin(), which.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  if (digits && which.size() < 10) {
    const size_t index = std::stoul(which);
    if (index < sweep.cells.size()) return index;
    throw ConfigError({{"", 0, 0, "",
                        fmt::format("--cell {}: the sweep has {} cells (0 to {})", which,
                                    sweep.cells.size(), sweep.cells.size() - 1)}});
  }
  for (size_t i = 0; i < sweep.cells.size(); ++i)
    if (sweep.cells[i].name == which) return i;
  throw ConfigError({{"", 0, 0, "",
                      fmt::format("--cell {}: no cell has that index or name (--dry-run lists "
                                  "them)",
                                  which)}});
}

// A cell trained by `request.nproc` local processes (`mdlab run --nproc`); they load the
// cell from the config.toml in its folder.
int run_cell_in_processes(const Experiment& cell, const fs::path& dir, bool resume,
                          const SweepRequest& request, const PluginRegistry& registry) {
  fs::create_directories(dir);
  // A new cell's folder can hold the config.toml of a launch that died before its run log,
  // which the plan does not compare (it compares folders with a run log): written anew.
  if (!resume || !fs::exists(dir / "config.toml"))
    write_file_atomic(dir / "config.toml", cell.text);
  RunRequest run;
  run.experiment = dir / "config.toml";
  run.out = dir;
  run.resume = resume;
  run.nproc = request.nproc;
  run.plugin_paths = request.plugin_paths;
  return run_experiment(run, registry);
}

}  // namespace

bool is_sweep_file(const fs::path& file) {
  try {
    return has_sweep(load_experiment(file, {}));
  } catch (const ConfigError&) {
    return false;
  }
}

CheckedSweep load_sweep_checked(const fs::path& file, const std::vector<std::string>& sets,
                                int64_t seeds, const PluginRegistry& registry, bool check_data) {
  CheckedSweep out;
  toml::table base = load_experiment(file, sets);
  MDLAB_CHECK(has_sweep(base) || seeds > 1,
              "{} has no [sweep] table: run it with `mdlab run` (or repeat it over seeds with "
              "`mdlab sweep --seeds N`)",
              file.string());
  out.text = to_toml_text(base);
  const toml::node* seed = base.at_path("experiment.seed").node();
  const int64_t base_seed = seed && seed->is_integer() ? seed->value_or(int64_t{0}) : 0;
  out.sweep = expand_sweep(base, seeds, base_seed);

  // Each issue once, with the cells that have it.
  std::vector<std::pair<ConfigIssue, std::vector<std::string>>> found;
  auto add = [&](const ConfigIssue& issue, const std::string& cell) {
    for (auto& [known, cells] : found) {
      if (std::tie(known.source, known.line, known.column, known.message) ==
          std::tie(issue.source, issue.line, issue.column, issue.message)) {
        cells.push_back(cell);
        return;
      }
    }
    found.push_back({issue, {cell}});
  };
  for (const auto& cell : out.sweep.cells) {
    // A fresh load per cell: toml++ keeps source positions only in nodes it parsed.
    toml::table table = load_experiment(file, sets);
    table.erase("sweep");
    apply_overrides(table, cell.sets);
    try {
      Experiment exp = check_experiment(file, std::move(table), registry, experiment_schema());
      if (check_data) check_data_paths(exp);
      out.cells.push_back(std::move(exp));
    } catch (const ConfigError& error) {
      for (const auto& issue : error.issues()) add(located(issue, cell), cell.name);
    }
  }
  if (!found.empty()) {
    std::vector<ConfigIssue> issues;
    for (auto& [issue, cells] : found) {
      if (cells.size() < out.sweep.cells.size()) {
        std::vector<std::string> named(cells.begin(),
                                       cells.begin() + std::min(cells.size(), kNamedCells));
        if (cells.size() > kNamedCells)
          named.push_back(fmt::format("{} more", cells.size() - kNamedCells));
        issue.message += fmt::format(" (in {} of {} cells: {})", cells.size(),
                                     out.sweep.cells.size(), fmt::join(named, ", "));
      }
      issues.push_back(std::move(issue));
    }
    std::stable_sort(issues.begin(), issues.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
      return std::tie(a.source, a.line, a.column) < std::tie(b.source, b.line, b.column);
    });
    throw ConfigError(std::move(issues));
  }
  const Options& e = out.cells.front().config.find("experiment")->options;
  out.out = fs::path(e.get_string("output_dir")) / e.get_string("name") / "sweep";
  return out;
}

int run_sweep(const SweepRequest& request, const PluginRegistry& registry) {
  if (request.seeds < 1 || request.seeds > 10000)
    throw ConfigError(
        {{"", 0, 0, "", fmt::format("--seeds {}: expected 1 to 10000", request.seeds)}});
  const CheckedSweep checked =
      load_sweep_checked(request.file, request.sets, request.seeds, registry, true);
  const fs::path out = request.out.value_or(checked.out);
  const auto& cells = checked.sweep.cells;

  std::vector<size_t> selected;
  if (request.cell.empty()) {
    for (size_t i = 0; i < cells.size(); ++i) selected.push_back(i);
  } else {
    selected.push_back(find_cell(checked.sweep, request.cell));
  }
  // Every selected cell's folder is checked before anything runs.
  std::vector<CellPlan> plans(cells.size());
  std::vector<ConfigIssue> conflicts;
  for (size_t i : selected)
    plans[i] = plan_cell(out / cells[i].name, checked.cells[i], cells[i], conflicts);
  if (!conflicts.empty()) throw ConfigError(std::move(conflicts));

  const std::string axes =
      checked.sweep.axes.empty() ? "none" : fmt::format("{}", fmt::join(checked.sweep.axes, ", "));
  if (request.dry_run) {
    std::printf("sweep %s: %zu cells in %s (axes: %s)\n", request.file.string().c_str(),
                cells.size(), out.string().c_str(), axes.c_str());
    const size_t width = std::to_string(cells.size() - 1).size();
    for (size_t i : selected) {
      std::printf("  %*zu  %-9s  %s\n", static_cast<int>(width), i, state_name(plans[i].state),
                  cells[i].name.c_str());
    }
    return kExitOk;
  }

  fs::create_directories(out);
  write_file_atomic(out / "sweep.toml", checked.text);
  update_record(out, checked);
  std::fprintf(stderr, "mdlab: sweep %s: %zu cells in %s (axes: %s)\n",
               request.file.string().c_str(), cells.size(), out.string().c_str(), axes.c_str());

  install_interrupt_handlers();
  std::vector<std::string> failed;
  size_t completed = 0, skipped = 0;
  // A cell's processes take the signal from the launcher, not from this process's handler.
  bool interrupted = false;
  for (size_t i : selected) {
    if (interrupt_requested()) break;
    const auto& cell = cells[i];
    const fs::path dir = out / cell.name;
    const std::string which = fmt::format("cell {}/{} {}", i, cells.size(), cell.name);
    const CellPlan& plan = plans[i];
    if (plan.state == CellState::Completed) {
      std::fprintf(stderr, "mdlab: sweep: %s: completed before, skipped\n", which.c_str());
      ++skipped;
      continue;
    }
    if (plan.state == CellState::Failed && !request.retry_failed) {
      std::fprintf(stderr,
                   "mdlab: sweep: %s: failed before (%s); skipped (--retry-failed runs it "
                   "again)\n",
                   which.c_str(), plan.reason.c_str());
      failed.push_back(cell.name);
      continue;
    }
    std::fprintf(stderr, "mdlab: sweep: %s: %s -> %s\n", which.c_str(),
                 plan.state == CellState::New ? "starting" : "resuming", dir.string().c_str());
    int status = kExitFailure;
    const bool resume = plan.state != CellState::New;
    try {
      status = request.nproc > 1
                   ? run_cell_in_processes(checked.cells[i], dir, resume, request, registry)
                   : run_checked_experiment(checked.cells[i], dir, resume, registry);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "mdlab: sweep: %s failed: %s\n", which.c_str(),
                   error_text(error).c_str());
    }
    try {
      update_record(out, checked);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "mdlab: warning: sweep record %s not updated: %s\n",
                   (out / kSweepRecordFile).string().c_str(), error_text(error).c_str());
    }
    if (status == kExitInterrupted) {
      interrupted = true;
      break;
    }
    if (status == kExitOk) {
      ++completed;
    } else {
      failed.push_back(cell.name);
    }
  }
  if (interrupted || interrupt_requested()) {
    std::fprintf(stderr,
                 "mdlab: sweep interrupted; continue it with the same command (completed cells "
                 "are skipped, the interrupted one resumes)\n");
    return kExitInterrupted;
  }
  std::fprintf(stderr,
               "mdlab: sweep: %zu cell(s) run, %zu completed before, %zu failed%s; "
               "`mdlab show %s` prints the results\n",
               completed, skipped, failed.size(),
               failed.empty() ? "" : fmt::format(" ({})", fmt::join(failed, ", ")).c_str(),
               out.string().c_str());
  return failed.empty() ? kExitOk : kExitFailure;
}

}  // namespace mdlab
