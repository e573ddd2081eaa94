#include "text_table.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace mdlab {

TextTable::TextTable(std::vector<std::string> header) : header_(std::move(header)) {}

void TextTable::add_row(std::vector<std::string> cells) {
  rows_.push_back(std::move(cells));
}

void TextTable::set_align(size_t column, Align align) {
  if (align_.size() <= column) align_.resize(column + 1, Align::Auto);
  align_[column] = align;
}

bool looks_numeric(std::string_view cell) {
  if (!cell.empty() && cell.back() == '%') cell.remove_suffix(1);
  if (!cell.empty() && (cell.front() == '+' || cell.front() == '-')) cell.remove_prefix(1);
  if (cell.empty()) return false;
  if (cell == "nan" || cell == "inf") return true;
  double value = 0;
  auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  return ec == std::errc() && end == cell.data() + cell.size();
}

size_t display_width(std::string_view text) {
  // Continuation bytes (10xxxxxx) do not start a code point.
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string TextTable::render(std::string_view indent) const {
  size_t columns = header_.size();
  for (const auto& row : rows_) columns = std::max(columns, row.size());
  if (columns == 0) return "";

  std::vector<size_t> width(columns, 0);
  std::vector<bool> right(columns, false);
  for (size_t c = 0; c < columns; ++c) {
    if (c < header_.size()) width[c] = display_width(header_[c]);
    bool any = false;
    bool all_numeric = true;
    for (const auto& row : rows_) {
      if (c >= row.size()) continue;
      width[c] = std::max(width[c], display_width(row[c]));
      if (row[c].empty()) continue;
      any = true;
      all_numeric = all_numeric && looks_numeric(row[c]);
    }
    const Align align = c < align_.size() ? align_[c] : Align::Auto;
    right[c] = align == Align::Right || (align == Align::Auto && any && all_numeric);
  }

  std::string out;
  auto emit = [&](const std::vector<std::string>& cells, bool rule) {
    std::string line(indent);
    for (size_t c = 0; c < columns; ++c) {
      if (c > 0) line += "  ";
      std::string_view cell;
      if (!rule && c < cells.size()) cell = cells[c];
      const size_t pad = width[c] - display_width(cell);
      if (rule) {
        line.append(width[c], '-');
      } else if (right[c]) {
        line.append(pad, ' ');
        line += cell;
      } else {
        line += cell;
        line.append(pad, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  if (!header_.empty()) {
    emit(header_, false);
    emit({}, true);
  }
  for (const auto& row : rows_) emit(row, false);
  return out;
}

}  // namespace mdlab
