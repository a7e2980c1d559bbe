"""Config, Model (inference and training calls) and Tape: the package over simdrnn.h.

A Model keeps one "plan" per call shape (seq_len, batch, layout, whether y is wanted):
the simdrnn_forward_args struct with its workspace already attached, the output shapes,
and, once training is used, the reserve size and the backward workspace. A call whose
shape repeats only checks its arrays, fills the pointer fields and calls the library;
a plan in use by another thread is not shared (that call builds a private one).
"""
import dataclasses
import os
import re
import struct
import threading
import weakref
from collections import namedtuple
from ctypes import addressof, byref, c_int, c_int64, c_size_t, c_void_p

import numpy as np

from . import _capi
from ._arrays import F32, address, floats, lengths_array, weights_array
from ._capi import Activation, Cell, Error, Layout, Precision, Status, invalid

_GATES = {Cell.RNN: 1, Cell.LSTM: 4, Cell.GRU: 3}
# Every per-call field of simdrnn_forward_args, x through c_n, in one write.
_pack_args, _PACK_ARGS_AT = _capi.field_packer(_capi.simdrnn_forward_args, "x", "c_n")
_MAX_PLANS = 16  # distinct call shapes kept per model; the oldest is dropped beyond


def _enum(cls, value, field):
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        try:
            return cls[value.upper()]
        except KeyError:
            pass
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            return cls(value)
        except ValueError:
            pass
    names = ", ".join(repr(m.name.lower()) for m in cls)
    raise invalid(f"config.{field}: expected one of {names} (or simdrnn.{cls.__name__}), got {value!r}")


@dataclasses.dataclass(frozen=True)
class Config:
    """simdrnn_config: a model's hyper-parameters (defaults as simdrnn_config_default()).

    cell, activation and weight_precision take the enums or their names, any case:
    cell "rnn" | "lstm" | "gru"; activation "tanh" | "relu" | "sigmoid" (RNN cells only);
    weight_precision "f32" | "bf16" | "int8". The library validates the values when a
    Model is built from the config.
    """

    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    cell: Cell = Cell.RNN
    activation: Activation = Activation.TANH
    clip: float = 0.0  # > 0 clamps pre-activations to [-clip, clip]
    output_size: int = 0  # > 0 adds the output layer out = W_hy y + b_hy
    proj_size: int = 0  # LSTM only (PyTorch proj_size)
    gru_linear_before_reset: bool = True  # GRU only; True is PyTorch's GRU, False ONNX's default
    weight_precision: Precision = Precision.F32

    def __post_init__(self):
        for field, cls in (("cell", Cell), ("activation", Activation), ("weight_precision", Precision)):
            object.__setattr__(self, field, _enum(cls, getattr(self, field), field))

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def hidden_out(self):
        """Width of h and of each direction's y: proj_size when set, else hidden_size."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def to_c(self):
        c = _capi.load().simdrnn_config_default()
        try:
            c.input_size, c.hidden_size, c.num_layers = self.input_size, self.hidden_size, self.num_layers
            c.bidirectional = int(self.bidirectional)
            c.activation, c.cell, c.weight_precision = self.activation, self.cell, self.weight_precision
            c.clip = self.clip
            c.output_size, c.proj_size = self.output_size, self.proj_size
            c.gru_linear_before_reset = int(self.gru_linear_before_reset)
        except TypeError as e:
            raise invalid(f"config: expected numbers in every size field, got {self!r} ({e})") from None
        return c

    @classmethod
    def from_c(cls, c):
        return cls(input_size=c.input_size, hidden_size=c.hidden_size, num_layers=c.num_layers,
                   bidirectional=bool(c.bidirectional), cell=Cell(c.cell), activation=Activation(c.activation),
                   clip=c.clip, output_size=c.output_size, proj_size=c.proj_size,
                   gru_linear_before_reset=bool(c.gru_linear_before_reset),
                   weight_precision=Precision(c.weight_precision))


_TENSOR_NAME = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr|weight_peephole)_l(\d+)(_reverse)?\Z")


def weight_shape(config, name):
    """The shape simdrnn.h gives the tensor `name` for this config, or None when the
    config has no such tensor (the library then rejects the name with the list it takes)."""
    G, H, P = _GATES[config.cell], config.hidden_size, config.hidden_out
    DP = config.num_directions * P
    if name == "weight_hy":
        return (config.output_size, DP) if config.output_size > 0 else None
    if name == "bias_hy":
        return (config.output_size,) if config.output_size > 0 else None
    m = _TENSOR_NAME.match(name)
    if not m:
        return None
    kind, layer, reverse = m.group(1), int(m.group(2)), m.group(3)
    if layer >= config.num_layers or (reverse and not config.bidirectional):
        return None
    if kind == "weight_ih":
        return (G * H, config.input_size if layer == 0 else DP)
    if kind == "weight_hh":
        return (G * H, P)
    if kind in ("bias_ih", "bias_hh"):
        return (G * H,)
    if kind == "weight_hr":
        return (P, H) if config.cell == Cell.LSTM and config.proj_size > 0 else None
    return (3 * H,) if config.cell == Cell.LSTM else None  # weight_peephole


class _Plan:
    """Everything a call of one shape needs except the arrays themselves."""

    __slots__ = ("key", "args", "lock", "workspace", "workspace_address", "workspace_size", "x_shape", "y_shape",
                 "h_shape", "c_shape", "out_shape", "reserve_size", "bwd_lock", "bwd_workspace")


Grads = namedtuple("Grads", "params x h0 c0")
Grads.__doc__ = """Model.backward's results: params [num_params] (flat, PyTorch order), x, h0 and
(LSTM) c0 shaped as the forward call's inputs; None where not computed."""


class Tape:
    """What Model.forward_training saved for Model.backward: the reserve and the call.

    The library reads the forward call's x, h0 and lengths again in backward: keep those
    arrays unchanged until then (the tape holds references, not copies).
    """

    __slots__ = ("model", "plan", "args", "reserve", "inputs")

    def __init__(self, model, plan, args, reserve, inputs):
        self.model, self.plan, self.args, self.reserve, self.inputs = model, plan, args, reserve, inputs


class Model:
    """A prepacked simdrnn_model built from PyTorch-named weights.

    Model(config, weights, batch_first=False): weights maps tensor names of simdrnn.h
    (those of torch.nn.RNN / LSTM / GRU state_dict(), plus weight_hy / bias_hy for the
    output layer) to arrays of exactly the documented shapes (any real float dtype;
    they are copied). Missing required tensors, unknown names and wrong shapes raise
    simdrnn.Error naming the tensor. batch_first sets the default layout of calls, as
    in PyTorch; it can be changed later (model.batch_first = True).

    Calls return what torch returns, plus the output layer when the model has one:
        RNN, GRU:  (y, h_n)          with an output layer: (y, h_n, out)
        LSTM:      (y, (h_n, c_n))   with an output layer: (y, (h_n, c_n), out)
    y [T, N, D*H_out] (or [N, T, ...] batch-first), h_n [L*D, N, H_out], c_n [L*D, N, H],
    out [T, N, O]; with lengths, y and out are 0 at each sequence's padding steps.

    Any number of threads may call one model at once, except set_params, the one call
    that changes it. The model is closed when it is garbage-collected, or explicitly
    with close() / a with-block.
    """

    def __init__(self, config, weights, *, batch_first=False):
        lib = _capi.load()
        if not isinstance(config, Config):
            raise invalid(f"config: expected a simdrnn.Config, got {type(config).__name__}")
        if not hasattr(weights, "items"):
            raise invalid(f"weights: expected a mapping of tensor names to arrays, got {type(weights).__name__}")
        c = config.to_c()
        weights_handle = c_void_p()
        lib.check(lib.simdrnn_weights_create(byref(c), byref(weights_handle)), "simdrnn_weights_create")
        try:
            for name, tensor in weights.items():
                if not isinstance(name, str):
                    raise invalid(f"weights: expected tensor names (str) as keys, got {name!r}")
                what = f"weights[{name!r}]"
                data = weights_array(tensor, what)
                shape = weight_shape(config, name)
                if shape is not None and data.shape != shape:
                    raise invalid(f"{what}: expected shape {shape}, got {data.shape}")
                lib.check(lib.simdrnn_weights_set(weights_handle, name.encode(), address(data), data.size),
                          f"simdrnn_weights_set({name!r})")
            handle = c_void_p()
            lib.check(lib.simdrnn_model_create(weights_handle, byref(handle)), "simdrnn_model_create")
        finally:
            lib.simdrnn_weights_destroy(weights_handle)
        self._adopt(lib, handle.value, batch_first)

    @classmethod
    def _from_handle(cls, lib, handle, batch_first):
        """A Model owning `handle`, a simdrnn_model* the library just made (model files)."""
        model = cls.__new__(cls)
        model._adopt(lib, handle, batch_first)
        return model

    def _adopt(self, lib, handle, batch_first):
        self._handle = handle
        self._close = weakref.finalize(self, lib.simdrnn_model_destroy, handle)
        self._lib = lib
        self._c_forward = lib.simdrnn_forward  # bound once: the per-call path does no lookups
        read_back = _capi.simdrnn_config()
        lib.check(lib.simdrnn_model_config(self._handle, byref(read_back)), "simdrnn_model_config")
        self.config = Config.from_c(read_back)
        self._lstm = self.config.cell == Cell.LSTM
        self._has_out = self.config.output_size > 0
        self._input_size = self.config.input_size
        self._plans = {}
        self._plans_lock = threading.Lock()
        self._num_params = None
        self.batch_first = batch_first

    @classmethod
    def from_weights(cls, config, weights, *, batch_first=False):
        """The same as Model(config, weights, batch_first=...)."""
        return cls(config, weights, batch_first=batch_first)

    # ---- lifetime and properties ---------------------------------------------------------
    def close(self):
        """Destroys the library's model now (also done when the object is collected)."""
        self._close()
        self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def handle(self):
        """The simdrnn_model* as an integer (for other ctypes code); None once closed."""
        return self._handle

    @property
    def batch_first(self):
        return self._layout == Layout.BATCH_MAJOR

    @batch_first.setter
    def batch_first(self, value):
        self._layout = Layout.BATCH_MAJOR if value else Layout.TIME_MAJOR

    @property
    def isa(self):
        """The kernel set this model was packed for (an ISA level name, e.g. "avx2" or "avx512_bf16")."""
        isa = c_int()
        self._lib.check(self._lib.simdrnn_model_isa(self._live(), byref(isa)), "simdrnn_model_isa")
        return self._lib.simdrnn_isa_name(isa.value).decode()

    def __repr__(self):
        return f"simdrnn.Model({self.config}, batch_first={self.batch_first})"

    def save(self, path):
        """Writes the model file: a safetensors file with every tensor under its PyTorch name
        (F32) and the config in its __metadata__ (docs/model_file.md). simdrnn.load(path)
        reads it back; safetensors.torch.load_file(path) reads the tensors. batch_first is
        a property of this Python object, not of the model, and is not stored."""
        self._lib.check(self._lib.simdrnn_model_save(self._live(), _file_name(path)), "simdrnn_model_save")

    def to_bytes(self):
        """The model file's bytes (what save() writes); simdrnn.load_bytes() reads them."""
        size = c_size_t()
        self._lib.check(self._lib.simdrnn_model_save_to_memory(self._live(), None, 0, byref(size)),
                        "simdrnn_model_save_to_memory")
        data = np.empty(size.value, np.uint8)
        self._lib.check(self._lib.simdrnn_model_save_to_memory(self._live(), address(data), data.nbytes,
                                                               byref(size)), "simdrnn_model_save_to_memory")
        return data.tobytes()

    def _live(self):
        if self._handle is None:
            raise invalid("model: expected a live model, got one that was closed")
        return self._handle

    # ---- plans ---------------------------------------------------------------------------
    def _plan(self, steps_or_batch, batch_or_steps, layout, with_y):
        key = (steps_or_batch, batch_or_steps, layout, with_y)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._new_plan(key)
            with self._plans_lock:
                if len(self._plans) >= _MAX_PLANS:
                    self._plans.pop(next(iter(self._plans)))
                self._plans[key] = plan
        return plan

    def _new_plan(self, key):
        d0, d1, layout, with_y = key
        T, N = (d1, d0) if layout == Layout.BATCH_MAJOR else (d0, d1)
        cfg = self.config
        args = _capi.simdrnn_forward_args()
        args.seq_len, args.batch, args.layout = T, N, layout
        args.y = 1 if with_y else None  # only whether y is NULL is read
        sizes = _capi.simdrnn_sizes()
        self._lib.check(self._lib.simdrnn_forward_sizes(self._live(), byref(args), byref(sizes)),
                        "simdrnn_forward_sizes")
        args.y = None
        p = _Plan()
        p.key, p.args, p.lock, p.bwd_lock = key, args, threading.Lock(), threading.Lock()
        LD, D, P = cfg.num_layers * cfg.num_directions, cfg.num_directions, cfg.hidden_out
        lead = (N, T) if layout == Layout.BATCH_MAJOR else (T, N)
        p.x_shape = lead + (cfg.input_size,)
        p.y_shape = lead + (D * P,)
        p.h_shape = (LD, N, P)
        p.c_shape = (LD, N, cfg.hidden_size) if self._lstm else None
        p.out_shape = lead + (cfg.output_size,) if self._has_out else None
        # The shapes above come from simdrnn.h's documentation; the counts from the
        # library itself. A disagreement means this package and the library differ.
        counts = {"x": p.x_shape, "y": p.y_shape, "h": p.h_shape, "c": p.c_shape or (0,),
                  "out": p.out_shape or (0,)}
        for field, shape in counts.items():
            if int(np.prod(shape)) != getattr(sizes, field):
                raise Error(Status.INTERNAL_ERROR,
                            f"simdrnn_forward_sizes: the library sizes {field} at {getattr(sizes, field)} floats, "
                            f"the package at {shape}: the package and {self._lib.path} do not match")
        p.workspace = np.empty(max(sizes.workspace, 1), np.uint8)
        p.workspace_address, p.workspace_size = address(p.workspace), sizes.workspace
        args.workspace, args.workspace_size = p.workspace_address, p.workspace_size
        p.reserve_size = None
        p.bwd_workspace = None
        return p

    # ---- inference -----------------------------------------------------------------------
    def _x(self, x):
        """x checked (and a torch tensor viewed as an ndarray), for the slow path of calls."""
        x = floats(x, "x")
        if x.ndim != 3:
            raise invalid(f"x: expected 3 dimensions ({'N, T' if self.batch_first else 'T, N'}, I), "
                          f"got shape {x.shape}")
        return floats(x, "x", x.shape[:2] + (self.config.input_size,))

    def __call__(self, x, h0=None, c0=None, lengths=None, num_threads=0):
        """Runs the whole sequence: x [T, N, I] ([N, T, I] when batch_first); h0 [L*D, N, H_out]
        and (LSTM) c0 [L*D, N, H], None meaning zeros; lengths [N] in 1..T (PyTorch packed
        meaning), None meaning all T. Returns as described in the class docstring (new arrays)."""
        if (type(x) is not np.ndarray or x.dtype is not F32 or x.ndim != 3 or x.shape[2] != self._input_size
                or not x.flags.c_contiguous):
            x = self._x(x)
        shape = x.shape
        plan = self._plans.get((shape[0], shape[1], self._layout, True))
        if plan is None:
            plan = self._plan(shape[0], shape[1], self._layout, True)
        y = np.empty(plan.y_shape, F32)
        h_n = np.empty(plan.h_shape, F32)
        if self._lstm:
            c_n = np.empty(plan.c_shape, F32)
            state = (h_n, c_n)
        else:
            c_n, state = None, h_n
        if self._has_out:
            out = np.empty(plan.out_shape, F32)
            self._run(plan, x, h0, c0, lengths, y, h_n, c_n, out, num_threads)
            return y, state, out
        self._run(plan, x, h0, c0, lengths, y, h_n, c_n, None, num_threads)
        return y, state

    def forward(self, x, *, h0=None, c0=None, lengths=None, y=None, h_n=None, c_n=None, out=None,
                num_threads=0):
        """__call__ into caller-owned outputs, for loops that allocate nothing per call.

        Each of y, h_n, c_n, out is a C-contiguous float32 array of its documented shape, or
        None to skip it (y=None also skips writing the last layer's output; out=None skips the
        output layer); at least one of y, h_n, out. h_n may be the h0 array itself (and c_n
        c0): the state is then updated in place. Returns None.
        """
        if (type(x) is not np.ndarray or x.dtype is not F32 or x.ndim != 3 or x.shape[2] != self._input_size
                or not x.flags.c_contiguous):
            x = self._x(x)
        plan = self._plan(x.shape[0], x.shape[1], self._layout, y is not None)
        if y is not None:
            y = floats(y, "y", plan.y_shape, writable=True)
        if h_n is not None:
            h_n = floats(h_n, "h_n", plan.h_shape, writable=True)
        if c_n is not None:
            if not self._lstm:
                raise invalid("c_n: expected None (only an LSTM has a cell state)")
            c_n = floats(c_n, "c_n", plan.c_shape, writable=True)
        if out is not None:
            if not self._has_out:
                raise invalid("out: expected None (the model has no output layer, output_size 0)")
            out = floats(out, "out", plan.out_shape, writable=True)
        self._run(plan, x, h0, c0, lengths, y, h_n, c_n, out, num_threads)

    def _run(self, plan, x, h0, c0, lengths, y, h_n, c_n, out, num_threads, reserve=None):
        """Checks the inputs, then one simdrnn_forward (or, with `reserve`, one
        simdrnn_forward_training into it, returning the args struct it used and the inputs
        backward reads again). x and the outputs are checked ndarrays already."""
        if h0 is not None:
            h0 = floats(h0, "h0", plan.h_shape)
        if c0 is not None:
            if not self._lstm:
                raise invalid("c0: expected None (only an LSTM has a cell state)")
            c0 = floats(c0, "c0", plan.c_shape)
        if lengths is not None:
            lengths = lengths_array(lengths, "lengths", plan.args.batch)
        lock = plan.lock
        locked = lock.acquire(False)
        if not locked:  # another thread runs this shape: use a private workspace
            plan = self._new_plan(plan.key)
        try:
            a = plan.args if reserve is None else _capi.simdrnn_forward_args.from_buffer_copy(plan.args)
            try:
                _pack_args(a, _PACK_ARGS_AT, address(x), 0 if h0 is None else address(h0),
                           0 if lengths is None else address(lengths), 0 if y is None else address(y),
                           0 if h_n is None else address(h_n), 0 if out is None else address(out),
                           plan.workspace_address, plan.workspace_size, num_threads,
                           0 if c0 is None else address(c0), 0 if c_n is None else address(c_n))
            except struct.error:
                raise invalid(f"num_threads: expected an int in 0..4096, got {num_threads!r}") from None
            if reserve is None:
                status = self._c_forward(self._handle, a)
            else:
                status = self._lib.simdrnn_forward_training(self._handle, a, address(reserve), reserve.nbytes)
                a.workspace, a.workspace_size = None, 0  # backward does not read it
            if status:
                self._lib.check(status, "simdrnn_forward" if reserve is None else "simdrnn_forward_training")
        finally:
            if locked:
                lock.release()
        return (a, (x, h0, c0, lengths)) if reserve is not None else None

    # ---- the flat parameter vector ---------------------------------------------------------
    @property
    def num_params(self):
        """Floats in the flat parameter vector (PyTorch order, see simdrnn.h)."""
        if self._num_params is None:
            n = c_int64()
            self._lib.check(self._lib.simdrnn_model_num_params(self._live(), byref(n)), "simdrnn_model_num_params")
            self._num_params = n.value
        return self._num_params

    def param_offset(self, name):
        """(offset, count) of the tensor `name` in the flat vector; (-1, 0) when absent."""
        offset, count = c_int64(), c_int64()
        self._lib.check(self._lib.simdrnn_model_param_offset(self._live(), name.encode(), byref(offset),
                                                             byref(count)), "simdrnn_model_param_offset")
        return offset.value, count.value

    def get_params(self, out=None):
        """A copy of the flat parameter vector (into `out` when given)."""
        if out is None:
            out = np.empty(self.num_params, F32)
        else:
            out = floats(out, "out", (self.num_params,), writable=True)
        self._lib.check(self._lib.simdrnn_model_get_params(self._live(), address(out)), "simdrnn_model_get_params")
        return out

    def set_params(self, params):
        """Replaces every parameter and repacks. No other call may use the model meanwhile,
        and tapes of earlier forward_training calls no longer match it."""
        params = floats(params, "params", (self.num_params,))
        self._lib.check(self._lib.simdrnn_model_set_params(self._live(), address(params)),
                        "simdrnn_model_set_params")

    # ---- training ------------------------------------------------------------------------
    def forward_training(self, x, h0=None, c0=None, lengths=None, num_threads=0):
        """__call__ that also saves what backward needs. Returns (result, tape): result as
        __call__ returns it, tape for Model.backward (keep x, h0, c0, lengths unchanged)."""
        x = self._x(x)
        plan = self._plan(x.shape[0], x.shape[1], self._layout, True)
        if plan.reserve_size is None:  # also prepares the model for training, once
            n = c_size_t()
            self._lib.check(self._lib.simdrnn_training_reserve_size(self._live(), byref(plan.args), byref(n)),
                            "simdrnn_training_reserve_size")
            plan.reserve_size = n.value
        reserve = np.empty(max(plan.reserve_size, 1), np.uint8)
        y = np.empty(plan.y_shape, F32)
        h_n = np.empty(plan.h_shape, F32)
        c_n = np.empty(plan.c_shape, F32) if self._lstm else None
        out = np.empty(plan.out_shape, F32) if self._has_out else None
        args, inputs = self._run(plan, x, h0, c0, lengths, y, h_n, c_n, out, num_threads, reserve=reserve)
        state = (h_n, c_n) if self._lstm else h_n
        result = (y, state, out) if self._has_out else (y, state)
        return result, Tape(self, plan, args, reserve, inputs)

    def backward(self, tape, dy=None, dout=None, dh_n=None, dc_n=None, *, grads=None, accumulate=False,
                 inputs=True, num_threads=0):
        """Gradients of the forward_training call that made `tape`, given dLoss/dy, dLoss/dout,
        dLoss/dh_n and (LSTM) dLoss/dc_n (each None meaning zero). Returns Grads(params, x, h0,
        c0): params into `grads` when given (added to it with accumulate=True), x/h0/c0 None
        unless inputs=True (c0 only for an LSTM)."""
        if not isinstance(tape, Tape) or tape.model is not self:
            raise invalid("tape: expected the Tape of a forward_training call of this model")
        plan = tape.plan
        dy = None if dy is None else floats(dy, "dy", plan.y_shape)
        if dout is not None:
            if not self._has_out:
                raise invalid("dout: expected None (the model has no output layer, output_size 0)")
            dout = floats(dout, "dout", plan.out_shape)
        dh_n = None if dh_n is None else floats(dh_n, "dh_n", plan.h_shape)
        if dc_n is not None:
            if not self._lstm:
                raise invalid("dc_n: expected None (only an LSTM has a cell state)")
            dc_n = floats(dc_n, "dc_n", plan.c_shape)
        new = np.zeros if accumulate else np.empty  # accumulate adds into what it is given
        if grads is None:
            grads = new(self.num_params, F32)
        else:
            grads = floats(grads, "grads", (self.num_params,), writable=True)
        dx = new(plan.x_shape, F32) if inputs else None
        dh0 = new(plan.h_shape, F32) if inputs else None
        dc0 = new(plan.c_shape, F32) if inputs and self._lstm else None
        b = _capi.simdrnn_backward_args()
        b.forward = addressof(tape.args)
        b.reserve, b.reserve_size = address(tape.reserve), tape.reserve.nbytes
        b.dy = None if dy is None else address(dy)
        b.dout = None if dout is None else address(dout)
        b.dh_n = None if dh_n is None else address(dh_n)
        b.dc_n = None if dc_n is None else address(dc_n)
        b.dx = None if dx is None else address(dx)
        b.dh0 = None if dh0 is None else address(dh0)
        b.dc0 = None if dc0 is None else address(dc0)
        b.grads = address(grads)
        b.accumulate = 1 if accumulate else 0
        b.num_threads = num_threads
        with plan.bwd_lock:
            if plan.bwd_workspace is None:
                args = _capi.simdrnn_forward_args.from_buffer_copy(plan.args)
                args.y = 1  # as forward_training had it
                sizes = _capi.simdrnn_sizes()
                self._lib.check(self._lib.simdrnn_forward_sizes(self._live(), byref(args), byref(sizes)),
                                "simdrnn_forward_sizes")
                plan.bwd_workspace = np.empty(max(sizes.backward_workspace, 1), np.uint8)
            b.workspace, b.workspace_size = address(plan.bwd_workspace), plan.bwd_workspace.nbytes
            self._lib.check(self._lib.simdrnn_backward(self._live(), byref(b)), "simdrnn_backward")
        return Grads(grads, dx, dh0, dc0)


def _file_name(path):
    try:
        return os.fsencode(path)
    except TypeError:
        raise invalid(f"path: expected a file name (str, bytes or os.PathLike), got {type(path).__name__}") from None


def load(path, *, batch_first=None):
    """The Model in `path`, built for the active ISA: a model file (Model.save;
    docs/model_file.md) or an ONNX model (.onnx: a chain of RNN / LSTM / GRU nodes, optionally
    an output projection, as the C function simdrnn_onnx_load takes; needs
    libsimdrnn_onnx.so). A damaged, inconsistent or unsupported file raises simdrnn.Error
    naming what is wrong.

    The Model follows this package's (PyTorch's) conventions, whatever the file: y is
    [T, N, D*H_out] (batch_first: [N, T, ...]), states [L*D, N, H]. batch_first: the default
    layout of calls; None takes an ONNX graph's layout attribute (False for a model file).
    A graph whose every node runs direction="reverse" is refused here: run it with
    simdrnn_onnx_run (C), which reverses each sequence."""
    name = _file_name(path)
    if name.lower().endswith(b".onnx"):
        return _load_onnx(name, batch_first)
    lib = _capi.load()
    handle = c_void_p()
    lib.check(lib.simdrnn_model_load(name, byref(handle)), "simdrnn_model_load")
    return Model._from_handle(lib, handle.value, bool(batch_first))


def _load_onnx(name, batch_first):
    lib = _capi.load()
    onnx = _capi.load_onnx()
    handle, graph = c_void_p(), c_void_p()
    onnx.check(onnx.simdrnn_onnx_load(name, byref(handle), byref(graph)), "simdrnn_onnx_load")
    try:
        info = _capi.onnx_graph_info()
        onnx.check(onnx.simdrnn_onnx_graph_get_info(graph, byref(info)), "simdrnn_onnx_graph_get_info")
        if info.time_reversed:
            lib.simdrnn_model_destroy(handle)
            raise Error(Status.UNSUPPORTED,
                        f"{os.fsdecode(name)}: every node runs direction=\"reverse\", which simdrnn runs "
                        "over each sequence reversed in time (simdrnn_onnx_run in C); a Model call would not")
    finally:
        onnx.simdrnn_onnx_graph_destroy(graph)
    if batch_first is None:
        batch_first = info.layout == Layout.BATCH_MAJOR
    return Model._from_handle(lib, handle.value, bool(batch_first))


def load_bytes(data, *, batch_first=False):
    """The Model in `data`, the bytes of a model file (Model.to_bytes, or a file's contents)."""
    try:
        view = memoryview(data).cast("B")
    except TypeError:
        raise invalid(f"data: expected bytes of a model file (a bytes-like object), got {type(data).__name__}") \
            from None
    buffer = np.frombuffer(view, np.uint8) if view.nbytes else None
    lib = _capi.load()
    handle = c_void_p()
    lib.check(lib.simdrnn_model_load_from_memory(None if buffer is None else buffer.ctypes.data, view.nbytes,
                                                 byref(handle)), "simdrnn_model_load_from_memory")
    return Model._from_handle(lib, handle.value, batch_first)
