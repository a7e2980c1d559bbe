// The C API: handle table, argument validation (before any output is touched)
// and the exception firewall. Every exported function catches everything.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "src/engine.hpp"
#include "src/internal.hpp"

namespace simdrnn {
const char* last_error();  // model.cpp

namespace {

// ---- handles ------------------------------------------------------------------
// Opaque handles are not pointers: they encode a slot index, a generation and
// a type tag. A destroyed handle (generation moved on), a handle of another
// type, or any real pointer is rejected without dereferencing it. Lookups are
// lock-free; only create and destroy take the table's mutex.
template <class T, uint64_t kTag>
class HandleTable {
 public:
  static constexpr uint64_t kSlots = 1 << 14;

  // Takes ownership; returns 0 when the table is full.
  uint64_t insert(std::unique_ptr<T> object) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.empty() && next_ == kSlots) return 0;
    uint64_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = next_++;
    }
    const uint64_t gen = generation_[index].load(std::memory_order_relaxed);
    object_[index].store(object.release(), std::memory_order_release);
    return gen << 32 | index << 8 | kTag;
  }

  T* find(const void* handle) const {
    const uint64_t h = reinterpret_cast<uintptr_t>(handle);
    const uint64_t index = (h >> 8) & 0xffffff;
    if ((h & 0xff) != kTag || index >= kSlots) return nullptr;
    if (generation_[index].load(std::memory_order_acquire) != (h >> 32)) return nullptr;
    return object_[index].load(std::memory_order_acquire);
  }

  // Returns false when the handle is not live.
  bool erase(const void* handle) {
    std::unique_ptr<T> doomed;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!find(handle)) return false;
      const uint64_t index = (reinterpret_cast<uintptr_t>(handle) >> 8) & 0xffffff;
      doomed.reset(object_[index].exchange(nullptr));
      uint32_t gen = static_cast<uint32_t>(generation_[index].load() + 1);
      generation_[index].store(gen == 0 ? 1 : gen, std::memory_order_release);
      free_.push_back(index);
    }
    return true;
  }

  HandleTable() {
    for (auto& g : generation_) g.store(1, std::memory_order_relaxed);
  }

 private:
  std::mutex mutex_;
  std::atomic<uint64_t> generation_[kSlots];
  std::atomic<T*> object_[kSlots] = {};
  std::vector<uint64_t> free_;
  uint64_t next_ = 0;
};

// What a stream and a training session share: the hidden state carried
// from call to call for `batch` sequences, in chunks of up to max_steps.
struct Carried {
  uint64_t model_handle;
  const Model* model;  // valid while model_handle is live (checked each call)
  int64_t batch, max_steps;
  AlignedFloats state;  // [L, N, H]

  simdrnn_model* model_ptr() const {
    return reinterpret_cast<simdrnn_model*>(static_cast<uintptr_t>(model_handle));
  }
  size_t state_bytes() const {
    return static_cast<size_t>(model->config.num_layers * batch * model->config.hidden_size) * sizeof(float);
  }
};

struct Stream : Carried {
  AlignedFloats workspace;
  int64_t workspace_size;
};

// A truncated-BPTT session: carried state, reserve and workspaces for chunks
// of up to max_steps, and the args of the last forward chunk.
struct TrainSession : Carried {
  AlignedFloats reserve, forward_workspace, backward_workspace;
  int64_t reserve_size, forward_workspace_size, backward_workspace_size;
  simdrnn_forward_args last{};  // valid when has_forward
  bool has_forward = false;
};

HandleTable<Weights, 0xa1>& weights_table() {
  static auto* t = new HandleTable<Weights, 0xa1>();  // never destroyed: handles outlive statics
  return *t;
}
HandleTable<Model, 0xa2>& model_table() {
  static auto* t = new HandleTable<Model, 0xa2>();
  return *t;
}
HandleTable<Stream, 0xa3>& stream_table() {
  static auto* t = new HandleTable<Stream, 0xa3>();
  return *t;
}
HandleTable<TrainSession, 0xa4>& session_table() {
  static auto* t = new HandleTable<TrainSession, 0xa4>();
  return *t;
}

#define SIMDRNN_FAIL(...) return fail(SIMDRNN_INVALID_ARGUMENT, __VA_ARGS__)

template <class Table>
auto lookup(Table& table, const void* handle, const char* arg, const char* type)
    -> decltype(table.find(handle)) {
  auto* object = table.find(handle);
  if (!object) {
    if (!handle)
      fail(SIMDRNN_INVALID_ARGUMENT, "%s: expected a live %s handle, got NULL", arg, type);
    else
      fail(SIMDRNN_INVALID_ARGUMENT,
           "%s: expected a live %s handle, got %p (destroyed, or not a %s handle)", arg, type,
           handle, type);
  }
  return object;
}

// Runs f() with the exception firewall of the C API.
template <class F>
simdrnn_status guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return fail(SIMDRNN_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(SIMDRNN_INTERNAL_ERROR, "internal error: %s", e.what());
  } catch (...) {
    return fail(SIMDRNN_INTERNAL_ERROR, "internal error: unknown exception");
  }
}

// Destroys a live handle; NULL is a no-op; anything else is recorded as an error.
template <class Table>
simdrnn_status destroy_handle(Table& table, const void* handle, const char* arg, const char* type) {
  if (!handle || table.erase(handle)) return SIMDRNN_OK;
  lookup(table, handle, arg, type);  // records why it is not live
  return SIMDRNN_INVALID_ARGUMENT;
}

// A stream or session whose model is still alive, or null (error recorded).
template <class Table>
auto live_carried(Table& table, const void* handle, const char* arg, const char* type)
    -> decltype(table.find(handle)) {
  auto* c = lookup(table, handle, arg, type);
  if (c && !model_table().find(c->model_ptr())) {
    fail(SIMDRNN_INVALID_ARGUMENT, "%s: its model was destroyed; expected a live model", arg);
    return nullptr;
  }
  return c;
}

// ---- buffer overlap ------------------------------------------------------------
struct Region {
  const char* name;
  uintptr_t begin, end;
  bool written;
};
Region region(const char* name, const void* p, int64_t bytes, bool written) {
  const uintptr_t b = reinterpret_cast<uintptr_t>(p);
  return {name, b, p ? b + static_cast<uintptr_t>(bytes) : b, written};
}

// Every written region must be disjoint from every other region, except
// h_n == h0 exactly (in-place state update, documented).
template <size_t kCount>
simdrnn_status check_overlaps(const std::array<Region, kCount>& regions) {
  for (size_t i = 0; i < regions.size(); ++i)
    for (size_t j = i + 1; j < regions.size(); ++j) {
      const Region &a = regions[i], &b = regions[j];
      if (!(a.written || b.written) || a.begin == a.end || b.begin == b.end) continue;
      if (a.end <= b.begin || b.end <= a.begin) continue;
      const bool state_alias = a.begin == b.begin && a.end == b.end &&
                               ((!std::strcmp(a.name, "h0") && !std::strcmp(b.name, "h_n")) ||
                                (!std::strcmp(a.name, "h_n") && !std::strcmp(b.name, "h0")));
      if (state_alias) continue;
      SIMDRNN_FAIL("args->%s and args->%s: expected non-overlapping buffers, got overlapping "
                   "ranges [%p, %p) and [%p, %p)",
                   a.name, b.name, reinterpret_cast<void*>(a.begin), reinterpret_cast<void*>(a.end),
                   reinterpret_cast<void*>(b.begin), reinterpret_cast<void*>(b.end));
    }
  return SIMDRNN_OK;
}

struct Shapes {
  int64_t x, y, h, out;  // element counts
};

// Validates sizes and enums of a forward call; fills element counts.
simdrnn_status check_shape_args(const Model& m, const simdrnn_forward_args* a, Shapes* s) {
  if (!a) SIMDRNN_FAIL("args: expected a non-NULL simdrnn_forward_args*, got NULL");
  if (a->seq_len < 1)
    SIMDRNN_FAIL("args->seq_len: expected >= 1, got %lld", static_cast<long long>(a->seq_len));
  if (a->batch < 1)
    SIMDRNN_FAIL("args->batch: expected >= 1, got %lld", static_cast<long long>(a->batch));
  const int layout = raw_enum(a->layout);
  if (layout != SIMDRNN_TIME_MAJOR && layout != SIMDRNN_BATCH_MAJOR)
    SIMDRNN_FAIL("args->layout: expected SIMDRNN_TIME_MAJOR (0) or SIMDRNN_BATCH_MAJOR (1), got %d",
                 layout);
  const simdrnn_config& c = m.config;
  const int64_t rows = checked_product({a->seq_len, a->batch});
  s->x = checked_product({rows, c.input_size});
  s->y = checked_product({rows, m.directions, c.hidden_size});
  s->h = checked_product({c.num_layers, m.directions, a->batch, c.hidden_size});
  s->out = checked_product({rows, c.output_size});
  constexpr int64_t kMax = int64_t{1} << 58;  // elements; keeps byte counts and sums exact
  for (int64_t v : {rows, s->x, s->y, s->h, s->out})
    if (v < 0 || v > kMax)
      SIMDRNN_FAIL("args->seq_len, args->batch: tensor sizes overflow (seq_len %lld x batch %lld with "
                   "input_size %lld, hidden_size %lld): expected every tensor below 2^58 elements",
                   static_cast<long long>(a->seq_len), static_cast<long long>(a->batch),
                   static_cast<long long>(c.input_size), static_cast<long long>(c.hidden_size));
  return SIMDRNN_OK;
}

// Creation checks shared by streams and training sessions (`purpose` names
// the object in the bidirectional message); fills the state shapes.
simdrnn_status check_carried(const Model& m, int64_t batch, int64_t max_steps, const char* purpose, Shapes* s) {
  if (m.directions != 1)
    return fail(SIMDRNN_UNSUPPORTED,
                "model: expected a unidirectional model for %s (the reverse direction needs the whole "
                "sequence), got a bidirectional one",
                purpose);
  if (batch < 1) SIMDRNN_FAIL("batch: expected >= 1, got %lld", static_cast<long long>(batch));
  if (max_steps < 1) SIMDRNN_FAIL("max_steps: expected >= 1, got %lld", static_cast<long long>(max_steps));
  simdrnn_forward_args probe{};
  probe.seq_len = max_steps;
  probe.batch = batch;
  if (check_shape_args(m, &probe, s))
    SIMDRNN_FAIL("batch, max_steps: sizes overflow (batch %lld, max_steps %lld): expected every tensor "
                 "below 2^58 elements",
                 static_cast<long long>(batch), static_cast<long long>(max_steps));
  return SIMDRNN_OK;
}

void init_carried(Carried& c, const simdrnn_model* handle, const Model& m, int64_t batch, int64_t max_steps,
                  const Shapes& s) {
  c.model_handle = reinterpret_cast<uintptr_t>(handle);
  c.model = &m;
  c.batch = batch;
  c.max_steps = max_steps;
  c.state = aligned_floats(s.h);
}

int32_t resolve_threads(int32_t requested) {
  return requested > 0 ? requested : default_num_threads();
}

simdrnn_status check_threads(int32_t n, const char* arg) {
  if (n < 0 || n > 4096) SIMDRNN_FAIL("%s: expected 0 (default) or 1..4096, got %d", arg, n);
  return SIMDRNN_OK;
}

simdrnn_status forward_impl(const Model& m, const simdrnn_forward_args* a, void* reserve = nullptr) {
  Shapes s;
  if (simdrnn_status st = check_shape_args(m, a, &s)) return st;
  const simdrnn_config& c = m.config;
  if (!a->x) SIMDRNN_FAIL("args->x: expected a non-NULL input [%s], got NULL",
                          a->layout == SIMDRNN_TIME_MAJOR ? "T, N, I" : "N, T, I");
  if (!a->y && !a->h_n && !a->out)
    SIMDRNN_FAIL("args->y, args->h_n, args->out: expected at least one output, got all NULL");
  if (c.output_size == 0 && a->out)
    SIMDRNN_FAIL("args->out: expected NULL (the model has no output layer, output_size 0), got %p",
                 static_cast<void*>(a->out));
  if (simdrnn_status st = check_threads(a->num_threads, "args->num_threads")) return st;
  if (a->seq_lens)
    for (int64_t n = 0; n < a->batch; ++n)
      if (a->seq_lens[n] < 1 || a->seq_lens[n] > a->seq_len)
        SIMDRNN_FAIL("args->seq_lens[%lld]: expected 1..seq_len (%lld), got %lld",
                     static_cast<long long>(n), static_cast<long long>(a->seq_len),
                     static_cast<long long>(a->seq_lens[n]));
  const int64_t need = workspace_bytes(m, a->seq_len, a->batch, a->y != nullptr);
  if (static_cast<uint64_t>(need) > a->workspace_size)
    SIMDRNN_FAIL("args->workspace_size: expected >= %lld bytes (simdrnn_forward_workspace_size), got %zu",
                 static_cast<long long>(need), a->workspace_size);
  if (need > 0 && !a->workspace)
    SIMDRNN_FAIL("args->workspace: expected a buffer of %lld bytes, got NULL", static_cast<long long>(need));
  constexpr int64_t F = sizeof(float);
  // forward_training: the reserve is written too (size checked by the caller).
  const int64_t reserve_bytes =
      reserve ? training_reserve_layout(m, a->seq_len, a->batch, nullptr, nullptr) : 0;
  const std::array<Region, 8> regions = {
      region("reserve", reserve, reserve_bytes, true),
      region("x", a->x, s.x * F, false),
      region("h0", a->h0, s.h * F, false),
      region("seq_lens", a->seq_lens, a->batch * int64_t{sizeof(int64_t)}, false),
      region("y", a->y, s.y * F, true),
      region("h_n", a->h_n, s.h * F, true),
      region("out", a->out, s.out * F, true),
      region("workspace", need ? a->workspace : nullptr, need, true)};
  if (simdrnn_status st = check_overlaps(regions)) return st;
  if (reserve) {  // forward_training: layer outputs and masks go to the reserve
    TrainingSink sink;
    training_reserve_layout(m, a->seq_len, a->batch, reserve, &sink);
    const ReserveHeader header{kReserveMagic, m.id, a->seq_len, a->batch, raw_enum(a->layout),
                               a->seq_lens != nullptr};
    std::memcpy(engine::align64(reserve), &header, sizeof header);
    // Backward needs h0 as this call saw it; h_n == h0 overwrites it in place.
    const size_t h0_bytes = static_cast<size_t>(m.config.num_layers * m.directions * a->batch *
                                                m.config.hidden_size) * sizeof(float);
    if (a->h0)
      std::memcpy(sink.h0, a->h0, h0_bytes);
    else
      std::memset(sink.h0, 0, h0_bytes);
    run_forward(m, *a, resolve_threads(a->num_threads), &sink);
    return SIMDRNN_OK;
  }
  run_forward(m, *a, resolve_threads(a->num_threads));
  return SIMDRNN_OK;
}

// ---- training validation ----------------------------------------------------------
simdrnn_status check_training_model(const Model& m) {
  if (m.config.num_layers > kMaxTrainingLayers)
    return fail(SIMDRNN_UNSUPPORTED, "model: training supports num_layers <= %lld, got %lld",
                static_cast<long long>(kMaxTrainingLayers), static_cast<long long>(m.config.num_layers));
  return SIMDRNN_OK;
}

simdrnn_status check_count(int64_t count, const char* arg) {
  if (count < 0 || count > (int64_t{1} << 58))
    SIMDRNN_FAIL("%s: expected 0..2^58, got %lld", arg, static_cast<long long>(count));
  return SIMDRNN_OK;
}

// Runs fn(begin, end) over [0, count) split across threads (element-wise work).
template <class Fn>
void parallel_elements(int64_t count, int32_t threads, Fn&& fn) {
  const int64_t team = count < (int64_t{1} << 15) ? 1 : std::min<int64_t>(resolve_threads(threads), 64);
  engine::run_team(team, [&](int64_t tid, int64_t nt) {
    const engine::Range r = engine::split(count, nt, tid);
    if (r.begin < r.end) fn(r.begin, r.end);
  });
}

}  // namespace
}  // namespace simdrnn

using namespace simdrnn;

// ---- library --------------------------------------------------------------------------
extern "C" {

const char* simdrnn_version(void) { return SIMDRNN_VERSION_STRING; }
const char* simdrnn_last_error(void) { return simdrnn::last_error(); }

const char* simdrnn_status_name(simdrnn_status status) {
  switch (status) {
    case SIMDRNN_OK: return "SIMDRNN_OK";
    case SIMDRNN_INVALID_ARGUMENT: return "SIMDRNN_INVALID_ARGUMENT";
    case SIMDRNN_OUT_OF_MEMORY: return "SIMDRNN_OUT_OF_MEMORY";
    case SIMDRNN_UNSUPPORTED: return "SIMDRNN_UNSUPPORTED";
    case SIMDRNN_INTERNAL_ERROR: return "SIMDRNN_INTERNAL_ERROR";
  }
  return "unknown status";
}

const char* simdrnn_isa_name(simdrnn_isa isa) {
  switch (isa) {
    case SIMDRNN_ISA_SCALAR: return "scalar";
    case SIMDRNN_ISA_AVX2: return "avx2";
    case SIMDRNN_ISA_AVX512: return "avx512";
  }
  return "unknown";
}

simdrnn_isa simdrnn_detected_isa(void) { return detected_isa(); }
simdrnn_isa simdrnn_active_isa(void) { return active_isa(); }

simdrnn_status simdrnn_set_max_isa(simdrnn_isa isa) {
  const int v = raw_enum(isa);
  if (v < SIMDRNN_ISA_SCALAR || v > SIMDRNN_ISA_AVX512)
    SIMDRNN_FAIL("isa: expected SIMDRNN_ISA_SCALAR (0), SIMDRNN_ISA_AVX2 (1) or SIMDRNN_ISA_AVX512 (2), got %d", v);
  set_max_isa(isa);
  return SIMDRNN_OK;
}

simdrnn_config simdrnn_config_default(void) {
  simdrnn_config c{};
  c.input_size = 1;
  c.hidden_size = 1;
  c.num_layers = 1;
  c.bidirectional = 0;
  c.activation = SIMDRNN_TANH;
  c.clip = 0.0f;
  c.output_size = 0;
  return c;
}

// ---- weights ----------------------------------------------------------------------------
simdrnn_status simdrnn_weights_create(const simdrnn_config* config, simdrnn_weights** weights) {
  return guarded([&]() -> simdrnn_status {
    if (!weights) SIMDRNN_FAIL("weights: expected a non-NULL simdrnn_weights** to receive the handle, got NULL");
    if (simdrnn_status st = validate_config(config, "config")) return st;
    auto w = std::make_unique<Weights>();
    w->config = *config;
    const uint64_t h = weights_table().insert(std::move(w));
    if (!h) return fail(SIMDRNN_OUT_OF_MEMORY, "weights: too many live weight handles (%llu)",
                        static_cast<unsigned long long>(HandleTable<Weights, 0xa1>::kSlots));
    *weights = reinterpret_cast<simdrnn_weights*>(static_cast<uintptr_t>(h));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_weights_destroy(simdrnn_weights* weights) {
  return guarded([&] { return destroy_handle(weights_table(), weights, "weights", "simdrnn_weights"); });
}

simdrnn_status simdrnn_weights_set(simdrnn_weights* weights, const char* name, const float* data,
                                   int64_t count) {
  return guarded([&]() -> simdrnn_status {
    Weights* w = lookup(weights_table(), weights, "weights", "simdrnn_weights");
    if (!w) return SIMDRNN_INVALID_ARGUMENT;
    if (!name) SIMDRNN_FAIL("name: expected a PyTorch tensor name such as \"weight_ih_l0\", got NULL");
    const int64_t expected = expected_tensor_size(w->config, name);
    if (expected < 0)
      SIMDRNN_FAIL("name: expected weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} "
                   "(k < num_layers %lld%s)%s, got \"%s\"",
                   static_cast<long long>(w->config.num_layers),
                   w->config.bidirectional ? ", optional _reverse" : "",
                   w->config.output_size > 0 ? ", weight_hy or bias_hy" : "", name);
    if (!data) SIMDRNN_FAIL("data: expected %lld floats for \"%s\", got NULL", static_cast<long long>(expected), name);
    if (count != expected)
      SIMDRNN_FAIL("count: expected %lld floats for \"%s\", got %lld", static_cast<long long>(expected), name,
                   static_cast<long long>(count));
    w->tensors[name].assign(data, data + count);
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_weights_set_onnx(simdrnn_weights* weights, int64_t layer, const float* W,
                                        const float* R, const float* B) {
  return guarded([&]() -> simdrnn_status {
    Weights* w = lookup(weights_table(), weights, "weights", "simdrnn_weights");
    if (!w) return SIMDRNN_INVALID_ARGUMENT;
    const simdrnn_config& c = w->config;
    if (layer < 0 || layer >= c.num_layers)
      SIMDRNN_FAIL("layer: expected 0..%lld, got %lld", static_cast<long long>(c.num_layers - 1),
                   static_cast<long long>(layer));
    const int64_t D = c.bidirectional ? 2 : 1, H = c.hidden_size;
    const int64_t in = layer == 0 ? c.input_size : D * H;
    if (!W) SIMDRNN_FAIL("W: expected [%lld, %lld, %lld] floats, got NULL", static_cast<long long>(D),
                         static_cast<long long>(H), static_cast<long long>(in));
    if (!R) SIMDRNN_FAIL("R: expected [%lld, %lld, %lld] floats, got NULL", static_cast<long long>(D),
                         static_cast<long long>(H), static_cast<long long>(H));
    for (int64_t d = 0; d < D; ++d) {
      const std::string suffix = "_l" + std::to_string(layer) + (d ? "_reverse" : "");
      w->tensors["weight_ih" + suffix].assign(W + d * H * in, W + (d + 1) * H * in);
      w->tensors["weight_hh" + suffix].assign(R + d * H * H, R + (d + 1) * H * H);
      if (B) {
        w->tensors["bias_ih" + suffix].assign(B + d * 2 * H, B + d * 2 * H + H);
        w->tensors["bias_hh" + suffix].assign(B + d * 2 * H + H, B + (d + 1) * 2 * H);
      } else {
        w->tensors.erase("bias_ih" + suffix);
        w->tensors.erase("bias_hh" + suffix);
      }
    }
    return SIMDRNN_OK;
  });
}

// ---- model ------------------------------------------------------------------------------
simdrnn_status simdrnn_model_create(const simdrnn_weights* weights, simdrnn_model** model) {
  return guarded([&]() -> simdrnn_status {
    if (!model) SIMDRNN_FAIL("model: expected a non-NULL simdrnn_model** to receive the handle, got NULL");
    const Weights* w = lookup(weights_table(), weights, "weights", "simdrnn_weights");
    if (!w) return SIMDRNN_INVALID_ARGUMENT;
    const simdrnn_config& c = w->config;
    for (int64_t l = 0; l < c.num_layers; ++l)
      for (int d = 0; d < (c.bidirectional ? 2 : 1); ++d)
        for (const char* kind : {"weight_ih", "weight_hh"}) {
          const std::string name = kind + ("_l" + std::to_string(l)) + (d ? "_reverse" : "");
          if (!w->tensors.count(name))
            SIMDRNN_FAIL("weights: expected tensor \"%s\" to be set, got none", name.c_str());
        }
    if (c.output_size > 0 && !w->tensors.count("weight_hy"))
      SIMDRNN_FAIL("weights: expected tensor \"weight_hy\" to be set (output_size %lld), got none",
                   static_cast<long long>(c.output_size));
    const uint64_t h = model_table().insert(build_model(*w, active_isa()));
    if (!h) return fail(SIMDRNN_OUT_OF_MEMORY, "model: too many live models");
    *model = reinterpret_cast<simdrnn_model*>(static_cast<uintptr_t>(h));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_destroy(simdrnn_model* model) {
  return guarded([&] { return destroy_handle(model_table(), model, "model", "simdrnn_model"); });
}

simdrnn_status simdrnn_model_config(const simdrnn_model* model, simdrnn_config* config) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!config) SIMDRNN_FAIL("config: expected a non-NULL simdrnn_config* to fill, got NULL");
    *config = m->config;
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_isa(const simdrnn_model* model, simdrnn_isa* isa) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!isa) SIMDRNN_FAIL("isa: expected a non-NULL simdrnn_isa* to fill, got NULL");
    *isa = static_cast<simdrnn_isa>(m->kernels->isa);
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_forward_workspace_size(const simdrnn_model* model,
                                              const simdrnn_forward_args* args, size_t* bytes) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    Shapes s;
    if (simdrnn_status st = check_shape_args(*m, args, &s)) return st;
    if (!bytes) SIMDRNN_FAIL("bytes: expected a non-NULL size_t* to fill, got NULL");
    *bytes = static_cast<size_t>(workspace_bytes(*m, args->seq_len, args->batch, args->y != nullptr));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_forward(const simdrnn_model* model, const simdrnn_forward_args* args) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    return forward_impl(*m, args);
  });
}

// ---- streaming ----------------------------------------------------------------------------
simdrnn_status simdrnn_stream_create(const simdrnn_model* model, int64_t batch, int64_t max_steps,
                                     simdrnn_stream** stream) {
  return guarded([&]() -> simdrnn_status {
    if (!stream) SIMDRNN_FAIL("stream: expected a non-NULL simdrnn_stream** to receive the handle, got NULL");
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    Shapes s;
    if (simdrnn_status st = check_carried(*m, batch, max_steps, "streaming", &s)) return st;
    auto st = std::make_unique<Stream>();
    init_carried(*st, model, *m, batch, max_steps, s);
    st->workspace_size = workspace_bytes(*m, max_steps, batch, false);
    st->workspace = aligned_floats(st->workspace_size / int64_t{sizeof(float)} + 1);
    const uint64_t h = stream_table().insert(std::move(st));
    if (!h) return fail(SIMDRNN_OUT_OF_MEMORY, "stream: too many live streams");
    *stream = reinterpret_cast<simdrnn_stream*>(static_cast<uintptr_t>(h));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_stream_destroy(simdrnn_stream* stream) {
  return guarded([&] { return destroy_handle(stream_table(), stream, "stream", "simdrnn_stream"); });
}

namespace {
Stream* live_stream(const simdrnn_stream* stream) {
  return live_carried(stream_table(), stream, "stream", "simdrnn_stream");
}
// Sets a carried state to h0, or to zeros when h0 is NULL.
void reset_state(Carried& c, const float* h0) {
  if (h0)
    std::memmove(c.state.get(), h0, c.state_bytes());
  else
    std::memset(c.state.get(), 0, c.state_bytes());
}
}  // namespace

simdrnn_status simdrnn_stream_reset(simdrnn_stream* stream, const float* h0) {
  return guarded([&]() -> simdrnn_status {
    Stream* st = live_stream(stream);
    if (!st) return SIMDRNN_INVALID_ARGUMENT;
    reset_state(*st, h0);
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_stream_step(simdrnn_stream* stream, int64_t steps, const float* x, float* y,
                                   float* out, int32_t num_threads) {
  return guarded([&]() -> simdrnn_status {
    Stream* st = live_stream(stream);
    if (!st) return SIMDRNN_INVALID_ARGUMENT;
    if (!x) SIMDRNN_FAIL("x: expected a non-NULL input [steps, N, I], got NULL");
    if (steps < 1 || steps > st->max_steps)
      SIMDRNN_FAIL("steps: expected 1..max_steps (%lld), got %lld", static_cast<long long>(st->max_steps),
                   static_cast<long long>(steps));
    simdrnn_forward_args a{};
    a.seq_len = steps;
    a.batch = st->batch;
    a.layout = SIMDRNN_TIME_MAJOR;
    a.x = x;
    a.h0 = st->state.get();
    a.h_n = st->state.get();
    a.y = y;
    a.out = out;
    a.workspace = st->workspace.get();
    a.workspace_size = static_cast<size_t>(st->workspace_size);
    a.num_threads = num_threads;
    return forward_impl(*st->model, &a);
  });
}

simdrnn_status simdrnn_stream_state(const simdrnn_stream* stream, float* h) {
  return guarded([&]() -> simdrnn_status {
    Stream* st = live_stream(stream);
    if (!st) return SIMDRNN_INVALID_ARGUMENT;
    if (!h) SIMDRNN_FAIL("h: expected a [L, N, H] buffer, got NULL");
    std::memcpy(h, st->state.get(), st->state_bytes());
    return SIMDRNN_OK;
  });
}

// ---- training ------------------------------------------------------------------------------
simdrnn_status simdrnn_model_num_params(const simdrnn_model* model, int64_t* count) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!count) SIMDRNN_FAIL("count: expected a non-NULL int64_t* to fill, got NULL");
    *count = static_cast<int64_t>(m->params.size());
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_param_offset(const simdrnn_model* model, const char* name, int64_t* offset,
                                          int64_t* count) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!name) SIMDRNN_FAIL("name: expected a PyTorch tensor name such as \"weight_ih_l0\", got NULL");
    if (!offset || !count) SIMDRNN_FAIL("offset, count: expected non-NULL int64_t* to fill, got NULL");
    const ParamSlot* slot = m->slot(name);
    *offset = slot ? slot->offset : -1;
    *count = slot ? slot->count : 0;
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_get_params(const simdrnn_model* model, float* params) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!params) SIMDRNN_FAIL("params: expected a buffer of %zu floats, got NULL", m->params.size());
    std::memcpy(params, m->params.data(), m->params.size() * sizeof(float));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_set_params(simdrnn_model* model, const float* params) {
  return guarded([&]() -> simdrnn_status {
    Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!params) SIMDRNN_FAIL("params: expected %zu floats, got NULL", m->params.size());
    std::memmove(m->params.data(), params, m->params.size() * sizeof(float));
    pack_model(*m);
    m->id = next_model_id();  // reserves filled before this no longer match
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_training_reserve_size(const simdrnn_model* model, const simdrnn_forward_args* args,
                                             size_t* bytes) {
  return guarded([&]() -> simdrnn_status {
    Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (simdrnn_status st = check_training_model(*m)) return st;
    Shapes s;
    if (simdrnn_status st = check_shape_args(*m, args, &s)) return st;
    if (!bytes) SIMDRNN_FAIL("bytes: expected a non-NULL size_t* to fill, got NULL");
    prepare_training(*m);  // once per model: the transposed packs backward needs
    *bytes = static_cast<size_t>(training_reserve_layout(*m, args->seq_len, args->batch, nullptr, nullptr));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_forward_training(const simdrnn_model* model, const simdrnn_forward_args* args,
                                        void* reserve, size_t reserve_size) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (simdrnn_status st = check_training_model(*m)) return st;
    if (!m->training_ready.load(std::memory_order_acquire))
      SIMDRNN_FAIL("model: expected a model prepared by simdrnn_training_reserve_size, got one that was not");
    Shapes s;
    if (simdrnn_status st = check_shape_args(*m, args, &s)) return st;
    const int64_t need = training_reserve_layout(*m, args->seq_len, args->batch, nullptr, nullptr);
    if (!reserve) SIMDRNN_FAIL("reserve: expected a buffer of %lld bytes, got NULL", static_cast<long long>(need));
    if (static_cast<uint64_t>(need) > reserve_size)
      SIMDRNN_FAIL("reserve_size: expected >= %lld bytes (simdrnn_training_reserve_size), got %zu",
                   static_cast<long long>(need), reserve_size);
    return forward_impl(*m, args, reserve);  // validates the rest, reserve overlaps included
  });
}

simdrnn_status simdrnn_backward_workspace_size(const simdrnn_model* model, const simdrnn_forward_args* forward,
                                               size_t* bytes) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    Shapes s;
    if (simdrnn_status st = check_shape_args(*m, forward, &s)) return st;
    if (!bytes) SIMDRNN_FAIL("bytes: expected a non-NULL size_t* to fill, got NULL");
    *bytes = static_cast<size_t>(backward_workspace_bytes(*m, forward->seq_len, forward->batch));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_backward(const simdrnn_model* model, const simdrnn_backward_args* args) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!args) SIMDRNN_FAIL("args: expected a non-NULL simdrnn_backward_args*, got NULL");
    if (!m->training_ready.load(std::memory_order_acquire))
      SIMDRNN_FAIL("model: expected a model prepared by simdrnn_training_reserve_size, got one that was not");
    if (!args->forward) SIMDRNN_FAIL("args->forward: expected the forward_training call's args, got NULL");
    const simdrnn_forward_args* f = args->forward;
    Shapes s;
    if (simdrnn_status st = check_shape_args(*m, f, &s)) return st;
    if (!f->x) SIMDRNN_FAIL("args->forward->x: expected the forward_training input, got NULL");
    if (f->seq_lens)
      for (int64_t n = 0; n < f->batch; ++n)
        if (f->seq_lens[n] < 1 || f->seq_lens[n] > f->seq_len)
          SIMDRNN_FAIL("args->forward->seq_lens[%lld]: expected 1..seq_len (%lld), got %lld",
                       static_cast<long long>(n), static_cast<long long>(f->seq_len),
                       static_cast<long long>(f->seq_lens[n]));
    const int64_t need = training_reserve_layout(*m, f->seq_len, f->batch, nullptr, nullptr);
    if (!args->reserve || static_cast<uint64_t>(need) > args->reserve_size)
      SIMDRNN_FAIL("args->reserve: expected the %lld-byte reserve of a simdrnn_forward_training call, got %p "
                   "with %zu bytes", static_cast<long long>(need), args->reserve, args->reserve_size);
    ReserveHeader h;
    std::memcpy(&h, engine::align64(const_cast<void*>(args->reserve)), sizeof h);
    if (h.magic != kReserveMagic || h.model_id != m->id || h.seq_len != f->seq_len || h.batch != f->batch ||
        h.layout != raw_enum(f->layout) || h.has_lens != (f->seq_lens != nullptr))
      SIMDRNN_FAIL("args->reserve: expected one filled by simdrnn_forward_training with this model (and its "
                   "current parameters), seq_len %lld, batch %lld, this layout and lengths; got a reserve "
                   "from another call%s", static_cast<long long>(f->seq_len), static_cast<long long>(f->batch),
                   h.magic != kReserveMagic ? " (never filled)" : "");
    if (m->config.output_size == 0 && args->dout)
      SIMDRNN_FAIL("args->dout: expected NULL (the model has no output layer), got %p",
                   static_cast<const void*>(args->dout));
    if (args->accumulate != 0 && args->accumulate != 1)
      SIMDRNN_FAIL("args->accumulate: expected 0 or 1, got %d", static_cast<int>(args->accumulate));
    if (simdrnn_status st = check_threads(args->num_threads, "args->num_threads")) return st;
    const int64_t ws = backward_workspace_bytes(*m, f->seq_len, f->batch);
    if (!args->workspace || static_cast<uint64_t>(ws) > args->workspace_size)
      SIMDRNN_FAIL("args->workspace: expected %lld bytes (simdrnn_backward_workspace_size), got %p with %zu",
                   static_cast<long long>(ws), args->workspace, args->workspace_size);
    const int64_t rows = f->seq_len * f->batch, np = static_cast<int64_t>(m->params.size());
    const std::array<Region, 12> regions = {
        region("forward->x", f->x, s.x * 4, false),
        region("forward->h0", f->h0, s.h * 4, false),
        region("forward->seq_lens", f->seq_lens, f->batch * 8, false),
        region("reserve", args->reserve, need, false),
        region("dy", args->dy, s.y * 4, false),
        region("dout", args->dout, rows * m->config.output_size * 4, false),
        region("dh_n", args->dh_n, s.h * 4, false),
        region("dx", args->dx, s.x * 4, true),
        region("dh0", args->dh0, s.h * 4, true),
        region("grads", args->grads, np * 4, true),
        region("workspace", args->workspace, ws, true),
        region("", nullptr, 0, false)};
    if (simdrnn_status st = check_overlaps(regions)) return st;
    run_backward(*m, *args, resolve_threads(args->num_threads));
    return SIMDRNN_OK;
  });
}

// ---- truncated BPTT session ----------------------------------------------------------------
namespace {
TrainSession* live_session(const simdrnn_train_session* session) {
  return live_carried(session_table(), session, "session", "simdrnn_train_session");
}
}  // namespace

simdrnn_status simdrnn_train_session_create(const simdrnn_model* model, int64_t batch, int64_t max_steps,
                                            simdrnn_train_session** session) {
  return guarded([&]() -> simdrnn_status {
    if (!session)
      SIMDRNN_FAIL("session: expected a non-NULL simdrnn_train_session** to receive the handle, got NULL");
    Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    Shapes s;
    if (simdrnn_status st = check_carried(*m, batch, max_steps, "a truncated-BPTT session", &s)) return st;
    if (simdrnn_status st = check_training_model(*m)) return st;
    prepare_training(*m);
    auto ts = std::make_unique<TrainSession>();
    init_carried(*ts, model, *m, batch, max_steps, s);
    ts->reserve_size = training_reserve_layout(*m, max_steps, batch, nullptr, nullptr);
    ts->forward_workspace_size = workspace_bytes(*m, max_steps, batch, false);
    ts->backward_workspace_size = backward_workspace_bytes(*m, max_steps, batch);
    ts->reserve = aligned_floats(ts->reserve_size / 4 + 1);
    ts->forward_workspace = aligned_floats(ts->forward_workspace_size / 4 + 1);
    ts->backward_workspace = aligned_floats(ts->backward_workspace_size / 4 + 1);
    const uint64_t h = session_table().insert(std::move(ts));
    if (!h) return fail(SIMDRNN_OUT_OF_MEMORY, "session: too many live sessions");
    *session = reinterpret_cast<simdrnn_train_session*>(static_cast<uintptr_t>(h));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_train_session_destroy(simdrnn_train_session* session) {
  return guarded([&] { return destroy_handle(session_table(), session, "session", "simdrnn_train_session"); });
}

simdrnn_status simdrnn_train_session_reset(simdrnn_train_session* session, const float* h0) {
  return guarded([&]() -> simdrnn_status {
    TrainSession* ts = live_session(session);
    if (!ts) return SIMDRNN_INVALID_ARGUMENT;
    reset_state(*ts, h0);
    ts->has_forward = false;
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_train_session_state(const simdrnn_train_session* session, float* h) {
  return guarded([&]() -> simdrnn_status {
    TrainSession* ts = live_session(session);
    if (!ts) return SIMDRNN_INVALID_ARGUMENT;
    if (!h) SIMDRNN_FAIL("h: expected a [L, N, H] buffer, got NULL");
    std::memcpy(h, ts->state.get(), ts->state_bytes());
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_train_session_forward(simdrnn_train_session* session, int64_t steps, const float* x,
                                             float* y, float* out, int32_t num_threads) {
  return guarded([&]() -> simdrnn_status {
    TrainSession* ts = live_session(session);
    if (!ts) return SIMDRNN_INVALID_ARGUMENT;
    if (!x) SIMDRNN_FAIL("x: expected a non-NULL input [steps, N, I], got NULL");
    if (steps < 1 || steps > ts->max_steps)
      SIMDRNN_FAIL("steps: expected 1..max_steps (%lld), got %lld", static_cast<long long>(ts->max_steps),
                   static_cast<long long>(steps));
    simdrnn_forward_args a{};
    a.seq_len = steps;
    a.batch = ts->batch;
    a.layout = SIMDRNN_TIME_MAJOR;
    a.x = x;
    a.h0 = ts->state.get();    // the reserve keeps its own copy for backward
    a.h_n = ts->state.get();   // the chunk's last state is carried on
    a.y = y;
    a.out = out;
    a.workspace = ts->forward_workspace.get();
    a.workspace_size = static_cast<size_t>(ts->forward_workspace_size);
    a.num_threads = num_threads;
    const simdrnn_status st = simdrnn_forward_training(ts->model_ptr(), &a, ts->reserve.get(),
                                                       static_cast<size_t>(ts->reserve_size));
    if (st != SIMDRNN_OK) return st;
    ts->last = a;
    ts->has_forward = true;
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_train_session_backward(simdrnn_train_session* session, const float* dy, const float* dout,
                                              float* dx, float* grads, int32_t accumulate, int32_t num_threads) {
  return guarded([&]() -> simdrnn_status {
    TrainSession* ts = live_session(session);
    if (!ts) return SIMDRNN_INVALID_ARGUMENT;
    if (!ts->has_forward)
      SIMDRNN_FAIL("session: expected a simdrnn_train_session_forward chunk before backward, got none");
    simdrnn_backward_args b{};
    b.forward = &ts->last;
    b.reserve = ts->reserve.get();
    b.reserve_size = static_cast<size_t>(ts->reserve_size);
    b.dy = dy;
    b.dout = dout;
    b.dx = dx;
    b.grads = grads;
    b.accumulate = accumulate;
    b.workspace = ts->backward_workspace.get();
    b.workspace_size = static_cast<size_t>(ts->backward_workspace_size);
    b.num_threads = num_threads;
    return simdrnn_backward(ts->model_ptr(), &b);
  });
}

// ---- optimiser helpers ---------------------------------------------------------------------
simdrnn_status simdrnn_clip_grad_norm(float* grads, int64_t count, float max_norm, float* norm,
                                      int32_t num_threads) {
  return guarded([&]() -> simdrnn_status {
    if (simdrnn_status st = check_count(count, "count")) return st;
    if (!grads && count > 0) SIMDRNN_FAIL("grads: expected %lld floats, got NULL", static_cast<long long>(count));
    if (!(max_norm > 0.0f)) SIMDRNN_FAIL("max_norm: expected > 0, got %g", static_cast<double>(max_norm));
    if (simdrnn_status st = check_threads(num_threads, "num_threads")) return st;
    const kernels::KernelTable& kt = kernel_table(active_isa());
    // One pass in index order: the norm is bit-identical for any thread count.
    const double total = std::sqrt(kt.sum_squares(grads, count));
    if (norm) *norm = static_cast<float>(total);
    if (total > max_norm) {
      const float factor = static_cast<float>(max_norm / (total + 1e-6));
      parallel_elements(count, num_threads, [&](int64_t b, int64_t e) { kt.scale(grads + b, e - b, factor); });
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
    if (!(lr >= 0.0f)) SIMDRNN_FAIL("lr: expected >= 0, got %g", static_cast<double>(lr));
    if (!(momentum >= 0.0f)) SIMDRNN_FAIL("momentum: expected >= 0, got %g", static_cast<double>(momentum));
    if (!(weight_decay >= 0.0f))
      SIMDRNN_FAIL("weight_decay: expected >= 0, got %g", static_cast<double>(weight_decay));
    if (simdrnn_status st = check_threads(num_threads, "num_threads")) return st;
    const kernels::KernelTable& kt = kernel_table(active_isa());
    parallel_elements(count, num_threads, [&](int64_t b, int64_t e) {
      kt.sgd(params + b, grads + b, velocity + b, e - b, lr, momentum, weight_decay);
    });
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_adam_step(float* params, const float* grads, float* m, float* v, int64_t count,
                                 int64_t step, float lr, float beta1, float beta2, float eps, float weight_decay,
                                 int32_t num_threads) {
  return guarded([&]() -> simdrnn_status {
    if (simdrnn_status st = check_count(count, "count")) return st;
    if (count > 0 && (!params || !grads || !m || !v))
      SIMDRNN_FAIL("params, grads, m, v: expected %lld floats each, got a NULL pointer",
                   static_cast<long long>(count));
    if (step < 1) SIMDRNN_FAIL("step: expected >= 1, got %lld", static_cast<long long>(step));
    if (!(lr >= 0.0f)) SIMDRNN_FAIL("lr: expected >= 0, got %g", static_cast<double>(lr));
    if (!(beta1 >= 0.0f && beta1 < 1.0f)) SIMDRNN_FAIL("beta1: expected [0, 1), got %g", static_cast<double>(beta1));
    if (!(beta2 >= 0.0f && beta2 < 1.0f)) SIMDRNN_FAIL("beta2: expected [0, 1), got %g", static_cast<double>(beta2));
    if (!(eps > 0.0f)) SIMDRNN_FAIL("eps: expected > 0, got %g", static_cast<double>(eps));
    if (!(weight_decay >= 0.0f))
      SIMDRNN_FAIL("weight_decay: expected >= 0, got %g", static_cast<double>(weight_decay));
    if (simdrnn_status st = check_threads(num_threads, "num_threads")) return st;
    const kernels::KernelTable& kt = kernel_table(active_isa());
    const float c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step)));
    const float c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step)));
    parallel_elements(count, num_threads, [&](int64_t b, int64_t e) {
      kt.adam(params + b, grads + b, m + b, v + b, e - b, lr, beta1, beta2, eps, weight_decay, c1, c2);
    });
    return SIMDRNN_OK;
  });
}

}  // extern "C"
