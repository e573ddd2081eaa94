# `mdlab sweep`: cells validated before anything runs (errors at the swept value), one run
# directory per cell named after its values, --cell for one cell, a failed cell that does not
# stop the others, SIGINT then the same command continues (completed cells skipped, the
# interrupted one resumed), a folder of another configuration refused, the sweep record read
# by h5py, and `mdlab show` with mean ± std over seeds.
source "$(dirname "$0")/lib.sh"
need_h5py
GOOD="$BUILD/tests/plugins_good"
cd "$WORK"
# tests/integration/data/tiny.toml with the test-nan method (a supervised loss that turns NaN
# at a given step).
cat > sweep.toml <<EOF
[experiment]
name = "tiny"
seed = 7
threads = 1

[data]
root = "/usr/share/datasets/fashion-mnist"
fraction = 0.01
test_fraction = 0.02
channels = 1

[backbone]
name = "resnet"
depth = 18
width = 8
cifar_stem = true
in_channels = 1

[method]
name = "test-nan"
nan_at_step = 1000

[train]
epochs = 2
batch_size = 32
lr = 0.05
log_every = 2
max_steps = 4

[[eval]]
name = "knn"
k = [5]

[sweep]
"train.lr" = [0.05, 0.1]
[[sweep.zip]]
"train.batch_size" = [16, 32]
"train.weight_decay" = [0.0, 1e-4]
EOF

# --- every cell is checked first; an error points at the swept value and names its cells
cat > bad.toml <<EOF
extends = ["sweep.toml"]
[sweep]
"train.lr" = [0.05, -1.0]
EOF
expect_status 2 "$MDLAB" sweep bad.toml --plugin-path "$GOOD" --out "$WORK/bad"
expect_text "$WORK/err" "bad.toml:3:21: invalid value for 'lr' in [train]"
expect_text "$WORK/err" "(in 2 of 4 cells: lr=-1.0,batch_size=16, lr=-1.0,batch_size=32)"
test ! -e "$WORK/bad" || fail "a sweep with errors created its folder"
expect_status 2 "$MDLAB" validate bad.toml --plugin-path "$GOOD"
expect_status 0 "$MDLAB" validate sweep.toml --plugin-path "$GOOD"
expect_text "$WORK/err" "ok (a sweep of 4 cells)"
# `mdlab run` refuses a sweep and says what to do.
expect_status 2 "$MDLAB" run sweep.toml --plugin-path "$GOOD"
expect_text "$WORK/err" "run its cells with \`mdlab sweep"

# --- --dry-run lists the grid (zip axes vary together, seeds innermost) and runs nothing
expect_status 0 "$MDLAB" sweep sweep.toml --plugin-path "$GOOD" --out "$WORK/s" --seeds 2 --dry-run
expect_text "$WORK/out" "8 cells in $WORK/s (axes: train.lr, train.batch_size+train.weight_decay, experiment.seed)"
expect_text "$WORK/out" "0  new        lr=0.05,batch_size=16,seed=7"
expect_text "$WORK/out" "7  new        lr=0.1,batch_size=32,seed=8"
test ! -e "$WORK/s" || fail "--dry-run created the sweep folder"

# --- one cell by index (a SLURM array task), then by name
expect_status 0 "$MDLAB" sweep sweep.toml --plugin-path "$GOOD" --out "$WORK/s" --seeds 2 --cell 3
test -f "$WORK/s/lr=0.05,batch_size=32,seed=8/run.h5" || fail "--cell 3 did not run cell 3"
[ "$(find "$WORK/s" -name run.h5 | wc -l)" = 1 ] || fail "--cell 3 ran other cells"
expect_text "$WORK/s/lr=0.05,batch_size=32,seed=8/config.toml" "weight_decay = 0.0001"
expect_text "$WORK/s/lr=0.05,batch_size=32,seed=8/config.toml" "seed = 8"
expect_status 2 "$MDLAB" sweep sweep.toml --plugin-path "$GOOD" --out "$WORK/s" --seeds 2 --cell 8
expect_text "$WORK/err" "--cell 8: the sweep has 8 cells (0 to 7)"
expect_status 0 "$MDLAB" sweep sweep.toml --plugin-path "$GOOD" --out "$WORK/s" --seeds 2 --dry-run
expect_text "$WORK/out" "3  completed  lr=0.05,batch_size=32,seed=8"

# --- SIGINT during a cell: exit 130; the same command then skips the completed cell and
# resumes the interrupted one from its checkpoint
"$MDLAB" sweep sweep.toml --plugin-path "$GOOD" --out "$WORK/s" --seeds 2 \
  --set train.max_steps=400 --set train.log_every=1 --set train.flush_seconds=0.2 \
  --set train.checkpoint_every_steps=5 --cell 0 >"$WORK/int.out" 2>"$WORK/int.err" &
pid=$!
CELL0="$WORK/s/lr=0.05,batch_size=16,seed=7"
for _ in $(seq 1 600); do
  n=$("$PY" - "$CELL0/run.h5" 2>/dev/null <<'PY' || echo 0
import sys, h5py
f = h5py.File(sys.argv[1], "r")
print(len(f["metrics/train/loss"]) if "metrics/train/loss" in f else 0)
PY
)
  [ "${n:-0}" -ge 12 ] && break
  sleep 0.2
done
kill -INT "$pid"
status=0; wait "$pid" || status=$?
[ "$status" = 130 ] || { cat "$WORK/int.err"; fail "SIGINT exit status $status, expected 130"; }
expect_text "$WORK/int.err" "sweep interrupted; continue it with the same command"
# Its config differs from the 4-step cells' (max_steps): resuming it under the 4-step sweep is
# refused, with the key that differs.
expect_status 2 "$MDLAB" sweep sweep.toml --plugin-path "$GOOD" --out "$WORK/s" --seeds 2
expect_text "$WORK/err" "lr=0.05,batch_size=16,seed=7 holds a run of another configuration: train.checkpoint_every_steps (5 in the run, (unset) now)"
expect_status 0 "$MDLAB" sweep sweep.toml --plugin-path "$GOOD" --out "$WORK/s" --seeds 2 \
  --set train.max_steps=400 --set train.log_every=1 --set train.flush_seconds=0.2 \
  --set train.checkpoint_every_steps=5 --cell 0
expect_text "$WORK/err" "cell 0/8 lr=0.05,batch_size=16,seed=7: resuming"
expect_text "$WORK/err" "resuming from"
mv "$CELL0" "$WORK/long-cell"

# --- the whole sweep, one cell failing (NaN loss at step 2): the others still run
expect_status 1 "$MDLAB" sweep sweep.toml --plugin-path "$GOOD" --out "$WORK/f" \
  --set 'sweep.method.nan_at_step=[1000, 2]'
expect_text "$WORK/err" "4 cell(s) run"
expect_text "$WORK/err" "failed (lr=0.05,batch_size=16,nan_at_step=2"
expect_text "$WORK/err" "lr=0.1,batch_size=32,nan_at_step=2)"
# Again: the completed cells are skipped, the failed ones reported (not rerun).
expect_status 1 "$MDLAB" sweep sweep.toml --plugin-path "$GOOD" --out "$WORK/f" \
  --set 'sweep.method.nan_at_step=[1000, 2]'
expect_text "$WORK/err" "cell 0/8 lr=0.05,batch_size=16,nan_at_step=1000: completed before, skipped"
expect_text "$WORK/err" "cell 1/8 lr=0.05,batch_size=16,nan_at_step=2: failed before (non-finite loss"
expect_text "$WORK/err" "0 cell(s) run, 4 completed before, 4 failed"
expect_status 0 "$MDLAB" show "$WORK/f"
expect_text "$WORK/out" "cells   8: 4 completed, 4 failed"
expect_text "$WORK/out" "failed  lr=0.05,batch_size=16,nan_at_step=2: non-finite loss"

# --- the seeds sweep: show prints mean ± std over the 2 seeds
expect_status 0 "$MDLAB" sweep sweep.toml --plugin-path "$GOOD" --out "$WORK/s" --seeds 2
expect_text "$WORK/err" "cell 3/8 lr=0.05,batch_size=32,seed=8: completed before, skipped"
expect_text "$WORK/err" "7 cell(s) run, 1 completed before, 0 failed"
expect_status 0 "$MDLAB" show "$WORK/s"
expect_text "$WORK/out" "axes    train.lr (2), train.batch_size+train.weight_decay (2), experiment.seed (2, averaged)"
expect_text "$WORK/out" "cells   8: 8 completed"
expect_text "$WORK/out" "knn / accuracy (mean ± std over seeds; n completed)"
grep -qE "^  lr=0.1,batch_size=32 +2 +[0-9.]+ ± [0-9.]+" "$WORK/out" || { cat "$WORK/out"; fail "no mean ± std row"; }
expect_status 0 "$MDLAB" show "$WORK/s" --format tsv --metric val/loss
expect_text "$WORK/out" $'cell\tn\tval/loss\tval/loss std'

# The record holds every cell's values, status, final metrics and stacked tables.
"$PY" - "$WORK/s/sweep.h5" <<'PY'
import sys, h5py, math
f = h5py.File(sys.argv[1], "r")
assert int(f.attrs["mdlab_sweep_record_version"]) == 1
s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
assert [s(a) for a in f["axes"][:]] == ["train.lr", "train.batch_size+train.weight_decay", "experiment.seed"]
names = [s(n) for n in f["cells/name"][:]]
assert names[0] == "lr=0.05,batch_size=16,seed=7" and len(names) == 8, names
assert [s(v) for v in f["cells/values"][1]] == ["0.05", "16", "8"], f["cells/values"][1]
assert all(s(x) == "completed" for x in f["cells/status"][:])
cols = [s(c) for c in f["final"].attrs["columns"]]
final = f["final"][:]
assert final.shape == (8, len(cols)) and "val/loss" in cols
assert all(math.isfinite(final[i, cols.index("val/loss")]) for i in range(8))
knn = f["eval/knn/accuracy"]
assert [s(c) for c in knn.attrs["cells"]] == names
assert "sweep" in s(f["config"][0])
print("record ok")
PY
expect_text "$WORK/s/sweep.toml" '[sweep]'
