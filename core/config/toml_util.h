// Small helpers shared by the config sources (not part of the module's API).
#pragma once

#include "config_error.h"

#include <toml++/toml.h>

#include <string>
#include <string_view>

namespace mdlab::config_detail {

/// An issue located at the start of `where`.
inline ConfigIssue issue_at(const toml::source_region& where, std::string key,
                            std::string message) {
  ConfigIssue issue;
  issue.source = where.path ? *where.path : std::string();
  issue.line = where.begin.line;
  issue.column = where.begin.column;
  issue.key = std::move(key);
  issue.message = std::move(message);
  return issue;
}

/// Type of a node as named in messages, matching the option type names ("int", "float").
inline const char* toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "int";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "bool";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

/// The type name of `node` with its article ("an int", "a string").
inline std::string with_article(const toml::node& node) {
  std::string name = toml_type_name(node);
  bool vowel = name.find_first_of("aeiou") == 0;
  return (vowel ? "an " : "a ") + name;
}

/// `text` as a TOML basic string ("..." with escapes); valid for any UTF-8 text.
std::string toml_quote(std::string_view text);

/// `node` as an inline TOML value (`0.5`, `"text"`, `[1, 2]`, `{ a = 1 }`), floats in their
/// shortest round-trip form; reads back to an equal value.
std::string inline_value_text(const toml::node& node);

}  // namespace mdlab::config_detail
