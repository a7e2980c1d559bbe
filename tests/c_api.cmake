# Tests written in C (tests/c/): what only a C caller can do, such as storing
# any int in an enum (C++ cannot form most such values without undefined
# behaviour).
file(GLOB _simdrnn_c_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/c/*.c)
foreach(src ${_simdrnn_c_tests})
  get_filename_component(name ${src} NAME_WE)
  add_executable(c_api_${name} ${src})
  set_target_properties(c_api_${name} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
  target_link_libraries(c_api_${name} PRIVATE simdrnn)
  add_test(NAME c_api_${name} COMMAND c_api_${name})
  set_tests_properties(c_api_${name} PROPERTIES LABELS c_api TIMEOUT 60)
endforeach()
unset(_simdrnn_c_tests)
