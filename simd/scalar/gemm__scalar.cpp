// Scalar kernels: plain C++ over the same packed layout (panel width 8), the
// fallback for CPUs without AVX2 and the baseline the SIMD paths are measured
// against. Compiled with -fno-tree-vectorize so it stays a true scalar path.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "simd/kernels.h"

namespace simdrnn {
namespace kernels {
namespace scalar {

constexpr int64_t kPanel = 8;

// Comparisons are false for NaN, so NaN passes through clip and relu unchanged.
inline float epilogue(float v, int32_t activation, float clip) {
  if (clip > 0.0f) v = v > clip ? clip : (v < -clip ? -clip : v);
  switch (activation) {
    case kTanh:
      return std::tanh(v);
    case kRelu:
      return v < 0.0f ? 0.0f : v;
    case kSigmoid: {
      const float e = std::exp(-std::fabs(v));
      const float r = 1.0f / (1.0f + e);
      return v >= 0.0f ? r : e * r;
    }
    default:
      return v;
  }
}

void gemm(const GemmParams& p) {
  for (int64_t r = 0; r < p.m; ++r) {
    const float* a = p.k > 0 ? p.a + r * p.lda : nullptr;
    float* c = p.c + r * p.ldc;
    for (int64_t col0 = p.n_begin; col0 < p.n_end; col0 += kPanel) {
      const float* b = p.k > 0 ? p.b + (col0 / kPanel) * p.k * kPanel : nullptr;
      float acc[kPanel] = {};
      for (int64_t kk = 0; kk < p.k; ++kk)
        for (int64_t w = 0; w < kPanel; ++w) acc[w] += a[kk] * b[kk * kPanel + w];
      const int64_t n = std::min(kPanel, p.n_end - col0);
      for (int64_t w = 0; w < n; ++w) {
        float val = acc[w];
        if (p.accumulate) val += c[col0 + w];
        if (p.bias) val += p.bias[col0 + w];
        c[col0 + w] = epilogue(val, p.activation, p.clip);
      }
    }
  }
}

void activate(int32_t activation, float clip, float* data, int64_t n) {
  for (int64_t i = 0; i < n; ++i) data[i] = epilogue(data[i], activation, clip);
}

}  // namespace scalar

const KernelTable& scalar_table() {
  static const KernelTable table{"scalar", 0, scalar::kPanel, &scalar::gemm, &scalar::activate};
  return table;
}

}  // namespace kernels
}  // namespace simdrnn
