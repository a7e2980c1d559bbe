// AVX2 + FMA roofline microkernels (compiled with only -mavx2 -mfma; see
// roofline_kernels.h for the contracts). Intrinsics only: no standard-library
// inline functions are compiled here.
#include <immintrin.h>

#include "roofline_kernels.h"

namespace simdrnn_bench {
namespace {
float horizontal_sum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}
}  // namespace

float fma_peak_avx2(int64_t iterations) {
  static_assert(kFmaChainsAvx2 == 12, "the loop below is written out for 12 chains");
  // acc = acc * a + b converges to b / (1 - a) = 1: no overflow, no denormals.
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  __m256 c0 = _mm256_set1_ps(0.0f), c1 = _mm256_set1_ps(0.1f), c2 = _mm256_set1_ps(0.2f),
         c3 = _mm256_set1_ps(0.3f), c4 = _mm256_set1_ps(0.4f), c5 = _mm256_set1_ps(0.5f),
         c6 = _mm256_set1_ps(0.6f), c7 = _mm256_set1_ps(0.7f), c8 = _mm256_set1_ps(0.8f),
         c9 = _mm256_set1_ps(0.9f), c10 = _mm256_set1_ps(1.0f), c11 = _mm256_set1_ps(1.1f);
  for (int64_t i = 0; i < iterations; ++i) {
    c0 = _mm256_fmadd_ps(c0, a, b);
    c1 = _mm256_fmadd_ps(c1, a, b);
    c2 = _mm256_fmadd_ps(c2, a, b);
    c3 = _mm256_fmadd_ps(c3, a, b);
    c4 = _mm256_fmadd_ps(c4, a, b);
    c5 = _mm256_fmadd_ps(c5, a, b);
    c6 = _mm256_fmadd_ps(c6, a, b);
    c7 = _mm256_fmadd_ps(c7, a, b);
    c8 = _mm256_fmadd_ps(c8, a, b);
    c9 = _mm256_fmadd_ps(c9, a, b);
    c10 = _mm256_fmadd_ps(c10, a, b);
    c11 = _mm256_fmadd_ps(c11, a, b);
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                                               _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7))),
                                 _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
  return horizontal_sum(s);
}

__attribute__((target("avxvnni"))) float int8_dot_peak_avx2(int64_t iterations) {
  static_assert(kDotChains == 12, "the loop below is written out for 12 chains");
  const __m256i a = _mm256_set1_epi8(1), b = _mm256_set1_epi8(1);
  __m256i c[12];
  for (int i = 0; i < 12; ++i) c[i] = _mm256_set1_epi32(i);
  for (int64_t i = 0; i < iterations; ++i) {
    c[0] = _mm256_dpbusd_avx_epi32(c[0], a, b);
    c[1] = _mm256_dpbusd_avx_epi32(c[1], a, b);
    c[2] = _mm256_dpbusd_avx_epi32(c[2], a, b);
    c[3] = _mm256_dpbusd_avx_epi32(c[3], a, b);
    c[4] = _mm256_dpbusd_avx_epi32(c[4], a, b);
    c[5] = _mm256_dpbusd_avx_epi32(c[5], a, b);
    c[6] = _mm256_dpbusd_avx_epi32(c[6], a, b);
    c[7] = _mm256_dpbusd_avx_epi32(c[7], a, b);
    c[8] = _mm256_dpbusd_avx_epi32(c[8], a, b);
    c[9] = _mm256_dpbusd_avx_epi32(c[9], a, b);
    c[10] = _mm256_dpbusd_avx_epi32(c[10], a, b);
    c[11] = _mm256_dpbusd_avx_epi32(c[11], a, b);
  }
  __m256i s = c[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_epi32(s, c[i]);
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  int32_t total = 0;
  for (int32_t v : lanes) total += v;
  return static_cast<float>(total);
}

uint32_t read_avx2(const float* src, int64_t count, int64_t passes) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const float* p = src;
    __asm__ volatile("" : "+r"(p) : : "memory");  // every pass reloads
    for (int64_t i = 0; i < count; i += 64, p += 64) {
      s0 = _mm256_add_epi32(s0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 0)));
      s1 = _mm256_add_epi32(s1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 8)));
      s2 = _mm256_add_epi32(s2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 16)));
      s3 = _mm256_add_epi32(s3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 24)));
      s4 = _mm256_add_epi32(s4, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32)));
      s5 = _mm256_add_epi32(s5, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 40)));
      s6 = _mm256_add_epi32(s6, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 48)));
      s7 = _mm256_add_epi32(s7, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 56)));
    }
  }
  const __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(s0, s1), _mm256_add_epi32(s2, s3)),
                                     _mm256_add_epi32(_mm256_add_epi32(s4, s5), _mm256_add_epi32(s6, s7)));
  const __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  const __m128i q = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_add_epi32(q, _mm_shuffle_epi32(q, 0xb1))));
}

uint32_t read_streams_avx2(const float* src, int64_t count, int64_t passes, int streams) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  const int64_t part = count / streams;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const float* base = src;
    __asm__ volatile("" : "+r"(base) : : "memory");  // every pass reloads
    for (int64_t i = 0; i < part; i += kReadBlockFloats)
      for (int stream = 0; stream < streams; ++stream)
        for (int half = 0; half < 2; ++half) {
          const float* p = base + stream * part + i + half * 64;
          s0 = _mm256_add_epi32(s0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 0)));
          s1 = _mm256_add_epi32(s1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 8)));
          s2 = _mm256_add_epi32(s2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 16)));
          s3 = _mm256_add_epi32(s3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 24)));
          s4 = _mm256_add_epi32(s4, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32)));
          s5 = _mm256_add_epi32(s5, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 40)));
          s6 = _mm256_add_epi32(s6, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 48)));
          s7 = _mm256_add_epi32(s7, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 56)));
        }
  }
  const __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(s0, s1), _mm256_add_epi32(s2, s3)),
                                     _mm256_add_epi32(_mm256_add_epi32(s4, s5), _mm256_add_epi32(s6, s7)));
  __m128i q = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0x4e));
  q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0xb1));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(q));
}

}  // namespace simdrnn_bench
