// Backpropagation through time of a gated layer (LSTM, GRU; docs/design.md,
// "Training"). Per direction, time is walked backwards on the forward's
// thread slices: each step turns dL/dh_t into the gradients of the gate
// pre-activations with the cell's backward kernel (own unit blocks, from the
// saved activations), then after one barrier sends dL/dh_{t-1} back with
// one GEMM over every gate (dA_t W_hh, the thread's own columns). A
// projection adds a barrier and dr = dh W_hr first; ONNX's GRU adds a
// barrier and d(r h) = dn W_hn in the middle. The weight gradients, dx, dh0
// and dc0 then come from merged GEMMs over all steps, with the gate gradients
// transposed to PyTorch's row order on the way. Nothing here allocates.
#include <algorithm>
#include <cstring>

#include "src/backward.hpp"

namespace simdrnn {
inline namespace lib {
namespace engine {
namespace {

// The backward walk of one layer and direction.
struct GatedBackwardWalk {
  const Backward& bw;
  const Cell& cell;
  int64_t l, d;
  bool lbr0, lbr1, proj;

  int64_t T() const { return bw.T; }
  // 0 padding, 1 the forward's previous step exists, 2 the forward's first step.
  int row_class(int64_t t, int64_t n) const {
    const int64_t len = bw.len(n);
    if (t >= len) return 0;
    return (d == 0 ? t == 0 : t == len - 1) ? 2 : 1;
  }
  template <class Fn>
  void for_each_run(int64_t t, Fn&& fn) const {
    for (int64_t n = 0; n < bw.N;) {
      const int cls = row_class(t, n);
      int64_t e = n + 1;
      while (e < bw.N && row_class(t, e) == cls) ++e;
      if (cls != 0) fn(n, e, cls);
      n = e;
    }
  }
  int64_t prev_t(int64_t t) const { return d == 0 ? t - 1 : t + 1; }

  // Rows of a [TN, width] saved or workspace tensor at (t, n0), this
  // direction's columns from `column`.
  template <class Ptr>
  Ptr* at(Ptr* base, int64_t width, int64_t column, int64_t t, int64_t n0) const {
    return base + bw.rows.at(t, n0) * width + column;
  }
  int64_t ld(int64_t width) const { return bw.rows.n_stride * width; }

  int64_t gates_width() const { return bw.D * bw.G * bw.hp; }
  int64_t gates_col() const { return d * bw.G * bw.hp; }
  int64_t state_width() const { return bw.D * bw.H; }

  kernels::CellBackward params(int64_t t, int64_t n0, int64_t n1, int cls, int64_t u0, int64_t u1) const {
    const SavedLayer& s = bw.saved.layer[l];
    const int64_t H = bw.H, Hout = bw.Hout, gw = gates_width(), gc = gates_col();
    kernels::CellBackward p{};
    p.m = n1 - n0;
    p.u_begin = u0;
    p.u_end = u1;
    if (proj) {
      p.dh = bw.w.dr + n0 * state_width() + d * H;
      p.ld_dh = state_width();
    } else {
      p.dh = at(bw.w.dY, bw.dh, d * Hout, t, n0);
      p.ld_dh = ld(bw.dh);
    }
    p.gates = at(s.gates, gw, gc, t, n0);
    p.ld_gates = ld(gw);
    if (s.mask) p.mask = at(s.mask, gw, gc, t, n0), p.ld_mask = ld(gw);
    if (s.rec) p.rec = at(s.rec, gw, gc, t, n0), p.ld_rec = ld(gw);
    p.da_x = at(bw.w.da_x, gw, gc, t, n0);
    p.ld_da_x = ld(gw);
    float* da_h = bw.w.da_h ? bw.w.da_h : bw.w.da_x;  // GRU: its own recurrent side
    p.da_h = at(da_h, gw, gc, t, n0);
    p.ld_da_h = ld(gw);
    p.hp = bw.hp;
    const bool first = cls == 2;
    const int64_t tp = prev_t(t), cell_index = l * bw.D + d;
    if (bw.desc.cell_state) {
      p.c = at(s.c, state_width(), d * H, t, n0);
      p.ld_c = ld(state_width());
      if (!first) {
        p.c_prev = at(s.c, state_width(), d * H, tp, n0), p.ld_c_prev = ld(state_width());
      } else if (bw.fa.c0) {
        p.c_prev = bw.saved.c0 + (cell_index * bw.N + n0) * H, p.ld_c_prev = H;
      } else {
        p.c_prev = bw.m.zeros.get(), p.ld_c_prev = 0;
      }
      p.dc = bw.w.dc + n0 * state_width() + d * H;
      p.ld_dc = state_width();
      p.peephole = cell.peephole.get();
      p.dpeephole = cell.peephole ? bw.w.dpeep + d * 3 * bw.hp : nullptr;
    } else {
      if (!first) {
        p.h_prev = at(s.h, bw.dh, d * Hout, tp, n0), p.ld_h_prev = ld(bw.dh);
      } else if (bw.fa.h0) {
        p.h_prev = bw.saved.h0 + (cell_index * bw.N + n0) * Hout, p.ld_h_prev = Hout;
      } else {
        p.h_prev = bw.m.zeros.get(), p.ld_h_prev = 0;
      }
    }
    // Where dL/dh_{t-1} collects: the previous step's rows, or dh0's.
    if (!first) {
      p.dh_prev = at(bw.w.dY, bw.dh, d * Hout, tp, n0), p.ld_dh_prev = ld(bw.dh);
    } else {
      p.dh_prev = bw.w.dh0_acc + n0 * bw.dh + d * Hout, p.ld_dh_prev = bw.dh;
    }
    if (lbr0) p.da_n = bw.w.da_n + n0 * state_width() + d * H, p.ld_da_n = state_width();
    return p;
  }

  void run(int64_t member, int64_t members, SpinBarrier& barrier, uint32_t& ticket) const {
    const int64_t pw = bw.kt.panel_width, H = bw.H, Hout = bw.Hout, G = bw.G, P = bw.m.config.proj_size;
    const Range blocks = split((H + pw - 1) / pw, members, member);
    const int64_t u0 = blocks.begin * pw, u1 = std::min(H, blocks.end * pw);
    // dL/dh_{t-1} columns this thread computes: its units, or (projection)
    // its share of W_hr's panels.
    const Range out_panels = proj ? split((P + pw - 1) / pw, members, member) : blocks;
    const int64_t c0 = out_panels.begin * pw, c1 = std::min(Hout, out_panels.end * pw);
    auto sync = [&] {
      if (members > 1) barrier.wait(ticket, members);
    };
    const float* da_rec = bw.w.da_h ? bw.w.da_h : bw.w.da_x;
    const int64_t gw = gates_width(), gc = gates_col();
    for (int64_t s = 0; s < T(); ++s) {
      const int64_t t = d == 0 ? T() - 1 - s : s;
      if (proj) {
        if (s > 0) sync();  // every column of dL/dh_t has arrived
        if (u0 < u1)
          for_each_run(t, [&](int64_t n0, int64_t n1, int) {
            GemmParams p{};  // dr = dh_t W_hr, this thread's units
            p.m = n1 - n0;
            p.k = P;
            p.a = at(bw.w.dY, bw.dh, d * Hout, t, n0);
            p.lda = ld(bw.dh);
            p.b = cell.w_hr_bwd.data.get();
            p.n_begin = u0;
            p.n_end = u1;
            p.c = bw.w.dr + n0 * state_width() + d * H;
            p.ldc = state_width();
            p.split_k = 1;
            bw.kt.gemm(p);
          });
      }
      if (u0 < u1)
        for_each_run(t, [&](int64_t n0, int64_t n1, int cls) {
          const kernels::CellBackward p = params(t, n0, n1, cls, u0, u1);
          if (bw.desc.cell_state)
            bw.kt.lstm_backward(p);
          else if (lbr0)
            bw.kt.gru_update_backward(p);
          else
            bw.kt.gru_backward(p);
        });
      if (lbr0) {
        sync();  // every unit's dn is written: d(r h) = dn W_hn needs them all
        if (u0 < u1)
          for_each_run(t, [&](int64_t n0, int64_t n1, int cls) {
            GemmParams p{};
            p.m = n1 - n0;
            p.k = H;
            p.a = bw.w.da_n + n0 * state_width() + d * H;
            p.lda = state_width();
            p.b = cell.w_hn_bwd.data.get();
            p.n_begin = u0;
            p.n_end = u1;
            p.c = bw.w.d_rh + n0 * state_width() + d * H;
            p.ldc = state_width();
            p.split_k = 1;
            bw.kt.gemm(p);
            kernels::CellBackward q = params(t, n0, n1, cls, u0, u1);
            q.dh = p.c;
            q.ld_dh = state_width();
            bw.kt.gru_reset_backward(q);
          });
      }
      sync();  // every gate gradient of step t is written
      if (c0 < c1)
        for_each_run(t, [&](int64_t n0, int64_t n1, int cls) {
          GemmParams p{};  // dL/dh_{t-1} += dA_t W_hh, this thread's columns
          p.m = n1 - n0;
          p.k = G * bw.hp;
          p.a = at(da_rec, gw, gc, t, n0);
          p.lda = ld(gw);
          p.b = cell.w_hh_bwd.data.get();
          p.n_begin = c0;
          p.n_end = c1;
          if (cls == 2) {
            p.c = bw.w.dh0_acc + n0 * bw.dh + d * Hout, p.ldc = bw.dh;
          } else {
            p.c = at(bw.w.dY, bw.dh, d * Hout, prev_t(t), n0), p.ldc = ld(bw.dh);
          }
          p.accumulate = 1;
          p.split_k = 1;
          bw.kt.gemm(p);
        });
    }
  }
};

}  // namespace

void Backward::gated_recurrences(int64_t l) const {
  const bool lbr0 = desc.kind == SIMDRNN_CELL_GRU && !m.config.gru_linear_before_reset;
  const bool lbr1 = desc.kind == SIMDRNN_CELL_GRU && m.config.gru_linear_before_reset;
  auto walk = [&](int64_t d) {
    return GatedBackwardWalk{*this, m.cells[l * D + d], l, d, lbr0, lbr1, m.config.proj_size > 0};
  };
  const int64_t pw = kt.panel_width;
  const int64_t team_b = std::min<int64_t>(team, D * ((H + pw - 1) / pw));
  SpinBarrier all, group0, group1;
  team_run(team_b, [&](int64_t tid, int64_t nt) {
    uint32_t ticket = 0;
    const int64_t g_split = nt / 2;
    if (D == 2 && nt > 1) {
      const int64_t g = tid < g_split ? 0 : 1;
      walk(g).run(g == 0 ? tid : tid - g_split, g == 0 ? g_split : nt - g_split, g == 0 ? group0 : group1,
                  ticket);
    } else {
      for (int64_t d = 0; d < D; ++d) walk(d).run(tid, nt, all, ticket);
    }
  });
}

void Backward::gated_layer(int64_t l) {
  const simdrnn_config& c = m.config;
  const bool lbr0 = desc.kind == SIMDRNN_CELL_GRU && !c.gru_linear_before_reset;
  const bool lbr1 = desc.kind == SIMDRNN_CELL_GRU && c.gru_linear_before_reset;
  const int64_t P = c.proj_size, TN = T * N, gw = D * G * hp;
  const SavedLayer& s = saved.layer[l];
  add_dh_n(l);
  // What flows in from beyond the sequence: dL/dc_n, and nothing yet to h0.
  if (w.dc) {
    for (int64_t d = 0; d < D; ++d)
      for (int64_t n = 0; n < N; ++n) {
        float* row = w.dc + n * D * H + d * H;
        if (b.dc_n)
          std::memcpy(row, b.dc_n + ((l * D + d) * N + n) * H, static_cast<size_t>(H) * sizeof(float));
        else
          std::memset(row, 0, static_cast<size_t>(H) * sizeof(float));
      }
  }
  std::memset(w.dh0_acc, 0, static_cast<size_t>(N * dh) * sizeof(float));
  // The kernels never write the padding units of a block; the GEMMs that read
  // gate gradients over whole blocks multiply them by zero weights, which
  // must not meet a stale NaN.
  if (H % kt.panel_width)
    for (float* da : {w.da_x, w.da_h})
      for (int64_t r = 0; da && r < TN; ++r)
        for (int64_t g = 0; g < D * G; ++g)
          for (int64_t u = H; u < hp; ++u)
            da[r * gw + gate_column(g % G, u, G, kt.panel_width) + g / G * G * hp] = 0.0f;
  if (w.dpeep) std::memset(w.dpeep, 0, static_cast<size_t>(D * 3 * hp) * sizeof(float));
  lap(t_out);
  gated_recurrences(l);
  zero_padding(w.da_x, gw);  // padding steps have no gradient: the dW GEMMs sum every row
  if (w.da_h) zero_padding(w.da_h, gw);
  lap(t_rec);

  const int64_t in = layer_input(c, l);
  const float* x = l == 0 ? fa.x : saved.layer[l - 1].h;
  float* dst = l > 0 ? w.dXn : b.dx;
  float* pack_x = w.pack;
  float* pack_h = pack_x + packed_floats(in);
  float* pack_extra = pack_h + packed_floats(Hout);  // r*h (W_hn) or o*tanh(c) (W_hr)
  float* dAt_extra = w.dAt + G * H * TN;             // GRU's other n rows
  float* dht = dAt_extra + H * TN;                   // dL/dh transposed (W_hr)
  auto tn_of = [&](int64_t r, int64_t* t, int64_t* n) { tn(r, t, n); };
  auto valid = [&](int64_t r) {
    int64_t t, n;
    tn_of(r, &t, &n);
    return t < len(n);
  };
  // dst[j * TN + r] = src[r * ld + column(j)] for j in [0, count): a
  // transpose that also reorders blocked gate columns into PyTorch rows; this
  // thread's share of 32-row blocks of j.
  auto transpose = [&](float* out, const float* src, int64_t ld, int64_t count, auto&& column, int64_t tid,
                       int64_t nt) {
    const Range jr = split((count + 31) / 32, nt, tid);
    for (int64_t j0 = jr.begin * 32; j0 < std::min(count, jr.end * 32); j0 += 32)
      for (int64_t r0 = 0; r0 < TN; r0 += 32)
        for (int64_t j = j0; j < std::min(count, j0 + 32); ++j) {
          const int64_t col = column(j);
          for (int64_t r = r0; r < std::min(TN, r0 + 32); ++r) out[j * TN + r] = src[r * ld + col];
        }
  };
  SpinBarrier barrier;
  team_run(team, [&](int64_t tid, int64_t nt) {
    uint32_t ticket = 0;
    auto sync = [&] {
      if (nt > 1) barrier.wait(ticket, nt);
    };
    if (b.grads) {
      for (int64_t d = 0; d < D; ++d) {
        const Cell& cell = m.cells[l * D + d];
        const int64_t gc = d * G * hp;
        auto gate_col = [&](int64_t j) { return gc + gate_column(j / H, j % H, G, kt.panel_width); };
        if (d > 0) sync();  // the previous direction's GEMMs are done with the packs
        // Biases: sums over rows, in row order, of the gate gradients.
        if (m.groups.biases) {
          float* g_bih = grad(cell.off_b_ih);
          float* g_bhh = grad(cell.off_b_hh);
          const float* src_hh = lbr1 ? w.da_h : w.da_x;
          const Range jr = split(G * H, nt, tid);
          for (int64_t j = jr.begin; j < jr.end; ++j) {
            const int64_t col = gate_col(j);
            float sx = 0.0f, sh = 0.0f;
            for (int64_t r = 0; r < TN; ++r) sx += w.da_x[r * gw + col], sh += src_hh[r * gw + col];
            g_bih[j] = b.accumulate ? g_bih[j] + sx : sx;
            g_bhh[j] = b.accumulate ? g_bhh[j] + sh : sh;
          }
        }
        if (d == 0)
          pack_share(
              pack_x, in, [&](int64_t r) { return valid(r) ? x + r * in : nullptr; }, tid, nt);
        const float* h0 = fa.h0 ? saved.h0 + (l * D + d) * N * Hout : nullptr;  // as forward saw it
        pack_share(
            pack_h, Hout,
            [&](int64_t r) -> const float* {  // H_prev_d: the state each step started from
              int64_t t, n;
              tn_of(r, &t, &n);
              if (t >= len(n)) return nullptr;
              const int64_t tp = d == 0 ? t - 1 : t + 1;
              if (tp < 0 || tp >= len(n)) return h0 ? h0 + n * Hout : nullptr;
              return s.h + rows.at(tp, n) * dh + d * Hout;
            },
            tid, nt);
        const float* extra = lbr0 ? s.rh : P > 0 ? s.r : nullptr;
        if (extra)
          pack_share(
              pack_extra, H, [&](int64_t r) { return valid(r) ? extra + r * D * H + d * H : nullptr; }, tid,
              nt);
        transpose(w.dAt, w.da_x, gw, G * H, gate_col, tid, nt);
        if (lbr1)
          transpose(
              dAt_extra, w.da_h, gw, H, [&](int64_t j) { return gate_col(2 * H + j); }, tid, nt);
        if (P > 0)
          transpose(
              dht, w.dY + d * Hout, dh, P, [](int64_t j) { return j; }, tid, nt);
        sync();
        GemmParams p{};  // dW (+)= (gate gradients)^T operand, PyTorch rows against the packs
        p.k = TN, p.lda = TN, p.n_begin = 0, p.accumulate = b.accumulate;
        p.m = G * H, p.a = w.dAt, p.b = pack_x, p.n_end = in, p.ldc = in, p.c = grad(cell.off_w_ih);
        gemm_share(kt, p, tid, nt);
        // W_hh: against H_prev; GRU's n rows against r*h (ONNX) or with
        // their own gradients (PyTorch's r * (W_hn h + b_hn)).
        float* g_whh = grad(cell.off_w_hh);
        const int64_t plain_rows = desc.kind == SIMDRNN_CELL_GRU ? 2 * H : G * H;
        p.m = plain_rows, p.a = w.dAt, p.b = pack_h, p.n_end = Hout, p.ldc = Hout, p.c = g_whh;
        gemm_share(kt, p, tid, nt);
        if (desc.kind == SIMDRNN_CELL_GRU) {
          p.m = H, p.c = g_whh + 2 * H * Hout;
          p.a = lbr1 ? dAt_extra : w.dAt + 2 * H * TN;
          p.b = lbr1 ? pack_h : pack_extra;
          gemm_share(kt, p, tid, nt);
        }
        if (P > 0) {  // dW_hr = dh^T (o tanh c)
          p.m = P, p.a = dht, p.b = pack_extra, p.n_end = H, p.ldc = H, p.c = grad(cell.off_w_hr);
          gemm_share(kt, p, tid, nt);
        }
        if (float* g_peep = grad(cell.off_peephole); g_peep && tid == 0)
          for (int64_t k = 0; k < 3; ++k)
            for (int64_t u = 0; u < H; ++u) {
              const float v = w.dpeep[d * 3 * hp + k * hp + u];
              g_peep[k * H + u] = b.accumulate ? g_peep[k * H + u] + v : v;
            }
      }
    }
    if (tid == 0) lap(t_dw);  // thread 0's view: it waits at every barrier
    // dX = sum over directions of dA_x W_ih. Both directions' calls split C
    // the same way, so each element is summed by one thread in order.
    if (dst)
      for (int64_t d = 0; d < D; ++d) {
        GemmParams p{};
        p.m = TN, p.k = G * hp, p.a = w.da_x + d * G * hp, p.lda = gw;
        p.b = m.cells[l * D + d].w_ih_bwd.data.get(), p.n_begin = 0, p.n_end = in, p.c = dst, p.ldc = in;
        p.accumulate = d > 0 ? 1 : (l == 0 ? b.accumulate : 0);
        gemm_share(kt, p, tid, nt);
      }
    // dh0 and dc0: what the walk sent past each sequence's first step.
    const Range nr = split(N, nt, tid);
    for (int64_t n = nr.begin; n < nr.end; ++n)
      for (int64_t d = 0; d < D; ++d) {
        auto emit = [&](float* out, const float* src, int64_t width) {
          if (!out) return;
          for (int64_t j = 0; j < width; ++j) out[j] = b.accumulate ? out[j] + src[j] : src[j];
        };
        emit(b.dh0 ? b.dh0 + ((l * D + d) * N + n) * Hout : nullptr, w.dh0_acc + n * dh + d * Hout, Hout);
        if (w.dc) emit(b.dc0 ? b.dc0 + ((l * D + d) * N + n) * H : nullptr, w.dc + n * D * H + d * H, H);
      }
  });
  lap(t_dx);
  if (l > 0) std::swap(w.dY, w.dXn);
}

}  // namespace engine
}  // namespace lib
}  // namespace simdrnn
