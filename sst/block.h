/* block.h — private interface of the block format (sst/block.c): a builder of prefix-compressed
 * entries with restart points, and a bounds-checked iterator over a block's contents (the
 * LevelDB table block layout; docs/format.md, Part 2). */
#ifndef SST_BLOCK_H
#define SST_BLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/coding.h"
#include "util/ikey.h"

/* ---- Builder -------------------------------------------------------------------------- */
struct block_builder {
    buf data; /* entries, then (at finish) the restart array and its count */
    uint32_t *restarts;
    size_t nrestarts, restarts_cap;
    int restart_interval;
    int counter; /* entries since the last restart point */
    size_t entries;
    buf last_key;
    int finished;
};

void block_builder_init(struct block_builder *b, int restart_interval);
void block_builder_free(struct block_builder *b);
/* Empties the builder for the next block, keeping its memory. */
void block_builder_reset(struct block_builder *b);
/* Appends an entry; keys must come in increasing order (the caller checks). Returns 0 or
 * LAMINA_ENOMEM. */
int block_builder_add(struct block_builder *b, const uint8_t *key, size_t klen, const void *val,
                      size_t vlen);
/* Bytes the block would have if finished now. */
static inline size_t block_builder_size(const struct block_builder *b)
{
    return b->data.len + 4 * b->nrestarts + 4;
}
static inline int block_builder_empty(const struct block_builder *b)
{
    return b->entries == 0;
}
/* Appends the restart array and count; the block contents are then b->data. Returns 0 or
 * LAMINA_ENOMEM. */
int block_builder_finish(struct block_builder *b);

/* ---- Reader --------------------------------------------------------------------------- */
/* The parsed shape of a block's contents (borrowed bytes). */
struct block {
    const uint8_t *data;
    uint32_t restarts_off; /* entries occupy [0, restarts_off) */
    uint32_t nrestarts;
};

/* Parses the restart array at the end of contents; returns 0 or -1 if it does not fit. */
int block_parse(struct block *b, const uint8_t *data, size_t size);

/* Decodes the entry at offset off of b: its key (shared prefix length must be 0 when
 * whole_key is set, as in index blocks where every entry is a restart point), value and the
 * offset of the next entry. Returns 0, or -1 if the entry does not fit in the block. */
int block_entry_at(const struct block *b, uint32_t off, uint32_t *shared, const uint8_t **key,
                   size_t *klen, const uint8_t **val, size_t *vlen, uint32_t *next);

/* Comparison used by seeks: internal keys (ikey_cmp) for data and index blocks, plain bytes
 * for the properties block. */
enum { BLOCK_KEYS_INTERNAL = 1, BLOCK_KEYS_BYTES = 0 };

#define BLOCK_ITER_INLINE_KEY 128

/* An iterator over one block. Embedded by value (block_iter_init before first use,
 * block_iter_free at the end); a key of up to BLOCK_ITER_INLINE_KEY bytes needs no
 * allocation. Moves return 0 or LAMINA_ECORRUPT (message names path and block offset); after
 * an error the iterator is not valid and status keeps the code. */
struct block_iter {
    struct block b;
    const char *path; /* for messages */
    uint64_t block_offset;
    int keys;             /* BLOCK_KEYS_* */
    uint32_t cur;         /* offset of the current entry; restarts_off when not valid */
    uint32_t next_off;    /* offset just after the current entry */
    uint32_t restart_idx; /* restart point at or before cur */
    uint8_t *key;
    size_t key_len, key_cap;
    const uint8_t *val;
    size_t val_len;
    int status;
    uint8_t inline_key[BLOCK_ITER_INLINE_KEY];
};

void block_iter_init(struct block_iter *it);
void block_iter_free(struct block_iter *it);
/* Points the iterator at block b (not yet positioned: not valid). */
void block_iter_reset(struct block_iter *it, const struct block *b, int keys, const char *path,
                      uint64_t block_offset);
static inline int block_iter_valid(const struct block_iter *it)
{
    return it->cur < it->b.restarts_off && it->status == 0;
}
int block_iter_seek_to_first(struct block_iter *it);
int block_iter_seek_to_last(struct block_iter *it);
/* First entry >= target. */
int block_iter_seek(struct block_iter *it, const uint8_t *target, size_t tlen);
/* Last entry <= target. */
int block_iter_seek_for_prev(struct block_iter *it, const uint8_t *target, size_t tlen);
int block_iter_next(struct block_iter *it);
int block_iter_prev(struct block_iter *it);

#endif
