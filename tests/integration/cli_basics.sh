# --version, --help, unknown commands and options, exit codes.
source "$(dirname "$0")/lib.sh"
expect_status 0 "$MDLAB" --version
expect_text "$WORK/out" "mdlab 0.2.0"
expect_text "$WORK/out" "LibTorch"
expect_status 0 "$MDLAB" --help
expect_text "$WORK/out" "exit status: 0 ok, 1 runtime failure, 2 usage or config error, 130 interrupted"
for cmd in run validate plugins show config-reference; do
  expect_status 0 "$MDLAB" "$cmd" --help
  expect_text "$WORK/out" "usage: mdlab $cmd"
done
expect_status 2 "$MDLAB"
expect_status 2 "$MDLAB" frobnicate
expect_text "$WORK/err" "unknown command 'frobnicate'"
expect_status 2 "$MDLAB" run
expect_text "$WORK/err" "experiment"
expect_status 2 "$MDLAB" run x.toml --no-such-option
expect_text "$WORK/err" "no-such-option"
expect_status 1 "$MDLAB" show "$WORK/nothing-here"
echo "cli basics ok"
