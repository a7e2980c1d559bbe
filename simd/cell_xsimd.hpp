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
inline namespace lib {
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

  // Where clip > 0 and the caller keeps masks: 1 where -clip <= pre <= clip.
  static void store_mask(uint8_t* dst, V pre, float clip, int64_t n) {
    alignas(64) float tmp[W];
    pre.store_aligned(tmp);
    for (int64_t i = 0; i < n; ++i) dst[i] = tmp[i] >= -clip && tmp[i] <= clip;
  }
  static V load_mask(const uint8_t* src, int64_t n) {
    alignas(64) float tmp[W] = {};
    for (int64_t i = 0; i < n; ++i) tmp[i] = src[i] ? 1.0f : 0.0f;
    return V::load_aligned(tmp);
  }
  // a' from a saved activation, times the gate's clip mask when there is one.
  static V sig_grad(V a, const uint8_t* mask, int64_t n) {
    const V d = a * (V(1.0f) - a);
    return mask ? d * load_mask(mask, n) : d;
  }
  static V tanh_grad(V a, const uint8_t* mask, int64_t n) {
    const V d = fnmadd<Arch>(a, a, V(1.0f));
    return mask ? d * load_mask(mask, n) : d;
  }

  // Calls body(row, u, n, gate_offset) for every vector of units (CellStep or
  // CellBackward rows and units): u the first
  // unit, n (<= W) of them valid, gate_offset the column of gate 0 of unit u
  // (gate g is gate_offset + g * PW).
  template <int64_t G, class Params, class Body>
  static void for_each_vector(const Params& p, Body&& body) {
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
      if (p.mask && p.clip > 0.0f) {
        uint8_t* mask = p.mask + r * p.ld_mask + col;
        store_mask(mask, pre_i, p.clip, n);
        store_mask(mask + PW, pre_f, p.clip, n);
        store_mask(mask + 2 * PW, pre_g, p.clip, n);
        store_mask(mask + 3 * PW, pre_o, p.clip, n);
      }
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
      const V pre_r = V::load_unaligned(gates) + V::load_unaligned(rec);
      const V pre_z = V::load_unaligned(gates + PW) + V::load_unaligned(rec + PW);
      const V rg = sigmoid_v<Arch>(clamp(pre_r, p.clip));
      const V z = sigmoid_v<Arch>(clamp(pre_z, p.clip));
      const V pre_n = fmadd<Arch>(rg, V::load_unaligned(rec + 2 * PW), V::load_unaligned(gates + 2 * PW));
      const V nn = tanh_v<Arch>(clamp(pre_n, p.clip));
      if (p.mask && p.clip > 0.0f) {
        uint8_t* mask = p.mask + r * p.ld_mask + col;
        store_mask(mask, pre_r, p.clip, n);
        store_mask(mask + PW, pre_z, p.clip, n);
        store_mask(mask + 2 * PW, pre_n, p.clip, n);
      }
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
      const V pre_r = V::load_unaligned(gates) + V::load_unaligned(rec);
      const V pre_z = V::load_unaligned(gates + PW) + V::load_unaligned(rec + PW);
      const V rg = sigmoid_v<Arch>(clamp(pre_r, p.clip));
      const V z = sigmoid_v<Arch>(clamp(pre_z, p.clip));
      if (p.mask && p.clip > 0.0f) {
        uint8_t* mask = p.mask + r * p.ld_mask + col;
        store_mask(mask, pre_r, p.clip, n);
        store_mask(mask + PW, pre_z, p.clip, n);
      }
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
      const V pre_n = V::load_unaligned(gates + 2 * PW) + V::load_unaligned(rec + 2 * PW);
      const V nn = tanh_v<Arch>(clamp(pre_n, p.clip));
      if (p.mask && p.clip > 0.0f) store_mask(p.mask + r * p.ld_mask + col + 2 * PW, pre_n, p.clip, n);
      store(p.h + r * p.ld_h + u, fmadd<Arch>(z, h_prev - nn, nn), n);
      if (p.save_gates) store(gates + 2 * PW, nn, n);
    });
  }

  // ---- backward (kernels.h, CellBackward) ----
  static const uint8_t* mask_at(const CellBackward& p, int64_t r, int64_t col) {
    return p.mask ? p.mask + r * p.ld_mask + col : nullptr;
  }
  static const uint8_t* gate_mask(const uint8_t* m, int64_t g) { return m ? m + g * PW : nullptr; }

  static void lstm_backward(const CellBackward& p) {
    for_each_vector<4>(p, [&](int64_t r, int64_t u, int64_t n, int64_t col) {
      const float* gates = p.gates + r * p.ld_gates + col;
      const uint8_t* m = mask_at(p, r, col);
      const V i = V::load_unaligned(gates), f = V::load_unaligned(gates + PW);
      const V g = V::load_unaligned(gates + 2 * PW), o = V::load_unaligned(gates + 3 * PW);
      const V c = load(p.c + r * p.ld_c + u, n), c_prev = load(p.c_prev + r * p.ld_c_prev + u, n);
      const V dh = load(p.dh + r * p.ld_dh + u, n);
      float* dc_ptr = p.dc + r * p.ld_dc + u;
      const V tc = tanh_v<Arch>(c);
      const V d_o = dh * tc * sig_grad(o, gate_mask(m, 3), n);
      V dc = fmadd<Arch>(dh * o, fnmadd<Arch>(tc, tc, V(1.0f)), load(dc_ptr, n));
      if (p.peephole) dc = fmadd<Arch>(d_o, V::load_unaligned(p.peephole + 2 * p.hp + u), dc);
      const V d_i = dc * g * sig_grad(i, gate_mask(m, 0), n);
      const V d_f = dc * c_prev * sig_grad(f, gate_mask(m, 1), n);
      const V d_g = dc * i * tanh_grad(g, gate_mask(m, 2), n);
      V dc_prev = dc * f;
      if (p.peephole) {
        dc_prev = fmadd<Arch>(d_i, V::load_unaligned(p.peephole + u), dc_prev);
        dc_prev = fmadd<Arch>(d_f, V::load_unaligned(p.peephole + p.hp + u), dc_prev);
      }
      store(dc_ptr, dc_prev, n);
      if (p.dpeephole) {
        float* dp = p.dpeephole;
        store(dp + u, fmadd<Arch>(d_i, c_prev, load(dp + u, n)), n);
        store(dp + p.hp + u, fmadd<Arch>(d_f, c_prev, load(dp + p.hp + u, n)), n);
        store(dp + 2 * p.hp + u, fmadd<Arch>(d_o, c, load(dp + 2 * p.hp + u, n)), n);
      }
      for (float* da : {p.da_x + r * p.ld_da_x + col, p.da_h + r * p.ld_da_h + col}) {
        store(da, d_i, n);
        store(da + PW, d_f, n);
        store(da + 2 * PW, d_g, n);
        store(da + 3 * PW, d_o, n);
        if (p.da_h == p.da_x) break;
      }
    });
  }

  static void gru_backward(const CellBackward& p) {
    for_each_vector<3>(p, [&](int64_t r, int64_t u, int64_t n, int64_t col) {
      const float* gates = p.gates + r * p.ld_gates + col;
      const uint8_t* m = mask_at(p, r, col);
      const V rg = V::load_unaligned(gates), z = V::load_unaligned(gates + PW),
              nn = V::load_unaligned(gates + 2 * PW);
      const V rec_n = V::load_unaligned(p.rec + r * p.ld_rec + col + 2 * PW);
      const V dh = load(p.dh + r * p.ld_dh + u, n), h_prev = load(p.h_prev + r * p.ld_h_prev + u, n);
      const V d_n = dh * (V(1.0f) - z) * tanh_grad(nn, gate_mask(m, 2), n);
      const V d_z = dh * (h_prev - nn) * sig_grad(z, gate_mask(m, 1), n);
      const V d_r = d_n * rec_n * sig_grad(rg, gate_mask(m, 0), n);
      float* dhp = p.dh_prev + r * p.ld_dh_prev + u;
      store(dhp, fmadd<Arch>(dh, z, load(dhp, n)), n);
      float* dx = p.da_x + r * p.ld_da_x + col;
      float* dhh = p.da_h + r * p.ld_da_h + col;
      store(dx, d_r, n), store(dx + PW, d_z, n), store(dx + 2 * PW, d_n, n);
      store(dhh, d_r, n), store(dhh + PW, d_z, n), store(dhh + 2 * PW, d_n * rg, n);
    });
  }

  static void gru_update_backward(const CellBackward& p) {
    for_each_vector<3>(p, [&](int64_t r, int64_t u, int64_t n, int64_t col) {
      const float* gates = p.gates + r * p.ld_gates + col;
      const uint8_t* m = mask_at(p, r, col);
      const V z = V::load_unaligned(gates + PW), nn = V::load_unaligned(gates + 2 * PW);
      const V dh = load(p.dh + r * p.ld_dh + u, n), h_prev = load(p.h_prev + r * p.ld_h_prev + u, n);
      const V d_n = dh * (V(1.0f) - z) * tanh_grad(nn, gate_mask(m, 2), n);
      const V d_z = dh * (h_prev - nn) * sig_grad(z, gate_mask(m, 1), n);
      float* dhp = p.dh_prev + r * p.ld_dh_prev + u;
      store(dhp, fmadd<Arch>(dh, z, load(dhp, n)), n);
      float* dx = p.da_x + r * p.ld_da_x + col;
      float* dhh = p.da_h + r * p.ld_da_h + col;
      store(dx + PW, d_z, n), store(dx + 2 * PW, d_n, n);
      store(dhh + PW, d_z, n), store(dhh + 2 * PW, V(0.0f), n);
      store(p.da_n + r * p.ld_da_n + u, d_n, n);
    });
  }

  static void gru_reset_backward(const CellBackward& p) {
    for_each_vector<3>(p, [&](int64_t r, int64_t u, int64_t n, int64_t col) {
      const V rg = V::load_unaligned(p.gates + r * p.ld_gates + col);
      const V d_rh = load(p.dh + r * p.ld_dh + u, n), h_prev = load(p.h_prev + r * p.ld_h_prev + u, n);
      const V d_r = d_rh * h_prev * sig_grad(rg, gate_mask(mask_at(p, r, col), 0), n);
      float* dhp = p.dh_prev + r * p.ld_dh_prev + u;
      store(dhp, fmadd<Arch>(d_rh, rg, load(dhp, n)), n);
      store(p.da_x + r * p.ld_da_x + col, d_r, n);
      store(p.da_h + r * p.ld_da_h + col, d_r, n);
    });
  }
};

// The kernel table of one ISA: every entry of simd/kernel_list.inc, the
// dot-product GEMMs left NULL (with_dot adds them for the levels that have them).
template <class GemmImpl, class GemmBf16, class GemmInt8, class CellImpl>
KernelTable make_table(const char* name, int32_t isa) {
  static_assert(GemmImpl::kPanel == CellImpl::kPanel, "one panel width per table");
  return KernelTable{name,
                     isa,
                     GemmImpl::kPanel,
                     GemmImpl::kTileRows,
                     &GemmImpl::gemm,
                     &GemmBf16::gemm,
                     &GemmInt8::gemm,
                     nullptr,
                     nullptr,
                     &GemmImpl::tune,
                     GemmBf16::kFormat,
                     nullptr,
                     &CellImpl::lstm_step,
                     &CellImpl::gru_step,
                     &CellImpl::gru_reset,
                     &CellImpl::gru_update,
                     &CellImpl::lstm_backward,
                     &CellImpl::gru_backward,
                     &CellImpl::gru_update_backward,
                     &CellImpl::gru_reset_backward,
                     &GemmImpl::activate,
                     &GemmImpl::sum_squares,
                     &GemmImpl::scale,
                     &GemmImpl::sgd,
                     &GemmImpl::adam};
}

// `base` as the ISA level `name` / `isa`, with dot-product GEMMs (NULL: none).
inline KernelTable with_dot(KernelTable base, const char* name, int32_t isa, GemmFn bf16_dot, GemmFn int8_dot,
                            void (*bf16_dot_probe)(int, int64_t) = nullptr) {
  base.name = name;
  base.isa = isa;
  base.gemm_bf16_dot = bf16_dot;
  base.gemm_int8_dot = int8_dot;
  base.bf16_dot_probe = bf16_dot_probe;
  return base;
}

}  // namespace xs
}  // namespace kernels
}  // namespace lib
}  // namespace simdrnn
