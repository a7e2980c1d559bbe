/* simdrnn ONNX import (optional component, library simdrnn_onnx): loads a
 * .onnx model whose graph is a chain of ONNX RNN, LSTM or GRU nodes into a
 * simdrnn_model, and runs it with the graph's own tensor layouts.
 *
 * What loads: one chain of RNN, LSTM or GRU nodes (all of one kind, one
 * direction, one hidden size, clip and activation), each reading the previous
 * one's Y; stacked layers; "forward", "bidirectional", or "reverse" on every
 * node; sequence_lens, initial_h and initial_c as graph inputs (or zeros);
 * both values of the layout attribute; optionally followed by an output
 * projection on the last layer's Y (MatMul [+ Add] or Gemm). The glue that
 * torch.onnx.export puts between such nodes is understood: Squeeze,
 * Transpose + Reshape of bidirectional outputs, Transpose for batch_first,
 * Slice of the initial states per layer, Concat of the final states, and the
 * Shape / Gather / Unsqueeze / Concat / ConstantOfShape / Expand chains that
 * build zero initial states. Weights (W, R, B, P, the projection) must be
 * initializers or Constant nodes, or Slice / Concat / Unsqueeze / Squeeze /
 * Transpose / Reshape of them (evaluated at load: torch.onnx.export with
 * do_constant_folding=False); an initializer that is also listed as a graph
 * input is taken as a constant.
 *
 * Everything else is refused: SIMDRNN_UNSUPPORTED with a message naming the
 * node (or attribute, input or output) and why; a file that is not a valid
 * model, or a graph that is inconsistent, gives SIMDRNN_INVALID_ARGUMENT. The
 * message of the last failed simdrnn_onnx_* call on this thread is
 * simdrnn_onnx_last_error(); no exception crosses this interface.
 *
 * ONNX's "reverse" direction has no simdrnn counterpart; a chain whose every
 * node is "reverse" equals a forward chain run over each sequence reversed in
 * time (its valid steps only), with Y reversed back and Y_h unchanged:
 * simdrnn_onnx_run does that (info.time_reversed tells a caller who runs the
 * model directly to do the same).
 */
#ifndef SIMDRNN_SIMDRNN_ONNX_H_
#define SIMDRNN_SIMDRNN_ONNX_H_

#include <stddef.h>
#include <stdint.h>

#include "simdrnn/export.h"
#include "simdrnn/simdrnn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simdrnn_onnx_graph simdrnn_onnx_graph; /* what the graph's inputs and outputs are */

/* What a graph input or output is. */
typedef enum simdrnn_onnx_role {
  SIMDRNN_ONNX_X = 0,             /* input: the sequence, [T, N, I] or [N, T, I] */
  SIMDRNN_ONNX_SEQUENCE_LENS = 1, /* input: int32 (or int64) [N], each in 1..T */
  SIMDRNN_ONNX_INITIAL_H = 2,     /* input: initial hidden states of some layers */
  SIMDRNN_ONNX_INITIAL_C = 3,     /* input: initial cell states (LSTM) */
  SIMDRNN_ONNX_Y = 4,             /* output: the last layer's hidden states, every step */
  SIMDRNN_ONNX_Y_H = 5,           /* output: final hidden states of some layers */
  SIMDRNN_ONNX_Y_C = 6,           /* output: final cell states (LSTM) */
  SIMDRNN_ONNX_PROJECTION = 7     /* output: the projection (MatMul/Gemm) of the last Y */
} simdrnn_onnx_role;

/* Element types, numbered as ONNX's TensorProto.DataType. */
typedef enum simdrnn_onnx_dtype {
  SIMDRNN_ONNX_FLOAT = 1,
  SIMDRNN_ONNX_INT32 = 6,
  SIMDRNN_ONNX_INT64 = 7
} simdrnn_onnx_dtype;

/* One graph input or output. The shape depends on the call's seq_len and
 * batch: see simdrnn_onnx_input_shape / simdrnn_onnx_output_shape. */
typedef struct simdrnn_onnx_tensor_info {
  const char* name;         /* as in the graph; valid while the graph lives */
  simdrnn_onnx_role role;
  simdrnn_onnx_dtype dtype;
  int32_t rank;             /* 1..8 */
  int64_t first_layer;      /* INITIAL_H/C, Y_H/C: the layers whose states it holds, */
  int64_t num_layers;       /* first_layer .. first_layer + num_layers - 1; else 0, 0 */
} simdrnn_onnx_tensor_info;

typedef struct simdrnn_onnx_graph_info {
  int64_t num_inputs;       /* graph inputs that are not initializers, in graph order */
  int64_t num_outputs;      /* graph outputs, in graph order */
  simdrnn_layout layout;    /* X's layout: SIMDRNN_BATCH_MAJOR when X is [N, T, I] */
  int32_t time_reversed;    /* 1: every node is ONNX direction "reverse" (see above) */
  int64_t fixed_seq_len;    /* T the graph's X declares, or 0 when it is dynamic */
  int64_t fixed_batch;      /* N the graph declares (X, states or a constant), or 0 */
} simdrnn_onnx_graph_info;

/* Loads a model from a file or from memory (the serialized ModelProto).
 * On success *model is a new simdrnn_model (destroy it with
 * simdrnn_model_destroy; it may be used with the whole core API) and *graph
 * a new graph description (simdrnn_onnx_graph_destroy). On failure neither is
 * created and both are set to NULL. Models are built for the active ISA. */
SIMDRNN_API simdrnn_status simdrnn_onnx_load(const char* path, simdrnn_model** model,
                                             simdrnn_onnx_graph** graph);
SIMDRNN_API simdrnn_status simdrnn_onnx_load_memory(const void* data, size_t size, simdrnn_model** model,
                                                    simdrnn_onnx_graph** graph);
SIMDRNN_API simdrnn_status simdrnn_onnx_graph_destroy(simdrnn_onnx_graph* graph); /* NULL: no-op */

/* Message of this thread's last failed simdrnn_onnx_* call. */
SIMDRNN_API const char* simdrnn_onnx_last_error(void);

SIMDRNN_API simdrnn_status simdrnn_onnx_graph_get_info(const simdrnn_onnx_graph* graph,
                                                       simdrnn_onnx_graph_info* info);
SIMDRNN_API simdrnn_status simdrnn_onnx_graph_input(const simdrnn_onnx_graph* graph, int64_t index,
                                                    simdrnn_onnx_tensor_info* info);
SIMDRNN_API simdrnn_status simdrnn_onnx_graph_output(const simdrnn_onnx_graph* graph, int64_t index,
                                                     simdrnn_onnx_tensor_info* info);
/* The dimensions (rank of them, at most 8) of input or output `index` for a
 * call over seq_len steps and batch sequences. */
SIMDRNN_API simdrnn_status simdrnn_onnx_input_shape(const simdrnn_onnx_graph* graph, int64_t index,
                                                    int64_t seq_len, int64_t batch, int64_t dims[8]);
SIMDRNN_API simdrnn_status simdrnn_onnx_output_shape(const simdrnn_onnx_graph* graph, int64_t index,
                                                     int64_t seq_len, int64_t batch, int64_t dims[8]);

/* Runs the graph as ONNX defines it: inputs[i] is graph input i (its shape
 * from simdrnn_onnx_input_shape, dense row-major; NULL allowed for
 * SEQUENCE_LENS (all T) and INITIAL_H/C (zeros)), outputs[i] receives
 * graph output i (NULL: not wanted; at least one must be non-NULL). `model`
 * must be the model loaded with `graph`, or one of the same configuration.
 * Unlike simdrnn_forward this allocates its temporaries (the workspace and
 * layout conversions). num_threads as in simdrnn_forward_args. */
SIMDRNN_API simdrnn_status simdrnn_onnx_run(const simdrnn_model* model, const simdrnn_onnx_graph* graph,
                                            int64_t seq_len, int64_t batch, const void* const* inputs,
                                            void* const* outputs, int32_t num_threads);

#ifdef __cplusplus
}
#endif

#endif /* SIMDRNN_SIMDRNN_ONNX_H_ */
