// Helpers shared by the run-log tests: reading files, running external tools, and checking
// whether h5dump and h5py (Debian's, under /usr/bin/python3) are installed.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mdlab::test {

/// A fresh temporary directory (mdlab::test::temp_dir) removed with its contents on scope exit.
struct ScopedTempDir {
  explicit ScopedTempDir(std::string_view tag);
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  std::filesystem::path path;  ///< the directory
};

/// The whole file as bytes.
std::string slurp(const std::filesystem::path& file);

/// Result of a shell command: exit status (-1 when it did not exit normally) and stdout+stderr.
struct CommandResult {
  int status = -1;
  std::string output;
};

/// Runs `command` through /bin/sh, capturing stdout and stderr together.
CommandResult run_command(const std::string& command);

/// The path quoted for /bin/sh.
std::string shell_quote(const std::string& text);

/// Whether `h5dump` is on PATH.
bool have_h5dump();

/// Whether /usr/bin/python3 can import h5py.
bool have_h5py();

/// Number of points of /metrics/<metric> as h5py sees it, or -1 with `error` set.
long h5py_metric_length(const std::filesystem::path& file, const std::string& metric,
                        std::string& error);

}  // namespace mdlab::test
