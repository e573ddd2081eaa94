#include "path_variables.h"

#include "config_error.h"
#include "toml_util.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace mdlab {
namespace {

using config_detail::issue_at;

struct Expander {
  std::map<std::string, std::string> paths;
  std::vector<ConfigIssue> issues;

  // `text` with its variables replaced; problems are reported at `node` under `key`.
  std::string expand(const std::string& text, const toml::node& node, const std::string& key,
                     bool allow_paths) {
    std::string out;
    for (size_t i = 0; i < text.size();) {
      if (text.compare(i, 3, "$${") == 0) {
        out += "${";
        i += 3;
        continue;
      }
      if (text.compare(i, 2, "${") != 0) {
        out += text[i++];
        continue;
      }
      const size_t close = text.find('}', i + 2);
      if (close == std::string::npos) {
        issues.push_back(issue_at(node.source(), key,
                                  fmt::format("{}: '${{' without a closing '}}' in \"{}\" (write "
                                              "$${{ for a literal ${{)",
                                              key, text)));
        return text;
      }
      const std::string name = text.substr(i + 2, close - i - 2);
      i = close + 1;
      if (name.rfind("env:", 0) == 0) {
        std::string var = name.substr(4), fallback;
        const size_t dash = var.find(":-");
        const bool has_default = dash != std::string::npos;
        if (has_default) {
          fallback = var.substr(dash + 2);
          var.resize(dash);
        }
        const char* value = std::getenv(var.c_str());
        if (value && *value) {
          out += value;
        } else if (has_default) {
          out += fallback;
        } else {
          issues.push_back(issue_at(
              node.source(), key,
              fmt::format("{}: environment variable {} is {} (\"${{env:{}}}\"; give a default "
                          "with ${{env:{}:-DEFAULT}})",
                          key, var, value ? "empty" : "not set", var, var)));
        }
      } else if (name.rfind("paths.", 0) == 0 && allow_paths) {
        const auto it = paths.find(name.substr(6));
        if (it != paths.end()) {
          out += it->second;
        } else {
          std::vector<std::string> known;
          for (const auto& [k, v] : paths) known.push_back(k);
          issues.push_back(issue_at(
              node.source(), key,
              fmt::format("{}: ${{{}}} names no entry of [paths] ({})", key, name,
                          known.empty() ? std::string("the config has no [paths] table")
                                        : fmt::format("it has {}", fmt::join(known, ", ")))));
        }
      } else {
        issues.push_back(issue_at(
            node.source(), key,
            fmt::format("{}: unknown variable ${{{}}}: use ${{paths.NAME}} or ${{env:VAR}}{}", key,
                        name, allow_paths ? "" : " ([paths] values may use ${env:...} only)")));
      }
    }
    return out;
  }

  void walk(toml::node& node, const std::string& key) {
    if (auto* table = node.as_table()) {
      for (auto&& [k, child] : *table)
        walk(child, key.empty() ? std::string(k.str()) : key + "." + std::string(k.str()));
    } else if (auto* array = node.as_array()) {
      for (size_t i = 0; i < array->size(); ++i) walk((*array)[i], fmt::format("{}[{}]", key, i));
    } else if (auto* value = node.as_string()) {
      if (value->get().find('$') != std::string::npos)
        value->get() = expand(value->get(), node, key, true);
    }
  }
};

}  // namespace

void expand_path_variables(toml::table& config) {
  Expander e;
  if (toml::node* paths = config.get("paths")) {
    if (auto* table = paths->as_table()) {
      for (auto&& [k, v] : *table) {
        const std::string key = "paths." + std::string(k.str());
        if (auto* s = v.as_string()) {
          e.paths[std::string(k.str())] = e.expand(s->get(), v, key, false);
        } else {
          e.issues.push_back(issue_at(v.source(), key,
                                      fmt::format("{} must be a string (a path), got {}", key,
                                                  config_detail::with_article(v))));
        }
      }
    } else {
      e.issues.push_back(
          issue_at(paths->source(), "paths", "paths must be a table of names to paths ([paths])"));
    }
  }
  for (auto&& [k, node] : config)
    if (k.str() != "paths") e.walk(node, std::string(k.str()));
  if (!e.issues.empty()) throw ConfigError(std::move(e.issues));
  config.erase("paths");
}

}  // namespace mdlab
