#!/usr/bin/env bash
# Builds simdrnn and runs every test three times: a Release build with GCC, a
# clang build with AddressSanitizer + UBSan that also runs the fuzzers, and a
# clang Release build, so that bit-identical results for any thread count are
# checked with both compilers at full optimisation.
# Installs missing Debian packages first (.ci/deps.sh). Exits non-zero on any
# failure, and on any test ctest did not run (skipped or disabled): a test
# that skips itself for a missing package would hide a missing install step.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
t0=$(date +%s)

stage() { printf '\n== %s (at %d s) ==\n' "$*" $(( $(date +%s) - t0 )); }

# Tests allowed not to run, each for its reason (extended regexes over
# ctest's "did not run" lines):
# - NoAllocation.SkippedUnderSanitizers: by design; a sanitizer owns operator
#   new, so the allocation count is checked in the other builds only.
# - the ONNX conformance data lives beside the checkout
#   (../shared/conformance/onnx_rnn), so a clean clone has none and the test
#   skips, until it reads data a Debian package ships (libonnx-testdata has
#   the same four cases).
allowed_not_run='NoAllocation\.SkippedUnderSanitizers|OnnxConformance\.MatchesReferenceOutputs/NoData'

run_ctest() {  # $1: build directory; the rest: VAR=value for the tests
  local dir=$1 log=$1/ctest.log not_run
  shift
  env "$@" ctest --test-dir "$dir" --output-on-failure -j"$jobs" 2>&1 | tee "$log"
  not_run=$(awk '/^The following tests did not run:/ { on = 1; next } on && /^\t/ { print } on && !/^\t/ { on = 0 }' "$log")
  if [ -n "$not_run" ] && grep -Eq "$allowed_not_run" <<<"$not_run"; then
    echo "test.sh: NOTE: allowed not to run (see allowed_not_run in .ci/test.sh):" >&2
    grep -E "$allowed_not_run" <<<"$not_run" >&2
  fi
  not_run=$(grep -Ev "$allowed_not_run" <<<"$not_run" || true)
  if [ -n "$not_run" ]; then
    printf 'test.sh: tests in %s did not run:\n%s\n' "$dir" "$not_run" >&2
    exit 1
  fi
}

stage "Debian packages (.ci/deps.sh installs what is missing)"
bash .ci/deps.sh

stage "GCC Release"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
run_ctest build

# clang with AddressSanitizer + UBSan runs the whole suite again
# (SIMDRNN_TEST_QUICK=1 trims the longest sweeps), and the libFuzzer targets
# for a minute each (onnx_fuzz_load). allocator_may_return_null: the
# out-of-memory tests ask for more than ASan's allocator serves and expect
# SIMDRNN_OUT_OF_MEMORY.
stage "clang + AddressSanitizer + UBSan + libFuzzer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DSIMDRNN_SANITIZE=ON -DSIMDRNN_BUILD_FUZZERS=ON -DSIMDRNN_BUILD_BENCHMARKS=OFF
cmake --build build-asan -j"$jobs"
run_ctest build-asan SIMDRNN_TEST_QUICK=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1

# Benchmarks off: simdrnn-bench is built with GCC by benchmarks/run.sh.
stage "clang Release"
cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DSIMDRNN_BUILD_BENCHMARKS=OFF
cmake --build build-clang -j"$jobs"
run_ctest build-clang

stage "all passed"
