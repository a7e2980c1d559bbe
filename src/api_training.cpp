// C API: forward_training, backward and truncated-BPTT sessions.
#include <cmath>
#include <cstring>
#include <string>

#include "src/api_internal.hpp"
#include "src/engine.hpp"

using namespace simdrnn;

namespace {

simdrnn_status forward_training_impl(const simdrnn_model* model, const simdrnn_forward_args* args,
                                     void* reserve, size_t reserve_size, const char* call_name) {
  const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
  if (!m) return SIMDRNN_INVALID_ARGUMENT;
  if (simdrnn_status st = check_training_model(*m)) return st;
  if (!m->training_ready.load(std::memory_order_acquire))
    SIMDRNN_FAIL("model: expected a model prepared by simdrnn_training_reserve_size, got one that was not");
  Shapes s;
  if (simdrnn_status st = check_shape_args(*m, args, &s)) return st;
  const int64_t need = s.reserve;
  if (!reserve)
    SIMDRNN_FAIL("reserve: expected a buffer of %lld bytes, got NULL", static_cast<long long>(need));
  if (static_cast<uint64_t>(need) > reserve_size)
    SIMDRNN_FAIL("reserve_size: expected >= %lld bytes (simdrnn_training_reserve_size), got %zu",
                 static_cast<long long>(need), reserve_size);
  return forward_impl(*m, args, reserve, call_name);  // validates the rest, reserve overlaps included
}

simdrnn_status backward_impl(const simdrnn_model* model, const simdrnn_backward_args* args,
                             const char* call_name) {
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
  if (s.c == 0 && (args->dc_n || args->dc0))
    SIMDRNN_FAIL("%s: expected NULL (only an LSTM has a cell state), got %p",
                 args->dc_n ? "args->dc_n" : "args->dc0",
                 args->dc_n ? static_cast<const void*>(args->dc_n) : static_cast<const void*>(args->dc0));
  if (!args->dx && !args->dh0 && !args->grads && !args->dc0)
    SIMDRNN_FAIL("args->dx, args->dh0, args->dc0, args->grads: expected at least one output, got all NULL");
  const int64_t need = s.reserve;
  if (!args->reserve || static_cast<uint64_t>(need) > args->reserve_size)
    SIMDRNN_FAIL(
        "args->reserve: expected the %lld-byte reserve of a simdrnn_forward_training call, got %p "
        "with %zu bytes",
        static_cast<long long>(need), args->reserve, args->reserve_size);
  if (m->config.output_size == 0 && args->dout)
    SIMDRNN_FAIL("args->dout: expected NULL (the model has no output layer), got %p",
                 static_cast<const void*>(args->dout));
  if (args->accumulate != 0 && args->accumulate != 1)
    SIMDRNN_FAIL("args->accumulate: expected 0 or 1, got %d", static_cast<int>(args->accumulate));
  if (simdrnn_status st = check_threads(args->num_threads, "args->num_threads")) return st;
  const int64_t ws = s.backward_workspace;
  if (!args->workspace || static_cast<uint64_t>(ws) > args->workspace_size)
    SIMDRNN_FAIL("args->workspace: expected %lld bytes (simdrnn_backward_workspace_size), got %p with %zu",
                 static_cast<long long>(ws), args->workspace, args->workspace_size);
  const int64_t np = static_cast<int64_t>(m->params.size());
  const Region regions[] = {region("args->forward->x", f->x, s.x, false),
                            region("args->forward->h0", f->h0, s.h, false),
                            region("args->forward->seq_lens", f->seq_lens, f->batch, false),
                            bytes_region("args->reserve", args->reserve, need, false),
                            region("args->dy", args->dy, s.y, false),
                            region("args->dout", args->dout, s.out, false),
                            region("args->dh_n", args->dh_n, s.h, false),
                            region("args->dx", args->dx, s.x, true),
                            region("args->dh0", args->dh0, s.h, true),
                            region("args->forward->c0", f->c0, s.c, false),
                            region("args->dc_n", args->dc_n, s.c, false),
                            region("args->dc0", args->dc0, s.c, true),
                            region("args->grads", args->grads, np, true),
                            bytes_region("args->workspace", args->workspace, ws, true)};
  if (simdrnn_status st = check_regions(regions)) return st;
  if (simdrnn_status st = check_seq_lens(f->seq_lens, f->batch, f->seq_len, "args->forward->seq_lens"))
    return st;
  TrainingSink saved;
  training_reserve_layout(*m, f->seq_len, f->batch, const_cast<void*>(args->reserve), &saved);
  const ReserveHeader& h = *saved.header;
  if (h.magic != kReserveMagic)
    SIMDRNN_FAIL("args->reserve: expected one filled by simdrnn_forward_training, got one never filled");
  if (h.model_id != m->id)
    SIMDRNN_FAIL(
        "args->reserve: expected one filled by simdrnn_forward_training with this model and its current "
        "parameters, got one from another model or from before simdrnn_model_set_params");
  if (h.seq_len != f->seq_len || h.batch != f->batch || h.layout != raw_enum(f->layout))
    SIMDRNN_FAIL(
        "args->forward, args->reserve: expected the seq_len %lld, batch %lld and layout %lld of the "
        "forward_training call that filled the reserve, got seq_len %lld, batch %lld and layout %d",
        static_cast<long long>(h.seq_len), static_cast<long long>(h.batch), static_cast<long long>(h.layout),
        static_cast<long long>(f->seq_len), static_cast<long long>(f->batch), raw_enum(f->layout));
  if (h.has_c0 != (f->c0 != nullptr))
    SIMDRNN_FAIL(
        "args->forward->c0: expected %s as in the forward_training call that filled args->reserve, "
        "got %s",
        h.has_c0 ? "a c0" : "NULL", f->c0 ? "a c0" : "NULL");
  if (h.has_h0 != (f->h0 != nullptr))
    SIMDRNN_FAIL(
        "args->forward->h0: expected %s as in the forward_training call that filled args->reserve, "
        "got %s",
        h.has_h0 ? "an h0" : "NULL", f->h0 ? "an h0" : "NULL");
  if (h.has_lens != (f->seq_lens != nullptr) ||
      (f->seq_lens &&
       std::memcmp(saved.lens, f->seq_lens, static_cast<size_t>(f->batch) * sizeof(int64_t)) != 0))
    SIMDRNN_FAIL(
        "args->forward->seq_lens: expected the lengths of the forward_training call that filled "
        "args->reserve, got %s",
        f->seq_lens ? (h.has_lens ? "different lengths" : "lengths where it had none")
                    : "NULL where it had lengths");
  run_backward(*m, *args, resolve_threads(args->num_threads), call_name);
  return SIMDRNN_OK;
}

}  // namespace

extern "C" {

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
    *bytes = static_cast<size_t>(s.reserve);
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_forward_training(const simdrnn_model* model, const simdrnn_forward_args* args,
                                        void* reserve, size_t reserve_size) {
  return guarded(
      [&] { return forward_training_impl(model, args, reserve, reserve_size, "forward_training"); });
}

simdrnn_status simdrnn_backward_workspace_size(const simdrnn_model* model,
                                               const simdrnn_forward_args* forward, size_t* bytes) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    Shapes s;
    if (simdrnn_status st = check_shape_args(*m, forward, &s)) return st;
    if (!bytes) SIMDRNN_FAIL("bytes: expected a non-NULL size_t* to fill, got NULL");
    *bytes = static_cast<size_t>(s.backward_workspace);
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_backward(const simdrnn_model* model, const simdrnn_backward_args* args) {
  return guarded([&] { return backward_impl(model, args, "backward"); });
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
    std::unique_ptr<TrainSession> ts;
    try {
      ts = std::make_unique<TrainSession>();
      init_carried(*ts, model, *m, batch, max_steps, s);
      ts->reserve_size = s.reserve;
      ts->forward_workspace_size = s.workspace;
      ts->backward_workspace_size = s.backward_workspace;
      ts->reserve = aligned_floats(ts->reserve_size / 4 + 1);
      ts->forward_workspace = aligned_floats(ts->forward_workspace_size / 4 + 1);
      ts->backward_workspace = aligned_floats(ts->backward_workspace_size / 4 + 1);
    } catch (const std::bad_alloc&) {
      return fail(SIMDRNN_OUT_OF_MEMORY,
                  "batch, max_steps: could not allocate %lld bytes for the session's state, reserve and "
                  "workspaces (batch %lld, max_steps %lld)",
                  static_cast<long long>(s.h * 4 + s.reserve + s.workspace + s.backward_workspace),
                  static_cast<long long>(batch), static_cast<long long>(max_steps));
    }
    const uint64_t h = session_table().insert(std::move(ts));
    if (!h) return fail(SIMDRNN_OUT_OF_MEMORY, "session: too many live sessions");
    *session = reinterpret_cast<simdrnn_train_session*>(static_cast<uintptr_t>(h));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_train_session_destroy(simdrnn_train_session* session) {
  return guarded(
      [&] { return destroy_handle(session_table(), session, "session", "simdrnn_train_session"); });
}

simdrnn_status simdrnn_train_session_reset(simdrnn_train_session* session, const float* h0, const float* c0) {
  return guarded([&]() -> simdrnn_status {
    TrainSession* ts = live_session(session);
    if (!ts) return SIMDRNN_INVALID_ARGUMENT;
    if (simdrnn_status st = reset_state(*ts, h0, c0)) return st;
    ts->has_forward = false;
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_train_session_state(const simdrnn_train_session* session, float* h, float* c) {
  return guarded([&]() -> simdrnn_status {
    TrainSession* ts = live_session(session);
    if (!ts) return SIMDRNN_INVALID_ARGUMENT;
    if (simdrnn_status s = copy_state(*ts, h, c)) return s;
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
    a.h0 = ts->state.get();   // the reserve keeps its own copy for backward
    a.h_n = ts->state.get();  // the chunk's last state is carried on
    a.c0 = ts->cell_state.get();
    a.c_n = ts->cell_state.get();
    a.y = y;
    a.out = out;
    a.workspace = ts->forward_workspace.get();
    a.workspace_size = static_cast<size_t>(ts->forward_workspace_size);
    a.num_threads = num_threads;
    const simdrnn_status st =
        forward_training_impl(ts->model_ptr(), &a, ts->reserve.get(), static_cast<size_t>(ts->reserve_size),
                              "train_session_forward");
    if (st != SIMDRNN_OK) return st;
    ts->last = a;
    ts->has_forward = true;
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_train_session_backward(simdrnn_train_session* session, const float* dy,
                                              const float* dout, float* dx, float* grads, int32_t accumulate,
                                              int32_t num_threads) {
  return guarded([&]() -> simdrnn_status {
    TrainSession* ts = live_session(session);
    if (!ts) return SIMDRNN_INVALID_ARGUMENT;
    if (!ts->has_forward)
      SIMDRNN_FAIL("session: expected a simdrnn_train_session_forward chunk before backward, got none");
    TrainingSink saved;
    training_reserve_layout(*ts->model, ts->last.seq_len, ts->last.batch, ts->reserve.get(), &saved);
    if (saved.header->model_id != ts->model->id)
      SIMDRNN_FAIL(
          "session: its last forward chunk ran before simdrnn_model_set_params changed the parameters; run "
          "simdrnn_train_session_forward again before backward");
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
    return backward_impl(ts->model_ptr(), &b, "train_session_backward");
  });
}

}  // extern "C"
