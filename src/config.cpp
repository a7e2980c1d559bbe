// Configuration checks (simdrnn_config), before anything is built from one.
#include <cstring>
#include <string>
#include <utility>

#include "src/cell.hpp"
#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {

simdrnn_status validate_config(const simdrnn_config* c, const char* arg) {
  if (!c) return fail(SIMDRNN_INVALID_ARGUMENT, "%s: expected a non-NULL simdrnn_config*, got NULL", arg);
  if (c->input_size < 1)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->input_size: expected >= 1, got %lld", arg,
                static_cast<long long>(c->input_size));
  if (c->hidden_size < 1)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->hidden_size: expected >= 1, got %lld", arg,
                static_cast<long long>(c->hidden_size));
  if (c->num_layers < 1)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->num_layers: expected >= 1, got %lld", arg,
                static_cast<long long>(c->num_layers));
  if (c->bidirectional != 0 && c->bidirectional != 1)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->bidirectional: expected 0 or 1, got %d", arg,
                static_cast<int>(c->bidirectional));
  const int cell = raw_enum(c->cell);
  if (cell != SIMDRNN_CELL_RNN && cell != SIMDRNN_CELL_LSTM && cell != SIMDRNN_CELL_GRU)
    return fail(
        SIMDRNN_INVALID_ARGUMENT,
        "%s->cell: expected SIMDRNN_CELL_RNN (0), SIMDRNN_CELL_LSTM (1) or SIMDRNN_CELL_GRU (2), got %d", arg,
        cell);
  const int act = raw_enum(c->activation);
  if (act != SIMDRNN_TANH && act != SIMDRNN_RELU && act != SIMDRNN_SIGMOID)
    return fail(SIMDRNN_INVALID_ARGUMENT,
                "%s->activation: expected SIMDRNN_TANH (0), SIMDRNN_RELU (1) or SIMDRNN_SIGMOID (2), got %d",
                arg, act);
  if (cell != SIMDRNN_CELL_RNN && act != SIMDRNN_TANH)
    return fail(SIMDRNN_UNSUPPORTED,
                "%s->activation: expected SIMDRNN_TANH (the default) for an LSTM or GRU cell, whose gate "
                "activations are fixed (sigmoid gates, tanh candidate); got %d",
                arg, act);
  if (c->proj_size < 0 || (c->proj_size > 0 && cell != SIMDRNN_CELL_LSTM) ||
      (c->proj_size > 0 && c->proj_size >= c->hidden_size))
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->proj_size: expected %s, got %lld", arg,
                cell == SIMDRNN_CELL_LSTM ? "0 (none) or 1..hidden_size-1" : "0 (projections are LSTM only)",
                static_cast<long long>(c->proj_size));
  if (c->gru_linear_before_reset != 0 && c->gru_linear_before_reset != 1)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->gru_linear_before_reset: expected 0 or 1, got %d", arg,
                static_cast<int>(c->gru_linear_before_reset));
  const int precision = raw_enum(c->weight_precision);
  if (precision != SIMDRNN_PRECISION_F32 && precision != SIMDRNN_PRECISION_BF16 &&
      precision != SIMDRNN_PRECISION_INT8)
    return fail(SIMDRNN_INVALID_ARGUMENT,
                "%s->weight_precision: expected SIMDRNN_PRECISION_F32 (0), SIMDRNN_PRECISION_BF16 (1) or "
                "SIMDRNN_PRECISION_INT8 (2), got %d",
                arg, precision);
  if (!(c->clip >= 0.0f))
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->clip: expected >= 0 (0 = off), got %g", arg,
                static_cast<double>(c->clip));
  if (c->output_size < 0)
    return fail(SIMDRNN_INVALID_ARGUMENT, "%s->output_size: expected >= 0 (0 = none), got %lld", arg,
                static_cast<long long>(c->output_size));
  // Each dimension is capped first so that padding it (+64) cannot overflow;
  // then every weight tensor's element count must stay below 2^60, which keeps
  // all later products (panels, bytes) exact.
  constexpr int64_t kMaxDim = int64_t{1} << 40;
  const std::pair<const char*, int64_t> dims[] = {{"input_size", c->input_size},
                                                  {"hidden_size", c->hidden_size},
                                                  {"num_layers", c->num_layers},
                                                  {"output_size", c->output_size}};
  for (const auto& [name, value] : dims)
    if (value > kMaxDim)
      return fail(SIMDRNN_INVALID_ARGUMENT, "%s->%s: expected <= 2^40, got %lld", arg, name,
                  static_cast<long long>(value));
  constexpr int64_t kMaxElements = int64_t{1} << 60;
  const int64_t dirs = c->bidirectional ? 2 : 1;
  const int64_t G = cell_desc(c->cell).gate_count;
  const int64_t dh = checked_product({dirs, c->hidden_size});
  const int64_t in = c->input_size > dh ? c->input_size : dh;
  const int64_t gh = checked_product({G, c->hidden_size + 64});
  const int64_t biggest[] = {checked_product({gh, in + 64}), checked_product({gh, c->hidden_size + 64}),
                             checked_product({c->output_size + 64, dh + 64}),
                             checked_product({c->num_layers, dirs, gh})};
  for (int64_t b : biggest)
    if (dh < 0 || gh < 0 || b < 0 || b > kMaxElements)
      return fail(SIMDRNN_INVALID_ARGUMENT,
                  "%s: weight sizes overflow (input_size %lld, hidden_size %lld, num_layers %lld, "
                  "output_size %lld): expected every tensor below 2^60 elements",
                  arg, static_cast<long long>(c->input_size), static_cast<long long>(c->hidden_size),
                  static_cast<long long>(c->num_layers), static_cast<long long>(c->output_size));
  return SIMDRNN_OK;
}

}  // namespace lib
}  // namespace simdrnn
