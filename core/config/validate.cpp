#include "validate.h"

#include "toml_util.h"

#include <mdlab/plugin.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

namespace mdlab {

namespace {

using config_detail::issue_at;
using config_detail::toml_type_name;
using config_detail::with_article;

/// Where a node is: its own region, else its key's, else its parent's. Copying a toml++
/// table drops node regions but keeps key regions, so a copied config still points close.
toml::source_region region_of(const toml::node& node, const toml::key* key,
                              const toml::source_region& parent) {
  if (node.source().path) return node.source();
  if (key && key->source().path) return key->source();
  return parent;
}

/// Where an unknown key or table is: a table at its header's '[', a key at the key itself
/// (its value's position would point past the mistake).
toml::source_region offender_region(const toml::key& key, const toml::node& node,
                                    const toml::source_region& parent) {
  if (node.is_table() || !key.source().path) return region_of(node, &key, parent);
  return key.source();
}

std::string join_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

std::string parent_of(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string() : std::string(path.substr(0, dot));
}

std::string last_segment(std::string_view path) {
  size_t dot = path.rfind('.');
  return std::string(dot == std::string_view::npos ? path : path.substr(dot + 1));
}

bool is_wildcard(std::string_view path) {
  return last_segment(path) == "*";
}

/// "; did you mean 'x'?" or "; known ...: a, b" (or "" when there is nothing to suggest).
std::string suggestion_text(std::string_view key, const std::vector<std::string>& candidates,
                            std::string_view known_what) {
  std::string best = closest_match(key, candidates);
  if (!best.empty()) return fmt::format("; did you mean '{}'?", best);
  if (candidates.empty()) return "";
  return fmt::format("; known {}: {}", known_what, fmt::join(candidates, ", "));
}

class Validator {
 public:
  Validator(const ExperimentSchema& schema, const PluginCatalog& catalog)
      : schema_(schema), catalog_(catalog) {
    for (const auto& c : schema.core) add_section_path(c.path);
    for (const auto& p : schema.plugins) add_section_path(p.path);
  }

  ValidatedConfig run(const toml::table& root);

 private:
  void add_section_path(const std::string& path) {
    section_order_.push_back(path);
    for (std::string p = parent_of(path); !p.empty(); p = parent_of(p)) containers_.insert(p);
  }
  const CoreSection* core(std::string_view path) const {
    for (const auto& c : schema_.core)
      if (c.path == path) return &c;
    // A wildcard section ("data.augment.*") covers every table directly below its parent.
    const std::string parent = parent_of(path);
    for (const auto& c : schema_.core)
      if (is_wildcard(c.path) && parent_of(c.path) == parent && !parent.empty()) return &c;
    return nullptr;
  }
  const PluginSection* plugin(std::string_view path) const {
    for (const auto& p : schema_.plugins)
      if (p.path == path) return &p;
    return nullptr;
  }
  bool is_section(const std::string& path) const {
    return core(path) || plugin(path) || containers_.count(path);
  }
  /// Names of the sections directly below `path`, in schema order.
  std::vector<std::string> child_sections(const std::string& path) const {
    std::vector<std::string> out;
    auto add = [&](const std::string& p) {
      if (parent_of(p) != path) return;
      std::string name = last_segment(p);
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    };
    for (const auto& p : section_order_) {
      if (!is_wildcard(p)) add(p);
      // Containers are known only through their descendants.
      for (std::string c = parent_of(p); !c.empty(); c = parent_of(c)) add(c);
    }
    return out;
  }

  void add(const toml::source_region& where, std::string key, std::string message) {
    issues_.push_back(issue_at(where, std::move(key), std::move(message)));
  }

  void dispatch(const std::string& path, const toml::node& node, const toml::key* key,
                const toml::source_region& parent);
  void walk_container(const std::string& path, const toml::table& table,
                      const toml::source_region& where);
  void validate_plugin(const PluginSection& section, const toml::node& node,
                       const toml::source_region& where);
  void validate_plugin_table(const PluginSection& section, const std::string& path,
                             const toml::table& table, const toml::source_region& where);
  Options validate_keys(const std::string& path, const std::string& label,
                        const OptionsSchema& schema, const toml::table& table,
                        const toml::source_region& where, bool plugin_table);
  std::optional<OptionValue> convert(const OptionSpec& spec, const toml::node& node,
                                     const std::string& key_path, const std::string& label,
                                     const toml::source_region& where);
  std::string available(uint32_t kind) const {
    auto names = catalog_.names(kind);
    std::sort(names.begin(), names.end());
    return names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "));
  }

  const ExperimentSchema& schema_;
  const PluginCatalog& catalog_;
  std::vector<std::string> section_order_;
  std::set<std::string> containers_;
  std::set<std::string> seen_;
  std::map<std::string, SectionValues> core_values_;
  std::map<std::string, std::vector<SectionValues>> plugin_values_;
  std::vector<ConfigIssue> issues_;
};

ValidatedConfig Validator::run(const toml::table& root) {
  // Missing tables are reported at the first character of the top file.
  toml::source_region start = root.source();
  if (!start.path) {
    for (const auto& [key, node] : root) {
      if (key.source().path) start.path = key.source().path;
      if (start.path) break;
    }
  }
  start.begin = start.end = {1, 1};

  walk_container("", root, start);

  for (const auto& c : schema_.core) {
    if (seen_.count(c.path) || is_wildcard(c.path)) continue;
    if (c.required) {
      add(start, c.path, fmt::format("missing required table [{}]", c.path));
    } else {
      core_values_[c.path] = SectionValues{c.path, "", default_options(c.schema), {}, false};
    }
  }
  for (const auto& p : schema_.plugins) {
    // A present but invalid table was reported already; an empty array counts as absent.
    if (!p.required || seen_.count(p.path)) continue;
    const char* kind = plugin_kind_name(p.kind);
    if (p.is_array) {
      add(start, p.path,
          fmt::format("missing required [[{}]] tables: at least one {} plugin must be chosen "
                      "(available: {})",
                      p.path, kind, available(p.kind)));
    } else {
      add(start, p.path,
          fmt::format("missing required table [{}]: it chooses the {} plugin (available: {})",
                      p.path, kind, available(p.kind)));
    }
  }

  if (!issues_.empty()) {
    std::stable_sort(issues_.begin(), issues_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.source, a.line, a.column) < std::tie(b.source, b.line, b.column);
    });
    throw ConfigError(std::move(issues_));
  }

  ValidatedConfig out;
  for (const auto& c : schema_.core) {
    if (is_wildcard(c.path)) {
      // Every table the wildcard matched, in name order.
      for (auto& [path, values] : core_values_)
        if (core(path) == &c) out.sections.push_back(std::move(values));
      continue;
    }
    auto it = core_values_.find(c.path);
    if (it != core_values_.end()) out.sections.push_back(std::move(it->second));
  }
  for (const auto& p : schema_.plugins)
    for (auto& v : plugin_values_[p.path]) out.sections.push_back(std::move(v));
  return out;
}

void Validator::dispatch(const std::string& path, const toml::node& node, const toml::key* key,
                         const toml::source_region& parent) {
  seen_.insert(path);
  toml::source_region where = region_of(node, key, parent);
  if (const auto* p = plugin(path)) return validate_plugin(*p, node, where);
  const auto* table = node.as_table();
  if (!table) {
    add(where, path, fmt::format("[{}] must be a table, got {}", path, toml_type_name(node)));
    return;
  }
  if (const auto* c = core(path)) {
    Options options =
        validate_keys(path, fmt::format("[{}]", path), c->schema, *table, where, false);
    core_values_[path] = SectionValues{path, "", std::move(options), where, true};
  } else {
    walk_container(path, *table, where);
  }
}

void Validator::walk_container(const std::string& path, const toml::table& table,
                               const toml::source_region& where) {
  for (const auto& [key, node] : table) {
    std::string child = join_path(path, key.str());
    if (is_section(child)) {
      dispatch(child, node, &key, where);
      continue;
    }
    toml::source_region at = offender_region(key, node, where);
    const char* what = node.is_table() ? "table" : "key";
    std::string hint = suggestion_text(key.str(), child_sections(path), "tables");
    if (path.empty()) {
      add(at, child, fmt::format("unknown top-level {} '{}'{}", what, key.str(), hint));
    } else {
      add(at, child, fmt::format("unknown {} '{}' in [{}]{}", what, key.str(), path, hint));
    }
  }
}

void Validator::validate_plugin(const PluginSection& section, const toml::node& node,
                                const toml::source_region& where) {
  if (!section.is_array) {
    if (const auto* table = node.as_table()) {
      validate_plugin_table(section, section.path, *table, where);
    } else {
      add(where, section.path,
          fmt::format("[{}] must be a table, got {}", section.path, toml_type_name(node)));
    }
    return;
  }
  const auto* array = node.as_array();
  if (!array || (!array->empty() && !array->is_array_of_tables())) {
    std::string got = toml_type_name(node);
    if (array) {
      for (const auto& item : *array)
        if (!item.is_table()) {
          got = fmt::format("an array holding {}", with_article(item));
          break;
        }
    }
    add(where, section.path,
        fmt::format("[{}] must be an array of tables ([[{}]]), got {}", section.path, section.path,
                    got));
    return;
  }
  if (array->empty()) seen_.erase(section.path);
  size_t index = 0;
  for (const auto& item : *array) {
    std::string path = fmt::format("{}[{}]", section.path, index++);
    validate_plugin_table(section, path, *item.as_table(), region_of(item, nullptr, where));
  }
}

void Validator::validate_plugin_table(const PluginSection& section, const std::string& path,
                                      const toml::table& table, const toml::source_region& where) {
  const char* kind = plugin_kind_name(section.kind);
  std::string name_path = path + ".name";
  auto it = table.find("name");
  if (it == table.end()) {
    add(where, name_path,
        fmt::format("missing key 'name' in [{}]: it selects the {} plugin (available: {})", path,
                    kind, available(section.kind)));
    return;
  }
  toml::source_region name_where = region_of(it->second, &it->first, where);
  const auto* name = it->second.as_string();
  if (!name) {
    add(name_where, name_path,
        fmt::format("wrong type for 'name' in [{}]: expected string, got {}", path,
                    toml_type_name(it->second)));
    return;
  }
  const OptionsSchema* schema = catalog_.schema(section.kind, name->get());
  if (!schema) {
    auto names = catalog_.names(section.kind);
    std::sort(names.begin(), names.end());
    std::string best = closest_match(name->get(), names);
    add(name_where, name_path,
        fmt::format("unknown {} plugin '{}' in [{}] (available: {}){}", kind, name->get(), path,
                    available(section.kind),
                    best.empty() ? "" : fmt::format("; did you mean '{}'?", best)));
    // Without a schema the other keys cannot be checked; guessing would only add noise.
    return;
  }
  std::string label = fmt::format("[{}] (plugin '{}')", path, name->get());
  Options options = validate_keys(path, label, *schema, table, where, true);
  plugin_values_[section.path].push_back(
      SectionValues{path, name->get(), std::move(options), where, true});
}

Options Validator::validate_keys(const std::string& path, const std::string& label,
                                 const OptionsSchema& schema, const toml::table& table,
                                 const toml::source_region& where, bool plugin_table) {
  Options options;
  std::set<std::string, std::less<>> given;
  for (const auto& [key, node] : table) {
    // `name` selects the plugin; it is not one of the plugin's options.
    if (plugin_table && key.str() == "name") continue;
    std::string key_path = join_path(path, key.str());
    if (const OptionSpec* spec = schema.find(key.str())) {
      given.insert(spec->name);
      if (auto value = convert(*spec, node, key_path, label, region_of(node, &key, where)))
        options.set(spec->name, std::move(*value));
      continue;
    }
    if (!plugin_table && is_section(key_path)) {
      dispatch(key_path, node, &key, where);
      continue;
    }
    std::vector<std::string> candidates = schema.names();
    if (!plugin_table)
      for (auto& s : child_sections(path)) candidates.push_back(std::move(s));
    add(offender_region(key, node, where), key_path,
        fmt::format("unknown {} '{}' in {}{}", node.is_table() ? "table" : "key", key.str(), label,
                    suggestion_text(key.str(), candidates, "keys")));
  }
  for (const auto& spec : schema.specs()) {
    if (given.count(spec.name)) continue;
    if (spec.default_value) {
      options.set(spec.name, *spec.default_value);
    } else if (spec.required) {
      add(where, join_path(path, spec.name),
          fmt::format("missing required key '{}' in {} ({}{}{})", spec.name, label,
                      option_type_name(spec.type), spec.doc.empty() ? "" : ": ", spec.doc));
    }
  }
  return options;
}

std::optional<OptionValue> Validator::convert(const OptionSpec& spec, const toml::node& node,
                                              const std::string& key_path, const std::string& label,
                                              const toml::source_region& where) {
  auto wrong = [&](const toml::source_region& at, std::string got) {
    add(at, key_path,
        fmt::format("wrong type for '{}' in {}: expected {}, got {}", spec.name, label,
                    option_type_name(spec.type), got));
    return std::optional<OptionValue>();
  };
  // One list item, or nullopt when it has the wrong type.
  auto item_of = [&](const toml::node& item) -> std::optional<OptionValue> {
    switch (spec.type) {
      case OptionType::IntList:
        if (const auto* v = item.as_integer()) return OptionValue{v->get()};
        break;
      case OptionType::FloatList:
        if (const auto* v = item.as_floating_point()) return OptionValue{v->get()};
        if (const auto* v = item.as_integer()) return OptionValue{static_cast<double>(v->get())};
        break;
      case OptionType::StringList:
        if (const auto* v = item.as_string()) return OptionValue{v->get()};
        break;
      default: break;
    }
    return std::nullopt;
  };

  std::optional<OptionValue> value;
  switch (spec.type) {
    case OptionType::Bool:
      if (const auto* v = node.as_boolean()) value = OptionValue{v->get()};
      break;
    case OptionType::Int:
      if (const auto* v = node.as_integer()) value = OptionValue{v->get()};
      break;
    case OptionType::Float:
      if (const auto* v = node.as_floating_point()) value = OptionValue{v->get()};
      if (const auto* v = node.as_integer()) value = OptionValue{static_cast<double>(v->get())};
      break;
    case OptionType::String:
      if (const auto* v = node.as_string()) value = OptionValue{v->get()};
      break;
    case OptionType::IntList:
    case OptionType::FloatList:
    case OptionType::StringList: {
      const auto* array = node.as_array();
      if (!array) break;
      std::vector<int64_t> ints;
      std::vector<double> floats;
      std::vector<std::string> strings;
      size_t index = 0;
      for (const auto& item : *array) {
        ++index;
        auto one = item_of(item);
        if (!one) {
          return wrong(region_of(item, nullptr, where),
                       fmt::format("an array whose item {} is {}", index, with_article(item)));
        }
        if (auto* i = std::get_if<int64_t>(&*one)) ints.push_back(*i);
        if (auto* f = std::get_if<double>(&*one)) floats.push_back(*f);
        if (auto* s = std::get_if<std::string>(&*one)) strings.push_back(std::move(*s));
      }
      if (spec.type == OptionType::IntList) value = OptionValue{std::move(ints)};
      if (spec.type == OptionType::FloatList) value = OptionValue{std::move(floats)};
      if (spec.type == OptionType::StringList) value = OptionValue{std::move(strings)};
      break;
    }
  }
  if (!value) return wrong(where, toml_type_name(node));
  if (std::string problem = spec.check(*value); !problem.empty()) {
    add(where, key_path,
        fmt::format("invalid value for '{}' in {}: {}", spec.name, label, problem));
    return std::nullopt;
  }
  return value;
}

}  // namespace

PluginCatalog::~PluginCatalog() = default;

const SectionValues* ValidatedConfig::find(std::string_view path) const {
  for (const auto& s : sections)
    if (s.path == path) return &s;
  return nullptr;
}

std::vector<const SectionValues*> ValidatedConfig::find_all(std::string_view prefix) const {
  std::vector<const SectionValues*> out;
  for (const auto& s : sections) {
    std::string_view p = s.path;
    bool below = p.size() > prefix.size() && p.substr(0, prefix.size()) == prefix &&
                 (p[prefix.size()] == '[' || p[prefix.size()] == '.');
    if (p == prefix || below) out.push_back(&s);
  }
  return out;
}

ValidatedConfig validate_experiment(const toml::table& config, const ExperimentSchema& schema,
                                    const PluginCatalog& catalog) {
  return Validator(schema, catalog).run(config);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  // Levenshtein distance with one row of the table.
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_match(std::string_view key, const std::vector<std::string>& candidates) {
  const size_t limit = std::max<size_t>(2, key.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(key, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace mdlab
