#include "fixtures.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace mdlab::test {

std::optional<std::filesystem::path> fixture_dir(std::string_view sub) {
  const char* env = std::getenv("MDLAB_FIXTURES");
  std::filesystem::path root = env && *env ? env : MDLAB_DEFAULT_FIXTURES;
  std::filesystem::path dir = root / std::string(sub);
  if (!std::filesystem::is_directory(dir)) {
    std::fprintf(stdout,
                 "SKIPPED: reference fixtures not found at %s (set MDLAB_FIXTURES to the "
                 "shared/fixtures folder to run this parity test)\n",
                 dir.c_str());
    std::fflush(stdout);
    return std::nullopt;
  }
  return dir;
}

std::filesystem::path source_dir() {
  return MDLAB_SOURCE_DIR;
}

std::filesystem::path binary_dir() {
  const char* env = std::getenv("MDLAB_TEST_BINARY_DIR");
  return env && *env ? env : MDLAB_BINARY_DIR;
}

namespace {

// The directories temp_dir made, removed when the test process exits (a test binary leaves
// nothing in /tmp) unless MDLAB_KEEP_TEST_DIRS is set, for looking at a failure.
class TempDirs {
 public:
  void add(const std::filesystem::path& dir) {
    std::lock_guard<std::mutex> lock(mutex_);
    dirs_.push_back(dir);
  }
  ~TempDirs() {
    const char* keep = std::getenv("MDLAB_KEEP_TEST_DIRS");
    if (keep && *keep) return;
    std::error_code ec;
    for (const auto& dir : dirs_) std::filesystem::remove_all(dir, ec);
  }

 private:
  std::mutex mutex_;
  std::vector<std::filesystem::path> dirs_;
};

TempDirs& temp_dirs() {
  static TempDirs dirs;
  return dirs;
}

}  // namespace

std::filesystem::path temp_dir(std::string_view tag) {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("mdlab-test-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  temp_dirs().add(dir);
  return dir;
}

int for_each_corpus_file(
    std::string_view target,
    const std::function<void(const std::filesystem::path&, const std::string&)>& each) {
  const auto corpus = source_dir() / "tests" / "fuzz" / "corpus" / std::string(target);
  if (!std::filesystem::is_directory(corpus)) {
    throw std::runtime_error("no fuzzing corpus at " + corpus.string());
  }
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    each(entry.path(), bytes.str());
  }
  return files;
}

}  // namespace mdlab::test
