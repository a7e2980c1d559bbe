// C API: whole-sequence forward calls and step-by-step streams.
#include <cmath>
#include <cstring>
#include <string>

#include "src/api_internal.hpp"
#include "src/engine.hpp"

using namespace simdrnn;

namespace simdrnn {
inline namespace lib {

void init_carried(Carried& c, const simdrnn_model* handle, const Model& m, int64_t batch, int64_t max_steps,
                  const Shapes& s) {
  c.model_handle = reinterpret_cast<uintptr_t>(handle);
  c.model = &m;
  c.batch = batch;
  c.max_steps = max_steps;
  c.state = aligned_floats(s.h);
  if (s.c > 0) c.cell_state = aligned_floats(s.c);
}

int32_t resolve_threads(int32_t requested) { return requested > 0 ? requested : default_num_threads(); }
simdrnn_status check_seq_lens(const int64_t* lens, int64_t batch, int64_t seq_len, const char* name) {
  if (lens)
    for (int64_t n = 0; n < batch; ++n)
      if (lens[n] < 1 || lens[n] > seq_len)
        SIMDRNN_FAIL("%s[%lld]: expected 1..seq_len (%lld), got %lld", name, static_cast<long long>(n),
                     static_cast<long long>(seq_len), static_cast<long long>(lens[n]));
  return SIMDRNN_OK;
}

simdrnn_status forward_impl(const Model& m, const simdrnn_forward_args* a, void* reserve,
                            const char* call_name) {
  Shapes s;
  if (simdrnn_status st = check_shape_args(m, a, &s)) return st;
  const simdrnn_config& c = m.config;
  if (!a->x)
    SIMDRNN_FAIL("args->x: expected a non-NULL input [%s], got NULL",
                 a->layout == SIMDRNN_TIME_MAJOR ? "T, N, I" : "N, T, I");
  if (!a->y && !a->h_n && !a->out && !a->c_n)
    SIMDRNN_FAIL("args->y, args->h_n, args->c_n, args->out: expected at least one output, got all NULL");
  if (c.output_size == 0 && a->out)
    SIMDRNN_FAIL("args->out: expected NULL (the model has no output layer, output_size 0), got %p",
                 static_cast<void*>(a->out));
  if (simdrnn_status st = check_threads(a->num_threads, "args->num_threads")) return st;
  if (s.c == 0 && (a->c0 || a->c_n))
    SIMDRNN_FAIL("%s: expected NULL (only an LSTM has a cell state), got %p",
                 a->c0 ? "args->c0" : "args->c_n",
                 a->c0 ? static_cast<const void*>(a->c0) : static_cast<const void*>(a->c_n));
  if (static_cast<uint64_t>(s.workspace) > a->workspace_size)
    SIMDRNN_FAIL("args->workspace_size: expected >= %lld bytes (simdrnn_forward_workspace_size), got %zu",
                 static_cast<long long>(s.workspace), a->workspace_size);
  if (s.workspace > 0 && !a->workspace)
    SIMDRNN_FAIL("args->workspace: expected a buffer of %lld bytes, got NULL",
                 static_cast<long long>(s.workspace));
  const Region regions[] = {
      bytes_region("reserve", reserve, reserve ? s.reserve : 0, true),
      region("args->x", a->x, s.x, false),
      region("args->h0", a->h0, s.h, false),
      region("args->seq_lens", a->seq_lens, a->batch, false),
      region("args->y", a->y, s.y, true),
      region("args->h_n", a->h_n, s.h, true, "args->h0"),
      region("args->c0", a->c0, s.c, false),
      region("args->c_n", a->c_n, s.c, true, "args->c0"),
      region("args->out", a->out, s.out, true),
      bytes_region("args->workspace", s.workspace ? a->workspace : nullptr, s.workspace, true)};
  if (simdrnn_status st = check_regions(regions)) return st;
  if (simdrnn_status st = check_seq_lens(a->seq_lens, a->batch, a->seq_len, "args->seq_lens")) return st;
  if (!reserve) {
    run_forward(m, *a, resolve_threads(a->num_threads), nullptr, call_name);
    return SIMDRNN_OK;
  }
  // forward_training: stamp the reserve with what backward must match, keep
  // h0 as this call saw it (h_n == h0 overwrites it in place) and the
  // lengths; layer outputs and masks go to the reserve.
  TrainingSink sink;
  training_reserve_layout(m, a->seq_len, a->batch, reserve, &sink);
  *sink.header = ReserveHeader{kReserveMagic,       m.id,
                               a->seq_len,          a->batch,
                               raw_enum(a->layout), a->seq_lens != nullptr,
                               a->h0 != nullptr,    a->c0 != nullptr};
  const size_t lens_bytes = static_cast<size_t>(a->batch) * sizeof(int64_t);
  if (a->seq_lens)
    std::memcpy(sink.lens, a->seq_lens, lens_bytes);
  else
    std::memset(sink.lens, 0, lens_bytes);
  auto keep = [](float* dst, const float* src, int64_t count) {
    if (src)
      std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float));
    else
      std::memset(dst, 0, static_cast<size_t>(count) * sizeof(float));
  };
  keep(sink.h0, a->h0, s.h);
  if (sink.c0) keep(sink.c0, a->c0, s.c);
  run_forward(m, *a, resolve_threads(a->num_threads), &sink, call_name);
  return SIMDRNN_OK;
}

simdrnn_status copy_state(const Carried& c, float* h, float* cell) {
  if (!h) SIMDRNN_FAIL("h: expected a [L, N, H] buffer, got NULL");
  if (cell && !c.cell_state) SIMDRNN_FAIL("c: expected NULL (only an LSTM has a cell state), got %p", cell);
  const Region regions[] = {region("h", h, c.state_count(), true), region("c", cell, c.cell_count(), true)};
  if (simdrnn_status st = check_regions(regions)) return st;
  std::memcpy(h, c.state.get(), static_cast<size_t>(c.state_count()) * sizeof(float));
  if (cell) std::memcpy(cell, c.cell_state.get(), static_cast<size_t>(c.cell_count()) * sizeof(float));
  return SIMDRNN_OK;
}

simdrnn_status reset_state(Carried& c, const float* h0, const float* c0) {
  if (c0 && !c.cell_state) SIMDRNN_FAIL("c0: expected NULL (only an LSTM has a cell state), got %p", c0);
  const Region regions[] = {region("h0", h0, c.state_count(), false),
                            region("c0", c0, c.cell_count(), false)};
  if (simdrnn_status st = check_regions(regions)) return st;
  auto set = [](float* dst, const float* src, int64_t count) {
    if (src)
      std::memmove(dst, src, static_cast<size_t>(count) * sizeof(float));
    else
      std::memset(dst, 0, static_cast<size_t>(count) * sizeof(float));
  };
  set(c.state.get(), h0, c.state_count());
  if (c.cell_state) set(c.cell_state.get(), c0, c.cell_count());
  return SIMDRNN_OK;
}

}  // namespace lib
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
    *bytes = static_cast<size_t>(s.workspace);
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_forward_sizes(const simdrnn_model* model, const simdrnn_forward_args* args,
                                     simdrnn_sizes* sizes) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    Shapes s;
    if (simdrnn_status st = check_shape_args(*m, args, &s)) return st;
    if (!sizes) SIMDRNN_FAIL("sizes: expected a non-NULL simdrnn_sizes* to fill, got NULL");
    simdrnn_sizes z{};
    z.x = s.x, z.y = s.y, z.h = s.h, z.c = s.c, z.out = s.out, z.seq_lens = args->batch;
    z.params = static_cast<int64_t>(m->params.size());
    z.workspace = static_cast<size_t>(s.workspace);
    z.training_reserve = static_cast<size_t>(s.reserve);
    z.backward_workspace = static_cast<size_t>(s.backward_workspace);
    *sizes = z;
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_forward(const simdrnn_model* model, const simdrnn_forward_args* args) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    return forward_impl(*m, args, nullptr, "forward");
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
    std::unique_ptr<Stream> st;
    try {
      st = std::make_unique<Stream>();
      init_carried(*st, model, *m, batch, max_steps, s);
      st->workspace_size = s.workspace;
      st->workspace = aligned_floats(s.workspace / int64_t{sizeof(float)} + 1);
    } catch (const std::bad_alloc&) {
      return fail(SIMDRNN_OUT_OF_MEMORY,
                  "batch, max_steps: could not allocate %lld bytes for the stream's state and workspace "
                  "(batch %lld, max_steps %lld)",
                  static_cast<long long>(s.h * 4 + s.workspace), static_cast<long long>(batch),
                  static_cast<long long>(max_steps));
    }
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

simdrnn_status simdrnn_stream_reset(simdrnn_stream* stream, const float* h0, const float* c0) {
  return guarded([&]() -> simdrnn_status {
    Stream* st = live_stream(stream);
    if (!st) return SIMDRNN_INVALID_ARGUMENT;
    return reset_state(*st, h0, c0);
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
    a.c0 = st->cell_state.get();
    a.c_n = st->cell_state.get();
    a.y = y;
    a.out = out;
    a.workspace = st->workspace.get();
    a.workspace_size = static_cast<size_t>(st->workspace_size);
    a.num_threads = num_threads;
    return forward_impl(*st->model, &a, nullptr, "stream_step");
  });
}

simdrnn_status simdrnn_stream_state(const simdrnn_stream* stream, float* h, float* c) {
  return guarded([&]() -> simdrnn_status {
    Stream* st = live_stream(stream);
    if (!st) return SIMDRNN_INVALID_ARGUMENT;
    if (simdrnn_status s = copy_state(*st, h, c)) return s;
    return SIMDRNN_OK;
  });
}
}  // extern "C"
