// simdrnn-bench: times simdrnn against oneDNN's vanilla RNN primitive and the
// sgemm-per-step loop (PyTorch / ONNX Runtime on CPU) on the same shapes in one
// process, and rates every result against the machine's roofline, measured at
// the start of the run (roofline.hpp).
//
// Names: <suite>/<impl>/t<T>n<N>i<I>h<H>[l<L>][bi][o<O>][p<P>]/threads:<k>, where k
// is the thread count handed to the library (simdrnn's num_threads, OpenMP's
// for oneDNN) -- not benchmark's ->Threads(), which would run k copies at once.
// Suites (kShapes below): latency, batch, throughput, layers, stream, training
// (Elman cell); lstm_latency, gru_latency, lstm_throughput, gru_throughput.
// Impls: simdrnn, onednn, gemmloop; the stream suite names what it times:
//   simdrnn_step   one simdrnn_stream_step() of one step (t1)
//   simdrnn_seq    a full-sequence simdrnn_forward(); us_per_step = time / T
//   onednn_step    one oneDNN primitive execution over one step (t1), which is
//                  how a oneDNN user advances a stream
//   onednn_seq     the oneDNN primitive over the whole sequence, per step
//   gemmloop_step  the sgemm loop over one step (t1)
//
// Counters: GFLOP/s (useful FLOPs, forward_flops()), us_per_step, bound_us
// (the roofline lower bound of the call), frac_of_bound = bound_us / measured
// time (1.0 = at the roofline), whh_level (where the per-thread share of one
// layer's W_hh fits: 1 L1, 2 L2, 3 L3, 4 DRAM), peak_rss_MiB (the process's
// high-water mark so far, getrusage), other_cpu (cores that other processes,
// or other guests through steal time, kept busy during the timed loop, from
// /proc/stat minus this process's CPU time: a noise flag; 10 ms resolution).
//
// Own flags (taken out before benchmark::Initialize):
//   --threads=1,2,4,8  thread counts (default 1,2; env SIMDRNN_BENCH_THREADS);
//                      counts above the machine's cores are dropped
//   --kernels          only the kernel microbenchmarks (kernel/<isa>/<kernel>_...),
//                      from the same lists as the kernel table and its tests
//   --quick            a smaller set of shapes (latency and stream whole, one or
//                      two shapes of the other suites) and a
//                      default --benchmark_min_time of 0.05 s
//   --no-roofline      no roofline measurement and no core round-trip probes,
//                      so a profiler (callgrind) sees the timed calls, not the
//                      harness; rows then carry no bound_us, frac_of_bound,
//                      whh_level or core_trip_us
//   --help             these flags, then Google Benchmark's
// Everything else is Google Benchmark's: --benchmark_filter (a regex over the
// names), --benchmark_min_time, --benchmark_repetitions=5
// --benchmark_report_aggregates_only=true (medians), --benchmark_out=x.json
// --benchmark_out_format=json. benchmarks/run.sh runs it all and writes the
// report. OMP_PROC_BIND=close OMP_PLACES=cores (set by run.sh) place oneDNN's
// OpenMP threads and pin the main thread; simdrnn's workers are its own pool's
// (src/thread_pool.hpp) and are not pinned.
//
// Weights are warm: each benchmark builds one weight set and reuses it every
// iteration, so they sit in whatever cache level they fit. Inputs, initial
// state and outputs are distinct buffers. Everything but the forward call
// (weights, model / primitive creation, weight reorders, workspace, stream)
// happens outside the timed loop.
#include <benchmark/benchmark.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "roofline.hpp"
#include "simdrnn/simdrnn.h"
#include "simdrnn/simdrnn.hpp"
#include "support/onednn_rnn.hpp"
#include "support/onednn_reduced.hpp"
#include "support/test_util.hpp"

namespace {

using simdrnn_bench::Roofline;
using simdrnn_test::BaselineWeights;

// One benchmarked problem. To add a suite, add its rows here and its entry to
// kSuites; a suite that times something other than one forward call adds an
// Engine below and its runner in bench_one().
struct Shape {
  const char* suite;
  int64_t T;   // sequence length
  int64_t N;   // batch
  int64_t I;   // input size
  int64_t H;   // hidden size
  int64_t L;   // layers
  bool bidir;  // bidirectional, outputs concatenated
  int64_t O;   // output layer size, 0: none
  bool quick;  // part of the --quick set
  simdrnn_cell cell = SIMDRNN_CELL_RNN;
  int64_t P = 0;    // LSTM projection, 0: none
  int32_t lbr = 1;  // GRU: gru_linear_before_reset (0: ONNX's reset-first GRU)
};

const Shape kShapes[] = {
    // latency: one sequence, W_hh from 64 KiB (L1/L2) to 16 MiB (L3/DRAM).
    {"latency", 50, 1, 128, 128, 1, false, 0, true},
    {"latency", 50, 1, 256, 256, 1, false, 0, true},
    {"latency", 50, 1, 512, 512, 1, false, 0, true},
    {"latency", 50, 1, 1024, 1024, 1, false, 0, true},
    {"latency", 50, 1, 2048, 2048, 1, false, 0, true},
    // batch: small batches, where the step is still bound by W_hh traffic.
    {"batch", 50, 4, 512, 512, 1, false, 0, false},
    {"batch", 50, 8, 512, 512, 1, false, 0, true},
    {"batch", 50, 16, 512, 512, 1, false, 0, false},
    {"batch", 50, 4, 1024, 1024, 1, false, 0, false},
    {"batch", 50, 8, 1024, 1024, 1, false, 0, false},
    {"batch", 50, 16, 1024, 1024, 1, false, 0, false},
    // throughput: large batches, bound by FMA throughput.
    {"throughput", 50, 64, 1024, 1024, 1, false, 0, false},
    {"throughput", 25, 32, 1760, 1760, 1, false, 0, false},  // DeepSpeech2-like
    {"throughput", 50, 16, 1024, 1024, 1, false, 0, true},
    // layers: 2 layers, bidirectional, both; oneDNN runs one primitive where
    // its semantics match PyTorch's (see tests/support/onednn_rnn.hpp).
    {"layers", 50, 1, 512, 512, 2, false, 0, true},
    {"layers", 50, 1, 512, 512, 1, true, 0, true},
    {"layers", 50, 1, 512, 512, 2, true, 0, false},
    {"layers", 50, 16, 512, 512, 2, false, 0, false},
    {"layers", 50, 16, 512, 512, 1, true, 0, false},
    {"layers", 50, 16, 512, 512, 2, true, 0, false},
    // stream: T is the full-sequence length of the *_seq rows; the *_step
    // rows run one step (t1).
    {"stream", 50, 1, 256, 256, 1, false, 0, true},
    {"stream", 50, 1, 512, 512, 1, false, 0, true},
    {"stream", 50, 1, 1024, 1024, 1, false, 0, true},
    // training: forward_training + backward (DeepBench's training shapes).
    {"training", 50, 1, 256, 256, 1, false, 0, true},
    {"training", 50, 1, 512, 512, 1, false, 0, false},
    {"training", 50, 1, 1024, 1024, 1, false, 0, false},
    {"training", 50, 16, 1760, 1760, 1, false, 0, false},
    {"training", 50, 32, 1760, 1760, 1, false, 0, false},
    {"training", 50, 64, 1760, 1760, 1, false, 0, false},
    {"training", 50, 16, 2048, 2048, 1, false, 0, true},
    {"training", 50, 32, 2048, 2048, 1, false, 0, false},
    {"training", 50, 64, 2048, 2048, 1, false, 0, false},
    // gated training: forward_training + backward of LSTM and PyTorch's GRU.
    {"lstm_training", 50, 1, 256, 256, 1, false, 0, true, SIMDRNN_CELL_LSTM},
    {"lstm_training", 50, 1, 512, 512, 1, false, 0, false, SIMDRNN_CELL_LSTM},
    {"lstm_training", 50, 1, 1024, 1024, 1, false, 0, false, SIMDRNN_CELL_LSTM},
    {"lstm_training", 50, 32, 512, 512, 1, false, 0, false, SIMDRNN_CELL_LSTM},
    {"lstm_training", 50, 32, 1024, 1024, 1, false, 0, false, SIMDRNN_CELL_LSTM},
    {"gru_training", 50, 1, 256, 256, 1, false, 0, true, SIMDRNN_CELL_GRU},
    {"gru_training", 50, 1, 512, 512, 1, false, 0, false, SIMDRNN_CELL_GRU},
    {"gru_training", 50, 1, 1024, 1024, 1, false, 0, false, SIMDRNN_CELL_GRU},
    {"gru_training", 50, 32, 512, 512, 1, false, 0, false, SIMDRNN_CELL_GRU},
    {"gru_training", 50, 32, 1024, 1024, 1, false, 0, false, SIMDRNN_CELL_GRU},
    // Gated cells: PyTorch's LSTM and GRU (oneDNN's lstm_forward and
    // lbr_gru_forward beside them); a streaming speech LSTM with projection.
    {"lstm_latency", 50, 1, 256, 256, 1, false, 0, true, SIMDRNN_CELL_LSTM},
    {"lstm_latency", 50, 1, 512, 512, 1, false, 0, true, SIMDRNN_CELL_LSTM},
    {"lstm_latency", 50, 1, 1024, 1024, 1, false, 0, false, SIMDRNN_CELL_LSTM},
    {"lstm_latency", 100, 1, 80, 1024, 1, false, 0, true, SIMDRNN_CELL_LSTM, 256},
    {"gru_latency", 50, 1, 256, 256, 1, false, 0, true, SIMDRNN_CELL_GRU},
    {"gru_latency", 50, 1, 512, 512, 1, false, 0, true, SIMDRNN_CELL_GRU},
    {"gru_latency", 50, 1, 1024, 1024, 1, false, 0, false, SIMDRNN_CELL_GRU},
    {"lstm_throughput", 50, 64, 512, 512, 1, false, 0, true, SIMDRNN_CELL_LSTM},
    {"lstm_throughput", 50, 64, 1024, 1024, 1, false, 0, false, SIMDRNN_CELL_LSTM},
    {"gru_throughput", 50, 64, 512, 512, 1, false, 0, true, SIMDRNN_CELL_GRU},
    {"gru_throughput", 50, 64, 1024, 1024, 1, false, 0, false, SIMDRNN_CELL_GRU},
};

// kOnednnReduced: oneDNN's own bf16 or int8 RNN primitives (Variant::precision
// says which), timed on activations already in that type, as their users keep them.
enum class Engine { kSimdrnn, kOnednn, kOnednnReduced, kGemmloop, kSimdrnnStream, kSimdrnnTrain, kOnednnTrain };

// One column of a suite: the impl name in the benchmark's name, what runs,
// and whether it runs one step (T = 1) instead of the shape's T.
struct Variant {
  const char* impl;
  Engine engine;
  bool one_step;
  simdrnn_isa max_isa = SIMDRNN_ISA_AVX512_BF16;  // simdrnn's kernels capped to this ISA level (simdrnn_avx2)
  simdrnn_precision precision = SIMDRNN_PRECISION_F32;  // the weights (simdrnn_bf16, onednn_int8, ...)
};

struct Suite {
  const char* name;
  std::vector<Variant> variants;
};

const std::vector<Variant> kForwardVariants = {{"simdrnn", Engine::kSimdrnn, false},
                                               {"onednn", Engine::kOnednn, false},
                                               {"gemmloop", Engine::kGemmloop, false}};
// Many servers lack AVX-512 or run it at a lower clock: the latency and
// throughput suites also show simdrnn with its AVX2 kernels (on a CPU
// without AVX-512 the row equals the simdrnn one).
const std::vector<Variant> kForwardVariantsWithAvx2 = {{"simdrnn", Engine::kSimdrnn, false},
                                                       {"simdrnn_avx2", Engine::kSimdrnn, false, SIMDRNN_ISA_AVX2},
                                                       {"onednn", Engine::kOnednn, false},
                                                       {"gemmloop", Engine::kGemmloop, false}};
// Latency suites also run reduced-precision weights (bf16, int8).
const std::vector<Variant> kLatencyVariants = {
    {"simdrnn", Engine::kSimdrnn, false},
    {"simdrnn_bf16", Engine::kSimdrnn, false, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_BF16},
    {"simdrnn_int8", Engine::kSimdrnn, false, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_INT8},
    {"simdrnn_avx2", Engine::kSimdrnn, false, SIMDRNN_ISA_AVX2},
    {"onednn", Engine::kOnednn, false},
    {"onednn_bf16", Engine::kOnednnReduced, false, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_BF16},
    {"onednn_int8", Engine::kOnednnReduced, false, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_INT8},
    {"gemmloop", Engine::kGemmloop, false}};

// Gated cells: no gemmloop (an sgemm-per-step LSTM is what PyTorch does,
// but the Elman suites already show that loop).
const std::vector<Variant> kGatedVariants = {{"simdrnn", Engine::kSimdrnn, false},
                                             {"onednn", Engine::kOnednn, false}};
const std::vector<Variant> kGatedLatencyVariants = {
    {"simdrnn", Engine::kSimdrnn, false},
    {"simdrnn_bf16", Engine::kSimdrnn, false, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_BF16},
    {"simdrnn_int8", Engine::kSimdrnn, false, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_INT8},
    {"onednn", Engine::kOnednn, false},
    {"onednn_bf16", Engine::kOnednnReduced, false, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_BF16},
    {"onednn_int8", Engine::kOnednnReduced, false, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_INT8}};

const Suite kSuites[] = {
    {"latency", kLatencyVariants},
    {"batch", kForwardVariants},
    {"throughput", kForwardVariantsWithAvx2},
    {"layers", kForwardVariants},
    {"stream",
     {{"simdrnn_step", Engine::kSimdrnnStream, true},
      {"simdrnn_bf16_step", Engine::kSimdrnnStream, true, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_BF16},
      {"simdrnn_int8_step", Engine::kSimdrnnStream, true, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_INT8},
      {"simdrnn_seq", Engine::kSimdrnn, false},
      {"onednn_step", Engine::kOnednn, true},
      {"onednn_seq", Engine::kOnednn, false},
      {"onednn_bf16_step", Engine::kOnednnReduced, true, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_BF16},
      {"onednn_int8_step", Engine::kOnednnReduced, true, SIMDRNN_ISA_AVX512_BF16, SIMDRNN_PRECISION_INT8},
      {"gemmloop_step", Engine::kGemmloop, true}}},
    {"training", {{"simdrnn", Engine::kSimdrnnTrain, false}, {"onednn", Engine::kOnednnTrain, false}}},
    {"lstm_training", {{"simdrnn", Engine::kSimdrnnTrain, false}, {"onednn", Engine::kOnednnTrain, false}}},
    {"gru_training", {{"simdrnn", Engine::kSimdrnnTrain, false}, {"onednn", Engine::kOnednnTrain, false}}},
    {"lstm_latency", kGatedLatencyVariants},
    {"gru_latency", kGatedLatencyVariants},
    {"lstm_throughput", kGatedVariants},
    {"gru_throughput", kGatedVariants},
};

// Measured once in main() before any benchmark is registered.
Roofline g_roofline;
// False with --no-roofline: no roofline, no core round-trip probes, no counters from them.
bool g_probes = true;

std::string shape_name(const Shape& s, int64_t T) {
  std::string name = "t" + std::to_string(T) + "n" + std::to_string(s.N) + "i" + std::to_string(s.I) + "h" +
                     std::to_string(s.H);
  if (s.L > 1) name += "l" + std::to_string(s.L);
  if (s.bidir) name += "bi";
  if (s.O > 0) name += "o" + std::to_string(s.O);
  if (s.P > 0) name += "p" + std::to_string(s.P);
  return name;
}

simdrnn_config config_for(const Shape& s) {
  simdrnn_config config = simdrnn_config_default();
  config.input_size = s.I;
  config.hidden_size = s.H;
  config.num_layers = s.L;
  config.bidirectional = s.bidir ? 1 : 0;
  config.activation = SIMDRNN_TANH;
  config.clip = 0.0f;
  config.output_size = s.O;
  config.cell = s.cell;
  config.proj_size = s.P;
  config.gru_linear_before_reset = s.lbr;
  return config;
}

// --shape / --model (print_own_flags): the user's own model, the one shape of
// the "custom" suite. With --model its file is loaded for simdrnn's rows;
// oneDNN's run random weights of the same configuration (its time does not
// depend on the values).
struct CustomRun {
  bool active = false;
  Shape shape{"custom", 0, 0, 0, 0, 1, false, 0, true};
  simdrnn_precision precision = SIMDRNN_PRECISION_F32;
  std::string model_path;
};
CustomRun g_custom;

// simdrnn's model for a row: the --model file, or one built from `weights`.
simdrnn::Model simdrnn_model_for(const simdrnn_config& config, const BaselineWeights& weights) {
  if (!g_custom.model_path.empty()) return simdrnn::Model::load(g_custom.model_path);
  return simdrnn_test::make_simdrnn_model(config, weights);
}

// Per-step latency of a stream (custom suite): `first_us` is the model's first
// step (thread pool start, page faults), then `call` alone, one clock read per
// step, for 2000 steps or 2 s: p50, p99 and p99.9 as counters.
template <class Call>
void step_percentiles(benchmark::State& state, double first_us, Call&& call) {
  std::vector<double> us;
  us.reserve(2000);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (us.size() < 2000 && std::chrono::steady_clock::now() < deadline) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(q * static_cast<double>(us.size())))]; };
  state.counters["first_call_us"] = first_us;
  state.counters["p50_us"] = at(0.5);
  state.counters["p99_us"] = at(0.99);
  state.counters["p999_us"] = at(0.999);
  state.counters["steps_sampled"] = static_cast<double>(us.size());
}

double micros_of(const std::function<void()>& call) {
  const auto t0 = std::chrono::steady_clock::now();
  call();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

// The weights of the most recent model configuration: benchmark calls each
// function several times while it sizes the iteration count, and generating
// 2048^2 weights each time would dominate the run's wall time. One entry keeps
// memory flat.
std::shared_ptr<const BaselineWeights> weights_for(const Shape& s) {
  static std::string cached_key;
  static std::shared_ptr<const BaselineWeights> cached;
  const std::string model_key = std::to_string(s.I) + "," + std::to_string(s.H) + "," + std::to_string(s.L) +
                                "," + std::to_string(s.bidir) + "," + std::to_string(s.O) + "," +
                                std::to_string(s.cell) + "," + std::to_string(s.P);
  if (cached == nullptr || cached_key != model_key) {
    cached.reset();
    cached =
        std::make_shared<const BaselineWeights>(simdrnn_test::make_baseline_weights(config_for(s), 2024));
    cached_key = model_key;
  }
  return cached;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// Seconds all CPUs spent busy (user, system, interrupts, and steal: time the
// hypervisor gave to another guest), from /proc/stat; < 0 when unreadable.
double system_busy_seconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  if (!in || cpu != "cpu") return -1.0;
  return static_cast<double>(user + nice + system + irq + softirq + steal) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds of this process, every thread included.
double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// Round trip of a cache line between two OpenMP threads (the machine's two
// cores as oneDNN sees them), µs (median of 5
// runs of 400): each per-step barrier at 2+ threads costs about one. On a VM
// it depends on where the hypervisor put the two vCPUs (~0.09 us on one core
// complex, ~0.45 us across dies on the machine of the reports), which can
// change between and during runs. 0 with fewer than 2 threads.
double core_round_trip_us() {
  struct alignas(64) Line {
    std::atomic<int> v{0};
  };
  Line ping, pong;
  std::vector<double> runs;
#pragma omp parallel num_threads(2)
  {
    if (omp_get_num_threads() == 2) {
      const bool first = omp_get_thread_num() == 0;
      for (int run = 0, base = 0; run < 5; ++run, base += 400) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = base + 1; i <= base + 400; ++i) {
          if (first) {
            ping.v.store(i, std::memory_order_release);
            while (pong.v.load(std::memory_order_acquire) != i) __builtin_ia32_pause();
          } else {
            while (ping.v.load(std::memory_order_acquire) != i) __builtin_ia32_pause();
            pong.v.store(i, std::memory_order_release);
          }
        }
        if (first)
          runs.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
                         400.0);
      }
    }
  }
  if (runs.empty()) return 0.0;
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

// Times `call` (one forward call or one stream step) in the benchmark loop.
// The counters come from our own wall clock around the loop: the names must
// end in /threads:k, and ->UseRealTime() would append /real_time, while
// without it benchmark's rate counters divide by the main thread's CPU time.
// (The reported Time column is wall time either way.)
// Training (forward_training + backward): 3x the forward FLOPs (backward
// repeats the recurrence and adds dX, dW_ih and dW_hh GEMMs); its bound is
// the forward bound twice (the recurrence walked both ways, phase A's GEMM
// mirrored by dX) plus the dW GEMMs at peak.
template <class Call>
void time_loop(benchmark::State& state, const Shape& s, int64_t T, int threads, Call&& call,
               bool training = false, simdrnn_precision precision = SIMDRNN_PRECISION_F32) {
  call();  // warm-up: caches, page faults, thread pools
  const double trip_before = g_probes && threads >= 2 ? core_round_trip_us() : 0.0;
  const double busy_before = system_busy_seconds(), own_before = own_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double busy_after = system_busy_seconds(), own_after = own_cpu_seconds();
  const double iterations = static_cast<double>(state.iterations());
  if (iterations <= 0.0 || seconds <= 0.0) return;
  const double per_call = seconds / iterations;
  const double forward = simdrnn_test::forward_flops(config_for(s), T, s.N);
  const double flops = training ? 3.0 * forward : forward;
  simdrnn_bench::Bound bound =
      simdrnn_bench::lower_bound(g_roofline,
                                 {T, s.N, s.I, s.H, s.L, s.bidir ? 2 : 1, s.O,
                                  s.cell == SIMDRNN_CELL_LSTM ? 4 : s.cell == SIMDRNN_CELL_GRU ? 3 : 1, s.P,
                                  precision == SIMDRNN_PRECISION_BF16   ? 2.0
                                  : precision == SIMDRNN_PRECISION_INT8 ? 1.0
                                                                        : 4.0},
                                 threads);
  if (training && g_roofline.valid) {
    const double d = s.bidir ? 2.0 : 1.0;
    double weight_grad_flops = 0;
    for (int64_t l = 0; l < s.L; ++l)
      weight_grad_flops += 2.0 * T * s.N * d * s.H * static_cast<double>((l == 0 ? s.I : d * s.H) + s.H);
    bound.seconds = 2.0 * bound.seconds + weight_grad_flops / (g_roofline.peak_gflops * 1e9 * threads);
  }
  state.counters["GFLOP/s"] = flops / per_call * 1e-9;
  state.counters["us_per_step"] = per_call / static_cast<double>(T) * 1e6;
  if (g_probes) {
    state.counters["bound_us"] = bound.seconds * 1e6;
    state.counters["frac_of_bound"] = bound.seconds / per_call;
    state.counters["whh_level"] = bound.whh_level + 1;
    state.counters["whh_bw_gbs"] = bound.whh_bandwidth_gbs;
  }
  state.counters["peak_rss_MiB"] = peak_rss_mib();
  if (g_probes && threads >= 2)  // the worse of before and after: a row measured with far cores is marked
    state.counters["core_trip_us"] = std::max(trip_before, core_round_trip_us());
  // Cores other processes (and other guests, via steal) kept busy while this
  // ran: a result measured beside them is not this machine's best.
  if (busy_before >= 0.0 && busy_after >= 0.0)
    state.counters["other_cpu"] =
        std::max(0.0, (busy_after - busy_before) - (own_after - own_before)) / seconds;
}

// Caps simdrnn's ISA for the models created while it lives.
struct ScopedMaxIsa {
  // Never above the cap the run started with (SIMDRNN_MAX_ISA).
  explicit ScopedMaxIsa(simdrnn_isa isa) : previous(simdrnn_active_isa()) {
    simdrnn_set_max_isa(static_cast<simdrnn_isa>(std::min<int>(isa, previous)));
  }
  ~ScopedMaxIsa() { simdrnn_set_max_isa(previous); }
  simdrnn_isa previous;
};

void bench_one(benchmark::State& state, const Shape& s, const Variant& v, int threads) {
  const ScopedMaxIsa isa_cap(v.max_isa);
  const int64_t T = v.one_step ? 1 : s.T;
  simdrnn_config config = config_for(s);
  config.weight_precision = v.precision;
  const int64_t D = s.bidir ? 2 : 1;
  const std::shared_ptr<const BaselineWeights> weights = weights_for(s);
  const std::vector<float> x = simdrnn_test::random_vector(static_cast<size_t>(T * s.N * s.I), 1);
  const int64_t H_out = s.P > 0 ? s.P : s.H;
  const std::vector<float> h0 = simdrnn_test::random_vector(static_cast<size_t>(s.L * D * s.N * H_out), 2);
  const bool lstm = s.cell == SIMDRNN_CELL_LSTM;
  const std::vector<float> c0 =
      simdrnn_test::random_vector(lstm ? static_cast<size_t>(s.L * D * s.N * s.H) : 0, 4);
  std::vector<float> y(static_cast<size_t>(T * s.N * D * H_out));
  std::vector<float> h_n(h0.size()), c_n(c0.size());
  std::vector<float> out(static_cast<size_t>(T * s.N * s.O));
  float* out_ptr = s.O > 0 ? out.data() : nullptr;

  switch (v.engine) {
    case Engine::kSimdrnn: {
      const simdrnn::Model model = simdrnn_model_for(config, *weights);
      simdrnn_forward_args args{};
      args.seq_len = T;
      args.batch = s.N;
      args.layout = SIMDRNN_TIME_MAJOR;
      args.x = x.data();
      args.h0 = h0.data();
      args.y = y.data();
      args.h_n = h_n.data();
      args.c0 = lstm ? c0.data() : nullptr;
      args.c_n = lstm ? c_n.data() : nullptr;
      args.out = out_ptr;
      args.num_threads = threads;
      std::vector<unsigned char> workspace(simdrnn_test::sizes_of(model.get(), args).workspace);
      args.workspace = workspace.data();
      args.workspace_size = workspace.size();
      state.SetLabel(simdrnn::isa_name(model.isa()));
      time_loop(
          state, s, T, threads,
          [&] {
            if (simdrnn_forward(model.get(), &args) != SIMDRNN_OK) throw std::runtime_error(simdrnn_last_error());
          },
          false, v.precision);
      break;
    }
    case Engine::kSimdrnnStream: {
      // The state carries over from call to call, as in a real stream.
      const simdrnn::Model model = simdrnn_model_for(config, *weights);
      simdrnn::Stream stream(model, s.N, 1);
      stream.reset(h0);
      state.SetLabel(simdrnn::isa_name(model.isa()));
      const simdrnn::Span<float> out_span(out_ptr, out.size());
      auto step = [&] { stream.step(1, x, y, out_span, threads); };
      const double first_us = micros_of(step);
      time_loop(state, s, T, threads, step, false, v.precision);
      if (g_custom.active) step_percentiles(state, first_us, step);
      break;
    }
    case Engine::kOnednn: {
      // One step of a custom shape also gets its first call and percentiles (step_percentiles).
      auto timed = [&](auto&& call) {
        const double first_us = micros_of(call);
        time_loop(state, s, T, threads, call);
        if (g_custom.active && v.one_step) step_percentiles(state, first_us, call);
      };
      if (s.cell != SIMDRNN_CELL_RNN) {
        simdrnn_test::OnednnGatedRnn rnn;
        rnn.setup(config, T, s.N, *weights, threads);
        state.SetLabel(rnn.impl_info() +
                       (rnn.single_primitive() ? " (1 primitive)" : " (1 primitive per layer)"));
        timed([&] {
          rnn.run(x.data(), h0.data(), lstm ? c0.data() : nullptr, y.data(), h_n.data(),
                  lstm ? c_n.data() : nullptr, out_ptr);
        });
        break;
      }
      simdrnn_test::OnednnRnn rnn;
      rnn.setup(config, T, s.N, *weights, threads);
      state.SetLabel(rnn.impl_info() +
                     (rnn.single_primitive() ? " (1 primitive)" : " (1 primitive per layer)"));
      timed([&] { rnn.run(x.data(), h0.data(), y.data(), h_n.data(), out_ptr); });
      break;
    }
    case Engine::kOnednnReduced: {
      // What oneDNN 2.6 cannot run in this type (int8 Elman, peepholes or
      // linear-before-reset GRU) is a skipped row that says why.
      const simdrnn_test::ReducedType type = v.precision == SIMDRNN_PRECISION_BF16
                                                 ? simdrnn_test::ReducedType::kBf16
                                                 : simdrnn_test::ReducedType::kInt8;
      std::string why;
      if (s.O > 0 || !simdrnn_test::OnednnReducedRnn::supported(config, type, false, &why))
        throw std::runtime_error(s.O > 0 ? "no output layer in oneDNN's RNN primitives" : why);
      simdrnn_test::OnednnReducedRnn rnn;
      rnn.setup(config, T, s.N, *weights, threads, type);
      rnn.set_inputs(x.data(), h0.data(), lstm ? c0.data() : nullptr);
      state.SetLabel(rnn.impl_info() + (rnn.single_primitive() ? " (1 primitive)" : " (1 primitive per layer)"));
      time_loop(state, s, T, threads, [&] { rnn.execute(); }, false, v.precision);
      break;
    }
    case Engine::kSimdrnnTrain: {
      const simdrnn::Model model = simdrnn_test::make_simdrnn_model(config, *weights);
      simdrnn_forward_args args{};
      args.seq_len = T;
      args.batch = s.N;
      args.layout = SIMDRNN_TIME_MAJOR;
      args.x = x.data();
      args.h0 = h0.data();
      args.c0 = lstm ? c0.data() : nullptr;
      args.y = y.data();
      args.num_threads = threads;
      const simdrnn_sizes sizes = simdrnn_test::sizes_of(model.get(), args);
      std::vector<unsigned char> workspace(sizes.workspace);
      args.workspace = workspace.data();
      args.workspace_size = workspace.size();
      size_t reserve_bytes = 0;
      simdrnn::check(simdrnn_training_reserve_size(model.get(), &args, &reserve_bytes));
      std::vector<unsigned char> reserve(reserve_bytes);
      std::vector<unsigned char> bwd_workspace(sizes.backward_workspace);
      const std::vector<float> dy = simdrnn_test::random_vector(y.size(), 3);
      std::vector<float> dx(x.size()), grads(static_cast<size_t>(model.num_params()));
      simdrnn_backward_args b{};
      b.forward = &args, b.reserve = reserve.data(), b.reserve_size = reserve.size(), b.dy = dy.data();
      b.dx = dx.data(), b.grads = grads.data(), b.workspace = bwd_workspace.data();
      b.workspace_size = bwd_workspace.size(), b.num_threads = threads;
      state.SetLabel(simdrnn::isa_name(model.isa()));
      time_loop(
          state, s, T, threads,
          [&] {
            if (simdrnn_forward_training(model.get(), &args, reserve.data(), reserve.size()) != SIMDRNN_OK ||
                simdrnn_backward(model.get(), &b) != SIMDRNN_OK)
              throw std::runtime_error(simdrnn_last_error());
          },
          true);
      break;
    }
    case Engine::kOnednnTrain: {
      const simdrnn_test::BaselineDirection direction = s.bidir
                                                            ? simdrnn_test::BaselineDirection::kBidirectionalConcat
                                                            : simdrnn_test::BaselineDirection::kLeft2Right;
      if (s.cell != SIMDRNN_CELL_RNN) {
        simdrnn_test::OnednnGatedRnnTraining rnn;
        rnn.setup(config, T, s.N, *weights, threads, direction);
        const std::vector<float> dy = simdrnn_test::random_vector(y.size(), 3);
        std::vector<float> dx(x.size());
        state.SetLabel(rnn.impl_info());
        time_loop(
            state, s, T, threads,
            [&] {
              rnn.forward(x.data(), h0.data(), lstm ? c0.data() : nullptr, y.data(), nullptr, nullptr);
              rnn.backward(dy.data(), nullptr, nullptr, dx.data(), nullptr, nullptr, nullptr);
            },
            true);
        break;
      }
      simdrnn_test::OnednnRnnTraining rnn;
      rnn.setup(config, T, s.N, *weights, threads,
                s.bidir ? simdrnn_test::BaselineDirection::kBidirectionalConcat
                        : simdrnn_test::BaselineDirection::kLeft2Right);
      const std::vector<float> dy = simdrnn_test::random_vector(y.size(), 3);
      std::vector<float> dx(x.size());
      state.SetLabel(rnn.impl_info());
      time_loop(
          state, s, T, threads,
          [&] {
            rnn.forward(x.data(), h0.data(), y.data(), nullptr);
            rnn.backward(dy.data(), nullptr, dx.data(), nullptr, nullptr);
          },
          true);
      break;
    }
    case Engine::kGemmloop: {
      simdrnn_test::GemmLoopRnn rnn;
      rnn.setup(config, T, s.N, *weights, threads);
      state.SetLabel("dnnl_sgemm");
      time_loop(state, s, T, threads, [&] { rnn.run(x.data(), h0.data(), y.data(), h_n.data(), out_ptr); });
      break;
    }
  }
}

void run_benchmark(benchmark::State& state, const Shape& s, const Variant& v, int threads) {
  try {
    bench_one(state, s, v, threads);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// The custom suite's rows for the user's precision: simdrnn's whole sequence
// and one stream step, oneDNN's in f32 and, for bf16 / int8, in that type.
std::vector<Variant> custom_variants(simdrnn_precision p) {
  const simdrnn_isa top = SIMDRNN_ISA_AVX512_BF16;
  std::vector<Variant> v = {{"simdrnn", Engine::kSimdrnn, false, top, p},
                            {"simdrnn_step", Engine::kSimdrnnStream, true, top, p},
                            {"onednn", Engine::kOnednn, false},
                            {"onednn_step", Engine::kOnednn, true}};
  if (p == SIMDRNN_PRECISION_BF16) v.push_back({"onednn_bf16", Engine::kOnednnReduced, false, top, p});
  if (p == SIMDRNN_PRECISION_INT8) v.push_back({"onednn_int8", Engine::kOnednnReduced, false, top, p});
  return v;
}

std::vector<std::string> register_benchmarks(const std::vector<int>& thread_counts, bool quick) {
  std::vector<std::string> names;
  if (g_custom.active) {
    const Shape shape = g_custom.shape;
    for (const Variant& variant : custom_variants(g_custom.precision))
      for (int threads : thread_counts) {
        const std::string name = std::string("custom/") + variant.impl + "/" +
                                 shape_name(shape, variant.one_step ? 1 : shape.T) + "/threads:" +
                                 std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), [shape, variant, threads](benchmark::State& state) {
          run_benchmark(state, shape, variant, threads);
        })->Unit(benchmark::kMicrosecond);
        names.push_back(name);
      }
    return names;
  }
  for (const Suite& suite : kSuites) {
    for (const Shape& shape : kShapes) {
      if (std::string(shape.suite) != suite.name || (quick && !shape.quick)) continue;
      for (const Variant& variant : suite.variants) {
        for (int threads : thread_counts) {
          const std::string name = std::string(suite.name) + "/" + variant.impl + "/" +
                                   shape_name(shape, variant.one_step ? 1 : shape.T) +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), [shape, variant, threads](benchmark::State& state) {
            run_benchmark(state, shape, variant, threads);
          })->Unit(benchmark::kMicrosecond);
          names.push_back(name);
        }
      }
    }
  }
  return names;
}

// ---- progress ----------------------------------------------------------------

// The console reporter, with "[i/N]" before each benchmark's name and a line
// when a suite starts. Flushes after each benchmark, so a pipe (tee) shows
// results as they come.
class ProgressReporter : public benchmark::ConsoleReporter {
 public:
  ProgressReporter(OutputOptions options, std::vector<std::string> names)
      : ConsoleReporter(options), names_(std::move(names)) {
    width_ = 2 * std::to_string(names_.size()).size() + 4;  // "[i/N] "
  }

  bool ReportContext(const Context& context) override {
    const bool ok = ConsoleReporter::ReportContext(context);
    name_field_width_ += width_;
    return ok;
  }

  void ReportRuns(const std::vector<Run>& reports) override {
    if (!reports.empty()) {
      const std::string name = reports.front().run_name.function_name;
      const std::string suite = name.substr(0, name.find('/'));
      if (suite != suite_) {
        suite_ = suite;
        const auto in_suite = std::count_if(names_.begin(), names_.end(), [&](const std::string& n) {
          return n.compare(0, suite.size() + 1, suite + "/") == 0;
        });
        GetOutputStream() << "== suite " << suite << " (" << in_suite << " benchmarks) ==\n";
      }
      ++index_;
    }
    ConsoleReporter::ReportRuns(reports);
    GetOutputStream().flush();
  }

 protected:
  void PrintRunData(const Run& report) override {
    // Of the aggregates, the median and the coefficient of variation say it
    // all on a console (the JSON keeps mean and stddev too).
    if (report.run_type == Run::RT_Aggregate &&
        (report.aggregate_name == "mean" || report.aggregate_name == "stddev"))
      return;
    Run run = report;
    const std::string prefix = "[" + std::to_string(index_) + "/" + std::to_string(names_.size()) + "] ";
    run.run_name.function_name = prefix +
                                 std::string(width_ > prefix.size() ? width_ - prefix.size() : 0, ' ') +
                                 run.run_name.function_name;
    ConsoleReporter::PrintRunData(run);
  }

 private:
  std::vector<std::string> names_;  // the benchmarks that will run
  size_t width_ = 0;
  size_t index_ = 0;
  std::string suite_;
};

// The registered names the filter selects (benchmark's rule: a regex searched
// in the name; a leading '-' negates; empty, "." and "all" select all).
std::vector<std::string> selected(const std::vector<std::string>& names, std::string filter) {
  if (filter.empty() || filter == "." || filter == "all") return names;
  bool negate = false;
  if (filter[0] == '-') {
    negate = true;
    filter.erase(0, 1);
  }
  std::vector<std::string> out;
  try {
    const std::regex re(filter, std::regex::extended);
    for (const std::string& name : names)
      if (std::regex_search(name, re) != negate) out.push_back(name);
  } catch (const std::regex_error&) {
    return names;
  }
  return out;
}

// ---- machine and run description (JSON context) ------------------------------

std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string rest = line.substr(0, colon);
    if (rest.find_first_not_of(" \t", key.size()) != std::string::npos) continue;  // "model" vs "model name"
    return line.substr(std::min(line.size(), colon + 2));
  }
  return "";
}

// The CPU flags that matter to fp32 SIMD kernels, in a fixed order.
std::string relevant_cpu_flags() {
  static const char* const kFlags[] = {"sse4_2",      "avx",      "avx2",        "fma",
                                       "f16c",        "avx512f",  "avx512dq",    "avx512cd",
                                       "avx512bw",    "avx512vl", "avx512_vnni", "avx512_bf16",
                                       "avx512_fp16", "avx_vnni", "amx_tile",    "amx_bf16"};
  std::istringstream all(" " + cpuinfo_field("flags") + " ");
  std::vector<std::string> present;
  for (std::string flag; all >> flag;) present.push_back(flag);
  std::string out;
  for (const char* flag : kFlags) {
    if (std::find(present.begin(), present.end(), flag) == present.end()) continue;
    if (!out.empty()) out += " ";
    out += flag;
  }
  return out;
}

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("GCC ") + __VERSION__;
#else
  return "unknown";
#endif
}

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

std::string join(const std::vector<int>& values) {
  std::string out;
  for (int v : values) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

void add_run_context(const std::vector<int>& thread_counts, bool quick, const std::string& args) {
  const dnnl_version_t* dnnl = dnnl_version();
  benchmark::AddCustomContext("simdrnn_version", simdrnn_version());
  benchmark::AddCustomContext("simdrnn_isa", simdrnn_isa_name(simdrnn_active_isa()));
  benchmark::AddCustomContext("simdrnn_detected_isa", simdrnn_isa_name(simdrnn_detected_isa()));
  benchmark::AddCustomContext(
      "onednn_version",
      std::to_string(dnnl->major) + "." + std::to_string(dnnl->minor) + "." + std::to_string(dnnl->patch));
  benchmark::AddCustomContext("cpu_model", cpuinfo_field("model name"));
  benchmark::AddCustomContext("cpu_flags", relevant_cpu_flags());
  benchmark::AddCustomContext("online_cpus", std::to_string(omp_get_num_procs()));
  benchmark::AddCustomContext("compiler", compiler());
  benchmark::AddCustomContext("build_type", SIMDRNN_BENCH_BUILD_TYPE);
  benchmark::AddCustomContext("commit", env_or("SIMDRNN_BENCH_COMMIT", "unknown"));
  benchmark::AddCustomContext("bench_mode", quick ? "quick" : "full");
  benchmark::AddCustomContext("bench_threads", join(thread_counts));
  benchmark::AddCustomContext("bench_args", args);
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  if (g_probes && omp_get_num_procs() >= 2) {
    char trip[32];
    std::snprintf(trip, sizeof trip, "%.3f", core_round_trip_us());
    benchmark::AddCustomContext("core_round_trip_us_at_start", trip);
  }
  for (const char* name : {"OMP_PROC_BIND", "OMP_PLACES", "OMP_WAIT_POLICY", "OMP_NUM_THREADS",
                           "SIMDRNN_MAX_ISA", "ONEDNN_MAX_CPU_ISA", "SIMDRNN_NUM_THREADS"})
    benchmark::AddCustomContext(std::string("env_") + name, env_or(name, ""));
  benchmark::AddCustomContext("weights", "warm: one weight set per benchmark, reused");
}

// ---- own flags -----------------------------------------------------------------

bool parse_threads(const std::string& text, std::vector<int>* out) {
  out->clear();
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    const long value = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || value < 1 || value > 4096) return false;
    out->push_back(static_cast<int>(value));
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return !out->empty();
}

bool has_flag(const std::vector<std::string>& args, const std::string& flag) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
    return a == flag || a.compare(0, flag.size() + 1, flag + "=") == 0;
  });
}

// --shape, --cell, --precision, --model into `run` (error: what is wrong).
bool parse_custom(const std::string& shape, const std::string& cell, const std::string& precision, CustomRun* run,
                  std::string* error) {
  const std::regex re(R"(^t(\d+)n(\d+)(?:i(\d+)h(\d+))?(?:l(\d+))?(bi)?(?:o(\d+))?(?:p(\d+))?$)");
  std::smatch m;
  if (!std::regex_match(shape, m, re)) {
    *error = "--shape: expected t<T>n<N>i<I>h<H>[l<L>][bi][o<O>][p<P>] (with --model, t<T>n<N> is enough), got '" +
             shape + "'";
    return false;
  }
  auto num = [&](int i, int64_t dflt) { return m[i].matched ? std::stoll(m[i].str()) : dflt; };
  Shape& s = run->shape;
  s.T = num(1, 0), s.N = num(2, 0), s.I = num(3, 0), s.H = num(4, 0), s.L = num(5, 1);
  s.bidir = m[6].matched, s.O = num(7, 0), s.P = num(8, 0);
  if (cell.empty() || cell == "rnn") s.cell = SIMDRNN_CELL_RNN;
  else if (cell == "lstm") s.cell = SIMDRNN_CELL_LSTM;
  else if (cell == "gru") s.cell = SIMDRNN_CELL_GRU;
  else if (cell == "gru_reset_first") s.cell = SIMDRNN_CELL_GRU, s.lbr = 0;
  else {
    *error = "--cell: expected rnn, lstm, gru or gru_reset_first, got '" + cell + "'";
    return false;
  }
  if (precision.empty() || precision == "f32") run->precision = SIMDRNN_PRECISION_F32;
  else if (precision == "bf16") run->precision = SIMDRNN_PRECISION_BF16;
  else if (precision == "int8") run->precision = SIMDRNN_PRECISION_INT8;
  else {
    *error = "--precision: expected f32, bf16 or int8, got '" + precision + "'";
    return false;
  }
  if (!run->model_path.empty()) {  // the file says what the model is
    if (!cell.empty() || !precision.empty() || m[3].matched || m[5].matched || m[6].matched || m[7].matched ||
        m[8].matched) {
      *error = "--model: the file gives the cell, precision and sizes; --shape takes only t<T>n<N>";
      return false;
    }
    simdrnn_model* model = nullptr;
    if (simdrnn_model_load(run->model_path.c_str(), &model) != SIMDRNN_OK) {
      *error = std::string("--model: ") + simdrnn_last_error();
      return false;
    }
    simdrnn_config c{};
    simdrnn_model_config(model, &c);
    simdrnn_model_destroy(model);
    s.I = c.input_size, s.H = c.hidden_size, s.L = c.num_layers, s.bidir = c.bidirectional != 0;
    s.O = c.output_size, s.P = c.proj_size, s.cell = c.cell, s.lbr = c.gru_linear_before_reset;
    run->precision = c.weight_precision;
  }
  if (s.T < 1 || s.N < 1 || s.I < 1 || s.H < 1 || s.L < 1) {
    *error = "--shape: T, N, I, H and L must be at least 1, got '" + shape + "'";
    return false;
  }
  if (s.P > 0 && s.cell != SIMDRNN_CELL_LSTM) {
    *error = "--shape: p<P> (a projection) needs --cell=lstm";
    return false;
  }
  run->active = true;
  return true;
}

void print_own_flags() {
  std::printf(
      "simdrnn-bench: simdrnn beside oneDNN's RNN primitive and an sgemm-per-step loop, rated\n"
      "against this machine's roofline (benchmarks/run.sh runs it and writes the report).\n"
      "Own flags:\n"
      "  --threads=1,2,4,8  thread counts (default 1,2; env SIMDRNN_BENCH_THREADS); counts\n"
      "                     above this machine's cores are dropped\n"
      "  --quick            fewer shapes, and --benchmark_min_time=0.05 unless given\n"
      "  --kernels          only the kernel microbenchmarks, kernel/<isa>/<kernel>_<shape>\n"
      "  --no-roofline      skip the roofline measurement and the core round-trip probes (for\n"
      "                     profilers such as callgrind); rows then carry no bound counters\n"
      "  --shape=t<T>n<N>i<I>h<H>[l<L>][bi][o<O>][p<P>]\n"
      "                     only your shape (suite custom): simdrnn's whole sequence and one\n"
      "                     stream step (first call, p50 / p99 / p99.9 per step), beside oneDNN\n"
      "  --cell=rnn|lstm|gru|gru_reset_first   its cell (default rnn; gru is PyTorch's,\n"
      "                     gru_reset_first ONNX's linear_before_reset = 0)\n"
      "  --precision=f32|bf16|int8   simdrnn's weights (default f32); oneDNN's own bf16 /\n"
      "                     u8s8 primitive joins where it has one\n"
      "  --model=PATH       simdrnn's rows run this model file (simdrnn_model_save); --shape\n"
      "                     then needs only t<T>n<N>, the rest comes from the file (oneDNN runs\n"
      "                     random weights of the same configuration)\n"
      "Names: <suite>/<impl>/t<T>n<N>i<I>h<H>[l<L>][bi][o<O>][p<P>]/threads:<k>; suites latency,\n"
      "batch, throughput, layers, stream, training, lstm_*, gru_*, custom. Google Benchmark's\n"
      "flags follow.\n\n");
}

}  // namespace

void register_kernel_benchmarks();  // kernel_bench.cpp

int main(int argc, char** argv) {
  // Take out our flags; keep benchmark's for benchmark::Initialize.
  std::vector<std::string> args;
  std::string all_args;
  bool quick = false, kernels_only = false;
  std::string threads_text = env_or("SIMDRNN_BENCH_THREADS", "1,2");
  std::string shape_text, cell_text, precision_text;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    all_args += (all_args.empty() ? "" : " ") + a;
    if (a == "--quick") {
      quick = true;
    } else if (a == "--kernels") {
      kernels_only = true;
    } else if (a == "--no-roofline") {
      g_probes = false;
    } else if (a.compare(0, 10, "--threads=") == 0) {
      threads_text = a.substr(10);
    } else if (a.compare(0, 8, "--shape=") == 0) {
      shape_text = a.substr(8);
    } else if (a.compare(0, 7, "--cell=") == 0) {
      cell_text = a.substr(7);
    } else if (a.compare(0, 12, "--precision=") == 0) {
      precision_text = a.substr(12);
    } else if (a.compare(0, 8, "--model=") == 0) {
      g_custom.model_path = a.substr(8);
    } else {
      args.push_back(a);
    }
  }
  std::vector<int> requested;
  if (!parse_threads(threads_text, &requested)) {
    std::fprintf(stderr,
                 "simdrnn-bench: --threads / SIMDRNN_BENCH_THREADS: expected a list like 1,2,4, got '%s'\n",
                 threads_text.c_str());
    return 2;
  }
  if (!shape_text.empty() || !cell_text.empty() || !precision_text.empty() || !g_custom.model_path.empty()) {
    std::string error;
    if (!parse_custom(shape_text, cell_text, precision_text, &g_custom, &error)) {
      std::fprintf(stderr, "simdrnn-bench: %s\n", error.c_str());
      return 2;
    }
  }
  const int cores = omp_get_num_procs();
  std::vector<int> thread_counts;
  for (int t : requested) {
    if (t <= cores)
      thread_counts.push_back(t);
    else
      std::fprintf(stderr, "simdrnn-bench: skipping threads:%d, this machine has %d cores\n", t, cores);
  }
  if (thread_counts.empty()) thread_counts.push_back(1);
  if (quick && !has_flag(args, "--benchmark_min_time")) args.push_back("--benchmark_min_time=0.05");
  // Google Benchmark prints its own flags and exits inside Initialize.
  if (has_flag(args, "--help")) print_own_flags();

  if (kernels_only) {  // kernel microbenchmarks alone (benchmarks/kernel_bench.cpp)
    register_kernel_benchmarks();
    std::vector<char*> kargv = {argv[0]};
    for (std::string& a : args) kargv.push_back(a.data());
    int kargc = static_cast<int>(kargv.size());
    kargv.push_back(nullptr);
    benchmark::Initialize(&kargc, kargv.data());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
  }

  const bool only_listing = has_flag(args, "--benchmark_list_tests") || has_flag(args, "--help");
  // Before anything starts threads: the measurement forks.
  if (!only_listing && g_probes) g_roofline = simdrnn_bench::measure_roofline();
  if (!g_probes) g_roofline.error = "skipped (--no-roofline)";

  const std::vector<std::string> names = register_benchmarks(thread_counts, quick);
  std::vector<char*> bench_argv = {argv[0]};
  for (std::string& a : args) bench_argv.push_back(a.data());
  int bench_argc = static_cast<int>(bench_argv.size());
  bench_argv.push_back(nullptr);
  benchmark::Initialize(&bench_argc, bench_argv.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, bench_argv.data())) return 1;

  add_run_context(thread_counts, quick, all_args);
  simdrnn_bench::add_context(g_roofline);

  // Our progress display unless another format was asked for.
  std::unique_ptr<benchmark::BenchmarkReporter> display;
  const bool console = !has_flag(args, "--benchmark_format") || has_flag(args, "--benchmark_format=console");
  if (!only_listing && console) {
    const std::vector<std::string> chosen = selected(names, benchmark::GetBenchmarkFilter());
    std::fputs(g_probes ? simdrnn_bench::describe(g_roofline).c_str()
                        : "roofline: skipped (--no-roofline); rows carry no bound counters\n",
               stdout);
    std::printf("simdrnn-bench: %zu benchmarks, threads %s%s\n", chosen.size(), join(thread_counts).c_str(),
                quick ? " (quick set)" : "");
    std::fflush(stdout);
    const bool color = isatty(STDOUT_FILENO) && !has_flag(args, "--benchmark_color=false");
    display = std::make_unique<ProgressReporter>(
        color ? benchmark::ConsoleReporter::OO_ColorTabular : benchmark::ConsoleReporter::OO_Tabular, chosen);
  }
  benchmark::RunSpecifiedBenchmarks(display.get());
  benchmark::Shutdown();
  return 0;
}
