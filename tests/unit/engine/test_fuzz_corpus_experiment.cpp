// Replays the experiment-file fuzzing corpus (tests/fuzz/corpus/experiment: seeds, inputs the
// fuzzer found interesting, inputs that once crashed) through the fuzz target in every test
// run: each must load and validate, or be rejected with a ConfigError / mdlab::Error.
#include "fixtures.h"
#include "fuzz_experiment_target.h"

#include <catch2/catch.hpp>

TEST_CASE("the experiment-file fuzzing corpus loads or fails cleanly") {
  const int files = mdlab::test::for_each_corpus_file(
      "experiment", [](const std::filesystem::path& file, const std::string& bytes) {
        INFO(file.string());
        CHECK_NOTHROW(mdlab::fuzz::run_experiment_input(bytes));
      });
  CHECK(files >= 5);
}
