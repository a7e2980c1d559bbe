#!/usr/bin/env python3
"""Run a PyTorch nn.RNN through simdrnn from Python, with the simdrnn package (python/).

    python3 examples/torch_ctypes.py [path/to/libsimdrnn.so]

The library path comes from argv[1], else the package's own search ($SIMDRNN_LIBRARY,
beside the package, <checkout>/build/libsimdrnn.so, the dynamic loader). The package is
imported from python/ beside this script unless it is installed. The script builds a
simdrnn model from a 2-layer bidirectional tanh nn.RNN with an nn.Linear head
(simdrnn.from_torch), runs the same inputs through both (with and without per-sequence
lengths and h0) and compares y, h_n and the head's output; then it streams the
sequence step by step through a unidirectional model. It prints "OK max_abs_err=..."
and exits 0 when everything agrees to 1e-5, 1 when not or a call fails, and 77 when
torch or numpy is missing (ctest reads 77 as "skipped").
"""
import os
import sys
from pathlib import Path

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"SKIP: this example needs torch and numpy ({e})")
    sys.exit(77)

if len(sys.argv) > 1:
    os.environ["SIMDRNN_LIBRARY"] = sys.argv[1]
try:
    import simdrnn
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
    import simdrnn

TOLERANCE = 1e-5


def torch_forward(rnn, head, x, h0=None, lengths=None):
    """torch's y, h_n and head(y), with simdrnn's conventions for padding (zeros)."""
    with torch.no_grad():
        x = torch.from_numpy(x)
        h0 = None if h0 is None else torch.from_numpy(h0)
        if lengths is None:
            y, h_n = rnn(x, h0)
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.as_tensor(lengths), enforce_sorted=False)
            y, h_n = rnn(packed, h0)  # h_n comes back in the original batch order
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=x.shape[0])
        out = head(y)
        if lengths is not None:  # simdrnn's output layer leaves padding steps at 0
            out *= (torch.arange(x.shape[0])[:, None] < torch.as_tensor(lengths))[..., None]
    return y.numpy(), h_n.numpy(), out.numpy()


def main():
    try:
        print(f"simdrnn {simdrnn.version()} ({simdrnn.library_path()}), isa {simdrnn.active_isa()}")
    except OSError as e:
        print(f"FAIL: {e}")
        return 1

    torch.manual_seed(0)
    L, D, I, H, O = 2, 2, 10, 20, 3
    rnn = torch.nn.RNN(I, H, num_layers=L, bidirectional=True, nonlinearity="tanh").eval()
    head = torch.nn.Linear(D * H, O).eval()
    T, N = 7, 4
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, I), dtype=np.float32)
    h0 = (0.5 * rng.standard_normal((L * D, N, H))).astype(np.float32)
    lengths = np.array([5, 7, 1, 3], dtype=np.int64)  # unsorted, each in 1..T

    worst = 0.0
    ok = True
    try:
        model = simdrnn.from_torch(rnn, head)  # sizes, layers, direction, activation from the module
        for label, kwargs in [("h0 + lengths", dict(h0=h0, lengths=lengths)),
                              ("h0, no lengths", dict(h0=h0)),
                              ("zero h0, no lengths", dict())]:
            y, h_n, out = model(x, **kwargs)  # with an output layer: (y, h_n, out)
            expected = torch_forward(rnn, head, x, **kwargs)
            errors = [float(np.max(np.abs(a - b))) for a, b in zip((y, h_n, out), expected)]
            print(f"  {label:20s} y err {errors[0]:.3e}  h_n err {errors[1]:.3e}  out err {errors[2]:.3e}")
            worst = max(worst, *errors)
            ok &= all(e < TOLERANCE for e in errors)  # also catches NaN
            if "lengths" in kwargs:  # padding steps must be exactly zero
                for n, length in enumerate(lengths):
                    if np.any(y[length:, n]) or np.any(out[length:, n]):
                        print(f"  padding of sequence {n} (t >= {length}) is not zero")
                        ok = False

        # Step by step: a stream carries h across calls (unidirectional models only).
        uni = torch.nn.RNN(I, H, num_layers=L).eval()
        y_full, _ = simdrnn.from_torch(uni)(x)
        stream = simdrnn.Stream(simdrnn.from_torch(uni), batch=N, max_steps=1)
        y_steps = np.stack([stream.step(x[t]) for t in range(T)])  # x[t] is [N, I]: one step
        identical = np.array_equal(y_steps, y_full)
        print(f"  stream, {T} steps of 1: {'bit-identical to' if identical else 'DIFFERS from'} the whole call")
        ok &= identical
    except simdrnn.Error as e:
        print(f"FAIL: {e}")
        return 1

    if not ok:
        print(f"FAIL: simdrnn and torch differ: max_abs_err={worst:.3e} (tolerance {TOLERANCE})")
        return 1
    print(f"OK max_abs_err={worst:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
