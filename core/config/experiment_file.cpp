#include "experiment_file.h"

#include "path_variables.h"
#include "toml_limits.h"
#include "toml_util.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

namespace mdlab {

namespace {

namespace fs = std::filesystem;
using config_detail::issue_at;
using config_detail::toml_quote;
using config_detail::toml_type_name;
using config_detail::with_article;

/// What identifies a file for cycle detection (two spellings of one file are one file).
fs::path identity_of(const fs::path& file) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(file, ec);
  if (!ec) return canonical;
  fs::path absolute = fs::absolute(file, ec);
  return (ec ? file : absolute).lexically_normal();
}

/// Loads one file and, recursively, its bases; collects issues instead of stopping at the
/// first so a person sees every missing base at once.
class Loader {
 public:
  explicit Loader(const fs::path& top) : top_dir_(top.parent_path()) {}

  /// The merged table of `file` and its bases, or nullopt when `file` itself could not be
  /// read or parsed. `included_from` is the `extends` entry naming it (null for the top file).
  std::optional<toml::table> load(const fs::path& file, const toml::source_region* included_from);

  std::vector<ConfigIssue> issues;

 private:
  struct Frame {
    fs::path identity;
    std::string shown;
  };

  /// A path as shown in a cycle: relative to the top file's folder when it lies below it.
  std::string shown(const fs::path& file) const {
    if (top_dir_.empty()) return file.string();
    fs::path rel = file.lexically_relative(top_dir_);
    if (rel.empty() || *rel.begin() == "..") return file.string();
    return rel.string();
  }

  void add_read_problem(const fs::path& file, const toml::source_region* included_from,
                        const std::string& what) {
    if (included_from) {
      issues.push_back(issue_at(*included_from, "extends",
                                fmt::format("base file '{}' {}", file.string(), what)));
    } else {
      issues.push_back({file.string(), 0, 0, "", fmt::format("experiment file {}", what)});
    }
  }

  fs::path top_dir_;
  std::vector<Frame> chain_;
};

std::optional<toml::table> Loader::load(const fs::path& file,
                                        const toml::source_region* included_from) {
  fs::path identity = identity_of(file);
  auto same = [&](const Frame& frame) { return frame.identity == identity; };
  if (std::any_of(chain_.begin(), chain_.end(), same)) {
    // The whole chain from the top file, so the way into the cycle is visible too.
    std::vector<std::string> names;
    for (const auto& frame : chain_) names.push_back(frame.shown);
    names.push_back(shown(file));
    issues.push_back(issue_at(*included_from, "extends",
                              fmt::format("extends cycle: {}", fmt::join(names, " -> "))));
    return std::nullopt;
  }

  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    add_read_problem(file, included_from, "is a directory");
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::string why = fs::exists(file, ec) ? "cannot be read" : "does not exist";
    // The usual cause: an experiment file copied away from the base files it names.
    if (included_from && why == "does not exist")
      why += fmt::format(
          " (extends entries are relative to the file that names them, so it was looked for in "
          "{}: copy the base files there or point the entry at them)",
          file.parent_path().lexically_normal().string());
    add_read_problem(file, included_from, why);
    return std::nullopt;
  }
  // Devices and pipes (/dev/zero) and huge files would be read until memory runs out.
  if (!fs::is_regular_file(file, ec)) {
    add_read_problem(file, included_from, "is not a regular file");
    return std::nullopt;
  }
  if (const auto bytes = fs::file_size(file, ec); !ec && bytes > kMaxExperimentFileBytes) {
    add_read_problem(file, included_from,
                     fmt::format("has {} bytes; experiment files are at most {} bytes (is this "
                                 "the right file?)",
                                 bytes, kMaxExperimentFileBytes));
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (auto limit = check_toml_limits(text.str())) {
    issues.push_back({file.string(), limit->line, limit->column, "", limit->message});
    return std::nullopt;
  }

  toml::table table;
  try {
    table = toml::parse(text.str(), std::string(file.string()));
  } catch (const toml::parse_error& e) {
    issues.push_back(
        issue_at(e.source(), "", fmt::format("TOML syntax error: {}", e.description())));
    return std::nullopt;
  }

  chain_.push_back({identity, shown(file)});
  toml::table bases;
  if (const toml::node* extends = table.get("extends")) {
    struct Entry {
      std::string name;
      toml::source_region where;
    };
    std::vector<Entry> entries;
    if (const auto* one = extends->as_string()) {
      entries.push_back({one->get(), one->source()});
    } else if (const auto* many = extends->as_array()) {
      for (const auto& item : *many) {
        const auto& where = item.source().path ? item.source() : extends->source();
        if (const auto* name = item.as_string()) {
          entries.push_back({name->get(), where});
        } else {
          issues.push_back(issue_at(where, "extends",
                                    fmt::format("'extends' entries must be file names (strings), "
                                                "got {}",
                                                toml_type_name(item))));
        }
      }
    } else {
      issues.push_back(issue_at(extends->source(), "extends",
                                fmt::format("'extends' must be an array of file names, got {}",
                                            toml_type_name(*extends))));
    }
    for (const auto& entry : entries) {
      fs::path base = fs::path(entry.name);
      if (base.is_relative()) base = file.parent_path() / base;
      if (auto loaded = load(base.lexically_normal(), &entry.where))
        bases = merge_tables(std::move(bases), std::move(*loaded));
    }
    table.erase("extends");
  }
  chain_.pop_back();
  return merge_tables(std::move(bases), std::move(table));
}

/// A key whose region is a column range of a --set argument.
toml::key key_at(const std::string& name, const std::shared_ptr<const std::string>& source,
                 size_t column) {
  toml::source_region where;
  where.begin = {1, static_cast<toml::source_index>(column)};
  where.end = {1, static_cast<toml::source_index>(column + name.size())};
  where.path = source;
  return toml::key(name, std::move(where));
}

/// Parses `text` as the value of a one-line document, padded so that the value starts at
/// 0-based offset `offset` (>= 2) of the line: its nodes then carry the column the value has
/// inside the --set argument.
toml::table parse_value_at(std::string_view text, size_t offset, const std::string& source) {
  std::string doc = "v" + std::string(offset - 2, ' ') + "=" + std::string(text);
  return toml::parse(doc, std::string(source));
}

/// The offset of the first byte of `s` that is not part of a well-formed UTF-8 sequence
/// (overlong forms, surrogates and code points above U+10FFFF included), or nullopt.
std::optional<size_t> first_invalid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return i;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0u) != 0x80u) return i;
      cp = (cp << 6) | (d & 0x3fu);
    }
    const uint32_t min_cp = n == 1 ? 0x80u : n == 2 ? 0x800u : 0x10000u;
    if (cp < min_cp || cp > 0x10ffffu || (cp >= 0xd800u && cp <= 0xdfffu)) return i;
    i += n + 1;
  }
  return std::nullopt;
}

std::string trimmed(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

/// `s` with every byte that is not well-formed UTF-8 written as \xNN, for messages.
std::string escape_invalid_utf8(std::string_view s) {
  std::string out;
  while (auto bad = first_invalid_utf8(s)) {
    out.append(s.substr(0, *bad));
    out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[*bad]));
    s.remove_prefix(*bad + 1);
  }
  out.append(s);
  return out;
}

void apply_override(toml::table& config, const std::string& arg, std::vector<ConfigIssue>& issues) {
  const std::string shown = escape_invalid_utf8(arg);
  const std::string source = "--set " + shown;
  auto fail = [&](size_t column, std::string key, std::string_view problem) {
    issues.push_back({source, 1, static_cast<int64_t>(column), std::move(key),
                      fmt::format("malformed --set '{}': {}", shown, problem)});
  };

  if (auto bad = first_invalid_utf8(arg)) {
    // The text goes into messages, TOML and run logs: it must be UTF-8 throughout.
    const size_t eq_at = arg.find('=');
    const std::string key_part =
        eq_at != std::string::npos && eq_at < *bad ? trimmed(arg.substr(0, eq_at)) : "";
    return fail(*bad + 1, key_part,
                fmt::format("byte {} (0x{:02x}) is not valid UTF-8{}", *bad + 1,
                            static_cast<unsigned char>(arg[*bad]),
                            key_part.empty() ? "" : " in the value of '" + key_part + "'"));
  }
  size_t eq = arg.find('=');
  if (eq == std::string::npos) return fail(1, "", "expected KEY=VALUE");
  const std::string key = trimmed(std::string_view(arg).substr(0, eq));
  if (key.empty()) return fail(1, "", "empty key before '='");

  // Key segments with the 1-based column where each starts, for the keys' regions.
  std::vector<std::pair<std::string, size_t>> segments;
  size_t start = 0;
  while (true) {
    size_t dot = arg.find('.', start);
    if (dot == std::string::npos || dot > eq) dot = eq;
    std::string_view raw = std::string_view(arg).substr(start, dot - start);
    std::string name = trimmed(raw);
    size_t lead = raw.find_first_not_of(" \t");
    if (name.empty()) return fail(start + 1, key, fmt::format("empty part in key '{}'", key));
    segments.emplace_back(name, start + lead + 1);
    if (segments.size() > static_cast<size_t>(kMaxTomlKeyParts)) {
      return fail(1, "", fmt::format("a key of more than {} dotted parts", kMaxTomlKeyParts));
    }
    if (dot == eq) break;
    start = dot + 1;
  }

  size_t offset = eq + 1;
  while (offset < arg.size() && (arg[offset] == ' ' || arg[offset] == '\t')) ++offset;
  std::string value = arg.substr(offset);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();

  std::optional<toml::table> doc;
  std::string problem;
  size_t problem_column = offset + 1;
  if (value.find_first_of("\r\n") != std::string::npos) {
    problem = "line breaks are not allowed in the value";
  } else if (auto limit = check_toml_limits(value)) {
    return fail(offset + static_cast<size_t>(limit->column), key,
                fmt::format("cannot read the value: {}", limit->message));
  } else {
    try {
      toml::table parsed = parse_value_at(value, offset, source);
      if (parsed.size() == 1 && parsed.contains("v")) {
        doc = std::move(parsed);
      } else {
        problem = "the value is not a single TOML value";
      }
    } catch (const toml::parse_error& e) {
      problem = std::string(e.description());
      problem_column = e.source().begin.column;
    }
  }
  if (!doc) {
    // Bare text is a convenience for paths and names; anything that looks like TOML
    // structure but does not parse is a mistake worth reporting.
    if (!problem.empty() && value.find_first_of("\"'[]{}\r\n") != std::string::npos)
      return fail(problem_column, key, fmt::format("cannot read the value: {}", problem));
    doc = parse_value_at(toml_quote(value), offset, source);
  }

  const auto source_name = doc->source().path;
  toml::table* table = &config;
  std::string walked;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    const auto& [segment, column] = segments[i];
    // "eval[1]": the table at index 1 of the list `eval` (an [[eval]] entry).
    size_t index = 0;
    std::string name = segment;
    const size_t open = segment.find('[');
    const bool indexed = open != std::string::npos && segment.back() == ']';
    if (indexed) {
      name = segment.substr(0, open);
      const std::string digits = segment.substr(open + 1, segment.size() - open - 2);
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
        return fail(column, key, fmt::format("'{}' is not NAME[INDEX]", segment));
    }
    walked += (walked.empty() ? "" : ".") + segment;
    if (indexed) {
      toml::array* list = table->get(name) ? table->get(name)->as_array() : nullptr;
      if (!list || index >= list->size() || !(*list)[index].is_table()) {
        issues.push_back(
            {source, 1, static_cast<int64_t>(column), key,
             fmt::format("--set '{}': {} names no table: '{}' {}", arg, segment, name,
                         !list ? std::string("is not a list (of [[") + name + "]] tables)"
                               : fmt::format("has {} entries, counted from 0", list->size()))});
        return;
      }
      table = (*list)[index].as_table();
      continue;
    }
    toml::node* child = table->get(name);
    if (!child) {
      // An empty document's root table carries the --set source at 1:1.
      toml::table created = toml::parse("", std::string(source));
      table->insert(key_at(name, source_name, column), std::move(created));
      child = table->get(name);
    } else if (!child->is_table()) {
      issues.push_back(
          {source, 1, static_cast<int64_t>(column), key,
           fmt::format("--set '{}': '{}' is {}, not a table", arg, walked, with_article(*child))});
      return;
    }
    table = child->as_table();
  }
  const auto& [leaf, leaf_column] = segments.back();
  if (leaf.find('[') != std::string::npos)
    return fail(leaf_column, key,
                fmt::format("'{}': set a key of one entry ({}.KEY=VALUE) or the whole list "
                            "({}=[...])",
                            leaf, leaf, leaf.substr(0, leaf.find('['))));
  // Erase first so the key, too, points at the --set argument.
  table->erase(leaf);
  table->insert(key_at(leaf, source_name, leaf_column), std::move(*doc->get("v")));
}

}  // namespace

toml::table merge_tables(toml::table base, toml::table over) {
  for (auto&& [key, node] : base) {
    toml::node* mine = over.get(key.str());
    if (!mine) {
      over.insert(key, std::move(node));
      continue;
    }
    auto* mine_table = mine->as_table();
    auto* base_table = node.as_table();
    if (mine_table && base_table) {
      // The result is `over`'s table, so the merged table points at the later file.
      toml::table merged = merge_tables(std::move(*base_table), std::move(*mine_table));
      *mine_table = std::move(merged);
    }
  }
  return over;
}

void apply_overrides(toml::table& config, const std::vector<std::string>& sets) {
  std::vector<ConfigIssue> issues;
  for (const auto& arg : sets) apply_override(config, arg, issues);
  if (!issues.empty()) throw ConfigError(std::move(issues));
}

toml::table load_experiment(const std::filesystem::path& file,
                            const std::vector<std::string>& sets) {
  Loader loader(file);
  std::optional<toml::table> config = loader.load(file, nullptr);
  if (!loader.issues.empty()) throw ConfigError(std::move(loader.issues));
  apply_overrides(*config, sets);
  expand_path_variables(*config);
  return std::move(*config);
}

}  // namespace mdlab
