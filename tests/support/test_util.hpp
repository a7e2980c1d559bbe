// Shared test helpers: ISA enumeration, an RAII ISA cap, seeded random data.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "simdrnn/simdrnn.h"

namespace simdrnn_test {

// Every ISA level this CPU supports, scalar first (capping at a level the CPU
// lacks gives a lower one, so those are left out).
inline std::vector<simdrnn_isa> available_isa_levels() {
  std::vector<simdrnn_isa> isas;
  const simdrnn_isa previous = simdrnn_active_isa();
  for (int i = SIMDRNN_ISA_SCALAR; i <= static_cast<int>(simdrnn_detected_isa()); ++i) {
    simdrnn_set_max_isa(static_cast<simdrnn_isa>(i));
    if (simdrnn_active_isa() == i) isas.push_back(static_cast<simdrnn_isa>(i));
  }
  simdrnn_set_max_isa(previous);
  return isas;
}

// The levels with their own f32 kernels (scalar, avx2, avx512) this CPU has:
// the *_vnni and *_bf16 levels only add reduced-precision GEMMs
// (test_kernels checks they share the rest), so f32 tests run these.
inline std::vector<simdrnn_isa> available_isas() {
  std::vector<simdrnn_isa> isas;
  for (simdrnn_isa isa : available_isa_levels())
    if (isa == SIMDRNN_ISA_SCALAR || isa == SIMDRNN_ISA_AVX2 || isa == SIMDRNN_ISA_AVX512) isas.push_back(isa);
  return isas;
}

// Caps the ISA of models created while it lives; restores the previous cap after.
class IsaCap {
 public:
  explicit IsaCap(simdrnn_isa isa) : previous_(simdrnn_active_isa()) { simdrnn_set_max_isa(isa); }
  ~IsaCap() { simdrnn_set_max_isa(previous_); }
  IsaCap(const IsaCap&) = delete;
  IsaCap& operator=(const IsaCap&) = delete;

 private:
  simdrnn_isa previous_;
};

// Uniform floats in [lo, hi] from a seeded generator (reproducible).
inline std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// simdrnn_forward_sizes of a C call (sizes zero when the call is invalid).
inline simdrnn_sizes sizes_of(const simdrnn_model* model, const simdrnn_forward_args& args) {
  simdrnn_sizes s{};
  simdrnn_forward_sizes(model, &args, &s);
  return s;
}

}  // namespace simdrnn_test
