// simdrnn C++ API: header-only RAII wrappers over the C API in simdrnn.h
// (C++14). Buffers are passed as Span<T> (a pointer and an element count,
// made from a std::vector, an array or a pointer and a size), and every call
// checks each buffer's size against what the call needs before anything
// runs: a short buffer throws simdrnn::Error naming it. Every failure throws
// simdrnn::Error (a std::runtime_error carrying the simdrnn_status and the
// library's message); nothing else is thrown except std::bad_alloc from the
// overloads that size a std::vector.
#ifndef SIMDRNN_SIMDRNN_HPP_
#define SIMDRNN_SIMDRNN_HPP_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "simdrnn/simdrnn.h"

namespace simdrnn {

enum class Activation : int32_t { Tanh = SIMDRNN_TANH, Relu = SIMDRNN_RELU, Sigmoid = SIMDRNN_SIGMOID };
enum class Layout : int32_t { TimeMajor = SIMDRNN_TIME_MAJOR, BatchMajor = SIMDRNN_BATCH_MAJOR };
enum class Isa : int32_t {
  Scalar = SIMDRNN_ISA_SCALAR,
  Avx2 = SIMDRNN_ISA_AVX2,
  Avx2Vnni = SIMDRNN_ISA_AVX2_VNNI,
  Avx512 = SIMDRNN_ISA_AVX512,
  Avx512Vnni = SIMDRNN_ISA_AVX512_VNNI,
  Avx512Bf16 = SIMDRNN_ISA_AVX512_BF16
};
enum class Cell : int32_t { Rnn = SIMDRNN_CELL_RNN, Lstm = SIMDRNN_CELL_LSTM, Gru = SIMDRNN_CELL_GRU };
enum class Precision : int32_t {
  F32 = SIMDRNN_PRECISION_F32,
  Bf16 = SIMDRNN_PRECISION_BF16,
  Int8 = SIMDRNN_PRECISION_INT8
};

// The exception type of the C++ API.
class Error : public std::runtime_error {
 public:
  Error(simdrnn_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  simdrnn_status status() const noexcept { return status_; }

 private:
  simdrnn_status status_;
};

inline void check(simdrnn_status status) {
  if (status != SIMDRNN_OK) throw Error(status, simdrnn_last_error());
}

// A buffer: a pointer and its element count. An empty span (the default, or
// nullptr) is an absent buffer, as NULL is in the C API.
template <class T>
class Span {
 public:
  using Element = std::remove_const_t<T>;
  Span() noexcept = default;
  Span(std::nullptr_t) noexcept {}
  Span(T* data, size_t size) noexcept : data_(data), size_(data ? size : 0) {}
  template <class A>
  Span(std::vector<Element, A>& v) noexcept : data_(v.data()), size_(v.size()) {}
  template <class A, class U = T, std::enable_if_t<std::is_const<U>::value, int> = 0>
  Span(const std::vector<Element, A>& v) noexcept : data_(v.data()), size_(v.size()) {}
  template <size_t N>
  Span(T (&a)[N]) noexcept : data_(a), size_(N) {}
  template <size_t N>
  Span(std::array<Element, N>& a) noexcept : data_(a.data()), size_(N) {}
  template <class U = T, std::enable_if_t<std::is_const<U>::value, int> = 0>
  Span(const Span<Element>& other) noexcept : data_(other.data()), size_(other.size()) {}

  T* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

namespace detail {
// Throws unless `span` is absent or holds at least `need` elements.
template <class T>
void check_size(const Span<T>& span, int64_t need, const char* name) {
  if (span.data() && span.size() < static_cast<uint64_t>(need))
    throw Error(SIMDRNN_INVALID_ARGUMENT, std::string(name) + ": expected at least " + std::to_string(need) +
                                              " elements, got " + std::to_string(span.size()));
}
// Throws when a required buffer is absent.
template <class T>
void require(const Span<T>& span, const char* name) {
  if (!span.data()) throw Error(SIMDRNN_INVALID_ARGUMENT, std::string(name) + ": expected a buffer, got none");
}
// A C enum field's bits as int32_t: C callers may store any int there (the C
// API names a bad value), and C++ may not load one outside the enum's range
// as the enum type.
template <class E>
int32_t raw_enum(const E& e) {
  static_assert(sizeof(E) == sizeof(int32_t), "C enums are int-sized");
  int32_t v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}
}  // namespace detail

// Model hyper-parameters (simdrnn_config); sizes must be set.
struct Config {
  int64_t input_size = 0;   // I >= 1
  int64_t hidden_size = 0;  // H >= 1
  int64_t num_layers = 1;
  bool bidirectional = false;
  Cell cell = Cell::Rnn;
  Activation activation = Activation::Tanh;  // RNN cells only
  float clip = 0.0f;                         // > 0: clamp pre-activations to [-clip, clip]
  int64_t output_size = 0;                   // O > 0 adds the output layer
  int64_t proj_size = 0;                     // LSTM projection (PyTorch proj_size)
  bool gru_linear_before_reset = true;       // GRU: PyTorch (true) or ONNX default (false)
  Precision weight_precision = Precision::F32;

  Config() = default;
  Config(const simdrnn_config& c)  // NOLINT: implicit, C configs convert
      : input_size(c.input_size),
        hidden_size(c.hidden_size),
        num_layers(c.num_layers),
        bidirectional(c.bidirectional != 0),
        cell(static_cast<Cell>(detail::raw_enum(c.cell))),
        activation(static_cast<Activation>(detail::raw_enum(c.activation))),
        clip(c.clip),
        output_size(c.output_size),
        proj_size(c.proj_size),
        gru_linear_before_reset(c.gru_linear_before_reset != 0),
        weight_precision(static_cast<Precision>(detail::raw_enum(c.weight_precision))) {}
  simdrnn_config to_c() const {
    simdrnn_config c = simdrnn_config_default();
    c.input_size = input_size;
    c.hidden_size = hidden_size;
    c.num_layers = num_layers;
    c.bidirectional = bidirectional ? 1 : 0;
    c.cell = static_cast<simdrnn_cell>(cell);
    c.activation = static_cast<simdrnn_activation>(activation);
    c.clip = clip;
    c.output_size = output_size;
    c.proj_size = proj_size;
    c.gru_linear_before_reset = gru_linear_before_reset ? 1 : 0;
    c.weight_precision = static_cast<simdrnn_precision>(weight_precision);
    return c;
  }
};

inline std::string version() { return simdrnn_version(); }
inline Isa detected_isa() { return static_cast<Isa>(simdrnn_detected_isa()); }
inline Isa active_isa() { return static_cast<Isa>(simdrnn_active_isa()); }
inline void set_max_isa(Isa isa) { check(simdrnn_set_max_isa(static_cast<simdrnn_isa>(isa))); }
inline std::string isa_name(Isa isa) { return simdrnn_isa_name(static_cast<simdrnn_isa>(isa)); }
inline Config default_config() { return Config{}; }

// One forward call (simdrnn_forward_args). Absent (empty) outputs are not
// computed; at least one of y, h_n, out must be present.
struct ForwardArgs {
  int64_t seq_len = 0;  // T
  int64_t batch = 0;    // N
  Layout layout = Layout::TimeMajor;
  Span<const float> x;           // [T, N, I] or [N, T, I]
  Span<const float> h0;          // [L*D, N, H_out]; empty: zeros
  Span<const float> c0;          // LSTM [L*D, N, H]; empty: zeros
  Span<const int64_t> seq_lens;  // [N]; empty: all T
  Span<float> y;                 // [T, N, D*H_out]
  Span<float> h_n;               // [L*D, N, H_out]; may be h0's buffer
  Span<float> c_n;               // LSTM [L*D, N, H]; may be c0's buffer
  Span<float> out;               // [T, N, O]
  int32_t num_threads = 0;       // 0: default (simdrnn.h)

  // The C struct these args describe (workspace left empty).
  simdrnn_forward_args to_c() const {
    simdrnn_forward_args a{};
    a.seq_len = seq_len;
    a.batch = batch;
    a.layout = static_cast<simdrnn_layout>(layout);
    a.x = x.data();
    a.h0 = h0.data();
    a.c0 = c0.data();
    a.seq_lens = seq_lens.data();
    a.y = y.data();
    a.h_n = h_n.data();
    a.c_n = c_n.data();
    a.out = out.data();
    a.num_threads = num_threads;
    return a;
  }
};

// The gradients a backward call reads and writes (simdrnn_backward_args).
struct BackwardArgs {
  Span<const float> dy, dout, dh_n, dc_n;  // empty: zero
  Span<float> dx, dh0, dc0, grads;         // empty: not computed
  bool accumulate = false;                 // add into dx, dh0, dc0, grads
  int32_t num_threads = 0;
};

// Collects weights by PyTorch name or ONNX layer; see simdrnn_weights_set.
class Weights {
 public:
  explicit Weights(const Config& config) {
    const simdrnn_config c = config.to_c();
    check(simdrnn_weights_create(&c, &handle_));
  }
  ~Weights() { simdrnn_weights_destroy(handle_); }
  Weights(const Weights&) = delete;
  Weights& operator=(const Weights&) = delete;
  Weights(Weights&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Weights& operator=(Weights&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }

  Weights& set(const std::string& name, Span<const float> data) {
    check(simdrnn_weights_set(handle_, name.c_str(), data.data(), static_cast<int64_t>(data.size())));
    return *this;
  }
  Weights& set(const std::string& name, const float* data, int64_t count) {
    check(simdrnn_weights_set(handle_, name.c_str(), data, count));
    return *this;
  }
  // ONNX W, R, B (may be NULL) and, for an LSTM, P (may be NULL).
  Weights& set_onnx(int64_t layer, const float* W, const float* R, const float* B = nullptr,
                    const float* P = nullptr) {
    check(simdrnn_weights_set_onnx(handle_, layer, W, R, B, P));
    return *this;
  }
  const simdrnn_weights* get() const noexcept { return handle_; }

 private:
  simdrnn_weights* handle_ = nullptr;
};

// An immutable, prepacked model; const methods are safe from many threads.
class Model {
 public:
  explicit Model(const Weights& weights) { check(simdrnn_model_create(weights.get(), &handle_)); }
  ~Model() { simdrnn_model_destroy(handle_); }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Model& operator=(Model&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }

  Config config() const {
    simdrnn_config c{};
    check(simdrnn_model_config(handle_, &c));
    return Config(c);
  }
  Isa isa() const {
    simdrnn_isa isa{};
    check(simdrnn_model_isa(handle_, &isa));
    return static_cast<Isa>(isa);
  }
  // Every tensor's element count and every buffer's bytes for `args`.
  simdrnn_sizes sizes(const ForwardArgs& args) const {
    const simdrnn_forward_args a = args.to_c();
    simdrnn_sizes s{};
    check(simdrnn_forward_sizes(handle_, &a, &s));
    return s;
  }
  size_t workspace_size(const ForwardArgs& args) const { return sizes(args).workspace; }

  // Runs with the caller's workspace; allocates nothing. Every buffer is
  // checked against sizes(args) first.
  void forward(const ForwardArgs& args, Span<unsigned char> workspace) const {
    const simdrnn_sizes s = check_forward(args);
    detail::check_size(workspace, static_cast<int64_t>(s.workspace), "workspace");
    simdrnn_forward_args a = args.to_c();
    a.workspace = workspace.data();
    a.workspace_size = workspace.size();
    check(simdrnn_forward(handle_, &a));
  }
  // Convenience: sizes `workspace` (may allocate) and runs.
  void forward(const ForwardArgs& args, std::vector<unsigned char>& workspace) const {
    workspace.resize(sizes(args).workspace);
    forward(args, Span<unsigned char>(workspace));
  }
  const simdrnn_model* get() const noexcept { return handle_; }
  simdrnn_model* get() noexcept { return handle_; }

  // ---- model file (simdrnn_model_save / simdrnn_model_load; docs/model_file.md) ----
  // The model saved in `path` (a safetensors file), built for the active ISA.
  static Model load(const std::string& path) {
    simdrnn_model* handle = nullptr;
    check(simdrnn_model_load(path.c_str(), &handle));
    return Model(Adopt{}, handle);
  }
  // The model in `bytes`, a model file's contents.
  static Model load_from_memory(Span<const unsigned char> bytes) {
    simdrnn_model* handle = nullptr;
    check(simdrnn_model_load_from_memory(bytes.data(), bytes.size(), &handle));
    return Model(Adopt{}, handle);
  }
  void save(const std::string& path) const { check(simdrnn_model_save(handle_, path.c_str())); }
  // The model file's bytes (what save writes).
  std::vector<unsigned char> save_to_memory() const {
    size_t size = 0;
    check(simdrnn_model_save_to_memory(handle_, nullptr, 0, &size));
    std::vector<unsigned char> bytes(size);
    check(simdrnn_model_save_to_memory(handle_, bytes.data(), bytes.size(), &size));
    return bytes;
  }

  // ---- training (see simdrnn.h) ----
  int64_t num_params() const {
    int64_t n = 0;
    check(simdrnn_model_num_params(handle_, &n));
    return n;
  }
  std::vector<float> params() const {
    std::vector<float> p(static_cast<size_t>(num_params()));
    check(simdrnn_model_get_params(handle_, p.data()));
    return p;
  }
  // Where a tensor (PyTorch name) lives in params(); {-1, 0} when absent.
  std::pair<int64_t, int64_t> param_offset(const std::string& name) const {
    int64_t offset = -1, count = 0;
    check(simdrnn_model_param_offset(handle_, name.c_str(), &offset, &count));
    return {offset, count};
  }
  // Replaces the parameters; nothing else may use the model meanwhile.
  void set_params(Span<const float> params) {
    if (static_cast<int64_t>(params.size()) != num_params())
      throw Error(SIMDRNN_INVALID_ARGUMENT, "params: expected num_params() = " + std::to_string(num_params()) +
                                                " floats, got " + std::to_string(params.size()));
    check(simdrnn_model_set_params(handle_, params.data()));
  }
  // Also prepares the model for training (once).
  size_t training_reserve_size(const ForwardArgs& args) const {
    const simdrnn_forward_args a = args.to_c();
    size_t bytes = 0;
    check(simdrnn_training_reserve_size(handle_, &a, &bytes));
    return bytes;
  }
  // forward() that also fills `reserve` (training_reserve_size bytes).
  void forward_training(const ForwardArgs& args, Span<unsigned char> workspace, Span<unsigned char> reserve) const {
    const simdrnn_sizes s = check_forward(args);
    detail::check_size(workspace, static_cast<int64_t>(s.workspace), "workspace");
    detail::require(reserve, "reserve");
    detail::check_size(reserve, static_cast<int64_t>(s.training_reserve), "reserve");
    simdrnn_forward_args a = args.to_c();
    a.workspace = workspace.data();
    a.workspace_size = workspace.size();
    check(simdrnn_forward_training(handle_, &a, reserve.data(), reserve.size()));
  }
  size_t backward_workspace_size(const ForwardArgs& args) const { return sizes(args).backward_workspace; }
  // Gradients of the forward_training call `args` (unchanged) that filled `reserve`.
  void backward(const ForwardArgs& args, Span<const unsigned char> reserve, const BackwardArgs& grads,
                Span<unsigned char> workspace) const {
    const simdrnn_sizes s = check_forward(args);
    detail::require(reserve, "reserve");
    detail::check_size(reserve, static_cast<int64_t>(s.training_reserve), "reserve");
    detail::check_size(workspace, static_cast<int64_t>(s.backward_workspace), "workspace");
    detail::check_size(grads.dy, s.y, "grads.dy");
    detail::check_size(grads.dout, s.out, "grads.dout");
    detail::check_size(grads.dh_n, s.h, "grads.dh_n");
    detail::check_size(grads.dc_n, s.c, "grads.dc_n");
    detail::check_size(grads.dx, s.x, "grads.dx");
    detail::check_size(grads.dh0, s.h, "grads.dh0");
    detail::check_size(grads.dc0, s.c, "grads.dc0");
    detail::check_size(grads.grads, s.params, "grads.grads");
    const simdrnn_forward_args f = args.to_c();
    simdrnn_backward_args b{};
    b.forward = &f;
    b.reserve = reserve.data();
    b.reserve_size = reserve.size();
    b.dy = grads.dy.data();
    b.dout = grads.dout.data();
    b.dh_n = grads.dh_n.data();
    b.dc_n = grads.dc_n.data();
    b.dx = grads.dx.data();
    b.dh0 = grads.dh0.data();
    b.dc0 = grads.dc0.data();
    b.grads = grads.grads.data();
    b.accumulate = grads.accumulate ? 1 : 0;
    b.workspace = workspace.data();
    b.workspace_size = workspace.size();
    b.num_threads = grads.num_threads;
    check(simdrnn_backward(handle_, &b));
  }

 private:
  // Checks every buffer of `args` against the call's sizes; returns them.
  simdrnn_sizes check_forward(const ForwardArgs& args) const {
    const simdrnn_sizes s = sizes(args);
    detail::require(args.x, "args.x");
    detail::check_size(args.x, s.x, "args.x");
    detail::check_size(args.h0, s.h, "args.h0");
    detail::check_size(args.c0, s.c, "args.c0");
    detail::check_size(args.seq_lens, s.seq_lens, "args.seq_lens");
    detail::check_size(args.y, s.y, "args.y");
    detail::check_size(args.h_n, s.h, "args.h_n");
    detail::check_size(args.c_n, s.c, "args.c_n");
    detail::check_size(args.out, s.out, "args.out");
    return s;
  }

  struct Adopt {};
  Model(Adopt, simdrnn_model* handle) noexcept : handle_(handle) {}

  simdrnn_model* handle_ = nullptr;
};

// Optimiser helpers over flat vectors (simdrnn.h).
inline float clip_grad_norm(Span<float> grads, float max_norm, int32_t threads = 0) {
  float norm = 0.0f;
  check(simdrnn_clip_grad_norm(grads.data(), static_cast<int64_t>(grads.size()), max_norm, &norm, threads));
  return norm;
}
inline void adam_step(Span<float> params, Span<const float> grads, Span<float> m, Span<float> v, int64_t step,
                      float lr, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
                      float weight_decay = 0.0f, int32_t threads = 0) {
  if (grads.size() != params.size() || m.size() != params.size() || v.size() != params.size())
    throw Error(SIMDRNN_INVALID_ARGUMENT, "grads, m, v: expected params.size() floats each");
  check(simdrnn_adam_step(params.data(), grads.data(), m.data(), v.data(), static_cast<int64_t>(params.size()),
                          step, lr, beta1, beta2, eps, weight_decay, threads));
}
inline void sgd_step(Span<float> params, Span<const float> grads, Span<float> velocity, float lr,
                     float momentum = 0.0f, float weight_decay = 0.0f, int32_t threads = 0) {
  if (grads.size() != params.size() || velocity.size() != params.size())
    throw Error(SIMDRNN_INVALID_ARGUMENT, "grads, velocity: expected params.size() floats each");
  check(simdrnn_sgd_step(params.data(), grads.data(), velocity.data(), static_cast<int64_t>(params.size()), lr,
                         momentum, weight_decay, threads));
}

// Hidden state of a batch advanced a chunk of steps per call.
class Stream {
 public:
  Stream(const Model& model, int64_t batch, int64_t max_steps)
      : config_(model.config()), batch_(batch), max_steps_(max_steps) {
    check(simdrnn_stream_create(model.get(), batch, max_steps, &handle_));
  }
  ~Stream() { simdrnn_stream_destroy(handle_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)),
        config_(other.config_),
        batch_(other.batch_),
        max_steps_(other.max_steps_) {}
  Stream& operator=(Stream&& other) noexcept {
    std::swap(handle_, other.handle_);
    std::swap(config_, other.config_);
    std::swap(batch_, other.batch_);
    std::swap(max_steps_, other.max_steps_);
    return *this;
  }

  // Elements of the carried state [L, N, H_out].
  int64_t state_size() const {
    return config_.num_layers * batch_ * (config_.proj_size > 0 ? config_.proj_size : config_.hidden_size);
  }
  // Elements of an LSTM's carried cell state [L, N, H] (0 for other cells).
  int64_t cell_state_size() const {
    return config_.cell == Cell::Lstm ? config_.num_layers * batch_ * config_.hidden_size : 0;
  }
  // Sets the state (empty: zeros); c0 for an LSTM only.
  void reset(Span<const float> h0 = {}, Span<const float> c0 = {}) {
    detail::check_size(h0, state_size(), "h0");
    detail::check_size(c0, cell_state_size(), "c0");
    check(simdrnn_stream_reset(handle_, h0.data(), c0.data()));
  }
  // Advances `steps` steps: x [steps, N, I]; y [steps, N, H_out] and out
  // [steps, N, O] may be empty.
  void step(int64_t steps, Span<const float> x, Span<float> y, Span<float> out = {}, int32_t threads = 0) {
    const int64_t rows = steps * batch_;
    detail::require(x, "x");
    if (steps >= 1 && steps <= max_steps_) {
      detail::check_size(x, rows * config_.input_size, "x");
      detail::check_size(y, rows * (config_.proj_size > 0 ? config_.proj_size : config_.hidden_size), "y");
      detail::check_size(out, rows * config_.output_size, "out");
    }
    check(simdrnn_stream_step(handle_, steps, x.data(), y.data(), out.data(), threads));
  }
  // Copies the state into h (and an LSTM's cell state into c, when given).
  void state(Span<float> h, Span<float> c = {}) const {
    detail::require(h, "h");
    detail::check_size(h, state_size(), "h");
    detail::check_size(c, cell_state_size(), "c");
    check(simdrnn_stream_state(handle_, h.data(), c.data()));
  }

 private:
  simdrnn_stream* handle_ = nullptr;
  Config config_;
  int64_t batch_ = 0, max_steps_ = 0;
};

}  // namespace simdrnn

#endif  // SIMDRNN_SIMDRNN_HPP_
