#!/usr/bin/env bash
# Fuzzes the SDK's safetensors reader with libFuzzer (clang 14, ASan + UBSan) for SECONDS
# seconds (default 300), starting from tests/fuzz/corpus/safetensors. Inputs that crash are
# written there as crash-*; keep them (renamed) in the corpus: the unit tests replay it.
#   bash scripts/fuzz-safetensors.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
out="${MDLAB_FUZZ_DIR:-build-fuzz}"
mkdir -p "$out" "$out/corpus"
torch_inc=(-isystem /usr/include/torch/csrc/api/include)
# C++17: clang 14 with libstdc++ 12 rejects LibTorch 1.13 headers in C++20 mode (incomplete
# c10::IValue in constexpr vector code); the reader itself is C++17-clean.
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -D_GLIBCXX_USE_CXX11_ABI=1 -DMDLAB_SDK_BUILDING -Isdk/include "${torch_inc[@]}")
if [ ! -x "$out/fuzz_safetensors" ] || [ sdk/src/safetensors.cpp -nt "$out/fuzz_safetensors" ] ||
   [ tests/fuzz/fuzz_safetensors.cpp -nt "$out/fuzz_safetensors" ]; then
  clang++-14 "${flags[@]}" tests/fuzz/fuzz_safetensors.cpp sdk/src/safetensors.cpp \
    sdk/src/error.cpp -o "$out/fuzz_safetensors" -ltorch -ltorch_cpu -lc10 -lfmt
fi
# The committed corpus seeds the run; new interesting inputs go to the scratch corpus.
ASAN_OPTIONS=detect_leaks=0 "$out/fuzz_safetensors" "$out/corpus" tests/fuzz/corpus/safetensors \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -artifact_prefix=tests/fuzz/corpus/safetensors/crash- \
  -print_final_stats=1
