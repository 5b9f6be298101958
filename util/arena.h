/* arena.h — bump allocator for memtables: many small allocations, freed all at once, and
 * 32-bit references to them (half a pointer: what the memtables' links are made of). */
#ifndef UTIL_ARENA_H
#define UTIL_ARENA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A reference to an allocation: block number << ARENA_REF_OFFSET_BITS | offset / 4. 0 is no
 * allocation. 12 offset bits in 4-byte units reach 16 KiB into a block; 20 block bits allow
 * about a million blocks, so an arena of 16 KiB blocks holds up to 16 GiB. */
typedef uint32_t arena_ref;
#define ARENA_REF_OFFSET_BITS 12
#define ARENA_REF_MAX_BLOCK ((size_t)4 << ARENA_REF_OFFSET_BITS) /* largest block_size for refs */
#define ARENA_REF_MAX_BLOCKS ((size_t)1 << (32 - ARENA_REF_OFFSET_BITS))

typedef struct arena {
    /* Block number -> start of the block, read by any thread holding a reference. Grows by
     * copying; old copies are kept until arena_destroy so a reader never sees one freed. */
    _Atomic(uint8_t **) table;
    size_t nblocks; /* entries in use (entry 0 is the NULL of reference 0) */
    size_t cap;
    size_t cur;       /* block number of the current block */
    void *old_tables; /* earlier copies of table, chained through their entry 0 */
    size_t block_size;
    size_t memory;
    uint8_t *ptr; /* next free byte of the current block */
    size_t left;  /* bytes left in the current block */
} arena;

/* Creates an arena that allocates blocks of block_size bytes (larger requests get a block
 * of their own). Returns NULL on allocation failure. */
arena *arena_create(size_t block_size);
/* Returns n bytes aligned to 8 (or NULL on allocation failure); valid until arena_destroy. */
void *arena_alloc(arena *a, size_t n);
/* Returns n bytes aligned to align (1, 2, 4 or 8; at least 4 when ref is not NULL) and sets
 * *ref (if not NULL) to their reference, or returns
 * NULL (out of memory, or the arena is out of block numbers; err_set either way). The arena's
 * block_size must be at most ARENA_REF_MAX_BLOCK. Only one thread allocates at a time. */
void *arena_alloc_ref(arena *a, size_t n, size_t align, arena_ref *ref);
/* Bytes the arena holds from the allocator: its blocks and tables at their allocator size
 * classes (mem_usable_size), not just what was handed out. */
size_t arena_memory(const arena *a);
void arena_destroy(arena *a);

/* The allocation ref names, or NULL for 0. Safe from any thread that obtained ref through a
 * release/acquire (or data-dependent) chain from the allocating thread. */
static inline void *arena_ptr(const arena *a, arena_ref ref)
{
    uint8_t **t = atomic_load_explicit((_Atomic(uint8_t **) *)&a->table, memory_order_acquire);
    return t[ref >> ARENA_REF_OFFSET_BITS] +
           ((size_t)(ref & ((1u << ARENA_REF_OFFSET_BITS) - 1)) << 2);
}

#endif
