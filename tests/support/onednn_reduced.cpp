// oneDNN's bf16 and int8 RNN primitives as baselines; see onednn_reduced.hpp for what each
// computes, what is converted where, and what a benchmark times.
#include "support/onednn_reduced.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

namespace simdrnn_test {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

void require(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument("simdrnn_test reduced baseline: " + message);
}

int64_t gates_of(const simdrnn_config& config) {
  return config.cell == SIMDRNN_CELL_LSTM ? 4 : config.cell == SIMDRNN_CELL_GRU ? 3 : 1;
}

int64_t hidden_out_of(const simdrnn_config& config) {
  return config.proj_size > 0 ? config.proj_size : config.hidden_size;
}

// oneDNN's gate g is PyTorch's gate torch_gate[g]: LSTM i, f, c~, o = i, f, g, o; GRU u, r, o = z, r, n.
constexpr int kIdentityGate[4] = {0, 1, 2, 3};
constexpr int kGruTorchGate[3] = {1, 0, 2};

// The wrapper's own limits (beyond oneDNN's): checked by setup() and supported() alike. Empty: fine.
std::string own_limits(const simdrnn_config& config, ReducedType type, bool allow_bf16_projection, int64_t seq_len,
                       int64_t batch, int threads) {
  if (config.input_size < 1 || config.hidden_size < 1 || config.num_layers < 1)
    return "config needs input_size, hidden_size, num_layers >= 1";
  if (config.cell != SIMDRNN_CELL_RNN && config.cell != SIMDRNN_CELL_LSTM && config.cell != SIMDRNN_CELL_GRU)
    return "unknown cell";
  if (config.clip != 0.0f) return "clip is not supported by the baselines";
  if (config.output_size != 0) return "no output layer in the reduced-precision baselines (output_size must be 0)";
  if (config.proj_size != 0 && (config.cell != SIMDRNN_CELL_LSTM || config.proj_size >= config.hidden_size))
    return "proj_size must be 0, or below hidden_size for an LSTM";
  if (config.cell == SIMDRNN_CELL_GRU && config.gru_linear_before_reset != 0 && config.gru_linear_before_reset != 1)
    return "gru_linear_before_reset must be 0 or 1";
  if (type == ReducedType::kBf16 && config.cell == SIMDRNN_CELL_LSTM && config.proj_size > 0 &&
      !allow_bf16_projection)
    return "oneDNN 2.6 documents the bf16 projection LSTM as unsupported on CPU (its brgemm implementation "
           "accepts one and computes wrong results; OnednnReducedOptions::allow_bf16_projection runs it anyway)";
  if (seq_len < 1 || batch < 1) return "seq_len and batch must be >= 1";
  if (threads < 1) return "threads must be >= 1";
  return "";
}

dnnl::rnn_direction onednn_direction(BaselineDirection direction) {
  switch (direction) {
    case BaselineDirection::kLeft2Right:
      return dnnl::rnn_direction::unidirectional_left2right;
    case BaselineDirection::kRight2Left:
      return dnnl::rnn_direction::unidirectional_right2left;
    case BaselineDirection::kBidirectionalConcat:
      return dnnl::rnn_direction::bidirectional_concat;
  }
  throw std::invalid_argument("simdrnn_test reduced baseline: unknown direction");
}

dnnl::algorithm onednn_activation(simdrnn_activation activation) {
  switch (activation) {
    case SIMDRNN_TANH:
      return dnnl::algorithm::eltwise_tanh;
    case SIMDRNN_RELU:
      return dnnl::algorithm::eltwise_relu;
    case SIMDRNN_SIGMOID:
      return dnnl::algorithm::eltwise_logistic;
  }
  throw std::invalid_argument("simdrnn_test reduced baseline: unknown activation");
}

// Everything one primitive (covering `layers` layers from `first_layer`) depends on.
struct StageSpec {
  simdrnn_config config{};
  ReducedType type = ReducedType::kBf16;
  dnnl::rnn_direction direction = dnnl::rnn_direction::unidirectional_left2right;
  int64_t T = 1, N = 1, D = 1, first_layer = 0, layers = 1;
  bool peephole = false;

  bool lstm() const { return config.cell == SIMDRNN_CELL_LSTM; }
  bool lbr() const { return config.cell == SIMDRNN_CELL_GRU && config.gru_linear_before_reset == 1; }
  int64_t G() const { return gates_of(config); }
  int64_t bias_gates() const { return lbr() ? 4 : G(); }  // lbr_gru keeps b_hn apart as a 4th bias gate
  int64_t H() const { return config.hidden_size; }
  int64_t H_out() const { return hidden_out_of(config); }
  int64_t P() const { return config.proj_size; }
  int64_t slc() const { return first_layer == 0 ? config.input_size : D * H_out(); }
  dt data_type() const { return type == ReducedType::kInt8 ? dt::u8 : dt::bf16; }
  dt weights_type() const { return type == ReducedType::kInt8 ? dt::s8 : dt::bf16; }
};

// The stages setup() builds: one multi-layer primitive when oneDNN's layer semantics match
// PyTorch's (unidirectional, I == H_out), else one per layer.
std::vector<StageSpec> plan_stages(const simdrnn_config& config, int64_t seq_len, int64_t batch, ReducedType type,
                                   BaselineDirection direction, bool peephole, bool force_per_layer) {
  StageSpec base;
  base.config = config;
  base.type = type;
  base.direction = onednn_direction(direction);
  base.T = seq_len;
  base.N = batch;
  base.D = num_directions(direction);
  base.peephole = peephole;
  std::vector<StageSpec> stages;
  const bool single = config.num_layers == 1 || (direction != BaselineDirection::kBidirectionalConcat &&
                                                 config.input_size == hidden_out_of(config) && !force_per_layer);
  if (single) {
    base.layers = config.num_layers;
    stages.push_back(base);
  } else {
    for (int64_t l = 0; l < config.num_layers; ++l) {
      StageSpec s = base;
      s.first_layer = l;
      s.layers = 1;
      stages.push_back(s);
    }
  }
  return stages;
}

// Primitive attributes of a stage: for int8 the data scale/shift, the weight scales per (gate, h)
// in oneDNN's gate order (mask (1 << 3) | (1 << 4) on ldigo) and the projection scales per p
// (mask 1 << 3 on ldio); user scratchpad for the RNN primitive only (user_scratchpad = false for
// the weight reorders, which are executed without one).
dnnl::primitive_attr stage_attr(const StageSpec& s, float data_scale, float data_shift,
                                const std::vector<float>& weight_scales, const std::vector<float>& proj_scales,
                                bool user_scratchpad = true) {
  dnnl::primitive_attr attr;
  if (user_scratchpad) attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (s.type == ReducedType::kInt8) {
    attr.set_rnn_data_qparams(data_scale, data_shift);
    attr.set_rnn_weights_qparams((1 << 3) | (1 << 4), weight_scales);
    if (s.P() > 0) attr.set_rnn_weights_projection_qparams(1 << 3, proj_scales);
  }
  return attr;
}

// The stage's primitive descriptor (throws dnnl::error when oneDNN has no implementation).
dnnl::primitive_desc stage_pd(const StageSpec& s, const dnnl::primitive_attr& attr, const dnnl::engine& engine) {
  const int64_t L = s.layers, D = s.D, G = s.G(), H = s.H(), H_out = s.H_out(), P = s.P(), slc = s.slc();
  const dt ddt = s.data_type(), wdt = s.weights_type();
  const dnnl::memory::desc src_layer_md({s.T, s.N, slc}, ddt, tag::tnc);
  const dnnl::memory::desc iter_md({L, D, s.N, H_out}, ddt, tag::ldnc);
  const dnnl::memory::desc iter_c_md =
      s.lstm() ? dnnl::memory::desc({L, D, s.N, H}, dt::f32, tag::ldnc) : dnnl::memory::desc();
  const dnnl::memory::desc wl_any({L, D, slc, G, H}, wdt, tag::any);
  const dnnl::memory::desc wi_any({L, D, H_out, G, H}, wdt, tag::any);
  const dnnl::memory::desc peephole_md =
      s.peephole ? dnnl::memory::desc({L, D, 3, H}, dt::f32, tag::ldgo) : dnnl::memory::desc();
  const dnnl::memory::desc projection_any =
      P > 0 ? dnnl::memory::desc({L, D, H, P}, wdt, tag::any) : dnnl::memory::desc();
  const dnnl::memory::desc bias_md({L, D, s.bias_gates(), H}, dt::f32, tag::ldgo);
  const dnnl::memory::desc dst_layer_md({s.T, s.N, D * H_out}, ddt, tag::tnc);
  const dnnl::prop_kind prop = dnnl::prop_kind::forward_inference;
  if (s.config.cell == SIMDRNN_CELL_RNN) {
    const dnnl::vanilla_rnn_forward::desc desc(prop, onednn_activation(s.config.activation), s.direction,
                                               src_layer_md, iter_md, wl_any, wi_any, bias_md, dst_layer_md,
                                               iter_md);
    return dnnl::vanilla_rnn_forward::primitive_desc(desc, attr, engine);
  }
  if (s.lstm()) {
    const dnnl::lstm_forward::desc desc(prop, s.direction, src_layer_md, iter_md, iter_c_md, wl_any, wi_any,
                                        peephole_md, projection_any, bias_md, dst_layer_md, iter_md, iter_c_md);
    return dnnl::lstm_forward::primitive_desc(desc, attr, engine);
  }
  if (s.lbr()) {
    const dnnl::lbr_gru_forward::desc desc(prop, s.direction, src_layer_md, iter_md, wl_any, wi_any, bias_md,
                                           dst_layer_md, iter_md);
    return dnnl::lbr_gru_forward::primitive_desc(desc, attr, engine);
  }
  const dnnl::gru_forward::desc desc(prop, s.direction, src_layer_md, iter_md, wl_any, wi_any, bias_md,
                                     dst_layer_md, iter_md);
  return dnnl::gru_forward::primitive_desc(desc, attr, engine);
}

void check_weights(const simdrnn_config& config, int64_t D, const BaselineWeights& weights) {
  const int64_t H = config.hidden_size, G = gates_of(config), H_out = hidden_out_of(config);
  require(static_cast<int64_t>(weights.cells.size()) == config.num_layers * D,
          "weights.cells must hold num_layers * D cells");
  for (int64_t l = 0; l < config.num_layers; ++l) {
    const int64_t in = l == 0 ? config.input_size : D * H_out;
    for (int64_t d = 0; d < D; ++d) {
      const BaselineCell& cell = weights.cells[static_cast<size_t>(l * D + d)];
      require(static_cast<int64_t>(cell.w_ih.size()) == G * H * in, "w_ih of a cell has the wrong size");
      require(static_cast<int64_t>(cell.w_hh.size()) == G * H * H_out, "w_hh has the wrong size");
      require(cell.b_ih.empty() || static_cast<int64_t>(cell.b_ih.size()) == G * H, "b_ih has the wrong size");
      require(cell.b_hh.empty() || static_cast<int64_t>(cell.b_hh.size()) == G * H, "b_hh has the wrong size");
      require(static_cast<int64_t>(cell.w_hr.size()) == config.proj_size * H,
              "w_hr must be [proj_size, H] with a projection and empty without");
      require(cell.peephole.empty() ||
                  (config.cell == SIMDRNN_CELL_LSTM && static_cast<int64_t>(cell.peephole.size()) == 3 * H),
              "peephole must be empty, or [3H] for an LSTM");
    }
  }
}

// Whether oneDNN's effective ISA has VNNI (u8 x s8 products summed straight into s32).
bool onednn_has_vnni() {
  const unsigned isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  auto has = [isa](dnnl::cpu_isa want) {
    return (isa & static_cast<unsigned>(want)) == static_cast<unsigned>(want);
  };
  return has(dnnl::cpu_isa::avx512_core_vnni) || has(dnnl::cpu_isa::avx2_vnni);
}

// The largest |s8| a weight is quantized to. Without VNNI oneDNN's u8s8 GEMMs sum pairs of
// u8 * s8 products in saturating s16 (vpmaddubsw): 2 * 255 * 127 overflows it, 2 * 255 * 63
// does not, so weights get 7 bits there (oneDNN's own advice for non-VNNI int8).
float int8_weight_max() { return onednn_has_vnni() ? 127.0f : 63.0f; }

// weight_max / max |v| over a group (1 for an all-zero group): the s8 quantization scale oneDNN
// applies as round(scale * w).
float int8_scale(float max_abs, float weight_max) { return max_abs > 0.0f ? weight_max / max_abs : 1.0f; }

}  // namespace

const char* reduced_type_name(ReducedType type) { return type == ReducedType::kInt8 ? "int8" : "bf16"; }

struct OnednnReducedRnn::Impl {
  // One primitive covering layers [first_layer, first_layer + layers).
  struct Stage {
    StageSpec spec;
    dnnl::primitive primitive;
    // Owned, in the data type (src_layer of a chained stage is the previous stage's dst_layer).
    dnnl::memory src_layer, src_iter, src_iter_c, dst_layer, dst_iter, dst_iter_c;
    dnnl::memory weights_layer, weights_iter, weights_peephole, weights_projection, bias, scratchpad;
    std::unordered_map<int, dnnl::memory> args;
    // f32 ldnc views of the caller's h0 / h_n slice for these layers (handles set per call).
    dnnl::memory user_h0, user_h_n;
    dnnl::reorder h0_in, h_n_out;  // h_n_out: bf16 only (u8 is dequantized by hand)
    std::string impl_info;
  };

  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  simdrnn_config config{};
  ReducedType type = ReducedType::kBf16;
  int64_t T = 0, N = 0, D = 1, H = 0, H_out = 0, L = 0, I = 0;
  bool lstm = false;
  int threads = 1;
  float scale = 1.0f, shift = 0.0f;
  std::vector<Stage> stages;
  dnnl::memory user_x, user_y;   // f32 tnc views of the caller's x / y
  dnnl::reorder x_in, y_out;     // y_out: bf16 only
  std::vector<float> zero_h0;    // f32 zeros for a null h0

  void add_stage(const StageSpec& spec, const BaselineWeights& weights, const dnnl::memory* src_layer);
  void dequantize(const dnnl::memory& from, float* to, int64_t count) const;
};

void OnednnReducedRnn::Impl::add_stage(const StageSpec& s, const BaselineWeights& weights,
                                       const dnnl::memory* src_layer) {
  const int64_t layers = s.layers, G = s.G(), bias_gates = s.bias_gates(), P = s.P(), slc = s.slc();
  const bool lbr = s.lbr();
  const int* torch_gate = s.config.cell == SIMDRNN_CELL_GRU ? kGruTorchGate : kIdentityGate;

  // User-layout f32 copies: ldigo weights, ldgo bias and peepholes, ldio projection (as OnednnGatedRnn).
  std::vector<float> wl(static_cast<size_t>(layers * D * slc * G * H));
  std::vector<float> wi(static_cast<size_t>(layers * D * H_out * G * H));
  std::vector<float> bias(static_cast<size_t>(layers * D * bias_gates * H), 0.0f);
  std::vector<float> peep(s.peephole ? static_cast<size_t>(layers * D * 3 * H) : 0u, 0.0f);
  std::vector<float> proj(static_cast<size_t>(layers * D * H * P));
  for (int64_t l = 0; l < layers; ++l) {
    for (int64_t d = 0; d < D; ++d) {
      const int64_t ld = l * D + d;
      const BaselineCell& cell = weights.cells[static_cast<size_t>((s.first_layer + l) * D + d)];
      auto b_at = [](const std::vector<float>& b, int64_t row) {
        return b.empty() ? 0.0f : b[static_cast<size_t>(row)];
      };
      for (int64_t g = 0; g < G; ++g) {
        const int64_t tg = torch_gate[g];
        for (int64_t h = 0; h < H; ++h) {
          const int64_t row = tg * H + h;  // row of the PyTorch [G*H, in] matrices
          for (int64_t i = 0; i < slc; ++i)
            wl[static_cast<size_t>(((ld * slc + i) * G + g) * H + h)] = cell.w_ih[static_cast<size_t>(row * slc + i)];
          for (int64_t i = 0; i < H_out; ++i)
            wi[static_cast<size_t>(((ld * H_out + i) * G + g) * H + h)] =
                cell.w_hh[static_cast<size_t>(row * H_out + i)];
          const bool hidden_bias_apart = lbr && tg == 2;  // lbr_gru: b_hn goes to the 4th gate
          bias[static_cast<size_t>((ld * bias_gates + g) * H + h)] =
              b_at(cell.b_ih, row) + (hidden_bias_apart ? 0.0f : b_at(cell.b_hh, row));
        }
      }
      if (lbr)
        for (int64_t h = 0; h < H; ++h)
          bias[static_cast<size_t>((ld * bias_gates + 3) * H + h)] = b_at(cell.b_hh, 2 * H + h);
      if (s.peephole && !cell.peephole.empty())
        std::copy(cell.peephole.begin(), cell.peephole.end(), peep.begin() + ld * 3 * H);
      for (int64_t p = 0; p < P; ++p)
        for (int64_t h = 0; h < H; ++h)
          proj[static_cast<size_t>((ld * H + h) * P + p)] = cell.w_hr[static_cast<size_t>(p * H + h)];
    }
  }

  // int8: one scale per output channel (g, h), over every layer and direction of the stage and
  // both weights_layer and weights_iter (oneDNN shares them); projection one per p.
  std::vector<float> weight_scales, proj_scales;
  if (type == ReducedType::kInt8) {
    std::vector<float> max_abs(static_cast<size_t>(G * H), 0.0f);
    for (size_t k = 0; k < wl.size(); ++k) max_abs[k % max_abs.size()] = std::max(max_abs[k % max_abs.size()], std::fabs(wl[k]));
    for (size_t k = 0; k < wi.size(); ++k) max_abs[k % max_abs.size()] = std::max(max_abs[k % max_abs.size()], std::fabs(wi[k]));
    const float weight_max = int8_weight_max();
    for (float m : max_abs) weight_scales.push_back(int8_scale(m, weight_max));
    if (P > 0) {
      std::vector<float> proj_max(static_cast<size_t>(P), 0.0f);
      for (size_t k = 0; k < proj.size(); ++k) proj_max[k % proj_max.size()] = std::max(proj_max[k % proj_max.size()], std::fabs(proj[k]));
      for (float m : proj_max) proj_scales.push_back(int8_scale(m, weight_max));
    }
  }
  const dnnl::primitive_attr attr = stage_attr(s, scale, shift, weight_scales, proj_scales);
  const dnnl::primitive_attr reorder_attr = stage_attr(s, scale, shift, weight_scales, proj_scales, false);
  const dnnl::primitive_desc pd = stage_pd(s, attr, engine);
  auto md = [&](int arg) { return pd.query_md(dnnl::query::exec_arg_md, arg); };

  Stage stage;
  stage.spec = s;
  stage.primitive = dnnl::primitive(pd);
  stage.impl_info = pd.impl_info_str();

  // Each f32 user buffer reordered (and for int8 quantized, with oneDNN's compensation) into the
  // primitive's own format. The projection's reorder takes its scales as the weights scales.
  auto owned = [&](int arg, const dnnl::memory::desc& user_md, std::vector<float>& data,
                   const dnnl::primitive_attr& reorder_attr) {
    dnnl::memory user(user_md, engine, data.data());
    dnnl::memory mine(md(arg), engine);
    dnnl::reorder(dnnl::reorder::primitive_desc(user, mine, reorder_attr)).execute(stream, user, mine);
    return mine;
  };
  const dnnl::primitive_attr plain;
  stage.weights_layer =
      owned(DNNL_ARG_WEIGHTS_LAYER, dnnl::memory::desc({layers, D, slc, G, H}, dt::f32, tag::ldigo), wl, reorder_attr);
  stage.weights_iter =
      owned(DNNL_ARG_WEIGHTS_ITER, dnnl::memory::desc({layers, D, H_out, G, H}, dt::f32, tag::ldigo), wi, reorder_attr);
  stage.bias = owned(DNNL_ARG_BIAS, dnnl::memory::desc({layers, D, bias_gates, H}, dt::f32, tag::ldgo), bias, plain);
  if (s.peephole)
    stage.weights_peephole =
        owned(DNNL_ARG_WEIGHTS_PEEPHOLE, dnnl::memory::desc({layers, D, 3, H}, dt::f32, tag::ldgo), peep, plain);
  if (P > 0) {
    dnnl::primitive_attr proj_attr;
    if (type == ReducedType::kInt8) {
      proj_attr.set_rnn_data_qparams(scale, shift);
      proj_attr.set_rnn_weights_qparams(1 << 3, proj_scales);
      proj_attr.set_rnn_weights_projection_qparams(1 << 3, proj_scales);
    }
    stage.weights_projection =
        owned(DNNL_ARG_WEIGHTS_PROJECTION, dnnl::memory::desc({layers, D, H, P}, dt::f32, tag::ldio), proj,
              proj_attr);
  }
  stream.wait();

  stage.src_layer = src_layer != nullptr ? *src_layer : dnnl::memory(md(DNNL_ARG_SRC_LAYER), engine);
  stage.src_iter = dnnl::memory(md(DNNL_ARG_SRC_ITER), engine);
  stage.dst_layer = dnnl::memory(md(DNNL_ARG_DST_LAYER), engine);
  stage.dst_iter = dnnl::memory(md(DNNL_ARG_DST_ITER), engine);
  stage.scratchpad = dnnl::memory(pd.scratchpad_desc(), engine);
  stage.args = {{DNNL_ARG_SRC_LAYER, stage.src_layer},       {DNNL_ARG_SRC_ITER, stage.src_iter},
                {DNNL_ARG_WEIGHTS_LAYER, stage.weights_layer}, {DNNL_ARG_WEIGHTS_ITER, stage.weights_iter},
                {DNNL_ARG_BIAS, stage.bias},                   {DNNL_ARG_DST_LAYER, stage.dst_layer},
                {DNNL_ARG_DST_ITER, stage.dst_iter},           {DNNL_ARG_SCRATCHPAD, stage.scratchpad}};
  if (lstm) {
    stage.src_iter_c = dnnl::memory(md(DNNL_ARG_SRC_ITER_C), engine);
    stage.dst_iter_c = dnnl::memory(md(DNNL_ARG_DST_ITER_C), engine);
    stage.args.emplace(DNNL_ARG_SRC_ITER_C, stage.src_iter_c);
    stage.args.emplace(DNNL_ARG_DST_ITER_C, stage.dst_iter_c);
  }
  if (s.peephole) stage.args.emplace(DNNL_ARG_WEIGHTS_PEEPHOLE, stage.weights_peephole);
  if (P > 0) stage.args.emplace(DNNL_ARG_WEIGHTS_PROJECTION, stage.weights_projection);

  // Conversions of the states, created once: f32 ldnc <-> the primitive's iter buffers.
  const dnnl::memory::desc user_iter_md({layers, D, N, H_out}, dt::f32, tag::ldnc);
  stage.user_h0 = dnnl::memory(user_iter_md, engine, DNNL_MEMORY_NONE);
  stage.user_h_n = dnnl::memory(user_iter_md, engine, DNNL_MEMORY_NONE);
  dnnl::primitive_attr data_attr;
  if (type == ReducedType::kInt8) data_attr.set_rnn_data_qparams(scale, shift);
  stage.h0_in = dnnl::reorder(dnnl::reorder::primitive_desc(stage.user_h0, stage.src_iter, data_attr));
  if (type == ReducedType::kBf16) stage.h_n_out = dnnl::reorder(stage.dst_iter, stage.user_h_n);
  stages.push_back(std::move(stage));
}

void OnednnReducedRnn::Impl::dequantize(const dnnl::memory& from, float* to, int64_t count) const {
  const uint8_t* q = static_cast<const uint8_t*>(from.get_data_handle());
  const float inv = 1.0f / scale;
  for (int64_t k = 0; k < count; ++k) to[k] = (static_cast<float>(q[k]) - shift) * inv;
}

OnednnReducedRnn::OnednnReducedRnn() = default;
OnednnReducedRnn::~OnednnReducedRnn() = default;

bool OnednnReducedRnn::supported(const simdrnn_config& config, ReducedType type, bool with_peephole,
                                 std::string* why) {
  std::string reason = own_limits(config, type, false, 1, 1, 1);
  if (reason.empty() && with_peephole && config.cell != SIMDRNN_CELL_LSTM) reason = "peepholes are LSTM only";
  if (reason.empty()) {
    try {
      const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
      const std::vector<StageSpec> stages =
          plan_stages(config, 1, 1, type, default_direction(config), with_peephole, false);
      // Chained stages above the first are all alike: the first two cover every shape.
      for (size_t k = 0; k < stages.size() && k < 2; ++k) {
        const StageSpec& s = stages[k];
        const std::vector<float> weight_scales(static_cast<size_t>(s.G() * s.H()), 1.0f);
        const std::vector<float> proj_scales(static_cast<size_t>(std::max<int64_t>(s.P(), 1)), 1.0f);
        stage_pd(s, stage_attr(s, 127.0f, 128.0f, weight_scales, proj_scales), engine);
      }
    } catch (const dnnl::error& e) {
      reason = std::string("oneDNN: ") + e.what();
    }
  }
  if (why != nullptr) *why = reason;
  return reason.empty();
}

void OnednnReducedRnn::setup(const simdrnn_config& config, int64_t seq_len, int64_t batch,
                             const BaselineWeights& weights, int threads, ReducedType type,
                             BaselineDirection direction, const OnednnReducedOptions& options) {
  const std::string limit = own_limits(config, type, options.allow_bf16_projection, seq_len, batch, threads);
  require(limit.empty(), limit);
  require((direction == BaselineDirection::kBidirectionalConcat) == (config.bidirectional != 0),
          "direction must be bidirectional_concat exactly when config.bidirectional");
  require(type == ReducedType::kBf16 || type == ReducedType::kInt8, "unknown ReducedType");
  require(type != ReducedType::kInt8 || (options.int8_data_range > 0.0f && std::isfinite(options.int8_data_range)),
          "int8_data_range must be positive and finite");
  const int64_t D = num_directions(direction);
  check_weights(config, D, weights);
  impl_.reset();
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  m.config = config;
  m.type = type;
  m.T = seq_len;
  m.N = batch;
  m.D = D;
  m.H = config.hidden_size;
  m.H_out = hidden_out_of(config);
  m.L = config.num_layers;
  m.I = config.input_size;
  m.lstm = config.cell == SIMDRNN_CELL_LSTM;
  m.threads = threads;
  if (type == ReducedType::kInt8) {
    m.scale = 127.0f / options.int8_data_range;
    m.shift = 128.0f;
  }
  bool peephole = false;
  for (const BaselineCell& cell : weights.cells) peephole = peephole || !cell.peephole.empty();
  m.zero_h0.assign(static_cast<size_t>(m.L * D * batch * m.H_out), 0.0f);

  omp_set_num_threads(threads);  // oneDNN sizes scratchpads for the thread count at creation
  for (const StageSpec& spec :
       plan_stages(config, seq_len, batch, type, direction, peephole, options.force_per_layer)) {
    // A chained stage reads the previous stage's dst_layer as it is (same type, same qparams).
    const dnnl::memory previous = m.stages.empty() ? dnnl::memory() : m.stages.back().dst_layer;
    m.add_stage(spec, weights, m.stages.empty() ? nullptr : &previous);
  }

  dnnl::primitive_attr data_attr;
  if (type == ReducedType::kInt8) data_attr.set_rnn_data_qparams(m.scale, m.shift);
  m.user_x = dnnl::memory(dnnl::memory::desc({seq_len, batch, m.I}, dt::f32, tag::tnc), m.engine, DNNL_MEMORY_NONE);
  m.user_y = dnnl::memory(dnnl::memory::desc({seq_len, batch, D * m.H_out}, dt::f32, tag::tnc), m.engine,
                          DNNL_MEMORY_NONE);
  m.x_in = dnnl::reorder(dnnl::reorder::primitive_desc(m.user_x, m.stages.front().src_layer, data_attr));
  if (type == ReducedType::kBf16) m.y_out = dnnl::reorder(m.stages.back().dst_layer, m.user_y);
  impl_ = std::move(impl);
}

void OnednnReducedRnn::set_inputs(const float* x, const float* h0, const float* c0) {
  require(impl_ != nullptr, "set_inputs() before setup()");
  Impl& m = *impl_;
  require(x != nullptr, "x is required");
  require(m.lstm || c0 == nullptr, "c0 is LSTM only");
  omp_set_num_threads(m.threads);
  m.user_x.set_data_handle(const_cast<float*>(x));
  m.x_in.execute(m.stream, m.user_x, m.stages.front().src_layer);
  const float* h0_data = h0 != nullptr ? h0 : m.zero_h0.data();
  const int64_t state_per_layer = m.D * m.N * m.H_out;
  const int64_t cell_per_layer = m.D * m.N * m.H;
  for (Impl::Stage& stage : m.stages) {
    stage.user_h0.set_data_handle(const_cast<float*>(h0_data + stage.spec.first_layer * state_per_layer));
    stage.h0_in.execute(m.stream, stage.user_h0, stage.src_iter);
    if (m.lstm) {
      float* c = static_cast<float*>(stage.src_iter_c.get_data_handle());
      const int64_t count = stage.spec.layers * cell_per_layer;
      if (c0 != nullptr)
        std::copy(c0 + stage.spec.first_layer * cell_per_layer, c0 + stage.spec.first_layer * cell_per_layer + count, c);
      else
        std::fill(c, c + count, 0.0f);
    }
  }
  m.stream.wait();
}

void OnednnReducedRnn::execute() {
  require(impl_ != nullptr, "execute() before setup()");
  Impl& m = *impl_;
  omp_set_num_threads(m.threads);
  for (Impl::Stage& stage : m.stages) stage.primitive.execute(m.stream, stage.args);
  m.stream.wait();
}

void OnednnReducedRnn::get_outputs(float* y, float* h_n, float* c_n) {
  require(impl_ != nullptr, "get_outputs() before setup()");
  Impl& m = *impl_;
  require(m.lstm || c_n == nullptr, "c_n is LSTM only");
  omp_set_num_threads(m.threads);
  const bool int8 = m.type == ReducedType::kInt8;
  const int64_t state_per_layer = m.D * m.N * m.H_out;
  const int64_t cell_per_layer = m.D * m.N * m.H;
  if (y != nullptr) {
    if (int8) {
      m.dequantize(m.stages.back().dst_layer, y, m.T * m.N * m.D * m.H_out);
    } else {
      m.user_y.set_data_handle(y);
      m.y_out.execute(m.stream, m.stages.back().dst_layer, m.user_y);
    }
  }
  for (Impl::Stage& stage : m.stages) {
    if (h_n != nullptr) {
      float* dst = h_n + stage.spec.first_layer * state_per_layer;
      if (int8) {
        m.dequantize(stage.dst_iter, dst, stage.spec.layers * state_per_layer);
      } else {
        stage.user_h_n.set_data_handle(dst);
        stage.h_n_out.execute(m.stream, stage.dst_iter, stage.user_h_n);
      }
    }
    if (c_n != nullptr) {
      const float* c = static_cast<const float*>(stage.dst_iter_c.get_data_handle());
      std::copy(c, c + stage.spec.layers * cell_per_layer, c_n + stage.spec.first_layer * cell_per_layer);
    }
  }
  m.stream.wait();
}

void OnednnReducedRnn::run(const float* x, const float* h0, const float* c0, float* y, float* h_n, float* c_n) {
  set_inputs(x, h0, c0);
  execute();
  get_outputs(y, h_n, c_n);
}

ReducedType OnednnReducedRnn::type() const {
  require(impl_ != nullptr, "type() before setup()");
  return impl_->type;
}

bool OnednnReducedRnn::single_primitive() const { return impl_ != nullptr && impl_->stages.size() == 1; }

std::string OnednnReducedRnn::impl_info() const {
  std::string info;
  if (impl_ == nullptr) return info;
  for (const Impl::Stage& stage : impl_->stages) {
    if (!info.empty()) info += ",";
    info += stage.impl_info;
  }
  return info;
}

float OnednnReducedRnn::data_scale() const { return impl_ != nullptr ? impl_->scale : 1.0f; }
float OnednnReducedRnn::data_shift() const { return impl_ != nullptr ? impl_->shift : 0.0f; }

}  // namespace simdrnn_test
