# Tests of the ONNX importer (tests/onnx/), registered only when simdrnn_onnx is built:
#   tests/onnx/test_*.cpp   one GoogleTest executable each (node tests from Debian's
#                           libonnx-testdata, malformed and unsupported models)
if(NOT SIMDRNN_HAVE_ONNX)
  return()
endif()

file(GLOB _simdrnn_onnx_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/onnx/test_*.cpp)
foreach(src ${_simdrnn_onnx_tests})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE simdrnn_onnx onnx_proto GTest::gtest_main)
  # ONNX's node tests from Debian (libonnx-testdata); SIMDRNN_ONNX_NODE_TESTS overrides at run time.
  target_compile_definitions(${name} PRIVATE
    SIMDRNN_ONNX_NODE_TESTS="/usr/share/libonnx-testdata/data/node")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600 LABELS onnx)
endforeach()
unset(_simdrnn_onnx_tests)
