// Backpropagation through time (DESIGN.md §2). Per layer, from the top:
// the only sequential work is dA_t = (dL/dh_t + dA_{t+1} W_hh) * act'(h_t),
// the forward recurrence walked backwards in time on the same kernels and
// thread slices; the weight gradients dW_ih = dA^T X, dW_hh = dA^T H_prev and
// the input gradient dX = dA W_ih are then merged GEMMs over all steps.
// Derivatives come from the saved outputs h (and the clip mask), so
// forward_training saves nothing else. Nothing here allocates.
#include <chrono>
#include <cstdio>
#include <cstring>

#include "src/buffer_layout.hpp"
#include "src/engine.hpp"
#include "src/internal.hpp"

namespace simdrnn {
namespace {

using engine::gemm_share;
using engine::Range;
using engine::Recurrence;
using engine::Rows;
using engine::SpinBarrier;
using engine::split;
using kernels::GemmParams;
using kernels::KernelTable;

struct Backward {
  const Model& m;
  const simdrnn_backward_args& b;
  const simdrnn_forward_args& fa;
  const KernelTable& kt;
  int64_t T, N, H, D, L, dh, O, I, team;
  Rows rows;
  TrainingSink saved;
  float* dY;    // dL/d(layer output) [TN, D*H], overwritten by dA
  float* dXn;   // dL/d(layer below's output)
  float* pack;  // packed B operand of the weight-gradient GEMMs
  float* dAt;   // one direction's dA transposed, [H, TN]: the dW GEMMs' A operand
  bool verbose;
  // Verbose phase times, µs: output layer, recurrences, weight and bias
  // gradients (with their packing), dX and dh0.
  double t_out = 0, t_rec = 0, t_dw = 0, t_dx = 0;
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

  void gemm(const GemmParams& p) const {
    run_team(team, [&](int64_t tid, int64_t nt) { gemm_share(kt, p, tid, nt); });
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

  // dAt[j * TN + r] = dY[r * dh + d * H + j]: the weight-gradient GEMMs then
  // read A row by row (a transposed-A GEMM streams dA at a dh-float stride:
  // 93 vs 107 GFLOP/s measured at m = n = 2048, k = 3200). 32x32 blocks; this
  // thread's share of the j blocks.
  void transpose_direction(int64_t d, int64_t tid, int64_t nt) const {
    const int64_t rows = T * N;
    const Range jr = split((H + 31) / 32, nt, tid);
    for (int64_t j0 = jr.begin * 32; j0 < std::min(H, jr.end * 32); j0 += 32)
      for (int64_t r0 = 0; r0 < rows; r0 += 32)
        for (int64_t j = j0; j < std::min(H, j0 + 32); ++j)
          for (int64_t r = r0; r < std::min(rows, r0 + 32); ++r) dAt[j * rows + r] = dY[r * dh + d * H + j];
  }

  void output_layer() const {
    if (b.dy)
      std::memcpy(dY, b.dy, static_cast<size_t>(T * N * dh) * sizeof(float));
    else
      std::memset(dY, 0, static_cast<size_t>(T * N * dh) * sizeof(float));
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
    const float* y_last = saved.h[L - 1];
    GemmParams p{};  // dY += dout W_hy
    p.m = T * N, p.k = O, p.a = b.dout, p.lda = O, p.b = m.w_hy_bwd.data.get();
    p.n_begin = 0, p.n_end = dh, p.c = dY, p.ldc = dh, p.accumulate = 1;
    gemm(p);
    if (g_why) {  // dW_hy = dout^T Y (padded rows of Y are zero)
      run_team(team, [&](int64_t tid, int64_t nt) {
        pack_share(
            pack, dh, [&](int64_t r) { return y_last + r * dh; }, tid, nt);
      });
      GemmParams q{};
      q.m = O, q.k = T * N, q.a = b.dout, q.lda = O, q.a_transposed = 1, q.b = pack;
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

  void recurrences(int64_t l) const {
    const int32_t grad_code = static_cast<int32_t>(m.config.activation) + kernels::kTanhGrad;
    uint8_t* mask = m.config.clip > 0.0f ? saved.mask[l] : nullptr;
    auto walk = [&](int64_t d) {
      // Backward of the forward direction walks time down from each
      // sequence's last step: that is the forward engine's reverse walk.
      return Recurrence{&kt,         m.cells[l * D + d].w_hh_bwd.data.get(),
                        T,           N,
                        H,           dh,
                        d * H,       d == 1,
                        rows,        dY,
                        nullptr,     nullptr,
                        fa.seq_lens, grad_code,
                        0.0f,        saved.h[l],
                        mask,        0};
    };
    const int64_t pw = kt.panel_width;
    const int64_t team_b = std::min<int64_t>(team, D * ((H + pw - 1) / pw));
    SpinBarrier all, group0, group1;
    run_team(team_b, [&](int64_t tid, int64_t nt) {
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

  void layer(int64_t l) {
    // dL/dh_n enters at each sequence's last step, outside the recurrence.
    if (b.dh_n)
      for (int64_t d = 0; d < D; ++d)
        for (int64_t n = 0; n < N; ++n) {
          float* row = dY + rows.at(d == 0 ? len(n) - 1 : 0, n) * dh + d * H;
          const float* add = b.dh_n + ((l * D + d) * N + n) * H;
          for (int64_t j = 0; j < H; ++j) row[j] += add[j];
        }
    lap(t_out);  // anything since the last lap (dh_n) counts with the output layer
    recurrences(l);
    zero_padding(dY, dh);  // dA = 0 at padding steps
    lap(t_rec);

    const int64_t in = l == 0 ? I : dh;
    const float* x = l == 0 ? fa.x : saved.h[l - 1];
    const float* h = saved.h[l];
    float* dst = l > 0 ? dXn : b.dx;
    // X is packed once for both directions, H_prev_d after it from a panel
    // boundary: the two weight-gradient GEMMs of a direction share one
    // transposed dA and need no barrier between them.
    float* pack_h = pack + packed_floats(in);
    auto x_row = [&](int64_t r) -> const float* {  // padding rows zero: x may hold anything there
      int64_t t, n;
      tn(r, &t, &n);
      return t < len(n) ? x + r * in : nullptr;
    };
    SpinBarrier barrier;
    // Weight and bias gradients, dX and dh0 in one parallel region: the only
    // barriers are between packing and the GEMMs that read the packs.
    run_team(team, [&](int64_t tid, int64_t nt) {
      uint32_t ticket = 0;
      auto sync = [&] {
        if (nt > 1) barrier.wait(ticket, nt);
      };
      if (b.grads) {
        for (int64_t d = 0; d < D && m.groups.biases; ++d) {
          float* g_bih = grad(m.cells[l * D + d].off_b_ih);
          float* g_bhh = grad(m.cells[l * D + d].off_b_hh);
          column_sums(dY + d * H, dh, H, g_bih, b.accumulate, tid, nt);
          if (b.accumulate) {
            column_sums(dY + d * H, dh, H, g_bhh, true, tid, nt);
          } else {  // the same columns this thread just summed
            const Range cr = split(H, nt, tid);
            std::memcpy(g_bhh + cr.begin, g_bih + cr.begin,
                        static_cast<size_t>(cr.end - cr.begin) * sizeof(float));
          }
        }
        for (int64_t d = 0; d < D; ++d) {
          if (d > 0) sync();  // the previous direction's GEMMs are done with dAt and pack_h
          if (d == 0) pack_share(pack, in, x_row, tid, nt);
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
          // dW [H, width] (+)= dA_d^T (packed operand): dAt rows against the pack.
          GemmParams p{};
          p.m = H, p.k = T * N, p.a = dAt, p.lda = T * N, p.n_begin = 0, p.accumulate = b.accumulate;
          p.b = pack, p.n_end = in, p.ldc = in, p.c = grad(m.cells[l * D + d].off_w_ih);
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
          p.m = T * N, p.k = H, p.a = dY + d * H, p.lda = dh, p.b = m.cells[l * D + d].w_ih_bwd.data.get();
          p.n_begin = 0, p.n_end = in, p.c = dst, p.ldc = in;
          p.accumulate = d > 0 ? 1 : (l == 0 ? b.accumulate : 0);
          gemm_share(kt, p, tid, nt);
        }
      // dh0 = dA at each sequence's first step, times W_hh.
      for (int64_t d = 0; d < D && b.dh0; ++d) {
        GemmParams p{};
        p.k = H, p.b = m.cells[l * D + d].w_hh_bwd.data.get(), p.n_begin = 0, p.n_end = H;
        p.accumulate = b.accumulate;
        const bool uniform = d == 0 || !fa.seq_lens;
        const int64_t t_first = d == 0 ? 0 : T - 1;
        for (int64_t n = 0; n < N; n += uniform ? N : 1) {
          p.m = uniform ? N : 1;
          p.a = dY + rows.at(uniform ? t_first : len(n) - 1, n) * dh + d * H;
          p.lda = rows.n_stride * dh;
          p.c = b.dh0 + ((l * D + d) * N + n) * H;
          p.ldc = H;
          gemm_share(kt, p, tid, nt);
        }
      }
    });
    lap(t_dx);
    if (l > 0) std::swap(dY, dXn);
  }
};

// The weight-gradient packs: a layer's input X (or the output layer's Y,
// dh wide) and, from the next panel boundary, one direction's H_prev.
int64_t pack_floats(const Model& model, int64_t rows) {
  const int64_t pw = model.kernels->panel_width, H = model.config.hidden_size;
  return checked_product(
      {rows,
       round_up(std::max<int64_t>(model.config.input_size, model.directions * H), pw) + round_up(H, pw)});
}

struct BackwardBuffers {
  float *dY, *dXn, *pack, *dAt;
};

int64_t backward_layout(const Model& model, int64_t seq_len, int64_t batch, void* base,
                        BackwardBuffers* out) {
  const simdrnn_config& c = model.config;
  const int64_t rows = checked_product({seq_len, batch});
  const int64_t layer = checked_product({rows, model.directions, c.hidden_size});
  BufferLayout layout(base);
  BackwardBuffers b{};
  b.dY = layout.take<float>(layer);
  b.dXn = c.num_layers >= 2 ? layout.take<float>(layer) : nullptr;
  b.pack = layout.take<float>(pack_floats(model, rows));
  b.dAt = layout.take<float>(checked_product({rows, c.hidden_size}));
  if (out) *out = b;
  return layout.bytes();
}

}  // namespace

int64_t training_reserve_layout(const Model& model, int64_t seq_len, int64_t batch, void* base,
                                TrainingSink* sink) {
  const int64_t L = model.config.num_layers;
  const int64_t layer = checked_product({seq_len, batch, model.directions, model.config.hidden_size});
  const bool masks = model.config.clip > 0.0f;
  BufferLayout layout(base);
  TrainingSink s{};
  s.header = layout.take<ReserveHeader>(1);
  s.lens = layout.take<int64_t>(batch);
  s.h0 = layout.take<float>(checked_product({L, model.directions, batch, model.config.hidden_size}));
  for (int64_t l = 0; l < L && l < kMaxTrainingLayers; ++l) s.h[l] = layout.take<float>(layer);
  for (int64_t l = 0; l < L && l < kMaxTrainingLayers && masks; ++l) s.mask[l] = layout.take<uint8_t>(layer);
  if (sink) *sink = s;
  return layout.bytes();
}

int64_t backward_workspace_bytes(const Model& model, int64_t seq_len, int64_t batch) {
  return backward_layout(model, seq_len, batch, nullptr, nullptr);
}

void run_backward(const Model& model, const simdrnn_backward_args& b, int32_t threads,
                  const char* call_name) {
  using Clock = std::chrono::steady_clock;
  const bool verbose = verbose_enabled();
  const Clock::time_point start = verbose ? Clock::now() : Clock::time_point{};
  const simdrnn_forward_args& fa = *b.forward;
  const simdrnn_config& c = model.config;
  const int64_t T = fa.seq_len, N = fa.batch, H = c.hidden_size, D = model.directions, dh = D * H;
  // No more threads than cores (the pool's cap) or than tiny work can use:
  // below ~1 us of multiply-adds one thread does it all.
  const int64_t macs = T * N * D * H * (c.input_size + 2 * H) * 2;
  const int64_t team =
      macs < (int64_t{1} << 17) ? 1 : std::min<int64_t>(std::max<int64_t>(1, threads), threads::cores());
  BackwardBuffers buf;
  backward_layout(model, T, N, b.workspace, &buf);
  Backward bw{model,
              b,
              fa,
              *model.kernels,
              T,
              N,
              H,
              D,
              c.num_layers,
              dh,
              c.output_size,
              c.input_size,
              team,
              engine::rows_for(fa.layout, T, N),
              TrainingSink{},
              buf.dY,
              buf.dXn,
              buf.pack,
              buf.dAt,
              verbose};
  bw.mark = start;
  training_reserve_layout(model, T, N, const_cast<void*>(b.reserve), &bw.saved);
  bw.output_layer();
  for (int64_t l = c.num_layers - 1; l >= 0; --l) bw.layer(l);
  if (verbose)
    verbose_line(
        "%s,isa=%s,threads=%lld,shape=t%lldn%lldi%lldh%lldl%lldd%lldo%lld,layout=%s,lens=%d,out_us=%.1f,"
        "rec_us=%.1f,dW_us=%.1f,dX_us=%.1f,total_us=%.1f",
        call_name, model.kernels->name, static_cast<long long>(team), static_cast<long long>(T),
        static_cast<long long>(N), static_cast<long long>(c.input_size), static_cast<long long>(H),
        static_cast<long long>(c.num_layers), static_cast<long long>(D),
        static_cast<long long>(c.output_size), fa.layout == SIMDRNN_TIME_MAJOR ? "tnc" : "ntc",
        fa.seq_lens ? 1 : 0, bw.t_out, bw.t_rec, bw.t_dw, bw.t_dx,
        std::chrono::duration<double, std::micro>(Clock::now() - start).count());
}

}  // namespace simdrnn
