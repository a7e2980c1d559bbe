// AVX2+FMA kernels: the xsimd bodies of simd/gemm_xsimd.hpp and simd/cell_xsimd.hpp instantiated for
// xsimd::fma3<avx2>. Compiled with -mavx2 -mfma only; 6x16 GEMM tiles
// (12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers);
// packed panels are 16 columns wide.
#include "simd/cell_xsimd.hpp"
#include "simd/gemm_xsimd.hpp"
#include "simd/kernels.h"

namespace simdrnn {
namespace kernels {

const KernelTable& avx2_table() {
  using Arch = xsimd::fma3<xsimd::avx2>;
  using Gemm = xs::Gemm<Arch, 2, 6>;
  using GemmBf16 = xs::Gemm<Arch, 2, 6, kBf16>;
  using GemmInt8 = xs::Gemm<Arch, 2, 6, kInt8>;
  static const KernelTable table =
      xs::make_table<Gemm, GemmBf16, GemmInt8, xs::Cells<Arch, Gemm::kPanel>>("avx2", 1);
  return table;
}

}  // namespace kernels
}  // namespace simdrnn
