// Facts about this build, recorded in every run log.
#pragma once

#include <string>

namespace mdlab {

/// Git commit of the source tree at configure time ("unknown" outside a checkout).
const char* build_git_commit();
/// CMake build type ("Release", ...).
const char* build_type();
/// One line: mdlab version, SDK ABI/API, LibTorch, compiler, build type, commit.
std::string build_summary();

}  // namespace mdlab
