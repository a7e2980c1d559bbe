// The kernel table: the only interface between baseline code in src/ and the
// ISA-specific code in simd/. It carries raw pointers and sizes only, so no
// inline function is ever compiled under two different sets of ISA flags.
#pragma once

#include <cstdint>

namespace simdrnn {
inline namespace lib {
namespace kernels {

// Element-wise function applied by a GEMM epilogue.
// The *Grad codes are backward epilogues: they multiply the sum by the
// activation's derivative taken from the saved forward output h (aux):
// tanh' = 1 - h^2, sigmoid' = h (1 - h), relu' = (h > 0), and by the clip
// mask when one is given.
enum Activation : int32_t {
  kNone = 0,
  kTanh = 1,
  kRelu = 2,
  kSigmoid = 3,
  kTanhGrad = 4,
  kReluGrad = 5,
  kSigmoidGrad = 6
};

// Packed B layout ("panels"): B is a k x n matrix (for us always the
// transpose of a row-major weight W [n, k], so B[kk][j] = W[j][kk]). It is
// stored as ceil(n / panel_width) panels of panel_width columns; panel p
// occupies k * panel_width floats starting at b + p * k * panel_width, row kk
// of the panel at offset kk * panel_width. Columns >= n are zero. The buffer
// starts 64-byte aligned; kernels make no alignment assumption. pack_b() in
// src/packing.cpp produces this layout.
struct GemmParams {
  int64_t m;           // rows of A and C, >= 1
  int64_t k;           // reduction length, >= 0 (0: the product is zero, A unread)
  const float* a;      // A: row r is a[r * lda + 0 .. k-1]
  int64_t lda;         // >= k, or 0: every row of A is the same k floats
  const void* b;      // packed B (see above); all panels of the matrix, elements as b_format says
  int64_t n_begin;     // first column computed; a multiple of panel_width
  int64_t n_end;       // one past the last column computed; n_begin < n_end
  float* c;            // C: element (r, j) at c[r * ldc + j]
  int64_t ldc;         // row stride of C
  const float* bias;   // NULL, or bias[j] for j < round_up(n_end, panel_width)
  int32_t accumulate;  // 1: C = act(clip(C + A*B + bias)); 0: C = act(clip(A*B + bias))
  int32_t activation;  // Activation
  float clip;          // > 0: clamp to [-clip, clip] before act (NaN stays NaN)
  // --- training extensions (zero-initialise GemmParams to leave them off) ---
  int32_t a_transposed;  // 1: A(r, kk) = a[kk * lda + r] (A stored k-major)
  const float* aux;      // *Grad: saved output h, element (r, j) at aux[r * ldaux + j]
  int64_t ldaux;
  uint8_t* mask;       // clip mask, element (r, j) at mask[r * ldmask + j]:
  int64_t ldmask;      //   forward with clip > 0 writes 1 where |pre| <= clip, else 0;
  int32_t mask_write;  //   *Grad multiplies by it when mask != NULL (mask_write 0)
  int32_t split_k;     // 1: a single-row call (m == 1) may split the k sum (above)
  // --- reduced-precision weights (zero-initialise for f32) ---
  int32_t b_format;      // WeightFormat of B's elements (run_gemm picks the kernel)
  const float* b_scale;  // kInt8: column j of B is b_scale[j] times its integers (j < round_up(n_end))
};

// How packed B stores its elements (docs/design.md, "Weight precision").
// kF32, kBf16, kInt8: the panel layout above, elements of another size.
// bf16: the upper half of the f32 bit pattern (rounded to nearest even when
// packed). int8: symmetric, one f32 scale per column of B (per row of the
// weight matrix), B(k, j) = b_scale[j] * q(k, j) with q in [-127, 127]. The
// gemm_bf16 / gemm_int8 kernels widen elements to f32 in registers; A, the
// sums and the epilogue stay f32. For int8 the scale multiplies the finished
// sum (before C, bias, clip, activation).
// kBf16Pairs, kBf16PairsDot, kInt8Quads: the same values grouped along k: a
// panel holds ceil(k / G) groups of panel_width columns, each column's G
// consecutive k elements adjacent (4 bytes; G = 2 bf16 or 4 int8; k padded
// with zeros), group g of panel p at byte (p * ceil(k / G) + g) * panel_width
// * 4. kBf16Pairs: gemm_bf16 on the SIMD levels widens each pair to two f32
// vectors (A stays f32, the sum is the f32 one). kBf16PairsDot and kInt8Quads
// feed dot-product instructions (gemm_bf16_dot, gemm_int8_dot), which round A
// too, per call: to bf16 (nearest even), or to int8 per row (s = max |a| /
// 127, a ~ s * round(a / s)), and sum in f32 by the instruction or exactly in
// int32 (k in chunks of 32768). kInt8Quads stores q + 128 as an unsigned byte.
enum WeightFormat : int32_t {
  kF32 = 0,
  kBf16 = 1,           // gemm_bf16 where the table's bf16_format is kBf16 (scalar)
  kInt8 = 2,           // gemm_int8
  kBf16Pairs = 3,      // gemm_bf16 where the table's bf16_format is kBf16Pairs (SIMD)
  kInt8Quads = 4,      // gemm_int8_dot
  kBf16PairsDot = 5,   // gemm_bf16_dot: the kBf16Pairs layout, A rounded to bf16
};
// k elements per 4-byte group of a grouped format; 1 for the others.
constexpr int64_t format_group(int32_t format) {
  return format == kBf16Pairs || format == kBf16PairsDot ? 2 : format == kInt8Quads ? 4 : 1;
}

// gemm(p): for r < m and n_begin <= j < n_end computes the GemmParams formula.
// Reads A rows 0..m-1 (k floats each), the panels covering [n_begin, n_end),
// bias[n_begin .. round_up(n_end)) and, when accumulating, C's written
// elements. Writes exactly C(r, j) for r < m, n_begin <= j < n_end: never past
// n_end in a row, whatever the tail. Each C element is the sum over kk of
// A(r,kk)*B(kk,j) in increasing kk, then + C, then + bias, then clip and
// activation; with split_k and m == 1 the even and odd kk go to two partial
// sums added at the end (more independent FMA chains for the batch-1
// recurrence step). The result never depends on n_begin or n_end, nor (without
// split_k) on m, so any partition of rows or columns is bit-identical.
using GemmFn = void (*)(const GemmParams& p);

// How the GEMM blocks its loops on this CPU, chosen once per process from
// what the CPU reports (src/dispatch.cpp) before the first GEMM runs. Never
// changes results: k_block splits each element's reduction into ranges that
// continue the same running sum.
struct GemmTuning {
  int64_t k_block;  // reduction rows of a B panel kept in L1 for a group of tiles; 0: no k-blocking
};
using TuneFn = void (*)(const GemmTuning& tuning);

// ---- gated cells: the element-wise step after the recurrent GEMM -------------
// ("post-GEMM", docs/design.md "Cells"). A gated cell's G gates of unit u
// sit in "blocked" columns: units are taken in blocks of panel_width, and
// block b holds gate 0 of its units, then gate 1, ...: gate g of unit u is
// column gate_col(g, u) = ((u / pw) * G + g) * pw + u % pw. The packed
// weights (and so every GEMM over them) produce this layout, which gives a
// thread that owns whole blocks of units every gate of its units. h and c
// are in plain unit order.
//
// step(p): for rows r < m and units u_begin <= u < u_end (u_begin a multiple
// of panel_width; u_end <= the cell's H), with pre = gates + rec (+ the
// cell's extras below), clipped to [-clip, clip] when clip > 0:
//   lstm_step:  i = sig(pre_i + p_i c_prev), f = sig(pre_f + p_f c_prev),
//               g = tanh(pre_g), c = f c_prev + i g, o = sig(pre_o + p_o c),
//               h = o tanh(c)     (peephole terms only when peephole != NULL)
//   gru_step:   r = sig(pre_r), z = sig(pre_z), n = tanh(gates_n + r rec_n),
//               h = n + z (h_prev - n)        (linear_before_reset = 1)
//   gru_reset:  r = sig(pre_r), z = sig(pre_z); writes r and z over the
//               gates (always) and r h_prev into h  (linear_before_reset = 0,
//               first half: h is the A operand of the W_hn GEMM)
//   gru_update: n = tanh(pre_n), z read from the gates (gru_reset wrote it),
//               h = n + z (h_prev - n)        (linear_before_reset = 0)
// With save_gates the activations (i, f, g, o or r, z, n) overwrite the
// gates in place (training keeps them). Reads gates/rec at the blocked
// columns of [u_begin, round_up(u_end, pw)) (whole vectors: the buffers are
// padded), c_prev/h_prev at [u_begin, u_end); writes h, c and gates only for
// units [u_begin, u_end) of each row, never past u_end. ld_c_prev and ld_h_prev
// may be 0 (every row reads the same state: zeros for a NULL h0). Each unit's
// arithmetic is the same wherever its vector lies, so any partition of rows
// or unit blocks gives the same bits.
struct CellStep {
  int64_t m;
  int64_t u_begin, u_end;
  float* gates;  // blocked; pre-activations from x (the input projection and its bias)
  int64_t ld_gates;
  const float* rec;  // blocked; the recurrent product (and the recurrent bias where kept apart)
  int64_t ld_rec;
  const float* c_prev;  // LSTM
  int64_t ld_c_prev;
  float* c;  // LSTM
  int64_t ld_c;
  const float* h_prev;  // GRU
  int64_t ld_h_prev;
  float* h;  // the new h (LSTM with a projection: o tanh(c), before W_hr)
  int64_t ld_h;
  const float* peephole;  // LSTM: i, f, o, each padded to hp floats; or NULL
  int64_t hp;             // H rounded up to whole panels
  float clip;             // > 0: clamp pre-activations
  int32_t save_gates;
  uint8_t* mask;  // clip > 0, training: 1 where -clip <= pre <= clip, else 0 (blocked); or NULL
  int64_t ld_mask;
};
using CellStepFn = void (*)(const CellStep& p);

// ---- gated cells: the element-wise step of backpropagation --------------------
// For rows r < m and units [u_begin, u_end) as in CellStep, from dh = dL/dh_t
// and the saved forward step (activations in `gates`, clip masks, c, the
// previous state), the gradients of the gate pre-activations (blocked):
//   lstm_backward: dh is dL/d(o tanh c) (dL/dh_t without a projection);
//     do = dh tanh(c) o'; dc = dc_in + dh o tanh'(c) + do p_o;
//     di = dc g i'; df = dc c_prev f'; dg = dc i g'; da = (di, df, dg, do);
//     dc (in place) = dc f + di p_i + df p_f, the carry into step t-1;
//     dpeephole (i, f, o) += di c_prev, df c_prev, do c
//   gru_backward (linear_before_reset = 1): dn = dh (1 - z) n';
//     dz = dh (h_prev - n) z'; dr = dn rec_n r'; da_x = (dr, dz, dn),
//     da_h = (dr, dz, dn r); dh_prev += dh z
//   gru_update_backward (linear_before_reset = 0, first): dn, dz as above;
//     da_x = (., dz, dn), da_h = (., dz, 0), da_n (unit order) = dn;
//     dh_prev += dh z
//   gru_reset_backward (then, dh = dL/d(r h_prev) from the W_hn GEMM):
//     dr = dh h_prev r'; da_x, da_h r slot = dr; dh_prev += dh r
// where x' is the activation's derivative from its saved value (sig: a(1-a),
// tanh: 1-a^2) times the clip mask (when mask != NULL). Writes only units
// [u_begin, u_end) of each row; any partition of rows or unit blocks gives the
// same bits (dpeephole sums rows in order within one call).
struct CellBackward {
  int64_t m;
  int64_t u_begin, u_end;
  const float* dh;  // unit order
  int64_t ld_dh;
  const float* gates;  // saved activations, blocked
  int64_t ld_gates;
  const uint8_t* mask;  // saved clip masks, blocked; or NULL (no clip)
  int64_t ld_mask;
  const float* rec;  // GRU (linear_before_reset = 1): saved recurrent products, blocked
  int64_t ld_rec;
  const float* c;  // LSTM: c_t
  int64_t ld_c;
  const float* c_prev;  // LSTM: c_{t-1} (ld 0: the same row for all)
  int64_t ld_c_prev;
  float* dc;  // LSTM: in dL/dc_t from later steps, out dL/dc_{t-1}
  int64_t ld_dc;
  const float* h_prev;  // GRU: h_{t-1} (ld 0: the same row for all)
  int64_t ld_h_prev;
  float* dh_prev;  // GRU: += the direct path to h_{t-1}
  int64_t ld_dh_prev;
  float* da_x;  // gradients of the pre-activations, input side (blocked)
  int64_t ld_da_x;
  float* da_h;  // recurrent side (blocked; may equal da_x for LSTM)
  int64_t ld_da_h;
  float* da_n;  // GRU (linear_before_reset = 0): dn in unit order
  int64_t ld_da_n;
  const float* peephole;  // LSTM: i, f, o, each padded to hp; or NULL
  float* dpeephole;       // LSTM: += peephole gradients (same layout); or NULL
  int64_t hp;
};
using CellBackwardFn = void (*)(const CellBackward& p);

// Element-wise activation in place over n floats (n >= 0).
using ActivateFn = void (*)(int32_t activation, float clip, float* data, int64_t n);

// Optimiser element-wise kernels over n >= 0 floats; element i depends only on
// element i of each array, so any split over threads is bit-identical.
// sum_squares returns sum x[i]^2: each block of 1024 floats summed in float
// vectors, the block sums added in double in index order (so the result may
// differ by ~1e-7 relative between ISAs, never between thread counts).
using SumSquaresFn = double (*)(const float* x, int64_t n);
using ScaleFn = void (*)(float* x, int64_t n, float factor);
// v = momentum*v + (g + wd*p); p -= lr*v   (PyTorch SGD, dampening 0)
using SgdFn = void (*)(float* p, const float* g, float* v, int64_t n, float lr, float momentum, float wd);
// g' = g + wd*p; m = b1*m + (1-b1)g'; v = b2*v + (1-b2)g'^2;
// p -= lr * (m / c1) / (sqrt(v / c2) + eps)   with c1 = 1-b1^t, c2 = 1-b2^t
using AdamFn = void (*)(float* p, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2,
                        float eps, float wd, float c1, float c2);

struct KernelTable {
  const char* name;     // simdrnn_isa_name of isa
  int32_t isa;          // simdrnn_isa value
  int64_t panel_width;  // columns per packed panel
  int64_t tile_rows;    // rows per GEMM tile
  GemmFn gemm;       // B in f32
  GemmFn gemm_bf16;  // B in bf16, widened (b_format bf16_format)
  GemmFn gemm_int8;  // B in int8 with column scales (b_format kInt8)
  // Dot-product kernels (b_format kBf16Pairs / kInt8Quads); NULL where the ISA
  // level lacks the instruction. Packing uses them when they are there.
  GemmFn gemm_bf16_dot;
  GemmFn gemm_int8_dot;
  TuneFn tune;       // sets the GEMM's blocking (not a kernel: not in kernel_list.inc)
  int32_t bf16_format;  // the layout gemm_bf16 reads: kBf16 or kBf16Pairs
  // Runs `iterations` rounds of 12 chains of gemm_bf16_dot's instruction
  // (kind 1) or of the FMA (kind 0), for dispatch to time (NULL without
  // gemm_bf16_dot); not a kernel.
  void (*bf16_dot_probe)(int kind, int64_t iterations);
  CellStepFn lstm_step, gru_step, gru_reset, gru_update;
  CellBackwardFn lstm_backward, gru_backward, gru_update_backward, gru_reset_backward;
  ActivateFn activate;
  SumSquaresFn sum_squares;
  ScaleFn scale;
  SgdFn sgd;
  AdamFn adam;
};

// The GEMM kernel for p.b_format.
inline void run_gemm(const KernelTable& kt, const GemmParams& p) {
  switch (p.b_format) {
    case kBf16:
    case kBf16Pairs:
      return kt.gemm_bf16(p);
    case kBf16PairsDot:
      return kt.gemm_bf16_dot(p);
    case kInt8:
      return kt.gemm_int8(p);
    case kInt8Quads:
      return kt.gemm_int8_dot(p);
    default:
      return kt.gemm(p);
  }
}

// Every kernel of simd/kernel_list.inc is a member of the table.
#define SIMDRNN_KERNEL(name) static_assert(sizeof(&KernelTable::name) > 0, #name);
#include "simd/kernel_list.inc"
#undef SIMDRNN_KERNEL

// One table per ISA of simd/isa_list.inc, defined in simd/<isa>/. Only call
// the avx2/avx512 ones after CPUID + XGETBV said the CPU and OS support them.
#define SIMDRNN_ISA(name, value, table) const KernelTable& table();
#include "simd/isa_list.inc"
#undef SIMDRNN_ISA

}  // namespace kernels
}  // namespace lib
}  // namespace simdrnn
