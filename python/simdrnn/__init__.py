"""simdrnn from Python: recurrent networks (Elman RNN, LSTM, GRU) on x86 CPUs.

A thin ctypes layer over the C API of libsimdrnn.so (include/simdrnn/simdrnn.h); numpy
float32 arrays in and out.

    import numpy as np, simdrnn, torch
    rnn = torch.nn.LSTM(10, 20, num_layers=2, batch_first=True)
    model = simdrnn.from_torch(rnn)                      # or simdrnn.Model(simdrnn.Config(...), weights)
    x = np.random.rand(4, 50, 10).astype(np.float32)     # [N, T, I]: batch_first from the module
    y, (h_n, c_n) = model(x, lengths=[50, 7, 31, 2])     # what rnn(x) returns, as numpy

The library is found through $SIMDRNN_LIBRARY (a path), else libsimdrnn.so beside this
package, else <checkout>/build/libsimdrnn.so, else the dynamic loader's search path.
Every failure raises simdrnn.Error (.status, .message) before anything runs.
"""
from ._capi import Activation, Cell, Error, Isa, Layout, Precision, Status
from ._capi import load as _load
from ._model import Config, Grads, Model, Tape, load, load_bytes, weight_shape
from ._optim import adam_step, clip_grad_norm, sgd_step
from ._stream import Stream
from ._torch import from_torch

__all__ = [
    "Activation", "Cell", "Config", "Error", "Grads", "Isa", "Layout", "Model", "Precision", "Status",
    "Stream", "Tape", "adam_step", "active_isa", "clip_grad_norm", "detected_isa", "from_torch",
    "library_path", "load", "load_bytes", "set_max_isa", "sgd_step", "version", "weight_shape",
]


def version():
    """The loaded library's version string, e.g. "0.1.0"."""
    return _load().simdrnn_version().decode()


def library_path():
    """The path of the loaded libsimdrnn.so."""
    return _load().path


def detected_isa():
    """The best ISA level this CPU supports: "scalar", "avx2", "avx2_vnni", "avx512", "avx512_vnni" or "avx512_bf16"."""
    lib = _load()
    return lib.simdrnn_isa_name(lib.simdrnn_detected_isa()).decode()


def active_isa():
    """The ISA new models will use (the detected one, capped by SIMDRNN_MAX_ISA / set_max_isa)."""
    lib = _load()
    return lib.simdrnn_isa_name(lib.simdrnn_active_isa()).decode()


def set_max_isa(isa):
    """Caps the ISA level of models created afterwards (a name such as "avx2" or "avx512_bf16", or simdrnn.Isa)."""
    lib = _load()
    if isinstance(isa, str):
        try:
            isa = Isa[isa.upper()]
        except KeyError:
            raise Error(Status.INVALID_ARGUMENT, f"isa: expected one of {', '.join(repr(i.name.lower()) for i in Isa)}, got {isa!r}") from None
    lib.check(lib.simdrnn_set_max_isa(int(isa)), "simdrnn_set_max_isa")
