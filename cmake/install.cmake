# Install rules and the exported CMake / pkg-config packages (included by the top CMakeLists.txt when
# SLUICE_INSTALL is on, the default for a top-level build).
#
#   cmake --install build --prefix /opt/sluice
#
# installs
#   bin/sluice                                     the CLI
#   lib/libsluice_{api,engine,engine_core}.a       static libraries
#   include/sluice/{engine,objects,...}/*.hpp      public headers (engine/include and api/include)
#   lib/cmake/sluice/                              find_package(sluice): sluice::api, sluice::engine,
#                                                  sluice::engine_core
#   lib/pkgconfig/sluice.pc                        pkg-config --cflags --libs --static sluice
#
# A consumer needs the libraries' own dependencies (Boost headers, OpenSSL, Threads, liburing, libzstd,
# libxxhash, zlib, c-blosc, ISA-L, pugixml, simdjson) but none of what only the CLI, the tests or the
# benchmarks use (CLI11, GoogleTest, Google Benchmark). tests/install/ checks all of this against a fresh prefix.
include(CMakePackageConfigHelpers)

set(SLUICE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/sluice
    CACHE STRING "Where the CMake package files go, relative to the install prefix")
mark_as_advanced(SLUICE_INSTALL_CMAKEDIR)

# --- targets -------------------------------------------------------------------------------------------
# The libraries' names, aliases and EXPORT_NAMEs are set next to their add_library() (engine/, api/);
# their include directories carry $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>.
install(TARGETS sluice_engine_core sluice_engine sluice_api
        EXPORT sluice-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS sluice RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Whole directories (new headers are picked up without touching this file), headers only.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/engine/include/ ${PROJECT_SOURCE_DIR}/api/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")

# --- CMake package -------------------------------------------------------------------------------------
install(EXPORT sluice-targets
        NAMESPACE sluice::
        FILE sluice-targets.cmake
        DESTINATION ${SLUICE_INSTALL_CMAKEDIR})

# The public headers expose Asio types, so a consumer must compile against the Boost the libraries were
# built with: the config asks for exactly this version.
set(SLUICE_BOOST_VERSION ${Boost_VERSION})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/sluice-config.cmake.in
                              ${PROJECT_BINARY_DIR}/packaging/sluice-config.cmake
                              INSTALL_DESTINATION ${SLUICE_INSTALL_CMAKEDIR}
                              NO_SET_AND_CHECK_MACRO)
# 0.x: a minor release may break the API, so 0.1.x satisfies find_package(sluice 0.1) but not 0.2.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/packaging/sluice-config-version.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/packaging/sluice-config.cmake
              ${PROJECT_BINARY_DIR}/packaging/sluice-config-version.cmake
        DESTINATION ${SLUICE_INSTALL_CMAKEDIR})

# --- pkg-config ----------------------------------------------------------------------------------------
# Relocatable: prefix is found from the .pc file's own location, so `cmake --install --prefix X` (which
# does not re-run configure) and a moved install tree both work.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SLUICE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(SLUICE_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(SLUICE_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH _sluice_pc_up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" _sluice_pc_up "${_sluice_pc_up}")
  set(SLUICE_PC_PREFIX "\${pcfiledir}/${_sluice_pc_up}")
  set(SLUICE_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(SLUICE_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()

# Cflags: the public compile definitions of the three libraries (BOOST_ASIO_NO_DEPRECATED), taken from the
# targets so the two packages cannot drift apart, and Boost's include directory unless it is a default one.
set(SLUICE_PC_CFLAGS "")
foreach(_sluice_target IN ITEMS sluice_engine_core sluice_engine sluice_api)
  get_target_property(_sluice_defs ${_sluice_target} INTERFACE_COMPILE_DEFINITIONS)
  foreach(_sluice_def IN LISTS _sluice_defs)
    if(_sluice_def MATCHES "\\$<")
      message(FATAL_ERROR "cmake/install.cmake: ${_sluice_target} has a generator expression in its public "
                          "compile definitions (${_sluice_def}); sluice.pc cannot express it.")
    endif()
    if(_sluice_def AND NOT " ${SLUICE_PC_CFLAGS} " MATCHES " -D${_sluice_def} ")
      string(APPEND SLUICE_PC_CFLAGS " -D${_sluice_def}")
    endif()
  endforeach()
endforeach()
get_target_property(_sluice_boost_inc Boost::headers INTERFACE_INCLUDE_DIRECTORIES)
foreach(_sluice_dir IN LISTS _sluice_boost_inc)
  if(_sluice_dir AND NOT _sluice_dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    string(APPEND SLUICE_PC_CFLAGS " -I${_sluice_dir}")
  endif()
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/sluice.pc.in ${PROJECT_BINARY_DIR}/packaging/sluice.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/packaging/sluice.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
