// The model file (simdrnn_model_save / simdrnn_model_load, docs/model_file.md):
// a safetensors file holding every tensor of the flat parameter vector under
// its PyTorch name, F32, and the configuration as strings in __metadata__.
// The loader treats the bytes as hostile: every length, offset, shape and
// string is checked before it is used, and a model is built only from a file
// that passed every check, through the same public calls a caller would make.
#if SIMDRNN_HAVE_MODEL_FILE  // nlohmann-json found (cmake/model_file.cmake); else the stubs at the end
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "src/cell.hpp"
#include "src/handles.hpp"
#include "src/internal.hpp"
#include "src/param_schema.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian, as x86 is");

using namespace simdrnn;

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr uint64_t kMaxHeaderBytes = 100000000;  // the safetensors reference implementation's cap
constexpr int64_t kFormatVersion = 1;
constexpr const char* kMetadata = "__metadata__";
constexpr const char* kDtype = "F32";

// A rejected file: thrown inside the loader, turned into fail() at the entry
// point (which prefixes where the bytes came from).
struct FileError {
  simdrnn_status status;
  std::string message;
};
[[noreturn]] void reject(std::string message, simdrnn_status status = SIMDRNN_INVALID_ARGUMENT) {
  throw FileError{status, std::move(message)};
}

// A string taken from a file (or a path), quoted for a message: printable
// ASCII kept, anything else as \xNN, cut after `max_chars`.
std::string quoted(const std::string& s, size_t max_chars = 64) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == max_chars) {
      out += "...";
      break;
    }
    const unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
      out += static_cast<char>(ch);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", ch);
      out += hex;
    }
  }
  return out + "\"";
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// ---- the configuration in __metadata__ -------------------------------------------
// Enum fields are stored by name; every other field as a decimal number.
constexpr const char* kActivationNames[] = {"tanh", "relu", "sigmoid"};
constexpr const char* kCellNames[] = {"rnn", "lstm", "gru"};
constexpr const char* kPrecisionNames[] = {"f32", "bf16", "int8"};

const char* enum_name(const char* const* names, size_t count, int32_t value) {
  return value >= 0 && static_cast<size_t>(value) < count ? names[value] : "?";
}

// The metadata keys, in the order save writes them. library_version is
// informational (which simdrnn wrote the file); all others are required.
namespace key {
constexpr const char* kFormatVersion = "simdrnn.format_version";
constexpr const char* kLibraryVersion = "simdrnn.library_version";
constexpr const char* kCell = "simdrnn.cell";
constexpr const char* kInputSize = "simdrnn.input_size";
constexpr const char* kHiddenSize = "simdrnn.hidden_size";
constexpr const char* kNumLayers = "simdrnn.num_layers";
constexpr const char* kBidirectional = "simdrnn.bidirectional";
constexpr const char* kActivation = "simdrnn.activation";
constexpr const char* kClip = "simdrnn.clip";
constexpr const char* kOutputSize = "simdrnn.output_size";
constexpr const char* kProjSize = "simdrnn.proj_size";
constexpr const char* kGruLinearBeforeReset = "simdrnn.gru_linear_before_reset";
constexpr const char* kWeightPrecision = "simdrnn.weight_precision";
}  // namespace key
constexpr const char* kKnownKeys[] = {
    key::kFormatVersion, key::kLibraryVersion,       key::kCell,           key::kInputSize, key::kHiddenSize,
    key::kNumLayers,     key::kBidirectional,        key::kActivation,     key::kClip,      key::kOutputSize,
    key::kProjSize,      key::kGruLinearBeforeReset, key::kWeightPrecision};

// Shortest decimal that reads back as the same float (locale-independent).
std::string float_text(float value) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, result.ptr);
}

ordered_json config_metadata(const simdrnn_config& c) {
  ordered_json m = ordered_json::object();
  m["format"] = "pt";  // what Hugging Face tools expect of a PyTorch-named file
  m[key::kFormatVersion] = std::to_string(kFormatVersion);
  m[key::kLibraryVersion] = simdrnn_version();
  m[key::kCell] = enum_name(kCellNames, 3, raw_enum(c.cell));
  m[key::kInputSize] = std::to_string(c.input_size);
  m[key::kHiddenSize] = std::to_string(c.hidden_size);
  m[key::kNumLayers] = std::to_string(c.num_layers);
  m[key::kBidirectional] = std::to_string(c.bidirectional);
  m[key::kActivation] = enum_name(kActivationNames, 3, raw_enum(c.activation));
  m[key::kClip] = float_text(c.clip);
  m[key::kOutputSize] = std::to_string(c.output_size);
  m[key::kProjSize] = std::to_string(c.proj_size);
  m[key::kGruLinearBeforeReset] = std::to_string(c.gru_linear_before_reset);
  m[key::kWeightPrecision] = enum_name(kPrecisionNames, 3, raw_enum(c.weight_precision));
  return m;
}

// Reads the configuration from __metadata__ (an object of strings: checked
// by the caller). Values are parsed here; their ranges are the library's
// (simdrnn_weights_create checks them).
class MetadataReader {
 public:
  explicit MetadataReader(const json& metadata) : metadata_(metadata) {}

  const std::string& text(const char* key) const {
    const auto it = metadata_.find(key);
    if (it == metadata_.end())
      reject(std::string(kMetadata) + ": expected key \"" + key + "\", got none (a simdrnn model file " +
             "holds its configuration there; see docs/model_file.md)");
    return it->get_ref<const std::string&>();
  }

  int64_t integer(const char* key) const {
    const std::string& s = text(key);
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc::result_out_of_range)
      reject(where(key) + ": expected an integer within int64_t, got " + quoted(s));
    if (ec != std::errc() || end != s.data() + s.size())
      reject(where(key) + ": expected a decimal integer, got " + quoted(s));
    return value;
  }

  int32_t flag(const char* key) const {
    const std::string& s = text(key);
    if (s != "0" && s != "1") reject(where(key) + ": expected \"0\" or \"1\", got " + quoted(s));
    return s == "1" ? 1 : 0;
  }

  float real(const char* key) const {
    const std::string& s = text(key);
    float value = 0.0f;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size())
      reject(where(key) + ": expected a decimal number within float range, got " + quoted(s));
    return value;
  }

  int32_t choice(const char* key, const char* const* names, size_t count) const {
    const std::string& s = text(key);
    for (size_t i = 0; i < count; ++i)
      if (s == names[i]) return static_cast<int32_t>(i);
    std::string expected;
    for (size_t i = 0; i < count; ++i) expected += std::string(i ? ", " : "") + "\"" + names[i] + "\"";
    reject(where(key) + ": expected one of " + expected + ", got " + quoted(s));
  }

  static std::string where(const std::string& key) {
    return std::string(kMetadata) + "[" + quoted(key) + "]";
  }

 private:
  const json& metadata_;
};

template <class E>
void set_enum(E* field, int32_t value) {
  static_assert(sizeof(E) == sizeof(int32_t), "C enums are int-sized");
  std::memcpy(field, &value, sizeof value);
}

simdrnn_config read_config(const json& metadata) {
  for (const auto& item : metadata.items()) {
    const std::string& k = item.key();
    if (k.compare(0, 8, "simdrnn.") != 0) continue;  // other tools' keys ("format") are theirs
    if (std::find_if(std::begin(kKnownKeys), std::end(kKnownKeys),
                     [&](const char* known) { return k == known; }) == std::end(kKnownKeys))
      reject(std::string(kMetadata) + ": unknown key " + quoted(k) + " (format version " +
             std::to_string(kFormatVersion) + " has " + key::kCell + ", " + key::kHiddenSize +
             ", ...; see docs/model_file.md)");
  }
  const MetadataReader m(metadata);
  const int64_t version = m.integer(key::kFormatVersion);
  if (version > kFormatVersion)
    reject(MetadataReader::where(key::kFormatVersion) + ": this library reads format version " +
               std::to_string(kFormatVersion) + ", the file is version " + std::to_string(version) +
               " (written by a newer simdrnn)",
           SIMDRNN_UNSUPPORTED);
  if (version != kFormatVersion)
    reject(MetadataReader::where(key::kFormatVersion) + ": expected \"" + std::to_string(kFormatVersion) +
           "\", got " + quoted(m.text(key::kFormatVersion)));
  simdrnn_config c = simdrnn_config_default();
  set_enum(&c.cell, m.choice(key::kCell, kCellNames, 3));
  c.input_size = m.integer(key::kInputSize);
  c.hidden_size = m.integer(key::kHiddenSize);
  c.num_layers = m.integer(key::kNumLayers);
  c.bidirectional = m.flag(key::kBidirectional);
  set_enum(&c.activation, m.choice(key::kActivation, kActivationNames, 3));
  c.clip = m.real(key::kClip);
  c.output_size = m.integer(key::kOutputSize);
  c.proj_size = m.integer(key::kProjSize);
  c.gru_linear_before_reset = m.flag(key::kGruLinearBeforeReset);
  set_enum(&c.weight_precision, m.choice(key::kWeightPrecision, kPrecisionNames, 3));
  return c;
}

// ---- tensors -----------------------------------------------------------------------
// The PyTorch shape of a tensor (simdrnn.h, simdrnn_weights_set); its element
// count is the schema's tensor_count.
std::vector<int64_t> tensor_shape(const simdrnn_config& c, const TensorId& id) {
  const int64_t G = cell_desc(c.cell).gate_count, H = c.hidden_size, D = c.bidirectional ? 2 : 1;
  switch (id.kind) {
    case TensorKind::kWeightIh:
      return {G * H, layer_input(c, id.layer)};
    case TensorKind::kWeightHh:
      return {G * H, hidden_out(c)};
    case TensorKind::kBiasIh:
    case TensorKind::kBiasHh:
      return {G * H};
    case TensorKind::kWeightHr:
      return {c.proj_size, H};
    case TensorKind::kPeephole:
      return {3 * H};
    case TensorKind::kWeightHy:
      return {c.output_size, D * hidden_out(c)};
    case TensorKind::kBiasHy:
      return {c.output_size};
  }
  return {};
}

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validate_config bounds every tensor below 2^60
  return n;
}

// What the names of this configuration's tensors look like, for messages.
std::string expected_names(const simdrnn_config& c) {
  const bool lstm = c.cell == SIMDRNN_CELL_LSTM;
  return std::string("weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}") +
         (c.proj_size > 0 ? ", weight_hr_l{k}" : "") + (lstm ? ", weight_peephole_l{k}" : "") + " with k < " +
         std::to_string(c.num_layers) + (c.bidirectional ? " and optionally _reverse" : "") +
         (c.output_size > 0 ? ", weight_hy, bias_hy" : "");
}

// The optional group (ParamGroups) a tensor belongs to: 0 biases,
// 1 peepholes, 2 bias_hy; -1 for tensors outside any group.
int group_of(TensorKind kind) {
  switch (kind) {
    case TensorKind::kBiasIh:
    case TensorKind::kBiasHh:
      return 0;
    case TensorKind::kPeephole:
      return 1;
    case TensorKind::kBiasHy:
      return 2;
    default:
      return -1;
  }
}
constexpr const char* kGroupMembers[] = {"biases: every bias_ih/bias_hh", "peepholes: every weight_peephole",
                                         "bias_hy"};

// One tensor entry of the header, checked against the configuration.
struct FileTensor {
  std::string name;
  TensorId id;
  uint64_t begin, end;  // byte range in the data section
  int64_t count;        // floats
};

std::string describe_shape(const json& shape) {
  if (!shape.is_array()) return std::string("a JSON ") + shape.type_name();
  std::string s = "[";
  size_t i = 0;
  for (const json& d : shape) {
    if (i == 8) {
      s += ", ...";
      break;
    }
    s += i++ ? ", " : "";
    s += d.is_number_integer() ? d.dump() : std::string("<") + d.type_name() + ">";
  }
  return s + "]";
}

FileTensor read_tensor(const simdrnn_config& c, const std::string& name, const json& entry,
                       uint64_t data_bytes) {
  FileTensor t{name, TensorId{TensorKind::kWeightIh}, 0, 0, 0};
  const std::string what = "tensor " + quoted(name);
  if (!parse_tensor_name(c, name, &t.id) || tensor_name(t.id) != name)
    reject(what + ": not a tensor of this " + cell_desc(c.cell).name + " model (expected " +
           expected_names(c) + ")");
  if (!entry.is_object())
    reject(what + ": expected an object with dtype, shape and data_offsets, got a JSON " + entry.type_name());
  for (const auto& field : entry.items())
    if (field.key() != "dtype" && field.key() != "shape" && field.key() != "data_offsets")
      reject(what + ": unknown field " + quoted(field.key()) + " (expected dtype, shape and data_offsets)");
  const auto dtype = entry.find("dtype"), shape = entry.find("shape"), offsets = entry.find("data_offsets");
  if (dtype == entry.end()) reject(what + ": expected a dtype, got none");
  if (!dtype->is_string())
    reject(what + ": dtype: expected \"" + kDtype + "\", got a JSON " + dtype->type_name());
  if (dtype->get_ref<const std::string&>() != kDtype)
    reject(what + ": dtype: expected \"" + kDtype + "\" (simdrnn stores float32), got " +
           quoted(dtype->get_ref<const std::string&>()));

  const std::vector<int64_t> expected = tensor_shape(c, t.id);
  t.count = element_count(expected);
  if (t.count != tensor_count(c, t.id))
    reject(what + ": shape and schema disagree (a simdrnn bug)", SIMDRNN_INTERNAL_ERROR);
  if (shape == entry.end()) reject(what + ": expected a shape " + shape_text(expected) + ", got none");
  bool same = shape->is_array() && shape->size() == expected.size();
  for (size_t i = 0; same && i < expected.size(); ++i)
    same =
        (*shape)[i].is_number_unsigned() && (*shape)[i].get<uint64_t>() == static_cast<uint64_t>(expected[i]);
  if (!same)
    reject(what + ": shape: expected " + shape_text(expected) + " for this model, got " +
           describe_shape(*shape));

  if (offsets == entry.end()) reject(what + ": expected data_offsets [begin, end], got none");
  if (!offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    reject(what + ": data_offsets: expected [begin, end] (two non-negative integers), got " +
           describe_shape(*offsets));
  t.begin = (*offsets)[0].get<uint64_t>();
  t.end = (*offsets)[1].get<uint64_t>();
  const std::string range = "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
  if (t.begin > t.end) reject(what + ": " + range + ": begin is past end");
  if (t.end > data_bytes)
    reject(what + ": " + range + ": past the end of the data section (" + std::to_string(data_bytes) +
           " bytes; the file is truncated or the offsets are wrong)");
  if (t.begin % sizeof(float) != 0)
    reject(what + ": " + range + ": begin is not a multiple of 4 (F32 elements)");
  const uint64_t bytes = static_cast<uint64_t>(t.count) * sizeof(float);
  if (t.end - t.begin != bytes)
    reject(what + ": " + range + ": holds " + std::to_string(t.end - t.begin) + " bytes, expected " +
           std::to_string(bytes) + " (" + shape_text(expected) + " F32)");
  return t;
}

// safetensors' rule: the tensors tile the data section exactly, in any order
// of entries, without overlap or holes (so a file is never larger than what
// it describes, and no byte belongs to two tensors).
void check_tiling(std::vector<FileTensor>& tensors, uint64_t data_bytes) {
  std::sort(tensors.begin(), tensors.end(),
            [](const FileTensor& a, const FileTensor& b) { return a.begin < b.begin; });
  uint64_t at = 0;
  const FileTensor* previous = nullptr;
  for (const FileTensor& t : tensors) {
    if (t.begin < at)
      reject("tensor " + quoted(t.name) + ": data_offsets [" + std::to_string(t.begin) + ", " +
             std::to_string(t.end) + "] overlap tensor " + quoted(previous->name) + " [" +
             std::to_string(previous->begin) + ", " + std::to_string(previous->end) + "]");
    if (t.begin > at)
      reject("data section: bytes [" + std::to_string(at) + ", " + std::to_string(t.begin) +
             ") belong to no tensor (safetensors allows no holes)");
    at = t.end;
    previous = &t;
  }
  if (at != data_bytes)
    reject("data section: " + std::to_string(data_bytes - at) +
           " bytes after the last tensor (which ends at " + std::to_string(at) + " of " +
           std::to_string(data_bytes) + "; safetensors allows no trailing bytes)");
}

// Every tensor the configuration and the file's optional groups call for
// must be there: the required weights, and all members of a group once one
// member is (a file with bias_ih_l0 but no bias_hh_l1 is damaged, not a
// model with some zero biases).
void check_complete(const simdrnn_config& c, const std::vector<FileTensor>& tensors) {
  std::set<std::string> present;
  std::string witness[3];  // a member of each group the file has, for the message
  for (const FileTensor& t : tensors) {
    present.insert(t.name);
    const int group = group_of(t.id.kind);
    if (group >= 0 && witness[group].empty()) witness[group] = t.name;
  }
  const ParamGroups groups{!witness[0].empty(), !witness[1].empty(), !witness[2].empty()};
  for_each_param(c, groups, [&](const TensorId& id) {
    const std::string name = tensor_name(id);
    if (present.count(name)) return;
    const int group = group_of(id.kind);
    if (group < 0)
      reject("tensor \"" + name + "\": missing (this " + cell_desc(c.cell).name +
             " model needs it: every weight_ih/weight_hh" + (c.proj_size > 0 ? ", weight_hr" : "") +
             (c.output_size > 0 ? " and weight_hy" : "") + " must be in the file)");
    reject("tensor \"" + name + "\": missing (the file has \"" + witness[group] + "\", so the model has " +
           kGroupMembers[group] + " must be in the file)");
  });
}

// ---- header parsing ------------------------------------------------------------------
// Parses the JSON header with nlohmann's parser. A callback rejects what
// nlohmann would accept but safetensors does not (duplicate keys), and
// nesting deeper than a header has (tensor -> shape -> number), so that a
// header of 100 MB of '[' cannot make the parser build a huge stack.
json parse_header(const char* begin, const char* end) {
  std::vector<std::set<std::string>> keys;  // one per open object
  const auto callback = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= 3)
          reject(
              "header: nested deeper than a safetensors header (objects of tensors, each with a shape "
              "array of numbers)");
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        keys.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& k = parsed.get_ref<const std::string&>();
        if (!keys.back().insert(k).second)
          reject("header: duplicate key " + quoted(k) + " (safetensors disallows duplicate keys)");
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(begin, end, callback);
  } catch (const json::exception& e) {
    // A syntax error (parse_error), or a number too large for a double
    // (out_of_range 406). The message quotes the bytes read last: keep it
    // printable.
    std::string message = e.what();
    message = quoted(message, 400);
    reject("header: not valid JSON: " + message.substr(1, message.size() - 2));
  }
}

struct WeightsDeleter {
  void operator()(simdrnn_weights* w) const { simdrnn_weights_destroy(w); }
};

// Re-raises the library's last error with `context` in front.
[[noreturn]] void rethrow_library_error(simdrnn_status status, const std::string& context) {
  reject(context + simdrnn_last_error(), status);
}

simdrnn_model* load(const unsigned char* data, size_t size) {
  if (size < 8)
    reject("expected at least 8 bytes (the safetensors header length), got " + std::to_string(size) +
           " (truncated?)");
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | data[i];
  if (header_bytes > kMaxHeaderBytes)
    reject("header length " + std::to_string(header_bytes) + " exceeds " + std::to_string(kMaxHeaderBytes) +
           " bytes (the safetensors limit; not a safetensors file?)");
  if (header_bytes > size - 8)
    reject("header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
           std::to_string(size) + " bytes; truncated?)");
  const char* text = reinterpret_cast<const char*>(data + 8);
  if (header_bytes == 0 || text[0] != '{')
    reject("header: expected a JSON object starting with '{', got " +
           (header_bytes == 0 ? std::string("an empty header") : quoted(std::string(text, 1))));
  const json header = parse_header(text, text + header_bytes);
  if (!header.is_object()) reject("header: expected a JSON object");  // '{' makes it one; kept for clarity

  const auto metadata = header.find(kMetadata);
  if (metadata == header.end())
    reject(std::string("header: expected ") + kMetadata +
           " with the model's configuration, got none (not a simdrnn model file?)");
  if (!metadata->is_object())
    reject(std::string(kMetadata) + ": expected an object of strings, got a JSON " + metadata->type_name());
  for (const auto& item : metadata->items())
    if (!item.value().is_string())
      reject(MetadataReader::where(item.key()) + ": expected a string (safetensors metadata values " +
             "are strings), got a JSON " + item.value().type_name());
  const simdrnn_config config = read_config(*metadata);

  simdrnn_weights* raw_weights = nullptr;
  if (simdrnn_status st = simdrnn_weights_create(&config, &raw_weights))
    rethrow_library_error(st, std::string(kMetadata) + " describes a model this library rejects: ");
  const std::unique_ptr<simdrnn_weights, WeightsDeleter> weights(raw_weights);

  const uint64_t data_bytes = size - 8 - header_bytes;
  const unsigned char* section = data + 8 + header_bytes;
  std::vector<FileTensor> tensors;
  for (const auto& item : header.items()) {
    if (item.key() == kMetadata) continue;
    tensors.push_back(read_tensor(config, item.key(), item.value(), data_bytes));
  }
  check_tiling(tensors, data_bytes);
  check_complete(config, tensors);

  std::vector<float> buffer;
  for (const FileTensor& t : tensors) {
    // The section need not be 4-byte aligned in memory: copy, never cast.
    buffer.resize(static_cast<size_t>(t.count));
    std::memcpy(buffer.data(), section + t.begin, static_cast<size_t>(t.end - t.begin));
    if (simdrnn_status st = simdrnn_weights_set(weights.get(), t.name.c_str(), buffer.data(), t.count))
      rethrow_library_error(st, "tensor \"" + t.name + "\": ");
  }
  simdrnn_model* model = nullptr;
  if (simdrnn_status st = simdrnn_model_create(weights.get(), &model)) rethrow_library_error(st, "");
  return model;
}

// ---- saving ---------------------------------------------------------------------------
std::vector<unsigned char> save(const simdrnn_model* model) {
  simdrnn_config c;
  if (simdrnn_status st = simdrnn_model_config(model, &c)) rethrow_library_error(st, "");
  int64_t num_params = 0;
  if (simdrnn_status st = simdrnn_model_num_params(model, &num_params)) rethrow_library_error(st, "");
  std::vector<float> params(static_cast<size_t>(num_params));
  if (simdrnn_status st = simdrnn_model_get_params(model, params.data())) rethrow_library_error(st, "");

  // The tensors the model holds, in flat-vector order: the data section is
  // then the flat vector itself.
  struct Entry {
    std::string name;
    std::vector<int64_t> shape;
    int64_t offset, count;
  };
  std::vector<Entry> entries;
  simdrnn_status lookup = SIMDRNN_OK;
  for_each_param(c, ParamGroups{true, true, true}, [&](const TensorId& id) {
    Entry e{tensor_name(id), tensor_shape(c, id), -1, 0};
    if (!lookup) lookup = simdrnn_model_param_offset(model, e.name.c_str(), &e.offset, &e.count);
    if (e.count > 0) entries.push_back(std::move(e));
  });
  if (lookup) rethrow_library_error(lookup, "");
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.offset < b.offset; });
  int64_t at = 0;
  for (const Entry& e : entries) {
    if (e.offset != at || e.count != element_count(e.shape))
      reject(
          "tensor \"" + e.name + "\": the flat parameter vector does not follow the schema (a simdrnn bug)",
          SIMDRNN_INTERNAL_ERROR);
    at += e.count;
  }
  if (at != num_params)
    reject("the flat parameter vector holds tensors the schema does not name (a simdrnn bug)",
           SIMDRNN_INTERNAL_ERROR);

  ordered_json header = ordered_json::object();
  header[kMetadata] = config_metadata(c);
  for (const Entry& e : entries) {
    const uint64_t begin = static_cast<uint64_t>(e.offset) * sizeof(float);
    const uint64_t end = begin + static_cast<uint64_t>(e.count) * sizeof(float);
    header[e.name] = ordered_json{{"dtype", kDtype}, {"shape", e.shape}, {"data_offsets", {begin, end}}};
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // data starts 8-byte aligned, as safetensors writes it
  if (text.size() > kMaxHeaderBytes)
    reject("header: " + std::to_string(text.size()) + " bytes, more than safetensors allows (" +
               std::to_string(kMaxHeaderBytes) + ")",
           SIMDRNN_UNSUPPORTED);

  const size_t data_bytes = params.size() * sizeof(float);
  std::vector<unsigned char> file(8 + text.size() + data_bytes);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i, n >>= 8) file[static_cast<size_t>(i)] = static_cast<unsigned char>(n & 0xff);
  std::memcpy(file.data() + 8, text.data(), text.size());
  if (data_bytes) std::memcpy(file.data() + 8 + text.size(), params.data(), data_bytes);
  return file;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

std::vector<unsigned char> read_file(const char* path) {
  const std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path, "rb"));
  if (!f) reject(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fileno(f.get()), &st) != 0) reject(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) reject("not a regular file");
  std::vector<unsigned char> bytes(static_cast<size_t>(st.st_size));
  const size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f.get());
  if (got != bytes.size())
    reject(
        "read " + std::to_string(got) + " of " + std::to_string(bytes.size()) + " bytes" +
        (std::ferror(f.get()) ? std::string(": ") + std::strerror(errno) : std::string(" (file shrank?)")));
  return bytes;
}

void write_file(const char* path, const std::vector<unsigned char>& bytes) {
  std::FILE* f = std::fopen(path, "wb");
  if (!f) reject(std::string("cannot create: ") + std::strerror(errno));
  const size_t put = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (put != bytes.size() || !closed) {
    const int err = put != bytes.size() ? write_errno : errno;
    std::remove(path);  // leave no truncated model behind
    reject("cannot write " + std::to_string(bytes.size()) + " bytes: " + std::strerror(err));
  }
}

// Runs `body` with the firewall of the C API; a rejected file becomes the
// call's status, its message prefixed with `source` (which file).
template <class F>
simdrnn_status file_call(const std::string& source, F&& body) {
  return guarded([&]() -> simdrnn_status {
    try {
      return body();
    } catch (const FileError& e) {
      return fail(e.status, "%s: %s", source.c_str(), e.message.c_str());
    }
  });
}

std::string path_source(const char* path) { return "model file " + quoted(path, 200); }

}  // namespace

extern "C" {

simdrnn_status simdrnn_model_save(const simdrnn_model* model, const char* path) {
  if (!path)
    return fail(SIMDRNN_INVALID_ARGUMENT, "path: expected a file name to write the model to, got NULL");
  return file_call(path_source(path), [&] {
    write_file(path, save(model));
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_load(const char* path, simdrnn_model** model) {
  if (!path) return fail(SIMDRNN_INVALID_ARGUMENT, "path: expected a model file name, got NULL");
  if (!model)
    return fail(SIMDRNN_INVALID_ARGUMENT,
                "model: expected a non-NULL simdrnn_model** to receive the handle, got NULL");
  return file_call(path_source(path), [&] {
    const std::vector<unsigned char> bytes = read_file(path);
    *model = load(bytes.data(), bytes.size());
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_save_to_memory(const simdrnn_model* model, void* data, size_t capacity,
                                            size_t* size) {
  if (!size)
    return fail(SIMDRNN_INVALID_ARGUMENT,
                "size: expected a non-NULL size_t* to receive the byte count, got NULL");
  return file_call("model file", [&]() -> simdrnn_status {
    const std::vector<unsigned char> bytes = save(model);
    if (data && capacity < bytes.size())
      return fail(SIMDRNN_INVALID_ARGUMENT,
                  "capacity: expected at least %zu bytes (the model file's size), got %zu", bytes.size(),
                  capacity);
    *size = bytes.size();
    if (data) std::memcpy(data, bytes.data(), bytes.size());
    return SIMDRNN_OK;
  });
}

simdrnn_status simdrnn_model_load_from_memory(const void* data, size_t size, simdrnn_model** model) {
  if (!model)
    return fail(SIMDRNN_INVALID_ARGUMENT,
                "model: expected a non-NULL simdrnn_model** to receive the handle, got NULL");
  if (!data && size > 0)
    return fail(SIMDRNN_INVALID_ARGUMENT, "data: expected %zu bytes of a model file, got NULL", size);
  return file_call("model file", [&] {
    *model = load(static_cast<const unsigned char*>(data), data ? size : 0);
    return SIMDRNN_OK;
  });
}

}  // extern "C"

#else  // !SIMDRNN_HAVE_MODEL_FILE

#include <cstddef>

#include "simdrnn/simdrnn.h"
#include "src/handles.hpp"

using namespace simdrnn;

namespace {
simdrnn_status no_model_file() {
  return guarded([] {
    return fail(SIMDRNN_UNSUPPORTED,
                "model file: this simdrnn was built without nlohmann-json (Debian nlohmann-json3-dev), "
                "which reads and writes its JSON header; rebuild with it installed");
  });
}
}  // namespace

extern "C" {
simdrnn_status simdrnn_model_save(const simdrnn_model*, const char*) { return no_model_file(); }
simdrnn_status simdrnn_model_load(const char*, simdrnn_model**) { return no_model_file(); }
simdrnn_status simdrnn_model_save_to_memory(const simdrnn_model*, void*, size_t, size_t*) { return no_model_file(); }
simdrnn_status simdrnn_model_load_from_memory(const void*, size_t, simdrnn_model**) { return no_model_file(); }
}  // extern "C"

#endif  // SIMDRNN_HAVE_MODEL_FILE
