"""The package's own behaviour on an Elman RNN: argument errors (raised before anything
runs, naming the argument), caller-owned outputs, reuse across calls and threads, streams,
the training calls against torch autograd, the optimiser helpers against torch.optim,
library discovery, and installing with pip offline."""
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

import simdrnn
import torch_reference as ref
from conftest import REPO

T, N, I, H, O = 5, 3, 4, 6, 2


def rnn_weights(layers=1, bidirectional=False, output_size=0, seed=0):
    rng = np.random.default_rng(seed)
    D = 2 if bidirectional else 1
    w = {}
    for k in range(layers):
        for suffix in ["", "_reverse"][:D]:
            w[f"weight_ih_l{k}{suffix}"] = 0.4 * rng.standard_normal((H, I if k == 0 else D * H), dtype=np.float32)
            w[f"weight_hh_l{k}{suffix}"] = 0.4 * rng.standard_normal((H, H), dtype=np.float32)
            w[f"bias_ih_l{k}{suffix}"] = 0.1 * rng.standard_normal(H, dtype=np.float32)
            w[f"bias_hh_l{k}{suffix}"] = 0.1 * rng.standard_normal(H, dtype=np.float32)
    if output_size:
        w["weight_hy"] = 0.4 * rng.standard_normal((output_size, D * H), dtype=np.float32)
        w["bias_hy"] = 0.1 * rng.standard_normal(output_size, dtype=np.float32)
    return w


def make_model(layers=1, bidirectional=False, output_size=0, **kw):
    config = simdrnn.Config(input_size=I, hidden_size=H, num_layers=layers, bidirectional=bidirectional,
                            output_size=output_size)
    return simdrnn.Model(config, rnn_weights(layers, bidirectional, output_size), **kw)


@pytest.fixture(scope="module")
def model():
    return make_model(layers=2)


@pytest.fixture
def x():
    return np.random.default_rng(1).standard_normal((T, N, I), dtype=np.float32)


def raises(match):
    return pytest.raises(simdrnn.Error, match=match)


# ---- errors -----------------------------------------------------------------------------
def test_wrong_dtype_names_the_argument(model, x):
    with raises(r"^x: expected float32, got float64") as e:
        model(x.astype(np.float64))
    assert e.value.status == simdrnn.Status.INVALID_ARGUMENT
    with raises(r"^h0: expected float32, got float16"):
        model(x, h0=np.zeros((2, N, H), np.float16))
    with raises(r"^lengths: expected integers, got float32"):
        model(x, lengths=np.ones(N, np.float32))


def test_wrong_shape_names_the_argument(model, x):
    with raises(r"^x: expected shape \(5, 3, 4\), got \(5, 3, 7\)"):
        model(np.zeros((T, N, 7), np.float32))
    with raises(r"^x: expected 3 dimensions"):
        model(np.zeros((T, I), np.float32))
    with raises(r"^h0: expected shape \(2, 3, 6\), got \(1, 3, 6\)"):
        model(x, h0=np.zeros((1, N, H), np.float32))
    with raises(r"^lengths: expected shape \(3,\)"):
        model(x, lengths=[1, 2])
    with raises(r"^x: expected a C-contiguous array"):
        model(np.zeros((N, T, I), np.float32).transpose(1, 0, 2))
    with raises(r"^y: expected shape \(5, 3, 6\), got \(5, 3, 12\)"):
        model.forward(x, y=np.zeros((T, N, 2 * H), np.float32))
    with raises(r"^c0: expected None \(only an LSTM"):
        model(x, c0=np.zeros((2, N, H), np.float32))


def test_library_checks_values_before_running(model, x):
    y = np.full((T, N, H), 7.0, np.float32)
    with raises(r"seq_lens\[1\]: expected 1\.\.seq_len \(5\), got 6"):
        model.forward(x, y=y, lengths=[1, 6, 2])
    with raises(r"num_threads: expected 0 \(default\) or 1\.\.4096, got -1"):
        model.forward(x, y=y, num_threads=-1)
    assert np.all(y == 7.0), "a call that raised wrote its output"


def test_weights_errors_name_the_tensor():
    config = simdrnn.Config(input_size=I, hidden_size=H)
    w = rnn_weights()
    del w["weight_hh_l0"]
    with raises(r'simdrnn_model_create: weights: expected tensor "weight_hh_l0" to be set'):
        simdrnn.Model(config, w)
    w = rnn_weights()
    w["weight_ih_l0"] = w["weight_ih_l0"].T.copy()
    with raises(r"^weights\['weight_ih_l0'\]: expected shape \(6, 4\), got \(4, 6\)"):
        simdrnn.Model(config, w)
    w = rnn_weights()
    w["weight_ih_l1"] = w["weight_ih_l0"]
    with raises(r"simdrnn_weights_set\('weight_ih_l1'\): name: expected weight_ih_l\{k\}.*got \"weight_ih_l1\""):
        simdrnn.Model(config, w)
    w = rnn_weights()
    w["bias_ih_l0"] = np.arange(H)
    with raises(r"^weights\['bias_ih_l0'\]: expected a floating-point array, got int64"):
        simdrnn.Model(config, w)


def test_config_errors():
    with raises(r"simdrnn_weights_create: config->hidden_size: expected >= 1, got 0"):
        simdrnn.Model(simdrnn.Config(input_size=I, hidden_size=0), {})
    with raises(r"^config\.cell: expected one of 'rnn', 'lstm', 'gru'"):
        simdrnn.Config(input_size=I, hidden_size=H, cell="elman")
    assert simdrnn.Config(input_size=1, hidden_size=1, cell="LSTM", activation="relu").cell == simdrnn.Cell.LSTM


def test_output_layer_arguments(x):
    with raises(r"^out: expected None \(the model has no output layer"):
        make_model().forward(x, out=np.zeros((T, N, 1), np.float32))
    with raises(r"^out: expected shape \(5, 3, 2\)"):
        make_model(output_size=O).forward(x, out=np.zeros((T, N, 3), np.float32))


def test_closed_model_raises(x):
    m = make_model()
    m.close()
    with raises(r"model: expected a live model"):
        m.get_params()


def test_model_files(model, tmp_path):  # more in test_model_file.py
    model.save(tmp_path / "m.safetensors")
    assert simdrnn.load(tmp_path / "m.safetensors").config == model.config
    with pytest.raises(simdrnn.Error, match="simdrnn_onnx_load"):  # .onnx goes to the ONNX importer
        simdrnn.load(tmp_path / "m.onnx")


# ---- calls --------------------------------------------------------------------------------
def test_return_conventions(x):
    y, h_n = make_model(layers=2, bidirectional=True)(x)
    assert y.shape == (T, N, 2 * H) and h_n.shape == (4, N, H)
    y, h_n, out = make_model(output_size=O)(x)
    assert out.shape == (T, N, O)
    m = make_model(output_size=O, batch_first=True)
    y, h_n, out = m(np.ascontiguousarray(x.transpose(1, 0, 2)))
    assert y.shape == (N, T, H) and out.shape == (N, T, O) and h_n.shape == (1, N, H)


def test_forward_into_caller_buffers_matches_call(model, x):
    h0 = np.random.default_rng(2).standard_normal((2, N, H), dtype=np.float32)
    y_ref, h_ref = model(x, h0=h0, lengths=[5, 2, 3])
    y = np.empty((T, N, H), np.float32)
    h_n = np.empty((2, N, H), np.float32)
    model.forward(x, h0=h0, lengths=[5, 2, 3], y=y, h_n=h_n)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(h_n, h_ref)
    state = h0.copy()
    model.forward(x, h0=state, h_n=state, lengths=[5, 2, 3])  # in place
    np.testing.assert_array_equal(state, h_ref)


def test_out_without_y_skips_y():
    m = make_model(output_size=O)
    x = np.random.default_rng(3).standard_normal((T, N, I), dtype=np.float32)
    _, _, out_ref = m(x)
    out = np.empty((T, N, O), np.float32)
    m.forward(x, out=out)
    np.testing.assert_array_equal(out, out_ref)


def test_repeated_shapes_reuse_one_plan(model, x):
    first = model(x)
    for _ in range(3):
        again = model(x)
    np.testing.assert_array_equal(first[0], again[0])
    model(x[:2])
    assert {k[:2] for k in model._plans} >= {(T, N), (2, N)}


def test_threads_share_a_model(model):
    rng = np.random.default_rng(4)
    inputs = [rng.standard_normal((T, N, I), dtype=np.float32) for _ in range(4)]
    expected = [model(xi, num_threads=1)[0] for xi in inputs]
    failures = []

    def work(k):
        for _ in range(25):
            if not np.array_equal(model(inputs[k], num_threads=1)[0], expected[k]):
                failures.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_isa_and_version(model):
    assert model.isa in ("scalar", "avx2", "avx2_vnni", "avx512", "avx512_vnni", "avx512_bf16")
    assert simdrnn.version().count(".") == 2
    assert os.path.isfile(simdrnn.library_path())


# ---- streams ------------------------------------------------------------------------------
def test_stream_chunks_match_whole_sequence(x):
    m = make_model(layers=2, output_size=O)
    h0 = np.random.default_rng(5).standard_normal((2, N, H), dtype=np.float32)
    y_ref, h_ref, out_ref = m(x, h0=h0)
    with simdrnn.Stream(m, N, max_steps=3) as s:
        s.reset(h0)
        y1, out1 = s.step(x[:3])
        y2, out2 = s.step(x[3])  # [N, I]: one step
        y3, out3 = s.step(x[4:])
        np.testing.assert_array_equal(np.concatenate([y1, y2[None], y3]), y_ref)
        np.testing.assert_array_equal(np.concatenate([out1, out2[None], out3]), out_ref)
        np.testing.assert_array_equal(s.state(), h_ref)
        s.reset()
        np.testing.assert_array_equal(s.state(), np.zeros((2, N, H), np.float32))
        with raises(r"steps: expected 1\.\.max_steps \(3\), got 5"):
            s.step(x)


def test_stream_batch_first(x):
    m = make_model(batch_first=True)
    xb = np.ascontiguousarray(x.transpose(1, 0, 2))
    y_ref, _ = m(xb)
    s = simdrnn.Stream(m, N, max_steps=4)
    ys = [s.step(xb[:, :1]), s.step(xb[:, 1:])]
    np.testing.assert_array_equal(np.concatenate(ys, axis=1), y_ref)


def test_stream_rejects_bidirectional():
    with pytest.raises(simdrnn.Error, match="unidirectional") as e:
        simdrnn.Stream(make_model(bidirectional=True), N, 4)
    assert e.value.status == simdrnn.Status.UNSUPPORTED


# ---- training -----------------------------------------------------------------------------
def test_params_round_trip_and_offsets():
    m = make_model(layers=2, output_size=O)
    w = rnn_weights(layers=2, output_size=O)
    params = m.get_params()
    assert params.shape == (m.num_params,) == (sum(a.size for a in w.values()),)
    for name, tensor in w.items():
        offset, count = m.param_offset(name)
        np.testing.assert_array_equal(params[offset:offset + count], tensor.ravel())
    assert m.param_offset("weight_hr_l0") == (-1, 0)
    m.set_params(params * 2)
    np.testing.assert_array_equal(m.get_params(), params * 2)
    with raises(r"^params: expected shape"):
        m.set_params(params[:-1])


@pytest.mark.parametrize("bidirectional,lengths", [(False, None), (True, [5, 2, 3])])
def test_backward_matches_torch_autograd(bidirectional, lengths):
    torch.manual_seed(6)
    rnn = torch.nn.RNN(I, H, num_layers=2, bidirectional=bidirectional)
    head = torch.nn.Linear((2 if bidirectional else 1) * H, O)
    model = simdrnn.from_torch(rnn, head)
    x, h0, _, lens = ref.inputs(rnn, T, N, lengths, True, seed=7)
    (y, h_n, out), tape = model.forward_training(x, h0=h0, lengths=lens)
    rng = np.random.default_rng(8)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    dout = rng.standard_normal(out.shape, dtype=np.float32)
    dh_n = rng.standard_normal(h_n.shape, dtype=np.float32)
    g = model.backward(tape, dy=dy, dout=dout, dh_n=dh_n)
    ref.assert_gradients(model, g, ref.gradients(rnn, head, x, h0, None, lens, dy, dout, dh_n, None))

    again = model.backward(tape, dy=dy, dout=dout, dh_n=dh_n, grads=g.params.copy(), accumulate=True,
                           inputs=False)
    np.testing.assert_allclose(again.params, 2 * g.params, rtol=1e-6, atol=1e-7)
    assert again.x is None and again.h0 is None


def test_backward_rejects_stale_tape(x):
    m = make_model()
    _, tape = m.forward_training(x)
    m.set_params(m.get_params())
    with raises(r"simdrnn_backward: args->reserve: expected one filled by simdrnn_forward_training with this model"):
        m.backward(tape, dy=np.ones((T, N, H), np.float32))
    with raises(r"^tape: expected the Tape"):
        make_model().backward(tape)


def test_optimisers_match_torch():
    rng = np.random.default_rng(9)
    p0 = rng.standard_normal(1000, dtype=np.float32)
    grads = [rng.standard_normal(1000, dtype=np.float32) for _ in range(3)]

    p, v = p0.copy(), np.zeros_like(p0)
    tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = torch.optim.SGD([tp], lr=0.1, momentum=0.9, weight_decay=0.01)
    for g in grads:
        simdrnn.sgd_step(p, g, v, lr=0.1, momentum=0.9, weight_decay=0.01)
        tp.grad = torch.from_numpy(g.copy())
        opt.step()
    ref.assert_close(p, tp.detach().numpy(), "sgd")

    p, m1, m2 = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = torch.optim.Adam([tp], lr=0.01, weight_decay=0.01)
    for step, g in enumerate(grads, 1):
        simdrnn.adam_step(p, g, m1, m2, step, lr=0.01, weight_decay=0.01)
        tp.grad = torch.from_numpy(g.copy())
        opt.step()
    ref.assert_close(p, tp.detach().numpy(), "adam")

    g = grads[0].copy()
    tg = torch.nn.Parameter(torch.zeros(1000))
    tg.grad = torch.from_numpy(grads[0].copy())
    norm = simdrnn.clip_grad_norm(g, 1.0)
    torch_norm = torch.nn.utils.clip_grad_norm_([tg], 1.0)
    assert abs(norm - float(torch_norm)) <= 1e-5 * float(torch_norm)
    ref.assert_close(g, tg.grad.numpy(), "clipped")

    with raises(r"^velocity: expected 1000 floats \(as params\), got 999"):
        simdrnn.sgd_step(p, g, v[:-1], lr=0.1)
    with raises(r"simdrnn_adam_step: step: expected >= 1, got 0"):
        simdrnn.adam_step(p, g, m1, m2, 0, lr=0.1)


# ---- discovery and packaging ------------------------------------------------------------
def run_python(code, env_update, cwd):
    env = dict(os.environ, **env_update)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True)


def test_missing_library_is_a_clear_error(tmp_path):
    r = run_python("import simdrnn; simdrnn.version()",
                   {"SIMDRNN_LIBRARY": str(tmp_path / "nope.so"), "PYTHONPATH": str(REPO / "python")}, tmp_path)
    assert r.returncode != 0
    assert "set SIMDRNN_LIBRARY" in r.stderr and "nope.so (absent)" in r.stderr


def test_pip_installs_offline(tmp_path):
    """pip install --no-build-isolation --no-deps of a copy of python/ (pip builds in the
    source directory), with libsimdrnn.so placed beside the package: the installed package
    finds it without SIMDRNN_LIBRARY."""
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        pytest.skip("pip is not installed for this python")
    src = tmp_path / "src"
    shutil.copytree(REPO / "python", src, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    lib = simdrnn.library_path()
    shutil.copy(lib, src / "simdrnn" / "libsimdrnn.so")
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                        "--quiet", "--target", str(target), str(src)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    env = {k: v for k, v in os.environ.items() if k != "SIMDRNN_LIBRARY"}
    env["PYTHONPATH"] = str(target)
    r = subprocess.run([sys.executable, "-c", "import simdrnn; print(simdrnn.__file__, simdrnn.library_path())"],
                       env=env, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    module_file, library = r.stdout.split()
    assert module_file.startswith(str(target)) and library == str(target / "simdrnn" / "libsimdrnn.so")
