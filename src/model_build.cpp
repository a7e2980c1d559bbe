// Building a model: the flat parameter vector in PyTorch order, packing it
// for the inference kernels and, once training starts, for backward.
#include <atomic>
#include <mutex>
#include <string>

#include "src/internal.hpp"

namespace simdrnn {

namespace {
AlignedFloats padded_bias(const float* a, const float* b, int64_t n, int64_t panel_width) {
  if (!a && !b) return nullptr;
  AlignedFloats out = aligned_floats(round_up(n, panel_width));
  for (int64_t j = 0; j < n; ++j) out[j] = (a ? a[j] : 0.0f) + (b ? b[j] : 0.0f);
  return out;
}
std::string cell_suffix(int64_t layer, int64_t direction) {
  return "_l" + std::to_string(layer) + (direction ? "_reverse" : "");
}
}  // namespace

uint64_t next_model_id() {
  static std::atomic<uint64_t> counter{1};
  return counter.fetch_add(1);
}

namespace {
void pack_backward(Model& m) {
  const simdrnn_config& c = m.config;
  const int64_t pw = m.kernels->panel_width, H = c.hidden_size, D = m.directions;
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = cell_suffix(l, d);
      const int64_t in = l == 0 ? c.input_size : D * H;
      Cell& cell = m.cells[l * D + d];
      cell.w_ih_bwd = pack_b_kn(m.param("weight_ih" + sfx), H, in, in, pw);
      cell.w_hh_bwd = pack_b_kn(m.param("weight_hh" + sfx), H, H, H, pw);
    }
  if (c.output_size > 0) m.w_hy_bwd = pack_b_kn(m.param("weight_hy"), c.output_size, D * H, D * H, pw);
}
}  // namespace

void pack_model(Model& m) {
  const simdrnn_config& c = m.config;
  const int64_t pw = m.kernels->panel_width, H = c.hidden_size, D = m.directions;
  m.cells.resize(static_cast<size_t>(c.num_layers * D));
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = cell_suffix(l, d);
      const int64_t in = l == 0 ? c.input_size : D * H;
      Cell& cell = m.cells[l * D + d];
      cell.w_ih = pack_b(m.param("weight_ih" + sfx), H, in, pw);
      cell.w_hh = pack_b(m.param("weight_hh" + sfx), H, H, pw);
      cell.bias = padded_bias(m.param("bias_ih" + sfx), m.param("bias_hh" + sfx), H, pw);
    }
  if (c.output_size > 0) {
    m.w_hy = pack_b(m.param("weight_hy"), c.output_size, D * H, pw);
    m.b_hy = padded_bias(m.param("bias_hy"), nullptr, c.output_size, pw);
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
  const int64_t D = model->directions, H = c.hidden_size;
  for (const auto& [name, data] : weights.tensors)
    if (name.compare(0, 5, "bias_") == 0 && name != "bias_hy") model->has_bias = true;
  model->has_bias_hy = weights.tensors.count("bias_hy") > 0;
  // Flat parameters in PyTorch order; absent biases of a model that has
  // biases are zero.
  auto add = [&](const std::string& name, int64_t count) {
    model->slots.push_back({name, static_cast<int64_t>(model->params.size()), count});
    auto it = weights.tensors.find(name);
    if (it != weights.tensors.end())
      model->params.insert(model->params.end(), it->second.begin(), it->second.end());
    else
      model->params.resize(model->params.size() + static_cast<size_t>(count), 0.0f);
  };
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = cell_suffix(l, d);
      const int64_t in = l == 0 ? c.input_size : D * H;
      add("weight_ih" + sfx, H * in);
      add("weight_hh" + sfx, H * H);
      if (model->has_bias) {
        add("bias_ih" + sfx, H);
        add("bias_hh" + sfx, H);
      }
    }
  if (c.output_size > 0) {
    add("weight_hy", c.output_size * D * H);
    if (model->has_bias_hy) add("bias_hy", c.output_size);
  }
  pack_model(*model);
  // Gradient offsets resolved once, so backward looks nothing up by name.
  auto offset = [&](const std::string& name) {
    const ParamSlot* slot = model->slot(name);
    return slot ? slot->offset : int64_t{-1};
  };
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = cell_suffix(l, d);
      Cell& cell = model->cells[l * D + d];
      cell.off_w_ih = offset("weight_ih" + sfx);
      cell.off_w_hh = offset("weight_hh" + sfx);
      cell.off_b_ih = offset("bias_ih" + sfx);
      cell.off_b_hh = offset("bias_hh" + sfx);
    }
  model->off_w_hy = offset("weight_hy");
  model->off_b_hy = offset("bias_hy");
  return model;
}

}  // namespace simdrnn
