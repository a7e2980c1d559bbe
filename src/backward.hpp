// Backpropagation through time, shared pieces (docs/design.md, "Training"):
// the state of one backward call, the helpers both cells use, and the
// per-cell layer steps (backward.cpp: the Elman cell; backward_gated.cpp:
// LSTM and GRU).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#include "src/cell.hpp"
#include "src/engine.hpp"
#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {
namespace engine {

// The workspace of a backward call (backward_layout carves it).
struct BackwardBuffers {
  float* dY;    // dL/d(layer output) [TN, D*H_out]; the Elman cell overwrites it with dA
  float* dXn;   // dL/d(layer below's output) (L >= 2)
  float* pack;  // packed B operands of the weight-gradient GEMMs
  float* dAt;   // gate gradients transposed to PyTorch row order: the dW GEMMs' A operand
  // Gated cells only:
  float* da_x;     // dL/d(gate pre-activations), input side, blocked [TN, D*G*hp]
  float* da_h;     // GRU: the recurrent side (n: dn r, or 0 when r*h carries it)
  float* dc;       // LSTM: dL/dc carried from step to step [N, D*H]
  float* dh0_acc;  // dL/dh_{-1}: what the first steps send to h0 [N, D*H_out]
  float* dr;       // LSTM projection: one step's dL/d(o tanh c) [N, D*H]
  float* da_n;     // GRU, linear_before_reset 0: one step's dn [N, D*H]
  float* d_rh;     // ... and dL/d(r h_{t-1}) [N, D*H]
  float* dpeep;    // LSTM peephole gradients [D, 3*hp]
};

// One backward call: shared by the driver (backward.cpp), the Elman layer
// (backward.cpp) and the gated layers (backward_gated.cpp).
struct Backward {
  const Model& m;
  const simdrnn_backward_args& b;
  const simdrnn_forward_args& fa;
  const KernelTable& kt;
  const CellDesc& desc;
  int64_t T, N, H, Hout, D, L, dh, O, I, team;  // dh: D*H_out, the width of a layer's output
  int64_t G, hp;                                // gates; units padded to whole panels
  Rows rows;
  TrainingSink saved;
  BackwardBuffers w;
  bool verbose;
  // Verbose phase times, µs: output layer, recurrences, weight and bias
  // gradients (with their packing), dX and dh0.
  double t_out = 0, t_rec = 0, t_dw = 0, t_dx = 0;
  mutable int64_t ran = 1;  // the largest team the pool lent (the verbose line)
  std::chrono::steady_clock::time_point mark{};

  // Adds the time since the last lap to `phase` (verbose only).
  void lap(double& phase) {
    if (!verbose) return;
    const auto now = std::chrono::steady_clock::now();
    phase += std::chrono::duration<double, std::micro>(now - mark).count();
    mark = now;
  }

  int64_t len(int64_t n) const { return fa.seq_lens ? fa.seq_lens[n] : T; }
  // (t, n) of memory row r of a [T, N, C] / [N, T, C] tensor.
  void tn(int64_t r, int64_t* t, int64_t* n) const {
    if (fa.layout == SIMDRNN_TIME_MAJOR)
      *t = r / N, *n = r % N;
    else
      *n = r / T, *t = r % T;
  }
  // The gradient of the tensor at flat offset `offset` (-1: absent).
  float* grad(int64_t offset) const { return offset >= 0 && b.grads ? b.grads + offset : nullptr; }

  // run_team, remembering the largest team that ran.
  template <class Body>
  void team_run(int64_t want, Body&& body) const {
    ran = std::max(ran, run_team(want, std::forward<Body>(body)));
  }

  void gemm(const GemmParams& p) const {
    team_run(team, [&](int64_t tid, int64_t nt) { gemm_share(kt, p, tid, nt); });
  }

  // Packs the [TN, width] operand whose row r is row_of(r) (null: zeros) into
  // `dst` as a GEMM B with k = TN rows, n = width columns (simd/kernels.h
  // layout); this thread's share of the rows.
  template <class RowOf>
  void pack_share(float* dst, int64_t width, RowOf&& row_of, int64_t tid, int64_t nt) const {
    const int64_t pw = kt.panel_width, k = T * N, panels = (width + pw - 1) / pw;
    const Range rr = split(k, nt, tid);
    for (int64_t r = rr.begin; r < rr.end; ++r) {
      const float* src = row_of(r);
      for (int64_t p = 0; p < panels; ++p) {
        float* out = dst + (p * k + r) * pw;
        const int64_t c0 = p * pw, n = std::min(pw, width - c0);
        if (src)
          std::memcpy(out, src + c0, static_cast<size_t>(n) * sizeof(float));
        else
          std::memset(out, 0, static_cast<size_t>(n) * sizeof(float));
        if (n < pw) std::memset(out + n, 0, static_cast<size_t>(pw - n) * sizeof(float));
      }
    }
  }
  // Floats of one packed [TN, width] operand.
  int64_t packed_floats(int64_t width) const { return T * N * round_up(width, kt.panel_width); }

  // g[j] (+)= sum over rows r of src[r * ld + j], rows in order (deterministic);
  // this thread's share of the columns.
  void column_sums(const float* src, int64_t ld, int64_t width, float* g, bool accumulate, int64_t tid,
                   int64_t nt) const {
    const Range cr = split(width, nt, tid);
    if (!accumulate)
      for (int64_t j = cr.begin; j < cr.end; ++j) g[j] = 0.0f;
    for (int64_t r = 0; r < T * N; ++r)
      for (int64_t j = cr.begin; j < cr.end; ++j) g[j] += src[r * ld + j];
  }

  void zero_padding(float* buf, int64_t width) const {
    if (!fa.seq_lens) return;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t t = len(n); t < T; ++t)
        std::memset(buf + rows.at(t, n) * width, 0, static_cast<size_t>(width) * sizeof(float));
  }

  // dL/dh_n enters at each sequence's last step, outside the recurrence.
  void add_dh_n(int64_t l) const {
    if (!b.dh_n) return;
    for (int64_t d = 0; d < D; ++d)
      for (int64_t n = 0; n < N; ++n) {
        float* row = w.dY + rows.at(d == 0 ? len(n) - 1 : 0, n) * dh + d * Hout;
        const float* add = b.dh_n + ((l * D + d) * N + n) * Hout;
        for (int64_t j = 0; j < Hout; ++j) row[j] += add[j];
      }
  }

  void output_layer() const;
  void layer(int64_t l) {
    if (G == 1)
      elman_layer(l);
    else
      gated_layer(l);
  }

  // Elman cell (backward.cpp).
  void transpose_direction(int64_t d, int64_t tid, int64_t nt) const;
  void elman_recurrences(int64_t l) const;
  void elman_layer(int64_t l);
  // LSTM and GRU (backward_gated.cpp).
  void gated_recurrences(int64_t l) const;
  void gated_layer(int64_t l);
};

// Workspace bytes of a backward call (-1 when a size overflows); with a
// base, the buffers too.
int64_t backward_layout(const Model& model, int64_t seq_len, int64_t batch, void* base, BackwardBuffers* out);

}  // namespace engine
}  // namespace lib
}  // namespace simdrnn
