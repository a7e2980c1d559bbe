// The one parameter schema (docs/design.md, "Parameters"): which tensors a
// configuration has, their PyTorch names and shapes, and their order in the
// flat parameter vector (PyTorch named_parameters()). weights_set,
// weights_set_onnx, model building, get/set_params, param_offset and the
// importers all go through it.
#pragma once

#include <cstdint>
#include <string>

#include "simdrnn/simdrnn.h"
#include "src/cell.hpp"

namespace simdrnn {
inline namespace lib {

enum class TensorKind { kWeightIh, kWeightHh, kBiasIh, kBiasHh, kWeightHr, kPeephole, kWeightHy, kBiasHy };

// A tensor of a model: its kind and, for a cell's tensors, layer and
// direction (0 forward, 1 reverse).
struct TensorId {
  TensorKind kind;
  int64_t layer = 0, direction = 0;
};

// Optional tensor groups: present for every cell when any member was given
// (unset members are zero), absent otherwise.
struct ParamGroups {
  bool biases = false;     // bias_ih / bias_hh
  bool peepholes = false;  // weight_peephole (LSTM)
  bool bias_hy = false;
};

// "weight_ih_l0_reverse", "weight_hy", ...
std::string tensor_name(const TensorId& id);
// Parses a name; false when this configuration has no such tensor.
bool parse_tensor_name(const simdrnn_config& c, const std::string& name, TensorId* id);
// Element count of a tensor of this configuration.
int64_t tensor_count(const simdrnn_config& c, const TensorId& id);
// Whether a model needs the tensor set (weights, weight_hr with a
// projection, weight_hy with an output layer) or may go without it.
bool tensor_required(const simdrnn_config& c, TensorKind kind);
// Input width of layer k: I for k = 0, D * H_out above.
int64_t layer_input(const simdrnn_config& c, int64_t layer);

// Calls fn(id) for every tensor of the flat parameter vector, in order.
template <class Fn>
void for_each_param(const simdrnn_config& c, const ParamGroups& groups, Fn&& fn) {
  const int64_t D = c.bidirectional ? 2 : 1;
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      fn(TensorId{TensorKind::kWeightIh, l, d});
      fn(TensorId{TensorKind::kWeightHh, l, d});
      if (groups.biases) {
        fn(TensorId{TensorKind::kBiasIh, l, d});
        fn(TensorId{TensorKind::kBiasHh, l, d});
      }
      if (c.proj_size > 0) fn(TensorId{TensorKind::kWeightHr, l, d});
      if (groups.peepholes) fn(TensorId{TensorKind::kPeephole, l, d});
    }
  if (c.output_size > 0) {
    fn(TensorId{TensorKind::kWeightHy});
    if (groups.bias_hy) fn(TensorId{TensorKind::kBiasHy});
  }
}

}  // namespace lib
}  // namespace simdrnn
