// simdrnn quickstart (C++): a 1-layer tanh RNN, I=8, H=16, run over T=5 steps
// for a batch of N=2. Weights use PyTorch nn.RNN names and shapes.
#include <simdrnn/simdrnn.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

// Deterministic "weights": small values from a sine, so the example needs no files.
static std::vector<float> values(size_t n, float seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 0.25f * std::sin(seed + 0.37f * static_cast<float>(i));
  return v;
}

int main() try {
  const int64_t I = 8, H = 16, T = 5, N = 2;
  simdrnn::Config config;                            // 1 layer, tanh, no clip, no output layer
  config.input_size = I;                             // the sizes must be set
  config.hidden_size = H;
  config.activation = simdrnn::Activation::Tanh;

  simdrnn::Weights weights(config);
  weights.set("weight_ih_l0", values(H * I, 1.0f))   // [H, I]
      .set("weight_hh_l0", values(H * H, 2.0f))      // [H, H]
      .set("bias_ih_l0", values(H, 3.0f))            // [H]
      .set("bias_hh_l0", values(H, 4.0f));           // [H]
  const simdrnn::Model model(weights);               // prepacked for the best ISA

  std::vector<float> x = values(T * N * I, 5.0f);    // [T, N, I], time-major
  std::vector<float> y(T * N * H), h_n(1 * N * H);   // [T, N, H] and [L*D, N, H]
  simdrnn::ForwardArgs args;                         // buffers are spans: each size is checked
  args.seq_len = T;
  args.batch = N;
  args.layout = simdrnn::Layout::TimeMajor;
  args.x = x;                                        // no h0: start from zeros
  args.y = y;
  args.h_n = h_n;
  std::vector<unsigned char> workspace;
  model.forward(args, workspace);                    // sizes the workspace, then runs

  std::printf("simdrnn %s, isa %s\n", simdrnn::version().c_str(),
              simdrnn::isa_name(model.isa()).c_str());
  std::printf("y[0, 0, :4] = %.6f %.6f %.6f %.6f\n", y[0], y[1], y[2], y[3]);
  for (int64_t n = 0; n < N; ++n)
    std::printf("h_n[0, %lld, :4] = %.6f %.6f %.6f %.6f\n", static_cast<long long>(n),
                h_n[n * H + 0], h_n[n * H + 1], h_n[n * H + 2], h_n[n * H + 3]);
  // With no seq_lens every sequence ends at t = T-1, so h_n equals y's last step.
  for (int64_t k = 0; k < N * H; ++k)
    if (h_n[k] != y[(T - 1) * N * H + k]) return std::fprintf(stderr, "h_n != y[T-1]\n"), 1;
  return 0;
} catch (const simdrnn::Error& e) {
  std::fprintf(stderr, "simdrnn error (%s): %s\n", simdrnn_status_name(e.status()), e.what());
  return 1;
}
