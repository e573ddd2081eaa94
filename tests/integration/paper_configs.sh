# Every experiment of configs/paper runs at toy size: a toy copy of each dataset below
# MDLAB_DATA (make_paper_data.py; paths.toml defaults follow it), small models and two
# steps by --set, the last cell of each sweep, the evaluation files on a trained
# encoder; the generation files with the parity fixtures' tiny SD and VD pipelines.
source "$(dirname "$0")/lib.sh"
cd "$SRC"
wnids=$(grep -v '^#' configs/imagenet100_classes.txt | head -3 | awk '{print $1}')
export MDLAB_DATA="$WORK/data"
/usr/bin/python3 "$SRC/tests/integration/make_paper_data.py" "$MDLAB_DATA" $wnids
printf '%s\n' $wnids > "$WORK/classes.txt"
TOY=(--set experiment.device=cpu --set train.precision=fp32 --set train.epochs=1
     --set train.max_steps=2 --set train.batch_size=4 --set data.workers=1
     --set experiment.threads=1)
resnet=(--set backbone.depth=18 --set backbone.width=8)
vit=(--set method.out_dim=128)
n=0
for f in configs/paper/*.toml; do
  base=$(basename "$f" .toml)
  case "$base" in
    paths|_*) continue ;;
    generate_*)
      expect_status 0 "$MDLAB" generate "$f" --validate --set experiment.device=cpu \
        --set train.precision=fp32
      # With the parity fixtures' tiny SD or VD pipeline it also runs: 2 images, 2 steps,
      # 64 px.
      case "$base" in
        *_vd) fixture=vd_tiny model=vd_model out=in100_vd ;;
        *) fixture=sd_variations_tiny model=sd_variations_model out=in100_sd ;;
      esac
      FIX="${MDLAB_FIXTURES:-$SRC/../shared/fixtures}/$fixture/pipeline"
      if [ -d "$FIX" ]; then
        expect_status 0 "$MDLAB" generate "$f" --set experiment.device=cpu \
          --set train.precision=fp32 --set "paths.$model=$FIX" \
          --set "paths.$out=$WORK/gen_$base" --set "data.class_list=$WORK/classes.txt" \
          --set generator.steps=2 --set generator.height=64 --set generator.width=64 \
          --set generator.dtype=fp32 --set generate.max_images=2 --run-dir "$WORK/run_$base"
        [ "$(find "$WORK/gen_$base" -name '*.jpg' | wc -l)" = 2 ] || fail "$base made no 2 images"
      else
        echo "SKIPPED part: $base not run (no fixtures at $FIX)"
      fi ;;
    table3_transfer|figure_guidance_quality) continue ;;   # evaluation files: below
    *)
      extra=("${resnet[@]}")
      grep -q 'dino' "$f" && extra=("${vit[@]}")
      # IN-100 experiments read the toy class list; IN-1K ones every class folder.
      grep -q 'class_list = ""' "$f" || extra+=(--set "data.class_list=$WORK/classes.txt")
      # k-NN's k = 20, 200 needs more training images than a toy set has.
      case "$base" in table2_*|table_cost) ;; *) extra+=(--set 'eval[1].k=[3]') ;; esac
      expect_status 0 "$MDLAB" sweep "$f" --dry-run "${TOY[@]}" "${extra[@]}" --out "$WORK/runs/$base"
      last=$(($(grep -c '^ *[0-9]' "$WORK/out") - 1))
      # The last cell (mixdiff, the largest value); table 1's SimCLR also its first (real),
      # whose encoder the evaluation files use.
      cells=("$last")
      [ "$base" = table1_in100_simclr ] && cells=(0 "$last")
      for cell in "${cells[@]}"; do
        expect_status 0 "$MDLAB" sweep "$f" --cell "$cell" "${TOY[@]}" "${extra[@]}" --out "$WORK/runs/$base"
      done
      expect_status 0 "$MDLAB" show "$WORK/runs/$base"
      expect_text "$WORK/out" "completed" ;;
  esac
  n=$((n + 1))
done

# The evaluation files, on the encoder of table 1's SimCLR real cell.
RUN="$WORK/runs/table1_in100_simclr/mix=real"
test -f "$RUN/run.h5" || fail "no table 1 SimCLR cell to evaluate"
expect_status 0 "$MDLAB" eval configs/paper/table3_transfer.toml --checkpoint "$RUN" "${TOY[@]}" \
  "${resnet[@]}" --set 'eval=[{name="transfer", datasets=["cifar10", "cifar100", "aircraft", "dtd", "flowers102", "food101", "pets37", "stl10"], steps=4, eval_every=2, batch_size=4}]'
expect_text "$WORK/err" "transfer"
expect_status 0 "$MDLAB" eval configs/paper/figure_guidance_quality.toml --checkpoint "$RUN" \
  "${TOY[@]}" "${resnet[@]}" --set "data.class_list=$WORK/classes.txt" --set 'paths.fid_inception=""'
expect_status 0 "$MDLAB" show "$RUN"
expect_text "$WORK/out" "fid / quality"
n=$((n + 2))
[ "$n" -ge 14 ] || fail "only $n paper configs found"
echo "paper configs ok ($n files)"
