# The evaluation suite through the CLI on Fashion-MNIST: [[eval]] entries run after training
# (linear probe with its random-init baseline, k-NN, robustness with a shift set and on-the-fly
# corruptions), `mdlab eval --checkpoint` with another file (transfer to an image-folder
# dataset), tables in the run log and in `mdlab show`, attention-map PNGs of a ViT, and the
# errors for bad evaluation data.
source "$(dirname "$0")/lib.sh"
need_h5py
cat > "$WORK/exp.toml" <<EOF2
extends = "$SRC/tests/integration/data/tiny.toml"

[datasets.fm-shift]
format = "idx"
root = "/usr/share/datasets/fashion-mnist"
train_split = ""
labels = "training"
test_fraction = 0.01

[[eval]]
name = "linear_probe"
epochs = 3
lr = 0.01
random_baseline = true

[[eval]]
name = "knn"
k = [5, 20]

[[eval]]
name = "robustness"
sets = ["fm-shift/test"]
corruptions = ["gaussian_noise", "contrast"]
severities = [1, 5]
epochs = 2
lr = 0.01
EOF2
RUN="$WORK/run"
expect_status 0 "$MDLAB" run "$WORK/exp.toml" --out "$RUN" --set train.max_steps=10
expect_text "$WORK/err" "linear_probe / accuracy"
expect_text "$WORK/err" "random init"
expect_text "$WORK/err" "robustness / summary"
"$PY" - "$RUN/run.h5" <<'PY'
import sys, math, h5py
f = h5py.File(sys.argv[1], "r")
def table(path):
    d = f[path]
    rows = [r.decode() if isinstance(r, bytes) else str(r) for r in d.attrs["rows"]]
    cols = [c.decode() if isinstance(c, bytes) else str(c) for c in d.attrs["columns"]]
    return rows, cols, d[()]
rows, cols, v = table("eval/linear_probe/accuracy")
assert rows == ["tiny", "random init"], rows
assert cols[:2] == ["top1", "top5"], cols
assert all(0 <= x <= 1 for x in v[:, 0]) and v[0, 0] > 0.1, v
rows, cols, v = table("eval/knn/accuracy")
assert cols == ["top1@5", "top5@5", "top1@20", "top5@20"], cols
rows, cols, v = table("eval/robustness/accuracy")
assert cols == ["test", "fm-shift/test", "mean"], cols
assert abs(v[0, 2] - v[0, 1]) < 1e-12
rows, cols, v = table("eval/robustness/corruptions")
assert rows == ["gaussian_noise", "contrast"] and cols == ["severity 1", "severity 5", "mean"], (rows, cols)
rows, cols, v = table("eval/robustness/summary")
assert cols == ["corrupted", "clean", "all"], cols
assert all(0 <= x <= 1 and not math.isnan(x) for x in v[0]), v
status = f["meta"].attrs["status"]
status = status.decode() if isinstance(status, bytes) else str(status)
assert status.strip("\x00 ") == "completed", status
print("tables ok")
PY
expect_status 0 "$MDLAB" show "$RUN"
expect_text "$WORK/out" "robustness / summary"
expect_text "$WORK/out" "corrupted"
# Two runs side by side (here the same run twice): rows stacked, told apart by directory.
expect_status 0 "$MDLAB" show "$RUN" "$RUN/run.h5" --format markdown
expect_text "$WORK/out" "## linear_probe / accuracy"
expect_text "$WORK/out" "| run | top1 |"
[ "$(grep -c ': random init |' "$WORK/out")" = 2 ] || fail "expected two random-init rows"
expect_status 2 "$MDLAB" show "$RUN" --format xml
expect_text "$WORK/err" "text, markdown or tsv"

# On its own, with another file: transfer to an image-folder dataset, written into the run;
# a dataset whose images do not decode keeps its column, empty, with the reason in a note.
"$PY" "$SRC/tests/integration/make_folder_data.py" "$WORK/folder" 8
for split in train val; do
  mkdir -p "$WORK/broken/$split/a" "$WORK/broken/$split/b"
  for c in a b; do printf 'not a picture' > "$WORK/broken/$split/$c/0.png"; done
done
cat > "$WORK/transfer.toml" <<EOF2
extends = "$SRC/tests/integration/data/tiny.toml"

[datasets.colours]
format = "folder"
root = "$WORK/folder/real"
test_split = "val"
size = 28

[datasets.broken]
format = "folder"
root = "$WORK/broken"
test_split = "val"

[[eval]]
name = "transfer"
datasets = ["colours", "broken"]
lrs = [0.001, 0.01]
steps = 20
eval_every = 5
EOF2
expect_status 0 "$MDLAB" eval "$WORK/transfer.toml" --checkpoint "$RUN"
expect_text "$WORK/err" "transfer / accuracy"
expect_text "$WORK/err" "broken"
"$PY" - "$RUN/run.h5" <<'PY'
import sys, math, h5py
f = h5py.File(sys.argv[1], "r")
d = f["eval/transfer/accuracy"]
cols = [c.decode() if isinstance(c, bytes) else str(c) for c in d.attrs["columns"]]
assert cols == ["colours", "broken", "mean"], cols
v = d[()]
assert 0 < v[0, 0] <= 1 and math.isnan(v[0, 1]) and v[0, 2] == v[0, 0], v
notes = [n.decode() if isinstance(n, bytes) else str(n) for n in d.attrs["notes"]]
assert "broken" in notes[0], notes
assert "eval/linear_probe/accuracy" in f  # the earlier tables stay
print("transfer ok")
PY

# A dataset folder that does not exist is a config error at its key, before anything runs.
expect_status 2 "$MDLAB" eval "$WORK/transfer.toml" --checkpoint "$RUN" \
  --set "datasets.broken.root=\"$WORK/nowhere\""
expect_text "$WORK/err" "datasets.broken.root: folder $WORK/nowhere does not exist"

# Bad evaluation data: a shift set sharing no class, an unknown split, no [[eval]] at all.
cat > "$WORK/bad.toml" <<EOF2
extends = "$SRC/tests/integration/data/tiny.toml"
[datasets.colours]
format = "folder"
root = "$WORK/folder/real"
test_split = "val"
labels = "training"
[[eval]]
name = "linear_probe"
test = "colours/test"
epochs = 1
EOF2
expect_status 1 "$MDLAB" eval "$WORK/bad.toml" --checkpoint "$RUN"
expect_text "$WORK/err" "shares no class with"
expect_status 1 "$MDLAB" eval "$WORK/bad.toml" --checkpoint "$RUN" --set 'eval=[{name = "knn", test = "nope"}]'
expect_text "$WORK/err" "no split 'nope'"
expect_status 1 "$MDLAB" eval "$SRC/tests/integration/data/tiny.toml" --checkpoint "$RUN"
expect_text "$WORK/err" "no [[eval]] entries"
expect_status 2 "$MDLAB" eval --checkpoint "$RUN" --weights x.safetensors
expect_text "$WORK/err" "exactly one of"

# A ViT: attention maps as PNG files and run-log artifacts.
cat > "$WORK/vit.toml" <<EOF2
[experiment]
name = "vit"
seed = 7
threads = 1
[data]
root = "/usr/share/datasets/fashion-mnist"
fraction = 0.01
test_fraction = 0.02
channels = 1
[data.augment.all]
size = 32
[data.eval]
size = 32
preset = "none"
[backbone]
name = "vit"
arch = "tiny"
depth = 2
patch_size = 8
img_size = 32
in_channels = 1
[method]
name = "supervised"
num_classes = 10
[train]
epochs = 1
batch_size = 32
lr = 0.01
[[eval]]
name = "attention_maps"
images = 2
EOF2
expect_status 0 "$MDLAB" run "$WORK/vit.toml" --out "$WORK/vit" --set train.max_steps=2
for f in image_0 attention_0_head0 mask_1_head2 attention_1_mean; do
  test -f "$WORK/vit/eval/attention_maps/$f.png" || fail "no $f.png"
done
"$PY" - "$WORK/vit" <<'PY'
import sys, h5py
from PIL import Image
run = sys.argv[1]
f = h5py.File(run + "/run.h5", "r")
assert f["artifacts/eval/attention_maps/attention"].shape == (2, 3, 4, 4)
m = Image.open(run + "/eval/attention_maps/mask_0_head1.png")
assert m.size == (32, 32) and m.mode == "L", (m.size, m.mode)
assert set(m.getdata()) <= {0, 255}
print("attention ok")
PY

# Synthetic-set quality: FID and diversity of the synthetic mirror against the real images.
cat > "$WORK/fid.toml" <<EOF2
[experiment]
name = "fid"
seed = 3
threads = 1
[data]
format = "folder"
root = "$WORK/folder/real"
test_split = "val"
[data.synthetic]
root = "$WORK/folder/syn"
[data.augment.all]
size = 16
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
epochs = 1
batch_size = 8
[[eval]]
name = "fid"
max_images = 12
batch_size = 6
EOF2
expect_status 0 "$MDLAB" run "$WORK/fid.toml" --out "$WORK/fid" --set train.max_steps=1
expect_text "$WORK/err" "fid / quality"
"$PY" - "$WORK/fid/run.h5" <<'PY'
import sys, h5py
d = h5py.File(sys.argv[1], "r")["eval/fid/quality"]
cols = [c.decode() if isinstance(c, bytes) else str(c) for c in d.attrs["columns"]]
assert cols[:3] == ["fid", "diversity_real", "diversity_synthetic"], cols
v = d[()]
assert v[0, 0] > 0 and v[0, 3] == 12 and v[0, 4] == 12, v   # inverted colours: far apart
print("fid ok")
PY

# A folder set beside fixed-size training data (IDX) is evaluated as the IDX test images are:
# resized only, never centre-cropped (a probe would otherwise see it zoomed by 1 / 0.875). The
# same 300 test images as an IDX dataset and as PNG class folders give the same features (FID
# 0, the same accuracy).
"$PY" - "$WORK/same" <<'PY'
import gzip, os, sys, numpy as np
from PIL import Image
out, src, n = sys.argv[1], "/usr/share/datasets/fashion-mnist", 300
def payload(name, offset):
    with gzip.open(f"{src}/{name}.gz") as f:
        return f.read()[offset:]
images = np.frombuffer(payload("t10k-images-idx3-ubyte", 16), np.uint8)[: n * 784].reshape(n, 28, 28)
labels = np.frombuffer(payload("t10k-labels-idx1-ubyte", 8), np.uint8)[:n]
os.makedirs(f"{out}/fashion-idx")  # "fashion" in the path: the Fashion-MNIST class names
with open(f"{out}/fashion-idx/t10k-images-idx3-ubyte", "wb") as f:
    f.write(bytes([0, 0, 8, 3]) + np.array([n, 28, 28], ">u4").tobytes() + images.tobytes())
with open(f"{out}/fashion-idx/t10k-labels-idx1-ubyte", "wb") as f:
    f.write(bytes([0, 0, 8, 1]) + np.array([n], ">u4").tobytes() + labels.tobytes())
names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
         "Bag", "Ankle boot"]
folders = [c.replace("/", "_").replace(" ", "_") for c in names]
with open(f"{out}/classes.txt", "w") as f:
    f.writelines(f"{a}\t{b}\n" for a, b in zip(folders, names))
for i, (x, y) in enumerate(zip(images, labels)):
    os.makedirs(f"{out}/png/test/{folders[y]}", exist_ok=True)
    Image.fromarray(x).convert("RGB").save(f"{out}/png/test/{folders[y]}/{i}.png")
PY
cat > "$WORK/same.toml" <<EOF2
extends = "$SRC/tests/integration/data/tiny.toml"

[datasets.as-idx]
format = "idx"
root = "$WORK/same/fashion-idx"
train_split = ""
labels = "training"

[datasets.as-png]
format = "folder"
root = "$WORK/same/png"
class_list = "$WORK/same/classes.txt"
train_split = ""
labels = "training"

[[eval]]
name = "robustness"
sets = ["as-idx/test", "as-png/test"]
epochs = 1
lr = 0.01

[[eval]]
name = "fid"
real = "as-idx/test"
synthetic = "as-png/test"
features = "encoder"
EOF2
expect_status 0 "$MDLAB" run "$WORK/same.toml" --out "$WORK/same-run" --set train.max_steps=2
"$PY" - "$WORK/same-run/run.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
acc = f["eval/robustness/accuracy"][()][0]
fid = f["eval/fid/quality"][()][0, 0]
assert abs(acc[1] - acc[2]) < 1e-12 and abs(fid) < 1e-3, (acc, fid)
print("folder beside IDX uncropped ok", acc, fid)
PY
