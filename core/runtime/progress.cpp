#include "progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unistd.h>

namespace mdlab {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

ConsoleProgress::ConsoleProgress(std::FILE* out, int live, std::chrono::milliseconds interval)
    : out_(out), live_(live < 0 ? ::isatty(::fileno(out)) != 0 : live != 0), interval_(interval) {}

ConsoleProgress::~ConsoleProgress() {
  if (active_) end();
}

void ConsoleProgress::begin(std::string_view task, int64_t total) {
  if (active_) end();
  task_ = task;
  total_ = total;
  done_ = 0;
  first_done_ = -1;
  status_.clear();
  active_ = true;
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (!live_) {
    std::fprintf(out_, "%s: started (%lld steps)\n", task_.c_str(), static_cast<long long>(total));
    std::fflush(out_);
  }
}

void ConsoleProgress::update(int64_t done, std::string_view status) {
  if (first_done_ < 0) first_done_ = done;
  done_ = done;
  status_ = status;
  auto now = std::chrono::steady_clock::now();
  auto min_gap = live_ ? std::chrono::milliseconds(100) : interval_;
  if (now - last_draw_ >= min_gap) {
    draw(false);
    last_draw_ = now;
  }
}

void ConsoleProgress::end() {
  if (!active_) return;
  draw(true);
  active_ = false;
}

void ConsoleProgress::draw(bool final) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // Only the work of this process: a resumed run's first update is its starting point, and
  // counting the steps before it would inflate the rate and shrink the ETA.
  const int64_t done_here = done_ - std::max<int64_t>(first_done_, 0);
  double rate = elapsed > 0 ? static_cast<double>(done_here) / elapsed : 0.0;
  std::string line = fmt::format("{}: {}", task_, done_);
  if (total_ > 0) {
    line += fmt::format("/{} {:3.0f}%", total_, 100.0 * done_ / total_);
  }
  line += fmt::format(" | {:.2f} it/s", rate);
  if (final) {
    line += fmt::format(" | took {}", format_duration(elapsed));
  } else if (total_ > 0 && rate > 0) {
    line += fmt::format(" | ETA {}", format_duration((total_ - done_) / rate));
  }
  if (!status_.empty()) line += " | " + status_;
  if (live_) {
    // \r + clear-to-end-of-line redraws in place; the final draw leaves the line behind.
    std::fprintf(out_, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

}  // namespace mdlab
