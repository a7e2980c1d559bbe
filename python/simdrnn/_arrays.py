"""numpy arrays at the C boundary: checks that name the argument, and raw addresses.

Per-call arrays (x, h0, c0, outputs, gradients, parameter vectors) must already be
C-contiguous float32: the package never copies them behind the caller's back, and a
wrong dtype or layout is an Error naming the argument. Data given once (weights) is
converted instead (weights_array).
"""
import ctypes

import numpy as np

from ._capi import invalid

F32 = np.dtype(np.float32)
I64 = np.dtype(np.int64)

_from_buffer = ctypes.c_char.from_buffer
_addressof = ctypes.addressof
_from_address = ctypes.c_void_p.from_address


def _address_portable(a):
    """The address of an ndarray's first element through the buffer protocol: about three
    times faster than a.ctypes.data, but it needs a writable buffer of at least one byte."""
    try:
        return _addressof(_from_buffer(a))
    except (TypeError, ValueError):
        return a.ctypes.data


def _data_field_offset():
    """Where an ndarray object holds its data pointer (numpy's PyArrayObject: the pointer
    right after the object header, 16 bytes on 64-bit CPython), checked on a few arrays;
    None when this Python does not lay objects out that way (then the portable path)."""
    probes = [np.empty(3, F32), np.zeros((2, 3), np.uint8)[1:], np.arange(4.0)[::-1], np.empty(0, F32)]
    try:
        if all(_from_address(id(p) + 16).value == p.ctypes.data for p in probes):
            return 16
    except (ValueError, OverflowError, TypeError):
        pass
    return None


if _data_field_offset() == 16:
    def address(a):
        """The address of ndarray a's first element (a must be an ndarray: callers check).

        Read from the array object itself, twice as fast as the buffer protocol and six
        times a.ctypes.data: one call passes up to eight arrays."""
        return _from_address(id(a) + 16).value or 0
else:
    address = _address_portable


def as_ndarray(a, name):
    """a as an ndarray without copying (torch CPU tensors, buffers), else Error."""
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "detach") and hasattr(a, "numpy"):  # a torch.Tensor
        a = a.detach()
        if a.device.type != "cpu":
            raise invalid(f"{name}: expected a CPU array, got a tensor on {a.device}")
        return a.numpy()
    try:
        return np.asarray(a)
    except Exception as e:  # noqa: BLE001 - any failure is the caller's argument
        raise invalid(f"{name}: expected an array, got {type(a).__name__} ({e})") from None


def floats(a, name, shape=None, writable=False):
    """a as a C-contiguous float32 ndarray (of `shape` when given), not copied, else Error."""
    if type(a) is not np.ndarray:
        a = as_ndarray(a, name)
    if a.dtype is not F32 and a.dtype != F32:
        raise invalid(f"{name}: expected float32, got {a.dtype} (convert it once with .astype(np.float32))")
    if shape is not None and a.shape != shape:
        raise invalid(f"{name}: expected shape {shape}, got {a.shape}")
    if not a.flags.c_contiguous:
        raise invalid(f"{name}: expected a C-contiguous array, got one with strides {a.strides} "
                      "(np.ascontiguousarray makes a copy that is)")
    if writable and not a.flags.writeable:
        raise invalid(f"{name}: expected a writable array, got a read-only one")
    return a


def lengths_array(lengths, name, batch):
    """Per-sequence lengths as a C-contiguous int64 [batch] array (converted: it is small)."""
    a = as_ndarray(lengths, name)
    if a.dtype.kind not in "iu":
        raise invalid(f"{name}: expected integers, got {a.dtype}")
    if a.shape != (batch,):
        raise invalid(f"{name}: expected shape ({batch},) (one length per sequence), got {a.shape}")
    if a.dtype is not I64 or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=I64)
    return a


def weights_array(a, name):
    """A weight tensor as C-contiguous float32 (converted from any real floating dtype)."""
    a = as_ndarray(a, name)
    if a.dtype.kind != "f":
        raise invalid(f"{name}: expected a floating-point array, got {a.dtype}")
    return np.ascontiguousarray(a, dtype=F32)
