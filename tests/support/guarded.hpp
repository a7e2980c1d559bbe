// A float buffer that ends flush against an inaccessible guard page (and
// starts after one), with canaries in the slack before it: any read or write
// past the end faults at once, writes before it are caught by the canaries.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace simdrnn_test {

class GuardedFloats {
 public:
  explicit GuardedFloats(int64_t count) : count_(count) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = static_cast<size_t>(count) * sizeof(float);
    body_ = (bytes + page - 1) / page * page + page;  // at least one page of canaries
    total_ = body_ + 2 * page;
    void* base = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw std::runtime_error("mmap failed");
    base_ = static_cast<unsigned char*>(base);
    mprotect(base_, page, PROT_NONE);
    mprotect(base_ + page + body_, page, PROT_NONE);
    data_ = reinterpret_cast<float*>(base_ + page + body_ - bytes);
    std::memset(base_ + page, kCanary, body_ - bytes);
  }
  ~GuardedFloats() { munmap(base_, total_); }
  GuardedFloats(const GuardedFloats&) = delete;
  GuardedFloats& operator=(const GuardedFloats&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  float& operator[](int64_t i) { return data_[i]; }
  int64_t size() const { return count_; }

  // True while nothing before data() was written.
  bool canaries_intact() const {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const unsigned char* p = base_ + page;
    const unsigned char* end = reinterpret_cast<const unsigned char*>(data_);
    for (; p < end; ++p)
      if (*p != kCanary) return false;
    return true;
  }

 private:
  static constexpr unsigned char kCanary = 0xa5;
  int64_t count_;
  size_t body_ = 0, total_ = 0;
  unsigned char* base_ = nullptr;
  float* data_ = nullptr;
};

}  // namespace simdrnn_test
