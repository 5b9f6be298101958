/* test_checkpoint.c — lamina_checkpoint: a copy of a database with data in the memtable and
 * in several levels opens elsewhere with exactly that data; one taken while another thread
 * loads keys in order holds a prefix of the load (every write acknowledged before the call);
 * the source keeps working and its tables are not changed; bad directories are refused. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "helpers.h"
#include "util/fault.h"

TestSuite(checkpoint, .init = tdb_setup, .fini = tdb_teardown);

static void cp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", T.dir, name);
}

static void checkpoint_ok(lamina_db *db, const char *dir)
{
    int rc = lamina_checkpoint(db, dir);
    cr_assert_eq(rc, LAMINA_OK, "checkpoint %s: %s: %s", dir, lamina_strerror(rc),
                 lamina_errmsg(db));
}

/* Keys 0..2999: 0..2999 gen 0 compacted to a deeper level, 1000..1999 gen 1 in a level-0
 * table, 2500..2599 gen 2 and deletions of 0..49 only in the memtable. model[i]: the
 * generation of key i, -1 when deleted. */
static void layered_load(lamina_db *db, int *model)
{
    char k[32];
    tdb_put_range(db, NULL, 0, 3000, 0);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK, "%s", lamina_errmsg(db));
    tdb_put_range(db, NULL, 1000, 2000, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    tdb_put_range(db, NULL, 2500, 2600, 2);
    for (int i = 0; i < 50; i++)
        cr_assert_eq(lamina_delete(db, NULL, k, tdb_key(k, (uint64_t)i)), LAMINA_OK);
    for (int i = 0; i < 3000; i++)
        model[i] = i < 50 ? -1 : i >= 2500 && i < 2600 ? 2 : i >= 1000 && i < 2000 ? 1 : 0;
}

static void expect_model(lamina_db *db, const int *model, int n)
{
    char k[32], v[96];
    size_t live = 0;
    for (int i = 0; i < n; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)model[i]);
        tdb_expect(db, NULL, k, kl, model[i] < 0 ? NULL : v, vl);
        live += model[i] >= 0;
    }
    size_t got = tdb_count(db, NULL);
    cr_assert_eq(got, live, "%zu keys, %zu expected", got, live);
}

Test(checkpoint, a_copy_of_memtable_and_levels_opens_with_exactly_the_data)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    static int model[3100];
    layered_load(db, model);
    cr_assert_gt(tdb_prop(db, "lamina.num-levels"), 1, "the load reaches below level 0");
    char cp[512];
    cp_path(cp, sizeof(cp), "cp");
    checkpoint_ok(db, cp);
    /* The source goes on taking writes; the copy must not see them. */
    tdb_put_range(db, NULL, 0, 100, 3);
    lamina_db *copy = tdb_open(cp, &o);
    expect_model(copy, model, 3000);
    cr_assert_eq(lamina_verify(copy, NULL), LAMINA_OK, "%s", lamina_errmsg(copy));
    /* The copy is a database of its own: it takes writes and compacts. */
    tdb_put_range(copy, NULL, 3000, 3100, 4);
    cr_assert_eq(lamina_compact_range(copy, NULL, 0, NULL, 0), LAMINA_OK);
    tdb_expect_range(copy, 3000, 3100, 4);
    cr_assert_eq(lamina_close(copy), LAMINA_OK);
    for (int i = 3000; i < 3100; i++)
        model[i] = 4;
    /* And it reopens with that data. */
    copy = tdb_open(cp, &o);
    expect_model(copy, model, 3100);
    cr_assert_eq(lamina_close(copy), LAMINA_OK);
    tdb_expect_range(db, 0, 100, 3);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(checkpoint, an_empty_database_copies_to_an_empty_one)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    char cp[512];
    cp_path(cp, sizeof(cp), "cp");
    checkpoint_ok(db, cp);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    lamina_db *copy = tdb_open(cp, &o);
    cr_assert_eq(tdb_count(copy, NULL), 0);
    cr_assert_eq(lamina_close(copy), LAMINA_OK);
}

/* ---- A checkpoint during a load -------------------------------------------------------- */

#define LOAD_KEYS 60000

struct loader {
    lamina_db *db;
    atomic_int acked; /* keys 0..acked-1 were acknowledged */
    int rc;
};

static void *load_in_order(void *arg)
{
    struct loader *l = arg;
    char k[32], v[96];
    for (int i = 0; i < LOAD_KEYS; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 0);
        int rc = lamina_put(l->db, NULL, k, kl, v, vl);
        if (rc) {
            l->rc = rc;
            break;
        }
        atomic_store(&l->acked, i + 1);
    }
    return NULL;
}

Test(checkpoint, a_copy_taken_during_a_load_holds_a_prefix_of_it)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    struct loader l = {.db = db};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, load_in_order, &l), 0);
    char cp[3][512];
    int before[3];
    for (int c = 0; c < 3; c++) {
        while (atomic_load(&l.acked) < (c + 1) * LOAD_KEYS / 5)
            sched_yield();
        before[c] = atomic_load(&l.acked);
        char name[16];
        snprintf(name, sizeof(name), "cp%d", c);
        cp_path(cp[c], sizeof(cp[c]), name);
        checkpoint_ok(db, cp[c]);
    }
    pthread_join(th, NULL);
    cr_assert_eq(l.rc, LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    for (int c = 0; c < 3; c++) {
        lamina_db *copy = tdb_open(cp[c], &o);
        lamina_iter *it;
        cr_assert_eq(lamina_iter_create(copy, NULL, &it), LAMINA_OK);
        char k[32], v[96];
        int n = 0;
        for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it), n++) {
            size_t kl, vl, ekl = tdb_key(k, (uint64_t)n), evl = tdb_value(v, (uint64_t)n, 0);
            const void *key = lamina_iter_key(it, &kl), *val = lamina_iter_value(it, &vl);
            cr_assert(kl == ekl && memcmp(key, k, kl) == 0,
                      "checkpoint %d: entry %d is not key %d: a gap in the prefix", c, n, n);
            cr_assert(vl == evl && memcmp(val, v, vl) == 0, "checkpoint %d: value of key %d", c, n);
        }
        cr_assert_eq(lamina_iter_status(it), LAMINA_OK);
        lamina_iter_destroy(it);
        cr_assert_geq(n, before[c], "checkpoint %d holds %d keys, %d were acknowledged before", c,
                      n, before[c]);
        cr_assert_eq(lamina_close(copy), LAMINA_OK);
    }
}

/* ---- The source ------------------------------------------------------------------------ */

/* Name, size and a hash of the contents of every table in dir, sorted by name, as text. */
static void tables_fingerprint(const char *dir, char *out, size_t cap)
{
    char names[256][64];
    int n = 0;
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".sst") == 0 && n < 256)
            snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        char p[17000];
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "rb");
        cr_assert_not_null(f, "%s", p);
        uint64_t h = 1469598103934665603ull, size = 0;
        for (int c; (c = fgetc(f)) != EOF; size++)
            h = (h ^ (uint64_t)c) * 1099511628211ull;
        fclose(f);
        used += (size_t)snprintf(out + used, cap - used, "%s %llu %016llx\n", names[i],
                                 (unsigned long long)size, (unsigned long long)h);
        cr_assert_lt(used, cap);
    }
}

Test(checkpoint, the_source_keeps_working_and_its_tables_do_not_change)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 2000, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    static char before[16384], after[16384], copied[16384];
    tables_fingerprint(T.path, before, sizeof(before));
    cr_assert(before[0], "the source has tables");
    char cp[512];
    cp_path(cp, sizeof(cp), "cp");
    checkpoint_ok(db, cp);
    tables_fingerprint(T.path, after, sizeof(after));
    cr_assert_str_eq(after, before, "the checkpoint changed the source's tables");
    tables_fingerprint(cp, copied, sizeof(copied));
    cr_assert_str_eq(copied, before, "the copy's tables are the source's");
    /* Writing and compacting the copy leaves the source's tables alone. */
    lamina_db *copy = tdb_open(cp, &o);
    tdb_put_range(copy, NULL, 0, 2000, 1);
    cr_assert_eq(lamina_compact_range(copy, NULL, 0, NULL, 0), LAMINA_OK);
    cr_assert_eq(lamina_close(copy), LAMINA_OK);
    tables_fingerprint(T.path, after, sizeof(after));
    cr_assert_str_eq(after, before, "compacting the copy changed the source's tables");
    /* The source goes on. */
    tdb_expect_range(db, 0, 2000, 0);
    tdb_put_range(db, NULL, 2000, 3000, 0);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    tdb_expect_range(db, 0, 3000, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(checkpoint, bad_directories_are_refused_and_change_nothing)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 100, 0);
    char cp[512];
    cp_path(cp, sizeof(cp), "exists");
    cr_assert_eq(mkdir(cp, 0755), 0);
    cr_assert_eq(lamina_checkpoint(db, cp), LAMINA_EEXIST);
    cr_assert(strstr(lamina_errmsg(db), "exists"), "message: %s", lamina_errmsg(db));
    /* The refusal flushed nothing. */
    cr_assert_eq(tdb_prop(db, "lamina.num-files-at-level0"), 0);
    cr_assert_eq(lamina_checkpoint(db, T.path), LAMINA_EEXIST, "the database's own directory");
    cp_path(cp, sizeof(cp), "missing/cp");
    cr_assert_eq(lamina_checkpoint(db, cp), LAMINA_ENOENT, "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_checkpoint(db, NULL), LAMINA_EINVAL);
    cr_assert_eq(lamina_checkpoint(NULL, cp), LAMINA_EINVAL);
    cr_assert_eq(lamina_checkpoint(db, ""), LAMINA_EINVAL);
    struct stat st;
    cr_assert_neq(stat(cp, &st), 0, "nothing was created");
    tdb_expect_range(db, 0, 100, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* A power cut as lamina_checkpoint returns: the copy opens with its data, since its MANIFEST,
 * CURRENT, OPTIONS and directory entries were synced. With syncs made no-ops the same cut
 * leaves no openable copy, which shows the cut drops what was not made durable. */
static void checkpoint_then_cut(int sync_off)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 1000, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    tdb_put_range(db, NULL, 1000, 1100, 0);
    char cp[512];
    cp_path(cp, sizeof(cp), "cp");
    fault_track(1);
    if (sync_off) fault_disable_sync(1);
    checkpoint_ok(db, cp);
    cr_assert_eq(fault_power_loss(), 0, "%s", lamina_errmsg(NULL));
    (void)lamina_close(db);
    fault_clear();
    lamina_options ro = o;
    ro.create_if_missing = 0;
    lamina_db *copy = NULL;
    int rc = lamina_open(cp, &ro, &copy);
    if (sync_off) {
        cr_assert_neq(rc, LAMINA_OK, "a copy whose files were never synced does not open");
        return;
    }
    cr_assert_eq(rc, LAMINA_OK, "%s: %s", lamina_strerror(rc), lamina_errmsg(NULL));
    tdb_expect_range(copy, 0, 1100, 0);
    cr_assert_eq(lamina_close(copy), LAMINA_OK);
}

Test(checkpoint, a_copy_survives_a_power_cut_as_it_returns)
{
    checkpoint_then_cut(0);
}

Test(checkpoint, without_syncs_the_same_power_cut_leaves_no_copy)
{
    checkpoint_then_cut(1);
}
