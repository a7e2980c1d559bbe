// Reduced-precision oneDNN baselines: oneDNN's own bf16 and int8 (u8 data, s8 weights) RNN
// primitives on the same models as OnednnRnn / OnednnGatedRnn (onednn_rnn.hpp), so that
// simdrnn's bf16 and int8 weights are benchmarked beside oneDNN's. Needs oneDNN and OpenMP
// only, no GoogleTest: the benchmark compiles this file into itself.
//
// What oneDNN 2.6.3 runs where is found by asking it (OnednnReducedRnn::supported creates the
// primitive descriptors and catches the error), never assumed. On an AVX-512 CPU with
// AVX512_BF16 and VNNI, 2.6.3 gives (impl_info() in brackets; "ref" is oneDNN's gemm-based RNN
// driver, which runs its packed jit GEMMs, not a scalar reference):
//   cell                               bf16           int8 (u8s8)
//   Elman RNN (vanilla_rnn_forward)    yes (brgemm)   no
//   LSTM                               yes (brgemm)   yes (brgemm)
//   LSTM with peepholes                yes (brgemm)   no
//   LSTM with projection               yes (brgemm)   yes (brgemm)
//   GRU, linear_before_reset = 1       yes (ref)      no  (lbr_gru has no int8)
//   GRU, linear_before_reset = 0       yes (ref)      yes (ref)
// bf16 also runs on AVX-512 without AVX512_BF16 (emulated, "ref") and int8 runs down to SSE4.1
// ("ref" without VNNI): check impl_info() before reading a timing as oneDNN's best.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "simdrnn/simdrnn.h"
#include "support/onednn_rnn.hpp"

namespace simdrnn_test {

// oneDNN data type of a reduced-precision baseline.
//   kBf16: src/dst layer and iter bf16, weights (and projection) bf16; bias, peepholes and the
//          LSTM cell state (src_iter_c / dst_iter_c) f32. Accumulation in f32.
//   kInt8: src/dst layer and iter u8 (u8 = saturate(round(data_scale * v + data_shift)), one
//          scale/shift for all data tensors of all layers), weights s8 with one scale per
//          output channel (gate, h), weights_layer and weights_iter sharing it (oneDNN's mask
//          (1 << 3) | (1 << 4) on ldigo); projection weights s8 with one scale per output p
//          (mask 1 << 3 on ldio); bias and cell state f32. Accumulation s32.
enum class ReducedType { kBf16, kInt8 };

const char* reduced_type_name(ReducedType type);  // "bf16", "int8"

struct OnednnReducedOptions {
  bool force_per_layer = false;  // chain per-layer primitives even when one would do
  // kInt8 only: R > 0 such that x, h0 and every hidden state h lie in [-R, R]; data_scale =
  // 127 / R and data_shift = 128, so -R..R maps to 1..255 and 0 exactly to 128. Values
  // outside saturate. h of an LSTM or GRU lies in (-1, 1) when h0 does, so 1 covers inputs in
  // [-1, 1]; a projected LSTM's h = W_hr (o * tanh(c)) may leave it.
  float int8_data_range = 1.0f;
  // kBf16 with a projection (LSTM proj_size > 0) is refused unless set: oneDNN 2.6 documents
  // it as unsupported on CPU, yet creates it, and on AVX512_BF16 its brgemm implementation
  // gives results ~0.2 off (tests/test_onednn_reduced.cpp shows it). For such tests only.
  bool allow_bf16_projection = false;
};

// oneDNN's vanilla_rnn_forward / lstm_forward / lbr_gru_forward / gru_forward in bf16 or int8,
// time-major (tnc / ldnc), picked by config.cell exactly as OnednnRnn and OnednnGatedRnn do
// (same weight conversion from PyTorch layout, same gate orders, lbr_gru's 4th bias gate, same
// layer rule: one multi-layer primitive when unidirectional and I == H_out, else one per layer).
// config.weight_precision is ignored: the data type is the `type` argument.
//
// The primitives' own buffers (src_layer, src_iter, dst_layer, dst_iter of every stage) are
// owned and kept in the data type; the weights are converted once in setup() (for int8,
// quantized by oneDNN's reorders with the scales above, which also compute oneDNN's
// compensation for the data shift). A chained stage reads the previous stage's dst_layer
// directly, in the data type: for int8 all stages share one data scale/shift, so the u8
// output of layer l is a valid u8 input of layer l + 1 (no requantization).
//
// Three calls, so that a benchmark times only the primitive:
//   set_inputs()   f32 x, h0, c0 -> the primitives' buffers (reorders created in setup();
//                  not timed: a real bf16 / int8 user keeps activations in that type)
//   execute()      TIMED: omp_set_num_threads(threads), then every stage's primitive in order,
//                  then stream.wait(). No conversion, no allocation. May be called repeatedly
//                  on the same inputs (it reads src_*, writes dst_*, never both the same buffer).
//   get_outputs()  the last execute()'s y, h_n, c_n back to f32 (bf16 by reorders; u8 by
//                  (q - data_shift) / data_scale); not timed.
// run() is the three in a row.
//
// Not supported (setup() throws std::invalid_argument, supported() returns false): an output
// layer (output_size > 0; the reduced suites have none), clip, and whatever oneDNN rejects
// (dnnl::error from setup()).
class OnednnReducedRnn {
 public:
  OnednnReducedRnn();
  ~OnednnReducedRnn();
  OnednnReducedRnn(const OnednnReducedRnn&) = delete;
  OnednnReducedRnn& operator=(const OnednnReducedRnn&) = delete;

  // Whether oneDNN can run `config` (its cell, sizes, layers, direction from
  // config.bidirectional) in `type` on this CPU: creates the primitive descriptor of every
  // stage setup() would create (T = N = 1, any format) and reports false when oneDNN, or this
  // wrapper's own limits above, refuse. with_peephole: LSTM peepholes. why (optional) receives
  // the reason when false.
  static bool supported(const simdrnn_config& config, ReducedType type, bool with_peephole = false,
                        std::string* why = nullptr);

  // Builds everything for fixed T and N; `threads` >= 1 OpenMP threads (oneDNN sizes its
  // scratchpad for the thread count at creation, so execute() sets the same). Throws
  // std::exception (dnnl::error when oneDNN rejects the configuration, std::invalid_argument).
  void setup(const simdrnn_config& config, int64_t seq_len, int64_t batch, const BaselineWeights& weights,
             int threads, ReducedType type, BaselineDirection direction,
             const OnednnReducedOptions& options = OnednnReducedOptions());
  void setup(const simdrnn_config& config, int64_t seq_len, int64_t batch, const BaselineWeights& weights,
             int threads, ReducedType type, const OnednnReducedOptions& options = OnednnReducedOptions()) {
    setup(config, seq_len, batch, weights, threads, type, default_direction(config), options);
  }

  // x [T, N, I] (required); h0 [L*D, N, H_out] and c0 [L*D, N, H] (LSTM only), or null for
  // zeros. Converted into the primitives' buffers; the pointers are not kept.
  void set_inputs(const float* x, const float* h0, const float* c0);
  // Runs the primitives on the converted inputs (see above: this is what a benchmark times).
  void execute();
  // y [T, N, D*H_out], h_n [L*D, N, H_out], c_n [L*D, N, H] (LSTM only); each may be null.
  void get_outputs(float* y, float* h_n, float* c_n);
  // set_inputs + execute + get_outputs. No output may alias an input.
  void run(const float* x, const float* h0, const float* c0, float* y, float* h_n, float* c_n);

  ReducedType type() const;
  bool single_primitive() const;  // true: one multi-layer primitive
  std::string impl_info() const;  // oneDNN's implementation name(s), one per stage, comma-separated
  float data_scale() const;       // kInt8: the u8 data scale and shift; kBf16: 1 and 0
  float data_shift() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace simdrnn_test
