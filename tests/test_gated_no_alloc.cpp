// The training execute path of LSTM and GRU models allocates nothing: every operator new is
// counted while simdrnn_forward_training, simdrnn_backward and a truncated-BPTT session chunk run
// (after the sizing calls, session creation and a warm-up round that lets the worker pool start
// its threads), on every ISA, at 1 and 2 threads, for an LSTM with peepholes and projection, a
// plain LSTM and both GRUs, one- and two-layer (bidirectional) with lengths and the output layer.
// (test_no_alloc.cpp does the same for inference and Elman training.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/gated_training.hpp"
#include "support/gated_util.hpp"
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

namespace simdrnn_test {
namespace {

TEST(GatedNoAllocation, TrainingCalls) {
  for (const CellVariant& variant : gated_variants()) {
    if (variant.peephole != variant.projection) continue;  // lstm, lstm_peephole_proj, both GRUs
    for (simdrnn_isa isa : available_isas())
      for (bool deep : {false, true}) {
        SCOPED_TRACE(std::string(variant.name) + " " + simdrnn_isa_name(isa) +
                     (deep ? " 2 layers bi" : " 1 layer"));
        IsaCap cap(isa);
        GatedTrainCase c;
        c.variant = &variant;
        c.input = 24;
        c.hidden = 70;
        c.steps = 6;
        c.batch = 3;
        c.layers = deep ? 2 : 1;
        c.bidirectional = deep;
        c.output = 5;
        c.lens = c.h0 = c.c0 = c.dh_n = c.dc_n = true;
        const GatedProblem p = make_gated_problem(c, 1);
        GatedTrainer trainer(p, 1);  // sizes, prepares and fills a first reserve
        if (!trainer.ok()) continue;
        simdrnn_forward_args a = trainer.args();
        const bool lstm = p.c.lstm();
        std::vector<float> grads(static_cast<size_t>(p.num_params())), dx(p.x.size()), dh0(p.h0.size()),
            dc0(p.c0.size());
        simdrnn_backward_args b = trainer.backward_args(1, 0);
        b.grads = grads.data();
        b.dx = dx.data();
        b.dh0 = dh0.data();
        b.dc0 = lstm ? dc0.data() : nullptr;
        std::vector<unsigned char>& reserve = trainer.reserve();
        simdrnn_train_session* session = nullptr;
        std::vector<float> x_chunk, y_chunk, dy_chunk, out_chunk, dout_chunk;
        if (!deep) {
          ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_create(trainer.model(), c.batch, c.steps, &session))
              << simdrnn_last_error();
          x_chunk.assign(p.x.size(), 0.5f);
          y_chunk.assign(static_cast<size_t>(p.y_count()), 0.0f);
          dy_chunk.assign(y_chunk.size(), 0.1f);
          out_chunk.assign(static_cast<size_t>(p.out_count()), 0.0f);
          dout_chunk.assign(out_chunk.size(), 0.2f);
        }
        for (int32_t threads : {1, 2}) {
          a.num_threads = b.num_threads = threads;
          auto one_round = [&] {
            ASSERT_EQ(SIMDRNN_OK,
                      simdrnn_forward_training(trainer.model(), &a, reserve.data(), reserve.size()))
                << simdrnn_last_error();
            ASSERT_EQ(SIMDRNN_OK, simdrnn_backward(trainer.model(), &b)) << simdrnn_last_error();
            if (session != nullptr) {
              ASSERT_EQ(SIMDRNN_OK, simdrnn_train_session_forward(session, c.steps, x_chunk.data(),
                                                                  y_chunk.data(), out_chunk.data(), threads));
              ASSERT_EQ(SIMDRNN_OK,
                        simdrnn_train_session_backward(session, dy_chunk.data(), dout_chunk.data(), dx.data(),
                                                       grads.data(), 0, threads));
            }
          };
          one_round();  // warm-up
          const long before = g_allocations.load();
          for (int rep = 0; rep < 3; ++rep) one_round();
          EXPECT_EQ(before, g_allocations.load()) << "threads " << threads;
        }
        simdrnn_train_session_destroy(session);
      }
  }
}

}  // namespace
}  // namespace simdrnn_test
#else
TEST(GatedNoAllocation, SkippedUnderSanitizers) {
  GTEST_SKIP() << "operator new is the sanitizer's in this build";
}
#endif
