// Plain double-precision reference forward pass of the Elman RNN and the tolerance checks the
// forward tests use; only simple loops here, nothing from the library's kernels.
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

}  // namespace

std::string cell_suffix(int64_t layer, int64_t direction) {
  return "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
}

RefWeights random_ref_weights(const simdrnn_config& config, uint32_t seed, bool with_bias) {
  const int64_t H = config.hidden_size, D = num_directions(config);
  const float bound = 1.0f / std::sqrt(static_cast<float>(H));
  RefWeights ref;
  uint32_t stream = seed * 7919u;
  for (int64_t l = 0; l < config.num_layers; ++l) {
    const int64_t in = layer_input_size(config, l);
    for (int64_t d = 0; d < D; ++d) {
      RefCell cell;
      cell.w_ih = random_vector(static_cast<size_t>(H * in), ++stream, -bound, bound);
      cell.w_hh = random_vector(static_cast<size_t>(H * H), ++stream, -bound, bound);
      if (with_bias) {
        cell.b_ih = random_vector(static_cast<size_t>(H), ++stream, -bound, bound);
        cell.b_hh = random_vector(static_cast<size_t>(H), ++stream, -bound, bound);
      }
      ref.cells.push_back(std::move(cell));
    }
  }
  if (config.output_size > 0) {
    const float out_bound = 1.0f / std::sqrt(static_cast<float>(D * H));
    ref.w_hy =
        random_vector(static_cast<size_t>(config.output_size * D * H), ++stream, -out_bound, out_bound);
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
            std::make_pair("bias_hh" + suffix, &cell.b_hh)}) {
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
                            const int64_t* seq_lens) {
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
