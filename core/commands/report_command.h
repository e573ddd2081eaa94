// `mdlab report RUN_OR_SWEEP_DIR [--out FILE] [--format html|md|csv]` (core/report/report.h).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace mdlab {

/// Arguments of `mdlab report`.
struct ReportRequest {
  std::filesystem::path dir;                 ///< a run directory, a run log or a sweep folder
  std::optional<std::filesystem::path> out;  ///< default <dir>/report.<html|md|csv>; "-": stdout
  std::string format = "html";               ///< html, md or csv
};

/// Where the charting library is read from: $MDLAB_REPORT_ASSETS/plotly-basic.min.js when
/// that variable is set, else share/mdlab/report/plotly-basic.min.js beside the executable's
/// folder (the build tree and an installed tree alike).
std::filesystem::path chart_library_file();

/// Writes the report (atomically) and returns the exit status; mdlab::Error for a folder
/// that is neither a run nor a sweep, or a missing charting library (naming the fix).
int write_report(const ReportRequest& request);

}  // namespace mdlab
