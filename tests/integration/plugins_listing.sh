# `mdlab plugins` lists the real plugins; broken ones are refused each with its own message
# while good ones beside them load.
source "$(dirname "$0")/lib.sh"
expect_status 0 "$MDLAB" plugins
expect_text "$WORK/out" "resnet"
expect_text "$WORK/out" "supervised"
expect_text "$WORK/out" "backbone"
expect_text "$WORK/out" "method"

expect_status 0 "$MDLAB" plugins --describe resnet
expect_text "$WORK/out" "depth"
expect_text "$WORK/out" "one of: 18, 34, 50, 101"
expect_status 2 "$MDLAB" plugins --describe no-such-plugin
expect_text "$WORK/err" "available: "

BROKEN="$BUILD/tests/plugins_broken"
expect_status 0 "$MDLAB" plugins --plugin-path "$BROKEN"
expect_text "$WORK/out" "test-good-too"
expect_text "$WORK/out" "resnet"
expect_text "$WORK/err" "SDK ABI mismatch: plugin built for mdlab SDK ABI 99"
grep -qE "needs SDK API [0-9]+\.77, this mdlab provides [0-9]+\.[0-9]+" "$WORK/err" || fail "no SDK API mismatch message"
expect_text "$WORK/err" "LibTorch mismatch: plugin built against LibTorch 0.4.1"
expect_text "$WORK/err" "_GLIBCXX_USE_CXX11_ABI=7"
expect_text "$WORK/err" "does not export the handshake symbol 'mdlab_plugin_get_info'"
expect_text "$WORK/err" "not an ELF shared object"
expect_text "$WORK/err" "duplicate plugin name 'test-duplicate'"
expect_text "$WORK/err" "mdlab_plugin_dup_a.so and $BROKEN/mdlab_plugin_dup_b.so"
expect_text "$WORK/err" "lacks the factory alias"
expect_text "$WORK/err" "mdlab_plugin_truncated.so: truncated ELF file"

# A mistyped --plugin-path is a usage error, not a silent run with the built-in plugins.
expect_status 2 "$MDLAB" plugins --plugin-path "$WORK/no-such-dir"
expect_text "$WORK/err" "--plugin-path $WORK/no-such-dir: no such directory"

# The same through the environment variable.
MDLAB_PLUGIN_PATH="$BROKEN" expect_status 0 "$MDLAB" plugins
expect_text "$WORK/out" "test-good-too"
echo "plugin listing ok"
