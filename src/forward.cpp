// The forward engine (DESIGN.md §2): per layer, phase A projects every time
// step's input in one GEMM straight into the layer's output buffer; phase B
// walks time and overwrites each step's projection in place with the new
// hidden state, every thread owning a fixed slice of hidden units (so its
// W_hh panels stay in its own cache) with one spin barrier per step; phase C
// applies the output layer as one more GEMM. The whole call is one parallel
// region; bidirectional layers run their two directions on two thread groups
// at once. Nothing here allocates, locks or makes a system call (unless the
// verbose line is on, or a barrier waits long enough to yield its core).
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "src/internal.hpp"

namespace simdrnn {
namespace {

using kernels::GemmParams;
using kernels::KernelTable;

// Row of element (t, n) in a [T, N, C] or [N, T, C] tensor, in units of C.
struct Rows {
  int64_t t_stride, n_stride;
  int64_t at(int64_t t, int64_t n) const { return t * t_stride + n * n_stride; }
};

struct Range {
  int64_t begin, end;
};
Range split(int64_t count, int64_t parts, int64_t i) { return {count * i / parts, count * (i + 1) / parts}; }

// Sense-reversing spin barrier for a fixed set of threads. A step of the
// recurrence lasts microseconds, far below what a futex round trip costs;
// after a long wait (an oversubscribed machine) it yields the core.
class alignas(64) SpinBarrier {
 public:
  explicit SpinBarrier(int participants) : participants_(participants) {}
  void wait(bool& local_sense) {
    local_sense = !local_sense;
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == participants_ - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      sense_.store(local_sense, std::memory_order_release);
      return;
    }
    for (uint32_t spins = 0; sense_.load(std::memory_order_acquire) != local_sense; ++spins) {
      __builtin_ia32_pause();
      if (spins > (1u << 12)) sched_yield();  // ~0.1 ms: the partner lost its core
    }
  }

 private:
  std::atomic<int> arrived_{0};
  alignas(64) std::atomic<bool> sense_{false};
  int participants_;
};

// This thread's share of a GEMM: by column panels, or by rows when there are
// fewer panels than threads. Every element's arithmetic is the same either way.
void gemm_share(const KernelTable& kt, const GemmParams& base, int64_t tid, int64_t nt) {
  const int64_t pw = kt.panel_width;
  const int64_t panels = (base.n_end - base.n_begin + pw - 1) / pw;
  GemmParams p = base;
  if (panels >= nt || base.m < nt) {
    const Range r = split(panels, nt, tid);
    p.n_begin = base.n_begin + r.begin * pw;
    p.n_end = std::min(base.n_end, base.n_begin + r.end * pw);
    if (r.begin < r.end) kt.gemm(p);
  } else {
    const Range r = split(base.m, nt, tid);
    p.m = r.end - r.begin;
    p.a += r.begin * base.lda;
    p.c += r.begin * base.ldc;
    if (p.m > 0) kt.gemm(p);
  }
}

// Phase B for one layer and direction: dst holds P = x W_ih^T + b on entry
// (columns d*H .. d*H+H-1 of each D*H-wide row) and h on exit.
struct Recurrence {
  const KernelTable* kt;
  const Cell* cell;
  int64_t T, N, H, dh, column;  // column = d * H
  bool forward;
  Rows rows;
  float* dst;
  const float* h0;      // [N, H] for this layer/direction, or null (zeros)
  const int64_t* lens;  // [N] or null
  int32_t activation;
  float clip;

  // Rows of step t fall into classes: 0 padding (skipped), 1 previous state
  // read from dst, 2 previous state is h0 (the sequence starts here).
  int row_class(int64_t t, int64_t n) const {
    const int64_t len = lens ? lens[n] : T;
    if (t >= len) return 0;
    return (forward ? t == 0 : t == len - 1) ? 2 : 1;
  }

  void run_rows(GemmParams& p, int64_t t, int64_t n0, int64_t n1, int cls) const {
    p.m = n1 - n0;
    p.c = dst + rows.at(t, n0) * dh + column;
    p.ldc = rows.n_stride * dh;
    if (cls == 2) {
      p.k = h0 ? H : 0;
      p.a = h0 ? h0 + n0 * H : nullptr;
      p.lda = H;
    } else {
      const int64_t tprev = forward ? t - 1 : t + 1;
      p.k = H;
      p.a = dst + rows.at(tprev, n0) * dh + column;
      p.lda = rows.n_stride * dh;
    }
    kt->gemm(p);
  }

  // Thread `member` of a group of `members` computes its slice of hidden
  // units for every step; the group's barrier orders the steps.
  void run(int64_t member, int64_t members, SpinBarrier& barrier, bool& sense) const {
    const int64_t pw = kt->panel_width;
    const Range r = split((H + pw - 1) / pw, members, member);
    GemmParams p{};
    p.b = cell->w_hh.data.get();
    p.n_begin = r.begin * pw;
    p.n_end = std::min(H, r.end * pw);
    p.accumulate = 1;
    p.activation = activation;
    p.clip = clip;
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = forward ? s : T - 1 - s;
      if (!lens) {
        run_rows(p, t, 0, N, s == 0 ? 2 : 1);
      } else {
        for (int64_t n = 0; n < N;) {
          const int cls = row_class(t, n);
          int64_t e = n + 1;
          while (e < N && row_class(t, e) == cls) ++e;
          if (cls != 0) run_rows(p, t, n, e, cls);
          n = e;
        }
      }
      if (members > 1) barrier.wait(sense);
    }
  }
};

float* align64(void* p) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(p);
  return reinterpret_cast<float*>((v + 63) & ~uintptr_t{63});
}

int64_t padded_bytes(int64_t floats) { return round_up(floats * int64_t{sizeof(float)}, 64); }

using Clock = std::chrono::steady_clock;
double micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// Everything one call needs, shared by the threads of its parallel region.
struct Call {
  const Model& model;
  const simdrnn_forward_args& a;
  const KernelTable& kt;
  int64_t T, N, H, D, L, dh, O;
  Rows rows;
  float* y;             // last layer's output (caller's y or workspace)
  float* intermediate;  // other layers' outputs (L >= 2)
  int64_t team;         // threads in the region
  int64_t groups;       // 2: bidirectional directions run concurrently
  SpinBarrier all, group0, group1;
  bool verbose;
  double phase_a = 0, phase_b = 0, phase_c = 0;

  float* layer_output(int64_t l) const { return ((L - 1 - l) % 2 == 0) ? y : intermediate; }

  Recurrence recurrence(int64_t l, int64_t d, float* dst) const {
    return Recurrence{&kt, &model.cells[l * D + d], T, N, H, dh, d * H, d == 0, rows, dst,
                      a.h0 ? a.h0 + (l * D + d) * N * H : nullptr, a.seq_lens,
                      static_cast<int32_t>(model.config.activation) + 1, model.config.clip};
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

  void thread_body(int64_t tid) {
    bool sense_all = false, sense_group = false;
    const bool timer = verbose && tid == 0;
    Clock::time_point t0 = timer ? Clock::now() : Clock::time_point{};
    const float* src = a.x;
    int64_t src_width = model.config.input_size;
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
        gemm_share(kt, p, tid, team);
      }
      if (team > 1) all.wait(sense_all);
      Clock::time_point t1 = timer ? Clock::now() : Clock::time_point{};
      if (groups == 2) {  // phase B, one direction per group
        const int64_t g = tid < team / 2 ? 0 : 1;
        recurrence(l, g, dst).run(g == 0 ? tid : tid - team / 2, g == 0 ? team / 2 : team - team / 2,
                                  g == 0 ? group0 : group1, sense_group);
      } else {
        for (int64_t d = 0; d < D; ++d) recurrence(l, d, dst).run(tid, team, group0, sense_group);
      }
      if (team > 1) all.wait(sense_all);
      finish_layer(l, dst, tid, team);
      if (team > 1) all.wait(sense_all);
      if (timer) {
        const Clock::time_point t2 = Clock::now();
        phase_a += micros(t0, t1);
        phase_b += micros(t1, t2);
        t0 = t2;
      }
      src = dst;
      src_width = dh;
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
      gemm_share(kt, p, tid, team);
      if (a.seq_lens) {
        if (team > 1) all.wait(sense_all);
        const Range nr = split(N, team, tid);
        for (int64_t n = nr.begin; n < nr.end; ++n)
          for (int64_t t = a.seq_lens[n]; t < T; ++t)
            std::memset(a.out + rows.at(t, n) * O, 0, static_cast<size_t>(O) * sizeof(float));
      }
      if (timer) phase_c = micros(t0, Clock::now());
    }
  }
};

}  // namespace

int64_t workspace_bytes(const Model& model, int64_t seq_len, int64_t batch, bool have_y) {
  const simdrnn_config& c = model.config;
  const int64_t layer_out = seq_len * batch * model.directions * c.hidden_size;
  int64_t bytes = 0;
  if (!have_y) bytes += padded_bytes(layer_out);
  if (c.num_layers >= 2) bytes += padded_bytes(layer_out);
  return bytes ? bytes + 64 : 0;  // + slack to align the caller's pointer
}

void run_forward(const Model& model, const simdrnn_forward_args& a, int32_t threads) {
  const bool verbose = verbose_enabled();
  const Clock::time_point start = verbose ? Clock::now() : Clock::time_point{};
  const simdrnn_config& c = model.config;
  const KernelTable& kt = *model.kernels;
  const int64_t T = a.seq_len, N = a.batch, H = c.hidden_size, D = model.directions;
  const int64_t dh = D * H;
  const bool time_major = a.layout == SIMDRNN_TIME_MAJOR;

  // Layer outputs ping-pong between y (or its workspace stand-in) and one
  // intermediate buffer, arranged so that the last layer lands in y.
  float* ws = a.workspace_size ? align64(a.workspace) : nullptr;
  float* y = a.y;
  if (!y) {
    y = ws;
    ws += padded_bytes(T * N * dh) / int64_t{sizeof(float)};
  }

  // No more threads than the recurrence can use: panels of W_hh per direction
  // (both directions at once when bidirectional), and one thread for tiny work.
  const int64_t panels = (H + kt.panel_width - 1) / kt.panel_width;
  const int64_t flops = T * N * dh * (c.input_size + H);
  int64_t team = std::min<int64_t>(threads, D * panels);
  if (flops < (int64_t{1} << 16)) team = 1;
  const int64_t groups = (D == 2 && team >= 2) ? 2 : 1;

  const int64_t group0 = groups == 2 ? team / 2 : team, group1 = team - team / 2;
  Call call{model, a, kt, T, N, H, D, c.num_layers, dh, c.output_size,
            Rows{time_major ? N : 1, time_major ? 1 : T}, y, c.num_layers >= 2 ? ws : nullptr, team, groups,
            SpinBarrier(static_cast<int>(team)), SpinBarrier(static_cast<int>(group0)),
            SpinBarrier(static_cast<int>(group1)), verbose};

  if (team == 1) {
    call.thread_body(0);
  } else {
    // OpenMP may grant fewer threads (nested region, thread limit): then the
    // barriers would never fill, so nobody starts and one thread does it all.
    std::atomic<bool> short_team{false};
#pragma omp parallel num_threads(static_cast<int>(team))
    {
      if (omp_get_num_threads() != team)
        short_team.store(true, std::memory_order_relaxed);
      else
        call.thread_body(omp_get_thread_num());
    }
    if (short_team.load()) {
      Call single{model, a, kt, T, N, H, D, c.num_layers, dh, c.output_size, call.rows, y, call.intermediate,
                  1, 1, SpinBarrier(1), SpinBarrier(1), SpinBarrier(1), verbose};
      single.thread_body(0);
      call.phase_a = single.phase_a, call.phase_b = single.phase_b, call.phase_c = single.phase_c;
      call.team = 1;
    }
  }

  if (verbose) {
    std::fprintf(stderr,
                 "simdrnn_verbose,forward,isa=%s,threads=%lld,shape=t%lldn%lldi%lldh%lldl%lldd%lldo%lld,"
                 "layout=%s,lens=%d,A_us=%.1f,B_us=%.1f,C_us=%.1f,total_us=%.1f\n",
                 kt.name, static_cast<long long>(call.team), static_cast<long long>(T), static_cast<long long>(N),
                 static_cast<long long>(c.input_size), static_cast<long long>(H),
                 static_cast<long long>(c.num_layers), static_cast<long long>(D),
                 static_cast<long long>(c.output_size), time_major ? "tnc" : "ntc", a.seq_lens ? 1 : 0,
                 call.phase_a, call.phase_b, call.phase_c, micros(start, Clock::now()));
  }
}

}  // namespace simdrnn
