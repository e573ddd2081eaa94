#include "toml_limits.h"

#include <fmt/format.h>

namespace mdlab {

namespace {

bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '+';  // '+': exponents of numbers, which never reach the limit
}

}  // namespace

std::optional<TomlLimitProblem> check_toml_limits(std::string_view text) {
  {
    // TOML allows no raw control character anywhere (strings and comments included), and
    // toml++ asserts on some of them (a NUL inside a table header) instead of reporting.
    int64_t l = 1, col = 1;
    for (char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      if ((byte < 0x20 && c != '\t' && c != '\n' && c != '\r') || byte == 0x7f) {
        return TomlLimitProblem{
            l, col, fmt::format("a control character (0x{:02x}), which TOML does not allow", byte)};
      }
      if (c == '\n') {
        ++l;
        col = 1;
      } else {
        ++col;
      }
    }
  }
  int64_t line = 1, column = 1;
  int depth = 0;
  int parts = 1;        // dotted parts of the key-like run being read
  bool in_run = false;  // inside a run of key parts and dots
  int64_t run_line = 0, run_column = 0;
  auto problem = [&](int64_t l, int64_t c, std::string message) {
    return TomlLimitProblem{l, c, std::move(message)};
  };
  size_t i = 0;
  auto advance = [&](size_t n) {
    for (size_t k = 0; k < n && i < text.size(); ++k, ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
  };
  auto start_part = [&]() {
    if (!in_run) {
      in_run = true;
      parts = 1;
      run_line = line;
      run_column = column;
    }
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '#') {  // comment to the end of the line
      while (i < text.size() && text[i] != '\n') advance(1);
      in_run = false;
      continue;
    }
    if (c == '"' || c == '\'') {
      // A quoted key part or a string value: skip it whole (multi-line forms too).
      start_part();
      const bool multi = text.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "'''");
      advance(multi ? 3 : 1);
      while (i < text.size()) {
        if (c == '"' && text[i] == '\\') {
          advance(2);
          continue;
        }
        if (multi ? text.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "'''")
                  : text[i] == c) {
          advance(multi ? 3 : 1);
          break;
        }
        if (!multi && text[i] == '\n') break;  // unterminated: toml++ reports it
        advance(1);
      }
      continue;
    }
    if (is_bare_key_char(c)) {
      start_part();
      advance(1);
      continue;
    }
    if (c == '.') {
      if (!in_run) start_part();
      if (++parts > kMaxTomlKeyParts) {
        return problem(run_line, run_column,
                       fmt::format("a key of more than {} dotted parts (experiment keys have a "
                                   "few)",
                                   kMaxTomlKeyParts));
      }
      advance(1);
      continue;
    }
    if (c == ' ' || c == '\t') {  // allowed around the dots of a key
      advance(1);
      continue;
    }
    in_run = false;
    if (c == '[' || c == '{') {
      if (++depth > kMaxTomlNesting) {
        return problem(
            line, column,
            fmt::format("arrays or inline tables nested more than {} deep", kMaxTomlNesting));
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    advance(1);
  }
  return std::nullopt;
}

}  // namespace mdlab
