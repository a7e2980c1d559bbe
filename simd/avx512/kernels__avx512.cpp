// AVX-512 kernels: the xsimd bodies of simd/gemm_xsimd.hpp and simd/cell_xsimd.hpp instantiated for
// xsimd::avx512bw. Compiled with AVX-512 F/BW/DQ/VL flags only; 6x64 GEMM
// tiles (24 accumulators + 4 B vectors + 1 broadcast of the 32 zmm registers);
// packed panels are 64 columns wide. The avx512_vnni and avx512_bf16 levels
// add the dot-product GEMMs of simd/gemm_dot_xsimd.hpp (AVX512_VNNI,
// AVX512_BF16, each behind its target attribute).
#include "simd/cell_xsimd.hpp"
#include "simd/gemm_dot_xsimd.hpp"
#include "simd/gemm_xsimd.hpp"
#include "simd/kernels.h"

namespace simdrnn {
inline namespace lib {
namespace kernels {

namespace {
using Arch = xsimd::avx512bw;

// The probe dispatch times (src/dispatch.cpp, use_bf16_dot): 12 independent
// chains of vdpbf16ps (kind 1) or of vfmadd231ps (kind 0). Intrinsics only:
// the timing lives in baseline code.
volatile float g_probe_sink;
__attribute__((target("avx512bf16"))) void dot_chains(int64_t iterations) {
  const __m512bh one = (__m512bh)_mm512_set1_epi32(0x3c003c00);
  __m512 c[12];
  for (int i = 0; i < 12; ++i) c[i] = _mm512_set1_ps(static_cast<float>(i));
  for (int64_t i = 0; i < iterations; ++i)
    for (int j = 0; j < 12; ++j) c[j] = _mm512_dpbf16_ps(c[j], one, one);
  __m512 s = c[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, c[i]);
  g_probe_sink = _mm512_reduce_add_ps(s);
}
void fma_chains(int64_t iterations) {
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  __m512 c[12];
  for (int i = 0; i < 12; ++i) c[i] = _mm512_set1_ps(static_cast<float>(i));
  for (int64_t i = 0; i < iterations; ++i)
    for (int j = 0; j < 12; ++j) c[j] = _mm512_fmadd_ps(c[j], a, b);
  __m512 s = c[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, c[i]);
  g_probe_sink = _mm512_reduce_add_ps(s);
}
void bf16_dot_probe(int kind, int64_t iterations) {
  if (kind == 1)
    dot_chains(iterations);
  else
    fma_chains(iterations);
}
}  // namespace

const KernelTable& avx512_table() {
  using Gemm = xs::Gemm<Arch, 4, 6>;
  using GemmBf16 = xs::GemmDot<Arch, 4, 6, xs::WidenBf16<Arch>>;
  using GemmInt8 = xs::Gemm<Arch, 4, 6, kInt8>;
  static const KernelTable table =
      xs::make_table<Gemm, GemmBf16, GemmInt8, xs::Cells<Arch, Gemm::kPanel>>("avx512", 3);
  return table;
}

const KernelTable& avx512_vnni_table() {
  static const KernelTable table = xs::with_dot(avx512_table(), "avx512_vnni", 4, nullptr,
                                                &xs::GemmDot<Arch, 4, 6, xs::DotInt8Avx512>::gemm);
  return table;
}

const KernelTable& avx512_bf16_table() {
  static const KernelTable table =
      xs::with_dot(avx512_table(), "avx512_bf16", 5, &xs::GemmDot<Arch, 4, 6, xs::DotBf16Avx512>::gemm,
                   &xs::GemmDot<Arch, 4, 6, xs::DotInt8Avx512>::gemm, &bf16_dot_probe);
  return table;
}

}  // namespace kernels
}  // namespace lib
}  // namespace simdrnn
