// Gated training problems, finite differences through the double reference, and the float
// tolerance of a backward pass (gated_training.hpp).
#include "support/gated_training.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

#include "support/guarded.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {

simdrnn_config GatedTrainCase::config() const {
  simdrnn_config cfg = variant_config(*variant, input, hidden);
  cfg.num_layers = layers;
  cfg.bidirectional = bidirectional ? 1 : 0;
  cfg.clip = clip;
  cfg.output_size = output;
  return cfg;
}

std::string GatedTrainCase::name() const {
  std::ostringstream s;
  s << variant->name << "_i" << input << "h" << hidden << "t" << steps << "n" << batch << "l" << layers
    << (bidirectional ? "bi" : "uni") << (layout == SIMDRNN_TIME_MAJOR ? "_tm" : "_bm")
    << (clip > 0 ? "_clip" : "")
    << (partial_bias ? "_partialbias"
        : bias       ? "_bias"
                     : "_nobias");
  if (output > 0) s << "_o" << output << (bias_hy ? "b" : "") << (dout ? "" : "_nodout");
  if (lens) s << "_lens";
  if (h0) s << "_h0";
  if (c0 && lstm()) s << "_c0";
  if (!dy) s << "_nody";
  if (dh_n) s << "_dhn";
  if (dc_n && lstm()) s << "_dcn";
  if (!forward_y) s << "_ynull";
  return s.str();
}

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

namespace {

const std::vector<double>* maybe(const std::vector<double>& v) { return v.empty() ? nullptr : &v; }

double dot(const std::vector<float>& w, const std::vector<double>& v) {
  double s = 0.0;
  for (size_t i = 0; i < w.size(); ++i) s += static_cast<double>(w[i]) * v[i];
  return s;
}

}  // namespace

RefForwardD gated_forward_d(const GatedProblem& p, const std::vector<double>& params,
                            const std::vector<double>& x, const std::vector<double>* h0,
                            const std::vector<double>* c0) {
  return reference_forward_flat(p.config, p.layout, params, p.c.steps, p.c.batch, p.c.layout, x, h0,
                                p.lens_ptr(), c0);
}

double gated_loss(const GatedProblem& p, const RefForwardD& r) {
  return dot(p.wy, r.y) + dot(p.wout, r.out) + dot(p.whn, r.h_n) + dot(p.wcn, r.c_n);
}

GatedProblem make_gated_problem(const GatedTrainCase& c, uint32_t seed, double kink_margin) {
  GatedProblem p;
  p.c = c;
  p.config = c.config();
  const bool cell_biases = c.bias || c.partial_bias;
  for (int attempt = 0; attempt < 500; ++attempt) {
    p.seed = seed + 7919u * static_cast<uint32_t>(attempt);
    p.attempts = attempt + 1;
    p.ref = random_ref_weights(p.config, p.seed, cell_biases, c.peephole());
    if (c.partial_bias)
      for (size_t i = 0; i < p.ref.cells.size(); ++i) {
        p.ref.cells[i].b_ih.clear();
        if (i != 0) p.ref.cells[i].b_hh.clear();
      }
    if (!c.bias_hy) p.ref.b_hy.clear();
    if (c.bias_hy && c.output > 0 && p.ref.b_hy.empty())  // random_ref_weights draws none without biases
      p.ref.b_hy = random_vector(static_cast<size_t>(c.output), p.seed + 7, -0.3f, 0.3f);
    p.layout = expected_param_layout(p.config, cell_biases, c.output > 0 && c.bias_hy, c.peephole());
    p.params = flatten_ref_weights(p.config, p.ref, p.layout);
    p.x = random_vector(static_cast<size_t>(p.x_count()), p.seed + 1);
    p.h0 = c.h0 ? random_vector(static_cast<size_t>(p.h_count()), p.seed + 2) : std::vector<float>();
    p.c0 =
        c.c0 && c.lstm() ? random_vector(static_cast<size_t>(p.c_count()), p.seed + 8) : std::vector<float>();
    p.lens = c.lens ? random_seq_lens(c.steps, c.batch, p.seed + 3) : std::vector<int64_t>();
    p.wy = c.dy ? random_vector(static_cast<size_t>(p.y_count()), p.seed + 4) : std::vector<float>();
    p.wout = c.output > 0 && c.dout ? random_vector(static_cast<size_t>(p.out_count()), p.seed + 5)
                                    : std::vector<float>();
    p.whn = c.dh_n ? random_vector(static_cast<size_t>(p.h_count()), p.seed + 6) : std::vector<float>();
    p.wcn = c.dc_n && c.lstm() ? random_vector(static_cast<size_t>(p.c_count()), p.seed + 9)
                               : std::vector<float>();
    const std::vector<double> h0 = to_double(p.h0), c0 = to_double(p.c0);
    const RefForwardD r = gated_forward_d(p, p.params, to_double(p.x), maybe(h0), maybe(c0));
    p.kink = kink_distance(p.config, r.pre);
    if (p.kink > kink_margin) return p;
  }
  ADD_FAILURE() << "no draw without a clip kink within " << kink_margin << " for " << c.name();
  return p;
}

double forward_error_per_magnitude(const simdrnn_config& config) {
  int64_t k = 0;
  for (int64_t l = 0; l < config.num_layers; ++l)
    k = std::max({k, layer_input_size(config, l) + hidden_out(config) + 2,
                  config.proj_size > 0 ? config.hidden_size : int64_t{0}});
  return 4.0 * std::ldexp(1.0, -24) * static_cast<double>(k);
}

RefBackwardD gated_exact(const GatedProblem& p) {
  const std::vector<double> x = to_double(p.x), h0 = to_double(p.h0), c0 = to_double(p.c0);
  const std::vector<double> dy = to_double(p.wy), dout = to_double(p.wout), dh_n = to_double(p.whn),
                            dc_n = to_double(p.wcn);
  return reference_backward_flat(p.config, p.layout, p.params, p.c.steps, p.c.batch, p.c.layout, x, maybe(h0),
                                 p.lens_ptr(), maybe(dy), maybe(dout), maybe(dh_n),
                                 forward_error_per_magnitude(p.config), maybe(c0), maybe(dc_n));
}

namespace {

Expected exact_part(const std::vector<double>& g, const std::vector<double>& mag,
                    const std::vector<double>& sens) {
  Expected e;
  e.g = g;
  e.err.assign(g.size(), 0.0);
  e.mag = mag;
  e.sens = sens;
  return e;
}

constexpr double kStep = 1e-5;

// Central differences with steps h and 2h combined by Richardson extrapolation (error O(h^4)); err
// bounds the error of g: |D(h) - D(2h)| is three times D(h)'s truncation error, far above the
// extrapolated value's, plus the double rounding of the loss divided by the step.
template <class Eval>
void central_differences(std::vector<double> v, const std::vector<size_t>& indices, double loss_magnitude,
                         Eval&& eval, Expected* out) {
  out->g.assign(v.size(), std::numeric_limits<double>::quiet_NaN());
  out->err.assign(v.size(), std::numeric_limits<double>::quiet_NaN());
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
    out->g[i] = (4.0 * d1 - d2) / 3.0;
    out->err[i] = std::fabs(d1 - d2) + rounding;
  }
}

// `per_tensor` random indices from each [begin, begin + count) range (all of a smaller one).
std::vector<size_t> sample_indices(const std::vector<std::pair<int64_t, int64_t>>& ranges, int per_tensor,
                                   uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<size_t> out;
  for (const auto& [begin, count] : ranges) {
    if (per_tensor <= 0 || count <= per_tensor) {
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

}  // namespace

GatedExpected expected_from_reference(const GatedProblem& p) {
  GatedExpected e;
  e.exact = gated_exact(p);
  e.params = exact_part(e.exact.grads, e.exact.grads_mag, e.exact.grads_sens);
  e.dx = exact_part(e.exact.dx, e.exact.dx_mag, e.exact.dx_sens);
  e.dh0 = exact_part(e.exact.dh0, e.exact.dh0_mag, e.exact.dh0_sens);
  if (p.c.lstm()) e.dc0 = exact_part(e.exact.dc0, e.exact.dc0_mag, e.exact.dc0_sens);
  return e;
}

GatedExpected expected_from_finite_differences(const GatedProblem& p, int sample) {
  GatedExpected e = expected_from_reference(p);
  const std::vector<double> x = to_double(p.x);
  const std::vector<double> h0 =
      p.h0.empty() ? std::vector<double>(static_cast<size_t>(p.h_count()), 0.0) : to_double(p.h0);
  const std::vector<double> c0 =
      p.c0.empty() ? std::vector<double>(static_cast<size_t>(p.c_count()), 0.0) : to_double(p.c0);
  const std::vector<double>* c0p = p.c.lstm() ? &c0 : nullptr;
  double magnitude = 0.0;
  {
    const RefForwardD r = gated_forward_d(p, p.params, x, &h0, c0p);
    for (size_t i = 0; i < p.wy.size(); ++i) magnitude += std::fabs(p.wy[i] * r.y[i]);
    for (size_t i = 0; i < p.wout.size(); ++i) magnitude += std::fabs(p.wout[i] * r.out[i]);
    for (size_t i = 0; i < p.whn.size(); ++i) magnitude += std::fabs(p.whn[i] * r.h_n[i]);
    for (size_t i = 0; i < p.wcn.size(); ++i) magnitude += std::fabs(p.wcn[i] * r.c_n[i]);
  }
  std::vector<std::pair<int64_t, int64_t>> param_ranges;
  for (const ParamTensor& t : p.layout) param_ranges.emplace_back(t.offset, t.count);
  // A zero h0 / c0 vector is exactly what NULL means, so the finite differences around it are the
  // gradients at the zero state. central_differences fills g and err and keeps mag and sens.
  central_differences(
      p.params, sample_indices(param_ranges, sample, p.seed + 11), magnitude,
      [&](const std::vector<double>& v) { return gated_loss(p, gated_forward_d(p, v, x, &h0, c0p)); },
      &e.params);
  central_differences(
      x, sample_indices({{0, p.x_count()}}, sample, p.seed + 12), magnitude,
      [&](const std::vector<double>& v) { return gated_loss(p, gated_forward_d(p, p.params, v, &h0, c0p)); },
      &e.dx);
  central_differences(
      h0, sample_indices({{0, p.h_count()}}, sample, p.seed + 13), magnitude,
      [&](const std::vector<double>& v) { return gated_loss(p, gated_forward_d(p, p.params, x, &v, c0p)); },
      &e.dh0);
  if (p.c.lstm())
    central_differences(
        c0, sample_indices({{0, p.c_count()}}, sample, p.seed + 14), magnitude,
        [&](const std::vector<double>& v) { return gated_loss(p, gated_forward_d(p, p.params, x, &h0, &v)); },
        &e.dc0);
  return e;
}

::testing::AssertionResult reference_agrees(const GatedProblem& p, const GatedExpected& e,
                                            double* max_ratio) {
  const struct {
    const char* name;
    const Expected* fd;
    const std::vector<double>* exact;
  } parts[] = {{"grads", &e.params, &e.exact.grads},
               {"dx", &e.dx, &e.exact.dx},
               {"dh0", &e.dh0, &e.exact.dh0},
               {"dc0", &e.dc0, &e.exact.dc0}};
  double worst = 0.0;
  for (const auto& part : parts) {
    if (part.fd->g.size() != part.exact->size())
      return ::testing::AssertionFailure()
             << p.c.name() << ": " << part.name << " has " << part.exact->size() << " analytic values, "
             << part.fd->g.size() << " finite differences";
    for (size_t i = 0; i < part.fd->g.size(); ++i) {
      if (std::isnan(part.fd->g[i])) continue;
      const double error = std::fabs((*part.exact)[i] - part.fd->g[i]);
      const double allowed = 1e-9 * part.fd->mag[i] + 4.0 * part.fd->err[i] + 1e-12;
      worst = std::max(worst, error / allowed);
      if (!(error <= allowed)) {
        std::string where = std::to_string(i);
        if (part.fd == &e.params)
          for (const ParamTensor& t : p.layout)
            if (static_cast<int64_t>(i) >= t.offset && static_cast<int64_t>(i) < t.offset + t.count)
              where = t.name + "[" + std::to_string(static_cast<int64_t>(i) - t.offset) + "]";
        return ::testing::AssertionFailure()
               << p.c.name() << " seed " << p.seed << ": analytic " << part.name << " " << where << " = "
               << (*part.exact)[i] << " vs finite difference " << part.fd->g[i] << " (allowed " << allowed
               << ")";
      }
    }
  }
  if (max_ratio != nullptr) *max_ratio = worst;
  return ::testing::AssertionSuccess();
}

// A float backward computes each result as a chain of sums: per step dh = dy + W_hh^T da (G*H
// terms) (+ W_hr^T for a projection, P <= H terms), a handful of element-wise products to da and
// through the cell state, per layer boundary one more W_ih^T da, then dW = sum over steps and
// sequences (T*N terms). Float rounding of such a chain is bounded by its length times 2^-24
// times the result's magnitude (reference_backward_flat's *_mag), so with L layers, T steps:
//   K = T*N + L*(T + 1)*(G*H + H + 10) + O
// and, as the forward tests and the Elman backward tests do, 4 epsilons per term. The magnitudes
// are root-sum-squares (the statistical scale of independent roundings), the factor K is the
// worst case's: oneDNN's gradients stay within 1/50 of this over every case of
// test_gated_onednn_backward, while one wrong gate block, or a 0.1% error in the largest gradient
// of a small problem, exceeds it.
double gated_grad_rel(const GatedProblem& p) {
  const int64_t G = gate_count(p.config), H = p.c.hidden;
  const double K = static_cast<double>(p.c.steps * p.c.batch +
                                       p.c.layers * (p.c.steps + 1) * (G * H + H + 10) + p.c.output);
  return 4.0 * std::ldexp(1.0, -24) * K;
}

void compare_tensor(const float* got, const float* base, const Expected& want, int64_t begin, int64_t count,
                    double rel, const std::string& what, GradCheck* check) {
  for (int64_t i = begin; i < begin + count; ++i) {
    const size_t k = static_cast<size_t>(i);
    if (std::isnan(want.g[k])) continue;
    const double b = base != nullptr ? static_cast<double>(base[i]) : 0.0;
    const double expected = want.g[k] + b;
    // Accumulating onto b: each addition into the buffer rounds at b's scale too.
    const double allowed = rel * (want.mag[k] + std::fabs(b)) + want.sens[k] + 2.0 * want.err[k];
    const double error = std::fabs(static_cast<double>(got[i]) - expected);
    const double ratio = std::isnan(error) ? std::numeric_limits<double>::infinity() : error / allowed;
    ++check->checked;
    check->max_ratio = std::max(check->max_ratio, ratio);
    if (!(error <= allowed)) {
      if (check->bad == 0) {
        std::ostringstream os;
        os.precision(9);
        os << what << "[" << i - begin << "]: got " << static_cast<double>(got[i]) - b << ", expected "
           << want.g[k] << ", |diff| " << error << " > allowed " << allowed << " (magnitude " << want.mag[k]
           << ")";
        check->message = os.str();
      }
      ++check->bad;
    }
  }
}

GradCheck compare_all(const GatedProblem& p, const GatedExpected& want, const FloatGrads& got, double rel,
                      const FloatGrads* base) {
  GradCheck check;
  auto part = [&](const std::vector<float>& g, const std::vector<float>* b, const Expected& w, int64_t begin,
                  int64_t count, const std::string& what) {
    if (g.empty()) return;
    if (g.size() != w.g.size()) {
      ++check.bad;
      if (check.message.empty())
        check.message =
            what + ": " + std::to_string(g.size()) + " values, expected " + std::to_string(w.g.size());
      return;
    }
    compare_tensor(g.data(), b != nullptr && !b->empty() ? b->data() : nullptr, w, begin, count, rel, what,
                   &check);
  };
  for (const ParamTensor& t : p.layout)
    part(got.grads, base ? &base->grads : nullptr, want.params, t.offset, t.count, t.name);
  part(got.dx, base ? &base->dx : nullptr, want.dx, 0, p.x_count(), "dx");
  part(got.dh0, base ? &base->dh0 : nullptr, want.dh0, 0, p.h_count(), "dh0");
  if (p.c.lstm()) part(got.dc0, base ? &base->dc0 : nullptr, want.dc0, 0, p.c_count(), "dc0");
  if (check.bad > 0)
    check.message += " [" + std::to_string(check.bad) + " of " + std::to_string(check.checked) + " outside]";
  return check;
}

// ---- running simdrnn ----------------------------------------------------------------------------

namespace {

bool expect_ok(simdrnn_status status, const char* what) {
  EXPECT_EQ(status, SIMDRNN_OK) << what << ": " << simdrnn_status_name(status) << ": "
                                << simdrnn_last_error();
  return status == SIMDRNN_OK;
}

}  // namespace

GatedTrainer::GatedTrainer(const GatedProblem& p, int32_t forward_threads) : p_(p) {
  std::string error;
  model_ = create_model(p.config, p.ref, &error);
  if (model_ == nullptr) {
    ADD_FAILURE() << "create_model: " << error;
    return;
  }
  y_.assign(static_cast<size_t>(p.y_count()), NAN);
  h_n_.assign(static_cast<size_t>(p.h_count()), NAN);
  c_n_.assign(static_cast<size_t>(p.c_count()), NAN);
  out_.assign(static_cast<size_t>(p.out_count()), NAN);
  args_.seq_len = p.c.steps;
  args_.batch = p.c.batch;
  args_.layout = p.c.layout;
  args_.x = p.x.data();
  args_.h0 = p.h0.empty() ? nullptr : p.h0.data();
  args_.c0 = p.c0.empty() ? nullptr : p.c0.data();
  args_.seq_lens = p.lens_ptr();
  args_.y = p.c.forward_y ? y_.data() : nullptr;
  args_.h_n = h_n_.data();
  args_.c_n = p.c.lstm() ? c_n_.data() : nullptr;
  args_.out = p.c.output > 0 ? out_.data() : nullptr;
  args_.num_threads = forward_threads;
  size_t bytes = 0;
  ok_ = expect_ok(simdrnn_forward_workspace_size(model_, &args_, &bytes), "forward_workspace_size");
  fwd_ws_.resize(bytes);
  args_.workspace = fwd_ws_.data();
  args_.workspace_size = bytes;
  ok_ = ok_ && expect_ok(simdrnn_training_reserve_size(model_, &args_, &bytes), "training_reserve_size");
  if (!ok_) return;
  reserve_.assign(bytes, 0);
  ok_ = expect_ok(simdrnn_forward_training(model_, &args_, reserve_.data(), reserve_.size()),
                  "forward_training");
  ok_ = ok_ && expect_ok(simdrnn_backward_workspace_size(model_, &args_, &bytes), "backward_workspace_size");
  bwd_ws_.resize(bytes);
}

GatedTrainer::~GatedTrainer() {
  if (model_ != nullptr) simdrnn_model_destroy(model_);
}

simdrnn_backward_args GatedTrainer::backward_args(int32_t threads, int32_t accumulate) {
  simdrnn_backward_args b{};
  b.forward = &args_;
  b.reserve = reserve_.data();
  b.reserve_size = reserve_.size();
  b.dy = p_.wy.empty() ? nullptr : p_.wy.data();
  b.dout = p_.wout.empty() ? nullptr : p_.wout.data();
  b.dh_n = p_.whn.empty() ? nullptr : p_.whn.data();
  b.dc_n = p_.wcn.empty() ? nullptr : p_.wcn.data();
  b.accumulate = accumulate;
  b.workspace = bwd_ws_.data();
  b.workspace_size = bwd_ws_.size();
  b.num_threads = threads;
  return b;
}

FloatGrads GatedTrainer::backward(int32_t threads, int32_t accumulate, const FloatGrads* init) {
  if (!ok_) return FloatGrads{};
  const bool lstm = p_.c.lstm();
  GuardedFloats grads(p_.num_params()), dx(p_.x_count()), dh0(p_.h_count()), dc0(lstm ? p_.c_count() : 1);
  auto fill = [](GuardedFloats& buf, const std::vector<float>* from) {
    for (int64_t i = 0; i < buf.size(); ++i)
      buf[i] = from != nullptr && !from->empty() ? (*from)[static_cast<size_t>(i)] : NAN;
  };
  fill(grads, init ? &init->grads : nullptr);
  fill(dx, init ? &init->dx : nullptr);
  fill(dh0, init ? &init->dh0 : nullptr);
  fill(dc0, init ? &init->dc0 : nullptr);
  simdrnn_backward_args b = backward_args(threads, accumulate);
  b.grads = grads.data();
  b.dx = dx.data();
  b.dh0 = dh0.data();  // also without h0: the gradient at the zero state
  b.dc0 = lstm ? dc0.data() : nullptr;
  const std::vector<unsigned char> reserve_before = reserve_;
  if (!expect_ok(simdrnn_backward(model_, &b), "backward")) return FloatGrads{};
  EXPECT_TRUE(reserve_before == reserve_) << "backward modified the reserve";
  EXPECT_TRUE(grads.canaries_intact() && dx.canaries_intact() && dh0.canaries_intact() &&
              dc0.canaries_intact())
      << "backward wrote before an output buffer";
  FloatGrads r;
  r.grads.assign(grads.data(), grads.data() + grads.size());
  r.dx.assign(dx.data(), dx.data() + dx.size());
  r.dh0.assign(dh0.data(), dh0.data() + dh0.size());
  if (lstm) r.dc0.assign(dc0.data(), dc0.data() + dc0.size());
  return r;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace simdrnn_test
