# `mdlab embed` reproduces DINO's reference outputs from the command line: ViT-tiny/16 with the
# fixture weights (F16) on the fixture input gives the reference CLS outputs and last-block
# attention.
source "$(dirname "$0")/lib.sh"
"$PY" -c "import torch" 2>/dev/null || { echo "SKIPPED: /usr/bin/python3 lacks torch"; exit 0; }
export PYTHONPATH="$SRC/tests/integration"
# DINO's ViT-tiny/16 reference weights and inputs through the CLI.
VIT="${MDLAB_FIXTURES:-$SRC/../shared/fixtures}/vit"
[ -d "$VIT" ] || { echo "SKIPPED: ViT reference fixtures not found at $VIT"; exit 0; }
printf '[backbone]\nname = "vit"\narch = "tiny"\ndrop_path_rate = 0.0\n[method]\nname = "supervised"\n' > "$WORK/vit.toml"
"$PY" - "$VIT" "$WORK" <<'PY'
import sys, st
io = st.load(f"{sys.argv[1]}/io.safetensors")
st.save(f"{sys.argv[2]}/vit_in.safetensors", {"x": io["input_224"]})
PY
expect_status 0 "$MDLAB" embed "$WORK/vit.toml" --weights "$VIT/weights.safetensors" \
  --input "$WORK/vit_in.safetensors" --attention --out "$WORK/vit_out.safetensors"
"$PY" - "$VIT" "$WORK" <<'PY'
import sys, st
io = st.load(f"{sys.argv[1]}/io.safetensors")
out = st.load(f"{sys.argv[2]}/vit_out.safetensors")
assert (out["features"] - io["cls_224"]).abs().max() < 1e-4
assert (out["attention"] - io["lastattn_224"]).abs().max() < 1e-5
print("vit embed matches DINO")
PY

echo "vit embed ok"
