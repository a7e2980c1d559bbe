"""torch.onnx.export of nn.RNN / LSTM / GRU (+ nn.Linear), loaded and run
through libsimdrnn_onnx.so with nothing but ctypes, compared with torch.

    SIMDRNN_ONNX_LIB=build/src/onnx/libsimdrnn_onnx.so python3 -m pytest tests/onnx/test_torch_ctypes.py

The models are make_models.torch_cases() (the C++ test reads the same ones
from files); each is exported in memory, loaded with
simdrnn_onnx_load_memory, and run with simdrnn_onnx_run on every ISA the CPU
has, at another T and N than the export's when its axes are dynamic. This is
deliberately minimal: the Python package proper lives elsewhere.
"""
import ctypes
import os
import sys
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_int32, c_int64, c_size_t, c_void_p

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_models  # noqa: E402


class GraphInfo(Structure):  # simdrnn_onnx_graph_info
    _fields_ = [("num_inputs", c_int64), ("num_outputs", c_int64), ("layout", c_int), ("time_reversed", c_int32),
                ("fixed_seq_len", c_int64), ("fixed_batch", c_int64)]


class TensorInfo(Structure):  # simdrnn_onnx_tensor_info
    _fields_ = [("name", c_char_p), ("role", c_int), ("dtype", c_int), ("rank", c_int32),
                ("first_layer", c_int64), ("num_layers", c_int64)]


@pytest.fixture(scope="module")
def lib():
    path = os.environ.get("SIMDRNN_ONNX_LIB", "libsimdrnn_onnx.so")
    lib = ctypes.CDLL(path)
    lib.simdrnn_onnx_last_error.restype = c_char_p
    lib.simdrnn_onnx_load_memory.argtypes = [c_void_p, c_size_t, POINTER(c_void_p), POINTER(c_void_p)]
    lib.simdrnn_onnx_run.argtypes = [c_void_p, c_void_p, c_int64, c_int64, POINTER(c_void_p), POINTER(c_void_p),
                                     c_int32]
    lib.simdrnn_onnx_graph_get_info.argtypes = [c_void_p, POINTER(GraphInfo)]
    lib.simdrnn_onnx_graph_input.argtypes = [c_void_p, c_int64, POINTER(TensorInfo)]
    lib.simdrnn_onnx_graph_output.argtypes = [c_void_p, c_int64, POINTER(TensorInfo)]
    lib.simdrnn_onnx_output_shape.argtypes = [c_void_p, c_int64, c_int64, c_int64, POINTER(c_int64)]
    lib.simdrnn_onnx_graph_destroy.argtypes = [c_void_p]
    lib.simdrnn_model_destroy.argtypes = [c_void_p]  # from libsimdrnn.so, which libsimdrnn_onnx.so needs
    return lib


def check(lib, status):
    assert status == 0, lib.simdrnn_onnx_last_error().decode()


def run(lib, model_bytes, feeds, T, N, threads):
    """Loads the model, runs it on feeds {graph input name: array}; returns {output name: array}."""
    buf = ctypes.create_string_buffer(model_bytes, len(model_bytes))
    model, graph = c_void_p(), c_void_p()
    check(lib, lib.simdrnn_onnx_load_memory(buf, len(model_bytes), byref(model), byref(graph)))
    try:
        info = GraphInfo()
        check(lib, lib.simdrnn_onnx_graph_get_info(graph, byref(info)))
        ins = []
        for i in range(info.num_inputs):
            ti = TensorInfo()
            check(lib, lib.simdrnn_onnx_graph_input(graph, i, byref(ti)))
            ins.append(np.ascontiguousarray(feeds[ti.name.decode()], np.float32))
        outs, names = [], []
        for i in range(info.num_outputs):
            ti = TensorInfo()
            check(lib, lib.simdrnn_onnx_graph_output(graph, i, byref(ti)))
            dims = (c_int64 * 8)()
            check(lib, lib.simdrnn_onnx_output_shape(graph, i, T, N, dims))
            outs.append(np.full(list(dims[: ti.rank]), np.nan, np.float32))
            names.append(ti.name.decode())
        in_ptrs = (c_void_p * max(1, len(ins)))(*[a.ctypes.data for a in ins])
        out_ptrs = (c_void_p * len(outs))(*[a.ctypes.data for a in outs])
        check(lib, lib.simdrnn_onnx_run(model, graph, T, N, in_ptrs, out_ptrs, threads))
        return dict(zip(names, outs))
    finally:
        lib.simdrnn_onnx_graph_destroy(graph)
        lib.simdrnn_model_destroy(model)


@pytest.mark.parametrize("case", make_models.torch_cases(), ids=lambda c: c[0])
def test_torch_export_matches_torch(lib, case):
    name, module, give_states, dynamic, options = case
    model_bytes, in_names, out_names, make_inputs = make_models.torch_export(module, give_states, dynamic, options)
    T, N = (7, 5) if dynamic else (4, 2)
    xs = make_inputs(T, N, seed=3)
    with torch.no_grad():
        want = [y.numpy() for y in module(*xs)]
    feeds = {n: x.numpy() for n, x in zip(in_names, xs)}
    detected = lib.simdrnn_detected_isa()
    try:
        for isa in range(detected + 1):
            check(lib, lib.simdrnn_set_max_isa(isa))
            for threads in (1, 2):
                got = run(lib, model_bytes, feeds, T, N, threads)
                for n, w in zip(out_names, want):
                    np.testing.assert_allclose(got[n], w, atol=1e-5, rtol=1e-5,
                                               err_msg=f"{name}: output {n}, isa {isa}, {threads} threads")
    finally:
        lib.simdrnn_set_max_isa(detected)


def test_refusal_names_the_node(lib):
    """An exported model followed by an operator simdrnn does not import."""
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.GRU(3, 4)

        def forward(self, x):
            return torch.relu(self.rnn(x)[0])

    import io
    f = io.BytesIO()
    torch.onnx.export(Net().eval(), (torch.randn(5, 2, 3),), f)
    data = f.getvalue()
    model, graph = c_void_p(), c_void_p()
    status = lib.simdrnn_onnx_load_memory(ctypes.create_string_buffer(data, len(data)), len(data), byref(model),
                                          byref(graph))
    assert status == 3  # SIMDRNN_UNSUPPORTED
    assert "Relu" in lib.simdrnn_onnx_last_error().decode()
    assert not model.value and not graph.value
