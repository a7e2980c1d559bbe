#!/usr/bin/env bash
# Installs the Debian 12 packages simdrnn needs, only those that are missing.
set -euo pipefail
packages=(g++ cmake make pkg-config libdnnl-dev libxsimd-dev libgtest-dev libbenchmark-dev
          python3 python3-numpy python3-matplotlib python3-torch
          libonnx-dev libprotobuf-dev libonnx-testdata python3-onnx)  # the ONNX importer and its tests
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "simdrnn: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
