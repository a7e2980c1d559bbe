// The library's own threads (docs/design.md, "Threads in a service"): one
// process-wide pool of workers that every call borrows from. A call runs on
// the caller's thread plus the idle workers it can claim, never more threads
// than the process has cores, however many callers ask at once; a worker
// spins briefly after a job (back-to-back calls find it awake), then sleeps
// on a futex, so an idle library costs no CPU. Thread creation failures
// shrink the team; they never end the process.
#pragma once

#include <cstdint>
#include <utility>

namespace simdrnn {
inline namespace lib {
namespace threads {

// CPUs this process may run on (its affinity mask when the pool started), >= 1.
int64_t cores();

// A team's work: fn(ctx, tid, team) runs once on each of `team` threads at
// the same time (each team member is its own OS thread, so spin barriers
// inside fn make progress).
struct Job {
  void (*fn)(void* ctx, int64_t tid, int64_t team);
  void* ctx;
};

// Runs `job` on min(want, cores()) threads at most: the caller (tid 0) and the
// workers it could claim. Workers already busy with other calls, or beyond
// the cores other calls occupy, are not taken. With wake == false only
// workers that are still spinning are taken (the work is too small to pay
// for a futex wake-up). Returns the team size that ran. Thread-safe.
int64_t run(int64_t want, const Job& job, bool wake);

// Counts the calling thread as one busy core while it lives: a call that
// runs alone still occupies its core, so threaded calls beside it take
// fewer workers.
class Occupancy {
 public:
  Occupancy();
  ~Occupancy();
  Occupancy(const Occupancy&) = delete;
  Occupancy& operator=(const Occupancy&) = delete;
};

// Round trip of a cache line between the caller's core and a worker, in
// microseconds (measured once, when the first worker starts; 0 before).
double round_trip_us();

// How long an idle worker spins before sleeping (SIMDRNN_SPIN_US, default 50).
int64_t spin_us();

// Workers that exist now (they are created on demand, up to cores() - 1).
int64_t workers();

// Tests only: makes every later thread creation fail as it would under a
// process limit (RLIMIT_NPROC), or lets it succeed again.
void fail_thread_creation_for_testing(bool fail);

}  // namespace threads

// Runs body(tid, team) on a team of up to `want` threads (threads::run).
template <class Body>
int64_t run_team(int64_t want, Body&& body, bool wake = true) {
  if (want <= 1) {
    const threads::Occupancy busy;  // the caller's core counts against the others' teams
    body(int64_t{0}, int64_t{1});
    return 1;
  }
  using B = std::remove_reference_t<Body>;
  const threads::Job job{[](void* ctx, int64_t tid, int64_t team) { (*static_cast<B*>(ctx))(tid, team); },
                         const_cast<void*>(static_cast<const void*>(&body))};
  return threads::run(want, job, wake);
}

}  // namespace lib
}  // namespace simdrnn
