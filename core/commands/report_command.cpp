#include "report_command.h"

#include "atomic_file.h"
#include "exit_codes.h"
#include "plugin_registry.h"
#include "report.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;

namespace mdlab {

fs::path chart_library_file() {
  constexpr const char* kName = "plotly-basic.min.js";
  if (const char* dir = std::getenv("MDLAB_REPORT_ASSETS"); dir && *dir)
    return fs::path(dir) / kName;
  return executable_dir().parent_path() / "share" / "mdlab" / "report" / kName;
}

int write_report(const ReportRequest& request) {
  const ReportFormat format = parse_report_format(request.format);
  std::string library;
  if (format == ReportFormat::Html) {
    const fs::path file = chart_library_file();
    std::ifstream in(file, std::ios::binary);
    MDLAB_CHECK(in,
                "the charting library {} is missing: run scripts/install-deps.sh (it installs "
                "Plotly from npm into core/report/web) and rebuild, or point "
                "MDLAB_REPORT_ASSETS at a folder holding plotly-basic.min.js; --format md or "
                "csv need no library",
                file.string());
    library.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const ReportInput input = load_report_input(request.dir);
  size_t charts = 0;
  const std::string text = render_report(input, format, library, &charts);
  const char* extension = format == ReportFormat::Html       ? "html"
                          : format == ReportFormat::Markdown ? "md"
                                                             : "csv";
  const fs::path out = request.out.value_or(input.dir / fmt::format("report.{}", extension));
  if (out == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  write_file_atomic(out, text);
  if (format == ReportFormat::Html) {
    std::fprintf(stderr, "mdlab: wrote %s (%zu charts, %zu images; self-contained, %.1f MiB)\n",
                 out.string().c_str(), charts, input.images.size(),
                 static_cast<double>(text.size()) / (1 << 20));
  } else {
    std::fprintf(stderr, "mdlab: wrote %s\n", out.string().c_str());
  }
  return kExitOk;
}

}  // namespace mdlab
