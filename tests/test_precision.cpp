// Reduced-precision weights (simdrnn_config.weight_precision = BF16 / INT8) on every ISA level this
// CPU has, for every cell: the forward pass against the double reference run on the dequantized
// weights (what the model holds: this checks the kernels) and on the f32 weights (what the user
// gets), with the worst errors documented in docs/design.md ("Weight precision") asserted here;
// bit-identical across thread counts; a stream reproduces the forward pass bit for bit; training
// is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/gated_util.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

// The library's test hook (src/internal.hpp, which this file cannot include beside simdrnn.hpp):
// 1 = bf16 dot product, 0 = widening, -1 = back to SIMDRNN_BF16_DOT / the measurement.
namespace simdrnn {
inline namespace lib {
void set_bf16_dot_policy_for_testing(int policy);
}
}  // namespace simdrnn

namespace simdrnn_test {
namespace {

// ---- the quantisation the library documents, applied to reference weights ----
float bf16_round(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  b += 0x7fffu + ((b >> 16) & 1u);
  b &= 0xffff0000u;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// W [rows, cols] row-major: bf16 element-wise, or int8 with one scale per row.
void dequantize(std::vector<float>& w, int64_t cols, simdrnn_precision precision) {
  if (w.empty() || precision == SIMDRNN_PRECISION_F32) return;
  if (precision == SIMDRNN_PRECISION_BF16) {
    for (float& v : w) v = bf16_round(v);
    return;
  }
  const int64_t rows = static_cast<int64_t>(w.size()) / cols;
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0.0f;
    for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
    const float scale = amax > 0.0f ? amax / 127.0f : 0.0f;
    for (int64_t c = 0; c < cols; ++c) {
      float& v = w[r * cols + c];
      const float q = scale > 0.0f ? std::max(-127.0f, std::min(127.0f, std::nearbyint(v / scale))) : 0.0f;
      v = q * scale;
    }
  }
}

RefWeights dequantized(const simdrnn_config& c, RefWeights w) {
  const simdrnn_precision p = c.weight_precision;
  for (size_t i = 0; i < w.cells.size(); ++i) {
    RefCell& cell = w.cells[i];
    const int64_t layer = static_cast<int64_t>(i) / num_directions(c);
    dequantize(cell.w_ih, layer_input_size(c, layer), p);
    dequantize(cell.w_hh, hidden_out(c), p);
    dequantize(cell.w_hr, c.hidden_size, p);
  }
  dequantize(w.w_hy, num_directions(c) * hidden_out(c), p);
  return w;
}

// ---- cases -------------------------------------------------------------------
struct Variant {
  const char* name;
  simdrnn_cell cell;
  simdrnn_activation activation;
  bool peephole, projection;
  int32_t lbr;
};
const Variant kVariants[] = {
    {"rnn_tanh", SIMDRNN_CELL_RNN, SIMDRNN_TANH, false, false, 1},
    {"rnn_relu", SIMDRNN_CELL_RNN, SIMDRNN_RELU, false, false, 1},
    {"lstm", SIMDRNN_CELL_LSTM, SIMDRNN_TANH, false, false, 1},
    {"lstm_peephole_proj", SIMDRNN_CELL_LSTM, SIMDRNN_TANH, true, true, 1},
    {"gru", SIMDRNN_CELL_GRU, SIMDRNN_TANH, false, false, 1},
    {"gru_reset_first", SIMDRNN_CELL_GRU, SIMDRNN_TANH, false, false, 0},
};

struct Shape {
  int64_t input, hidden, layers, T, N, output;
  bool bidirectional, batch_first, lens;
};
// Tails of every SIMD width in I and H; layers, both directions, lengths, both layouts, an output layer.
const Shape kShapes[] = {
    {7, 9, 2, 6, 3, 5, true, false, true},
    {33, 65, 1, 5, 2, 3, false, true, false},
    {17, 1, 2, 4, 1, 1, true, true, true},
};

struct Case {
  simdrnn_isa isa;
  const Variant* variant;
  simdrnn_precision precision;
  // Where the level has the bf16 dot product, both bf16 kernels are tested:
  // the measured choice (SIMDRNN_BF16_DOT=auto) is forced either way.
  bool bf16_dot = false;
  std::string name() const {
    return std::string(simdrnn_isa_name(isa)) + "_" + variant->name + "_" +
           (precision == SIMDRNN_PRECISION_BF16 ? (bf16_dot ? "bf16dot" : "bf16") : "int8");
  }
  // Which kernels run: the level has the dot product for this precision.
  bool dot() const {
    return precision == SIMDRNN_PRECISION_BF16 ? bf16_dot
                                               : isa == SIMDRNN_ISA_AVX2_VNNI || isa >= SIMDRNN_ISA_AVX512_VNNI;
  }
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name(); }

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (simdrnn_isa isa : available_isa_levels())
    for (const Variant& v : kVariants)
      for (simdrnn_precision p : {SIMDRNN_PRECISION_BF16, SIMDRNN_PRECISION_INT8}) {
        cases.push_back({isa, &v, p, false});
        if (p == SIMDRNN_PRECISION_BF16 && isa == SIMDRNN_ISA_AVX512_BF16) cases.push_back({isa, &v, p, true});
      }
  return cases;
}

simdrnn_config make_config(const Variant& v, const Shape& s, simdrnn_precision precision) {
  simdrnn_config c = simdrnn_config_default();
  c.input_size = s.input;
  c.hidden_size = s.hidden;
  c.num_layers = s.layers;
  c.bidirectional = s.bidirectional ? 1 : 0;
  c.output_size = s.output;
  c.cell = v.cell;
  c.activation = v.activation;
  c.proj_size = v.projection ? projection_for(s.hidden) : 0;
  c.gru_linear_before_reset = v.lbr;
  c.weight_precision = precision;
  return c;
}

struct Outputs {
  std::vector<float> y, h_n, c_n, out;
};

Outputs run_forward(const simdrnn_model* model, const simdrnn_config& c, const Shape& s, const std::vector<float>& x,
                    const std::vector<float>& h0, const std::vector<float>& c0, const int64_t* lens, int threads) {
  simdrnn_forward_args a{};
  a.seq_len = s.T;
  a.batch = s.N;
  a.layout = s.batch_first ? SIMDRNN_BATCH_MAJOR : SIMDRNN_TIME_MAJOR;
  a.x = x.data();
  a.h0 = h0.data();
  a.c0 = c.cell == SIMDRNN_CELL_LSTM ? c0.data() : nullptr;
  a.seq_lens = lens;
  const simdrnn_sizes sz = sizes_of(model, a);
  Outputs o;
  o.y.assign(static_cast<size_t>(sz.y), -7.0f);
  o.h_n.assign(static_cast<size_t>(sz.h), -7.0f);
  o.c_n.assign(static_cast<size_t>(sz.c), -7.0f);
  o.out.assign(static_cast<size_t>(sz.out), -7.0f);
  std::vector<unsigned char> ws(sz.workspace);
  a.y = o.y.data();
  a.h_n = o.h_n.data();
  a.c_n = sz.c ? o.c_n.data() : nullptr;
  a.out = sz.out ? o.out.data() : nullptr;
  a.workspace = ws.data();
  a.workspace_size = ws.size();
  a.num_threads = threads;
  EXPECT_EQ(simdrnn_forward(model, &a), SIMDRNN_OK) << simdrnn_last_error();
  return o;
}

// Worst |got - ref| of one tensor; `scale` divides it (the output layer's values are not O(1)).
double worst(const std::vector<float>& got, const std::vector<double>& ref) {
  double w = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(static_cast<double>(got[i]) - ref[i]);
    w = std::isnan(e) ? INFINITY : std::max(w, e);
  }
  return w;
}

// The documented worst errors (docs/design.md, "Weight precision"): per precision, for the kernels
// that widen the weights (A stays f32) and for the dot-product kernels (A rounded too).
struct Bounds {
  double vs_dequantized, vs_f32;
};
Bounds documented(simdrnn_precision p, bool dot) {
  if (p == SIMDRNN_PRECISION_BF16) return dot ? Bounds{1e-2, 2e-2} : Bounds{1e-5, 2e-2};
  return dot ? Bounds{2e-2, 3e-2} : Bounds{1e-5, 3e-2};
}

// Forces the bf16 kernel choice for one test (models built meanwhile keep theirs).
struct Bf16DotPolicy {
  explicit Bf16DotPolicy(bool dot) { simdrnn::set_bf16_dot_policy_for_testing(dot ? 1 : 0); }
  ~Bf16DotPolicy() { simdrnn::set_bf16_dot_policy_for_testing(-1); }
};

class PrecisionTest : public ::testing::TestWithParam<Case> {};

TEST_P(PrecisionTest, MatchesReferenceWithinDocumentedErrors) {
  const Case& tc = GetParam();
  IsaCap cap(tc.isa);
  ASSERT_EQ(simdrnn_active_isa(), tc.isa);
  Bf16DotPolicy policy(tc.bf16_dot);
  double worst_deq = 0.0, worst_f32 = 0.0;
  const bool dot = tc.dot();
  uint32_t seed = 900;
  for (const Shape& s : kShapes) {
    if (quick_mode() && &s != &kShapes[0]) break;  // the sanitizer run: one shape
    const simdrnn_config c = make_config(*tc.variant, s, tc.precision);
    SCOPED_TRACE(tc.name() + " I" + std::to_string(s.input) + " H" + std::to_string(s.hidden));
    const RefWeights w = random_ref_weights(c, seed++, true, tc.variant->peephole);
    std::string error;
    simdrnn_model* model = create_model(c, w, &error);
    ASSERT_NE(model, nullptr) << error;
    simdrnn_config back{};
    ASSERT_EQ(simdrnn_model_config(model, &back), SIMDRNN_OK);
    EXPECT_EQ(back.weight_precision, tc.precision);

    const int64_t D = num_directions(c), L = c.num_layers;
    const auto x = random_vector(static_cast<size_t>(s.T * s.N * s.input), seed++);
    const auto h0 = random_vector(static_cast<size_t>(L * D * s.N * hidden_out(c)), seed++, -0.5f, 0.5f);
    const auto c0 = random_vector(static_cast<size_t>(L * D * s.N * s.hidden), seed++, -0.5f, 0.5f);
    const std::vector<int64_t> lens = random_seq_lens(s.T, s.N, seed++);
    const int64_t* lp = s.lens ? lens.data() : nullptr;
    const simdrnn_layout layout = s.batch_first ? SIMDRNN_BATCH_MAJOR : SIMDRNN_TIME_MAJOR;
    const bool lstm = c.cell == SIMDRNN_CELL_LSTM;

    const Outputs got = run_forward(model, c, s, x, h0, c0, lp, 1);
    // Thread counts change no bit.
    for (int threads : {2, 3}) {
      const Outputs other = run_forward(model, c, s, x, h0, c0, lp, threads);
      EXPECT_TRUE(bit_identical(other.y, got.y, "y, threads " + std::to_string(threads)));
      EXPECT_TRUE(bit_identical(other.h_n, got.h_n, "h_n"));
      EXPECT_TRUE(bit_identical(other.c_n, got.c_n, "c_n"));
      EXPECT_TRUE(bit_identical(other.out, got.out, "out"));
    }

    simdrnn_config f32 = c;
    f32.weight_precision = SIMDRNN_PRECISION_F32;
    const RefResult ref_deq =
        reference_forward(f32, dequantized(c, w), s.T, s.N, layout, x, h0.data(), lp, lstm ? c0.data() : nullptr);
    const RefResult ref_f32 = reference_forward(f32, w, s.T, s.N, layout, x, h0.data(), lp, lstm ? c0.data() : nullptr);

    // The output layer's values run to a few units: its errors are taken relative to its largest.
    double out_scale = 1.0;
    for (double v : ref_f32.out) out_scale = std::max(out_scale, std::fabs(v));
    const double deq = std::max({worst(got.y, ref_deq.y), worst(got.h_n, ref_deq.h_n),
                                 lstm ? worst(got.c_n, ref_deq.c_n) : 0.0, worst(got.out, ref_deq.out) / out_scale});
    const double full = std::max({worst(got.y, ref_f32.y), worst(got.h_n, ref_f32.h_n),
                                  lstm ? worst(got.c_n, ref_f32.c_n) : 0.0, worst(got.out, ref_f32.out) / out_scale});
    worst_deq = std::max(worst_deq, deq);
    worst_f32 = std::max(worst_f32, full);
    if (!dot) {
      // Widened weights, f32 everything else: the f32 forward tests' tolerance on the dequantized model.
      const Tolerance tol = default_tolerance();
      EXPECT_TRUE(compare_with_reference(got.y.data(), ref_deq.y, ref_deq.y_mag, ref_deq.k_hidden, tol, "y").ok());
      EXPECT_TRUE(
          compare_with_reference(got.h_n.data(), ref_deq.h_n, ref_deq.h_n_mag, ref_deq.k_hidden, tol, "h_n").ok());
      if (lstm) {
        EXPECT_TRUE(
            compare_with_reference(got.c_n.data(), ref_deq.c_n, ref_deq.c_n_mag, ref_deq.k_hidden, tol, "c_n").ok());
      }
      if (c.output_size) {
        EXPECT_TRUE(
            compare_with_reference(got.out.data(), ref_deq.out, ref_deq.out_mag, ref_deq.k_out, tol, "out").ok());
      }
    }
    // The weights did change: the model is not silently f32 (rounding moves some output).
    EXPECT_GT(worst(got.y, ref_f32.y) + worst(got.h_n, ref_f32.h_n), 0.0);
    simdrnn_model_destroy(model);
  }
  const Bounds b = documented(tc.precision, dot);
  std::printf("[ precision ] %s (%s): worst |error| vs dequantized %.3g (documented %.3g), vs f32 %.3g (documented %.3g)\n",
              tc.name().c_str(), dot ? "dot product" : "widened", worst_deq, b.vs_dequantized, worst_f32, b.vs_f32);
  EXPECT_LE(worst_deq, b.vs_dequantized);
  EXPECT_LE(worst_f32, b.vs_f32);
}

// A stream of 1, 2 or 3 steps per call reproduces the forward pass bit for bit.
TEST_P(PrecisionTest, StreamMatchesForward) {
  const Case& tc = GetParam();
  IsaCap cap(tc.isa);
  Bf16DotPolicy policy(tc.bf16_dot);
  const Shape s{9, 33, 2, 7, 2, 4, false, false, false};
  const simdrnn_config c = make_config(*tc.variant, s, tc.precision);
  const RefWeights w = random_ref_weights(c, 77, true, tc.variant->peephole);
  simdrnn_model* model = create_model(c, w);
  ASSERT_NE(model, nullptr);
  const auto x = random_vector(static_cast<size_t>(s.T * s.N * s.input), 78);
  const int64_t L = c.num_layers;
  const std::vector<float> h0(static_cast<size_t>(L * s.N * hidden_out(c)), 0.0f);
  const std::vector<float> c0(static_cast<size_t>(L * s.N * s.hidden), 0.0f);
  const Outputs whole = run_forward(model, c, s, x, h0, c0, nullptr, 2);
  for (int64_t chunk : {1, 2, 3}) {
    simdrnn_stream* stream = nullptr;
    ASSERT_EQ(simdrnn_stream_create(model, s.N, chunk, &stream), SIMDRNN_OK) << simdrnn_last_error();
    std::vector<float> y(whole.y.size()), out(whole.out.size());
    for (int64_t t = 0; t < s.T; t += chunk) {
      const int64_t n = std::min(chunk, s.T - t);
      ASSERT_EQ(simdrnn_stream_step(stream, n, x.data() + t * s.N * s.input, y.data() + t * s.N * hidden_out(c),
                                    out.data() + t * s.N * s.output, static_cast<int32_t>(1 + t % 2)),
                SIMDRNN_OK)
          << simdrnn_last_error();
    }
    EXPECT_TRUE(bit_identical(y, whole.y, "y, chunk " + std::to_string(chunk)));
    EXPECT_TRUE(bit_identical(out, whole.out, "out, chunk " + std::to_string(chunk)));
    simdrnn_stream_destroy(stream);
  }
  simdrnn_model_destroy(model);
}

INSTANTIATE_TEST_SUITE_P(Levels, PrecisionTest, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.name(); });

// Training needs f32 weights: every training entry point says so, naming weight_precision.
TEST(PrecisionTraining, RefusedWithAMessage) {
  for (simdrnn_precision p : {SIMDRNN_PRECISION_BF16, SIMDRNN_PRECISION_INT8}) {
    const Shape s{4, 8, 1, 3, 2, 0, false, false, false};
    const simdrnn_config c = make_config(kVariants[2], s, p);
    simdrnn_model* model = create_model(c, random_ref_weights(c, 5));
    ASSERT_NE(model, nullptr);
    simdrnn_forward_args a{};
    a.seq_len = s.T;
    a.batch = s.N;
    const auto x = random_vector(static_cast<size_t>(s.T * s.N * s.input), 6);
    a.x = x.data();
    size_t bytes = 0;
    EXPECT_EQ(simdrnn_training_reserve_size(model, &a, &bytes), SIMDRNN_UNSUPPORTED);
    const std::string message = simdrnn_last_error();
    EXPECT_NE(message.find("weight_precision"), std::string::npos) << message;
    EXPECT_NE(message.find("training"), std::string::npos) << message;
    simdrnn_model_destroy(model);
  }
}

}  // namespace
}  // namespace simdrnn_test
