// The double reference backward of LSTM and GRU cells (reference_backward_flat) against central
// finite differences of the double forward (reference_forward_flat), independently of the
// library: every cell variant (LSTM plain, peepholes, projection, both; GRU with
// linear_before_reset 1 and 0), clip, 1 and 2 layers, both directions, both layouts, lengths,
// h0 / c0 given or not, every incoming gradient (dy, dout, dh_n, dc_n) present or not, biases
// present, absent or partial, the output layer with and without bias_hy. Every parameter, x, h0
// and c0 element is perturbed (also without h0 / c0: the gradient at the zero state). Also: the
// flat double forward agrees with the float-weight forward reference the forward tests trust, the
// flat layout is the one simdrnn reports, and wrong gradients (swapped gates, a 0.1% error) fail
// the comparison, so it is known to bite.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/gated_training.hpp"
#include "support/gated_util.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

const CellVariant& variant_named(const std::string& name) {
  for (const CellVariant& v : gated_variants())
    if (name == v.name) return v;
  ADD_FAILURE() << "no variant " << name;
  return gated_variants().front();
}

// Every result of a problem against finite differences of every element.
void check_against_finite_differences(const GatedProblem& p, double* worst = nullptr) {
  SCOPED_TRACE(p.c.name() + " seed " + std::to_string(p.seed));
  const GatedExpected e = expected_from_finite_differences(p);
  double ratio = 0.0;
  EXPECT_TRUE(reference_agrees(p, e, &ratio));
  if (worst != nullptr) *worst = std::max(*worst, ratio);
  // Magnitudes bound the values they belong to (a magnitude is a sum of |terms|).
  const struct {
    const std::vector<double>*value, *mag, *sens;
  } parts[] = {{&e.exact.grads, &e.exact.grads_mag, &e.exact.grads_sens},
               {&e.exact.dx, &e.exact.dx_mag, &e.exact.dx_sens},
               {&e.exact.dh0, &e.exact.dh0_mag, &e.exact.dh0_sens},
               {&e.exact.dc0, &e.exact.dc0_mag, &e.exact.dc0_sens}};
  for (const auto& part : parts) {
    ASSERT_EQ(part.value->size(), part.mag->size());
    ASSERT_EQ(part.value->size(), part.sens->size());
    for (size_t i = 0; i < part.value->size(); ++i) {
      ASSERT_GE((*part.mag)[i] * (1.0 + 1e-12), std::fabs((*part.value)[i])) << i;
      ASSERT_GE((*part.sens)[i], 0.0) << i;
    }
  }
  EXPECT_EQ(e.exact.dc0.empty(), !p.c.lstm());
}

// ---- the sweep: every variant x clip x direction x layer count, a few draws each -----------------

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

class GatedReferenceBackward : public ::testing::TestWithParam<SweepParam> {};

// Draw 0: everything (lengths, h0, c0, output layer with bias_hy, biases, dh_n, dc_n).
// Draw 1: nothing optional (no lengths, h0, c0, biases, dh_n, dc_n; output layer without bias_hy or
// none). Later draws: each of those at random. Sizes: I, H in 1..5, T in {1, 3, 4}, N in {1, 3};
// layouts alternate.
TEST_P(GatedReferenceBackward, MatchesFiniteDifferences) {
  const SweepParam s = GetParam();
  uint32_t index = 0;
  for (const SweepParam& other : sweep_params()) {
    if (other.variant == s.variant && other.clip == s.clip && other.bidirectional == s.bidirectional &&
        other.layers == s.layers)
      break;
    ++index;
  }
  std::mt19937 gen(4321u + 131u * index);
  auto pick = [&](std::initializer_list<int64_t> values) {
    std::vector<int64_t> v(values);
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(gen)];
  };
  auto coin = [&]() { return std::uniform_int_distribution<int>(0, 1)(gen) == 1; };
  const int draws = quick_mode() ? 2 : 3;
  for (int draw = 0; draw < draws; ++draw) {
    GatedTrainCase c;
    c.variant = s.variant;
    c.clip = s.clip ? 0.5f : 0.0f;
    c.bidirectional = s.bidirectional;
    c.layers = s.layers;
    c.input = pick({1, 2, 3, 4, 5});
    c.hidden = pick({1, 2, 3, 4, 5});
    if (s.variant->projection && c.hidden == 1) c.hidden = 2;  // a projection needs H >= 2
    c.layout = (index + static_cast<uint32_t>(draw)) % 2 == 0 ? SIMDRNN_TIME_MAJOR : SIMDRNN_BATCH_MAJOR;
    if (draw == 0) {
      c.steps = 4;
      c.batch = 3;
      c.lens = c.h0 = c.c0 = c.dh_n = c.dc_n = c.bias = c.bias_hy = true;
      c.output = pick({1, 2});
    } else if (draw == 1) {
      c.steps = pick({1, 3});
      c.batch = pick({1, 3});
      c.lens = c.h0 = c.c0 = c.dh_n = c.dc_n = c.bias = c.bias_hy = false;
      c.output = coin() ? 2 : 0;
    } else {
      c.steps = pick({1, 3, 4});
      c.batch = pick({1, 3});
      c.lens = coin();
      c.h0 = coin();
      c.c0 = coin();
      c.dh_n = coin();
      c.dc_n = coin();
      c.bias = coin();
      c.output = coin() ? pick({1, 2}) : 0;
      c.bias_hy = coin();
      c.dy = coin() || c.output == 0;
    }
    check_against_finite_differences(make_gated_problem(c, 500u + 37u * index + static_cast<uint32_t>(draw)));
  }
}

INSTANTIATE_TEST_SUITE_P(Sweep, GatedReferenceBackward, ::testing::ValuesIn(sweep_params()), sweep_name);

// ---- particular features ---------------------------------------------------------------------------

// The variants the feature tests run: all, or in quick mode (the sanitizer run) the three that
// between them have every part (peepholes, projection, both GRU candidates).
std::vector<const CellVariant*> feature_variants() {
  std::vector<const CellVariant*> v;
  for (const CellVariant& variant : gated_variants())
    if (!quick_mode() || std::string(variant.name) == "lstm_peephole_proj" ||
        variant.cell == SIMDRNN_CELL_GRU)
      v.push_back(&variant);
  return v;
}

GatedTrainCase full_case(const CellVariant& variant) {
  GatedTrainCase c;
  c.variant = &variant;
  // Quick mode (the sanitizer run) keeps every feature on smaller shapes.
  c.input = 3;
  c.hidden = quick_mode() ? 3 : 4;
  c.steps = quick_mode() ? 3 : 4;
  c.batch = quick_mode() ? 2 : 3;
  c.layers = 2;
  c.bidirectional = true;
  c.output = 2;
  c.lens = c.h0 = c.c0 = c.dh_n = c.dc_n = true;
  return c;
}

// Every dimension 1 (H = 2 for a projection, whose P must be below H).
TEST(GatedReferenceBackwardFeatures, SmallestShapes) {
  for (const CellVariant& variant : gated_variants())
    for (bool bi : {false, true}) {
      GatedTrainCase c;
      c.variant = &variant;
      c.input = c.steps = c.batch = 1;
      c.hidden = variant.projection ? 2 : 1;
      c.bidirectional = bi;
      c.output = 1;
      c.h0 = c.c0 = c.dh_n = c.dc_n = true;
      check_against_finite_differences(make_gated_problem(c, 5));
    }
}

// Each incoming gradient alone: dy, dout, dh_n, dc_n (the last LSTM only).
TEST(GatedReferenceBackwardFeatures, EachIncomingGradientAlone) {
  for (const CellVariant* v : feature_variants())
    for (int only = 0; only < 4; ++only) {
      GatedTrainCase c = full_case(*v);
      if (only == 3 && !c.lstm()) continue;
      c.dy = only == 0;
      c.dout = only == 1;
      c.dh_n = only == 2;
      c.dc_n = only == 3;
      check_against_finite_differences(make_gated_problem(c, 6 + static_cast<uint32_t>(only)));
    }
}

// Only bias_hh_l0 set: the model has every cell bias (zero); and no cell biases with bias_hy.
TEST(GatedReferenceBackwardFeatures, PartialAndAbsentBiases) {
  for (const CellVariant* v : feature_variants()) {
    GatedTrainCase c = full_case(*v);
    c.partial_bias = true;
    c.bias = false;
    check_against_finite_differences(make_gated_problem(c, 10));
    c.partial_bias = false;
    c.bias_hy = true;
    check_against_finite_differences(make_gated_problem(c, 11));
  }
}

// A tight clip, where many gate pre-activations are clamped (their gradients stop there).
TEST(GatedReferenceBackwardFeatures, TightClip) {
  for (const CellVariant* v : feature_variants()) {
    GatedTrainCase c = full_case(*v);
    c.clip = 0.2f;
    const GatedProblem p = make_gated_problem(c, 12);
    int64_t clipped = 0;
    const std::vector<double> h0 = to_double(p.h0), c0 = to_double(p.c0);
    for (double v : gated_forward_d(p, p.params, to_double(p.x), &h0, p.c0.empty() ? nullptr : &c0).pre)
      clipped += std::fabs(v) > c.clip;
    EXPECT_GT(clipped, 20) << v->name << ": the case should clip";
    check_against_finite_differences(p);
  }
}

// Longer sequences with larger weights: the cell state grows and the gates saturate in places.
TEST(GatedReferenceBackwardFeatures, LongerSequences) {
  for (const CellVariant* v : feature_variants()) {
    GatedTrainCase c = full_case(*v);
    c.layers = 1;
    c.steps = quick_mode() ? 6 : 12;
    c.batch = 2;
    c.hidden = 3;
    check_against_finite_differences(make_gated_problem(c, 13));
  }
}

// ---- consistency with the rest of the reference and with the library's parameter layout ----------

// The flat double forward agrees with the float-weight forward reference the forward tests use
// (so the two cannot drift apart unnoticed): y, h_n, c_n and out.
TEST(GatedReferenceBackwardConsistency, FlatForwardMatchesForwardReference) {
  int variant_index = 0;
  for (const CellVariant& variant : gated_variants()) {
    for (int flavour = 0; flavour < 2; ++flavour) {
      GatedTrainCase c = full_case(variant);
      c.hidden = 5;
      c.clip = flavour == 1 ? 0.4f : 0.0f;
      c.layout = flavour == 1 ? SIMDRNN_BATCH_MAJOR : SIMDRNN_TIME_MAJOR;
      c.partial_bias = flavour == 1;
      const GatedProblem p = make_gated_problem(c, 20 + static_cast<uint32_t>(variant_index * 2 + flavour));
      SCOPED_TRACE(c.name());
      const std::vector<double> h0 = to_double(p.h0), c0 = to_double(p.c0);
      const RefForwardD d = gated_forward_d(p, p.params, to_double(p.x), &h0, p.c0.empty() ? nullptr : &c0);
      const RefResult r = reference_forward(p.config, p.ref, c.steps, c.batch, c.layout, p.x, p.h0.data(),
                                            p.lens_ptr(), p.c0.empty() ? nullptr : p.c0.data());
      ASSERT_EQ(d.y.size(), r.y.size());
      ASSERT_EQ(d.h_n.size(), r.h_n.size());
      ASSERT_EQ(d.c_n.size(), r.c_n.size());
      ASSERT_EQ(d.out.size(), r.out.size());
      for (size_t i = 0; i < r.y.size(); ++i) ASSERT_NEAR(d.y[i], r.y[i], 1e-12) << "y " << i;
      for (size_t i = 0; i < r.h_n.size(); ++i) ASSERT_NEAR(d.h_n[i], r.h_n[i], 1e-12) << "h_n " << i;
      for (size_t i = 0; i < r.c_n.size(); ++i) ASSERT_NEAR(d.c_n[i], r.c_n[i], 1e-12) << "c_n " << i;
      for (size_t i = 0; i < r.out.size(); ++i) ASSERT_NEAR(d.out[i], r.out[i], 1e-12) << "out " << i;
    }
    ++variant_index;
  }
}

// expected_param_layout is what simdrnn_model_num_params / simdrnn_model_param_offset report for
// every cell variant (PyTorch's named_parameters() order: weight_ih, weight_hh, bias_ih, bias_hh,
// weight_hr, weight_peephole per layer and direction, then weight_hy, bias_hy), and get_params
// returns the flattened weights. These calls work before gated training does.
TEST(GatedReferenceBackwardConsistency, ParamLayoutIsTheLibrarys) {
  for (const CellVariant& variant : gated_variants())
    for (int flavour = 0; flavour < 3; ++flavour) {
      GatedTrainCase c = full_case(variant);
      c.bias = flavour != 1;
      c.bias_hy = flavour != 2;
      c.layers = flavour == 2 ? 3 : 2;
      const GatedProblem p = make_gated_problem(c, 30);
      SCOPED_TRACE(c.name());
      std::string error;
      ModelPtr model(create_model(p.config, p.ref, &error));
      ASSERT_NE(model, nullptr) << error;
      int64_t count = -1;
      ASSERT_EQ(simdrnn_model_num_params(model.get(), &count), SIMDRNN_OK) << simdrnn_last_error();
      EXPECT_EQ(count, p.num_params());
      for (int64_t l = 0; l <= c.layers; ++l)
        for (int64_t d = 0; d < 2; ++d)
          for (const char* base :
               {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "weight_peephole"}) {
            const std::string name = base + cell_suffix(l, d);
            int64_t offset = 7, n = 7;
            ASSERT_EQ(simdrnn_model_param_offset(model.get(), name.c_str(), &offset, &n), SIMDRNN_OK)
                << simdrnn_last_error();
            const ParamTensor* want = find_param(p.layout, name);
            EXPECT_EQ(offset, want ? want->offset : -1) << name;
            EXPECT_EQ(n, want ? want->count : 0) << name;
          }
      for (const char* name : {"weight_hy", "bias_hy"}) {
        int64_t offset = 7, n = 7;
        ASSERT_EQ(simdrnn_model_param_offset(model.get(), name, &offset, &n), SIMDRNN_OK);
        const ParamTensor* want = find_param(p.layout, name);
        EXPECT_EQ(offset, want ? want->offset : -1) << name;
        EXPECT_EQ(n, want ? want->count : 0) << name;
      }
      std::vector<float> got(static_cast<size_t>(p.num_params()) + 1, -777.0f);
      ASSERT_EQ(simdrnn_model_get_params(model.get(), got.data()), SIMDRNN_OK) << simdrnn_last_error();
      EXPECT_EQ(got.back(), -777.0f) << "get_params wrote past num_params";
      for (size_t i = 0; i < p.params.size(); ++i)
        ASSERT_EQ(static_cast<double>(got[i]), p.params[i]) << "get_params[" << i << "]";
    }
}

// ---- the comparison can fail ------------------------------------------------------------------------

// Wrong analytic gradients are rejected by the finite-difference comparison: the gate blocks of
// dW_ih swapped (LSTM i and f, GRU r and z), the peephole gradients of i and o swapped, dW_hr
// transposed (square part), dc0 negated, and a 0.1% error in the largest gradient.
TEST(GatedReferenceBackwardStrength, WrongGradientsAreCaught) {
  for (const char* name : {"lstm_peephole_proj", "gru", "gru_reset_first"}) {
    const CellVariant& variant = variant_named(name);
    GatedTrainCase c = full_case(variant);
    c.hidden = 4;
    const GatedProblem p = make_gated_problem(c, 40);
    SCOPED_TRACE(c.name());
    const GatedExpected e = expected_from_finite_differences(p);
    ASSERT_TRUE(reference_agrees(p, e));
    const int64_t H = c.hidden;
    auto rejected = [&](GatedExpected bad, const char* what) {
      EXPECT_FALSE(reference_agrees(p, bad)) << what << " passed";
    };
    {  // first two gate blocks of weight_ih_l1_reverse swapped
      GatedExpected bad = e;
      const ParamTensor* w = find_param(p.layout, "weight_ih_l1_reverse");
      ASSERT_NE(w, nullptr);
      const int64_t block = H * (w->count / (gate_count(p.config) * H));
      for (int64_t i = 0; i < block; ++i)
        std::swap(bad.exact.grads[static_cast<size_t>(w->offset + i)],
                  bad.exact.grads[static_cast<size_t>(w->offset + block + i)]);
      rejected(bad, "swapped gate blocks of dW_ih");
    }
    {  // first two gate blocks of bias_hh_l0 swapped
      GatedExpected bad = e;
      const ParamTensor* b = find_param(p.layout, "bias_hh_l0");
      ASSERT_NE(b, nullptr);
      for (int64_t i = 0; i < H; ++i)
        std::swap(bad.exact.grads[static_cast<size_t>(b->offset + i)],
                  bad.exact.grads[static_cast<size_t>(b->offset + H + i)]);
      rejected(bad, "swapped gate blocks of db_hh");
    }
    if (c.lstm()) {
      GatedExpected bad = e;
      const ParamTensor* peep = find_param(p.layout, "weight_peephole_l0");
      ASSERT_NE(peep, nullptr);
      for (int64_t i = 0; i < H; ++i)
        std::swap(bad.exact.grads[static_cast<size_t>(peep->offset + i)],
                  bad.exact.grads[static_cast<size_t>(peep->offset + 2 * H + i)]);
      rejected(bad, "swapped peephole gradients of i and o");
      bad = e;
      const ParamTensor* hr = find_param(p.layout, "weight_hr_l1");
      ASSERT_NE(hr, nullptr);
      const int64_t P = c.config().proj_size;
      for (int64_t q = 0; q < P; ++q)
        for (int64_t j = 0; j < P; ++j)
          bad.exact.grads[static_cast<size_t>(hr->offset + q * H + j)] =
              e.exact.grads[static_cast<size_t>(hr->offset + j * H + q)];
      rejected(bad, "transposed dW_hr");
      bad = e;
      for (double& v : bad.exact.dc0) v = -v;
      rejected(bad, "negated dc0");
    }
    {
      GatedExpected bad = e;
      size_t worst = 0;
      for (size_t i = 0; i < e.exact.grads.size(); ++i)
        if (std::fabs(e.exact.grads[i]) > std::fabs(e.exact.grads[worst])) worst = i;
      bad.exact.grads[worst] *= 1.001;
      rejected(bad, "a 0.1% error in the largest gradient");
    }
  }
}

}  // namespace
}  // namespace simdrnn_test
