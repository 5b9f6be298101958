/* test_ingest.c — lamina_sst_writer_* and lamina_ingest: a table written outside a database
 * reads back as written; ingested into an empty database, over overlapping data (it wins over
 * every older version, later writes win over it), or where it fits at the bottom, its data is
 * visible at once, survives reopen and stays hidden from snapshots taken before; unsorted
 * writer input, missing, damaged or overlapping files are refused and change nothing. */
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "util/fault.h"

TestSuite(ingest, .init = tdb_setup, .fini = tdb_teardown);

static void ext_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", T.dir, name);
}

/* Writes keys from..to-1 (every step-th) with generation gen's values to a new table at path;
 * keys in del_from..del_to-1 of those are tombstones instead. */
static void write_table(const char *path, int from, int to, int step, int gen, int del_from,
                        int del_to)
{
    lamina_options o;
    lamina_options_init(&o);
    o.block_size = 1024;
    test_options_apply(&o);
    lamina_sst_writer *w = NULL;
    int rc = lamina_sst_writer_create(path, &o, &w);
    cr_assert_eq(rc, LAMINA_OK, "create %s: %s", path, lamina_errmsg(NULL));
    char k[32], v[96];
    for (int i = from; i < to; i += step) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)gen);
        rc = i >= del_from && i < del_to ? lamina_sst_writer_delete(w, k, kl)
                                         : lamina_sst_writer_put(w, k, kl, v, vl);
        cr_assert_eq(rc, LAMINA_OK, "add %d: %s", i, lamina_errmsg(NULL));
    }
    cr_assert_eq(lamina_sst_writer_finish(w, NULL), LAMINA_OK, "%s", lamina_errmsg(NULL));
    lamina_sst_writer_destroy(w);
}

static void ingest_ok(lamina_db *db, const char *const *paths, size_t n)
{
    int rc = lamina_ingest(db, paths, n, 0);
    cr_assert_eq(rc, LAMINA_OK, "ingest: %s: %s", lamina_strerror(rc), lamina_errmsg(db));
}

static uint64_t files_at(lamina_db *db, int level)
{
    char name[64];
    snprintf(name, sizeof(name), "lamina.num-files-at-level%d", level);
    return tdb_prop(db, name);
}

/* ---- The writer ------------------------------------------------------------------------ */

static int count_entry(void *ctx, const void *key, size_t key_len, uint64_t seq, int type,
                       const void *value, size_t value_len)
{
    (void)key, (void)key_len, (void)value, (void)value_len;
    int *c = ctx;
    cr_assert_eq(seq, 0, "a written table's entries carry sequence number 0");
    c[type == LAMINA_SST_DELETION]++;
    return 0;
}

Test(ingest, a_written_table_reads_back_as_written)
{
    char path[512], k[32];
    ext_path(path, sizeof(path), "ext.sst");
    write_table(path, 0, 1000, 1, 0, 10, 20);
    lamina_sst *sst = NULL;
    cr_assert_eq(lamina_sst_open(path, &sst), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_eq(lamina_sst_verify(sst, NULL), LAMINA_OK);
    lamina_sst_props p = {.struct_size = sizeof(p)};
    cr_assert_eq(lamina_sst_properties(sst, &p), LAMINA_OK);
    cr_assert_eq(p.entries, 1000);
    cr_assert_eq(p.deletions, 10);
    cr_assert_eq(p.block_size, 1024);
    size_t kl = tdb_key(k, 0);
    cr_assert(p.smallest_key_len == kl && memcmp(p.smallest_key, k, kl) == 0);
    kl = tdb_key(k, 999);
    cr_assert(p.largest_key_len == kl && memcmp(p.largest_key, k, kl) == 0);
    int counts[2] = {0, 0};
    cr_assert_eq(lamina_sst_scan(sst, NULL, 0, count_entry, counts), LAMINA_OK);
    cr_assert_eq(counts[0], 990);
    cr_assert_eq(counts[1], 10);
    lamina_sst_close(sst);
}

Test(ingest, the_writer_refuses_keys_out_of_order_and_goes_on)
{
    char path[512];
    ext_path(path, sizeof(path), "ext.sst");
    lamina_sst_writer *w = NULL;
    cr_assert_eq(lamina_sst_writer_create(path, NULL, &w), LAMINA_OK);
    cr_assert_eq(lamina_sst_writer_put(w, "b", 1, "1", 1), LAMINA_OK);
    cr_assert_eq(lamina_sst_writer_put(w, "a", 1, "2", 1), LAMINA_EINVAL);
    cr_assert(strstr(lamina_errmsg(NULL), "increasing"), "message: %s", lamina_errmsg(NULL));
    cr_assert_eq(lamina_sst_writer_put(w, "b", 1, "3", 1), LAMINA_EINVAL, "an equal key");
    cr_assert_eq(lamina_sst_writer_delete(w, "a", 1), LAMINA_EINVAL);
    cr_assert_eq(lamina_sst_writer_put(w, "ba", 2, "4", 1), LAMINA_OK, "a greater key goes on");
    cr_assert_eq(lamina_sst_writer_put(w, NULL, 3, "x", 1), LAMINA_EINVAL);
    uint64_t n = 0;
    cr_assert_eq(lamina_sst_writer_finish(w, &n), LAMINA_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(lamina_sst_writer_put(w, "c", 1, "5", 1), LAMINA_EINVAL, "after finish");
    cr_assert_eq(lamina_sst_writer_finish(w, NULL), LAMINA_EINVAL);
    lamina_sst_writer_destroy(w);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "a finished table stays");

    /* An existing path is refused; an empty table is refused and removed; so is one
     * abandoned before its finish. */
    cr_assert_eq(lamina_sst_writer_create(path, NULL, &w), LAMINA_EEXIST);
    cr_assert_null(w);
    char empty[512], abandoned[512];
    ext_path(empty, sizeof(empty), "empty.sst");
    cr_assert_eq(lamina_sst_writer_create(empty, NULL, &w), LAMINA_OK);
    cr_assert_eq(lamina_sst_writer_finish(w, NULL), LAMINA_EINVAL);
    lamina_sst_writer_destroy(w);
    cr_assert_neq(stat(empty, &st), 0);
    ext_path(abandoned, sizeof(abandoned), "abandoned.sst");
    cr_assert_eq(lamina_sst_writer_create(abandoned, NULL, &w), LAMINA_OK);
    cr_assert_eq(lamina_sst_writer_put(w, "a", 1, "1", 1), LAMINA_OK);
    lamina_sst_writer_destroy(w);
    cr_assert_neq(stat(abandoned, &st), 0);
    lamina_options o;
    lamina_options_init(&o);
    o.block_size = 1;
    cr_assert_eq(lamina_sst_writer_create(empty, &o, &w), LAMINA_EINVAL, "bad options");
    cr_assert_eq(lamina_sst_writer_create(NULL, NULL, &w), LAMINA_EINVAL);
}

/* ---- Ingesting ------------------------------------------------------------------------- */

Test(ingest, into_an_empty_database_at_the_bottom_and_after_reopen)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    char path[512];
    ext_path(path, sizeof(path), "ext.sst");
    write_table(path, 0, 2000, 1, 7, 0, 0);
    const char *paths[] = {path};
    ingest_ok(db, paths, 1);
    tdb_expect_range(db, 0, 2000, 7);
    cr_assert_eq(tdb_count(db, NULL), 2000);
    cr_assert_eq(files_at(db, (int)o.num_levels - 1), 1, "nothing overlaps: the bottom level");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "the caller's file is left in place");
    /* Writes after the ingestion are newer. */
    tdb_put_range(db, NULL, 0, 10, 8);
    tdb_expect_range(db, 0, 10, 8);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 10, 8);
    tdb_expect_range(db, 10, 2000, 7);
    cr_assert_eq(lamina_verify(db, NULL), LAMINA_OK);
    /* A later write after reopen still wins: the sequence number was recorded. */
    tdb_put_range(db, NULL, 10, 20, 9);
    tdb_expect_range(db, 10, 20, 9);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    tdb_expect_range(db, 10, 20, 9);
    tdb_expect_range(db, 20, 2000, 7);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(ingest, over_overlapping_data_the_ingested_versions_win_and_snapshots_do_not_see_them)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    /* 0..2999 gen 0 in deeper levels, 1000..1099 gen 1 in level 0, 2000..2099 gen 2 in the
     * memtable. */
    tdb_put_range(db, NULL, 0, 3000, 0);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    tdb_put_range(db, NULL, 1000, 1100, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    tdb_put_range(db, NULL, 2000, 2100, 2);
    const lamina_snapshot *snap = NULL;
    cr_assert_eq(lamina_snapshot_create(db, &snap), LAMINA_OK);
    lamina_iter *old_it = NULL;
    cr_assert_eq(lamina_iter_create(db, NULL, &old_it), LAMINA_OK);
    uint64_t seq = tdb_prop(db, "lamina.sequence");

    /* Even keys 0..2998 gen 5, with 2500..2599 as tombstones; and a second, disjoint table of
     * new keys 5000..5099. */
    char a[512], b[512];
    ext_path(a, sizeof(a), "a.sst");
    ext_path(b, sizeof(b), "b.sst");
    write_table(a, 0, 3000, 2, 5, 2500, 2600);
    write_table(b, 5000, 5100, 1, 5, 0, 0);
    const char *paths[] = {b, a};
    ingest_ok(db, paths, 2);
    cr_assert_eq(tdb_prop(db, "lamina.sequence"), seq + 1, "one sequence number for the ingestion");

    char k[32], v[96];
    for (int i = 0; i < 3000; i++) {
        int gen = i % 2 == 0 ? (i >= 2500 && i < 2600 ? -1 : 5)
                             : (i >= 2000 && i < 2100   ? 2
                                : i >= 1000 && i < 1100 ? 1
                                                        : 0);
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)gen);
        tdb_expect(db, NULL, k, kl, gen < 0 ? NULL : v, vl);
        /* The snapshot and the iterator taken before see none of it. */
        int old = i >= 2000 && i < 2100 ? 2 : i >= 1000 && i < 1100 ? 1 : 0;
        vl = tdb_value(v, (uint64_t)i, (uint64_t)old);
        lamina_read_options ro;
        lamina_read_options_init(&ro);
        ro.snapshot = snap;
        tdb_expect(db, &ro, k, kl, v, vl);
    }
    tdb_expect_range(db, 5000, 5100, 5);
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.snapshot = snap;
    tdb_expect(db, &ro, k, tdb_key(k, 5000), NULL, 0);
    cr_assert_eq(tdb_count(db, &ro), 3000);
    size_t n = 0;
    for (lamina_iter_seek_to_first(old_it); lamina_iter_valid(old_it); lamina_iter_next(old_it))
        n++;
    cr_assert_eq(n, 3000, "an iterator created before sees the old state");
    lamina_iter_destroy(old_it);
    lamina_snapshot_release(db, snap);
    cr_assert_eq(tdb_count(db, NULL), 3000 - 50 + 100);

    /* Writes after the ingestion win over it, through compaction too and after reopen. */
    tdb_put_range(db, NULL, 0, 10, 6);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 10, 6);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    tdb_expect_range(db, 0, 10, 6);
    for (int i = 10; i < 3000; i++) {
        int gen = i % 2 == 0 ? (i >= 2500 && i < 2600 ? -1 : 5)
                             : (i >= 2000 && i < 2100   ? 2
                                : i >= 1000 && i < 1100 ? 1
                                                        : 0);
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)gen);
        tdb_expect(db, NULL, k, kl, gen < 0 ? NULL : v, vl);
    }
    tdb_expect_range(db, 5000, 5100, 5);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(ingest, each_table_goes_to_the_deepest_level_it_fits)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = LAMINA_COMPACTION_NONE; /* the shape stays as the test makes it */
    lamina_db *db = tdb_open(T.path, &o);
    int bottom = (int)o.num_levels - 1;
    /* Keys 0..999 at level 1 (compacted), 2000..2099 in a level-0 run. */
    tdb_put_range(db, NULL, 0, 1000, 0);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    cr_assert_gt(files_at(db, 1), 0);
    tdb_put_range(db, NULL, 2000, 2100, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    uint64_t l0 = files_at(db, 0), l0_runs = tdb_prop(db, "lamina.num-runs-at-level0");
    uint64_t l1 = files_at(db, 1);

    char p[5][512];
    const char *names[] = {"below.sst", "l1.sst", "l0.sst", "mid.sst", "gap.sst"};
    for (int i = 0; i < 5; i++)
        ext_path(p[i], sizeof(p[i]), names[i]);
    write_table(p[0], 5000, 5100, 1, 3, 0, 0); /* overlaps nothing: the bottom */
    write_table(p[1], 500, 600, 1, 3, 0, 0);   /* overlaps level 1: level 0 */
    write_table(p[2], 2050, 2060, 1, 3, 0, 0); /* overlaps level 0: level 0 */
    const char *first[] = {p[0], p[1], p[2]};
    ingest_ok(db, first, 3);
    cr_assert_eq(files_at(db, bottom), 1);
    cr_assert_eq(files_at(db, 0), l0 + 2, "two tables at level 0");
    cr_assert_eq(tdb_prop(db, "lamina.num-runs-at-level0"), l0_runs + 1, "as one new run");
    cr_assert_eq(files_at(db, 1), l1);

    write_table(p[3], 5050, 5060, 1, 4, 0, 0); /* overlaps the bottom only: just above it */
    write_table(p[4], 1500, 1600, 1, 4, 0, 0); /* overlaps nothing: joins the bottom run */
    const char *second[] = {p[3], p[4]};
    ingest_ok(db, second, 2);
    cr_assert_eq(files_at(db, bottom - 1), 1);
    cr_assert_eq(files_at(db, bottom), 2);
    char name[64];
    snprintf(name, sizeof(name), "lamina.num-runs-at-level%d", bottom);
    cr_assert_eq(tdb_prop(db, name), 1, "one run at the bottom");

    for (int reopen = 0; reopen < 2; reopen++) {
        tdb_expect_range(db, 5000, 5050, 3);
        tdb_expect_range(db, 5050, 5060, 4);
        tdb_expect_range(db, 5060, 5100, 3);
        tdb_expect_range(db, 500, 600, 3);
        tdb_expect_range(db, 2050, 2060, 3);
        tdb_expect_range(db, 1500, 1600, 4);
        tdb_expect_range(db, 0, 500, 0);
        tdb_expect_range(db, 600, 1000, 0);
        tdb_expect_range(db, 2000, 2050, 0);
        tdb_expect_range(db, 2060, 2100, 0);
        cr_assert_eq(files_at(db, bottom), 2);
        cr_assert_eq(lamina_close(db), LAMINA_OK);
        db = tdb_open(T.path, &o);
    }
    cr_assert_eq(lamina_verify(db, NULL), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(ingest, the_move_flag_removes_the_callers_file)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    char path[512];
    ext_path(path, sizeof(path), "ext.sst");
    write_table(path, 0, 100, 1, 1, 0, 0);
    const char *paths[] = {path};
    cr_assert_eq(lamina_ingest(db, paths, 1, LAMINA_INGEST_MOVE), LAMINA_OK, "%s",
                 lamina_errmsg(db));
    struct stat st;
    cr_assert_neq(stat(path, &st), 0);
    tdb_expect_range(db, 0, 100, 1);
    cr_assert_eq(lamina_ingest(db, paths, 0, 0), LAMINA_OK, "n = 0 does nothing");
    cr_assert_eq(lamina_ingest(db, paths, 1, 0x80), LAMINA_EINVAL, "unknown flags");
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- Bad inputs ------------------------------------------------------------------------ */

/* Number of .sst files in dir. */
static int count_tables(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        n += len > 4 && strcmp(e->d_name + len - 4, ".sst") == 0;
    }
    closedir(d);
    return n;
}

/* Asserts that ingesting paths fails with want and leaves the database as it was. */
static void ingest_refused(lamina_db *db, const char *const *paths, size_t n, int want,
                           const char *what)
{
    uint64_t seq = tdb_prop(db, "lamina.sequence");
    int tables = count_tables(T.path);
    int rc = lamina_ingest(db, paths, n, 0);
    cr_assert_eq(rc, want, "%s: %s (%s)", what, lamina_strerror(rc), lamina_errmsg(db));
    cr_assert(lamina_errmsg(db)[0], "%s: a message", what);
    cr_assert_eq(tdb_prop(db, "lamina.sequence"), seq, "%s: no sequence number taken", what);
    cr_assert_eq(count_tables(T.path), tables, "%s: no table left behind", what);
    tdb_expect_range(db, 0, 1000, 0);
    cr_assert_eq(tdb_count(db, NULL), 1000, "%s", what);
}

Test(ingest, bad_files_are_refused_and_change_nothing)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 1000, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);

    char missing[512], good[512], corrupt[512], text[512], over[512];
    ext_path(missing, sizeof(missing), "missing.sst");
    ext_path(good, sizeof(good), "good.sst");
    ext_path(corrupt, sizeof(corrupt), "corrupt.sst");
    ext_path(text, sizeof(text), "notes.txt");
    ext_path(over, sizeof(over), "over.sst");
    write_table(good, 0, 1000, 1, 9, 0, 0);
    write_table(corrupt, 0, 1000, 1, 9, 0, 0);
    tdb_flip(corrupt, 100, 0x40); /* inside the first data block */
    write_table(over, 990, 2000, 1, 9, 0, 0);
    FILE *f = fopen(text, "w");
    cr_assert_not_null(f);
    fputs("not a table, but long enough to hold a footer's worth of bytes ........\n", f);
    fclose(f);

    const char *m[] = {good, missing};
    ingest_refused(db, m, 2, LAMINA_EIO, "a missing file");
    cr_assert(strstr(lamina_errmsg(db), "missing.sst"), "%s", lamina_errmsg(db));
    const char *c[] = {corrupt};
    ingest_refused(db, c, 1, LAMINA_ECORRUPT, "a damaged file");
    const char *t[] = {text};
    ingest_refused(db, t, 1, LAMINA_ECORRUPT, "not a table");
    const char *ov[] = {good, over};
    ingest_refused(db, ov, 2, LAMINA_EINVAL, "overlapping files");
    cr_assert(strstr(lamina_errmsg(db), "overlap"), "%s", lamina_errmsg(db));
    const char *same[] = {good, good};
    ingest_refused(db, same, 2, LAMINA_EINVAL, "one file twice");
    const char *null_path[] = {good, NULL};
    ingest_refused(db, null_path, 2, LAMINA_EINVAL, "a NULL path");
    cr_assert_eq(lamina_ingest(NULL, m, 1, 0), LAMINA_EINVAL);
    cr_assert_eq(lamina_ingest(db, NULL, 1, 0), LAMINA_EINVAL);

    /* The database is intact and still takes an ingestion. */
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 1000, 0);
    const char *g[] = {good};
    ingest_ok(db, g, 1);
    tdb_expect_range(db, 0, 1000, 9);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- With writers ---------------------------------------------------------------------- */

struct writer_arg {
    lamina_db *db;
    int from, to, gen;
    int rc;
};

static void *write_keys(void *arg)
{
    struct writer_arg *w = arg;
    char k[32], v[96];
    for (int i = w->from; i < w->to && w->rc == 0; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)w->gen);
        w->rc = lamina_put(w->db, NULL, k, kl, v, vl);
    }
    return NULL;
}

Test(ingest, an_ingestion_between_writes_to_the_same_keys_orders_with_them)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    char path[512];
    ext_path(path, sizeof(path), "ext.sst");
    write_table(path, 0, 4000, 1, 5, 0, 0);
    /* A writer rewrites keys 0..3999 in order with gen 1 while the table goes in: each key
     * ends up with the writer's value when the writer put it after the ingestion, else the
     * table's (newer than the writes before it): keys 0..s-1 the table's, s..3999 the
     * writer's, for one point s. */
    struct writer_arg w = {db, 0, 4000, 1, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, write_keys, &w), 0);
    const char *paths[] = {path};
    ingest_ok(db, paths, 1);
    pthread_join(th, NULL);
    cr_assert_eq(w.rc, LAMINA_OK);
    char k[32], v[96];
    int first_new = -1;
    for (int i = 0; i < 4000; i++) {
        size_t kl = tdb_key(k, (uint64_t)i);
        void *got = NULL;
        size_t gl = 0;
        cr_assert_eq(lamina_get(db, NULL, k, kl, &got, &gl), LAMINA_OK);
        size_t vl1 = tdb_value(v, (uint64_t)i, 1);
        int is_writer = gl == vl1 && memcmp(got, v, gl) == 0;
        size_t vl5 = tdb_value(v, (uint64_t)i, 5);
        cr_assert(is_writer || (gl == vl5 && memcmp(got, v, gl) == 0), "key %d: a third value", i);
        lamina_free(got);
        /* The keys the writer put before the ingestion show the table's value, those after
         * the writer's: one switch point. */
        if (!is_writer && first_new >= 0)
            cr_assert_fail("key %d holds the table's value after key %d held the writer's", i,
                           first_new);
        if (is_writer && first_new < 0) first_new = i;
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- Power loss ------------------------------------------------------------------------ */

/* Ingests keys 0..999 (gen 4) beside unsynced puts of 2000..2099, cuts the power as the call
 * returns and reopens: the ingested keys must be there. With every sync made a no-op, the same
 * cut loses them, which shows the cut drops what was not made durable. */
static void ingest_then_cut(int sync_off, int expect_gen)
{
    lamina_options o = tdb_small_options();
    /* No compaction after the ingestion: with syncs disabled it would delete its inputs while
     * the edit replacing them is not durable, and the cut would lose tables the MANIFEST
     * still names. */
    o.compaction_policy = LAMINA_COMPACTION_NONE;
    char path[512];
    ext_path(path, sizeof(path), "ext.sst");
    write_table(path, 0, 1000, 1, 4, 0, 0);
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 10, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    fault_track(1);
    if (sync_off) fault_disable_sync(1);
    tdb_put_range(db, NULL, 2000, 2100, 1);
    const char *paths[] = {path};
    ingest_ok(db, paths, 1);
    cr_assert_eq(fault_power_loss(), 0, "%s", lamina_errmsg(NULL));
    (void)lamina_close(db); /* the frozen file layer fails what close writes */
    fault_clear();
    db = tdb_open(T.path, &o);
    if (expect_gen >= 0) {
        tdb_expect_range(db, 0, 1000, expect_gen);
    } else {
        tdb_expect_range(db, 0, 10, 1);
        tdb_expect_range(db, 10, 1000, -1);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(ingest, an_ingestion_survives_a_power_cut_as_it_returns)
{
    ingest_then_cut(0, 4);
}

Test(ingest, without_syncs_the_same_power_cut_loses_the_ingestion)
{
    ingest_then_cut(1, -1);
}

/* ---- A table taken from a database ----------------------------------------------------- */

Test(ingest, a_table_holding_several_versions_of_a_key_contributes_its_newest)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    /* A snapshot keeps the older versions through the flush: the table holds every one. */
    tdb_put(db, "a", 1, "old", 3);
    tdb_put(db, "b", 1, "old", 3);
    const lamina_snapshot *snap = NULL;
    cr_assert_eq(lamina_snapshot_create(db, &snap), LAMINA_OK);
    tdb_put(db, "a", 1, "new", 3);
    cr_assert_eq(lamina_delete(db, NULL, "b", 1), LAMINA_OK);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    lamina_snapshot_release(db, snap);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char table[512], other[512];
    tdb_find_file(T.path, ".sst", 0, table, sizeof(table));
    cr_assert(table[0]);
    lamina_sst *sst = NULL;
    cr_assert_eq(lamina_sst_open(table, &sst), LAMINA_OK);
    lamina_sst_props p = {.struct_size = sizeof(p)};
    cr_assert_eq(lamina_sst_properties(sst, &p), LAMINA_OK);
    cr_assert_eq(p.entries, 4, "both versions of both keys");
    lamina_sst_close(sst);

    ext_path(other, sizeof(other), "other");
    db = tdb_open(other, &o);
    tdb_put(db, "b", 1, "there", 5);
    tdb_put(db, "c", 1, "there", 5);
    const char *paths[] = {table};
    ingest_ok(db, paths, 1);
    tdb_expect(db, NULL, "a", 1, "new", 3);
    tdb_expect(db, NULL, "b", 1, NULL, 0); /* the newest version is a tombstone */
    tdb_expect(db, NULL, "c", 1, "there", 5);
    cr_assert_eq(tdb_count(db, NULL), 2);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
