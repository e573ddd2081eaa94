# A real run end to end: config.toml, run.h5 (readable by h5dump and h5py), completed status,
# per-step metrics, validation table, checkpoint; `mdlab show` prints it.
source "$(dirname "$0")/lib.sh"
RUN="$WORK/run"
expect_status 0 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$RUN" --set train.max_steps=12
test -f "$RUN/config.toml" || fail "no config.toml"
test -f "$RUN/run.h5" || fail "no run.h5"
test -f "$RUN/log.txt" || fail "no log.txt"
test -f "$RUN/checkpoints/latest" && test -f "$RUN/checkpoints/$(cat "$RUN/checkpoints/latest")/model.safetensors" || fail "no checkpoint"
expect_text "$RUN/config.toml" "max_steps = 12"
# Not a TTY: plain progress lines.
expect_text "$WORK/err" "train: started (12 steps)"
expect_text "$WORK/err" "took"

expect_status 0 "$MDLAB" show "$RUN"
expect_text "$WORK/out" "completed"
expect_text "$WORK/out" "train/loss"
expect_text "$WORK/out" "val/accuracy"
expect_text "$WORK/out" "resnet"
expect_text "$WORK/out" "supervised"

if command -v h5dump >/dev/null; then
  expect_status 0 h5dump -H "$RUN/run.h5"
  expect_text "$WORK/out" 'GROUP "metrics"'
fi
need_h5py
"$PY" - "$RUN/run.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
loss = f["metrics/train/loss"][:]
assert len(loss) == 6, len(loss)                 # 12 steps, a record every 2
assert list(loss["step"]) == [2, 4, 6, 8, 10, 12], list(loss["step"])
status = f["meta"].attrs["status"]
status = status.decode() if isinstance(status, bytes) else str(status)
assert status.strip("\x00 ") == "completed", status
assert "max_steps = 12" in f["config"][()].decode()
t = f["eval/validation/final"]
assert t.shape[0] == 1
print("h5py ok", len(loss))
PY

# Same seed, same thread count: the same numbers.
expect_status 0 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$WORK/run2" --set train.max_steps=12
"$PY" - "$RUN/run.h5" "$WORK/run2/run.h5" <<'PY'
import sys, h5py
a = h5py.File(sys.argv[1], "r")["metrics/train/loss"][:]["value"]
b = h5py.File(sys.argv[2], "r")["metrics/train/loss"][:]["value"]
assert (a == b).all(), (a, b)
PY

# A second run into the same directory is refused (nothing lost).
expect_status 1 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$RUN"
expect_text "$WORK/err" "already holds a run"
# On a terminal the progress line is redrawn in place (\r + clear line) with rate and ETA.
if command -v script >/dev/null; then
  script -qefc "'$MDLAB' run '$SRC/tests/integration/data/tiny.toml' --out '$WORK/tty' --set train.max_steps=6" /dev/null > "$WORK/tty.txt" 2>&1 || fail "run on a pty failed"
  grep -q $'\r\033\[K' "$WORK/tty.txt" || { cat -v "$WORK/tty.txt"; fail "no live progress line on a TTY"; }
  expect_text "$WORK/tty.txt" "it/s"
  if grep -q "train: started" "$WORK/tty.txt"; then fail "plain progress lines on a TTY"; fi
fi

# The slow reference BLAS is named in a warning at start.
REF=/usr/lib/x86_64-linux-gnu/blas
if [ -e "$REF/libblas.so.3" ]; then
  LD_LIBRARY_PATH="$REF" expect_status 0 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$WORK/refblas" --set train.max_steps=2
  expect_text "$WORK/err" "warning: LibTorch is using the reference BLAS ($REF/libblas.so.3"
else
  echo "(reference BLAS not installed; its warning is not exercised)"
fi
expect_status 0 "$MDLAB" run "$SRC/tests/integration/data/tiny.toml" --out "$WORK/okblas" --set train.max_steps=2
if grep -q "reference BLAS" "$WORK/err"; then fail "BLAS warning with OpenBLAS selected"; fi
echo "tiny run ok"
