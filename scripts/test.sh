#!/usr/bin/env bash
# The test command: install what is missing, build, run every Criterion suite, and end with
# one line "N passed, N failed" summing the suites' test cases.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
meson test -C build --print-errorlogs --num-processes 2 "$@"
rc=$?
log=build/meson-logs/testlog.txt
passed=$(grep -ho 'Synthesis: Tested: [0-9]* | Passing: [0-9]*' "$log" | awk '{s += $NF} END {print s + 0}')
tested=$(grep -ho 'Synthesis: Tested: [0-9]*' "$log" | awk '{s += $NF} END {print s + 0}')
failed=$((tested - passed))
# a suite that died before Criterion's summary counts as one failure
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
