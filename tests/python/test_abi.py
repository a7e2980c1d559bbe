"""The package's ctypes declarations against the C compiler's view of simdrnn.h.

A C program generated from the package's own declarations prints sizeof, alignof and
every field's offsetof and size for each struct, and every enum constant; the test
compares them with ctypes. A field added, removed, reordered or retyped in the header
(without the package following) fails here, as does a changed enum value.
"""
import ctypes
import os
import shutil
import subprocess

import pytest

import simdrnn
from simdrnn import _capi
from conftest import REPO

HEADER_DIR = REPO / "include"


def c_layout(tmp_path):
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "simdrnn/simdrnn.h"', "int main(void) {"]
    for struct in _capi.STRUCTS:
        name = struct.__name__
        lines.append(f'  printf("{name} sizeof %zu alignof %zu\\n", sizeof({name}), _Alignof({name}));')
        for field, _ in struct._fields_:
            lines.append(f'  printf("{name}.{field} %zu %zu\\n", offsetof({name}, {field}), '
                         f'sizeof((({name}*)0)->{field}));')
    for enum, prefix in _capi.ENUM_C_PREFIXES:
        for member in enum:
            lines.append(f'  printf("{prefix}{member.name} %d\\n", (int)({prefix}{member.name}));')
    lines += ["  return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no C compiler (cc) to check the struct layouts with")
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", str(HEADER_DIR), str(src), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())  # "key value..."


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    return c_layout(tmp_path_factory.mktemp("abi"))


@pytest.mark.parametrize("struct", _capi.STRUCTS, ids=lambda s: s.__name__)
def test_struct_layout_matches_header(layout, struct):
    name = struct.__name__
    assert layout[name] == f"sizeof {ctypes.sizeof(struct)} alignof {ctypes.alignment(struct)}", (
        f"{name}: the header and python/simdrnn/_capi.py disagree on its size (a field added or removed?)")
    for field, ctype in struct._fields_:
        descriptor = getattr(struct, field)
        assert layout[f"{name}.{field}"] == f"{descriptor.offset} {ctypes.sizeof(ctype)}", (
            f"{name}.{field}: offset/size differ between the header and _capi.py")


@pytest.mark.parametrize("enum_prefix", _capi.ENUM_C_PREFIXES, ids=lambda e: e[0].__name__)
def test_enum_values_match_header(layout, enum_prefix):
    enum, prefix = enum_prefix
    for member in enum:
        assert layout[f"{prefix}{member.name}"] == str(int(member)), f"{prefix}{member.name}"


def test_config_defaults_match_library():
    """Config's defaults are simdrnn_config_default()'s (beyond the two required sizes)."""
    c_default = _capi.load().simdrnn_config_default()
    ours = simdrnn.Config(input_size=c_default.input_size, hidden_size=c_default.hidden_size)
    round_trip = simdrnn.Config.from_c(c_default)
    assert round_trip == ours


def test_every_prototype_resolves():
    lib = _capi.load()
    for name in _capi.PROTOTYPES:
        assert getattr(lib, name).argtypes is not None, name
