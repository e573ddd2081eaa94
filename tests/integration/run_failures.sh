# Runtime failures: a non-finite loss stops the run with status `failed`, naming the step and
# the loss terms, exit 1; a dataset folder without its files fails clearly and the run log
# says why (a folder that does not exist at all is a config error, exit 2, no run directory).
source "$(dirname "$0")/lib.sh"
need_h5py
GOOD="$BUILD/tests/plugins_good"
RUN="$WORK/nan"
expect_status 1 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --plugin-path "$GOOD" \
  --out "$RUN" --set 'method={name="test-nan", nan_at_step=5}'
expect_text "$WORK/err" "run failed: non-finite loss nan at step 5 (epoch 0); terms: ce=nan"
"$PY" - "$RUN/run.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
attr = lambda k: (lambda v: v.decode() if isinstance(v, bytes) else str(v))(f["meta"].attrs[k]).strip("\x00 ")
assert attr("status") == "failed", attr("status")
assert "step 5" in attr("status_reason"), attr("status_reason")
assert len(f["metrics/train/loss"]) >= 2   # records before the failure were kept
PY

# Skip policy: up to 3 non-finite steps are skipped, the 4th fails the run.
expect_status 1 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --plugin-path "$GOOD" \
  --out "$WORK/skip" --set 'method={name="test-nan", nan_at_step=5}' --set train.max_skipped_steps=3
expect_text "$WORK/err" "non-finite loss nan at step 5 (epoch 0); terms: ce=nan; step skipped (1 of at most 3)"
expect_text "$WORK/err" "step skipped (3 of at most 3)"
expect_text "$WORK/err" "run failed: non-finite loss nan at step 8 (epoch 0); terms: ce=nan after 3 skipped steps"

expect_status 2 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$WORK/noroot" \
  --set data.root="$WORK/missing"
expect_text "$WORK/err" "data.root: folder $WORK/missing does not exist"
[ ! -e "$WORK/noroot" ] || fail "a run directory was created for a config error"
RUN="$WORK/nodata"
mkdir -p "$WORK/empty"
expect_status 1 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$RUN" --set data.root="$WORK/empty"
expect_text "$WORK/err" "$WORK/empty"
"$PY" - "$RUN/run.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
s = f["meta"].attrs["status"]; s = s.decode() if isinstance(s, bytes) else str(s)
assert s.strip("\x00 ") == "failed", s
PY

# A truncated dataset file is named with what is wrong with it.
mkdir -p "$WORK/trunc"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  gzip -dc "/usr/share/datasets/fashion-mnist/$f.gz" > "$WORK/trunc/$f"
done
truncate -s 1000 "$WORK/trunc/train-images-idx3-ubyte"
expect_status 1 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$WORK/truncrun" --set data.root="$WORK/trunc"
expect_text "$WORK/err" "train-images-idx3-ubyte: its header says 60000 x 28 x 28"
expect_text "$WORK/err" "but the file holds 1000 bytes"
# A parameter group frozen for the first epoch is not updated during it (DINO's last layer).
RUN="$WORK/frozen"
expect_status 0 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --plugin-path "$GOOD" --out "$RUN" \
  --set 'method={name="test-nan", nan_at_step=100000, freeze_head_epochs=1}' \
  --set train.checkpoint_every_steps=1 --set train.keep_last=100 --set train.epochs=2
PYTHONPATH="$SRC/tests/integration" "$PY" - "$RUN/checkpoints" <<'PY'
import sys, st
c = sys.argv[1]
a, b, z = (st.load(f"{c}/step-{n:09d}/model.safetensors") for n in (1, 18, 36))
assert (a["head.weight"] == b["head.weight"]).all(), "head moved while frozen"
assert not (a["backbone.conv1.weight"] == b["backbone.conv1.weight"]).all(), "backbone frozen too"
assert not (b["head.weight"] == z["head.weight"]).all(), "head still frozen in epoch 1"
PY
echo "failures ok"

# Validation the method chooses: "none" keeps the probe and drops the loss terms; "augmented"
# on a one-view method validates its training view and still probes a plain one.
for validation in none augmented plain; do
  RUN="$WORK/val-$validation"
  expect_status 0 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --plugin-path "$GOOD" \
    --out "$RUN" --set "method={name=\"test-nan\", nan_at_step=100000, validation=\"$validation\"}"
  "$PY" - "$RUN/run.h5" "$validation" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
val = sorted(f["metrics/val"])
assert "probe_top1" in val, val
assert ("ce" in val and "loss" in val) == (sys.argv[2] != "none"), (sys.argv[2], val)
data = f["meta"].attrs["data"]
data = data.decode() if isinstance(data, bytes) else str(data)
assert ("validation: each slot's training augmentation" in data) == (sys.argv[2] == "augmented"), data
PY
done
echo "validation views ok"
