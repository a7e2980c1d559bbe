// simdrnn_forward with LSTM and GRU cells against the double reference, on every ISA this CPU
// has and at 1, 2 and 3 threads: sweeps of input and hidden sizes across every SIMD tail (panels
// are 8, 16 and 64 wide), batch and steps, and of each feature around a plain and a full base
// case, for every cell variant; a seeded random sample of combined features; results
// bit-identical across thread counts and repeated runs, padding exactly 0, buffers untouched
// outside their bounds; and mutated references that must fail, so the check is known to bite.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/gated_util.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

// Sizes below, at and above every panel edge: 8 (scalar), 16 (AVX2), 64 (AVX-512).
const std::vector<int64_t>& tail_sizes() {
  static const std::vector<int64_t> full = {1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65};
  static const std::vector<int64_t> quick = {1, 9, 17, 65};
  return quick_mode() ? quick : full;
}

// One forward configuration.
struct Case {
  const CellVariant* variant = nullptr;
  int64_t input = 7;
  int64_t hidden = 17;
  int64_t batch = 3;
  int64_t steps = 7;
  simdrnn_layout layout = SIMDRNN_TIME_MAJOR;
  bool clip = false;
  bool bidirectional = false;
  int64_t layers = 1;
  bool bias = true;
  bool h0 = false;  // h0 given (else NULL: zeros)
  bool c0 = false;  // LSTM: c0 given
  bool seq_lens = false;
  int64_t output = 0;     // O; 0 = no output layer
  bool y_null = false;    // y not requested
  bool h_n_null = false;  // h_n not requested
  bool c_n_null = false;  // LSTM: c_n not requested (always NULL for a GRU)
  bool alias_h = false;   // h_n == h0 (implies h0)
  bool alias_c = false;   // LSTM: c_n == c0 (implies c0)
  bool misalign = false;  // buffers start one float, the workspace 3 bytes, past alignment
  std::string prefix;     // distinguishes random cases

  bool lstm() const { return variant->cell == SIMDRNN_CELL_LSTM; }

  simdrnn_config config() const {
    simdrnn_config c = variant_config(*variant, input, hidden);
    c.num_layers = layers;
    c.bidirectional = bidirectional ? 1 : 0;
    c.clip = clip ? 0.5f : 0.0f;
    c.output_size = output;
    return c;
  }

  // Makes the flags consistent: aliases imply their input, GRUs have no cell state, and at least
  // one of y, h_n, out is requested.
  Case normalized() const {
    Case c = *this;
    if (!c.lstm()) c.c0 = c.c_n_null = c.alias_c = false;
    if (c.alias_h) c.h0 = true, c.h_n_null = false;
    if (c.alias_c) c.c0 = true, c.c_n_null = false;
    if (c.y_null && c.h_n_null && c.output == 0) c.h_n_null = false;
    return c;
  }

  std::string name() const {
    std::string s = prefix + variant->name + "_i" + std::to_string(input) + "h" + std::to_string(hidden) +
                    "n" + std::to_string(batch) + "t" + std::to_string(steps) + "l" + std::to_string(layers) +
                    (bidirectional ? "bi" : "uni") + (layout == SIMDRNN_TIME_MAJOR ? "_tm" : "_bm");
    if (clip) s += "_clip";
    if (!bias) s += "_nobias";
    if (h0) s += "_h0";
    if (c0) s += "_c0";
    if (seq_lens) s += "_lens";
    if (output > 0) s += "_o" + std::to_string(output);
    if (y_null) s += "_ynull";
    if (h_n_null) s += "_hnnull";
    if (c_n_null) s += "_cnnull";
    if (alias_h) s += "_aliash";
    if (alias_c) s += "_aliasc";
    if (misalign) s += "_misaligned";
    return s;
  }

  // Seed derived from the name so each case is reproducible on its own.
  uint32_t seed() const {
    uint32_t hash = 2166136261u;
    for (char ch : name()) hash = (hash ^ static_cast<unsigned char>(ch)) * 16777619u;
    return hash;
  }
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name(); }

// Sweeps of each dimension around a plain and a full base case, for every cell variant. Hidden
// sizes (the gate panels) are swept on both bases, input sizes on the plain one.
std::vector<Case> sweep_cases() {
  std::vector<Case> cases;
  for (const CellVariant& variant : gated_variants()) {
    Case plain;
    plain.variant = &variant;
    Case full = plain;
    full.bidirectional = true;
    full.layers = 2;
    full.h0 = full.c0 = true;
    full.seq_lens = true;
    full.output = 5;
    full.clip = true;
    full.batch = 17;

    for (const Case& base : {plain, full}) {
      const bool is_plain = !base.bidirectional;
      for (int64_t v : tail_sizes()) {
        Case c = base;
        c.hidden = v;
        cases.push_back(c);
        if (is_plain) {
          c = base;
          c.input = v;
          cases.push_back(c);
        }
      }
      for (int64_t v : {1, 3, 17}) {
        Case c = base;
        c.batch = v;
        cases.push_back(c);
      }
      for (int64_t v : {1, 2, 7}) {
        Case c = base;
        c.steps = v;
        cases.push_back(c);
      }
      if (quick_mode() && !is_plain) continue;  // quick: sizes only around the full base
      for (simdrnn_layout v : {SIMDRNN_TIME_MAJOR, SIMDRNN_BATCH_MAJOR}) {
        Case c = base;
        c.layout = v;
        cases.push_back(c);
      }
      for (bool v : {false, true}) {
        Case c = base;
        c.clip = v;
        cases.push_back(c);
        c = base;
        c.bias = v;
        cases.push_back(c);
        c = base;
        c.seq_lens = v;
        cases.push_back(c);
        c = base;
        c.misalign = v;
        cases.push_back(c);
      }
      for (bool bidirectional : {false, true})
        for (int64_t layers : {1, 2, 3}) {
          Case c = base;
          c.bidirectional = bidirectional;
          c.layers = layers;
          cases.push_back(c);
        }
      for (bool h0 : {false, true})
        for (bool c0 : {false, true}) {
          Case c = base;
          c.h0 = h0;
          c.c0 = c0;
          cases.push_back(c);
        }
      for (int64_t v : {0, 1, 17}) {
        Case c = base;
        c.output = v;
        cases.push_back(c);
      }
      {
        Case c = base;
        c.y_null = true;  // only the states (and out)
        cases.push_back(c);
        c.output = 5;
        c.h_n_null = c.c_n_null = true;  // only out
        cases.push_back(c);
        c = base;
        c.h_n_null = true;  // y and c_n
        cases.push_back(c);
        c = base;
        c.c_n_null = true;
        cases.push_back(c);
        c = base;
        c.alias_h = true;
        cases.push_back(c);
        c = base;
        c.alias_c = true;
        cases.push_back(c);
        c.alias_h = true;
        cases.push_back(c);
        c.y_null = true;
        cases.push_back(c);
      }
    }
  }
  // Drop duplicates (each sweep contains its base, and GRUs ignore the c flags).
  std::vector<Case> unique;
  std::set<std::string> names;
  for (const Case& c : cases) {
    const Case n = c.normalized();
    if (names.insert(n.name()).second) unique.push_back(n);
  }
  return unique;
}

// A seeded random sample of combined configurations, spread over the cell variants.
std::vector<Case> random_cases() {
  const int count = quick_mode() ? 24 : 150;
  std::mt19937 gen(20240917u);
  auto pick = [&gen](const std::vector<int64_t>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(gen)];
  };
  auto coin = [&gen](double p) { return std::bernoulli_distribution(p)(gen); };
  const std::vector<int64_t> sizes = {1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65};
  std::vector<Case> cases;
  for (int i = 0; i < count; ++i) {
    Case c;
    char prefix[16];
    std::snprintf(prefix, sizeof(prefix), "r%03d_", i);
    c.prefix = prefix;
    c.variant = &gated_variants()[static_cast<size_t>(i) % gated_variants().size()];
    c.input = pick(sizes);
    c.hidden = pick(sizes);
    c.batch = pick({1, 3, 17});
    c.steps = pick({1, 2, 7});
    c.layout = coin(0.5) ? SIMDRNN_BATCH_MAJOR : SIMDRNN_TIME_MAJOR;
    c.clip = coin(0.3);
    c.bidirectional = coin(0.5);
    c.layers = pick({1, 1, 2, 3});
    c.bias = coin(0.8);
    c.h0 = coin(0.5);
    c.c0 = coin(0.5);
    c.seq_lens = coin(0.5);
    c.output = pick({0, 0, 1, 5, 17});
    c.y_null = coin(0.15);
    c.h_n_null = coin(0.1);
    c.c_n_null = coin(0.2);
    c.alias_h = coin(0.2);
    c.alias_c = coin(0.2);
    c.misalign = coin(0.2);
    cases.push_back(c.normalized());
  }
  return cases;
}

// Inputs of a case, generated once.
struct Inputs {
  simdrnn_config config{};
  RefWeights weights;
  std::vector<float> x;
  std::vector<float> h0, c0;      // empty when not given
  std::vector<int64_t> seq_lens;  // empty when the case has no lengths
  RefResult ref;
};

Inputs make_inputs(const Case& c) {
  Inputs in;
  in.config = c.config();
  const uint32_t seed = c.seed();
  const int64_t D = c.bidirectional ? 2 : 1, states = c.layers * D * c.batch;
  in.weights = random_ref_weights(in.config, seed, c.bias, c.variant->peephole);
  in.x = random_vector(static_cast<size_t>(c.steps * c.batch * c.input), seed + 1);
  if (c.h0) in.h0 = random_vector(static_cast<size_t>(states * hidden_out(in.config)), seed + 2);
  // Cell states beyond [-1, 1], as trained LSTMs carry them.
  if (c.c0) in.c0 = random_vector(static_cast<size_t>(states * c.hidden), seed + 3, -3.0f, 3.0f);
  if (c.seq_lens) in.seq_lens = random_seq_lens(c.steps, c.batch, seed + 4);
  in.ref = reference_forward(
      in.config, in.weights, c.steps, c.batch, c.layout, in.x, in.h0.empty() ? nullptr : in.h0.data(),
      in.seq_lens.empty() ? nullptr : in.seq_lens.data(), in.c0.empty() ? nullptr : in.c0.data());
  return in;
}

// Outputs of one library run (empty when not requested).
struct Outputs {
  std::vector<float> y, h_n, c_n, out;
};

// Largest error / tolerance ratio seen over the whole run, reported at the end.
double g_max_ratio = 0.0;

class MaxRatioReporter : public ::testing::Environment {
 public:
  void TearDown() override {
    std::printf("[ simdrnn ] largest |error| / tolerance seen against the reference: %.4g\n", g_max_ratio);
  }
};
const ::testing::Environment* const g_reporter = ::testing::AddGlobalTestEnvironment(new MaxRatioReporter);

// Runs the library once; checks the sizes it reports, that inputs are untouched and that nothing
// is written outside any buffer.
Outputs run_forward(const simdrnn_model* model, const Case& c, const Inputs& in, int32_t num_threads) {
  const simdrnn_config& cfg = in.config;
  const int64_t D = c.bidirectional ? 2 : 1, T = c.steps, N = c.batch, H = c.hidden;
  const int64_t H_out = hidden_out(cfg), states = c.layers * D * N;
  GuardedBuffer x(T * N * c.input, c.misalign);
  x.assign(in.x);
  GuardedBuffer h0, c0, y, h_n, c_n, out;
  if (!in.h0.empty()) {
    h0 = GuardedBuffer(states * H_out, c.misalign);
    h0.assign(in.h0);
  }
  if (!in.c0.empty()) {
    c0 = GuardedBuffer(states * H, c.misalign);
    c0.assign(in.c0);
  }
  if (!c.y_null) y = GuardedBuffer(T * N * D * H_out, c.misalign);
  if (!c.h_n_null && !c.alias_h) h_n = GuardedBuffer(states * H_out, c.misalign);
  if (c.lstm() && !c.c_n_null && !c.alias_c) c_n = GuardedBuffer(states * H, c.misalign);
  if (cfg.output_size > 0) out = GuardedBuffer(T * N * cfg.output_size, c.misalign);

  simdrnn_forward_args args{};
  args.seq_len = T;
  args.batch = N;
  args.layout = c.layout;
  args.x = x.data();
  args.h0 = h0.data();
  args.c0 = c0.data();
  args.seq_lens = in.seq_lens.empty() ? nullptr : in.seq_lens.data();
  args.y = y.data();
  args.h_n = c.alias_h ? h0.data() : h_n.data();
  args.c_n = c.alias_c ? c0.data() : c_n.data();
  args.out = out.data();
  args.num_threads = num_threads;

  simdrnn_sizes sizes{};
  EXPECT_EQ(simdrnn_forward_sizes(model, &args, &sizes), SIMDRNN_OK) << simdrnn_last_error();
  EXPECT_EQ(sizes.x, T * N * c.input);
  EXPECT_EQ(sizes.y, T * N * D * H_out);
  EXPECT_EQ(sizes.h, states * H_out);
  EXPECT_EQ(sizes.c, c.lstm() ? states * H : 0);
  EXPECT_EQ(sizes.out, T * N * cfg.output_size);
  size_t bytes = 0;
  EXPECT_EQ(simdrnn_forward_workspace_size(model, &args, &bytes), SIMDRNN_OK) << simdrnn_last_error();
  EXPECT_EQ(bytes, sizes.workspace);
  const size_t lead = c.misalign ? 3 : 0, tail = 64;
  std::vector<unsigned char> workspace(lead + bytes + tail, 0xA5);
  args.workspace = workspace.data() + lead;
  args.workspace_size = bytes;

  Outputs result;
  const simdrnn_status status = simdrnn_forward(model, &args);
  EXPECT_EQ(status, SIMDRNN_OK) << simdrnn_last_error();
  if (status != SIMDRNN_OK) return result;

  EXPECT_TRUE(std::all_of(workspace.begin(), workspace.begin() + static_cast<int64_t>(lead),
                          [](unsigned char b) { return b == 0xA5; }) &&
              std::all_of(workspace.end() - static_cast<int64_t>(tail), workspace.end(),
                          [](unsigned char b) { return b == 0xA5; }))
      << "write outside the workspace";
  EXPECT_TRUE(x.guards_intact() && x.contents() == in.x) << "x was modified";
  if (!in.h0.empty()) {
    EXPECT_TRUE(h0.guards_intact()) << "write outside h0 / h_n";
    if (!c.alias_h) {
      EXPECT_TRUE(h0.contents() == in.h0) << "h0 was modified";
    }
  }
  if (!in.c0.empty()) {
    EXPECT_TRUE(c0.guards_intact()) << "write outside c0 / c_n";
    if (!c.alias_c) {
      EXPECT_TRUE(c0.contents() == in.c0) << "c0 was modified";
    }
  }
  auto take = [](const GuardedBuffer& b, const char* what, std::vector<float>& dst) {
    if (b.data() == nullptr) return;
    EXPECT_TRUE(b.guards_intact()) << "write outside " << what;
    dst = b.contents();
  };
  take(y, "y", result.y);
  take(c.alias_h ? h0 : h_n, "h_n", result.h_n);
  take(c.alias_c ? c0 : c_n, "c_n", result.c_n);
  take(out, "out", result.out);
  return result;
}

void expect_close(const Outputs& got, const Case& c, const Inputs& in) {
  const Tolerance tolerance = default_tolerance();
  auto check = [&](const std::vector<float>& values, const std::vector<double>& ref,
                   const std::vector<double>& mag, int64_t k, const char* what) {
    if (values.empty()) return;
    ASSERT_EQ(values.size(), ref.size()) << what;
    const Comparison comparison = compare_with_reference(values.data(), ref, mag, k, tolerance, what);
    g_max_ratio = std::max(g_max_ratio, comparison.max_ratio);
    EXPECT_TRUE(comparison.ok()) << comparison.message;
  };
  check(got.y, in.ref.y, in.ref.y_mag, in.ref.k_hidden, "y");
  check(got.h_n, in.ref.h_n, in.ref.h_n_mag, in.ref.k_hidden, "h_n");
  check(got.c_n, in.ref.c_n, in.ref.c_n_mag, in.ref.k_hidden, "c_n");
  check(got.out, in.ref.out, in.ref.out_mag, in.ref.k_out, "out");

  // Padded steps must be exactly zero in y and out.
  if (in.seq_lens.empty()) return;
  const int64_t T = c.steps, N = c.batch;
  auto check_padding = [&](const std::vector<float>& values, int64_t width, const char* what) {
    if (values.empty()) return;
    int64_t nonzero = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t t = in.seq_lens[static_cast<size_t>(n)]; t < T; ++t) {
        const int64_t base = c.layout == SIMDRNN_TIME_MAJOR ? (t * N + n) * width : (n * T + t) * width;
        for (int64_t i = 0; i < width; ++i)
          if (values[static_cast<size_t>(base + i)] != 0.0f) ++nonzero;
      }
    EXPECT_EQ(nonzero, 0) << what << ": elements at padded steps that are not exactly 0";
  };
  check_padding(got.y, (c.bidirectional ? 2 : 1) * hidden_out(in.config), "y");
  check_padding(got.out, c.output, "out");
}

void expect_bit_identical(const Outputs& a, const Outputs& b, const std::string& what) {
  EXPECT_TRUE(bit_identical(a.y, b.y, "y, " + what));
  EXPECT_TRUE(bit_identical(a.h_n, b.h_n, "h_n, " + what));
  EXPECT_TRUE(bit_identical(a.c_n, b.c_n, "c_n, " + what));
  EXPECT_TRUE(bit_identical(a.out, b.out, "out, " + what));
}

void run_case(const Case& c) {
  const Inputs in = make_inputs(c);
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    std::string error;
    ModelPtr model(create_model(in.config, in.weights, &error));
    ASSERT_NE(model, nullptr) << error;
    simdrnn_isa model_isa{};
    ASSERT_EQ(simdrnn_model_isa(model.get(), &model_isa), SIMDRNN_OK);
    EXPECT_EQ(model_isa, isa);

    Outputs first;
    // 3 threads adds an odd split of the units (or the cap, on 2 cores); quick mode keeps 1 and 2.
    const std::vector<int32_t> thread_counts =
        quick_mode() ? std::vector<int32_t>{1, 2} : std::vector<int32_t>{1, 2, 3};
    for (int32_t threads : thread_counts) {
      SCOPED_TRACE(std::to_string(threads) + " threads");
      const Outputs got = run_forward(model.get(), c, in, threads);
      if (threads == 1) {
        expect_close(got, c, in);
        first = got;
      } else {
        expect_bit_identical(first, got, "1 vs " + std::to_string(threads) + " threads");
      }
    }
    expect_bit_identical(first, run_forward(model.get(), c, in, 1), "repeated run");
    if (::testing::Test::HasFatalFailure()) return;
  }
}

class GatedForwardTest : public ::testing::TestWithParam<Case> {};

TEST_P(GatedForwardTest, MatchesReference) { run_case(GetParam()); }

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name(); }

INSTANTIATE_TEST_SUITE_P(Sweep, GatedForwardTest, ::testing::ValuesIn(sweep_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Random, GatedForwardTest, ::testing::ValuesIn(random_cases()), case_name);

// ---- the check can fail -------------------------------------------------------------------

// Swaps gate blocks a and b of G in every gate-stacked tensor ([G*H, width] rows): the weights a
// reference that confused the two gates would effectively use.
RefWeights swap_gates(RefWeights w, int64_t G, int64_t a, int64_t b) {
  for (RefCell& cell : w.cells)
    for (std::vector<float>* m : {&cell.w_ih, &cell.w_hh, &cell.b_ih, &cell.b_hh}) {
      if (m->empty()) continue;
      const int64_t block = static_cast<int64_t>(m->size()) / G;
      std::swap_ranges(m->begin() + a * block, m->begin() + (a + 1) * block, m->begin() + b * block);
    }
  return w;
}

struct Mutation {
  std::string name;
  RefResult result;
};

// Every mutated reference must fail the tolerance check against the right one by itself, and the
// library's output, which passes against the right reference, must fail against each mutated one.
void expect_mutations_fail(const Case& c, const Inputs& in, const std::vector<Mutation>& mutations) {
  const Tolerance tolerance = default_tolerance();
  for (const Mutation& m : mutations)
    EXPECT_FALSE(
        compare_with_reference(m.result.y, in.ref.y, in.ref.y_mag, in.ref.k_hidden, tolerance, "y").ok() &&
        compare_with_reference(m.result.h_n, in.ref.h_n, in.ref.h_n_mag, in.ref.k_hidden, tolerance, "h_n")
            .ok())
        << m.name << " passes the tolerance check against the reference";

  IsaCap cap(SIMDRNN_ISA_SCALAR);
  std::string error;
  ModelPtr model(create_model(in.config, in.weights, &error));
  ASSERT_NE(model, nullptr) << error;
  const Outputs got = run_forward(model.get(), c, in, 1);
  expect_close(got, c, in);
  for (const Mutation& m : mutations) {
    auto fails = [&](const std::vector<float>& values, const std::vector<double>& mutated,
                     const std::vector<double>& mag, int64_t k) {
      if (values.empty() || mutated.size() != values.size()) return values.size() != mutated.size();
      return !compare_with_reference(values.data(), mutated, mag, k, tolerance, "").ok();
    };
    const RefResult& r = m.result;
    EXPECT_TRUE(fails(got.y, r.y, in.ref.y_mag, in.ref.k_hidden) ||
                fails(got.h_n, r.h_n, in.ref.h_n_mag, in.ref.k_hidden) ||
                fails(got.c_n, r.c_n, in.ref.c_n_mag, in.ref.k_hidden) ||
                fails(got.out, r.out, in.ref.out_mag, in.ref.k_out))
        << "the library's output passes the tolerance check against the reference with " << m.name;
  }
}

TEST(GatedToleranceTest, LstmMutationsFail) {
  Case c;
  c.variant = &gated_variants()[3];  // peepholes and projection
  c.input = 7;
  c.hidden = 16;
  c.batch = 3;
  c.steps = 7;
  c.bidirectional = true;
  c.layers = 2;
  c.seq_lens = true;
  c.h0 = c.c0 = true;
  c.output = 5;
  c.clip = true;
  const Inputs in = make_inputs(c);
  const int64_t H = c.hidden, T = c.steps, N = c.batch;
  auto with = [&](const simdrnn_config& config, const RefWeights& w, bool lens, bool c0) {
    return reference_forward(config, w, T, N, c.layout, in.x, in.h0.data(),
                             lens ? in.seq_lens.data() : nullptr, c0 ? in.c0.data() : nullptr);
  };
  std::vector<Mutation> mutations;
  mutations.push_back({"i and f swapped", with(in.config, swap_gates(in.weights, 4, 0, 1), true, true)});
  mutations.push_back({"g and o swapped", with(in.config, swap_gates(in.weights, 4, 2, 3), true, true)});
  mutations.push_back({"c0 ignored", with(in.config, in.weights, true, false)});
  mutations.push_back({"seq_lens ignored", with(in.config, in.weights, false, true)});
  {
    RefWeights w = in.weights;
    for (RefCell& cell : w.cells) cell.peephole.clear();
    mutations.push_back({"peepholes ignored", with(in.config, w, true, true)});
  }
  {
    RefWeights w = in.weights;
    for (RefCell& cell : w.cells)
      std::swap_ranges(cell.peephole.begin() + H, cell.peephole.begin() + 2 * H,
                       cell.peephole.begin() + 2 * H);
    mutations.push_back({"f and o peepholes swapped", with(in.config, w, true, true)});
  }
  {
    simdrnn_config config = in.config;
    config.clip = 0.0f;
    mutations.push_back({"no clip", with(config, in.weights, true, true)});
  }
  {
    RefWeights w = in.weights;
    std::swap(w.cells[0], w.cells[1]);
    std::swap(w.cells[2], w.cells[3]);
    mutations.push_back({"directions swapped", with(in.config, w, true, true)});
  }
  {
    RefWeights w = in.weights;
    for (RefCell& cell : w.cells) std::reverse(cell.w_hr.begin(), cell.w_hr.end());
    mutations.push_back({"projection reversed", with(in.config, w, true, true)});
  }
  expect_mutations_fail(c, in, mutations);
}

TEST(GatedToleranceTest, GruMutationsFail) {
  for (const CellVariant* variant : {&gated_variants()[4], &gated_variants()[5]}) {
    SCOPED_TRACE(variant->name);
    Case c;
    c.variant = variant;
    c.input = 7;
    c.hidden = 16;
    c.batch = 3;
    c.steps = 7;
    c.bidirectional = true;
    c.layers = 2;
    c.seq_lens = true;
    c.h0 = true;
    c.output = 5;
    const Inputs in = make_inputs(c);
    const int64_t H = c.hidden, T = c.steps, N = c.batch;
    auto with = [&](const simdrnn_config& config, const RefWeights& w) {
      return reference_forward(config, w, T, N, c.layout, in.x, in.h0.data(), in.seq_lens.data());
    };
    std::vector<Mutation> mutations;
    mutations.push_back({"r and z swapped", with(in.config, swap_gates(in.weights, 3, 0, 1))});
    {
      simdrnn_config config = in.config;
      config.gru_linear_before_reset = 1 - config.gru_linear_before_reset;
      mutations.push_back({"the other candidate formula", with(config, in.weights)});
    }
    {
      RefWeights w = in.weights;
      for (RefCell& cell : w.cells) std::fill(cell.b_hh.begin() + 2 * H, cell.b_hh.end(), 0.0f);
      mutations.push_back({"b_hn dropped", with(in.config, w)});
    }
    expect_mutations_fail(c, in, mutations);
  }
}

}  // namespace
}  // namespace simdrnn_test

// ---- ONNX import ------------------------------------------------------------------------------

namespace simdrnn_test {
namespace {

// simdrnn_weights_set_onnx takes ONNX's gate orders (LSTM i, o, f, c; GRU z, r, h; peepholes i, o,
// f) and must build the same model as the PyTorch tensors set by name: the outputs of the two
// models are bit-identical. The ONNX tensors are assembled here from the PyTorch ones with this
// file's own gate tables.
TEST(GatedOnnxImport, SameModelAsByName) {
  for (const CellVariant& variant : gated_variants()) {
    if (variant.projection) continue;  // ONNX's LSTM has no projection
    SCOPED_TRACE(variant.name);
    Case c;
    c.variant = &variant;
    c.input = 5;
    c.hidden = 9;
    c.batch = 3;
    c.layers = 2;
    c.bidirectional = true;
    c.h0 = c.c0 = true;
    c.output = 0;
    c = c.normalized();
    const Inputs in = make_inputs(c);
    const simdrnn_config& config = in.config;
    const bool lstm = c.lstm();
    const int64_t G = gate_count(config), H = c.hidden, D = 2;
    // PyTorch gate of each ONNX gate slot.
    const std::vector<int64_t> torch_of_onnx =
        lstm ? std::vector<int64_t>{0, 3, 1, 2} : std::vector<int64_t>{1, 0, 2};
    const int64_t torch_peephole_of_onnx[3] = {0, 2, 1};  // ONNX P is i, o, f; ours i, f, o

    simdrnn_weights* raw = nullptr;
    ASSERT_EQ(simdrnn_weights_create(&config, &raw), SIMDRNN_OK) << simdrnn_last_error();
    std::unique_ptr<simdrnn_weights, void (*)(simdrnn_weights*)> weights(
        raw, [](simdrnn_weights* w) { simdrnn_weights_destroy(w); });
    for (int64_t l = 0; l < c.layers; ++l) {
      const int64_t in_size = layer_input_size(config, l);
      std::vector<float> W, R, B, P;
      for (int64_t d = 0; d < D; ++d) {
        const RefCell& cell = in.weights.cells[static_cast<size_t>(l * D + d)];
        auto append_gates = [&](std::vector<float>& dst, const std::vector<float>& src, int64_t width) {
          for (int64_t g = 0; g < G; ++g) {
            const auto from = src.begin() + torch_of_onnx[static_cast<size_t>(g)] * H * width;
            dst.insert(dst.end(), from, from + H * width);
          }
        };
        append_gates(W, cell.w_ih, in_size);
        append_gates(R, cell.w_hh, H);
        append_gates(B, cell.b_ih, 1);
        append_gates(B, cell.b_hh, 1);
        for (int64_t k = 0; lstm && variant.peephole && k < 3; ++k) {
          const auto from = cell.peephole.begin() + torch_peephole_of_onnx[k] * H;
          P.insert(P.end(), from, from + H);
        }
      }
      ASSERT_EQ(simdrnn_weights_set_onnx(weights.get(), l, W.data(), R.data(), B.data(),
                                         P.empty() ? nullptr : P.data()),
                SIMDRNN_OK)
          << simdrnn_last_error();
    }
    simdrnn_model* onnx_raw = nullptr;
    ASSERT_EQ(simdrnn_model_create(weights.get(), &onnx_raw), SIMDRNN_OK) << simdrnn_last_error();
    ModelPtr onnx_model(onnx_raw);
    std::string error;
    ModelPtr named_model(create_model(config, in.weights, &error));
    ASSERT_NE(named_model, nullptr) << error;
    const Outputs named = run_forward(named_model.get(), c, in, 1);
    expect_close(named, c, in);
    expect_bit_identical(run_forward(onnx_model.get(), c, in, 1), named, "ONNX import vs names");
  }
}

}  // namespace
}  // namespace simdrnn_test
