// ISA detection (CPUID + XGETBV, once) and the choice of kernel table, capped
// by SIMDRNN_MAX_ISA or simdrnn_set_max_isa(). The only place that decides
// which simd/ code may run.
#include <cpuid.h>
#include <strings.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {
namespace {

uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

// Bit i set: the CPU and OS support simdrnn_isa i.
uint32_t detect_supported() {
  uint32_t supported = 1u << SIMDRNN_ISA_SCALAR;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return supported;
  const bool osxsave = c & bit_OSXSAVE, fma = c & bit_FMA, avx = c & bit_AVX;
  if (!osxsave || !avx || !fma) return supported;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!ymm_state || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return supported;
  const bool avx2 = b & bit_AVX2;
  const bool avx512 =
      avx2 && (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512DQ) && (b & bit_AVX512VL) && zmm_state;
  const bool avx512_vnni = avx512 && (c & (1u << 11));  // CPUID.(7,0):ECX.AVX512_VNNI
  const unsigned max_subleaf = a;
  unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
  if (max_subleaf >= 1) __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
  const bool avx_vnni = avx2 && (a1 & (1u << 4));                          // CPUID.(7,1):EAX.AVX-VNNI
  const bool avx512_bf16 = avx512_vnni && (a1 & (1u << 5));                // CPUID.(7,1):EAX.AVX512_BF16
  if (avx2) supported |= 1u << SIMDRNN_ISA_AVX2;
  if (avx_vnni) supported |= 1u << SIMDRNN_ISA_AVX2_VNNI;
  if (avx512) supported |= 1u << SIMDRNN_ISA_AVX512;
  if (avx512_vnni) supported |= 1u << SIMDRNN_ISA_AVX512_VNNI;
  if (avx512_bf16) supported |= 1u << SIMDRNN_ISA_AVX512_BF16;
  return supported;
}

uint32_t supported_isas() {
  static const uint32_t supported = detect_supported();
  return supported;
}

// The best supported ISA not above `cap`.
simdrnn_isa best_up_to(int cap) {
  for (int i = cap; i > SIMDRNN_ISA_SCALAR; --i)
    if (supported_isas() & (1u << i)) return static_cast<simdrnn_isa>(i);
  return SIMDRNN_ISA_SCALAR;
}

// SIMDRNN_MAX_ISA: an ISA name (simd/isa_list.inc), in any case. Anything else
// is reported once on stderr and caps nothing (as SIMDRNN_NUM_THREADS does).
simdrnn_isa cap_from_env() {
  const char* v = std::getenv("SIMDRNN_MAX_ISA");
  if (!v || !*v) return SIMDRNN_ISA_AVX512_BF16;
#define SIMDRNN_ISA(name, value, table) \
  if (!strcasecmp(v, #name)) return value;
#include "simd/isa_list.inc"
#undef SIMDRNN_ISA
  std::fprintf(stderr,
               "simdrnn: ignoring SIMDRNN_MAX_ISA=%s (expected scalar, avx2, avx2_vnni, avx512, avx512_vnni or "
               "avx512_bf16)\n",
               v);
  return SIMDRNN_ISA_AVX512_BF16;
}

std::atomic<int> g_cap{cap_from_env()};

}  // namespace

simdrnn_isa detected_isa() { return best_up_to(SIMDRNN_ISA_AVX512_BF16); }

simdrnn_isa active_isa() { return best_up_to(g_cap.load(std::memory_order_relaxed)); }

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

namespace {
// SIMDRNN_BF16_DOT: 0 never, 1 always (where the level has the kernel),
// anything else or unset: measured. The test hook overrides it.
int bf16_dot_policy_from_env() {
  const char* v = std::getenv("SIMDRNN_BF16_DOT");
  if (!v || !*v || !std::strcmp(v, "auto")) return -1;
  if (!std::strcmp(v, "0")) return 0;
  if (!std::strcmp(v, "1")) return 1;
  std::fprintf(stderr, "simdrnn: ignoring SIMDRNN_BF16_DOT=%s (expected 0, 1 or auto)\n", v);
  return -1;
}
std::atomic<int> g_bf16_dot_policy{bf16_dot_policy_from_env()};

// Multiply-adds per second of the bf16 dot-product instruction over the
// FMA's on this core: best of 5 runs of each probe (about 1 ms in all).
double measure_bf16_dot_speedup(const kernels::KernelTable& kt) {
  auto rate = [&](int kind) {
    const int64_t iterations = 20000;
    double best = 0.0;
    for (int run = 0; run < 5; ++run) {
      const auto start = std::chrono::steady_clock::now();
      kt.bf16_dot_probe(kind, iterations);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (s > 0.0) best = std::max(best, static_cast<double>(iterations) / s);
    }
    return best;
  };
  const double fma = rate(0), dot = rate(1);
  return fma > 0.0 ? 32.0 * dot / (16.0 * fma) : 0.0;  // 32 multiply-adds per vdpbf16ps, 16 per FMA
}
}  // namespace

void set_bf16_dot_policy_for_testing(int policy) { g_bf16_dot_policy.store(policy); }

bool use_bf16_dot(const kernels::KernelTable& kt) {
  if (!kt.gemm_bf16_dot || !kt.bf16_dot_probe) return false;
  const int policy = g_bf16_dot_policy.load(std::memory_order_relaxed);
  if (policy >= 0) return policy == 1;
  // Widening bf16 pairs costs 4 instructions per 32 multiply-adds at one row
  // and approaches the FMA's rate with six; the dot product (which also
  // rounds A) pays only where it issues at least as many multiply-adds as
  // the FMA (docs/design.md, "Weight precision").
  static const double speedup = measure_bf16_dot_speedup(kt);
  return speedup >= 1.0;
}

const kernels::KernelTable& kernel_table(simdrnn_isa isa) {
  const kernels::KernelTable& kt = raw_table(isa);
  static std::once_flag tuned[SIMDRNN_ISA_AVX512_BF16 + 1];
  const int i = static_cast<int>(isa) >= 0 && isa <= SIMDRNN_ISA_AVX512_BF16 ? static_cast<int>(isa) : 0;
  std::call_once(tuned[i], [&] { kt.tune(choose_tuning(kt)); });
  return kt;
}

}  // namespace lib
}  // namespace simdrnn
