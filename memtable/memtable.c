/* memtable.c — the memtable front: picks the kind's function table at creation, and owns
 * what every kind shares (arena, reference count, freeze flag, reader/writer lock). */
#include "memtable/memtable_int.h"
#include "util/alloc.h"

#include <assert.h>
#include <stdlib.h>

#include "util/err.h"
#include "util/ikey.h"

/* Small arena blocks keep memtable_memory close to the bytes in use even at the smallest
 * write_buffer_size (64 KiB). 64 bytes are left for the arena's block header, so a block plus
 * header fills a 16 KiB allocator size class instead of spilling into the next one. */
#define MEMTABLE_ARENA_BLOCK (16u * 1024u - 64u)

static const struct memtable_ops *const memtable_kinds[] = {
    [MEMTABLE_AVL] = &memtable_avl_ops,
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

int memtable_add(memtable *m, uint64_t seq, int type, const void *ukey, size_t ulen,
                 const void *value, size_t vlen)
{
    assert(!atomic_load_explicit(&m->frozen, memory_order_relaxed));
    assert(seq <= IKEY_MAX_SEQ);
    int rc = m->ops->add(m, ikey_pack(seq, type), ukey, ulen, value, vlen);
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
    uint64_t seq = snapshot_seq > IKEY_MAX_SEQ ? IKEY_MAX_SEQ : snapshot_seq;
    return m->ops->get(m, ukey, ulen, ikey_pack(seq, IKEY_VALUE), type, value, vlen);
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
