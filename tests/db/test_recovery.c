/* test_recovery.c — durability and damage: reopening recovers from the WAL with and without
 * flushes and after a crash, a damaged WAL or MANIFEST is refused with LAMINA_ECORRUPT naming
 * the file, a non-table .sst fails the get that needs it; compaction levels and tombstones. */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/db_impl.h"
#include "helpers.h"

TestSuite(recovery, .init = tdb_setup, .fini = tdb_teardown);

static void find_file(const char *pattern, int prefix, char *out, size_t cap)
{
    tdb_find_file(T.path, pattern, prefix, out, cap);
}

static void flip_byte(const char *path, long off)
{
    tdb_flip(path, off, 0x40);
}

static long file_len(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return (long)st.st_size;
}

static lamina_options big_buffer_options(void)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 8 << 20; /* everything stays in the WAL */
    return o;
}

/* Closes db (which must succeed) and opens the database again with o. */
static lamina_db *reopen(lamina_db *db, const lamina_options *o)
{
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    return tdb_open(T.path, o);
}

/* A closed database holding keys [0, n) of generation 0 in one flushed table. */
static void write_one_table(const lamina_options *o, int n)
{
    lamina_db *db = tdb_open(T.path, o);
    tdb_put_range(db, NULL, 0, n, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* Opening must fail with LAMINA_ECORRUPT and a message naming the damaged file. */
static void expect_open_ecorrupt(const lamina_options *o, const char *names)
{
    lamina_db *db = NULL;
    cr_assert_eq(lamina_open(T.path, o, &db), LAMINA_ECORRUPT);
    const char *msg = lamina_errmsg(NULL);
    cr_assert_not_null(strstr(msg, names), "the message names %s: %s", names, msg);
}

static void delete_keys(lamina_db *db, int from, int to, int step)
{
    char k[32];
    for (int i = from; i < to; i += step) {
        size_t kl = tdb_key(k, (uint64_t)i);
        cr_assert_eq(lamina_delete(db, NULL, k, kl), LAMINA_OK);
    }
}

Test(recovery, reopen_recovers_writes_from_wal)
{
    lamina_options o = big_buffer_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 3000, 0);
    cr_assert_eq(lamina_delete(db, NULL, "key000000000007", 15), LAMINA_OK);
    db = reopen(db, &o);
    tdb_expect_range(db, 0, 7, 0);
    tdb_expect_range(db, 7, 8, -1);
    tdb_expect_range(db, 8, 3000, 0);
    uint64_t seq = tdb_prop(db, "lamina.sequence");
    cr_assert_eq(seq, 3001, "sequence numbers continue after recovery");
    tdb_put_range(db, NULL, 0, 10, 1);
    db = reopen(db, &o);
    tdb_expect_range(db, 0, 7, 1);
    tdb_expect_range(db, 10, 3000, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(recovery, reopen_recovers_flushed_and_unflushed_data)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 2000, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    tdb_put_range(db, NULL, 1000, 2500, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    for (int round = 0; round < 2; round++) {
        db = tdb_open(T.path, &o);
        tdb_expect_range(db, 0, 1000, 0);
        tdb_expect_range(db, 1000, 2500, 1);
        cr_assert_eq(lamina_close(db), LAMINA_OK);
    }
}

Test(recovery, synced_writes_survive_a_crash)
{
    lamina_options o = big_buffer_options();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        lamina_db *db = NULL;
        if (lamina_open(T.path, &o, &db)) _exit(2);
        char k[32], v[96];
        lamina_write_options wo;
        lamina_write_options_init(&wo);
        for (int i = 0; i < 500; i++) {
            size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 0);
            wo.sync = i == 499;
            if (lamina_put(db, &wo, k, kl, v, vl)) _exit(3);
        }
        _exit(0); /* no close: a crash */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    lamina_db *db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 500, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(recovery, wal_torn_tail_is_dropped)
{
    lamina_options o = big_buffer_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 1000, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char wal[600];
    find_file(".log", 0, wal, sizeof(wal));
    cr_assert_neq(wal[0], 0);
    cr_assert_eq(truncate(wal, file_len(wal) - 5), 0);
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 999, 0);
    tdb_expect_range(db, 999, 1000, -1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(recovery, damaged_wal_record_before_tail_is_ecorrupt)
{
    lamina_options o = big_buffer_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 3000, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char wal[600];
    find_file(".log", 0, wal, sizeof(wal));
    cr_assert_gt(file_len(wal), 40000, "the WAL spans blocks");
    flip_byte(wal, 100);
    expect_open_ecorrupt(&o, ".log");
}

Test(recovery, damaged_manifest_is_ecorrupt)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    for (int i = 0; i < 4; i++) {
        tdb_put_range(db, NULL, i * 100, i * 100 + 100, 0);
        cr_assert_eq(lamina_flush(db), LAMINA_OK);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char man[600];
    find_file("MANIFEST-", 1, man, sizeof(man));
    cr_assert_neq(man[0], 0);
    flip_byte(man, 12);
    expect_open_ecorrupt(&o, "MANIFEST");
}

Test(recovery, truncated_manifest_is_ecorrupt)
{
    lamina_options o = tdb_small_options();
    write_one_table(&o, 100);
    char man[600];
    find_file("MANIFEST-", 1, man, sizeof(man));
    cr_assert_eq(truncate(man, 10), 0);
    expect_open_ecorrupt(&o, "MANIFEST");
}

Test(recovery, non_table_sst_fails_the_get_with_ecorrupt)
{
    lamina_options o = tdb_small_options();
    write_one_table(&o, 100);
    char sst[600];
    find_file(".sst", 0, sst, sizeof(sst));
    cr_assert_neq(sst[0], 0);
    long len = file_len(sst);
    FILE *f = fopen(sst, "wb");
    for (long i = 0; i < len; i++)
        fputc("not a table "[i % 12], f);
    fclose(f);
    lamina_db *db = tdb_open(T.path, &o);
    void *v = NULL;
    size_t vl;
    cr_assert_eq(lamina_get(db, NULL, "key000000000005", 15, &v, &vl), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(lamina_errmsg(db), ".sst"), "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* Entries held by the tables of the current version (engine internals). */
static uint64_t table_entries(lamina_db *db)
{
    uint64_t seq, n = 0;
    struct super_version *sv = db_sv_acquire(db, &seq);
    for (int l = 0; l < sv->v->num_levels; l++)
        for (size_t r = 0; r < sv->v->levels[l].nruns; r++)
            for (size_t i = 0; i < sv->v->levels[l].runs[r].nfiles; i++)
                n += sv->v->levels[l].runs[r].files[i]->entries;
    db_sv_release(sv);
    return n;
}

Test(recovery, flush_and_compact_range_build_levels_and_keep_data)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 4000, 0);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(tdb_prop(db, "lamina.num-runs-at-level0"), 0);
    tdb_put_range(db, NULL, 0, 500, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_geq(tdb_prop(db, "lamina.num-levels"), 2, "level 0 and a deeper level");
    tdb_expect_range(db, 0, 500, 1);
    tdb_expect_range(db, 500, 4000, 0);
    db = reopen(db, &o);
    tdb_expect_range(db, 0, 500, 1);
    tdb_expect_range(db, 500, 4000, 0);
    cr_assert_eq(tdb_count(db, NULL), 4000);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(recovery, tombstones_are_dropped_at_the_last_level_without_snapshots)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 1000, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    delete_keys(db, 0, 1000, 2);
    const lamina_snapshot *snap;
    cr_assert_eq(lamina_snapshot_create(db, &snap), LAMINA_OK);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    /* A snapshot needs nothing older than itself here, but its own view is kept. */
    cr_assert_eq(tdb_count(db, NULL), 500);
    lamina_snapshot_release(db, snap);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    cr_assert_eq(table_entries(db), 500, "only the 500 live keys remain in tables");
    delete_keys(db, 1, 1000, 2);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    cr_assert_eq(table_entries(db), 0);
    cr_assert_eq(tdb_count(db, NULL), 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(recovery, writes_stall_but_never_fail_under_a_tiny_write_buffer, .timeout = 120)
{
    lamina_options o = tdb_small_options();
    o.max_write_buffer_number = 2;
    o.level0_file_num_compaction_trigger = 1;
    o.level0_slowdown_writes_trigger = 3;
    o.level0_stop_writes_trigger = 4;
    o.max_background_jobs = 1;
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 20000, 0);
    tdb_put_range(db, NULL, 0, 5000, 1);
    tdb_expect_range(db, 0, 5000, 1);
    tdb_expect_range(db, 5000, 20000, 0);
    cr_assert_gt(tdb_prop(db, "lamina.num-levels"), 1);
    db = reopen(db, &o);
    cr_assert_eq(tdb_count(db, NULL), 20000);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(recovery, obsolete_files_are_deleted)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    for (int r = 0; r < 5; r++) {
        tdb_put_range(db, NULL, 0, 1000, r);
        cr_assert_eq(lamina_flush(db), LAMINA_OK);
    }
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    /* Obsolete tables are deleted by a background thread. */
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    uint64_t files = 0;
    for (int l = 0; l < 7; l++) {
        char name[64];
        snprintf(name, sizeof(name), "lamina.num-files-at-level%d", l);
        files += tdb_prop(db, name);
    }
    DIR *d = opendir(T.path);
    struct dirent *e;
    uint64_t ssts = 0, logs = 0, manifests = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        ssts += n > 4 && strcmp(e->d_name + n - 4, ".sst") == 0;
        logs += n > 4 && strcmp(e->d_name + n - 4, ".log") == 0;
        manifests += strncmp(e->d_name, "MANIFEST-", 9) == 0;
    }
    closedir(d);
    cr_assert_eq(ssts, files, "every .sst on disk is live (%llu on disk, %llu live)",
                 (unsigned long long)ssts, (unsigned long long)files);
    cr_assert_eq(logs, 1, "only the active WAL is kept");
    cr_assert_eq(manifests, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

static int fail_sync_of(const char *op, const char *path, void *ctx)
{
    const char *suffix = ctx;
    size_t n = strlen(path), m = strlen(suffix);
    return strcmp(op, "sync") == 0 && n >= m && strcmp(path + n - m, suffix) == 0 ? 5 /* EIO */ : 0;
}

Test(recovery, background_io_error_makes_db_read_only_and_loses_nothing)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 300, 0);
    file_set_fault_hook(fail_sync_of, (void *)".sst");
    cr_assert_eq(lamina_flush(db), LAMINA_EREADONLY);
    cr_assert_not_null(strstr(lamina_errmsg(db), "sst"), "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_put(db, NULL, "k", 1, "v", 1), LAMINA_EREADONLY);
    tdb_expect_range(db, 0, 300, 0); /* reads go on */
    file_set_fault_hook(NULL, NULL);
    cr_assert_eq(lamina_close(db), LAMINA_EIO, "close reports the background error");
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 300, 0);
    tdb_expect(db, NULL, "k", 1, NULL, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(recovery, failed_wal_sync_is_never_retried)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 10, 0);
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    wo.sync = 1;
    file_set_fault_hook(fail_sync_of, (void *)".log");
    cr_assert_eq(lamina_put(db, &wo, "k", 1, "v", 1), LAMINA_EIO);
    file_set_fault_hook(NULL, NULL);
    cr_assert_eq(lamina_put(db, &wo, "k2", 2, "v", 1), LAMINA_EREADONLY);
    cr_assert_eq(lamina_close(db), LAMINA_EIO);
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 10, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(recovery, missing_table_is_ecorrupt_at_open)
{
    lamina_options o = tdb_small_options();
    write_one_table(&o, 100);
    char sst[600];
    find_file(".sst", 0, sst, sizeof(sst));
    cr_assert_eq(unlink(sst), 0);
    expect_open_ecorrupt(&o, ".sst");
}

Test(recovery, compact_range_outside_every_table_changes_nothing)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = LAMINA_COMPACTION_NONE; /* only compact_range merges */
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 500, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    tdb_put_range(db, NULL, 0, 500, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    uint64_t runs = tdb_prop(db, "lamina.total-runs");
    cr_assert_eq(lamina_compact_range(db, "zzz", 3, NULL, 0), LAMINA_OK);
    cr_assert_eq(tdb_prop(db, "lamina.total-runs"), runs, "no table lies after \"zzz\"");
    cr_assert_eq(lamina_compact_range(db, "key000000000100", 15, "key000000000101", 15), LAMINA_OK);
    cr_assert_eq(tdb_prop(db, "lamina.total-runs"), 1);
    tdb_expect_range(db, 0, 500, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(recovery, writes_resume_when_stop_trigger_equals_compaction_trigger, .timeout = 60)
{
    lamina_options o = tdb_small_options();
    o.level0_file_num_compaction_trigger = 2;
    o.level0_slowdown_writes_trigger = 2;
    o.level0_stop_writes_trigger = 2;
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 8000, 0);
    tdb_expect_range(db, 0, 8000, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
