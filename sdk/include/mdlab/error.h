// The one exception type of mdlab. Checks at API edges throw mdlab::Error with what went
// wrong and where (function, file, line); callers add context by catching and rethrowing.
#pragma once

#include <mdlab/export.h>

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace mdlab {

/// Error raised by the SDK, core and plugins; what() is the full message for a person.
class MDLAB_SDK_API Error : public std::runtime_error {
 public:
  /// An error with a message and the source location that raised it.
  Error(std::string message, const char* function = "", const char* file = "", int line = 0);
  ~Error() override;
  /// The message without the source location.
  const std::string& message() const noexcept { return message_; }
  /// Function that raised the error ("" when unknown).
  const std::string& function() const noexcept { return function_; }
  /// Source file that raised the error ("" when unknown).
  const std::string& file() const noexcept { return file_; }
  /// Source line that raised the error (0 when unknown).
  int line() const noexcept { return line_; }

 private:
  std::string message_;
  std::string function_;
  std::string file_;
  int line_;
};

}  // namespace mdlab

/// Throws mdlab::Error with an fmt-formatted message and the current source location.
#define MDLAB_THROW(...) \
  throw ::mdlab::Error(::fmt::format(__VA_ARGS__), __func__, __FILE__, __LINE__)

/// Throws mdlab::Error with an fmt-formatted message unless `cond` holds.
#define MDLAB_CHECK(cond, ...)   \
  do {                           \
    if (!(cond)) {               \
      MDLAB_THROW(__VA_ARGS__);  \
    }                            \
  } while (0)
