# ctest registrations for the Python package (python/simdrnn) and its pytest suite in
# tests/python/, run by /usr/bin/python3 against this build's libsimdrnn.so:
#   python_abi           ctypes structs and enums vs the C compiler's view of simdrnn.h
#   python_api           errors, buffers, streams, training calls, optimisers, packaging
#   python_torch_rnn     torch.nn.RNN (+ nn.Linear head) vs simdrnn, outputs and states
#   python_torch_lstm_gru torch.nn.LSTM / nn.GRU vs simdrnn, outputs and states
#   python_torch_gated_training  LSTM / GRU gradients (backward) vs torch autograd
#   python_model_file    Model.save / simdrnn.load round trips; the file read as plain safetensors
#   python_onnx_load     simdrnn.load of torch.onnx.export files (with the ONNX component)
# A case the library answers SIMDRNN_UNSUPPORTED is XFAIL and the run exits 77
# ("Skipped", which .ci/test.sh does not allow).
# Each is skipped (exit 77) when /usr/bin/python3 lacks numpy, torch or pytest; none is
# registered in sanitizer builds (a sanitized .so cannot load into python).
if(SIMDRNN_SANITIZE)
  return()
endif()
if(TARGET simdrnn_shared)
  set(_simdrnn_python_so simdrnn_shared) # static build: the extra libsimdrnn.so
else()
  set(_simdrnn_python_so simdrnn)        # BUILD_SHARED_LIBS=ON
endif()

set(_simdrnn_python_tests
  python_abi test_abi.py
  python_api test_api.py
  python_torch_rnn test_torch_rnn.py
  python_torch_lstm_gru test_torch_lstm_gru.py
  python_torch_gated_training test_torch_gated_training.py
  python_model_file test_model_file.py)
if(SIMDRNN_HAVE_ONNX)
  list(APPEND _simdrnn_python_tests python_onnx_load test_onnx_load.py)
endif()
while(_simdrnn_python_tests)
  list(POP_FRONT _simdrnn_python_tests _name _file)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/python/run_pytest.py
            ${CMAKE_CURRENT_SOURCE_DIR}/python/${_file}
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(${_name} PROPERTIES
    TIMEOUT 300 LABELS python SKIP_RETURN_CODE 77
    # torch and the library both start thread pools: keep each run light on shared cores.
    ENVIRONMENT "SIMDRNN_LIBRARY=$<TARGET_FILE:${_simdrnn_python_so}>;PYTHONPATH=${PROJECT_SOURCE_DIR}/python;OMP_NUM_THREADS=2;SIMDRNN_NUM_THREADS=2;SIMDRNN_PYTEST_XFAIL_EXIT=77;PYTHONDONTWRITEBYTECODE=1")
  if(NOT EXISTS /usr/bin/python3)
    set_tests_properties(${_name} PROPERTIES DISABLED TRUE) # reported "Not Run"
  endif()
endwhile()
unset(_name)
unset(_file)
unset(_simdrnn_python_tests)
unset(_simdrnn_python_so)
