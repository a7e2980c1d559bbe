// The engine's spin barrier (src/engine.hpp), which orders every step of the
// recurrence: no thread leaves episode k before all have arrived at it, and
// none can be an episode ahead of another. Checked with 2 threads and with
// more threads than cores (the yielding path), over many episodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "src/engine.hpp"

namespace {

void hammer(int threads, int64_t episodes) {
  simdrnn::engine::SpinBarrier barrier(threads);
  std::atomic<int64_t> arrivals{0};
  std::atomic<int64_t> violations{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      int64_t ticket = 0;
      for (int64_t e = 1; e <= episodes; ++e) {
        arrivals.fetch_add(1, std::memory_order_relaxed);
        barrier.wait(ticket);
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

}  // namespace
