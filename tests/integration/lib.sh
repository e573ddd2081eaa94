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
