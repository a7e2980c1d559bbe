// ONNX import: reads a ModelProto with ONNX's own protobuf classes and walks
// its nodes once, in order, with a small abstract interpreter. Every tensor
// gets an abstract value: a constant, a shape vector, zeros of a symbolic
// shape, or a view (a permutation / regrouping of axes) of a graph input, of
// a recurrent node's Y or final states, or of the projection. Each operator
// the importer knows has a rule that accepts only the abstract values it can
// map onto simdrnn (so the glue torch.onnx.export emits between recurrent
// nodes is followed exactly, whatever order it comes in) and refuses anything
// else by naming the node and why. At the end every graph output must be a
// view of something simdrnn computes; the views become the Plan that
// onnx_run.cpp follows to copy between ONNX's layouts and simdrnn's buffers.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "onnx/onnx_pb.h"
#include "src/onnx/onnx_internal.hpp"

namespace simdrnn::onnx_import {
namespace {

constexpr int32_t kFloat = onnx::TensorProto::FLOAT;
constexpr int32_t kInt32 = onnx::TensorProto::INT32;
constexpr int32_t kInt64 = onnx::TensorProto::INT64;
constexpr size_t kMaxShapeLength = 64;  // shape vectors are short; a long one is not glue

// One axis of an abstract tensor.
struct Axis {
  enum Kind : int8_t {
    kIn,    // dimension `index` of runtime graph input `input`
    kTime,  // the sequence's time and batch axes (graph input X's, once bound)
    kBatch,
    kDir,   // Y's direction axis of layer `index`
    kHid,   // hidden units: Y's of layer `index`; -1 in final and initial states
    kRows,  // rows [begin, end) of simdrnn's [L*D, N, H] final states (cell: of c)
    kOut    // projection outputs
  };
  Kind kind = kIn;
  int64_t input = -1;
  int64_t index = 0;
  int64_t begin = 0;
  int64_t end = -1;  // kIn: -1 while unsliced
  bool cell = false;
  bool operator==(const Axis& o) const {
    return kind == o.kind && input == o.input && index == o.index && begin == o.begin && end == o.end &&
           cell == o.cell;
  }
  bool operator!=(const Axis& o) const { return !(*this == o); }
};
using Group = std::vector<Axis>;

// One element of a shape vector, or one dimension of a zeros tensor: a known
// size, or the (symbolic) size of an axis.
struct Dim {
  bool symbolic = false;
  int64_t value = 0;  // when not symbolic (Reshape's shape may hold -1 and 0)
  Axis sym;
  static Dim of(int64_t v) {
    Dim d;
    d.value = v;
    return d;
  }
  static Dim axis(const Axis& a) {
    Dim d;
    d.symbolic = true;
    d.sym = a;
    return d;
  }
};

struct Value {
  enum Kind { kConst, kShape, kZeros, kView } kind = kConst;
  std::shared_ptr<const Tensor> tensor;                       // kConst
  std::vector<Dim> dims;                                      // kShape: its elements; kZeros: its shape
  bool scalar = false;                                        // kShape of rank 0
  enum Source { kInput, kY, kState, kProj } source = kInput;  // kView
  int64_t input = -1;                                         // kView of kInput
  int64_t layer = -1;                                         // kView of kY / kProj: the layer it reads
  std::vector<Group> groups;                                  // kView
  bool proj_bias = false;
};

// A runtime graph input (a graph input without an initializer).
struct Input {
  std::string name;
  int32_t elem = 0;
  std::vector<int64_t> dims;  // -1: dynamic
  bool bound = false;
  simdrnn_onnx_role role = SIMDRNN_ONNX_X;
  int64_t axis_of[3] = {0, 1, 2};  // X: time, batch, features; states: rows, batch, hidden
  int64_t rows = 0;                // states: extent of the rows dimension
};

struct Layer {
  std::string desc;
  std::shared_ptr<const Tensor> W, R, B, P;
  StateSource h0, c0;
  int64_t lens_input = -1;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Names in messages: keep them short and printable (the file is untrusted).
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 200; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > 200) out += "...";
  return out + "'";
}

class Importer {
 public:
  explicit Importer(const onnx::ModelProto& model) : model_(model), g_(model.graph()) {}

  std::unique_ptr<Plan> run(simdrnn_model** model);

 private:
  // ---- node plumbing ----
  std::string node_desc(const onnx::NodeProto& n, int index) const {
    std::string s = n.name().empty() ? cat("node #", index) : cat("node ", quoted(n.name()));
    const std::string op = quoted(n.op_type().substr(0, 64));
    return s + " (" + op.substr(1, op.size() - 2) + ")";
  }
  bool has_input(const onnx::NodeProto& n, int i) const { return i < n.input_size() && !n.input(i).empty(); }
  const Value& input(const onnx::NodeProto& n, int i, const char* slot) const {
    if (!has_input(n, i)) invalid(desc_, ": input ", i, " (", slot, ") is missing");
    auto it = values_.find(n.input(i));
    if (it == values_.end())
      invalid(desc_, ": input ", i, " (", slot, ") ", quoted(n.input(i)),
              " is not a graph input, an initializer or an output of an earlier node");
    return it->second;
  }
  void define(const std::string& name, Value v) {
    if (name.empty()) return;
    // Real tensors here have rank <= 8; a bound keeps hostile graphs cheap to follow.
    if ((v.kind == Value::kView && v.groups.size() > 8) || (v.kind == Value::kZeros && v.dims.size() > 8))
      unsupported(desc_, ": output ", quoted(name), " would have rank > 8");
    if (!values_.emplace(name, std::move(v)).second)
      invalid(desc_, ": output ", quoted(name),
              " is already defined (by a graph input, initializer or earlier node)");
  }
  // Attributes of the node being read, checked against what its operator allows.
  void read_attributes(const onnx::NodeProto& n, std::initializer_list<const char*> allowed) {
    attrs_.clear();
    for (const onnx::AttributeProto& a : n.attribute()) {
      if (!a.ref_attr_name().empty())
        unsupported(desc_, ": attribute ", quoted(a.name()), " refers to a function's");
      bool known = false;
      for (const char* name : allowed) known |= a.name() == name;
      if (!known) unsupported(desc_, ": attribute ", quoted(a.name()), " is not supported");
      if (!attrs_.emplace(a.name(), &a).second)
        invalid(desc_, ": attribute ", quoted(a.name()), " appears twice");
    }
  }
  const onnx::AttributeProto* attr(const char* name, onnx::AttributeProto::AttributeType type,
                                   const char* type_name) const {
    auto it = attrs_.find(name);
    if (it == attrs_.end()) return nullptr;
    if (it->second->type() != type)
      invalid(desc_, ": attribute ", name, " should be ", type_name, ", its type is ", it->second->type());
    return it->second;
  }
  int64_t attr_int(const char* name, int64_t fallback) const {
    const auto* a = attr(name, onnx::AttributeProto::INT, "an INT");
    return a ? a->i() : fallback;
  }
  std::optional<float> attr_float(const char* name) const {
    const auto* a = attr(name, onnx::AttributeProto::FLOAT, "a FLOAT");
    return a ? std::optional<float>(a->f()) : std::nullopt;
  }
  std::optional<std::string> attr_string(const char* name) const {
    const auto* a = attr(name, onnx::AttributeProto::STRING, "a STRING");
    return a ? std::optional<std::string>(a->s()) : std::nullopt;
  }
  std::optional<std::vector<int64_t>> attr_ints(const char* name) const {
    const auto* a = attr(name, onnx::AttributeProto::INTS, "INTS");
    if (!a) return std::nullopt;
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }

  // ---- abstract values ----
  Axis canon(const Axis& a) const {
    if (a.kind == Axis::kIn) {
      auto it = bound_.find({a.input, a.index});
      if (it != bound_.end()) {
        Axis b;
        b.kind = it->second;
        return b;
      }
    }
    return a;
  }
  std::optional<int64_t> extent(const Axis& raw) const {
    const Axis a = canon(raw);
    switch (a.kind) {
      case Axis::kIn: {
        if (a.end >= 0) return a.end - a.begin;
        const int64_t d = inputs_[static_cast<size_t>(a.input)].dims[static_cast<size_t>(a.index)];
        return d >= 0 ? std::optional<int64_t>(d) : std::nullopt;
      }
      case Axis::kTime:
        return fixed_seq_len_ > 0 ? std::optional<int64_t>(fixed_seq_len_) : std::nullopt;
      case Axis::kBatch:
        return fixed_batch_ > 0 ? std::optional<int64_t>(fixed_batch_) : std::nullopt;
      case Axis::kDir:
        return D_;
      case Axis::kHid:
        return H_;
      case Axis::kRows:
        return a.end - a.begin;
      case Axis::kOut:
        return O_;
    }
    return std::nullopt;
  }
  std::optional<int64_t> extent(const Group& g) const {
    int64_t p = 1;
    for (const Axis& a : g) {
      auto e = extent(a);
      if (!e) return std::nullopt;
      p = checked_mul(p, *e, desc_);
    }
    return p;
  }
  std::optional<int64_t> known(const Dim& d) const {
    return d.symbolic ? extent(d.sym) : std::optional<int64_t>(d.value);
  }
  bool same_axis(const Axis& x, const Axis& y) const {
    const Axis a = canon(x), b = canon(y);
    if (a.kind != b.kind) return false;
    if (a.kind == Axis::kTime || a.kind == Axis::kBatch) return true;
    return a == b;
  }
  bool dim_equal(const Dim& a, const Dim& b) const {
    if (a.symbolic && b.symbolic && same_axis(a.sym, b.sym)) return true;
    auto ka = known(a), kb = known(b);
    return ka && kb && *ka == *kb;
  }
  std::string axis_name(const Axis& raw) const {
    const Axis a = canon(raw);
    switch (a.kind) {
      case Axis::kIn:
        return cat(quoted(inputs_[static_cast<size_t>(a.input)].name), "[", a.index, "]");
      case Axis::kTime:
        return "T";
      case Axis::kBatch:
        return "N";
      case Axis::kDir:
        return "D";
      case Axis::kHid:
        return "H";
      case Axis::kRows:
        return cat(a.cell ? "c" : "h", " rows ", a.begin, ":", a.end);
      case Axis::kOut:
        return "O";
    }
    return "?";
  }
  std::string dims_name(const std::vector<Group>& groups) const {
    std::string s = "[";
    for (size_t i = 0; i < groups.size(); ++i) {
      if (i) s += ", ";
      if (groups[i].empty()) s += "1";
      for (size_t j = 0; j < groups[i].size(); ++j) s += (j ? "*" : "") + axis_name(groups[i][j]);
    }
    return s + "]";
  }
  std::string dims_name(const std::vector<Dim>& dims) const {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i)
      s += (i ? ", " : "") + (dims[i].symbolic ? axis_name(dims[i].sym) : std::to_string(dims[i].value));
    return s + "]";
  }
  std::string describe(const Value& v) const {
    switch (v.kind) {
      case Value::kConst:
        return cat("a constant of shape ", dims_name(const_dims(*v.tensor)));
      case Value::kShape:
        return "a shape vector";
      case Value::kZeros:
        return cat("zeros of shape ", dims_name(v.dims));
      case Value::kView:
        break;
    }
    switch (v.source) {
      case Value::kInput:
        return cat("graph input ", quoted(inputs_[static_cast<size_t>(v.input)].name), " as ",
                   dims_name(v.groups));
      case Value::kY:
        return cat("the Y of layer ", v.layer, " as ", dims_name(v.groups));
      case Value::kState:
        return cat("final states as ", dims_name(v.groups));
      case Value::kProj:
        return cat("the projection as ", dims_name(v.groups));
    }
    return "?";
  }
  static std::vector<Dim> const_dims(const Tensor& t) {
    std::vector<Dim> d;
    for (int64_t x : t.dims) d.push_back(Dim::of(x));
    return d;
  }
  // A shape vector: a kShape value, or a small integer constant.
  const std::vector<Dim>& as_shape(const Value& v, const char* slot, bool* scalar = nullptr) {
    if (v.kind == Value::kShape) {
      if (scalar) *scalar = v.scalar;
      return v.dims;
    }
    if (v.kind == Value::kConst && v.tensor->is_int() && v.tensor->dims.size() <= 1 &&
        static_cast<size_t>(v.tensor->count()) <= kMaxShapeLength) {
      scratch_.clear();
      for (int64_t x : v.tensor->i) scratch_.push_back(Dim::of(x));
      if (scalar) *scalar = v.tensor->dims.empty();
      return scratch_;
    }
    unsupported(desc_, ": ", slot,
                " should be a shape vector (a short integer constant or one built from Shape), it is ",
                describe(v));
  }
  // Known integers from a constant (axes, starts, indices...).
  std::vector<int64_t> as_ints(const Value& v, const char* slot) {
    bool scalar = false;
    std::vector<int64_t> out;
    for (const Dim& d : as_shape(v, slot, &scalar)) {
      auto k = known(d);
      if (!k) unsupported(desc_, ": ", slot, " should be constant");
      out.push_back(*k);
    }
    return out;
  }
  // Axes from an attribute (older opsets) or an input (newer).
  std::optional<std::vector<int64_t>> axes_of(const onnx::NodeProto& n, int slot) {
    if (auto a = attr_ints("axes")) return a;
    if (has_input(n, slot)) return as_ints(input(n, slot, "axes"), "axes");
    return std::nullopt;
  }
  int64_t normalize_axis(int64_t axis, int64_t rank, const char* what) const {
    if (axis < -rank || axis >= rank) invalid(desc_, ": ", what, " ", axis, " is outside rank ", rank);
    return axis < 0 ? axis + rank : axis;
  }
  const Value& view(const onnx::NodeProto& n, int i, const char* slot) const {
    const Value& v = input(n, i, slot);
    if (v.kind != Value::kView)
      unsupported(desc_, ": ", slot, " is ", describe(v), ", which this operator cannot take here");
    return v;
  }
  // Drops Y's direction axis when there is one direction (a Squeeze may have removed it).
  Group strip_unit_dir(const Group& g) const {
    Group out;
    for (const Axis& a : g)
      if (!(a.kind == Axis::kDir && D_ == 1)) out.push_back(a);
    return out;
  }
  bool is_features(const Group& g, int64_t layer) const {
    const Group s = strip_unit_dir(g);
    if (D_ == 1) return s.size() == 1 && s[0].kind == Axis::kHid && s[0].index == layer;
    return s.size() == 2 && s[0].kind == Axis::kDir && s[0].index == layer && s[1].kind == Axis::kHid &&
           s[1].index == layer;
  }
  void note_batch(int64_t n, const std::string& by) {
    if (n < 0) return;
    if (n == 0) invalid(by, " declares batch 0");
    if (fixed_batch_ > 0 && fixed_batch_ != n)
      invalid(by, " declares batch ", n, " but ", batch_by_, " declares ", fixed_batch_);
    fixed_batch_ = n;
    batch_by_ = by;
  }

  // ---- operators ----
  void node(const onnx::NodeProto& n);
  bool fold(const onnx::NodeProto& n);
  void recurrent(const onnx::NodeProto& n);
  void check_x(const Value& v, int64_t layer, int64_t layout);
  StateSource state(const onnx::NodeProto& n, int slot, bool cell, int64_t layer, int64_t layout);
  int64_t lens(const onnx::NodeProto& n);
  void constant(const onnx::NodeProto& n);
  void shape(const onnx::NodeProto& n);
  void gather(const onnx::NodeProto& n);
  void unsqueeze(const onnx::NodeProto& n);
  void squeeze(const onnx::NodeProto& n);
  void concat(const onnx::NodeProto& n);
  void constant_of_shape(const onnx::NodeProto& n);
  void expand(const onnx::NodeProto& n);
  void slice(const onnx::NodeProto& n);
  void transpose(const onnx::NodeProto& n);
  void reshape(const onnx::NodeProto& n);
  void matmul(const onnx::NodeProto& n);
  void add(const onnx::NodeProto& n);
  void gemm(const onnx::NodeProto& n);
  Value projection(const Value& a, std::vector<float> weight_oi, int64_t O);
  void graph_inputs();
  std::unique_ptr<Plan> plan();
  void build(const Plan& plan, simdrnn_model** model) const;

  const onnx::ModelProto& model_;
  const onnx::GraphProto& g_;
  int64_t opset_ = 0;
  std::string desc_;  // the node being read, for messages
  std::map<std::string, const onnx::AttributeProto*> attrs_;
  std::map<std::string, Value> values_;
  std::vector<Input> inputs_;
  std::map<std::pair<int64_t, int64_t>, Axis::Kind> bound_;  // (input, dim) -> kTime / kBatch
  std::vector<Dim> scratch_;
  int64_t folded_ = 0;  // elements made by constant folding so far
  int64_t fixed_seq_len_ = 0, fixed_batch_ = 0;
  std::string batch_by_;

  // The recurrent chain: attributes shared by every layer (from the first node).
  std::vector<Layer> layers_;
  std::string first_desc_, first_op_;
  simdrnn_cell cell_ = SIMDRNN_CELL_RNN;
  int64_t D_ = 1, H_ = 0, I_ = 0;
  bool reversed_ = false;
  float clip_ = 0.0f;
  simdrnn_activation act_ = SIMDRNN_TANH;
  int64_t lbr_ = 0;
  int64_t x_input_ = -1;
  bool time_major_ = true;

  // The projection (at most one).
  bool has_proj_ = false;
  std::string proj_desc_;
  int64_t proj_layer_ = -1, O_ = 0;
  std::vector<float> proj_w_, proj_b_;  // [O, D*H], [O]
};

void Importer::graph_inputs() {
  std::set<std::string> initializer_names;
  for (int i = 0; i < g_.initializer_size(); ++i) {
    const onnx::TensorProto& t = g_.initializer(i);
    desc_ = cat("initializer ", quoted(t.name()));
    if (t.name().empty()) invalid("initializer #", i, " has no name");
    Value v;
    v.tensor = decode_tensor(t, desc_);
    define(t.name(), std::move(v));
    initializer_names.insert(t.name());
  }
  if (g_.sparse_initializer_size() > 0) unsupported("the graph has sparse initializers");
  for (const onnx::ValueInfoProto& vi : g_.input()) {
    // An initializer listed as an input too (IR < 4, keep_initializers_as_inputs)
    // is an overridable default in ONNX; weights are packed once here, so it
    // is taken as the constant it holds.
    if (initializer_names.count(vi.name())) continue;
    desc_ = cat("graph input ", quoted(vi.name()));
    if (vi.name().empty()) invalid("a graph input has no name");
    Input in;
    in.name = vi.name();
    if (!vi.type().has_tensor_type()) unsupported(desc_, ": not a tensor");
    const auto& tt = vi.type().tensor_type();
    in.elem = tt.elem_type();
    if (!tt.has_shape()) unsupported(desc_, ": declares no shape (simdrnn needs at least its rank)");
    if (tt.shape().dim_size() > 8) unsupported(desc_, ": rank ", tt.shape().dim_size(), " (more than 8)");
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value() && d.dim_value() < 0) invalid(desc_, ": negative dimension ", d.dim_value());
      in.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
    }
    Value v;
    v.kind = Value::kView;
    v.source = Value::kInput;
    v.input = static_cast<int64_t>(inputs_.size());
    for (size_t d = 0; d < in.dims.size(); ++d) {
      Axis a;
      a.input = v.input;
      a.index = static_cast<int64_t>(d);
      v.groups.push_back({a});
    }
    inputs_.push_back(in);
    define(vi.name(), std::move(v));
  }
}

void Importer::node(const onnx::NodeProto& n) {
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    unsupported(desc_, ": operator domain ", quoted(n.domain()),
                " (only the default ONNX domain is supported)");
  const std::string& op = n.op_type();
  if (fold(n)) return;
  if (op == "RNN" || op == "LSTM" || op == "GRU") return recurrent(n);
  if (op == "Constant") return constant(n);
  if (op == "Identity") {
    read_attributes(n, {});
    if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
    Value v = input(n, 0, "input");
    return define(n.output(0), std::move(v));
  }
  if (op == "Shape") return shape(n);
  if (op == "Gather") return gather(n);
  if (op == "Unsqueeze") return unsqueeze(n);
  if (op == "Squeeze") return squeeze(n);
  if (op == "Concat") return concat(n);
  if (op == "ConstantOfShape") return constant_of_shape(n);
  if (op == "Expand") return expand(n);
  if (op == "Slice") return slice(n);
  if (op == "Transpose") return transpose(n);
  if (op == "Reshape") return reshape(n);
  if (op == "MatMul") return matmul(n);
  if (op == "Add") return add(n);
  if (op == "Gemm") return gemm(n);
  unsupported(
      desc_, ": operator ", quoted(op),
      " is not part of what simdrnn imports (a chain of RNN, LSTM or GRU nodes, the glue torch.onnx.export "
      "puts between them, and an output projection)");
}

// ---- constant folding ----------------------------------------------------------------
// torch.onnx.export(..., do_constant_folding=False) leaves the gate reordering
// of the weights in the graph (Slice, Concat, Unsqueeze of initializers):
// evaluate such nodes when every data input is a constant.

// dst[sum i_k dst_k] = src[sum i_k src_k] for every index i < dims.
template <class T>
void copy_nd(const T* src, const std::vector<int64_t>& src_strides, T* dst,
             const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& dims) {
  for (int64_t d : dims)
    if (d == 0) return;
  std::vector<int64_t> idx(dims.size(), 0);
  int64_t s = 0, d = 0;
  for (;;) {
    dst[d] = src[s];
    size_t k = dims.size();
    for (; k-- > 0;) {
      if (++idx[k] < dims[k]) {
        s += src_strides[k];
        d += dst_strides[k];
        break;
      }
      s -= src_strides[k] * (dims[k] - 1);
      d -= dst_strides[k] * (dims[k] - 1);
      idx[k] = 0;
    }
    if (k == static_cast<size_t>(-1)) return;
  }
}

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> st(dims.size());
  int64_t s = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    st[i] = s;
    s *= dims[i];
  }
  return st;
}

bool Importer::fold(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  const bool is_concat = op == "Concat";
  if (!(is_concat || op == "Slice" || op == "Unsqueeze" || op == "Squeeze" || op == "Transpose" ||
        op == "Reshape"))
    return false;
  if (n.input_size() < 1 || n.output_size() != 1) return false;  // the operator's own rule says what is wrong
  const int data_inputs = is_concat ? n.input_size() : 1;
  for (int i = 0; i < data_inputs; ++i) {
    auto it = has_input(n, i) ? values_.find(n.input(i)) : values_.end();
    if (it == values_.end() || it->second.kind != Value::kConst) return false;
  }
  const Tensor& t = *values_.at(n.input(0)).tensor;
  // Small integer vectors are shapes: the shape rules below keep them symbolic-friendly.
  if (!is_concat && t.is_int() && t.dims.size() <= 1) return false;
  const int64_t rank = static_cast<int64_t>(t.dims.size());
  auto out = std::make_shared<Tensor>();
  out->dtype = t.dtype;
  auto copy = [&](const Tensor& src, const std::vector<int64_t>& src_strides, int64_t src_base,
                  const std::vector<int64_t>& dims, int64_t dst_base) {
    const std::vector<int64_t> dst_strides = row_major_strides(out->dims);
    if (src.is_float())
      copy_nd(src.f.data() + src_base, src_strides, out->f.data() + dst_base, dst_strides, dims);
    else
      copy_nd(src.i.data() + src_base, src_strides, out->i.data() + dst_base, dst_strides, dims);
  };
  auto allocate = [&]() {
    int64_t count = 1;
    for (int64_t d : out->dims) count = checked_mul(count, d, desc_);
    folded_ += count;
    if (folded_ > (int64_t{1} << 28))
      unsupported(desc_, ": constant folding would make more than 2^28 elements");
    if (out->is_float())
      out->f.resize(static_cast<size_t>(count));
    else
      out->i.resize(static_cast<size_t>(count));
  };
  if (op == "Unsqueeze" || op == "Squeeze" || op == "Reshape") {  // the data stay as they are
    out->f = t.f;
    out->i = t.i;
    if (op == "Unsqueeze") {
      read_attributes(n, {"axes"});
      auto axes = axes_of(n, 1);
      if (!axes || axes->empty()) invalid(desc_, ": no axes");
      const int64_t r = rank + static_cast<int64_t>(axes->size());
      std::set<int64_t> at;
      for (int64_t a : *axes)
        if (!at.insert(normalize_axis(a, r, "axis")).second) invalid(desc_, ": axis ", a, " repeats");
      size_t next = 0;
      for (int64_t i = 0; i < r; ++i) out->dims.push_back(at.count(i) ? 1 : t.dims[next++]);
    } else if (op == "Squeeze") {
      read_attributes(n, {"axes"});
      std::set<int64_t> drop;
      if (auto axes = axes_of(n, 1)) {
        for (int64_t a : *axes) {
          const int64_t i = normalize_axis(a, rank, "axis");
          if (t.dims[static_cast<size_t>(i)] != 1) invalid(desc_, ": axis ", a, " is not of size 1");
          drop.insert(i);
        }
      } else {
        for (int64_t i = 0; i < rank; ++i)
          if (t.dims[static_cast<size_t>(i)] == 1) drop.insert(i);
      }
      for (int64_t i = 0; i < rank; ++i)
        if (!drop.count(i)) out->dims.push_back(t.dims[static_cast<size_t>(i)]);
    } else {
      read_attributes(n, {"allowzero"});
      const std::vector<int64_t> spec = as_ints(input(n, 1, "shape"), "shape");
      int64_t known_product = 1, minus = -1;
      for (size_t j = 0; j < spec.size(); ++j) {
        int64_t d = spec[j];
        if (d == 0 && attr_int("allowzero", 0) == 0) {
          if (j >= t.dims.size()) invalid(desc_, ": shape entry ", j, " copies a dimension the input lacks");
          d = t.dims[j];
        }
        if (d == -1) {
          if (minus >= 0) invalid(desc_, ": shape has more than one -1");
          minus = static_cast<int64_t>(j);
        } else if (d < 0) {
          invalid(desc_, ": shape entry ", d);
        } else {
          known_product = checked_mul(known_product, d, desc_);
        }
        out->dims.push_back(d);
      }
      if (minus >= 0) {
        if (known_product == 0 || t.count() % known_product != 0)
          invalid(desc_, ": cannot reshape ", t.count(), " elements to ", spec.size(), " dims");
        out->dims[static_cast<size_t>(minus)] = t.count() / known_product;
      } else if (known_product != t.count()) {
        invalid(desc_, ": cannot reshape ", t.count(), " elements into ", known_product);
      }
    }
  } else if (op == "Transpose") {
    read_attributes(n, {"perm"});
    std::vector<int64_t> perm = attr_ints("perm").value_or(std::vector<int64_t>{});
    if (perm.empty())
      for (int64_t i = 0; i < rank; ++i) perm.push_back(rank - 1 - i);
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i)
      if (static_cast<int64_t>(sorted.size()) != rank || sorted[i] != static_cast<int64_t>(i))
        invalid(desc_, ": perm is not a permutation of ", rank, " axes");
    const std::vector<int64_t> st = row_major_strides(t.dims);
    std::vector<int64_t> src_strides;
    for (int64_t p : perm) {
      out->dims.push_back(t.dims[static_cast<size_t>(p)]);
      src_strides.push_back(st[static_cast<size_t>(p)]);
    }
    allocate();
    copy(t, src_strides, 0, out->dims, 0);
  } else if (op == "Slice") {
    read_attributes(n, {"starts", "ends", "axes"});
    std::vector<int64_t> starts, ends, axes, steps;
    if (attrs_.count("starts")) {
      starts = attr_ints("starts").value_or(std::vector<int64_t>{});
      ends = attr_ints("ends").value_or(std::vector<int64_t>{});
      axes = attr_ints("axes").value_or(std::vector<int64_t>{});
    } else {
      starts = as_ints(input(n, 1, "starts"), "starts");
      ends = as_ints(input(n, 2, "ends"), "ends");
      if (has_input(n, 3)) axes = as_ints(input(n, 3, "axes"), "axes");
      if (has_input(n, 4)) steps = as_ints(input(n, 4, "steps"), "steps");
    }
    if (starts.size() != ends.size() || (!axes.empty() && axes.size() != starts.size()) ||
        (!steps.empty() && steps.size() != starts.size()))
      invalid(desc_, ": starts, ends, axes and steps differ in length");
    for (int64_t st : steps)
      if (st != 1) unsupported(desc_, ": step ", st, " (only 1 is supported)");
    out->dims = t.dims;
    std::vector<int64_t> begin(t.dims.size(), 0);
    for (size_t i = 0; i < starts.size(); ++i) {
      const int64_t axis = normalize_axis(axes.empty() ? static_cast<int64_t>(i) : axes[i], rank, "axis");
      const int64_t size = t.dims[static_cast<size_t>(axis)];
      auto clamp = [&](int64_t x) {
        return std::clamp(x < 0 ? (x < -size ? 0 : x + size) : x, int64_t{0}, size);
      };
      const int64_t b = clamp(starts[i]), e = clamp(ends[i]);
      begin[static_cast<size_t>(axis)] = b;
      out->dims[static_cast<size_t>(axis)] = std::max<int64_t>(0, e - b);
    }
    const std::vector<int64_t> st = row_major_strides(t.dims);
    int64_t base = 0;
    for (size_t i = 0; i < st.size(); ++i) base += begin[i] * st[i];
    allocate();
    copy(t, st, base, out->dims, 0);
  } else {  // Concat
    read_attributes(n, {"axis"});
    if (!attrs_.count("axis")) invalid(desc_, ": attribute axis is required");
    const int64_t axis = normalize_axis(attr_int("axis", 0), rank, "axis");
    out->dims = t.dims;
    out->dims[static_cast<size_t>(axis)] = 0;
    for (int i = 0; i < n.input_size(); ++i) {
      const Tensor& ti = *values_.at(n.input(i)).tensor;
      bool same = ti.dtype == t.dtype && ti.dims.size() == t.dims.size();
      for (size_t d = 0; same && d < t.dims.size(); ++d)
        same = static_cast<int64_t>(d) == axis || ti.dims[d] == t.dims[d];
      if (!same) invalid(desc_, ": input ", i, " does not match input 0 in type or shape");
      out->dims[static_cast<size_t>(axis)] += ti.dims[static_cast<size_t>(axis)];
    }
    allocate();
    const int64_t axis_stride = row_major_strides(out->dims)[static_cast<size_t>(axis)];
    int64_t offset = 0;
    for (int i = 0; i < n.input_size(); ++i) {
      const Tensor& ti = *values_.at(n.input(i)).tensor;
      copy(ti, row_major_strides(ti.dims), 0, ti.dims, offset * axis_stride);
      offset += ti.dims[static_cast<size_t>(axis)];
    }
  }
  Value v;
  v.tensor = out;
  define(n.output(0), std::move(v));
  return true;
}

// ---- the recurrent nodes ------------------------------------------------------------
void Importer::recurrent(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  const simdrnn_cell cell = op == "RNN"    ? SIMDRNN_CELL_RNN
                            : op == "LSTM" ? SIMDRNN_CELL_LSTM
                                           : SIMDRNN_CELL_GRU;
  const int64_t G = cell == SIMDRNN_CELL_RNN ? 1 : cell == SIMDRNN_CELL_LSTM ? 4 : 3;
  if (cell == SIMDRNN_CELL_LSTM)
    read_attributes(n, {"activation_alpha", "activation_beta", "activations", "clip", "direction",
                        "hidden_size", "layout", "input_forget"});
  else if (cell == SIMDRNN_CELL_GRU)
    read_attributes(n, {"activation_alpha", "activation_beta", "activations", "clip", "direction",
                        "hidden_size", "layout", "linear_before_reset"});
  else
    read_attributes(n, {"activation_alpha", "activation_beta", "activations", "clip", "direction",
                        "hidden_size", "layout"});
  for (const char* name : {"activation_alpha", "activation_beta"})
    if (attrs_.count(name))
      unsupported(desc_, ": attribute ", name,
                  " is not supported (simdrnn's activations take no parameters)");

  const std::string direction = attr_string("direction").value_or("forward");
  int64_t D = 1;
  bool reversed = false;
  if (direction == "bidirectional")
    D = 2;
  else if (direction == "reverse")
    reversed = true;
  else if (direction != "forward")
    invalid(desc_, ": attribute direction is ", quoted(direction),
            "; expected forward, reverse or bidirectional");
  const int64_t layout = attr_int("layout", 0);
  if (layout != 0 && layout != 1) invalid(desc_, ": attribute layout is ", layout, "; expected 0 or 1");
  if (attr_int("input_forget", 0) != 0)
    unsupported(desc_, ": attribute input_forget = ", attr_int("input_forget", 0),
                " (coupled input and forget gates) is not supported");
  const int64_t lbr = attr_int("linear_before_reset", 0);
  if (lbr != 0 && lbr != 1) invalid(desc_, ": attribute linear_before_reset is ", lbr, "; expected 0 or 1");
  float clip = 0.0f;
  if (auto c = attr_float("clip")) {
    if (!(*c > 0.0f)) invalid(desc_, ": attribute clip is ", *c, "; expected > 0");
    clip = std::isinf(*c) ? 0.0f : *c;  // an infinite threshold clips nothing
  }

  // Activations: only the ones simdrnn computes.
  simdrnn_activation act = SIMDRNN_TANH;
  if (const auto* a = attr("activations", onnx::AttributeProto::STRINGS, "STRINGS")) {
    const int64_t per_dir = cell == SIMDRNN_CELL_RNN ? 1 : cell == SIMDRNN_CELL_LSTM ? 3 : 2;
    if (a->strings_size() != per_dir * D)
      invalid(desc_, ": attribute activations has ", a->strings_size(), " entries; expected ", per_dir * D);
    for (int i = 0; i < a->strings_size(); ++i) {
      const std::string name = lower(a->strings(i));
      if (cell == SIMDRNN_CELL_RNN) {
        simdrnn_activation this_act;
        if (name == "tanh")
          this_act = SIMDRNN_TANH;
        else if (name == "relu")
          this_act = SIMDRNN_RELU;
        else if (name == "sigmoid")
          this_act = SIMDRNN_SIGMOID;
        else
          unsupported(desc_, ": attribute activations: ", quoted(a->strings(i)),
                      " is not supported (simdrnn's RNN computes Tanh, Relu or Sigmoid)");
        if (i > 0 && this_act != act)
          unsupported(desc_,
                      ": attribute activations differ between directions; simdrnn uses one activation");
        act = this_act;
      } else {
        static const char* const kLstm[] = {"sigmoid", "tanh", "tanh"};
        static const char* const kGru[] = {"sigmoid", "tanh"};
        const char* want = cell == SIMDRNN_CELL_LSTM ? kLstm[i % 3] : kGru[i % 2];
        if (name != want)
          unsupported(desc_, ": attribute activations: entry ", i, " is ", quoted(a->strings(i)),
                      " where simdrnn's ", op, " computes ",
                      cell == SIMDRNN_CELL_LSTM ? "Sigmoid, Tanh, Tanh" : "Sigmoid, Tanh",
                      " (the defaults); other activations are not supported");
      }
    }
  }

  const int max_inputs = cell == SIMDRNN_CELL_LSTM ? 8 : 6;
  const int max_outputs = cell == SIMDRNN_CELL_LSTM ? 3 : 2;
  if (n.input_size() > max_inputs)
    invalid(desc_, ": ", n.input_size(), " inputs; ", op, " takes at most ", max_inputs);
  if (n.output_size() > max_outputs)
    invalid(desc_, ": ", n.output_size(), " outputs; ", op, " has at most ", max_outputs);

  auto weight = [&](int slot, const char* name, size_t rank) -> std::shared_ptr<const Tensor> {
    if (!has_input(n, slot)) return nullptr;
    const Value& v = input(n, slot, name);
    if (v.kind != Value::kConst)
      unsupported(desc_, ": ", name, " is ", describe(v),
                  "; simdrnn needs the weights when it loads the model (an initializer or a Constant)");
    if (!v.tensor->is_float())
      unsupported(desc_, ": ", name, " has element type ", dtype_name(v.tensor->dtype), "; expected FLOAT");
    if (v.tensor->dims.size() != rank)
      invalid(desc_, ": ", name, " has rank ", v.tensor->dims.size(), "; expected ", rank);
    return v.tensor;
  };
  auto W = weight(1, "W", 3), R = weight(2, "R", 3), B = weight(3, "B", 2);
  auto P = cell == SIMDRNN_CELL_LSTM ? weight(7, "P", 2) : nullptr;
  if (!W) invalid(desc_, ": input W is missing");
  if (!R) invalid(desc_, ": input R is missing");
  const int64_t GH = W->dims[1];
  if (GH % G != 0) invalid(desc_, ": W's dimension 1 is ", GH, ", not a multiple of ", G, " gates");
  int64_t H = GH / G;
  if (attrs_.count("hidden_size")) {
    const int64_t hs = attr_int("hidden_size", 0);
    if (hs != H) invalid(desc_, ": attribute hidden_size is ", hs, " but W holds ", G, " x ", H, " rows");
  }
  const int64_t in = W->dims[2];
  if (H < 1 || in < 1)
    invalid(desc_, ": W has shape ", dims_name(const_dims(*W)), "; hidden and input sizes must be >= 1");
  if (W->dims[0] != D)
    invalid(desc_, ": W has ", W->dims[0], " directions; direction ", direction, " needs ", D);
  auto expect = [&](const std::shared_ptr<const Tensor>& t, const char* name, std::vector<int64_t> dims) {
    if (t && t->dims != dims) {
      std::vector<Dim> want;
      for (int64_t d : dims) want.push_back(Dim::of(d));
      invalid(desc_, ": ", name, " has shape ", dims_name(const_dims(*t)), "; expected ", dims_name(want));
    }
  };
  expect(R, "R", {D, G * H, H});
  expect(B, "B", {D, 2 * G * H});
  expect(P, "P", {D, 3 * H});

  const int64_t k = static_cast<int64_t>(layers_.size());
  if (k == 0) {
    first_desc_ = desc_;
    first_op_ = op;
    cell_ = cell;
    D_ = D;
    H_ = H;
    I_ = in;
    reversed_ = reversed;
    clip_ = clip;
    act_ = act;
    lbr_ = lbr;
  } else {
    const char* shared = ": simdrnn's layers share one ";
    if (op != first_op_)
      unsupported(desc_, ": a ", op, " after the ", first_op_, " ", first_desc_, shared, "cell type");
    if (D != D_ || reversed != reversed_)
      unsupported(desc_, ": direction ", direction, " differs from ", first_desc_, "'s", shared, "direction");
    if (H != H_)
      unsupported(desc_, ": hidden size ", H, " differs from ", H_, " of ", first_desc_, shared,
                  "hidden size");
    if (clip != clip_)
      unsupported(desc_, ": clip ", clip, " differs from ", clip_, " of ", first_desc_, shared, "clip");
    if (act != act_)
      unsupported(desc_, ": its activation differs from ", first_desc_, "'s", shared, "activation");
    if (lbr != lbr_)
      unsupported(desc_, ": linear_before_reset ", lbr, " differs from ", first_desc_, "'s", shared,
                  "GRU variant");
    if (in != D_ * H_) invalid(desc_, ": W reads ", in, " inputs; the previous layer gives ", D_ * H_);
  }

  Layer layer;
  layer.desc = desc_;
  layer.W = W;
  layer.R = R;
  layer.B = B;
  layer.P = P;
  check_x(input(n, 0, "X"), k, layout);
  layer.lens_input = lens(n);
  layer.h0 = state(n, 5, false, k, layout);
  if (cell == SIMDRNN_CELL_LSTM) layer.c0 = state(n, 6, true, k, layout);
  layers_.push_back(layer);

  // Outputs: Y [T, D, N, H] (layout 0) or [N, T, D, H]; Y_h, Y_c [D, N, H] or [N, D, H].
  auto axis = [](Axis::Kind kind, int64_t index) {
    Axis a;
    a.kind = kind;
    a.index = index;
    return a;
  };
  Value y;
  y.kind = Value::kView;
  y.source = Value::kY;
  y.layer = k;
  const Axis t = axis(Axis::kTime, 0), b = axis(Axis::kBatch, 0), d = axis(Axis::kDir, k),
             h = axis(Axis::kHid, k);
  y.groups = layout == 0 ? std::vector<Group>{{t}, {d}, {b}, {h}} : std::vector<Group>{{b}, {t}, {d}, {h}};
  if (n.output_size() > 0) define(n.output(0), y);
  for (int slot = 1; slot < n.output_size(); ++slot) {
    Value s;
    s.kind = Value::kView;
    s.source = Value::kState;
    Axis rows = axis(Axis::kRows, 0);
    rows.begin = k * D;
    rows.end = (k + 1) * D;
    rows.cell = slot == 2;
    const Axis hs = axis(Axis::kHid, -1);
    s.groups = layout == 0 ? std::vector<Group>{{rows}, {b}, {hs}} : std::vector<Group>{{b}, {rows}, {hs}};
    define(n.output(slot), s);
  }
}

void Importer::check_x(const Value& v, int64_t layer, int64_t layout) {
  const size_t ts = layout == 0 ? 0 : 1, bs = layout == 0 ? 1 : 0;
  if (layer == 0) {
    if (v.kind != Value::kView || v.source != Value::kInput)
      unsupported(desc_, ": X of the first recurrent node should be a graph input (maybe transposed), it is ",
                  describe(v));
    Input& x = inputs_[static_cast<size_t>(v.input)];
    bool plain = v.groups.size() == 3;
    for (const Group& g : v.groups) plain = plain && g.size() == 1 && g[0].end < 0;
    if (!plain || x.dims.size() != 3 || v.groups[2][0].index != 2)
      unsupported(desc_, ": X is ", describe(v),
                  "; simdrnn reads a graph input [T, N, I] or [N, T, I] as it is, or "
                  "transposed to the node's layout");
    if (x.bound) invalid(desc_, ": graph input ", quoted(x.name), " is used as X and as another input");
    if (x.elem != kFloat && x.elem != 0)
      unsupported(desc_, ": X ", quoted(x.name), " has element type ", dtype_name(x.elem),
                  "; expected FLOAT");
    const int64_t tpos = v.groups[ts][0].index, bpos = v.groups[bs][0].index;
    if (x.dims[2] >= 0 && x.dims[2] != I_)
      invalid(desc_, ": X ", quoted(x.name), " has ", x.dims[2], " features but W reads ", I_);
    x.bound = true;
    x.role = SIMDRNN_ONNX_X;
    x.axis_of[0] = tpos;
    x.axis_of[1] = bpos;
    x.axis_of[2] = 2;
    bound_[{v.input, tpos}] = Axis::kTime;
    bound_[{v.input, bpos}] = Axis::kBatch;
    x_input_ = v.input;
    time_major_ = tpos == 0;
    if (x.dims[static_cast<size_t>(tpos)] == 0) invalid(desc_, ": X ", quoted(x.name), " declares 0 steps");
    if (x.dims[static_cast<size_t>(tpos)] > 0) fixed_seq_len_ = x.dims[static_cast<size_t>(tpos)];
    note_batch(x.dims[static_cast<size_t>(bpos)], cat("graph input ", quoted(x.name)));
    return;
  }
  if (v.kind != Value::kView || v.source != Value::kY || v.layer != layer - 1)
    unsupported(desc_, ": X should be the Y of the previous recurrent node (", layers_.back().desc,
                "), it is ", describe(v));
  auto single = [&](const Group& g, Axis::Kind kind) { return g.size() == 1 && canon(g[0]).kind == kind; };
  if (v.groups.size() != 3 || !single(v.groups[ts], Axis::kTime) || !single(v.groups[bs], Axis::kBatch) ||
      !is_features(v.groups[2], layer - 1))
    unsupported(desc_, ": X is ", describe(v), "; this node (layout ", layout, ") reads ",
                layout == 0 ? "[T, N, D*H]" : "[N, T, D*H]", " (direction-major features)");
}

int64_t Importer::lens(const onnx::NodeProto& n) {
  if (!has_input(n, 4)) return -1;
  const Value& v = input(n, 4, "sequence_lens");
  if (v.kind != Value::kView || v.source != Value::kInput || v.groups.size() != 1 ||
      v.groups[0].size() != 1 || v.groups[0][0].end >= 0 ||
      inputs_[static_cast<size_t>(v.input)].dims.size() != 1)
    unsupported(desc_, ": sequence_lens is ", describe(v), "; simdrnn takes it only as a graph input [N]");
  Input& in = inputs_[static_cast<size_t>(v.input)];
  if (in.elem != kInt32 && in.elem != kInt64)
    unsupported(desc_, ": sequence_lens ", quoted(in.name), " has element type ", dtype_name(in.elem),
                "; expected INT32 (or INT64)");
  if (in.bound && in.role != SIMDRNN_ONNX_SEQUENCE_LENS)
    invalid(desc_, ": graph input ", quoted(in.name), " is used as sequence_lens and as another input");
  in.bound = true;
  in.role = SIMDRNN_ONNX_SEQUENCE_LENS;
  bound_[{v.input, 0}] = Axis::kBatch;
  note_batch(in.dims[0], cat("graph input ", quoted(in.name)));
  return v.input;
}

StateSource Importer::state(const onnx::NodeProto& n, int slot, bool cell, int64_t layer, int64_t layout) {
  const char* name = cell ? "initial_c" : "initial_h";
  if (!has_input(n, slot)) return {};
  const Value& v = input(n, slot, name);
  const std::string want = layout == 0 ? "[D, N, H]" : "[N, D, H]";
  const size_t rs = layout == 0 ? 0 : 1, bs = layout == 0 ? 1 : 0;
  Axis batch;
  batch.kind = Axis::kBatch;
  std::vector<Dim> expected(3);
  expected[rs] = Dim::of(D_);
  expected[bs] = Dim::axis(batch);
  expected[2] = Dim::of(H_);
  auto check_shape = [&](const std::vector<Dim>& dims) {
    bool ok = dims.size() == 3;
    for (size_t i = 0; ok && i < 3; ++i) ok = dim_equal(dims[i], expected[i]);
    if (!ok)
      unsupported(desc_, ": ", name, " is ", describe(v), "; the node needs ", want, " = ",
                  dims_name(expected),
                  fixed_batch_ > 0 ? "" : " (a fixed batch size cannot meet a dynamic one)");
  };
  if (v.kind == Value::kZeros) {
    check_shape(v.dims);
    return {};
  }
  if (v.kind == Value::kConst && v.tensor->is_float()) {
    check_shape(const_dims(*v.tensor));
    for (float x : v.tensor->f)
      if (x != 0.0f)
        unsupported(desc_, ": ", name,
                    " is a constant with nonzero values; simdrnn takes initial states as a graph "
                    "input or zeros");
    return {};
  }
  if (v.kind != Value::kView || v.source != Value::kInput)
    unsupported(desc_, ": ", name, " is ", describe(v),
                "; simdrnn takes initial states as a graph input (or a Slice of "
                "one) or zeros");
  Input& in = inputs_[static_cast<size_t>(v.input)];
  bool plain = v.groups.size() == 3 && in.dims.size() == 3;
  for (const Group& g : v.groups) plain = plain && g.size() == 1;
  if (!plain) unsupported(desc_, ": ", name, " is ", describe(v), "; the node needs ", want);
  const Axis& rows = v.groups[rs][0];
  const Axis& b = v.groups[bs][0];
  const Axis& h = v.groups[2][0];
  if (b.end >= 0 || h.end >= 0)
    unsupported(desc_, ": ", name, " is a slice of ", quoted(in.name),
                " along its batch or hidden dimension");
  if (in.elem != kFloat && in.elem != 0)
    unsupported(desc_, ": ", name, " ", quoted(in.name), " has element type ", dtype_name(in.elem),
                "; expected FLOAT");
  const int64_t declared_rows = in.dims[static_cast<size_t>(rows.index)];
  int64_t begin = 0, total = declared_rows;
  if (rows.end >= 0) {
    begin = rows.begin;
    if (rows.end - rows.begin != D_)
      invalid(desc_, ": ", name, " takes rows ", rows.begin, ":", rows.end, " of ", quoted(in.name),
              "; the node needs ", D_);
  } else {
    if (declared_rows >= 0 && declared_rows != D_)
      invalid(desc_, ": ", name, " ", quoted(in.name), " has ", declared_rows, " rows; the node needs ", D_);
    total = D_;
  }
  const int64_t declared_hidden = in.dims[static_cast<size_t>(h.index)];
  if (declared_hidden >= 0 && declared_hidden != H_)
    invalid(desc_, ": ", name, " ", quoted(in.name), " has hidden size ", declared_hidden,
            "; the node needs ", H_);
  const simdrnn_onnx_role role = cell ? SIMDRNN_ONNX_INITIAL_C : SIMDRNN_ONNX_INITIAL_H;
  if (in.bound) {
    if (in.role != role)
      invalid(desc_, ": graph input ", quoted(in.name), " is used as ", name, " and as another input");
    if (in.axis_of[0] != rows.index || in.axis_of[1] != b.index)
      unsupported(desc_, ": ", name, " reads ", quoted(in.name),
                  " in another dimension order than an earlier node");
  }
  in.bound = true;
  in.role = role;
  in.axis_of[0] = rows.index;
  in.axis_of[1] = b.index;
  in.axis_of[2] = h.index;
  in.rows = total;
  bound_[{v.input, b.index}] = Axis::kBatch;
  note_batch(in.dims[static_cast<size_t>(b.index)], cat("graph input ", quoted(in.name)));
  (void)layer;
  return {v.input, begin};
}

// ---- constants and shapes ----------------------------------------------------------
void Importer::constant(const onnx::NodeProto& n) {
  read_attributes(n, {"value", "value_float", "value_floats", "value_int", "value_ints", "sparse_value",
                      "value_string", "value_strings"});
  if (attrs_.size() != 1) invalid(desc_, ": expected exactly one value attribute, got ", attrs_.size());
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  const auto& [name, a] = *attrs_.begin();
  Value v;
  auto t = std::make_shared<Tensor>();
  if (name == "value") {
    if (a->type() != onnx::AttributeProto::TENSOR) invalid(desc_, ": attribute value is not a TENSOR");
    v.tensor = decode_tensor(a->t(), cat(desc_, ": value"));
  } else if (name == "value_float") {
    t->dtype = kFloat;
    t->f = {attr_float("value_float").value_or(0.0f)};
    v.tensor = t;
  } else if (name == "value_floats") {
    const auto* f = attr("value_floats", onnx::AttributeProto::FLOATS, "FLOATS");
    t->dtype = kFloat;
    t->f.assign(f->floats().begin(), f->floats().end());
    t->dims = {static_cast<int64_t>(t->f.size())};
    v.tensor = t;
  } else if (name == "value_int") {
    t->dtype = kInt64;
    t->i = {attr_int("value_int", 0)};
    v.tensor = t;
  } else if (name == "value_ints") {
    t->dtype = kInt64;
    t->i = *attr_ints("value_ints");
    t->dims = {static_cast<int64_t>(t->i.size())};
    v.tensor = t;
  } else {
    unsupported(desc_, ": attribute ", name, " (only dense numeric constants are supported)");
  }
  define(n.output(0), std::move(v));
}

void Importer::shape(const onnx::NodeProto& n) {
  read_attributes(n, {"start", "end"});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  const Value& v = input(n, 0, "data");
  std::vector<Dim> dims;
  if (v.kind == Value::kZeros) {
    dims = v.dims;
  } else if (v.kind == Value::kConst) {
    dims = const_dims(*v.tensor);
  } else if (v.kind == Value::kView) {
    for (const Group& g : v.groups) {
      if (g.size() == 1 && !extent(g[0])) {
        dims.push_back(Dim::axis(canon(g[0])));
      } else if (auto e = extent(g)) {
        dims.push_back(Dim::of(*e));
      } else {
        unsupported(desc_, ": the shape of ", describe(v), " has a product of dynamic sizes");
      }
    }
  } else {
    unsupported(desc_, ": data is ", describe(v));
  }
  const int64_t rank = static_cast<int64_t>(dims.size());
  auto clamp = [&](int64_t x) { return std::clamp(x < 0 ? x + rank : x, int64_t{0}, rank); };
  const int64_t start = clamp(attr_int("start", 0)), end = clamp(attr_int("end", rank));
  Value out;
  out.kind = Value::kShape;
  if (start < end) out.dims.assign(dims.begin() + start, dims.begin() + end);
  define(n.output(0), std::move(out));
}

void Importer::gather(const onnx::NodeProto& n) {
  read_attributes(n, {"axis"});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  bool data_scalar = false, index_scalar = false;
  const std::vector<Dim> data = as_shape(input(n, 0, "data"), "data", &data_scalar);
  if (data_scalar) invalid(desc_, ": data is a scalar");
  if (attr_int("axis", 0) != 0 && attr_int("axis", 0) != -1)
    invalid(desc_, ": axis ", attr_int("axis", 0), " of a 1-D shape vector");
  const Value& iv = input(n, 1, "indices");
  const std::vector<int64_t> idx = as_ints(iv, "indices");
  as_shape(iv, "indices", &index_scalar);
  Value out;
  out.kind = Value::kShape;
  out.scalar = index_scalar;
  const int64_t size = static_cast<int64_t>(data.size());
  for (int64_t i : idx) {
    if (i < -size || i >= size) invalid(desc_, ": index ", i, " is outside a shape vector of ", size);
    out.dims.push_back(data[static_cast<size_t>(i < 0 ? i + size : i)]);
  }
  define(n.output(0), std::move(out));
}

void Importer::unsqueeze(const onnx::NodeProto& n) {
  read_attributes(n, {"axes"});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  const Value& v = input(n, 0, "data");
  auto axes = axes_of(n, 1);
  if (!axes || axes->empty()) invalid(desc_, ": no axes");
  if (v.kind == Value::kView) {
    const int64_t rank = static_cast<int64_t>(v.groups.size() + axes->size());
    std::set<int64_t> at;
    for (int64_t a : *axes)
      if (!at.insert(normalize_axis(a, rank, "axis")).second) invalid(desc_, ": axis ", a, " repeats");
    Value out = v;
    out.groups.clear();
    size_t next = 0;
    for (int64_t i = 0; i < rank; ++i) out.groups.push_back(at.count(i) ? Group{} : v.groups[next++]);
    return define(n.output(0), std::move(out));
  }
  bool scalar = false;
  const std::vector<Dim> dims = as_shape(v, "data", &scalar);
  if (!scalar || axes->size() != 1 || ((*axes)[0] != 0 && (*axes)[0] != -1))
    unsupported(desc_, ": only a scalar shape element unsqueezed to [1] is supported here");
  Value out;
  out.kind = Value::kShape;
  out.dims = dims;
  define(n.output(0), std::move(out));
}

void Importer::squeeze(const onnx::NodeProto& n) {
  read_attributes(n, {"axes"});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  const Value& v = view(n, 0, "data");
  const int64_t rank = static_cast<int64_t>(v.groups.size());
  std::set<int64_t> drop;
  if (auto axes = axes_of(n, 1)) {
    for (int64_t a : *axes) {
      const int64_t i = normalize_axis(a, rank, "axis");
      auto e = extent(v.groups[static_cast<size_t>(i)]);
      if (!e || *e != 1)
        unsupported(desc_, ": axis ", a, " of ", describe(v), " is not of size 1",
                    e ? "" : " (it is dynamic)");
      drop.insert(i);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) {
      auto e = extent(v.groups[static_cast<size_t>(i)]);
      if (!e) unsupported(desc_, ": Squeeze without axes on ", describe(v), ", which has dynamic dimensions");
      if (*e == 1) drop.insert(i);
    }
  }
  Value out = v;
  out.groups.clear();
  for (int64_t i = 0; i < rank; ++i)
    if (!drop.count(i)) out.groups.push_back(v.groups[static_cast<size_t>(i)]);
  define(n.output(0), std::move(out));
}

void Importer::concat(const onnx::NodeProto& n) {
  read_attributes(n, {"axis"});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  if (n.input_size() < 1) invalid(desc_, ": no inputs");
  if (!attrs_.count("axis")) invalid(desc_, ": attribute axis is required");
  const int64_t axis_attr = attr_int("axis", 0);
  bool views = false;
  for (int i = 0; i < n.input_size(); ++i) views |= input(n, i, "input").kind == Value::kView;
  if (!views) {
    Value out;
    out.kind = Value::kShape;
    for (int i = 0; i < n.input_size(); ++i) {
      bool scalar = false;
      const std::vector<Dim> part = as_shape(input(n, i, "input"), "input", &scalar);
      if (scalar) invalid(desc_, ": input ", i, " is a scalar");
      normalize_axis(axis_attr, 1, "axis");
      out.dims.insert(out.dims.end(), part.begin(), part.end());
      if (out.dims.size() > kMaxShapeLength) unsupported(desc_, ": shape vector too long");
    }
    return define(n.output(0), std::move(out));
  }
  // Final states of consecutive layers, stacked along their rows.
  Value out;
  for (int i = 0; i < n.input_size(); ++i) {
    const Value& v = view(n, i, "input");
    if (v.source != Value::kState)
      unsupported(desc_, ": input ", i, " is ", describe(v),
                  "; only final states (Y_h, Y_c) can be concatenated");
    const int64_t axis = normalize_axis(axis_attr, static_cast<int64_t>(v.groups.size()), "axis");
    const Group& g = v.groups[static_cast<size_t>(axis)];
    if (g.size() != 1 || g[0].kind != Axis::kRows)
      unsupported(desc_, ": input ", i, " is ", describe(v),
                  "; the concatenation must run along the layers' rows");
    if (i == 0) {
      out = v;
      continue;
    }
    Axis& rows = out.groups[static_cast<size_t>(axis)][0];
    bool same = v.groups.size() == out.groups.size();
    for (size_t j = 0; same && j < v.groups.size(); ++j) {
      if (static_cast<int64_t>(j) == axis) continue;
      same = v.groups[j].size() == out.groups[j].size();
      for (size_t q = 0; same && q < v.groups[j].size(); ++q)
        same = same_axis(v.groups[j][q], out.groups[j][q]);
    }
    if (!same || g[0].cell != rows.cell || g[0].begin != rows.end)
      unsupported(desc_, ": input ", i, " is ", describe(v), ", which does not continue ", describe(out),
                  " (simdrnn's states are stacked by layer, in order)");
    rows.end = g[0].end;
  }
  define(n.output(0), std::move(out));
}

void Importer::constant_of_shape(const onnx::NodeProto& n) {
  read_attributes(n, {"value"});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  if (const auto* a = attr("value", onnx::AttributeProto::TENSOR, "a TENSOR")) {
    auto t = decode_tensor(a->t(), cat(desc_, ": value"));
    if (!t->is_float() || t->count() != 1 || t->f[0] != 0.0f)
      unsupported(desc_, ": only a FLOAT 0 fill (zero initial states) is supported");
  }
  bool scalar = false;
  Value out;
  out.kind = Value::kZeros;
  out.dims = as_shape(input(n, 0, "input"), "input", &scalar);
  if (scalar) invalid(desc_, ": input is a scalar");
  for (const Dim& d : out.dims)
    if (!d.symbolic && d.value < 0) invalid(desc_, ": negative dimension in ", dims_name(out.dims));
  define(n.output(0), std::move(out));
}

void Importer::expand(const onnx::NodeProto& n) {
  read_attributes(n, {});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  const Value& v = input(n, 0, "input");
  std::vector<Dim> in;
  if (v.kind == Value::kZeros) {
    in = v.dims;
  } else if (v.kind == Value::kConst && v.tensor->is_float() &&
             std::all_of(v.tensor->f.begin(), v.tensor->f.end(), [](float x) { return x == 0.0f; })) {
    in = const_dims(*v.tensor);
  } else {
    unsupported(desc_, ": input is ", describe(v), "; only zeros can be expanded (zero initial states)");
  }
  bool scalar = false;
  const std::vector<Dim> shape = as_shape(input(n, 1, "shape"), "shape", &scalar);
  if (scalar) invalid(desc_, ": shape is a scalar");
  for (const Dim& d : shape)
    if (!d.symbolic && d.value < 0) invalid(desc_, ": negative dimension in ", dims_name(shape));
  const size_t rank = std::max(in.size(), shape.size());
  Value out;
  out.kind = Value::kZeros;
  out.dims.resize(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Right-aligned broadcasting.
    const bool has_a = i + in.size() >= rank, has_b = i + shape.size() >= rank;
    const Dim a = has_a ? in[i + in.size() - rank] : Dim::of(1);
    const Dim b = has_b ? shape[i + shape.size() - rank] : Dim::of(1);
    auto ka = known(a), kb = known(b);
    if (ka && *ka == 1)
      out.dims[i] = b;
    else if (kb && *kb == 1)
      out.dims[i] = a;
    else if (dim_equal(a, b))
      out.dims[i] = a.symbolic ? a : b;
    else
      unsupported(desc_, ": cannot broadcast ", dims_name(in), " to ", dims_name(shape),
                  " (a fixed size against a dynamic one?)");
  }
  define(n.output(0), std::move(out));
}

void Importer::slice(const onnx::NodeProto& n) {
  read_attributes(n, {"starts", "ends", "axes"});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  const Value& v = input(n, 0, "data");
  std::vector<int64_t> starts, ends, axes, steps;
  if (attrs_.count("starts")) {  // opset < 10
    starts = attr_ints("starts").value_or(std::vector<int64_t>{});
    ends = attr_ints("ends").value_or(std::vector<int64_t>{});
    axes = attr_ints("axes").value_or(std::vector<int64_t>{});
  } else {
    starts = as_ints(input(n, 1, "starts"), "starts");
    ends = as_ints(input(n, 2, "ends"), "ends");
    if (has_input(n, 3)) axes = as_ints(input(n, 3, "axes"), "axes");
    if (has_input(n, 4)) steps = as_ints(input(n, 4, "steps"), "steps");
  }
  if (starts.size() != ends.size() || (!axes.empty() && axes.size() != starts.size()) ||
      (!steps.empty() && steps.size() != starts.size()))
    invalid(desc_, ": starts, ends, axes and steps differ in length");
  for (int64_t s : steps)
    if (s != 1) unsupported(desc_, ": step ", s, " (only 1 is supported)");
  Value out = v;
  int64_t rank = 0;
  if (v.kind == Value::kView)
    rank = static_cast<int64_t>(v.groups.size());
  else if (v.kind == Value::kZeros)
    rank = static_cast<int64_t>(v.dims.size());
  else {
    bool scalar = false;
    out.dims = as_shape(v, "data", &scalar);
    out.kind = Value::kShape;
    out.scalar = false;
    if (scalar) invalid(desc_, ": data is a scalar");
    rank = 1;
  }
  std::set<int64_t> seen;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = normalize_axis(axes.empty() ? static_cast<int64_t>(i) : axes[i], rank, "axis");
    if (!seen.insert(axis).second) invalid(desc_, ": axis ", axis, " repeats");
    std::optional<int64_t> size;
    Axis* target = nullptr;
    if (out.kind == Value::kView) {
      Group& g = out.groups[static_cast<size_t>(axis)];
      if (g.size() != 1 || (canon(g[0]).kind != Axis::kIn && g[0].kind != Axis::kRows))
        unsupported(desc_, ": slicing ", describe(v), " along dimension ", axis,
                    " (only initial or final states are sliced, along their rows)");
      target = &g[0];
      size = extent(*target);
      if (!size) unsupported(desc_, ": slicing dimension ", axis, " of ", describe(v), ", which is dynamic");
    } else if (out.kind == Value::kZeros) {
      size = known(out.dims[static_cast<size_t>(axis)]);
      if (!size) unsupported(desc_, ": slicing a dynamic dimension of ", describe(v));
    } else {
      size = static_cast<int64_t>(out.dims.size());
    }
    auto clamp = [&](int64_t x) {
      return std::clamp(x < 0 ? (x < -*size ? 0 : x + *size) : x, int64_t{0}, *size);
    };
    const int64_t s = clamp(starts[i]), e = clamp(ends[i]);
    if (e <= s) unsupported(desc_, ": an empty slice ", starts[i], ":", ends[i]);
    if (target) {
      const int64_t base = target->kind == Axis::kRows || target->end >= 0 ? target->begin : 0;
      target->begin = base + s;
      target->end = base + e;
    } else if (out.kind == Value::kZeros) {
      out.dims[static_cast<size_t>(axis)] = Dim::of(e - s);
    } else {
      out.dims = std::vector<Dim>(out.dims.begin() + s, out.dims.begin() + e);
    }
  }
  define(n.output(0), std::move(out));
}

void Importer::transpose(const onnx::NodeProto& n) {
  read_attributes(n, {"perm"});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  const Value& v = input(n, 0, "data");
  if (v.kind != Value::kView && v.kind != Value::kZeros)
    unsupported(desc_, ": data is ", describe(v), ", which this operator cannot take here");
  const size_t rank = v.kind == Value::kView ? v.groups.size() : v.dims.size();
  std::vector<int64_t> perm = attr_ints("perm").value_or(std::vector<int64_t>{});
  if (perm.empty())
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i)
    if (sorted.size() != rank || sorted[i] != static_cast<int64_t>(i))
      invalid(desc_, ": perm is not a permutation of ", rank, " axes");
  Value out = v;
  for (size_t i = 0; i < rank; ++i) {
    const size_t from = static_cast<size_t>(perm[i]);
    if (v.kind == Value::kView)
      out.groups[i] = v.groups[from];
    else
      out.dims[i] = v.dims[from];
  }
  define(n.output(0), std::move(out));
}

// Reshape regroups the row-major sequence of axes: each entry of the target
// shape takes whole axes, from the left before a -1 and from the right after
// it; the -1 takes what is left.
void Importer::reshape(const onnx::NodeProto& n) {
  read_attributes(n, {"allowzero"});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  const Value& v = view(n, 0, "data");
  bool scalar = false;
  const std::vector<Dim> spec = as_shape(input(n, 1, "shape"), "shape", &scalar);
  if (scalar) invalid(desc_, ": shape is a scalar");
  const bool allowzero = attr_int("allowzero", 0) != 0;
  std::vector<Axis> flat;
  std::vector<size_t> start;  // where each input group starts in flat
  for (const Group& g : v.groups) {
    start.push_back(flat.size());
    flat.insert(flat.end(), g.begin(), g.end());
  }
  start.push_back(flat.size());
  auto fail = [&]() {
    unsupported(desc_, ": reshaping ", describe(v), " to ", dims_name(spec),
                " does not regroup whole dimensions in a way simdrnn follows");
  };
  int64_t minus = -1;
  for (size_t j = 0; j < spec.size(); ++j) {
    if (spec[j].symbolic) continue;
    if (spec[j].value == -1) {
      if (minus >= 0) invalid(desc_, ": shape has more than one -1");
      minus = static_cast<int64_t>(j);
    } else if (spec[j].value < -1) {
      invalid(desc_, ": shape entry ", spec[j].value);
    } else if (spec[j].value == 0 && allowzero) {
      unsupported(desc_, ": a zero-size dimension");
    }
  }
  std::vector<Group> out(spec.size());
  size_t lo = 0, hi = flat.size();  // axes not yet taken: [lo, hi)
  // Takes the axes of entry j from the left (or the right) end of [lo, hi).
  auto take = [&](size_t j, bool left) {
    const Dim& d = spec[j];
    Group& g = out[j];
    if (!d.symbolic && d.value == 0) {
      if (j + 1 >= start.size()) invalid(desc_, ": shape entry ", j, " copies a dimension the input lacks");
      if (left ? lo != start[j] : hi != start[j + 1]) fail();
      g.assign(flat.begin() + static_cast<int64_t>(start[j]),
               flat.begin() + static_cast<int64_t>(start[j + 1]));
      (left ? lo : hi) = left ? start[j + 1] : start[j];
      return;
    }
    if (d.symbolic) {  // exactly one axis of that size
      if (lo >= hi || !same_axis(flat[left ? lo : hi - 1], d.sym)) {
        auto k = known(d);
        if (lo >= hi || !k || extent(flat[left ? lo : hi - 1]) != k) fail();
      }
      g.push_back(flat[left ? lo++ : --hi]);
      return;
    }
    int64_t product = 1;
    while (product < d.value) {
      if (lo >= hi) fail();
      auto e = extent(flat[left ? lo : hi - 1]);
      if (!e) fail();
      product = checked_mul(product, *e, desc_);
      if (left)
        g.push_back(flat[lo++]);
      else
        g.insert(g.begin(), flat[--hi]);
    }
    if (product != d.value) fail();
  };
  const size_t left_end = minus >= 0 ? static_cast<size_t>(minus) : spec.size();
  for (size_t j = 0; j < left_end; ++j) take(j, true);
  if (minus >= 0) {
    for (size_t j = spec.size(); j-- > static_cast<size_t>(minus) + 1;) take(j, false);
    out[static_cast<size_t>(minus)].assign(flat.begin() + static_cast<int64_t>(lo),
                                           flat.begin() + static_cast<int64_t>(hi));
    lo = hi;
  }
  // Axes of size 1 left over belong anywhere; anything else means the sizes disagree.
  for (; lo < hi; ++lo) {
    auto e = extent(flat[lo]);
    if (!e || *e != 1 || out.empty()) fail();
    out.back().push_back(flat[lo]);
  }
  Value r = v;
  r.groups = out;
  define(n.output(0), std::move(r));
}

// ---- the output projection ------------------------------------------------------------
Value Importer::projection(const Value& a, std::vector<float> weight_oi, int64_t O) {
  if (a.kind != Value::kView || a.source != Value::kY || a.groups.empty() ||
      !is_features(a.groups.back(), a.layer))
    unsupported(desc_, ": A is ", describe(a), "; a projection reads Y with its features (D*H) last");
  for (size_t i = 0; i + 1 < a.groups.size(); ++i)
    for (const Axis& x : a.groups[i])
      if (canon(x).kind != Axis::kTime && canon(x).kind != Axis::kBatch &&
          extent(x) != std::optional<int64_t>(1))
        unsupported(desc_, ": A is ", describe(a), "; only the features may be projected");
  if (has_proj_)
    unsupported(desc_, ": a second projection (after ", proj_desc_, "); simdrnn has one output layer");
  if (O < 1) invalid(desc_, ": the projection has ", O, " outputs");
  has_proj_ = true;
  proj_desc_ = desc_;
  proj_layer_ = a.layer;
  O_ = O;
  proj_w_ = std::move(weight_oi);
  Value out = a;
  out.source = Value::kProj;
  Axis o;
  o.kind = Axis::kOut;
  out.groups.back() = {o};
  return out;
}

void Importer::matmul(const onnx::NodeProto& n) {
  read_attributes(n, {});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  const Value& a = input(n, 0, "A");
  const Value& b = input(n, 1, "B");
  if (b.kind != Value::kConst || !b.tensor->is_float() || b.tensor->dims.size() != 2)
    unsupported(desc_, ": B is ", describe(b), "; a projection's weight is a FLOAT constant [D*H, O]");
  const int64_t F = b.tensor->dims[0], O = b.tensor->dims[1];
  if (F != D_ * H_) invalid(desc_, ": B has ", F, " rows; Y has ", D_ * H_, " features");
  std::vector<float> w(static_cast<size_t>(O * F));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t f = 0; f < F; ++f)
      w[static_cast<size_t>(o * F + f)] = b.tensor->f[static_cast<size_t>(f * O + o)];
  define(n.output(0), projection(a, std::move(w), O));
}

void Importer::add(const onnx::NodeProto& n) {
  read_attributes(n, {});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  const Value& x = input(n, 0, "A");
  const Value& y = input(n, 1, "B");
  const bool x_proj = x.kind == Value::kView && x.source == Value::kProj;
  const Value& p = x_proj ? x : y;
  const Value& c = x_proj ? y : x;
  if (p.kind != Value::kView || p.source != Value::kProj || p.proj_bias)
    unsupported(
        desc_, ": Add is supported only as the bias of the output projection (MatMul + Add); its inputs are ",
        describe(x), " and ", describe(y));
  bool ok = c.kind == Value::kConst && c.tensor->is_float() && !c.tensor->dims.empty() &&
            c.tensor->dims.size() <= p.groups.size() && c.tensor->dims.back() == O_;
  for (size_t i = 0; ok && i + 1 < c.tensor->dims.size(); ++i) ok = c.tensor->dims[i] == 1;
  if (!ok) unsupported(desc_, ": the bias is ", describe(c), "; expected a FLOAT constant [", O_, "]");
  proj_b_ = c.tensor->f;
  Value out = p;
  out.proj_bias = true;
  define(n.output(0), std::move(out));
}

void Importer::gemm(const onnx::NodeProto& n) {
  read_attributes(n, {"alpha", "beta", "transA", "transB"});
  if (n.output_size() != 1) invalid(desc_, ": expected 1 output");
  if (attr_int("transA", 0) != 0) unsupported(desc_, ": transA = 1");
  const bool transB = attr_int("transB", 0) != 0;
  const float alpha = attr_float("alpha").value_or(1.0f), beta = attr_float("beta").value_or(1.0f);
  const Value& a = input(n, 0, "A");
  const Value& b = input(n, 1, "B");
  if (a.kind == Value::kView && a.groups.size() != 2)
    invalid(desc_, ": A has rank ", a.groups.size(), "; Gemm takes 2");
  if (b.kind != Value::kConst || !b.tensor->is_float() || b.tensor->dims.size() != 2)
    unsupported(desc_, ": B is ", describe(b), "; a projection's weight is a FLOAT constant");
  const int64_t F = transB ? b.tensor->dims[1] : b.tensor->dims[0];
  const int64_t O = transB ? b.tensor->dims[0] : b.tensor->dims[1];
  if (F != D_ * H_) invalid(desc_, ": B has ", F, " inputs; Y has ", D_ * H_, " features");
  std::vector<float> w(static_cast<size_t>(O * F));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t f = 0; f < F; ++f)
      w[static_cast<size_t>(o * F + f)] =
          alpha * b.tensor->f[static_cast<size_t>(transB ? o * F + f : f * O + o)];
  Value out = projection(a, std::move(w), O);
  if (has_input(n, 2)) {
    const Value& c = input(n, 2, "C");
    bool ok = c.kind == Value::kConst && c.tensor->is_float() && !c.tensor->dims.empty() &&
              c.tensor->dims.size() <= 2 && c.tensor->dims.back() == O;
    if (ok && c.tensor->dims.size() == 2) ok = c.tensor->dims[0] == 1;
    if (!ok)
      unsupported(desc_, ": C is ", describe(c), "; expected a FLOAT constant [", O, "] or [1, ", O, "]");
    proj_b_ = c.tensor->f;
    for (float& x : proj_b_) x *= beta;
    out.proj_bias = true;
  }
  define(n.output(0), std::move(out));
}

// ---- the plan --------------------------------------------------------------------------
std::unique_ptr<Plan> Importer::plan() {
  desc_.clear();
  if (layers_.empty()) unsupported("the graph has no RNN, LSTM or GRU node");
  const int64_t L = static_cast<int64_t>(layers_.size());
  for (const Layer& l : layers_)
    if (l.lens_input != layers_[0].lens_input)
      unsupported(l.desc, ": its sequence_lens differs from ", layers_[0].desc,
                  "'s; simdrnn applies one sequence_lens to every layer");
  auto plan = std::make_unique<Plan>();
  plan->time_major = time_major_;
  plan->reversed = reversed_;
  plan->x_input = x_input_;
  plan->lens_input = layers_[0].lens_input;
  for (const Layer& l : layers_) {
    plan->h0.push_back(l.h0);
    plan->c0.push_back(l.c0);
  }
  auto pa = [](PlanAxisKind kind, int64_t begin, int64_t extent) {
    PlanAxis a;
    a.kind = kind;
    a.begin = begin;
    a.extent = extent;
    return a;
  };
  for (size_t j = 0; j < inputs_.size(); ++j) {
    const Input& in = inputs_[j];
    if (!in.bound) unsupported("graph input ", quoted(in.name), " is not read by the recurrent chain");
    PlanTensor t;
    t.name = in.name;
    t.role = in.role;
    t.dtype = in.elem == kInt64   ? SIMDRNN_ONNX_INT64
              : in.elem == kInt32 ? SIMDRNN_ONNX_INT32
                                  : SIMDRNN_ONNX_FLOAT;
    t.dims.resize(in.dims.size());
    if (in.role == SIMDRNN_ONNX_X) {
      t.dims[static_cast<size_t>(in.axis_of[0])] = {pa(PlanAxisKind::kTime, 0, 0)};
      t.dims[static_cast<size_t>(in.axis_of[1])] = {pa(PlanAxisKind::kBatch, 0, 0)};
      t.dims[2] = {pa(PlanAxisKind::kFeature, 0, I_)};
    } else if (in.role == SIMDRNN_ONNX_SEQUENCE_LENS) {
      t.dims[0] = {pa(PlanAxisKind::kBatch, 0, 0)};
    } else {
      t.dims[static_cast<size_t>(in.axis_of[0])] = {pa(PlanAxisKind::kRows, 0, in.rows)};
      t.dims[static_cast<size_t>(in.axis_of[1])] = {pa(PlanAxisKind::kBatch, 0, 0)};
      t.dims[static_cast<size_t>(in.axis_of[2])] = {pa(PlanAxisKind::kHidden, 0, H_)};
      const auto& src = in.role == SIMDRNN_ONNX_INITIAL_C ? plan->c0 : plan->h0;
      t.first_layer = -1;
      for (int64_t k = 0; k < L; ++k)
        if (src[static_cast<size_t>(k)].input == static_cast<int64_t>(j)) {
          if (t.first_layer < 0) t.first_layer = k;
          ++t.num_layers;
        }
    }
    plan->inputs.push_back(std::move(t));
  }
  if (g_.output_size() == 0) invalid("the graph has no outputs");
  bool projected = false;
  for (const onnx::ValueInfoProto& vi : g_.output()) {
    const std::string what = cat("graph output ", quoted(vi.name()));
    auto it = values_.find(vi.name());
    if (it == values_.end()) invalid(what, " is not produced by any node");
    const Value& v = it->second;
    if (vi.type().has_tensor_type() && vi.type().tensor_type().elem_type() != kFloat &&
        vi.type().tensor_type().elem_type() != 0)
      invalid(what, " declares element type ", dtype_name(vi.type().tensor_type().elem_type()),
              "; it is FLOAT");
    if (v.kind != Value::kView || v.source == Value::kInput)
      unsupported(what, " is ", describe(v), ", not something the recurrent layers compute");
    if (v.groups.size() > 8) unsupported(what, ": rank ", v.groups.size(), " (more than 8)");
    PlanTensor t;
    t.name = vi.name();
    // Every axis of the source exactly once (size-1 axes may be gone).
    std::set<Axis::Kind> need;
    if (v.source == Value::kY) {
      if (v.layer != L - 1)
        unsupported(what, " is the Y of layer ", v.layer, " of ", L,
                    "; simdrnn returns only the last layer's Y");
      t.role = SIMDRNN_ONNX_Y;
      need = {Axis::kTime, Axis::kBatch, Axis::kHid};
      if (D_ > 1) need.insert(Axis::kDir);
    } else if (v.source == Value::kProj) {
      if (v.layer != L - 1)
        unsupported(proj_desc_, ": the projection reads the Y of layer ", v.layer, " of ", L,
                    "; simdrnn's output layer reads the last");
      t.role = SIMDRNN_ONNX_PROJECTION;
      need = {Axis::kTime, Axis::kBatch, Axis::kOut};
      projected = true;
    } else {
      need = {Axis::kRows, Axis::kBatch, Axis::kHid};
    }
    std::map<Axis::Kind, int> seen;
    for (const Group& g : v.groups) {
      std::vector<PlanAxis> group;
      for (const Axis& raw : g) {
        const Axis a = canon(raw);
        ++seen[a.kind];
        switch (a.kind) {
          case Axis::kTime:
            group.push_back(pa(PlanAxisKind::kTime, 0, 0));
            break;
          case Axis::kBatch:
            group.push_back(pa(PlanAxisKind::kBatch, 0, 0));
            break;
          case Axis::kDir:
            group.push_back(pa(PlanAxisKind::kDir, 0, D_));
            break;
          case Axis::kHid:
            group.push_back(pa(PlanAxisKind::kHidden, 0, H_));
            break;
          case Axis::kOut:
            group.push_back(pa(PlanAxisKind::kOut, 0, O_));
            break;
          case Axis::kRows:
            group.push_back(pa(PlanAxisKind::kRows, a.begin, a.end - a.begin));
            t.role = a.cell ? SIMDRNN_ONNX_Y_C : SIMDRNN_ONNX_Y_H;
            t.first_layer = a.begin / D_;
            t.num_layers = (a.end - 1) / D_ - t.first_layer + 1;
            break;
          case Axis::kIn:
            unsupported(what, " is ", describe(v), ", which mixes in a graph input");
        }
      }
      t.dims.push_back(std::move(group));
    }
    bool ok = true;
    for (Axis::Kind k : need) ok = ok && seen[k] == 1;
    size_t total = 0;
    for (const auto& [k, count] : seen) total += static_cast<size_t>(count);
    // A unit direction axis may remain in a single-direction Y.
    if (ok &&
        total != need.size() + (v.source == Value::kY && D_ == 1 ? static_cast<size_t>(seen[Axis::kDir]) : 0))
      ok = false;
    if (!ok) unsupported(what, " is ", describe(v), ", which is not a rearrangement simdrnn can write");
    plan->outputs.push_back(std::move(t));
  }
  if (fixed_batch_ > 0) plan->fixed_batch = fixed_batch_;
  plan->fixed_seq_len = fixed_seq_len_;

  simdrnn_config& c = plan->config;
  c = simdrnn_config_default();
  c.input_size = I_;
  c.hidden_size = H_;
  c.num_layers = L;
  c.bidirectional = D_ == 2;
  c.cell = cell_;
  c.clip = clip_;
  if (cell_ == SIMDRNN_CELL_RNN) c.activation = act_;
  if (cell_ == SIMDRNN_CELL_GRU) c.gru_linear_before_reset = static_cast<int32_t>(lbr_);
  c.output_size = projected ? O_ : 0;
  return plan;
}

void Importer::build(const Plan& plan, simdrnn_model** model) const {
  struct WeightsGuard {
    simdrnn_weights* w = nullptr;
    ~WeightsGuard() { simdrnn_weights_destroy(w); }
  } guard;
  auto check = [](simdrnn_status st) {
    if (st != SIMDRNN_OK) throw ImportError{st, cat("building the model: ", simdrnn_last_error())};
  };
  check(simdrnn_weights_create(&plan.config, &guard.w));
  for (size_t k = 0; k < layers_.size(); ++k) {
    const Layer& l = layers_[k];
    check(simdrnn_weights_set_onnx(guard.w, static_cast<int64_t>(k), l.W->f.data(), l.R->f.data(),
                                   l.B ? l.B->f.data() : nullptr, l.P ? l.P->f.data() : nullptr));
  }
  if (plan.config.output_size > 0) {
    check(simdrnn_weights_set(guard.w, "weight_hy", proj_w_.data(), static_cast<int64_t>(proj_w_.size())));
    if (!proj_b_.empty())
      check(simdrnn_weights_set(guard.w, "bias_hy", proj_b_.data(), static_cast<int64_t>(proj_b_.size())));
  }
  check(simdrnn_model_create(guard.w, model));
}

std::unique_ptr<Plan> Importer::run(simdrnn_model** model) {
  for (const onnx::OperatorSetIdProto& o : model_.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
  if (opset_ == 0) invalid("the model imports no version of the default ONNX operator set");
  if (opset_ < 7) unsupported("operator set version ", opset_, " (simdrnn reads 7 and later)");
  if (!model_.has_graph()) invalid("the model has no graph");
  graph_inputs();
  for (int i = 0; i < g_.node_size(); ++i) {
    const onnx::NodeProto& n = g_.node(i);
    desc_ = node_desc(n, i);
    node(n);
  }
  std::unique_ptr<Plan> p = plan();
  build(*p, model);
  return p;
}

}  // namespace

std::unique_ptr<Plan> import_model(const void* data, size_t size, simdrnn_model** model) {
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    unsupported("the model is ", size,
                " bytes; protobuf reads at most 2 GiB (larger models keep external data)");
  onnx::ModelProto proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size)))
    invalid("not an ONNX model: the protobuf does not parse as a ModelProto (truncated or corrupt file?)");
  Importer importer(proto);
  return importer.run(model);
}

}  // namespace simdrnn::onnx_import
