# ctest registrations for examples/: each example is built and run as a test.
#   example_quickstart_cpp  examples/quickstart.cpp (C++ API)
#   example_quickstart_c    examples/quickstart.c   (C99 API)
#   example_torch_ctypes    examples/torch_ctypes.py against libsimdrnn.so, compared
#                           with torch; skipped (exit 77) when /usr/bin/python3 has no
#                           torch/numpy, not registered in sanitizer builds.
set(_simdrnn_examples_dir ${PROJECT_SOURCE_DIR}/examples)

add_executable(example_quickstart_cpp ${_simdrnn_examples_dir}/quickstart.cpp)
target_link_libraries(example_quickstart_cpp PRIVATE simdrnn)
add_test(NAME example_quickstart_cpp COMMAND example_quickstart_cpp)

add_executable(example_quickstart_c ${_simdrnn_examples_dir}/quickstart.c)
target_link_libraries(example_quickstart_c PRIVATE simdrnn)
# libsimdrnn is C++ (and, when static, needs OpenMP): link with the C++ driver.
set_target_properties(example_quickstart_c PROPERTIES
  C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF LINKER_LANGUAGE CXX)
if(UNIX)
  target_link_libraries(example_quickstart_c PRIVATE m) # sinf
endif()
add_test(NAME example_quickstart_c COMMAND example_quickstart_c)

set_tests_properties(example_quickstart_cpp example_quickstart_c PROPERTIES
  TIMEOUT 60 LABELS example)

# A sanitized libsimdrnn.so cannot be loaded into an unsanitized python.
if(NOT SIMDRNN_SANITIZE)
  if(TARGET simdrnn_shared)
    set(_simdrnn_examples_so simdrnn_shared) # static build: the extra libsimdrnn.so
  else()
    set(_simdrnn_examples_so simdrnn)        # BUILD_SHARED_LIBS=ON
  endif()
  add_test(NAME example_torch_ctypes
    COMMAND /usr/bin/python3 ${_simdrnn_examples_dir}/torch_ctypes.py
            $<TARGET_FILE:${_simdrnn_examples_so}>)
  set_tests_properties(example_torch_ctypes PROPERTIES
    TIMEOUT 300 LABELS example SKIP_RETURN_CODE 77
    # torch and OpenMP both start thread pools; keep the example light on shared machines.
    ENVIRONMENT "OMP_NUM_THREADS=2")
  if(NOT EXISTS /usr/bin/python3)
    set_tests_properties(example_torch_ctypes PROPERTIES DISABLED TRUE) # reported "Not Run"
  endif()
  unset(_simdrnn_examples_so)
endif()

unset(_simdrnn_examples_dir)
