// Loading experiment files: `extends` chains merged into one table, then --set overrides.
//
// `extends = ["base.toml", ...]` at the top level names files relative to the including file.
// Bases are merged first, in the listed order, then the file itself; later wins. Tables merge
// recursively; arrays and scalars replace. Bases may extend others; a cycle is an error that
// shows the chain ("a.toml -> b.toml -> a.toml"). The `extends` keys are removed.
//
// Every node keeps its source region (file, line, column) so validation can point into a
// base file or a --set argument. toml++ drops source regions when a node is *copied* (only
// moves keep them), so this module only moves nodes; callers should move, not copy, the
// returned table before validating it (keys keep their positions either way, and validation
// falls back to them).
#pragma once

#include "config_error.h"

#include <toml++/toml.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// Loads `file` with its `extends` chain, applies the `sets` ("a.b.c=VALUE") in order and
/// expands path variables (path_variables.h); throws ConfigError listing every problem found
/// (unreadable or missing file, TOML syntax, bad `extends`, cycle, malformed --set, unknown
/// path variable).
toml::table load_experiment(const std::filesystem::path& file,
                            const std::vector<std::string>& sets);

/// Applies --set overrides in order to `config`; throws ConfigError listing every malformed
/// one. VALUE is read as a TOML value (`0.2`, `true`, `"x"`, `[1, 2]`, `{a = 1}`); text that
/// is not TOML and has no quote, bracket or brace is taken as a plain string (`/tmp/x`).
/// Missing intermediate tables are created. Nodes get the source "--set ARG", line 1 and
/// the column of the value inside ARG.
void apply_overrides(toml::table& config, const std::vector<std::string>& sets);

/// Deep merge: `over` wins; tables merge recursively, everything else replaces. Nodes are
/// moved, so their source regions survive.
toml::table merge_tables(toml::table base, toml::table over);

/// The table as TOML text (for the run directory and the run log); parses back to an equal
/// table. Deterministic: keys sorted, floats in their shortest round-trip form.
std::string to_toml_text(const toml::table& table);

}  // namespace mdlab
