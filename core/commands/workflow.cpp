// Workflows (see workflow.h): parsing and checking the file, resolving each stage's outputs
// and cache key, then running the stages in order and printing the comparison.
#include "workflow.h"

#include "atomic_file.h"
#include "config_error.h"
#include "error_text.h"
#include "exit_codes.h"
#include "experiment.h"
#include "experiment_file.h"
#include "experiment_schema.h"
#include "generate_command.h"
#include "model_tools.h"
#include "run_command.h"
#include "run_comparison.h"
#include "run_log_reader.h"
#include "signals.h"
#include "toml_util.h"
#include "validate.h"

#include <mdlab/error.h>
#include <mdlab/version.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <set>
#include <span>

namespace fs = std::filesystem;

namespace mdlab {

namespace {

using config_detail::issue_at;

enum class StageKind { Run, Generate, Export };

struct Stage {
  std::string name;
  StageKind kind = StageKind::Run;
  fs::path file;                  // run / generate: the experiment file
  std::string source;             // export: the run stage it exports
  std::vector<std::string> sets;  // as written, with {stage} placeholders
  std::vector<toml::source_region> set_where;
  bool cache = false;
  toml::source_region where;
  // Resolved before anything runs:
  std::vector<std::string> resolved_sets;
  std::string key;  // cache key (hex)
  fs::path output;  // run dir, model folder or image tree
};

struct Workflow {
  fs::path file;
  std::string name;
  fs::path output_dir;
  fs::path cache_dir;
  std::vector<Stage> stages;
  std::vector<std::string> compare;
  toml::source_region compare_where;
};

const char* kind_name(StageKind kind) {
  switch (kind) {
    case StageKind::Run: return "run";
    case StageKind::Generate: return "generate";
    case StageKind::Export: return "export_model";
  }
  return "?";
}

// FNV-1a 64 as 16 hex digits: stable across platforms and releases.
std::string stable_hash(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

void unknown_keys(const toml::table& table, const std::vector<std::string>& known,
                  const std::string& prefix, std::vector<ConfigIssue>& issues) {
  for (const auto& [k, node] : table) {
    const std::string key(k.str());
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    const std::string best = closest_match(key, known);
    issues.push_back(
        issue_at(node.source(), prefix + key,
                 fmt::format("unknown key '{}{}'{} (known: {})", prefix, key,
                             best.empty() ? "" : fmt::format("; did you mean '{}'?", best),
                             fmt::join(known, ", "))));
  }
}

// A string value of `table` (or `fallback`), with an issue for another type.
std::string string_at(const toml::table& table, std::string_view key, std::string fallback,
                      const std::string& prefix, std::vector<ConfigIssue>& issues) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return fallback;
  if (const auto* s = node->as_string()) return s->get();
  issues.push_back(issue_at(node->source(), prefix + std::string(key),
                            fmt::format("'{}{}' must be a string, not {}", prefix, key,
                                        config_detail::toml_type_name(*node))));
  return fallback;
}

Workflow parse_workflow(const fs::path& file) {
  toml::table table = load_experiment(file, {});
  std::vector<ConfigIssue> issues;
  Workflow w;
  w.file = file;
  const fs::path base = file.parent_path();
  unknown_keys(table, {"workflow", "stage", "compare"}, "", issues);

  const toml::table* head = table["workflow"].as_table();
  if (head == nullptr) {
    issues.push_back(issue_at(table.source(), "workflow", "a workflow needs a [workflow] table"));
  } else {
    unknown_keys(*head, {"name", "description", "output_dir", "cache_dir"}, "workflow.", issues);
    w.name = string_at(*head, "name", file.stem().string(), "workflow.", issues);
    string_at(*head, "description", "", "workflow.", issues);
    w.output_dir = string_at(*head, "output_dir", "runs", "workflow.", issues);
    w.cache_dir =
        string_at(*head, "cache_dir", (w.output_dir / "cache").string(), "workflow.", issues);
  }

  static const std::regex name_pattern("[a-z0-9_]+");
  std::set<std::string> names;
  const toml::array* stages = table["stage"].as_array();
  if (stages == nullptr || stages->empty()) {
    issues.push_back(
        issue_at(table.source(), "stage", "a workflow needs at least one [[stage]] table"));
  } else {
    for (size_t i = 0; i < stages->size(); ++i) {
      const std::string prefix = fmt::format("stage[{}].", i);
      const toml::table* s = (*stages)[i].as_table();
      if (s == nullptr) {
        issues.push_back(issue_at((*stages)[i].source(), prefix, "a stage must be a table"));
        continue;
      }
      unknown_keys(*s, {"name", "run", "generate", "export_model", "set", "cache"}, prefix, issues);
      Stage st;
      st.where = s->source();
      st.name = string_at(*s, "name", "", prefix, issues);
      if (!std::regex_match(st.name, name_pattern)) {
        issues.push_back(issue_at(s->source(), prefix + "name",
                                  fmt::format("stage name \"{}\" must be [a-z0-9_]+", st.name)));
      } else if (!names.insert(st.name).second) {
        issues.push_back(issue_at(s->source(), prefix + "name",
                                  fmt::format("two stages are named \"{}\"", st.name)));
      }
      int kinds = 0;
      if (s->contains("run")) {
        ++kinds;
        st.kind = StageKind::Run;
        st.file = base / string_at(*s, "run", "", prefix, issues);
      }
      if (s->contains("generate")) {
        ++kinds;
        st.kind = StageKind::Generate;
        st.file = base / string_at(*s, "generate", "", prefix, issues);
      }
      if (s->contains("export_model")) {
        ++kinds;
        st.kind = StageKind::Export;
        st.source = string_at(*s, "export_model", "", prefix, issues);
      }
      if (kinds != 1) {
        issues.push_back(issue_at(s->source(), prefix + "run",
                                  fmt::format("stage \"{}\" needs exactly one of run, generate "
                                              "and export_model ({} given)",
                                              st.name, kinds)));
      }
      if (const toml::node* set = s->get("set")) {
        const toml::array* list = set->as_array();
        if (list == nullptr) {
          issues.push_back(issue_at(set->source(), prefix + "set",
                                    "'set' must be an array of \"key = value\" strings"));
        } else {
          for (const auto& item : *list) {
            if (const auto* text = item.as_string()) {
              st.sets.push_back(text->get());
              st.set_where.push_back(item.source());
            } else {
              issues.push_back(issue_at(item.source(), prefix + "set",
                                        "'set' items must be strings (\"key = value\")"));
            }
          }
        }
      }
      if (const toml::node* cache = s->get("cache")) {
        if (const auto* b = cache->as_boolean()) {
          st.cache = b->get();
        } else {
          issues.push_back(issue_at(cache->source(), prefix + "cache", "'cache' must be a bool"));
        }
      }
      w.stages.push_back(std::move(st));
    }
  }
  if (const toml::node* compare = table.get("compare")) {
    const toml::table* c = compare->as_table();
    w.compare_where = compare->source();
    if (c == nullptr) {
      issues.push_back(issue_at(compare->source(), "compare", "[compare] must be a table"));
    } else {
      unknown_keys(*c, {"stages"}, "compare.", issues);
      if (const toml::array* list = (*c)["stages"].as_array()) {
        for (const auto& item : *list) {
          if (const auto* text = item.as_string()) w.compare.push_back(text->get());
        }
      }
    }
  }
  // References: export of an earlier run stage; compare of run stages.
  for (size_t i = 0; i < w.stages.size(); ++i) {
    const Stage& st = w.stages[i];
    if (st.kind != StageKind::Export) continue;
    auto found = std::find_if(w.stages.begin(), w.stages.begin() + static_cast<long>(i),
                              [&](const Stage& s) { return s.name == st.source; });
    if (found == w.stages.begin() + static_cast<long>(i) || found->kind != StageKind::Run) {
      issues.push_back(issue_at(st.where, fmt::format("stage[{}].export_model", i),
                                fmt::format("export_model = \"{}\" must name an earlier run "
                                            "stage",
                                            st.source)));
    }
  }
  for (const auto& name : w.compare) {
    auto found = std::find_if(w.stages.begin(), w.stages.end(),
                              [&](const Stage& s) { return s.name == name; });
    if (found == w.stages.end() || found->kind != StageKind::Run) {
      issues.push_back(issue_at(w.compare_where, "compare.stages",
                                fmt::format("\"{}\" is not a run stage of this workflow", name)));
    }
  }
  if (!issues.empty()) throw ConfigError(std::move(issues));
  return w;
}

// `text` with every {name} of an earlier stage replaced by its output path.
std::string expand(const std::string& text, std::span<const Stage> earlier,
                   const std::set<std::string>& all, const toml::source_region& where,
                   const std::string& key, std::vector<ConfigIssue>& issues) {
  static const std::regex placeholder(R"(\{([a-z0-9_]+)\})");
  std::string out;
  auto begin = std::sregex_iterator(text.begin(), text.end(), placeholder);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    out += text.substr(last, static_cast<size_t>(it->position()) - last);
    last = static_cast<size_t>(it->position() + it->length());
    auto found = std::find_if(earlier.begin(), earlier.end(),
                              [&](const Stage& s) { return s.name == name; });
    if (found != earlier.end()) {
      out += found->output.string();
    } else if (all.count(name) > 0) {
      issues.push_back(issue_at(where, key,
                                fmt::format("{{{}}} names a stage that runs later; a stage can "
                                            "only use the outputs of earlier ones",
                                            name)));
    } else {
      out += it->str();  // not a placeholder (an inline TOML table, say)
    }
  }
  return out + text.substr(last);
}

// Resolves every stage's overrides, cache key and output, validating each stage's file. A run
// stage's key also holds the process count: batch_size is per process, so a run in `nproc`
// processes is another experiment (generation makes the same images in any number).
void resolve(Workflow& w, const fs::path& dir, int64_t nproc, const PluginRegistry& registry) {
  std::set<std::string> all;
  for (const auto& st : w.stages) all.insert(st.name);
  std::vector<ConfigIssue> issues;
  for (size_t i = 0; i < w.stages.size(); ++i) {
    Stage& st = w.stages[i];
    const std::span<const Stage> earlier(w.stages.data(), i);
    for (size_t k = 0; k < st.sets.size(); ++k) {
      st.resolved_sets.push_back(expand(st.sets[k], earlier, all, st.set_where[k],
                                        fmt::format("stage[{}].set", i), issues));
    }
    std::string identity = fmt::format("mdlab {}\n{}\n", MDLAB_VERSION_STRING, kind_name(st.kind));
    try {
      if (st.kind == StageKind::Run) {
        identity += load_experiment_checked(st.file, st.resolved_sets, registry).text;
        if (nproc > 1) identity += fmt::format("\nprocesses {}\n", nproc);
      } else if (st.kind == StageKind::Generate) {
        identity +=
            load_experiment_checked(st.file, st.resolved_sets, registry, generate_schema()).text;
      } else {
        auto source = std::find_if(earlier.begin(), earlier.end(),
                                   [&](const Stage& s) { return s.name == st.source; });
        identity += source->key;
      }
    } catch (const ConfigError& error) {
      for (auto issue : error.issues()) {
        issue.message = fmt::format("(stage \"{}\") {}", st.name, issue.message);
        issues.push_back(std::move(issue));
      }
      continue;
    }
    st.key = stable_hash(identity);
    st.output = fs::absolute(st.cache ? w.cache_dir / fmt::format("{}-{}", st.name, st.key)
                                      : dir / st.name);
  }
  if (!issues.empty()) throw ConfigError(std::move(issues));
}

bool run_completed(const fs::path& run_dir) {
  if (!fs::exists(run_dir / "run.h5")) return false;
  try {
    return read_run_log(run_dir / "run.h5").status == RunStatus::Completed;
  } catch (const Error&) {
    return false;
  }
}

// A cached stage's output made visible in the workflow directory.
void link_output(const Stage& st, const fs::path& dir) {
  if (!st.cache) return;
  const fs::path link = dir / st.name;
  std::error_code ignored;
  fs::remove(link, ignored);
  fs::create_directory_symlink(st.output, link);
}

std::string stage_summary(const Workflow& w, const std::vector<std::string>& outcome) {
  std::string text = fmt::format("# workflow {} ({})\n", w.name, w.file.string());
  for (size_t i = 0; i < w.stages.size(); ++i) {
    const Stage& st = w.stages[i];
    text += fmt::format("\n[[stage]]\nname = \"{}\"\n{} = \"{}\"\n", st.name, kind_name(st.kind),
                        st.kind == StageKind::Export ? st.source : st.file.string());
    for (const auto& s : st.resolved_sets) text += fmt::format("# set: {}\n", s);
    text += fmt::format("# cache: {}, key {}\n# output: {}\n", st.cache ? "yes" : "no", st.key,
                        st.output.string());
    if (i < outcome.size()) text += fmt::format("# outcome: {}\n", outcome[i]);
  }
  return text;
}

}  // namespace

bool is_workflow_file(const fs::path& file) {
  if (fs::is_directory(file)) return false;
  return load_experiment(file, {}).contains("workflow");
}

int run_workflow(const WorkflowRequest& request, const PluginRegistry& registry) {
  Workflow w = parse_workflow(request.file);
  fs::path dir;
  if (request.out) {
    dir = *request.out;
  } else {
    const std::string stamp = now_text("{:%Y%m%d-%H%M%S}");
    dir = w.output_dir / w.name / stamp;
    for (int i = 1; fs::exists(dir); ++i) {
      dir = w.output_dir / w.name / fmt::format("{}-{}", stamp, i);
    }
  }
  resolve(w, fs::absolute(dir), request.nproc, registry);
  if (request.validate_only) {
    for (const auto& st : w.stages) {
      std::fprintf(stderr, "%s: stage %s (%s) ok\n", request.file.string().c_str(), st.name.c_str(),
                   kind_name(st.kind));
    }
    return kExitOk;
  }
  MDLAB_CHECK(!fs::exists(dir / "workflow.toml"),
              "{} already holds a workflow; choose another --out", dir.string());
  fs::create_directories(dir);
  install_interrupt_handlers();

  std::vector<std::string> outcome;
  const auto started = std::chrono::steady_clock::now();
  auto record = [&] { write_file_atomic(dir / "workflow.toml", stage_summary(w, outcome)); };
  for (const Stage& st : w.stages) {
    if (interrupt_requested()) {
      outcome.push_back("interrupted before it started");
      record();
      return kExitInterrupted;
    }
    std::fprintf(stderr, "mdlab: workflow %s: stage %s (%s) -> %s\n", w.name.c_str(),
                 st.name.c_str(), kind_name(st.kind), st.output.string().c_str());
    const auto t0 = std::chrono::steady_clock::now();
    int status = kExitOk;
    std::string what;
    try {
      if (st.kind == StageKind::Run) {
        if (st.cache && run_completed(st.output)) {
          what = "reused the completed run in the cache";
        } else {
          RunRequest run;
          run.experiment = st.file;
          run.sets = st.resolved_sets;
          run.out = st.output;
          run.resume = st.cache;  // a cached run left unfinished continues where it stopped
          run.nproc = request.nproc;
          run.plugin_paths = request.plugin_paths;
          status = run_experiment(run, registry);
          what = "ran";
        }
      } else if (st.kind == StageKind::Export) {
        if (st.cache && fs::exists(st.output / "model_index.json")) {
          what = "reused the exported model in the cache";
        } else {
          const auto source = std::find_if(w.stages.begin(), w.stages.end(),
                                           [&](const Stage& s) { return s.name == st.source; });
          export_model(source->output, st.output, registry, /*overwrite=*/true);
          what = "exported";
        }
      } else {
        GenerateRequest gen;
        gen.config = st.file;
        gen.sets = st.resolved_sets;
        gen.out = st.output;
        gen.run_dir = dir / fmt::format("{}-generate-log", st.name);
        gen.nproc = request.nproc;
        gen.plugin_paths = request.plugin_paths;
        status = generate_command(gen, registry);
        what = "generated (existing images kept)";
      }
    } catch (const std::exception& error) {
      outcome.push_back(fmt::format("failed: {}", error_text(error)));
      record();
      std::fprintf(stderr, "mdlab: workflow %s stopped at stage %s; see %s\n", w.name.c_str(),
                   st.name.c_str(), (dir / "workflow.toml").c_str());
      throw;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    outcome.push_back(fmt::format("{} in {:.1f} s, exit {}", what, seconds, status));
    link_output(st, dir);
    record();
    std::fprintf(stderr, "mdlab: workflow %s: stage %s %s in %.1f s\n", w.name.c_str(),
                 st.name.c_str(), what.c_str(), seconds);
    if (status != kExitOk) {
      std::fprintf(stderr, "mdlab: workflow %s stopped at stage %s (exit %d); see %s\n",
                   w.name.c_str(), st.name.c_str(), status, (dir / "workflow.toml").c_str());
      return status;
    }
  }

  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!w.compare.empty()) {
    std::vector<RunLogContents> runs;
    for (const auto& name : w.compare) {
      const auto st = std::find_if(w.stages.begin(), w.stages.end(),
                                   [&](const Stage& s) { return s.name == name; });
      runs.push_back(read_run_log(st->output / "run.h5"));
    }
    const std::string table = render_comparison(runs, TableFormat::Text);
    write_file_atomic(dir / "comparison.txt", table);
    std::fputs(table.c_str(), stdout);
    std::fflush(stdout);
  }
  std::fprintf(stderr, "mdlab: workflow %s completed in %.1f s; stages and outcomes in %s%s\n",
               w.name.c_str(), total, (dir / "workflow.toml").c_str(),
               w.compare.empty()
                   ? ""
                   : fmt::format("; the table in {}; inspect a run with `mdlab show {}/<stage>`",
                                 (dir / "comparison.txt").string(), dir.string())
                         .c_str());
  return kExitOk;
}

}  // namespace mdlab
