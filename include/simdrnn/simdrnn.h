/* simdrnn C API: recurrent networks (Elman RNN, LSTM, GRU) on x86 CPUs
 * (scalar, AVX2+FMA, AVX-512 kernels chosen at run time).
 *
 * Every function returns a simdrnn_status; on failure a readable message that
 * names the argument, what was expected and what was given is available from
 * simdrnn_last_error() (thread-local). No exception crosses this interface, and
 * no output buffer is touched when a call fails validation.
 *
 * Computation, per layer l and direction d (PyTorch semantics; sig is the
 * logistic sigmoid, * is element-wise):
 *   RNN:  h_t = act(clip(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh))
 *   LSTM: i, f, g, o = gates of W_ih x_t + b_ih + W_hh h_{t-1} + b_hh (+ peepholes:
 *         p_i*c_{t-1} to i, p_f*c_{t-1} to f, p_o*c_t to o), each clipped, then
 *         i, f, o = sig(.), g = tanh(.); c_t = f*c_{t-1} + i*g;
 *         h_t = o*tanh(c_t), or W_hr (o*tanh(c_t)) with a projection
 *   GRU:  r, z = sig(clip(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z}));
 *         n = tanh(clip(W_in x_t + b_in + r*(W_hn h_{t-1} + b_hn)))   (linear_before_reset = 1)
 *         n = tanh(clip(W_in x_t + b_in + W_hn (r*h_{t-1}) + b_hn))   (linear_before_reset = 0)
 *         h_t = (1 - z)*n + z*h_{t-1}
 *   out_t = W_hy y_t + b_y     (optional output layer on the last layer's output)
 * clip (ONNX's) clamps every gate pre-activation, not the c_t inside tanh(c_t).
 * H_out (the width of h and of each direction's output) is proj_size for a
 * projected LSTM, else H. NaN and Inf in inputs or weights propagate through
 * the arithmetic; they are not detected or rejected.
 */
#ifndef SIMDRNN_SIMDRNN_H_
#define SIMDRNN_SIMDRNN_H_

#include <stddef.h>
#include <stdint.h>

#include "simdrnn/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIMDRNN_VERSION_MAJOR 0
#define SIMDRNN_VERSION_MINOR 1
#define SIMDRNN_VERSION_PATCH 0

typedef enum simdrnn_status {
  SIMDRNN_OK = 0,
  SIMDRNN_INVALID_ARGUMENT = 1, /* a bad pointer, size, enum, shape or handle */
  SIMDRNN_OUT_OF_MEMORY = 2,    /* an allocation during setup failed */
  SIMDRNN_UNSUPPORTED = 3,      /* valid request this build or model cannot do */
  SIMDRNN_INTERNAL_ERROR = 4    /* a bug: please report it */
} simdrnn_status;

typedef enum simdrnn_activation {
  SIMDRNN_TANH = 0,
  SIMDRNN_RELU = 1,
  SIMDRNN_SIGMOID = 2
} simdrnn_activation;

typedef enum simdrnn_layout {
  SIMDRNN_TIME_MAJOR = 0, /* x [T, N, C], y [T, N, D*H_out] */
  SIMDRNN_BATCH_MAJOR = 1 /* x [N, T, C], y [N, T, D*H_out] */
} simdrnn_layout;

/* The recurrent cell of every layer. */
typedef enum simdrnn_cell {
  SIMDRNN_CELL_RNN = 0,  /* Elman: h = act(W_ih x + b_ih + W_hh h + b_hh), act = config.activation */
  SIMDRNN_CELL_LSTM = 1, /* gates i, f, g, o (PyTorch order); optional projection and peepholes */
  SIMDRNN_CELL_GRU = 2   /* gates r, z, n (PyTorch order); see gru_linear_before_reset */
} simdrnn_cell;

/* How the model stores its weights for inference (computation stays f32). */
typedef enum simdrnn_precision {
  SIMDRNN_PRECISION_F32 = 0,
  SIMDRNN_PRECISION_BF16 = 1, /* round to nearest even */
  SIMDRNN_PRECISION_INT8 = 2  /* symmetric, one f32 scale per output row */
} simdrnn_precision;

/* Kernel sets, in order: each level is a cap, so a lower one turns every
 * instruction set above it off. The *_VNNI and *_BF16 levels add dot-product
 * kernels for reduced-precision weights (simdrnn_precision) to the level
 * below them; their f32 kernels are that level's. */
typedef enum simdrnn_isa {
  SIMDRNN_ISA_SCALAR = 0,
  SIMDRNN_ISA_AVX2 = 1,        /* AVX2 + FMA */
  SIMDRNN_ISA_AVX2_VNNI = 2,   /* + AVX-VNNI: int8 weights by vpdpbusd (ymm) */
  SIMDRNN_ISA_AVX512 = 3,      /* AVX-512 F, BW, DQ, VL */
  SIMDRNN_ISA_AVX512_VNNI = 4, /* + AVX512_VNNI: int8 weights by vpdpbusd */
  SIMDRNN_ISA_AVX512_BF16 = 5  /* + AVX512_BF16 and AVX512_VNNI: bf16 weights by vdpbf16ps too */
} simdrnn_isa;

typedef struct simdrnn_weights simdrnn_weights; /* weight collector */
typedef struct simdrnn_model simdrnn_model;     /* immutable, prepacked */
typedef struct simdrnn_stream simdrnn_stream;   /* step-by-step state */

/* Model hyper-parameters. Start from simdrnn_config_default() (which leaves
 * input_size and hidden_size 0: they must be set). */
typedef struct simdrnn_config {
  int64_t input_size;            /* I >= 1 */
  int64_t hidden_size;           /* H >= 1 */
  int64_t num_layers;            /* L >= 1 */
  int32_t bidirectional;         /* 0 or 1: D = 2 when set, outputs concatenated */
  simdrnn_activation activation; /* RNN cells only; default SIMDRNN_TANH */
  float clip;                    /* > 0: clamp pre-activations to [-clip, clip]; 0: off */
  int64_t output_size;           /* O >= 1 adds y = W_hy h + b_y; 0: none */
  simdrnn_cell cell;             /* default SIMDRNN_CELL_RNN */
  int64_t proj_size;             /* LSTM only: P > 0 projects h to P wide (PyTorch proj_size); 0: none */
  int32_t gru_linear_before_reset; /* GRU only (a zeroed config gives 0, ONNX's; the default is 1):
                                      1 (PyTorch): n = tanh(W_in x + b_in + r*(W_hn h + b_hn));
                                      0 (ONNX default): n = tanh(W_in x + b_in + W_hn (r*h) + b_hn) */
  simdrnn_precision weight_precision; /* default SIMDRNN_PRECISION_F32 */
} simdrnn_config;

/* Arguments of one forward call. Zero-initialise, then fill in. */
typedef struct simdrnn_forward_args {
  int64_t seq_len;        /* T >= 1 */
  int64_t batch;          /* N >= 1 */
  simdrnn_layout layout;  /* layout of x, y and out */
  const float* x;         /* [T, N, I] or [N, T, I]; required */
  const float* h0;        /* [L*D, N, H_out]; NULL means zeros, exactly as a zero buffer would
                             (the first step still multiplies W_hh: 0 * NaN is NaN) */
  const int64_t* seq_lens;/* [N], each in 1..T (PyTorch packed meaning); NULL: all T.
                             Steps t >= seq_lens[n] are padding: y and out are 0 there,
                             the reverse direction starts at t = seq_lens[n] - 1. */
  float* y;               /* [T, N, D*H_out] or [N, T, D*H_out]: last layer's h; may be NULL */
  float* h_n;             /* [L*D, N, H_out]: state at each sequence's last valid step; may be NULL;
                             may be the same pointer as h0 (then updated in place) */
  float* out;             /* [T, N, O] or [N, T, O]: output layer; must be NULL when O == 0,
                             may be NULL when O > 0 to skip the output layer */
  void* workspace;        /* simdrnn_forward_workspace_size() bytes, any alignment */
  size_t workspace_size;  /* size of workspace in bytes */
  int32_t num_threads;    /* 0: SIMDRNN_NUM_THREADS, else every core this process may use; at most the
                             cores, and fewer when the work is small or other calls hold the cores */
  const float* c0;        /* LSTM: cell state [L*D, N, H]; NULL means zeros; must be NULL otherwise */
  float* c_n;             /* LSTM: [L*D, N, H] cell state at each sequence's last valid step; may be NULL;
                             may be the same pointer as c0 */
} simdrnn_forward_args;

/* Element counts of every tensor of a call (and byte counts of its buffers),
 * from simdrnn_forward_sizes: what each pointer of simdrnn_forward_args and
 * simdrnn_backward_args must hold. With a projection, H_out = proj_size,
 * else H_out = H. */
typedef struct simdrnn_sizes {
  int64_t x;        /* x and dx: T*N*I */
  int64_t y;        /* y and dy: T*N*D*H_out */
  int64_t h;        /* h0, h_n, dh0, dh_n: L*D*N*H_out */
  int64_t c;        /* c0, c_n, dc0, dc_n: L*D*N*H for LSTM, else 0 */
  int64_t out;      /* out and dout: T*N*O (0 without an output layer) */
  int64_t seq_lens; /* N */
  int64_t params;   /* grads (and the flat parameter vector) */
  size_t workspace;          /* simdrnn_forward_workspace_size for these args (y NULL or not) */
  size_t training_reserve;   /* simdrnn_training_reserve_size */
  size_t backward_workspace; /* simdrnn_backward_workspace_size */
} simdrnn_sizes;

/* ---- library ------------------------------------------------------------ */
SIMDRNN_API const char* simdrnn_version(void);       /* "0.1.0" */
SIMDRNN_API const char* simdrnn_last_error(void);    /* message of this thread's last failure */
SIMDRNN_API const char* simdrnn_status_name(simdrnn_status status);
/* "scalar" "avx2" "avx2_vnni" "avx512" "avx512_vnni" "avx512_bf16" */
SIMDRNN_API const char* simdrnn_isa_name(simdrnn_isa isa);
/* The best ISA this CPU and OS support (CPUID + XGETBV), ignoring any cap. */
SIMDRNN_API simdrnn_isa simdrnn_detected_isa(void);
/* The ISA new models will use: the best one the CPU supports that is not
 * above the cap (a CPU may support a level without the one below it, e.g.
 * AVX512_VNNI without AVX-VNNI). The cap starts from the environment variable
 * SIMDRNN_MAX_ISA (an ISA name, any case). */
SIMDRNN_API simdrnn_isa simdrnn_active_isa(void);
/* Caps the ISA of models created afterwards; existing models keep theirs. */
SIMDRNN_API simdrnn_status simdrnn_set_max_isa(simdrnn_isa isa);

SIMDRNN_API simdrnn_config simdrnn_config_default(void);

/* ---- weights ------------------------------------------------------------ */
/* Collects weights (copied) for a configuration; build a model from it. */
SIMDRNN_API simdrnn_status simdrnn_weights_create(const simdrnn_config* config,
                                                  simdrnn_weights** weights);
SIMDRNN_API simdrnn_status simdrnn_weights_destroy(simdrnn_weights* weights);
/* One tensor by its PyTorch name (torch.nn.RNN / LSTM / GRU state_dict()),
 * row-major, `count` floats. G gates: 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU:
 * r, z, n), stacked in that order; H_out = proj_size when set, else H:
 *   weight_ih_l{k}[_reverse]       [G*H, in]  (in = I for k = 0, D*H_out above)
 *   weight_hh_l{k}[_reverse]       [G*H, H_out]
 *   bias_ih_l{k}[_reverse]         [G*H]      (optional; absent means zero)
 *   bias_hh_l{k}[_reverse]         [G*H]      (optional)
 *   weight_hr_l{k}[_reverse]       [P, H]     (LSTM with proj_size = P: required)
 *   weight_peephole_l{k}[_reverse] [3*H]      (LSTM: peepholes i, f, o; optional)
 *   weight_hy                      [O, D*H_out] (output layer)
 *   bias_hy                        [O]      (optional) */
SIMDRNN_API simdrnn_status simdrnn_weights_set(simdrnn_weights* weights, const char* name,
                                               const float* data, int64_t count);
/* One layer as the ONNX RNN / LSTM / GRU operator takes it, per direction:
 * W [D, G*H, in], R [D, G*H, H], B [D, 2*G*H] = [Wb, Rb] (may be NULL), and
 * for LSTM P [D, 3*H] peepholes (may be NULL; must be NULL otherwise). ONNX
 * gate orders (LSTM i, o, f, c; GRU z, r, h) are reordered to PyTorch's. */
SIMDRNN_API simdrnn_status simdrnn_weights_set_onnx(simdrnn_weights* weights, int64_t layer,
                                                    const float* W, const float* R,
                                                    const float* B, const float* P);

/* ---- model -------------------------------------------------------------- */
/* Prepacks the weights for the active ISA. Every weight_ih/weight_hh (and
 * weight_hy when O > 0) must have been set. The model is immutable: any number
 * of threads may run it at once, each with its own buffers and workspace. */
SIMDRNN_API simdrnn_status simdrnn_model_create(const simdrnn_weights* weights,
                                                simdrnn_model** model);
SIMDRNN_API simdrnn_status simdrnn_model_destroy(simdrnn_model* model);
SIMDRNN_API simdrnn_status simdrnn_model_config(const simdrnn_model* model, simdrnn_config* config);
SIMDRNN_API simdrnn_status simdrnn_model_isa(const simdrnn_model* model, simdrnn_isa* isa);

/* Every tensor's element count and every buffer's byte count for the call
 * described by `args` (only seq_len, batch, layout and whether y is NULL are
 * read): C has no sizes on its pointers, so size them from this. */
SIMDRNN_API simdrnn_status simdrnn_forward_sizes(const simdrnn_model* model, const simdrnn_forward_args* args,
                                                 simdrnn_sizes* sizes);

/* Bytes of workspace the call described by `args` needs (only seq_len, batch,
 * layout and whether y is NULL are read). */
SIMDRNN_API simdrnn_status simdrnn_forward_workspace_size(const simdrnn_model* model,
                                                          const simdrnn_forward_args* args,
                                                          size_t* bytes);
/* Runs the whole sequence. Allocates nothing. At least one of y, h_n, out
 * must be non-NULL. Outputs must not overlap the inputs, each other or the
 * workspace (h_n == h0 exactly is allowed). num_threads < 0 is an error. */
SIMDRNN_API simdrnn_status simdrnn_forward(const simdrnn_model* model,
                                           const simdrnn_forward_args* args);

/* ---- model file ----------------------------------------------------------
 * A model with its configuration and every tensor in one file, in the
 * safetensors format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length, a JSON header giving each tensor's dtype,
 * shape and byte range, then the raw little-endian data. Tensors keep their
 * PyTorch names and shapes (those of simdrnn_weights_set), dtype F32, so
 * safetensors.torch.load_file() reads them; the configuration is in the
 * header's __metadata__ as strings ("simdrnn.cell": "lstm",
 * "simdrnn.hidden_size": "512", ...; docs/model_file.md). The file holds
 * exactly the tensors of the model's flat parameter vector, so optional ones
 * (biases, peepholes, bias_hy) round-trip. Loading builds the model for the
 * active ISA as simdrnn_weights_create, simdrnn_weights_set and
 * simdrnn_model_create would; a truncated, malformed or inconsistent file is
 * rejected with SIMDRNN_INVALID_ARGUMENT and a message naming the field or
 * tensor, and is never read out of bounds. */
SIMDRNN_API simdrnn_status simdrnn_model_save(const simdrnn_model* model, const char* path);
SIMDRNN_API simdrnn_status simdrnn_model_load(const char* path, simdrnn_model** model);
/* The same file in memory. With data NULL, *size receives the file's byte
 * count; otherwise data[capacity] (capacity >= that count) receives the file
 * and *size its byte count. */
SIMDRNN_API simdrnn_status simdrnn_model_save_to_memory(const simdrnn_model* model, void* data,
                                                        size_t capacity, size_t* size);
SIMDRNN_API simdrnn_status simdrnn_model_load_from_memory(const void* data, size_t size,
                                                          simdrnn_model** model);

/* ---- streaming ---------------------------------------------------------- */
/* Holds h (and an LSTM's c) for `batch` sequences and advances up to
 * `max_steps` per call.
 * Unidirectional models only. The state starts at zero. Stepping a sequence
 * in chunks of any size gives the full simdrnn_forward call's results bit for
 * bit, for every value but NaN: a NaN appears at the same places, but its
 * sign and payload may differ, because x86 returns the first NaN operand of
 * an instruction and the kernels for different row counts may order their
 * operands differently. */
SIMDRNN_API simdrnn_status simdrnn_stream_create(const simdrnn_model* model, int64_t batch,
                                                 int64_t max_steps, simdrnn_stream** stream);
SIMDRNN_API simdrnn_status simdrnn_stream_destroy(simdrnn_stream* stream);
/* Sets the state to h0 [L, N, H_out] (and, for an LSTM, the cell state to
 * c0 [L, N, H]); NULL means zeros. c0 must be NULL for other cells. */
SIMDRNN_API simdrnn_status simdrnn_stream_reset(simdrnn_stream* stream, const float* h0, const float* c0);
/* Advances `steps` (1..max_steps) steps: x [steps, N, I] time-major; y
 * [steps, N, H_out] and out [steps, N, O] may each be NULL. Allocates nothing. */
SIMDRNN_API simdrnn_status simdrnn_stream_step(simdrnn_stream* stream, int64_t steps,
                                               const float* x, float* y, float* out,
                                               int32_t num_threads);
/* Copies the current state into h [L, N, H_out] and, for an LSTM, c
 * [L, N, H] (c may be NULL; it must be NULL for other cells). */
SIMDRNN_API simdrnn_status simdrnn_stream_state(const simdrnn_stream* stream, float* h, float* c);

/* ---- training ------------------------------------------------------------
 * Backpropagation through time, for every cell. simdrnn_forward_training
 * runs the forward pass and saves what backward needs in a caller-owned
 * "reserve" buffer: every layer's h, and for gated cells the gate
 * activations, c (LSTM), o*tanh(c) (projection), r*h (GRU with
 * linear_before_reset 0) or the recurrent products (GRU with 1), plus clip
 * masks when clip > 0 (simdrnn_training_reserve_size gives its size); the matching
 * simdrnn_backward reads it. The reserve records the model and the call's
 * shape, and backward rejects a reserve that was not filled by a matching
 * forward_training call.
 *
 * Parameters are one flat float vector in PyTorch named_parameters() order:
 * for each layer k and direction (forward, then _reverse): weight_ih_l{k},
 * weight_hh_l{k}, then bias_ih_l{k}, bias_hh_l{k} if the model has biases (it
 * has them, for every cell, iff any bias_ih_* or bias_hh_* tensor was set;
 * unset ones are zero), weight_hr_l{k} with a projection, weight_peephole_l{k}
 * if the model has peepholes (iff any was set); then weight_hy, and bias_hy
 * iff it was set. Gradients use the same layout. Without peepholes this is
 * the order of the equivalent torch.nn.RNN / LSTM / GRU's parameters
 * (followed by a torch.nn.Linear's weight and bias for the output layer), so
 * the optimiser helpers below, run on the flat vectors, take the steps a
 * PyTorch optimiser takes on that model; PyTorch has no peepholes, so a model
 * with them has no such counterpart. Training supports num_layers <= 64 and
 * f32 weights (else SIMDRNN_UNSUPPORTED).
 * forward_training keeps its own copies of h0 and c0 in the reserve, so an
 * in-place state update (h_n == h0, c_n == c0) does not change what backward
 * sees. */

/* Number of floats in the flat parameter vector. */
SIMDRNN_API simdrnn_status simdrnn_model_num_params(const simdrnn_model* model, int64_t* count);
/* Where a tensor (PyTorch name) lives in the flat vector; count 0 and offset
 * -1 when the model does not have it. */
SIMDRNN_API simdrnn_status simdrnn_model_param_offset(const simdrnn_model* model, const char* name,
                                                      int64_t* offset, int64_t* count);
/* Copies the current parameters into params[num_params]. */
SIMDRNN_API simdrnn_status simdrnn_model_get_params(const simdrnn_model* model, float* params);
/* Replaces the parameters (and repacks them). The one call that changes a
 * model: no other call may use the model while it runs. */
SIMDRNN_API simdrnn_status simdrnn_model_set_params(simdrnn_model* model, const float* params);

/* Bytes of reserve a forward_training call with these args needs. The first
 * call on a model also prepares it for training (packs the transposed weights
 * backward uses, once): call it before simdrnn_forward_training, which fails
 * on an unprepared model. */
SIMDRNN_API simdrnn_status simdrnn_training_reserve_size(const simdrnn_model* model,
                                                         const simdrnn_forward_args* args,
                                                         size_t* bytes);
/* Forward pass (same args and outputs as simdrnn_forward) that also fills
 * the reserve. */
SIMDRNN_API simdrnn_status simdrnn_forward_training(const simdrnn_model* model,
                                                    const simdrnn_forward_args* args, void* reserve,
                                                    size_t reserve_size);

typedef struct simdrnn_backward_args {
  const simdrnn_forward_args* forward; /* the forward_training call's args: seq_len,
                                          batch, layout, whether h0, c0 and seq_lens
                                          are given, and the lengths themselves must
                                          match the reserve (checked); x must hold
                                          the same data (read again, not checked);
                                          h0's and c0's values are the reserve's
                                          copies (they may since have been
                                          overwritten, as by h_n == h0) */
  const void* reserve;                 /* filled by that forward_training call */
  size_t reserve_size;
  const float* dy;    /* [T, N, D*H_out] (forward layout): dLoss/dy; NULL: zero */
  const float* dout;  /* [T, N, O]: dLoss/dout; NULL: zero (must be NULL when O == 0) */
  const float* dh_n;  /* [L*D, N, H_out]: dLoss/dh_n; NULL: zero */
  float* dx;          /* [T, N, I]: dLoss/dx; NULL: not computed */
  float* dh0;         /* [L*D, N, H_out]: dLoss/dh0; NULL: not computed */
  float* grads;       /* [num_params]: dLoss/dparams; NULL: not computed */
  int32_t accumulate; /* 0: overwrite dx, dh0, grads; 1: add into them */
  void* workspace;    /* simdrnn_backward_workspace_size() bytes */
  size_t workspace_size;
  int32_t num_threads; /* 0: default, as in forward */
  const float* dc_n;  /* LSTM: [L*D, N, H] dLoss/dc_n; NULL: zero; must be NULL otherwise */
  float* dc0;         /* LSTM: [L*D, N, H] dLoss/dc0; NULL: not computed */
} simdrnn_backward_args;

SIMDRNN_API simdrnn_status simdrnn_backward_workspace_size(const simdrnn_model* model,
                                                           const simdrnn_forward_args* forward,
                                                           size_t* bytes);
/* Gradients of the forward_training call described by args->forward.
 * Allocates nothing. Results are bit-identical for any thread count. */
SIMDRNN_API simdrnn_status simdrnn_backward(const simdrnn_model* model, const simdrnn_backward_args* args);

/* ---- truncated BPTT session ------------------------------------------------
 * Trains over a long sequence in chunks: holds h [L, N, H_out] (and an LSTM's
 * c [L, N, H]) across chunks
 * (unidirectional models), plus the reserve and workspaces for chunks of up
 * to max_steps time-major steps, all allocated at creation. Each chunk's
 * forward starts from the carried state and leaves its last h there; its
 * backward stops at the chunk's start (no gradient flows into earlier chunks).
 * The state starts at zero. */
typedef struct simdrnn_train_session simdrnn_train_session;
SIMDRNN_API simdrnn_status simdrnn_train_session_create(const simdrnn_model* model, int64_t batch,
                                                        int64_t max_steps, simdrnn_train_session** session);
SIMDRNN_API simdrnn_status simdrnn_train_session_destroy(simdrnn_train_session* session);
/* Sets the carried state to h0 [L, N, H_out] and (LSTM) c0 [L, N, H]; NULL
 * means zeros. */
SIMDRNN_API simdrnn_status simdrnn_train_session_reset(simdrnn_train_session* session, const float* h0,
                                                       const float* c0);
/* Copies the carried state into h [L, N, H_out] and (LSTM; may be NULL) c. */
SIMDRNN_API simdrnn_status simdrnn_train_session_state(const simdrnn_train_session* session, float* h,
                                                       float* c);
/* forward_training over steps (1..max_steps): x [steps, N, I] (must stay
 * unchanged until this chunk's backward); y [steps, N, H_out] and out
 * [steps, N, O] may each be NULL. */
SIMDRNN_API simdrnn_status simdrnn_train_session_forward(simdrnn_train_session* session, int64_t steps,
                                                         const float* x, float* y, float* out,
                                                         int32_t num_threads);
/* Backward of the last forward chunk: dy [steps, N, H_out] and dout
 * [steps, N, O] may be NULL (zero); dx [steps, N, I] and grads
 * [num_params] may be NULL (not computed); accumulate as in
 * simdrnn_backward_args. */
SIMDRNN_API simdrnn_status simdrnn_train_session_backward(simdrnn_train_session* session, const float* dy,
                                                          const float* dout, float* dx, float* grads,
                                                          int32_t accumulate, int32_t num_threads);

/* ---- optimiser helpers (SIMD, threaded) ------------------------------------ */
/* Scales grads[count] so that its L2 norm is at most max_norm (> 0); returns
 * the norm before scaling in *norm (may be NULL). */
SIMDRNN_API simdrnn_status simdrnn_clip_grad_norm(float* grads, int64_t count, float max_norm,
                                                  float* norm, int32_t num_threads);
/* SGD with momentum (PyTorch semantics): v = momentum*v + g + wd*p; p -= lr*v. */
SIMDRNN_API simdrnn_status simdrnn_sgd_step(float* params, const float* grads, float* velocity,
                                            int64_t count, float lr, float momentum,
                                            float weight_decay, int32_t num_threads);
/* Adam (PyTorch semantics, step >= 1 counts from 1): m, v are state buffers
 * (zero before the first step). */
SIMDRNN_API simdrnn_status simdrnn_adam_step(float* params, const float* grads, float* m, float* v,
                                             int64_t count, int64_t step, float lr, float beta1,
                                             float beta2, float eps, float weight_decay,
                                             int32_t num_threads);

#ifdef __cplusplus
}
#endif

#endif /* SIMDRNN_SIMDRNN_H_ */
