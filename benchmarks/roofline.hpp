// The machine's roofline, measured per core at the start of a run (FMA peak
// per ISA, read bandwidth of L1, L2, L3 and DRAM), and the lower bound it
// puts on one forward call (docs/design.md, "The roofline bound"). The model is explained in the
// reports (benchmarks/report.py writes it into report.md).
#pragma once

#include <cstdint>
#include <string>

namespace simdrnn_bench {

enum MemoryLevel { kL1 = 0, kL2 = 1, kL3 = 2, kDram = 3, kMemoryLevels = 4 };
const char* level_name(int level);  // "L1" "L2" "L3" "DRAM"

struct Roofline {
  bool valid = false;  // false: not measured (see error); bounds are 0
  std::string error;
  // Per core, GFLOP/s; 0 where the CPU lacks the ISA.
  double peak_gflops_avx512 = 0, peak_gflops_avx2 = 0, peak_gflops_sse2 = 0;
  double peak_gflops = 0;  // the best of them: the bound uses the machine's peak
  std::string peak_isa;
  // Per core read bandwidth (GB/s, 1e9 bytes) of each level, the working set
  // it was measured with, and the ISA of the loads.
  double bandwidth_gbs[kMemoryLevels] = {};
  int64_t working_set_bytes[kMemoryLevels] = {};
  std::string bandwidth_isa;
  // Capacity of L1d, L2 and L3 (one instance, bytes) and where it was read.
  int64_t cache_bytes[3] = {};
  std::string cache_source;
  double seconds = 0;  // wall time of the measurement
};

// Measures in a child process (fork), so the large DRAM working set does not
// count in this process's peak RSS and a faulting kernel cannot take the
// benchmark down. Falls back to measuring in-process when fork fails.
Roofline measure_roofline();

// One line per constant, for the console.
std::string describe(const Roofline& roofline);
// Records every constant with benchmark::AddCustomContext (keys roofline_*).
void add_context(const Roofline& roofline);

// A forward call (or a stream step: T = 1) of this shape: G gates (1 RNN,
// 4 LSTM, 3 GRU), P the LSTM projection (0: none).
struct Workload {
  int64_t T, N, I, H, L, D, O;
  int64_t G = 1, P = 0;
  double weight_bytes = 4.0;  // per weight element: 4 f32, 2 bf16, 1 int8
};

struct Bound {
  double seconds = 0;  // 0 when the roofline is not valid
  int whh_level = -1;  // level the per-thread share of one layer's W_hh fits in (by capacity)
  double whh_share_bytes = 0;
  double whh_bandwidth_gbs = 0;  // per core, measured at that share with `threads` cores reading
};

// Read bandwidth per core (GB/s) when `threads` cores each read their own
// `bytes_per_thread` bytes over and over, as the recurrence re-reads its
// share of W_hh every step: the best of 1, 2 and 4 side-by-side streams,
// measured the first time a (size, threads) pair is asked for and cached.
// The probe is a pure read loop, so no kernel can read those bytes faster:
// a time derived from it is a lower bound.
double read_bandwidth_gbs(int64_t bytes_per_thread, int threads);

// Lower bound of one call on `threads` cores (docs/design.md, "The roofline
// bound"): per layer, phase A at max(FLOPs / (peak x threads), one read of
// W_ih's share); per step, max(the step's FLOPs / (peak x threads), one read
// of each thread's share of W_hh (and W_hr) at the bandwidth measured for
// that share and thread count); phase C like phase A (W_hy). Both directions
// of a bidirectional layer share the threads.
Bound lower_bound(const Roofline& roofline, const Workload& w, int threads);
}  // namespace simdrnn_bench
