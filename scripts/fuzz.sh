#!/usr/bin/env bash
# Builds one libFuzzer target of tests/fuzz (clang, ASan + UBSan, into build-fuzz/) and runs
# it for SECONDS over its seed corpus (docs/testing.md, "Fuzzing").
# Usage: scripts/fuzz.sh TARGET|all [SECONDS] [libFuzzer flags...]
#   TARGET: block, table, wal, manifest or dir; all runs each in turn for SECONDS.
# New inputs go to build-fuzz/corpus/TARGET (the repository's seeds are only read); a crash,
# leak, timeout or out-of-memory input is written to build-fuzz/artifacts/TARGET/ and the
# script exits non-zero. To keep one as a regression test, copy it into
# tests/fuzz/corpus/TARGET/ as crash-<what> once fixed (fuzz-TARGET replays it in every build).
set -euo pipefail
cd "$(dirname "$0")/.."
targets="block table wal manifest dir"
target=${1:-}
secs=${2:-60}
shift $(($# < 2 ? $# : 2))
if [ -z "$target" ] || { [ "$target" != all ] && [[ " $targets " != *" $target "* ]]; }; then
  echo "usage: $0 {${targets// /|}|all} [SECONDS] [libFuzzer flags...]" >&2
  exit 2
fi
[ "$target" = all ] || targets=$target
scripts/setup.sh --fuzz --no-build
build="build-fuzz"
if [ ! -f $build/build.ninja ]; then
  CC=clang meson setup $build -Dfuzz=true -Dtests=disabled --buildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
# Leaks are failures; UBSan stops at its first report, so libFuzzer keeps the input
# (tests/fuzz/ubsan.supp lists the reported findings a long run steps over).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan.supp}
rc=0
for t in $targets; do
  ninja -C $build "tests/fuzz/fuzz_$t" >/dev/null
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  echo "== fuzz_$t for ${secs}s" >&2
  # -timeout: seconds one input may take (a hang); -rss_limit_mb: memory of the process.
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" "$@" \
    "$build/corpus/$t" "tests/fuzz/corpus/$t" || rc=$?
done
exit $rc
