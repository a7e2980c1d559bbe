# ctest registration: install_consumer installs this build tree into a scratch
# prefix and builds/runs tests/consumer against it (find_package + pkg-config).
# See tests/consumer/install_and_build.cmake.
if(NOT DEFINED SIMDRNN_INSTALL_CMAKEDIR)
  return() # cmake/install.cmake was not included: nothing to test
endif()

find_program(SIMDRNN_PKG_CONFIG NAMES pkg-config pkgconf)
mark_as_advanced(SIMDRNN_PKG_CONFIG)
get_target_property(_simdrnn_install_test_type simdrnn TYPE)
if(_simdrnn_install_test_type STREQUAL "STATIC_LIBRARY")
  set(_simdrnn_install_test_static ON)
else()
  set(_simdrnn_install_test_static OFF)
endif()
set(_simdrnn_install_test_flags "")
if(SIMDRNN_SANITIZE)
  # The instrumented library needs the sanitizer runtimes in the consumer too.
  set(_simdrnn_install_test_flags "-fsanitize=address,undefined -fno-omit-frame-pointer")
endif()
# Programs linked by the C driver alone: clang's leaves out UBSan's C++ runtime, which
# the instrumented C++ library needs (-fsanitize=function), so a clang sanitizer build
# checks its C programs linked as the C++ consumers link them; the other builds check both.
if(SIMDRNN_SANITIZE AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  set(_simdrnn_install_test_c_linked OFF)
else()
  set(_simdrnn_install_test_c_linked ON)
endif()

add_test(NAME install_consumer
  COMMAND ${CMAKE_COMMAND}
    -DBUILD_DIR=${PROJECT_BINARY_DIR}
    -DCONFIG=$<CONFIG>
    -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_consumer
    -DCONSUMER_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumer
    -DGENERATOR=${CMAKE_GENERATOR}
    -DC_COMPILER=${CMAKE_C_COMPILER}
    -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
    -DSTATIC=${_simdrnn_install_test_static}
    -DVERSION=${PROJECT_VERSION}
    -DEXTRA_FLAGS=${_simdrnn_install_test_flags}
    -DC_LINKED=${_simdrnn_install_test_c_linked}
    -DPKG_CONFIG=${SIMDRNN_PKG_CONFIG}
    -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/install_and_build.cmake)
set_tests_properties(install_consumer PROPERTIES TIMEOUT 900 LABELS install)

# A static main build: also check a BUILD_SHARED_LIBS=ON package (the library is
# rebuilt shared in a scratch directory; library only, no tests).
if(_simdrnn_install_test_static AND NOT SIMDRNN_SANITIZE)
  add_test(NAME install_consumer_shared
    COMMAND ${CMAKE_COMMAND}
      -DREBUILD_SHARED_FROM=${PROJECT_SOURCE_DIR}
      -DBUILD_DIR=${PROJECT_BINARY_DIR}
      -DCONFIG=$<CONFIG>
      -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_consumer_shared
      -DCONSUMER_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumer
      -DGENERATOR=${CMAKE_GENERATOR}
      -DC_COMPILER=${CMAKE_C_COMPILER}
      -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
      -DVERSION=${PROJECT_VERSION}
      -DPKG_CONFIG=${SIMDRNN_PKG_CONFIG}
      -DJOBS=2
      -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/install_and_build.cmake)
  set_tests_properties(install_consumer_shared PROPERTIES TIMEOUT 1800 LABELS install PROCESSORS 2)
endif()

unset(_simdrnn_install_test_type)
unset(_simdrnn_install_test_static)
unset(_simdrnn_install_test_flags)
