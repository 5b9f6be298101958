#!/usr/bin/env bash
# Runs Lamina's experiments binary, RocksDB's db_bench and LevelDB (leveldb_bench.c beside this file)
# on the same workloads, in turn, in one run, and prints each workload's ops/sec (median of the
# rounds) and the ratio of Lamina to the better of the two peers.
#
# From the repository root, after a build: bench/compare.sh build/tools/experiments 1000000 1
# (bench/README.md: what it needs and how a fresh Debian machine gets it).
# usage: compare.sh PATH/TO/experiments [NUM] [ROUNDS] [BENCHMARKS]
#   NUM         keys (default 1000000)          ROUNDS  rounds (default 3)
#   BENCHMARKS  default fillseq,fillrandom,overwrite,readrandom,readseq,seekrandom
# Environment: DBDIR (default /tmp/compare-db), EXTRA (flags given to all), LAMINA_EXTRA.
# All three take db_bench's flags and print db_bench's result lines ("name : X micros/op Y ops/sec ...").
# fill* benchmarks start from an empty database; the others use what the fills before them left.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exp=${1:?usage: compare.sh PATH/TO/experiments [NUM] [ROUNDS] [BENCHMARKS]}
num=${2:-1000000}
rounds=${3:-3}
benches=${4:-fillseq,fillrandom,overwrite,readrandom,readseq,seekrandom}
dbdir=${DBDIR:-/tmp/compare-db}
[ -x "$exp" ] || { echo "compare.sh: $exp is not an executable (build first: scripts/setup.sh)" >&2; exit 2; }
if ! command -v db_bench >/dev/null || [ ! -e /usr/include/leveldb/c.h ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "compare.sh: needs RocksDB's db_bench and LevelDB: apt-get install rocksdb-tools libleveldb-dev (as root)" >&2
    exit 2
  fi
  echo "installing rocksdb-tools and libleveldb-dev for the peers" >&2
  apt-get update -qq
  apt-get install -y -qq rocksdb-tools libleveldb-dev >/dev/null
fi
out=$(mktemp -d)
trap 'rm -rf "$out" "$dbdir"' EXIT
gcc -O2 "$here/leveldb_bench.c" -lleveldb -o "$out/leveldb_bench"
common="--num=$num --key_size=16 --value_size=100 --compression_type=none --bloom_bits=10 \
--cache_size=8388608 --write_buffer_size=67108864 --threads=1 --seek_nexts=10 ${EXTRA:-}"
run() { # who binary extra-flags
  rm -rf "$dbdir"
  "$2" --benchmarks="$benches" --db="$dbdir" $common $3 2>&1 |
    awk -v who="$1" '/micros\/op/ { for (i = 1; i <= NF; i++) if ($i == "ops/sec") print who, $1, $(i-1) }'
}
for r in $(seq "$rounds"); do
  run lamina "$exp" "${LAMINA_EXTRA:-}" >>"$out/all"
  run rocksdb db_bench "" >>"$out/all"
  run leveldb "$out/leveldb_bench" "" >>"$out/all"
done
med() { awk -v w="$1" -v b="$2" '$1==w && $2==b {print $3}' "$out/all" | sort -n |
        awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
echo "keys=$num rounds=$rounds (ops/sec, median of rounds; ratio = lamina / best peer)"
printf '%-14s %12s %12s %12s %8s\n' benchmark lamina rocksdb leveldb ratio
IFS=, read -ra list <<<"$benches"
for b in "${list[@]}"; do
  l=$(med lamina "$b"); r=$(med rocksdb "$b"); d=$(med leveldb "$b")
  printf '%-14s %12s %12s %12s %8s\n' "$b" "$l" "$r" "$d" \
    "$(awk -v l="$l" -v r="$r" -v d="$d" 'BEGIN { p = r > d ? r : d; if (p > 0) printf "%.2f", l / p; else print "-" }')"
done
