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
#include <cstdlib>

#include "onnx/node_case.hpp"

namespace {

using namespace simdrnn_onnx_test;

// Every RNN, LSTM and GRU case libonnx-testdata 1.12 has; a missing one fails.
const char* const kCases[] = {
    "test_gru_batchwise",          "test_gru_defaults",        "test_gru_seq_length",
    "test_gru_with_initial_bias",  "test_lstm_batchwise",      "test_lstm_defaults",
    "test_lstm_with_initial_bias", "test_lstm_with_peepholes", "test_rnn_seq_length",
    "test_simple_rnn_batchwise",   "test_simple_rnn_defaults", "test_simple_rnn_with_initial_bias",
};

fs::path node_tests_dir() {
  if (const char* env = std::getenv("SIMDRNN_ONNX_NODE_TESTS"); env != nullptr && *env != '\0') return env;
  return SIMDRNN_ONNX_NODE_TESTS;
}

class OnnxNodeTest : public testing::TestWithParam<const char*> {};

TEST_P(OnnxNodeTest, MatchesEveryOutput) {
  const fs::path dir = node_tests_dir() / GetParam();
  ASSERT_TRUE(fs::exists(dir / "model.onnx"))
      << "no " << (dir / "model.onnx") << ": install Debian's libonnx-testdata (.ci/deps.sh does), or set "
      << "SIMDRNN_ONNX_NODE_TESTS to its data/node directory";
  Case c;
  ASSERT_TRUE(read_case(dir, /*freeze_weights=*/true, &c));
  check_case(c, 1e-5, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Debian, OnnxNodeTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
