// Where a process stands in a distributed run, read from the environment its launcher set:
// torchrun's (and `mdlab run --nproc`'s) RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT, or SLURM's SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and the first host of
// SLURM_JOB_NODELIST (SLURM_NODELIST) with MASTER_PORT, or a port derived from SLURM_JOB_ID.
// torchrun's variables win when both are set (srun torchrun ...).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace mdlab {

/// A process's place in a distributed run.
struct LaunchEnvironment {
  int64_t rank = 0;                       ///< global rank in [0, world_size)
  int64_t world_size = 1;                 ///< number of processes
  int64_t local_rank = 0;                 ///< rank on this node (picks the GPU)
  std::string master_addr = "127.0.0.1";  ///< host of rank 0's TCPStore
  int port = 29500;                       ///< its port
  std::string source;                     ///< "torchrun" or "slurm", for messages
};

/// Reads a variable (std::getenv in production; a map in tests); null when unset.
using EnvironmentLookup = std::function<const char*(const char*)>;

/// The launch environment, or nullopt when neither WORLD_SIZE nor SLURM_NTASKS is set or the
/// world has one process. Throws mdlab::Error naming the variable when a value is malformed
/// or inconsistent (RANK outside [0, WORLD_SIZE), a missing MASTER_ADDR, ...).
std::optional<LaunchEnvironment> launch_environment(const EnvironmentLookup& lookup);

/// The first host of a SLURM node list: "gpu[03-05,09],cpu1" -> "gpu03".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace mdlab
