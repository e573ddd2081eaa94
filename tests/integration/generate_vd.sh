# `mdlab generate` with the versatile_diffusion plugin on the tiny diffusers pipeline of the
# fixtures: the CLI reproduces diffusers' VersatileDiffusionImageVariationPipeline PNGs (PNDM
# and DDIM with guidance, PNDM without); two shards write exactly the files of one run; one
# MixDiff workflow runs with either generator when only [generator] name and model change;
# bad VD folders are refused naming the file and key.
source "$(dirname "$0")/lib.sh"
FIXTURES="${MDLAB_FIXTURES:-$SRC/../shared/fixtures}"
VD="$FIXTURES/vd_tiny"
SD="$FIXTURES/sd_variations_tiny"
[ -d "$VD" ] && [ -d "$SD" ] ||
  { echo "SKIPPED: fixtures vd_tiny / sd_variations_tiny not found under $FIXTURES (set MDLAB_FIXTURES)"; exit 0; }

# Parity: the fixture photo as a one-image folder dataset, diffusers' seeding.
mkdir -p "$WORK/photo/train/c"
cp "$VD/input.png" "$WORK/photo/train/c/input.png"
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
name = "versatile_diffusion"
model = "$VD/pipeline"
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
  compare_png "$WORK/out_$run/c/input.png" "$VD/output_$run.png"
done
expect_text "$WORK/err" "versatile_diffusion: $VD/pipeline"

# The swap: a MixDiff workflow (partners, then SimCLR with one view from them) run once with
# each generator; the generation file differs in [generator] name and model only.
"$PY" "$SRC/tests/integration/make_folder_data.py" "$WORK/data" 4
mkdir -p "$WORK/wf"
cat > "$WORK/wf/common.toml" <<EOF2
[experiment]
seed = 2
threads = 1
output_dir = "$WORK/runs"
[data]
format = "folder"
root = "$WORK/data/real"
test_split = "val"
EOF2
cat > "$WORK/wf/generate.toml" <<EOF2
extends = "common.toml"
[experiment]
name = "swap_partners"
[generator]
name = "sd_variations"
model = "$SD/pipeline"
steps = 2
height = 32
width = 32
batch_size = 6
EOF2
cat > "$WORK/wf/simclr.toml" <<'EOF2'
extends = "common.toml"
[experiment]
name = "swap_simclr_mixdiff"
[data]
mix = "mixdiff"
[data.augment.all]
mean = [0.5]
std = [0.25]
[backbone]
name = "resnet"
depth = 18
width = 8
cifar_stem = true
[method]
name = "simclr"
proj_hidden_dim = 32
proj_output_dim = 16
view_size = 16
[train]
epochs = 1
max_steps = 2
batch_size = 6
validate = false
online_probe = false
EOF2
cat > "$WORK/wf/flow.toml" <<EOF2
[workflow]
name = "swap"
output_dir = "$WORK/runs"
[[stage]]
name = "partners"
generate = "generate.toml"
[[stage]]
name = "mixdiff"
run = "simclr.toml"
set = ['data.synthetic.root = "{partners}"']
EOF2
expect_status 0 "$MDLAB" run "$WORK/wf/flow.toml" --out "$WORK/with_sd"
cp "$WORK/wf/generate.toml" "$WORK/generate_sd.toml"
sed -i -e 's/^name = "sd_variations"/name = "versatile_diffusion"/' \
  -e "s|^model = \"$SD/pipeline\"|model = \"$VD/pipeline\"|" "$WORK/wf/generate.toml"
[ "$(diff "$WORK/generate_sd.toml" "$WORK/wf/generate.toml" | grep -c '^[<>]')" = 4 ] ||
  fail "the swap changed more than [generator] name and model"
expect_status 0 "$MDLAB" run "$WORK/wf/flow.toml" --out "$WORK/with_vd"
for g in sd vd; do
  [ "$(find -L "$WORK/with_$g/partners" -name '*.png' | wc -l)" = 12 ] || fail "$g: expected 12 partners"
  test -f "$WORK/with_$g/mixdiff/run.h5" || fail "$g: no SimCLR run"
done
expect_text "$WORK/with_vd/mixdiff/log.txt" "mixdiff"
if cmp -s "$WORK/with_sd/partners/n01/img00.png" "$WORK/with_vd/partners/n01/img00.png"; then
  fail "the two generators made the same partner"
fi
# The same images through the shared path-for-path comparison: same names, other pixels.
diff <(cd "$WORK/with_sd/partners" && find . -name '*.png' | sort) \
  <(cd "$WORK/with_vd/partners" && find . -name '*.png' | sort) || fail "partner names differ"

# Shards of a VD generation write exactly the files of one run.
cat > "$WORK/shards.toml" <<EOF2
extends = "$WORK/wf/generate.toml"
[generate]
variations = 2
EOF2
expect_status 0 "$MDLAB" generate "$WORK/shards.toml" --out "$WORK/whole"
expect_status 0 "$MDLAB" generate "$WORK/shards.toml" --out "$WORK/sharded" --shard 0/2
expect_status 0 "$MDLAB" generate "$WORK/shards.toml" --out "$WORK/sharded" --shard 1/2 \
  --run-dir "$WORK/shard1"
diff -r "$WORK/whole" "$WORK/sharded" || fail "sharded outputs differ from one run"

# Bad folders.
copy_vd() { cp -r "$VD/pipeline" "$1" && chmod -R u+w "$1"; }
copy_vd "$WORK/nounet" && rm -rf "$WORK/nounet/image_unet"
expect_status 1 "$MDLAB" generate "$WORK/shards.toml" --out "$WORK/y" \
  --set "generator.model=\"$WORK/nounet\""
expect_text "$WORK/err" "$WORK/nounet/model_index.json: component 'image_unet' is missing"
copy_vd "$WORK/wide"
sed -i 's/"projection_dim": 32/"projection_dim": 48/' "$WORK/wide/image_encoder/config.json"
expect_status 1 "$MDLAB" generate "$WORK/shards.toml" --out "$WORK/y" \
  --set "generator.model=\"$WORK/wide\""
expect_text "$WORK/err" "$WORK/wide/image_encoder/config.json: key 'projection_dim' is 48"
expect_status 1 "$MDLAB" generate "$WORK/shards.toml" --out "$WORK/y" \
  --set "generator.model=\"$SD/pipeline\""
expect_text "$WORK/err" 'name = "sd_variations"'
echo "generate_vd ok"
