/* test_range_delete.c — lamina_delete_range and lamina_batch_delete_range: range tombstones seen
 * by gets, multi_gets and iterators (both ways, seeks, bounds, prefixes), snapshots, flushes,
 * compactions, WAL replay and reopens, and checked by lamina_check and the SST reader. */
#include "helpers.h"

TestSuite(range_delete, .init = tdb_setup, .fini = tdb_teardown, .timeout = 300);

static void del_range(lamina_db *db, int from, int to)
{
    char a[32], b[32];
    size_t al = tdb_key(a, (uint64_t)from), bl = tdb_key(b, (uint64_t)to);
    int rc = lamina_delete_range(db, NULL, a, al, b, bl);
    cr_assert_eq(rc, LAMINA_OK, "delete_range: %s: %s", lamina_strerror(rc), lamina_errmsg(db));
}

/* Keys [0, n) hold generation gen except those in the deleted ranges [del[2i], del[2i+1]). */
static void expect_all(lamina_db *db, int n, int gen, const int *del, int ndel)
{
    for (int i = 0; i < n; i++) {
        int gone = 0;
        for (int d = 0; d < ndel; d++)
            gone |= i >= del[2 * d] && i < del[2 * d + 1];
        tdb_expect_range(db, i, i + 1, gone ? -1 : gen);
    }
}

static void reopen(lamina_db **db, const lamina_options *o)
{
    cr_assert_eq(lamina_close(*db), LAMINA_OK);
    *db = tdb_open(T.path, o);
}

Test(range_delete, keys_in_the_range_go_in_the_memtable_the_wal_a_table_and_after_compaction)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 1000, 1);
    del_range(db, 100, 200);
    const int del[] = {100, 200};
    expect_all(db, 1000, 1, del, 1); /* key 200: the end is not deleted */
    reopen(&db, &o);                 /* from the WAL, or the tables recovery wrote */
    expect_all(db, 1000, 1, del, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    expect_all(db, 1000, 1, del, 1);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    expect_all(db, 1000, 1, del, 1);
    reopen(&db, &o);
    expect_all(db, 1000, 1, del, 1);
    cr_assert_eq(tdb_count(db, NULL), 900);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(range_delete, later_puts_stay_and_snapshots_still_see_the_deleted_keys)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 300, 1);
    const lamina_snapshot *snap;
    cr_assert_eq(lamina_snapshot_create(db, &snap), LAMINA_OK);
    del_range(db, 0, 300);
    tdb_put_range(db, NULL, 50, 60, 2);
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.snapshot = snap;
    for (int round = 0; round < 3; round++) {
        tdb_expect_range(db, 0, 50, -1);
        tdb_expect_range(db, 50, 60, 2);
        tdb_expect_range(db, 60, 300, -1);
        char k[32], v[96];
        for (int i = 0; i < 300; i += 7) {
            size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 1);
            tdb_expect(db, &ro, k, kl, v, vl);
        }
        cr_assert_eq(tdb_count(db, &ro), 300);
        cr_assert_eq(tdb_count(db, NULL), 10);
        /* The snapshot keeps the covered keys through flush and compaction. */
        if (round == 0) cr_assert_eq(lamina_flush(db), LAMINA_OK);
        if (round == 1) cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    }
    lamina_snapshot_release(db, snap);
    /* A second run, so that the manual compaction has something to merge. */
    tdb_put_range(db, NULL, 1000, 1001, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    uint64_t entries = 0;
    cr_assert_eq(lamina_verify(db, &entries), LAMINA_OK);
    cr_assert_eq(entries, 11, "compaction at the last level drops what the range deleted");
    cr_assert_eq(tdb_count(db, NULL), 11);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(range_delete, overlapping_and_nested_ranges_in_different_tables)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 2000, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    del_range(db, 100, 900);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    del_range(db, 400, 500); /* nested */
    tdb_put_range(db, NULL, 450, 460, 2);
    del_range(db, 800, 1200); /* overlapping the first */
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    del_range(db, 1500, 1600);
    for (int round = 0; round < 3; round++) {
        tdb_expect_range(db, 0, 100, 1);
        tdb_expect_range(db, 100, 450, -1);
        tdb_expect_range(db, 450, 460, 2);
        tdb_expect_range(db, 460, 1200, -1);
        tdb_expect_range(db, 1200, 1500, 1);
        tdb_expect_range(db, 1500, 1600, -1);
        tdb_expect_range(db, 1600, 2000, 1);
        cr_assert_eq(tdb_count(db, NULL), 100 + 10 + 300 + 400);
        if (round == 0) cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
        if (round == 1) reopen(&db, &o);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(range_delete, empty_ranges_write_nothing_and_inverted_ones_are_refused)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 10, 1);
    char a[32], b[32];
    size_t al = tdb_key(a, 3), bl = tdb_key(b, 7);
    cr_assert_eq(lamina_delete_range(db, NULL, a, al, a, al), LAMINA_OK);
    cr_assert_eq(lamina_delete_range(db, NULL, b, bl, a, al), LAMINA_EINVAL);
    cr_assert_eq(lamina_delete_range(db, NULL, NULL, 3, a, al), LAMINA_EINVAL);
    cr_assert_eq(lamina_delete_range(db, NULL, a, al, NULL, 1), LAMINA_EINVAL);
    cr_assert_eq(lamina_delete_range(NULL, NULL, a, al, b, bl), LAMINA_EINVAL);
    static char big[LAMINA_MAX_KEY_LEN + 2];
    memset(big, 'z', sizeof(big));
    cr_assert_eq(lamina_delete_range(db, NULL, a, al, big, sizeof(big)), LAMINA_EINVAL);
    lamina_batch *batch;
    cr_assert_eq(lamina_batch_create(&batch), LAMINA_OK);
    cr_assert_eq(lamina_batch_delete_range(batch, a, al, a, al), LAMINA_OK);
    cr_assert_eq(lamina_batch_count(batch), 0, "an empty range adds no record");
    cr_assert_eq(lamina_batch_delete_range(batch, b, bl, a, al), LAMINA_EINVAL);
    cr_assert_eq(lamina_batch_delete_range(NULL, a, al, b, bl), LAMINA_EINVAL);
    cr_assert_eq(lamina_batch_delete_range(batch, a, al, big, sizeof(big)), LAMINA_EINVAL);
    cr_assert_eq(lamina_batch_count(batch), 0);
    lamina_batch_destroy(batch);
    tdb_expect_range(db, 0, 10, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(range_delete, the_empty_begin_key_starts_at_the_first_key)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put(db, "", 0, "empty", 5);
    tdb_put(db, "\0", 1, "nul", 3);
    tdb_put_range(db, NULL, 0, 20, 1);
    char b[32];
    size_t bl = tdb_key(b, 10);
    cr_assert_eq(lamina_delete_range(db, NULL, "", 0, b, bl), LAMINA_OK);
    for (int round = 0; round < 2; round++) {
        tdb_expect(db, NULL, "", 0, NULL, 0);
        tdb_expect(db, NULL, "\0", 1, NULL, 0);
        tdb_expect_range(db, 0, 10, -1);
        tdb_expect_range(db, 10, 20, 1);
        cr_assert_eq(lamina_flush(db), LAMINA_OK);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(range_delete, a_batch_applies_puts_and_range_deletes_in_order)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 100, 1);
    lamina_batch *batch;
    cr_assert_eq(lamina_batch_create(&batch), LAMINA_OK);
    char k[32], v[96], a[32], b[32];
    size_t kl = tdb_key(k, 20), vl = tdb_value(v, 20, 2);
    size_t al = tdb_key(a, 10), bl = tdb_key(b, 30);
    cr_assert_eq(lamina_batch_put(batch, k, kl, v, vl), LAMINA_OK); /* deleted by what follows */
    cr_assert_eq(lamina_batch_delete_range(batch, a, al, b, bl), LAMINA_OK);
    kl = tdb_key(k, 25);
    vl = tdb_value(v, 25, 2);
    cr_assert_eq(lamina_batch_put(batch, k, kl, v, vl), LAMINA_OK); /* stays */
    cr_assert_eq(lamina_batch_count(batch), 3);
    cr_assert_eq(lamina_write(db, NULL, batch), LAMINA_OK);
    lamina_batch_destroy(batch);
    for (int round = 0; round < 3; round++) {
        tdb_expect_range(db, 0, 10, 1);
        tdb_expect_range(db, 10, 25, -1);
        tdb_expect_range(db, 25, 26, 2);
        tdb_expect_range(db, 26, 30, -1);
        tdb_expect_range(db, 30, 100, 1);
        if (round == 0) reopen(&db, &o);
        if (round == 1) cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* Forward and backward scans, seeks and seek_for_prevs, bounded and by prefix, over ranges
 * deleted in the memtable and in tables. */
static void check_iteration(lamina_db *db)
{
    /* Live: [0, 100) and [300, 400); [100, 300) deleted. */
    lamina_iter *it;
    char k[32];
    size_t kl;
    cr_assert_eq(lamina_iter_create(db, NULL, &it), LAMINA_OK);
    int i = 0;
    for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it), i++) {
        int want = i < 100 ? i : i + 200;
        kl = tdb_key(k, (uint64_t)want);
        size_t gl;
        const void *g = lamina_iter_key(it, &gl);
        cr_assert(gl == kl && !memcmp(g, k, kl), "forward entry %d", i);
    }
    cr_assert_eq(i, 200);
    i = 399;
    for (lamina_iter_seek_to_last(it); lamina_iter_valid(it); lamina_iter_prev(it)) {
        kl = tdb_key(k, (uint64_t)i);
        size_t gl;
        const void *g = lamina_iter_key(it, &gl);
        cr_assert(gl == kl && !memcmp(g, k, kl), "backward entry %d", i);
        i = i == 300 ? 99 : i - 1;
    }
    cr_assert_eq(i, -1);
    kl = tdb_key(k, 150);
    cr_assert_eq(lamina_iter_seek(it, k, kl), LAMINA_OK);
    char w[32];
    size_t wl = tdb_key(w, 300), gl;
    const void *g = lamina_iter_key(it, &gl);
    cr_assert(lamina_iter_valid(it) && gl == wl && !memcmp(g, w, wl), "seek lands past the range");
    cr_assert_eq(lamina_iter_prev(it), LAMINA_OK);
    wl = tdb_key(w, 99);
    g = lamina_iter_key(it, &gl);
    cr_assert(lamina_iter_valid(it) && gl == wl && !memcmp(g, w, wl), "prev skips the range");
    cr_assert_eq(lamina_iter_seek_for_prev(it, k, kl), LAMINA_OK);
    g = lamina_iter_key(it, &gl);
    cr_assert(lamina_iter_valid(it) && gl == wl && !memcmp(g, w, wl), "seek_for_prev");
    lamina_iter_destroy(it);

    /* Bounds inside the deleted range: nothing. */
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    char lo[32], hi[32];
    ro.lower_bound = lo;
    ro.lower_bound_len = tdb_key(lo, 120);
    ro.upper_bound = hi;
    ro.upper_bound_len = tdb_key(hi, 280);
    cr_assert_eq(tdb_count(db, &ro), 0);
    ro.upper_bound_len = tdb_key(hi, 320);
    cr_assert_eq(tdb_count(db, &ro), 20);
    /* A prefix wholly inside the range ("key0000000001" covers 100..199), and one across it. */
    lamina_read_options_init(&ro);
    ro.prefix = "key0000000001";
    ro.prefix_len = 13;
    cr_assert_eq(tdb_count(db, &ro), 0);
    ro.prefix = "key000000000";
    ro.prefix_len = 12;
    cr_assert_eq(tdb_count(db, &ro), 200);
}

Test(range_delete, iterators_skip_the_range_both_ways_with_seeks_bounds_and_prefixes)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 400, 1);
    del_range(db, 100, 300);
    check_iteration(db);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    check_iteration(db);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    check_iteration(db);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(range_delete, multi_get_sees_range_deletes_in_memtables_and_tables)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 3000, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    del_range(db, 1000, 2000);
    for (int round = 0; round < 2; round++) {
        char kb[8][32];
        const void *keys[8];
        size_t lens[8], vlens[8];
        void *vals[8];
        int st[8];
        const int which[8] = {0, 999, 1000, 1500, 1999, 2000, 2999, 1234};
        for (int j = 0; j < 8; j++) {
            lens[j] = tdb_key(kb[j], (uint64_t)which[j]);
            keys[j] = kb[j];
        }
        cr_assert_eq(lamina_multi_get(db, NULL, 8, keys, lens, vals, vlens, st), LAMINA_OK);
        for (int j = 0; j < 8; j++) {
            int gone = which[j] >= 1000 && which[j] < 2000;
            cr_assert_eq(st[j], gone ? LAMINA_NOTFOUND : LAMINA_OK, "key %d", which[j]);
            lamina_free(vals[j]);
        }
        cr_assert_eq(lamina_flush(db), LAMINA_OK);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* A range deleted over many tables: every level sees it, and compaction reclaims the keys. */
Test(range_delete, a_range_across_many_tables_is_compacted_away)
{
    lamina_options o = tdb_small_options();
    o.target_file_size_base = 16 << 10;
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 8000, 1);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    uint64_t files = 0;
    for (int l = 0; l < 7; l++) {
        char name[64];
        snprintf(name, sizeof(name), "lamina.num-files-at-level%d", l);
        files += tdb_prop(db, name);
    }
    cr_assert_gt(files, 4, "the keys span many tables (%llu)", (unsigned long long)files);
    tdb_put_range(db, NULL, 0, 8000, 2); /* newer versions above, in level 0 and the memtable */
    del_range(db, 1000, 7000);
    const int del[] = {1000, 7000};
    expect_all(db, 8000, 2, del, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    expect_all(db, 8000, 2, del, 1);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    expect_all(db, 8000, 2, del, 1);
    uint64_t entries = 0;
    cr_assert_eq(lamina_verify(db, &entries), LAMINA_OK);
    cr_assert_eq(entries, 2000, "only the live keys' newest versions remain");
    reopen(&db, &o);
    expect_all(db, 8000, 2, del, 1);
    cr_assert_eq(tdb_count(db, NULL), 2000);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* A memtable holding nothing but a range deletion flushes to a table of only a tombstone,
 * which hides the keys of the tables below it. */
Test(range_delete, a_table_of_only_a_range_tombstone_hides_older_tables)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = LAMINA_COMPACTION_NONE;
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 500, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    del_range(db, 200, 300);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(tdb_prop(db, "lamina.num-files-at-level0"), 2);
    const int del[] = {200, 300};
    expect_all(db, 500, 1, del, 1);
    cr_assert_eq(tdb_count(db, NULL), 400);
    reopen(&db, &o);
    expect_all(db, 500, 1, del, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    /* lamina_check reads every block, the range-deletion block included. */
    lamina_check_stats st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    cr_assert_eq(lamina_check(T.path, &o, NULL, NULL, &st), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_eq(st.keys, 400, "live keys counted past the range tombstone: %llu",
                 (unsigned long long)st.keys);
}

/* lamina_check counts live keys through range tombstones still in the WAL, too. */
Test(range_delete, check_counts_keys_past_range_tombstones_in_the_wal)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = LAMINA_COMPACTION_NONE;
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 300, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    del_range(db, 0, 100);
    lamina_check_stats st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    cr_assert_eq(lamina_check(T.path, &o, NULL, NULL, &st), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_eq(st.keys, 200, "live keys: %llu", (unsigned long long)st.keys);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* The public SST reader still reads a table that holds range tombstones. */
Test(range_delete, the_sst_reader_reads_a_table_with_range_tombstones)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = LAMINA_COMPACTION_NONE;
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 50, 1);
    del_range(db, 10, 20);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char path[600];
    tdb_find_file(T.path, ".sst", 0, path, sizeof(path));
    cr_assert_neq(path[0], 0);
    lamina_sst *sst;
    cr_assert_eq(lamina_sst_open(path, &sst), LAMINA_OK, "%s", lamina_errmsg(NULL));
    uint64_t entries = 0;
    cr_assert_eq(lamina_sst_verify(sst, &entries), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_eq(entries, 40, "the flush dropped the point entries its tombstone covers");
    lamina_sst_props p;
    memset(&p, 0, sizeof(p));
    p.struct_size = sizeof(p);
    cr_assert_eq(lamina_sst_properties(sst, &p), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_eq(p.entries, 40);
    cr_assert_eq(p.range_deletions, 1);
    lamina_sst_close(sst);
}

/* lamina_repair keeps range tombstones: in tables (one holding nothing else) and in the WAL. */
Test(range_delete, repair_keeps_range_tombstones_of_tables_and_wals)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = LAMINA_COMPACTION_NONE;
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 300, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    del_range(db, 100, 200);
    cr_assert_eq(lamina_flush(db), LAMINA_OK); /* a table of only the tombstone */
    del_range(db, 250, 260);                   /* left in the WAL */
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    lamina_repair_stats st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    cr_assert_eq(lamina_repair(T.path, &o, NULL, NULL, &st), LAMINA_OK, "%s", lamina_errmsg(NULL));
    db = tdb_open(T.path, &o);
    const int del[] = {100, 200, 250, 260};
    expect_all(db, 300, 1, del, 2);
    cr_assert_eq(tdb_count(db, NULL), 190);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    expect_all(db, 300, 1, del, 2);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
