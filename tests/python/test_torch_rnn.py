"""torch.nn.RNN (tanh, relu; 1-2 layers; bidirectional; batch_first; lengths; h0; with and
without bias; with and without an nn.Linear head) against simdrnn.from_torch: outputs,
final states and the head's output, to 1e-5 of each tensor's scale."""
import itertools
import zlib

import numpy as np
import pytest
import torch

import simdrnn
import torch_reference as ref

T, N, I, H, O = 6, 3, 5, 7, 4
LENGTHS = [4, 6, 1]  # unsorted, each in 1..T

CASES = list(itertools.product(["tanh", "relu"], [1, 2], [False, True], [False, True], [False, True],
                               [False, True], [True, False], [False, True]))


def case_id(case):
    nonlin, layers, bidir, batch_first, lengths, h0, bias, head = case
    return "-".join([nonlin, f"l{layers}", "bi" if bidir else "uni", "bf" if batch_first else "tf",
                     "lens" if lengths else "full", "h0" if h0 else "zero", "bias" if bias else "nobias",
                     "head" if head else "nohead"])


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_rnn_matches_torch(case):
    nonlin, layers, bidir, batch_first, use_lengths, use_h0, bias, use_head = case
    torch.manual_seed(zlib.crc32(case_id(case).encode()))
    rnn = torch.nn.RNN(I, H, num_layers=layers, nonlinearity=nonlin, bias=bias, batch_first=batch_first,
                       bidirectional=bidir).eval()
    head = torch.nn.Linear((2 if bidir else 1) * H, O).eval() if use_head else None
    x, h0, _, lengths = ref.inputs(rnn, T, N, LENGTHS if use_lengths else None, use_h0, seed=len(case_id(case)))
    model = simdrnn.from_torch(rnn, head)
    assert model.batch_first == batch_first
    assert model.config.num_layers == layers and model.config.bidirectional == bidir
    expected = ref.run(rnn, x, h0=h0, lengths=lengths, head=head)
    result = model(x, h0=h0, lengths=lengths)
    ref.assert_result(result, expected, lstm=False, has_head=use_head)
    if use_lengths:  # padding steps are exactly zero
        y = result[0] if batch_first else result[0].transpose(1, 0, 2)
        for n, length in enumerate(LENGTHS):
            assert not np.any(y[n, length:])


def test_rnn_without_bias_has_no_bias_params():
    rnn = torch.nn.RNN(I, H, bias=False)
    model = simdrnn.from_torch(rnn)
    assert model.param_offset("bias_ih_l0") == (-1, 0)
    assert model.num_params == H * I + H * H


def test_torch_tensors_are_accepted_as_inputs():
    torch.manual_seed(1)
    rnn = torch.nn.RNN(I, H, num_layers=2).eval()
    x = torch.randn(T, N, I)
    h0 = torch.randn(2, N, H)
    y, h_n = simdrnn.from_torch(rnn)(x, h0=h0, lengths=torch.tensor(LENGTHS))
    y_ref, h_ref, _ = ref.run(rnn, x.numpy(), h0=h0.numpy(), lengths=np.array(LENGTHS))
    ref.assert_close(y, y_ref, "y")
    ref.assert_close(h_n, h_ref, "h_n")
