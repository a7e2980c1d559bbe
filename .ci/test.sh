#!/usr/bin/env bash
# Builds simdrnn and runs every test three times: a Release build with GCC,
# the whole suite again under AddressSanitizer + UBSan (SIMDRNN_TEST_QUICK=1
# trims the longest sweeps there), and a Release build with clang, so that
# bit-identical results for any thread count hold with both compilers.
# Installs missing Debian packages first (.ci/deps.sh). Exits non-zero on any
# failure, and on any test ctest did not run: a test skipped for a missing
# package would hide a missing install step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
jobs=$(nproc)
t0=$(date +%s)

stage() { printf '\n== %s (at %d s) ==\n' "$*" $(( $(date +%s) - t0 )); }

run_ctest() {  # $1: build directory; the rest: VAR=value for the tests
  local dir=$1 log=$1/ctest.log
  shift
  env "$@" ctest --test-dir "$dir" --output-on-failure -j"$jobs" 2>&1 | tee "$log"
  if grep -q "The following tests did not run" "$log"; then
    echo "test.sh: tests in $dir did not run (skipped or disabled; see above)" >&2
    exit 1
  fi
}

stage "GCC Release"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
run_ctest build

stage "GCC AddressSanitizer + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMDRNN_SANITIZE=ON -DSIMDRNN_BUILD_BENCHMARKS=OFF
cmake --build build-asan -j"$jobs"
run_ctest build-asan SIMDRNN_TEST_QUICK=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1

# Benchmarks off: simdrnn-bench is built with GCC by benchmarks/run.sh, and
# the suite already compares with oneDNN.
stage "clang Release"
cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DSIMDRNN_BUILD_BENCHMARKS=OFF
cmake --build build-clang -j"$jobs"
run_ctest build-clang

stage "all passed"
