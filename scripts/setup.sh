#!/usr/bin/env bash
# Installs what Lamina needs to build and test on Debian 12 (run as root; a no-op when all is
# there), then configures and builds build/ with meson.
#   --fuzz      also clang and its libFuzzer + sanitizer runtimes (scripts/fuzz.sh)
#   --no-build  install only
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs="build-essential xz-utils meson ninja-build pkg-config libzstd-dev libxxhash-dev liburing-dev
      libjemalloc-dev libcriterion-dev libjansson-dev libedit-dev python3 gnuplot-nox"
build=1
for arg in "$@"; do
  case $arg in
    --fuzz) pkgs="$pkgs clang-14 libclang-rt-14-dev" ;;
    --no-build) build=0 ;;
    *) echo "usage: $0 [--fuzz] [--no-build]" >&2; exit 2 ;;
  esac
done
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >/dev/null
fi
[ "$build" -eq 1 ] || exit 0
# Warnings are errors here (STYLE.md), so CI refuses code that warns.
[ -f build/build.ninja ] || meson setup build --buildtype=release -Dwerror=true >/dev/null
ninja -C build >/dev/null
