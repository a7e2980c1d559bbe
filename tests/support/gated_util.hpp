// Helpers shared by the LSTM / GRU tests (test_gated_*.cpp): the cell variants under test, a
// guarded output buffer, bitwise comparison with an ulp report, handle owners, and the
// conversion of reference weights to the oneDNN baseline's.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/onednn_rnn.hpp"
#include "support/reference.hpp"

namespace simdrnn_test {

// SIMDRNN_TEST_QUICK=1 (the sanitizer build's test run) trims the sweeps.
inline bool quick_mode() {
  const char* quick = std::getenv("SIMDRNN_TEST_QUICK");
  return quick != nullptr && quick[0] != '\0' && quick[0] != '0';
}

// One kind of gated cell as the tests sweep them.
struct CellVariant {
  const char* name;  // used in test names: letters, digits and '_' only
  simdrnn_cell cell;
  bool peephole;                    // LSTM: weight_peephole set
  bool projection;                  // LSTM: proj_size > 0
  int32_t gru_linear_before_reset;  // GRU: 1 (PyTorch) or 0 (ONNX)
};

inline const std::vector<CellVariant>& gated_variants() {
  static const std::vector<CellVariant> variants = {
      {"lstm", SIMDRNN_CELL_LSTM, false, false, 1},
      {"lstm_peephole", SIMDRNN_CELL_LSTM, true, false, 1},
      {"lstm_proj", SIMDRNN_CELL_LSTM, false, true, 1},
      {"lstm_peephole_proj", SIMDRNN_CELL_LSTM, true, true, 1},
      {"gru", SIMDRNN_CELL_GRU, false, false, 1},
      {"gru_reset_first", SIMDRNN_CELL_GRU, false, false, 0},
  };
  return variants;
}

// A projection size for hidden size H: about half of H, and always in 1..H-1 (none for H == 1,
// where no projection is possible).
inline int64_t projection_for(int64_t hidden) { return hidden > 1 ? std::max<int64_t>(1, hidden / 2) : 0; }

// The configuration of `variant` with the given sizes (proj_size from projection_for(hidden)).
inline simdrnn_config variant_config(const CellVariant& variant, int64_t input, int64_t hidden) {
  simdrnn_config c = simdrnn_config_default();
  c.input_size = input;
  c.hidden_size = hidden;
  c.cell = variant.cell;
  c.proj_size = variant.projection ? projection_for(hidden) : 0;
  c.gru_linear_before_reset = variant.gru_linear_before_reset;
  return c;
}

inline BaselineWeights to_baseline(const RefWeights& ref) {
  BaselineWeights b;
  for (const RefCell& c : ref.cells) {
    BaselineCell cell;
    cell.w_ih = c.w_ih;
    cell.w_hh = c.w_hh;
    cell.b_ih = c.b_ih;
    cell.b_hh = c.b_hh;
    cell.w_hr = c.w_hr;
    cell.peephole = c.peephole;
    b.cells.push_back(std::move(cell));
  }
  b.w_hy = ref.w_hy;
  b.b_y = ref.b_hy;
  return b;
}

// A float buffer with guard zones before and after, pre-filled with a NaN sentinel so that
// unwritten elements and writes out of bounds are both visible.
class GuardedBuffer {
 public:
  static constexpr int64_t kGuard = 16;
  static constexpr uint32_t kSentinel = 0x7fc0dead;  // a quiet NaN with a recognisable payload

  GuardedBuffer() = default;
  GuardedBuffer(int64_t size, bool misalign)
      : lead_(kGuard + (misalign ? 1 : 0)),
        size_(size),
        storage_(static_cast<size_t>(lead_ + size + kGuard)) {
    for (float& v : storage_) std::memcpy(&v, &kSentinel, sizeof(v));
  }
  void assign(const std::vector<float>& values) { std::copy(values.begin(), values.end(), data()); }
  float* data() { return storage_.empty() ? nullptr : storage_.data() + lead_; }
  const float* data() const { return storage_.empty() ? nullptr : storage_.data() + lead_; }
  int64_t size() const { return size_; }
  std::vector<float> contents() const { return std::vector<float>(data(), data() + size_); }
  bool guards_intact() const {
    auto intact = [&](int64_t from, int64_t to) {
      for (int64_t i = from; i < to; ++i) {
        uint32_t bits;
        std::memcpy(&bits, &storage_[static_cast<size_t>(i)], sizeof(bits));
        if (bits != kSentinel) return false;
      }
      return true;
    };
    return intact(0, lead_) && intact(lead_ + size_, static_cast<int64_t>(storage_.size()));
  }

 private:
  int64_t lead_ = 0;
  int64_t size_ = 0;
  std::vector<float> storage_;
};

// Bitwise comparison; on mismatch, says where and by how many ulps, to tell a reordered sum
// (a few ulps) from a real bug.
inline ::testing::AssertionResult bit_identical(const std::vector<float>& got, const std::vector<float>& want,
                                                const std::string& what) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << what << ": size " << got.size() << " vs " << want.size();
  if (got.empty() || std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0)
    return ::testing::AssertionSuccess();
  int64_t differing = 0, first = -1, max_ulps = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    int32_t a, b;
    std::memcpy(&a, &got[i], sizeof(a));
    std::memcpy(&b, &want[i], sizeof(b));
    if (a == b) continue;
    if (first < 0) first = static_cast<int64_t>(i);
    ++differing;
    // Sign-magnitude bits to a monotonic integer line, so the distance counts representable floats.
    auto line = [](int32_t bits) -> int64_t {
      return bits < 0 ? -static_cast<int64_t>(bits & 0x7fffffff) : bits;
    };
    max_ulps = std::max<int64_t>(max_ulps, std::llabs(line(a) - line(b)));
  }
  return ::testing::AssertionFailure()
         << what << ": " << differing << " of " << got.size() << " elements differ (first at " << first
         << ": " << got[static_cast<size_t>(first)] << " vs " << want[static_cast<size_t>(first)]
         << "; largest difference " << max_ulps << " ulp)";
}

struct ModelDeleter {
  void operator()(simdrnn_model* model) const { simdrnn_model_destroy(model); }
};
using ModelPtr = std::unique_ptr<simdrnn_model, ModelDeleter>;
struct StreamDeleter {
  void operator()(simdrnn_stream* stream) const { simdrnn_stream_destroy(stream); }
};
using StreamPtr = std::unique_ptr<simdrnn_stream, StreamDeleter>;

}  // namespace simdrnn_test
