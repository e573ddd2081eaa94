# The data pipeline through `mdlab run`: an image-folder dataset with a synthetic mirror, the
# mix modes a one-view method can take, partner policies, corrupt images under both
# policies, per-slot augmentation tables and their errors.
source "$(dirname "$0")/lib.sh"
need_h5py
DATA="$WORK/data"
"$PY" "$SRC/tests/integration/make_folder_data.py" "$DATA"
cat > "$WORK/exp.toml" <<EOF2
[experiment]
name = "folder"
seed = 3
threads = 1

[data]
format = "folder"
root = "$DATA/real"
test_split = "val"
workers = 2
mix = "real"

[data.synthetic]
root = "$DATA/syn"

[data.augment.all]
size = 16
scale = [0.5, 1.0]
mean = [0.5]
std = [0.25]

[data.eval]
size = 16
crop_pct = 1.0

[backbone]
name = "resnet"
depth = 18
width = 8
cifar_stem = true

[method]
name = "supervised"
num_classes = 3

[train]
epochs = 2
batch_size = 8
lr = 0.05
log_every = 1
EOF2

for mix in real synthetic mixing sequential; do
  expect_status 0 "$MDLAB" run "$WORK/exp.toml" --out "$WORK/run-$mix" --set "data.mix=\"$mix\""
  expect_text "$WORK/err" "data: folder"
  expect_text "$WORK/err" "36 images, 3 classes"
done
expect_text "$WORK/err" "sequential"
"$PY" - "$WORK/run-real/run.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
data = f["meta"].attrs["data"]
data = data.decode() if isinstance(data, bytes) else str(data)
assert "random crop 16 scale [0.5, 1]" in data, data
assert "mix real" in data or "real:" in data, data
steps = f["metrics/train/loss"][:]["step"]
assert list(steps) == [1, 2, 3, 4, 5, 6, 7, 8], list(steps)   # 36 // 8 = 4 steps x 2 epochs
assert "val/probe_top1" in f["metrics/val"] or "probe_top1" in f["metrics/val"], list(f["metrics/val"])
PY

# mixdiff needs two view slots: the supervised method has one.
expect_status 1 "$MDLAB" run "$WORK/exp.toml" --out "$WORK/md" --set 'data.mix="mixdiff"'
expect_text "$WORK/err" "mixdiff"

# Missing partners: error names the keys and the count; skip drops; real falls back.
rm "$DATA"/syn/n02/img03_v*.png "$DATA"/syn/n03/img07_v*.png
expect_status 1 "$MDLAB" run "$WORK/exp.toml" --out "$WORK/miss" --set 'data.mix="synthetic"'
expect_text "$WORK/err" "n02/img03"
expect_text "$WORK/err" "2 "
expect_status 0 "$MDLAB" run "$WORK/exp.toml" --out "$WORK/skip" --set 'data.mix="synthetic"' \
  --set 'data.synthetic.on_missing="skip"'
expect_status 0 "$MDLAB" run "$WORK/exp.toml" --out "$WORK/fallback" --set 'data.mix="synthetic"' \
  --set 'data.synthetic.on_missing="real"'
expect_text "$WORK/err" "synthetic view(s) taken from the real image"
"$PY" - "$WORK/skip/run.h5" "$WORK/fallback/run.h5" <<'PY'
import sys, h5py
def meta(path, key):
    v = h5py.File(path, "r")["meta"].attrs[key]
    return v.decode() if isinstance(v, bytes) else str(v)
assert meta(sys.argv[1], "data/dropped_missing_partners") == "2", meta(sys.argv[1], "data/dropped_missing_partners")
assert int(meta(sys.argv[2], "data/real_fallback_views")) > 0
PY

# A corrupt image: named under on_error = "error"; replaced and recorded under "skip".
head -c 100 "$DATA/real/train/n01/img04.jpg" > "$WORK/cut.jpg"
mv "$WORK/cut.jpg" "$DATA/real/train/n01/img04.jpg"
expect_status 1 "$MDLAB" run "$WORK/exp.toml" --out "$WORK/bad"
expect_text "$WORK/err" "n01/img04.jpg"
expect_status 0 "$MDLAB" run "$WORK/exp.toml" --out "$WORK/badskip" --set 'data.on_error="skip"'
expect_text "$WORK/err" "replaced after decode errors"
"$PY" - "$WORK/badskip/run.h5" <<'PY'
import sys, h5py
v = h5py.File(sys.argv[1], "r")["meta"].attrs["data/bad_files"]
v = v.decode() if isinstance(v, bytes) else str(v)
assert "n01/img04.jpg" in v, v
PY

# An augmentation table for a slot the method does not have, and a bad value in one.
printf '\n[data.augment.view9]\nflip_p = 0.5\n' >> "$WORK/exp.toml"
expect_status 2 "$MDLAB" run "$WORK/exp.toml" --out "$WORK/badslot"
expect_text "$WORK/err" "exp.toml:"
expect_text "$WORK/err" "[data.augment.view9] names no view slot of the method; known: all, image"
expect_status 2 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$WORK/badp" \
  --set 'data.augment.all.flip_p=1.5'
expect_text "$WORK/err" "flip_p"
echo "folder data ok"
