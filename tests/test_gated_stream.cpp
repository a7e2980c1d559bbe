// simdrnn_stream with LSTM and GRU cells: feeding a sequence 1, 3, 7 or all steps per call must
// reproduce a full simdrnn_forward bit for bit (y, out, h and, for an LSTM, the cell state c), on
// every ISA and thread count; reset takes h0 and c0 (each NULL or given); the state read back
// with its c continues the sequence exactly; the C++ wrapper's Stream carries c too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "simdrnn/simdrnn.hpp"
#include "support/gated_util.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

constexpr int64_t kInput = 7;
constexpr int64_t kSteps = 20;  // not a multiple of 3 or 7: the last chunk is short

struct StreamCase {
  const CellVariant* variant = nullptr;
  int64_t layers = 1;
  int64_t hidden = 17;
  int64_t batch = 3;
  int64_t output = 0;  // O; 0 = no output layer
  bool clip = false;

  simdrnn_config config() const {
    simdrnn_config c = variant_config(*variant, kInput, hidden);
    c.num_layers = layers;
    c.output_size = output;
    c.clip = clip ? 0.5f : 0.0f;
    return c;
  }
  bool lstm() const { return variant->cell == SIMDRNN_CELL_LSTM; }
  int64_t h_out() const { return hidden_out(config()); }
  std::string name() const {
    return std::string(variant->name) + "_l" + std::to_string(layers) + "h" + std::to_string(hidden) + "n" +
           std::to_string(batch) + "_o" + std::to_string(output) + (clip ? "_clip" : "");
  }
  uint32_t seed() const {
    uint32_t hash = 2166136261u;
    for (char ch : name()) hash = (hash ^ static_cast<unsigned char>(ch)) * 16777619u;
    return hash;
  }
};

void PrintTo(const StreamCase& c, std::ostream* os) { *os << c.name(); }

std::vector<StreamCase> stream_cases() {
  std::vector<StreamCase> cases;
  for (const CellVariant& variant : gated_variants()) {
    StreamCase c;
    c.variant = &variant;
    c.layers = 2;
    c.hidden = 17;
    c.batch = 3;
    c.output = 5;
    cases.push_back(c);
    if (quick_mode()) continue;
    c.layers = 1;
    c.hidden = 1;
    c.batch = 1;
    c.output = 1;
    cases.push_back(c);
    c.layers = 3;
    c.hidden = 65;
    c.batch = 17;
    c.output = 0;
    c.clip = true;
    cases.push_back(c);
  }
  return cases;
}

// Results of a whole sequence: y [T, N, H_out], out [T, N, O], final h [L, N, H_out] and c [L, N, H].
struct SequenceRun {
  std::vector<float> y, out, h, c;
};

SequenceRun allocate(const StreamCase& sc, int64_t steps) {
  SequenceRun run;
  run.y.assign(static_cast<size_t>(steps * sc.batch * sc.h_out()), 0.0f);
  run.out.assign(static_cast<size_t>(steps * sc.batch * sc.output), 0.0f);
  run.h.assign(static_cast<size_t>(sc.layers * sc.batch * sc.h_out()), 0.0f);
  if (sc.lstm()) run.c.assign(static_cast<size_t>(sc.layers * sc.batch * sc.hidden), 0.0f);
  return run;
}

float* data_or_null(std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

// simdrnn_forward over `steps` steps of x (time-major) from h0 / c0 (each nullable).
SequenceRun run_forward(const simdrnn_model* model, const StreamCase& sc, int64_t steps, const float* x,
                        const float* h0, const float* c0, int32_t num_threads) {
  SequenceRun run = allocate(sc, steps);
  simdrnn_forward_args args{};
  args.seq_len = steps;
  args.batch = sc.batch;
  args.layout = SIMDRNN_TIME_MAJOR;
  args.x = x;
  args.h0 = h0;
  args.c0 = c0;
  args.y = run.y.data();
  args.h_n = run.h.data();
  args.c_n = data_or_null(run.c);
  args.out = data_or_null(run.out);
  args.num_threads = num_threads;
  std::vector<unsigned char> workspace(sizes_of(model, args).workspace + 1);
  args.workspace = workspace.data();
  args.workspace_size = workspace.size() - 1;
  EXPECT_EQ(simdrnn_forward(model, &args), SIMDRNN_OK) << simdrnn_last_error();
  return run;
}

// Resets the stream to h0 / c0, then feeds all kSteps steps `chunk` per call (the last call may
// be shorter) and reads the state back.
SequenceRun run_stream(simdrnn_stream* stream, const StreamCase& sc, const std::vector<float>& x,
                       const float* h0, const float* c0, int64_t chunk, int32_t num_threads) {
  const int64_t N = sc.batch, H_out = sc.h_out(), O = sc.output;
  SequenceRun run = allocate(sc, kSteps);
  EXPECT_EQ(simdrnn_stream_reset(stream, h0, c0), SIMDRNN_OK) << simdrnn_last_error();
  for (int64_t t = 0; t < kSteps; t += chunk) {
    const int64_t steps = std::min(chunk, kSteps - t);
    const simdrnn_status status =
        simdrnn_stream_step(stream, steps, x.data() + t * N * kInput, run.y.data() + t * N * H_out,
                            O > 0 ? run.out.data() + t * N * O : nullptr, num_threads);
    EXPECT_EQ(status, SIMDRNN_OK) << "at t " << t << ": " << simdrnn_last_error();
    if (status != SIMDRNN_OK) return run;
  }
  EXPECT_EQ(simdrnn_stream_state(stream, run.h.data(), data_or_null(run.c)), SIMDRNN_OK)
      << simdrnn_last_error();
  return run;
}

void expect_same(const SequenceRun& got, const SequenceRun& want) {
  EXPECT_TRUE(bit_identical(got.y, want.y, "y"));
  EXPECT_TRUE(bit_identical(got.out, want.out, "out"));
  EXPECT_TRUE(bit_identical(got.h, want.h, "h"));
  EXPECT_TRUE(bit_identical(got.c, want.c, "c"));
}

struct StreamInputs {
  simdrnn_config config{};
  RefWeights weights;
  std::vector<float> x, h0, c0;
};

StreamInputs make_inputs(const StreamCase& sc) {
  StreamInputs in;
  in.config = sc.config();
  const uint32_t seed = sc.seed();
  in.weights = random_ref_weights(in.config, seed, true, sc.variant->peephole);
  in.x = random_vector(static_cast<size_t>(kSteps * sc.batch * kInput), seed + 1);
  in.h0 = random_vector(static_cast<size_t>(sc.layers * sc.batch * sc.h_out()), seed + 2);
  if (sc.lstm())
    in.c0 = random_vector(static_cast<size_t>(sc.layers * sc.batch * sc.hidden), seed + 3, -3.0f, 3.0f);
  return in;
}

class GatedStreamTest : public ::testing::TestWithParam<StreamCase> {};

// Chunks of 1, 3, 7 and all steps (and a chunk below the stream's capacity), at 1 and 2 threads,
// from every combination of h0 and c0 given or NULL, equal the full call bit for bit; the full
// call itself agrees with the reference.
TEST_P(GatedStreamTest, ChunksMatchFullForward) {
  const StreamCase& sc = GetParam();
  const StreamInputs in = make_inputs(sc);
  struct Initial {
    const char* name;
    const float* h0;
    const float* c0;
  };
  std::vector<Initial> initials = {{"zeros", nullptr, nullptr}, {"h0", in.h0.data(), nullptr}};
  if (sc.lstm()) {
    initials.push_back({"c0", nullptr, in.c0.data()});
    initials.push_back({"h0 and c0", in.h0.data(), in.c0.data()});
  }
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    std::string error;
    ModelPtr model(create_model(in.config, in.weights, &error));
    ASSERT_NE(model, nullptr) << error;
    const int64_t plans[][2] = {{1, 1}, {3, 3}, {7, 7}, {kSteps, kSteps}, {3, 8}};  // (chunk, max_steps)
    std::vector<StreamPtr> streams;
    for (const auto& plan : plans) {
      simdrnn_stream* raw = nullptr;
      ASSERT_EQ(simdrnn_stream_create(model.get(), sc.batch, plan[1], &raw), SIMDRNN_OK)
          << simdrnn_last_error();
      streams.emplace_back(raw);
    }
    for (const Initial& initial : initials) {
      SCOPED_TRACE(std::string("initial state: ") + initial.name);
      const SequenceRun full = run_forward(model.get(), sc, kSteps, in.x.data(), initial.h0, initial.c0, 1);
      {
        const RefResult ref = reference_forward(in.config, in.weights, kSteps, sc.batch, SIMDRNN_TIME_MAJOR,
                                                in.x, initial.h0, nullptr, initial.c0);
        const Tolerance tolerance = default_tolerance();
        const Comparison y =
            compare_with_reference(full.y.data(), ref.y, ref.y_mag, ref.k_hidden, tolerance, "y");
        EXPECT_TRUE(y.ok()) << y.message;
        if (sc.lstm()) {
          const Comparison c =
              compare_with_reference(full.c.data(), ref.c_n, ref.c_n_mag, ref.k_hidden, tolerance, "c_n");
          EXPECT_TRUE(c.ok()) << c.message;
        }
      }
      for (size_t p = 0; p < streams.size(); ++p)
        for (int32_t threads : {1, 2}) {
          SCOPED_TRACE("chunk " + std::to_string(plans[p][0]) + ", max_steps " + std::to_string(plans[p][1]) +
                       ", " + std::to_string(threads) + " threads");
          expect_same(run_stream(streams[p].get(), sc, in.x, initial.h0, initial.c0, plans[p][0], threads),
                      full);
        }
    }
  }
}

// The state read back (h and c) after part of the sequence, given to simdrnn_forward as h0 and c0
// for the rest, continues it exactly; reading only h (c NULL) gives the same h.
TEST_P(GatedStreamTest, StateReadBackContinuesTheSequence) {
  const StreamCase& sc = GetParam();
  const StreamInputs in = make_inputs(sc);
  const int64_t split = 8, N = sc.batch;
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    IsaCap cap(isa);
    std::string error;
    ModelPtr model(create_model(in.config, in.weights, &error));
    ASSERT_NE(model, nullptr) << error;
    const SequenceRun full = run_forward(model.get(), sc, kSteps, in.x.data(), in.h0.data(),
                                         sc.lstm() ? in.c0.data() : nullptr, 1);

    simdrnn_stream* raw = nullptr;
    ASSERT_EQ(simdrnn_stream_create(model.get(), N, split, &raw), SIMDRNN_OK) << simdrnn_last_error();
    StreamPtr stream(raw);
    // Run once from zeros first, so the reset below must really overwrite h and c.
    run_stream(stream.get(), sc, in.x, nullptr, nullptr, split, 1);
    ASSERT_EQ(simdrnn_stream_reset(stream.get(), in.h0.data(), sc.lstm() ? in.c0.data() : nullptr),
              SIMDRNN_OK)
        << simdrnn_last_error();
    ASSERT_EQ(simdrnn_stream_step(stream.get(), split, in.x.data(), nullptr, nullptr, 2), SIMDRNN_OK)
        << simdrnn_last_error();
    SequenceRun state = allocate(sc, 0);
    ASSERT_EQ(simdrnn_stream_state(stream.get(), state.h.data(), data_or_null(state.c)), SIMDRNN_OK)
        << simdrnn_last_error();
    std::vector<float> h_only(state.h.size(), -1.0f);
    ASSERT_EQ(simdrnn_stream_state(stream.get(), h_only.data(), nullptr), SIMDRNN_OK) << simdrnn_last_error();
    EXPECT_TRUE(bit_identical(h_only, state.h, "h read without c"));

    const SequenceRun rest = run_forward(model.get(), sc, kSteps - split, in.x.data() + split * N * kInput,
                                         state.h.data(), data_or_null(state.c), 1);
    const std::vector<float> full_tail(full.y.begin() + split * N * sc.h_out(), full.y.end());
    EXPECT_TRUE(bit_identical(rest.y, full_tail, "y after the split"));
    EXPECT_TRUE(bit_identical(rest.h, full.h, "h_n"));
    EXPECT_TRUE(bit_identical(rest.c, full.c, "c_n"));
  }
}

INSTANTIATE_TEST_SUITE_P(Cells, GatedStreamTest, ::testing::ValuesIn(stream_cases()),
                         [](const ::testing::TestParamInfo<StreamCase>& info) { return info.param.name(); });

// The C++ wrapper's Stream resets with c0, reads c back and steps like the C API; for a projected
// LSTM its y and h are P wide.
TEST(GatedStreamCppTest, WrapperStreamCarriesTheCellState) {
  StreamCase sc;
  sc.variant = &gated_variants()[3];  // peepholes and projection
  sc.layers = 2;
  sc.hidden = 16;
  sc.batch = 2;
  sc.output = 3;
  const StreamInputs in = make_inputs(sc);
  simdrnn::Weights weights(in.config);
  const int64_t D = 1;
  for (int64_t l = 0; l < sc.layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const RefCell& cell = in.weights.cells[static_cast<size_t>(l * D + d)];
      weights.set("weight_ih" + cell_suffix(l, d), cell.w_ih);
      weights.set("weight_hh" + cell_suffix(l, d), cell.w_hh);
      weights.set("bias_ih" + cell_suffix(l, d), cell.b_ih);
      weights.set("bias_hh" + cell_suffix(l, d), cell.b_hh);
      weights.set("weight_hr" + cell_suffix(l, d), cell.w_hr);
      weights.set("weight_peephole" + cell_suffix(l, d), cell.peephole);
    }
  weights.set("weight_hy", in.weights.w_hy);
  weights.set("bias_hy", in.weights.b_hy);
  const simdrnn::Model model(weights);

  SequenceRun full = allocate(sc, kSteps);
  simdrnn::ForwardArgs args;
  args.seq_len = kSteps;
  args.batch = sc.batch;
  args.x = in.x;
  args.h0 = in.h0;
  args.c0 = in.c0;
  args.y = full.y;
  args.h_n = full.h;
  args.c_n = full.c;
  args.out = full.out;
  args.num_threads = 1;
  std::vector<unsigned char> workspace;
  model.forward(args, workspace);

  simdrnn::Stream stream(model, sc.batch, 1);
  EXPECT_EQ(stream.state_size(), sc.layers * sc.batch * sc.h_out());
  EXPECT_EQ(stream.cell_state_size(), sc.layers * sc.batch * sc.hidden);
  stream.reset(in.h0, in.c0);
  SequenceRun streamed = allocate(sc, kSteps);
  const int64_t N = sc.batch, H_out = sc.h_out(), O = sc.output;
  for (int64_t t = 0; t < kSteps; ++t)
    stream.step(1, {in.x.data() + t * N * kInput, static_cast<size_t>(N * kInput)},
                {streamed.y.data() + t * N * H_out, static_cast<size_t>(N * H_out)},
                {streamed.out.data() + t * N * O, static_cast<size_t>(N * O)}, 1);
  stream.state(streamed.h, streamed.c);
  expect_same(streamed, full);
}

}  // namespace
}  // namespace simdrnn_test
