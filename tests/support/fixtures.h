// Where tests find things: the reference fixtures (../shared/fixtures or $MDLAB_FIXTURES),
// the source tree and the build tree.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mdlab::test {

/// Folder `sub` of the fixtures, or nullopt after printing a loud "SKIPPED:" line (CTest
/// then reports the test as skipped). Use: `auto dir = fixture_dir("resnet"); if (!dir) return;`
std::optional<std::filesystem::path> fixture_dir(std::string_view sub);

/// The project's source directory.
std::filesystem::path source_dir();

/// The build directory (bin/mdlab, lib/mdlab/plugins, ...).
std::filesystem::path binary_dir();

/// Calls `each(path, bytes)` for every file of the committed fuzzing corpus
/// tests/fuzz/corpus/<target> and returns how many there were (fails the test when the folder
/// is missing).
int for_each_corpus_file(
    std::string_view target,
    const std::function<void(const std::filesystem::path&, const std::string&)>& each);

/// A fresh empty temporary directory, unique per call, removed when the process exits
/// (kept when MDLAB_KEEP_TEST_DIRS is set).
std::filesystem::path temp_dir(std::string_view tag);

}  // namespace mdlab::test
