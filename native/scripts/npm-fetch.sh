# Sourced by the fetch-llama-*.sh scripts: fetches one pinned npm tarball into the cache and checks its sha256.
#
#   npm_fetch NAME PKG VERSION SHA256    prints the cached tarball's path; NAME prefixes the error messages
#
# The cache is $GANTRY_NPM_CACHE (default ~/.cache/gantry/npm). A tarball is packed in a private folder and moved in
# whole, so builds running side by side never see half of one; a cached tarball that fails its checksum is fetched
# again, and one that still fails is removed.
npm_fetch() {
  local name=$1 pkg=$2 version=$3 sha=$4
  local cache="${GANTRY_NPM_CACHE:-$HOME/.cache/gantry/npm}"
  local file
  file="$(echo "${pkg#@}" | tr '/' '-')-${version}.tgz"
  mkdir -p "$cache"
  if [ ! -f "$cache/$file" ] || ! echo "$sha  $cache/$file" | sha256sum --check --status; then
    command -v npm >/dev/null || { echo "$name: npm is needed to fetch ${pkg}@${version} (apt-get install npm)" >&2; return 1; }
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "${pkg}@${version}" >/dev/null) || { rm -rf "$tmp"; echo "$name: npm pack ${pkg}@${version} failed" >&2; return 1; }
    mv -f "$tmp/$file" "$cache/$file"
    rm -rf "$tmp"
  fi
  if ! echo "$sha  $cache/$file" | sha256sum --check --status; then
    echo "$name: $cache/$file does not match the pinned sha256 $sha" >&2
    rm -f "$cache/$file"
    return 1
  fi
  echo "$cache/$file"
}
