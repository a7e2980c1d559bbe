// simdrnn LSTM example (C++): a 2-layer bidirectional LSTM with a projection
// (PyTorch nn.LSTM(input_size=6, hidden_size=12, num_layers=2,
// bidirectional=True, proj_size=5)) built from PyTorch-named weights, run on a
// batch of 3 sequences of different lengths from a given h0 and c0; then the
// unidirectional variant streamed step by step, checked bit for bit against
// the whole-sequence call. Exits 1 when a check fails.
#include <simdrnn/simdrnn.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

const int64_t I = 6, H = 12, P = 5, L = 2, T = 7, N = 3;

// Deterministic "weights" and inputs: small values from a sine, so the
// example needs no files.
std::vector<float> values(int64_t n, float seed) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = 0.3f * std::sin(seed + 0.37f * static_cast<float>(i));
  return v;
}

simdrnn::Config lstm_config(bool bidirectional) {
  simdrnn::Config config;
  config.cell = simdrnn::Cell::Lstm;
  config.input_size = I;
  config.hidden_size = H;
  config.num_layers = L;
  config.bidirectional = bidirectional;
  config.proj_size = P;  // h is P wide (H_out = P); c stays H wide
  return config;
}

// Every tensor of an nn.LSTM state_dict(), named and shaped as PyTorch does:
// gates i, f, g, o stacked in the 4*H rows; layer 1 reads D*P inputs.
simdrnn::Weights lstm_weights(const simdrnn::Config& config) {
  const int64_t D = config.bidirectional ? 2 : 1;
  simdrnn::Weights weights(config);
  for (int64_t l = 0; l < L; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      const int64_t in = l == 0 ? I : D * P;
      const float seed = 10.0f * static_cast<float>(l * D + d);  // distinct values per tensor
      weights.set("weight_ih" + suffix, values(4 * H * in, seed + 1.0f))  // [4H, in]
          .set("weight_hh" + suffix, values(4 * H * P, seed + 2.0f))      // [4H, P]
          .set("bias_ih" + suffix, values(4 * H, seed + 3.0f))            // [4H]
          .set("bias_hh" + suffix, values(4 * H, seed + 4.0f))            // [4H]
          .set("weight_hr" + suffix, values(P * H, seed + 5.0f));         // [P, H]
    }
  return weights;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

int fail(const char* what) {
  std::fprintf(stderr, "lstm example: %s\n", what);
  return 1;
}

// The bidirectional model over a padded batch.
int bidirectional_batch() {
  const simdrnn::Config config = lstm_config(true);
  const simdrnn::Model model(lstm_weights(config));
  const int64_t D = 2;

  std::vector<float> x = values(T * N * I, 50.0f);     // [T, N, I], time-major
  std::vector<float> h0 = values(L * D * N * P, 60.0f);  // [L*D, N, P]
  std::vector<float> c0 = values(L * D * N * H, 70.0f);  // [L*D, N, H]
  const std::vector<int64_t> lengths = {7, 4, 1};      // steps past a length are padding
  std::vector<float> y(T * N * D * P), h_n(L * D * N * P), c_n(L * D * N * H);

  simdrnn::ForwardArgs args;  // every span's size is checked before the call runs
  args.seq_len = T;
  args.batch = N;
  args.x = x;
  args.h0 = h0;
  args.c0 = c0;
  args.seq_lens = lengths;
  args.y = y;      // [T, N, D*P]: forward direction in columns 0..P-1, reverse after
  args.h_n = h_n;  // [L*D, N, P]
  args.c_n = c_n;  // [L*D, N, H]
  std::vector<unsigned char> workspace;
  model.forward(args, workspace);

  std::printf("bidirectional: %lld parameters, isa %s, workspace %zu bytes\n",
              static_cast<long long>(model.num_params()), simdrnn::isa_name(model.isa()).c_str(),
              workspace.size());
  std::printf("  y[0, 0, :4]     = %9.6f %9.6f %9.6f %9.6f\n", y[0], y[1], y[2], y[3]);
  std::printf("  h_n[3, 1, :4]   = %9.6f %9.6f %9.6f %9.6f\n", h_n[(3 * N + 1) * P + 0],
              h_n[(3 * N + 1) * P + 1], h_n[(3 * N + 1) * P + 2], h_n[(3 * N + 1) * P + 3]);
  std::printf("  c_n[3, 1, :4]   = %9.6f %9.6f %9.6f %9.6f\n", c_n[(3 * N + 1) * H + 0],
              c_n[(3 * N + 1) * H + 1], c_n[(3 * N + 1) * H + 2], c_n[(3 * N + 1) * H + 3]);

  // The last layer's h_n is y at each sequence's own last step (forward
  // direction) and at t = 0 (reverse direction); y is 0 at padding steps.
  for (int64_t n = 0; n < N; ++n) {
    const int64_t last = lengths[static_cast<size_t>(n)] - 1;
    for (int64_t j = 0; j < P; ++j) {
      if (h_n[((1 * D + 0) * N + n) * P + j] != y[(last * N + n) * D * P + j])
        return fail("h_n (last layer, forward) differs from y at the sequence's last step");
      if (h_n[((1 * D + 1) * N + n) * P + j] != y[(0 * N + n) * D * P + P + j])
        return fail("h_n (last layer, reverse) differs from y at t = 0");
    }
    for (int64_t t = last + 1; t < T; ++t)
      for (int64_t j = 0; j < D * P; ++j)
        if (y[(t * N + n) * D * P + j] != 0.0f) return fail("y is not 0 at a padding step");
  }
  return 0;
}

// The unidirectional model: one whole-sequence call, then the same sequence
// streamed in chunks of 1, 2, 3 and 1 steps; y and the state must match.
int streamed_batch() {
  const simdrnn::Config config = lstm_config(false);
  const simdrnn::Model model(lstm_weights(config));

  std::vector<float> x = values(T * N * I, 80.0f);
  std::vector<float> h0 = values(L * N * P, 90.0f);  // [L, N, P]
  std::vector<float> c0 = values(L * N * H, 95.0f);  // [L, N, H]
  std::vector<float> y(T * N * P), h_n(L * N * P), c_n(L * N * H);
  simdrnn::ForwardArgs args;
  args.seq_len = T;
  args.batch = N;
  args.x = x;
  args.h0 = h0;
  args.c0 = c0;
  args.y = y;
  args.h_n = h_n;
  args.c_n = c_n;
  std::vector<unsigned char> workspace;
  model.forward(args, workspace);

  const int64_t max_steps = 3;
  simdrnn::Stream stream(model, N, max_steps);  // allocates here, never in step()
  stream.reset(h0, c0);
  std::vector<float> streamed_y(y.size());
  int64_t t = 0;
  for (int64_t steps : {1, 2, 3, 1}) {
    stream.step(steps, simdrnn::Span<const float>(x.data() + t * N * I, static_cast<size_t>(steps * N * I)),
                simdrnn::Span<float>(streamed_y.data() + t * N * P, static_cast<size_t>(steps * N * P)));
    t += steps;
  }
  std::vector<float> h(h_n.size()), c(c_n.size());
  stream.state(h, c);

  std::printf("streamed: %lld steps in chunks of 1, 2, 3, 1\n", static_cast<long long>(t));
  std::printf("  h[1, 2, :4]     = %9.6f %9.6f %9.6f %9.6f\n", h[(1 * N + 2) * P + 0], h[(1 * N + 2) * P + 1],
              h[(1 * N + 2) * P + 2], h[(1 * N + 2) * P + 3]);
  std::printf("  c[1, 2, :4]     = %9.6f %9.6f %9.6f %9.6f\n", c[(1 * N + 2) * H + 0], c[(1 * N + 2) * H + 1],
              c[(1 * N + 2) * H + 2], c[(1 * N + 2) * H + 3]);
  if (t != T) return fail("the chunks do not cover the sequence");
  if (!same_bits(streamed_y, y)) return fail("streamed y differs from the whole-sequence call");
  if (!same_bits(h, h_n)) return fail("streamed h differs from the whole-sequence h_n");
  if (!same_bits(c, c_n)) return fail("streamed c differs from the whole-sequence c_n");
  std::printf("  y, h and c equal the whole-sequence call bit for bit\n");
  return 0;
}

}  // namespace

int main() try {
  std::printf("simdrnn %s\n", simdrnn::version().c_str());
  if (int rc = bidirectional_batch()) return rc;
  return streamed_batch();
} catch (const simdrnn::Error& e) {
  std::fprintf(stderr, "simdrnn error (%s): %s\n", simdrnn_status_name(e.status()), e.what());
  return 1;
}
