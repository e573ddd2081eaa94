// Start-up checks of the host: which BLAS LibTorch got, and whether a device is usable.
#pragma once

#include <c10/core/Device.h>

#include <optional>
#include <string>

namespace mdlab {

/// Real path of the library that provides sgemm_ to this process ("" when none does).
std::string loaded_blas_library();

/// A warning text when the slow reference BLAS is in use, else nullopt.
std::optional<std::string> reference_blas_warning();

/// Empty when `device` can be used by this build on this machine, else why not (a CPU-only
/// LibTorch asked for "cuda", no GPU present, an index past the GPU count, a bad string).
std::string device_problem(const std::string& device);

}  // namespace mdlab
