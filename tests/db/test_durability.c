/* test_durability.c — the order of syncs, renames and deletions that makes acknowledged writes
 * survive a crash, traced and broken with the fault hook of util/file.h: open's MANIFEST and
 * CURRENT swap, WALs newer than the MANIFEST's last edit, failed syncs making the db read-only. */
#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "util/file.h"

static void teardown(void)
{
    file_set_fault_hook(NULL, NULL);
    tdb_teardown();
}

TestSuite(durability, .init = tdb_setup, .fini = teardown);

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int count_files(const char *suffix)
{
    DIR *d = opendir(T.path);
    cr_assert_not_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += ends_with(e->d_name, suffix);
    closedir(d);
    return n;
}

/* ---- A trace of file operations --------------------------------------------------------- */

#define TRACE_MAX 16384
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static char trace_op[TRACE_MAX][16];
static char trace_name[TRACE_MAX][128];
static int trace_n;

static int trace_hook(const char *op, const char *path, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&trace_mu);
    if (trace_n < TRACE_MAX) {
        snprintf(trace_op[trace_n], sizeof(trace_op[0]), "%s", op);
        /* Directory operations keep the whole path, file operations the name. */
        snprintf(trace_name[trace_n], sizeof(trace_name[0]), "%s",
                 strcmp(op, "dir_sync") == 0 ? path : base_name(path));
        trace_n++;
    }
    pthread_mutex_unlock(&trace_mu);
    return 0;
}

/* WALs created since the trace started. */
static int trace_count_wal_creates(void)
{
    int n = 0;
    pthread_mutex_lock(&trace_mu);
    for (int i = 0; i < trace_n; i++)
        n += strcmp(trace_op[i], "create") == 0 && ends_with(trace_name[i], ".log");
    pthread_mutex_unlock(&trace_mu);
    return n;
}

/* Index of the first traced op at or after from matching op and a name prefix (a whole
 * path for dir_sync), or -1. */
static int trace_find(int from, const char *op, const char *prefix)
{
    int whole = strcmp(op, "dir_sync") == 0;
    for (int i = from; i < trace_n; i++)
        if (strcmp(trace_op[i], op) == 0 &&
            (whole ? strcmp(trace_name[i], prefix)
                   : strncmp(trace_name[i], prefix, strlen(prefix))) == 0)
            return i;
    return -1;
}

Test(durability, new_database_directory_entry_is_synced_in_its_parent)
{
    file_set_fault_hook(trace_hook, NULL);
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    file_set_fault_hook(NULL, NULL);
    cr_assert_geq(trace_find(0, "dir_sync", T.dir), 0,
                  "the directory holding a newly created database is synced");
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(durability, manifest_entry_is_synced_before_current_names_it)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 100, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    file_set_fault_hook(trace_hook, NULL);
    db = tdb_open(T.path, &o);
    file_set_fault_hook(NULL, NULL);
    int created = trace_find(0, "create", "MANIFEST-");
    int renamed = -1; /* CURRENT's temporary file (NNNNNN.dbtmp), the first renamed */
    for (int i = 0; i < trace_n && renamed < 0; i++)
        if (strcmp(trace_op[i], "rename") == 0 && ends_with(trace_name[i], ".dbtmp")) renamed = i;
    cr_assert(created >= 0 && renamed > created);
    int synced = trace_find(created, "dir_sync", T.path);
    cr_assert(synced >= 0 && synced < renamed,
              "a dir sync between the MANIFEST's creation (%d) and CURRENT's rename (%d)", created,
              renamed);
    cr_assert_geq(trace_find(renamed, "dir_sync", T.path), 0, "the rename is synced too");
    tdb_expect_range(db, 0, 100, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(durability, synced_write_after_a_switch_syncs_older_wals_and_the_new_entry)
{
    lamina_options o = tdb_small_options();
    o.max_write_buffer_number = 8;
    lamina_db *db = tdb_open(T.path, &o);
    file_set_fault_hook(trace_hook, NULL);
    /* Unsynced writes until the memtable has switched twice (how many entries fill one depends
     * on the memtable kind and on what the allocator counts). */
    int n = 0;
    while (trace_count_wal_creates() < 2 && n < 50000) {
        tdb_put_range(db, NULL, n, n + 100, 0);
        n += 100;
    }
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    wo.sync = 1;
    tdb_put_range(db, &wo, n, n + 1, 0);
    file_set_fault_hook(NULL, NULL);
    /* The trace ends with the synced write's acknowledgement. Every WAL created was synced (by
     * a flush or by this write) or is the active one, synced by this write; each new WAL's
     * entry was synced after its creation. */
    int wals = 0;
    for (int i = 0; i < trace_n; i++) {
        if (strcmp(trace_op[i], "create") || !ends_with(trace_name[i], ".log")) continue;
        wals++;
        int ds = trace_find(i, "dir_sync", T.path);
        cr_assert_geq(ds, 0, "entry of %s synced", trace_name[i]);
        cr_assert_geq(trace_find(i, "sync", trace_name[i]), 0, "%s was synced", trace_name[i]);
    }
    cr_assert_geq(wals, 2, "the memtable switched");
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- WALs newer than the MANIFEST's next file number ------------------------------------ */

static int block_sst_create(const char *op, const char *path, void *ctx)
{
    (void)ctx;
    if (strcmp(op, "create") == 0 && ends_with(path, ".sst"))
        for (;;)
            pause();
    return 0;
}

Test(durability, wals_newer_than_the_manifest_are_replayed_once)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = LAMINA_COMPACTION_NONE; /* reads see the runs as recovery left them */
    o.max_write_buffer_number = 8;
    /* A process whose flushes never finish switches memtables a few times, then dies: its
     * newest WALs carry numbers the MANIFEST never recorded. */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        lamina_db *db = NULL;
        if (lamina_open(T.path, &o, &db)) _exit(2);
        file_set_fault_hook(block_sst_create, NULL);
        char k[32], v[96];
        for (int i = 0; i < 2000; i++) {
            size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 0);
            if (lamina_put(db, NULL, k, kl, v, vl)) _exit(3);
        }
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_geq(count_files(".log"), 3, "the crashed process switched memtables");

    /* Recovery puts them all in tables: only the new WAL is left. */
    lamina_options big = o;
    big.write_buffer_size = 8 << 20;
    lamina_db *db = tdb_open(T.path, &big);
    cr_assert_eq(count_files(".log"), 1, "replayed WALs are obsolete after recovery");
    tdb_expect_range(db, 0, 2000, 0);
    tdb_put_range(db, NULL, 0, 2000, 1); /* newer values, only in the new WAL */
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    /* A small write buffer splits this replay into several level-0 runs. */
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 2000, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- Failures while opening ------------------------------------------------------------- */

static int fail_after_current_rename;

static int fail_dir_sync_after_rename(const char *op, const char *path, void *ctx)
{
    (void)ctx;
    if (strcmp(op, "rename") == 0 && ends_with(path, ".dbtmp")) fail_after_current_rename = 1;
    if (strcmp(op, "dir_sync") == 0 && fail_after_current_rename == 1) {
        fail_after_current_rename = 2;
        return 5; /* EIO */
    }
    return 0;
}

Test(durability, failed_dir_sync_after_current_rename_keeps_the_manifest_it_names)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 500, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    tdb_put_range(db, NULL, 500, 700, 0); /* in the WAL */
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    file_set_fault_hook(fail_dir_sync_after_rename, NULL);
    cr_assert_neq(lamina_open(T.path, &o, &db), LAMINA_OK);
    file_set_fault_hook(NULL, NULL);
    cr_assert_eq(fail_after_current_rename, 2, "the dir sync after the rename failed");
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 700, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

static int fail_current_rename(const char *op, const char *path, void *ctx)
{
    (void)ctx;
    return strcmp(op, "rename") == 0 && ends_with(path, ".dbtmp") ? 5 : 0;
}

Test(durability, open_failing_before_current_is_swapped_loses_nothing)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 300, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    tdb_put_range(db, NULL, 300, 1500, 0); /* WALs, replayed into level 0 at open */
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    file_set_fault_hook(fail_current_rename, NULL);
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_EIO);
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_EIO, "and again");
    file_set_fault_hook(NULL, NULL);
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 1500, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    cr_assert_eq(count_files(".dbtmp"), 0);
}

/* ---- Failed syncs ----------------------------------------------------------------------- */

static int manifest_syncs;

static int fail_manifest_sync(const char *op, const char *path, void *ctx)
{
    (void)ctx;
    if (strcmp(op, "sync") || strncmp(base_name(path), "MANIFEST-", 9)) return 0;
    manifest_syncs++;
    return 5;
}

Test(durability, failed_manifest_sync_keeps_the_wal_and_is_never_retried)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 300, 0);
    file_set_fault_hook(fail_manifest_sync, NULL);
    cr_assert_eq(lamina_flush(db), LAMINA_EREADONLY);
    cr_assert_eq(lamina_put(db, NULL, "k", 1, "v", 1), LAMINA_EREADONLY);
    cr_assert_eq(lamina_flush(db), LAMINA_EREADONLY);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_EREADONLY);
    tdb_expect_range(db, 0, 300, 0);
    cr_assert_eq(lamina_close(db), LAMINA_EIO);
    file_set_fault_hook(NULL, NULL);
    cr_assert_eq(manifest_syncs, 1, "one failed MANIFEST sync, never retried");
    cr_assert_geq(count_files(".log"), 1);
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 300, 0);
    tdb_expect(db, NULL, "k", 1, NULL, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
