// The gated cells' element-wise steps (kernels.h, CellStep), written once
// over xsimd::batch<float, Arch> like the GEMM, and instantiated by the
// per-ISA translation units. A unit's arithmetic is the same vector code
// whether it sits in a whole vector or in the tail of a range: the tail only
// loads and stores fewer lanes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "simd/gemm_xsimd.hpp"
#include "simd/kernels.h"

namespace simdrnn {
namespace kernels {
namespace xs {

template <class Arch, int64_t PW>
struct Cells {
  using V = Vec<Arch>;
  static constexpr int64_t W = static_cast<int64_t>(V::size);
  static_assert(PW % W == 0, "a panel is whole vectors");
  static constexpr int64_t kPanel = PW;

  // n lanes (n <= W) from src; the other lanes are 0. Never reads past src + n.
  static V load(const float* src, int64_t n) {
    if (n == W) return V::load_unaligned(src);
    alignas(64) float tmp[W] = {};
    std::memcpy(tmp, src, static_cast<size_t>(n) * sizeof(float));
    return V::load_aligned(tmp);
  }
  static void store(float* dst, V v, int64_t n) {
    if (n == W) return v.store_unaligned(dst);
    alignas(64) float tmp[W];
    v.store_aligned(tmp);
    std::memcpy(dst, tmp, static_cast<size_t>(n) * sizeof(float));
  }
  // Comparisons are false for NaN, so NaN passes through the clamp.
  static V clamp(V v, float clip) {
    if (clip <= 0.0f) return v;
    return xsimd::select(v > V(clip), V(clip), xsimd::select(v < V(-clip), V(-clip), v));
  }

  // Calls body(row, u, n, gate_offset) for every vector of units: u the first
  // unit, n (<= W) of them valid, gate_offset the column of gate 0 of unit u
  // (gate g is gate_offset + g * PW).
  template <int64_t G, class Body>
  static void for_each_vector(const CellStep& p, Body&& body) {
    for (int64_t r = 0; r < p.m; ++r)
      for (int64_t u = p.u_begin; u < p.u_end; u += W) {
        const int64_t gate0 = (u / PW) * G * PW + u % PW;
        body(r, u, std::min(W, p.u_end - u), gate0);
      }
  }

  static void lstm_step(const CellStep& p) {
    for_each_vector<4>(p, [&](int64_t r, int64_t u, int64_t n, int64_t col) {
      float* gates = p.gates + r * p.ld_gates + col;
      const float* rec = p.rec + r * p.ld_rec + col;
      const V c_prev = load(p.c_prev + r * p.ld_c_prev + u, n);
      V pre_i = V::load_unaligned(gates) + V::load_unaligned(rec);
      V pre_f = V::load_unaligned(gates + PW) + V::load_unaligned(rec + PW);
      const V pre_g = V::load_unaligned(gates + 2 * PW) + V::load_unaligned(rec + 2 * PW);
      V pre_o = V::load_unaligned(gates + 3 * PW) + V::load_unaligned(rec + 3 * PW);
      if (p.peephole) {
        pre_i = fmadd<Arch>(V::load_unaligned(p.peephole + u), c_prev, pre_i);
        pre_f = fmadd<Arch>(V::load_unaligned(p.peephole + p.hp + u), c_prev, pre_f);
      }
      const V i = sigmoid_v<Arch>(clamp(pre_i, p.clip));
      const V f = sigmoid_v<Arch>(clamp(pre_f, p.clip));
      const V g = tanh_v<Arch>(clamp(pre_g, p.clip));
      const V c = fmadd<Arch>(f, c_prev, i * g);
      if (p.peephole) pre_o = fmadd<Arch>(V::load_unaligned(p.peephole + 2 * p.hp + u), c, pre_o);
      const V o = sigmoid_v<Arch>(clamp(pre_o, p.clip));
      store(p.c + r * p.ld_c + u, c, n);
      store(p.h + r * p.ld_h + u, o * tanh_v<Arch>(c), n);
      if (p.save_gates) {
        store(gates, i, n);
        store(gates + PW, f, n);
        store(gates + 2 * PW, g, n);
        store(gates + 3 * PW, o, n);
      }
    });
  }

  static void gru_step(const CellStep& p) {
    for_each_vector<3>(p, [&](int64_t r, int64_t u, int64_t n, int64_t col) {
      float* gates = p.gates + r * p.ld_gates + col;
      const float* rec = p.rec + r * p.ld_rec + col;
      const V h_prev = load(p.h_prev + r * p.ld_h_prev + u, n);
      const V rg = sigmoid_v<Arch>(clamp(V::load_unaligned(gates) + V::load_unaligned(rec), p.clip));
      const V z = sigmoid_v<Arch>(clamp(V::load_unaligned(gates + PW) + V::load_unaligned(rec + PW), p.clip));
      const V nn = tanh_v<Arch>(
          clamp(fmadd<Arch>(rg, V::load_unaligned(rec + 2 * PW), V::load_unaligned(gates + 2 * PW)), p.clip));
      store(p.h + r * p.ld_h + u, fmadd<Arch>(z, h_prev - nn, nn), n);
      if (p.save_gates) {
        store(gates, rg, n);
        store(gates + PW, z, n);
        store(gates + 2 * PW, nn, n);
      }
    });
  }

  static void gru_reset(const CellStep& p) {
    for_each_vector<3>(p, [&](int64_t r, int64_t u, int64_t n, int64_t col) {
      float* gates = p.gates + r * p.ld_gates + col;
      const float* rec = p.rec + r * p.ld_rec + col;
      const V rg = sigmoid_v<Arch>(clamp(V::load_unaligned(gates) + V::load_unaligned(rec), p.clip));
      const V z = sigmoid_v<Arch>(clamp(V::load_unaligned(gates + PW) + V::load_unaligned(rec + PW), p.clip));
      store(gates, rg, n);
      store(gates + PW, z, n);
      store(p.h + r * p.ld_h + u, rg * load(p.h_prev + r * p.ld_h_prev + u, n), n);
    });
  }

  static void gru_update(const CellStep& p) {
    for_each_vector<3>(p, [&](int64_t r, int64_t u, int64_t n, int64_t col) {
      float* gates = p.gates + r * p.ld_gates + col;
      const float* rec = p.rec + r * p.ld_rec + col;
      const V h_prev = load(p.h_prev + r * p.ld_h_prev + u, n);
      const V z = V::load_unaligned(gates + PW);
      const V nn =
          tanh_v<Arch>(clamp(V::load_unaligned(gates + 2 * PW) + V::load_unaligned(rec + 2 * PW), p.clip));
      store(p.h + r * p.ld_h + u, fmadd<Arch>(z, h_prev - nn, nn), n);
      if (p.save_gates) store(gates + 2 * PW, nn, n);
    });
  }
};

// The kernel table of one ISA: every entry of simd/kernel_list.inc.
template <class GemmImpl, class CellImpl>
KernelTable make_table(const char* name, int32_t isa) {
  static_assert(GemmImpl::kPanel == CellImpl::kPanel, "one panel width per table");
  return KernelTable{name,
                     isa,
                     GemmImpl::kPanel,
                     GemmImpl::kTileRows,
                     &GemmImpl::gemm,
                     &GemmImpl::tune,
                     &CellImpl::lstm_step,
                     &CellImpl::gru_step,
                     &CellImpl::gru_reset,
                     &CellImpl::gru_update,
                     &GemmImpl::activate,
                     &GemmImpl::sum_squares,
                     &GemmImpl::scale,
                     &GemmImpl::sgd,
                     &GemmImpl::adam};
}

}  // namespace xs
}  // namespace kernels
}  // namespace simdrnn
