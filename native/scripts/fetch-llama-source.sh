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
cache="${GANTRY_NPM_CACHE:-$HOME/.cache/gantry/npm}"
tarball="$cache/${PKG}-${VERSION}.tgz"
mkdir -p "$cache" "$dest"
if [ ! -f "$tarball" ] || ! echo "$SHA256  $tarball" | sha256sum --check --status; then
  command -v npm >/dev/null || { echo "fetch-llama-source: npm is needed (apt-get install npm)" >&2; exit 1; }
  (cd "$cache" && npm pack --silent "${PKG}@${VERSION}" >/dev/null)
fi
echo "$SHA256  $tarball" | sha256sum --check --status || { echo "fetch-llama-source: $tarball fails its sha256" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work" package/llama/gitRelease.bundle
rm -rf "$dest/llama.cpp"
git clone -q "$work/package/llama/gitRelease.bundle" "$dest/llama.cpp" 2>/dev/null
