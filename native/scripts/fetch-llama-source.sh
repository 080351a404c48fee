#!/usr/bin/env bash
# Puts the pinned llama.cpp source (release v0.5.0, shipped as a git bundle inside npm node-llama-cpp@3.22.1,
# sha256-checked) at DEST/llama.cpp. The one place the source pin lives; build-llama-cuda.sh and
# bench/gpu/stage.sh use it.
#
# usage: fetch-llama-source.sh DEST
set -euo pipefail
PKG=node-llama-cpp
VERSION=3.22.1
SHA256=a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f
dest=${1:?usage: fetch-llama-source.sh DEST}
mkdir -p "$dest"
source "$(dirname "$0")/npm-fetch.sh"
tarball=$(npm_fetch fetch-llama-source "$PKG" "$VERSION" "$SHA256")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work" package/llama/gitRelease.bundle
rm -rf "$dest/llama.cpp"
git clone -q "$work/package/llama/gitRelease.bundle" "$dest/llama.cpp" 2>/dev/null
