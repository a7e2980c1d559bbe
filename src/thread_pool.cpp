// The process-wide worker pool behind run_team (thread_pool.hpp).
//
// Each worker owns a futex word `posted` that the caller bumps to hand it a
// job, and a word `finished` it sets to the same value when done. A caller
// claims idle workers with one compare-and-swap each and counts its team in
// `g_busy`, the number of threads all simdrnn calls of the process are using;
// a call never takes a worker that would push g_busy past the core count,
// so concurrent callers fall back to running alone instead of piling spinning
// threads onto the same cores. Waiting (for a job, for workers to finish)
// spins for spin_us() and then sleeps on the futex: no system call while
// threads keep up with each other, no CPU while the library is idle.
#include "src/thread_pool.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "src/spin_wait.hpp"

namespace simdrnn {
inline namespace lib {
namespace threads {
namespace {

constexpr int64_t kMaxWorkers = 511;

struct alignas(64) Worker {
  std::atomic<uint32_t> posted{0};    // futex word: job sequence handed to this worker
  std::atomic<uint32_t> finished{0};  // futex word: last job sequence it completed
  std::atomic<uint32_t> asleep{0};    // 1 while blocked in futex wait for `posted`
  std::atomic<uint32_t> waited{0};    // 1 while a caller sleeps on `finished`
  std::atomic<bool> claimed{false};   // owned by a running call
  Job job{};                          // written by the claiming caller before `posted`
  int64_t tid = 0, team = 0;
};

struct Pool {
  std::mutex grow_mutex;              // setup only: creating workers
  Worker* workers[kMaxWorkers] = {};  // published before `count` grows
  std::atomic<int64_t> count{0};
  bool creation_failed = false;  // stop retrying after a failure (guarded by grow_mutex)
  double round_trip_us = 0.0;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers outlive static destructors
  return *p;
}

std::atomic<int64_t> g_busy{0};  // threads in use by all running calls
std::atomic<bool> g_fail_creation{false};

// The CPUs the process may use, read when the library loads (g_cores). The
// workers run on all of them, whatever the thread that creates them is bound
// to later (an OpenMP runtime binding the thread it starts from, say): a
// worker would otherwise inherit the binding and share the caller's core.
// A binding made before the library loads (libgomp applies OMP_PROC_BIND at
// program start) is all simdrnn can see: it then runs on that one core.
cpu_set_t g_allowed;
bool g_allowed_known = false;

int64_t read_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) {
      g_allowed = set;
      g_allowed_known = true;
      return n;
    }
  }
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 1;
}

void* worker_main(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  uint32_t seen = 0;
  for (;;) {
    spin_then_sleep(
        w.posted, [&](uint32_t v) { return v != seen; }, &w.asleep);
    seen = w.posted.load(std::memory_order_acquire);
    w.job.fn(w.job.ctx, w.tid, w.team);
    w.finished.store(seen, std::memory_order_seq_cst);
    if (w.waited.load(std::memory_order_seq_cst)) futex_wake_all(w.finished);
  }
  return nullptr;
}

// One job on worker 1 that bounces a counter with the caller: the cost of
// one cache-line round trip between two of the pool's threads. Both sides
// spin, so when the cores are shared with other processes every round can
// wait out a scheduler time slice (on a loaded 2-core machine a first
// 2-thread call took seconds, up to 55 s, instead of 0.1 ms); past
// `deadline` both sides stop and the rounds done so far are the measurement.
struct PingPong {
  std::atomic<int64_t> ball{0};
  std::atomic<bool> stop{false};
  std::chrono::steady_clock::time_point deadline;
  static constexpr int64_t kRounds = 2000;
  static constexpr std::chrono::milliseconds kMaxTime{5};  // 2000 rounds take 0.2 to 1 ms
  static void run(void* ctx, int64_t tid, int64_t) {
    auto& pp = *static_cast<PingPong*>(ctx);
    for (int64_t i = 0; i < kRounds; ++i) {
      const int64_t mine = 2 * i + tid;  // caller serves even values, the worker odd ones
      for (uint32_t k = 1; pp.ball.load(std::memory_order_acquire) != mine; ++k) {
        __builtin_ia32_pause();
        if ((k & 255) == 0 &&
            (pp.stop.load(std::memory_order_relaxed) || std::chrono::steady_clock::now() > pp.deadline)) {
          pp.stop.store(true, std::memory_order_relaxed);
          return;
        }
      }
      pp.ball.store(mine + 1, std::memory_order_release);
    }
  }
};

// Grows the pool to `target` workers (setup path: takes a mutex, creates
// threads). Returns the worker count afterwards.
int64_t grow(int64_t target) {
  Pool& p = pool();
  target = std::min(target, kMaxWorkers);
  if (p.count.load(std::memory_order_acquire) >= target) return p.count.load(std::memory_order_acquire);
  std::lock_guard<std::mutex> lock(p.grow_mutex);
  int64_t n = p.count.load(std::memory_order_relaxed);
  while (n < target && !p.creation_failed) {
    auto* w = new (std::nothrow) Worker();
    pthread_attr_t attr;
    pthread_t thread;
    bool ok = w && !g_fail_creation.load() && pthread_attr_init(&attr) == 0;
    if (ok) {
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      if (g_allowed_known) pthread_attr_setaffinity_np(&attr, sizeof g_allowed, &g_allowed);
      ok = pthread_create(&thread, &attr, worker_main, w) == 0;
      pthread_attr_destroy(&attr);
    }
    if (!ok) {
      delete w;
      p.creation_failed = true;  // e.g. RLIMIT_NPROC: run with the workers we have
      break;
    }
    p.workers[n] = w;
    p.count.store(++n, std::memory_order_release);
  }
  return n;
}

void after_fork_in_child() {
  // The child has only the forking thread: forget the workers (their memory
  // is leaked, their threads do not exist) and the calls in flight.
  Pool& p = pool();
  new (&p.grow_mutex) std::mutex();
  p.count.store(0);
  p.creation_failed = false;
  g_busy.store(0);
}

const int64_t g_cores = [] {
  pthread_atfork(nullptr, nullptr, after_fork_in_child);
  return read_cores();
}();

}  // namespace

int64_t cores() { return g_cores; }

int64_t spin_us() {
  static const int64_t us = [] {
    const char* v = std::getenv("SIMDRNN_SPIN_US");
    if (v && *v) {
      char* end = nullptr;
      const long parsed = std::strtol(v, &end, 10);
      if (end && *end == '\0' && parsed >= 0 && parsed <= 1000000) return static_cast<int64_t>(parsed);
      std::fprintf(stderr, "simdrnn: ignoring SIMDRNN_SPIN_US=%s (expected 0..1000000)\n", v);
    }
    return int64_t{50};
  }();
  return us;
}

Occupancy::Occupancy() { g_busy.fetch_add(1, std::memory_order_acq_rel); }
Occupancy::~Occupancy() { g_busy.fetch_sub(1, std::memory_order_acq_rel); }

double round_trip_us() { return pool().round_trip_us; }

int64_t workers() { return pool().count.load(std::memory_order_acquire); }

void fail_thread_creation_for_testing(bool fail) {
  g_fail_creation.store(fail);
  std::lock_guard<std::mutex> lock(pool().grow_mutex);
  pool().creation_failed = false;  // retry (or fail) on the next call
}

int64_t run(int64_t want, const Job& job, bool wake) {
  want = std::min(want, g_cores);
  Pool& p = pool();
  // This call's own thread counts against the cores first; workers only fill
  // cores no other call is using.
  const int64_t busy = g_busy.fetch_add(1, std::memory_order_acq_rel) + 1;
  int64_t extra = std::min(want - 1, g_cores - busy);
  Worker* team[kMaxWorkers];
  int64_t claimed = 0;
  if (extra > 0) {
    const bool first = p.count.load(std::memory_order_acquire) == 0;
    const int64_t have = grow(std::min(want - 1, g_cores - 1));
    if (first && have > 0 && p.round_trip_us == 0.0) {
      // Measured once, on the first worker, while nothing else runs on it.
      Worker& w = *p.workers[0];
      bool expected = false;
      if (w.claimed.compare_exchange_strong(expected, true)) {
        PingPong pp;
        w.job = Job{&PingPong::run, &pp};
        w.tid = 1, w.team = 2;
        const uint32_t seq = w.posted.load(std::memory_order_relaxed) + 1;
        const auto t0 = std::chrono::steady_clock::now();
        pp.deadline = t0 + PingPong::kMaxTime;
        w.posted.store(seq, std::memory_order_seq_cst);
        if (w.asleep.load(std::memory_order_seq_cst)) futex_wake_all(w.posted);
        PingPong::run(&pp, 0, 2);
        spin_then_sleep(
            w.finished, [&](uint32_t v) { return v == seq; }, &w.waited);
        const double us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
        p.round_trip_us = us / static_cast<double>(std::max<int64_t>(1, pp.ball.load() / 2));
        w.claimed.store(false, std::memory_order_release);
      }
    }
    for (int64_t i = 0; i < have && claimed < extra; ++i) {
      Worker& w = *p.workers[i];
      if (!wake && w.asleep.load(std::memory_order_relaxed)) continue;
      bool expected = false;
      if (!w.claimed.load(std::memory_order_relaxed) &&
          w.claimed.compare_exchange_strong(expected, true, std::memory_order_acquire))
        team[claimed++] = &w;
    }
  }
  g_busy.fetch_add(claimed, std::memory_order_acq_rel);
  const int64_t size = claimed + 1;
  uint32_t seq[kMaxWorkers];
  for (int64_t i = 0; i < claimed; ++i) {
    Worker& w = *team[i];
    w.job = job;
    w.tid = i + 1;
    w.team = size;
    seq[i] = w.posted.load(std::memory_order_relaxed) + 1;
    w.posted.store(seq[i], std::memory_order_seq_cst);
    if (w.asleep.load(std::memory_order_seq_cst)) futex_wake_all(w.posted);
  }
  job.fn(job.ctx, 0, size);
  for (int64_t i = 0; i < claimed; ++i) {
    Worker& w = *team[i];
    spin_then_sleep(
        w.finished, [&](uint32_t v) { return v == seq[i]; }, &w.waited);
    w.claimed.store(false, std::memory_order_release);
  }
  g_busy.fetch_sub(size, std::memory_order_acq_rel);
  return size;
}

}  // namespace threads
}  // namespace lib
}  // namespace simdrnn
