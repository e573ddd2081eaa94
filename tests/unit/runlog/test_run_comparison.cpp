// `mdlab show` over several runs: stacked evaluation tables, run labels, the three formats.
#include "run_comparison.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

#include <cmath>

using namespace mdlab;

namespace {

RunLogContents run(const std::string& experiment, const std::string& dir) {
  RunLogContents c;
  c.file = std::filesystem::path("/runs") / dir / "run.h5";
  c.meta["experiment"] = experiment;
  c.status = RunStatus::Completed;
  return c;
}

Table table(const std::string& name, std::vector<std::string> rows,
            std::vector<std::string> columns, std::vector<std::vector<double>> values) {
  Table t;
  t.name = name;
  t.rows = std::move(rows);
  t.columns = std::move(columns);
  t.values = std::move(values);
  return t;
}

}  // namespace

TEST_CASE("stacked tables keep every run's rows under the union of the columns") {
  auto simclr = run("simclr_real", "a");
  simclr.tables["linear_probe"] = {table("accuracy", {"simclr_real", "random init"},
                                         {"top1", "top5"}, {{0.761, 0.98}, {0.579, 0.95}})};
  simclr.tables["knn"] = {table("accuracy", {"simclr_real"}, {"top1@20"}, {{0.774}})};
  auto dino = run("dino_real", "b");
  dino.tables["linear_probe"] = {
      table("accuracy", {"dino_real"}, {"top1", "train_top1"}, {{0.687, 0.69}})};

  const auto stacked = stack_tables({simclr, dino});
  REQUIRE(stacked.size() == 2);
  // std::map order within a run: knn before linear_probe.
  CHECK(stacked[0].evaluator == "knn");
  const Table& probe = stacked[1].table;
  CHECK(stacked[1].evaluator == "linear_probe");
  CHECK(probe.name == "accuracy");
  CHECK(probe.columns == std::vector<std::string>{"top1", "top5", "train_top1"});
  CHECK(probe.rows ==
        std::vector<std::string>{"simclr_real", "simclr_real: random init", "dino_real"});
  CHECK(probe.values[0][0] == 0.761);
  CHECK(std::isnan(probe.values[0][2]));  // SimCLR's run has no train_top1
  CHECK(probe.values[2][0] == 0.687);
  CHECK(std::isnan(probe.values[2][1]));  // nor DINO's a top5
  CHECK(probe.values[2][2] == 0.69);
}

TEST_CASE("runs sharing an experiment name are told apart by their directory") {
  const auto labels = run_labels({run("x", "seed0"), run("x", "seed1"), run("y", "other")});
  CHECK(labels == std::vector<std::string>{"x (seed0)", "x (seed1)", "y"});
}

TEST_CASE("the comparison renders as text, markdown and tsv") {
  auto a = run("a", "ra");
  Table t = table("accuracy", {"a"}, {"top1"}, {{0.5}});
  t.notes = {"skipped | no data"};
  a.tables["transfer"] = {t};
  auto b = run("b", "rb");
  b.tables["transfer"] = {table("accuracy", {"b"}, {"top1"}, {{std::nan("")}})};

  const std::string text = render_comparison({a, b}, TableFormat::Text);
  CHECK_THAT(text, Catch::Contains("a (completed): /runs/ra/run.h5"));
  CHECK_THAT(text, Catch::Contains("transfer / accuracy"));
  CHECK_THAT(text, Catch::Contains("0.5000"));

  const std::string md = render_comparison({a, b}, TableFormat::Markdown);
  CHECK_THAT(md, Catch::Contains("## transfer / accuracy"));
  CHECK_THAT(md, Catch::Contains("| run | top1 | note |"));
  CHECK_THAT(md, Catch::Contains("| a | 0.5000 | skipped \\| no data |"));
  CHECK_THAT(md, Catch::Contains("| b | - |  |"));

  const std::string tsv = render_comparison({a, b}, TableFormat::Tsv);
  CHECK_THAT(tsv,
             Catch::Contains("# transfer / accuracy\nrun\ttop1\tnote\na\t0.5\tskipped | no data\n"
                             "b\tnan\t\n"));

  CHECK(parse_table_format("markdown") == TableFormat::Markdown);
  CHECK_THROWS_WITH(parse_table_format("xml"), Catch::Contains("text, markdown or tsv"));
  CHECK_THAT(render_comparison({run("c", "rc")}, TableFormat::Text),
             Catch::Contains("(no evaluation tables)"));
}
