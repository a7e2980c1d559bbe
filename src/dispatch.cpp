// ISA detection (CPUID + XGETBV, once) and the choice of kernel table, capped
// by SIMDRNN_MAX_ISA or simdrnn_set_max_isa(). The only place that decides
// which simd/ code may run.
#include <cpuid.h>
#include <strings.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "src/internal.hpp"

namespace simdrnn {
namespace {

uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

simdrnn_isa detect() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return SIMDRNN_ISA_SCALAR;
  const bool osxsave = c & bit_OSXSAVE, fma = c & bit_FMA, avx = c & bit_AVX;
  if (!osxsave || !avx || !fma) return SIMDRNN_ISA_SCALAR;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!ymm_state || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return SIMDRNN_ISA_SCALAR;
  const bool avx2 = b & bit_AVX2;
  const bool avx512 =
      (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512DQ) && (b & bit_AVX512VL) && zmm_state;
  if (avx2 && avx512) return SIMDRNN_ISA_AVX512;
  return avx2 ? SIMDRNN_ISA_AVX2 : SIMDRNN_ISA_SCALAR;
}

// SIMDRNN_MAX_ISA: scalar, avx2 or avx512, in any case. Anything else is
// reported once on stderr and caps nothing (as SIMDRNN_NUM_THREADS does).
simdrnn_isa cap_from_env() {
  const char* v = std::getenv("SIMDRNN_MAX_ISA");
  if (!v || !*v) return SIMDRNN_ISA_AVX512;
#define SIMDRNN_ISA(name, value, table) \
  if (!strcasecmp(v, #name)) return value;
#include "simd/isa_list.inc"
#undef SIMDRNN_ISA
  std::fprintf(stderr, "simdrnn: ignoring SIMDRNN_MAX_ISA=%s (expected scalar, avx2 or avx512)\n", v);
  return SIMDRNN_ISA_AVX512;
}

std::atomic<int> g_cap{cap_from_env()};

}  // namespace

simdrnn_isa detected_isa() {
  static const simdrnn_isa isa = detect();
  return isa;
}

simdrnn_isa active_isa() {
  const int cap = g_cap.load(std::memory_order_relaxed);
  const int det = detected_isa();
  return static_cast<simdrnn_isa>(cap < det ? cap : det);
}

void set_max_isa(simdrnn_isa isa) { g_cap.store(isa, std::memory_order_relaxed); }

namespace {

const kernels::KernelTable& raw_table(simdrnn_isa isa) {
#define SIMDRNN_ISA(name, value, table) \
  if (isa == value) return kernels::table();
#include "simd/isa_list.inc"
#undef SIMDRNN_ISA
  return kernels::scalar_table();
}

// The GEMM's blocking for this CPU (kernels.h, GemmTuning): the one place
// that decides it. SIMDRNN_GEMM_K_BLOCK sets k_block (0: off) for
// experiments.
kernels::GemmTuning choose_tuning(const kernels::KernelTable& kt) {
  kernels::GemmTuning t{0};
  const char* v = std::getenv("SIMDRNN_GEMM_K_BLOCK");
  if (v && *v) {
    char* end = nullptr;
    const long parsed = std::strtol(v, &end, 10);
    if (end && *end == '\0' && parsed >= 0 && parsed <= (1 << 20)) {
      t.k_block = parsed;
      return t;
    }
    std::fprintf(stderr, "simdrnn: ignoring SIMDRNN_GEMM_K_BLOCK=%s (expected 0..1048576)\n", v);
  }
  (void)kt;  // k-blocking stays off until measurement shows a CPU that gains from it
  return t;
}

}  // namespace

kernels::GemmTuning gemm_tuning(simdrnn_isa isa) { return choose_tuning(raw_table(isa)); }

const kernels::KernelTable& kernel_table(simdrnn_isa isa) {
  const kernels::KernelTable& kt = raw_table(isa);
  static std::once_flag tuned[SIMDRNN_ISA_AVX512 + 1];
  const int i = static_cast<int>(isa) >= 0 && isa <= SIMDRNN_ISA_AVX512 ? static_cast<int>(isa) : 0;
  std::call_once(tuned[i], [&] { kt.tune(choose_tuning(kt)); });
  return kt;
}

}  // namespace simdrnn
