// The sweep record: written atomically and read back whole, rebuilt from the cells' run logs
// (pending, completed, failed, unreadable), and summarised as mean ± std over seeds.
#include "run_log.h"
#include "runlog_test_util.h"
#include "sweep_record.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <tuple>

namespace fs = std::filesystem;
using namespace mdlab;
using Strings = std::vector<std::string>;

namespace {

// A finished cell's run log: train/loss points, a knn table, and the given status.
void write_cell(const fs::path& dir, double loss, double top1, RunStatus status,
                const std::string& reason = "") {
  fs::create_directories(dir);
  RunLog log = RunLog::create(dir / "run.h5", "[experiment]\nname = \"x\"\n");
  log.set_meta("experiment", "x");
  log.add_metric("train/loss", 1, loss + 1);
  log.add_metric("train/loss", 2, loss);
  Table t;
  t.name = "accuracy";
  t.rows = {"x"};
  t.columns = {"top1@20"};
  t.values = {{top1}};
  log.write_table("knn", t);
  log.set_status(status, reason);
  log.flush();
}

// Three cells: lr 0.1 over seeds 0 and 1, lr 0.2 with seed 0.
SweepRecord seeds_record() {
  SweepRecord r;
  r.config_toml = "[sweep]\n\"train.lr\" = [0.1, 0.2]\n";
  r.axes = {"train.lr", "experiment.seed"};
  for (const auto& [name, lr, seed] :
       {std::tuple{"lr=0.1,seed=0", "0.1", "0"}, std::tuple{"lr=0.1,seed=1", "0.1", "1"},
        std::tuple{"lr=0.2,seed=0", "0.2", "0"}}) {
    SweepRecordCell cell;
    cell.name = name;
    cell.values = {lr, seed};
    r.cells.push_back(cell);
  }
  return r;
}

}  // namespace

TEST_CASE("a sweep record reads back what was written, and replaces the old one atomically") {
  test::ScopedTempDir dir("sweep-record");
  SweepRecord r = seeds_record();
  r.cells[1].status = "failed";
  r.cells[1].reason = "non-finite loss nan at step 5";
  r.final_columns = {"train/loss", "val/loss"};
  r.final = {{0.5, 0.6}, {std::nan(""), 0.7}, {0.4, 0.3}};
  StackedTable knn;
  knn.evaluator = "knn";
  knn.table.name = "accuracy";
  knn.table.rows = {"lr=0.1,seed=0", "lr=0.2,seed=0"};
  knn.table.columns = {"top1@20"};
  knn.table.values = {{0.71}, {0.74}};
  knn.run_of_row = {0, 2};
  r.tables.push_back(knn);

  const fs::path file = dir.path / kSweepRecordFile;
  write_sweep_record(file, r);
  write_sweep_record(file, r);  // over an existing record
  // Nothing but the record is left in the folder (the temporary file was renamed).
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);

  const SweepRecord back = read_sweep_record(file);
  CHECK(back.config_toml == r.config_toml);
  CHECK(back.axes == r.axes);
  REQUIRE(back.cells.size() == 3);
  CHECK(back.cells[1].name == "lr=0.1,seed=1");
  CHECK(back.cells[1].values == Strings{"0.1", "1"});
  CHECK(back.cells[1].status == "failed");
  CHECK(back.cells[1].reason == "non-finite loss nan at step 5");
  CHECK(back.cells[2].status == "pending");
  CHECK(back.final_columns == r.final_columns);
  CHECK(back.final[2] == std::vector<double>{0.4, 0.3});
  CHECK(std::isnan(back.final[1][0]));
  REQUIRE(back.tables.size() == 1);
  CHECK(back.tables[0].evaluator == "knn");
  CHECK(back.tables[0].table.name == "accuracy");
  CHECK(back.tables[0].table.values == r.tables[0].table.values);
  CHECK(back.tables[0].run_of_row == std::vector<size_t>{0, 2});
}

TEST_CASE("a sweep record that is not one, or is damaged, is refused by name") {
  test::ScopedTempDir dir("sweep-record-bad");
  CHECK_THROWS_WITH(read_sweep_record(dir.path / "none.h5"),
                    Catch::Contains("none.h5 does not exist"));
  { std::ofstream(dir.path / "text.h5") << "not hdf5"; }
  CHECK_THROWS_WITH(read_sweep_record(dir.path / "text.h5"), Catch::Contains("not an HDF5 file"));
  write_cell(dir.path / "run", 0.5, 0.7, RunStatus::Completed);
  CHECK_THROWS_WITH(read_sweep_record(dir.path / "run" / "run.h5"),
                    Catch::Contains("is not a sweep record"));
  // Cells whose values do not match the axes are not written (nothing half-written remains).
  SweepRecord r = seeds_record();
  r.cells[0].values.pop_back();
  r.final.assign(3, {});
  CHECK_THROWS_WITH(write_sweep_record(dir.path / kSweepRecordFile, r),
                    Catch::Contains("cell lr=0.1,seed=0 has 1 values for 2 axes"));
  CHECK_FALSE(fs::exists(dir.path / kSweepRecordFile));
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 2);
}

TEST_CASE("results are collected from the cells' run logs") {
  test::ScopedTempDir dir("sweep-collect");
  write_cell(dir.path / "lr=0.1,seed=0", 0.5, 0.70, RunStatus::Completed);
  write_cell(dir.path / "lr=0.1,seed=1", 0.7, 0.74, RunStatus::Failed, "disk full");
  // The third cell has not run.
  SweepRecord r = seeds_record();
  collect_sweep_results(dir.path, r);
  CHECK(r.cells[0].status == "completed");
  CHECK(r.cells[1].status == "failed");
  CHECK(r.cells[1].reason == "disk full");
  CHECK(r.cells[2].status == "pending");
  CHECK(r.final_columns == Strings{"train/loss"});
  CHECK(r.final[0][0] == 0.5);  // the last point
  CHECK(std::isnan(r.final[2][0]));
  REQUIRE(r.tables.size() == 1);
  CHECK(r.tables[0].table.rows == Strings{"lr=0.1,seed=0", "lr=0.1,seed=1"});
  CHECK(r.tables[0].run_of_row == std::vector<size_t>{0, 1});

  // An unreadable run log makes its cell failed, with the reader's reason.
  { std::ofstream(dir.path / "lr=0.1,seed=1" / "run.h5", std::ios::trunc) << "garbage"; }
  collect_sweep_results(dir.path, r);
  CHECK(r.cells[1].status == "failed");
  CHECK_THAT(r.cells[1].reason, Catch::StartsWith("its run log cannot be read:"));
}

TEST_CASE("the summary averages completed cells over seeds: mean ± sample std, n") {
  test::ScopedTempDir dir("sweep-summary");
  write_cell(dir.path / "lr=0.1,seed=0", 0.5, 0.70, RunStatus::Completed);
  write_cell(dir.path / "lr=0.1,seed=1", 0.7, 0.74, RunStatus::Completed);
  write_cell(dir.path / "lr=0.2,seed=0", 0.4, 0.80, RunStatus::Failed, "NaN");
  SweepRecord r = seeds_record();
  collect_sweep_results(dir.path, r);
  const std::string text = render_sweep_summary(r, dir.path / kSweepRecordFile, TableFormat::Text);
  CHECK_THAT(text, Catch::Contains("axes    train.lr (2), experiment.seed (2, averaged)"));
  CHECK_THAT(text, Catch::Contains("cells   3: 2 completed, 1 failed"));
  CHECK_THAT(text, Catch::Contains("failed  lr=0.2,seed=0: NaN"));
  // train/loss 0.5 and 0.7: mean 0.6, sample std 0.1414; top-1 0.70 and 0.74: 0.72 ± 0.0283.
  CHECK_THAT(text, Catch::Contains("lr=0.1  2  0.6000 ± 0.1414"));
  CHECK_THAT(text, Catch::Contains("lr=0.1  2  0.7200 ± 0.0283"));
  // The failed cell is not averaged: its row has n = 0 and no values.
  CHECK_THAT(text, Catch::Contains("lr=0.2  0  -"));

  const std::string tsv =
      render_sweep_summary(r, dir.path / kSweepRecordFile, TableFormat::Tsv, {"train/*"});
  CHECK_THAT(tsv, Catch::StartsWith("# Final metrics"));
  CHECK_THAT(tsv, Catch::Contains("cell\tn\ttrain/loss\ttrain/loss std\n"));
  CHECK_THAT(tsv, Catch::Contains("lr=0.1\t2\t0.6"));
  const std::string none =
      render_sweep_summary(r, dir.path / kSweepRecordFile, TableFormat::Tsv, {"val/*"});
  CHECK_THAT(none,
             Catch::Contains("# Final metrics (mean ± std over seeds; n completed)\ncell\tn\n"));
}
