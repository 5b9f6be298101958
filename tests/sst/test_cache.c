/* test_cache.c — the block cache: the byte capacity holds, eviction follows LRU order, a pinned
 * block outlives its eviction, capacity 0 keeps nothing, lookups agree with the bytes held
 * through heavy churn, and four threads may use it at once (run under
 * TSan). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "sst/cache.h"
#include "util/rng.h"

/* A block whose bytes name its key, so a wrong block is noticed. */
static struct cache_block *make_block(uint64_t file, uint64_t off, size_t size)
{
    struct cache_block *b = cache_block_alloc(size);
    cr_assert_not_null(b);
    b->size = size;
    for (size_t i = 0; i < size; i++)
        b->data[i] = (uint8_t)(file * 31 + off + i);
    return b;
}

static int block_matches(const struct cache_block *b, uint64_t file, uint64_t off)
{
    for (size_t i = 0; i < b->size; i++)
        if (b->data[i] != (uint8_t)(file * 31 + off + i)) return 0;
    return 1;
}

static void put(block_cache *c, uint64_t file, uint64_t off, size_t size)
{
    struct cache_block *b = make_block(file, off, size);
    block_cache_insert(c, file, off, b);
    cache_block_release(b);
}

static int present(block_cache *c, uint64_t file, uint64_t off)
{
    struct cache_block *b = block_cache_lookup(c, file, off);
    if (!b) return 0;
    cr_assert(block_matches(b, file, off));
    cache_block_release(b);
    return 1;
}

Test(cache, capacity_in_bytes_is_respected)
{
    int shard_counts[] = {1, 4, 16};
    for (int s = 0; s < 3; s++) {
        block_cache *c = block_cache_create(100000, shard_counts[s]);
        cr_assert_not_null(c);
        for (uint64_t i = 0; i < 2000; i++) {
            put(c, 1, i * 4096, 1000 + i % 500);
            uint64_t bytes;
            block_cache_stats(c, NULL, NULL, &bytes);
            cr_assert_leq(bytes, 100000, "%llu bytes held", (unsigned long long)bytes);
        }
        uint64_t bytes;
        block_cache_stats(c, NULL, NULL, &bytes);
        cr_assert_gt(bytes, 50000, "the cache should be well used, holds %llu",
                     (unsigned long long)bytes);
        block_cache_destroy(c);
    }
}

Test(cache, least_recently_used_block_is_evicted_first)
{
    /* Room for three 1000-byte blocks plus overhead, not four. */
    block_cache *c = block_cache_create(3 * 1000 + 600, 1);
    put(c, 1, 0, 1000);
    put(c, 1, 1, 1000);
    put(c, 1, 2, 1000);
    cr_assert(present(c, 1, 0)); /* 0 becomes the most recent: 1 is now the oldest */
    put(c, 1, 3, 1000);
    cr_assert(!present(c, 1, 1), "the least recently used block goes first");
    cr_assert(present(c, 1, 0));
    cr_assert(present(c, 1, 2));
    cr_assert(present(c, 1, 3));
    uint64_t hits, misses;
    block_cache_stats(c, &hits, &misses, NULL);
    cr_assert_eq(hits, 4);
    cr_assert_eq(misses, 1);
    block_cache_destroy(c);
}

Test(cache, pinned_block_survives_eviction)
{
    block_cache *c = block_cache_create(5000, 1);
    struct cache_block *pinned = make_block(9, 0, 1000);
    block_cache_insert(c, 9, 0, pinned);
    for (uint64_t i = 1; i < 50; i++)
        put(c, 9, i, 1000);
    cr_assert(!present(c, 9, 0), "evicted from the cache");
    cr_assert(block_matches(pinned, 9, 0), "but its bytes are still there for the pinner");
    cache_block_release(pinned);
    block_cache_destroy(c);
}

Test(cache, block_pinned_at_destroy_outlives_the_cache)
{
    block_cache *c = block_cache_create(1 << 20, 2);
    put(c, 3, 7, 500);
    struct cache_block *b = block_cache_lookup(c, 3, 7);
    cr_assert_not_null(b);
    block_cache_destroy(c);
    cr_assert(block_matches(b, 3, 7));
    cache_block_release(b);
}

Test(cache, capacity_zero_keeps_nothing)
{
    block_cache *c = block_cache_create(0, 4);
    cr_assert_not_null(c);
    put(c, 1, 0, 100);
    cr_assert(!present(c, 1, 0));
    uint64_t bytes;
    block_cache_stats(c, NULL, NULL, &bytes);
    cr_assert_eq(bytes, 0);
    block_cache_destroy(c);
}

Test(cache, reinsert_replaces_the_older_block)
{
    block_cache *c = block_cache_create(1 << 20, 1);
    struct cache_block *old = make_block(4, 4, 100);
    block_cache_insert(c, 4, 4, old);
    put(c, 4, 4, 200);
    struct cache_block *b = block_cache_lookup(c, 4, 4);
    cr_assert_eq(b->size, 200);
    cr_assert(block_matches(old, 4, 4));
    cache_block_release(b);
    cache_block_release(old);
    uint64_t bytes;
    block_cache_stats(c, NULL, NULL, &bytes);
    cr_assert_lt(bytes, 1000, "only the newer block is charged");
    block_cache_destroy(c);
}

struct worker {
    block_cache *c;
    int id;
    int bad;
};

static void *cache_worker(void *p)
{
    struct worker *w = p;
    rng r;
    rng_seed(&r, (uint64_t)w->id);
    struct cache_block *held[8] = {0};
    uint64_t held_off[8];
    for (int i = 0; i < 50000; i++) {
        uint64_t off = rng_uniform(&r, 500);
        struct cache_block *b = block_cache_lookup(w->c, 1, off);
        if (!b) {
            b = make_block(1, off, 64 + off % 200);
            block_cache_insert(w->c, 1, off, b);
        }
        if (!block_matches(b, 1, off)) w->bad = 1;
        int slot = (int)rng_uniform(&r, 8);
        if (held[slot] && !block_matches(held[slot], 1, held_off[slot])) w->bad = 1;
        cache_block_release(held[slot]);
        held[slot] = b;
        held_off[slot] = off;
    }
    for (int s = 0; s < 8; s++)
        cache_block_release(held[s]);
    return NULL;
}

Test(cache, four_threads_share_the_cache)
{
    block_cache *c = block_cache_create(20000, 4);
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){c, i + 1, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, cache_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(w[i].bad, 0, "thread %d saw a wrong block", i);
    }
    uint64_t hits, misses, bytes;
    block_cache_stats(c, &hits, &misses, &bytes);
    cr_assert_eq(hits + misses, 200000);
    cr_assert_gt(hits, 0);
    cr_assert_leq(bytes, 20000);
    block_cache_destroy(c);
}

/* The shards are open-addressing tables whose deletions shift later entries back: after long
 * runs of inserts, replacements and evictions over colliding probe runs, every block still
 * held is found (the blocks found account for every byte charged) and is the right one, and
 * a block never inserted is never found. */
Test(cache, lookups_agree_with_the_bytes_held_through_heavy_churn)
{
    enum { FILES = 24, OFFS = 400 };
    block_cache *c = block_cache_create(3000 * 100, 4);
    cr_assert_not_null(c);
    put(c, 99, 0, 16);
    uint64_t charge;
    block_cache_stats(c, NULL, NULL, &charge); /* what one 16-byte block costs */
    rng r;
    rng_seed(&r, 11);
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 2000; i++)
            put(c, rng_uniform(&r, FILES), rng_uniform(&r, OFFS) * 4096, 16);
        uint64_t found = present(c, 99, 0);
        for (uint64_t f = 0; f < FILES; f++) {
            for (uint64_t o = 0; o < OFFS; o++) {
                found += (uint64_t)present(c, f, o * 4096);
                cr_assert(!present(c, f, o * 4096 + 1), "never inserted");
            }
        }
        uint64_t bytes;
        block_cache_stats(c, NULL, NULL, &bytes);
        cr_assert_eq(found * charge, bytes, "round %d: %llu blocks found, %llu bytes held", round,
                     (unsigned long long)found, (unsigned long long)bytes);
        cr_assert_gt(found, 100, "round %d: the cache holds blocks", round);
    }
    block_cache_destroy(c);
}

/* Under eviction pressure the byte bound holds and a lookup never returns another key's
 * block. */
Test(cache, eviction_churn_keeps_the_bound_and_the_right_blocks)
{
    block_cache *c = block_cache_create(64 * 1024, 2);
    cr_assert_not_null(c);
    rng r;
    rng_seed(&r, 12);
    for (int i = 0; i < 50000; i++) {
        uint64_t f = rng_uniform(&r, 8), o = rng_uniform(&r, 300) * 512;
        if (rng_uniform(&r, 3) == 0)
            put(c, f, o, 200 + rng_uniform(&r, 1500));
        else
            present(c, f, o);
        uint64_t bytes;
        block_cache_stats(c, NULL, NULL, &bytes);
        cr_assert_leq(bytes, 64 * 1024);
    }
    block_cache_destroy(c);
}
