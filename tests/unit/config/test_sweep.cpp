// Sweeps: [sweep] tables expanded into cells (grid order, zip axes, seeds, names) whose
// overrides give the values they name, and the errors of malformed sweeps.
#include "config_test_support.h"
#include "experiment_file.h"
#include "fixtures.h"
#include "sweep.h"

#include <catch2/catch.hpp>

namespace fs = std::filesystem;
using mdlab::expand_sweep;
using mdlab::Sweep;
using mdlab::test::issues_of;
using mdlab::test::write_file;
using Strings = std::vector<std::string>;

namespace {

// Loads `text` as an experiment file (so nodes carry file positions) and expands its sweep.
Sweep expand(const std::string& text, int64_t seeds = 1, toml::table* resolved = nullptr) {
  const fs::path file = write_file(mdlab::test::temp_dir("sweep"), "exp.toml", text);
  toml::table config = mdlab::load_experiment(file, {});
  Sweep sweep = expand_sweep(config, seeds, 7);
  if (resolved) *resolved = std::move(config);
  return sweep;
}

Strings names(const Sweep& sweep) {
  Strings out;
  for (const auto& cell : sweep.cells) out.push_back(cell.name);
  return out;
}

}  // namespace

TEST_CASE("a sweep is the grid of its keys, the first written outermost") {
  toml::table rest;
  const Sweep sweep = expand(R"([train]
epochs = 3

[sweep]
"data.mix" = ["real", "mixdiff"]
"data.fraction" = [0.25, 1.0]
method.temperature = [0.1, 0.5, 1]
)",
                             1, &rest);
  CHECK(sweep.axes == Strings{"data.mix", "data.fraction", "method.temperature"});
  REQUIRE(sweep.cells.size() == 12);
  CHECK(sweep.cells[0].name == "mix=real,fraction=0.25,temperature=0.1");
  CHECK(sweep.cells[1].name == "mix=real,fraction=0.25,temperature=0.5");
  CHECK(sweep.cells[3].name == "mix=real,fraction=1.0,temperature=0.1");
  CHECK(sweep.cells[11].name == "mix=mixdiff,fraction=1.0,temperature=1");
  CHECK(sweep.cells[4].sets ==
        Strings{"data.mix='real'", "data.fraction=1.0", "method.temperature=0.5"});
  // The sweep is gone from the config; a cell's overrides set exactly its values.
  CHECK_FALSE(rest.contains("sweep"));
  mdlab::apply_overrides(rest, sweep.cells[11].sets);
  CHECK(rest.at_path("data.mix").value_or(std::string()) == "mixdiff");
  CHECK(rest.at_path("data.fraction").value_or(0.0) == 1.0);
  CHECK(rest.at_path("method.temperature").value_or(int64_t{0}) == 1);
  CHECK(rest.at_path("train.epochs").value_or(int64_t{0}) == 3);
}

TEST_CASE("zip axes vary their keys together; seeds repeat every cell innermost") {
  const Sweep sweep = expand(R"([sweep]
"data.mix" = ["synthetic", "mixdiff"]

[[sweep.zip]]
"generator.guidance_scale" = [1.0, 3.0]
"data.synthetic.root" = ["gen/g 1", "gen/g3"]
)",
                             2);
  CHECK(sweep.axes ==
        Strings{"data.mix", "generator.guidance_scale+data.synthetic.root", "experiment.seed"});
  REQUIRE(sweep.cells.size() == 8);
  CHECK(
      names(sweep) ==
      Strings{"mix=synthetic,guidance_scale=1.0,seed=7", "mix=synthetic,guidance_scale=1.0,seed=8",
              "mix=synthetic,guidance_scale=3.0,seed=7", "mix=synthetic,guidance_scale=3.0,seed=8",
              "mix=mixdiff,guidance_scale=1.0,seed=7", "mix=mixdiff,guidance_scale=1.0,seed=8",
              "mix=mixdiff,guidance_scale=3.0,seed=7", "mix=mixdiff,guidance_scale=3.0,seed=8"});
  CHECK(sweep.cells[2].sets == Strings{"data.mix='synthetic'", "generator.guidance_scale=3.0",
                                       "data.synthetic.root='gen/g3'", "experiment.seed=7"});
  // One value per axis (a zip shows its first key's), and where each override was written.
  CHECK(sweep.cells[2].values == Strings{"'synthetic'", "3.0", "7"});
  REQUIRE(sweep.cells[2].origins.size() == 4);
  CHECK(sweep.cells[2].origins[0].begin.line == 2);
  CHECK(sweep.cells[2].origins[0].begin.column == 15);
  CHECK(sweep.cells[2].origins[2].begin.line == 6);
  CHECK(sweep.cells[2].origins[2].begin.column == 37);
  CHECK_FALSE(sweep.cells[2].origins[3].path);  // the seed comes from --seeds
}

TEST_CASE("axes added with --set come after the file's, in key order") {
  const fs::path file = write_file(mdlab::test::temp_dir("sweep"), "exp.toml",
                                   "[sweep]\n\"train.lr\" = [0.1, 0.2]\n");
  toml::table config =
      mdlab::load_experiment(file, {"sweep.method.temperature=[0.5]", "sweep.data.fraction=[1.0]"});
  const Sweep sweep = expand_sweep(config);
  CHECK(sweep.axes == Strings{"train.lr", "data.fraction", "method.temperature"});
  CHECK(sweep.cells[1].name == "lr=0.2,fraction=1.0,temperature=0.5");
}

TEST_CASE("cell names are safe directory names and tell same-named keys apart") {
  const Sweep sweep = expand(R"([sweep]
"data.root" = ["/data/fmnist v2"]
"datasets.shift.root" = ["/x"]
"data.crop_split" = [[1, 6, 1, 2]]
)");
  REQUIRE(sweep.cells.size() == 1);
  CHECK(sweep.cells[0].name ==
        "data.root=_data_fmnistv2,datasets.shift.root=_x,crop_split=_1_6_1_2_");
  // No sweep at all: one cell with no overrides.
  const Sweep none = expand("[train]\nepochs = 2\n");
  REQUIRE(none.cells.size() == 1);
  CHECK(none.cells[0].name == "base");
  CHECK(none.cells[0].sets.empty());
}

TEST_CASE("malformed sweeps are config errors at their keys, all reported") {
  const fs::path dir = mdlab::test::temp_dir("sweep-bad");
  const std::string text = R"([sweep]
"data.mix" = "real"
"data.fraction" = []

[[sweep.zip]]
"a.b" = [1, 2]
"a.c" = [1]
)";
  const fs::path file = write_file(dir, "bad.toml", text);
  toml::table config = mdlab::load_experiment(file, {});
  const auto issues = issues_of([&] { expand_sweep(config); });
  REQUIRE(issues.size() == 3);
  CHECK(issues[0].line == 2);
  CHECK_THAT(issues[0].message, Catch::Contains("non-empty list") && Catch::Contains("a string"));
  CHECK(issues[1].line == 3);
  CHECK_THAT(issues[1].message, Catch::Contains("an empty list"));
  CHECK(issues[2].line == 5);
  CHECK_THAT(issues[2].message, Catch::Contains("a.b has 2, a.c has 1"));

  toml::table twice = mdlab::load_experiment(
      write_file(dir, "twice.toml", "[sweep]\n\"a.b\" = [1]\n[[sweep.zip]]\n\"a.b\" = [2]\n"), {});
  CHECK_THAT(issues_of([&] { expand_sweep(twice); })[0].message,
             Catch::Contains("'a.b' is swept twice"));
  toml::table seeded = mdlab::load_experiment(
      write_file(dir, "seeded.toml", "[sweep]\n\"experiment.seed\" = [1, 2]\n"), {});
  CHECK_THAT(issues_of([&] { expand_sweep(seeded, 3); })[0].message,
             Catch::Contains("use one of the two"));
  toml::table clash = mdlab::load_experiment(
      write_file(dir, "clash.toml", "[sweep]\n\"data.root\" = [\"a/b\", \"a_b\"]\n"), {});
  CHECK_THAT(issues_of([&] { expand_sweep(clash); })[0].message,
             Catch::Contains("would both be named 'root=a_b'"));
}

TEST_CASE("a plain name in a zip labels the axis: names the cells, sets nothing") {
  const Sweep sweep = expand(R"([sweep]
"data.mix" = ["mixdiff"]
[[sweep.zip]]
guidance = [1.0, 8.0]
"data.synthetic.root" = ["/gen/g1", "/gen/g8"]
)");
  CHECK(sweep.axes == Strings{"data.mix", "guidance+data.synthetic.root"});
  REQUIRE(sweep.cells.size() == 2);
  CHECK(sweep.cells[1].name == "mix=mixdiff,guidance=8.0");
  CHECK(sweep.cells[1].sets == Strings{"data.mix='mixdiff'", "data.synthetic.root='/gen/g8'"});
  CHECK(sweep.cells[1].values == Strings{"'mixdiff'", "8.0"});
  CHECK(sweep.cells[1].origins.size() == sweep.cells[1].sets.size());
  // Outside a zip a plain name labels nothing: an error at it.
  const auto issues = issues_of([] { expand("[sweep]\nguidance = [1.0]\n"); });
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].line == 2);
  CHECK_THAT(issues[0].message, Catch::Contains("'guidance' is not a config key"));
}
