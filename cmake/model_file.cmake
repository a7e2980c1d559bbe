# The model file (src/model_file.cpp, docs/model_file.md): its JSON header is
# read and written with nlohmann-json (Debian nlohmann-json3-dev), a
# header-only build dependency that consumers of the installed library never
# see: only its include directory is added, privately, so nothing of it
# reaches the exported targets. Included from the top-level CMakeLists.txt
# once the library targets exist.
find_package(nlohmann_json 3.9 REQUIRED)
foreach(_simdrnn_target simdrnn simdrnn_shared)
  if(TARGET ${_simdrnn_target})
    target_include_directories(${_simdrnn_target} SYSTEM PRIVATE
      $<TARGET_PROPERTY:nlohmann_json::nlohmann_json,INTERFACE_INCLUDE_DIRECTORIES>)
  endif()
endforeach()
unset(_simdrnn_target)

# With clang and tests on, fuzz/ builds a libFuzzer target for the loader
# and a short fuzz run joins ctest (tests/fuzz.cmake); other compilers replay
# the committed corpus only.
option(SIMDRNN_BUILD_FUZZERS "With clang: build the model-file fuzzer and run it briefly in ctest" ON)
