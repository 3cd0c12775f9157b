# Installs the SDK: public headers, libparley and a CMake package (find_package(parley)).
include(CMakePackageConfigHelpers)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/parley DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS parley EXPORT parleyTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT parleyTargets NAMESPACE parley:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/parley)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/parleyConfig.cmake.in
  ${CMAKE_BINARY_DIR}/parleyConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/parley)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/parleyConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/parleyConfig.cmake ${CMAKE_BINARY_DIR}/parleyConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/ParleyPlugin.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/parley)
