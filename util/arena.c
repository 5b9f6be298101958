/* arena.c — bump allocator for memtables: blocks carved front to back, 8-byte aligned,
 * all released at once (the Arena of LevelDB's memtable). */
#include "util/arena.h"
#include "util/alloc.h"

#include <stdint.h>
#include <stdlib.h>

struct arena_block {
    struct arena_block *next;
    size_t size;
    /* 8-aligned payload follows */
};

struct arena {
    size_t block_size;
    size_t memory;
    struct arena_block *blocks;
    uint8_t *ptr; /* next free byte of the current block */
    size_t left;  /* bytes left in the current block */
};

#define ARENA_ALIGN 8
#define ARENA_HDR ((sizeof(struct arena_block) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

arena *arena_create(size_t block_size)
{
    arena *a = mem_calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->block_size = block_size < 256 ? 256 : block_size;
    return a;
}

static uint8_t *arena_new_block(arena *a, size_t size)
{
    if (size > SIZE_MAX - ARENA_HDR) return NULL;
    struct arena_block *b = mem_alloc(ARENA_HDR + size);
    if (!b) return NULL;
    b->next = a->blocks;
    b->size = size;
    a->blocks = b;
    a->memory += ARENA_HDR + size;
    return (uint8_t *)b + ARENA_HDR;
}

void *arena_alloc(arena *a, size_t n)
{
    if (n == 0) n = 1;
    if (n > SIZE_MAX - ARENA_ALIGN) return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need <= a->left) {
        void *p = a->ptr;
        a->ptr += need;
        a->left -= need;
        return p;
    }
    /* Big requests get their own block so the current block's tail is not wasted. */
    if (need > a->block_size / 4) return arena_new_block(a, need);
    uint8_t *p = arena_new_block(a, a->block_size);
    if (!p) return NULL;
    a->ptr = p + need;
    a->left = a->block_size - need;
    return p;
}

size_t arena_memory(const arena *a)
{
    return a->memory;
}

void arena_destroy(arena *a)
{
    if (!a) return;
    struct arena_block *b = a->blocks;
    while (b) {
        struct arena_block *next = b->next;
        mem_free(b);
        b = next;
    }
    mem_free(a);
}
