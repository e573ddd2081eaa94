# Weights move both ways: a trained ResNet-18 exported with `mdlab export-backbone` loads
# strictly into torchvision's resnet18 and gives the same features as `mdlab embed`.
source "$(dirname "$0")/lib.sh"
"$PY" -c "import torch, torchvision" 2>/dev/null || { echo "SKIPPED: /usr/bin/python3 lacks torch/torchvision"; exit 0; }
export PYTHONPATH="$SRC/tests/integration"
CONFIG="$SRC/tests/integration/data/tiny.toml"
STD=(--set data.channels=3 --set backbone.in_channels=3 --set backbone.width=64 --set backbone.cifar_stem=false)
RUN="$WORK/run"
expect_status 0 "$MDLAB" run "$CONFIG" --out "$RUN" "${STD[@]}" --set train.max_steps=3
expect_status 0 "$MDLAB" export-backbone "$RUN" --out "$WORK/backbone.safetensors"
expect_text "$WORK/err" "wrote 120 tensors"   # torchvision resnet18: 122 tensors, minus fc.weight and fc.bias
"$PY" - "$WORK" <<'PY'
import sys, torch, st
work = sys.argv[1]
torch.manual_seed(0)
st.save(f"{work}/x.safetensors", {"x": torch.randn(3, 3, 28, 28)})
st.save(f"{work}/x1.safetensors", {"x": torch.randn(2, 1, 28, 28)})
PY
expect_status 0 "$MDLAB" embed "$CONFIG" "${STD[@]}" --weights "$WORK/backbone.safetensors" \
  --input "$WORK/x.safetensors" --out "$WORK/features.safetensors"
"$PY" - "$WORK" <<'PY'
import sys, torch, torchvision, st
work = sys.argv[1]
model = torchvision.models.resnet18()
model.fc = torch.nn.Identity()
weights = st.load(f"{work}/backbone.safetensors")
model.load_state_dict(weights, strict=True)   # every torchvision key, same shapes
model.eval()
with torch.no_grad():
    ours = st.load(f"{work}/features.safetensors")["features"]
    ref = model(st.load(f"{work}/x.safetensors")["x"])
err = (ours - ref).abs().max().item()
assert ours.shape == (3, 512), ours.shape
assert err < 1e-4, err
print("torchvision vs mdlab features: max |err|", err)
PY

# The dataset path: features, labels and keys of the test split of a small IDX folder
# (Fashion-MNIST's 10,000 test images would make this test slow).
"$PY" - "$WORK/idx" <<'PY'
import os, struct, sys
import numpy as np
root = sys.argv[1]
os.makedirs(root)
rng = np.random.default_rng(1)
for prefix, n in (("train", 40), ("t10k", 70)):
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    with open(f"{root}/{prefix}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
    with open(f"{root}/{prefix}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels.tobytes())
PY
expect_status 0 "$MDLAB" embed "$CONFIG" --weights "$WORK/backbone.safetensors" "${STD[@]}" \
  --data --set "data.root=\"$WORK/idx\"" --out "$WORK/data.safetensors"
"$PY" - "$WORK" <<'PY'
import sys, st
out = st.load(f"{sys.argv[1]}/data.safetensors")
assert out["features"].shape == (70, 512), out["features"].shape
assert out["labels"].shape == (70,)
assert out["labels"][13].item() == 3
assert bytes(out["keys"][1].numpy()).rstrip(b"\0") == b"test/1"
assert bytes(out["keys"][69].numpy()).rstrip(b"\0") == b"test/69"
PY

# Bad input: a weights file for another architecture is refused naming the keys.
expect_status 1 "$MDLAB" embed "$CONFIG" --weights "$WORK/backbone.safetensors" \
  --input "$WORK/x.safetensors" --out "$WORK/bad.safetensors"
expect_text "$WORK/err" "weights $WORK/backbone.safetensors"
expect_text "$WORK/err" "cannot load state dict strictly"
# ... a weights file for another depth names the tensors it lacks ...
expect_status 1 "$MDLAB" embed "$CONFIG" "${STD[@]}" --set backbone.depth=34 \
  --weights "$WORK/backbone.safetensors" --input "$WORK/x.safetensors" --out "$WORK/bad.safetensors"
expect_text "$WORK/err" "missing from the file"
expect_text "$WORK/err" "layer1.2.conv1.weight"
# ... and an input with the wrong channel count names both shapes.
expect_status 1 "$MDLAB" embed "$CONFIG" --set backbone.in_channels=3 --set backbone.width=64 \
  --set backbone.cifar_stem=false --weights "$WORK/backbone.safetensors" \
  --input "$WORK/x1.safetensors" --out "$WORK/bad.safetensors"
expect_text "$WORK/err" "expected images [N, 3, H, W], got [2, 1, 28, 28]"
expect_status 2 "$MDLAB" embed "$CONFIG" --weights "$WORK/backbone.safetensors" --out "$WORK/o.safetensors"
expect_text "$WORK/err" "give exactly one of --input FILE and --data"
echo "export and embed ok"
