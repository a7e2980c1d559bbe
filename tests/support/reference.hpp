// Plain double-precision reference forward pass of the Elman RNN, LSTM and GRU (PyTorch nn.RNN /
// nn.LSTM / nn.GRU semantics, plus ONNX's peepholes, clip and linear_before_reset = 0), random
// weights, loading them by PyTorch name and tolerance checks; independent of the library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"

namespace simdrnn_test {

// Weights of one layer and direction, row-major, gates stacked in PyTorch's order (G = 1 for the
// Elman RNN, 4 for the LSTM: i, f, g, o; 3 for the GRU: r, z, n). H_out is proj_size when set,
// else H. An empty bias or peephole vector means "absent" (zero).
struct RefCell {
  std::vector<float> w_ih;  // [G*H, in], in = I for layer 0, D*H_out above
  std::vector<float> w_hh;  // [G*H, H_out]
  std::vector<float> b_ih;  // [G*H] or empty
  std::vector<float> b_hh;  // [G*H] or empty
  // Defaulted so that the four-field aggregate initialisers of Elman cells stay warning-free.
  std::vector<float> w_hr = {};      // LSTM with proj_size P: [P, H] (h = W_hr (o * tanh(c))); else empty
  std::vector<float> peephole = {};  // LSTM: [3H], gates i, f, o (ONNX semantics), or empty
};

// All weights of a model: cells[layer * D + direction], direction 0 = forward, 1 = reverse.
struct RefWeights {
  std::vector<RefCell> cells;
  std::vector<float> w_hy;  // [O, D*H_out]; empty when O == 0
  std::vector<float> b_hy;  // [O] or empty
};

// Reference outputs in the library's layouts, in double. Each *_mag vector has the same shape and
// holds, per element, a sum of absolute values of terms: the scale that float rounding errors are
// proportional to. The tolerance is rel_per_term * k * mag + abs (see Tolerance).
//
// Elman RNN: mag is the sum of |terms| added up to form the element's pre-activation (or
// output-layer value) at its own step; k_hidden and k_out are the total accumulation lengths
// along the dependency chain (summed over layers), which covers the errors carried in from
// earlier steps and lower layers because tanh/sigmoid/relu damp them (like oneDNN's benchdnn).
//
// LSTM and GRU: the cell state c = f*c + i*g carries errors across steps without an activation
// to damp them, so carried errors are not left to k: mag is propagated to first order. Every
// gate's pre-activation has mag = sum of its |terms| + sum |weight| * mag(input) over its
// inputs; a gate value gets act' * mag(pre-activation) + 2|value| (the library's activations are
// within 4 ulp); each product and sum adds the |terms| it rounds (c: |f c_prev| + |i g|; GRU h:
// |n| + |z n| + |z h_prev|) plus |other factor| * mag(factor). k_hidden and k_out are then the
// longest single sum (max over layers of in_l + H_out + 2 biases, or H for a projection), the
// factor by which one float sum's rounding can exceed u * sum |terms|.
struct RefResult {
  std::vector<double> y, y_mag;      // [T, N, D*H_out] or [N, T, D*H_out]
  std::vector<double> h_n, h_n_mag;  // [L*D, N, H_out]
  std::vector<double> c_n, c_n_mag;  // LSTM: [L*D, N, H]; empty for other cells
  std::vector<double> out, out_mag;  // [T, N, O] or [N, T, O]; empty when O == 0
  int64_t k_hidden = 0;              // Elman: sum over layers of (in_l + H); gated: see above
  int64_t k_out = 0;                 // Elman: k_hidden + D*H; gated: max(k_hidden, D*H_out + 1)
};

inline int64_t num_directions(const simdrnn_config& config) { return config.bidirectional ? 2 : 1; }
// Width of h, y and the recurrent input: proj_size for a projected LSTM, else hidden_size.
inline int64_t hidden_out(const simdrnn_config& config) {
  return config.proj_size > 0 ? config.proj_size : config.hidden_size;
}
// G: rows of weight_ih / weight_hh are G*H.
inline int64_t gate_count(const simdrnn_config& config) {
  return config.cell == SIMDRNN_CELL_LSTM ? 4 : config.cell == SIMDRNN_CELL_GRU ? 3 : 1;
}
inline int64_t layer_input_size(const simdrnn_config& config, int64_t layer) {
  return layer == 0 ? config.input_size : num_directions(config) * hidden_out(config);
}

// PyTorch name suffix of a cell: "_l{layer}" plus "_reverse" for direction 1.
std::string cell_suffix(int64_t layer, int64_t direction);

// Random weights uniform in +-1/sqrt(H) (output layer: +-1/sqrt(D*H_out)), as PyTorch initialises
// nn.RNN, nn.LSTM, nn.GRU and nn.Linear; every cell tensor of config.cell, with W_hr when
// proj_size > 0. Biases are left empty when with_bias is false; LSTM peepholes (same scale) are
// drawn when with_peephole. Reproducible from seed; Elman weights are what they always were.
RefWeights random_ref_weights(const simdrnn_config& config, uint32_t seed, bool with_bias = true,
                              bool with_peephole = false);

// Sets every tensor of `ref` on `weights` with simdrnn_weights_set and PyTorch names; empty biases
// and peepholes are not set. Returns the first failing status (SIMDRNN_OK when all succeeded).
simdrnn_status load_ref_weights(const simdrnn_config& config, const RefWeights& ref,
                                simdrnn_weights* weights);

// Creates a model (for the currently active ISA) holding `ref`; nullptr on failure, with the
// library's message in *error when error is not null.
simdrnn_model* create_model(const simdrnn_config& config, const RefWeights& ref,
                            std::string* error = nullptr);

// Forward pass with plain loops accumulating in double.
//   x: [T, N, I] or [N, T, I] per layout; h0: nullable [L*D, N, H_out]; seq_lens: nullable [N],
//   1..T; c0 (LSTM only, ignored otherwise): nullable [L*D, N, H].
// Elman: h_t = act(clip(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)).
// LSTM (gates i, f, g, o; each pre-activation clipped to [-clip, clip] when clip > 0, after the
// peephole term): i = sig(.. + p_i c_{t-1}), f = sig(.. + p_f c_{t-1}), g = tanh(..),
// c_t = f c_{t-1} + i g, o = sig(.. + p_o c_t), h_t = o tanh(c_t), or W_hr (o tanh(c_t)) with a
// projection.
// GRU (gates r, z, n): r = sig(W_ir x + b_ir + W_hr h + b_hr), z likewise,
// n = tanh(W_in x + b_in + r (W_hn h + b_hn)) when gru_linear_before_reset, else
// n = tanh(W_in x + b_in + W_hn (r h) + b_hn); h_t = (1 - z) n + z h_{t-1}.
// Every cell: layer l > 0 reads layer l-1's y (forward direction first); out_t = W_hy y_t + b_hy
// on the last layer. With seq_lens, steps t >= len[n] are padding: y and out are exactly 0 there
// (simdrnn.h: "y and out are 0 there", so out is 0, not b_hy) and the state does not change; the
// reverse direction starts at t = len[n] - 1 from h0 (and c0) and walks down to t = 0; h_n and c_n
// are the forward state at t = len[n] - 1 and the reverse state at t = 0.
RefResult reference_forward(const simdrnn_config& config, const RefWeights& weights, int64_t T, int64_t N,
                            simdrnn_layout layout, const std::vector<float>& x, const float* h0,
                            const int64_t* seq_lens, const float* c0 = nullptr);

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

// The flat layout simdrnn.h documents (PyTorch's named_parameters() order), computed independently
// of the library: for each layer k and direction (forward, then _reverse): weight_ih_l{k}
// [G*H, in], weight_hh_l{k} [G*H, H_out], then bias_ih_l{k}, bias_hh_l{k} [G*H] when cell_biases,
// weight_hr_l{k} [P, H] for a projected LSTM, weight_peephole_l{k} [3H] for an LSTM when
// peepholes; then weight_hy [O, D*H_out] and (when bias_hy) bias_hy if output_size > 0.
std::vector<ParamTensor> expected_param_layout(const simdrnn_config& config, bool cell_biases, bool bias_hy,
                                               bool peepholes = false);
int64_t param_count(const std::vector<ParamTensor>& layout);
const ParamTensor* find_param(const std::vector<ParamTensor>& layout, const std::string& name);

// `ref` as a flat vector in `layout` (absent tensors, e.g. an unset bias of a model with biases,
// are zero).
std::vector<double> flatten_ref_weights(const simdrnn_config& config, const RefWeights& ref,
                                        const std::vector<ParamTensor>& layout);

// Double forward pass over a flat parameter vector, for every cell (same semantics as
// reference_forward, all in double: parameters, x, h0 and c0 too, so central differences of it
// are accurate to ~1e-10). `pre` receives every pre-activation (before clip; an LSTM's after its
// peephole term) of every gate, valid step, layer and direction. c0 (LSTM only, else ignored):
// nullable [L*D, N, H].
struct RefForwardD {
  std::vector<double> y;    // [T, N, D*H_out] or [N, T, D*H_out]
  std::vector<double> h_n;  // [L*D, N, H_out]
  std::vector<double> c_n;  // LSTM: [L*D, N, H]; empty for other cells
  std::vector<double> out;  // [T, N, O] or [N, T, O]; empty when O == 0
  std::vector<double> pre;  // pre-activations, unordered
  // Per layer, time-major [T, N, D*H_out], zero at padding steps: the layer's output; and (Elman
  // cells only, empty for gated ones) its pre-activations (before clip).
  std::vector<std::vector<double>> layer_out, layer_pre;
};
RefForwardD reference_forward_flat(const simdrnn_config& config, const std::vector<ParamTensor>& layout,
                                   const std::vector<double>& params, int64_t T, int64_t N,
                                   simdrnn_layout data_layout, const std::vector<double>& x,
                                   const std::vector<double>* h0, const int64_t* seq_lens,
                                   const std::vector<double>* c0 = nullptr);

// Analytic backward (BPTT) of reference_forward_flat in double, for every cell, for the loss
// sum(dy * y) + sum(dout * out) + sum(dh_n * h_n) + sum(dc_n * c_n) (each of dy, dout, dh_n, dc_n
// nullable: zero; dc_n and c0 are read for an LSTM only), with every result's magnitude, the scale
// that float rounding errors of a backward computation are proportional to, and its sensitivity:
//   Elman: *_mag is the sum of the absolute values of every term that went into the result,
//     recursively through the chain (|dA| bounds replaced by their own magnitudes). *_sens bounds
//     to first order how far the result moves when every hidden state the backward reads (as the
//     saved output, the input of the layer above, and through the activation's derivative: tanh' =
//     1 - h^2, sigmoid' = h(1 - h)) is off by up to h_error (absolute), as a float forward pass's
//     are. Near saturation this dominates: 1 - h^2 is small and sensitive to h.
//   LSTM and GRU: the same two, as root-sum-squares instead of sums of |terms|: *_mag^2 sums the
//     squared magnitudes of the terms of every sum and product, recursively, plus the square of
//     every value the backward computes and rounds (a gate derivative, dc, dh, each da, ...), and
//     of the result itself. Sums of |terms| grow like (sum_k |W_jk|)^T through the recurrence
//     (measured: 10^2 to 10^10 times the gradients for H = 65, T = 5), far beyond the errors of a
//     float computation, whose independent roundings add up in quadrature; the root-sum-square is
//     the scale they grow with, and stays near |value| (ratio <= ~1.3 for the largest results).
//     *_sens is the root-sum-square of (d result / d v) * err(v) over every forward value v the
//     backward reads (every gate, c, tanh(c), o*tanh(c), h, the layer input, r*h and
//     W_hn h + b_hn), with err(v) = h_error * (v's forward magnitude, root-sum-square likewise:
//     x, h0 and c0 are exact). A float forward pass is within 4 * 2^-24 * k of its values, k the
//     longest sum (in + H_out + 2, or H for a projection): that is the h_error to pass
//     (forward_error_per_magnitude in support/gated_training.hpp).
// Gated cells: clip's derivative is 1 where -clip <= pre <= clip and 0 outside (torch.clamp's
// convention); the LSTM backward covers the projection (dW_hr), the peepholes (p_i and p_f against
// c_{t-1}, p_o against c_t) and dc0.
struct RefBackwardD {
  std::vector<double> grads, grads_mag, grads_sens;  // flat, in `layout`
  std::vector<double> dx, dx_mag, dx_sens;           // x's layout
  std::vector<double> dh0, dh0_mag, dh0_sens;        // [L*D, N, H_out]
  std::vector<double> dc0, dc0_mag, dc0_sens;        // LSTM: [L*D, N, H]; empty for other cells
};
RefBackwardD reference_backward_flat(const simdrnn_config& config, const std::vector<ParamTensor>& layout,
                                     const std::vector<double>& params, int64_t T, int64_t N,
                                     simdrnn_layout data_layout, const std::vector<double>& x,
                                     const std::vector<double>* h0, const int64_t* seq_lens,
                                     const std::vector<double>* dy, const std::vector<double>* dout,
                                     const std::vector<double>* dh_n, double h_error = 0.0,
                                     const std::vector<double>* c0 = nullptr,
                                     const std::vector<double>* dc_n = nullptr);

// Distance of the nearest pre-activation to a point where act(clip(.)) is not differentiable
// (0 for an Elman relu, +-clip when clip > 0); infinity when there is none.
double kink_distance(const simdrnn_config& config, const std::vector<double>& pre);

}  // namespace simdrnn_test
