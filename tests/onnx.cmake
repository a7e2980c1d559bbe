# Tests of the ONNX importer (tests/onnx/), registered only when simdrnn_onnx is built:
#   test_onnx_conformance  ONNX's node tests from Debian's libonnx-testdata (tests/onnx/)
#   onnx_make_models       tests/onnx/make_models.py writes torch exports, hand-built graphs
#                          with reference outputs and bad models into <build>/tests/onnx_models
#                          (a ctest fixture; skipped, exit 77, without torch/onnx)
#   test_onnx_import       reads them (and truncates and corrupts valid models; C API misuse)
#   onnx_torch_ctypes      tests/onnx/test_torch_ctypes.py (pytest): torch.onnx.export, then
#                          load and run through libsimdrnn_onnx.so with ctypes, compared with
#                          torch; not registered in sanitizer builds (python cannot load them)
if(NOT SIMDRNN_HAVE_ONNX)
  return()
endif()

set(_simdrnn_onnx_models ${CMAKE_CURRENT_BINARY_DIR}/onnx_models)
add_test(NAME onnx_make_models
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/onnx/make_models.py ${_simdrnn_onnx_models})
set_tests_properties(onnx_make_models PROPERTIES FIXTURES_SETUP onnx_models SKIP_RETURN_CODE 77
  TIMEOUT 300 LABELS onnx ENVIRONMENT "OMP_NUM_THREADS=1")

file(GLOB _simdrnn_onnx_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/onnx/test_*.cpp)
foreach(src ${_simdrnn_onnx_tests})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE simdrnn_onnx onnx_proto GTest::gtest_main)
  # ONNX's node tests from Debian; SIMDRNN_ONNX_NODE_TESTS / SIMDRNN_ONNX_MODELS override at run time.
  target_compile_definitions(${name} PRIVATE
    SIMDRNN_ONNX_NODE_TESTS="/usr/share/libonnx-testdata/data/node"
    SIMDRNN_ONNX_MODELS="${_simdrnn_onnx_models}")
  if(SIMDRNN_SANITIZE)
    target_compile_definitions(${name} PRIVATE SIMDRNN_TEST_SANITIZED)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 600 LABELS onnx FIXTURES_REQUIRED onnx_models)
endforeach()

if(NOT SIMDRNN_SANITIZE)
  if(TARGET simdrnn_onnx_shared)
    set(_simdrnn_onnx_so simdrnn_onnx_shared)
  else()
    set(_simdrnn_onnx_so simdrnn_onnx)
  endif()
  add_test(NAME onnx_torch_ctypes
    COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/onnx/test_torch_ctypes.py)
  set_tests_properties(onnx_torch_ctypes PROPERTIES TIMEOUT 300 LABELS onnx SKIP_RETURN_CODE 77
    ENVIRONMENT "SIMDRNN_ONNX_LIB=$<TARGET_FILE:${_simdrnn_onnx_so}>;OMP_NUM_THREADS=2")
  unset(_simdrnn_onnx_so)
endif()
# libFuzzer target for the loader (Clang only): onnx_fuzz_load fuzzes for a
# minute from a corpus of the generated models and Debian's node tests.
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DSIMDRNN_BUILD_FUZZERS=ON -DSIMDRNN_SANITIZE=ON \
#     -DSIMDRNN_BUILD_BENCHMARKS=OFF && cmake --build build-fuzz --target fuzz_onnx_load
if(SIMDRNN_BUILD_FUZZERS)
  add_executable(fuzz_onnx_load ${CMAKE_CURRENT_SOURCE_DIR}/onnx/fuzz_onnx_load.cpp)
  target_compile_options(fuzz_onnx_load PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_onnx_load PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_onnx_load PRIVATE simdrnn_onnx)
  set(_simdrnn_fuzz_corpus ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus)  # new inputs go here
  file(MAKE_DIRECTORY ${_simdrnn_fuzz_corpus})
  add_test(NAME onnx_fuzz_load
    COMMAND fuzz_onnx_load -max_total_time=60 -rss_limit_mb=4096 -timeout=20
            ${_simdrnn_fuzz_corpus} ${_simdrnn_onnx_models} /usr/share/libonnx-testdata/data/node/test_lstm_with_peepholes)
  set_tests_properties(onnx_fuzz_load PROPERTIES TIMEOUT 300 LABELS "onnx;fuzz" FIXTURES_REQUIRED onnx_models)
  unset(_simdrnn_fuzz_corpus)
endif()
unset(_simdrnn_onnx_tests)
unset(_simdrnn_onnx_models)
