/* test_table_cache.c — the table cache and the reader's meta blocks under a bound: a cache of
 * max_open readers answers every get over more tables than it keeps, evicts and reopens them
 * with one read, shares one open among threads, survives a file-descriptor limit below the
 * table count; index and filter blocks are charged to the block cache, a cache of capacity 0
 * still serves every get with one read per block, pinned meta survives a cache flood, and an
 * evicted reader in use stays valid until its last reference. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "helpers.h"
#include "lamina.h"
#include "sst/cache.h"
#include "sst/format.h"
#include "util/err.h"
#include "util/file.h"
#include "util/rng.h"

#define TC_TABLES 10
#define TC_KEYS 400 /* per table; the even ones are present */

static char *g_dir;

static void setup(void)
{
    g_dir = tmpdir_create();
}

static void teardown(void)
{
    file_set_fault_hook(NULL, NULL);
    tmpdir_remove(g_dir);
}

TestSuite(table_cache, .init = setup, .fini = teardown, .timeout = 300);

/* ---- Fixtures ------------------------------------------------------------------------- */

static size_t tc_user_key(char *dst, uint64_t file, int i)
{
    return (size_t)sprintf(dst, "key/%03llu/%05d", (unsigned long long)file, i);
}

/* The value of key i in table file: names both, so an answer from the wrong table shows. */
static size_t tc_value(char *dst, uint64_t file, int i)
{
    return (size_t)sprintf(dst, "value of %d in table %llu", i, (unsigned long long)file);
}

/* Writes table file (NNNNNN.sst in g_dir) holding the even keys below TC_KEYS. */
static void tc_write(uint64_t file, size_t block_size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%06llu.sst", g_dir, (unsigned long long)file);
    wfile *f;
    cr_assert_eq(wfile_create(path, &f), 0);
    struct table_options o = test_table_options(block_size, LAMINA_COMPRESSION_NONE, 10);
    table_builder *b = table_builder_create(f, file, &o);
    cr_assert_not_null(b);
    for (int i = 0; i < TC_KEYS; i += 2) {
        char uk[64], v[64];
        uint8_t k[80];
        size_t ulen = tc_user_key(uk, file, i), vlen = tc_value(v, file, i);
        ikey_encode(k, uk, ulen, 1, IKEY_VALUE);
        cr_assert_eq(table_builder_add(b, k, ulen + IKEY_TRAILER, v, vlen), 0);
    }
    struct table_meta m;
    cr_assert_eq(table_builder_finish(b, &m), 0, "%s", err_message());
    table_meta_free(&m);
    table_builder_destroy(b);
    cr_assert_eq(wfile_close(f), 0);
}

static struct table_footer tc_footer(uint64_t file)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%06llu.sst", g_dir, (unsigned long long)file);
    size_t len;
    uint8_t *p = file_slurp(path, &len);
    struct table_footer f;
    cr_assert_eq(table_footer_decode(p + len - TABLE_FOOTER_SIZE, path, &f), 0);
    free(p);
    return f;
}

/* 0 when the table answers key i as it should (present with its value, or absent), else 1. */
static int tc_check(table *t, uint64_t file, int i)
{
    char uk[64], want[64];
    uint8_t k[80];
    size_t ulen = tc_user_key(uk, file, i);
    ikey_encode(k, uk, ulen, IKEY_MAX_SEQ, IKEY_VALUE);
    buf v = {0};
    int type = -1;
    int rc = table_get_key(t, NULL, k, ulen + IKEY_TRAILER, &type, &v);
    int bad;
    if (i % 2) {
        bad = rc != LAMINA_NOTFOUND;
    } else {
        size_t wlen = tc_value(want, file, i);
        bad = rc != 0 || type != IKEY_VALUE || v.len != wlen || memcmp(v.data, want, wlen) != 0;
    }
    buf_free(&v);
    return bad;
}

/* Reads counted through the I/O layer's fault hook (which sees every rfile_read). */
static atomic_int g_reads;

static int count_reads(const char *op, const char *path, void *ctx)
{
    if (strcmp(op, "read") == 0) atomic_fetch_add(&g_reads, 1);
    return 0;
}

static void reads_start(void)
{
    atomic_store(&g_reads, 0);
    file_set_fault_hook(count_reads, NULL);
}

static int reads_taken(void)
{
    return atomic_load(&g_reads);
}

static uint64_t tc_open_readers(table_cache *tc)
{
    uint64_t open;
    table_cache_stats(tc, &open, NULL, NULL, NULL);
    return open;
}

/* ---- Bound, eviction, reopening --------------------------------------------------------- */

Test(table_cache, three_readers_serve_ten_tables_and_an_evicted_table_reopens_with_one_read)
{
    for (uint64_t f = 1; f <= TC_TABLES; f++)
        tc_write(f, 256);
    block_cache *bc = block_cache_create(8 << 20, 4);
    table_cache *tc = table_cache_create(g_dir, 3, bc, 0);
    cr_assert_not_null(tc);
    rng r;
    rng_seed(&r, 5);
    for (int q = 0; q < 3000; q++) {
        uint64_t f = 1 + rng_uniform(&r, TC_TABLES);
        int i = (int)rng_uniform(&r, TC_KEYS);
        table *t;
        cr_assert_eq(table_cache_get(tc, f, 0, &t), 0, "%s", err_message());
        cr_assert_eq(table_file_number(t), f);
        cr_assert_eq(tc_check(t, f, i), 0, "table %llu key %d", (unsigned long long)f, i);
        cr_assert_leq(tc_open_readers(tc), 3 + 1, "three cached plus the one in use");
        table_unref(t);
        cr_assert_leq(tc_open_readers(tc), 3);
    }
    uint64_t open, opens, hits;
    int64_t cap;
    table_cache_stats(tc, &open, &cap, &opens, &hits);
    cr_assert_eq(cap, 3);
    cr_assert_eq(open, 3);
    cr_assert_gt(opens, TC_TABLES, "tables were evicted and reopened (%llu opens)",
                 (unsigned long long)opens);
    cr_assert_gt(hits, 0);
    cr_assert_eq(opens + hits, 3000);

    /* Table 1 is read once, then pushed out by three others; its reopening reads the footer
     * and nothing else, and the same get then needs no read: its filter, index and data
     * blocks are still in the block cache. */
    table *t;
    cr_assert_eq(table_cache_get(tc, 1, 0, &t), 0);
    cr_assert_eq(tc_check(t, 1, 42), 0);
    table_unref(t);
    for (uint64_t f = 2; f <= 4; f++) {
        cr_assert_eq(table_cache_get(tc, f, 0, &t), 0);
        table_unref(t);
    }
    table_cache_stats(tc, NULL, NULL, &opens, NULL);
    reads_start();
    cr_assert_eq(table_cache_get(tc, 1, 0, &t), 0);
    cr_assert_eq(reads_taken(), 1, "a reopen reads the footer only, took %d reads", reads_taken());
    uint64_t opens2;
    table_cache_stats(tc, NULL, NULL, &opens2, NULL);
    cr_assert_eq(opens2, opens + 1, "table 1 had been evicted");
    cr_assert_eq(tc_check(t, 1, 42), 0);
    cr_assert_eq(reads_taken(), 1, "meta and data blocks came from the block cache");
    table_unref(t);
    table_cache_destroy(tc);
    block_cache_destroy(bc);
}

Test(table_cache, unbounded_cache_opens_each_table_once)
{
    for (uint64_t f = 1; f <= TC_TABLES; f++)
        tc_write(f, 4096);
    table_cache *tc = table_cache_create(g_dir, -1, NULL, 0);
    for (int q = 0; q < 500; q++) {
        uint64_t f = 1 + (uint64_t)(q % TC_TABLES);
        table *t;
        cr_assert_eq(table_cache_get(tc, f, 0, &t), 0, "%s", err_message());
        cr_assert_eq(tc_check(t, f, q % TC_KEYS), 0);
        table_unref(t);
    }
    uint64_t open, opens, hits;
    int64_t cap;
    table_cache_stats(tc, &open, &cap, &opens, &hits);
    cr_assert_eq(cap, -1);
    cr_assert_eq(open, TC_TABLES);
    cr_assert_eq(opens, TC_TABLES);
    cr_assert_eq(hits, 500 - TC_TABLES);
    table_cache_destroy(tc);
}

Test(table_cache, bound_of_zero_keeps_no_reader)
{
    tc_write(7, 4096);
    table_cache *tc = table_cache_create(g_dir, 0, NULL, 0);
    for (int q = 0; q < 5; q++) {
        table *t;
        cr_assert_eq(table_cache_get(tc, 7, 0, &t), 0);
        cr_assert_eq(tc_check(t, 7, q), 0);
        cr_assert_eq(tc_open_readers(tc), 1);
        table_unref(t);
        cr_assert_eq(tc_open_readers(tc), 0);
    }
    uint64_t opens;
    table_cache_stats(tc, NULL, NULL, &opens, NULL);
    cr_assert_eq(opens, 5);
    table_cache_destroy(tc);
}

Test(table_cache, missing_table_fails_the_get_and_is_not_kept)
{
    table_cache *tc = table_cache_create(g_dir, 4, NULL, 0);
    table *t = (table *)1;
    cr_assert_eq(table_cache_get(tc, 99, 0, &t), LAMINA_EIO);
    cr_assert_null(t);
    cr_assert(strstr(err_message(), "000099.sst"), "%s", err_message());
    tc_write(99, 4096); /* the failure was not cached */
    cr_assert_eq(table_cache_get(tc, 99, 0, &t), 0, "%s", err_message());
    table_unref(t);
    cr_assert_eq(tc_open_readers(tc), 1);
    table_cache_destroy(tc);
}

/* The bug this cache fixes: with more tables than file descriptors, every table still
 * answers, since at most max_open are open at once. */
Test(table_cache, more_tables_than_file_descriptors_all_answer)
{
    enum { N = 120 };
    for (uint64_t f = 1; f <= N; f++)
        tc_write(f, 4096);
    struct rlimit rl = {64, 64};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    block_cache *bc = block_cache_create(4 << 20, 16);
    table_cache *tc = table_cache_create(g_dir, 40, bc, 0);
    for (int round = 0; round < 3; round++) {
        for (uint64_t f = 1; f <= N; f++) {
            table *t;
            cr_assert_eq(table_cache_get(tc, f, 0, &t), 0, "table %llu: %s", (unsigned long long)f,
                         err_message());
            cr_assert_eq(tc_check(t, f, (int)(f * 2 % TC_KEYS)), 0);
            table_unref(t);
        }
    }
    cr_assert_leq(tc_open_readers(tc), 40);
    table_cache_destroy(tc);
    block_cache_destroy(bc);
}

/* ---- Threads ---------------------------------------------------------------------------- */

struct tc_worker {
    table_cache *tc;
    int seed;
    int bad;
    pthread_barrier_t *start;
};

static void *tc_reader(void *p)
{
    struct tc_worker *w = p;
    rng r;
    rng_seed(&r, (uint64_t)w->seed);
    pthread_barrier_wait(w->start);
    for (int q = 0; q < 4000; q++) {
        uint64_t f = 1 + rng_uniform(&r, TC_TABLES);
        int i = (int)rng_uniform(&r, TC_KEYS);
        table *t;
        if (table_cache_get(w->tc, f, q % 3 == 0, &t) != 0 || table_file_number(t) != f) {
            w->bad = 1;
            break;
        }
        if (tc_check(t, f, i)) w->bad = 1;
        if (q % 50 == 0) { /* a scan too, holding the reader a while */
            iter *it = table_iter_create(t, NULL);
            int n = 0;
            for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
                n++;
            if (n != TC_KEYS / 2 || iter_status(it)) w->bad = 1;
            iter_destroy(it);
        }
        table_unref(t);
    }
    return NULL;
}

Test(table_cache, four_threads_share_a_cache_of_two_readers)
{
    for (uint64_t f = 1; f <= TC_TABLES; f++)
        tc_write(f, 256);
    block_cache *bc = block_cache_create(64 << 10, 4); /* small: meta blocks get evicted too */
    table_cache *tc = table_cache_create(g_dir, 2, bc, 0);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 4);
    pthread_t th[4];
    struct tc_worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct tc_worker){tc, i + 1, 0, &start};
        cr_assert_eq(pthread_create(&th[i], NULL, tc_reader, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(w[i].bad, 0, "reader %d saw a wrong answer", i);
    }
    pthread_barrier_destroy(&start);
    uint64_t open, opens, hits;
    table_cache_stats(tc, &open, NULL, &opens, &hits);
    cr_assert_leq(open, 2, "idle again: only the cached readers stay open");
    cr_assert_eq(opens + hits, 16000);
    uint64_t bytes;
    block_cache_stats(bc, NULL, NULL, &bytes);
    cr_assert_leq(bytes, 64 << 10);
    table_cache_destroy(tc);
    block_cache_destroy(bc);
}

struct tc_same {
    table_cache *tc;
    pthread_barrier_t *start;
    table *got;
};

static void *tc_get_same(void *p)
{
    struct tc_same *s = p;
    pthread_barrier_wait(s->start);
    if (table_cache_get(s->tc, 3, 0, &s->got) != 0) s->got = NULL;
    return NULL;
}

/* Threads that miss the same file together wait for one open rather than each opening it. */
Test(table_cache, threads_missing_the_same_table_open_it_once)
{
    tc_write(3, 4096);
    for (int round = 0; round < 20; round++) {
        table_cache *tc = table_cache_create(g_dir, 10, NULL, 0);
        enum { T = 8 };
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, T);
        pthread_t th[T];
        struct tc_same s[T];
        for (int i = 0; i < T; i++) {
            s[i] = (struct tc_same){tc, &start, NULL};
            cr_assert_eq(pthread_create(&th[i], NULL, tc_get_same, &s[i]), 0);
        }
        for (int i = 0; i < T; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < T; i++) {
            cr_assert_not_null(s[i].got);
            cr_assert_eq(s[i].got, s[0].got, "one reader shared by all");
            table_unref(s[i].got);
        }
        uint64_t open, opens, hits;
        table_cache_stats(tc, &open, NULL, &opens, &hits);
        cr_assert_eq(opens, 1);
        cr_assert_eq(hits, T - 1);
        cr_assert_eq(open, 1);
        pthread_barrier_destroy(&start);
        table_cache_destroy(tc);
    }
}

/* ---- Eviction of a reader in use -------------------------------------------------------- */

Test(table_cache, evicted_reader_in_use_stays_valid_until_its_last_unref)
{
    tc_write(5, 256);
    table_cache *tc = table_cache_create(g_dir, 4, NULL, 0);
    table *t;
    cr_assert_eq(table_cache_get(tc, 5, 0, &t), 0);
    iter *it = table_iter_create(t, NULL);
    cr_assert_eq(iter_seek_to_first(it), 0);
    table_cache_evict(tc, 5);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%06d.sst", g_dir, 5);
    cr_assert_eq(file_remove(path), 0, "the obsolete file goes; its descriptor stays open");
    cr_assert_eq(tc_open_readers(tc), 1, "evicted but in use");
    for (int i = 0; i < TC_KEYS; i++)
        cr_assert_eq(tc_check(t, 5, i), 0, "key %d", i);
    int n = 0;
    for (; iter_valid(it); iter_next(it))
        n++;
    cr_assert_eq(n, TC_KEYS / 2);
    iter_destroy(it);
    table_unref(t);
    cr_assert_eq(tc_open_readers(tc), 0, "closed at the last unref");
    cr_assert_eq(table_cache_get(tc, 5, 0, &t), LAMINA_EIO, "the cache no longer holds it");
    table_cache_evict(tc, 6); /* nothing cached: no-op */
    table_cache_destroy(tc);
}

Test(table_cache, reader_in_use_outlives_the_cache)
{
    tc_write(8, 4096);
    table_cache *tc = table_cache_create(g_dir, 4, NULL, 0);
    table *t;
    cr_assert_eq(table_cache_get(tc, 8, 0, &t), 0);
    table_cache_destroy(tc);
    cr_assert_eq(tc_check(t, 8, 10), 0);
    table_unref(t);
}

/* ---- Meta blocks and the block cache ---------------------------------------------------- */

/* Fills the block cache with unrelated blocks (file 999999) until everything else left. */
static void flood(block_cache *bc, size_t capacity)
{
    for (uint64_t i = 0; i < 4 * capacity / 1024 + 64; i++) {
        struct cache_block *b = cache_block_alloc(1024);
        cr_assert_not_null(b);
        b->size = 1024;
        memset(b->data, 0x5a, 1024);
        block_cache_insert(bc, 999999, i * 2048, b);
        cache_block_release(b);
    }
}

Test(table_cache, index_and_filter_blocks_are_charged_to_the_block_cache)
{
    tc_write(9, 256);
    struct table_footer f = tc_footer(9);
    if (f.index_kind == LAMINA_INDEX_BTREE) cr_assert_geq(f.index_levels, 2);
    block_cache *bc = block_cache_create(1 << 20, 1);
    table_cache *tc = table_cache_create(g_dir, 4, bc, 0);
    table *t;
    cr_assert_eq(table_cache_get(tc, 9, 0, &t), 0);
    uint64_t bytes, misses;
    block_cache_stats(bc, NULL, &misses, &bytes);
    cr_assert_eq(bytes, 0, "opening reads the footer only and caches nothing");
    cr_assert_eq(tc_check(t, 9, 2), 0);
    block_cache_stats(bc, NULL, &misses, &bytes);
    cr_assert_eq(misses, (uint64_t)f.index_levels + 2, "filter, each index level, data");
    /* The index root is held decoded, so it costs more than its stored bytes. */
    cr_assert_gt(bytes, f.filter.size + f.index.size + 256, "%llu bytes held",
                 (unsigned long long)bytes);
    /* Evictable like any block: a flood pushes them out and the bound holds. */
    flood(bc, 1 << 20);
    block_cache_stats(bc, NULL, NULL, &bytes);
    cr_assert_leq(bytes, 1 << 20);
    reads_start();
    cr_assert_eq(tc_check(t, 9, 2), 0);
    cr_assert_eq(reads_taken(), f.index_levels + 2, "all of them read again");
    table_unref(t);
    table_cache_destroy(tc);
    block_cache_destroy(bc);
}

/* Without a cache that keeps anything, a get reads each block it needs exactly once: the
 * filter, one index block per level and the data block (an absent key stopped by the filter
 * reads the filter only). */
static void gets_read_each_needed_block_once(block_cache *bc)
{
    tc_write(10, 256);
    struct table_footer f = tc_footer(10);
    if (f.index_kind == LAMINA_INDEX_BTREE) cr_assert_geq(f.index_levels, 2);
    table_cache *tc = table_cache_create(g_dir, 4, bc, 0);
    table *t;
    cr_assert_eq(table_cache_get(tc, 10, 0, &t), 0);
    int filtered = 0;
    for (int i = 0; i < TC_KEYS; i++) {
        reads_start();
        cr_assert_eq(tc_check(t, 10, i), 0, "key %d", i);
        int n = reads_taken();
        if (i % 2 == 0) {
            cr_assert_eq(n, f.index_levels + 2, "key %d: %d reads", i, n);
        } else {
            cr_assert(n == 1 || n == f.index_levels + 2, "absent key %d: %d reads", i, n);
            filtered += n == 1;
        }
    }
    cr_assert_gt(filtered, TC_KEYS / 2 * 9 / 10, "the filter stops most absent keys");
    file_set_fault_hook(NULL, NULL);
    iter *it = table_iter_create(t, NULL);
    int n = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
        n++;
    cr_assert_eq(n, TC_KEYS / 2);
    iter_destroy(it);
    table_unref(t);
    table_cache_destroy(tc);
}

Test(table_cache, gets_work_with_a_block_cache_of_capacity_zero)
{
    block_cache *bc = block_cache_create(0, 16);
    gets_read_each_needed_block_once(bc);
    uint64_t bytes;
    block_cache_stats(bc, NULL, NULL, &bytes);
    cr_assert_eq(bytes, 0);
    block_cache_destroy(bc);
}

Test(table_cache, gets_work_without_a_block_cache)
{
    gets_read_each_needed_block_once(NULL);
}

/* A filter larger than a shard of the cache is read and used but not kept. */
Test(table_cache, filter_larger_than_a_cache_shard_is_used_but_not_kept)
{
    tc_write(11, 256);
    struct table_footer f = tc_footer(11);
    block_cache *bc = block_cache_create(200, 16); /* one shard of 200 bytes */
    cr_assert_gt(f.filter.size, 200);
    table_cache *tc = table_cache_create(g_dir, 4, bc, 0);
    table *t;
    cr_assert_eq(table_cache_get(tc, 11, 0, &t), 0);
    for (int i = 0; i < TC_KEYS; i++)
        cr_assert_eq(tc_check(t, 11, i), 0, "key %d", i);
    uint64_t bytes;
    block_cache_stats(bc, NULL, NULL, &bytes);
    cr_assert_lt(bytes, f.filter.size);
    table_unref(t);
    table_cache_destroy(tc);
    block_cache_destroy(bc);
}

/* pin_meta: after its first get the reader holds its filter and index root, so once a flood
 * has emptied the cache a get reads only what it must (the data block, with a one-level
 * index); an unpinned reader reads filter and root again. */
Test(table_cache, pinned_filter_and_index_root_survive_a_cache_flood)
{
    tc_write(12, 64 << 10);
    tc_write(13, 64 << 10);
    cr_assert_eq(tc_footer(12).index_levels, 1);
    block_cache *bc = block_cache_create(256 << 10, 1);
    table_cache *tc = table_cache_create(g_dir, 4, bc, 0);
    table *pinned, *plain;
    cr_assert_eq(table_cache_get(tc, 12, 1, &pinned), 0);
    cr_assert_eq(table_cache_get(tc, 13, 0, &plain), 0);
    cr_assert_eq(tc_check(pinned, 12, 4), 0);
    cr_assert_eq(tc_check(plain, 13, 4), 0);
    flood(bc, 256 << 10);
    reads_start();
    cr_assert_eq(tc_check(pinned, 12, 4), 0);
    cr_assert_eq(reads_taken(), 1, "the data block only, took %d", reads_taken());
    reads_start();
    cr_assert_eq(tc_check(plain, 13, 4), 0);
    cr_assert_eq(reads_taken(), 3, "filter, index root and data block, took %d", reads_taken());
    /* Absent keys stopped by the pinned filter read nothing at all. */
    flood(bc, 256 << 10);
    reads_start();
    int none = 0;
    for (int i = 1; i < TC_KEYS; i += 2) {
        int before = reads_taken();
        cr_assert_eq(tc_check(pinned, 12, i), 0);
        none += reads_taken() == before;
    }
    cr_assert_gt(none, TC_KEYS / 2 * 9 / 10);
    table_unref(pinned);
    table_unref(plain);
    table_cache_destroy(tc);
    block_cache_destroy(bc);
}
