// simdrnn-bench: times simdrnn_forward, oneDNN's vanilla RNN primitive and the
// sgemm-per-step loop (PyTorch / ONNX Runtime on CPU) on the same shapes.
//
// Names: <suite>/<impl>/t<T>n<N>i<I>h<H>[l<L>][bi][o<O>]/threads:<k>, where k
// is the thread count handed to the library (simdrnn's num_threads, OpenMP's
// for oneDNN) -- not benchmark's ->Threads(), which would run k copies at once.
//
// Runtime: select with --benchmark_filter (a regex over the names, e.g.
// --benchmark_filter='latency/.*/t50n1i128h128/.*') and shorten each
// measurement with --benchmark_min_time (seconds, e.g. 0.05) for a quick run;
// --benchmark_repetitions=N --benchmark_report_aggregates_only=true gives
// medians. Thread placement is OpenMP's: OMP_PROC_BIND=close OMP_PLACES=cores
// makes runs repeatable. On a machine other processes are also using,
// threads:2 rows under libgomp's default spin-then-sleep wait can take
// milliseconds per barrier (a spinning thread holds the core its partner
// needs); OMP_WAIT_POLICY=passive avoids that, an idle machine is better.
//
// Weights are warm: each benchmark builds one weight set and reuses it every
// iteration, so they sit in whatever cache level they fit. Inputs, initial
// state and outputs are distinct buffers. Everything but the forward call
// (weights, model / primitive creation, weight reorders, workspace) happens
// outside the timed loop.
#include <benchmark/benchmark.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "simdrnn/simdrnn.hpp"
#include "support/onednn_rnn.hpp"
#include "support/test_util.hpp"

namespace {

using simdrnn_test::BaselineWeights;

// One benchmarked problem. To add a suite, add its rows here (and its thread
// counts to kSuites); a suite that times something other than one forward
// call (stream, training) adds a runner in run_benchmark().
struct Shape {
  const char* suite;
  int64_t T;   // sequence length
  int64_t N;   // batch
  int64_t I;   // input size
  int64_t H;   // hidden size
  int64_t L;   // layers
  bool bidir;  // bidirectional, outputs concatenated
  int64_t O;   // output layer size, 0: none
};

const Shape kShapes[] = {
    // latency: one sequence, small to large W_hh (64 KiB .. 16 MiB).
    {"latency", 50, 1, 128, 128, 1, false, 0},   {"latency", 50, 1, 256, 256, 1, false, 0},
    {"latency", 50, 1, 512, 512, 1, false, 0},   {"latency", 50, 1, 1024, 1024, 1, false, 0},
    {"latency", 50, 1, 2048, 2048, 1, false, 0},
};

struct Suite {
  const char* name;
  std::vector<int> threads;
};

const Suite kSuites[] = {
    {"latency", {1, 2}},
};

enum class Impl { kSimdrnn, kOnednn, kGemmloop };
const Impl kImpls[] = {Impl::kSimdrnn, Impl::kOnednn, Impl::kGemmloop};

const char* impl_name(Impl impl) {
  switch (impl) {
    case Impl::kSimdrnn:
      return "simdrnn";
    case Impl::kOnednn:
      return "onednn";
    case Impl::kGemmloop:
      return "gemmloop";
  }
  return "unknown";
}

std::string shape_name(const Shape& s) {
  std::string name = "t" + std::to_string(s.T) + "n" + std::to_string(s.N) + "i" + std::to_string(s.I) + "h" +
                     std::to_string(s.H);
  if (s.L > 1) name += "l" + std::to_string(s.L);
  if (s.bidir) name += "bi";
  if (s.O > 0) name += "o" + std::to_string(s.O);
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
  return config;
}

// The weights of the most recent shape: benchmark calls each function several
// times while it sizes the iteration count, and generating 2048^2 weights
// each time would dominate the run's wall time. One entry keeps memory flat.
std::shared_ptr<const BaselineWeights> weights_for(const Shape& s) {
  static std::string cached_key;
  static std::shared_ptr<const BaselineWeights> cached;
  const std::string key = shape_name(s);
  if (cached == nullptr || cached_key != key) {
    cached.reset();
    cached =
        std::make_shared<const BaselineWeights>(simdrnn_test::make_baseline_weights(config_for(s), 2024));
    cached_key = key;
  }
  return cached;
}

// Times `step` (one forward call) in the benchmark loop. The counters come
// from our own wall clock around the loop: the names must end in /threads:k,
// and ->UseRealTime() would append /real_time, while without it benchmark's
// rate counters divide by the main thread's CPU time. (The reported Time
// column is wall time either way.)
template <class Step>
void time_loop(benchmark::State& state, const Shape& s, Step&& step) {
  step();  // warm-up: caches, page faults, OpenMP thread pool
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    step();
    benchmark::ClobberMemory();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double iterations = static_cast<double>(state.iterations());
  if (iterations <= 0.0 || seconds <= 0.0) return;
  const double flops = simdrnn_test::forward_flops(config_for(s), s.T, s.N);
  state.counters["GFLOP/s"] = flops * iterations / seconds * 1e-9;
  state.counters["us_per_step"] = seconds / iterations / static_cast<double>(s.T) * 1e6;
}

void bench_forward(benchmark::State& state, const Shape& s, Impl impl, int threads) {
  const simdrnn_config config = config_for(s);
  const int64_t D = s.bidir ? 2 : 1;
  const std::shared_ptr<const BaselineWeights> weights = weights_for(s);
  const std::vector<float> x = simdrnn_test::random_vector(static_cast<size_t>(s.T * s.N * s.I), 1);
  const std::vector<float> h0 = simdrnn_test::random_vector(static_cast<size_t>(s.L * D * s.N * s.H), 2);
  std::vector<float> y(static_cast<size_t>(s.T * s.N * D * s.H));
  std::vector<float> h_n(h0.size());
  std::vector<float> out(static_cast<size_t>(s.T * s.N * s.O));
  float* out_ptr = s.O > 0 ? out.data() : nullptr;

  switch (impl) {
    case Impl::kSimdrnn: {
      const simdrnn::Model model = simdrnn_test::make_simdrnn_model(config, *weights);
      simdrnn_forward_args args{};
      args.seq_len = s.T;
      args.batch = s.N;
      args.layout = SIMDRNN_TIME_MAJOR;
      args.x = x.data();
      args.h0 = h0.data();
      args.y = y.data();
      args.h_n = h_n.data();
      args.out = out_ptr;
      args.num_threads = threads;
      std::vector<unsigned char> workspace(model.workspace_size(args));
      args.workspace = workspace.data();
      args.workspace_size = workspace.size();
      state.SetLabel(simdrnn::isa_name(model.isa()));
      time_loop(state, s, [&] {
        if (simdrnn_forward(model.get(), &args) != SIMDRNN_OK) throw std::runtime_error(simdrnn_last_error());
      });
      break;
    }
    case Impl::kOnednn: {
      simdrnn_test::OnednnRnn rnn;
      rnn.setup(config, s.T, s.N, *weights, threads);
      state.SetLabel(rnn.impl_info());
      time_loop(state, s, [&] { rnn.run(x.data(), h0.data(), y.data(), h_n.data(), out_ptr); });
      break;
    }
    case Impl::kGemmloop: {
      simdrnn_test::GemmLoopRnn rnn;
      rnn.setup(config, s.T, s.N, *weights, threads);
      time_loop(state, s, [&] { rnn.run(x.data(), h0.data(), y.data(), h_n.data(), out_ptr); });
      break;
    }
  }
}

void run_benchmark(benchmark::State& state, const Shape& s, Impl impl, int threads) {
  try {
    bench_forward(state, s, impl, threads);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void register_benchmarks() {
  for (const Suite& suite : kSuites) {
    for (const Shape& shape : kShapes) {
      if (std::string(shape.suite) != suite.name) continue;
      for (Impl impl : kImpls) {
        for (int threads : suite.threads) {
          const std::string name = std::string(suite.name) + "/" + impl_name(impl) + "/" + shape_name(shape) +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), [shape, impl, threads](benchmark::State& state) {
            run_benchmark(state, shape, impl, threads);
          })->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const dnnl_version_t* dnnl = dnnl_version();
  benchmark::AddCustomContext("simdrnn_version", simdrnn_version());
  benchmark::AddCustomContext("simdrnn_isa", simdrnn_isa_name(simdrnn_active_isa()));
  benchmark::AddCustomContext(
      "onednn_version",
      std::to_string(dnnl->major) + "." + std::to_string(dnnl->minor) + "." + std::to_string(dnnl->patch));
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext("weights", "warm: one weight set per benchmark, reused");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
