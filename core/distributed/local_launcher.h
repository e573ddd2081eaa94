// The local launcher behind `mdlab run --nproc N` and `mdlab generate --nproc N`: starts N
// copies of this executable as the ranks of one job on this machine, with the variables
// torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1, MASTER_PORT: a free
// port) plus MDLAB_LAUNCHED=1. Each worker runs in its own process group, so a terminal's
// Ctrl-C reaches it once, through the launcher, which forwards SIGINT and SIGTERM; a worker
// dies with the launcher (PR_SET_PDEATHSIG).
//
// Workers' stderr passes through the launcher, lines of ranks other than 0 prefixed with
// "[rank R] ". When a worker fails (non-zero status, or killed by a signal) while the job was
// not interrupted, the others are sent SIGTERM and, after `grace`, SIGKILL, so none waits
// forever in a collective; the result names the first rank that failed, how, and its last
// error line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mdlab {

/// How a launched job ended.
struct LaunchResult {
  int status = 0;                      ///< the job's exit status (0, 1, 2, 130)
  std::optional<int64_t> failed_rank;  ///< the first rank that failed, if one did
  std::string reason;                  ///< how it failed ("exit status 1: ..."), or ""
  std::vector<int> statuses;           ///< each rank's exit status (128 + signal if killed)
};

/// Runs `args` (the arguments after the program name) as `nproc` ranks of this executable
/// and waits for them (see the top of the file).
LaunchResult launch_local(int64_t nproc, const std::vector<std::string>& args,
                          std::chrono::seconds grace = std::chrono::seconds(10));

/// A TCP port on 127.0.0.1 that was free a moment ago.
int free_local_port();

/// True in a worker started by launch_local (MDLAB_LAUNCHED=1).
bool launched_by_mdlab();

}  // namespace mdlab
