// Checks of simdrnn_last_error() shared by the bad-input tests: prime the
// message so a stale one cannot pass, then assert it names the argument(s).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"

namespace simdrnn_test {

inline std::string last_error() {
  const char* m = simdrnn_last_error();
  return m ? m : "";
}

// Leaves a last-error message that contains none of `avoid`, so that a check
// of the next call's message cannot pass on a stale one.
inline void prime_last_error(const std::vector<std::string>& avoid) {
  auto clean = [&] {
    const std::string m = last_error();
    for (const std::string& a : avoid)
      if (m.find(a) != std::string::npos) return false;
    return true;
  };
  simdrnn_weights* w = nullptr;
  simdrnn_weights_create(nullptr, &w);  // about "config"
  if (clean()) return;
  simdrnn_stream_state(nullptr, nullptr, nullptr);  // about "stream"
  if (clean()) return;
  simdrnn_weights_set_onnx(nullptr, 0, nullptr, nullptr, nullptr, nullptr);  // about "weights"
}

inline testing::AssertionResult LastErrorNamesAny(const std::vector<std::string>& names) {
  const std::string m = last_error();
  for (const std::string& n : names)
    if (m.find(n) != std::string::npos) return testing::AssertionSuccess();
  auto r = testing::AssertionFailure() << "simdrnn_last_error() = \"" << m << "\" names none of:";
  for (const std::string& n : names) r << " '" << n << "'";
  return r;
}

inline testing::AssertionResult LastErrorNamesAll(const std::vector<std::string>& names) {
  const std::string m = last_error();
  for (const std::string& n : names)
    if (m.find(n) == std::string::npos)
      return testing::AssertionFailure() << "simdrnn_last_error() = \"" << m << "\" does not name '" << n << "'";
  return testing::AssertionSuccess();
}

}  // namespace simdrnn_test
