# Install rules, CMake package config and pkg-config file for simdrnn.
# Included from the top-level CMakeLists.txt after the `simdrnn` target exists.
#
# Consumers:
#   find_package(simdrnn CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE simdrnn::simdrnn)
# or
#   cc app.c $(pkg-config --cflags --libs simdrnn)            (shared build)
#   cc app.c $(pkg-config --static --cflags --libs simdrnn)   (static build)
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
set(SIMDRNN_PC_LIBS_PRIVATE "")
if(SIMDRNN_STATIC)
  # The threads library (the worker pool), then the C++ runtime (GCC: stdc++;m).
  set(_simdrnn_private -pthread)
  foreach(_lib IN LISTS SIMDRNN_CXX_RUNTIME_LIBS)
    if(_lib MATCHES "^-")
      list(APPEND _simdrnn_private "${_lib}")
    else()
      list(APPEND _simdrnn_private "-l${_lib}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES _simdrnn_private)
  list(JOIN _simdrnn_private " " SIMDRNN_PC_LIBS_PRIVATE)
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/simdrnn.pc.in ${PROJECT_BINARY_DIR}/simdrnn.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/simdrnn.pc DESTINATION ${SIMDRNN_INSTALL_PKGCONFIGDIR})

unset(_simdrnn_type)
unset(_simdrnn_pc_up)
unset(_simdrnn_private)
