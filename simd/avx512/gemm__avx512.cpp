// AVX-512 kernels: the xsimd bodies of simd/gemm_xsimd.hpp instantiated for
// xsimd::avx512bw. Compiled with AVX-512 F/BW/DQ/VL flags only; 6x64 GEMM
// tiles (24 accumulators + 4 B vectors + 1 broadcast of the 32 zmm registers);
// packed panels are 64 columns wide.
#include "simd/gemm_xsimd.hpp"
#include "simd/kernels.h"

namespace simdrnn {
namespace kernels {
namespace avx512 {

using Arch = xsimd::avx512bw;
using Impl = xs::Gemm<Arch, 4>;

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

}  // namespace avx512

const KernelTable& avx512_table() {
  static const KernelTable table{"avx512", 2, avx512::Impl::kPanel, 6, &avx512::gemm, &avx512::activate,
                                 &avx512::sum_squares, &avx512::scale, &avx512::sgd, &avx512::adam};
  return table;
}

}  // namespace kernels
}  // namespace simdrnn
