// AVX-512 roofline microkernels (compiled with only the AVX-512 flags; see
// roofline_kernels.h for the contracts). Intrinsics only: no standard-library
// inline functions are compiled here.
#include <immintrin.h>

#include "roofline_kernels.h"

namespace simdrnn_bench {

float fma_peak_avx512(int64_t iterations) {
  static_assert(kFmaChainsAvx512 == 16, "the loop below is written out for 16 chains");
  // acc = acc * a + b converges to b / (1 - a) = 1: no overflow, no denormals.
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  __m512 c0 = _mm512_set1_ps(0.0f), c1 = _mm512_set1_ps(0.1f), c2 = _mm512_set1_ps(0.2f),
         c3 = _mm512_set1_ps(0.3f), c4 = _mm512_set1_ps(0.4f), c5 = _mm512_set1_ps(0.5f),
         c6 = _mm512_set1_ps(0.6f), c7 = _mm512_set1_ps(0.7f), c8 = _mm512_set1_ps(0.8f),
         c9 = _mm512_set1_ps(0.9f), c10 = _mm512_set1_ps(1.0f), c11 = _mm512_set1_ps(1.1f),
         c12 = _mm512_set1_ps(1.2f), c13 = _mm512_set1_ps(1.3f), c14 = _mm512_set1_ps(1.4f),
         c15 = _mm512_set1_ps(1.5f);
  for (int64_t i = 0; i < iterations; ++i) {
    c0 = _mm512_fmadd_ps(c0, a, b);
    c1 = _mm512_fmadd_ps(c1, a, b);
    c2 = _mm512_fmadd_ps(c2, a, b);
    c3 = _mm512_fmadd_ps(c3, a, b);
    c4 = _mm512_fmadd_ps(c4, a, b);
    c5 = _mm512_fmadd_ps(c5, a, b);
    c6 = _mm512_fmadd_ps(c6, a, b);
    c7 = _mm512_fmadd_ps(c7, a, b);
    c8 = _mm512_fmadd_ps(c8, a, b);
    c9 = _mm512_fmadd_ps(c9, a, b);
    c10 = _mm512_fmadd_ps(c10, a, b);
    c11 = _mm512_fmadd_ps(c11, a, b);
    c12 = _mm512_fmadd_ps(c12, a, b);
    c13 = _mm512_fmadd_ps(c13, a, b);
    c14 = _mm512_fmadd_ps(c14, a, b);
    c15 = _mm512_fmadd_ps(c15, a, b);
  }
  const __m512 s =
      _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                                  _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7))),
                    _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)),
                                  _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15))));
  return _mm512_reduce_add_ps(s);
}

// 12 independent accumulators; the operands stay fixed (the sums only grow
// by small amounts per iteration), so no value leaves the normal range.
__attribute__((target("avx512bf16"))) float bf16_dot_peak_avx512(int64_t iterations) {
  static_assert(kDotChains == 12, "the loop below is written out for 12 chains");
  const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3c003c00), b = (__m512bh)_mm512_set1_epi32(0x3c003c00);
  __m512 c[12];
  for (int i = 0; i < 12; ++i) c[i] = _mm512_set1_ps(static_cast<float>(i));
  for (int64_t i = 0; i < iterations; ++i) {
    c[0] = _mm512_dpbf16_ps(c[0], a, b);
    c[1] = _mm512_dpbf16_ps(c[1], a, b);
    c[2] = _mm512_dpbf16_ps(c[2], a, b);
    c[3] = _mm512_dpbf16_ps(c[3], a, b);
    c[4] = _mm512_dpbf16_ps(c[4], a, b);
    c[5] = _mm512_dpbf16_ps(c[5], a, b);
    c[6] = _mm512_dpbf16_ps(c[6], a, b);
    c[7] = _mm512_dpbf16_ps(c[7], a, b);
    c[8] = _mm512_dpbf16_ps(c[8], a, b);
    c[9] = _mm512_dpbf16_ps(c[9], a, b);
    c[10] = _mm512_dpbf16_ps(c[10], a, b);
    c[11] = _mm512_dpbf16_ps(c[11], a, b);
  }
  __m512 s = c[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, c[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512vnni"))) float int8_dot_peak_avx512(int64_t iterations) {
  static_assert(kDotChains == 12, "the loop below is written out for 12 chains");
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(1);
  __m512i c[12];
  for (int i = 0; i < 12; ++i) c[i] = _mm512_set1_epi32(i);
  for (int64_t i = 0; i < iterations; ++i) {
    c[0] = _mm512_dpbusd_epi32(c[0], a, b);
    c[1] = _mm512_dpbusd_epi32(c[1], a, b);
    c[2] = _mm512_dpbusd_epi32(c[2], a, b);
    c[3] = _mm512_dpbusd_epi32(c[3], a, b);
    c[4] = _mm512_dpbusd_epi32(c[4], a, b);
    c[5] = _mm512_dpbusd_epi32(c[5], a, b);
    c[6] = _mm512_dpbusd_epi32(c[6], a, b);
    c[7] = _mm512_dpbusd_epi32(c[7], a, b);
    c[8] = _mm512_dpbusd_epi32(c[8], a, b);
    c[9] = _mm512_dpbusd_epi32(c[9], a, b);
    c[10] = _mm512_dpbusd_epi32(c[10], a, b);
    c[11] = _mm512_dpbusd_epi32(c[11], a, b);
  }
  __m512i s = c[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_epi32(s, c[i]);
  return static_cast<float>(_mm512_reduce_add_epi32(s));
}

uint32_t read_avx512(const float* src, int64_t count, int64_t passes) {
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const float* p = src;
    __asm__ volatile("" : "+r"(p) : : "memory");  // every pass reloads
    for (int64_t i = 0; i < count; i += kReadBlockFloats, p += kReadBlockFloats) {
      s0 = _mm512_add_epi32(s0, _mm512_load_si512(p + 0));
      s1 = _mm512_add_epi32(s1, _mm512_load_si512(p + 16));
      s2 = _mm512_add_epi32(s2, _mm512_load_si512(p + 32));
      s3 = _mm512_add_epi32(s3, _mm512_load_si512(p + 48));
      s4 = _mm512_add_epi32(s4, _mm512_load_si512(p + 64));
      s5 = _mm512_add_epi32(s5, _mm512_load_si512(p + 80));
      s6 = _mm512_add_epi32(s6, _mm512_load_si512(p + 96));
      s7 = _mm512_add_epi32(s7, _mm512_load_si512(p + 112));
    }
  }
  const __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3)),
                                     _mm512_add_epi32(_mm512_add_epi32(s4, s5), _mm512_add_epi32(s6, s7)));
  return static_cast<uint32_t>(_mm512_reduce_add_epi32(s));
}

uint32_t read_streams_avx512(const float* src, int64_t count, int64_t passes, int streams) {
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  const int64_t part = count / streams;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const float* base = src;
    __asm__ volatile("" : "+r"(base) : : "memory");  // every pass reloads
    for (int64_t i = 0; i < part; i += kReadBlockFloats)
      for (int stream = 0; stream < streams; ++stream) {
        const float* p = base + stream * part + i;
        s0 = _mm512_add_epi32(s0, _mm512_load_si512(p + 0));
        s1 = _mm512_add_epi32(s1, _mm512_load_si512(p + 16));
        s2 = _mm512_add_epi32(s2, _mm512_load_si512(p + 32));
        s3 = _mm512_add_epi32(s3, _mm512_load_si512(p + 48));
        s4 = _mm512_add_epi32(s4, _mm512_load_si512(p + 64));
        s5 = _mm512_add_epi32(s5, _mm512_load_si512(p + 80));
        s6 = _mm512_add_epi32(s6, _mm512_load_si512(p + 96));
        s7 = _mm512_add_epi32(s7, _mm512_load_si512(p + 112));
      }
  }
  const __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3)),
                                     _mm512_add_epi32(_mm512_add_epi32(s4, s5), _mm512_add_epi32(s6, s7)));
  return static_cast<uint32_t>(_mm512_reduce_add_epi32(s));
}

}  // namespace simdrnn_bench
