// The run log writes what the layout in run_log.h promises, reads it back, appends on resume,
// replaces tables and artifacts, keeps the file on disk untouched between flushes, and turns
// every failure into an mdlab::Error naming the file, without HDF5 noise on stderr.
#include "fixtures.h"
#include "run_log.h"
#include "run_log_reader.h"
#include "runlog_test_util.h"

#include <mdlab/error.h>
#include <mdlab/evaluator.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using mdlab::RunLog;
using mdlab::RunStatus;

namespace {

const char* const kConfig = R"(# resolved
[experiment]
name = "simclr-test"
seed = 7
device = "cpu"

[backbone]
name = "resnet18"
width = 64

[method]
name = "simclr"
temperature = 0.5
projector = [2048, 2048, 128]

[[eval]]
name = "linear-probe"
epochs = 100

[[eval]]
name = "knn"
k = 20
)";

mdlab::Table accuracy_table() {
  mdlab::Table t;
  t.name = "accuracy";
  t.rows = {"cifar10", "imagenet-r"};
  t.columns = {"top1", "top5"};
  t.values = {{0.81234, 0.95}, {0.45671, 12.345678}};
  return t;
}

// Opens the file with the HDF5 C API directly, to check the stored types themselves.
struct RawFile {
  hid_t id;
  explicit RawFile(const fs::path& file) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, false, true);
    id = H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
  }
  ~RawFile() {
    if (id >= 0) H5Fclose(id);
  }
};

// Captures what is written to file descriptor 2 while alive.
class StderrCapture {
 public:
  explicit StderrCapture(const fs::path& file) : file_(file) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    ::close(fd);
  }
  std::string finish() {
    std::fflush(stderr);
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
    return mdlab::test::slurp(file_);
  }
  ~StderrCapture() { finish(); }

 private:
  fs::path file_;
  int saved_ = -1;
};

std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const mdlab::Error& e) {
    return e.what();
  }
  return "(no mdlab::Error)";
}

}  // namespace

TEST_CASE("every element of a run log round-trips") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  std::vector<float> image(2 * 3 * 4);
  for (size_t i = 0; i < image.size(); ++i) image[i] = 0.5f * static_cast<float>(i) - 3.0f;
  std::vector<uint8_t> mask = {0, 1, 254, 255, 7, 9};
  {
    RunLog log = RunLog::create(file, kConfig);
    CHECK(log.path() == file);
    log.set_meta("git_commit", "abc123");
    log.set_meta("host", "gpu-node-7");
    log.set_meta("note", "ünïcödé ✓");
    log.set_meta("empty", "");
    log.set_meta("plugin/resnet", "1.0.0");  // the engine records plugin versions this way
    for (int step = 0; step < 10; ++step) {
      log.add_metric("train/loss", step, 1.0 / (step + 1));
      if (step % 5 == 0) log.add_metric("lr", step, 0.1 * step);
    }
    log.write_table("linear-probe", accuracy_table());
    log.write_artifact("attention/head0", {2, 3, 4}, image.data());
    log.write_artifact("mask", {2, 3}, mask.data());
    const float scalar = 42.5f;
    log.write_artifact("scalar", {}, &scalar);
    log.set_status(RunStatus::Completed, "all 10 steps");
  }

  const auto c = mdlab::read_run_log(file);
  CHECK(c.file == file);
  CHECK(c.config_toml == kConfig);
  CHECK(c.status == RunStatus::Completed);
  CHECK(c.status_reason == "all 10 steps");
  CHECK(c.meta.at("git_commit") == "abc123");
  CHECK(c.meta.at("host") == "gpu-node-7");
  CHECK(c.meta.at("note") == "ünïcödé ✓");
  CHECK(c.meta.at("empty").empty());
  CHECK(c.meta.at("plugin/resnet") == "1.0.0");
  CHECK(c.meta.count("status") == 0);

  REQUIRE(c.metrics.size() == 2);
  const auto& loss = c.metrics.at("train/loss");
  REQUIRE(loss.size() == 10);
  for (int step = 0; step < 10; ++step) {
    CHECK(loss[step].step == step);
    CHECK(loss[step].value == 1.0 / (step + 1));
    CHECK(loss[step].time >= 0);
    CHECK(loss[step].time < 60);
  }
  CHECK(loss[9].time >= loss[0].time);
  const auto& lr = c.metrics.at("lr");
  REQUIRE(lr.size() == 2);
  CHECK(lr[1].step == 5);
  CHECK(lr[1].value == Approx(0.5));

  REQUIRE(c.tables.count("linear-probe") == 1);
  REQUIRE(c.tables.at("linear-probe").size() == 1);
  const auto& t = c.tables.at("linear-probe")[0];
  const auto expected = accuracy_table();
  CHECK(t.name == expected.name);
  CHECK(t.rows == expected.rows);
  CHECK(t.columns == expected.columns);
  CHECK(t.values == expected.values);

  REQUIRE(c.artifacts.size() == 3);
  CHECK(c.artifacts[0].name == "attention/head0");
  CHECK(c.artifacts[0].type == mdlab::ArtifactType::Float32);
  CHECK(c.artifacts[0].shape == std::vector<int64_t>{2, 3, 4});
  CHECK(c.artifacts[1].name == "mask");
  CHECK(c.artifacts[1].type == mdlab::ArtifactType::UInt8);
  CHECK(c.artifacts[1].shape == std::vector<int64_t>{2, 3});
  CHECK(c.artifacts[2].shape.empty());
  CHECK(mdlab::read_artifact_float32(file, "attention/head0") == image);
  CHECK(mdlab::read_artifact_uint8(file, "mask") == mask);
  CHECK(mdlab::read_artifact_float32(file, "scalar") == std::vector<float>{42.5f});
  CHECK_THROWS_WITH(mdlab::read_artifact_uint8(file, "attention/head0"),
                    Catch::Contains("holds float32, not uint8"));
  CHECK_THROWS_WITH(mdlab::read_artifact_uint8(file, "nope"), Catch::Contains("no artifact nope"));
}

TEST_CASE("the file uses the documented HDF5 types") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  {
    RunLog log = RunLog::create(file, "seed = 1\n");
    log.add_metric("train/loss", 3, 0.25);
    log.write_table("knn", accuracy_table());
  }
  RawFile raw(file);
  REQUIRE(raw.id >= 0);

  hid_t config = H5Dopen2(raw.id, "config", H5P_DEFAULT);
  hid_t config_type = H5Dget_type(config);
  CHECK(H5Tget_class(config_type) == H5T_STRING);
  CHECK(H5Tis_variable_str(config_type) > 0);
  CHECK(H5Tget_cset(config_type) == H5T_CSET_UTF8);
  H5Tclose(config_type);
  H5Dclose(config);

  hid_t status = H5Aopen_by_name(raw.id, "meta", "status", H5P_DEFAULT, H5P_DEFAULT);
  hid_t status_type = H5Aget_type(status);
  CHECK(H5Tget_class(status_type) == H5T_STRING);
  CHECK(H5Tis_variable_str(status_type) == 0);  // fixed length: rewritable without heap leaks
  H5Tclose(status_type);
  H5Aclose(status);

  hid_t metric = H5Dopen2(raw.id, "metrics/train/loss", H5P_DEFAULT);
  REQUIRE(metric >= 0);
  hid_t metric_type = H5Dget_type(metric);
  REQUIRE(H5Tget_class(metric_type) == H5T_COMPOUND);
  REQUIRE(H5Tget_nmembers(metric_type) == 3);
  const char* names[] = {"step", "value", "time"};
  const H5T_class_t classes[] = {H5T_INTEGER, H5T_FLOAT, H5T_FLOAT};
  for (unsigned i = 0; i < 3; ++i) {
    char* name = H5Tget_member_name(metric_type, i);
    CHECK(std::string(name) == names[i]);
    H5free_memory(name);
    CHECK(H5Tget_member_class(metric_type, i) == classes[i]);
  }
  H5Tclose(metric_type);
  hid_t dcpl = H5Dget_create_plist(metric);
  CHECK(H5Pget_layout(dcpl) == H5D_CHUNKED);
  H5Pclose(dcpl);
  hid_t space = H5Dget_space(metric);
  hsize_t dims[1] = {0};
  hsize_t max_dims[1] = {0};
  H5Sget_simple_extent_dims(space, dims, max_dims);
  CHECK(dims[0] == 1);
  CHECK(max_dims[0] == H5S_UNLIMITED);
  H5Sclose(space);
  H5Dclose(metric);

  hid_t table = H5Dopen2(raw.id, "eval/knn/accuracy", H5P_DEFAULT);
  REQUIRE(table >= 0);
  hid_t table_type = H5Dget_type(table);
  CHECK(H5Tget_class(table_type) == H5T_FLOAT);
  CHECK(H5Tget_size(table_type) == 8);
  H5Tclose(table_type);
  CHECK(H5Aexists(table, "rows") > 0);
  CHECK(H5Aexists(table, "columns") > 0);
  H5Dclose(table);
}

TEST_CASE("metrics appended over many flushes keep every point in order") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  constexpr int kFlushes = 60;
  constexpr int kPerFlush = 97;  // crosses 1024-point chunk boundaries at odd offsets
  {
    RunLog log = RunLog::create(file, "");
    for (int f = 0; f < kFlushes; ++f) {
      for (int i = 0; i < kPerFlush; ++i) {
        const int64_t step = int64_t{f} * kPerFlush + i;
        log.add_metric("train/loss", step, static_cast<double>(step) * 0.5);
        if (i == 0) log.add_metric("val/acc", f, f / 100.0);
      }
      log.flush();
      if (f % 20 == 0) {
        // A reader sees everything up to the flush while the writer is still open.
        const auto live = mdlab::read_run_log(file);
        CHECK(live.metrics.at("train/loss").size() == static_cast<size_t>((f + 1) * kPerFlush));
      }
    }
  }
  const auto c = mdlab::read_run_log(file);
  const auto& loss = c.metrics.at("train/loss");
  REQUIRE(loss.size() == kFlushes * kPerFlush);
  bool in_order = true;
  for (size_t i = 0; i < loss.size(); ++i)
    in_order = in_order && loss[i].step == static_cast<int64_t>(i) &&
               loss[i].value == static_cast<double>(i) * 0.5;
  CHECK(in_order);
  CHECK(c.metrics.at("val/acc").size() == kFlushes);
}

TEST_CASE("open() resumes a run log and appends after the stored points") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  double last_time = 0;
  {
    RunLog log = RunLog::create(file, "seed = 3\n");
    log.set_meta("seed", "3");
    for (int step = 0; step < 1500; ++step) log.add_metric("train/loss", step, step);
    log.write_table("knn", accuracy_table());
    // Destructor flushes the buffered points.
  }
  {
    const auto c = mdlab::read_run_log(file);
    REQUIRE(c.metrics.at("train/loss").size() == 1500);
    last_time = c.metrics.at("train/loss").back().time;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  {
    RunLog log = RunLog::open(file);
    log.set_status(RunStatus::Running, "resumed");
    for (int step = 1500; step < 2000; ++step) log.add_metric("train/loss", step, step);
    log.add_metric("val/acc", 1999, 0.5);
    log.set_meta("resumed_at", "step 1500");
    log.close();
    CHECK_THROWS_WITH(log.flush(), Catch::Contains("used after close()"));
  }
  const auto c = mdlab::read_run_log(file);
  CHECK(c.config_toml == "seed = 3\n");
  CHECK(c.meta.at("seed") == "3");
  CHECK(c.meta.at("resumed_at") == "step 1500");
  CHECK(c.status_reason == "resumed");
  CHECK(c.tables.at("knn").size() == 1);
  const auto& loss = c.metrics.at("train/loss");
  REQUIRE(loss.size() == 2000);
  for (int step = 1495; step < 1505; ++step) CHECK(loss[step].step == step);
  // Times stay "since the run started": the resumed points come later than the old ones.
  CHECK(loss[1500].time >= last_time + 0.015);
  CHECK(c.metrics.at("val/acc").size() == 1);
}

TEST_CASE("status is rewritten in place many times") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  RunLog log = RunLog::create(file, "");
  CHECK(mdlab::read_run_log(file).status == RunStatus::Running);
  log.set_status(RunStatus::Running, "warming up with a rather long reason");
  const auto size_before = fs::file_size(file);
  const RunStatus cycle[] = {RunStatus::Interrupted, RunStatus::Running, RunStatus::Failed,
                             RunStatus::Completed};
  for (int i = 0; i < 400; ++i)
    log.set_status(cycle[i % 4], std::string(static_cast<size_t>(i % 37), 'x'));
  log.set_status(RunStatus::Failed, "CUDA out of memory");
  const auto c = mdlab::read_run_log(file);
  CHECK(c.status == RunStatus::Failed);
  CHECK(c.status_reason == "CUDA out of memory");
  // Fixed-length attributes are rewritten inside the object header: no growth per rewrite.
  CHECK(fs::file_size(file) < size_before + 16 * 1024);
  for (RunStatus s : cycle) {
    RunStatus parsed = RunStatus::Running;
    CHECK(mdlab::parse_run_status(mdlab::run_status_name(s), parsed));
    CHECK(parsed == s);
  }
  RunStatus ignored;
  CHECK_FALSE(mdlab::parse_run_status("done", ignored));
}

TEST_CASE("writing a table or an artifact again replaces it") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  RunLog log = RunLog::create(file, "");
  log.write_table("linear-probe", accuracy_table());
  mdlab::Table bigger;
  bigger.name = "accuracy";
  bigger.rows = {"a", "b", "c"};
  bigger.columns = {"top1"};
  bigger.values = {{0.1}, {0.2}, {0.3}};
  log.write_table("linear-probe", bigger);
  mdlab::Table other = accuracy_table();
  other.name = "loss";
  log.write_table("linear-probe", other);
  mdlab::Table empty;
  empty.name = "empty";
  log.write_table("robustness/in100", empty);

  const std::vector<uint8_t> first(100, 1);
  const std::vector<uint8_t> second = {9, 8, 7};
  log.write_artifact("samples", {10, 10}, first.data());
  log.write_artifact("samples", {3}, second.data());
  const auto size_after_one = fs::file_size(file);
  for (int i = 0; i < 50; ++i) log.write_table("linear-probe", bigger);
  // Freed space is reused within a session, so replacing does not grow the file without bound.
  CHECK(fs::file_size(file) < size_after_one + 64 * 1024);

  const auto c = mdlab::read_run_log(file);
  const auto& tables = c.tables.at("linear-probe");
  REQUIRE(tables.size() == 2);
  CHECK(tables[0].name == "accuracy");
  CHECK(tables[0].rows == bigger.rows);
  CHECK(tables[0].values == bigger.values);
  CHECK(tables[1].name == "loss");
  const auto& empties = c.tables.at("robustness/in100");
  REQUIRE(empties.size() == 1);
  CHECK(empties[0].rows.empty());
  CHECK(mdlab::read_artifact_uint8(file, "samples") == second);
}

TEST_CASE("the file on disk changes only when the log flushes") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  RunLog log = RunLog::create(file, "");
  log.set_flush_interval(std::chrono::hours(1));
  log.add_metric("train/loss", 0, 1.0);
  log.flush();
  const std::string flushed = mdlab::test::slurp(file);

  // Points for existing and brand-new metrics (new datasets and groups) stay in memory.
  for (int i = 0; i < 20000; ++i) {
    log.add_metric("train/loss", i + 1, 1.0 / (i + 2));
    log.add_metric(fmt::format("layer{}/grad_norm", i % 40), i, i);
    log.maybe_flush();
  }
  CHECK(mdlab::test::slurp(file) == flushed);
  CHECK(mdlab::read_run_log(file).metrics.at("train/loss").size() == 1);

  log.set_flush_interval(std::chrono::milliseconds(0));
  log.maybe_flush();
  CHECK(mdlab::test::slurp(file) != flushed);
  const auto c = mdlab::read_run_log(file);
  CHECK(c.metrics.at("train/loss").size() == 20001);
  CHECK(c.metrics.size() == 41);
}

TEST_CASE("bad names, shapes and tables are refused with the file named") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  RunLog log = RunLog::create(file, "");
  for (const char* bad : {"", "/loss", "loss/", "a//b", "a/./b", "../x"})
    CHECK_THROWS_AS(log.add_metric(bad, 0, 1.0), mdlab::Error);
  log.add_metric("train", 0, 1.0);
  CHECK_THROWS_WITH(log.add_metric("train/loss", 0, 1.0),
                    Catch::Contains("/metrics/train is not a group"));
  CHECK_THROWS_WITH(log.set_meta("status", "done"), Catch::Contains("reserved"));
  CHECK_THROWS_AS(log.set_meta("", "x"), mdlab::Error);

  mdlab::Table ragged = accuracy_table();
  ragged.values[1].pop_back();
  CHECK_THROWS_WITH(log.write_table("knn", ragged),
                    Catch::Contains("row 'imagenet-r' has 1 values for 2 columns") &&
                        Catch::Contains(file.string()));
  mdlab::Table unnamed = accuracy_table();
  unnamed.name = "";
  CHECK_THROWS_AS(log.write_table("knn", unnamed), mdlab::Error);

  const float value = 1;
  CHECK_THROWS_WITH(log.write_artifact("a", {2, -1}, &value), Catch::Contains("negative"));
  CHECK_THROWS_WITH(log.write_artifact("a", {2}, static_cast<const float*>(nullptr)),
                    Catch::Contains("no data"));
  // The log still works after refused calls.
  log.add_metric("ok", 1, 2.0);
  log.flush();
  CHECK(mdlab::read_run_log(file).metrics.at("ok").size() == 1);

  CHECK_THROWS_WITH(RunLog::create(file, ""), Catch::Contains("already exists"));
  CHECK_THROWS_WITH(RunLog::create(file.parent_path() / "missing" / "run.h5", ""),
                    Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(RunLog::open(file.parent_path() / "nope.h5"),
                    Catch::Contains("nope.h5 does not exist"));

  RunLog moved = std::move(log);
  CHECK_THROWS_WITH(log.add_metric("x", 0, 0), Catch::Contains("moved from"));
  moved.add_metric("ok", 2, 3.0);
}

TEST_CASE("unreadable files give an mdlab::Error naming the path and no HDF5 noise") {
  const mdlab::test::ScopedTempDir scoped("runlog");
  const fs::path& dir = scoped.path;
  const fs::path text = dir / "notes.h5";
  std::ofstream(text) << "this is not an HDF5 file\n";
  const fs::path missing = dir / "missing.h5";
  const fs::path foreign = dir / "foreign.h5";
  {
    hid_t f = H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(f >= 0);
    H5Fclose(f);
  }

  StderrCapture capture(dir / "stderr.txt");
  const std::string not_hdf5 = error_message([&] { mdlab::read_run_log(text); });
  const std::string absent = error_message([&] { mdlab::read_run_log(missing); });
  const std::string not_ours = error_message([&] { mdlab::read_run_log(foreign); });
  const std::string open_text = error_message([&] { RunLog::open(text); });
  const std::string folder = error_message([&] { mdlab::read_run_log(dir); });
  const std::string noise = capture.finish();

  CHECK_THAT(not_hdf5, Catch::Contains(text.string()) && Catch::Contains("HDF5 file") &&
                           Catch::Contains("signature"));
  CHECK_THAT(absent, Catch::Contains(missing.string()) && Catch::Contains("does not exist"));
  CHECK_THAT(not_ours,
             Catch::Contains(foreign.string()) && Catch::Contains("not an mdlab run log"));
  CHECK_THAT(open_text, Catch::Contains(text.string()));
  CHECK_THAT(folder, Catch::Contains("is a folder"));
  CHECK(noise.empty());
}

TEST_CASE("a damaged object is reported while the rest of the run still reads") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  {
    RunLog log = RunLog::create(file, "");
    log.add_metric("train/loss", 0, 1.0);
    log.add_metric("train/acc", 0, 0.5);
    log.write_table("knn", accuracy_table());
  }
  // Smash the object header of one metric, as a kill in the middle of a flush could.
  haddr_t address = HADDR_UNDEF;
  {
    RawFile raw(file);
    REQUIRE(raw.id >= 0);
    H5O_info_t info;
    REQUIRE(H5Oget_info_by_name2(raw.id, "metrics/train/acc", &info, H5O_INFO_BASIC, H5P_DEFAULT) >=
            0);
    address = info.addr;
  }
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(address));
    const std::string junk(16, '\xff');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const auto c = mdlab::read_run_log(file);
  CHECK(c.metrics.count("train/loss") == 1);
  CHECK(c.metrics.count("train/acc") == 0);
  CHECK(c.tables.at("knn").size() == 1);
  REQUIRE(c.problems.size() == 1);
  CHECK_THAT(c.problems[0], Catch::Contains("/metrics/train/acc"));
  CHECK_THAT(mdlab::render_run_summary(c),
             Catch::Contains("\nDamaged (") && Catch::Contains("  cannot open /metrics/train/acc"));
}

TEST_CASE("entries the reader cannot place are reported, not dropped") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  {
    RunLog log = RunLog::create(file, "eval = [3]\n[method]\nname = \"simclr\"\n");
    log.write_table("knn", accuracy_table());
  }
  {
    // A dataset written directly below /eval (not /eval/<evaluator>/<table>).
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, false, true);
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    REQUIRE(f >= 0);
    const hsize_t dims[2] = {1, 1};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t d = H5Dcreate2(f, "eval/stray", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    REQUIRE(d >= 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Fclose(f);
  }
  const auto c = mdlab::read_run_log(file);
  CHECK(c.tables.at("knn").size() == 1);
  REQUIRE(c.problems.size() == 1);
  CHECK_THAT(c.problems[0], Catch::Contains("/eval/stray") && Catch::Contains("not shown"));
  const std::string summary = mdlab::render_run_summary(c);
  CHECK_THAT(summary, Catch::Contains("/eval/stray"));
  // A config whose eval entries are not tables says so.
  CHECK_THAT(summary, Catch::Contains("(not a table: 3)"));
}

TEST_CASE("the summary shows status, config, aligned metrics and tables") {
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  {
    RunLog log = RunLog::create(file, kConfig);
    log.set_meta("git_commit", "abc123");
    log.set_meta("started_at", "2024-05-01T10:00:00");
    for (int step = 0; step <= 990; step += 10)
      log.add_metric("train/loss", step, 5.0 - step / 250.0);
    log.add_metric("lr", 0, 0.00001);
    log.write_table("linear-probe", accuracy_table());
    log.set_status(RunStatus::Failed, "diverged\nat step 990");
  }
  const std::string s = mdlab::render_run_summary(mdlab::read_run_log(file));
  INFO(s);
  CHECK_THAT(s, Catch::StartsWith("Run\n"));
  CHECK_THAT(s, Catch::Contains("  status      failed\n"));
  CHECK_THAT(s, Catch::Contains("  reason      diverged ...\n"));
  CHECK_THAT(s, Catch::Contains("  started_at  2024-05-01T10:00:00\n"));
  CHECK_THAT(s, Catch::Contains("  git_commit  abc123\n"));

  CHECK_THAT(s, Catch::Contains("\nConfig\n"));
  CHECK_THAT(s, Catch::Contains("  experiment  simclr-test\n"));
  CHECK_THAT(s, Catch::Contains("  seed        7\n"));
  CHECK_THAT(s, Catch::Contains("  device      cpu\n"));
  CHECK_THAT(s, Catch::Contains("  backbone    resnet18 (width = 64)\n"));
  // toml++ keeps a table's keys sorted, so options appear alphabetically.
  CHECK_THAT(s, Catch::Contains(
                    "  method      simclr (projector = [2048, 2048, 128], temperature = 0.5)\n"));
  CHECK_THAT(s, Catch::Contains("  eval        linear-probe (epochs = 100)\n"));
  CHECK_THAT(s, Catch::Contains("  eval        knn (k = 20)\n"));

  CHECK_THAT(
      s, Catch::Contains("\nMetrics\n"
                         "  metric      points  last step  last value         min         max\n"
                         "  ----------  ------  ---------  ----------  ----------  ----------\n"
                         "  lr               1          0  1.0000e-05  1.0000e-05  1.0000e-05\n"
                         "  train/loss     100        990      1.0400      1.0400      5.0000\n"));

  CHECK_THAT(s, Catch::Contains("\nEvaluation\n"
                                "  linear-probe / accuracy\n"
                                "                  top1     top5\n"
                                "    ----------  ------  -------\n"
                                "    cifar10     0.8123   0.9500\n"
                                "    imagenet-r  0.4567  12.3457\n"));
}

TEST_CASE("the summary copes with empty and non-TOML configs") {
  mdlab::RunLogContents c;
  c.file = "run.h5";
  c.status = RunStatus::Interrupted;
  std::string s = mdlab::render_run_summary(c);
  CHECK_THAT(s, Catch::Contains("interrupted") && Catch::Contains("Config\n  (empty)") &&
                    Catch::Contains("Metrics\n  (none)") &&
                    Catch::Contains("Evaluation\n  (none)"));
  c.config_toml = "[unclosed";
  CHECK_THAT(mdlab::render_run_summary(c), Catch::Contains("(not valid TOML: "));
  CHECK(mdlab::format_value(-0.0) == "0.0000");
  CHECK(mdlab::format_value(1234567.0) == "1.2346e+06");
  CHECK(mdlab::format_value(std::nan("")) == "nan");
  CHECK(mdlab::format_value(-INFINITY) == "-inf");
  CHECK(mdlab::format_value(0.123456) == "0.1235");
}

TEST_CASE("h5dump and h5py open a live run log") {
  const bool dump = mdlab::test::have_h5dump();
  const bool py = mdlab::test::have_h5py();
  if (!dump || !py) {
    std::printf("SKIPPED: %s not installed (Debian packages hdf5-tools, python3-h5py)\n",
                !dump ? "h5dump" : "h5py for /usr/bin/python3");
    std::fflush(stdout);
    return;
  }
  const mdlab::test::ScopedTempDir dir("runlog");
  const fs::path file = dir.path / "run.h5";
  RunLog log = RunLog::create(file, kConfig);
  for (int step = 0; step < 2500; ++step) log.add_metric("train/loss", step, step);
  log.write_table("knn", accuracy_table());
  log.flush();
  log.add_metric("train/loss", 2500, 0);  // buffered: invisible to readers until the next flush

  const auto dumped = mdlab::test::run_command("h5dump -H " + mdlab::test::shell_quote(file));
  INFO(dumped.output);
  CHECK(dumped.status == 0);
  CHECK_THAT(dumped.output, Catch::Contains("DATASET \"loss\""));
  std::string error;
  CHECK(mdlab::test::h5py_metric_length(file, "train/loss", error) == 2500);
  INFO(error);
  const auto table = mdlab::test::run_command(
      "/usr/bin/python3 -c " +
      mdlab::test::shell_quote("import h5py,sys\n"
                               "d = h5py.File(sys.argv[1], 'r')['eval/knn/accuracy']\n"
                               "print(list(d.attrs['rows']), d.shape)\n") +
      " " + mdlab::test::shell_quote(file));
  CHECK(table.status == 0);
  CHECK_THAT(table.output, Catch::Contains("['cifar10', 'imagenet-r'] (2, 2)"));
}
