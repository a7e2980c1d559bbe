// The ONNX importer on the models tests/onnx/make_models.py writes (ctest runs
// it first, into SIMDRNN_ONNX_MODELS): torch.onnx.export of nn.RNN / LSTM /
// GRU (+ nn.Linear) against torch's outputs, hand-built graphs (reverse,
// layout 1, sequence_lens, clip, both GRU variants) against a NumPy
// transcription of the ONNX definitions, and models that must be refused with
// a given status and a message naming the problem. Then what needs no
// generated file: every truncation and many random corruptions of valid
// models must fail cleanly (never crash or read out of bounds: run under
// ASan in the sanitizer build), and misuse of the C API is reported.
#include <algorithm>
#include <cstdlib>
#include <random>

#include "onnx/node_case.hpp"

namespace {

using namespace simdrnn_onnx_test;

fs::path models_dir() {
  if (const char* env = std::getenv("SIMDRNN_ONNX_MODELS"); env != nullptr && *env != '\0') return env;
  return SIMDRNN_ONNX_MODELS;
}
fs::path node_tests_dir() { return SIMDRNN_ONNX_NODE_TESTS; }

#define REQUIRE_MODELS()                                       \
  if (!fs::exists(models_dir() / "bad" / "manifest.tsv"))      \
  GTEST_SKIP() << "no generated models under " << models_dir() \
               << " (ctest makes them with tests/onnx/make_models.py, which needs torch and onnx)"

std::vector<fs::path> case_dirs(const std::string& prefix) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(models_dir() / "cases", ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

TEST(GeneratedModels, TorchExportsMatchTorch) {
  REQUIRE_MODELS();
  const auto dirs = case_dirs("torch_");
  EXPECT_GE(dirs.size(), 13u);
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.filename().string());
    Case c;
    ASSERT_TRUE(read_case(dir, false, &c));
    check_case(c, 1e-5, 1e-5);
  }
}

TEST(GeneratedModels, HandBuiltGraphsMatchTheOnnxDefinition) {
  REQUIRE_MODELS();
  const auto dirs = case_dirs("ref_");
  EXPECT_GE(dirs.size(), 9u);
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.filename().string());
    Case c;
    ASSERT_TRUE(read_case(dir, false, &c));
    check_case(c, 1e-5, 1e-5);
  }
}

TEST(GeneratedModels, BadModelsAreRefusedByName) {
  REQUIRE_MODELS();
  std::istringstream manifest(read_file(models_dir() / "bad" / "manifest.tsv"));
  std::string line;
  int count = 0;
  while (std::getline(manifest, line)) {
    std::istringstream fields(line);
    std::string name, status, text;
    std::getline(fields, name, '\t');
    std::getline(fields, status, '\t');
    std::getline(fields, text);
    SCOPED_TRACE(name);
    ++count;
    simdrnn_model* model = reinterpret_cast<simdrnn_model*>(1);
    simdrnn_onnx_graph* graph = reinterpret_cast<simdrnn_onnx_graph*>(1);
    const std::string path = (models_dir() / "bad" / (name + ".onnx")).string();
    const simdrnn_status st = simdrnn_onnx_load(path.c_str(), &model, &graph);
    const std::string message = simdrnn_onnx_last_error();
    EXPECT_EQ(std::string(simdrnn_status_name(st)), "SIMDRNN_" + status) << message;
    EXPECT_NE(message.find(text), std::string::npos)
        << "message: " << message << "\nexpected to contain: " << text;
    EXPECT_EQ(model, nullptr);
    EXPECT_EQ(graph, nullptr);
  }
  EXPECT_GE(count, 40);
}

// ---- robustness: what a hostile file can do -------------------------------------------
std::vector<std::string> valid_models() {
  std::vector<std::string> models;
  for (const char* name : {"test_lstm_with_peepholes", "test_gru_seq_length", "test_simple_rnn_batchwise"}) {
    Case c;
    if (fs::exists(node_tests_dir() / name / "model.onnx") && read_case(node_tests_dir() / name, true, &c))
      models.push_back(c.model);
  }
  for (const fs::path& dir : case_dirs("")) models.push_back(read_file(dir / "model.onnx"));
  return models;
}

// Loads bytes; on failure there must be a message and no handles.
void load_must_not_crash(const std::string& bytes) {
  Loaded h;
  const simdrnn_status st = simdrnn_onnx_load_memory(bytes.data(), bytes.size(), &h.model, &h.graph);
  if (st != SIMDRNN_OK) {
    ASSERT_TRUE(st == SIMDRNN_INVALID_ARGUMENT || st == SIMDRNN_UNSUPPORTED)
        << simdrnn_status_name(st) << ": " << simdrnn_onnx_last_error();
    ASSERT_NE(std::string(simdrnn_onnx_last_error()), "");
    ASSERT_EQ(h.model, nullptr);
    ASSERT_EQ(h.graph, nullptr);
  }
}

TEST(Robustness, EveryTruncationFailsCleanly) {
  const auto models = valid_models();
  ASSERT_FALSE(models.empty());
  for (const std::string& m : models) {
    // Every prefix of small files; about 600 evenly spaced ones of large ones.
    const size_t step = std::max<size_t>(1, m.size() / 600);
    for (size_t len = 0; len < m.size(); len += step) {
      SCOPED_TRACE("length " + std::to_string(len));
      load_must_not_crash(m.substr(0, len));
      if (HasFatalFailure()) return;
    }
  }
}

TEST(Robustness, RandomCorruptionsFailCleanly) {
  const auto models = valid_models();
  ASSERT_FALSE(models.empty());
  std::mt19937 gen(12345);
#ifdef SIMDRNN_TEST_SANITIZED
  const int per_model = 150;
#else
  const int per_model = 400;
#endif
  for (const std::string& m : models) {
    for (int i = 0; i < per_model; ++i) {
      std::string bytes = m;
      const int edits = 1 + static_cast<int>(gen() % 4);
      for (int e = 0; e < edits; ++e) {
        const size_t at = gen() % bytes.size();
        switch (gen() % 3) {
          case 0:
            bytes[at] = static_cast<char>(gen());
            break;  // overwrite a byte
          case 1:
            bytes[at] = static_cast<char>(bytes[at] ^ (1 << (gen() % 8)));
            break;  // flip a bit
          default:
            bytes[at] = static_cast<char>(0xff);
            break;  // a huge varint byte
        }
      }
      SCOPED_TRACE("corruption " + std::to_string(i));
      load_must_not_crash(bytes);
      if (HasFatalFailure()) return;
    }
  }
}

// ---- the C API ----------------------------------------------------------------------------
Case node_case(const char* name) {
  Case c;
  EXPECT_TRUE(read_case(node_tests_dir() / name, true, &c)) << name;
  return c;
}

TEST(Api, LoadArgumentsAreChecked) {
  simdrnn_model* model = nullptr;
  simdrnn_onnx_graph* graph = nullptr;
  EXPECT_EQ(simdrnn_onnx_load(nullptr, &model, &graph), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(std::string(simdrnn_onnx_last_error()).find("path"), std::string::npos);
  EXPECT_EQ(simdrnn_onnx_load("/nonexistent/model.onnx", &model, &graph), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(std::string(simdrnn_onnx_last_error()).find("/nonexistent/model.onnx"), std::string::npos);
  EXPECT_EQ(simdrnn_onnx_load("/", &model, &graph), SIMDRNN_INVALID_ARGUMENT);
  const Case c = node_case("test_simple_rnn_defaults");
  EXPECT_EQ(simdrnn_onnx_load_memory(c.model.data(), c.model.size(), nullptr, &graph),
            SIMDRNN_INVALID_ARGUMENT);
  EXPECT_EQ(simdrnn_onnx_load_memory(c.model.data(), c.model.size(), &model, nullptr),
            SIMDRNN_INVALID_ARGUMENT);
  EXPECT_EQ(model, nullptr);
  EXPECT_EQ(simdrnn_onnx_load_memory(nullptr, 10, &model, &graph), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_EQ(simdrnn_onnx_graph_destroy(nullptr), SIMDRNN_OK);
}

TEST(Api, GraphHandlesAreChecked) {
  const Case c = node_case("test_simple_rnn_defaults");
  simdrnn_model* model = nullptr;
  simdrnn_onnx_graph* graph = nullptr;
  ASSERT_EQ(simdrnn_onnx_load_memory(c.model.data(), c.model.size(), &model, &graph), SIMDRNN_OK);
  simdrnn_onnx_graph_info info{};
  ASSERT_EQ(simdrnn_onnx_graph_get_info(graph, &info), SIMDRNN_OK);
  EXPECT_EQ(info.num_inputs, 1);
  EXPECT_EQ(info.num_outputs, 1);
  EXPECT_EQ(info.fixed_seq_len, 1);
  EXPECT_EQ(info.fixed_batch, 3);
  simdrnn_onnx_tensor_info ti{};
  EXPECT_EQ(simdrnn_onnx_graph_input(graph, 1, &ti), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_EQ(simdrnn_onnx_graph_output(graph, -1, &ti), SIMDRNN_INVALID_ARGUMENT);
  ASSERT_EQ(simdrnn_onnx_graph_output(graph, 0, &ti), SIMDRNN_OK);
  EXPECT_EQ(ti.role, SIMDRNN_ONNX_Y_H);
  EXPECT_EQ(ti.first_layer, 0);
  EXPECT_EQ(ti.num_layers, 1);
  int64_t dims[8];
  EXPECT_EQ(simdrnn_onnx_output_shape(graph, 0, 0, 3, dims), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_EQ(simdrnn_onnx_output_shape(graph, 0, 1, 3, nullptr), SIMDRNN_INVALID_ARGUMENT);
  ASSERT_EQ(simdrnn_onnx_graph_destroy(graph), SIMDRNN_OK);
  EXPECT_EQ(simdrnn_onnx_graph_destroy(graph), SIMDRNN_INVALID_ARGUMENT);  // stale
  EXPECT_EQ(simdrnn_onnx_graph_get_info(graph, &info), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(std::string(simdrnn_onnx_last_error()).find("not a live"), std::string::npos);
  simdrnn_model_destroy(model);
}

TEST(Api, RunArgumentsAreChecked) {
  Case c = node_case("test_rnn_seq_length");  // X [2, 3, 3] time-major, fixed
  Loaded a;
  ASSERT_EQ(simdrnn_onnx_load_memory(c.model.data(), c.model.size(), &a.model, &a.graph), SIMDRNN_OK);
  const Data x = to_data(c.inputs.at("X"));
  const void* inputs[] = {x.f.data()};
  std::vector<float> y_h(15);
  void* outputs[] = {y_h.data()};
  EXPECT_EQ(simdrnn_onnx_run(a.model, a.graph, 2, 3, inputs, outputs, 1), SIMDRNN_OK)
      << simdrnn_onnx_last_error();
  EXPECT_EQ(simdrnn_onnx_run(a.model, a.graph, 3, 3, inputs, outputs, 1), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(std::string(simdrnn_onnx_last_error()).find("declares 2 steps"), std::string::npos);
  EXPECT_EQ(simdrnn_onnx_run(a.model, a.graph, 2, 4, inputs, outputs, 1), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_EQ(simdrnn_onnx_run(a.model, a.graph, 2, 3, nullptr, outputs, 1), SIMDRNN_INVALID_ARGUMENT);
  const void* no_x[] = {nullptr};
  EXPECT_EQ(simdrnn_onnx_run(a.model, a.graph, 2, 3, no_x, outputs, 1), SIMDRNN_INVALID_ARGUMENT);
  void* no_outputs[] = {nullptr};
  EXPECT_EQ(simdrnn_onnx_run(a.model, a.graph, 2, 3, inputs, no_outputs, 1), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_EQ(simdrnn_onnx_run(a.model, a.graph, 2, 3, inputs, outputs, -1), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_EQ(simdrnn_onnx_run(nullptr, a.graph, 2, 3, inputs, outputs, 1), SIMDRNN_INVALID_ARGUMENT);

  // A model of another configuration.
  Case other = node_case("test_gru_seq_length");
  Loaded b;
  ASSERT_EQ(simdrnn_onnx_load_memory(other.model.data(), other.model.size(), &b.model, &b.graph), SIMDRNN_OK);
  EXPECT_EQ(simdrnn_onnx_run(b.model, a.graph, 2, 3, inputs, outputs, 1), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(std::string(simdrnn_onnx_last_error()).find("configuration differs"), std::string::npos);
}

TEST(Api, SequenceLengthsAreChecked) {
  Case c = node_case("test_lstm_with_peepholes");  // X [1, 2, 4], sequence_lens input
  Loaded h;
  ASSERT_EQ(simdrnn_onnx_load_memory(c.model.data(), c.model.size(), &h.model, &h.graph), SIMDRNN_OK);
  simdrnn_onnx_graph_info info{};
  ASSERT_EQ(simdrnn_onnx_graph_get_info(h.graph, &info), SIMDRNN_OK);
  ASSERT_EQ(info.num_inputs, 4);  // X, sequence_lens, initial_h, initial_c
  std::vector<Data> data;
  std::vector<const void*> inputs;
  int64_t lens_index = -1;
  for (int64_t i = 0; i < info.num_inputs; ++i) {
    simdrnn_onnx_tensor_info ti{};
    ASSERT_EQ(simdrnn_onnx_graph_input(h.graph, i, &ti), SIMDRNN_OK);
    data.push_back(to_data(c.inputs.at(ti.name)));
    if (ti.role == SIMDRNN_ONNX_SEQUENCE_LENS) {
      lens_index = i;
      EXPECT_EQ(ti.dtype, SIMDRNN_ONNX_INT32);
    }
  }
  for (const Data& d : data) inputs.push_back(d.ptr());
  ASSERT_GE(lens_index, 0);
  std::vector<float> y_h(6);
  void* outputs[] = {y_h.data()};
  const int32_t zero[] = {1, 0}, too_long[] = {2, 1};
  inputs[static_cast<size_t>(lens_index)] = zero;
  EXPECT_EQ(simdrnn_onnx_run(h.model, h.graph, 1, 2, inputs.data(), outputs, 1), SIMDRNN_UNSUPPORTED);
  EXPECT_NE(std::string(simdrnn_onnx_last_error()).find("is 0"), std::string::npos);
  inputs[static_cast<size_t>(lens_index)] = too_long;
  EXPECT_EQ(simdrnn_onnx_run(h.model, h.graph, 1, 2, inputs.data(), outputs, 1), SIMDRNN_INVALID_ARGUMENT);
  // NULL lengths and NULL states mean full lengths and zeros: the test data's values.
  std::vector<const void*> only_x(inputs.size(), nullptr);
  for (int64_t i = 0; i < info.num_inputs; ++i) {
    simdrnn_onnx_tensor_info ti{};
    ASSERT_EQ(simdrnn_onnx_graph_input(h.graph, i, &ti), SIMDRNN_OK);
    if (ti.role == SIMDRNN_ONNX_X) only_x[static_cast<size_t>(i)] = inputs[static_cast<size_t>(i)];
  }
  ASSERT_EQ(simdrnn_onnx_run(h.model, h.graph, 1, 2, only_x.data(), outputs, 1), SIMDRNN_OK)
      << simdrnn_onnx_last_error();
  EXPECT_EQ(allclose(y_h, to_data(c.outputs.begin()->second).f, 1e-5, 1e-5), "");
}

}  // namespace
