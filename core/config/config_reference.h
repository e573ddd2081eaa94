// The experiment file reference (docs/config.md), generated from the schemas so the docs
// cannot drift from what validation accepts.
#pragma once

#include "validate.h"

#include <string>

namespace mdlab {

/// Markdown reference: one table of options per core section (key | type | default |
/// constraint | required | doc), then per plugin section each available plugin's options,
/// plugins sorted by name. Deterministic for a given schema and catalog.
std::string render_config_reference(const ExperimentSchema& schema, const PluginCatalog& catalog);

}  // namespace mdlab
