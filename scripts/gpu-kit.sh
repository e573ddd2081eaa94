#!/usr/bin/env bash
# Gathers, on this Debian 12 machine, everything a build of mdlab needs beyond LibTorch into one
# folder (default .gpu-kit/, ignored by git), for a machine that has a compiler, CMake, ninja
# and a (CUDA) LibTorch but none of our Debian packages and no network: the GPU machine.
#   bash scripts/gpu-kit.sh [KIT_DIR]
# Then, there: bash scripts/gpu-check.sh KIT_DIR (configure, build, CUDA checks, figures).
#
# Layout (the Debian paths under KIT_DIR, so the packages' CMake configs, which locate
# themselves relative to their own folder, work unchanged):
#   KIT/usr/include/...                     headers: toml++, fmt, nlohmann, catch2, hdf5/serial,
#                                           jpeglib.h & co, png.h & co, zlib.h, gloo, and the
#                                           Boost headers that Boost.DLL and program_options
#                                           pull in (computed by the compiler, not guessed)
#   KIT/usr/lib/x86_64-linux-gnu/...        the libraries mdlab links (hdf5, program_options,
#                                           fmt, toml++, jpeg, png, z) and the CMake configs
#   KIT/usr/lib/cmake, KIT/usr/share/cmake  the CMake configs Debian keeps there (Catch2, json)
#   KIT/deps/                               what those libraries load in turn (curl, ssl, ...),
#                                           linked in by gpu-check.sh only where the host
#                                           lacks a library of that soname
#   KIT/photos/                             sample photos for the generated JPEG set
#   KIT/MANIFEST.txt                        package versions, file count, size
# Fails if the folder exceeds 60 MiB (the device tool carries at most 64 MiB per call).
set -euo pipefail
cd "$(dirname "$0")/.."
kit="${1:-.gpu-kit}"
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
limit_mib=60

packages=(python3-skimage python-matplotlib-data libtomlplusplus-dev libfmt-dev nlohmann-json3-dev catch2 libhdf5-dev libjpeg62-turbo-dev
          libpng-dev zlib1g-dev libgloo-dev libboost-dev libboost-program-options-dev)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
    echo "gpu-kit: package $p is not installed; run scripts/install-deps.sh first" >&2
    exit 1
  }
done

rm -rf "$kit"
mkdir -p "$kit/deps"

# Copies paths (files or symlinks) to the same path under the kit.
put() {
  for f in "$@"; do
    mkdir -p "$kit$(dirname "$f")"
    cp -a "$f" "$kit$f"
  done
}

# Headers and CMake configs of every package, except Boost's (below): all of a package's
# files under include/ and cmake/ folders, and its .pc files.
for p in libtomlplusplus-dev libfmt-dev nlohmann-json3-dev catch2 libhdf5-dev libjpeg62-turbo-dev \
         libpng-dev zlib1g-dev libgloo-dev; do
  dpkg -L "$p" | while read -r f; do
    [ -f "$f" ] || [ -L "$f" ] || continue
    case "$f" in
      /usr/include/*|*/cmake/*|*.pc) put "$f" ;;
    esac
  done
done
# Catch2's CMake config names its main library, which tests do not use but the config checks.
put /usr/lib/libCatch2WithMain.a
# HDF5's serial prefix lib/ARCH/hdf5/serial (relative symlinks: include/, libhdf5.so), which
# HDF5_ROOT points at; multiarch headers (jconfig.h) also beside the others, since a host
# that is not Debian-like has no include/ARCH on its compiler's search path.
for f in include lib libhdf5.so libhdf5_hl.so; do put /usr/lib/"$arch"/hdf5/serial/$f; done
cp -a "$kit/usr/include/$arch/." "$kit/usr/include/"

# Boost: the headers that mdlab's Boost includes reach, as the compiler resolves them (with
# the defines mdlab builds with), plus the small config/predef/dll trees whole, so another
# compiler version taking other #if branches there still finds its files.
probe=$(mktemp --suffix=.cpp)
grep -rhoE '#include <boost/[^>]+>' sdk core plugins tests bench examples | sort -u > "$probe"
boost_headers=$(for std in c++17 c++20; do
  g++ -std=$std -DBOOST_DLL_USE_STD_FS -M "$probe" | tr ' \\' '\n\n' | grep '^/usr/include/boost/'
done | sort -u)
rm -f "$probe"
put $boost_headers
for d in config predef dll; do put /usr/include/boost/$d; done
put /usr/lib/"$arch"/cmake/Boost-* /usr/lib/"$arch"/cmake/BoostDetectToolset-*.cmake \
    /usr/lib/"$arch"/cmake/boost_headers-* /usr/lib/"$arch"/cmake/boost_program_options-*

# The libraries mdlab links: the development symlink and the file it resolves to.
libs=(/usr/lib/"$arch"/libhdf5_serial.so /usr/lib/"$arch"/libhdf5_serial_hl.so
      /usr/lib/"$arch"/libboost_program_options.so /usr/lib/"$arch"/libfmt.so
      /usr/lib/"$arch"/libtomlplusplus.so
      /usr/lib/"$arch"/libjpeg.so /usr/lib/"$arch"/libpng16.so /usr/lib/"$arch"/libpng.so
      /usr/lib/"$arch"/libz.so)
for l in "${libs[@]}"; do
  real=$(readlink -f "$l")
  soname=$(objdump -p "$real" | awk '/SONAME/{print $2}')
  put "$l" "$real"
  [ -e "$(dirname "$real")/$soname" ] && put "$(dirname "$real")/$soname"
done

# Links must resolve inside the kit: Debian's libz.so points at /lib/ARCH/libz.so.1.2.13, which
# exists on this host and nowhere else. Absolute links become links to the file beside them.
find "$kit" -type l -lname '/*' | while read -r link; do
  target=$(basename "$(readlink "$link")")
  [ -e "$(dirname "$link")/$target" ] || {
    echo "gpu-kit: $link points outside the kit ($(readlink "$link"))" >&2
    exit 1
  }
  ln -sfn "$target" "$link"
done
broken=$(find "$kit" -xtype l)
[ -z "$broken" ] || { echo "gpu-kit: broken links: $broken" >&2; exit 1; }

# What those libraries load in turn, but not the C library family, the C++ runtime or the
# libraries of the kit itself: every host has the former, and the kit holds the latter.
is_base() {
  case "$1" in
    linux-vdso*|ld-linux*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libresolv.so*|\
    libstdc++.so*|libgcc_s.so*) return 0 ;;
  esac
  return 1
}
for l in "${libs[@]}"; do
  ldd "$(readlink -f "$l")" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  is_base "$name" && continue
  [ -e "$kit/usr/lib/$arch/$name" ] && continue
  cp -L "$path" "$kit/deps/$name"
done

# The natural photos bench/make_imagenet_like.py cuts the JPEG set of the data-wait check from
# (python3-skimage's and matplotlib's samples; the GPU machine has neither's Debian files).
mkdir -p "$kit/photos"
for f in $(/usr/bin/python3 -c 'import sys; sys.path.insert(0, "bench"); import make_imagenet_like as m; print(" ".join(m.SOURCES))'); do
  [ -f "$f" ] && cp "$f" "$kit/photos/"
done

size=$(du -sb "$kit" | awk '{print $1}')
{
  echo "mdlab GPU build kit, gathered $(date -u +%Y-%m-%dT%H:%MZ) on $(. /etc/os-release; echo "$PRETTY_NAME")"
  echo "glibc $(ldd --version | head -1 | awk '{print $NF}'), g++ $(g++ -dumpfullversion)"
  echo "size: $((size / 1024 / 1024)) MiB ($size bytes), files: $(find "$kit" -type f | wc -l)"
  echo "packages:"
  for p in "${packages[@]}"; do dpkg-query -W -f='  ${Package} ${Version}\n' "$p"; done
  echo "deps (loaded by the libraries above; used on a host only where it lacks the soname):"
  ls "$kit/deps" | sed 's/^/  /'
} > "$kit/MANIFEST.txt"
cat "$kit/MANIFEST.txt"
if [ "$size" -gt $((limit_mib * 1024 * 1024)) ]; then
  echo "gpu-kit: $kit is $((size / 1024 / 1024)) MiB, over the $limit_mib MiB limit" >&2
  exit 1
fi
