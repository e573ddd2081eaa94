// Replays the experiment-file fuzzing corpus (tests/fuzz/corpus/experiment: seeds, inputs the
// fuzzer found interesting, inputs that once crashed) through the fuzz target in every test
// run: each must load and validate, or be rejected with a ConfigError / mdlab::Error.
#include "fixtures.h"
#include "fuzz_experiment_target.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

TEST_CASE("the experiment-file fuzzing corpus loads or fails cleanly") {
  const auto corpus = mdlab::test::source_dir() / "tests" / "fuzz" / "corpus" / "experiment";
  REQUIRE(std::filesystem::is_directory(corpus));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    INFO(entry.path().string());
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    CHECK_NOTHROW(mdlab::fuzz::run_experiment_input(bytes.str()));
  }
  CHECK(files >= 5);
}
