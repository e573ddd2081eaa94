# mdlab_add_plugin(NAME <name> SOURCES <files...> [OUTPUT_DIR <dir>] [LIBS <targets...>])
# Builds one plugin: a shared library `mdlab_plugin_<name>.so` in the plugin directory,
# linked against the SDK and LibTorch (dynamically: one LibTorch per process), with hidden
# visibility so only the handshake and the factory alias are exported.
function(mdlab_add_plugin)
  cmake_parse_arguments(P "" "NAME;OUTPUT_DIR" "SOURCES;LIBS" ${ARGN})
  if(NOT P_OUTPUT_DIR)
    set(P_OUTPUT_DIR ${MDLAB_PLUGIN_OUTPUT_DIR})
  endif()
  set(target mdlab_plugin_${P_NAME})
  add_library(${target} MODULE ${P_SOURCES})
  target_link_libraries(${target} PRIVATE mdlab::sdk mdlab_torch mdlab_warnings ${P_LIBS})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME mdlab_plugin_${P_NAME}
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR}
    # Plugins resolve libmdlab_sdk.so next to the binary's lib dir (build tree or install).
    BUILD_RPATH "${CMAKE_BINARY_DIR}/lib"
    INSTALL_RPATH "$ORIGIN/../..")
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  mdlab_use_pch(${target})
  if(NOT P_OUTPUT_DIR STREQUAL MDLAB_PLUGIN_OUTPUT_DIR)
    return()  # test plugins are not installed
  endif()
  set_property(GLOBAL APPEND PROPERTY MDLAB_PLUGIN_TARGETS ${target})
endfunction()
