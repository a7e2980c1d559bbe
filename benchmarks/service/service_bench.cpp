// simdrnn-service-bench: how the library behaves inside a service, the two
// scenarios of docs/design.md "Threads in a service":
//
//   concurrent  K request threads share one model and call simdrnn_forward
//               back to back (T = 50, N = 1, I = H); reports the median wall
//               time per call with num_threads = 0 (the default: all cores)
//               and with num_threads = 1.
//   stream      a 1 kHz loop: one simdrnn_stream_step per millisecond
//               (sleeping in between), N = 1, I = H; reports the process's
//               CPU time over the run and the p50 / p99 / max step latency,
//               for num_threads = 1 and 2.
//
// Usage: simdrnn-service-bench [--hidden=H] [--callers=K] [--seconds=S]
// Prints one line per measurement. No oneDNN: this is about threads, not
// kernels.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "simdrnn/simdrnn.h"

namespace {

using Clock = std::chrono::steady_clock;

void check(simdrnn_status s) {
  if (s != SIMDRNN_OK) {
    std::fprintf(stderr, "simdrnn: %s\n", simdrnn_last_error());
    std::exit(1);
  }
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

simdrnn_model* make_model(int64_t hidden) {
  simdrnn_config c = simdrnn_config_default();
  c.input_size = hidden;
  c.hidden_size = hidden;
  simdrnn_weights* w = nullptr;
  check(simdrnn_weights_create(&c, &w));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  std::vector<float> wih(static_cast<size_t>(hidden * hidden)), whh(wih.size());
  for (float& v : wih) v = u(rng);
  for (float& v : whh) v = u(rng);
  check(simdrnn_weights_set(w, "weight_ih_l0", wih.data(), static_cast<int64_t>(wih.size())));
  check(simdrnn_weights_set(w, "weight_hh_l0", whh.data(), static_cast<int64_t>(whh.size())));
  simdrnn_model* m = nullptr;
  check(simdrnn_model_create(w, &m));
  simdrnn_weights_destroy(w);
  return m;
}

// K threads, each calling forward back to back for `seconds`; median per call.
double concurrent(simdrnn_model* m, int64_t hidden, int callers, int32_t num_threads, double seconds) {
  std::vector<std::vector<double>> times(static_cast<size_t>(callers));
  std::vector<std::thread> pool;
  std::atomic<bool> go{false};
  for (int c = 0; c < callers; ++c)
    pool.emplace_back([&, c] {
      const int64_t T = 50;
      std::vector<float> x(static_cast<size_t>(T * hidden), 0.1f), y(x.size());
      simdrnn_forward_args a{};
      a.seq_len = T, a.batch = 1, a.x = x.data(), a.y = y.data(), a.num_threads = num_threads;
      while (!go.load()) std::this_thread::yield();
      const Clock::time_point end =
          Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
      while (Clock::now() < end) {
        const Clock::time_point t0 = Clock::now();
        check(simdrnn_forward(m, &a));
        times[static_cast<size_t>(c)].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    });
  go.store(true);
  for (auto& t : pool) t.join();
  std::vector<double> all;
  for (auto& v : times) all.insert(all.end(), v.begin(), v.end());
  return percentile(all, 0.5);
}

struct StreamResult {
  double cpu_s, wall_s, p50, p99, max;
};

StreamResult stream_1khz(simdrnn_model* m, int64_t hidden, int32_t num_threads, double seconds) {
  simdrnn_stream* s = nullptr;
  check(simdrnn_stream_create(m, 1, 1, &s));
  std::vector<float> x(static_cast<size_t>(hidden), 0.1f), y(x.size());
  std::vector<double> lat;
  const double cpu0 = cpu_seconds();
  const Clock::time_point start = Clock::now();
  Clock::time_point next = start;
  while (Clock::now() - start < std::chrono::duration<double>(seconds)) {
    next += std::chrono::milliseconds(1);
    const Clock::time_point t0 = Clock::now();
    check(simdrnn_stream_step(s, 1, x.data(), y.data(), nullptr, num_threads));
    lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    std::this_thread::sleep_until(next);
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  simdrnn_stream_destroy(s);
  return {cpu_seconds() - cpu0, wall, percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1.0)};
}

int64_t flag(int argc, char** argv, const char* name, int64_t fallback) {
  const size_t n = std::strlen(name);
  for (int i = 1; i < argc; ++i)
    if (!std::strncmp(argv[i], name, n) && argv[i][n] == '=') return std::atoll(argv[i] + n + 1);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf(
          "usage: simdrnn-service-bench [--hidden=512] [--stream-hidden=256] [--callers=4] [--seconds=2]\n");
      return 0;
    }
  const int64_t hidden = flag(argc, argv, "--hidden", 512);
  const int64_t stream_hidden = flag(argc, argv, "--stream-hidden", 256);
  const int callers = static_cast<int>(flag(argc, argv, "--callers", 4));
  const double seconds = static_cast<double>(flag(argc, argv, "--seconds", 2));

  simdrnn_model* m = make_model(hidden);
  const double t_default = concurrent(m, hidden, callers, 0, seconds);
  const double t_one = concurrent(m, hidden, callers, 1, seconds);
  std::printf(
      "concurrent callers=%d t50n1i%lldh%lld: median per call %.0f us with num_threads=0, %.0f us with "
      "num_threads=1 (ratio %.2f)\n",
      callers, static_cast<long long>(hidden), static_cast<long long>(hidden), t_default, t_one,
      t_default / t_one);
  simdrnn_model_destroy(m);

  m = make_model(stream_hidden);
  for (int32_t threads : {1, 2}) {
    const StreamResult r = stream_1khz(m, stream_hidden, threads, seconds);
    std::printf(
        "stream 1kHz n1i%lldh%lld num_threads=%d: cpu %.3f s in %.2f s wall (%.1f%% of a core); step "
        "p50 %.1f us, p99 %.1f us, max %.1f us\n",
        static_cast<long long>(stream_hidden), static_cast<long long>(stream_hidden), threads, r.cpu_s,
        r.wall_s, 100.0 * r.cpu_s / r.wall_s, r.p50, r.p99, r.max);
  }
  simdrnn_model_destroy(m);
  return 0;
}
