// C API: collecting weights, building models from them, and the model's
// flat parameter vector (get, set, offsets).
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "src/api_internal.hpp"
#include "src/cell.hpp"
#include "src/engine.hpp"

using namespace simdrnn;

extern "C" {

simdrnn_status simdrnn_weights_create(const simdrnn_config* config, simdrnn_weights** weights) {
  return guarded([&]() -> simdrnn_status {
    if (!weights)
      SIMDRNN_FAIL("weights: expected a non-NULL simdrnn_weights** to receive the handle, got NULL");
    if (simdrnn_status st = validate_config(config, "config")) return st;
    auto w = std::make_unique<Weights>();
    w->config = *config;
    const uint64_t h = weights_table().insert(std::move(w));
    if (!h)
      return fail(SIMDRNN_OUT_OF_MEMORY, "weights: too many live weight handles (%llu)",
                  static_cast<unsigned long long>(HandleTable<Weights, 0xa1>::kSlots));
    *weights = reinterpret_cast<simdrnn_weights*>(static_cast<uintptr_t>(h));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_weights_destroy(simdrnn_weights* weights) {
  return guarded([&] { return destroy_handle(weights_table(), weights, "weights", "simdrnn_weights"); });
}

simdrnn_status simdrnn_weights_set(simdrnn_weights* weights, const char* name, const float* data,
                                   int64_t count) {
  return guarded([&]() -> simdrnn_status {
    Weights* w = lookup(weights_table(), weights, "weights", "simdrnn_weights");
    if (!w) return SIMDRNN_INVALID_ARGUMENT;
    if (!name) SIMDRNN_FAIL("name: expected a PyTorch tensor name such as \"weight_ih_l0\", got NULL");
    TensorId id;
    if (!parse_tensor_name(w->config, name, &id)) {
      const simdrnn_config& c = w->config;
      const bool lstm = c.cell == SIMDRNN_CELL_LSTM;
      SIMDRNN_FAIL(
          "name: expected weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}%s%s (k < num_layers "
          "%lld%s)%s "
          "for this %s model, got \"%s\"",
          c.proj_size > 0 ? ", weight_hr_l{k}" : "", lstm ? ", weight_peephole_l{k}" : "",
          static_cast<long long>(c.num_layers), c.bidirectional ? ", optional _reverse" : "",
          c.output_size > 0 ? ", weight_hy or bias_hy" : "", cell_desc(c.cell).name, name);
    }
    const int64_t expected = tensor_count(w->config, id);
    if (!data)
      SIMDRNN_FAIL("data: expected %lld floats for \"%s\", got NULL", static_cast<long long>(expected), name);
    if (count != expected)
      SIMDRNN_FAIL("count: expected %lld floats for \"%s\", got %lld", static_cast<long long>(expected), name,
                   static_cast<long long>(count));
    const Region regions[] = {region("data", data, count, false)};
    if (simdrnn_status st = check_regions(regions)) return st;
    w->tensors[name].assign(data, data + count);
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_weights_set_onnx(simdrnn_weights* weights, int64_t layer, const float* W,
                                        const float* R, const float* B, const float* P) {
  return guarded([&]() -> simdrnn_status {
    Weights* w = lookup(weights_table(), weights, "weights", "simdrnn_weights");
    if (!w) return SIMDRNN_INVALID_ARGUMENT;
    const simdrnn_config& c = w->config;
    if (layer < 0 || layer >= c.num_layers)
      SIMDRNN_FAIL("layer: expected 0..%lld, got %lld", static_cast<long long>(c.num_layers - 1),
                   static_cast<long long>(layer));
    const CellDesc& cell = cell_desc(c.cell);
    const int64_t D = c.bidirectional ? 2 : 1, H = c.hidden_size, G = cell.gate_count;
    const int64_t in = layer_input(c, layer), hout = hidden_out(c);
    if (c.proj_size > 0)
      return fail(SIMDRNN_UNSUPPORTED,
                  "weights: ONNX's LSTM has no projection; set a projected model's tensors by name");
    if (!W)
      SIMDRNN_FAIL("W: expected [%lld, %lld, %lld] floats, got NULL", static_cast<long long>(D),
                   static_cast<long long>(G * H), static_cast<long long>(in));
    if (!R)
      SIMDRNN_FAIL("R: expected [%lld, %lld, %lld] floats, got NULL", static_cast<long long>(D),
                   static_cast<long long>(G * H), static_cast<long long>(hout));
    if (P && !cell.cell_state)
      SIMDRNN_FAIL("P: expected NULL (peepholes are LSTM only; this is a %s model), got %p", cell.name,
                   static_cast<const void*>(P));
    const Region regions[] = {region("W", W, D * G * H * in, false), region("R", R, D * G * H * hout, false),
                              region("B", B, D * 2 * G * H, false), region("P", P, D * 3 * H, false)};
    if (simdrnn_status st = check_regions(regions)) return st;
    // ONNX stacks gates in its own order: gate g of ONNX is gate
    // onnx_to_torch[g] of PyTorch; each gate block of `rows` x `width`.
    auto reorder = [&](const float* src, int64_t width, std::vector<float>& dst) {
      dst.resize(static_cast<size_t>(G * H * width));
      for (int64_t g = 0; g < G; ++g)
        std::memcpy(dst.data() + cell.onnx_to_torch[g] * H * width, src + g * H * width,
                    static_cast<size_t>(H * width) * sizeof(float));
    };
    for (int64_t d = 0; d < D; ++d) {
      auto name = [&](TensorKind kind) { return tensor_name(TensorId{kind, layer, d}); };
      reorder(W + d * G * H * in, in, w->tensors[name(TensorKind::kWeightIh)]);
      reorder(R + d * G * H * hout, hout, w->tensors[name(TensorKind::kWeightHh)]);
      if (B) {
        reorder(B + d * 2 * G * H, 1, w->tensors[name(TensorKind::kBiasIh)]);
        reorder(B + d * 2 * G * H + G * H, 1, w->tensors[name(TensorKind::kBiasHh)]);
      } else {
        w->tensors.erase(name(TensorKind::kBiasIh));
        w->tensors.erase(name(TensorKind::kBiasHh));
      }
      if (P) {
        std::vector<float>& p = w->tensors[name(TensorKind::kPeephole)];
        p.resize(static_cast<size_t>(3 * H));
        for (int k = 0; k < 3; ++k)
          std::memcpy(p.data() + kOnnxPeepholeToTorch[k] * H, P + d * 3 * H + k * H,
                      static_cast<size_t>(H) * sizeof(float));
      } else if (cell.cell_state) {
        w->tensors.erase(name(TensorKind::kPeephole));
      }
    }
    return SIMDRNN_OK;
  });
}

// ---- model ------------------------------------------------------------------------------
simdrnn_status simdrnn_model_create(const simdrnn_weights* weights, simdrnn_model** model) {
  return guarded([&]() -> simdrnn_status {
    if (!model) SIMDRNN_FAIL("model: expected a non-NULL simdrnn_model** to receive the handle, got NULL");
    const Weights* w = lookup(weights_table(), weights, "weights", "simdrnn_weights");
    if (!w) return SIMDRNN_INVALID_ARGUMENT;
    const simdrnn_config& c = w->config;
    simdrnn_status missing = SIMDRNN_OK;
    for_each_param(c, ParamGroups{}, [&](const TensorId& id) {
      if (missing || !tensor_required(c, id.kind) || w->tensors.count(tensor_name(id))) return;
      missing = fail(SIMDRNN_INVALID_ARGUMENT, "weights: expected tensor \"%s\" to be set%s, got none",
                     tensor_name(id).c_str(),
                     id.kind == TensorKind::kWeightHy   ? " (output_size > 0)"
                     : id.kind == TensorKind::kWeightHr ? " (proj_size > 0)"
                                                        : "");
    });
    if (missing) return missing;
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<Model> built = build_model(*w, active_isa());
    if (verbose_enabled()) {
      int64_t packed = built->w_hy.bytes;
      for (const Cell& cell : built->cells) packed += cell.w_ih.bytes + cell.w_hh.bytes + cell.w_hr.bytes;
      verbose_line(
          "model_create,isa=%s,cell=%s,shape=i%lldh%lldl%lldd%lldo%lldp%lld,packed_bytes=%lld,total_us=%.1f",
          built->kernels->name, cell_desc(c.cell).name, static_cast<long long>(c.input_size),
          static_cast<long long>(c.hidden_size), static_cast<long long>(c.num_layers),
          static_cast<long long>(built->directions), static_cast<long long>(c.output_size),
          static_cast<long long>(c.proj_size), static_cast<long long>(packed),
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
    const uint64_t h = model_table().insert(std::move(built));
    if (!h) return fail(SIMDRNN_OUT_OF_MEMORY, "model: too many live models");
    *model = reinterpret_cast<simdrnn_model*>(static_cast<uintptr_t>(h));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_destroy(simdrnn_model* model) {
  return guarded([&] { return destroy_handle(model_table(), model, "model", "simdrnn_model"); });
}

simdrnn_status simdrnn_model_config(const simdrnn_model* model, simdrnn_config* config) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!config) SIMDRNN_FAIL("config: expected a non-NULL simdrnn_config* to fill, got NULL");
    *config = m->config;
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_isa(const simdrnn_model* model, simdrnn_isa* isa) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!isa) SIMDRNN_FAIL("isa: expected a non-NULL simdrnn_isa* to fill, got NULL");
    *isa = static_cast<simdrnn_isa>(m->kernels->isa);
    return SIMDRNN_OK;
  });
}
simdrnn_status simdrnn_model_num_params(const simdrnn_model* model, int64_t* count) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!count) SIMDRNN_FAIL("count: expected a non-NULL int64_t* to fill, got NULL");
    *count = static_cast<int64_t>(m->params.size());
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_param_offset(const simdrnn_model* model, const char* name, int64_t* offset,
                                          int64_t* count) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!name) SIMDRNN_FAIL("name: expected a PyTorch tensor name such as \"weight_ih_l0\", got NULL");
    if (!offset || !count) SIMDRNN_FAIL("offset, count: expected non-NULL int64_t* to fill, got NULL");
    const ParamSlot* slot = m->slot(name);
    *offset = slot ? slot->offset : -1;
    *count = slot ? slot->count : 0;
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_get_params(const simdrnn_model* model, float* params) {
  return guarded([&]() -> simdrnn_status {
    const Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!params) SIMDRNN_FAIL("params: expected a buffer of %zu floats, got NULL", m->params.size());
    const Region regions[] = {region("params", params, static_cast<int64_t>(m->params.size()), true)};
    if (simdrnn_status st = check_regions(regions)) return st;
    std::memcpy(params, m->params.data(), m->params.size() * sizeof(float));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_set_params(simdrnn_model* model, const float* params) {
  return guarded([&]() -> simdrnn_status {
    Model* m = lookup(model_table(), model, "model", "simdrnn_model");
    if (!m) return SIMDRNN_INVALID_ARGUMENT;
    if (!params) SIMDRNN_FAIL("params: expected %zu floats, got NULL", m->params.size());
    const Region regions[] = {region("params", params, static_cast<int64_t>(m->params.size()), false)};
    if (simdrnn_status st = check_regions(regions)) return st;
    std::memmove(m->params.data(), params, m->params.size() * sizeof(float));
    pack_model(*m);
    m->id = next_model_id();  // reserves filled before this no longer match
    return SIMDRNN_OK;
  });
}

}  // extern "C"
