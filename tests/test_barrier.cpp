// The engine's spin barrier (src/engine.hpp), which orders every step of the
// recurrence: no thread leaves episode k before all have arrived at it, and
// none can be an episode ahead of another. Checked with 2 threads, with more
// threads than cores, and with a late partner that makes the others sleep on
// the futex (the path past the spin window), over many episodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "src/engine.hpp"

namespace {

void hammer(int threads, int64_t episodes, int64_t late_every = 0) {
  simdrnn::engine::SpinBarrier barrier;
  std::atomic<int64_t> arrivals{0};
  std::atomic<int64_t> violations{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      uint32_t ticket = 0;
      for (int64_t e = 1; e <= episodes; ++e) {
        // Thread 0 is sometimes later than the spin window (50 us), so the
        // others go to sleep and must be woken.
        if (late_every && t == 0 && e % late_every == 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        arrivals.fetch_add(1, std::memory_order_relaxed);
        barrier.wait(ticket, threads);
        // Every thread has arrived at episode e; the others may have arrived
        // at e + 1, but this one has not, and nobody can pass e + 1 without it.
        const int64_t seen = arrivals.load(std::memory_order_relaxed);
        if (seen < threads * e || seen > threads * (e + 1) - 1) violations.fetch_add(1);
      }
    });
  for (std::thread& t : pool) t.join();
  EXPECT_EQ(0, violations.load()) << threads << " threads";
  EXPECT_EQ(threads * episodes, arrivals.load());
}

TEST(SpinBarrier, TwoThreadsNeverPassEarly) { hammer(2, 100000); }

TEST(SpinBarrier, OversubscribedThreadsNeverPassEarly) {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  hammer(std::max(3, 2 * cores), 2000);
}

TEST(SpinBarrier, SingleParticipantNeverWaits) { hammer(1, 1000); }

TEST(SpinBarrier, SleepersAreWokenByALatePartner) {
  hammer(2, 3000, 10);
  hammer(4, 600, 5);
}

}  // namespace
