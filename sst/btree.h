/* btree.h — private interface of the B-tree table index (sst/btree.c): separators -> block
 * handles in index blocks, with inner levels over them, built in one pass; read through
 * index nodes that stay pinned in memory once loaded. */
#ifndef SST_BTREE_H
#define SST_BTREE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sst/block.h"
#include "sst/cache.h"
#include "sst/format.h"

#define INDEX_MAX_LEVELS 32

/* ---- Separators ----------------------------------------------------------------------- */
/* Sets out to a short internal key k with last <= k < next (LevelDB's FindShortestSeparator
 * on the user keys, with the largest trailer so the order holds), or to last itself. */
int index_separator(buf *out, const uint8_t *last, size_t llen, const uint8_t *next, size_t nlen);
/* Sets out to a short internal key >= last (LevelDB's FindShortSuccessor). */
int index_successor(buf *out, const uint8_t *last, size_t llen);

/* ---- Builder -------------------------------------------------------------------------- */
struct index_builder {
    struct block_writer *w;
    size_t block_size;
    int nlevels;
    struct {
        struct block_builder bb;
        int emitted; /* a block of this level was written: it is not the root */
    } level[INDEX_MAX_LEVELS];
    uint64_t bytes; /* stored bytes of index blocks written, trailers included */
};

void index_builder_init(struct index_builder *ib, struct block_writer *w, size_t block_size);
void index_builder_free(struct index_builder *ib);
/* Adds the leaf entry separator -> data block handle; separators must increase. May write
 * full index blocks. Returns 0 or a LAMINA_E* code. */
int index_builder_add(struct index_builder *ib, const uint8_t *sep, size_t len,
                      struct block_handle h);
/* Writes the open blocks of every level, the root last. */
int index_builder_finish(struct index_builder *ib, struct block_handle *root, int *levels);

/* ---- Reader --------------------------------------------------------------------------- */
/* Searching without touching the keys: every user key of a node starts with the prefix_len
 * bytes of its key 0, and pfx holds the entry's user key's next 8 bytes big-endian (zero
 * padded), so unequal pfx values order two keys and equal ones need a full compare. The
 * handle sits beside pfx, where the search's last probes have already brought it in. */
#define INDEX_PREFIX_HEAD 24

struct index_entry {
    uint64_t pfx;
    struct block_handle h;
};

/* One decoded index block: n separators and their handles (of data blocks at level 0, of
 * index blocks of the level below otherwise). Children are loaded on first use and stay. */
struct index_node {
    uint32_t n;
    int level;
    struct cache_block *blk; /* the block contents the keys point into */
    struct index_entry *ent;
    _Atomic(struct index_node *) *children; /* level > 0 only */
    uint32_t *key_off, *key_len;
    uint32_t prefix_len;
    uint8_t prefix_head[INDEX_PREFIX_HEAD]; /* the prefix's first bytes, beside n */
};

static inline const uint8_t *index_node_key(const struct index_node *nd, uint32_t i, size_t *len)
{
    *len = nd->key_len[i];
    return nd->blk->data + nd->key_off[i];
}

struct index_reader {
    struct block_source src;
    int levels;
    struct index_node *root;
};

/* Loads and pins the root. Returns 0 or LAMINA_ECORRUPT / LAMINA_EIO / LAMINA_ENOMEM. */
int index_open(struct index_reader *r, const struct block_source *src, struct block_handle root,
               int levels);
void index_close(struct index_reader *r);

/* A position in the index: the path from the root to one leaf entry. */
struct index_cursor {
    struct index_reader *r;
    int valid;
    struct {
        struct index_node *node;
        uint32_t idx;
    } path[INDEX_MAX_LEVELS]; /* path[0] is the leaf level */
};

static inline void index_cursor_init(struct index_cursor *c, struct index_reader *r)
{
    c->r = r;
    c->valid = 0;
}
/* Moves return 0 or a LAMINA_E* code (the cursor is then not valid). */
int index_cursor_seek(struct index_cursor *c, const uint8_t *target, size_t len);
int index_cursor_seek_to_first(struct index_cursor *c);
int index_cursor_seek_to_last(struct index_cursor *c);
int index_cursor_next(struct index_cursor *c);
int index_cursor_prev(struct index_cursor *c);
static inline struct block_handle index_cursor_handle(const struct index_cursor *c)
{
    return c->path[0].node->ent[c->path[0].idx].h;
}
static inline const uint8_t *index_cursor_key(const struct index_cursor *c, size_t *len)
{
    return index_node_key(c->path[0].node, c->path[0].idx, len);
}

/* Reads every index block afresh (checksums verified), checks each inner separator against
 * its child block, and calls fn for each leaf entry in order; stops at fn's first non-zero
 * return. Returns 0 or the first error. */
int index_verify(const struct block_source *src, struct block_handle root, int levels,
                 int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h),
                 void *ctx);

#endif
