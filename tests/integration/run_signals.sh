# SIGINT ends a run with status interrupted and exit 130; --resume finishes it. SIGKILL leaves
# a run log that h5dump and h5py open, with every metric up to the last flush.
source "$(dirname "$0")/lib.sh"
need_h5py
CONFIG="$SRC/tests/integration/data/tiny.toml"
LONG=(--set train.epochs=50 --set train.log_every=1 --set train.flush_seconds=0.2)

wait_for_metrics() {  # wait_for_metrics RUN_H5 N: until train/loss has >= N records
  for _ in $(seq 1 600); do
    n=$("$PY" - "$1" 2>/dev/null <<'PY' || echo 0
import sys, h5py
f = h5py.File(sys.argv[1], "r")
print(len(f["metrics/train/loss"]) if "metrics/train/loss" in f else 0)
PY
)
    [ "${n:-0}" -ge "$2" ] && return 0
    sleep 0.2
  done
  fail "run log never reached $2 metric records"
}

# --- SIGINT
RUN="$WORK/int"
"$MDLAB" run "$CONFIG" --out "$RUN" "${LONG[@]}" >"$WORK/int.out" 2>"$WORK/int.err" &
pid=$!
wait_for_metrics "$RUN/run.h5" 3
kill -INT "$pid"
status=0; wait "$pid" || status=$?
[ "$status" = 130 ] || { cat "$WORK/int.err"; fail "SIGINT exit status $status, expected 130"; }
expect_text "$WORK/int.err" "interrupted"
expect_text "$WORK/int.err" "mdlab run --resume $RUN"
"$PY" - "$RUN/run.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
s = f["meta"].attrs["status"]; s = s.decode() if isinstance(s, bytes) else str(s)
assert s.strip("\x00 ") == "interrupted", s
PY
# Resume with fewer epochs so it finishes quickly.
expect_status 0 "$MDLAB" run --resume "$RUN" --set train.epochs=1 --set train.max_steps=4
"$PY" - "$RUN/run.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
s = f["meta"].attrs["status"]; s = s.decode() if isinstance(s, bytes) else str(s)
assert s.strip("\x00 ") == "completed", s
PY

# --- SIGTERM: the same graceful path
RUN="$WORK/term"
"$MDLAB" run "$CONFIG" --out "$RUN" "${LONG[@]}" >/dev/null 2>"$WORK/term.err" &
pid=$!
wait_for_metrics "$RUN/run.h5" 2
kill -TERM "$pid"
status=0; wait "$pid" || status=$?
[ "$status" = 130 ] || { cat "$WORK/term.err"; fail "SIGTERM exit status $status, expected 130"; }
expect_text "$WORK/term.err" "interrupted (signal 15"

# --- SIGKILL, at a few different moments
for round in 1 2 3; do
  RUN="$WORK/kill$round"
  "$MDLAB" run "$CONFIG" --out "$RUN" "${LONG[@]}" >/dev/null 2>&1 &
  pid=$!
  wait_for_metrics "$RUN/run.h5" $((2 * round))
  sleep "0.$((round * 3))"
  kill -KILL "$pid"
  wait "$pid" || true
  expect_status 0 h5dump -H "$RUN/run.h5"
  "$PY" - "$RUN/run.h5" "$round" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
loss = f["metrics/train/loss"][:]
assert len(loss) >= 2 * int(sys.argv[2]), len(loss)
steps = list(loss["step"])
assert steps == sorted(steps) and steps[0] == 1, steps[:5]
s = f["meta"].attrs["status"]; s = s.decode() if isinstance(s, bytes) else str(s)
assert s.strip("\x00 ") == "running", s
print("after SIGKILL:", len(loss), "loss records")
PY
done
echo "signals ok"
