// Scalar kernels: plain C++ over the same packed layout (panel width 8), the
// fallback for CPUs without AVX2 and the baseline the SIMD paths are measured
// against. Compiled with -fno-tree-vectorize so it stays a true scalar path.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "simd/kernels.h"

namespace simdrnn {
inline namespace lib {
namespace kernels {
namespace scalar {

constexpr int64_t kPanel = 8;

// 1 / (1 + e^-v) and e^v / (1 + e^v), both from e = e^-|v| <= 1: no overflow.
float sigmoid(float v) {
  const float e = std::exp(-std::fabs(v));
  const float r = 1.0f / (1.0f + e);
  return v >= 0.0f ? r : e * r;
}

// Comparisons are false for NaN, so NaN passes through clip and relu unchanged.
inline float epilogue(float v, int32_t activation, float clip) {
  if (clip > 0.0f) v = v > clip ? clip : (v < -clip ? -clip : v);
  switch (activation) {
    case kTanh:
      return std::tanh(v);
    case kRelu:
      return v < 0.0f ? 0.0f : v;
    case kSigmoid:
      return sigmoid(v);
    default:
      return v;
  }
}

// Everything after the dot product (see GemmParams): forward activation and
// clip mask, or the backward derivative from the saved output.
inline float finish(float val, const GemmParams& p, int64_t row, int64_t col) {
  if (p.activation >= kTanhGrad) {
    const float h = p.aux[row * p.ldaux + col];
    const float d = p.activation == kTanhGrad      ? 1.0f - h * h
                    : p.activation == kSigmoidGrad ? h * (1.0f - h)
                                                   : (h > 0.0f ? 1.0f : 0.0f);
    val = val * d;
    if (p.mask) val = val * (p.mask[row * p.ldmask + col] ? 1.0f : 0.0f);
    return val;
  }
  if (p.mask_write && p.clip > 0.0f) p.mask[row * p.ldmask + col] = std::fabs(val) <= p.clip;
  return epilogue(val, p.activation, p.clip);
}

// Packed B elements (kernels.h, WeightFormat) as floats.
float b_element(const float* b, int64_t i) { return b[i]; }
float b_element(const uint16_t* b, int64_t i) {
  const uint32_t bits = static_cast<uint32_t>(b[i]) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
float b_element(const int8_t* b, int64_t i) { return static_cast<float>(b[i]); }

template <class BT>
void gemm_of(const GemmParams& p) {
  for (int64_t r = 0; r < p.m; ++r) {
    float* c = p.c + r * p.ldc;
    for (int64_t col0 = p.n_begin; col0 < p.n_end; col0 += kPanel) {
      const BT* b = p.k > 0 ? static_cast<const BT*>(p.b) + (col0 / kPanel) * p.k * kPanel : nullptr;
      float acc[kPanel] = {}, odd[kPanel] = {};
      const int64_t step = p.split_k && p.m == 1 ? 2 : 1;  // same order as the SIMD kernels
      int64_t kk = 0;
      if (step == 2) {
        for (; kk + 1 < p.k; kk += 2)
          for (int64_t w = 0; w < kPanel; ++w) {
            acc[w] += p.a[p.a_transposed ? kk * p.lda : kk] * b_element(b, kk * kPanel + w);
            odd[w] += p.a[p.a_transposed ? (kk + 1) * p.lda : kk + 1] * b_element(b, (kk + 1) * kPanel + w);
          }
        for (int64_t w = 0; w < kPanel; ++w) acc[w] += odd[w];
      }
      for (; kk < p.k; ++kk) {
        const float a = p.a_transposed ? p.a[kk * p.lda + r] : p.a[r * p.lda + kk];
        for (int64_t w = 0; w < kPanel; ++w) acc[w] += a * b_element(b, kk * kPanel + w);
      }
      const int64_t n = std::min(kPanel, p.n_end - col0);
      for (int64_t w = 0; w < n; ++w) {
        float val = acc[w];
        if (p.b_format == kInt8) val *= p.b_scale[col0 + w];
        if (p.accumulate) val += c[col0 + w];
        if (p.bias) val += p.bias[col0 + w];
        c[col0 + w] = finish(val, p, r, col0 + w);
      }
    }
  }
}

void gemm(const GemmParams& p) { gemm_of<float>(p); }
void gemm_bf16(const GemmParams& p) { gemm_of<uint16_t>(p); }
void gemm_int8(const GemmParams& p) { gemm_of<int8_t>(p); }

// ---- gated cells (kernels.h, CellStep): one unit at a time ------------------
float clamp(float v, float clip) { return clip > 0.0f ? (v > clip ? clip : (v < -clip ? -clip : v)) : v; }
uint8_t inside(float v, float clip) { return v >= -clip && v <= clip; }

// Calls body(row, u, gate_offset) for every unit; gate g of u is gate_offset + g * kPanel.
template <int64_t G, class Body>
void for_each_unit(const CellStep& p, Body&& body) {
  for (int64_t r = 0; r < p.m; ++r)
    for (int64_t u = p.u_begin; u < p.u_end; ++u) body(r, u, (u / kPanel) * G * kPanel + u % kPanel);
}

void lstm_step(const CellStep& p) {
  for_each_unit<4>(p, [&](int64_t r, int64_t u, int64_t col) {
    float* gates = p.gates + r * p.ld_gates + col;
    const float* rec = p.rec + r * p.ld_rec + col;
    const float c_prev = p.c_prev[r * p.ld_c_prev + u];
    float pre_i = gates[0] + rec[0], pre_f = gates[kPanel] + rec[kPanel];
    const float pre_g = gates[2 * kPanel] + rec[2 * kPanel];
    float pre_o = gates[3 * kPanel] + rec[3 * kPanel];
    if (p.peephole) {
      pre_i += p.peephole[u] * c_prev;
      pre_f += p.peephole[p.hp + u] * c_prev;
    }
    const float i = sigmoid(clamp(pre_i, p.clip)), f = sigmoid(clamp(pre_f, p.clip));
    const float g = std::tanh(clamp(pre_g, p.clip));
    const float c = f * c_prev + i * g;
    if (p.peephole) pre_o += p.peephole[2 * p.hp + u] * c;
    const float o = sigmoid(clamp(pre_o, p.clip));
    if (p.mask && p.clip > 0.0f) {
      uint8_t* mask = p.mask + r * p.ld_mask + col;
      mask[0] = inside(pre_i, p.clip), mask[kPanel] = inside(pre_f, p.clip);
      mask[2 * kPanel] = inside(pre_g, p.clip), mask[3 * kPanel] = inside(pre_o, p.clip);
    }
    p.c[r * p.ld_c + u] = c;
    p.h[r * p.ld_h + u] = o * std::tanh(c);
    if (p.save_gates) gates[0] = i, gates[kPanel] = f, gates[2 * kPanel] = g, gates[3 * kPanel] = o;
  });
}

void gru_step(const CellStep& p) {
  for_each_unit<3>(p, [&](int64_t r, int64_t u, int64_t col) {
    float* gates = p.gates + r * p.ld_gates + col;
    const float* rec = p.rec + r * p.ld_rec + col;
    const float h_prev = p.h_prev[r * p.ld_h_prev + u];
    const float pre_r = gates[0] + rec[0], pre_z = gates[kPanel] + rec[kPanel];
    const float rg = sigmoid(clamp(pre_r, p.clip));
    const float z = sigmoid(clamp(pre_z, p.clip));
    const float pre_n = gates[2 * kPanel] + rg * rec[2 * kPanel];
    const float n = std::tanh(clamp(pre_n, p.clip));
    if (p.mask && p.clip > 0.0f) {
      uint8_t* mask = p.mask + r * p.ld_mask + col;
      mask[0] = inside(pre_r, p.clip), mask[kPanel] = inside(pre_z, p.clip),
      mask[2 * kPanel] = inside(pre_n, p.clip);
    }
    p.h[r * p.ld_h + u] = n + z * (h_prev - n);
    if (p.save_gates) gates[0] = rg, gates[kPanel] = z, gates[2 * kPanel] = n;
  });
}

void gru_reset(const CellStep& p) {
  for_each_unit<3>(p, [&](int64_t r, int64_t u, int64_t col) {
    float* gates = p.gates + r * p.ld_gates + col;
    const float* rec = p.rec + r * p.ld_rec + col;
    const float pre_r = gates[0] + rec[0], pre_z = gates[kPanel] + rec[kPanel];
    const float rg = sigmoid(clamp(pre_r, p.clip));
    const float z = sigmoid(clamp(pre_z, p.clip));
    if (p.mask && p.clip > 0.0f) {
      uint8_t* mask = p.mask + r * p.ld_mask + col;
      mask[0] = inside(pre_r, p.clip), mask[kPanel] = inside(pre_z, p.clip);
    }
    gates[0] = rg, gates[kPanel] = z;
    p.h[r * p.ld_h + u] = rg * p.h_prev[r * p.ld_h_prev + u];
  });
}

void gru_update(const CellStep& p) {
  for_each_unit<3>(p, [&](int64_t r, int64_t u, int64_t col) {
    float* gates = p.gates + r * p.ld_gates + col;
    const float* rec = p.rec + r * p.ld_rec + col;
    const float h_prev = p.h_prev[r * p.ld_h_prev + u];
    const float z = gates[kPanel];
    const float pre_n = gates[2 * kPanel] + rec[2 * kPanel];
    const float n = std::tanh(clamp(pre_n, p.clip));
    if (p.mask && p.clip > 0.0f) p.mask[r * p.ld_mask + col + 2 * kPanel] = inside(pre_n, p.clip);
    p.h[r * p.ld_h + u] = n + z * (h_prev - n);
    if (p.save_gates) gates[2 * kPanel] = n;
  });
}

// ---- gated cells, backward (kernels.h, CellBackward) -------------------------
template <int64_t G, class Body>
void for_each_unit_backward(const CellBackward& p, Body&& body) {
  for (int64_t r = 0; r < p.m; ++r)
    for (int64_t u = p.u_begin; u < p.u_end; ++u) body(r, u, (u / kPanel) * G * kPanel + u % kPanel);
}
float mask_of(const CellBackward& p, int64_t r, int64_t col) {
  return p.mask && !p.mask[r * p.ld_mask + col] ? 0.0f : 1.0f;
}

void lstm_backward(const CellBackward& p) {
  for_each_unit_backward<4>(p, [&](int64_t r, int64_t u, int64_t col) {
    const float* gates = p.gates + r * p.ld_gates + col;
    const float i = gates[0], f = gates[kPanel], g = gates[2 * kPanel], o = gates[3 * kPanel];
    const float c = p.c[r * p.ld_c + u], c_prev = p.c_prev[r * p.ld_c_prev + u];
    const float dh = p.dh[r * p.ld_dh + u];
    float& dc_ref = p.dc[r * p.ld_dc + u];
    const float tc = std::tanh(c);
    const float d_o = dh * tc * (o * (1.0f - o) * mask_of(p, r, col + 3 * kPanel));
    float dc = dh * o * (1.0f - tc * tc) + dc_ref;
    if (p.peephole) dc += d_o * p.peephole[2 * p.hp + u];
    const float d_i = dc * g * (i * (1.0f - i) * mask_of(p, r, col));
    const float d_f = dc * c_prev * (f * (1.0f - f) * mask_of(p, r, col + kPanel));
    const float d_g = dc * i * ((1.0f - g * g) * mask_of(p, r, col + 2 * kPanel));
    float dc_prev = dc * f;
    if (p.peephole) dc_prev += d_i * p.peephole[u] + d_f * p.peephole[p.hp + u];
    dc_ref = dc_prev;
    if (p.dpeephole) {
      p.dpeephole[u] += d_i * c_prev;
      p.dpeephole[p.hp + u] += d_f * c_prev;
      p.dpeephole[2 * p.hp + u] += d_o * c;
    }
    for (float* da : {p.da_x + r * p.ld_da_x + col, p.da_h + r * p.ld_da_h + col})
      da[0] = d_i, da[kPanel] = d_f, da[2 * kPanel] = d_g, da[3 * kPanel] = d_o;
  });
}

void gru_backward(const CellBackward& p) {
  for_each_unit_backward<3>(p, [&](int64_t r, int64_t u, int64_t col) {
    const float* gates = p.gates + r * p.ld_gates + col;
    const float rg = gates[0], z = gates[kPanel], n = gates[2 * kPanel];
    const float rec_n = p.rec[r * p.ld_rec + col + 2 * kPanel];
    const float dh = p.dh[r * p.ld_dh + u], h_prev = p.h_prev[r * p.ld_h_prev + u];
    const float d_n = dh * (1.0f - z) * ((1.0f - n * n) * mask_of(p, r, col + 2 * kPanel));
    const float d_z = dh * (h_prev - n) * (z * (1.0f - z) * mask_of(p, r, col + kPanel));
    const float d_r = d_n * rec_n * (rg * (1.0f - rg) * mask_of(p, r, col));
    p.dh_prev[r * p.ld_dh_prev + u] += dh * z;
    float* dx = p.da_x + r * p.ld_da_x + col;
    float* dhh = p.da_h + r * p.ld_da_h + col;
    dx[0] = d_r, dx[kPanel] = d_z, dx[2 * kPanel] = d_n;
    dhh[0] = d_r, dhh[kPanel] = d_z, dhh[2 * kPanel] = d_n * rg;
  });
}

void gru_update_backward(const CellBackward& p) {
  for_each_unit_backward<3>(p, [&](int64_t r, int64_t u, int64_t col) {
    const float* gates = p.gates + r * p.ld_gates + col;
    const float z = gates[kPanel], n = gates[2 * kPanel];
    const float dh = p.dh[r * p.ld_dh + u], h_prev = p.h_prev[r * p.ld_h_prev + u];
    const float d_n = dh * (1.0f - z) * ((1.0f - n * n) * mask_of(p, r, col + 2 * kPanel));
    const float d_z = dh * (h_prev - n) * (z * (1.0f - z) * mask_of(p, r, col + kPanel));
    p.dh_prev[r * p.ld_dh_prev + u] += dh * z;
    float* dx = p.da_x + r * p.ld_da_x + col;
    float* dhh = p.da_h + r * p.ld_da_h + col;
    dx[kPanel] = d_z, dx[2 * kPanel] = d_n;
    dhh[kPanel] = d_z, dhh[2 * kPanel] = 0.0f;
    p.da_n[r * p.ld_da_n + u] = d_n;
  });
}

void gru_reset_backward(const CellBackward& p) {
  for_each_unit_backward<3>(p, [&](int64_t r, int64_t u, int64_t col) {
    const float rg = p.gates[r * p.ld_gates + col];
    const float d_rh = p.dh[r * p.ld_dh + u], h_prev = p.h_prev[r * p.ld_h_prev + u];
    const float d_r = d_rh * h_prev * (rg * (1.0f - rg) * mask_of(p, r, col));
    p.dh_prev[r * p.ld_dh_prev + u] += d_rh * rg;
    p.da_x[r * p.ld_da_x + col] = d_r;
    p.da_h[r * p.ld_da_h + col] = d_r;
  });
}

// The scalar GEMM has no blocking to tune.
void tune(const GemmTuning&) {}

void activate(int32_t activation, float clip, float* data, int64_t n) {
  for (int64_t i = 0; i < n; ++i) data[i] = epilogue(data[i], activation, clip);
}

double sum_squares(const float* x, int64_t n) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += 1024) {
    float block = 0.0f;
    for (int64_t i = b; i < std::min(n, b + 1024); ++i) block += x[i] * x[i];
    total += block;
  }
  return total;
}

void scale(float* x, int64_t n, float factor) {
  for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

void sgd(float* p, const float* g, float* v, int64_t n, float lr, float momentum, float wd) {
  for (int64_t i = 0; i < n; ++i) {
    v[i] = momentum * v[i] + (g[i] + wd * p[i]);
    p[i] -= lr * v[i];
  }
}

void adam(float* p, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2, float eps,
          float wd, float c1, float c2) {
  const float step = lr / c1, rc2 = 1.0f / std::sqrt(c2);
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] + wd * p[i];
    m[i] = b1 * m[i] + (1.0f - b1) * gi;
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    p[i] -= step * m[i] / (std::sqrt(v[i]) * rc2 + eps);
  }
}

}  // namespace scalar

const KernelTable& scalar_table() {
  static const KernelTable table{"scalar",
                                 0,
                                 scalar::kPanel,
                                 1,
                                 &scalar::gemm,
                                 &scalar::gemm_bf16,
                                 &scalar::gemm_int8,
                                 nullptr,  // no dot-product instructions
                                 nullptr,
                                 &scalar::tune,
                                 kBf16,    // plain panels, widened
                                 nullptr,
                                 &scalar::lstm_step,
                                 &scalar::gru_step,
                                 &scalar::gru_reset,
                                 &scalar::gru_update,
                                 &scalar::lstm_backward,
                                 &scalar::gru_backward,
                                 &scalar::gru_update_backward,
                                 &scalar::gru_reset_backward,
                                 &scalar::activate,
                                 &scalar::sum_squares,
                                 &scalar::scale,
                                 &scalar::sgd,
                                 &scalar::adam};
  return table;
}

}  // namespace kernels
}  // namespace lib
}  // namespace simdrnn
