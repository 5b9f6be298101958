/* merge_iter.c — the merging iterator: n sorted children merged through a binary heap (a
 * min-heap going forward, a max-heap going backward), with direction switches repositioning
 * the other children as LevelDB's MergingIterator does; and the empty iterator. */
#include "util/alloc.h"
#include "util/iter.h"

#include <stdlib.h>

#include "lamina.h"
#include "util/ikey.h"

struct merge_child {
    iter *it;
    const uint8_t *key; /* cached while the child is valid */
    size_t klen;
};

struct merge_iter {
    iter base;
    struct merge_child *c;
    size_t n;
    size_t *heap; /* child indices of valid children; heap[0] is the current entry */
    size_t hn;
    int forward; /* 1: min-heap, entries ascending; 0: max-heap, descending */
    int err;     /* first child error; sticky */
};

/* Total order of entries: internal key, then child index (lower index = newer = first). */
static int merge_cmp(const struct merge_iter *m, size_t a, size_t b)
{
    int c = ikey_cmp(m->c[a].key, m->c[a].klen, m->c[b].key, m->c[b].klen);
    if (c) return c;
    return a < b ? -1 : a > b;
}

/* Whether child a belongs above child b in the heap of the current direction. */
static int merge_before(const struct merge_iter *m, size_t a, size_t b)
{
    int c = merge_cmp(m, a, b);
    return m->forward ? c < 0 : c > 0;
}

static void merge_sift_down(struct merge_iter *m, size_t i)
{
    size_t *h = m->heap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < m->hn && merge_before(m, h[l], h[best])) best = l;
        if (r < m->hn && merge_before(m, h[r], h[best])) best = r;
        if (best == i) return;
        size_t t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

/* Records rc (or a child's status once it stops being valid) as the merge's error. */
static int merge_note(struct merge_iter *m, size_t i, int rc)
{
    if (!rc && !iter_valid(m->c[i].it)) rc = iter_status(m->c[i].it);
    if (rc && !m->err) m->err = rc;
    return rc;
}

static void merge_load(struct merge_iter *m, size_t i)
{
    m->c[i].key = iter_key(m->c[i].it, &m->c[i].klen);
}

/* Rebuilds the heap from every valid child, for the given direction. */
static int merge_build(struct merge_iter *m, int forward)
{
    m->forward = forward;
    m->hn = 0;
    if (m->err) return m->err;
    for (size_t i = 0; i < m->n; i++) {
        if (!iter_valid(m->c[i].it)) continue;
        merge_load(m, i);
        m->heap[m->hn++] = i;
    }
    for (size_t i = m->hn / 2; i-- > 0;)
        merge_sift_down(m, i);
    return 0;
}

/* Applies a positioning move to every child, then rebuilds the heap. */
static int merge_reposition(struct merge_iter *m, int forward,
                            int (*move)(iter *, const uint8_t *, size_t), int (*move0)(iter *),
                            const uint8_t *k, size_t len)
{
    if (m->err) {
        m->hn = 0;
        return m->err;
    }
    for (size_t i = 0; i < m->n; i++) {
        int rc = move ? move(m->c[i].it, k, len) : move0(m->c[i].it);
        if (merge_note(m, i, rc)) {
            m->hn = 0;
            return m->err;
        }
    }
    return merge_build(m, forward);
}

static int merge_seek(iter *it, const uint8_t *k, size_t len)
{
    return merge_reposition((struct merge_iter *)it, 1, iter_seek, NULL, k, len);
}

static int merge_seek_for_prev(iter *it, const uint8_t *k, size_t len)
{
    return merge_reposition((struct merge_iter *)it, 0, iter_seek_for_prev, NULL, k, len);
}

static int merge_seek_to_first(iter *it)
{
    return merge_reposition((struct merge_iter *)it, 1, NULL, iter_seek_to_first, NULL, 0);
}

static int merge_seek_to_last(iter *it)
{
    return merge_reposition((struct merge_iter *)it, 0, NULL, iter_seek_to_last, NULL, 0);
}

/* Moves the current child one step (forward or back) and restores the heap. */
static int merge_step_top(struct merge_iter *m)
{
    size_t top = m->heap[0];
    iter *c = m->c[top].it;
    int rc = m->forward ? iter_next(c) : iter_prev(c);
    if (merge_note(m, top, rc)) {
        m->hn = 0;
        return m->err;
    }
    if (iter_valid(c)) {
        merge_load(m, top);
    } else {
        m->heap[0] = m->heap[--m->hn];
    }
    if (m->hn) merge_sift_down(m, 0);
    return 0;
}

/* Repositions every child but the current one around the current entry (key k, child cur),
 * so that the heap of the new direction yields the neighbour in the (key, index) order. */
static int merge_switch(struct merge_iter *m, int forward)
{
    size_t cur = m->heap[0];
    const uint8_t *k = m->c[cur].key;
    size_t klen = m->c[cur].klen;
    for (size_t i = 0; i < m->n; i++) {
        if (i == cur) continue;
        iter *c = m->c[i].it;
        int rc = forward ? iter_seek(c, k, klen) : iter_seek_for_prev(c, k, klen);
        if (!rc && iter_valid(c)) {
            size_t l;
            const uint8_t *ck = iter_key(c, &l);
            /* An equal key sits before the current entry if its child is lower, after if
             * higher: step over the ones on the wrong side. */
            if (ikey_cmp(ck, l, k, klen) == 0 && (forward ? i < cur : i > cur))
                rc = forward ? iter_next(c) : iter_prev(c);
        }
        if (merge_note(m, i, rc)) {
            m->hn = 0;
            return m->err;
        }
    }
    /* k still points into the current child, which has not moved: rebuild, keeping it on top. */
    merge_build(m, forward);
    return 0;
}

static int merge_next(iter *it)
{
    struct merge_iter *m = (struct merge_iter *)it;
    if (m->err) return m->err;
    if (m->hn == 0) return 0;
    if (!m->forward) {
        int rc = merge_switch(m, 1);
        if (rc) return rc;
    }
    return merge_step_top(m);
}

static int merge_prev(iter *it)
{
    struct merge_iter *m = (struct merge_iter *)it;
    if (m->err) return m->err;
    if (m->hn == 0) return 0;
    if (m->forward) {
        int rc = merge_switch(m, 0);
        if (rc) return rc;
    }
    return merge_step_top(m);
}

static int merge_valid(const iter *it)
{
    const struct merge_iter *m = (const struct merge_iter *)it;
    return !m->err && m->hn > 0;
}

static const uint8_t *merge_key(const iter *it, size_t *len)
{
    const struct merge_iter *m = (const struct merge_iter *)it;
    const struct merge_child *c = &m->c[m->heap[0]];
    *len = c->klen;
    return c->key;
}

static const uint8_t *merge_value(const iter *it, size_t *len)
{
    const struct merge_iter *m = (const struct merge_iter *)it;
    return iter_value(m->c[m->heap[0]].it, len);
}

static int merge_status(const iter *it)
{
    const struct merge_iter *m = (const struct merge_iter *)it;
    if (m->err) return m->err;
    for (size_t i = 0; i < m->n; i++) {
        int rc = iter_status(m->c[i].it);
        if (rc) return rc;
    }
    return 0;
}

static void merge_destroy(iter *it)
{
    struct merge_iter *m = (struct merge_iter *)it;
    for (size_t i = 0; i < m->n; i++)
        iter_destroy(m->c[i].it);
    mem_free(m->c);
    mem_free(m->heap);
    mem_free(m);
}

static const struct iter_ops merge_ops = {
    .seek = merge_seek,
    .seek_for_prev = merge_seek_for_prev,
    .seek_to_first = merge_seek_to_first,
    .seek_to_last = merge_seek_to_last,
    .next = merge_next,
    .prev = merge_prev,
    .valid = merge_valid,
    .key = merge_key,
    .value = merge_value,
    .status = merge_status,
    .destroy = merge_destroy,
};

iter *merge_iter_create(iter **children, size_t n)
{
    struct merge_iter *m = mem_calloc(1, sizeof(*m));
    if (!m) goto fail;
    m->base.ops = &merge_ops;
    m->forward = 1;
    if (n) {
        m->c = mem_calloc(n, sizeof(*m->c));
        m->heap = mem_calloc(n, sizeof(*m->heap));
        if (!m->c || !m->heap) goto fail;
    }
    for (size_t i = 0; i < n; i++)
        m->c[i].it = children[i];
    m->n = n;
    return &m->base;
fail:
    for (size_t i = 0; i < n; i++)
        iter_destroy(children[i]);
    if (m) {
        mem_free(m->c);
        mem_free(m->heap);
        mem_free(m);
    }
    return NULL;
}

/* ---- The empty iterator ----------------------------------------------------------------- */

struct empty_iter {
    iter base;
    int err;
};

static int empty_seek(iter *it, const uint8_t *k, size_t len)
{
    return ((struct empty_iter *)it)->err;
}
static int empty_move(iter *it)
{
    return ((struct empty_iter *)it)->err;
}
static int empty_valid(const iter *it)
{
    return 0;
}
static const uint8_t *empty_bytes(const iter *it, size_t *len)
{
    *len = 0;
    return NULL;
}
static int empty_status(const iter *it)
{
    return ((const struct empty_iter *)it)->err;
}
static void empty_destroy(iter *it)
{
    mem_free(it);
}

static const struct iter_ops empty_ops = {
    .seek = empty_seek,
    .seek_for_prev = empty_seek,
    .seek_to_first = empty_move,
    .seek_to_last = empty_move,
    .next = empty_move,
    .prev = empty_move,
    .valid = empty_valid,
    .key = empty_bytes,
    .value = empty_bytes,
    .status = empty_status,
    .destroy = empty_destroy,
};

iter *iter_empty_create(int err)
{
    struct empty_iter *e = mem_alloc(sizeof(*e));
    if (!e) return NULL;
    e->base.ops = &empty_ops;
    e->err = err;
    return &e->base;
}
