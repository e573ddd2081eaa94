// Replays the JSON-config fuzzing corpus (tests/fuzz/corpus/json_config) through the fuzz
// target in every test run: each input is accepted or refused with mdlab::Error.
#include "fixtures.h"
#include "fuzz_json_config_target.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

TEST_CASE("the JSON-config fuzzing corpus is read or refused cleanly", "[folder][errors]") {
  const auto corpus = mdlab::test::source_dir() / "tests" / "fuzz" / "corpus" / "json_config";
  REQUIRE(std::filesystem::is_directory(corpus));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    INFO(entry.path().string());
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    CHECK_NOTHROW(mdlab::fuzz::run_json_config_input(bytes.str()));
  }
  CHECK(files >= 4);
}
