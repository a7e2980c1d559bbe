// The truncated-BPTT session: chunks trained through simdrnn_train_session
// equal, bit for bit, the same chunks done by hand with forward_training /
// backward and h_n -> h0 chaining (each chunk's backward stopping at its
// start), on every ISA at 1 and 2 threads; and its bad-input errors.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "support/error_checks.hpp"
#include "support/test_util.hpp"

namespace {

using simdrnn_test::random_vector;

constexpr int64_t kI = 7, kH = 33, kO = 5, kN = 3, kL = 2;

simdrnn_model* make_model(int32_t bidirectional = 0) {
  simdrnn_config c = simdrnn_config_default();
  c.input_size = kI, c.hidden_size = kH, c.num_layers = kL, c.output_size = kO, c.bidirectional = bidirectional;
  simdrnn_weights* w = nullptr;
  EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_create(&c, &w));
  for (int64_t l = 0; l < kL; ++l)
    for (int d = 0; d <= bidirectional; ++d) {
      const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
      const int64_t in = l == 0 ? kI : kH * (1 + bidirectional);
      const auto wih = random_vector(kH * in, 11 + l, -0.4f, 0.4f), whh = random_vector(kH * kH, 21 + l, -0.3f, 0.3f);
      const auto b = random_vector(kH, 31 + l);
      EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, ("weight_ih" + sfx).c_str(), wih.data(), kH * in));
      EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, ("weight_hh" + sfx).c_str(), whh.data(), kH * kH));
      EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, ("bias_ih" + sfx).c_str(), b.data(), kH));
    }
  const auto why = random_vector(kO * kH * (1 + bidirectional), 41);
  EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, "weight_hy", why.data(), static_cast<int64_t>(why.size())));
  simdrnn_model* m = nullptr;
  EXPECT_EQ(SIMDRNN_OK, simdrnn_model_create(w, &m)) << simdrnn_last_error();
  simdrnn_weights_destroy(w);
  return m;
}

bool same(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(TrainSession, ChunksEqualManualTruncatedBptt) {
  const int64_t chunks[] = {4, 4, 2};
  for (simdrnn_isa isa : simdrnn_test::available_isas())
    for (int32_t threads : {1, 2}) {
      simdrnn_test::IsaCap cap(isa);
      simdrnn_model* m = make_model();
      int64_t np = 0;
      ASSERT_EQ(SIMDRNN_OK, simdrnn_model_num_params(m, &np));
      simdrnn_train_session* s = nullptr;
      ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_create(m, kN, 4, &s)) << simdrnn_last_error();
      const auto h_init = random_vector(kL * kN * kH, 5);
      ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_reset(s, h_init.data(), nullptr));
      std::vector<float> h_manual = h_init;
      uint32_t seed = 100;
      for (int64_t steps : chunks) {
        const auto x = random_vector(steps * kN * kI, seed++), dy = random_vector(steps * kN * kH, seed++);
        const auto dout = random_vector(steps * kN * kO, seed++);
        // Session.
        std::vector<float> y(steps * kN * kH), out(steps * kN * kO), dx(x.size()), g(np);
        ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(s, steps, x.data(), y.data(), out.data(), threads))
            << simdrnn_last_error();
        ASSERT_EQ(SIMDRNN_OK,
                  simdrnn_train_session_backward(s, dy.data(), dout.data(), dx.data(), g.data(), 0, threads))
            << simdrnn_last_error();
        std::vector<float> h_session(h_manual.size());
        ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_state(s, h_session.data(), nullptr));
        // By hand.
        std::vector<float> y2(y.size()), out2(out.size()), dx2(dx.size()), g2(np), h_next(h_manual.size());
        simdrnn_forward_args a{};
        a.seq_len = steps, a.batch = kN, a.x = x.data(), a.h0 = h_manual.data(), a.h_n = h_next.data();
        a.y = y2.data(), a.out = out2.data(), a.num_threads = threads;
        size_t ws = 0, rs = 0, bws = 0;
        ASSERT_EQ(SIMDRNN_OK, simdrnn_forward_workspace_size(m, &a, &ws));
        ASSERT_EQ(SIMDRNN_OK, simdrnn_training_reserve_size(m, &a, &rs));
        ASSERT_EQ(SIMDRNN_OK, simdrnn_backward_workspace_size(m, &a, &bws));
        std::vector<unsigned char> wsb(ws + 1), res(rs), bw(bws);
        a.workspace = wsb.data(), a.workspace_size = wsb.size();
        ASSERT_EQ(SIMDRNN_OK, simdrnn_forward_training(m, &a, res.data(), res.size())) << simdrnn_last_error();
        simdrnn_backward_args b{};
        b.forward = &a, b.reserve = res.data(), b.reserve_size = res.size(), b.dy = dy.data(), b.dout = dout.data();
        b.dx = dx2.data(), b.grads = g2.data(), b.workspace = bw.data(), b.workspace_size = bw.size();
        b.num_threads = threads;
        ASSERT_EQ(SIMDRNN_OK, simdrnn_backward(m, &b)) << simdrnn_last_error();
        const std::string where = std::string(simdrnn_isa_name(isa)) + " threads " + std::to_string(threads) +
                                  " chunk of " + std::to_string(steps);
        EXPECT_TRUE(same(y, y2)) << where;
        EXPECT_TRUE(same(out, out2)) << where;
        EXPECT_TRUE(same(dx, dx2)) << where;
        EXPECT_TRUE(same(g, g2)) << where;
        EXPECT_TRUE(same(h_session, h_next)) << where;
        h_manual = h_next;
      }
      simdrnn_train_session_destroy(s);
      simdrnn_model_destroy(m);
    }
}

TEST(TrainSession, Errors) {
  simdrnn_model* m = make_model();
  simdrnn_train_session* s = nullptr;
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_train_session_create(m, 0, 4, &s));
  EXPECT_TRUE(simdrnn_test::LastErrorNamesAny({"batch"}));
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_train_session_create(m, kN, 0, &s));
  EXPECT_TRUE(simdrnn_test::LastErrorNamesAny({"max_steps"}));
  EXPECT_EQ(s, nullptr);
  simdrnn_model* bi = make_model(1);
  EXPECT_EQ(SIMDRNN_UNSUPPORTED, simdrnn_train_session_create(bi, kN, 4, &s));
  simdrnn_model_destroy(bi);

  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_create(m, kN, 4, &s));
  std::vector<float> g(100000, 12345.0f);
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_train_session_backward(s, nullptr, nullptr, nullptr, g.data(), 0, 1));
  EXPECT_TRUE(simdrnn_test::LastErrorNamesAny({"session"}));
  EXPECT_EQ(g[0], 12345.0f);
  const auto x = random_vector(5 * kN * kI, 1);
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_train_session_forward(s, 5, x.data(), nullptr, nullptr, 1));
  EXPECT_TRUE(simdrnn_test::LastErrorNamesAny({"steps"}));
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_train_session_forward(s, 2, nullptr, nullptr, nullptr, 1));
  EXPECT_TRUE(simdrnn_test::LastErrorNamesAny({"x"}));
  // A parameter update between a chunk's forward and its backward is refused.
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(s, 2, x.data(), nullptr, nullptr, 1));
  int64_t np = 0;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_model_num_params(m, &np));
  std::vector<float> params(np);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_model_get_params(m, params.data()));
  ASSERT_EQ(SIMDRNN_OK, simdrnn_model_set_params(m, params.data()));
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_train_session_backward(s, nullptr, nullptr, nullptr, g.data(), 0, 1));
  EXPECT_TRUE(simdrnn_test::LastErrorNamesAny({"simdrnn_model_set_params"}));
  EXPECT_TRUE(simdrnn_test::LastErrorNamesAny({"simdrnn_train_session_forward again"}));
  EXPECT_EQ(g[0], 12345.0f);
  // A destroyed model, then a destroyed session.
  simdrnn_model_destroy(m);
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_train_session_forward(s, 2, x.data(), nullptr, nullptr, 1));
  EXPECT_TRUE(simdrnn_test::LastErrorNamesAny({"session"}));
  EXPECT_EQ(SIMDRNN_OK, simdrnn_train_session_destroy(s));
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_train_session_destroy(s));
  EXPECT_EQ(SIMDRNN_OK, simdrnn_train_session_destroy(nullptr));
}

}  // namespace
