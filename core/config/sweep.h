// Ablation sweeps: the [sweep] table of an experiment file expanded into the cells of a grid.
//
//   [sweep]
//   "data.mix" = ["real", "synthetic", "mixdiff"]
//   "data.fraction" = [0.25, 0.5, 1.0]
//   [[sweep.zip]]                      # keys that vary together: one axis
//   "generator.guidance_scale" = [1.0, 3.0]
//   "data.synthetic.root" = ["gen/g1", "gen/g3"]
//
// Each key of [sweep] (a quoted dotted key, or nested tables: `sweep.data.mix = [...]` is the
// same) is one axis; each [[sweep.zip]] table is one axis whose lists all have one length. A
// plain name in a zip table (`guidance = [1.0, 4.0]`, no table part) is a label: it sets
// nothing, names the cells and is the axis's value (the x of a report's plots), for keys
// whose own values say little (the synthetic set made at that guidance scale).
// The cells are every combination, the first axis in the file outermost (as nested loops
// written in the file's order); axes added with --set (`--set 'sweep.train.lr=[0.1, 0.2]'`)
// come after the file's, in key order. Values are any TOML values (a list of lists sweeps a list
// option). A cell is the experiment with its values set, exactly as `--set key=value` would
// set them, so the cell's resolved config is what its run records.
//
// Cell names list the values (`mix=mixdiff,fraction=0.5`; a zip axis shows its first key;
// keys by their last part unless two axes share it), made safe as one directory name; they
// depend only on the values, so a cell keeps its name (and its finished run) when other
// values are added to the sweep.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mdlab {

/// One cell of a sweep.
struct SweepCell {
  std::string name;               ///< directory name, unique in the sweep
  std::vector<std::string> sets;  ///< "key=VALUE" overrides, as --set takes them
  /// Where each of `sets` comes from: its value in the [sweep] list (a default region for
  /// the seeds of --seeds), so a cell's validation error can point into the sweep file.
  std::vector<toml::source_region> origins;
  /// One value per axis of Sweep::axes, as inline TOML (`"mixdiff"`, `0.5`); a zip axis
  /// shows its first key's value.
  std::vector<std::string> values;
};

/// A sweep expanded.
struct Sweep {
  std::vector<std::string> axes;  ///< one label per axis: its key, or "k1+k2" for a zip
  std::vector<SweepCell> cells;   ///< in grid order, seeds innermost
};

/// True when `config` has a [sweep] table.
bool has_sweep(const toml::table& config);

/// Removes [sweep] from `config` and expands it. `seeds` > 1 repeats every cell over
/// `experiment.seed` = `base_seed` + 0 .. seeds - 1 (names get `seed=N`). Throws ConfigError
/// at the offending node for a value that is not a non-empty list, a zip whose lists differ
/// in length, a key that two axes set, or two cells whose names collide.
Sweep expand_sweep(toml::table& config, int64_t seeds = 1, int64_t base_seed = 0);

}  // namespace mdlab
