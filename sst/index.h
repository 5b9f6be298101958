/* index.h — the table index interface: a table's separators -> data block handles, one
 * interface over every index kind (the B-tree of sst/btree.c, the FST of sst/fst_index.c),
 * chosen by the table's footer, so the table builder and reader never branch on the kind.
 *
 * Separator form. Format 1 tables index internal keys (user key + trailer), format 2 tables
 * user keys, which sort bytewise as an FST needs; a format 2 table never splits one user key's
 * versions across data blocks, so the first separator >= a lookup's user key names the only
 * block that can hold its versions. Callers always pass and receive internal keys' positions
 * through index_cursor_seek / index_sep_cmp; the conversion lives here. */
#ifndef SST_INDEX_H
#define SST_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "sst/btree.h"
#include "sst/format.h"
#include "sst/fst_index.h"
#include "util/coding.h"

/* ---- Separators ----------------------------------------------------------------------- */
/* Sets out to a short separator s with last <= s < next for the block boundary between
 * internal keys last and next (LevelDB's FindShortestSeparator on the user keys): with
 * user_keys a user key (last's and next's user keys must differ), else an internal key with
 * the largest trailer, or last itself. Returns 0 or LAMINA_ENOMEM. */
int index_separator(buf *out, int user_keys, const uint8_t *last, size_t llen,
                    const uint8_t *next, size_t nlen);
/* Sets out to a short separator >= last, the table's last key (LevelDB's FindShortSuccessor). */
int index_successor(buf *out, int user_keys, const uint8_t *last, size_t llen);

/* ---- Builder -------------------------------------------------------------------------- */
struct index_builder;
struct index_builder_ops {
    int kind; /* LAMINA_INDEX_*, recorded in the footer */
    void (*free)(struct index_builder *ib);
    int (*add)(struct index_builder *ib, const uint8_t *sep, size_t len, struct block_handle h);
    /* Writes the index; sets ft->index, ft->index_levels and ib->bytes. */
    int (*finish)(struct index_builder *ib, struct table_footer *ft);
};

struct index_builder {
    const struct index_builder_ops *ops;
    uint64_t bytes; /* stored bytes of the index, trailers included, after finish */
    union {
        struct btree_builder bt;
        struct fst_index_builder fst;
    } u;
};

/* Starts an index of kind (LAMINA_INDEX_*) whose blocks w writes; block_size is the B-tree's
 * target node size. Returns 0, LAMINA_EINVAL (unknown kind) or LAMINA_ENOMEM. */
int index_builder_init(struct index_builder *ib, int kind, struct block_writer *w,
                       size_t block_size);
/* Adds separator -> data block handle; separators increase in the table's separator form.
 * Returns 0 or a LAMINA_E* code (a write error). */
static inline int index_builder_add(struct index_builder *ib, const uint8_t *sep, size_t len,
                                    struct block_handle h)
{
    return ib->ops->add(ib, sep, len, h);
}
/* Writes what remains of the index and fills ft->index, ft->index_levels, ft->index_kind. */
int index_builder_finish(struct index_builder *ib, struct table_footer *ft);
void index_builder_free(struct index_builder *ib);

/* ---- Reader --------------------------------------------------------------------------- */
struct index_reader;
struct index_cursor;

struct index_ops {
    int kind;         /* LAMINA_INDEX_* */
    const char *name; /* "btree", "fst" */
    int (*open)(struct index_reader *r, const struct block_source *src, block_cache *cache,
                const struct table_footer *ft, int pin);
    void (*close)(struct index_reader *r);
    void (*cursor_init)(struct index_cursor *c, int fill_cache);
    void (*cursor_release)(struct index_cursor *c);
    /* Moves set c->valid; they return 0 or a LAMINA_E* code. seek takes a separator-form key. */
    int (*seek)(struct index_cursor *c, const uint8_t *key, size_t len);
    int (*seek_to_first)(struct index_cursor *c);
    int (*seek_to_last)(struct index_cursor *c);
    int (*next)(struct index_cursor *c);
    int (*prev)(struct index_cursor *c);
    struct block_handle (*handle)(const struct index_cursor *c);
    const uint8_t *(*key)(const struct index_cursor *c, size_t *len);
    int (*verify)(const struct block_source *src, const struct table_footer *ft, int user_keys,
                  int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h),
                  void *ctx);
};

/* A table's index. cache is borrowed and must outlive it. */
struct index_reader {
    const struct index_ops *ops;
    int user_keys; /* separators are user keys (format 2) */
    union {
        struct btree_reader bt;
        struct fst_index_reader fst;
    } u;
};

/* Sets up r for the index the footer describes (kind, root, levels, format); reads nothing.
 * With pin the index's top block, once loaded, stays referenced until index_close. Returns 0
 * or LAMINA_ECORRUPT (unknown kind, bad shape; the message names src->path). */
int index_open(struct index_reader *r, const struct block_source *src, block_cache *cache,
               const struct table_footer *ft, int pin);
void index_close(struct index_reader *r);
static inline const char *index_name(const struct index_reader *r)
{
    return r->ops->name;
}

/* A position in the index, holding references to the index blocks it stands on until
 * released or moved. */
struct index_cursor {
    struct index_reader *r;
    int valid;
    int fill_cache; /* offer the index blocks it reads to the block cache */
    union {
        struct btree_cursor bt;
        struct fst_index_cursor fst;
    } u;
};

static inline void index_cursor_init(struct index_cursor *c, struct index_reader *r,
                                     int fill_cache)
{
    c->r = r;
    c->valid = 0;
    c->fill_cache = fill_cache;
    r->ops->cursor_init(c, fill_cache);
}
/* Releases the blocks the cursor holds; it is then not valid (and may be used again). */
static inline void index_cursor_release(struct index_cursor *c)
{
    c->r->ops->cursor_release(c);
    c->valid = 0;
}
/* Positions at the first separator at or after internal key ikey's position: the block that
 * holds the first entry >= ikey, if the table has one. */
static inline int index_cursor_seek(struct index_cursor *c, const uint8_t *ikey, size_t len)
{
    return c->r->ops->seek(c, ikey, c->r->user_keys ? len - 8 : len);
}
static inline int index_cursor_seek_to_first(struct index_cursor *c)
{
    return c->r->ops->seek_to_first(c);
}
static inline int index_cursor_seek_to_last(struct index_cursor *c)
{
    return c->r->ops->seek_to_last(c);
}
static inline int index_cursor_next(struct index_cursor *c)
{
    return c->r->ops->next(c);
}
static inline int index_cursor_prev(struct index_cursor *c)
{
    return c->r->ops->prev(c);
}
static inline struct block_handle index_cursor_handle(const struct index_cursor *c)
{
    return c->r->ops->handle(c);
}
/* The separator under the cursor, in the table's separator form. */
static inline const uint8_t *index_cursor_key(const struct index_cursor *c, size_t *len)
{
    return c->r->ops->key(c, len);
}

/* Orders internal key ikey against separator sep (in the table's form): < 0, 0, > 0 as ikey
 * lies before, at, or after it. With user-key separators only ikey's user key counts. */
int index_sep_cmp(int user_keys, const uint8_t *ikey, size_t len, const uint8_t *sep,
                  size_t slen);

/* Reads every index block afresh (checksums verified), checks the index's own invariants,
 * and calls fn for each separator and data block handle in order; stops at fn's first non-zero
 * return. Returns 0 or the first error (LAMINA_ECORRUPT naming the file and offset). */
int index_verify(const struct block_source *src, const struct table_footer *ft,
                 int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h),
                 void *ctx);

/* The kinds (sst/btree.c, sst/fst_index.c). */
extern const struct index_ops btree_index_ops, fst_index_ops;
extern const struct index_builder_ops btree_index_builder_ops, fst_index_builder_ops;
/* Sets ib up as an FST index whose block w writes (sst/fst_index.c). Returns 0. */
int fst_index_builder_init(struct index_builder *ib, struct block_writer *w);

#endif
