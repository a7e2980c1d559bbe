// simdrnn_stream: feeding a sequence one step or a chunk at a time must reproduce a full
// simdrnn_forward bit for bit (y, out and the final state), on every ISA and thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "simdrnn/simdrnn.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

struct ModelDeleter {
  void operator()(simdrnn_model* model) const { simdrnn_model_destroy(model); }
};
using ModelPtr = std::unique_ptr<simdrnn_model, ModelDeleter>;
struct StreamDeleter {
  void operator()(simdrnn_stream* stream) const { simdrnn_stream_destroy(stream); }
};
using StreamPtr = std::unique_ptr<simdrnn_stream, StreamDeleter>;

struct StreamCase {
  int64_t layers;
  int64_t hidden;
  int64_t batch;
  simdrnn_activation activation;
  int64_t output;  // O; 0 = no output layer
};

std::string case_name(const ::testing::TestParamInfo<StreamCase>& info) {
  static const char* const kActivations[] = {"tanh", "relu", "sigmoid"};
  const StreamCase& c = info.param;
  return "l" + std::to_string(c.layers) + "h" + std::to_string(c.hidden) + "n" + std::to_string(c.batch) +
         "_" + kActivations[c.activation] + "_o" + std::to_string(c.output);
}

constexpr int64_t kInput = 7;
constexpr int64_t kSteps = 20;  // not a multiple of 3 or 7: the last chunk is short

simdrnn_config make_config(const StreamCase& c) {
  simdrnn_config config = simdrnn_config_default();
  config.input_size = kInput;
  config.hidden_size = c.hidden;
  config.num_layers = c.layers;
  config.activation = c.activation;
  config.output_size = c.output;
  return config;
}

// Results of a whole sequence: y [T, N, H], out [T, N, O], final state [L, N, H].
struct SequenceRun {
  std::vector<float> y, out, state;
};

SequenceRun run_forward(const simdrnn_model* model, const StreamCase& c, const std::vector<float>& x,
                        const float* h0, int32_t num_threads) {
  const int64_t N = c.batch, H = c.hidden;
  SequenceRun run;
  run.y.assign(static_cast<size_t>(kSteps * N * H), 0.0f);
  run.out.assign(static_cast<size_t>(kSteps * N * c.output), 0.0f);
  run.state.assign(static_cast<size_t>(c.layers * N * H), 0.0f);
  simdrnn_forward_args args{};
  args.seq_len = kSteps;
  args.batch = N;
  args.layout = SIMDRNN_TIME_MAJOR;
  args.x = x.data();
  args.h0 = h0;
  args.y = run.y.data();
  args.h_n = run.state.data();
  args.out = c.output > 0 ? run.out.data() : nullptr;
  args.num_threads = num_threads;
  size_t bytes = 0;
  EXPECT_EQ(simdrnn_forward_workspace_size(model, &args, &bytes), SIMDRNN_OK) << simdrnn_last_error();
  std::vector<unsigned char> workspace(bytes + 1);
  args.workspace = workspace.data();
  args.workspace_size = bytes;
  EXPECT_EQ(simdrnn_forward(model, &args), SIMDRNN_OK) << simdrnn_last_error();
  return run;
}

// Feeds the sequence `chunk` steps per call (the last call may be shorter).
SequenceRun run_stream(simdrnn_stream* stream, const StreamCase& c, const std::vector<float>& x,
                       const float* h0, int64_t chunk, int32_t num_threads) {
  const int64_t N = c.batch, H = c.hidden, O = c.output;
  SequenceRun run;
  run.y.assign(static_cast<size_t>(kSteps * N * H), 0.0f);
  run.out.assign(static_cast<size_t>(kSteps * N * O), 0.0f);
  run.state.assign(static_cast<size_t>(c.layers * N * H), 0.0f);
  EXPECT_EQ(simdrnn_stream_reset(stream, h0, nullptr), SIMDRNN_OK) << simdrnn_last_error();
  for (int64_t t = 0; t < kSteps; t += chunk) {
    const int64_t steps = std::min(chunk, kSteps - t);
    const simdrnn_status status =
        simdrnn_stream_step(stream, steps, x.data() + t * N * kInput, run.y.data() + t * N * H,
                            O > 0 ? run.out.data() + t * N * O : nullptr, num_threads);
    EXPECT_EQ(status, SIMDRNN_OK) << "at t " << t << ": " << simdrnn_last_error();
    if (status != SIMDRNN_OK) return run;
  }
  EXPECT_EQ(simdrnn_stream_state(stream, run.state.data(), nullptr), SIMDRNN_OK) << simdrnn_last_error();
  return run;
}

// Bitwise comparison; on mismatch, says where and by how many ulps, to tell a reordered sum
// (a few ulps) from a real bug.
::testing::AssertionResult bit_identical(const std::vector<float>& got, const std::vector<float>& want,
                                         const char* what) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << what << ": size " << got.size() << " vs " << want.size();
  if (got.empty() || std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0)
    return ::testing::AssertionSuccess();
  int64_t differing = 0, first = -1;
  int64_t max_ulps = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    int32_t a, b;
    std::memcpy(&a, &got[i], sizeof(a));
    std::memcpy(&b, &want[i], sizeof(b));
    if (a == b) continue;
    if (first < 0) first = static_cast<int64_t>(i);
    ++differing;
    // Sign-magnitude bits to a monotonic integer line, so the distance counts representable floats.
    auto line = [](int32_t bits) -> int64_t {
      return bits < 0 ? -static_cast<int64_t>(bits & 0x7fffffff) : bits;
    };
    max_ulps = std::max<int64_t>(max_ulps, std::abs(line(a) - line(b)));
  }
  return ::testing::AssertionFailure()
         << what << ": " << differing << " of " << got.size()
         << " elements differ from the full forward (first at " << first << ": "
         << got[static_cast<size_t>(first)] << " vs " << want[static_cast<size_t>(first)]
         << "; largest difference " << max_ulps << " ulp)";
}

class StreamTest : public ::testing::TestWithParam<StreamCase> {};

TEST_P(StreamTest, ChunksMatchFullForward) {
  const StreamCase& c = GetParam();
  const simdrnn_config config = make_config(c);
  const uint32_t seed = static_cast<uint32_t>(c.layers * 1000 + c.hidden * 10 + c.batch);
  const RefWeights weights = random_ref_weights(config, seed);
  const std::vector<float> x = random_vector(static_cast<size_t>(kSteps * c.batch * kInput), seed + 1);
  const std::vector<float> h0 = random_vector(static_cast<size_t>(c.layers * c.batch * c.hidden), seed + 2);

  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    std::string error;
    ModelPtr model(create_model(config, weights, &error));
    ASSERT_NE(model, nullptr) << error;
    for (const float* initial : {static_cast<const float*>(nullptr), h0.data()}) {
      SCOPED_TRACE(initial == nullptr ? "h0 zero" : "h0 given");
      const SequenceRun full = run_forward(model.get(), c, x, initial, 1);
      {
        // The stream must also agree with the double reference, not only with forward.
        const RefResult ref =
            reference_forward(config, weights, kSteps, c.batch, SIMDRNN_TIME_MAJOR, x, initial, nullptr);
        const Tolerance tolerance = default_tolerance();
        const Comparison y =
            compare_with_reference(full.y.data(), ref.y, ref.y_mag, ref.k_hidden, tolerance, "y");
        EXPECT_TRUE(y.ok()) << y.message;
        if (c.output > 0) {
          const Comparison out =
              compare_with_reference(full.out.data(), ref.out, ref.out_mag, ref.k_out, tolerance, "out");
          EXPECT_TRUE(out.ok()) << out.message;
        }
      }
      // (chunk, max_steps): one step at a time, 3 and 7 per call, all at once, and a chunk
      // smaller than the stream's capacity.
      const int64_t plans[][2] = {{1, 1}, {3, 3}, {7, 7}, {kSteps, kSteps}, {3, 8}};
      for (const auto& plan : plans) {
        const int64_t chunk = plan[0], max_steps = plan[1];
        simdrnn_stream* raw = nullptr;
        ASSERT_EQ(simdrnn_stream_create(model.get(), c.batch, max_steps, &raw), SIMDRNN_OK)
            << simdrnn_last_error();
        StreamPtr stream(raw);
        for (int32_t threads : {1, 2}) {
          SCOPED_TRACE("chunk " + std::to_string(chunk) + ", max_steps " + std::to_string(max_steps) + ", " +
                       std::to_string(threads) + " threads");
          const SequenceRun streamed = run_stream(stream.get(), c, x, initial, chunk, threads);
          EXPECT_TRUE(bit_identical(streamed.y, full.y, "y"));
          EXPECT_TRUE(bit_identical(streamed.out, full.out, "out"));
          EXPECT_TRUE(bit_identical(streamed.state, full.state, "state"));
        }
      }
    }
  }
}

// Only the state is advanced when y and out are NULL; it still ends where forward ends.
TEST_P(StreamTest, StateOnlyStepsMatchFullForward) {
  const StreamCase& c = GetParam();
  const simdrnn_config config = make_config(c);
  const uint32_t seed = static_cast<uint32_t>(c.layers * 2000 + c.hidden * 10 + c.batch);
  const RefWeights weights = random_ref_weights(config, seed);
  const std::vector<float> x = random_vector(static_cast<size_t>(kSteps * c.batch * kInput), seed + 1);
  const std::vector<float> h0 = random_vector(static_cast<size_t>(c.layers * c.batch * c.hidden), seed + 2);
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    std::string error;
    ModelPtr model(create_model(config, weights, &error));
    ASSERT_NE(model, nullptr) << error;
    const SequenceRun full = run_forward(model.get(), c, x, h0.data(), 2);
    simdrnn_stream* raw = nullptr;
    ASSERT_EQ(simdrnn_stream_create(model.get(), c.batch, 4, &raw), SIMDRNN_OK) << simdrnn_last_error();
    StreamPtr stream(raw);
    // SequenceRun once from zeros first, so reset(h0) must really overwrite the state.
    run_stream(stream.get(), c, x, nullptr, 4, 1);
    ASSERT_EQ(simdrnn_stream_reset(stream.get(), h0.data(), nullptr), SIMDRNN_OK) << simdrnn_last_error();
    for (int64_t t = 0; t < kSteps; t += 4) {
      const int64_t steps = std::min<int64_t>(4, kSteps - t);
      ASSERT_EQ(
          simdrnn_stream_step(stream.get(), steps, x.data() + t * c.batch * kInput, nullptr, nullptr, 1),
          SIMDRNN_OK)
          << simdrnn_last_error();
    }
    std::vector<float> state(static_cast<size_t>(c.layers * c.batch * c.hidden));
    ASSERT_EQ(simdrnn_stream_state(stream.get(), state.data(), nullptr), SIMDRNN_OK);
    EXPECT_TRUE(bit_identical(state, full.state, "state"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Stream, StreamTest,
    ::testing::Values(StreamCase{1, 17, 3, SIMDRNN_TANH, 5}, StreamCase{2, 17, 3, SIMDRNN_TANH, 5},
                      StreamCase{1, 1, 1, SIMDRNN_TANH, 1}, StreamCase{1, 65, 1, SIMDRNN_RELU, 17},
                      StreamCase{2, 33, 17, SIMDRNN_SIGMOID, 5}, StreamCase{2, 100, 3, SIMDRNN_TANH, 0}),
    case_name);

// Builds wrapper weights from reference weights by PyTorch name (empty biases are not set).
simdrnn::Weights cpp_weights(const simdrnn_config& config, const RefWeights& ref) {
  simdrnn::Weights weights(config);
  const int64_t D = num_directions(config);
  auto set = [&weights](const std::string& name, const std::vector<float>& data) {
    if (!data.empty()) weights.set(name, data);
  };
  for (int64_t l = 0; l < config.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const RefCell& cell = ref.cells[static_cast<size_t>(l * D + d)];
      set("weight_ih" + cell_suffix(l, d), cell.w_ih);
      set("weight_hh" + cell_suffix(l, d), cell.w_hh);
      set("bias_ih" + cell_suffix(l, d), cell.b_ih);
      set("bias_hh" + cell_suffix(l, d), cell.b_hh);
    }
  set("weight_hy", ref.w_hy);
  set("bias_hy", ref.b_hy);
  return weights;
}

// The C++ wrapper (simdrnn.hpp) drives the same stream: step by step through simdrnn::Stream
// equals simdrnn::Model::forward with the convenience workspace overload.
TEST(StreamCppTest, WrapperStreamMatchesWrapperForward) {
  const StreamCase c{2, 16, 2, SIMDRNN_TANH, 3};
  const simdrnn_config config = make_config(c);
  const RefWeights ref = random_ref_weights(config, 77);
  const simdrnn::Model model(cpp_weights(config, ref));
  const std::vector<float> x = random_vector(static_cast<size_t>(kSteps * c.batch * kInput), 78);
  const std::vector<float> h0 = random_vector(static_cast<size_t>(c.layers * c.batch * c.hidden), 79);

  SequenceRun full;
  full.y.resize(static_cast<size_t>(kSteps * c.batch * c.hidden));
  full.out.resize(static_cast<size_t>(kSteps * c.batch * c.output));
  full.state.resize(static_cast<size_t>(c.layers * c.batch * c.hidden));
  simdrnn::ForwardArgs args;
  args.seq_len = kSteps;
  args.batch = c.batch;
  args.layout = simdrnn::Layout::TimeMajor;
  args.x = x;
  args.h0 = h0;
  args.y = full.y;
  args.h_n = full.state;
  args.out = full.out;
  args.num_threads = 1;
  std::vector<unsigned char> workspace;
  model.forward(args, workspace);

  simdrnn::Stream stream(model, c.batch, 1);
  stream.reset(h0);
  SequenceRun streamed;
  streamed.y.resize(full.y.size());
  streamed.out.resize(full.out.size());
  streamed.state.resize(full.state.size());
  for (int64_t t = 0; t < kSteps; ++t)
    stream.step(1, {x.data() + t * c.batch * kInput, static_cast<size_t>(c.batch * kInput)},
                {streamed.y.data() + t * c.batch * c.hidden, static_cast<size_t>(c.batch * c.hidden)},
                {streamed.out.data() + t * c.batch * c.output, static_cast<size_t>(c.batch * c.output)}, 1);
  stream.state(streamed.state);
  EXPECT_TRUE(bit_identical(streamed.y, full.y, "y"));
  EXPECT_TRUE(bit_identical(streamed.out, full.out, "out"));
  EXPECT_TRUE(bit_identical(streamed.state, full.state, "state"));

  // A bidirectional model cannot stream: the wrapper throws simdrnn::Error with the status.
  simdrnn_config bi = config;
  bi.bidirectional = 1;
  const simdrnn::Model bi_model(cpp_weights(bi, random_ref_weights(bi, 80)));
  try {
    simdrnn::Stream bi_stream(bi_model, 1, 1);
    ADD_FAILURE() << "a stream was created on a bidirectional model";
  } catch (const simdrnn::Error& e) {
    EXPECT_TRUE(e.status() == SIMDRNN_UNSUPPORTED || e.status() == SIMDRNN_INVALID_ARGUMENT)
        << simdrnn_status_name(e.status());
  }
}

TEST(StreamErrorTest, BidirectionalModelIsRejected) {
  simdrnn_config config = simdrnn_config_default();
  config.input_size = kInput;
  config.hidden_size = 8;
  config.bidirectional = 1;
  config.output_size = 3;
  std::string error;
  ModelPtr model(create_model(config, random_ref_weights(config, 5), &error));
  ASSERT_NE(model, nullptr) << error;
  simdrnn_stream* stream = nullptr;
  const simdrnn_status status = simdrnn_stream_create(model.get(), 2, 4, &stream);
  EXPECT_TRUE(status == SIMDRNN_UNSUPPORTED || status == SIMDRNN_INVALID_ARGUMENT)
      << "got " << simdrnn_status_name(status);
  EXPECT_STRNE(simdrnn_last_error(), "");
  if (status == SIMDRNN_OK) simdrnn_stream_destroy(stream);
}

// h0 = NULL means zeros: with W_hh = {NaN}, the first step's 0 * NaN makes h
// NaN whether the state is NULL, an explicit zero, or a fresh stream's (it
// used to skip the product when h0 was NULL and give tanh(0.5)).
TEST(StreamStateTest, NullStateIsExactlyZeros) {
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(simdrnn_isa_name(isa));
    IsaCap cap(isa);
    simdrnn_config config = simdrnn_config_default();
    config.input_size = 1;
    config.hidden_size = 1;
    simdrnn_weights* w = nullptr;
    ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_create(&config, &w));
    const float wih = 1.0f, whh = NAN;
    ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, "weight_ih_l0", &wih, 1));
    ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, "weight_hh_l0", &whh, 1));
    simdrnn_model* raw = nullptr;
    ASSERT_EQ(SIMDRNN_OK, simdrnn_model_create(w, &raw));
    simdrnn_weights_destroy(w);
    ModelPtr model(raw);
    const float x = 0.5f, zero = 0.0f;
    float h_null = 0.0f, h_zero = 0.0f, y_stream = 0.0f, y = 0.0f;
    simdrnn_forward_args a{};
    a.seq_len = 1, a.batch = 1, a.x = &x, a.y = &y, a.h_n = &h_null;
    ASSERT_EQ(SIMDRNN_OK, simdrnn_forward(model.get(), &a)) << simdrnn_last_error();
    a.h0 = &zero, a.h_n = &h_zero;
    ASSERT_EQ(SIMDRNN_OK, simdrnn_forward(model.get(), &a)) << simdrnn_last_error();
    simdrnn_stream* raw_stream = nullptr;
    ASSERT_EQ(SIMDRNN_OK, simdrnn_stream_create(model.get(), 1, 1, &raw_stream));
    StreamPtr stream(raw_stream);
    ASSERT_EQ(SIMDRNN_OK, simdrnn_stream_step(stream.get(), 1, &x, &y_stream, nullptr, 1));
    EXPECT_TRUE(std::isnan(h_null)) << h_null;
    EXPECT_TRUE(std::isnan(h_zero)) << h_zero;
    EXPECT_TRUE(std::isnan(y_stream)) << y_stream;
  }
}

// Streams match the full call bit for bit for every value but NaN, whose
// positions match while its sign may not (simdrnn.h: x86 returns the first
// NaN operand of an instruction, and kernels for different row counts may
// order operands differently). Here NaN enters through one input step.
TEST(StreamStateTest, NanPositionsMatchTheFullCall) {
  const StreamCase c{1, 19, 1, SIMDRNN_TANH, 3};
  const simdrnn_config config = make_config(c);
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(simdrnn_isa_name(isa));
    IsaCap cap(isa);
    std::string error;
    ModelPtr model(create_model(config, random_ref_weights(config, 17), &error));
    ASSERT_NE(model, nullptr) << error;
    std::vector<float> x = random_vector(static_cast<size_t>(kSteps * c.batch * kInput), 18);
    x[3 * kInput + 2] = -NAN;
    const SequenceRun full = run_forward(model.get(), c, x, nullptr, 1);
    simdrnn_stream* raw_stream = nullptr;
    ASSERT_EQ(SIMDRNN_OK, simdrnn_stream_create(model.get(), c.batch, 2, &raw_stream));
    StreamPtr stream(raw_stream);
    const SequenceRun chunked = run_stream(stream.get(), c, x, nullptr, 2, 1);
    for (size_t i = 0; i < full.y.size(); ++i) {
      ASSERT_EQ(std::isnan(full.y[i]), std::isnan(chunked.y[i])) << "y " << i;
      if (!std::isnan(full.y[i])) {
        ASSERT_EQ(full.y[i], chunked.y[i]) << "y " << i;
      }
    }
    for (size_t i = 0; i < full.out.size(); ++i)
      ASSERT_EQ(std::isnan(full.out[i]), std::isnan(chunked.out[i]));
    EXPECT_TRUE(std::isnan(full.y[3 * c.hidden]));
  }
}

}  // namespace
}  // namespace simdrnn_test
