// Bad-input tests for every entry point of the C API (simdrnn.h), plus the C++
// wrapper's exceptions and NaN propagation.
//
// For every rejected call we check (a) the status, (b) that simdrnn_last_error()
// names the offending argument (the message is primed with an unrelated error
// first, so a stale message cannot pass), and (c) that output buffers and out
// handles still hold the sentinel they were filled with.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "simdrnn/simdrnn.hpp"
#include "support/error_checks.hpp"
#include "support/test_util.hpp"

namespace {

constexpr float kSentinel = 12345.0f;
constexpr int64_t kHuge40 = int64_t{1} << 40;
constexpr int64_t kHuge62 = int64_t{1} << 62;

// ---- RAII and model helpers ---------------------------------------------------
struct WeightsDeleter {
  void operator()(simdrnn_weights* w) const { simdrnn_weights_destroy(w); }
};
struct ModelDeleter {
  void operator()(simdrnn_model* m) const { simdrnn_model_destroy(m); }
};
struct StreamDeleter {
  void operator()(simdrnn_stream* s) const { simdrnn_stream_destroy(s); }
};
using WeightsPtr = std::unique_ptr<simdrnn_weights, WeightsDeleter>;
using ModelPtr = std::unique_ptr<simdrnn_model, ModelDeleter>;
using StreamPtr = std::unique_ptr<simdrnn_stream, StreamDeleter>;

simdrnn_config make_config(int64_t I, int64_t H, int64_t L = 1, int32_t bidirectional = 0, int64_t O = 0,
                           simdrnn_activation act = SIMDRNN_TANH, float clip = 0.0f) {
  simdrnn_config c = simdrnn_config_default();
  c.input_size = I;
  c.hidden_size = H;
  c.num_layers = L;
  c.bidirectional = bidirectional;
  c.output_size = O;
  c.activation = act;
  c.clip = clip;
  return c;
}

WeightsPtr make_weights(const simdrnn_config& c) {
  simdrnn_weights* w = nullptr;
  const simdrnn_status st = simdrnn_weights_create(&c, &w);
  EXPECT_EQ(st, SIMDRNN_OK) << simdrnn_last_error();
  return WeightsPtr(st == SIMDRNN_OK ? w : nullptr);
}

void set_tensor(simdrnn_weights* w, const std::string& name, int64_t count, uint32_t seed) {
  const std::vector<float> data = simdrnn_test::random_vector(static_cast<size_t>(count), seed, -0.5f, 0.5f);
  EXPECT_EQ(simdrnn_weights_set(w, name.c_str(), data.data(), count), SIMDRNN_OK)
      << name << ": " << simdrnn_last_error();
}

// Sets every tensor of the configuration (weights and biases).
void set_all(simdrnn_weights* w, const simdrnn_config& c, uint32_t seed = 1) {
  const int64_t D = c.bidirectional ? 2 : 1, H = c.hidden_size;
  for (int64_t k = 0; k < c.num_layers; ++k) {
    const int64_t in = k == 0 ? c.input_size : D * H;
    for (int64_t d = 0; d < D; ++d) {
      const std::string sfx = "_l" + std::to_string(k) + (d ? "_reverse" : "");
      set_tensor(w, "weight_ih" + sfx, H * in, seed++);
      set_tensor(w, "weight_hh" + sfx, H * H, seed++);
      set_tensor(w, "bias_ih" + sfx, H, seed++);
      set_tensor(w, "bias_hh" + sfx, H, seed++);
    }
  }
  if (c.output_size > 0) {
    set_tensor(w, "weight_hy", c.output_size * D * H, seed++);
    set_tensor(w, "bias_hy", c.output_size, seed++);
  }
}

ModelPtr make_model(const simdrnn_config& c, uint32_t seed = 1) {
  WeightsPtr w = make_weights(c);
  if (!w) return nullptr;
  set_all(w.get(), c, seed);
  simdrnn_model* m = nullptr;
  const simdrnn_status st = simdrnn_model_create(w.get(), &m);
  EXPECT_EQ(st, SIMDRNN_OK) << simdrnn_last_error();
  return ModelPtr(st == SIMDRNN_OK ? m : nullptr);
}

// ---- error checking -------------------------------------------------------------
using simdrnn_test::last_error;
using simdrnn_test::prime_last_error;
using simdrnn_test::LastErrorNamesAny;

#define EXPECT_STATUS_NAMING_ANY(expected, names, call)                        \
  do {                                                                         \
    prime_last_error(std::vector<std::string> names);                          \
    const simdrnn_status status_ = (call);                                     \
    EXPECT_EQ(status_, (expected)) << #call << "  [" << last_error() << "]";   \
    if (status_ != SIMDRNN_OK) {                                               \
      EXPECT_TRUE(LastErrorNamesAny(std::vector<std::string> names)) << #call; \
    }                                                                          \
  } while (0)
#define EXPECT_INVALID(name, call) EXPECT_STATUS_NAMING_ANY(SIMDRNN_INVALID_ARGUMENT, ({name}), call)
#define EXPECT_INVALID_ANY(names, call) EXPECT_STATUS_NAMING_ANY(SIMDRNN_INVALID_ARGUMENT, names, call)

testing::AssertionResult AllSentinel(const std::vector<float>& v, const char* what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (std::memcmp(&v[i], &kSentinel, sizeof(float)) != 0)
      return testing::AssertionFailure() << what << "[" << i << "] was overwritten with " << v[i];
  return testing::AssertionSuccess();
}

// Stores an arbitrary int in an enum-typed field, the way a C caller can. In C++
// an enum value outside the enumeration's range is undefined behaviour (and
// UBSan flags loads of it), so the tests never form one as a C++ value; the
// library has to read such fields without loading them as enums.
template <typename E>
void poke_enum(E* field, int value) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized here");
  std::memcpy(field, &value, sizeof value);
}

template <typename T>
T* fake_handle(uintptr_t value) {
  return reinterpret_cast<T*>(value);
}

// =============================================================================
// library-level functions
// =============================================================================
TEST(LibraryErrors, NamesAreNeverNull) {
  EXPECT_STREQ(simdrnn_version(), "0.1.0");
  // Only values inside the enums' ranges (0..7 for both) are formed in C++.
  for (int s = 0; s <= 7; ++s) EXPECT_NE(simdrnn_status_name(static_cast<simdrnn_status>(s)), nullptr);
  for (int i = 0; i <= 7; ++i) EXPECT_NE(simdrnn_isa_name(static_cast<simdrnn_isa>(i)), nullptr);
  EXPECT_STREQ(simdrnn_isa_name(SIMDRNN_ISA_SCALAR), "scalar");
  EXPECT_STREQ(simdrnn_isa_name(SIMDRNN_ISA_AVX2), "avx2");
  EXPECT_STREQ(simdrnn_isa_name(SIMDRNN_ISA_AVX2_VNNI), "avx2_vnni");
  EXPECT_STREQ(simdrnn_isa_name(SIMDRNN_ISA_AVX512), "avx512");
  EXPECT_STREQ(simdrnn_isa_name(SIMDRNN_ISA_AVX512_VNNI), "avx512_vnni");
  EXPECT_STREQ(simdrnn_isa_name(SIMDRNN_ISA_AVX512_BF16), "avx512_bf16");
  EXPECT_STREQ(simdrnn_isa_name(static_cast<simdrnn_isa>(6)), "unknown");
  EXPECT_NE(simdrnn_last_error(), nullptr);
}

TEST(LibraryErrors, SetMaxIsaRejectsUnknownValues) {
  const simdrnn_isa before = simdrnn_active_isa();
  // 6 and 7 are the non-enumerators a C++ caller can pass by value without UB.
  EXPECT_INVALID("isa", simdrnn_set_max_isa(static_cast<simdrnn_isa>(6)));
  EXPECT_INVALID("isa", simdrnn_set_max_isa(static_cast<simdrnn_isa>(7)));
  EXPECT_EQ(simdrnn_active_isa(), before);
}

TEST(LibraryErrors, LastErrorIsThreadLocal) {
  simdrnn_weights* w = nullptr;
  simdrnn_config c = make_config(3, 0);
  ASSERT_EQ(simdrnn_weights_create(&c, &w), SIMDRNN_INVALID_ARGUMENT);
  const std::string mine = last_error();
  ASSERT_NE(mine.find("hidden_size"), std::string::npos) << mine;
  std::string theirs;
  std::thread t([&] {
    simdrnn_stream_state(nullptr, nullptr, nullptr);
    theirs = last_error();
  });
  t.join();
  EXPECT_EQ(last_error(), mine);
  EXPECT_NE(theirs, mine);
}

// =============================================================================
// simdrnn_weights_create / destroy
// =============================================================================
TEST(WeightsCreateErrors, NullPointers) {
  const simdrnn_config c = make_config(3, 4);
  simdrnn_weights* w = fake_handle<simdrnn_weights>(0x1234);
  EXPECT_INVALID("config", simdrnn_weights_create(nullptr, &w));
  EXPECT_EQ(w, fake_handle<simdrnn_weights>(0x1234)) << "out handle touched on failure";
  EXPECT_INVALID("weights", simdrnn_weights_create(&c, nullptr));
}

struct BadConfig {
  const char* what;
  const char* arg;
  simdrnn_config config;
};

std::vector<BadConfig> bad_configs() {
  std::vector<BadConfig> v;
  auto add = [&](const char* what, const char* arg, auto mutate) {
    simdrnn_config c = make_config(3, 4, 1, 0, 0);
    mutate(c);
    v.push_back({what, arg, c});
  };
  add("input_size 0", "input_size", [](simdrnn_config& c) { c.input_size = 0; });
  add("input_size -1", "input_size", [](simdrnn_config& c) { c.input_size = -1; });
  add("hidden_size 0", "hidden_size", [](simdrnn_config& c) { c.hidden_size = 0; });
  add("hidden_size -4", "hidden_size", [](simdrnn_config& c) { c.hidden_size = -4; });
  add("num_layers 0", "num_layers", [](simdrnn_config& c) { c.num_layers = 0; });
  add("num_layers -1", "num_layers", [](simdrnn_config& c) { c.num_layers = -1; });
  add("bidirectional 2", "bidirectional", [](simdrnn_config& c) { c.bidirectional = 2; });
  add("bidirectional -1", "bidirectional", [](simdrnn_config& c) { c.bidirectional = -1; });
  add("activation 3", "activation", [](simdrnn_config& c) { poke_enum(&c.activation, 3); });
  add("activation 7", "activation", [](simdrnn_config& c) { poke_enum(&c.activation, 7); });
  add("activation -1", "activation", [](simdrnn_config& c) { poke_enum(&c.activation, -1); });
  add("clip -1", "clip", [](simdrnn_config& c) { c.clip = -1.0f; });
  add("clip NaN", "clip", [](simdrnn_config& c) { c.clip = std::numeric_limits<float>::quiet_NaN(); });
  add("output_size -1", "output_size", [](simdrnn_config& c) { c.output_size = -1; });
  // Sizes whose products overflow 64 bits.
  add("hidden_size 2^40 (H*H overflows)", "hidden_size", [](simdrnn_config& c) { c.hidden_size = kHuge40; });
  add("input_size 2^62 (H*I overflows)", "input_size", [](simdrnn_config& c) { c.input_size = kHuge62; });
  add("input_size INT64_MAX", "input_size",
      [](simdrnn_config& c) { c.input_size = std::numeric_limits<int64_t>::max(); });
  add("num_layers 2^62 (L*H*H overflows)", "num_layers", [](simdrnn_config& c) { c.num_layers = kHuge62; });
  add("output_size 2^62 (O*H overflows)", "output_size", [](simdrnn_config& c) { c.output_size = kHuge62; });
  add("hidden_size 2^31 (H*H*4 bytes overflows)", "hidden_size",
      [](simdrnn_config& c) { c.hidden_size = int64_t{1} << 31; });
  return v;
}

TEST(WeightsCreateErrors, RejectsBadConfigs) {
  for (const BadConfig& b : bad_configs()) {
    SCOPED_TRACE(b.what);
    simdrnn_weights* w = fake_handle<simdrnn_weights>(0x1234);
    EXPECT_INVALID(b.arg, simdrnn_weights_create(&b.config, &w));
    EXPECT_EQ(w, fake_handle<simdrnn_weights>(0x1234)) << "out handle touched on failure";
    if (w != fake_handle<simdrnn_weights>(0x1234)) simdrnn_weights_destroy(w);
  }
}

TEST(WeightsCreateErrors, AcceptsBoundaryConfigs) {
  for (const simdrnn_config& c : {make_config(1, 1), make_config(3, 4, 2, 1, 1, SIMDRNN_SIGMOID, 0.5f)}) {
    simdrnn_weights* w = nullptr;
    EXPECT_EQ(simdrnn_weights_create(&c, &w), SIMDRNN_OK) << last_error();
    EXPECT_EQ(simdrnn_weights_destroy(w), SIMDRNN_OK);
  }
}

TEST(WeightsDestroyErrors, NullStaleDoubleAndForeign) {
  EXPECT_EQ(simdrnn_weights_destroy(nullptr), SIMDRNN_OK);
  const simdrnn_config c = make_config(3, 4);
  simdrnn_weights* w = nullptr;
  ASSERT_EQ(simdrnn_weights_create(&c, &w), SIMDRNN_OK);
  ASSERT_EQ(simdrnn_weights_destroy(w), SIMDRNN_OK);
  EXPECT_INVALID("weights", simdrnn_weights_destroy(w));  // double destroy

  ModelPtr m = make_model(c);
  ASSERT_TRUE(m);
  EXPECT_INVALID("weights", simdrnn_weights_destroy(reinterpret_cast<simdrnn_weights*>(m.get())));
  alignas(64) unsigned char junk[512];
  std::memset(junk, 0xA5, sizeof junk);
  EXPECT_INVALID("weights", simdrnn_weights_destroy(reinterpret_cast<simdrnn_weights*>(junk)));
  // The model survived being passed as a foreign handle.
  simdrnn_config back{};
  EXPECT_EQ(simdrnn_model_config(m.get(), &back), SIMDRNN_OK);
  EXPECT_EQ(back.hidden_size, 4);
}

// =============================================================================
// simdrnn_weights_set / set_onnx
// =============================================================================
TEST(WeightsSetErrors, NullPointersAndCounts) {
  const simdrnn_config c = make_config(3, 4);
  WeightsPtr w = make_weights(c);
  ASSERT_TRUE(w);
  const std::vector<float> data(64, 0.25f);
  EXPECT_INVALID("weights", simdrnn_weights_set(nullptr, "weight_ih_l0", data.data(), 12));
  EXPECT_INVALID("name", simdrnn_weights_set(w.get(), nullptr, data.data(), 12));
  EXPECT_INVALID("data", simdrnn_weights_set(w.get(), "weight_ih_l0", nullptr, 12));
  EXPECT_INVALID("count", simdrnn_weights_set(w.get(), "weight_ih_l0", data.data(), 11));
  EXPECT_INVALID("count", simdrnn_weights_set(w.get(), "weight_ih_l0", data.data(), 13));
  EXPECT_INVALID("count", simdrnn_weights_set(w.get(), "weight_ih_l0", data.data(), 0));
  EXPECT_INVALID("count", simdrnn_weights_set(w.get(), "weight_ih_l0", data.data(), -12));
  EXPECT_INVALID("count", simdrnn_weights_set(w.get(), "weight_hh_l0", data.data(), 12));  // wants 16
  EXPECT_INVALID("count", simdrnn_weights_set(w.get(), "bias_ih_l0", data.data(), 5));     // wants 4
  EXPECT_INVALID("count", simdrnn_weights_set(w.get(), "bias_hh_l0", data.data(), 3));
  EXPECT_INVALID("count", simdrnn_weights_set(w.get(), "weight_ih_l0", data.data(),
                                              std::numeric_limits<int64_t>::max()));
  // The right counts work.
  EXPECT_EQ(simdrnn_weights_set(w.get(), "weight_ih_l0", data.data(), 12), SIMDRNN_OK) << last_error();
  EXPECT_EQ(simdrnn_weights_set(w.get(), "weight_hh_l0", data.data(), 16), SIMDRNN_OK) << last_error();
  EXPECT_EQ(simdrnn_weights_set(w.get(), "bias_ih_l0", data.data(), 4), SIMDRNN_OK) << last_error();
}

TEST(WeightsSetErrors, UnknownNames) {
  const simdrnn_config c = make_config(3, 4, 1, 0, 0);
  WeightsPtr w = make_weights(c);
  ASSERT_TRUE(w);
  const std::vector<float> data(64, 0.25f);
  for (const char* name :
       {"weight_ih_l5", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "weight_ih_l0_reverse",
        "weight_hh_l0_reverse", "bias_hh_l0_reverse", "bogus", "weight_hy", "bias_hy", "weight_ih_l",
        "weight_ih_l-1", "weight_ih_l0_", "weight_ih_l0_reverse_x", "WEIGHT_IH_L0", "weight_ih_l0 ",
        "weight_ih_l99999999999999999999999"}) {
    SCOPED_TRACE(name);
    EXPECT_INVALID(name, simdrnn_weights_set(w.get(), name, data.data(), 12));
    EXPECT_TRUE(LastErrorNamesAny({"name"})) << "the message should name the argument 'name'";
  }
  EXPECT_INVALID("name", simdrnn_weights_set(w.get(), "", data.data(), 12));
}

TEST(WeightsSetErrors, NamesOfOtherConfigurations) {
  // Bidirectional 2-layer with output layer: layer 1's input is D*H = 8 wide.
  const simdrnn_config c = make_config(3, 4, 2, 1, 2);
  WeightsPtr w = make_weights(c);
  ASSERT_TRUE(w);
  const std::vector<float> data(64, 0.25f);
  EXPECT_EQ(simdrnn_weights_set(w.get(), "weight_ih_l1_reverse", data.data(), 32), SIMDRNN_OK)
      << last_error();
  EXPECT_INVALID("count", simdrnn_weights_set(w.get(), "weight_ih_l1", data.data(), 12));  // wants 4*8
  EXPECT_INVALID("count", simdrnn_weights_set(w.get(), "weight_hy", data.data(), 8));      // wants 2*8
  EXPECT_EQ(simdrnn_weights_set(w.get(), "weight_hy", data.data(), 16), SIMDRNN_OK) << last_error();
  EXPECT_INVALID("weight_ih_l2", simdrnn_weights_set(w.get(), "weight_ih_l2", data.data(), 32));
}

TEST(WeightsSetErrors, StaleAndForeignHandles) {
  const simdrnn_config c = make_config(3, 4);
  const std::vector<float> data(64, 0.25f);
  simdrnn_weights* w = nullptr;
  ASSERT_EQ(simdrnn_weights_create(&c, &w), SIMDRNN_OK);
  ASSERT_EQ(simdrnn_weights_destroy(w), SIMDRNN_OK);
  EXPECT_INVALID("weights", simdrnn_weights_set(w, "weight_ih_l0", data.data(), 12));
  EXPECT_INVALID("weights", simdrnn_weights_set_onnx(w, 0, data.data(), data.data(), nullptr, nullptr));

  ModelPtr m = make_model(c);
  ASSERT_TRUE(m);
  auto* foreign = reinterpret_cast<simdrnn_weights*>(m.get());
  EXPECT_INVALID("weights", simdrnn_weights_set(foreign, "weight_ih_l0", data.data(), 12));
  alignas(64) unsigned char junk[512];
  std::memset(junk, 0, sizeof junk);
  EXPECT_INVALID("weights", simdrnn_weights_set(reinterpret_cast<simdrnn_weights*>(junk), "weight_ih_l0",
                                                data.data(), 12));
  for (unsigned char b : junk) ASSERT_EQ(b, 0) << "a foreign buffer was written";
}

TEST(WeightsSetErrors, FailedSetDoesNotCount) {
  const simdrnn_config c = make_config(3, 4);
  WeightsPtr w = make_weights(c);
  ASSERT_TRUE(w);
  const std::vector<float> data(64, 0.25f);
  ASSERT_EQ(simdrnn_weights_set(w.get(), "weight_ih_l0", data.data(), 12), SIMDRNN_OK);
  ASSERT_NE(simdrnn_weights_set(w.get(), "weight_hh_l0", data.data(), 15), SIMDRNN_OK);
  simdrnn_model* m = fake_handle<simdrnn_model>(0x4321);
  EXPECT_INVALID("weight_hh_l0", simdrnn_model_create(w.get(), &m));
  EXPECT_EQ(m, fake_handle<simdrnn_model>(0x4321));
}

TEST(WeightsSetOnnxErrors, BadArguments) {
  const simdrnn_config c = make_config(3, 4, 2, 1);  // W [2,4,3], R [2,4,4], B [2,8]
  WeightsPtr w = make_weights(c);
  ASSERT_TRUE(w);
  const std::vector<float> data(256, 0.25f);
  const float* p = data.data();
  EXPECT_INVALID("weights", simdrnn_weights_set_onnx(nullptr, 0, p, p, p, nullptr));
  EXPECT_INVALID("layer", simdrnn_weights_set_onnx(w.get(), -1, p, p, p, nullptr));
  EXPECT_INVALID("layer", simdrnn_weights_set_onnx(w.get(), 2, p, p, p, nullptr));
  EXPECT_INVALID("layer", simdrnn_weights_set_onnx(w.get(), kHuge62, p, p, p, nullptr));
  EXPECT_INVALID("W", simdrnn_weights_set_onnx(w.get(), 0, nullptr, p, p, nullptr));
  EXPECT_INVALID("R", simdrnn_weights_set_onnx(w.get(), 0, p, nullptr, p, nullptr));
  EXPECT_EQ(simdrnn_weights_set_onnx(w.get(), 0, p, p, nullptr, nullptr), SIMDRNN_OK) << last_error();
  EXPECT_EQ(simdrnn_weights_set_onnx(w.get(), 1, p, p, p, nullptr), SIMDRNN_OK) << last_error();
  simdrnn_model* m = nullptr;
  EXPECT_EQ(simdrnn_model_create(w.get(), &m), SIMDRNN_OK) << last_error();
  simdrnn_model_destroy(m);
}

// =============================================================================
// simdrnn_model_create / destroy / config / isa
// =============================================================================
TEST(ModelCreateErrors, NullPointers) {
  const simdrnn_config c = make_config(3, 4);
  WeightsPtr w = make_weights(c);
  ASSERT_TRUE(w);
  set_all(w.get(), c);
  simdrnn_model* m = fake_handle<simdrnn_model>(0x4321);
  EXPECT_INVALID("weights", simdrnn_model_create(nullptr, &m));
  EXPECT_EQ(m, fake_handle<simdrnn_model>(0x4321));
  EXPECT_INVALID("model", simdrnn_model_create(w.get(), nullptr));
}

TEST(ModelCreateErrors, MissingWeights) {
  struct Case {
    simdrnn_config config;
    std::vector<std::string> skip;  // tensors left unset
    const char* missing;            // what the message must name
  };
  const std::vector<Case> cases = {
      {make_config(3, 4), {"weight_ih_l0"}, "weight_ih_l0"},
      {make_config(3, 4), {"weight_hh_l0"}, "weight_hh_l0"},
      {make_config(3, 4, 2), {"weight_ih_l1"}, "weight_ih_l1"},
      {make_config(3, 4, 2), {"weight_hh_l1"}, "weight_hh_l1"},
      {make_config(3, 4, 1, 1), {"weight_ih_l0_reverse"}, "weight_ih_l0_reverse"},
      {make_config(3, 4, 1, 1), {"weight_hh_l0_reverse"}, "weight_hh_l0_reverse"},
      {make_config(3, 4, 1, 0, 2), {"weight_hy"}, "weight_hy"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.missing);
    WeightsPtr w = make_weights(k.config);
    ASSERT_TRUE(w);
    const int64_t D = k.config.bidirectional ? 2 : 1, H = k.config.hidden_size;
    uint32_t seed = 7;
    auto maybe_set = [&](const std::string& name, int64_t count) {
      for (const std::string& s : k.skip)
        if (s == name) return;
      set_tensor(w.get(), name, count, seed++);
    };
    for (int64_t l = 0; l < k.config.num_layers; ++l)
      for (int64_t d = 0; d < D; ++d) {
        const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
        maybe_set("weight_ih" + sfx, H * (l == 0 ? k.config.input_size : D * H));
        maybe_set("weight_hh" + sfx, H * H);
      }
    if (k.config.output_size > 0) maybe_set("weight_hy", k.config.output_size * D * H);
    simdrnn_model* m = fake_handle<simdrnn_model>(0x4321);
    EXPECT_INVALID(k.missing, simdrnn_model_create(w.get(), &m));
    EXPECT_EQ(m, fake_handle<simdrnn_model>(0x4321));
    // Biases are optional: setting the missing tensor makes it work.
    set_tensor(w.get(), k.missing,
               std::string(k.missing) == "weight_hy"
                   ? k.config.output_size * D * H
                   : (std::string(k.missing).rfind("weight_ih_l1", 0) == 0 ? H * D * H
                      : std::string(k.missing).rfind("weight_ih", 0) == 0  ? H * k.config.input_size
                                                                           : H * H),
               99);
    m = nullptr;
    EXPECT_EQ(simdrnn_model_create(w.get(), &m), SIMDRNN_OK) << last_error();
    simdrnn_model_destroy(m);
  }
}

TEST(ModelCreateErrors, StaleAndForeignWeights) {
  const simdrnn_config c = make_config(3, 4);
  simdrnn_weights* w = nullptr;
  ASSERT_EQ(simdrnn_weights_create(&c, &w), SIMDRNN_OK);
  set_all(w, c);
  ASSERT_EQ(simdrnn_weights_destroy(w), SIMDRNN_OK);
  simdrnn_model* m = fake_handle<simdrnn_model>(0x4321);
  EXPECT_INVALID("weights", simdrnn_model_create(w, &m));
  EXPECT_EQ(m, fake_handle<simdrnn_model>(0x4321));

  ModelPtr model = make_model(c);
  ASSERT_TRUE(model);
  EXPECT_INVALID("weights", simdrnn_model_create(reinterpret_cast<const simdrnn_weights*>(model.get()), &m));
  EXPECT_EQ(m, fake_handle<simdrnn_model>(0x4321));
}

TEST(ModelDestroyErrors, NullDoubleAndForeign) {
  EXPECT_EQ(simdrnn_model_destroy(nullptr), SIMDRNN_OK);
  const simdrnn_config c = make_config(3, 4);
  ModelPtr keep = make_model(c);
  ASSERT_TRUE(keep);
  simdrnn_model* m = make_model(c).release();
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(simdrnn_model_destroy(m), SIMDRNN_OK);
  EXPECT_INVALID("model", simdrnn_model_destroy(m));

  WeightsPtr w = make_weights(c);
  ASSERT_TRUE(w);
  EXPECT_INVALID("model", simdrnn_model_destroy(reinterpret_cast<simdrnn_model*>(w.get())));
  alignas(64) unsigned char junk[512];
  std::memset(junk, 0x5A, sizeof junk);
  EXPECT_INVALID("model", simdrnn_model_destroy(reinterpret_cast<simdrnn_model*>(junk)));
  // Both real handles still work.
  const std::vector<float> data(12, 0.1f);
  EXPECT_EQ(simdrnn_weights_set(w.get(), "weight_ih_l0", data.data(), 12), SIMDRNN_OK) << last_error();
  simdrnn_isa isa{};
  EXPECT_EQ(simdrnn_model_isa(keep.get(), &isa), SIMDRNN_OK) << last_error();
}

TEST(ModelQueryErrors, ConfigAndIsa) {
  const simdrnn_config c = make_config(3, 4);
  ModelPtr m = make_model(c);
  ASSERT_TRUE(m);
  simdrnn_config out;
  std::memset(&out, 0x7B, sizeof out);
  simdrnn_config untouched;
  std::memset(&untouched, 0x7B, sizeof untouched);
  EXPECT_INVALID("model", simdrnn_model_config(nullptr, &out));
  EXPECT_EQ(std::memcmp(&out, &untouched, sizeof out), 0) << "config written on failure";
  EXPECT_INVALID("config", simdrnn_model_config(m.get(), nullptr));
  simdrnn_isa isa;
  poke_enum(&isa, 77);
  auto isa_untouched = [&] {
    int v;
    std::memcpy(&v, &isa, sizeof v);
    return v == 77;
  };
  EXPECT_INVALID("model", simdrnn_model_isa(nullptr, &isa));
  EXPECT_TRUE(isa_untouched());
  EXPECT_INVALID("isa", simdrnn_model_isa(m.get(), nullptr));

  // Stale and foreign handles.
  simdrnn_model* stale = make_model(c).release();
  ASSERT_NE(stale, nullptr);
  ASSERT_EQ(simdrnn_model_destroy(stale), SIMDRNN_OK);
  EXPECT_INVALID("model", simdrnn_model_config(stale, &out));
  EXPECT_INVALID("model", simdrnn_model_isa(stale, &isa));
  WeightsPtr w = make_weights(c);
  EXPECT_INVALID("model", simdrnn_model_config(reinterpret_cast<const simdrnn_model*>(w.get()), &out));
  EXPECT_EQ(std::memcmp(&out, &untouched, sizeof out), 0) << "config written on failure";
  EXPECT_TRUE(isa_untouched());
}

// =============================================================================
// simdrnn_forward_workspace_size / simdrnn_forward
// =============================================================================
class ForwardErrors : public testing::Test {
 protected:
  // Two layers, so that the call needs a workspace even when y is supplied.
  static constexpr int64_t I = 3, H = 4, L = 2, T = 5, N = 2, O = 2;

  void SetUp() override {
    model_ = make_model(make_config(I, H, L));
    model_out_ = make_model(make_config(I, H, L, 0, O), 5);
    ASSERT_TRUE(model_ && model_out_);
    x_ = simdrnn_test::random_vector(T * N * I, 11);
    h0_ = simdrnn_test::random_vector(L * N * H, 12);
    y_.assign(T * N * H, kSentinel);
    h_n_.assign(L * N * H, kSentinel);
    out_.assign(T * N * O, kSentinel);
  }

  // Valid arguments for `m` with every buffer supplied and a right-sized workspace.
  simdrnn_forward_args valid_args(const simdrnn_model* m) {
    simdrnn_config c{};
    EXPECT_EQ(simdrnn_model_config(m, &c), SIMDRNN_OK);
    simdrnn_forward_args a{};
    a.seq_len = T;
    a.batch = N;
    a.layout = SIMDRNN_TIME_MAJOR;
    a.x = x_.data();
    a.h0 = h0_.data();
    a.y = y_.data();
    a.h_n = h_n_.data();
    a.out = c.output_size > 0 ? out_.data() : nullptr;
    size_t bytes = 0;
    EXPECT_EQ(simdrnn_forward_workspace_size(m, &a, &bytes), SIMDRNN_OK) << last_error();
    workspace_.assign(bytes + 64, 0);
    a.workspace = bytes ? workspace_.data() : nullptr;
    a.workspace_size = bytes;
    return a;
  }

  void ExpectOutputsUntouched() {
    EXPECT_TRUE(AllSentinel(y_, "y"));
    EXPECT_TRUE(AllSentinel(h_n_, "h_n"));
    EXPECT_TRUE(AllSentinel(out_, "out"));
  }

  ModelPtr model_, model_out_;
  std::vector<float> x_, h0_, y_, h_n_, out_;
  std::vector<unsigned char> workspace_;
};

TEST_F(ForwardErrors, ValidBaselineSucceeds) {
  for (const simdrnn_model* m : {model_.get(), model_out_.get()}) {
    simdrnn_forward_args a = valid_args(m);
    ASSERT_EQ(simdrnn_forward(m, &a), SIMDRNN_OK) << last_error();
    EXPECT_FALSE(AllSentinel(y_, "y"));
  }
  // NULL y/h_n/h0/seq_lens (not all outputs at once) and h_n == h0 are allowed.
  simdrnn_forward_args a = valid_args(model_.get());
  a.y = nullptr;
  size_t bytes = 0;
  ASSERT_EQ(simdrnn_forward_workspace_size(model_.get(), &a, &bytes), SIMDRNN_OK);
  workspace_.assign(bytes + 1, 0);
  a.workspace = workspace_.data();
  a.workspace_size = bytes;
  a.h0 = nullptr;
  EXPECT_EQ(simdrnn_forward(model_.get(), &a), SIMDRNN_OK) << last_error();
  a = valid_args(model_.get());
  a.h_n = nullptr;
  EXPECT_EQ(simdrnn_forward(model_.get(), &a), SIMDRNN_OK) << last_error();
  a = valid_args(model_.get());
  a.h_n = h0_.data();
  EXPECT_EQ(simdrnn_forward(model_.get(), &a), SIMDRNN_OK) << last_error();
}

TEST_F(ForwardErrors, WorkspaceSizeBadArguments) {
  simdrnn_forward_args a = valid_args(model_.get());
  size_t bytes = 987654321;
  EXPECT_INVALID("model", simdrnn_forward_workspace_size(nullptr, &a, &bytes));
  EXPECT_INVALID("args", simdrnn_forward_workspace_size(model_.get(), nullptr, &bytes));
  EXPECT_INVALID("bytes", simdrnn_forward_workspace_size(model_.get(), &a, nullptr));
  struct Mut {
    const char* what;
    std::vector<std::string> names;
    void (*mutate)(simdrnn_forward_args&);
  };
  const Mut muts[] = {
      {"seq_len 0", {"seq_len"}, [](simdrnn_forward_args& a) { a.seq_len = 0; }},
      {"seq_len -1", {"seq_len"}, [](simdrnn_forward_args& a) { a.seq_len = -1; }},
      {"batch 0", {"batch"}, [](simdrnn_forward_args& a) { a.batch = 0; }},
      {"batch -3", {"batch"}, [](simdrnn_forward_args& a) { a.batch = -3; }},
      {"layout 3", {"layout"}, [](simdrnn_forward_args& a) { poke_enum(&a.layout, 3); }},
      {"layout -1", {"layout"}, [](simdrnn_forward_args& a) { poke_enum(&a.layout, -1); }},
      {"seq_len*batch overflows",
       {"seq_len", "batch"},
       [](simdrnn_forward_args& a) { a.seq_len = a.batch = kHuge40; }},
      {"seq_len*batch*size overflows",
       {"seq_len", "batch"},
       [](simdrnn_forward_args& a) { a.seq_len = kHuge62; }},
      {"INT64_MAX both",
       {"seq_len", "batch"},
       [](simdrnn_forward_args& a) { a.seq_len = a.batch = std::numeric_limits<int64_t>::max(); }},
  };
  for (const Mut& mu : muts) {
    SCOPED_TRACE(mu.what);
    simdrnn_forward_args b = a;
    mu.mutate(b);
    bytes = 987654321;
    EXPECT_STATUS_NAMING_ANY(SIMDRNN_INVALID_ARGUMENT, (mu.names),
                             simdrnn_forward_workspace_size(model_.get(), &b, &bytes));
    EXPECT_EQ(bytes, 987654321u) << "bytes written on failure";
    EXPECT_STATUS_NAMING_ANY(SIMDRNN_INVALID_ARGUMENT, (mu.names), simdrnn_forward(model_.get(), &b));
    ExpectOutputsUntouched();
  }
}

TEST_F(ForwardErrors, NullPointers) {
  simdrnn_forward_args a = valid_args(model_.get());
  EXPECT_INVALID("model", simdrnn_forward(nullptr, &a));
  EXPECT_INVALID("args", simdrnn_forward(model_.get(), nullptr));
  simdrnn_forward_args b = a;
  b.x = nullptr;
  EXPECT_INVALID("x", simdrnn_forward(model_.get(), &b));
  ExpectOutputsUntouched();
  ASSERT_GT(a.workspace_size, 0u);
  b = a;
  b.workspace = nullptr;
  EXPECT_INVALID("workspace", simdrnn_forward(model_.get(), &b));
  ExpectOutputsUntouched();
}

TEST_F(ForwardErrors, NegativeThreadCount) {
  simdrnn_forward_args a = valid_args(model_.get());
  a.num_threads = -1;
  EXPECT_INVALID("num_threads", simdrnn_forward(model_.get(), &a));
  ExpectOutputsUntouched();
}

TEST_F(ForwardErrors, WorkspaceTooSmall) {
  simdrnn_forward_args a = valid_args(model_.get());
  if (a.workspace_size == 0) GTEST_SKIP() << "this call needs no workspace";
  for (size_t size : {a.workspace_size - 1, a.workspace_size / 2, size_t{0}}) {
    simdrnn_forward_args b = a;
    b.workspace_size = size;
    EXPECT_INVALID("workspace", simdrnn_forward(model_.get(), &b));
    ExpectOutputsUntouched();
  }
  // The size asked for without y is also exact.
  a.y = nullptr;
  size_t bytes = 0;
  ASSERT_EQ(simdrnn_forward_workspace_size(model_.get(), &a, &bytes), SIMDRNN_OK);
  if (bytes > 0) {
    a.workspace_size = bytes - 1;
    EXPECT_INVALID("workspace", simdrnn_forward(model_.get(), &a));
    ExpectOutputsUntouched();
  }
}

TEST_F(ForwardErrors, SeqLens) {
  simdrnn_forward_args a = valid_args(model_.get());
  for (auto lens :
       {std::vector<int64_t>{0, T}, std::vector<int64_t>{T, 0}, std::vector<int64_t>{-1, T},
        std::vector<int64_t>{T + 1, T}, std::vector<int64_t>{T, std::numeric_limits<int64_t>::min()},
        std::vector<int64_t>{T, std::numeric_limits<int64_t>::max()}}) {
    SCOPED_TRACE(testing::PrintToString(lens));
    simdrnn_forward_args b = a;
    b.seq_lens = lens.data();
    EXPECT_INVALID("seq_lens", simdrnn_forward(model_.get(), &b));
    ExpectOutputsUntouched();
  }
  const std::vector<int64_t> ok = {1, T};
  a.seq_lens = ok.data();
  EXPECT_EQ(simdrnn_forward(model_.get(), &a), SIMDRNN_OK) << last_error();
}

TEST_F(ForwardErrors, OutVersusOutputSize) {
  // O == 0: out must be NULL.
  simdrnn_forward_args a = valid_args(model_.get());
  a.out = out_.data();
  EXPECT_INVALID("out", simdrnn_forward(model_.get(), &a));
  ExpectOutputsUntouched();
  // O > 0: out may be NULL (simdrnn.h: skips the output layer); y is still computed.
  simdrnn_forward_args b = valid_args(model_out_.get());
  b.out = nullptr;
  ASSERT_EQ(SIMDRNN_OK, simdrnn_forward(model_out_.get(), &b)) << simdrnn_last_error();
  EXPECT_NE(y_[0], kSentinel);
  // All outputs NULL: nothing to compute is a caller error (simdrnn.h).
  simdrnn_forward_args c = valid_args(model_.get());
  c.y = nullptr, c.h_n = nullptr, c.out = nullptr;
  EXPECT_INVALID("y", simdrnn_forward(model_.get(), &c));
}

TEST_F(ForwardErrors, OverlappingBuffers) {
  const simdrnn_forward_args a = valid_args(model_out_.get());
  const int64_t ny = T * N * H, nh = L * N * H, nx = T * N * I, no = T * N * O;
  std::vector<float> big(4 * (ny + nh + nx + no) + 64, kSentinel);
  float* p = big.data();
  auto expect_big_untouched = [&] { EXPECT_TRUE(AllSentinel(big, "shared buffer")); };
  struct Case {
    const char* what;
    std::vector<std::string> names;
    std::function<void(simdrnn_forward_args&)> mutate;
  };
  const std::vector<Case> cases = {
      {"y overlaps x",
       {"y", "x"},
       [&](simdrnn_forward_args& b) {
         b.x = p;
         b.y = p + 1;
       }},
      {"y == x",
       {"y", "x"},
       [&](simdrnn_forward_args& b) {
         b.x = p;
         b.y = p;
       }},
      {"x ends inside y",
       {"y", "x"},
       [&](simdrnn_forward_args& b) {
         b.y = p + 8;
         b.x = p;
       }},
      {"h_n overlaps y partially",
       {"h_n", "y"},
       [&](simdrnn_forward_args& b) {
         b.y = p;
         b.h_n = p + ny - 1;
       }},
      {"h_n overlaps x",
       {"h_n", "x"},
       [&](simdrnn_forward_args& b) {
         b.x = p;
         b.h_n = p + 3;
       }},
      {"h_n overlaps h0 partially",
       {"h_n", "h0"},
       [&](simdrnn_forward_args& b) {
         b.h0 = p;
         b.h_n = p + 1;
       }},
      {"y overlaps h0",
       {"y", "h0"},
       [&](simdrnn_forward_args& b) {
         b.h0 = p + 2;
         b.y = p;
       }},
      {"out overlaps y",
       {"out", "y"},
       [&](simdrnn_forward_args& b) {
         b.y = p;
         b.out = p + ny - 2;
       }},
      {"out overlaps h_n",
       {"out", "h_n"},
       [&](simdrnn_forward_args& b) {
         b.h_n = p;
         b.out = p + 1;
       }},
      {"out overlaps x",
       {"out", "x"},
       [&](simdrnn_forward_args& b) {
         b.x = p;
         b.out = p + nx - 1;
       }},
      {"workspace overlaps y",
       {"workspace", "y"},
       [&](simdrnn_forward_args& b) {
         b.workspace = p;
         b.y = p + 1;
       }},
      {"y inside workspace end",
       {"workspace", "y"},
       [&](simdrnn_forward_args& b) {
         b.workspace = p;
         b.y = p + (a.workspace_size / sizeof(float)) - 1;
       }},
      {"workspace overlaps h_n",
       {"workspace", "h_n"},
       [&](simdrnn_forward_args& b) {
         b.h_n = p;
         b.workspace = p + 2;
       }},
      {"workspace overlaps out",
       {"workspace", "out"},
       [&](simdrnn_forward_args& b) {
         b.out = p;
         b.workspace = reinterpret_cast<char*>(p) + 3;
       }},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    if (std::string(k.what).find("workspace") != std::string::npos && a.workspace_size == 0) continue;
    simdrnn_forward_args b = a;
    k.mutate(b);
    EXPECT_STATUS_NAMING_ANY(SIMDRNN_INVALID_ARGUMENT, (k.names), simdrnn_forward(model_out_.get(), &b));
    expect_big_untouched();
    ExpectOutputsUntouched();
  }
  // Adjacent (touching, not overlapping) buffers are fine.
  std::fill(big.begin(), big.end(), 0.5f);
  simdrnn_forward_args b = a;
  b.x = p;
  b.y = p + nx;
  b.h_n = p + nx + ny;
  b.out = p + nx + ny + nh;
  b.workspace = p + nx + ny + nh + no;
  EXPECT_EQ(simdrnn_forward(model_out_.get(), &b), SIMDRNN_OK) << last_error();
}

TEST_F(ForwardErrors, StaleAndForeignModel) {
  const simdrnn_forward_args a = valid_args(model_.get());
  simdrnn_model* stale = make_model(make_config(I, H)).release();
  ASSERT_NE(stale, nullptr);
  ASSERT_EQ(simdrnn_model_destroy(stale), SIMDRNN_OK);
  size_t bytes = 987654321;
  EXPECT_INVALID("model", simdrnn_forward(stale, &a));
  EXPECT_INVALID("model", simdrnn_forward_workspace_size(stale, &a, &bytes));
  EXPECT_EQ(bytes, 987654321u);
  ExpectOutputsUntouched();

  WeightsPtr w = make_weights(make_config(I, H));
  ASSERT_TRUE(w);
  set_all(w.get(), make_config(I, H));
  EXPECT_INVALID("model", simdrnn_forward(reinterpret_cast<const simdrnn_model*>(w.get()), &a));
  ExpectOutputsUntouched();
  alignas(64) unsigned char junk[4096];
  std::memset(junk, 0x11, sizeof junk);
  EXPECT_INVALID("model", simdrnn_forward(reinterpret_cast<const simdrnn_model*>(junk), &a));
  EXPECT_INVALID("model", simdrnn_forward(fake_handle<const simdrnn_model>(0x10), &a));
  ExpectOutputsUntouched();
}

// =============================================================================
// streaming
// =============================================================================
class StreamErrors : public testing::Test {
 protected:
  static constexpr int64_t I = 3, H = 4, L = 2, N = 2, S = 3, O = 2;
  void SetUp() override {
    model_ = make_model(make_config(I, H, L, 0, O));
    bidi_ = make_model(make_config(I, H, 1, 1));
    ASSERT_TRUE(model_ && bidi_);
    simdrnn_stream* s = nullptr;
    ASSERT_EQ(simdrnn_stream_create(model_.get(), N, S, &s), SIMDRNN_OK) << last_error();
    stream_.reset(s);
    x_ = simdrnn_test::random_vector(S * N * I, 21);
    y_.assign((S + 1) * N * H, kSentinel);
    out_.assign((S + 1) * N * O, kSentinel);
    // Advance once so that the state is non-trivial.
    std::vector<float> y(S * N * H);
    ASSERT_EQ(simdrnn_stream_step(stream_.get(), S, x_.data(), y.data(), nullptr, 0), SIMDRNN_OK)
        << last_error();
    state_before_ = state();
  }
  std::vector<float> state() {
    std::vector<float> h(L * N * H, -1.0f);
    EXPECT_EQ(simdrnn_stream_state(stream_.get(), h.data(), nullptr), SIMDRNN_OK) << last_error();
    return h;
  }
  void ExpectUnchanged() {
    EXPECT_TRUE(AllSentinel(y_, "y"));
    EXPECT_TRUE(AllSentinel(out_, "out"));
    EXPECT_EQ(state(), state_before_) << "stream state changed by a failed call";
  }
  ModelPtr model_, bidi_;
  StreamPtr stream_;
  std::vector<float> x_, y_, out_, state_before_;
};

TEST_F(StreamErrors, CreateBadArguments) {
  simdrnn_stream* s = fake_handle<simdrnn_stream>(0x777);
  EXPECT_INVALID("model", simdrnn_stream_create(nullptr, N, S, &s));
  EXPECT_INVALID("stream", simdrnn_stream_create(model_.get(), N, S, nullptr));
  EXPECT_INVALID("batch", simdrnn_stream_create(model_.get(), 0, S, &s));
  EXPECT_INVALID("batch", simdrnn_stream_create(model_.get(), -1, S, &s));
  EXPECT_INVALID("max_steps", simdrnn_stream_create(model_.get(), N, 0, &s));
  EXPECT_INVALID("max_steps", simdrnn_stream_create(model_.get(), N, -2, &s));
  EXPECT_INVALID("batch", simdrnn_stream_create(model_.get(), kHuge62, S, &s));  // L*N*H overflows
  EXPECT_INVALID_ANY(({"batch", "max_steps"}), simdrnn_stream_create(model_.get(), kHuge40, kHuge40, &s));
  EXPECT_EQ(s, fake_handle<simdrnn_stream>(0x777)) << "out handle touched on failure";
}

TEST_F(StreamErrors, BidirectionalModelIsRejected) {
  simdrnn_stream* s = fake_handle<simdrnn_stream>(0x777);
  prime_last_error({"bidirectional"});
  const simdrnn_status st = simdrnn_stream_create(bidi_.get(), N, S, &s);
  // "Unidirectional models only": a valid request this model cannot do.
  EXPECT_EQ(st, SIMDRNN_UNSUPPORTED) << last_error();
  EXPECT_TRUE(LastErrorNamesAny({"bidirectional"}));
  EXPECT_EQ(s, fake_handle<simdrnn_stream>(0x777));
}

TEST_F(StreamErrors, StepBadArguments) {
  EXPECT_INVALID("stream", simdrnn_stream_step(nullptr, 1, x_.data(), y_.data(), out_.data(), 0));
  EXPECT_INVALID("steps", simdrnn_stream_step(stream_.get(), 0, x_.data(), y_.data(), out_.data(), 0));
  EXPECT_INVALID("steps", simdrnn_stream_step(stream_.get(), -1, x_.data(), y_.data(), out_.data(), 0));
  EXPECT_INVALID("steps", simdrnn_stream_step(stream_.get(), S + 1, x_.data(), y_.data(), out_.data(), 0));
  EXPECT_INVALID("steps", simdrnn_stream_step(stream_.get(), kHuge62, x_.data(), y_.data(), out_.data(), 0));
  EXPECT_INVALID("x", simdrnn_stream_step(stream_.get(), 1, nullptr, y_.data(), out_.data(), 0));
  ExpectUnchanged();
}

TEST_F(StreamErrors, StepOverlaps) {
  std::vector<float> big(2 * S * N * (I + H + O) + 16, kSentinel);
  float* p = big.data();
  EXPECT_INVALID_ANY(({"y", "x"}), simdrnn_stream_step(stream_.get(), S, p, p + 1, nullptr, 0));
  EXPECT_INVALID_ANY(({"out", "y"}), simdrnn_stream_step(stream_.get(), S, x_.data(), p, p + 1, 0));
  EXPECT_INVALID_ANY(({"out", "x"}), simdrnn_stream_step(stream_.get(), S, p, nullptr, p + 2, 0));
  EXPECT_TRUE(AllSentinel(big, "shared buffer"));
  ExpectUnchanged();
}

TEST_F(StreamErrors, OutOnModelWithoutOutputLayer) {
  ModelPtr m = make_model(make_config(I, H));
  ASSERT_TRUE(m);
  simdrnn_stream* s = nullptr;
  ASSERT_EQ(simdrnn_stream_create(m.get(), N, S, &s), SIMDRNN_OK);
  StreamPtr guard(s);
  EXPECT_INVALID("out", simdrnn_stream_step(s, 1, x_.data(), y_.data(), out_.data(), 0));
  EXPECT_TRUE(AllSentinel(y_, "y"));
  EXPECT_TRUE(AllSentinel(out_, "out"));
}

TEST_F(StreamErrors, ResetAndStateBadArguments) {
  EXPECT_INVALID("stream", simdrnn_stream_reset(nullptr, nullptr, nullptr));
  std::vector<float> h(L * N * H, kSentinel);
  EXPECT_INVALID("stream", simdrnn_stream_state(nullptr, h.data(), nullptr));
  EXPECT_TRUE(AllSentinel(h, "h"));
  EXPECT_INVALID("h", simdrnn_stream_state(stream_.get(), nullptr, nullptr));
  ExpectUnchanged();
}

TEST_F(StreamErrors, StaleDoubleAndForeignHandles) {
  EXPECT_EQ(simdrnn_stream_destroy(nullptr), SIMDRNN_OK);
  simdrnn_stream* s = nullptr;
  ASSERT_EQ(simdrnn_stream_create(model_.get(), N, S, &s), SIMDRNN_OK);
  ASSERT_EQ(simdrnn_stream_destroy(s), SIMDRNN_OK);
  std::vector<float> h(L * N * H, kSentinel);
  EXPECT_INVALID("stream", simdrnn_stream_destroy(s));
  EXPECT_INVALID("stream", simdrnn_stream_step(s, 1, x_.data(), y_.data(), out_.data(), 0));
  EXPECT_INVALID("stream", simdrnn_stream_reset(s, nullptr, nullptr));
  EXPECT_INVALID("stream", simdrnn_stream_state(s, h.data(), nullptr));
  EXPECT_TRUE(AllSentinel(h, "h"));

  auto* foreign = reinterpret_cast<simdrnn_stream*>(model_.get());
  EXPECT_INVALID("stream", simdrnn_stream_step(foreign, 1, x_.data(), y_.data(), out_.data(), 0));
  EXPECT_INVALID("stream", simdrnn_stream_state(foreign, h.data(), nullptr));
  EXPECT_INVALID("stream", simdrnn_stream_destroy(foreign));
  alignas(64) unsigned char junk[1024];
  std::memset(junk, 0x33, sizeof junk);
  EXPECT_INVALID("stream", simdrnn_stream_reset(reinterpret_cast<simdrnn_stream*>(junk), nullptr, nullptr));
  // A stream handle is not a model either.
  EXPECT_INVALID("model", simdrnn_stream_create(reinterpret_cast<simdrnn_model*>(stream_.get()), N, S, &s));
  ExpectUnchanged();
  // The model survived being passed as a stream.
  simdrnn_isa isa{};
  EXPECT_EQ(simdrnn_model_isa(model_.get(), &isa), SIMDRNN_OK);
}

TEST_F(StreamErrors, StaleModelForCreate) {
  simdrnn_model* stale = make_model(make_config(I, H)).release();
  ASSERT_NE(stale, nullptr);
  ASSERT_EQ(simdrnn_model_destroy(stale), SIMDRNN_OK);
  simdrnn_stream* s = fake_handle<simdrnn_stream>(0x777);
  EXPECT_INVALID("model", simdrnn_stream_create(stale, N, S, &s));
  EXPECT_EQ(s, fake_handle<simdrnn_stream>(0x777));
}

// =============================================================================
// C++ API: the same failures throw simdrnn::Error with the status
// =============================================================================
template <typename F>
void ExpectThrows(F&& f, simdrnn_status status, const char* name) {
  try {
    f();
    ADD_FAILURE() << "no simdrnn::Error thrown (expected one naming " << name << ")";
  } catch (const simdrnn::Error& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

TEST(CppApiErrors, ThrowsErrorWithStatus) {
  ExpectThrows([] { simdrnn::Weights w(make_config(3, 0)); }, SIMDRNN_INVALID_ARGUMENT, "hidden_size");
  ExpectThrows(
      [] {
        simdrnn_config c = make_config(3, 4);
        poke_enum(&c.activation, 7);
        simdrnn::Weights w(c);
      },
      SIMDRNN_INVALID_ARGUMENT, "activation");
  ExpectThrows([] { simdrnn::set_max_isa(static_cast<simdrnn::Isa>(6)); }, SIMDRNN_INVALID_ARGUMENT, "isa");

  const simdrnn_config c = make_config(3, 4);
  simdrnn::Weights w(c);
  const std::vector<float> data(16, 0.1f);
  ExpectThrows([&] { w.set("bogus", data); }, SIMDRNN_INVALID_ARGUMENT, "bogus");
  ExpectThrows([&] { w.set("weight_ih_l0", data); }, SIMDRNN_INVALID_ARGUMENT, "count");  // 16 != 12
  ExpectThrows([&] { w.set_onnx(1, data.data(), data.data(), nullptr); }, SIMDRNN_INVALID_ARGUMENT, "layer");
  ExpectThrows([&] { simdrnn::Model m(w); }, SIMDRNN_INVALID_ARGUMENT, "weight_ih_l0");

  w.set("weight_ih_l0", data.data(), 12).set("weight_hh_l0", data);
  const simdrnn::Model model(w);
  std::vector<float> x(3 * 2 * 3, 0.5f), y(3 * 2 * 4, kSentinel);
  simdrnn::ForwardArgs args;
  args.seq_len = 3;
  args.batch = 2;
  args.x = x;
  args.y = y;
  std::vector<unsigned char> ws;
  model.forward(args, ws);  // valid
  std::fill(y.begin(), y.end(), kSentinel);
  args.seq_len = 0;
  ExpectThrows([&] { model.forward(args, ws); }, SIMDRNN_INVALID_ARGUMENT, "seq_len");
  args.seq_len = 3;
  poke_enum(&args.layout, 3);
  ExpectThrows([&] { model.forward(args, ws); }, SIMDRNN_INVALID_ARGUMENT, "layout");
  args.layout = simdrnn::Layout::TimeMajor;
  const std::vector<int64_t> lens = {0, 3};
  args.seq_lens = lens;
  ExpectThrows([&] { model.forward(args, ws); }, SIMDRNN_INVALID_ARGUMENT, "seq_lens");
  EXPECT_TRUE(AllSentinel(y, "y"));

  ExpectThrows([&] { simdrnn::Stream s(model, 0, 4); }, SIMDRNN_INVALID_ARGUMENT, "batch");
  simdrnn::Stream stream(model, 2, 2);
  ExpectThrows([&] { stream.step(3, x, y); }, SIMDRNN_INVALID_ARGUMENT, "steps");
  ExpectThrows([&] { stream.step(0, x, y); }, SIMDRNN_INVALID_ARGUMENT, "steps");
  EXPECT_TRUE(AllSentinel(y, "y"));

  simdrnn::Weights wb(make_config(3, 4, 1, 1));
  wb.set("weight_ih_l0", data.data(), 12).set("weight_hh_l0", data);
  wb.set("weight_ih_l0_reverse", data.data(), 12).set("weight_hh_l0_reverse", data);
  const simdrnn::Model bidi(wb);
  ExpectThrows([&] { simdrnn::Stream s(bidi, 2, 2); }, SIMDRNN_UNSUPPORTED, "bidirectional");
}

TEST(CppApiErrors, MovedFromObjectsThrowNotCrash) {
  simdrnn::Weights w(make_config(3, 4));
  simdrnn::Weights moved = std::move(w);
  const std::vector<float> data(12, 0.1f);
  // The moved-from wrapper holds NULL: the C API reports it instead of crashing.
  ExpectThrows([&] { w.set("weight_ih_l0", data); }, SIMDRNN_INVALID_ARGUMENT, "weights");
  EXPECT_NO_THROW(moved.set("weight_ih_l0", data));
}

// =============================================================================
// NaN propagation (documented: not detected, propagates)
// =============================================================================
TEST(NanPropagation, NanInXReachesYOnEveryIsa) {
  constexpr int64_t I = 5, H = 19, T = 4, N = 3;  // H not a multiple of any vector width
  struct Variant {
    simdrnn_activation act;
    float clip;
  };
  for (simdrnn_isa isa : simdrnn_test::available_isas()) {
    simdrnn_test::IsaCap cap(isa);
    for (const Variant v :
         {Variant{SIMDRNN_TANH, 0.0f}, Variant{SIMDRNN_RELU, 0.0f}, Variant{SIMDRNN_SIGMOID, 0.0f},
          Variant{SIMDRNN_TANH, 1.0f}, Variant{SIMDRNN_RELU, 2.0f}}) {
      SCOPED_TRACE(std::string(simdrnn_isa_name(isa)) + " activation " + std::to_string(v.act) + " clip " +
                   std::to_string(v.clip));
      ModelPtr m = make_model(make_config(I, H, 1, 0, 0, v.act, v.clip), 31);
      ASSERT_TRUE(m);
      std::vector<float> x = simdrnn_test::random_vector(T * N * I, 32);
      x[(0 * N + 1) * I + 2] = std::numeric_limits<float>::quiet_NaN();  // t = 0, n = 1
      std::vector<float> y(T * N * H, kSentinel), h_n(N * H, kSentinel);
      simdrnn_forward_args a{};
      a.seq_len = T;
      a.batch = N;
      a.x = x.data();
      a.y = y.data();
      a.h_n = h_n.data();
      size_t bytes = 0;
      ASSERT_EQ(simdrnn_forward_workspace_size(m.get(), &a, &bytes), SIMDRNN_OK);
      std::vector<unsigned char> ws(bytes + 1);
      a.workspace = ws.data();
      a.workspace_size = bytes;
      ASSERT_EQ(simdrnn_forward(m.get(), &a), SIMDRNN_OK) << last_error();
      for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t j = 0; j < H; ++j) {
            const float v = y[(t * N + n) * H + j];
            if (n == 1)
              EXPECT_TRUE(std::isnan(v)) << "y[t=" << t << ", n=1, j=" << j << "] = " << v;
            else
              EXPECT_TRUE(std::isfinite(v))
                  << "NaN leaked into y[t=" << t << ", n=" << n << ", j=" << j << "]";
          }
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < H; ++j)
          EXPECT_EQ(std::isnan(h_n[n * H + j]), n == 1) << "h_n[n=" << n << ", j=" << j << "]";
    }
  }
}

}  // namespace
