// Decodes ONNX TensorProtos (initializers, Constant node values) into dense
// vectors. The file is untrusted: every size is checked against the bytes
// that are actually there before anything is copied.
#include <cstring>
#include <limits>

#include "onnx/onnx_pb.h"
#include "src/onnx/onnx_internal.hpp"

namespace simdrnn::onnx_import {

int64_t checked_mul(int64_t a, int64_t b, const std::string& what) {
  // Sizes here are element counts; anything past 2^62 is a corrupt file.
  constexpr int64_t kLimit = int64_t{1} << 62;
  if (a < 0 || b < 0 || (a != 0 && b > kLimit / a)) invalid(what, ": size ", a, " x ", b, " overflows");
  return a * b;
}

const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case onnx::TensorProto::UNDEFINED:
      return "UNDEFINED";
    case onnx::TensorProto::FLOAT:
      return "FLOAT";
    case onnx::TensorProto::UINT8:
      return "UINT8";
    case onnx::TensorProto::INT8:
      return "INT8";
    case onnx::TensorProto::UINT16:
      return "UINT16";
    case onnx::TensorProto::INT16:
      return "INT16";
    case onnx::TensorProto::INT32:
      return "INT32";
    case onnx::TensorProto::INT64:
      return "INT64";
    case onnx::TensorProto::STRING:
      return "STRING";
    case onnx::TensorProto::BOOL:
      return "BOOL";
    case onnx::TensorProto::FLOAT16:
      return "FLOAT16";
    case onnx::TensorProto::DOUBLE:
      return "DOUBLE";
    case onnx::TensorProto::UINT32:
      return "UINT32";
    case onnx::TensorProto::UINT64:
      return "UINT64";
    case onnx::TensorProto::COMPLEX64:
      return "COMPLEX64";
    case onnx::TensorProto::COMPLEX128:
      return "COMPLEX128";
    case onnx::TensorProto::BFLOAT16:
      return "BFLOAT16";
    default:
      return "an unknown type";
  }
}

std::shared_ptr<const Tensor> decode_tensor(const onnx::TensorProto& t, const std::string& what) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    unsupported(what, ": its data is stored in an external file; simdrnn reads only data inside the model");
  if (t.has_segment()) unsupported(what, ": segmented tensors are not supported");
  auto out = std::make_shared<Tensor>();
  out->dtype = t.data_type();
  if (t.dims_size() > 32) invalid(what, ": ", t.dims_size(), " dimensions");
  int64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) invalid(what, ": negative dimension ", d);
    out->dims.push_back(d);
    count = checked_mul(count, d, what);
  }
  const std::string& raw = t.raw_data();
  auto need_raw = [&](size_t elem) {
    // Compare without multiplying: count can be large in a corrupt file.
    if (raw.size() % elem != 0 || static_cast<uint64_t>(raw.size() / elem) != static_cast<uint64_t>(count))
      invalid(what, ": raw_data holds ", raw.size(), " bytes, the dims ask for ", count, " elements of ",
              elem, " bytes");
  };
  auto need_field = [&](int64_t have, const char* field) {
    if (have != count) invalid(what, ": ", field, " holds ", have, " elements, the dims ask for ", count);
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (!raw.empty() || (count > 0 && t.float_data_size() == 0)) {
        need_raw(4);
        out->f.resize(static_cast<size_t>(count));
        if (count > 0) std::memcpy(out->f.data(), raw.data(), raw.size());  // x86: little-endian as stored
      } else {
        need_field(t.float_data_size(), "float_data");
        out->f.assign(t.float_data().begin(), t.float_data().end());
      }
      break;
    case onnx::TensorProto::INT64:
      if (!raw.empty() || (count > 0 && t.int64_data_size() == 0)) {
        need_raw(8);
        out->i.resize(static_cast<size_t>(count));
        if (count > 0) std::memcpy(out->i.data(), raw.data(), raw.size());
      } else {
        need_field(t.int64_data_size(), "int64_data");
        out->i.assign(t.int64_data().begin(), t.int64_data().end());
      }
      break;
    case onnx::TensorProto::INT32:
      if (!raw.empty() || (count > 0 && t.int32_data_size() == 0)) {
        need_raw(4);
        std::vector<int32_t> v(static_cast<size_t>(count));
        if (count > 0) std::memcpy(v.data(), raw.data(), raw.size());
        out->i.assign(v.begin(), v.end());
      } else {
        need_field(t.int32_data_size(), "int32_data");
        out->i.assign(t.int32_data().begin(), t.int32_data().end());
      }
      break;
    default:
      unsupported(what, ": element type ", dtype_name(t.data_type()),
                  "; simdrnn reads FLOAT (and INT32/INT64 shapes)");
  }
  return out;
}

}  // namespace simdrnn::onnx_import
