// Version numbers of the mdlab SDK.
//
// ABI major: bumped on any change that breaks binary compatibility of the interfaces
// (a virtual function added, removed or reordered, a struct layout changed). A plugin is
// loaded only when its ABI major equals the host's.
// API minor: bumped when functions are added to the SDK library without breaking existing
// plugins. A plugin built against API minor m loads into a host with minor >= m.
#pragma once

#include <mdlab/export.h>

#include <cstdint>
#include <string>

/// SDK ABI major version (see the rule above).
#define MDLAB_SDK_ABI_MAJOR 6
/// SDK API minor version (see the rule above).
#define MDLAB_SDK_API_MINOR 0
/// mdlab release version, as in the top-level CMake project.
#define MDLAB_VERSION_STRING "0.2.0"

namespace mdlab {

/// ABI major of the SDK library loaded at run time (may differ from MDLAB_SDK_ABI_MAJOR
/// seen by a plugin at compile time; the loader compares both).
MDLAB_SDK_API uint32_t sdk_abi_major();
/// API minor of the SDK library loaded at run time.
MDLAB_SDK_API uint32_t sdk_api_minor();
/// mdlab release version of the SDK library, e.g. "0.1.0".
MDLAB_SDK_API const char* sdk_version();
/// LibTorch version the SDK library was built against, e.g. "1.13.0".
MDLAB_SDK_API const char* sdk_torch_version();
/// Value of _GLIBCXX_USE_CXX11_ABI the SDK library was built with (0 or 1).
MDLAB_SDK_API int sdk_cxx11_abi();
/// Compiler that built the SDK library, e.g. "gcc 12.2.0".
MDLAB_SDK_API const char* sdk_compiler();
/// True when the LibTorch the SDK was built against has CUDA support compiled in.
MDLAB_SDK_API bool sdk_torch_has_cuda();

}  // namespace mdlab
