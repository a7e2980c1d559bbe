// The model file (simdrnn_model_save / _load, docs/model_file.md): every cell
// and optional tensor round-trips bit for bit (parameters, which tensors the
// model has, forward outputs, the file's own bytes) on every ISA, and every
// kind of damaged file (truncated, oversized, not JSON, wrong dtype or shape,
// offsets out of range, overlapping or leaving holes, missing or unknown
// tensors, bad metadata) is rejected with a message naming what is wrong,
// without a crash or an out-of-bounds read (this test also runs under ASan
// and UBSan).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "simdrnn/simdrnn.hpp"
#include "support/test_util.hpp"

namespace {

using Bytes = std::vector<unsigned char>;
using Json = nlohmann::ordered_json;
using simdrnn_test::available_isas;
using simdrnn_test::IsaCap;
using simdrnn_test::random_vector;

struct ModelDeleter {
  void operator()(simdrnn_model* m) const { simdrnn_model_destroy(m); }
};
using ModelPtr = std::unique_ptr<simdrnn_model, ModelDeleter>;
struct WeightsDeleter {
  void operator()(simdrnn_weights* w) const { simdrnn_weights_destroy(w); }
};
using WeightsPtr = std::unique_ptr<simdrnn_weights, WeightsDeleter>;

std::string last_error() { return simdrnn_last_error(); }

// ---- models under test -------------------------------------------------------------
struct Case {
  const char* name;
  simdrnn_config config;
  bool biases, peepholes, bias_hy;
};

simdrnn_config make_config(simdrnn_cell cell, int64_t input, int64_t hidden, int64_t layers,
                           bool bidirectional) {
  simdrnn_config c = simdrnn_config_default();
  c.cell = cell;
  c.input_size = input;
  c.hidden_size = hidden;
  c.num_layers = layers;
  c.bidirectional = bidirectional ? 1 : 0;
  return c;
}

std::vector<Case> cases() {
  std::vector<Case> all;
  auto add = [&](const char* name, simdrnn_config c, bool biases, bool peepholes, bool bias_hy) {
    all.push_back({name, c, biases, peepholes, bias_hy});
  };
  simdrnn_config c = make_config(SIMDRNN_CELL_RNN, 3, 5, 1, false);
  add("rnn_tanh_no_bias", c, false, false, false);
  c = make_config(SIMDRNN_CELL_RNN, 4, 6, 2, true);
  c.activation = SIMDRNN_RELU;
  c.clip = 0.75f;
  c.output_size = 3;
  add("rnn_relu_bidir_2layers_clip_out_bias_hy", c, true, false, true);
  c = make_config(SIMDRNN_CELL_RNN, 2, 3, 1, false);
  c.activation = SIMDRNN_SIGMOID;
  c.output_size = 2;
  add("rnn_sigmoid_out_no_bias_hy", c, true, false, false);
  c = make_config(SIMDRNN_CELL_LSTM, 3, 4, 1, false);
  add("lstm_biases", c, true, false, false);
  c = make_config(SIMDRNN_CELL_LSTM, 3, 5, 2, true);
  c.proj_size = 2;
  c.clip = 1.5f;
  c.output_size = 2;
  add("lstm_proj_peepholes_bidir_2layers_out_bias_hy", c, true, true, true);
  c = make_config(SIMDRNN_CELL_LSTM, 2, 3, 1, false);
  add("lstm_peepholes_no_bias", c, false, true, false);
  c = make_config(SIMDRNN_CELL_GRU, 3, 4, 1, false);
  add("gru_pytorch", c, true, false, false);
  c = make_config(SIMDRNN_CELL_GRU, 3, 4, 2, true);
  c.gru_linear_before_reset = 0;
  c.clip = 0.1f;  // not exact in binary: the text must still give back the same float
  c.output_size = 1;
  add("gru_onnx_bidir_2layers_clip_out", c, true, false, true);
  // Reduced precisions are recorded and rebuilt (the tensors stay F32).
  c = make_config(SIMDRNN_CELL_LSTM, 3, 5, 2, false);
  c.proj_size = 3;
  c.output_size = 2;
  c.weight_precision = SIMDRNN_PRECISION_BF16;
  add("lstm_proj_peepholes_out_bf16", c, true, true, true);
  c = make_config(SIMDRNN_CELL_GRU, 3, 4, 1, true);
  c.weight_precision = SIMDRNN_PRECISION_INT8;
  add("gru_bidir_int8", c, true, false, false);
  return all;
}

// Every tensor name and element count of a case, in flat-vector order
// (simdrnn.h), written out independently of the library's schema.
std::vector<std::pair<std::string, int64_t>> tensors_of(const Case& k) {
  const simdrnn_config& c = k.config;
  const int64_t G = c.cell == SIMDRNN_CELL_LSTM ? 4 : c.cell == SIMDRNN_CELL_GRU ? 3 : 1;
  const int64_t H = c.hidden_size, Hout = c.proj_size > 0 ? c.proj_size : H, D = c.bidirectional ? 2 : 1;
  std::vector<std::pair<std::string, int64_t>> t;
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const std::string s = "_l" + std::to_string(l) + (d ? "_reverse" : "");
      t.emplace_back("weight_ih" + s, G * H * (l == 0 ? c.input_size : D * Hout));
      t.emplace_back("weight_hh" + s, G * H * Hout);
      if (k.biases) {
        t.emplace_back("bias_ih" + s, G * H);
        t.emplace_back("bias_hh" + s, G * H);
      }
      if (c.proj_size > 0) t.emplace_back("weight_hr" + s, c.proj_size * H);
      if (k.peepholes) t.emplace_back("weight_peephole" + s, 3 * H);
    }
  if (c.output_size > 0) {
    t.emplace_back("weight_hy", c.output_size * D * Hout);
    if (k.bias_hy) t.emplace_back("bias_hy", c.output_size);
  }
  return t;
}

ModelPtr build(const Case& k) {
  simdrnn_weights* w = nullptr;
  EXPECT_EQ(simdrnn_weights_create(&k.config, &w), SIMDRNN_OK) << last_error();
  WeightsPtr weights(w);
  uint32_t seed = 1;
  for (const auto& [name, count] : tensors_of(k)) {
    const std::vector<float> data = random_vector(static_cast<size_t>(count), seed++);
    EXPECT_EQ(simdrnn_weights_set(w, name.c_str(), data.data(), count), SIMDRNN_OK)
        << name << ": " << last_error();
  }
  simdrnn_model* m = nullptr;
  EXPECT_EQ(simdrnn_model_create(w, &m), SIMDRNN_OK) << last_error();
  return ModelPtr(m);
}

Bytes save(const simdrnn_model* m) {
  size_t size = 0;
  EXPECT_EQ(simdrnn_model_save_to_memory(m, nullptr, 0, &size), SIMDRNN_OK) << last_error();
  Bytes bytes(size);
  EXPECT_EQ(simdrnn_model_save_to_memory(m, bytes.data(), bytes.size(), &size), SIMDRNN_OK) << last_error();
  EXPECT_EQ(size, bytes.size());
  return bytes;
}

ModelPtr load(const Bytes& bytes) {
  simdrnn_model* m = nullptr;
  EXPECT_EQ(simdrnn_model_load_from_memory(bytes.data(), bytes.size(), &m), SIMDRNN_OK) << last_error();
  return ModelPtr(m);
}

std::vector<float> params(const simdrnn_model* m) {
  int64_t n = 0;
  EXPECT_EQ(simdrnn_model_num_params(m, &n), SIMDRNN_OK);
  std::vector<float> p(static_cast<size_t>(n));
  EXPECT_EQ(simdrnn_model_get_params(m, p.data()), SIMDRNN_OK);
  return p;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void expect_same_config(const simdrnn_config& a, const simdrnn_config& b) {
  EXPECT_EQ(a.input_size, b.input_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.bidirectional, b.bidirectional);
  EXPECT_EQ(a.activation, b.activation);
  EXPECT_EQ(std::memcmp(&a.clip, &b.clip, sizeof a.clip), 0) << a.clip << " vs " << b.clip;
  EXPECT_EQ(a.output_size, b.output_size);
  EXPECT_EQ(a.cell, b.cell);
  EXPECT_EQ(a.proj_size, b.proj_size);
  EXPECT_EQ(a.gru_linear_before_reset, b.gru_linear_before_reset);
  EXPECT_EQ(a.weight_precision, b.weight_precision);
}

// Every output of one forward call with random inputs and states.
std::vector<std::vector<float>> forward(const simdrnn_model* m) {
  simdrnn_config c;
  EXPECT_EQ(simdrnn_model_config(m, &c), SIMDRNN_OK);
  simdrnn_forward_args a{};
  a.seq_len = 4;
  a.batch = 3;
  a.num_threads = 1;
  a.y = reinterpret_cast<float*>(1);  // sizes only read whether y is NULL
  const simdrnn_sizes s = simdrnn_test::sizes_of(m, a);
  const std::vector<float> x = random_vector(static_cast<size_t>(s.x), 101),
                           h0 = random_vector(static_cast<size_t>(s.h), 102),
                           c0 = random_vector(static_cast<size_t>(s.c), 103);
  const int64_t lens[] = {4, 2, 3};
  std::vector<float> y(static_cast<size_t>(s.y)), h_n(static_cast<size_t>(s.h)),
      c_n(static_cast<size_t>(s.c)), out(static_cast<size_t>(s.out));
  std::vector<unsigned char> workspace(s.workspace);
  a.x = x.data();
  a.h0 = h0.data();
  a.seq_lens = lens;
  a.y = y.data();
  a.h_n = h_n.data();
  if (c.cell == SIMDRNN_CELL_LSTM) {
    a.c0 = c0.data();
    a.c_n = c_n.data();
  }
  if (c.output_size > 0) a.out = out.data();
  a.workspace = workspace.data();
  a.workspace_size = workspace.size();
  EXPECT_EQ(simdrnn_forward(m, &a), SIMDRNN_OK) << last_error();
  return {y, h_n, c_n, out};
}

// ---- round trips ---------------------------------------------------------------------
class ModelFileRoundTrip : public testing::TestWithParam<Case> {};

TEST_P(ModelFileRoundTrip, BitIdenticalOnEveryIsa) {
  const Case& k = GetParam();
  for (simdrnn_isa isa : available_isas()) {
    SCOPED_TRACE(simdrnn_isa_name(isa));
    const IsaCap cap(isa);
    const ModelPtr original = build(k);
    ASSERT_TRUE(original);
    const Bytes file = save(original.get());
    const ModelPtr loaded = load(file);
    ASSERT_TRUE(loaded);

    simdrnn_isa loaded_isa;
    ASSERT_EQ(simdrnn_model_isa(loaded.get(), &loaded_isa), SIMDRNN_OK);
    EXPECT_EQ(loaded_isa, isa);
    simdrnn_config a, b;
    ASSERT_EQ(simdrnn_model_config(original.get(), &a), SIMDRNN_OK);
    ASSERT_EQ(simdrnn_model_config(loaded.get(), &b), SIMDRNN_OK);
    expect_same_config(a, b);
    EXPECT_TRUE(same_bits(params(original.get()), params(loaded.get())));
    // The same tensors, absent ones included, at the same offsets.
    Case every = k;
    every.biases = every.peepholes = every.bias_hy = true;
    for (const auto& [name, count] : tensors_of(every)) {
      int64_t off_a, count_a, off_b, count_b;
      ASSERT_EQ(simdrnn_model_param_offset(original.get(), name.c_str(), &off_a, &count_a), SIMDRNN_OK);
      ASSERT_EQ(simdrnn_model_param_offset(loaded.get(), name.c_str(), &off_b, &count_b), SIMDRNN_OK);
      EXPECT_EQ(off_a, off_b) << name;
      EXPECT_EQ(count_a, count_b) << name;
    }
    const auto want = forward(original.get()), got = forward(loaded.get());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(same_bits(want[i], got[i])) << "output " << i;
    EXPECT_EQ(save(loaded.get()), file) << "saving the loaded model gives other bytes";
  }
}

TEST_P(ModelFileRoundTrip, ThroughAFile) {
  const ModelPtr original = build(GetParam());
  const std::string path = testing::TempDir() + "simdrnn_model_file_" + GetParam().name + ".safetensors";
  ASSERT_EQ(simdrnn_model_save(original.get(), path.c_str()), SIMDRNN_OK) << last_error();
  simdrnn_model* raw = nullptr;
  ASSERT_EQ(simdrnn_model_load(path.c_str(), &raw), SIMDRNN_OK) << last_error();
  const ModelPtr loaded(raw);
  EXPECT_TRUE(same_bits(params(original.get()), params(loaded.get())));
  std::ifstream in(path, std::ios::binary);
  const Bytes on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, save(original.get()));
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Cells, ModelFileRoundTrip, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

// ---- the file's layout -------------------------------------------------------------------
// A file split into its header (parsed, order kept) and data section.
struct Parts {
  Json header;
  std::string data;
};

Parts split(const Bytes& file) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | file[static_cast<size_t>(i)];
  Parts p;
  p.header = Json::parse(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  p.data.assign(file.begin() + 8 + static_cast<std::ptrdiff_t>(n), file.end());
  return p;
}

Bytes join_text(const std::string& header, const std::string& data, uint64_t length_field) {
  Bytes file(8);
  for (int i = 0; i < 8; ++i)
    file[static_cast<size_t>(i)] = static_cast<unsigned char>(length_field >> (8 * i));
  file.insert(file.end(), header.begin(), header.end());
  file.insert(file.end(), data.begin(), data.end());
  return file;
}
Bytes join_text(const std::string& header, const std::string& data) {
  return join_text(header, data, header.size());
}
Bytes join(const Parts& p) { return join_text(p.header.dump(), p.data); }

TEST(ModelFileLayout, IsStandardSafetensors) {
  Case k = cases()[4];  // projected, peepholes, bidirectional, 2 layers, output layer with bias
  const ModelPtr m = build(k);
  const Bytes file = save(m.get());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | file[static_cast<size_t>(i)];
  EXPECT_EQ(n % 8, 0u) << "header padded so that the data starts 8-byte aligned";
  EXPECT_EQ(file[8], '{');
  const Parts p = split(file);
  const Json& meta = p.header["__metadata__"];
  EXPECT_EQ(meta["simdrnn.cell"], "lstm");
  EXPECT_EQ(meta["simdrnn.hidden_size"], "5");
  EXPECT_EQ(meta["simdrnn.proj_size"], "2");
  EXPECT_EQ(meta["simdrnn.bidirectional"], "1");
  EXPECT_EQ(meta["simdrnn.clip"], "1.5");
  EXPECT_EQ(meta["simdrnn.format_version"], "1");
  for (const auto& item : meta.items()) EXPECT_TRUE(item.value().is_string()) << item.key();
  // Tensors in flat order, back to back, each [G*H, in] etc. as PyTorch has it.
  const std::vector<float> flat = params(m.get());
  ASSERT_EQ(p.data.size(), flat.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(p.data.data(), flat.data(), p.data.size()), 0);
  EXPECT_EQ(p.header["weight_ih_l0"]["shape"], Json({20, 3}));
  EXPECT_EQ(p.header["weight_ih_l1_reverse"]["shape"], Json({20, 4}));
  EXPECT_EQ(p.header["weight_hh_l0"]["shape"], Json({20, 2}));
  EXPECT_EQ(p.header["weight_hr_l0"]["shape"], Json({2, 5}));
  EXPECT_EQ(p.header["weight_peephole_l1"]["shape"], Json({15}));
  EXPECT_EQ(p.header["weight_hy"]["shape"], Json({2, 4}));
  EXPECT_EQ(p.header["bias_hy"]["shape"], Json({2}));
  EXPECT_EQ(p.header["weight_ih_l0"]["dtype"], "F32");
  EXPECT_EQ(p.header["weight_ih_l0"]["data_offsets"], Json({0, 240}));
  EXPECT_EQ(p.header.size(), 1 + tensors_of(k).size());
}

// What other writers may do and a reader must accept: tensors in any order,
// no padding (a data section that is not aligned in memory), no "format" key.
TEST(ModelFileLayout, AcceptsOtherWritersChoices) {
  const ModelPtr m = build(cases()[4]);
  const Bytes file = save(m.get());
  const Parts p = split(file);
  // Data in reverse tensor order, header unpadded with an odd length.
  Parts q;
  q.header = Json::object();
  Json meta = p.header["__metadata__"];
  meta.erase("format");
  q.header["__metadata__"] = meta;
  std::vector<std::string> names;
  for (const auto& item : p.header.items())
    if (item.key() != "__metadata__") names.push_back(item.key());
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    const Json& t = p.header[*it];
    const uint64_t begin = t["data_offsets"][0], end = t["data_offsets"][1];
    Json moved = t;
    moved["data_offsets"] = Json({q.data.size(), q.data.size() + (end - begin)});
    q.data += p.data.substr(begin, end - begin);
    q.header[*it] = moved;
  }
  std::string text = q.header.dump();
  if (text.size() % 2 == 0) text += ' ';
  const ModelPtr loaded = load(join_text(text, q.data));
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(same_bits(params(m.get()), params(loaded.get())));
  EXPECT_EQ(save(loaded.get()), file);
}

// ---- damaged files ---------------------------------------------------------------------
simdrnn_model* const kSentinel = reinterpret_cast<simdrnn_model*>(uintptr_t{0x5a5a});

// Loads `file`, expecting `status` and a message containing every word.
testing::AssertionResult Rejects(const Bytes& file, const std::vector<std::string>& words,
                                 simdrnn_status status = SIMDRNN_INVALID_ARGUMENT) {
  simdrnn_model* m = kSentinel;
  const simdrnn_status st = simdrnn_model_load_from_memory(file.data(), file.size(), &m);
  const std::string message = last_error();
  if (st == SIMDRNN_OK) simdrnn_model_destroy(m);
  if (st != status)
    return testing::AssertionFailure() << "status " << simdrnn_status_name(st) << ", expected "
                                       << simdrnn_status_name(status) << " [" << message << "]";
  if (st != SIMDRNN_OK && m != kSentinel) return testing::AssertionFailure() << "the out-handle was written";
  if (std::getenv("SIMDRNN_TEST_PRINT_MESSAGES"))
    std::printf("%s: %s\n", simdrnn_status_name(st), st == SIMDRNN_OK ? "" : message.c_str());
  for (const std::string& w : words)
    if (message.find(w) == std::string::npos)
      return testing::AssertionFailure() << "message \"" << message << "\" does not contain \"" << w << "\"";
  return testing::AssertionSuccess() << message;
}

class ModelFileDamaged : public testing::Test {
 protected:
  void SetUp() override {
    model_ = build(cases()[4]);
    file_ = save(model_.get());
    parts_ = split(file_);
  }
  // The file with one metadata value replaced (or the key removed when null).
  Bytes with_metadata(const std::string& key, const Json& value) const {
    Parts p = parts_;
    if (value.is_null())
      p.header["__metadata__"].erase(key);
    else
      p.header["__metadata__"][key] = value;
    return join(p);
  }
  Bytes with_field(const std::string& tensor, const std::string& field, const Json& value) const {
    Parts p = parts_;
    if (value.is_null())
      p.header[tensor].erase(field);
    else
      p.header[tensor][field] = value;
    return join(p);
  }
  // The file without a tensor: its entry and bytes gone, later offsets moved.
  Bytes without(const std::string& tensor) const {
    Parts p = parts_;
    const uint64_t begin = p.header[tensor]["data_offsets"][0], end = p.header[tensor]["data_offsets"][1];
    p.header.erase(tensor);
    p.data.erase(begin, end - begin);
    for (auto& item : p.header.items()) {
      if (item.key() == "__metadata__") continue;
      Json& offsets = item.value()["data_offsets"];
      if (offsets[0].get<uint64_t>() >= end)
        offsets =
            Json({offsets[0].get<uint64_t>() - (end - begin), offsets[1].get<uint64_t>() - (end - begin)});
    }
    return join(p);
  }

  ModelPtr model_;
  Bytes file_;
  Parts parts_;
};

TEST_F(ModelFileDamaged, TheUndamagedFileLoads) {
  EXPECT_TRUE(Rejects(file_, {}, SIMDRNN_OK));
  EXPECT_TRUE(Rejects(join(parts_), {}, SIMDRNN_OK));  // re-joined without padding
}

TEST_F(ModelFileDamaged, TruncatedAnywhere) {
  for (size_t size = 0; size < file_.size(); ++size) {
    const Bytes cut(file_.begin(), file_.begin() + static_cast<std::ptrdiff_t>(size));
    ASSERT_TRUE(Rejects(cut, {"truncated"})) << "cut at " << size << " of " << file_.size();
  }
  EXPECT_TRUE(Rejects({}, {"at least 8 bytes"}));
  EXPECT_EQ(simdrnn_model_load_from_memory(nullptr, 0, nullptr), SIMDRNN_INVALID_ARGUMENT);
}

TEST_F(ModelFileDamaged, HeaderLength) {
  const std::string text = parts_.header.dump();
  EXPECT_TRUE(
      Rejects(join_text(text, parts_.data, ~uint64_t{0}), {"header length 18446744073709551615", "exceeds"}));
  EXPECT_TRUE(Rejects(join_text(text, parts_.data, 100000001), {"exceeds 100000000"}));
  EXPECT_TRUE(
      Rejects(join_text(text, parts_.data, text.size() + parts_.data.size() + 1), {"runs past the end"}));
  EXPECT_TRUE(Rejects(join_text(text, parts_.data, 0), {"expected a JSON object", "empty header"}));
  // Too short: the header's JSON is cut, and the rest is taken as data.
  EXPECT_TRUE(Rejects(join_text(text, parts_.data, text.size() - 1), {"not valid JSON"}));
}

TEST_F(ModelFileDamaged, HeaderNotJson) {
  EXPECT_TRUE(Rejects(join_text("[1, 2]", parts_.data), {"starting with '{'", "\"[\""}));
  EXPECT_TRUE(Rejects(join_text(" {}", parts_.data), {"starting with '{'"}));
  EXPECT_TRUE(Rejects(join_text("{\"a\": ", ""), {"not valid JSON", "parse error"}));
  EXPECT_TRUE(Rejects(join_text("{\"a\": 1} x", ""), {"not valid JSON"}));
  EXPECT_TRUE(Rejects(join_text("{\"\xff\xfe\": 1}", ""), {"not valid JSON", "\\xff"}));
  EXPECT_TRUE(Rejects(join_text("{/* comment */}", ""), {"not valid JSON"}));
  // nlohmann reports a number beyond double's range as out_of_range, not a parse error (found by the fuzzer).
  EXPECT_TRUE(Rejects(join_text("{\"a\": [1e999]}", ""), {"not valid JSON", "number overflow"}));
  EXPECT_TRUE(Rejects(join_text("{}", ""), {"__metadata__", "not a simdrnn model file"}));
}

TEST_F(ModelFileDamaged, DuplicateKeysAndDeepNesting) {
  std::string text = parts_.header.dump();
  const std::string entry = "\"bias_hy\":" + parts_.header["bias_hy"].dump();
  text.insert(text.size() - 1, "," + entry);
  EXPECT_TRUE(Rejects(join_text(text, parts_.data), {"duplicate key \"bias_hy\""}));
  text = parts_.header.dump();
  text.insert(text.find("\"format\""), "\"format\":\"pt\",");
  EXPECT_TRUE(Rejects(join_text(text, parts_.data), {"duplicate key \"format\""}));
  EXPECT_TRUE(Rejects(join_text("{\"a\": [[[1]]]}", ""), {"nested deeper"}));
  EXPECT_TRUE(Rejects(join_text("{\"a\": {\"b\": {\"c\": {}}}}", ""), {"nested deeper"}));
  EXPECT_TRUE(Rejects(join_text("{\"a\": [[1]]}", ""), {"expected __metadata__"}));  // as deep as a shape
  // A megabyte of '[' is rejected at the third one, not parsed.
  EXPECT_TRUE(Rejects(join_text("{\"a\":" + std::string(1 << 20, '['), ""), {"nested deeper"}));
}

TEST_F(ModelFileDamaged, Metadata) {
  Parts p = parts_;
  p.header.erase("__metadata__");
  EXPECT_TRUE(Rejects(join(p), {"expected __metadata__"}));
  p.header["__metadata__"] = Json::array();
  EXPECT_TRUE(Rejects(join(p), {"__metadata__: expected an object of strings, got a JSON array"}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.hidden_size", 5), {"simdrnn.hidden_size", "expected a string"}));
  EXPECT_TRUE(Rejects(with_metadata("format", 1), {"\"format\"", "expected a string"}));
  EXPECT_TRUE(
      Rejects(with_metadata("simdrnn.hidden_size", nullptr), {"expected key \"simdrnn.hidden_size\""}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.colour", "blue"), {"unknown key \"simdrnn.colour\""}));
  for (const char* bad : {"12a", " 5", "+5", "", "5.0", "0x5"})
    EXPECT_TRUE(
        Rejects(with_metadata("simdrnn.hidden_size", bad), {"simdrnn.hidden_size", "decimal integer"}))
        << bad;
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.num_layers", "99999999999999999999"), {"within int64_t"}));
  EXPECT_TRUE(
      Rejects(with_metadata("simdrnn.bidirectional", "2"), {"simdrnn.bidirectional", "\"0\" or \"1\""}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.cell", "LSTM"), {"simdrnn.cell", "\"rnn\", \"lstm\", \"gru\""}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.activation", "gelu"), {"simdrnn.activation"}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.weight_precision", "f64"), {"simdrnn.weight_precision"}));
  for (const char* bad : {"abc", "1e99", "1.5x", ""})
    EXPECT_TRUE(Rejects(with_metadata("simdrnn.clip", bad), {"simdrnn.clip", "decimal number"})) << bad;
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.clip", "nan"), {"clip", "expected >= 0"}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.clip", "-1"), {"clip", "expected >= 0"}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.format_version", "2"), {"the file is version 2", "newer"},
                      SIMDRNN_UNSUPPORTED));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.format_version", "0"), {"simdrnn.format_version"}));
  // Parsed, but a model the library rejects: its own message, naming the field.
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.hidden_size", "0"), {"hidden_size", "expected >= 1"}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.proj_size", "9"), {"proj_size"}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.activation", "relu"), {"activation"}, SIMDRNN_UNSUPPORTED));
  // The configuration must agree with the tensors.
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.hidden_size", "6"),
                      {"\"bias_hh_l0\"", "shape: expected [24]", "got [20]"}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.cell", "gru"), {"proj_size", "LSTM only"}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.num_layers", "1"), {"\"bias_hh_l1\"", "not a tensor"}));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.output_size", "0"), {"\"bias_hy\"", "not a tensor"}));
  // Another tool's keys are its own business.
  EXPECT_TRUE(Rejects(with_metadata("format", nullptr), {}, SIMDRNN_OK));
  EXPECT_TRUE(Rejects(with_metadata("note", "trained on Tuesday"), {}, SIMDRNN_OK));
  EXPECT_TRUE(Rejects(with_metadata("simdrnn.library_version", "9.9.9"), {}, SIMDRNN_OK));
}

TEST_F(ModelFileDamaged, TensorEntries) {
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "dtype", "F16"),
                      {"\"weight_hh_l0\"", "dtype: expected \"F32\"", "\"F16\""}));
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "dtype", 4), {"dtype", "got a JSON number"}));
  EXPECT_TRUE(
      Rejects(with_field("weight_hh_l0", "dtype", nullptr), {"\"weight_hh_l0\"", "expected a dtype"}));
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "shape", Json({20, 3})),
                      {"shape: expected [20, 2]", "got [20, 3]"}));
  EXPECT_TRUE(
      Rejects(with_field("weight_hh_l0", "shape", Json({40})), {"shape: expected [20, 2]", "got [40]"}));
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "shape", Json({20, -2})), {"got [20, -2]"}));
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "shape", Json({20, 2.0})), {"got [20, <number>]"}));
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "shape", "20x2"), {"got a JSON string"}));
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "shape", nullptr), {"expected a shape [20, 2]"}));
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "stride", Json({2, 1})), {"unknown field \"stride\""}));
  Parts p = parts_;
  p.header["weight_hh_l0"] = Json({1, 2});
  EXPECT_TRUE(Rejects(join(p), {"\"weight_hh_l0\"", "expected an object", "got a JSON array"}));
  for (const char* name : {"conv.weight", "weight_ih_l2", "weight_ih_l01", "weight_ih_l0_forward",
                           "weight_ih_l-1", "weight_ih_l99999999999999999999", "bias_hy_reverse", ""}) {
    Parts q = parts_;
    q.header[name] = q.header["bias_hy"];
    q.header.erase("bias_hy");
    EXPECT_TRUE(Rejects(join(q), {"not a tensor of this lstm model", "weight_ih_l{k}"})) << name;
  }
}

TEST_F(ModelFileDamaged, DataOffsets) {
  const Json offsets = parts_.header["weight_hh_l0"]["data_offsets"];  // [240, 400]
  const uint64_t data = parts_.data.size();
  auto at = [&](uint64_t begin, uint64_t end) {
    return with_field("weight_hh_l0", "data_offsets", Json({begin, end}));
  };
  EXPECT_TRUE(Rejects(at(data - 80, data + 80), {"\"weight_hh_l0\"", "past the end of the data section"}));
  EXPECT_TRUE(Rejects(at(~uint64_t{0} - 159, ~uint64_t{0}), {"past the end"}));
  EXPECT_TRUE(Rejects(at(400, 240), {"begin is past end"}));
  EXPECT_TRUE(Rejects(at(242, 402), {"not a multiple of 4"}));
  EXPECT_TRUE(Rejects(at(240, 404), {"holds 164 bytes, expected 160"}));
  EXPECT_TRUE(
      Rejects(with_field("weight_hh_l0", "data_offsets", Json({240})), {"[begin, end]", "got [240]"}));
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "data_offsets", Json({240, 400, 560})), {"[begin, end]"}));
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "data_offsets", Json({-240, 400})), {"got [-240, 400]"}));
  EXPECT_TRUE(
      Rejects(with_field("weight_hh_l0", "data_offsets", Json({240.0, 400})), {"got [<number>, 400]"}));
  EXPECT_TRUE(Rejects(with_field("weight_hh_l0", "data_offsets", nullptr), {"expected data_offsets"}));
  // Overlap: bias_hh_l0 given bias_ih_l0's bytes (same size).
  EXPECT_TRUE(Rejects(with_field("bias_hh_l0", "data_offsets", parts_.header["bias_ih_l0"]["data_offsets"]),
                      {"overlap"}));
  // Overlap by part of a tensor, without changing sizes.
  {
    Parts p = parts_;
    p.header["weight_hh_l0"]["data_offsets"] = Json({236, 396});
    EXPECT_TRUE(Rejects(join(p), {"\"weight_hh_l0\"", "overlap tensor \"weight_ih_l0\" [0, 240]"}));
  }
  // A hole: 4 stray bytes after weight_ih_l0, everything after moved on.
  {
    Parts p = parts_;
    p.data.insert(240, 4, '\0');
    for (auto& item : p.header.items()) {
      if (item.key() == "__metadata__") continue;
      Json& o = item.value()["data_offsets"];
      if (o[0].get<uint64_t>() >= 240) o = Json({o[0].get<uint64_t>() + 4, o[1].get<uint64_t>() + 4});
    }
    EXPECT_TRUE(Rejects(join(p), {"bytes [240, 244) belong to no tensor"}));
  }
  Parts trailing = parts_;
  trailing.data += "xyz!";
  EXPECT_TRUE(Rejects(join(trailing), {"4 bytes after the last tensor"}));
  (void)offsets;
}

TEST_F(ModelFileDamaged, MissingTensors) {
  EXPECT_TRUE(Rejects(without("weight_hh_l1_reverse"), {"\"weight_hh_l1_reverse\": missing"}));
  EXPECT_TRUE(Rejects(without("weight_hr_l0"), {"\"weight_hr_l0\": missing", "weight_hr"}));
  EXPECT_TRUE(Rejects(without("weight_hy"), {"\"weight_hy\": missing"}));
  EXPECT_TRUE(Rejects(without("bias_hh_l1"), {"\"bias_hh_l1\": missing", "the file has \"bias_", "biases"}));
  EXPECT_TRUE(Rejects(without("weight_peephole_l0_reverse"),
                      {"\"weight_peephole_l0_reverse\": missing", "peepholes"}));
  // A whole optional group may be absent: the model then has no such tensors.
  Parts p = split(without("bias_hy"));
  const ModelPtr m = load(join(p));
  ASSERT_TRUE(m);
  int64_t offset, count;
  ASSERT_EQ(simdrnn_model_param_offset(m.get(), "bias_hy", &offset, &count), SIMDRNN_OK);
  EXPECT_EQ(count, 0);
}

// ---- arguments and files ---------------------------------------------------------------
TEST(ModelFileArguments, NullsAndBadHandles) {
  const ModelPtr m = build(cases()[0]);
  simdrnn_model* out = kSentinel;
  size_t size = 0;
  EXPECT_EQ(simdrnn_model_save(m.get(), nullptr), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("path"), std::string::npos);
  EXPECT_EQ(simdrnn_model_load(nullptr, &out), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("path"), std::string::npos);
  EXPECT_EQ(simdrnn_model_load("x", nullptr), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("model"), std::string::npos);
  EXPECT_EQ(simdrnn_model_load_from_memory(nullptr, 16, &out), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("data"), std::string::npos);
  EXPECT_EQ(simdrnn_model_save_to_memory(m.get(), nullptr, 0, nullptr), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("size"), std::string::npos);
  EXPECT_EQ(simdrnn_model_save_to_memory(nullptr, nullptr, 0, &size), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("live simdrnn_model"), std::string::npos);
  EXPECT_EQ(out, kSentinel);
  const Bytes file = save(m.get());
  Bytes small(file.size() - 1, 0xee);
  EXPECT_EQ(simdrnn_model_save_to_memory(m.get(), small.data(), small.size(), &size),
            SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("capacity: expected at least " + std::to_string(file.size())),
            std::string::npos);
  EXPECT_EQ(small, Bytes(file.size() - 1, 0xee)) << "a failed call wrote into the buffer";
  simdrnn_model* destroyed = nullptr;
  ASSERT_EQ(simdrnn_model_load_from_memory(file.data(), file.size(), &destroyed), SIMDRNN_OK);
  simdrnn_model_destroy(destroyed);
  const std::string path = testing::TempDir() + "simdrnn_model_file_destroyed.safetensors";
  EXPECT_EQ(simdrnn_model_save(destroyed, path.c_str()), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("live simdrnn_model"), std::string::npos);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "a failed save left a file";
}

TEST(ModelFileArguments, Files) {
  const ModelPtr m = build(cases()[0]);
  simdrnn_model* out = kSentinel;
  const std::string missing = testing::TempDir() + "simdrnn_no_such_dir/model.safetensors";
  EXPECT_EQ(simdrnn_model_load(missing.c_str(), &out), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("cannot open"), std::string::npos) << last_error();
  EXPECT_NE(last_error().find(missing), std::string::npos) << last_error();
  EXPECT_EQ(simdrnn_model_load(testing::TempDir().c_str(), &out), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("not a regular file"), std::string::npos) << last_error();
  EXPECT_EQ(simdrnn_model_save(m.get(), missing.c_str()), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("cannot create"), std::string::npos) << last_error();
  EXPECT_EQ(out, kSentinel);
  // A damaged file names itself and what is wrong.
  const std::string path = testing::TempDir() + "simdrnn_model_file_cut.safetensors";
  const Bytes file = save(m.get());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(file.data()), 100);
  EXPECT_EQ(simdrnn_model_load(path.c_str(), &out), SIMDRNN_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("model file \"" + path + "\""), std::string::npos) << last_error();
  EXPECT_NE(last_error().find("truncated"), std::string::npos) << last_error();
  std::remove(path.c_str());
}

TEST(ModelFileCpp, SaveLoadAndErrors) {
  simdrnn::Config config;
  config.cell = simdrnn::Cell::Gru;
  config.input_size = 3;
  config.hidden_size = 4;
  config.output_size = 2;
  simdrnn::Weights weights(config);
  weights.set("weight_ih_l0", random_vector(36, 1)).set("weight_hh_l0", random_vector(48, 2));
  weights.set("weight_hy", random_vector(8, 3));
  const simdrnn::Model model(weights);
  const std::string path = testing::TempDir() + "simdrnn_model_file_cpp.safetensors";
  model.save(path);
  const simdrnn::Model loaded = simdrnn::Model::load(path);
  EXPECT_EQ(loaded.params(), model.params());
  EXPECT_EQ(loaded.config().cell, simdrnn::Cell::Gru);
  const std::vector<unsigned char> bytes = model.save_to_memory();
  EXPECT_EQ(simdrnn::Model::load_from_memory(bytes).params(), model.params());
  std::remove(path.c_str());
  try {
    simdrnn::Model::load(path);
    ADD_FAILURE() << "loading a missing file did not throw";
  } catch (const simdrnn::Error& e) {
    EXPECT_EQ(e.status(), SIMDRNN_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
  }
  const std::vector<unsigned char> cut(bytes.begin(), bytes.begin() + 20);
  EXPECT_THROW(simdrnn::Model::load_from_memory(cut), simdrnn::Error);
}

}  // namespace
