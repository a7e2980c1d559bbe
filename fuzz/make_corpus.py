#!/usr/bin/env python3
"""Writes the seed corpus of the model-file fuzzer into fuzz/corpus/model_file/.

Valid files: tiny models of every cell and optional tensor, saved by the library
itself (so the corpus follows the format). Broken files: the same bytes damaged in
the ways the loader must reject (truncated, not JSON, wrong dtype, overlapping
offsets, a missing tensor, a bad metadata value, a huge header length). Files named
found_* are inputs the fuzzer once crashed on, kept as regression seeds; this script
leaves them alone.

    SIMDRNN_LIBRARY=build/libsimdrnn.so PYTHONPATH=python python3 fuzz/make_corpus.py
"""
import json
import struct
from pathlib import Path

import numpy as np

import simdrnn

OUT = Path(__file__).resolve().parent / "corpus" / "model_file"


def weights(config, biases, peepholes, bias_hy):
    """Every tensor of the config, small distinct values."""
    names = []
    for layer in range(config.num_layers):
        for suffix in ("", "_reverse")[:config.num_directions]:
            s = f"_l{layer}{suffix}"
            names += [f"weight_ih{s}", f"weight_hh{s}"]
            names += [f"bias_ih{s}", f"bias_hh{s}"] if biases else []
            names += [f"weight_hr{s}"] if config.proj_size > 0 else []
            names += [f"weight_peephole{s}"] if peepholes else []
    if config.output_size > 0:
        names += ["weight_hy"] + (["bias_hy"] if bias_hy else [])
    out = {}
    for i, name in enumerate(names):
        shape = simdrnn.weight_shape(config, name)
        assert shape is not None, name
        out[name] = (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * 0.125 - i * 0.25) % 2 - 1
    return out


def model(biases=True, peepholes=False, bias_hy=False, **config):
    c = simdrnn.Config(**config)
    return simdrnn.Model(c, weights(c, biases, peepholes, bias_hy)).to_bytes()


def split(data):
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header, body):
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + body


def main():
    valid = {
        "rnn_tanh": model(biases=False, input_size=2, hidden_size=2),
        "rnn_relu_bidir_2layers_clip_out": model(input_size=2, hidden_size=2, num_layers=2, bidirectional=True,
                                                 activation="relu", clip=0.5, output_size=1, bias_hy=True),
        "lstm_proj_peepholes_bidir": model(peepholes=True, input_size=2, hidden_size=2, proj_size=1,
                                           bidirectional=True, cell="lstm"),
        "lstm_out_no_bias": model(biases=False, input_size=1, hidden_size=2, cell="lstm", output_size=2),
        "gru_pytorch_2layers": model(input_size=2, hidden_size=1, num_layers=2, cell="gru"),
        "gru_onnx_out": model(input_size=1, hidden_size=2, cell="gru", gru_linear_before_reset=False,
                              output_size=1, bias_hy=True),
    }
    base = valid["lstm_proj_peepholes_bidir"]
    header, body = split(base)
    broken = {"truncated": base[:len(base) // 2], "not_json": base[:9] + b"}" + base[10:]}
    h = json.loads(json.dumps(header))
    h["weight_hh_l0"]["dtype"] = "F16"
    broken["wrong_dtype"] = join(h, body)
    h = json.loads(json.dumps(header))
    h["bias_hh_l0"]["data_offsets"] = h["bias_ih_l0"]["data_offsets"]
    broken["overlapping"] = join(h, body)
    h = json.loads(json.dumps(header))
    begin, end = h.pop("weight_hr_l0")["data_offsets"]
    for t, info in h.items():
        if t != "__metadata__" and info["data_offsets"][0] >= end:
            info["data_offsets"] = [o - (end - begin) for o in info["data_offsets"]]
    broken["missing_tensor"] = join(h, body[:begin] + body[end:])
    h = json.loads(json.dumps(header))
    h["__metadata__"]["simdrnn.hidden_size"] = "two"
    broken["bad_metadata"] = join(h, body)
    broken["huge_header_length"] = struct.pack("<Q", 2**63) + base[8:]

    OUT.mkdir(parents=True, exist_ok=True)
    for old in list(OUT.glob("valid_*")) + list(OUT.glob("broken_*")):  # found_*: kept (fuzzer finds)
        old.unlink()
    for name, data in valid.items():
        simdrnn.load_bytes(data)  # the valid ones must load
        (OUT / f"valid_{name}.safetensors").write_bytes(data)
    for name, data in broken.items():
        try:
            simdrnn.load_bytes(data)
        except simdrnn.Error:
            pass
        else:
            raise SystemExit(f"broken_{name} loads")
        (OUT / f"broken_{name}.safetensors").write_bytes(data)
    print(f"wrote {len(valid) + len(broken)} files to {OUT}")


if __name__ == "__main__":
    main()
