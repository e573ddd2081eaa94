# Config errors through the real CLI: one case per kind, each checked for its exact
# file:line:col prefix and the key it names; exit status 2 and no run directory.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

base_ok() {  # a valid experiment body
  cat <<'TOML'
[experiment]
name = "cfg"
output_dir = "out"

[backbone]
name = "resnet"
depth = 18

[method]
name = "supervised"
TOML
}

# check FILE EXPECTED_TEXT...: validate and run both exit 2 and print every text.
check() {
  local file="$1"; shift
  for cmd in validate run; do
    expect_status 2 "$MDLAB" "$cmd" "$file"
    for text in "$@"; do expect_text "$WORK/err" "$text"; done
  done
  [ ! -e "$WORK/out" ] || [ -f "$WORK/out" ]  # (stdout capture file)
  [ ! -d "$WORK/out/cfg" ] || fail "a run directory was created despite config errors"
}

base_ok > ok.toml
expect_status 0 "$MDLAB" validate ok.toml

# unknown key, with did-you-mean (line 7, col 1)
base_ok | sed 's/^depth = 18/depht = 18/' > unknown_key.toml
check unknown_key.toml "unknown_key.toml:7:1:" "depht" "did you mean 'depth'"

# wrong type (value at line 7, col 9)
base_ok | sed 's/^depth = 18/depth = "deep"/' > wrong_type.toml
check wrong_type.toml "wrong_type.toml:7:9:" "depth" "expected int, got string"

# out of range / not among the choices
base_ok | sed 's/^depth = 18/depth = 19/' > bad_choice.toml
check bad_choice.toml "bad_choice.toml:7:9:" "depth" "one of: 18, 34, 50, 101"
printf '%s\n[train]\nlr = -1.0\n' "$(base_ok)" > out_of_range.toml
check out_of_range.toml "out_of_range.toml:12:6:" "lr" "out of range"

# missing required table (file:1:1) and unknown plugin (lists those available)
base_ok | sed '/^\[method\]/,$d' > missing_table.toml
check missing_table.toml "missing_table.toml:1:1:" "method"
base_ok | sed 's/^name = "supervised"/name = "supervized"/' > unknown_plugin.toml
check unknown_plugin.toml "unknown_plugin.toml:10:8:" "supervized" "supervised"

# unknown top-level table
printf '%s\n[trian]\nepochs = 2\n' "$(base_ok)" > unknown_table.toml
check unknown_table.toml "unknown_table.toml:11:1:" "trian" "did you mean 'train'"

# an error inside a base file points into the base file
printf 'extends = ["bad_base.toml"]\n[train]\nepochs = 2\n' > child.toml
base_ok | sed 's/^depth = 18/depth = 18.5/' > bad_base.toml
check child.toml "bad_base.toml:7:9:" "depth"

# extends cycle
printf 'extends = ["cycle_b.toml"]\n' > cycle_a.toml
printf 'extends = ["cycle_a.toml"]\n' > cycle_b.toml
check cycle_a.toml "cycle_a.toml -> " "cycle_b.toml -> " "cycle"

# --set: bad type, located in the --set argument
expect_status 2 "$MDLAB" validate ok.toml --set train.epochs=many
expect_text "$WORK/err" "--set train.epochs=many"
expect_text "$WORK/err" "expected int, got string"
expect_status 2 "$MDLAB" validate ok.toml --set train.epochs
expect_text "$WORK/err" "train.epochs"
expect_status 0 "$MDLAB" validate ok.toml --set train.lr=0.2 --set data.root=/tmp/x --print \
  --skip-data
expect_text "$WORK/out" "lr = 0.2"
expect_text "$WORK/out" "root = '/tmp/x'"

# TOML syntax error
printf '[experiment\nname = "x"\n' > syntax.toml
check syntax.toml "syntax.toml:1:"

# CUDA on a CPU-only build: a config error at the device value
if "$MDLAB" --version | grep -q " CPU;"; then
  printf '%s\n' "$(base_ok)" | sed 's/^output_dir = "out"/output_dir = "out"\ndevice = "cuda"/' > cuda.toml
  check cuda.toml "cuda.toml:4:10:" "CPU-only LibTorch"
fi

# absurd sizes and NaN are named at their key, before LibTorch would try to allocate or train
base_ok | sed 's/^depth = 18/depth = 18\nwidth = 1000000000/' > huge_width.toml
check huge_width.toml "huge_width.toml:8:9:" "width" "must be in [8, 1024]"
base_ok | sed 's/^depth = 18/depth = 18\n\n[train]\nlr = nan/' > nan_lr.toml
check nan_lr.toml "nan_lr.toml:10:6:" "'lr' in [train]" "value nan is not a finite number"

# data folders and files that do not exist are config errors at their keys (validate and run
# exit 2 before a run directory exists), every one reported; --skip-data checks the file only
printf '%s\n[data]\nroot = "no/such/folder"\n\n[datasets.shift]\nroot = "%s"\nclass_list = "%s"\n' \
  "$(base_ok)" "$WORK" "$WORK/classes.txt" > missing_data.toml
check missing_data.toml "missing_data.toml:12:8:" "data.root: folder no/such/folder does not exist" \
  "(relative to the working directory $WORK)" "missing_data.toml:16:14:" \
  "datasets.shift.class_list: file $WORK/classes.txt does not exist" "2 configuration errors"
expect_status 0 "$MDLAB" validate missing_data.toml --skip-data
printf '%s\n[data]\nroot = "ok.toml"\n' "$(base_ok)" > root_is_file.toml
check root_is_file.toml "root_is_file.toml:12:8:" "data.root: ok.toml is not a folder"

# many errors at once, all reported
base_ok | sed 's/^depth = 18/depth = "x"\nwidht = 3/; s/^name = "cfg"/name = 5/' > many.toml
check many.toml "many.toml:2:8:" "many.toml:7:9:" "many.toml:8:1:" "3 configuration errors"
echo "config errors ok"
