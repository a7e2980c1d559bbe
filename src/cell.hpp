// What the cell kind changes, as data (docs/design.md, "Cells"): gate count,
// states, the ONNX gate order, and how biases and the recurrent product enter
// the gates. Host code asks the descriptor instead of branching on the kind.
#pragma once

#include <cstdint>

#include "simdrnn/simdrnn.h"

namespace simdrnn {
inline namespace lib {

struct CellDesc {
  simdrnn_cell kind;
  const char* name;    // "rnn", "lstm", "gru"
  const char* gates;   // PyTorch gate order, one letter each: "h", "ifgo", "rzn"
  int64_t gate_count;  // G: rows of weight_ih / weight_hh are G*H, gates stacked
  bool cell_state;     // LSTM: c is carried beside h
  // ONNX stacks gates in another order (LSTM i, o, f, c; GRU z, r, h): ONNX
  // gate g is PyTorch gate onnx_to_torch[g].
  int onnx_to_torch[4];
  // GRU: the candidate's recurrent bias b_hn stays with the recurrent
  // product (PyTorch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn))), so
  // it is not folded into phase A's bias; every other bias is. The gate
  // whose recurrent bias stays apart, or -1.
  int64_t recurrent_bias_gate;
};

inline const CellDesc& cell_desc(simdrnn_cell kind) {
  static const CellDesc kCells[] = {
      {SIMDRNN_CELL_RNN, "rnn", "h", 1, false, {0, 0, 0, 0}, -1},
      {SIMDRNN_CELL_LSTM, "lstm", "ifgo", 4, true, {0, 3, 1, 2}, -1},
      {SIMDRNN_CELL_GRU, "gru", "rzn", 3, false, {1, 0, 2, 0}, 2},
  };
  const int k = static_cast<int>(kind);
  return kCells[k >= 0 && k <= 2 ? k : 0];
}

// ONNX peepholes P [3H] are i, o, f; ours (weight_peephole) are i, f, o.
constexpr int kOnnxPeepholeToTorch[3] = {0, 2, 1};

}  // namespace lib
}  // namespace simdrnn
