// Consumer check (C++17): build a 1-layer tanh RNN with an output layer through
// simdrnn.hpp, run forward and compare y, h_n and out with a direct computation.
#include <cmath>
#include <cstdio>
#include <simdrnn/simdrnn.hpp>
#include <vector>

int main() {
  constexpr int I = 3, H = 4, O = 2, T = 5, N = 2;
  std::vector<float> w_ih(H * I), w_hh(H * H), b_ih(H), w_hy(O * H), b_hy(O), x(N * T * I);
  for (int i = 0; i < H * I; ++i) w_ih[i] = 0.07f * static_cast<float>(i % 6) - 0.2f;
  for (int i = 0; i < H * H; ++i) w_hh[i] = 0.04f * static_cast<float>(i % 9) - 0.15f;
  for (int i = 0; i < H; ++i) b_ih[i] = 0.03f * static_cast<float>(i) - 0.05f;
  for (int i = 0; i < O * H; ++i) w_hy[i] = 0.1f * static_cast<float>(i % 4) - 0.1f;
  for (int i = 0; i < O; ++i) b_hy[i] = 0.5f * static_cast<float>(i);
  for (int i = 0; i < N * T * I; ++i) x[i] = 0.3f * static_cast<float>(i % 7) - 0.9f;

  try {
    simdrnn::Config config;
    config.input_size = I;
    config.hidden_size = H;
    config.output_size = O;
    simdrnn::Weights weights(config);
    weights.set("weight_ih_l0", w_ih).set("weight_hh_l0", w_hh).set("bias_ih_l0", b_ih);
    weights.set("weight_hy", w_hy).set("bias_hy", b_hy);
    const simdrnn::Model model(weights);

    std::vector<float> y(N * T * H), h_n(N * H), out(N * T * O);
    simdrnn::ForwardArgs args;
    args.seq_len = T;
    args.batch = N;
    args.layout = simdrnn::Layout::BatchMajor;
    args.x = x;
    args.y = y;
    args.h_n = h_n;
    args.out = out;
    std::vector<unsigned char> workspace;
    model.forward(args, workspace);

    double max_err = 0.0;
    auto track = [&](float got, double want) {
      const double e = std::fabs(static_cast<double>(got) - want);
      if (!(e <= max_err)) max_err = e;  // NaN-safe
    };
    for (int n = 0; n < N; ++n) {
      std::vector<double> h(H, 0.0), next(H);
      for (int t = 0; t < T; ++t) {
        for (int j = 0; j < H; ++j) {
          double a = b_ih[j];
          for (int i = 0; i < I; ++i) a += double(w_ih[j * I + i]) * x[(n * T + t) * I + i];
          for (int i = 0; i < H; ++i) a += double(w_hh[j * H + i]) * h[i];
          next[j] = std::tanh(a);
        }
        h = next;
        for (int j = 0; j < H; ++j) track(y[(n * T + t) * H + j], h[j]);
        for (int o = 0; o < O; ++o) {
          double a = b_hy[o];
          for (int j = 0; j < H; ++j) a += double(w_hy[o * H + j]) * h[j];
          track(out[(n * T + t) * O + o], a);
        }
      }
      for (int j = 0; j < H; ++j) track(h_n[n * H + j], h[j]);
    }
    if (!(max_err <= 1e-5)) {
      std::fprintf(stderr, "max error %g\n", max_err);
      return 1;
    }

    // Errors surface as simdrnn::Error carrying the status.
    try {
      simdrnn::Config bad = config;
      bad.hidden_size = 0;
      simdrnn::Weights w(bad);
      std::fprintf(stderr, "hidden_size 0 was accepted\n");
      return 1;
    } catch (const simdrnn::Error& e) {
      if (e.status() != SIMDRNN_INVALID_ARGUMENT) return 1;
    }
    std::printf("C++ consumer OK (simdrnn %s, isa %s, max error %.3g)\n", simdrnn::version().c_str(),
                simdrnn::isa_name(model.isa()).c_str(), max_err);
    return 0;
  } catch (const simdrnn::Error& e) {
    std::fprintf(stderr, "simdrnn::Error (%s): %s\n", simdrnn_status_name(e.status()), e.what());
    return 1;
  }
}
