# The environment variables, seen from a real process: SIMDRNN_MAX_ISA caps
# the kernels (the quickstart prints the ISA its model uses), SIMDRNN_VERBOSE
# prints the per-call line, SIMDRNN_NUM_THREADS sets the default team.
foreach(isa scalar avx2 avx2_vnni avx512 avx512_vnni avx512_bf16)
  add_test(NAME env_max_isa_${isa} COMMAND example_quickstart_cpp)
  set_tests_properties(env_max_isa_${isa} PROPERTIES ENVIRONMENT "SIMDRNN_MAX_ISA=${isa}" LABELS env)
endforeach()
set_tests_properties(env_max_isa_scalar PROPERTIES PASS_REGULAR_EXPRESSION "isa[^\n]*scalar")
set_tests_properties(env_max_isa_avx2 PROPERTIES PASS_REGULAR_EXPRESSION "isa[^\n]*(avx2|scalar)"
  FAIL_REGULAR_EXPRESSION "vnni|avx512")
set_tests_properties(env_max_isa_avx2_vnni PROPERTIES PASS_REGULAR_EXPRESSION "isa[^\n]*(avx2|scalar)"
  FAIL_REGULAR_EXPRESSION "avx512")
set_tests_properties(env_max_isa_avx512 PROPERTIES PASS_REGULAR_EXPRESSION "isa[^\n]*(avx512|avx2|scalar)"
  FAIL_REGULAR_EXPRESSION "avx512_")
set_tests_properties(env_max_isa_avx512_vnni PROPERTIES PASS_REGULAR_EXPRESSION "isa[^\n]*(avx512|avx2|scalar)"
  FAIL_REGULAR_EXPRESSION "bf16")
set_tests_properties(env_max_isa_avx512_bf16 PROPERTIES PASS_REGULAR_EXPRESSION "isa[^\n]*(avx512|avx2|scalar)")
add_test(NAME env_verbose COMMAND example_quickstart_cpp)
set_tests_properties(env_verbose PROPERTIES ENVIRONMENT "SIMDRNN_VERBOSE=1;SIMDRNN_NUM_THREADS=1"
  PASS_REGULAR_EXPRESSION "simdrnn_verbose,forward,isa=[a-z0-9_]+,threads=1,cell=rnn,shape=t5n2i8h16l1d1o0,layout=tnc,lens=0,A_us=[0-9.]+,B_us=[0-9.]+,C_us=[0-9.]+,total_us=[0-9.]+" LABELS env)
# Names are case-insensitive; a value that is not understood is reported
# once on stderr and caps nothing.
add_test(NAME env_max_isa_uppercase COMMAND example_quickstart_cpp)
set_tests_properties(env_max_isa_uppercase PROPERTIES ENVIRONMENT "SIMDRNN_MAX_ISA=AVX2" LABELS env
  PASS_REGULAR_EXPRESSION "isa[^\n]*(avx2|scalar)" FAIL_REGULAR_EXPRESSION "avx512")
add_test(NAME env_max_isa_unknown COMMAND example_quickstart_cpp)
set_tests_properties(env_max_isa_unknown PROPERTIES ENVIRONMENT "SIMDRNN_MAX_ISA=avx-512" LABELS env
  PASS_REGULAR_EXPRESSION "ignoring SIMDRNN_MAX_ISA=avx-512 \\(expected scalar, avx2, avx2_vnni, avx512, avx512_vnni or avx512_bf16\\)")
