// AVX2+FMA kernels: the xsimd bodies of simd/gemm_xsimd.hpp instantiated for
// xsimd::fma3<avx2>. Compiled with -mavx2 -mfma only; 6x16 GEMM tiles
// (12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers);
// packed panels are 16 columns wide.
#include "simd/gemm_xsimd.hpp"
#include "simd/kernels.h"

namespace simdrnn {
namespace kernels {

const KernelTable& avx2_table() {
  static const KernelTable table = xs::make_table<xs::Gemm<xsimd::fma3<xsimd::avx2>, 2, 6>>("avx2", 1);
  return table;
}

}  // namespace kernels
}  // namespace simdrnn
