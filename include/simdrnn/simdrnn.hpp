// simdrnn C++ API: header-only RAII wrappers over the C API in simdrnn.h.
// Every failure throws simdrnn::Error (a std::runtime_error carrying the
// simdrnn_status and the library's message); nothing else is thrown except
// std::bad_alloc from the convenience overloads that allocate.
#ifndef SIMDRNN_SIMDRNN_HPP_
#define SIMDRNN_SIMDRNN_HPP_

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "simdrnn/simdrnn.h"

namespace simdrnn {

using Config = simdrnn_config;
using ForwardArgs = simdrnn_forward_args;

enum class Activation { Tanh = SIMDRNN_TANH, Relu = SIMDRNN_RELU, Sigmoid = SIMDRNN_SIGMOID };
enum class Layout { TimeMajor = SIMDRNN_TIME_MAJOR, BatchMajor = SIMDRNN_BATCH_MAJOR };
enum class Isa { Scalar = SIMDRNN_ISA_SCALAR, Avx2 = SIMDRNN_ISA_AVX2, Avx512 = SIMDRNN_ISA_AVX512 };

// The exception type of the C++ API.
class Error : public std::runtime_error {
 public:
  Error(simdrnn_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  simdrnn_status status() const noexcept { return status_; }

 private:
  simdrnn_status status_;
};

inline void check(simdrnn_status status) {
  if (status != SIMDRNN_OK) throw Error(status, simdrnn_last_error());
}

inline std::string version() { return simdrnn_version(); }
inline Isa detected_isa() { return static_cast<Isa>(simdrnn_detected_isa()); }
inline Isa active_isa() { return static_cast<Isa>(simdrnn_active_isa()); }
inline void set_max_isa(Isa isa) { check(simdrnn_set_max_isa(static_cast<simdrnn_isa>(isa))); }
inline std::string isa_name(Isa isa) { return simdrnn_isa_name(static_cast<simdrnn_isa>(isa)); }
inline Config default_config() { return simdrnn_config_default(); }

// Collects weights by PyTorch name or ONNX layer; see simdrnn_weights_set.
class Weights {
 public:
  explicit Weights(const Config& config) { check(simdrnn_weights_create(&config, &handle_)); }
  ~Weights() { simdrnn_weights_destroy(handle_); }
  Weights(const Weights&) = delete;
  Weights& operator=(const Weights&) = delete;
  Weights(Weights&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Weights& operator=(Weights&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }

  Weights& set(const std::string& name, const float* data, int64_t count) {
    check(simdrnn_weights_set(handle_, name.c_str(), data, count));
    return *this;
  }
  Weights& set(const std::string& name, const std::vector<float>& data) {
    return set(name, data.data(), static_cast<int64_t>(data.size()));
  }
  Weights& set_onnx(int64_t layer, const float* W, const float* R, const float* B) {
    check(simdrnn_weights_set_onnx(handle_, layer, W, R, B));
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
    Config c{};
    check(simdrnn_model_config(handle_, &c));
    return c;
  }
  Isa isa() const {
    simdrnn_isa isa{};
    check(simdrnn_model_isa(handle_, &isa));
    return static_cast<Isa>(isa);
  }
  size_t workspace_size(const ForwardArgs& args) const {
    size_t bytes = 0;
    check(simdrnn_forward_workspace_size(handle_, &args, &bytes));
    return bytes;
  }
  // Runs with the caller's workspace (args.workspace); allocates nothing.
  void forward(const ForwardArgs& args) const { check(simdrnn_forward(handle_, &args)); }
  // Convenience: sizes `workspace` (may allocate) and runs.
  void forward(ForwardArgs args, std::vector<unsigned char>& workspace) const {
    workspace.resize(workspace_size(args));
    args.workspace = workspace.data();
    args.workspace_size = workspace.size();
    forward(args);
  }
  const simdrnn_model* get() const noexcept { return handle_; }
  simdrnn_model* get() noexcept { return handle_; }

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
  // Replaces the parameters; nothing else may use the model meanwhile.
  void set_params(const std::vector<float>& params) {
    if (static_cast<int64_t>(params.size()) != num_params())
      throw Error(SIMDRNN_INVALID_ARGUMENT, "params: expected num_params() floats");
    check(simdrnn_model_set_params(handle_, params.data()));
  }
  // Also prepares the model for training (once).
  size_t training_reserve_size(const ForwardArgs& args) const {
    size_t bytes = 0;
    check(simdrnn_training_reserve_size(handle_, &args, &bytes));
    return bytes;
  }
  void forward_training(const ForwardArgs& args, void* reserve, size_t reserve_size) const {
    check(simdrnn_forward_training(handle_, &args, reserve, reserve_size));
  }
  size_t backward_workspace_size(const ForwardArgs& args) const {
    size_t bytes = 0;
    check(simdrnn_backward_workspace_size(handle_, &args, &bytes));
    return bytes;
  }
  void backward(const simdrnn_backward_args& args) const { check(simdrnn_backward(handle_, &args)); }

 private:
  simdrnn_model* handle_ = nullptr;
};

using BackwardArgs = simdrnn_backward_args;

// Optimiser helpers over flat vectors (simdrnn.h).
inline float clip_grad_norm(std::vector<float>& grads, float max_norm, int32_t threads = 0) {
  float norm = 0.0f;
  check(simdrnn_clip_grad_norm(grads.data(), static_cast<int64_t>(grads.size()), max_norm, &norm, threads));
  return norm;
}
inline void adam_step(std::vector<float>& params, const std::vector<float>& grads, std::vector<float>& m,
                      std::vector<float>& v, int64_t step, float lr, float beta1 = 0.9f, float beta2 = 0.999f,
                      float eps = 1e-8f, float weight_decay = 0.0f, int32_t threads = 0) {
  if (grads.size() != params.size() || m.size() != params.size() || v.size() != params.size())
    throw Error(SIMDRNN_INVALID_ARGUMENT, "grads, m, v: expected params.size() floats each");
  check(simdrnn_adam_step(params.data(), grads.data(), m.data(), v.data(), static_cast<int64_t>(params.size()),
                          step, lr, beta1, beta2, eps, weight_decay, threads));
}
inline void sgd_step(std::vector<float>& params, const std::vector<float>& grads, std::vector<float>& velocity,
                     float lr, float momentum = 0.0f, float weight_decay = 0.0f, int32_t threads = 0) {
  if (grads.size() != params.size() || velocity.size() != params.size())
    throw Error(SIMDRNN_INVALID_ARGUMENT, "grads, velocity: expected params.size() floats each");
  check(simdrnn_sgd_step(params.data(), grads.data(), velocity.data(), static_cast<int64_t>(params.size()), lr,
                         momentum, weight_decay, threads));
}

// Hidden state of a batch advanced a chunk of steps per call.
class Stream {
 public:
  Stream(const Model& model, int64_t batch, int64_t max_steps) {
    check(simdrnn_stream_create(model.get(), batch, max_steps, &handle_));
  }
  ~Stream() { simdrnn_stream_destroy(handle_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Stream& operator=(Stream&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }

  void reset(const float* h0 = nullptr) { check(simdrnn_stream_reset(handle_, h0)); }
  void step(int64_t steps, const float* x, float* y, float* out = nullptr, int32_t threads = 0) {
    check(simdrnn_stream_step(handle_, steps, x, y, out, threads));
  }
  void state(float* h) const { check(simdrnn_stream_state(handle_, h)); }

 private:
  simdrnn_stream* handle_ = nullptr;
};

}  // namespace simdrnn

#endif  // SIMDRNN_SIMDRNN_HPP_
