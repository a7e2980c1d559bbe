// simdrnn_backward for LSTM and GRU cells against the double reference backward and central finite
// differences (support/gated_training.hpp), on every ISA this CPU has.
//
// The loss is L = sum(wy * y) + sum(wout * out) + sum(whn * h_n) + sum(wcn * c_n) with fixed random
// weights, given to backward as dy, dout, dh_n and dc_n. Every parameter (through the documented
// flat layout: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr, weight_peephole per layer and
// direction, then weight_hy, bias_hy), every element of dx, dh0 and dc0 is compared.
//   Sweep: every cell variant (LSTM plain, peepholes, projection, both; GRU with
//     linear_before_reset 1 and 0) x clip x direction x 1-2 layers, seeded draws of small shapes
//     and of every option (lengths, h0 / c0 given or NULL, dy / dout / dh_n / dc_n given or NULL,
//     biases, output layer with and without bias_hy, layouts, y requested or not), against finite
//     differences of every element.
//   Tails: H in {1, 7, 9, 17, 33, 65} (panels are 8, 16 and 64 wide) on two-layer models with
//     everything, against the reference (itself checked by sampled finite differences).
//   Every check runs backward at 1, 2 and 3 threads (1 and 2 in quick mode) with bit-identical
//   results and repeated calls identical, with accumulate = 0 (outputs start as NaN: they must not
//   be read) and accumulate = 1 (onto random values and onto a first result), into guard-paged
//   buffers, and checks that the reserve is left unchanged.
//   Features (each incoming gradient alone, biases partial or absent, a tight clip, the output
//   layer without dout) against the analytic reference, which test_gated_reference_backward checks
//   against finite differences of every element on the same features; outputs NULL
//   independently, forward_training equal to forward, the state updated in place (h_n == h0,
//   c_n == c0), set_params with a stale reserve, and wrong references that must fail the
//   comparison.
// The tolerance (gated_grad_rel, the reference's root-sum-square magnitudes and sensitivities) is
// explained in support/gated_training.cpp. The reference itself is checked by
// test_gated_reference_backward (finite differences) and test_gated_onednn_backward (oneDNN).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/gated_training.hpp"
#include "support/gated_util.hpp"
#include "support/onednn_rnn.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

std::vector<int32_t> thread_counts() {
  return quick_mode() ? std::vector<int32_t>{1, 2} : std::vector<int32_t>{1, 2, 3};
}

// The whole check of one problem against `want`: every ISA, every thread count (bit-identical),
// repeated calls, overwrite and accumulate.
void check_problem(const GatedProblem& p, const GatedExpected& want) {
  SCOPED_TRACE(p.c.name() + " seed " + std::to_string(p.seed));
  const double rel = gated_grad_rel(p);
  const std::vector<int32_t> threads = thread_counts();
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    GatedTrainer trainer(p, 2);
    if (!trainer.ok()) continue;
    simdrnn_isa model_isa{};
    simdrnn_model_isa(trainer.model(), &model_isa);
    EXPECT_EQ(model_isa, isa);

    const FloatGrads one = trainer.backward(1, 0);
    if (one.grads.empty()) continue;
    for (int32_t t : threads) {
      const FloatGrads more = trainer.backward(t, 0);
      EXPECT_TRUE(bit_equal(one.grads, more.grads)) << "grads differ between 1 and " << t << " threads";
      EXPECT_TRUE(bit_equal(one.dx, more.dx)) << "dx differs between 1 and " << t << " threads";
      EXPECT_TRUE(bit_equal(one.dh0, more.dh0)) << "dh0 differs between 1 and " << t << " threads";
      EXPECT_TRUE(bit_equal(one.dc0, more.dc0)) << "dc0 differs between 1 and " << t << " threads";
    }
    const GradCheck check = compare_all(p, want, one, rel);
    EXPECT_TRUE(check.ok()) << check.message << " (max ratio " << check.max_ratio << ")";

    // accumulate = 1 adds into whatever the buffers hold.
    FloatGrads init;
    init.grads = random_vector(static_cast<size_t>(p.num_params()), p.seed + 21, -2.0f, 2.0f);
    init.dx = random_vector(static_cast<size_t>(p.x_count()), p.seed + 22, -2.0f, 2.0f);
    init.dh0 = random_vector(static_cast<size_t>(p.h_count()), p.seed + 23, -2.0f, 2.0f);
    if (p.c.lstm()) init.dc0 = random_vector(static_cast<size_t>(p.c_count()), p.seed + 24, -2.0f, 2.0f);
    const FloatGrads acc1 = trainer.backward(1, 1, &init);
    const FloatGrads acc_more = trainer.backward(threads.back(), 1, &init);
    EXPECT_TRUE(bit_equal(acc1.grads, acc_more.grads)) << "accumulated grads differ between thread counts";
    EXPECT_TRUE(bit_equal(acc1.dx, acc_more.dx)) << "accumulated dx differs between thread counts";
    EXPECT_TRUE(bit_equal(acc1.dh0, acc_more.dh0)) << "accumulated dh0 differs between thread counts";
    EXPECT_TRUE(bit_equal(acc1.dc0, acc_more.dc0)) << "accumulated dc0 differs between thread counts";
    const GradCheck ca = compare_all(p, want, acc1, rel, &init);
    EXPECT_TRUE(ca.ok()) << "accumulate: " << ca.message;
    // ... and onto the result of a first call: twice the gradient.
    const FloatGrads twice = trainer.backward(2, 1, &one);
    const GradCheck c2 = compare_all(p, want, twice, rel, &one);
    EXPECT_TRUE(c2.ok()) << "accumulate onto the first result: " << c2.message;
  }
}

// Finite differences of every element, checked against the analytic reference, then simdrnn.
void check_with_finite_differences(const GatedProblem& p) {
  const GatedExpected want = expected_from_finite_differences(p);
  ASSERT_TRUE(reference_agrees(p, want));
  check_problem(p, want);
}

// The feature tests compare with the analytic reference: test_gated_reference_backward checks it
// against finite differences of every element on the same features, and the sweep above compares
// simdrnn with finite differences directly. (Finite differences here too took 90% of this file's
// time, 20 s of ctest time, for no check the other two do not make.)
void check_feature(const GatedProblem& p) { check_problem(p, expected_from_reference(p)); }

// ---- the sweep: every variant x clip x direction x layer count, seeded draws of the rest -------------

struct SweepParam {
  const CellVariant* variant;
  bool clip;
  bool bidirectional;
  int64_t layers;
};

std::string sweep_label(const SweepParam& s) {
  return std::string(s.variant->name) + (s.clip ? "_clip" : "") + (s.bidirectional ? "_bi" : "_uni") + "_l" +
         std::to_string(s.layers);
}
std::string sweep_name(const ::testing::TestParamInfo<SweepParam>& info) { return sweep_label(info.param); }
void PrintTo(const SweepParam& s, std::ostream* os) { *os << sweep_label(s); }

std::vector<SweepParam> sweep_params() {
  std::vector<SweepParam> v;
  for (const CellVariant& variant : gated_variants())
    for (bool clip : {false, true})
      for (bool bi : {false, true})
        for (int64_t layers : {1, 2}) v.push_back({&variant, clip, bi, layers});
  return v;
}

class GatedBackwardSweep : public ::testing::TestWithParam<SweepParam> {};

// Draw 0: everything (lengths, h0, c0, output layer with bias_hy, biases, dh_n, dc_n).
// Draw 1: nothing optional (no lengths, h0, c0, biases, dh_n, dc_n; output layer without bias_hy or
// none). Later draws: each option at random, y requested or not. Sizes: I, H in 1..6, T in
// {1, 3, 5}, N in {1, 3}; layouts alternate.
TEST_P(GatedBackwardSweep, EveryGradientAgainstFiniteDifferences) {
  const SweepParam s = GetParam();
  uint32_t index = 0;
  for (const SweepParam& other : sweep_params()) {
    if (other.variant == s.variant && other.clip == s.clip && other.bidirectional == s.bidirectional &&
        other.layers == s.layers)
      break;
    ++index;
  }
  std::mt19937 gen(8765u + 97u * index);
  auto pick = [&](std::initializer_list<int64_t> values) {
    std::vector<int64_t> v(values);
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(gen)];
  };
  auto coin = [&]() { return std::uniform_int_distribution<int>(0, 1)(gen) == 1; };
  const int draws = quick_mode() ? 2 : 4;
  for (int draw = 0; draw < draws; ++draw) {
    GatedTrainCase c;
    c.variant = s.variant;
    c.clip = s.clip ? 0.5f : 0.0f;
    c.bidirectional = s.bidirectional;
    c.layers = s.layers;
    c.input = pick({1, 2, 3, 4, 5, 6});
    c.hidden = pick({1, 2, 3, 4, 5, 6});
    if (quick_mode()) c.hidden = std::min<int64_t>(c.hidden, 4);
    if (s.variant->projection && c.hidden == 1) c.hidden = 2;  // a projection needs H >= 2
    c.layout = (index + static_cast<uint32_t>(draw)) % 2 == 0 ? SIMDRNN_TIME_MAJOR : SIMDRNN_BATCH_MAJOR;
    if (draw == 0) {
      c.steps = quick_mode() ? 3 : 5;
      c.batch = 3;
      c.lens = c.h0 = c.c0 = c.dh_n = c.dc_n = c.bias = c.bias_hy = true;
      c.output = pick({1, 2, 3});
    } else if (draw == 1) {
      c.steps = pick({1, 3});
      c.batch = pick({1, 3});
      c.lens = c.h0 = c.c0 = c.dh_n = c.dc_n = c.bias = c.bias_hy = false;
      c.output = coin() ? 2 : 0;
    } else {
      c.steps = pick({1, 3, 5});
      c.batch = pick({1, 3});
      c.lens = coin();
      c.h0 = coin();
      c.c0 = coin();
      c.dh_n = coin();
      c.dc_n = coin();
      c.bias = coin();
      c.output = coin() ? pick({1, 2, 3}) : 0;
      c.bias_hy = coin();
      c.dout = coin();
      // dy at random, but always some incoming gradient.
      c.dy = coin() || !(c.dh_n || (c.dc_n && c.lstm()) || (c.output > 0 && c.dout));
      c.forward_y = coin();
    }
    check_with_finite_differences(make_gated_problem(c, 900u + 31u * index + static_cast<uint32_t>(draw)));
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Sweep, GatedBackwardSweep, ::testing::ValuesIn(sweep_params()), sweep_name);

// ---- sizes over every SIMD tail ---------------------------------------------------------------------

struct TailParam {
  const CellVariant* variant;
  int64_t hidden;
};
std::string tail_label(const TailParam& t) {
  return std::string(t.variant->name) + "_h" + std::to_string(t.hidden);
}
std::string tail_name(const ::testing::TestParamInfo<TailParam>& info) { return tail_label(info.param); }
void PrintTo(const TailParam& t, std::ostream* os) { *os << tail_label(t); }

std::vector<TailParam> tail_params() {
  const std::vector<int64_t> sizes =
      quick_mode() ? std::vector<int64_t>{1, 17, 65} : std::vector<int64_t>{1, 7, 9, 17, 33, 65};
  std::vector<TailParam> v;
  for (const CellVariant& variant : gated_variants())
    for (int64_t h : sizes) v.push_back({&variant, variant.projection && h == 1 ? 2 : h});
  return v;
}

class GatedBackwardTails : public ::testing::TestWithParam<TailParam> {};

// Two layers with everything (lengths, h0, c0, dh_n, dc_n, output layer), alternating direction,
// layout and clip; I cycles through {1, 9, 17, 33, 65}. Against the reference, which a sample of
// finite differences (3 elements per tensor) confirms at this size.
TEST_P(GatedBackwardTails, EveryGradientAgainstTheReference) {
  const TailParam t = GetParam();
  const std::vector<int64_t> inputs = {1, 9, 17, 33, 65};
  const size_t k = static_cast<size_t>(t.hidden) % inputs.size();
  GatedTrainCase c;
  c.variant = t.variant;
  c.hidden = t.hidden;
  c.input = inputs[k];
  c.steps = quick_mode() ? 3 : 4;
  c.batch = 3;
  c.layers = 2;
  c.bidirectional = k % 2 == 0;
  c.layout = k % 2 == 1 ? SIMDRNN_TIME_MAJOR : SIMDRNN_BATCH_MAJOR;
  c.clip = t.hidden % 2 == 1 ? 0.5f : 0.0f;
  c.lens = c.h0 = c.c0 = c.dh_n = c.dc_n = true;
  c.output = 3;
  // Thousands of pre-activations: 5e-5 from every clip kink still exceeds how far the +-2e-5
  // perturbations of the sampled finite differences (and a float forward's errors) move them.
  const GatedProblem p = make_gated_problem(c, 1000u + static_cast<uint32_t>(t.hidden), 5e-5);
  const GatedExpected sampled = expected_from_finite_differences(p, quick_mode() ? 1 : 3);
  ASSERT_TRUE(reference_agrees(p, sampled));
  check_problem(p, expected_from_reference(p));
}

INSTANTIATE_TEST_SUITE_P(Sizes, GatedBackwardTails, ::testing::ValuesIn(tail_params()), tail_name);

// ---- particular features --------------------------------------------------------------------------

GatedTrainCase full_case(const CellVariant& variant) {
  GatedTrainCase c;
  c.variant = &variant;
  // Quick mode (the sanitizer run) keeps every feature on smaller shapes.
  c.input = quick_mode() ? 3 : 5;
  c.hidden = quick_mode() ? 3 : 6;
  c.steps = quick_mode() ? 3 : 5;
  c.batch = quick_mode() ? 2 : 3;
  c.layers = 2;
  c.bidirectional = true;
  c.output = 3;
  c.lens = c.h0 = c.c0 = c.dh_n = c.dc_n = true;
  return c;
}

// Each incoming gradient alone (dy, dout, dh_n, dc_n): the others NULL; the forward without y
// when dy is NULL.
TEST(GatedBackwardFeatures, EachIncomingGradientAlone) {
  for (const CellVariant& variant : gated_variants())
    for (int only = 0; only < 4; ++only) {
      GatedTrainCase c = full_case(variant);
      if (only == 3 && !c.lstm()) continue;
      c.dy = only == 0;
      c.dout = only == 1;
      c.dh_n = only == 2;
      c.dc_n = only == 3;
      c.forward_y = only == 0;
      check_feature(make_gated_problem(c, 40 + static_cast<uint32_t>(only)));
    }
}

// The output layer present but dout NULL: the W_hy / b_hy gradients are zero (overwritten).
TEST(GatedBackwardFeatures, OutputLayerWithoutDout) {
  for (const CellVariant& variant : gated_variants()) {
    GatedTrainCase c = full_case(variant);
    c.dout = false;
    check_feature(make_gated_problem(c, 44));
  }
}

// Biases: none; only bias_hh_l0 (the model has them all, zero); bias_hy without cell biases.
TEST(GatedBackwardFeatures, PartialAndAbsentBiases) {
  for (const CellVariant& variant : gated_variants()) {
    GatedTrainCase c = full_case(variant);
    c.bias = false;
    c.bias_hy = false;
    check_feature(make_gated_problem(c, 45));
    c.partial_bias = true;
    check_feature(make_gated_problem(c, 46));
    c.partial_bias = false;
    c.bias_hy = true;
    check_feature(make_gated_problem(c, 47));
  }
}

// A tight clip, where many gate pre-activations are clamped and their gradients stop.
TEST(GatedBackwardFeatures, TightClip) {
  for (const CellVariant& variant : gated_variants()) {
    GatedTrainCase c = full_case(variant);
    c.clip = 0.2f;
    check_feature(make_gated_problem(c, 48));
  }
}

// dx, dh0, dc0 and grads are independent: NULL for some leaves the others unchanged (bitwise). All
// NULL is a caller error, as all-NULL outputs are for forward.
TEST(GatedBackwardFeatures, OutputsMayBeNull) {
  for (const CellVariant& variant : gated_variants()) {
    const GatedProblem p = make_gated_problem(full_case(variant), 49);
    SCOPED_TRACE(p.c.name());
    GatedTrainer trainer(p, 1);
    if (!trainer.ok()) continue;
    const FloatGrads full = trainer.backward(1, 0);
    simdrnn_backward_args none = trainer.backward_args(1, 0);
    EXPECT_EQ(simdrnn_backward(trainer.model(), &none), SIMDRNN_INVALID_ARGUMENT);
    const int outputs = p.c.lstm() ? 4 : 3;
    for (int mask = 1; mask < (1 << outputs); ++mask) {
      SCOPED_TRACE("mask " + std::to_string(mask));
      std::vector<float> grads(static_cast<size_t>(p.num_params()), NAN),
          dx(static_cast<size_t>(p.x_count()), NAN), dh0(static_cast<size_t>(p.h_count()), NAN),
          dc0(static_cast<size_t>(p.c_count()), NAN);
      simdrnn_backward_args b = trainer.backward_args(1, 0);
      b.grads = mask & 1 ? grads.data() : nullptr;
      b.dx = mask & 2 ? dx.data() : nullptr;
      b.dh0 = mask & 4 ? dh0.data() : nullptr;
      b.dc0 = mask & 8 ? dc0.data() : nullptr;
      ASSERT_EQ(simdrnn_backward(trainer.model(), &b), SIMDRNN_OK) << simdrnn_last_error();
      if (mask & 1) {
        EXPECT_TRUE(bit_equal(grads, full.grads)) << "grads";
      }
      if (mask & 2) {
        EXPECT_TRUE(bit_equal(dx, full.dx)) << "dx";
      }
      if (mask & 4) {
        EXPECT_TRUE(bit_equal(dh0, full.dh0)) << "dh0";
      }
      if (mask & 8) {
        EXPECT_TRUE(bit_equal(dc0, full.dc0)) << "dc0";
      }
    }
    // dc0 alone is an output too.
    if (p.c.lstm()) {
      std::vector<float> dc0(static_cast<size_t>(p.c_count()), NAN);
      simdrnn_backward_args b = trainer.backward_args(1, 0);
      b.dc0 = dc0.data();
      ASSERT_EQ(simdrnn_backward(trainer.model(), &b), SIMDRNN_OK) << simdrnn_last_error();
      EXPECT_TRUE(bit_equal(dc0, full.dc0));
    }
  }
}

// forward_training computes what simdrnn_forward does, bit for bit: y, h_n, c_n and out.
TEST(GatedBackwardFeatures, ForwardTrainingMatchesForward) {
  for (const CellVariant& variant : gated_variants())
    for (int flavour = 0; flavour < 2; ++flavour) {
      GatedTrainCase c = full_case(variant);
      c.clip = flavour ? 0.5f : 0.0f;
      c.layout = flavour ? SIMDRNN_BATCH_MAJOR : SIMDRNN_TIME_MAJOR;
      const GatedProblem p = make_gated_problem(c, 50);
      SCOPED_TRACE(c.name());
      for (simdrnn_isa isa : available_isas()) {
        SCOPED_TRACE(simdrnn_isa_name(isa));
        IsaCap cap(isa);
        GatedTrainer trainer(p, 2);
        if (!trainer.ok()) continue;
        simdrnn_forward_args a = trainer.args();
        std::vector<float> y(static_cast<size_t>(p.y_count())), h_n(static_cast<size_t>(p.h_count())),
            c_n(static_cast<size_t>(p.c_count())), out(static_cast<size_t>(p.out_count()));
        a.y = y.data();
        a.h_n = h_n.data();
        a.c_n = p.c.lstm() ? c_n.data() : nullptr;
        a.out = out.data();
        ASSERT_EQ(simdrnn_forward(trainer.model(), &a), SIMDRNN_OK) << simdrnn_last_error();
        EXPECT_TRUE(bit_equal(y, trainer.y()));
        EXPECT_TRUE(bit_equal(h_n, trainer.h_n()));
        EXPECT_TRUE(bit_equal(c_n, trainer.c_n()));
        EXPECT_TRUE(bit_equal(out, trainer.out()));
      }
    }
}

// The state updated in place (h_n == h0, c_n == c0) during forward_training: forward_training keeps
// its own copy of the initial state in the reserve, so backward with the very same args gives the
// gradients of the original h0 and c0, bit for bit those of a run without aliasing.
TEST(GatedBackwardFeatures, InPlaceStateForwardTrainingThenBackward) {
  for (const CellVariant& variant : gated_variants()) {
    GatedTrainCase c = full_case(variant);
    c.bidirectional = false;
    c.dh_n = c.dc_n = false;
    const GatedProblem p = make_gated_problem(c, 51);
    SCOPED_TRACE(c.name());
    GatedTrainer trainer(p, 1);
    if (!trainer.ok()) continue;
    const FloatGrads want = trainer.backward(1, 0);
    std::vector<float> h_state = p.h0, c_state = p.c0;
    simdrnn_forward_args a = trainer.args();
    a.h0 = h_state.data();
    a.h_n = h_state.data();
    if (p.c.lstm()) {
      a.c0 = c_state.data();
      a.c_n = c_state.data();
    }
    std::vector<unsigned char> reserve(trainer.reserve().size());
    ASSERT_EQ(simdrnn_forward_training(trainer.model(), &a, reserve.data(), reserve.size()), SIMDRNN_OK)
        << simdrnn_last_error();
    EXPECT_TRUE(bit_equal(h_state, trainer.h_n())) << "h_n in place";
    if (p.c.lstm()) {
      EXPECT_TRUE(bit_equal(c_state, trainer.c_n())) << "c_n in place";
    }
    FloatGrads got;
    got.grads.assign(static_cast<size_t>(p.num_params()), NAN);
    got.dx.assign(static_cast<size_t>(p.x_count()), NAN);
    got.dh0.assign(static_cast<size_t>(p.h_count()), NAN);
    got.dc0.assign(static_cast<size_t>(p.c_count()), NAN);
    simdrnn_backward_args b = trainer.backward_args(1, 0);
    b.forward = &a;
    b.reserve = reserve.data();
    b.grads = got.grads.data();
    b.dx = got.dx.data();
    b.dh0 = got.dh0.data();
    b.dc0 = p.c.lstm() ? got.dc0.data() : nullptr;
    ASSERT_EQ(simdrnn_backward(trainer.model(), &b), SIMDRNN_OK) << simdrnn_last_error();
    EXPECT_TRUE(bit_equal(got.grads, want.grads)) << "grads: the gradients of h0 := h_n?";
    EXPECT_TRUE(bit_equal(got.dx, want.dx));
    EXPECT_TRUE(bit_equal(got.dh0, want.dh0));
    if (p.c.lstm()) {
      EXPECT_TRUE(bit_equal(got.dc0, want.dc0)) << "dc0: the gradients of c0 := c_n?";
    }
  }
}

// get_params / set_params round trip on gated models (weight_hr and the peepholes included); a
// reserve filled before set_params is rejected with the outputs untouched; after a new
// forward_training the gradients are those of a model created from the new parameters, bitwise.
TEST(GatedBackwardFeatures, SetParamsAndStaleReserve) {
  for (const CellVariant& variant : gated_variants()) {
    const GatedProblem p = make_gated_problem(full_case(variant), 52);
    GatedProblem q = make_gated_problem(full_case(variant), 53);  // other weights, same data
    q.x = p.x;
    q.h0 = p.h0;
    q.c0 = p.c0;
    q.lens = p.lens;
    q.wy = p.wy;
    q.wout = p.wout;
    q.whn = p.whn;
    q.wcn = p.wcn;
    SCOPED_TRACE(p.c.name());
    GatedTrainer trainer(p, 2);
    if (!trainer.ok()) continue;
    GatedTrainer fresh(q, 2);
    if (!fresh.ok()) continue;
    const FloatGrads want = fresh.backward(2, 0);
    std::vector<float> new_params(q.params.begin(), q.params.end());
    ASSERT_EQ(simdrnn_model_set_params(trainer.model(), new_params.data()), SIMDRNN_OK)
        << simdrnn_last_error();
    std::vector<float> got(new_params.size(), NAN);
    ASSERT_EQ(simdrnn_model_get_params(trainer.model(), got.data()), SIMDRNN_OK);
    EXPECT_TRUE(bit_equal(got, new_params)) << "get_params after set_params";

    std::vector<float> grads(new_params.size(), -5.0f), dx(static_cast<size_t>(p.x_count()), -5.0f),
        dh0(static_cast<size_t>(p.h_count()), -5.0f), dc0(static_cast<size_t>(p.c_count()), -5.0f);
    simdrnn_backward_args b = trainer.backward_args(1, 0);
    b.grads = grads.data();
    b.dx = dx.data();
    b.dh0 = dh0.data();
    b.dc0 = p.c.lstm() ? dc0.data() : nullptr;
    EXPECT_EQ(simdrnn_backward(trainer.model(), &b), SIMDRNN_INVALID_ARGUMENT);
    EXPECT_NE(std::string(simdrnn_last_error()).find("reserve"), std::string::npos) << simdrnn_last_error();
    for (const std::vector<float>* v : {&grads, &dx, &dh0, &dc0})
      for (float e : *v) ASSERT_EQ(e, -5.0f) << "an output of a rejected call was written";

    simdrnn_forward_args a = trainer.args();
    std::vector<float> y(static_cast<size_t>(p.y_count())), h_n(static_cast<size_t>(p.h_count())),
        c_n(static_cast<size_t>(p.c_count())), out(static_cast<size_t>(p.out_count()));
    a.y = y.data();
    a.h_n = h_n.data();
    a.c_n = p.c.lstm() ? c_n.data() : nullptr;
    a.out = out.data();
    std::vector<unsigned char> reserve(trainer.reserve().size());
    ASSERT_EQ(simdrnn_forward_training(trainer.model(), &a, reserve.data(), reserve.size()), SIMDRNN_OK)
        << simdrnn_last_error();
    EXPECT_TRUE(bit_equal(y, fresh.y()));
    EXPECT_TRUE(bit_equal(c_n, fresh.c_n()));
    b.forward = &a;
    b.reserve = reserve.data();
    b.num_threads = 2;
    ASSERT_EQ(simdrnn_backward(trainer.model(), &b), SIMDRNN_OK) << simdrnn_last_error();
    EXPECT_TRUE(bit_equal(grads, want.grads)) << "gradients after set_params differ from a fresh model's";
    EXPECT_TRUE(bit_equal(dx, want.dx));
    EXPECT_TRUE(bit_equal(dh0, want.dh0));
    if (p.c.lstm()) {
      EXPECT_TRUE(bit_equal(dc0, want.dc0));
    }
  }
}

// ---- the checks can fail ------------------------------------------------------------------------------

// Wrong references are rejected by the comparison against a float implementation: oneDNN's
// gradients and simdrnn's. Mutations: the gate blocks of dW_ih swapped (LSTM i and f, GRU r and z),
// the peephole gradients of i and o swapped, dW_hr transposed (square part), the two directions'
// bias gradients swapped, dc0 negated, dh0 shifted by one element, and a 0.1% error in the
// largest gradient.
void expect_mutations_caught(const GatedProblem& p, const GatedExpected& want, const FloatGrads& got,
                             const char* implementation) {
  SCOPED_TRACE(implementation);
  const double rel = gated_grad_rel(p);
  const GradCheck base = compare_all(p, want, got, rel);
  ASSERT_TRUE(base.ok()) << base.message;
  const int64_t H = p.c.hidden;
  auto rejected = [&](const GatedExpected& bad, const char* what) {
    const GradCheck check = compare_all(p, bad, got, rel);
    EXPECT_FALSE(check.ok()) << what << " passed (max ratio " << check.max_ratio << ")";
  };
  auto swap_blocks = [&](GatedExpected* e, const char* name, int64_t a, int64_t b, int64_t count) {
    const ParamTensor* t = find_param(p.layout, name);
    ASSERT_NE(t, nullptr) << name;
    for (int64_t i = 0; i < count; ++i)
      std::swap(e->params.g[static_cast<size_t>(t->offset + a + i)],
                e->params.g[static_cast<size_t>(t->offset + b + i)]);
  };
  {
    GatedExpected bad = want;
    const ParamTensor* w = find_param(p.layout, "weight_ih_l1_reverse");
    ASSERT_NE(w, nullptr);
    const int64_t block = w->count / gate_count(p.config);
    swap_blocks(&bad, "weight_ih_l1_reverse", 0, block, block);
    rejected(bad, "swapped gate blocks of dW_ih");
  }
  {
    GatedExpected bad = want;
    swap_blocks(&bad, "bias_hh_l0", 0, H, H);
    rejected(bad, "swapped gate blocks of db_hh");
  }
  {
    GatedExpected bad = want;
    const ParamTensor* fwd = find_param(p.layout, "bias_ih_l1");
    const ParamTensor* rev = find_param(p.layout, "bias_ih_l1_reverse");
    ASSERT_NE(fwd, nullptr);
    ASSERT_NE(rev, nullptr);
    for (int64_t i = 0; i < fwd->count; ++i)
      std::swap(bad.params.g[static_cast<size_t>(fwd->offset + i)],
                bad.params.g[static_cast<size_t>(rev->offset + i)]);
    rejected(bad, "swapped direction biases");
  }
  if (p.c.peephole()) {
    GatedExpected bad = want;
    swap_blocks(&bad, "weight_peephole_l0", 0, 2 * H, H);
    rejected(bad, "swapped peephole gradients of i and o");
  }
  if (p.config.proj_size > 1) {
    GatedExpected bad = want;
    const ParamTensor* hr = find_param(p.layout, "weight_hr_l1");
    ASSERT_NE(hr, nullptr);
    const int64_t P = p.config.proj_size;
    for (int64_t q = 0; q < P; ++q)
      for (int64_t j = 0; j < P; ++j)
        bad.params.g[static_cast<size_t>(hr->offset + q * H + j)] =
            want.params.g[static_cast<size_t>(hr->offset + j * H + q)];
    rejected(bad, "transposed dW_hr");
  }
  if (p.c.lstm()) {
    GatedExpected bad = want;
    for (double& v : bad.dc0.g) v = -v;
    rejected(bad, "negated dc0");
  }
  {
    GatedExpected bad = want;
    std::rotate(bad.dh0.g.begin(), bad.dh0.g.begin() + 1, bad.dh0.g.end());
    rejected(bad, "dh0 shifted by one element");
  }
  {
    GatedExpected bad = want;
    size_t worst = 0;
    for (size_t i = 0; i < want.params.g.size(); ++i)
      if (std::fabs(want.params.g[i]) > std::fabs(want.params.g[worst])) worst = i;
    bad.params.g[worst] *= 1.001;
    rejected(bad, "a 0.1% error in the largest gradient");
  }
}

// A problem oneDNN can run too: no clip, no output layer, time-major, no lengths.
GatedProblem mutation_problem(const CellVariant& variant) {
  GatedTrainCase c = full_case(variant);
  c.input = 4;
  c.hidden = 5;
  c.output = 0;
  c.lens = false;
  return make_gated_problem(c, 60);
}

// oneDNN's gradients of a problem, in the flat layout (bidirectional, as mutation_problem makes).
FloatGrads onednn_gradients(const GatedProblem& p) {
  OnednnGatedRnnTraining onednn;
  onednn.setup(p.config, p.c.steps, p.c.batch, to_baseline(p.ref), 1, BaselineDirection::kBidirectionalConcat);
  onednn.forward(p.x.data(), p.h0.data(), p.c0.empty() ? nullptr : p.c0.data(), nullptr, nullptr, nullptr);
  FloatGrads got;
  got.dx.assign(p.x.size(), NAN);
  got.dh0.assign(static_cast<size_t>(p.h_count()), NAN);
  if (p.c.lstm()) got.dc0.assign(static_cast<size_t>(p.c_count()), NAN);
  std::vector<BaselineGatedCellGrads> cells;
  onednn.backward(p.wy.data(), p.whn.data(), p.wcn.empty() ? nullptr : p.wcn.data(), got.dx.data(),
                  got.dh0.data(), p.c.lstm() ? got.dc0.data() : nullptr, &cells);
  got.grads.assign(static_cast<size_t>(p.num_params()), NAN);
  for (int64_t l = 0; l < p.c.layers; ++l)
    for (int64_t d = 0; d < 2; ++d) {
      const BaselineGatedCellGrads& cell = cells[static_cast<size_t>(l * 2 + d)];
      for (const auto& [name, data] :
           {std::make_pair("weight_ih", &cell.w_ih), std::make_pair("weight_hh", &cell.w_hh),
            std::make_pair("bias_ih", &cell.b_ih), std::make_pair("bias_hh", &cell.b_hh),
            std::make_pair("weight_hr", &cell.w_hr), std::make_pair("weight_peephole", &cell.peephole)}) {
        const ParamTensor* t = find_param(p.layout, name + cell_suffix(l, d));
        if (t != nullptr) std::copy(data->begin(), data->end(), got.grads.begin() + t->offset);
      }
    }
  return got;
}

// One set of finite differences (the analytic reference in quick mode) per variant, against which
// both oneDNN's and simdrnn's gradients pass and every mutation fails.
TEST(GatedBackwardSelfCheck, WrongReferencesAreCaught) {
  for (const CellVariant& variant : gated_variants()) {
    const GatedProblem p = mutation_problem(variant);
    SCOPED_TRACE(p.c.name());
    const GatedExpected want =
        quick_mode() ? expected_from_reference(p) : expected_from_finite_differences(p);
    ASSERT_TRUE(reference_agrees(p, want));
    expect_mutations_caught(p, want, onednn_gradients(p), "oneDNN");
    GatedTrainer trainer(p, 1);
    if (!trainer.ok()) continue;
    const FloatGrads got = trainer.backward(1, 0);
    if (got.grads.empty()) continue;
    expect_mutations_caught(p, want, got, "simdrnn");
  }
}

}  // namespace
}  // namespace simdrnn_test
