/* test_multi_get.c — lamina_multi_get answers as lamina_get does (memtables, level 0, deeper
 * levels, tombstones, snapshots, duplicates, bad keys), through io_uring and the pread
 * fallback; one database holding tables of both index kinds; the read path's figures. */
#include "helpers.h"

TestSuite(multi_get, .init = tdb_setup, .fini = tdb_teardown, .timeout = 300);

#define MG_KEYS 6000

/* Writes keys 0..MG_KEYS-1 in three passes (overwrites, deletes), flushing between them so
 * they spread over memtables, level 0 and deeper levels. Returns the snapshot taken after the
 * first pass. */
static const lamina_snapshot *mg_load(lamina_db *db)
{
    char k[32], v[64];
    const lamina_snapshot *snap = NULL;
    for (int pass = 0; pass < 3; pass++) {
        for (uint64_t i = pass; i < MG_KEYS; i += (uint64_t)pass + 1) {
            size_t kl = tdb_key(k, i);
            if (pass == 2 && i % 5 == 0) {
                cr_assert_eq(lamina_delete(db, NULL, k, kl), 0);
                continue;
            }
            size_t vl = (size_t)sprintf(v, "value-%d-%llu", pass, (unsigned long long)i);
            tdb_put(db, k, kl, v, vl);
        }
        if (pass == 0) {
            cr_assert_eq(lamina_flush(db), 0, "%s", lamina_errmsg(db));
            cr_assert_eq(lamina_snapshot_create(db, &snap), 0);
        }
        if (pass == 1) cr_assert_eq(lamina_flush(db), 0, "%s", lamina_errmsg(db));
    }
    return snap;
}

/* Asks for every key (and absent ones) in batches of batch, and compares with lamina_get. */
static void mg_check(lamina_db *db, const lamina_read_options *ro, size_t batch)
{
    const void *keys[256];
    size_t lens[256], vlens[256];
    void *vals[256];
    int st[256];
    char kb[256][32];
    rng r;
    rng_seed(&r, batch);
    for (size_t done = 0; done < MG_KEYS + 500;) {
        size_t n = batch;
        for (size_t j = 0; j < n; j++) {
            /* Mostly in order, some random (duplicates included), some absent. */
            uint64_t i = j % 7 == 3 ? rng_uniform(&r, MG_KEYS + 500) : done + j;
            lens[j] = tdb_key(kb[j], i);
            keys[j] = kb[j];
        }
        int rc = lamina_multi_get(db, ro, n, keys, lens, vals, vlens, st);
        cr_assert_eq(rc, 0, "%s", lamina_errmsg(db));
        for (size_t j = 0; j < n; j++) {
            void *want = NULL;
            size_t wl = 0;
            int wrc = lamina_get(db, ro, keys[j], lens[j], &want, &wl);
            cr_assert_eq(st[j], wrc, "%.*s: multi_get %d, get %d", (int)lens[j], kb[j], st[j], wrc);
            if (wrc == 0) {
                cr_assert_eq(vlens[j], wl);
                cr_assert(memcmp(vals[j], want, wl) == 0);
                cr_assert_eq(((char *)vals[j])[wl], 0, "NUL after the value");
            } else {
                cr_assert_null(vals[j]);
                cr_assert_eq(vlens[j], 0);
            }
            lamina_free(want);
            lamina_free(vals[j]);
        }
        done += n;
    }
}

static void mg_round(const char *io_uring, const char *direct)
{
    lamina_options o = tdb_small_options();
    cr_assert_eq(lamina_options_set(&o, "use_io_uring", io_uring), 0);
    cr_assert_eq(lamina_options_set(&o, "use_direct_reads", direct), 0);
    o.cache_size = 64 << 10; /* most blocks come from the files */
    lamina_db *db = tdb_open(T.path, &o);
    const lamina_snapshot *snap = mg_load(db);
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    mg_check(db, &ro, 1);
    mg_check(db, &ro, 37);
    mg_check(db, &ro, 256);
    ro.snapshot = snap;
    mg_check(db, &ro, 64);
    ro.snapshot = NULL;
    ro.fill_cache = 0;
    mg_check(db, &ro, 64);
    /* Table reads were counted per level. */
    uint64_t reads = 0, v;
    for (int l = 0; l < 7; l++) {
        char name[64];
        snprintf(name, sizeof(name), "lamina.io-reads-at-level%d", l);
        cr_assert_eq(lamina_property_int(db, name, &v), 0, "%s", lamina_errmsg(db));
        reads += v;
    }
    cr_assert_gt(reads, 0);
    cr_assert_eq(lamina_property_int(db, "lamina.cache-evictions", &v), 0);
    cr_assert_gt(v, 0, "a 64 KiB cache evicts");
    lamina_snapshot_release(db, snap);
    lamina_close(db);
}

Test(multi_get, answers_as_get_does_through_io_uring)
{
    mg_round("1", "0");
}

Test(multi_get, answers_as_get_does_through_the_pread_fallback)
{
    mg_round("0", "0");
}

Test(multi_get, answers_as_get_does_with_direct_reads)
{
    mg_round("1", "1");
}

Test(multi_get, edge_cases)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put(db, "a", 1, "1", 1);
    cr_assert_eq(lamina_multi_get(db, NULL, 0, NULL, NULL, NULL, NULL, NULL), 0);
    const void *keys[3] = {"a", NULL, "a"};
    size_t lens[3] = {1, LAMINA_MAX_KEY_LEN + 1, 1}, vl[3];
    void *vals[3];
    int st[3];
    char *big = calloc(1, LAMINA_MAX_KEY_LEN + 1);
    keys[1] = big;
    cr_assert_eq(lamina_multi_get(db, NULL, 3, keys, lens, vals, vl, st), LAMINA_EINVAL);
    cr_assert_eq(st[0], 0);
    cr_assert_eq(st[1], LAMINA_EINVAL);
    cr_assert_null(vals[1]);
    cr_assert_eq(st[2], 0);
    cr_assert(vl[0] == 1 && memcmp(vals[0], "1", 1) == 0);
    lamina_free(vals[0]);
    lamina_free(vals[2]);
    free(big);
    cr_assert_eq(lamina_multi_get(db, NULL, 1, keys, NULL, vals, vl, st), LAMINA_EINVAL);
    lamina_close(db);
}

/* Tables of both index kinds in one database: switch index_type and reopen. */
Test(multi_get, one_database_holds_btree_and_fst_tables)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = LAMINA_COMPACTION_NONE; /* keep the first kind's tables as written */
    o.format_version = 2;                          /* what an FST needs, whatever the run says */
    char k[32], v[32];
    for (int round = 0; round < 2; round++) {
        o.index_type = round ? LAMINA_INDEX_FST : LAMINA_INDEX_BTREE;
        lamina_db *db = tdb_open(T.path, &o);
        for (uint64_t i = (uint64_t)round; i < 4000; i += 2) {
            size_t kl = tdb_key(k, i);
            tdb_put(db, k, kl, v, (size_t)sprintf(v, "v%llu", (unsigned long long)i));
        }
        cr_assert_eq(lamina_flush(db), 0);
        lamina_close(db);
    }
    /* Both kinds are on disk. */
    int seen[2] = {0, 0};
    DIR *d = opendir(T.path);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".sst")) continue;
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", T.path, e->d_name);
        lamina_sst *s;
        cr_assert_eq(lamina_sst_open(p, &s), 0, "%s", lamina_errmsg(NULL));
        lamina_sst_props pr = {.struct_size = sizeof(pr)};
        cr_assert_eq(lamina_sst_properties(s, &pr), 0);
        cr_assert(pr.index_type == LAMINA_INDEX_BTREE || pr.index_type == LAMINA_INDEX_FST);
        seen[pr.index_type]++;
        lamina_sst_close(s);
    }
    closedir(d);
    cr_assert(seen[0] > 0 && seen[1] > 0, "btree %d, fst %d tables", seen[0], seen[1]);
    /* Every key reads back through get, multi_get and a scan; then a full compaction rewrites
     * them all with the FST. */
    for (int pass = 0; pass < 2; pass++) {
        o.compaction_policy = LAMINA_COMPACTION_LEVELED;
        lamina_db *db = tdb_open(T.path, &o);
        for (uint64_t i = 0; i < 4000; i++) {
            size_t kl = tdb_key(k, i);
            tdb_expect(db, NULL, k, kl, v, (size_t)sprintf(v, "v%llu", (unsigned long long)i));
        }
        lamina_iter *it;
        cr_assert_eq(lamina_iter_create(db, NULL, &it), 0);
        uint64_t n = 0;
        for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it))
            n++;
        cr_assert_eq(n, 4000);
        lamina_iter_destroy(it);
        if (pass == 0) cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), 0);
        lamina_close(db);
    }
}
