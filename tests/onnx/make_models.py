#!/usr/bin/env python3
"""Makes the models the ONNX import tests read (run by ctest before them).

    python3 tests/onnx/make_models.py OUTDIR

OUTDIR/cases/<name>/model.onnx with test_data_set_0/input_<i>.pb (the graph's
runtime inputs, named) and output_<i>.pb (every graph output), as ONNX's own
node tests lay them out:
  torch_*  torch.nn.RNN / LSTM / GRU (+ nn.Linear) exported by torch.onnx.export;
           the expected outputs are torch's (at other T and N than the export's
           when the axes are dynamic).
  ref_*    graphs built with onnx.helper for what torch never emits (direction
           "reverse", layout 1 chains, sequence_lens, clip, GRU
           linear_before_reset = 0); the expected outputs come from a float64
           NumPy transcription of the ONNX operator definitions below.
OUTDIR/bad/<name>.onnx and OUTDIR/bad/manifest.tsv ("name<TAB>status<TAB>text"):
  models simdrnn must refuse with that status and a message containing text.

Nothing here is committed: the models are cheap to make. Exits 77 (ctest:
skipped) when torch, onnx or numpy is missing.
"""
import io
import os
import shutil
import sys
import zlib

try:
    import numpy as np
    import onnx
    import onnx.numpy_helper as nh
    import torch
    from onnx import TensorProto, helper
except ImportError as e:  # pragma: no cover
    print(f"SKIP: needs torch, onnx and numpy ({e})")
    sys.exit(77)

OPSET = 14


# ---- torch exports --------------------------------------------------------------
class Net(torch.nn.Module):
    """A recurrent module, optionally followed by nn.Linear on every step
    (flat: on y reshaped to [T*N, features], which exports as Gemm)."""

    def __init__(self, rnn, fc=None, flat=False):
        super().__init__()
        self.rnn, self.fc, self.flat = rnn, fc, flat

    def forward(self, x, *state):
        if not state:
            y, hn = self.rnn(x)
        elif isinstance(self.rnn, torch.nn.LSTM):
            y, hn = self.rnn(x, (state[0], state[1]))
        else:
            y, hn = self.rnn(x, state[0])
        outs = [y] if self.fc is None else [self.fc(y.reshape(-1, y.shape[-1]) if self.flat else y)]
        return tuple(outs + (list(hn) if isinstance(hn, tuple) else [hn]))


def torch_cases():
    """(name, module, give_states, dynamic, export options); T, N of the export
    are 4, 2; dynamic cases run at 6, 3."""
    nn = torch.nn
    return [
        ("torch_rnn_tanh_fixed", Net(nn.RNN(3, 5)), False, False, {}),
        ("torch_rnn_relu_2l_bi_h0", Net(nn.RNN(3, 5, num_layers=2, nonlinearity="relu", bidirectional=True)),
         True, True, {}),
        ("torch_lstm_2l", Net(nn.LSTM(3, 5, num_layers=2)), False, True, {}),
        ("torch_lstm_bi_batch_first_states_linear",
         Net(nn.LSTM(3, 5, bidirectional=True, batch_first=True), nn.Linear(10, 4)), True, True, {}),
        ("torch_lstm_3l_linear_nobias", Net(nn.LSTM(3, 5, num_layers=3), nn.Linear(5, 4, bias=False)),
         False, True, {}),
        ("torch_gru_2l_bi_h0", Net(nn.GRU(3, 5, num_layers=2, bidirectional=True)), True, True, {}),
        ("torch_gru_batch_first_gemm", Net(nn.GRU(3, 5, batch_first=True), nn.Linear(5, 4), flat=True),
         False, True, {}),
        ("torch_gru_2l_opset11", Net(nn.GRU(3, 5, num_layers=2)), True, True, {"opset_version": 11}),
        ("torch_lstm_bi_2l_opset9_fixed", Net(nn.LSTM(3, 5, num_layers=2, bidirectional=True)), True, False,
         {"opset_version": 9}),
        ("torch_rnn_2l_initializers_as_inputs", Net(nn.RNN(3, 5, num_layers=2)), True, True,
         {"keep_initializers_as_inputs": True}),
        ("torch_lstm_bi_fixed_linear", Net(nn.LSTM(3, 5, bidirectional=True), nn.Linear(10, 4)), False, False, {}),
        # The weights' gate reordering stays in the graph (Slice, Concat, Unsqueeze of initializers).
        ("torch_lstm_bi_2l_no_constant_folding", Net(nn.LSTM(3, 5, num_layers=2, bidirectional=True)), True, True,
         {"do_constant_folding": False}),
        ("torch_gru_linear_no_constant_folding", Net(nn.GRU(3, 5), nn.Linear(5, 4)), False, True,
         {"do_constant_folding": False}),
    ]


def torch_export(module, give_states, dynamic, options, T=4, N=2):
    """Returns (model bytes, input names, output names, make_inputs(T, N))."""
    torch.manual_seed(0)
    module.eval()
    rnn = module.rnn
    D = 2 if rnn.bidirectional else 1
    LD, H, I = rnn.num_layers * D, rnn.hidden_size, rnn.input_size
    lstm = isinstance(rnn, torch.nn.LSTM)

    def make_inputs(T, N, seed=1):
        g = torch.Generator().manual_seed(seed)
        shape = (N, T, I) if rnn.batch_first else (T, N, I)
        xs = [torch.randn(*shape, generator=g)]
        if give_states:
            xs += [torch.randn(LD, N, H, generator=g) * 0.5 for _ in range(2 if lstm else 1)]
        return xs

    in_names = ["x"] + (["h0", "c0"][: 2 if lstm else 1] if give_states else [])
    out_names = ["out" if module.fc is not None else "y", "h_n"] + (["c_n"] if lstm else [])
    axes = None
    if dynamic:
        tn = {0: "N", 1: "T"} if rnn.batch_first else {0: "T", 1: "N"}
        axes = {"x": tn}
        for s in in_names[1:] + out_names[1:]:
            axes[s] = {1: "N"}
        if module.fc is None or not module.flat:
            axes[out_names[0]] = dict(tn)
        else:
            axes[out_names[0]] = {0: "TN"}
    f = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, tuple(make_inputs(T, N)), f, input_names=in_names, output_names=out_names,
                          dynamic_axes=axes, **{"opset_version": OPSET, **options})
    return f.getvalue(), in_names, out_names, make_inputs


def write_case(outdir, name, model_bytes, inputs, outputs):
    """inputs, outputs: lists of (name, numpy array)."""
    d = os.path.join(outdir, "cases", name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model_bytes)
    for kind, items in (("input", inputs), ("output", outputs)):
        for i, (n, a) in enumerate(items):
            with open(os.path.join(d, "test_data_set_0", f"{kind}_{i}.pb"), "wb") as f:
                f.write(nh.from_array(np.ascontiguousarray(a), n).SerializeToString())


def make_torch_cases(outdir):
    for name, module, give_states, dynamic, options in torch_cases():
        model, in_names, out_names, make_inputs = torch_export(module, give_states, dynamic, options)
        T, N = (6, 3) if dynamic else (4, 2)
        xs = make_inputs(T, N, seed=2)
        with torch.no_grad():
            ys = module(*xs)
        write_case(outdir, name, model, [(n, x.numpy()) for n, x in zip(in_names, xs)],
                   [(n, y.numpy()) for n, y in zip(out_names, ys)])


# ---- ONNX's operators in float64 NumPy (the ONNX operator docs' equations) ---------------
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACT = {"Tanh": np.tanh, "Relu": lambda x: np.maximum(x, 0.0), "Sigmoid": sigmoid}


def onnx_recurrent(op, X, W, R, B=None, lens=None, h0=None, c0=None, P=None, direction="forward", layout=0,
                   clip=None, lbr=0, act="Tanh"):
    """Y, Y_h, Y_c of one ONNX RNN / LSTM / GRU node, in the node's layout."""
    f64 = lambda a: None if a is None else np.asarray(a, np.float64)
    X, W, R, B, h0, c0, P = map(f64, (X, W, R, B, h0, c0, P))
    if layout == 1:
        X = X.transpose(1, 0, 2)
        h0 = None if h0 is None else h0.transpose(1, 0, 2)
        c0 = None if c0 is None else c0.transpose(1, 0, 2)
    T, N, _ = X.shape
    D, H = W.shape[0], R.shape[2]
    G = {"RNN": 1, "LSTM": 4, "GRU": 3}[op]
    cl = (lambda v: np.clip(v, -clip, clip)) if clip else (lambda v: v)
    Y, Yh, Yc = np.zeros((T, D, N, H)), np.zeros((D, N, H)), np.zeros((D, N, H))
    for d in range(D):
        rev = direction == "reverse" or d == 1
        Wb = B[d, : G * H] if B is not None else np.zeros(G * H)
        Rb = B[d, G * H:] if B is not None else np.zeros(G * H)
        Pd = P[d] if P is not None else np.zeros(3 * H)
        for n in range(N):
            h = h0[d, n].copy() if h0 is not None else np.zeros(H)
            c = c0[d, n].copy() if c0 is not None else np.zeros(H)
            L = T if lens is None else int(lens[n])
            for t in (range(L - 1, -1, -1) if rev else range(L)):
                gx, gh = W[d] @ X[t, n] + Wb, R[d] @ h + Rb
                if op == "RNN":
                    h = ACT[act](cl(gx + gh))
                elif op == "LSTM":  # gates i, o, f, c; peepholes i, o, f
                    s = lambda k: slice(k * H, (k + 1) * H)
                    i = sigmoid(cl(gx[s(0)] + gh[s(0)] + Pd[s(0)] * c))
                    f = sigmoid(cl(gx[s(2)] + gh[s(2)] + Pd[s(2)] * c))
                    g = np.tanh(cl(gx[s(3)] + gh[s(3)]))
                    c = f * c + i * g
                    o = sigmoid(cl(gx[s(1)] + gh[s(1)] + Pd[s(1)] * c))
                    h = o * np.tanh(c)
                else:  # gates z, r, h
                    z = sigmoid(cl(gx[:H] + gh[:H]))
                    r = sigmoid(cl(gx[H:2 * H] + gh[H:2 * H]))
                    if lbr:
                        hh = np.tanh(cl(gx[2 * H:] + r * gh[2 * H:]))
                    else:
                        hh = np.tanh(cl(gx[2 * H:] + R[d, 2 * H:] @ (r * h) + Rb[2 * H:]))
                    h = (1 - z) * hh + z * h
                Y[t, d, n] = h
            Yh[d, n], Yc[d, n] = h, c
    if layout == 1:
        return Y.transpose(2, 0, 1, 3), Yh.transpose(1, 0, 2), Yc.transpose(1, 0, 2)
    return Y, Yh, Yc


# ---- hand-built graphs ------------------------------------------------------------------------
def vi(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def const(name, array):
    a = np.asarray(array)
    return nh.from_array(a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int64), name)


def model(nodes, inputs, outputs, inits, opset=OPSET):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def weights(rng, op, D, H, I, bias=True, peep=False, prefix=""):
    G = {"RNN": 1, "LSTM": 4, "GRU": 3}[op]
    w = {prefix + "W": rng.uniform(-0.6, 0.6, (D, G * H, I)), prefix + "R": rng.uniform(-0.6, 0.6, (D, G * H, H))}
    if bias:
        w[prefix + "B"] = rng.uniform(-0.3, 0.3, (D, 2 * G * H))
    if peep:
        w[prefix + "P"] = rng.uniform(-0.5, 0.5, (D, 3 * H))
    return {k: v.astype(np.float32) for k, v in w.items()}


def ref_case(outdir, name, op, layers, direction, layout, T=5, N=3, I=4, H=3, lens=None, states=False, clip=None,
             lbr=0, act=None, peep=False):
    """A chain of `layers` nodes with the glue a layout needs between them
    (layout 0: Transpose [T,N,D,H] + Reshape; layout 1: Reshape [N,T,D*H])."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    D = 2 if direction == "bidirectional" else 1
    nodes, inits, feeds, outs = [], [], [], []
    x = rng.uniform(-1, 1, (T, N, I) if layout == 0 else (N, T, I)).astype(np.float32)
    inputs = [vi("x", list(x.shape))]
    feeds.append(("x", x))
    if lens is not None:
        inputs.append(vi("lens", [N], TensorProto.INT32))
        feeds.append(("lens", np.asarray(lens, np.int32)))
    sdims = [layers * D, N, H] if layout == 0 else [N, layers * D, H]
    st = {}
    if states:
        for s in (["h0", "c0"] if op == "LSTM" else ["h0"]):
            st[s] = rng.uniform(-0.5, 0.5, sdims).astype(np.float32)
            inputs.append(vi(s, sdims))
            feeds.append((s, st[s]))
    attrs = {"hidden_size": H, "direction": direction, "layout": layout}
    if clip:
        attrs["clip"] = clip
    if op == "GRU":
        attrs["linear_before_reset"] = lbr
    if act:
        attrs["activations"] = [act] * D
    cur, cur_np, yhs, ycs = "x", x, [], []
    for k in range(layers):
        w = weights(rng, op, D, H, cur_np.shape[2], peep=peep, prefix=f"l{k}_")
        inits += [const(n, v) for n, v in w.items()]
        slot_inputs = [cur, f"l{k}_W", f"l{k}_R", f"l{k}_B", "lens" if lens is not None else ""]
        st_np = {}
        for s in st:  # this layer's rows of the state inputs
            axis = 0 if layout == 0 else 1
            for nm, v in ((f"{s}_starts", [k * D]), (f"{s}_ends", [(k + 1) * D]), (f"{s}_axes", [axis])):
                inits.append(const(f"l{k}_" + nm, v))
            nodes.append(helper.make_node("Slice", [s, f"l{k}_{s}_starts", f"l{k}_{s}_ends", f"l{k}_{s}_axes"],
                                          [f"l{k}_{s}"]))
            st_np[s] = np.take(st[s], range(k * D, (k + 1) * D), axis=axis)
        slot_inputs += [f"l{k}_h0" if "h0" in st else ""]
        if op == "LSTM":
            slot_inputs += [f"l{k}_c0" if "c0" in st else "", f"l{k}_P" if peep else ""]
        outs_k = [f"l{k}_Y", f"l{k}_Yh"] + ([f"l{k}_Yc"] if op == "LSTM" else [])
        nodes.append(helper.make_node(op, slot_inputs, outs_k, name=f"layer{k}", **attrs))
        Y, Yh, Yc = onnx_recurrent(op, cur_np, w[f"l{k}_W"], w[f"l{k}_R"], w[f"l{k}_B"], lens, st_np.get("h0"),
                                   st_np.get("c0"), w.get(f"l{k}_P"), direction, layout, clip, lbr, act or "Tanh")
        yhs.append(Yh)
        ycs.append(Yc)
        inits.append(const(f"l{k}_shape", [0, 0, -1]))
        if layout == 0:  # [T, D, N, H] -> [T, N, D, H] -> [T, N, D*H]
            nodes.append(helper.make_node("Transpose", [f"l{k}_Y"], [f"l{k}_Yt"], perm=[0, 2, 1, 3]))
            nodes.append(helper.make_node("Reshape", [f"l{k}_Yt", f"l{k}_shape"], [f"l{k}_out"]))
            cur_np = Y.transpose(0, 2, 1, 3).reshape(T, N, D * H)
        else:  # [N, T, D, H] -> [N, T, D*H]
            nodes.append(helper.make_node("Reshape", [f"l{k}_Y", f"l{k}_shape"], [f"l{k}_out"]))
            cur_np = Y.reshape(N, T, D * H)
        cur = f"l{k}_out"
    axis = 0 if layout == 0 else 1
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    nodes.append(helper.make_node("Concat", [f"l{k}_Yh" for k in range(layers)], ["y_h"], axis=axis))
    outs = [("y", cur_np), ("y_h", np.concatenate(yhs, axis=axis))]
    if op == "LSTM":
        nodes.append(helper.make_node("Concat", [f"l{k}_Yc" for k in range(layers)], ["y_c"], axis=axis))
        outs.append(("y_c", np.concatenate(ycs, axis=axis)))
    # Also the last node's raw 4-D Y, in ONNX's own layout.
    outs.append((f"l{layers - 1}_Y", Y))
    m = model(nodes, inputs, [vi(n, list(a.shape)) for n, a in outs], inits)
    write_case(outdir, name, m.SerializeToString(), feeds, [(n, a.astype(np.float32)) for n, a in outs])


def make_ref_cases(outdir):
    ref_case(outdir, "ref_rnn_reverse_2l_lens", "RNN", 2, "reverse", 0, lens=[5, 2, 4], states=True)
    ref_case(outdir, "ref_lstm_reverse_peepholes_layout1", "LSTM", 1, "reverse", 1, lens=[3, 5, 1], states=True,
             peep=True)
    ref_case(outdir, "ref_gru_reverse_lbr0_clip", "GRU", 2, "reverse", 0, clip=0.7)
    ref_case(outdir, "ref_gru_bi_lbr0_2l_lens", "GRU", 2, "bidirectional", 0, lens=[4, 5, 2], states=True)
    ref_case(outdir, "ref_gru_bi_lbr1_layout1", "GRU", 2, "bidirectional", 1, lbr=1, states=True)
    ref_case(outdir, "ref_lstm_bi_2l_layout1_lens", "LSTM", 2, "bidirectional", 1, lens=[2, 5, 3], states=True,
             peep=True)
    ref_case(outdir, "ref_rnn_bi_sigmoid_clip", "RNN", 2, "bidirectional", 0, clip=0.5, act="Sigmoid")
    ref_case(outdir, "ref_rnn_relu_3l", "RNN", 3, "forward", 0, act="Relu", states=True)
    ref_case(outdir, "ref_lstm_forward_clip_lens", "LSTM", 2, "forward", 0, clip=0.8, lens=[1, 5, 3])


# ---- models simdrnn must refuse ----------------------------------------------------------------
def bad_models():
    """(name, bytes, status, text)."""
    rng = np.random.default_rng(7)
    H, I = 3, 2
    x = vi("x", [5, 2, I])

    def one(op="LSTM", attrs=None, extra_nodes=(), outputs=None, inits=None, inputs=None, slots=None, opset=OPSET,
            y="Y", pre_nodes=()):
        w = weights(rng, op, 1, H, I)
        node = helper.make_node(op, slots or ["x", "W", "R", "B"], [y, "Y_h"], name="rnn",
                                **({"hidden_size": H} if attrs is None else attrs))
        m = model([*pre_nodes, node, *extra_nodes], inputs or [x], outputs or [vi("Y_h", [1, 2, H])],
                  [const(n, v) for n, v in w.items()] if inits is None else inits, opset)
        return m

    cases = []
    add = lambda name, m, status, text: cases.append(
        (name, m if isinstance(m, bytes) else m.SerializeToString(), status, text))
    INVALID, UNSUPPORTED = "INVALID_ARGUMENT", "UNSUPPORTED"

    add("garbage", bytes(rng.integers(0, 256, 300, dtype=np.uint8)), INVALID, "does not parse")
    add("empty", b"", INVALID, "operator set")
    add("no_graph", helper.make_model(helper.make_graph([], "g", [], []), opset_imports=[helper.make_opsetid("", 14)])
        .SerializeToString(), UNSUPPORTED, "no RNN, LSTM or GRU node")
    add("missing_initializer", one(inits=[]), INVALID, "is not a graph input, an initializer")
    add("weights_as_inputs", one(inits=[], inputs=[x, vi("W", [1, 4 * H, I]), vi("R", [1, 4 * H, H]),
                                                   vi("B", [1, 8 * H])]), UNSUPPORTED, "needs the weights")
    w = weights(rng, "LSTM", 1, H, I)
    add("double_weights", one(inits=[nh.from_array(w["W"].astype(np.float64), "W"), const("R", w["R"]),
                                     const("B", w["B"])]), UNSUPPORTED, "element type DOUBLE")
    add("w_rank2", one(inits=[const("W", w["W"][0]), const("R", w["R"]), const("B", w["B"])]), INVALID, "rank")
    add("r_shape", one(inits=[const("W", w["W"]), const("R", w["R"][:, :, :2]), const("B", w["B"])]), INVALID,
        "R has shape")
    short = const("W", w["W"])
    short.raw_data = short.raw_data[:-4]
    add("raw_data_short", one(inits=[short, const("R", w["R"]), const("B", w["B"])]), INVALID, "raw_data holds")
    ext = const("W", w["W"])
    ext.ClearField("raw_data")
    ext.data_location = TensorProto.EXTERNAL
    ext.external_data.add(key="location", value="weights.bin")
    add("external_data", one(inits=[ext, const("R", w["R"]), const("B", w["B"])]), UNSUPPORTED, "external")
    add("relu_after", one(extra_nodes=[helper.make_node("Relu", ["Y_h"], ["out"], name="act")],
                          outputs=[vi("out", [1, 2, H])]), UNSUPPORTED, "operator 'Relu'")
    add("lstm_hardsigmoid", one(attrs={"hidden_size": H, "activations": ["HardSigmoid", "Tanh", "Tanh"]}),
        UNSUPPORTED, "activations")
    add("lstm_alpha", one(attrs={"hidden_size": H, "activation_alpha": [1.0]}), UNSUPPORTED, "activation_alpha")
    add("lstm_beta", one(attrs={"hidden_size": H, "activation_beta": [1.0]}), UNSUPPORTED, "activation_beta")
    add("input_forget", one(attrs={"hidden_size": H, "input_forget": 1}), UNSUPPORTED, "input_forget")
    add("unknown_attribute", one(attrs={"hidden_size": H, "frobnicate": 1}), UNSUPPORTED, "'frobnicate'")
    add("clip_negative", one(attrs={"hidden_size": H, "clip": -1.0}), INVALID, "clip")
    add("direction_bogus", one(attrs={"hidden_size": H, "direction": "sideways"}), INVALID, "direction")
    add("hidden_size_mismatch", one(attrs={"hidden_size": H + 1}), INVALID, "hidden_size")
    add("old_opset", one(opset=6), UNSUPPORTED, "operator set version 6")
    wr = weights(rng, "RNN", 2, H, I)
    add("rnn_mixed_activations", one(op="RNN", attrs={"hidden_size": H, "direction": "bidirectional",
                                                      "activations": ["Tanh", "Relu"]},
                                     inits=[const(n, v) for n, v in wr.items()], outputs=[vi("Y_h", [2, 2, H])]),
        UNSUPPORTED, "differ between directions")
    add("rnn_elu", one(op="RNN", attrs={"hidden_size": H, "activations": ["Elu"]},
                       inits=[const(n, v) for n, v in weights(rng, "RNN", 1, H, I).items()]), UNSUPPORTED, "'Elu'")
    add("custom_domain", one(extra_nodes=[helper.make_node("Foo", ["Y_h"], ["out"], domain="com.example")],
                             outputs=[vi("out", [1, 2, H])]), UNSUPPORTED, "domain")
    add("output_not_produced", one(outputs=[vi("nowhere", [1, 2, H])]), INVALID, "not produced")
    add("unused_input", one(inputs=[x, vi("spare", [3])]), UNSUPPORTED, "not read by the recurrent chain")
    add("output_is_input", one(outputs=[vi("Y_h", [1, 2, H]), vi("x", [5, 2, I])]), UNSUPPORTED,
        "not something the recurrent layers compute")
    add("only_identity", model([helper.make_node("Identity", ["x"], ["y"])], [x], [vi("y", [5, 2, I])], []),
        UNSUPPORTED, "no RNN, LSTM or GRU node")
    add("nonzero_initial_h", one(slots=["x", "W", "R", "B", "", "h0"],
                                 inits=[const(n, v) for n, v in w.items()] + [const("h0", np.ones((1, 2, H)))]),
        UNSUPPORTED, "nonzero")
    add("too_many_inputs", one(slots=["x", "W", "R", "B", "", "", "", "", ""]), INVALID, "at most 8")
    m = one()
    m.graph.node[0].attribute.append(helper.make_attribute("hidden_size", H))
    add("duplicate_attribute", m, INVALID, "appears twice")
    add("redefined_output", one(extra_nodes=[helper.make_node("Identity", ["x"], ["Y_h"])]), INVALID,
        "already defined")
    add("float16_x", one(inputs=[vi("x", [5, 2, I], TensorProto.FLOAT16)]), UNSUPPORTED, "FLOAT16")
    add("gather_last_state", one(extra_nodes=[helper.make_node("Gather", ["Y_h", "idx"], ["last"])],
                                 inits=[const(n, v) for n, v in w.items()] + [const("idx", np.array(0))],
                                 outputs=[vi("last", [2, H])]), UNSUPPORTED, "shape vector")
    add("slice_step2", one(slots=["x", "W", "R", "B", "", "h0s"], inputs=[x, vi("h0", [2, 2, H])],
                           inits=[const(n, v) for n, v in w.items()] + [const(n, v) for n, v in
                                  (("s", [0]), ("e", [2]), ("a", [0]), ("st", [2]))],
                           pre_nodes=[helper.make_node("Slice", ["h0", "s", "e", "a", "st"], ["h0s"])]),
        UNSUPPORTED, "step 2")
    add("state_wrong_batch_dim", one(slots=["x", "W", "R", "B", "", "h0"], inputs=[x, vi("h0", [1, 3, H])]),
        INVALID, "declares batch 3")

    # Two-node chains.
    def chain(op1, op2, attrs1=None, attrs2=None, y_out=False, glue=True):
        w1, w2 = weights(rng, op1, 1, H, I, prefix="a"), weights(rng, op2, 1, H, H, prefix="b")
        nodes = [helper.make_node(op1, ["x", "aW", "aR", "aB"], ["Y1", "Yh1"], name="first",
                                  **(attrs1 or {"hidden_size": H})),
                 helper.make_node("Squeeze", ["Y1", "axis1"], ["X2"]) if glue else
                 helper.make_node("Identity", ["Y1"], ["X2"]),
                 helper.make_node(op2, ["X2", "bW", "bR", "bB"], ["Y2", "Yh2"], name="second",
                                  **(attrs2 or {"hidden_size": H}))]
        outs = [vi("Y1" if y_out else "Yh2", [1, 2, H])]
        return model(nodes, [x], outs, [const(n, v) for n, v in {**w1, **w2}.items()] + [const("axis1", [1])])

    add("mixed_cells", chain("LSTM", "GRU"), UNSUPPORTED, "cell type")
    add("mixed_directions", chain("RNN", "RNN", attrs2={"hidden_size": H, "direction": "reverse"}), UNSUPPORTED,
        "direction")
    add("intermediate_y", chain("RNN", "RNN", y_out=True), UNSUPPORTED, "only the last layer's Y")
    add("no_squeeze", chain("RNN", "RNN", glue=False), UNSUPPORTED, "X is the Y of layer 0")
    # A projection between the layers.
    w1, w2 = weights(rng, "RNN", 1, H, I, prefix="a"), weights(rng, "RNN", 1, H, H, prefix="b")
    nodes = [helper.make_node("RNN", ["x", "aW", "aR", "aB"], ["Y1", "Yh1"], hidden_size=H),
             helper.make_node("Squeeze", ["Y1", "axis1"], ["Y1s"]),
             helper.make_node("MatMul", ["Y1s", "M"], ["X2"], name="mid"),
             helper.make_node("RNN", ["X2", "bW", "bR", "bB"], ["Y2", "Yh2"], hidden_size=H)]
    add("linear_between_layers",
        model(nodes, [x], [vi("Yh2", [1, 2, H])], [const(n, v) for n, v in {**w1, **w2}.items()] +
              [const("axis1", [1]), const("M", rng.uniform(size=(H, H)))]), UNSUPPORTED, "should be the Y of the previous")
    nodes = [helper.make_node("RNN", ["x", "aW", "aR", "aB"], ["Y1", "Yh1"], hidden_size=H),
             helper.make_node("Squeeze", ["Y1", "axis1"], ["Y1s"]),
             helper.make_node("MatMul", ["Y1s", "M"], ["P1"]),
             helper.make_node("MatMul", ["Y1s", "M"], ["P2"], name="again")]
    add("two_projections",
        model(nodes, [x], [vi("P1", [5, 2, H])], [const(n, v) for n, v in w1.items()] +
              [const("axis1", [1]), const("M", rng.uniform(size=(H, H)))]), UNSUPPORTED, "second projection")
    # Final states concatenated out of layer order.
    nodes = [helper.make_node("RNN", ["x", "aW", "aR", "aB"], ["Y1", "Yh1"], hidden_size=H),
             helper.make_node("Squeeze", ["Y1", "axis1"], ["X2"]),
             helper.make_node("RNN", ["X2", "bW", "bR", "bB"], ["Y2", "Yh2"], hidden_size=H),
             helper.make_node("Concat", ["Yh2", "Yh1"], ["hn"], axis=0, name="cat")]
    add("concat_out_of_order",
        model(nodes, [x], [vi("hn", [2, 2, H])], [const(n, v) for n, v in {**w1, **w2}.items()] +
              [const("axis1", [1])]), UNSUPPORTED, "does not continue")
    # Layers that disagree on sequence_lens.
    nodes = [helper.make_node("RNN", ["x", "aW", "aR", "aB", "lens"], ["Y1", "Yh1"], hidden_size=H),
             helper.make_node("Squeeze", ["Y1", "axis1"], ["X2"]),
             helper.make_node("RNN", ["X2", "bW", "bR", "bB"], ["Y2", "Yh2"], hidden_size=H)]
    add("lens_one_layer",
        model(nodes, [x, vi("lens", [2], TensorProto.INT32)], [vi("Yh2", [1, 2, H])],
              [const(n, v) for n, v in {**w1, **w2}.items()] + [const("axis1", [1])]), UNSUPPORTED,
        "sequence_lens")
    return cases


def make_bad(outdir):
    d = os.path.join(outdir, "bad")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "manifest.tsv"), "w") as manifest:
        for name, data, status, text in bad_models():
            with open(os.path.join(d, name + ".onnx"), "wb") as f:
                f.write(data)
            manifest.write(f"{name}\t{status}\t{text}\n")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    torch.set_num_threads(1)
    outdir = sys.argv[1]
    for sub in ("cases", "bad"):  # no stale models from an older version of this script
        shutil.rmtree(os.path.join(outdir, sub), ignore_errors=True)
    make_bad(outdir)
    make_ref_cases(outdir)
    make_torch_cases(outdir)
    print(f"models written under {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
