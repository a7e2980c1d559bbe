// libFuzzer target for the model-file loader (simdrnn_model_load_from_memory).
// Any input must either load or be rejected with INVALID_ARGUMENT or
// UNSUPPORTED and a message, leaving the out-handle alone; a loaded model must
// run a forward call, and saving it must give a file that loads back to the
// same parameters and saves to the same bytes. A violation traps, so the
// fuzzer records the input. Sanitizers catch the rest (out-of-bounds reads,
// overflows, leaks).
//
// Under libFuzzer (SIMDRNN_LIBFUZZER) a custom mutator also edits the header
// as JSON half of the time (metadata values, shapes, offsets, names, entries,
// the data section's length), so that mutated inputs stay files that get past
// the parser and reach the checks and the model build behind it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"

#ifdef SIMDRNN_LIBFUZZER
#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#endif

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

std::vector<unsigned char> save(const simdrnn_model* model) {
  size_t size = 0;
  require(simdrnn_model_save_to_memory(model, nullptr, 0, &size) == SIMDRNN_OK);
  std::vector<unsigned char> bytes(size);
  require(simdrnn_model_save_to_memory(model, bytes.data(), bytes.size(), &size) == SIMDRNN_OK);
  require(size == bytes.size());
  return bytes;
}

std::vector<float> params(const simdrnn_model* model) {
  int64_t count = 0;
  require(simdrnn_model_num_params(model, &count) == SIMDRNN_OK);
  std::vector<float> p(static_cast<size_t>(count));
  require(simdrnn_model_get_params(model, p.data()) == SIMDRNN_OK);
  return p;
}

// Two steps of one sequence on one thread, x all ones: the model must run.
void run_forward(const simdrnn_model* model) {
  simdrnn_config c;
  require(simdrnn_model_config(model, &c) == SIMDRNN_OK);
  simdrnn_forward_args a{};
  a.seq_len = 2;
  a.batch = 1;
  a.num_threads = 1;
  simdrnn_sizes s;
  require(simdrnn_forward_sizes(model, &a, &s) == SIMDRNN_OK);
  std::vector<float> x(static_cast<size_t>(s.x), 1.0f), h_n(static_cast<size_t>(s.h));
  std::vector<unsigned char> workspace(s.workspace);
  a.x = x.data();
  a.h_n = h_n.data();
  a.workspace = workspace.data();
  a.workspace_size = workspace.size();
  require(simdrnn_forward(model, &a) == SIMDRNN_OK);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Never dereferenced: only compared, to see that a failed load left the out-handle alone.
  simdrnn_model* const sentinel =
      reinterpret_cast<simdrnn_model*>(uintptr_t{0x5a5a});  // NOLINT(performance-no-int-to-ptr)
  simdrnn_model* model = sentinel;
  const simdrnn_status status = simdrnn_model_load_from_memory(data, size, &model);
  if (status != SIMDRNN_OK) {
    require(status == SIMDRNN_INVALID_ARGUMENT || status == SIMDRNN_UNSUPPORTED);
    require(model == sentinel);
    require(simdrnn_last_error()[0] != '\0');
    return 0;
  }
  run_forward(model);
  const std::vector<unsigned char> file = save(model);
  simdrnn_model* again = nullptr;
  require(simdrnn_model_load_from_memory(file.data(), file.size(), &again) == SIMDRNN_OK);
  const std::vector<float> p = params(model), q = params(again);
  require(p.size() == q.size() &&
          (p.empty() || std::memcmp(p.data(), q.data(), p.size() * sizeof(float)) == 0));
  require(save(again) == file);
  simdrnn_model_destroy(again);
  simdrnn_model_destroy(model);
  return 0;
}

#ifdef SIMDRNN_LIBFUZZER
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using Json = nlohmann::ordered_json;

// One structural edit of a parsed header (and maybe the data section).
void mutate_header(Json& header, std::string& body, std::minstd_rand& rng) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<std::string> tensors;
  for (const auto& item : header.items())
    if (item.key() != "__metadata__") tensors.push_back(item.key());
  static const char* const kValues[] = {
      "-1",  "0",    "1",   "2",     "3",    "5",       "64",  "9223372036854775807",
      "rnn", "lstm", "gru", "tanh",  "relu", "sigmoid", "f32", "bf16",
      "0.5", "inf",  "nan", "1e-45", ""};
  static const char* const kKeys[] = {"simdrnn.cell",
                                      "simdrnn.input_size",
                                      "simdrnn.hidden_size",
                                      "simdrnn.num_layers",
                                      "simdrnn.bidirectional",
                                      "simdrnn.activation",
                                      "simdrnn.clip",
                                      "simdrnn.output_size",
                                      "simdrnn.proj_size",
                                      "simdrnn.gru_linear_before_reset",
                                      "simdrnn.weight_precision",
                                      "simdrnn.format_version"};
  switch (pick(7)) {
    case 0:  // a metadata value
      if (header.contains("__metadata__") && header["__metadata__"].is_object())
        header["__metadata__"][kKeys[pick(std::size(kKeys))]] = kValues[pick(std::size(kValues))];
      break;
    case 1:  // a shape dimension
    case 2:  // an offset, by whole floats or by a byte
      if (!tensors.empty()) {
        Json& t = header[tensors[pick(tensors.size())]];
        const char* field = pick(2) ? "shape" : "data_offsets";
        if (t.is_object() && t.contains(field) && t[field].is_array() && !t[field].empty()) {
          Json& v = t[field][pick(t[field].size())];
          const int64_t delta = static_cast<int64_t>(pick(9)) - 4;
          if (v.is_number_unsigned()) v = static_cast<int64_t>(v.get<uint64_t>()) + delta * (pick(4) ? 4 : 1);
        }
      }
      break;
    case 3:  // drop or duplicate-under-another-name an entry
      if (!tensors.empty()) {
        const std::string name = tensors[pick(tensors.size())];
        if (pick(2)) {
          header.erase(name);
        } else {
          static const char* const kNames[] = {"weight_ih_l1", "weight_hh_l0_reverse", "bias_ih_l0",
                                               "weight_hr_l0", "weight_peephole_l0",   "weight_hy",
                                               "bias_hy"};
          const Json copy = header[name];  // inserting may move the entries
          header[kNames[pick(std::size(kNames))]] = copy;
        }
      }
      break;
    case 4:  // grow or shrink the data section by a few floats
      if (pick(2) || body.size() < 16)
        body.append(4 * (1 + pick(8)), '\0');
      else
        body.resize(body.size() - 4 * (1 + pick(4)));
      break;
    case 5:  // a tensor's dtype
      if (!tensors.empty()) {
        Json& t = header[tensors[pick(tensors.size())]];
        if (t.is_object()) t["dtype"] = pick(2) ? "F16" : "F32";
      }
      break;
    default:  // the data's values
      if (!body.empty()) body[pick(body.size())] = static_cast<char>(rng());
      break;
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::minstd_rand rng(seed);
  if (rng() % 2 == 0 || size < 8) return LLVMFuzzerMutate(data, size, max_size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | data[i];
  if (n > size - 8) return LLVMFuzzerMutate(data, size, max_size);
  // Containers deeper than a header's are dropped (they would only make dump() recurse).
  const auto shallow = [](int depth, Json::parse_event_t event, Json&) {
    return depth < 3 ||
           (event != Json::parse_event_t::object_start && event != Json::parse_event_t::array_start);
  };
  Json header = Json::parse(data + 8, data + 8 + n, shallow, false);
  if (!header.is_object()) return LLVMFuzzerMutate(data, size, max_size);
  std::string body(reinterpret_cast<const char*>(data + 8 + n), size - 8 - n);
  std::string text;
  try {
    mutate_header(header, body, rng);
    text = header.dump();
  } catch (const nlohmann::json::exception&) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  const size_t out = 8 + text.size() + body.size();
  if (out > max_size) return LLVMFuzzerMutate(data, size, max_size);
  uint64_t length = text.size();
  for (int i = 0; i < 8; ++i, length >>= 8) data[i] = static_cast<uint8_t>(length & 0xff);
  // NOLINTNEXTLINE(bugprone-not-null-terminated-result): binary data, no terminator
  std::memcpy(data + 8, text.data(), text.size());
  // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
  std::memcpy(data + 8 + text.size(), body.data(), body.size());
  return out;
}
#endif  // SIMDRNN_LIBFUZZER
