#!/usr/bin/env bash
# Installs the Debian packages cgrad needs to build, test and benchmark.
# Idempotent: when everything is present it installs nothing and says so.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --bench  also PyTorch, for the benchmarks in bench/
set -euo pipefail

packages=(build-essential cmake pkg-config clang libclang-rt-14-dev
          libopenblas-openmp-dev libpng-dev zlib1g-dev libcurl4-openssl-dev
          libarchive-dev libssl-dev libcmocka-dev libdnnl-dev libjpeg62-turbo-dev
          libcairo2-dev fonts-dejavu-core libsleef-dev libopenmpi-dev openmpi-bin
          libgraphviz-dev chromium)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch python3-torchvision python3-numpy python3-pil)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# libomp-dev is only needed by clang's OpenMP; it may come as libomp-dev or libomp-14-dev.
if ! dpkg-query -W -f='${Status}' libomp-dev 2>/dev/null | grep -q "install ok installed" &&
   ! dpkg-query -W -f='${Status}' libomp-14-dev 2>/dev/null | grep -q "install ok installed"; then
  missing+=(libomp-dev)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
