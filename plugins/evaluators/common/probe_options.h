// The probe keys shared by the evaluators that train linear probes (linear_probe, robustness,
// transfer): declared once here so their TOML tables read alike.
#pragma once

#include "probe.h"

#include <mdlab/options.h>

namespace mdlab::eval {

/// Adds optimizer, lr, weight_decay, momentum, schedule, batch_size and feature_norm with the
/// paper's defaults (AdamW, lr 1e-4, constant) to `schema`.
void add_probe_options(OptionsSchema& schema);

/// The probe settings of validated `options`.
ProbeSettings probe_settings(const Options& options);

}  // namespace mdlab::eval
