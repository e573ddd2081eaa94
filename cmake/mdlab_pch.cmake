# Precompiled LibTorch headers. Parsing <torch/torch.h> costs ~20 s per translation unit on
# the project's 2-core machines; a PCH is built once and every LibTorch-using target reuses
# it. GCC refuses a PCH built with other code-generation flags, and CMake compiles libraries
# with -fPIC but executables with -fPIE, so there are two: one for libraries and plugins,
# one for executables (tests, the CLI).
set(MDLAB_PCH_HEADERS
  <torch/torch.h>
  <fmt/format.h>
  <filesystem>
  <map>
  <memory>
  <string>
  <vector>)

add_library(mdlab_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/pch_anchor.cpp)
target_link_libraries(mdlab_pch PRIVATE mdlab_torch fmt::fmt)
add_executable(mdlab_pch_exe ${CMAKE_CURRENT_LIST_DIR}/pch_anchor_main.cpp)
target_link_libraries(mdlab_pch_exe PRIVATE mdlab_torch fmt::fmt)
if(MDLAB_USE_PCH)
  target_precompile_headers(mdlab_pch PRIVATE ${MDLAB_PCH_HEADERS})
  target_precompile_headers(mdlab_pch_exe PRIVATE ${MDLAB_PCH_HEADERS})
endif()

# Makes `target` reuse the LibTorch PCH that matches its code-generation flags.
function(mdlab_use_pch target)
  if(MDLAB_USE_PCH)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_precompile_headers(${target} REUSE_FROM mdlab_pch_exe)
    else()
      target_precompile_headers(${target} REUSE_FROM mdlab_pch)
    endif()
  endif()
endfunction()
