"""What torch computes for a module (+ optional nn.Linear head), as numpy, in the
conventions simdrnn's calls return: lengths in the packed meaning (y and out 0 at
padding steps), LSTM state as (h_n, c_n)."""
import numpy as np
import torch

RTOL = 1e-5  # float32 with float32 accumulation on both sides


def run(module, x, h0=None, c0=None, lengths=None, head=None):
    lstm = isinstance(module, torch.nn.LSTM)
    batch_first = module.batch_first
    T = x.shape[1] if batch_first else x.shape[0]
    with torch.no_grad():
        xt = torch.from_numpy(x)
        hx = None
        if h0 is not None or c0 is not None:
            if lstm:
                N = x.shape[0] if batch_first else x.shape[1]
                D = 2 if module.bidirectional else 1
                zeros_h = np.zeros((module.num_layers * D, N, module.proj_size or module.hidden_size), np.float32)
                zeros_c = np.zeros((module.num_layers * D, N, module.hidden_size), np.float32)
                hx = (torch.from_numpy(zeros_h if h0 is None else h0), torch.from_numpy(zeros_c if c0 is None else c0))
            else:
                hx = torch.from_numpy(h0)
        if lengths is None:
            y, state = module(xt, hx)
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.as_tensor(lengths), batch_first=batch_first,
                                                             enforce_sorted=False)
            y, state = module(packed, hx)  # states come back in the original batch order
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=batch_first, total_length=T)
        out = None
        if head is not None:
            out = head(y)
            if lengths is not None:  # simdrnn leaves padding steps at 0, torch at head(0) = bias
                valid = torch.arange(T)[:, None] < torch.as_tensor(lengths)[None, :]  # [T, N]
                out = out * (valid.T if batch_first else valid)[..., None]
    state = tuple(s.numpy() for s in state) if lstm else state.numpy()
    return y.numpy(), state, None if out is None else out.numpy()


def assert_close(actual, expected, what):
    """|actual - expected| <= RTOL * max(1, max|expected|): relative to the tensor's scale."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, torch {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected))))
    err = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    assert err <= RTOL * scale, f"{what}: max abs error {err:.3e} > {RTOL:.0e} x {scale:.3g}"


def assert_result(result, expected, lstm, has_head):
    y_ref, state_ref, out_ref = expected
    assert isinstance(result, tuple) and len(result) == (3 if has_head else 2)
    assert_close(result[0], y_ref, "y")
    if lstm:
        h_n, c_n = result[1]
        assert_close(h_n, state_ref[0], "h_n")
        assert_close(c_n, state_ref[1], "c_n")
    else:
        assert_close(result[1], state_ref, "h_n")
    if has_head:
        assert_close(result[2], out_ref, "out")


def inputs(module, T, N, lengths, with_state, seed):
    """x, h0, c0 and lengths for a module (h0/c0 None unless with_state)."""
    rng = np.random.default_rng(seed)
    I, H = module.input_size, module.hidden_size
    P = getattr(module, "proj_size", 0) or H
    LD = module.num_layers * (2 if module.bidirectional else 1)
    x = rng.standard_normal((N, T, I) if module.batch_first else (T, N, I), dtype=np.float32)
    h0 = c0 = None
    if with_state:
        h0 = (0.5 * rng.standard_normal((LD, N, P))).astype(np.float32)
        if isinstance(module, torch.nn.LSTM):
            c0 = (0.5 * rng.standard_normal((LD, N, H))).astype(np.float32)
    return x, h0, c0, (np.array(lengths, np.int64) if lengths is not None else None)


def gradients(module, head, x, h0, c0, lengths, dy, dout, dh_n, dc_n):
    """torch autograd of sum(y*dy) + sum(out*dout) + sum(h_n*dh_n) + sum(c_n*dc_n) (each
    term only when its d-array is given), with out 0 at padding steps as simdrnn has it.
    Returns (dx, dh0, dc0 or None, {parameter name: gradient}) as numpy; the head's
    parameters are named weight_hy and bias_hy."""
    lstm = isinstance(module, torch.nn.LSTM)
    batch_first = module.batch_first
    T = x.shape[1] if batch_first else x.shape[0]
    module.zero_grad()
    if head is not None:
        head.zero_grad()
    xt = torch.from_numpy(x.copy()).requires_grad_()
    h0t = torch.from_numpy(h0.copy()).requires_grad_()
    c0t = torch.from_numpy(c0.copy()).requires_grad_() if lstm else None
    hx = (h0t, c0t) if lstm else h0t
    if lengths is None:
        y, state = module(xt, hx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.as_tensor(lengths), batch_first=batch_first,
                                                         enforce_sorted=False)
        y, state = module(packed, hx)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=batch_first, total_length=T)
    h_n, c_n = state if lstm else (state, None)
    loss = (y * torch.from_numpy(dy)).sum() + (h_n * torch.from_numpy(dh_n)).sum()
    if dc_n is not None:
        loss = loss + (c_n * torch.from_numpy(dc_n)).sum()
    if head is not None:
        out = head(y)
        if lengths is not None:
            valid = torch.arange(T)[:, None] < torch.as_tensor(lengths)[None, :]
            out = out * (valid.T if batch_first else valid)[..., None]
        loss = loss + (out * torch.from_numpy(dout)).sum()
    loss.backward()
    named = dict(module.named_parameters())
    if head is not None:
        named["weight_hy"] = head.weight
        if head.bias is not None:
            named["bias_hy"] = head.bias
    grads = {name: p.grad.numpy() for name, p in named.items()}
    return xt.grad.numpy(), h0t.grad.numpy(), None if c0t is None else c0t.grad.numpy(), grads


def assert_gradients(model, g, expected):
    """simdrnn's Grads against gradients()'s results, every parameter found by name."""
    dx, dh0, dc0, params = expected
    assert_close(g.x, dx, "dx")
    assert_close(g.h0, dh0, "dh0")
    if dc0 is not None:
        assert_close(g.c0, dc0, "dc0")
    else:
        assert g.c0 is None
    for name, grad in params.items():
        offset, count = model.param_offset(name)
        assert count == grad.size, f"{name}: {count} parameters in simdrnn, {grad.size} in torch"
        assert_close(g.params[offset:offset + count].reshape(grad.shape), grad, f"d{name}")
