// A model is immutable after creation: several native threads running it at
// once, each with its own buffers (and pool threads inside), get exactly
// the results of one thread running alone.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace {

TEST(Concurrency, SharedModelManyCallers) {
  for (simdrnn_isa isa : simdrnn_test::available_isas()) {
    simdrnn_test::IsaCap cap(isa);
    simdrnn_config c = simdrnn_config_default();
    c.input_size = 19, c.hidden_size = 37, c.num_layers = 2, c.bidirectional = 1, c.output_size = 3;
    simdrnn_weights* w = nullptr;
    ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_create(&c, &w));
    for (int64_t l = 0; l < 2; ++l)
      for (int d = 0; d < 2; ++d) {
        const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
        const int64_t in = l == 0 ? 19 : 74;
        const auto wih = simdrnn_test::random_vector(37 * in, 10 + l * 2 + d);
        const auto whh = simdrnn_test::random_vector(37 * 37, 20 + l * 2 + d);
        ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, ("weight_ih" + sfx).c_str(), wih.data(), 37 * in));
        ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, ("weight_hh" + sfx).c_str(), whh.data(), 37 * 37));
      }
    const auto why = simdrnn_test::random_vector(3 * 74, 30);
    ASSERT_EQ(SIMDRNN_OK, simdrnn_weights_set(w, "weight_hy", why.data(), 3 * 74));
    simdrnn_model* model = nullptr;
    ASSERT_EQ(SIMDRNN_OK, simdrnn_model_create(w, &model));

    constexpr int kCallers = 4;
    const int64_t T = 13, N = 5;
    struct Job {
      std::vector<float> x, y, out, hn;
      std::vector<unsigned char> ws;
    };
    auto run = [&](Job& job, int32_t threads, int reps) {
      simdrnn_forward_args a{};
      a.seq_len = T, a.batch = N, a.x = job.x.data(), a.y = job.y.data(), a.out = job.out.data();
      a.h_n = job.hn.data(), a.num_threads = threads;
      size_t bytes = 0;
      if (simdrnn_forward_workspace_size(model, &a, &bytes) != SIMDRNN_OK) return false;
      job.ws.resize(bytes + 1);
      a.workspace = job.ws.data(), a.workspace_size = job.ws.size();
      for (int r = 0; r < reps; ++r)
        if (simdrnn_forward(model, &a) != SIMDRNN_OK) return false;
      return true;
    };
    std::vector<Job> alone(kCallers), together(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      for (Job* j : {&alone[i], &together[i]}) {
        j->x = simdrnn_test::random_vector(T * N * 19, 100 + i);
        j->y.assign(T * N * 74, 0.0f), j->out.assign(T * N * 3, 0.0f), j->hn.assign(4 * N * 37, 0.0f);
      }
      ASSERT_TRUE(run(alone[i], 1, 1));
    }
    std::vector<std::thread> threads;
    std::vector<char> ok(kCallers, 0);
    for (int i = 0; i < kCallers; ++i)
      threads.emplace_back([&, i] { ok[i] = run(together[i], 1 + i % 2, 20); });
    for (auto& t : threads) t.join();
    for (int i = 0; i < kCallers; ++i) {
      EXPECT_TRUE(ok[i]) << simdrnn_isa_name(isa);
      EXPECT_EQ(0, std::memcmp(alone[i].y.data(), together[i].y.data(), alone[i].y.size() * 4)) << i;
      EXPECT_EQ(0, std::memcmp(alone[i].out.data(), together[i].out.data(), alone[i].out.size() * 4)) << i;
      EXPECT_EQ(0, std::memcmp(alone[i].hn.data(), together[i].hn.data(), alone[i].hn.size() * 4)) << i;
    }
    simdrnn_model_destroy(model);
    simdrnn_weights_destroy(w);
  }
}

}  // namespace
