/* table.h — sorted string tables (SST): the builder that writes one from sorted internal
 * keys, the reader that serves gets and iterators from it, and the block cache they share.
 * Layout (docs/format.md): data blocks | filter block | index (B-tree or FST, sst/index.h) |
 * properties | footer.
 * Data blocks are prefix-compressed with restart points, each stored with a compression byte
 * and a checksum seeded with the file number and block offset. */
#ifndef SST_TABLE_H
#define SST_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/coding.h"
#include "util/file.h"
#include "util/iter.h"

/* ---- Block cache ---------------------------------------------------------------------- */
/* A sharded cache of uncompressed blocks keyed by (file number, block offset), bounded in
 * bytes, evicting by CLOCK (second chance, an approximation of LRU: a hit only sets a bit
 * instead of relinking a list). It holds data blocks, filter blocks and index blocks (these
 * decoded, charged for their contents plus the decoded entries, about 32 bytes each) alike.
 * A block larger than a shard is read and used but never kept. File
 * numbers are never reused, so the blocks of a deleted table are not erased: they age out.
 * Thread-safe. */
typedef struct block_cache block_cache;

/* A cache of capacity_bytes in up to shards shards (<= 0: 16), fewer when a shard would get
 * less than 4 MiB, so that a shard holds a large filter block and still has room for others.
 * capacity 0 gives a cache that keeps nothing. NULL on allocation failure. */
block_cache *block_cache_create(size_t capacity_bytes, int shards);
void block_cache_destroy(block_cache *c);
/* Figures: hits, misses, bytes held. */
void block_cache_stats(const block_cache *c, uint64_t *hits, uint64_t *misses, uint64_t *bytes);
/* Blocks inserted, and blocks evicted to make room (a block replaced under its own key or
 * dropped with the cache is not an eviction). Any pointer may be NULL. */
void block_cache_counts(const block_cache *c, uint64_t *inserts, uint64_t *evictions);

/* ---- Builder -------------------------------------------------------------------------- */
struct table_options {
    size_t block_size;    /* target uncompressed bytes per data block */
    int restart_interval; /* entries between restart points */
    int compression;      /* LAMINA_COMPRESSION_* */
    int zstd_level;
    int bloom_bits;     /* 0: no filter */
    int index_type;     /* LAMINA_INDEX_* */
    int format_version; /* TABLE_FORMAT_MIN_VERSION..TABLE_FORMAT_VERSION (sst/format.h); 0: the
                         * newest. An FST index needs format 2 (table_builder_create fails). */
};

/* What a finished table holds; keys are internal keys, owned by the struct
 * (table_meta_free releases them). */
struct table_meta {
    uint64_t file_number;
    uint64_t file_size;
    uint64_t entries, deletions;
    uint8_t *smallest;
    size_t smallest_len;
    uint8_t *largest;
    size_t largest_len;
    uint64_t smallest_seq, largest_seq;
    uint64_t range_deletions; /* range tombstones in its range-deletion block */
};
void table_meta_free(struct table_meta *m);

typedef struct table_builder table_builder;

/* Starts a table in f (borrowed; the caller syncs and closes it after finish). NULL on
 * allocation failure, or (error message set, LAMINA_EINVAL) for an unknown index kind, format
 * version, or an FST index in format 1. */
table_builder *table_builder_create(wfile *f, uint64_t file_number, const struct table_options *o);
/* Adds an entry; internal keys must come in strictly increasing internal-key order.
 * Returns 0 or a LAMINA_E* code (write error). */
int table_builder_add(table_builder *b, const uint8_t *ikey, size_t ilen, const void *value,
                      size_t vlen);
/* Adds the range tombstone [begin, end) at seq (user keys, begin < end) to the table's
 * range-deletion block; tombstones must come in increasing order of (begin, seq descending)
 * and, in a run, lie inside the key range the table owns. The table's smallest and largest
 * keys (table_meta) cover them: largest is then at least (end, IKEY_MAX_SEQ,
 * IKEY_RANGE_DELETION). Returns 0 or a LAMINA_E* code. */
int table_builder_add_range_del(table_builder *b, const uint8_t *begin, size_t begin_len,
                                const uint8_t *end, size_t end_len, uint64_t seq);
/* Bytes written so far plus the pending block: where compaction cuts output files. */
uint64_t table_builder_size(const table_builder *b);
uint64_t table_builder_entries(const table_builder *b);
/* Writes filter, index, properties and footer, and fills *meta (file_number, file_size,
 * counts, smallest/largest). Does not sync. Returns 0 or a LAMINA_E* code. */
int table_builder_finish(table_builder *b, struct table_meta *meta);
/* Frees the builder (after finish, or to abandon a table). */
void table_builder_destroy(table_builder *b);

/* ---- Reader --------------------------------------------------------------------------- */
typedef struct table table;

/* Opens the table at path (file file_number) with one read, the footer's TABLE_FOOTER_SIZE
 * bytes, which it checks (magic, checksum, format version, file number, index kind). The
 * filter, the index blocks and the properties block are read on first need through cache
 * (keyed by (file_number, block offset) like data blocks, so charged to and evicted by it),
 * each verified by its checksum; damage in them is reported by the call that first reads them.
 * cache is borrowed, may be NULL (every block is then read when needed), and must outlive the
 * reader. pin_meta (level-0 tables under pin_l0_filter_and_index_blocks_in_cache): the reader
 * keeps a reference to its filter block and index root from their first load until it closes,
 * so gets never fetch them again (they stay in memory even when the cache evicts them).
 * Errors: LAMINA_ECORRUPT ("not a Lamina table", bad footer checksum, ...; the message names
 * the file and offset), LAMINA_EIO, LAMINA_ENOMEM. Tables are reference counted: open returns
 * one reference; the file closes at the last table_unref. */
int table_open(const char *path, uint64_t file_number, block_cache *cache, int pin_meta,
               table **out);
/* table_open with the table file opened with rfile_open_ex's RFILE_* flags. */
int table_open_ex(const char *path, uint64_t file_number, block_cache *cache, int pin_meta,
                  int file_flags, table **out);
void table_ref(table *t);
void table_unref(table *t);

/* Reads and bytes a reader took from table files (not the block cache), for per-level I/O
 * figures. Updated with relaxed atomic adds. */
struct io_counters {
    _Atomic uint64_t reads, bytes;
};

/* What point lookups cost at one level (Monkey's measure): runs probed, filter probes,
 * filter false positives (the filter let the key through and the table held no visible
 * version of it) and data blocks read (from the cache or a file). Relaxed atomic adds. */
struct lookup_counters {
    _Atomic uint64_t runs, filter_probes, false_positives, blocks;
};

struct table_read_options {
    int verify_checksums; /* data blocks; filter, index and properties blocks always are */
    int fill_cache;       /* offer the blocks read (data, index, filter) to the block cache */
    /* Iterators: read-ahead window bounds in bytes (sst/fetch.h struct readahead); max 0 reads
     * one block at a time. An iterator starts at readahead_initial (0: one 8 KiB step) and
     * doubles while its access stays sequential; compaction passes initial = max. */
    size_t readahead_initial, readahead_max;
    struct io_counters *io; /* data block reads are counted here; NULL: nowhere */
    /* Iterators: user-key bounds [lower, upper) of the caller's scan, or NULL (borrowed: they
     * must outlive the iterator). Moving forward, an iterator does not step onto (read) a data
     * block whose keys all lie at or above upper, nor backward onto one whose keys all lie
     * below lower: it becomes not valid instead. Seeks are not clamped. */
    const uint8_t *lower, *upper;
    size_t lower_len, upper_len;
    struct lookup_counters *lookup; /* point lookups' filter probes, false positives and data
                                       blocks are counted here; NULL: nowhere */
};

/* The hash of a user key (n bytes) that Bloom filters are built and probed with (XXH3-64,
 * bloom_hash). A lookup computes it once and passes it to every table_get it makes. */
uint64_t table_key_hash(const uint8_t *user_key, size_t n);

/* Point lookup: finds the first entry with internal key >= lookup (an internal key built with
 * the reader's snapshot seq) and whose user key equals lookup's user key; a range tombstone of
 * the table covering the key, visible at that seq and newer than that entry (or with no entry),
 * answers IKEY_DELETION. hash is
 * table_key_hash of lookup's user key. Returns 0 with *type and (for IKEY_VALUE) the value
 * copied into *value (a buf the caller owns), LAMINA_NOTFOUND if the table holds no version of
 * that key visible at that seq (the Bloom filter answers first), or an error. Fetches each
 * block it needs (filter, one index block per level, one data block) once: a lookup in the
 * block cache, else one read. */
int table_get(table *t, const struct table_read_options *ro, const uint8_t *lookup,
              size_t lookup_len, uint64_t hash, int *type, buf *value);

/* The table's range tombstones, fragmented (util/range_del.h), read from its range-deletion
 * block on first need and kept by the reader until it closes (an empty list for a table without
 * one); borrowed while the caller holds its reference on t. table_get applies them itself.
 * Returns 0, or LAMINA_ECORRUPT / LAMINA_EIO / LAMINA_ENOMEM. */
struct range_del_list;
int table_range_dels(table *t, const struct range_del_list **out);

/* Iterator over the table's entries (takes a table reference). NULL on allocation failure.
 * It holds the index blocks on its path and its current data block while it lives. */
iter *table_iter_create(table *t, const struct table_read_options *ro);

/* Reads every block, entry and checksum afresh (not through the cache); returns 0 or
 * LAMINA_ECORRUPT naming the first damage (for kvctl check), or LAMINA_EIO / LAMINA_ENOMEM.
 * *entries gets the entry count. */
int table_verify(table *t, uint64_t *entries);

uint64_t table_file_size(const table *t);
uint64_t table_file_number(const table *t);
/* Properties recorded by the builder (any pointer may be NULL), read from the properties
 * block through the block cache. Returns 0, or LAMINA_ECORRUPT / LAMINA_EIO / LAMINA_ENOMEM
 * (the outputs are then unchanged). */
int table_properties(const table *t, uint64_t *entries, uint64_t *deletions, uint64_t *data_bytes,
                     uint64_t *index_bytes, uint64_t *filter_bytes);
/* Up to n user keys that split t's data into n + 1 parts of about equal blocks: the separators
 * (user keys) of evenly spaced data blocks, found by walking the index (so compaction can cut
 * its key range into subcompactions). keys must hold n bufs (the caller frees them); *got gets
 * how many were filled, in increasing order. Returns 0 or a LAMINA_E* code. */
int table_sample_keys(table *t, size_t n, buf *keys, size_t *got);

/* Every property the builder recorded (struct table_props, sst/format.h), read as
 * table_properties reads them. Returns 0, or LAMINA_ECORRUPT / LAMINA_EIO / LAMINA_ENOMEM. */
struct table_props;
int table_props_get(const table *t, struct table_props *out);

/* ---- Table cache ---------------------------------------------------------------------- */
/* Open table readers keyed by file number, bounded by max_open_files, evicting the least
 * recently used reader (LevelDB's and RocksDB's TableCache; sharded by file number, each shard
 * an LRU over its share of the bound). A reader in use stays open until its last reference
 * goes, so the bound holds for the readers the cache keeps: open readers <= max_open + those
 * evicted while in use. An evicted table reopened costs one footer read (its index and filter
 * blocks live in the block cache). Threads missing the same file wait for one open. A hit
 * costs one hash, one short shard lock and an atomic reference. Thread-safe.
 *
 * Memory held by the table layer = the block cache's bytes (block_cache_stats: data, index
 * and filter blocks; at most its capacity) + per open reader (table_cache_stats' open) a fixed
 * ~350 bytes (the reader 256, its file handle 32, its cache entry and hash slot ~60) plus
 * twice the table path's length, and one file descriptor + per reading thread one zstd
 * decompression context (about 96 KiB, freed when the thread exits) + what reads in flight
 * hold (each get or iterator pins the blocks it is using; an iterator its index path and data
 * block) + for pin_meta readers, their filter block and index root while the block cache has
 * evicted them. So with N threads the bound is about cache_size + max_open_files x (350 + 2 x path)
 * + N x 96 KiB, plus the pinned level-0 meta. */
typedef struct table_cache table_cache;

/* dir (copied) holds the tables as "NNNNNN.sst"; max_open < 0 keeps every reader open, 0
 * keeps none (every get opens the table). file_flags (RFILE_*, util/file.h) open every table:
 * RFILE_DIRECT for use_direct_reads, RFILE_NO_URING to force the pread fallback.
 * block_cache is borrowed (may be NULL) and must outlive the table cache. NULL on allocation
 * failure. */
table_cache *table_cache_create(const char *dir, int64_t max_open, block_cache *cache,
                                int file_flags);
/* Closes the idle readers; readers still referenced close at their last table_unref. */
void table_cache_destroy(table_cache *tc);
/* The reader of file_number with a new reference (release with table_unref), opened on a
 * miss (outside the shard's lock). pin_meta (level-0 tables with
 * pin_l0_filter_and_index_blocks_in_cache) is passed to table_open when this call opens the
 * reader: it then keeps its filter block and index root while open; a reader already cached
 * keeps the choice it was opened with. Errors as table_open (a failed open is not cached). */
int table_cache_get(table_cache *tc, uint64_t file_number, int pin_meta, table **out);
/* Drops the cache's reference to the reader of file_number (the file is obsolete): an idle
 * reader closes now, one in use at its last table_unref; no-op when none is cached. */
void table_cache_evict(table_cache *tc, uint64_t file_number);
/* Figures: readers open (cached, and evicted ones still in use), the bound (-1: none), opens
 * (misses), hits. Any pointer may be NULL. */
void table_cache_stats(table_cache *tc, uint64_t *open, int64_t *capacity, uint64_t *opens,
                       uint64_t *hits);

#endif
