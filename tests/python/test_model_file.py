"""The model file from Python: Model.save / to_bytes, simdrnn.load / load_bytes.

Models converted from torch modules round-trip bit for bit (config, parameters, outputs),
and the file is a standard safetensors file: Debian 12 has no python3-safetensors, so a
ten-line reader written from the format's description (an 8-byte little-endian header
length, a JSON header, raw little-endian data) reads it here, and its tensors load into
the torch module the model came from.
"""
import json
import struct

import numpy as np
import pytest
import torch

import simdrnn


def read_safetensors(data):
    """{name: np.ndarray} and the __metadata__ of a safetensors file's bytes."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], "<f4").reshape(info["shape"])
    return tensors, metadata


MODULES = {
    "rnn_relu_bidir": lambda: (torch.nn.RNN(3, 5, num_layers=2, nonlinearity="relu", bidirectional=True), None),
    "rnn_head": lambda: (torch.nn.RNN(3, 4), torch.nn.Linear(4, 2)),
    "lstm_proj_bidir": lambda: (torch.nn.LSTM(3, 6, num_layers=2, proj_size=2, bidirectional=True), None),
    "lstm_no_bias_head": lambda: (torch.nn.LSTM(2, 3, bias=False), torch.nn.Linear(3, 2, bias=False)),
    "gru": lambda: (torch.nn.GRU(4, 3, num_layers=2), None),
}


@pytest.fixture(params=sorted(MODULES))
def torch_model(request):
    torch.manual_seed(7)
    module, head = MODULES[request.param]()
    return request.param, module, head, simdrnn.from_torch(module, head, clip=0.5 if request.param == "gru" else 0.0)


def test_round_trip_bit_for_bit(torch_model, tmp_path):
    _, _, _, model = torch_model
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = simdrnn.load(path)
    assert loaded.config == model.config
    assert loaded.get_params().tobytes() == model.get_params().tobytes()
    x = np.random.default_rng(3).standard_normal((5, 2, model.config.input_size)).astype(np.float32)
    want, got = model(x, lengths=[5, 3]), loaded(x, lengths=[5, 3])
    flat = lambda r: [a for part in r for a in (part if isinstance(part, tuple) else (part,))]  # noqa: E731
    for a, b in zip(flat(want), flat(got)):
        assert a.tobytes() == b.tobytes()
    assert path.read_bytes() == model.to_bytes()
    assert simdrnn.load_bytes(model.to_bytes()).get_params().tobytes() == model.get_params().tobytes()
    assert simdrnn.load(str(path), batch_first=True).batch_first


def test_file_is_standard_safetensors(torch_model):
    kind, module, head, model = torch_model
    tensors, metadata = read_safetensors(model.to_bytes())
    assert metadata["simdrnn.cell"] == model.config.cell.name.lower()
    assert metadata["simdrnn.hidden_size"] == str(model.config.hidden_size)
    assert metadata["simdrnn.format_version"] == "1"
    assert all(isinstance(v, str) for v in metadata.values())
    # Every tensor under its PyTorch name and shape, equal to the module's.
    state = module.state_dict()
    expected = set(state)
    if head is not None:
        expected |= {"weight_hy"} | ({"bias_hy"} if head.bias is not None else set())
    assert set(tensors) == expected
    for name, value in state.items():
        assert tensors[name].shape == tuple(value.shape), name
        assert np.array_equal(tensors[name], value.numpy()), name
    if head is not None:
        assert np.array_equal(tensors["weight_hy"], head.weight.detach().numpy())
    # ... so the file loads into a fresh module of the same kind (other initial weights).
    torch.manual_seed(8)
    fresh, _ = MODULES[kind]()
    fresh.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items() if k in state})
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_errors(torch_model, tmp_path):
    _, _, _, model = torch_model
    data = model.to_bytes()
    with pytest.raises(simdrnn.Error, match=r"simdrnn_model_load_from_memory: model file: header length \d+ runs "
                                            r"past the end of the file \(100 bytes; truncated\?\)") as e:
        simdrnn.load_bytes(data[:100])
    assert e.value.status == simdrnn.Status.INVALID_ARGUMENT
    with pytest.raises(simdrnn.Error, match="at least 8 bytes"):
        simdrnn.load_bytes(b"")
    with pytest.raises(simdrnn.Error, match=r"bytes after the last tensor"):
        simdrnn.load_bytes(data + b"\0\0\0\0")
    missing = tmp_path / "none.safetensors"
    with pytest.raises(simdrnn.Error, match=r"cannot open: No such file"):
        simdrnn.load(missing)
    with pytest.raises(simdrnn.Error, match=r"cannot create"):
        model.save(tmp_path / "no_dir" / "m.safetensors")
    with pytest.raises(simdrnn.Error, match=r"path: expected a file name"):
        model.save(3)
    with pytest.raises(simdrnn.Error, match=r"data: expected bytes"):
        simdrnn.load_bytes(3)
    with pytest.raises(simdrnn.Error, match="simdrnn_onnx_load"):  # an .onnx file goes to the importer
        simdrnn.load(tmp_path / "model.onnx")
    model.close()
    with pytest.raises(simdrnn.Error, match="expected a live model"):
        model.save(tmp_path / "closed.safetensors")
