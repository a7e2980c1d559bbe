// Shared by the LSTM / GRU training tests: one training problem (cell variant, shapes, random
// weights, data and loss weights), central finite differences of its loss through the double
// reference, the analytic double backward with magnitudes, the float tolerance derived from them,
// and the comparison of float gradients with either.
//
// The loss is L = sum(wy * y) + sum(wout * out) + sum(whn * h_n) + sum(wcn * c_n) with fixed random
// weights, so dLoss/dy = wy, dLoss/dout = wout, dLoss/dh_n = whn and dLoss/dc_n = wcn are what a
// backward call is given.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/gated_util.hpp"
#include "support/reference.hpp"

namespace simdrnn_test {

// One configuration of a gated training problem.
struct GatedTrainCase {
  const CellVariant* variant = nullptr;
  int64_t input = 3, hidden = 4, steps = 3, batch = 2, layers = 1, output = 0;
  bool bidirectional = false;
  float clip = 0.0f;  // > 0: clamp every gate pre-activation
  simdrnn_layout layout = SIMDRNN_TIME_MAJOR;
  bool bias = true;           // set bias_ih / bias_hh of every cell
  bool partial_bias = false;  // set only bias_hh_l0 (the model then has every cell bias, zero)
  bool bias_hy = true;        // set bias_hy (when output > 0)
  bool lens = false;          // seq_lens given (one 1 and one T when batch >= 2)
  bool h0 = false, c0 = false;
  bool dy = true, dout = true, dh_n = false, dc_n = false;  // which incoming gradients the loss has
  bool forward_y = true;                                    // forward_training writes y

  bool lstm() const { return variant->cell == SIMDRNN_CELL_LSTM; }
  bool peephole() const { return lstm() && variant->peephole; }
  int64_t directions() const { return bidirectional ? 2 : 1; }
  simdrnn_config config() const;
  std::string name() const;
};

// Random weights, data and loss weights for a case, redrawn until no pre-activation is within
// kink_margin of a clip kink (finite differences there would straddle it).
struct GatedProblem {
  GatedTrainCase c;
  simdrnn_config config{};
  RefWeights ref;
  std::vector<ParamTensor> layout;
  std::vector<double> params;             // flat, every value an exact float
  std::vector<float> x, h0, c0;           // h0 / c0 empty when absent
  std::vector<int64_t> lens;              // empty when absent
  std::vector<float> wy, wout, whn, wcn;  // = dy, dout, dh_n, dc_n; empty when absent
  uint32_t seed = 0;
  int attempts = 0;
  double kink = 0.0;  // distance of the nearest pre-activation to a clip kink

  int64_t H_out() const { return hidden_out(config); }
  int64_t x_count() const { return c.steps * c.batch * c.input; }
  int64_t y_count() const { return c.steps * c.batch * c.directions() * H_out(); }
  int64_t h_count() const { return c.layers * c.directions() * c.batch * H_out(); }
  int64_t c_count() const { return c.lstm() ? c.layers * c.directions() * c.batch * c.hidden : 0; }
  int64_t out_count() const { return c.steps * c.batch * c.output; }
  int64_t num_params() const { return param_count(layout); }
  const int64_t* lens_ptr() const { return lens.empty() ? nullptr : lens.data(); }
};

GatedProblem make_gated_problem(const GatedTrainCase& c, uint32_t seed, double kink_margin = 1e-3);

std::vector<double> to_double(const std::vector<float>& v);

// The double forward of a problem's configuration, lengths and layout with the given parameters,
// x, h0 and c0 (null h0 / c0: zeros).
RefForwardD gated_forward_d(const GatedProblem& p, const std::vector<double>& params,
                            const std::vector<double>& x, const std::vector<double>* h0,
                            const std::vector<double>* c0);
double gated_loss(const GatedProblem& p, const RefForwardD& r);

// How far a float forward pass's values may be from the exact ones, relative to each value's
// forward magnitude: 4 epsilons per term of the longest sum (RefResult::k_hidden), as the forward
// tests allow. reference_backward_flat turns it into each gradient's *_sens.
double forward_error_per_magnitude(const simdrnn_config& config);

// Expected values of one result tensor (params, dx, dh0 or dc0): value, its own error bound
// (the finite difference's; 0 for the analytic reference), and magnitude and sensitivity from the
// analytic reference. NaN values are not checked (sampled finite differences).
struct Expected {
  std::vector<double> g, err, mag, sens;
};
struct GatedExpected {
  Expected params, dx, dh0, dc0;  // dc0 empty for a GRU
  RefBackwardD exact;             // the analytic double backward
};

// The analytic double backward of a problem (h0 / c0: the problem's, else the zero state).
RefBackwardD gated_exact(const GatedProblem& p);
// Expected values from the analytic reference alone.
GatedExpected expected_from_reference(const GatedProblem& p);
// Central finite differences (steps 1e-5 and 2e-5, Richardson-extrapolated, with an error
// estimate) of every element, or of `sample` random elements per tensor when sample > 0; dh0 and
// dc0 also without h0 / c0 (the gradient at the zero state).
GatedExpected expected_from_finite_differences(const GatedProblem& p, int sample = 0);

// The analytic backward agrees with the finite differences to the latter's own accuracy (both are
// double): |exact - fd| <= 1e-9 * mag + 4 * fd.err + 1e-12 for every checked element.
// *max_ratio (nullable) receives the largest |exact - fd| / allowed.
::testing::AssertionResult reference_agrees(const GatedProblem& p, const GatedExpected& e,
                                            double* max_ratio = nullptr);

// The relative tolerance per unit of magnitude for a float backward of this problem: 4 epsilons
// per term of the longest chain of sums (see gated_training.cpp).
double gated_grad_rel(const GatedProblem& p);

// Outcome of comparing float gradients with expected values.
struct GradCheck {
  int64_t bad = 0, checked = 0;
  double max_ratio = 0.0;  // max |got - want| / allowed
  std::string message;     // the first mismatch
  bool ok() const { return bad == 0; }
};

// Library (or oneDNN) gradients in the flat layout: grads [num_params], dx, dh0, dc0 (empty: not
// compared).
struct FloatGrads {
  std::vector<float> grads, dx, dh0, dc0;
};

// Compares got (minus base, when accumulating onto base) with `want`, element by element:
// |got - base - want| <= rel * (mag + |base|) + sens + 2 * err.
void compare_tensor(const float* got, const float* base, const Expected& want, int64_t begin, int64_t count,
                    double rel, const std::string& what, GradCheck* check);
// Every tensor of the layout, dx, dh0 and dc0 (where got has them).
GradCheck compare_all(const GatedProblem& p, const GatedExpected& want, const FloatGrads& got, double rel,
                      const FloatGrads* base = nullptr);

// One simdrnn model (on the ISA active when it was created) of a problem, with a reserve filled by
// simdrnn_forward_training; backward calls write into guard-paged buffers. Failures are reported
// with ADD_FAILURE and leave ok() false (so a test can go on to its next case).
class GatedTrainer {
 public:
  GatedTrainer(const GatedProblem& p, int32_t forward_threads);
  ~GatedTrainer();
  GatedTrainer(const GatedTrainer&) = delete;
  GatedTrainer& operator=(const GatedTrainer&) = delete;

  bool ok() const { return ok_; }
  simdrnn_model* model() const { return model_; }
  const simdrnn_forward_args& args() const { return args_; }
  const std::vector<float>& y() const { return y_; }
  const std::vector<float>& h_n() const { return h_n_; }
  const std::vector<float>& c_n() const { return c_n_; }
  const std::vector<float>& out() const { return out_; }
  std::vector<unsigned char>& reserve() { return reserve_; }
  std::vector<unsigned char>& backward_workspace() { return bwd_ws_; }

  // The backward call's args over the problem's dy, dout, dh_n, dc_n (no outputs set).
  simdrnn_backward_args backward_args(int32_t threads, int32_t accumulate);
  // Backward into guard-paged buffers starting from `init` (NaN when null: overwrite mode must not
  // read them); dc0 only for an LSTM. Checks that the reserve is unchanged and nothing was written
  // before the buffers. On failure (ADD_FAILURE'd), returns empty vectors.
  FloatGrads backward(int32_t threads, int32_t accumulate, const FloatGrads* init = nullptr);

 private:
  const GatedProblem& p_;
  simdrnn_model* model_ = nullptr;
  simdrnn_forward_args args_{};
  std::vector<float> y_, h_n_, c_n_, out_;
  std::vector<unsigned char> fwd_ws_, reserve_, bwd_ws_;
  bool ok_ = false;
};

// Bitwise equality of float vectors.
bool bit_equal(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace simdrnn_test
