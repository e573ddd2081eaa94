// `mdlab report`: a run or a sweep as one page people look at.
//
// HTML: one self-contained file (no network: the charting library, the data and the images
// are inlined) with the run's summary, training curves (loss terms, learning rate and weight
// decay, online probe, throughput), evaluation tables, for a sweep the paper's plots (each
// result against each swept value, one line or bar group per value of the other axes, error
// bars the standard deviation over seeds) and every cell's loss curve, the PNGs found in the
// folder (attention maps, sample grids) and the resolved configuration. Charts are Plotly
// figures drawn by the page's script; when all have rendered the page sets
// <body data-status="ok" data-charts="N">, and "error" with the message shown otherwise.
// Markdown: the tables, for docs and papers. CSV: every number in long form, for scripts.
#pragma once

#include "report_input.h"

#include <string>
#include <string_view>

namespace mdlab {

/// Output formats of `mdlab report`.
enum class ReportFormat { Html, Markdown, Csv };

/// The format named "html", "md" or "csv"; mdlab::Error naming the choices otherwise.
ReportFormat parse_report_format(std::string_view name);

/// The page or text for `input`. `chart_library` is the charting library's JavaScript,
/// inlined into an HTML page (unused by the other formats). `charts`, when given, receives
/// the number of charts the page draws (0 for the other formats).
std::string render_report(const ReportInput& input, ReportFormat format,
                          std::string_view chart_library, size_t* charts = nullptr);

}  // namespace mdlab
