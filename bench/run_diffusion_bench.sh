#!/usr/bin/env bash
# Diffusion benchmark on the CPU: the SD-1.x UNet forward and VAE decode (random weights
# built from bench/sd15/*.json) at latent 32x32 and 64x64, batch 2, 2 threads, in mdlab and
# its PyTorch peers in Debian's python3-torch (bench/torch_diffusion.py), back to back;
# prints each, the ratios and the peak RSS of each process. The UNet runs with 1 conditioning
# token (SD image variations) and 257 (Versatile Diffusion: CLIP ViT-L/14's tokens; its image
# UNet is the SD-1.x one).
#   bash bench/run_diffusion_bench.sh [BUILD_DIR] [LATENTS] [TOKENS]
#   (LATENTS default 32,64; TOKENS default 1,257)
# The peers: the plain torch.nn re-implementation always; diffusers' own UNet2DConditionModel
# and AutoencoderKL too when DIFFUSERS_SRC names a diffusers source tree's src/ folder (its
# imports, huggingface_hub and safetensors, must be importable by /usr/bin/python3). The plain
# peer is slower than diffusers on the CPU; the diffusers ratio is the one to quote.
# On a GPU: scripts/gpu-check.sh (docs/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
args=(--latents "${2:-32,64}" --tokens "${3:-1,257}" --batch 2 --repeats 3 --threads 2)
peers=(plain)
[ -n "${DIFFUSERS_SRC:-}" ] && peers+=(diffusers)
"$build/bin/mdlab_bench_diffusion" "${args[@]}" | tee /tmp/mdlab_diffusion_bench.txt
for peer in "${peers[@]}"; do
  /usr/bin/python3 bench/torch_diffusion.py "${args[@]}" --peer "$peer" |
    tee "/tmp/torch_diffusion_bench_$peer.txt"
done
for peer in "${peers[@]}"; do
  echo "ratios mdlab / PyTorch $peer (time; < 1 means mdlab is faster):"
  paste <(grep '^latent' /tmp/mdlab_diffusion_bench.txt) \
        <(grep '^latent' "/tmp/torch_diffusion_bench_$peer.txt") |
    awk -F'\t' '{
      split($1, m, ": "); split($2, p, ": ");
      match(m[2], /[0-9.]+ s/); mine = substr(m[2], RSTART, RLENGTH - 2);
      match(p[2], /[0-9.]+ s/); peer = substr(p[2], RSTART, RLENGTH - 2);
      what = m[2]; sub(/ [0-9.]+ s.*/, "", what);
      printf "  %s: %s %.3f\n", m[1], what, mine / peer }'
done
