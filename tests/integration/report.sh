# `mdlab report`: a run and a sweep as self-contained HTML pages that Debian's headless
# Chromium renders with every chart drawn and no console error (a screenshot of each is kept
# in <build>/test-output/), the folder's PNGs inlined, Markdown and CSV forms, and the errors
# for a folder that is not a run and for a missing charting library.
source "$(dirname "$0")/lib.sh"
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || { echo "SKIPPED: Debian's chromium is not installed (scripts/install-deps.sh installs it)"; exit 0; }
KEEP="$BUILD/test-output"
mkdir -p "$KEEP"
CONFIG="$SRC/tests/integration/data/tiny.toml"

# render PAGE NAME: Chromium draws PAGE; its DOM must say every chart rendered.
render() {
  local page="$1" name="$2"
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
    --virtual-time-budget=15000 --dump-dom "file://$page" >"$WORK/$name.dom" 2>"$WORK/$name.log" \
    || { cat "$WORK/$name.log"; fail "chromium could not open $page"; }
  grep -q 'data-status="ok"' "$WORK/$name.dom" || {
    grep -o '<body[^>]*>' "$WORK/$name.dom"; grep -o 'id="mdlab-error">[^<]*' "$WORK/$name.dom"
    fail "$name: the page did not finish drawing its charts"; }
  charts=$(grep -o 'data-charts="[0-9]*"' "$WORK/$name.dom" | grep -o '[0-9]*')
  svgs=$(grep -o 'class="main-svg"' "$WORK/$name.dom" | wc -l)
  [ "$charts" -ge 1 ] && [ "$svgs" -ge "$charts" ] || fail "$name: $charts charts but $svgs SVG layers"
  if grep "CONSOLE" "$WORK/$name.log" | grep -qiE "error|uncaught|warn"; then
    grep "CONSOLE" "$WORK/$name.log"; fail "$name: console messages"
  fi
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1280,2000 --virtual-time-budget=15000 --screenshot="$KEEP/report-$name.png" \
    "file://$page" >/dev/null 2>&1 || fail "no screenshot of $page"
  test -s "$KEEP/report-$name.png" || fail "empty screenshot of $page"
  echo "$name: $charts charts rendered"
}

# --- a run, with a PNG in its folder (as the attention-map evaluator writes them)
RUN="$WORK/run"
expect_status 0 "$MDLAB" run "$CONFIG" --out "$RUN" --set train.max_steps=12 \
  --set 'eval=[{name="knn", k=[5]}]'
mkdir -p "$RUN/eval/attention_maps"
/usr/bin/python3 - "$RUN/eval/attention_maps/head0.png" <<'PY'
import sys, zlib, struct
w = h = 8
raw = b"".join(b"\x00" + bytes((x * 32) % 256 for x in range(w)) for _ in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
expect_status 0 "$MDLAB" report "$RUN"
expect_text "$WORK/err" "wrote $RUN/report.html"
expect_text "$WORK/err" "1 images"
expect_text "$RUN/report.html" "data:image/png;base64,"
expect_text "$RUN/report.html" "eval/attention_maps/head0.png"
expect_text "$RUN/report.html" "knn / accuracy"
render "$RUN/report.html" run
# Self-contained: nothing in the drawn page is fetched from elsewhere (no script or style
# files, every image inline).
if grep -qE '<script[^>]* src=|<link[^>]* href=|<img[^>]* src="[^d]' "$WORK/run.dom"; then
  fail "the page loads files from elsewhere"
fi

# --- a sweep over seeds: results against the swept value, the cells' loss curves
cat > "$WORK/sweep.toml" <<EOF
extends = ["$CONFIG"]
[train]
max_steps = 6
[[eval]]
name = "knn"
k = [5]
[sweep]
"train.lr" = [0.02, 0.05]
EOF
expect_status 0 "$MDLAB" sweep "$WORK/sweep.toml" --seeds 2 --out "$WORK/sweep"
expect_status 0 "$MDLAB" report "$WORK/sweep" --out "$WORK/sweep.html"
expect_text "$WORK/sweep.html" "Results against the swept values"
expect_text "$WORK/sweep.html" "top1@5 (knn / accuracy) vs train.lr"
expect_text "$WORK/sweep.html" "train/loss of every cell"
render "$WORK/sweep.html" sweep

# --- Markdown and CSV
expect_status 0 "$MDLAB" report "$WORK/sweep" --format md --out -
expect_text "$WORK/out" "## knn / accuracy (mean ± std over seeds; n completed)"
expect_text "$WORK/out" "| lr=0.02 | 2 |"
expect_status 0 "$MDLAB" report "$WORK/sweep" --format csv
expect_text "$WORK/sweep/report.csv" "table,cell,n,column,mean,std"
expect_text "$WORK/sweep/report.csv" "knn / accuracy,lr=0.05,2,top1@5,"
expect_status 0 "$MDLAB" report "$RUN" --format csv --out -
expect_text "$WORK/out" "table,knn/accuracy,tiny,top1@5,"

# --- errors
expect_status 1 "$MDLAB" report "$WORK"
expect_text "$WORK/err" "is neither a run directory (run.h5) nor a sweep folder"
MDLAB_REPORT_ASSETS="$WORK/none" expect_status 1 "$MDLAB" report "$RUN"
expect_text "$WORK/err" "the charting library $WORK/none/plotly-basic.min.js is missing"
expect_status 2 "$MDLAB" report "$RUN" --format pdf
expect_text "$WORK/err" "unknown report format 'pdf'"
echo "report ok"
