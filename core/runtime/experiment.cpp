#include "experiment.h"

#include "config_error.h"
#include "experiment_file.h"
#include "experiment_schema.h"
#include "host_checks.h"
#include "run_context.h"
#include "toml_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <tuple>

namespace mdlab {

RegistryCatalog::RegistryCatalog(const PluginRegistry& registry) : registry_(registry) {
  for (const auto* p : registry.all())
    schemas_.emplace(std::make_pair(p->kind, p->name), p->factory->options_schema());
}

const OptionsSchema* RegistryCatalog::schema(uint32_t kind, std::string_view name) const {
  auto it = schemas_.find(std::make_pair(kind, std::string(name)));
  return it == schemas_.end() ? nullptr : &it->second;
}

std::vector<std::string> RegistryCatalog::names(uint32_t kind) const {
  std::vector<std::string> out;
  for (const auto* p : registry_.of_kind(kind)) out.push_back(p->name);
  return out;
}

Experiment load_experiment_checked(const std::filesystem::path& file,
                                   const std::vector<std::string>& sets,
                                   const PluginRegistry& registry) {
  return load_experiment_checked(file, sets, registry, experiment_schema());
}

Experiment load_experiment_checked(const std::filesystem::path& file,
                                   const std::vector<std::string>& sets,
                                   const PluginRegistry& registry, const ExperimentSchema& schema) {
  toml::table table = load_experiment(file, sets);
  if (const toml::node* sweep = table.get("sweep")) {
    throw ConfigError({config_detail::issue_at(
        sweep->source(), "sweep",
        fmt::format("{} is a sweep (it has a [sweep] table): run its cells with `mdlab sweep {}` "
                    "(one of them with --cell K; --dry-run lists them)",
                    file.string(), file.string()))});
  }
  return check_experiment(file, std::move(table), registry, schema);
}

Experiment check_experiment(const std::filesystem::path& file, toml::table table,
                            const PluginRegistry& registry, const ExperimentSchema& schema) {
  Experiment exp;
  exp.file = file;
  exp.table = std::move(table);
  exp.text = to_toml_text(exp.table);
  RegistryCatalog catalog(registry);
  std::vector<ConfigIssue> issues;
  try {
    exp.config = validate_experiment(exp.table, schema, catalog);
  } catch (const ConfigError& error) {
    issues = error.issues();
  }

  // The device is checked with the rest, so a CUDA request on a CPU build is reported at the
  // line that asked for it, together with any other problem, before any work starts.
  const toml::node* node = exp.table.at_path("experiment.device").node();
  if (node && node->is_string()) {
    if (std::string why = device_problem(node->value_or(std::string())); !why.empty()) {
      const auto& where = node->source();
      issues.push_back({where.path ? *where.path : file.string(),
                        static_cast<int64_t>(where.begin.line),
                        static_cast<int64_t>(where.begin.column), "experiment.device", why});
    }
  }
  // fp16 autocast and loss scaling exist for CUDA only in LibTorch 1.13.
  const toml::node* precision = exp.table.at_path("train.precision").node();
  if (precision && precision->value_or(std::string()) == "fp16") {
    const std::string device = node && node->is_string() ? node->value_or(std::string()) : "cpu";
    if (!c10::Device(device_problem(device).empty() ? device : "cpu").is_cuda()) {
      const auto& where = precision->source();
      issues.push_back({where.path ? *where.path : file.string(),
                        static_cast<int64_t>(where.begin.line),
                        static_cast<int64_t>(where.begin.column), "train.precision",
                        fmt::format("precision \"fp16\" needs a CUDA device (experiment.device is "
                                    "\"{}\"); use \"bf16\" on the CPU",
                                    device)});
    }
  }
  if (!issues.empty()) {
    std::stable_sort(issues.begin(), issues.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
      return std::tie(a.source, a.line, a.column) < std::tie(b.source, b.line, b.column);
    });
    throw ConfigError(std::move(issues));
  }
  return exp;
}

void check_data_paths(const Experiment& experiment, const DataPathUse& use) {
  std::vector<ConfigIssue> issues;
  // `what` is "folder" or "file"; the value comes from the validated options (defaults too).
  auto check = [&](const SectionValues& section, const std::string& key, const char* what) {
    const std::string value = section.options.get_string(key);
    if (value.empty()) return;
    std::error_code ec;
    const auto status = std::filesystem::status(value, ec);
    const bool folder = std::string_view(what) == "folder";
    std::string why;
    if (!std::filesystem::exists(status)) {
      why = fmt::format("{} {} does not exist", what, value);
    } else if (folder && !std::filesystem::is_directory(status)) {
      why = fmt::format("{} is not a folder", value);
    } else if (!folder && std::filesystem::is_directory(status)) {
      why = fmt::format("{} is a folder, not a file", value);
    } else {
      return;
    }
    const std::string dotted = section.path + "." + key;
    if (!std::filesystem::path(value).is_absolute())
      why += fmt::format(" (relative to the working directory {})",
                         std::filesystem::current_path().string());
    const toml::node* node = experiment.table.at_path(dotted).node();
    const toml::source_region where = node ? node->source() : section.where;
    issues.push_back({where.path ? *where.path : experiment.file.string(),
                      static_cast<int64_t>(where.begin.line),
                      static_cast<int64_t>(where.begin.column), dotted,
                      fmt::format("{}: {}", dotted, why)});
  };
  const SectionValues* data = experiment.config.find("data");
  if (data) {
    check(*data, "root", "folder");
    check(*data, "class_list", "file");
    const SectionValues* synthetic = experiment.config.find("data.synthetic");
    if (use.synthetic && synthetic && data->options.get_string("mix") != "real")
      check(*synthetic, "root", "folder");
  }
  if (use.datasets) {
    for (const SectionValues* d : experiment.config.find_all("datasets")) {
      if (!d->present || d->path.rfind("datasets.", 0) != 0) continue;
      check(*d, "root", "folder");
      check(*d, "class_list", "file");
    }
  }
  if (!issues.empty()) throw ConfigError(std::move(issues));
}

std::shared_ptr<Method> build_method(const Experiment& experiment, const PluginRegistry& registry,
                                     RunContext& context) {
  const SectionValues* b = experiment.config.find("backbone");
  const SectionValues* m = experiment.config.find("method");
  auto make_backbone = [&registry, &context, plugin = b->plugin, options = b->options] {
    auto backbone = registry.create_backbone(plugin, options, context);
    backbone->to(context.device());
    return backbone;
  };
  context.set_backbone_factory(make_backbone);
  context.set_registry(registry);
  auto backbone = make_backbone();
  auto method = registry.create_method(m->plugin, m->options, context);
  method->attach(backbone, context);
  method->to(context.device());
  return method;
}

}  // namespace mdlab
