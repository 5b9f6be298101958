/* cache.h — private interface of the block cache (sst/cache.c): reference-counted blocks that
 * the reader pins while it uses them, whether or not the cache keeps them. */
#ifndef SST_CACHE_H
#define SST_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sst/table.h"

/* One uncompressed block. Reference counted: the cache holds one reference while the block is
 * in it, each user holds one while it reads it; the last release frees it. */
struct cache_lru {
    struct cache_lru *prev, *next;
};

/* What a block's data holds beyond its contents. data[0..size) is always the block's
 * uncompressed contents, so any reader may use a block of any kind as plain contents; only a
 * reader that wants the decoded form checks the kind. */
enum {
    CACHE_BLOCK_RAW = 0,   /* contents only (data, filter and properties blocks) */
    CACHE_BLOCK_INDEX = 1, /* contents, then a decoded index node (sst/btree.h) */
    CACHE_BLOCK_FST = 2,   /* an FST index block whose handle table was checked
                              (sst/fst_index.c) */
};

struct cache_block {
    struct cache_lru lru;      /* first: a list link converts to its block */
    struct cache_block *hnext; /* links blocks the cache drops, released after unlocking */
    uint64_t file_number, offset, hash;
    size_t charge;
    atomic_int refs;
    uint8_t in_cache;   /* guarded by the shard's mutex */
    uint8_t referenced; /* looked up since it last passed the eviction end (shard's mutex) */
    uint8_t kind;       /* CACHE_BLOCK_*, set before the block is shared, then fixed */
    size_t size;        /* bytes of data holding the block contents */
    size_t cap;         /* bytes allocated for data (contents and any decoded form) */
    uint8_t data[];
};

/* A new block with room for cap bytes, one reference, kind CACHE_BLOCK_RAW, in no cache. NULL
 * on allocation failure. */
struct cache_block *cache_block_alloc(size_t cap);
/* Takes another reference. */
void cache_block_ref(struct cache_block *b);
/* Drops a reference; frees the block when it was the last. NULL is allowed. */
void cache_block_release(struct cache_block *b);

/* Returns the cached block of (file_number, offset) with a new reference, or NULL (a miss). */
struct cache_block *block_cache_lookup(block_cache *c, uint64_t file_number, uint64_t offset);
/* Offers b (which the caller keeps its reference to) to the cache under (file_number,
 * offset), replacing any older block of that key, then evicts least recently used blocks
 * (LRU by second chance: a block looked up since it reached the old end gets another turn)
 * until the shard fits its capacity. A block larger than a shard's capacity is not kept. */
void block_cache_insert(block_cache *c, uint64_t file_number, uint64_t offset,
                        struct cache_block *b);

#endif
