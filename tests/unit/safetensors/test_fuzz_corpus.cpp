// Replays the fuzzing corpus (tests/fuzz/corpus/safetensors: seeds, inputs the fuzzer found
// interesting, and any input that once crashed the reader) through read_safetensors in every
// test run: each must load or raise mdlab::Error, nothing else.
#include "fixtures.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>

#include <catch2/catch.hpp>

#include <torch/torch.h>

TEST_CASE("the fuzzing corpus loads or fails cleanly") {
  const auto corpus = mdlab::test::source_dir() / "tests" / "fuzz" / "corpus" / "safetensors";
  REQUIRE(std::filesystem::is_directory(corpus));
  int files = 0, loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    INFO(entry.path().string());
    try {
      auto file = mdlab::read_safetensors(entry.path());
      for (const auto& [name, tensor] : file.tensors) CHECK(tensor.nbytes() >= 0);
      ++loaded;
    } catch (const mdlab::Error& e) {
      CHECK_THAT(e.what(), Catch::Contains(entry.path().filename().string()));
    }
  }
  CHECK(files >= 4);
  CHECK(loaded >= 3);  // the valid seeds
}
