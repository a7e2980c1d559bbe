#!/usr/bin/env python3
"""Per-call overhead of the simdrnn package over the bare C call, both made from Python.

    /usr/bin/python3 python/tools/call_overhead.py [--calls 20000] [--repeats 7]

The model is tiny (I = H = 8, one layer, T = N = 1, one thread) so that the library's
own work is a fraction of a microsecond and what remains is call overhead. The baseline
is simdrnn_forward (or simdrnn_stream_step) called through ctypes with an argument struct
and buffers prepared once: the least any Python caller pays, ctypes' own cost included.
Each row is the best (min) and the median, over --repeats runs, of the mean time per call
over --calls calls; "over C" subtracts the baseline's min from the row's min.
"""
import argparse
import sys
import timeit
from pathlib import Path

import numpy as np

try:
    import simdrnn
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import simdrnn
from simdrnn import _capi
from simdrnn._arrays import address


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    opts = parser.parse_args()

    I = H = 8
    rng = np.random.default_rng(0)
    weights = {"weight_ih_l0": rng.standard_normal((H, I), dtype=np.float32),
               "weight_hh_l0": rng.standard_normal((H, H), dtype=np.float32),
               "bias_ih_l0": rng.standard_normal(H, dtype=np.float32)}
    model = simdrnn.Model(simdrnn.Config(input_size=I, hidden_size=H), weights)
    lib = _capi.load()
    x = rng.standard_normal((1, 1, I), dtype=np.float32)
    x2 = x.reshape(1, I)
    h0 = np.zeros((1, 1, H), np.float32)
    lengths = np.ones(1, np.int64)
    y = np.empty((1, 1, H), np.float32)
    h_n = np.empty((1, 1, H), np.float32)

    # The baseline: one prepared struct, buffers and workspace, then only the C call.
    args = _capi.simdrnn_forward_args()
    args.seq_len, args.batch, args.layout = 1, 1, _capi.Layout.TIME_MAJOR
    args.x, args.y, args.h_n, args.num_threads = address(x), address(y), address(h_n), 1
    sizes = _capi.simdrnn_sizes()
    lib.check(lib.simdrnn_forward_sizes(model.handle, args, sizes))
    workspace = np.empty(max(sizes.workspace, 1), np.uint8)
    args.workspace, args.workspace_size = address(workspace), sizes.workspace
    c_forward, handle = lib.simdrnn_forward, model.handle
    stream = simdrnn.Stream(model, 1, 1)
    c_step, stream_handle = lib.simdrnn_stream_step, stream._handle
    y_step = np.empty((1, 1, H), np.float32)
    x_address, y_step_address = address(x), address(y_step)
    for status in (c_forward(handle, args), c_step(stream_handle, 1, x_address, y_step_address, None, 1)):
        lib.check(status)

    rows = [
        ("C: simdrnn_forward via ctypes, prepared args", "c_forward(handle, args)", None),
        ("model.forward(x, y=y, h_n=h_n)", "model.forward(x, y=y, h_n=h_n, num_threads=1)", 0),
        ("model(x) -> (y, h_n), new arrays", "model(x, num_threads=1)", 0),
        ("model(x, h0=h0, lengths=lengths)", "model(x, h0=h0, lengths=lengths, num_threads=1)", 0),
        ("C: simdrnn_stream_step via ctypes", "c_step(stream_handle, 1, x_address, y_step_address, None, 1)", None),
        ("stream.step(x[N, I]) -> new y", "stream.step(x2, num_threads=1)", 4),
    ]
    namespace = dict(globals(), **locals())
    print(f"simdrnn {simdrnn.version()}, isa {model.isa}, python {sys.version.split()[0]}, numpy {np.__version__}; "
          f"I = H = 8, T = N = 1, 1 thread; {opts.calls} calls x {opts.repeats} repeats")
    print(f"{'call':48s} {'min us':>8s} {'median':>8s} {'over C':>8s}")
    base = None
    for label, stmt, base_row in rows:
        times = sorted(t / opts.calls * 1e6 for t in timeit.repeat(stmt, globals=namespace, number=opts.calls,
                                                                   repeat=opts.repeats))
        best, median = times[0], times[len(times) // 2]
        if base_row is None:
            base = best
            over = ""
        else:
            over = f"{best - base:+8.2f}"
        print(f"{label:48s} {best:8.2f} {median:8.2f} {over:>8s}")


if __name__ == "__main__":
    main()
