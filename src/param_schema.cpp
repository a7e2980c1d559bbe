// The parameter schema (param_schema.hpp): names, shapes and order.
#include "src/param_schema.hpp"

#include <cstring>

#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {
namespace {

struct KindName {
  TensorKind kind;
  const char* prefix;  // cell tensors: followed by l{k}[_reverse]
  bool per_cell;
};
constexpr KindName kKinds[] = {
    {TensorKind::kWeightIh, "weight_ih_", true}, {TensorKind::kWeightHh, "weight_hh_", true},
    {TensorKind::kBiasIh, "bias_ih_", true},     {TensorKind::kBiasHh, "bias_hh_", true},
    {TensorKind::kWeightHr, "weight_hr_", true}, {TensorKind::kPeephole, "weight_peephole_", true},
    {TensorKind::kWeightHy, "weight_hy", false}, {TensorKind::kBiasHy, "bias_hy", false},
};

const KindName& kind_name(TensorKind kind) {
  for (const KindName& k : kKinds)
    if (k.kind == kind) return k;
  return kKinds[0];
}

bool kind_exists(const simdrnn_config& c, TensorKind kind) {
  switch (kind) {
    case TensorKind::kWeightHr:
      return c.proj_size > 0;
    case TensorKind::kPeephole:
      return c.cell == SIMDRNN_CELL_LSTM;
    case TensorKind::kWeightHy:
    case TensorKind::kBiasHy:
      return c.output_size > 0;
    default:
      return true;
  }
}

}  // namespace

std::string tensor_name(const TensorId& id) {
  const KindName& k = kind_name(id.kind);
  if (!k.per_cell) return k.prefix;
  return std::string(k.prefix) + "l" + std::to_string(id.layer) + (id.direction ? "_reverse" : "");
}

bool parse_tensor_name(const simdrnn_config& c, const std::string& name, TensorId* id) {
  for (const KindName& k : kKinds) {
    const size_t plen = std::strlen(k.prefix);
    if (!k.per_cell) {
      if (name != k.prefix) continue;
      if (!kind_exists(c, k.kind)) return false;
      *id = TensorId{k.kind, 0, 0};
      return true;
    }
    if (name.compare(0, plen, k.prefix) != 0 || name.size() <= plen || name[plen] != 'l') continue;
    std::string rest = name.substr(plen + 1);
    int64_t direction = 0;
    const std::string suffix = "_reverse";
    if (rest.size() > suffix.size() &&
        rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) == 0) {
      direction = 1;
      rest.resize(rest.size() - suffix.size());
    }
    if (rest.empty() || rest.size() > 12 || rest.find_first_not_of("0123456789") != std::string::npos ||
        (rest.size() > 1 && rest[0] == '0'))
      return false;
    const int64_t layer = std::stoll(rest);
    if (layer >= c.num_layers || (direction && !c.bidirectional) || !kind_exists(c, k.kind)) return false;
    *id = TensorId{k.kind, layer, direction};
    return true;
  }
  return false;
}

int64_t layer_input(const simdrnn_config& c, int64_t layer) {
  return layer == 0 ? c.input_size : (c.bidirectional ? 2 : 1) * hidden_out(c);
}

int64_t tensor_count(const simdrnn_config& c, const TensorId& id) {
  const int64_t G = cell_desc(c.cell).gate_count, H = c.hidden_size, D = c.bidirectional ? 2 : 1;
  switch (id.kind) {
    case TensorKind::kWeightIh:
      return G * H * layer_input(c, id.layer);
    case TensorKind::kWeightHh:
      return G * H * hidden_out(c);
    case TensorKind::kBiasIh:
    case TensorKind::kBiasHh:
      return G * H;
    case TensorKind::kWeightHr:
      return c.proj_size * H;
    case TensorKind::kPeephole:
      return 3 * H;
    case TensorKind::kWeightHy:
      return c.output_size * D * hidden_out(c);
    case TensorKind::kBiasHy:
      return c.output_size;
  }
  return 0;
}

bool tensor_required(const simdrnn_config& c, TensorKind kind) {
  switch (kind) {
    case TensorKind::kWeightIh:
    case TensorKind::kWeightHh:
      return true;
    case TensorKind::kWeightHr:
      return c.proj_size > 0;
    case TensorKind::kWeightHy:
      return c.output_size > 0;
    default:
      return false;
  }
}

}  // namespace lib
}  // namespace simdrnn
