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
      for (const auto& [name, tensor] : file.tensors) {
        // Every byte of every tensor must be readable (out-of-bounds views would fault here).
        CHECK(tensor.nbytes() == static_cast<size_t>(tensor.numel()) * tensor.element_size());
        const auto* bytes = static_cast<const uint8_t*>(tensor.data_ptr());
        volatile uint64_t sum = 0;
        for (size_t i = 0; i < tensor.nbytes(); ++i) sum = sum + bytes[i];
      }
      ++loaded;
    } catch (const mdlab::Error& e) {
      CHECK_THAT(e.what(), Catch::Contains(entry.path().filename().string()));
    }
  }
  CHECK(files >= 4);
  CHECK(loaded >= 3);  // the valid seeds
}
