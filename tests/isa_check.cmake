# Instruction-set hygiene, checked on the built objects: src/ and the scalar
# kernels must contain no AVX at all (they run on any x86-64), and the AVX2
# kernels no AVX-512 (they must run on AVX2-only CPUs). objdump disassembles;
# any ymm/zmm register (or zmm/opmask for AVX2) fails the test.
find_program(SIMDRNN_OBJDUMP objdump)
if(SIMDRNN_OBJDUMP)
  add_test(NAME isa_hygiene_baseline
    COMMAND ${CMAKE_COMMAND} -DOBJDUMP=${SIMDRNN_OBJDUMP} "-DOBJECTS=$<JOIN:$<TARGET_OBJECTS:simdrnn_scalar>,|>|$<JOIN:$<TARGET_OBJECTS:simdrnn>,|>"
            "-DFORBIDDEN=%[yz]mm" -P ${CMAKE_CURRENT_SOURCE_DIR}/support/isa_check_script.cmake)
  add_test(NAME isa_hygiene_avx2
    COMMAND ${CMAKE_COMMAND} -DOBJDUMP=${SIMDRNN_OBJDUMP} "-DOBJECTS=$<JOIN:$<TARGET_OBJECTS:simdrnn_avx2>,|>"
            "-DFORBIDDEN=%zmm|%k[0-7]" -P ${CMAKE_CURRENT_SOURCE_DIR}/support/isa_check_script.cmake)
  set_tests_properties(isa_hygiene_baseline isa_hygiene_avx2 PROPERTIES LABELS isa)
endif()
