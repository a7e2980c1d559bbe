// GEMM over reduced-precision B with dot-product instructions (kernels.h,
// kBf16Pairs / kInt8Quads): AVX512_BF16 vdpbf16ps, AVX512_VNNI and AVX-VNNI
// vpdpbusd. Included by the avx2 and avx512 translation units, which compile
// with their base flags only: the functions that use the newer instructions
// carry a target attribute, so nothing else in the unit (and nothing shared
// with another unit) can pick them up, and they run only behind the CPUID
// check of dispatch. docs/design.md, "Weight precision", has the design and
// its accuracy.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "simd/gemm_xsimd.hpp"
#include "simd/kernels.h"

namespace simdrnn {
inline namespace lib {
namespace kernels {
namespace xs {

// One row of A rounded for a dot-product kernel: groups of G elements in
// 4-byte words (k padded with zeros), and for int8 the row's scale and
// 128 * (sum of its integers), the correction for storing B as q + 128.
struct RowInfo {
  float scale;   // int8: s_a (NaN when the row holds a NaN or an infinity)
  int32_t comp;  // int8: 128 * sum of the row's integers over the converted range
};

// ---- instruction policies ----------------------------------------------------
// Each gives kFormat, the accumulator type, and:
//   Acc zero();
//   void convert(const float* a, int64_t n, uint8_t* dst, float inv, int32_t* sum)
//       n elements of a into n / G groups (n a multiple of G, or the row's end:
//       the last group is padded with zeros); int8: q = round(a * inv) clamped
//       to [-127, 127], *sum += the q.
//   float row_scale(const float* a, int64_t n)   int8 only: s_a of the row
//   template <int MRT, int NVT> void dot(a, lda, b, panel_bytes, groups, acc)
//       acc[r][v] += sum over the groups of A row r times B vector v; vector v
//       is at b + (v / NV) * panel_bytes + (g * NV + v % NV) * vector bytes.

// bf16 pairs widened to f32 in registers (every SIMD level): a 4-byte group
// holds elements 2g (low half) and 2g+1 (high half) of a column, so one
// vector load gives two f32 vectors with one shift and one mask, each
// multiplied by its own broadcast of the f32 A. A is copied, not rounded
// (8 bytes per group), and each element's sum runs over k in order.
template <class Arch>
struct WidenBf16 {
  static constexpr int32_t kFormat = kBf16Pairs;
  static constexpr int64_t kWordsPerGroup = 2;
  using Acc = Vec<Arch>;
  static Acc zero() { return Acc(0.0f); }
  static float row_scale(const float*, int64_t) { return 1.0f; }
  static void convert(const float* a, int64_t n, uint8_t* dst, float, int32_t*) {
    std::memcpy(dst, a, static_cast<size_t>(n) * sizeof(float));
    if (n % 2) std::memset(dst + n * sizeof(float), 0, sizeof(float));
  }
  template <int MRT, int NVT, int NV>
  static void dot(const uint32_t* a_words, int64_t lda, const uint8_t* b, int64_t panel_bytes, int64_t groups,
                  Acc (&acc)[MRT][NVT]) {
    using U = xsimd::batch<int32_t, Arch>;
    constexpr int64_t kBytes = static_cast<int64_t>(Acc::size) * 4;
    const auto* a = reinterpret_cast<const float*>(a_words);
    const U high(static_cast<int32_t>(0xffff0000u));
    for (int64_t g = 0; g < groups; ++g) {
      U raw[NVT];
      for (int v = 0; v < NVT; ++v)
        raw[v] = U::load_unaligned(
            reinterpret_cast<const int32_t*>(b + (v / NV) * panel_bytes + (g * NV + v % NV) * kBytes));
      for (int r = 0; r < MRT; ++r) {
        const Acc a0(a[r * lda + 2 * g]), a1(a[r * lda + 2 * g + 1]);
        for (int v = 0; v < NVT; ++v) {
          acc[r][v] = fmadd<Arch>(a0, xsimd::bitwise_cast<Acc>(raw[v] << 16), acc[r][v]);
          acc[r][v] = fmadd<Arch>(a1, xsimd::bitwise_cast<Acc>(raw[v] & high), acc[r][v]);
        }
      }
    }
  }
};

#if defined(__AVX512F__)
// AVX-512 helpers shared by the policies (base AVX-512 only).
struct Avx512Int8Rows {
  static float row_scale(const float* a, int64_t n) {
    __m512 amax = _mm512_setzero_ps();
    __mmask16 bad = 0;
    int64_t i = 0;
    for (; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
      const __m512 x = _mm512_maskz_loadu_ps(m, a + i);
      // Finite means |x| <= FLT_MAX; NaN and infinities fail the compare.
      bad |= _mm512_mask_cmp_ps_mask(m, _mm512_abs_ps(x), _mm512_set1_ps(3.402823466e38f), _CMP_NLE_UQ);
      amax = _mm512_max_ps(amax, _mm512_abs_ps(x));
    }
    if (bad) return std::numeric_limits<float>::quiet_NaN();
    return _mm512_reduce_max_ps(amax) / 127.0f;
  }
  static void convert(const float* a, int64_t n, uint8_t* dst, float inv, int32_t* sum) {
    __m512i total = _mm512_setzero_si512();
    const __m512 vinv = _mm512_set1_ps(inv);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    const int64_t padded = (n + 3) / 4 * 4;
    for (int64_t i = 0; i < padded; i += 16) {
      const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
      const __mmask16 store = padded - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (padded - i)) - 1);
      __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), vinv));  // nearest even
      q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
      total = _mm512_add_epi32(total, q);
      _mm_mask_storeu_epi8(dst + i, store, _mm512_cvtepi32_epi8(q));
    }
    *sum += _mm512_reduce_add_epi32(total);
  }
};

struct DotBf16Avx512 {
  static constexpr int32_t kFormat = kBf16PairsDot;
  static constexpr int64_t kWordsPerGroup = 1;
  using Acc = __m512;
  static Acc zero() { return _mm512_setzero_ps(); }
  static float row_scale(const float*, int64_t) { return 1.0f; }
  // vcvtne2ps2bf16: nearest even (denormals are flushed to zero).
  __attribute__((target("avx512bf16"))) static void convert(const float* a, int64_t n, uint8_t* dst, float,
                                                              int32_t*) {
    auto* out = reinterpret_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
      _mm512_storeu_si512(out + i, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(a + i)));
    if (i < n) {
      const int64_t rest = n - i, padded = (rest + 1) / 2 * 2;
      const __mmask16 m0 = rest >= 16 ? __mmask16(0xffff) : __mmask16((1u << rest) - 1);
      const __mmask16 m1 = rest > 16 ? __mmask16((1u << (rest - 16)) - 1) : __mmask16(0);
      const __m512i v =
          (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, a + i + 16), _mm512_maskz_loadu_ps(m0, a + i));
      _mm512_mask_storeu_epi16(out + i, __mmask32((uint64_t{1} << padded) - 1), v);
    }
  }
  template <int MRT, int NVT, int NV>
  __attribute__((target("avx512bf16"))) static void dot(const uint32_t* a, int64_t lda, const uint8_t* b,
                                                          int64_t panel_bytes, int64_t groups, Acc (&acc)[MRT][NVT]) {
    for (int64_t g = 0; g < groups; ++g) {
      __m512i bv[NVT];
      for (int v = 0; v < NVT; ++v)
        bv[v] = _mm512_loadu_si512(b + (v / NV) * panel_bytes + (g * NV + v % NV) * 64);
      for (int r = 0; r < MRT; ++r) {
        const __m512i av = _mm512_set1_epi32(static_cast<int>(a[r * lda + g]));
        for (int v = 0; v < NVT; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)bv[v], (__m512bh)av);
      }
    }
  }
};

struct DotInt8Avx512 : Avx512Int8Rows {
  static constexpr int32_t kFormat = kInt8Quads;
  static constexpr int64_t kWordsPerGroup = 1;
  using Acc = __m512i;
  static Acc zero() { return _mm512_setzero_si512(); }
  template <int MRT, int NVT, int NV>
  __attribute__((target("avx512vnni"))) static void dot(const uint32_t* a, int64_t lda, const uint8_t* b,
                                                          int64_t panel_bytes, int64_t groups, Acc (&acc)[MRT][NVT]) {
    for (int64_t g = 0; g < groups; ++g) {
      __m512i bv[NVT];
      for (int v = 0; v < NVT; ++v)
        bv[v] = _mm512_loadu_si512(b + (v / NV) * panel_bytes + (g * NV + v % NV) * 64);
      for (int r = 0; r < MRT; ++r) {
        const __m512i av = _mm512_set1_epi32(static_cast<int>(a[r * lda + g]));
        for (int v = 0; v < NVT; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], bv[v], av);
      }
    }
  }
};
#endif  // __AVX512F__

#if defined(__AVX2__)
struct DotInt8Avx2 {
  static constexpr int32_t kFormat = kInt8Quads;
  static constexpr int64_t kWordsPerGroup = 1;
  using Acc = __m256i;
  static Acc zero() { return _mm256_setzero_si256(); }
  static float row_scale(const float* a, int64_t n) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 big = _mm256_set1_ps(3.402823466e38f);
    __m256 amax = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 x = _mm256_and_ps(_mm256_loadu_ps(a + i), abs_mask);
      bad = _mm256_or_ps(bad, _mm256_cmp_ps(x, big, _CMP_NLE_UQ));
      amax = _mm256_max_ps(amax, x);
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, amax);
    float m = 0.0f;
    for (float v : lanes) m = std::max(m, v);
    bool non_finite = _mm256_movemask_ps(bad) != 0;
    for (; i < n; ++i) {
      const float x = std::fabs(a[i]);
      non_finite |= !(x <= 3.402823466e38f);
      m = std::max(m, x);
    }
    if (non_finite) return std::numeric_limits<float>::quiet_NaN();
    return m / 127.0f;
  }
  static void convert(const float* a, int64_t n, uint8_t* dst, float inv, int32_t* sum) {
    __m256i total = _mm256_setzero_si256();
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    // Byte 0 of each 32-bit lane to the low 4 bytes of each 128-bit half.
    const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8,
                                          12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const int64_t padded = (n + 3) / 4 * 4;
    for (int64_t i = 0; i < padded; i += 8) {
      alignas(32) float tmp[8] = {};
      const float* src = a + i;
      if (n - i < 8) {
        for (int64_t j = 0; j < n - i && j < 8; ++j) tmp[j] = a[i + j];
        src = tmp;
      }
      __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src), vinv));  // nearest even
      q = _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
      total = _mm256_add_epi32(total, q);
      const __m256i bytes = _mm256_shuffle_epi8(q, pick);
      const uint32_t w0 = static_cast<uint32_t>(_mm256_extract_epi32(bytes, 0));
      const uint32_t w1 = static_cast<uint32_t>(_mm256_extract_epi32(bytes, 4));
      std::memcpy(dst + i, &w0, 4);
      if (padded - i > 4) std::memcpy(dst + i + 4, &w1, 4);
    }
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), total);
    for (int32_t v : lanes) *sum += v;
  }
  template <int MRT, int NVT, int NV>
  __attribute__((target("avxvnni"))) static void dot(const uint32_t* a, int64_t lda, const uint8_t* b,
                                                       int64_t panel_bytes, int64_t groups, Acc (&acc)[MRT][NVT]) {
    for (int64_t g = 0; g < groups; ++g) {
      __m256i bv[NVT];
      for (int v = 0; v < NVT; ++v)
        bv[v] = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(b + (v / NV) * panel_bytes + (g * NV + v % NV) * 32));
      for (int r = 0; r < MRT; ++r) {
        const __m256i av = _mm256_set1_epi32(static_cast<int>(a[r * lda + g]));
        for (int v = 0; v < NVT; ++v) acc[r][v] = _mm256_dpbusd_avx_epi32(acc[r][v], bv[v], av);
      }
    }
  }
};
#endif  // __AVX2__

// ---- the driver --------------------------------------------------------------
// Rows of A are converted once per call into a 32 KiB stack buffer and every
// column panel of [n_begin, n_end) then streams past them; k longer than the
// buffer holds for one tile of rows is taken in chunks (each chunk's int8
// sums exact in int32, added to the tile's f32 sums chunk by chunk). The
// chunking depends on k only, and a row's conversion on that row only, so a
// result never depends on m, n_begin, n_end or the thread count. a_transposed
// is not supported (training never runs on reduced-precision weights).
template <class Arch, int NV, int MR, class Ops>
struct GemmDot {
  using V = Vec<Arch>;
  using Base = Gemm<Arch, NV, MR, kF32>;
  using Acc = typename Ops::Acc;
  static constexpr int32_t kFormat = Ops::kFormat;
  static constexpr bool kInt8 = Ops::kFormat == kInt8Quads;
  static constexpr int64_t W = static_cast<int64_t>(V::size);
  static constexpr int64_t kPanel = NV * W;
  static constexpr int64_t G = format_group(Ops::kFormat);
  static constexpr int64_t kWords = Ops::kWordsPerGroup;  // 4-byte words of A per group
  static constexpr int64_t kBufWords = 8192;                // 32 KiB
  static constexpr int64_t kMaxBlockRows = 256;
  // int8: 255 * 127 * 4 * chunk groups must stay below 2^31.
  static constexpr int64_t kChunkGroups = kBufWords / kWords / MR;

  struct Block {
    alignas(64) uint32_t groups[kBufWords];
    RowInfo info[kMaxBlockRows];
  };

  static void convert_row(const float* a, int64_t k0, int64_t k1, float scale, uint32_t* dst, RowInfo* info) {
    int32_t sum = 0;
    const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;  // row_scale: 0, NaN or a normal float
    Ops::convert(a + k0, k1 - k0, reinterpret_cast<uint8_t*>(dst), inv, &sum);
    info->comp = 128 * sum;
  }

  // Adds the accumulators of a finished k range to the tile's f32 sums
  // (int8: the exact integer sum less the q + 128 correction, then to f32).
  template <int MRT, int NVT>
  static void add_range(const Acc (&acc)[MRT][NVT], const RowInfo* info, V (&sums)[MRT][NVT]) {
    using IV = xsimd::batch<int32_t, Arch>;
    for (int r = 0; r < MRT; ++r)
      for (int v = 0; v < NVT; ++v) {
        if constexpr (kInt8)
          sums[r][v] += xsimd::to_float(IV(acc[r][v]) - IV(info[r].comp));
        else
          sums[r][v] += V(acc[r][v]);
      }
  }

  // Scale (int8), C, bias, clip, activation; writes the tile's columns < ncols.
  template <int MRT, int NVT>
  static void finish_tile(const GemmParams& p, int64_t row0, int64_t col0, int64_t ncols, const float* row_scale,
                          V (&sums)[MRT][NVT]) {
    for (int r = 0; r < MRT; ++r) {
      float* c = p.c + (row0 + r) * p.ldc + col0;
      for (int v = 0; v < NVT; ++v) {
        const int64_t n = std::min<int64_t>(W, ncols - v * W);
        if (n <= 0) break;
        V val = sums[r][v];
        if constexpr (kInt8) val = val * V::load_unaligned(p.b_scale + col0 + v * W) * V(row_scale[r]);
        if (p.accumulate) val += (n == W) ? V::load_unaligned(c + v * W) : Base::load_partial(c + v * W, n);
        if (p.bias) val += V::load_unaligned(p.bias + col0 + v * W);
        val = Base::finish(val, p, row0 + r, col0 + v * W, n);
        if (n == W)
          val.store_unaligned(c + v * W);
        else
          Base::store_partial(c + v * W, val, n);
      }
    }
  }

  // A tile whose rows are converted whole in `a` (lda words per row).
  template <int MRT, int NVT>
  static void tile_converted(const GemmParams& p, int64_t row0, int64_t col0, int64_t ncols, const uint32_t* a,
                             int64_t lda, const RowInfo* info, int64_t kg) {
    const auto* b = static_cast<const uint8_t*>(p.b) + (col0 / kPanel) * kg * kPanel * 4;
    Acc acc[MRT][NVT];
    for (auto& row : acc)
      for (auto& x : row) x = Ops::zero();
    Ops::template dot<MRT, NVT, NV>(a, lda, b, kg * kPanel * 4, kg, acc);
    V sums[MRT][NVT];
    float scale[MRT];
    for (int r = 0; r < MRT; ++r) {
      scale[r] = info[r].scale;
      for (int v = 0; v < NVT; ++v) sums[r][v] = V(0.0f);
    }
    add_range<MRT, NVT>(acc, info, sums);
    finish_tile<MRT, NVT>(p, row0, col0, ncols, scale, sums);
  }

  // A tile whose k is longer than the buffer: converts chunk by chunk.
  template <int MRT, int NVT>
  static void tile_chunked(const GemmParams& p, int64_t row0, int64_t col0, int64_t ncols, int64_t kg,
                           const float* scale, uint32_t* buf) {
    const auto* b = static_cast<const uint8_t*>(p.b) + (col0 / kPanel) * kg * kPanel * 4;
    V sums[MRT][NVT];
    for (auto& row : sums)
      for (auto& x : row) x = V(0.0f);
    Acc acc[MRT][NVT];
    for (int64_t g0 = 0; g0 < kg; g0 += kChunkGroups) {
      const int64_t g1 = std::min(kg, g0 + kChunkGroups);
      RowInfo info[MRT];
      for (int r = 0; r < MRT; ++r) {
        info[r].scale = scale[r];
        convert_row(p.a + (row0 + r) * p.lda, g0 * G, std::min(p.k, g1 * G), scale[r],
                    buf + r * kChunkGroups * kWords, &info[r]);
      }
      for (auto& row : acc)
        for (auto& x : row) x = Ops::zero();
      Ops::template dot<MRT, NVT, NV>(buf, kChunkGroups * kWords, b + g0 * kPanel * 4, kg * kPanel * 4, g1 - g0,
                                      acc);
      add_range<MRT, NVT>(acc, info, sums);
    }
    finish_tile<MRT, NVT>(p, row0, col0, ncols, scale, sums);
  }

  template <int MRT, int NVMAX>
  static void converted_nv(const GemmParams& p, int64_t row0, int64_t col0, int64_t ncols, int nv,
                           const uint32_t* a, int64_t lda, const RowInfo* info, int64_t kg) {
    if constexpr (NVMAX > 1) {
      if (nv < NVMAX) return converted_nv<MRT, NVMAX - 1>(p, row0, col0, ncols, nv, a, lda, info, kg);
    }
    tile_converted<MRT, NVMAX>(p, row0, col0, ncols, a, lda, info, kg);
  }
  template <int MRMAX>
  static void converted_mr(const GemmParams& p, int64_t row0, int64_t col0, int64_t ncols, int mr, int nv,
                           const uint32_t* a, int64_t lda, const RowInfo* info, int64_t kg) {
    if constexpr (MRMAX > 1) {
      if (mr < MRMAX) return converted_mr<MRMAX - 1>(p, row0, col0, ncols, mr, nv, a, lda, info, kg);
    }
    converted_nv<MRMAX, NV>(p, row0, col0, ncols, nv, a, lda, info, kg);
  }
  template <int MRT, int NVMAX>
  static void chunked_nv(const GemmParams& p, int64_t row0, int64_t col0, int64_t ncols, int nv, int64_t kg,
                         const float* scale, uint32_t* buf) {
    if constexpr (NVMAX > 1) {
      if (nv < NVMAX) return chunked_nv<MRT, NVMAX - 1>(p, row0, col0, ncols, nv, kg, scale, buf);
    }
    tile_chunked<MRT, NVMAX>(p, row0, col0, ncols, kg, scale, buf);
  }
  template <int MRMAX>
  static void chunked_mr(const GemmParams& p, int64_t row0, int64_t col0, int64_t ncols, int mr, int nv,
                         int64_t kg, const float* scale, uint32_t* buf) {
    if constexpr (MRMAX > 1) {
      if (mr < MRMAX) return chunked_mr<MRMAX - 1>(p, row0, col0, ncols, mr, nv, kg, scale, buf);
    }
    chunked_nv<MRMAX, NV>(p, row0, col0, ncols, nv, kg, scale, buf);
  }

  static float row_scale(const float* a, int64_t k) {
    if constexpr (kInt8) {
      // Rows below the smallest normal float round to zero (1 / scale would overflow).
      const float s = k > 0 ? Ops::row_scale(a, k) : 0.0f;
      return s < std::numeric_limits<float>::min() ? 0.0f : s;
    }
    else
      return 1.0f;
  }

  static void gemm(const GemmParams& p) {
    const int64_t kg = (p.k + G - 1) / G;
    Block block;
    if (kg * kWords > kBufWords) {
      // Rows too long for the buffer: tiles of MR rows, k in chunks.
      for (int64_t row0 = 0; row0 < p.m; row0 += MR) {
        const int mr = static_cast<int>(std::min<int64_t>(MR, p.m - row0));
        float scale[MR];
        for (int r = 0; r < mr; ++r) scale[r] = row_scale(p.a + (row0 + r) * p.lda, p.k);
        for (int64_t col0 = p.n_begin; col0 < p.n_end; col0 += kPanel) {
          const int64_t ncols = std::min<int64_t>(kPanel, p.n_end - col0);
          chunked_mr<MR>(p, row0, col0, ncols, mr, static_cast<int>((ncols + W - 1) / W), kg, scale,
                         block.groups);
        }
      }
      return;
    }
    const int64_t lda = std::max<int64_t>(kg, 1) * kWords;
    const int64_t fit = std::min<int64_t>(kMaxBlockRows, kBufWords / lda);
    for (int64_t rb = 0; rb < p.m; rb += fit) {
      const int64_t rows = std::min(fit, p.m - rb);
      for (int64_t r = 0; r < rows; ++r) {
        const float* a = p.a + (rb + r) * p.lda;
        block.info[r].scale = row_scale(a, p.k);
        block.info[r].comp = 0;
        if (p.k > 0) convert_row(a, 0, p.k, block.info[r].scale, block.groups + r * lda, &block.info[r]);
      }
      if (rows == 1) {
        // One row: two panels at a time, twice the independent sums.
        int64_t col0 = p.n_begin;
        for (; col0 + 2 * kPanel <= p.n_end; col0 += 2 * kPanel)
          tile_converted<1, 2 * NV>(p, rb, col0, 2 * kPanel, block.groups, lda, block.info, kg);
        for (; col0 < p.n_end; col0 += kPanel) {
          const int64_t ncols = std::min<int64_t>(kPanel, p.n_end - col0);
          converted_mr<MR>(p, rb, col0, ncols, 1, static_cast<int>((ncols + W - 1) / W), block.groups, lda,
                           block.info, kg);
        }
        continue;
      }
      const int64_t tiles = (rows + MR - 1) / MR;
      for (int64_t col0 = p.n_begin; col0 < p.n_end; col0 += kPanel) {
        const int64_t ncols = std::min<int64_t>(kPanel, p.n_end - col0);
        const int nv = static_cast<int>((ncols + W - 1) / W);
        for (int64_t t = 0, r0 = 0; t < tiles; ++t) {
          const int h = static_cast<int>(rows / tiles + (t < rows % tiles ? 1 : 0));
          converted_mr<MR>(p, rb + r0, col0, ncols, h, nv, block.groups + r0 * lda, lda, block.info + r0, kg);
          r0 += h;
        }
      }
    }
  }
};

}  // namespace xs
}  // namespace kernels
}  // namespace lib
}  // namespace simdrnn
