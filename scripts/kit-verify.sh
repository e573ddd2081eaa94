#!/usr/bin/env bash
# Proves, on this Debian machine, that a kit from scripts/gpu-kit.sh is all a build needs
# beyond LibTorch: configures and builds mdlab with scripts/kit-build.sh against Debian's
# LibTorch inside a private mount namespace in which Debian's own copies of the kit's
# packages (headers, CMake configs, HDF5's serial prefix) are hidden, then runs the binary on
# the kit's libraries. Needs root (unshare -m).
#   bash scripts/kit-verify.sh [KIT_DIR] [BUILD_DIR] [TARGET...]
# (default .gpu-kit, build-kit, every target; a configure-only check: TARGET "none").
set -euo pipefail
cd "$(dirname "$0")/.."
kit="${1:-.gpu-kit}"
build="${2:-build-kit}"
shift $(($# > 2 ? 2 : $#))
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
torch_dir=/usr/lib/$arch/cmake/Torch  # Debian's; its include dir is /usr/include itself

hidden=(/usr/include/boost /usr/include/fmt /usr/include/toml++ /usr/include/nlohmann
        /usr/include/catch2 /usr/include/hdf5 /usr/include/gloo /usr/include/libpng16
        /usr/lib/"$arch"/hdf5 /usr/lib/"$arch"/cmake/fmt /usr/lib/"$arch"/cmake/tomlplusplus
        /usr/lib/"$arch"/cmake/Boost-1.74.0 /usr/lib/"$arch"/cmake/boost_headers-1.74.0
        /usr/lib/"$arch"/cmake/boost_program_options-1.74.0 /usr/lib/cmake/Catch2
        /usr/share/cmake/nlohmann_json /usr/share/cmake/tomlplusplus)
hidden_files=(/usr/include/jpeglib.h /usr/include/jerror.h /usr/include/jmorecfg.h
              /usr/include/png.h /usr/include/pngconf.h /usr/include/pnglibconf.h
              /usr/include/zlib.h /usr/include/zconf.h /usr/include/"$arch"/jconfig.h)
empty=$(mktemp -d)
poison=$(mktemp)
echo '#error "kit-verify: a header of the host was used instead of the kit'"'"'s"' > "$poison"

targets=("$@")
build_cmd="bash scripts/kit-build.sh '$kit' '$build' '$torch_dir'"
[ "${targets[0]:-}" = none ] && build_cmd="$build_cmd mdlab_pch -- -DCMAKE_VERBOSE_MAKEFILE=OFF"
[ ${#targets[@]} -gt 0 ] && [ "${targets[0]}" != none ] && build_cmd="$build_cmd ${targets[*]}"

mounts=""  # files first: some are links into the folders hidden after them
for f in "${hidden_files[@]}"; do [ -f "$f" ] && mounts+="mount --bind '$poison' '$f'; "; done
for d in "${hidden[@]}"; do [ -d "$d" ] && mounts+="mount --bind '$empty' '$d'; "; done
unshare -m bash -c "set -e; $mounts
  ls /usr/include/boost | wc -l | grep -qx 0
  $build_cmd
  source '$build/kit-env.sh'
  if [ -x '$build/bin/mdlab' ]; then
    '$build/bin/mdlab' --version
    '$build/bin/mdlab' plugins | head -20
    echo 'libraries of bin/mdlab and the resnet plugin from the kit:'
    ldd '$build/bin/mdlab' '$build/lib/mdlab/plugins/mdlab_plugin_resnet.so' | grep -F "\${TMPDIR:-/tmp}/mdlab-kit-" | sort -u
  fi"
rm -rf "$empty" "$poison"
echo "kit-verify: OK ($build built with $kit and Debian's LibTorch only)"
