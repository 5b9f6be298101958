#!/usr/bin/env bash
# The test command (CI runs it through .ci/run): installs what is missing and runs the suites
# in three builds (docs/testing.md, "Sanitizers"):
#   build/       release, -Werror: every suite;
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer (leaks included): every suite;
#   build-tsan/  ThreadSanitizer: the concurrency suites (db, db-subcompactions, db-avl, memtable, sst, fault: under TSan
#                they are the tsan_* programs, since Criterion cannot start under TSan; tools: the experiments binary).
# Usage: scripts/test.sh [--no-sanitizers] [SUITE...]
#   SUITE...          only these suites (in each build that has them);
#   --no-sanitizers   the release build only.
# Ends with one line "N passed, N failed" summing all builds: a Criterion suite counts its test
# cases, any other test (corpus replays, tsan_* programs, exported-symbols) counts as one.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
sanitizers=1
suites=()
for arg in "$@"; do
  case $arg in
    --no-sanitizers) sanitizers=0 ;;
    *) suites+=("$arg") ;;
  esac
done
scripts/setup.sh || exit 1

# Sanitizer reports are failures: UBSan stops at its first report, ASan looks for leaks at exit,
# TSan stops at its first race.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp}

total_passed=0
total_failed=0
rc=0

# Sums the results of the last `meson test` in build dir $1: prints "passed failed".
count() {
  python3 - "$1/meson-logs/testlog.json" <<'EOF'
import json, re, sys
passed = failed = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = (t.get("stdout") or "") + (t.get("stderr") or "")
    m = re.findall(r"Synthesis: Tested: (\d+) \| Passing: (\d+)", out)
    ok = t["result"] == "OK"
    if t["result"] == "SKIP":
        continue
    if m:
        tested = sum(int(a) for a, _ in m)
        good = sum(int(b) for _, b in m)
        passed += good
        # a suite that died after (or before) its summary still counts as a failure
        failed += max(tested - good, 0 if ok else 1)
    elif ok:
        passed += 1
    else:
        failed += 1
print(passed, failed)
EOF
}

# run LABEL BUILD_DIR SUITE...: meson test in BUILD_DIR, then its line and the running total.
run() {
  local label=$1 dir=$2
  shift 2
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@"
  local r=$? counts
  counts=$(count "$dir") || counts="0 1"
  read -r p f <<<"$counts"
  if [ "$r" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "== $label ($dir/): $p passed, $f failed"
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  [ "$r" -eq 0 ] || rc=1
}

# setup_build DIR OPTIONS...: configures DIR once, then builds it.
setup_build() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" --buildtype=debugoptimized -Dwerror=true -Db_lundef=false "$@" >/dev/null ||
      return 1
  fi
  ninja -C "$dir" >/dev/null
}

run release build "${suites[@]}"
if [ "$sanitizers" -eq 1 ]; then
  if setup_build build-asan -Db_sanitize=address,undefined; then
    run asan+ubsan build-asan "${suites[@]}"
  else
    echo "asan+ubsan: build failed"; total_failed=$((total_failed + 1)); rc=1
  fi
  tsan_suites=(db db-subcompactions db-avl memtable sst fault tools)
  if [ "${#suites[@]}" -gt 0 ]; then
    tsan_suites=()
    for s in "${suites[@]}"; do
      case $s in db | db-subcompactions | db-avl | memtable | sst | fault | tools) tsan_suites+=("$s") ;; esac
    done
  fi
  if [ "${#tsan_suites[@]}" -gt 0 ]; then
    if setup_build build-tsan -Db_sanitize=thread; then
      run tsan build-tsan "${tsan_suites[@]}"
    else
      echo "tsan: build failed"; total_failed=$((total_failed + 1)); rc=1
    fi
  fi
fi
echo "$total_passed passed, $total_failed failed"
[ "$rc" -eq 0 ] && [ "$total_failed" -eq 0 ]
