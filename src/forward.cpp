// The forward engine (DESIGN.md §2): per layer, phase A projects every time
// step's input in one GEMM straight into the layer's output buffer; phase B
// walks time and overwrites each step's projection in place with the new
// hidden state, every thread owning a fixed slice of hidden units (so its
// W_hh panels stay in its own cache) with one barrier per step; phase C
// applies the output layer as one more GEMM. Nothing here allocates.
#include <omp.h>

#include <algorithm>
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

// Splits a GEMM over threads by column panels (or rows when there are fewer
// panels than threads). Every element's arithmetic is the same either way.
void parallel_gemm(const KernelTable& kt, const GemmParams& base, int32_t threads) {
  const int64_t pw = kt.panel_width;
  const int64_t panels = (base.n_end - base.n_begin + pw - 1) / pw;
  const int64_t work = base.m * (base.n_end - base.n_begin) * (base.k + 1);
  if (threads <= 1 || work < (int64_t{1} << 15)) {
    kt.gemm(base);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t tid = omp_get_thread_num(), nt = omp_get_num_threads();
    GemmParams p = base;
    if (panels >= nt) {
      const int64_t p0 = panels * tid / nt, p1 = panels * (tid + 1) / nt;
      p.n_begin = base.n_begin + p0 * pw;
      p.n_end = std::min(base.n_end, base.n_begin + p1 * pw);
      if (p0 < p1) kt.gemm(p);
    } else {
      const int64_t r0 = base.m * tid / nt, r1 = base.m * (tid + 1) / nt;
      p.m = r1 - r0;
      p.a += r0 * base.lda;
      p.c += r0 * base.ldc;
      if (p.m > 0) kt.gemm(p);
    }
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
  const float* h0;       // [N, H] for this layer/direction, or null (zeros)
  const int64_t* lens;   // [N] or null
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

  // The slice [col_begin, col_end) of hidden units, all steps. Called by every
  // thread of the team (or alone); the barrier orders the steps.
  void slice(int64_t col_begin, int64_t col_end) const {
    GemmParams p{};
    p.b = cell->w_hh.data.get();
    p.n_begin = col_begin;
    p.n_end = col_end;
    p.accumulate = 1;
    p.activation = activation;
    p.clip = clip;
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = forward ? s : T - 1 - s;
      if (col_begin < col_end) {
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
      }
#pragma omp barrier
    }
  }

  void run(int32_t threads) const {
    const int64_t pw = kt->panel_width;
    const int64_t panels = (H + pw - 1) / pw;
    const int64_t team = std::min<int64_t>(threads, panels);
    if (team <= 1) {
      slice(0, H);
      return;
    }
#pragma omp parallel num_threads(static_cast<int>(team))
    {
      const int64_t tid = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t p0 = panels * tid / nt, p1 = panels * (tid + 1) / nt;
      slice(p0 * pw, std::min(H, p1 * pw));
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
  double phase_a = 0, phase_b = 0, phase_c = 0;

  const simdrnn_config& c = model.config;
  const KernelTable& kt = *model.kernels;
  const int64_t T = a.seq_len, N = a.batch, H = c.hidden_size, D = model.directions;
  const int64_t L = c.num_layers, dh = D * H, O = c.output_size;
  const bool time_major = a.layout == SIMDRNN_TIME_MAJOR;
  const Rows rows{time_major ? N : 1, time_major ? 1 : T};

  // Layer outputs ping-pong between y (or its workspace stand-in) and one
  // intermediate buffer, arranged so that the last layer lands in y.
  float* ws = a.workspace_size ? align64(a.workspace) : nullptr;
  float* y = a.y;
  if (!y) {
    y = ws;
    ws += padded_bytes(T * N * dh) / int64_t{sizeof(float)};
  }
  float* intermediate = L >= 2 ? ws : nullptr;

  const float* src = a.x;
  int64_t src_width = c.input_size;
  for (int64_t l = 0; l < L; ++l) {
    float* dst = ((L - 1 - l) % 2 == 0) ? y : intermediate;
    Clock::time_point t0 = verbose ? Clock::now() : Clock::time_point{};
    for (int64_t d = 0; d < D; ++d) {  // phase A
      const Cell& cell = model.cells[l * D + d];
      GemmParams p{};
      p.m = T * N;
      p.k = src_width;
      p.a = src;
      p.lda = src_width;
      p.b = cell.w_ih.data.get();
      p.n_begin = 0;
      p.n_end = H;
      p.c = dst + d * H;
      p.ldc = dh;
      p.bias = cell.bias.get();
      parallel_gemm(kt, p, threads);
    }
    Clock::time_point t1 = verbose ? Clock::now() : Clock::time_point{};
    for (int64_t d = 0; d < D; ++d) {  // phase B
      Recurrence r{&kt, &model.cells[l * D + d], T, N, H, dh, d * H, d == 0, rows, dst,
                   a.h0 ? a.h0 + (l * D + d) * N * H : nullptr, a.seq_lens,
                   static_cast<int32_t>(c.activation) + 1, c.clip};
      r.run(threads);
    }
    if (a.seq_lens)  // padding steps are zero
      for (int64_t n = 0; n < N; ++n)
        for (int64_t t = a.seq_lens[n]; t < T; ++t)
          std::memset(dst + rows.at(t, n) * dh, 0, static_cast<size_t>(dh) * sizeof(float));
    if (a.h_n)  // written after layer l's last read of h0[l]: h_n may alias h0
      for (int64_t d = 0; d < D; ++d)
        for (int64_t n = 0; n < N; ++n) {
          const int64_t last = d == 0 ? (a.seq_lens ? a.seq_lens[n] : T) - 1 : 0;
          std::memcpy(a.h_n + ((l * D + d) * N + n) * H, dst + rows.at(last, n) * dh + d * H,
                      static_cast<size_t>(H) * sizeof(float));
        }
    if (verbose) {
      const Clock::time_point t2 = Clock::now();
      phase_a += micros(t0, t1);
      phase_b += micros(t1, t2);
    }
    src = dst;
    src_width = dh;
  }

  if (O > 0 && a.out) {  // phase C
    Clock::time_point t0 = verbose ? Clock::now() : Clock::time_point{};
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
    parallel_gemm(kt, p, threads);
    if (a.seq_lens)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t t = a.seq_lens[n]; t < T; ++t)
          std::memset(a.out + rows.at(t, n) * O, 0, static_cast<size_t>(O) * sizeof(float));
    if (verbose) phase_c = micros(t0, Clock::now());
  }

  if (verbose) {
    std::fprintf(stderr,
                 "simdrnn_verbose,forward,isa=%s,threads=%d,shape=t%lldn%lldi%lldh%lldl%lldd%lldo%lld,"
                 "layout=%s,lens=%d,A_us=%.1f,B_us=%.1f,C_us=%.1f,total_us=%.1f\n",
                 kt.name, threads, static_cast<long long>(T), static_cast<long long>(N),
                 static_cast<long long>(c.input_size), static_cast<long long>(H),
                 static_cast<long long>(L), static_cast<long long>(D), static_cast<long long>(O),
                 time_major ? "tnc" : "ntc", a.seq_lens ? 1 : 0, phase_a, phase_b, phase_c,
                 micros(start, Clock::now()));
  }
}

}  // namespace simdrnn
