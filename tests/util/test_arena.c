/* Tests of util/arena.h: alignment, large allocations, memory accounting. */
#include <criterion/criterion.h>

#include <stdint.h>

#include "util/alloc.h"
#include "util/arena.h"
#include "util/rng.h"

Test(arena, allocations_are_8_byte_aligned_and_disjoint)
{
    arena *a = arena_create(4096);
    cr_assert_not_null(a);
    rng r;
    rng_seed(&r, 7);
    uint8_t *ptrs[2000];
    size_t lens[2000];
    for (size_t i = 0; i < 2000; i++) {
        lens[i] = 1 + rng_uniform(&r, 100);
        ptrs[i] = arena_alloc(a, lens[i]);
        cr_assert_not_null(ptrs[i]);
        cr_assert_eq((uintptr_t)ptrs[i] % 8, 0u, "allocation %zu misaligned", i);
        memset(ptrs[i], (int)(i & 0xff), lens[i]);
    }
    /* Writing every allocation with its own byte and reading back proves no overlap. */
    for (size_t i = 0; i < 2000; i++)
        for (size_t j = 0; j < lens[i]; j++)
            cr_assert_eq(ptrs[i][j], (uint8_t)(i & 0xff));
    arena_destroy(a);
}

Test(arena, large_request_gets_its_own_block)
{
    arena *a = arena_create(4096);
    uint8_t *small = arena_alloc(a, 16);
    size_t before = arena_memory(a);
    cr_assert(before >= 4096);
    uint8_t *big = arena_alloc(a, 1 << 20);
    cr_assert_not_null(big);
    cr_assert_eq((uintptr_t)big % 8, 0u);
    memset(big, 0xab, 1 << 20);
    cr_assert(arena_memory(a) >= before + (1 << 20));
    /* The current block is still used for small requests after the big one. */
    size_t after_big = arena_memory(a);
    uint8_t *small2 = arena_alloc(a, 16);
    cr_assert_eq(arena_memory(a), after_big);
    cr_assert_eq(small2, small + 16);
    arena_destroy(a);
}

Test(arena, memory_counts_blocks_not_bytes_handed_out)
{
    arena *a = arena_create(8192);
    size_t empty = arena_memory(a); /* the arena and its block table */
    cr_assert(empty > 0 && empty < 1024);
    arena_alloc(a, 1);
    size_t one = arena_memory(a);
    cr_assert(one >= empty + 8192);
    size_t total = 8;
    while (total + 8 <= 8192) {
        arena_alloc(a, 8);
        total += 8;
    }
    cr_assert_eq(arena_memory(a), one);
    for (int i = 0; i < 4096; i++)
        arena_alloc(a, 8);
    cr_assert(arena_memory(a) >= 2 * one - empty);
    arena_destroy(a);
}

Test(arena, memory_is_what_the_allocator_holds)
{
    /* A block of 5000 bytes sits in a larger size class: the arena counts the class. */
    arena *a = arena_create(5000);
    size_t empty = arena_memory(a);
    void *p = arena_alloc(a, 8);
    cr_assert_not_null(p);
    cr_assert_eq(arena_memory(a) - empty, mem_usable_size((uint8_t *)p));
    cr_assert(arena_memory(a) - empty >= 5000);
    arena_destroy(a);
}

Test(arena, references_resolve_to_their_allocations)
{
    /* Many blocks (the table grows several times), big blocks between small ones, mixed
     * alignments: every reference still resolves to its bytes. */
    arena *a = arena_create(ARENA_REF_MAX_BLOCK);
    rng r;
    rng_seed(&r, 11);
    enum { N = 20000 };
    static arena_ref refs[N];
    static uint8_t *ptrs[N];
    static size_t lens[N];
    for (size_t i = 0; i < N; i++) {
        size_t align = (size_t)1 << rng_uniform(&r, 4);
        lens[i] = i % 997 == 0 ? 9000 + rng_uniform(&r, 20000) : 1 + rng_uniform(&r, 60);
        ptrs[i] = arena_alloc_ref(a, lens[i], align, &refs[i]);
        cr_assert_not_null(ptrs[i]);
        cr_assert_neq(refs[i], 0u);
        cr_assert_eq((uintptr_t)ptrs[i] % align, 0u);
        memset(ptrs[i], (int)(i & 0xff), lens[i]);
    }
    cr_assert_null(arena_ptr(a, 0));
    for (size_t i = 0; i < N; i++) {
        cr_assert_eq(arena_ptr(a, refs[i]), ptrs[i], "reference %zu", i);
        for (size_t j = 0; j < lens[i]; j++)
            cr_assert_eq(ptrs[i][j], (uint8_t)(i & 0xff));
    }
    arena_destroy(a);
}

Test(arena, zero_byte_request_returns_distinct_pointers)
{
    arena *a = arena_create(1024);
    void *p = arena_alloc(a, 0), *q = arena_alloc(a, 0);
    cr_assert(p && q && p != q);
    arena_destroy(a);
}
