// The forward engine (DESIGN.md §2): per layer, phase A projects every time
// step's input in one GEMM straight into the layer's output buffer; phase B
// walks time and overwrites each step's projection in place with the new
// hidden state, every thread owning a fixed slice of hidden units (so its
// W_hh panels stay in its own cache) with one spin barrier per step; phase C
// applies the output layer as one more GEMM. The whole call is one parallel
// region; bidirectional layers run their two directions on two thread groups
// at once. Nothing here allocates, locks or makes a system call (unless the
// verbose line is on, or a barrier waits long enough to yield its core).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "src/buffer_layout.hpp"
#include "src/engine.hpp"
#include "src/internal.hpp"

namespace simdrnn {
namespace {

using engine::gemm_share;
using engine::padded_bytes;
using engine::Range;
using engine::Recurrence;
using engine::Rows;
using engine::SpinBarrier;
using engine::split;
using kernels::GemmParams;
using kernels::KernelTable;

using Clock = std::chrono::steady_clock;
double micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// Everything one call needs, shared by the threads of its parallel region.
struct Call {
  const Model& model;
  const simdrnn_forward_args& a;
  const KernelTable& kt;
  const TrainingSink* training;  // forward_training: every layer's h and mask, else null
  int64_t T, N, H, D, L, dh, O;
  Rows rows;
  float* y;             // last layer's output (caller's y, workspace, or the reserve)
  float* intermediate;  // other layers' outputs (L >= 2, inference)
  int64_t team;         // threads in the region
  int64_t groups;       // 2: bidirectional directions run concurrently
  SpinBarrier all, group0, group1;
  bool verbose;
  double phase_a = 0, phase_b = 0, phase_c = 0;

  float* layer_output(int64_t l) const {
    if (training) return training->h[l];
    return ((L - 1 - l) % 2 == 0) ? y : intermediate;
  }

  Recurrence recurrence(int64_t l, int64_t d, float* dst) const {
    const Cell& cell = model.cells[l * D + d];
    uint8_t* mask = training && model.config.clip > 0.0f ? training->mask[l] : nullptr;
    return Recurrence{&kt,
                      cell.w_hh.data.get(),
                      T,
                      N,
                      H,
                      dh,
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

  // Zero the padding steps and record h_n for layer l (h_n written after the
  // layer's last read of h0[l], so h_n may alias h0).
  void finish_layer(int64_t l, float* dst, int64_t tid, int64_t nt) const {
    const Range nr = split(N, nt, tid);
    for (int64_t n = nr.begin; n < nr.end; ++n) {
      const int64_t len = a.seq_lens ? a.seq_lens[n] : T;
      for (int64_t t = len; t < T; ++t)
        std::memset(dst + rows.at(t, n) * dh, 0, static_cast<size_t>(dh) * sizeof(float));
      if (a.h_n)
        for (int64_t d = 0; d < D; ++d)
          std::memcpy(a.h_n + ((l * D + d) * N + n) * H, dst + rows.at(d == 0 ? len - 1 : 0, n) * dh + d * H,
                      static_cast<size_t>(H) * sizeof(float));
    }
  }

  // True when gemm_share splits phase A by the same column panels that
  // Recurrence::run gives each thread (one group, column split).
  bool a_columns_are_b_columns(int64_t nt) const {
    const int64_t panels = (H + kt.panel_width - 1) / kt.panel_width;
    return groups == 1 && engine::splits_by_columns(kt, panels, T * N, nt);
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
      for (int64_t d = 0; d < D; ++d) {  // phase A: all threads, both directions
        GemmParams p{};
        p.m = T * N;
        p.k = src_width;
        p.a = src;
        p.lda = src_width;
        p.b = model.cells[l * D + d].w_ih.data.get();
        p.n_begin = 0;
        p.n_end = H;
        p.c = dst + d * H;
        p.ldc = dh;
        p.bias = model.cells[l * D + d].bias.get();
        gemm_share(kt, p, tid, nt);
      }
      // Phase B reads only the projections of its own columns; when phase A
      // gave this thread exactly those columns no barrier is needed between.
      if (nt > 1 && !a_columns_are_b_columns(nt)) all.wait(ticket_all, nt);
      Clock::time_point t1 = timer ? Clock::now() : Clock::time_point{};
      if (groups == 2 && nt > 1) {  // phase B, one direction per group
        const int64_t g = tid < g_split ? 0 : 1;
        recurrence(l, g, dst).run(g == 0 ? tid : tid - g_split, g == 0 ? g_split : nt - g_split,
                                  g == 0 ? group0 : group1, ticket_group);
      } else {
        for (int64_t d = 0; d < D; ++d) recurrence(l, d, dst).run(tid, nt, group0, ticket_group);
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
      src_width = dh;
    }
    if (training && a.y) {  // the reserve held the last layer; the caller wants it in y
      const Range r = split(T * N, nt, tid);
      std::memcpy(a.y + r.begin * dh, y + r.begin * dh,
                  static_cast<size_t>((r.end - r.begin) * dh) * sizeof(float));
    }
    if (O > 0 && a.out) {  // phase C
      GemmParams p{};
      p.m = T * N;
      p.k = dh;
      p.a = y;
      p.lda = dh;
      p.b = model.w_hy.data.get();
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
                                 float** y_stand_in, float** intermediate) {
  const simdrnn_config& c = model.config;
  const int64_t layer_out = checked_product({seq_len, batch, model.directions, c.hidden_size});
  BufferLayout layout(base);
  float* y = have_y ? nullptr : layout.take<float>(layer_out);
  float* mid = c.num_layers >= 2 ? layout.take<float>(layer_out) : nullptr;
  if (y_stand_in) *y_stand_in = y;
  if (intermediate) *intermediate = mid;
  return layout.bytes();
}

void run_forward(const Model& model, const simdrnn_forward_args& a, int32_t threads,
                 const TrainingSink* training, const char* call_name) {
  const bool verbose = verbose_enabled();
  const Clock::time_point start = verbose ? Clock::now() : Clock::time_point{};
  const simdrnn_config& c = model.config;
  const KernelTable& kt = *model.kernels;
  const int64_t T = a.seq_len, N = a.batch, H = c.hidden_size, D = model.directions;
  const int64_t dh = D * H;

  // Inference: layer outputs ping-pong between y (or its workspace stand-in)
  // and one intermediate buffer, arranged so that the last layer lands in y.
  // Training: every layer's output goes to its slot in the reserve.
  float* y = a.y;
  float* intermediate = nullptr;
  if (training) {
    y = training->h[c.num_layers - 1];
  } else {
    float* stand_in = nullptr;
    forward_workspace_layout(model, T, N, a.y != nullptr, a.workspace, &stand_in, &intermediate);
    if (!y) y = stand_in;
  }

  // No more threads than the recurrence can use: panels of W_hh per direction
  // (both directions at once when bidirectional), and one thread for tiny work.
  const int64_t panels = (H + kt.panel_width - 1) / kt.panel_width;
  const int64_t flops = T * N * dh * (c.input_size + H);
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
            training,
            T,
            N,
            H,
            D,
            c.num_layers,
            dh,
            c.output_size,
            engine::rows_for(a.layout, T, N),
            y,
            intermediate,
            team,
            groups,
            {},
            {},
            {},
            verbose};
  const int64_t ran = run_team(
      team, [&](int64_t tid, int64_t nt) { call.thread_body(tid, nt); }, wake);

  if (verbose)
    verbose_line(
        "%s,isa=%s,threads=%lld,shape=t%lldn%lldi%lldh%lldl%lldd%lldo%lld,layout=%s,lens=%d,A_us=%.1f,"
        "B_us=%.1f,C_us=%.1f,total_us=%.1f",
        call_name, kt.name, static_cast<long long>(ran), static_cast<long long>(T), static_cast<long long>(N),
        static_cast<long long>(c.input_size), static_cast<long long>(H), static_cast<long long>(c.num_layers),
        static_cast<long long>(D), static_cast<long long>(c.output_size),
        a.layout == SIMDRNN_TIME_MAJOR ? "tnc" : "ntc", a.seq_lens ? 1 : 0, call.phase_a, call.phase_b,
        call.phase_c, micros(start, Clock::now()));
}

}  // namespace simdrnn
