// Baselines that simdrnn is tested and benchmarked against: oneDNN's
// vanilla_rnn_forward primitive, its lstm_forward / lbr_gru_forward /
// gru_forward primitives, and a "GEMM per step" loop over dnnl_sgemm (what
// PyTorch and ONNX Runtime do on CPU). All take weights in simdrnn's (PyTorch)
// layout. Needs oneDNN and OpenMP only, no GoogleTest, so the benchmark
// compiles this file into itself.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "simdrnn/simdrnn.hpp"

namespace simdrnn_test {

// Weights of one (layer, direction) in PyTorch layout, row-major, G gates
// stacked in PyTorch's order (1 for the Elman RNN; LSTM i, f, g, o; GRU r, z,
// n); H_out = proj_size when set, else H.
struct BaselineCell {
  std::vector<float> w_ih;  // [G*H, in], in = I for layer 0, D*H_out above
  std::vector<float> w_hh;  // [G*H, H_out]
  std::vector<float> b_ih;  // [G*H], or empty for zero
  std::vector<float> b_hh;  // [G*H], or empty for zero
  // Defaulted so that brace-initialised Elman cells need not name them.
  std::vector<float> w_hr = {};      // LSTM with proj_size P: [P, H]; else empty
  std::vector<float> peephole = {};  // LSTM: [3H], gates i, f, o; or empty for none
};

// All weights of a model; cells[layer * D + direction] (direction 1 = reverse).
struct BaselineWeights {
  std::vector<BaselineCell> cells;
  std::vector<float> w_hy;  // [O, D*H_out] when output_size > 0
  std::vector<float> b_y;   // [O], or empty for zero
};

// Direction of a baseline run. simdrnn itself has no reverse-only mode;
// kRight2Left (oneDNN's unidirectional_right2left) reads every layer's
// sequence from the last step to the first.
enum class BaselineDirection { kLeft2Right, kRight2Left, kBidirectionalConcat };

// Knobs of OnednnRnn beyond the model itself.
struct OnednnOptions {
  bool training = false;         // forward_training (allocates oneDNN's workspace)
  bool force_per_layer = false;  // chain per-layer primitives even when one would do
};

// kBidirectionalConcat when config.bidirectional, else kLeft2Right.
BaselineDirection default_direction(const simdrnn_config& config);
int64_t num_directions(BaselineDirection direction);  // D: 1 or 2

// Uniform weights in [-scale, scale] (scale <= 0: PyTorch's 1/sqrt(H)) from a
// seeded generator, biases included, for config.cell (with W_hr when
// proj_size > 0, and LSTM peepholes when with_peephole). Elman weights of a
// seed are the same as before gated cells existed.
BaselineWeights make_baseline_weights(const simdrnn_config& config, uint32_t seed, float scale = 0.0f,
                                      bool with_peephole = false);

// A simdrnn model (for the active ISA) holding `weights`.
simdrnn::Model make_simdrnn_model(const simdrnn_config& config, const BaselineWeights& weights);

// Useful FLOPs of one forward call: 2*T*N*G*H*(in + H_out) per layer and
// direction (plus 2*T*N*H*P for a projection), plus 2*T*N*D*H_out*O for the
// output layer.
double forward_flops(const simdrnn_config& config, int64_t seq_len, int64_t batch);

// oneDNN's vanilla RNN primitive on time-major data (tnc / ldnc). Weights are
// converted to ldigo / ldgo (ldigo[l][d][i][0][o] = w_ih[o][i], bias =
// b_ih + b_hh) and reordered into the primitive's preferred format (`any`)
// in setup(); scratchpad (user mode) and all memory objects are created
// there too, so run() only swaps data handles and executes.
//
// Layers: one multi-layer primitive when oneDNN's semantics match PyTorch's,
// i.e. unidirectional with I == H. oneDNN's multi-layer bidirectional_concat
// feeds each direction of layer l+1 with the same direction of layer l only
// (concatenating just the final output), so bidirectional stacks, and stacks
// with I != H, chain one primitive per layer instead.
//
// clip is not supported (throws), nor are LSTM and GRU cells (OnednnGatedRnn
// runs those). The output layer (O > 0) runs as one dnnl_sgemm over all T*N
// rows after the recurrence.
class OnednnRnn {
 public:
  OnednnRnn();
  ~OnednnRnn();
  OnednnRnn(const OnednnRnn&) = delete;
  OnednnRnn& operator=(const OnednnRnn&) = delete;

  // Builds everything for fixed T and N; `threads` >= 1 OpenMP threads (oneDNN
  // sizes its scratchpad for the thread count it is created with, so run()
  // uses the same). Throws std::exception (dnnl::error, std::invalid_argument).
  void setup(const simdrnn_config& config, int64_t seq_len, int64_t batch, const BaselineWeights& weights,
             int threads, BaselineDirection direction, const OnednnOptions& options = OnednnOptions());
  void setup(const simdrnn_config& config, int64_t seq_len, int64_t batch, const BaselineWeights& weights,
             int threads) {
    setup(config, seq_len, batch, weights, threads, default_direction(config));
  }

  // x [T, N, I]; h0 [L*D, N, H] or null (zeros); y [T, N, D*H] or null;
  // h_n [L*D, N, H] or null; out [T, N, O] (required iff O > 0). No output
  // may alias an input (unlike simdrnn, h_n == h0 is not allowed). Sets
  // omp_set_num_threads(threads) first. Allocates nothing.
  void run(const float* x, const float* h0, float* y, float* h_n, float* out = nullptr);

  bool single_primitive() const;  // true: one multi-layer primitive
  std::string impl_info() const;  // oneDNN's implementation name(s)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// oneDNN's gated RNN primitives on time-major data (tnc / ldnc), picked by
// config.cell:
//   LSTM                              lstm_forward (dnnl_lstm_forward_desc_init_v3), with
//                                     peepholes when any cell has them (zeros for the others)
//                                     and a projection when proj_size > 0
//   GRU, gru_linear_before_reset = 1  lbr_gru_forward (PyTorch's GRU)
//   GRU, gru_linear_before_reset = 0  gru_forward (ONNX's default GRU)
// Gate orders: oneDNN's LSTM gates i, f, c~, o are PyTorch's i, f, g, o. oneDNN's
// GRU gates are u, r, o with h = u h + (1 - u) o, so u is PyTorch's z (first),
// r second, o is n. Conversion, once in setup():
//   weights_layer / weights_iter  ldigo [l][d][in][gate][H] = w_ih / w_hh[(gate'*H + h)*in + i]
//                                 (gate' the PyTorch gate of oneDNN's gate)
//   bias                          ldgo: b_ih + b_hh per gate, except lbr_gru: o holds b_in
//                                 alone and a 4th gate u' holds b_hn (it sits inside r*(..))
//   weights_peephole              ldgo [l][d][3][H], gates i, f, o, as ours
//   weights_projection            ldio [l][d][H][P] = w_hr[p][h]
// then reordered into each primitive's preferred (`any`) formats. Layers are
// chained as in OnednnRnn: one multi-layer primitive only when unidirectional
// and I == H_out. clip is not supported (throws: oneDNN has none); the output
// layer runs as one dnnl_sgemm. setup() allocates everything, run() nothing.
class OnednnGatedRnn {
 public:
  OnednnGatedRnn();
  ~OnednnGatedRnn();
  OnednnGatedRnn(const OnednnGatedRnn&) = delete;
  OnednnGatedRnn& operator=(const OnednnGatedRnn&) = delete;

  // As OnednnRnn::setup; config.cell must be SIMDRNN_CELL_LSTM or SIMDRNN_CELL_GRU.
  void setup(const simdrnn_config& config, int64_t seq_len, int64_t batch, const BaselineWeights& weights,
             int threads, BaselineDirection direction, const OnednnOptions& options = OnednnOptions());
  void setup(const simdrnn_config& config, int64_t seq_len, int64_t batch, const BaselineWeights& weights,
             int threads) {
    setup(config, seq_len, batch, weights, threads, default_direction(config));
  }

  // x [T, N, I]; h0 [L*D, N, H_out] and c0 [L*D, N, H] (LSTM only) or null
  // (zeros); y [T, N, D*H_out], h_n [L*D, N, H_out] and c_n [L*D, N, H]
  // (LSTM only) or null; out [T, N, O] (required iff O > 0). No output may
  // alias an input. Sets omp_set_num_threads(threads) first. Allocates nothing.
  void run(const float* x, const float* h0, const float* c0, float* y, float* h_n, float* c_n,
           float* out = nullptr);

  bool single_primitive() const;  // true: one multi-layer primitive
  std::string impl_info() const;  // oneDNN's implementation name(s)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The loop PyTorch and ONNX Runtime run on CPU: per layer and direction one
// dnnl_sgemm for the input projection over all T*N rows (written straight
// into the layer's output), then per step one dnnl_sgemm adding
// h_{t-1} W_hh^T, then bias + activation. Weights stay in PyTorch layout.
// Elman cells only (throws for LSTM and GRU).
class GemmLoopRnn {
 public:
  GemmLoopRnn();
  ~GemmLoopRnn();
  GemmLoopRnn(const GemmLoopRnn&) = delete;
  GemmLoopRnn& operator=(const GemmLoopRnn&) = delete;

  void setup(const simdrnn_config& config, int64_t seq_len, int64_t batch, const BaselineWeights& weights,
             int threads, BaselineDirection direction);
  void setup(const simdrnn_config& config, int64_t seq_len, int64_t batch, const BaselineWeights& weights,
             int threads) {
    setup(config, seq_len, batch, weights, threads, default_direction(config));
  }
  // Same contract as OnednnRnn::run.
  void run(const float* x, const float* h0, float* y, float* h_n, float* out = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace simdrnn_test

// ---- training: oneDNN's forward_training + vanilla_rnn_backward ------------------------------

namespace simdrnn_test {

// Gradients of one (layer, direction), in PyTorch layout (oneDNN's ldigo transposed back).
struct BaselineCellGrads {
  std::vector<float> w_ih;  // [H, in]
  std::vector<float> w_hh;  // [H, H]
  std::vector<float> bias;  // [H]: oneDNN has one bias (b_ih + b_hh), so this is d/db_ih = d/db_hh
};

// oneDNN's vanilla RNN trained as a training loop would: forward_training (saving oneDNN's
// workspace), then vanilla_rnn_backward with the forward primitive as hint. Time-major (tnc /
// ldnc); no output layer (output_size must be 0) and no clip. Layers as in OnednnRnn: one
// multi-layer primitive when oneDNN's semantics match PyTorch's (unidirectional, I == H, and not
// force_per_layer), else one primitive per layer chained (forward bottom-up, backward top-down,
// each layer's diff_src_layer feeding the diff_dst_layer of the layer below). Weights are given
// to each pd in its preferred (`any`) format; diff weights are requested as `any` and reordered
// to ldigo, then transposed to [H, in]. setup() allocates everything; forward() and backward()
// allocate nothing (they copy x and h0 into owned buffers, which backward reads).
class OnednnRnnTraining {
 public:
  OnednnRnnTraining();
  ~OnednnRnnTraining();
  OnednnRnnTraining(const OnednnRnnTraining&) = delete;
  OnednnRnnTraining& operator=(const OnednnRnnTraining&) = delete;

  // Throws std::exception (dnnl::error when oneDNN rejects the configuration).
  void setup(const simdrnn_config& config, int64_t seq_len, int64_t batch, const BaselineWeights& weights,
             int threads, BaselineDirection direction, bool force_per_layer = false);
  // x [T, N, I]; h0 [L*D, N, H] or null (zeros); y [T, N, D*H] and h_n [L*D, N, H] may be null.
  void forward(const float* x, const float* h0, float* y, float* h_n);
  // Gradients of the last forward() for dLoss/dy = diff_y [T, N, D*H] (required) and
  // dLoss/dh_n = diff_h_n [L*D, N, H] (null: zero). diff_x [T, N, I], diff_h0 [L*D, N, H] and
  // grads (resized to L*D cells) may each be null.
  void backward(const float* diff_y, const float* diff_h_n, float* diff_x, float* diff_h0,
                std::vector<BaselineCellGrads>* grads);

  bool single_primitive() const;
  std::string impl_info() const;  // forward and backward implementation names

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace simdrnn_test

// ---- training: oneDNN's gated forward_training + lstm_backward / lbr_gru_backward / gru_backward -

namespace simdrnn_test {

// Gradients of one gated (layer, direction) in PyTorch layout (gate rows in PyTorch's order).
// oneDNN has one bias per gate (b_ih + b_hh), so b_ih and b_hh hold the same gradient, except for
// lbr_gru's n gate, whose b_hn sits inside r * (W_hn h + b_hn) and has a 4th bias gate of its own.
struct BaselineGatedCellGrads {
  std::vector<float> w_ih;      // [G*H, in]
  std::vector<float> w_hh;      // [G*H, H_out]
  std::vector<float> b_ih;      // [G*H]
  std::vector<float> b_hh;      // [G*H]
  std::vector<float> w_hr;      // [P, H] with a projection, else empty
  std::vector<float> peephole;  // [3H] (i, f, o) when the model has peepholes, else empty
};

// oneDNN's LSTM (peepholes and projection as in OnednnGatedRnn), LBR-GRU (gru_linear_before_reset
// = 1) and GRU (= 0) trained as a training loop would: forward_training (saving oneDNN's
// workspace), then the matching backward primitive with the forward pd as hint. Time-major (tnc /
// ldnc); no output layer and no clip. Gate orders and the bias layout as in OnednnGatedRnn (GRU:
// oneDNN's u, r, o = PyTorch's z, r, n); weights and diff weights in each pd's preferred format,
// diff weights reordered to ldigo / ldgo / ldio and converted back to PyTorch layout. Layers as in
// OnednnGatedRnn: one multi-layer primitive only when unidirectional with I == H_out (and not
// force_per_layer), else one primitive per layer, chained (forward bottom-up, backward top-down,
// each layer's diff_src_layer the diff_dst_layer of the layer below). setup() allocates everything;
// forward() and backward() allocate nothing (they copy x, h0 and c0 into owned buffers).
class OnednnGatedRnnTraining {
 public:
  OnednnGatedRnnTraining();
  ~OnednnGatedRnnTraining();
  OnednnGatedRnnTraining(const OnednnGatedRnnTraining&) = delete;
  OnednnGatedRnnTraining& operator=(const OnednnGatedRnnTraining&) = delete;

  // Throws std::exception (dnnl::error when oneDNN rejects the configuration).
  void setup(const simdrnn_config& config, int64_t seq_len, int64_t batch, const BaselineWeights& weights,
             int threads, BaselineDirection direction, bool force_per_layer = false);
  // x [T, N, I]; h0 [L*D, N, H_out], c0 [L*D, N, H] (LSTM only) or null (zeros); y [T, N, D*H_out],
  // h_n and c_n (LSTM only) may be null.
  void forward(const float* x, const float* h0, const float* c0, float* y, float* h_n, float* c_n);
  // Gradients of the last forward() for dLoss/dy = diff_y [T, N, D*H_out] (required),
  // dLoss/dh_n = diff_h_n [L*D, N, H_out] and dLoss/dc_n = diff_c_n [L*D, N, H] (LSTM only; null:
  // zero). diff_x [T, N, I], diff_h0, diff_c0 (LSTM only) and grads (resized to L*D cells) may
  // each be null.
  void backward(const float* diff_y, const float* diff_h_n, const float* diff_c_n, float* diff_x,
                float* diff_h0, float* diff_c0, std::vector<BaselineGatedCellGrads>* grads);

  bool single_primitive() const;
  std::string impl_info() const;  // forward and backward implementation names

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace simdrnn_test
