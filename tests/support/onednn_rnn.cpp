// oneDNN baselines: the vanilla RNN primitive, the LSTM / GRU primitives and
// the sgemm-per-step loop. See onednn_rnn.hpp for what each computes and how
// it is set up.
#include "support/onednn_rnn.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace simdrnn_test {
namespace {

using dim = dnnl::memory::dim;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

void require(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument("simdrnn_test baseline: " + message);
}

int64_t config_directions(const simdrnn_config& config) { return config.bidirectional ? 2 : 1; }

// Width of h and y per direction: proj_size for a projected LSTM, else H.
int64_t config_hidden_out(const simdrnn_config& config) {
  return config.proj_size > 0 ? config.proj_size : config.hidden_size;
}

int64_t config_gates(const simdrnn_config& config) {
  return config.cell == SIMDRNN_CELL_LSTM ? 4 : config.cell == SIMDRNN_CELL_GRU ? 3 : 1;
}

// Input width of `layer`: I for the first, D*H_out above.
int64_t layer_input(const simdrnn_config& config, int64_t layer) {
  return layer == 0 ? config.input_size : config_directions(config) * config_hidden_out(config);
}

void check_shapes(const simdrnn_config& config, int64_t seq_len, int64_t batch,
                  const BaselineWeights& weights, int threads, BaselineDirection direction) {
  require(config.input_size >= 1 && config.hidden_size >= 1 && config.num_layers >= 1,
          "config needs input_size, hidden_size, num_layers >= 1");
  require(config.clip == 0.0f, "clip is not supported by the baselines");
  require(seq_len >= 1 && batch >= 1, "seq_len and batch must be >= 1");
  require(threads >= 1, "threads must be >= 1");
  require((direction == BaselineDirection::kBidirectionalConcat) == (config.bidirectional != 0),
          "direction must be bidirectional_concat exactly when config.bidirectional");
  require(
      config.proj_size == 0 || (config.cell == SIMDRNN_CELL_LSTM && config.proj_size < config.hidden_size),
      "proj_size must be 0, or below hidden_size for an LSTM");
  const int64_t H = config.hidden_size, G = config_gates(config), H_out = config_hidden_out(config);
  const int64_t D = config_directions(config);
  require(static_cast<int64_t>(weights.cells.size()) == config.num_layers * D,
          "weights.cells must hold num_layers * D cells");
  for (int64_t l = 0; l < config.num_layers; ++l) {
    for (int64_t d = 0; d < D; ++d) {
      const BaselineCell& cell = weights.cells[static_cast<size_t>(l * D + d)];
      require(static_cast<int64_t>(cell.w_ih.size()) == G * H * layer_input(config, l),
              "w_ih of a cell has the wrong size");
      require(static_cast<int64_t>(cell.w_hh.size()) == G * H * H_out, "w_hh has the wrong size");
      require(cell.b_ih.empty() || static_cast<int64_t>(cell.b_ih.size()) == G * H,
              "b_ih has the wrong size");
      require(cell.b_hh.empty() || static_cast<int64_t>(cell.b_hh.size()) == G * H,
              "b_hh has the wrong size");
      require(static_cast<int64_t>(cell.w_hr.size()) == config.proj_size * H,
              "w_hr must be [proj_size, H] with a projection and empty without");
      require(cell.peephole.empty() ||
                  (config.cell == SIMDRNN_CELL_LSTM && static_cast<int64_t>(cell.peephole.size()) == 3 * H),
              "peephole must be empty, or [3H] for an LSTM");
    }
  }
  if (config.output_size > 0) {
    require(static_cast<int64_t>(weights.w_hy.size()) == config.output_size * D * H_out,
            "w_hy has the wrong size");
    require(weights.b_y.empty() || static_cast<int64_t>(weights.b_y.size()) == config.output_size,
            "b_y has the wrong size");
  }
}

// b_ih + b_hh, absent biases counting as zero.
std::vector<float> summed_bias(const BaselineCell& cell, int64_t hidden) {
  std::vector<float> bias(static_cast<size_t>(hidden), 0.0f);
  for (int64_t j = 0; j < hidden; ++j) {
    if (!cell.b_ih.empty()) bias[j] += cell.b_ih[j];
    if (!cell.b_hh.empty()) bias[j] += cell.b_hh[j];
  }
  return bias;
}

void sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const dnnl_status_t status = dnnl_sgemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success) throw std::runtime_error("dnnl_sgemm failed");
}

// out [rows, O] = y [rows, DH] W_hy^T + b_y.
void output_layer(int64_t rows, int64_t dh, int64_t o, const float* y, const float* w_hy, const float* b_y,
                  float* out) {
  sgemm('N', 'T', rows, o, dh, 1.0f, y, dh, w_hy, dh, 0.0f, out, o);
  if (b_y == nullptr) return;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < o; ++j) out[r * o + j] += b_y[j];
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
  throw std::invalid_argument("simdrnn_test baseline: unknown activation");
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
  throw std::invalid_argument("simdrnn_test baseline: unknown direction");
}

}  // namespace

BaselineDirection default_direction(const simdrnn_config& config) {
  return config.bidirectional ? BaselineDirection::kBidirectionalConcat : BaselineDirection::kLeft2Right;
}

int64_t num_directions(BaselineDirection direction) {
  return direction == BaselineDirection::kBidirectionalConcat ? 2 : 1;
}

BaselineWeights make_baseline_weights(const simdrnn_config& config, uint32_t seed, float scale,
                                      bool with_peephole) {
  const int64_t H = config.hidden_size, G = config_gates(config), H_out = config_hidden_out(config);
  const int64_t D = config_directions(config);
  if (scale <= 0.0f) scale = 1.0f / std::sqrt(static_cast<float>(H));
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  auto fill = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return v;
  };
  BaselineWeights weights;
  for (int64_t l = 0; l < config.num_layers; ++l) {
    for (int64_t d = 0; d < D; ++d) {
      BaselineCell cell;
      cell.w_ih = fill(static_cast<size_t>(G * H * layer_input(config, l)));
      cell.w_hh = fill(static_cast<size_t>(G * H * H_out));
      cell.b_ih = fill(static_cast<size_t>(G * H));
      cell.b_hh = fill(static_cast<size_t>(G * H));
      // Drawn after the Elman tensors so that Elman weights of a seed never change.
      if (config.cell == SIMDRNN_CELL_LSTM && config.proj_size > 0)
        cell.w_hr = fill(static_cast<size_t>(config.proj_size * H));
      if (config.cell == SIMDRNN_CELL_LSTM && with_peephole) cell.peephole = fill(static_cast<size_t>(3 * H));
      weights.cells.push_back(std::move(cell));
    }
  }
  if (config.output_size > 0) {
    weights.w_hy = fill(static_cast<size_t>(config.output_size * D * H_out));
    weights.b_y = fill(static_cast<size_t>(config.output_size));
  }
  return weights;
}

simdrnn::Model make_simdrnn_model(const simdrnn_config& config, const BaselineWeights& weights) {
  const int64_t D = config_directions(config);
  simdrnn::Weights w(config);
  for (int64_t l = 0; l < config.num_layers; ++l) {
    for (int64_t d = 0; d < D; ++d) {
      const BaselineCell& cell = weights.cells.at(static_cast<size_t>(l * D + d));
      const std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      w.set("weight_ih" + suffix, cell.w_ih);
      w.set("weight_hh" + suffix, cell.w_hh);
      if (!cell.b_ih.empty()) w.set("bias_ih" + suffix, cell.b_ih);
      if (!cell.b_hh.empty()) w.set("bias_hh" + suffix, cell.b_hh);
      if (!cell.w_hr.empty()) w.set("weight_hr" + suffix, cell.w_hr);
      if (!cell.peephole.empty()) w.set("weight_peephole" + suffix, cell.peephole);
    }
  }
  if (config.output_size > 0) {
    w.set("weight_hy", weights.w_hy);
    if (!weights.b_y.empty()) w.set("bias_hy", weights.b_y);
  }
  return simdrnn::Model(w);
}

double forward_flops(const simdrnn_config& config, int64_t seq_len, int64_t batch) {
  const double H = static_cast<double>(config.hidden_size);
  const double G = static_cast<double>(config_gates(config));
  const double H_out = static_cast<double>(config_hidden_out(config));
  const double D = static_cast<double>(config_directions(config));
  const double rows = static_cast<double>(seq_len) * static_cast<double>(batch);
  double flops = 0.0;
  for (int64_t l = 0; l < config.num_layers; ++l) {
    flops += D * 2.0 * rows * G * H * (static_cast<double>(layer_input(config, l)) + H_out);
    if (config.proj_size > 0) flops += D * 2.0 * rows * H * H_out;
  }
  if (config.output_size > 0) flops += 2.0 * rows * D * H_out * static_cast<double>(config.output_size);
  return flops;
}

// ---- OnednnRnn ---------------------------------------------------------------

struct OnednnRnn::Impl {
  // One primitive covering layers [first_layer, first_layer + layers).
  struct Stage {
    int64_t first_layer = 0;
    int64_t layers = 1;
    dnnl::vanilla_rnn_forward primitive;
    dnnl::memory src_layer, src_iter, dst_layer, dst_iter;                  // user buffers, set per run
    dnnl::memory weights_layer, weights_iter, bias, scratchpad, workspace;  // owned
    std::unordered_map<int, dnnl::memory> args;
    std::string impl_info;
  };

  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  simdrnn_config config{};
  int64_t T = 0, N = 0, D = 1, H = 0, L = 0, O = 0;
  int threads = 1;
  std::vector<Stage> stages;
  std::vector<float> zero_h0, h_n_scratch, y_scratch, between[2];
  std::vector<float> w_hy, b_y;

  void add_stage(int64_t first_layer, int64_t layers, const BaselineWeights& weights,
                 BaselineDirection direction, const OnednnOptions& options);
};

void OnednnRnn::Impl::add_stage(int64_t first_layer, int64_t layers, const BaselineWeights& weights,
                                BaselineDirection direction, const OnednnOptions& options) {
  const int64_t slc = layer_input(config, first_layer);
  const int64_t dlc = D * H;
  const dnnl::memory::desc src_layer_md({T, N, slc}, dt::f32, tag::tnc);
  const dnnl::memory::desc iter_md({layers, D, N, H}, dt::f32, tag::ldnc);
  const dnnl::memory::desc weights_layer_any({layers, D, slc, 1, H}, dt::f32, tag::any);
  const dnnl::memory::desc weights_iter_any({layers, D, H, 1, H}, dt::f32, tag::any);
  const dnnl::memory::desc bias_md({layers, D, 1, H}, dt::f32, tag::ldgo);
  const dnnl::memory::desc dst_layer_md({T, N, dlc}, dt::f32, tag::tnc);

  const dnnl::prop_kind prop =
      options.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const dnnl::vanilla_rnn_forward::desc desc(
      prop, onednn_activation(config.activation), onednn_direction(direction), src_layer_md, iter_md,
      weights_layer_any, weights_iter_any, bias_md, dst_layer_md, iter_md);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::vanilla_rnn_forward::primitive_desc pd(desc, attr, engine);

  Stage stage;
  stage.first_layer = first_layer;
  stage.layers = layers;
  stage.primitive = dnnl::vanilla_rnn_forward(pd);
  stage.impl_info = pd.impl_info_str();

  // Our [H, in] rows become oneDNN's ldigo [l][d][in][0][H]: a transpose.
  std::vector<float> wl(static_cast<size_t>(layers * D * slc * H));
  std::vector<float> wi(static_cast<size_t>(layers * D * H * H));
  stage.bias = dnnl::memory(pd.bias_desc(), engine);
  float* bias = static_cast<float*>(stage.bias.get_data_handle());
  for (int64_t l = 0; l < layers; ++l) {
    for (int64_t d = 0; d < D; ++d) {
      const BaselineCell& cell = weights.cells[static_cast<size_t>((first_layer + l) * D + d)];
      float* wl_ld = wl.data() + (l * D + d) * slc * H;
      float* wi_ld = wi.data() + (l * D + d) * H * H;
      for (int64_t o = 0; o < H; ++o) {
        for (int64_t i = 0; i < slc; ++i) wl_ld[i * H + o] = cell.w_ih[o * slc + i];
        for (int64_t i = 0; i < H; ++i) wi_ld[i * H + o] = cell.w_hh[o * H + i];
      }
      const std::vector<float> b = summed_bias(cell, H);
      std::copy(b.begin(), b.end(), bias + (l * D + d) * H);
    }
  }
  const dnnl::memory::desc wl_user_md({layers, D, slc, 1, H}, dt::f32, tag::ldigo);
  const dnnl::memory::desc wi_user_md({layers, D, H, 1, H}, dt::f32, tag::ldigo);
  dnnl::memory wl_user(wl_user_md, engine, wl.data());
  dnnl::memory wi_user(wi_user_md, engine, wi.data());
  stage.weights_layer = dnnl::memory(pd.weights_layer_desc(), engine);
  stage.weights_iter = dnnl::memory(pd.weights_iter_desc(), engine);
  dnnl::reorder(wl_user, stage.weights_layer).execute(stream, wl_user, stage.weights_layer);
  dnnl::reorder(wi_user, stage.weights_iter).execute(stream, wi_user, stage.weights_iter);
  stream.wait();

  stage.src_layer = dnnl::memory(pd.src_layer_desc(), engine, DNNL_MEMORY_NONE);
  stage.src_iter = dnnl::memory(pd.src_iter_desc(), engine, DNNL_MEMORY_NONE);
  stage.dst_layer = dnnl::memory(pd.dst_layer_desc(), engine, DNNL_MEMORY_NONE);
  stage.dst_iter = dnnl::memory(pd.dst_iter_desc(), engine, DNNL_MEMORY_NONE);
  stage.scratchpad = dnnl::memory(pd.scratchpad_desc(), engine);
  stage.args = {{DNNL_ARG_SRC_LAYER, stage.src_layer},
                {DNNL_ARG_SRC_ITER, stage.src_iter},
                {DNNL_ARG_WEIGHTS_LAYER, stage.weights_layer},
                {DNNL_ARG_WEIGHTS_ITER, stage.weights_iter},
                {DNNL_ARG_BIAS, stage.bias},
                {DNNL_ARG_DST_LAYER, stage.dst_layer},
                {DNNL_ARG_DST_ITER, stage.dst_iter},
                {DNNL_ARG_SCRATCHPAD, stage.scratchpad}};
  if (options.training) {
    stage.workspace = dnnl::memory(pd.workspace_desc(), engine);
    stage.args.emplace(DNNL_ARG_WORKSPACE, stage.workspace);
  }
  stages.push_back(std::move(stage));
}

OnednnRnn::OnednnRnn() = default;
OnednnRnn::~OnednnRnn() = default;

void OnednnRnn::setup(const simdrnn_config& config, int64_t seq_len, int64_t batch,
                      const BaselineWeights& weights, int threads, BaselineDirection direction,
                      const OnednnOptions& options) {
  check_shapes(config, seq_len, batch, weights, threads, direction);
  require(config.cell == SIMDRNN_CELL_RNN, "Elman cells only (OnednnGatedRnn runs LSTM and GRU)");
  impl_.reset();
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->T = seq_len;
  impl->N = batch;
  impl->D = num_directions(direction);
  impl->H = config.hidden_size;
  impl->L = config.num_layers;
  impl->O = config.output_size;
  impl->threads = threads;
  const int64_t state_size = impl->L * impl->D * impl->N * impl->H;
  const int64_t layer_size = impl->T * impl->N * impl->D * impl->H;
  impl->zero_h0.assign(static_cast<size_t>(state_size), 0.0f);
  impl->h_n_scratch.assign(static_cast<size_t>(state_size), 0.0f);
  impl->y_scratch.assign(static_cast<size_t>(layer_size), 0.0f);
  if (impl->L > 1) {
    impl->between[0].assign(static_cast<size_t>(layer_size), 0.0f);
    if (impl->L > 2) impl->between[1].assign(static_cast<size_t>(layer_size), 0.0f);
  }
  if (impl->O > 0) {
    impl->w_hy = weights.w_hy;
    impl->b_y = weights.b_y;
  }

  // oneDNN sizes scratchpads for the thread count current at creation.
  omp_set_num_threads(threads);
  const bool single = impl->L == 1 || (direction != BaselineDirection::kBidirectionalConcat &&
                                       config.input_size == config.hidden_size && !options.force_per_layer);
  if (single) {
    impl->add_stage(0, impl->L, weights, direction, options);
  } else {
    for (int64_t l = 0; l < impl->L; ++l) impl->add_stage(l, 1, weights, direction, options);
  }
  impl_ = std::move(impl);
}

void OnednnRnn::run(const float* x, const float* h0, float* y, float* h_n, float* out) {
  require(impl_ != nullptr, "run() before setup()");
  Impl& m = *impl_;
  require(x != nullptr, "x is required");
  require((out != nullptr) == (m.O > 0), "out is required exactly when output_size > 0");
  omp_set_num_threads(m.threads);
  const float* h0_data = h0 != nullptr ? h0 : m.zero_h0.data();
  float* h_n_data = h_n != nullptr ? h_n : m.h_n_scratch.data();
  float* y_data = y != nullptr ? y : m.y_scratch.data();
  const int64_t state_per_layer = m.D * m.N * m.H;
  const size_t count = m.stages.size();
  for (size_t s = 0; s < count; ++s) {
    Impl::Stage& stage = m.stages[s];
    const float* src = s == 0 ? x : m.between[(s - 1) % 2].data();
    float* dst = s + 1 == count ? y_data : m.between[s % 2].data();
    stage.src_layer.set_data_handle(const_cast<float*>(src));
    stage.dst_layer.set_data_handle(dst);
    stage.src_iter.set_data_handle(const_cast<float*>(h0_data + stage.first_layer * state_per_layer));
    stage.dst_iter.set_data_handle(h_n_data + stage.first_layer * state_per_layer);
    stage.primitive.execute(m.stream, stage.args);
  }
  m.stream.wait();
  if (m.O > 0)
    output_layer(m.T * m.N, m.D * m.H, m.O, y_data, m.w_hy.data(), m.b_y.empty() ? nullptr : m.b_y.data(),
                 out);
}

bool OnednnRnn::single_primitive() const { return impl_ != nullptr && impl_->stages.size() == 1; }

std::string OnednnRnn::impl_info() const {
  std::string info;
  if (impl_ == nullptr) return info;
  for (const Impl::Stage& stage : impl_->stages) {
    if (!info.empty()) info += ",";
    info += stage.impl_info;
  }
  return info;
}

// ---- OnednnGatedRnn ----------------------------------------------------------

namespace {

// oneDNN's gate g is PyTorch's gate torch_gate[g]: LSTM i, f, c~, o = i, f, g, o; GRU u, r, o = z, r, n.
constexpr int kLstmTorchGate[4] = {0, 1, 2, 3};
constexpr int kGruTorchGate[3] = {1, 0, 2};

}  // namespace

// User-layout copies of layers [first_layer, first_layer + layers) of a gated model, in oneDNN's
// gate order: ldigo weights, ldgo bias (lbr_gru: 4 gates, b_hn apart) and peepholes (zeros for
// cells without when `peephole`; empty otherwise), ldio projection (empty without).
struct GatedUserWeights {
  std::vector<float> layer, iter, bias, peephole, projection;
};

GatedUserWeights gated_user_weights(const simdrnn_config& config, const BaselineWeights& weights,
                                    int64_t first_layer, int64_t layers, int64_t D, bool peephole) {
  const int64_t slc = layer_input(config, first_layer);
  const int64_t G = config_gates(config), H = config.hidden_size, H_out = config_hidden_out(config);
  const bool lstm = config.cell == SIMDRNN_CELL_LSTM;
  const bool lbr = config.cell == SIMDRNN_CELL_GRU && config.gru_linear_before_reset == 1;
  const int64_t bias_gates = lbr ? 4 : G;
  const int64_t P = config.proj_size;
  const int* torch_gate = lstm ? kLstmTorchGate : kGruTorchGate;
  GatedUserWeights user;
  std::vector<float>& wl = user.layer;
  std::vector<float>& wi = user.iter;
  std::vector<float>& bias = user.bias;
  std::vector<float>& peep = user.peephole;
  std::vector<float>& proj = user.projection;
  wl.resize(static_cast<size_t>(layers * D * slc * G * H));
  wi.resize(static_cast<size_t>(layers * D * H_out * G * H));
  bias.assign(static_cast<size_t>(layers * D * bias_gates * H), 0.0f);
  peep.assign(peephole ? static_cast<size_t>(layers * D * 3 * H) : 0u, 0.0f);
  proj.resize(static_cast<size_t>(layers * D * H * P));
  for (int64_t l = 0; l < layers; ++l) {
    for (int64_t d = 0; d < D; ++d) {
      const int64_t ld = l * D + d;
      const BaselineCell& cell = weights.cells[static_cast<size_t>((first_layer + l) * D + d)];
      auto b_at = [&](const std::vector<float>& b, int64_t row) {
        return b.empty() ? 0.0f : b[static_cast<size_t>(row)];
      };
      for (int64_t g = 0; g < G; ++g) {
        const int64_t tg = torch_gate[g];
        for (int64_t h = 0; h < H; ++h) {
          const int64_t row = tg * H + h;  // row of the PyTorch [G*H, in] matrices
          for (int64_t i = 0; i < slc; ++i)
            wl[static_cast<size_t>(((ld * slc + i) * G + g) * H + h)] =
                cell.w_ih[static_cast<size_t>(row * slc + i)];
          for (int64_t i = 0; i < H_out; ++i)
            wi[static_cast<size_t>(((ld * H_out + i) * G + g) * H + h)] =
                cell.w_hh[static_cast<size_t>(row * H_out + i)];
          // lbr_gru's o gate takes b_in alone; b_hn goes to the 4th gate u' below.
          const bool hidden_bias_apart = lbr && tg == 2;
          bias[static_cast<size_t>((ld * bias_gates + g) * H + h)] =
              b_at(cell.b_ih, row) + (hidden_bias_apart ? 0.0f : b_at(cell.b_hh, row));
        }
      }
      if (lbr)
        for (int64_t h = 0; h < H; ++h)
          bias[static_cast<size_t>((ld * bias_gates + 3) * H + h)] = b_at(cell.b_hh, 2 * H + h);
      if (peephole && !cell.peephole.empty())
        std::copy(cell.peephole.begin(), cell.peephole.end(), peep.begin() + ld * 3 * H);
      for (int64_t p = 0; p < P; ++p)
        for (int64_t h = 0; h < H; ++h)
          proj[static_cast<size_t>((ld * H + h) * P + p)] = cell.w_hr[static_cast<size_t>(p * H + h)];
    }
  }
  return user;
}

struct OnednnGatedRnn::Impl {
  // One primitive covering layers [first_layer, first_layer + layers).
  struct Stage {
    int64_t first_layer = 0;
    int64_t layers = 1;
    dnnl::primitive primitive;
    // User buffers, handles set per run.
    dnnl::memory src_layer, src_iter, src_iter_c, dst_layer, dst_iter, dst_iter_c;
    // Owned.
    dnnl::memory weights_layer, weights_iter, weights_peephole, weights_projection, bias, scratchpad,
        workspace;
    std::unordered_map<int, dnnl::memory> args;
    std::string impl_info;
  };

  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  simdrnn_config config{};
  int64_t T = 0, N = 0, D = 1, H = 0, H_out = 0, L = 0, O = 0;
  bool lstm = false, lbr = false, peephole = false;
  int threads = 1;
  std::vector<Stage> stages;
  std::vector<float> zero_h0, zero_c0, h_n_scratch, c_n_scratch, y_scratch, between[2];
  std::vector<float> w_hy, b_y;

  void add_stage(int64_t first_layer, int64_t layers, const BaselineWeights& weights,
                 BaselineDirection direction, const OnednnOptions& options);
};

void OnednnGatedRnn::Impl::add_stage(int64_t first_layer, int64_t layers, const BaselineWeights& weights,
                                     BaselineDirection direction, const OnednnOptions& options) {
  const int64_t slc = layer_input(config, first_layer);
  const int64_t G = config_gates(config);
  const int64_t bias_gates = lbr ? 4 : G;  // lbr_gru keeps b_hn apart as a 4th bias gate
  const int64_t P = config.proj_size;

  const dnnl::memory::desc src_layer_md({T, N, slc}, dt::f32, tag::tnc);
  const dnnl::memory::desc iter_md({layers, D, N, H_out}, dt::f32, tag::ldnc);
  const dnnl::memory::desc iter_c_md =
      lstm ? dnnl::memory::desc({layers, D, N, H}, dt::f32, tag::ldnc) : dnnl::memory::desc();
  const dnnl::memory::desc weights_layer_any({layers, D, slc, G, H}, dt::f32, tag::any);
  const dnnl::memory::desc weights_iter_any({layers, D, H_out, G, H}, dt::f32, tag::any);
  const dnnl::memory::desc peephole_md =
      peephole ? dnnl::memory::desc({layers, D, 3, H}, dt::f32, tag::ldgo) : dnnl::memory::desc();
  const dnnl::memory::desc projection_any =
      P > 0 ? dnnl::memory::desc({layers, D, H, P}, dt::f32, tag::any) : dnnl::memory::desc();
  const dnnl::memory::desc bias_md({layers, D, bias_gates, H}, dt::f32, tag::ldgo);
  const dnnl::memory::desc dst_layer_md({T, N, D * H_out}, dt::f32, tag::tnc);

  const dnnl::prop_kind prop =
      options.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const dnnl::rnn_direction dir = onednn_direction(direction);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

  Stage stage;
  stage.first_layer = first_layer;
  stage.layers = layers;
  dnnl::primitive_desc pd;
  if (lstm) {
    const dnnl::lstm_forward::desc desc(prop, dir, src_layer_md, iter_md, iter_c_md, weights_layer_any,
                                        weights_iter_any, peephole_md, projection_any, bias_md, dst_layer_md,
                                        iter_md, iter_c_md);
    const dnnl::lstm_forward::primitive_desc lstm_pd(desc, attr, engine);
    stage.primitive = dnnl::lstm_forward(lstm_pd);
    pd = lstm_pd;
  } else if (lbr) {
    const dnnl::lbr_gru_forward::desc desc(prop, dir, src_layer_md, iter_md, weights_layer_any,
                                           weights_iter_any, bias_md, dst_layer_md, iter_md);
    const dnnl::lbr_gru_forward::primitive_desc gru_pd(desc, attr, engine);
    stage.primitive = dnnl::lbr_gru_forward(gru_pd);
    pd = gru_pd;
  } else {
    const dnnl::gru_forward::desc desc(prop, dir, src_layer_md, iter_md, weights_layer_any, weights_iter_any,
                                       bias_md, dst_layer_md, iter_md);
    const dnnl::gru_forward::primitive_desc gru_pd(desc, attr, engine);
    stage.primitive = dnnl::gru_forward(gru_pd);
    pd = gru_pd;
  }
  stage.impl_info = pd.impl_info_str();
  auto md = [&](int arg) { return pd.query_md(dnnl::query::exec_arg_md, arg); };

  GatedUserWeights user = gated_user_weights(config, weights, first_layer, layers, D, peephole);
  std::vector<float>& wl = user.layer;
  std::vector<float>& wi = user.iter;
  std::vector<float>& bias = user.bias;
  std::vector<float>& peep = user.peephole;
  std::vector<float>& proj = user.projection;
  // Each user buffer reordered into the primitive's own format.
  auto owned = [&](int arg, const dnnl::memory::desc& user_md, std::vector<float>& data) {
    dnnl::memory user(user_md, engine, data.data());
    dnnl::memory mine(md(arg), engine);
    dnnl::reorder(user, mine).execute(stream, user, mine);
    return mine;
  };
  stage.weights_layer =
      owned(DNNL_ARG_WEIGHTS_LAYER, dnnl::memory::desc({layers, D, slc, G, H}, dt::f32, tag::ldigo), wl);
  stage.weights_iter =
      owned(DNNL_ARG_WEIGHTS_ITER, dnnl::memory::desc({layers, D, H_out, G, H}, dt::f32, tag::ldigo), wi);
  stage.bias = owned(DNNL_ARG_BIAS, bias_md, bias);
  if (peephole) stage.weights_peephole = owned(DNNL_ARG_WEIGHTS_PEEPHOLE, peephole_md, peep);
  if (P > 0)
    stage.weights_projection =
        owned(DNNL_ARG_WEIGHTS_PROJECTION, dnnl::memory::desc({layers, D, H, P}, dt::f32, tag::ldio), proj);
  stream.wait();

  stage.src_layer = dnnl::memory(md(DNNL_ARG_SRC_LAYER), engine, DNNL_MEMORY_NONE);
  stage.src_iter = dnnl::memory(md(DNNL_ARG_SRC_ITER), engine, DNNL_MEMORY_NONE);
  stage.dst_layer = dnnl::memory(md(DNNL_ARG_DST_LAYER), engine, DNNL_MEMORY_NONE);
  stage.dst_iter = dnnl::memory(md(DNNL_ARG_DST_ITER), engine, DNNL_MEMORY_NONE);
  stage.scratchpad = dnnl::memory(pd.scratchpad_desc(), engine);
  stage.args = {{DNNL_ARG_SRC_LAYER, stage.src_layer},
                {DNNL_ARG_SRC_ITER, stage.src_iter},
                {DNNL_ARG_WEIGHTS_LAYER, stage.weights_layer},
                {DNNL_ARG_WEIGHTS_ITER, stage.weights_iter},
                {DNNL_ARG_BIAS, stage.bias},
                {DNNL_ARG_DST_LAYER, stage.dst_layer},
                {DNNL_ARG_DST_ITER, stage.dst_iter},
                {DNNL_ARG_SCRATCHPAD, stage.scratchpad}};
  if (lstm) {
    stage.src_iter_c = dnnl::memory(md(DNNL_ARG_SRC_ITER_C), engine, DNNL_MEMORY_NONE);
    stage.dst_iter_c = dnnl::memory(md(DNNL_ARG_DST_ITER_C), engine, DNNL_MEMORY_NONE);
    stage.args.emplace(DNNL_ARG_SRC_ITER_C, stage.src_iter_c);
    stage.args.emplace(DNNL_ARG_DST_ITER_C, stage.dst_iter_c);
  }
  if (peephole) stage.args.emplace(DNNL_ARG_WEIGHTS_PEEPHOLE, stage.weights_peephole);
  if (P > 0) stage.args.emplace(DNNL_ARG_WEIGHTS_PROJECTION, stage.weights_projection);
  if (options.training) {
    stage.workspace = dnnl::memory(md(DNNL_ARG_WORKSPACE), engine);
    stage.args.emplace(DNNL_ARG_WORKSPACE, stage.workspace);
  }
  stages.push_back(std::move(stage));
}

OnednnGatedRnn::OnednnGatedRnn() = default;
OnednnGatedRnn::~OnednnGatedRnn() = default;

void OnednnGatedRnn::setup(const simdrnn_config& config, int64_t seq_len, int64_t batch,
                           const BaselineWeights& weights, int threads, BaselineDirection direction,
                           const OnednnOptions& options) {
  check_shapes(config, seq_len, batch, weights, threads, direction);
  require(config.cell == SIMDRNN_CELL_LSTM || config.cell == SIMDRNN_CELL_GRU,
          "OnednnGatedRnn runs LSTM and GRU cells only (OnednnRnn runs Elman cells)");
  require(config.gru_linear_before_reset == 0 || config.gru_linear_before_reset == 1,
          "gru_linear_before_reset must be 0 or 1");
  impl_.reset();
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->T = seq_len;
  impl->N = batch;
  impl->D = num_directions(direction);
  impl->H = config.hidden_size;
  impl->H_out = config_hidden_out(config);
  impl->L = config.num_layers;
  impl->O = config.output_size;
  impl->lstm = config.cell == SIMDRNN_CELL_LSTM;
  impl->lbr = config.cell == SIMDRNN_CELL_GRU && config.gru_linear_before_reset == 1;
  for (const BaselineCell& cell : weights.cells) impl->peephole = impl->peephole || !cell.peephole.empty();
  impl->threads = threads;
  const int64_t state_size = impl->L * impl->D * impl->N * impl->H_out;
  const int64_t cell_state_size = impl->lstm ? impl->L * impl->D * impl->N * impl->H : 0;
  const int64_t layer_size = impl->T * impl->N * impl->D * impl->H_out;
  impl->zero_h0.assign(static_cast<size_t>(state_size), 0.0f);
  impl->h_n_scratch.assign(static_cast<size_t>(state_size), 0.0f);
  impl->zero_c0.assign(static_cast<size_t>(cell_state_size), 0.0f);
  impl->c_n_scratch.assign(static_cast<size_t>(cell_state_size), 0.0f);
  impl->y_scratch.assign(static_cast<size_t>(layer_size), 0.0f);
  if (impl->L > 1) {
    impl->between[0].assign(static_cast<size_t>(layer_size), 0.0f);
    if (impl->L > 2) impl->between[1].assign(static_cast<size_t>(layer_size), 0.0f);
  }
  if (impl->O > 0) {
    impl->w_hy = weights.w_hy;
    impl->b_y = weights.b_y;
  }

  omp_set_num_threads(threads);  // oneDNN sizes scratchpads for the thread count at creation
  // oneDNN feeds layer l+1 with layer l's output only when all layers have the same input width
  // (I == H_out) and, for bidirectional stacks, per direction: otherwise chain one per layer.
  const bool single = impl->L == 1 || (direction != BaselineDirection::kBidirectionalConcat &&
                                       config.input_size == impl->H_out && !options.force_per_layer);
  if (single) {
    impl->add_stage(0, impl->L, weights, direction, options);
  } else {
    for (int64_t l = 0; l < impl->L; ++l) impl->add_stage(l, 1, weights, direction, options);
  }
  impl_ = std::move(impl);
}

void OnednnGatedRnn::run(const float* x, const float* h0, const float* c0, float* y, float* h_n, float* c_n,
                         float* out) {
  require(impl_ != nullptr, "run() before setup()");
  Impl& m = *impl_;
  require(x != nullptr, "x is required");
  require((out != nullptr) == (m.O > 0), "out is required exactly when output_size > 0");
  require(m.lstm || (c0 == nullptr && c_n == nullptr), "c0 and c_n are LSTM only");
  omp_set_num_threads(m.threads);
  const float* h0_data = h0 != nullptr ? h0 : m.zero_h0.data();
  const float* c0_data = c0 != nullptr ? c0 : m.zero_c0.data();
  float* h_n_data = h_n != nullptr ? h_n : m.h_n_scratch.data();
  float* c_n_data = c_n != nullptr ? c_n : m.c_n_scratch.data();
  float* y_data = y != nullptr ? y : m.y_scratch.data();
  const int64_t state_per_layer = m.D * m.N * m.H_out;
  const int64_t cell_state_per_layer = m.D * m.N * m.H;
  const size_t count = m.stages.size();
  for (size_t s = 0; s < count; ++s) {
    Impl::Stage& stage = m.stages[s];
    const float* src = s == 0 ? x : m.between[(s - 1) % 2].data();
    float* dst = s + 1 == count ? y_data : m.between[s % 2].data();
    stage.src_layer.set_data_handle(const_cast<float*>(src));
    stage.dst_layer.set_data_handle(dst);
    stage.src_iter.set_data_handle(const_cast<float*>(h0_data + stage.first_layer * state_per_layer));
    stage.dst_iter.set_data_handle(h_n_data + stage.first_layer * state_per_layer);
    if (m.lstm) {
      stage.src_iter_c.set_data_handle(
          const_cast<float*>(c0_data + stage.first_layer * cell_state_per_layer));
      stage.dst_iter_c.set_data_handle(c_n_data + stage.first_layer * cell_state_per_layer);
    }
    stage.primitive.execute(m.stream, stage.args);
  }
  m.stream.wait();
  if (m.O > 0)
    output_layer(m.T * m.N, m.D * m.H_out, m.O, y_data, m.w_hy.data(), m.b_y.empty() ? nullptr : m.b_y.data(),
                 out);
}

bool OnednnGatedRnn::single_primitive() const { return impl_ != nullptr && impl_->stages.size() == 1; }

std::string OnednnGatedRnn::impl_info() const {
  std::string info;
  if (impl_ == nullptr) return info;
  for (const Impl::Stage& stage : impl_->stages) {
    if (!info.empty()) info += ",";
    info += stage.impl_info;
  }
  return info;
}

// ---- GemmLoopRnn -------------------------------------------------------------

struct GemmLoopRnn::Impl {
  simdrnn_config config{};
  BaselineDirection direction = BaselineDirection::kLeft2Right;
  int64_t T = 0, N = 0, D = 1, H = 0, L = 0, O = 0;
  int threads = 1;
  std::vector<BaselineCell> cells;       // PyTorch layout, as given
  std::vector<std::vector<float>> bias;  // b_ih + b_hh per cell
  std::vector<float> zero_h0, y_scratch, between[2];
  std::vector<float> w_hy, b_y;
};

GemmLoopRnn::GemmLoopRnn() = default;
GemmLoopRnn::~GemmLoopRnn() = default;

void GemmLoopRnn::setup(const simdrnn_config& config, int64_t seq_len, int64_t batch,
                        const BaselineWeights& weights, int threads, BaselineDirection direction) {
  check_shapes(config, seq_len, batch, weights, threads, direction);
  require(config.cell == SIMDRNN_CELL_RNN, "Elman cells only (OnednnGatedRnn runs LSTM and GRU)");
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->direction = direction;
  impl->T = seq_len;
  impl->N = batch;
  impl->D = num_directions(direction);
  impl->H = config.hidden_size;
  impl->L = config.num_layers;
  impl->O = config.output_size;
  impl->threads = threads;
  impl->cells = weights.cells;
  for (const BaselineCell& cell : weights.cells) impl->bias.push_back(summed_bias(cell, impl->H));
  const int64_t layer_size = impl->T * impl->N * impl->D * impl->H;
  impl->zero_h0.assign(static_cast<size_t>(impl->L * impl->D * impl->N * impl->H), 0.0f);
  impl->y_scratch.assign(static_cast<size_t>(layer_size), 0.0f);
  if (impl->L > 1) {
    impl->between[0].assign(static_cast<size_t>(layer_size), 0.0f);
    if (impl->L > 2) impl->between[1].assign(static_cast<size_t>(layer_size), 0.0f);
  }
  if (impl->O > 0) {
    impl->w_hy = weights.w_hy;
    impl->b_y = weights.b_y;
  }
  impl_ = std::move(impl);
}

void GemmLoopRnn::run(const float* x, const float* h0, float* y, float* h_n, float* out) {
  require(impl_ != nullptr, "run() before setup()");
  Impl& m = *impl_;
  require(x != nullptr, "x is required");
  require((out != nullptr) == (m.O > 0), "out is required exactly when output_size > 0");
  omp_set_num_threads(m.threads);
  const int64_t T = m.T, N = m.N, D = m.D, H = m.H;
  const int64_t dh = D * H;
  const float* h0_data = h0 != nullptr ? h0 : m.zero_h0.data();
  float* y_data = y != nullptr ? y : m.y_scratch.data();
  const simdrnn_activation activation = m.config.activation;

  for (int64_t l = 0; l < m.L; ++l) {
    const float* src = l == 0 ? x : m.between[(l - 1) % 2].data();
    float* dst = l + 1 == m.L ? y_data : m.between[l % 2].data();
    const int64_t in = layer_input(m.config, l);
    for (int64_t d = 0; d < D; ++d) {
      const size_t c = static_cast<size_t>(l * D + d);
      const BaselineCell& cell = m.cells[c];
      const float* bias = m.bias[c].data();
      const bool reverse = m.direction == BaselineDirection::kRight2Left || d == 1;
      float* dst_d = dst + d * H;
      // Input projection for all T*N rows, straight into this direction's columns.
      sgemm('N', 'T', T * N, H, in, 1.0f, src, in, cell.w_ih.data(), in, 0.0f, dst_d, dh);
      const float* prev = h0_data + static_cast<int64_t>(c) * N * H;
      int64_t prev_ld = H;
      for (int64_t s = 0; s < T; ++s) {
        const int64_t t = reverse ? T - 1 - s : s;
        float* cur = dst_d + t * N * dh;
        sgemm('N', 'T', N, H, H, 1.0f, prev, prev_ld, cell.w_hh.data(), H, 1.0f, cur, dh);
        for (int64_t n = 0; n < N; ++n) {
          float* row = cur + n * dh;
          switch (activation) {
            case SIMDRNN_TANH:
              for (int64_t j = 0; j < H; ++j) row[j] = std::tanh(row[j] + bias[j]);
              break;
            case SIMDRNN_RELU:
              for (int64_t j = 0; j < H; ++j) row[j] = std::max(row[j] + bias[j], 0.0f);
              break;
            case SIMDRNN_SIGMOID:
              for (int64_t j = 0; j < H; ++j) row[j] = 1.0f / (1.0f + std::exp(-(row[j] + bias[j])));
              break;
          }
        }
        prev = cur;
        prev_ld = dh;
      }
      if (h_n != nullptr) {
        for (int64_t n = 0; n < N; ++n)
          std::memcpy(h_n + (static_cast<int64_t>(c) * N + n) * H, prev + n * dh,
                      static_cast<size_t>(H) * sizeof(float));
      }
    }
  }
  if (m.O > 0)
    output_layer(T * N, dh, m.O, y_data, m.w_hy.data(), m.b_y.empty() ? nullptr : m.b_y.data(), out);
}

}  // namespace simdrnn_test

// ---- OnednnRnnTraining ---------------------------------------------------------

namespace simdrnn_test {

struct OnednnRnnTraining::Impl {
  // One forward_training / backward primitive pair covering [first_layer, first_layer + layers).
  struct Stage {
    int64_t first_layer = 0, layers = 1, slc = 0;
    dnnl::vanilla_rnn_forward fwd;
    dnnl::vanilla_rnn_backward bwd;
    // src_layer and diff_dst_layer are handles onto other buffers (set per call); the rest is owned.
    dnnl::memory src_layer, src_iter, dst_layer, dst_iter, bias, workspace;
    dnnl::memory fwd_weights_layer, fwd_weights_iter, fwd_scratchpad;
    dnnl::memory bwd_weights_layer, bwd_weights_iter, bwd_scratchpad;
    dnnl::memory diff_src_layer, diff_src_iter, diff_dst_layer, diff_dst_iter;
    dnnl::memory diff_weights_layer, diff_weights_iter, diff_bias;  // the backward pd's formats
    dnnl::memory diff_wl_user, diff_wi_user;                        // ldigo
    dnnl::reorder diff_wl_reorder, diff_wi_reorder;
    std::unordered_map<int, dnnl::memory> fwd_args, bwd_args;
    std::string impl_info;
  };

  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  simdrnn_config config{};
  BaselineDirection direction = BaselineDirection::kLeft2Right;
  int64_t T = 0, N = 0, D = 1, H = 0, L = 0, I = 0;
  int threads = 1;
  std::vector<Stage> stages;
  std::vector<float> x_copy;
  bool forwarded = false;

  void add_stage(int64_t first_layer, int64_t layers, const BaselineWeights& weights);
};

namespace {

void zero_memory(const dnnl::memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

}  // namespace

void OnednnRnnTraining::Impl::add_stage(int64_t first_layer, int64_t layers, const BaselineWeights& weights) {
  const int64_t slc = layer_input(config, first_layer);
  const int64_t dlc = D * H;
  const dnnl::memory::desc src_layer_md({T, N, slc}, dt::f32, tag::tnc);
  const dnnl::memory::desc iter_md({layers, D, N, H}, dt::f32, tag::ldnc);
  const dnnl::memory::desc wl_any({layers, D, slc, 1, H}, dt::f32, tag::any);
  const dnnl::memory::desc wi_any({layers, D, H, 1, H}, dt::f32, tag::any);
  const dnnl::memory::desc bias_md({layers, D, 1, H}, dt::f32, tag::ldgo);
  const dnnl::memory::desc dst_layer_md({T, N, dlc}, dt::f32, tag::tnc);
  const dnnl::algorithm activation = onednn_activation(config.activation);
  const dnnl::rnn_direction dir = onednn_direction(direction);

  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::vanilla_rnn_forward::desc fwd_desc(dnnl::prop_kind::forward_training, activation, dir,
                                                 src_layer_md, iter_md, wl_any, wi_any, bias_md, dst_layer_md,
                                                 iter_md);
  const dnnl::vanilla_rnn_forward::primitive_desc fwd_pd(fwd_desc, attr, engine);
  const dnnl::vanilla_rnn_backward::desc bwd_desc(
      dnnl::prop_kind::backward, activation, dir, src_layer_md, iter_md, wl_any, wi_any, bias_md,
      dst_layer_md, iter_md, src_layer_md, iter_md, wl_any, wi_any, bias_md, dst_layer_md, iter_md);
  const dnnl::vanilla_rnn_backward::primitive_desc bwd_pd(bwd_desc, attr, engine, fwd_pd);

  Stage s;
  s.first_layer = first_layer;
  s.layers = layers;
  s.slc = slc;
  s.fwd = dnnl::vanilla_rnn_forward(fwd_pd);
  s.bwd = dnnl::vanilla_rnn_backward(bwd_pd);
  s.impl_info = std::string("fwd:") + fwd_pd.impl_info_str() + " bwd:" + bwd_pd.impl_info_str();

  // Our [H, in] rows become ldigo [l][d][in][0][H] (a transpose), then each pd's own format.
  std::vector<float> wl(static_cast<size_t>(layers * D * slc * H));
  std::vector<float> wi(static_cast<size_t>(layers * D * H * H));
  s.bias = dnnl::memory(fwd_pd.bias_desc(), engine);
  float* bias = static_cast<float*>(s.bias.get_data_handle());
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const BaselineCell& cell = weights.cells[static_cast<size_t>((first_layer + l) * D + d)];
      float* wl_ld = wl.data() + (l * D + d) * slc * H;
      float* wi_ld = wi.data() + (l * D + d) * H * H;
      for (int64_t o = 0; o < H; ++o) {
        for (int64_t i = 0; i < slc; ++i) wl_ld[i * H + o] = cell.w_ih[static_cast<size_t>(o * slc + i)];
        for (int64_t i = 0; i < H; ++i) wi_ld[i * H + o] = cell.w_hh[static_cast<size_t>(o * H + i)];
      }
      const std::vector<float> b = summed_bias(cell, H);
      std::copy(b.begin(), b.end(), bias + (l * D + d) * H);
    }
  const dnnl::memory::desc wl_user_md({layers, D, slc, 1, H}, dt::f32, tag::ldigo);
  const dnnl::memory::desc wi_user_md({layers, D, H, 1, H}, dt::f32, tag::ldigo);
  dnnl::memory wl_user(wl_user_md, engine, wl.data());
  dnnl::memory wi_user(wi_user_md, engine, wi.data());
  s.fwd_weights_layer = dnnl::memory(fwd_pd.weights_layer_desc(), engine);
  s.fwd_weights_iter = dnnl::memory(fwd_pd.weights_iter_desc(), engine);
  s.bwd_weights_layer = dnnl::memory(bwd_pd.weights_layer_desc(), engine);
  s.bwd_weights_iter = dnnl::memory(bwd_pd.weights_iter_desc(), engine);
  dnnl::reorder(wl_user, s.fwd_weights_layer).execute(stream, wl_user, s.fwd_weights_layer);
  dnnl::reorder(wi_user, s.fwd_weights_iter).execute(stream, wi_user, s.fwd_weights_iter);
  dnnl::reorder(wl_user, s.bwd_weights_layer).execute(stream, wl_user, s.bwd_weights_layer);
  dnnl::reorder(wi_user, s.bwd_weights_iter).execute(stream, wi_user, s.bwd_weights_iter);
  stream.wait();

  s.src_layer = dnnl::memory(fwd_pd.src_layer_desc(), engine, DNNL_MEMORY_NONE);
  s.src_iter = dnnl::memory(fwd_pd.src_iter_desc(), engine);
  s.dst_layer = dnnl::memory(fwd_pd.dst_layer_desc(), engine);
  s.dst_iter = dnnl::memory(fwd_pd.dst_iter_desc(), engine);
  s.workspace = dnnl::memory(fwd_pd.workspace_desc(), engine);
  s.fwd_scratchpad = dnnl::memory(fwd_pd.scratchpad_desc(), engine);
  s.bwd_scratchpad = dnnl::memory(bwd_pd.scratchpad_desc(), engine);
  s.diff_src_layer = dnnl::memory(bwd_pd.diff_src_layer_desc(), engine);
  s.diff_src_iter = dnnl::memory(bwd_pd.diff_src_iter_desc(), engine);
  s.diff_dst_layer = dnnl::memory(bwd_pd.diff_dst_layer_desc(), engine, DNNL_MEMORY_NONE);
  s.diff_dst_iter = dnnl::memory(bwd_pd.diff_dst_iter_desc(), engine);
  s.diff_weights_layer = dnnl::memory(bwd_pd.diff_weights_layer_desc(), engine);
  s.diff_weights_iter = dnnl::memory(bwd_pd.diff_weights_iter_desc(), engine);
  s.diff_bias = dnnl::memory(bwd_pd.diff_bias_desc(), engine);
  s.diff_wl_user = dnnl::memory(wl_user_md, engine);
  s.diff_wi_user = dnnl::memory(wi_user_md, engine);
  s.diff_wl_reorder = dnnl::reorder(s.diff_weights_layer, s.diff_wl_user);
  s.diff_wi_reorder = dnnl::reorder(s.diff_weights_iter, s.diff_wi_user);

  s.fwd_args = {{DNNL_ARG_SRC_LAYER, s.src_layer},
                {DNNL_ARG_SRC_ITER, s.src_iter},
                {DNNL_ARG_WEIGHTS_LAYER, s.fwd_weights_layer},
                {DNNL_ARG_WEIGHTS_ITER, s.fwd_weights_iter},
                {DNNL_ARG_BIAS, s.bias},
                {DNNL_ARG_DST_LAYER, s.dst_layer},
                {DNNL_ARG_DST_ITER, s.dst_iter},
                {DNNL_ARG_WORKSPACE, s.workspace},
                {DNNL_ARG_SCRATCHPAD, s.fwd_scratchpad}};
  s.bwd_args = {{DNNL_ARG_SRC_LAYER, s.src_layer},
                {DNNL_ARG_SRC_ITER, s.src_iter},
                {DNNL_ARG_WEIGHTS_LAYER, s.bwd_weights_layer},
                {DNNL_ARG_WEIGHTS_ITER, s.bwd_weights_iter},
                {DNNL_ARG_BIAS, s.bias},
                {DNNL_ARG_DST_LAYER, s.dst_layer},
                {DNNL_ARG_DST_ITER, s.dst_iter},
                {DNNL_ARG_WORKSPACE, s.workspace},
                {DNNL_ARG_DIFF_SRC_LAYER, s.diff_src_layer},
                {DNNL_ARG_DIFF_SRC_ITER, s.diff_src_iter},
                {DNNL_ARG_DIFF_WEIGHTS_LAYER, s.diff_weights_layer},
                {DNNL_ARG_DIFF_WEIGHTS_ITER, s.diff_weights_iter},
                {DNNL_ARG_DIFF_BIAS, s.diff_bias},
                {DNNL_ARG_DIFF_DST_LAYER, s.diff_dst_layer},
                {DNNL_ARG_DIFF_DST_ITER, s.diff_dst_iter},
                {DNNL_ARG_SCRATCHPAD, s.bwd_scratchpad}};
  stages.push_back(std::move(s));
}

OnednnRnnTraining::OnednnRnnTraining() = default;
OnednnRnnTraining::~OnednnRnnTraining() = default;

void OnednnRnnTraining::setup(const simdrnn_config& config, int64_t seq_len, int64_t batch,
                              const BaselineWeights& weights, int threads, BaselineDirection direction,
                              bool force_per_layer) {
  check_shapes(config, seq_len, batch, weights, threads, direction);
  require(config.cell == SIMDRNN_CELL_RNN, "Elman cells only (OnednnGatedRnn runs LSTM and GRU)");
  require(config.output_size == 0, "OnednnRnnTraining has no output layer (output_size must be 0)");
  impl_.reset();
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->direction = direction;
  impl->T = seq_len;
  impl->N = batch;
  impl->D = num_directions(direction);
  impl->H = config.hidden_size;
  impl->L = config.num_layers;
  impl->I = config.input_size;
  impl->threads = threads;
  impl->x_copy.assign(static_cast<size_t>(seq_len * batch * config.input_size), 0.0f);
  omp_set_num_threads(threads);  // oneDNN sizes scratchpads for the thread count at creation
  const bool single = impl->L == 1 || (direction != BaselineDirection::kBidirectionalConcat &&
                                       config.input_size == config.hidden_size && !force_per_layer);
  if (single) {
    impl->add_stage(0, impl->L, weights);
  } else {
    for (int64_t l = 0; l < impl->L; ++l) impl->add_stage(l, 1, weights);
  }
  // Each stage reads the owned x copy or the output of the stage below: fixed handles.
  impl->stages[0].src_layer.set_data_handle(impl->x_copy.data());
  for (size_t s = 1; s < impl->stages.size(); ++s)
    impl->stages[s].src_layer.set_data_handle(impl->stages[s - 1].dst_layer.get_data_handle());
  impl_ = std::move(impl);
}

void OnednnRnnTraining::forward(const float* x, const float* h0, float* y, float* h_n) {
  require(impl_ != nullptr, "forward() before setup()");
  require(x != nullptr, "x is required");
  Impl& m = *impl_;
  omp_set_num_threads(m.threads);
  std::copy(x, x + m.x_copy.size(), m.x_copy.begin());
  const int64_t per_layer = m.D * m.N * m.H;
  for (Impl::Stage& s : m.stages) {
    float* src_iter = static_cast<float*>(s.src_iter.get_data_handle());
    if (h0 != nullptr)
      std::copy(h0 + s.first_layer * per_layer, h0 + (s.first_layer + s.layers) * per_layer, src_iter);
    else
      std::fill(src_iter, src_iter + s.layers * per_layer, 0.0f);
    s.fwd.execute(m.stream, s.fwd_args);
  }
  m.stream.wait();
  m.forwarded = true;
  if (y != nullptr) {
    const float* top = static_cast<const float*>(m.stages.back().dst_layer.get_data_handle());
    std::copy(top, top + m.T * m.N * m.D * m.H, y);
  }
  if (h_n != nullptr)
    for (const Impl::Stage& s : m.stages) {
      const float* it = static_cast<const float*>(s.dst_iter.get_data_handle());
      std::copy(it, it + s.layers * per_layer, h_n + s.first_layer * per_layer);
    }
}

void OnednnRnnTraining::backward(const float* diff_y, const float* diff_h_n, float* diff_x, float* diff_h0,
                                 std::vector<BaselineCellGrads>* grads) {
  require(impl_ != nullptr && impl_->forwarded, "backward() before forward()");
  require(diff_y != nullptr, "diff_y is required");
  Impl& m = *impl_;
  omp_set_num_threads(m.threads);
  const int64_t per_layer = m.D * m.N * m.H;
  for (size_t k = m.stages.size(); k-- > 0;) {
    Impl::Stage& s = m.stages[k];
    s.diff_dst_layer.set_data_handle(k + 1 == m.stages.size()
                                         ? const_cast<float*>(diff_y)
                                         : m.stages[k + 1].diff_src_layer.get_data_handle());
    float* ddi = static_cast<float*>(s.diff_dst_iter.get_data_handle());
    if (diff_h_n != nullptr)
      std::copy(diff_h_n + s.first_layer * per_layer, diff_h_n + (s.first_layer + s.layers) * per_layer, ddi);
    else
      std::fill(ddi, ddi + s.layers * per_layer, 0.0f);
    // Whether oneDNN overwrites or accumulates the weight gradients, start them from zero.
    zero_memory(s.diff_weights_layer);
    zero_memory(s.diff_weights_iter);
    zero_memory(s.diff_bias);
    s.bwd.execute(m.stream, s.bwd_args);
    s.diff_wl_reorder.execute(m.stream, s.diff_weights_layer, s.diff_wl_user);
    s.diff_wi_reorder.execute(m.stream, s.diff_weights_iter, s.diff_wi_user);
  }
  m.stream.wait();
  if (diff_x != nullptr) {
    const float* d = static_cast<const float*>(m.stages.front().diff_src_layer.get_data_handle());
    std::copy(d, d + m.T * m.N * m.I, diff_x);
  }
  if (diff_h0 != nullptr)
    for (const Impl::Stage& s : m.stages) {
      const float* d = static_cast<const float*>(s.diff_src_iter.get_data_handle());
      std::copy(d, d + s.layers * per_layer, diff_h0 + s.first_layer * per_layer);
    }
  if (grads != nullptr) {
    grads->resize(static_cast<size_t>(m.L * m.D));
    for (const Impl::Stage& s : m.stages) {
      const float* wl = static_cast<const float*>(s.diff_wl_user.get_data_handle());
      const float* wi = static_cast<const float*>(s.diff_wi_user.get_data_handle());
      const float* db = static_cast<const float*>(s.diff_bias.get_data_handle());
      for (int64_t l = 0; l < s.layers; ++l)
        for (int64_t d = 0; d < m.D; ++d) {
          BaselineCellGrads& g = (*grads)[static_cast<size_t>((s.first_layer + l) * m.D + d)];
          g.w_ih.resize(static_cast<size_t>(m.H * s.slc));
          g.w_hh.resize(static_cast<size_t>(m.H * m.H));
          const float* wl_ld = wl + (l * m.D + d) * s.slc * m.H;
          const float* wi_ld = wi + (l * m.D + d) * m.H * m.H;
          for (int64_t o = 0; o < m.H; ++o) {
            for (int64_t i = 0; i < s.slc; ++i)
              g.w_ih[static_cast<size_t>(o * s.slc + i)] = wl_ld[i * m.H + o];
            for (int64_t i = 0; i < m.H; ++i) g.w_hh[static_cast<size_t>(o * m.H + i)] = wi_ld[i * m.H + o];
          }
          g.bias.assign(db + (l * m.D + d) * m.H, db + (l * m.D + d + 1) * m.H);
        }
    }
  }
}

bool OnednnRnnTraining::single_primitive() const { return impl_ != nullptr && impl_->stages.size() == 1; }

std::string OnednnRnnTraining::impl_info() const {
  std::string info;
  if (impl_ == nullptr) return info;
  for (const Impl::Stage& s : impl_->stages) {
    if (!info.empty()) info += ",";
    info += s.impl_info;
  }
  return info;
}

}  // namespace simdrnn_test

// ---- OnednnGatedRnnTraining ----------------------------------------------------

namespace simdrnn_test {

struct OnednnGatedRnnTraining::Impl {
  // One forward_training / backward primitive pair covering [first_layer, first_layer + layers).
  struct Stage {
    int64_t first_layer = 0, layers = 1, slc = 0;
    dnnl::primitive fwd, bwd;
    // src_layer and diff_dst_layer are handles onto other buffers (set in setup() and per call);
    // everything else is owned.
    dnnl::memory src_layer, src_iter, src_iter_c, dst_layer, dst_iter, dst_iter_c, workspace;
    dnnl::memory diff_src_layer, diff_src_iter, diff_src_iter_c, diff_dst_layer, diff_dst_iter,
        diff_dst_iter_c;
    dnnl::memory fwd_scratchpad, bwd_scratchpad;
    // Diff weights in the backward pd's formats, their user-layout (ldigo / ldgo / ldio) copies and
    // the reorders between them: layer, iter, bias, peephole, projection (the last two when present).
    std::vector<dnnl::memory> diff_weights, diff_weights_user;
    std::vector<dnnl::reorder> diff_reorders;
    std::unordered_map<int, dnnl::memory> fwd_args, bwd_args;
    std::string impl_info;
  };

  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  simdrnn_config config{};
  BaselineDirection direction = BaselineDirection::kLeft2Right;
  int64_t T = 0, N = 0, D = 1, H = 0, H_out = 0, L = 0, I = 0, G = 1, P = 0;
  bool lstm = false, lbr = false, peephole = false;
  int threads = 1;
  std::vector<Stage> stages;
  std::vector<float> x_copy;
  bool forwarded = false;

  void add_stage(int64_t first_layer, int64_t layers, const BaselineWeights& weights);
};

void OnednnGatedRnnTraining::Impl::add_stage(int64_t first_layer, int64_t layers,
                                             const BaselineWeights& weights) {
  const int64_t slc = layer_input(config, first_layer);
  const int64_t bias_gates = lbr ? 4 : G;
  const dnnl::memory::desc src_layer_md({T, N, slc}, dt::f32, tag::tnc);
  const dnnl::memory::desc iter_md({layers, D, N, H_out}, dt::f32, tag::ldnc);
  const dnnl::memory::desc iter_c_md =
      lstm ? dnnl::memory::desc({layers, D, N, H}, dt::f32, tag::ldnc) : dnnl::memory::desc();
  const dnnl::memory::desc wl_any({layers, D, slc, G, H}, dt::f32, tag::any);
  const dnnl::memory::desc wi_any({layers, D, H_out, G, H}, dt::f32, tag::any);
  const dnnl::memory::desc peephole_md =
      peephole ? dnnl::memory::desc({layers, D, 3, H}, dt::f32, tag::ldgo) : dnnl::memory::desc();
  const dnnl::memory::desc projection_any =
      P > 0 ? dnnl::memory::desc({layers, D, H, P}, dt::f32, tag::any) : dnnl::memory::desc();
  const dnnl::memory::desc bias_md({layers, D, bias_gates, H}, dt::f32, tag::ldgo);
  const dnnl::memory::desc dst_layer_md({T, N, D * H_out}, dt::f32, tag::tnc);
  const dnnl::rnn_direction dir = onednn_direction(direction);
  const dnnl::prop_kind fwd_prop = dnnl::prop_kind::forward_training, bwd_prop = dnnl::prop_kind::backward;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

  Stage s;
  s.first_layer = first_layer;
  s.layers = layers;
  s.slc = slc;
  dnnl::primitive_desc fwd_pd, bwd_pd;
  if (lstm) {
    const dnnl::lstm_forward::desc fd(fwd_prop, dir, src_layer_md, iter_md, iter_c_md, wl_any, wi_any,
                                      peephole_md, projection_any, bias_md, dst_layer_md, iter_md, iter_c_md);
    const dnnl::lstm_forward::primitive_desc f(fd, attr, engine);
    const dnnl::lstm_backward::desc bd(bwd_prop, dir, src_layer_md, iter_md, iter_c_md, wl_any, wi_any,
                                       peephole_md, projection_any, bias_md, dst_layer_md, iter_md, iter_c_md,
                                       src_layer_md, iter_md, iter_c_md, wl_any, wi_any, peephole_md,
                                       projection_any, bias_md, dst_layer_md, iter_md, iter_c_md);
    const dnnl::lstm_backward::primitive_desc b(bd, attr, engine, f);
    s.fwd = dnnl::lstm_forward(f);
    s.bwd = dnnl::lstm_backward(b);
    fwd_pd = f;
    bwd_pd = b;
  } else if (lbr) {
    const dnnl::lbr_gru_forward::desc fd(fwd_prop, dir, src_layer_md, iter_md, wl_any, wi_any, bias_md,
                                         dst_layer_md, iter_md);
    const dnnl::lbr_gru_forward::primitive_desc f(fd, attr, engine);
    const dnnl::lbr_gru_backward::desc bd(bwd_prop, dir, src_layer_md, iter_md, wl_any, wi_any, bias_md,
                                          dst_layer_md, iter_md, src_layer_md, iter_md, wl_any, wi_any,
                                          bias_md, dst_layer_md, iter_md);
    const dnnl::lbr_gru_backward::primitive_desc b(bd, attr, engine, f);
    s.fwd = dnnl::lbr_gru_forward(f);
    s.bwd = dnnl::lbr_gru_backward(b);
    fwd_pd = f;
    bwd_pd = b;
  } else {
    const dnnl::gru_forward::desc fd(fwd_prop, dir, src_layer_md, iter_md, wl_any, wi_any, bias_md,
                                     dst_layer_md, iter_md);
    const dnnl::gru_forward::primitive_desc f(fd, attr, engine);
    const dnnl::gru_backward::desc bd(bwd_prop, dir, src_layer_md, iter_md, wl_any, wi_any, bias_md,
                                      dst_layer_md, iter_md, src_layer_md, iter_md, wl_any, wi_any, bias_md,
                                      dst_layer_md, iter_md);
    const dnnl::gru_backward::primitive_desc b(bd, attr, engine, f);
    s.fwd = dnnl::gru_forward(f);
    s.bwd = dnnl::gru_backward(b);
    fwd_pd = f;
    bwd_pd = b;
  }
  s.impl_info = std::string("fwd:") + fwd_pd.impl_info_str() + " bwd:" + bwd_pd.impl_info_str();
  auto fwd_md = [&](int arg) { return fwd_pd.query_md(dnnl::query::exec_arg_md, arg); };
  auto bwd_md = [&](int arg) { return bwd_pd.query_md(dnnl::query::exec_arg_md, arg); };

  // Weights: user layout, then reordered into each pd's own format.
  GatedUserWeights user = gated_user_weights(config, weights, first_layer, layers, D, peephole);
  const dnnl::memory::desc wl_user_md({layers, D, slc, G, H}, dt::f32, tag::ldigo);
  const dnnl::memory::desc wi_user_md({layers, D, H_out, G, H}, dt::f32, tag::ldigo);
  const dnnl::memory::desc proj_user_md =
      P > 0 ? dnnl::memory::desc({layers, D, H, P}, dt::f32, tag::ldio) : dnnl::memory::desc();
  auto reordered = [&](const dnnl::memory::desc& mine_md, const dnnl::memory::desc& user_md,
                       std::vector<float>& data) {
    dnnl::memory from(user_md, engine, data.data());
    dnnl::memory mine(mine_md, engine);
    dnnl::reorder(from, mine).execute(stream, from, mine);
    return mine;
  };
  struct WeightArg {
    int arg, diff_arg;
    dnnl::memory::desc user_md;
    std::vector<float>* data;
  };
  std::vector<WeightArg> weight_args = {
      {DNNL_ARG_WEIGHTS_LAYER, DNNL_ARG_DIFF_WEIGHTS_LAYER, wl_user_md, &user.layer},
      {DNNL_ARG_WEIGHTS_ITER, DNNL_ARG_DIFF_WEIGHTS_ITER, wi_user_md, &user.iter},
      {DNNL_ARG_BIAS, DNNL_ARG_DIFF_BIAS, bias_md, &user.bias}};
  if (peephole)
    weight_args.push_back(
        {DNNL_ARG_WEIGHTS_PEEPHOLE, DNNL_ARG_DIFF_WEIGHTS_PEEPHOLE, peephole_md, &user.peephole});
  if (P > 0)
    weight_args.push_back(
        {DNNL_ARG_WEIGHTS_PROJECTION, DNNL_ARG_DIFF_WEIGHTS_PROJECTION, proj_user_md, &user.projection});
  for (WeightArg& w : weight_args) {
    s.fwd_args.emplace(w.arg, reordered(fwd_md(w.arg), w.user_md, *w.data));
    s.bwd_args.emplace(w.arg, reordered(bwd_md(w.arg), w.user_md, *w.data));
    dnnl::memory diff(bwd_md(w.diff_arg), engine);
    dnnl::memory diff_user(w.user_md, engine);
    s.diff_reorders.push_back(dnnl::reorder(diff, diff_user));
    s.diff_weights.push_back(diff);
    s.diff_weights_user.push_back(diff_user);
    s.bwd_args.emplace(w.diff_arg, diff);
  }
  stream.wait();

  s.src_layer = dnnl::memory(fwd_md(DNNL_ARG_SRC_LAYER), engine, DNNL_MEMORY_NONE);
  s.src_iter = dnnl::memory(fwd_md(DNNL_ARG_SRC_ITER), engine);
  s.dst_layer = dnnl::memory(fwd_md(DNNL_ARG_DST_LAYER), engine);
  s.dst_iter = dnnl::memory(fwd_md(DNNL_ARG_DST_ITER), engine);
  s.workspace = dnnl::memory(fwd_md(DNNL_ARG_WORKSPACE), engine);
  s.fwd_scratchpad = dnnl::memory(fwd_pd.scratchpad_desc(), engine);
  s.bwd_scratchpad = dnnl::memory(bwd_pd.scratchpad_desc(), engine);
  s.diff_src_layer = dnnl::memory(bwd_md(DNNL_ARG_DIFF_SRC_LAYER), engine);
  s.diff_src_iter = dnnl::memory(bwd_md(DNNL_ARG_DIFF_SRC_ITER), engine);
  s.diff_dst_layer = dnnl::memory(bwd_md(DNNL_ARG_DIFF_DST_LAYER), engine, DNNL_MEMORY_NONE);
  s.diff_dst_iter = dnnl::memory(bwd_md(DNNL_ARG_DIFF_DST_ITER), engine);
  const std::pair<int, dnnl::memory*> shared[] = {{DNNL_ARG_SRC_LAYER, &s.src_layer},
                                                  {DNNL_ARG_SRC_ITER, &s.src_iter},
                                                  {DNNL_ARG_DST_LAYER, &s.dst_layer},
                                                  {DNNL_ARG_DST_ITER, &s.dst_iter},
                                                  {DNNL_ARG_WORKSPACE, &s.workspace}};
  for (const auto& [arg, mem] : shared) {
    s.fwd_args.emplace(arg, *mem);
    s.bwd_args.emplace(arg, *mem);
  }
  s.fwd_args.emplace(DNNL_ARG_SCRATCHPAD, s.fwd_scratchpad);
  s.bwd_args.emplace(DNNL_ARG_SCRATCHPAD, s.bwd_scratchpad);
  s.bwd_args.emplace(DNNL_ARG_DIFF_SRC_LAYER, s.diff_src_layer);
  s.bwd_args.emplace(DNNL_ARG_DIFF_SRC_ITER, s.diff_src_iter);
  s.bwd_args.emplace(DNNL_ARG_DIFF_DST_LAYER, s.diff_dst_layer);
  s.bwd_args.emplace(DNNL_ARG_DIFF_DST_ITER, s.diff_dst_iter);
  if (lstm) {
    s.src_iter_c = dnnl::memory(fwd_md(DNNL_ARG_SRC_ITER_C), engine);
    s.dst_iter_c = dnnl::memory(fwd_md(DNNL_ARG_DST_ITER_C), engine);
    s.diff_src_iter_c = dnnl::memory(bwd_md(DNNL_ARG_DIFF_SRC_ITER_C), engine);
    s.diff_dst_iter_c = dnnl::memory(bwd_md(DNNL_ARG_DIFF_DST_ITER_C), engine);
    for (auto* args : {&s.fwd_args, &s.bwd_args}) {
      args->emplace(DNNL_ARG_SRC_ITER_C, s.src_iter_c);
      args->emplace(DNNL_ARG_DST_ITER_C, s.dst_iter_c);
    }
    s.bwd_args.emplace(DNNL_ARG_DIFF_SRC_ITER_C, s.diff_src_iter_c);
    s.bwd_args.emplace(DNNL_ARG_DIFF_DST_ITER_C, s.diff_dst_iter_c);
  }
  stages.push_back(std::move(s));
}

OnednnGatedRnnTraining::OnednnGatedRnnTraining() = default;
OnednnGatedRnnTraining::~OnednnGatedRnnTraining() = default;

void OnednnGatedRnnTraining::setup(const simdrnn_config& config, int64_t seq_len, int64_t batch,
                                   const BaselineWeights& weights, int threads, BaselineDirection direction,
                                   bool force_per_layer) {
  check_shapes(config, seq_len, batch, weights, threads, direction);
  require(config.cell == SIMDRNN_CELL_LSTM || config.cell == SIMDRNN_CELL_GRU,
          "OnednnGatedRnnTraining runs LSTM and GRU cells only (OnednnRnnTraining runs Elman cells)");
  require(config.gru_linear_before_reset == 0 || config.gru_linear_before_reset == 1,
          "gru_linear_before_reset must be 0 or 1");
  require(config.output_size == 0, "OnednnGatedRnnTraining has no output layer (output_size must be 0)");
  impl_.reset();
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->direction = direction;
  impl->T = seq_len;
  impl->N = batch;
  impl->D = num_directions(direction);
  impl->H = config.hidden_size;
  impl->H_out = config_hidden_out(config);
  impl->L = config.num_layers;
  impl->I = config.input_size;
  impl->G = config_gates(config);
  impl->P = config.proj_size;
  impl->lstm = config.cell == SIMDRNN_CELL_LSTM;
  impl->lbr = config.cell == SIMDRNN_CELL_GRU && config.gru_linear_before_reset == 1;
  for (const BaselineCell& cell : weights.cells) impl->peephole = impl->peephole || !cell.peephole.empty();
  impl->threads = threads;
  impl->x_copy.assign(static_cast<size_t>(seq_len * batch * config.input_size), 0.0f);
  omp_set_num_threads(threads);  // oneDNN sizes scratchpads for the thread count at creation
  const bool single = impl->L == 1 || (direction != BaselineDirection::kBidirectionalConcat &&
                                       config.input_size == impl->H_out && !force_per_layer);
  if (single) {
    impl->add_stage(0, impl->L, weights);
  } else {
    for (int64_t l = 0; l < impl->L; ++l) impl->add_stage(l, 1, weights);
  }
  // Each stage reads the owned x copy or the output of the stage below: fixed handles.
  impl->stages[0].src_layer.set_data_handle(impl->x_copy.data());
  for (size_t s = 1; s < impl->stages.size(); ++s)
    impl->stages[s].src_layer.set_data_handle(impl->stages[s - 1].dst_layer.get_data_handle());
  impl_ = std::move(impl);
}

void OnednnGatedRnnTraining::forward(const float* x, const float* h0, const float* c0, float* y, float* h_n,
                                     float* c_n) {
  require(impl_ != nullptr, "forward() before setup()");
  require(x != nullptr, "x is required");
  Impl& m = *impl_;
  require(m.lstm || (c0 == nullptr && c_n == nullptr), "c0 and c_n are LSTM only");
  omp_set_num_threads(m.threads);
  std::copy(x, x + m.x_copy.size(), m.x_copy.begin());
  const int64_t per_layer = m.D * m.N * m.H_out, c_per_layer = m.D * m.N * m.H;
  auto fill_from = [](const float* src, int64_t begin, int64_t count, const dnnl::memory& dst) {
    float* d = static_cast<float*>(dst.get_data_handle());
    if (src != nullptr)
      std::copy(src + begin, src + begin + count, d);
    else
      std::fill(d, d + count, 0.0f);
  };
  for (Impl::Stage& s : m.stages) {
    fill_from(h0, s.first_layer * per_layer, s.layers * per_layer, s.src_iter);
    if (m.lstm) fill_from(c0, s.first_layer * c_per_layer, s.layers * c_per_layer, s.src_iter_c);
    s.fwd.execute(m.stream, s.fwd_args);
  }
  m.stream.wait();
  m.forwarded = true;
  if (y != nullptr) {
    const float* top = static_cast<const float*>(m.stages.back().dst_layer.get_data_handle());
    std::copy(top, top + m.T * m.N * m.D * m.H_out, y);
  }
  for (const Impl::Stage& s : m.stages) {
    if (h_n != nullptr) {
      const float* it = static_cast<const float*>(s.dst_iter.get_data_handle());
      std::copy(it, it + s.layers * per_layer, h_n + s.first_layer * per_layer);
    }
    if (c_n != nullptr) {
      const float* it = static_cast<const float*>(s.dst_iter_c.get_data_handle());
      std::copy(it, it + s.layers * c_per_layer, c_n + s.first_layer * c_per_layer);
    }
  }
}

void OnednnGatedRnnTraining::backward(const float* diff_y, const float* diff_h_n, const float* diff_c_n,
                                      float* diff_x, float* diff_h0, float* diff_c0,
                                      std::vector<BaselineGatedCellGrads>* grads) {
  require(impl_ != nullptr && impl_->forwarded, "backward() before forward()");
  require(diff_y != nullptr, "diff_y is required");
  Impl& m = *impl_;
  require(m.lstm || (diff_c_n == nullptr && diff_c0 == nullptr), "diff_c_n and diff_c0 are LSTM only");
  omp_set_num_threads(m.threads);
  const int64_t per_layer = m.D * m.N * m.H_out, c_per_layer = m.D * m.N * m.H;
  for (size_t k = m.stages.size(); k-- > 0;) {
    Impl::Stage& s = m.stages[k];
    s.diff_dst_layer.set_data_handle(k + 1 == m.stages.size()
                                         ? const_cast<float*>(diff_y)
                                         : m.stages[k + 1].diff_src_layer.get_data_handle());
    float* ddi = static_cast<float*>(s.diff_dst_iter.get_data_handle());
    if (diff_h_n != nullptr)
      std::copy(diff_h_n + s.first_layer * per_layer, diff_h_n + (s.first_layer + s.layers) * per_layer, ddi);
    else
      std::fill(ddi, ddi + s.layers * per_layer, 0.0f);
    if (m.lstm) {
      float* ddc = static_cast<float*>(s.diff_dst_iter_c.get_data_handle());
      if (diff_c_n != nullptr)
        std::copy(diff_c_n + s.first_layer * c_per_layer, diff_c_n + (s.first_layer + s.layers) * c_per_layer,
                  ddc);
      else
        std::fill(ddc, ddc + s.layers * c_per_layer, 0.0f);
    }
    // Whether oneDNN overwrites or accumulates the weight gradients, start them from zero.
    for (const dnnl::memory& diff : s.diff_weights) zero_memory(diff);
    s.bwd.execute(m.stream, s.bwd_args);
    for (size_t w = 0; w < s.diff_reorders.size(); ++w)
      s.diff_reorders[w].execute(m.stream, s.diff_weights[w], s.diff_weights_user[w]);
  }
  m.stream.wait();
  if (diff_x != nullptr) {
    const float* d = static_cast<const float*>(m.stages.front().diff_src_layer.get_data_handle());
    std::copy(d, d + m.T * m.N * m.I, diff_x);
  }
  for (const Impl::Stage& s : m.stages) {
    if (diff_h0 != nullptr) {
      const float* d = static_cast<const float*>(s.diff_src_iter.get_data_handle());
      std::copy(d, d + s.layers * per_layer, diff_h0 + s.first_layer * per_layer);
    }
    if (diff_c0 != nullptr) {
      const float* d = static_cast<const float*>(s.diff_src_iter_c.get_data_handle());
      std::copy(d, d + s.layers * c_per_layer, diff_c0 + s.first_layer * c_per_layer);
    }
  }
  if (grads == nullptr) return;
  grads->assign(static_cast<size_t>(m.L * m.D), BaselineGatedCellGrads{});
  const int* torch_gate = m.lstm ? kLstmTorchGate : kGruTorchGate;
  const int64_t G = m.G, H = m.H, H_out = m.H_out, P = m.P, bias_gates = m.lbr ? 4 : m.G;
  for (const Impl::Stage& s : m.stages) {
    auto user = [&](size_t w) { return static_cast<const float*>(s.diff_weights_user[w].get_data_handle()); };
    const float* wl = user(0);
    const float* wi = user(1);
    const float* db = user(2);
    const float* peep = m.peephole ? user(3) : nullptr;
    const float* proj = P > 0 ? user(m.peephole ? 4 : 3) : nullptr;
    for (int64_t l = 0; l < s.layers; ++l)
      for (int64_t d = 0; d < m.D; ++d) {
        const int64_t ld = l * m.D + d;
        BaselineGatedCellGrads& g = (*grads)[static_cast<size_t>((s.first_layer + l) * m.D + d)];
        g.w_ih.resize(static_cast<size_t>(G * H * s.slc));
        g.w_hh.resize(static_cast<size_t>(G * H * H_out));
        g.b_ih.resize(static_cast<size_t>(G * H));
        g.b_hh.resize(static_cast<size_t>(G * H));
        for (int64_t gate = 0; gate < G; ++gate) {
          const int64_t tg = torch_gate[gate];
          for (int64_t h = 0; h < H; ++h) {
            const int64_t row = tg * H + h;
            for (int64_t i = 0; i < s.slc; ++i)
              g.w_ih[static_cast<size_t>(row * s.slc + i)] = wl[((ld * s.slc + i) * G + gate) * H + h];
            for (int64_t i = 0; i < H_out; ++i)
              g.w_hh[static_cast<size_t>(row * H_out + i)] = wi[((ld * H_out + i) * G + gate) * H + h];
            const float b = db[(ld * bias_gates + gate) * H + h];
            g.b_ih[static_cast<size_t>(row)] = b;
            // lbr_gru: b_hn is the 4th bias gate, apart from b_in (oneDNN's o gate).
            g.b_hh[static_cast<size_t>(row)] = m.lbr && tg == 2 ? db[(ld * bias_gates + 3) * H + h] : b;
          }
        }
        if (peep != nullptr) g.peephole.assign(peep + ld * 3 * H, peep + (ld + 1) * 3 * H);
        if (proj != nullptr) {
          g.w_hr.resize(static_cast<size_t>(P * H));
          for (int64_t p = 0; p < P; ++p)
            for (int64_t h = 0; h < H; ++h)
              g.w_hr[static_cast<size_t>(p * H + h)] = proj[(ld * H + h) * P + p];
        }
      }
  }
}

bool OnednnGatedRnnTraining::single_primitive() const {
  return impl_ != nullptr && impl_->stages.size() == 1;
}

std::string OnednnGatedRnnTraining::impl_info() const {
  std::string info;
  if (impl_ == nullptr) return info;
  for (const Impl::Stage& s : impl_->stages) {
    if (!info.empty()) info += ",";
    info += s.impl_info;
  }
  return info;
}

}  // namespace simdrnn_test
