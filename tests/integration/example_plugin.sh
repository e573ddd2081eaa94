# The SDK installs, and the example plugin builds against the installed SDK outside the tree
# (find_package(mdlab)) and loads into the installed mdlab.
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
