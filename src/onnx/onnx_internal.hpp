// Shared by the ONNX importer's parts: the error it throws internally (the C
// API turns it into a status and a message), decoded constant tensors, and the
// Plan, which is what a loaded graph is: how each graph input and output maps
// onto simdrnn's buffers.
#pragma once

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "simdrnn/simdrnn_onnx.h"

namespace onnx {
class TensorProto;
}

namespace simdrnn::onnx_import {

// Thrown inside the importer, caught at the C API: carries the status and a
// message that names the node, attribute, input or output at fault.
struct ImportError {
  simdrnn_status status;
  std::string message;
};

template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream ss;
  (ss << ... << args);
  return ss.str();
}
template <class... Args>
[[noreturn]] void unsupported(const Args&... args) {
  throw ImportError{SIMDRNN_UNSUPPORTED, cat(args...)};
}
template <class... Args>
[[noreturn]] void invalid(const Args&... args) {
  throw ImportError{SIMDRNN_INVALID_ARGUMENT, cat(args...)};
}

// a * b for sizes read from a file: an overflow is the file's fault.
int64_t checked_mul(int64_t a, int64_t b, const std::string& what);

// A constant tensor decoded from a TensorProto (or a Constant node's
// attribute): floats in `f`, integers (int32 or int64) widened into `i`.
struct Tensor {
  int32_t dtype = 0;  // TensorProto.DataType
  std::vector<int64_t> dims;
  std::vector<float> f;
  std::vector<int64_t> i;
  int64_t count() const {
    return dtype == 1 ? static_cast<int64_t>(f.size()) : static_cast<int64_t>(i.size());
  }
  bool is_float() const { return dtype == 1; }
  bool is_int() const { return dtype == 6 || dtype == 7; }
};

// Decodes t (float32, int32 or int64; dense, in the file) after checking its
// dims against the bytes it holds; `what` names it in errors.
std::shared_ptr<const Tensor> decode_tensor(const onnx::TensorProto& t, const std::string& what);

// "FLOAT", "DOUBLE", ... for messages.
const char* dtype_name(int32_t dtype);

// ---- the plan --------------------------------------------------------------------
// An axis of a graph input or output, in terms of simdrnn's buffers. Time and
// batch take their extent from the call; the others are fixed by the model.
enum class PlanAxisKind : int8_t {
  kTime,
  kBatch,
  kFeature,  // X's input features: I
  kDir,      // direction of the last layer: D
  kHidden,   // H
  kRows,     // rows [begin, begin + extent) of simdrnn's [L*D, N, H] states
  kOut       // projection outputs: O
};
struct PlanAxis {
  PlanAxisKind kind;
  int64_t begin = 0;
  int64_t extent = 0;  // all but kTime and kBatch
};
// A tensor's dims, each a group of axes (a product, row-major: a reshaped
// [T*N, ...] is one group of two axes).
using PlanDims = std::vector<std::vector<PlanAxis>>;

struct PlanTensor {
  std::string name;
  simdrnn_onnx_role role = SIMDRNN_ONNX_X;
  simdrnn_onnx_dtype dtype = SIMDRNN_ONNX_FLOAT;
  PlanDims dims;
  int64_t first_layer = 0, num_layers = 0;  // states
};

// Where one layer's initial state comes from: graph input `input` (a state
// input, rows from row_begin), or zeros when input < 0.
struct StateSource {
  int64_t input = -1;
  int64_t row_begin = 0;
};

struct Plan {
  simdrnn_config config{};
  bool time_major = true;
  bool reversed = false;  // every node is direction "reverse"
  int64_t fixed_seq_len = 0, fixed_batch = 0;
  std::vector<PlanTensor> inputs, outputs;
  int64_t x_input = -1, lens_input = -1;
  std::vector<StateSource> h0, c0;  // per layer
};

// Reads the model (the bytes of a ModelProto), builds the simdrnn model and
// the plan. Throws ImportError.
std::unique_ptr<Plan> import_model(const void* data, size_t size, simdrnn_model** model);

// Runs the plan (simdrnn_onnx_run after the handles are checked). Throws ImportError.
void run_plan(const Plan& plan, const simdrnn_model* model, int64_t seq_len, int64_t batch,
              const void* const* inputs, void* const* outputs, int32_t num_threads);

// Extent of a plan axis for a call.
inline int64_t plan_extent(const PlanAxis& a, int64_t seq_len, int64_t batch) {
  return a.kind == PlanAxisKind::kTime ? seq_len : a.kind == PlanAxisKind::kBatch ? batch : a.extent;
}

}  // namespace simdrnn::onnx_import
