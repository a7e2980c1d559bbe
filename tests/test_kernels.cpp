// Every kernel of the kernel table, on every ISA this CPU has, over sizes that
// hit every SIMD tail, against a plain double-accumulating loop; all operands
// live in guard-paged buffers, so any out-of-bounds access faults.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "src/internal.hpp"
#include "support/guarded.hpp"
#include "support/test_util.hpp"

namespace {

using simdrnn::kernels::GemmParams;
using simdrnn::kernels::KernelTable;
using simdrnn_test::GuardedFloats;

const int64_t kSizes[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100};
const int64_t kBatches[] = {1, 2, 5, 17};

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

double act_ref(double v, int32_t act, double clip) {
  if (clip > 0) v = v > clip ? clip : (v < -clip ? -clip : v);
  switch (act) {
    case simdrnn::kernels::kTanh:
      return std::tanh(v);
    case simdrnn::kernels::kRelu:
      return v < 0 ? 0 : v;
    case simdrnn::kernels::kSigmoid:
      return 1.0 / (1.0 + std::exp(-v));
    default:
      return v;
  }
}

struct GemmCase {
  int64_t m, k, n;
  bool accumulate, bias;
  int32_t act;
  float clip;
};

// Runs one GEMM through `kt` on guarded buffers and checks every written value
// (and that nothing else was written) against the double reference.
void check_gemm(const KernelTable& kt, const GemmCase& gc, uint32_t seed, int32_t format = simdrnn::kernels::kF32) {
  SCOPED_TRACE(std::string(kt.name) + " m=" + std::to_string(gc.m) + " k=" + std::to_string(gc.k) +
               " n=" + std::to_string(gc.n) + " acc=" + std::to_string(gc.accumulate) +
               " bias=" + std::to_string(gc.bias) + " act=" + std::to_string(gc.act) +
               " clip=" + std::to_string(gc.clip));
  const int64_t lda = gc.k + 3, ldc = gc.n + 5, pw = kt.panel_width;
  const auto w = simdrnn_test::random_vector(static_cast<size_t>(gc.n * gc.k), seed);
  const auto av = simdrnn_test::random_vector(static_cast<size_t>(gc.m * lda), seed + 1);
  const auto cv = simdrnn_test::random_vector(static_cast<size_t>(gc.m * ldc), seed + 2);
  const auto bv = simdrnn_test::random_vector(static_cast<size_t>(gc.n), seed + 3);

  const simdrnn::PackedMatrix packed =
      simdrnn::convert_pack(simdrnn::pack_b(w.data(), gc.n, gc.k, pw), format);
  const int64_t padded_n = (gc.n + pw - 1) / pw * pw;
  GuardedFloats b((packed.bytes + 3) / 4), a(gc.m * lda - (lda - gc.k)), c(gc.m * ldc - (ldc - gc.n));
  GuardedFloats bias(padded_n), scale(padded_n);
  std::memcpy(b.data(), packed.data.get(), static_cast<size_t>(packed.bytes));
  if (packed.scale) std::memcpy(scale.data(), packed.scale.get(), static_cast<size_t>(padded_n) * sizeof(float));
  // The weights the kernel multiplies by: W itself, or its bf16 / int8 form.
  auto weight = [&](int64_t j, int64_t kk) -> double {
    const int64_t at = ((j / pw) * gc.k + kk) * pw + j % pw;
    if (format == simdrnn::kernels::kBf16) {
      const uint32_t bits = static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(packed.data.get())[at]) << 16;
      float f;
      std::memcpy(&f, &bits, sizeof f);
      return f;
    }
    if (format == simdrnn::kernels::kInt8)
      return static_cast<double>(packed.scale[j]) * reinterpret_cast<const int8_t*>(packed.data.get())[at];
    return w[j * gc.k + kk];
  };
  std::memcpy(a.data(), av.data(), static_cast<size_t>(a.size()) * sizeof(float));
  std::memcpy(c.data(), cv.data(), static_cast<size_t>(c.size()) * sizeof(float));
  for (int64_t j = 0; j < bias.size(); ++j) bias[j] = j < gc.n ? bv[j] : 0.0f;

  GemmParams p{};
  p.m = gc.m;
  p.k = gc.k;
  p.a = gc.k ? a.data() : nullptr;
  p.lda = lda;
  p.b = b.data();
  p.b_format = format;
  p.b_scale = packed.scale ? scale.data() : nullptr;
  p.n_begin = 0;
  p.n_end = gc.n;
  p.c = c.data();
  p.ldc = ldc;
  p.bias = gc.bias ? bias.data() : nullptr;
  p.accumulate = gc.accumulate;
  p.activation = gc.act;
  p.clip = gc.clip;
  p.split_k = static_cast<int32_t>(seed % 2);  // the recurrence's split k sum (m == 1)
  simdrnn::kernels::run_gemm(kt, p);

  EXPECT_TRUE(a.canaries_intact() && b.canaries_intact() && c.canaries_intact() && bias.canaries_intact() &&
              scale.canaries_intact());
  int failures = 0;
  for (int64_t r = 0; r < gc.m; ++r)
    for (int64_t j = 0; j < ldc && r * ldc + j < c.size(); ++j) {
      const float got = c[r * ldc + j];
      if (j >= gc.n) {  // the gap between rows is never written
        if (got != cv[r * ldc + j] && ++failures < 5) ADD_FAILURE() << "wrote gap at r=" << r << " j=" << j;
        continue;
      }
      double acc = 0, mag = 0;
      for (int64_t kk = 0; kk < gc.k; ++kk) {
        const double t = static_cast<double>(av[r * lda + kk]) * weight(j, kk);
        acc += t;
        mag += std::fabs(t);
      }
      if (gc.accumulate) acc += cv[r * ldc + j], mag += std::fabs(cv[r * ldc + j]);
      if (gc.bias) acc += bv[j], mag += std::fabs(bv[j]);
      const double ref = act_ref(acc, gc.act, gc.clip);
      // fp32 accumulation error grows with the number of terms (benchdnn-style),
      // the activation adds a few ulp of its result; act' <= 1 for all three.
      const double tol = 1.2e-7 * static_cast<double>(gc.k + 3) * mag + 5e-7 * std::fabs(ref) + 1e-30;
      if (!(std::fabs(got - ref) <= tol) && ++failures < 5)
        ADD_FAILURE() << "r=" << r << " j=" << j << " got " << got << " want " << ref << " tol " << tol;
    }
  EXPECT_EQ(failures, 0);
}

class KernelTest : public ::testing::TestWithParam<simdrnn_isa> {
 protected:
  const KernelTable& table() const { return simdrnn::kernel_table(GetParam()); }
};

TEST_P(KernelTest, TableMatchesIsa) {
  EXPECT_EQ(table().isa, static_cast<int32_t>(GetParam()));
  EXPECT_STREQ(table().name, simdrnn_isa_name(GetParam()));
}

TEST_P(KernelTest, GemmAllTailsPlainProjection) {
  uint32_t seed = 1;
  for (int64_t m : kBatches)
    for (int64_t n : kSizes)
      for (int64_t k : {int64_t{1}, int64_t{7}, int64_t{17}, int64_t{64}, int64_t{100}})
        check_gemm(table(), {m, k, n, false, true, simdrnn::kernels::kNone, 0.0f}, seed++);
}

// bf16 and int8 weights (gemm_bf16, gemm_int8): the same contract against the
// double product with the weights the kernel holds, every tail; int8's column
// scale multiplies the finished sum.
TEST_P(KernelTest, GemmBf16AllTails) {
  uint32_t seed = 2000;
  for (int64_t m : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{17}})
    for (int64_t n : kSizes)
      for (int64_t k : {int64_t{1}, int64_t{17}, int64_t{100}})
        check_gemm(table(), {m, k, n, m % 2 == 1, true, simdrnn::kernels::kTanh, 0.0f}, seed++,
                   simdrnn::kernels::kBf16);
}
TEST_P(KernelTest, GemmInt8AllTails) {
  uint32_t seed = 3000;
  for (int64_t m : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{17}})
    for (int64_t n : kSizes)
      for (int64_t k : {int64_t{1}, int64_t{17}, int64_t{100}})
        check_gemm(table(), {m, k, n, m % 2 == 1, m > 1, m == 7 ? simdrnn::kernels::kSigmoid : simdrnn::kernels::kNone,
                             0.0f}, seed++, simdrnn::kernels::kInt8);
}

// No accumulate, bias, activation or clip: full-width tiles store their sums
// directly (the weight-gradient GEMMs, k = T*N). Batches whose row tiles come
// out uneven (7, 8, 13) and a short k like a batch-1 sequence's.
TEST_P(KernelTest, GemmAllTailsPlainProduct) {
  uint32_t seed = 500;
  for (int64_t m : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{13}, int64_t{17}})
    for (int64_t n : kSizes)
      for (int64_t k : {int64_t{1}, int64_t{50}})
        check_gemm(table(), {m, k, n, false, false, simdrnn::kernels::kNone, 0.0f}, seed++);
}

// Enough rows and k for several row blocks of uneven height (m = 1537 used to
// leave a last block of one row), plain and with the full epilogue.
TEST_P(KernelTest, GemmSeveralRowBlocks) {
  check_gemm(table(), {1537, 1024, 65, false, false, simdrnn::kernels::kNone, 0.0f}, 601);
  check_gemm(table(), {1537, 1024, 17, true, true, simdrnn::kernels::kTanh, 0.0f}, 602);
}

TEST_P(KernelTest, GemmAllTailsReductionLength) {
  uint32_t seed = 1000;
  for (int64_t k : kSizes)
    for (int64_t n : {int64_t{1}, int64_t{17}, int64_t{65}})
      for (int64_t m : {int64_t{1}, int64_t{5}})
        check_gemm(table(), {m, k, n, true, false, simdrnn::kernels::kTanh, 0.0f}, seed++);
}

TEST_P(KernelTest, GemmRecurrenceEpilogues) {
  uint32_t seed = 2000;
  for (int32_t act : {simdrnn::kernels::kNone, simdrnn::kernels::kTanh, simdrnn::kernels::kRelu,
                      simdrnn::kernels::kSigmoid})
    for (float clip : {0.0f, 0.3f})
      for (int64_t n : kSizes)
        for (int64_t m : kBatches) check_gemm(table(), {m, 33, n, true, n % 2 == 0, act, clip}, seed++);
}

// Single-row calls walk two panels at once on SIMD ISAs, with split_k (the
// batch-1 recurrence) and without (a stream step's projection): widths around
// two and more panels of 64, every tail.
TEST_P(KernelTest, GemmSingleRowSplitAcrossPanels) {
  uint32_t seed = 4001;
  for (int64_t n : {127, 128, 129, 191, 192, 193, 256, 257, 320})
    for (int64_t k : {1, 2, 33, 128})
      for (int32_t act : {simdrnn::kernels::kTanh, simdrnn::kernels::kNone}) {
        ++seed;  // alternates split_k on and off (check_gemm uses seed % 2)
        check_gemm(table(), {1, k, n, true, n % 2 == 1, act, 0.0f}, seed);
      }
}

TEST_P(KernelTest, GemmZeroReductionIsActivationOfC) {
  uint32_t seed = 3000;
  for (int64_t n : kSizes)
    check_gemm(table(), {3, 0, n, true, true, simdrnn::kernels::kSigmoid, 0.0f}, seed++);
}

// A column sub-range [n_begin, n_end) writes exactly those columns, with the
// same bits as the full-range call: the basis of thread partitioning.
TEST_P(KernelTest, GemmColumnSlicesAreBitIdentical) {
  const KernelTable& kt = table();
  const int64_t m = 5, k = 40, n = 100, pw = kt.panel_width;
  const auto w = simdrnn_test::random_vector(n * k, 7);
  const auto av = simdrnn_test::random_vector(m * k, 8);
  const auto cv = simdrnn_test::random_vector(m * n, 9);
  const simdrnn::PackedMatrix packed = simdrnn::pack_b(w.data(), n, k, pw);
  std::vector<float> full = cv, sliced = cv;
  GemmParams p{};
  p.m = m, p.k = k, p.a = av.data(), p.lda = k, p.b = packed.data.get(), p.n_begin = 0, p.n_end = n;
  p.ldc = n, p.accumulate = 1, p.activation = simdrnn::kernels::kTanh;
  p.c = full.data();
  kt.gemm(p);
  p.c = sliced.data();
  for (int64_t c0 = 0; c0 < n; c0 += pw) {
    p.n_begin = c0;
    p.n_end = std::min(n, c0 + pw);
    kt.gemm(p);
  }
  EXPECT_EQ(0, std::memcmp(full.data(), sliced.data(), full.size() * sizeof(float)));
}

TEST_P(KernelTest, ActivateAllTails) {
  const KernelTable& kt = table();
  for (int32_t act : {simdrnn::kernels::kNone, simdrnn::kernels::kTanh, simdrnn::kernels::kRelu,
                      simdrnn::kernels::kSigmoid})
    for (int64_t n : kSizes) {
      const auto src = simdrnn_test::random_vector(n, static_cast<uint32_t>(n), -6.0f, 6.0f);
      GuardedFloats buf(n);
      std::memcpy(buf.data(), src.data(), n * sizeof(float));
      kt.activate(act, 2.5f, buf.data(), n);
      EXPECT_TRUE(buf.canaries_intact());
      for (int64_t i = 0; i < n; ++i) {
        const double ref = act_ref(src[i], act, 2.5);
        EXPECT_NEAR(buf[i], ref, 5e-7 * std::fabs(ref) + 1e-30) << kt.name << " act " << act << " i " << i;
      }
    }
}

// Optimiser kernels against plain double loops (odd sizes hit every tail).
TEST_P(KernelTest, OptimiserKernels) {
  const KernelTable& kt = table();
  for (int64_t n : kSizes) {
    const auto p0 = simdrnn_test::random_vector(n, 1), g = simdrnn_test::random_vector(n, 2);
    const auto m0 = simdrnn_test::random_vector(n, 3), v0 = simdrnn_test::random_vector(n, 4, 0.0f, 1.0f);
    GuardedFloats p(n), m(n), v(n);
    std::memcpy(p.data(), p0.data(), n * 4), std::memcpy(m.data(), m0.data(), n * 4);
    std::memcpy(v.data(), v0.data(), n * 4);
    kt.adam(p.data(), g.data(), m.data(), v.data(), n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.1f, 0.001f);
    for (int64_t i = 0; i < n; ++i) {
      const double gi = g[i] + 0.01 * p0[i], mi = 0.9 * m0[i] + 0.1 * gi,
                   vi = 0.999 * v0[i] + 0.001 * gi * gi;
      const double pi = p0[i] - 0.01 * (mi / 0.1) / (std::sqrt(vi / 0.001) + 1e-8);
      EXPECT_NEAR(m[i], mi, 1e-6) << kt.name;
      EXPECT_NEAR(v[i], vi, 1e-6) << kt.name;
      EXPECT_NEAR(p[i], pi, 1e-5 * (1 + std::fabs(pi))) << kt.name << " adam n=" << n << " i=" << i;
    }
    std::memcpy(p.data(), p0.data(), n * 4), std::memcpy(v.data(), v0.data(), n * 4);
    kt.sgd(p.data(), g.data(), v.data(), n, 0.1f, 0.9f, 0.01f);
    for (int64_t i = 0; i < n; ++i) {
      const double vi = 0.9 * v0[i] + (g[i] + 0.01 * p0[i]), pi = p0[i] - 0.1 * vi;
      EXPECT_NEAR(v[i], vi, 1e-6) << kt.name;
      EXPECT_NEAR(p[i], pi, 1e-6) << kt.name << " sgd n=" << n;
    }
    double ss = 0;
    for (float x : g) ss += static_cast<double>(x) * x;
    EXPECT_NEAR(kt.sum_squares(g.data(), n), ss, 1e-5 * ss + 1e-12) << kt.name;
    std::memcpy(p.data(), p0.data(), n * 4);
    kt.scale(p.data(), n, 0.5f);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(p[i], p0[i] * 0.5f);
    EXPECT_TRUE(p.canaries_intact() && m.canaries_intact() && v.canaries_intact());
  }
}

// Element-wise kernels give every element the same bits whether it sits in
// a whole vector or in a chunk's tail: running [0, n) in pieces that end
// mid-vector (as thread shares do) equals one run. Fails when a tail rounds
// differently from the body (a scalar std::fma tail after an x*y+z body).
TEST_P(KernelTest, ElementwiseKernelsIgnoreChunkBoundaries) {
  const KernelTable& kt = table();
  const int64_t n = 1001;
  const auto p0 = simdrnn_test::random_vector(n, 11), g = simdrnn_test::random_vector(n, 12, -2.0f, 2.0f);
  const auto m0 = simdrnn_test::random_vector(n, 13), v0 = simdrnn_test::random_vector(n, 14, 0.0f, 1.0f);
  for (const std::vector<int64_t>& cuts : std::vector<std::vector<int64_t>>{
           {0, 1, 8, 9, 24, 1001}, {0, 7, 33, 500, 501, 1001}, {0, 17, 31, 63, 65, 1001}}) {
    auto run = [&](bool pieces, std::vector<float>& p, std::vector<float>& m, std::vector<float>& v,
                   std::vector<float>& ps, std::vector<float>& vs, std::vector<float>& sc) {
      p = p0, m = m0, v = v0, ps = p0, vs = v0, sc = p0;
      const std::vector<int64_t> whole = {0, n};
      const std::vector<int64_t>& c = pieces ? cuts : whole;
      for (size_t i = 0; i + 1 < c.size(); ++i) {
        const int64_t b = c[i], e = c[i + 1];
        kt.adam(p.data() + b, g.data() + b, m.data() + b, v.data() + b, e - b, 0.01f, 0.9f, 0.999f, 1e-8f,
                0.01f, 0.1f, 0.001f);
        kt.sgd(ps.data() + b, g.data() + b, vs.data() + b, e - b, 0.1f, 0.9f, 0.01f);
        kt.scale(sc.data() + b, e - b, 0.3f);
      }
    };
    std::vector<float> p1, m1, v1, ps1, vs1, sc1, p2, m2, v2, ps2, vs2, sc2;
    run(false, p1, m1, v1, ps1, vs1, sc1);
    run(true, p2, m2, v2, ps2, vs2, sc2);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(bits(p1[i]), bits(p2[i])) << kt.name << " adam p, element " << i;
      ASSERT_EQ(bits(m1[i]), bits(m2[i])) << kt.name << " adam m, element " << i;
      ASSERT_EQ(bits(v1[i]), bits(v2[i])) << kt.name << " adam v, element " << i;
      ASSERT_EQ(bits(ps1[i]), bits(ps2[i])) << kt.name << " sgd p, element " << i;
      ASSERT_EQ(bits(vs1[i]), bits(vs2[i])) << kt.name << " sgd v, element " << i;
      ASSERT_EQ(bits(sc1[i]), bits(sc2[i])) << kt.name << " scale, element " << i;
    }
  }
}

// k-blocking (GemmTuning) walks each element's reduction in ranges that
// continue one running sum: any k_block gives the bits of none, for plain,
// accumulating and transposed-A GEMMs, tall and short, every tail.
TEST_P(KernelTest, GemmKBlockingChangesNoBit) {
  const KernelTable& kt = table();
  for (const GemmCase gc : {GemmCase{67, 300, 131, true, true, simdrnn::kernels::kTanh, 0.0f},
                            GemmCase{13, 129, 64, false, false, simdrnn::kernels::kNone, 0.0f},
                            GemmCase{100, 1000, 17, false, true, simdrnn::kernels::kNone, 0.0f}})
    for (int32_t transposed : {0, 1}) {
      const int64_t pw = kt.panel_width;
      const auto w = simdrnn_test::random_vector(gc.n * gc.k, 1);
      const auto a = simdrnn_test::random_vector(gc.m * gc.k, 2),
                 c0 = simdrnn_test::random_vector(gc.m * gc.n, 3);
      const auto bias = simdrnn_test::random_vector((gc.n + pw - 1) / pw * pw, 4);
      const simdrnn::PackedMatrix packed = simdrnn::pack_b(w.data(), gc.n, gc.k, pw);
      std::vector<std::vector<float>> results;
      for (int64_t kb : {int64_t{0}, int64_t{1}, int64_t{37}, int64_t{128}}) {
        kt.tune(simdrnn::kernels::GemmTuning{kb});
        std::vector<float> c = c0;
        GemmParams p{};
        p.m = gc.m, p.k = gc.k, p.a = a.data(), p.lda = transposed ? gc.m : gc.k, p.a_transposed = transposed;
        p.b = packed.data.get(), p.n_begin = 0, p.n_end = gc.n, p.c = c.data(), p.ldc = gc.n;
        p.bias = gc.bias ? bias.data() : nullptr, p.accumulate = gc.accumulate, p.activation = gc.act;
        kt.gemm(p);
        results.push_back(c);
      }
      kt.tune(simdrnn::kernels::GemmTuning{0});
      for (size_t r = 1; r < results.size(); ++r)
        EXPECT_EQ(0, std::memcmp(results[0].data(), results[r].data(), results[0].size() * 4))
            << kt.name << " m" << gc.m << " k" << gc.k << " n" << gc.n << " transposed " << transposed;
    }
}

// ---- gated-cell steps (kernels.h, CellStep) against double formulas ----------

enum class CellKernel { kLstm, kGru, kGruReset, kGruUpdate };

double sig_ref(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double clamp_ref(double v, double clip) { return clip > 0 ? std::min(clip, std::max(-clip, v)) : v; }

// One call over rows [0, m) and units [u_begin, u_end) of an H-unit cell;
// h and c rows are exactly H wide in guard-paged buffers, so any write past
// u_end of the last row faults and earlier ones are caught by the sentinel.
void check_cell(const KernelTable& kt, CellKernel kernel, int64_t m, int64_t H, int64_t u_begin,
                int64_t u_end, bool peephole, float clip, bool save, uint32_t seed) {
  const int64_t pw = kt.panel_width, hp = (H + pw - 1) / pw * pw;
  const int64_t G = kernel == CellKernel::kLstm ? 4 : 3;
  const int64_t ldg = G * hp + 5;  // a row stride that is not a multiple of the vector width
  const auto gates0 = simdrnn_test::random_vector(m * ldg, seed, -3.0f, 3.0f);
  auto rec_v = simdrnn_test::random_vector(m * ldg, seed + 1, -3.0f, 3.0f);
  // gru_update reads z (an activation, in (0, 1)) from the gates.
  auto gates_in = gates0;
  const auto prev = simdrnn_test::random_vector(m * H, seed + 2, -2.0f, 2.0f);
  auto peep = simdrnn_test::random_vector(3 * hp, seed + 3, -1.0f, 1.0f);
  auto col = [&](int64_t g, int64_t u) { return (u / pw * G + g) * pw + u % pw; };
  if (kernel == CellKernel::kGruUpdate)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t u = 0; u < H; ++u)
        gates_in[r * ldg + col(1, u)] = static_cast<float>(sig_ref(gates0[r * ldg + col(1, u)]));
  GuardedFloats gates(m * ldg), rec(m * ldg), prev_g(m * H), h(m * H), c(m * H), pp(3 * hp);
  std::memcpy(gates.data(), gates_in.data(), gates_in.size() * 4);
  std::memcpy(rec.data(), rec_v.data(), rec_v.size() * 4);
  std::memcpy(prev_g.data(), prev.data(), prev.size() * 4);
  std::memcpy(pp.data(), peep.data(), peep.size() * 4);
  for (int64_t i = 0; i < m * H; ++i) h[i] = 777.0f, c[i] = 777.0f;
  simdrnn::kernels::CellStep p{};
  p.m = m, p.u_begin = u_begin, p.u_end = u_end;
  p.gates = gates.data(), p.ld_gates = ldg, p.rec = rec.data(), p.ld_rec = ldg;
  p.c_prev = prev_g.data(), p.ld_c_prev = H, p.c = c.data(), p.ld_c = H;
  p.h_prev = prev_g.data(), p.ld_h_prev = H, p.h = h.data(), p.ld_h = H;
  p.peephole = peephole ? pp.data() : nullptr, p.hp = hp, p.clip = clip, p.save_gates = save;
  switch (kernel) {
    case CellKernel::kLstm:
      kt.lstm_step(p);
      break;
    case CellKernel::kGru:
      kt.gru_step(p);
      break;
    case CellKernel::kGruReset:
      kt.gru_reset(p);
      break;
    case CellKernel::kGruUpdate:
      kt.gru_update(p);
      break;
  }
  EXPECT_TRUE(gates.canaries_intact() && rec.canaries_intact() && h.canaries_intact() && c.canaries_intact());
  int failures = 0;
  auto expect = [&](float got, double want, const char* what, int64_t r, int64_t u) {
    // Activations are within 4 ulp; a few roundings of the combination.
    const double tol = 2e-6 * (std::fabs(want) + 1.0);
    if (!(std::fabs(got - want) <= tol) && ++failures < 5)
      ADD_FAILURE() << kt.name << " " << what << " r=" << r << " u=" << u << " got " << got << " want "
                    << want;
  };
  for (int64_t r = 0; r < m; ++r)
    for (int64_t u = 0; u < H; ++u) {
      const bool inside = u >= u_begin && u < u_end;
      auto pre = [&](int64_t g) {
        return static_cast<double>(gates0[r * ldg + col(g, u)]) + rec_v[r * ldg + col(g, u)];
      };
      const double x = prev[r * H + u];
      double hv = 777.0, cv = 777.0, act[4] = {};
      if (kernel == CellKernel::kLstm) {
        const double i = sig_ref(clamp_ref(pre(0) + (peephole ? peep[u] * x : 0.0), clip));
        const double f = sig_ref(clamp_ref(pre(1) + (peephole ? peep[hp + u] * x : 0.0), clip));
        const double g = std::tanh(clamp_ref(pre(2), clip));
        cv = f * x + i * g;
        const double o = sig_ref(clamp_ref(pre(3) + (peephole ? peep[2 * hp + u] * cv : 0.0), clip));
        hv = o * std::tanh(cv);
        act[0] = i, act[1] = f, act[2] = g, act[3] = o;
      } else if (kernel == CellKernel::kGru) {
        const double rg = sig_ref(clamp_ref(pre(0), clip)), z = sig_ref(clamp_ref(pre(1), clip));
        const double n =
            std::tanh(clamp_ref(gates0[r * ldg + col(2, u)] + rg * rec_v[r * ldg + col(2, u)], clip));
        hv = (1 - z) * n + z * x;
        act[0] = rg, act[1] = z, act[2] = n;
      } else if (kernel == CellKernel::kGruReset) {
        const double rg = sig_ref(clamp_ref(pre(0), clip)), z = sig_ref(clamp_ref(pre(1), clip));
        hv = rg * x;
        act[0] = rg, act[1] = z, act[2] = gates_in[r * ldg + col(2, u)];
      } else {
        const double z = gates_in[r * ldg + col(1, u)];
        const double n = std::tanh(clamp_ref(pre(2), clip));
        hv = (1 - z) * n + z * x;
        act[0] = gates_in[r * ldg + col(0, u)], act[1] = z, act[2] = n;
      }
      if (!inside) {
        if ((h[r * H + u] != 777.0f || c[r * H + u] != 777.0f) && ++failures < 5)
          ADD_FAILURE() << kt.name << " wrote outside the unit range at r=" << r << " u=" << u;
        continue;
      }
      expect(h[r * H + u], hv, "h", r, u);
      if (kernel == CellKernel::kLstm) expect(c[r * H + u], cv, "c", r, u);
      const bool writes_gates = save || kernel == CellKernel::kGruReset;
      for (int64_t g = 0; g < G; ++g) {
        const float got = gates[r * ldg + col(g, u)];
        if (writes_gates && !(kernel == CellKernel::kGruReset && g == 2) &&
            !(kernel == CellKernel::kGruUpdate && g < 2))
          expect(got, act[g], "gate", r, u);
        else if (got != gates_in[r * ldg + col(g, u)] && ++failures < 5)
          ADD_FAILURE() << kt.name << " changed gate " << g << " at r=" << r << " u=" << u;
      }
    }
  EXPECT_EQ(failures, 0) << "H " << H << " units [" << u_begin << ", " << u_end << ")";
}

TEST_P(KernelTest, CellStepsAllTails) {
  const KernelTable& kt = table();
  uint32_t seed = 900;
  for (CellKernel kernel :
       {CellKernel::kLstm, CellKernel::kGru, CellKernel::kGruReset, CellKernel::kGruUpdate})
    for (int64_t H : kSizes)
      for (int64_t m : {int64_t{1}, int64_t{3}}) {
        SCOPED_TRACE("kernel " + std::to_string(static_cast<int>(kernel)) + " H " + std::to_string(H));
        const bool lstm = kernel == CellKernel::kLstm;
        check_cell(kt, kernel, m, H, 0, H, lstm, 0.0f, true, seed++);
        check_cell(kt, kernel, m, H, 0, H, false, 1.5f, false, seed++);
        // A thread's share: whole panels from a panel boundary, ending before H.
        if (H > kt.panel_width) check_cell(kt, kernel, m, H, kt.panel_width, H, lstm, 0.0f, true, seed++);
        if (H > 1) check_cell(kt, kernel, m, H, 0, std::min(H - 1, kt.panel_width), lstm, 2.5f, true, seed++);
      }
}

// ---- gated-cell backward steps (kernels.h, CellBackward) vs double formulas ----

enum class CellBackwardKernel { kLstm, kGru, kGruUpdate, kGruReset };

void check_cell_backward(const KernelTable& kt, CellBackwardKernel kernel, int64_t m, int64_t H,
                         int64_t u_begin, int64_t u_end, bool peephole, bool masked, uint32_t seed) {
  const int64_t pw = kt.panel_width, hp = (H + pw - 1) / pw * pw;
  const int64_t G = kernel == CellBackwardKernel::kLstm ? 4 : 3, ldg = G * hp + 3;
  auto act = simdrnn_test::random_vector(m * ldg, seed, 0.05f, 0.95f);  // activations in (0, 1)
  const auto rec = simdrnn_test::random_vector(m * ldg, seed + 1, -2.0f, 2.0f);
  const auto c = simdrnn_test::random_vector(m * H, seed + 2, -2.0f, 2.0f);
  const auto prev = simdrnn_test::random_vector(m * H, seed + 3, -2.0f, 2.0f);
  const auto dh = simdrnn_test::random_vector(m * H, seed + 4, -1.0f, 1.0f);
  const auto dc0 = simdrnn_test::random_vector(m * H, seed + 5, -1.0f, 1.0f);
  const auto dprev0 = simdrnn_test::random_vector(m * H, seed + 6, -1.0f, 1.0f);
  const auto peep = simdrnn_test::random_vector(3 * hp, seed + 7, -1.0f, 1.0f);
  const auto dpeep0 = simdrnn_test::random_vector(3 * hp, seed + 8, -1.0f, 1.0f);
  std::vector<uint8_t> mask(static_cast<size_t>(m * ldg));
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = (i * 7 + seed) % 5 != 0;
  auto col = [&](int64_t g, int64_t u) { return (u / pw * G + g) * pw + u % pw; };
  GuardedFloats dc(m * H), dprev(m * H), da_x(m * ldg), da_h(m * ldg), da_n(m * H), dpeep(3 * hp);
  std::memcpy(dc.data(), dc0.data(), dc0.size() * 4);
  std::memcpy(dprev.data(), dprev0.data(), dprev0.size() * 4);
  std::memcpy(dpeep.data(), dpeep0.data(), dpeep0.size() * 4);
  for (int64_t i = 0; i < m * ldg; ++i) da_x[i] = 555.0f, da_h[i] = 555.0f;
  for (int64_t i = 0; i < m * H; ++i) da_n[i] = 555.0f;
  simdrnn::kernels::CellBackward p{};
  p.m = m, p.u_begin = u_begin, p.u_end = u_end, p.dh = dh.data(), p.ld_dh = H;
  p.gates = act.data(), p.ld_gates = ldg, p.mask = masked ? mask.data() : nullptr, p.ld_mask = ldg;
  p.rec = rec.data(), p.ld_rec = ldg, p.c = c.data(), p.ld_c = H, p.c_prev = prev.data(), p.ld_c_prev = H;
  p.dc = dc.data(), p.ld_dc = H, p.h_prev = prev.data(), p.ld_h_prev = H, p.dh_prev = dprev.data(),
  p.ld_dh_prev = H;
  p.da_x = da_x.data(), p.ld_da_x = ldg, p.da_h = da_h.data(), p.ld_da_h = ldg, p.da_n = da_n.data(),
  p.ld_da_n = H;
  p.peephole = peephole ? peep.data() : nullptr, p.dpeephole = peephole ? dpeep.data() : nullptr, p.hp = hp;
  switch (kernel) {
    case CellBackwardKernel::kLstm:
      kt.lstm_backward(p);
      break;
    case CellBackwardKernel::kGru:
      kt.gru_backward(p);
      break;
    case CellBackwardKernel::kGruUpdate:
      kt.gru_update_backward(p);
      break;
    case CellBackwardKernel::kGruReset:
      kt.gru_reset_backward(p);
      break;
  }
  EXPECT_TRUE(dc.canaries_intact() && dprev.canaries_intact() && da_x.canaries_intact() &&
              da_n.canaries_intact());
  int failures = 0;
  auto expect = [&](float got, double want, const char* what, int64_t r, int64_t u) {
    const double tol = 4e-6 * (std::fabs(want) + 1.0);
    if (!(std::fabs(got - want) <= tol) && ++failures < 5)
      ADD_FAILURE() << kt.name << " " << what << " r=" << r << " u=" << u << " got " << got << " want "
                    << want;
  };
  std::vector<double> dpeep_want(dpeep0.begin(), dpeep0.end());
  for (int64_t r = 0; r < m; ++r)
    for (int64_t u = u_begin; u < u_end; ++u) {
      auto a = [&](int64_t g) { return static_cast<double>(act[r * ldg + col(g, u)]); };
      auto mk = [&](int64_t g) { return masked && !mask[r * ldg + col(g, u)] ? 0.0 : 1.0; };
      const double d = dh[r * H + u], hp_ = prev[r * H + u];
      double dx[4] = {}, dhh[4] = {}, dc_out = 0, dprev_out = dprev0[r * H + u];
      if (kernel == CellBackwardKernel::kLstm) {
        const double i = a(0), f = a(1), g = a(2), o = a(3), cc = c[r * H + u], tc = std::tanh(cc);
        const double d_o = d * tc * o * (1 - o) * mk(3);
        double dcv = dc0[r * H + u] + d * o * (1 - tc * tc) + (peephole ? d_o * peep[2 * hp + u] : 0.0);
        const double d_i = dcv * g * i * (1 - i) * mk(0), d_f = dcv * hp_ * f * (1 - f) * mk(1);
        const double d_g = dcv * i * (1 - g * g) * mk(2);
        dc_out = dcv * f + (peephole ? d_i * peep[u] + d_f * peep[hp + u] : 0.0);
        if (peephole)
          dpeep_want[u] += d_i * hp_, dpeep_want[hp + u] += d_f * hp_, dpeep_want[2 * hp + u] += d_o * cc;
        dx[0] = dhh[0] = d_i, dx[1] = dhh[1] = d_f, dx[2] = dhh[2] = d_g, dx[3] = dhh[3] = d_o;
      } else if (kernel == CellBackwardKernel::kGru) {
        const double rg = a(0), z = a(1), n = a(2);
        const double d_n = d * (1 - z) * (1 - n * n) * mk(2), d_z = d * (hp_ - n) * z * (1 - z) * mk(1);
        const double d_r = d_n * rec[r * ldg + col(2, u)] * rg * (1 - rg) * mk(0);
        dprev_out += d * z;
        dx[0] = dhh[0] = d_r, dx[1] = dhh[1] = d_z, dx[2] = d_n, dhh[2] = d_n * rg;
      } else if (kernel == CellBackwardKernel::kGruUpdate) {
        const double z = a(1), n = a(2);
        const double d_n = d * (1 - z) * (1 - n * n) * mk(2), d_z = d * (hp_ - n) * z * (1 - z) * mk(1);
        dprev_out += d * z;
        dx[1] = dhh[1] = d_z, dx[2] = d_n, dhh[2] = 0.0;
        expect(da_n[r * H + u], d_n, "da_n", r, u);
      } else {
        const double rg = a(0), d_r = d * hp_ * rg * (1 - rg) * mk(0);
        dprev_out += d * rg;
        dx[0] = dhh[0] = d_r;
      }
      const bool full = kernel == CellBackwardKernel::kLstm || kernel == CellBackwardKernel::kGru;
      for (int64_t g = 0; g < G; ++g) {
        const bool written = full || (kernel == CellBackwardKernel::kGruUpdate ? g > 0 : g == 0);
        if (!written) continue;
        expect(da_x[r * ldg + col(g, u)], dx[g], "da_x", r, u);
        expect(da_h[r * ldg + col(g, u)], dhh[g], "da_h", r, u);
      }
      if (kernel == CellBackwardKernel::kLstm)
        expect(dc[r * H + u], dc_out, "dc", r, u);
      else
        expect(dprev[r * H + u], dprev_out, "dh_prev", r, u);
    }
  for (int64_t r = 0; r < m; ++r)  // nothing outside the unit range
    for (int64_t u = 0; u < H; ++u)
      if ((u < u_begin || u >= u_end) &&
          (dc[r * H + u] != dc0[r * H + u] || dprev[r * H + u] != dprev0[r * H + u]) && ++failures < 5)
        ADD_FAILURE() << kt.name << " wrote outside the unit range at r=" << r << " u=" << u;
  if (peephole && kernel == CellBackwardKernel::kLstm)
    for (int64_t k = 0; k < 3 * hp; ++k) expect(dpeep[k], dpeep_want[k], "dpeephole", 0, k);
  EXPECT_EQ(failures, 0) << "H " << H << " units [" << u_begin << ", " << u_end << ")";
}

TEST_P(KernelTest, CellBackwardAllTails) {
  const KernelTable& kt = table();
  uint32_t seed = 1300;
  for (CellBackwardKernel kernel : {CellBackwardKernel::kLstm, CellBackwardKernel::kGru,
                                    CellBackwardKernel::kGruUpdate, CellBackwardKernel::kGruReset})
    for (int64_t H : kSizes)
      for (int64_t m : {int64_t{1}, int64_t{3}}) {
        SCOPED_TRACE("kernel " + std::to_string(static_cast<int>(kernel)) + " H " + std::to_string(H));
        const bool lstm = kernel == CellBackwardKernel::kLstm;
        check_cell_backward(kt, kernel, m, H, 0, H, lstm, true, seed++);
        check_cell_backward(kt, kernel, m, H, 0, H, false, false, seed++);
        if (H > kt.panel_width) check_cell_backward(kt, kernel, m, H, kt.panel_width, H, lstm, false, seed++);
      }
}

// Every kernel of simd/kernel_list.inc has a test above: adding a kernel to
// the list without adding its name here (next to its test) fails to compile.
constexpr bool kTested_gemm = true, kTested_gemm_bf16 = true, kTested_gemm_int8 = true, kTested_lstm_step = true, kTested_gru_step = true,
               kTested_gru_reset = true, kTested_gru_update = true, kTested_lstm_backward = true,
               kTested_gru_backward = true, kTested_gru_update_backward = true,
               kTested_gru_reset_backward = true, kTested_activate = true, kTested_sum_squares = true,
               kTested_scale = true, kTested_sgd = true, kTested_adam = true;
#define SIMDRNN_KERNEL(name) static_assert(kTested_##name, "kernel " #name " has no test");
#include "simd/kernel_list.inc"
#undef SIMDRNN_KERNEL

INSTANTIATE_TEST_SUITE_P(AllIsas, KernelTest, ::testing::ValuesIn(simdrnn_test::available_isas()),
                         [](const auto& info) { return std::string(simdrnn_isa_name(info.param)); });

}  // namespace
