// Kernel microbenchmarks (simdrnn-bench --kernels): every kernel of
// simd/kernel_list.inc on every ISA of simd/isa_list.inc that this CPU runs,
// driven by the same X-macro lists as the kernel table and its tests (a
// listed kernel without a bench_<name> below does not compile). Names:
// kernel/<isa>/<kernel>_<shape>/threads:1. Operands are warm (in cache).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "src/internal.hpp"

namespace {

using simdrnn::kernels::GemmParams;
using simdrnn::kernels::KernelTable;

std::vector<float> filled(int64_t n, float v) { return std::vector<float>(static_cast<size_t>(n), v); }

// One recurrence step at batch m: C = tanh(C + A B), B packed [k, n]; and,
// marked _wgrad, a weight-gradient GEMM of a batch-1 sequence (m = H rows,
// k = T = 50, C overwritten, no epilogue), where k is short.
void bench_gemm_of(const KernelTable& kt, const std::string& isa, int32_t format) {
  struct Shape {
    int64_t m, k, n;
    bool wgrad;
  };
  for (Shape s : {Shape{1, 512, 512, false}, Shape{1, 1024, 1024, false}, Shape{16, 512, 512, false},
                  Shape{64, 1024, 1024, false}, Shape{32, 2048, 2048, false}, Shape{8, 1024, 1024, false},
                  Shape{512, 50, 512, true}, Shape{1024, 50, 1024, true}}) {
    const char* kind = format == simdrnn::kernels::kBf16 ? "gemm_bf16" : format == simdrnn::kernels::kInt8 ? "gemm_int8" : "gemm";
    if (format != simdrnn::kernels::kF32 && s.wgrad) continue;  // training is f32
    const std::string name = "kernel/" + isa + "/" + kind + "_m" + std::to_string(s.m) + "k" + std::to_string(s.k) +
                             "n" + std::to_string(s.n) + (s.wgrad ? "_wgrad" : "") + "/threads:1";
    benchmark::RegisterBenchmark(name.c_str(), [&kt, s, format](benchmark::State& state) {
      const auto w = filled(s.n * s.k, 0.01f);
      const simdrnn::PackedMatrix packed =
          simdrnn::convert_pack(simdrnn::pack_b(w.data(), s.n, s.k, kt.panel_width), format);
      auto a = filled(s.m * s.k, 0.1f), c = filled(s.m * s.n, 0.0f);
      GemmParams p{};
      p.m = s.m, p.k = s.k, p.a = a.data(), p.lda = s.k, p.n_begin = 0, p.n_end = s.n;
      simdrnn::set_b(p, packed);
      p.c = c.data(), p.ldc = s.n, p.accumulate = 1, p.activation = simdrnn::kernels::kTanh, p.split_k = 1;
      if (s.wgrad) p.accumulate = 0, p.activation = simdrnn::kernels::kNone, p.split_k = 0;
      for (auto _ : state) {
        simdrnn::kernels::run_gemm(kt, p);
        benchmark::ClobberMemory();
      }
      state.counters["GFLOP/s"] = benchmark::Counter(
          2.0 * s.m * s.k * s.n, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
    })->UseRealTime();
  }
}
void bench_gemm(const KernelTable& kt, const std::string& isa) { bench_gemm_of(kt, isa, simdrnn::kernels::kF32); }
void bench_gemm_bf16(const KernelTable& kt, const std::string& isa) {
  bench_gemm_of(kt, isa, simdrnn::kernels::kBf16);
}
void bench_gemm_int8(const KernelTable& kt, const std::string& isa) {
  bench_gemm_of(kt, isa, simdrnn::kernels::kInt8);
}

template <class Body>
void register_elementwise(const std::string& isa, const char* kernel, Body body) {
  for (int64_t n : {int64_t{4096}, int64_t{1} << 20}) {
    const std::string name = "kernel/" + isa + "/" + kernel + "_n" + std::to_string(n) + "/threads:1";
    benchmark::RegisterBenchmark(name.c_str(), [n, body](benchmark::State& state) {
      auto x = filled(n, 0.5f), y = filled(n, 0.25f), z = filled(n, 0.1f), w = filled(n, 0.2f);
      for (auto _ : state) {
        body(n, x.data(), y.data(), z.data(), w.data());
        benchmark::ClobberMemory();
      }
      state.counters["Gelem/s"] = benchmark::Counter(
          static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
    })->UseRealTime();
  }
}

// One gated-cell step over H units of a batch (m rows): the post-GEMM of a
// recurrence step; Gelem/s counts units (each with all its gates).
void register_cell(const KernelTable& kt, const std::string& isa, const char* kernel, int64_t gates,
                   simdrnn::kernels::CellStepFn fn) {
  for (int64_t m : {int64_t{1}, int64_t{64}}) {
    const int64_t H = 1024, hp = (H + kt.panel_width - 1) / kt.panel_width * kt.panel_width;
    const std::string name =
        "kernel/" + isa + "/" + kernel + "_m" + std::to_string(m) + "h" + std::to_string(H) + "/threads:1";
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
      auto g = filled(m * gates * hp, 0.3f), rec = filled(m * gates * hp, -0.2f), prev = filled(m * H, 0.5f);
      auto h = filled(m * H, 0.0f), c = filled(m * H, 0.0f);
      simdrnn::kernels::CellStep p{};
      p.m = m, p.u_begin = 0, p.u_end = H, p.gates = g.data(), p.ld_gates = gates * hp, p.rec = rec.data();
      p.ld_rec = gates * hp, p.c_prev = prev.data(), p.ld_c_prev = H, p.c = c.data(), p.ld_c = H;
      p.h_prev = prev.data(), p.ld_h_prev = H, p.h = h.data(), p.ld_h = H, p.hp = hp;
      for (auto _ : state) {
        fn(p);
        benchmark::ClobberMemory();
      }
      state.counters["Gelem/s"] =
          benchmark::Counter(static_cast<double>(m * H), benchmark::Counter::kIsIterationInvariantRate,
                             benchmark::Counter::kIs1000);
    })->UseRealTime();
  }
}
void bench_lstm_step(const KernelTable& kt, const std::string& isa) {
  register_cell(kt, isa, "lstm_step", 4, kt.lstm_step);
}
void bench_gru_step(const KernelTable& kt, const std::string& isa) {
  register_cell(kt, isa, "gru_step", 3, kt.gru_step);
}
void bench_gru_reset(const KernelTable& kt, const std::string& isa) {
  register_cell(kt, isa, "gru_reset", 3, kt.gru_reset);
}
void bench_gru_update(const KernelTable& kt, const std::string& isa) {
  register_cell(kt, isa, "gru_update", 3, kt.gru_update);
}

// One gated-cell backward step over H units of a batch (m rows).
void register_cell_backward(const KernelTable& kt, const std::string& isa, const char* kernel, int64_t gates,
                            simdrnn::kernels::CellBackwardFn fn) {
  for (int64_t m : {int64_t{1}, int64_t{64}}) {
    const int64_t H = 1024, hp = (H + kt.panel_width - 1) / kt.panel_width * kt.panel_width;
    const std::string name =
        "kernel/" + isa + "/" + kernel + "_m" + std::to_string(m) + "h" + std::to_string(H) + "/threads:1";
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
      auto g = filled(m * gates * hp, 0.3f), rec = filled(m * gates * hp, -0.2f), prev = filled(m * H, 0.5f);
      auto dh = filled(m * H, 0.1f), dc = filled(m * H, 0.0f), dprev = filled(m * H, 0.0f);
      auto da_x = filled(m * gates * hp, 0.0f), da_h = filled(m * gates * hp, 0.0f),
           da_n = filled(m * H, 0.0f);
      simdrnn::kernels::CellBackward p{};
      p.m = m, p.u_begin = 0, p.u_end = H, p.dh = dh.data(), p.ld_dh = H, p.gates = g.data(),
      p.ld_gates = gates * hp;
      p.rec = rec.data(), p.ld_rec = gates * hp, p.c = prev.data(), p.ld_c = H, p.c_prev = prev.data();
      p.ld_c_prev = H, p.dc = dc.data(), p.ld_dc = H, p.h_prev = prev.data(), p.ld_h_prev = H;
      p.dh_prev = dprev.data(), p.ld_dh_prev = H, p.da_x = da_x.data(), p.ld_da_x = gates * hp;
      p.da_h = da_h.data(), p.ld_da_h = gates * hp, p.da_n = da_n.data(), p.ld_da_n = H, p.hp = hp;
      for (auto _ : state) {
        fn(p);
        benchmark::ClobberMemory();
      }
      state.counters["Gelem/s"] =
          benchmark::Counter(static_cast<double>(m * H), benchmark::Counter::kIsIterationInvariantRate,
                             benchmark::Counter::kIs1000);
    })->UseRealTime();
  }
}
void bench_lstm_backward(const KernelTable& kt, const std::string& isa) {
  register_cell_backward(kt, isa, "lstm_backward", 4, kt.lstm_backward);
}
void bench_gru_backward(const KernelTable& kt, const std::string& isa) {
  register_cell_backward(kt, isa, "gru_backward", 3, kt.gru_backward);
}
void bench_gru_update_backward(const KernelTable& kt, const std::string& isa) {
  register_cell_backward(kt, isa, "gru_update_backward", 3, kt.gru_update_backward);
}
void bench_gru_reset_backward(const KernelTable& kt, const std::string& isa) {
  register_cell_backward(kt, isa, "gru_reset_backward", 3, kt.gru_reset_backward);
}

void bench_activate(const KernelTable& kt, const std::string& isa) {
  register_elementwise(isa, "activate_tanh", [&kt](int64_t n, float* x, float*, float*, float*) {
    kt.activate(simdrnn::kernels::kTanh, 0.0f, x, n);
  });
}
void bench_sum_squares(const KernelTable& kt, const std::string& isa) {
  register_elementwise(isa, "sum_squares", [&kt](int64_t n, float* x, float*, float*, float*) {
    benchmark::DoNotOptimize(kt.sum_squares(x, n));
  });
}
void bench_scale(const KernelTable& kt, const std::string& isa) {
  register_elementwise(isa, "scale",
                       [&kt](int64_t n, float* x, float*, float*, float*) { kt.scale(x, n, 0.999f); });
}
void bench_sgd(const KernelTable& kt, const std::string& isa) {
  register_elementwise(isa, "sgd", [&kt](int64_t n, float* p, float* g, float* v, float*) {
    kt.sgd(p, g, v, n, 1e-3f, 0.9f, 0.0f);
  });
}
void bench_adam(const KernelTable& kt, const std::string& isa) {
  register_elementwise(isa, "adam", [&kt](int64_t n, float* p, float* g, float* m, float* v) {
    kt.adam(p, g, m, v, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.1f, 0.001f);
  });
}

}  // namespace

// Registers kernel/<isa>/<kernel>... for every listed kernel and usable ISA.
void register_kernel_benchmarks() {
  auto for_each_kernel = [](const KernelTable& kt, const std::string& isa) {
#define SIMDRNN_KERNEL(kernel) bench_##kernel(kt, isa);
#include "simd/kernel_list.inc"
#undef SIMDRNN_KERNEL
  };
#define SIMDRNN_ISA(isa_name, value, table) \
  if (value <= simdrnn_detected_isa()) for_each_kernel(simdrnn::kernels::table(), #isa_name);
#include "simd/isa_list.inc"
#undef SIMDRNN_ISA
}
