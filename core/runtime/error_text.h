// The text of an exception for a person: LibTorch's c10::Error appends the C++ stack trace
// of the throw ("Exception raised from ... frame #0: ...") to what(), which says nothing to
// someone whose model config or weights are wrong and buries the one line that does.
#pragma once

#include <exception>
#include <string>

namespace mdlab {

/// what() of `error`, without the stack trace when it is a c10::Error.
std::string error_text(const std::exception& error);

}  // namespace mdlab
