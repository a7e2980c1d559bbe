# The model file (src/model_file.cpp, docs/model_file.md): its JSON header is
# read and written with nlohmann-json (Debian nlohmann-json3-dev), a
# header-only build dependency that consumers of the installed library never
# see: only its include directory is added, privately, so nothing of it
# reaches the exported targets. Included from the top-level CMakeLists.txt
# once the library targets exist.
# Optional, so that the core library still builds with a compiler, xsimd and
# OpenMP alone: without it the four model-file calls return
# SIMDRNN_UNSUPPORTED saying so. The tests need it (tests/CMakeLists.txt).
find_package(nlohmann_json 3.9 QUIET)
if(nlohmann_json_FOUND)
  set(SIMDRNN_HAVE_MODEL_FILE ON)
else()
  set(SIMDRNN_HAVE_MODEL_FILE OFF)
  message(STATUS "nlohmann-json not found (Debian nlohmann-json3-dev): simdrnn_model_save / load "
                 "will return SIMDRNN_UNSUPPORTED")
endif()
foreach(_simdrnn_target simdrnn simdrnn_shared)
  if(TARGET ${_simdrnn_target})
    if(SIMDRNN_HAVE_MODEL_FILE)
      target_include_directories(${_simdrnn_target} SYSTEM PRIVATE
        $<TARGET_PROPERTY:nlohmann_json::nlohmann_json,INTERFACE_INCLUDE_DIRECTORIES>)
      target_compile_definitions(${_simdrnn_target} PRIVATE SIMDRNN_HAVE_MODEL_FILE=1)
    endif()
  endif()
endforeach()
unset(_simdrnn_target)

# SIMDRNN_BUILD_FUZZERS (top-level CMakeLists.txt, clang): fuzz/ builds a
# libFuzzer target for the loader and a short fuzz run joins ctest
# (tests/fuzz.cmake); every build replays the committed corpus.
