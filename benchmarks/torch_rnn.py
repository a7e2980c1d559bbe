#!/usr/bin/env python3
"""Times torch.nn.RNN (tanh, one layer, inference) on the throughput shapes and
one latency shape, as a reference point beside simdrnn-bench's tables:

    OMP_PROC_BIND=close OMP_PLACES=cores python3 benchmarks/torch_rnn.py [threads]

Prints the median of 7 calls per shape in microseconds. It measures whatever
PyTorch is installed (the Debian package python3-torch builds against a
generic BLAS), so read it beside the build information it prints first."""
import statistics
import sys
import time

import torch

SHAPES = [(50, 64, 1024), (25, 32, 1760), (50, 16, 1024), (50, 1, 512)]  # (T, N, H), I = H


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    blas = [line.strip() for line in torch.__config__.show().splitlines() if "BLAS_INFO" in line]
    print("torch %s, %d threads; %s" % (torch.__version__, torch.get_num_threads(),
                                        blas[0].split("BLAS_INFO=")[1].split(",")[0] if blas else "BLAS ?"))
    torch.manual_seed(0)
    for T, N, H in SHAPES:
        rnn = torch.nn.RNN(H, H, 1)
        x, h0 = torch.randn(T, N, H), torch.randn(1, N, H)
        with torch.inference_mode():
            for _ in range(2):
                rnn(x, h0)
            times = []
            for _ in range(7):
                start = time.perf_counter()
                rnn(x, h0)
                times.append(time.perf_counter() - start)
        print("t%dn%di%dh%d  %.0f us" % (T, N, H, H, statistics.median(times) * 1e6), flush=True)


if __name__ == "__main__":
    main()
