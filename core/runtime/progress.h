// Progress display for long work. On a terminal: one live line (task, done/total, rate, ETA,
// status) redrawn at most 10 times a second. Otherwise (CI logs, files): a plain line every
// `interval` seconds and at the end, so logs stay readable.
#pragma once

#include <mdlab/context.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace mdlab {

/// The console progress reporter of the CLI.
class ConsoleProgress final : public ProgressReporter {
 public:
  /// Writes to `out`; `live` selects the terminal mode (default: isatty(out)).
  explicit ConsoleProgress(std::FILE* out = stderr, int live = -1,
                           std::chrono::milliseconds interval = std::chrono::seconds(10));
  ~ConsoleProgress() override;
  void begin(std::string_view task, int64_t total) override;
  void update(int64_t done, std::string_view status) override;
  void end() override;

 private:
  void draw(bool final);

  std::FILE* out_;
  bool live_;
  std::chrono::milliseconds interval_;
  std::string task_;
  std::string status_;
  int64_t total_ = 0;
  int64_t done_ = 0;
  int64_t first_done_ = -1;  // the first update's count (a resumed run starts past 0)
  bool active_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

/// "1:02:03" / "2:03" for a duration in seconds.
std::string format_duration(double seconds);

}  // namespace mdlab
