// The forward engine (docs/design.md, "Phases"): per layer, phase A projects
// every time step's input in one GEMM (the Elman cell straight into the
// layer's output buffer, gated cells into a buffer of gate pre-activations);
// phase B walks time, every thread owning a fixed slice of hidden units (so
// its W_hh panels stay in its own cache) with one spin barrier per step
// (engine::Recurrence for the Elman cell, engine::GatedWalk for LSTM and
// GRU); phase C applies the output layer as one more GEMM. The whole call is
// one parallel region; bidirectional layers run their two directions on two
// thread groups at once. Nothing here allocates, locks or makes a system call
// (unless the verbose line is on, or a barrier waits long enough to sleep).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "src/buffer_layout.hpp"
#include "src/cell.hpp"
#include "src/engine.hpp"
#include "src/gated_walk.hpp"
#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {
namespace {

using engine::GatedWalk;
using engine::gemm_share;
using engine::Range;
using engine::Recurrence;
using engine::RowBuffer;
using engine::Rows;
using engine::SpinBarrier;
using engine::split;
using kernels::GemmParams;
using kernels::KernelTable;

using Clock = std::chrono::steady_clock;
double micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// Widths of one call's buffers, in floats per (t, n) row.
struct Widths {
  int64_t G, hp;  // gates, units padded to whole panels
  int64_t out;    // a layer's output: D * H_out
  int64_t gates;  // D * G * hp (gated cells)
  int64_t state;  // D * H: c, o * tanh(c), r * h
};
Widths widths_of(const Model& m) {
  const simdrnn_config& c = m.config;
  const int64_t G = cell_desc(c.cell).gate_count, hp = round_up(c.hidden_size, m.kernels->panel_width);
  return {G, hp, m.directions * hidden_out(c), m.directions * G * hp, m.directions * c.hidden_size};
}

// Everything one call needs, shared by the threads of its parallel region.
struct Call {
  const Model& model;
  const simdrnn_forward_args& a;
  const KernelTable& kt;
  const CellDesc& desc;
  const TrainingSink* training;  // forward_training: every layer's h and mask, else null
  int64_t T, N, H, Hout, D, L, O;
  Widths w;
  Rows rows;
  float* y;             // last layer's output (caller's y, workspace, or the reserve)
  float* intermediate;  // other layers' outputs (L >= 2, inference)
  ForwardBuffers buf;   // gated cells' per-layer buffers (reused layer after layer)
  int64_t groups;       // 2: bidirectional directions run concurrently
  SpinBarrier all, group0, group1;
  bool verbose;
  double phase_a = 0, phase_b = 0, phase_c = 0;

  bool gated() const { return desc.gate_count > 1; }

  float* layer_output(int64_t l) const {
    if (training) return training->layer[l].h;
    return ((L - 1 - l) % 2 == 0) ? y : intermediate;
  }

  Recurrence recurrence(int64_t l, int64_t d, float* dst) const {
    const Cell& cell = model.cells[l * D + d];
    uint8_t* mask = training && model.config.clip > 0.0f ? training->layer[l].mask : nullptr;
    return Recurrence{&kt,
                      &cell.w_hh,
                      T,
                      N,
                      H,
                      w.out,
                      d * H,
                      d == 0,
                      rows,
                      dst,
                      a.h0 ? a.h0 + (l * D + d) * N * H : nullptr,
                      model.zeros.get(),
                      a.seq_lens,
                      static_cast<int32_t>(model.config.activation) + 1,
                      model.config.clip,
                      nullptr,
                      mask,
                      mask ? 1 : 0};
  }

  // A gated layer's buffers: the workspace's, reused layer after layer, or
  // for forward_training the layer's slots in the reserve (the one-step
  // recurrent products stay in the workspace unless backward needs them).
  struct GatedBuffers {
    float *gates, *rec, *c, *r, *rh;
    bool rec_per_step;
    uint8_t* mask;
  };
  GatedBuffers gated_buffers(int64_t l) const {
    if (!training) return {buf.gates, buf.rec, buf.c, buf.r, buf.rh, true, nullptr};
    const SavedLayer& s = training->layer[l];
    return {s.gates, s.rec ? s.rec : buf.rec, s.c, s.r, s.rh, s.rec == nullptr, s.mask};
  }

  GatedWalk gated_walk(int64_t l, int64_t d, float* dst) const {
    const int64_t state_col = d * H;
    const GatedBuffers g = gated_buffers(l);
    return GatedWalk{&kt,
                     &desc,
                     &model.cells[l * D + d],
                     T,
                     N,
                     H,
                     Hout,
                     model.config.proj_size,
                     d == 0,
                     desc.kind == SIMDRNN_CELL_GRU && !model.config.gru_linear_before_reset,
                     rows,
                     RowBuffer{dst, w.out, d * Hout},
                     RowBuffer{g.gates, w.gates, d * w.G * w.hp},
                     RowBuffer{g.rec, w.gates, d * w.G * w.hp},
                     g.rec_per_step,
                     RowBuffer{g.c, w.state, state_col},
                     RowBuffer{g.r, w.state, state_col},
                     RowBuffer{g.rh, w.state, state_col},
                     g.mask,
                     a.h0 ? a.h0 + (l * D + d) * N * Hout : nullptr,
                     a.c0 ? a.c0 + (l * D + d) * N * H : nullptr,
                     model.zeros.get(),
                     a.seq_lens,
                     model.config.clip,
                     training ? 1 : 0};
  }

  // Phase A: the input projection of every step, this thread's share.
  void project_inputs(int64_t l, const float* src, int64_t src_width, float* dst, int64_t tid,
                      int64_t nt) const {
    for (int64_t d = 0; d < D; ++d) {
      const Cell& cell = model.cells[l * D + d];
      GemmParams p{};
      p.m = T * N;
      p.k = src_width;
      p.a = src;
      p.lda = src_width;
      set_b(p, cell.w_ih);
      p.n_begin = 0;
      p.bias = cell.bias.get();
      if (gated()) {
        p.n_end = w.G * w.hp;
        p.c = gated_buffers(l).gates + d * w.G * w.hp;
        p.ldc = w.gates;
      } else {
        p.n_end = H;
        p.c = dst + d * H;
        p.ldc = w.out;
      }
      gemm_share(kt, p, tid, nt);
    }
  }

  // Phase B for `members` threads on direction d (or every direction in turn).
  void walk(int64_t l, int64_t d, float* dst, int64_t member, int64_t members, SpinBarrier& barrier,
            uint32_t& ticket) const {
    if (gated())
      gated_walk(l, d, dst).run(member, members, barrier, ticket);
    else
      recurrence(l, d, dst).run(member, members, barrier, ticket);
  }

  // Zero the padding steps and record h_n (and c_n) for layer l, after the
  // layer's last read of h0[l] / c0[l], so h_n may alias h0 and c_n c0.
  void finish_layer(int64_t l, float* dst, int64_t tid, int64_t nt) const {
    const Range nr = split(N, nt, tid);
    for (int64_t n = nr.begin; n < nr.end; ++n) {
      const int64_t len = a.seq_lens ? a.seq_lens[n] : T;
      for (int64_t t = len; t < T; ++t)
        std::memset(dst + rows.at(t, n) * w.out, 0, static_cast<size_t>(w.out) * sizeof(float));
      for (int64_t d = 0; d < D; ++d) {
        const int64_t t_last = d == 0 ? len - 1 : 0;
        if (a.h_n)
          std::memcpy(a.h_n + ((l * D + d) * N + n) * Hout, dst + rows.at(t_last, n) * w.out + d * Hout,
                      static_cast<size_t>(Hout) * sizeof(float));
        if (a.c_n)
          std::memcpy(a.c_n + ((l * D + d) * N + n) * H,
                      gated_buffers(l).c + rows.at(t_last, n) * w.state + d * H,
                      static_cast<size_t>(H) * sizeof(float));
      }
    }
  }

  // True when gemm_share splits phase A by the same column panels that
  // Recurrence::run gives each thread (Elman cell, one group, column split).
  bool a_columns_are_b_columns(int64_t nt) const {
    const int64_t panels = (H + kt.panel_width - 1) / kt.panel_width;
    return !gated() && groups == 1 && engine::splits_by_columns(kt, panels, T * N, nt);
  }

  void thread_body(int64_t tid, int64_t nt) {
    uint32_t ticket_all = 0, ticket_group = 0;
    const bool timer = verbose && tid == 0;
    Clock::time_point t0 = timer ? Clock::now() : Clock::time_point{};
    const float* src = a.x;
    int64_t src_width = model.config.input_size;
    const int64_t g_split = nt / 2;
    for (int64_t l = 0; l < L; ++l) {
      float* dst = layer_output(l);
      project_inputs(l, src, src_width, dst, tid, nt);
      // Phase B reads only the projections of its own columns; when phase A
      // gave this thread exactly those columns no barrier is needed between.
      if (nt > 1 && !a_columns_are_b_columns(nt)) all.wait(ticket_all, nt);
      Clock::time_point t1 = timer ? Clock::now() : Clock::time_point{};
      if (groups == 2 && nt > 1) {  // one direction per group
        const int64_t g = tid < g_split ? 0 : 1;
        walk(l, g, dst, g == 0 ? tid : tid - g_split, g == 0 ? g_split : nt - g_split,
             g == 0 ? group0 : group1, ticket_group);
      } else {
        for (int64_t d = 0; d < D; ++d) walk(l, d, dst, tid, nt, group0, ticket_group);
      }
      if (nt > 1) all.wait(ticket_all, nt);
      finish_layer(l, dst, tid, nt);
      // The next layer's phase A, the reserve copy and phase C read every
      // column of this layer's output; after the last layer with none of
      // them, the region's end is the barrier (one-step stream calls).
      if (nt > 1 && (l + 1 < L || (O > 0 && a.out) || (training && a.y))) all.wait(ticket_all, nt);
      if (timer) {
        const Clock::time_point t2 = Clock::now();
        phase_a += micros(t0, t1);
        phase_b += micros(t1, t2);
        t0 = t2;
      }
      src = dst;
      src_width = w.out;
    }
    if (training && a.y) {  // the reserve held the last layer; the caller wants it in y
      const Range r = split(T * N, nt, tid);
      std::memcpy(a.y + r.begin * w.out, y + r.begin * w.out,
                  static_cast<size_t>((r.end - r.begin) * w.out) * sizeof(float));
    }
    if (O > 0 && a.out) {  // phase C
      GemmParams p{};
      p.m = T * N;
      p.k = w.out;
      p.a = y;
      p.lda = w.out;
      set_b(p, model.w_hy);
      p.n_begin = 0;
      p.n_end = O;
      p.c = a.out;
      p.ldc = O;
      p.bias = model.b_hy.get();
      gemm_share(kt, p, tid, nt);
      if (a.seq_lens) {
        if (nt > 1) all.wait(ticket_all, nt);
        const Range nr = split(N, nt, tid);
        for (int64_t n = nr.begin; n < nr.end; ++n)
          for (int64_t t = a.seq_lens[n]; t < T; ++t)
            std::memset(a.out + rows.at(t, n) * O, 0, static_cast<size_t>(O) * sizeof(float));
      }
      if (timer) phase_c = micros(t0, Clock::now());
    }
  }
};

}  // namespace

int64_t forward_workspace_layout(const Model& model, int64_t seq_len, int64_t batch, bool have_y, void* base,
                                 ForwardBuffers* out) {
  const simdrnn_config& c = model.config;
  const CellDesc& desc = cell_desc(c.cell);
  const Widths w = widths_of(model);
  const int64_t rows = checked_product({seq_len, batch});
  const int64_t layer_out = checked_product({rows, w.out});
  BufferLayout layout(base);
  ForwardBuffers b{};
  b.y_stand_in = have_y ? nullptr : layout.take<float>(layer_out);
  b.intermediate = c.num_layers >= 2 ? layout.take<float>(layer_out) : nullptr;
  if (desc.gate_count > 1) {
    const int64_t state = checked_product({rows, w.state});
    b.gates = layout.take<float>(checked_product({rows, w.gates}));
    b.rec = layout.take<float>(checked_product({batch, w.gates}));  // one step's recurrent products
    if (desc.cell_state) b.c = layout.take<float>(state);
    if (c.proj_size > 0) b.r = layout.take<float>(state);
    if (desc.kind == SIMDRNN_CELL_GRU && !c.gru_linear_before_reset) b.rh = layout.take<float>(state);
  }
  if (out) *out = b;
  return layout.bytes();
}

void run_forward(const Model& model, const simdrnn_forward_args& a, int32_t threads,
                 const TrainingSink* training, const char* call_name) {
  const bool verbose = verbose_enabled();
  const Clock::time_point start = verbose ? Clock::now() : Clock::time_point{};
  const simdrnn_config& c = model.config;
  const KernelTable& kt = *model.kernels;
  const CellDesc& desc = cell_desc(c.cell);
  const int64_t T = a.seq_len, N = a.batch, H = c.hidden_size, Hout = hidden_out(c), D = model.directions;

  // Inference: layer outputs ping-pong between y (or its workspace stand-in)
  // and one intermediate buffer, arranged so that the last layer lands in y.
  // Training: every layer's output goes to its slot in the reserve.
  ForwardBuffers buf{};
  forward_workspace_layout(model, T, N, a.y != nullptr, a.workspace, &buf);
  float* y = training ? training->layer[c.num_layers - 1].h : a.y ? a.y : buf.y_stand_in;

  // No more threads than the recurrence can use: unit panels per direction
  // (both directions at once when bidirectional), and one thread for tiny work.
  const int64_t panels = (H + kt.panel_width - 1) / kt.panel_width;
  const int64_t flops = T * N * D * desc.gate_count * H * (c.input_size + Hout);
  int64_t team = std::min<int64_t>(threads, D * panels);
  // Below ~1 us of FMA work a parallel region and its barrier cost more; a
  // one-step call at H = 256 (2^17 FLOPs) streams 512 KiB of weights, 3.5 us
  // on two cores against 4.9 on one (simdrnn-bench stream suite).
  if (flops < (int64_t{1} << 17)) team = 1;
  // Waking a sleeping worker takes tens of microseconds: only calls of about
  // 50 us or more on one core (4M multiply-adds) are worth it. Smaller calls
  // use workers only while they still spin from a previous call.
  const bool wake = flops >= (int64_t{1} << 22);
  const int64_t groups = (D == 2 && team >= 2) ? 2 : 1;

  Call call{model,
            a,
            kt,
            desc,
            training,
            T,
            N,
            H,
            Hout,
            D,
            c.num_layers,
            c.output_size,
            widths_of(model),
            engine::rows_for(a.layout, T, N),
            y,
            buf.intermediate,
            buf,
            groups,
            {},
            {},
            {},
            verbose};
  const int64_t ran = run_team(
      team, [&](int64_t tid, int64_t nt) { call.thread_body(tid, nt); }, wake);

  if (verbose) {
    char shape[160];
    std::snprintf(shape, sizeof shape, "t%lldn%lldi%lldh%lldl%lldd%lldo%lld", static_cast<long long>(T),
                  static_cast<long long>(N), static_cast<long long>(c.input_size), static_cast<long long>(H),
                  static_cast<long long>(c.num_layers), static_cast<long long>(D),
                  static_cast<long long>(c.output_size));
    if (c.proj_size > 0)
      std::snprintf(shape + std::strlen(shape), sizeof shape - std::strlen(shape), "p%lld",
                    static_cast<long long>(c.proj_size));
    verbose_line(
        "%s,isa=%s,threads=%lld,cell=%s,shape=%s,layout=%s,lens=%d,A_us=%.1f,B_us=%.1f,C_us=%.1f,total_us=%."
        "1f",
        call_name, kt.name, static_cast<long long>(ran), desc.name, shape,
        a.layout == SIMDRNN_TIME_MAJOR ? "tnc" : "ntc", a.seq_lens ? 1 : 0, call.phase_a, call.phase_b,
        call.phase_c, micros(start, Clock::now()));
  }
}

}  // namespace lib
}  // namespace simdrnn
