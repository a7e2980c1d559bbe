"""torch.nn.LSTM (with and without proj_size) and torch.nn.GRU against simdrnn.from_torch:
layers, bidirectional, batch_first, lengths (pack_padded_sequence on the torch side),
h0 / c0, bias, an nn.Linear head; outputs and final states to 1e-5 of their scale.

Until the engine provides these cells the library answers SIMDRNN_UNSUPPORTED and every
case here reports XFAIL with its message (conftest.cell_engine); they must pass after.
"""
import itertools
import zlib

import numpy as np
import pytest
import torch

import simdrnn
import torch_reference as ref
from conftest import cell_engine

T, N, I, H, P, O = 6, 3, 5, 7, 4, 3
LENGTHS = [4, 6, 1]

LSTM_CASES = list(itertools.product([0, P], [1, 2], [False, True], [False, True], [False, True], [False, True],
                                    [True, False], [False, True]))
GRU_CASES = list(itertools.product([None], [1, 2], [False, True], [False, True], [False, True], [False, True],
                                   [True, False], [False, True]))


def case_id(case):
    proj, layers, bidir, batch_first, lengths, state, bias, head = case
    parts = [] if proj is None else [f"proj{proj}" if proj else "noproj"]
    return "-".join(parts + [f"l{layers}", "bi" if bidir else "uni", "bf" if batch_first else "tf",
                             "lens" if lengths else "full", "state" if state else "zero",
                             "bias" if bias else "nobias", "head" if head else "nohead"])


def check_against_torch(module, case):
    _, _, bidir, batch_first, use_lengths, use_state, _, use_head = case
    lstm = isinstance(module, torch.nn.LSTM)
    width = (2 if bidir else 1) * ((getattr(module, "proj_size", 0) or 0) or H)
    head = torch.nn.Linear(width, O).eval() if use_head else None
    x, h0, c0, lengths = ref.inputs(module, T, N, LENGTHS if use_lengths else None, use_state,
                                    seed=zlib.crc32(case_id(case).encode()))
    expected = ref.run(module, x, h0=h0, c0=c0, lengths=lengths, head=head)
    with cell_engine("LSTM" if lstm else "GRU"):
        model = simdrnn.from_torch(module, head)
        result = model(x, h0=h0, c0=c0, lengths=lengths)
    assert model.batch_first == batch_first
    ref.assert_result(result, expected, lstm=lstm, has_head=use_head)
    if use_lengths:
        y = result[0] if batch_first else result[0].transpose(1, 0, 2)
        for n, length in enumerate(LENGTHS):
            assert not np.any(y[n, length:]), f"padding of sequence {n} is not zero"


@pytest.mark.parametrize("case", LSTM_CASES, ids=[case_id(c) for c in LSTM_CASES])
def test_lstm_matches_torch(case):
    proj, layers, bidir, batch_first, _, _, bias, _ = case
    torch.manual_seed(zlib.crc32(case_id(case).encode()))
    lstm = torch.nn.LSTM(I, H, num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir,
                         proj_size=proj).eval()
    check_against_torch(lstm, case)


@pytest.mark.parametrize("case", GRU_CASES, ids=[case_id(c) for c in GRU_CASES])
def test_gru_matches_torch(case):
    _, layers, bidir, batch_first, _, _, bias, _ = case
    torch.manual_seed(zlib.crc32(case_id(case).encode()))
    gru = torch.nn.GRU(I, H, num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir).eval()
    check_against_torch(gru, case)


def test_lstm_config_from_torch():
    """What from_torch reads from the module, checked on the Config it builds (no engine needed
    to build a Config; the Model may still be refused)."""
    lstm = torch.nn.LSTM(I, H, num_layers=2, proj_size=P, bidirectional=True, batch_first=True)
    with cell_engine("LSTM"):
        model = simdrnn.from_torch(lstm)
    assert model.config.cell == simdrnn.Cell.LSTM and model.config.proj_size == P
    assert model.config.hidden_out == P and model.batch_first


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_stream_matches_whole_sequence(cell):
    """Streaming an LSTM / GRU in chunks gives the whole call's y and state bit for bit."""
    torch.manual_seed(3)
    module = getattr(torch.nn, cell)(I, H, num_layers=2).eval()
    x, h0, c0, _ = ref.inputs(module, T, N, None, True, seed=4)
    with cell_engine(cell):
        model = simdrnn.from_torch(module)
        y, state = model(x, h0=h0, c0=c0)
        stream = simdrnn.Stream(model, N, max_steps=4)
        stream.reset(h0, c0)
        ys = [stream.step(x[:4]), stream.step(x[4:])]
    np.testing.assert_array_equal(np.concatenate(ys), y)
    if cell == "LSTM":
        h, c = stream.state()
        np.testing.assert_array_equal(h, state[0])
        np.testing.assert_array_equal(c, state[1])
    else:
        np.testing.assert_array_equal(stream.state(), state)
