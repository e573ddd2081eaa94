#!/usr/bin/env bash
# Builds tests/gpu/check_diffusion_layers.cpp with the diffusion layers against the LibTorch
# of the local CUDA PyTorch (python3 -c "import torch") and runs it. A manual check for a GPU
# machine; CI has none. Exit status: the check's.
set -euo pipefail
cd "$(dirname "$0")/../.."
tp=$(python3 -c "import os, torch; print(os.path.dirname(torch.__file__))")
abi=$(python3 -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))")
out="${TMPDIR:-/tmp}/mdlab_check_diffusion_layers"
g++ -std=c++17 -O2 -D_GLIBCXX_USE_CXX11_ABI="$abi" -Iplugins/generators/diffusion \
  -I"$tp/include" -I"$tp/include/torch/csrc/api/include" \
  tests/gpu/check_diffusion_layers.cpp plugins/generators/diffusion/layers.cpp -o "$out" \
  -L"$tp/lib" -Wl,-rpath,"$tp/lib" -Wl,--no-as-needed -ltorch -ltorch_cuda -ltorch_cpu -lc10 \
  -lc10_cuda
"$out"
