// Argument checks shared by the C entry points: shapes and their checked
// element counts, buffer overlaps, thread counts. Each check records a message
// naming the argument, what was expected and what was given.
#pragma once

#include <cstddef>
#include <cstdint>

#include "src/internal.hpp"

namespace simdrnn {

// A buffer an entry point reads or writes.
// `name` is how the caller knows it ("args->y"); `same_as` names the one
// region it may coincide with exactly (an in-place state update: h_n == h0).
struct Region {
  const char* name;
  uintptr_t begin, end;
  bool written;
  const char* same_as;
};
inline Region region(const char* name, const void* p, int64_t bytes, bool written,
                     const char* same_as = nullptr) {
  const uintptr_t b = reinterpret_cast<uintptr_t>(p);
  return {name, b, p ? b + static_cast<uintptr_t>(bytes) : b, written, same_as};
}
// Every written region must be disjoint from every other region, except a
// pair that coincides exactly where one names the other in same_as.
simdrnn_status check_overlaps(const Region* regions, size_t count);
template <size_t kCount>
simdrnn_status check_overlaps(const Region (&regions)[kCount]) {
  return check_overlaps(regions, kCount);
}

struct Shapes {
  int64_t x, y, h, out;  // element counts
};
// Validates sizes and enums of a forward call; fills element counts.
simdrnn_status check_shape_args(const Model& m, const simdrnn_forward_args* a, Shapes* s);
// Creation checks shared by streams and training sessions (`purpose` names
// the object in the bidirectional message); fills the state shapes.
simdrnn_status check_carried(const Model& m, int64_t batch, int64_t max_steps, const char* purpose,
                             Shapes* s);
simdrnn_status check_threads(int32_t n, const char* arg);
simdrnn_status check_count(int64_t count, const char* arg);
simdrnn_status check_training_model(const Model& m);

}  // namespace simdrnn
