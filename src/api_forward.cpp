// C API: whole-sequence forward calls and step-by-step streams.
#include <cmath>
#include <cstring>
#include <string>

#include "src/api_internal.hpp"
#include "src/engine.hpp"

using namespace simdrnn;

namespace simdrnn {

void init_carried(Carried& c, const simdrnn_model* handle, const Model& m, int64_t batch, int64_t max_steps,
                  const Shapes& s) {
  c.model_handle = reinterpret_cast<uintptr_t>(handle);
  c.model = &m;
  c.batch = batch;
  c.max_steps = max_steps;
  c.state = aligned_floats(s.h);
}

int32_t resolve_threads(int32_t requested) { return requested > 0 ? requested : default_num_threads(); }
simdrnn_status forward_impl(const Model& m, const simdrnn_forward_args* a, void* reserve) {
  Shapes s;
  if (simdrnn_status st = check_shape_args(m, a, &s)) return st;
  const simdrnn_config& c = m.config;
  if (!a->x)
    SIMDRNN_FAIL("args->x: expected a non-NULL input [%s], got NULL",
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
        SIMDRNN_FAIL("args->seq_lens[%lld]: expected 1..seq_len (%lld), got %lld", static_cast<long long>(n),
                     static_cast<long long>(a->seq_len), static_cast<long long>(a->seq_lens[n]));
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
  const Region regions[] = {region("reserve", reserve, reserve_bytes, true),
                            region("args->x", a->x, s.x * F, false),
                            region("args->h0", a->h0, s.h * F, false),
                            region("args->seq_lens", a->seq_lens, a->batch * int64_t{sizeof(int64_t)}, false),
                            region("args->y", a->y, s.y * F, true),
                            region("args->h_n", a->h_n, s.h * F, true, "args->h0"),
                            region("args->out", a->out, s.out * F, true),
                            region("args->workspace", need ? a->workspace : nullptr, need, true)};
  if (simdrnn_status st = check_overlaps(regions)) return st;
  if (reserve) {  // forward_training: layer outputs and masks go to the reserve
    TrainingSink sink;
    training_reserve_layout(m, a->seq_len, a->batch, reserve, &sink);
    const ReserveHeader header{kReserveMagic,         m.id, a->seq_len, a->batch, raw_enum(a->layout),
                               a->seq_lens != nullptr};
    std::memcpy(engine::align64(reserve), &header, sizeof header);
    // Backward needs h0 as this call saw it; h_n == h0 overwrites it in place.
    const size_t h0_bytes =
        static_cast<size_t>(m.config.num_layers * m.directions * a->batch * m.config.hidden_size) *
        sizeof(float);
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
void reset_state(Carried& c, const float* h0) {
  if (h0)
    std::memmove(c.state.get(), h0, c.state_bytes());
  else
    std::memset(c.state.get(), 0, c.state_bytes());
}

}  // namespace simdrnn

extern "C" {

simdrnn_status simdrnn_forward_workspace_size(const simdrnn_model* model, const simdrnn_forward_args* args,
                                              size_t* bytes) {
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
}  // extern "C"
