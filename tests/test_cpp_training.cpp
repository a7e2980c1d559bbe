// The C++ training wrapper: one SGD step through simdrnn.hpp lowers a loss,
// and its errors arrive as simdrnn::Error.
#include <gtest/gtest.h>

#include <vector>

#include "simdrnn/simdrnn.hpp"
#include "support/test_util.hpp"

namespace {

double run_loss(const simdrnn::Model& model, simdrnn::ForwardArgs args, const std::vector<float>& target) {
  std::vector<float> y(target.size());
  args.y = y.data();
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
  simdrnn::ForwardArgs args{};
  args.seq_len = T, args.batch = N, args.x = x.data();
  const double before = run_loss(model, args, target);

  std::vector<float> y(target.size()), dy(target.size());
  args.y = y.data();
  std::vector<unsigned char> reserve(model.training_reserve_size(args));
  model.forward_training(args, reserve.data(), reserve.size());
  for (size_t i = 0; i < y.size(); ++i) dy[i] = y[i] - target[i];
  std::vector<float> grads(static_cast<size_t>(model.num_params()));
  std::vector<unsigned char> ws(model.backward_workspace_size(args));
  simdrnn::BackwardArgs b{};
  b.forward = &args, b.reserve = reserve.data(), b.reserve_size = reserve.size(), b.dy = dy.data();
  b.grads = grads.data(), b.workspace = ws.data(), b.workspace_size = ws.size();
  model.backward(b);
  std::vector<float> params = model.params(), velocity(params.size(), 0.0f);
  EXPECT_GT(simdrnn::clip_grad_norm(grads, 100.0f), 0.0f);
  simdrnn::sgd_step(params, grads, velocity, 0.05f);
  model.set_params(params);
  EXPECT_LT(run_loss(model, args, target), before);
  // The old reserve no longer matches the model's parameters.
  EXPECT_THROW(model.backward(b), simdrnn::Error);
  EXPECT_THROW(model.set_params(std::vector<float>(3)), simdrnn::Error);
}

}  // namespace
