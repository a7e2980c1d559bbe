// C API: optimiser helpers over flat vectors (gradient-norm clipping, SGD,
// Adam), element-wise kernels split over a team of threads.
#include <cmath>
#include <cstring>
#include <string>

#include "src/api_internal.hpp"
#include "src/engine.hpp"

using namespace simdrnn;

namespace {
// Runs fn(begin, end) over [0, count) split across threads (element-wise work).
template <class Fn>
void parallel_elements(int64_t count, int32_t threads, Fn&& fn) {
  const int64_t team = count < (int64_t{1} << 15) ? 1 : std::min<int64_t>(resolve_threads(threads), 64);
  run_team(team, [&](int64_t tid, int64_t nt) {
    const engine::Range r = engine::split(count, nt, tid);
    if (r.begin < r.end) fn(r.begin, r.end);
  });
}
// Learning rates, momentum and weight decay: finite and >= 0 (an infinite
// rate turns every parameter into NaN or Inf at once).
simdrnn_status check_hyper(const char* name, float value) {
  if (!(value >= 0.0f && std::isfinite(value)))
    SIMDRNN_FAIL("%s: expected a finite value >= 0, got %g", name, static_cast<double>(value));
  return SIMDRNN_OK;
}

}  // namespace

extern "C" {

simdrnn_status simdrnn_clip_grad_norm(float* grads, int64_t count, float max_norm, float* norm,
                                      int32_t num_threads) {
  return guarded([&]() -> simdrnn_status {
    if (simdrnn_status st = check_count(count, "count")) return st;
    if (!grads && count > 0)
      SIMDRNN_FAIL("grads: expected %lld floats, got NULL", static_cast<long long>(count));
    if (!(max_norm > 0.0f)) SIMDRNN_FAIL("max_norm: expected > 0, got %g", static_cast<double>(max_norm));
    if (simdrnn_status st = check_threads(num_threads, "num_threads")) return st;
    const Region regions[] = {region("grads", grads, count, true), region("norm", norm, 1, true)};
    if (simdrnn_status st = check_regions(regions)) return st;
    const kernels::KernelTable& kt = kernel_table(active_isa());
    // One pass in index order: the norm is bit-identical for any thread count.
    const double total = std::sqrt(kt.sum_squares(grads, count));
    if (norm) *norm = static_cast<float>(total);
    if (total > max_norm) {
      const float factor = static_cast<float>(max_norm / (total + 1e-6));
      parallel_elements(count, num_threads,
                        [&](int64_t b, int64_t e) { kt.scale(grads + b, e - b, factor); });
    }
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_sgd_step(float* params, const float* grads, float* velocity, int64_t count, float lr,
                                float momentum, float weight_decay, int32_t num_threads) {
  return guarded([&]() -> simdrnn_status {
    if (simdrnn_status st = check_count(count, "count")) return st;
    if (count > 0 && (!params || !grads || !velocity))
      SIMDRNN_FAIL("params, grads, velocity: expected %lld floats each, got a NULL pointer",
                   static_cast<long long>(count));
    if (simdrnn_status st = check_hyper("lr", lr)) return st;
    if (simdrnn_status st = check_hyper("momentum", momentum)) return st;
    if (simdrnn_status st = check_hyper("weight_decay", weight_decay)) return st;
    if (simdrnn_status st = check_threads(num_threads, "num_threads")) return st;
    const Region regions[] = {region("params", params, count, true), region("grads", grads, count, false),
                              region("velocity", velocity, count, true)};
    if (simdrnn_status st = check_regions(regions)) return st;
    const kernels::KernelTable& kt = kernel_table(active_isa());
    parallel_elements(count, num_threads, [&](int64_t b, int64_t e) {
      kt.sgd(params + b, grads + b, velocity + b, e - b, lr, momentum, weight_decay);
    });
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_adam_step(float* params, const float* grads, float* m, float* v, int64_t count,
                                 int64_t step, float lr, float beta1, float beta2, float eps,
                                 float weight_decay, int32_t num_threads) {
  return guarded([&]() -> simdrnn_status {
    if (simdrnn_status st = check_count(count, "count")) return st;
    if (count > 0 && (!params || !grads || !m || !v))
      SIMDRNN_FAIL("params, grads, m, v: expected %lld floats each, got a NULL pointer",
                   static_cast<long long>(count));
    if (step < 1) SIMDRNN_FAIL("step: expected >= 1, got %lld", static_cast<long long>(step));
    if (simdrnn_status st = check_hyper("lr", lr)) return st;
    if (!(beta1 >= 0.0f && beta1 < 1.0f))
      SIMDRNN_FAIL("beta1: expected [0, 1), got %g", static_cast<double>(beta1));
    if (!(beta2 >= 0.0f && beta2 < 1.0f))
      SIMDRNN_FAIL("beta2: expected [0, 1), got %g", static_cast<double>(beta2));
    if (!(eps > 0.0f && std::isfinite(eps)))
      SIMDRNN_FAIL("eps: expected a finite value > 0, got %g", static_cast<double>(eps));
    if (simdrnn_status st = check_hyper("weight_decay", weight_decay)) return st;
    if (simdrnn_status st = check_threads(num_threads, "num_threads")) return st;
    const Region regions[] = {region("params", params, count, true), region("grads", grads, count, false),
                              region("m", m, count, true), region("v", v, count, true)};
    if (simdrnn_status st = check_regions(regions)) return st;
    const kernels::KernelTable& kt = kernel_table(active_isa());
    const float c1 =
        static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step)));
    const float c2 =
        static_cast<float>(1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step)));
    parallel_elements(count, num_threads, [&](int64_t b, int64_t e) {
      kt.adam(params + b, grads + b, m + b, v + b, e - b, lr, beta1, beta2, eps, weight_decay, c1, c2);
    });
    return SIMDRNN_OK;
  });
}

}  // extern "C"
