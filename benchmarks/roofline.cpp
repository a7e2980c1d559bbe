// Roofline measurement (baseline x86-64 code: it only times the ISA kernels of
// roofline__*.cpp, and calls each only when simdrnn_detected_isa() reports its
// ISA) and the lower bound of a forward call. See roofline.hpp.
#include "roofline.hpp"

#include <benchmark/benchmark.h>
#include <emmintrin.h>
#include <omp.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "roofline_kernels.h"
#include "simdrnn/simdrnn.h"

namespace simdrnn_bench {

// ---- SSE2 kernels: baseline x86-64, so they live here ----------------------

float mul_add_peak_sse2(int64_t iterations) {
  static_assert(kMulAddChainsSse2 == 6, "the loop below is written out for 6 + 6 chains");
  // Without FMA the peak is one mul and one add per port per cycle: 6 chains
  // of m = m * a (converges to 0 slowly, a = 0.9999) and 6 of s = s + b.
  const __m128 a = _mm_set1_ps(0.9999f), b = _mm_set1_ps(1e-7f);
  __m128 m0 = _mm_set1_ps(1.0f), m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0;
  __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0;
  for (int64_t i = 0; i < iterations; ++i) {
    m0 = _mm_mul_ps(m0, a);
    s0 = _mm_add_ps(s0, b);
    m1 = _mm_mul_ps(m1, a);
    s1 = _mm_add_ps(s1, b);
    m2 = _mm_mul_ps(m2, a);
    s2 = _mm_add_ps(s2, b);
    m3 = _mm_mul_ps(m3, a);
    s3 = _mm_add_ps(s3, b);
    m4 = _mm_mul_ps(m4, a);
    s4 = _mm_add_ps(s4, b);
    m5 = _mm_mul_ps(m5, a);
    s5 = _mm_add_ps(s5, b);
    if ((i & 0xffff) == 0) {  // keep m away from denormals
      m0 = m1 = m2 = m3 = m4 = m5 = _mm_max_ps(m0, _mm_set1_ps(0.5f));
    }
  }
  const __m128 m = _mm_add_ps(_mm_add_ps(_mm_add_ps(m0, m1), _mm_add_ps(m2, m3)), _mm_add_ps(m4, m5));
  const __m128 s = _mm_add_ps(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)), _mm_add_ps(s4, s5));
  float out[4];
  _mm_storeu_ps(out, _mm_add_ps(m, s));
  return out[0] + out[1] + out[2] + out[3];
}

uint32_t read_sse2(const float* src, int64_t count, int64_t passes) {
  __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const float* p = src;
    __asm__ volatile("" : "+r"(p) : : "memory");  // every pass reloads
    for (int64_t i = 0; i < count; i += 32, p += 32) {
      s0 = _mm_add_epi32(s0, _mm_load_si128(reinterpret_cast<const __m128i*>(p + 0)));
      s1 = _mm_add_epi32(s1, _mm_load_si128(reinterpret_cast<const __m128i*>(p + 4)));
      s2 = _mm_add_epi32(s2, _mm_load_si128(reinterpret_cast<const __m128i*>(p + 8)));
      s3 = _mm_add_epi32(s3, _mm_load_si128(reinterpret_cast<const __m128i*>(p + 12)));
      s4 = _mm_add_epi32(s4, _mm_load_si128(reinterpret_cast<const __m128i*>(p + 16)));
      s5 = _mm_add_epi32(s5, _mm_load_si128(reinterpret_cast<const __m128i*>(p + 20)));
      s6 = _mm_add_epi32(s6, _mm_load_si128(reinterpret_cast<const __m128i*>(p + 24)));
      s7 = _mm_add_epi32(s7, _mm_load_si128(reinterpret_cast<const __m128i*>(p + 28)));
    }
  }
  const __m128i s = _mm_add_epi32(_mm_add_epi32(_mm_add_epi32(s0, s1), _mm_add_epi32(s2, s3)),
                                  _mm_add_epi32(_mm_add_epi32(s4, s5), _mm_add_epi32(s6, s7)));
  uint32_t out[4];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), s);
  return out[0] + out[1] + out[2] + out[3];
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRuns = 5;                                // best of kRuns timed runs, after one warm-up
constexpr double kPeakRunSeconds = 0.02;                // one timed run of a peak loop
constexpr int64_t kCacheRunBytes = int64_t{192} << 20;  // bytes read per timed run of a cache level
constexpr int64_t kDramMinBytes = int64_t{256} << 20;   // smallest DRAM working set

// The numbers, as they cross the pipe from the measuring child.
struct Measured {
  double peak[3];  // avx512, avx2, sse2 GFLOP/s
  double bandwidth[kMemoryLevels];
  int64_t working_set[kMemoryLevels];
  int64_t cache[3];
  int cache_source;   // 0 sysfs, 1 sysconf, 2 defaults (per level: the worst)
  int bandwidth_isa;  // simdrnn_isa of the loads
  double seconds;
};

const char* const kCacheSources[] = {"sysfs", "sysconf", "default"};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// "32K", "1024K", "32M", "1G" or plain bytes.
int64_t parse_size(const std::string& text) {
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || value <= 0) return 0;
  switch (*end) {
    case 'K':
    case 'k':
      return value << 10;
    case 'M':
    case 'm':
      return value << 20;
    case 'G':
    case 'g':
      return value << 30;
    default:
      return value;
  }
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// L1d, L2 and L3 capacity: sysfs (cpu0), then glibc's sysconf, then typical
// values of current servers.
void cache_sizes(int64_t bytes[3], int* source) {
  const int64_t fallback[3] = {32 << 10, 1 << 20, 32 << 20};
  int worst = 0;
  for (int level = 1; level <= 3; ++level) {
    int64_t size = 0;
    for (int index = 0; index < 8 && size == 0; ++index) {
      const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
      const std::string lvl = read_line(dir + "level");
      if (lvl.empty()) continue;
      const std::string type = read_line(dir + "type");
      if (std::atoi(lvl.c_str()) == level && (type == "Data" || type == "Unified"))
        size = parse_size(read_line(dir + "size"));
    }
    int from = 0;
    if (size <= 0) {
      const int name = level == 1   ? _SC_LEVEL1_DCACHE_SIZE
                       : level == 2 ? _SC_LEVEL2_CACHE_SIZE
                                    : _SC_LEVEL3_CACHE_SIZE;
      size = sysconf(name);
      from = 1;
    }
    if (size <= 0) {
      size = fallback[level - 1];
      from = 2;
    }
    bytes[level - 1] = size;
    worst = std::max(worst, from);
  }
  *source = worst;
}

int64_t round_block(int64_t bytes) {
  const int64_t block = kReadBlockFloats * int64_t{sizeof(float)};
  return std::max(block, bytes / block * block);
}

// Working sets well inside each level and well outside the one below.
void working_sets(const int64_t cache[3], int64_t ws[kMemoryLevels]) {
  ws[kL1] = round_block(cache[0] / 2);
  ws[kL2] = round_block(std::max(cache[1] / 2, 2 * cache[0]));
  ws[kL3] = round_block(std::min(std::max(cache[2] / 4, 2 * cache[1]), cache[2] * 3 / 4));
  int64_t dram = std::max(kDramMinBytes, 8 * cache[2]);
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) dram = std::min<int64_t>(dram, int64_t{pages} * page / 4);
  ws[kDram] = round_block(std::min<int64_t>(dram, int64_t{4} << 30));
}

template <class Kernel>
double best_seconds(Kernel&& kernel) {
  kernel();  // warm-up: page faults, caches, clock ramp
  double best = 1e30;
  for (int run = 0; run < kRuns; ++run) {
    const Clock::time_point start = Clock::now();
    kernel();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

volatile float g_float_sink;
volatile uint32_t g_int_sink;

double peak_gflops(float (*loop)(int64_t), double flops_per_iteration) {
  int64_t iterations = 1 << 14;
  for (;;) {  // size one run to ~kPeakRunSeconds
    const Clock::time_point start = Clock::now();
    g_float_sink = loop(iterations);
    const double s = seconds_since(start);
    if (s >= kPeakRunSeconds / 4 || iterations > (int64_t{1} << 40)) {
      iterations =
          static_cast<int64_t>(static_cast<double>(iterations) * kPeakRunSeconds / std::max(s, 1e-9)) + 1;
      break;
    }
    iterations *= 4;
  }
  const double s = best_seconds([&] { g_float_sink = loop(iterations); });
  return static_cast<double>(iterations) * flops_per_iteration / s * 1e-9;
}

Measured measure() {
  const Clock::time_point start = Clock::now();
  Measured m{};
  const simdrnn_isa isa = simdrnn_detected_isa();
  if (isa >= SIMDRNN_ISA_AVX512) m.peak[0] = peak_gflops(fma_peak_avx512, kFlopsPerIterAvx512);
  if (isa >= SIMDRNN_ISA_AVX2) m.peak[1] = peak_gflops(fma_peak_avx2, kFlopsPerIterAvx2);
  m.peak[2] = peak_gflops(mul_add_peak_sse2, kFlopsPerIterSse2);

  cache_sizes(m.cache, &m.cache_source);
  working_sets(m.cache, m.working_set);
  uint32_t (*read)(const float*, int64_t, int64_t) = read_sse2;
  m.bandwidth_isa = SIMDRNN_ISA_SCALAR;
  if (isa >= SIMDRNN_ISA_AVX512) {
    read = read_avx512;
    m.bandwidth_isa = SIMDRNN_ISA_AVX512;
  } else if (isa >= SIMDRNN_ISA_AVX2) {
    read = read_avx2;
    m.bandwidth_isa = SIMDRNN_ISA_AVX2;
  }
  const int64_t largest = m.working_set[kDram];
  float* buffer = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(largest)));
  if (buffer == nullptr) return m;
  std::memset(buffer, 1, static_cast<size_t>(largest));  // touch every page
  for (int level = 0; level < kMemoryLevels; ++level) {
    const int64_t bytes = m.working_set[level];
    const int64_t count = bytes / int64_t{sizeof(float)};
    const int64_t passes = level == kDram ? 1 : std::max<int64_t>(1, kCacheRunBytes / bytes);
    const double s = best_seconds([&] { g_int_sink = read(buffer, count, passes); });
    m.bandwidth[level] = static_cast<double>(bytes) * static_cast<double>(passes) / s * 1e-9;
  }
  std::free(buffer);
  m.seconds = seconds_since(start);
  return m;
}

Roofline from_measured(const Measured& m) {
  Roofline r;
  r.peak_gflops_avx512 = m.peak[0];
  r.peak_gflops_avx2 = m.peak[1];
  r.peak_gflops_sse2 = m.peak[2];
  // The best peak; a narrower ISA wins only by more than 2 %, so that run-to-
  // run noise does not name AVX2 on a CPU whose AVX-512 is as fast (Zen 4).
  const char* names[3] = {"avx512", "avx2", "sse2"};
  for (int i = 0; i < 3; ++i) {
    if (m.peak[i] > r.peak_gflops * 1.02) {
      r.peak_gflops = m.peak[i];
      r.peak_isa = names[i];
    }
  }
  for (int level = 0; level < kMemoryLevels; ++level) {
    r.bandwidth_gbs[level] = m.bandwidth[level];
    r.working_set_bytes[level] = m.working_set[level];
  }
  for (int i = 0; i < 3; ++i) r.cache_bytes[i] = m.cache[i];
  r.cache_source = kCacheSources[std::clamp(m.cache_source, 0, 2)];
  r.bandwidth_isa = m.bandwidth_isa == SIMDRNN_ISA_AVX512 ? "avx512"
                    : m.bandwidth_isa == SIMDRNN_ISA_AVX2 ? "avx2"
                                                          : "sse2";
  r.seconds = m.seconds;
  r.valid = r.peak_gflops > 0;
  for (double bw : m.bandwidth) r.valid = r.valid && bw > 0;
  if (!r.valid) r.error = "a roofline measurement gave no result";
  return r;
}

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string kib(int64_t bytes) {
  return bytes >= (int64_t{1} << 20) ? fmt("%.0f MiB", static_cast<double>(bytes) / (1 << 20))
                                     : fmt("%.0f KiB", static_cast<double>(bytes) / (1 << 10));
}

}  // namespace

const char* level_name(int level) {
  static const char* const names[] = {"L1", "L2", "L3", "DRAM"};
  return level >= 0 && level < kMemoryLevels ? names[level] : "?";
}

Roofline measure_roofline() {
  int fds[2];
  if (pipe(fds) != 0) return from_measured(measure());
  const pid_t child = fork();
  if (child < 0) {
    close(fds[0]);
    close(fds[1]);
    return from_measured(measure());
  }
  if (child == 0) {
    close(fds[0]);
    cpu_set_t one;  // one core for the whole measurement: no migration mid-run
    CPU_ZERO(&one);
    const int cpu = sched_getcpu();
    if (cpu >= 0) {
      CPU_SET(cpu, &one);
      sched_setaffinity(0, sizeof one, &one);
    }
    const Measured m = measure();
    const ssize_t written = write(fds[1], &m, sizeof m);
    _exit(written == static_cast<ssize_t>(sizeof m) ? 0 : 1);
  }
  close(fds[1]);
  Measured m{};
  size_t got = 0;
  while (got < sizeof m) {
    const ssize_t n = read(fds[0], reinterpret_cast<char*>(&m) + got, sizeof m - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got != sizeof m || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Roofline failed;
    failed.error = WIFSIGNALED(status)
                       ? "the measuring process died of signal " + std::to_string(WTERMSIG(status))
                       : "the measuring process gave no result";
    return failed;
  }
  return from_measured(m);
}

std::string describe(const Roofline& r) {
  if (!r.valid) return "roofline: not measured (" + r.error + "); frac_of_bound is 0\n";
  std::ostringstream out;
  out << "roofline, per core (measured in " << fmt("%.1f", r.seconds) << " s, best of " << kRuns
      << " runs):\n";
  out << "  fp32 peak  ";
  if (r.peak_gflops_avx512 > 0) out << " avx512 " << fmt("%.1f", r.peak_gflops_avx512) << " GFLOP/s,";
  if (r.peak_gflops_avx2 > 0) out << " avx2 " << fmt("%.1f", r.peak_gflops_avx2) << " GFLOP/s,";
  out << " sse2 (mul+add) " << fmt("%.1f", r.peak_gflops_sse2) << " GFLOP/s; bound uses " << r.peak_isa
      << "\n";
  out << "  read bandwidth (" << r.bandwidth_isa << " loads):";
  for (int level = 0; level < kMemoryLevels; ++level)
    out << " " << level_name(level) << " " << fmt("%.1f", r.bandwidth_gbs[level]) << " GB/s ("
        << kib(r.working_set_bytes[level]) << ")" << (level + 1 < kMemoryLevels ? "," : "\n");
  out << "  caches (" << r.cache_source << "): L1d " << kib(r.cache_bytes[0]) << ", L2 "
      << kib(r.cache_bytes[1]) << ", L3 " << kib(r.cache_bytes[2]) << "\n";
  return out.str();
}

void add_context(const Roofline& r) {
  benchmark::AddCustomContext("roofline_valid", r.valid ? "1" : "0");
  if (!r.valid) {
    benchmark::AddCustomContext("roofline_error", r.error);
    return;
  }
  benchmark::AddCustomContext("roofline_peak_gflops_avx512", fmt("%.3f", r.peak_gflops_avx512));
  benchmark::AddCustomContext("roofline_peak_gflops_avx2", fmt("%.3f", r.peak_gflops_avx2));
  benchmark::AddCustomContext("roofline_peak_gflops_sse2", fmt("%.3f", r.peak_gflops_sse2));
  benchmark::AddCustomContext("roofline_peak_gflops", fmt("%.3f", r.peak_gflops));
  benchmark::AddCustomContext("roofline_peak_isa", r.peak_isa);
  benchmark::AddCustomContext("roofline_fma_chains", "avx512 " + std::to_string(kFmaChainsAvx512) +
                                                         ", avx2 " + std::to_string(kFmaChainsAvx2) +
                                                         ", sse2 " + std::to_string(kMulAddChainsSse2) + "+" +
                                                         std::to_string(kMulAddChainsSse2));
  for (int level = 0; level < kMemoryLevels; ++level) {
    std::string name = level_name(level);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    benchmark::AddCustomContext("roofline_bw_gbs_" + name, fmt("%.3f", r.bandwidth_gbs[level]));
    benchmark::AddCustomContext("roofline_ws_bytes_" + name, std::to_string(r.working_set_bytes[level]));
  }
  benchmark::AddCustomContext("roofline_bandwidth_isa", r.bandwidth_isa);
  benchmark::AddCustomContext("roofline_cache_bytes_l1d", std::to_string(r.cache_bytes[0]));
  benchmark::AddCustomContext("roofline_cache_bytes_l2", std::to_string(r.cache_bytes[1]));
  benchmark::AddCustomContext("roofline_cache_bytes_l3", std::to_string(r.cache_bytes[2]));
  benchmark::AddCustomContext("roofline_cache_source", r.cache_source);
  benchmark::AddCustomContext("roofline_runs", std::to_string(kRuns));
  benchmark::AddCustomContext("roofline_seconds", fmt("%.2f", r.seconds));
}

double read_bandwidth_gbs(int64_t bytes_per_thread, int threads) {
  static std::mutex mutex;
  static std::map<std::pair<int64_t, int>, double> cache;
  const int64_t quantum = 4 * kReadBlockFloats * int64_t{sizeof(float)};  // 4 streams of whole blocks
  const int64_t bytes = std::max(quantum, (bytes_per_thread + quantum - 1) / quantum * quantum);
  std::lock_guard<std::mutex> lock(mutex);
  const auto key = std::make_pair(bytes, threads);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  const simdrnn_isa isa = simdrnn_detected_isa();
  auto read = [&](const float* src, int64_t count, int64_t passes, int streams) -> uint32_t {
    if (isa >= SIMDRNN_ISA_AVX512) return read_streams_avx512(src, count, passes, streams);
    if (isa >= SIMDRNN_ISA_AVX2) return read_streams_avx2(src, count, passes, streams);
    return read_sse2(src, count, passes);
  };
  const int64_t count = bytes / int64_t{sizeof(float)};
  const int64_t passes = std::max<int64_t>(2, (int64_t{8} << 20) / bytes);  // >= 8 MiB per thread and run
  double best = 0.0;
  std::atomic<int> failed{0};
  std::vector<double> seconds(static_cast<size_t>(threads), 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num();
    float* buffer = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(bytes)));
    if (!buffer || omp_get_num_threads() != threads) failed.store(1);
    if (buffer) std::memset(buffer, 1, static_cast<size_t>(bytes));  // first touch: this thread's pages
    for (int streams : {1, 2, 4})
      for (int rep = 0; rep < 3; ++rep) {
#pragma omp barrier
        const Clock::time_point start = Clock::now();
        if (buffer) g_int_sink = read(buffer, count, passes, streams);
        seconds[static_cast<size_t>(tid)] = seconds_since(start);
#pragma omp barrier
#pragma omp single
        {
          // The team's time is its slowest member's: they share the caches.
          const double slowest = *std::max_element(seconds.begin(), seconds.end());
          best = std::max(best, static_cast<double>(bytes) * static_cast<double>(passes) / slowest * 1e-9);
        }
      }
    std::free(buffer);
  }
  const double gbs = failed.load() ? 0.0 : best;
  cache[key] = gbs;
  return gbs;
}

Bound lower_bound(const Roofline& r, const Workload& w, int threads) {
  Bound bound;
  if (!r.valid || threads < 1) return bound;
  const double k = threads;
  const double T = static_cast<double>(w.T), N = static_cast<double>(w.N), H = static_cast<double>(w.H);
  const double D = static_cast<double>(w.D), G = static_cast<double>(w.G), P = static_cast<double>(w.P);
  const double Hout = w.P > 0 ? P : H;
  const double peak = r.peak_gflops * 1e9 * k;  // FLOP/s of `threads` cores
  // Seconds for `threads` cores to read `bytes` in total, each its share.
  auto read_seconds = [&](double bytes) {
    const double per_core = read_bandwidth_gbs(static_cast<int64_t>(bytes / k), threads);
    return per_core > 0 ? bytes / (per_core * 1e9 * k) : 0.0;
  };
  auto level_of = [&](double bytes) {
    if (bytes / k <= static_cast<double>(r.cache_bytes[0])) return static_cast<int>(kL1);
    if (bytes / k <= static_cast<double>(r.cache_bytes[1])) return static_cast<int>(kL2);
    if (bytes <= static_cast<double>(r.cache_bytes[2])) return static_cast<int>(kL3);
    return static_cast<int>(kDram);
  };

  // One step reads W_hh (and W_hr) of every direction, split over the threads.
  const double wb = w.weight_bytes;
  const double step_bytes = D * (G * H * Hout + P * H) * wb;
  const double step_flops = 2.0 * N * D * (G * H * Hout + P * H);
  const double step = std::max(read_seconds(step_bytes), step_flops / peak);

  // Phases A (every layer) and C: a GEMM takes at least its FLOPs at peak and
  // at least one read of its weights (what bounds a one-step call, T·N = 1).
  double gemm_seconds = 0;
  for (int64_t l = 0; l < w.L; ++l) {
    const double in = l == 0 ? static_cast<double>(w.I) : D * Hout;
    gemm_seconds += std::max(2.0 * T * N * in * G * H * D / peak, read_seconds(in * G * H * D * wb));
  }
  if (w.O > 0) {
    const double o = static_cast<double>(w.O);
    gemm_seconds += std::max(2.0 * T * N * D * Hout * o / peak, read_seconds(D * Hout * o * wb));
  }
  bound.seconds = gemm_seconds + static_cast<double>(w.L) * T * step;
  bound.whh_level = level_of(step_bytes);
  bound.whh_share_bytes = step_bytes / k;
  bound.whh_bandwidth_gbs = read_bandwidth_gbs(static_cast<int64_t>(step_bytes / k), threads);
  return bound;
}

}  // namespace simdrnn_bench
