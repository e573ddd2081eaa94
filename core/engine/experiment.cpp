#include "experiment.h"

#include "config_error.h"
#include "experiment_file.h"
#include "experiment_schema.h"
#include "host_checks.h"

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
  Experiment exp;
  exp.file = file;
  exp.table = load_experiment(file, sets);
  exp.text = to_toml_text(exp.table);
  RegistryCatalog catalog(registry);
  exp.config = validate_experiment(exp.table, experiment_schema(), catalog);

  // The device is checked with the rest, so a CUDA request on a CPU build is a config error
  // at the line that asked for it, before any work starts.
  const auto* experiment = exp.config.find("experiment");
  const std::string device = experiment->options.get_string("device");
  if (std::string why = device_problem(device); !why.empty()) {
    ConfigIssue issue;
    const toml::node* node = exp.table.at_path("experiment.device").node();
    const auto& where = node ? node->source() : exp.table.source();
    issue.source = where.path ? *where.path : file.string();
    issue.line = node ? where.begin.line : 1;
    issue.column = node ? where.begin.column : 1;
    issue.key = "experiment.device";
    issue.message = why;
    throw ConfigError({issue});
  }
  return exp;
}

}  // namespace mdlab
