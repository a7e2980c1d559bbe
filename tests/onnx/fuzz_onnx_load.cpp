// libFuzzer target for the ONNX loader (Clang: -DSIMDRNN_BUILD_FUZZERS=ON,
// best with -DSIMDRNN_SANITIZE=ON). Any bytes must either load or fail with a
// status and a message, never crash or read out of bounds; a model that
// loads is also run once on a short sequence, with inputs sized from the
// graph's own shape queries.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "simdrnn/simdrnn_onnx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  simdrnn_model* model = nullptr;
  simdrnn_onnx_graph* graph = nullptr;
  if (simdrnn_onnx_load_memory(data, size, &model, &graph) != SIMDRNN_OK) {
    if (model != nullptr || graph != nullptr || simdrnn_onnx_last_error()[0] == '\0') __builtin_trap();
    return 0;
  }
  simdrnn_onnx_graph_info info{};
  if (simdrnn_onnx_graph_get_info(graph, &info) != SIMDRNN_OK) __builtin_trap();
  const int64_t T = info.fixed_seq_len > 0 ? info.fixed_seq_len : 3;
  const int64_t N = info.fixed_batch > 0 ? info.fixed_batch : 2;
  std::vector<std::vector<float>> ins(static_cast<size_t>(info.num_inputs)),
      outs(static_cast<size_t>(info.num_outputs));
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  bool small = T <= 64 && N <= 64;
  auto count = [&](simdrnn_status st, int64_t rank, const int64_t* dims) {
    int64_t n = 1;
    for (int64_t i = 0; i < rank; ++i) n *= dims[i];
    if (st != SIMDRNN_OK) __builtin_trap();
    return n;
  };
  for (int64_t i = 0; small && i < info.num_inputs; ++i) {
    simdrnn_onnx_tensor_info ti{};
    int64_t dims[8];
    if (simdrnn_onnx_graph_input(graph, i, &ti) != SIMDRNN_OK) __builtin_trap();
    const int64_t n = count(simdrnn_onnx_input_shape(graph, i, T, N, dims), ti.rank, dims);
    small = n <= (1 << 20);
    // Lengths of 1 are valid for any T; floats of 0.5 for the rest.
    ins[static_cast<size_t>(i)].assign(static_cast<size_t>(small ? 2 * n : 0),
                                       ti.role == SIMDRNN_ONNX_SEQUENCE_LENS ? 0.0f : 0.5f);
    if (ti.role == SIMDRNN_ONNX_SEQUENCE_LENS) {
      auto* lens32 = reinterpret_cast<int32_t*>(ins[static_cast<size_t>(i)].data());
      auto* lens64 = reinterpret_cast<int64_t*>(ins[static_cast<size_t>(i)].data());
      for (int64_t k = 0; small && k < n; ++k) {
        if (ti.dtype == SIMDRNN_ONNX_INT64)
          lens64[k] = 1;
        else
          lens32[k] = 1;
      }
    }
    in_ptrs.push_back(ins[static_cast<size_t>(i)].data());
  }
  for (int64_t i = 0; small && i < info.num_outputs; ++i) {
    simdrnn_onnx_tensor_info ti{};
    int64_t dims[8];
    if (simdrnn_onnx_graph_output(graph, i, &ti) != SIMDRNN_OK) __builtin_trap();
    const int64_t n = count(simdrnn_onnx_output_shape(graph, i, T, N, dims), ti.rank, dims);
    small = n <= (1 << 20);
    outs[static_cast<size_t>(i)].resize(static_cast<size_t>(small ? n : 0));
    out_ptrs.push_back(outs[static_cast<size_t>(i)].data());
  }
  if (small && simdrnn_onnx_run(model, graph, T, N, in_ptrs.data(), out_ptrs.data(), 1) != SIMDRNN_OK &&
      simdrnn_onnx_last_error()[0] == '\0')
    __builtin_trap();
  simdrnn_onnx_graph_destroy(graph);
  simdrnn_model_destroy(model);
  return 0;
}
