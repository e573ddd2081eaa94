# Out of disk during a checkpoint: the run fails with a clear error (exit 1, status failed),
# the partial checkpoint is removed and the previous one stays intact and loadable.
source "$(dirname "$0")/lib.sh"
need_h5py
DISK="$WORK/disk"
mkdir -p "$DISK"
# A 2.6 MB tmpfs holds the run log and one checkpoint of the tiny model, not two.
if ! mount -t tmpfs -o size=2600k tmpfs "$DISK" 2>/dev/null; then
  echo "SKIPPED: cannot mount a small tmpfs here (needs root and mount rights)"
  exit 0
fi
trap 'umount "$DISK" 2>/dev/null; rm -rf "$WORK"' EXIT
RUN="$DISK/run"
expect_status 1 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$RUN" \
  --set train.checkpoint_every_steps=4 --set train.keep_last=1 --set train.max_steps=30
expect_text "$WORK/err" "checkpoint at step 8 could not be written"
expect_text "$WORK/err" "No space left on device"
expect_text "$WORK/err" "the previous checkpoint ($RUN/checkpoints/step-000000004) is intact"
[ "$(cat "$RUN/checkpoints/latest")" = "step-000000004" ] || fail "latest moved"
ls "$RUN/checkpoints" | grep -q '\.tmp$' && fail "partial checkpoint left behind"
"$PY" - "$RUN/run.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
s = f["meta"].attrs["status"]; s = s.decode() if isinstance(s, bytes) else str(s)
assert s.strip("\x00 ") == "failed", s
PY
# The surviving checkpoint loads.
expect_status 0 "$MDLAB" export-backbone "$RUN" --out "$WORK/backbone.safetensors"
echo "disk full ok"
