# Finds Parley's dependencies; all come from Debian packages (scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(date REQUIRED)  # Howard Hinnant's date/tz (time zones for the datetime tool)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SOXR REQUIRED IMPORTED_TARGET soxr)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
# Debian's sphinxbase.pc names /usr/include/sphinxbase, which the package does not ship: build the
# target by hand from the include directories that exist.
pkg_check_modules(POCKETSPHINX REQUIRED pocketsphinx sphinxbase)
set(_ps_includes "")
foreach(dir IN LISTS POCKETSPHINX_INCLUDE_DIRS)
  if(EXISTS ${dir})
    list(APPEND _ps_includes ${dir})
  endif()
endforeach()
add_library(PkgConfig::POCKETSPHINX INTERFACE IMPORTED)
set_target_properties(PkgConfig::POCKETSPHINX PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${_ps_includes}"
  INTERFACE_LINK_LIBRARIES "${POCKETSPHINX_LINK_LIBRARIES}")
pkg_check_modules(ESPEAKNG REQUIRED IMPORTED_TARGET espeak-ng)
pkg_check_modules(WEBRTC_APM REQUIRED IMPORTED_TARGET webrtc-audio-processing)
