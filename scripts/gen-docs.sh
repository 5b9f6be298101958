#!/usr/bin/env bash
# Regenerates the option list in docs/tuning.md from the options table (after a build).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cc -std=c11 -Iinclude scripts/options-doc.c -Lbuild -llamina -Wl,-rpath,"$PWD/build" -o "$tmp/od"
"$tmp/od" >"$tmp/table.md"
awk -v t="$tmp/table.md" '
  /<!-- options:begin -->/ { print; while ((getline l < t) > 0) print l; skip = 1; next }
  /<!-- options:end -->/ { skip = 0 }
  !skip' docs/tuning.md >"$tmp/tuning.md"
mv "$tmp/tuning.md" docs/tuning.md
