#!/usr/bin/env bash
# stress.sh — the crash driver of tools/stress (after RocksDB's db_crashtest.py): cycles of
# "run the stress tool, kill it (SIGKILL at a random moment or at a named crash point) or cut
# its power (util/fault.h), then check the database with --verify_only", over fresh databases
# that rotate across compaction policies and small write buffers. Stops at the first failure,
# keeping the directory and printing the seed and the commands to replay.
#
# Usage: scripts/stress.sh [--kills=N] [--power_losses=N] [--seed=N] [--dir=DIR]
#            [--stress=PATH] [--keys=N] [--threads=N] [--min_ms=MS] [--max_ms=MS]
#            [--round=N] [--policies=a,b,c] [--failures_dir=DIR] [--quiet] [-- STRESS FLAGS...]
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
stress="$root/build/tools/stress"
kills=100
power_losses=50
seed=$(( $(date +%s) % 1000000007 ))
dir=""
keys=2000
threads=4
min_ms=100
max_ms=500
round=10
policies="leveled,tiered,dostoevsky"
failures_dir=""
quiet=0
extra=()
# A crash point that never fires in a cycle leaves a normal kill at the chosen moment.
crash_points=(flush:table-synced flush:before-edit compaction:outputs-synced
    compaction:before-edit manifest:edit-synced manifest:current-renamed wal:switched)

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

# --name=value sets the variable of the same name, for the names listed here
settable=" kills power_losses seed dir stress keys threads min_ms max_ms round policies failures_dir "
while [ $# -gt 0 ]; do
    name=${1%%=*}
    name=${name#--}
    case "$1" in
    --quiet) quiet=1 ;;
    --help | -h) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    --*=*)
        if [[ "$settable" != *" $name "* ]]; then
            echo "stress.sh: unknown argument '$1'" >&2; usage >&2; exit 2
        fi
        printf -v "$name" '%s' "${1#*=}" ;;
    *) echo "stress.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
for n in "$kills" "$power_losses" "$seed" "$keys" "$threads" "$min_ms" "$max_ms" "$round"; do
    case "$n" in '' | *[!0-9]*) echo "stress.sh: '$n' is not a number" >&2; exit 2 ;; esac
done
if [ "$max_ms" -lt "$min_ms" ] || [ "$round" -lt 1 ]; then
    echo "stress.sh: need min_ms <= max_ms and round >= 1" >&2
    exit 2
fi
if [ ! -x "$stress" ]; then
    echo "stress.sh: no stress tool at $stress (build it, or give --stress=PATH)" >&2
    exit 2
fi
IFS=, read -r -a policy_list <<<"$policies"
own_dir=0
if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/lamina-stress.XXXXXX") || exit 2
    own_dir=1
fi
mkdir -p "$dir" || exit 2
db="$dir/db"

# Every random choice comes from bash's generator seeded once, so a seed replays the cycle
# plan (kill moments still depend on the machine's speed).
RANDOM=$((seed % 32768))
rnd() { echo $(((RANDOM << 15 | RANDOM) % $1)); }

say() { [ "$quiet" -eq 1 ] || echo "$@"; }

cycles=0 killed=0 fired=0 fired_total=0 cuts=0 early=0 failures=0 rounds=0 round_left=0 pid="" timer=""
# a driver stopped early takes its running tool with it
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; [ -n "$timer" ] && kill $timer 2>/dev/null' EXIT
trap 'exit 130' INT TERM
start=$(date +%s)
fail() {
    failures=1
    echo "stress.sh: FAILED in cycle $cycles ($1), driver seed $seed" >&2
    echo "stress.sh: run:    ${run_cmd[*]}" >&2
    echo "stress.sh: verify: ${verify_cmd[*]}" >&2
    echo "stress.sh: database kept in $dir" >&2
    if [ -n "$failures_dir" ]; then
        local keep="$failures_dir/stress-$seed-$cycles-$(date +%s)"
        mkdir -p "$failures_dir" && cp -a "$dir" "$keep" && echo "stress.sh: copied to $keep" >&2
    fi
}

summary() {
    echo "stress.sh: cycles $cycles, kills $killed (crash points fired $fired_total), power losses $cuts (in open $early)," \
        "failures $failures, rounds $rounds, $(($(date +%s) - start)) s, seed $seed"
}

# Runs the tool (flags in $@) and SIGKILLs it after $ms ms unless it ends first; sets rc, and
# fired=1 when it died of SIGKILL before that (a crash point).
kill_run() {
    run_cmd=(env LAMINA_CRASH_POINT="$point" "$stress" "${common[@]}" --threads="$threads"
        --keys="$keys" --seed="$cycle_seed" --flush_one_in=300 --compact_one_in=2000 "$@"
        "${extra[@]}")
    "${run_cmd[@]}" >"$dir/run.out" 2>&1 &
    pid=$!
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))" &
    timer=$!
    # whichever ends first: the timer (kill the tool now) or the tool (a crash point fired, or
    # it finished its work)
    wait -n "$pid" "$timer" 2>/dev/null
    fired=0
    if kill -0 "$timer" 2>/dev/null; then
        kill "$timer" 2>/dev/null
        wait "$pid" 2>/dev/null
        rc=$?
        [ "$rc" -eq 137 ] && fired=1
    else
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rc=$?
    fi
    wait "$timer" 2>/dev/null
    pid="" timer=""
    [ "$rc" -eq 137 ] || [ "$rc" -eq 0 ]
}

kills_left=$kills pl_left=$power_losses
while [ $((kills_left + pl_left)) -gt 0 ]; do
    if [ "$round_left" -eq 0 ]; then
        # a fresh database per round; the policy rotates, options vary per round
        rm -rf "$db" "$db.state"
        policy=${policy_list[$((rounds % ${#policy_list[@]}))]}
        rounds=$((rounds + 1))
        round_left=$round
        opts=(--compaction_policy="$policy"
            --max_background_jobs=$((1 + $(rnd 3)))
            --level0_file_num_compaction_trigger=$((2 + $(rnd 3)))
            --size_ratio=$((3 + $(rnd 4)))
            --target_file_size_base=$((64 + $(rnd 192)))k
            --block_size=$((1 + $(rnd 4)))k
            --bloom_bits=$((10 * $(rnd 2)))
            --compression_type=$([ "$(rnd 2)" -eq 0 ] && echo none || echo zstd)
            --min_level_to_compress=$(rnd 3)
            --max_open_files=$([ "$(rnd 2)" -eq 0 ] && echo 20 || echo -1)
            --cache_size=$([ "$(rnd 2)" -eq 0 ] && echo 0 || echo 1m)
            --max_manifest_file_size=64k)
        say "stress.sh: round $rounds: $policy ${opts[*]:1}"
    fi
    round_left=$((round_left - 1))
    cycles=$((cycles + 1))
    cycle_seed=$(rnd 1000000000)
    ms=$((min_ms + $(rnd $((max_ms - min_ms + 1)))))
    # small write buffers, new each cycle, so flushes and compactions never stop
    wb=$((64 + $(rnd 961)))k
    common=(--db="$db" "${opts[@]}" --write_buffer_size="$wb")
    verify_cmd=("$stress" "${common[@]}" --verify_only --seed="$cycle_seed")
    point=""
    if [ "$pl_left" -gt 0 ] && [ "$(rnd $((kills_left + pl_left)))" -lt "$pl_left" ]; then
        pl_left=$((pl_left - 1))
        what=""
        if [ "$(rnd 4)" -eq 0 ]; then
            # one cut in four falls in recovery: a kill first leaves a WAL to replay, then
            # the power goes within the next open's first 15 ms
            if ! kill_run; then
                cat "$dir/run.out" >&2
                fail "stress run exited $rc"
                break
            fi
            what="kill at $ms ms, then "
            ms=$((1 + $(rnd 15)))
        fi
        run_cmd=("$stress" "${common[@]}" --threads="$threads" --keys="$keys" --seed="$cycle_seed"
            --flush_one_in=300 --compact_one_in=2000 --power_loss_after_ms="$ms" "${extra[@]}")
        timeout -s KILL 120 "${run_cmd[@]}" >"$dir/run.out" 2>&1
        rc=$?
        if [ "$rc" -ne 0 ]; then
            cat "$dir/run.out" >&2
            fail "power-loss run exited $rc"
            break
        fi
        cuts=$((cuts + 1))
        what="${what}power cut at $ms ms"
        if grep -q "power cut after 0 ops" "$dir/run.out"; then
            early=$((early + 1))
            what="$what (in open)"
        fi
    else
        kills_left=$((kills_left - 1))
        if [ "$(rnd 2)" -eq 0 ]; then
            point="${crash_points[$(rnd ${#crash_points[@]})]}:$((1 + $(rnd 3)))"
        fi
        if ! kill_run; then
            cat "$dir/run.out" >&2
            fail "stress run exited $rc"
            break
        fi
        fired_total=$((fired_total + fired))
        killed=$((killed + 1))
        what="kill at $ms ms${point:+ (crash point $point$([ "$fired" -eq 1 ] && echo ", fired"))}"
    fi
    if ! timeout -s KILL 120 "${verify_cmd[@]}" >"$dir/verify.out" 2>&1; then
        cat "$dir/verify.out" >&2
        fail "verify after $what"
        break
    fi
    say "stress.sh: cycle $cycles ok: $what, write buffer $wb, $(grep -ho '[0-9]* present' "$dir/verify.out")"
done
summary
if [ "$failures" -eq 0 ] && [ "$own_dir" -eq 1 ]; then rm -rf "$dir"; fi
[ "$failures" -eq 0 ]
