/* btree.h — private interface of the B-tree kind of table index (sst/btree.c, behind sst/index.h): separators -> block
 * handles in index blocks, with inner levels over them, built in one pass; read through
 * decoded index nodes that live in the block cache like data blocks. */
#ifndef SST_BTREE_H
#define SST_BTREE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sst/block.h"
#include "sst/cache.h"
#include "sst/format.h"

#define BTREE_MAX_LEVELS 32

/* ---- Builder -------------------------------------------------------------------------- */
struct btree_builder {
    struct block_writer *w;
    size_t block_size;
    int nlevels;
    struct {
        struct block_builder bb;
        int emitted; /* a block of this level was written: it is not the root */
    } level[BTREE_MAX_LEVELS];
    uint64_t bytes; /* stored bytes of index blocks written, trailers included */
};

void btree_builder_init(struct btree_builder *ib, struct block_writer *w, size_t block_size);
void btree_builder_free(struct btree_builder *ib);
/* Adds the leaf entry separator -> data block handle; separators must increase. May write
 * full index blocks. Returns 0 or a LAMINA_E* code. */
int btree_builder_add(struct btree_builder *ib, const uint8_t *sep, size_t len,
                      struct block_handle h);
/* Writes the open blocks of every level, the root last. */
int btree_builder_finish(struct btree_builder *ib, struct block_handle *root, int *levels);

/* ---- Reader --------------------------------------------------------------------------- */
/* Searching without touching the keys: every user key of a node starts with the prefix_len
 * bytes of its key 0, and pfx holds the entry's user key's next 8 bytes big-endian (zero
 * padded), so unequal pfx values order two keys and equal ones need a full compare. The
 * handle sits beside pfx, where the search's last probes have already brought it in. */
#define BTREE_PREFIX_HEAD 24

struct btree_entry {
    uint64_t pfx;
    struct block_handle h;
};

/* One decoded index block: n separators and their handles (of data blocks at level 0, of
 * index blocks of the level below otherwise). A node lives inside a cache block of kind
 * CACHE_BLOCK_INDEX, after the block's contents (btree_node_of), so the block cache charges
 * and evicts it with its block, and a reference to the block keeps the node alive. */
struct btree_node {
    uint32_t n;
    uint32_t prefix_len;
    uint32_t tl; /* separators' trailer bytes: 8 (format 1, internal keys) or 0 (user keys) */
    const uint8_t *data; /* the block contents the keys point into (the same cache block) */
    struct btree_entry *ent;
    uint32_t *key_off, *key_len;
    uint8_t prefix_head[BTREE_PREFIX_HEAD]; /* the prefix's first bytes, beside n */
};

/* Where a decoded node starts in its cache block: after the contents, 8-byte aligned. */
static inline size_t btree_node_offset(size_t contents_size)
{
    return (contents_size + 7) & ~(size_t)7;
}
static inline const struct btree_node *btree_node_of(const struct cache_block *cb)
{
    return (const struct btree_node *)(const void *)(cb->data + btree_node_offset(cb->size));
}

static inline const uint8_t *btree_node_key(const struct btree_node *nd, uint32_t i, size_t *len)
{
    *len = nd->key_len[i];
    return nd->data + nd->key_off[i];
}

/* A table's index: where its root is, and how its blocks are fetched. Index blocks are always
 * read with their checksums verified, decoded once, and shared through the block cache. */
struct btree_reader {
    struct block_source src;
    block_cache *cache; /* borrowed, may be NULL (every fetch then reads) */
    struct block_handle root;
    int levels;
    uint32_t tl;                          /* separators' trailer bytes (see btree_node) */
    int pin_root;                         /* keep the root for the reader's life */
    _Atomic(struct cache_block *) pinned; /* the pinned root, once loaded (pin_root) */
};

/* Sets up r over the index whose root is at root with levels levels; reads nothing (the root
 * is fetched on first use). user_keys: the separators are user keys ordered bytewise (format
 * 2), else internal keys (format 1); searches and the separators they return take the same
 * form. cache is borrowed and must outlive r. With pin_root the first
 * fetch of the root keeps a reference to it until btree_close. Returns 0 or LAMINA_ECORRUPT
 * (levels outside 1..BTREE_MAX_LEVELS; the message names src->path and the root's offset). */
int btree_open(struct btree_reader *r, const struct block_source *src, block_cache *cache,
               struct block_handle root, int levels, int user_keys, int pin_root);
/* Drops the pinned root, if any. */
void btree_close(struct btree_reader *r);

/* A position in the index: the path from the root to one leaf entry, holding a reference to
 * each node on it (released by btree_cursor_release, or when a move replaces it). */
struct btree_cursor {
    struct btree_reader *r;
    int valid;
    int fill_cache; /* offer the index blocks it reads to the block cache */
    struct {
        struct cache_block *blk; /* the node's block; NULL: none held at this level */
        const struct btree_node *node;
        uint64_t offset; /* of blk's index block */
        uint32_t idx;
        int owned;            /* the cursor holds a reference to blk (not so for a pinned root) */
    } path[BTREE_MAX_LEVELS]; /* path[0] is the leaf level */
};

/* Starts a cursor over r holding nothing. fill_cache as in table_read_options. */
static inline void btree_cursor_init(struct btree_cursor *c, struct btree_reader *r, int fill_cache)
{
    c->r = r;
    c->valid = 0;
    c->fill_cache = fill_cache;
    for (int i = 0; i < r->levels; i++)
        c->path[i].blk = NULL;
}
/* Releases the nodes the cursor holds; it is then not valid (and may be used again). */
void btree_cursor_release(struct btree_cursor *c);
/* Moves return 0 or a LAMINA_E* code (the cursor is then not valid). A move reuses the nodes
 * it already holds, so a scan fetches each index block once. */
int btree_cursor_seek(struct btree_cursor *c, const uint8_t *target, size_t len);
int btree_cursor_seek_to_first(struct btree_cursor *c);
int btree_cursor_seek_to_last(struct btree_cursor *c);
int btree_cursor_next(struct btree_cursor *c);
int btree_cursor_prev(struct btree_cursor *c);
static inline struct block_handle btree_cursor_handle(const struct btree_cursor *c)
{
    return c->path[0].node->ent[c->path[0].idx].h;
}
static inline const uint8_t *btree_cursor_key(const struct btree_cursor *c, size_t *len)
{
    return btree_node_key(c->path[0].node, c->path[0].idx, len);
}

/* Reads every index block afresh (checksums verified), checks each inner separator against
 * its child block, and calls fn for each leaf entry in order; stops at fn's first non-zero
 * return. user_keys as in btree_open. Returns 0 or the first error. */
int btree_verify(const struct block_source *src, struct block_handle root, int levels,
                 int user_keys,
                 int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h),
                 void *ctx);

#endif
