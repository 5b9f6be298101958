/* arena.c — bump allocator for memtables: blocks carved front to back, all released at once
 * (the Arena of LevelDB's memtable), with a block table that turns 32-bit references back
 * into pointers. */
#include "util/arena.h"
#include "util/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lamina.h"
#include "util/err.h"

arena *arena_create(size_t block_size)
{
    arena *a = mem_calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->block_size = block_size < 256 ? 256 : block_size;
    a->cap = 16;
    uint8_t **t = mem_calloc(a->cap, sizeof *t);
    if (!t) {
        mem_free(a);
        return NULL;
    }
    atomic_init(&a->table, t);
    a->nblocks = 1; /* entry 0 stays NULL: reference 0 */
    a->memory = mem_usable_size(a) + mem_usable_size(t);
    return a;
}

/* Adds a block of size bytes to the table; NULL when out of memory or block numbers. */
static uint8_t *arena_new_block(arena *a, size_t size)
{
    uint8_t **t = atomic_load_explicit(&a->table, memory_order_relaxed);
    if (a->nblocks == a->cap) {
        if (a->cap >= ARENA_REF_MAX_BLOCKS) return NULL;
        uint8_t **grown = mem_calloc(a->cap * 2, sizeof *grown);
        if (!grown) return NULL;
        memcpy(grown, t, a->nblocks * sizeof *t);
        /* Readers may still hold the old copy: chain it (its entry 0 is free) for destroy. */
        t[0] = a->old_tables;
        a->old_tables = t;
        a->memory += mem_usable_size(grown);
        a->cap *= 2;
        t = grown;
        atomic_store_explicit(&a->table, t, memory_order_release);
    }
    uint8_t *b = mem_alloc(size);
    if (!b) return NULL;
    t[a->nblocks++] = b;
    a->memory += mem_usable_size(b);
    return b;
}

void *arena_alloc_ref(arena *a, size_t n, size_t align, arena_ref *ref)
{
    if (n == 0) n = 1;
    if (n > SIZE_MAX / 2) goto nomem;
    if (ref && align < 4) align = 4; /* references count 4-byte units */
    size_t pad = (size_t)(-(uintptr_t)a->ptr & (align - 1)), block;
    uint8_t *p;
    if (a->ptr && n + pad <= a->left) {
        p = a->ptr + pad;
        a->ptr = p + n;
        a->left -= n + pad;
        block = a->cur;
    } else if (n > a->block_size / 4) {
        /* Big requests get their own block so the current block's tail is not wasted. */
        if (!(p = arena_new_block(a, n))) goto nomem;
        block = a->nblocks - 1;
    } else {
        if (!(p = arena_new_block(a, a->block_size))) goto nomem;
        a->ptr = p + n;
        a->left = a->block_size - n;
        block = a->cur = a->nblocks - 1;
    }
    if (ref) {
        /* Blocks come from the allocator 8-aligned, so an offset is a multiple of align. */
        uint8_t **t = atomic_load_explicit(&a->table, memory_order_relaxed);
        *ref = (arena_ref)(block << ARENA_REF_OFFSET_BITS | (size_t)(p - t[block]) >> 2);
    }
    return p;
nomem:
    err_set(LAMINA_ENOMEM, "arena: cannot allocate %zu bytes (%zu blocks held)", n, a->nblocks - 1);
    return NULL;
}

void *arena_alloc(arena *a, size_t n)
{
    return arena_alloc_ref(a, n, 8, NULL);
}

size_t arena_memory(const arena *a)
{
    return a->memory;
}

void arena_destroy(arena *a)
{
    if (!a) return;
    uint8_t **t = atomic_load_explicit(&a->table, memory_order_relaxed);
    for (size_t i = 1; i < a->nblocks; i++)
        mem_free(t[i]);
    mem_free(t);
    for (void *o = a->old_tables; o;) {
        void *next = ((void **)o)[0];
        mem_free(o);
        o = next;
    }
    mem_free(a);
}
