// What `mdlab report` reads: a run directory (its run log and images) or a sweep folder (its
// sweep record, every cell's run log and the images below it).
#pragma once

#include "run_log_reader.h"
#include "sweep_record.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mdlab {

/// A PNG found in the folder, shown on the page.
struct ReportImage {
  std::filesystem::path relative;  ///< below the report's folder ("eval/attention/head.png")
  std::string bytes;               ///< the file's bytes
};

/// Everything a report shows.
struct ReportInput {
  std::filesystem::path dir;          ///< the run or sweep folder
  std::optional<RunLogContents> run;  ///< a run's log (a run directory)
  std::optional<SweepRecord> sweep;   ///< a sweep's record, refreshed from its cells
  std::vector<RunLogContents> cells;  ///< a sweep: each cell's log (empty when pending)
  std::vector<ReportImage> images;    ///< PNGs below the folder, by path
  std::vector<std::string> notes;     ///< what was left out (images over the limits)
};

/// The most images and bytes per image a page inlines (a folder of thousands of generated
/// images must not make a page of gigabytes).
inline constexpr size_t kMaxReportImages = 48;
inline constexpr size_t kMaxReportImageBytes = 4u << 20;

/// Loads `dir`: a sweep folder (it holds sweep.h5) or a run directory (it holds run.h5), or
/// a run log file. mdlab::Error naming the folder when it is neither. PNGs are collected
/// below the folder (not below checkpoints/), sorted by path, up to the limits above.
ReportInput load_report_input(const std::filesystem::path& dir);

}  // namespace mdlab
