// ONNX RNN conformance: runs the ONNX backend node test cases exported under
// ../shared/conformance/onnx_rnn (see its README.md) through
// simdrnn_weights_set_onnx + simdrnn_forward on every available ISA and
// compares Y and Y_h with allclose(atol = 1e-5, rtol = 1e-5).
//
// The data is read at run time from SIMDRNN_CONFORMANCE_DIR (environment
// variable, else the compile definition of the same name); nothing of it is
// copied into the repository. Every shape comes from case.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "simdrnn/simdrnn.h"
#include "support/test_util.hpp"

namespace {

namespace fs = std::filesystem;

// ---- a minimal JSON reader (objects, arrays, strings, numbers, literals) ------
struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool boolean = false;
  double number = 0.0;
  std::string string;
  std::vector<Json> array;
  std::map<std::string, Json> object;

  bool has(const std::string& key) const { return kind == Object && object.count(key) != 0; }
  const Json& operator[](const std::string& key) const {
    static const Json null_value;
    if (kind != Object) return null_value;
    auto it = object.find(key);
    return it == object.end() ? null_value : it->second;
  }
  std::string str(const std::string& fallback = "") const { return kind == String ? string : fallback; }
  int64_t integer() const {
    if (kind != Number || number != std::floor(number)) throw std::runtime_error("json: integer expected");
    return static_cast<int64_t>(number);
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : s_(text) {}
  Json parse() {
    Json v = value();
    skip_ws();
    if (pos_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("json: " + what + " at offset " + std::to_string(pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n'))
      ++pos_;
  }
  bool consume(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.compare(pos_, n, word) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }
  Json value() {
    skip_ws();
    if (pos_ >= s_.size()) fail("unexpected end");
    Json v;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind = Json::Object;
      if (consume('}')) return v;
      do {
        skip_ws();
        std::string key = string_literal();
        expect(':');
        v.object[key] = value();
      } while (consume(','));
      expect('}');
    } else if (c == '[') {
      ++pos_;
      v.kind = Json::Array;
      if (consume(']')) return v;
      do v.array.push_back(value());
      while (consume(','));
      expect(']');
    } else if (c == '"') {
      v.kind = Json::String;
      v.string = string_literal();
    } else if (literal("null")) {
      v.kind = Json::Null;
    } else if (literal("true")) {
      v.kind = Json::Bool;
      v.boolean = true;
    } else if (literal("false")) {
      v.kind = Json::Bool;
    } else {
      const char* begin = s_.c_str() + pos_;
      char* end = nullptr;
      v.number = std::strtod(begin, &end);
      if (end == begin) fail("unexpected character");
      v.kind = Json::Number;
      pos_ += static_cast<size_t>(end - begin);
    }
    return v;
  }
  std::string string_literal() {
    if (pos_ >= s_.size() || s_[pos_] != '"') fail("string expected");
    ++pos_;
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c == '\\') {
        if (pos_ >= s_.size()) fail("bad escape");
        const char e = s_[pos_++];
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          case 'r':
            c = '\r';
            break;
          case 'b':
            c = '\b';
            break;
          case 'f':
            c = '\f';
            break;
          case 'u': {  // only ASCII escapes are expected in case.json
            if (pos_ + 4 > s_.size()) fail("bad \\u escape");
            const unsigned code = static_cast<unsigned>(std::stoul(s_.substr(pos_, 4), nullptr, 16));
            pos_ += 4;
            c = code < 0x80 ? static_cast<char>(code) : '?';
            break;
          }
          default:
            c = e;  // \" \\ \/
        }
      }
      out += c;
    }
    if (pos_ >= s_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }

  std::string s_;
  size_t pos_ = 0;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Raw little-endian 4-byte elements (float32 or int32), count checked against the shape.
std::vector<uint32_t> read_words(const fs::path& path, int64_t count) {
  const std::string bytes = read_text(path);
  if (static_cast<int64_t>(bytes.size()) != count * 4)
    throw std::runtime_error(path.string() + ": " + std::to_string(bytes.size()) + " bytes, expected " +
                             std::to_string(count * 4));
  std::vector<uint32_t> words(static_cast<size_t>(count));
  for (size_t i = 0; i < words.size(); ++i) {
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data()) + 4 * i;
    words[i] = uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
  }
  return words;
}

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;    // float32 tensors
  std::vector<int32_t> ints;  // int32 tensors (sequence_lens)
  int64_t dim(size_t i) const { return i < shape.size() ? shape[i] : -1; }
};

Tensor load_tensor(const fs::path& dir, const Json& desc) {
  Tensor t;
  int64_t count = 1;
  for (const Json& d : desc["shape"].array) {
    t.shape.push_back(d.integer());
    count *= t.shape.back();
  }
  const std::vector<uint32_t> words = read_words(dir / desc["file"].str(), count);
  const std::string dtype = desc["dtype"].str("float32");
  if (dtype == "float32") {
    t.data.resize(words.size());
    if (!words.empty()) std::memcpy(t.data.data(), words.data(), words.size() * 4);
  } else if (dtype == "int32") {
    t.ints.resize(words.size());
    if (!words.empty()) std::memcpy(t.ints.data(), words.data(), words.size() * 4);
  } else {
    throw std::runtime_error("unsupported dtype " + dtype);
  }
  return t;
}

// ---- case discovery ------------------------------------------------------------
fs::path conformance_dir() {
  if (const char* env = std::getenv("SIMDRNN_CONFORMANCE_DIR"); env != nullptr && *env != '\0') return env;
#ifdef SIMDRNN_CONFORMANCE_DIR
  return SIMDRNN_CONFORMANCE_DIR;
#else
  return {};
#endif
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  std::error_code ec;
  const fs::path dir = conformance_dir();
  if (dir.empty() || !fs::is_directory(dir, ec)) return names;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory(ec) && fs::is_regular_file(entry.path() / "case.json", ec))
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The parameter list is never empty: "" stands for "no data" and skips.
std::vector<std::string> test_params() {
  std::vector<std::string> names = case_names();
  if (names.empty()) names.push_back("");
  return names;
}

std::string param_name(const testing::TestParamInfo<std::string>& info) {
  if (info.param.empty()) return "NoData";
  std::string name = info.param;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

bool allclose(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol,
              std::string* report) {
  if (got.size() != want.size()) {
    *report = "size " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
    return false;
  }
  size_t bad = 0;
  std::ostringstream ss;
  ss.precision(9);
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const bool ok = std::fabs(g - w) <= atol + rtol * std::fabs(w);  // false for NaN
    if (!ok && bad++ < 8) ss << "  [" << i << "] got " << g << ", want " << w << "\n";
  }
  if (bad != 0) *report = std::to_string(bad) + " of " + std::to_string(got.size()) + " differ:\n" + ss.str();
  return bad == 0;
}

struct Handles {
  simdrnn_weights* weights = nullptr;
  simdrnn_model* model = nullptr;
  ~Handles() {
    simdrnn_model_destroy(model);
    simdrnn_weights_destroy(weights);
  }
};

class OnnxConformance : public testing::TestWithParam<std::string> {};

TEST_P(OnnxConformance, MatchesReferenceOutputs) {
  if (GetParam().empty())
    GTEST_SKIP() << "ONNX conformance data not found at '" << conformance_dir().string()
                 << "' (set SIMDRNN_CONFORMANCE_DIR to the onnx_rnn directory)";
  const fs::path dir = conformance_dir() / GetParam();
  const Json spec = JsonParser(read_text(dir / "case.json")).parse();
  ASSERT_EQ(spec["op_type"].str("RNN"), "RNN");

  // Attributes (effective ones have the ONNX defaults filled in).
  const Json& attrs =
      spec.has("attributes_effective") ? spec["attributes_effective"] : spec["attributes_explicit"];
  const int64_t layout =
      attrs.has("layout") && attrs["layout"].kind == Json::Number ? attrs["layout"].integer() : 0;
  const std::string direction = attrs["direction"].str("forward");
  ASSERT_TRUE(layout == 0 || layout == 1) << "layout " << layout;
  if (direction != "forward" && direction != "bidirectional")
    GTEST_SKIP() << "direction '" << direction << "' has no simdrnn equivalent";
  const int64_t D = direction == "bidirectional" ? 2 : 1;

  simdrnn_activation activation = SIMDRNN_TANH;
  if (attrs["activations"].kind == Json::Array) {
    const auto& acts = attrs["activations"].array;
    for (size_t i = 0; i < acts.size(); ++i) {
      const std::string a = acts[i].str();
      simdrnn_activation act;
      if (a == "Tanh")
        act = SIMDRNN_TANH;
      else if (a == "Relu")
        act = SIMDRNN_RELU;
      else if (a == "Sigmoid")
        act = SIMDRNN_SIGMOID;
      else
        GTEST_SKIP() << "activation '" << a << "' is not supported by simdrnn";
      if (i > 0 && act != activation) GTEST_SKIP() << "per-direction activations are not supported";
      activation = act;
    }
  }
  if (attrs["activation_alpha"].kind != Json::Null || attrs["activation_beta"].kind != Json::Null)
    GTEST_SKIP() << "activation_alpha/beta are not supported";
  float clip = 0.0f;
  if (attrs["clip"].kind == Json::Number) clip = static_cast<float>(attrs["clip"].number);

  // Inputs by ONNX slot.
  std::map<std::string, Tensor> by_name;
  for (const Json& desc : spec["inputs"].array) by_name[desc["name"].str()] = load_tensor(dir, desc);
  auto slot = [&](const std::string& s) -> const Tensor* {
    const std::string name = spec["node_inputs"][s].str();
    if (name.empty()) return nullptr;
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &it->second;
  };
  const Tensor* X = slot("X");
  const Tensor* W = slot("W");
  const Tensor* R = slot("R");
  const Tensor* B = slot("B");
  const Tensor* lens = slot("sequence_lens");
  const Tensor* h_init = slot("initial_h");
  ASSERT_TRUE(X && W && R) << "X, W and R are required";
  ASSERT_EQ(X->shape.size(), 3u);
  const int64_t T = layout == 0 ? X->dim(0) : X->dim(1);
  const int64_t N = layout == 0 ? X->dim(1) : X->dim(0);
  const int64_t I = X->dim(2);
  const int64_t H = attrs.has("hidden_size") ? attrs["hidden_size"].integer() : W->dim(1);
  ASSERT_EQ(W->shape, (std::vector<int64_t>{D, H, I}));
  ASSERT_EQ(R->shape, (std::vector<int64_t>{D, H, H}));
  if (B != nullptr) {
    ASSERT_EQ(B->shape, (std::vector<int64_t>{D, 2 * H}));
  }

  std::vector<int64_t> seq_lens;
  if (lens != nullptr) {
    ASSERT_EQ(lens->shape, (std::vector<int64_t>{N}));
    for (int32_t v : lens->ints) {
      if (v < 1) GTEST_SKIP() << "sequence_lens value " << v << " (simdrnn needs 1..T)";
      seq_lens.push_back(v);
    }
  }
  // initial_h: layout 0 [D, N, H] (= ours), layout 1 [N, D, H] -> [D, N, H].
  std::vector<float> h0;
  if (h_init != nullptr) {
    h0.resize(static_cast<size_t>(D * N * H));
    for (int64_t d = 0; d < D; ++d)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < H; ++j)
          h0[(d * N + n) * H + j] =
              layout == 0 ? h_init->data[(d * N + n) * H + j] : h_init->data[(n * D + d) * H + j];
  }

  // Expected outputs by ONNX slot.
  std::map<std::string, Tensor> expected;
  for (const Json& desc : spec["outputs"].array) {
    for (const char* s : {"Y", "Y_h"})
      if (spec["node_outputs"][s].str() == desc["name"].str()) expected[s] = load_tensor(dir, desc);
  }
  ASSERT_FALSE(expected.empty()) << "case has neither Y nor Y_h";

  for (simdrnn_isa isa : simdrnn_test::available_isas()) {
    SCOPED_TRACE(std::string("isa ") + simdrnn_isa_name(isa));
    simdrnn_test::IsaCap cap(isa);
    simdrnn_config config = simdrnn_config_default();
    config.input_size = I;
    config.hidden_size = H;
    config.num_layers = 1;
    config.bidirectional = D == 2;
    config.activation = activation;
    config.clip = clip;
    config.output_size = 0;
    Handles h;
    ASSERT_EQ(simdrnn_weights_create(&config, &h.weights), SIMDRNN_OK) << simdrnn_last_error();
    ASSERT_EQ(
        simdrnn_weights_set_onnx(h.weights, 0, W->data.data(), R->data.data(), B ? B->data.data() : nullptr, nullptr),
        SIMDRNN_OK)
        << simdrnn_last_error();
    ASSERT_EQ(simdrnn_model_create(h.weights, &h.model), SIMDRNN_OK) << simdrnn_last_error();
    simdrnn_isa model_isa{};
    ASSERT_EQ(simdrnn_model_isa(h.model, &model_isa), SIMDRNN_OK);
    EXPECT_EQ(model_isa, isa);

    std::vector<float> y(static_cast<size_t>(T * N * D * H), 12345.0f);
    std::vector<float> h_n(static_cast<size_t>(D * N * H), 12345.0f);
    simdrnn_forward_args args{};
    args.seq_len = T;
    args.batch = N;
    args.layout = layout == 0 ? SIMDRNN_TIME_MAJOR : SIMDRNN_BATCH_MAJOR;
    args.x = X->data.data();
    args.h0 = h0.empty() ? nullptr : h0.data();
    args.seq_lens = seq_lens.empty() ? nullptr : seq_lens.data();
    args.y = y.data();
    args.h_n = h_n.data();
    size_t bytes = 0;
    ASSERT_EQ(simdrnn_forward_workspace_size(h.model, &args, &bytes), SIMDRNN_OK) << simdrnn_last_error();
    std::vector<unsigned char> workspace(bytes);
    args.workspace = workspace.data();
    args.workspace_size = bytes;
    ASSERT_EQ(simdrnn_forward(h.model, &args), SIMDRNN_OK) << simdrnn_last_error();

    if (expected.count("Y")) {
      // ONNX Y: layout 0 [T, D, N, H], layout 1 [N, T, D, H].
      // simdrnn y: time-major [T, N, D*H], batch-major [N, T, D*H].
      const Tensor& want = expected["Y"];
      ASSERT_EQ(want.shape,
                layout == 0 ? (std::vector<int64_t>{T, D, N, H}) : (std::vector<int64_t>{N, T, D, H}));
      std::vector<float> got(want.data.size());
      for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; ++d)
          for (int64_t n = 0; n < N; ++n)
            for (int64_t j = 0; j < H; ++j) {
              const int64_t onnx =
                  layout == 0 ? ((t * D + d) * N + n) * H + j : ((n * T + t) * D + d) * H + j;
              const int64_t ours =
                  layout == 0 ? (t * N + n) * D * H + d * H + j : (n * T + t) * D * H + d * H + j;
              got[onnx] = y[ours];
            }
      std::string report;
      EXPECT_TRUE(allclose(got, want.data, 1e-5, 1e-5, &report)) << "Y: " << report;
    }
    if (expected.count("Y_h")) {
      // ONNX Y_h: layout 0 [D, N, H], layout 1 [N, D, H]; simdrnn h_n: [D, N, H].
      const Tensor& want = expected["Y_h"];
      ASSERT_EQ(want.shape, layout == 0 ? (std::vector<int64_t>{D, N, H}) : (std::vector<int64_t>{N, D, H}));
      std::vector<float> got(want.data.size());
      for (int64_t d = 0; d < D; ++d)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t j = 0; j < H; ++j)
            got[layout == 0 ? (d * N + n) * H + j : (n * D + d) * H + j] = h_n[(d * N + n) * H + j];
      std::string report;
      EXPECT_TRUE(allclose(got, want.data, 1e-5, 1e-5, &report)) << "Y_h: " << report;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Onnx, OnnxConformance, testing::ValuesIn(test_params()), param_name);

TEST(OnnxConformanceJson, ParsesWhatCaseFilesUse) {
  const Json j = JsonParser(R"({"a": [1, -2.5e1, true, null], "b": {"c": "x\"y"}, "d": false})").parse();
  ASSERT_EQ(j["a"].array.size(), 4u);
  EXPECT_EQ(j["a"].array[0].integer(), 1);
  EXPECT_DOUBLE_EQ(j["a"].array[1].number, -25.0);
  EXPECT_TRUE(j["a"].array[2].boolean);
  EXPECT_EQ(j["a"].array[3].kind, Json::Null);
  EXPECT_EQ(j["b"]["c"].str(), "x\"y");
  EXPECT_EQ(j["d"].kind, Json::Bool);
  EXPECT_EQ(j["missing"].kind, Json::Null);
  EXPECT_THROW(JsonParser("{\"a\": }").parse(), std::runtime_error);
  EXPECT_THROW(JsonParser("[1, 2").parse(), std::runtime_error);
}

}  // namespace
