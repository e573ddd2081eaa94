#include "report.h"

#include "run_comparison.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace mdlab {
namespace {

using nlohmann::json;

// The most sweep plots a page draws (results x swept axes can be many).
constexpr size_t kMaxSweepCharts = 40;

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// A number for JSON: NaN and infinities become null (a gap in a Plotly line).
json number(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

std::string experiment_name(const RunLogContents& run) {
  const auto it = run.meta.find("experiment");
  return it != run.meta.end() ? it->second : run.file.parent_path().filename().string();
}

// ---- charts

struct Chart {
  std::string section;  // "curves", "sweep"
  json figure;          // {data, layout}
};

json layout(const std::string& title, const std::string& x_title, const std::string& y_title) {
  return {{"title", {{"text", title}, {"x", 0.02}, {"xanchor", "left"}, {"font", {{"size", 13}}}}},
          {"xaxis", {{"title", {{"text", x_title}}}}},
          {"yaxis", {{"title", {{"text", y_title}}}}},
          {"height", 320},
          {"margin", {{"l", 60}, {"r", 20}, {"t", 40}, {"b", 50}}},
          {"legend", {{"orientation", "h"}, {"y", -0.25}}}};
}

json line_trace(const std::string& name, const std::vector<MetricPoint>& points, bool dashed) {
  json x = json::array(), y = json::array();
  for (const auto& p : points) {
    x.push_back(p.step);
    y.push_back(number(p.value));
  }
  // Validation is measured once an epoch: markers, so a short run's single point shows.
  json trace = {{"type", "scatter"},
                {"mode", dashed || points.size() == 1 ? "lines+markers" : "lines"},
                {"name", name},
                {"x", x},
                {"y", y}};
  if (dashed) trace["line"] = {{"dash", "dash"}};
  return trace;
}

// Which chart of a run a metric belongs to.
std::string metric_group(const std::string& name) {
  const std::string last = name.substr(name.rfind('/') + 1);
  if (last == "epoch") return "";
  if (last == "images_per_second" || last == "data_wait_fraction") return "Throughput";
  if (last == "lr" || last == "wd" || last.find("momentum") != std::string::npos ||
      last.find("temp") != std::string::npos)
    return "Schedules: learning rate, weight decay, momentum";
  if (name.find("probe") != std::string::npos) return "Online linear probe";
  if (last.find("accuracy") != std::string::npos || last.find("top1") != std::string::npos ||
      last.find("top5") != std::string::npos)
    return "Accuracy";
  return "Loss terms (train solid, validation dashed)";
}

std::vector<Chart> run_charts(const RunLogContents& run) {
  std::map<std::string, json> traces;  // group -> traces
  std::vector<std::string> order;
  for (const auto& [name, points] : run.metrics) {
    const std::string group = metric_group(name);
    if (group.empty() || points.empty()) continue;
    if (!traces.count(group)) order.push_back(group), traces[group] = json::array();
    json trace = line_trace(name, points, name.rfind("val/", 0) == 0);
    // Quantities of another scale on a right-hand axis: the data-wait fraction beside
    // images/s, the probe's loss beside its accuracy.
    const bool right =
        (group == "Throughput" && name.find("data_wait_fraction") != std::string::npos) ||
        (group.rfind("Online", 0) == 0 && name.find("loss") != std::string::npos);
    if (right) trace["yaxis"] = "y2";
    traces[group].push_back(std::move(trace));
  }
  // Losses first, then accuracy, probe, schedules, throughput.
  std::stable_sort(order.begin(), order.end(), [](const std::string& a, const std::string& b) {
    auto rank = [](const std::string& g) {
      return g.rfind("Loss", 0) == 0     ? 0
             : g == "Accuracy"           ? 1
             : g.rfind("Online", 0) == 0 ? 2
             : g.rfind("Sched", 0) == 0  ? 3
                                         : 4;
    };
    return rank(a) < rank(b);
  });
  std::vector<Chart> charts;
  for (const auto& group : order) {
    json l = layout(group, "step", "");
    auto right_axis = [&](const char* left_title, const char* right_title) {
      l["yaxis"]["title"]["text"] = left_title;
      l["yaxis2"] = {{"title", {{"text", right_title}}},
                     {"overlaying", "y"},
                     {"side", "right"},
                     {"rangemode", "tozero"}};
      l["margin"]["r"] = 70;
    };
    if (group == "Throughput") right_axis("images/s", "data-wait fraction");
    if (group.rfind("Online", 0) == 0) right_axis("accuracy", "loss (right)");
    charts.push_back({"curves", {{"data", traces[group]}, {"layout", l}}});
  }
  return charts;
}

// A value of a swept axis as a number, when it is one.
bool as_number(const std::string& text, double& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

std::vector<Chart> sweep_charts(const ReportInput& in, std::vector<std::string>& notes) {
  const SweepRecord& record = *in.sweep;
  const auto groups = group_sweep_cells(record);
  const auto tables = summarise_sweep(record, kDefaultSweepMetrics);
  std::vector<size_t> axes;  // swept axes (not the seed) with two or more values
  for (size_t a = 0, v = 0; a < record.axes.size(); ++a) {
    if (record.axes[a] == "experiment.seed") continue;
    std::set<std::string> distinct;
    for (const auto& g : groups) distinct.insert(g.values[v]);
    if (distinct.size() > 1) axes.push_back(v);
    ++v;
  }
  std::vector<std::string> axis_names;
  for (const auto& a : record.axes)
    if (a != "experiment.seed") axis_names.push_back(a);

  std::vector<Chart> charts;
  size_t wanted = 0;
  for (size_t axis : axes) {
    bool numeric = true;
    for (const auto& g : groups) {
      double v;
      numeric = numeric && as_number(g.values[axis], v);
    }
    for (const auto& t : tables) {
      for (size_t c = 0; c < t.columns.size(); ++c) {
        // One trace per value of the other axes (and per sub-row of the table).
        std::map<std::string, json> traces;
        std::vector<std::string> trace_order;
        for (const auto& row : t.rows) {
          if (row.counts[c] == 0) continue;
          const auto& g = groups[row.group];
          std::vector<std::string> others;
          for (size_t o = 0; o < g.values.size(); ++o)
            if (o != axis) others.push_back(fmt::format("{}={}", axis_names[o], g.values[o]));
          if (!row.sub_row.empty()) others.push_back(row.sub_row);
          const std::string name =
              others.empty() ? t.columns[c] : fmt::format("{}", fmt::join(others, ", "));
          if (!traces.count(name)) {
            trace_order.push_back(name);
            traces[name] = {
                {"type", numeric ? "scatter" : "bar"},
                {"name", name},
                {"x", json::array()},
                {"y", json::array()},
                {"error_y", {{"type", "data"}, {"array", json::array()}, {"visible", true}}}};
            if (numeric) traces[name]["mode"] = "lines+markers";
          }
          json& tr = traces[name];
          double x = 0;
          if (numeric) {
            as_number(g.values[axis], x);
            tr["x"].push_back(x);
          } else {
            tr["x"].push_back(g.values[axis]);
          }
          tr["y"].push_back(number(row.mean[c]));
          tr["error_y"]["array"].push_back(std::isfinite(row.std[c]) ? row.std[c] : 0.0);
        }
        if (traces.empty()) continue;
        ++wanted;
        if (charts.size() == kMaxSweepCharts) continue;
        json data = json::array();
        for (const auto& name : trace_order) {
          json tr = traces[name];
          if (numeric) {  // points in x order, so lines do not zigzag
            std::vector<size_t> idx(tr["x"].size());
            for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
            std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
              return tr["x"][a].get<double>() < tr["x"][b].get<double>();
            });
            json xs = json::array(), ys = json::array(), es = json::array();
            for (size_t i : idx) {
              xs.push_back(tr["x"][i]);
              ys.push_back(tr["y"][i]);
              es.push_back(tr["error_y"]["array"][i]);
            }
            tr["x"] = xs;
            tr["y"] = ys;
            tr["error_y"]["array"] = es;
          }
          data.push_back(std::move(tr));
        }
        json l = layout(fmt::format("{} ({}) vs {}", t.columns[c], t.title, axis_names[axis]),
                        axis_names[axis], t.columns[c]);
        if (!numeric) l["barmode"] = "group";
        charts.push_back({"sweep", {{"data", data}, {"layout", l}}});
      }
    }
  }
  if (wanted > charts.size())
    notes.push_back(fmt::format("{} of {} sweep plots drawn (at most {})", charts.size(), wanted,
                                kMaxSweepCharts));
  // Every cell's training loss on one chart.
  json losses = json::array();
  for (size_t c = 0; c < in.cells.size(); ++c) {
    const auto it = in.cells[c].metrics.find("train/loss");
    if (it != in.cells[c].metrics.end() && !it->second.empty())
      losses.push_back(line_trace(record.cells[c].name, it->second, false));
  }
  if (!losses.empty())
    charts.push_back(
        {"curves",
         {{"data", losses}, {"layout", layout("train/loss of every cell", "step", "loss")}}});
  return charts;
}

std::vector<Chart> all_charts(const ReportInput& in, std::vector<std::string>& notes) {
  if (in.sweep) return sweep_charts(in, notes);
  return run_charts(*in.run);
}

// ---- HTML pieces

std::string html_table(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows) {
  std::string out = "<table><thead><tr>";
  for (const auto& h : header) out += "<th>" + html_escape(h) + "</th>";
  out += "</tr></thead><tbody>\n";
  for (const auto& r : rows) {
    out += "<tr>";
    for (size_t i = 0; i < r.size(); ++i)
      out += (i == 0 ? "<th scope=\"row\">" : "<td>") + html_escape(r[i]) +
             (i == 0 ? "</th>" : "</td>");
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

std::string eval_table_html(const Table& t) {
  std::vector<std::string> header{""};
  header.insert(header.end(), t.columns.begin(), t.columns.end());
  const bool notes =
      std::any_of(t.notes.begin(), t.notes.end(), [](auto& n) { return !n.empty(); });
  if (notes) header.push_back("note");
  std::vector<std::vector<std::string>> rows;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    std::vector<std::string> row{t.rows[r]};
    for (double v : t.values[r]) row.push_back(std::isnan(v) ? "-" : format_value(v));
    if (notes) row.push_back(r < t.notes.size() ? t.notes[r] : "");
    rows.push_back(std::move(row));
  }
  return html_table(header, rows);
}

std::string summary_table_html(const SweepSummaryTable& t) {
  std::vector<std::string> header{"cell", "n"};
  header.insert(header.end(), t.columns.begin(), t.columns.end());
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : t.rows) {
    std::vector<std::string> cells{row.label, std::to_string(row.n)};
    for (size_t c = 0; c < t.columns.size(); ++c) {
      if (row.counts[c] == 0) {
        cells.push_back("-");
      } else if (row.counts[c] == 1) {
        cells.push_back(format_value(row.mean[c]));
      } else {
        cells.push_back(
            fmt::format("{} ± {}", format_value(row.mean[c]), format_value(row.std[c])));
      }
    }
    rows.push_back(std::move(cells));
  }
  return html_table(header, rows);
}

constexpr const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
nav a { margin-right: 1em; } .muted { color: #666; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #f4f4f4; } tbody th { text-align: left; font-weight: normal; }
table.kv th { text-align: left; } table.kv td { text-align: left; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1em; }
.chart { border: 1px solid #eee; min-height: 320px; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; } figure img { max-width: 520px; image-rendering: pixelated; border: 1px solid #eee; }
figcaption { font-size: 0.8em; color: #555; } pre { background: #f8f8f8; padding: 1em; overflow-x: auto; font-size: 0.85em; }
#mdlab-error { color: #a00; font-weight: bold; }
)";

// Draws every chart; marks the page ok (or error, shown) when all have rendered.
constexpr const char* kScript = R"(
(function () {
  var body = document.body;
  function fail(e) {
    body.setAttribute("data-status", "error");
    var box = document.getElementById("mdlab-error");
    box.textContent = "The charts could not be drawn: " + e;
  }
  try {
    var charts = JSON.parse(document.getElementById("mdlab-charts").textContent);
    var drawn = charts.map(function (c) {
      return Plotly.newPlot(c.id, c.figure.data, c.figure.layout,
                            {displaylogo: false, responsive: true});
    });
    Promise.all(drawn).then(function () {
      body.setAttribute("data-charts", String(charts.length));
      body.setAttribute("data-status", "ok");
    }, fail);
  } catch (e) {
    fail(e);
  }
})();
)";

std::string render_html(const ReportInput& in, std::string_view chart_library,
                        size_t* chart_count) {
  std::vector<std::string> notes = in.notes;
  const std::vector<Chart> charts = all_charts(in, notes);
  if (chart_count) *chart_count = charts.size();
  const std::string title =
      in.sweep ? fmt::format("sweep {}", in.dir.string())
               : fmt::format("{} ({})", experiment_name(*in.run), in.dir.filename().string());

  std::string page = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  page += "<title>mdlab report: " + html_escape(title) + "</title>\n<style>" + kStyle +
          "</style>\n<script>\n";
  page += chart_library;
  page += "\n</script>\n</head>\n<body data-status=\"loading\">\n";
  page += "<h1>mdlab report: " + html_escape(title) + "</h1>\n";
  page +=
      "<nav><a href=\"#summary\">Summary</a><a href=\"#charts\">Charts</a>"
      "<a href=\"#evaluation\">Evaluation</a><a href=\"#images\">Images</a>"
      "<a href=\"#config\">Configuration</a></nav>\n<p id=\"mdlab-error\"></p>\n";

  // Summary
  page += "<section id=\"summary\"><h2>Summary</h2>\n";
  std::vector<std::vector<std::string>> kv;
  if (in.sweep) {
    const auto& r = *in.sweep;
    std::map<std::string, size_t> counts;
    for (const auto& c : r.cells) ++counts[c.status];
    std::vector<std::string> parts;
    for (const auto& [s, n] : counts) parts.push_back(fmt::format("{} {}", n, s));
    kv.push_back({"folder", in.dir.string()});
    kv.push_back({"axes", fmt::format("{}", fmt::join(r.axes, ", "))});
    kv.push_back({"cells", fmt::format("{}: {}", r.cells.size(), fmt::join(parts, ", "))});
    for (const auto& c : r.cells)
      if (c.status != "completed" && c.status != "pending")
        kv.push_back({c.status, c.name + (c.reason.empty() ? "" : ": " + c.reason)});
  } else {
    const auto& run = *in.run;
    kv.push_back({"run", run.file.string()});
    kv.push_back({"status", std::string(run_status_name(run.status)) +
                                (run.status_reason.empty() ? "" : ": " + run.status_reason)});
    for (const char* key : {"experiment", "started_at", "ended_at", "steps", "device", "seed",
                            "host", "git_commit", "build", "data"}) {
      if (auto it = run.meta.find(key); it != run.meta.end()) kv.push_back({key, it->second});
    }
  }
  page += "<table class=\"kv\"><tbody>\n";
  for (const auto& row : kv)
    page += "<tr><th>" + html_escape(row[0]) + "</th><td>" + html_escape(row[1]) + "</td></tr>\n";
  page += "</tbody></table>\n";
  for (const auto& n : notes) page += "<p class=\"muted\">" + html_escape(n) + "</p>\n";
  page += "</section>\n";

  // Charts
  json specs = json::array();
  page += "<section id=\"charts\"><h2>Charts</h2>\n";
  for (const char* section : {"sweep", "curves"}) {
    std::string divs;
    for (size_t i = 0; i < charts.size(); ++i) {
      if (charts[i].section != section) continue;
      const std::string id = fmt::format("chart-{}", i);
      divs += "<div class=\"chart\" id=\"" + id + "\"></div>\n";
      specs.push_back({{"id", id}, {"figure", charts[i].figure}});
    }
    if (divs.empty()) continue;
    page += std::string("<h3>") +
            (std::string_view(section) == "sweep"
                 ? "Results against the swept values (mean ± std over seeds)"
                 : "Training curves") +
            "</h3>\n<div class=\"charts\">\n" + divs + "</div>\n";
  }
  if (charts.empty()) page += "<p class=\"muted\">(no metrics to plot)</p>\n";
  page += "</section>\n";

  // Evaluation
  page += "<section id=\"evaluation\"><h2>Evaluation</h2>\n";
  if (in.sweep) {
    for (const auto& t : summarise_sweep(*in.sweep, kDefaultSweepMetrics))
      page += "<h3>" + html_escape(t.title) + "</h3>\n" + summary_table_html(t);
  } else if (in.run->tables.empty()) {
    page += "<p class=\"muted\">(no evaluation tables)</p>\n";
  } else {
    for (const auto& [evaluator, tables] : in.run->tables)
      for (const auto& t : tables)
        page += "<h3>" + html_escape(evaluator + " / " + t.name) + "</h3>\n" + eval_table_html(t);
  }
  page += "</section>\n";

  // Images
  page += "<section id=\"images\"><h2>Images</h2>\n";
  if (in.images.empty()) page += "<p class=\"muted\">(no PNG files in the folder)</p>\n";
  for (const auto& image : in.images) {
    page += "<figure><img alt=\"" + html_escape(image.relative.string()) +
            "\" src=\"data:image/png;base64," + base64(image.bytes) + "\"><figcaption>" +
            html_escape(image.relative.string()) + "</figcaption></figure>\n";
  }
  page += "</section>\n";

  // Configuration
  const std::string& config = in.sweep ? in.sweep->config_toml : in.run->config_toml;
  page += "<section id=\"config\"><h2>Configuration</h2>\n<pre>" + html_escape(config) +
          "</pre>\n</section>\n";

  // The figures as JSON; "</" is escaped so no string can close the script element.
  std::string data = specs.dump();
  for (size_t at = data.find("</"); at != std::string::npos; at = data.find("</", at + 3))
    data.replace(at, 2, "<\\/");
  page += "<script id=\"mdlab-charts\" type=\"application/json\">" + data + "</script>\n";
  page += std::string("<script>") + kScript + "</script>\n</body></html>\n";
  return page;
}

// ---- Markdown and CSV

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_number(double v) {
  return std::isfinite(v) ? fmt::format("{}", v) : "";
}

std::string render_csv(const ReportInput& in) {
  std::string out;
  if (in.sweep) {
    out = "table,cell,n,column,mean,std\n";
    for (const auto& t : summarise_sweep(*in.sweep, {"*"}))
      for (const auto& row : t.rows)
        for (size_t c = 0; c < t.columns.size(); ++c)
          out += fmt::format("{},{},{},{},{},{}\n", csv_field(t.title), csv_field(row.label),
                             row.counts[c], csv_field(t.columns[c]), csv_number(row.mean[c]),
                             csv_number(row.std[c]));
    return out;
  }
  out = "kind,name,row,column,value\n";
  for (const auto& [name, points] : in.run->metrics)
    if (!points.empty())
      out += fmt::format("metric,{},{},last,{}\n", csv_field(name), points.back().step,
                         csv_number(points.back().value));
  for (const auto& [evaluator, tables] : in.run->tables)
    for (const auto& t : tables)
      for (size_t r = 0; r < t.rows.size(); ++r)
        for (size_t c = 0; c < t.columns.size(); ++c)
          out += fmt::format("table,{},{},{},{}\n", csv_field(evaluator + "/" + t.name),
                             csv_field(t.rows[r]), csv_field(t.columns[c]),
                             csv_number(t.values[r][c]));
  return out;
}

std::string render_markdown(const ReportInput& in) {
  if (in.sweep) {
    return fmt::format(
        "# Sweep {}\n\nAxes: {}.\n\n{}", in.dir.string(), fmt::join(in.sweep->axes, ", "),
        render_sweep_summary(*in.sweep, in.dir / kSweepRecordFile, TableFormat::Markdown));
  }
  const auto& run = *in.run;
  std::string out = fmt::format("# {}\n\n- run: {}\n- status: {}{}\n", experiment_name(run),
                                run.file.string(), run_status_name(run.status),
                                run.status_reason.empty() ? "" : ": " + run.status_reason);
  out += "\n## Final metrics\n\n| metric | step | value |\n|---|---:|---:|\n";
  for (const auto& [name, points] : run.metrics)
    if (!points.empty())
      out += fmt::format("| {} | {} | {} |\n", name, points.back().step,
                         format_value(points.back().value));
  for (const auto& s : stack_tables({run})) {
    out += fmt::format("\n## {} / {}\n\n", s.evaluator, s.table.name);
    Table t = s.table;
    std::vector<std::string> header{"row"};
    header.insert(header.end(), t.columns.begin(), t.columns.end());
    std::vector<std::vector<std::string>> rows;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      std::vector<std::string> row{t.rows[r]};
      for (double v : t.values[r]) row.push_back(std::isnan(v) ? "-" : format_value(v));
      rows.push_back(std::move(row));
    }
    out += render_cells(header, rows, TableFormat::Markdown);
  }
  return out;
}

}  // namespace

ReportFormat parse_report_format(std::string_view name) {
  if (name == "html") return ReportFormat::Html;
  if (name == "md" || name == "markdown") return ReportFormat::Markdown;
  if (name == "csv") return ReportFormat::Csv;
  throw Error(fmt::format("unknown report format '{}' (html, md or csv)", name));
}

std::string render_report(const ReportInput& input, ReportFormat format,
                          std::string_view chart_library, size_t* charts) {
  MDLAB_CHECK(input.run || input.sweep, "render_report: no run and no sweep");
  if (charts) *charts = 0;
  switch (format) {
    case ReportFormat::Html: return render_html(input, chart_library, charts);
    case ReportFormat::Markdown: return render_markdown(input);
    case ReportFormat::Csv: return render_csv(input);
  }
  return {};
}

}  // namespace mdlab
