// Truncated-BPTT sessions of LSTM and GRU models: the session carries h and, for an LSTM, the cell
// state c across chunks. Chunks trained through simdrnn_train_session equal, bit for bit, the same
// chunks done by hand with forward_training / backward and h_n -> h0, c_n -> c0 chaining (each
// chunk's backward stopping at its start: no dh_n, no dc_n), on every ISA at 1 and 2 threads, for
// LSTM (plain, peepholes with projection) and both GRUs; the gradients of a chunk are those of the
// reference started from the carried state; simdrnn_train_session_reset / _state set and read c
// as well as h; a session restarted from a read-back state continues the sequence exactly.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/error_checks.hpp"
#include "support/gated_training.hpp"
#include "support/gated_util.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

struct SessionDeleter {
  void operator()(simdrnn_train_session* s) const { simdrnn_train_session_destroy(s); }
};
using SessionPtr = std::unique_ptr<simdrnn_train_session, SessionDeleter>;

const CellVariant& variant_named(const std::string& name) {
  for (const CellVariant& v : gated_variants())
    if (name == v.name) return v;
  ADD_FAILURE() << "no variant " << name;
  return gated_variants().front();
}

constexpr int64_t kN = 3, kL = 2, kO = 5;

// A unidirectional two-layer problem with an output layer: its weights make the model, its
// shapes size the buffers (x, dy, ... of each chunk are drawn per chunk).
GatedProblem session_problem(const CellVariant& variant, int64_t steps) {
  GatedTrainCase c;
  c.variant = &variant;
  c.input = 7;
  c.hidden = quick_mode() ? 9 : 17;
  c.steps = steps;
  c.batch = kN;
  c.layers = kL;
  c.output = kO;
  c.h0 = c.c0 = true;
  return make_gated_problem(c, 300);
}

SessionPtr make_session(simdrnn_model* model, int64_t max_steps) {
  simdrnn_train_session* raw = nullptr;
  const simdrnn_status status = simdrnn_train_session_create(model, kN, max_steps, &raw);
  EXPECT_EQ(status, SIMDRNN_OK) << simdrnn_status_name(status) << ": " << simdrnn_last_error();
  return SessionPtr(raw);
}

// One chunk done by hand: forward_training from (h, c), backward without dh_n / dc_n; h and c
// become the chunk's h_n and c_n.
struct Chunk {
  std::vector<float> y, out, dx, grads;
};
Chunk by_hand(simdrnn_model* model, const GatedProblem& p, int64_t steps, const std::vector<float>& x,
              const std::vector<float>& dy, const std::vector<float>& dout, std::vector<float>* h,
              std::vector<float>* c, int32_t threads) {
  const int64_t H_out = p.H_out();
  Chunk r;
  r.y.assign(static_cast<size_t>(steps * kN * H_out), NAN);
  r.out.assign(static_cast<size_t>(steps * kN * kO), NAN);
  r.dx.assign(x.size(), NAN);
  r.grads.assign(static_cast<size_t>(p.num_params()), NAN);
  std::vector<float> h_next(h->size()), c_next(c->size());
  simdrnn_forward_args a{};
  a.seq_len = steps;
  a.batch = kN;
  a.x = x.data();
  a.h0 = h->data();
  a.h_n = h_next.data();
  a.c0 = c->empty() ? nullptr : c->data();
  a.c_n = c->empty() ? nullptr : c_next.data();
  a.y = r.y.data();
  a.out = r.out.data();
  a.num_threads = threads;
  size_t ws = 0, rs = 0, bws = 0;
  EXPECT_EQ(SIMDRNN_OK, simdrnn_forward_workspace_size(model, &a, &ws));
  EXPECT_EQ(SIMDRNN_OK, simdrnn_training_reserve_size(model, &a, &rs)) << simdrnn_last_error();
  EXPECT_EQ(SIMDRNN_OK, simdrnn_backward_workspace_size(model, &a, &bws));
  std::vector<unsigned char> wsb(ws + 1), reserve(rs), bw(bws);
  a.workspace = wsb.data();
  a.workspace_size = wsb.size();
  EXPECT_EQ(SIMDRNN_OK, simdrnn_forward_training(model, &a, reserve.data(), reserve.size()))
      << simdrnn_last_error();
  simdrnn_backward_args b{};
  b.forward = &a;
  b.reserve = reserve.data();
  b.reserve_size = reserve.size();
  b.dy = dy.data();
  b.dout = dout.data();
  b.dx = r.dx.data();
  b.grads = r.grads.data();
  b.workspace = bw.data();
  b.workspace_size = bw.size();
  b.num_threads = threads;
  EXPECT_EQ(SIMDRNN_OK, simdrnn_backward(model, &b)) << simdrnn_last_error();
  *h = h_next;
  *c = c_next;
  return r;
}

class GatedTrainSession : public ::testing::TestWithParam<const char*> {};

TEST_P(GatedTrainSession, ChunksEqualManualTruncatedBptt) {
  const CellVariant& variant = variant_named(GetParam());
  const std::vector<int64_t> chunks =
      quick_mode() ? std::vector<int64_t>{3, 2} : std::vector<int64_t>{4, 4, 2};
  const GatedProblem p = session_problem(variant, 4);
  const bool lstm = p.c.lstm();
  const int64_t H = p.c.hidden, H_out = p.H_out();
  int64_t num_params = 0;
  for (simdrnn_isa isa : available_isas())
    for (int32_t threads : {1, 2}) {
      SCOPED_TRACE(std::string(simdrnn_isa_name(isa)) + " threads " + std::to_string(threads));
      IsaCap cap(isa);
      std::string error;
      ModelPtr model(create_model(p.config, p.ref, &error));
      ASSERT_NE(model, nullptr) << error;
      ASSERT_EQ(SIMDRNN_OK, simdrnn_model_num_params(model.get(), &num_params));
      SessionPtr session = make_session(model.get(), 4);
      if (!session) return;
      std::vector<float> h = random_vector(static_cast<size_t>(kL * kN * H_out), 5);
      std::vector<float> c = lstm ? random_vector(static_cast<size_t>(kL * kN * H), 6) : std::vector<float>();
      ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_reset(session.get(), h.data(), lstm ? c.data() : nullptr))
          << simdrnn_last_error();
      uint32_t seed = 100;
      for (int64_t steps : chunks) {
        SCOPED_TRACE("chunk of " + std::to_string(steps));
        const auto x = random_vector(static_cast<size_t>(steps * kN * p.c.input), seed++);
        const auto dy = random_vector(static_cast<size_t>(steps * kN * H_out), seed++);
        const auto dout = random_vector(static_cast<size_t>(steps * kN * kO), seed++);
        std::vector<float> y(static_cast<size_t>(steps * kN * H_out), NAN),
            out(static_cast<size_t>(steps * kN * kO), NAN), dx(x.size(), NAN),
            grads(static_cast<size_t>(num_params), NAN);
        ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(session.get(), steps, x.data(), y.data(),
                                                            out.data(), threads))
            << simdrnn_last_error();
        ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_backward(session.get(), dy.data(), dout.data(), dx.data(),
                                                             grads.data(), 0, threads))
            << simdrnn_last_error();
        std::vector<float> h_session(h.size(), NAN), c_session(c.size(), NAN);
        ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_state(session.get(), h_session.data(),
                                                          lstm ? c_session.data() : nullptr));
        const Chunk want = by_hand(model.get(), p, steps, x, dy, dout, &h, &c, threads);
        EXPECT_TRUE(bit_equal(y, want.y)) << "y";
        EXPECT_TRUE(bit_equal(out, want.out)) << "out";
        EXPECT_TRUE(bit_equal(dx, want.dx)) << "dx";
        EXPECT_TRUE(bit_equal(grads, want.grads)) << "grads";
        EXPECT_TRUE(bit_equal(h_session, h)) << "carried h";
        EXPECT_TRUE(bit_equal(c_session, c)) << "carried c";
      }
    }
}

// A chunk's gradients are the reference's for a sequence that starts from the carried state
// (h0, c0 = the state before the chunk) and stops there: no gradient into earlier chunks.
TEST_P(GatedTrainSession, ChunkGradientsAreTheReferences) {
  const CellVariant& variant = variant_named(GetParam());
  const int64_t steps = 3;
  GatedProblem p = session_problem(variant, steps);
  const bool lstm = p.c.lstm();
  std::string error;
  ModelPtr model(create_model(p.config, p.ref, &error));
  ASSERT_NE(model, nullptr) << error;
  SessionPtr session = make_session(model.get(), steps);
  if (!session) return;
  ASSERT_EQ(SIMDRNN_OK,
            simdrnn_train_session_reset(session.get(), p.h0.data(), lstm ? p.c0.data() : nullptr));
  // A first chunk moves the state on; the second is checked.
  const auto x1 = random_vector(static_cast<size_t>(p.x_count()), 77);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(session.get(), steps, x1.data(), nullptr, nullptr, 1))
      << simdrnn_last_error();
  ASSERT_EQ(SIMDRNN_OK,
            simdrnn_train_session_state(session.get(), p.h0.data(), lstm ? p.c0.data() : nullptr));
  p.whn.clear();
  p.wcn.clear();
  std::vector<float> dx(p.x.size(), NAN), grads(static_cast<size_t>(p.num_params()), NAN);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(session.get(), steps, p.x.data(), nullptr, nullptr, 2));
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_backward(session.get(), p.wy.data(), p.wout.data(), dx.data(),
                                                       grads.data(), 0, 2))
      << simdrnn_last_error();
  FloatGrads got;
  got.grads = grads;
  got.dx = dx;
  const GradCheck check = compare_all(p, expected_from_reference(p), got, gated_grad_rel(p));
  EXPECT_TRUE(check.ok()) << check.message;
}

// reset and state set and read c as well as h: exactly what was set before any chunk; NULL resets
// to zeros; c may be NULL when reading; a session reset to another session's state after a chunk
// continues that sequence bit for bit.
TEST_P(GatedTrainSession, ResetAndStateCarryTheCellState) {
  const CellVariant& variant = variant_named(GetParam());
  const GatedProblem p = session_problem(variant, 3);
  const bool lstm = p.c.lstm();
  std::string error;
  ModelPtr model(create_model(p.config, p.ref, &error));
  ASSERT_NE(model, nullptr) << error;
  SessionPtr a = make_session(model.get(), 3);
  if (!a) return;
  const int64_t h_count = kL * kN * p.H_out(), c_count = lstm ? kL * kN * p.c.hidden : 0;
  std::vector<float> h(static_cast<size_t>(h_count), NAN), c(static_cast<size_t>(c_count), NAN);
  // The state starts at zero.
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_state(a.get(), h.data(), lstm ? c.data() : nullptr));
  for (float v : h) ASSERT_EQ(v, 0.0f);
  for (float v : c) ASSERT_EQ(v, 0.0f);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_reset(a.get(), p.h0.data(), lstm ? p.c0.data() : nullptr));
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_state(a.get(), h.data(), lstm ? c.data() : nullptr));
  EXPECT_TRUE(bit_equal(h, p.h0));
  EXPECT_TRUE(bit_equal(c, p.c0));
  if (lstm) {
    // h alone may be read; c alone reset (h NULL: zeros).
    std::vector<float> h_only(h.size(), NAN);
    ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_state(a.get(), h_only.data(), nullptr));
    EXPECT_TRUE(bit_equal(h_only, p.h0));
    ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_reset(a.get(), nullptr, p.c0.data()));
    ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_state(a.get(), h.data(), c.data()));
    for (float v : h) ASSERT_EQ(v, 0.0f);
    EXPECT_TRUE(bit_equal(c, p.c0));
    ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_reset(a.get(), p.h0.data(), nullptr));
    ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_state(a.get(), h.data(), c.data()));
    EXPECT_TRUE(bit_equal(h, p.h0));
    for (float v : c) ASSERT_EQ(v, 0.0f) << "reset with c0 NULL must zero the cell state";
    ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_reset(a.get(), p.h0.data(), p.c0.data()));
  }
  // Chunk 1 on a, state read back into b; chunk 2 on both: identical.
  const auto x1 = random_vector(static_cast<size_t>(p.x_count()), 81), x2 = random_vector(x1.size(), 82);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(a.get(), 3, x1.data(), nullptr, nullptr, 1))
      << simdrnn_last_error();
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_state(a.get(), h.data(), lstm ? c.data() : nullptr));
  if (lstm) {
    EXPECT_FALSE(bit_equal(c, p.c0)) << "the cell state did not move";
  }
  SessionPtr b = make_session(model.get(), 3);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_reset(b.get(), h.data(), lstm ? c.data() : nullptr));
  std::vector<float> ya(static_cast<size_t>(p.y_count()), NAN), yb(ya.size(), NAN);
  std::vector<float> ga(static_cast<size_t>(p.num_params()), NAN), gb(ga.size(), NAN);
  const auto dy = random_vector(ya.size(), 83);
  for (auto [s, y, g] : {std::make_tuple(a.get(), &ya, &ga), std::make_tuple(b.get(), &yb, &gb)}) {
    ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(s, 3, x2.data(), y->data(), nullptr, 1));
    ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_backward(s, dy.data(), nullptr, nullptr, g->data(), 0, 1))
        << simdrnn_last_error();
  }
  EXPECT_TRUE(bit_equal(ya, yb)) << "y of a session restarted from the read-back state";
  EXPECT_TRUE(bit_equal(ga, gb)) << "gradients of a session restarted from the read-back state";
  // Without c the restart would differ (the state is more than h).
  if (lstm) {
    std::vector<float> yc(ya.size(), NAN);
    SessionPtr d = make_session(model.get(), 3);
    ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_reset(d.get(), h.data(), nullptr));
    ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(d.get(), 3, x2.data(), yc.data(), nullptr, 1));
    EXPECT_FALSE(bit_equal(ya, yc));
  }
}

INSTANTIATE_TEST_SUITE_P(Cells, GatedTrainSession,
                         ::testing::Values("lstm", "lstm_peephole_proj", "gru", "gru_reset_first"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

// Sessions are unidirectional: a bidirectional LSTM or GRU is UNSUPPORTED, naming the model.
TEST(GatedTrainSessionErrors, BidirectionalIsUnsupported) {
  for (const char* name : {"lstm", "gru"}) {
    GatedTrainCase c;
    c.variant = &variant_named(name);
    c.bidirectional = true;
    const GatedProblem p = make_gated_problem(c, 310);
    std::string error;
    ModelPtr model(create_model(p.config, p.ref, &error));
    ASSERT_NE(model, nullptr) << error;
    simdrnn_train_session* raw = nullptr;
    EXPECT_EQ(SIMDRNN_UNSUPPORTED, simdrnn_train_session_create(model.get(), 2, 3, &raw)) << name;
    EXPECT_TRUE(LastErrorNamesAny({"bidirectional"}));
    EXPECT_EQ(raw, nullptr);
  }
}

}  // namespace
}  // namespace simdrnn_test
