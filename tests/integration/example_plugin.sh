# The SDK and its test kit install; the example plugins build against them outside the tree
# (find_package(mdlab)) and load into the installed mdlab: feature_norm (an evaluator), and
# VICReg (a method) with its unit tests through the kit and short trainings in every mix mode.
source "$(dirname "$0")/lib.sh"
PREFIX="$WORK/prefix"
expect_status 0 cmake --install "$BUILD" --prefix "$PREFIX"
test -x "$PREFIX/bin/mdlab" || fail "mdlab not installed"
test -f "$PREFIX/include/mdlab/plugin.h" || fail "SDK headers not installed"
test -f "$PREFIX/lib/cmake/mdlab/mdlabConfig.cmake" || fail "no package config"
expect_status 0 cmake -S "$SRC/examples/feature_norm" -B "$WORK/example" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX"
expect_status 0 cmake --build "$WORK/example"
expect_status 0 "$PREFIX/bin/mdlab" plugins --plugin-path "$WORK/example"
expect_text "$WORK/out" "feature-norm"
expect_text "$WORK/out" "resnet"
if grep -q "plugin refused" "$WORK/err"; then cat "$WORK/err"; fail "a plugin was refused"; fi
echo "example plugin ok"

test -f "$PREFIX/include/mdlab/testing.h" || fail "test kit headers not installed"
test -f "$PREFIX/lib/libmdlab_testing.a" || fail "test kit library not installed"
expect_status 0 cmake -S "$SRC/examples/vicreg" -B "$WORK/vicreg" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX"
expect_status 0 cmake --build "$WORK/vicreg"
expect_status 0 ctest --test-dir "$WORK/vicreg" --output-on-failure
expect_text "$WORK/out" "100% tests passed, 0 tests failed out of 3"
expect_status 0 "$PREFIX/bin/mdlab" plugins --plugin-path "$WORK/vicreg" --describe vicreg
expect_text "$WORK/out" "sim_coeff"
echo "vicreg example builds and passes its unit tests"

need_h5py
DATA="$WORK/data"
"$PY" "$SRC/tests/integration/make_folder_data.py" "$DATA" 8
write_folder_common "$WORK/common.toml" "$DATA"
cat > "$WORK/vicreg.toml" <<'EOF2'
extends = ["common.toml"]
[backbone]
name = "resnet"
depth = 18
width = 8
cifar_stem = true
[method]
name = "vicreg"
projector = [32, 32]
view_size = 16
EOF2
for mix in real synthetic mixdiff mixing sequential; do
  expect_status 0 "$PREFIX/bin/mdlab" run "$WORK/vicreg.toml" --plugin-path "$WORK/vicreg" \
    --out "$WORK/vicreg-$mix" --set "data.mix=\"$mix\""
  expect_text "$WORK/err" "completed 6 steps"
  "$PY" - "$WORK/vicreg-$mix/run.h5" <<'PY'
import math, sys, h5py
f = h5py.File(sys.argv[1], "r")
for term in ("loss", "invariance", "variance", "covariance"):
    values = f["metrics/train/" + term][:]["value"]
    assert len(values) == 6 and all(math.isfinite(v) for v in values), (term, values)
# Validation on augmented views: the two views differ, so invariance is not 0.
invariance = f["metrics/val/invariance"][:]["value"]
assert len(invariance) == 2 and all(v > 0 for v in invariance), invariance
PY
done
echo "vicreg trains in every mix mode"
# The processes of --nproc are given the --plugin-path: a plugin under development trains in
# several processes as in one.
expect_status 0 "$PREFIX/bin/mdlab" run "$WORK/vicreg.toml" --plugin-path "$WORK/vicreg" \
  --out "$WORK/vicreg-2proc" --nproc 2
expect_text "$WORK/err" "distributed: 2 processes"
expect_text "$WORK/err" "completed"

# The short run of docs/writing-a-plugin.md, on the embedded Fashion-MNIST.
expect_status 0 "$PREFIX/bin/mdlab" run "$SRC/examples/vicreg/fmnist.toml" \
  --plugin-path "$WORK/vicreg" --out "$WORK/vicreg-fmnist" \
  --set train.epochs=1 --set data.fraction=0.02 --set 'eval=[]' --set data.test_fraction=0.02
expect_text "$WORK/err" "completed"
echo "vicreg short run on Fashion-MNIST ok"
