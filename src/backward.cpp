// Backpropagation through time (docs/design.md, "Training"), the driver and
// the Elman cell. Per layer, from the top: the only sequential work is
// dA_t = (dL/dh_t + dA_{t+1} W_hh) * act'(h_t), the forward recurrence walked
// backwards in time on the same kernels and thread slices; the weight
// gradients dW_ih = dA^T X, dW_hh = dA^T H_prev and the input gradient
// dX = dA W_ih are then merged GEMMs over all steps. Derivatives come from the
// saved outputs h (and the clip mask). LSTM and GRU layers are in
// backward_gated.cpp. Nothing here allocates.
#include "src/backward.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>

#include "src/buffer_layout.hpp"
#include "src/cell.hpp"
#include "src/engine.hpp"
#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {
namespace engine {

// w.dAt[j * TN + r] = w.dY[r * dh + d * H + j]: the weight-gradient GEMMs then
// read A row by row (a transposed-A GEMM streams dA at a dh-float stride:
// 93 vs 107 GFLOP/s measured at m = n = 2048, k = 3200). 32x32 blocks; this
// thread's share of the j blocks.
void Backward::transpose_direction(int64_t d, int64_t tid, int64_t nt) const {
  const int64_t rows = T * N;
  const Range jr = split((H + 31) / 32, nt, tid);
  for (int64_t j0 = jr.begin * 32; j0 < std::min(H, jr.end * 32); j0 += 32)
    for (int64_t r0 = 0; r0 < rows; r0 += 32)
      for (int64_t j = j0; j < std::min(H, j0 + 32); ++j)
        for (int64_t r = r0; r < std::min(rows, r0 + 32); ++r) w.dAt[j * rows + r] = w.dY[r * dh + d * H + j];
}

void Backward::output_layer() const {
  if (b.dy)
    std::memcpy(w.dY, b.dy, static_cast<size_t>(T * N * dh) * sizeof(float));
  else
    std::memset(w.dY, 0, static_cast<size_t>(T * N * dh) * sizeof(float));
  if (O == 0) return;
  float* g_why = grad(m.off_w_hy);
  float* g_bhy = grad(m.off_b_hy);
  if (!b.dout) {  // no gradient reaches the output layer
    if (!b.accumulate) {
      if (g_why) std::memset(g_why, 0, static_cast<size_t>(O * dh) * sizeof(float));
      if (g_bhy) std::memset(g_bhy, 0, static_cast<size_t>(O) * sizeof(float));
    }
    return;
  }
  const float* y_last = saved.layer[L - 1].h;
  GemmParams p{};  // w.dY += dout W_hy
  p.m = T * N, p.k = O, p.a = b.dout, p.lda = O, p.b = m.w_hy_bwd.data.get();
  p.n_begin = 0, p.n_end = dh, p.c = w.dY, p.ldc = dh, p.accumulate = 1;
  gemm(p);
  if (g_why) {  // dW_hy = dout^T Y (padded rows of Y are zero)
    team_run(team, [&](int64_t tid, int64_t nt) {
      pack_share(
          w.pack, dh, [&](int64_t r) { return y_last + r * dh; }, tid, nt);
    });
    GemmParams q{};
    q.m = O, q.k = T * N, q.a = b.dout, q.lda = O, q.a_transposed = 1, q.b = w.pack;
    q.n_begin = 0, q.n_end = dh, q.c = g_why, q.ldc = dh, q.accumulate = b.accumulate;
    gemm(q);
  }
  if (g_bhy) {  // padded steps of out are constant: their gradient is dropped
    if (!b.accumulate) std::memset(g_bhy, 0, static_cast<size_t>(O) * sizeof(float));
    for (int64_t r = 0; r < T * N; ++r) {
      int64_t t, n;
      tn(r, &t, &n);
      if (t < len(n))
        for (int64_t o = 0; o < O; ++o) g_bhy[o] += b.dout[r * O + o];
    }
  }
}

void Backward::elman_recurrences(int64_t l) const {
  const int32_t grad_code = static_cast<int32_t>(m.config.activation) + kernels::kTanhGrad;
  uint8_t* mask = m.config.clip > 0.0f ? saved.layer[l].mask : nullptr;
  auto walk = [&](int64_t d) {
    // Backward of the forward direction walks time down from each
    // sequence's last step: that is the forward engine's reverse walk.
    return Recurrence{&kt,         &m.cells[l * D + d].w_hh_bwd,
                      T,           N,
                      H,           dh,
                      d * H,       d == 1,
                      rows,        w.dY,
                      nullptr,     nullptr,
                      fa.seq_lens, grad_code,
                      0.0f,        saved.layer[l].h,
                      mask,        0};
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

void Backward::elman_layer(int64_t l) {
  add_dh_n(l);
  lap(t_out);  // anything since the last lap (dh_n) counts with the output layer
  elman_recurrences(l);
  zero_padding(w.dY, dh);  // dA = 0 at padding steps
  lap(t_rec);

  const int64_t in = l == 0 ? I : dh;
  const float* x = l == 0 ? fa.x : saved.layer[l - 1].h;
  const float* h = saved.layer[l].h;
  float* dst = l > 0 ? w.dXn : b.dx;
  // X is packed once for both directions, H_prev_d after it from a panel
  // boundary: the two weight-gradient GEMMs of a direction share one
  // transposed dA and need no barrier between them.
  float* pack_h = w.pack + packed_floats(in);
  auto x_row = [&](int64_t r) -> const float* {  // padding rows zero: x may hold anything there
    int64_t t, n;
    tn(r, &t, &n);
    return t < len(n) ? x + r * in : nullptr;
  };
  SpinBarrier barrier;
  // Weight and bias gradients, dX and dh0 in one parallel region: the only
  // barriers are between packing and the GEMMs that read the packs.
  team_run(team, [&](int64_t tid, int64_t nt) {
    uint32_t ticket = 0;
    auto sync = [&] {
      if (nt > 1) barrier.wait(ticket, nt);
    };
    if (b.grads) {
      for (int64_t d = 0; d < D && m.groups.biases; ++d) {
        float* g_bih = grad(m.cells[l * D + d].off_b_ih);
        float* g_bhh = grad(m.cells[l * D + d].off_b_hh);
        column_sums(w.dY + d * H, dh, H, g_bih, b.accumulate, tid, nt);
        if (b.accumulate) {
          column_sums(w.dY + d * H, dh, H, g_bhh, true, tid, nt);
        } else {  // the same columns this thread just summed
          const Range cr = split(H, nt, tid);
          std::memcpy(g_bhh + cr.begin, g_bih + cr.begin,
                      static_cast<size_t>(cr.end - cr.begin) * sizeof(float));
        }
      }
      for (int64_t d = 0; d < D; ++d) {
        if (d > 0) sync();  // the previous direction's GEMMs are done with w.dAt and pack_h
        if (d == 0) pack_share(w.pack, in, x_row, tid, nt);
        const float* h0 = fa.h0 ? saved.h0 + (l * D + d) * N * H : nullptr;  // as forward saw it
        pack_share(
            pack_h, H,
            [&](int64_t r) -> const float* {  // H_prev_d: the state each step started from
              int64_t t, n;
              tn(r, &t, &n);
              if (t >= len(n)) return nullptr;
              const int64_t tp = d == 0 ? t - 1 : t + 1;
              if (tp < 0 || tp >= len(n)) return h0 ? h0 + n * H : nullptr;
              return h + rows.at(tp, n) * dh + d * H;
            },
            tid, nt);
        transpose_direction(d, tid, nt);
        sync();
        // dW [H, width] (+)= dA_d^T (packed operand): w.dAt rows against the w.pack.
        GemmParams p{};
        p.m = H, p.k = T * N, p.a = w.dAt, p.lda = T * N, p.n_begin = 0, p.accumulate = b.accumulate;
        p.b = w.pack, p.n_end = in, p.ldc = in, p.c = grad(m.cells[l * D + d].off_w_ih);
        gemm_share(kt, p, tid, nt);
        p.b = pack_h, p.n_end = H, p.ldc = H, p.c = grad(m.cells[l * D + d].off_w_hh);
        gemm_share(kt, p, tid, nt);
      }
    }
    if (tid == 0) lap(t_dw);  // thread 0's view: it waits at every barrier
    // dX = sum over directions of dA_d W_ih_d. Both directions' calls split
    // C the same way, so each element is summed by one thread in order.
    if (dst)
      for (int64_t d = 0; d < D; ++d) {
        GemmParams p{};
        p.m = T * N, p.k = H, p.a = w.dY + d * H, p.lda = dh, p.b = m.cells[l * D + d].w_ih_bwd.data.get();
        p.n_begin = 0, p.n_end = in, p.c = dst, p.ldc = in;
        p.accumulate = d > 0 ? 1 : (l == 0 ? b.accumulate : 0);
        gemm_share(kt, p, tid, nt);
      }
    // dh0 = dA at each sequence's first step, times W_hh.
    for (int64_t d = 0; d < D && b.dh0; ++d) {
      GemmParams p{};
      p.k = H, set_b(p, m.cells[l * D + d].w_hh_bwd), p.n_begin = 0, p.n_end = H;
      p.accumulate = b.accumulate;
      const bool uniform = d == 0 || !fa.seq_lens;
      const int64_t t_first = d == 0 ? 0 : T - 1;
      for (int64_t n = 0; n < N; n += uniform ? N : 1) {
        p.m = uniform ? N : 1;
        p.a = w.dY + rows.at(uniform ? t_first : len(n) - 1, n) * dh + d * H;
        p.lda = rows.n_stride * dh;
        p.c = b.dh0 + ((l * D + d) * N + n) * H;
        p.ldc = H;
        gemm_share(kt, p, tid, nt);
      }
    }
  });
  lap(t_dx);
  if (l > 0) std::swap(w.dY, w.dXn);
}

// The weight-gradient packs: a layer's input X (or the output layer's Y,
// dh wide), then from panel boundaries one direction's H_prev and, for gated
// cells, one more state operand (o*tanh(c) for W_hr, r*h for W_hn).
int64_t pack_floats(const Model& model, int64_t rows) {
  const simdrnn_config& c = model.config;
  const int64_t pw = model.kernels->panel_width, H = c.hidden_size;
  const int64_t first = round_up(std::max<int64_t>(c.input_size, model.directions * hidden_out(c)), pw);
  const int64_t extra = cell_desc(c.cell).gate_count > 1 ? round_up(H, pw) : 0;
  return checked_product({rows, first + round_up(H, pw) + extra});
}

int64_t backward_layout(const Model& model, int64_t seq_len, int64_t batch, void* base,
                        BackwardBuffers* out) {
  const simdrnn_config& c = model.config;
  const CellDesc& desc = cell_desc(c.cell);
  const int64_t D = model.directions, H = c.hidden_size, G = desc.gate_count;
  const int64_t hp = round_up(H, model.kernels->panel_width);
  const int64_t rows = checked_product({seq_len, batch});
  const int64_t layer = checked_product({rows, D, hidden_out(c)});
  BufferLayout layout(base);
  BackwardBuffers b{};
  b.dY = layout.take<float>(layer);
  b.dXn = c.num_layers >= 2 ? layout.take<float>(layer) : nullptr;
  b.pack = layout.take<float>(pack_floats(model, rows));
  // Gated cells: G*H gate rows, H more for GRU's alternative n rows, P for W_hr.
  b.dAt = layout.take<float>(checked_product({rows, G == 1 ? H : (G + 1) * H + c.proj_size}));
  if (G > 1) {
    const int64_t gates = checked_product({rows, D, G, hp});
    const int64_t state = checked_product({batch, D, H});
    b.da_x = layout.take<float>(gates);
    if (desc.kind == SIMDRNN_CELL_GRU) b.da_h = layout.take<float>(gates);  // its recurrent side differs
    if (desc.cell_state) b.dc = layout.take<float>(state);
    b.dh0_acc = layout.take<float>(checked_product({batch, D, hidden_out(c)}));
    if (c.proj_size > 0) b.dr = layout.take<float>(state);
    if (desc.kind == SIMDRNN_CELL_GRU && !c.gru_linear_before_reset) {
      b.da_n = layout.take<float>(state);
      b.d_rh = layout.take<float>(state);
    }
    if (desc.cell_state) b.dpeep = layout.take<float>(checked_product({D, 3, hp}));
  }
  if (out) *out = b;
  return layout.bytes();
}

}  // namespace engine

int64_t training_reserve_layout(const Model& model, int64_t seq_len, int64_t batch, void* base,
                                TrainingSink* sink) {
  const simdrnn_config& c = model.config;
  const CellDesc& desc = cell_desc(c.cell);
  const int64_t L = c.num_layers, D = model.directions, H = c.hidden_size;
  const int64_t rows = checked_product({seq_len, batch});
  const int64_t hp = round_up(H, model.kernels->panel_width);
  const int64_t out = checked_product({rows, D, hidden_out(c)});
  const int64_t state = checked_product({rows, D, H});
  const int64_t gates = checked_product({rows, D, desc.gate_count, hp});
  const bool gated = desc.gate_count > 1, clip = c.clip > 0.0f;
  const bool lbr0 = desc.kind == SIMDRNN_CELL_GRU && !c.gru_linear_before_reset;
  BufferLayout layout(base);
  TrainingSink s{};
  s.header = layout.take<ReserveHeader>(1);
  s.lens = layout.take<int64_t>(batch);
  s.h0 = layout.take<float>(checked_product({L, D, batch, hidden_out(c)}));
  if (desc.cell_state) s.c0 = layout.take<float>(checked_product({L, D, batch, H}));
  for (int64_t l = 0; l < L && l < kMaxTrainingLayers; ++l) {
    SavedLayer& saved = s.layer[l];
    saved.h = layout.take<float>(out);
    if (clip) saved.mask = layout.take<uint8_t>(gated ? gates : state);
    if (!gated) continue;
    saved.gates = layout.take<float>(gates);
    if (desc.cell_state) saved.c = layout.take<float>(state);
    if (c.proj_size > 0) saved.r = layout.take<float>(state);
    if (lbr0) saved.rh = layout.take<float>(state);
    if (desc.kind == SIMDRNN_CELL_GRU && !lbr0) saved.rec = layout.take<float>(gates);
  }
  if (sink) *sink = s;
  return layout.bytes();
}

int64_t backward_workspace_bytes(const Model& model, int64_t seq_len, int64_t batch) {
  return engine::backward_layout(model, seq_len, batch, nullptr, nullptr);
}

void run_backward(const Model& model, const simdrnn_backward_args& b, int32_t threads,
                  const char* call_name) {
  using Clock = std::chrono::steady_clock;
  const bool verbose = verbose_enabled();
  const Clock::time_point start = verbose ? Clock::now() : Clock::time_point{};
  const simdrnn_forward_args& fa = *b.forward;
  const simdrnn_config& c = model.config;
  const CellDesc& desc = cell_desc(c.cell);
  const int64_t T = fa.seq_len, N = fa.batch, H = c.hidden_size, Hout = hidden_out(c), D = model.directions;
  const int64_t G = desc.gate_count;
  // No more threads than cores (the pool's cap) or than tiny work can use:
  // below ~1 us of multiply-adds one thread does it all.
  const int64_t macs = T * N * D * G * H * (c.input_size + 2 * Hout) * 2;
  const int64_t team =
      macs < (int64_t{1} << 17) ? 1 : std::min<int64_t>(std::max<int64_t>(1, threads), threads::cores());
  engine::BackwardBuffers buf;
  engine::backward_layout(model, T, N, b.workspace, &buf);
  engine::Backward bw{model,
                      b,
                      fa,
                      *model.kernels,
                      desc,
                      T,
                      N,
                      H,
                      Hout,
                      D,
                      c.num_layers,
                      D * Hout,
                      c.output_size,
                      c.input_size,
                      team,
                      G,
                      round_up(H, model.kernels->panel_width),
                      engine::rows_for(fa.layout, T, N),
                      TrainingSink{},
                      buf,
                      verbose};
  bw.mark = start;
  training_reserve_layout(model, T, N, const_cast<void*>(b.reserve), &bw.saved);
  bw.output_layer();
  for (int64_t l = c.num_layers - 1; l >= 0; --l) bw.layer(l);
  if (verbose)
    verbose_line(
        "%s,isa=%s,threads=%lld,cell=%s,shape=t%lldn%lldi%lldh%lldl%lldd%lldo%lld,layout=%s,lens=%d,out_us=%."
        "1f,"
        "rec_us=%.1f,dW_us=%.1f,dX_us=%.1f,total_us=%.1f",
        call_name, model.kernels->name, static_cast<long long>(bw.ran), desc.name, static_cast<long long>(T),
        static_cast<long long>(N), static_cast<long long>(c.input_size), static_cast<long long>(H),
        static_cast<long long>(c.num_layers), static_cast<long long>(D),
        static_cast<long long>(c.output_size), fa.layout == SIMDRNN_TIME_MAJOR ? "tnc" : "ntc",
        fa.seq_lens ? 1 : 0, bw.t_out, bw.t_rec, bw.t_dw, bw.t_dx,
        std::chrono::duration<double, std::micro>(Clock::now() - start).count());
}

}  // namespace lib
}  // namespace simdrnn
