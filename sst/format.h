/* format.h — private constants and helpers of the table file format (docs/format.md, Part 2):
 * block handles, the stored-block trailer (compression byte + seeded checksum), the footer,
 * and the block writer shared by the table builder and the B-tree index. Reading blocks is
 * sst/fetch.h, which this header includes. */
#ifndef SST_FORMAT_H
#define SST_FORMAT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sst/cache.h"
#include "util/coding.h"
#include "util/file.h"

#define TABLE_MAGIC "LAMINAST" /* the footer's last 8 bytes */
/* Format versions: 1 indexes internal-key separators (B-tree only); 2 indexes user-key
 * separators, which sort bytewise, and never splits one user key's versions across data blocks
 * (docs/format.md). New tables are written with the format_version option; both are read. */
#define TABLE_FORMAT_VERSION 2
#define TABLE_FORMAT_MIN_VERSION 1
#define TABLE_FOOTER_SIZE 76
#define BLOCK_TRAILER_SIZE 5 /* compression byte + fixed32 checksum */
#define BLOCK_TYPE_NONE 0
#define BLOCK_TYPE_ZSTD 1
/* A block's uncompressed contents may not exceed this (one maximal key and value fit). */
#define BLOCK_MAX_CONTENTS (256u << 20)
/* Longest encoded handle: two varint64s. */
#define BLOCK_HANDLE_MAX 20

/* Where a stored block lives: offset of its contents and their length (without trailer). */
struct block_handle {
    uint64_t offset, size;
};

static inline size_t block_handle_encode(uint8_t *dst, struct block_handle h)
{
    size_t n = coding_put_varint64(dst, h.offset);
    return n + coding_put_varint64(dst + n, h.size);
}
/* Returns 0, or -1 if [p, end) does not hold exactly one handle. */
static inline int block_handle_decode(const uint8_t *p, const uint8_t *end, struct block_handle *h)
{
    p = coding_get_varint64(p, end, &h->offset);
    if (!p) return -1;
    p = coding_get_varint64(p, end, &h->size);
    return p && p == end ? 0 : -1;
}

/* The fixed-size footer at the end of every table. */
struct table_footer {
    struct block_handle filter; /* size 0: no filter */
    struct block_handle index;  /* root block of the B-tree index */
    struct block_handle properties;
    uint64_t file_number;
    uint8_t index_levels; /* 1: the root is the only (leaf) index block */
    uint8_t index_kind;   /* LAMINA_INDEX_* */
    uint8_t flags;        /* TABLE_FOOTER_*; 0 in tables written before there were any */
    uint32_t format_version;
};
/* The properties block names a range-deletion block (docs/format.md, Part 2 §6b): readers of
 * tables without it never read the properties block for a point lookup. */
#define TABLE_FOOTER_RANGE_DELS 0x01
void table_footer_encode(uint8_t dst[TABLE_FOOTER_SIZE], const struct table_footer *f);
/* Parses and checks magic, checksum and version; returns 0 or LAMINA_ECORRUPT (message names
 * path). */
int table_footer_decode(const uint8_t src[TABLE_FOOTER_SIZE], const char *path,
                        struct table_footer *f);

/* ---- Properties block ----------------------------------------------------------------- */
/* What the builder records about a table: stored as a block of (name, varint64) entries in
 * name order; a reader ignores names it does not know. */
struct table_props {
    uint64_t block_size, bloom_bits, compression;
    uint64_t data_blocks, data_bytes;
    uint64_t deletions, entries;
    uint64_t filter_bytes, format_version;
    uint64_t index_bytes, index_levels, index_type;
    /* The range-deletion block (size 0: none; tables written before it have none) and the
     * range tombstones it holds. */
    uint64_t range_del_offset, range_del_size, range_deletions;
    uint64_t raw_key_bytes, raw_value_bytes, restart_interval;
    uint64_t largest_seq, smallest_seq;
};
/* Appends the properties block's contents (restart array included) to out. */
int table_props_encode(const struct table_props *p, buf *out);
/* Parses a properties block; returns 0 or LAMINA_ECORRUPT naming path and offset. */
int table_props_decode(const uint8_t *data, size_t size, const char *path, uint64_t offset,
                       struct table_props *p);

/* ---- Writing blocks ------------------------------------------------------------------- */
/* Appends stored blocks to a table file, compressing with a reused zstd context. */
struct block_writer {
    wfile *f;
    uint64_t file_number;
    uint64_t offset; /* file offset of the next block */
    int compression; /* LAMINA_COMPRESSION_* for blocks that ask for it */
    int zstd_level;
    void *cctx;  /* ZSTD_CCtx, NULL without compression */
    buf scratch; /* compressed contents + trailer */
};
int block_writer_init(struct block_writer *w, wfile *f, uint64_t file_number, int compression,
                      int zstd_level);
void block_writer_free(struct block_writer *w);
/* Writes contents (contents->len bytes; the buffer gets the trailer appended, so it is
 * changed) as one stored block; compress 0 keeps it raw. Fills *h. */
int block_writer_write(struct block_writer *w, buf *contents, int compress, struct block_handle *h);

/* ---- Reading blocks ------------------------------------------------------------------- */
/* What a block read needs to know about its file (sst/fetch.h). Decompression uses one zstd
 * context per thread (kept until the thread exits), so a table reader holds none. */
struct block_source {
    rfile *f;
    const char *path;
    uint64_t file_number;
    uint64_t limit; /* blocks must end (trailer included) at or before this */
};

/* Reading and decoding blocks (block_read, block_decode, batches, read-ahead): sst/fetch.h,
 * included here for the readers that include this header. */
#include "sst/fetch.h"

#endif
