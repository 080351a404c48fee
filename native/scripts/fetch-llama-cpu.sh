#!/usr/bin/env bash
# Fetches the prebuilt CPU libraries of the pinned llama.cpp release (npm @node-llama-cpp/linux-x64),
# checks the tarball against the pinned sha256, and copies the shared libraries Gantry loads into DEST.
# The tarball is cached under ~/.cache/gantry/npm so a rebuild does not fetch it again.
#
# usage: fetch-llama-cpu.sh DEST
set -euo pipefail

PKG="@node-llama-cpp/linux-x64"
VERSION="3.22.1"
SHA256="0d953e1503d5ab4608d8ed5b739132308c81ac05ffeb760d2a7f30e08a9f90e0"

dest=${1:?usage: fetch-llama-cpu.sh DEST}
mkdir -p "$dest"
source "$(dirname "$0")/npm-fetch.sh"
tarball=$(npm_fetch fetch-llama-cpu "$PKG" "$VERSION" "$SHA256")

# Already unpacked from this very tarball: nothing to do (builds running side by side never see a half-copied folder).
stamp="$dest/.source-sha256"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$SHA256" ] && [ -f "$dest/index.txt" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work" package/bins/linux-x64
src="$work/package/bins/linux-x64"
# The core libraries, and every CPU variant: ggml_backend_load_all_from_path picks the best one at run time.
for f in "$src"/libllama.v*.so "$src"/libggml.v*.so "$src"/libggml-base.so "$src"/libggml-cpu-*.so; do
  cp "$f" "$dest/.$(basename "$f").part" && mv -f "$dest/.$(basename "$f").part" "$dest/$(basename "$f")"
done
(cd "$src" && ls -1 libllama.v*.so libggml.v*.so libggml-base.so libggml-cpu-*.so) > "$dest/.index.part"
mv -f "$dest/.index.part" "$dest/index.txt"
echo "$SHA256" > "$stamp"
echo "fetch-llama-cpu: $(wc -l < "$dest/index.txt") libraries in $dest"
