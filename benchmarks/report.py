#!/usr/bin/python3
"""Performance report from a simdrnn-bench Google Benchmark JSON file.

    python3 benchmarks/report.py RESULTS.json [--out DIR] [--run-seconds S]
        writes perf-reports/<YYYY-MM-DD>-<cpu>-<commit>[-quick]/ (or DIR):
        report.md, PNG charts and the raw JSON (results.json); prints the path.
        --run-seconds: how long simdrnn-bench ran (run.sh measures it), kept in
        results.json's context as run_seconds and stated in the report.
    python3 benchmarks/report.py --readme [REPORT_DIR]
        rewrites README.md between <!-- perf-table:begin --> and
        <!-- perf-table:end --> from REPORT_DIR (default: the newest full-run
        report under perf-reports/, by the date its JSON records). A quick
        run's report is refused: its numbers do not stand for the table.

Every number comes from the JSON: the benchmarks' medians (or their single
run), their counters, and the context simdrnn-bench records (machine, build,
roofline constants). Needs only Debian's python3 and python3-matplotlib.
"""

import argparse
import datetime
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORTS = os.path.join(ROOT, "perf-reports")
README = os.path.join(ROOT, "README.md")
BEGIN, END = "<!-- perf-table:begin -->", "<!-- perf-table:end -->"
RAW_NAME = "results.json"

# Suites in report order; a suite the JSON lacks is left out, one it has that
# is not listed here comes after these.
SUITE_ORDER = ["latency", "batch", "throughput", "layers", "stream", "training", "lstm_latency", "gru_latency",
               "lstm_throughput", "gru_throughput", "lstm_training", "gru_training", "custom"]
SUITE_TEXT = {
    "latency": "one sequence (N = 1, T = 50): the recurrence is a matrix-vector product per step, "
               "bound by reading W_hh from the cache level it sits in.",
    "batch": "small batches (T = 50): still W_hh traffic per step, with N rows sharing it.",
    "throughput": "large batches: the per-step product is a GEMM bound by FMA throughput.",
    "layers": "2 layers, bidirectional, and both, at H = 512. oneDNN runs a 2-layer unidirectional stack "
              "and a 1-layer bidirectional layer as one primitive; a 2-layer bidirectional stack runs "
              "one primitive per layer, because oneDNN's multi-layer bidirectional_concat feeds each "
              "direction of layer 2 with only the same direction of layer 1 (not PyTorch's semantics).",
    "stream": "one step through the streaming API (`simdrnn_stream_step`, `simdrnn_step`) at N = 1, "
              "beside the per-step time inside a full T = 50 call (`simdrnn_seq`), oneDNN's primitive "
              "over one step (`onednn_step`) and over the sequence (`onednn_seq`), and the sgemm loop "
              "over one step (`gemmloop_step`). All times are per step.",
    "training": "one training iteration: `simdrnn_forward_training` + `simdrnn_backward` (all weight, bias "
                "and input gradients, from dy) beside oneDNN's forward_training + backward primitives "
                "(DeepBench's training shapes). GFLOP/s counts 3x the forward FLOPs. The bound is twice "
                "the forward bound (the recurrence walked both ways; phase A's GEMM mirrored by the dX "
                "GEMM) plus the weight-gradient GEMMs (2·T·N·H·(I+H) FLOPs per layer and direction) at "
                "peak.",
    "lstm_latency": "LSTM (gates i, f, g, o) at N = 1, and the streaming-ASR shape with a projection "
                    "(`p256`), beside oneDNN's lstm_forward.",
    "gru_latency": "PyTorch's GRU (linear_before_reset = 1) at N = 1, beside oneDNN's lbr_gru_forward.",
    "lstm_throughput": "LSTM at N = 64: the per-step product is a GEMM.",
    "gru_throughput": "GRU at N = 64.",
    "lstm_training": "one LSTM training iteration (forward_training + backward, from dy) beside oneDNN's "
                     "LSTM training primitives; bound as in the training suite.",
    "gru_training": "one GRU training iteration beside oneDNN's LBR-GRU training primitives.",
    "custom": "the shape or model given with `--shape` / `--model`.",
}
IMPLS = ["simdrnn", "onednn", "gemmloop"]
IMPL_TEXT = {"simdrnn": "simdrnn", "onednn": "oneDNN", "gemmloop": "gemmloop"}
STREAM_IMPLS = ["simdrnn_step", "simdrnn_seq", "onednn_step", "onednn_seq", "gemmloop_step"]
COLORS = {"simdrnn": "#1f77b4", "onednn": "#d62728", "gemmloop": "#7f7f7f",
          "simdrnn_step": "#1f77b4", "simdrnn_seq": "#aec7e8", "onednn_step": "#d62728",
          "onednn_seq": "#ff9896", "gemmloop_step": "#7f7f7f"}
LEVELS = {1: "L1", 2: "L2", 3: "L3", 4: "DRAM"}
SHAPE_RE = re.compile(r"^t(\d+)n(\d+)i(\d+)h(\d+)(?:l(\d+))?(bi)?(?:o(\d+))?(?:p(\d+))?$")
TO_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
# A measurement during which other processes kept more than this many cores
# busy (the other_cpu counter) is marked with a dagger.
BUSY_CORES = 0.25
DAGGER = "†"
# A threaded measurement whose OpenMP threads 0 and 1 took longer than this to
# bounce a cache line (the core_trip_us counter) ran on far-apart cores.
FAR_TRIP_US = 0.25
DDAGGER = "‡"


# ---- reading the JSON ----------------------------------------------------------------------

class Result:
    """One benchmark: its median (or only) run."""

    def __init__(self, name, runs, chosen, cv, repetitions):
        suite, impl, shape, threads = name.split("/")
        self.name, self.suite, self.impl, self.shape = name, suite, impl, shape
        self.threads = int(threads.split(":")[1])
        m = SHAPE_RE.match(shape)
        if not m:
            raise ValueError("unexpected shape in benchmark name: " + name)
        t, n, i, h, l, bi, o, p = m.groups()
        self.T, self.N, self.I, self.H = int(t), int(n), int(i), int(h)
        self.L, self.bidir, self.O, self.P = int(l or 1), bool(bi), int(o or 0), int(p or 0)
        self.error = next((r.get("error_message", "error") for r in runs if r.get("error_occurred")), None)
        self.repetitions = repetitions
        self.cv = cv  # coefficient of variation of the time over repetitions, or None
        run = chosen or {}
        self.time_us = run.get("real_time", float("nan")) * TO_US.get(run.get("time_unit", "us"), 1.0)
        self.gflops = run.get("GFLOP/s", float("nan"))
        self.us_per_step = run.get("us_per_step", float("nan"))
        self.bound_us = run.get("bound_us", float("nan"))
        self.frac = run.get("frac_of_bound", float("nan"))
        self.level = LEVELS.get(int(run.get("whh_level", 0) or 0), "?")
        self.other_cpu = run.get("other_cpu", float("nan"))
        self.disturbed = math.isfinite(self.other_cpu) and self.other_cpu > BUSY_CORES
        self.core_trip = run.get("core_trip_us", float("nan"))
        self.far = math.isfinite(self.core_trip) and self.core_trip > FAR_TRIP_US
        self.rss = run.get("peak_rss_MiB", 0.0)
        self.label = run.get("label", "") or next((r.get("label", "") for r in runs), "")
        self.base_shape = shape_key(self)


def shape_key(r):
    """The shape without T for one-step stream rows, so step and sequence rows pair up."""
    return "n%di%dh%d" % (r.N, r.I, r.H) if r.suite == "stream" else r.shape


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def load(path):
    with open(path) as f:
        data = json.load(f)
    groups = {}
    for b in data.get("benchmarks", []):
        groups.setdefault(b.get("run_name", b["name"]), []).append(b)
    results = []
    for name, entries in groups.items():
        runs = [e for e in entries if e.get("run_type", "iteration") == "iteration"]
        aggregates = {e.get("aggregate_name"): e for e in entries if e.get("run_type") == "aggregate"}
        cv = None
        if "median" in aggregates:
            chosen = aggregates["median"]
            if "cv" in aggregates and aggregates["cv"].get("aggregate_unit", "percentage") == "percentage":
                cv = aggregates["cv"].get("real_time")
        else:
            ok = [r for r in runs if not r.get("error_occurred")]
            if ok:  # several repetitions without aggregates: the median run by time
                by_time = sorted(ok, key=lambda r: r["real_time"])
                chosen = by_time[(len(by_time) - 1) // 2]
                if len(ok) > 1:
                    times = [r["real_time"] for r in ok]
                    mean = sum(times) / len(times)
                    cv = math.sqrt(sum((t - mean) ** 2 for t in times) / (len(times) - 1)) / mean
            else:
                chosen = None
        reps = max([e.get("repetitions", 1) for e in entries] + [1])
        results.append(Result(name, runs or entries, chosen, cv, reps))
    return data.get("context", {}), results


def ctx_float(ctx, key):
    try:
        return float(ctx.get(key, "nan"))
    except ValueError:
        return float("nan")


# ---- formatting ------------------------------------------------------------------------------

def fmt_us(v):
    if v is None or not math.isfinite(v):
        return "–"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_time(r):
    if r is None:
        return "–"
    if r.error:
        return "error"
    s = fmt_us(r.time_us)
    if r.cv is not None and math.isfinite(r.cv) and r.cv >= 0.005:
        s += " ±%.0f%%" % (100 * r.cv)
    return s + marks(r)


def marks(r):
    """The dagger (other load) and double dagger (far cores) a time carries."""
    return (" " + DAGGER if r.disturbed else "") + (" " + DDAGGER if r.far else "")


def fmt_x(v):
    return "–" if v is None or not math.isfinite(v) else "%.2f×" % v


# A measurement faster than its lower bound (beyond timing noise) shows a defect in the bound,
# not a result: such fractions are marked, and bound_defect_note() lists them.
BOUND_DEFECT = 1.02


def fmt_frac(v):
    if v is None or not math.isfinite(v):
        return "–"
    return "**%.2f (bound defect)**" % v if v > BOUND_DEFECT else "%.2f" % v


def bound_defect_note(results):
    """A paragraph naming every row that beat its roofline bound, or ''."""
    bad = [r for r in results if not r.error and r.frac is not None and math.isfinite(r.frac)
           and r.frac > BOUND_DEFECT]
    if not bad:
        return ""
    return ("**Defect in the bound:** %d row(s) ran faster than their roofline lower bound (frac of bound > "
            "%.2f), so the machine model underestimates what these shapes can do (a bandwidth or peak probe "
            "measured less than the kernels reach); their fractions are not results: %s." %
            (len(bad), BOUND_DEFECT, ", ".join("`%s` (%.2f)" % (r.name, r.frac) for r in bad)))


def fmt_num(v, digits=1):
    return "–" if v is None or not math.isfinite(v) else "%.*f" % (digits, v)


def ratio(a, b):
    """a / b for two results' times, None when either is missing."""
    if a is None or b is None or a.error or b.error or not (a.time_us > 0 and b.time_us > 0):
        return None
    return a.time_us / b.time_us


def geomean(values):
    v = [x for x in values if x is not None and math.isfinite(x) and x > 0]
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else None


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def mib(v):
    v = float(v)
    return "%.0f MiB" % (v / 2 ** 20) if v >= 2 ** 20 else "%.0f KiB" % (v / 2 ** 10)


def slug(text):
    text = re.sub(r"\((R|TM|tm|r)\)", "", text)
    text = re.sub(r"@.*$", "", text)
    text = re.sub(r"\b(CPU|Processor|\d+-Core)\b", "", text)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "cpu"


def commit_of(ctx):
    c = ctx.get("commit", "")
    if c and c != "unknown":
        return c
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip() + "?"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_date(ctx):
    try:
        return datetime.datetime.fromisoformat(ctx.get("date", ""))
    except ValueError:
        return None


def describe_run(ctx, results):
    reps = max([r.repetitions for r in results] + [1])
    mode = ctx.get("bench_mode", "?")
    how = "median of %d repetitions" % reps if reps > 1 else "1 repetition"
    return ("quick run, " if mode == "quick" else "") + how


def run_duration(ctx):
    """'simdrnn-bench ran 7.2 min' from the context run.sh records, or ''."""
    seconds = ctx_float(ctx, "run_seconds")
    if not math.isfinite(seconds):
        return ""
    return "simdrnn-bench ran %s" % ("%.0f s" % seconds if seconds < 120 else "%.1f min" % (seconds / 60))


def index(results):
    """{(suite, base_shape, threads, impl): Result} and the ordered shapes and threads per suite."""
    by = {}
    shapes, threads = {}, {}
    for r in results:
        by[(r.suite, r.base_shape, r.threads, r.impl)] = r
        shapes.setdefault(r.suite, [])
        if r.base_shape not in shapes[r.suite]:
            shapes[r.suite].append(r.base_shape)
        threads.setdefault(r.suite, set()).add(r.threads)
    return by, shapes, {s: sorted(t) for s, t in threads.items()}


def suites_of(results):
    present = []
    for r in results:
        if r.suite not in present:
            present.append(r.suite)
    return [s for s in SUITE_ORDER if s in present] + [s for s in present if s not in SUITE_ORDER]


# ---- report.md ---------------------------------------------------------------------------------

def forward_table(suite, by, shapes, threads):
    header = ["shape", "threads", "simdrnn µs", "oneDNN µs", "gemmloop µs", "speedup vs oneDNN",
              "speedup vs gemmloop", "simdrnn GFLOP/s", "oneDNN GFLOP/s", "simdrnn frac of bound",
              "oneDNN frac of bound", "bound µs (W_hh in)"]
    rows = []
    for shape in shapes:
        for k in threads:
            s, o, g = (by.get((suite, shape, k, i)) for i in IMPLS)
            any_r = next((r for r in (s, o, g) if r is not None and not r.error), s or o or g)
            if any_r is None:
                continue
            rows.append(["`%s`" % shape, k, fmt_time(s), fmt_time(o), fmt_time(g), fmt_x(ratio(o, s)),
                         fmt_x(ratio(g, s)), fmt_num(s.gflops if s else None), fmt_num(o.gflops if o else None),
                         fmt_frac(s.frac if s else None), fmt_frac(o.frac if o else None),
                         "%s (%s)" % (fmt_us(any_r.bound_us), any_r.level)])
    return table(header, rows)


def stream_table(by, shapes, threads):
    header = ["shape", "threads", "simdrnn step µs", "simdrnn in sequence µs/step", "oneDNN step µs",
              "oneDNN in sequence µs/step", "gemmloop step µs", "step speedup vs oneDNN",
              "sequence speedup vs oneDNN", "simdrnn step frac of bound", "simdrnn sequence frac of bound"]
    rows = []
    for shape in shapes:
        for k in threads:
            r = {i: by.get(("stream", shape, k, i)) for i in STREAM_IMPLS}
            if not any(r.values()):
                continue

            def step(x):
                if x is None:
                    return None
                return "error" if x.error else fmt_us(x.us_per_step) + marks(x)

            rows.append(["`%s`" % shape, k] + [step(r[i]) or "–" for i in STREAM_IMPLS] +
                        [fmt_x(ratio(r["onednn_step"], r["simdrnn_step"])),
                         fmt_x(ratio(r["onednn_seq"], r["simdrnn_seq"])),
                         fmt_frac(r["simdrnn_step"].frac if r["simdrnn_step"] else None),
                         fmt_frac(r["simdrnn_seq"].frac if r["simdrnn_seq"] else None)])
    return table(header, rows)


def precision_table(suite, by, shapes, threads):
    """bf16 and int8 weights beside f32, simdrnn's and oneDNN's own primitives (None without such rows)."""
    sfx = "_step" if suite == "stream" else ""
    names = ["simdrnn" + sfx, "simdrnn_bf16" + sfx, "simdrnn_int8" + sfx,
             "onednn" + sfx, "onednn_bf16" + sfx, "onednn_int8" + sfx]
    header = ["shape", "threads", "simdrnn f32 µs", "simdrnn bf16 µs", "simdrnn int8 µs", "bf16 speedup vs f32",
              "int8 speedup vs f32", "oneDNN f32 µs", "oneDNN bf16 µs", "oneDNN int8 µs",
              "bf16 speedup vs oneDNN bf16", "int8 speedup vs oneDNN int8"]
    rows = []
    for shape in shapes:
        for k in threads:
            r = {i: by.get((suite, shape, k, i)) for i in names}
            f32, bf16, int8, o32, obf16, oint8 = (r[i] for i in names)
            if bf16 is None and int8 is None:
                continue

            def t(x):
                return "–" if x is None else ("n/a" if x.error else fmt_time(x))
            rows.append(["`%s`" % shape, k, t(f32), t(bf16), t(int8), fmt_x(ratio(f32, bf16)),
                         fmt_x(ratio(f32, int8)), t(o32), t(obf16), t(oint8), fmt_x(ratio(obf16, bf16)),
                         fmt_x(ratio(oint8, int8))])
    return table(header, rows) if rows else None


def pairs_for(suite):
    """(label, faster impl, slower impl) pairs whose time ratios the geometric means summarise."""
    if suite == "stream":
        return [("step vs oneDNN", "simdrnn_step", "onednn_step"),
                ("sequence vs oneDNN", "simdrnn_seq", "onednn_seq"),
                ("step vs gemmloop", "simdrnn_step", "gemmloop_step")]
    return [("vs oneDNN", "simdrnn", "onednn"), ("vs gemmloop", "simdrnn", "gemmloop")]


def geomean_rows(suites, by, shapes, threads):
    """Per suite and thread count: geometric-mean speedups over oneDNN and gemmloop, and the
    geometric-mean fraction of bound of simdrnn and oneDNN (stream: the in-sequence rows)."""
    rows = []
    for suite in suites:
        for k in threads[suite]:
            def gm(mine, theirs):
                return geomean([ratio(by.get((suite, s, k, theirs)), by.get((suite, s, k, mine)))
                                for s in shapes[suite]])

            def gm_frac(impl):
                return geomean([by[(suite, s, k, impl)].frac for s in shapes[suite] if (suite, s, k, impl) in by])

            if suite == "stream":
                vs_onednn = "%s step, %s sequence" % (fmt_x(gm("simdrnn_step", "onednn_step")),
                                                      fmt_x(gm("simdrnn_seq", "onednn_seq")))
                vs_gemmloop = "%s step" % fmt_x(gm("simdrnn_step", "gemmloop_step"))
                fracs = [gm_frac("simdrnn_seq"), gm_frac("onednn_seq")]
            else:
                vs_onednn, vs_gemmloop = fmt_x(gm("simdrnn", "onednn")), fmt_x(gm("simdrnn", "gemmloop"))
                fracs = [gm_frac("simdrnn"), gm_frac("onednn")]
            rows.append([suite, k, vs_onednn, vs_gemmloop] + [fmt_frac(f) for f in fracs])
    return rows


def roofline_section(ctx):
    if ctx.get("roofline_valid") != "1":
        return "The roofline was not measured (%s); every fraction of bound is 0.\n" % ctx.get("roofline_error", "?")
    peaks = []
    for isa in ("avx512", "avx2", "sse2"):
        v = ctx_float(ctx, "roofline_peak_gflops_" + isa)
        if v > 0:
            peaks.append(["fp32 peak, %s%s" % (isa, " (mul + add, no FMA)" if isa == "sse2" else " FMA"),
                          "%.1f GFLOP/s" % v, "%s independent chains" % dict(
                              p.split(" ", 1) for p in ctx.get("roofline_fma_chains", "").split(", ") if " " in p
                          ).get(isa, "?")])
    rows = peaks
    for level, key in (("L1", "l1"), ("L2", "l2"), ("L3", "l3"), ("DRAM", "dram")):
        rows.append(["read bandwidth, %s" % level, "%.1f GB/s" % ctx_float(ctx, "roofline_bw_gbs_" + key),
                     "working set %s, %s loads" % (mib(ctx_float(ctx, "roofline_ws_bytes_" + key)),
                                                   ctx.get("roofline_bandwidth_isa", "?"))])
    text = table(["constant (per core)", "value", "measured with"], rows)
    text += ("\n\nCache sizes (%s): L1d %s, L2 %s, L3 %s. Measured in %s s at the start of the run, in a "
             "child process pinned to one core, best of %s timed runs after a warm-up. The bound uses the "
             "best peak (%s, %.1f GFLOP/s per core).\n" % (
                 ctx.get("roofline_cache_source", "?"), mib(ctx_float(ctx, "roofline_cache_bytes_l1d")),
                 mib(ctx_float(ctx, "roofline_cache_bytes_l2")), mib(ctx_float(ctx, "roofline_cache_bytes_l3")),
                 ctx.get("roofline_seconds", "?"), ctx.get("roofline_runs", "?"), ctx.get("roofline_peak_isa", "?"),
                 ctx_float(ctx, "roofline_peak_gflops")))
    return text


MODEL_TEXT = """\
`frac_of_bound` = lower-bound time / measured time, so 1.0 means the call ran at
the roofline and 0.5 means it took twice as long. The lower bound of one call on
k cores, with per-core constants P (fp32 peak, the best ISA) and B(level) (read
bandwidth of L1, L2, L3, DRAM), all measured on this machine at the start of the
run (docs/design.md §8):

- **phase A** (input projection of all T·N rows, every layer and direction) and
  **phase C** (output layer): max(FLOPs / (P·k), V / (B(level)·k)), V the bytes
  of the phase's weights (W_ih of the layer, W_hy), which it reads at least once
  from the level they fit in (as for W_hh below). At T·N = 1 (one stream step)
  the read is the larger term; at the other shapes the FLOPs are.
- **phase B**, per step of each layer: max(W / (B(level)·k), 2·N·D·H² / (P·k)),
  where W = D·H²·4 bytes is the layer's W_hh (both directions) and `level` is the
  smallest level its per-thread share W / k fits in: L1 or L2 (per core) when the
  share is at most their size, L3 (shared) when all of W is at most its size,
  else DRAM. A bidirectional layer at k ≥ 2 runs its directions concurrently, so
  both share the same k cores; at k = 1 they add up — the same formula.
- The bound sums phase A, T steps of phase B per layer, and phase C.

It is a bound, not a prediction: it counts only the FLOPs and the weight bytes
(not h, x, the projections or barriers), assumes W_hh stays where it fits
although phase A streams W_ih and x through the same caches, and scales
bandwidth linearly with cores. The one-step rows (`*_step`, T = 1) use the same
formula with T = 1. `W_hh in` names the level.
"""


def disturbed_note(results):
    """A sentence on the measurements other processes disturbed, or ''."""
    bad = [r for r in results if r.disturbed]
    if not bad:
        return ""
    return ("%s %d of %d measurements ran while other processes kept more than %.2g of a core busy "
            "(counter `other_cpu`, up to %.1f cores; /proc/stat counts in 10 ms ticks, so in a quick "
            "run a mark can be rounding): this machine was shared, and those times are not its best." % (DAGGER, len(bad), len(results), BUSY_CORES, max(r.other_cpu for r in bad)))


def far_note(results):
    """A sentence on the threaded measurements that ran on far-apart cores, or ''."""
    threaded = [r for r in results if r.threads >= 2 and math.isfinite(r.core_trip)]
    far = [r for r in threaded if r.far]
    if not far:
        return ""
    trips = sorted(r.core_trip for r in threaded)
    return ("%s %d of %d threaded measurements ran while OpenMP threads 0 and 1 needed more than %.2g µs to "
            "bounce a cache line between them (counter `core_trip_us`: median %.2f µs, range %.2f–%.2f over "
            "the threaded rows). On this VM that round trip is ~0.09 µs when the hypervisor places both "
            "vCPUs close and ~0.45 µs when it places them far apart, and the placement changes between and "
            "during runs; every per-step barrier costs about one round trip, so small-step threaded shapes "
            "are slower in those rows." % (DDAGGER, len(far), len(threaded), FAR_TRIP_US, median(trips),
                                           trips[0], trips[-1]))


def other_cpu_summary(results):
    v = sorted(r.other_cpu for r in results if math.isfinite(r.other_cpu))
    if not v:
        return "not measured"
    return ("median %.2f, max %.2f cores busy with other processes or guests (/proc/stat minus this "
            "process); %d of %d measurements above %.2g" % (median(v), v[-1], sum(x > BUSY_CORES for x in v),
                                                           len(v), BUSY_CORES))


def machine_section(ctx, results):
    caches = ", ".join("L%d%s %s%s" % (c["level"], {"Data": "d", "Instruction": "i"}.get(c["type"], ""),
                                       mib(c["size"]), " (shared by %d)" % c["num_sharing"]
                                       if c.get("num_sharing", 1) > 1 else "")
                       for c in ctx.get("caches", []))
    rss = max([r.rss for r in results] + [0.0])
    onednn_impls = sorted({r.label for r in results if r.impl.startswith("onednn") and r.label})
    threads = sorted({r.threads for r in results})
    env = ", ".join("%s=%s" % (k[4:], v) for k, v in sorted(ctx.items()) if k.startswith("env_") and v) or "none"
    rows = [
        ["CPU", "%s, %s logical CPUs online, %s MHz (nominal, as reported)" % (
            ctx.get("cpu_model", "?"), ctx.get("online_cpus", ctx.get("num_cpus", "?")), ctx.get("mhz_per_cpu", "?"))],
        ["threads used", ", ".join(str(t) for t in threads)],
        ["CPU flags", "`%s`" % ctx.get("cpu_flags", "?")],
        ["caches", caches or "?"],
        ["simdrnn", "%s, ISA %s (detected %s)" % (ctx.get("simdrnn_version", "?"), ctx.get("simdrnn_isa", "?"),
                                                  ctx.get("simdrnn_detected_isa", "?"))],
        ["oneDNN", "%s (%s)" % (ctx.get("onednn_version", "?"), "; ".join(onednn_impls) or "?")],
        ["compiler", "%s, %s build (Google Benchmark library: %s build)" % (
            ctx.get("compiler", "?"), ctx.get("build_type", "?"), ctx.get("library_build_type", "?"))],
        ["commit", "`%s`" % commit_of(ctx)],
        ["date", ctx.get("date", "?")],
        ["run", "%s; `simdrnn-bench %s`%s" % (describe_run(ctx, results), ctx.get("bench_args", ""),
                                               "; " + run_duration(ctx) if run_duration(ctx) else "")],
        ["environment", env],
        ["load average at start", ", ".join("%.2f" % v for v in ctx.get("load_avg", [])) or "?"],
        ["other processes during the timed loops", other_cpu_summary(results)],
        ["core-to-core round trip at start", "%s µs (OpenMP threads 0 and 1 bouncing a cache line; "
                                             "per threaded row: counter `core_trip_us`)" %
         ctx.get("core_round_trip_us_at_start", "?")],
        ["peak RSS of the process", "%.1f MiB (getrusage `ru_maxrss` after the last benchmark: the whole "
                                    "harness at its largest shape, i.e. the generated weights, simdrnn's "
                                    "packed model, oneDNN's copies and every buffer; the roofline's working "
                                    "sets are measured in a child process and not counted)" % rss],
    ]
    return table(["", ""], rows)


def write_report(out_dir, ctx, results, charts):
    by, shapes, threads = index(results)
    suites = suites_of(results)
    md = ["# simdrnn performance report", "",
          "%s, %s, commit `%s`, %s. Times are wall-clock microseconds per call (%s; ±: coefficient of "
          "variation over the repetitions, shown when ≥ 1%%); speedup = other time / simdrnn time; "
          "frac of bound = roofline lower bound / time (1.0 = at the roofline). Raw data: "
          "[`%s`](%s)." % (ctx.get("cpu_model", "?"), ", ".join("%d threads" % t if t > 1 else "1 thread"
                                                                  for t in sorted({r.threads for r in results})),
                           commit_of(ctx), (ctx.get("date", "?") or "?")[:10], describe_run(ctx, results),
                           RAW_NAME, RAW_NAME), "",
          disturbed_note(results), "", far_note(results), "", bound_defect_note(results), "",
          "## Machine", "", machine_section(ctx, results), "",
          "## Roofline", "", roofline_section(ctx), "", "### The lower bound", "", MODEL_TEXT,
          "## Summary: geometric-mean speedups", "",
          table(["suite", "threads", "speedup vs oneDNN", "speedup vs gemmloop", "simdrnn frac of bound",
                 "oneDNN frac of bound"], geomean_rows(suites, by, shapes, threads)), "",
          "Geometric means over the suite's shapes (stream: the fractions are those of the in-sequence "
          "rows).", ""]
    if "frac_of_bound.png" in charts:
        md += ["![fraction of the roofline bound](frac_of_bound.png)", ""]
    if "thread_scaling.png" in charts:
        md += ["![thread scaling](thread_scaling.png)", ""]
    if "precision.png" in charts:
        md += ["![time by weight precision](precision.png)", ""]
    for suite in suites:
        md += ["## Suite `%s`" % suite, "", SUITE_TEXT.get(suite, ""), ""]
        if suite == "stream":
            md.append(stream_table(by, shapes[suite], threads[suite]))
        else:
            md.append(forward_table(suite, by, shapes[suite], threads[suite]))
        md.append("")
        reduced = precision_table(suite, by, shapes[suite], threads[suite])
        if reduced:
            md += ["Reduced-precision weights (`weight_precision` bf16 / int8; oneDNN: its own bf16 and "
                   "u8s8 primitives, timed on activations already in that type; n/a: oneDNN has no such "
                   "primitive, see Errors):", "", reduced, ""]
        name = "%s.png" % suite
        if name in charts:
            md += ["![%s: time and speedup per shape](%s)" % (suite, name), ""]
    errors = [r for r in results if r.error]
    if errors:
        md += ["## Errors", ""] + ["- `%s`: %s" % (r.name, r.error) for r in errors] + [""]
    md += ["---", "Generated by `python3 benchmarks/report.py` from `%s`; nothing in it is typed by hand." % RAW_NAME,
           ""]
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(md))


# ---- charts ----------------------------------------------------------------------------------

def charts(out_dir, ctx, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "figure.dpi": 110})
    by, shapes, threads = index(results)
    suites = suites_of(results)
    made = []
    footer = "%s · commit %s · %s · %s" % (ctx.get("cpu_model", "?"), commit_of(ctx), (ctx.get("date") or "?")[:10],
                                           describe_run(ctx, results))

    def impls_of(suite):
        return STREAM_IMPLS if suite == "stream" else IMPLS

    def value(r, suite):
        if r is None or r.error:
            return float("nan")
        return r.us_per_step if suite == "stream" else r.time_us

    def top_legends(fig, height, groups):
        """Legends in a row under the suptitle: groups = [(x centre, handles), ...]."""
        for x, handles in groups:
            fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(x, 1 - 0.42 / height),
                       ncol=len(handles), fontsize=8, frameon=False)

    def patch(label, color):
        from matplotlib.patches import Patch
        return Patch(color=color, label=label)

    # Time and speedup per shape, one figure per suite: a row per thread count.
    for suite in suites:
        ks, sh, impls = threads[suite], shapes[suite], impls_of(suite)
        pairs = pairs_for(suite)
        height = 3.2 * len(ks) + 1.3
        fig, axes = plt.subplots(len(ks), 2, figsize=(13, height), squeeze=False)
        width = 0.8 / len(impls)
        for row, k in enumerate(ks):
            ax = axes[row][0]
            shown = []
            for j, impl in enumerate(impls):
                ys = [value(by.get((suite, s, k, impl)), suite) for s in sh]
                shown += [y for y in ys if math.isfinite(y) and y > 0]
                xs = [x + (j - (len(impls) - 1) / 2) * width for x in range(len(sh))]
                ax.bar(xs, ys, width, color=COLORS.get(impl))
            # Linear from 0 unless the times span more than 20x: then log, with
            # the bars starting at a power of ten below the smallest.
            log = bool(shown) and max(shown) / min(shown) > 20
            if log:
                ax.set_yscale("log")
                ax.set_ylim(bottom=10 ** math.floor(math.log10(min(shown))))
                ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
                ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xticks(range(len(sh)))
            ax.set_xticklabels(sh, rotation=15, ha="right")
            ax.set_ylabel(("µs per step" if suite == "stream" else "µs per call") + (" (log)" if log else ""))
            ax.set_title("threads:%d — time (lower is better)" % k)
            ax.grid(axis="y", which="both", alpha=0.3)
            ax = axes[row][1]
            pw = 0.8 / len(pairs)
            top = 1.0
            for j, (label, mine, theirs) in enumerate(pairs):
                ys = [ratio(by.get((suite, s, k, theirs)), by.get((suite, s, k, mine))) for s in sh]
                ys = [y if y is not None else float("nan") for y in ys]
                xs = [x + (j - (len(pairs) - 1) / 2) * pw for x in range(len(sh))]
                bars = ax.bar(xs, ys, pw, color=COLORS.get(theirs))
                for b, y in zip(bars, ys):
                    if math.isfinite(y):
                        ax.annotate("%.2f" % y, (b.get_x() + b.get_width() / 2, y), ha="center", va="bottom",
                                    fontsize=7)
                        top = max(top, y)
            ax.axhline(1.0, color="black", linewidth=0.8)
            ax.set_ylim(0, top * 1.12)
            ax.set_xticks(range(len(sh)))
            ax.set_xticklabels(sh, rotation=15, ha="right")
            ax.set_ylabel("speedup (×)")
            ax.set_title("threads:%d — simdrnn speedup (higher is better; 1 = equal)" % k)
            ax.grid(axis="y", alpha=0.3)
        fig.suptitle("suite %s: time and speedup per shape" % suite, fontsize=12, y=1 - 0.08 / height)
        top_legends(fig, height, [(0.27, [patch(i, COLORS.get(i)) for i in impls]),
                                  (0.76, [patch("simdrnn " + l, COLORS.get(t)) for l, _, t in pairs])])
        fig.text(0.5, 0.005, footer, ha="center", fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.02, 1, 1 - 0.62 / height))
        name = "%s.png" % suite
        fig.savefig(os.path.join(out_dir, name))
        plt.close(fig)
        made.append(name)

    # Fraction of the roofline bound: a panel per suite, bars per (shape, threads).
    fig, axes = plt.subplots(len(suites), 1, figsize=(13, 2.9 * len(suites) + 0.6), squeeze=False)
    for ax, suite in zip(axes[:, 0], suites):
        impls = impls_of(suite)
        cats = [(s, k) for s in shapes[suite] for k in threads[suite]]
        width = 0.8 / len(impls)
        top = 1.0
        for j, impl in enumerate(impls):
            ys = []
            for s, k in cats:
                r = by.get((suite, s, k, impl))
                ys.append(r.frac if r is not None and not r.error else float("nan"))
            top = max([top] + [y for y in ys if math.isfinite(y)])
            xs = [x + (j - (len(impls) - 1) / 2) * width for x in range(len(cats))]
            ax.bar(xs, ys, width, label=impl, color=COLORS.get(impl))
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylim(0, max(1.35, top * 1.3))
        ax.set_xticks(range(len(cats)))
        ax.set_xticklabels(["%s\nthreads:%d" % c for c in cats], fontsize=7)
        ax.set_ylabel("fraction of bound")
        ax.set_title("%s — fraction of the roofline bound (dashed: 1.0 = at the bound; higher is better)" % suite)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, ncol=len(impls), loc="upper right")
    fig.text(0.5, 0.003, footer, ha="center", fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.015, 1, 1))
    fig.savefig(os.path.join(out_dir, "frac_of_bound.png"))
    plt.close(fig)
    made.append("frac_of_bound.png")

    # Thread scaling: time at the fewest threads / time at k, per shape and
    # impl; a row per suite, legends to the right.
    shown = [s for s in suites if len(threads[s]) > 1]
    if shown:
        fig, axes = plt.subplots(len(shown), 1, figsize=(13, 3.3 * len(shown) + 0.5), squeeze=False)
        styles = {"simdrnn": "-", "onednn": "--", "gemmloop": ":", "simdrnn_step": "-", "simdrnn_seq": "-.",
                  "onednn_step": "--", "onednn_seq": (0, (5, 1, 1, 1)), "gemmloop_step": ":"}
        markers = {"simdrnn": "o", "onednn": "s", "gemmloop": "^", "simdrnn_step": "o", "simdrnn_seq": "D",
                   "onednn_step": "s", "onednn_seq": "P", "gemmloop_step": "^"}
        palette = plt.get_cmap("tab10")
        for ax, suite in zip(axes[:, 0], shown):
            ks = threads[suite]
            impls = impls_of(suite)
            for ci, s in enumerate(shapes[suite]):
                for impl in impls:
                    base = by.get((suite, s, ks[0], impl))
                    ys = [ratio(base, by.get((suite, s, k, impl))) for k in ks]
                    if all(y is None for y in ys):
                        continue
                    ax.plot(ks, [y if y is not None else float("nan") for y in ys], linestyle=styles.get(impl, "-"),
                            marker=markers.get(impl, "o"), color=palette(ci % 10), linewidth=1.3, markersize=5)
            ax.plot(ks, [k / ks[0] for k in ks], color="black", linewidth=1.0, alpha=0.6)
            ax.axhline(1.0, color="black", linewidth=0.6, alpha=0.4)
            ax.set_xscale("log", base=2)
            ax.set_xticks(ks)
            ax.set_xticklabels([str(k) for k in ks])
            ax.set_xlabel("threads")
            ax.set_ylabel("speedup over threads:%d" % ks[0])
            ax.set_title("%s — thread scaling (black line: linear; below 1: slower with more threads)" % suite)
            ax.grid(alpha=0.3)
            shape_handles = [Line2D([], [], color=palette(ci % 10), linewidth=2, label=s)
                             for ci, s in enumerate(shapes[suite])]
            impl_handles = [Line2D([], [], color="black", linestyle=styles.get(i, "-"), marker=markers.get(i, "o"),
                                   markersize=4, label=i) for i in impls]
            first = ax.legend(handles=shape_handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                              title="shape (colour)", title_fontsize=7)
            ax.add_artist(first)
            ax.legend(handles=impl_handles, fontsize=7, loc="lower left", bbox_to_anchor=(1.01, 0.0),
                      title="impl (line)", title_fontsize=7)
        fig.text(0.5, 0.003, footer, ha="center", fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.015, 1, 1))
        fig.savefig(os.path.join(out_dir, "thread_scaling.png"))
        plt.close(fig)
        made.append("thread_scaling.png")

    # Time per call by weight precision, one panel per suite that has reduced-precision rows
    # (1 thread, or the fewest measured): simdrnn and oneDNN in f32, bf16 and int8.
    prec_suites = [s for s in suites if any(r.suite == s and "_bf16" in r.impl for r in results)]
    if prec_suites:
        fig, axes = plt.subplots(1, len(prec_suites), figsize=(4.2 * len(prec_suites), 4.2), squeeze=False)
        kinds = [("simdrnn", "#1f77b4"), ("simdrnn_bf16", "#4a9fd8"), ("simdrnn_int8", "#9ecae1"),
                 ("onednn", "#d62728"), ("onednn_bf16", "#e8696a"), ("onednn_int8", "#f4a9a9")]
        for ax, suite in zip(axes[0], prec_suites):
            sfx = "_step" if suite == "stream" else ""
            k = threads[suite][0]
            sh = shapes[suite]
            width = 0.8 / len(kinds)
            for j, (impl, color) in enumerate(kinds):
                ys = [value(by.get((suite, s, k, impl + sfx)), suite) for s in sh]
                xs = [x + (j - (len(kinds) - 1) / 2) * width for x in range(len(sh))]
                ax.bar(xs, ys, width, color=color, label=impl.replace("onednn", "oneDNN"))
            ax.set_yscale("log")
            ax.set_xticks(range(len(sh)))
            ax.set_xticklabels(sh, rotation=20, ha="right", fontsize=7)
            ax.set_title("%s, %d thread%s" % (suite, k, "" if k == 1 else "s"))
            ax.set_ylabel("µs per step" if suite == "stream" else "µs per call")
        axes[0][0].legend(fontsize=7, loc="upper left")
        fig.suptitle("Time by weight precision (lower is better; a missing oneDNN bar: no such primitive)")
        fig.text(0.5, 0.003, footer, ha="center", fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.015, 1, 0.95))
        fig.savefig(os.path.join(out_dir, "precision.png"))
        plt.close(fig)
        made.append("precision.png")
    return made


# ---- README table ------------------------------------------------------------------------------

def readme_table(report_dir):
    ctx, results = load(os.path.join(report_dir, RAW_NAME))
    by, shapes, threads = index(results)
    rows = []
    for suite in ("latency", "throughput"):
        for shape in shapes.get(suite, []):
            for k in (1, 2):
                s, o = by.get((suite, shape, k, "simdrnn")), by.get((suite, shape, k, "onednn"))
                if s is None and o is None:
                    continue
                rows.append([suite, "`%s`" % shape, k, fmt_time(s), fmt_time(o), fmt_x(ratio(o, s)),
                             fmt_frac(s.frac if s else None), fmt_frac(o.frac if o else None)])
    rel = os.path.relpath(report_dir, ROOT)
    lines = [
        "%s (%s logical CPUs), simdrnn ISA %s, %s, oneDNN %s; commit `%s`, %s; %s%s. Wall-clock µs per "
        "call; speedup = oneDNN / simdrnn; frac of bound = roofline lower bound / time. Full report, "
        "charts and the other suites: [`%s/report.md`](%s/report.md)." % (
            ctx.get("cpu_model", "?"), ctx.get("online_cpus", "?"), ctx.get("simdrnn_isa", "?"),
            ctx.get("compiler", "?"), ctx.get("onednn_version", "?"), commit_of(ctx), (ctx.get("date") or "?")[:10],
            describe_run(ctx, results), " (%s)" % run_duration(ctx) if run_duration(ctx) else "", rel, rel),
        "",
        table(["suite", "shape", "threads", "simdrnn µs", "oneDNN µs", "speedup", "simdrnn frac of bound",
               "oneDNN frac of bound"], rows),
        "",
    ]
    for note in (disturbed_note([r for r in results if r.suite in ("latency", "throughput")]),
                 far_note([r for r in results if r.suite in ("latency", "throughput")])):
        if note:
            lines += [note, ""]
    lines += [
        "_Generated from that report by `python3 benchmarks/report.py --readme`; do not edit by hand._",
    ]
    return "\n".join(lines)


def newest_report():
    best, best_key = None, None
    for path in glob.glob(os.path.join(REPORTS, "*", RAW_NAME)):
        try:
            with open(path) as f:
                ctx = json.load(f).get("context", {})
        except (OSError, ValueError):
            continue
        if ctx.get("bench_mode") == "quick":
            continue
        d = run_date(ctx)
        key = (d.timestamp() if d else 0.0, os.path.getmtime(path))
        if best_key is None or key > best_key:
            best, best_key = os.path.dirname(path), key
    return best


def update_readme(report_dir):
    with open(os.path.join(report_dir, RAW_NAME)) as f:
        if json.load(f).get("context", {}).get("bench_mode") == "quick":
            sys.exit("report.py: %s is a quick run; only a full run's numbers go into README.md" % report_dir)
    with open(README) as f:
        text = f.read()
    b, e = text.find(BEGIN), text.find(END)
    if b < 0 or e < b:
        sys.exit("report.py: README.md lacks the %s ... %s markers" % (BEGIN, END))
    text = text[:b + len(BEGIN)] + "\n" + readme_table(report_dir) + "\n" + text[e:]
    with open(README, "w") as f:
        f.write(text)


# ---- main ---------------------------------------------------------------------------------------

def report_dir_for(ctx):
    d = run_date(ctx)
    date = d.strftime("%Y-%m-%d") if d else datetime.date.today().isoformat()
    name = "%s-%s-%s" % (date, slug(ctx.get("cpu_model", "cpu")), re.sub(r"[^A-Za-z0-9_.-]", "", commit_of(ctx)))
    if ctx.get("bench_mode") == "quick":
        name += "-quick"
    return os.path.join(REPORTS, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", nargs="?", help="simdrnn-bench JSON (--benchmark_out_format=json)")
    parser.add_argument("--out", help="report directory (default perf-reports/<date>-<cpu>-<commit>[-quick])")
    parser.add_argument("--run-seconds", type=float, metavar="S",
                        help="how long simdrnn-bench ran; recorded in results.json and the report")
    parser.add_argument("--readme", nargs="?", const="", metavar="REPORT_DIR",
                        help="rewrite README.md's performance table from REPORT_DIR (default: the newest report)")
    args = parser.parse_args()

    if args.readme is not None and args.json is None:
        report_dir = args.readme or newest_report()
        if not report_dir or not os.path.isfile(os.path.join(report_dir, RAW_NAME)):
            sys.exit("report.py: no report with a %s found (run benchmarks/run.sh first)" % RAW_NAME)
        update_readme(report_dir)
        print("README.md: performance table from %s" % os.path.relpath(report_dir, ROOT))
        return
    if args.json is None:
        parser.error("give a JSON file, or --readme")

    ctx, results = load(args.json)
    if not results:
        sys.exit("report.py: %s holds no benchmark results" % args.json)
    out_dir = os.path.abspath(args.out or report_dir_for(ctx))
    os.makedirs(out_dir, exist_ok=True)
    for old in glob.glob(os.path.join(out_dir, "*.png")) + glob.glob(os.path.join(out_dir, "report.md")):
        os.remove(old)  # a rerun into the same directory leaves no stale chart
    raw = os.path.join(out_dir, RAW_NAME)
    if args.run_seconds is not None:  # the one key not from simdrnn-bench: it ends after the JSON's context
        with open(args.json) as f:
            data = json.load(f)
        data.setdefault("context", {})["run_seconds"] = "%.0f" % args.run_seconds
        ctx = data["context"]
        with open(raw, "w") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
    elif os.path.abspath(args.json) != raw:
        shutil.copyfile(args.json, raw)
    made = charts(out_dir, ctx, results)
    write_report(out_dir, ctx, results, made)
    if args.readme is not None:
        update_readme(args.readme or out_dir)
    inside = os.path.commonpath([out_dir, ROOT]) == ROOT
    print(os.path.relpath(out_dir, ROOT) if inside else out_dir)


if __name__ == "__main__":
    main()
