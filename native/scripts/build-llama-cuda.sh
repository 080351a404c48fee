#!/usr/bin/env bash
# Builds the pinned llama.cpp (release v0.5.0, the source inside npm node-llama-cpp@3.22.1) with CUDA and puts
# the shared libraries in DEST, a folder `--llama-lib DEST` (or GANTRY_LLAMA_LIB) accepts. Needs cmake, a C++
# compiler and the CUDA toolkit; ninja when present. Offline hosts pass a source tarball made by
# bench/gpu/stage.sh instead of fetching the npm package.
#
# usage: build-llama-cuda.sh DEST [CUDA_ARCHS (default 90)] [SOURCE.tar.xz]
# Also builds llama-server, llama-bench and llama-batched-bench into DEST when GANTRY_BUILD_TOOLS=1.
set -euo pipefail
dest=${1:?usage: build-llama-cuda.sh DEST [CUDA_ARCHS] [SOURCE.tar.xz]}
archs=${2:-90}
source_tarball=${3:-}
work=${GANTRY_BUILD_DIR:-$(mktemp -d)}
mkdir -p "$dest" "$work"

if [ -n "$source_tarball" ]; then
  tar -xJf "$source_tarball" -C "$work"
else
  bash "$(dirname "$0")/fetch-llama-source.sh" "$work"
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
targets=(llama)
[ "${GANTRY_BUILD_TOOLS:-0}" = 1 ] && targets+=(llama-server llama-bench llama-batched-bench)
cmake -S "$work/llama.cpp" -B "$work/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$archs" -DBUILD_SHARED_LIBS=ON \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
cmake --build "$work/build" -j"$(nproc)" --target "${targets[@]}"
cp -a "$work"/build/bin/*.so* "$dest"/
for t in llama-server llama-bench llama-batched-bench; do
  [ -f "$work/build/bin/$t" ] && cp -a "$work/build/bin/$t" "$dest"/
done
echo "build-llama-cuda: $(ls "$dest" | wc -l) files in $dest (CUDA archs $archs)"
