// Plain double-precision reference forward pass of the Elman RNN, LSTM and GRU and the tolerance
// checks the forward tests use; only simple loops here, nothing from the library's kernels.
#include "support/reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <sstream>

#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

double activate(simdrnn_activation activation, double v) {
  switch (activation) {
    case SIMDRNN_TANH:
      return std::tanh(v);
    case SIMDRNN_RELU:
      return v > 0.0 ? v : 0.0;
    case SIMDRNN_SIGMOID:
      return 1.0 / (1.0 + std::exp(-v));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

// Offset of (t, n) in a [T, N, C] or [N, T, C] buffer, in elements.
int64_t offset(simdrnn_layout layout, int64_t t, int64_t n, int64_t T, int64_t N, int64_t C) {
  return layout == SIMDRNN_TIME_MAJOR ? (t * N + n) * C : (n * T + t) * C;
}

// ---- LSTM and GRU ------------------------------------------------------------------------------
// Every value carries its magnitude (RefResult explains it): the first-order scale of the float
// rounding error a library computing the same formula accumulates, in units of u * k.

struct Tracked {
  double value = 0.0;
  double mag = 0.0;
};

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// act(clip(pre)): the clamp is 1-Lipschitz, so the slope at the clamped point bounds the carried
// error to first order; 2 |value| covers the library's own activation error (4 ulp).
Tracked activate_tracked(double clip, bool is_tanh, const Tracked& pre) {
  double v = pre.value;
  if (clip > 0.0) v = std::min(std::max(v, -clip), clip);
  const double a = is_tanh ? std::tanh(v) : sigmoid(v);
  const double slope = is_tanh ? 1.0 - a * a : a * (1.0 - a);
  return {a, slope * pre.mag + 2.0 * std::fabs(a)};
}

Tracked plus(const Tracked& a, const Tracked& b) { return {a.value + b.value, a.mag + b.mag}; }

// a * b, rounded once.
Tracked times(const Tracked& a, const Tracked& b) {
  const double v = a.value * b.value;
  return {v, std::fabs(a.value) * b.mag + std::fabs(b.value) * a.mag + std::fabs(v)};
}

// A weight (exact) times a tracked value.
Tracked weighted(float w, const Tracked& x) {
  const double v = static_cast<double>(w) * x.value;
  return {v, std::fabs(v) + std::fabs(static_cast<double>(w)) * x.mag};
}

// sum_k w[k] v[k] over `count` entries.
Tracked dot(const float* w, const Tracked* v, int64_t count) {
  Tracked acc;
  for (int64_t k = 0; k < count; ++k) acc = plus(acc, weighted(w[k], v[k]));
  return acc;
}

// b[row], or zero for an absent bias.
Tracked bias_at(const std::vector<float>& b, int64_t row) {
  if (b.empty()) return {};
  const double v = b[static_cast<size_t>(row)];
  return {v, std::fabs(v)};
}

// One LSTM step of one sequence: h [H_out] and c [H] are updated in place; x has `in` entries.
void lstm_step(const simdrnn_config& config, const RefCell& cell, const Tracked* x, int64_t in,
               std::vector<Tracked>& h, std::vector<Tracked>& c) {
  const int64_t H = config.hidden_size, P = config.proj_size, H_out = hidden_out(config);
  const double clip = config.clip;
  std::vector<Tracked> pre(static_cast<size_t>(4 * H));
  for (int64_t row = 0; row < 4 * H; ++row)
    pre[static_cast<size_t>(row)] =
        plus(plus(bias_at(cell.b_ih, row), bias_at(cell.b_hh, row)),
             plus(dot(&cell.w_ih[static_cast<size_t>(row * in)], x, in),
                  dot(&cell.w_hh[static_cast<size_t>(row * H_out)], h.data(), H_out)));
  const bool peephole = !cell.peephole.empty();
  std::vector<Tracked> m(static_cast<size_t>(H));  // o * tanh(c), before any projection
  for (int64_t j = 0; j < H; ++j) {
    const size_t js = static_cast<size_t>(j);
    Tracked pre_i = pre[js], pre_f = pre[static_cast<size_t>(H + j)];
    const Tracked pre_g = pre[static_cast<size_t>(2 * H + j)];
    Tracked pre_o = pre[static_cast<size_t>(3 * H + j)];
    if (peephole) {  // i and f see the previous cell state
      pre_i = plus(pre_i, weighted(cell.peephole[js], c[js]));
      pre_f = plus(pre_f, weighted(cell.peephole[static_cast<size_t>(H + j)], c[js]));
    }
    const Tracked i = activate_tracked(clip, false, pre_i);
    const Tracked f = activate_tracked(clip, false, pre_f);
    const Tracked g = activate_tracked(clip, true, pre_g);
    c[js] = plus(times(f, c[js]), times(i, g));
    if (peephole)
      pre_o = plus(pre_o, weighted(cell.peephole[static_cast<size_t>(2 * H + j)], c[js]));  // new c
    const Tracked o = activate_tracked(clip, false, pre_o);
    // tanh(c) is the cell's output activation, not a gate: clip does not apply to it.
    m[js] = times(o, activate_tracked(0.0, true, c[js]));
  }
  if (P > 0) {
    for (int64_t p = 0; p < P; ++p)
      h[static_cast<size_t>(p)] = dot(&cell.w_hr[static_cast<size_t>(p * H)], m.data(), H);
  } else {
    h = m;
  }
}

// One GRU step of one sequence: h [H] is updated in place.
void gru_step(const simdrnn_config& config, const RefCell& cell, const Tracked* x, int64_t in,
              std::vector<Tracked>& h) {
  const int64_t H = config.hidden_size;
  const double clip = config.clip;
  auto input_part = [&](int64_t row) {
    return plus(bias_at(cell.b_ih, row), dot(&cell.w_ih[static_cast<size_t>(row * in)], x, in));
  };
  auto recurrent_part = [&](int64_t row, const Tracked* state) {
    return plus(bias_at(cell.b_hh, row), dot(&cell.w_hh[static_cast<size_t>(row * H)], state, H));
  };
  std::vector<Tracked> r(static_cast<size_t>(H)), z(static_cast<size_t>(H));
  for (int64_t j = 0; j < H; ++j) {
    r[static_cast<size_t>(j)] =
        activate_tracked(clip, false, plus(input_part(j), recurrent_part(j, h.data())));
    z[static_cast<size_t>(j)] =
        activate_tracked(clip, false, plus(input_part(H + j), recurrent_part(H + j, h.data())));
  }
  std::vector<Tracked> reset_h;  // r * h, the recurrent input of n when the reset comes first
  if (!config.gru_linear_before_reset)
    for (int64_t k = 0; k < H; ++k)
      reset_h.push_back(times(r[static_cast<size_t>(k)], h[static_cast<size_t>(k)]));
  std::vector<Tracked> next(static_cast<size_t>(H));
  for (int64_t j = 0; j < H; ++j) {
    const size_t js = static_cast<size_t>(j);
    const int64_t row = 2 * H + j;
    const Tracked pre_n = config.gru_linear_before_reset
                              ? plus(input_part(row), times(r[js], recurrent_part(row, h.data())))
                              : plus(input_part(row), recurrent_part(row, reset_h.data()));
    const Tracked n = activate_tracked(clip, true, pre_n);
    const double zv = z[js].value, hv = h[js].value;
    next[js].value = (1.0 - zv) * n.value + zv * hv;
    next[js].mag = std::fabs(n.value - hv) * z[js].mag + std::fabs(1.0 - zv) * n.mag +
                   std::fabs(zv) * h[js].mag + std::fabs(n.value) + std::fabs(zv * n.value) +
                   std::fabs(zv * hv);
  }
  h.swap(next);
}

RefResult gated_reference_forward(const simdrnn_config& config, const RefWeights& weights, int64_t T,
                                  int64_t N, simdrnn_layout layout, const std::vector<float>& x,
                                  const float* h0, const int64_t* seq_lens, const float* c0) {
  const int64_t I = config.input_size, H = config.hidden_size, L = config.num_layers;
  const int64_t D = num_directions(config), O = config.output_size, H_out = hidden_out(config);
  const bool lstm = config.cell == SIMDRNN_CELL_LSTM;
  const int64_t C = D * H_out;  // width of every layer's output

  std::vector<int64_t> lens(static_cast<size_t>(N), T);
  if (seq_lens != nullptr) lens.assign(seq_lens, seq_lens + N);

  RefResult result;
  result.h_n.assign(static_cast<size_t>(L * D * N * H_out), 0.0);
  result.h_n_mag.assign(result.h_n.size(), 0.0);
  if (lstm) {
    result.c_n.assign(static_cast<size_t>(L * D * N * H), 0.0);
    result.c_n_mag.assign(result.c_n.size(), 0.0);
  }

  // The current layer's input, time-major [T, N, in]; x, h0 and c0 are exact (magnitude 0).
  int64_t in = I;
  std::vector<Tracked> input(static_cast<size_t>(T * N * I));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < I; ++i)
        input[static_cast<size_t>((t * N + n) * I + i)].value =
            x[static_cast<size_t>(offset(layout, t, n, T, N, I) + i)];

  std::vector<Tracked> output;
  for (int64_t l = 0; l < L; ++l) {
    result.k_hidden = std::max({result.k_hidden, in + H_out + 2, config.proj_size > 0 ? H : int64_t{0}});
    output.assign(static_cast<size_t>(T * N * C), Tracked{});  // padding stays exactly 0
    for (int64_t d = 0; d < D; ++d) {
      const RefCell& cell = weights.cells[static_cast<size_t>(l * D + d)];
      const int64_t state = l * D + d;
      for (int64_t n = 0; n < N; ++n) {
        std::vector<Tracked> h(static_cast<size_t>(H_out)), c(static_cast<size_t>(lstm ? H : 0));
        if (h0 != nullptr)
          for (int64_t j = 0; j < H_out; ++j)
            h[static_cast<size_t>(j)].value = h0[(state * N + n) * H_out + j];
        if (lstm && c0 != nullptr)
          for (int64_t j = 0; j < H; ++j) c[static_cast<size_t>(j)].value = c0[(state * N + n) * H + j];
        const int64_t len = lens[static_cast<size_t>(n)];
        for (int64_t step = 0; step < len; ++step) {
          const int64_t t = d == 0 ? step : len - 1 - step;
          const Tracked* xt = &input[static_cast<size_t>((t * N + n) * in)];
          if (lstm)
            lstm_step(config, cell, xt, in, h, c);
          else
            gru_step(config, cell, xt, in, h);
          for (int64_t j = 0; j < H_out; ++j)
            output[static_cast<size_t>((t * N + n) * C + d * H_out + j)] = h[static_cast<size_t>(j)];
        }
        for (int64_t j = 0; j < H_out; ++j) {
          const size_t o = static_cast<size_t>((state * N + n) * H_out + j);
          result.h_n[o] = h[static_cast<size_t>(j)].value;
          result.h_n_mag[o] = h[static_cast<size_t>(j)].mag;
        }
        for (int64_t j = 0; lstm && j < H; ++j) {
          const size_t o = static_cast<size_t>((state * N + n) * H + j);
          result.c_n[o] = c[static_cast<size_t>(j)].value;
          result.c_n_mag[o] = c[static_cast<size_t>(j)].mag;
        }
      }
    }
    input.swap(output);
    in = C;
  }

  // `input` now holds the last layer's y, time-major.
  result.y.assign(static_cast<size_t>(T * N * C), 0.0);
  result.y_mag.assign(result.y.size(), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        const Tracked& v = input[static_cast<size_t>((t * N + n) * C + c)];
        const size_t dst = static_cast<size_t>(offset(layout, t, n, T, N, C) + c);
        result.y[dst] = v.value;
        result.y_mag[dst] = v.mag;
      }

  result.k_out = std::max(result.k_hidden, C + 1);
  if (O > 0) {
    result.out.assign(static_cast<size_t>(T * N * O), 0.0);
    result.out_mag.assign(result.out.size(), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) {
        if (t >= lens[static_cast<size_t>(n)]) continue;  // padding: out stays exactly 0
        const Tracked* yt = &input[static_cast<size_t>((t * N + n) * C)];
        for (int64_t o = 0; o < O; ++o) {
          const Tracked v =
              plus(bias_at(weights.b_hy, o), dot(&weights.w_hy[static_cast<size_t>(o * C)], yt, C));
          const size_t dst = static_cast<size_t>(offset(layout, t, n, T, N, O) + o);
          result.out[dst] = v.value;
          result.out_mag[dst] = v.mag;
        }
      }
  }
  return result;
}

}  // namespace

std::string cell_suffix(int64_t layer, int64_t direction) {
  return "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
}

RefWeights random_ref_weights(const simdrnn_config& config, uint32_t seed, bool with_bias,
                              bool with_peephole) {
  const int64_t H = config.hidden_size, D = num_directions(config);
  const int64_t G = gate_count(config), P = config.proj_size, H_out = hidden_out(config);
  const float bound = 1.0f / std::sqrt(static_cast<float>(H));
  RefWeights ref;
  uint32_t stream = seed * 7919u;
  for (int64_t l = 0; l < config.num_layers; ++l) {
    const int64_t in = layer_input_size(config, l);
    for (int64_t d = 0; d < D; ++d) {
      RefCell cell;
      cell.w_ih = random_vector(static_cast<size_t>(G * H * in), ++stream, -bound, bound);
      cell.w_hh = random_vector(static_cast<size_t>(G * H * H_out), ++stream, -bound, bound);
      if (with_bias) {
        cell.b_ih = random_vector(static_cast<size_t>(G * H), ++stream, -bound, bound);
        cell.b_hh = random_vector(static_cast<size_t>(G * H), ++stream, -bound, bound);
      }
      // Drawn after the Elman tensors so that Elman weights of a seed never change.
      if (config.cell == SIMDRNN_CELL_LSTM && P > 0)
        cell.w_hr = random_vector(static_cast<size_t>(P * H), ++stream, -bound, bound);
      if (config.cell == SIMDRNN_CELL_LSTM && with_peephole)
        cell.peephole = random_vector(static_cast<size_t>(3 * H), ++stream, -bound, bound);
      ref.cells.push_back(std::move(cell));
    }
  }
  if (config.output_size > 0) {
    const float out_bound = 1.0f / std::sqrt(static_cast<float>(D * H_out));
    ref.w_hy =
        random_vector(static_cast<size_t>(config.output_size * D * H_out), ++stream, -out_bound, out_bound);
    if (with_bias)
      ref.b_hy = random_vector(static_cast<size_t>(config.output_size), ++stream, -out_bound, out_bound);
  }
  return ref;
}

simdrnn_status load_ref_weights(const simdrnn_config& config, const RefWeights& ref,
                                simdrnn_weights* weights) {
  const int64_t D = num_directions(config);
  auto set = [&](const std::string& name, const std::vector<float>& data) {
    if (data.empty()) return SIMDRNN_OK;
    return simdrnn_weights_set(weights, name.c_str(), data.data(), static_cast<int64_t>(data.size()));
  };
  for (int64_t l = 0; l < config.num_layers; ++l) {
    for (int64_t d = 0; d < D; ++d) {
      const RefCell& cell = ref.cells[static_cast<size_t>(l * D + d)];
      const std::string suffix = cell_suffix(l, d);
      for (const auto& [name, data] :
           {std::make_pair("weight_ih" + suffix, &cell.w_ih),
            std::make_pair("weight_hh" + suffix, &cell.w_hh), std::make_pair("bias_ih" + suffix, &cell.b_ih),
            std::make_pair("bias_hh" + suffix, &cell.b_hh), std::make_pair("weight_hr" + suffix, &cell.w_hr),
            std::make_pair("weight_peephole" + suffix, &cell.peephole)}) {
        const simdrnn_status status = set(name, *data);
        if (status != SIMDRNN_OK) return status;
      }
    }
  }
  simdrnn_status status = set("weight_hy", ref.w_hy);
  if (status != SIMDRNN_OK) return status;
  return set("bias_hy", ref.b_hy);
}

simdrnn_model* create_model(const simdrnn_config& config, const RefWeights& ref, std::string* error) {
  simdrnn_weights* weights = nullptr;
  simdrnn_model* model = nullptr;
  simdrnn_status status = simdrnn_weights_create(&config, &weights);
  if (status == SIMDRNN_OK) status = load_ref_weights(config, ref, weights);
  if (status == SIMDRNN_OK) status = simdrnn_model_create(weights, &model);
  if (status != SIMDRNN_OK && error != nullptr)
    *error = std::string(simdrnn_status_name(status)) + ": " + simdrnn_last_error();
  if (weights != nullptr) simdrnn_weights_destroy(weights);
  return status == SIMDRNN_OK ? model : nullptr;
}

RefResult reference_forward(const simdrnn_config& config, const RefWeights& weights, int64_t T, int64_t N,
                            simdrnn_layout layout, const std::vector<float>& x, const float* h0,
                            const int64_t* seq_lens, const float* c0) {
  if (config.cell != SIMDRNN_CELL_RNN)
    return gated_reference_forward(config, weights, T, N, layout, x, h0, seq_lens, c0);
  const int64_t I = config.input_size, H = config.hidden_size, L = config.num_layers;
  const int64_t D = num_directions(config), O = config.output_size;
  const double clip = config.clip;

  std::vector<int64_t> lens(static_cast<size_t>(N), T);
  if (seq_lens != nullptr) lens.assign(seq_lens, seq_lens + N);

  RefResult result;
  result.h_n.assign(static_cast<size_t>(L * D * N * H), 0.0);
  result.h_n_mag.assign(result.h_n.size(), 0.0);

  // The current layer's input, time-major [T, N, in], in double.
  int64_t in = I;
  std::vector<double> input(static_cast<size_t>(T * N * I));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < I; ++i)
        input[static_cast<size_t>((t * N + n) * I + i)] =
            x[static_cast<size_t>(offset(layout, t, n, T, N, I) + i)];

  // Output of the current layer, time-major [T, N, D*H], and its magnitudes.
  std::vector<double> output, output_mag;
  for (int64_t l = 0; l < L; ++l) {
    result.k_hidden += in + H;
    output.assign(static_cast<size_t>(T * N * D * H), 0.0);
    output_mag.assign(output.size(), 0.0);
    for (int64_t d = 0; d < D; ++d) {
      const RefCell& cell = weights.cells[static_cast<size_t>(l * D + d)];
      const int64_t state_index = l * D + d;
      for (int64_t n = 0; n < N; ++n) {
        std::vector<double> h(static_cast<size_t>(H), 0.0), h_mag(static_cast<size_t>(H), 0.0);
        if (h0 != nullptr)
          for (int64_t j = 0; j < H; ++j) h[static_cast<size_t>(j)] = h0[(state_index * N + n) * H + j];
        std::vector<double> next(static_cast<size_t>(H)), next_mag(static_cast<size_t>(H));
        const int64_t len = lens[static_cast<size_t>(n)];
        for (int64_t step = 0; step < len; ++step) {
          const int64_t t = d == 0 ? step : len - 1 - step;
          const double* xt = &input[static_cast<size_t>((t * N + n) * in)];
          for (int64_t j = 0; j < H; ++j) {
            double sum = 0.0, mag = 0.0;
            if (!cell.b_ih.empty()) {
              sum += cell.b_ih[static_cast<size_t>(j)];
              mag += std::fabs(cell.b_ih[static_cast<size_t>(j)]);
            }
            if (!cell.b_hh.empty()) {
              sum += cell.b_hh[static_cast<size_t>(j)];
              mag += std::fabs(cell.b_hh[static_cast<size_t>(j)]);
            }
            for (int64_t i = 0; i < in; ++i) {
              const double term = static_cast<double>(cell.w_ih[static_cast<size_t>(j * in + i)]) * xt[i];
              sum += term;
              mag += std::fabs(term);
            }
            for (int64_t k = 0; k < H; ++k) {
              const double term =
                  static_cast<double>(cell.w_hh[static_cast<size_t>(j * H + k)]) * h[static_cast<size_t>(k)];
              sum += term;
              mag += std::fabs(term);
            }
            if (clip > 0.0) sum = std::min(std::max(sum, -clip), clip);
            next[static_cast<size_t>(j)] = activate(config.activation, sum);
            next_mag[static_cast<size_t>(j)] = mag;
          }
          h.swap(next);
          h_mag.swap(next_mag);
          for (int64_t j = 0; j < H; ++j) {
            const size_t o = static_cast<size_t>((t * N + n) * D * H + d * H + j);
            output[o] = h[static_cast<size_t>(j)];
            output_mag[o] = h_mag[static_cast<size_t>(j)];
          }
        }
        for (int64_t j = 0; j < H; ++j) {
          const size_t o = static_cast<size_t>((state_index * N + n) * H + j);
          result.h_n[o] = h[static_cast<size_t>(j)];
          result.h_n_mag[o] = h_mag[static_cast<size_t>(j)];
        }
      }
    }
    input.swap(output);
    in = D * H;
  }
  // `input` now holds the last layer's y, time-major; padded steps are still 0 from assign().
  const int64_t C = D * H;
  result.y.assign(static_cast<size_t>(T * N * C), 0.0);
  result.y_mag.assign(result.y.size(), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        const size_t src = static_cast<size_t>((t * N + n) * C + c);
        const size_t dst = static_cast<size_t>(offset(layout, t, n, T, N, C) + c);
        result.y[dst] = input[src];
        result.y_mag[dst] = output_mag[src];
      }

  result.k_out = result.k_hidden + C;
  if (O > 0) {
    result.out.assign(static_cast<size_t>(T * N * O), 0.0);
    result.out_mag.assign(result.out.size(), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) {
        if (t >= lens[static_cast<size_t>(n)]) continue;  // padding: out stays exactly 0
        const double* yt = &input[static_cast<size_t>((t * N + n) * C)];
        for (int64_t o = 0; o < O; ++o) {
          double sum = 0.0, mag = 0.0;
          if (!weights.b_hy.empty()) {
            sum += weights.b_hy[static_cast<size_t>(o)];
            mag += std::fabs(weights.b_hy[static_cast<size_t>(o)]);
          }
          for (int64_t c = 0; c < C; ++c) {
            const double term = static_cast<double>(weights.w_hy[static_cast<size_t>(o * C + c)]) * yt[c];
            sum += term;
            mag += std::fabs(term);
          }
          const size_t dst = static_cast<size_t>(offset(layout, t, n, T, N, O) + o);
          result.out[dst] = sum;
          result.out_mag[dst] = mag;
        }
      }
  }
  return result;
}

Tolerance default_tolerance() {
  // Float rounding of a k-term dot product is at most k * 2^-24 times the sum of |terms| for one
  // step; errors carried in from earlier steps and lower layers are damped by the contraction of
  // the recurrence (activation slopes <= 1, weights ~ 1/sqrt(H)), so a small multiple covers them
  // in practice. abs covers vectorised tanh/exp approximations (a few ulp of values <= 1).
  return Tolerance{4.0 * std::ldexp(1.0, -24), 4e-6};
}

namespace {

template <typename Got>
Comparison compare_impl(const Got* got, const std::vector<double>& ref, const std::vector<double>& mag,
                        int64_t k, const Tolerance& tolerance, const std::string& what) {
  Comparison c;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double g = static_cast<double>(got[i]);
    const double allowed = tolerance.rel_per_term * static_cast<double>(k) * mag[i] + tolerance.abs;
    const double err = std::fabs(g - ref[i]);
    const double ratio = std::isnan(err) ? std::numeric_limits<double>::infinity() : err / allowed;
    c.max_ratio = std::max(c.max_ratio, ratio);
    if (!(err <= allowed)) {
      if (c.mismatches == 0) {
        std::ostringstream os;
        os.precision(9);
        os << what << "[" << i << "]: got " << g << ", reference " << ref[i] << ", |diff| " << err
           << " > allowed " << allowed << " (k " << k << ", magnitude " << mag[i] << ")";
        c.message = os.str();
        c.first_index = static_cast<int64_t>(i);
      }
      ++c.mismatches;
    }
  }
  if (c.mismatches > 0)
    c.message += " [" + std::to_string(c.mismatches) + " of " + std::to_string(ref.size()) +
                 " elements outside the tolerance]";
  return c;
}

}  // namespace

Comparison compare_with_reference(const float* got, const std::vector<double>& ref,
                                  const std::vector<double>& mag, int64_t k, const Tolerance& tolerance,
                                  const std::string& what) {
  return compare_impl(got, ref, mag, k, tolerance, what);
}

Comparison compare_with_reference(const std::vector<double>& got, const std::vector<double>& ref,
                                  const std::vector<double>& mag, int64_t k, const Tolerance& tolerance,
                                  const std::string& what) {
  if (got.size() != ref.size()) {
    Comparison c;
    c.mismatches = static_cast<int64_t>(std::max(got.size(), ref.size()));
    c.message = what + ": size " + std::to_string(got.size()) + " vs reference " + std::to_string(ref.size());
    return c;
  }
  return compare_impl(got.data(), ref, mag, k, tolerance, what);
}

std::vector<int64_t> random_seq_lens(int64_t T, int64_t N, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int64_t> dist(1, T);
  std::vector<int64_t> lens(static_cast<size_t>(N));
  for (auto& len : lens) len = dist(gen);
  if (N >= 2) {
    const int64_t a = std::uniform_int_distribution<int64_t>(0, N - 1)(gen);
    int64_t b = std::uniform_int_distribution<int64_t>(0, N - 2)(gen);
    if (b >= a) ++b;
    lens[static_cast<size_t>(a)] = T;
    lens[static_cast<size_t>(b)] = 1;
  }
  return lens;
}

}  // namespace simdrnn_test

// ---- training tests: flat parameters and the double forward ----------------------------------
namespace simdrnn_test {

std::vector<ParamTensor> expected_param_layout(const simdrnn_config& config, bool cell_biases, bool bias_hy,
                                               bool peepholes) {
  const int64_t H = config.hidden_size, D = num_directions(config), G = gate_count(config);
  const int64_t H_out = hidden_out(config);
  const bool lstm = config.cell == SIMDRNN_CELL_LSTM;
  std::vector<ParamTensor> layout;
  int64_t offset = 0;
  auto add = [&](const std::string& name, int64_t count) {
    layout.push_back(ParamTensor{name, offset, count});
    offset += count;
  };
  for (int64_t l = 0; l < config.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string suffix = cell_suffix(l, d);
      add("weight_ih" + suffix, G * H * layer_input_size(config, l));
      add("weight_hh" + suffix, G * H * H_out);
      if (cell_biases) {
        add("bias_ih" + suffix, G * H);
        add("bias_hh" + suffix, G * H);
      }
      if (lstm && config.proj_size > 0) add("weight_hr" + suffix, config.proj_size * H);
      if (lstm && peepholes) add("weight_peephole" + suffix, 3 * H);
    }
  if (config.output_size > 0) {
    add("weight_hy", config.output_size * D * H_out);
    if (bias_hy) add("bias_hy", config.output_size);
  }
  return layout;
}

int64_t param_count(const std::vector<ParamTensor>& layout) {
  return layout.empty() ? 0 : layout.back().offset + layout.back().count;
}

const ParamTensor* find_param(const std::vector<ParamTensor>& layout, const std::string& name) {
  for (const ParamTensor& p : layout)
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<double> flatten_ref_weights(const simdrnn_config& config, const RefWeights& ref,
                                        const std::vector<ParamTensor>& layout) {
  std::vector<double> flat(static_cast<size_t>(param_count(layout)), 0.0);
  auto put = [&](const std::string& name, const std::vector<float>& data) {
    const ParamTensor* p = find_param(layout, name);
    if (p == nullptr || data.empty()) return;
    for (int64_t i = 0; i < p->count; ++i)
      flat[static_cast<size_t>(p->offset + i)] = data[static_cast<size_t>(i)];
  };
  const int64_t D = num_directions(config);
  for (int64_t l = 0; l < config.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const RefCell& cell = ref.cells[static_cast<size_t>(l * D + d)];
      const std::string suffix = cell_suffix(l, d);
      put("weight_ih" + suffix, cell.w_ih);
      put("weight_hh" + suffix, cell.w_hh);
      put("bias_ih" + suffix, cell.b_ih);
      put("bias_hh" + suffix, cell.b_hh);
      put("weight_hr" + suffix, cell.w_hr);
      put("weight_peephole" + suffix, cell.peephole);
    }
  put("weight_hy", ref.w_hy);
  put("bias_hy", ref.b_hy);
  return flat;
}

// ---- LSTM and GRU over flat parameters: double forward (for finite differences) and the analytic
// backward. When the backward asks for it, each forward value carries its root-sum-square
// magnitude (Val): the scale of a float forward pass's error in that value, which the backward's
// *_sens turns into how much those errors move each gradient (RefBackwardD).
namespace {

// One cell's tensors in a flat parameter vector; null where the layout has none.
struct FlatCell {
  const double* w_ih = nullptr;
  const double* w_hh = nullptr;
  const double* b_ih = nullptr;
  const double* b_hh = nullptr;
  const double* w_hr = nullptr;
  const double* peephole = nullptr;
};

const double* flat_tensor(const std::vector<ParamTensor>& layout, const std::vector<double>& params,
                          const std::string& name) {
  const ParamTensor* p = find_param(layout, name);
  return p != nullptr ? params.data() + p->offset : nullptr;
}

FlatCell flat_cell(const std::vector<ParamTensor>& layout, const std::vector<double>& params, int64_t layer,
                   int64_t direction) {
  const std::string suffix = cell_suffix(layer, direction);
  FlatCell c;
  c.w_ih = flat_tensor(layout, params, "weight_ih" + suffix);
  c.w_hh = flat_tensor(layout, params, "weight_hh" + suffix);
  c.b_ih = flat_tensor(layout, params, "bias_ih" + suffix);
  c.b_hh = flat_tensor(layout, params, "bias_hh" + suffix);
  c.w_hr = flat_tensor(layout, params, "weight_hr" + suffix);
  c.peephole = flat_tensor(layout, params, "weight_peephole" + suffix);
  return c;
}

// A forward value and the square of its magnitude: the root-sum-square of the terms that went
// into it, recursively, with each rounded operation adding its own result (the statistical scale
// of a float forward pass's error in it; sums of |terms| would grow like (sum |W|)^T through the
// recurrence, far beyond the errors seen).
struct Val {
  double v = 0.0;
  double m2 = 0.0;
};

Val operator+(const Val& a, const Val& b) { return {a.v + b.v, a.m2 + b.m2}; }
// a * b, rounded once.
Val product(const Val& a, const Val& b) {
  const double v = a.v * b.v;
  return {v, b.v * b.v * a.m2 + a.v * a.v * b.m2 + v * v};
}
// An exact parameter times a value.
Val weighted(double w, const Val& x) {
  const double v = w * x.v;
  return {v, v * v + w * w * x.m2};
}
Val bias_val(const double* b, int64_t row) {
  if (b == nullptr) return {};
  return {b[row], b[row] * b[row]};
}
// sum_k w[k] x[k]; the magnitude only when tracking (finite differences need values alone).
Val dot_val(const double* w, const Val* x, int64_t count, bool track) {
  double sum = 0.0, mag2 = 0.0;
  if (track) {
    for (int64_t k = 0; k < count; ++k) {
      const double term = w[k] * x[k].v;
      sum += term;
      mag2 += term * term + w[k] * w[k] * x[k].m2;
    }
  } else {
    for (int64_t k = 0; k < count; ++k) sum += w[k] * x[k].v;
  }
  return {sum, mag2};
}
// act(clip(pre)): the slope carries the pre-activation's error; 2 |value| covers the library's
// own activation error (a few ulp), as activate_tracked.
Val activate_val(double clip, bool is_tanh, const Val& pre) {
  double v = pre.v;
  if (clip > 0.0) v = std::min(std::max(v, -clip), clip);
  const double a = is_tanh ? std::tanh(v) : 1.0 / (1.0 + std::exp(-v));
  const double slope = is_tanh ? 1.0 - a * a : a * (1.0 - a);
  return {a, slope * slope * pre.m2 + 4.0 * a * a};
}

// What the analytic backward reads of one step of one sequence, layer and direction.
struct GatedStepRecord {
  int64_t t = 0;
  std::vector<Val> h_prev, c_prev;  // the state the step started from ([H_out], LSTM [H])
  std::vector<double> pre;          // [G*H] pre-activations before clip (the clip masks)
  std::vector<Val> gate;            // [G*H] activated gates: i, f, g, o or r, z, n
  std::vector<Val> c, tc, m;        // LSTM [H]: c_t, tanh(c_t), o * tanh(c_t)
  std::vector<Val> hidden_n;        // GRU, linear_before_reset = 1 [H]: W_hn h_prev + b_hn
  std::vector<Val> reset_h;         // GRU, linear_before_reset = 0 [H]: r * h_prev
};

struct GatedRecord {
  std::vector<std::vector<Val>> layer_in;   // per layer, time-major [T, N, in]
  std::vector<std::vector<Val>> layer_out;  // per layer, time-major [T, N, D*H_out]
  std::vector<GatedStepRecord> steps;       // [((l*D + d)*N + n)*T + step], in processing order
};

RefForwardD gated_forward_flat(const simdrnn_config& config, const std::vector<ParamTensor>& layout,
                               const std::vector<double>& params, int64_t T, int64_t N,
                               simdrnn_layout data_layout, const std::vector<double>& x,
                               const std::vector<double>* h0, const int64_t* seq_lens,
                               const std::vector<double>* c0, GatedRecord* rec) {
  const int64_t I = config.input_size, H = config.hidden_size, L = config.num_layers;
  const int64_t D = num_directions(config), O = config.output_size, H_out = hidden_out(config);
  const int64_t G = gate_count(config), C = D * H_out;
  const bool lstm = config.cell == SIMDRNN_CELL_LSTM, lbr = config.gru_linear_before_reset != 0;
  const int64_t P = lstm ? config.proj_size : 0;
  const double clip = config.clip;
  const bool track = rec != nullptr;
  auto at = [&](int64_t t, int64_t n, int64_t width) {
    return static_cast<size_t>((data_layout == SIMDRNN_TIME_MAJOR ? t * N + n : n * T + t) * width);
  };
  auto len_of = [&](int64_t n) { return seq_lens != nullptr ? seq_lens[n] : T; };
  auto sz = [](int64_t v) { return static_cast<size_t>(v); };

  RefForwardD r;
  r.h_n.assign(sz(L * D * N * H_out), 0.0);
  if (lstm) r.c_n.assign(sz(L * D * N * H), 0.0);
  if (rec != nullptr) rec->steps.assign(sz(L * D * N * T), GatedStepRecord{});
  int64_t in = I;
  std::vector<Val> input(sz(T * N * I)), output;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < I; ++i) input[sz((t * N + n) * I + i)].v = x[at(t, n, I) + sz(i)];
  std::vector<Val> pre(sz(G * H)), gate(sz(G * H)), h(sz(H_out)), c(sz(lstm ? H : 0)), tc(c.size()),
      m(c.size()), next(sz(H_out)), hidden_n(sz(H)), reset_h(sz(H));
  for (int64_t l = 0; l < L; ++l) {
    output.assign(sz(T * N * C), Val{});
    for (int64_t d = 0; d < D; ++d) {
      const FlatCell cell = flat_cell(layout, params, l, d);
      const int64_t state = l * D + d;
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t j = 0; j < H_out; ++j)
          h[sz(j)] = Val{h0 != nullptr ? (*h0)[sz((state * N + n) * H_out + j)] : 0.0, 0.0};
        for (int64_t j = 0; lstm && j < H; ++j)
          c[sz(j)] = Val{c0 != nullptr ? (*c0)[sz((state * N + n) * H + j)] : 0.0, 0.0};
        const int64_t len = len_of(n);
        for (int64_t step = 0; step < len; ++step) {
          const int64_t t = d == 0 ? step : len - 1 - step;
          const Val* xt = &input[sz((t * N + n) * in)];
          GatedStepRecord* sr = rec != nullptr ? &rec->steps[sz((state * N + n) * T + step)] : nullptr;
          if (sr != nullptr) {
            sr->t = t;
            sr->h_prev = h;
            sr->c_prev = c;
          }
          // Rows whose pre-activation is input part + recurrent part: all of an LSTM's, a GRU's r, z.
          const int64_t plain_rows = lstm ? 4 * H : 2 * H;
          for (int64_t row = 0; row < plain_rows; ++row)
            pre[sz(row)] = bias_val(cell.b_ih, row) + bias_val(cell.b_hh, row) +
                           dot_val(cell.w_ih + row * in, xt, in, track) +
                           dot_val(cell.w_hh + row * H_out, h.data(), H_out, track);
          if (lstm) {
            const double* p = cell.peephole;
            for (int64_t j = 0; j < H; ++j) {
              const size_t js = sz(j);
              if (p != nullptr) {  // i and f see c_{t-1}
                pre[js] = pre[js] + weighted(p[j], c[js]);
                pre[sz(H + j)] = pre[sz(H + j)] + weighted(p[H + j], c[js]);
              }
              const Val gi = activate_val(clip, false, pre[js]);
              const Val gf = activate_val(clip, false, pre[sz(H + j)]);
              const Val gg = activate_val(clip, true, pre[sz(2 * H + j)]);
              c[js] = product(gf, c[js]) + product(gi, gg);
              if (p != nullptr)
                pre[sz(3 * H + j)] = pre[sz(3 * H + j)] + weighted(p[2 * H + j], c[js]);  // o sees c_t
              const Val go = activate_val(clip, false, pre[sz(3 * H + j)]);
              gate[js] = gi;
              gate[sz(H + j)] = gf;
              gate[sz(2 * H + j)] = gg;
              gate[sz(3 * H + j)] = go;
              tc[js] = activate_val(0.0, true, c[js]);  // tanh(c) is no gate: clip does not apply
              m[js] = product(go, tc[js]);
            }
            if (P > 0) {
              for (int64_t q = 0; q < P; ++q) h[sz(q)] = dot_val(cell.w_hr + q * H, m.data(), H, track);
            } else {
              h = m;
            }
          } else {
            for (int64_t row = 0; row < 2 * H; ++row) gate[sz(row)] = activate_val(clip, false, pre[sz(row)]);
            if (!lbr)
              for (int64_t k = 0; k < H; ++k) reset_h[sz(k)] = product(gate[sz(k)], h[sz(k)]);
            for (int64_t j = 0; j < H; ++j) {
              const int64_t row = 2 * H + j;
              const Val input_part = bias_val(cell.b_ih, row) + dot_val(cell.w_ih + row * in, xt, in, track);
              if (lbr) {
                hidden_n[sz(j)] = bias_val(cell.b_hh, row) + dot_val(cell.w_hh + row * H, h.data(), H, track);
                pre[sz(row)] = input_part + product(gate[sz(j)], hidden_n[sz(j)]);
              } else {
                pre[sz(row)] = input_part + bias_val(cell.b_hh, row) +
                               dot_val(cell.w_hh + row * H, reset_h.data(), H, track);
              }
              gate[sz(row)] = activate_val(clip, true, pre[sz(row)]);
            }
            for (int64_t j = 0; j < H; ++j) {
              const double zv = gate[sz(H + j)].v, nv = gate[sz(2 * H + j)].v, hv = h[sz(j)].v;
              next[sz(j)].v = (1.0 - zv) * nv + zv * hv;
              next[sz(j)].m2 = (nv - hv) * (nv - hv) * gate[sz(H + j)].m2 +
                               (1.0 - zv) * (1.0 - zv) * gate[sz(2 * H + j)].m2 + zv * zv * h[sz(j)].m2 +
                               nv * nv + zv * nv * zv * nv + zv * hv * zv * hv;
            }
            h.swap(next);
          }
          for (int64_t row = 0; row < G * H; ++row) r.pre.push_back(pre[sz(row)].v);
          if (sr != nullptr) {
            sr->pre.resize(sz(G * H));
            for (int64_t row = 0; row < G * H; ++row) sr->pre[sz(row)] = pre[sz(row)].v;
            sr->gate = gate;
            if (lstm) {
              sr->c = c;
              sr->tc = tc;
              sr->m = m;
            } else if (lbr) {
              sr->hidden_n = hidden_n;
            } else {
              sr->reset_h = reset_h;
            }
          }
          for (int64_t j = 0; j < H_out; ++j) output[sz((t * N + n) * C + d * H_out + j)] = h[sz(j)];
        }
        for (int64_t j = 0; j < H_out; ++j) r.h_n[sz((state * N + n) * H_out + j)] = h[sz(j)].v;
        for (int64_t j = 0; lstm && j < H; ++j) r.c_n[sz((state * N + n) * H + j)] = c[sz(j)].v;
      }
    }
    std::vector<double> out_values(output.size());
    for (size_t i = 0; i < output.size(); ++i) out_values[i] = output[i].v;
    r.layer_out.push_back(std::move(out_values));
    if (rec != nullptr) {
      rec->layer_in.push_back(input);
      rec->layer_out.push_back(output);
    }
    input.swap(output);
    in = C;
  }
  r.y.assign(sz(T * N * C), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < C; ++k) r.y[at(t, n, C) + sz(k)] = input[sz((t * N + n) * C + k)].v;
  if (O > 0) {
    const double* w_hy = flat_tensor(layout, params, "weight_hy");
    const double* b_hy = flat_tensor(layout, params, "bias_hy");
    r.out.assign(sz(T * N * O), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) {
        if (t >= len_of(n)) continue;  // padding: out is exactly 0
        const Val* yt = &input[sz((t * N + n) * C)];
        for (int64_t o = 0; o < O; ++o)
          r.out[at(t, n, O) + sz(o)] =
              (b_hy != nullptr ? b_hy[o] : 0.0) + dot_val(w_hy + o * C, yt, C, false).v;
      }
  }
  return r;
}

// A gradient: value, and the squares of its magnitude and sensitivity, kept as sums of squares
// (root-sum-square through the chain; see RefBackwardD).
struct Grad {
  double v = 0.0;
  double m2 = 0.0;
  double s2 = 0.0;
};
Grad operator+(const Grad& a, const Grad& b) { return {a.v + b.v, a.m2 + b.m2, a.s2 + b.s2}; }
Grad& operator+=(Grad& a, const Grad& b) { return a = a + b; }

// A forward value as a factor of the backward, with its error bound.
struct Factor {
  double v = 0.0;
  double e = 0.0;
};
// g * f: the magnitude scales with |f|; f's error e moves the product by |g| e.
Grad scaled(const Grad& g, const Factor& f) {
  const double f2 = f.v * f.v;
  return {g.v * f.v, g.m2 * f2, g.s2 * f2 + (g.m2 + g.v * g.v) * f.e * f.e};
}
// A value the backward computes and rounds (a sum or product it keeps): its own rounding joins
// its magnitude.
Grad rounded(Grad g) {
  g.m2 += g.v * g.v;
  return g;
}
// By an exact parameter.
Grad scaled(const Grad& g, double w) { return {g.v * w, g.m2 * w * w, g.s2 * w * w}; }
// sigmoid' from the sigmoid's value s: s (1 - s); tanh' from tanh's value: 1 - t^2.
Factor sigmoid_slope(const Factor& s) { return {s.v * (1.0 - s.v), std::fabs(1.0 - 2.0 * s.v) * s.e}; }
Factor tanh_slope(const Factor& t) { return {1.0 - t.v * t.v, 2.0 * std::fabs(t.v) * t.e}; }
Grad incoming(double v) { return {v, v * v, 0.0}; }

RefBackwardD gated_backward_flat(const simdrnn_config& config, const std::vector<ParamTensor>& layout,
                                 const std::vector<double>& params, int64_t T, int64_t N,
                                 simdrnn_layout data_layout, const std::vector<double>& x,
                                 const std::vector<double>* h0, const int64_t* seq_lens,
                                 const std::vector<double>* dy, const std::vector<double>* dout,
                                 const std::vector<double>* dh_n, double h_error,
                                 const std::vector<double>* c0, const std::vector<double>* dc_n) {
  const int64_t I = config.input_size, H = config.hidden_size, L = config.num_layers;
  const int64_t D = num_directions(config), O = config.output_size, H_out = hidden_out(config);
  const int64_t G = gate_count(config), C = D * H_out;
  const bool lstm = config.cell == SIMDRNN_CELL_LSTM, lbr = config.gru_linear_before_reset != 0;
  const int64_t P = lstm ? config.proj_size : 0;
  const double clip = config.clip;
  auto sz = [](int64_t v) { return static_cast<size_t>(v); };
  auto at = [&](int64_t t, int64_t n, int64_t width) {
    return sz((data_layout == SIMDRNN_TIME_MAJOR ? t * N + n : n * T + t) * width);
  };
  auto len_of = [&](int64_t n) { return seq_lens != nullptr ? seq_lens[n] : T; };
  auto factor = [&](const Val& q) { return Factor{q.v, h_error * std::sqrt(q.m2)}; };
  auto clipped = [&](double pre) { return clip > 0.0 && (pre > clip || pre < -clip); };

  GatedRecord rec;
  gated_forward_flat(config, layout, params, T, N, data_layout, x, h0, seq_lens, lstm ? c0 : nullptr, &rec);

  RefBackwardD b;
  b.grads.assign(params.size(), 0.0);
  b.grads_mag.assign(params.size(), 0.0);
  b.grads_sens.assign(params.size(), 0.0);
  // Sums of squares until the end (see Grad).
  auto acc = [&](int64_t index, const Grad& g) {
    b.grads[sz(index)] += g.v;
    b.grads_mag[sz(index)] += g.m2;
    b.grads_sens[sz(index)] += g.s2;
  };

  // dLoss / d(top layer output), time-major.
  std::vector<Grad> g(sz(T * N * C));
  if (dy != nullptr)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < C; ++k) g[sz((t * N + n) * C + k)] = incoming((*dy)[at(t, n, C) + sz(k)]);
  if (O > 0 && dout != nullptr) {
    const ParamTensor* w = find_param(layout, "weight_hy");
    const ParamTensor* bias = find_param(layout, "bias_hy");
    const std::vector<Val>& y = rec.layer_out[sz(L - 1)];
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) {
        if (t >= len_of(n)) continue;  // out is constant 0 at padding
        for (int64_t o = 0; o < O; ++o) {
          const Grad go = incoming((*dout)[at(t, n, O) + sz(o)]);
          if (bias != nullptr) acc(bias->offset + o, go);
          for (int64_t k = 0; k < C; ++k) {
            const int64_t wi = w->offset + o * C + k;
            acc(wi, scaled(go, factor(y[sz((t * N + n) * C + k)])));
            g[sz((t * N + n) * C + k)] += scaled(go, params[sz(wi)]);
          }
        }
      }
  }

  b.dh0.assign(sz(L * D * N * H_out), 0.0);
  b.dh0_mag.assign(b.dh0.size(), 0.0);
  b.dh0_sens.assign(b.dh0.size(), 0.0);
  if (lstm) {
    b.dc0.assign(sz(L * D * N * H), 0.0);
    b.dc0_mag.assign(b.dc0.size(), 0.0);
    b.dc0_sens.assign(b.dc0.size(), 0.0);
  }
  std::vector<Grad> carry_h(sz(H_out)), carry_c(sz(lstm ? H : 0)), dh(sz(H_out)), dm(sz(H)), direct(sz(H)),
      da_x(sz(G * H)), da_h(sz(G * H));
  for (int64_t l = L - 1; l >= 0; --l) {
    const int64_t in = l == 0 ? I : C;
    const std::vector<Val>& input = rec.layer_in[sz(l)];
    std::vector<Grad> g_in(sz(T * N * in));
    for (int64_t d = 0; d < D; ++d) {
      const std::string suffix = cell_suffix(l, d);
      const ParamTensor* w_ih = find_param(layout, "weight_ih" + suffix);
      const ParamTensor* w_hh = find_param(layout, "weight_hh" + suffix);
      const ParamTensor* b_ih = find_param(layout, "bias_ih" + suffix);
      const ParamTensor* b_hh = find_param(layout, "bias_hh" + suffix);
      const ParamTensor* w_hr = find_param(layout, "weight_hr" + suffix);
      const ParamTensor* peep = find_param(layout, "weight_peephole" + suffix);
      const double* W_ih = params.data() + w_ih->offset;
      const double* W_hh = params.data() + w_hh->offset;
      const double* W_hr = w_hr != nullptr ? params.data() + w_hr->offset : nullptr;
      const double* p = peep != nullptr ? params.data() + peep->offset : nullptr;
      const int64_t state = l * D + d;
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t k = 0; k < H_out; ++k)
          carry_h[sz(k)] = dh_n != nullptr ? incoming((*dh_n)[sz((state * N + n) * H_out + k)]) : Grad{};
        for (int64_t k = 0; lstm && k < H; ++k)
          carry_c[sz(k)] = dc_n != nullptr ? incoming((*dc_n)[sz((state * N + n) * H + k)]) : Grad{};
        for (int64_t step = len_of(n) - 1; step >= 0; --step) {
          const GatedStepRecord& sr = rec.steps[sz((state * N + n) * T + step)];
          const int64_t t = sr.t;
          for (int64_t k = 0; k < H_out; ++k)
            dh[sz(k)] = rounded(g[sz((t * N + n) * C + d * H_out + k)] + carry_h[sz(k)]);
          if (lstm) {
            if (P > 0) {
              for (int64_t j = 0; j < H; ++j) dm[sz(j)] = Grad{};
              for (int64_t q = 0; q < P; ++q)
                for (int64_t j = 0; j < H; ++j) {
                  acc(w_hr->offset + q * H + j, scaled(dh[sz(q)], factor(sr.m[sz(j)])));
                  dm[sz(j)] += scaled(dh[sz(q)], W_hr[q * H + j]);
                }
              for (int64_t j = 0; j < H; ++j) dm[sz(j)] = rounded(dm[sz(j)]);
            } else {
              for (int64_t j = 0; j < H; ++j) dm[sz(j)] = dh[sz(j)];
            }
            for (int64_t j = 0; j < H; ++j) {
              const size_t js = sz(j);
              const Factor i = factor(sr.gate[js]), f = factor(sr.gate[sz(H + j)]);
              const Factor gg = factor(sr.gate[sz(2 * H + j)]), o = factor(sr.gate[sz(3 * H + j)]);
              const Factor c = factor(sr.c[js]), tc = factor(sr.tc[js]), c_prev = factor(sr.c_prev[js]);
              Grad da_o = rounded(scaled(rounded(scaled(dm[js], tc)), sigmoid_slope(o)));
              if (clipped(sr.pre[sz(3 * H + j)])) da_o = Grad{};
              Grad dc = carry_c[js] + scaled(rounded(scaled(dm[js], o)), tanh_slope(tc));
              if (p != nullptr) {
                dc += scaled(da_o, p[2 * H + j]);
                acc(peep->offset + 2 * H + j, scaled(da_o, c));
              }
              dc = rounded(dc);
              Grad da_i = rounded(scaled(rounded(scaled(dc, gg)), sigmoid_slope(i)));
              Grad da_f = rounded(scaled(rounded(scaled(dc, c_prev)), sigmoid_slope(f)));
              Grad da_g = rounded(scaled(rounded(scaled(dc, i)), tanh_slope(gg)));
              if (clipped(sr.pre[js])) da_i = Grad{};
              if (clipped(sr.pre[sz(H + j)])) da_f = Grad{};
              if (clipped(sr.pre[sz(2 * H + j)])) da_g = Grad{};
              carry_c[js] = scaled(dc, f);
              if (p != nullptr) {
                carry_c[js] += scaled(da_i, p[j]) + scaled(da_f, p[H + j]);
                acc(peep->offset + j, scaled(da_i, c_prev));
                acc(peep->offset + H + j, scaled(da_f, c_prev));
              }
              carry_c[js] = rounded(carry_c[js]);
              da_x[js] = da_i;
              da_x[sz(H + j)] = da_f;
              da_x[sz(2 * H + j)] = da_g;
              da_x[sz(3 * H + j)] = da_o;
            }
            da_h = da_x;
          } else {
            for (int64_t j = 0; j < H; ++j) {
              const size_t js = sz(j);
              const Factor r = factor(sr.gate[js]), z = factor(sr.gate[sz(H + j)]);
              const Factor nn = factor(sr.gate[sz(2 * H + j)]), h_prev = factor(sr.h_prev[js]);
              const Grad dn = rounded(scaled(dh[js], Factor{1.0 - z.v, z.e}));
              const Grad dz = rounded(scaled(dh[js], Factor{h_prev.v - nn.v, h_prev.e + nn.e}));
              direct[js] = rounded(scaled(dh[js], z));
              Grad da_n = rounded(scaled(dn, tanh_slope(nn)));
              Grad da_z = rounded(scaled(dz, sigmoid_slope(z)));
              if (clipped(sr.pre[sz(2 * H + j)])) da_n = Grad{};
              if (clipped(sr.pre[sz(H + j)])) da_z = Grad{};
              da_x[sz(H + j)] = da_h[sz(H + j)] = da_z;
              da_x[sz(2 * H + j)] = da_h[sz(2 * H + j)] = da_n;
              if (lbr) {
                Grad da_r = rounded(scaled(rounded(scaled(da_n, factor(sr.hidden_n[js]))), sigmoid_slope(r)));
                if (clipped(sr.pre[js])) da_r = Grad{};
                da_h[sz(2 * H + j)] = rounded(scaled(da_n, r));  // W_hn h + b_hn sits inside r * (..)
                da_x[js] = da_h[js] = da_r;
              }
            }
            if (!lbr)
              for (int64_t k = 0; k < H; ++k) {  // n reads r * h: d(r h)_k = sum_j W_hn[j][k] da_n[j]
                Grad d_rh;
                for (int64_t j = 0; j < H; ++j)
                  d_rh += scaled(da_h[sz(2 * H + j)], W_hh[(2 * H + j) * H + k]);
                d_rh = rounded(d_rh);
                const Factor r = factor(sr.gate[sz(k)]), h_prev = factor(sr.h_prev[sz(k)]);
                direct[sz(k)] = rounded(direct[sz(k)] + rounded(scaled(d_rh, r)));
                Grad da_r = rounded(scaled(rounded(scaled(d_rh, h_prev)), sigmoid_slope(r)));
                if (clipped(sr.pre[sz(k)])) da_r = Grad{};
                da_x[sz(k)] = da_h[sz(k)] = da_r;
              }
          }
          // Parameters and the input of this step.
          const size_t x_at = sz((t * N + n) * in);
          for (int64_t row = 0; row < G * H; ++row) {
            const Grad ax = da_x[sz(row)], ah = da_h[sz(row)];
            if (b_ih != nullptr) acc(b_ih->offset + row, ax);
            if (b_hh != nullptr) acc(b_hh->offset + row, ah);
            for (int64_t i = 0; i < in; ++i) {
              acc(w_ih->offset + row * in + i, scaled(ax, factor(input[x_at + sz(i)])));
              g_in[x_at + sz(i)] += scaled(ax, W_ih[row * in + i]);
            }
            const std::vector<Val>& hidden_in = !lstm && !lbr && row >= 2 * H ? sr.reset_h : sr.h_prev;
            for (int64_t k = 0; k < H_out; ++k)
              acc(w_hh->offset + row * H_out + k, scaled(ah, factor(hidden_in[sz(k)])));
          }
          // dLoss / dh_{t-1}.
          const int64_t recurrent_rows = !lstm && !lbr ? 2 * H : G * H;  // lbr = 0: n's went through r h
          for (int64_t k = 0; k < H_out; ++k) {
            Grad sum = lstm ? Grad{} : direct[sz(k)];
            for (int64_t row = 0; row < recurrent_rows; ++row)
              sum += scaled(da_h[sz(row)], W_hh[row * H_out + k]);
            carry_h[sz(k)] = rounded(sum);
          }
        }
        for (int64_t k = 0; k < H_out; ++k) {
          const size_t s = sz((state * N + n) * H_out + k);
          b.dh0[s] = carry_h[sz(k)].v;
          b.dh0_mag[s] = std::sqrt(carry_h[sz(k)].m2);
          b.dh0_sens[s] = std::sqrt(carry_h[sz(k)].s2);
        }
        for (int64_t k = 0; lstm && k < H; ++k) {
          const size_t s = sz((state * N + n) * H + k);
          b.dc0[s] = carry_c[sz(k)].v;
          b.dc0_mag[s] = std::sqrt(carry_c[sz(k)].m2);
          b.dc0_sens[s] = std::sqrt(carry_c[sz(k)].s2);
        }
      }
    }
    for (Grad& v : g_in) v = rounded(v);
    g.swap(g_in);
  }
  b.dx.assign(sz(T * N * I), 0.0);
  b.dx_mag.assign(b.dx.size(), 0.0);
  b.dx_sens.assign(b.dx.size(), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < I; ++i) {
        const Grad& v = g[sz((t * N + n) * I + i)];
        b.dx[at(t, n, I) + sz(i)] = v.v;
        b.dx_mag[at(t, n, I) + sz(i)] = std::sqrt(v.m2);
        b.dx_sens[at(t, n, I) + sz(i)] = std::sqrt(v.s2);
      }
  for (size_t i = 0; i < b.grads.size(); ++i)
    b.grads_mag[i] = std::sqrt(b.grads_mag[i] + b.grads[i] * b.grads[i]);
  for (double& e : b.grads_sens) e = std::sqrt(e);
  return b;
}

}  // namespace

RefForwardD reference_forward_flat(const simdrnn_config& config, const std::vector<ParamTensor>& layout,
                                   const std::vector<double>& params, int64_t T, int64_t N,
                                   simdrnn_layout data_layout, const std::vector<double>& x,
                                   const std::vector<double>* h0, const int64_t* seq_lens,
                                   const std::vector<double>* c0) {
  if (config.cell != SIMDRNN_CELL_RNN)
    return gated_forward_flat(config, layout, params, T, N, data_layout, x, h0, seq_lens, c0, nullptr);
  const int64_t I = config.input_size, H = config.hidden_size, L = config.num_layers;
  const int64_t D = num_directions(config), O = config.output_size, C = D * H;
  const double clip = config.clip;
  auto tensor = [&](const std::string& name) -> const double* {
    const ParamTensor* p = find_param(layout, name);
    return p != nullptr ? params.data() + p->offset : nullptr;
  };
  auto at = [&](int64_t t, int64_t n, int64_t width) {  // offset in a layout-ordered buffer
    return static_cast<size_t>((data_layout == SIMDRNN_TIME_MAJOR ? t * N + n : n * T + t) * width);
  };
  auto len_of = [&](int64_t n) { return seq_lens != nullptr ? seq_lens[n] : T; };

  RefForwardD r;
  r.h_n.assign(static_cast<size_t>(L * D * N * H), 0.0);
  // Current layer input, time-major [T, N, in].
  int64_t in = I;
  std::vector<double> input(static_cast<size_t>(T * N * I));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < I; ++i) input[static_cast<size_t>((t * N + n) * I + i)] = x[at(t, n, I) + i];
  std::vector<double> output, pre_tm;
  std::vector<double> h(static_cast<size_t>(H)), next(static_cast<size_t>(H));
  for (int64_t l = 0; l < L; ++l) {
    output.assign(static_cast<size_t>(T * N * C), 0.0);
    pre_tm.assign(static_cast<size_t>(T * N * C), 0.0);
    for (int64_t d = 0; d < D; ++d) {
      const std::string suffix = cell_suffix(l, d);
      const double* w_ih = tensor("weight_ih" + suffix);
      const double* w_hh = tensor("weight_hh" + suffix);
      const double* b_ih = tensor("bias_ih" + suffix);
      const double* b_hh = tensor("bias_hh" + suffix);
      const int64_t state = l * D + d;
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t j = 0; j < H; ++j)
          h[static_cast<size_t>(j)] =
              h0 != nullptr ? (*h0)[static_cast<size_t>((state * N + n) * H + j)] : 0.0;
        const int64_t len = len_of(n);
        for (int64_t step = 0; step < len; ++step) {
          const int64_t t = d == 0 ? step : len - 1 - step;
          const double* xt = &input[static_cast<size_t>((t * N + n) * in)];
          for (int64_t j = 0; j < H; ++j) {
            double sum = (b_ih != nullptr ? b_ih[j] : 0.0) + (b_hh != nullptr ? b_hh[j] : 0.0);
            for (int64_t i = 0; i < in; ++i) sum += w_ih[j * in + i] * xt[i];
            for (int64_t k = 0; k < H; ++k) sum += w_hh[j * H + k] * h[static_cast<size_t>(k)];
            r.pre.push_back(sum);
            pre_tm[static_cast<size_t>((t * N + n) * C + d * H + j)] = sum;
            if (clip > 0.0) sum = std::min(std::max(sum, -clip), clip);
            double v = 0.0;
            switch (config.activation) {
              case SIMDRNN_TANH:
                v = std::tanh(sum);
                break;
              case SIMDRNN_RELU:
                v = sum > 0.0 ? sum : 0.0;
                break;
              case SIMDRNN_SIGMOID:
                v = 1.0 / (1.0 + std::exp(-sum));
                break;
            }
            next[static_cast<size_t>(j)] = v;
          }
          h.swap(next);
          for (int64_t j = 0; j < H; ++j)
            output[static_cast<size_t>((t * N + n) * C + d * H + j)] = h[static_cast<size_t>(j)];
        }
        for (int64_t j = 0; j < H; ++j)
          r.h_n[static_cast<size_t>((state * N + n) * H + j)] = h[static_cast<size_t>(j)];
      }
    }
    r.layer_out.push_back(output);
    r.layer_pre.push_back(pre_tm);
    input.swap(output);
    in = C;
  }
  r.y.assign(static_cast<size_t>(T * N * C), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) r.y[at(t, n, C) + c] = input[static_cast<size_t>((t * N + n) * C + c)];
  if (O > 0) {
    const double* w_hy = tensor("weight_hy");
    const double* b_hy = tensor("bias_hy");
    r.out.assign(static_cast<size_t>(T * N * O), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) {
        if (t >= len_of(n)) continue;  // padding: out is exactly 0
        const double* yt = &input[static_cast<size_t>((t * N + n) * C)];
        for (int64_t o = 0; o < O; ++o) {
          double sum = b_hy != nullptr ? b_hy[o] : 0.0;
          for (int64_t c = 0; c < C; ++c) sum += w_hy[o * C + c] * yt[c];
          r.out[at(t, n, O) + o] = sum;
        }
      }
  }
  return r;
}

RefBackwardD reference_backward_flat(const simdrnn_config& config, const std::vector<ParamTensor>& layout,
                                     const std::vector<double>& params, int64_t T, int64_t N,
                                     simdrnn_layout data_layout, const std::vector<double>& x,
                                     const std::vector<double>* h0, const int64_t* seq_lens,
                                     const std::vector<double>* dy, const std::vector<double>* dout,
                                     const std::vector<double>* dh_n, double h_error,
                                     const std::vector<double>* c0, const std::vector<double>* dc_n) {
  if (config.cell != SIMDRNN_CELL_RNN)
    return gated_backward_flat(config, layout, params, T, N, data_layout, x, h0, seq_lens, dy, dout, dh_n,
                               h_error, c0, dc_n);
  const int64_t I = config.input_size, H = config.hidden_size, L = config.num_layers;
  const int64_t D = num_directions(config), O = config.output_size, C = D * H;
  const double clip = config.clip;
  const RefForwardD f = reference_forward_flat(config, layout, params, T, N, data_layout, x, h0, seq_lens);
  auto at = [&](int64_t t, int64_t n, int64_t width) {
    return static_cast<size_t>((data_layout == SIMDRNN_TIME_MAJOR ? t * N + n : n * T + t) * width);
  };
  auto tm = [&](int64_t t, int64_t n, int64_t width) { return static_cast<size_t>((t * N + n) * width); };
  auto len_of = [&](int64_t n) { return seq_lens != nullptr ? seq_lens[n] : T; };
  auto slot = [&](const std::string& name) -> const ParamTensor* { return find_param(layout, name); };

  RefBackwardD b;
  b.grads.assign(params.size(), 0.0);
  b.grads_mag.assign(params.size(), 0.0);
  b.grads_sens.assign(params.size(), 0.0);
  b.dh0.assign(static_cast<size_t>(L * D * N * H), 0.0);
  b.dh0_mag.assign(b.dh0.size(), 0.0);
  b.dh0_sens.assign(b.dh0.size(), 0.0);
  const double eps = h_error;

  // dL/d(top layer output), time-major, and its magnitude.
  std::vector<double> g(static_cast<size_t>(T * N * C), 0.0), g_mag(g.size(), 0.0), g_sens(g.size(), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        if (dy != nullptr) {
          g[tm(t, n, C) + c] = (*dy)[at(t, n, C) + c];
          g_mag[tm(t, n, C) + c] = std::fabs((*dy)[at(t, n, C) + c]);
        }
  if (O > 0 && dout != nullptr) {
    const ParamTensor* w = slot("weight_hy");
    const ParamTensor* bias = slot("bias_hy");
    const std::vector<double>& y = f.layer_out[static_cast<size_t>(L - 1)];
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) {
        if (t >= len_of(n)) continue;  // out is constant 0 at padding
        for (int64_t o = 0; o < O; ++o) {
          const double go = (*dout)[at(t, n, O) + o];
          if (bias != nullptr) {
            b.grads[static_cast<size_t>(bias->offset + o)] += go;
            b.grads_mag[static_cast<size_t>(bias->offset + o)] += std::fabs(go);
          }
          for (int64_t c = 0; c < C; ++c) {
            const size_t wi = static_cast<size_t>(w->offset + o * C + c);
            b.grads[wi] += go * y[tm(t, n, C) + c];
            b.grads_mag[wi] += std::fabs(go * y[tm(t, n, C) + c]);
            b.grads_sens[wi] += std::fabs(go) * eps;
            g[tm(t, n, C) + c] += go * params[wi];
            g_mag[tm(t, n, C) + c] += std::fabs(go * params[wi]);
          }
        }
      }
  }

  std::vector<double> carry(static_cast<size_t>(H)), carry_mag(carry.size()), carry_sens(carry.size()),
      da(carry.size()), da_mag(carry.size()), da_sens(carry.size()), next(carry.size()),
      next_mag(carry.size()), next_sens(carry.size());
  for (int64_t l = L - 1; l >= 0; --l) {
    const int64_t in = l == 0 ? I : C;
    std::vector<double> input(static_cast<size_t>(T * N * in));
    if (l == 0) {
      for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t i = 0; i < I; ++i) input[tm(t, n, I) + i] = x[at(t, n, I) + i];
    } else {
      input = f.layer_out[static_cast<size_t>(l - 1)];
    }
    const std::vector<double>& out_l = f.layer_out[static_cast<size_t>(l)];
    const std::vector<double>& pre_l = f.layer_pre[static_cast<size_t>(l)];
    std::vector<double> g_in(static_cast<size_t>(T * N * in), 0.0), g_in_mag(g_in.size(), 0.0),
        g_in_sens(g_in.size(), 0.0);
    const double in_eps = l == 0 ? 0.0 : eps;  // x is exact, a lower layer's output is not
    for (int64_t d = 0; d < D; ++d) {
      const std::string suffix = cell_suffix(l, d);
      const ParamTensor* w_ih = slot("weight_ih" + suffix);
      const ParamTensor* w_hh = slot("weight_hh" + suffix);
      const ParamTensor* b_ih = slot("bias_ih" + suffix);
      const ParamTensor* b_hh = slot("bias_hh" + suffix);
      const int64_t state = l * D + d;
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t j = 0; j < H; ++j) {
          const size_t s = static_cast<size_t>((state * N + n) * H + j);
          carry[static_cast<size_t>(j)] = dh_n != nullptr ? (*dh_n)[s] : 0.0;
          carry_mag[static_cast<size_t>(j)] = dh_n != nullptr ? std::fabs((*dh_n)[s]) : 0.0;
          carry_sens[static_cast<size_t>(j)] = 0.0;
        }
        const int64_t len = len_of(n);
        for (int64_t step = len - 1; step >= 0; --step) {
          const int64_t t = d == 0 ? step : len - 1 - step;
          const int64_t tp = d == 0 ? t - 1 : t + 1;  // the step whose state this one started from
          const bool first = step == 0;
          for (int64_t j = 0; j < H; ++j) {
            const size_t o = tm(t, n, C) + static_cast<size_t>(d * H + j);
            const double z = pre_l[o], hv = out_l[o];
            double slope = 0.0, slope_sens = 0.0;  // slope_sens: |d slope / d h| * eps
            switch (config.activation) {
              case SIMDRNN_TANH:
                slope = 1.0 - hv * hv;
                slope_sens = 2.0 * std::fabs(hv) * eps;
                break;
              case SIMDRNN_RELU:
                slope = z > 0.0 ? 1.0 : 0.0;
                break;
              case SIMDRNN_SIGMOID:
                slope = hv * (1.0 - hv);
                slope_sens = std::fabs(1.0 - 2.0 * hv) * eps;
                break;
            }
            if (clip > 0.0 && (z > clip || z < -clip)) slope = slope_sens = 0.0;
            const size_t js = static_cast<size_t>(j);
            da[js] = (g[o] + carry[js]) * slope;
            da_mag[js] = (g_mag[o] + carry_mag[js]) * std::fabs(slope);
            da_sens[js] =
                (g_mag[o] + carry_mag[js]) * slope_sens + (g_sens[o] + carry_sens[js]) * std::fabs(slope);
          }
          for (int64_t j = 0; j < H; ++j) {
            const double a = da[static_cast<size_t>(j)], am = da_mag[static_cast<size_t>(j)];
            const double as = da_sens[static_cast<size_t>(j)];
            for (const ParamTensor* bias : {b_ih, b_hh})
              if (bias != nullptr) {
                b.grads[static_cast<size_t>(bias->offset + j)] += a;
                b.grads_mag[static_cast<size_t>(bias->offset + j)] += am;
                b.grads_sens[static_cast<size_t>(bias->offset + j)] += as;
              }
            for (int64_t i = 0; i < in; ++i) {
              const size_t wi = static_cast<size_t>(w_ih->offset + j * in + i);
              const double xi = input[tm(t, n, in) + i];
              b.grads[wi] += a * xi;
              b.grads_mag[wi] += am * std::fabs(xi);
              b.grads_sens[wi] += as * std::fabs(xi) + am * in_eps;
              g_in[tm(t, n, in) + i] += a * params[wi];
              g_in_mag[tm(t, n, in) + i] += am * std::fabs(params[wi]);
              g_in_sens[tm(t, n, in) + i] += as * std::fabs(params[wi]);
            }
            for (int64_t k = 0; k < H; ++k) {
              double prev = 0.0, prev_eps = 0.0;
              if (!first) {
                prev = out_l[tm(tp, n, C) + static_cast<size_t>(d * H + k)];
                prev_eps = eps;
              } else if (h0 != nullptr) {
                prev = (*h0)[static_cast<size_t>((state * N + n) * H + k)];
              }
              const size_t wi = static_cast<size_t>(w_hh->offset + j * H + k);
              b.grads[wi] += a * prev;
              b.grads_mag[wi] += am * std::fabs(prev);
              b.grads_sens[wi] += as * std::fabs(prev) + am * prev_eps;
            }
          }
          for (int64_t k = 0; k < H; ++k) {
            double s = 0.0, m = 0.0, e = 0.0;
            for (int64_t j = 0; j < H; ++j) {
              const double w = params[static_cast<size_t>(w_hh->offset + j * H + k)];
              s += w * da[static_cast<size_t>(j)];
              m += std::fabs(w) * da_mag[static_cast<size_t>(j)];
              e += std::fabs(w) * da_sens[static_cast<size_t>(j)];
            }
            next[static_cast<size_t>(k)] = s;
            next_mag[static_cast<size_t>(k)] = m;
            next_sens[static_cast<size_t>(k)] = e;
          }
          carry.swap(next);
          carry_mag.swap(next_mag);
          carry_sens.swap(next_sens);
        }
        for (int64_t k = 0; k < H; ++k) {
          const size_t s = static_cast<size_t>((state * N + n) * H + k);
          b.dh0[s] = carry[static_cast<size_t>(k)];
          b.dh0_mag[s] = carry_mag[static_cast<size_t>(k)];
          b.dh0_sens[s] = carry_sens[static_cast<size_t>(k)];
        }
      }
    }
    g.swap(g_in);
    g_mag.swap(g_in_mag);
    g_sens.swap(g_in_sens);
  }
  b.dx.assign(static_cast<size_t>(T * N * I), 0.0);
  b.dx_mag.assign(b.dx.size(), 0.0);
  b.dx_sens.assign(b.dx.size(), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < I; ++i) {
        b.dx[at(t, n, I) + i] = g[tm(t, n, I) + i];
        b.dx_mag[at(t, n, I) + i] = g_mag[tm(t, n, I) + i];
        b.dx_sens[at(t, n, I) + i] = g_sens[tm(t, n, I) + i];
      }
  return b;
}

double kink_distance(const simdrnn_config& config, const std::vector<double>& pre) {
  double best = std::numeric_limits<double>::infinity();
  for (double v : pre) {
    if (config.cell == SIMDRNN_CELL_RNN && config.activation == SIMDRNN_RELU)
      best = std::min(best, std::fabs(v));
    if (config.clip > 0.0f) {
      best = std::min(best, std::fabs(v - config.clip));
      best = std::min(best, std::fabs(v + config.clip));
    }
  }
  return best;
}

}  // namespace simdrnn_test
