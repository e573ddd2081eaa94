#include "run_provenance.h"

#include "build_info.h"
#include "host_checks.h"

#include <mdlab/version.h>

#include <fmt/format.h>

#include <unistd.h>

namespace mdlab {

std::string host_name() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof(buf) - 1) == 0 ? buf : "unknown";
}

void record_provenance(RunLog& run_log, const PluginRegistry& registry, const std::string& device,
                       uint64_t seed) {
  run_log.set_meta("mdlab_version", sdk_version());
  run_log.set_meta("build", build_summary());
  run_log.set_meta("git_commit", build_git_commit());
  run_log.set_meta("torch_version", sdk_torch_version());
  run_log.set_meta("host", host_name());
  run_log.set_meta("device", device);
  run_log.set_meta("seed", std::to_string(seed));
  run_log.set_meta("blas", loaded_blas_library());
  for (const auto* p : registry.all())
    run_log.set_meta(fmt::format("plugin/{}", p->name),
                     fmt::format("{} {} ({})", p->version, p->file.string(), p->compiler));
}

}  // namespace mdlab
