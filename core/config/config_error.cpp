#include "config_error.h"

#include <fmt/format.h>

#include <utility>

namespace mdlab {

namespace {

std::string join_issues(const std::vector<ConfigIssue>& issues) {
  std::string out;
  for (const auto& issue : issues) {
    if (!out.empty()) out += '\n';
    out += issue.format();
  }
  return out;
}

}  // namespace

std::string ConfigIssue::format() const {
  if (source.empty()) return message;
  if (line <= 0) return fmt::format("{}: {}", source, message);
  return fmt::format("{}:{}:{}: {}", source, line, column, message);
}

ConfigError::ConfigError(std::vector<ConfigIssue> issues)
    : Error(join_issues(issues)), issues_(std::move(issues)) {}

ConfigError::~ConfigError() = default;

}  // namespace mdlab
