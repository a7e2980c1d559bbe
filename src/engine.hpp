// Pieces shared by the forward and backward engines: tensor row geometry,
// work splitting, the barrier, and
// the sequential recurrence walk that both passes are built on.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "src/internal.hpp"
#include "src/spin_wait.hpp"
#include "src/thread_pool.hpp"

namespace simdrnn {
inline namespace lib {
namespace engine {

using kernels::GemmParams;
using kernels::KernelTable;

// Row of element (t, n) in a [T, N, C] or [N, T, C] tensor, in units of C.
struct Rows {
  int64_t t_stride, n_stride;
  int64_t at(int64_t t, int64_t n) const { return t * t_stride + n * n_stride; }
};
inline Rows rows_for(simdrnn_layout layout, int64_t T, int64_t N) {
  return layout == SIMDRNN_TIME_MAJOR ? Rows{N, 1} : Rows{1, T};
}

struct Range {
  int64_t begin, end;
};
inline Range split(int64_t count, int64_t parts, int64_t i) {
  return {count * i / parts, count * (i + 1) / parts};
}

// Barrier for the members of a team. A step of the recurrence lasts
// microseconds, far below what a futex round trip costs, so waiters spin
// (spin_then_sleep: they sleep only when a partner has lost its core for
// longer than threads::spin_us()). Every arrival adds 1 to a counter that
// only grows, and a thread's k-th episode is complete when the counter has
// grown by k * members: one shared cache line and no reset. Measured between
// two vCPUs (2 threads, 200k episodes): 0.027 us per episode when both sit
// on one core complex, 0.16 us when they are far apart, against 0.034 / 0.29
// us for a sense-reversing barrier, whose last arrival must also reset the
// counter and flip a second line. `members` is passed at each wait: a team's
// size is known only once the pool has lent its workers.
class alignas(64) SpinBarrier {
 public:
  // `ticket`: this thread's own counter for this barrier, 0 before its first
  // episode (each member keeps one; they advance in step). Every member of
  // an episode passes the same `members`.
  void wait(uint32_t& ticket, int64_t members) {
    ticket += static_cast<uint32_t>(members);
    const uint32_t target = ticket;
    if (arrived_.fetch_add(1, std::memory_order_seq_cst) + 1 == target) {  // the last to arrive
      if (sleepers_.load(std::memory_order_seq_cst)) futex_wake_all(arrived_);
      return;
    }
    spin_then_sleep(
        arrived_, [target](uint32_t v) { return static_cast<int32_t>(v - target) >= 0; }, &sleepers_);
  }

 private:
  std::atomic<uint32_t> arrived_{0};
  std::atomic<uint32_t> sleepers_{0};
};

// Whether gemm_share splits an m-row GEMM over `panels` column panels by
// columns (thread tid takes panels split(panels, nt, tid)) rather than rows.
// The forward engine relies on it to skip a barrier: keep the two together.
inline bool splits_by_columns(const KernelTable& kt, int64_t panels, int64_t m, int64_t nt) {
  return panels >= nt || m < nt * kt.tile_rows;
}

// This thread's share of a GEMM: by column panels, or by rows when there are
// fewer panels than threads. Every element's arithmetic is the same either way.
inline void gemm_share(const KernelTable& kt, const GemmParams& base, int64_t tid, int64_t nt) {
  if (nt <= 1) {
    kernels::run_gemm(kt, base);
    return;
  }
  const int64_t pw = kt.panel_width;
  const int64_t panels = (base.n_end - base.n_begin + pw - 1) / pw;
  GemmParams p = base;
  if (splits_by_columns(kt, panels, base.m, nt)) {
    const Range r = split(panels, nt, tid);
    p.n_begin = base.n_begin + r.begin * pw;
    p.n_end = std::min(base.n_end, base.n_begin + r.end * pw);
    if (r.begin < r.end) kernels::run_gemm(kt, p);
  } else {
    // Split at multiples of the kernel's tile height (kernels.h: keeps every
    // element's summation order independent of the thread count).
    const int64_t tr = kt.tile_rows, tiles = (base.m + tr - 1) / tr;
    Range r = split(tiles, nt, tid);
    r.begin = std::min(base.m, r.begin * tr);
    r.end = std::min(base.m, r.end * tr);
    p.m = r.end - r.begin;
    if (base.a_transposed)
      p.a += r.begin;
    else
      p.a += r.begin * base.lda;
    p.c += r.begin * base.ldc;
    if (p.aux) p.aux += r.begin * base.ldaux;
    if (p.mask) p.mask += r.begin * base.ldmask;
    if (p.m > 0) kernels::run_gemm(kt, p);
  }
}

// The sequential walk over time for one layer and direction. dst holds, per
// step, an input term (forward: P = x W_ih^T + b; backward: dLoss/dh) in
// columns column .. column+H-1 of its dh-wide rows, and is overwritten in
// place with act(dst + prev * B) (forward) or (dst + prev * B) * act'(h)
// (backward, activation a *Grad code, aux = saved h), where prev is the row
// this walk wrote at the previous step (or h0, or nothing at a sequence's
// first step). `forward` walks t upwards with sequences starting at t = 0;
// otherwise it walks downwards and sequence n starts at t = lens[n] - 1.
struct Recurrence {
  const KernelTable* kt;
  const PackedMatrix* b;  // packed W_hh (forward) or its backward pack, k = H
  int64_t T, N, H, dh, column;
  bool forward;
  Rows rows;
  float* dst;
  const float* h0;          // [N, H] state before each sequence's first step, or null:
  const float* zero_state;  // then H zeros to multiply (forward), or null: no product (backward)
  const int64_t* lens;      // [N] or null
  int32_t activation;
  float clip;
  const float* aux;  // *Grad: saved outputs, same geometry as dst
  uint8_t* mask;     // clip mask, same geometry as dst (bytes), or null
  int32_t mask_write;

  // Rows of step t fall into classes: 0 padding (skipped), 1 previous state
  // read from dst, 2 the sequence starts here.
  int row_class(int64_t t, int64_t n) const {
    const int64_t len = lens ? lens[n] : T;
    if (t >= len) return 0;
    return (forward ? t == 0 : t == len - 1) ? 2 : 1;
  }

  void run_rows(GemmParams& p, int64_t t, int64_t n0, int64_t n1, int cls) const {
    const int64_t row = rows.at(t, n0) * dh + column;
    p.m = n1 - n0;
    p.c = dst + row;
    p.ldc = rows.n_stride * dh;
    if (aux) p.aux = aux + row, p.ldaux = p.ldc;
    if (mask) p.mask = mask + row, p.ldmask = p.ldc;
    if (cls == 2) {
      // A sequence's first step reads h0, or zeros (every row the same H
      // zeros: lda 0), so that NULL means exactly what a zero h0 means,
      // NaN * 0 included; or, without zeros, no product at all.
      p.k = h0 || zero_state ? H : 0;
      p.a = h0 ? h0 + n0 * H : zero_state;
      p.lda = h0 ? H : 0;
    } else {
      const int64_t tprev = forward ? t - 1 : t + 1;
      p.k = H;
      p.a = dst + rows.at(tprev, n0) * dh + column;
      p.lda = rows.n_stride * dh;
    }
    kernels::run_gemm(*kt, p);
  }

  // Thread `member` of a group of `members` computes its slice of hidden
  // units for every step; the group's barrier orders the steps. There is no
  // barrier after the last step: callers order what follows (a barrier of
  // their own, or the end of the parallel region). A second walk on the same
  // threads may start at once: it reads only its own direction's columns.
  void run(int64_t member, int64_t members, SpinBarrier& barrier, uint32_t& ticket) const {
    const int64_t pw = kt->panel_width;
    const Range r = split((H + pw - 1) / pw, members, member);
    GemmParams p{};
    set_b(p, *b);
    p.n_begin = r.begin * pw;
    p.n_end = std::min(H, r.end * pw);
    p.accumulate = 1;
    p.activation = activation;
    p.clip = clip;
    p.mask_write = mask_write;
    p.split_k = 1;  // rows are never split here: m is the same in every call shape
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = forward ? s : T - 1 - s;
      if (p.n_begin < p.n_end) {
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
      if (members > 1 && s + 1 < T) barrier.wait(ticket, members);
    }
  }
};

inline float* align64(void* p) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(p);
  return reinterpret_cast<float*>((v + 63) & ~uintptr_t{63});
}
inline int64_t padded_bytes(int64_t floats) { return round_up(floats * int64_t{sizeof(float)}, 64); }

}  // namespace engine
}  // namespace lib
}  // namespace simdrnn
