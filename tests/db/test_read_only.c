/* test_read_only.c — lamina_open_read_only: it sees the tables and the WALs' data (replayed in
 * memory), refuses writes, leaves every file of the directory byte-identical, coexists with
 * other read-only handles and with a writer in another process, and reports a table a writer
 * deleted after its open as gone instead of reading anything else. */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "concurrent.h"
#include "dirsnap.h"
#include "helpers.h"

TestSuite(read_only, .init = tdb_setup, .fini = tdb_teardown, .timeout = 300);

static lamina_db *ro_open(const lamina_options *o)
{
    lamina_db *db = NULL;
    int rc = lamina_open_read_only(T.path, o, &db);
    cr_assert_eq(rc, LAMINA_OK, "read-only open: %s: %s", lamina_strerror(rc), lamina_errmsg(NULL));
    cr_assert_not_null(db);
    return db;
}

static struct dirsnap *snap_take(void)
{
    struct dirsnap *s = malloc(sizeof(*s));
    cr_assert_not_null(s);
    dirsnap_take(T.path, s);
    return s;
}

/* A database with keys 0..n-1 in tables and keys n..n+m-1 only in the WAL (the writer closed
 * without flushing them). wal_buffer: the writer's write_buffer_size. */
static void make_db(int n, int m, int64_t wal_buffer)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, n, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    o.write_buffer_size = wal_buffer;
    db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, n, n + m, 2);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(read_only, sees_tables_and_the_wal_replayed_in_memory)
{
    /* 3,000 keys (about 300 KB) in the WAL: replayed with 64 KiB memtables they fill several,
     * which a read-only open keeps as immutable memtables instead of flushing them. */
    make_db(2000, 3000, 4 << 20);
    lamina_options o = tdb_small_options();
    lamina_db *db = ro_open(&o);
    tdb_expect_range(db, 0, 2000, 1);
    tdb_expect_range(db, 2000, 5000, 2);
    tdb_expect_range(db, 5000, 5010, -1);
    cr_assert_eq(tdb_count(db, NULL), 5000);
    cr_assert_eq(tdb_prop(db, "lamina.sequence"), 5000);
    uint64_t entries = 0;
    cr_assert_eq(lamina_verify(db, &entries), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(entries, 2000, "the tables hold the flushed keys only");
    const lamina_snapshot *s;
    cr_assert_eq(lamina_snapshot_create(db, &s), LAMINA_OK);
    lamina_snapshot_release(db, s);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(read_only, writes_flushes_and_compactions_are_refused)
{
    make_db(500, 100, 4 << 20);
    lamina_db *db = ro_open(NULL);
    struct {
        const char *what;
        int rc;
    } calls[12];
    size_t n = 0;
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), LAMINA_OK);
    cr_assert_eq(lamina_batch_put(b, "x", 1, "y", 1), LAMINA_OK);
    calls[n].what = "put";
    calls[n++].rc = lamina_put(db, NULL, "x", 1, "y", 1);
    calls[n].what = "delete";
    calls[n++].rc = lamina_delete(db, NULL, "x", 1);
    calls[n].what = "write";
    calls[n++].rc = lamina_write(db, NULL, b);
    calls[n].what = "flush";
    calls[n++].rc = lamina_flush(db);
    calls[n].what = "compact_range";
    calls[n++].rc = lamina_compact_range(db, NULL, 0, NULL, 0);
    calls[n].what = "resume";
    calls[n++].rc = lamina_resume(db);
    calls[n].what = "wait_for_compactions";
    calls[n++].rc = lamina_wait_for_compactions(db);
    calls[n].what = "delete_range";
    calls[n++].rc = lamina_delete_range(db, NULL, "a", 1, "z", 1);
    char cp[400];
    snprintf(cp, sizeof(cp), "%s/checkpoint", T.dir);
    calls[n].what = "checkpoint";
    calls[n++].rc = lamina_checkpoint(db, cp);
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(calls[i].rc, LAMINA_EREADONLY, "%s returned %s", calls[i].what,
                     lamina_strerror(calls[i].rc));
    }
    lamina_batch_destroy(b);
    cr_assert_eq(lamina_put(db, NULL, "x", 1, "y", 1), LAMINA_EREADONLY);
    cr_assert_not_null(strstr(lamina_errmsg(db), "opened read-only"), "%s", lamina_errmsg(db));
    /* Reads go on, and nothing was written. */
    tdb_expect(db, NULL, "x", 1, NULL, 0);
    tdb_expect_range(db, 0, 500, 1);
    tdb_expect_range(db, 500, 600, 2);
    cr_assert_eq(lamina_close(db), LAMINA_OK, "closing a read-only handle is not an error");
}

Test(read_only, leaves_every_file_byte_identical_and_two_handles_coexist)
{
    make_db(3000, 800, 4 << 20);
    struct dirsnap *before = snap_take();
    lamina_options o = tdb_small_options();
    lamina_db *a = ro_open(&o), *b = ro_open(NULL);
    tdb_expect_range(a, 0, 3000, 1);
    tdb_expect_range(b, 2900, 3000, 1);
    tdb_expect_range(b, 3000, 3800, 2);
    cr_assert_eq(tdb_count(a, NULL), 3800);
    cr_assert_eq(tdb_count(b, NULL), 3800);
    char *stats = NULL;
    cr_assert_eq(lamina_property(b, "lamina.stats", &stats), LAMINA_OK);
    lamina_free(stats);
    cr_assert_eq(lamina_verify(a, NULL), LAMINA_OK);
    cr_assert_eq(lamina_put(a, NULL, "k", 1, "v", 1), LAMINA_EREADONLY);
    cr_assert_eq(lamina_close(a), LAMINA_OK);
    cr_assert_eq(lamina_close(b), LAMINA_OK);
    struct dirsnap *after = snap_take();
    dirsnap_expect_same(before, after);
    free(before);
    free(after);
}

Test(read_only, no_database_and_foreign_directories_are_refused_untouched)
{
    lamina_db *db = (lamina_db *)1;
    cr_assert_eq(lamina_open_read_only(T.path, NULL, &db), LAMINA_ENOENT);
    cr_assert_null(db);
    struct stat st;
    cr_assert_neq(stat(T.path, &st), 0, "a read-only open creates no directory");
    /* A RocksDB directory: IDENTITY, its LOG and OPTIONS file. */
    cr_assert_eq(mkdir(T.path, 0755), 0);
    char p[400];
    const char *files[][2] = {{"CURRENT", "MANIFEST-000005\n"},
                              {"IDENTITY", "7d3a8c2e-1f4b-4c6e-9a1d-2b3c4d5e6f70\n"},
                              {"LOG", "2024/01/01-00:00:00.000000 7f RocksDB version: 8.10.0\n"},
                              {"OPTIONS-000007", "# This is a RocksDB option file.\n"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", T.path, files[i][0]);
        FILE *f = fopen(p, "w");
        cr_assert_not_null(f);
        fputs(files[i][1], f);
        fclose(f);
    }
    struct dirsnap *before = snap_take();
    cr_assert_eq(lamina_open_read_only(T.path, NULL, &db), LAMINA_EINVAL);
    cr_assert_not_null(strstr(lamina_errmsg(NULL), "not Lamina's"), "%s", lamina_errmsg(NULL));
    lamina_options o;
    lamina_options_init(&o);
    cr_assert_eq(lamina_options_load(T.path, &o), LAMINA_EINVAL);
    struct dirsnap *after = snap_take();
    dirsnap_expect_same(before, after);
    free(before);
    free(after);
}

Test(read_only, sees_the_database_as_of_its_open_beside_a_writer)
{
    lamina_options o = tdb_small_options();
    lamina_db *w = tdb_open(T.path, &o);
    tdb_put_range(w, NULL, 0, 1000, 1);
    lamina_db *r = ro_open(&o);
    tdb_put_range(w, NULL, 0, 2000, 2);
    cr_assert_eq(lamina_flush(w), LAMINA_OK);
    tdb_expect_range(r, 0, 1000, 1);
    tdb_expect_range(r, 1000, 1001, -1);
    lamina_db *r2 = ro_open(&o);
    tdb_expect_range(r2, 0, 2000, 2);
    cr_assert_eq(lamina_close(r), LAMINA_OK);
    cr_assert_eq(lamina_close(r2), LAMINA_OK);
    tdb_expect_range(w, 0, 2000, 2);
    cr_assert_eq(lamina_close(w), LAMINA_OK);
}

Test(read_only, tables_deleted_after_the_open_stay_readable_through_its_references)
{
    lamina_options o = tdb_small_options();
    lamina_db *w = tdb_open(T.path, &o);
    tdb_put_range(w, NULL, 0, 3000, 1);
    cr_assert_eq(lamina_flush(w), LAMINA_OK);
    lamina_db *r = ro_open(&o);
    cr_assert_gt(tdb_prop(r, "lamina.open-tables"), 1, "the open holds every table");
    tdb_put_range(w, NULL, 0, 3000, 2);
    cr_assert_eq(lamina_compact_range(w, NULL, 0, NULL, 0), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(w), LAMINA_OK);
    tdb_expect_range(r, 0, 3000, 1);
    cr_assert_eq(tdb_count(r, NULL), 3000);
    cr_assert_eq(lamina_close(r), LAMINA_OK);
    cr_assert_eq(lamina_close(w), LAMINA_OK);
}

Test(read_only, beyond_max_open_files_a_deleted_table_is_reported_gone_naming_it)
{
    lamina_options o = tdb_small_options();
    lamina_db *w = tdb_open(T.path, &o);
    tdb_put_range(w, NULL, 0, 300, 1);
    cr_assert_eq(lamina_flush(w), LAMINA_OK);
    /* max_open_files 0: the handle holds no table open between reads. */
    lamina_options ro = o;
    ro.max_open_files = 0;
    lamina_db *r = ro_open(&ro);
    /* The writer rewrites the database: the tables the reader's version names go. */
    tdb_put_range(w, NULL, 0, 300, 2);
    cr_assert_eq(lamina_compact_range(w, NULL, 0, NULL, 0), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(w), LAMINA_OK);
    char k[32];
    size_t kl = tdb_key(k, 7);
    void *v = NULL;
    size_t vl = 0;
    int rc = lamina_get(r, NULL, k, kl, &v, &vl);
    cr_assert_neq(rc, LAMINA_OK, "a deleted table cannot be read");
    cr_assert_neq(rc, LAMINA_NOTFOUND, "a deleted table is an error, not an absent key");
    cr_assert_null(v);
    const char *msg = lamina_errmsg(r);
    cr_assert_not_null(strstr(msg, ".sst"), "the message names the table: %s", msg);
    cr_assert_not_null(strstr(msg, "No such file"), "%s", msg);
    cr_assert_eq(lamina_close(r), LAMINA_OK);
    cr_assert_eq(lamina_close(w), LAMINA_OK);
}

/* Checks one key's answer from a reader: absent, the key's own value of some generation, or
 * an error naming a table file; never another key's value. Returns 1 for an error. */
static int check_answer(lamina_db *r, int i, int rc, const char *v, size_t vl)
{
    if (rc == LAMINA_NOTFOUND) return 0;
    if (rc != LAMINA_OK) {
        cr_assert_not_null(strstr(lamina_errmsg(r), ".sst"), "error %s: %s", lamina_strerror(rc),
                           lamina_errmsg(r));
        return 1;
    }
    char want[48];
    int n = snprintf(want, sizeof(want), "value-%d-", i);
    cr_assert(vl > (size_t)n && memcmp(v, want, (size_t)n) == 0, "key %d read %.*s", i, (int)vl, v);
    return 0;
}

/* The writer of the fork test: rounds of overwrites of keys 0..nkeys-1, each followed by a
 * flush and, one in two, a compaction of everything; tells the parent after its first round. */
static void writer_child(int ready_fd, int nkeys, int rounds)
{
    lamina_options o = tdb_small_options();
    lamina_db *w = NULL;
    if (lamina_open(T.path, &o, &w) != LAMINA_OK) _exit(2);
    char k[32], v[96];
    for (int g = 1; g <= rounds; g++) {
        for (int i = 0; i < nkeys; i++) {
            size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)g);
            if (lamina_put(w, NULL, k, kl, v, vl) != LAMINA_OK) _exit(3);
        }
        if (lamina_flush(w) != LAMINA_OK) _exit(4);
        if (g % 2 == 0 && lamina_compact_range(w, NULL, 0, NULL, 0) != LAMINA_OK) _exit(5);
        if (g == 1 && write(ready_fd, "r", 1) != 1) _exit(6);
    }
    _exit(lamina_close(w) == LAMINA_OK ? 0 : 7);
}

/* Forks writer_child and returns its pid once it has finished its first round. */
static pid_t writer_start(int nkeys, int rounds)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        writer_child(fds[1], nkeys, rounds);
    }
    close(fds[1]);
    char c;
    cr_assert_eq(read(fds[0], &c, 1), 1, "the writer died before its first round");
    close(fds[0]);
    return pid;
}

Test(read_only, readers_beside_a_writer_in_another_process_never_read_wrong_data)
{
    const int nkeys = 2000, rounds = 16;
    pid_t pid = writer_start(nkeys, rounds);
    int opens = 0, reads = 0, gone = 0, done = 0, status = 0;
    lamina_options o = tdb_small_options();
    char k[32];
    while (!done) {
        done = waitpid(pid, &status, WNOHANG) == pid;
        lamina_db *a = NULL, *b = NULL;
        int rc = lamina_open_read_only(T.path, &o, &a);
        cr_assert_eq(rc, LAMINA_OK, "read-only open: %s", lamina_errmsg(NULL));
        rc = lamina_open_read_only(T.path, &o, &b);
        cr_assert_eq(rc, LAMINA_OK, "second read-only open: %s", lamina_errmsg(NULL));
        opens += 2;
        for (int i = 0; i < nkeys; i += 37) {
            void *v = NULL;
            size_t vl = 0, kl = tdb_key(k, (uint64_t)i);
            lamina_db *r = i % 2 ? a : b;
            rc = lamina_get(r, NULL, k, kl, &v, &vl);
            gone += check_answer(r, i, rc, v, vl);
            reads++;
            lamina_free(v);
        }
        /* A scan: each key's value is its own, keys ascend; an error ends it. */
        lamina_iter *it;
        cr_assert_eq(lamina_iter_create(a, NULL, &it), LAMINA_OK);
        int last = -1;
        for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it)) {
            size_t kl, vl;
            const char *key = lamina_iter_key(it, &kl);
            const char *val = lamina_iter_value(it, &vl);
            char digits[32];
            snprintf(digits, sizeof(digits), "%.*s", (int)(kl > 3 ? kl - 3 : 0), key + 3);
            int i = atoi(digits);
            cr_assert_gt(i, last);
            last = i;
            check_answer(a, i, LAMINA_OK, val, vl);
        }
        if (lamina_iter_status(it) != LAMINA_OK)
            gone += check_answer(a, 0, lamina_iter_status(it), NULL, 0);
        lamina_iter_destroy(it);
        cr_assert_eq(lamina_close(a), LAMINA_OK);
        cr_assert_eq(lamina_close(b), LAMINA_OK);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer status %d", status);
    cr_assert_gt(opens, 2, "readers opened while the writer worked");
    /* After the writer closed: every key holds its last value. */
    lamina_db *r = ro_open(&o);
    tdb_expect_range(r, 0, nkeys, rounds);
    cr_assert_eq(lamina_close(r), LAMINA_OK);
    cr_log_info("%d read-only opens, %d gets, %d reported a deleted table", opens, reads, gone);
}

Test(read_only, threads_share_and_open_read_only_handles_beside_a_writer_handle)
{
    cr_assert_eq(conc_read_only_beside_writer(T.path), 0);
}

Test(read_only, a_damaged_table_does_not_stop_the_open_and_its_reads_report_the_damage)
{
    lamina_options o = tdb_small_options();
    lamina_db *w = tdb_open(T.path, &o);
    tdb_put_range(w, NULL, 0, 100, 1);
    cr_assert_eq(lamina_flush(w), LAMINA_OK);
    cr_assert_eq(lamina_close(w), LAMINA_OK);
    char sst[600];
    tdb_find_file(T.path, ".sst", 0, sst, sizeof(sst));
    cr_assert(sst[0]);
    struct stat st;
    cr_assert_eq(stat(sst, &st), 0);
    tdb_flip(sst, (long)st.st_size - 3, 0x5a); /* the footer */
    lamina_db *r = ro_open(&o);
    char k[32];
    size_t kl = tdb_key(k, 5), vl = 0;
    void *v = NULL;
    int rc = lamina_get(r, NULL, k, kl, &v, &vl);
    cr_assert_eq(rc, LAMINA_ECORRUPT, "%s: %s", lamina_strerror(rc), lamina_errmsg(r));
    cr_assert_not_null(strstr(lamina_errmsg(r), ".sst"), "%s", lamina_errmsg(r));
    cr_assert_eq(lamina_close(r), LAMINA_OK);
}

static void count_finding(void *ctx, const char *file, uint64_t offset, int code, const char *what)
{
    (void)file;
    (void)offset;
    if (code != LAMINA_OK) cr_log_error("finding beside the writer: %s: %s", file, what);
    *(int *)ctx += code != LAMINA_OK;
}

/* lamina_check beside a writer in another process that flushes and compacts: it pins the
 * version's tables and reads again when it meets a change half made, so it reports no
 * problem on a healthy database, ever. */
Test(read_only, check_beside_a_writer_in_another_process_finds_nothing_wrong)
{
    const int nkeys = 2000, rounds = 24;
    pid_t pid = writer_start(nkeys, rounds);
    int checks = 0, done = 0, status = 0;
    lamina_options o = tdb_small_options();
    while (!done) {
        done = waitpid(pid, &status, WNOHANG) == pid;
        int problems = 0;
        lamina_check_stats st = {.struct_size = sizeof st};
        int rc = lamina_check(T.path, &o, count_finding, &problems, &st);
        cr_assert_eq(rc, LAMINA_OK, "check %d beside the writer: %s", checks, lamina_errmsg(NULL));
        cr_assert_eq(problems, 0);
        cr_assert_eq(st.keys, (uint64_t)nkeys, "check %d counted %llu keys", checks,
                     (unsigned long long)st.keys);
        checks++;
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer status %d", status);
    cr_assert_gt(checks, 1, "checks ran while the writer worked");
    cr_log_info("%d checks beside the writer", checks);
}
