// The library's worker pool (src/thread_pool.hpp): a call never runs on more
// threads than the process has cores, whatever it asks; concurrent callers
// share the cores instead of multiplying threads; failed thread creation
// shrinks the team instead of ending the process; an idle pool uses no CPU;
// and the C API's calls with absurd thread counts stay fast and correct.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "src/thread_pool.hpp"

namespace {

using simdrnn::run_team;
namespace threads = simdrnn::threads;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int64_t os_threads() {
  int64_t n = 0;
  FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  while (f && std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "Threads: %lld", reinterpret_cast<long long*>(&n)) == 1) break;
  if (f) std::fclose(f);
  return n;
}

TEST(ThreadPool, TeamNeverExceedsCoresAndTidsAreDistinct) {
  for (int64_t want : {1, 2, 3, 64, 4096}) {
    std::vector<std::atomic<int>> seen(64);
    std::atomic<int64_t> team_seen{0};
    const int64_t team = run_team(want, [&](int64_t tid, int64_t nt) {
      seen[tid].fetch_add(1);
      team_seen.store(nt);
    });
    EXPECT_LE(team, threads::cores());
    EXPECT_LE(team, std::max<int64_t>(want, 1));
    EXPECT_EQ(team, team_seen.load());
    for (int64_t t = 0; t < 64; ++t) EXPECT_EQ(t < team ? 1 : 0, seen[t].load()) << "tid " << t;
  }
  EXPECT_LE(threads::workers(), threads::cores() - 1);
}

// Eight callers asking for many threads each: at no time do more team
// members run than the process has cores, beyond one per caller (a caller's
// own thread always runs its share).
TEST(ThreadPool, ConcurrentCallersShareTheCores) {
  constexpr int kCallers = 8;
  std::atomic<int64_t> running{0}, peak_workers{0}, workers_now{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c)
    callers.emplace_back([&] {
      for (int i = 0; i < 300; ++i)
        run_team(4096, [&](int64_t tid, int64_t) {
          running.fetch_add(1);
          if (tid > 0) {
            const int64_t w = workers_now.fetch_add(1) + 1;
            int64_t p = peak_workers.load();
            while (w > p && !peak_workers.compare_exchange_weak(p, w)) {
            }
          }
          std::this_thread::sleep_for(std::chrono::microseconds(20));
          if (tid > 0) workers_now.fetch_sub(1);
          running.fetch_sub(1);
        });
    });
  for (auto& t : callers) t.join();
  EXPECT_LE(peak_workers.load(), threads::cores() - 1);
  EXPECT_LE(threads::workers(), threads::cores() - 1);
}

// In a forked child (whose pool starts empty: the parent's workers do not
// exist there) every thread creation fails, as under RLIMIT_NPROC: calls run
// on the caller's thread alone and the process goes on.
TEST(ThreadPool, FailedThreadCreationShrinksTheTeam) {
  run_team(threads::cores(), [](int64_t, int64_t) {});  // the parent has workers
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = threads::workers() == 0 ? 0 : 10;
    threads::fail_thread_creation_for_testing(true);
    std::atomic<int64_t> ran{0};
    const int64_t team = run_team(threads::cores() + 8, [&](int64_t, int64_t) { ran.fetch_add(1); });
    if (team != 1 || ran.load() != 1) code = 11;
    threads::fail_thread_creation_for_testing(false);
    const int64_t later = run_team(threads::cores(), [&](int64_t, int64_t) {});  // creation works again
    if (threads::cores() > 1 && later < 2) code = 12;
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(child, waitpid(child, &status, 0));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(0, WEXITSTATUS(status));
}

// Between calls the workers spin for at most spin_us() (50 us), then sleep:
// 200 ms of idleness cost almost no CPU.
TEST(ThreadPool, IdlePoolCostsNoCpu) {
  run_team(threads::cores(), [](int64_t, int64_t) {});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the spin window
  const double before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_LT(cpu_seconds() - before, 0.02) << "an idle pool burned CPU";
}

// A worker that sleeps is not woken for work that says it is too small.
TEST(ThreadPool, SmallWorkDoesNotWakeSleepingWorkers) {
  run_team(threads::cores(), [](int64_t, int64_t) {});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int64_t team = run_team(
      threads::cores(), [](int64_t, int64_t) {}, /*wake=*/false);
  EXPECT_EQ(1, team);
}

// The C API with num_threads = 4096 on a tiny model: no more threads than
// cores come to exist (it used to start 4096 and take seconds).
TEST(ThreadPool, HugeThreadCountsOnATinyModel) {
  simdrnn_config c = simdrnn_config_default();
  c.input_size = 3;
  c.hidden_size = 5;
  simdrnn_weights* w = nullptr;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_create(&c, &w));
  std::vector<float> wih(15, 0.1f), whh(25, 0.05f);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, "weight_ih_l0", wih.data(), 15));
  ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, "weight_hh_l0", whh.data(), 25));
  simdrnn_model* m = nullptr;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_model_create(w, &m));
  std::vector<float> x(2 * 3, 0.5f), y(2 * 5), h(5);
  simdrnn_forward_args a{};
  a.seq_len = 2, a.batch = 1, a.x = x.data(), a.y = y.data(), a.h_n = h.data(), a.num_threads = 4096;
  size_t rs = 0;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_training_reserve_size(m, &a, &rs));
  std::vector<unsigned char> reserve(rs);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_forward(m, &a));
  ASSERT_EQ(SIMDRNN_OK, simdrnn_forward_training(m, &a, reserve.data(), rs));
  size_t ws = 0;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_backward_workspace_size(m, &a, &ws));
  std::vector<unsigned char> work(ws);
  int64_t np = 0;
  simdrnn_model_num_params(m, &np);
  std::vector<float> grads(static_cast<size_t>(np)), dy(y.size(), 1.0f);
  simdrnn_backward_args b{};
  b.forward = &a, b.reserve = reserve.data(), b.reserve_size = rs, b.dy = dy.data(), b.grads = grads.data();
  b.workspace = work.data(), b.workspace_size = ws, b.num_threads = 4096;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_backward(m, &b)) << simdrnn_last_error();
  std::vector<float> v(grads.size());
  ASSERT_EQ(SIMDRNN_OK, simdrnn_sgd_step(grads.data(), dy.data(), v.data(), 10, 0.1f, 0.9f, 0.0f, 4096));
  EXPECT_LE(os_threads(), threads::cores() + 8);  // gtest's and this test's threads, plus the pool
  EXPECT_LE(threads::workers(), threads::cores() - 1);
  simdrnn_model_destroy(m);
  simdrnn_weights_destroy(w);
}

}  // namespace

namespace {
// A caller bound to one CPU (as OMP_PROC_BIND binds an OpenMP program's main
// thread) still gets workers that may run on every CPU the process had when
// the library loaded; a worker inheriting the binding would share the caller's
// core and a 2-thread call would run no faster than a 1-thread one.
TEST(ThreadPool, WorkersAreNotBoundToTheirCreatorsCpu) {
  if (threads::cores() < 2) {
    std::printf("one CPU: nothing to check\n");
    return;
  }
  cpu_set_t before, one;
  ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof before, &before), 0);
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
  std::atomic<int> worker_cpus{0};
  const int64_t team = run_team(2, [&](int64_t tid, int64_t) {
    if (tid == 1) {
      cpu_set_t s;
      if (sched_getaffinity(0, sizeof s, &s) == 0) worker_cpus = CPU_COUNT(&s);
    }
  });
  pthread_setaffinity_np(pthread_self(), sizeof before, &before);
  ASSERT_EQ(team, 2);
  EXPECT_EQ(worker_cpus.load(), threads::cores());
}
}  // namespace
