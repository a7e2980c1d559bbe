// The machine's roofline, measured per core at the start of a run (FMA peak
// per ISA, read bandwidth of L1, L2, L3 and DRAM), and the lower bound it
// puts on one forward call (DESIGN.md §6). The model is explained in the
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

// A forward call (or a stream step: T = 1) of this shape.
struct Workload {
  int64_t T, N, I, H, L, D, O;
};

struct Bound {
  double seconds = 0;  // 0 when the roofline is not valid
  int whh_level = -1;  // level the per-thread share of one layer's W_hh fits in
  double whh_share_bytes = 0;
};

// Lower bound of one call on `threads` cores: per layer, phase A at
// max(FLOPs / (peak x threads), its W_ih bytes / bandwidth of their level);
// per step max(D*H*H*4 / threads bytes / bandwidth of
// the level that share fits in (x threads), 2*N*D*H*H / (peak x threads));
// phase C like phase A (W_hy). Both directions of a bidirectional
// layer share the threads (they run concurrently at threads >= 2).
Bound lower_bound(const Roofline& roofline, const Workload& w, int threads);

}  // namespace simdrnn_bench
