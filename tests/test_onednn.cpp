// simdrnn_forward against oneDNN's vanilla RNN primitive (and the sgemm-per-step
// loop) on the same random weights, on every ISA this CPU has: activations,
// directions, stacked layers, batch, sequence length and hidden sizes around
// the SIMD widths. Also checks that the comparison can fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "simdrnn/simdrnn.hpp"
#include "support/onednn_rnn.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

const char* activation_name(simdrnn_activation activation) {
  switch (activation) {
    case SIMDRNN_TANH:
      return "tanh";
    case SIMDRNN_RELU:
      return "relu";
    case SIMDRNN_SIGMOID:
      return "sigmoid";
  }
  return "unknown";
}

const char* direction_name(BaselineDirection direction) {
  switch (direction) {
    case BaselineDirection::kLeft2Right:
      return "l2r";
    case BaselineDirection::kRight2Left:
      return "r2l";
    case BaselineDirection::kBidirectionalConcat:
      return "bi";
  }
  return "unknown";
}

// Tolerance for a float result whose every step sums K = in + H products:
// float rounding grows like sqrt(K); 1e-5 leaves room for differing summation
// orders and activation approximations, yet a wrong weight is off by ~1e-1.
double tolerance_for(const simdrnn_config& config) {
  const int64_t widest_input = std::max(
      config.input_size, config.num_layers > 1 ? (config.bidirectional ? 2 : 1) * config.hidden_size : 0);
  return 1e-5 * std::sqrt(static_cast<double>(widest_input + config.hidden_size));
}

// Element-wise |got - want| <= tol * max(1, |want|); NaN never passes.
::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& want,
                                     double tol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs expected " << want.size();
  size_t worst = 0;
  double worst_excess = 0.0;
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double error = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double limit = tol * std::max(1.0, std::fabs(static_cast<double>(want[i])));
    if (!(error <= limit)) {
      ++bad;
      const double excess = std::isnan(error) ? INFINITY : error / limit;
      if (bad == 1 || excess > worst_excess) {
        worst = i;
        worst_excess = excess;
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << got.size() << " elements differ; worst at " << worst << ": got " << got[worst]
         << ", expected " << want[worst] << " (tolerance " << tol << " relative)";
}

// [T, N, C] with the time axis reversed.
std::vector<float> reverse_time(const std::vector<float>& v, int64_t steps) {
  const size_t step_size = v.size() / static_cast<size_t>(steps);
  std::vector<float> r(v.size());
  for (int64_t t = 0; t < steps; ++t)
    std::copy_n(v.begin() + static_cast<std::ptrdiff_t>(t * step_size), step_size,
                r.begin() + static_cast<std::ptrdiff_t>((steps - 1 - t) * step_size));
  return r;
}

struct Outputs {
  std::vector<float> y, h_n, out;
};

// simdrnn on the active ISA, time-major. kRight2Left runs the unidirectional
// model on the time-reversed input and reverses y back: a reverse-only layer
// stack equals a forward stack over the reversed sequence (each layer reads
// the layer below step for step), for any number of layers. Comparing with the
// second half of a bidirectional model instead would only hold for L = 1.
Outputs run_simdrnn(const simdrnn::Model& model, const simdrnn_config& config, BaselineDirection direction,
                    int64_t steps, int64_t batch, const std::vector<float>& x, const std::vector<float>* h0,
                    int32_t threads) {
  const int64_t D = config.bidirectional ? 2 : 1;
  const bool reverse = direction == BaselineDirection::kRight2Left;
  const std::vector<float> x_in = reverse ? reverse_time(x, steps) : x;
  Outputs o;
  o.y.assign(static_cast<size_t>(steps * batch * D * config.hidden_size), NAN);
  o.h_n.assign(static_cast<size_t>(config.num_layers * D * batch * config.hidden_size), NAN);
  if (config.output_size > 0) o.out.assign(static_cast<size_t>(steps * batch * config.output_size), NAN);
  simdrnn_forward_args args{};
  args.seq_len = steps;
  args.batch = batch;
  args.layout = SIMDRNN_TIME_MAJOR;
  args.x = x_in.data();
  args.h0 = h0 != nullptr ? h0->data() : nullptr;
  args.y = o.y.data();
  args.h_n = o.h_n.data();
  args.out = config.output_size > 0 ? o.out.data() : nullptr;
  args.num_threads = threads;
  std::vector<unsigned char> workspace(sizes_of(model.get(), args).workspace);
  args.workspace = workspace.data();
  args.workspace_size = workspace.size();
  simdrnn::check(simdrnn_forward(model.get(), &args));
  if (reverse) {
    o.y = reverse_time(o.y, steps);
    if (!o.out.empty()) o.out = reverse_time(o.out, steps);
  }
  return o;
}

template <class Baseline>
Outputs run_baseline(Baseline& baseline, const simdrnn_config& config, int64_t steps, int64_t batch,
                     const std::vector<float>& x, const std::vector<float>* h0) {
  const int64_t D = config.bidirectional ? 2 : 1;
  Outputs o;
  o.y.assign(static_cast<size_t>(steps * batch * D * config.hidden_size), NAN);
  o.h_n.assign(static_cast<size_t>(config.num_layers * D * batch * config.hidden_size), NAN);
  if (config.output_size > 0) o.out.assign(static_cast<size_t>(steps * batch * config.output_size), NAN);
  baseline.run(x.data(), h0 != nullptr ? h0->data() : nullptr, o.y.data(), o.h_n.data(),
               config.output_size > 0 ? o.out.data() : nullptr);
  return o;
}

struct Case {
  simdrnn_config config;
  BaselineDirection direction;
  int64_t steps;
  int64_t batch;
  bool with_h0;
  OnednnOptions options;
};

// oneDNN vs the sgemm loop (baseline sanity), then simdrnn on every ISA vs oneDNN.
void check_case(const Case& c, uint32_t seed) {
  const simdrnn_config& config = c.config;
  const int64_t D = config.bidirectional ? 2 : 1;
  const BaselineWeights weights = make_baseline_weights(config, seed);
  const std::vector<float> x =
      random_vector(static_cast<size_t>(c.steps * c.batch * config.input_size), seed + 1);
  const std::vector<float> h0 =
      random_vector(static_cast<size_t>(config.num_layers * D * c.batch * config.hidden_size), seed + 2);
  const std::vector<float>* h0_ptr = c.with_h0 ? &h0 : nullptr;
  const double tol = tolerance_for(config);

  OnednnRnn onednn;
  onednn.setup(config, c.steps, c.batch, weights, 1, c.direction, c.options);
  const Outputs want = run_baseline(onednn, config, c.steps, c.batch, x, h0_ptr);

  GemmLoopRnn gemmloop;
  gemmloop.setup(config, c.steps, c.batch, weights, 1, c.direction);
  const Outputs loop = run_baseline(gemmloop, config, c.steps, c.batch, x, h0_ptr);
  EXPECT_TRUE(all_close(loop.y, want.y, tol)) << "gemmloop vs oneDNN, y";
  EXPECT_TRUE(all_close(loop.h_n, want.h_n, tol)) << "gemmloop vs oneDNN, h_n";

  const int32_t threads = c.batch > 1 ? 2 : 1;
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    const simdrnn::Model model = make_simdrnn_model(config, weights);
    EXPECT_EQ(static_cast<int>(model.isa()), static_cast<int>(isa));
    const Outputs got = run_simdrnn(model, config, c.direction, c.steps, c.batch, x, h0_ptr, threads);
    EXPECT_TRUE(all_close(got.y, want.y, tol)) << "y (oneDNN " << onednn.impl_info() << ")";
    EXPECT_TRUE(all_close(got.h_n, want.h_n, tol)) << "h_n";
    if (config.output_size > 0) {
      EXPECT_TRUE(all_close(got.out, want.out, tol)) << "out";
    }
  }
}

simdrnn_config make_config(simdrnn_activation activation, BaselineDirection direction, int64_t input,
                           int64_t hidden, int64_t layers) {
  simdrnn_config config = simdrnn_config_default();
  config.input_size = input;
  config.hidden_size = hidden;
  config.num_layers = layers;
  config.bidirectional = direction == BaselineDirection::kBidirectionalConcat ? 1 : 0;
  config.activation = activation;
  config.clip = 0.0f;
  config.output_size = 0;
  return config;
}

// activation, direction, layers, batch, steps, hidden.
using Params = std::tuple<simdrnn_activation, BaselineDirection, int64_t, int64_t, int64_t, int64_t>;

class OnednnMatch : public ::testing::TestWithParam<Params> {};

// One layer reads I = H + 3 inputs (not a multiple of any SIMD width when H
// is); stacks use I == H so unidirectional ones run as one oneDNN primitive.
TEST_P(OnednnMatch, YAndHiddenStateAgree) {
  const auto [activation, direction, layers, batch, steps, hidden] = GetParam();
  const int64_t input = layers == 1 ? hidden + 3 : hidden;
  Case c{make_config(activation, direction, input, hidden, layers),
         direction,
         steps,
         batch,
         true,
         OnednnOptions()};
  check_case(c, static_cast<uint32_t>(1000 + 131 * hidden + 17 * steps + batch));
}

std::string params_name(const ::testing::TestParamInfo<Params>& info) {
  const auto [activation, direction, layers, batch, steps, hidden] = info.param;
  std::ostringstream name;
  name << activation_name(activation) << "_" << direction_name(direction) << "_l" << layers << "_n" << batch
       << "_t" << steps << "_h" << hidden;
  return name.str();
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, OnednnMatch,
    ::testing::Combine(::testing::Values(SIMDRNN_TANH, SIMDRNN_RELU, SIMDRNN_SIGMOID),
                       ::testing::Values(BaselineDirection::kLeft2Right, BaselineDirection::kRight2Left,
                                         BaselineDirection::kBidirectionalConcat),
                       ::testing::Values<int64_t>(1, 2), ::testing::Values<int64_t>(1, 3),
                       ::testing::Values<int64_t>(1, 5, 20), ::testing::Values<int64_t>(1, 7, 17, 64)),
    params_name);

// Stacks whose first layer is narrower or wider than H: oneDNN runs one
// primitive per layer (the wrapper's chained path).
TEST(OnednnStack, InputWidthDiffersFromHidden) {
  for (BaselineDirection direction : {BaselineDirection::kLeft2Right, BaselineDirection::kRight2Left,
                                      BaselineDirection::kBidirectionalConcat}) {
    for (int64_t input : {int64_t{5}, int64_t{40}}) {
      SCOPED_TRACE(std::string(direction_name(direction)) + " I=" + std::to_string(input));
      Case c{make_config(SIMDRNN_TANH, direction, input, 17, 3), direction, 6, 3, true, OnednnOptions()};
      check_case(c, 77);
    }
  }
}

// The wrapper's chained per-layer path computes what the single multi-layer
// primitive does (so the chained results above are trustworthy).
TEST(OnednnStack, PerLayerChainEqualsSinglePrimitive) {
  const int64_t steps = 7, batch = 2, width = 16, layers = 3;
  for (BaselineDirection direction : {BaselineDirection::kLeft2Right, BaselineDirection::kRight2Left}) {
    const simdrnn_config config = make_config(SIMDRNN_TANH, direction, width, width, layers);
    const BaselineWeights weights = make_baseline_weights(config, 5);
    const std::vector<float> x = random_vector(static_cast<size_t>(steps * batch * width), 6);
    const std::vector<float> h0 = random_vector(static_cast<size_t>(layers * batch * width), 7);
    OnednnRnn single, chained;
    single.setup(config, steps, batch, weights, 1, direction);
    OnednnOptions options;
    options.force_per_layer = true;
    chained.setup(config, steps, batch, weights, 1, direction, options);
    ASSERT_TRUE(single.single_primitive());
    ASSERT_FALSE(chained.single_primitive());
    const Outputs a = run_baseline(single, config, steps, batch, x, &h0);
    const Outputs b = run_baseline(chained, config, steps, batch, x, &h0);
    EXPECT_TRUE(all_close(b.y, a.y, tolerance_for(config)));
    EXPECT_TRUE(all_close(b.h_n, a.h_n, tolerance_for(config)));
  }
}

// No h0 (zeros on both sides) and an output layer.
TEST(OnednnMatchExtras, ZeroInitialStateAndOutputLayer) {
  for (BaselineDirection direction :
       {BaselineDirection::kLeft2Right, BaselineDirection::kBidirectionalConcat}) {
    SCOPED_TRACE(direction_name(direction));
    simdrnn_config config = make_config(SIMDRNN_SIGMOID, direction, 9, 33, 2);
    config.output_size = 5;
    Case c{config, direction, 8, 3, false, OnednnOptions()};
    check_case(c, 99);
  }
}

// The comparison must be able to fail: simdrnn given W_hh transposed (a
// classic layout bug) must not pass for oneDNN's result.
TEST(OnednnMatchSelfCheck, TransposedRecurrentWeightsAreCaught) {
  const simdrnn_config config = make_config(SIMDRNN_TANH, BaselineDirection::kLeft2Right, 17, 17, 1);
  const int64_t H = config.hidden_size, steps = 5, batch = 3;
  const BaselineWeights weights = make_baseline_weights(config, 11);
  BaselineWeights transposed = weights;
  for (size_t c = 0; c < weights.cells.size(); ++c)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < H; ++j) transposed.cells[c].w_hh[i * H + j] = weights.cells[c].w_hh[j * H + i];
  const std::vector<float> x = random_vector(static_cast<size_t>(steps * batch * 17), 12);
  const std::vector<float> h0 = random_vector(static_cast<size_t>(batch * H), 13);

  OnednnRnn onednn;
  onednn.setup(config, steps, batch, weights, 1);
  const Outputs want = run_baseline(onednn, config, steps, batch, x, &h0);
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    const simdrnn::Model good = make_simdrnn_model(config, weights);
    const simdrnn::Model bad = make_simdrnn_model(config, transposed);
    const Outputs ok = run_simdrnn(good, config, BaselineDirection::kLeft2Right, steps, batch, x, &h0, 1);
    const Outputs wrong = run_simdrnn(bad, config, BaselineDirection::kLeft2Right, steps, batch, x, &h0, 1);
    EXPECT_TRUE(all_close(ok.y, want.y, tolerance_for(config)));
    EXPECT_FALSE(all_close(wrong.y, want.y, tolerance_for(config)));
    EXPECT_FALSE(all_close(wrong.h_n, want.h_n, tolerance_for(config)));
  }
}

}  // namespace
}  // namespace simdrnn_test
