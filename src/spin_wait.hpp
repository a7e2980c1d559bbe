// Waiting on a 32-bit word that another thread changes: spin for
// threads::spin_us() (a partner that keeps up answers in well under a
// microsecond), then sleep in the kernel (futex) until woken. Wakers call
// futex_wake_all only when a sleeper has announced itself, so the common
// case makes no system call.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>

#include "src/thread_pool.hpp"

namespace simdrnn {
inline namespace lib {

inline void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex word");
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
inline void futex_wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

// Returns once done(word) holds. `sleepers` counts the threads blocked on
// `word`; whoever changes `word` must call futex_wake_all(word) afterwards
// when it reads sleepers > 0 (both sides seq_cst, so no wake-up is lost).
template <class Done>
void spin_then_sleep(std::atomic<uint32_t>& word, Done&& done, std::atomic<uint32_t>* sleepers) {
  if (done(word.load(std::memory_order_acquire))) return;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const auto limit = std::chrono::microseconds(threads::spin_us());
  for (uint32_t i = 1;; ++i) {
    __builtin_ia32_pause();
    if (done(word.load(std::memory_order_acquire))) return;
    if ((i & 255) == 0 && Clock::now() - start > limit) break;
  }
  for (;;) {
    sleepers->fetch_add(1, std::memory_order_seq_cst);
    const uint32_t v = word.load(std::memory_order_seq_cst);
    if (!done(v)) futex_wait(word, v);
    sleepers->fetch_sub(1, std::memory_order_relaxed);
    if (done(word.load(std::memory_order_acquire))) return;
  }
}

}  // namespace lib
}  // namespace simdrnn
