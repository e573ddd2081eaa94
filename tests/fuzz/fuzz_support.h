// What the fuzz targets share: the scratch folder a target writes its inputs to (one per
// process and target under the temporary directory, removed when the process exits normally:
// the unit tests' replays; libFuzzer leaves it behind only when it stops on a finding), and
// the rule that a refused input raises mdlab::Error and nothing else.
#pragma once

#include <mdlab/error.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <unistd.h>

namespace mdlab::fuzz {

/// Creates <tmp>/mdlab-fuzz-<target>-<pid> at construction and removes it at destruction.
struct ScratchDir {
  explicit ScratchDir(const std::string& target)
      : path(std::filesystem::temp_directory_path() /
             ("mdlab-fuzz-" + target + "-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::filesystem::path path;  ///< the folder
};

/// Runs `f`, swallowing the mdlab::Error (DataError, ConfigError included) that a refused
/// input raises; any other exception escapes and is a finding.
template <class F>
void refused_or_ok(F&& f) {
  try {
    f();
  } catch (const Error&) {
  }
}

}  // namespace mdlab::fuzz
