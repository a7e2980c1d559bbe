// AVX-512 kernels: the xsimd bodies of simd/gemm_xsimd.hpp and simd/cell_xsimd.hpp instantiated for
// xsimd::avx512bw. Compiled with AVX-512 F/BW/DQ/VL flags only; 6x64 GEMM
// tiles (24 accumulators + 4 B vectors + 1 broadcast of the 32 zmm registers);
// packed panels are 64 columns wide.
#include "simd/cell_xsimd.hpp"
#include "simd/gemm_xsimd.hpp"
#include "simd/kernels.h"

namespace simdrnn {
namespace kernels {

const KernelTable& avx512_table() {
  using Arch = xsimd::avx512bw;
  using Gemm = xs::Gemm<Arch, 4, 6>;
  using GemmBf16 = xs::Gemm<Arch, 4, 6, kBf16>;
  using GemmInt8 = xs::Gemm<Arch, 4, 6, kInt8>;
  static const KernelTable table =
      xs::make_table<Gemm, GemmBf16, GemmInt8, xs::Cells<Arch, Gemm::kPanel>>("avx512", 2);
  return table;
}

}  // namespace kernels
}  // namespace simdrnn
