#!/usr/bin/env bash
# The GPU check, in one go on a machine with an NVIDIA GPU, a compiler, CMake, ninja and a
# CUDA PyTorch (whose package folder holds LibTorch), but none of our Debian packages:
#   bash scripts/gpu-check.sh [KIT_DIR] [RESULTS_DIR]
# KIT_DIR (default .gpu-kit) comes from scripts/gpu-kit.sh on a Debian 12 machine. It builds
# mdlab against the pip LibTorch (scripts/kit-build.sh), then, each stage within what is left
# of MDLAB_GPU_BUDGET seconds (default 570; a stage that would not fit is reported skipped):
#   1. the CUDA test cases (MDLAB_TEST_DEVICE=cuda): BatchAugment, diffusion layers,
#      autocast and the loss scaler, pinned batches;
#   2. SD-1.x UNet + VAE image variations at 512 px, 50 steps, batch 16, fp16 (random
#      weights, bench/sd15), mdlab and its PyTorch peers (diffusers itself when
#      DIFFUSERS_SRC or .gpu-extra/diffusers-src.tar.xz is there; the plain torch.nn peer);
#   3. the SimCLR step, ResNet-50, 224 px, batch 256, bf16, channels-last: mdlab, PyTorch eager;
#   4. data wait: SimCLR runs (ResNet-50, 224 px, batch 256, bf16, 16 loader threads) on a
#      generated JPEG set with augment_on = "device" and = "workers" (train/data_wait_fraction);
#   5. a short DINO run (ViT-S/16, bf16) and a short fp16 SimCLR run (loss scaling);
#   6. the rest of the tree (the other test executables, the test plugins);
#   7. the same SimCLR step through torch.compile.
# MDLAB_GPU_SKIP, a regular expression, skips the stages whose names match (e.g. "compile|peer"
# where those figures are already at hand).
# Writes RESULTS_DIR/gpu-results.md (the figures and what passed) and gpu-check.log (all
# output); RESULTS_DIR defaults to $OUT (the device tool's folder) or gpu-results/.
set -uo pipefail
cd "$(dirname "$0")/.."
kit=$(realpath "${1:-.gpu-kit}")
out=$(realpath -m "${2:-${OUT:-gpu-results}}")
budget=${MDLAB_GPU_BUDGET:-570}
build=build-cuda
work=/tmp/mdlab-gpu
start=$SECONDS
mkdir -p "$out" "$work"
res="$out/gpu-results.md"
log="$out/gpu-check.log"
: > "$res"
exec > >(tee -a "$log") 2>&1

note() { echo "$*" >> "$res"; echo "RESULT: $*" >&2; }
left() { echo $((budget - (SECONDS - start))); }
# stage NAME SECONDS_NEEDED COMMAND...: runs COMMAND if the budget allows, bounded by it.
stage() {
  local name=$1 need=$2 t0=$SECONDS rc
  shift 2
  if [ -n "${MDLAB_GPU_SKIP:-}" ] && [[ "$name" =~ $MDLAB_GPU_SKIP ]]; then
    note "- $name: SKIPPED (MDLAB_GPU_SKIP)"
    return 98
  fi
  if [ "$(left)" -lt "$need" ]; then
    note "- $name: SKIPPED, $(left) s of the budget left (needs about $need s)"
    return 99
  fi
  echo "=== $name ($(left) s left)"
  timeout --kill-after=5 $(($(left) - 3)) "$@"
  rc=$?
  note "- $name: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - t0)) s"
  return $rc
}

py=python3
tp=$($py -c "import os, torch; print(os.path.dirname(torch.__file__))")
note "# mdlab GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
note ""
note "- commit ${MDLAB_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
note "- GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null)"
note "- host: $(nproc) cores, $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}"), glibc $(ldd --version | head -1 | awk '{print $NF}')"
note "- compiler: $(c++ --version | head -1); $(cmake --version | head -1); nvcc $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo 'not found')"
note "- PyTorch $($py -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())') at $tp"
note "- kit: $(head -3 "$kit/MANIFEST.txt" | tr '\n' ' ')"

# The generated JPEG set and the diffusers peer are prepared beside the build.
data="$work/jpegs"
(
  $py bench/make_imagenet_like.py "$data" --images 2048 --classes 10 --photos "$kit/photos" &&
    ln -sfn train "$data/val"
) > "$work/jpegs.log" 2>&1 &
jpegs_pid=$!
diffusers_src="${DIFFUSERS_SRC:-}"
if [ -z "$diffusers_src" ] && [ -f .gpu-extra/diffusers-src.tar.xz ]; then
  mkdir -p "$work/diffusers" && tar -xJf .gpu-extra/diffusers-src.tar.xz -C "$work/diffusers" &&
    diffusers_src="$work/diffusers/src"
fi

# Gloo's headers: the LibTorch's own when it ships them (they match its ProcessGroupGloo.hpp),
# else the kit's Debian copy.
if [ -d "$tp/include/gloo" ] && [ -d "$kit/usr/include/gloo" ]; then
  mv "$kit/usr/include/gloo" "$kit/gloo-unused"
fi

if [ -z "${CUDA_HOME:-}" ]; then
  CUDA_HOME=/usr/local/cuda
  command -v nvcc > /dev/null && CUDA_HOME=$(dirname "$(dirname "$(realpath "$(command -v nvcc)")")")
fi
export CUDA_HOME
export PATH="$CUDA_HOME/bin:$PATH"
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
# What the checks run first; the rest of the tree (the other test executables, the test
# plugins) is built after them, with what is left of the budget.
targets=(mdlab mdlab_bench_step mdlab_bench_diffusion mdlab_test_augment mdlab_test_diffusion
         mdlab_test_engine mdlab_test_loader)
for p in resnet vit simclr barlow_twins dino supervised sd_variations linear_probe knn fid \
         robustness transfer attention_maps; do
  targets+=("mdlab_plugin_$p")
done
if ! stage "configure and build against LibTorch $($py -c 'import torch; print(torch.__version__)')" 60 \
  bash scripts/kit-build.sh "$kit" "$build" "$tp/share/cmake/Torch" "${targets[@]}" -- \
  -DMDLAB_REQUIRE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90; then
  # Go on with whatever was built: each check below fails at once without its binary.
  note ""
  note "## Build errors (first 60 lines)"
  grep -E "error|Error" "$log" | grep -v "^RESULT" | head -60 | sed 's/^/    /' >> "$res"
fi
# shellcheck disable=SC1091
source "$build/kit-env.sh"
export LD_LIBRARY_PATH="$tp/lib:$LD_LIBRARY_PATH"
mdlab="$build/bin/mdlab"
note "- $($mdlab --version | head -3 | tr '\n' ' ')"

note ""
note "## CUDA test cases ([device] cases of each test executable, MDLAB_TEST_DEVICE=cuda)"
for area in augment diffusion engine loader; do
  stage "mdlab_test_$area [device]" 30 env MDLAB_TEST_DEVICE=cuda "$build/bin/mdlab_test_$area" \
    "[device]" > "$work/test_$area.txt" 2>&1
  cat "$work/test_$area.txt"
  note "    $(grep -E "^(All tests passed|test cases:)" "$work/test_$area.txt" | tail -1)"
done

note ""
note "## SD-1.x image variations, 512 px, 50 steps, batch 16, fp16 (random weights);"
note "## 1 conditioning token (SD variations) and 257 (Versatile Diffusion)"
sd=(--device cuda --dtype fp16 --batch 16 --latents 64 --tokens 1,257 --sample-steps 50
    --repeats 2 --threads 16)
stage "mdlab_bench_diffusion" 45 "$build/bin/mdlab_bench_diffusion" "${sd[@]}" | tee "$work/sd_mdlab.txt"
peer_ok=1
if [ -n "$diffusers_src" ]; then
  stage "PyTorch peer: diffusers" 90 env DIFFUSERS_SRC="$diffusers_src" \
    $py bench/torch_diffusion.py "${sd[@]}" --peer diffusers | tee "$work/sd_diffusers.txt"
  peer_ok=$?
fi
if [ "$peer_ok" -ne 0 ]; then
  stage "PyTorch peer: plain torch.nn" 90 $py bench/torch_diffusion.py "${sd[@]}" --peer plain |
    tee "$work/sd_plain.txt"
fi
for f in "$work"/sd_*.txt; do
  [ -f "$f" ] || continue
  note "    $(basename "$f" .txt): $(grep -E '^latent|^sampling|^diffusers' "$f" | tr '\n' ';')"
done

note ""
note "## SimCLR step, ResNet-50, 224 px, batch 256, bf16, channels-last"
step=(--method simclr --depth 50 --size 224 --batch 256 --steps 10 --threads 16 --device cuda)
stage "mdlab_bench_step" 25 "$build/bin/mdlab_bench_step" "${step[@]}" --precision bf16 |
  tee "$work/step_mdlab.txt"
stage "PyTorch eager" 60 $py bench/torch_step.py "${step[@]}" --precision bf16 |
  tee "$work/step_torch.txt"
for f in "$work"/step_*.txt; do note "    $(tail -1 "$f")"; done

# SimCLR runs on the generated set: the in100 SimCLR config, 2 epochs of 8 steps.
wait "$jpegs_pid" || { note "- JPEG set: FAILED ($(tail -2 "$work/jpegs.log"))"; }
# The overrides of every run: the generated set, 16 loader threads, a metric per step, no
# validation, probe or evaluation.
run_sets=(--set "experiment.output_dir=\"$work/runs\"" --set "data.root=\"$data\""
          --set 'data.class_list=""' --set 'data.synthetic.root=""' --set 'data.workers=16'
          --set 'train.log_every=1' --set 'train.validate=false' --set 'train.online_probe=false'
          --set 'eval=[]')
metrics() {  # metrics NAME: per-step data wait and images/s of the newest run NAME
  $py - "$work/runs/$1" <<'EOF'
import glob, os, sys
import h5py
runs = sorted(glob.glob(os.path.join(sys.argv[1], "*", "run.h5")), key=os.path.getmtime)
f = h5py.File(runs[-1], "r")
def series(name):
    d = f["metrics/" + name][()]
    return [(int(r["step"]), float(r["value"])) for r in d]
wait, ips = series("train/data_wait_fraction"), series("train/images_per_second")
loss = series("train/loss")
steady = [v for s, v in wait if s > 2]  # after cuDNN's first-step choices
speed = [v for s, v in ips if s > 2]
status = f['meta'].attrs.get('status')
if isinstance(status, bytes):
    status = status.decode()
print(f"status {status}, {len(wait)} steps, loss {loss[0][1]:.4f} -> {loss[-1][1]:.4f}; "
      f"data wait mean {sum(steady) / max(1, len(steady)):.3f} (steps 3+; per step "
      + " ".join(f"{v:.2f}" for _, v in wait) + f"); {sum(speed) / max(1, len(speed)):.0f} images/s")
EOF
}
note ""
note "## Data wait: SimCLR, ResNet-50, 224 px, batch 256, bf16, 16 loader threads, 2048 JPEGs"
for on in device workers; do
  stage "SimCLR run, augment_on = $on" 90 "$mdlab" run configs/in100/simclr.toml "${run_sets[@]}" \
    --set "experiment.name=\"simclr_$on\"" --set "data.augment_on=\"$on\"" --set 'train.precision="bf16"' --set 'train.epochs=2' &&
    note "    $(metrics "simclr_$on")"
done

note ""
note "## Short runs"
stage "DINO run, ViT-S/16, bf16" 60 "$mdlab" run configs/in100/dino.toml "${run_sets[@]}" \
  --set 'experiment.name="dino"' --set 'train.precision="bf16"' --set 'train.epochs=1' --set 'train.batch_size=128' &&
  note "    $(metrics dino)"
stage "SimCLR run, fp16 with loss scaling" 60 "$mdlab" run configs/in100/simclr.toml \
  "${run_sets[@]}" --set 'experiment.name="simclr_fp16"' --set 'train.precision="fp16"' --set 'train.epochs=1' &&
  note "    $(metrics simclr_fp16)"

note ""
note "## The rest of the tree"
stage "build every other target" 30 cmake --build "$build" -j "$(nproc)" -- -k 0 ||
  grep -E "error:" "$log" | grep -v "^RESULT" | sort -u | head -30 | sed 's/^/    /' >> "$res"

note ""
note "## torch.compile peer of the SimCLR step"
stage "PyTorch torch.compile" 150 $py bench/torch_step.py "${step[@]}" --precision bf16 --compile |
  tee "$work/step_torch_compile.txt" && note "    $(tail -1 "$work/step_torch_compile.txt")"

note ""
note "total: $((SECONDS - start)) s"
