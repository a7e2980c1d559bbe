// Internal types shared by the C API (api.cpp), the engine (forward.cpp) and
// packing/dispatch: the model, aligned buffers, checked arithmetic and the
// thread-local error message.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "simd/kernels.h"
#include "simdrnn/simdrnn.h"
#include "src/param_schema.hpp"

namespace simdrnn {
// Every internal name lives in simdrnn::lib (inline: the library's own code
// writes simdrnn::Model), so that the internal Model, Weights, Stream and
// Cell never share a mangled name with the public C++ wrapper's classes of
// the same names (include/simdrnn/simdrnn.hpp): two definitions of one name
// break the one-definition rule, and the linker keeps either class's inline
// destructor for both (a clang + ASan build leaked every model that way).
inline namespace lib {

// ---- errors -----------------------------------------------------------------
// Records a printf-style message as this thread's last error; returns status.
simdrnn_status fail(simdrnn_status status, const char* format, ...) __attribute__((format(printf, 2, 3)));
void clear_error();
const char* last_error();  // this thread's message

// ---- checked 64-bit size arithmetic -------------------------------------------
inline bool checked_mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool checked_add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }
// Product of all factors, or -1 when it overflows int64_t.
inline int64_t checked_product(std::initializer_list<int64_t> factors) {
  int64_t p = 1;
  for (int64_t f : factors)
    if (!checked_mul(p, f, &p)) return -1;
  return p;
}
inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Reads an enum field as its raw int: a C caller may store any int there, and
// loading an out-of-range value as the enum type is undefined in C++.
template <class E>
int32_t raw_enum(const E& field) {
  static_assert(sizeof(E) == sizeof(int32_t), "C enums are int-sized");
  int32_t v;
  std::memcpy(&v, &field, sizeof v);
  return v;
}

// Width of h (the recurrent state and each direction's output): proj_size
// for a projected LSTM, else hidden_size.
inline int64_t hidden_out(const simdrnn_config& c) { return c.proj_size > 0 ? c.proj_size : c.hidden_size; }

// ---- 64-byte aligned float storage ---------------------------------------------
struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], FreeDeleter>;
// Zero-filled; throws std::bad_alloc on failure.
AlignedFloats aligned_floats(int64_t count);

// ---- dispatch -------------------------------------------------------------------
simdrnn_isa detected_isa();
simdrnn_isa active_isa();
void set_max_isa(simdrnn_isa isa);
// Whether bf16 models on a level with gemm_bf16_dot use it (measured once per
// process; SIMDRNN_BF16_DOT=0/1 decides instead). Tests may force it: -1
// measured, 0 never, 1 always.
bool use_bf16_dot(const kernels::KernelTable& kt);
void set_bf16_dot_policy_for_testing(int policy);
// The table of an ISA this CPU runs, its GEMM tuned for this CPU (once).
const kernels::KernelTable& kernel_table(simdrnn_isa isa);
// The GEMM blocking kernel_table chose for an ISA (verbose lines, reports).
kernels::GemmTuning gemm_tuning(simdrnn_isa isa);

// ---- environment ------------------------------------------------------------------
bool verbose_enabled();  // SIMDRNN_VERBOSE=1
// Appends "simdrnn_verbose,<formatted>\n" to the buffered verbose log.
void verbose_line(const char* format, ...) __attribute__((format(printf, 1, 2)));
FILE* log_file();               // the verbose log (tests flush it)
int32_t default_num_threads();  // SIMDRNN_NUM_THREADS, else the cores this process may use

// ---- weights and model ----------------------------------------------------------------
// A weight matrix W [rows, cols] packed as the GEMM's B operand (B = W^T).
struct PackedMatrix {
  AlignedFloats data;  // panels of elements as `format` says (raw storage for bf16 / int8)
  int64_t rows = 0;    // output columns of the GEMM (n)
  int64_t cols = 0;    // reduction length (k)
  int64_t bytes = 0;   // of data, panels padded
  int64_t panel_width = 0;
  int32_t format = kernels::kF32;
  AlignedFloats scale;  // kInt8: one scale per column of B (per row of W), padded; else null
};
// Points a GEMM's B operand at a packed matrix, its format and scales.
inline void set_b(kernels::GemmParams& p, const PackedMatrix& m) {
  p.b = m.data.get();
  p.b_format = m.format;
  p.b_scale = m.scale.get();
}
// Converts an f32 pack to bf16 (round to nearest even) or int8 (symmetric,
// per column of B: scale = max |w| / 127, q = round(w / scale)) in the same
// panel layout (kernels.h, WeightFormat); kF32 returns it unchanged.
PackedMatrix convert_pack(PackedMatrix f32, int32_t format);
// Packs row-major W [rows, cols] into panels of panel_width (simd/kernels.h).
PackedMatrix pack_b(const float* w, int64_t rows, int64_t cols, int64_t panel_width);

// Packs B = src itself, src being [k, n] row-major with row stride ld.
PackedMatrix pack_b_kn(const float* src, int64_t k, int64_t n, int64_t ld, int64_t panel_width);

// A gated cell's blocked gate layout (simd/kernels.h, CellStep): the column
// of gate g of unit u, for G gates and panels of panel_width.
int64_t gate_column(int64_t g, int64_t u, int64_t gates, int64_t panel_width);
// Packs W [gates * units, cols] (gates stacked, PyTorch order) as B with the
// blocked gate columns: gates * round_up(units, panel_width) columns, the
// padding units zero.
PackedMatrix pack_b_gated(const float* w, int64_t gates, int64_t units, int64_t cols, int64_t panel_width);
// Packs B = W itself (W [gates * units, cols]) with its rows in the blocked
// gate order: k = gates * round_up(units, panel_width), the backward GEMMs'
// operand (gate gradients, blocked, times W).
PackedMatrix pack_b_gated_kn(const float* w, int64_t gates, int64_t units, int64_t cols, int64_t panel_width);

struct Cell {  // one layer and direction
  // RNN: plain columns. Gated cells: blocked gate columns (pack_b_gated).
  PackedMatrix w_ih, w_hh;
  AlignedFloats bias;            // the input projection's bias (b_ih + b_hh but GRU's b_hn), padded; or null
  AlignedFloats recurrent_bias;  // GRU: b_hn at the n columns of the recurrent GEMM; or null
  PackedMatrix w_hr;             // LSTM projection: B = W_hr^T, P columns
  AlignedFloats peephole;        // LSTM: i, f, o, each padded to whole panels; or null
  // Backward (built by prepare_training): B = W_ih [G*H, in] and B = W_hh
  // (gated cells: k in the blocked gate order); LSTM projection: B = W_hr
  // [P, H]; GRU with linear_before_reset 0: B = W_hn [H, H].
  PackedMatrix w_ih_bwd, w_hh_bwd, w_hr_bwd, w_hn_bwd;
  // Offsets in the flat parameter vector (-1: the model has no such tensor).
  int64_t off_w_ih = -1, off_w_hh = -1, off_b_ih = -1, off_b_hh = -1, off_w_hr = -1, off_peephole = -1;
};

struct Weights {
  simdrnn_config config;
  std::map<std::string, std::vector<float>> tensors;
};

// Where one tensor lives in the flat parameter vector.
struct ParamSlot {
  std::string name;
  int64_t offset, count;
};

struct Model {
  simdrnn_config config;
  int64_t directions = 1;
  const kernels::KernelTable* kernels = nullptr;
  uint64_t id = 0;            // unique per model and per parameter update
  std::vector<float> params;  // flat, PyTorch order (simdrnn.h)
  std::vector<ParamSlot> slots;
  ParamGroups groups;       // which optional tensors the flat vector holds
  std::vector<Cell> cells;  // index layer * directions + direction
  PackedMatrix w_hy;
  AlignedFloats b_hy;                    // padded, or null
  PackedMatrix w_hy_bwd;                 // B = W_hy [O, D*H] (prepare_training)
  int64_t off_w_hy = -1, off_b_hy = -1;  // flat-vector offsets (-1: absent)
  AlignedFloats zeros;                   // hidden_size zeros: the state when h0 is NULL
  std::mutex training_mutex;
  std::atomic<bool> training_ready{false};

  const ParamSlot* slot(const std::string& name) const {
    for (const ParamSlot& s : slots)
      if (s.name == name) return &s;
    return nullptr;
  }
  // The tensor at a flat-vector offset (-1: absent, null).
  const float* at(int64_t offset) const { return offset >= 0 ? params.data() + offset : nullptr; }
};

// Validates a configuration; on failure records the error.
simdrnn_status validate_config(const simdrnn_config* config, const char* arg_name);
// Builds and prepacks; throws std::bad_alloc. Weights must be complete.
std::unique_ptr<Model> build_model(const Weights& weights, simdrnn_isa isa);
// Repacks every inference (and, if built, backward) matrix from model.params.
// Not safe while other calls use the model.
void pack_model(Model& model);
// Builds the backward packs once (thread-safe; forward calls may run
// meanwhile: they never read the backward packs).
void prepare_training(Model& model);
uint64_t next_model_id();

// ---- execution ------------------------------------------------------------------------
// The forward workspace: a stand-in for y when the call has none, one
// intermediate layer output when L >= 2, and for gated cells the gate
// pre-activations of every step (blocked layout), one step's recurrent
// products, and c (LSTM), o * tanh(c) (projection) and r * h (GRU with
// linear_before_reset = 0) of every step.
struct ForwardBuffers {
  float *y_stand_in, *intermediate, *gates, *rec, *c, *r, *rh;
};
// Returns the workspace bytes for T, N and whether y is supplied (-1 when a
// size overflows); with a base, also the pointers.
int64_t forward_workspace_layout(const Model& model, int64_t seq_len, int64_t batch, bool have_y, void* base,
                                 ForwardBuffers* out);

// What forward_training records beside the saved states, so that backward
// can reject a reserve that does not belong to its call.
struct ReserveHeader {
  uint64_t magic, model_id;
  int64_t seq_len, batch, layout, has_lens, has_h0, has_c0;
};
constexpr uint64_t kReserveMagic = 0x73696d64726e6e32ull;  // "simdrnn2"
constexpr int64_t kMaxTrainingLayers = 64;

// What forward_training saved of one layer, in the reserve; rows as the
// call's layout orders (t, n), T*N of them.
struct SavedLayer {
  float* h;       // the layer's output [TN, D*H_out]
  uint8_t* mask;  // clip > 0: RNN [TN, D*H] (bytes); gated cells per gate pre-activation,
                  // blocked [TN, D*G*hp]; else null
  float* gates;   // gated: the gate activations, blocked [TN, D*G*hp]
  float* c;       // LSTM: c_t [TN, D*H]
  float* r;       // LSTM projection: o*tanh(c_t) [TN, D*H]
  float* rh;      // GRU, linear_before_reset 0: r*h_{t-1} [TN, D*H]
  float* rec;     // GRU, linear_before_reset 1: the recurrent products, blocked [TN, D*G*hp]
};

// forward_training's reserve, carved: the header, a copy of seq_lens (so
// backward can tell that they changed), copies of h0 and (LSTM) c0 (forward
// may overwrite the caller's in place: h_n == h0), then every layer's saved
// tensors.
struct TrainingSink {
  ReserveHeader* header;
  int64_t* lens;
  float* h0;  // [L*D, N, H_out] (zeros when the call had none)
  float* c0;  // LSTM: [L*D, N, H] (zeros when the call had none)
  SavedLayer layer[kMaxTrainingLayers];
};

// Runs a validated forward call (training != null: forward_training).
// Allocates nothing.
// `call_name` names the entry point in the verbose line.
void run_forward(const Model& model, const simdrnn_forward_args& args, int32_t threads,
                 const TrainingSink* training, const char* call_name);

// Returns the reserve's bytes (-1 when a size overflows); fills the sink
// when base != null.
int64_t training_reserve_layout(const Model& model, int64_t seq_len, int64_t batch, void* base,
                                TrainingSink* sink);

// Backward workspace bytes (-1 when a size overflows).
int64_t backward_workspace_bytes(const Model& model, int64_t seq_len, int64_t batch);
// Runs a validated backward call. Allocates nothing.
void run_backward(const Model& model, const simdrnn_backward_args& args, int32_t threads,
                  const char* call_name);

}  // namespace lib
}  // namespace simdrnn
