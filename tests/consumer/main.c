/* Consumer check (pure C, C99): build a 1-layer tanh RNN through simdrnn.h,
 * run one forward call and compare y and h_n with a direct computation. */
#include <math.h>
#include <simdrnn/simdrnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define I 2
#define H 3
#define T 3
#define N 2

static int fail(const char* what, simdrnn_status status) {
  fprintf(stderr, "%s failed: %s: %s\n", what, simdrnn_status_name(status), simdrnn_last_error());
  return 1;
}

int main(void) {
  float w_ih[H * I], w_hh[H * H], b_ih[H], b_hh[H];
  float x[T * N * I], y[T * N * H], h_n[N * H];
  double ref_h[N][H], ref_y[T][N][H];
  simdrnn_config config = simdrnn_config_default();
  simdrnn_weights* weights = NULL;
  simdrnn_model* model = NULL;
  simdrnn_forward_args args;
  simdrnn_status status;
  size_t bytes = 0;
  void* workspace = NULL;
  double max_err = 0.0;
  char expected_version[32];
  int i, j, t, n;

  sprintf(expected_version, "%d.%d.%d", SIMDRNN_VERSION_MAJOR, SIMDRNN_VERSION_MINOR, SIMDRNN_VERSION_PATCH);
  if (strcmp(simdrnn_version(), expected_version) != 0) {
    fprintf(stderr, "version %s, header says %s\n", simdrnn_version(), expected_version);
    return 1;
  }

  for (i = 0; i < H * I; ++i) w_ih[i] = 0.1f * (float)(i % 5) - 0.2f;
  for (i = 0; i < H * H; ++i) w_hh[i] = 0.05f * (float)(i % 7) - 0.15f;
  for (i = 0; i < H; ++i) b_ih[i] = 0.01f * (float)i;
  for (i = 0; i < H; ++i) b_hh[i] = -0.02f * (float)i;
  for (i = 0; i < T * N * I; ++i) x[i] = 0.25f * (float)(i % 9) - 1.0f;

  config.input_size = I;
  config.hidden_size = H;
  config.num_layers = 1;
  if ((status = simdrnn_weights_create(&config, &weights)) != SIMDRNN_OK)
    return fail("weights_create", status);
  if ((status = simdrnn_weights_set(weights, "weight_ih_l0", w_ih, H * I)) != SIMDRNN_OK)
    return fail("set", status);
  if ((status = simdrnn_weights_set(weights, "weight_hh_l0", w_hh, H * H)) != SIMDRNN_OK)
    return fail("set", status);
  if ((status = simdrnn_weights_set(weights, "bias_ih_l0", b_ih, H)) != SIMDRNN_OK)
    return fail("set", status);
  if ((status = simdrnn_weights_set(weights, "bias_hh_l0", b_hh, H)) != SIMDRNN_OK)
    return fail("set", status);
  if ((status = simdrnn_model_create(weights, &model)) != SIMDRNN_OK) return fail("model_create", status);
  simdrnn_weights_destroy(weights);

  memset(&args, 0, sizeof args);
  args.seq_len = T;
  args.batch = N;
  args.layout = SIMDRNN_TIME_MAJOR;
  args.x = x;
  args.y = y;
  args.h_n = h_n;
  if ((status = simdrnn_forward_workspace_size(model, &args, &bytes)) != SIMDRNN_OK)
    return fail("workspace_size", status);
  workspace = malloc(bytes ? bytes : 1);
  if (!workspace) return 1;
  args.workspace = workspace;
  args.workspace_size = bytes;
  if ((status = simdrnn_forward(model, &args)) != SIMDRNN_OK) return fail("forward", status);

  for (n = 0; n < N; ++n)
    for (j = 0; j < H; ++j) ref_h[n][j] = 0.0;
  for (t = 0; t < T; ++t) {
    for (n = 0; n < N; ++n) {
      double next[H];
      for (j = 0; j < H; ++j) {
        double a = (double)b_ih[j] + (double)b_hh[j];
        for (i = 0; i < I; ++i) a += (double)w_ih[j * I + i] * (double)x[(t * N + n) * I + i];
        for (i = 0; i < H; ++i) a += (double)w_hh[j * H + i] * ref_h[n][i];
        next[j] = tanh(a);
      }
      for (j = 0; j < H; ++j) ref_h[n][j] = ref_y[t][n][j] = next[j];
    }
  }
  for (t = 0; t < T; ++t)
    for (n = 0; n < N; ++n)
      for (j = 0; j < H; ++j) {
        double e = fabs((double)y[(t * N + n) * H + j] - ref_y[t][n][j]);
        if (!(e <= max_err)) max_err = e; /* NaN-safe */
      }
  for (n = 0; n < N; ++n)
    for (j = 0; j < H; ++j) {
      double e = fabs((double)h_n[n * H + j] - ref_h[n][j]);
      if (!(e <= max_err)) max_err = e;
    }

  free(workspace);
  if ((status = simdrnn_model_destroy(model)) != SIMDRNN_OK) return fail("model_destroy", status);
  if (!(max_err <= 1e-5)) {
    fprintf(stderr, "max error %g\n", max_err);
    return 1;
  }
  printf("C consumer OK (simdrnn %s, isa %s, max error %.3g)\n", simdrnn_version(),
         simdrnn_isa_name(simdrnn_active_isa()), max_err);
  return 0;
}
