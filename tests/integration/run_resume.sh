# Exact resume: a run killed (SIGKILL) or interrupted (SIGINT) and resumed with
# `mdlab run --resume` ends with the same weights, byte for byte, and the same metric points
# as an uninterrupted run (CPU, fixed thread count).
source "$(dirname "$0")/lib.sh"
need_h5py
CONFIG="$SRC/tests/integration/data/tiny.toml"
ARGS=(--set train.epochs=6 --set train.log_every=1 --set train.checkpoint_every_steps=4
      --set train.flush_seconds=0.1 --set train.keep_last=3)

final_weights() { echo "$1/checkpoints/$(cat "$1/checkpoints/latest")/model.safetensors"; }

compare() {  # compare REFERENCE_RUN RESUMED_RUN
  cmp "$(final_weights "$1")" "$(final_weights "$2")" || fail "weights differ after resume"
  "$PY" - "$1/run.h5" "$2/run.h5" <<'PY'
import sys, h5py
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for name in ["train/loss", "train/accuracy", "train/lr", "train/epoch", "val/loss", "val/accuracy"]:
    x, y = a["metrics/" + name][:], b["metrics/" + name][:]
    assert list(x["step"]) == list(y["step"]), (name, list(x["step"]), list(y["step"]))
    assert (x["value"] == y["value"]).all(), (name, x["value"], y["value"])
s = b["meta"].attrs["status"]; s = s.decode() if isinstance(s, bytes) else str(s)
assert s.strip("\x00 ") == "completed", s
print("identical:", len(a["metrics/train/loss"]), "loss points")
PY
}

wait_for_checkpoint() {  # wait until RUN has a checkpoint and N loss points are flushed
  for _ in $(seq 1 600); do
    if [ -f "$1/checkpoints/latest" ]; then
      n=$("$PY" -c "import h5py,sys; print(len(h5py.File(sys.argv[1],'r')['metrics/train/loss']))" "$1/run.h5" 2>/dev/null || echo 0)
      [ "${n:-0}" -ge "$2" ] && return 0
    fi
    sleep 0.1
  done
  fail "no checkpoint appeared in $1"
}

expect_status 0 "$MDLAB" run "$CONFIG" --out "$WORK/ref" "${ARGS[@]}"
ls "$WORK/ref/checkpoints" | grep -c '^step-' | grep -qx 3 || fail "keep_last=3 not honoured"

for sig in KILL INT; do
  RUN="$WORK/run-$sig"
  "$MDLAB" run "$CONFIG" --out "$RUN" "${ARGS[@]}" >/dev/null 2>&1 &
  pid=$!
  wait_for_checkpoint "$RUN" 10
  kill -"$sig" "$pid"
  status=0; wait "$pid" || status=$?
  if [ "$status" = 0 ]; then echo "(run finished before SIG$sig; resume is then a no-op)"; fi
  expect_status 0 "$MDLAB" run --resume "$RUN"
  expect_text "$WORK/err" "resuming"
  compare "$WORK/ref" "$RUN"
done
echo "exact resume ok"
