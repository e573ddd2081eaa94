// An experiment file turned into validated settings: extends merged, --set applied, every
// table checked against core's and the plugins' schemas (plus the device) before any work.
#pragma once

#include "plugin_registry.h"
#include "validate.h"

#include <mdlab/method.h>

#include <toml++/toml.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mdlab {

class RunContext;

/// The plugin registry seen as the validator's catalog of schemas.
class RegistryCatalog final : public PluginCatalog {
 public:
  explicit RegistryCatalog(const PluginRegistry& registry);
  const OptionsSchema* schema(uint32_t kind, std::string_view name) const override;
  std::vector<std::string> names(uint32_t kind) const override;

 private:
  const PluginRegistry& registry_;
  std::map<std::pair<uint32_t, std::string>, OptionsSchema, std::less<>> schemas_;
};

/// A loaded and validated experiment.
struct Experiment {
  std::filesystem::path file;  ///< the experiment file
  toml::table table;           ///< resolved table (extends merged, overrides applied)
  std::string text;            ///< resolved TOML text, as written to the run directory
  ValidatedConfig config;      ///< validated values per section
};

/// Loads, resolves and validates `file`; throws ConfigError listing every problem. A file with
/// a [sweep] table is refused at that table (its cells are experiments, see sweep_command.h).
Experiment load_experiment_checked(const std::filesystem::path& file,
                                   const std::vector<std::string>& sets,
                                   const PluginRegistry& registry);
/// As above, against `schema` (generate_schema() for `mdlab generate`).
Experiment load_experiment_checked(const std::filesystem::path& file,
                                   const std::vector<std::string>& sets,
                                   const PluginRegistry& registry, const ExperimentSchema& schema);

/// Validates `table`, loaded from `file` (extends merged, overrides applied; moved in so its
/// nodes keep their source positions), against `schema` and the plugins, plus the device.
Experiment check_experiment(const std::filesystem::path& file, toml::table table,
                            const PluginRegistry& registry, const ExperimentSchema& schema);

/// Which of the experiment's data paths a command reads (see check_data_paths).
struct DataPathUse {
  bool synthetic = true;  ///< [data.synthetic] root (when [data] mix reads partners)
  bool datasets = true;   ///< every [datasets.<name>] root and class_list
};

/// Checks that the data folders and files the experiment reads exist before any work starts:
/// [data] root (a folder) and class_list (a file), and as `use` says the synthetic partners'
/// root and the [datasets.*] roots and class lists. Throws ConfigError listing every missing
/// path at the file:line:col of its key (exit 2), so a typo is not found at run time.
void check_data_paths(const Experiment& experiment, const DataPathUse& use = {});

/// Builds the experiment's backbone and method on `context` and attaches them; the context can
/// then create further backbones of the same table (DINO's teacher). `context` must outlive
/// the method.
std::shared_ptr<Method> build_method(const Experiment& experiment, const PluginRegistry& registry,
                                     RunContext& context);

}  // namespace mdlab
