"""The C API of include/simdrnn/simdrnn.h for ctypes: enums, structs and prototypes, declared once.

Nothing outside this module declares a struct or a prototype. tests/python/test_abi.py
compiles a C program against the header and checks every struct's size, every field's
offset and every enum value below against it, so this module cannot drift silently.

Pointer fields and arguments are declared c_void_p whatever they point to (the C type is
in the comment): a c_void_p field takes a plain integer address, which is the cheapest
thing to hand over per call (a POINTER(c_float) field would need a ctypes object built
for every array of every call).
"""
import ctypes
import enum
import os
import struct
import types
from ctypes import POINTER, Structure, c_char_p, c_float, c_int, c_int32, c_int64, c_size_t, c_void_p
from pathlib import Path

# ---- enums (values as in simdrnn.h; C enums are int-sized on x86-64) ---------------------


class Status(enum.IntEnum):
    OK = 0
    INVALID_ARGUMENT = 1
    OUT_OF_MEMORY = 2
    UNSUPPORTED = 3
    INTERNAL_ERROR = 4


class Activation(enum.IntEnum):
    TANH = 0
    RELU = 1
    SIGMOID = 2


class Layout(enum.IntEnum):
    TIME_MAJOR = 0
    BATCH_MAJOR = 1


class Cell(enum.IntEnum):
    RNN = 0
    LSTM = 1
    GRU = 2


class Precision(enum.IntEnum):
    F32 = 0
    BF16 = 1
    INT8 = 2


class Isa(enum.IntEnum):
    SCALAR = 0
    AVX2 = 1
    AVX2_VNNI = 2
    AVX512 = 3
    AVX512_VNNI = 4
    AVX512_BF16 = 5


# The C name of each enum member, for the ABI test: (python enum, C prefix).
ENUM_C_PREFIXES = [
    (Status, "SIMDRNN_"),
    (Activation, "SIMDRNN_"),
    (Layout, "SIMDRNN_"),
    (Cell, "SIMDRNN_CELL_"),
    (Precision, "SIMDRNN_PRECISION_"),
    (Isa, "SIMDRNN_ISA_"),
]

c_enum = c_int

# ---- structs, field for field as in simdrnn.h --------------------------------------------


class simdrnn_config(Structure):
    _fields_ = [
        ("input_size", c_int64),
        ("hidden_size", c_int64),
        ("num_layers", c_int64),
        ("bidirectional", c_int32),
        ("activation", c_enum),  # simdrnn_activation
        ("clip", c_float),
        ("output_size", c_int64),
        ("cell", c_enum),  # simdrnn_cell
        ("proj_size", c_int64),
        ("gru_linear_before_reset", c_int32),
        ("weight_precision", c_enum),  # simdrnn_precision
    ]


class simdrnn_forward_args(Structure):
    _fields_ = [
        ("seq_len", c_int64),
        ("batch", c_int64),
        ("layout", c_enum),  # simdrnn_layout
        ("x", c_void_p),  # const float*
        ("h0", c_void_p),  # const float*
        ("seq_lens", c_void_p),  # const int64_t*
        ("y", c_void_p),  # float*
        ("h_n", c_void_p),  # float*
        ("out", c_void_p),  # float*
        ("workspace", c_void_p),  # void*
        ("workspace_size", c_size_t),
        ("num_threads", c_int32),
        ("c0", c_void_p),  # const float*
        ("c_n", c_void_p),  # float*
    ]


class simdrnn_sizes(Structure):
    _fields_ = [
        ("x", c_int64),
        ("y", c_int64),
        ("h", c_int64),
        ("c", c_int64),
        ("out", c_int64),
        ("seq_lens", c_int64),
        ("params", c_int64),
        ("workspace", c_size_t),
        ("training_reserve", c_size_t),
        ("backward_workspace", c_size_t),
    ]


class simdrnn_backward_args(Structure):
    _fields_ = [
        ("forward", c_void_p),  # const simdrnn_forward_args*
        ("reserve", c_void_p),  # const void*
        ("reserve_size", c_size_t),
        ("dy", c_void_p),  # const float*
        ("dout", c_void_p),  # const float*
        ("dh_n", c_void_p),  # const float*
        ("dx", c_void_p),  # float*
        ("dh0", c_void_p),  # float*
        ("grads", c_void_p),  # float*
        ("accumulate", c_int32),
        ("workspace", c_void_p),  # void*
        ("workspace_size", c_size_t),
        ("num_threads", c_int32),
        ("dc_n", c_void_p),  # const float*
        ("dc0", c_void_p),  # float*
    ]


STRUCTS = [simdrnn_config, simdrnn_forward_args, simdrnn_sizes, simdrnn_backward_args]

_PACK_CODES = {c_void_p: "Q", c_size_t: "Q", c_int64: "q", c_int32: "i", c_float: "f"}


def field_packer(struct_cls, first, last):
    """(pack_into, offset): pack_into(instance, offset, *values) writes the fields
    first..last of struct_cls (a NULL pointer is 0), laid out from ctypes' own offsets.

    One pack_into of eleven fields costs what three ctypes attribute assignments do."""
    names = [name for name, _ in struct_cls._fields_]
    fields = struct_cls._fields_[names.index(first):names.index(last) + 1]
    start = getattr(struct_cls, first).offset
    fmt, at = "<", start
    for name, ctype in fields:
        offset = getattr(struct_cls, name).offset
        fmt += "x" * (offset - at) + _PACK_CODES[ctype]
        at = offset + ctypes.sizeof(ctype)
    return struct.Struct(fmt).pack_into, start

# ---- prototypes ---------------------------------------------------------------------------
_handle = c_void_p  # simdrnn_weights*, simdrnn_model*, simdrnn_stream* (opaque)
_handle_out = POINTER(c_void_p)
_ptr = c_void_p  # float*, const float*, void* (see the module docstring)

PROTOTYPES = {
    # name: (restype, argtypes)
    "simdrnn_version": (c_char_p, []),
    "simdrnn_last_error": (c_char_p, []),
    "simdrnn_status_name": (c_char_p, [c_enum]),
    "simdrnn_isa_name": (c_char_p, [c_enum]),
    "simdrnn_detected_isa": (c_enum, []),
    "simdrnn_active_isa": (c_enum, []),
    "simdrnn_set_max_isa": (c_enum, [c_enum]),
    "simdrnn_config_default": (simdrnn_config, []),
    "simdrnn_weights_create": (c_enum, [POINTER(simdrnn_config), _handle_out]),
    "simdrnn_weights_destroy": (c_enum, [_handle]),
    "simdrnn_weights_set": (c_enum, [_handle, c_char_p, _ptr, c_int64]),
    "simdrnn_model_create": (c_enum, [_handle, _handle_out]),
    "simdrnn_model_destroy": (c_enum, [_handle]),
    "simdrnn_model_config": (c_enum, [_handle, POINTER(simdrnn_config)]),
    "simdrnn_model_isa": (c_enum, [_handle, POINTER(c_enum)]),
    "simdrnn_model_save": (c_enum, [_handle, c_char_p]),
    "simdrnn_model_load": (c_enum, [c_char_p, _handle_out]),
    "simdrnn_model_save_to_memory": (c_enum, [_handle, _ptr, c_size_t, POINTER(c_size_t)]),
    "simdrnn_model_load_from_memory": (c_enum, [_ptr, c_size_t, _handle_out]),
    "simdrnn_forward_sizes": (c_enum, [_handle, POINTER(simdrnn_forward_args), POINTER(simdrnn_sizes)]),
    "simdrnn_forward": (c_enum, [_handle, POINTER(simdrnn_forward_args)]),
    "simdrnn_stream_create": (c_enum, [_handle, c_int64, c_int64, _handle_out]),
    "simdrnn_stream_destroy": (c_enum, [_handle]),
    "simdrnn_stream_reset": (c_enum, [_handle, _ptr, _ptr]),
    "simdrnn_stream_step": (c_enum, [_handle, c_int64, _ptr, _ptr, _ptr, c_int32]),
    "simdrnn_stream_state": (c_enum, [_handle, _ptr, _ptr]),
    "simdrnn_model_num_params": (c_enum, [_handle, POINTER(c_int64)]),
    "simdrnn_model_param_offset": (c_enum, [_handle, c_char_p, POINTER(c_int64), POINTER(c_int64)]),
    "simdrnn_model_get_params": (c_enum, [_handle, _ptr]),
    "simdrnn_model_set_params": (c_enum, [_handle, _ptr]),
    "simdrnn_training_reserve_size": (c_enum, [_handle, POINTER(simdrnn_forward_args), POINTER(c_size_t)]),
    "simdrnn_forward_training": (c_enum, [_handle, POINTER(simdrnn_forward_args), _ptr, c_size_t]),
    "simdrnn_backward": (c_enum, [_handle, POINTER(simdrnn_backward_args)]),
    "simdrnn_clip_grad_norm": (c_enum, [_ptr, c_int64, c_float, POINTER(c_float), c_int32]),
    "simdrnn_sgd_step": (c_enum, [_ptr, _ptr, _ptr, c_int64, c_float, c_float, c_float, c_int32]),
    "simdrnn_adam_step": (c_enum, [_ptr, _ptr, _ptr, _ptr, c_int64, c_int64, c_float, c_float, c_float,
                                   c_float, c_float, c_int32]),
}

# ---- errors -------------------------------------------------------------------------------


class Error(Exception):
    """A failed simdrnn call, or an argument rejected before the call.

    .status is a simdrnn.Status; .message is the library's simdrnn_last_error() text
    (or the package's own, in the same form: the argument, what was expected, what was
    given). Raised before anything runs: no output is written by a call that raises.
    """

    def __init__(self, status, message):
        self.status = Status(status)
        self.message = message
        super().__init__(f"{message} [SIMDRNN_{self.status.name}]")


Error.__module__ = "simdrnn"  # where users catch it: simdrnn.Error


def invalid(message):
    """An Error for an argument the package rejects itself."""
    return Error(Status.INVALID_ARGUMENT, message)


# ---- library discovery --------------------------------------------------------------------
_PACKAGE_DIR = Path(__file__).resolve().parent
_LIB_NAMES = ("libsimdrnn.so", "libsimdrnn.so.0")


def candidate_paths():
    """Where the library is looked for, in order (see load())."""
    env = os.environ.get("SIMDRNN_LIBRARY")
    if env:
        return [env]  # an explicit choice: nothing else is tried
    paths = [str(_PACKAGE_DIR / name) for name in _LIB_NAMES]  # installed beside the package
    repo = _PACKAGE_DIR.parent.parent  # <repo>/python/simdrnn -> <repo>
    if (repo / "include" / "simdrnn" / "simdrnn.h").is_file():
        paths.append(str(repo / "build" / "libsimdrnn.so"))  # the README's build directory
    paths += ["libsimdrnn.so.0", "libsimdrnn.so"]  # the dynamic loader (LD_LIBRARY_PATH, ld.so.cache)
    return paths


class _Library:
    """The loaded shared library, its path and its prototyped functions as attributes."""

    def __init__(self, cdll, path):
        self.cdll = cdll
        self.path = path
        for name, (restype, argtypes) in PROTOTYPES.items():
            fn = getattr(cdll, name)
            fn.restype, fn.argtypes = restype, argtypes
            setattr(self, name, fn)

    def check(self, status, what=None):
        """Raises Error with simdrnn_last_error() unless status is SIMDRNN_OK."""
        if status:
            message = self.simdrnn_last_error().decode(errors="replace")
            raise Error(status, f"{what}: {message}" if what else message)


_lib = None


def load():
    """The library, loaded on first use.

    Search order: $SIMDRNN_LIBRARY (a path; nothing else is tried when it is set), then
    libsimdrnn.so beside this package (an installed layout), then <repo>/build/libsimdrnn.so
    when the package runs from a source checkout, then the dynamic loader's own search.
    """
    global _lib
    if _lib is not None:
        return _lib
    tried = []
    for path in candidate_paths():
        is_file = os.sep in path
        if is_file and not os.path.exists(path):
            tried.append(f"{path} (absent)")
            continue
        try:
            cdll = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
            continue
        try:
            _lib = _Library(cdll, os.path.abspath(path) if is_file else _loaded_path(cdll, path))
        except AttributeError as e:  # an old library without some entry point
            tried.append(f"{path} (not this version of simdrnn: {e})")
            continue
        return _lib
    raise OSError("simdrnn: cannot load libsimdrnn.so; set SIMDRNN_LIBRARY to its path. Tried: " +
                  "; ".join(tried))


def _loaded_path(cdll, name):
    """The file the dynamic loader picked for `name` (from /proc/self/maps), else the name."""
    try:
        address = ctypes.cast(cdll.simdrnn_version, c_void_p).value
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                lo, hi = (int(v, 16) for v in fields[0].split("-"))
                if lo <= address < hi and len(fields) >= 6:
                    return fields[5]
    except (OSError, ValueError):
        pass
    return name


# ---- the optional ONNX importer (libsimdrnn_onnx.so; include/simdrnn/simdrnn_onnx.h) ----------


class onnx_graph_info(ctypes.Structure):  # simdrnn_onnx_graph_info
    _fields_ = [("num_inputs", c_int64), ("num_outputs", c_int64), ("layout", c_int32),
                ("time_reversed", c_int32), ("fixed_seq_len", c_int64), ("fixed_batch", c_int64)]


ONNX_PROTOTYPES = {
    "simdrnn_onnx_load": (c_int32, [ctypes.c_char_p, POINTER(c_void_p), POINTER(c_void_p)]),
    "simdrnn_onnx_load_memory": (c_int32, [c_void_p, c_size_t, POINTER(c_void_p), POINTER(c_void_p)]),
    "simdrnn_onnx_graph_destroy": (c_int32, [c_void_p]),
    "simdrnn_onnx_graph_get_info": (c_int32, [c_void_p, POINTER(onnx_graph_info)]),
    "simdrnn_onnx_last_error": (ctypes.c_char_p, []),
}

_onnx_lib = None


def onnx_candidate_paths():
    """Where libsimdrnn_onnx.so is looked for: $SIMDRNN_ONNX_LIBRARY (alone when set), beside this
    package, beside the core library that load() found (an install's lib directory, or a build
    directory's src/onnx/), then the dynamic loader's search."""
    env = os.environ.get("SIMDRNN_ONNX_LIBRARY")
    if env:
        return [env]
    names = ("libsimdrnn_onnx.so", "libsimdrnn_onnx.so.0")
    core = Path(load().path).resolve().parent
    paths = [str(d / n) for d in (_PACKAGE_DIR, core, core / "src" / "onnx") for n in names]
    return paths + ["libsimdrnn_onnx.so.0", "libsimdrnn_onnx.so"]


def load_onnx():
    """The ONNX importer library, loaded on first use (onnx_candidate_paths), with its functions
    prototyped and .check(status, what) raising Error with simdrnn_onnx_last_error()."""
    global _onnx_lib
    if _onnx_lib is not None:
        return _onnx_lib
    tried = []
    for path in onnx_candidate_paths():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (absent)")
            continue
        try:
            cdll = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
            continue
        lib = types.SimpleNamespace(cdll=cdll, path=path)
        for name, (restype, argtypes) in ONNX_PROTOTYPES.items():
            fn = getattr(cdll, name)
            fn.restype, fn.argtypes = restype, argtypes
            setattr(lib, name, fn)

        def check(status, what=None, lib=lib):
            if status:
                message = lib.simdrnn_onnx_last_error().decode(errors="replace")
                raise Error(status, f"{what}: {message}" if what else message)
        lib.check = check
        _onnx_lib = lib
        return lib
    raise Error(Status.UNSUPPORTED, "ONNX import needs libsimdrnn_onnx.so (built with the ONNX component; "
                "set SIMDRNN_ONNX_LIBRARY to its path). Tried: " + "; ".join(tried))
