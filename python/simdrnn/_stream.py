"""Stream: step-by-step inference over simdrnn_stream (unidirectional models)."""
import weakref
from ctypes import byref, c_void_p

import numpy as np

from ._arrays import F32, address, floats
from ._capi import invalid
from ._model import Model


class Stream:
    """Holds the state of `batch` sequences and advances up to `max_steps` steps a call.

    step(x) takes x [steps, N, I] ([N, steps, I] when the model is batch_first: that is
    copied to time-major, the only layout of simdrnn_stream_step, unless it already is
    one, as a contiguous [N, 1, I] is), or x [N, I] for one step. It returns y (shaped as x, with
    H_out for I), or (y, out) when the model has an output layer. Stepping a sequence in
    chunks of any size gives what one Model call over the whole sequence gives, bit for
    bit. The state starts at zero; reset(h0, c0) sets it, state() copies it out
    (h [L, N, H_out], or (h, c) for an LSTM).
    """

    def __init__(self, model, batch, max_steps):
        if not isinstance(model, Model):
            raise invalid(f"model: expected a simdrnn.Model, got {type(model).__name__}")
        lib = model._lib
        handle = c_void_p()
        lib.check(lib.simdrnn_stream_create(model._live(), batch, max_steps, byref(handle)), "simdrnn_stream_create")
        self._handle = handle.value
        self._close = weakref.finalize(self, lib.simdrnn_stream_destroy, handle.value)
        self._model = model  # the model outlives its streams
        self._lib = lib
        self._c_step = lib.simdrnn_stream_step
        cfg = model.config
        self.batch, self.max_steps = batch, max_steps
        self._lstm = model._lstm
        self._has_out = model._has_out
        self._input_size, self._hidden_out, self._output_size = cfg.input_size, cfg.hidden_out, cfg.output_size
        self._h_shape = (cfg.num_layers, batch, cfg.hidden_out)
        self._c_shape = (cfg.num_layers, batch, cfg.hidden_size)

    def close(self):
        self._close()
        self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def model(self):
        return self._model

    def _live(self):
        if self._handle is None:
            raise invalid("stream: expected a live stream, got one that was closed")
        return self._handle

    def step(self, x, num_threads=0):
        """Advances the state over x; returns y, or (y, out) with an output layer."""
        if type(x) is not np.ndarray or x.dtype is not F32:
            x = floats(x, "x")
        N, H, O = self.batch, self._hidden_out, self._output_size
        batch_first = self._model.batch_first
        if x.ndim == 2:
            steps, shape = 1, (N, self._input_size)
        elif x.ndim == 3:
            steps = x.shape[1] if batch_first else x.shape[0]
            shape = (N, steps, self._input_size) if batch_first else (steps, N, self._input_size)
        else:
            raise invalid(f"x: expected [steps, N, I] or [N, I], got shape {x.shape}")
        ndim = x.ndim
        if ndim == 3 and batch_first:
            if x.shape != shape:
                floats(x, "x", shape)
            x = np.ascontiguousarray(x.transpose(1, 0, 2))  # [steps, N, I]: a copy unless steps == 1
        elif x.shape != shape or not x.flags.c_contiguous:
            floats(x, "x", shape)
        y = np.empty((steps, N, H), F32)
        out = np.empty((steps, N, O), F32) if self._has_out else None
        status = self._c_step(self._handle, steps, address(x), address(y),
                              None if out is None else address(out), num_threads)
        if status:
            self._live()
            self._lib.check(status, "simdrnn_stream_step")
        if ndim == 2:  # one step, [N, ...]: the same memory as [1, N, ...]
            y = y.reshape(N, H)
            out = None if out is None else out.reshape(N, O)
        elif batch_first:  # [N, steps, ...]: a view (free to make; contiguous when steps == 1)
            y = y.transpose(1, 0, 2) if steps > 1 else y.reshape(N, 1, H)
            if out is not None:
                out = out.transpose(1, 0, 2) if steps > 1 else out.reshape(N, 1, O)
        return (y, out) if self._has_out else y

    def reset(self, h0=None, c0=None):
        """Sets the state: h0 [L, N, H_out], (LSTM) c0 [L, N, H]; None means zeros."""
        if h0 is not None:
            h0 = floats(h0, "h0", self._h_shape)
        if c0 is not None:
            if not self._lstm:
                raise invalid("c0: expected None (only an LSTM has a cell state)")
            c0 = floats(c0, "c0", self._c_shape)
        self._lib.check(self._lib.simdrnn_stream_reset(self._live(), None if h0 is None else address(h0),
                                                       None if c0 is None else address(c0)),
                        "simdrnn_stream_reset")

    def state(self):
        """A copy of the state: h [L, N, H_out], or (h, c) for an LSTM."""
        h = np.empty(self._h_shape, F32)
        c = np.empty(self._c_shape, F32) if self._lstm else None
        self._lib.check(self._lib.simdrnn_stream_state(self._live(), address(h),
                                                       None if c is None else address(c)),
                        "simdrnn_stream_state")
        return (h, c) if self._lstm else h
