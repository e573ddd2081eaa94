#include "sweep_record.h"

#include "h5_support.h"
#include "run_log_reader.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <system_error>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mdlab {

using namespace runlog_detail;

namespace {

constexpr const char* kVersionAttribute = "mdlab_sweep_record_version";
constexpr int kVersion = 1;

// A string array of `count` entries read from `rel`, checked against the expected shape.
std::vector<std::string> read_strings_of(hid_t root, const std::string& rel, const fs::path& file,
                                         std::vector<hsize_t> expected) {
  std::vector<hsize_t> shape;
  auto values = read_string_array_dataset(root, rel, file, shape);
  // An empty array may be stored with any trailing extent.
  MDLAB_CHECK(shape == expected || (values.empty() && shape.size() == expected.size()),
              "sweep record {}: /{} has the wrong shape for {} cells and {} axes", file.string(),
              rel, expected.empty() ? 0 : expected[0], expected.size() > 1 ? expected[1] : 0);
  return values;
}

void write_record(const fs::path& path, const SweepRecord& record) {
  H5Quiet quiet;
  H5Handle fapl = file_access_plist(path, true);
  H5Handle file = h5_id(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()), H5Fclose,
                        path, "create the file");
  const hid_t root = file.get();
  write_number_attribute(root, kVersionAttribute, kVersion, true, path, "/");
  write_string_array_dataset(root, "config", {record.config_toml}, {1}, path);
  const size_t n = record.cells.size(), a = record.axes.size();
  write_string_array_dataset(root, "axes", record.axes, {a}, path);
  std::vector<std::string> names, values, statuses, reasons;
  for (const auto& cell : record.cells) {
    MDLAB_CHECK(cell.values.size() == a, "sweep record {}: cell {} has {} values for {} axes",
                path.string(), cell.name, cell.values.size(), a);
    names.push_back(cell.name);
    values.insert(values.end(), cell.values.begin(), cell.values.end());
    statuses.push_back(cell.status);
    reasons.push_back(cell.reason);
  }
  write_string_array_dataset(root, "cells/name", names, {n}, path);
  write_string_array_dataset(root, "cells/values", values, {n, a}, path);
  write_string_array_dataset(root, "cells/status", statuses, {n}, path);
  write_string_array_dataset(root, "cells/reason", reasons, {n}, path);

  Table final;
  final.name = "final";
  final.rows = names;
  final.columns = record.final_columns;
  final.values = record.final;
  MDLAB_CHECK(final.values.size() == n, "sweep record {}: final metrics for {} of {} cells",
              path.string(), final.values.size(), n);
  write_table_dataset(root, "final", final, path);

  for (const auto& s : record.tables) {
    check_object_name("evaluator", s.evaluator);
    check_object_name("table", s.table.name);
    const std::string rel = fmt::format("eval/{}/{}", s.evaluator, s.table.name);
    MDLAB_CHECK(s.run_of_row.size() == s.table.rows.size(),
                "sweep record {}: table /{} names the cells of {} of its {} rows", path.string(),
                rel, s.run_of_row.size(), s.table.rows.size());
    write_table_dataset(root, rel, s.table, path);
    std::vector<std::string> cells;
    for (size_t i : s.run_of_row) {
      MDLAB_CHECK(i < n, "sweep record {}: table /{} names cell {} of {}", path.string(), rel, i,
                  n);
      cells.push_back(names[i]);
    }
    H5Handle dset = h5_id(H5Dopen2(root, rel.c_str(), H5P_DEFAULT), H5Dclose, path, "open /" + rel);
    write_string_array_attribute(dset.get(), "cells", cells, path, "/" + rel);
  }
  h5_ok(H5Fclose(file.release()), path, "close the file");
}

// Mean and sample standard deviation of the finite values (NaN when there are none).
struct Summary {
  double mean = std::nan("");
  double std = std::nan("");
  size_t n = 0;
};

Summary summarise(const std::vector<double>& values) {
  Summary s;
  double sum = 0;
  for (double v : values)
    if (std::isfinite(v)) sum += v, ++s.n;
  if (s.n == 0) return s;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n > 1) {
    double sq = 0;
    for (double v : values)
      if (std::isfinite(v)) sq += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(sq / static_cast<double>(s.n - 1));
  }
  return s;
}

std::string mean_text(double mean, double std, size_t n, TableFormat format) {
  if (n == 0) return format == TableFormat::Tsv ? "nan" : "-";
  if (format == TableFormat::Tsv) return fmt::format("{}", mean);
  if (n == 1) return format_value(mean);
  return fmt::format("{} ± {}", format_value(mean), format_value(std));
}

std::string render_summary_table(const SweepSummaryTable& t, TableFormat format) {
  const bool tsv = format == TableFormat::Tsv;
  std::vector<std::string> header{"cell", "n"};
  for (const auto& c : t.columns) {
    header.push_back(c);
    if (tsv) header.push_back(c + " std");
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : t.rows) {
    std::vector<std::string> cells{row.label, std::to_string(row.n)};
    for (size_t c = 0; c < t.columns.size(); ++c) {
      cells.push_back(mean_text(row.mean[c], row.std[c], row.counts[c], format));
      if (tsv) cells.push_back(row.counts[c] > 1 ? fmt::format("{}", row.std[c]) : "nan");
    }
    rows.push_back(std::move(cells));
  }
  return render_cells(header, rows, format);
}

}  // namespace

void write_sweep_record(const fs::path& file, const SweepRecord& record) {
  // A unique temporary name: several processes (a SLURM array's tasks) may write at once.
  const fs::path temp =
      file.parent_path() / fmt::format(".{}.{}.tmp", file.filename().string(), ::getpid());
  std::error_code ec;
  fs::remove(temp, ec);
  try {
    write_record(temp, record);
    fs::rename(temp, file);
  } catch (...) {
    fs::remove(temp, ec);
    throw;
  }
}

SweepRecord read_sweep_record(const fs::path& path) {
  MDLAB_CHECK(fs::exists(path), "sweep record {} does not exist", path.string());
  H5Quiet quiet;
  H5Handle fapl = file_access_plist(path, false);
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (id < 0) {
    h5_error_details();
    MDLAB_THROW("sweep record {}: not an HDF5 file", path.string());
  }
  H5Handle file(id, H5Fclose);
  const hid_t root = file.get();
  MDLAB_CHECK(h5_bool(H5Aexists(root, kVersionAttribute), path, "look up the format version"),
              "{} is not a sweep record (no {} attribute)", path.string(), kVersionAttribute);
  const double version = read_number_attribute(root, kVersionAttribute, path, "/");
  MDLAB_CHECK(version == kVersion,
              "sweep record {} has format version {}, this build reads version {}", path.string(),
              version, kVersion);

  SweepRecord record;
  std::vector<hsize_t> shape;
  record.config_toml = read_string_dataset(root, "config", path);
  record.axes = read_string_array_dataset(root, "axes", path, shape);
  const auto names = read_string_array_dataset(root, "cells/name", path, shape);
  const hsize_t n = names.size(), a = record.axes.size();
  const auto values = read_strings_of(root, "cells/values", path, {n, a});
  const auto statuses = read_strings_of(root, "cells/status", path, {n});
  const auto reasons = read_strings_of(root, "cells/reason", path, {n});
  for (size_t c = 0; c < n; ++c) {
    SweepRecordCell cell;
    cell.name = names[c];
    if (!values.empty())
      cell.values.assign(values.begin() + static_cast<std::ptrdiff_t>(c * a),
                         values.begin() + static_cast<std::ptrdiff_t>((c + 1) * a));
    cell.status = statuses[c];
    cell.reason = reasons[c];
    record.cells.push_back(std::move(cell));
  }
  {
    H5Handle dset = h5_id(H5Dopen2(root, "final", H5P_DEFAULT), H5Dclose, path, "open /final");
    Table final = read_table_dataset(dset.get(), "/final", path);
    MDLAB_CHECK(final.rows == names, "sweep record {}: /final's rows are not the cells",
                path.string());
    record.final_columns = std::move(final.columns);
    record.final = std::move(final.values);
  }
  if (h5_exists(root, "eval", path)) {
    H5Handle group = h5_id(H5Gopen2(root, "eval", H5P_DEFAULT), H5Gclose, path, "open /eval");
    std::vector<std::string> problems;
    for (const auto& rel : list_datasets(group.get(), "/eval", problems)) {
      const size_t slash = rel.rfind('/');
      MDLAB_CHECK(slash != std::string::npos,
                  "sweep record {}: /eval/{} is not a table of an evaluator", path.string(), rel);
      const std::string object = "/eval/" + rel;
      H5Handle dset =
          h5_id(H5Dopen2(group.get(), rel.c_str(), H5P_DEFAULT), H5Dclose, path, "open " + object);
      StackedTable s;
      s.evaluator = rel.substr(0, slash);
      s.table = read_table_dataset(dset.get(), object, path);
      s.table.name = rel.substr(slash + 1);
      const auto cells = read_string_array_attribute(dset.get(), "cells", path, object);
      MDLAB_CHECK(cells.size() == s.table.rows.size(),
                  "sweep record {}: {} names the cells of {} of its {} rows", path.string(), object,
                  cells.size(), s.table.rows.size());
      for (const auto& name : cells) {
        const auto it = std::find(names.begin(), names.end(), name);
        MDLAB_CHECK(it != names.end(),
                    "sweep record {}: {} names cell '{}', which is not in /cells", path.string(),
                    object, name);
        s.run_of_row.push_back(static_cast<size_t>(it - names.begin()));
      }
      record.tables.push_back(std::move(s));
    }
    MDLAB_CHECK(problems.empty(), "sweep record {}: {}", path.string(),
                fmt::format("{}", fmt::join(problems, "; ")));
  }
  return record;
}

void collect_sweep_results(const fs::path& dir, SweepRecord& record,
                           std::vector<RunLogContents>* logs) {
  std::vector<RunLogContents> runs(record.cells.size());
  std::vector<std::string> labels;
  std::set<std::string> metric_names;
  for (size_t c = 0; c < record.cells.size(); ++c) {
    auto& cell = record.cells[c];
    labels.push_back(cell.name);
    const fs::path log = dir / cell.name / "run.h5";
    cell.status = "pending";
    cell.reason.clear();
    if (!fs::exists(log)) continue;
    try {
      runs[c] = read_run_log(log);
      cell.status = run_status_name(runs[c].status);
      cell.reason = runs[c].status_reason;
      for (const auto& [name, points] : runs[c].metrics)
        if (!points.empty()) metric_names.insert(name);
    } catch (const std::exception& e) {
      runs[c] = RunLogContents{};
      cell.status = "failed";
      cell.reason = fmt::format("its run log cannot be read: {}", e.what());
    }
  }
  record.final_columns.assign(metric_names.begin(), metric_names.end());
  record.final.assign(record.cells.size(),
                      std::vector<double>(record.final_columns.size(), std::nan("")));
  for (size_t c = 0; c < runs.size(); ++c) {
    for (size_t m = 0; m < record.final_columns.size(); ++m) {
      const auto it = runs[c].metrics.find(record.final_columns[m]);
      if (it != runs[c].metrics.end() && !it->second.empty())
        record.final[c][m] = it->second.back().value;
    }
  }
  record.tables = stack_tables(runs, labels);
  if (logs) *logs = std::move(runs);
}

bool refresh_sweep_results(const fs::path& dir, SweepRecord& record,
                           std::vector<RunLogContents>* logs) {
  const bool cells_here =
      std::all_of(record.cells.begin(), record.cells.end(), [&](const SweepRecordCell& c) {
        return c.status == "pending" || fs::exists(dir / c.name / "run.h5");
      });
  if (cells_here) collect_sweep_results(dir, record, logs);
  return cells_here;
}

std::vector<SweepGroup> group_sweep_cells(const SweepRecord& record) {
  const auto seed_axis = std::find(record.axes.begin(), record.axes.end(), "experiment.seed");
  const size_t seed = static_cast<size_t>(seed_axis - record.axes.begin());
  std::vector<SweepGroup> groups;
  std::map<std::vector<std::string>, size_t> index;
  for (size_t c = 0; c < record.cells.size(); ++c) {
    const auto& cell = record.cells[c];
    std::vector<std::string> key = cell.values;
    std::string label = cell.name;
    if (seed < key.size()) {
      key.erase(key.begin() + static_cast<std::ptrdiff_t>(seed));
      // Names list the axes' labels in order, joined by ',' (labels never hold one).
      std::vector<std::string> parts;
      for (size_t b = 0, e; b <= cell.name.size(); b = e + 1) {
        e = std::min(cell.name.find(',', b), cell.name.size());
        parts.push_back(cell.name.substr(b, e - b));
      }
      if (parts.size() == record.axes.size()) {
        parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(seed));
        label = parts.empty() ? "base" : fmt::format("{}", fmt::join(parts, ","));
      }
    }
    auto [it, fresh] = index.emplace(key, groups.size());
    if (fresh) groups.push_back({label, key, {}, {}});
    SweepGroup& g = groups[it->second];
    g.cells.push_back(c);
    if (cell.status == "completed") g.completed.push_back(c);
  }
  return groups;
}

std::vector<SweepSummaryTable> summarise_sweep(const SweepRecord& record,
                                               const std::vector<std::string>& metrics) {
  const auto groups = group_sweep_cells(record);
  std::vector<SweepSummaryTable> out;
  // One table: a row per (group, sub-row) that has values, a column per metric.
  auto aggregate = [&](SweepSummaryTable t, const std::vector<std::string>& sub_rows,
                       const auto& value_of) {
    for (size_t g = 0; g < groups.size(); ++g) {
      for (size_t r = 0; r < sub_rows.size(); ++r) {
        SweepSummaryTable::Row row;
        row.label = sub_rows[r].empty() ? groups[g].label : groups[g].label + ": " + sub_rows[r];
        row.group = g;
        row.sub_row = sub_rows[r];
        for (size_t c = 0; c < t.columns.size(); ++c) {
          std::vector<double> values;
          for (size_t cell : groups[g].completed) values.push_back(value_of(cell, r, c));
          const Summary s = summarise(values);
          row.mean.push_back(s.mean);
          row.std.push_back(s.std);
          row.counts.push_back(s.n);
          row.n = std::max(row.n, s.n);
        }
        // A sub-row no completed cell of this group has belongs to other cells.
        if (row.n == 0 && !groups[g].completed.empty()) continue;
        t.rows.push_back(std::move(row));
      }
    }
    out.push_back(std::move(t));
  };

  SweepSummaryTable final;
  final.title = "Final metrics";
  std::vector<size_t> shown;
  for (size_t m = 0; m < record.final_columns.size(); ++m) {
    const std::string& name = record.final_columns[m];
    const bool selected = std::any_of(metrics.begin(), metrics.end(), [&](const std::string& p) {
      return p == name || (!p.empty() && p.back() == '*' &&
                           name.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0);
    });
    if (!selected) continue;
    final.columns.push_back(name);
    shown.push_back(m);
  }
  aggregate(std::move(final), {""},
            [&](size_t cell, size_t, size_t c) { return record.final[cell][shown[c]]; });

  for (const auto& s : record.tables) {
    if (s.evaluator == "validation") continue;  // the val/ metrics above
    // Sub-rows: the part of each row label after its cell's name ("" for the run's own row).
    std::vector<std::string> sub_rows;
    std::map<std::pair<size_t, std::string>, size_t> row_of;  // (cell, sub-row) -> table row
    for (size_t r = 0; r < s.table.rows.size(); ++r) {
      const size_t cell = s.run_of_row[r];
      const std::string& name = record.cells[cell].name;
      std::string sub = s.table.rows[r];
      sub = sub.size() > name.size() + 2 && sub.compare(0, name.size() + 2, name + ": ") == 0
                ? sub.substr(name.size() + 2)
                : "";
      if (std::find(sub_rows.begin(), sub_rows.end(), sub) == sub_rows.end())
        sub_rows.push_back(sub);
      row_of[{cell, sub}] = r;
    }
    SweepSummaryTable t;
    t.title = s.evaluator + " / " + s.table.name;
    t.evaluator = s.evaluator;
    t.table = s.table.name;
    t.columns = s.table.columns;
    aggregate(std::move(t), sub_rows, [&](size_t cell, size_t r, size_t c) {
      const auto it = row_of.find({cell, sub_rows[r]});
      return it == row_of.end() ? std::nan("") : s.table.values[it->second][c];
    });
  }
  return out;
}

std::string render_sweep_summary(const SweepRecord& record, const fs::path& file,
                                 TableFormat format, const std::vector<std::string>& metrics) {
  const bool seeds =
      std::find(record.axes.begin(), record.axes.end(), "experiment.seed") != record.axes.end();
  std::map<std::string, size_t> status_count;
  for (const auto& cell : record.cells) ++status_count[cell.status];

  std::string out;
  const char* heading = format == TableFormat::Text       ? ""
                        : format == TableFormat::Markdown ? "## "
                                                          : "# ";
  if (format == TableFormat::Text) {
    out += "Sweep\n";
    out += fmt::format("  file    {}\n", file.string());
    std::vector<std::string> axes;
    for (size_t i = 0; i < record.axes.size(); ++i) {
      std::set<std::string> distinct;
      for (const auto& cell : record.cells) distinct.insert(cell.values[i]);
      axes.push_back(fmt::format("{} ({}{})", record.axes[i], distinct.size(),
                                 record.axes[i] == "experiment.seed" ? ", averaged" : ""));
    }
    out += fmt::format("  axes    {}\n",
                       axes.empty() ? "(none)" : fmt::format("{}", fmt::join(axes, ", ")));
    std::vector<std::string> counts;
    for (const auto& [status, count] : status_count)
      counts.push_back(fmt::format("{} {}", count, status));
    out += fmt::format("  cells   {}: {}\n", record.cells.size(), fmt::join(counts, ", "));
    for (const auto& cell : record.cells) {
      if (cell.status == "completed" || cell.status == "pending") continue;
      out += fmt::format("  {:<7} {}{}\n", cell.status, cell.name,
                         cell.reason.empty() ? "" : ": " + cell.reason);
    }
  }
  const std::string over = seeds ? " (mean ± std over seeds; n completed)" : "";
  for (const auto& t : summarise_sweep(record, metrics)) {
    out += fmt::format("{}{}{}{}\n", out.empty() ? "" : "\n", heading, t.title, over);
    if (format == TableFormat::Markdown) out += "\n";
    out += render_summary_table(t, format);
  }
  return out;
}

}  // namespace mdlab
