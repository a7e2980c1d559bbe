// Plain double-precision reference forward pass of the Elman RNN (PyTorch nn.RNN semantics), plus
// random weights, loading them by PyTorch name and tolerance checks; independent of the library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"

namespace simdrnn_test {

// Weights of one layer and direction, row-major. An empty bias means "absent" (zero).
struct RefCell {
  std::vector<float> w_ih;  // [H, in], in = I for layer 0, D*H above
  std::vector<float> w_hh;  // [H, H]
  std::vector<float> b_ih;  // [H] or empty
  std::vector<float> b_hh;  // [H] or empty
};

// All weights of a model: cells[layer * D + direction], direction 0 = forward, 1 = reverse.
struct RefWeights {
  std::vector<RefCell> cells;
  std::vector<float> w_hy;  // [O, D*H]; empty when O == 0
  std::vector<float> b_hy;  // [O] or empty
};

// Reference outputs in the library's layouts, in double. Each *_mag vector has the same shape and
// holds, per element, the sum of the absolute values of all terms that were added up to form the
// element's pre-activation (or output-layer value): the scale that float rounding errors are
// proportional to. k_hidden and k_out are the total accumulation lengths along the dependency
// chain (summed over layers), used to scale the tolerance like oneDNN's benchdnn does.
struct RefResult {
  std::vector<double> y, y_mag;      // [T, N, D*H] or [N, T, D*H]
  std::vector<double> h_n, h_n_mag;  // [L*D, N, H]
  std::vector<double> out, out_mag;  // [T, N, O] or [N, T, O]; empty when O == 0
  int64_t k_hidden = 0;              // sum over layers of (in_l + H)
  int64_t k_out = 0;                 // k_hidden + D*H
};

inline int64_t num_directions(const simdrnn_config& config) { return config.bidirectional ? 2 : 1; }
inline int64_t layer_input_size(const simdrnn_config& config, int64_t layer) {
  return layer == 0 ? config.input_size : num_directions(config) * config.hidden_size;
}

// PyTorch name suffix of a cell: "_l{layer}" plus "_reverse" for direction 1.
std::string cell_suffix(int64_t layer, int64_t direction);

// Random weights uniform in +-1/sqrt(H) (output layer: +-1/sqrt(D*H)), as PyTorch initialises
// nn.RNN and nn.Linear. Biases are left empty when with_bias is false. Reproducible from seed.
RefWeights random_ref_weights(const simdrnn_config& config, uint32_t seed, bool with_bias = true);

// Sets every tensor of `ref` on `weights` with simdrnn_weights_set and PyTorch names; empty biases
// are not set. Returns the first failing status (SIMDRNN_OK when all succeeded).
simdrnn_status load_ref_weights(const simdrnn_config& config, const RefWeights& ref,
                                simdrnn_weights* weights);

// Creates a model (for the currently active ISA) holding `ref`; nullptr on failure, with the
// library's message in *error when error is not null.
simdrnn_model* create_model(const simdrnn_config& config, const RefWeights& ref,
                            std::string* error = nullptr);

// Forward pass with plain loops accumulating in double.
//   x: [T, N, I] or [N, T, I] per layout; h0: nullable [L*D, N, H]; seq_lens: nullable [N], 1..T.
// Semantics: h_t = act(clip(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)); layer l > 0 reads layer
// l-1's y (forward direction first); out_t = W_hy y_t + b_hy on the last layer. With seq_lens,
// steps t >= len[n] are padding: y and out are exactly 0 there (simdrnn.h: "y and out are 0
// there", so out is 0, not b_hy) and h does not change; the reverse direction starts at
// t = len[n] - 1 from h0 and walks down to t = 0; h_n is the forward state at t = len[n] - 1 and
// the reverse state at t = 0.
RefResult reference_forward(const simdrnn_config& config, const RefWeights& weights, int64_t T, int64_t N,
                            simdrnn_layout layout, const std::vector<float>& x, const float* h0,
                            const int64_t* seq_lens);

// Tolerance |got - ref| <= rel_per_term * k * mag + abs.
struct Tolerance {
  double rel_per_term;  // per accumulated term, relative to the magnitude
  double abs;           // absolute slack (activation approximations)
};
// The default used by the forward tests: a few float epsilons per accumulated term.
Tolerance default_tolerance();

// Outcome of comparing a float buffer with the reference.
struct Comparison {
  int64_t mismatches = 0;    // elements outside the tolerance (or NaN)
  double max_ratio = 0.0;    // max |got - ref| / allowed, over all elements
  int64_t first_index = -1;  // first mismatching element
  std::string message;       // describes the first mismatch, empty if none
  bool ok() const { return mismatches == 0; }
};
Comparison compare_with_reference(const float* got, const std::vector<double>& ref,
                                  const std::vector<double>& mag, int64_t k, const Tolerance& tolerance,
                                  const std::string& what);
// Same against another double vector (e.g. a mutated reference); used to show the check can fail.
Comparison compare_with_reference(const std::vector<double>& got, const std::vector<double>& ref,
                                  const std::vector<double>& mag, int64_t k, const Tolerance& tolerance,
                                  const std::string& what);

// Random per-sequence lengths in 1..T; when N >= 2 at least one is T and one is 1 (for N == 1
// the single length is random). Reproducible from seed.
std::vector<int64_t> random_seq_lens(int64_t T, int64_t N, uint32_t seed);

}  // namespace simdrnn_test

// ---- training tests: the flat parameter vector and a double forward for finite differences ----
namespace simdrnn_test {

// One tensor of the flat parameter vector.
struct ParamTensor {
  std::string name;  // PyTorch name, e.g. "weight_hh_l1_reverse"
  int64_t offset = 0;
  int64_t count = 0;
};

// The flat layout simdrnn.h documents, computed independently of the library: for each layer k
// and direction (forward, then _reverse): weight_ih_l{k}, weight_hh_l{k}, then bias_ih_l{k},
// bias_hh_l{k} when cell_biases; then weight_hy and (when bias_hy) bias_hy if output_size > 0.
std::vector<ParamTensor> expected_param_layout(const simdrnn_config& config, bool cell_biases, bool bias_hy);
int64_t param_count(const std::vector<ParamTensor>& layout);
const ParamTensor* find_param(const std::vector<ParamTensor>& layout, const std::string& name);

// `ref` as a flat vector in `layout` (absent tensors, e.g. an unset bias of a model with biases,
// are zero).
std::vector<double> flatten_ref_weights(const simdrnn_config& config, const RefWeights& ref,
                                        const std::vector<ParamTensor>& layout);

// Double forward pass over a flat parameter vector (same semantics as reference_forward, all in
// double: parameters, x and h0 too, so central differences of it are accurate to ~1e-10).
// `pre` receives every pre-activation (before clip) of every valid step, layer and direction.
struct RefForwardD {
  std::vector<double> y;    // [T, N, D*H] or [N, T, D*H]
  std::vector<double> h_n;  // [L*D, N, H]
  std::vector<double> out;  // [T, N, O] or [N, T, O]; empty when O == 0
  std::vector<double> pre;  // pre-activations, unordered
  // Per layer, time-major [T, N, D*H], zero at padding steps: the layer's output and its
  // pre-activations (before clip).
  std::vector<std::vector<double>> layer_out, layer_pre;
};
RefForwardD reference_forward_flat(const simdrnn_config& config, const std::vector<ParamTensor>& layout,
                                   const std::vector<double>& params, int64_t T, int64_t N,
                                   simdrnn_layout data_layout, const std::vector<double>& x,
                                   const std::vector<double>* h0, const int64_t* seq_lens);

// Analytic backward (BPTT) of reference_forward_flat in double, for the loss
// sum(dy * y) + sum(dout * out) + sum(dh_n * h_n) (each of dy, dout, dh_n nullable: zero), with
// every result's magnitude: the sum of the absolute values of every term that went into it,
// recursively through the chain (|dA| bounds replaced by their own magnitudes), the scale that
// float rounding errors of a backward computation are proportional to.
// *_sens: a first-order bound of how far each result moves when every hidden state the backward
// reads (as the saved forward output, the input of the layer above, or through the activation's
// derivative: tanh' = 1 - h^2, sigmoid' = h(1 - h)) is off by up to h_error, as a float forward
// pass's are. Near saturation this dominates: 1 - h^2 is small and sensitive to h.
struct RefBackwardD {
  std::vector<double> grads, grads_mag, grads_sens;  // flat, in `layout`
  std::vector<double> dx, dx_mag, dx_sens;           // x's layout
  std::vector<double> dh0, dh0_mag, dh0_sens;        // [L*D, N, H]
};
RefBackwardD reference_backward_flat(const simdrnn_config& config, const std::vector<ParamTensor>& layout,
                                     const std::vector<double>& params, int64_t T, int64_t N,
                                     simdrnn_layout data_layout, const std::vector<double>& x,
                                     const std::vector<double>* h0, const int64_t* seq_lens,
                                     const std::vector<double>* dy, const std::vector<double>* dout,
                                     const std::vector<double>* dh_n, double h_error = 0.0);

// Distance of the nearest pre-activation to a point where act(clip(.)) is not differentiable
// (0 for relu, +-clip when clip > 0); infinity when there is none.
double kink_distance(const simdrnn_config& config, const std::vector<double>& pre);

}  // namespace simdrnn_test
