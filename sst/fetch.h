/* fetch.h — the one block-fetch path of the table layer: reading a stored block (contents |
 * compression byte | seeded checksum, sst/format.h) and decoding it into a cache_block, for
 * single reads, batches across tables (multi_get: cache lookups, then every miss submitted
 * together through util/file.h's file_read_multi) and sequential read-ahead (iterators and
 * compaction inputs, after RocksDB's auto read-ahead). Direct-I/O alignment is util/file.c's
 * business: every buffer here is an ordinary one. */
#ifndef SST_FETCH_H
#define SST_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "sst/cache.h"
#include "sst/format.h"

/* 0 if the stored block at h (trailer included) lies inside src's blocks and its contents are
 * at most BLOCK_MAX_CONTENTS, else LAMINA_ECORRUPT naming path and offset. */
int block_check_handle(const struct block_source *src, struct block_handle h);

/* Decodes the stored block at h, whose h.size + BLOCK_TRAILER_SIZE bytes are at stored
 * (borrowed for the call): checks the compression byte always and the checksum when verify
 * is set, and returns the uncompressed contents in a new cache_block (one reference, in no
 * cache). Errors: LAMINA_ECORRUPT (naming path and offset), LAMINA_ENOMEM. */
int block_decode(const struct block_source *src, struct block_handle h, const uint8_t *stored,
                 int verify, struct cache_block **out);

/* Reads the stored block at h (one read) and decodes it as block_decode does. Errors:
 * LAMINA_ECORRUPT (naming path and offset), LAMINA_EIO, LAMINA_ENOMEM. */
int block_read(const struct block_source *src, struct block_handle h, int verify,
               struct cache_block **out);

/* One block of a batch. */
struct block_fetch {
    const struct block_source *src; /* borrowed for the call */
    struct block_handle h;
    int verify; /* check the checksum of a block read from the file */
    int fill;   /* insert a block read from the file into the cache */
    /* out: */
    struct cache_block *block; /* one reference for the caller (release it), NULL on error */
    int rc;                    /* 0 or LAMINA_E* */
    int from_cache;            /* 1 if the block came from the cache */
};

/* Fetches n blocks of any tables: looks each up in cache (which may be NULL), reads all the
 * misses together (file_read_multi: one ring submission per chunk of the ring's depth),
 * verifies and decodes them, and inserts those asked to fill. Requests for the same
 * (file_number, offset, size) are read once and share the block (verified if any of them asked,
 * inserted if any asked to fill). A handle outside its src's blocks fails that request alone
 * with LAMINA_ECORRUPT. Returns 0, or the first failed request's rc (each rc tells; the
 * thread's message names one failure). A cache hit is served as cached, whatever verify says:
 * blocks are checked when they are read from the file. */
int block_fetch_batch(block_cache *cache, struct block_fetch *reqs, size_t n);

/* ---- Read-ahead ------------------------------------------------------------------------ */
/* Sequential read-ahead over one table file, for one reader at a time (an iterator or a
 * compaction input). A block inside the buffered range is decoded from the buffer. A
 * sequential access past the buffer refills it (sequential: the block starts where the one
 * returned before ended, or at most one window further on, since index blocks sit between
 * data blocks; the first access counts as sequential): [h.offset, h.offset + window) clipped to
 * the table's blocks, read as READAHEAD_CHUNK pieces submitted together (file_read_multi), so
 * the device sees several reads in flight; each refill doubles the window for the next, up to
 * max (RocksDB's auto read-ahead: an iterator starts at about one block, 8 KiB, and grows to
 * max_auto_readahead_size; a compaction passes initial = max). A non-sequential access resets
 * the window to initial and reads just its block. A sequential block larger than the window is
 * read alone too, and doubles the window.
 * Memory: the buffer, at most max bytes, held until readahead_free. The buffer never serves
 * another table: a different src->file_number drops it. */
#define READAHEAD_CHUNK (64u * 1024u)

struct readahead {
    size_t initial, max; /* window bounds */
    size_t window;       /* bytes the next sequential refill reads */
    uint8_t *buf;        /* buffered bytes: [buf_off, buf_off + buf_len) of file buf_file */
    size_t buf_cap, buf_len;
    uint64_t buf_off, buf_file;
    uint64_t next;            /* end of the last block returned; UINT64_MAX: none yet */
    uint64_t refills, blocks; /* counters: refills done, blocks returned */
};

/* initial is raised to 1 and lowered to max; max 0 disables read-ahead (every block read
 * alone). No memory is taken until the first refill. */
void readahead_init(struct readahead *ra, size_t initial, size_t max);
/* Returns the block at h of src (one reference for the caller) as described above; verify as
 * in block_decode. A failed refill leaves nothing buffered. Errors as block_read's. */
int readahead_block(struct readahead *ra, const struct block_source *src, struct block_handle h,
                    int verify, struct cache_block **out);
/* The bytes the next sequential refill will read (before clipping to the table's end). */
size_t readahead_window(const struct readahead *ra);
/* Frees the buffer; ra may be initialised again. */
void readahead_free(struct readahead *ra);

#endif
