// What every run log records about where it came from: the same keys for `mdlab run`,
// `mdlab generate` and a standalone `mdlab eval`, so any run.h5 can be traced to a build.
#pragma once

#include "plugin_registry.h"
#include "run_log.h"

#include <cstdint>
#include <string>

namespace mdlab {

/// This machine's host name ("unknown" when the system will not say).
std::string host_name();

/// Writes mdlab_version, build, git_commit, torch_version, host, device, seed, blas and one
/// plugin/<name> entry per loaded plugin (version, file, compiler) into `run_log`'s metadata.
void record_provenance(RunLog& run_log, const PluginRegistry& registry, const std::string& device,
                       uint64_t seed);

}  // namespace mdlab
