#!/usr/bin/env bash
# Data-parallel scaling on this machine: SimCLR on the narrow ResNet-18 (width 16, CIFAR stem)
# over Fashion-MNIST at 28 px with the same global batch of 128, in 1 process and in 2
# (`mdlab run --nproc 2`, Gloo on loopback), 1 LibTorch thread and 1 loader thread per
# process, rounds alternating. Prints, per run, images/s (median of the logged windows after
# the first), the speed-up of 2 processes, and the fraction of each step the 2-process run
# waited for its gradient all-reduce after backward (train/gradient_sync_fraction: what
# overlapping the all-reduce with backward did not hide); and 2 processes without
# SyncBatchNorm (what its per-layer collectives cost).
#   bash bench/run_scaling_bench.sh [BUILD_DIR] [STEPS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
steps="${2:-60}"
rounds="${3:-2}"
work="$(mktemp -d /tmp/mdlab-scaling-XXXXXX)"
trap 'rm -rf "$work"' EXIT
cat > "$work/simclr.toml" <<EOF2
[experiment]
seed = 0
threads = 1
output_dir = "$work/runs"
[data]
root = "/usr/share/datasets/fashion-mnist"
fraction = 0.5
channels = 1
workers = 1
[data.augment.all]
mean = [0.5]
std = [0.25]
[backbone]
name = "resnet"
depth = 18
width = 16
cifar_stem = true
in_channels = 1
[method]
name = "simclr"
view_size = 28
[train]
epochs = 1
max_steps = $steps
batch_size = 128
lr = 0.1
log_every = 10
validate = false
online_probe = false
EOF2
summary() {  # summary RUN_DIR: median images/s and gradient sync fraction after the first window
  /usr/bin/python3 - "$1/run.h5" <<'PY'
import statistics, sys, h5py
f = h5py.File(sys.argv[1], "r")["metrics/train"]
def tail(name):
    if name not in f:
        return None
    values = [row[1] for row in f[name][:]][1:]
    return statistics.median(values) if values else None
ips, sync = tail("images_per_second"), tail("gradient_sync_fraction")
print(f"{ips:.1f} images/s" + (f", gradient sync {100 * sync:.1f}% of the step" if sync is not None else ""))
PY
}
for round in $(seq 1 "$rounds"); do
  "$build/bin/mdlab" run "$work/simclr.toml" --out "$work/one_$round" 2>/dev/null
  "$build/bin/mdlab" run "$work/simclr.toml" --out "$work/two_$round" --nproc 2 \
    --set train.batch_size=64 2>/dev/null
  # The same without SyncBatchNorm: what its per-layer collectives cost.
  "$build/bin/mdlab" run "$work/simclr.toml" --out "$work/local_$round" --nproc 2 \
    --set train.batch_size=64 --set train.sync_batch_norm=false 2>/dev/null
  echo "round $round: 1 process x 128: $(summary "$work/one_$round")"
  echo "round $round: 2 processes x 64: $(summary "$work/two_$round")"
  echo "round $round: 2 processes x 64, sync_batch_norm = false: $(summary "$work/local_$round")"
done
