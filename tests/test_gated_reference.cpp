// The double reference for LSTM and GRU (support/reference.cpp) against oneDNN's lstm_forward,
// lbr_gru_forward and gru_forward primitives on the same random weights: every LSTM variant
// (peepholes, projection, both) and both GRU variants, 1 and 2 layers, both directions, with and
// without biases and initial states, with and without an output layer. This validates the
// reference before the library has gated cells. Tiny cases worked out by hand pin the formulas
// themselves (so a misunderstanding shared by the reference and oneDNN cannot pass), and the
// reference's own sequence-length and layout handling, which oneDNN lacks, is checked against
// separate runs of each sequence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/gated_util.hpp"
#include "support/onednn_rnn.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

// ---- reference vs oneDNN ------------------------------------------------------------------

struct OnednnCase {
  const CellVariant* variant = nullptr;
  int64_t layers = 1;
  bool bidirectional = false;
  bool bias = true;
  bool state = false;           // h0 (and c0 for an LSTM) given
  bool input_is_h_out = false;  // I == H_out: the multi-layer single-primitive path of oneDNN
  int64_t output = 0;

  static constexpr int64_t kHidden = 9;  // odd; projection_for(9) = 4
  static constexpr int64_t kBatch = 3;
  static constexpr int64_t kSteps = 6;

  simdrnn_config config() const {
    simdrnn_config c = variant_config(*variant, 5, kHidden);
    if (input_is_h_out) c.input_size = hidden_out(c);
    c.num_layers = layers;
    c.bidirectional = bidirectional ? 1 : 0;
    c.output_size = output;
    return c;
  }
  std::string name() const {
    return std::string(variant->name) + "_l" + std::to_string(layers) + (bidirectional ? "bi" : "uni") +
           (bias ? "" : "_nobias") + (state ? "_state" : "") + (input_is_h_out ? "_ieqh" : "") +
           (output > 0 ? "_o" + std::to_string(output) : "");
  }
  uint32_t seed() const {
    uint32_t hash = 2166136261u;
    for (char ch : name()) hash = (hash ^ static_cast<unsigned char>(ch)) * 16777619u;
    return hash;
  }
};

void PrintTo(const OnednnCase& c, std::ostream* os) { *os << c.name(); }

std::vector<OnednnCase> onednn_cases() {
  std::vector<OnednnCase> cases;
  int index = 0;
  for (const CellVariant& variant : gated_variants())
    for (int64_t layers : {1, 2})
      for (bool bidirectional : {false, true})
        for (bool bias : {true, false})
          for (bool state : {false, true}) {
            OnednnCase c;
            c.variant = &variant;
            c.layers = layers;
            c.bidirectional = bidirectional;
            c.bias = bias;
            c.state = state;
            // Alternate the input width and the output layer over the grid rather than doubling it.
            c.input_is_h_out = (index % 3) == 1;
            c.output = (index % 2) == 1 ? 4 : 0;
            ++index;
            cases.push_back(c);
          }
  return cases;
}

// Worst agreement per cell variant, printed at the end (the report's numbers).
struct Agreement {
  double max_ratio = 0.0;      // |oneDNN - reference| / allowed
  double max_abs_error = 0.0;  // |oneDNN - reference|
};
std::map<std::string, Agreement>& agreement() {
  static std::map<std::string, Agreement> table;
  return table;
}

class AgreementReporter : public ::testing::Environment {
 public:
  void TearDown() override {
    for (const auto& [name, a] : agreement())
      std::printf("[ simdrnn ] oneDNN vs reference, %-20s max |error| %.3g, max |error| / tolerance %.3g\n",
                  name.c_str(), a.max_abs_error, a.max_ratio);
  }
};
const ::testing::Environment* const g_reporter = ::testing::AddGlobalTestEnvironment(new AgreementReporter);

struct OnednnOutputs {
  std::vector<float> y, h_n, c_n, out;
};

OnednnOutputs run_onednn(const simdrnn_config& config, const RefWeights& weights, int64_t T, int64_t N,
                         const std::vector<float>& x, const float* h0, const float* c0) {
  const int64_t D = num_directions(config), H_out = hidden_out(config), L = config.num_layers;
  const bool lstm = config.cell == SIMDRNN_CELL_LSTM;
  OnednnOutputs o;
  o.y.assign(static_cast<size_t>(T * N * D * H_out), NAN);
  o.h_n.assign(static_cast<size_t>(L * D * N * H_out), NAN);
  if (lstm) o.c_n.assign(static_cast<size_t>(L * D * N * config.hidden_size), NAN);
  if (config.output_size > 0) o.out.assign(static_cast<size_t>(T * N * config.output_size), NAN);
  OnednnGatedRnn onednn;
  onednn.setup(config, T, N, to_baseline(weights), 1);
  onednn.run(x.data(), h0, lstm ? c0 : nullptr, o.y.data(), o.h_n.data(), lstm ? o.c_n.data() : nullptr,
             config.output_size > 0 ? o.out.data() : nullptr);
  return o;
}

void expect_agreement(const OnednnOutputs& got, const RefResult& ref, const std::string& variant) {
  const Tolerance tolerance = default_tolerance();
  Agreement& a = agreement()[variant];
  auto check = [&](const std::vector<float>& values, const std::vector<double>& want,
                   const std::vector<double>& mag, int64_t k, const char* what) {
    ASSERT_EQ(values.size(), want.size()) << what;
    const Comparison c = compare_with_reference(values.data(), want, mag, k, tolerance, what);
    EXPECT_TRUE(c.ok()) << c.message;
    a.max_ratio = std::max(a.max_ratio, c.max_ratio);
    for (size_t i = 0; i < values.size(); ++i)
      a.max_abs_error = std::max(a.max_abs_error, std::fabs(static_cast<double>(values[i]) - want[i]));
  };
  check(got.y, ref.y, ref.y_mag, ref.k_hidden, "y");
  check(got.h_n, ref.h_n, ref.h_n_mag, ref.k_hidden, "h_n");
  check(got.c_n, ref.c_n, ref.c_n_mag, ref.k_hidden, "c_n");
  check(got.out, ref.out, ref.out_mag, ref.k_out, "out");
}

class ReferenceVsOnednn : public ::testing::TestWithParam<OnednnCase> {};

TEST_P(ReferenceVsOnednn, Agree) {
  const OnednnCase& c = GetParam();
  const simdrnn_config config = c.config();
  const int64_t T = OnednnCase::kSteps, N = OnednnCase::kBatch, D = num_directions(config);
  const uint32_t seed = c.seed();
  const RefWeights weights = random_ref_weights(config, seed, c.bias, c.variant->peephole);
  const std::vector<float> x = random_vector(static_cast<size_t>(T * N * config.input_size), seed + 1);
  std::vector<float> h0, c0;
  if (c.state) {
    h0 = random_vector(static_cast<size_t>(config.num_layers * D * N * hidden_out(config)), seed + 2);
    if (config.cell == SIMDRNN_CELL_LSTM)
      c0 = random_vector(static_cast<size_t>(config.num_layers * D * N * config.hidden_size), seed + 3, -2.0f,
                         2.0f);
  }
  const float* h0_ptr = h0.empty() ? nullptr : h0.data();
  const float* c0_ptr = c0.empty() ? nullptr : c0.data();
  const RefResult ref =
      reference_forward(config, weights, T, N, SIMDRNN_TIME_MAJOR, x, h0_ptr, nullptr, c0_ptr);
  const OnednnOutputs got = run_onednn(config, weights, T, N, x, h0_ptr, c0_ptr);
  expect_agreement(got, ref, c.variant->name);
}

INSTANTIATE_TEST_SUITE_P(Cells, ReferenceVsOnednn, ::testing::ValuesIn(onednn_cases()),
                         [](const ::testing::TestParamInfo<OnednnCase>& info) { return info.param.name(); });

// Wider shapes around the SIMD widths, fewer features: oneDNN's own blocked kernels get tails too.
TEST(ReferenceVsOnednnWide, SizesAroundPanels) {
  const std::vector<int64_t> sizes =
      quick_mode() ? std::vector<int64_t>{17, 33} : std::vector<int64_t>{17, 33, 65};
  for (const CellVariant& variant : gated_variants())
    for (int64_t hidden : sizes) {
      SCOPED_TRACE(std::string(variant.name) + " H " + std::to_string(hidden));
      simdrnn_config config = variant_config(variant, 31, hidden);
      config.num_layers = 2;
      config.bidirectional = 1;
      config.output_size = 7;
      const int64_t T = 7, N = 5, D = 2;
      const uint32_t seed = static_cast<uint32_t>(hidden * 131 + (&variant - gated_variants().data()));
      const RefWeights weights = random_ref_weights(config, seed, true, variant.peephole);
      const std::vector<float> x = random_vector(static_cast<size_t>(T * N * config.input_size), seed + 1);
      const std::vector<float> h0 =
          random_vector(static_cast<size_t>(config.num_layers * D * N * hidden_out(config)), seed + 2);
      const std::vector<float> c0 =
          random_vector(static_cast<size_t>(config.num_layers * D * N * hidden), seed + 3, -2.0f, 2.0f);
      const RefResult ref =
          reference_forward(config, weights, T, N, SIMDRNN_TIME_MAJOR, x, h0.data(), nullptr, c0.data());
      const OnednnOutputs got = run_onednn(config, weights, T, N, x, h0.data(), c0.data());
      expect_agreement(got, ref, variant.name);
    }
}

// The comparison must be able to fail: oneDNN's output against references computed from
// plausible mistakes (gates swapped, the wrong GRU variant, peepholes misplaced, a transposed
// projection, the initial cell state ignored) is rejected.
TEST(ReferenceVsOnednnStrength, MutatedReferencesFail) {
  const int64_t T = 6, N = 3, H = 8;
  double weakest = std::numeric_limits<double>::infinity();  // smallest error / tolerance of a mutation
  auto run = [&](const CellVariant& variant, auto mutate_config, auto mutate_weights, bool drop_c0) {
    simdrnn_config config = variant_config(variant, 5, H);
    const uint32_t seed = 4242;
    const RefWeights weights = random_ref_weights(config, seed, true, variant.peephole);
    const std::vector<float> x = random_vector(static_cast<size_t>(T * N * 5), seed + 1);
    const std::vector<float> h0 = random_vector(static_cast<size_t>(N * hidden_out(config)), seed + 2);
    const std::vector<float> c0 = random_vector(static_cast<size_t>(N * H), seed + 3, -2.0f, 2.0f);
    const bool lstm = config.cell == SIMDRNN_CELL_LSTM;
    const OnednnOutputs got = run_onednn(config, weights, T, N, x, h0.data(), lstm ? c0.data() : nullptr);
    const RefResult right =
        reference_forward(config, weights, T, N, SIMDRNN_TIME_MAJOR, x, h0.data(), nullptr, c0.data());
    simdrnn_config wrong_config = config;
    mutate_config(wrong_config);
    RefWeights wrong_weights = weights;
    mutate_weights(wrong_weights);
    const RefResult wrong = reference_forward(wrong_config, wrong_weights, T, N, SIMDRNN_TIME_MAJOR, x,
                                              h0.data(), nullptr, drop_c0 ? nullptr : c0.data());
    const Tolerance tolerance = default_tolerance();
    // The right reference accepts oneDNN; the wrong one (with the right magnitudes) must not.
    EXPECT_TRUE(
        compare_with_reference(got.y.data(), right.y, right.y_mag, right.k_hidden, tolerance, "y").ok());
    const double ratio = std::max(
        compare_with_reference(got.y.data(), wrong.y, right.y_mag, right.k_hidden, tolerance, "y").max_ratio,
        compare_with_reference(got.h_n.data(), wrong.h_n, right.h_n_mag, right.k_hidden, tolerance, "h_n")
            .max_ratio);
    weakest = std::min(weakest, ratio);
    return ratio > 1.0;
  };
  auto same_config = [](simdrnn_config&) {};
  auto same_weights = [](RefWeights&) {};
  // Swaps gate blocks a and b of G (rows of every gate-stacked tensor: [G*H, width]).
  auto swap_gates = [](int64_t G, int64_t a, int64_t b) {
    return [=](RefWeights& w) {
      for (RefCell& cell : w.cells)
        for (std::vector<float>* m : {&cell.w_ih, &cell.w_hh, &cell.b_ih, &cell.b_hh}) {
          if (m->empty()) continue;
          const int64_t block = static_cast<int64_t>(m->size()) / G;  // H rows of one gate
          std::swap_ranges(m->begin() + a * block, m->begin() + (a + 1) * block, m->begin() + b * block);
        }
    };
  };
  const std::vector<CellVariant>& v = gated_variants();
  EXPECT_TRUE(run(v[0], same_config, swap_gates(4, 0, 1), false)) << "LSTM with i and f swapped passes";
  EXPECT_TRUE(run(v[0], same_config, swap_gates(4, 2, 3), false)) << "LSTM with g and o swapped passes";
  EXPECT_TRUE(run(v[0], same_config, same_weights, true)) << "LSTM ignoring c0 passes";
  EXPECT_TRUE(run(v[4], same_config, swap_gates(3, 0, 1), false)) << "GRU with r and z swapped passes";
  EXPECT_TRUE(run(
      v[4], [](simdrnn_config& c) { c.gru_linear_before_reset = 0; }, same_weights, false))
      << "GRU (linear before reset) computed as ONNX's default passes";
  EXPECT_TRUE(run(
      v[5], [](simdrnn_config& c) { c.gru_linear_before_reset = 1; }, same_weights, false))
      << "ONNX's default GRU computed with linear before reset passes";
  EXPECT_TRUE(run(
      v[1], same_config,
      [H](RefWeights& w) {
        for (RefCell& cell : w.cells)  // peepholes f and o swapped
          for (int64_t j = 0; j < H; ++j)
            std::swap(cell.peephole[static_cast<size_t>(H + j)],
                      cell.peephole[static_cast<size_t>(2 * H + j)]);
      },
      false))
      << "LSTM with the f and o peepholes swapped passes";
  EXPECT_TRUE(run(
      v[2], same_config,
      [H](RefWeights& w) {
        const int64_t P = projection_for(H);
        for (RefCell& cell : w.cells) {  // W_hr read as [H, P] column-major: a transpose of the data
          std::vector<float> t(cell.w_hr.size());
          for (int64_t p = 0; p < P; ++p)
            for (int64_t h = 0; h < H; ++h)
              t[static_cast<size_t>(h * P + p)] = cell.w_hr[static_cast<size_t>(p * H + h)];
          cell.w_hr = t;
        }
      },
      false))
      << "LSTM with a transposed projection passes";
  std::printf("[ simdrnn ] the weakest mutation misses the tolerance by a factor of %.3g\n", weakest);
}

// ---- hand-computed cases --------------------------------------------------------------------

double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double clamp(double v, double clip) { return clip > 0.0 ? std::min(std::max(v, -clip), clip) : v; }

simdrnn_config tiny_config(simdrnn_cell cell, int64_t input, int64_t hidden) {
  simdrnn_config c = simdrnn_config_default();
  c.input_size = input;
  c.hidden_size = hidden;
  c.cell = cell;
  return c;
}

// One unit, one input, two steps, every LSTM term: rows are i, f, g, o; the peepholes p_i and p_f
// see c_{t-1} and p_o sees c_t; clip clamps each gate's pre-activation (after the peephole) but
// not the cell state before tanh.
TEST(GatedHandComputed, LstmOneUnitPeepholeClip) {
  for (double clip : {0.0, 0.75}) {
    SCOPED_TRACE("clip " + std::to_string(clip));
    simdrnn_config config = tiny_config(SIMDRNN_CELL_LSTM, 1, 1);
    config.clip = static_cast<float>(clip);
    RefWeights w;
    w.cells.resize(1);
    w.cells[0].w_ih = {0.5f, -1.5f, 2.0f, 1.25f};  // i, f, g, o
    w.cells[0].w_hh = {-0.75f, 0.25f, 1.5f, -0.5f};
    w.cells[0].b_ih = {0.125f, 1.0f, -0.25f, 0.5f};
    w.cells[0].b_hh = {0.0625f, 0.5f, 0.375f, -0.125f};
    w.cells[0].peephole = {0.5f, -0.25f, 0.75f};  // i, f, o
    const std::vector<float> x = {1.0f, -0.5f};   // [T=2, N=1, I=1]
    const float h0 = 0.25f, c0 = 2.5f;            // c0 large: tanh(c) would change if c were clipped
    const RefResult r = reference_forward(config, w, 2, 1, SIMDRNN_TIME_MAJOR, x, &h0, nullptr, &c0);

    double h = h0, c = c0;
    std::vector<double> ys;
    for (double xt : {1.0, -0.5}) {
      const double i = sig(clamp(0.5 * xt - 0.75 * h + 0.125 + 0.0625 + 0.5 * c, clip));
      const double f = sig(clamp(-1.5 * xt + 0.25 * h + 1.0 + 0.5 - 0.25 * c, clip));
      const double g = std::tanh(clamp(2.0 * xt + 1.5 * h - 0.25 + 0.375, clip));
      c = f * c + i * g;
      const double o = sig(clamp(1.25 * xt - 0.5 * h + 0.5 - 0.125 + 0.75 * c, clip));
      h = o * std::tanh(c);
      ys.push_back(h);
    }
    ASSERT_EQ(r.y.size(), 2u);
    EXPECT_NEAR(r.y[0], ys[0], 1e-12);
    EXPECT_NEAR(r.y[1], ys[1], 1e-12);
    ASSERT_EQ(r.h_n.size(), 1u);
    EXPECT_NEAR(r.h_n[0], h, 1e-12);
    ASSERT_EQ(r.c_n.size(), 1u);
    EXPECT_NEAR(r.c_n[0], c, 1e-12);
  }
}

// Two units projected to one: h is W_hr (o * tanh(c)), the recurrent input is that one value
// (weight_hh is [4H, P] = [8, 1]), c stays two wide; an output layer reads the projected y.
TEST(GatedHandComputed, LstmProjection) {
  simdrnn_config config = tiny_config(SIMDRNN_CELL_LSTM, 1, 2);
  config.proj_size = 1;
  config.output_size = 1;
  RefWeights w;
  w.cells.resize(1);
  //                 i0     i1    f0     f1    g0    g1     o0     o1
  w.cells[0].w_ih = {0.5f, -0.25f, 1.0f, 0.75f, -1.0f, 0.5f, 0.25f, 1.5f};
  w.cells[0].w_hh = {0.25f, 0.5f, -0.5f, 1.0f, 0.75f, -0.25f, 1.25f, -1.0f};
  w.cells[0].w_hr = {0.75f, -1.25f};  // [P=1, H=2]
  w.w_hy = {2.0f};
  w.b_hy = {-0.5f};
  const std::vector<float> x = {0.5f, -1.0f};
  const float h0 = -0.5f;
  const float c0[2] = {0.25f, -0.75f};
  const RefResult r = reference_forward(config, w, 2, 1, SIMDRNN_TIME_MAJOR, x, &h0, nullptr, c0);

  const double wi[8] = {0.5, -0.25, 1.0, 0.75, -1.0, 0.5, 0.25, 1.5};
  const double wh[8] = {0.25, 0.5, -0.5, 1.0, 0.75, -0.25, 1.25, -1.0};
  double h = h0, c[2] = {0.25, -0.75};
  std::vector<double> ys;
  for (double xt : {0.5, -1.0}) {
    double m[2];
    for (size_t j = 0; j < 2; ++j) {
      const double i = sig(wi[0 + j] * xt + wh[0 + j] * h);
      const double f = sig(wi[2 + j] * xt + wh[2 + j] * h);
      const double g = std::tanh(wi[4 + j] * xt + wh[4 + j] * h);
      const double o = sig(wi[6 + j] * xt + wh[6 + j] * h);
      c[j] = f * c[j] + i * g;
      m[j] = o * std::tanh(c[j]);
    }
    h = 0.75 * m[0] - 1.25 * m[1];
    ys.push_back(h);
  }
  ASSERT_EQ(r.y.size(), 2u);
  EXPECT_NEAR(r.y[0], ys[0], 1e-12);
  EXPECT_NEAR(r.y[1], ys[1], 1e-12);
  ASSERT_EQ(r.h_n.size(), 1u);
  EXPECT_NEAR(r.h_n[0], h, 1e-12);
  ASSERT_EQ(r.c_n.size(), 2u);
  EXPECT_NEAR(r.c_n[0], c[0], 1e-12);
  EXPECT_NEAR(r.c_n[1], c[1], 1e-12);
  ASSERT_EQ(r.out.size(), 2u);
  EXPECT_NEAR(r.out[0], 2.0 * ys[0] - 0.5, 1e-12);
  EXPECT_NEAR(r.out[1], 2.0 * ys[1] - 0.5, 1e-12);
}

// Two GRU units (rows r0 r1 z0 z1 n0 n1), both candidate formulas: with the linear layer before
// the reset, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); with the reset first (ONNX's
// default), n = tanh(W_in x + b_in + W_hn (r * h) + b_hn). Two units make r * (W h) and W (r h)
// differ even without b_hn; h = (1 - z) n + z h.
TEST(GatedHandComputed, GruBothCandidates) {
  for (int32_t lbr : {1, 0}) {
    SCOPED_TRACE("gru_linear_before_reset " + std::to_string(lbr));
    for (double clip : {0.0, 0.625}) {  // exact in float, as config.clip is
      SCOPED_TRACE("clip " + std::to_string(clip));
      simdrnn_config config = tiny_config(SIMDRNN_CELL_GRU, 1, 2);
      config.gru_linear_before_reset = lbr;
      config.clip = static_cast<float>(clip);
      RefWeights w;
      w.cells.resize(1);
      const float wi[6] = {0.5f, -1.0f, 0.75f, 0.25f, 1.5f, -0.5f};
      const float wh[12] = {0.25f,  -0.5f, 1.0f,  0.5f,    // r0, r1 over (h0, h1)
                            -0.75f, 0.5f,  0.25f, 1.25f,   // z0, z1
                            1.5f,   -1.0f, -0.5f, 0.75f};  // n0, n1
      const float bi[6] = {0.125f, -0.25f, 0.5f, 0.0f, -0.375f, 0.25f};
      const float bh[6] = {0.25f, 0.125f, -0.5f, 0.375f, 0.625f, -0.75f};
      w.cells[0].w_ih.assign(wi, wi + 6);
      w.cells[0].w_hh.assign(wh, wh + 12);
      w.cells[0].b_ih.assign(bi, bi + 6);
      w.cells[0].b_hh.assign(bh, bh + 6);
      const std::vector<float> x = {1.0f, -0.5f, 0.25f};  // T = 3
      const float h0[2] = {0.5f, -0.25f};
      const RefResult r = reference_forward(config, w, 3, 1, SIMDRNN_TIME_MAJOR, x, h0, nullptr);

      double h[2] = {0.5, -0.25};
      std::vector<double> ys;
      for (double xt : {1.0, -0.5, 0.25}) {
        double rg[2], zg[2], n[2];
        for (size_t j = 0; j < 2; ++j) {
          rg[j] = sig(clamp(wi[j] * xt + bi[j] + wh[j * 2] * h[0] + wh[j * 2 + 1] * h[1] + bh[j], clip));
          zg[j] = sig(clamp(
              wi[2 + j] * xt + bi[2 + j] + wh[(2 + j) * 2] * h[0] + wh[(2 + j) * 2 + 1] * h[1] + bh[2 + j],
              clip));
        }
        for (size_t j = 0; j < 2; ++j) {
          const float* row = &wh[(4 + j) * 2];  // W_hn's row j
          const double pre =
              lbr ? wi[4 + j] * xt + bi[4 + j] + rg[j] * (row[0] * h[0] + row[1] * h[1] + bh[4 + j])
                  : wi[4 + j] * xt + bi[4 + j] + row[0] * (rg[0] * h[0]) + row[1] * (rg[1] * h[1]) +
                        bh[4 + j];
          n[j] = std::tanh(clamp(pre, clip));
        }
        for (size_t j = 0; j < 2; ++j) h[j] = (1.0 - zg[j]) * n[j] + zg[j] * h[j];
        ys.push_back(h[0]);
        ys.push_back(h[1]);
      }
      ASSERT_EQ(r.y.size(), 6u);
      for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(r.y[i], ys[i], 1e-12) << "y[" << i << "]";
      ASSERT_EQ(r.h_n.size(), 2u);
      EXPECT_NEAR(r.h_n[0], h[0], 1e-12);
      EXPECT_NEAR(r.h_n[1], h[1], 1e-12);
      EXPECT_TRUE(r.c_n.empty()) << "a GRU has no cell state";
    }
  }
}

// Bidirectional LSTM with sequence lengths, one unit: the reverse direction starts at each
// sequence's own last step from h0/c0, padded steps of y are 0, and h_n / c_n hold the forward
// state at len - 1 and the reverse state at t = 0.
TEST(GatedHandComputed, LstmBidirectionalWithLengths) {
  simdrnn_config config = tiny_config(SIMDRNN_CELL_LSTM, 1, 1);
  config.bidirectional = 1;
  RefWeights w;
  w.cells.resize(2);
  w.cells[0].w_ih = {0.5f, -0.5f, 1.0f, 0.75f};
  w.cells[0].w_hh = {0.25f, 0.5f, -0.75f, 1.0f};
  w.cells[0].b_ih = {0.125f, 0.5f, 0.0f, -0.25f};
  w.cells[1].w_ih = {-1.0f, 0.25f, 0.5f, -0.5f};
  w.cells[1].w_hh = {0.75f, -0.25f, 1.25f, 0.5f};
  w.cells[1].b_hh = {0.0f, 1.0f, -0.5f, 0.25f};
  const int64_t T = 3, N = 2;
  const std::vector<float> x = {1.0f, -1.0f, 0.5f, 2.0f, -0.25f, 7.0f};  // [T, N, 1]; x[2][1] is padding
  const std::vector<int64_t> lens = {3, 2};
  const float h0[4] = {0.1f, 0.2f, -0.3f, 0.4f};  // [L*D, N, 1]
  const float c0[4] = {0.5f, -0.5f, 1.0f, -1.0f};
  const RefResult r = reference_forward(config, w, T, N, SIMDRNN_TIME_MAJOR, x, h0, lens.data(), c0);

  struct State {
    double h, c;
  };
  auto step = [](const float* wi, const float* wh, const float* b, double xt, State s) {
    auto bias = [&](int g) { return b ? static_cast<double>(b[g]) : 0.0; };
    const double i = sig(wi[0] * xt + wh[0] * s.h + bias(0));
    const double f = sig(wi[1] * xt + wh[1] * s.h + bias(1));
    const double g = std::tanh(wi[2] * xt + wh[2] * s.h + bias(2));
    const double o = sig(wi[3] * xt + wh[3] * s.h + bias(3));
    const double c = f * s.c + i * g;
    return State{o * std::tanh(c), c};
  };
  const RefCell& fw = w.cells[0];
  const RefCell& bw = w.cells[1];
  auto fwd = [&](double xt, State s) { return step(fw.w_ih.data(), fw.w_hh.data(), fw.b_ih.data(), xt, s); };
  auto rev = [&](double xt, State s) { return step(bw.w_ih.data(), bw.w_hh.data(), bw.b_hh.data(), xt, s); };
  const double x0[3] = {1.0, 0.5, -0.25}, x1[2] = {-1.0, 2.0};
  const State f00 = fwd(x0[0], {double{0.1f}, 0.5}), f01 = fwd(x0[1], f00), f02 = fwd(x0[2], f01);
  const State r02 = rev(x0[2], {double{-0.3f}, 1.0}), r01 = rev(x0[1], r02), r00 = rev(x0[0], r01);
  const State f10 = fwd(x1[0], {double{0.2f}, -0.5}), f11 = fwd(x1[1], f10);
  const State r11 = rev(x1[1], {double{0.4f}, -1.0}), r10 = rev(x1[0], r11);

  const std::vector<double> y = {f00.h, r00.h, f10.h, r10.h, f01.h, r01.h,
                                 f11.h, r11.h, f02.h, r02.h, 0.0,   0.0};
  ASSERT_EQ(r.y.size(), y.size());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(r.y[i], y[i], 1e-12) << "y[" << i << "]";
  EXPECT_EQ(r.y[10], 0.0);
  EXPECT_EQ(r.y[11], 0.0);
  const std::vector<double> h_n = {f02.h, f11.h, r00.h, r10.h}, c_n = {f02.c, f11.c, r00.c, r10.c};
  ASSERT_EQ(r.h_n.size(), 4u);
  ASSERT_EQ(r.c_n.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(r.h_n[i], h_n[i], 1e-12) << "h_n[" << i << "]";
    EXPECT_NEAR(r.c_n[i], c_n[i], 1e-12) << "c_n[" << i << "]";
  }
}

// A second layer of a bidirectional projected LSTM reads the concatenated projected outputs:
// weight_ih_l1 is [4H, D*P] and the reference must index it that way (H = 2, P = 1).
TEST(GatedHandComputed, LstmSecondLayerReadsProjectedOutputs) {
  simdrnn_config config = tiny_config(SIMDRNN_CELL_LSTM, 1, 2);
  config.proj_size = 1;
  config.num_layers = 2;
  config.bidirectional = 1;
  RefWeights w = random_ref_weights(config, 77, true, true);
  ASSERT_EQ(w.cells[2].w_ih.size(), 8u * 2u) << "layer 1 input is D*P = 2 wide";
  ASSERT_EQ(w.cells[2].w_hh.size(), 8u * 1u);
  const std::vector<float> x = {0.5f, -1.0f, 0.25f};  // T = 3, N = 1
  const RefResult full = reference_forward(config, w, 3, 1, SIMDRNN_TIME_MAJOR, x, nullptr, nullptr);

  // Layer 0 alone, then layer 1 alone on layer 0's y as its input.
  simdrnn_config first = config;
  first.num_layers = 1;
  RefWeights w0;
  w0.cells = {w.cells[0], w.cells[1]};
  const RefResult r0 = reference_forward(first, w0, 3, 1, SIMDRNN_TIME_MAJOR, x, nullptr, nullptr);
  simdrnn_config second = first;
  second.input_size = 2;
  RefWeights w1;
  w1.cells = {w.cells[2], w.cells[3]};
  const std::vector<float> y0(r0.y.begin(), r0.y.end());
  const RefResult r1 = reference_forward(second, w1, 3, 1, SIMDRNN_TIME_MAJOR, y0, nullptr, nullptr);
  ASSERT_EQ(full.y.size(), r1.y.size());
  // Layer 1 read a float copy of layer 0's output here, the full run a double one.
  for (size_t i = 0; i < full.y.size(); ++i) EXPECT_NEAR(full.y[i], r1.y[i], 1e-6) << "y[" << i << "]";
  for (size_t i = 0; i < 2; ++i) EXPECT_DOUBLE_EQ(full.h_n[i], r0.h_n[i]) << "layer 0 h_n[" << i << "]";
  for (size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(full.c_n[i], r0.c_n[i]) << "layer 0 c_n[" << i << "]";
}

// ---- the reference's own sequence lengths and layouts -----------------------------------------

// Packed semantics without oneDNN: each sequence of a padded batch run equals a run of that
// sequence alone, cut to its length (y, h_n, c_n, out), and the batch-major layout is the
// time-major one transposed. Bidirectional, two layers, output layer, initial states.
TEST(GatedReferenceConsistency, LengthsAndLayouts) {
  for (const CellVariant& variant : gated_variants()) {
    SCOPED_TRACE(variant.name);
    simdrnn_config config = variant_config(variant, 3, 6);
    config.num_layers = 2;
    config.bidirectional = 1;
    config.output_size = 2;
    const int64_t T = 5, N = 4, D = 2, L = 2, H = 6, H_out = hidden_out(config), O = 2;
    const bool lstm = config.cell == SIMDRNN_CELL_LSTM;
    const RefWeights w = random_ref_weights(config, 99, true, variant.peephole);
    const std::vector<float> x = random_vector(static_cast<size_t>(T * N * 3), 100);  // time-major
    const std::vector<float> h0 = random_vector(static_cast<size_t>(L * D * N * H_out), 101);
    const std::vector<float> c0 = random_vector(static_cast<size_t>(L * D * N * H), 102);
    const std::vector<int64_t> lens = {5, 2, 1, 4};
    const RefResult all =
        reference_forward(config, w, T, N, SIMDRNN_TIME_MAJOR, x, h0.data(), lens.data(), c0.data());

    for (int64_t n = 0; n < N; ++n) {
      SCOPED_TRACE("sequence " + std::to_string(n));
      const int64_t len = lens[static_cast<size_t>(n)];
      std::vector<float> xn, h0n, c0n;
      for (int64_t t = 0; t < len; ++t)
        for (int64_t i = 0; i < 3; ++i) xn.push_back(x[static_cast<size_t>((t * N + n) * 3 + i)]);
      for (int64_t s = 0; s < L * D; ++s) {
        for (int64_t j = 0; j < H_out; ++j) h0n.push_back(h0[static_cast<size_t>((s * N + n) * H_out + j)]);
        for (int64_t j = 0; j < H; ++j) c0n.push_back(c0[static_cast<size_t>((s * N + n) * H + j)]);
      }
      const RefResult one =
          reference_forward(config, w, len, 1, SIMDRNN_TIME_MAJOR, xn, h0n.data(), nullptr, c0n.data());
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t c = 0; c < D * H_out; ++c) {
          const double got = all.y[static_cast<size_t>((t * N + n) * D * H_out + c)];
          if (t < len)
            EXPECT_EQ(got, one.y[static_cast<size_t>(t * D * H_out + c)]) << "y t " << t << " c " << c;
          else
            EXPECT_EQ(got, 0.0) << "padded y t " << t << " c " << c;
        }
        for (int64_t o = 0; o < O; ++o) {
          const double got = all.out[static_cast<size_t>((t * N + n) * O + o)];
          if (t < len)
            EXPECT_EQ(got, one.out[static_cast<size_t>(t * O + o)]) << "out t " << t;
          else
            EXPECT_EQ(got, 0.0) << "padded out t " << t;
        }
      }
      for (int64_t s = 0; s < L * D; ++s) {
        for (int64_t j = 0; j < H_out; ++j)
          EXPECT_EQ(all.h_n[static_cast<size_t>((s * N + n) * H_out + j)],
                    one.h_n[static_cast<size_t>(s * H_out + j)])
              << "h_n state " << s;
        for (int64_t j = 0; lstm && j < H; ++j)
          EXPECT_EQ(all.c_n[static_cast<size_t>((s * N + n) * H + j)],
                    one.c_n[static_cast<size_t>(s * H + j)])
              << "c_n state " << s;
      }
    }

    // Batch-major input gives the batch-major transpose of the same results.
    std::vector<float> x_bm(x.size());
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < 3; ++i)
          x_bm[static_cast<size_t>((n * T + t) * 3 + i)] = x[static_cast<size_t>((t * N + n) * 3 + i)];
    const RefResult bm =
        reference_forward(config, w, T, N, SIMDRNN_BATCH_MAJOR, x_bm, h0.data(), lens.data(), c0.data());
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t c = 0; c < D * H_out; ++c)
          EXPECT_EQ(bm.y[static_cast<size_t>((n * T + t) * D * H_out + c)],
                    all.y[static_cast<size_t>((t * N + n) * D * H_out + c)]);
        for (int64_t o = 0; o < O; ++o)
          EXPECT_EQ(bm.out[static_cast<size_t>((n * T + t) * O + o)],
                    all.out[static_cast<size_t>((t * N + n) * O + o)]);
      }
    EXPECT_EQ(bm.h_n, all.h_n);
    EXPECT_EQ(bm.c_n, all.c_n);
  }
}

// Sizes the reference reports for every variant, as simdrnn.h documents them.
TEST(GatedReferenceConsistency, ShapesFollowTheHeader) {
  for (const CellVariant& variant : gated_variants()) {
    SCOPED_TRACE(variant.name);
    simdrnn_config config = variant_config(variant, 3, 7);
    config.num_layers = 2;
    config.bidirectional = 1;
    config.output_size = 4;
    const int64_t T = 2, N = 3, D = 2, L = 2, H = 7, H_out = hidden_out(config), G = gate_count(config);
    EXPECT_EQ(H_out, variant.projection ? 3 : 7);
    const RefWeights w = random_ref_weights(config, 5, true, variant.peephole);
    for (int64_t l = 0; l < L; ++l)
      for (int64_t d = 0; d < D; ++d) {
        const RefCell& cell = w.cells[static_cast<size_t>(l * D + d)];
        EXPECT_EQ(static_cast<int64_t>(cell.w_ih.size()), G * H * (l == 0 ? 3 : D * H_out));
        EXPECT_EQ(static_cast<int64_t>(cell.w_hh.size()), G * H * H_out);
        EXPECT_EQ(static_cast<int64_t>(cell.b_ih.size()), G * H);
        EXPECT_EQ(static_cast<int64_t>(cell.w_hr.size()), variant.projection ? H_out * H : 0);
        EXPECT_EQ(static_cast<int64_t>(cell.peephole.size()), variant.peephole ? 3 * H : 0);
      }
    EXPECT_EQ(static_cast<int64_t>(w.w_hy.size()), 4 * D * H_out);
    const std::vector<float> x = random_vector(static_cast<size_t>(T * N * 3), 6);
    const RefResult r = reference_forward(config, w, T, N, SIMDRNN_TIME_MAJOR, x, nullptr, nullptr);
    EXPECT_EQ(static_cast<int64_t>(r.y.size()), T * N * D * H_out);
    EXPECT_EQ(static_cast<int64_t>(r.h_n.size()), L * D * N * H_out);
    EXPECT_EQ(static_cast<int64_t>(r.c_n.size()), config.cell == SIMDRNN_CELL_LSTM ? L * D * N * H : 0);
    EXPECT_EQ(static_cast<int64_t>(r.out.size()), T * N * 4);
    EXPECT_EQ(r.y_mag.size(), r.y.size());
    EXPECT_EQ(r.c_n_mag.size(), r.c_n.size());
  }
}

}  // namespace
}  // namespace simdrnn_test
