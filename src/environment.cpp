// SIMDRNN_NUM_THREADS, read once per process (SIMDRNN_MAX_ISA is read by
// dispatch.cpp, SIMDRNN_VERBOSE by verbose.cpp, SIMDRNN_SPIN_US by the pool).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "src/internal.hpp"
#include "src/thread_pool.hpp"

namespace simdrnn {
inline namespace lib {

int32_t default_num_threads() {
  static const int32_t n = [] {
    const char* v = std::getenv("SIMDRNN_NUM_THREADS");
    if (v && *v) {
      char* end = nullptr;
      const long parsed = std::strtol(v, &end, 10);
      if (end && *end == '\0' && parsed >= 1 && parsed <= 4096) return static_cast<int32_t>(parsed);
      std::fprintf(stderr, "simdrnn: ignoring SIMDRNN_NUM_THREADS=%s (expected 1..4096)\n", v);
    }
    return static_cast<int32_t>(std::min<int64_t>(threads::cores(), 4096));
  }();
  return n;
}

}  // namespace lib
}  // namespace simdrnn
