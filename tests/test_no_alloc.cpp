// The execute path allocates nothing: every operator new is counted while
// simdrnn_forward and simdrnn_stream_step run (after a warm-up call that lets
// the worker pool start its threads), on every ISA and at 1 and 2 threads.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/test_util.hpp"

#ifndef SIMDRNN_TEST_SANITIZED
namespace {
std::atomic<long> g_allocations{0};
}
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

struct Fixture {
  simdrnn_weights* weights = nullptr;
  simdrnn_model* model = nullptr;
  explicit Fixture(int64_t layers, int32_t bidirectional, int64_t out) {
    simdrnn_config c = simdrnn_config_default();
    c.input_size = 24, c.hidden_size = 70, c.num_layers = layers, c.bidirectional = bidirectional;
    c.output_size = out;
    EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_create(&c, &weights));
    for (int64_t l = 0; l < layers; ++l)
      for (int d = 0; d <= bidirectional; ++d) {
        const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
        const int64_t in = l == 0 ? 24 : 70 * (1 + bidirectional);
        auto wih = simdrnn_test::random_vector(70 * in, 1), whh = simdrnn_test::random_vector(70 * 70, 2);
        EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_set(weights, ("weight_ih" + sfx).c_str(), wih.data(), 70 * in));
        EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_set(weights, ("weight_hh" + sfx).c_str(), whh.data(), 70 * 70));
      }
    if (out > 0) {
      auto why = simdrnn_test::random_vector(out * 70 * (1 + bidirectional), 3);
      EXPECT_EQ(SIMDRNN_OK, simdrnn_weights_set(weights, "weight_hy", why.data(), static_cast<int64_t>(why.size())));
    }
    EXPECT_EQ(SIMDRNN_OK, simdrnn_model_create(weights, &model)) << simdrnn_last_error();
  }
  ~Fixture() {
    simdrnn_model_destroy(model);
    simdrnn_weights_destroy(weights);
  }
};

TEST(NoAllocation, ForwardAndStreamStep) {
  for (simdrnn_isa isa : simdrnn_test::available_isas())
    for (auto [layers, bidir] : {std::pair<int64_t, int32_t>{1, 0}, {2, 1}}) {
      simdrnn_test::IsaCap cap(isa);
      Fixture f(layers, bidir, 5);
      const int64_t T = 9, N = 3, D = 1 + bidir;
      std::vector<float> x(T * N * 24, 0.5f), y(T * N * D * 70), hn(layers * D * N * 70), out(T * N * 5);
      std::vector<int64_t> lens = {9, 4, 1};
      simdrnn_forward_args a{};
      a.seq_len = T, a.batch = N, a.x = x.data(), a.y = y.data(), a.h_n = hn.data(), a.out = out.data();
      a.seq_lens = lens.data();
      size_t bytes = 0;
      ASSERT_EQ(SIMDRNN_OK, simdrnn_forward_workspace_size(f.model, &a, &bytes));
      std::vector<unsigned char> ws(bytes + 1);
      a.workspace = ws.data(), a.workspace_size = ws.size();
      simdrnn_stream* stream = nullptr;
      if (!bidir) {
        ASSERT_EQ(SIMDRNN_OK, simdrnn_stream_create(f.model, N, 4, &stream));
      }
      for (int32_t threads : {1, 2}) {
        a.num_threads = threads;
        ASSERT_EQ(SIMDRNN_OK, simdrnn_forward(f.model, &a)) << simdrnn_last_error();  // warm-up
        // Braces: ASSERT_EQ expands to an if/else, which -Wdangling-else flags.
        if (stream) {
          ASSERT_EQ(SIMDRNN_OK, simdrnn_stream_step(stream, 2, x.data(), y.data(), out.data(), threads));
        }
        const long before = g_allocations.load();
        for (int rep = 0; rep < 3; ++rep) {
          ASSERT_EQ(SIMDRNN_OK, simdrnn_forward(f.model, &a));
          if (stream) {
            ASSERT_EQ(SIMDRNN_OK, simdrnn_stream_step(stream, 2, x.data(), y.data(), out.data(), threads));
          }
        }
        EXPECT_EQ(before, g_allocations.load()) << simdrnn_isa_name(isa) << " layers " << layers << " threads "
                                                << threads;
      }
      simdrnn_stream_destroy(stream);
    }
}

// Training: forward_training, backward and a truncated-BPTT session chunk
// allocate nothing after setup (sizing calls, session creation, warm-up).
TEST(NoAllocation, TrainingCalls) {
  for (simdrnn_isa isa : simdrnn_test::available_isas())
    for (auto [layers, bidir] : {std::pair<int64_t, int32_t>{1, 0}, {2, 1}}) {
      simdrnn_test::IsaCap cap(isa);
      Fixture f(layers, bidir, 5);
      const int64_t T = 6, N = 3, D = 1 + bidir;
      std::vector<float> x(T * N * 24, 0.5f), y(T * N * D * 70), dy(y.size(), 0.1f), dx(x.size());
      std::vector<float> dout(T * N * 5, 0.2f), out(dout.size());
      std::vector<int64_t> lens = {6, 2, 1};
      simdrnn_forward_args a{};
      a.seq_len = T, a.batch = N, a.x = x.data(), a.y = y.data(), a.seq_lens = lens.data();
      size_t ws = 0, rs = 0, bws = 0;
      ASSERT_EQ(SIMDRNN_OK, simdrnn_forward_workspace_size(f.model, &a, &ws));
      ASSERT_EQ(SIMDRNN_OK, simdrnn_training_reserve_size(f.model, &a, &rs));
      ASSERT_EQ(SIMDRNN_OK, simdrnn_backward_workspace_size(f.model, &a, &bws));
      int64_t np = 0;
      ASSERT_EQ(SIMDRNN_OK, simdrnn_model_num_params(f.model, &np));
      std::vector<unsigned char> wsb(ws + 1), res(rs), bw(bws);
      std::vector<float> grads(np);
      a.workspace = wsb.data(), a.workspace_size = wsb.size();
      simdrnn_backward_args b{};
      b.forward = &a, b.reserve = res.data(), b.reserve_size = res.size(), b.dy = dy.data(), b.dout = dout.data();
      b.dx = dx.data(), b.grads = grads.data(), b.workspace = bw.data(), b.workspace_size = bw.size();
      simdrnn_train_session* session = nullptr;
      if (!bidir) {
        ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_create(f.model, N, T, &session));
      }
      for (int32_t threads : {1, 2}) {
        a.num_threads = b.num_threads = threads;
        auto one_round = [&] {
          ASSERT_EQ(SIMDRNN_OK, simdrnn_forward_training(f.model, &a, res.data(), res.size())) << simdrnn_last_error();
          ASSERT_EQ(SIMDRNN_OK, simdrnn_backward(f.model, &b)) << simdrnn_last_error();
          if (session) {
            ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(session, T, x.data(), y.data(), out.data(), threads));
            ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_backward(session, dy.data(), dout.data(), dx.data(),
                                                                 grads.data(), 0, threads));
          }
        };
        one_round();  // warm-up
        const long before = g_allocations.load();
        for (int rep = 0; rep < 3; ++rep) one_round();
        EXPECT_EQ(before, g_allocations.load()) << simdrnn_isa_name(isa) << " layers " << layers << " threads "
                                                << threads;
      }
      simdrnn_train_session_destroy(session);
    }
}

// The counter itself works (so the tests above can fail).
TEST(NoAllocation, CounterSeesAllocations) {
  const long before = g_allocations.load();
  auto* v = new std::vector<int>(100);
  delete v;
  EXPECT_GE(g_allocations.load() - before, 2);
}

}  // namespace
#else
TEST(NoAllocation, SkippedUnderSanitizers) { GTEST_SKIP() << "operator new is the sanitizer's in this build"; }
#endif
