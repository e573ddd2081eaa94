// The tables of an experiment file that core owns ([experiment], [data], [train]) and the
// plugin tables ([backbone], [method], [generator], [[eval]]), as one ExperimentSchema.
// docs/config.md is generated from this plus the plugins' schemas (`mdlab config-reference`)
// and a test fails when the committed file differs.
#pragma once

#include "validate.h"

namespace mdlab {

/// The schema every experiment file is validated against.
ExperimentSchema experiment_schema();

/// The schema of `mdlab generate` files: the same tables, with [generator] required and
/// [backbone] / [method] optional (one file may describe both generation and training).
ExperimentSchema generate_schema();

}  // namespace mdlab
