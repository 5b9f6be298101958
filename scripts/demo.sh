#!/usr/bin/env bash
# demo.sh — Lamina on real data: loads about a million file paths with kvctl (small memtables,
# so many flushes and compactions happen), then reopens the database and checks it from outside.
#
# Data: the file named by $LAMINA_DATA, by default data/paths-1m.txt.xz shipped in the repo
# (every 6th path of Debian 12's Contents indexes; source and licence in data/README.md). Set LAMINA_DEMO_KEEP=1 to keep the database and files afterwards.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)

fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
hexlines() { perl -ne 'chomp; print unpack("H*", $_), "\n"'; }

echo "== setup (scripts/setup.sh: install what is missing, build build/)"
if ! scripts/setup.sh; then
    echo "FAIL: setup"
    exit 1
fi
kv="$root/build/tools/kvctl"
[ -x "$kv" ] || { echo "FAIL: $kv was not built"; exit 1; }

work=$(mktemp -d /tmp/lamina-demo-XXXXXX)
if [ "${LAMINA_DEMO_KEEP:-0}" = 1 ]; then
    echo "keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi
db="$work/db"

data=${LAMINA_DATA:-$root/data/paths-1m.txt.xz}
echo "== data: $data"
src="$work/keys.txt"
case "$data" in
    *.xz) xz -dc "$data" >"$src" || { echo "FAIL: cannot read $data"; exit 1; } ;;
    *) cp "$data" "$src" || { echo "FAIL: cannot read $data"; exit 1; } ;;
esac

echo "== shuffle (fixed order: shuf --random-source=<(yes))"
shuffled="$work/shuffled.txt"
shuf --random-source=<(yes) "$src" >"$shuffled"
lines=$(wc -l <"$shuffled")
echo "$lines keys"

echo "== load --keys (value of each key = its line number in the shuffled file)"
start=$(date +%s%N)
if "$kv" --db "$db" --write_buffer_size=4194304 load --keys "$shuffled"; then
    pass "load in $(( ($(date +%s%N) - start) / 1000000 )) ms"
else
    fail "load exited $?"
fi

echo "== count after reopen"
n=$("$kv" --db "$db" count)
if [ "$n" = "$lines" ]; then pass "count = $n"; else fail "count = '$n', want $lines"; fi

echo "== get of a few keys returns their line numbers"
ok=1
for i in 1 2 1000 $((lines / 3)) $((lines / 2)) $((lines - 1)) "$lines"; do
    if [ "$i" -lt 1 ] || [ "$i" -gt "$lines" ]; then continue; fi
    key=$(sed -n "${i}p" "$shuffled")
    got=$("$kv" --db "$db" get -- "$key")
    if [ "$got" != "$i" ]; then
        ok=0
        echo "  get '$key' = '$got', want $i"
    fi
done
if [ $ok = 1 ]; then pass "get"; else fail "get"; fi

echo "== scan --prefix /usr/share/doc/ --keys-only equals grep | sort (compared as hex bytes)"
prefix=/usr/share/doc/
hprefix=$(printf '%s' "$prefix" | hexlines)
LC_ALL=C grep "^$prefix" "$shuffled" | LC_ALL=C sort | hexlines >"$work/want.hex"
"$kv" --db "$db" --hex scan --prefix "$hprefix" --keys-only >"$work/got.hex"
if cmp "$work/got.hex" "$work/want.hex"; then
    pass "scan --prefix: $(wc -l <"$work/got.hex") keys"
else
    fail "scan --prefix: $(wc -l <"$work/got.hex") keys, want $(wc -l <"$work/want.hex")"
fi

echo "== check (every block of every table verified, then every entry forward and backward)"
out=$("$kv" --db "$db" check)
rc=$?
echo "$out"
if [ $rc = 0 ] && [ "${out%% (*}" = "ok: $lines keys" ]; then
    pass "check"
else
    fail "check (exit $rc)"
fi

echo "== stats"
"$kv" --db "$db" stats >"$work/stats.txt"
rc=$?
cat "$work/stats.txt"
# the table's level rows "N runs tables bytes ..."; count the levels with tables > 0
levels=$(awk '/^[0-9]+ / { if ($3 > 0) n++ } END { print n + 0 }' "$work/stats.txt")
if [ $rc = 0 ] && [ "$levels" -ge 2 ]; then
    pass "stats: $levels levels hold data"
else
    fail "stats: $levels levels hold data (exit $rc), want at least 2"
fi

if [ $fails = 0 ]; then
    echo "demo: all steps passed"
    exit 0
fi
echo "demo: $fails step(s) failed"
exit 1
