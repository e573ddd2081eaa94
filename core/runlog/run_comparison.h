// Several runs side by side (`mdlab show RUN RUN ...`): each evaluation table stacked over the
// runs, the paper-table view of a real / synthetic / mixdiff comparison or a seed sweep.
#pragma once

#include "run_log_reader.h"

#include <mdlab/evaluator.h>

#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// How render_comparison writes its tables.
enum class TableFormat {
  Text,      ///< aligned columns, as `mdlab show` prints a run
  Markdown,  ///< GitHub-flavoured pipe tables, for docs and papers
  Tsv,       ///< tab-separated, a header line then one line per row, full precision
};

/// The format named `name` ("text", "markdown", "tsv"); mdlab::Error naming the choices
/// otherwise.
TableFormat parse_table_format(std::string_view name);

/// One stacked table: `evaluator` / `table.name` over all runs.
struct StackedTable {
  std::string evaluator;  ///< the evaluator section ("linear_probe", ...)
  Table table;            ///< rows of every run in run order; columns the union in order seen
  std::vector<size_t> run_of_row;  ///< index into the runs of each row of `table`
};

/// How each run is named in stacked rows: its experiment name, followed by the run
/// directory's name in parentheses when several runs share the experiment name.
std::vector<std::string> run_labels(const std::vector<RunLogContents>& runs);

/// Every evaluation table of `runs`, stacked: for each (evaluator, table name) in order of
/// first appearance, the rows of each run that has it, labelled by run_labels (a row named
/// other than the run's experiment, such as "random init", becomes "<label>: <row>").
/// Columns a run lacks are NaN; notes are kept.
std::vector<StackedTable> stack_tables(const std::vector<RunLogContents>& runs);
/// As above with the runs labelled by `labels` (one per run).
std::vector<StackedTable> stack_tables(const std::vector<RunLogContents>& runs,
                                       const std::vector<std::string>& labels);

/// Rows of text cells under `header` in `format`: aligned columns indented by two spaces (the
/// first column and, with `last_is_note`, the last left-aligned), a Markdown pipe table, or
/// TSV lines.
std::string render_cells(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows, TableFormat format,
                         bool last_is_note = false);

/// The stacked tables in `format`, each headed by "evaluator / table" (a "## " heading in
/// Markdown, a "# " comment line in TSV), preceded by the list of runs (label, status, file).
std::string render_comparison(const std::vector<RunLogContents>& runs, TableFormat format);

}  // namespace mdlab
