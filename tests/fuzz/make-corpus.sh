#!/usr/bin/env bash
# Regenerates the seed corpora of tests/fuzz/corpus/<target>/ from real databases that kvctl
# builds out of the key sets in ../shared/data (licences in tests/fuzz/corpus/README.md).
# Usage: tests/fuzz/make-corpus.sh [BUILD_DIR]   (a normal build; default build/)
# Crash inputs kept as regression cases (named crash-*) are left alone; seeds are replaced.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
build=${1:-build}
data=${LAMINA_DATA:-../shared/data}
kvctl=$build/tools/kvctl
seed=$build/tests/fuzz/fuzz_seed
ninja -C "$build" tools/kvctl tests/fuzz/fuzz_seed >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
corpus=tests/fuzz/corpus
for t in block table wal manifest dir; do
  mkdir -p "$corpus/$t"
  find "$corpus/$t" -type f ! -name 'crash-*' -delete
done
pick() { shuf --random-source=<(yes) -n "$2" "$data/$1"; }

# db1: uncompressed, 256-byte blocks (so a two-level index), a Bloom filter; words flushed to
# a table by the reopen that replays their WAL, a few deletes, then npm names
# left in the WAL (kvctl load writes batches).
db1=$tmp/db1
pick words.txt 400 >"$tmp/words"
pick npm-names-1m.txt 120 >"$tmp/npm"
"$kvctl" --db="$db1" --create_if_missing --compression_type=none --block_size=256 \
  --write_buffer_size=65536 load --keys "$tmp/words" >/dev/null
for k in $(head -3 "$tmp/words"); do "$kvctl" --db="$db1" --block_size=256 del "$k"; done
"$kvctl" --db="$db1" --block_size=256 load --keys "$tmp/npm" >/dev/null
# db2: zstd blocks of 1 KiB, Debian paths (long shared prefixes), flushed the same way.
db2=$tmp/db2
pick paths-1m.txt 150 >"$tmp/paths"
"$kvctl" --db="$db2" --create_if_missing --compression_type=zstd --block_size=1024 \
  --min_level_to_compress=0 load --keys "$tmp/paths" >/dev/null
"$kvctl" --db="$db2" put /usr/share/doc/lamina 1
"$kvctl" --db="$db2" del "$(head -1 "$tmp/paths")"

with_mode() { { printf "\\x$1"; cat "$2"; } >"$3"; }
for db in db1 db2; do
  d=$tmp/$db
  for f in "$d"/*.sst; do
    [ -s "$f" ] || continue
    n=$db-$(basename "$f" .sst)
    with_mode 00 "$f" "$corpus/table/$n-raw"
    with_mode 03 "$f" "$corpus/table/$n-resealed-verify"
    "$seed" blocks "$f" "$corpus/block" "$n"
  done
  for f in "$d"/*.log; do
    [ -s "$f" ] || continue
    n=$db-$(basename "$f" .log)
    with_mode 00 "$f" "$corpus/wal/$n-raw"
    with_mode 02 "$f" "$corpus/wal/$n-resealed"
    "$seed" records "$f" 1 "$corpus/wal/$n-records"
  done
  m=$(head -1 "$d/CURRENT")
  with_mode 00 "$d/$m" "$corpus/manifest/$db-raw"
  with_mode 02 "$d/$m" "$corpus/manifest/$db-resealed"
  with_mode 04 "$d/$m" "$corpus/manifest/$db-missing"
  "$seed" records "$d/$m" 1 "$corpus/manifest/$db-records"
  "$seed" archive "$d" 0 "$corpus/dir/$db"
  "$seed" archive "$d" 7 "$corpus/dir/$db-resealed-verify"
done
# fuzz_block's round-trip mode: (key, value) pieces, restart intervals 1 and 16.
for ri in 01 f1; do
  { printf "\\x$ri"; head -60 "$tmp/words" | while IFS= read -r k; do
      printf "\\x$(printf %02x ${#k})\\x00%s\\x01\\x00v" "$k"; done; } >"$corpus/block/roundtrip-$ri"
done
du -sh "$corpus"; for t in block table wal manifest dir; do
  echo "$t: $(ls "$corpus/$t" | wc -l) files, $(du -sk "$corpus/$t" | cut -f1) KiB"; done
