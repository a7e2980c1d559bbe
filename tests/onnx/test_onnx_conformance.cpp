// ONNX conformance: ONNX's own node tests for RNN, LSTM and GRU, from
// Debian's libonnx-testdata (model.onnx and test_data_set_0/*.pb, read with
// ONNX's C++ protobuf classes), loaded with simdrnn_onnx_load_memory and run
// with simdrnn_onnx_run on every ISA this CPU has, at 1 and 2 threads. Every
// output in test_data_set_0 must match (allclose, atol = rtol = 1e-5).
//
// The node tests pass the weights (W, R, B, P) as graph inputs; simdrnn packs
// weights when it loads, so the test first adds each of them to the model as
// an initializer of the same name (the input stays listed: ONNX's
// "initializer as default value" form, which the importer takes as constant).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "onnx/onnx_pb.h"
#include "simdrnn/simdrnn.h"
#include "simdrnn/simdrnn_onnx.h"
#include "support/test_util.hpp"

namespace {

namespace fs = std::filesystem;

// Every RNN, LSTM and GRU case libonnx-testdata 1.12 has; a missing one fails.
const char* const kCases[] = {
    "test_gru_batchwise",         "test_gru_defaults",          "test_gru_seq_length",
    "test_gru_with_initial_bias", "test_lstm_batchwise",        "test_lstm_defaults",
    "test_lstm_with_initial_bias", "test_lstm_with_peepholes",  "test_rnn_seq_length",
    "test_simple_rnn_batchwise",  "test_simple_rnn_defaults",   "test_simple_rnn_with_initial_bias",
};

fs::path node_tests_dir() {
  if (const char* env = std::getenv("SIMDRNN_ONNX_NODE_TESTS"); env != nullptr && *env != '\0') return env;
  return SIMDRNN_ONNX_NODE_TESTS;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class Proto>
bool read_proto(const fs::path& path, Proto* proto) {
  const std::string bytes = read_file(path);
  return !bytes.empty() && proto->ParseFromString(bytes);
}

// Dense data of a TensorProto as floats (FLOAT) or int32 (INT32/INT64 lengths).
struct Data {
  std::vector<int64_t> dims;
  std::vector<float> f;
  std::vector<int32_t> i32;
  std::vector<int64_t> i64;
  const void* ptr() const {
    return !f.empty() ? static_cast<const void*>(f.data())
           : !i32.empty() ? static_cast<const void*>(i32.data()) : static_cast<const void*>(i64.data());
  }
};

Data to_data(const onnx::TensorProto& t) {
  Data d;
  d.dims.assign(t.dims().begin(), t.dims().end());
  int64_t count = 1;
  for (int64_t x : d.dims) count *= x;
  const std::string& raw = t.raw_data();
  auto from_raw = [&](auto& v) {
    v.resize(static_cast<size_t>(count));
    EXPECT_EQ(raw.size(), v.size() * sizeof(v[0])) << t.name();
    if (raw.size() == v.size() * sizeof(v[0]) && count > 0) std::memcpy(v.data(), raw.data(), raw.size());
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (!raw.empty()) from_raw(d.f); else d.f.assign(t.float_data().begin(), t.float_data().end());
      break;
    case onnx::TensorProto::INT32:
      if (!raw.empty()) from_raw(d.i32); else d.i32.assign(t.int32_data().begin(), t.int32_data().end());
      break;
    case onnx::TensorProto::INT64:
      if (!raw.empty()) from_raw(d.i64); else d.i64.assign(t.int64_data().begin(), t.int64_data().end());
      break;
    default:
      ADD_FAILURE() << t.name() << ": unexpected element type " << t.data_type();
  }
  return d;
}

std::string allclose(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol) {
  if (got.size() != want.size()) return "size " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
  size_t bad = 0;
  std::ostringstream ss;
  ss.precision(9);
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w)) && bad++ < 8)
      ss << "  [" << i << "] got " << g << ", want " << w << "\n";
  }
  return bad == 0 ? "" : std::to_string(bad) + " of " + std::to_string(got.size()) + " differ:\n" + ss.str();
}

struct Loaded {
  simdrnn_model* model = nullptr;
  simdrnn_onnx_graph* graph = nullptr;
  ~Loaded() {
    simdrnn_onnx_graph_destroy(graph);
    simdrnn_model_destroy(model);
  }
};

class OnnxNodeTest : public testing::TestWithParam<const char*> {};

TEST_P(OnnxNodeTest, MatchesEveryOutput) {
  const fs::path dir = node_tests_dir() / GetParam();
  onnx::ModelProto model;
  ASSERT_TRUE(read_proto(dir / "model.onnx", &model))
      << "cannot read " << (dir / "model.onnx") << " (install Debian's libonnx-testdata, or set "
      << "SIMDRNN_ONNX_NODE_TESTS to its data/node directory)";
  const onnx::GraphProto& g = model.graph();

  // test_data_set_0: input_i is graph input i, output_i graph output i.
  std::map<std::string, onnx::TensorProto> inputs, outputs;
  for (int i = 0; i < g.input_size(); ++i) {
    onnx::TensorProto t;
    ASSERT_TRUE(read_proto(dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb"), &t)) << i;
    inputs[g.input(i).name()] = t;
  }
  for (int i = 0; i < g.output_size(); ++i) {
    onnx::TensorProto t;
    ASSERT_TRUE(read_proto(dir / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb"), &t)) << i;
    outputs[g.output(i).name()] = t;
  }
  ASSERT_FALSE(outputs.empty());

  // Weights (W, R, B and LSTM's P) become initializers.
  for (const onnx::NodeProto& n : g.node()) {
    ASSERT_TRUE(n.op_type() == "RNN" || n.op_type() == "LSTM" || n.op_type() == "GRU") << n.op_type();
    for (int slot : {1, 2, 3, 7})
      if (slot < n.input_size() && !n.input(slot).empty()) {
        ASSERT_TRUE(inputs.count(n.input(slot))) << n.input(slot);
        onnx::TensorProto* init = model.mutable_graph()->add_initializer();
        *init = inputs[n.input(slot)];
        init->set_name(n.input(slot));
      }
  }
  std::string bytes;
  ASSERT_TRUE(model.SerializeToString(&bytes));

  for (simdrnn_isa isa : simdrnn_test::available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    simdrnn_test::IsaCap cap(isa);
    Loaded h;
    ASSERT_EQ(simdrnn_onnx_load_memory(bytes.data(), bytes.size(), &h.model, &h.graph), SIMDRNN_OK)
        << simdrnn_onnx_last_error();
    simdrnn_isa model_isa{};
    ASSERT_EQ(simdrnn_model_isa(h.model, &model_isa), SIMDRNN_OK);
    EXPECT_EQ(model_isa, isa);
    simdrnn_onnx_graph_info info{};
    ASSERT_EQ(simdrnn_onnx_graph_get_info(h.graph, &info), SIMDRNN_OK);

    // The graph's runtime inputs, by name; T and N from X.
    std::vector<Data> in_data(static_cast<size_t>(info.num_inputs));
    std::vector<const void*> in_ptrs;
    int64_t T = 0, N = 0;
    for (int64_t i = 0; i < info.num_inputs; ++i) {
      simdrnn_onnx_tensor_info ti{};
      ASSERT_EQ(simdrnn_onnx_graph_input(h.graph, i, &ti), SIMDRNN_OK);
      ASSERT_TRUE(inputs.count(ti.name)) << ti.name;
      in_data[static_cast<size_t>(i)] = to_data(inputs[ti.name]);
      const Data& d = in_data[static_cast<size_t>(i)];
      if (ti.role == SIMDRNN_ONNX_X) {
        ASSERT_EQ(d.dims.size(), 3u);
        T = info.layout == SIMDRNN_TIME_MAJOR ? d.dims[0] : d.dims[1];
        N = info.layout == SIMDRNN_TIME_MAJOR ? d.dims[1] : d.dims[0];
      }
      in_ptrs.push_back(d.ptr());
    }
    ASSERT_GT(T, 0);
    for (int64_t i = 0; i < info.num_inputs; ++i) {
      simdrnn_onnx_tensor_info ti{};
      ASSERT_EQ(simdrnn_onnx_graph_input(h.graph, i, &ti), SIMDRNN_OK);
      int64_t dims[8];
      ASSERT_EQ(simdrnn_onnx_input_shape(h.graph, i, T, N, dims), SIMDRNN_OK);
      EXPECT_EQ(std::vector<int64_t>(dims, dims + ti.rank), in_data[static_cast<size_t>(i)].dims) << ti.name;
    }

    for (int32_t threads : {1, 2}) {
      SCOPED_TRACE("threads " + std::to_string(threads));
      std::vector<std::vector<float>> got(static_cast<size_t>(info.num_outputs));
      std::vector<void*> out_ptrs;
      for (int64_t i = 0; i < info.num_outputs; ++i) {
        simdrnn_onnx_tensor_info ti{};
        ASSERT_EQ(simdrnn_onnx_graph_output(h.graph, i, &ti), SIMDRNN_OK);
        int64_t dims[8];
        ASSERT_EQ(simdrnn_onnx_output_shape(h.graph, i, T, N, dims), SIMDRNN_OK);
        ASSERT_TRUE(outputs.count(ti.name)) << ti.name;
        const Data want = to_data(outputs[ti.name]);
        EXPECT_EQ(std::vector<int64_t>(dims, dims + ti.rank), want.dims) << ti.name;
        got[static_cast<size_t>(i)].assign(want.f.size(), 12345.0f);
        out_ptrs.push_back(got[static_cast<size_t>(i)].data());
      }
      ASSERT_EQ(simdrnn_onnx_run(h.model, h.graph, T, N, in_ptrs.data(), out_ptrs.data(), threads), SIMDRNN_OK)
          << simdrnn_onnx_last_error();
      for (int64_t i = 0; i < info.num_outputs; ++i) {
        simdrnn_onnx_tensor_info ti{};
        ASSERT_EQ(simdrnn_onnx_graph_output(h.graph, i, &ti), SIMDRNN_OK);
        const std::string report = allclose(got[static_cast<size_t>(i)], to_data(outputs[ti.name]).f, 1e-5, 1e-5);
        EXPECT_TRUE(report.empty()) << ti.name << ": " << report;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Debian, OnnxNodeTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

}  // namespace
