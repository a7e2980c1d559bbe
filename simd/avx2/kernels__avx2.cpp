// AVX2+FMA kernels: the xsimd bodies of simd/gemm_xsimd.hpp and simd/cell_xsimd.hpp instantiated for
// xsimd::fma3<avx2>. Compiled with -mavx2 -mfma only; 6x16 GEMM tiles
// (12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers);
// packed panels are 16 columns wide. The avx2_vnni level adds the int8
// dot-product GEMM of simd/gemm_dot_xsimd.hpp (AVX-VNNI, behind its target
// attribute).
#include "simd/cell_xsimd.hpp"
#include "simd/gemm_dot_xsimd.hpp"
#include "simd/gemm_xsimd.hpp"
#include "simd/kernels.h"

namespace simdrnn {
inline namespace lib {
namespace kernels {

namespace {
using Arch = xsimd::fma3<xsimd::avx2>;
}  // namespace

const KernelTable& avx2_table() {
  using Gemm = xs::Gemm<Arch, 2, 6>;
  using GemmBf16 = xs::GemmDot<Arch, 2, 6, xs::WidenBf16<Arch>>;
  using GemmInt8 = xs::Gemm<Arch, 2, 6, kInt8>;
  static const KernelTable table =
      xs::make_table<Gemm, GemmBf16, GemmInt8, xs::Cells<Arch, Gemm::kPanel>>("avx2", 1);
  return table;
}

const KernelTable& avx2_vnni_table() {
  static const KernelTable table =
      xs::with_dot(avx2_table(), "avx2_vnni", 2, nullptr, &xs::GemmDot<Arch, 2, 6, xs::DotInt8Avx2>::gemm);
  return table;
}

}  // namespace kernels
}  // namespace lib
}  // namespace simdrnn
