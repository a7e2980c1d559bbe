# ctest registrations for examples/: each example is built and run as a test.
#   example_quickstart_cpp  examples/quickstart.cpp (C++ API)
#   example_quickstart_c    examples/quickstart.c   (C99 API)
#   example_lstm            examples/lstm.cpp: a 2-layer bidirectional LSTM with a
#                           projection, lengths, h0/c0, h_n/c_n; a stream checked bit
#                           for bit against the whole-sequence call (C++ API)
#   example_torch_ctypes    examples/torch_ctypes.py against libsimdrnn.so, compared
#                           with torch; skipped (exit 77) when /usr/bin/python3 has no
#                           torch/numpy, not registered in sanitizer builds.
set(_simdrnn_examples_dir ${PROJECT_SOURCE_DIR}/examples)

add_executable(example_quickstart_cpp ${_simdrnn_examples_dir}/quickstart.cpp)
target_link_libraries(example_quickstart_cpp PRIVATE simdrnn)
add_test(NAME example_quickstart_cpp COMMAND example_quickstart_cpp)

add_executable(example_quickstart_c ${_simdrnn_examples_dir}/quickstart.c)
target_link_libraries(example_quickstart_c PRIVATE simdrnn)
# libsimdrnn is C++ (and, when static, needs its C++ runtime): link with the C++ driver.
set_target_properties(example_quickstart_c PROPERTIES
  C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF LINKER_LANGUAGE CXX)
if(UNIX)
  target_link_libraries(example_quickstart_c PRIVATE m) # sinf
endif()
add_test(NAME example_quickstart_c COMMAND example_quickstart_c)

add_executable(example_lstm ${_simdrnn_examples_dir}/lstm.cpp)
target_link_libraries(example_lstm PRIVATE simdrnn)
add_test(NAME example_lstm COMMAND example_lstm)

set_tests_properties(example_quickstart_cpp example_quickstart_c example_lstm PROPERTIES
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

# example_char_lm_quick       examples/char_lm.cpp: a character-level language model
# example_char_lm_quick_lstm  trained with simdrnn (truncated BPTT, clipping, Adam) on
# example_char_lm_quick_lstm_proj  /usr/share/common-licenses, one test per cell
# example_char_lm_quick_gru   (--cell rnn, lstm, lstm with --proj, gru); --quick runs
#                             a few seconds and fails unless the losses decrease and
#                             (--precision all) the bf16 / int8 copies of the trained
#                             model lose at most 0.5% / 2% of validation loss; its
#                             CSV and PNG (char_lm_quick_<cell>_loss.*) land in the
#                             build directory. The binary lands in
#                             <build>/examples/char_lm; its full run (no options,
#                             <= 3 min) must end >= 25% below the unigram baseline.
add_executable(example_char_lm ${PROJECT_SOURCE_DIR}/examples/char_lm.cpp)
target_link_libraries(example_char_lm PRIVATE simdrnn)
# The loss CSV and PNG go to the build directory by default, not the checkout.
target_compile_definitions(example_char_lm PRIVATE
  CHAR_LM_PLOT_SCRIPT="${PROJECT_SOURCE_DIR}/examples/plot_loss.py"
  CHAR_LM_OUT_DIR="${PROJECT_BINARY_DIR}")
set_target_properties(example_char_lm PROPERTIES
  OUTPUT_NAME char_lm RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/examples)
add_test(NAME example_char_lm_quick COMMAND example_char_lm --quick --precision all
         WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
add_test(NAME example_char_lm_quick_lstm COMMAND example_char_lm --quick --cell lstm --precision all
         WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
add_test(NAME example_char_lm_quick_lstm_proj COMMAND example_char_lm --quick --cell lstm --proj 48
         WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
add_test(NAME example_char_lm_quick_gru COMMAND example_char_lm --quick --cell gru --precision all
         WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(example_char_lm_quick example_char_lm_quick_lstm example_char_lm_quick_lstm_proj
                     example_char_lm_quick_gru PROPERTIES
  TIMEOUT 120 LABELS example ENVIRONMENT OMP_WAIT_POLICY=passive)
