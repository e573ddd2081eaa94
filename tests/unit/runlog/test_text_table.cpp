// TextTable aligns columns by display width, right-aligns numeric columns and leaves no
// trailing blanks.
#include "text_table.h"

#include <catch2/catch.hpp>

using mdlab::TextTable;

TEST_CASE("text table right-aligns numeric columns under an underlined header") {
  TextTable t({"name", "count", "note"});
  t.add_row({"alpha", "3", "short"});
  t.add_row({"b", "12345", "a longer note"});
  t.add_row({"gamma", "-1.5e-05"});
  CHECK(t.size() == 3);
  CHECK(t.render() ==
        "name      count  note\n"
        "-----  --------  -------------\n"
        "alpha         3  short\n"
        "b         12345  a longer note\n"
        "gamma  -1.5e-05\n");
}

TEST_CASE("text table widths count UTF-8 code points and honour overrides") {
  TextTable t;
  t.add_row({"σ (ø)", "1"});
  t.add_row({"plain", "22"});
  t.set_align(1, TextTable::Align::Left);
  CHECK(t.render("  ") ==
        "  σ (ø)  1\n"
        "  plain  22\n");
  CHECK(TextTable().render().empty());
}

TEST_CASE("numbers are recognised as such") {
  for (const char* yes : {"0", "-3", "+2.5", "1e-05", "nan", "-inf", "12.5%", "0.9500"})
    CHECK(mdlab::looks_numeric(yes));
  for (const char* no : {"", "-", "abc", "1.2.3", "12 %", "top1", "%"})
    CHECK_FALSE(mdlab::looks_numeric(no));
  CHECK(mdlab::display_width("ünï") == 3);
}
