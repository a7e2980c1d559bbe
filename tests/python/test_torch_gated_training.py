"""Training calls on LSTM (with and without proj_size) and GRU models against torch
autograd: forward_training then backward with dy, dout, dh_n (and dc_n), every gradient
(parameters by name, x, h0, c0) to 1e-5 of its scale.

While the library answers SIMDRNN_UNSUPPORTED (gated cells, or training them), each case
reports XFAIL with its message (conftest.cell_engine); they must pass once it does not.
"""
import itertools

import numpy as np
import pytest
import torch

import simdrnn
import torch_reference as ref
from conftest import cell_engine

T, N, I, H, P, O = 5, 3, 4, 6, 3, 2
CASES = list(itertools.product(["LSTM", "LSTM-proj", "GRU"], [False, True], [None, [5, 2, 3]]))


@pytest.mark.parametrize("cell,bidirectional,lengths", CASES,
                         ids=[f"{c}-{'bi' if b else 'uni'}-{'lens' if l else 'full'}" for c, b, l in CASES])
def test_backward_matches_torch_autograd(cell, bidirectional, lengths):
    torch.manual_seed(11)
    if cell == "GRU":
        module = torch.nn.GRU(I, H, num_layers=2, bidirectional=bidirectional)
    else:
        module = torch.nn.LSTM(I, H, num_layers=2, bidirectional=bidirectional,
                               proj_size=P if cell == "LSTM-proj" else 0)
    lstm = cell != "GRU"
    width = (2 if bidirectional else 1) * (P if cell == "LSTM-proj" else H)
    head = torch.nn.Linear(width, O)
    x, h0, c0, lens = ref.inputs(module, T, N, lengths, True, seed=12)
    with cell_engine(cell.split("-")[0]):
        model = simdrnn.from_torch(module, head)
        (y, state, out), tape = model.forward_training(x, h0=h0, c0=c0, lengths=lens)
    h_n, c_n = state if lstm else (state, None)
    rng = np.random.default_rng(13)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    dout = rng.standard_normal(out.shape, dtype=np.float32)
    dh_n = rng.standard_normal(h_n.shape, dtype=np.float32)
    dc_n = rng.standard_normal(c_n.shape, dtype=np.float32) if lstm else None
    with cell_engine(cell.split("-")[0]):
        g = model.backward(tape, dy=dy, dout=dout, dh_n=dh_n, dc_n=dc_n)
    ref.assert_gradients(model, g, ref.gradients(module, head, x, h0, c0, lens, dy, dout, dh_n, dc_n))
