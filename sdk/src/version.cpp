#include <mdlab/plugin.h>
#include <mdlab/version.h>

#include <torch/version.h>
#include <c10/macros/cmake_macros.h>

namespace mdlab {

uint32_t sdk_abi_major() { return MDLAB_SDK_ABI_MAJOR; }
uint32_t sdk_api_minor() { return MDLAB_SDK_API_MINOR; }
const char* sdk_version() { return MDLAB_VERSION_STRING; }
const char* sdk_torch_version() {
  return MDLAB_DETAIL_STR(TORCH_VERSION_MAJOR) "." MDLAB_DETAIL_STR(
      TORCH_VERSION_MINOR) "." MDLAB_DETAIL_STR(TORCH_VERSION_PATCH);
}
int sdk_cxx11_abi() { return _GLIBCXX_USE_CXX11_ABI; }
const char* sdk_compiler() { return MDLAB_DETAIL_COMPILER; }
bool sdk_torch_has_cuda() {
#ifdef MDLAB_TORCH_HAS_CUDA
  return true;
#else
  return false;
#endif
}

const char* plugin_kind_name(uint32_t kind) {
  switch (kind) {
    case MDLAB_PLUGIN_BACKBONE: return "backbone";
    case MDLAB_PLUGIN_METHOD: return "method";
    case MDLAB_PLUGIN_GENERATOR: return "generator";
    case MDLAB_PLUGIN_EVALUATOR: return "evaluator";
    default: return "unknown";
  }
}

}  // namespace mdlab
