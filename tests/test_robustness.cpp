// Misuse that an adversarial review found to get through: sizes that
// overflow, out-of-range enums, misaligned pointers, caller mistakes between
// forward_training and backward, aliased optimiser buffers, unhelpful
// messages. Each case expects a clear error naming the argument and outputs
// left untouched; every case fails on the code before its fix.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/error_checks.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

constexpr float kSentinel = 12345.0f;

// A model with random weights; destroyed by the fixture.
class Robustness : public ::testing::Test {
 protected:
  simdrnn_model* make(int64_t I, int64_t H, int64_t L = 1, int32_t bidirectional = 0, int64_t O = 0) {
    simdrnn_config c = simdrnn_config_default();
    c.input_size = I, c.hidden_size = H, c.num_layers = L, c.bidirectional = bidirectional, c.output_size = O;
    simdrnn_weights* w = nullptr;
    EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_create(&c, &w)) << last_error();
    const int64_t D = bidirectional ? 2 : 1;
    for (int64_t l = 0; l < L; ++l)
      for (int64_t d = 0; d < D; ++d) {
        const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
        const int64_t in = l == 0 ? I : D * H;
        const auto wih = random_vector(static_cast<size_t>(H * in), 1),
                   whh = random_vector(H * H, 2, -0.3f, 0.3f);
        EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, ("weight_ih" + sfx).c_str(), wih.data(), H * in));
        EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, ("weight_hh" + sfx).c_str(), whh.data(), H * H));
      }
    if (O > 0) {
      const auto why = random_vector(static_cast<size_t>(O * D * H), 3);
      EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, "weight_hy", why.data(), O * D * H));
    }
    simdrnn_model* m = nullptr;
    EXPECT_EQ(SIMDRNN_OK, simdrnn_model_create(w, &m)) << last_error();
    simdrnn_weights_destroy(w);
    models_.push_back(m);
    return m;
  }
  ~Robustness() override {
    for (simdrnn_model* m : models_) simdrnn_model_destroy(m);
  }

 private:
  std::vector<simdrnn_model*> models_;
};

// ---- size arithmetic --------------------------------------------------------------------

TEST_F(Robustness, HugeSequencesOverflowIntoAnErrorNotASize) {
  simdrnn_model* m = make(1, 1);
  simdrnn_model* deep = make(1, 1, 16);
  simdrnn_forward_args a{};
  a.batch = 1;
  size_t bytes = 777;
  a.seq_len = int64_t{1} << 55;
  prime_last_error({"seq_len"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_backward_workspace_size(m, &a, &bytes));
  EXPECT_TRUE(LastErrorNamesAll({"seq_len", "batch"}));
  EXPECT_EQ(777u, bytes);
  a.seq_len = int64_t{1} << 58;
  prime_last_error({"seq_len"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_training_reserve_size(deep, &a, &bytes));
  EXPECT_TRUE(LastErrorNamesAll({"seq_len", "batch"}));
  EXPECT_EQ(777u, bytes) << "a size was returned for an overflowing reserve";
  simdrnn_train_session* s = nullptr;
  prime_last_error({"max_steps"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_train_session_create(m, 1, int64_t{1} << 55, &s));
  EXPECT_TRUE(LastErrorNamesAny({"max_steps"}));
  EXPECT_EQ(nullptr, s);
}

// A stream too large to allocate says which arguments and how many bytes.
TEST_F(Robustness, OutOfMemoryNamesTheArgumentAndTheBytes) {
  simdrnn_model* m = make(4, 8);
  simdrnn_stream* s = nullptr;
  prime_last_error({"max_steps"});
  EXPECT_EQ(SIMDRNN_OUT_OF_MEMORY, simdrnn_stream_create(m, 1, int64_t{1} << 40, &s));
  EXPECT_TRUE(LastErrorNamesAll({"max_steps", "bytes"}));
  EXPECT_EQ(nullptr, s);
}

// ---- enums --------------------------------------------------------------------------------

// C callers may pass any int (-7, 99: tests/c/enums.c checks those); C++ can form only values
// inside the enums' bit ranges (status 0..7, isa 0..7) without undefined behaviour, which UBSan
// checks in the sanitizer build.
TEST(RobustnessEnums, OutOfRangeNamesAreUnknown) {
  for (int v : {5, 6, 7}) EXPECT_STREQ("unknown", simdrnn_status_name(static_cast<simdrnn_status>(v)));
  for (int v : {6, 7}) EXPECT_STREQ("unknown", simdrnn_isa_name(static_cast<simdrnn_isa>(v)));
}

// ---- misaligned pointers ------------------------------------------------------------------

TEST_F(Robustness, MisalignedPointersAreRejected) {
  simdrnn_model* m = make(3, 5);
  alignas(64) unsigned char raw[4096];
  float* misaligned = reinterpret_cast<float*>(raw + 2);
  std::vector<float> x(6, 0.5f), y(10, kSentinel), h(5, kSentinel);
  std::vector<int64_t> lens(2, 2);
  simdrnn_forward_args a{};
  a.seq_len = 2, a.batch = 1, a.x = x.data(), a.y = y.data();
  a.x = misaligned;
  prime_last_error({"args->x"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_forward(m, &a));
  EXPECT_TRUE(LastErrorNamesAll({"args->x", "aligned"}));
  a.x = x.data();
  a.y = reinterpret_cast<float*>(raw + 1);
  prime_last_error({"args->y"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_forward(m, &a));
  EXPECT_TRUE(LastErrorNamesAll({"args->y", "aligned"}));
  a.y = y.data();
  a.seq_lens = reinterpret_cast<const int64_t*>(raw + 4);
  prime_last_error({"args->seq_lens"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_forward(m, &a));
  EXPECT_TRUE(LastErrorNamesAll({"args->seq_lens", "aligned"}));
  EXPECT_EQ(kSentinel, y[0]);

  simdrnn_config c = simdrnn_config_default();
  c.input_size = 3, c.hidden_size = 5;
  simdrnn_weights* w = nullptr;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_create(&c, &w));
  prime_last_error({"data"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_weights_set(w, "weight_ih_l0", misaligned, 15));
  EXPECT_TRUE(LastErrorNamesAll({"data", "aligned"}));
  simdrnn_weights_destroy(w);

  int64_t np = 0;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_model_num_params(m, &np));
  prime_last_error({"params"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_model_get_params(m, misaligned));
  EXPECT_TRUE(LastErrorNamesAll({"params", "aligned"}));
  std::vector<float> v(64), g(64);
  prime_last_error({"params"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT,
            simdrnn_sgd_step(misaligned, g.data(), v.data(), 8, 0.1f, 0.0f, 0.0f, 1));
  EXPECT_TRUE(LastErrorNamesAll({"params", "aligned"}));

  simdrnn_stream* s = nullptr;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_stream_create(m, 1, 1, &s));
  prime_last_error({"h0"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_stream_reset(s, misaligned, nullptr));
  EXPECT_TRUE(LastErrorNamesAll({"h0", "aligned"}));
  prime_last_error({"\"h\"", "h:"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_stream_state(s, misaligned, nullptr));
  EXPECT_TRUE(LastErrorNamesAll({"aligned"}));
  simdrnn_stream_destroy(s);
}

// ---- forward_training / backward mismatches -------------------------------------------------

struct TrainingCall {
  std::vector<float> x, h0, y, grads, dy;
  std::vector<int64_t> lens;
  std::vector<unsigned char> reserve, workspace;
  simdrnn_forward_args f{};
  simdrnn_backward_args b{};
};

void prepare(simdrnn_model* m, TrainingCall& t, bool with_h0, bool with_lens) {
  const int64_t T = 4, N = 2, I = 3, H = 5;
  t.x = random_vector(T * N * I, 4);
  t.h0 = random_vector(N * H, 5);
  t.y.assign(T * N * H, 0.0f);
  t.dy = random_vector(T * N * H, 6);
  t.lens = {4, 3};
  t.f.seq_len = T, t.f.batch = N, t.f.x = t.x.data(), t.f.y = t.y.data();
  t.f.h0 = with_h0 ? t.h0.data() : nullptr;
  t.f.seq_lens = with_lens ? t.lens.data() : nullptr;
  size_t rs = 0, ws = 0;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_training_reserve_size(m, &t.f, &rs));
  ASSERT_EQ(SIMDRNN_OK, simdrnn_backward_workspace_size(m, &t.f, &ws));
  t.reserve.resize(rs), t.workspace.resize(ws);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_forward_training(m, &t.f, t.reserve.data(), rs)) << last_error();
  int64_t np = 0;
  simdrnn_model_num_params(m, &np);
  t.grads.assign(static_cast<size_t>(np), kSentinel);
  t.b.forward = &t.f, t.b.reserve = t.reserve.data(), t.b.reserve_size = rs, t.b.dy = t.dy.data();
  t.b.grads = t.grads.data(), t.b.workspace = t.workspace.data(), t.b.workspace_size = ws;
}

TEST_F(Robustness, BackwardNoticesAForwardWithADifferentH0OrLengths) {
  simdrnn_model* m = make(3, 5);
  {
    TrainingCall t;
    prepare(m, t, /*with_h0=*/true, /*with_lens=*/false);
    simdrnn_forward_args changed = t.f;
    changed.h0 = nullptr;  // forward had an h0; backward's args say none
    t.b.forward = &changed;
    prime_last_error({"h0"});
    EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_backward(m, &t.b));
    EXPECT_TRUE(LastErrorNamesAll({"args->forward->h0"}));
    EXPECT_EQ(kSentinel, t.grads[0]);
  }
  {
    TrainingCall t;
    prepare(m, t, /*with_h0=*/false, /*with_lens=*/true);
    t.lens[1] = 2;  // the lengths changed between forward_training and backward
    prime_last_error({"seq_lens"});
    EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_backward(m, &t.b));
    EXPECT_TRUE(LastErrorNamesAll({"args->forward->seq_lens"}));
    EXPECT_EQ(kSentinel, t.grads[0]);
    t.lens[1] = 3;
    EXPECT_EQ(SIMDRNN_OK, simdrnn_backward(m, &t.b)) << last_error();
  }
}

TEST_F(Robustness, BackwardWithNoOutputIsAnError) {
  simdrnn_model* m = make(3, 5);
  TrainingCall t;
  prepare(m, t, false, false);
  t.b.grads = nullptr;
  prime_last_error({"args->grads"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_backward(m, &t.b));
  EXPECT_TRUE(LastErrorNamesAll({"args->dx", "args->dh0", "args->grads"}));
}

// ---- optimisers -----------------------------------------------------------------------------

TEST(RobustnessOptimisers, NonFiniteHyperParametersAndAliasesAreRejected) {
  std::vector<float> p(64, 1.0f), g(64, 0.5f), v(64, 0.0f), m(64, 0.0f), s(64, 0.0f);
  const float inf = std::numeric_limits<float>::infinity();
  prime_last_error({"lr"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_sgd_step(p.data(), g.data(), v.data(), 64, inf, 0.9f, 0.0f, 1));
  EXPECT_TRUE(LastErrorNamesAll({"lr", "finite"}));
  prime_last_error({"momentum"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_sgd_step(p.data(), g.data(), v.data(), 64, 0.1f, inf, 0.0f, 1));
  EXPECT_TRUE(LastErrorNamesAll({"momentum"}));
  prime_last_error({"lr"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_adam_step(p.data(), g.data(), m.data(), s.data(), 64, 1, inf,
                                                        0.9f, 0.999f, 1e-8f, 0.0f, 1));
  EXPECT_TRUE(LastErrorNamesAll({"lr"}));
  prime_last_error({"eps"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_adam_step(p.data(), g.data(), m.data(), s.data(), 64, 1, 0.1f,
                                                        0.9f, 0.999f, inf, 0.0f, 1));
  EXPECT_TRUE(LastErrorNamesAll({"eps"}));
  // params == grads, m == v, velocity overlapping params: rejected, nothing written.
  prime_last_error({"params"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT,
            simdrnn_sgd_step(p.data(), p.data(), v.data(), 64, 0.1f, 0.9f, 0.0f, 1));
  EXPECT_TRUE(LastErrorNamesAll({"params", "grads"}));
  prime_last_error({"velocity"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT,
            simdrnn_sgd_step(p.data(), g.data(), p.data() + 16, 32, 0.1f, 0.9f, 0.0f, 1));
  EXPECT_TRUE(LastErrorNamesAll({"params", "velocity"}));
  prime_last_error({"\"m\"", "m and v"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_adam_step(p.data(), g.data(), m.data(), m.data(), 64, 1, 0.1f,
                                                        0.9f, 0.999f, 1e-8f, 0.0f, 1));
  EXPECT_TRUE(LastErrorNamesAll({"m and v"}));
  EXPECT_EQ(1.0f, p[0]);
  EXPECT_EQ(0.0f, m[0]);
  // The norm written inside the gradients it scales.
  prime_last_error({"norm"});
  EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, simdrnn_clip_grad_norm(g.data(), 64, 1.0f, g.data() + 10, 1));
  EXPECT_TRUE(LastErrorNamesAll({"grads", "norm"}));
  EXPECT_EQ(0.5f, g[10]);
}

}  // namespace
}  // namespace simdrnn_test
