#!/usr/bin/env bash
# Diffusion benchmark on the CPU: the SD-1.x UNet forward and VAE decode (random weights
# built from bench/sd15/*.json) at latent 32x32 and 64x64, batch 2, 2 threads, in mdlab and
# in the same networks in Debian's python3-torch (bench/torch_diffusion.py), back to back;
# prints both, their ratios and the peak RSS of each process.
#   bash bench/run_diffusion_bench.sh [BUILD_DIR]
# With a CUDA LibTorch build, images/s at 512 px, 50 steps, batch 16, fp16:
#   BUILD/bin/mdlab_bench_diffusion --device cuda --dtype fp16 --batch 16 --latents 64 \
#       --sample-steps 50
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
args=(--latents 32,64 --batch 2 --repeats 3 --threads 2)
"$build/bin/mdlab_bench_diffusion" "${args[@]}" | tee /tmp/mdlab_diffusion_bench.txt
/usr/bin/python3 bench/torch_diffusion.py "${args[@]}" | tee /tmp/torch_diffusion_bench.txt
echo "ratios mdlab / PyTorch (time; < 1 means mdlab is faster):"
paste <(grep '^latent' /tmp/mdlab_diffusion_bench.txt) <(grep '^latent' /tmp/torch_diffusion_bench.txt) |
  awk -F'\t' '{
    split($1, m, /forward |, VAE decode | s/); split($2, p, /forward |, VAE decode | s/);
    sub(/:.*/, "", $1);
    printf "  %s: UNet %.3f, VAE decode %.3f\n", $1, m[2] / p[2], m[3] / p[3] }'
