// Aligned plain-text tables for terminals (`mdlab show`, reports): columns separated by two
// spaces, an optional header underlined with dashes, numbers right-aligned. Widths count
// UTF-8 code points, so labels such as "σ" or "ImageNet-R (ø)" line up.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// Collects rows of cells and renders them aligned.
class TextTable {
 public:
  /// How a column's cells are aligned.
  enum class Align {
    Auto,   ///< right when every non-empty body cell is a number, else left
    Left,   ///< always left
    Right,  ///< always right
  };

  /// A table with `header` as its first row (none when empty).
  explicit TextTable(std::vector<std::string> header = {});

  /// Appends a row; rows may have fewer cells than the widest row (the rest are blank).
  void add_row(std::vector<std::string> cells);
  /// Overrides the alignment of column `column` (default Auto).
  void set_align(size_t column, Align align);
  /// Number of body rows.
  size_t size() const { return rows_.size(); }
  /// The table, each line prefixed with `indent` and ended by '\n', no trailing blanks.
  std::string render(std::string_view indent = "") const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<Align> align_;
};

/// Whether `cell` reads as a number ("12", "-0.5", "1e-05", "nan", "inf", "12.5%").
bool looks_numeric(std::string_view cell);

/// Display width of UTF-8 text: its number of code points.
size_t display_width(std::string_view text);

}  // namespace mdlab
