# `mdlab generate` with the sd_variations plugin on the tiny diffusers pipeline of the fixtures:
# the CLI reproduces diffusers' output PNGs (PNDM and DDIM with guidance, PNDM without);
# two shards plus an interrupted-and-resumed shard write exactly the files of one unsharded
# run; a full disk fails cleanly and a rerun completes the set; bad inputs and bad model
# folders give clear errors.
source "$(dirname "$0")/lib.sh"
FIX="${MDLAB_FIXTURES:-$SRC/../shared/fixtures}/sd_variations_tiny"
[ -d "$FIX" ] || { echo "SKIPPED: fixtures not found at $FIX (set MDLAB_FIXTURES)"; exit 0; }

# A one-image folder dataset holding the fixture photo.
mkdir -p "$WORK/photo/train/c"
cp "$FIX/input.png" "$WORK/photo/train/c/input.png"
cat > "$WORK/parity.toml" <<EOF2
[experiment]
seed = 25
threads = 1
output_dir = "$WORK/runs"
[data]
format = "folder"
root = "$WORK/photo"
test_split = ""
[generator]
name = "sd_variations"
model = "$FIX/pipeline"
guidance_scale = 3.0
steps = 5
height = 64
width = 64
[generate]
seeding = "diffusers"
EOF2
for run in pndm_cfg ddim_cfg pndm_nocfg; do
  sets=()
  case $run in
    ddim_cfg) sets=(--set generator.scheduler=ddim) ;;
    pndm_nocfg) sets=(--set generator.guidance_scale=1.0) ;;
  esac
  expect_status 0 "$MDLAB" generate "$WORK/parity.toml" --out "$WORK/out_$run" \
    --run-dir "$WORK/log_$run" "${sets[@]}"
  compare_png "$WORK/out_$run/c/input.png" "$FIX/output_$run.png"
done
expect_text "$WORK/log_pndm_nocfg/manifest.tsv" "c/input	0	25	"
# Rerunning finds the output complete and makes nothing.
expect_status 0 "$MDLAB" generate "$WORK/parity.toml" --out "$WORK/out_pndm_cfg" \
  --run-dir "$WORK/log_again"
expect_text "$WORK/err" "1 exist, 0 to make"
# The run log says where it came from, with the same keys as a training run's.
if "$PY" -c "import h5py" 2>/dev/null; then
  "$PY" - "$WORK/log_again/run.h5" <<'PY'
import sys, h5py
meta = h5py.File(sys.argv[1], "r")["meta"].attrs
for key in ("mdlab_version", "build", "git_commit", "torch_version", "host", "device", "seed",
            "blas", "plugin/sd_variations", "experiment_file"):
    assert key in meta, f"run.h5 of mdlab generate lacks meta/{key}"
status = meta["status"]
status = status.decode() if isinstance(status, bytes) else str(status)
assert status.strip("\x00 ") == "completed", status
PY
fi

# Eight small photos in two classes; per-image seeding; two variations each.
"$PY" - "$WORK/set" <<'PY'
import os, sys
import numpy as np
from PIL import Image
rng = np.random.default_rng(1)
for c in ("a", "b"):
    os.makedirs(os.path.join(sys.argv[1], "train", c), exist_ok=True)
    for i in range(4):
        img = rng.integers(0, 256, (30 + 7 * i, 41, 3), dtype=np.uint8)
        Image.fromarray(img).save(os.path.join(sys.argv[1], "train", c, f"im{i}.png"))
PY
cat > "$WORK/set.toml" <<EOF2
[experiment]
seed = 3
threads = 1
output_dir = "$WORK/runs"
[data]
format = "folder"
root = "$WORK/set"
test_split = ""
[generator]
name = "sd_variations"
model = "$FIX/pipeline"
steps = 3
height = 32
width = 32
batch_size = 3
[generate]
variations = 2
EOF2
expect_status 0 "$MDLAB" generate "$WORK/set.toml" --out "$WORK/whole"
[ "$(find "$WORK/whole" -name '*_v[01].png' | wc -l)" = 16 ] || fail "expected 16 outputs"
expect_status 0 "$MDLAB" generate "$WORK/set.toml" --out "$WORK/sharded" --shard 0/2
expect_status 0 "$MDLAB" generate "$WORK/set.toml" --out "$WORK/sharded" --shard 1/2 \
  --run-dir "$WORK/shard1"
# An interrupted shard: two of its files missing, a stale temporary file left behind. Batches
# of 3 over the 16 outputs; shard 1 owns batches 1, 3 and 5 (7 outputs).
rm "$WORK/sharded/a/im2_v0.png" "$WORK/sharded/b/im3_v1.png"
: > "$WORK/sharded/b/.im3_v1.png.tmp-999"
expect_status 0 "$MDLAB" generate "$WORK/set.toml" --out "$WORK/sharded" --shard 1/2 \
  --run-dir "$WORK/shard1-resumed"
expect_text "$WORK/err" "5 exist, 2 to make"
[ "$(grep -c generated "$WORK/shard1-resumed/manifest.tsv")" = 2 ] || fail "manifest counts"
rm "$WORK/sharded/b/.im3_v1.png.tmp-999"
diff -r "$WORK/whole" "$WORK/sharded" || fail "sharded + resumed outputs differ from one run"
# Shards and diffusers seeding exclude each other.
expect_status 1 "$MDLAB" generate "$WORK/set.toml" --out "$WORK/x" --shard 0/2 \
  --set generate.seeding=diffusers
expect_text "$WORK/err" "cannot be sharded"
expect_status 2 "$MDLAB" generate "$WORK/set.toml" --shard 2/2
expect_text "$WORK/err" "--shard 2/2"

# Full disk: a tmpfs too small for the set fails with the system's message, leaves no partial
# file under a final name, and once grown a rerun completes the set identically.
DISK="$WORK/disk"
mkdir -p "$DISK"
if mount -t tmpfs -o size=40k tmpfs "$DISK" 2>/dev/null; then
  trap 'umount "$DISK" 2>/dev/null; rm -rf "$WORK"' EXIT
  expect_status 1 "$MDLAB" generate "$WORK/set.toml" --out "$DISK/m" --run-dir "$WORK/full"
  expect_text "$WORK/err" "No space left on device"
  "$PY" - "$DISK/m" <<'PY'
import os, sys
from PIL import Image
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f.endswith(".png"):
            Image.open(os.path.join(d, f)).load()   # every final-named file is whole
PY
  mount -o remount,size=4m "$DISK"
  expect_status 0 "$MDLAB" generate "$WORK/set.toml" --out "$DISK/m" --run-dir "$WORK/full2"
  find "$DISK/m" -name '*.tmp*' -delete
  diff -r "$WORK/whole" "$DISK/m" || fail "the resumed set differs"
else
  echo "note: cannot mount a tmpfs here; the full-disk case is not exercised"
fi

# Bad inputs: a file that is no image stops the run naming it, or is skipped and counted.
printf 'not a png' > "$WORK/set/train/a/broken.png"
expect_status 1 "$MDLAB" generate "$WORK/set.toml" --out "$WORK/bad" --run-dir "$WORK/bad1"
expect_text "$WORK/err" "broken.png"
[ -e "$WORK/bad/a/broken_v0.png" ] && fail "an output for the broken input"
expect_status 0 "$MDLAB" generate "$WORK/set.toml" --out "$WORK/bad" --run-dir "$WORK/bad2" \
  --set data.on_error=skip
expect_text "$WORK/bad2/manifest.tsv" "unreadable"

# Bad model folders.
cp -r "$FIX/pipeline" "$WORK/novae" && chmod -R u+w "$WORK/novae" && rm -rf "$WORK/novae/vae"
expect_status 1 "$MDLAB" generate "$WORK/set.toml" --out "$WORK/y" \
  --set "generator.model=\"$WORK/novae\""
expect_text "$WORK/err" "component 'vae' is missing"
cp -r "$FIX/pipeline" "$WORK/badunet" && chmod -R u+w "$WORK/badunet"
sed -i 's/"DownBlock2D"/"SimpleCrossAttnDownBlock2D"/' "$WORK/badunet/unet/config.json"
expect_status 1 "$MDLAB" generate "$WORK/set.toml" --out "$WORK/y" \
  --set "generator.model=\"$WORK/badunet\""
expect_text "$WORK/err" "SimpleCrossAttnDownBlock2D"
expect_text "$WORK/err" "down_block_types"
# A config error points at its line.
printf '[generator]\nname = "sd_variations"\nmodel = "x"\nsteps = "many"\n' > "$WORK/bad.toml"
expect_status 2 "$MDLAB" generate "$WORK/bad.toml"
expect_text "$WORK/err" "bad.toml:4:"
echo "generate ok"
