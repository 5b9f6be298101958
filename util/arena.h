/* arena.h — bump allocator for memtables: many small allocations, freed all at once. */
#ifndef UTIL_ARENA_H
#define UTIL_ARENA_H

#include <stddef.h>

typedef struct arena arena;

/* Creates an arena that allocates blocks of block_size bytes (larger requests get a block
 * of their own). Returns NULL on allocation failure. */
arena *arena_create(size_t block_size);
/* Returns n bytes aligned to 8 (or NULL on allocation failure); valid until arena_destroy. */
void *arena_alloc(arena *a, size_t n);
/* Bytes the arena holds from the allocator (blocks, not just what was handed out). */
size_t arena_memory(const arena *a);
void arena_destroy(arena *a);

#endif
