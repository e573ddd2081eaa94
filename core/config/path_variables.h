// Path variables: one place for the paths a config names (datasets, generated sets, model
// folders), so a user edits one file, or sets environment variables, and every experiment
// that uses them follows.
//
//   [paths]
//   imagenet = "/data/imagenet"
//   generated = "${env:MDLAB_GENERATED:-/data/generated}"
//
//   [data]
//   root = "${paths.imagenet}"
//   [data.synthetic]
//   root = "${paths.generated}/imagenet-sd-g8"
//
// In any string value of the config (after `extends` are merged and --set applied, so
// `--set paths.imagenet=/mnt/in1k` retargets every use): `${paths.NAME}` is the value of
// NAME in the top-level [paths] table; `${env:VAR}` is the environment variable VAR (an error
// when it is unset or empty), `${env:VAR:-DEFAULT}` the same with a default; `$${` is a
// literal `${`. [paths] values may use `${env:...}` but not other paths. The [paths] table is
// then removed: the resolved config (a run's config.toml) holds the paths themselves.
#pragma once

#include <toml++/toml.h>

namespace mdlab {

/// Expands path variables in every string of `config` and removes [paths]; throws
/// ConfigError listing every unknown name, unset variable, malformed `${` and non-string
/// [paths] value, each at its node.
void expand_path_variables(toml::table& config);

}  // namespace mdlab
