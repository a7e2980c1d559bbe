// Building a model: the flat parameter vector in PyTorch order, packing it
// for the inference kernels and, once training starts, for backward.
#include <atomic>
#include <mutex>
#include <string>
#include <utility>

#include "src/cell.hpp"
#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {

namespace {
AlignedFloats padded_bias(const float* a, const float* b, int64_t n, int64_t panel_width) {
  if (!a && !b) return nullptr;
  AlignedFloats out = aligned_floats(round_up(n, panel_width));
  for (int64_t j = 0; j < n; ++j) out[j] = (a ? a[j] : 0.0f) + (b ? b[j] : 0.0f);
  return out;
}
}  // namespace

uint64_t next_model_id() {
  static std::atomic<uint64_t> counter{1};
  return counter.fetch_add(1);
}

namespace {
void pack_backward(Model& m) {
  const simdrnn_config& c = m.config;
  const CellDesc& desc = cell_desc(c.cell);
  const int64_t pw = m.kernels->panel_width, H = c.hidden_size, D = m.directions, G = desc.gate_count;
  const int64_t Hout = hidden_out(c);
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const int64_t in = layer_input(c, l);
      Cell& cell = m.cells[l * D + d];
      if (G == 1) {
        cell.w_ih_bwd = pack_b_kn(m.at(cell.off_w_ih), H, in, in, pw);
        cell.w_hh_bwd = pack_b_kn(m.at(cell.off_w_hh), H, H, H, pw);
        continue;
      }
      cell.w_ih_bwd = pack_b_gated_kn(m.at(cell.off_w_ih), G, H, in, pw);
      cell.w_hh_bwd = pack_b_gated_kn(m.at(cell.off_w_hh), G, H, Hout, pw);
      if (c.proj_size > 0) cell.w_hr_bwd = pack_b_kn(m.at(cell.off_w_hr), c.proj_size, H, H, pw);
      if (desc.kind == SIMDRNN_CELL_GRU && !c.gru_linear_before_reset)
        cell.w_hn_bwd = pack_b_kn(m.at(cell.off_w_hh) + 2 * H * H, H, H, H, pw);
    }
  if (c.output_size > 0) m.w_hy_bwd = pack_b_kn(m.at(m.off_w_hy), c.output_size, D * Hout, D * Hout, pw);
}
}  // namespace

namespace {
// The cell's inference packs, for gated cells in the blocked gate layout.
void pack_gated_cell(const Model& m, int64_t in, Cell& cell) {
  const simdrnn_config& c = m.config;
  const CellDesc& desc = cell_desc(c.cell);
  const int64_t pw = m.kernels->panel_width, H = c.hidden_size, G = desc.gate_count;
  const int64_t hp = round_up(H, pw);
  cell.w_ih = pack_b_gated(m.at(cell.off_w_ih), G, H, in, pw);
  cell.w_hh = pack_b_gated(m.at(cell.off_w_hh), G, H, hidden_out(c), pw);
  const float* b_ih = m.at(cell.off_b_ih);
  const float* b_hh = m.at(cell.off_b_hh);
  cell.bias = nullptr;
  cell.recurrent_bias = nullptr;
  if (b_ih || b_hh) {
    cell.bias = aligned_floats(G * hp);
    if (desc.recurrent_bias_gate >= 0) cell.recurrent_bias = aligned_floats(G * hp);
    for (int64_t g = 0; g < G; ++g)
      for (int64_t u = 0; u < H; ++u) {
        const int64_t j = gate_column(g, u, G, pw);
        const float bi = b_ih ? b_ih[g * H + u] : 0.0f, bh = b_hh ? b_hh[g * H + u] : 0.0f;
        if (g == desc.recurrent_bias_gate) {
          cell.bias[j] = bi;
          cell.recurrent_bias[j] = bh;
        } else {
          cell.bias[j] = bi + bh;
        }
      }
  }
  if (c.proj_size > 0) cell.w_hr = pack_b(m.at(cell.off_w_hr), c.proj_size, H, pw);
  cell.peephole = nullptr;
  if (const float* p = m.at(cell.off_peephole)) {
    cell.peephole = aligned_floats(3 * hp);
    for (int64_t k = 0; k < 3; ++k)
      for (int64_t u = 0; u < H; ++u) cell.peephole[k * hp + u] = p[k * H + u];
  }
}
}  // namespace

void pack_model(Model& m) {
  const simdrnn_config& c = m.config;
  const int64_t pw = m.kernels->panel_width, H = c.hidden_size, D = m.directions;
  const bool gated = cell_desc(c.cell).gate_count > 1;
  // Inference weights in the model's precision (docs/design.md, "Weight
  // precision"); biases, peepholes and every computation stay f32.
  // Dot-product layouts where the model's ISA level has those kernels.
  const kernels::KernelTable& kt = *m.kernels;
  const int32_t format = c.weight_precision == SIMDRNN_PRECISION_BF16
                             ? (use_bf16_dot(kt) ? kernels::kBf16PairsDot : kt.bf16_format)
                         : c.weight_precision == SIMDRNN_PRECISION_INT8
                             ? (kt.gemm_int8_dot ? kernels::kInt8Quads : kernels::kInt8)
                             : kernels::kF32;
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const int64_t in = layer_input(c, l);
      Cell& cell = m.cells[l * D + d];
      if (gated) {
        pack_gated_cell(m, in, cell);
      } else {
        cell.w_ih = pack_b(m.at(cell.off_w_ih), H, in, pw);
        cell.w_hh = pack_b(m.at(cell.off_w_hh), H, H, pw);
        cell.bias = padded_bias(m.at(cell.off_b_ih), m.at(cell.off_b_hh), H, pw);
      }
      cell.w_ih = convert_pack(std::move(cell.w_ih), format);
      cell.w_hh = convert_pack(std::move(cell.w_hh), format);
      if (c.proj_size > 0) cell.w_hr = convert_pack(std::move(cell.w_hr), format);
    }
  if (c.output_size > 0) {
    m.w_hy = convert_pack(pack_b(m.at(m.off_w_hy), c.output_size, D * hidden_out(c), pw), format);
    m.b_hy = padded_bias(m.at(m.off_b_hy), nullptr, c.output_size, pw);
  }
  if (m.training_ready.load()) pack_backward(m);
}

void prepare_training(Model& m) {
  if (m.training_ready.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(m.training_mutex);
  if (m.training_ready.load(std::memory_order_relaxed)) return;
  pack_backward(m);
  m.training_ready.store(true, std::memory_order_release);
}

std::unique_ptr<Model> build_model(const Weights& weights, simdrnn_isa isa) {
  auto model = std::make_unique<Model>();
  const simdrnn_config& c = weights.config;
  model->config = c;
  model->directions = c.bidirectional ? 2 : 1;
  model->kernels = &kernel_table(isa);
  model->id = next_model_id();
  model->zeros = aligned_floats(c.hidden_size);
  // An optional group is in the flat vector when any of its tensors was set.
  for (const auto& [name, data] : weights.tensors) {
    TensorId id;
    if (!parse_tensor_name(c, name, &id)) continue;
    model->groups.biases |= id.kind == TensorKind::kBiasIh || id.kind == TensorKind::kBiasHh;
    model->groups.peepholes |= id.kind == TensorKind::kPeephole;
    model->groups.bias_hy |= id.kind == TensorKind::kBiasHy;
  }
  // Flat parameters in PyTorch order; unset members of a present group are zero.
  for_each_param(c, model->groups, [&](const TensorId& id) {
    const std::string name = tensor_name(id);
    const int64_t count = tensor_count(c, id);
    model->slots.push_back({name, static_cast<int64_t>(model->params.size()), count});
    auto it = weights.tensors.find(name);
    if (it != weights.tensors.end())
      model->params.insert(model->params.end(), it->second.begin(), it->second.end());
    else
      model->params.resize(model->params.size() + static_cast<size_t>(count), 0.0f);
  });
  model->cells.resize(static_cast<size_t>(c.num_layers * model->directions));
  // Offsets resolved once, so nothing on the execute path looks up a name.
  for (const ParamSlot& slot : model->slots) {
    TensorId id;
    parse_tensor_name(c, slot.name, &id);
    Cell* cell = id.kind == TensorKind::kWeightHy || id.kind == TensorKind::kBiasHy
                     ? nullptr
                     : &model->cells[static_cast<size_t>(id.layer * model->directions + id.direction)];
    switch (id.kind) {
      case TensorKind::kWeightIh:
        cell->off_w_ih = slot.offset;
        break;
      case TensorKind::kWeightHh:
        cell->off_w_hh = slot.offset;
        break;
      case TensorKind::kBiasIh:
        cell->off_b_ih = slot.offset;
        break;
      case TensorKind::kBiasHh:
        cell->off_b_hh = slot.offset;
        break;
      case TensorKind::kWeightHr:
        cell->off_w_hr = slot.offset;
        break;
      case TensorKind::kPeephole:
        cell->off_peephole = slot.offset;
        break;
      case TensorKind::kWeightHy:
        model->off_w_hy = slot.offset;
        break;
      case TensorKind::kBiasHy:
        model->off_b_hy = slot.offset;
        break;
    }
  }
  pack_model(*model);
  return model;
}

}  // namespace lib
}  // namespace simdrnn
