// The sequential walk over time of a gated cell (LSTM, GRU) for one layer
// and direction: per step, the recurrent GEMM of the thread's own unit blocks
// (every gate of its units, thanks to the blocked gate layout), then the
// cell's element-wise step kernel on the same units (docs/design.md,
// "Cells"). ONNX's GRU (linear_before_reset = 0) needs r of every unit before
// its candidate's product, and a projection needs o * tanh(c) of every unit:
// each adds one GEMM and one barrier to the step.
#pragma once

#include <algorithm>
#include <cstdint>

#include "src/cell.hpp"
#include "src/engine.hpp"
#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {
namespace engine {

// A buffer with one row per (t, n) (Rows), `stride` floats per row, this
// direction's part starting at column `column`.
struct RowBuffer {
  float* data = nullptr;
  int64_t stride = 0, column = 0;
  float* at(const Rows& rows, int64_t t, int64_t n) const { return data + rows.at(t, n) * stride + column; }
  // Row stride between consecutive sequences n at one step.
  int64_t ld(const Rows& rows) const { return rows.n_stride * stride; }
};

struct GatedWalk {
  const KernelTable* kt;
  const CellDesc* desc;
  const Cell* cell;
  int64_t T, N, H, Hout, proj;  // proj: P (0: none)
  bool forward;                 // t upwards from 0; else down from each sequence's end
  bool reset_first;             // GRU with linear_before_reset = 0
  Rows rows;
  RowBuffer h;      // the layer's output: h_t, Hout wide
  RowBuffer gates;  // pre-activations from phase A (blocked), G * hp wide
  RowBuffer rec;    // the recurrent products (blocked); rows of one step only when rec_per_step
  bool rec_per_step;
  RowBuffer c;      // LSTM: c_t, H wide
  RowBuffer r;      // projection: o * tanh(c_t) before W_hr, H wide
  RowBuffer rh;     // reset_first: r * h_{t-1}, H wide
  uint8_t* mask;    // training with clip: a byte per gate pre-activation (the gates' geometry)
  const float* h0;  // [N, Hout] or null
  const float* c0;  // [N, H] or null
  const float* zeros;
  const int64_t* lens;
  float clip;
  int32_t save_gates;

  // 0 padding (skipped), 1 previous state from the row before, 2 sequence start.
  int row_class(int64_t t, int64_t n) const {
    const int64_t len = lens ? lens[n] : T;
    if (t >= len) return 0;
    return (forward ? t == 0 : t == len - 1) ? 2 : 1;
  }

  // Calls fn(n0, n1, cls) for each run of rows of step t that share a class.
  template <class Fn>
  void for_each_run(int64_t t, Fn&& fn) const {
    if (!lens) return fn(int64_t{0}, N, t == (forward ? 0 : T - 1) ? 2 : 1);
    for (int64_t n = 0; n < N;) {
      const int cls = row_class(t, n);
      int64_t e = n + 1;
      while (e < N && row_class(t, e) == cls) ++e;
      if (cls != 0) fn(n, e, cls);
      n = e;
    }
  }

  float* rec_rows(int64_t t, int64_t n0) const {
    return rec_per_step ? rec.data + n0 * rec.stride + rec.column : rec.at(rows, t, n0);
  }
  int64_t rec_ld() const { return rec_per_step ? rec.stride : rec.ld(rows); }

  // The state a run of rows starts from: its rows of the previous step, or
  // h0 / c0, or zeros (ld 0: every row reads the same zeros).
  void previous(int64_t t, int64_t n0, int cls, const float** hp, int64_t* ld_h, const float** cp,
                int64_t* ld_c) const {
    if (cls == 1) {
      const int64_t tp = forward ? t - 1 : t + 1;
      *hp = h.at(rows, tp, n0), *ld_h = h.ld(rows);
      if (c.data) *cp = c.at(rows, tp, n0), *ld_c = c.ld(rows);
      return;
    }
    *hp = h0 ? h0 + n0 * Hout : zeros, *ld_h = h0 ? Hout : 0;
    *cp = c0 ? c0 + n0 * H : zeros, *ld_c = c0 ? H : 0;
  }

  // rec = h_prev W_hh^T over gate columns [n_begin, n_end), plus the
  // recurrent bias where the cell keeps one apart.
  void recurrent_gemm(int64_t t, int64_t n0, int64_t n1, const float* a, int64_t lda, int64_t k,
                      const PackedMatrix& b, int64_t n_begin, int64_t n_end, const float* bias) const {
    GemmParams p{};
    p.m = n1 - n0;
    p.k = k;
    p.a = a;
    p.lda = lda;
    set_b(p, b);
    p.n_begin = n_begin;
    p.n_end = n_end;
    p.c = rec_rows(t, n0);
    p.ldc = rec_ld();
    p.bias = bias;
    p.split_k = 1;  // m is the same for every thread count: the sum order too
    kernels::run_gemm(*kt, p);
  }

  kernels::CellStep step_params(int64_t t, int64_t n0, int64_t n1, int64_t u0, int64_t u1) const {
    kernels::CellStep s{};
    s.m = n1 - n0;
    s.u_begin = u0;
    s.u_end = u1;
    s.gates = gates.at(rows, t, n0);
    s.ld_gates = gates.ld(rows);
    s.rec = rec_rows(t, n0);
    s.ld_rec = rec_ld();
    s.peephole = cell->peephole.get();
    s.hp = round_up(H, kt->panel_width);
    s.clip = clip;
    s.save_gates = save_gates;
    if (mask) {
      s.mask = mask + rows.at(t, n0) * gates.stride + gates.column;
      s.ld_mask = gates.ld(rows);
    }
    return s;
  }

  // Member `member` of `members` owns unit blocks split(blocks, members,
  // member) in every gate, and (projection) a share of W_hr's panels.
  void run(int64_t member, int64_t members, SpinBarrier& barrier, uint32_t& ticket) const {
    const int64_t pw = kt->panel_width, G = desc->gate_count;
    const Range blocks = split((H + pw - 1) / pw, members, member);
    const int64_t u0 = blocks.begin * pw, u1 = std::min(H, blocks.end * pw);
    const Range proj_panels = split((proj + pw - 1) / pw, members, member);
    auto sync = [&] {
      if (members > 1) barrier.wait(ticket, members);
    };
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = forward ? s : T - 1 - s;
      if (u0 < u1)
        for_each_run(t, [&](int64_t n0, int64_t n1, int cls) {
          const float *hp, *cp = nullptr;
          int64_t ld_h, ld_c = 0;
          previous(t, n0, cls, &hp, &ld_h, &cp, &ld_c);
          kernels::CellStep st = step_params(t, n0, n1, u0, u1);
          if (reset_first) {  // r and z first: n needs r of every unit
            for (int64_t b = blocks.begin; b < blocks.end; ++b)
              recurrent_gemm(t, n0, n1, hp, ld_h, Hout, cell->w_hh, b * G * pw, b * G * pw + 2 * pw, nullptr);
            st.h_prev = hp, st.ld_h_prev = ld_h;
            st.h = rh.at(rows, t, n0), st.ld_h = rh.ld(rows);
            kt->gru_reset(st);
            return;
          }
          recurrent_gemm(t, n0, n1, hp, ld_h, Hout, cell->w_hh, blocks.begin * G * pw, blocks.end * G * pw,
                         cell->recurrent_bias.get());
          if (desc->cell_state) {
            st.c_prev = cp, st.ld_c_prev = ld_c;
            st.c = c.at(rows, t, n0), st.ld_c = c.ld(rows);
            const RowBuffer& out = proj ? r : h;
            st.h = out.at(rows, t, n0), st.ld_h = out.ld(rows);
            kt->lstm_step(st);
          } else {
            st.h_prev = hp, st.ld_h_prev = ld_h;
            st.h = h.at(rows, t, n0), st.ld_h = h.ld(rows);
            kt->gru_step(st);
          }
        });
      if (reset_first) {
        sync();  // every unit's r * h_{t-1} is written
        if (u0 < u1)
          for_each_run(t, [&](int64_t n0, int64_t n1, int cls) {
            for (int64_t b = blocks.begin; b < blocks.end; ++b)
              recurrent_gemm(t, n0, n1, rh.at(rows, t, n0), rh.ld(rows), H, cell->w_hh, b * G * pw + 2 * pw,
                             (b + 1) * G * pw, cell->recurrent_bias.get());
            const float *hp, *cp = nullptr;
            int64_t ld_h, ld_c = 0;
            previous(t, n0, cls, &hp, &ld_h, &cp, &ld_c);
            kernels::CellStep st = step_params(t, n0, n1, u0, u1);
            st.h_prev = hp, st.ld_h_prev = ld_h;
            st.h = h.at(rows, t, n0), st.ld_h = h.ld(rows);
            kt->gru_update(st);
          });
      }
      if (proj) {
        sync();  // every unit's o * tanh(c_t) is written
        if (proj_panels.begin < proj_panels.end)
          for_each_run(t, [&](int64_t n0, int64_t n1, int) {
            GemmParams p{};
            p.m = n1 - n0;
            p.k = H;
            p.a = r.at(rows, t, n0);
            p.lda = r.ld(rows);
            set_b(p, cell->w_hr);
            p.n_begin = proj_panels.begin * pw;
            p.n_end = std::min(proj, proj_panels.end * pw);
            p.c = h.at(rows, t, n0);
            p.ldc = h.ld(rows);
            p.split_k = 1;
            kernels::run_gemm(*kt, p);
          });
      }
      if (s + 1 < T) sync();
    }
  }
};

}  // namespace engine
}  // namespace lib
}  // namespace simdrnn
