#!/usr/bin/env bash
# Installs the Debian 12 packages simdrnn needs, only those that are missing,
# with --no-install-recommends: every package a build step needs is named here,
# so a fresh root (debootstrap --variant=minbase) exposes a forgotten one.
#
#   bash .ci/deps.sh             everything: tests, benchmarks, examples, the
#                                clang build, and what later work uses
#   bash .ci/deps.sh --library   only what building and installing the library
#                                needs (compiler, CMake, xsimd; nlohmann-json for the model file;
#                                OpenMP comes with g++)
set -euo pipefail

library=(g++ cmake make pkg-config libxsimd-dev nlohmann-json3-dev) # nlohmann: the model file's JSON header
full=("${library[@]}"
  git ca-certificates            # run.sh names reports by commit; https clones
  libdnnl-dev ocl-icd-opencl-dev # Debian's dnnl-config.cmake does find_package(OpenCL REQUIRED);
                                 # libdnnl-dev only recommends the OpenCL package
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-numpy python3-matplotlib python3-torch python3-onnx python3-pytest
  libonnx-dev libprotobuf-dev    # ONNX's CMake targets link protobuf::libprotobuf and its
                                 # headers include protobuf's, but libonnx-dev does not depend on it
  libonnx-testdata nlohmann-json3-dev
  clang libomp-dev libclang-rt-14-dev) # clang build: OpenMP runtime, sanitizer and libFuzzer runtimes

case "${1:-}" in
  "") packages=("${full[@]}") ;;
  --library) packages=("${library[@]}") ;;
  *) echo "usage: bash .ci/deps.sh [--library]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "simdrnn: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
