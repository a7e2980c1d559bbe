#!/usr/bin/env python3
"""ctest's entry point for one pytest file: exits 77 (ctest: "Skipped") when numpy,
torch or pytest is missing, else runs pytest on the arguments and returns its status."""
import sys

try:
    import numpy  # noqa: F401
    import pytest
    import torch  # noqa: F401
except ImportError as e:
    print(f"SKIP: the Python tests need numpy, torch and pytest ({e})")
    sys.exit(77)

# -rfEsxX: list failures, errors, skips and xfails with their reasons at the end;
# -p no:cacheprovider: write nothing into the source tree.
sys.exit(pytest.main(["-q", "-rfEsxX", "-p", "no:cacheprovider", *sys.argv[1:]]))
