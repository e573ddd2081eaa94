// Engine pieces with exact expectations: the learning-rate schedule, progress text, seed
// derivation (fixed forever: runs must reproduce across releases), atomic writes.
#include "atomic_file.h"
#include "error_text.h"
#include "fixtures.h"
#include "progress.h"
#include "sample_rng.h"
#include "trainer.h"

#include <mdlab/context.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

TEST_CASE("warm-up then cosine reaches the peak and the floor") {
  // 10 warm-up steps to 1.0, then cosine over 90 steps to 0.1.
  CHECK(mdlab::warmup_cosine(0, 100, 10, 1.0, 0.1) == Approx(0.1));
  CHECK(mdlab::warmup_cosine(4, 100, 10, 1.0, 0.1) == Approx(0.5));
  CHECK(mdlab::warmup_cosine(10, 100, 10, 1.0, 0.1) == Approx(1.0));
  CHECK(mdlab::warmup_cosine(55, 100, 10, 1.0, 0.1) == Approx(0.55));
  CHECK(mdlab::warmup_cosine(100, 100, 10, 1.0, 0.1) == Approx(0.1));
  CHECK(mdlab::warmup_cosine(0, 100, 0, 2.0, 0.0) == Approx(2.0));
}

TEST_CASE("durations print as m:ss or h:mm:ss") {
  CHECK(mdlab::format_duration(0) == "0:00");
  CHECK(mdlab::format_duration(61.4) == "1:01");
  CHECK(mdlab::format_duration(3725) == "1:02:05");
  CHECK(mdlab::format_duration(-1) == "?");
  CHECK(mdlab::format_duration(NAN) == "?");
}

namespace {

// What a plain (non-terminal) ConsoleProgress driven by `drive` writes.
std::string progress_text(const std::function<void(mdlab::ConsoleProgress&)>& drive) {
  auto dir = mdlab::test::temp_dir("progress");
  auto path = dir / "progress.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f);
  {
    mdlab::ConsoleProgress progress(f, 0, std::chrono::milliseconds(0));
    drive(progress);
  }
  std::fclose(f);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("plain progress writes a start line, periodic lines and a final line") {
  const std::string text = progress_text([](mdlab::ConsoleProgress& progress) {
    progress.begin("train", 4);
    progress.update(2, "loss 0.5");
    progress.end();
  });
  CHECK_THAT(text, Catch::Contains("train: started (4 steps)\n") &&
                       Catch::Contains("train: 2/4  50%") && Catch::Contains("| loss 0.5") &&
                       Catch::Contains("took"));
  CHECK(text.find('\r') == std::string::npos);
}

TEST_CASE("a resumed run's rate counts only the steps of this process") {
  const std::string text = progress_text([](mdlab::ConsoleProgress& progress) {
    progress.begin("train", 1000);
    progress.update(900, "");  // resumed at step 900
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    progress.update(910, "");
    progress.end();
  });
  // 10 steps in at least 50 ms: at most 200 it/s (counting the 900 resumed steps gave ~18,000).
  const std::string last = text.substr(text.rfind("train: "));
  const auto at = last.find(" it/s");
  REQUIRE(at != std::string::npos);
  const auto from = last.rfind("| ", at) + 2;
  CHECK(std::stod(last.substr(from, at - from)) <= 200.0);
}

TEST_CASE("error text drops LibTorch's C++ stack trace and keeps the message") {
  try {
    TORCH_CHECK(false, "weight of shape [3, 4] does not fit [4, 3]");
  } catch (const std::exception& e) {
    const std::string text = mdlab::error_text(e);
    REQUIRE_THAT(std::string(e.what()), Catch::Contains("Exception raised from"));
    CHECK_THAT(text, Catch::Contains("weight of shape [3, 4] does not fit [4, 3]"));
    CHECK_THAT(text, !Catch::Contains("frame #") && !Catch::Contains("Exception raised from"));
  }
  CHECK(mdlab::error_text(std::runtime_error("plain")) == "plain");
}

TEST_CASE("seed derivation is fixed forever") {
  // Changing these values changes every run's random streams: never update them casually.
  CHECK(mdlab::derive_seed(0, "") == mdlab::derive_seed(0, ""));
  CHECK(mdlab::derive_seed(0, "a") != mdlab::derive_seed(0, "b"));
  CHECK(mdlab::derive_seed(1, "a") != mdlab::derive_seed(2, "a"));
  CHECK(mdlab::hash_key("") == 14695981039346656037ULL);  // the FNV-1a offset basis
  CHECK(mdlab::hash_key("a") == 0xaf63dc4c8601ec8cULL);
  mdlab::SampleRng rng(42);
  const uint64_t first = rng.next();
  CHECK(first == mdlab::SampleRng(42).next());
}

TEST_CASE("sample streams depend on every input and stay in range") {
  std::set<uint64_t> firsts;
  for (int64_t epoch = 0; epoch < 3; ++epoch)
    for (const char* key : {"train/0", "train/1"})
      for (int64_t slot = 0; slot < 3; ++slot)
        firsts.insert(mdlab::SampleRng(7, epoch, key, slot).next());
  CHECK(firsts.size() == 18);
  mdlab::SampleRng rng(1);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 30000; ++i) {
    auto v = rng.uniform_int(-1, 1);
    REQUIRE(v >= -1);
    REQUIRE(v <= 1);
    ++counts[v + 1];
    double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
  }
  for (int c : counts) CHECK(std::abs(c - 10000) < 500);
}

TEST_CASE("atomic writes replace the whole file and leave no temporary behind") {
  auto dir = mdlab::test::temp_dir("atomic");
  auto file = dir / "config.toml";
  mdlab::write_file_atomic(file, "a = 1\n");
  mdlab::write_file_atomic(file, "b = 2\n");
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "b = 2\n");
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  CHECK(entries == 1);
  CHECK_THROWS_WITH(mdlab::write_file_atomic(dir / "missing" / "x", "y"),
                    Catch::Contains("cannot create"));
}
