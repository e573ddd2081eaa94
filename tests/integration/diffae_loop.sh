# The diffusion-autoencoder loop through the CLI: a diffae run trains (loss recorded, EMA
# encoder evaluated), `mdlab export-model` writes a model folder atomically, `mdlab generate`
# with diffae_variations makes gray 28 px variations of test images that are the same from
# run to run and across shards, and bad inputs give clear errors.
source "$(dirname "$0")/lib.sh"
cat > "$WORK/diffae.toml" <<EOF2
[experiment]
name = "diffae"
seed = 4
threads = 1
output_dir = "$WORK/runs"
[data]
root = "/usr/share/datasets/fashion-mnist"
fraction = 0.005
test_fraction = 0.003
channels = 1
[data.augment.all]
mean = [0.5]
std = [0.5]
[data.eval]
mean = [0.5]
std = [0.5]
[backbone]
name = "resnet"
depth = 18
width = 8
cifar_stem = true
in_channels = 1
[method]
name = "diffae"
channels = 1
image_size = 28
block_out_channels = [16, 32]
attention = [0, 1]
heads = 2
norm_num_groups = 8
[train]
epochs = 1
batch_size = 32
optimizer = "adamw"
lr = 1e-3
weight_decay = 0.0
log_every = 2
online_probe = false
EOF2
RUN="$WORK/run"
expect_status 0 "$MDLAB" run "$WORK/diffae.toml" --out "$RUN" --set train.max_steps=6
expect_status 0 "$MDLAB" show "$RUN"
expect_text "$WORK/out" "train/mse"

expect_status 0 "$MDLAB" export-model "$RUN" --out "$WORK/model"
for f in model_index.json encoder/config.json encoder/model.safetensors unet/config.json \
         unet/diffusion_pytorch_model.safetensors scheduler/scheduler_config.json; do
  test -f "$WORK/model/$f" || fail "export-model wrote no $f"
done
expect_text "$WORK/model/encoder/config.json" '"plugin": "resnet"'
expect_text "$WORK/model/encoder/config.json" '"image_size": 28'
expect_text "$WORK/model/unet/config.json" '"class_embed_type": "projection"'
[ -z "$(ls -A "$WORK" | grep partial || true)" ] || fail "export left a partial folder"
# An existing folder is kept unless --overwrite.
expect_status 1 "$MDLAB" export-model "$RUN" --out "$WORK/model"
expect_text "$WORK/err" "--overwrite"
expect_status 0 "$MDLAB" export-model "$RUN" --out "$WORK/model" --overwrite

cat > "$WORK/gen.toml" <<EOF2
[experiment]
seed = 4
threads = 1
output_dir = "$WORK/runs"
[data]
root = "/usr/share/datasets/fashion-mnist"
fraction = 0.005
test_fraction = 0.003
channels = 1
[generator]
name = "diffae_variations"
model = "$WORK/model"
steps = 4
guidance_scale = 2.0
batch_size = 8
[generate]
splits = ["test"]
variations = 2
EOF2
expect_status 0 "$MDLAB" generate "$WORK/gen.toml" --out "$WORK/gen1" --run-dir "$WORK/gen1log"
expect_text "$WORK/err" "mean |output - source|"
expect_text "$WORK/gen1log/manifest.tsv" "l1_to_source"
N=$(find "$WORK/gen1" -name '*.png' | wc -l)
[ "$N" = 60 ] || fail "expected 60 variations (30 test images x 2), got $N"
"$PY" - "$WORK/gen1" "$WORK/gen1log/samples.png" <<'PY'
import sys, glob
import numpy as np
from PIL import Image
files = sorted(glob.glob(sys.argv[1] + "/**/*.png", recursive=True))
a = [np.asarray(Image.open(f).convert("RGB")) for f in files]
assert all(x.shape == (28, 28, 3) for x in a), {x.shape for x in a}
assert all((x[..., 0] == x[..., 2]).all() for x in a), "gray model, RGB channels differ"
v0 = [np.asarray(Image.open(f)) for f in files if f.endswith("_v0.png")]
v1 = [np.asarray(Image.open(f)) for f in files if f.endswith("_v1.png")]
assert any((x != y).any() for x, y in zip(v0, v1)), "the two variations are identical"
# samples.png: 8 sources, each beside its 2 variations, 28 px tiles with 2 px gutters.
grid = np.asarray(Image.open(sys.argv[2]).convert("RGB"))
assert grid.shape == (8 * 30 - 2, 3 * 30 - 2, 3), grid.shape
print("ok", len(files))
PY
# The same set again, and in two shards: identical files.
expect_status 0 "$MDLAB" generate "$WORK/gen.toml" --out "$WORK/gen2" --shard 0/2
expect_status 0 "$MDLAB" generate "$WORK/gen.toml" --out "$WORK/gen2" --shard 1/2
diff -r "$WORK/gen1" "$WORK/gen2" || fail "sharded variations differ from one run"

# Bad model folders and runs without a model name the problem.
cp -r "$WORK/model" "$WORK/broken"
rm "$WORK/broken/unet/config.json"
expect_status 1 "$MDLAB" generate "$WORK/gen.toml" --out "$WORK/gen3" \
  --set "generator.model=\"$WORK/broken\""
expect_text "$WORK/err" "has no config.json"
sed -i 's/"resnet"/"no_such_backbone"/' "$WORK/broken/encoder/config.json"
expect_status 1 "$MDLAB" generate "$WORK/gen.toml" --out "$WORK/gen3" \
  --set "generator.model=\"$WORK/broken\""
expect_text "$WORK/err" "encoder/config.json"
expect_text "$WORK/err" "no_such_backbone"
# A degenerate model (a UNet that predicts 0 as the clean image) returns flat images: the run
# fails before writing one and records none as generated.
if "$PY" -c "import torch, numpy" 2>/dev/null; then
  cp -r "$WORK/model" "$WORK/flat"
  sed -i 's/"prediction_type": *"[a-z_]*"/"prediction_type": "sample"/' \
    "$WORK/flat/scheduler/scheduler_config.json"
  PYTHONPATH="$SRC/tests/integration" "$PY" - "$WORK/flat/unet/diffusion_pytorch_model.safetensors" <<'PY'
import sys, st
w = st.load(sys.argv[1])
w["conv_out.weight"].zero_()
w["conv_out.bias"].zero_()
st.save(sys.argv[1], w)
PY
  expect_status 1 "$MDLAB" generate "$WORK/gen.toml" --out "$WORK/gen4" --run-dir "$WORK/gen4log" \
    --set "generator.model=\"$WORK/flat\""
  expect_text "$WORK/err" "returned a flat image (every pixel 128)"
  expect_text "$WORK/err" "the model is degenerate"
  if [ -d "$WORK/gen4" ]; then
    N=$(find "$WORK/gen4" -name '*.png' | wc -l)
    [ "$N" = 0 ] || fail "a degenerate model wrote $N images"
  fi
  ! grep -q "generated" "$WORK/gen4log/manifest.tsv" 2>/dev/null || fail "flat images recorded as generated"
else
  echo "SKIPPED: the degenerate-model case needs python3 with torch and numpy"
fi
expect_status 0 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$WORK/sup" \
  --set train.max_steps=1 --set train.validate=false
expect_status 1 "$MDLAB" export-model "$WORK/sup" --out "$WORK/m2"
expect_text "$WORK/err" "trains only its encoder"
test ! -e "$WORK/m2" || fail "a failed export left $WORK/m2"
echo "diffae loop ok"
