// Replays the JSON-config fuzzing corpus (tests/fuzz/corpus/json_config) through the fuzz
// target in every test run: each input is accepted or refused with mdlab::Error.
#include "fixtures.h"
#include "fuzz_json_config_target.h"

#include <catch2/catch.hpp>

TEST_CASE("the JSON-config fuzzing corpus is read or refused cleanly", "[folder][errors]") {
  const int files = mdlab::test::for_each_corpus_file(
      "json_config", [](const std::filesystem::path& file, const std::string& bytes) {
        INFO(file.string());
        CHECK_NOTHROW(mdlab::fuzz::run_json_config_input(bytes));
      });
  CHECK(files >= 4);
}
