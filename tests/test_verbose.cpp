// SIMDRNN_VERBOSE=1 (docs: README "Profiling"): model creation is logged with
// its time and packed bytes; every call is named for its entry point
// (forward, stream_step, forward_training, backward, train_session_*); lines
// go to SIMDRNN_VERBOSE_FILE when set. Each test sets the variables before
// its first library call (ctest runs each test in its own process).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "src/internal.hpp"

namespace {

std::string log_path() { return "simdrnn_verbose_test_" + std::to_string(getpid()) + ".log"; }

std::string read_log() {
  std::fflush(simdrnn::log_file());
  std::ifstream in(log_path());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Verbose, EveryEntryPointIsNamed) {
  setenv("SIMDRNN_VERBOSE", "1", 1);
  setenv("SIMDRNN_VERBOSE_FILE", log_path().c_str(), 1);
  simdrnn_config c = simdrnn_config_default();
  c.input_size = 3, c.hidden_size = 4;
  simdrnn_weights* w = nullptr;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_create(&c, &w));
  std::vector<float> wih(12, 0.1f), whh(16, 0.05f), x(2 * 3, 0.5f), y(2 * 4);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, "weight_ih_l0", wih.data(), 12));
  ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, "weight_hh_l0", whh.data(), 16));
  simdrnn_model* m = nullptr;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_model_create(w, &m));
  simdrnn_forward_args a{};
  a.seq_len = 2, a.batch = 1, a.x = x.data(), a.y = y.data(), a.num_threads = 1;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_forward(m, &a));
  simdrnn_stream* s = nullptr;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_stream_create(m, 1, 1, &s));
  ASSERT_EQ(SIMDRNN_OK, simdrnn_stream_step(s, 1, x.data(), y.data(), nullptr, 1));
  simdrnn_train_session* ts = nullptr;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_create(m, 1, 2, &ts));
  std::vector<float> grads(28);
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(ts, 2, x.data(), y.data(), nullptr, 1));
  ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_backward(ts, y.data(), nullptr, nullptr, grads.data(), 0, 1));
  simdrnn_train_session_destroy(ts);
  simdrnn_stream_destroy(s);
  simdrnn_model_destroy(m);
  simdrnn_weights_destroy(w);
  const std::string log = read_log();
  std::remove(log_path().c_str());
  for (const char* line :
       {"simdrnn_verbose,model_create,isa=", "packed_bytes=", "simdrnn_verbose,forward,isa=",
        "simdrnn_verbose,stream_step,isa=", "simdrnn_verbose,train_session_forward,isa=",
        "simdrnn_verbose,train_session_backward,isa=", "shape=t1n1i3h4l1d1o0", "shape=t2n1i3h4l1d1o0"})
    EXPECT_NE(log.find(line), std::string::npos) << "missing \"" << line << "\" in:\n" << log;
  EXPECT_EQ(log.find("simdrnn_verbose,forward,isa=avx512,threads=1,shape=t1"), std::string::npos)
      << "a stream step was logged as forward:\n"
      << log;
}

}  // namespace
