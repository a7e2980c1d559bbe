// Bad-input tests for what LSTM and GRU cells add to the C API: the config fields (cell,
// proj_size, gru_linear_before_reset, activation), the new tensor names (weight_hr,
// weight_peephole) and their counts, ONNX's P and projected models, and the cell-state pointers
// (c0, c_n, stream and session c). For every rejected call we check the status, that
// simdrnn_last_error() names the offending argument or tensor (the message is primed with an
// unrelated error first, so a stale one cannot pass), and that outputs and out handles still hold
// what they held before.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/error_checks.hpp"
#include "support/gated_util.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace {

using simdrnn_test::last_error;
using simdrnn_test::LastErrorNamesAll;
using simdrnn_test::LastErrorNamesAny;
using simdrnn_test::ModelPtr;
using simdrnn_test::prime_last_error;
using simdrnn_test::StreamPtr;

constexpr float kSentinel = 12345.0f;

struct WeightsDeleter {
  void operator()(simdrnn_weights* w) const { simdrnn_weights_destroy(w); }
};
using WeightsPtr = std::unique_ptr<simdrnn_weights, WeightsDeleter>;
struct SessionDeleter {
  void operator()(simdrnn_train_session* s) const { simdrnn_train_session_destroy(s); }
};
using SessionPtr = std::unique_ptr<simdrnn_train_session, SessionDeleter>;

#define EXPECT_STATUS_NAMING_ANY(expected, names, call)                        \
  do {                                                                         \
    prime_last_error(std::vector<std::string> names);                          \
    const simdrnn_status status_ = (call);                                     \
    EXPECT_EQ(status_, (expected)) << #call << "  [" << last_error() << "]";   \
    if (status_ != SIMDRNN_OK) {                                               \
      EXPECT_TRUE(LastErrorNamesAny(std::vector<std::string> names)) << #call; \
    }                                                                          \
  } while (0)
#define EXPECT_INVALID(name, call) EXPECT_STATUS_NAMING_ANY(SIMDRNN_INVALID_ARGUMENT, ({name}), call)
#define EXPECT_INVALID_ANY(names, call) EXPECT_STATUS_NAMING_ANY(SIMDRNN_INVALID_ARGUMENT, names, call)
#define EXPECT_UNSUPPORTED(name, call) EXPECT_STATUS_NAMING_ANY(SIMDRNN_UNSUPPORTED, ({name}), call)

// Stores an arbitrary int in an enum-typed field, as a C caller can (an out-of-range enum value is
// undefined behaviour in C++, so the tests never form one as a C++ value).
template <typename E>
void poke_enum(E* field, int value) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized here");
  std::memcpy(field, &value, sizeof value);
}

template <typename T>
T* fake_handle(uintptr_t value) {
  return reinterpret_cast<T*>(value);
}

testing::AssertionResult AllSentinel(const std::vector<float>& v, const char* what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (std::memcmp(&v[i], &kSentinel, sizeof(float)) != 0)
      return testing::AssertionFailure() << what << "[" << i << "] was overwritten with " << v[i];
  return testing::AssertionSuccess();
}

simdrnn_config make_config(simdrnn_cell cell, int64_t I, int64_t H, int64_t L = 1, int32_t bidirectional = 0,
                           int64_t P = 0, int64_t O = 0) {
  simdrnn_config c = simdrnn_config_default();
  c.cell = cell;
  c.input_size = I;
  c.hidden_size = H;
  c.num_layers = L;
  c.bidirectional = bidirectional;
  c.proj_size = P;
  c.output_size = O;
  return c;
}

WeightsPtr make_weights(const simdrnn_config& c) {
  simdrnn_weights* w = nullptr;
  const simdrnn_status st = simdrnn_weights_create(&c, &w);
  EXPECT_EQ(st, SIMDRNN_OK) << last_error();
  return WeightsPtr(st == SIMDRNN_OK ? w : nullptr);
}

ModelPtr make_model(const simdrnn_config& c, bool peephole = false) {
  std::string error;
  ModelPtr m(simdrnn_test::create_model(c, simdrnn_test::random_ref_weights(c, 3, true, peephole), &error));
  EXPECT_NE(m, nullptr) << error;
  return m;
}

// Expects weights_create to fail with `status` naming `arg`, leaving the out handle alone.
void expect_config_rejected(const simdrnn_config& c, simdrnn_status status, const std::string& arg) {
  simdrnn_weights* w = fake_handle<simdrnn_weights>(0x1234);
  EXPECT_STATUS_NAMING_ANY(status, ({arg}), simdrnn_weights_create(&c, &w));
  EXPECT_EQ(w, fake_handle<simdrnn_weights>(0x1234)) << "out handle touched on failure";
  if (w != fake_handle<simdrnn_weights>(0x1234)) simdrnn_weights_destroy(w);
}

// =============================================================================
// config
// =============================================================================
TEST(GatedConfigErrors, ProjSizeOnlyForLstm) {
  for (simdrnn_cell cell : {SIMDRNN_CELL_RNN, SIMDRNN_CELL_GRU}) {
    SCOPED_TRACE(cell == SIMDRNN_CELL_RNN ? "rnn" : "gru");
    expect_config_rejected(make_config(cell, 3, 8, 1, 0, 2), SIMDRNN_INVALID_ARGUMENT, "proj_size");
  }
}

TEST(GatedConfigErrors, ProjSizeRange) {
  for (int64_t P : {int64_t{8}, int64_t{9}, int64_t{-1}, int64_t{1} << 40}) {
    SCOPED_TRACE("proj_size " + std::to_string(P));
    expect_config_rejected(make_config(SIMDRNN_CELL_LSTM, 3, 8, 1, 0, P), SIMDRNN_INVALID_ARGUMENT,
                           "proj_size");
  }
  // hidden_size 1 leaves no valid projection.
  expect_config_rejected(make_config(SIMDRNN_CELL_LSTM, 3, 1, 1, 0, 1), SIMDRNN_INVALID_ARGUMENT,
                         "proj_size");
}

TEST(GatedConfigErrors, GruLinearBeforeResetIsZeroOrOne) {
  for (int32_t v : {2, -1, 7}) {
    SCOPED_TRACE("gru_linear_before_reset " + std::to_string(v));
    simdrnn_config c = make_config(SIMDRNN_CELL_GRU, 3, 8);
    c.gru_linear_before_reset = v;
    expect_config_rejected(c, SIMDRNN_INVALID_ARGUMENT, "gru_linear_before_reset");
  }
}

TEST(GatedConfigErrors, UnknownCell) {
  for (int v : {3, -1, 100}) {
    SCOPED_TRACE("cell " + std::to_string(v));
    simdrnn_config c = make_config(SIMDRNN_CELL_RNN, 3, 8);
    poke_enum(&c.cell, v);
    expect_config_rejected(c, SIMDRNN_INVALID_ARGUMENT, "cell");
  }
}

// Gate activations of an LSTM or GRU are fixed (sigmoid gates, tanh candidate): any other
// activation is a valid request the library does not do.
TEST(GatedConfigErrors, ActivationOtherThanTanh) {
  for (simdrnn_cell cell : {SIMDRNN_CELL_LSTM, SIMDRNN_CELL_GRU})
    for (simdrnn_activation act : {SIMDRNN_RELU, SIMDRNN_SIGMOID}) {
      SCOPED_TRACE(std::to_string(cell) + " activation " + std::to_string(act));
      simdrnn_config c = make_config(cell, 3, 8);
      c.activation = act;
      expect_config_rejected(c, SIMDRNN_UNSUPPORTED, "activation");
    }
}

// simdrnn.h: the default GRU is PyTorch's (linear before reset), no projection, an Elman cell.
TEST(GatedConfigErrors, DefaultsArePyTorchs) {
  const simdrnn_config c = simdrnn_config_default();
  EXPECT_EQ(c.cell, SIMDRNN_CELL_RNN);
  EXPECT_EQ(c.proj_size, 0);
  EXPECT_EQ(c.gru_linear_before_reset, 1);
  EXPECT_EQ(c.activation, SIMDRNN_TANH);
}

TEST(GatedConfigErrors, ValidGatedConfigsAreAccepted) {
  simdrnn_config gru0 = make_config(SIMDRNN_CELL_GRU, 3, 8, 2, 1, 0, 4);
  gru0.gru_linear_before_reset = 0;
  for (const simdrnn_config& c :
       {make_config(SIMDRNN_CELL_LSTM, 3, 8), make_config(SIMDRNN_CELL_LSTM, 3, 8, 2, 1, 7, 4),
        make_config(SIMDRNN_CELL_LSTM, 1, 2, 1, 0, 1), make_config(SIMDRNN_CELL_GRU, 3, 8), gru0}) {
    simdrnn_weights* w = nullptr;
    EXPECT_EQ(simdrnn_weights_create(&c, &w), SIMDRNN_OK) << last_error();
    simdrnn_weights_destroy(w);
  }
}

// =============================================================================
// simdrnn_weights_set: names and counts
// =============================================================================
TEST(GatedWeightsSetErrors, ProjectionWeightsNeedProjSize) {
  const std::vector<float> data(512, 0.25f);
  for (const simdrnn_config& c : {make_config(SIMDRNN_CELL_LSTM, 3, 8), make_config(SIMDRNN_CELL_GRU, 3, 8),
                                  make_config(SIMDRNN_CELL_RNN, 3, 8)}) {
    SCOPED_TRACE("cell " + std::to_string(c.cell));
    WeightsPtr w = make_weights(c);
    if (!w) continue;
    for (int64_t count : {int64_t{8 * 4}, int64_t{8 * 8}}) {
      prime_last_error({"weight_hr_l0"});
      EXPECT_EQ(simdrnn_weights_set(w.get(), "weight_hr_l0", data.data(), count), SIMDRNN_INVALID_ARGUMENT);
      EXPECT_TRUE(LastErrorNamesAll({"name", "weight_hr_l0"}));
    }
  }
}

TEST(GatedWeightsSetErrors, PeepholesAreLstmOnly) {
  const std::vector<float> data(64, 0.25f);
  for (const simdrnn_config& c : {make_config(SIMDRNN_CELL_GRU, 3, 8), make_config(SIMDRNN_CELL_RNN, 3, 8)}) {
    SCOPED_TRACE("cell " + std::to_string(c.cell));
    WeightsPtr w = make_weights(c);
    if (!w) continue;
    prime_last_error({"weight_peephole_l0"});
    EXPECT_EQ(simdrnn_weights_set(w.get(), "weight_peephole_l0", data.data(), 24), SIMDRNN_INVALID_ARGUMENT);
    EXPECT_TRUE(LastErrorNamesAll({"name", "weight_peephole_l0"}));
  }
  // A unidirectional LSTM has no reverse peephole, and no layer 1 when it has one layer.
  WeightsPtr w = make_weights(make_config(SIMDRNN_CELL_LSTM, 3, 8));
  ASSERT_TRUE(w);
  for (const char* name : {"weight_peephole_l0_reverse", "weight_peephole_l1", "weight_hr_l0_reverse"}) {
    SCOPED_TRACE(name);
    EXPECT_INVALID(name, simdrnn_weights_set(w.get(), name, data.data(), 24));
  }
  EXPECT_EQ(simdrnn_weights_set(w.get(), "weight_peephole_l0", data.data(), 24), SIMDRNN_OK) << last_error();
}

// Every gated tensor wants its own count; the message names "count" and the expected number.
TEST(GatedWeightsSetErrors, CountsOfGatedTensors) {
  // LSTM I = 3, H = 6, P = 2, bidirectional, 2 layers, O = 5: layer 1 reads D*P = 4.
  const int64_t I = 3, H = 6, P = 2, D = 2, O = 5;
  const std::vector<float> data(4096, 0.25f);
  struct Bad {
    const char* name;
    int64_t expected, given;
  };
  const Bad lstm_cases[] = {
      {"weight_ih_l0", 4 * H * I, H * I},      // Elman-sized
      {"weight_hh_l0", 4 * H * P, 4 * H * H},  // [4H, P], not [4H, H]
      {"weight_hh_l1_reverse", 4 * H * P, 4 * H * H},
      {"weight_ih_l1", 4 * H * D * P, 4 * H * D * H},  // layer 1 reads D*P
      {"weight_hr_l0", P * H, H * H},
      {"weight_hr_l1_reverse", P * H, P * P},
      {"weight_peephole_l0", 3 * H, 4 * H},
      {"bias_ih_l0", 4 * H, 3 * H},
      {"bias_hh_l1", 4 * H, H},
      {"weight_hy", O * D * P, O * D * H},  // the output layer reads D*P
  };
  {
    WeightsPtr w = make_weights(make_config(SIMDRNN_CELL_LSTM, I, H, 2, 1, P, O));
    if (w)
      for (const Bad& b : lstm_cases) {
        SCOPED_TRACE(b.name);
        prime_last_error({"count", std::to_string(b.expected)});
        EXPECT_EQ(simdrnn_weights_set(w.get(), b.name, data.data(), b.given), SIMDRNN_INVALID_ARGUMENT);
        EXPECT_TRUE(LastErrorNamesAll({"count", b.name, std::to_string(b.expected)}));
        EXPECT_EQ(simdrnn_weights_set(w.get(), b.name, data.data(), b.expected), SIMDRNN_OK)
            << b.name << ": " << last_error();
      }
  }
  const Bad gru_cases[] = {
      {"weight_ih_l0", 3 * H * I, 4 * H * I},  // LSTM-sized
      {"weight_hh_l0", 3 * H * H, 4 * H * H}, {"weight_ih_l1", 3 * H * D * H, 3 * H * D * P},
      {"bias_ih_l0_reverse", 3 * H, 4 * H},   {"bias_hh_l1", 3 * H, H},
  };
  WeightsPtr w = make_weights(make_config(SIMDRNN_CELL_GRU, I, H, 2, 1));
  if (w)
    for (const Bad& b : gru_cases) {
      SCOPED_TRACE(std::string("gru ") + b.name);
      prime_last_error({"count", std::to_string(b.expected)});
      EXPECT_EQ(simdrnn_weights_set(w.get(), b.name, data.data(), b.given), SIMDRNN_INVALID_ARGUMENT);
      EXPECT_TRUE(LastErrorNamesAll({"count", b.name, std::to_string(b.expected)}));
    }
}

// =============================================================================
// simdrnn_model_create: missing tensors
// =============================================================================
TEST(GatedModelCreateErrors, MissingProjectionWeights) {
  for (const char* missing : {"weight_hr_l0", "weight_hr_l0_reverse", "weight_hr_l1"}) {
    SCOPED_TRACE(missing);
    const simdrnn_config c = make_config(SIMDRNN_CELL_LSTM, 3, 6, 2, 1, 2);
    WeightsPtr w = make_weights(c);
    ASSERT_TRUE(w);
    simdrnn_test::RefWeights ref = simdrnn_test::random_ref_weights(c, 9);
    const std::string name(missing);
    const size_t cell = (name.back() == 'e' ? 1 : 0) + (name.find("_l1") != std::string::npos ? 2 : 0);
    ref.cells[cell].w_hr.clear();  // load_ref_weights skips empty tensors
    ASSERT_EQ(simdrnn_test::load_ref_weights(c, ref, w.get()), SIMDRNN_OK) << last_error();
    simdrnn_model* m = fake_handle<simdrnn_model>(0x4321);
    EXPECT_INVALID(missing, simdrnn_model_create(w.get(), &m));
    EXPECT_EQ(m, fake_handle<simdrnn_model>(0x4321)) << "out handle touched on failure";
  }
}

// Peepholes and biases are optional: a model without them builds.
TEST(GatedModelCreateErrors, OptionalTensorsMayBeAbsent) {
  for (const simdrnn_config& c :
       {make_config(SIMDRNN_CELL_LSTM, 3, 6, 1, 0, 2), make_config(SIMDRNN_CELL_GRU, 3, 6)}) {
    WeightsPtr w = make_weights(c);
    ASSERT_TRUE(w);
    ASSERT_EQ(
        simdrnn_test::load_ref_weights(c, simdrnn_test::random_ref_weights(c, 9, false, false), w.get()),
        SIMDRNN_OK)
        << last_error();
    simdrnn_model* m = nullptr;
    EXPECT_EQ(simdrnn_model_create(w.get(), &m), SIMDRNN_OK) << last_error();
    simdrnn_model_destroy(m);
  }
}

// =============================================================================
// simdrnn_weights_set_onnx: P and projections
// =============================================================================
TEST(GatedOnnxErrors, PeepholesOnlyForLstm) {
  const std::vector<float> data(1024, 0.25f);
  const float* p = data.data();
  for (const simdrnn_config& c : {make_config(SIMDRNN_CELL_GRU, 3, 4), make_config(SIMDRNN_CELL_RNN, 3, 4)}) {
    SCOPED_TRACE("cell " + std::to_string(c.cell));
    WeightsPtr w = make_weights(c);
    if (!w) continue;
    EXPECT_INVALID("P", simdrnn_weights_set_onnx(w.get(), 0, p, p, p, p));
    EXPECT_INVALID("P", simdrnn_weights_set_onnx(w.get(), 0, p, p, nullptr, p));
    // The failed call stored nothing: the model still misses weight_ih_l0.
    simdrnn_model* m = fake_handle<simdrnn_model>(0x4321);
    EXPECT_INVALID("weight_ih_l0", simdrnn_model_create(w.get(), &m));
    EXPECT_EQ(m, fake_handle<simdrnn_model>(0x4321));
    EXPECT_EQ(simdrnn_weights_set_onnx(w.get(), 0, p, p, p, nullptr), SIMDRNN_OK) << last_error();
  }
  WeightsPtr w = make_weights(make_config(SIMDRNN_CELL_LSTM, 3, 4));
  ASSERT_TRUE(w);
  EXPECT_EQ(simdrnn_weights_set_onnx(w.get(), 0, p, p, p, p), SIMDRNN_OK) << last_error();
}

// ONNX's LSTM has no projection, so its tensors cannot describe a projected model.
TEST(GatedOnnxErrors, ProjectedLstmIsUnsupported) {
  const std::vector<float> data(1024, 0.25f);
  const float* p = data.data();
  WeightsPtr w = make_weights(make_config(SIMDRNN_CELL_LSTM, 3, 6, 1, 0, 2));
  ASSERT_TRUE(w);
  EXPECT_UNSUPPORTED("proj", simdrnn_weights_set_onnx(w.get(), 0, p, p, p, nullptr));
  EXPECT_UNSUPPORTED("proj", simdrnn_weights_set_onnx(w.get(), 0, p, p, nullptr, p));
}

// =============================================================================
// simdrnn_forward: c0 and c_n
// =============================================================================
class GatedForwardErrors : public testing::Test {
 protected:
  static constexpr int64_t I = 3, H = 4, L = 2, T = 5, N = 2;

  void Allocate(const simdrnn_config& c) {
    const int64_t H_out = c.proj_size > 0 ? c.proj_size : c.hidden_size;
    x_ = simdrnn_test::random_vector(T * N * I, 11);
    h0_ = simdrnn_test::random_vector(L * N * H_out, 12);
    c0_ = simdrnn_test::random_vector(L * N * H, 13);
    y_.assign(T * N * H_out, kSentinel);
    h_n_.assign(L * N * H_out, kSentinel);
    c_n_.assign(L * N * H, kSentinel);
  }

  // Valid arguments for `m` (without any cell state) and a right-sized workspace.
  simdrnn_forward_args valid_args(const simdrnn_model* m) {
    simdrnn_forward_args a{};
    a.seq_len = T;
    a.batch = N;
    a.layout = SIMDRNN_TIME_MAJOR;
    a.x = x_.data();
    a.h0 = h0_.data();
    a.y = y_.data();
    a.h_n = h_n_.data();
    size_t bytes = 0;
    EXPECT_EQ(simdrnn_forward_workspace_size(m, &a, &bytes), SIMDRNN_OK) << last_error();
    workspace_.assign(bytes + 64, 0);
    a.workspace = workspace_.data();
    a.workspace_size = bytes;
    return a;
  }

  void ExpectOutputsUntouched() {
    EXPECT_TRUE(AllSentinel(y_, "y"));
    EXPECT_TRUE(AllSentinel(h_n_, "h_n"));
    EXPECT_TRUE(AllSentinel(c_n_, "c_n"));
  }

  std::vector<float> x_, h0_, c0_, y_, h_n_, c_n_;
  std::vector<unsigned char> workspace_;
};

// Only an LSTM has a cell state: c0 or c_n on an Elman RNN or a GRU is an error naming it.
TEST_F(GatedForwardErrors, CellStateOnCellsWithout) {
  for (simdrnn_cell cell : {SIMDRNN_CELL_RNN, SIMDRNN_CELL_GRU}) {
    SCOPED_TRACE("cell " + std::to_string(cell));
    const simdrnn_config c = make_config(cell, I, H, L);
    Allocate(c);
    ModelPtr m = make_model(c);
    if (!m) continue;
    simdrnn_sizes sizes{};
    simdrnn_forward_args a = valid_args(m.get());
    ASSERT_EQ(simdrnn_forward_sizes(m.get(), &a, &sizes), SIMDRNN_OK) << last_error();
    EXPECT_EQ(sizes.c, 0);
    a.c0 = c0_.data();
    EXPECT_INVALID("c0", simdrnn_forward(m.get(), &a));
    ExpectOutputsUntouched();
    a = valid_args(m.get());
    a.c_n = c_n_.data();
    EXPECT_INVALID("c_n", simdrnn_forward(m.get(), &a));
    ExpectOutputsUntouched();
    a.c0 = c0_.data();
    EXPECT_INVALID_ANY(({"c0", "c_n"}), simdrnn_forward(m.get(), &a));
    ExpectOutputsUntouched();
  }
}

// c_n may be c0's buffer, but no other input's or output's.
TEST_F(GatedForwardErrors, CellStateOverlaps) {
  const simdrnn_config c = make_config(SIMDRNN_CELL_LSTM, I, H, L);
  Allocate(c);
  ModelPtr m = make_model(c, true);
  ASSERT_TRUE(m);
  simdrnn_forward_args a = valid_args(m.get());
  a.c0 = c0_.data();
  a.c_n = c_n_.data();
  ASSERT_EQ(simdrnn_forward(m.get(), &a), SIMDRNN_OK) << last_error();
  a.c_n = c0_.data();  // in place: allowed
  EXPECT_EQ(simdrnn_forward(m.get(), &a), SIMDRNN_OK) << last_error();

  y_.assign(y_.size(), kSentinel);
  h_n_.assign(h_n_.size(), kSentinel);
  c_n_.assign(c_n_.size(), kSentinel);
  a = valid_args(m.get());
  a.c0 = c0_.data();
  a.c_n = h0_.data();  // an input other than c0 (same size here: H_out == H)
  EXPECT_INVALID_ANY(({"c_n", "h0"}), simdrnn_forward(m.get(), &a));
  ExpectOutputsUntouched();
  a.c_n = h_n_.data();  // another output
  EXPECT_INVALID_ANY(({"c_n", "h_n"}), simdrnn_forward(m.get(), &a));
  ExpectOutputsUntouched();
  a.c_n = c_n_.data();
  a.h_n = c0_.data();  // h_n on c0
  EXPECT_INVALID_ANY(({"h_n", "c0"}), simdrnn_forward(m.get(), &a));
  ExpectOutputsUntouched();
  std::vector<float> shared(c_n_.size() + 1, kSentinel);
  a = valid_args(m.get());
  a.c_n = shared.data();
  a.c0 = shared.data() + 1;  // c_n overlapping c0 without being it
  EXPECT_INVALID_ANY(({"c_n", "c0"}), simdrnn_forward(m.get(), &a));
  EXPECT_TRUE(AllSentinel(shared, "c0 / c_n"));
}

// simdrnn_forward_sizes of a projected LSTM: h and y are P wide, c is H wide.
TEST_F(GatedForwardErrors, SizesOfAProjectedLstm) {
  const int64_t P = 3;
  simdrnn_config c = make_config(SIMDRNN_CELL_LSTM, I, H + 3, L, 1, P, 2);
  ModelPtr m = make_model(c, true);
  ASSERT_TRUE(m);
  simdrnn_forward_args a{};
  a.seq_len = T;
  a.batch = N;
  simdrnn_sizes s{};
  ASSERT_EQ(simdrnn_forward_sizes(m.get(), &a, &s), SIMDRNN_OK) << last_error();
  EXPECT_EQ(s.x, T * N * I);
  EXPECT_EQ(s.y, T * N * 2 * P);
  EXPECT_EQ(s.h, L * 2 * N * P);
  EXPECT_EQ(s.c, L * 2 * N * (H + 3));
  EXPECT_EQ(s.out, T * N * 2);
}

// =============================================================================
// streams and training sessions: the cell state
// =============================================================================
TEST(GatedStreamErrors, CellStateOnCellsWithout) {
  for (simdrnn_cell cell : {SIMDRNN_CELL_RNN, SIMDRNN_CELL_GRU}) {
    SCOPED_TRACE("cell " + std::to_string(cell));
    ModelPtr m = make_model(make_config(cell, 3, 4, 2));
    if (!m) continue;
    simdrnn_stream* raw = nullptr;
    ASSERT_EQ(simdrnn_stream_create(m.get(), 2, 3, &raw), SIMDRNN_OK) << last_error();
    StreamPtr stream(raw);
    const std::vector<float> c0(2 * 2 * 4, 0.5f);
    std::vector<float> h(2 * 2 * 4, kSentinel), c(2 * 2 * 4, kSentinel);
    EXPECT_INVALID("c0", simdrnn_stream_reset(stream.get(), nullptr, c0.data()));
    EXPECT_INVALID("c", simdrnn_stream_state(stream.get(), h.data(), c.data()));
    EXPECT_TRUE(AllSentinel(h, "h"));
    EXPECT_TRUE(AllSentinel(c, "c"));
    // The failed reset changed nothing: the state is still the initial zeros.
    ASSERT_EQ(simdrnn_stream_state(stream.get(), h.data(), nullptr), SIMDRNN_OK) << last_error();
    for (float v : h) EXPECT_EQ(v, 0.0f);
  }
}

TEST(GatedStreamErrors, LstmStateBuffersAreChecked) {
  ModelPtr m = make_model(make_config(SIMDRNN_CELL_LSTM, 3, 4, 1, 0, 2));
  ASSERT_TRUE(m);
  simdrnn_stream* raw = nullptr;
  ASSERT_EQ(simdrnn_stream_create(m.get(), 2, 3, &raw), SIMDRNN_OK) << last_error();
  StreamPtr stream(raw);
  std::vector<float> h(2 * 2, kSentinel), c(2 * 4, kSentinel), both(2 * 2 + 2 * 4, kSentinel);
  // h is required; c may be NULL; overlapping h and c is an error.
  EXPECT_INVALID("h", simdrnn_stream_state(stream.get(), nullptr, c.data()));
  EXPECT_TRUE(AllSentinel(c, "c"));
  EXPECT_INVALID_ANY(({"h", "c"}), simdrnn_stream_state(stream.get(), both.data(), both.data() + 1));
  EXPECT_TRUE(AllSentinel(both, "h / c"));
  EXPECT_EQ(simdrnn_stream_state(stream.get(), h.data(), c.data()), SIMDRNN_OK) << last_error();
}

TEST(GatedSessionErrors, CellStateOnCellsWithout) {
  for (simdrnn_cell cell : {SIMDRNN_CELL_RNN, SIMDRNN_CELL_GRU}) {
    SCOPED_TRACE("cell " + std::to_string(cell));
    ModelPtr m = make_model(make_config(cell, 3, 4));
    if (!m) continue;
    simdrnn_train_session* raw = nullptr;
    ASSERT_EQ(simdrnn_train_session_create(m.get(), 2, 3, &raw), SIMDRNN_OK) << last_error();
    SessionPtr session(raw);
    const std::vector<float> c0(2 * 4, 0.5f);
    std::vector<float> h(2 * 4, kSentinel), c(2 * 4, kSentinel);
    EXPECT_INVALID("c0", simdrnn_train_session_reset(session.get(), nullptr, c0.data()));
    EXPECT_INVALID("c", simdrnn_train_session_state(session.get(), h.data(), c.data()));
    EXPECT_TRUE(AllSentinel(h, "h"));
    EXPECT_TRUE(AllSentinel(c, "c"));
  }
}

}  // namespace
