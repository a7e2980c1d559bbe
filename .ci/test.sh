#!/usr/bin/env bash
# Builds simdrnn and runs every test twice: a Release build, then the whole
# suite again under AddressSanitizer + UBSan (SIMDRNN_TEST_QUICK=1 trims the
# longest sweeps there). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMDRNN_SANITIZE=ON -DSIMDRNN_BUILD_BENCHMARKS=OFF
cmake --build build-asan -j"$jobs"
SIMDRNN_TEST_QUICK=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"
