#!/usr/bin/env bash
# Fetches the prebuilt CUDA 13 libraries of the pinned llama.cpp release (npm @node-llama-cpp/linux-x64-cuda,
# all GPU architectures), checks the tarball against the pinned sha256, and puts the libraries in DEST, a folder
# `--llama-lib DEST` accepts. At run time they need libcudart.so.13 and libcublas.so.13 from a CUDA 13 install.
#
# usage: fetch-llama-cuda.sh DEST
set -euo pipefail
PKG="@node-llama-cpp/linux-x64-cuda"
VERSION="3.22.1"
SHA256="d6cd3ff39a43b024816952e0bc6452d6711608d26256ff6eb0fe8cf7ff55bb2c"
dest=${1:?usage: fetch-llama-cuda.sh DEST}
mkdir -p "$dest"
source "$(dirname "$0")/npm-fetch.sh"
tarball=$(npm_fetch fetch-llama-cuda "$PKG" "$VERSION" "$SHA256")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work" package/bins/linux-x64-cuda
src="$work/package/bins/linux-x64-cuda"
cp "$src"/libllama.*.so "$src"/libggml.*.so "$src"/libggml-base.so "$src"/libggml-cpu-*.so "$src"/libggml-cuda.so "$dest"/
echo "fetch-llama-cuda: $(ls "$dest"/*.so | wc -l) libraries in $dest"
for lib in libcudart.so.13 libcublas.so.13; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || echo "fetch-llama-cuda: note: $lib is not in the loader cache; install CUDA 13 or set LD_LIBRARY_PATH" >&2
done
