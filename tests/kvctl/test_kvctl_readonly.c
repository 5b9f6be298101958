/* test_kvctl_readonly.c — kvctl's reading commands (get, scan, dump, count, stats, check,
 * options) open read-only: they leave every file byte-identical, and run side by side with
 * each other and with a writer in another process. */
#include <signal.h>
#include <sys/stat.h>

#include "dirsnap.h"
#include "lamina.h"
#include "run.h"

TestSuite(kvctl_readonly, .init = kvr_setup, .fini = kvr_teardown, .timeout = 300);

static const char *keys_file(int n)
{
    size_t cap = (size_t)n * 40 + 1, len = 0;
    char *text = malloc(cap);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "key%06d\tvalue-%d-0\n", i, i);
    const char *path = kvr_file("keys.txt", text);
    free(text);
    return path;
}

Test(kvctl_readonly, reading_commands_leave_every_file_byte_identical)
{
    free(kvr_ok("--write_buffer_size=65536", "load", keys_file(20000)));
    /* Some data only in the WAL too. */
    free(kvr_ok("put", "zz-in-the-wal", "1"));
    struct dirsnap *before = malloc(sizeof(*before)), *after = malloc(sizeof(*after));
    dirsnap_take(kvr_db, before);
    const char *const reads[][3] = {
        {"get", "key000042", NULL},  {"get", "zz-in-the-wal", NULL}, {"count", NULL, NULL},
        {"scan", "--limit=5", NULL}, {"dump", NULL, NULL},           {"stats", NULL, NULL},
        {"stats", "--json", NULL},   {"check", NULL, NULL},          {"options", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        kvr_result r = kvr((char *)reads[i][0], (char *)reads[i][1], (char *)reads[i][2]);
        cr_assert_eq(r.status, 0, "kvctl %s: %s", reads[i][0], r.err);
        if (!strcmp(reads[i][0], "count")) cr_assert_str_eq(r.out, "20001\n");
        if (i == 1) cr_assert_str_eq(r.out, "1\n", "the WAL's data is read");
        kvr_free(&r);
    }
    /* A key that is absent exits 1 and writes nothing either. */
    kvr_result r = kvr("get", "nope");
    cr_assert_eq(r.status, 1);
    kvr_free(&r);
    dirsnap_take(kvr_db, after);
    dirsnap_expect_same(before, after);
    free(before);
    free(after);
}

/* The writer beside the readers: overwrites every key, flushes and compacts, round after
 * round, until the parent kills it; tells the parent after its first round. */
static void writer(int ready_fd, int nkeys)
{
    lamina_options o;
    lamina_options_init(&o);
    if (lamina_options_load(kvr_db, &o) != LAMINA_OK) _exit(2);
    lamina_db *w = NULL;
    if (lamina_open(kvr_db, &o, &w) != LAMINA_OK) _exit(3);
    char k[32], v[64];
    for (int g = 1;; g++) {
        for (int i = 0; i < nkeys; i++) {
            int kl = snprintf(k, sizeof(k), "key%06d", i);
            int vl = snprintf(v, sizeof(v), "value-%d-%d", i, g);
            if (lamina_put(w, NULL, k, (size_t)kl, v, (size_t)vl) != LAMINA_OK) _exit(4);
        }
        if (lamina_flush(w) != LAMINA_OK) _exit(5);
        if (g % 3 == 0 && lamina_compact_range(w, NULL, 0, NULL, 0) != LAMINA_OK) _exit(6);
        if (g == 1 && write(ready_fd, "r", 1) != 1) _exit(7);
    }
}

Test(kvctl_readonly, readers_run_side_by_side_beside_a_writer_process)
{
    const int nkeys = 5000;
    free(kvr_ok("--write_buffer_size=65536", "load", keys_file(nkeys)));
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        writer(fds[1], nkeys);
    }
    close(fds[1]);
    char c;
    cr_assert_eq(read(fds[0], &c, 1), 1, "the writer died before its first round");
    close(fds[0]);
    for (int round = 0; round < 4; round++) {
        kvr_proc p[7] = {kvr_start(1, "count"),
                         kvr_start(2, "count"),
                         kvr_start(3, "scan", "--limit=100"),
                         kvr_start(4, "scan", "--keys-only"),
                         kvr_start(5, "get", "key000123"),
                         kvr_start(6, "check"),
                         kvr_start(7, "check")};
        for (int i = 0; i < 7; i++) {
            kvr_result r = kvr_wait(p[i]);
            cr_assert_eq(r.status, 0, "reader %d (round %d) exited %d: %s", i, round, r.status,
                         r.err);
            if (i < 2) cr_assert_str_eq(r.out, "5000\n");
            if (i == 4) cr_assert_eq(strncmp(r.out, "value-123-", 10), 0, "%s", r.out);
            kvr_free(&r);
        }
    }
    int ws;
    cr_assert_eq(waitpid(pid, &ws, WNOHANG), 0, "the writer still runs (status %d)", ws);
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    /* Killed mid-work, the database opens and holds every key. */
    char *count = kvr_ok("count");
    cr_assert_str_eq(count, "5000\n");
    free(count);
}

Test(kvctl_readonly, a_rocksdb_directory_is_refused_and_left_untouched)
{
    cr_assert_eq(mkdir(kvr_db, 0755), 0);
    const char *files[][2] = {{"CURRENT", "MANIFEST-000005\n"},
                              {"IDENTITY", "7d3a8c2e-1f4b-4c6e-9a1d-2b3c4d5e6f70\n"},
                              {"LOG", "2024/01/01-00:00:00.000000 7f RocksDB version: 8.10.0\n"},
                              {"OPTIONS-000007", "# This is a RocksDB option file.\n"},
                              {"000004.log", "rocksdb wal bytes"}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char p[300];
        snprintf(p, sizeof(p), "%s/%s", kvr_db, files[i][0]);
        FILE *f = fopen(p, "w");
        cr_assert_not_null(f);
        fputs(files[i][1], f);
        fclose(f);
    }
    struct dirsnap *before = malloc(sizeof(*before)), *after = malloc(sizeof(*after));
    dirsnap_take(kvr_db, before);
    const char *const cmds[][3] = {{"count", NULL, NULL}, {"get", "k", NULL},
                                   {"put", "k", "v"},     {"options", NULL, NULL},
                                   {"stats", NULL, NULL}, {"scan", NULL, NULL}};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        kvr_result r = kvr((char *)cmds[i][0], (char *)cmds[i][1], (char *)cmds[i][2]);
        cr_assert_eq(r.status, 3, "kvctl %s exited %d", cmds[i][0], r.status);
        cr_assert_not_null(strstr(r.err, "not Lamina's"), "kvctl %s: %s", cmds[i][0], r.err);
        kvr_free(&r);
    }
    dirsnap_take(kvr_db, after);
    dirsnap_expect_same(before, after);
    free(before);
    free(after);
}

Test(kvctl_readonly, a_damaged_options_file_does_not_stop_check)
{
    free(kvr_ok("put", "a", "1"));
    kvr_edit_options("size_ratio", "banana");
    kvr_result r = kvr("check");
    cr_assert_not_null(strstr(r.err, "warning"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "size_ratio"), "%s", r.err);
    kvr_free(&r);
    r = kvr("get", "a");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "1\n");
    kvr_free(&r);
}
