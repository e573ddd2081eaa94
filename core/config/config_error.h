// Errors in experiment files. Every problem found is a ConfigIssue located at the TOML node
// that caused it (file:line:col, also inside base files and --set arguments); loading and
// validation collect all issues and throw them together as one ConfigError, so a person
// fixes a file in one round. The CLI maps ConfigError to exit status 2.
#pragma once

#include <mdlab/error.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mdlab {

/// One problem in an experiment file.
struct ConfigIssue {
  std::string source;   ///< file path as opened, or "--set KEY=VALUE"; "" when unknown
  int64_t line = 0;     ///< 1-based line; 0 when the problem has no position
  int64_t column = 0;   ///< 1-based column; 0 when the problem has no position
  std::string key;      ///< dotted key concerned ("method.temperature", "eval[0].k"), or ""
  std::string message;  ///< what is wrong, naming the key

  /// "file:line:col: message" ("file: message" without a position, "message" without a file).
  std::string format() const;
};

/// One or more issues in an experiment file; what() lists them, one per line.
class ConfigError : public Error {
 public:
  /// An error carrying `issues` (at least one).
  explicit ConfigError(std::vector<ConfigIssue> issues);
  ~ConfigError() override;
  /// The issues, in the order they are reported.
  const std::vector<ConfigIssue>& issues() const noexcept { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

}  // namespace mdlab
