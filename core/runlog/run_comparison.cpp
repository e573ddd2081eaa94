#include "run_comparison.h"

#include "text_table.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

namespace mdlab {
namespace {

std::string experiment_of(const RunLogContents& run) {
  const auto it = run.meta.find("experiment");
  return it != run.meta.end() && !it->second.empty() ? it->second : run.file.stem().string();
}

// A Markdown cell: pipes escaped, so a note cannot break the row.
std::string markdown_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

// A TSV cell: tabs and newlines would split it, so they become spaces.
std::string tsv_cell(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\t' || c == '\n'; }, ' ');
  return text;
}

bool has_notes(const Table& t) {
  return std::any_of(t.notes.begin(), t.notes.end(),
                     [](const std::string& n) { return !n.empty(); });
}

std::string render_one(const Table& t, TableFormat format) {
  if (format == TableFormat::Text) return render_table(t, "  ");
  const bool markdown = format == TableFormat::Markdown;
  const bool notes = has_notes(t);
  std::vector<std::string> header{"run"};
  header.insert(header.end(), t.columns.begin(), t.columns.end());
  if (notes) header.push_back("note");
  // Markdown: values as `mdlab show` prints them; TSV: full precision.
  std::vector<std::vector<std::string>> rows;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    std::vector<std::string> cells{t.rows[r]};
    for (double v : t.values[r])
      cells.push_back(std::isnan(v) ? (markdown ? "-" : "nan")
                                    : (markdown ? format_value(v) : fmt::format("{}", v)));
    if (notes) cells.push_back(r < t.notes.size() ? t.notes[r] : "");
    rows.push_back(std::move(cells));
  }
  return render_cells(header, rows, format, notes);
}

}  // namespace

std::string render_cells(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows, TableFormat format,
                         bool last_is_note) {
  if (format == TableFormat::Text) {
    TextTable text(header);
    text.set_align(0, TextTable::Align::Left);
    if (last_is_note) text.set_align(header.size() - 1, TextTable::Align::Left);
    for (const auto& r : rows) text.add_row(r);
    return text.render("  ");
  }
  const bool markdown = format == TableFormat::Markdown;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l = markdown ? "|" : "";
    for (size_t i = 0; i < cells.size(); ++i) {
      if (markdown) {
        l += ' ';
        l += markdown_cell(cells[i]);
        l += " |";
      } else {
        if (i) l += '\t';
        l += tsv_cell(cells[i]);
      }
    }
    l += '\n';
    return l;
  };
  std::string out = line(header);
  if (markdown) {
    out += "|---|";
    for (size_t c = 1; c < header.size(); ++c)
      out += (last_is_note && c + 1 == header.size()) ? "---|" : "---:|";
    out += "\n";
  }
  for (const auto& r : rows) out += line(r);
  return out;
}

TableFormat parse_table_format(std::string_view name) {
  if (name == "text") return TableFormat::Text;
  if (name == "markdown") return TableFormat::Markdown;
  if (name == "tsv") return TableFormat::Tsv;
  throw Error(fmt::format("unknown table format '{}' (text, markdown or tsv)", name));
}

std::vector<std::string> run_labels(const std::vector<RunLogContents>& runs) {
  std::map<std::string, int> count;
  for (const auto& run : runs) ++count[experiment_of(run)];
  std::vector<std::string> labels;
  for (const auto& run : runs) {
    std::string label = experiment_of(run);
    if (count[label] > 1) {
      // The run directory holds run.h5; a bare file is named by itself.
      const auto dir = run.file.parent_path().filename().string();
      label += fmt::format(" ({})", dir.empty() ? run.file.filename().string() : dir);
    }
    labels.push_back(std::move(label));
  }
  return labels;
}

std::vector<StackedTable> stack_tables(const std::vector<RunLogContents>& runs) {
  return stack_tables(runs, run_labels(runs));
}

std::vector<StackedTable> stack_tables(const std::vector<RunLogContents>& runs,
                                       const std::vector<std::string>& labels) {
  MDLAB_CHECK(labels.size() == runs.size(), "stack_tables: {} labels for {} runs", labels.size(),
              runs.size());
  std::vector<StackedTable> stacked;
  auto find = [&](const std::string& evaluator, const std::string& name) -> StackedTable& {
    for (auto& s : stacked)
      if (s.evaluator == evaluator && s.table.name == name) return s;
    stacked.push_back({evaluator, {}, {}});
    stacked.back().table.name = name;
    return stacked.back();
  };
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string experiment = experiment_of(runs[i]);
    for (const auto& [evaluator, tables] : runs[i].tables) {
      for (const auto& t : tables) {
        StackedTable& target = find(evaluator, t.name);
        Table& out = target.table;
        std::vector<size_t> column_of;  // t's column c -> out's column
        for (const auto& c : t.columns) {
          auto it = std::find(out.columns.begin(), out.columns.end(), c);
          if (it == out.columns.end()) {
            out.columns.push_back(c);
            for (auto& row : out.values) row.push_back(std::nan(""));
            it = out.columns.end() - 1;
          }
          column_of.push_back(static_cast<size_t>(it - out.columns.begin()));
        }
        for (size_t r = 0; r < t.rows.size(); ++r) {
          out.rows.push_back(t.rows[r] == experiment ? labels[i]
                                                     : fmt::format("{}: {}", labels[i], t.rows[r]));
          std::vector<double> values(out.columns.size(), std::nan(""));
          for (size_t c = 0; c < column_of.size() && c < t.values[r].size(); ++c)
            values[column_of[c]] = t.values[r][c];
          out.values.push_back(std::move(values));
          out.notes.push_back(r < t.notes.size() ? t.notes[r] : "");
          target.run_of_row.push_back(i);
        }
      }
    }
  }
  return stacked;
}

std::string render_comparison(const std::vector<RunLogContents>& runs, TableFormat format) {
  const std::vector<std::string> labels = run_labels(runs);
  // The run list and the table titles: an indented list and plain titles in text, a bullet
  // list and "## " headings in Markdown, "# " comment lines in TSV.
  const char* item = format == TableFormat::Text       ? "  "
                     : format == TableFormat::Markdown ? "- "
                                                       : "# ";
  const char* heading = format == TableFormat::Text       ? ""
                        : format == TableFormat::Markdown ? "## "
                                                          : "# ";
  std::string out = format == TableFormat::Text ? "Runs\n" : "";
  for (size_t i = 0; i < runs.size(); ++i)
    out += fmt::format("{}{} ({}): {}\n", item, labels[i], run_status_name(runs[i].status),
                       runs[i].file.string());
  const auto stacked = stack_tables(runs);
  if (stacked.empty()) return out + fmt::format("\n{}(no evaluation tables)\n", item);
  for (const auto& s : stacked) {
    out += fmt::format("\n{}{} / {}\n", heading, s.evaluator, s.table.name);
    if (format == TableFormat::Markdown) out += "\n";
    out += render_one(s.table, format);
  }
  return out;
}

}  // namespace mdlab
