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

}  // namespace avx512

const KernelTable& avx512_table() {
  static const KernelTable table{"avx512", 2, avx512::Impl::kPanel, &avx512::gemm, &avx512::activate};
  return table;
}

}  // namespace kernels
}  // namespace simdrnn
