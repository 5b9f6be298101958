/* test_index.c — the index interface: separators of both table formats, format 2's rule that a
 * user key's versions never split across data blocks, and the FST and B-tree kinds answering
 * every lookup, seek and scan alike (random keys and the real key sets of ../shared/data). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "lamina.h"
#include "sst/block.h"
#include "sst/fetch.h"
#include "sst/index.h"
#include "util/err.h"
#include "util/ikey.h"
#include "util/iter.h"
#include "util/rng.h"

static char *g_dir;

static void setup(void)
{
    g_dir = tmpdir_create();
}

static void teardown(void)
{
    tmpdir_remove(g_dir);
}

TestSuite(index, .init = setup, .fini = teardown);

/* ---- Separators ----------------------------------------------------------------------- */

static size_t rand_user_key(uint8_t *dst, rng *r)
{
    /* A small alphabet with 0x00 and 0xff makes shared prefixes and every bump case common. */
    static const uint8_t alpha[] = {0x00, 0x01, 'a', 'b', 'c', 0xfe, 0xff};
    size_t len = rng_uniform(r, 7);
    for (size_t i = 0; i < len; i++)
        dst[i] = alpha[rng_uniform(r, sizeof(alpha))];
    return len;
}

Test(index, separators_lie_between_their_blocks_in_both_forms)
{
    rng r;
    rng_seed(&r, 42);
    buf sep = {0};
    for (int round = 0; round < 200000; round++) {
        uint8_t a[16 + IKEY_TRAILER], b[16 + IKEY_TRAILER];
        size_t al = rand_user_key(a, &r), bl = rand_user_key(b, &r);
        int c = ikey_user_cmp(a, al, b, bl);
        if (c == 0) continue;
        if (c > 0) {
            uint8_t t[16];
            size_t tl = al;
            memcpy(t, a, al);
            memcpy(a, b, bl);
            al = bl;
            memcpy(b, t, tl);
            bl = tl;
        }
        ikey_encode(a, a, al, 1 + rng_uniform(&r, 100), IKEY_VALUE);
        ikey_encode(b, b, bl, 1 + rng_uniform(&r, 100), IKEY_VALUE);
        size_t ail = al + IKEY_TRAILER, bil = bl + IKEY_TRAILER;
        for (int user_keys = 0; user_keys < 2; user_keys++) {
            cr_assert_eq(index_separator(&sep, user_keys, a, ail, b, bil), 0);
            /* last <= s < next, in the separator form's order. */
            cr_assert_leq(index_sep_cmp(user_keys, a, ail, sep.data, sep.len), 0);
            cr_assert_gt(index_sep_cmp(user_keys, b, bil, sep.data, sep.len), 0);
            if (user_keys) cr_assert_leq(sep.len, al < bl ? bl : al);
            cr_assert_eq(index_successor(&sep, user_keys, a, ail), 0);
            cr_assert_leq(index_sep_cmp(user_keys, a, ail, sep.data, sep.len), 0);
        }
    }
    buf_free(&sep);
}

/* ---- Format 2: a user key's versions stay in one block ------------------------------------- */

/* The first and last user keys of each data block of the table at path, in order. */
static void block_bounds(const char *path, uint64_t number, buf *firsts, buf *lasts, size_t *n)
{
    struct index_file x;
    index_file_open(&x, path, number);
    struct index_cursor c;
    index_cursor_init(&c, &x.r, 0);
    cr_assert_eq(index_cursor_seek_to_first(&c), 0);
    struct block_iter bi;
    block_iter_init(&bi);
    *n = 0;
    while (c.valid) {
        struct block_handle h = index_cursor_handle(&c);
        struct cache_block *cb;
        cr_assert_eq(block_read(&x.src, h, 1, &cb), 0, "%s", err_message());
        struct block b;
        cr_assert_eq(block_parse(&b, cb->data, cb->size), 0);
        block_iter_reset(&bi, &b, BLOCK_KEYS_INTERNAL, path, h.offset);
        cr_assert_eq(block_iter_seek_to_first(&bi), 0);
        buf_append(&firsts[*n], bi.key, ikey_user_len(bi.key_len));
        cr_assert_eq(block_iter_seek_to_last(&bi), 0);
        buf_append(&lasts[*n], bi.key, ikey_user_len(bi.key_len));
        cache_block_release(cb);
        (*n)++;
        cr_assert_eq(index_cursor_next(&c), 0);
    }
    block_iter_free(&bi);
    index_cursor_release(&c);
    index_file_close(&x);
}

Test(index, format_2_keeps_each_user_keys_versions_in_one_block)
{
    /* 40 user keys, the odd ones with 60 versions of 100 bytes: each such key is several block
     * sizes long. */
    struct model m = {0};
    m.e = calloc(40 * 60, sizeof(*m.e));
    uint64_t seq = 100000;
    for (int k = 0; k < 40; k++) {
        int versions = k % 2 ? 60 : 1;
        for (int v = 0; v < versions; v++) {
            struct model_entry *e = &m.e[m.n++];
            char uk[16];
            size_t ul = (size_t)sprintf(uk, "user%04d", k);
            e->ilen = ul + IKEY_TRAILER;
            e->ikey = malloc(e->ilen);
            ikey_encode(e->ikey, uk, ul, seq--, v % 7 == 3 ? IKEY_DELETION : IKEY_VALUE);
            e->vlen = 100;
            e->val = malloc(100);
            memset(e->val, 'a' + v % 26, 100);
        }
    }
    for (int kind = 0; kind < 2; kind++) {
        struct table_options o = test_table_options(1024, LAMINA_COMPRESSION_NONE, 10);
        o.format_version = 2;
        o.index_type = kind;
        char path[4096];
        snprintf(path, sizeof(path), "%s", path_join(g_dir, kind ? "000002.sst" : "000001.sst"));
        struct table_meta meta;
        model_write_table(&m, path, (uint64_t)(1 + kind), &o, &meta);
        table_meta_free(&meta);
        buf firsts[64] = {{0}}, lasts[64] = {{0}};
        size_t n;
        block_bounds(path, (uint64_t)(1 + kind), firsts, lasts, &n);
        cr_assert_geq(n, 20, "each 60-version key fills a block of its own");
        for (size_t i = 0; i + 1 < n; i++)
            cr_assert(ikey_user_cmp(lasts[i].data, lasts[i].len, firsts[i + 1].data,
                                    firsts[i + 1].len) < 0,
                      "block %zu ends with the user key block %zu starts with", i, i + 1);
        for (size_t i = 0; i < n; i++) {
            buf_free(&firsts[i]);
            buf_free(&lasts[i]);
        }
        /* Every version is found at every snapshot. */
        table *t;
        cr_assert_eq(table_open(path, (uint64_t)(1 + kind), NULL, 0, &t), 0);
        buf v = {0};
        for (size_t i = 0; i < m.n; i++) {
            uint8_t probe[64];
            size_t ul = ikey_user_len(m.e[i].ilen);
            ikey_encode(probe, m.e[i].ikey, ul, ikey_seq(m.e[i].ikey, m.e[i].ilen), IKEY_VALUE);
            int type;
            cr_assert_eq(table_get_key(t, NULL, probe, ul + IKEY_TRAILER, &type, &v), 0);
            cr_assert_eq(type, ikey_type(m.e[i].ikey, m.e[i].ilen));
            if (type == IKEY_VALUE) cr_assert(v.len == 100 && memcmp(v.data, m.e[i].val, 100) == 0);
        }
        uint64_t entries;
        cr_assert_eq(table_verify(t, &entries), 0, "%s", err_message());
        cr_assert_eq(entries, m.n);
        buf_free(&v);
        table_unref(t);
    }
    model_free(&m);
}

/* ---- FST and B-tree agree ------------------------------------------------------------------ */

/* Reads up to max lines of path (NULL if the file is missing) as sorted, distinct user keys. */
static char **real_keys(const char *name, size_t step, size_t max, size_t *n)
{
    char path[4096];
    const char *src = getenv("LAMINA_SOURCE_ROOT");
    snprintf(path, sizeof(path), "%s/../shared/data/%s", src ? src : ".", name);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(path, sizeof(path), "/work/shared/data/%s", name);
        f = fopen(path, "r");
    }
    if (!f) return NULL;
    char **keys = malloc(max * sizeof(*keys));
    char line[8192];
    size_t i = 0;
    *n = 0;
    while (*n < max && fgets(line, sizeof(line), f)) {
        if (i++ % step) continue;
        line[strcspn(line, "\n")] = 0;
        keys[(*n)++] = strdup(line);
    }
    fclose(f);
    return keys;
}

static int str_cmp(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t xl = strlen(x), yl = strlen(y);
    return ikey_user_cmp(x, xl, y, yl);
}

/* A model of the given user keys (sorted, distinct), one or two versions each. */
static void model_of(struct model *m, char **keys, size_t n)
{
    qsort(keys, n, sizeof(*keys), str_cmp);
    m->e = calloc(2 * n, sizeof(*m->e));
    m->n = 0;
    uint64_t seq = 10 * n + 10;
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(keys[i], keys[i - 1]) == 0) continue;
        size_t ul = strlen(keys[i]);
        for (int v = 0; v < (i % 3 == 0 ? 2 : 1); v++) {
            struct model_entry *e = &m->e[m->n++];
            e->ilen = ul + IKEY_TRAILER;
            e->ikey = malloc(e->ilen);
            ikey_encode(e->ikey, keys[i], ul, seq--, i % 11 == 5 ? IKEY_DELETION : IKEY_VALUE);
            e->vlen = 8 + i % 24;
            e->val = malloc(e->vlen);
            memset(e->val, (int)(i * 13 + v), e->vlen);
        }
    }
    m->max_seq = 10 * n + 10;
}

/* Builds the model into a B-tree table and an FST table and checks that both answer every
 * get (present, absent, at old snapshots), every seek and both scan directions alike. */
static void kinds_agree(struct model *m, const char *tag, uint64_t base, size_t block_size)
{
    block_cache *cache = block_cache_create(64 << 20, 4);
    table *t[2];
    for (int kind = 0; kind < 2; kind++) {
        struct table_options o = test_table_options(block_size, LAMINA_COMPRESSION_ZSTD, 10);
        o.format_version = 2;
        o.index_type = kind;
        char name[64], path[4096];
        snprintf(name, sizeof(name), "%06llu.sst", (unsigned long long)(base + kind));
        snprintf(path, sizeof(path), "%s", path_join(g_dir, name));
        struct table_meta meta;
        model_write_table(m, path, base + kind, &o, &meta);
        table_meta_free(&meta);
        cr_assert_eq(table_open(path, base + kind, cache, 0, &t[kind]), 0, "%s", err_message());
        uint64_t index_bytes;
        cr_assert_eq(table_properties(t[kind], NULL, NULL, NULL, &index_bytes, NULL), 0);
        cr_log_info("%s: %s index %llu bytes for %zu entries", tag, kind ? "fst" : "btree",
                    (unsigned long long)index_bytes, m->n);
    }
    rng r;
    rng_seed(&r, base);
    buf v[2] = {{0}, {0}};
    uint8_t probe[9000];
    for (size_t q = 0; q < m->n; q++) {
        const struct model_entry *e = &m->e[rng_uniform(&r, m->n)];
        size_t ul = ikey_user_len(e->ilen);
        memcpy(probe, e->ikey, ul);
        switch (q % 4) {
        case 1: probe[ul++] = (uint8_t)rng_uniform(&r, 256); break; /* an extension */
        case 2: ul = rng_uniform(&r, ul + 1); break;                 /* a prefix */
        default: break;
        }
        uint64_t snap = q % 4 == 3 ? rng_uniform(&r, m->max_seq + 1) : IKEY_MAX_SEQ;
        ikey_encode(probe, probe, ul, snap, IKEY_VALUE);
        int rc[2], type[2] = {0, 0};
        for (int kind = 0; kind < 2; kind++)
            rc[kind] = table_get_key(t[kind], NULL, probe, ul + IKEY_TRAILER, &type[kind], &v[kind]);
        cr_assert_eq(rc[0], rc[1], "%s: probe %zu: btree %d, fst %d", tag, q, rc[0], rc[1]);
        cr_assert(rc[0] == 0 || rc[0] == LAMINA_NOTFOUND, "%s: %s", tag, err_message());
        if (rc[0] == 0) {
            cr_assert_eq(type[0], type[1]);
            if (type[0] == IKEY_VALUE)
                cr_assert(v[0].len == v[1].len && memcmp(v[0].data, v[1].data, v[0].len) == 0);
        }
        /* The same seek lands on the same entry. */
        iter *it[2] = {table_iter_create(t[0], NULL), table_iter_create(t[1], NULL)};
        for (int kind = 0; kind < 2; kind++)
            cr_assert_eq(iter_seek(it[kind], probe, ul + IKEY_TRAILER), 0);
        cr_assert_eq(iter_valid(it[0]), iter_valid(it[1]));
        if (iter_valid(it[0])) {
            size_t l0, l1;
            const uint8_t *k0 = iter_key(it[0], &l0), *k1 = iter_key(it[1], &l1);
            cr_assert(l0 == l1 && memcmp(k0, k1, l0) == 0, "%s: seek %zu lands apart", tag, q);
        }
        iter_destroy(it[0]);
        iter_destroy(it[1]);
    }
    /* Whole scans, forward and backward, give the model. */
    for (int kind = 0; kind < 2; kind++) {
        iter *it = table_iter_create(t[kind], NULL);
        size_t i = 0;
        cr_assert_eq(iter_seek_to_first(it), 0);
        for (; iter_valid(it); iter_next(it), i++) {
            size_t l;
            const uint8_t *k = iter_key(it, &l);
            cr_assert(l == m->e[i].ilen && memcmp(k, m->e[i].ikey, l) == 0);
        }
        cr_assert_eq(i, m->n);
        cr_assert_eq(iter_seek_to_last(it), 0);
        for (; iter_valid(it); iter_prev(it)) {
            size_t l;
            const uint8_t *k = iter_key(it, &l);
            i--;
            cr_assert(l == m->e[i].ilen && memcmp(k, m->e[i].ikey, l) == 0);
        }
        cr_assert_eq(i, 0);
        iter_destroy(it);
        uint64_t entries;
        cr_assert_eq(table_verify(t[kind], &entries), 0, "%s", err_message());
    }
    buf_free(&v[0]);
    buf_free(&v[1]);
    table_unref(t[0]);
    table_unref(t[1]);
    block_cache_destroy(cache);
}

Test(index, fst_and_btree_agree_on_random_keys)
{
    rng r;
    rng_seed(&r, 7);
    size_t n = 20000;
    char **keys = malloc(n * sizeof(*keys));
    for (size_t i = 0; i < n; i++) {
        char k[32];
        size_t len = 1 + rng_uniform(&r, 20);
        for (size_t j = 0; j < len; j++)
            k[j] = "abc/xyz"[rng_uniform(&r, 7)];
        k[len] = 0;
        keys[i] = strdup(k);
    }
    struct model m;
    model_of(&m, keys, n);
    kinds_agree(&m, "random", 10, 512);
    model_free(&m);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

Test(index, fst_and_btree_agree_on_real_keys)
{
    static const char *sets[] = {"paths-1m.txt", "npm-names-1m.txt", "words.txt"};
    int found = 0;
    for (int s = 0; s < 3; s++) {
        size_t n;
        char **keys = real_keys(sets[s], 20, 30000, &n);
        if (!keys) continue;
        found++;
        struct model m;
        model_of(&m, keys, n);
        kinds_agree(&m, sets[s], 20 + 2 * (uint64_t)s, 4096);
        model_free(&m);
        for (size_t i = 0; i < n; i++)
            free(keys[i]);
        free(keys);
    }
    if (!found) cr_skip_test("../shared/data holds none of the real key sets");
}

/* Tables written before format 2 existed (the fuzz seeds were made by that build, format 1,
 * B-tree) still open, verify, scan and answer gets. */
Test(index, format_1_tables_from_the_previous_build_still_read)
{
    static const char *seeds[] = {"db1-004023-raw", "db2-001006-raw"};
    static const uint64_t numbers[] = {4023, 1006};
    const char *src = getenv("LAMINA_SOURCE_ROOT");
    if (!src) cr_skip_test("LAMINA_SOURCE_ROOT is not set");
    for (int i = 0; i < 2; i++) {
        char from[4096], to[4096], name[32];
        snprintf(from, sizeof(from), "%s/tests/fuzz/corpus/table/%s", src, seeds[i]);
        size_t len;
        uint8_t *p = file_slurp(from, &len);
        snprintf(name, sizeof(name), "%06llu.sst", (unsigned long long)numbers[i]);
        snprintf(to, sizeof(to), "%s", path_join(g_dir, name));
        file_spit(to, p + 1, len - 1); /* the seed's first byte is the fuzzer's mode */
        free(p);
        table *t;
        cr_assert_eq(table_open(to, numbers[i], NULL, 0, &t), 0, "%s", err_message());
        struct table_footer ft;
        p = file_slurp(to, &len);
        cr_assert_eq(table_footer_decode(p + len - TABLE_FOOTER_SIZE, to, &ft), 0);
        free(p);
        cr_assert_eq(ft.format_version, 1);
        uint64_t entries;
        cr_assert_eq(table_verify(t, &entries), 0, "%s", err_message());
        cr_assert_gt(entries, 0);
        /* Every key the scan sees is found by a get at its own sequence number. */
        iter *it = table_iter_create(t, NULL);
        buf v = {0};
        uint64_t seen = 0;
        cr_assert_eq(iter_seek_to_first(it), 0);
        for (; iter_valid(it); iter_next(it), seen++) {
            size_t kl;
            const uint8_t *k = iter_key(it, &kl);
            int type;
            cr_assert_eq(table_get_key(t, NULL, k, kl, &type, &v), 0, "%s", err_message());
            cr_assert_eq(type, ikey_type(k, kl));
        }
        cr_assert_eq(seen, entries);
        iter_destroy(it);
        buf_free(&v);
        table_unref(t);
    }
}
