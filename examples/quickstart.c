/* simdrnn quickstart (C99): a 1-layer tanh RNN, I=8, H=16, run over T=5 steps
 * for a batch of N=2. Weights use PyTorch nn.RNN names and shapes. Every call
 * returns a status; on failure simdrnn_last_error() says what was wrong. */
#include <simdrnn/simdrnn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { I = 8, H = 16, T = 5, N = 2 };

/* Deterministic "weights": small values from a sine, so the example needs no files. */
static void fill(float* v, int n, float seed) {
  for (int i = 0; i < n; ++i) v[i] = 0.25f * sinf(seed + 0.37f * (float)i);
}

#define CHECK(call)                                                           \
  do {                                                                        \
    simdrnn_status s_ = (call);                                               \
    if (s_ != SIMDRNN_OK) {                                                   \
      fprintf(stderr, "%s failed: %s: %s\n", #call, simdrnn_status_name(s_), \
              simdrnn_last_error());                                          \
      goto done;                                                              \
    }                                                                         \
  } while (0)

int main(void) {
  static float w_ih[H * I], w_hh[H * H], b_ih[H], b_hh[H];
  static float x[T * N * I], y[T * N * H], h_n[1 * N * H]; /* time-major [T, N, .] */
  simdrnn_weights* weights = NULL;
  simdrnn_model* model = NULL;
  void* workspace = NULL;
  simdrnn_forward_args args = {0}; /* zero-initialise, then fill in */
  simdrnn_isa isa;
  int rc = 1;

  simdrnn_config config = simdrnn_config_default(); /* tanh, no clip, no output layer */
  config.input_size = I;
  config.hidden_size = H;
  config.num_layers = 1;
  config.activation = SIMDRNN_TANH;

  fill(w_ih, H * I, 1.0f);
  fill(w_hh, H * H, 2.0f);
  fill(b_ih, H, 3.0f);
  fill(b_hh, H, 4.0f);
  fill(x, T * N * I, 5.0f);

  CHECK(simdrnn_weights_create(&config, &weights));
  CHECK(simdrnn_weights_set(weights, "weight_ih_l0", w_ih, H * I)); /* [H, I] */
  CHECK(simdrnn_weights_set(weights, "weight_hh_l0", w_hh, H * H)); /* [H, H] */
  CHECK(simdrnn_weights_set(weights, "bias_ih_l0", b_ih, H));
  CHECK(simdrnn_weights_set(weights, "bias_hh_l0", b_hh, H));
  CHECK(simdrnn_model_create(weights, &model)); /* prepacked for the best ISA */
  CHECK(simdrnn_weights_destroy(weights));      /* the model keeps its own copy */
  weights = NULL;

  args.seq_len = T;
  args.batch = N;
  args.layout = SIMDRNN_TIME_MAJOR;
  args.x = x; /* h0 = NULL: start from zeros */
  args.y = y;
  args.h_n = h_n;
  CHECK(simdrnn_forward_workspace_size(model, &args, &args.workspace_size));
  workspace = malloc(args.workspace_size ? args.workspace_size : 1);
  if (!workspace) {
    fprintf(stderr, "out of memory\n");
    goto done;
  }
  args.workspace = workspace;
  CHECK(simdrnn_forward(model, &args));

  CHECK(simdrnn_model_isa(model, &isa));
  printf("simdrnn %s, isa %s\n", simdrnn_version(), simdrnn_isa_name(isa));
  printf("y[0, 0, :4] = %.6f %.6f %.6f %.6f\n", y[0], y[1], y[2], y[3]);
  for (int n = 0; n < N; ++n)
    printf("h_n[0, %d, :4] = %.6f %.6f %.6f %.6f\n", n, h_n[n * H + 0], h_n[n * H + 1],
           h_n[n * H + 2], h_n[n * H + 3]);
  rc = 0;

done:
  free(workspace);
  simdrnn_model_destroy(model); /* destroying NULL is allowed */
  simdrnn_weights_destroy(weights);
  return rc;
}
