// Aligned weight storage and packing of weight matrices into the GEMM
// kernels' panel layout (simd/kernels.h).
#include <sys/mman.h>

#include <cstdlib>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {

AlignedFloats aligned_floats(int64_t count) {
  size_t bytes = static_cast<size_t>(round_up(count > 0 ? count : 1, 16)) * sizeof(float);
  // Large buffers (packed weights) go on 2 MiB pages where the kernel allows:
  // a 16 MiB W_hh streamed every step would otherwise miss the TLB every 4 KiB.
  constexpr size_t kHuge = size_t{2} << 20;
  const bool huge = bytes >= kHuge;
  if (huge) bytes = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(huge ? kHuge : 64, bytes);
  if (!p) throw std::bad_alloc();
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure is harmless
  std::memset(p, 0, bytes);
  return AlignedFloats(static_cast<float*>(p));
}

namespace {
// Packs the k x n matrix whose element (kk, col) is src[kk * k_stride + col *
// n_stride] as a GEMM B operand (simd/kernels.h layout).
PackedMatrix pack_strided(const float* src, int64_t k, int64_t n, int64_t k_stride, int64_t n_stride,
                          int64_t panel_width) {
  PackedMatrix m;
  m.rows = n;
  m.cols = k;
  const int64_t panels = (n + panel_width - 1) / panel_width;
  m.data = aligned_floats(panels * panel_width * k);
  m.bytes = panels * panel_width * k * int64_t{sizeof(float)};
  m.panel_width = panel_width;
  float* dst = m.data.get();
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t c = 0; c < panel_width; ++c) {
        const int64_t col = p * panel_width + c;
        dst[(p * k + kk) * panel_width + c] = col < n ? src[kk * k_stride + col * n_stride] : 0.0f;
      }
  return m;
}
}  // namespace

PackedMatrix pack_b(const float* w, int64_t rows, int64_t cols, int64_t panel_width) {
  return pack_strided(w, cols, rows, 1, cols, panel_width);  // B = W^T
}

PackedMatrix pack_b_kn(const float* src, int64_t k, int64_t n, int64_t ld, int64_t panel_width) {
  return pack_strided(src, k, n, ld, 1, panel_width);
}

int64_t gate_column(int64_t g, int64_t u, int64_t gates, int64_t panel_width) {
  return (u / panel_width * gates + g) * panel_width + u % panel_width;
}

PackedMatrix pack_b_gated(const float* w, int64_t gates, int64_t units, int64_t cols, int64_t panel_width) {
  const int64_t hp = round_up(units, panel_width), n = gates * hp;
  PackedMatrix m;
  m.rows = n;
  m.cols = cols;
  m.data = aligned_floats(n * cols);
  m.bytes = n * cols * int64_t{sizeof(float)};
  m.panel_width = panel_width;
  float* dst = m.data.get();
  // Column j of B is row g * units + u of W (gate g of unit u), or zeros.
  for (int64_t g = 0; g < gates; ++g)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t j = gate_column(g, u, gates, panel_width);
      float* panel = dst + (j / panel_width) * cols * panel_width + j % panel_width;
      const float* row = w + (g * units + u) * cols;
      for (int64_t kk = 0; kk < cols; ++kk) panel[kk * panel_width] = row[kk];
    }
  return m;
}

PackedMatrix pack_b_gated_kn(const float* w, int64_t gates, int64_t units, int64_t cols,
                             int64_t panel_width) {
  const int64_t hp = round_up(units, panel_width), k = gates * hp;
  const int64_t panels = (cols + panel_width - 1) / panel_width;
  PackedMatrix m;
  m.rows = cols;
  m.cols = k;
  m.data = aligned_floats(panels * panel_width * k);
  m.bytes = panels * panel_width * k * int64_t{sizeof(float)};
  m.panel_width = panel_width;
  float* dst = m.data.get();
  // Row kk of B is row g * units + u of W for the blocked column kk of
  // (g, u); the padding units' rows stay zero.
  for (int64_t g = 0; g < gates; ++g)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t kk = gate_column(g, u, gates, panel_width);
      const float* row = w + (g * units + u) * cols;
      for (int64_t p = 0; p < panels; ++p)
        for (int64_t c = 0; c < panel_width && p * panel_width + c < cols; ++c)
          dst[(p * k + kk) * panel_width + c] = row[p * panel_width + c];
    }
  return m;
}

namespace {
uint16_t to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN stays NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>(bits >> 16);
}
}  // namespace

PackedMatrix convert_pack(PackedMatrix f32, int32_t format) {
  if (format == kernels::kF32) return f32;
  // The f32 panels: element (kk, j) of panel p at (p * k + kk) * pw + j % pw.
  const int64_t k = f32.cols, pw = f32.panel_width, total = f32.bytes / int64_t{sizeof(float)};
  const int64_t panels = k > 0 ? total / (k * pw) : 0, columns = panels * pw;
  const int64_t group = kernels::format_group(format), kg = (k + group - 1) / group;
  const int64_t elem_bytes =
      format == kernels::kBf16 || format == kernels::kBf16Pairs || format == kernels::kBf16PairsDot ? 2 : 1;
  PackedMatrix out;
  out.rows = f32.rows;
  out.cols = k;
  out.panel_width = pw;
  out.format = format;
  out.bytes = panels * kg * group * pw * elem_bytes;
  out.data = aligned_floats((out.bytes + 3) / 4);
  const float* src = f32.data.get();
  auto at = [&](int64_t j, int64_t kk) { return src[((j / pw) * k + kk) * pw + j % pw]; };
  // Where element (kk, j) goes, in elements of elem_bytes (kernels.h, WeightFormat).
  auto slot = [&](int64_t j, int64_t kk) {
    const int64_t p = j / pw, c = j % pw;
    return group == 1 ? (p * k + kk) * pw + c : ((p * kg + kk / group) * pw + c) * group + kk % group;
  };
  if (elem_bytes == 2) {
    auto* dst = reinterpret_cast<uint16_t*>(out.data.get());
    std::memset(dst, 0, static_cast<size_t>(out.bytes));
    for (int64_t j = 0; j < columns; ++j)
      for (int64_t kk = 0; kk < k; ++kk) dst[slot(j, kk)] = to_bf16(at(j, kk));
    return out;
  }
  // int8: one scale per column of B; kInt8Quads stores q + 128 (padding: 128, q = 0).
  out.scale = aligned_floats(std::max<int64_t>(columns, 1));
  auto* dst = reinterpret_cast<uint8_t*>(out.data.get());
  const uint8_t offset = format == kernels::kInt8Quads ? 128 : 0;
  std::memset(dst, offset, static_cast<size_t>(out.bytes));
  for (int64_t j = 0; j < columns; ++j) {
    float amax = 0.0f;
    for (int64_t kk = 0; kk < k; ++kk) amax = std::max(amax, std::fabs(at(j, kk)));
    const float scale = amax > 0.0f ? amax / 127.0f : 0.0f;
    out.scale[j] = scale;
    for (int64_t kk = 0; kk < k; ++kk) {
      const float q = scale > 0.0f ? std::nearbyint(at(j, kk) / scale) : 0.0f;
      const int q8 = static_cast<int>(std::max(-127.0f, std::min(127.0f, q)));
      dst[slot(j, kk)] = static_cast<uint8_t>(q8 + offset);
    }
  }
  return out;
}

}  // namespace lib
}  // namespace simdrnn
