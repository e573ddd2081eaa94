// The resolved configuration as TOML text. toml++'s own formatter prints floats with 17
// significant digits (0.1 becomes 0.10000000000000001), which is exact but hard to read in
// a run log; this writer prints the shortest text that reads back to the same double.
#include "experiment_file.h"
#include "toml_util.h"

#include <fmt/format.h>

#include <cmath>
#include <sstream>

namespace mdlab {

namespace config_detail {

std::string toml_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        // TOML forbids raw control characters in basic strings; UTF-8 bytes pass as they are.
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace config_detail

namespace {

using config_detail::toml_quote;

/// A string value: a literal string ('...') when the text allows one, as toml++ writes them
/// (no escapes to read in paths), else a basic string.
std::string string_text(std::string_view text) {
  for (char c : text) {
    if (c == '\'' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return toml_quote(text);
  }
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  out.append(text);
  out += '\'';
  return out;
}

bool is_bare_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string key_text(std::string_view key) {
  return is_bare_key(key) ? std::string(key) : toml_quote(key);
}

std::string float_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);  // shortest round-trip form
  // TOML reads "1" as an integer: a float needs a '.' or an exponent.
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

template <class T>
std::string streamed(const T& value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

bool is_array_of_tables(const toml::node& node) {
  const auto* array = node.as_array();
  return array && !array->empty() && array->is_array_of_tables();
}

/// Keys whose values are written as `key = value` lines (not as [table] sections).
bool is_plain(const toml::node& node) {
  return !node.is_table() && !is_array_of_tables(node);
}

void write_inline(std::string& out, const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: out += string_text(node.as_string()->get()); break;
    case toml::node_type::integer: out += std::to_string(node.as_integer()->get()); break;
    case toml::node_type::floating_point: out += float_text(node.as_floating_point()->get()); break;
    case toml::node_type::boolean: out += node.as_boolean()->get() ? "true" : "false"; break;
    case toml::node_type::date: out += streamed(node.as_date()->get()); break;
    case toml::node_type::time: out += streamed(node.as_time()->get()); break;
    case toml::node_type::date_time: out += streamed(node.as_date_time()->get()); break;
    case toml::node_type::array: {
      out += '[';
      bool first = true;
      for (const auto& item : *node.as_array()) {
        if (!first) out += ", ";
        first = false;
        write_inline(out, item);
      }
      out += ']';
      break;
    }
    case toml::node_type::table: {
      const auto& table = *node.as_table();
      if (table.empty()) {
        out += "{}";
        break;
      }
      out += "{ ";
      bool first = true;
      for (const auto& [key, value] : table) {
        if (!first) out += ", ";
        first = false;
        out += key_text(key.str());
        out += " = ";
        write_inline(out, value);
      }
      out += " }";
      break;
    }
    case toml::node_type::none: break;
  }
}

void write_body(std::string& out, const toml::table& table, const std::string& path) {
  for (const auto& [key, value] : table) {
    if (!is_plain(value)) continue;
    out += key_text(key.str());
    out += " = ";
    write_inline(out, value);
    out += '\n';
  }
  for (const auto& [key, value] : table) {
    const auto* child = value.as_table();
    if (!child) continue;
    std::string child_path = path.empty() ? key_text(key.str()) : path + "." + key_text(key.str());
    bool has_plain = false;
    for (const auto& [k, v] : *child) has_plain = has_plain || is_plain(v);
    // A table holding only sub-tables needs no header of its own (TOML creates it
    // implicitly); an empty one does, or it would vanish.
    if (has_plain || child->empty()) {
      if (!out.empty()) out += '\n';
      out += "[" + child_path + "]\n";
    }
    write_body(out, *child, child_path);
  }
  for (const auto& [key, value] : table) {
    if (!is_array_of_tables(value)) continue;
    std::string child_path = path.empty() ? key_text(key.str()) : path + "." + key_text(key.str());
    for (const auto& item : *value.as_array()) {
      if (!out.empty()) out += '\n';
      out += "[[" + child_path + "]]\n";
      write_body(out, *item.as_table(), child_path);
    }
  }
}

}  // namespace

namespace config_detail {

std::string inline_value_text(const toml::node& node) {
  std::string out;
  write_inline(out, node);
  return out;
}

}  // namespace config_detail

std::string to_toml_text(const toml::table& table) {
  std::string out;
  write_body(out, table, "");
  return out;
}

}  // namespace mdlab
