"""simdrnn.load of an .onnx file (through libsimdrnn_onnx.so): torch.nn.RNN / LSTM / GRU
exported by torch.onnx.export, loaded as a Model and called as the torch module is, outputs
and final states compared with torch; a graph simdrnn cannot import raises simdrnn.Error
naming the node.
"""
import numpy as np
import pytest
import torch

import simdrnn

pytest.importorskip("onnx")  # torch.onnx.export needs it

CASES = {
    "rnn_relu": lambda: torch.nn.RNN(4, 7, nonlinearity="relu"),
    "rnn_batch_first": lambda: torch.nn.RNN(4, 7, batch_first=True),
    "lstm_2layers": lambda: torch.nn.LSTM(5, 8, num_layers=2),
    "lstm_bidir_batch_first": lambda: torch.nn.LSTM(5, 6, bidirectional=True, batch_first=True),
    "gru_bidir_2layers": lambda: torch.nn.GRU(5, 6, num_layers=2, bidirectional=True),
}


def export(module, x, path):
    torch.onnx.export(module, (x,), str(path))


@pytest.mark.parametrize("kind", CASES)
def test_exported_module_matches_torch(kind, tmp_path):
    torch.manual_seed(1)
    module = CASES[kind]().eval()
    T, N = 6, 3
    x = torch.randn(N, T, module.input_size) if module.batch_first else torch.randn(T, N, module.input_size)
    path = tmp_path / f"{kind}.onnx"
    export(module, x, path)
    model = simdrnn.load(path)
    assert model.batch_first == module.batch_first  # the graph's layout, by default
    with torch.no_grad():
        want_y, want_state = module(x)
    got_y, got_state = model(x.numpy())
    np.testing.assert_allclose(got_y, want_y.numpy(), atol=1e-5, rtol=1e-5)
    if isinstance(want_state, tuple):  # LSTM: (h_n, c_n)
        for g, w in zip(got_state, want_state):
            np.testing.assert_allclose(g, w.numpy(), atol=1e-5, rtol=1e-5)
    else:
        np.testing.assert_allclose(got_state, want_state.numpy(), atol=1e-5, rtol=1e-5)
    # The same weights as the module's, under their PyTorch names.
    params = model.get_params()
    for name, value in module.state_dict().items():
        offset, count = model.param_offset(name)
        assert np.array_equal(params[offset:offset + count], value.numpy().ravel()), name


def test_unsupported_graph_names_the_node(tmp_path):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.GRU(3, 4)

        def forward(self, x):
            return torch.relu(self.rnn(x)[0])

    path = tmp_path / "relu.onnx"
    export(Net().eval(), torch.randn(5, 2, 3), path)
    with pytest.raises(simdrnn.Error, match="Relu") as e:
        simdrnn.load(path)
    assert e.value.status == simdrnn.Status.UNSUPPORTED


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(simdrnn.Error, match="simdrnn_onnx_load"):
        simdrnn.load(tmp_path / "none.onnx")
