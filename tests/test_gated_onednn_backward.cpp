// LSTM and GRU backward against oneDNN 2.6's lstm_backward (with peepholes and projection),
// lbr_gru_backward and gru_backward (OnednnGatedRnnTraining: forward_training + backward
// primitives) on the same random weights, data and incoming gradients (dy, dh_n and, for an LSTM,
// dc_n): a fixed set of shapes around the SIMD panel edges and a seeded random sample per cell
// variant, over layers, directions (oneDNN's right-to-left is simdrnn on the time-reversed
// sequence), batch, steps, initial states and biases.
//
// Each case is one test (so that oneDNN's primitives are built once per process):
//   first the double reference backward and oneDNN agree within the float tolerance derived from
//     the reference's magnitudes: this vets both the reference (an independent implementation of
//     the same formulas, gate orders and bias split) and the tolerance;
//   then simdrnn_backward on every ISA, 1 and 2 threads (bit-identical), against oneDNN (twice the
//     tolerance: both are float) and against the reference.
//
// Compared: dx, dh0, dc0, every cell's dW_ih, dW_hh, dW_hr, the peepholes and both bias gradients
// (oneDNN has one bias per gate, so its gradient is compared with simdrnn's d/db_ih and d/db_hh;
// lbr_gru's 4th bias gate is d/db_hn). oneDNN has no clip and no output layer here.
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
#include "support/onednn_rnn.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

struct OnednnCase {
  const CellVariant* variant = nullptr;
  int64_t input = 7, hidden = 9, batch = 3, steps = 5, layers = 1;
  BaselineDirection direction = BaselineDirection::kLeft2Right;
  bool state = false;       // h0 (and c0) given
  bool final_grad = false;  // dh_n (and dc_n) given
  bool bias = true;
  std::string prefix;

  std::string name() const {
    static const char* const kDirections[] = {"l2r", "r2l", "bi"};
    return prefix + variant->name + "_i" + std::to_string(input) + "h" + std::to_string(hidden) + "n" +
           std::to_string(batch) + "t" + std::to_string(steps) + "l" + std::to_string(layers) + "_" +
           kDirections[static_cast<int>(direction)] + (state ? "_state" : "") + (final_grad ? "_dhn" : "") +
           (bias ? "" : "_nobias");
  }
  uint32_t seed() const {
    uint32_t hash = 2166136261u;
    for (char ch : name()) hash = (hash ^ static_cast<unsigned char>(ch)) * 16777619u;
    return hash;
  }
  // The problem in simdrnn's frame: a right-to-left run is a forward run over the reversed
  // sequence, so the problem is unidirectional then and oneDNN gets the time-reversed data.
  GatedTrainCase train_case() const {
    GatedTrainCase c;
    c.variant = variant;
    c.input = input;
    c.hidden = hidden;
    c.batch = batch;
    c.steps = steps;
    c.layers = layers;
    c.bidirectional = direction == BaselineDirection::kBidirectionalConcat;
    c.h0 = c.c0 = state;
    c.dh_n = c.dc_n = final_grad;
    c.bias = bias;
    return c;
  }
};

void PrintTo(const OnednnCase& c, std::ostream* os) { *os << c.name(); }

// Per cell variant: fixed shapes around the panel edges (8 scalar, 16 AVX2, 64 AVX-512), then a
// seeded random sample.
std::vector<OnednnCase> onednn_cases() {
  const int random_per_variant = quick_mode() ? 3 : 20;
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 2}, {8, 8}, {17, 16}, {16, 17}, {33, 65}};
  std::mt19937 gen(9091u);
  auto pick = [&gen](const std::vector<int64_t>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(gen)];
  };
  std::vector<OnednnCase> cases;
  for (const CellVariant& variant : gated_variants()) {
    for (const auto& [input, hidden] : shapes) {
      if (quick_mode() && hidden != 17) continue;
      OnednnCase c;
      c.variant = &variant;
      c.input = input;
      c.hidden = hidden;
      c.layers = 2;
      c.direction = BaselineDirection::kBidirectionalConcat;
      c.state = c.final_grad = true;
      cases.push_back(c);
    }
    for (int i = 0; i < random_per_variant; ++i) {
      OnednnCase c;
      char prefix[16];
      std::snprintf(prefix, sizeof(prefix), "r%02d_", i);
      c.prefix = prefix;
      c.variant = &variant;
      c.input = pick({1, 7, 9, 16, 17, 33});
      c.hidden = pick({2, 7, 8, 9, 15, 16, 17, 33});
      c.batch = pick({1, 3, 17});
      c.steps = pick({1, 2, 6});
      c.layers = pick({1, 2, 3});
      c.direction = static_cast<BaselineDirection>(pick({0, 1, 2}));
      c.state = pick({0, 1}) == 1;
      c.final_grad = pick({0, 1}) == 1;
      c.bias = pick({0, 1, 1}) == 1;
      cases.push_back(c);
    }
  }
  return cases;
}

// [T, N, C] with the time axis reversed.
template <class V>
V reverse_time(const V& v, int64_t steps) {
  const size_t step_size = v.size() / static_cast<size_t>(steps);
  V r(v.size());
  for (int64_t t = 0; t < steps; ++t)
    std::copy_n(v.begin() + static_cast<std::ptrdiff_t>(t * step_size), step_size,
                r.begin() + static_cast<std::ptrdiff_t>((steps - 1 - t) * step_size));
  return r;
}

const float* ptr(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

// oneDNN's gradients, in the problem's (simdrnn's) frame and flat layout.
FloatGrads run_onednn(const GatedProblem& p, BaselineDirection direction, std::string* impl,
                      bool force_per_layer = false, bool* single_primitive = nullptr) {
  const bool reverse = direction == BaselineDirection::kRight2Left;
  const int64_t T = p.c.steps;
  OnednnGatedRnnTraining onednn;
  onednn.setup(p.config, T, p.c.batch, to_baseline(p.ref), 1, direction, force_per_layer);
  if (single_primitive != nullptr) *single_primitive = onednn.single_primitive();
  const std::vector<float> x = reverse ? reverse_time(p.x, T) : p.x;
  const std::vector<float> dy = reverse ? reverse_time(p.wy, T) : p.wy;
  onednn.forward(x.data(), ptr(p.h0), ptr(p.c0), nullptr, nullptr, nullptr);
  FloatGrads g;
  g.dx.assign(p.x.size(), NAN);
  g.dh0.assign(static_cast<size_t>(p.h_count()), NAN);
  if (p.c.lstm()) g.dc0.assign(static_cast<size_t>(p.c_count()), NAN);
  std::vector<BaselineGatedCellGrads> cells;
  onednn.backward(dy.data(), ptr(p.whn), ptr(p.wcn), g.dx.data(), g.dh0.data(),
                  p.c.lstm() ? g.dc0.data() : nullptr, &cells);
  if (reverse) g.dx = reverse_time(g.dx, T);
  if (impl != nullptr) *impl = onednn.impl_info();
  g.grads.assign(static_cast<size_t>(p.num_params()), NAN);
  const int64_t D = p.c.directions();
  for (int64_t l = 0; l < p.c.layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const BaselineGatedCellGrads& cell = cells[static_cast<size_t>(l * D + d)];
      const std::string suffix = cell_suffix(l, d);
      for (const auto& [name, data] :
           {std::make_pair("weight_ih", &cell.w_ih), std::make_pair("weight_hh", &cell.w_hh),
            std::make_pair("bias_ih", &cell.b_ih), std::make_pair("bias_hh", &cell.b_hh),
            std::make_pair("weight_hr", &cell.w_hr), std::make_pair("weight_peephole", &cell.peephole)}) {
        const ParamTensor* t = find_param(p.layout, name + suffix);
        if (t == nullptr) continue;
        EXPECT_EQ(static_cast<int64_t>(data->size()), t->count) << name + suffix;
        if (static_cast<int64_t>(data->size()) != t->count) continue;
        std::copy(data->begin(), data->end(), g.grads.begin() + t->offset);
      }
    }
  return g;
}

class GatedOnednnBackward : public ::testing::TestWithParam<OnednnCase> {};

// The reference against oneDNN, then simdrnn against oneDNN, elementwise within twice the tolerance
// (both are float computations within one tolerance of the exact result), and against the
// reference. (As two tests per case, 300 processes each built oneDNN's primitives again.)
TEST_P(GatedOnednnBackward, ReferenceOnednnAndSimdrnnAgree) {
  const OnednnCase& oc = GetParam();
  const GatedProblem p = make_gated_problem(oc.train_case(), oc.seed());
  std::string impl;
  const FloatGrads onednn = run_onednn(p, oc.direction, &impl);
  const GatedExpected exact = expected_from_reference(p);
  const GradCheck reference_check = compare_all(p, exact, onednn, gated_grad_rel(p));
  EXPECT_TRUE(reference_check.ok()) << "oneDNN vs reference: " << reference_check.message << " (oneDNN "
                                    << impl << ")";
  std::printf("  %s: max |oneDNN - reference| / tolerance = %.3g\n", oc.name().c_str(),
              reference_check.max_ratio);
  GatedExpected around_onednn = exact;
  for (auto [part, values] :
       {std::make_pair(&around_onednn.params, &onednn.grads), std::make_pair(&around_onednn.dx, &onednn.dx),
        std::make_pair(&around_onednn.dh0, &onednn.dh0), std::make_pair(&around_onednn.dc0, &onednn.dc0)}) {
    part->g.assign(values->begin(), values->end());
    for (double& m : part->mag) m *= 2.0;
    for (double& s : part->sens) s *= 2.0;
  }
  const double rel = gated_grad_rel(p);
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(simdrnn_isa_name(isa));
    IsaCap cap(isa);
    GatedTrainer trainer(p, 1);
    if (!trainer.ok()) continue;
    const FloatGrads one = trainer.backward(1, 0);
    const FloatGrads two = trainer.backward(2, 0);
    EXPECT_TRUE(bit_equal(one.grads, two.grads)) << "grads differ between 1 and 2 threads";
    EXPECT_TRUE(bit_equal(one.dx, two.dx)) << "dx differs between 1 and 2 threads";
    EXPECT_TRUE(bit_equal(one.dh0, two.dh0)) << "dh0 differs between 1 and 2 threads";
    EXPECT_TRUE(bit_equal(one.dc0, two.dc0)) << "dc0 differs between 1 and 2 threads";
    const GradCheck vs_onednn = compare_all(p, around_onednn, one, rel);
    EXPECT_TRUE(vs_onednn.ok()) << "vs oneDNN: " << vs_onednn.message;
    const GradCheck vs_reference = compare_all(p, exact, one, rel);
    EXPECT_TRUE(vs_reference.ok()) << "vs reference: " << vs_reference.message;
  }
}

std::string case_name(const ::testing::TestParamInfo<OnednnCase>& info) { return info.param.name(); }

INSTANTIATE_TEST_SUITE_P(Cases, GatedOnednnBackward, ::testing::ValuesIn(onednn_cases()), case_name);

// The multi-layer single oneDNN primitive (unidirectional, I == H_out) and the chained per-layer
// primitives give the same gradients within the tolerance: the chaining of diff_src_layer into
// the layer below is right.
TEST(GatedOnednnBackwardWrapper, SinglePrimitiveAndChainedLayersAgree) {
  for (const CellVariant& variant : gated_variants()) {
    OnednnCase oc;
    oc.variant = &variant;
    oc.hidden = 9;
    oc.layers = 3;
    oc.state = oc.final_grad = true;
    GatedTrainCase c = oc.train_case();
    c.input = hidden_out(c.config());
    const GatedProblem p = make_gated_problem(c, 77);
    SCOPED_TRACE(c.name());
    const GatedExpected want = expected_from_reference(p);
    for (bool force_per_layer : {false, true}) {
      bool single = false;
      const FloatGrads got = run_onednn(p, BaselineDirection::kLeft2Right, nullptr, force_per_layer, &single);
      EXPECT_EQ(single, !force_per_layer);
      const GradCheck check = compare_all(p, want, got, gated_grad_rel(p));
      EXPECT_TRUE(check.ok()) << (single ? "single primitive: " : "per layer: ") << check.message;
    }
  }
}

// The comparison can fail: oneDNN's gradients with two gate blocks swapped, with the bias
// gradients of b_ih and b_hh of lbr_gru's n gate exchanged, or with one gradient 1% off, are
// rejected.
TEST(GatedOnednnBackwardStrength, WrongGradientsAreCaught) {
  for (const CellVariant& variant : gated_variants()) {
    OnednnCase oc;
    oc.variant = &variant;
    oc.layers = 2;
    oc.direction = BaselineDirection::kBidirectionalConcat;
    oc.state = oc.final_grad = true;
    const GatedProblem p = make_gated_problem(oc.train_case(), 78);
    SCOPED_TRACE(p.c.name());
    const FloatGrads onednn = run_onednn(p, oc.direction, nullptr);
    const GatedExpected want = expected_from_reference(p);
    const double rel = gated_grad_rel(p);
    ASSERT_TRUE(compare_all(p, want, onednn, rel).ok());
    const int64_t H = p.c.hidden;
    {
      FloatGrads bad = onednn;
      const ParamTensor* w = find_param(p.layout, "weight_hh_l1_reverse");
      const int64_t block = w->count / gate_count(p.config);
      for (int64_t i = 0; i < block; ++i)
        std::swap(bad.grads[static_cast<size_t>(w->offset + i)],
                  bad.grads[static_cast<size_t>(w->offset + block + i)]);
      EXPECT_FALSE(compare_all(p, want, bad, rel).ok()) << "swapped gate blocks of dW_hh passed";
    }
    if (variant.cell == SIMDRNN_CELL_GRU && variant.gru_linear_before_reset == 1) {
      FloatGrads bad = onednn;
      const ParamTensor* b_ih = find_param(p.layout, "bias_ih_l0");
      const ParamTensor* b_hh = find_param(p.layout, "bias_hh_l0");
      for (int64_t i = 2 * H; i < 3 * H; ++i)
        std::swap(bad.grads[static_cast<size_t>(b_ih->offset + i)],
                  bad.grads[static_cast<size_t>(b_hh->offset + i)]);
      EXPECT_FALSE(compare_all(p, want, bad, rel).ok()) << "exchanged b_in / b_hn gradients passed";
    }
    {
      FloatGrads bad = onednn;
      size_t worst = 0;
      for (size_t i = 0; i < want.exact.grads.size(); ++i)
        if (std::fabs(want.exact.grads[i]) > std::fabs(want.exact.grads[worst])) worst = i;
      bad.grads[worst] *= 1.01f;
      EXPECT_FALSE(compare_all(p, want, bad, rel).ok()) << "a 1% error in the largest gradient passed";
    }
  }
}

}  // namespace
}  // namespace simdrnn_test
