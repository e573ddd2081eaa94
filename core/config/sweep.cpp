#include "sweep.h"

#include "config_error.h"
#include "toml_util.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace mdlab {
namespace {

using config_detail::inline_value_text;
using config_detail::issue_at;

// Longest text a value contributes to a cell name (names are directory names).
constexpr size_t kMaxLabelChars = 40;

// One swept key and its values in file order.
struct Column {
  std::string key;
  std::vector<std::string> values;           // inline TOML text
  std::vector<std::string> labels;           // for cell names
  std::vector<toml::source_region> origins;  // each value's place in the file
  toml::source_region where;
  bool label = false;  // a plain name in a zip: names the cells, sets nothing
};

// One axis: a plain key (one column) or a zip (several columns of one length).
struct Axis {
  std::vector<Column> columns;
  toml::source_region where;
  size_t size() const { return columns.front().values.size(); }
};

// Axes in the order they are written; those added by --set (each on "line 1" of its own
// argument, so positions say nothing) after the file's, in key order.
bool before(const toml::source_region& a, const toml::source_region& b) {
  auto from_set = [](const toml::source_region& r) {
    return r.path && r.path->rfind("--set ", 0) == 0;
  };
  if (from_set(a) || from_set(b)) return !from_set(a) && from_set(b);
  return std::tie(a.begin.line, a.begin.column) < std::tie(b.begin.line, b.begin.column);
}

// A value as a name part: strings as written, anything else as its TOML text; characters
// that are not safe in a directory name become '_', long values are cut.
std::string label_of(const toml::node& value) {
  std::string text = value.is_string() ? value.as_string()->get() : inline_value_text(value);
  std::string out;
  for (char c : text) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '+' || c == '_';
    if (c == ' ' || c == '"') continue;
    out += safe ? c : '_';
  }
  if (out.size() > kMaxLabelChars) out.resize(kMaxLabelChars);
  return out.empty() ? "_" : out;
}

// Reads the lists under `table` (nested tables become dotted keys) into columns.
void read_columns(const toml::table& table, const std::string& prefix, bool allow_zip,
                  std::vector<Column>& columns, std::vector<Axis>& zips,
                  std::vector<ConfigIssue>& issues);

void read_zip(const toml::node& node, std::vector<Axis>& zips, std::vector<ConfigIssue>& issues) {
  const toml::array* entries = node.as_array();
  if (!entries || !entries->is_array_of_tables()) {
    issues.push_back(issue_at(node.source(), "sweep.zip",
                              "sweep.zip must be tables ([[sweep.zip]]), each mapping keys to "
                              "lists of one length"));
    return;
  }
  for (const auto& entry : *entries) {
    Axis axis;
    axis.where = entry.source();
    std::vector<Axis> nested;
    read_columns(*entry.as_table(), "", false, axis.columns, nested, issues);
    if (axis.columns.empty()) {
      issues.push_back(issue_at(entry.source(), "sweep.zip", "a [[sweep.zip]] table is empty"));
      continue;
    }
    std::stable_sort(axis.columns.begin(), axis.columns.end(),
                     [](const Column& a, const Column& b) { return before(a.where, b.where); });
    bool same = true;
    for (const auto& c : axis.columns) same = same && c.values.size() == axis.size();
    if (!same) {
      std::string sizes;
      for (const auto& c : axis.columns)
        sizes += fmt::format("{}{} has {}", sizes.empty() ? "" : ", ", c.key, c.values.size());
      issues.push_back(issue_at(entry.source(), "sweep.zip",
                                "the lists of a [[sweep.zip]] table vary together and need one "
                                "length: " +
                                    sizes));
      continue;
    }
    zips.push_back(std::move(axis));
  }
}

void read_columns(const toml::table& table, const std::string& prefix, bool allow_zip,
                  std::vector<Column>& columns, std::vector<Axis>& zips,
                  std::vector<ConfigIssue>& issues) {
  for (const auto& [k, node] : table) {
    const std::string key = prefix + std::string(k.str());
    if (allow_zip && prefix.empty() && key == "zip") {
      read_zip(node, zips, issues);
      continue;
    }
    if (const toml::table* sub = node.as_table()) {
      read_columns(*sub, key + ".", false, columns, zips, issues);
      continue;
    }
    const toml::array* list = node.as_array();
    if (!list || list->empty()) {
      issues.push_back(
          issue_at(node.source(), "sweep." + key,
                   fmt::format("sweep value of '{}' must be a non-empty list of "
                               "the values to try, got {}",
                               key, list ? "an empty list" : config_detail::with_article(node))));
      continue;
    }
    Column column;
    column.key = key;
    column.where = node.source();
    // Every config key has a table part ("data.mix"); a plain name is a label of a zip axis.
    column.label = key.find('.') == std::string::npos;
    if (column.label && allow_zip) {
      issues.push_back(issue_at(
          node.source(), "sweep." + key,
          fmt::format("'{}' is not a config key (TABLE.KEY, as \"data.mix\"); a plain name "
                      "labels an axis only inside a [[sweep.zip]] table, beside the keys it "
                      "stands for",
                      key)));
      continue;
    }
    for (const auto& value : *list) {
      column.values.push_back(inline_value_text(value));
      column.labels.push_back(label_of(value));
      column.origins.push_back(value.source());
    }
    columns.push_back(std::move(column));
  }
}

}  // namespace

bool has_sweep(const toml::table& config) {
  return config.contains("sweep");
}

Sweep expand_sweep(toml::table& config, int64_t seeds, int64_t base_seed) {
  Sweep out;
  std::vector<ConfigIssue> issues;
  std::vector<Axis> axes;
  if (const toml::node* node = config.get("sweep")) {
    if (const toml::table* table = node->as_table()) {
      std::vector<Column> columns;
      std::vector<Axis> zips;
      read_columns(*table, "", true, columns, zips, issues);
      for (auto& c : columns) {
        Axis axis;
        axis.where = c.where;
        axis.columns.push_back(std::move(c));
        axes.push_back(std::move(axis));
      }
      for (auto& z : zips) axes.push_back(std::move(z));
      if (axes.empty() && issues.empty())
        issues.push_back(issue_at(node->source(), "sweep", "[sweep] names no key to vary"));
    } else {
      issues.push_back(issue_at(node->source(), "sweep",
                                "sweep must be a table mapping keys to lists of values"));
    }
  }
  // Nested loops in the order the axes are written.
  std::stable_sort(axes.begin(), axes.end(),
                   [](const Axis& a, const Axis& b) { return before(a.where, b.where); });

  // A key set by two axes would make the later one win silently.
  std::map<std::string, toml::source_region> seen;
  std::map<std::string, int> last_parts;
  for (const auto& axis : axes) {
    for (const auto& c : axis.columns) {
      if (!seen.emplace(c.key, c.where).second)
        issues.push_back(
            issue_at(c.where, "sweep." + c.key, fmt::format("'{}' is swept twice", c.key)));
      ++last_parts[c.key.substr(c.key.rfind('.') + 1)];
    }
  }
  if (seeds > 1 && seen.count("experiment.seed")) {
    issues.push_back(issue_at(seen["experiment.seed"], "sweep.experiment.seed",
                              "experiment.seed is swept and --seeds repeats cells over seeds: "
                              "use one of the two"));
  }
  if (!issues.empty()) {
    std::stable_sort(issues.begin(), issues.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    throw ConfigError(std::move(issues));
  }

  // The name part of a key: its last part, unless another axis has the same last part.
  auto short_key = [&](const std::string& key) {
    const std::string last = key.substr(key.rfind('.') + 1);
    return last_parts[last] > 1 ? key : last;
  };
  for (const auto& axis : axes) {
    std::string label;
    for (const auto& c : axis.columns) label += (label.empty() ? "" : "+") + c.key;
    out.axes.push_back(label);
  }
  if (seeds > 1) out.axes.push_back("experiment.seed");

  // Odometer over the axes, the last one fastest; seeds innermost.
  std::vector<size_t> index(axes.size(), 0);
  std::map<std::string, size_t> names;
  for (bool done = false; !done;) {
    SweepCell cell;
    std::vector<std::string> parts;
    for (size_t a = 0; a < axes.size(); ++a) {
      const auto& columns = axes[a].columns;
      for (const auto& c : columns) {
        if (c.label) continue;
        cell.sets.push_back(c.key + "=" + c.values[index[a]]);
        cell.origins.push_back(c.origins[index[a]]);
      }
      cell.values.push_back(columns.front().values[index[a]]);
      parts.push_back(short_key(columns.front().key) + "=" + columns.front().labels[index[a]]);
    }
    for (int64_t s = 0; s < std::max<int64_t>(seeds, 1); ++s) {
      SweepCell seeded = cell;
      std::vector<std::string> named = parts;
      if (seeds > 1) {
        seeded.sets.push_back(fmt::format("experiment.seed={}", base_seed + s));
        seeded.origins.emplace_back();
        seeded.values.push_back(std::to_string(base_seed + s));
        named.push_back(fmt::format("seed={}", base_seed + s));
      }
      seeded.name = fmt::format("{}", fmt::join(named, ","));
      if (seeded.name.empty()) seeded.name = "base";
      out.cells.push_back(std::move(seeded));
    }
    done = true;
    for (size_t a = axes.size(); a-- > 0;) {
      if (++index[a] < axes[a].size()) {
        done = false;
        break;
      }
      index[a] = 0;
    }
  }
  for (size_t i = 0; i < out.cells.size(); ++i) {
    auto [it, fresh] = names.emplace(out.cells[i].name, i);
    if (!fresh) {
      throw ConfigError({issue_at(config.get("sweep")->source(), "sweep",
                                  fmt::format("cells {} and {} would both be named '{}': make "
                                              "their values differ in their first {} characters",
                                              it->second, i, out.cells[i].name, kMaxLabelChars))});
    }
  }
  config.erase("sweep");
  return out;
}

}  // namespace mdlab
