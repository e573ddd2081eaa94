#!/usr/bin/env bash
# Installs everything mdlab needs to build, test and run, from Debian 12 packages only.
# Idempotent: re-running it on a machine that has everything is quick.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git
  # libraries the build links against
  libtorch-dev                 # LibTorch 1.13 (CPU) + its CMake config
  libboost-dev                 # Boost.DLL (header-only) used by the plugin loader
  libboost-program-options-dev # the CLI
  libtomlplusplus-dev          # experiment files
  nlohmann-json3-dev           # diffusers model folders (config.json, model_index.json)
  libfmt-dev                   # formatting
  libhdf5-dev                  # run log
  libjpeg62-turbo-dev          # JPEG decoding with DCT scaling (libjpeg-turbo)
  libpng-dev                   # PNG decoding
  libgloo-dev                  # headers of c10d::ProcessGroupGloo (distributed collectives)
  zlib1g-dev                   # gzip-compressed IDX datasets
  catch2                       # unit tests (v2: catch2/catch.hpp)
  # BLAS: Debian's default libblas.so.3 is the reference BLAS, ~10x slower for LibTorch
  libopenblas0-pthread
  # run-log inspection used by the tests (h5dump, h5py) and the embedded dataset
  hdf5-tools python3 python3-h5py python3-numpy
  # the PyTorch side of parity tests and benchmarks (weights loaded into torchvision models,
  # the torchvision DataLoader peer) and the sample photos of the loader benchmark
  python3-torch python3-torchvision python3-pil python3-skimage
  dataset-fashion-mnist
  # `mdlab report`'s test opens the page in a headless browser
  chromium
)
# Node.js and npm install the charting library `mdlab report` inlines (below); machines that
# come without them get Debian's.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#packages[@]} packages present"
fi

# Make OpenBLAS the libblas.so.3 that LibTorch resolves at run time.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
openblas="/usr/lib/${arch}/openblas-pthread/libblas.so.3"
if [ -e "$openblas" ]; then
  current=$(update-alternatives --query "libblas.so.3-${arch}" 2>/dev/null | awk '/^Value:/{print $2}')
  if [ "$current" != "$openblas" ]; then
    $SUDO update-alternatives --set "libblas.so.3-${arch}" "$openblas"
  fi
fi

# The charting library of `mdlab report` (Plotly's basic bundle), pinned by
# core/report/web/package-lock.json, into core/report/web/node_modules (git-ignored).
web="$(cd "$(dirname "$0")/.." && pwd)/core/report/web"
if [ ! -f "$web/node_modules/plotly.js-basic-dist-min/plotly-basic.min.js" ]; then
  echo "install-deps: installing the report's charting library from npm"
  npm ci --prefix "$web" --no-audit --no-fund --loglevel=error
fi
