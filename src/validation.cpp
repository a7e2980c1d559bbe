// Argument checks shared by the C entry points (validation.hpp).
#include "src/validation.hpp"

#include <cstring>
#include <utility>

#include "src/handles.hpp"

namespace simdrnn {
inline namespace lib {

simdrnn_status check_regions(const Region* regions, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (regions[i].begin % regions[i].align != 0)
      SIMDRNN_FAIL("%s: expected a pointer aligned to %zu bytes (%s), got %p", regions[i].name,
                   regions[i].align, regions[i].type, reinterpret_cast<void*>(regions[i].begin));
  for (size_t i = 0; i < count; ++i)
    for (size_t j = i + 1; j < count; ++j) {
      const Region &a = regions[i], &b = regions[j];
      if (!(a.written || b.written) || a.begin == a.end || b.begin == b.end) continue;
      if (a.end <= b.begin || b.end <= a.begin) continue;
      const bool exact = a.begin == b.begin && a.end == b.end;
      if (exact &&
          ((a.same_as && !std::strcmp(a.same_as, b.name)) || (b.same_as && !std::strcmp(b.same_as, a.name))))
        continue;
      SIMDRNN_FAIL(
          "%s and %s: expected non-overlapping buffers, got overlapping "
          "ranges [%p, %p) and [%p, %p)",
          a.name, b.name, reinterpret_cast<void*>(a.begin), reinterpret_cast<void*>(a.end),
          reinterpret_cast<void*>(b.begin), reinterpret_cast<void*>(b.end));
    }
  return SIMDRNN_OK;
}

// Validates sizes and enums of a forward call; fills element counts.
simdrnn_status check_shape_args(const Model& m, const simdrnn_forward_args* a, Shapes* s) {
  if (!a) SIMDRNN_FAIL("args: expected a non-NULL simdrnn_forward_args*, got NULL");
  if (a->seq_len < 1)
    SIMDRNN_FAIL("args->seq_len: expected >= 1, got %lld", static_cast<long long>(a->seq_len));
  if (a->batch < 1) SIMDRNN_FAIL("args->batch: expected >= 1, got %lld", static_cast<long long>(a->batch));
  const int layout = raw_enum(a->layout);
  if (layout != SIMDRNN_TIME_MAJOR && layout != SIMDRNN_BATCH_MAJOR)
    SIMDRNN_FAIL("args->layout: expected SIMDRNN_TIME_MAJOR (0) or SIMDRNN_BATCH_MAJOR (1), got %d", layout);
  const simdrnn_config& c = m.config;
  const int64_t rows = checked_product({a->seq_len, a->batch});
  s->x = checked_product({rows, c.input_size});
  s->y = checked_product({rows, m.directions, hidden_out(c)});
  s->h = checked_product({c.num_layers, m.directions, a->batch, hidden_out(c)});
  s->c = c.cell == SIMDRNN_CELL_LSTM ? checked_product({c.num_layers, m.directions, a->batch, c.hidden_size})
                                     : 0;
  s->out = checked_product({rows, c.output_size});
  constexpr int64_t kMax = int64_t{1} << 58;  // elements; keeps byte counts and sums exact
  for (int64_t v : {rows, s->x, s->y, s->h, s->c, s->out})
    if (v < 0 || v > kMax)
      SIMDRNN_FAIL(
          "args->seq_len, args->batch: tensor sizes overflow (seq_len %lld x batch %lld with "
          "input_size %lld, hidden_size %lld): expected every tensor below 2^58 elements",
          static_cast<long long>(a->seq_len), static_cast<long long>(a->batch),
          static_cast<long long>(c.input_size), static_cast<long long>(c.hidden_size));
  s->workspace = forward_workspace_layout(m, a->seq_len, a->batch, a->y != nullptr, nullptr, nullptr);
  s->reserve = training_reserve_layout(m, a->seq_len, a->batch, nullptr, nullptr);
  s->backward_workspace = backward_workspace_bytes(m, a->seq_len, a->batch);
  const std::pair<const char*, int64_t> sizes[] = {{"workspace", s->workspace},
                                                   {"training reserve", s->reserve},
                                                   {"backward workspace", s->backward_workspace}};
  for (const auto& [what, bytes] : sizes)
    if (bytes < 0)
      SIMDRNN_FAIL(
          "args->seq_len, args->batch: the %s size overflows (seq_len %lld x batch %lld with "
          "input_size %lld, hidden_size %lld, num_layers %lld): expected it below 2^62 bytes",
          what, static_cast<long long>(a->seq_len), static_cast<long long>(a->batch),
          static_cast<long long>(c.input_size), static_cast<long long>(c.hidden_size),
          static_cast<long long>(c.num_layers));
  return SIMDRNN_OK;
}

// Creation checks shared by streams and training sessions (`purpose` names
// the object in the bidirectional message); fills the state shapes.
simdrnn_status check_carried(const Model& m, int64_t batch, int64_t max_steps, const char* purpose,
                             Shapes* s) {
  if (m.directions != 1)
    return fail(SIMDRNN_UNSUPPORTED,
                "model: expected a unidirectional model for %s (the reverse direction needs the whole "
                "sequence), got a bidirectional one",
                purpose);
  if (batch < 1) SIMDRNN_FAIL("batch: expected >= 1, got %lld", static_cast<long long>(batch));
  if (max_steps < 1) SIMDRNN_FAIL("max_steps: expected >= 1, got %lld", static_cast<long long>(max_steps));
  simdrnn_forward_args probe{};
  probe.seq_len = max_steps;
  probe.batch = batch;
  if (check_shape_args(m, &probe, s))
    SIMDRNN_FAIL(
        "batch, max_steps: sizes overflow (batch %lld, max_steps %lld): expected every tensor "
        "below 2^58 elements",
        static_cast<long long>(batch), static_cast<long long>(max_steps));
  return SIMDRNN_OK;
}

simdrnn_status check_threads(int32_t n, const char* arg) {
  if (n < 0 || n > 4096) SIMDRNN_FAIL("%s: expected 0 (default) or 1..4096, got %d", arg, n);
  return SIMDRNN_OK;
}

simdrnn_status check_training_model(const Model& m) {
  if (m.config.weight_precision != SIMDRNN_PRECISION_F32)
    return fail(SIMDRNN_UNSUPPORTED,
                "model: training needs f32 weights; this model stores them in %s (weight_precision %d): reduced "
                "precision is for inference",
                m.config.weight_precision == SIMDRNN_PRECISION_BF16 ? "bf16" : "int8",
                static_cast<int>(m.config.weight_precision));
  if (m.config.num_layers > kMaxTrainingLayers)
    return fail(SIMDRNN_UNSUPPORTED, "model: training supports num_layers <= %lld, got %lld",
                static_cast<long long>(kMaxTrainingLayers), static_cast<long long>(m.config.num_layers));
  return SIMDRNN_OK;
}

simdrnn_status check_count(int64_t count, const char* arg) {
  if (count < 0 || count > (int64_t{1} << 58))
    SIMDRNN_FAIL("%s: expected 0..2^58, got %lld", arg, static_cast<long long>(count));
  return SIMDRNN_OK;
}

}  // namespace lib
}  // namespace simdrnn
