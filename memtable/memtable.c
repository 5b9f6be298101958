/* memtable.c — the memtable front: picks the kind's function table at creation, and owns
 * what every kind shares (arena, reference count, freeze flag, reader/writer lock). */
#include "memtable/memtable_int.h"
#include "util/alloc.h"

#include <assert.h>
#include <stdlib.h>

#include "util/err.h"
#include "util/ikey.h"
#include "util/range_del.h"

/* Small arena blocks keep memtable_memory close to the bytes in use even at the smallest
 * write_buffer_size (64 KiB). 64 bytes are left for the arena's block header, so a block plus
 * header fills a 16 KiB allocator size class instead of spilling into the next one. */
#define MEMTABLE_ARENA_BLOCK (16u * 1024u - 64u)

static const struct memtable_ops *const memtable_kinds[] = {
    [MEMTABLE_AVL] = &memtable_avl_ops,
    [MEMTABLE_ART] = &memtable_art_ops,
};

memtable *memtable_create(enum memtable_kind kind)
{
    if ((unsigned)kind >= sizeof memtable_kinds / sizeof memtable_kinds[0]) {
        err_set(LAMINA_EINVAL, "memtable: unknown kind %d", (int)kind);
        return NULL;
    }
    memtable *m = mem_calloc(1, sizeof *m);
    if (!m) goto err;
    m->ops = memtable_kinds[kind];
    atomic_init(&m->refs, 1);
    atomic_init(&m->frozen, 0);
    atomic_init(&m->count, 0);
    atomic_init(&m->rdel, NULL);
    atomic_init(&m->nrdel, 0);
    /* Readers lock once per step and never stop while a scan runs; the writer's flag turns
     * new readers away, so a steady stream of readers cannot starve memtable_add. */
    atomic_init(&m->lock, 0);
    m->arena = arena_create(MEMTABLE_ARENA_BLOCK);
    if (!m->arena || m->ops->init(m) != 0) goto err;
    atomic_init(&m->memory, arena_memory(m->arena));
    return m;

err:
    if (m) {
        if (m->arena) arena_destroy(m->arena);
        mem_free(m);
    }
    err_set(LAMINA_ENOMEM, "memtable: out of memory creating a memtable");
    return NULL;
}

void memtable_ref(memtable *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void memtable_unref(memtable *m)
{
    if (!m) return;
    long prev = atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel);
    assert(prev > 0);
    if (prev != 1) return;
    arena_destroy(m->arena);
    mem_free(m);
}

/* Prepends a range tombstone to m's list; readers see it whole once the head points at it. */
static int memtable_add_range_del(memtable *m, uint64_t seq, const void *begin, size_t blen,
                                  const void *end, size_t elen)
{
    struct memtable_rdel *r = arena_alloc(m->arena, sizeof(*r) + blen + elen);
    if (!r) return err_set(LAMINA_ENOMEM, "memtable: out of memory for a range tombstone");
    r->seq = seq;
    r->begin_len = blen;
    r->end_len = elen;
    if (blen) memcpy(r->data, begin, blen);
    if (elen) memcpy(r->data + blen, end, elen);
    r->next = atomic_load_explicit(&m->rdel, memory_order_relaxed);
    atomic_store_explicit(&m->rdel, r, memory_order_release);
    atomic_fetch_add_explicit(&m->nrdel, 1, memory_order_relaxed);
    return 0;
}

int memtable_add(memtable *m, uint64_t seq, int type, const void *ukey, size_t ulen,
                 const void *value, size_t vlen)
{
    assert(!atomic_load_explicit(&m->frozen, memory_order_relaxed));
    assert(seq <= IKEY_MAX_SEQ);
    int rc = type == IKEY_RANGE_DELETION
                 ? memtable_add_range_del(m, seq, ukey, ulen, value, vlen)
                 : m->ops->add(m, ikey_pack(seq, type), ukey, ulen, value, vlen);
    if (rc != 0) return rc;
    atomic_store_explicit(&m->memory, arena_memory(m->arena), memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    return 0;
}

int memtable_get(memtable *m, const void *ukey, size_t ulen, uint64_t snapshot_seq, int *type,
                 const uint8_t **value, size_t *vlen)
{
    /* (ukey, snapshot, IKEY_VALUE) sorts before every entry of ukey with seq <= snapshot and
     * after every newer one, so the first entry at or past it is the visible version. */
    uint64_t seq = snapshot_seq > IKEY_MAX_SEQ ? IKEY_MAX_SEQ : snapshot_seq, found = 0;
    int rc = m->ops->get(m, ukey, ulen, ikey_pack(seq, IKEY_VALUE), &found, value, vlen);
    if (rc && rc != LAMINA_NOTFOUND) return rc;
    /* The newest visible tombstone covering ukey; the list is walked whole (tombstones are few
     * next to point entries; a table keeps its own fragmented for a binary search). */
    uint64_t tomb = 0;
    for (const struct memtable_rdel *r = atomic_load_explicit(&m->rdel, memory_order_acquire); r;
         r = r->next)
        if (r->seq <= seq && r->seq > tomb &&
            ikey_user_cmp(r->data, r->begin_len, ukey, ulen) <= 0 &&
            ikey_user_cmp(ukey, ulen, r->data + r->begin_len, r->end_len) < 0)
            tomb = r->seq;
    if (tomb && (rc == LAMINA_NOTFOUND || (found >> 8) < tomb)) {
        *type = IKEY_DELETION;
        *value = NULL;
        *vlen = 0;
        return 0;
    }
    if (rc == 0) *type = (int)(found & 0xff);
    return rc;
}

size_t memtable_range_del_count(const memtable *m)
{
    return atomic_load_explicit(&m->nrdel, memory_order_relaxed);
}

int memtable_range_dels(memtable *m, struct range_del_builder *b)
{
    for (const struct memtable_rdel *r = atomic_load_explicit(&m->rdel, memory_order_acquire); r;
         r = r->next) {
        int rc = range_del_builder_add(b, r->data, r->begin_len, r->data + r->begin_len, r->end_len,
                                       r->seq);
        if (rc) return rc;
    }
    return 0;
}

size_t memtable_memory(const memtable *m)
{
    return atomic_load_explicit(&m->memory, memory_order_relaxed);
}

size_t memtable_count(const memtable *m)
{
    return atomic_load_explicit(&m->count, memory_order_relaxed);
}

void memtable_freeze(memtable *m)
{
    atomic_store_explicit(&m->frozen, 1, memory_order_release);
}

iter *memtable_iter_create(memtable *m)
{
    return m->ops->iter_create(m);
}

/* ---- prefix iterator over any kind ----------------------------------------------------- */

/* Wraps a whole-memtable iterator: seeks are clamped into the prefix's key range and every
 * position outside it reads as not valid. For kinds without a subtree walk of their own. */
struct prefix_iter {
    iter base;
    iter *in;
    int valid;
    size_t plen;
    uint8_t *prefix; /* prefix ‖ trailer UINT64_MAX: an internal key before all of its entries */
    size_t slen;     /* successor length, 0 when the prefix has none (all 0xff bytes) */
    uint8_t *succ;   /* successor ‖ trailer UINT64_MAX: the first key past the prefix's range */
    uint8_t buf[];
};

static int prefix_iter_settle(struct prefix_iter *p)
{
    size_t len;
    const uint8_t *k = iter_valid(p->in) ? iter_key(p->in, &len) : NULL;
    p->valid = k && len - IKEY_TRAILER >= p->plen && memcmp(k, p->prefix, p->plen) == 0;
    return iter_status(p->in);
}

/* Probes are full internal keys: a bare user key is told apart only below 8 bytes, and a
 * prefix may be longer. Trailer UINT64_MAX sorts before every real entry of its user key. */
static int prefix_iter_seek_to_first(iter *base)
{
    struct prefix_iter *p = (struct prefix_iter *)base;
    iter_seek(p->in, p->prefix, p->plen + IKEY_TRAILER);
    return prefix_iter_settle(p);
}

static int prefix_iter_seek_to_last(iter *base)
{
    struct prefix_iter *p = (struct prefix_iter *)base;
    if (p->slen == 0)
        iter_seek_to_last(p->in);
    else
        iter_seek_for_prev(p->in, p->succ, p->slen + IKEY_TRAILER); /* all before the successor */
    return prefix_iter_settle(p);
}

static int prefix_iter_seek(iter *base, const uint8_t *k, size_t len)
{
    struct prefix_iter *p = (struct prefix_iter *)base;
    int place = memtable_prefix_place(p->prefix, p->plen, k, len);
    if (place < 0) return prefix_iter_seek_to_first(base);
    if (place > 0) {
        p->valid = 0;
        return 0;
    }
    iter_seek(p->in, k, len);
    return prefix_iter_settle(p);
}

static int prefix_iter_seek_for_prev(iter *base, const uint8_t *k, size_t len)
{
    struct prefix_iter *p = (struct prefix_iter *)base;
    int place = memtable_prefix_place(p->prefix, p->plen, k, len);
    if (place > 0) return prefix_iter_seek_to_last(base);
    if (place < 0) {
        p->valid = 0;
        return 0;
    }
    iter_seek_for_prev(p->in, k, len);
    return prefix_iter_settle(p);
}

static int prefix_iter_next(iter *base)
{
    struct prefix_iter *p = (struct prefix_iter *)base;
    if (!p->valid) return 0;
    iter_next(p->in);
    return prefix_iter_settle(p);
}

static int prefix_iter_prev(iter *base)
{
    struct prefix_iter *p = (struct prefix_iter *)base;
    if (!p->valid) return 0;
    iter_prev(p->in);
    return prefix_iter_settle(p);
}

static int prefix_iter_valid(const iter *base)
{
    return ((const struct prefix_iter *)base)->valid;
}

static const uint8_t *prefix_iter_key(const iter *base, size_t *len)
{
    const struct prefix_iter *p = (const struct prefix_iter *)base;
    if (!p->valid) {
        *len = 0;
        return NULL;
    }
    return iter_key(p->in, len);
}

static const uint8_t *prefix_iter_value(const iter *base, size_t *len)
{
    const struct prefix_iter *p = (const struct prefix_iter *)base;
    if (!p->valid) {
        *len = 0;
        return NULL;
    }
    return iter_value(p->in, len);
}

static int prefix_iter_status(const iter *base)
{
    return iter_status(((const struct prefix_iter *)base)->in);
}

static void prefix_iter_destroy(iter *base)
{
    struct prefix_iter *p = (struct prefix_iter *)base;
    iter_destroy(p->in);
    mem_free(p);
}

static const struct iter_ops prefix_iter_ops = {
    .seek = prefix_iter_seek,
    .seek_for_prev = prefix_iter_seek_for_prev,
    .seek_to_first = prefix_iter_seek_to_first,
    .seek_to_last = prefix_iter_seek_to_last,
    .next = prefix_iter_next,
    .prev = prefix_iter_prev,
    .valid = prefix_iter_valid,
    .key = prefix_iter_key,
    .value = prefix_iter_value,
    .status = prefix_iter_status,
    .destroy = prefix_iter_destroy,
};

iter *memtable_prefix_iter_create(memtable *m, const void *prefix, size_t plen)
{
    if (plen == 0) return memtable_iter_create(m);
    if (m->ops->prefix_iter_create) return m->ops->prefix_iter_create(m, prefix, plen);
    struct prefix_iter *p = mem_alloc(sizeof *p + 2 * (plen + IKEY_TRAILER));
    iter *in = p ? memtable_iter_create(m) : NULL;
    if (!in) {
        mem_free(p);
        err_set(LAMINA_ENOMEM, "memtable: cannot allocate an iterator");
        return NULL;
    }
    p->base.ops = &prefix_iter_ops;
    p->in = in;
    p->valid = 0;
    p->plen = plen;
    p->prefix = p->buf;
    memcpy(p->prefix, prefix, plen);
    coding_put_fixed64(p->prefix + plen, UINT64_MAX);
    /* The successor is the prefix with its last non-0xff byte incremented, the 0xff bytes after
     * it dropped. */
    p->succ = p->buf + plen + IKEY_TRAILER;
    p->slen = plen;
    while (p->slen > 0 && p->prefix[p->slen - 1] == 0xff)
        p->slen--;
    memcpy(p->succ, prefix, p->slen);
    if (p->slen) p->succ[p->slen - 1]++;
    coding_put_fixed64(p->succ + p->slen, UINT64_MAX);
    return &p->base;
}
