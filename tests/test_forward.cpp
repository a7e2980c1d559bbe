// simdrnn_forward against the double reference on every ISA and at 1 and 2 threads: shape sweeps,
// a seeded random sample of combined configurations, determinism and padding checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

bool quick_mode() {
  const char* quick = std::getenv("SIMDRNN_TEST_QUICK");
  return quick != nullptr && quick[0] != '\0' && quick[0] != '0';
}

// One forward configuration.
struct Case {
  int64_t input = 7;
  int64_t hidden = 17;
  int64_t batch = 3;
  int64_t steps = 50;
  simdrnn_layout layout = SIMDRNN_TIME_MAJOR;
  simdrnn_activation activation = SIMDRNN_TANH;
  bool clip = false;
  bool bidirectional = false;
  int64_t layers = 1;
  bool bias = true;
  bool h0 = false;
  bool seq_lens = false;
  int64_t output = 0;     // O; 0 = no output layer
  bool y_null = false;    // request only h_n / out
  bool h_n_null = false;  // do not request h_n
  bool alias = false;     // h_n == h0 (implies h0)
  bool misalign = false;  // buffers start one float, the workspace 3 bytes, past alignment
  std::string prefix;     // distinguishes random cases

  simdrnn_config config() const {
    simdrnn_config c = simdrnn_config_default();
    c.input_size = input;
    c.hidden_size = hidden;
    c.num_layers = layers;
    c.bidirectional = bidirectional ? 1 : 0;
    c.activation = activation;
    c.clip = clip ? 0.5f : 0.0f;
    c.output_size = output;
    return c;
  }

  std::string name() const {
    static const char* const kActivations[] = {"tanh", "relu", "sigmoid"};
    std::string s = prefix + "i" + std::to_string(input) + "h" + std::to_string(hidden) + "n" +
                    std::to_string(batch) + "t" + std::to_string(steps) + "l" + std::to_string(layers) +
                    (bidirectional ? "bi" : "uni") + "_" + kActivations[activation] +
                    (layout == SIMDRNN_TIME_MAJOR ? "_tm" : "_bm");
    if (clip) s += "_clip";
    if (!bias) s += "_nobias";
    if (h0) s += "_h0";
    if (seq_lens) s += "_lens";
    if (output > 0) s += "_o" + std::to_string(output);
    if (y_null) s += "_ynull";
    if (h_n_null) s += "_hnnull";
    if (alias) s += "_alias";
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

// Sweeps of each dimension around two base cases (a plain one and one with every feature on).
std::vector<Case> sweep_cases() {
  Case plain;
  Case full;
  full.bidirectional = true;
  full.layers = 2;
  full.h0 = true;
  full.seq_lens = true;
  full.output = 5;
  full.clip = true;
  full.batch = 17;

  std::vector<Case> cases;
  for (const Case& base : {plain, full}) {
    for (int64_t v : {1, 7, 16, 17, 33, 65, 100}) {
      Case c = base;
      c.input = v;
      cases.push_back(c);
      c = base;
      c.hidden = v;
      cases.push_back(c);
    }
    for (int64_t v : {1, 3, 17}) {
      Case c = base;
      c.batch = v;
      cases.push_back(c);
    }
    for (int64_t v : {1, 2, 50}) {
      Case c = base;
      c.steps = v;
      cases.push_back(c);
    }
    for (simdrnn_layout v : {SIMDRNN_TIME_MAJOR, SIMDRNN_BATCH_MAJOR}) {
      Case c = base;
      c.layout = v;
      cases.push_back(c);
    }
    for (simdrnn_activation v : {SIMDRNN_TANH, SIMDRNN_RELU, SIMDRNN_SIGMOID}) {
      for (bool clip : {false, true}) {
        Case c = base;
        c.activation = v;
        c.clip = clip;
        cases.push_back(c);
      }
    }
    for (bool bidirectional : {false, true}) {
      for (int64_t layers : {1, 2, 3}) {
        Case c = base;
        c.bidirectional = bidirectional;
        c.layers = layers;
        cases.push_back(c);
      }
    }
    for (bool v : {false, true}) {
      Case c = base;
      c.bias = v;
      cases.push_back(c);
      c = base;
      c.h0 = v;
      c.alias = false;
      cases.push_back(c);
      c = base;
      c.seq_lens = v;
      cases.push_back(c);
      c = base;
      c.misalign = v;
      cases.push_back(c);
    }
    for (int64_t v : {0, 1, 5, 17}) {
      Case c = base;
      c.output = v;
      cases.push_back(c);
    }
    {
      Case c = base;
      c.y_null = true;  // only h_n (and out when O > 0)
      cases.push_back(c);
      c.output = 5;  // only h_n and out
      cases.push_back(c);
      c.h_n_null = true;  // only out
      cases.push_back(c);
      c = base;
      c.h_n_null = true;
      cases.push_back(c);
      c = base;
      c.h0 = true;
      c.alias = true;
      cases.push_back(c);
      c.y_null = true;
      cases.push_back(c);
    }
  }
  // Drop duplicates (each sweep contains its base).
  std::vector<Case> unique;
  std::set<std::string> names;
  for (const Case& c : cases)
    if (names.insert(c.name()).second) unique.push_back(c);
  return unique;
}

// A seeded random sample of combined configurations.
std::vector<Case> random_cases() {
  const int count = quick_mode() ? 30 : 150;
  std::mt19937 gen(20240611u);
  auto pick = [&gen](std::initializer_list<int64_t> values) {
    std::vector<int64_t> v(values);
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(gen)];
  };
  auto coin = [&gen](double p) { return std::bernoulli_distribution(p)(gen); };
  std::vector<Case> cases;
  for (int i = 0; i < count; ++i) {
    Case c;
    char prefix[16];
    std::snprintf(prefix, sizeof(prefix), "r%03d_", i);
    c.prefix = prefix;
    c.input = pick({1, 7, 16, 17, 33, 65, 100});
    c.hidden = pick({1, 7, 16, 17, 33, 65, 100});
    c.batch = pick({1, 3, 17});
    c.steps = pick({1, 2, 5, 50});
    c.layout = coin(0.5) ? SIMDRNN_BATCH_MAJOR : SIMDRNN_TIME_MAJOR;
    c.activation = static_cast<simdrnn_activation>(pick({0, 1, 2}));
    c.clip = coin(0.3);
    c.bidirectional = coin(0.5);
    c.layers = pick({1, 1, 2, 3});
    c.bias = coin(0.8);
    c.h0 = coin(0.5);
    c.seq_lens = coin(0.5);
    c.output = pick({0, 0, 1, 5, 17});
    c.y_null = coin(0.15);
    c.alias = c.h0 && coin(0.3);
    c.h_n_null = !c.alias && coin(0.1);
    if (c.y_null && c.h_n_null && c.output == 0) c.h_n_null = false;  // keep one output
    c.misalign = coin(0.2);
    cases.push_back(c);
  }
  return cases;
}

// A float buffer with guard zones before and after, pre-filled with a NaN sentinel so that
// unwritten elements and writes out of bounds are both visible.
class GuardedBuffer {
 public:
  static constexpr int64_t kGuard = 16;
  static constexpr uint32_t kSentinel = 0x7fc0dead;  // a quiet NaN with a recognisable payload

  GuardedBuffer() = default;
  GuardedBuffer(int64_t size, bool misalign)
      : lead_(kGuard + (misalign ? 1 : 0)),
        size_(size),
        storage_(static_cast<size_t>(lead_ + size + kGuard)) {
    fill_sentinel();
  }
  void fill_sentinel() {
    for (float& v : storage_) std::memcpy(&v, &kSentinel, sizeof(v));
  }
  void assign(const std::vector<float>& values) { std::copy(values.begin(), values.end(), data()); }
  float* data() { return storage_.data() + lead_; }
  const float* data() const { return storage_.data() + lead_; }
  int64_t size() const { return size_; }
  std::vector<float> contents() const { return std::vector<float>(data(), data() + size_); }
  bool guards_intact() const {
    auto intact = [&](int64_t from, int64_t to) {
      for (int64_t i = from; i < to; ++i) {
        uint32_t bits;
        std::memcpy(&bits, &storage_[static_cast<size_t>(i)], sizeof(bits));
        if (bits != kSentinel) return false;
      }
      return true;
    };
    return intact(0, lead_) && intact(lead_ + size_, static_cast<int64_t>(storage_.size()));
  }

 private:
  int64_t lead_ = 0;
  int64_t size_ = 0;
  std::vector<float> storage_;
};

struct ModelDeleter {
  void operator()(simdrnn_model* model) const { simdrnn_model_destroy(model); }
};
using ModelPtr = std::unique_ptr<simdrnn_model, ModelDeleter>;

// Inputs of a case, generated once.
struct Inputs {
  simdrnn_config config{};
  RefWeights weights;
  std::vector<float> x;
  std::vector<float> h0;          // empty when the case has no h0
  std::vector<int64_t> seq_lens;  // empty when the case has no lengths
  RefResult ref;
};

Inputs make_inputs(const Case& c) {
  Inputs in;
  in.config = c.config();
  const uint32_t seed = c.seed();
  in.weights = random_ref_weights(in.config, seed, c.bias);
  in.x = random_vector(static_cast<size_t>(c.steps * c.batch * c.input), seed + 1);
  const int64_t D = c.bidirectional ? 2 : 1;
  if (c.h0 || c.alias)
    in.h0 = random_vector(static_cast<size_t>(c.layers * D * c.batch * c.hidden), seed + 2);
  if (c.seq_lens) in.seq_lens = random_seq_lens(c.steps, c.batch, seed + 3);
  in.ref = reference_forward(in.config, in.weights, c.steps, c.batch, c.layout, in.x,
                             in.h0.empty() ? nullptr : in.h0.data(),
                             in.seq_lens.empty() ? nullptr : in.seq_lens.data());
  return in;
}

// Outputs of one library run.
struct Outputs {
  std::vector<float> y, h_n, out;  // empty when not requested
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

// Runs the library once; checks that inputs are untouched and guards intact.
Outputs run_forward(const simdrnn_model* model, const Case& c, const Inputs& in, int32_t num_threads) {
  const simdrnn_config& cfg = in.config;
  const int64_t D = c.bidirectional ? 2 : 1;
  const int64_t T = c.steps, N = c.batch, H = c.hidden;
  GuardedBuffer x(T * N * c.input, c.misalign);
  x.assign(in.x);
  const int64_t state_size = c.layers * D * N * H;
  GuardedBuffer h0, y, h_n, out;
  if (!in.h0.empty()) {
    h0 = GuardedBuffer(state_size, c.misalign);
    h0.assign(in.h0);
  }
  if (!c.y_null) y = GuardedBuffer(T * N * D * H, c.misalign);
  if (!c.h_n_null && !c.alias) h_n = GuardedBuffer(state_size, c.misalign);
  if (cfg.output_size > 0) out = GuardedBuffer(T * N * cfg.output_size, c.misalign);

  simdrnn_forward_args args{};
  args.seq_len = T;
  args.batch = N;
  args.layout = c.layout;
  args.x = x.data();
  args.h0 = in.h0.empty() ? nullptr : h0.data();
  args.seq_lens = in.seq_lens.empty() ? nullptr : in.seq_lens.data();
  args.y = c.y_null ? nullptr : y.data();
  args.h_n = c.alias ? h0.data() : (c.h_n_null ? nullptr : h_n.data());
  args.out = cfg.output_size > 0 ? out.data() : nullptr;
  args.num_threads = num_threads;

  size_t bytes = 0;
  EXPECT_EQ(simdrnn_forward_workspace_size(model, &args, &bytes), SIMDRNN_OK) << simdrnn_last_error();
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
    if (!c.alias) {
      EXPECT_TRUE(h0.contents() == in.h0) << "h0 was modified";
    }
  }
  if (!c.y_null) {
    EXPECT_TRUE(y.guards_intact()) << "write outside y";
    result.y = y.contents();
  }
  if (c.alias) {
    result.h_n = h0.contents();
  } else if (!c.h_n_null) {
    EXPECT_TRUE(h_n.guards_intact()) << "write outside h_n";
    result.h_n = h_n.contents();
  }
  if (cfg.output_size > 0) {
    EXPECT_TRUE(out.guards_intact()) << "write outside out";
    result.out = out.contents();
  }
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
  check_padding(got.y, (c.bidirectional ? 2 : 1) * c.hidden, "y");
  check_padding(got.out, c.output, "out");
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void expect_bit_identical(const Outputs& a, const Outputs& b, const std::string& what) {
  EXPECT_TRUE(bit_identical(a.y, b.y)) << "y differs: " << what;
  EXPECT_TRUE(bit_identical(a.h_n, b.h_n)) << "h_n differs: " << what;
  EXPECT_TRUE(bit_identical(a.out, b.out)) << "out differs: " << what;
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

    Outputs one, two;
    {
      SCOPED_TRACE("1 thread");
      one = run_forward(model.get(), c, in, 1);
      expect_close(one, c, in);
    }
    {
      SCOPED_TRACE("2 threads");
      two = run_forward(model.get(), c, in, 2);
      expect_close(two, c, in);
      expect_bit_identical(one, two, "1 vs 2 threads");
      const Outputs again = run_forward(model.get(), c, in, 2);
      expect_bit_identical(two, again, "repeated run");
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
}

class ForwardTest : public ::testing::TestWithParam<Case> {};

TEST_P(ForwardTest, MatchesReference) { run_case(GetParam()); }

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name(); }

INSTANTIATE_TEST_SUITE_P(Sweep, ForwardTest, ::testing::ValuesIn(sweep_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Random, ForwardTest, ::testing::ValuesIn(random_cases()), case_name);

// ---- the reference itself and the strength of the tolerance ---------------------------------

// A 1-unit bidirectional case worked out by hand, with sequence lengths.
TEST(ReferenceTest, HandComputedBidirectionalWithLengths) {
  simdrnn_config config = simdrnn_config_default();
  config.input_size = 1;
  config.hidden_size = 1;
  config.bidirectional = 1;
  config.output_size = 1;
  RefWeights w;
  w.cells.resize(2);
  w.cells[0] = RefCell{{0.5f}, {-0.25f}, {0.125f}, {0.0625f}};
  w.cells[1] = RefCell{{-0.75f}, {0.5f}, {}, {0.25f}};
  w.w_hy = {2.0f, -1.0f};
  w.b_hy = {0.5f};
  const int64_t T = 3, N = 2;
  // Time-major x [T, N, 1]; sequence 0 has length 3, sequence 1 has length 2.
  const std::vector<float> x = {1.0f, -1.0f, 2.0f, 0.5f, -3.0f, 4.0f};
  const std::vector<float> h0 = {0.1f, 0.2f, -0.3f, 0.4f};  // [L*D=2, N, 1]
  const std::vector<int64_t> lens = {3, 2};
  const RefResult r = reference_forward(config, w, T, N, SIMDRNN_TIME_MAJOR, x, h0.data(), lens.data());

  auto fwd = [](double xv, double h) { return std::tanh(0.5 * xv + 0.125 + -0.25 * h + 0.0625); };
  auto rev = [](double xv, double h) { return std::tanh(-0.75 * xv + 0.5 * h + 0.25); };
  const double x0[] = {1.0, 2.0, -3.0}, x1[] = {-1.0, 0.5};
  // Sequence 0, forward from h0 = 0.1; reverse from h0 = -0.3 starting at t = 2.
  const double f00 = fwd(x0[0], double{0.1f}), f01 = fwd(x0[1], f00), f02 = fwd(x0[2], f01);
  const double r02 = rev(x0[2], double{-0.3f}), r01 = rev(x0[1], r02), r00 = rev(x0[0], r01);
  // Sequence 1 (length 2), forward from 0.2; reverse from 0.4 starting at t = 1.
  const double f10 = fwd(x1[0], double{0.2f}), f11 = fwd(x1[1], f10);
  const double r11 = rev(x1[1], double{0.4f}), r10 = rev(x1[0], r11);

  const std::vector<double> y = {f00, r00, f10, r10, f01, r01, f11, r11, f02, r02, 0.0, 0.0};
  ASSERT_EQ(r.y.size(), y.size());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(r.y[i], y[i], 1e-12) << "y[" << i << "]";
  const std::vector<double> h_n = {f02, f11, r00, r10};
  ASSERT_EQ(r.h_n.size(), h_n.size());
  for (size_t i = 0; i < h_n.size(); ++i) EXPECT_NEAR(r.h_n[i], h_n[i], 1e-12) << "h_n[" << i << "]";
  ASSERT_EQ(r.out.size(), 6u);
  for (size_t i = 0; i < 5; ++i)
    EXPECT_NEAR(r.out[i], 2.0 * y[2 * i] - y[2 * i + 1] + 0.5, 1e-12) << "out[" << i << "]";
  EXPECT_EQ(r.out[5], 0.0) << "out at a padded step is 0";
  EXPECT_EQ(r.k_hidden, 1 + 1);
  EXPECT_EQ(r.k_out, 2 + 2);
}

// Layer 2 reads layer 1's concatenated output; relu and clip; batch-major layout.
TEST(ReferenceTest, HandComputedTwoLayersReluClipBatchMajor) {
  simdrnn_config config = simdrnn_config_default();
  config.input_size = 2;
  config.hidden_size = 1;
  config.num_layers = 2;
  config.activation = SIMDRNN_RELU;
  config.clip = 1.0f;
  RefWeights w;
  w.cells.resize(2);
  w.cells[0] = RefCell{{1.0f, -2.0f}, {0.5f}, {}, {}};
  w.cells[1] = RefCell{{3.0f}, {-1.0f}, {0.25f}, {}};
  const int64_t T = 2, N = 1;
  const std::vector<float> x = {0.25f, -0.5f, 0.125f, 0.0f};  // [N, T, I]
  const RefResult r = reference_forward(config, w, T, N, SIMDRNN_BATCH_MAJOR, x, nullptr, nullptr);
  auto cell = [](double pre) { return std::max(0.0, std::min(pre, 1.0)); };
  const double a0 = cell(0.25 + 1.0), a1 = cell(0.125 + 0.5 * a0);
  const double b0 = cell(3.0 * a0 + 0.25), b1 = cell(3.0 * a1 - b0 + 0.25);
  ASSERT_EQ(r.y.size(), 2u);
  EXPECT_DOUBLE_EQ(r.y[0], b0);
  EXPECT_DOUBLE_EQ(r.y[1], b1);
  ASSERT_EQ(r.h_n.size(), 2u);
  EXPECT_DOUBLE_EQ(r.h_n[0], a1);
  EXPECT_DOUBLE_EQ(r.h_n[1], b1);
  EXPECT_EQ(r.k_hidden, (2 + 1) + (1 + 1));
}

// The tolerance must be tight enough to catch plausible bugs: a transposed W_hh, a dropped bias,
// swapped directions, ignored lengths and a transposed W_hy all fail the check, while the library
// itself passes it.
TEST(ToleranceTest, MutationsFailTheCheck) {
  Case c;
  c.input = 7;
  c.hidden = 16;
  c.batch = 3;
  c.steps = 20;
  c.bidirectional = true;
  c.layers = 2;
  c.seq_lens = true;
  c.h0 = true;
  c.output = 5;
  const Inputs in = make_inputs(c);
  const Tolerance tolerance = default_tolerance();
  const int64_t H = c.hidden;

  auto reference_with = [&](const RefWeights& w, const int64_t* lens) {
    return reference_forward(in.config, w, c.steps, c.batch, c.layout, in.x, in.h0.data(), lens);
  };
  struct Mutation {
    std::string name;
    RefResult result;
  };
  std::vector<Mutation> mutations;
  {
    RefWeights w = in.weights;
    for (RefCell& cell : w.cells)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = i + 1; j < H; ++j)
          std::swap(cell.w_hh[static_cast<size_t>(i * H + j)], cell.w_hh[static_cast<size_t>(j * H + i)]);
    mutations.push_back({"transposed W_hh", reference_with(w, in.seq_lens.data())});
  }
  {
    RefWeights w = in.weights;
    w.cells[0].b_hh.clear();
    mutations.push_back({"dropped b_hh of layer 0", reference_with(w, in.seq_lens.data())});
  }
  {
    RefWeights w = in.weights;
    w.cells[3].b_ih.clear();
    mutations.push_back({"dropped b_ih of layer 1 reverse", reference_with(w, in.seq_lens.data())});
  }
  {
    RefWeights w = in.weights;
    std::swap(w.cells[0], w.cells[1]);
    std::swap(w.cells[2], w.cells[3]);
    mutations.push_back({"swapped directions", reference_with(w, in.seq_lens.data())});
  }
  mutations.push_back({"ignored seq_lens", reference_with(in.weights, nullptr)});
  {
    RefWeights w = in.weights;
    w.b_hy.clear();
    mutations.push_back({"dropped b_hy", reference_with(w, in.seq_lens.data())});
  }

  auto fails = [&](const RefResult& mutated, const std::vector<float>* y, const std::vector<float>* h_n,
                   const std::vector<float>* out) {
    auto bad = [&](const std::vector<double>& m, const std::vector<float>* got,
                   const std::vector<double>& ref, const std::vector<double>& mag, int64_t k) {
      if (got == nullptr) return !compare_with_reference(m, ref, mag, k, tolerance, "").ok();
      // The library's output against the mutated reference.
      return !compare_with_reference(got->data(), m, mag, k, tolerance, "").ok();
    };
    return bad(mutated.y, y, in.ref.y, in.ref.y_mag, in.ref.k_hidden) ||
           bad(mutated.h_n, h_n, in.ref.h_n, in.ref.h_n_mag, in.ref.k_hidden) ||
           bad(mutated.out, out, in.ref.out, in.ref.out_mag, in.ref.k_out);
  };
  for (const Mutation& m : mutations)
    EXPECT_TRUE(fails(m.result, nullptr, nullptr, nullptr))
        << m.name << " passes the tolerance check against the reference";

  IsaCap cap(SIMDRNN_ISA_SCALAR);
  std::string error;
  ModelPtr model(create_model(in.config, in.weights, &error));
  ASSERT_NE(model, nullptr) << error;
  const Outputs got = run_forward(model.get(), c, in, 1);
  expect_close(got, c, in);
  for (const Mutation& m : mutations)
    EXPECT_TRUE(fails(m.result, &got.y, &got.h_n, &got.out))
        << "the library's output passes the tolerance check against the " << m.name << " reference";
}

}  // namespace
}  // namespace simdrnn_test
