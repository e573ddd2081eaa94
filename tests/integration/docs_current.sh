# docs/config.md is generated from the schemas; it must match what this build generates.
source "$(dirname "$0")/lib.sh"
expect_status 0 "$MDLAB" config-reference --check "$SRC/docs/config.md"
echo "docs current"
