#!/usr/bin/env bash
# Data-loading benchmark: mdlab's loader vs torchvision's DataLoader (Debian's
# python3-torchvision) on the same generated ImageNet-like JPEG folder, with the same number
# of threads / worker processes, back to back, three rounds alternating; prints images/s and
# the ratios of medians.
#   bash bench/run_data_bench.sh [BUILD_DIR] [THREADS] [FINISH]
# (after cmake --build --preset default). The augmenting modes also run with
# data.augment_on = "device" (simclr-device, dino-device): the threads decode and crop, and
# the batches are finished by BatchAugment on FINISH: "none" (the default: the loader's side
# alone, the CPU work of a GPU run), "cpu" (on the main thread) or "cuda" (a CUDA build on a
# GPU machine: the whole pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
threads="${2:-2}"
finish="${3:-none}"
data="$build/bench-data/imagenet-like"
if [ ! -d "$data/train" ]; then
  /usr/bin/python3 bench/make_imagenet_like.py "$data" --images 1000 >/dev/null
fi
# Long enough that start-up effects (first touch of the batch buffers, worker start) weigh
# little against the steady state: 120 batches, except for torchvision's augmenting modes,
# where 30 batches already take 40 s and more. (At 30 batches mdlab's first touch of ~300 MB
# of batch memory cost about 12% of its SimCLR figure.)
images=7680
slow_images=1920
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
declare -A result
for mode in decode simclr dino; do
  m=(); t=()
  d=()
  for round in 1 2 3; do
    [ "$mode" = decode ] ||
      d+=("$("$build/bin/mdlab_bench_data" "$data" "$mode" --threads "$threads" --batch 64 \
               --images "$images" --augment-on device --finish "$finish" | awk '{print $2}')")
    m+=("$("$build/bin/mdlab_bench_data" "$data" "$mode" --threads "$threads" --batch 64 \
             --images "$images" | awk '{print $2}')")
    t+=("$(/usr/bin/python3 bench/torchvision_loader.py "$data" "$mode" --workers "$threads" \
             --batch 64 --images "$([ "$mode" = decode ] && echo "$images" || echo "$slow_images")" |
             awk '{print $2}')")
  done
  result[$mode,m]=$(median "${m[@]}")
  result[$mode,t]=$(median "${t[@]}")
  echo "$mode: mdlab ${result[$mode,m]} img/s (rounds ${m[*]}), torchvision ${result[$mode,t]} img/s (rounds ${t[*]})"
  [ "$mode" = decode ] && continue
  result[$mode,d]=$(median "${d[@]}")
  echo "$mode with augment_on = device (finish: $finish): mdlab ${result[$mode,d]} img/s (rounds ${d[*]})"
done
echo "ImageNet-like JPEGs (shorter side 300-500 px), $threads threads / workers, batch 64, median of 3:"
for mode in decode simclr dino; do
  awk -v m="${result[$mode,m]}" -v t="${result[$mode,t]}" -v mode="$mode" \
    'BEGIN { printf "  %-7s mdlab / torchvision = %.2fx\n", mode, m / t }'
done
awk -v s="${result[simclr,m]}" -v d="${result[decode,m]}" \
  'BEGIN { printf "  mdlab simclr two-view / decode-only throughput = %.2f (target >= 1/1.5 = 0.67)\n", s / d }'
awk -v s="${result[simclr,d]}" -v d="${result[decode,m]}" -v f="$finish" \
  'BEGIN { printf "  the same with augment_on = device (finish: %s) = %.2f\n", f, s / d }'
awk -v s="${result[dino,d]}" -v w="${result[dino,m]}" \
  'BEGIN { printf "  dino with augment_on = device / workers = %.2fx\n", s / w }'
