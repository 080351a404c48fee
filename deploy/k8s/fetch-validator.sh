#!/usr/bin/env bash
# Installs the Kubernetes schema validator the manifests' test uses into DEST: npm kubernetes-models (validators
# compiled from Kubernetes' OpenAPI schemas), pinned, with validate.mjs beside it. Offline or without npm it says
# so and exits 0: the test then skips with that reason.
#
# usage: fetch-validator.sh DEST
set -euo pipefail
VERSION=5.1.0
dest=${1:?usage: fetch-validator.sh DEST}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dest"
cp "$here/validate.mjs" "$dest/validate.mjs"
installed="$dest/node_modules/kubernetes-models/package.json"
if [ -f "$installed" ] && grep -q "\"version\": \"$VERSION\"" "$installed"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-validator: npm is missing; the Kubernetes manifest test will be skipped" >&2
  exit 0
fi
if ! (cd "$dest" && npm install --silent --no-save --no-audit --no-fund --no-package-lock \
        --engine-strict=false "kubernetes-models@$VERSION" >/dev/null 2>"$dest/npm.log"); then
  echo "fetch-validator: npm install kubernetes-models@$VERSION failed (see $dest/npm.log); the manifest test will be skipped" >&2
fi
exit 0
