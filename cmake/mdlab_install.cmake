# `cmake --install build --prefix P` lays out: P/bin/mdlab, P/lib/libmdlab_sdk.so, the test
# kit P/lib/libmdlab_testing.a, P/lib/mdlab/plugins/*.so, P/include/mdlab/*.h (the kit's under
# P/include/mdlab/testing/), P/lib/cmake/mdlab/ (find_package(mdlab) for out-of-tree plugins
# and their tests, see examples/vicreg/).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(mdlab_sdk PROPERTIES EXPORT_NAME sdk)  # mdlab::sdk, as in the tree
set_target_properties(mdlab_testing PROPERTIES EXPORT_NAME testing)  # mdlab::testing
install(TARGETS mdlab_sdk mdlab_testing EXPORT mdlabTargets
  LIBRARY DESTINATION lib
  ARCHIVE DESTINATION lib
  INCLUDES DESTINATION include)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/sdk/include/mdlab DESTINATION include)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/sdk/testing/include/mdlab DESTINATION include)
install(TARGETS mdlab RUNTIME DESTINATION bin)
get_property(mdlab_plugin_targets GLOBAL PROPERTY MDLAB_PLUGIN_TARGETS)
if(mdlab_plugin_targets)
  install(TARGETS ${mdlab_plugin_targets} LIBRARY DESTINATION lib/mdlab/plugins)
endif()
install(EXPORT mdlabTargets NAMESPACE mdlab:: DESTINATION lib/cmake/mdlab)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/mdlabConfig.cmake.in
  ${CMAKE_BINARY_DIR}/mdlabConfig.cmake INSTALL_DESTINATION lib/cmake/mdlab)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/mdlabConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/mdlabConfig.cmake ${CMAKE_BINARY_DIR}/mdlabConfigVersion.cmake
  DESTINATION lib/cmake/mdlab)
