#!/usr/bin/env bash
# Step benchmark: mdlab's supervised and SimCLR training steps vs the same steps in Debian's
# python3-torch, measured back to back in one run, three rounds alternating; prints the
# ratios of medians.
#   bash bench/run_step_bench.sh [BUILD_DIR]      (after cmake --build --preset default)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
args=(--batch 64 --size 64 --steps 20 --threads 2)
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
for method in supervised simclr; do
  mdlab_ms=(); torch_ms=()
  for round in 1 2 3; do
    mdlab_ms+=("$("$build/bin/mdlab_bench_step" --method "$method" "${args[@]}" | awk '{print $4}')")
    torch_ms+=("$(/usr/bin/python3 bench/torch_step.py --method "$method" "${args[@]}" | awk '{print $4}')")
  done
  m=$(median "${mdlab_ms[@]}"); t=$(median "${torch_ms[@]}")
  echo "ResNet-18, 64 px, batch 64, 2 threads, $method step (median of 3 rounds):"
  echo "  mdlab   ${m} ms   (rounds: ${mdlab_ms[*]})"
  echo "  PyTorch ${t} ms   (rounds: ${torch_ms[*]})"
  awk -v m="$m" -v t="$t" 'BEGIN { printf "  ratio mdlab / PyTorch = %.3f (target <= 1.0)\n", m / t }'
done
