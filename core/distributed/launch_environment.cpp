#include "launch_environment.h"

#include <mdlab/error.h>

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace mdlab {

namespace {

// The whole number in variable `name` (an error names it when the text is not one).
int64_t integer_of(const EnvironmentLookup& lookup, const char* name) {
  const char* text = lookup(name);
  MDLAB_CHECK(text != nullptr, "distributed: {} is not set", name);
  const std::string_view view(text);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  MDLAB_CHECK(ec == std::errc() && end == view.data() + view.size(),
              "distributed: {}=\"{}\" is not a whole number", name, view);
  return value;
}

const char* first_set(const EnvironmentLookup& lookup, const char* a, const char* b) {
  const char* value = lookup(a);
  return value != nullptr && *value != '\0' ? value : lookup(b);
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // The first entry ends at a comma outside brackets; a bracket holds ranges "03-05,09".
  const size_t open = nodelist.find('[');
  const size_t comma = nodelist.find(',');
  if (open == std::string::npos || (comma != std::string::npos && comma < open)) {
    return nodelist.substr(0, comma);
  }
  const size_t close = nodelist.find(']', open);
  MDLAB_CHECK(close != std::string::npos, "distributed: SLURM node list \"{}\" has no closing ]",
              nodelist);
  const std::string ranges = nodelist.substr(open + 1, close - open - 1);
  const std::string first = ranges.substr(0, ranges.find_first_of(",-"));
  MDLAB_CHECK(!first.empty(), "distributed: SLURM node list \"{}\" has an empty range", nodelist);
  return nodelist.substr(0, open) + first;
}

std::optional<LaunchEnvironment> launch_environment(const EnvironmentLookup& lookup) {
  LaunchEnvironment env;
  if (lookup("WORLD_SIZE") != nullptr) {
    env.source = "torchrun";
    env.world_size = integer_of(lookup, "WORLD_SIZE");
    env.rank = integer_of(lookup, "RANK");
    env.local_rank = lookup("LOCAL_RANK") != nullptr ? integer_of(lookup, "LOCAL_RANK") : 0;
    const char* addr = lookup("MASTER_ADDR");
    MDLAB_CHECK((addr != nullptr && *addr != '\0') || env.world_size == 1,
                "distributed: WORLD_SIZE={} but MASTER_ADDR is not set (the host of rank 0)",
                env.world_size);
    if (addr != nullptr && *addr != '\0') env.master_addr = addr;
    env.port = static_cast<int>(integer_of(lookup, "MASTER_PORT"));
  } else if (lookup("SLURM_NTASKS") != nullptr) {
    env.source = "slurm";
    env.world_size = integer_of(lookup, "SLURM_NTASKS");
    env.rank = integer_of(lookup, "SLURM_PROCID");
    env.local_rank = lookup("SLURM_LOCALID") != nullptr ? integer_of(lookup, "SLURM_LOCALID") : 0;
    if (const char* addr = lookup("MASTER_ADDR"); addr != nullptr && *addr != '\0') {
      env.master_addr = addr;
    } else {
      const char* nodes = first_set(lookup, "SLURM_JOB_NODELIST", "SLURM_NODELIST");
      MDLAB_CHECK(nodes != nullptr && *nodes != '\0',
                  "distributed: SLURM_NTASKS is set but neither MASTER_ADDR nor "
                  "SLURM_JOB_NODELIST names the host of rank 0");
      env.master_addr = first_slurm_host(nodes);
    }
    if (lookup("MASTER_PORT") != nullptr) {
      env.port = static_cast<int>(integer_of(lookup, "MASTER_PORT"));
    } else if (lookup("SLURM_JOB_ID") != nullptr) {
      // Every task of the job derives the same port; jobs sharing a node rarely collide.
      env.port = static_cast<int>(15000 + integer_of(lookup, "SLURM_JOB_ID") % 20000);
    }
  } else {
    return std::nullopt;
  }
  MDLAB_CHECK(env.world_size >= 1, "distributed: the world size {} ({}) must be at least 1",
              env.world_size, env.source == "slurm" ? "SLURM_NTASKS" : "WORLD_SIZE");
  MDLAB_CHECK(env.rank >= 0 && env.rank < env.world_size,
              "distributed: rank {} ({}) is not in [0, {})", env.rank,
              env.source == "slurm" ? "SLURM_PROCID" : "RANK", env.world_size);
  MDLAB_CHECK(env.local_rank >= 0, "distributed: the local rank {} is negative", env.local_rank);
  MDLAB_CHECK(env.port > 0 && env.port < 65536, "distributed: MASTER_PORT {} is not a TCP port",
              env.port);
  if (env.world_size == 1) return std::nullopt;
  return env;
}

}  // namespace mdlab
