# Every experiment file shipped under configs/ validates (CUDA-only settings swapped for their
# CPU equivalents on this CPU build; --skip-data: most name datasets this machine lacks), the
# generate files validate as generate files, and the quickstart workflow validates with every
# stage file.
source "$(dirname "$0")/lib.sh"
expect_status 0 "$MDLAB" validate "$SRC/configs/quickstart.toml"
expect_text "$WORK/err" "stage mixdiff (run) ok"
n=1
for f in "$SRC"/configs/*/*.toml; do
  base=$(basename "$f")
  case "$base" in
    common.toml|resnet.toml|paths.toml|_*.toml) continue ;;  # fragments that others extend
    generate*.toml)
      expect_status 0 "$MDLAB" generate "$f" --validate --set experiment.device=cpu \
        --set train.precision=fp32 ;;
    *)
      expect_status 0 "$MDLAB" validate "$f" --skip-data --set experiment.device=cpu \
        --set train.precision=fp32 ;;
  esac
  n=$((n + 1))
done
[ "$n" -ge 20 ] || fail "only $n config files found"
echo "configs ok ($n files)"
