/* iter.h — the one internal iterator interface over internal keys, implemented by memtable,
 * block, table, level (concatenating) and merging iterators. Keys are internal keys
 * (util/ikey.h); key/value pointers are borrowed until the next move. */
#ifndef UTIL_ITER_H
#define UTIL_ITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct iter iter;

struct iter_ops {
    /* Moves return 0, or a LAMINA_E* code (the iterator is then not valid and status keeps it). */
    int (*seek)(iter *it, const uint8_t *ikey, size_t len);          /* first entry >= ikey */
    int (*seek_for_prev)(iter *it, const uint8_t *ikey, size_t len); /* last entry <= ikey */
    int (*seek_to_first)(iter *it);
    int (*seek_to_last)(iter *it);
    int (*next)(iter *it);
    int (*prev)(iter *it);
    int (*valid)(const iter *it);
    const uint8_t *(*key)(const iter *it, size_t *len);
    const uint8_t *(*value)(const iter *it, size_t *len);
    int (*status)(const iter *it);
    void (*destroy)(iter *it);
};

/* Every iterator struct starts with this header. */
struct iter {
    const struct iter_ops *ops;
};

static inline int iter_seek(iter *it, const uint8_t *k, size_t n)
{
    return it->ops->seek(it, k, n);
}
static inline int iter_seek_for_prev(iter *it, const uint8_t *k, size_t n)
{
    return it->ops->seek_for_prev(it, k, n);
}
static inline int iter_seek_to_first(iter *it)
{
    return it->ops->seek_to_first(it);
}
static inline int iter_seek_to_last(iter *it)
{
    return it->ops->seek_to_last(it);
}
static inline int iter_next(iter *it)
{
    return it->ops->next(it);
}
static inline int iter_prev(iter *it)
{
    return it->ops->prev(it);
}
static inline int iter_valid(const iter *it)
{
    return it->ops->valid(it);
}
static inline const uint8_t *iter_key(const iter *it, size_t *n)
{
    return it->ops->key(it, n);
}
static inline const uint8_t *iter_value(const iter *it, size_t *n)
{
    return it->ops->value(it, n);
}
static inline int iter_status(const iter *it)
{
    return it->ops->status(it);
}
static inline void iter_destroy(iter *it)
{
    if (it) it->ops->destroy(it);
}

/* A merging iterator over n children in internal-key order (a binary heap; for equal internal
 * keys, the child with the lower index wins, so pass newer sources first). It takes ownership
 * of the children and destroys them with itself. Returns NULL on allocation failure (the
 * children are then destroyed too). Every entry of every child is yielded: hiding shadowed
 * versions and tombstones is the caller's job. */
iter *merge_iter_create(iter **children, size_t n);

/* An iterator over nothing (always not valid, status 0), or over nothing with status err. */
iter *iter_empty_create(int err);

#endif
