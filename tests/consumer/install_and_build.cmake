# Script (cmake -P) behind the install_consumer test, see tests/install.cmake:
#   1. cmake --install the build tree into a scratch prefix,
#   2. configure, build and run tests/consumer against it (C++ and C, plus a
#      C-only project) through find_package(simdrnn CONFIG) + CMAKE_PREFIX_PATH,
#   3. compile and run main.c and main.cpp with nothing but the flags pkg-config
#      prints, as a user would (no rpath or -L of ours, LD_LIBRARY_PATH unset):
#      module simdrnn (the .so, with and without --static) and, for a static
#      build, simdrnn-static (the archive, with and without --static); checks
#      which library each program needs at run time (if pkg-config exists).
# Variables (-D): BUILD_DIR, CONFIG, WORK_DIR, CONSUMER_DIR, GENERATOR, C_COMPILER,
# CXX_COMPILER, STATIC (ON/OFF), VERSION, EXTRA_FLAGS (e.g. sanitizer flags), C_LINKED
# (OFF: no program linked by the C compiler driver, so no c_only build), PKG_CONFIG,
# and optionally REBUILD_SHARED_FROM (a source dir, see step 0) and JOBS.
cmake_minimum_required(VERSION 3.18)

foreach(var BUILD_DIR WORK_DIR CONSUMER_DIR C_COMPILER VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_and_build.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

function(run_checked what)
  message(STATUS "[install_consumer] ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc})\n--- command: ${ARGN}\n--- stdout:\n${out}\n--- stderr:\n${err}")
  endif()
  string(STRIP "${out}" out)
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")

# --- 0. optionally build a shared libsimdrnn first --------------------------------
# With -DREBUILD_SHARED_FROM=<source dir>, configure and build that source tree
# with BUILD_SHARED_LIBS=ON (library only) and install that instead of BUILD_DIR.
if(REBUILD_SHARED_FROM)
  set(lib_build "${WORK_DIR}/shared-build")
  set(lib_args -DBUILD_SHARED_LIBS=ON -DSIMDRNN_BUILD_TESTS=OFF -DSIMDRNN_BUILD_BENCHMARKS=OFF
      -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
  if(GENERATOR)
    list(APPEND lib_args -G "${GENERATOR}")
  endif()
  file(MAKE_DIRECTORY "${WORK_DIR}")
  run_checked("configure shared libsimdrnn" "${CMAKE_COMMAND}" -S "${REBUILD_SHARED_FROM}" -B "${lib_build}" ${lib_args})
  if(NOT JOBS)
    set(JOBS 2)
  endif()
  run_checked("build shared libsimdrnn" "${CMAKE_COMMAND}" --build "${lib_build}" --config "${CONFIG}" -j ${JOBS})
  set(BUILD_DIR "${lib_build}")
  set(STATIC OFF)
  set(WORK_DIR "${WORK_DIR}/consumer")
endif()

# --- 1. install ------------------------------------------------------------------
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${prefix}")
file(MAKE_DIRECTORY "${WORK_DIR}")
run_checked("install to ${prefix}"
  "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" --config "${CONFIG}")
file(GLOB_RECURSE config_file "${prefix}/*/simdrnnConfig.cmake")
file(GLOB_RECURSE pc_file "${prefix}/*/simdrnn.pc")
foreach(f "${prefix}/include/simdrnn/simdrnn.h" "${prefix}/include/simdrnn/simdrnn.hpp"
          "${prefix}/include/simdrnn/export.h")
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
if(NOT config_file OR NOT pc_file)
  message(FATAL_ERROR "simdrnnConfig.cmake or simdrnn.pc not installed under ${prefix}")
endif()

# --- 2. find_package consumers ---------------------------------------------------
set(common_args -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${CONFIG}
    -DCMAKE_C_COMPILER=${C_COMPILER})
if(GENERATOR)
  list(APPEND common_args -G "${GENERATOR}")
endif()
if(EXTRA_FLAGS)
  list(APPEND common_args "-DCMAKE_C_FLAGS=${EXTRA_FLAGS}" "-DCMAKE_CXX_FLAGS=${EXTRA_FLAGS}"
       "-DCMAKE_EXE_LINKER_FLAGS=${EXTRA_FLAGS}")
endif()

set(variants cxx)
if(NOT DEFINED C_LINKED OR C_LINKED)
  list(APPEND variants c_only)
endif()
foreach(variant IN LISTS variants)
  set(bdir "${WORK_DIR}/build-${variant}")
  set(args ${common_args})
  if(variant STREQUAL "c_only")
    list(APPEND args -DSIMDRNN_CONSUMER_C_ONLY=ON)
    set(exes consumer_c99 consumer_c11)
  else()
    list(APPEND args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
    set(exes consumer_c99 consumer_c11 consumer_cpp)
  endif()
  run_checked("configure consumer (${variant})"
    "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${bdir}" ${args})
  # The package must come from the scratch prefix, not from some system install.
  file(STRINGS "${bdir}/CMakeCache.txt" found_dir REGEX "^simdrnn_DIR:")
  string(FIND "${found_dir}" "${prefix}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "consumer found simdrnn elsewhere: ${found_dir}")
  endif()
  run_checked("build consumer (${variant})"
    "${CMAKE_COMMAND}" --build "${bdir}" --config "${CONFIG}" --verbose)
  foreach(exe IN LISTS exes)
    file(GLOB_RECURSE exe_path "${bdir}/${exe}" "${bdir}/*/${exe}")
    if(NOT exe_path)
      message(FATAL_ERROR "${exe} was not built in ${bdir}")
    endif()
    list(GET exe_path 0 exe_path)
    run_checked("run ${exe} (${variant})" "${exe_path}")
    message(STATUS "  ${last_output}")
  endforeach()
endforeach()

# --- 3. pkg-config ---------------------------------------------------------------
if(NOT PKG_CONFIG)
  message(STATUS "[install_consumer] pkg-config not found: pkg-config check skipped")
  return()
endif()
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(pkg "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${pc_dir}" "${PKG_CONFIG}")
set(modules simdrnn)
if(STATIC)
  list(APPEND modules simdrnn-static)
elseif(EXISTS "${pc_dir}/simdrnn-static.pc")
  message(FATAL_ERROR "simdrnn-static.pc installed by a shared build (it has no archive)")
endif()
find_program(READELF NAMES readelf)
separate_arguments(extra_list UNIX_COMMAND "${EXTRA_FLAGS}")

foreach(module IN LISTS modules)
  run_checked("pkg-config --modversion ${module}" ${pkg} --modversion ${module})
  if(NOT last_output STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config says ${module} is version '${last_output}', expected '${VERSION}'")
  endif()
  foreach(static_flag "" --static)
    run_checked("pkg-config ${static_flag} --cflags --libs ${module}"
      ${pkg} ${static_flag} --cflags --libs ${module})
    set(pc_flags "${last_output}")
    message(STATUS "  flags: ${pc_flags}")
    separate_arguments(pc_flag_list UNIX_COMMAND "${pc_flags}")
    string(REPLACE "-" "_" tag "${module}${static_flag}")
    foreach(lang c cxx)
      if(lang STREQUAL "c")
        if(DEFINED C_LINKED AND NOT C_LINKED)
          continue()
        endif()
        set(compiler "${C_COMPILER}")
        set(source "${CONSUMER_DIR}/main.c")
        set(std -std=c99)
        set(libm -lm) # main.c calls tanh() and fabs()
      else()
        if(NOT CXX_COMPILER)
          continue()
        endif()
        set(compiler "${CXX_COMPILER}")
        set(source "${CONSUMER_DIR}/main.cpp")
        set(std -std=c++17)
        set(libm)
      endif()
      set(exe "${WORK_DIR}/pkgconfig_${lang}_${tag}")
      run_checked("${lang} consumer with `pkg-config ${static_flag} --cflags --libs ${module}`"
        "${compiler}" ${std} -Wall -Wextra -Wpedantic -Werror ${extra_list} "${source}" -o "${exe}"
        ${pc_flag_list} ${libm})
      # The module decides what the program needs at run time: simdrnn the
      # shared library (found through the rpath), simdrnn-static nothing of ours.
      if(READELF)
        run_checked("readelf -d ${exe}" "${READELF}" -d "${exe}")
        string(FIND "${last_output}" "libsimdrnn.so" needs_so)
        if(module STREQUAL "simdrnn" AND needs_so EQUAL -1)
          message(FATAL_ERROR "${exe} was linked with `pkg-config --libs simdrnn` but does not need libsimdrnn.so")
        elseif(module STREQUAL "simdrnn-static" AND NOT needs_so EQUAL -1)
          message(FATAL_ERROR "${exe} was linked with simdrnn-static but needs libsimdrnn.so:\n${last_output}")
        endif()
      endif()
      run_checked("run ${exe}" "${CMAKE_COMMAND}" -E env --unset=LD_LIBRARY_PATH "${exe}")
      message(STATUS "  ${last_output}")
    endforeach()
  endforeach()
endforeach()
message(STATUS "[install_consumer] all checks passed")
