// simdrnn_forward with LSTM and GRU cells against oneDNN's lstm_forward, lbr_gru_forward and
// gru_forward primitives on the same random weights, on every ISA this CPU has: a few dozen
// cases per cell variant over sizes around the SIMD widths, layers, directions (including
// oneDNN's right-to-left, as simdrnn on the time-reversed sequence), batch, steps, initial
// states and the output layer. A second implementation that shares no code with the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
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
  bool state = false;  // h0 (and c0) given
  int64_t output = 0;
  std::string prefix;

  simdrnn_config config() const {
    simdrnn_config c = variant_config(*variant, input, hidden);
    c.num_layers = layers;
    c.bidirectional = direction == BaselineDirection::kBidirectionalConcat ? 1 : 0;
    c.output_size = output;
    return c;
  }
  std::string name() const {
    static const char* const kDirections[] = {"l2r", "r2l", "bi"};
    return prefix + variant->name + "_i" + std::to_string(input) + "h" + std::to_string(hidden) + "n" +
           std::to_string(batch) + "t" + std::to_string(steps) + "l" + std::to_string(layers) + "_" +
           kDirections[static_cast<int>(direction)] + (state ? "_state" : "") +
           (output > 0 ? "_o" + std::to_string(output) : "");
  }
  uint32_t seed() const {
    uint32_t hash = 2166136261u;
    for (char ch : name()) hash = (hash ^ static_cast<unsigned char>(ch)) * 16777619u;
    return hash;
  }
};

void PrintTo(const OnednnCase& c, std::ostream* os) { *os << c.name(); }

// Per cell variant: fixed shapes around the panel edges, then a seeded random sample.
std::vector<OnednnCase> onednn_cases() {
  const int random_per_variant = quick_mode() ? 4 : 24;
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1},   {8, 8},   {17, 16},
                                                           {16, 17}, {33, 63}, {64, 65}};
  std::mt19937 gen(7071u);
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
      c.state = true;
      c.output = 5;
      cases.push_back(c);
    }
    for (int i = 0; i < random_per_variant; ++i) {
      OnednnCase c;
      char prefix[16];
      std::snprintf(prefix, sizeof(prefix), "r%02d_", i);
      c.prefix = prefix;
      c.variant = &variant;
      c.input = pick({1, 7, 9, 16, 17, 31, 33, 65});
      c.hidden = pick({1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65});
      c.batch = pick({1, 3, 17});
      c.steps = pick({1, 2, 7});
      c.layers = pick({1, 2, 3});
      c.direction = static_cast<BaselineDirection>(pick({0, 1, 2}));
      c.state = pick({0, 1}) == 1;
      c.output = pick({0, 0, 5});
      cases.push_back(c);
    }
  }
  return cases;
}

struct Outputs {
  std::vector<float> y, h_n, c_n, out;
};

// [T, N, C] with the time axis reversed.
std::vector<float> reverse_time(const std::vector<float>& v, int64_t steps) {
  const size_t step_size = v.size() / static_cast<size_t>(steps);
  std::vector<float> r(v.size());
  for (int64_t t = 0; t < steps; ++t)
    std::copy_n(v.begin() + static_cast<std::ptrdiff_t>(t * step_size), step_size,
                r.begin() + static_cast<std::ptrdiff_t>((steps - 1 - t) * step_size));
  return r;
}

Outputs allocate(const simdrnn_config& config, int64_t T, int64_t N) {
  const int64_t D = num_directions(config), H_out = hidden_out(config), states = config.num_layers * D * N;
  Outputs o;
  o.y.assign(static_cast<size_t>(T * N * D * H_out), NAN);
  o.h_n.assign(static_cast<size_t>(states * H_out), NAN);
  if (config.cell == SIMDRNN_CELL_LSTM) o.c_n.assign(static_cast<size_t>(states * config.hidden_size), NAN);
  if (config.output_size > 0) o.out.assign(static_cast<size_t>(T * N * config.output_size), NAN);
  return o;
}

float* data_or_null(std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }
const float* data_or_null(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

// simdrnn, time-major, on the sequence as given (the caller reverses it for right-to-left).
Outputs run_simdrnn(const simdrnn_model* model, const simdrnn_config& config, int64_t T, int64_t N,
                    const std::vector<float>& x, const std::vector<float>& h0, const std::vector<float>& c0) {
  Outputs o = allocate(config, T, N);
  simdrnn_forward_args args{};
  args.seq_len = T;
  args.batch = N;
  args.layout = SIMDRNN_TIME_MAJOR;
  args.x = x.data();
  args.h0 = data_or_null(h0);
  args.c0 = data_or_null(c0);
  args.y = o.y.data();
  args.h_n = o.h_n.data();
  args.c_n = data_or_null(o.c_n);
  args.out = data_or_null(o.out);
  args.num_threads = 2;
  std::vector<unsigned char> workspace(sizes_of(model, args).workspace);
  args.workspace = workspace.data();
  args.workspace_size = workspace.size();
  EXPECT_EQ(simdrnn_forward(model, &args), SIMDRNN_OK) << simdrnn_last_error();
  return o;
}

double g_max_ratio = 0.0;

class MaxRatioReporter : public ::testing::Environment {
 public:
  void TearDown() override {
    std::printf("[ simdrnn ] largest |simdrnn - oneDNN| / tolerance: %.4g\n", g_max_ratio);
  }
};
const ::testing::Environment* const g_reporter = ::testing::AddGlobalTestEnvironment(new MaxRatioReporter);

// |simdrnn - oneDNN| <= 2 * (the reference tolerance): each may be off by that much from the exact
// result, in opposite directions. The reference only supplies the magnitudes here.
void expect_close(const std::vector<float>& got, const std::vector<float>& onednn,
                  const std::vector<double>& mag, int64_t k, const char* what) {
  ASSERT_EQ(got.size(), onednn.size()) << what;
  ASSERT_EQ(got.size(), mag.size()) << what;
  const Tolerance reference_tolerance = default_tolerance();
  const Tolerance tolerance{2.0 * reference_tolerance.rel_per_term, 2.0 * reference_tolerance.abs};
  const std::vector<double> want(onednn.begin(), onednn.end());
  const Comparison c = compare_with_reference(got.data(), want, mag, k, tolerance, what);
  g_max_ratio = std::max(g_max_ratio, c.max_ratio);
  EXPECT_TRUE(c.ok()) << c.message << " (simdrnn vs oneDNN)";
}

class GatedOnednnTest : public ::testing::TestWithParam<OnednnCase> {};

TEST_P(GatedOnednnTest, SameResults) {
  const OnednnCase& c = GetParam();
  const simdrnn_config config = c.config();
  const int64_t T = c.steps, N = c.batch, D = num_directions(config);
  const int64_t states = config.num_layers * D * N;
  const bool lstm = config.cell == SIMDRNN_CELL_LSTM;
  const bool reverse = c.direction == BaselineDirection::kRight2Left;
  const uint32_t seed = c.seed();
  const RefWeights weights = random_ref_weights(config, seed, true, c.variant->peephole);
  const std::vector<float> x = random_vector(static_cast<size_t>(T * N * config.input_size), seed + 1);
  std::vector<float> h0, c0;
  if (c.state) {
    h0 = random_vector(static_cast<size_t>(states * hidden_out(config)), seed + 2);
    if (lstm) c0 = random_vector(static_cast<size_t>(states * config.hidden_size), seed + 3, -3.0f, 3.0f);
  }

  // oneDNN, then its sequence outputs in the order simdrnn produces them (reversed for r2l).
  Outputs onednn = allocate(config, T, N);
  {
    OnednnGatedRnn baseline;
    baseline.setup(config, T, N, to_baseline(weights), 1, c.direction);
    baseline.run(x.data(), data_or_null(h0), data_or_null(c0), onednn.y.data(), onednn.h_n.data(),
                 data_or_null(onednn.c_n), data_or_null(onednn.out));
  }
  const std::vector<float> x_in = reverse ? reverse_time(x, T) : x;
  if (reverse) {
    onednn.y = reverse_time(onednn.y, T);
    if (!onednn.out.empty()) onednn.out = reverse_time(onednn.out, T);
  }
  // Magnitudes for the tolerance, on simdrnn's sequence.
  const RefResult ref = reference_forward(config, weights, T, N, SIMDRNN_TIME_MAJOR, x_in, data_or_null(h0),
                                          nullptr, data_or_null(c0));

  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    std::string error;
    ModelPtr model(create_model(config, weights, &error));
    ASSERT_NE(model, nullptr) << error;
    const Outputs got = run_simdrnn(model.get(), config, T, N, x_in, h0, c0);
    expect_close(got.y, onednn.y, ref.y_mag, ref.k_hidden, "y");
    expect_close(got.h_n, onednn.h_n, ref.h_n_mag, ref.k_hidden, "h_n");
    if (lstm) expect_close(got.c_n, onednn.c_n, ref.c_n_mag, ref.k_hidden, "c_n");
    if (config.output_size > 0) expect_close(got.out, onednn.out, ref.out_mag, ref.k_out, "out");
  }
}

INSTANTIATE_TEST_SUITE_P(Cells, GatedOnednnTest, ::testing::ValuesIn(onednn_cases()),
                         [](const ::testing::TestParamInfo<OnednnCase>& info) { return info.param.name(); });

}  // namespace
}  // namespace simdrnn_test
