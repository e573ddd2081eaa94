# One precompiled LibTorch header for the whole build. Parsing <torch/torch.h> costs ~20 s per
# translation unit on the project's 2-core machines; the PCH is built once and every
# LibTorch-using target reuses it (all targets share compile flags, see the top level).
add_library(mdlab_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/pch_anchor.cpp)
target_link_libraries(mdlab_pch PRIVATE mdlab_torch fmt::fmt)
if(MDLAB_USE_PCH)
  target_precompile_headers(mdlab_pch PRIVATE
    <torch/torch.h>
    <fmt/format.h>
    <filesystem>
    <map>
    <memory>
    <string>
    <vector>)
endif()

# Makes `target` reuse the LibTorch PCH.
function(mdlab_use_pch target)
  if(MDLAB_USE_PCH)
    target_precompile_headers(${target} REUSE_FROM mdlab_pch)
  endif()
endfunction()
