#include "build_info.h"

#include <mdlab/version.h>

#include <fmt/format.h>

namespace mdlab {

const char* build_git_commit() { return MDLAB_GIT_COMMIT; }
const char* build_type() { return MDLAB_BUILD_TYPE; }

std::string build_summary() {
  return fmt::format("mdlab {} (SDK ABI {}, API {}.{}; LibTorch {}{}; {}; {}; commit {})",
                     sdk_version(), sdk_abi_major(), sdk_abi_major(), sdk_api_minor(),
                     sdk_torch_version(), sdk_torch_has_cuda() ? " CUDA" : " CPU",
                     sdk_compiler(), build_type(), build_git_commit());
}

}  // namespace mdlab
