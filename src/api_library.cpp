// C API: library-wide calls (version, last error, names, ISA dispatch
// queries, the default configuration).
#include <cmath>
#include <cstring>
#include <string>

#include "src/api_internal.hpp"
#include "src/engine.hpp"

using namespace simdrnn;

extern "C" {

const char* simdrnn_version(void) { return SIMDRNN_VERSION_STRING; }
const char* simdrnn_last_error(void) { return simdrnn::last_error(); }

// Both switch on the raw int: a C caller may pass any value, and loading an
// out-of-range value as the enum type is undefined in C++.
const char* simdrnn_status_name(simdrnn_status status) {
  switch (raw_enum(status)) {
    case SIMDRNN_OK:
      return "SIMDRNN_OK";
    case SIMDRNN_INVALID_ARGUMENT:
      return "SIMDRNN_INVALID_ARGUMENT";
    case SIMDRNN_OUT_OF_MEMORY:
      return "SIMDRNN_OUT_OF_MEMORY";
    case SIMDRNN_UNSUPPORTED:
      return "SIMDRNN_UNSUPPORTED";
    case SIMDRNN_INTERNAL_ERROR:
      return "SIMDRNN_INTERNAL_ERROR";
  }
  return "unknown";
}

const char* simdrnn_isa_name(simdrnn_isa isa) {
  switch (raw_enum(isa)) {
#define SIMDRNN_ISA(name, value, table) \
  case value:                           \
    return #name;
#include "simd/isa_list.inc"
#undef SIMDRNN_ISA
  }
  return "unknown";
}

simdrnn_isa simdrnn_detected_isa(void) { return detected_isa(); }
simdrnn_isa simdrnn_active_isa(void) { return active_isa(); }

simdrnn_status simdrnn_set_max_isa(simdrnn_isa isa) {
  const int v = raw_enum(isa);
  if (v < SIMDRNN_ISA_SCALAR || v > SIMDRNN_ISA_AVX512_BF16)
    SIMDRNN_FAIL("isa: expected a simdrnn_isa from SIMDRNN_ISA_SCALAR (0) to SIMDRNN_ISA_AVX512_BF16 (5), got %d", v);
  set_max_isa(isa);
  return SIMDRNN_OK;
}

simdrnn_config simdrnn_config_default(void) {
  simdrnn_config c{};
  c.input_size = 0;  // must be set: a forgotten size fails at simdrnn_weights_create
  c.hidden_size = 0;
  c.num_layers = 1;
  c.bidirectional = 0;
  c.activation = SIMDRNN_TANH;
  c.clip = 0.0f;
  c.output_size = 0;
  c.cell = SIMDRNN_CELL_RNN;
  c.proj_size = 0;
  c.gru_linear_before_reset = 1;
  c.weight_precision = SIMDRNN_PRECISION_F32;
  return c;
}
}  // extern "C"
