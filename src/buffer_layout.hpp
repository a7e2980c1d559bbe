// Carving a caller's buffer (workspace, training reserve) into 64-byte
// aligned pieces. The same code measures a layout (no base: sizes only) and
// lays it out (base: pointers), so the size a call reports and the pointers
// it uses cannot drift apart. Every size is checked: a piece whose byte
// count overflows makes the whole layout report -1.
#pragma once

#include <cstdint>

#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {

class BufferLayout {
 public:
  // Largest buffer a layout may need; far beyond any machine, small enough
  // that sizes, offsets and size_t conversions stay exact.
  static constexpr int64_t kMaxBytes = int64_t{1} << 62;

  explicit BufferLayout(void* base = nullptr)
      : base_(
            base ? reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(base) + 63) & ~uintptr_t{63})
                 : nullptr) {}

  // The next piece of `count` elements of T (count < 0: an overflowed size).
  // Null when only measuring, or once the layout has overflowed.
  template <class T>
  T* take(int64_t count) {
    int64_t bytes = 0;
    if (offset_ < 0 || count < 0 || !checked_mul(count, static_cast<int64_t>(sizeof(T)), &bytes) ||
        !checked_add(bytes, 63, &bytes) || !checked_add(offset_, bytes & ~int64_t{63}, &offset_) ||
        offset_ > kMaxBytes) {
      offset_ = -1;
      return nullptr;
    }
    return base_ ? reinterpret_cast<T*>(base_ + offset_ - (bytes & ~int64_t{63})) : nullptr;
  }
  // Bytes the caller must provide (the pieces plus 64 to align its pointer),
  // 0 for an empty layout, -1 when a size overflowed.
  int64_t bytes() const { return offset_ < 0 ? -1 : offset_ == 0 ? 0 : offset_ + 64; }

 private:
  unsigned char* base_;
  int64_t offset_ = 0;
};

}  // namespace lib
}  // namespace simdrnn
