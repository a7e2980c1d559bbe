// Runs one case in ONNX's node-test layout (model.onnx, test_data_set_0/
// input_<i>.pb and output_<i>.pb) through simdrnn_onnx_load_memory and
// simdrnn_onnx_run on every ISA this CPU has, at 1 and 2 threads, and checks
// every output's shape and values (allclose). Shared by the Debian node tests
// and the models tests/onnx/make_models.py writes.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
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

namespace simdrnn_onnx_test {

namespace fs = std::filesystem;

inline std::string read_file(const fs::path& path) {
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

// Dense data of a TensorProto: floats, or int32 / int64 (sequence lengths).
struct Data {
  std::vector<int64_t> dims;
  std::vector<float> f;
  std::vector<int32_t> i32;
  std::vector<int64_t> i64;
  const void* ptr() const {
    return !f.empty()     ? static_cast<const void*>(f.data())
           : !i32.empty() ? static_cast<const void*>(i32.data())
                          : static_cast<const void*>(i64.data());
  }
};

inline Data to_data(const onnx::TensorProto& t) {
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
      if (!raw.empty())
        from_raw(d.f);
      else
        d.f.assign(t.float_data().begin(), t.float_data().end());
      break;
    case onnx::TensorProto::INT32:
      if (!raw.empty())
        from_raw(d.i32);
      else
        d.i32.assign(t.int32_data().begin(), t.int32_data().end());
      break;
    case onnx::TensorProto::INT64:
      if (!raw.empty())
        from_raw(d.i64);
      else
        d.i64.assign(t.int64_data().begin(), t.int64_data().end());
      break;
    default:
      ADD_FAILURE() << t.name() << ": unexpected element type " << t.data_type();
  }
  return d;
}

// "" when every element agrees, else a report of the first few that do not.
inline std::string allclose(const std::vector<float>& got, const std::vector<float>& want, double atol,
                            double rtol) {
  if (got.size() != want.size())
    return "size " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
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
  Loaded() = default;
  Loaded(const Loaded&) = delete;
  Loaded& operator=(const Loaded&) = delete;
  ~Loaded() {
    simdrnn_onnx_graph_destroy(graph);
    simdrnn_model_destroy(model);
  }
};

// A case's model bytes and tensors by name. With freeze_weights, every
// recurrent node's W, R, B and P graph input also becomes an initializer
// (ONNX's node tests feed weights as inputs; simdrnn packs them at load).
struct Case {
  std::string model;
  std::map<std::string, onnx::TensorProto> inputs, outputs;
};

inline bool read_case(const fs::path& dir, bool freeze_weights, Case* c) {
  onnx::ModelProto model;
  if (!read_proto(dir / "model.onnx", &model)) {
    ADD_FAILURE() << "cannot read " << (dir / "model.onnx");
    return false;
  }
  const onnx::GraphProto& g = model.graph();
  // input_<i> / output_<i> carry their tensor's name; unnamed ones are graph input / output i.
  for (int i = 0;; ++i) {
    onnx::TensorProto t;
    if (!read_proto(dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb"), &t)) break;
    c->inputs[t.name().empty() && i < g.input_size() ? g.input(i).name() : t.name()] = t;
  }
  for (int i = 0; i < g.output_size(); ++i) {
    onnx::TensorProto t;
    if (!read_proto(dir / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb"), &t)) break;
    c->outputs[t.name().empty() ? g.output(i).name() : t.name()] = t;
  }
  if (c->outputs.empty()) {
    ADD_FAILURE() << dir << ": no expected outputs";
    return false;
  }
  if (freeze_weights)
    for (const onnx::NodeProto& n : g.node())
      for (int slot : {1, 2, 3, 7})
        if ((n.op_type() == "RNN" || n.op_type() == "LSTM" || n.op_type() == "GRU") &&
            slot < n.input_size() && !n.input(slot).empty() && c->inputs.count(n.input(slot))) {
          onnx::TensorProto* init = model.mutable_graph()->add_initializer();
          *init = c->inputs[n.input(slot)];
          init->set_name(n.input(slot));
        }
  return model.SerializeToString(&c->model);
}

// Loads and runs case `c` on every ISA at 1 and 2 threads against its expected outputs.
inline void check_case(const Case& c, double atol, double rtol) {
  for (simdrnn_isa isa : simdrnn_test::available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    simdrnn_test::IsaCap cap(isa);
    Loaded h;
    ASSERT_EQ(simdrnn_onnx_load_memory(c.model.data(), c.model.size(), &h.model, &h.graph), SIMDRNN_OK)
        << simdrnn_onnx_last_error();
    simdrnn_isa model_isa{};
    ASSERT_EQ(simdrnn_model_isa(h.model, &model_isa), SIMDRNN_OK);
    EXPECT_EQ(model_isa, isa);
    simdrnn_onnx_graph_info info{};
    ASSERT_EQ(simdrnn_onnx_graph_get_info(h.graph, &info), SIMDRNN_OK);

    // The graph's runtime inputs by name; T and N from X.
    std::vector<Data> in_data(static_cast<size_t>(info.num_inputs));
    std::vector<const void*> in_ptrs;
    int64_t T = 0, N = 0;
    for (int64_t i = 0; i < info.num_inputs; ++i) {
      simdrnn_onnx_tensor_info ti{};
      ASSERT_EQ(simdrnn_onnx_graph_input(h.graph, i, &ti), SIMDRNN_OK);
      auto it = c.inputs.find(ti.name);
      ASSERT_TRUE(it != c.inputs.end()) << "no data for graph input " << ti.name;
      Data& d = in_data[static_cast<size_t>(i)] = to_data(it->second);
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
      std::vector<std::vector<float>> got(static_cast<size_t>(info.num_outputs)), want(got.size());
      std::vector<void*> out_ptrs;
      for (int64_t i = 0; i < info.num_outputs; ++i) {
        simdrnn_onnx_tensor_info ti{};
        ASSERT_EQ(simdrnn_onnx_graph_output(h.graph, i, &ti), SIMDRNN_OK);
        int64_t dims[8];
        ASSERT_EQ(simdrnn_onnx_output_shape(h.graph, i, T, N, dims), SIMDRNN_OK);
        auto it = c.outputs.find(ti.name);
        ASSERT_TRUE(it != c.outputs.end()) << "no expected data for graph output " << ti.name;
        const Data d = to_data(it->second);
        EXPECT_EQ(std::vector<int64_t>(dims, dims + ti.rank), d.dims) << ti.name;
        want[static_cast<size_t>(i)] = d.f;
        got[static_cast<size_t>(i)].assign(d.f.size(), 12345.0f);
        out_ptrs.push_back(got[static_cast<size_t>(i)].data());
      }
      ASSERT_EQ(simdrnn_onnx_run(h.model, h.graph, T, N, in_ptrs.data(), out_ptrs.data(), threads),
                SIMDRNN_OK)
          << simdrnn_onnx_last_error();
      for (int64_t i = 0; i < info.num_outputs; ++i) {
        simdrnn_onnx_tensor_info ti{};
        ASSERT_EQ(simdrnn_onnx_graph_output(h.graph, i, &ti), SIMDRNN_OK);
        const std::string report =
            allclose(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)], atol, rtol);
        EXPECT_TRUE(report.empty()) << ti.name << ": " << report;
      }
    }
  }
}

}  // namespace simdrnn_onnx_test
