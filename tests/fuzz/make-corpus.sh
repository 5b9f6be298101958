#!/usr/bin/env bash
# Regenerates the seed corpora of tests/fuzz/corpus/<target>/ from real databases that kvctl
# builds out of Debian file paths (../shared/data/paths-1m.txt, as data/paths-1m.txt.xz).
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
# Debian file paths only (long shared prefixes; licence in data/README.md, which ships them).
shuf --random-source=<(yes) -n 280 "$data/paths-1m.txt" >"$tmp/paths"

# db1: uncompressed, 256-byte blocks (so a two-level index), Bloom filters; 120 paths flushed
# to a table by the reopen that replays their WAL, a few deletes (each reopen flushes the WAL
# before: small tables), then 60 paths left in the WAL (kvctl load writes batches).
db1=$tmp/db1
sed -n 1,120p "$tmp/paths" >"$tmp/p1"
sed -n 121,180p "$tmp/paths" >"$tmp/p2"
sed -n 181,280p "$tmp/paths" >"$tmp/p3"
"$kvctl" --db="$db1" --create_if_missing --compression_type=none --block_size=256 \
  --write_buffer_size=65536 load --keys "$tmp/p1" >/dev/null
for k in $(head -3 "$tmp/p1"); do "$kvctl" --db="$db1" --block_size=256 del "$k"; done
"$kvctl" --db="$db1" --block_size=256 load --keys "$tmp/p2" >/dev/null
# db2: zstd blocks of 1 KiB, flushed the same way, then a put and a delete in the WAL.
db2=$tmp/db2
"$kvctl" --db="$db2" --create_if_missing --compression_type=zstd --block_size=1024 \
  --min_level_to_compress=0 load --keys "$tmp/p3" >/dev/null
"$kvctl" --db="$db2" put /usr/share/doc/lamina 1
"$kvctl" --db="$db2" del "$(head -1 "$tmp/p3")"

# db3: the FST index (table format 2), zstd blocks of 512 bytes, so the FST block and its
# packed block table are fuzzed too.
db3=$tmp/db3
"$kvctl" --db="$db3" --create_if_missing --index_type=fst --compression_type=zstd --block_size=512 \
  --min_level_to_compress=0 load --keys "$tmp/p2" >/dev/null
"$kvctl" --db="$db3" --index_type=fst --compression_type=zstd --block_size=512 \
  --min_level_to_compress=0 flush >/dev/null

with_mode() { { printf "\\x$1"; cat "$2"; } >"$3"; }
for db in db1 db2 db3; do
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
    # writer mode: intact, cut at byte 100, a bit flipped at byte 60, zeroed from page 0
    "$seed" records "$f" 010000000000 "$corpus/wal/$n-records"
    "$seed" records "$f" 010164000000 "$corpus/wal/$n-records-cut"
    "$seed" records "$f" 01023c000040 "$corpus/wal/$n-records-flip"
    "$seed" records "$f" 010300000000 "$corpus/wal/$n-records-zeroed"
  done
  m=$(head -1 "$d/CURRENT")
  with_mode 00 "$d/$m" "$corpus/manifest/$db-raw"
  with_mode 02 "$d/$m" "$corpus/manifest/$db-resealed"
  with_mode 04 "$d/$m" "$corpus/manifest/$db-missing"
  "$seed" records "$d/$m" 0100000000 "$corpus/manifest/$db-records"
  "$seed" records "$d/$m" 0964000020 "$corpus/manifest/$db-records-flip"
  "$seed" archive "$d" 0 "$corpus/dir/$db"
  "$seed" archive "$d" 7 "$corpus/dir/$db-resealed-verify"
  "$seed" archive "$d" 17 "$corpus/dir/$db-point-in-time"
  "$seed" archive "$d" 25 "$corpus/dir/$db-skip-any"
done
# fuzz_wal's writer mode with records across 32 KiB log blocks (FIRST/MIDDLE/LAST fragments).
python3 -c 'import sys
recs = [b"\x01" * 40000, b"x" * 30000, b""]
sys.stdout.buffer.write(b"\x01\x02\x10\x80\x00\x20" + b"".join(len(r).to_bytes(2, "little") + r for r in recs))' \
  >"$corpus/wal/records-across-blocks-flip"
# fuzz_block's round-trip mode: (key, value) pieces, restart intervals 1 and 16.
for ri in 01 f1; do
  { printf "\\x$ri"; head -60 "$tmp/p1" | while IFS= read -r k; do
      printf "\\x$(printf %02x ${#k})\\x00%s\\x01\\x00v" "$k"; done; } >"$corpus/block/roundtrip-$ri"
done
du -sh "$corpus"; for t in block table wal manifest dir; do
  echo "$t: $(ls "$corpus/$t" | wc -l) files, $(du -sk "$corpus/$t" | cut -f1) KiB"; done
