"""Optimiser helpers over flat float32 vectors (simdrnn_clip_grad_norm, _sgd_step,
_adam_step): in place, SIMD and threaded, PyTorch semantics."""
from ctypes import byref, c_float

from . import _capi
from ._arrays import address, floats
from ._capi import invalid


def _vectors(names_arrays):
    """Checks that every array is C-contiguous float32 and as large as the first."""
    checked = []
    for name, a, writable in names_arrays:
        a = floats(a, name, writable=writable)
        if checked and a.size != checked[0].size:
            raise invalid(f"{name}: expected {checked[0].size} floats (as {names_arrays[0][0]}), got {a.size}")
        checked.append(a)
    return checked


def clip_grad_norm(grads, max_norm, num_threads=0):
    """Scales grads in place so that its L2 norm is at most max_norm; returns the norm before."""
    (grads,) = _vectors([("grads", grads, True)])
    lib = _capi.load()
    norm = c_float()
    lib.check(lib.simdrnn_clip_grad_norm(address(grads), grads.size, max_norm, byref(norm), num_threads),
              "simdrnn_clip_grad_norm")
    return norm.value


def sgd_step(params, grads, velocity, lr, momentum=0.0, weight_decay=0.0, num_threads=0):
    """v = momentum*v + g + weight_decay*p; p -= lr*v (torch.optim.SGD), params and velocity in place."""
    params, grads, velocity = _vectors([("params", params, True), ("grads", grads, False),
                                        ("velocity", velocity, True)])
    lib = _capi.load()
    lib.check(lib.simdrnn_sgd_step(address(params), address(grads), address(velocity), params.size, lr, momentum,
                                   weight_decay, num_threads), "simdrnn_sgd_step")


def adam_step(params, grads, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, num_threads=0):
    """One torch.optim.Adam step (step counts from 1; m, v start at zero), in place."""
    params, grads, m, v = _vectors([("params", params, True), ("grads", grads, False), ("m", m, True),
                                    ("v", v, True)])
    lib = _capi.load()
    lib.check(lib.simdrnn_adam_step(address(params), address(grads), address(m), address(v), params.size, step,
                                    lr, beta1, beta2, eps, weight_decay, num_threads), "simdrnn_adam_step")
