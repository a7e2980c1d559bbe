// Bad input for the training calls on LSTM and GRU models (simdrnn.h "training"): the cell state's
// arguments (dc_n, dc0, c0, c_n), reserves that do not belong to the call (from an Elman model,
// from another cell's model, from before set_params, from another shape), and overlaps.
//
// For every rejected call we check (a) the status, (b) that simdrnn_last_error() names the
// offending argument (the message is primed with an unrelated error first, so a stale message
// cannot pass), and (c) that every output still holds the sentinel it was filled with and the
// reserve the bytes it held.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/error_checks.hpp"
#include "support/gated_training.hpp"
#include "support/gated_util.hpp"
#include "support/reference.hpp"
#include "support/test_util.hpp"

namespace simdrnn_test {
namespace {

constexpr float kSentinel = 12345.0f;

const CellVariant& variant_named(const std::string& name) {
  for (const CellVariant& v : gated_variants())
    if (name == v.name) return v;
  ADD_FAILURE() << "no variant " << name;
  return gated_variants().front();
}

// The Elman cell as a variant, for reserves from an RNN model.
const CellVariant kElman = {"rnn", SIMDRNN_CELL_RNN, false, false, 1};

::testing::AssertionResult all_sentinel(const std::vector<float>& v, const char* what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (std::memcmp(&v[i], &kSentinel, sizeof(float)) != 0)
      return ::testing::AssertionFailure() << what << "[" << i << "] was overwritten with " << v[i];
  return ::testing::AssertionSuccess();
}

// One training step of a model: every buffer the right size, outputs sentinel-filled, the
// reserve sized (ready() when simdrnn_training_reserve_size accepted the model).
class GatedStep {
 public:
  GatedStep(const CellVariant& variant, int64_t input = 3, int64_t hidden = 4, int64_t T = 5, int64_t N = 3,
            bool bidirectional = true) {
    GatedTrainCase c;
    c.variant = &variant;
    c.input = input;
    c.hidden = hidden;
    c.steps = T;
    c.batch = N;
    c.layers = 2;
    c.bidirectional = bidirectional;
    c.output = 2;
    c.lens = c.h0 = c.c0 = c.dh_n = c.dc_n = true;
    p = make_gated_problem(c, 7);
    std::string error;
    model_.reset(create_model(p.config, p.ref, &error));
    EXPECT_NE(model_, nullptr) << error;
    if (!model_) return;
    lstm = p.config.cell == SIMDRNN_CELL_LSTM;
    y.assign(static_cast<size_t>(p.y_count()), kSentinel);
    h_n.assign(static_cast<size_t>(p.h_count()), kSentinel);
    c_n.assign(static_cast<size_t>(lstm ? p.c_count() : 0), kSentinel);
    out.assign(static_cast<size_t>(p.out_count()), kSentinel);
    fa.seq_len = T;
    fa.batch = N;
    fa.layout = SIMDRNN_TIME_MAJOR;
    fa.x = p.x.data();
    fa.h0 = p.h0.data();
    fa.c0 = lstm ? p.c0.data() : nullptr;
    fa.seq_lens = p.lens.data();
    fa.y = y.data();
    fa.h_n = h_n.data();
    fa.c_n = lstm ? c_n.data() : nullptr;
    fa.out = out.data();
    fa.num_threads = 1;
    size_t bytes = 0;
    EXPECT_EQ(simdrnn_forward_workspace_size(model(), &fa, &bytes), SIMDRNN_OK) << last_error();
    fwd_ws.resize(bytes + 256);
    fa.workspace = fwd_ws.data();
    fa.workspace_size = bytes;
    const simdrnn_status sized = simdrnn_training_reserve_size(model(), &fa, &bytes);
    EXPECT_EQ(sized, SIMDRNN_OK) << simdrnn_status_name(sized) << ": " << last_error();
    ready_ = sized == SIMDRNN_OK;
    reserve.assign(ready_ ? bytes : 1 << 16, 0);
    EXPECT_EQ(simdrnn_backward_workspace_size(model(), &fa, &bytes), SIMDRNN_OK) << last_error();
    bwd_ws.resize(bytes + 256);
    grads.assign(static_cast<size_t>(p.num_params()), kSentinel);
    dx.assign(p.x.size(), kSentinel);
    dh0.assign(p.h0.size(), kSentinel);
    dc0.assign(static_cast<size_t>(p.c_count()), kSentinel);
    // Incoming gradients: dc_n is sized for an LSTM's cell state even on other cells, so that a
    // wrongly given one points at real memory.
    dc_n_buffer = random_vector(static_cast<size_t>(p.c.layers * 2 * N * hidden), 15);
  }

  simdrnn_model* model() const { return model_.get(); }
  bool ready() const { return ready_; }

  simdrnn_status forward_training() {
    return simdrnn_forward_training(model(), &fa, reserve.data(), reserve.size());
  }

  // Backward args over the (sentinel-filled) gradient buffers, every input and output given.
  simdrnn_backward_args backward_args() {
    simdrnn_backward_args b{};
    b.forward = &fa;
    b.reserve = reserve.data();
    b.reserve_size = reserve.size();
    b.dy = p.wy.data();
    b.dout = p.wout.data();
    b.dh_n = p.whn.data();
    b.dc_n = lstm ? p.wcn.data() : nullptr;
    b.dx = dx.data();
    b.dh0 = dh0.data();
    b.dc0 = lstm ? dc0.data() : nullptr;
    b.grads = grads.data();
    b.workspace = bwd_ws.data();
    b.workspace_size = bwd_ws.size() - 256;
    b.num_threads = 1;
    return b;
  }

  ::testing::AssertionResult gradients_untouched() const {
    ::testing::AssertionResult r = all_sentinel(grads, "grads");
    if (r) r = all_sentinel(dx, "dx");
    if (r) r = all_sentinel(dh0, "dh0");
    if (r) r = all_sentinel(dc0, "dc0");
    return r;
  }
  ::testing::AssertionResult forward_outputs_untouched() const {
    ::testing::AssertionResult r = all_sentinel(y, "y");
    if (r) r = all_sentinel(h_n, "h_n");
    if (r) r = all_sentinel(c_n, "c_n");
    if (r) r = all_sentinel(out, "out");
    return r;
  }

  GatedProblem p;
  bool lstm = false;
  std::vector<float> y, h_n, c_n, out, dx, dh0, dc0, grads, dc_n_buffer;
  std::vector<unsigned char> fwd_ws, reserve, bwd_ws;
  simdrnn_forward_args fa{};

 private:
  ModelPtr model_;
  bool ready_ = false;
};

// Expects INVALID naming every one of `names`, the gradients and the reserve untouched.
void expect_backward_rejected(GatedStep& s, const simdrnn_backward_args& b,
                              const std::vector<std::string>& names, simdrnn_model* model = nullptr) {
  prime_last_error(names);
  const std::vector<unsigned char> reserve_before = s.reserve;
  const simdrnn_status status = simdrnn_backward(model != nullptr ? model : s.model(), &b);
  EXPECT_EQ(status, SIMDRNN_INVALID_ARGUMENT) << simdrnn_status_name(status) << ": " << last_error();
  EXPECT_TRUE(LastErrorNamesAll(names));
  EXPECT_TRUE(s.gradients_untouched());
  EXPECT_TRUE(s.reserve == reserve_before) << "backward wrote the reserve";
}

void expect_forward_rejected(GatedStep& s, const simdrnn_forward_args& a,
                             const std::vector<std::string>& names) {
  for (std::vector<float>* v : {&s.y, &s.h_n, &s.c_n, &s.out}) std::fill(v->begin(), v->end(), kSentinel);
  prime_last_error(names);
  const std::vector<unsigned char> reserve_before = s.reserve;
  const simdrnn_status status = simdrnn_forward_training(s.model(), &a, s.reserve.data(), s.reserve.size());
  EXPECT_EQ(status, SIMDRNN_INVALID_ARGUMENT) << simdrnn_status_name(status) << ": " << last_error();
  EXPECT_TRUE(LastErrorNamesAll(names));
  EXPECT_TRUE(s.forward_outputs_untouched());
  EXPECT_TRUE(s.reserve == reserve_before) << "forward_training wrote the reserve";
}

// ---- the valid call every error case below changes one thing of ------------------------------------

TEST(GatedTrainingValid, ForwardTrainingThenBackward) {
  for (const CellVariant& variant : gated_variants()) {
    SCOPED_TRACE(variant.name);
    GatedStep s(variant);
    if (!s.ready()) continue;
    ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
    simdrnn_backward_args b = s.backward_args();
    ASSERT_EQ(simdrnn_backward(s.model(), &b), SIMDRNN_OK) << last_error();
    for (const std::vector<float>* v : {&s.grads, &s.dx, &s.dh0, &s.dc0})
      for (float e : *v) ASSERT_TRUE(std::isfinite(e) && e != kSentinel);
  }
}

// ---- the cell state's arguments -----------------------------------------------------------------------

// dc_n and dc0 must be NULL for cells without a cell state: GRU (both variants) and Elman.
TEST(GatedTrainingErrors, CellStateGradientsOnCellsWithout) {
  for (const CellVariant* variant : {&variant_named("gru"), &variant_named("gru_reset_first"), &kElman}) {
    SCOPED_TRACE(variant->name);
    GatedStep s(*variant);
    if (!s.ready()) continue;
    ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
    simdrnn_backward_args b = s.backward_args();
    b.dc_n = s.dc_n_buffer.data();
    expect_backward_rejected(s, b, {"dc_n"});
    b = s.backward_args();
    std::vector<float> dc0(s.dc_n_buffer.size(), kSentinel);
    b.dc0 = dc0.data();
    expect_backward_rejected(s, b, {"dc0"});
    EXPECT_TRUE(all_sentinel(dc0, "dc0"));
    // forward_training with a cell state on them is refused too.
    simdrnn_forward_args a = s.fa;
    a.c0 = s.dc_n_buffer.data();
    expect_forward_rejected(s, a, {"c0"});
    a = s.fa;
    std::vector<float> c_n(s.dc_n_buffer.size(), kSentinel);
    a.c_n = c_n.data();
    expect_forward_rejected(s, a, {"c_n"});
    EXPECT_TRUE(all_sentinel(c_n, "c_n"));
  }
}

// Whether c0 is given is part of the call, as whether h0 is: backward with args->forward->c0 NULL
// after a forward_training with a c0 (or the reverse) is refused, naming c0. (simdrnn.h states this
// for h0 and seq_lens; the same reasoning holds for c0: the gradients belong to that call.)
TEST(GatedTrainingErrors, CellStatePresenceMustMatchTheReserve) {
  for (const char* name : {"lstm", "lstm_peephole_proj"}) {
    SCOPED_TRACE(name);
    GatedStep s(variant_named(name));
    if (!s.ready()) continue;
    ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
    simdrnn_forward_args without = s.fa;
    without.c0 = nullptr;
    simdrnn_backward_args b = s.backward_args();
    b.forward = &without;
    expect_backward_rejected(s, b, {"c0"});
    // The reverse: a reserve filled without c0, backward told there was one.
    GatedStep t(variant_named(name));
    t.fa.c0 = nullptr;
    ASSERT_EQ(t.forward_training(), SIMDRNN_OK) << last_error();
    simdrnn_forward_args with = t.fa;
    with.c0 = t.p.c0.data();
    simdrnn_backward_args c = t.backward_args();
    c.forward = &with;
    expect_backward_rejected(t, c, {"c0"});
  }
}

// Overlaps of the cell-state buffers with each other, the other outputs, the inputs, the reserve
// and the workspace.
TEST(GatedTrainingErrors, CellStateBufferOverlaps) {
  GatedStep s(variant_named("lstm_peephole"));
  if (!s.ready()) return;
  ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
  const int64_t c_count = s.p.c_count();
  // One big sentinel buffer that every pair of overlapping pointers lives in.
  std::vector<float> big(static_cast<size_t>(4 * c_count + s.p.num_params() + s.p.x_count()), kSentinel);
  {
    simdrnn_backward_args b = s.backward_args();
    std::copy(s.p.wcn.begin(), s.p.wcn.end(), big.begin());
    b.dc_n = big.data();
    b.dc0 = big.data() + c_count / 2;  // dc0 overlaps the dc_n it reads
    prime_last_error({"dc0", "dc_n"});
    EXPECT_EQ(simdrnn_backward(s.model(), &b), SIMDRNN_INVALID_ARGUMENT);
    EXPECT_TRUE(LastErrorNamesAll({"dc0", "dc_n"}));
    EXPECT_TRUE(std::equal(s.p.wcn.begin(), s.p.wcn.end(), big.begin())) << "dc_n was written";
    EXPECT_TRUE(s.gradients_untouched());
  }
  {
    simdrnn_backward_args b = s.backward_args();
    b.dc0 = s.grads.data() + 1;  // dc0 inside grads
    expect_backward_rejected(s, b, {"dc0", "grads"});
  }
  {
    simdrnn_backward_args b = s.backward_args();
    b.dc0 = s.dh0.data();  // dc0 == dh0
    expect_backward_rejected(s, b, {"dc0", "dh0"});
  }
  {
    simdrnn_backward_args b = s.backward_args();
    b.dc0 = reinterpret_cast<float*>(s.reserve.data() + 64);  // backward reads the reserve
    expect_backward_rejected(s, b, {"dc0", "reserve"});
  }
  {
    simdrnn_backward_args b = s.backward_args();
    b.dc0 = reinterpret_cast<float*>(s.bwd_ws.data());
    expect_backward_rejected(s, b, {"dc0", "workspace"});
  }
  {
    simdrnn_backward_args b = s.backward_args();
    b.dc0 = const_cast<float*>(s.fa.c0);  // dc0 over the forward's c0 (an input)
    expect_backward_rejected(s, b, {"dc0", "c0"});
  }
  {
    simdrnn_backward_args b = s.backward_args();
    b.dc_n = s.dx.data();  // an input inside an output
    expect_backward_rejected(s, b, {"dc_n", "dx"});
  }
  // forward_training: c_n over the reserve.
  simdrnn_forward_args a = s.fa;
  a.c_n = reinterpret_cast<float*>(s.reserve.data() + 64);
  prime_last_error({"c_n", "reserve"});
  const std::vector<unsigned char> before = s.reserve;
  EXPECT_EQ(simdrnn_forward_training(s.model(), &a, s.reserve.data(), s.reserve.size()),
            SIMDRNN_INVALID_ARGUMENT);
  EXPECT_TRUE(LastErrorNamesAll({"c_n", "reserve"}));
  EXPECT_TRUE(s.reserve == before);
}

// ---- reserves that do not belong to the call ------------------------------------------------------------

// A reserve filled by another cell's model, with the same sizes (I, H, T, N, layers, directions,
// output layer): an Elman reserve given to an LSTM or a GRU, an LSTM's to a GRU, a PyTorch GRU's
// to an ONNX GRU, an LSTM's to a peephole LSTM and to a projected one, each other way round too.
TEST(GatedTrainingErrors, ReserveFromAnotherCellsModel) {
  const struct {
    const CellVariant* filled_by;
    const char* used_by;
  } pairs[] = {{&kElman, "lstm"},
               {&kElman, "gru"},
               {&variant_named("lstm"), "gru"},
               {&variant_named("gru"), "lstm"},
               {&variant_named("gru"), "gru_reset_first"},
               {&variant_named("gru_reset_first"), "gru"},
               {&variant_named("lstm"), "lstm_peephole"},
               {&variant_named("lstm"), "lstm_proj"},
               {&variant_named("lstm_proj"), "lstm"}};
  for (const auto& pair : pairs) {
    SCOPED_TRACE(std::string(pair.filled_by->name) + " reserve to " + pair.used_by);
    GatedStep from(*pair.filled_by);
    GatedStep to(variant_named(pair.used_by));
    if (!from.ready() || !to.ready()) continue;
    ASSERT_EQ(from.forward_training(), SIMDRNN_OK) << last_error();
    ASSERT_EQ(to.forward_training(), SIMDRNN_OK) << last_error();
    // `to`'s own call, with `from`'s reserve (copied into a buffer of at least the size `to` needs).
    std::vector<unsigned char> foreign(std::max(from.reserve.size(), to.reserve.size()), 0);
    std::copy(from.reserve.begin(), from.reserve.end(), foreign.begin());
    simdrnn_backward_args b = to.backward_args();
    b.reserve = foreign.data();
    b.reserve_size = foreign.size();
    expect_backward_rejected(to, b, {"reserve"});
    // And `from`'s reserve as it is (its own size).
    b.reserve = from.reserve.data();
    b.reserve_size = from.reserve.size();
    expect_backward_rejected(to, b, {"reserve"});
  }
}

// set_params makes every earlier reserve stale (even with the same values); a new forward_training
// makes a fresh one.
TEST(GatedTrainingErrors, StaleReserveAfterSetParams) {
  for (const CellVariant& variant : gated_variants()) {
    SCOPED_TRACE(variant.name);
    GatedStep s(variant);
    if (!s.ready()) continue;
    ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
    std::vector<float> params(static_cast<size_t>(s.p.num_params()));
    ASSERT_EQ(simdrnn_model_get_params(s.model(), params.data()), SIMDRNN_OK);
    ASSERT_EQ(simdrnn_model_set_params(s.model(), params.data()), SIMDRNN_OK);
    simdrnn_backward_args b = s.backward_args();
    expect_backward_rejected(s, b, {"reserve", "simdrnn_model_set_params"});
    ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
    EXPECT_EQ(simdrnn_backward(s.model(), &b), SIMDRNN_OK) << last_error();
  }
}

// The call backward describes must be the one that filled the reserve: seq_len, batch, layout,
// h0 given or not, the lengths; a reserve of this model filled for a larger batch (so large enough)
// is refused for the smaller one; a reserve too small; one never filled.
TEST(GatedTrainingErrors, MismatchedShapes) {
  for (const char* name : {"lstm_peephole_proj", "gru"}) {
    SCOPED_TRACE(name);
    GatedStep s(variant_named(name));
    if (!s.ready()) continue;
    ASSERT_EQ(s.forward_training(), SIMDRNN_OK) << last_error();
    simdrnn_backward_args b = s.backward_args();
    simdrnn_forward_args a = s.fa;
    b.forward = &a;
    a.seq_len = s.fa.seq_len - 1;  // smaller, so the buffers still hold it
    expect_backward_rejected(s, b, {"seq_len"});
    a = s.fa;
    a.batch = s.fa.batch - 1;
    expect_backward_rejected(s, b, {"batch"});
    a = s.fa;
    a.layout = SIMDRNN_BATCH_MAJOR;
    expect_backward_rejected(s, b, {"layout"});
    a = s.fa;
    a.h0 = nullptr;
    expect_backward_rejected(s, b, {"h0"});
    a = s.fa;
    a.seq_lens = nullptr;
    expect_backward_rejected(s, b, {"seq_lens"});
    std::vector<int64_t> other_lens = s.p.lens;
    other_lens[0] = other_lens[0] == 1 ? 2 : 1;
    a = s.fa;
    a.seq_lens = other_lens.data();
    expect_backward_rejected(s, b, {"seq_lens"});
    // A reserve filled for batch 4 by this model, given to the batch-3 call.
    simdrnn_forward_args w = s.fa;
    w.batch = 4;
    std::vector<float> x4 = random_vector(static_cast<size_t>(5 * 4 * 3), 3),
                       h04(s.p.h0.size() / 3 * 4, 0.1f), c04(s.p.c0.size() / 3 * 4, 0.1f),
                       y4(s.y.size() / 3 * 4), h_n4(h04.size()), c_n4(c04.size()), out4(s.out.size() / 3 * 4);
    std::vector<int64_t> lens4 = {5, 1, 3, 5};
    w.x = x4.data();
    w.h0 = h04.data();
    w.c0 = s.lstm ? c04.data() : nullptr;
    w.seq_lens = lens4.data();
    w.y = y4.data();
    w.h_n = h_n4.data();
    w.c_n = s.lstm ? c_n4.data() : nullptr;
    w.out = out4.data();
    size_t bytes = 0;
    ASSERT_EQ(simdrnn_forward_workspace_size(s.model(), &w, &bytes), SIMDRNN_OK);
    std::vector<unsigned char> ws4(bytes);
    w.workspace = ws4.data();
    w.workspace_size = bytes;
    ASSERT_EQ(simdrnn_training_reserve_size(s.model(), &w, &bytes), SIMDRNN_OK);
    ASSERT_GE(bytes, s.reserve.size());
    std::vector<unsigned char> wide_reserve(bytes);
    ASSERT_EQ(simdrnn_forward_training(s.model(), &w, wide_reserve.data(), bytes), SIMDRNN_OK)
        << last_error();
    b = s.backward_args();
    b.reserve = wide_reserve.data();
    b.reserve_size = wide_reserve.size();
    expect_backward_rejected(s, b, {"reserve"});
    // Too small, and never filled.
    b = s.backward_args();
    b.reserve_size = s.reserve.size() - 1;
    expect_backward_rejected(s, b, {"reserve"});
    std::vector<unsigned char> zeroed(s.reserve.size(), 0);
    b.reserve = zeroed.data();
    b.reserve_size = zeroed.size();
    expect_backward_rejected(s, b, {"reserve"});
  }
}

// The gated reserve is larger than an Elman reserve of the same shapes (it keeps the gates and the
// cell state): simdrnn_training_reserve_size says so, and a reserve of the Elman size is refused.
TEST(GatedTrainingErrors, ReserveSizedForAnElmanModel) {
  GatedStep elman(kElman);
  GatedStep lstm(variant_named("lstm"));
  if (!elman.ready() || !lstm.ready()) return;
  EXPECT_GT(lstm.reserve.size(), elman.reserve.size());
  prime_last_error({"reserve_size"});
  EXPECT_EQ(simdrnn_forward_training(lstm.model(), &lstm.fa, lstm.reserve.data(), elman.reserve.size()),
            SIMDRNN_INVALID_ARGUMENT);
  EXPECT_TRUE(LastErrorNamesAll({"reserve_size"}));
  EXPECT_TRUE(lstm.forward_outputs_untouched());
}

}  // namespace
}  // namespace simdrnn_test
