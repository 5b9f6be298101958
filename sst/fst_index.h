/* fst_index.h — private interface of the FST kind of table index (sst/fst_index.c, behind
 * sst/index.h): one index block holding a finite state transducer (sst/fst.h) from each data
 * block's separator (a user key, format 2) to the block's ordinal, followed by the data blocks'
 * places (sampled offsets and bit-packed sizes), searched in place from the cached block. Layout in docs/format.md ("FST index"). */
#ifndef SST_FST_INDEX_H
#define SST_FST_INDEX_H

#include <stdatomic.h>
#include <stdint.h>

#include "sst/cache.h"
#include "sst/format.h"
#include "sst/fst.h"

/* Builder: the FST is built as separators arrive (they come sorted); the offsets wait in an
 * array (8 bytes per data block) until finish writes the block. */
struct fst_index_builder {
    struct block_writer *w;
    struct fst_builder fst;
    uint64_t *offsets; /* data block i starts at offsets[i] */
    size_t n, cap;
    uint64_t end; /* where the last data block ends, trailer included */
};

struct fst_index_reader {
    struct block_source src;
    block_cache *cache; /* borrowed, may be NULL */
    struct block_handle h;
    int pin;
    _Atomic(struct cache_block *) pinned; /* the pinned block, once loaded (pin) */
};

struct fst_index_cursor {
    struct cache_block *blk; /* the index block, NULL until the first move */
    int owned;               /* the cursor holds a reference to blk (not so when pinned) */
    struct fst fst;
    struct fst_cursor cur;
    const uint8_t *samples; /* every FST_INDEX_SAMPLE-th block's offset, width bytes each */
    const uint8_t *sizes;   /* n stored block sizes - min_size, bits bits each */
    uint64_t n, min_size;
    uint32_t width, bits;
};

#endif
