/* memtable_int.h — private to the memtable room: the shared memtable struct, the table of
 * function pointers each kind (avl.c, later art.c) fills in, and the reader-lock helpers. */
#ifndef MEMTABLE_MEMTABLE_INT_H
#define MEMTABLE_MEMTABLE_INT_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "memtable/memtable.h"
#include "util/arena.h"
#include "util/ikey.h"

struct memtable_ops {
    /* Sets m->tree to an empty structure allocated from m->arena. 0 or LAMINA_ENOMEM. */
    int (*init)(memtable *m);
    /* Copies the entry into the arena, then makes it visible to readers (the AVL links it
     * under the write lock; the ART publishes it with release stores). */
    int (*add)(memtable *m, uint64_t trailer, const void *ukey, size_t ulen, const void *value,
               size_t vlen);
    /* First entry >= (ukey, trailer), its trailer in *found; LAMINA_NOTFOUND if its user key
     * differs. */
    int (*get)(memtable *m, const void *ukey, size_t ulen, uint64_t trailer, uint64_t *found,
               const uint8_t **value, size_t *vlen);
    iter *(*iter_create)(memtable *m);
    /* An iterator over the user keys starting with prefix (plen > 0, copied), visiting only
     * that part of the structure; NULL here makes memtable.c wrap iter_create instead. */
    iter *(*prefix_iter_create)(memtable *m, const void *prefix, size_t plen);
};

struct memtable {
    const struct memtable_ops *ops;
    atomic_long refs;
    atomic_int frozen;
    atomic_size_t memory; /* arena_memory after the last add, readable from any thread */
    atomic_size_t count;
    arena *arena;
    atomic_uint lock; /* guards the tree's links while mutable: MEMTABLE_WRITER | readers */
    void *tree;
    /* Range tombstones, newest first: a list the one writer prepends to (release store) and
     * readers walk without a lock, apart from the tree so point lookups stay as they were. */
    _Atomic(struct memtable_rdel *) rdel;
    atomic_size_t nrdel;
};

/* A range tombstone [begin, end) at seq; begin and end bytes follow the struct. */
struct memtable_rdel {
    struct memtable_rdel *next;
    uint64_t seq;
    size_t begin_len, end_len;
    uint8_t data[];
};

/* The lock is a spinning reader-writer lock: the writer's critical section (link and
 * rebalance, well under a microsecond) is far shorter than a futex sleep and wake-up, which
 * made readers of a pthread rwlock wait tens of microseconds behind a busy writer. The one
 * writer sets MEMTABLE_WRITER, which turns new readers away, and waits for the readers inside
 * to leave; waiters yield the CPU after a short spin, since on few cores the thread they wait
 * for may need it. */
#define MEMTABLE_WRITER 0x80000000u

static inline void memtable_lock_pause(unsigned *spins)
{
    if (++*spins >= 64) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Readers lock shared while the memtable is mutable and skip the lock once frozen. Returns
 * whether the lock was taken; pass it to memtable_read_unlock. */
static inline bool memtable_read_lock(memtable *m)
{
    if (atomic_load_explicit(&m->frozen, memory_order_acquire)) return false;
    unsigned spins = 0;
    while (atomic_fetch_add_explicit(&m->lock, 1, memory_order_acquire) & MEMTABLE_WRITER) {
        atomic_fetch_sub_explicit(&m->lock, 1, memory_order_relaxed);
        while (atomic_load_explicit(&m->lock, memory_order_relaxed) & MEMTABLE_WRITER)
            memtable_lock_pause(&spins);
    }
    return true;
}
static inline void memtable_read_unlock(memtable *m, bool locked)
{
    if (locked) atomic_fetch_sub_explicit(&m->lock, 1, memory_order_release);
}

/* Exclusive lock of the one writer (memtable_add is never called concurrently). */
static inline void memtable_write_lock(memtable *m)
{
    unsigned spins = 0;
    atomic_fetch_or_explicit(&m->lock, MEMTABLE_WRITER, memory_order_acquire);
    while (atomic_load_explicit(&m->lock, memory_order_acquire) != MEMTABLE_WRITER)
        memtable_lock_pause(&spins);
}
static inline void memtable_write_unlock(memtable *m)
{
    atomic_fetch_and_explicit(&m->lock, ~MEMTABLE_WRITER, memory_order_release);
}

/* Splits an iterator's probe: an internal key, or a bare user key (shorter than a trailer)
 * placed before all of its versions (trailer UINT64_MAX). */
static inline void memtable_split_probe(const uint8_t *ik, size_t len, size_t *ulen,
                                        uint64_t *trailer)
{
    if (len < IKEY_TRAILER) {
        *ulen = len;
        *trailer = UINT64_MAX;
    } else {
        *ulen = len - IKEY_TRAILER;
        *trailer = ikey_trailer(ik, len);
    }
}

/* Where a probe (as memtable_split_probe reads it) falls against the key range of a prefix
 * (plen bytes): -1 before it, 0 inside, 1 after it. */
static inline int memtable_prefix_place(const uint8_t *prefix, size_t plen, const uint8_t *k,
                                        size_t len)
{
    size_t ulen = len < IKEY_TRAILER ? len : len - IKEY_TRAILER;
    size_t n = ulen < plen ? ulen : plen;
    int c = n ? memcmp(k, prefix, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return ulen < plen ? -1 : 0;
}

extern const struct memtable_ops memtable_avl_ops;
extern const struct memtable_ops memtable_art_ops;

/* Height of the AVL tree of an AVL memtable (0 when empty), for tests of its balance. */
int avl_height(memtable *m);

#endif
