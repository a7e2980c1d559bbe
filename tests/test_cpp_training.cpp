// The C++ training wrapper: one SGD step through simdrnn.hpp lowers a loss,
// its errors arrive as simdrnn::Error, and a buffer too small for the call is
// refused by name before anything runs (a bidirectional y sized T*N*H).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.hpp"
#include "support/test_util.hpp"

namespace {

double run_loss(const simdrnn::Model& model, simdrnn::ForwardArgs args, const std::vector<float>& target) {
  std::vector<float> y(target.size());
  args.y = y;
  std::vector<unsigned char> ws;
  model.forward(args, ws);
  double loss = 0;
  for (size_t i = 0; i < y.size(); ++i) loss += 0.5 * (y[i] - target[i]) * (y[i] - target[i]);
  return loss;
}

TEST(CppTraining, SgdStepLowersLoss) {
  simdrnn::Config cfg = simdrnn::default_config();
  cfg.input_size = 4, cfg.hidden_size = 6;
  simdrnn::Weights w(cfg);
  w.set("weight_ih_l0", simdrnn_test::random_vector(24, 1, -0.5f, 0.5f));
  w.set("weight_hh_l0", simdrnn_test::random_vector(36, 2, -0.5f, 0.5f));
  w.set("bias_ih_l0", simdrnn_test::random_vector(6, 3));
  simdrnn::Model model(w);
  const int64_t T = 5, N = 2;
  const auto x = simdrnn_test::random_vector(T * N * 4, 4), target = simdrnn_test::random_vector(T * N * 6, 5);
  simdrnn::ForwardArgs args;
  args.seq_len = T, args.batch = N, args.x = x;
  const double before = run_loss(model, args, target);

  std::vector<float> y(target.size()), dy(target.size());
  args.y = y;
  std::vector<unsigned char> reserve(model.training_reserve_size(args)), fws(model.workspace_size(args));
  model.forward_training(args, fws, reserve);
  for (size_t i = 0; i < y.size(); ++i) dy[i] = y[i] - target[i];
  std::vector<float> grads(static_cast<size_t>(model.num_params()));
  std::vector<unsigned char> ws(model.backward_workspace_size(args));
  simdrnn::BackwardArgs b;
  b.dy = dy, b.grads = grads;
  model.backward(args, reserve, b, ws);
  std::vector<float> params = model.params(), velocity(params.size(), 0.0f);
  EXPECT_GT(simdrnn::clip_grad_norm(grads, 100.0f), 0.0f);
  simdrnn::sgd_step(params, grads, velocity, 0.05f);
  model.set_params(params);
  EXPECT_LT(run_loss(model, args, target), before);
  // The old reserve no longer matches the model's parameters.
  EXPECT_THROW(model.backward(args, reserve, b, ws), simdrnn::Error);
  EXPECT_THROW(model.set_params(std::vector<float>(3)), simdrnn::Error);
}

void expect_throw_naming(const std::function<void()>& call, const std::string& name) {
  try {
    call();
    ADD_FAILURE() << "no simdrnn::Error naming " << name;
  } catch (const simdrnn::Error& e) {
    EXPECT_EQ(SIMDRNN_INVALID_ARGUMENT, e.status());
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

// Short buffers are refused before the call runs: nothing is written.
TEST(CppApi, BuffersAreSizeChecked) {
  simdrnn::Config cfg;
  cfg.input_size = 3, cfg.hidden_size = 4, cfg.bidirectional = true;
  cfg.activation = simdrnn::Activation::Relu;  // the C++ enums assign to Config
  simdrnn::Weights w(cfg);
  for (const char* sfx : {"_l0", "_l0_reverse"}) {
    w.set(std::string("weight_ih") + sfx, simdrnn_test::random_vector(12, 1));
    w.set(std::string("weight_hh") + sfx, simdrnn_test::random_vector(16, 2));
  }
  const simdrnn::Model model(w);
  const int64_t T = 5, N = 2;
  const auto x = simdrnn_test::random_vector(T * N * 3, 3);
  std::vector<float> y_forgot_x2(T * N * 4, 7.0f), y(T * N * 8), h_n(2 * N * 4);
  simdrnn::ForwardArgs args;
  args.seq_len = T, args.batch = N, args.x = x, args.y = y_forgot_x2;
  std::vector<unsigned char> ws;
  expect_throw_naming([&] { model.forward(args, ws); }, "args.y");
  EXPECT_EQ(7.0f, y_forgot_x2.back());
  args.y = y;
  args.h_n = simdrnn::Span<float>(h_n.data(), 3);
  expect_throw_naming([&] { model.forward(args, ws); }, "args.h_n");
  args.h_n = h_n;
  args.x = simdrnn::Span<const float>(x.data(), x.size() - 1);
  expect_throw_naming([&] { model.forward(args, ws); }, "args.x");
  args.x = x;
  model.forward(args, ws);
  const simdrnn_sizes s = model.sizes(args);
  EXPECT_EQ(T * N * 8, s.y);
  EXPECT_EQ(2 * N * 4, s.h);
  EXPECT_EQ(0, s.c);
  simdrnn::Config uni = cfg;
  uni.bidirectional = false;
  simdrnn::Weights w1(uni);
  w1.set("weight_ih_l0", simdrnn_test::random_vector(12, 1)).set("weight_hh_l0", simdrnn_test::random_vector(16, 2));
  const simdrnn::Model m1(w1);
  simdrnn::Stream stream(m1, N, 2);
  std::vector<float> sy(2 * N * 4);
  expect_throw_naming([&] { stream.step(2, simdrnn::Span<const float>(x.data(), 2 * N * 3 - 1), sy); }, "x");
  expect_throw_naming([&] { stream.step(2, x, simdrnn::Span<float>(sy.data(), 3)); }, "y");
  stream.step(2, x, sy);
  // A forgotten size fails at once, naming it.
  simdrnn::Config forgot;
  forgot.hidden_size = 4;
  expect_throw_naming([&] { simdrnn::Weights bad(forgot); }, "input_size");
}

}  // namespace
