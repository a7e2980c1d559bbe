// GEMM-with-epilogue and activation kernel bodies, written once over
// xsimd::batch<float, Arch>. Included only by the per-ISA translation units in
// simd/avx2/ and simd/avx512/, which compile it with their own flags and
// instantiate it explicitly; everything here is a template on Arch, so the
// ISAs never share a compiled inline function.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include "simd/kernels.h"

namespace simdrnn {
inline namespace lib {
namespace kernels {
namespace xs {

template <class Arch>
using Vec = xsimd::batch<float, Arch>;

// x * y + z and z - x * y with one rounding, on every ISA and compiler.
// xsimd 8.1 has no FMA for the AVX-512 archs and falls back to x * y + z,
// which GCC contracts into an FMA and clang does not; a body and a tail (or
// two compilers) that round differently would make results depend on where
// a thread's share of a vector ends.
template <class Arch>
inline Vec<Arch> fmadd(Vec<Arch> x, Vec<Arch> y, Vec<Arch> z) {
  if constexpr (std::is_base_of<xsimd::avx512f, Arch>::value)
    return _mm512_fmadd_ps(x, y, z);
  else
    return xsimd::fma(x, y, z);
}
template <class Arch>
inline Vec<Arch> fnmadd(Vec<Arch> x, Vec<Arch> y, Vec<Arch> z) {
  if constexpr (std::is_base_of<xsimd::avx512f, Arch>::value)
    return _mm512_fnmadd_ps(x, y, z);
  else
    return xsimd::fnma(x, y, z);
}

// tanh: xsimd's (boost.simd lineage) implementation; its error over the whole
// float range is measured by tests/test_activation.cpp (documented bound: 4 ulp).
template <class Arch>
inline Vec<Arch> tanh_v(Vec<Arch> x) {
  return xsimd::tanh(x);
}

// e^y for y <= 0 (Cephes-style: y = n ln2 + r, |r| <= ln2/2, degree-5
// polynomial for e^r), scaled by 2^(n+64) then 2^-64 so that results in the
// subnormal range are rounded once instead of flushed (xsimd::exp flushes
// them). y < -105 gives 0 (e^-104 is below half the smallest subnormal); NaN
// propagates through the polynomial.
template <class Arch>
inline Vec<Arch> exp_nonpositive(Vec<Arch> y) {
  using V = Vec<Arch>;
  using I = xsimd::batch<int32_t, Arch>;
  y = xsimd::select(y < V(-105.0f), V(-105.0f), y);
  const V n = xsimd::nearbyint(y * V(1.44269504088896341f));
  V r = fnmadd<Arch>(n, V(0.693359375f), y);
  r = fnmadd<Arch>(n, V(-2.12194440e-4f), r);
  V p = V(1.9875691500e-4f);
  p = fmadd<Arch>(p, r, V(1.3981999507e-3f));
  p = fmadd<Arch>(p, r, V(8.3334519073e-3f));
  p = fmadd<Arch>(p, r, V(4.1665795894e-2f));
  p = fmadd<Arch>(p, r, V(1.6666665459e-1f));
  p = fmadd<Arch>(p, r, V(5.0000001201e-1f));
  p = fmadd<Arch>(p, r * r, r + V(1.0f));
  const I biased = (xsimd::to_int(n) + I(64 + 127)) << 23;                    // 2^(n+64), n+64 in [-88, 64]
  return (p * xsimd::bitwise_cast<V>(biased)) * V(5.42101086242752217e-20f);  // * 2^-64
}

// sigmoid(x) = 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0, both
// from e = exp(-|x|) <= 1: no overflow, and results down to the subnormals
// keep their relative accuracy. NaN propagates through exp.
template <class Arch>
inline Vec<Arch> sigmoid_v(Vec<Arch> x) {
  const Vec<Arch> one(1.0f);
  const Vec<Arch> e = exp_nonpositive<Arch>(-xsimd::abs(x));
  const Vec<Arch> r = one / (one + e);
  return xsimd::select(x >= Vec<Arch>(0.0f), r, e * r);
}

// Comparisons are false for NaN, so NaN passes through clip and relu unchanged.
template <class Arch>
inline Vec<Arch> epilogue_v(Vec<Arch> v, int32_t activation, float clip) {
  if (clip > 0.0f) {
    const Vec<Arch> hi(clip), lo(-clip);
    v = xsimd::select(v > hi, hi, xsimd::select(v < lo, lo, v));
  }
  switch (activation) {
    case kTanh:
      return tanh_v<Arch>(v);
    case kRelu:
      return xsimd::select(v < Vec<Arch>(0.0f), Vec<Arch>(0.0f), v);
    case kSigmoid:
      return sigmoid_v<Arch>(v);
    default:
      return v;
  }
}

// NV vectors of W floats make one packed panel (panel_width = NV * W), so a
// tile reads B as a single contiguous stream: separate per-vector panels
// K * W floats apart alias in the same L1 sets once K reaches a few hundred.
// Packed B elements of each WeightFormat, widened to f32 vectors.
template <class Arch, int32_t FORMAT>
struct BElements;
template <class Arch>
struct BElements<Arch, kF32> {
  using T = float;
  static Vec<Arch> load(const float* p) { return Vec<Arch>::load_unaligned(p); }
};
template <class Arch>
struct BElements<Arch, kBf16> {
  using T = uint16_t;  // the upper half of an f32: shifting it up restores the float exactly
  static Vec<Arch> load(const uint16_t* p) {
    if constexpr (std::is_base_of<xsimd::avx512f, Arch>::value)
      return _mm512_castsi512_ps(
          _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
    else
      return _mm256_castsi256_ps(
          _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
  }
};
template <class Arch>
struct BElements<Arch, kInt8> {
  using T = int8_t;  // the column's scale multiplies the finished sum
  static Vec<Arch> load(const int8_t* p) {
    if constexpr (std::is_base_of<xsimd::avx512f, Arch>::value)
      return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    else
      return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
};

// The GEMM's blocking on this CPU, one per ISA (kernels.h, GemmTuning).
template <class Arch>
struct Tuning {
  static inline GemmTuning value{};
};

template <class Arch, int NV, int MR_MAX, int32_t FORMAT = kF32>
struct Gemm {
  using BE = BElements<Arch, FORMAT>;
  using BT = typename BE::T;
  using V = Vec<Arch>;
  static constexpr int64_t W = static_cast<int64_t>(V::size);
  static constexpr int64_t kPanel = NV * W;
  static constexpr int64_t kTileRows = MR_MAX;
  // Tiles that share one L1-resident slice of a B panel when k-blocking.
  static constexpr int64_t kGroupTiles = 8;
  // Chosen once per process before any GEMM runs (src/dispatch.cpp): the
  // same for every call, so the blocking never depends on the thread count.
  static void tune(const GemmTuning& t) { Tuning<Arch>::value = t; }

  // Loads `n` (< W) floats; the other lanes are zero. Never reads past src + n.
  static V load_partial(const float* src, int64_t n) {
    alignas(64) float tmp[W] = {};
    std::memcpy(tmp, src, static_cast<size_t>(n) * sizeof(float));
    return V::load_aligned(tmp);
  }
  static void store_partial(float* dst, V v, int64_t n) {
    alignas(64) float tmp[W];
    v.store_aligned(tmp);
    std::memcpy(dst, tmp, static_cast<size_t>(n) * sizeof(float));
  }

  // One MR x (NVT*W) tile of C: rows row0.., columns col0.. (col0 at a panel
  // start), of which `ncols` (> (NVT-1)*W, <= NVT*W) are written.
  // Loads W mask bytes (n < W: the first n) as 0.0f / 1.0f.
  static V load_mask(const uint8_t* src, int64_t n) {
    alignas(64) float tmp[W] = {};
    for (int64_t i = 0; i < n; ++i) tmp[i] = src[i] ? 1.0f : 0.0f;
    return V::load_aligned(tmp);
  }
  static void store_mask(uint8_t* dst, V inside, int64_t n) {
    alignas(64) float tmp[W];
    inside.store_aligned(tmp);
    for (int64_t i = 0; i < n; ++i) dst[i] = tmp[i] != 0.0f;
  }

  // Everything after the dot product: activation (and clip mask) forward, or
  // the derivative from the saved output backward. n: valid lanes.
  static V finish(V val, const GemmParams& p, int64_t row, int64_t col, int64_t n) {
    if (p.activation >= kTanhGrad) {
      const float* hp = p.aux + row * p.ldaux + col;
      const V h = (n == W) ? V::load_unaligned(hp) : load_partial(hp, n);
      const V one(1.0f);
      V d;
      if (p.activation == kTanhGrad)
        d = one - h * h;
      else if (p.activation == kSigmoidGrad)
        d = h * (one - h);
      else
        d = xsimd::select(h > V(0.0f), one, V(0.0f));
      val = val * d;
      if (p.mask) val = val * load_mask(p.mask + row * p.ldmask + col, n);
      return val;
    }
    if (p.mask_write && p.clip > 0.0f)
      store_mask(p.mask + row * p.ldmask + col, xsimd::select(xsimd::abs(val) <= V(p.clip), V(1.0f), V(0.0f)),
                 n);
    return epilogue_v<Arch>(val, p.activation, p.clip);
  }

  // One MR x (NVT*W) tile over the reduction range [k0, k1): its sums start
  // from 0 at k0 == 0, else from `partial` (MR x kPanel floats, where the
  // previous range left them); a range that ends before k stores them back
  // there, the last one finishes the tile. The sums of one element run over
  // kk = 0, 1, ... in order whatever the ranges: k-blocking changes no bit.
  template <int MR, int NVT, bool AT>
  static void tile(const GemmParams& p, int64_t row0, int64_t col0, int64_t ncols, int64_t k0, int64_t k1,
                   float* partial) {
    V acc[MR][NVT];
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < NVT; ++v)
        acc[r][v] = k0 == 0 ? V(0.0f) : V::load_aligned(partial + r * kPanel + v * W);
    const int64_t k = p.k;
    const float* a = k > 0 ? p.a + (AT ? row0 : row0 * p.lda) : nullptr;
    const BT* b = k > 0 ? static_cast<const BT*>(p.b) + (col0 / kPanel) * k * kPanel : nullptr;
    int64_t kk = k0;
    if (MR == 1 && p.split_k && p.m == 1) {
      // A single row has only NVT dependent FMA chains, each k long: latency
      // bound when B sits in L1. Even and odd k go to separate accumulators
      // (only where the caller asked: kernels.h).
      V odd[NVT];
      for (int v = 0; v < NVT; ++v) odd[v] = V(0.0f);
      for (; kk + 1 < k; kk += 2) {
        const V a0(AT ? a[kk * p.lda] : a[kk]), a1(AT ? a[(kk + 1) * p.lda] : a[kk + 1]);
        for (int v = 0; v < NVT; ++v) {
          acc[0][v] = fmadd<Arch>(a0, BE::load(b + kk * kPanel + v * W), acc[0][v]);
          odd[v] = fmadd<Arch>(a1, BE::load(b + (kk + 1) * kPanel + v * W), odd[v]);
        }
      }
      for (int v = 0; v < NVT; ++v) acc[0][v] += odd[v];
    }
    for (; kk < k1; ++kk) {
      V bv[NVT];
      for (int v = 0; v < NVT; ++v) bv[v] = BE::load(b + kk * kPanel + v * W);
      for (int r = 0; r < MR; ++r) {
        const V av(AT ? a[kk * p.lda + r] : a[r * p.lda + kk]);
        for (int v = 0; v < NVT; ++v) acc[r][v] = fmadd<Arch>(av, bv[v], acc[r][v]);
      }
    }
    if (k1 < k) {
      for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NVT; ++v) acc[r][v].store_aligned(partial + r * kPanel + v * W);
      return;
    }
    if constexpr (FORMAT == kInt8)
      for (int v = 0; v < NVT; ++v) {
        const V scale = V::load_unaligned(p.b_scale + col0 + v * W);
        for (int r = 0; r < MR; ++r) acc[r][v] *= scale;
      }
    if (!p.accumulate && !p.bias && p.activation == kNone && p.clip <= 0.0f && ncols == NVT * W) {
      // Plain product (weight gradients): short k makes the epilogue count.
      for (int r = 0; r < MR; ++r)
        for (int v = 0; v < NVT; ++v) acc[r][v].store_unaligned(p.c + (row0 + r) * p.ldc + col0 + v * W);
      return;
    }
    for (int r = 0; r < MR; ++r) {
      float* c = p.c + (row0 + r) * p.ldc + col0;
      for (int v = 0; v < NVT; ++v) {
        const int64_t n = std::min<int64_t>(W, ncols - v * W);
        V val = acc[r][v];
        if (p.accumulate) val += (n == W) ? V::load_unaligned(c + v * W) : load_partial(c + v * W, n);
        if (p.bias) val += V::load_unaligned(p.bias + col0 + v * W);
        val = finish(val, p, row0 + r, col0 + v * W, n);
        if (n == W)
          val.store_unaligned(c + v * W);
        else
          store_partial(c + v * W, val, n);
      }
    }
  }

  template <int MR, int NVMAX, bool AT>
  static void tile_nv(const GemmParams& p, int64_t row0, int64_t col0, int64_t ncols, int nv, int64_t k0,
                      int64_t k1, float* partial) {
    if constexpr (NVMAX > 1) {
      if (nv < NVMAX) return tile_nv<MR, NVMAX - 1, AT>(p, row0, col0, ncols, nv, k0, k1, partial);
    }
    tile<MR, NVMAX, AT>(p, row0, col0, ncols, k0, k1, partial);
  }

  template <int MRMAX, bool AT>
  static void tile_mr(const GemmParams& p, int64_t row0, int64_t col0, int64_t ncols, int mr, int nv,
                      int64_t k0, int64_t k1, float* partial) {
    if constexpr (MRMAX > 1) {
      if (mr < MRMAX) return tile_mr<MRMAX - 1, AT>(p, row0, col0, ncols, mr, nv, k0, k1, partial);
    }
    tile_nv<MRMAX, NV, AT>(p, row0, col0, ncols, nv, k0, k1, partial);
  }

  // Rows are taken in blocks whose A rows (k floats each) fill about 384 KiB,
  // so the block stays in L2 while every column panel of the range streams
  // past it once; a block never ends in a sliver of a few rows that would
  // stream all of B again for them.
  template <int MR>
  static void run(const GemmParams& p) {
    if (p.a_transposed)
      run_blocks<MR, true>(p);
    else
      run_blocks<MR, false>(p);
  }

  // A single row (m == 1, A not transposed) over two full panels at once:
  // twice the independent FMA chains and two B streams in flight. Each
  // element is summed exactly as tile<1, NV> sums it: with SPLIT (split_k) in
  // even/odd halves, otherwise in plain k order like every other tile, so a
  // one-row call (a stream step's projection) matches the same row computed
  // inside a taller tile bit for bit.
  template <bool SPLIT>
  static void row_two_panels(const GemmParams& p, int64_t col0) {
    V even[2][NV], odd[2][NV];
    for (int q = 0; q < 2; ++q)
      for (int v = 0; v < NV; ++v) even[q][v] = V(0.0f), odd[q][v] = V(0.0f);
    const int64_t k = p.k;
    const float* a = p.a;
    const BT* b0 = static_cast<const BT*>(p.b) + (col0 / kPanel) * k * kPanel;
    const BT* b1 = b0 + k * kPanel;
    int64_t kk = 0;
    if constexpr (SPLIT) {
      for (; kk + 1 < k; kk += 2) {
        const V a0(a[kk]), a1(a[kk + 1]);
        for (int v = 0; v < NV; ++v) {
          even[0][v] = fmadd<Arch>(a0, BE::load(b0 + kk * kPanel + v * W), even[0][v]);
          even[1][v] = fmadd<Arch>(a0, BE::load(b1 + kk * kPanel + v * W), even[1][v]);
          odd[0][v] = fmadd<Arch>(a1, BE::load(b0 + (kk + 1) * kPanel + v * W), odd[0][v]);
          odd[1][v] = fmadd<Arch>(a1, BE::load(b1 + (kk + 1) * kPanel + v * W), odd[1][v]);
        }
      }
      for (int q = 0; q < 2; ++q)
        for (int v = 0; v < NV; ++v) even[q][v] += odd[q][v];
    }
    for (; kk < k; ++kk) {
      const V a0(a[kk]);
      for (int v = 0; v < NV; ++v) {
        even[0][v] = fmadd<Arch>(a0, BE::load(b0 + kk * kPanel + v * W), even[0][v]);
        even[1][v] = fmadd<Arch>(a0, BE::load(b1 + kk * kPanel + v * W), even[1][v]);
      }
    }
    for (int q = 0; q < 2; ++q) {
      float* c = p.c + col0 + q * kPanel;
      for (int v = 0; v < NV; ++v) {
        V val = even[q][v];
        if constexpr (FORMAT == kInt8) val *= V::load_unaligned(p.b_scale + col0 + q * kPanel + v * W);
        if (p.accumulate) val += V::load_unaligned(c + v * W);
        if (p.bias) val += V::load_unaligned(p.bias + col0 + q * kPanel + v * W);
        val = finish(val, p, 0, col0 + q * kPanel + v * W, W);
        val.store_unaligned(c + v * W);
      }
    }
  }

  template <int MR, bool AT>
  static void run_blocks(const GemmParams& p) {
    if (!AT && p.m == 1 && p.k > 0) {
      int64_t col0 = p.n_begin;
      for (; col0 + 2 * kPanel <= p.n_end; col0 += 2 * kPanel) {
        if (p.split_k)
          row_two_panels<true>(p, col0);
        else
          row_two_panels<false>(p, col0);
      }
      for (; col0 < p.n_end; col0 += kPanel) {
        const int64_t ncols = std::min<int64_t>(kPanel, p.n_end - col0);
        tile_mr<MR, AT>(p, 0, col0, ncols, 1, static_cast<int>((ncols + W - 1) / W), 0, p.k, nullptr);
      }
      return;
    }
    const int64_t kb = Tuning<Arch>::value.k_block > 0 ? Tuning<Arch>::value.k_block : p.k;
    alignas(64) float partial[kGroupTiles * MR * kPanel];
    const int64_t fit =
        std::max<int64_t>(MR, (int64_t{384} << 10) / (4 * std::max<int64_t>(p.k, 1)) / MR * MR);
    const int64_t blocks = (p.m + fit - 1) / fit;
    for (int64_t block = 0; block < blocks; ++block) {
      // Blocks of even height too (at least fit / 2 rows: never a sliver).
      const int64_t rb = p.m * block / blocks, rend = p.m * (block + 1) / blocks;
      for (int64_t col0 = p.n_begin; col0 < p.n_end; col0 += kPanel) {
        const int64_t ncols = std::min<int64_t>(kPanel, p.n_end - col0);
        const int nv = static_cast<int>((ncols + W - 1) / W);
        // ceil(rows / MR) tiles whose heights differ by at most one: a last
        // tile of one or two rows would read a whole B panel for few FMAs.
        const int64_t rows = rend - rb, tiles = (rows + MR - 1) / MR;
        auto tile_height = [&](int64_t t) {
          return static_cast<int>(rows / tiles + (t < rows % tiles ? 1 : 0));
        };
        if (kb >= p.k) {
          for (int64_t t = 0, row0 = rb; t < tiles; ++t) {
            tile_mr<MR, AT>(p, row0, col0, ncols, tile_height(t), nv, 0, p.k, nullptr);
            row0 += tile_height(t);
          }
          continue;
        }
        // k-blocked: a group of tiles walks the reduction kb rows of B at a
        // time, so that slice of the panel is read from L1 by every tile of
        // the group instead of streaming from L2 for each tile.
        for (int64_t g = 0, row_g = rb; g < tiles; g += kGroupTiles) {
          const int64_t g_end = std::min(tiles, g + kGroupTiles);
          for (int64_t k0 = 0; k0 < p.k; k0 += kb) {
            const int64_t k1 = std::min(p.k, k0 + kb);
            for (int64_t t = g, row0 = row_g; t < g_end; ++t) {
              tile_mr<MR, AT>(p, row0, col0, ncols, tile_height(t), nv, k0, k1,
                              partial + (t - g) * MR * kPanel);
              row0 += tile_height(t);
            }
          }
          for (int64_t t = g; t < g_end; ++t) row_g += tile_height(t);
        }
      }
    }
  }

  static void activate(int32_t activation, float clip, float* data, int64_t n) {
    int64_t i = 0;
    for (; i + W <= n; i += W)
      epilogue_v<Arch>(V::load_unaligned(data + i), activation, clip).store_unaligned(data + i);
    if (i < n)
      store_partial(data + i, epilogue_v<Arch>(load_partial(data + i, n - i), activation, clip), n - i);
  }

  // Blocks of 1024 floats are summed in float vectors, blocks in double.
  static double sum_squares(const float* x, int64_t n) {
    double total = 0.0;
    for (int64_t b = 0; b < n; b += 1024) {
      const int64_t e = std::min(n, b + 1024);
      V acc(0.0f);
      int64_t i = b;
      for (; i + W <= e; i += W) {
        const V v = V::load_unaligned(x + i);
        acc = fmadd<Arch>(v, v, acc);
      }
      if (i < e) {
        const V v = load_partial(x + i, e - i);
        acc = fmadd<Arch>(v, v, acc);
      }
      total += static_cast<double>(xsimd::hadd(acc));
    }
    return total;
  }

  // Runs fn(i, count) over [0, n) in vectors: count == W, then one partial
  // vector (loaded and stored with load_v / store_v). The tail goes through
  // the same vector arithmetic as the body, so an element's result never
  // depends on where its thread's share ends.
  template <class Fn>
  static void vectors(int64_t n, Fn&& fn) {
    int64_t i = 0;
    for (; i + W <= n; i += W) fn(i, W);
    if (i < n) fn(i, n - i);
  }
  static V load_v(const float* src, int64_t count) {
    return count == W ? V::load_unaligned(src) : load_partial(src, count);
  }
  static void store_v(float* dst, V v, int64_t count) {
    if (count == W)
      v.store_unaligned(dst);
    else
      store_partial(dst, v, count);
  }

  static void scale(float* x, int64_t n, float factor) {
    vectors(n, [&](int64_t i, int64_t c) { store_v(x + i, load_v(x + i, c) * V(factor), c); });
  }

  static void sgd(float* p, const float* g, float* v, int64_t n, float lr, float momentum, float wd) {
    vectors(n, [&](int64_t i, int64_t c) {
      const V pv = load_v(p + i, c);
      const V gv = fmadd<Arch>(V(wd), pv, load_v(g + i, c));
      const V vv = fmadd<Arch>(V(momentum), load_v(v + i, c), gv);
      store_v(v + i, vv, c);
      store_v(p + i, fnmadd<Arch>(V(lr), vv, pv), c);
    });
  }

  static void adam(float* p, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2,
                   float eps, float wd, float c1, float c2) {
    const float step = lr / c1, rc2 = 1.0f / std::sqrt(c2);
    vectors(n, [&](int64_t i, int64_t c) {
      const V pv = load_v(p + i, c);
      const V gv = fmadd<Arch>(V(wd), pv, load_v(g + i, c));
      const V mv = fmadd<Arch>(V(b1), load_v(m + i, c), V(1.0f - b1) * gv);
      const V vv = fmadd<Arch>(V(b2), load_v(v + i, c), (V(1.0f - b2) * gv) * gv);
      store_v(m + i, mv, c);
      store_v(v + i, vv, c);
      const V denom = fmadd<Arch>(xsimd::sqrt(vv), V(rc2), V(eps));
      store_v(p + i, fnmadd<Arch>(V(step), mv / denom, pv), c);
    });
  }

  static void gemm(const GemmParams& p) { run<MR_MAX>(p); }
};

}  // namespace xs
}  // namespace kernels
}  // namespace lib
}  // namespace simdrnn
