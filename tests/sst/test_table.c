/* test_table.c — builder -> reader: 100k entries with versions and tombstones; gets at several
 * snapshots and for absent keys, iterators in both directions and seeks agree with the model,
 * for zstd and no compression, with a one-level and a deep (>= 3 levels) B-tree index, and
 * over long shared prefixes and NUL bytes; the Bloom filter spares block reads for absent keys. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "lamina.h"
#include "sst/format.h"
#include "util/err.h"
#include "util/rng.h"

static struct model g_model;
static char *g_dir;

static void setup(void)
{
    g_dir = tmpdir_create();
    model_build(&g_model, 100000, 42);
}

static void teardown(void)
{
    model_free(&g_model);
    tmpdir_remove(g_dir);
}

TestSuite(table, .init = setup, .fini = teardown, .timeout = 300);

/* Writes m as table number in g_dir with options o (its path left in path, 4096 bytes) and
 * drops the metadata the builder returns. */
static void write_table(const struct model *m, uint64_t number, const struct table_options *o,
                        char *path)
{
    snprintf(path, 4096, "%s/%06llu.sst", g_dir, (unsigned long long)number);
    struct table_meta meta;
    model_write_table(m, path, number, o, &meta);
    table_meta_free(&meta);
}

static table *open_table(const char *path, uint64_t number, block_cache *c)
{
    table *t;
    cr_assert_eq(table_open(path, number, c, 0, &t), 0, "%s", err_message());
    return t;
}

static struct table_footer read_footer(const char *path)
{
    size_t len;
    uint8_t *p = file_slurp(path, &len);
    cr_assert_geq(len, TABLE_FOOTER_SIZE);
    struct table_footer f;
    cr_assert_eq(table_footer_decode(p + len - TABLE_FOOTER_SIZE, path, &f), 0);
    free(p);
    return f;
}

/* The model's answer for (user key of entry i, snapshot): index of the newest entry with
 * seq <= snapshot, or -1. */
static long model_get(const struct model *m, const uint8_t *ukey, size_t ulen, uint64_t snap)
{
    uint8_t k[128];
    ikey_encode(k, ukey, ulen, snap, IKEY_VALUE);
    size_t i = model_lower_bound(m, k, ulen + IKEY_TRAILER);
    if (i < m->n && m->e[i].ilen == ulen + IKEY_TRAILER && memcmp(m->e[i].ikey, ukey, ulen) == 0)
        return (long)i;
    return -1;
}

static void check_gets(table *t, const struct model *m, uint64_t snap)
{
    struct table_read_options ro = {.verify_checksums = 1, .fill_cache = 1};
    buf v = {0};
    uint8_t k[128];
    size_t found = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (i > 0 && ikey_user_cmp(m->e[i].ikey, m->e[i].ilen - 8, m->e[i - 1].ikey,
                                   m->e[i - 1].ilen - 8) == 0)
            continue;
        size_t ulen = m->e[i].ilen - IKEY_TRAILER;
        ikey_encode(k, m->e[i].ikey, ulen, snap, IKEY_VALUE);
        long want = model_get(m, m->e[i].ikey, ulen, snap);
        int type = -1;
        int rc = table_get_key(t, &ro, k, ulen + IKEY_TRAILER, &type, &v);
        if (want < 0) {
            cr_assert_eq(rc, LAMINA_NOTFOUND, "key %zu at snapshot %llu: rc %d", i,
                         (unsigned long long)snap, rc);
            continue;
        }
        found++;
        const struct model_entry *e = &m->e[want];
        cr_assert_eq(rc, 0, "key %zu at snapshot %llu: rc %d %s", i, (unsigned long long)snap, rc,
                     err_message());
        cr_assert_eq(type, ikey_type(e->ikey, e->ilen));
        if (type == IKEY_VALUE) {
            cr_assert_eq(v.len, e->vlen);
            cr_assert(e->vlen == 0 || memcmp(v.data, e->val, e->vlen) == 0);
        }
    }
    cr_assert_gt(found, 0);
    for (size_t i = 0; i < 20000; i++) {
        char uk[64];
        size_t ulen = model_absent_key(uk, i);
        ikey_encode(k, uk, ulen, snap, IKEY_VALUE);
        int type;
        cr_assert_eq(table_get_key(t, &ro, k, ulen + IKEY_TRAILER, &type, &v), LAMINA_NOTFOUND,
                     "absent key %zu", i);
    }
    buf_free(&v);
}

static void expect_iter_at(iter *it, const struct model *m, size_t i)
{
    cr_assert(iter_valid(it), "expected entry %zu, status %d %s", i, iter_status(it),
              err_message());
    size_t kl, vl;
    const uint8_t *k = iter_key(it, &kl);
    const uint8_t *v = iter_value(it, &vl);
    cr_assert_eq(kl, m->e[i].ilen, "entry %zu", i);
    cr_assert(memcmp(k, m->e[i].ikey, kl) == 0, "entry %zu key", i);
    cr_assert_eq(vl, m->e[i].vlen, "entry %zu", i);
    cr_assert(vl == 0 || memcmp(v, m->e[i].val, vl) == 0, "entry %zu value", i);
}

static void check_iter(table *t, const struct model *m)
{
    iter *it = table_iter_create(t, NULL);
    cr_assert_not_null(it);
    size_t i = 0;
    cr_assert_eq(iter_seek_to_first(it), 0);
    while (iter_valid(it)) {
        expect_iter_at(it, m, i++);
        cr_assert_eq(iter_next(it), 0);
    }
    cr_assert_eq(i, m->n);
    cr_assert_eq(iter_status(it), 0);
    cr_assert_eq(iter_seek_to_last(it), 0);
    while (iter_valid(it)) {
        expect_iter_at(it, m, --i);
        cr_assert_eq(iter_prev(it), 0);
    }
    cr_assert_eq(i, 0);

    rng r;
    rng_seed(&r, 7);
    uint8_t k[128];
    for (int q = 0; q < 5000; q++) {
        char uk[64];
        size_t ulen = q % 2 ? model_user_key(uk, rng_uniform(&r, 60000))
                            : model_absent_key(uk, rng_uniform(&r, 60000));
        ikey_encode(k, uk, ulen, rng_uniform(&r, 1100000), IKEY_VALUE);
        size_t len = ulen + IKEY_TRAILER;
        size_t lb = model_lower_bound(m, k, len);
        cr_assert_eq(iter_seek(it, k, len), 0);
        if (lb == m->n) {
            cr_assert(!iter_valid(it));
        } else {
            expect_iter_at(it, m, lb);
            /* A short walk both ways from the seek crosses block boundaries. */
            size_t j = lb;
            for (int s = 0; s < 20 && j + 1 < m->n; s++, j++) {
                cr_assert_eq(iter_next(it), 0);
                expect_iter_at(it, m, j + 1);
            }
            for (int s = 0; s < 40 && j > 0; s++, j--) {
                cr_assert_eq(iter_prev(it), 0);
                expect_iter_at(it, m, j - 1);
            }
        }
        size_t le = lb < m->n && ikey_cmp(m->e[lb].ikey, m->e[lb].ilen, k, len) == 0 ? lb + 1 : lb;
        cr_assert_eq(iter_seek_for_prev(it, k, len), 0);
        if (le == 0)
            cr_assert(!iter_valid(it));
        else
            expect_iter_at(it, m, le - 1);
    }
    /* Past both ends. */
    cr_assert_eq(iter_seek_to_last(it), 0);
    cr_assert_eq(iter_next(it), 0);
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_seek_to_first(it), 0);
    cr_assert_eq(iter_prev(it), 0);
    cr_assert(!iter_valid(it));
    iter_destroy(it);
}

static void round_trip(size_t block_size, int compression, int min_levels, int max_levels)
{
    struct table_options o = test_table_options(block_size, compression, 10);
    char path[4096];
    snprintf(path, sizeof(path), "%s", path_join(g_dir, "000007.sst"));
    struct table_meta meta;
    model_write_table(&g_model, path, 7, &o, &meta);
    cr_assert_eq(meta.entries, g_model.n);
    cr_assert_eq(meta.smallest_len, g_model.e[0].ilen);
    cr_assert(memcmp(meta.smallest, g_model.e[0].ikey, meta.smallest_len) == 0);
    cr_assert(memcmp(meta.largest, g_model.e[g_model.n - 1].ikey, meta.largest_len) == 0);
    uint64_t fsz;
    cr_assert_eq(file_size(path, &fsz), 0);
    cr_assert_eq(meta.file_size, fsz);
    table_meta_free(&meta);

    struct table_footer f = read_footer(path);
    if (f.index_kind == LAMINA_INDEX_FST) min_levels = max_levels = 1; /* one FST block */
    cr_assert_geq(f.index_levels, min_levels, "index levels %d", f.index_levels);
    cr_assert_leq(f.index_levels, max_levels, "index levels %d", f.index_levels);

    block_cache *c = block_cache_create(1 << 20, 4);
    table *t = open_table(path, 7, c);
    uint64_t entries, dels, data_bytes, index_bytes, filter_bytes;
    table_properties(t, &entries, &dels, &data_bytes, &index_bytes, &filter_bytes);
    cr_assert_eq(entries, g_model.n);
    cr_assert_gt(dels, 0);
    size_t distinct = 1;
    for (size_t i = 1; i < g_model.n; i++)
        distinct += ikey_user_cmp(g_model.e[i].ikey, g_model.e[i].ilen - 8, g_model.e[i - 1].ikey,
                                  g_model.e[i - 1].ilen - 8) != 0;
    cr_assert_geq(filter_bytes * 8, distinct * 10, "10 bits per distinct user key");
    cr_assert_lt(filter_bytes * 8, distinct * 12);
    cr_assert_lt(data_bytes + index_bytes + filter_bytes, fsz);

    check_gets(t, &g_model, IKEY_MAX_SEQ);
    check_gets(t, &g_model, 500000);
    check_gets(t, &g_model, 1000);
    check_iter(t, &g_model);
    uint64_t n;
    cr_assert_eq(table_verify(t, &n), 0, "%s", err_message());
    cr_assert_eq(n, g_model.n);
    table_unref(t);
    block_cache_destroy(c);
}

Test(table, round_trip_zstd_one_level_index_at_64k_blocks)
{
    round_trip(64 << 10, LAMINA_COMPRESSION_ZSTD, 1, 1);
}
Test(table, round_trip_zstd_4k_blocks)
{
    round_trip(4096, LAMINA_COMPRESSION_ZSTD, 2, 3);
}
Test(table, round_trip_uncompressed_4k_blocks)
{
    round_trip(4096, LAMINA_COMPRESSION_NONE, 2, 3);
}
Test(table, round_trip_deep_btree_index_at_256_byte_blocks_zstd)
{
    round_trip(256, LAMINA_COMPRESSION_ZSTD, 3, 32);
}
Test(table, round_trip_deep_btree_index_at_256_byte_blocks_uncompressed)
{
    round_trip(256, LAMINA_COMPRESSION_NONE, 3, 32);
}

Test(table, zstd_makes_compressible_tables_smaller)
{
    struct table_options on = test_table_options(4096, LAMINA_COMPRESSION_NONE, 0);
    struct table_options oz = test_table_options(4096, LAMINA_COMPRESSION_ZSTD, 0);
    struct model m = {0};
    m.n = 20000;
    m.e = calloc(m.n, sizeof(*m.e));
    for (size_t i = 0; i < m.n; i++) {
        char uk[32];
        size_t ul = (size_t)sprintf(uk, "k%08zu", i);
        m.e[i].ilen = ul + 8;
        m.e[i].ikey = malloc(m.e[i].ilen);
        ikey_encode(m.e[i].ikey, uk, ul, 1, IKEY_VALUE);
        m.e[i].vlen = 100;
        m.e[i].val = malloc(100);
        memset(m.e[i].val, 'a' + (int)(i % 3), 100);
    }
    struct table_meta mn, mz;
    char pn[4096], pz[4096];
    snprintf(pn, sizeof(pn), "%s", path_join(g_dir, "000001.sst"));
    snprintf(pz, sizeof(pz), "%s", path_join(g_dir, "000002.sst"));
    model_write_table(&m, pn, 1, &on, &mn);
    model_write_table(&m, pz, 2, &oz, &mz);
    cr_assert_lt(mz.file_size * 3, mn.file_size, "zstd %llu vs none %llu",
                 (unsigned long long)mz.file_size, (unsigned long long)mn.file_size);
    table *t = open_table(pz, 2, NULL);
    check_iter(t, &m);
    table_unref(t);
    table_meta_free(&mn);
    table_meta_free(&mz);
    model_free(&m);
}

/* Absent keys that fall inside the table's key range: with a filter almost none reaches the
 * index and a data block; without one every one does. Returns the keys that got past the
 * filter, counted from the block cache's lookups: the filter block costs one per key, the
 * index one per level and the data block one more for each key the filter lets through. */
static uint64_t keys_past_the_filter(int bloom_bits, uint64_t number)
{
    struct table_options o = test_table_options(4096, LAMINA_COMPRESSION_NONE, bloom_bits);
    char path[4096];
    write_table(&g_model, number, &o, path);
    int levels = read_footer(path).index_levels;
    block_cache *c = block_cache_create(64 << 20, 1);
    table *t = open_table(path, number, c);
    struct table_read_options ro = {.verify_checksums = 1, .fill_cache = 1};
    buf v = {0};
    for (size_t i = 0; i < 10000; i++) {
        char uk[64];
        uint8_t k[80];
        size_t ulen = (size_t)sprintf(uk, "user/%04zu/%08zu", i / 1000, i * 2 + 1);
        ikey_encode(k, uk, ulen, IKEY_MAX_SEQ, IKEY_VALUE);
        int type;
        cr_assert_eq(table_get_key(t, &ro, k, ulen + 8, &type, &v), LAMINA_NOTFOUND);
    }
    buf_free(&v);
    uint64_t hits, misses;
    block_cache_stats(c, &hits, &misses, NULL);
    table_unref(t);
    block_cache_destroy(c);
    uint64_t lookups = hits + misses, filter = bloom_bits ? 10000 : 0;
    cr_assert_eq((lookups - filter) % (uint64_t)(levels + 1), 0, "%llu lookups, %d levels",
                 (unsigned long long)lookups, levels);
    return (lookups - filter) / (uint64_t)(levels + 1);
}

Test(table, bloom_filter_skips_blocks_for_absent_keys)
{
    uint64_t without = keys_past_the_filter(0, 11);
    uint64_t with = keys_past_the_filter(10, 12);
    cr_assert_eq(without, 10000, "without a filter each absent key reads a block");
    cr_assert_lt(with, 300, "with 10 bits/key about 1%% should pass, got %llu",
                 (unsigned long long)with);
}

Test(table, empty_table_opens_and_finds_nothing)
{
    struct model m = {0};
    struct table_options o = test_table_options(4096, LAMINA_COMPRESSION_ZSTD, 10);
    char path[4096];
    snprintf(path, sizeof(path), "%s", path_join(g_dir, "000003.sst"));
    struct table_meta meta;
    model_write_table(&m, path, 3, &o, &meta);
    cr_assert_eq(meta.entries, 0);
    cr_assert_null(meta.smallest);
    table *t = open_table(path, 3, NULL);
    uint8_t k[9] = "a";
    int type;
    buf v = {0};
    cr_assert_eq(table_get_key(t, NULL, k, 9, &type, &v), LAMINA_NOTFOUND);
    iter *it = table_iter_create(t, NULL);
    cr_assert_eq(iter_seek_to_first(it), 0);
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_seek_to_last(it), 0);
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_seek_for_prev(it, k, 9), 0);
    cr_assert(!iter_valid(it));
    iter_destroy(it);
    uint64_t n = 1;
    cr_assert_eq(table_verify(t, &n), 0, "%s", err_message());
    cr_assert_eq(n, 0);
    table_unref(t);
}

Test(table, iterator_keeps_its_table_alive)
{
    struct table_options o = test_table_options(1024, LAMINA_COMPRESSION_NONE, 10);
    char path[4096];
    write_table(&g_model, 4, &o, path);
    table *t = open_table(path, 4, NULL);
    iter *it = table_iter_create(t, NULL);
    table_unref(t);
    size_t i = 0;
    for (iter_seek_to_first(it); iter_valid(it) && i < 5000; iter_next(it))
        expect_iter_at(it, &g_model, i++);
    iter_destroy(it);
}

Test(table, keys_out_of_order_are_refused)
{
    wfile *f;
    cr_assert_eq(wfile_create(path_join(g_dir, "000005.sst"), &f), 0);
    struct table_options o = test_table_options(4096, LAMINA_COMPRESSION_NONE, 10);
    table_builder *b = table_builder_create(f, 5, &o);
    uint8_t k1[9], k2[9];
    ikey_encode(k1, "b", 1, 5, IKEY_VALUE);
    ikey_encode(k2, "a", 1, 5, IKEY_VALUE);
    cr_assert_eq(table_builder_add(b, k1, 9, "x", 1), 0);
    cr_assert_eq(table_builder_add(b, k2, 9, "x", 1), LAMINA_EINVAL);
    cr_assert_eq(table_builder_add(b, k1, 9, "x", 1), LAMINA_EINVAL, "equal keys are refused");
    cr_assert_eq(table_builder_add(b, k1, 3, "x", 1), LAMINA_EINVAL, "keys need a trailer");
    table_builder_destroy(b);
    wfile_close(f);
}

/* Four threads read one table through one small cache at once (run under TSan). */
struct reader_arg {
    table *t;
    int seed;
};

static void *reader_thread(void *p)
{
    struct reader_arg *a = p;
    rng r;
    rng_seed(&r, (uint64_t)a->seed);
    struct table_read_options ro = {.verify_checksums = 1, .fill_cache = 1};
    buf v = {0};
    for (int q = 0; q < 20000; q++) {
        size_t i = rng_uniform(&r, g_model.n);
        const struct model_entry *e = &g_model.e[i];
        int type;
        int rc = table_get_key(a->t, &ro, e->ikey, e->ilen, &type, &v);
        if (rc != 0 || type != ikey_type(e->ikey, e->ilen) ||
            (type == IKEY_VALUE &&
             (v.len != e->vlen || (e->vlen && memcmp(v.data, e->val, e->vlen)))))
            return (void *)1;
    }
    iter *it = table_iter_create(a->t, NULL);
    size_t i = 0;
    for (iter_seek_to_first(it); iter_valid(it) && i < 20000; iter_next(it), i++) {
        size_t kl;
        const uint8_t *k = iter_key(it, &kl);
        if (kl != g_model.e[i].ilen || memcmp(k, g_model.e[i].ikey, kl)) return (void *)1;
    }
    iter_destroy(it);
    buf_free(&v);
    return NULL;
}

Test(table, concurrent_readers_share_a_table_and_cache)
{
    struct table_options o = test_table_options(1024, LAMINA_COMPRESSION_ZSTD, 10);
    char path[4096];
    write_table(&g_model, 6, &o, path);
    block_cache *c = block_cache_create(256 << 10, 4);
    table *t = open_table(path, 6, c);
    pthread_t th[4];
    struct reader_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct reader_arg){t, i + 1};
        cr_assert_eq(pthread_create(&th[i], NULL, reader_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *res;
        pthread_join(th[i], &res);
        cr_assert_null(res, "reader %d saw a wrong answer", i);
    }
    uint64_t bytes;
    block_cache_stats(c, NULL, NULL, &bytes);
    cr_assert_leq(bytes, 256 << 10);
    table_unref(t);
    block_cache_destroy(c);
}

Test(table, fill_cache_off_leaves_the_cache_untouched)
{
    struct table_options o = test_table_options(4096, LAMINA_COMPRESSION_ZSTD, 10);
    char path[4096];
    write_table(&g_model, 8, &o, path);
    block_cache *c = block_cache_create(64 << 20, 4);
    table *t = open_table(path, 8, c);
    struct table_read_options no_fill = {.verify_checksums = 1, .fill_cache = 0},
                              fill = {.verify_checksums = 0, .fill_cache = 1};
    buf v = {0};
    int type;
    const struct model_entry *e = &g_model.e[g_model.n / 2];
    cr_assert_eq(table_get_key(t, &no_fill, e->ikey, e->ilen, &type, &v), 0);
    iter *it = table_iter_create(t, &no_fill);
    for (iter_seek_to_first(it); iter_valid(it);)
        iter_next(it);
    iter_destroy(it);
    uint64_t hits, misses, bytes;
    block_cache_stats(c, &hits, &misses, &bytes);
    cr_assert_eq(bytes, 0, "nothing was kept");
    cr_assert_eq(hits, 0);
    cr_assert_eq(table_get_key(t, &fill, e->ikey, e->ilen, &type, &v), 0);
    cr_assert_eq(table_get_key(t, &fill, e->ikey, e->ilen, &type, &v), 0);
    block_cache_stats(c, &hits, &misses, &bytes);
    cr_assert_gt(bytes, 4096, "the blocks were kept, uncompressed");
    /* The second get finds every block it needs in the cache: the filter, one index block
     * per level and the data block. */
    int levels = read_footer(path).index_levels;
    cr_assert_eq(hits, (uint64_t)levels + 2, "hits %llu, index levels %d", (unsigned long long)hits,
                 levels);
    buf_free(&v);
    table_unref(t);
    block_cache_destroy(c);
}

/* Keys far longer than a block and megabyte values: one entry per block, two per index
 * block, and everything still found. */
Test(table, huge_keys_and_values_round_trip)
{
    struct model m = {0};
    m.n = 60;
    m.e = calloc(m.n, sizeof(*m.e));
    for (size_t i = 0; i < m.n; i++) {
        size_t ul = 20000 + i * 500;
        uint8_t *uk = malloc(ul);
        /* The keys differ only at their ends, so even the shortest separators are huge. */
        memset(uk, 'k', ul);
        char num[24];
        sprintf(num, "%04zu", i);
        memcpy(uk + ul - 4, num, 4);
        m.e[i].ilen = ul + 8;
        m.e[i].ikey = malloc(m.e[i].ilen);
        ikey_encode(m.e[i].ikey, uk, ul, 9, IKEY_VALUE);
        free(uk);
        m.e[i].vlen = i % 10 == 0 ? (1 << 20) : 100;
        m.e[i].val = malloc(m.e[i].vlen);
        for (size_t j = 0; j < m.e[i].vlen; j++)
            m.e[i].val[j] = (uint8_t)(i * 7 + j / 3);
    }
    int comps[] = {LAMINA_COMPRESSION_NONE, LAMINA_COMPRESSION_ZSTD};
    for (int c = 0; c < 2; c++) {
        struct table_options o = test_table_options(1024, comps[c], 10);
        char path[4096];
        write_table(&m, (uint64_t)(30 + c), &o, path);
        struct table_footer f = read_footer(path);
        if (o.index_type == LAMINA_INDEX_BTREE) cr_assert_geq(f.index_levels, 3);
        table *t = open_table(path, (uint64_t)(30 + c), NULL);
        buf v = {0};
        for (size_t i = 0; i < m.n; i++) {
            int type;
            cr_assert_eq(table_get_key(t, NULL, m.e[i].ikey, m.e[i].ilen, &type, &v), 0, "%zu", i);
            cr_assert_eq(v.len, m.e[i].vlen);
            cr_assert(memcmp(v.data, m.e[i].val, v.len) == 0);
        }
        buf_free(&v);
        check_iter(t, &m);
        uint64_t n;
        cr_assert_eq(table_verify(t, &n), 0, "%s", err_message());
        table_unref(t);
    }
    model_free(&m);
}

/* User keys over a small alphabet (NUL, 0x01, 0x7f, 0x80, 0xff) after a shared prefix of plen
 * bytes: many keys are prefixes of others or differ only in zero bytes, which is where the
 * index's word-at-a-time search must fall back to whole-key compares. */
static size_t odd_user_key(uint8_t *dst, rng *r, size_t plen)
{
    static const uint8_t alphabet[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < plen; i++)
        dst[i] = (uint8_t)(i % 3 == 0 ? 0x00 : 'p' + i % 5);
    size_t n = plen + rng_uniform(r, 14);
    for (size_t i = plen; i < n; i++)
        dst[i] = alphabet[rng_uniform(r, 5)];
    return n;
}

static int model_entry_cmp(const void *a, const void *b)
{
    const struct model_entry *x = a, *y = b;
    return ikey_cmp(x->ikey, x->ilen, y->ikey, y->ilen);
}

/* The index search keeps a node's common prefix aside (its head inside the node, up to 24
 * bytes) and compares the 8 bytes after it as one word; shared prefixes shorter and longer
 * than the head, keys ending inside the word and NUL bytes must all seek like the model. */
Test(table, index_search_over_shared_prefixes_and_nul_bytes_agrees_with_the_model)
{
    size_t plens[] = {0, 9, 40};
    for (int p = 0; p < 3; p++) {
        rng r;
        rng_seed(&r, 100 + (uint64_t)p);
        struct model m = {0};
        m.e = calloc(6000, sizeof(*m.e));
        for (size_t i = 0; i < 6000; i++) {
            uint8_t uk[64];
            size_t ul = odd_user_key(uk, &r, plens[p]);
            m.e[m.n].ilen = ul + IKEY_TRAILER;
            m.e[m.n].ikey = malloc(m.e[m.n].ilen);
            ikey_encode(m.e[m.n].ikey, uk, ul, 1 + rng_uniform(&r, 1000), IKEY_VALUE);
            m.e[m.n].vlen = 1 + i % 7;
            m.e[m.n].val = malloc(m.e[m.n].vlen);
            memset(m.e[m.n].val, (int)i, m.e[m.n].vlen);
            m.n++;
        }
        qsort(m.e, m.n, sizeof(*m.e), model_entry_cmp);
        size_t w = 0; /* drop duplicate internal keys */
        for (size_t i = 0; i < m.n; i++) {
            if (w && ikey_cmp(m.e[w - 1].ikey, m.e[w - 1].ilen, m.e[i].ikey, m.e[i].ilen) == 0) {
                free(m.e[i].ikey);
                free(m.e[i].val);
                continue;
            }
            m.e[w++] = m.e[i];
        }
        m.n = w;
        struct table_options o = test_table_options(256, LAMINA_COMPRESSION_NONE, 10);
        char path[4096];
        write_table(&m, (uint64_t)(40 + p), &o, path);
        if (o.index_type == LAMINA_INDEX_BTREE) cr_assert_geq(read_footer(path).index_levels, 2);
        table *t = open_table(path, (uint64_t)(40 + p), NULL);
        iter *it = table_iter_create(t, NULL);
        cr_assert_not_null(it);
        buf v = {0};
        for (size_t i = 0; i < m.n; i++) {
            int type;
            cr_assert_eq(table_get_key(t, NULL, m.e[i].ikey, m.e[i].ilen, &type, &v), 0, "%zu", i);
            cr_assert_eq(v.len, m.e[i].vlen);
            cr_assert_eq(iter_seek(it, m.e[i].ikey, m.e[i].ilen), 0);
            expect_iter_at(it, &m, i);
        }
        for (int q = 0; q < 20000; q++) {
            uint8_t uk[64], k[80];
            size_t ul = odd_user_key(uk, &r, plens[p]);
            if (q % 4 == 0) ul = rng_uniform(&r, ul + 1); /* may end inside the prefix */
            if (q % 8 == 1 && ul > 0)
                uk[rng_uniform(&r, ul)] ^= (uint8_t)(1 + rng_uniform(&r, 255));
            ikey_encode(k, uk, ul, rng_uniform(&r, 1100), IKEY_VALUE);
            size_t lb = model_lower_bound(&m, k, ul + IKEY_TRAILER);
            cr_assert_eq(iter_seek(it, k, ul + IKEY_TRAILER), 0);
            if (lb == m.n)
                cr_assert(!iter_valid(it), "probe %d", q);
            else
                expect_iter_at(it, &m, lb);
        }
        buf_free(&v);
        iter_destroy(it);
        table_unref(t);
        model_free(&m);
    }
}
