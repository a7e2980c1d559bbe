// simdrnn_backward against oneDNN 2.6's vanilla RNN backward (forward_training + backward
// primitives, OnednnRnnTraining) on the same random weights, data and incoming gradients, on every
// ISA with 1 and 2 threads: tanh, relu, sigmoid; left2right, right2left (simdrnn runs the
// time-reversed sequence, as in test_onednn.cpp), bidirectional_concat; 1, 2 and 3 layers (one
// multi-layer oneDNN primitive where its semantics match PyTorch's, chained per-layer primitives
// otherwise). Compared: dx, dh0, every cell's dW_ih, dW_hh and the bias gradient (oneDNN has one
// bias, b_ih + b_hh, so its gradient is compared with both of simdrnn's). The tolerance is
// relative to the accumulation length, scaled by each result's magnitude from the double
// reference backward (which also vets oneDNN's result). Also checks that the comparison fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "simdrnn/simdrnn.hpp"
#include "support/onednn_rnn.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

bool quick_mode() {
  const char* quick = std::getenv("SIMDRNN_TEST_QUICK");
  return quick != nullptr && quick[0] != '\0' && quick[0] != '0';
}

const char* activation_name(simdrnn_activation a) {
  return a == SIMDRNN_TANH ? "tanh" : a == SIMDRNN_RELU ? "relu" : "sigmoid";
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

// Gradients in one common form: per cell (PyTorch layout), dx [T, N, I], dh0 [L*D, N, H].
struct Grads {
  std::vector<BaselineCellGrads> cells;     // for simdrnn: bias = d/db_ih
  std::vector<std::vector<float>> bias_hh;  // simdrnn only: d/db_hh per cell
  std::vector<float> dx, dh0;
};

struct Problem {
  simdrnn_config config{};
  BaselineDirection direction = BaselineDirection::kLeft2Right;
  int64_t T = 0, N = 0;
  BaselineWeights weights;
  std::vector<float> x, h0, dy, dh_n;  // h0 / dh_n empty when absent
  int64_t D() const { return config.bidirectional ? 2 : 1; }
};

Problem make_problem(simdrnn_activation activation, BaselineDirection direction, int64_t input,
                     int64_t hidden, int64_t layers, int64_t steps, int64_t batch, bool with_h0,
                     bool with_dh_n, uint32_t seed) {
  Problem p;
  p.config = simdrnn_config_default();
  p.config.input_size = input;
  p.config.hidden_size = hidden;
  p.config.num_layers = layers;
  p.config.bidirectional = direction == BaselineDirection::kBidirectionalConcat ? 1 : 0;
  p.config.activation = activation;
  p.config.clip = 0.0f;
  p.config.output_size = 0;
  p.direction = direction;
  p.T = steps;
  p.N = batch;
  p.weights = make_baseline_weights(p.config, seed);
  const int64_t D = p.D();
  p.x = random_vector(static_cast<size_t>(steps * batch * input), seed + 1);
  if (with_h0) p.h0 = random_vector(static_cast<size_t>(layers * D * batch * hidden), seed + 2);
  p.dy = random_vector(static_cast<size_t>(steps * batch * D * hidden), seed + 3);
  if (with_dh_n) p.dh_n = random_vector(static_cast<size_t>(layers * D * batch * hidden), seed + 4);
  return p;
}

const float* ptr(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

// simdrnn on the active ISA: forward_training + backward, time-major. kRight2Left runs the
// unidirectional model on the time-reversed sequence (x and dy reversed, dx reversed back): a
// reverse-only stack is a forward stack over the reversed sequence, for any number of layers.
Grads run_simdrnn(const Problem& p, const BaselineWeights& weights, int32_t threads,
                  std::vector<float>* y_out, const std::vector<float>* dy_override = nullptr) {
  const simdrnn::Model model = make_simdrnn_model(p.config, weights);
  const bool reverse = p.direction == BaselineDirection::kRight2Left;
  const std::vector<float>& dy_in = dy_override != nullptr ? *dy_override : p.dy;
  const std::vector<float> x = reverse ? reverse_time(p.x, p.T) : p.x;
  const std::vector<float> dy = reverse ? reverse_time(dy_in, p.T) : dy_in;
  const int64_t D = p.D(), H = p.config.hidden_size, L = p.config.num_layers;
  std::vector<float> y(static_cast<size_t>(p.T * p.N * D * H)), h_n(static_cast<size_t>(L * D * p.N * H));
  simdrnn_forward_args args{};
  args.seq_len = p.T;
  args.batch = p.N;
  args.layout = SIMDRNN_TIME_MAJOR;
  args.x = x.data();
  args.h0 = ptr(p.h0);
  args.y = y.data();
  args.h_n = h_n.data();
  args.num_threads = threads;
  std::vector<unsigned char> ws(sizes_of(model.get(), args).workspace);
  args.workspace = ws.data();
  args.workspace_size = ws.size();
  size_t bytes = 0;
  simdrnn::check(simdrnn_training_reserve_size(model.get(), &args, &bytes));
  std::vector<unsigned char> reserve(bytes);
  simdrnn::check(simdrnn_forward_training(model.get(), &args, reserve.data(), reserve.size()));
  simdrnn::check(simdrnn_backward_workspace_size(model.get(), &args, &bytes));
  std::vector<unsigned char> bws(bytes);
  int64_t count = 0;
  simdrnn::check(simdrnn_model_num_params(model.get(), &count));
  std::vector<float> flat(static_cast<size_t>(count), NAN);
  Grads g;
  g.dx.assign(p.x.size(), NAN);
  g.dh0.assign(static_cast<size_t>(L * D * p.N * H), NAN);
  simdrnn_backward_args b{};
  b.forward = &args;
  b.reserve = reserve.data();
  b.reserve_size = reserve.size();
  b.dy = dy.data();
  b.dh_n = ptr(p.dh_n);
  b.dx = g.dx.data();
  b.dh0 = g.dh0.data();
  b.grads = flat.data();
  b.workspace = bws.data();
  b.workspace_size = bws.size();
  b.num_threads = threads;
  simdrnn::check(simdrnn_backward(model.get(), &b));
  if (reverse) {
    g.dx = reverse_time(g.dx, p.T);
    y = reverse_time(y, p.T);
  }
  if (y_out != nullptr) *y_out = y;
  auto tensor = [&](const std::string& name) {
    int64_t offset = -1, n = 0;
    simdrnn::check(simdrnn_model_param_offset(model.get(), name.c_str(), &offset, &n));
    if (offset < 0) throw std::runtime_error("no tensor " + name);
    return std::vector<float>(flat.begin() + offset, flat.begin() + offset + n);
  };
  for (int64_t l = 0; l < L; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string suffix = cell_suffix(l, d);
      BaselineCellGrads c;
      c.w_ih = tensor("weight_ih" + suffix);
      c.w_hh = tensor("weight_hh" + suffix);
      c.bias = tensor("bias_ih" + suffix);
      g.cells.push_back(c);
      g.bias_hh.push_back(tensor("bias_hh" + suffix));
    }
  return g;
}

Grads run_onednn(const Problem& p, std::vector<float>* y_out, std::string* impl,
                 bool force_per_layer = false) {
  OnednnRnnTraining onednn;
  onednn.setup(p.config, p.T, p.N, p.weights, 1, p.direction, force_per_layer);
  const int64_t D = p.D(), H = p.config.hidden_size, L = p.config.num_layers;
  std::vector<float> y(static_cast<size_t>(p.T * p.N * D * H)), h_n(static_cast<size_t>(L * D * p.N * H));
  onednn.forward(p.x.data(), ptr(p.h0), y.data(), h_n.data());
  Grads g;
  g.dx.assign(p.x.size(), NAN);
  g.dh0.assign(h_n.size(), NAN);
  onednn.backward(p.dy.data(), ptr(p.dh_n), g.dx.data(), g.dh0.data(), &g.cells);
  if (y_out != nullptr) *y_out = y;
  if (impl != nullptr) *impl = onednn.impl_info();
  return g;
}

// The double reference backward (values and magnitudes), in the same common form; the bias entry
// holds d/db_ih (= d/db_hh).
struct Exact {
  std::vector<std::vector<double>> w_ih, w_hh, bias, w_ih_mag, w_hh_mag, bias_mag, w_ih_sens, w_hh_sens,
      bias_sens;
  std::vector<double> dx, dx_mag, dx_sens, dh0, dh0_mag, dh0_sens;
  double rel = 0.0;  // 4 epsilons per accumulated term
};

constexpr double kHiddenError = 1e-6;  // as test_backward.cpp: float forward's hidden-state error

Exact exact_gradients(const Problem& p) {
  RefWeights ref;
  for (const BaselineCell& c : p.weights.cells) ref.cells.push_back(RefCell{c.w_ih, c.w_hh, c.b_ih, c.b_hh});
  const std::vector<ParamTensor> layout = expected_param_layout(p.config, true, false);
  const std::vector<double> params = flatten_ref_weights(p.config, ref, layout);
  const bool reverse = p.direction == BaselineDirection::kRight2Left;
  const std::vector<float> xf = reverse ? reverse_time(p.x, p.T) : p.x;
  const std::vector<float> dyf = reverse ? reverse_time(p.dy, p.T) : p.dy;
  const std::vector<double> x(xf.begin(), xf.end()), dy(dyf.begin(), dyf.end());
  const std::vector<double> h0(p.h0.begin(), p.h0.end()), dh_n(p.dh_n.begin(), p.dh_n.end());
  RefBackwardD b = reference_backward_flat(p.config, layout, params, p.T, p.N, SIMDRNN_TIME_MAJOR, x,
                                           p.h0.empty() ? nullptr : &h0, nullptr, &dy, nullptr,
                                           p.dh_n.empty() ? nullptr : &dh_n, kHiddenError);
  Exact e;
  auto take = [&](const std::vector<double>& flat, const std::string& name) {
    const ParamTensor* t = find_param(layout, name);
    return std::vector<double>(flat.begin() + t->offset, flat.begin() + t->offset + t->count);
  };
  const int64_t D = p.D();
  for (int64_t l = 0; l < p.config.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string s = cell_suffix(l, d);
      e.w_ih.push_back(take(b.grads, "weight_ih" + s));
      e.w_hh.push_back(take(b.grads, "weight_hh" + s));
      e.bias.push_back(take(b.grads, "bias_ih" + s));
      e.w_ih_mag.push_back(take(b.grads_mag, "weight_ih" + s));
      e.w_hh_mag.push_back(take(b.grads_mag, "weight_hh" + s));
      e.bias_mag.push_back(take(b.grads_mag, "bias_ih" + s));
      e.w_ih_sens.push_back(take(b.grads_sens, "weight_ih" + s));
      e.w_hh_sens.push_back(take(b.grads_sens, "weight_hh" + s));
      e.bias_sens.push_back(take(b.grads_sens, "bias_ih" + s));
    }
  e.dx = reverse ? reverse_time(b.dx, p.T) : b.dx;
  e.dx_mag = reverse ? reverse_time(b.dx_mag, p.T) : b.dx_mag;
  e.dx_sens = reverse ? reverse_time(b.dx_sens, p.T) : b.dx_sens;
  e.dh0 = b.dh0;
  e.dh0_mag = b.dh0_mag;
  e.dh0_sens = b.dh0_sens;
  // Accumulation length along the longest chain: T*N (sums over steps and sequences) plus
  // L*T*(in + H) (through time and layers), as in test_backward.cpp.
  const int64_t widest =
      std::max(p.config.input_size, p.config.num_layers > 1 ? D * p.config.hidden_size : 0);
  const double K =
      static_cast<double>(p.T * p.N + p.config.num_layers * p.T * (widest + p.config.hidden_size));
  e.rel = 4.0 * std::ldexp(1.0, -24) * K;
  return e;
}

// |a - b| <= scale * (rel * mag + sens), elementwise; NaN never passes.
struct Mismatch {
  int64_t bad = 0;
  std::string first;
  double max_ratio = 0.0;
};

void compare(const std::vector<float>& a, const std::vector<float>* b, const std::vector<double>* b_exact,
             const std::vector<double>& mag, const std::vector<double>& sens, double rel, double scale,
             const std::string& what, Mismatch* m) {
  const size_t n = b != nullptr ? b->size() : b_exact->size();
  if (a.size() != n) {
    ++m->bad;
    if (m->first.empty()) m->first = what + ": size " + std::to_string(a.size()) + " vs " + std::to_string(n);
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    const double want = b != nullptr ? static_cast<double>((*b)[i]) : (*b_exact)[i];
    const double error = std::fabs(static_cast<double>(a[i]) - want);
    const double allowed = scale * (rel * mag[i] + sens[i]) + 1e-30;
    const double ratio = std::isnan(error) ? std::numeric_limits<double>::infinity() : error / allowed;
    m->max_ratio = std::max(m->max_ratio, ratio);
    if (!(error <= allowed)) {
      if (m->bad == 0) {
        std::ostringstream os;
        os.precision(9);
        os << what << "[" << i << "]: " << a[i] << " vs " << want << ", |diff| " << error << " > allowed "
           << allowed << " (magnitude " << mag[i] << ")";
        m->first = os.str();
      }
      ++m->bad;
    }
  }
}

// Compares `got` with `want` (another float result; both may err, so twice the bound) or, when
// want is null, with the exact values.
::testing::AssertionResult agree(const Grads& got, const Grads* want, const Exact& e,
                                 const std::string& label, bool check_bias_hh = false) {
  Mismatch m;
  const double scale = want != nullptr ? 2.0 : 1.0;
  for (size_t c = 0; c < got.cells.size(); ++c) {
    const std::string cell = "cell " + std::to_string(c) + " ";
    compare(got.cells[c].w_ih, want ? &want->cells[c].w_ih : nullptr, &e.w_ih[c], e.w_ih_mag[c],
            e.w_ih_sens[c], e.rel, scale, cell + "dW_ih", &m);
    compare(got.cells[c].w_hh, want ? &want->cells[c].w_hh : nullptr, &e.w_hh[c], e.w_hh_mag[c],
            e.w_hh_sens[c], e.rel, scale, cell + "dW_hh", &m);
    compare(got.cells[c].bias, want ? &want->cells[c].bias : nullptr, &e.bias[c], e.bias_mag[c],
            e.bias_sens[c], e.rel, scale, cell + "db_ih", &m);
    if (check_bias_hh)
      compare(got.bias_hh[c], want ? &want->cells[c].bias : nullptr, &e.bias[c], e.bias_mag[c],
              e.bias_sens[c], e.rel, scale, cell + "db_hh", &m);
  }
  compare(got.dx, want ? &want->dx : nullptr, &e.dx, e.dx_mag, e.dx_sens, e.rel, scale, "dx", &m);
  compare(got.dh0, want ? &want->dh0 : nullptr, &e.dh0, e.dh0_mag, e.dh0_sens, e.rel, scale, "dh0", &m);
  if (m.bad == 0) return ::testing::AssertionSuccess() << label << " max ratio " << m.max_ratio;
  return ::testing::AssertionFailure() << label << ": " << m.bad << " mismatches; first " << m.first
                                       << " (max ratio " << m.max_ratio << ")";
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

bool bit_equal(const Grads& a, const Grads& b) {
  if (!bit_equal(a.dx, b.dx) || !bit_equal(a.dh0, b.dh0) || a.cells.size() != b.cells.size()) return false;
  for (size_t c = 0; c < a.cells.size(); ++c)
    if (!bit_equal(a.cells[c].w_ih, b.cells[c].w_ih) || !bit_equal(a.cells[c].w_hh, b.cells[c].w_hh) ||
        !bit_equal(a.cells[c].bias, b.cells[c].bias) || !bit_equal(a.bias_hh[c], b.bias_hh[c]))
      return false;
  return true;
}

// oneDNN's result (vetted against the exact gradients: a configuration whose oneDNN backward is
// unusable is skipped, saying why), then simdrnn on every ISA and 1 and 2 threads against it.
void check_problem(const Problem& p, bool force_per_layer = false) {
  const Exact e = exact_gradients(p);
  Grads want;
  std::string impl;
  try {
    want = run_onednn(p, nullptr, &impl, force_per_layer);
  } catch (const std::exception& ex) {
    GTEST_SKIP() << "oneDNN 2.6 cannot run this backward configuration: " << ex.what();
  }
  const ::testing::AssertionResult onednn_ok = agree(want, nullptr, e, "oneDNN vs exact");
  if (!onednn_ok)
    GTEST_SKIP() << "oneDNN 2.6's backward (" << impl << ") disagrees with the double reference here, so it "
                 << "is no baseline for this configuration: " << onednn_ok.message();
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    const Grads one = run_simdrnn(p, p.weights, 1, nullptr);
    const Grads two = run_simdrnn(p, p.weights, 2, nullptr);
    EXPECT_TRUE(bit_equal(one, two)) << "simdrnn's gradients differ between 1 and 2 threads";
    EXPECT_TRUE(agree(one, &want, e, "simdrnn vs oneDNN", true)) << "oneDNN: " << impl;
  }
}

// activation, direction, layers, (batch, steps, hidden) shape index.
using Params = std::tuple<simdrnn_activation, BaselineDirection, int64_t, int>;

struct Shape {
  int64_t batch, steps, hidden;
};
const Shape kShapes[] = {{1, 1, 1}, {3, 5, 7}, {2, 20, 17}, {3, 7, 64}, {5, 30, 40}};

class OnednnBackwardMatch : public ::testing::TestWithParam<Params> {};

// One layer reads I = H + 3 inputs; stacks use I == H so that unidirectional ones run as one
// multi-layer oneDNN primitive (bidirectional stacks chain per-layer primitives: oneDNN's
// multi-layer bidirectional_concat feeds each direction only its own direction below).
TEST_P(OnednnBackwardMatch, GradientsAgree) {
  const auto [activation, direction, layers, shape_index] = GetParam();
  Shape shape = kShapes[shape_index];
  if (quick_mode()) shape.steps = std::min<int64_t>(shape.steps, 5);
  const int64_t input = layers == 1 ? shape.hidden + 3 : shape.hidden;
  const Problem p = make_problem(
      activation, direction, input, shape.hidden, layers, shape.steps, shape.batch, true, true,
      static_cast<uint32_t>(500 + 131 * shape.hidden + 17 * shape.steps + shape.batch + 7 * layers));
  check_problem(p);
}

std::string params_name(const ::testing::TestParamInfo<Params>& info) {
  const auto [activation, direction, layers, shape_index] = info.param;
  const Shape& s = kShapes[shape_index];
  std::ostringstream name;
  name << activation_name(activation) << "_" << direction_name(direction) << "_l" << layers << "_n" << s.batch
       << "_t" << s.steps << "_h" << s.hidden;
  return name.str();
}

INSTANTIATE_TEST_SUITE_P(Shapes, OnednnBackwardMatch,
                         ::testing::Combine(::testing::Values(SIMDRNN_TANH, SIMDRNN_RELU, SIMDRNN_SIGMOID),
                                            ::testing::Values(BaselineDirection::kLeft2Right,
                                                              BaselineDirection::kRight2Left,
                                                              BaselineDirection::kBidirectionalConcat),
                                            ::testing::Values<int64_t>(1, 2),
                                            ::testing::Values(0, 1, 2, 3, 4)),
                         params_name);

// Three layers; the first layer narrower or wider than H (oneDNN: per-layer primitives), and a
// unidirectional I == H stack as one three-layer primitive.
TEST(OnednnBackwardStack, ThreeLayers) {
  for (BaselineDirection direction : {BaselineDirection::kLeft2Right, BaselineDirection::kRight2Left,
                                      BaselineDirection::kBidirectionalConcat}) {
    for (int64_t input : {int64_t{5}, int64_t{16}, int64_t{40}}) {
      SCOPED_TRACE(std::string(direction_name(direction)) + " I=" + std::to_string(input));
      check_problem(make_problem(SIMDRNN_TANH, direction, input, 16, 3, 6, 3, true, true, 77));
    }
  }
}

// No h0 and no dh_n (both zero on both sides).
TEST(OnednnBackwardExtras, NoInitialStateNoFinalStateGradient) {
  for (BaselineDirection direction :
       {BaselineDirection::kLeft2Right, BaselineDirection::kBidirectionalConcat}) {
    SCOPED_TRACE(direction_name(direction));
    check_problem(make_problem(SIMDRNN_SIGMOID, direction, 9, 33, 2, 8, 3, false, false, 99));
  }
}

// The wrapper's chained per-layer backward computes what the single multi-layer primitive does
// (so the chained bidirectional results above are trustworthy).
TEST(OnednnBackwardStack, PerLayerChainEqualsSinglePrimitive) {
  for (BaselineDirection direction : {BaselineDirection::kLeft2Right, BaselineDirection::kRight2Left}) {
    SCOPED_TRACE(direction_name(direction));
    const Problem p = make_problem(SIMDRNN_TANH, direction, 16, 16, 3, 7, 2, true, true, 5);
    const Exact e = exact_gradients(p);
    std::string impl;
    const Grads single = run_onednn(p, nullptr, &impl, false);
    const Grads chained = run_onednn(p, nullptr, &impl, true);
    EXPECT_TRUE(agree(chained, &single, e, "chained vs single"));
  }
}

// The comparison must be able to fail: simdrnn given W_hh transposed, or the negated dy, or a
// dy that differs in a single element (of T*N*D*H) by 10%, must not match oneDNN's gradients.
// (Measured errors stay below 10% of the tolerance.)
TEST(OnednnBackwardSelfCheck, WrongGradientsAreCaught) {
  for (BaselineDirection direction : {BaselineDirection::kLeft2Right, BaselineDirection::kRight2Left,
                                      BaselineDirection::kBidirectionalConcat}) {
    SCOPED_TRACE(direction_name(direction));
    const Problem p = make_problem(SIMDRNN_TANH, direction, 17, 17, 2, 5, 3, true, true, 11);
    const int64_t H = p.config.hidden_size;
    BaselineWeights transposed = p.weights;
    for (size_t c = 0; c < p.weights.cells.size(); ++c)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < H; ++j)
          transposed.cells[c].w_hh[static_cast<size_t>(i * H + j)] =
              p.weights.cells[c].w_hh[static_cast<size_t>(j * H + i)];
    const Exact e = exact_gradients(p);
    std::string impl;
    const Grads want = run_onednn(p, nullptr, &impl);
    ASSERT_TRUE(agree(want, nullptr, e, "oneDNN vs exact"));
    for (simdrnn_isa isa : available_isas()) {
      SCOPED_TRACE(simdrnn_isa_name(isa));
      IsaCap cap(isa);
      EXPECT_TRUE(agree(run_simdrnn(p, p.weights, 1, nullptr), &want, e, "good"));
      EXPECT_FALSE(agree(run_simdrnn(p, transposed, 1, nullptr), &want, e, "transposed W_hh"));
      std::vector<float> negated = p.dy;
      for (float& v : negated) v = -v;
      EXPECT_FALSE(agree(run_simdrnn(p, p.weights, 1, nullptr, &negated), &want, e, "negated dy"));
      std::vector<float> nudged = p.dy;
      nudged[nudged.size() / 2] *= 1.1f;
      EXPECT_FALSE(
          agree(run_simdrnn(p, p.weights, 1, nullptr, &nudged), &want, e, "dy off by 10% in one element"));
    }
  }
}

}  // namespace
}  // namespace simdrnn_test
