// Runs a loaded ONNX graph: gathers the graph's inputs into simdrnn's buffers
// (h0/c0 [L*D, N, H] from however the graph lays them out, sequence_lens to
// int64, X reversed in time for a "reverse" chain), calls simdrnn_forward,
// and scatters y, h_n, c_n and out into each graph output's layout. Every
// layout change is one strided copy over the axes the Plan names.
#include <algorithm>
#include <cstring>
#include <vector>

#include "src/onnx/onnx_internal.hpp"

namespace simdrnn::onnx_import {
namespace {

struct CopyAxis {
  int64_t extent, src, dst;  // element strides
};

// dst[sum i_k dst_k] = src[sum i_k src_k] over every index; the innermost axis last.
void strided_copy(const float* src, float* dst, const std::vector<CopyAxis>& axes) {
  for (const CopyAxis& a : axes)
    if (a.extent == 0) return;
  if (axes.empty()) {
    *dst = *src;
    return;
  }
  const size_t r = axes.size();
  std::vector<int64_t> idx(r, 0);
  const CopyAxis& inner = axes.back();
  int64_t s = 0, d = 0;  // offsets of the current row; they stay inside both buffers
  for (;;) {
    for (int64_t i = 0; i < inner.extent; ++i) dst[d + i * inner.dst] = src[s + i * inner.src];
    size_t k = r - 1;
    for (; k-- > 0;) {
      if (++idx[k] < axes[k].extent) {
        s += axes[k].src;
        d += axes[k].dst;
        break;
      }
      s -= axes[k].src * (axes[k].extent - 1);
      d -= axes[k].dst * (axes[k].extent - 1);
      idx[k] = 0;
    }
    if (k == static_cast<size_t>(-1)) return;
  }
}

// Sizes of the call and the model, and where each axis kind steps in simdrnn's buffers.
struct Shapes {
  int64_t T, N, D, H, O, I;
  bool time_major;
  // Stride of an axis in simdrnn's buffer of a tensor of this role.
  int64_t stride(simdrnn_onnx_role role, PlanAxisKind kind) const {
    const int64_t inner = role == SIMDRNN_ONNX_PROJECTION ? O : role == SIMDRNN_ONNX_X ? I : D * H;
    switch (kind) {
      case PlanAxisKind::kTime:
        return time_major ? N * inner : inner;
      case PlanAxisKind::kBatch:
        if (role == SIMDRNN_ONNX_Y_H || role == SIMDRNN_ONNX_Y_C || role == SIMDRNN_ONNX_INITIAL_H ||
            role == SIMDRNN_ONNX_INITIAL_C)
          return H;
        return time_major ? inner : T * inner;
      case PlanAxisKind::kRows:
        return N * H;
      case PlanAxisKind::kDir:
        return H;
      case PlanAxisKind::kHidden:
      case PlanAxisKind::kOut:
      case PlanAxisKind::kFeature:
        return 1;
    }
    return 0;
  }
};

// The copy from simdrnn's buffer into graph output t (dense row-major in its own dims).
std::vector<CopyAxis> output_copy(const PlanTensor& t, const Shapes& s, int64_t* src_offset) {
  std::vector<CopyAxis> axes;
  *src_offset = 0;
  for (const auto& group : t.dims)
    for (const PlanAxis& a : group) {
      axes.push_back({plan_extent(a, s.T, s.N), s.stride(t.role, a.kind), 0});
      if (a.kind == PlanAxisKind::kRows) *src_offset += a.begin * s.stride(t.role, a.kind);
    }
  int64_t stride = 1;
  for (size_t i = axes.size(); i-- > 0;) {
    axes[i].dst = stride;
    stride *= axes[i].extent;
  }
  return axes;
}

void check_core(simdrnn_status st, const char* what) {
  if (st != SIMDRNN_OK) throw ImportError{st, cat(what, ": ", simdrnn_last_error())};
}

// Reverses steps [0, len_n) of every sequence n of a [T, N, width] / [N, T, width] buffer in place.
void reverse_steps(float* data, const Shapes& s, int64_t width, const std::vector<int64_t>& lens) {
  for (int64_t n = 0; n < s.N; ++n) {
    const int64_t len = lens.empty() ? s.T : lens[static_cast<size_t>(n)];
    auto step = [&](int64_t t) { return data + (s.time_major ? (t * s.N + n) : (n * s.T + t)) * width; };
    for (int64_t t = 0; t < len / 2; ++t) std::swap_ranges(step(t), step(t) + width, step(len - 1 - t));
  }
}

}  // namespace

void run_plan(const Plan& plan, const simdrnn_model* model, int64_t T, int64_t N, const void* const* inputs,
              void* const* outputs, int32_t num_threads) {
  if (T < 1) invalid("seq_len: expected >= 1, got ", T);
  if (N < 1) invalid("batch: expected >= 1, got ", N);
  if (plan.fixed_seq_len > 0 && T != plan.fixed_seq_len)
    invalid("seq_len: the graph declares ", plan.fixed_seq_len, " steps, got ", T);
  if (plan.fixed_batch > 0 && N != plan.fixed_batch)
    invalid("batch: the graph declares batch ", plan.fixed_batch, ", got ", N);
  if (!inputs) invalid("inputs: expected an array of ", plan.inputs.size(), " pointers, got NULL");
  if (!outputs) invalid("outputs: expected an array of ", plan.outputs.size(), " pointers, got NULL");

  simdrnn_config mc{};
  check_core(simdrnn_model_config(model, &mc), "model");
  const simdrnn_config& c = plan.config;
  if (mc.cell != c.cell || mc.input_size != c.input_size || mc.hidden_size != c.hidden_size ||
      mc.num_layers != c.num_layers || mc.bidirectional != c.bidirectional ||
      mc.output_size != c.output_size || mc.proj_size != c.proj_size || mc.clip != c.clip ||
      (c.cell == SIMDRNN_CELL_RNN && mc.activation != c.activation) ||
      (c.cell == SIMDRNN_CELL_GRU && mc.gru_linear_before_reset != c.gru_linear_before_reset))
    invalid(
        "model: its configuration differs from the one this graph loaded (pass the model simdrnn_onnx_load "
        "returned with it)");

  Shapes s{T, N, c.bidirectional ? 2 : 1, c.hidden_size, c.output_size, c.input_size, plan.time_major};
  const int64_t L = c.num_layers, D = s.D, H = s.H;
  const float* x = static_cast<const float*>(inputs[plan.x_input]);
  if (!x)
    invalid("inputs[", plan.x_input, "] ('", plan.inputs[static_cast<size_t>(plan.x_input)].name,
            "', X): expected data, got NULL");

  // sequence_lens, widened and checked (simdrnn takes 1..T).
  std::vector<int64_t> lens;
  if (plan.lens_input >= 0 && inputs[plan.lens_input]) {
    const PlanTensor& t = plan.inputs[static_cast<size_t>(plan.lens_input)];
    lens.resize(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) {
      const int64_t v = t.dtype == SIMDRNN_ONNX_INT64
                            ? static_cast<const int64_t*>(inputs[plan.lens_input])[n]
                            : static_cast<const int32_t*>(inputs[plan.lens_input])[n];
      if (v == 0)
        throw ImportError{SIMDRNN_UNSUPPORTED, cat("inputs[", plan.lens_input, "] ('", t.name, "')[", n,
                                                   "] is 0: simdrnn runs sequences of 1..", T, " steps")};
      if (v < 1 || v > T)
        invalid("inputs[", plan.lens_input, "] ('", t.name, "')[", n, "] is ", v, "; expected 1..", T);
      lens[static_cast<size_t>(n)] = v;
    }
  }

  // Initial states: each layer's rows from its graph input, or zeros.
  auto gather_states = [&](const std::vector<StateSource>& sources, std::vector<float>& dst) {
    bool any = false;
    for (const StateSource& src : sources) any |= src.input >= 0 && inputs[src.input] != nullptr;
    if (!any) return;
    dst.assign(static_cast<size_t>(L * D * N * H), 0.0f);
    for (int64_t k = 0; k < L; ++k) {
      const StateSource& src = sources[static_cast<size_t>(k)];
      if (src.input < 0 || !inputs[src.input]) continue;
      const PlanTensor& t = plan.inputs[static_cast<size_t>(src.input)];
      // The input is dense row-major over its dims; find each axis' stride there.
      std::vector<int64_t> extent, stride(t.dims.size());
      for (const auto& group : t.dims) extent.push_back(plan_extent(group[0], T, N));
      int64_t st = 1;
      for (size_t i = t.dims.size(); i-- > 0;) {
        stride[i] = st;
        st *= extent[i];
      }
      std::vector<CopyAxis> axes(3);
      int64_t src_offset = 0;
      for (size_t i = 0; i < t.dims.size(); ++i) {
        switch (t.dims[i][0].kind) {
          case PlanAxisKind::kRows:
            axes[0] = {D, stride[i], N * H};
            src_offset = src.row_begin * stride[i];
            break;
          case PlanAxisKind::kBatch:
            axes[1] = {N, stride[i], H};
            break;
          default:
            axes[2] = {H, stride[i], 1};
            break;
        }
      }
      strided_copy(static_cast<const float*>(inputs[src.input]) + src_offset, dst.data() + k * D * N * H,
                   axes);
    }
  };
  std::vector<float> h0, c0;
  gather_states(plan.h0, h0);
  if (c.cell == SIMDRNN_CELL_LSTM) gather_states(plan.c0, c0);

  // What the outputs need from simdrnn.
  bool want_y = false, want_h = false, want_c = false, want_out = false, any = false;
  for (size_t i = 0; i < plan.outputs.size(); ++i) {
    if (!outputs[i]) continue;
    any = true;
    const simdrnn_onnx_role r = plan.outputs[i].role;
    want_y |= r == SIMDRNN_ONNX_Y;
    want_h |= r == SIMDRNN_ONNX_Y_H;
    want_c |= r == SIMDRNN_ONNX_Y_C;
    want_out |= r == SIMDRNN_ONNX_PROJECTION;
  }
  if (!any)
    invalid("outputs: every pointer is NULL; ask for at least one of the graph's ", plan.outputs.size(),
            " outputs");
  if (!want_y && !want_out) want_h = true;  // simdrnn_forward returns at least one of y, h_n, out

  std::vector<float> x_rev;
  if (plan.reversed) {
    x_rev.assign(x, x + T * N * c.input_size);
    reverse_steps(x_rev.data(), s, c.input_size, lens);
    x = x_rev.data();
  }

  std::vector<float> y, h_n, c_n, out;
  simdrnn_forward_args args{};
  args.seq_len = T;
  args.batch = N;
  args.layout = plan.time_major ? SIMDRNN_TIME_MAJOR : SIMDRNN_BATCH_MAJOR;
  args.x = x;
  args.h0 = h0.empty() ? nullptr : h0.data();
  args.c0 = c0.empty() ? nullptr : c0.data();
  args.seq_lens = lens.empty() ? nullptr : lens.data();
  args.num_threads = num_threads;
  simdrnn_sizes sizes{};
  check_core(simdrnn_forward_sizes(model, &args, &sizes), "sizes");
  if (want_y) y.resize(static_cast<size_t>(sizes.y));
  if (want_h) h_n.resize(static_cast<size_t>(sizes.h));
  if (want_c) c_n.resize(static_cast<size_t>(sizes.c));
  if (want_out) out.resize(static_cast<size_t>(sizes.out));
  args.y = want_y ? y.data() : nullptr;
  args.h_n = want_h ? h_n.data() : nullptr;
  args.c_n = want_c ? c_n.data() : nullptr;
  args.out = want_out ? out.data() : nullptr;
  size_t bytes = 0;
  check_core(simdrnn_forward_workspace_size(model, &args, &bytes), "workspace");
  std::vector<unsigned char> workspace(bytes);
  args.workspace = workspace.data();
  args.workspace_size = bytes;
  check_core(simdrnn_forward(model, &args), "forward");
  if (plan.reversed) {
    if (want_y) reverse_steps(y.data(), s, D * H, lens);
    if (want_out) reverse_steps(out.data(), s, c.output_size, lens);
  }

  for (size_t i = 0; i < plan.outputs.size(); ++i) {
    if (!outputs[i]) continue;
    const PlanTensor& t = plan.outputs[i];
    const float* src = t.role == SIMDRNN_ONNX_Y     ? y.data()
                       : t.role == SIMDRNN_ONNX_Y_H ? h_n.data()
                       : t.role == SIMDRNN_ONNX_Y_C ? c_n.data()
                                                    : out.data();
    int64_t offset = 0;
    const std::vector<CopyAxis> axes = output_copy(t, s, &offset);
    strided_copy(src + offset, static_cast<float*>(outputs[i]), axes);
  }
}

}  // namespace simdrnn::onnx_import
