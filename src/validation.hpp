// Argument checks shared by the C entry points: shapes and their checked
// element counts, buffer overlaps, thread counts. Each check records a message
// naming the argument, what was expected and what was given.
#pragma once

#include <cstddef>
#include <cstdint>

#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {

// A buffer an entry point reads or writes. `name` is how the caller knows it
// ("args->y"); `align` the alignment its element type needs; `same_as` names
// the one region it may coincide with exactly (an in-place state update:
// h_n == h0).
struct Region {
  const char* name;
  uintptr_t begin, end;
  size_t align;
  const char* type;
  bool written;
  const char* same_as;
};
// `count` elements of T at p (p may be NULL: an absent buffer).
template <class T>
Region region(const char* name, const T* p, int64_t count, bool written, const char* same_as = nullptr) {
  const uintptr_t b = reinterpret_cast<uintptr_t>(p);
  const char* type = sizeof(T) == 8 ? "int64_t" : sizeof(T) == 4 ? "float" : "byte";
  return {name, b, p ? b + static_cast<uintptr_t>(count) * sizeof(T) : b, alignof(T), type, written, same_as};
}
inline Region bytes_region(const char* name, const void* p, int64_t bytes, bool written) {
  return region(name, static_cast<const unsigned char*>(p), bytes, written);
}
// Every pointer must be aligned for its type (a misaligned float* cannot be
// read as floats); every written region must be disjoint from every other
// region, except a pair that coincides exactly where one names the other in
// same_as.
simdrnn_status check_regions(const Region* regions, size_t count);
template <size_t kCount>
simdrnn_status check_regions(const Region (&regions)[kCount]) {
  return check_regions(regions, kCount);
}

struct Shapes {
  int64_t x, y, h, c, out;  // element counts of x, y (and dy), h0 / h_n, c0 / c_n (LSTM), out
  // Bytes: forward workspace (with or without y, as the args say), training
  // reserve and backward workspace.
  int64_t workspace, reserve, backward_workspace;
};
// Validates sizes and enums of a forward call; fills element counts and
// buffer sizes (a size that does not fit in 2^62 bytes is an error naming
// seq_len and batch).
simdrnn_status check_shape_args(const Model& m, const simdrnn_forward_args* a, Shapes* s);
// Creation checks shared by streams and training sessions (`purpose` names
// the object in the bidirectional message); fills the state shapes.
simdrnn_status check_carried(const Model& m, int64_t batch, int64_t max_steps, const char* purpose,
                             Shapes* s);
simdrnn_status check_threads(int32_t n, const char* arg);
simdrnn_status check_count(int64_t count, const char* arg);
simdrnn_status check_training_model(const Model& m);

}  // namespace lib
}  // namespace simdrnn
