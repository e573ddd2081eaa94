#include "report_input.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <system_error>

namespace fs = std::filesystem;

namespace mdlab {
namespace {

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  MDLAB_CHECK(in, "cannot read {}", file.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void collect_images(const fs::path& dir, ReportInput& out) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // Checkpoints hold weights, never pictures worth a page; a sweep's cells hold their own.
    if (it->is_directory(ec) && it->path().filename() == "checkpoints") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && it->path().extension() == ".png") found.push_back(it->path());
  }
  std::sort(found.begin(), found.end());
  size_t skipped_large = 0;
  for (const auto& file : found) {
    if (out.images.size() == kMaxReportImages) {
      out.notes.push_back(fmt::format("{} more PNG files below {} are not shown (at most {})",
                                      found.size() - kMaxReportImages - skipped_large, dir.string(),
                                      kMaxReportImages));
      break;
    }
    if (fs::file_size(file, ec) > kMaxReportImageBytes) {
      out.notes.push_back(fmt::format("{} is not shown: larger than {} MiB", file.string(),
                                      kMaxReportImageBytes >> 20));
      ++skipped_large;
      continue;
    }
    out.images.push_back({fs::relative(file, dir), read_bytes(file)});
  }
}

}  // namespace

ReportInput load_report_input(const fs::path& path) {
  ReportInput in;
  const bool file = fs::is_regular_file(path);
  in.dir = file ? path.parent_path() : path;
  if (in.dir.empty()) in.dir = ".";
  if (!file && fs::exists(in.dir / kSweepRecordFile)) {
    in.sweep = read_sweep_record(in.dir / kSweepRecordFile);
    // The refresh reads every cell's log; only a record copied without its cells needs the
    // logs that are there read one by one.
    if (!refresh_sweep_results(in.dir, *in.sweep, &in.cells)) {
      for (const auto& cell : in.sweep->cells) {
        const fs::path log = in.dir / cell.name / "run.h5";
        RunLogContents contents;
        if (fs::exists(log)) {
          try {
            contents = read_run_log(log);
          } catch (const std::exception& e) {
            in.notes.push_back(fmt::format("cell {}: {}", cell.name, e.what()));
          }
        }
        in.cells.push_back(std::move(contents));
      }
    }
  } else {
    const fs::path log = file ? path : in.dir / "run.h5";
    MDLAB_CHECK(fs::exists(log), "{} is neither a run directory (run.h5) nor a sweep folder ({})",
                path.string(), kSweepRecordFile);
    in.run = read_run_log(log);
  }
  collect_images(in.dir, in);
  return in;
}

}  // namespace mdlab
