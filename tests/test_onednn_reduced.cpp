// The reduced-precision oneDNN baselines (support/onednn_reduced.hpp) against the f32 ones
// (OnednnRnn / OnednnGatedRnn) on small shapes: for every cell variant and data type that
// oneDNN supports on this CPU (as OnednnReducedRnn::supported says), y, h_n and c_n agree
// within a tolerance fitted to the precision; the tolerance is shown not to be vacuous (the
// reduced results differ from f32, and one wrong weight row breaks the check); unsupported
// combinations are refused by setup(); and the CPUs where oneDNN must support a data type do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/gated_util.hpp"
#include "support/onednn_reduced.hpp"
#include "support/onednn_rnn.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

struct Variant {
  const char* name;
  simdrnn_cell cell;
  bool peephole;
  bool projection;
  int32_t gru_linear_before_reset;
};

const Variant kVariants[] = {
    {"rnn_tanh", SIMDRNN_CELL_RNN, false, false, 1},
    {"lstm", SIMDRNN_CELL_LSTM, false, false, 1},
    {"lstm_peephole", SIMDRNN_CELL_LSTM, true, false, 1},
    {"lstm_proj", SIMDRNN_CELL_LSTM, false, true, 1},
    {"gru", SIMDRNN_CELL_GRU, false, false, 1},
    {"gru_reset_first", SIMDRNN_CELL_GRU, false, false, 0},
};

const ReducedType kTypes[] = {ReducedType::kBf16, ReducedType::kInt8};

// Layer layouts: one layer; two layers as one oneDNN primitive (I == H_out); two bidirectional
// layers chained one primitive per layer.
enum class Layout { kOneLayer, kTwoLayersSingle, kTwoLayersBidir };

constexpr int64_t kHidden = 17, kProj = 8, kSteps = 5, kBatch = 3;

simdrnn_config config_of(const Variant& v, Layout layout) {
  simdrnn_config c = simdrnn_config_default();
  c.cell = v.cell;
  c.activation = SIMDRNN_TANH;
  c.hidden_size = kHidden;
  c.proj_size = v.projection ? kProj : 0;
  c.gru_linear_before_reset = v.gru_linear_before_reset;
  const int64_t h_out = v.projection ? kProj : kHidden;
  c.input_size = layout == Layout::kTwoLayersSingle ? h_out : 7;
  c.num_layers = layout == Layout::kOneLayer ? 1 : 2;
  c.bidirectional = layout == Layout::kTwoLayersBidir ? 1 : 0;
  return c;
}

const char* layout_name(Layout layout) {
  return layout == Layout::kOneLayer ? "l1" : layout == Layout::kTwoLayersSingle ? "l2" : "l2bi";
}

// Absolute tolerances on y / h_n (tanh-range) and on c_n (the LSTM cell state, a sum of such
// terms, so looser). bf16: weights and activations rounded to 8 significant bits (relative
// 2^-9) every step; int8: data steps of 1/127 (R = 1) plus per-channel weight steps (1/127 of
// the row's largest weight, 1/63 without VNNI). Observed maxima on these shapes: bf16 3.5e-3,
// int8 8e-3 (VNNI).
double tolerance(ReducedType type, bool cell_state) {
  if (type == ReducedType::kBf16) return cell_state ? 2e-2 : 1e-2;
  return cell_state ? 5e-2 : 3e-2;
}

struct Outputs {
  std::vector<float> y, h_n, c_n;
};

struct Sizes {
  size_t x, y, h, c;
};

Sizes tensor_sizes(const simdrnn_config& c) {
  const int64_t D = c.bidirectional ? 2 : 1, h_out = c.proj_size > 0 ? c.proj_size : c.hidden_size;
  Sizes s;
  s.x = static_cast<size_t>(kSteps * kBatch * c.input_size);
  s.y = static_cast<size_t>(kSteps * kBatch * D * h_out);
  s.h = static_cast<size_t>(c.num_layers * D * kBatch * h_out);
  s.c = c.cell == SIMDRNN_CELL_LSTM ? static_cast<size_t>(c.num_layers * D * kBatch * c.hidden_size) : 0u;
  return s;
}

struct Inputs {
  std::vector<float> x, h0, c0;
};

Inputs inputs_for(const simdrnn_config& c, uint32_t seed) {
  const Sizes s = tensor_sizes(c);
  Inputs in;
  in.x = random_vector(s.x, seed);
  in.h0 = random_vector(s.h, seed + 1, -0.9f, 0.9f);
  if (s.c > 0) in.c0 = random_vector(s.c, seed + 2);
  return in;
}

Outputs run_f32(const simdrnn_config& c, const BaselineWeights& w, const Inputs& in) {
  const Sizes s = tensor_sizes(c);
  Outputs out{std::vector<float>(s.y), std::vector<float>(s.h), std::vector<float>(s.c)};
  if (c.cell == SIMDRNN_CELL_RNN) {
    OnednnRnn rnn;
    rnn.setup(c, kSteps, kBatch, w, 1);
    rnn.run(in.x.data(), in.h0.data(), out.y.data(), out.h_n.data());
  } else {
    const bool lstm = c.cell == SIMDRNN_CELL_LSTM;
    OnednnGatedRnn rnn;
    rnn.setup(c, kSteps, kBatch, w, 1);
    rnn.run(in.x.data(), in.h0.data(), lstm ? in.c0.data() : nullptr, out.y.data(), out.h_n.data(),
            lstm ? out.c_n.data() : nullptr);
  }
  return out;
}

// Sets up (which throws where oneDNN refuses) and runs through set_inputs / execute / get_outputs.
Outputs run_reduced(const simdrnn_config& c, const BaselineWeights& w, const Inputs& in, ReducedType type,
                    std::string* impl = nullptr, bool* single = nullptr,
                    const OnednnReducedOptions& options = OnednnReducedOptions()) {
  const Sizes s = tensor_sizes(c);
  const bool lstm = c.cell == SIMDRNN_CELL_LSTM;
  Outputs out{std::vector<float>(s.y, NAN), std::vector<float>(s.h, NAN), std::vector<float>(s.c, NAN)};
  OnednnReducedRnn rnn;
  rnn.setup(c, kSteps, kBatch, w, 1, type, options);
  rnn.set_inputs(in.x.data(), in.h0.data(), lstm ? in.c0.data() : nullptr);
  rnn.execute();
  rnn.execute();  // repeatable: reads src_*, writes dst_*
  rnn.get_outputs(out.y.data(), out.h_n.data(), lstm ? out.c_n.data() : nullptr);
  if (impl != nullptr) *impl = rnn.impl_info();
  if (single != nullptr) *single = rnn.single_primitive();
  return out;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0.0;
  for (size_t k = 0; k < a.size() && k < b.size(); ++k) {
    const double d = std::fabs(static_cast<double>(a[k]) - static_cast<double>(b[k]));
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

struct Errors {
  double y = 0, h = 0, c = 0;
  bool within(ReducedType type) const {
    return y <= tolerance(type, false) && h <= tolerance(type, false) && c <= tolerance(type, true);
  }
};

Errors errors(const Outputs& got, const Outputs& want) {
  return {max_abs_diff(got.y, want.y), max_abs_diff(got.h_n, want.h_n), max_abs_diff(got.c_n, want.c_n)};
}

uint32_t seed_of(const std::string& name) {
  uint32_t hash = 2166136261u;
  for (char ch : name) hash = (hash ^ static_cast<unsigned char>(ch)) * 16777619u;
  return hash;
}

std::vector<Layout> layouts() {
  if (quick_mode()) return {Layout::kOneLayer, Layout::kTwoLayersBidir};
  return {Layout::kOneLayer, Layout::kTwoLayersSingle, Layout::kTwoLayersBidir};
}

// Every supported (variant, type, layout) against f32 oneDNN; unsupported ones must be refused.
TEST(OnednnReduced, MatchesF32WhereSupported) {
  int compared = 0;
  for (const Variant& v : kVariants) {
    for (ReducedType type : kTypes) {
      for (Layout layout : layouts()) {
        const simdrnn_config c = config_of(v, layout);
        const std::string name = std::string(v.name) + "_" + reduced_type_name(type) + "_" + layout_name(layout);
        SCOPED_TRACE(name);
        const BaselineWeights w = make_baseline_weights(c, seed_of(name), 0.0f, v.peephole);
        const Inputs in = inputs_for(c, seed_of(name) + 7);
        std::string why;
        if (!OnednnReducedRnn::supported(c, type, v.peephole, &why)) {
          std::printf("[ unsupported ] %s: %s\n", name.c_str(), why.c_str());
          EXPECT_FALSE(why.empty());
          EXPECT_ANY_THROW(run_reduced(c, w, in, type));
          continue;
        }
        std::string impl;
        bool single = false;
        const Outputs got = run_reduced(c, w, in, type, &impl, &single);
        const Outputs want = run_f32(c, w, in);
        const Errors e = errors(got, want);
        std::printf("[ %-11s ] %-28s impl %-14s max |diff| y %.2e h_n %.2e c_n %.2e\n",
                    single || c.num_layers == 1 ? "1 primitive" : "per layer", name.c_str(), impl.c_str(), e.y,
                    e.h, e.c);
        EXPECT_EQ(single, layout != Layout::kTwoLayersBidir);
        EXPECT_LE(e.y, tolerance(type, false));
        EXPECT_LE(e.h, tolerance(type, false));
        if (c.cell == SIMDRNN_CELL_LSTM) {
          EXPECT_LE(e.c, tolerance(type, true));
        }
        // Not vacuous: reduced precision does change the result.
        EXPECT_GT(e.y, 0.0);
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 0);
}

// One wrong weight row (hidden unit 0's input weights of every gate, each off by 0.25) breaks
// the check at the tolerance above: the tolerance would catch a real conversion bug.
TEST(OnednnReduced, WrongWeightFailsTheCheck) {
  for (const Variant& v : kVariants) {
    for (ReducedType type : kTypes) {
      const simdrnn_config c = config_of(v, Layout::kOneLayer);
      if (!OnednnReducedRnn::supported(c, type, v.peephole)) continue;
      const std::string name = std::string(v.name) + "_" + reduced_type_name(type) + "_wrong";
      SCOPED_TRACE(name);
      const BaselineWeights w = make_baseline_weights(c, seed_of(name), 0.0f, v.peephole);
      BaselineWeights wrong = w;
      const int64_t gates = static_cast<int64_t>(wrong.cells[0].w_ih.size()) / (kHidden * c.input_size);
      for (int64_t g = 0; g < gates; ++g)
        for (int64_t i = 0; i < c.input_size; ++i)
          wrong.cells[0].w_ih[static_cast<size_t>((g * kHidden) * c.input_size + i)] += 0.25f;
      const Inputs in = inputs_for(c, seed_of(name) + 7);
      const Outputs want = run_f32(c, w, in);
      const Errors right_e = errors(run_reduced(c, w, in, type), want);
      const Errors wrong_e = errors(run_reduced(c, wrong, in, type), want);
      std::printf("[ wrong w_ih ] %-24s max |diff| y %.2e (right weights %.2e)\n", name.c_str(), wrong_e.y,
                  right_e.y);
      EXPECT_TRUE(right_e.within(type));
      EXPECT_FALSE(wrong_e.within(type));
    }
  }
}

// Null h0 / c0 mean zeros, as in the f32 baselines (u8 zero is the data shift, 128).
TEST(OnednnReduced, NullStatesAreZeros) {
  for (ReducedType type : kTypes) {
    const simdrnn_config c = config_of(kVariants[1], Layout::kOneLayer);  // LSTM
    if (!OnednnReducedRnn::supported(c, type)) continue;
    SCOPED_TRACE(reduced_type_name(type));
    const BaselineWeights w = make_baseline_weights(c, 99);
    Inputs in = inputs_for(c, 5);
    const Sizes s = tensor_sizes(c);
    std::vector<float> y_null(s.y), y_zero(s.y), h_null(s.h), h_zero(s.h), c_null(s.c), c_zero(s.c);
    OnednnReducedRnn rnn;
    rnn.setup(c, kSteps, kBatch, w, 1, type);
    rnn.run(in.x.data(), nullptr, nullptr, y_null.data(), h_null.data(), c_null.data());
    std::fill(in.h0.begin(), in.h0.end(), 0.0f);
    std::fill(in.c0.begin(), in.c0.end(), 0.0f);
    rnn.run(in.x.data(), in.h0.data(), in.c0.data(), y_zero.data(), h_zero.data(), c_zero.data());
    EXPECT_EQ(y_null, y_zero);
    EXPECT_EQ(h_null, h_zero);
    EXPECT_EQ(c_null, c_zero);
    if (type == ReducedType::kInt8) {
      EXPECT_FLOAT_EQ(rnn.data_scale(), 127.0f);
      EXPECT_FLOAT_EQ(rnn.data_shift(), 128.0f);
    }
  }
}

// The wrapper's own limits are refused by both supported() and setup().
TEST(OnednnReduced, OwnLimitsAreRefused) {
  for (ReducedType type : kTypes) {
    simdrnn_config c = config_of(kVariants[1], Layout::kOneLayer);
    c.output_size = 4;
    std::string why;
    EXPECT_FALSE(OnednnReducedRnn::supported(c, type, false, &why));
    EXPECT_NE(why.find("output"), std::string::npos) << why;
    const BaselineWeights w = make_baseline_weights(c, 1);
    OnednnReducedRnn rnn;
    EXPECT_THROW(rnn.setup(c, kSteps, kBatch, w, 1, type), std::invalid_argument);
    c.output_size = 0;
    c.clip = 1.0f;
    EXPECT_FALSE(OnednnReducedRnn::supported(c, type));
    EXPECT_THROW(rnn.setup(c, kSteps, kBatch, make_baseline_weights(c, 1), 1, type), std::invalid_argument);
  }
  EXPECT_FALSE(OnednnReducedRnn::supported(config_of(kVariants[4], Layout::kOneLayer), ReducedType::kBf16, true));
}

// bf16 with a projection is refused (oneDNN documents it unsupported); run anyway on request,
// it shows how far off oneDNN's result is on this CPU (printed: ~0.2 with its AVX512_BF16
// brgemm implementation in 2.6.3, ~1e-3 with the gemm-based "ref" one).
TEST(OnednnReduced, Bf16ProjectionIsRefused) {
  const simdrnn_config c = config_of(kVariants[3], Layout::kOneLayer);  // lstm_proj
  std::string why;
  EXPECT_FALSE(OnednnReducedRnn::supported(c, ReducedType::kBf16, false, &why));
  EXPECT_NE(why.find("projection"), std::string::npos) << why;
  const BaselineWeights w = make_baseline_weights(c, 11);
  const Inputs in = inputs_for(c, 12);
  EXPECT_THROW(run_reduced(c, w, in, ReducedType::kBf16), std::invalid_argument);
  OnednnReducedOptions options;
  options.allow_bf16_projection = true;
  std::string impl;
  bool created = false;
  Outputs got;
  try {
    got = run_reduced(c, w, in, ReducedType::kBf16, &impl, nullptr, options);
    created = true;
  } catch (const dnnl::error& e) {
    std::printf("bf16 projection LSTM: oneDNN refuses it here: %s\n", e.what());
  }
  if (created) {
    const Errors e = errors(got, run_f32(c, w, in));
    std::printf("bf16 projection LSTM (impl %s), run anyway: max |diff| y %.2e h_n %.2e c_n %.2e\n", impl.c_str(),
                e.y, e.h, e.c);
    EXPECT_FALSE(std::isnan(e.y));
  }
}

// What this CPU must give (oneDNN 2.6's CPU RNN, as probed): bf16 needs AVX-512 (emulated without
// AVX512_BF16, and refused below AVX-512); with AVX512_BF16 the benchmark's bf16 rows (Elman RNN,
// LSTM, PyTorch's GRU) all exist, and with VNNI its int8 LSTM row. oneDNN has no int8 vanilla
// RNN and no int8 linear-before-reset GRU at all. The rest is printed, not asserted.
TEST(OnednnReduced, SupportMatchesTheCpu) {
  const unsigned isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  auto has = [isa](dnnl::cpu_isa want) { return (isa & static_cast<unsigned>(want)) == static_cast<unsigned>(want); };
  std::printf("oneDNN %d.%d.%d, effective CPU ISA 0x%x\n", dnnl::version()->major, dnnl::version()->minor,
              dnnl::version()->patch, isa);
  for (const Variant& v : kVariants) {
    const simdrnn_config c = config_of(v, Layout::kOneLayer);
    for (ReducedType type : kTypes) {
      std::string why;
      const bool ok = OnednnReducedRnn::supported(c, type, v.peephole, &why);
      std::printf("  %-16s %-4s %s\n", v.name, reduced_type_name(type), ok ? "supported" : why.c_str());
      const bool lbr_gru = v.cell == SIMDRNN_CELL_GRU && v.gru_linear_before_reset == 1;
      const bool plain_lstm = v.cell == SIMDRNN_CELL_LSTM && !v.peephole && !v.projection;
      if (type == ReducedType::kBf16 && !has(dnnl::cpu_isa::avx512_core)) {
        EXPECT_FALSE(ok) << v.name;
      }
      if (type == ReducedType::kBf16 && has(dnnl::cpu_isa::avx512_core_bf16) &&
          (v.cell == SIMDRNN_CELL_RNN || plain_lstm || lbr_gru)) {
        EXPECT_TRUE(ok) << v.name << ": " << why;
      }
      if (type == ReducedType::kInt8 && (v.cell == SIMDRNN_CELL_RNN || lbr_gru)) {
        EXPECT_FALSE(ok) << v.name;
      }
      if (type == ReducedType::kInt8 && has(dnnl::cpu_isa::avx512_core_vnni) && plain_lstm) {
        EXPECT_TRUE(ok) << v.name << ": " << why;
      }
    }
  }
}

}  // namespace
}  // namespace simdrnn_test
