#!/usr/bin/env python3
"""Plots the loss curve of examples/char_lm.cpp.

usage: plot_loss.py LOSS.csv OUT.png [TARGET [MODEL]]

The CSV has columns step,chars,train_loss,val_loss,unigram,seconds (val_loss
only on validation rows). TARGET (default 0.25) draws the line (1 - TARGET) *
unigram. MODEL (e.g. "LSTM") goes into the title. Exits 3 with a note when
matplotlib is missing.
"""
import csv
import sys


def main():
    if len(sys.argv) not in (3, 4, 5):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed (Debian: python3-matplotlib); no PNG")
        return 3

    target = float(sys.argv[3]) if len(sys.argv) >= 4 else 0.25
    model = sys.argv[4] if len(sys.argv) == 5 else None
    train_x, train_y, val_x, val_y, unigram = [], [], [], [], None
    with open(sys.argv[1], newline="") as f:
        for row in csv.DictReader(f):
            step = int(row["step"])
            if row["train_loss"]:
                train_x.append(step)
                train_y.append(float(row["train_loss"]))
            if row["val_loss"]:
                val_x.append(step)
                val_y.append(float(row["val_loss"]))
            if row["unigram"]:
                unigram = float(row["unigram"])

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    ax.plot(train_x, train_y, color="tab:blue", linewidth=1.2, label="train (mean over the logged steps)")
    ax.plot(val_x, val_y, color="tab:orange", marker="o", markersize=4, linewidth=1.8, label="validation")
    if unigram is not None:
        ax.axhline(unigram, color="gray", linestyle="--", linewidth=1.2,
                   label=f"unigram baseline {unigram:.3f}")
        ax.axhline((1 - target) * unigram, color="tab:red", linestyle=":", linewidth=1.2,
                   label=f"target: {100 * target:.0f}% below ({(1 - target) * unigram:.3f})")
    if val_y:
        ax.annotate(f"{val_y[-1]:.3f}", (val_x[-1], val_y[-1]), textcoords="offset points",
                    xytext=(-10, 8), ha="right", color="tab:orange")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy (nats / character)")
    ax.set_title("simdrnn character-level language model" + (f": {model}" if model else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
