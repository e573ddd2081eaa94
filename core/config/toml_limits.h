// Limits checked on experiment-file text before toml++ parses it. toml++ descends
// recursively into dotted keys and nested arrays / inline tables, so a key of tens of
// thousands of dotted parts overflows the stack (a crash, not an error); and a file is read
// whole, so a huge file (or /dev/zero) would be read until memory runs out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mdlab {

/// The largest experiment file read (experiment files are kilobytes).
inline constexpr std::uintmax_t kMaxExperimentFileBytes = 4u << 20;
/// The most dotted parts of one key (`a.b.c` has 3) and the deepest nesting of arrays and
/// inline tables accepted; real experiment files use fewer than 10 of either.
inline constexpr int kMaxTomlKeyParts = 64;
inline constexpr int kMaxTomlNesting = 64;

/// Where and why `text` exceeds a limit.
struct TomlLimitProblem {
  int64_t line = 0;    ///< 1-based
  int64_t column = 0;  ///< 1-based
  std::string message;
};

/// The first place where `text` (TOML) has a raw control character (TOML allows none but tab
/// and line breaks), a key of more than kMaxTomlKeyParts parts or arrays / inline tables
/// nested more than kMaxTomlNesting deep; nullopt when within limits.
/// A light scan (strings and comments skipped), not a parser: text that is not TOML is left
/// for toml++ to report.
std::optional<TomlLimitProblem> check_toml_limits(std::string_view text);

}  // namespace mdlab
