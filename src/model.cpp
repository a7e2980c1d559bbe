// Model construction: configuration checks, PyTorch tensor names, packing of
// the weights into the kernels' panel layout, plus the error and environment
// helpers every entry point uses.
#include <omp.h>
#include <sys/mman.h>

#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>
#include <utility>

#include "src/internal.hpp"

namespace simdrnn {

// ---- errors -----------------------------------------------------------------
namespace {
thread_local char g_error[1024] = "";
}

simdrnn_status fail(simdrnn_status status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(g_error, sizeof g_error, format, args);
  va_end(args);
  return status;
}
void clear_error() { g_error[0] = '\0'; }
const char* last_error() { return g_error; }

// ---- environment ------------------------------------------------------------
bool verbose_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("SIMDRNN_VERBOSE");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return on;
}

int32_t default_num_threads() {
  static const int32_t n = [] {
    const char* v = std::getenv("SIMDRNN_NUM_THREADS");
    if (v && *v) {
      char* end = nullptr;
      const long parsed = std::strtol(v, &end, 10);
      if (end && *end == '\0' && parsed >= 1 && parsed <= 4096) return static_cast<int32_t>(parsed);
      std::fprintf(stderr, "simdrnn: ignoring SIMDRNN_NUM_THREADS=%s (expected 1..4096)\n", v);
    }
    return static_cast<int32_t>(omp_get_max_threads());
  }();
  return n;
}

// ---- storage and packing ----------------------------------------------------
AlignedFloats aligned_floats(int64_t count) {
  size_t bytes = static_cast<size_t>(round_up(count > 0 ? count : 1, 16)) * sizeof(float);
  // Large buffers (packed weights) go on 2 MiB pages where the kernel allows:
  // a 16 MiB W_hh streamed every step would otherwise miss the TLB every 4 KiB.
  constexpr size_t kHuge = size_t{2} << 20;
  const bool huge = bytes >= kHuge;
  if (huge) bytes = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(huge ? kHuge : 64, bytes);
  if (!p) throw std::bad_alloc();
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure is harmless
  std::memset(p, 0, bytes);
  return AlignedFloats(static_cast<float*>(p));
}

namespace {
// Packs the k x n matrix whose element (kk, col) is src[kk * k_stride + col *
// n_stride] as a GEMM B operand (simd/kernels.h layout).
PackedMatrix pack_strided(const float* src, int64_t k, int64_t n, int64_t k_stride, int64_t n_stride,
                          int64_t panel_width) {
  PackedMatrix m;
  m.rows = n;
  m.cols = k;
  const int64_t panels = (n + panel_width - 1) / panel_width;
  m.data = aligned_floats(panels * panel_width * k);
  float* dst = m.data.get();
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t c = 0; c < panel_width; ++c) {
        const int64_t col = p * panel_width + c;
        dst[(p * k + kk) * panel_width + c] = col < n ? src[kk * k_stride + col * n_stride] : 0.0f;
      }
  return m;
}
}  // namespace

PackedMatrix pack_b(const float* w, int64_t rows, int64_t cols, int64_t panel_width) {
  return pack_strided(w, cols, rows, 1, cols, panel_width);  // B = W^T
}

PackedMatrix pack_b_kn(const float* src, int64_t k, int64_t n, int64_t ld, int64_t panel_width) {
  return pack_strided(src, k, n, ld, 1, panel_width);
}

// ---- configuration and names --------------------------------------------------
simdrnn_status validate_config(const simdrnn_config* c, const char* arg) {
  if (!c) return fail(SIMDRNN_INVALID_ARGUMENT, "%s: expected a non-NULL simdrnn_config*, got NULL", arg);
  if (c->input_size < 1)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->input_size: expected >= 1, got %lld", arg,
                static_cast<long long>(c->input_size));
  if (c->hidden_size < 1)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->hidden_size: expected >= 1, got %lld", arg,
                static_cast<long long>(c->hidden_size));
  if (c->num_layers < 1)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->num_layers: expected >= 1, got %lld", arg,
                static_cast<long long>(c->num_layers));
  if (c->bidirectional != 0 && c->bidirectional != 1)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->bidirectional: expected 0 or 1, got %d", arg,
                static_cast<int>(c->bidirectional));
  const int act = raw_enum(c->activation);
  if (act != SIMDRNN_TANH && act != SIMDRNN_RELU && act != SIMDRNN_SIGMOID)
    return fail(SIMDRNN_INVALID_ARGUMENT,
                "%s->activation: expected SIMDRNN_TANH (0), SIMDRNN_RELU (1) or SIMDRNN_SIGMOID (2), got %d",
                arg, act);
  if (!(c->clip >= 0.0f))
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->clip: expected >= 0 (0 = off), got %g", arg,
                static_cast<double>(c->clip));
  if (c->output_size < 0)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->output_size: expected >= 0 (0 = none), got %lld", arg,
                static_cast<long long>(c->output_size));
  // Each dimension is capped first so that padding it (+64) cannot overflow;
  // then every weight tensor's element count must stay below 2^60, which keeps
  // all later products (panels, bytes) exact.
  constexpr int64_t kMaxDim = int64_t{1} << 40;
  const std::pair<const char*, int64_t> dims[] = {{"input_size", c->input_size},
                                                  {"hidden_size", c->hidden_size},
                                                  {"num_layers", c->num_layers},
                                                  {"output_size", c->output_size}};
  for (const auto& [name, value] : dims)
    if (value > kMaxDim)
      return fail(SIMDRNN_INVALID_ARGUMENT, "%s->%s: expected <= 2^40, got %lld", arg, name,
                  static_cast<long long>(value));
  constexpr int64_t kMaxElements = int64_t{1} << 60;
  const int64_t dirs = c->bidirectional ? 2 : 1;
  const int64_t dh = checked_product({dirs, c->hidden_size});
  const int64_t in = c->input_size > dh ? c->input_size : dh;
  const int64_t biggest[] = {checked_product({c->hidden_size + 64, in + 64}),
                             checked_product({c->hidden_size + 64, c->hidden_size + 64}),
                             checked_product({c->output_size + 64, dh + 64}),
                             checked_product({c->num_layers, dirs, c->hidden_size + 64})};
  for (int64_t b : biggest)
    if (dh < 0 || b < 0 || b > kMaxElements)
      return fail(SIMDRNN_INVALID_ARGUMENT,
                  "%s: weight sizes overflow (input_size %lld, hidden_size %lld, num_layers %lld, "
                  "output_size %lld): expected every tensor below 2^60 elements",
                  arg, static_cast<long long>(c->input_size), static_cast<long long>(c->hidden_size),
                  static_cast<long long>(c->num_layers), static_cast<long long>(c->output_size));
  return SIMDRNN_OK;
}

int64_t expected_tensor_size(const simdrnn_config& c, const std::string& name) {
  const int64_t dirs = c.bidirectional ? 2 : 1, H = c.hidden_size;
  if (name == "weight_hy") return c.output_size > 0 ? c.output_size * dirs * H : -1;
  if (name == "bias_hy") return c.output_size > 0 ? c.output_size : -1;
  static const char* const kinds[] = {"weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"};
  for (int kind = 0; kind < 4; ++kind) {
    const size_t plen = std::strlen(kinds[kind]);
    if (name.compare(0, plen, kinds[kind]) != 0) continue;
    std::string rest = name.substr(plen);
    bool reverse = false;
    const std::string suffix = "_reverse";
    if (rest.size() > suffix.size() && rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) == 0) {
      reverse = true;
      rest.resize(rest.size() - suffix.size());
    }
    if (rest.empty() || rest.size() > 9 || rest.find_first_not_of("0123456789") != std::string::npos ||
        (rest.size() > 1 && rest[0] == '0'))
      return -1;
    const int64_t layer = std::stoll(rest);
    if (layer >= c.num_layers || (reverse && dirs == 1)) return -1;
    const int64_t in = layer == 0 ? c.input_size : dirs * H;
    switch (kind) {
      case 0: return H * in;
      case 1: return H * H;
      default: return H;
    }
  }
  return -1;
}

// ---- building ----------------------------------------------------------------------
namespace {
AlignedFloats padded_bias(const float* a, const float* b, int64_t n, int64_t panel_width) {
  if (!a && !b) return nullptr;
  AlignedFloats out = aligned_floats(round_up(n, panel_width));
  for (int64_t j = 0; j < n; ++j) out[j] = (a ? a[j] : 0.0f) + (b ? b[j] : 0.0f);
  return out;
}
std::string cell_suffix(int64_t layer, int64_t direction) {
  return "_l" + std::to_string(layer) + (direction ? "_reverse" : "");
}
}  // namespace

uint64_t next_model_id() {
  static std::atomic<uint64_t> counter{1};
  return counter.fetch_add(1);
}

namespace {
void pack_backward(Model& m) {
  const simdrnn_config& c = m.config;
  const int64_t pw = m.kernels->panel_width, H = c.hidden_size, D = m.directions;
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = cell_suffix(l, d);
      const int64_t in = l == 0 ? c.input_size : D * H;
      Cell& cell = m.cells[l * D + d];
      cell.w_ih_bwd = pack_b_kn(m.param("weight_ih" + sfx), H, in, in, pw);
      cell.w_hh_bwd = pack_b_kn(m.param("weight_hh" + sfx), H, H, H, pw);
    }
  if (c.output_size > 0) m.w_hy_bwd = pack_b_kn(m.param("weight_hy"), c.output_size, D * H, D * H, pw);
}
}  // namespace

void pack_model(Model& m) {
  const simdrnn_config& c = m.config;
  const int64_t pw = m.kernels->panel_width, H = c.hidden_size, D = m.directions;
  m.cells.resize(static_cast<size_t>(c.num_layers * D));
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = cell_suffix(l, d);
      const int64_t in = l == 0 ? c.input_size : D * H;
      Cell& cell = m.cells[l * D + d];
      cell.w_ih = pack_b(m.param("weight_ih" + sfx), H, in, pw);
      cell.w_hh = pack_b(m.param("weight_hh" + sfx), H, H, pw);
      cell.bias = padded_bias(m.param("bias_ih" + sfx), m.param("bias_hh" + sfx), H, pw);
    }
  if (c.output_size > 0) {
    m.w_hy = pack_b(m.param("weight_hy"), c.output_size, D * H, pw);
    m.b_hy = padded_bias(m.param("bias_hy"), nullptr, c.output_size, pw);
  }
  if (m.training_ready.load()) pack_backward(m);
}

void prepare_training(Model& m) {
  if (m.training_ready.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(m.training_mutex);
  if (m.training_ready.load(std::memory_order_relaxed)) return;
  pack_backward(m);
  m.training_ready.store(true, std::memory_order_release);
}

std::unique_ptr<Model> build_model(const Weights& weights, simdrnn_isa isa) {
  auto model = std::make_unique<Model>();
  const simdrnn_config& c = weights.config;
  model->config = c;
  model->directions = c.bidirectional ? 2 : 1;
  model->kernels = &kernel_table(isa);
  model->id = next_model_id();
  const int64_t D = model->directions, H = c.hidden_size;
  for (const auto& [name, data] : weights.tensors)
    if (name.compare(0, 5, "bias_") == 0 && name != "bias_hy") model->has_bias = true;
  model->has_bias_hy = weights.tensors.count("bias_hy") > 0;
  // Flat parameters in PyTorch order; absent biases of a model that has
  // biases are zero.
  auto add = [&](const std::string& name, int64_t count) {
    model->slots.push_back({name, static_cast<int64_t>(model->params.size()), count});
    auto it = weights.tensors.find(name);
    if (it != weights.tensors.end())
      model->params.insert(model->params.end(), it->second.begin(), it->second.end());
    else
      model->params.resize(model->params.size() + static_cast<size_t>(count), 0.0f);
  };
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = cell_suffix(l, d);
      const int64_t in = l == 0 ? c.input_size : D * H;
      add("weight_ih" + sfx, H * in);
      add("weight_hh" + sfx, H * H);
      if (model->has_bias) {
        add("bias_ih" + sfx, H);
        add("bias_hh" + sfx, H);
      }
    }
  if (c.output_size > 0) {
    add("weight_hy", c.output_size * D * H);
    if (model->has_bias_hy) add("bias_hy", c.output_size);
  }
  pack_model(*model);
  // Gradient offsets resolved once, so backward looks nothing up by name.
  auto offset = [&](const std::string& name) {
    const ParamSlot* slot = model->slot(name);
    return slot ? slot->offset : int64_t{-1};
  };
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = cell_suffix(l, d);
      Cell& cell = model->cells[l * D + d];
      cell.off_w_ih = offset("weight_ih" + sfx);
      cell.off_w_hh = offset("weight_hh" + sfx);
      cell.off_b_ih = offset("bias_ih" + sfx);
      cell.off_b_hh = offset("bias_hh" + sfx);
    }
  model->off_w_hy = offset("weight_hy");
  model->off_b_hy = offset("bias_hy");
  return model;
}

}  // namespace simdrnn
