// AVX-512 kernels: the xsimd bodies of simd/gemm_xsimd.hpp instantiated for
// xsimd::avx512bw. Compiled with AVX-512 F/BW/DQ/VL flags only; 6x64 GEMM
// tiles (24 accumulators + 4 B vectors + 1 broadcast of the 32 zmm registers);
// packed panels are 64 columns wide.
#include "simd/gemm_xsimd.hpp"
#include "simd/kernels.h"

namespace simdrnn {
namespace kernels {

const KernelTable& avx512_table() {
  static const KernelTable table = xs::make_table<xs::Gemm<xsimd::avx512bw, 4, 6>>("avx512", 2);
  return table;
}

}  // namespace kernels
}  // namespace simdrnn
