/* memtable_int.h — private to the memtable room: the shared memtable struct, the table of
 * function pointers each kind (avl.c, later art.c) fills in, and the reader-lock helpers. */
#ifndef MEMTABLE_MEMTABLE_INT_H
#define MEMTABLE_MEMTABLE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "memtable/memtable.h"
#include "util/arena.h"

struct memtable_ops {
    /* Sets m->tree to an empty structure allocated from m->arena. 0 or LAMINA_ENOMEM. */
    int (*init)(memtable *m);
    /* Copies the entry into the arena, then links it under the write lock. */
    int (*add)(memtable *m, uint64_t trailer, const void *ukey, size_t ulen, const void *value,
               size_t vlen);
    /* First entry >= (ukey, trailer); LAMINA_NOTFOUND if its user key differs. */
    int (*get)(memtable *m, const void *ukey, size_t ulen, uint64_t trailer, int *type,
               const uint8_t **value, size_t *vlen);
    iter *(*iter_create)(memtable *m);
};

struct memtable {
    const struct memtable_ops *ops;
    atomic_long refs;
    atomic_int frozen;
    atomic_size_t memory; /* arena_memory after the last add, readable from any thread */
    atomic_size_t count;
    arena *arena;
    pthread_rwlock_t lock; /* guards the tree's links while mutable */
    void *tree;
};

/* Readers lock shared while the memtable is mutable and skip the lock once frozen. Returns
 * whether the lock was taken; pass it to memtable_read_unlock. */
static inline bool memtable_read_lock(memtable *m)
{
    if (atomic_load_explicit(&m->frozen, memory_order_acquire)) return false;
    pthread_rwlock_rdlock(&m->lock);
    return true;
}
static inline void memtable_read_unlock(memtable *m, bool locked)
{
    if (locked) pthread_rwlock_unlock(&m->lock);
}

extern const struct memtable_ops memtable_avl_ops;

/* Height of the AVL tree of an AVL memtable (0 when empty), for tests of its balance. */
int avl_height(memtable *m);

#endif
