#!/usr/bin/env bash
# The main job: builds simdrnn-bench (Release), runs the default suites with
# oneDNN beside simdrnn, and writes perf-reports/<date>-<cpu>-<commit>/
# (report.md, PNG charts, the raw JSON); a full run then regenerates README's
# performance table. The report records how long simdrnn-bench ran.
#
#   bash benchmarks/run.sh            full run: median of 5 repetitions
#   bash benchmarks/run.sh --quick    a quick look: fewer shapes, 3 short repetitions,
#                                     report in perf-reports/<...>-quick/; README left alone
#   bash benchmarks/run.sh [--quick] --threads=1,2,4,8   more thread counts (up to the cores)
#
# Other arguments go to simdrnn-bench (e.g. --benchmark_filter='latency/.*');
# with any of them (other than --threads) the README table is left alone,
# since the run may be partial. Only a full run writes the table: quick
# numbers (fewer, shorter repetitions) must not stand in for it.
# OMP_PROC_BIND and OMP_PLACES are left unset: libgomp applies them when the
# program starts, binding the main thread to one core before simdrnn reads the
# CPUs it may use, and simdrnn then runs every call on that one core.
# SIMDRNN_BENCH_BUILD_DIR picks the build directory (default build-bench).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
partial=0  # 1: arguments that change what runs (filters, ...): README is left alone
extra=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --threads=*) extra+=("$arg") ;;
    *) extra+=("$arg"); partial=1 ;;
  esac
done

step() { printf '\n== [%s/4] %s ==\n' "$1" "$2"; }
python=/usr/bin/python3
[ -x "$python" ] || python=python3

step 1 "Debian packages (.ci/deps.sh installs what is missing)"
bash .ci/deps.sh

step 2 "build (Release, tests off)"
build=${SIMDRNN_BENCH_BUILD_DIR:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSIMDRNN_BUILD_TESTS=OFF -DSIMDRNN_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target simdrnn-bench

# The commit the numbers belong to; "-dirty" when tracked files other than
# README.md and perf-reports/ (which this script writes) differ from it.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no -- . \
    ':(exclude)README.md' ':(exclude)perf-reports' 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi
export SIMDRNN_BENCH_COMMIT=$commit

if [ "$quick" = 1 ]; then
  bench_args=(--quick --benchmark_repetitions=3 --benchmark_report_aggregates_only=true)
  what="quick set, 3 repetitions of >= 0.05 s each"
else
  bench_args=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.3)
  what="default suites, medians of 5 repetitions of >= 0.3 s each"
fi
json="$build/simdrnn-bench-$(date -u +%Y%m%dT%H%M%SZ).json"
step 3 "simdrnn-bench: $what"
start=$(date +%s)
"$build/benchmarks/simdrnn-bench" "${bench_args[@]}" ${extra[@]+"${extra[@]}"} \
  --benchmark_out="$json" --benchmark_out_format=json
seconds=$(( $(date +%s) - start ))
echo "simdrnn-bench: done in $seconds s; raw JSON $json"

step 4 "report"
report_dir=$("$python" benchmarks/report.py "$json" --run-seconds "$seconds" | tail -n 1)
echo "report: $report_dir/report.md"
if [ "$partial" = 1 ]; then
  echo "README.md left as it is (a run with extra arguments: ${extra[*]})"
elif [ "$quick" = 1 ]; then
  echo "README.md left as it is (only a full run regenerates its table)"
else
  "$python" benchmarks/report.py --readme "$report_dir"
fi
