// Replays the dataset readers' fuzzing corpora (tests/fuzz/corpus/idx, cifar, image) through
// their fuzz targets in every test run: each input is read or refused with mdlab::Error.
#include "fixtures.h"
#include "fuzz_data_target.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

namespace {

template <class Target>
int replay(const char* corpus, Target&& target) {
  return mdlab::test::for_each_corpus_file(
      corpus, [&](const std::filesystem::path& file, const std::string& bytes) {
        INFO(file.string());
        CHECK_NOTHROW(target(bytes));
      });
}

}  // namespace

TEST_CASE("the IDX fuzzing corpus is read or refused cleanly", "[idx][errors]") {
  CHECK(replay("idx", mdlab::fuzz::run_idx_input) >= 4);
}

TEST_CASE("the CIFAR fuzzing corpus is read or refused cleanly", "[cifar][errors]") {
  CHECK(replay("cifar", mdlab::fuzz::run_cifar_input) >= 2);
}

TEST_CASE("the image-decoder fuzzing corpus is decoded or refused cleanly", "[decode][errors]") {
  CHECK(replay("image", mdlab::fuzz::run_image_input) >= 10);
}
