// simdrnn_backward against central finite differences of a double-precision reference forward.
//
// The loss is L = sum(wy * y) + sum(wout * out) + sum(whn * h_n) with fixed random weights, so
// dLoss/dy = wy, dLoss/dout = wout and dLoss/dh_n = whn are what backward is given. Every
// parameter (through the documented flat layout), every element of x and of h0 (also without h0:
// the gradient at the zero state) is perturbed in double, one at a time, and the loss
// re-evaluated with reference_forward_flat (all double), so the finite differences (Richardson-
// extrapolated, with an error estimate) are exact to ~1e-9. A double analytic backward
// (reference_backward_flat) must agree with them and supplies each result's magnitude, from
// which the float tolerance is derived (see "tolerance" below). Small shapes (I, H in 1..6,
// T in {1, 3, 5}, N in {1, 3}) cover every feature: tanh / relu / sigmoid, clip, uni- /
// bidirectional, 1 and 2 layers, lengths (one 1 and one T), h0, the output layer with and
// without bias_hy, cell biases present / absent / partial, both layouts, dh_n present / absent,
// dy / dout absent, accumulate = 1. Every ISA, 1 and 2 threads, and results bit-identical across
// thread counts (also on larger shapes that split work between threads and fill whole SIMD
// panels, with sampled finite differences). Self-checks show that the comparison fails for a
// wrong gradient, down to 0.1% in one element. Also: the parameter API (layout, get/set round
// trip, a reserve from before set_params is rejected, gradients after set_params).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/guarded.hpp"
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

// ---- one configuration ----------------------------------------------------------------------

struct Case {
  int64_t input = 3, hidden = 4, steps = 3, batch = 3, layers = 1, output = 0;
  bool bidirectional = false;
  simdrnn_activation activation = SIMDRNN_TANH;
  float clip = 0.0f;
  simdrnn_layout layout = SIMDRNN_TIME_MAJOR;
  bool cell_bias = true;      // set bias_ih / bias_hh of every cell
  bool partial_bias = false;  // set only bias_hh_l0 (the model then has all cell biases, zero)
  bool bias_hy = true;        // set bias_hy (when output > 0)
  bool lens = false, h0 = false, dh_n = false;
  bool dy = true;         // pass dy (else the y term is not in the loss)
  bool dout = true;       // pass dout when output > 0
  bool forward_y = true;  // forward_training writes y (else only h_n / out)

  simdrnn_config config() const {
    simdrnn_config c = simdrnn_config_default();
    c.input_size = input;
    c.hidden_size = hidden;
    c.num_layers = layers;
    c.bidirectional = bidirectional ? 1 : 0;
    c.activation = activation;
    c.clip = clip;
    c.output_size = output;
    return c;
  }
  std::string name() const {
    std::ostringstream s;
    s << "i" << input << "h" << hidden << "t" << steps << "n" << batch << "l" << layers
      << (bidirectional ? "bi" : "uni") << "_" << activation_name(activation) << (clip > 0 ? "_clip" : "")
      << (layout == SIMDRNN_TIME_MAJOR ? "_tm" : "_bm")
      << (partial_bias ? "_partialbias"
          : cell_bias  ? "_bias"
                       : "_nobias");
    if (output > 0) s << "_o" << output << (bias_hy ? "b" : "") << (dout ? "" : "_nodout");
    if (lens) s << "_lens";
    if (h0) s << "_h0";
    if (dh_n) s << "_dhn";
    if (!dy) s << "_nody";
    if (!forward_y) s << "_ynull";
    return s.str();
  }
};

// Random weights, data and loss weights for a case, redrawn until no pre-activation is within
// 1e-3 of a kink of relu or clip (finite differences there would straddle it).
struct Problem {
  Case c;
  simdrnn_config config{};
  RefWeights ref;
  std::vector<ParamTensor> layout;
  std::vector<double> params;        // flat, every value an exact float
  std::vector<float> x, h0;          // h0 empty when absent
  std::vector<int64_t> lens;         // empty when absent
  std::vector<float> wy, wout, whn;  // = dy, dout, dh_n; empty when absent
  uint32_t seed = 0;
  int attempts = 0;

  int64_t D() const { return c.bidirectional ? 2 : 1; }
  int64_t x_count() const { return c.steps * c.batch * c.input; }
  int64_t y_count() const { return c.steps * c.batch * D() * c.hidden; }
  int64_t h_count() const { return c.layers * D() * c.batch * c.hidden; }
  int64_t out_count() const { return c.steps * c.batch * c.output; }
  int64_t num_params() const { return param_count(layout); }
  const int64_t* lens_ptr() const { return lens.empty() ? nullptr : lens.data(); }
};

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

RefForwardD forward_d(const Problem& p, const std::vector<double>& params, const std::vector<double>& x,
                      const std::vector<double>* h0) {
  return reference_forward_flat(p.config, p.layout, params, p.c.steps, p.c.batch, p.c.layout, x, h0,
                                p.lens_ptr());
}

double dot(const std::vector<float>& w, const std::vector<double>& v) {
  double s = 0.0;
  for (size_t i = 0; i < w.size(); ++i) s += static_cast<double>(w[i]) * v[i];
  return s;
}

double loss_of(const Problem& p, const RefForwardD& r) {
  return dot(p.wy, r.y) + dot(p.wout, r.out) + dot(p.whn, r.h_n);
}

Problem make_problem(const Case& c, uint32_t seed, double kink_margin = 1e-3) {
  Problem p;
  p.c = c;
  p.config = c.config();
  for (int attempt = 0; attempt < 500; ++attempt) {
    p.seed = seed + 7919u * static_cast<uint32_t>(attempt);
    p.attempts = attempt + 1;
    p.ref = random_ref_weights(p.config, p.seed, c.cell_bias || c.partial_bias);
    if (c.partial_bias)
      for (size_t i = 0; i < p.ref.cells.size(); ++i) {
        p.ref.cells[i].b_ih.clear();
        if (i != 0) p.ref.cells[i].b_hh.clear();
      }
    if (!c.bias_hy) p.ref.b_hy.clear();
    if (c.bias_hy && c.output > 0 && p.ref.b_hy.empty())  // random_ref_weights draws none without biases
      p.ref.b_hy = random_vector(static_cast<size_t>(c.output), p.seed + 7, -0.3f, 0.3f);
    p.layout = expected_param_layout(p.config, c.cell_bias || c.partial_bias, c.output > 0 && c.bias_hy);
    p.params = flatten_ref_weights(p.config, p.ref, p.layout);
    p.x = random_vector(static_cast<size_t>(p.x_count()), p.seed + 1);
    p.h0 = c.h0 ? random_vector(static_cast<size_t>(p.h_count()), p.seed + 2) : std::vector<float>();
    p.lens = c.lens ? random_seq_lens(c.steps, c.batch, p.seed + 3) : std::vector<int64_t>();
    p.wy = c.dy ? random_vector(static_cast<size_t>(p.y_count()), p.seed + 4) : std::vector<float>();
    p.wout = c.output > 0 && c.dout ? random_vector(static_cast<size_t>(p.out_count()), p.seed + 5)
                                    : std::vector<float>();
    p.whn = c.dh_n ? random_vector(static_cast<size_t>(p.h_count()), p.seed + 6) : std::vector<float>();
    const std::vector<double> h0d = to_double(p.h0);
    const RefForwardD r = forward_d(p, p.params, to_double(p.x), c.h0 ? &h0d : nullptr);
    if (kink_distance(p.config, r.pre) > kink_margin) return p;
  }
  ADD_FAILURE() << "no draw without a kink within " << kink_margin << " for " << c.name();
  return p;
}

// ---- finite differences --------------------------------------------------------------------------

// Central differences with steps h and 2h, combined by Richardson extrapolation (error O(h^4));
// err bounds the error of g: |D(h) - D(2h)| is three times D(h)'s truncation error, far above
// the extrapolated value's, plus the double rounding of the loss divided by the step.
struct Fd {
  std::vector<double> g, err;  // NaN where not computed (sampled runs)
};

constexpr double kStep = 1e-5;

// How far a float forward pass's hidden states may be from the exact ones (absolute; they are in
// [-1, 1] or small for relu): float rounding of the pre-activation sums plus the SIMD tanh / exp
// approximations, a few ulp of 1. Backward reads them (through tanh' = 1 - h^2 and
// sigmoid' = h(1 - h) and as inputs of the weight gradients); reference_backward_flat turns this
// into a bound per result (*_sens).
constexpr double kHiddenError = 1e-6;

template <class Eval>
Fd central_differences(std::vector<double> v, const std::vector<size_t>& indices, double loss_magnitude,
                       Eval&& eval) {
  Fd fd;
  fd.g.assign(v.size(), std::numeric_limits<double>::quiet_NaN());
  fd.err.assign(v.size(), std::numeric_limits<double>::quiet_NaN());
  const double rounding = 64.0 * std::ldexp(1.0, -52) * (loss_magnitude + 1.0) / kStep;
  for (size_t i : indices) {
    const double orig = v[i];
    double l[4];
    const double steps[4] = {kStep, -kStep, 2 * kStep, -2 * kStep};
    for (int s = 0; s < 4; ++s) {
      v[i] = orig + steps[s];
      l[s] = eval(v);
    }
    v[i] = orig;
    const double d1 = (l[0] - l[1]) / (2 * kStep), d2 = (l[2] - l[3]) / (4 * kStep);
    fd.g[i] = (4.0 * d1 - d2) / 3.0;
    fd.err[i] = std::fabs(d1 - d2) + rounding;
  }
  return fd;
}

std::vector<size_t> all_indices(size_t n) {
  std::vector<size_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

// `per_tensor` random indices from each of the given [begin, begin + count) ranges.
std::vector<size_t> sample_indices(const std::vector<std::pair<int64_t, int64_t>>& ranges, int per_tensor,
                                   uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<size_t> out;
  for (const auto& [begin, count] : ranges) {
    if (count <= per_tensor) {
      for (int64_t i = 0; i < count; ++i) out.push_back(static_cast<size_t>(begin + i));
      continue;
    }
    std::uniform_int_distribution<int64_t> dist(0, count - 1);
    for (int k = 0; k < per_tensor; ++k) out.push_back(static_cast<size_t>(begin + dist(gen)));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

struct Gradients {
  Fd params, x, h0;    // h0: around the zero state when the problem has no h0
  RefBackwardD exact;  // analytic double backward: values (cross-check) and magnitudes (tolerance)
};

// Finite-difference gradients of the loss; `sample` > 0 checks that many elements per tensor.
Gradients finite_differences(const Problem& p, int sample = 0) {
  const std::vector<double> x = to_double(p.x), h0 = to_double(p.h0);
  const std::vector<double>* h0p = p.c.h0 ? &h0 : nullptr;
  double magnitude = 0.0;
  {
    const RefForwardD r = forward_d(p, p.params, x, h0p);
    for (size_t i = 0; i < p.wy.size(); ++i) magnitude += std::fabs(p.wy[i] * r.y[i]);
    for (size_t i = 0; i < p.wout.size(); ++i) magnitude += std::fabs(p.wout[i] * r.out[i]);
    for (size_t i = 0; i < p.whn.size(); ++i) magnitude += std::fabs(p.whn[i] * r.h_n[i]);
  }
  auto indices = [&](size_t n, std::vector<std::pair<int64_t, int64_t>> ranges, uint32_t salt) {
    return sample > 0 ? sample_indices(ranges, sample, p.seed + salt) : all_indices(n);
  };
  std::vector<std::pair<int64_t, int64_t>> param_ranges;
  for (const ParamTensor& t : p.layout) param_ranges.emplace_back(t.offset, t.count);
  Gradients g;
  g.params =
      central_differences(p.params, indices(p.params.size(), param_ranges, 11), magnitude,
                          [&](const std::vector<double>& v) { return loss_of(p, forward_d(p, v, x, h0p)); });
  g.x = central_differences(
      x, indices(x.size(), {{0, p.x_count()}}, 12), magnitude,
      [&](const std::vector<double>& v) { return loss_of(p, forward_d(p, p.params, v, h0p)); });
  // dh0 is defined without h0 too (the gradient at h0 = 0, which is what a NULL h0 means).
  const std::vector<double> h0_or_zero =
      p.c.h0 ? h0 : std::vector<double>(static_cast<size_t>(p.h_count()), 0.0);
  g.h0 = central_differences(
      h0_or_zero, indices(h0_or_zero.size(), {{0, p.h_count()}}, 13), magnitude,
      [&](const std::vector<double>& v) { return loss_of(p, forward_d(p, p.params, x, &v)); });
  const std::vector<double> dy = to_double(p.wy), dout = to_double(p.wout), dh_n = to_double(p.whn);
  g.exact =
      reference_backward_flat(p.config, p.layout, p.params, p.c.steps, p.c.batch, p.c.layout, x, h0p,
                              p.lens_ptr(), p.wy.empty() ? nullptr : &dy, p.wout.empty() ? nullptr : &dout,
                              p.whn.empty() ? nullptr : &dh_n, kHiddenError);
  return g;
}

// ---- tolerance -------------------------------------------------------------------------------------

// simdrnn computes each gradient in float as a chain of sums: dA_t = act' * (dy_t + W_hh^T dA_{t+1}
// + the layer above's W_ih^T dA + W_hy^T dout), then dW = sum_t dA_t x_t^T etc. Float rounding of
// such a computation is bounded by (number of accumulated terms along the chain) * 2^-24 times
// its magnitude: the sum of |terms| through the whole chain, which reference_backward_flat
// computes as the forward reference computes its magnitudes. The chain length is at most
// K = T*N (the sum over steps and sequences) + L*T*(in + H) (through time and layers) + O; as in
// default_tolerance(), 4 epsilons per term. On top: the effect of the float forward pass's hidden
// states being off by up to kHiddenError (reference_backward_flat's *_sens: this dominates near
// saturation, where 1 - h^2 is small), the finite difference's own error bound, and, when
// accumulating onto a buffer b, rounding at b's scale. Measured over many random draws, errors
// stay below 1/8 of this; a 0.1% error in one gradient exceeds it (BackwardSelfCheck).
struct GradTolerance {
  double rel = 0.0;
};

GradTolerance grad_tolerance(const Problem& p) {
  const int64_t widest = std::max(p.c.input, p.c.layers > 1 ? p.D() * p.c.hidden : int64_t{0});
  const double K = static_cast<double>(p.c.steps * p.c.batch +
                                       p.c.layers * p.c.steps * (widest + p.c.hidden) + p.c.output);
  GradTolerance t;
  t.rel = 4.0 * std::ldexp(1.0, -24) * K;
  return t;
}

struct Check {
  int64_t bad = 0;
  int64_t checked = 0;
  double max_ratio = 0.0;
  std::string message;
  bool ok() const { return bad == 0; }
};

// Compares got[begin, begin + count) (minus base, when accumulating onto base) with the finite
// differences `want`, allowing rel * magnitude + twice the finite difference's error bound.
void compare_tensor(const float* got, const float* base, const Fd& want, const std::vector<double>& mag,
                    const std::vector<double>& sens, int64_t begin, int64_t count, double rel,
                    const std::string& what, Check* check) {
  for (int64_t i = begin; i < begin + count; ++i) {
    const size_t k = static_cast<size_t>(i);
    if (std::isnan(want.g[k])) continue;
    const double b = base != nullptr ? static_cast<double>(base[i]) : 0.0;
    const double expected = want.g[k] + b;
    // Accumulating onto b: each addition into the buffer rounds at b's scale too.
    const double allowed = rel * (mag[k] + std::fabs(b)) + sens[k] + 2.0 * want.err[k];
    const double error = std::fabs(static_cast<double>(got[i]) - expected);
    const double ratio = std::isnan(error) ? std::numeric_limits<double>::infinity() : error / allowed;
    ++check->checked;
    check->max_ratio = std::max(check->max_ratio, ratio);
    if (!(error <= allowed)) {
      if (check->bad == 0) {
        std::ostringstream os;
        os.precision(9);
        os << what << "[" << i - begin << "]: got " << got[i] - b << ", finite difference " << want.g[k]
           << ", |diff| " << error << " > allowed " << allowed << " (magnitude " << mag[k] << ")";
        check->message = os.str();
      }
      ++check->bad;
    }
  }
}

// The analytic double backward and the finite differences agree to the finite differences' own
// accuracy (both are double: this validates the reference and the magnitudes' companion values).
::testing::AssertionResult reference_agrees(const Problem& p, const Gradients& g) {
  const struct {
    const char* name;
    const Fd* fd;
    const std::vector<double>* exact;
    const std::vector<double>* mag;
  } parts[] = {{"grads", &g.params, &g.exact.grads, &g.exact.grads_mag},
               {"dx", &g.x, &g.exact.dx, &g.exact.dx_mag},
               {"dh0", &g.h0, &g.exact.dh0, &g.exact.dh0_mag}};
  for (const auto& part : parts) {
    if (part.fd->g.empty()) continue;
    for (size_t i = 0; i < part.fd->g.size(); ++i) {
      if (std::isnan(part.fd->g[i])) continue;
      const double error = std::fabs((*part.exact)[i] - part.fd->g[i]);
      const double allowed = 1e-9 * (*part.mag)[i] + 4.0 * part.fd->err[i] + 1e-12;
      if (!(error <= allowed))
        return ::testing::AssertionFailure() << p.c.name() << ": analytic " << part.name << "[" << i << "] "
                                             << (*part.exact)[i] << " vs finite difference " << part.fd->g[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// Library outputs of one backward call.
struct LibGrads {
  std::vector<float> grads, dx, dh0;
};

Check compare_all(const Problem& p, const Gradients& g, const LibGrads& got, const GradTolerance& tol,
                  const LibGrads* base = nullptr) {
  Check check;
  for (const ParamTensor& t : p.layout)
    compare_tensor(got.grads.data(), base ? base->grads.data() : nullptr, g.params, g.exact.grads_mag,
                   g.exact.grads_sens, t.offset, t.count, tol.rel, t.name, &check);
  compare_tensor(got.dx.data(), base ? base->dx.data() : nullptr, g.x, g.exact.dx_mag, g.exact.dx_sens, 0,
                 p.x_count(), tol.rel, "dx", &check);
  compare_tensor(got.dh0.data(), base ? base->dh0.data() : nullptr, g.h0, g.exact.dh0_mag, g.exact.dh0_sens,
                 0, p.h_count(), tol.rel, "dh0", &check);
  if (check.bad > 0)
    check.message += " [" + std::to_string(check.bad) + " of " + std::to_string(check.checked) + " outside]";
  return check;
}

// ---- running simdrnn --------------------------------------------------------------------------------

std::string last_error() { return simdrnn_last_error(); }

// One model (on the ISA active when it was created) with a filled reserve.
class Trainer {
 public:
  Trainer(const Problem& p, int32_t forward_threads) : p_(p) {
    std::string error;
    model_ = create_model(p.config, p.ref, &error);
    if (model_ == nullptr) {
      ADD_FAILURE() << "create_model: " << error;
      return;
    }
    y_.assign(static_cast<size_t>(p.y_count()), NAN);
    h_n_.assign(static_cast<size_t>(p.h_count()), NAN);
    out_.assign(static_cast<size_t>(p.out_count()), NAN);
    args_.seq_len = p.c.steps;
    args_.batch = p.c.batch;
    args_.layout = p.c.layout;
    args_.x = p.x.data();
    args_.h0 = p.c.h0 ? p.h0.data() : nullptr;
    args_.seq_lens = p.lens_ptr();
    args_.y = p.c.forward_y ? y_.data() : nullptr;
    args_.h_n = h_n_.data();
    args_.out = p.c.output > 0 ? out_.data() : nullptr;
    args_.num_threads = forward_threads;
    size_t bytes = 0;
    ok_ = expect_ok(simdrnn_forward_workspace_size(model_, &args_, &bytes), "forward_workspace_size");
    fwd_ws_.resize(bytes);
    args_.workspace = fwd_ws_.data();
    args_.workspace_size = bytes;
    ok_ = ok_ && expect_ok(simdrnn_training_reserve_size(model_, &args_, &bytes), "training_reserve_size");
    reserve_.assign(bytes, 0);
    ok_ = ok_ && expect_ok(simdrnn_forward_training(model_, &args_, reserve_.data(), reserve_.size()),
                           "forward_training");
    ok_ =
        ok_ && expect_ok(simdrnn_backward_workspace_size(model_, &args_, &bytes), "backward_workspace_size");
    bwd_ws_.resize(bytes);
  }
  ~Trainer() {
    if (model_ != nullptr) simdrnn_model_destroy(model_);
  }
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  bool ok() const { return ok_; }
  simdrnn_model* model() const { return model_; }
  const simdrnn_forward_args& args() const { return args_; }
  const std::vector<float>& y() const { return y_; }
  const std::vector<float>& h_n() const { return h_n_; }
  const std::vector<float>& out() const { return out_; }
  const std::vector<unsigned char>& reserve() const { return reserve_; }

  simdrnn_backward_args backward_args(int32_t threads, int32_t accumulate) {
    simdrnn_backward_args b{};
    b.forward = &args_;
    b.reserve = reserve_.data();
    b.reserve_size = reserve_.size();
    b.dy = p_.wy.empty() ? nullptr : p_.wy.data();
    b.dout = p_.wout.empty() ? nullptr : p_.wout.data();
    b.dh_n = p_.whn.empty() ? nullptr : p_.whn.data();
    b.accumulate = accumulate;
    b.workspace = bwd_ws_.data();
    b.workspace_size = bwd_ws_.size();
    b.num_threads = threads;
    return b;
  }

  // Backward into guard-paged buffers starting from `init` (NaN when null: overwrite mode must
  // not read them).
  LibGrads backward(int32_t threads, int32_t accumulate, const LibGrads* init = nullptr) {
    GuardedFloats grads(p_.num_params()), dx(p_.x_count()), dh0(p_.h_count());
    fill(grads, init ? &init->grads : nullptr);
    fill(dx, init ? &init->dx : nullptr);
    fill(dh0, init ? &init->dh0 : nullptr);
    simdrnn_backward_args b = backward_args(threads, accumulate);
    b.grads = grads.data();
    b.dx = dx.data();
    b.dh0 = dh0.data();  // also without h0: the gradient at the zero state
    const std::vector<unsigned char> reserve_before = reserve_;
    const simdrnn_status status = simdrnn_backward(model_, &b);
    EXPECT_EQ(status, SIMDRNN_OK) << last_error();
    EXPECT_TRUE(reserve_before == reserve_) << "backward modified the reserve";
    EXPECT_TRUE(grads.canaries_intact() && dx.canaries_intact() && dh0.canaries_intact())
        << "backward wrote before an output buffer";
    LibGrads r;
    r.grads.assign(grads.data(), grads.data() + grads.size());
    r.dx.assign(dx.data(), dx.data() + dx.size());
    r.dh0.assign(dh0.data(), dh0.data() + dh0.size());
    return r;
  }

 private:
  static bool expect_ok(simdrnn_status status, const char* what) {
    EXPECT_EQ(status, SIMDRNN_OK) << what << ": " << simdrnn_last_error();
    return status == SIMDRNN_OK;
  }
  static void fill(GuardedFloats& buf, const std::vector<float>* init) {
    for (int64_t i = 0; i < buf.size(); ++i) buf[i] = init ? (*init)[static_cast<size_t>(i)] : NAN;
  }

  const Problem& p_;
  simdrnn_model* model_ = nullptr;
  simdrnn_forward_args args_{};
  std::vector<float> y_, h_n_, out_;
  std::vector<unsigned char> fwd_ws_, reserve_, bwd_ws_;
  bool ok_ = false;
};

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Checks the layout the model reports against the documented one, and get_params.
void check_param_api(const Problem& p, simdrnn_model* model) {
  int64_t count = -1;
  ASSERT_EQ(simdrnn_model_num_params(model, &count), SIMDRNN_OK) << last_error();
  EXPECT_EQ(count, p.num_params());
  for (int64_t l = 0; l <= p.c.layers; ++l)
    for (int64_t d = 0; d < 2; ++d)
      for (const char* base : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
        const std::string name = base + cell_suffix(l, d);
        int64_t offset = 7, n = 7;
        ASSERT_EQ(simdrnn_model_param_offset(model, name.c_str(), &offset, &n), SIMDRNN_OK) << last_error();
        const ParamTensor* want = find_param(p.layout, name);
        EXPECT_EQ(offset, want ? want->offset : -1) << name;
        EXPECT_EQ(n, want ? want->count : 0) << name;
      }
  for (const char* name : {"weight_hy", "bias_hy", "no_such_tensor"}) {
    int64_t offset = 7, n = 7;
    ASSERT_EQ(simdrnn_model_param_offset(model, name, &offset, &n), SIMDRNN_OK) << last_error();
    const ParamTensor* want = find_param(p.layout, name);
    EXPECT_EQ(offset, want ? want->offset : -1) << name;
    EXPECT_EQ(n, want ? want->count : 0) << name;
  }
  std::vector<float> got(static_cast<size_t>(p.num_params()) + 1, -777.0f);
  ASSERT_EQ(simdrnn_model_get_params(model, got.data()), SIMDRNN_OK) << last_error();
  EXPECT_EQ(got.back(), -777.0f) << "get_params wrote past num_params";
  for (size_t i = 0; i < p.params.size(); ++i)
    ASSERT_EQ(static_cast<double>(got[i]), p.params[i]) << "get_params[" << i << "]";
}

// The whole check of one problem: finite differences once, then every ISA, threads 1 and 2,
// overwrite and accumulate.
void check_problem(const Problem& p) {
  SCOPED_TRACE(p.c.name() + " seed " + std::to_string(p.seed));
  const Gradients g = finite_differences(p);
  ASSERT_TRUE(reference_agrees(p, g));
  const GradTolerance tol = grad_tolerance(p);
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    Trainer trainer(p, 2);
    ASSERT_TRUE(trainer.ok());
    simdrnn_isa model_isa{};
    simdrnn_model_isa(trainer.model(), &model_isa);
    EXPECT_EQ(model_isa, isa);
    check_param_api(p, trainer.model());

    const LibGrads one = trainer.backward(1, 0);
    const LibGrads two = trainer.backward(2, 0);
    EXPECT_TRUE(bit_equal(one.grads, two.grads)) << "grads differ between 1 and 2 threads";
    EXPECT_TRUE(bit_equal(one.dx, two.dx)) << "dx differs between 1 and 2 threads";
    EXPECT_TRUE(bit_equal(one.dh0, two.dh0)) << "dh0 differs between 1 and 2 threads";
    const Check c = compare_all(p, g, one, tol);
    EXPECT_TRUE(c.ok()) << c.message << " (max ratio " << c.max_ratio << ")";

    // accumulate = 1 adds into whatever the buffers hold.
    LibGrads init;
    init.grads = random_vector(static_cast<size_t>(p.num_params()), p.seed + 21, -2.0f, 2.0f);
    init.dx = random_vector(static_cast<size_t>(p.x_count()), p.seed + 22, -2.0f, 2.0f);
    init.dh0 = random_vector(static_cast<size_t>(p.h_count()), p.seed + 23, -2.0f, 2.0f);
    const LibGrads acc1 = trainer.backward(1, 1, &init);
    const LibGrads acc2 = trainer.backward(2, 1, &init);
    EXPECT_TRUE(bit_equal(acc1.grads, acc2.grads)) << "accumulated grads differ between 1 and 2 threads";
    EXPECT_TRUE(bit_equal(acc1.dx, acc2.dx)) << "accumulated dx differs between 1 and 2 threads";
    EXPECT_TRUE(bit_equal(acc1.dh0, acc2.dh0)) << "accumulated dh0 differs between 1 and 2 threads";
    const Check ca = compare_all(p, g, acc1, tol, &init);
    EXPECT_TRUE(ca.ok()) << "accumulate: " << ca.message;
    // ... and onto the result of a first call: twice the gradient.
    const LibGrads twice = trainer.backward(2, 1, &one);
    const Check c2 = compare_all(p, g, twice, tol, &one);
    EXPECT_TRUE(c2.ok()) << "accumulate onto the first result: " << c2.message;
  }
}

// ---- the sweep: every activation x clip x direction x layer count, three variants each -----------

struct SweepParam {
  simdrnn_activation activation;
  bool clip;
  bool bidirectional;
  int64_t layers;
};

std::string sweep_name(const ::testing::TestParamInfo<SweepParam>& info) {
  const SweepParam& s = info.param;
  return std::string(activation_name(s.activation)) + (s.clip ? "_clip" : "") +
         (s.bidirectional ? "_bi" : "_uni") + "_l" + std::to_string(s.layers);
}

std::vector<SweepParam> sweep_params() {
  std::vector<SweepParam> v;
  for (simdrnn_activation a : {SIMDRNN_TANH, SIMDRNN_RELU, SIMDRNN_SIGMOID})
    for (bool clip : {false, true})
      for (bool bi : {false, true})
        for (int64_t layers : {1, 2}) v.push_back({a, clip, bi, layers});
  return v;
}

class BackwardFiniteDifferences : public ::testing::TestWithParam<SweepParam> {};

// Variant "all": lengths, h0, output layer with bias_hy, biases, dh_n.
// Variant "none": no lengths, no h0, no biases, no dh_n, output layer without bias_hy or none.
// Variants "mixed" (four of them): each of those drawn at random. Sizes drawn from I, H in 1..6, T in {1, 3,
// 5}, N in {1, 3} (N = 3 with lengths so that one is 1 and one is T); layouts alternate.
TEST_P(BackwardFiniteDifferences, EveryParameterInputAndInitialState) {
  const SweepParam s = GetParam();
  const size_t index = static_cast<size_t>(s.activation) * 8 + (s.clip ? 4 : 0) + (s.bidirectional ? 2 : 0) +
                       static_cast<size_t>(s.layers - 1);
  std::mt19937 gen(static_cast<uint32_t>(1234 + 97 * index));
  auto pick = [&](std::initializer_list<int64_t> values) {
    std::vector<int64_t> v(values);
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(gen)];
  };
  auto coin = [&]() { return std::uniform_int_distribution<int>(0, 1)(gen) == 1; };
  const bool quick = quick_mode();
  const int variants = quick ? 2 : 6;
  for (int variant = 0; variant < variants; ++variant) {
    Case c;
    c.activation = s.activation;
    c.clip = s.clip ? 0.5f : 0.0f;
    c.bidirectional = s.bidirectional;
    c.layers = s.layers;
    c.input = pick({1, 2, 3, 4, 5, 6});
    c.hidden = pick({1, 2, 3, 4, 5, 6});
    if (quick) c.hidden = std::min<int64_t>(c.hidden, 4);
    c.layout = ((index + static_cast<size_t>(variant)) % 2 == 0) ? SIMDRNN_TIME_MAJOR : SIMDRNN_BATCH_MAJOR;
    if (variant == 0) {
      c.steps = quick ? 3 : 5;
      c.batch = 3;
      c.lens = c.h0 = c.dh_n = c.cell_bias = c.bias_hy = true;
      c.output = pick({1, 2, 3});
    } else if (variant == 1) {
      c.steps = pick({1, 3});
      c.batch = pick({1, 3});
      c.lens = c.h0 = c.dh_n = c.cell_bias = c.bias_hy = false;
      c.output = coin() ? 2 : 0;
    } else {
      c.steps = pick({1, 3, 5});
      c.batch = pick({1, 3});
      c.lens = coin();
      c.h0 = coin();
      c.dh_n = coin();
      c.cell_bias = coin();
      c.output = coin() ? pick({1, 2, 3}) : 0;
      c.bias_hy = coin();
    }
    check_problem(make_problem(c, static_cast<uint32_t>(100 + 31 * index + variant)));
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Sweep, BackwardFiniteDifferences, ::testing::ValuesIn(sweep_params()), sweep_name);

// ---- particular features ------------------------------------------------------------------------

Case full_case() {
  Case c;
  c.input = 5;
  c.hidden = 6;
  c.steps = 5;
  c.batch = 3;
  c.layers = 2;
  c.bidirectional = true;
  c.output = 3;
  c.lens = c.h0 = c.dh_n = true;
  return c;
}

// Smallest shapes: every dimension 1.
TEST(BackwardFeatures, AllOnes) {
  for (bool bi : {false, true}) {
    Case c;
    c.input = c.hidden = c.steps = c.batch = 1;
    c.bidirectional = bi;
    c.output = 1;
    c.h0 = c.dh_n = true;
    check_problem(make_problem(c, 5));
  }
}

// Only bias_hh_l0 set: the model has every cell bias (zero); gradients of all of them.
TEST(BackwardFeatures, PartialBiases) {
  Case c = full_case();
  c.partial_bias = true;
  c.cell_bias = false;
  check_problem(make_problem(c, 6));
}

// bias_hy without cell biases and the reverse.
TEST(BackwardFeatures, OutputBiasIndependentOfCellBiases) {
  Case c = full_case();
  c.cell_bias = false;
  c.bias_hy = true;
  check_problem(make_problem(c, 7));
  c.cell_bias = true;
  c.bias_hy = false;
  check_problem(make_problem(c, 8));
}

// Only dh_n feeds the loss (dy, dout NULL), with and without y written by the forward.
TEST(BackwardFeatures, OnlyFinalStateGradient) {
  Case c = full_case();
  c.dy = false;
  c.dout = false;
  for (bool forward_y : {true, false}) {
    c.forward_y = forward_y;
    check_problem(make_problem(c, 9));
  }
}

// Only dout (dy NULL): the gradient reaches the network through W_hy; forward without y.
TEST(BackwardFeatures, OnlyOutputLayerGradient) {
  Case c = full_case();
  c.dy = false;
  c.dh_n = false;
  c.forward_y = false;
  check_problem(make_problem(c, 10));
}

// Output layer present but dout NULL: the W_hy / b_hy gradients are zero (overwritten).
TEST(BackwardFeatures, OutputLayerWithoutDout) {
  Case c = full_case();
  c.dout = false;
  check_problem(make_problem(c, 11));
}

// Clip at every activation with lengths, where many pre-activations are clipped.
TEST(BackwardFeatures, TightClip) {
  for (simdrnn_activation a : {SIMDRNN_TANH, SIMDRNN_RELU, SIMDRNN_SIGMOID}) {
    Case c = full_case();
    c.activation = a;
    c.clip = 0.2f;
    const Problem p = make_problem(c, 12);
    int64_t clipped = 0;
    const std::vector<double> h0 = to_double(p.h0);
    for (double v : forward_d(p, p.params, to_double(p.x), &h0).pre) clipped += std::fabs(v) > c.clip;
    EXPECT_GT(clipped, 10) << "the case should clip";
    check_problem(p);
  }
}

// dx, dh0 and grads are independent: NULL for some leaves the others unchanged (bitwise). All
// three NULL is a caller error, as all-NULL outputs are for forward.
TEST(BackwardFeatures, OutputsMayBeNull) {
  const Problem p = make_problem(full_case(), 13);
  Trainer trainer(p, 1);
  ASSERT_TRUE(trainer.ok());
  const LibGrads full = trainer.backward(1, 0);
  simdrnn_backward_args none = trainer.backward_args(1, 0);
  none.grads = nullptr, none.dx = nullptr, none.dh0 = nullptr;
  EXPECT_EQ(simdrnn_backward(trainer.model(), &none), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(std::string(last_error()).find("args->grads"), std::string::npos) << last_error();
  for (int mask = 1; mask < 8; ++mask) {
    SCOPED_TRACE("mask " + std::to_string(mask));
    std::vector<float> grads(static_cast<size_t>(p.num_params()), NAN),
        dx(static_cast<size_t>(p.x_count()), NAN), dh0(static_cast<size_t>(p.h_count()), NAN);
    simdrnn_backward_args b = trainer.backward_args(1, 0);
    b.grads = mask & 1 ? grads.data() : nullptr;
    b.dx = mask & 2 ? dx.data() : nullptr;
    b.dh0 = mask & 4 ? dh0.data() : nullptr;
    ASSERT_EQ(simdrnn_backward(trainer.model(), &b), SIMDRNN_OK) << last_error();
    if (mask & 1) {
      EXPECT_TRUE(bit_equal(grads, full.grads)) << "grads";
    }
    if (mask & 2) {
      EXPECT_TRUE(bit_equal(dx, full.dx)) << "dx";
    }
    if (mask & 4) {
      EXPECT_TRUE(bit_equal(dh0, full.dh0)) << "dh0";
    }
  }
}

// forward_training computes what simdrnn_forward does, bit for bit.
TEST(BackwardFeatures, ForwardTrainingMatchesForward) {
  for (int variant = 0; variant < 2; ++variant) {
    Case c = full_case();
    c.clip = variant ? 0.5f : 0.0f;
    c.layout = variant ? SIMDRNN_BATCH_MAJOR : SIMDRNN_TIME_MAJOR;
    const Problem p = make_problem(c, 14);
    for (simdrnn_isa isa : available_isas()) {
      SCOPED_TRACE(simdrnn_isa_name(isa));
      IsaCap cap(isa);
      Trainer trainer(p, 2);
      ASSERT_TRUE(trainer.ok());
      simdrnn_forward_args a = trainer.args();
      std::vector<float> y(static_cast<size_t>(p.y_count())), h_n(static_cast<size_t>(p.h_count())),
          out(static_cast<size_t>(p.out_count()));
      a.y = y.data();
      a.h_n = h_n.data();
      a.out = out.data();
      ASSERT_EQ(simdrnn_forward(trainer.model(), &a), SIMDRNN_OK) << last_error();
      EXPECT_TRUE(bit_equal(y, trainer.y()));
      EXPECT_TRUE(bit_equal(h_n, trainer.h_n()));
      EXPECT_TRUE(bit_equal(out, trainer.out()));
    }
  }
}

// Shapes large enough to split the work between threads (and to fill whole SIMD panels):
// results bit-identical for 1, 2 and 3 threads; a sample of elements of every tensor checked
// against finite differences.
TEST(BackwardLarger, BitIdenticalAcrossThreadsAndSampledFiniteDifferences) {
  const bool quick = quick_mode();
  struct Shape {
    int64_t input, hidden, steps, batch, layers;
    bool bi, lens, h0;
    simdrnn_activation activation;
    float clip;
    simdrnn_layout layout;
    int64_t output;
  };
  std::vector<Shape> shapes = {
      {33, 37, 7, 5, 2, true, true, true, SIMDRNN_TANH, 0.0f, SIMDRNN_TIME_MAJOR, 5},
      {19, 40, 4, 6, 2, false, false, true, SIMDRNN_RELU, 0.9f, SIMDRNN_BATCH_MAJOR, 0},
      {8, 17, 5, 4, 3, true, true, false, SIMDRNN_SIGMOID, 0.0f, SIMDRNN_BATCH_MAJOR, 3},
  };
  if (quick) shapes.resize(1);
  for (const Shape& s : shapes) {
    Case c;
    c.input = s.input;
    c.hidden = s.hidden;
    c.steps = quick ? 4 : s.steps;
    c.batch = s.batch;
    c.layers = s.layers;
    c.bidirectional = s.bi;
    c.lens = s.lens;
    c.h0 = s.h0;
    c.dh_n = true;
    c.activation = s.activation;
    c.clip = s.clip;
    c.layout = s.layout;
    c.output = s.output;
    // Thousands of pre-activations: a 1e-3 gap to every relu / clip kink is rare, and 2e-4 still
    // exceeds how far the +-2e-5 perturbations move any pre-activation.
    Problem p = make_problem(c, 15, 2e-4);
    SCOPED_TRACE(c.name());
    const Gradients g = finite_differences(p, quick ? 3 : 6);
    ASSERT_TRUE(reference_agrees(p, g));
    const GradTolerance tol = grad_tolerance(p);
    for (simdrnn_isa isa : available_isas()) {
      SCOPED_TRACE(simdrnn_isa_name(isa));
      IsaCap cap(isa);
      Trainer trainer(p, 3);
      ASSERT_TRUE(trainer.ok());
      const LibGrads one = trainer.backward(1, 0);
      for (int32_t threads : {2, 3}) {
        const LibGrads more = trainer.backward(threads, 0);
        EXPECT_TRUE(bit_equal(one.grads, more.grads)) << "grads, threads " << threads;
        EXPECT_TRUE(bit_equal(one.dx, more.dx)) << "dx, threads " << threads;
        EXPECT_TRUE(bit_equal(one.dh0, more.dh0)) << "dh0, threads " << threads;
      }
      const Check check = compare_all(p, g, one, tol);
      EXPECT_TRUE(check.ok()) << check.message << " (max ratio " << check.max_ratio << ")";
    }
  }
}

// ---- the checks can fail ------------------------------------------------------------------------------

// Wrong references must be rejected: a transposed W_hh gradient, the gradient of the neighbouring
// element, a sign flip of dx, and even a 0.1% error in the largest gradient.
TEST(BackwardSelfCheck, WrongGradientsAreCaught) {
  Case c = full_case();
  c.input = 4;
  c.hidden = 5;
  const Problem p = make_problem(c, 16);
  const Gradients g = finite_differences(p);
  const GradTolerance tol = grad_tolerance(p);
  Trainer trainer(p, 1);
  ASSERT_TRUE(trainer.ok());
  const LibGrads got = trainer.backward(1, 0);
  ASSERT_TRUE(compare_all(p, g, got, tol).ok());

  const ParamTensor* whh = find_param(p.layout, "weight_hh_l0");
  ASSERT_NE(whh, nullptr);
  const int64_t H = c.hidden;
  {
    Gradients bad = g;
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < H; ++j)
        bad.params.g[static_cast<size_t>(whh->offset + i * H + j)] =
            g.params.g[static_cast<size_t>(whh->offset + j * H + i)];
    const Check check = compare_all(p, bad, got, tol);
    EXPECT_FALSE(check.ok()) << "transposed dW_hh passed";
  }
  {
    Gradients bad = g;
    const ParamTensor* wih = find_param(p.layout, "weight_ih_l1_reverse");
    ASSERT_NE(wih, nullptr);
    for (int64_t i = 0; i + 1 < wih->count; ++i)
      bad.params.g[static_cast<size_t>(wih->offset + i)] =
          g.params.g[static_cast<size_t>(wih->offset + i + 1)];
    EXPECT_FALSE(compare_all(p, bad, got, tol).ok()) << "shifted dW_ih passed";
  }
  {
    Gradients bad = g;
    for (double& v : bad.x.g) v = -v;
    EXPECT_FALSE(compare_all(p, bad, got, tol).ok()) << "negated dx passed";
  }
  {
    Gradients bad = g;
    size_t worst = 0;
    for (size_t i = 0; i < g.params.g.size(); ++i)
      if (std::fabs(g.params.g[i]) > std::fabs(g.params.g[worst])) worst = i;
    bad.params.g[worst] *= 1.001;
    EXPECT_FALSE(compare_all(p, bad, got, tol).ok()) << "a 0.1% error in the largest gradient passed";
  }
  {  // an unrelated loss: dy for the other direction's half swapped
    Gradients bad = g;
    const ParamTensor* bhh = find_param(p.layout, "bias_hh_l1");
    const ParamTensor* bhh_r = find_param(p.layout, "bias_hh_l1_reverse");
    ASSERT_NE(bhh, nullptr);
    ASSERT_NE(bhh_r, nullptr);
    for (int64_t i = 0; i < H; ++i)
      std::swap(bad.params.g[static_cast<size_t>(bhh->offset + i)],
                bad.params.g[static_cast<size_t>(bhh_r->offset + i)]);
    EXPECT_FALSE(compare_all(p, bad, got, tol).ok()) << "swapped direction biases passed";
  }
}

// The double reference used for finite differences agrees with the float-weight reference the
// forward tests use (so the two implementations cannot drift apart unnoticed), and simdrnn's
// forward_training output agrees with both.
TEST(BackwardSelfCheck, DoubleReferenceMatchesForwardReference) {
  for (int variant = 0; variant < 4; ++variant) {
    Case c = full_case();
    c.activation = static_cast<simdrnn_activation>(variant % 3);
    c.clip = variant == 3 ? 0.4f : 0.0f;
    c.layout = variant % 2 ? SIMDRNN_BATCH_MAJOR : SIMDRNN_TIME_MAJOR;
    c.partial_bias = variant == 1;
    c.bias_hy = variant != 2;
    const Problem p = make_problem(c, 17);
    const std::vector<double> h0 = to_double(p.h0);
    const RefForwardD d = forward_d(p, p.params, to_double(p.x), &h0);
    const RefResult r =
        reference_forward(p.config, p.ref, c.steps, c.batch, c.layout, p.x, p.h0.data(), p.lens_ptr());
    for (size_t i = 0; i < r.y.size(); ++i) ASSERT_NEAR(d.y[i], r.y[i], 1e-12) << "y " << i;
    for (size_t i = 0; i < r.h_n.size(); ++i) ASSERT_NEAR(d.h_n[i], r.h_n[i], 1e-12) << "h_n " << i;
    for (size_t i = 0; i < r.out.size(); ++i) ASSERT_NEAR(d.out[i], r.out[i], 1e-12) << "out " << i;
    Trainer trainer(p, 1);
    ASSERT_TRUE(trainer.ok());
    const Comparison cy =
        compare_with_reference(trainer.y().data(), r.y, r.y_mag, r.k_hidden, default_tolerance(), "y");
    EXPECT_TRUE(cy.ok()) << cy.message;
  }
}

// ---- parameter API
// ------------------------------------------------------------------------------------------

// get_params returns what set_params stored; the model computes with the new parameters (bitwise
// what a model created from them computes); a reserve filled before set_params is rejected, and
// gradients after set_params are those of the new parameters.
TEST(BackwardParams, SetParamsRoundTripAndStaleReserve) {
  Case c = full_case();
  c.activation = SIMDRNN_TANH;
  const Problem p = make_problem(c, 18);
  Problem q = make_problem(c, 19);  // other weights, same data
  q.x = p.x;
  q.h0 = p.h0;
  q.lens = p.lens;
  q.wy = p.wy;
  q.wout = p.wout;
  q.whn = p.whn;
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(simdrnn_isa_name(isa));
    IsaCap cap(isa);
    Trainer trainer(p, 2);  // model with p's weights, reserve filled
    ASSERT_TRUE(trainer.ok());
    Trainer fresh(q, 2);  // model created from q's weights
    ASSERT_TRUE(fresh.ok());
    const LibGrads want = fresh.backward(2, 0);

    std::vector<float> new_params(q.params.begin(), q.params.end());
    ASSERT_EQ(simdrnn_model_set_params(trainer.model(), new_params.data()), SIMDRNN_OK) << last_error();
    std::vector<float> got(new_params.size(), NAN);
    ASSERT_EQ(simdrnn_model_get_params(trainer.model(), got.data()), SIMDRNN_OK) << last_error();
    EXPECT_TRUE(bit_equal(got, new_params)) << "get_params after set_params";

    // The reserve from before set_params: rejected, outputs untouched.
    std::vector<float> grads(new_params.size(), -5.0f), dx(static_cast<size_t>(p.x_count()), -5.0f),
        dh0(static_cast<size_t>(p.h_count()), -5.0f);
    simdrnn_backward_args b = trainer.backward_args(1, 0);
    b.grads = grads.data();
    b.dx = dx.data();
    b.dh0 = dh0.data();
    EXPECT_EQ(simdrnn_backward(trainer.model(), &b), SIMDRNN_INVALID_ARGUMENT);
    EXPECT_NE(std::string(simdrnn_last_error()).find("reserve"), std::string::npos) << simdrnn_last_error();
    for (float v : grads) ASSERT_EQ(v, -5.0f);
    for (float v : dx) ASSERT_EQ(v, -5.0f);
    for (float v : dh0) ASSERT_EQ(v, -5.0f);

    // A new forward_training: same outputs and gradients as the fresh model, bit for bit.
    simdrnn_forward_args a = trainer.args();
    std::vector<float> y(static_cast<size_t>(p.y_count())), h_n(static_cast<size_t>(p.h_count())),
        out(static_cast<size_t>(p.out_count()));
    a.y = y.data();
    a.h_n = h_n.data();
    a.out = out.data();
    std::vector<unsigned char> reserve(trainer.reserve().size());
    ASSERT_EQ(simdrnn_forward_training(trainer.model(), &a, reserve.data(), reserve.size()), SIMDRNN_OK)
        << last_error();
    EXPECT_TRUE(bit_equal(y, fresh.y()));
    EXPECT_TRUE(bit_equal(h_n, fresh.h_n()));
    EXPECT_TRUE(bit_equal(out, fresh.out()));
    b.forward = &a;
    b.reserve = reserve.data();
    b.num_threads = 2;
    ASSERT_EQ(simdrnn_backward(trainer.model(), &b), SIMDRNN_OK) << last_error();
    EXPECT_TRUE(bit_equal(grads, want.grads)) << "gradients after set_params differ from a fresh model's";
    EXPECT_TRUE(bit_equal(dx, want.dx));
    EXPECT_TRUE(bit_equal(dh0, want.dh0));
  }
  // And the fresh model's gradients are right (against finite differences of q).
  const Gradients g = finite_differences(q);
  Trainer fresh(q, 1);
  ASSERT_TRUE(fresh.ok());
  const Check check = compare_all(q, g, fresh.backward(1, 0), grad_tolerance(q));
  EXPECT_TRUE(check.ok()) << check.message;
}

// set_params on a model that was never prepared for training, then training works; set_params
// accepts its own get_params output (round trip leaves results unchanged, bitwise).
TEST(BackwardParams, GetSetRoundTripKeepsResults) {
  const Problem p = make_problem(full_case(), 20);
  Trainer a(p, 1);
  ASSERT_TRUE(a.ok());
  const LibGrads before = a.backward(1, 0);
  std::vector<float> params(static_cast<size_t>(p.num_params()));
  ASSERT_EQ(simdrnn_model_get_params(a.model(), params.data()), SIMDRNN_OK);
  ASSERT_EQ(simdrnn_model_set_params(a.model(), params.data()), SIMDRNN_OK);
  simdrnn_forward_args args = a.args();
  std::vector<unsigned char> reserve(a.reserve().size());
  std::vector<float> y(static_cast<size_t>(p.y_count())), h_n(static_cast<size_t>(p.h_count())),
      out(static_cast<size_t>(p.out_count()));
  args.y = y.data();
  args.out = out.data();
  args.h_n = h_n.data();
  ASSERT_EQ(simdrnn_forward_training(a.model(), &args, reserve.data(), reserve.size()), SIMDRNN_OK)
      << last_error();
  simdrnn_backward_args b = a.backward_args(1, 0);
  b.forward = &args;
  b.reserve = reserve.data();
  std::vector<float> grads(params.size()), dx(static_cast<size_t>(p.x_count())),
      dh0(static_cast<size_t>(p.h_count()));
  b.grads = grads.data();
  b.dx = dx.data();
  b.dh0 = dh0.data();
  ASSERT_EQ(simdrnn_backward(a.model(), &b), SIMDRNN_OK) << last_error();
  EXPECT_TRUE(bit_equal(grads, before.grads));
  EXPECT_TRUE(bit_equal(dx, before.dx));
  EXPECT_TRUE(bit_equal(dh0, before.dh0));

  // A model that set_params before ever being prepared for training.
  std::string error;
  simdrnn_model* m = create_model(p.config, p.ref, &error);
  ASSERT_NE(m, nullptr) << error;
  ASSERT_EQ(simdrnn_model_set_params(m, params.data()), SIMDRNN_OK);
  size_t bytes = 0;
  ASSERT_EQ(simdrnn_training_reserve_size(m, &args, &bytes), SIMDRNN_OK) << last_error();
  ASSERT_EQ(bytes, reserve.size());
  ASSERT_EQ(simdrnn_forward_training(m, &args, reserve.data(), reserve.size()), SIMDRNN_OK) << last_error();
  std::fill(grads.begin(), grads.end(), NAN);
  ASSERT_EQ(simdrnn_backward(m, &b), SIMDRNN_OK) << last_error();
  EXPECT_TRUE(bit_equal(grads, before.grads));
  simdrnn_model_destroy(m);
}

// ---- known hazard (disabled: fails today) -------------------------------------------------------------

// simdrnn_forward allows h_n == h0 (the state updated in place), and simdrnn_backward takes "the
// forward_training call's args, unchanged (x, h0, seq_lens must hold the same data)". After an
// in-place forward_training, h0 holds h_n, so backward with the very same args silently computes
// dW_hh (first step) and everything downstream of it from the wrong initial state. Acceptable
// outcomes: the call is rejected (forward_training or backward refuses h_n == h0), or the
// gradients are right (h0 kept in the reserve). Today neither happens; see the report.
TEST(BackwardHazards, InPlaceStateForwardTrainingThenBackward) {
  Case c = full_case();
  c.dh_n = false;
  const Problem p = make_problem(c, 33);
  const Gradients g = finite_differences(p);
  Trainer trainer(p, 1);
  ASSERT_TRUE(trainer.ok());
  std::vector<float> state = p.h0;
  simdrnn_forward_args a = trainer.args();
  a.h0 = state.data();
  a.h_n = state.data();
  std::vector<unsigned char> reserve(trainer.reserve().size());
  const simdrnn_status forward =
      simdrnn_forward_training(trainer.model(), &a, reserve.data(), reserve.size());
  if (forward != SIMDRNN_OK) {
    EXPECT_EQ(forward, SIMDRNN_INVALID_ARGUMENT);
    return;  // rejected: fine
  }
  simdrnn_backward_args b = trainer.backward_args(1, 0);
  b.forward = &a;
  b.reserve = reserve.data();
  LibGrads got;
  got.grads.assign(static_cast<size_t>(p.num_params()), NAN);
  got.dx.assign(static_cast<size_t>(p.x_count()), NAN);
  got.dh0.assign(static_cast<size_t>(p.h_count()), NAN);
  b.grads = got.grads.data();
  b.dx = got.dx.data();
  b.dh0 = got.dh0.data();
  const simdrnn_status backward = simdrnn_backward(trainer.model(), &b);
  if (backward != SIMDRNN_OK) {
    EXPECT_EQ(backward, SIMDRNN_INVALID_ARGUMENT);
    return;  // rejected: fine
  }
  const Check check = compare_all(p, g, got, grad_tolerance(p));
  EXPECT_TRUE(check.ok()) << "accepted, but the gradients are those of h0 := h_n: " << check.message;
}

}  // namespace
}  // namespace simdrnn_test
