#!/usr/bin/env python3
"""Run a PyTorch nn.RNN through simdrnn from Python with nothing but ctypes.

    python3 examples/torch_ctypes.py [path/to/libsimdrnn.so]

The library path comes from argv[1], else $SIMDRNN_LIB, else "libsimdrnn.so"
(found through the usual dynamic-loader search). The script copies the weights
of a 2-layer bidirectional tanh nn.RNN into simdrnn by their PyTorch names,
runs the same inputs through both (with and without per-sequence lengths) and
compares y and h_n. It prints "OK max_abs_err=..." and exits 0 when they agree
to 1e-5, 1 when they do not or a call fails, and 77 when torch or numpy is
missing (ctest reads 77 as "skipped").
"""
import ctypes
import os
import sys
from ctypes import POINTER, Structure, byref, c_char_p, c_float, c_int, c_int32, c_int64, c_size_t, c_void_p

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"SKIP: this example needs torch and numpy ({e})")
    sys.exit(77)

TOLERANCE = 1e-5


# ---- the C API, declared for ctypes (field order and types as in simdrnn.h) ----
SIMDRNN_OK = 0
SIMDRNN_TANH, SIMDRNN_RELU, SIMDRNN_SIGMOID = 0, 1, 2
SIMDRNN_TIME_MAJOR, SIMDRNN_BATCH_MAJOR = 0, 1


class SimdrnnConfig(Structure):  # simdrnn_config
    _fields_ = [
        ("input_size", c_int64),
        ("hidden_size", c_int64),
        ("num_layers", c_int64),
        ("bidirectional", c_int32),
        ("activation", c_int),  # simdrnn_activation
        ("clip", c_float),
        ("output_size", c_int64),
        ("cell", c_int),  # simdrnn_cell
        ("proj_size", c_int64),
        ("gru_linear_before_reset", c_int32),
        ("weight_precision", c_int),  # simdrnn_precision
    ]


class SimdrnnForwardArgs(Structure):  # simdrnn_forward_args
    _fields_ = [
        ("seq_len", c_int64),
        ("batch", c_int64),
        ("layout", c_int),  # simdrnn_layout
        ("x", POINTER(c_float)),
        ("h0", POINTER(c_float)),
        ("seq_lens", POINTER(c_int64)),
        ("y", POINTER(c_float)),
        ("h_n", POINTER(c_float)),
        ("out", POINTER(c_float)),
        ("workspace", c_void_p),
        ("workspace_size", c_size_t),
        ("num_threads", c_int32),
        ("c0", POINTER(c_float)),
        ("c_n", POINTER(c_float)),
    ]


def load_simdrnn(path):
    lib = ctypes.CDLL(path)
    handle_out = POINTER(c_void_p)  # simdrnn_weights** / simdrnn_model**
    for name, restype, argtypes in [
        ("simdrnn_version", c_char_p, []),
        ("simdrnn_last_error", c_char_p, []),
        ("simdrnn_status_name", c_char_p, [c_int]),
        ("simdrnn_isa_name", c_char_p, [c_int]),
        ("simdrnn_active_isa", c_int, []),
        ("simdrnn_config_default", SimdrnnConfig, []),
        ("simdrnn_weights_create", c_int, [POINTER(SimdrnnConfig), handle_out]),
        ("simdrnn_weights_destroy", c_int, [c_void_p]),
        ("simdrnn_weights_set", c_int, [c_void_p, c_char_p, POINTER(c_float), c_int64]),
        ("simdrnn_model_create", c_int, [c_void_p, handle_out]),
        ("simdrnn_model_destroy", c_int, [c_void_p]),
        ("simdrnn_forward_workspace_size", c_int,
         [c_void_p, POINTER(SimdrnnForwardArgs), POINTER(c_size_t)]),
        ("simdrnn_forward", c_int, [c_void_p, POINTER(SimdrnnForwardArgs)]),
    ]:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


class SimdrnnError(RuntimeError):
    pass


def check(lib, status, what):
    """Raises with simdrnn_last_error() when a call did not return SIMDRNN_OK."""
    if status != SIMDRNN_OK:
        raise SimdrnnError(f"{what} failed: {lib.simdrnn_status_name(status).decode()}: "
                           f"{lib.simdrnn_last_error().decode()}")


def float_ptr(a):
    """A float* to a C-contiguous float32 numpy array (or NULL for None)."""
    if a is None:
        return None
    assert a.dtype == np.float32 and a.flags["C_CONTIGUOUS"]
    return a.ctypes.data_as(POINTER(c_float))


# ---- model: PyTorch nn.RNN -> simdrnn, by tensor name ----
def simdrnn_model_from_torch(lib, rnn):
    config = lib.simdrnn_config_default()
    config.input_size = rnn.input_size
    config.hidden_size = rnn.hidden_size
    config.num_layers = rnn.num_layers
    config.bidirectional = int(rnn.bidirectional)
    config.activation = {"tanh": SIMDRNN_TANH, "relu": SIMDRNN_RELU}[rnn.nonlinearity]

    weights = c_void_p()
    check(lib, lib.simdrnn_weights_create(byref(config), byref(weights)), "simdrnn_weights_create")
    try:
        # Names match: weight_ih_l0, weight_hh_l0, bias_ih_l0, ..., weight_ih_l1_reverse, ...
        for name, tensor in rnn.state_dict().items():
            data = np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)
            check(lib, lib.simdrnn_weights_set(weights, name.encode(), float_ptr(data), data.size),
                  f"simdrnn_weights_set({name!r})")
        model = c_void_p()
        check(lib, lib.simdrnn_model_create(weights, byref(model)), "simdrnn_model_create")
        return model  # the model holds its own packed copy of the weights
    finally:
        lib.simdrnn_weights_destroy(weights)


def simdrnn_forward(lib, model, x, h0=None, lengths=None, num_layers=1, num_directions=1,
                    hidden_size=1):
    """x [T, N, I] time-major; returns y [T, N, D*H] and h_n [L*D, N, H]."""
    T, N, _ = x.shape
    x = np.ascontiguousarray(x, dtype=np.float32)
    h0 = None if h0 is None else np.ascontiguousarray(h0, dtype=np.float32)
    seq_lens = None if lengths is None else np.ascontiguousarray(lengths, dtype=np.int64)
    y = np.empty((T, N, num_directions * hidden_size), dtype=np.float32)
    h_n = np.empty((num_layers * num_directions, N, hidden_size), dtype=np.float32)

    args = SimdrnnForwardArgs()  # ctypes zero-initialises, as the API asks
    args.seq_len, args.batch, args.layout = T, N, SIMDRNN_TIME_MAJOR
    args.x, args.h0, args.y, args.h_n = float_ptr(x), float_ptr(h0), float_ptr(y), float_ptr(h_n)
    if seq_lens is not None:
        args.seq_lens = seq_lens.ctypes.data_as(POINTER(c_int64))

    size = c_size_t()
    check(lib, lib.simdrnn_forward_workspace_size(model, byref(args), byref(size)),
          "simdrnn_forward_workspace_size")
    workspace = ctypes.create_string_buffer(max(size.value, 1))
    args.workspace, args.workspace_size = ctypes.cast(workspace, c_void_p), size.value
    check(lib, lib.simdrnn_forward(model, byref(args)), "simdrnn_forward")
    return y, h_n


# ---- the same computation in PyTorch ----
def torch_forward(rnn, x, h0=None, lengths=None):
    with torch.no_grad():
        x = torch.from_numpy(x)
        h0 = None if h0 is None else torch.from_numpy(h0)
        if lengths is None:
            y, h_n = rnn(x, h0)
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                x, torch.as_tensor(lengths), batch_first=False, enforce_sorted=False)
            y_packed, h_n = rnn(packed, h0)  # h_n comes back in the original batch order
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(
                y_packed, batch_first=False, padding_value=0.0, total_length=x.shape[0])
    return y.numpy(), h_n.numpy()


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SIMDRNN_LIB", "libsimdrnn.so")
    try:
        lib = load_simdrnn(path)
    except OSError as e:
        print(f"FAIL: cannot load {path}: {e}")
        return 1
    print(f"simdrnn {lib.simdrnn_version().decode()} ({path}), "
          f"isa {lib.simdrnn_isa_name(lib.simdrnn_active_isa()).decode()}")

    torch.manual_seed(0)
    L, D, I, H = 2, 2, 10, 20
    rnn = torch.nn.RNN(input_size=I, hidden_size=H, num_layers=L, bidirectional=True,
                       batch_first=False, nonlinearity="tanh").eval()
    T, N = 7, 4
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, I), dtype=np.float32)
    h0 = (0.5 * rng.standard_normal((L * D, N, H))).astype(np.float32)
    lengths = np.array([5, 7, 1, 3], dtype=np.int64)  # unsorted, each in 1..T

    try:
        model = simdrnn_model_from_torch(lib, rnn)
    except SimdrnnError as e:
        print(f"FAIL: {e}")
        return 1
    worst = 0.0
    ok = True
    try:
        for label, kwargs in [("h0 + lengths", dict(h0=h0, lengths=lengths)),
                              ("h0, no lengths", dict(h0=h0)),
                              ("zero h0, no lengths", dict())]:
            y, h_n = simdrnn_forward(lib, model, x, num_layers=L, num_directions=D,
                                     hidden_size=H, **kwargs)
            y_ref, h_n_ref = torch_forward(rnn, x, **kwargs)
            err_y = float(np.max(np.abs(y - y_ref)))
            err_h = float(np.max(np.abs(h_n - h_n_ref)))
            print(f"  {label:20s} y err {err_y:.3e}  h_n err {err_h:.3e}")
            worst = max(worst, err_y, err_h)
            if not (err_y < TOLERANCE and err_h < TOLERANCE):  # also catches NaN
                ok = False
            if "lengths" in kwargs:  # padding steps must be exactly zero
                for n, length in enumerate(lengths):
                    if np.any(y[length:, n, :] != 0.0):
                        print(f"  padding of sequence {n} (t >= {length}) is not zero")
                        ok = False
    except SimdrnnError as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        lib.simdrnn_model_destroy(model)

    if not ok:
        print(f"FAIL: simdrnn and torch differ: max_abs_err={worst:.3e} (tolerance {TOLERANCE})")
        return 1
    print(f"OK max_abs_err={worst:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
