// Accuracy of the vectorised tanh and sigmoid over the whole float range,
// in ulp of the correctly rounded result (reference: double precision), plus
// the special values. Documented bound: 4 ulp on every ISA.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "src/internal.hpp"
#include "support/test_util.hpp"

namespace {

using simdrnn::kernels::KernelTable;

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Distance in ulp between a float result and the exact value `ref` (double),
// measured in units of the ulp of ref rounded to float (2^-149 at the bottom).
double ulp_error(float got, double ref) {
  if (std::isnan(ref)) return std::isnan(got) ? 0.0 : 1e30;
  if (std::isnan(got)) return 1e30;
  const float rf = static_cast<float>(ref);
  if (std::isinf(rf)) return got == rf ? 0.0 : 1e30;
  int exp = 0;
  std::frexp(rf == 0.0f ? std::numeric_limits<float>::min() : rf, &exp);
  const double ulp = std::ldexp(1.0, std::max(exp - 24, -149));
  return std::fabs(static_cast<double>(got) - ref) / ulp;
}

double tanh_ref(float x) { return std::tanh(static_cast<double>(x)); }
double sigmoid_ref(float x) { return 1.0 / (1.0 + std::exp(-static_cast<double>(x))); }

struct Sweep {
  double max_ulp = 0;
  float worst = 0;
};

// Every `stride`-th bit pattern (both signs, all exponents, NaN and Inf included).
Sweep sweep(const KernelTable& kt, int32_t act, double (*ref)(float), uint32_t stride) {
  constexpr size_t kChunk = 1 << 14;
  std::vector<float> in(kChunk), out(kChunk);
  Sweep s;
  uint64_t u = 0;
  while (u <= 0xffffffffull) {
    size_t n = 0;
    for (; n < kChunk && u <= 0xffffffffull; ++n, u += stride) in[n] = from_bits(static_cast<uint32_t>(u));
    out = in;
    kt.activate(act, 0.0f, out.data(), static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) {
      const double e = ulp_error(out[i], ref(in[i]));
      if (e > s.max_ulp) s.max_ulp = e, s.worst = in[i];
    }
  }
  return s;
}

uint32_t sweep_stride() {
  const char* quick = std::getenv("SIMDRNN_TEST_QUICK");
  return quick && *quick && std::strcmp(quick, "0") ? 4099u : 61u;  // primes: varied mantissas
}

class ActivationTest : public ::testing::TestWithParam<simdrnn_isa> {
 protected:
  const KernelTable& table() const { return simdrnn::kernel_table(GetParam()); }
};

TEST_P(ActivationTest, TanhWithin4UlpOverWholeRange) {
  const Sweep s = sweep(table(), simdrnn::kernels::kTanh, tanh_ref, sweep_stride());
  RecordProperty("max_ulp", std::to_string(s.max_ulp));
  EXPECT_LE(s.max_ulp, 4.0) << "worst input " << s.worst;
}

TEST_P(ActivationTest, SigmoidWithin4UlpOverWholeRange) {
  const Sweep s = sweep(table(), simdrnn::kernels::kSigmoid, sigmoid_ref, sweep_stride());
  RecordProperty("max_ulp", std::to_string(s.max_ulp));
  EXPECT_LE(s.max_ulp, 4.0) << "worst input " << s.worst;
}

TEST_P(ActivationTest, DenseNearZeroAndSaturation) {
  // Every float in the regions where approximations switch or saturate.
  for (auto [lo, hi] : {std::pair<float, float>{-1.0f, 1.0f}, {8.0f, 10.0f}, {-10.0f, -8.0f},
                        {15.0f, 18.0f}, {-90.0f, -86.0f}, {-104.0f, -102.0f}}) {
    std::vector<float> in;
    for (float x = lo; x < hi; x = std::nextafter(x, hi)) {
      in.push_back(x);
      if (in.size() > (1u << 22)) break;
    }
    for (auto [act, ref] : {std::pair<int32_t, double (*)(float)>{simdrnn::kernels::kTanh, tanh_ref},
                            {simdrnn::kernels::kSigmoid, sigmoid_ref}}) {
      std::vector<float> out = in;
      table().activate(act, 0.0f, out.data(), static_cast<int64_t>(out.size()));
      double worst = 0;
      for (size_t i = 0; i < in.size(); ++i) worst = std::max(worst, ulp_error(out[i], ref(in[i])));
      EXPECT_LE(worst, 4.0) << "act " << act << " range [" << lo << ", " << hi << ")";
    }
  }
}

TEST_P(ActivationTest, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float tiny = std::numeric_limits<float>::denorm_min();
  std::vector<float> in = {0.0f, -0.0f, tiny, -tiny, inf, -inf, nan, 1e-30f, -1e-30f, 100.0f, -100.0f};
  std::vector<float> t = in, s = in, r = in;
  table().activate(simdrnn::kernels::kTanh, 0.0f, t.data(), static_cast<int64_t>(t.size()));
  table().activate(simdrnn::kernels::kSigmoid, 0.0f, s.data(), static_cast<int64_t>(s.size()));
  table().activate(simdrnn::kernels::kRelu, 0.0f, r.data(), static_cast<int64_t>(r.size()));
  EXPECT_EQ(t[0], 0.0f);
  EXPECT_FALSE(std::signbit(t[0]));
  EXPECT_TRUE(std::signbit(t[1])) << "tanh(-0) must be -0";
  EXPECT_EQ(t[2], tiny);
  EXPECT_EQ(t[3], -tiny);
  EXPECT_EQ(t[4], 1.0f);
  EXPECT_EQ(t[5], -1.0f);
  EXPECT_TRUE(std::isnan(t[6]));
  EXPECT_EQ(t[7], 1e-30f);
  EXPECT_EQ(t[9], 1.0f);
  EXPECT_EQ(t[10], -1.0f);
  EXPECT_EQ(s[0], 0.5f);
  EXPECT_EQ(s[1], 0.5f);
  EXPECT_EQ(s[4], 1.0f);
  EXPECT_EQ(s[5], 0.0f);
  EXPECT_TRUE(std::isnan(s[6]));
  EXPECT_EQ(s[9], 1.0f);
  EXPECT_LE(ulp_error(s[10], sigmoid_ref(-100.0f)), 4.0);  // 3.7e-44: a subnormal, kept accurate
  EXPECT_EQ(r[4], inf);
  EXPECT_EQ(r[5], 0.0f);
  EXPECT_TRUE(std::isnan(r[6])) << "relu(NaN) must stay NaN";
}

INSTANTIATE_TEST_SUITE_P(AllIsas, ActivationTest, ::testing::ValuesIn(simdrnn_test::available_isas()),
                         [](const auto& info) { return std::string(simdrnn_isa_name(info.param)); });

}  // namespace
