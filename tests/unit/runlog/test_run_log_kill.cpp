// A writer killed with SIGKILL leaves a file that the reader, h5dump and h5py open, holding
// every metric point up to the writer's last completed flush, and that RunLog::open resumes.
//
// The child process writes points continuously, creates a new metric each round (structural
// changes that must stay in memory until the flush) and flushes every ~50 ms, reporting
// "flushed N" (points of train/loss now in the file) on a pipe after each flush. The parent
// kills it at different moments after a chosen flush.
#include "fixtures.h"
#include "run_log.h"
#include "run_log_reader.h"
#include "runlog_test_util.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

void write_line(int fd, const std::string& line) {
  // One write() of less than PIPE_BUF bytes: the parent sees whole lines or nothing.
  [[maybe_unused]] ssize_t n = ::write(fd, line.data(), line.size());
}

[[noreturn]] void writer_child(const fs::path& file, int fd) {
  try {
    mdlab::RunLog log = mdlab::RunLog::create(file, "seed = 1\n");
    log.set_meta("host", "killed-child");
    log.set_flush_interval(std::chrono::hours(1));  // flushes only when told to
    int64_t step = 0;
    for (int round = 0;; ++round) {
      log.add_metric(fmt::format("round/r{}", round), step, round);
      const auto until = std::chrono::steady_clock::now() + 50ms;
      while (std::chrono::steady_clock::now() < until) {
        log.add_metric("train/loss", step, 1.0 / static_cast<double>(step + 1));
        log.add_metric("train/lr", step, 0.1);
        log.maybe_flush();
        if (++step % 16 == 0) std::this_thread::sleep_for(200us);
      }
      log.flush();
      write_line(fd, fmt::format("flushed {}\n", step));
    }
  } catch (const std::exception& e) {
    write_line(fd, fmt::format("error {}\n", e.what()));
  }
  ::_exit(1);
}

struct KillOutcome {
  int flushes = 0;             // flush reports received
  int64_t last_reported = -1;  // train/loss points in the file at the last reported flush
  std::string error;           // an "error" line from the child or a timeout
};

// Reads the child's lines from `fd` until `stop(lines seen)` is true, EOF, or 20 s pass.
template <typename Stop>
void read_reports(int fd, KillOutcome& out, std::string& pending, Stop stop) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!stop(out.flushes)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      out.error = "timed out waiting for the child's flush reports";
      return;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[256];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return;  // EOF: the child is gone
    pending.append(buffer, static_cast<size_t>(n));
    size_t nl = 0;
    while ((nl = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      long long count = 0;
      if (std::sscanf(line.c_str(), "flushed %lld", &count) == 1) {
        out.last_reported = count;
        ++out.flushes;
      } else {
        out.error = line;
        return;
      }
    }
  }
}

// Starts the writer, kills it `delay` after its `flushes`-th report, and collects the reports
// of every flush it completed before dying.
KillOutcome run_and_kill(const fs::path& file, int flushes, std::chrono::milliseconds delay) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    writer_child(file, fds[1]);
  }
  ::close(fds[1]);
  KillOutcome out;
  std::string pending;
  read_reports(fds[0], out, pending, [&](int seen) { return seen >= flushes; });
  std::this_thread::sleep_for(delay);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // Reports written after the one we waited for, up to the kill, still sit in the pipe.
  if (out.error.empty()) read_reports(fds[0], out, pending, [](int) { return false; });
  ::close(fds[0]);
  CHECK(WIFSIGNALED(status));
  return out;
}

struct Round {
  int flushes;
  std::chrono::milliseconds delay;
};

// Different moments: right after a flush, early and late in the buffering window.
constexpr Round kRounds[] = {{3, 0ms}, {4, 17ms}, {5, 38ms}};

void check_with_reader(const fs::path& file, const KillOutcome& outcome) {
  const auto c = mdlab::read_run_log(file);
  CHECK(c.problems.empty());
  CHECK(c.status == mdlab::RunStatus::Running);
  CHECK(c.meta.at("host") == "killed-child");
  const auto& loss = c.metrics.at("train/loss");
  CHECK(static_cast<int64_t>(loss.size()) >= outcome.last_reported);
  bool in_order = true;
  for (size_t i = 0; i < loss.size(); ++i)
    in_order = in_order && loss[i].step == static_cast<int64_t>(i);
  CHECK(in_order);
  CHECK(c.metrics.at("train/lr").size() == loss.size());
  // One metric per completed round, each written by that round's flush.
  size_t rounds = 0;
  for (const auto& [name, points] : c.metrics) rounds += name.rfind("round/", 0) == 0;
  CHECK(static_cast<int>(rounds) >= outcome.flushes);
}

}  // namespace

TEST_CASE("a SIGKILLed writer leaves every flushed point readable and resumable") {
  for (const Round& round : kRounds) {
    const mdlab::test::ScopedTempDir dir("runlog-kill");
    const fs::path file = dir.path / "run.h5";
    const KillOutcome outcome = run_and_kill(file, round.flushes, round.delay);
    INFO("kill " << round.delay.count() << " ms after flush " << round.flushes
                 << "; child said: " << outcome.error);
    REQUIRE(outcome.error.empty());
    REQUIRE(outcome.flushes >= round.flushes);
    REQUIRE(outcome.last_reported > 0);
    check_with_reader(file, outcome);

    // Resume after the crash: appending continues after the stored points.
    const size_t before = mdlab::read_run_log(file).metrics.at("train/loss").size();
    {
      mdlab::RunLog log = mdlab::RunLog::open(file);
      log.add_metric("train/loss", static_cast<int64_t>(before), 0.0);
      log.set_status(mdlab::RunStatus::Completed, "resumed after SIGKILL");
    }
    const auto resumed = mdlab::read_run_log(file);
    CHECK(resumed.metrics.at("train/loss").size() == before + 1);
    CHECK(resumed.metrics.at("train/loss").back().step == static_cast<int64_t>(before));
    CHECK(resumed.status == mdlab::RunStatus::Completed);
  }
}

TEST_CASE("h5dump and h5py open the file of a SIGKILLed writer") {
  const bool dump = mdlab::test::have_h5dump();
  const bool py = mdlab::test::have_h5py();
  if (!dump || !py) {
    std::printf(
        "SKIPPED: %s not installed (Debian packages hdf5-tools, python3-h5py); the "
        "reader-only SIGKILL test still runs\n",
        !dump ? "h5dump" : "h5py for /usr/bin/python3");
    std::fflush(stdout);
    return;
  }
  for (const Round& round : kRounds) {
    const mdlab::test::ScopedTempDir dir("runlog-kill");
    const fs::path file = dir.path / "run.h5";
    const KillOutcome outcome = run_and_kill(file, round.flushes, round.delay);
    INFO("kill " << round.delay.count() << " ms after flush " << round.flushes
                 << "; child said: " << outcome.error);
    REQUIRE(outcome.error.empty());
    check_with_reader(file, outcome);

    const auto dumped = mdlab::test::run_command("h5dump -H " + mdlab::test::shell_quote(file));
    INFO("h5dump -H: " << dumped.output);
    CHECK(dumped.status == 0);

    std::string error;
    const long length = mdlab::test::h5py_metric_length(file, "train/loss", error);
    INFO("h5py: " << error);
    CHECK(length >= outcome.last_reported);
  }
}
