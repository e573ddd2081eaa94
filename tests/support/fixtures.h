// Where tests find things: the reference fixtures (../shared/fixtures or $MDLAB_FIXTURES),
// the source tree and the build tree.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace mdlab::test {

/// Folder `sub` of the fixtures, or nullopt after printing a loud "SKIPPED:" line (CTest
/// then reports the test as skipped). Use: `auto dir = fixture_dir("resnet"); if (!dir) return;`
std::optional<std::filesystem::path> fixture_dir(std::string_view sub);

/// The project's source directory.
std::filesystem::path source_dir();

/// The build directory (bin/mdlab, lib/mdlab/plugins, ...).
std::filesystem::path binary_dir();

/// A fresh empty temporary directory, unique per call, removed when the process exits
/// (kept when MDLAB_KEEP_TEST_DIRS is set).
std::filesystem::path temp_dir(std::string_view tag);

}  // namespace mdlab::test
