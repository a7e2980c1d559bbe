# Install rules, CMake package config and pkg-config files for simdrnn.
# Included from the top-level CMakeLists.txt after the `simdrnn` target exists.
#
# Consumers:
#   find_package(simdrnn CONFIG REQUIRED)        links what the build made the
#   target_link_libraries(app PRIVATE simdrnn::simdrnn)   target: libsimdrnn.a by
#                                                default, the .so with BUILD_SHARED_LIBS=ON
# or
#   cc app.c $(pkg-config --cflags --libs simdrnn)         libsimdrnn.so, with an
#                                                          rpath to the prefix's libdir
#   cc app.c $(pkg-config --cflags --libs simdrnn-static)  libsimdrnn.a and what it
#                                                          needs (static builds only)
# Two modules, because both files sit in one libdir and the linker prefers the
# .so for -lsimdrnn: `pkg-config --static` only adds Libs.private, it cannot
# switch a module from the .so to the archive.
include(CMakePackageConfigHelpers)

set(SIMDRNN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/simdrnn"
    CACHE STRING "Where to install simdrnnConfig.cmake (relative to the prefix)")
set(SIMDRNN_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
    CACHE STRING "Where to install simdrnn.pc (relative to the prefix)")
mark_as_advanced(SIMDRNN_INSTALL_CMAKEDIR SIMDRNN_INSTALL_PKGCONFIGDIR)

get_target_property(_simdrnn_type simdrnn TYPE)
if(_simdrnn_type STREQUAL "STATIC_LIBRARY")
  set(SIMDRNN_STATIC ON)
else()
  set(SIMDRNN_STATIC OFF)
endif()

# The C++ runtime a C-only consumer of the static archive must link: what the
# C++ compiler links implicitly beyond what the C compiler does (GCC: stdc++;m).
set(SIMDRNN_CXX_RUNTIME_LIBS)
foreach(_lib IN LISTS CMAKE_CXX_IMPLICIT_LINK_LIBRARIES)
  if(NOT _lib IN_LIST CMAKE_C_IMPLICIT_LINK_LIBRARIES AND NOT _lib IN_LIST SIMDRNN_CXX_RUNTIME_LIBS)
    list(APPEND SIMDRNN_CXX_RUNTIME_LIBS ${_lib})
  endif()
endforeach()

# --- library, headers, exported targets ---------------------------------------
install(TARGETS simdrnn EXPORT simdrnnTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# (The include directory comes from the target's $<INSTALL_INTERFACE:...>.)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/simdrnn
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp"
  PATTERN "simdrnn_onnx.h" EXCLUDE)  # src/onnx/CMakeLists.txt installs it with its library
install(EXPORT simdrnnTargets
  NAMESPACE simdrnn::
  FILE simdrnnTargets.cmake
  DESTINATION ${SIMDRNN_INSTALL_CMAKEDIR})

# --- CMake package config ------------------------------------------------------
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/simdrnnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/simdrnnConfig.cmake
  INSTALL_DESTINATION ${SIMDRNN_INSTALL_CMAKEDIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/simdrnnConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/simdrnnConfig.cmake
  ${PROJECT_BINARY_DIR}/simdrnnConfigVersion.cmake
  DESTINATION ${SIMDRNN_INSTALL_CMAKEDIR})

# --- pkg-config ----------------------------------------------------------------
# Paths relative to ${pcfiledir} so that `cmake --install --prefix X` works.
if(IS_ABSOLUTE "${SIMDRNN_INSTALL_PKGCONFIGDIR}")
  set(SIMDRNN_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _simdrnn_pc_up "/__prefix__/${SIMDRNN_INSTALL_PKGCONFIGDIR}" "/__prefix__")
  string(REGEX REPLACE "/$" "" _simdrnn_pc_up "${_simdrnn_pc_up}")
  set(SIMDRNN_PC_PREFIX "\${pcfiledir}/${_simdrnn_pc_up}")
endif()
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(SIMDRNN_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(SIMDRNN_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
# simdrnn-static links the archive by its path (not -lsimdrnn, which would find
# the .so first), then its runtime: pthreads (the worker pool), then the C++
# runtime (GCC: stdc++, m). They go in Libs, not Libs.private:
# the module is static-only, and `pkg-config --libs` without --static must
# link too.
if(SIMDRNN_STATIC)
  set(_simdrnn_static_libs -pthread)  # the worker pool
  foreach(_lib IN LISTS SIMDRNN_CXX_RUNTIME_LIBS)
    if(_lib MATCHES "^-" OR IS_ABSOLUTE "${_lib}")
      list(APPEND _simdrnn_static_libs "${_lib}")
    else()
      list(APPEND _simdrnn_static_libs "-l${_lib}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES _simdrnn_static_libs)
  list(JOIN _simdrnn_static_libs " " SIMDRNN_PC_STATIC_LIBS)
  set(SIMDRNN_PC_ARCHIVE "${CMAKE_STATIC_LIBRARY_PREFIX}simdrnn${CMAKE_STATIC_LIBRARY_SUFFIX}")
  configure_file(${CMAKE_CURRENT_LIST_DIR}/simdrnn-static.pc.in ${PROJECT_BINARY_DIR}/simdrnn-static.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/simdrnn-static.pc DESTINATION ${SIMDRNN_INSTALL_PKGCONFIGDIR})
endif()
# Every build installs libsimdrnn.so (a static build adds it for FFI users).
configure_file(${CMAKE_CURRENT_LIST_DIR}/simdrnn.pc.in ${PROJECT_BINARY_DIR}/simdrnn.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/simdrnn.pc DESTINATION ${SIMDRNN_INSTALL_PKGCONFIGDIR})

unset(_simdrnn_type)
unset(_simdrnn_pc_up)
unset(_simdrnn_static_libs)
unset(_lib)
unset(_path)
unset(_dir)
