# Every SSL method trains in every mix mode through `mdlab run` (tiny backbones, a tiny
# image folder with a synthetic mirror): the run completes, its loss is finite, the data
# summary names the mode, and mixdiff feeds real and synthetic views.
source "$(dirname "$0")/lib.sh"
need_h5py
DATA="$WORK/data"
"$PY" "$SRC/tests/integration/make_folder_data.py" "$DATA" 8
write_folder_common "$WORK/common.toml" "$DATA"
cat > "$WORK/simclr.toml" <<'EOF2'
extends = ["common.toml"]
[backbone]
name = "resnet"
depth = 18
width = 8
cifar_stem = true
[method]
name = "simclr"
proj_hidden_dim = 32
proj_output_dim = 16
view_size = 16
EOF2
sed -e 's/name = "simclr"/name = "barlow_twins"/' -e '/proj_/d' "$WORK/simclr.toml" > "$WORK/barlow_twins.toml"
echo 'projector = [32, 32]' >> "$WORK/barlow_twins.toml"
sed -e 's/name = "simclr"/name = "byol"/' -e '/proj_/d' "$WORK/simclr.toml" > "$WORK/byol.toml"
printf 'projector = [32, 16]\npredictor = [32, 16]\n' >> "$WORK/byol.toml"
cat > "$WORK/dino.toml" <<'EOF2'
extends = ["common.toml"]
[backbone]
name = "vit"
arch = "tiny"
patch_size = 8
depth = 1
img_size = 16
drop_path_rate = 0.0
[method]
name = "dino"
out_dim = 64
hidden_dim = 32
bottleneck_dim = 16
local_crops_number = 2
global_crops_size = 16
local_crops_size = 8
[train]
optimizer = "adamw"
lr = 0.001
EOF2
for method in simclr barlow_twins byol dino; do
  for mix in real synthetic mixdiff mixing sequential; do
    split=()
    [ "$method" = dino ] && [ "$mix" = mixdiff ] && split=(--set 'data.crop_split=[1, 1, 1, 1]')
    expect_status 0 "$MDLAB" run "$WORK/$method.toml" --out "$WORK/run-$method-$mix" \
      --set "data.mix=\"$mix\"" "${split[@]}"
    expect_text "$WORK/err" "completed 6 steps"
    "$PY" - "$WORK/run-$method-$mix/run.h5" "$mix" <<'PY'
import math, sys, h5py
f = h5py.File(sys.argv[1], "r")
loss = f["metrics/train/loss"][:]["value"]
assert len(loss) == 6 and all(math.isfinite(v) for v in loss), loss
data = f["meta"].attrs["data"]
data = data.decode() if isinstance(data, bytes) else str(data)
assert sys.argv[2] + ":" in data, data
if sys.argv[2] == "mixdiff":
    assert "=real" in data and "=synthetic" in data, data
# Two-view methods validate on their augmented views (fixed seed); probes on plain ones.
assert "validation: each slot's training augmentation" in data, data
val = f["metrics/val"]
assert "loss" in val and "probe_top1" in val, sorted(val)
PY
  done
done
echo "methods x mix modes ok"

# augment_on = "device": the loader threads only crop, the trainer finishes the views
# batched (BatchAugment). The views are the same, so the losses are the workers' run's.
for method in simclr dino; do
  expect_status 0 "$MDLAB" run "$WORK/$method.toml" --out "$WORK/device-$method" \
    --set 'data.mix="mixdiff"' --set 'data.augment_on="device"' \
    $([ "$method" = dino ] && echo "--set data.crop_split=[1,1,1,1]")
  expect_text "$WORK/err" "augment_on = device"
  expect_text "$WORK/err" 'augment_on = "device" on a CPU run'
  "$PY" - "$WORK/device-$method/run.h5" "$WORK/run-$method-mixdiff/run.h5" <<'PY'
import sys, h5py
device, workers = (h5py.File(p, "r")["metrics/train/loss"][:]["value"] for p in sys.argv[1:])
assert len(device) == 6 and list(device) == list(workers), (list(device), list(workers))
PY
done
echo "augment_on = device ok"

# Probes on the projector layers, beside the encoder's.
expect_status 0 "$MDLAB" run "$WORK/simclr.toml" --out "$WORK/probes" --set train.probe_projector=true
"$PY" - "$WORK/probes/run.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
train = set(f["metrics/train"]); val = set(f["metrics/val"])
for name in ("probe_accuracy", "probe_projector_hidden_accuracy", "probe_projector_accuracy"):
    assert name in train, sorted(train)
for name in ("probe_top1", "probe_projector_hidden_top1", "probe_projector_top5"):
    assert name in val, sorted(val)
PY
echo "projector probes ok"
