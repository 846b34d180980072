#!/usr/bin/env bash
# Re-vendor the dashboard's browser libraries from the npm registry: `refresh.sh` installs exactly what
# package-lock.json pins (npm ci), `refresh.sh --update` resolves package.json again and rewrites the lock.
# It copies the ES modules the dashboard imports (and each package's licence) here, then records their
# sha256 sums in SHA256SUMS, which tests/browser/test_vendor.py checks without any network.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$work/"
npm_options=(--omit=peer --ignore-scripts --no-audit --no-fund)
if [ "${1:-}" = "--update" ]; then
  (cd "$work" && npm install "${npm_options[@]}")
  cp "$work/package-lock.json" "$here/"
else
  cp "$here/package-lock.json" "$work/"
  (cd "$work" && npm ci "${npm_options[@]}")
fi
modules="$work/node_modules"
files=(
  preact/LICENSE preact/dist/preact.module.js preact/hooks/dist/hooks.module.js
  htm/LICENSE htm/dist/htm.module.js htm/preact/index.module.js
  graphql-ws/LICENSE.md graphql-ws/dist/client.js
  uplot/LICENSE uplot/dist/uPlot.esm.js uplot/dist/uPlot.min.css
)
# graphql-ws's client imports a chunk whose name carries a content hash: take the one(s) it names.
for chunk in $(grep -o "'\./common-[A-Za-z0-9_-]*\.js'" "$modules/graphql-ws/dist/client.js" | tr -d "'" | sort -u); do
  files+=("graphql-ws/dist/${chunk#./}")
done
rm -rf "$here/preact" "$here/htm" "$here/graphql-ws" "$here/uplot"
for file in "${files[@]}"; do
  mkdir -p "$here/$(dirname "$file")"
  cp "$modules/$file" "$here/$file"
done
(cd "$here" && sha256sum "${files[@]}" > SHA256SUMS)
echo "vendored ${#files[@]} files into $here (sums in SHA256SUMS)"
