# Workflows: a tiny MixDiff loop (generator run -> export -> partners -> SSL real and mixdiff
# -> comparison) runs from one file; a second run reuses the cached generator, model and
# partners; errors in the workflow or a stage file are reported before anything runs, located
# at file:line:col; a failing stage stops the workflow with its status. Also the
# blurred_noise generator with layout "classes" (a labelled folder dataset).
source "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/wf"
cat > "$WORK/wf/common.toml" <<EOF2
[experiment]
seed = 4
threads = 1
output_dir = "$WORK/runs"
[data]
root = "/usr/share/datasets/fashion-mnist"
fraction = 0.004
test_fraction = 0.003
channels = 1
[backbone]
name = "resnet"
depth = 18
width = 8
cifar_stem = true
in_channels = 1
EOF2
cat > "$WORK/wf/diffae.toml" <<'EOF2'
extends = "common.toml"
[experiment]
name = "wf_diffae"
[data.augment.all]
mean = [0.5]
std = [0.5]
[data.eval]
mean = [0.5]
std = [0.5]
[method]
name = "diffae"
channels = 1
image_size = 28
block_out_channels = [16, 32]
attention = [0, 1]
heads = 2
norm_num_groups = 8
prediction_type = "sample"
[train]
epochs = 1
max_steps = 3
batch_size = 32
optimizer = "adamw"
lr = 1e-3
weight_decay = 0.0
validate = false
online_probe = false
EOF2
cat > "$WORK/wf/generate.toml" <<'EOF2'
extends = "common.toml"
[experiment]
name = "wf_partners"
[generator]
name = "diffae_variations"
model = "unset"
steps = 2
batch_size = 16
EOF2
cat > "$WORK/wf/simclr.toml" <<'EOF2'
extends = "common.toml"
[experiment]
name = "wf_simclr_real"
[method]
name = "simclr"
proj_hidden_dim = 32
proj_output_dim = 16
view_size = 28
[train]
epochs = 1
max_steps = 2
batch_size = 32
validate = false
online_probe = false
[[eval]]
name = "knn"
k = [5]
EOF2
cat > "$WORK/wf/flow.toml" <<EOF2
[workflow]
name = "flow"
output_dir = "$WORK/runs"
cache_dir = "$WORK/cache"
[[stage]]
name = "generator"
run = "diffae.toml"
cache = true
[[stage]]
name = "model"
export_model = "generator"
cache = true
[[stage]]
name = "partners"
generate = "generate.toml"
set = ['generator.model = "{model}"']
cache = true
[[stage]]
name = "real"
run = "simclr.toml"
[[stage]]
name = "mixdiff"
run = "simclr.toml"
set = ['experiment.name = "wf_simclr_mixdiff"', 'data.mix = "mixdiff"',
       'data.synthetic.root = "{partners}"']
[compare]
stages = ["real", "mixdiff"]
EOF2
expect_status 0 "$MDLAB" validate "$WORK/wf/flow.toml"
expect_text "$WORK/err" "stage partners (generate) ok"
expect_status 0 "$MDLAB" run "$WORK/wf/flow.toml" --out "$WORK/first"
expect_text "$WORK/out" "knn / accuracy"
expect_text "$WORK/out" "wf_simclr_real"
expect_text "$WORK/out" "wf_simclr_mixdiff"
test -f "$WORK/first/comparison.txt" || fail "no comparison.txt"
test -L "$WORK/first/generator" || fail "the cached generator run is not linked"
test -f "$WORK/first/model/unet/config.json" || fail "no exported model through the link"
[ "$(find -L "$WORK/first/partners" -name '*.png' | wc -l)" = 240 ] || fail "expected 240 partners"
test -f "$WORK/first/real/run.h5" && test -f "$WORK/first/mixdiff/run.h5" || fail "no SSL runs"
expect_text "$WORK/first/workflow.toml" "data.synthetic.root = \"$WORK/cache/partners-"
# The second time the generator, its export and the partners come from the cache.
expect_status 0 "$MDLAB" run "$WORK/wf/flow.toml" --out "$WORK/second"
expect_text "$WORK/err" "stage generator reused the completed run in the cache"
expect_text "$WORK/err" "stage model reused the exported model in the cache"
expect_text "$WORK/err" "240 exist, 0 to make"
[ "$(readlink "$WORK/first/partners")" = "$(readlink "$WORK/second/partners")" ] ||
  fail "the partners were not reused"
# A changed generator config is another cache entry.
sed -i 's/max_steps = 3/max_steps = 4/' "$WORK/wf/diffae.toml"
expect_status 0 "$MDLAB" validate "$WORK/wf/flow.toml"

# Errors before anything runs: a stage file's, located in that file; a reference to a later
# stage; an export of something that is not a run stage; an unknown key.
sed -i 's/lr = 1e-3/lr = "fast"/' "$WORK/wf/diffae.toml"
expect_status 2 "$MDLAB" run "$WORK/wf/flow.toml" --out "$WORK/bad1"
expect_text "$WORK/err" "diffae.toml:"
expect_text "$WORK/err" "(stage \"generator\")"
test ! -e "$WORK/bad1" || fail "a workflow with errors created its directory"
sed -i 's/lr = "fast"/lr = 1e-3/' "$WORK/wf/diffae.toml"
sed 's/"{model}"/"{mixdiff}"/' "$WORK/wf/flow.toml" > "$WORK/wf/later.toml"
expect_status 2 "$MDLAB" validate "$WORK/wf/later.toml"
expect_text "$WORK/err" "later.toml:"
expect_text "$WORK/err" "{mixdiff} names a stage that runs later"
sed 's/export_model = "generator"/export_model = "partners"/; s/cahce/cache/' \
  "$WORK/wf/flow.toml" > "$WORK/wf/badref.toml"
printf '[[stage]]\nname = "x"\nrun = "simclr.toml"\ncahce = true\n' >> "$WORK/wf/badref.toml"
expect_status 2 "$MDLAB" validate "$WORK/wf/badref.toml"
expect_text "$WORK/err" "must name an earlier run stage"
expect_text "$WORK/err" "did you mean 'cache'?"
# --set does not apply to workflows.
expect_status 1 "$MDLAB" run "$WORK/wf/flow.toml" --set train.lr=0.1
expect_text "$WORK/err" "is a workflow"
# A failing stage stops the workflow with its status; later stages do not run.
cat > "$WORK/wf/fails.toml" <<EOF2
[workflow]
name = "fails"
output_dir = "$WORK/runs"
[[stage]]
name = "partners"
generate = "generate.toml"
set = ['generator.model = "/nonexistent"']
[[stage]]
name = "real"
run = "simclr.toml"
EOF2
expect_status 1 "$MDLAB" run "$WORK/wf/fails.toml" --out "$WORK/failed"
expect_text "$WORK/err" "stopped at stage partners"
test ! -e "$WORK/failed/real" || fail "a stage after the failure ran"

# blurred_noise as a labelled folder dataset: classes.txt maps folders to the class names.
cat > "$WORK/noise.toml" <<EOF2
extends = "$WORK/wf/common.toml"
[generator]
name = "blurred_noise"
size = 28
[generate]
splits = ["test"]
layout = "classes"
variations = 2
EOF2
expect_status 0 "$MDLAB" generate "$WORK/noise.toml" --out "$WORK/noise"
expect_text "$WORK/noise/classes.txt" "$(printf 'Ankle_boot\tAnkle boot')"
expect_text "$WORK/noise/classes.txt" "$(printf 'T-shirt_top\tT-shirt/top')"
[ "$(find "$WORK/noise/test" -name '*_v1.png' | wc -l)" = 30 ] || fail "expected 30 x 2 noise images"
expect_text "$WORK/err" "mean |output - source|"
echo "workflow ok"
