// Bad input for every training and optimiser entry point of the C API (simdrnn.h "training" and
// "optimiser helpers"), and the optimisers' results.
//
// For every rejected call we check (a) the status, (b) that simdrnn_last_error() names the
// offending argument (the message is primed with an unrelated error first, so a stale message
// cannot pass), and (c) that every output still holds the sentinel it was filled with (the
// reserve: the bytes it held). Then simdrnn_sgd_step, simdrnn_adam_step and simdrnn_clip_grad_norm
// against plain double implementations of PyTorch's formulas, on every ISA, for odd counts, and
// bit-identical across thread counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/error_checks.hpp"
#include "support/test_util.hpp"

namespace {

using simdrnn_test::available_isas;
using simdrnn_test::IsaCap;
using simdrnn_test::random_vector;

constexpr float kSentinel = 12345.0f;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---- helpers (as in test_errors.cpp) ------------------------------------------------------
struct ModelDeleter {
  void operator()(simdrnn_model* m) const { simdrnn_model_destroy(m); }
};
using ModelPtr = std::unique_ptr<simdrnn_model, ModelDeleter>;

simdrnn_config make_config(int64_t I, int64_t H, int64_t L, int32_t bidirectional, int64_t O,
                           float clip = 0.0f) {
  simdrnn_config c = simdrnn_config_default();
  c.input_size = I;
  c.hidden_size = H;
  c.num_layers = L;
  c.bidirectional = bidirectional;
  c.output_size = O;
  c.clip = clip;
  return c;
}

ModelPtr make_model(const simdrnn_config& c, uint32_t seed = 1) {
  simdrnn_weights* w = nullptr;
  EXPECT_EQ(simdrnn_weights_create(&c, &w), SIMDRNN_OK) << simdrnn_last_error();
  if (w == nullptr) return nullptr;
  const int64_t D = c.bidirectional ? 2 : 1, H = c.hidden_size;
  auto set = [&](const std::string& name, int64_t count) {
    const std::vector<float> data = random_vector(static_cast<size_t>(count), seed++, -0.5f, 0.5f);
    EXPECT_EQ(simdrnn_weights_set(w, name.c_str(), data.data(), count), SIMDRNN_OK) << simdrnn_last_error();
  };
  for (int64_t k = 0; k < c.num_layers; ++k)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = "_l" + std::to_string(k) + (d ? "_reverse" : "");
      set("weight_ih" + sfx, H * (k == 0 ? c.input_size : D * H));
      set("weight_hh" + sfx, H * H);
      set("bias_ih" + sfx, H);
      set("bias_hh" + sfx, H);
    }
  if (c.output_size > 0) {
    set("weight_hy", c.output_size * D * H);
    set("bias_hy", c.output_size);
  }
  simdrnn_model* m = nullptr;
  EXPECT_EQ(simdrnn_model_create(w, &m), SIMDRNN_OK) << simdrnn_last_error();
  simdrnn_weights_destroy(w);
  return ModelPtr(m);
}

using simdrnn_test::last_error;
using simdrnn_test::prime_last_error;
using simdrnn_test::LastErrorNamesAll;

// Expects `status` and a message naming every one of `names`.
#define EXPECT_STATUS_NAMING(expected, names, call)                            \
  do {                                                                         \
    prime_last_error(std::vector<std::string> names);                          \
    const simdrnn_status status_ = (call);                                     \
    EXPECT_EQ(status_, (expected)) << #call << "  [" << last_error() << "]";   \
    if (status_ != SIMDRNN_OK) {                                               \
      EXPECT_TRUE(LastErrorNamesAll(std::vector<std::string> names)) << #call; \
    }                                                                          \
  } while (0)
#define EXPECT_INVALID(names, call) EXPECT_STATUS_NAMING(SIMDRNN_INVALID_ARGUMENT, names, call)

testing::AssertionResult AllSentinel(const std::vector<float>& v, const char* what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (std::memcmp(&v[i], &kSentinel, sizeof(float)) != 0)
      return testing::AssertionFailure() << what << "[" << i << "] was overwritten with " << v[i];
  return testing::AssertionSuccess();
}

template <typename E>
void poke_enum(E* field, int value) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized here");
  std::memcpy(field, &value, sizeof value);
}

// ---- a model with everything, a valid forward_training and a valid backward ----------------

// Buffers of one training step, all the right size; outputs sentinel-filled.
class Step {
 public:
  explicit Step(const simdrnn_config& c, int64_t T = 5, int64_t N = 3) : config_(c) {
    model_ = make_model(c);
    const int64_t D = c.bidirectional ? 2 : 1, H = c.hidden_size;
    x = random_vector(static_cast<size_t>(T * N * c.input_size), 11);
    h0 = random_vector(static_cast<size_t>(c.num_layers * D * N * H), 12);
    lens.assign(static_cast<size_t>(N), T);
    lens[0] = 1;
    y.assign(static_cast<size_t>(T * N * D * H), kSentinel);
    h_n.assign(h0.size(), kSentinel);
    out.assign(static_cast<size_t>(T * N * c.output_size), kSentinel);
    dy = random_vector(y.size(), 13);
    dout = random_vector(out.size(), 14);
    dh_n = random_vector(h0.size(), 15);
    fa.seq_len = T;
    fa.batch = N;
    fa.layout = SIMDRNN_TIME_MAJOR;
    fa.x = x.data();
    fa.h0 = h0.data();
    fa.seq_lens = lens.data();
    fa.y = y.data();
    fa.h_n = h_n.data();
    fa.out = c.output_size > 0 ? out.data() : nullptr;
    fa.num_threads = 1;
    size_t bytes = 0;
    EXPECT_EQ(simdrnn_forward_workspace_size(model(), &fa, &bytes), SIMDRNN_OK) << last_error();
    fwd_ws.resize(bytes + 256);
    fa.workspace = fwd_ws.data();
    fa.workspace_size = bytes;
    EXPECT_EQ(simdrnn_training_reserve_size(model(), &fa, &bytes), SIMDRNN_OK) << last_error();
    reserve.assign(bytes, 0);
    EXPECT_EQ(simdrnn_backward_workspace_size(model(), &fa, &bytes), SIMDRNN_OK) << last_error();
    bwd_ws.resize(bytes + 256);
    int64_t count = 0;
    EXPECT_EQ(simdrnn_model_num_params(model(), &count), SIMDRNN_OK);
    grads.assign(static_cast<size_t>(count), kSentinel);
    dx.assign(x.size(), kSentinel);
    dh0.assign(h0.size(), kSentinel);
  }

  simdrnn_model* model() const { return model_.get(); }

  simdrnn_status forward_training() {
    return simdrnn_forward_training(model(), &fa, reserve.data(), reserve.size());
  }

  // Backward args over the (sentinel-filled) gradient buffers.
  simdrnn_backward_args backward_args() {
    simdrnn_backward_args b{};
    b.forward = &fa;
    b.reserve = reserve.data();
    b.reserve_size = reserve.size();
    b.dy = dy.data();
    b.dout = config_.output_size > 0 ? dout.data() : nullptr;
    b.dh_n = dh_n.data();
    b.dx = dx.data();
    b.dh0 = dh0.data();
    b.grads = grads.data();
    b.accumulate = 0;
    b.workspace = bwd_ws.data();
    b.workspace_size = bwd_ws.size() - 256;
    b.num_threads = 1;
    return b;
  }

  testing::AssertionResult gradients_untouched() const {
    testing::AssertionResult r = AllSentinel(grads, "grads");
    if (r) r = AllSentinel(dx, "dx");
    if (r) r = AllSentinel(dh0, "dh0");
    return r;
  }
  testing::AssertionResult forward_outputs_untouched(const std::vector<unsigned char>& reserve_before) const {
    testing::AssertionResult r = AllSentinel(y, "y");
    if (r) r = AllSentinel(h_n, "h_n");
    if (r) r = AllSentinel(out, "out");
    if (r && reserve != reserve_before) r = testing::AssertionFailure() << "the reserve was written";
    return r;
  }
  void reset_outputs() {
    std::fill(y.begin(), y.end(), kSentinel);
    std::fill(h_n.begin(), h_n.end(), kSentinel);
    std::fill(out.begin(), out.end(), kSentinel);
    std::fill(grads.begin(), grads.end(), kSentinel);
    std::fill(dx.begin(), dx.end(), kSentinel);
    std::fill(dh0.begin(), dh0.end(), kSentinel);
  }

  simdrnn_config config_;
  ModelPtr model_;
  std::vector<float> x, h0, y, h_n, out, dy, dout, dh_n, dx, dh0, grads;
  std::vector<int64_t> lens;
  std::vector<unsigned char> fwd_ws, reserve, bwd_ws;
  simdrnn_forward_args fa{};
};

simdrnn_config full_config() { return make_config(3, 4, 2, 1, 2, 0.7f); }

// A valid pair runs (the error cases below each change one thing of it).
TEST(TrainingValid, ForwardTrainingThenBackward) {
  Step s(full_config());
  ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
  simdrnn_backward_args b = s.backward_args();
  ASSERT_EQ(simdrnn_backward(s.model(), &b), SIMDRNN_OK) << last_error();
  for (float v : s.grads) ASSERT_TRUE(std::isfinite(v) && v != kSentinel);
  for (float v : s.dx) ASSERT_TRUE(std::isfinite(v) && v != kSentinel);
  for (float v : s.dh0) ASSERT_TRUE(std::isfinite(v) && v != kSentinel);
}

// Reserve and workspaces of any alignment (simdrnn.h: "any alignment" for the workspace; the
// reserve is sized with slack for it).
TEST(TrainingValid, UnalignedReserveAndWorkspaces) {
  Step s(full_config());
  ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
  simdrnn_backward_args b = s.backward_args();
  ASSERT_EQ(simdrnn_backward(s.model(), &b), SIMDRNN_OK) << last_error();
  const std::vector<float> want_grads = s.grads, want_dx = s.dx;
  for (size_t shift : {1, 3, 17}) {
    SCOPED_TRACE(shift);
    std::vector<unsigned char> reserve(s.reserve.size() + shift), fws(s.fa.workspace_size + shift),
        bws(b.workspace_size + shift);
    simdrnn_forward_args a = s.fa;
    a.workspace = fws.data() + shift;
    ASSERT_EQ(simdrnn_forward_training(s.model(), &a, reserve.data() + shift, s.reserve.size()), SIMDRNN_OK)
        << last_error();
    simdrnn_backward_args c = b;
    c.forward = &a;
    c.reserve = reserve.data() + shift;
    c.workspace = bws.data() + shift;
    s.reset_outputs();
    ASSERT_EQ(simdrnn_backward(s.model(), &c), SIMDRNN_OK) << last_error();
    EXPECT_EQ(0, std::memcmp(s.grads.data(), want_grads.data(), want_grads.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(s.dx.data(), want_dx.data(), want_dx.size() * sizeof(float)));
  }
}

// ---- parameter API ------------------------------------------------------------------------------
TEST(ParamsErrors, BadHandlesAndPointers) {
  Step s(full_config());
  int64_t count = -7, offset = -7;
  EXPECT_INVALID(({"model"}), simdrnn_model_num_params(nullptr, &count));
  EXPECT_INVALID(({"model"}),
                 simdrnn_model_num_params(reinterpret_cast<simdrnn_model*>(uintptr_t{0x12345}), &count));
  EXPECT_EQ(count, -7);
  EXPECT_INVALID(({"count"}), simdrnn_model_num_params(s.model(), nullptr));
  EXPECT_INVALID(({"model"}), simdrnn_model_param_offset(nullptr, "weight_ih_l0", &offset, &count));
  EXPECT_INVALID(({"name"}), simdrnn_model_param_offset(s.model(), nullptr, &offset, &count));
  EXPECT_INVALID(({"offset"}), simdrnn_model_param_offset(s.model(), "weight_ih_l0", nullptr, &count));
  EXPECT_INVALID(({"count"}), simdrnn_model_param_offset(s.model(), "weight_ih_l0", &offset, nullptr));
  EXPECT_EQ(offset, -7);
  EXPECT_EQ(count, -7);
  std::vector<float> params(s.grads.size(), kSentinel);
  EXPECT_INVALID(({"model"}), simdrnn_model_get_params(nullptr, params.data()));
  EXPECT_INVALID(({"params"}), simdrnn_model_get_params(s.model(), nullptr));
  EXPECT_INVALID(({"model"}), simdrnn_model_set_params(nullptr, params.data()));
  EXPECT_INVALID(({"params"}), simdrnn_model_set_params(s.model(), nullptr));
  EXPECT_TRUE(AllSentinel(params, "params"));
  // A destroyed model's handle.
  ModelPtr gone = make_model(full_config());
  simdrnn_model* dangling = gone.get();
  gone.reset();
  EXPECT_INVALID(({"model"}), simdrnn_model_num_params(dangling, &count));
  EXPECT_INVALID(({"model"}), simdrnn_model_get_params(dangling, params.data()));
  EXPECT_INVALID(({"model"}), simdrnn_model_set_params(dangling, params.data()));
  size_t bytes = 77;
  EXPECT_INVALID(({"model"}), simdrnn_training_reserve_size(dangling, &s.fa, &bytes));
  EXPECT_EQ(bytes, 77u);
}

// A failed set_params changes nothing: the old reserve is still accepted.
TEST(ParamsErrors, FailedSetParamsKeepsTheModel) {
  Step s(full_config());
  ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
  std::vector<float> before(s.grads.size());
  ASSERT_EQ(simdrnn_model_get_params(s.model(), before.data()), SIMDRNN_OK);
  EXPECT_INVALID(({"params"}), simdrnn_model_set_params(s.model(), nullptr));
  std::vector<float> after(before.size());
  ASSERT_EQ(simdrnn_model_get_params(s.model(), after.data()), SIMDRNN_OK);
  EXPECT_EQ(before, after);
  simdrnn_backward_args b = s.backward_args();
  EXPECT_EQ(simdrnn_backward(s.model(), &b), SIMDRNN_OK) << last_error();
}

// ---- reserve size, forward_training ---------------------------------------------------------------
TEST(ReserveSizeErrors, BadArguments) {
  Step s(full_config());
  size_t bytes = 77;
  simdrnn_forward_args a = s.fa;
  EXPECT_INVALID(({"model"}), simdrnn_training_reserve_size(nullptr, &a, &bytes));
  EXPECT_INVALID(({"args"}), simdrnn_training_reserve_size(s.model(), nullptr, &bytes));
  EXPECT_INVALID(({"bytes"}), simdrnn_training_reserve_size(s.model(), &a, nullptr));
  a.seq_len = 0;
  EXPECT_INVALID(({"seq_len"}), simdrnn_training_reserve_size(s.model(), &a, &bytes));
  a = s.fa;
  a.batch = -1;
  EXPECT_INVALID(({"batch"}), simdrnn_training_reserve_size(s.model(), &a, &bytes));
  a = s.fa;
  poke_enum(&a.layout, 2);
  EXPECT_INVALID(({"layout"}), simdrnn_training_reserve_size(s.model(), &a, &bytes));
  a = s.fa;
  a.seq_len = int64_t{1} << 60;
  EXPECT_INVALID(({"seq_len"}), simdrnn_training_reserve_size(s.model(), &a, &bytes));
  EXPECT_EQ(bytes, 77u);
  // The same for the backward workspace size.
  a = s.fa;
  EXPECT_INVALID(({"model"}), simdrnn_backward_workspace_size(nullptr, &a, &bytes));
  EXPECT_INVALID(({"args"}), simdrnn_backward_workspace_size(s.model(), nullptr, &bytes));
  EXPECT_INVALID(({"bytes"}), simdrnn_backward_workspace_size(s.model(), &a, nullptr));
  a.batch = 0;
  EXPECT_INVALID(({"batch"}), simdrnn_backward_workspace_size(s.model(), &a, &bytes));
  EXPECT_EQ(bytes, 77u);
}

// Training is limited to 64 layers (src/internal.hpp kMaxTrainingLayers); more is UNSUPPORTED.
// (simdrnn.h does not mention the limit.)
TEST(ReserveSizeErrors, TooManyLayersIsUnsupported) {
  const simdrnn_config c = make_config(1, 1, 65, 0, 0);
  ModelPtr m = make_model(c);
  ASSERT_NE(m, nullptr);
  std::vector<float> x(4), y(4);
  simdrnn_forward_args a{};
  a.seq_len = 2;
  a.batch = 2;
  a.x = x.data();
  a.y = y.data();
  size_t bytes = 77;
  EXPECT_STATUS_NAMING(SIMDRNN_UNSUPPORTED, ({"num_layers"}),
                       simdrnn_training_reserve_size(m.get(), &a, &bytes));
  EXPECT_EQ(bytes, 77u);
  std::vector<unsigned char> reserve(1 << 16);
  EXPECT_STATUS_NAMING(SIMDRNN_UNSUPPORTED, ({"num_layers"}),
                       simdrnn_forward_training(m.get(), &a, reserve.data(), reserve.size()));
  // 64 layers are fine.
  ModelPtr ok = make_model(make_config(1, 1, 64, 0, 0));
  EXPECT_EQ(simdrnn_training_reserve_size(ok.get(), &a, &bytes), SIMDRNN_OK) << last_error();
}

TEST(ForwardTrainingErrors, BeforeReserveSize) {
  const simdrnn_config c = full_config();
  Step s(c);                       // prepares s.model()
  ModelPtr fresh = make_model(c);  // never given to simdrnn_training_reserve_size
  const std::vector<unsigned char> before = s.reserve;
  EXPECT_INVALID(({"model", "simdrnn_training_reserve_size"}),
                 simdrnn_forward_training(fresh.get(), &s.fa, s.reserve.data(), s.reserve.size()));
  EXPECT_TRUE(s.forward_outputs_untouched(before));
  // ... and backward on it.
  simdrnn_backward_args b = s.backward_args();
  EXPECT_INVALID(({"model", "simdrnn_training_reserve_size"}), simdrnn_backward(fresh.get(), &b));
  EXPECT_TRUE(s.gradients_untouched());
}

TEST(ForwardTrainingErrors, BadArguments) {
  Step s(full_config());
  std::vector<unsigned char> before(s.reserve.size(), 0x5a);
  s.reserve = before;
  auto expect_rejected = [&](std::vector<std::string> names, const simdrnn_forward_args& a, void* reserve,
                             size_t reserve_size) {
    prime_last_error(names);
    const simdrnn_status st = simdrnn_forward_training(s.model(), &a, reserve, reserve_size);
    EXPECT_EQ(st, SIMDRNN_INVALID_ARGUMENT) << last_error();
    EXPECT_TRUE(LastErrorNamesAll(names));
    EXPECT_TRUE(s.forward_outputs_untouched(before));
  };
  const size_t need = s.reserve.size();
  simdrnn_forward_args a = s.fa;
  EXPECT_INVALID(({"model"}), simdrnn_forward_training(nullptr, &a, s.reserve.data(), need));
  EXPECT_INVALID(({"args"}), simdrnn_forward_training(s.model(), nullptr, s.reserve.data(), need));
  SCOPED_TRACE("reserve");
  expect_rejected({"reserve"}, a, nullptr, need);
  expect_rejected({"reserve_size"}, a, s.reserve.data(), need - 1);
  expect_rejected({"reserve_size"}, a, s.reserve.data(), 0);
  // Every forward argument is validated as in simdrnn_forward.
  a.x = nullptr;
  expect_rejected({"x"}, a, s.reserve.data(), need);
  a = s.fa;
  a.y = nullptr;
  a.h_n = nullptr;
  a.out = nullptr;
  expect_rejected({"y", "h_n", "out"}, a, s.reserve.data(), need);
  a = s.fa;
  a.num_threads = -1;
  expect_rejected({"num_threads"}, a, s.reserve.data(), need);
  a = s.fa;
  a.workspace_size = s.fa.workspace_size - 1;
  expect_rejected({"workspace"}, a, s.reserve.data(), need);
  a = s.fa;
  std::vector<int64_t> bad_lens = s.lens;
  bad_lens[1] = s.fa.seq_len + 1;
  a.seq_lens = bad_lens.data();
  expect_rejected({"seq_lens"}, a, s.reserve.data(), need);
  bad_lens[1] = 0;
  expect_rejected({"seq_lens"}, a, s.reserve.data(), need);
  a = s.fa;
  a.seq_len = s.fa.seq_len + 1;  // the reserve is now too small for the call
  expect_rejected({"reserve_size"}, a, s.reserve.data(), need);
  // The reserve must not overlap the inputs, outputs or workspace.
  std::vector<unsigned char> big(need + 4096, 0x5a);
  a = s.fa;
  for (const char* other : {"x", "y", "h_n", "out", "workspace"}) {
    SCOPED_TRACE(other);
    simdrnn_forward_args o = s.fa;
    std::vector<unsigned char> snapshot = big;
    float* inside = reinterpret_cast<float*>(big.data() + 64);
    if (!std::strcmp(other, "x")) o.x = inside;
    if (!std::strcmp(other, "y")) o.y = inside;
    if (!std::strcmp(other, "h_n")) o.h_n = inside;
    if (!std::strcmp(other, "out")) o.out = inside;
    if (!std::strcmp(other, "workspace")) o.workspace = inside;
    prime_last_error({"reserve", other});
    EXPECT_EQ(simdrnn_forward_training(s.model(), &o, big.data(), need), SIMDRNN_INVALID_ARGUMENT);
    EXPECT_TRUE(LastErrorNamesAll({"reserve", other}));
    EXPECT_TRUE(big == snapshot) << "reserve / overlapping buffer written";
    EXPECT_TRUE(s.forward_outputs_untouched(before));
  }
  // A valid call still succeeds on the same buffers.
  EXPECT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
}

// out must be NULL without an output layer (as in simdrnn_forward).
TEST(ForwardTrainingErrors, OutWithoutOutputLayer) {
  Step s(make_config(3, 4, 1, 0, 0));
  const std::vector<unsigned char> before = s.reserve;
  std::vector<float> out(static_cast<size_t>(5 * 3 * 2), kSentinel);
  simdrnn_forward_args a = s.fa;
  a.out = out.data();
  EXPECT_INVALID(({"out"}), simdrnn_forward_training(s.model(), &a, s.reserve.data(), s.reserve.size()));
  EXPECT_TRUE(AllSentinel(out, "out"));
  EXPECT_TRUE(s.forward_outputs_untouched(before));
}

// ---- backward: the reserve must come from a matching forward_training call ---------------------
class BackwardErrors : public ::testing::Test {
 protected:
  BackwardErrors() : s(full_config()) {}
  void SetUp() override { ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error(); }

  // Expects INVALID naming every one of `names`, gradients and the reserve untouched.
  void expect_rejected(const std::vector<std::string>& names, const simdrnn_backward_args& b,
                       simdrnn_model* model = nullptr) {
    const std::vector<unsigned char> reserve_before = s.reserve;
    prime_last_error(names);
    const simdrnn_status st = simdrnn_backward(model ? model : s.model(), &b);
    EXPECT_EQ(st, SIMDRNN_INVALID_ARGUMENT) << last_error();
    EXPECT_TRUE(LastErrorNamesAll(names));
    EXPECT_TRUE(s.gradients_untouched());
    EXPECT_TRUE(s.reserve == reserve_before) << "backward wrote the reserve";
  }

  Step s;
};

TEST_F(BackwardErrors, NullModelArgsForward) {
  simdrnn_backward_args b = s.backward_args();
  EXPECT_INVALID(({"model"}), simdrnn_backward(nullptr, &b));
  EXPECT_INVALID(({"args"}), simdrnn_backward(s.model(), nullptr));
  b.forward = nullptr;
  expect_rejected({"forward"}, b);
  simdrnn_forward_args a = s.fa;
  a.x = nullptr;
  b.forward = &a;
  expect_rejected({"forward", "x"}, b);
  EXPECT_TRUE(s.gradients_untouched());
}

TEST_F(BackwardErrors, ReserveNeverFilled) {
  std::vector<unsigned char> zeroed(s.reserve.size(), 0);
  simdrnn_backward_args b = s.backward_args();
  b.reserve = zeroed.data();
  expect_rejected({"reserve"}, b);
  std::vector<unsigned char> garbage(s.reserve.size(), 0xa7);
  b.reserve = garbage.data();
  expect_rejected({"reserve"}, b);
  b = s.backward_args();
  b.reserve = nullptr;
  expect_rejected({"reserve"}, b);
  b = s.backward_args();
  b.reserve_size = s.reserve.size() - 1;
  expect_rejected({"reserve"}, b);
}

TEST_F(BackwardErrors, ReserveFromAnotherModel) {
  // Same configuration and weights, another model: its reserve is not ours.
  Step other(full_config());
  ASSERT_EQ(other.forward_training(), SIMDRNN_OK) << last_error();
  simdrnn_backward_args b = s.backward_args();
  b.reserve = other.reserve.data();
  expect_rejected({"reserve"}, b);
  // And ours given to the other model.
  simdrnn_backward_args c = other.backward_args();
  c.reserve = s.reserve.data();
  c.grads = s.grads.data();
  c.dx = s.dx.data();
  c.dh0 = s.dh0.data();
  expect_rejected({"reserve"}, c, other.model());
}

TEST_F(BackwardErrors, ReserveFromADifferentCall) {
  simdrnn_backward_args b = s.backward_args();
  simdrnn_forward_args a = s.fa;
  b.forward = &a;
  a.batch = s.fa.batch - 1;  // buffers stay large enough
  expect_rejected({"reserve"}, b);
  a = s.fa;
  a.seq_len = s.fa.seq_len - 1;
  std::vector<int64_t> shorter = s.lens;  // lengths valid for the shorter sequence
  for (int64_t& len : shorter) len = std::min(len, a.seq_len);
  a.seq_lens = shorter.data();
  expect_rejected({"reserve"}, b);
  a = s.fa;
  a.layout = SIMDRNN_BATCH_MAJOR;
  expect_rejected({"reserve"}, b);
  a = s.fa;
  a.seq_lens = nullptr;  // the forward call had lengths
  expect_rejected({"reserve"}, b);
  // A reserve filled by this model for a larger batch (so large enough), used for batch 3.
  simdrnn_forward_args wide = s.fa;
  wide.batch = 4;
  std::vector<float> x(static_cast<size_t>(5 * 4 * 3), 0.25f), h_n(static_cast<size_t>(2 * 2 * 4 * 4));
  wide.x = x.data();
  wide.h0 = nullptr;
  wide.seq_lens = nullptr;
  wide.y = nullptr;
  wide.out = nullptr;
  wide.h_n = h_n.data();
  size_t bytes = 0;
  ASSERT_EQ(simdrnn_forward_workspace_size(s.model(), &wide, &bytes), SIMDRNN_OK);
  std::vector<unsigned char> ws(bytes);
  wide.workspace = ws.data();
  wide.workspace_size = bytes;
  ASSERT_EQ(simdrnn_training_reserve_size(s.model(), &wide, &bytes), SIMDRNN_OK);
  ASSERT_GE(bytes, s.reserve.size());
  std::vector<unsigned char> wide_reserve(bytes);
  ASSERT_EQ(simdrnn_forward_training(s.model(), &wide, wide_reserve.data(), bytes), SIMDRNN_OK)
      << last_error();
  b = s.backward_args();
  b.reserve = wide_reserve.data();
  b.reserve_size = bytes;
  expect_rejected({"reserve"}, b);
}

TEST_F(BackwardErrors, ReserveFromBeforeSetParams) {
  std::vector<float> params(s.grads.size());
  ASSERT_EQ(simdrnn_model_get_params(s.model(), params.data()), SIMDRNN_OK);
  ASSERT_EQ(simdrnn_model_set_params(s.model(), params.data()), SIMDRNN_OK);  // even unchanged values
  simdrnn_backward_args b = s.backward_args();
  expect_rejected({"reserve"}, b);
  // A new forward_training makes it valid again.
  ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
  EXPECT_EQ(simdrnn_backward(s.model(), &b), SIMDRNN_OK) << last_error();
}

TEST_F(BackwardErrors, BadScalars) {
  simdrnn_backward_args b = s.backward_args();
  for (int32_t acc : {2, -1, 1 << 30}) {
    b.accumulate = acc;
    expect_rejected({"accumulate"}, b);
  }
  b = s.backward_args();
  b.num_threads = -1;
  expect_rejected({"num_threads"}, b);
  b.num_threads = 100000;
  expect_rejected({"num_threads"}, b);
  b = s.backward_args();
  simdrnn_forward_args a = s.fa;
  b.forward = &a;
  std::vector<int64_t> lens = s.lens;
  lens[2] = 0;
  a.seq_lens = lens.data();
  expect_rejected({"seq_lens"}, b);
  lens[2] = s.fa.seq_len + 1;
  expect_rejected({"seq_lens"}, b);
  a = s.fa;
  poke_enum(&a.layout, 5);
  expect_rejected({"layout"}, b);
}

TEST_F(BackwardErrors, Workspace) {
  simdrnn_backward_args b = s.backward_args();
  b.workspace_size -= 1;
  expect_rejected({"workspace"}, b);
  b = s.backward_args();
  b.workspace = nullptr;
  expect_rejected({"workspace"}, b);
  b.workspace_size = 0;
  expect_rejected({"workspace"}, b);
}

TEST(BackwardErrorsNoOutputLayer, DoutWithoutOutputLayer) {
  Step s(make_config(3, 4, 1, 0, 0));
  ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
  std::vector<float> dout(static_cast<size_t>(5 * 3 * 2), 0.5f);
  simdrnn_backward_args b = s.backward_args();
  b.dout = dout.data();
  EXPECT_INVALID(({"dout"}), simdrnn_backward(s.model(), &b));
  EXPECT_TRUE(s.gradients_untouched());
}

// Written buffers (grads, dx, dh0, workspace) must not overlap anything else.
TEST_F(BackwardErrors, OverlappingBuffers) {
  struct Overlap {
    const char* a;
    const char* b;
    std::function<void(simdrnn_backward_args&, simdrnn_forward_args&)> apply;
  };
  // One big arena: placing two buffers inside it at the same offset makes them overlap.
  std::vector<float> arena(1 << 16, kSentinel);
  float* p = arena.data() + 16;
  const std::vector<Overlap> cases = {
      {"grads", "dy",
       [&](simdrnn_backward_args& b, simdrnn_forward_args&) {
         std::memcpy(p, s.dy.data(), s.dy.size() * sizeof(float));
         b.grads = p;
         b.dy = p;
       }},
      {"dx", "forward->x",
       [&](simdrnn_backward_args& b, simdrnn_forward_args& a) {
         std::memcpy(p, s.x.data(), s.x.size() * sizeof(float));
         b.dx = p;
         a.x = p;
       }},
      {"dh0", "forward->h0",
       [&](simdrnn_backward_args& b, simdrnn_forward_args& a) {
         std::memcpy(p, s.h0.data(), s.h0.size() * sizeof(float));
         b.dh0 = p;
         a.h0 = p;
       }},
      {"dh0", "dh_n",
       [&](simdrnn_backward_args& b, simdrnn_forward_args&) {
         std::memcpy(p, s.dh_n.data(), s.dh_n.size() * sizeof(float));
         b.dh0 = p;
         b.dh_n = p;
       }},
      {"dx", "dout",
       [&](simdrnn_backward_args& b, simdrnn_forward_args&) {
         std::memcpy(p + 3, s.dout.data(), s.dout.size() * sizeof(float));
         b.dx = p;
         b.dout = p + 3;
       }},
      {"grads", "dx",
       [&](simdrnn_backward_args& b, simdrnn_forward_args&) {
         b.grads = p;
         b.dx = p + 5;
       }},
      {"grads", "workspace",
       [&](simdrnn_backward_args& b, simdrnn_forward_args&) {
         b.grads = p;
         b.workspace = p + 1;
       }},
      {"dx", "forward->seq_lens",
       [&](simdrnn_backward_args& b, simdrnn_forward_args& a) {
         std::memcpy(p, s.lens.data(), s.lens.size() * sizeof(int64_t));
         b.dx = p;
         a.seq_lens = reinterpret_cast<const int64_t*>(p);
       }},
  };
  for (const Overlap& o : cases) {
    SCOPED_TRACE(std::string(o.a) + " / " + o.b);
    std::fill(arena.begin(), arena.end(), kSentinel);
    simdrnn_forward_args a = s.fa;
    simdrnn_backward_args b = s.backward_args();
    b.forward = &a;
    o.apply(b, a);
    const std::vector<float> arena_before = arena;
    expect_rejected({o.a, o.b}, b);
    EXPECT_TRUE(arena == arena_before) << "an overlapping buffer was written";
  }
  // The reserve is read: writing grads into it is an overlap too.
  simdrnn_backward_args b = s.backward_args();
  b.grads = reinterpret_cast<float*>(s.reserve.data() + 128);
  expect_rejected({"grads", "reserve"}, b);
}

// ---- optimiser helpers: bad arguments ------------------------------------------------------------
TEST(OptimiserErrors, ClipGradNorm) {
  std::vector<float> g(33, kSentinel);
  float norm = kSentinel;
  EXPECT_INVALID(({"count"}), simdrnn_clip_grad_norm(g.data(), -1, 1.0f, &norm, 1));
  EXPECT_INVALID(({"grads"}), simdrnn_clip_grad_norm(nullptr, 33, 1.0f, &norm, 1));
  for (float bad : {0.0f, -1.0f, kNaN})
    EXPECT_INVALID(({"max_norm"}), simdrnn_clip_grad_norm(g.data(), 33, bad, &norm, 1));
  EXPECT_INVALID(({"num_threads"}), simdrnn_clip_grad_norm(g.data(), 33, 1.0f, &norm, -1));
  EXPECT_TRUE(AllSentinel(g, "grads"));
  EXPECT_EQ(norm, kSentinel);
  // count 0 with NULL is a valid no-op.
  EXPECT_EQ(simdrnn_clip_grad_norm(nullptr, 0, 1.0f, &norm, 1), SIMDRNN_OK) << last_error();
  EXPECT_EQ(norm, 0.0f);
}

TEST(OptimiserErrors, Sgd) {
  std::vector<float> p(17, kSentinel), g(17, 0.5f), v(17, kSentinel);
  EXPECT_INVALID(({"count"}), simdrnn_sgd_step(p.data(), g.data(), v.data(), -1, 0.1f, 0.9f, 0.0f, 1));
  EXPECT_INVALID(({"params"}), simdrnn_sgd_step(nullptr, g.data(), v.data(), 17, 0.1f, 0.9f, 0.0f, 1));
  EXPECT_INVALID(({"grads"}), simdrnn_sgd_step(p.data(), nullptr, v.data(), 17, 0.1f, 0.9f, 0.0f, 1));
  EXPECT_INVALID(({"velocity"}), simdrnn_sgd_step(p.data(), g.data(), nullptr, 17, 0.1f, 0.9f, 0.0f, 1));
  for (float bad : {-0.1f, kNaN}) {
    EXPECT_INVALID(({"lr"}), simdrnn_sgd_step(p.data(), g.data(), v.data(), 17, bad, 0.9f, 0.0f, 1));
    EXPECT_INVALID(({"momentum"}), simdrnn_sgd_step(p.data(), g.data(), v.data(), 17, 0.1f, bad, 0.0f, 1));
    EXPECT_INVALID(({"weight_decay"}),
                   simdrnn_sgd_step(p.data(), g.data(), v.data(), 17, 0.1f, 0.9f, bad, 1));
  }
  EXPECT_INVALID(({"num_threads"}), simdrnn_sgd_step(p.data(), g.data(), v.data(), 17, 0.1f, 0.9f, 0.0f, -2));
  EXPECT_TRUE(AllSentinel(p, "params"));
  EXPECT_TRUE(AllSentinel(v, "velocity"));
  EXPECT_EQ(simdrnn_sgd_step(nullptr, nullptr, nullptr, 0, 0.1f, 0.9f, 0.0f, 1), SIMDRNN_OK) << last_error();
}

TEST(OptimiserErrors, Adam) {
  std::vector<float> p(17, kSentinel), g(17, 0.5f), m(17, kSentinel), v(17, kSentinel);
  auto adam = [&](float* pp, const float* gg, float* mm, float* vv, int64_t count, int64_t step, float lr,
                  float b1, float b2, float eps, float wd, int32_t threads) {
    return simdrnn_adam_step(pp, gg, mm, vv, count, step, lr, b1, b2, eps, wd, threads);
  };
  float* P = p.data();
  const float* G = g.data();
  float* M = m.data();
  float* V = v.data();
  EXPECT_INVALID(({"count"}), adam(P, G, M, V, -1, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
  EXPECT_INVALID(({"params"}), adam(nullptr, G, M, V, 17, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
  EXPECT_INVALID(({"grads"}), adam(P, nullptr, M, V, 17, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
  EXPECT_INVALID(({"m"}), adam(P, G, nullptr, V, 17, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
  EXPECT_INVALID(({"v"}), adam(P, G, M, nullptr, 17, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
  for (int64_t step : {int64_t{0}, int64_t{-1}})
    EXPECT_INVALID(({"step"}), adam(P, G, M, V, 17, step, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
  for (float bad : {-1e-3f, kNaN})
    EXPECT_INVALID(({"lr"}), adam(P, G, M, V, 17, 1, bad, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
  for (float bad : {1.0f, 1.5f, -0.1f, kNaN})
    EXPECT_INVALID(({"beta1"}), adam(P, G, M, V, 17, 1, 1e-3f, bad, 0.999f, 1e-8f, 0.0f, 1));
  for (float bad : {1.0f, 2.0f, -0.1f, kNaN})
    EXPECT_INVALID(({"beta2"}), adam(P, G, M, V, 17, 1, 1e-3f, 0.9f, bad, 1e-8f, 0.0f, 1));
  for (float bad : {0.0f, -1e-8f, kNaN})
    EXPECT_INVALID(({"eps"}), adam(P, G, M, V, 17, 1, 1e-3f, 0.9f, 0.999f, bad, 0.0f, 1));
  for (float bad : {-0.01f, kNaN})
    EXPECT_INVALID(({"weight_decay"}), adam(P, G, M, V, 17, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, bad, 1));
  EXPECT_INVALID(({"num_threads"}), adam(P, G, M, V, 17, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, -1));
  EXPECT_TRUE(AllSentinel(p, "params"));
  EXPECT_TRUE(AllSentinel(m, "m"));
  EXPECT_TRUE(AllSentinel(v, "v"));
  EXPECT_EQ(adam(nullptr, nullptr, nullptr, nullptr, 0, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), SIMDRNN_OK)
      << last_error();
}

// ---- optimiser helpers: results ------------------------------------------------------------------

// |got - want| <= allowed, elementwise.
testing::AssertionResult close(const std::vector<float>& got, const std::vector<double>& want,
                               const std::vector<double>& allowed_error, const char* what) {
  for (size_t i = 0; i < got.size(); ++i) {
    const double allowed = allowed_error[i] + 1e-300;
    if (!(std::fabs(got[i] - want[i]) <= allowed))
      return testing::AssertionFailure() << what << "[" << i << "]: got " << got[i] << ", want " << want[i]
                                         << " (allowed " << allowed << ")";
  }
  return testing::AssertionSuccess();
}

const int64_t kCounts[] = {1, 7, 17, 33, 100, 1000, 40000};  // 40000 >= 2^15: split across threads

// Error bounds for the float optimisers against exact arithmetic, propagated step by step: each
// float operation rounds by at most 2^-24 of its result (kOps roundings per formula, FMA or not),
// and errors carried in from earlier steps (p, m, v) enter through the formula's derivatives.
constexpr double kU = 1.0 / 16777216.0;
constexpr double kOps = 4.0;

// A deliberately wrong reference, to show the comparisons can fail.
enum class Formula { kPyTorch, kMutated };

// simdrnn_sgd_step over a few steps (1 and 2 threads, bit-identical) against torch.optim.SGD
// (dampening 0, nesterov off) in double; kMutated uses dampening = momentum instead.
testing::AssertionResult check_sgd(int64_t n, float lr, float momentum, float wd, Formula formula) {
  const size_t N = static_cast<size_t>(n);
  std::vector<float> p = random_vector(N, 1), v(N, 0.0f), p2 = p, v2 = v;
  std::vector<double> pd(p.begin(), p.end()), vd(N, 0.0), e_p(N, 0.0), e_v(N, 0.0);
  const double dampening = formula == Formula::kMutated ? momentum : 0.0;
  for (int step = 1; step <= 4; ++step) {
    const std::vector<float> g = random_vector(N, 100 + static_cast<uint32_t>(step), -2.0f, 2.0f);
    if (simdrnn_sgd_step(p.data(), g.data(), v.data(), n, lr, momentum, wd, 1) != SIMDRNN_OK ||
        simdrnn_sgd_step(p2.data(), g.data(), v2.data(), n, lr, momentum, wd, 2) != SIMDRNN_OK)
      return testing::AssertionFailure() << "sgd_step failed: " << last_error();
    if (std::memcmp(p.data(), p2.data(), N * sizeof(float)) != 0 ||
        std::memcmp(v.data(), v2.data(), N * sizeof(float)) != 0)
      return testing::AssertionFailure() << "params / velocity differ between 1 and 2 threads";
    for (size_t i = 0; i < N; ++i) {
      const double d = g[i] + static_cast<double>(wd) * pd[i];
      const double e_d = kOps * kU * (std::fabs(g[i]) + std::fabs(wd * pd[i])) + wd * e_p[i];
      const double v_new = momentum * vd[i] + (step > 1 ? 1.0 - dampening : 1.0) * d;
      e_v[i] = momentum * e_v[i] + e_d + kOps * kU * (std::fabs(momentum * vd[i]) + std::fabs(d));
      vd[i] = v_new;
      const double p_new = pd[i] - static_cast<double>(lr) * vd[i];
      e_p[i] += lr * e_v[i] + kOps * kU * (std::fabs(pd[i]) + std::fabs(lr * vd[i]));
      pd[i] = p_new;
    }
    testing::AssertionResult r = close(v, vd, e_v, "velocity");
    if (r) r = close(p, pd, e_p, "params");
    if (!r) return r << " (step " << step << ")";
  }
  return testing::AssertionSuccess();
}

// simdrnn_adam_step over a few steps against torch.optim.Adam (amsgrad off, L2 weight decay added
// to the gradient): p -= lr / c1 * m / (sqrt(v) / sqrt(c2) + eps). kMutated puts eps inside the
// square root (a common variant).
testing::AssertionResult check_adam(int64_t n, float lr, float b1, float b2, float eps, float wd,
                                    Formula formula) {
  const size_t N = static_cast<size_t>(n);
  std::vector<float> p = random_vector(N, 2), m(N, 0.0f), v(N, 0.0f), p2 = p, m2 = m, v2 = v;
  std::vector<double> pd(p.begin(), p.end()), md(N, 0.0), vd(N, 0.0), e_p(N, 0.0), e_m(N, 0.0), e_v(N, 0.0);
  for (int64_t step = 1; step <= 5; ++step) {
    std::vector<float> g = random_vector(N, 200 + static_cast<uint32_t>(step), -1.0f, 1.0f);
    if (N > 3) g[3] = 0.0f;  // v may stay tiny: eps matters
    if (simdrnn_adam_step(p.data(), g.data(), m.data(), v.data(), n, step, lr, b1, b2, eps, wd, 1) !=
            SIMDRNN_OK ||
        simdrnn_adam_step(p2.data(), g.data(), m2.data(), v2.data(), n, step, lr, b1, b2, eps, wd, 2) !=
            SIMDRNN_OK)
      return testing::AssertionFailure() << "adam_step failed: " << last_error();
    if (std::memcmp(p.data(), p2.data(), N * sizeof(float)) != 0 ||
        std::memcmp(m.data(), m2.data(), N * sizeof(float)) != 0 ||
        std::memcmp(v.data(), v2.data(), N * sizeof(float)) != 0)
      return testing::AssertionFailure() << "params / m / v differ between 1 and 2 threads";
    const double c1 = 1.0 - std::pow(static_cast<double>(b1), static_cast<double>(step));
    const double c2 = 1.0 - std::pow(static_cast<double>(b2), static_cast<double>(step));
    for (size_t i = 0; i < N; ++i) {
      const double d = g[i] + static_cast<double>(wd) * pd[i];
      const double e_d = kOps * kU * (std::fabs(g[i]) + std::fabs(wd * pd[i])) + wd * e_p[i];
      const double m_new = b1 * md[i] + (1.0 - b1) * d;
      const double v_new = b2 * vd[i] + (1.0 - b2) * d * d;
      e_m[i] =
          b1 * e_m[i] + (1.0 - b1) * e_d + kOps * kU * (std::fabs(b1 * md[i]) + std::fabs((1.0 - b1) * d));
      e_v[i] = b2 * e_v[i] + (1.0 - b2) * (2.0 * std::fabs(d) * e_d + e_d * e_d) +
               kOps * kU * (b2 * vd[i] + (1.0 - b2) * d * d);
      md[i] = m_new;
      vd[i] = v_new;
      const double root =
          formula == Formula::kMutated ? std::sqrt(vd[i] / c2 + eps) : std::sqrt(vd[i]) / std::sqrt(c2);
      const double denom = formula == Formula::kMutated ? root : root + eps;
      const double update = static_cast<double>(lr) / c1 * md[i] / denom;
      // sqrt moves by at most min(e_v / (2 sqrt(v)), sqrt(e_v)); lr / c1 and 1 / sqrt(c2) are
      // rounded to float once each.
      const double e_root =
          (vd[i] > 0.0 ? std::min(e_v[i] / (2.0 * std::sqrt(vd[i])), std::sqrt(e_v[i])) : std::sqrt(e_v[i])) /
              std::sqrt(c2) +
          kOps * kU * root;
      const double e_update = lr / c1 * (e_m[i] / denom + std::fabs(md[i]) * e_root / (denom * denom)) +
                              2.0 * kOps * kU * std::fabs(update);
      pd[i] -= update;
      e_p[i] += e_update + kOps * kU * (std::fabs(pd[i]) + std::fabs(update));
    }
    testing::AssertionResult r = close(m, md, e_m, "m");
    if (r) r = close(v, vd, e_v, "v");
    if (r) r = close(p, pd, e_p, "params");
    if (!r) return r << " (step " << step << ")";
  }
  return testing::AssertionSuccess();
}

TEST(Optimisers, SgdMatchesPyTorchFormula) {
  for (simdrnn_isa isa : available_isas()) {
    IsaCap cap(isa);
    for (int64_t n : kCounts)
      for (const auto& [lr, momentum, wd] : {std::tuple<float, float, float>{0.1f, 0.9f, 0.0f},
                                             std::tuple<float, float, float>{0.05f, 0.0f, 0.01f},
                                             std::tuple<float, float, float>{0.3f, 0.5f, 0.1f}})
        EXPECT_TRUE(check_sgd(n, lr, momentum, wd, Formula::kPyTorch))
            << simdrnn_isa_name(isa) << " n " << n << " lr " << lr << " momentum " << momentum << " wd "
            << wd;
  }
}

TEST(Optimisers, AdamMatchesPyTorchFormula) {
  for (simdrnn_isa isa : available_isas()) {
    IsaCap cap(isa);
    for (int64_t n : kCounts)
      for (const auto& [lr, b1, b2, eps, wd] :
           {std::tuple<float, float, float, float, float>{1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f},
            std::tuple<float, float, float, float, float>{0.01f, 0.5f, 0.9f, 1e-3f, 0.05f},
            std::tuple<float, float, float, float, float>{0.1f, 0.0f, 0.0f, 1e-6f, 0.0f}})
        EXPECT_TRUE(check_adam(n, lr, b1, b2, eps, wd, Formula::kPyTorch))
            << simdrnn_isa_name(isa) << " n " << n << " lr " << lr << " b1 " << b1 << " b2 " << b2 << " eps "
            << eps << " wd " << wd;
  }
}

// Sizes whose thread shares end mid-vector (100003 over 2, 3, 4 threads):
// every thread count gives the same bits, for SGD, Adam and clipping.
TEST(Optimisers, ThreadCountsNeverChangeBits) {
  for (simdrnn_isa isa : available_isas()) {
    IsaCap cap(isa);
    for (int64_t n : {int64_t{100003}, int64_t{65537}}) {
      const size_t N = static_cast<size_t>(n);
      const std::vector<float> p0 = random_vector(N, 5), g = random_vector(N, 6, -3.0f, 3.0f);
      std::vector<float> ref_p, ref_v, ref_m, ref_ap, ref_c;
      for (int32_t threads : {1, 2, 3, 4, 7}) {
        SCOPED_TRACE(std::string(simdrnn_isa_name(isa)) + " n " + std::to_string(n) + " threads " +
                     std::to_string(threads));
        std::vector<float> p = p0, v(N, 0.25f), ap = p0, m(N, 0.1f), av(N, 0.2f), c = g;
        ASSERT_EQ(SIMDRNN_OK, simdrnn_sgd_step(p.data(), g.data(), v.data(), n, 0.1f, 0.9f, 0.01f, threads));
        ASSERT_EQ(SIMDRNN_OK, simdrnn_adam_step(ap.data(), g.data(), m.data(), av.data(), n, 3, 1e-3f, 0.9f,
                                                0.999f, 1e-8f, 0.01f, threads));
        float norm = 0.0f;
        ASSERT_EQ(SIMDRNN_OK, simdrnn_clip_grad_norm(c.data(), n, 1.0f, &norm, threads));
        if (threads == 1) {
          ref_p = p, ref_v = v, ref_ap = ap, ref_m = m, ref_c = c;
          continue;
        }
        EXPECT_EQ(0, std::memcmp(p.data(), ref_p.data(), N * 4)) << "sgd params";
        EXPECT_EQ(0, std::memcmp(v.data(), ref_v.data(), N * 4)) << "sgd velocity";
        EXPECT_EQ(0, std::memcmp(ap.data(), ref_ap.data(), N * 4)) << "adam params";
        EXPECT_EQ(0, std::memcmp(m.data(), ref_m.data(), N * 4)) << "adam m";
        EXPECT_EQ(0, std::memcmp(c.data(), ref_c.data(), N * 4)) << "clipped grads";
      }
    }
  }
}

// The bounds are tight enough to tell the formula from close variants.
TEST(Optimisers, WrongFormulasAreCaught) {
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(simdrnn_isa_name(isa));
    IsaCap cap(isa);
    EXPECT_FALSE(check_sgd(33, 0.1f, 0.9f, 0.0f, Formula::kMutated)) << "SGD with dampening passed";
    EXPECT_FALSE(check_adam(33, 0.01f, 0.5f, 0.9f, 1e-3f, 0.05f, Formula::kMutated))
        << "Adam, eps in sqrt, passed";
  }
}

TEST(Optimisers, ClipGradNorm) {
  for (simdrnn_isa isa : available_isas()) {
    IsaCap cap(isa);
    for (int64_t n : kCounts) {
      SCOPED_TRACE(std::string(simdrnn_isa_name(isa)) + " n " + std::to_string(n));
      const size_t N = static_cast<size_t>(n);
      const std::vector<float> g = random_vector(N, 3, -1.0f, 1.0f);
      double sum = 0.0;
      for (float x : g) sum += static_cast<double>(x) * x;
      const double total = std::sqrt(sum);
      // The kernels sum squares in float within blocks of 1024 (then in double): up to
      // min(n, 1024) roundings of the sum, half of that in the norm.
      const double norm_rel = (0.5 * static_cast<double>(std::min<int64_t>(n, 1024)) + 1.0) * kU;
      // Above the limit: scaled by max_norm / (norm + 1e-6) (torch.nn.utils.clip_grad_norm_).
      for (const double fraction : {0.5, 0.01}) {
        const float max_norm = static_cast<float>(total * fraction);
        std::vector<float> a = g, b = g;
        float norm_a = kSentinel, norm_b = kSentinel;
        ASSERT_EQ(simdrnn_clip_grad_norm(a.data(), n, max_norm, &norm_a, 1), SIMDRNN_OK) << last_error();
        ASSERT_EQ(simdrnn_clip_grad_norm(b.data(), n, max_norm, &norm_b, 2), SIMDRNN_OK) << last_error();
        EXPECT_EQ(0, std::memcmp(a.data(), b.data(), N * sizeof(float))) << "grads: 1 vs 2 threads";
        EXPECT_EQ(0, std::memcmp(&norm_a, &norm_b, sizeof(float))) << "norm: 1 vs 2 threads";
        EXPECT_NEAR(norm_a, total, (norm_rel + kU) * total);
        const double coef = max_norm / (total + 1e-6);
        std::vector<double> want(N), allowed(N);
        for (size_t i = 0; i < N; ++i) {
          want[i] = g[i] * coef;
          allowed[i] = (norm_rel + 2.0 * kU) * std::fabs(want[i]);  // the coefficient's error, 2 roundings
        }
        EXPECT_TRUE(close(a, want, allowed, "clipped grads"));
        double after = 0.0;
        for (float x : a) after += static_cast<double>(x) * x;
        EXPECT_LE(std::sqrt(after), max_norm * (1.0 + norm_rel + 2.0 * kU));
      }
      // At or below the limit: untouched, bit for bit; the norm is still reported; norm may be NULL.
      for (const double fraction : {1.5, 100.0}) {
        std::vector<float> a = g;
        float norm = kSentinel;
        ASSERT_EQ(simdrnn_clip_grad_norm(a.data(), n, static_cast<float>(total * fraction), &norm, 2),
                  SIMDRNN_OK);
        EXPECT_EQ(0, std::memcmp(a.data(), g.data(), N * sizeof(float))) << "changed below the limit";
        EXPECT_NEAR(norm, total, (norm_rel + kU) * total);
        ASSERT_EQ(simdrnn_clip_grad_norm(a.data(), n, static_cast<float>(total * fraction), nullptr, 1),
                  SIMDRNN_OK);
        EXPECT_EQ(0, std::memcmp(a.data(), g.data(), N * sizeof(float)));
      }
    }
  }
}

}  // namespace
