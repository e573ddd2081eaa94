#include "runlog_test_util.h"

#include "fixtures.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sys/wait.h>

namespace mdlab::test {

ScopedTempDir::ScopedTempDir(std::string_view tag) : path(temp_dir(tag)) {}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool have_h5dump() {
  return run_command("command -v h5dump >/dev/null").status == 0;
}

bool have_h5py() {
  // Debian's h5py lives with Debian's Python; a python3 earlier on PATH may lack it.
  return run_command("/usr/bin/python3 -c 'import h5py' >/dev/null").status == 0;
}

long h5py_metric_length(const std::filesystem::path& file, const std::string& metric,
                        std::string& error) {
  const std::string script =
      "import h5py, sys\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "d = f['metrics/' + sys.argv[2]]\n"
      "rows = d[:]\n"
      "assert rows.dtype.names == ('step', 'value', 'time'), rows.dtype\n"
      "print(len(rows))\n";
  const auto result = run_command("/usr/bin/python3 -c " + shell_quote(script) + " " +
                                  shell_quote(file.string()) + " " + shell_quote(metric));
  if (result.status != 0) {
    error = result.output;
    return -1;
  }
  try {
    return std::stol(result.output);
  } catch (...) {
    error = "unexpected output: " + result.output;
    return -1;
  }
}

}  // namespace mdlab::test
