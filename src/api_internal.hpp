// Pieces shared by the C API's translation units (api_*.cpp): the forward
// entry every forward-like call goes through, carried-state helpers and the
// thread count a call resolves to.
#pragma once

#include <cstdint>

#include "src/handles.hpp"
#include "src/validation.hpp"

namespace simdrnn {
inline namespace lib {

// Validates and runs a forward call; with a reserve it is forward_training
// (the caller has checked the reserve's size). `call_name` names the entry
// point in the verbose line ("forward", "stream_step", ...).
simdrnn_status forward_impl(const Model& m, const simdrnn_forward_args* a, void* reserve,
                            const char* call_name);

void init_carried(Carried& c, const simdrnn_model* handle, const Model& m, int64_t batch, int64_t max_steps,
                  const Shapes& s);
// Sets a carried state to h0 (and an LSTM's cell state to c0); NULL: zeros.
simdrnn_status reset_state(Carried& c, const float* h0, const float* c0);
// Copies a carried state into h (and c, when not NULL); checked.
simdrnn_status copy_state(const Carried& c, float* h, float* cell);

int32_t resolve_threads(int32_t requested);

// Each of lens[0..batch) must be in 1..seq_len; `name` is the argument's.
simdrnn_status check_seq_lens(const int64_t* lens, int64_t batch, int64_t seq_len, const char* name);

}  // namespace lib
}  // namespace simdrnn
