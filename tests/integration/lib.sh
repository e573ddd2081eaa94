# Shared helpers for the integration tests. Each test script is run by CTest as
#   bash <script> <path to mdlab> <source dir> <build dir>
set -euo pipefail
MDLAB="$1"
SRC="$2"
BUILD="$3"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mdlab-it-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
PY=/usr/bin/python3   # Debian's python3 with python3-h5py (not a pyenv one on PATH)

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_status WANT CMD...: runs CMD capturing stdout/stderr into $WORK/out, $WORK/err.
expect_status() {
  local want="$1"; shift
  local got=0
  "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  if [ "$got" != "$want" ]; then
    echo "--- stdout"; cat "$WORK/out"; echo "--- stderr"; cat "$WORK/err"
    fail "expected exit $want, got $got from: $*"
  fi
}

# expect_text FILE TEXT: FILE contains TEXT literally.
expect_text() {
  grep -qF -- "$2" "$1" || { echo "--- $1"; cat "$1"; fail "missing text: $2"; }
}

need_h5py() {
  "$PY" -c "import h5py" 2>/dev/null || { echo "SKIPPED: /usr/bin/python3 lacks h5py"; exit 0; }
}

# compare_png GOT WANT: two RGB PNGs of one size at most 1 grey level apart (diffusers parity);
# prints the largest difference and how many values differ.
compare_png() {
  "$PY" - "$1" "$2" <<'PY'
import sys
import numpy as np
from PIL import Image
got = np.asarray(Image.open(sys.argv[1]).convert("RGB")).astype(int)
want = np.asarray(Image.open(sys.argv[2]).convert("RGB")).astype(int)
assert got.shape == want.shape, (got.shape, want.shape)
d = np.abs(got - want)
print(f"{sys.argv[2].split('/')[-1]}: max |diff| {d.max()}, {int((d > 0).sum())} of {d.size} values differ")
assert d.max() <= 1, d.max()
PY
}

# write_folder_common FILE DATA: the [experiment], [data] and [train] tables of a 2-epoch,
# batch-8 run on the tree make_folder_data.py wrote under DATA (real/ with a val split, the
# synthetic mirror syn/); experiments add [backbone] and [method] and extend it.
write_folder_common() {
  cat > "$1" <<EOF2
[experiment]
seed = 1
threads = 1

[data]
format = "folder"
root = "$2/real"
test_split = "val"
workers = 2

[data.synthetic]
root = "$2/syn"

[data.augment.all]
mean = [0.5]
std = [0.25]

[train]
epochs = 2
batch_size = 8
lr = 0.05
log_every = 1
EOF2
}
