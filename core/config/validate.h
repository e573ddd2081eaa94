// Validation of a loaded experiment file against the core and plugin option schemas.
//
// The top level holds core tables (`experiment`, `train`, `data`, with sub-tables such as
// `data.synthetic` described by their own CoreSection) and plugin tables (`backbone`,
// `method`, `generator`, and `eval` as an array of tables), where the key `name` selects
// the plugin whose schema applies to the other keys. Every problem is collected and reported
// at once, before any work starts, each with the file:line:col of the offending node (the
// enclosing table for a missing key, file:1:1 for a missing table).
//
// Values: integers are accepted where a float is declared (converted); a list is a TOML
// array whose items all have the item type (ints accepted in float lists; an empty array
// is any list). Missing keys take the schema default; optional keys without one stay
// absent. Required keys are enforced in tables that are present; a table that must be
// present is marked `required`.
#pragma once

#include "config_error.h"

#include <mdlab/options.h>

#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// A core table of the experiment file.
struct CoreSection {
  std::string path;             ///< dotted path: "experiment", "train", "data.synthetic";
                                ///< a last segment "*" ("data.augment.*") matches every table
                                ///< below its parent (names checked by the caller)
  mdlab::OptionsSchema schema;  ///< the keys it accepts
  bool required = false;        ///< the file must have the table
  std::string doc;              ///< one paragraph for the reference docs
};

/// A table (or array of tables) whose `name` key selects a plugin of one kind.
struct PluginSection {
  std::string path;       ///< "backbone", "method", "generator", "eval"
  uint32_t kind = 0;      ///< mdlab_plugin_kind
  bool is_array = false;  ///< an array of tables ([[eval]]), each selecting a plugin
  bool required = false;  ///< the file must have it (for an array: at least one entry)
  std::string doc;        ///< one paragraph for the reference docs
};

/// Everything the experiment file may contain.
struct ExperimentSchema {
  std::vector<CoreSection> core;       ///< core tables, in documentation order
  std::vector<PluginSection> plugins;  ///< plugin tables, in documentation order
};

/// The plugins available to an experiment, by kind (the plugin registry in the CLI, a fake
/// in tests).
class PluginCatalog {
 public:
  virtual ~PluginCatalog();
  /// Options schema of plugin `name` of `kind`, or nullptr when there is no such plugin.
  virtual const mdlab::OptionsSchema* schema(uint32_t kind, std::string_view name) const = 0;
  /// Names of all plugins of `kind`.
  virtual std::vector<std::string> names(uint32_t kind) const = 0;
};

/// Validated values of one table.
struct SectionValues {
  std::string path;           ///< "train", "data.synthetic", "method", "eval[0]"
  std::string plugin;         ///< selected plugin name; "" for a core table
  mdlab::Options options;     ///< every key with a value or a default, of the declared type
  toml::source_region where;  ///< the table in the file (empty region when absent)
  bool present = false;       ///< the file has the table (absent core tables get defaults)
};

/// The validated experiment: core tables first (schema order, present or not), then the
/// plugin tables present (schema order; array entries in file order).
struct ValidatedConfig {
  std::vector<SectionValues> sections;  ///< all validated tables

  /// The table at `path` ("train", "eval[1]"), or nullptr.
  const SectionValues* find(std::string_view path) const;
  /// Tables at `prefix` or below it ("eval" gives eval[0], eval[1], ...; "data" gives data
  /// and data.synthetic), in the order of `sections`.
  std::vector<const SectionValues*> find_all(std::string_view prefix) const;
};

/// Validates `config` against `schema` and the plugins in `catalog`; throws ConfigError
/// listing every issue (sorted by file, line, column).
ValidatedConfig validate_experiment(const toml::table& config, const ExperimentSchema& schema,
                                    const PluginCatalog& catalog);

/// Edit distance between two keys (for did-you-mean suggestions).
size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `key` when it is close enough to be a likely typo (distance at
/// most max(2, key length / 3)); "" otherwise. Ties go to the earlier candidate.
std::string closest_match(std::string_view key, const std::vector<std::string>& candidates);

}  // namespace mdlab
