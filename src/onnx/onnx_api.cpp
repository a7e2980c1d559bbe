// The C API of the ONNX importer (simdrnn_onnx.h): argument checks, the
// table of live graph handles (so a stale or foreign pointer is an error, not
// a crash), and the exception firewall that turns ImportError into a status
// and simdrnn_onnx_last_error()'s message.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <new>
#include <set>

#include "src/onnx/onnx_internal.hpp"

struct simdrnn_onnx_graph {
  std::unique_ptr<simdrnn::onnx_import::Plan> plan;
};

namespace {

using simdrnn::onnx_import::cat;
using simdrnn::onnx_import::ImportError;
using simdrnn::onnx_import::Plan;
using simdrnn::onnx_import::PlanTensor;

thread_local std::string g_error;

simdrnn_status fail(simdrnn_status status, std::string message) {
  g_error = std::move(message);
  return status;
}

template <class F>
simdrnn_status guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const ImportError& e) {
    return fail(e.status, e.message);
  } catch (const std::bad_alloc&) {
    return fail(SIMDRNN_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(SIMDRNN_INTERNAL_ERROR, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(SIMDRNN_INTERNAL_ERROR, "internal error: unknown exception");
  }
}

std::mutex g_graphs_mutex;
std::set<const simdrnn_onnx_graph*>& graphs() {
  static auto* live = new std::set<const simdrnn_onnx_graph*>;  // never destroyed: safe at exit
  return *live;
}

const Plan& live_plan(const simdrnn_onnx_graph* graph) {
  if (!graph) throw ImportError{SIMDRNN_INVALID_ARGUMENT, "graph: expected a simdrnn_onnx_graph, got NULL"};
  std::lock_guard<std::mutex> lock(g_graphs_mutex);
  if (!graphs().count(graph))
    throw ImportError{SIMDRNN_INVALID_ARGUMENT,
                      cat("graph: ", static_cast<const void*>(graph),
                          " is not a live simdrnn_onnx_graph (destroyed, or never created)")};
  return *graph->plan;
}

simdrnn_status load(const void* data, size_t size, simdrnn_model** model, simdrnn_onnx_graph** graph) {
  if (!model)
    throw ImportError{SIMDRNN_INVALID_ARGUMENT, "model: expected a simdrnn_model** to receive it, got NULL"};
  if (!graph)
    throw ImportError{SIMDRNN_INVALID_ARGUMENT,
                      "graph: expected a simdrnn_onnx_graph** to receive it, got NULL"};
  simdrnn_model* m = nullptr;
  try {
    auto handle = std::make_unique<simdrnn_onnx_graph>();
    handle->plan = simdrnn::onnx_import::import_model(data, size, &m);
    {
      std::lock_guard<std::mutex> lock(g_graphs_mutex);
      graphs().insert(handle.get());
    }
    *graph = handle.release();
    *model = m;
    return SIMDRNN_OK;
  } catch (...) {
    simdrnn_model_destroy(m);
    throw;
  }
}

simdrnn_status tensor_info(const PlanTensor& t, simdrnn_onnx_tensor_info* info) {
  info->name = t.name.c_str();
  info->role = t.role;
  info->dtype = t.dtype;
  info->rank = static_cast<int32_t>(t.dims.size());
  info->first_layer = t.first_layer;
  info->num_layers = t.num_layers;
  return SIMDRNN_OK;
}

const PlanTensor& pick(const std::vector<PlanTensor>& list, int64_t index, const char* what) {
  if (index < 0 || index >= static_cast<int64_t>(list.size()))
    throw ImportError{SIMDRNN_INVALID_ARGUMENT,
                      cat("index: expected 0..", static_cast<int64_t>(list.size()) - 1, " (the graph's ",
                          what, "), got ", index)};
  return list[static_cast<size_t>(index)];
}

simdrnn_status shape(const PlanTensor& t, int64_t seq_len, int64_t batch, int64_t* dims) {
  if (seq_len < 1) throw ImportError{SIMDRNN_INVALID_ARGUMENT, cat("seq_len: expected >= 1, got ", seq_len)};
  if (batch < 1) throw ImportError{SIMDRNN_INVALID_ARGUMENT, cat("batch: expected >= 1, got ", batch)};
  if (!dims) throw ImportError{SIMDRNN_INVALID_ARGUMENT, "dims: expected int64_t[8], got NULL"};
  int64_t out[8] = {0};
  for (size_t i = 0; i < t.dims.size() && i < 8; ++i) {
    int64_t d = 1;
    for (const auto& a : t.dims[i])
      d = simdrnn::onnx_import::checked_mul(d, simdrnn::onnx_import::plan_extent(a, seq_len, batch), "dims");
    out[i] = d;
  }
  std::memcpy(dims, out, t.dims.size() * sizeof(int64_t));
  return SIMDRNN_OK;
}

}  // namespace

extern "C" {

SIMDRNN_API const char* simdrnn_onnx_last_error(void) { return g_error.c_str(); }

SIMDRNN_API simdrnn_status simdrnn_onnx_load_memory(const void* data, size_t size, simdrnn_model** model,
                                                    simdrnn_onnx_graph** graph) {
  if (model) *model = nullptr;
  if (graph) *graph = nullptr;
  return guarded([&]() -> simdrnn_status {
    if (!data && size > 0)
      return fail(SIMDRNN_INVALID_ARGUMENT, cat("data: expected ", size, " bytes, got NULL"));
    return load(data, size, model, graph);
  });
}

SIMDRNN_API simdrnn_status simdrnn_onnx_load(const char* path, simdrnn_model** model,
                                             simdrnn_onnx_graph** graph) {
  if (model) *model = nullptr;
  if (graph) *graph = nullptr;
  return guarded([&]() -> simdrnn_status {
    if (!path) return fail(SIMDRNN_INVALID_ARGUMENT, "path: expected a file name, got NULL");
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      return fail(SIMDRNN_INVALID_ARGUMENT, cat("path: '", path, "' is a directory, not a model file"));
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in)
      return fail(SIMDRNN_INVALID_ARGUMENT, cat("path: cannot open '", path, "': ", std::strerror(errno)));
    const std::streamoff end = in.tellg();
    if (end < 0) return fail(SIMDRNN_INVALID_ARGUMENT, cat("path: cannot read '", path, "' (a directory?)"));
    if (end > std::numeric_limits<int>::max())
      return fail(SIMDRNN_UNSUPPORTED,
                  cat("path: '", path, "' is ", end, " bytes; protobuf reads at most 2 GiB"));
    std::string bytes(static_cast<size_t>(end), '\0');
    in.seekg(0);
    if (!in.read(bytes.data(), end))
      return fail(SIMDRNN_INVALID_ARGUMENT, cat("path: reading '", path, "' failed"));
    simdrnn_status st = load(bytes.data(), bytes.size(), model, graph);
    return st;
  });
}

SIMDRNN_API simdrnn_status simdrnn_onnx_graph_destroy(simdrnn_onnx_graph* graph) {
  return guarded([&]() -> simdrnn_status {
    if (!graph) return SIMDRNN_OK;
    {
      std::lock_guard<std::mutex> lock(g_graphs_mutex);
      if (!graphs().erase(graph))
        return fail(SIMDRNN_INVALID_ARGUMENT, cat("graph: ", static_cast<const void*>(graph),
                                                  " is not a live simdrnn_onnx_graph (destroyed twice?)"));
    }
    delete graph;
    return SIMDRNN_OK;
  });
}

SIMDRNN_API simdrnn_status simdrnn_onnx_graph_get_info(const simdrnn_onnx_graph* graph,
                                                       simdrnn_onnx_graph_info* info) {
  return guarded([&]() -> simdrnn_status {
    const Plan& p = live_plan(graph);
    if (!info) return fail(SIMDRNN_INVALID_ARGUMENT, "info: expected a simdrnn_onnx_graph_info*, got NULL");
    info->num_inputs = static_cast<int64_t>(p.inputs.size());
    info->num_outputs = static_cast<int64_t>(p.outputs.size());
    info->layout = p.time_major ? SIMDRNN_TIME_MAJOR : SIMDRNN_BATCH_MAJOR;
    info->time_reversed = p.reversed ? 1 : 0;
    info->fixed_seq_len = p.fixed_seq_len;
    info->fixed_batch = p.fixed_batch;
    return SIMDRNN_OK;
  });
}

SIMDRNN_API simdrnn_status simdrnn_onnx_graph_input(const simdrnn_onnx_graph* graph, int64_t index,
                                                    simdrnn_onnx_tensor_info* info) {
  return guarded([&]() -> simdrnn_status {
    const Plan& p = live_plan(graph);
    if (!info) return fail(SIMDRNN_INVALID_ARGUMENT, "info: expected a simdrnn_onnx_tensor_info*, got NULL");
    return tensor_info(pick(p.inputs, index, "inputs"), info);
  });
}

SIMDRNN_API simdrnn_status simdrnn_onnx_graph_output(const simdrnn_onnx_graph* graph, int64_t index,
                                                     simdrnn_onnx_tensor_info* info) {
  return guarded([&]() -> simdrnn_status {
    const Plan& p = live_plan(graph);
    if (!info) return fail(SIMDRNN_INVALID_ARGUMENT, "info: expected a simdrnn_onnx_tensor_info*, got NULL");
    return tensor_info(pick(p.outputs, index, "outputs"), info);
  });
}

SIMDRNN_API simdrnn_status simdrnn_onnx_input_shape(const simdrnn_onnx_graph* graph, int64_t index,
                                                    int64_t seq_len, int64_t batch, int64_t dims[8]) {
  return guarded([&]() -> simdrnn_status {
    const Plan& p = live_plan(graph);
    return shape(pick(p.inputs, index, "inputs"), seq_len, batch, dims);
  });
}

SIMDRNN_API simdrnn_status simdrnn_onnx_output_shape(const simdrnn_onnx_graph* graph, int64_t index,
                                                     int64_t seq_len, int64_t batch, int64_t dims[8]) {
  return guarded([&]() -> simdrnn_status {
    const Plan& p = live_plan(graph);
    return shape(pick(p.outputs, index, "outputs"), seq_len, batch, dims);
  });
}

SIMDRNN_API simdrnn_status simdrnn_onnx_run(const simdrnn_model* model, const simdrnn_onnx_graph* graph,
                                            int64_t seq_len, int64_t batch, const void* const* inputs,
                                            void* const* outputs, int32_t num_threads) {
  return guarded([&]() -> simdrnn_status {
    const Plan& p = live_plan(graph);
    simdrnn::onnx_import::run_plan(p, model, seq_len, batch, inputs, outputs, num_threads);
    return SIMDRNN_OK;
  });
}

}  // extern "C"
