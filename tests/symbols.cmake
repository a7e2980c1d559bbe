# The library defines no symbol in the names of the public C++ wrapper
# (include/simdrnn/simdrnn.hpp: simdrnn::Model, Weights, Stream, ...): its
# internals live in simdrnn::lib. A second definition of one of those names
# would break the one-definition rule in every program that links the library
# and includes the wrapper (the linker keeps either inline destructor).
find_program(SIMDRNN_NM nm)
if(SIMDRNN_NM)
  add_test(NAME symbols_apart_from_the_cpp_wrapper
    COMMAND sh -c "! '${SIMDRNN_NM}' -C '$<TARGET_FILE:simdrnn>' | grep -E ' simdrnn::(Model|Weights|Stream|Error|Span|Config|ForwardArgs|BackwardArgs|Cell|Isa)(::|\\\\b)'")
  set_tests_properties(symbols_apart_from_the_cpp_wrapper PROPERTIES LABELS isa)
endif()
