#!/usr/bin/env bash
# Fuzzes one of mdlab's input readers with libFuzzer (clang 14, ASan + UBSan) for SECONDS
# seconds (default 300), starting from its committed corpus tests/fuzz/corpus/TARGET. Inputs
# that crash are written there as crash-*; keep them (renamed) in the corpus: the unit tests
# replay it.
#   bash scripts/fuzz.sh TARGET [SECONDS]
# TARGET: safetensors | experiment | json_config | idx | cifar | image
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh safetensors|experiment|json_config|idx|cifar|image [SECONDS]}"
seconds="${2:-300}"
out="${MDLAB_FUZZ_DIR:-build-fuzz}"
mkdir -p "$out/corpus-$target"
torch_inc=(-isystem /usr/include/torch/csrc/api/include)
san=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
     -D_GLIBCXX_USE_CXX11_ABI=1 -DMDLAB_SDK_BUILDING -Isdk/include)
torch_libs=(-ltorch -ltorch_cpu -lc10)
extra=()
case "$target" in
  safetensors)
    # C++17: clang 14 with libstdc++ 12 rejects LibTorch 1.13 headers in C++20 mode
    # (incomplete c10::IValue in constexpr vector code); the reader itself is C++17-clean.
    std=-std=c++17
    sources=(tests/fuzz/fuzz_safetensors.cpp sdk/src/safetensors.cpp sdk/src/error.cpp)
    libs=("${torch_libs[@]}" -lfmt)
    max_len=4096 ;;
  experiment)
    std=-std=c++17  # as above: these sources are C++17-clean; the plugin kinds pull in LibTorch
    sources=(tests/fuzz/fuzz_experiment.cpp tests/fuzz/fuzz_experiment_target.cpp
             core/config/experiment_file.cpp core/config/path_variables.cpp core/config/toml_limits.cpp
             core/config/toml_writer.cpp core/config/validate.cpp core/config/config_error.cpp
             core/runtime/experiment_schema.cpp core/data/augment/augment_config.cpp
             core/data/augment/blur.cpp sdk/src/version.cpp
             sdk/src/options.cpp sdk/src/error.cpp)
    # Debian's compiled toml++ (as mdlab links it): its header-only debug build asserts on
    # inputs the release parser reports as syntax errors.
    extra=(-DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1)
    libs=(-ltomlplusplus "${torch_libs[@]}" -lfmt)
    max_len=8192 ;;
  json_config)
    std=-std=c++17
    sources=(tests/fuzz/fuzz_json_config.cpp plugins/generators/diffusion/model_folder.cpp
             plugins/generators/diffusion/scheduler.cpp plugins/generators/diffusion/unet.cpp
             plugins/generators/diffusion/vae.cpp plugins/generators/diffusion/clip_vision.cpp
             plugins/generators/diffusion/clip_preprocess.cpp plugins/generators/diffusion/layers.cpp
             plugins/generators/diffusion/ddim_scheduler.cpp plugins/generators/diffusion/pndm_scheduler.cpp
             plugins/generators/diffusion/euler_scheduler.cpp tests/fuzz/fuzz_json_config_target.cpp
             sdk/src/error.cpp sdk/src/safetensors.cpp sdk/src/state_dict.cpp)
    libs=("${torch_libs[@]}" -lfmt)
    max_len=4096 ;;
  idx|cifar|image)
    # The whole dataset library (the source registry links every format), as mdlab builds it.
    std=-std=c++17
    sources=("tests/fuzz/fuzz_$target.cpp" tests/fuzz/fuzz_data_target.cpp core/data/idx_file.cpp
             core/data/data_source.cpp core/data/image_decode.cpp core/data/sources/class_list.cpp
             core/data/sources/folder_source.cpp core/data/sources/idx_source.cpp
             core/data/sources/cifar_source.cpp sdk/src/error.cpp)
    libs=("${torch_libs[@]}" -lfmt -ljpeg -lpng -lz)
    max_len=65536 ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
bin="$out/fuzz_$target"
rebuild=0
[ -x "$bin" ] || rebuild=1
for f in "${sources[@]}"; do [ "$f" -nt "$bin" ] && rebuild=1; done
if [ "$rebuild" = 1 ]; then
  clang++-14 "$std" "${san[@]}" "${extra[@]}" -Icore/config -Icore/runtime -Icore/data -Icore/data/augment \
    -Iplugins/generators/diffusion -Itests/fuzz "${torch_inc[@]}" "${sources[@]}" -o "$bin" "${libs[@]}"
fi
# The committed corpus seeds the run; new interesting inputs go to the scratch corpus.
ASAN_OPTIONS=detect_leaks=0 "$bin" "$out/corpus-$target" "tests/fuzz/corpus/$target" \
  -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
  -artifact_prefix="tests/fuzz/corpus/$target/" -print_final_stats=1
