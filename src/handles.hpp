// Opaque handles of the C API and the exception firewall every entry point
// runs under: handle tables, lookup with a clear message, and the objects
// behind stream and training-session handles.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {

#define SIMDRNN_FAIL(...) return fail(SIMDRNN_INVALID_ARGUMENT, __VA_ARGS__)

// Opaque handles are not pointers: they encode a slot index, a generation and
// a type tag. A destroyed handle (generation moved on), a handle of another
// type, or any real pointer is rejected without dereferencing it. Lookups are
// lock-free; only create and destroy take the table's mutex.
template <class T, uint64_t kTag>
class HandleTable {
 public:
  static constexpr uint64_t kSlots = 1 << 14;

  // Takes ownership; returns 0 when the table is full.
  uint64_t insert(std::unique_ptr<T> object) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.empty() && next_ == kSlots) return 0;
    uint64_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = next_++;
    }
    const uint64_t gen = generation_[index].load(std::memory_order_relaxed);
    object_[index].store(object.release(), std::memory_order_release);
    return gen << 32 | index << 8 | kTag;
  }

  T* find(const void* handle) const {
    const uint64_t h = reinterpret_cast<uintptr_t>(handle);
    const uint64_t index = (h >> 8) & 0xffffff;
    if ((h & 0xff) != kTag || index >= kSlots) return nullptr;
    if (generation_[index].load(std::memory_order_acquire) != (h >> 32)) return nullptr;
    return object_[index].load(std::memory_order_acquire);
  }

  // Returns false when the handle is not live.
  bool erase(const void* handle) {
    std::unique_ptr<T> doomed;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!find(handle)) return false;
      const uint64_t index = (reinterpret_cast<uintptr_t>(handle) >> 8) & 0xffffff;
      doomed.reset(object_[index].exchange(nullptr));
      uint32_t gen = static_cast<uint32_t>(generation_[index].load() + 1);
      generation_[index].store(gen == 0 ? 1 : gen, std::memory_order_release);
      free_.push_back(index);
    }
    return true;
  }

  HandleTable() {
    for (auto& g : generation_) g.store(1, std::memory_order_relaxed);
  }

 private:
  std::mutex mutex_;
  std::atomic<uint64_t> generation_[kSlots];
  std::atomic<T*> object_[kSlots] = {};
  std::vector<uint64_t> free_;
  uint64_t next_ = 0;
};

// What a stream and a training session share: the hidden state carried
// from call to call for `batch` sequences, in chunks of up to max_steps.
struct Carried {
  uint64_t model_handle;
  const Model* model;  // valid while model_handle is live (checked each call)
  int64_t batch, max_steps;
  AlignedFloats state;       // h [L, N, H_out]
  AlignedFloats cell_state;  // LSTM: c [L, N, H]; null for other cells

  simdrnn_model* model_ptr() const {
    return reinterpret_cast<simdrnn_model*>(static_cast<uintptr_t>(model_handle));
  }
  int64_t state_count() const { return model->config.num_layers * batch * hidden_out(model->config); }
  int64_t cell_count() const {
    return cell_state ? model->config.num_layers * batch * model->config.hidden_size : 0;
  }
};

struct Stream : Carried {
  AlignedFloats workspace;
  int64_t workspace_size;
};

// A truncated-BPTT session: carried state, reserve and workspaces for chunks
// of up to max_steps, and the args of the last forward chunk.
struct TrainSession : Carried {
  AlignedFloats reserve, forward_workspace, backward_workspace;
  int64_t reserve_size, forward_workspace_size, backward_workspace_size;
  simdrnn_forward_args last{};  // valid when has_forward
  bool has_forward = false;
};

inline HandleTable<Weights, 0xa1>& weights_table() {
  static auto* t = new HandleTable<Weights, 0xa1>();  // never destroyed: handles outlive statics
  return *t;
}
inline HandleTable<Model, 0xa2>& model_table() {
  static auto* t = new HandleTable<Model, 0xa2>();
  return *t;
}
inline HandleTable<Stream, 0xa3>& stream_table() {
  static auto* t = new HandleTable<Stream, 0xa3>();
  return *t;
}
inline HandleTable<TrainSession, 0xa4>& session_table() {
  static auto* t = new HandleTable<TrainSession, 0xa4>();
  return *t;
}

template <class Table>
auto lookup(Table& table, const void* handle, const char* arg, const char* type)
    -> decltype(table.find(handle)) {
  auto* object = table.find(handle);
  if (!object) {
    if (!handle)
      fail(SIMDRNN_INVALID_ARGUMENT, "%s: expected a live %s handle, got NULL", arg, type);
    else
      fail(SIMDRNN_INVALID_ARGUMENT, "%s: expected a live %s handle, got %p (destroyed, or not a %s handle)",
           arg, type, handle, type);
  }
  return object;
}

// Runs f() with the exception firewall of the C API.
template <class F>
simdrnn_status guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return fail(SIMDRNN_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(SIMDRNN_INTERNAL_ERROR, "internal error: %s", e.what());
  } catch (...) {
    return fail(SIMDRNN_INTERNAL_ERROR, "internal error: unknown exception");
  }
}

// Destroys a live handle; NULL is a no-op; anything else is recorded as an error.
template <class Table>
simdrnn_status destroy_handle(Table& table, const void* handle, const char* arg, const char* type) {
  if (!handle || table.erase(handle)) return SIMDRNN_OK;
  lookup(table, handle, arg, type);  // records why it is not live
  return SIMDRNN_INVALID_ARGUMENT;
}

// A stream or session whose model is still alive, or null (error recorded).
template <class Table>
auto live_carried(Table& table, const void* handle, const char* arg, const char* type)
    -> decltype(table.find(handle)) {
  auto* c = lookup(table, handle, arg, type);
  if (c && !model_table().find(c->model_ptr())) {
    fail(SIMDRNN_INVALID_ARGUMENT, "%s: its model was destroyed; expected a live model", arg);
    return nullptr;
  }
  return c;
}

}  // namespace lib
}  // namespace simdrnn
