// AVX2+FMA kernels: the xsimd bodies of simd/gemm_xsimd.hpp instantiated for
// xsimd::fma3<avx2>. Compiled with -mavx2 -mfma only; 6x16 GEMM tiles
// (12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers);
// packed panels are 16 columns wide.
#include "simd/gemm_xsimd.hpp"
#include "simd/kernels.h"

namespace simdrnn {
namespace kernels {
namespace avx2 {

using Arch = xsimd::fma3<xsimd::avx2>;
using Impl = xs::Gemm<Arch, 2>;

void gemm(const GemmParams& p) { Impl::run<6>(p); }
void activate(int32_t activation, float clip, float* data, int64_t n) {
  Impl::activate(activation, clip, data, n);
}
double sum_squares(const float* x, int64_t n) { return Impl::sum_squares(x, n); }
void scale(float* x, int64_t n, float f) { Impl::scale(x, n, f); }
void sgd(float* p, const float* g, float* v, int64_t n, float lr, float mom, float wd) {
  Impl::sgd(p, g, v, n, lr, mom, wd);
}
void adam(float* p, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2, float eps,
          float wd, float c1, float c2) {
  Impl::adam(p, g, m, v, n, lr, b1, b2, eps, wd, c1, c2);
}

}  // namespace avx2

const KernelTable& avx2_table() {
  static const KernelTable table{"avx2", 1, avx2::Impl::kPanel, 6, &avx2::gemm, &avx2::activate,
                                 &avx2::sum_squares, &avx2::scale, &avx2::sgd, &avx2::adam};
  return table;
}

}  // namespace kernels
}  // namespace simdrnn
