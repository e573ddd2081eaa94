# A resume never retrains over a run, never writes outside it and never loses what it logged:
# a missing or redirected `latest`, a missing step folder, a truncated optimizer state, a
# garbage state.toml or a missing online-probe state each stop the resume with the file named
# (exit 1) and leave run.h5 and the checkpoints as they were. A run that completed no
# checkpoint restarts at step 0 and ends with the same metric points as an uninterrupted run.
source "$(dirname "$0")/lib.sh"
need_h5py
CONFIG="$SRC/tests/integration/data/tiny.toml"
ARGS=(--set train.epochs=2 --set train.log_every=1 --set train.checkpoint_every_steps=4
      --set train.keep_last=2 --set train.online_probe=true)
expect_status 0 "$MDLAB" run "$CONFIG" --out "$WORK/ref" "${ARGS[@]}"
LATEST=$(cat "$WORK/ref/checkpoints/latest")

# damaged NAME: a fresh copy of the reference run as $WORK/NAME.
damaged() { rm -rf "$WORK/$1"; cp -r "$WORK/ref" "$WORK/$1"; echo "$WORK/$1"; }

# sums RUN: the checksums of every checkpoint file (nothing when the folder is gone).
sums() { if [ -d "$1/checkpoints" ]; then (cd "$1" && find checkpoints -type f -exec md5sum {} + | sort); fi; }

# refused RUN TEXT...: the resume exits 1 naming TEXT and changes neither run.h5 nor the
# checkpoints.
refused() {
  local run="$1"; shift
  cp "$run/run.h5" "$WORK/before.h5"
  sums "$run" > "$WORK/before.sums"
  expect_status 1 "$MDLAB" run --resume "$run"
  for text in "$@"; do expect_text "$WORK/err" "$text"; done
  cmp "$run/run.h5" "$WORK/before.h5" || fail "a refused resume changed $run/run.h5"
  sums "$run" > "$WORK/after.sums"
  cmp "$WORK/before.sums" "$WORK/after.sums" || fail "a refused resume changed the checkpoints"
}

RUN=$(damaged no-latest); rm "$RUN/checkpoints/latest"
refused "$RUN" "records a checkpoint at step" "checkpoints/latest is missing"

RUN=$(damaged no-checkpoints); rm -r "$RUN/checkpoints"
refused "$RUN" "refusing to train again from step 0"

RUN=$(damaged outside); mkdir -p "$WORK/victim"; echo keep > "$WORK/victim/state.toml"
printf '../../victim\n' > "$RUN/checkpoints/latest"
refused "$RUN" "does not name a checkpoint folder of this run" '"../../victim"'
[ "$(cat "$WORK/victim/state.toml")" = keep ] || fail "a file outside the run was touched"

RUN=$(damaged gone-step); rm -r "$RUN/checkpoints/$LATEST"
refused "$RUN" "$LATEST, which does not exist"

# Damaged files inside the checkpoint: refused when read, naming the checkpoint.
RUN=$(damaged truncated-optimizer)
f="$RUN/checkpoints/$LATEST/optimizer.pt"; head -c $(( $(stat -c %s "$f") / 2 )) "$f" > "$f.cut"; mv "$f.cut" "$f"
expect_status 1 "$MDLAB" run --resume "$RUN"
expect_text "$WORK/err" "cannot resume from $RUN/checkpoints/$LATEST"
RUN=$(damaged garbage-state); printf 'step = = [\n' > "$RUN/checkpoints/$LATEST/state.toml"
expect_status 1 "$MDLAB" run --resume "$RUN"
expect_text "$WORK/err" "cannot resume from $RUN/checkpoints/$LATEST"
RUN=$(damaged wrong-step); sed -i 's/^step = .*/step = 3/' "$RUN/checkpoints/$LATEST/state.toml"
expect_status 1 "$MDLAB" run --resume "$RUN"
expect_text "$WORK/err" "does not match the folder's step"
RUN=$(damaged no-probe); rm "$RUN/checkpoints/$LATEST/probe.safetensors"
expect_status 1 "$MDLAB" run --resume "$RUN"
expect_text "$WORK/err" "has no probe.safetensors, but this run trains an online probe"

# No checkpoint was ever completed (killed before the first): restart at 0, same points.
RUN=$(damaged never-checkpointed); rm -r "$RUN/checkpoints"
"$PY" - "$RUN/run.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    del f["meta"].attrs["checkpoint_step"]
PY
expect_status 0 "$MDLAB" run --resume "$RUN"
expect_text "$WORK/err" "completed no checkpoint before it stopped: training restarts at step 0"
"$PY" - "$WORK/ref/run.h5" "$RUN/run.h5" <<'PY'
import sys, h5py
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for name in ["train/loss", "train/lr"]:
    x, y = a["metrics/" + name][:], b["metrics/" + name][:]
    assert list(x["step"]) == list(y["step"]), (name, list(x["step"]), list(y["step"]))
    assert (x["value"] == y["value"]).all(), name
print("restarted run logged", len(b["metrics/train/loss"]), "loss points, none twice")
PY
echo "damaged resume ok"
