/* Tests of util/fault.h: rules (nth, random, sticky, by path, every op), torn writes, the
 * power-loss model (synced lengths, unsynced directory entries, renames, sync disabled, the
 * freeze under concurrent writers) and crash points. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lamina.h"
#include "tdir.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/fault.h"
#include "util/file.h"

static char dir[256];

static void fault_setup(void)
{
    tdir_make(dir, sizeof(dir), "fault");
}

static void fault_teardown(void)
{
    fault_clear();
    tdir_remove(dir);
}

TestSuite(fault, .init = fault_setup, .fini = fault_teardown);

static const char *in_dir(char *dst, const char *name)
{
    snprintf(dst, 512, "%s/%s", dir, name);
    return dst;
}

/* Creates name in dir with contents s and closes it, without a sync; the call's code. */
static int put_file(const char *name, const char *s)
{
    char p[512];
    return file_write_all(in_dir(p, name), s, strlen(s), 0);
}

/* Asserts that name in dir holds exactly s (NULL: that it does not exist). */
static void expect_file(const char *name, const char *s)
{
    char p[512];
    in_dir(p, name);
    if (!s) {
        cr_assert_eq(file_exists(p), 0, "%s should be gone", name);
        return;
    }
    uint8_t *d;
    size_t n;
    cr_assert_eq(file_read_all(p, &d, &n), 0, "%s: %s", name, err_message());
    cr_assert(n == strlen(s) && memcmp(d, s, n) == 0, "%s holds \"%.*s\", not \"%s\"", name, (int)n,
              (const char *)d, s);
    mem_free(d);
}

/* ---- Rules ------------------------------------------------------------------------------ */

Test(fault, nth_rule_fails_only_that_call)
{
    struct fault_rule r = {.op = "create", .err = EIO, .nth = 2};
    cr_assert_eq(fault_add(&r), 0);
    cr_assert_eq(put_file("a", "1"), 0);
    cr_assert_eq(put_file("b", "2"), LAMINA_EIO);
    cr_assert_not_null(strstr(err_message(), "injected"), "%s", err_message());
    cr_assert_not_null(strstr(err_message(), "/b"), "names the file: %s", err_message());
    cr_assert_eq(put_file("c", "3"), 0);
    cr_assert_eq(put_file("b", "2"), 0);
    cr_assert_eq(fault_injected(), 1u);
}

Test(fault, sticky_rule_fails_every_call_after_the_first_failure)
{
    struct fault_rule r = {.op = "create", .err = EIO, .nth = 2, .sticky = 1};
    cr_assert_eq(fault_add(&r), 0);
    cr_assert_eq(put_file("a", "1"), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(put_file("b", "2"), LAMINA_EIO, "call %d", i);
    cr_assert_eq(fault_injected(), 5u);
    fault_clear();
    cr_assert_eq(fault_injected(), 0u);
    cr_assert_eq(put_file("b", "2"), 0, "cleared");
}

/* Which of n creates a one_in rule fails, as a bit string. */
static void random_pattern(uint64_t seed, char *out, int n)
{
    fault_clear();
    fault_seed(seed);
    struct fault_rule r = {.op = "create", .err = EIO, .one_in = 4};
    cr_assert_eq(fault_add(&r), 0);
    for (int i = 0; i < n; i++)
        out[i] = put_file("r", "x") ? '1' : '0';
    out[n] = 0;
}

Test(fault, random_rule_fails_about_one_in_n_and_repeats_with_its_seed)
{
    enum { N = 800 };
    char a[N + 1], b[N + 1], c[N + 1];
    random_pattern(7, a, N);
    uint64_t failed = fault_injected();
    cr_assert(failed > N / 8 && failed < N * 3 / 8, "%llu of %d failed with one_in = 4",
              (unsigned long long)failed, N);
    random_pattern(7, b, N);
    cr_assert_str_eq(a, b, "same seed, same calls fail");
    random_pattern(8, c, N);
    cr_assert_str_neq(a, c, "another seed, other calls");
}

Test(fault, rule_matches_its_path_part_and_op_only)
{
    struct fault_rule r = {.op = "sync", .path_part = ".log", .err = EIO};
    cr_assert_eq(fault_add(&r), 0);
    char p[512];
    cr_assert_eq(file_write_all(in_dir(p, "000001.sst"), "t", 1, 1), 0, "other path");
    cr_assert_eq(file_write_all(in_dir(p, "000002.log"), "t", 1, 0), 0, "no sync, no failure");
    cr_assert_eq(file_write_all(in_dir(p, "000003.log"), "t", 1, 1), LAMINA_EIO);
    cr_assert_eq(fault_injected(), 1u);
}

Test(fault, enospc_rule_is_reported_as_no_space)
{
    struct fault_rule r = {.op = "write", .err = ENOSPC};
    cr_assert_eq(fault_add(&r), 0);
    cr_assert_eq(put_file("full", "abc"), LAMINA_ENOSPC);
    cr_assert_not_null(strstr(err_message(), "No space left on device"), "%s", err_message());
}

Test(fault, rule_without_op_fails_every_operation)
{
    char p[512], q[512];
    in_dir(p, "f");
    in_dir(q, "g");
    cr_assert_eq(file_write_all(p, "abc", 3, 0), 0);
    rfile *r;
    cr_assert_eq(rfile_open(p, &r), 0);
    struct fault_rule rule = {.err = EIO};
    cr_assert_eq(fault_add(&rule), 0);
    uint8_t b[3];
    struct file_read req = {r, 0, 3, b, 1};
    rfile *r2 = NULL;
    wfile *w = NULL;
    file_lock *l = NULL;
    char **names = NULL;
    size_t n = 0;
    cr_assert_eq(rfile_read(r, 0, b, 3), LAMINA_EIO);
    cr_assert_eq(rfile_read_batch(r, &req, 1), LAMINA_EIO, "io_uring or pread batches too");
    cr_assert_eq(req.rc, LAMINA_EIO);
    cr_assert_eq(rfile_open(p, &r2), LAMINA_EIO);
    cr_assert_eq(wfile_create(q, &w), LAMINA_EIO);
    cr_assert_eq(wfile_open_append(p, &w), LAMINA_EIO);
    cr_assert_eq(file_rename(p, q), LAMINA_EIO);
    cr_assert_not_null(strstr(err_message(), q), "a rename names both: %s", err_message());
    cr_assert_eq(file_remove(p), LAMINA_EIO);
    cr_assert_eq(dir_create(q), LAMINA_EIO);
    cr_assert_eq(dir_sync(dir), LAMINA_EIO);
    cr_assert_eq(dir_list(dir, &names, &n), LAMINA_EIO);
    cr_assert_eq(file_lock_acquire(q, &l), LAMINA_EIO);
    cr_assert(!r2 && !w && !l && !names);
    cr_assert_eq(fault_injected(), 11u);
    rfile_close(r);
    fault_clear();
    expect_file("f", "abc");
    expect_file("g", NULL);
}

Test(fault, short_write_leaves_exactly_half_the_bytes)
{
    char p[512];
    in_dir(p, "torn.log");
    char data[1001];
    for (int i = 0; i < 1000; i++)
        data[i] = (char)('a' + i % 26);
    data[1000] = 0;
    wfile *w;
    cr_assert_eq(wfile_create(p, &w), 0);
    cr_assert_eq(wfile_append(w, data, 1000), 0);
    struct fault_rule r = {.op = "write", .err = EIO, .short_write = 1};
    cr_assert_eq(fault_add(&r), 0);
    cr_assert_eq(wfile_flush(w), LAMINA_EIO);
    cr_assert_not_null(strstr(err_message(), "injected"), "%s", err_message());
    cr_assert_eq(wfile_sync(w), LAMINA_EIO, "a torn file is poisoned");
    cr_assert_eq(wfile_close(w), LAMINA_EIO);
    data[500] = 0;
    expect_file("torn.log", data);
}

Test(fault, rule_table_holds_sixteen_rules)
{
    struct fault_rule r = {.op = "mkdir", .path_part = "never-made", .err = EIO};
    for (int i = 0; i < 16; i++)
        cr_assert_eq(fault_add(&r), 0, "rule %d", i);
    cr_assert_eq(fault_add(&r), -1, "the 17th is refused");
}

/* ---- Power loss ------------------------------------------------------------------------- */

/* Appends s to w, and syncs when sync is set (else flushes: the bytes reach the kernel). */
static void append(wfile *w, const char *s, int sync)
{
    cr_assert_eq(wfile_append(w, s, strlen(s)), 0);
    cr_assert_eq(sync ? wfile_sync(w) : wfile_flush(w), 0, "%s", err_message());
}

Test(fault, power_loss_cuts_each_file_to_its_synced_length)
{
    fault_track(1);
    char p[512];
    wfile *w;
    cr_assert_eq(wfile_create(in_dir(p, "a.log"), &w), 0);
    cr_assert_eq(dir_sync(dir), 0);
    append(w, "synced-", 1);
    append(w, "also-synced", 1);
    append(w, "+lost", 0);
    cr_assert_eq(put_file("b", "never synced"), 0);
    cr_assert_eq(dir_sync(dir), 0);
    cr_assert_eq(fault_power_loss(), 0, "%s", err_message());
    cr_assert_eq(wfile_append(w, "x", 1), 0, "appends stay in the buffer");
    cr_assert_eq(wfile_flush(w), LAMINA_EIO, "the layer is frozen");
    cr_assert_not_null(strstr(err_message(), "write"), "%s", err_message());
    wfile_close(w);
    fault_clear();
    expect_file("a.log", "synced-also-synced");
    expect_file("b", "");
}

Test(fault, power_loss_removes_files_no_dir_sync_covered)
{
    cr_assert_eq(put_file("old", "from before tracking"), 0);
    fault_track(1);
    char p[512], sub[512];
    cr_assert_eq(file_write_all(in_dir(p, "kept"), "k", 1, 1), 0);
    cr_assert_eq(dir_sync(dir), 0);
    cr_assert_eq(file_write_all(in_dir(p, "new"), "synced data", 11, 1), 0);
    cr_assert_eq(dir_create(in_dir(sub, "sub")), 0);
    cr_assert_eq(file_write_all(in_dir(p, "sub/x"), "x", 1, 1), 0);
    cr_assert_eq(dir_sync(sub), 0, "the other directory's sync covers only its own entries");
    cr_assert_eq(fault_power_loss(), 0);
    fault_clear();
    expect_file("old", "from before tracking");
    expect_file("kept", "k");
    expect_file("new", NULL);
    expect_file("sub/x", "x");
}

Test(fault, power_loss_undoes_an_unsynced_rename)
{
    char p[512], q[512];
    cr_assert_eq(put_file("CURRENT", "MANIFEST-000001\n"), 0);
    cr_assert_eq(put_file("000005.sst", "table"), 0);
    fault_track(1);
    /* CURRENT's replacement: written and synced, renamed, but its directory never synced. */
    cr_assert_eq(file_write_all(in_dir(p, "CURRENT.tmp"), "MANIFEST-000009\n", 16, 1), 0);
    cr_assert_eq(file_rename(p, in_dir(q, "CURRENT")), 0);
    /* A durable file moved aside comes back under its old name. */
    cr_assert_eq(dir_create(in_dir(p, "lost")), 0);
    cr_assert_eq(file_rename(in_dir(p, "000005.sst"), in_dir(q, "lost/000005.sst")), 0);
    expect_file("CURRENT", "MANIFEST-000009\n");
    cr_assert_eq(fault_power_loss(), 0, "%s", err_message());
    fault_clear();
    expect_file("CURRENT", "MANIFEST-000001\n");
    expect_file("CURRENT.tmp", NULL);
    expect_file("000005.sst", "table");
    expect_file("lost/000005.sst", NULL);
}

Test(fault, power_loss_keeps_a_rename_its_directory_sync_covered)
{
    char p[512], q[512];
    cr_assert_eq(put_file("CURRENT", "MANIFEST-000001\n"), 0);
    fault_track(1);
    cr_assert_eq(file_write_all(in_dir(p, "CURRENT.tmp"), "MANIFEST-000009\n", 16, 1), 0);
    cr_assert_eq(file_rename(p, in_dir(q, "CURRENT")), 0);
    cr_assert_eq(dir_sync(dir), 0);
    cr_assert_eq(fault_power_loss(), 0);
    fault_clear();
    expect_file("CURRENT", "MANIFEST-000009\n");
    expect_file("CURRENT.tmp", NULL);
}

Test(fault, power_loss_with_sync_disabled_drops_everything)
{
    char p[512];
    wfile *w;
    cr_assert_eq(wfile_create(in_dir(p, "old.log"), &w), 0);
    append(w, "durable", 1);
    cr_assert_eq(dir_sync(dir), 0);
    fault_track(1);
    fault_disable_sync(1);
    append(w, "+synced in vain", 1);
    cr_assert_eq(file_write_all(in_dir(p, "new"), "n", 1, 1), 0);
    cr_assert_eq(dir_sync(dir), 0, "succeeds, does nothing");
    cr_assert_eq(fault_power_loss(), 0);
    wfile_close(w);
    fault_clear();
    expect_file("old.log", "durable");
    expect_file("new", NULL);
}

/* A writer appending to an existing file and syncing until the layer fails it; acked is the
 * length at its last successful sync. */
struct sync_writer {
    char path[512];
    atomic_uint_fast64_t acked;
    int rc;
};

static void *sync_writer_run(void *arg)
{
    struct sync_writer *s = arg;
    wfile *w;
    s->rc = wfile_open_append(s->path, &w);
    if (s->rc) return NULL;
    char rec[100];
    memset(rec, 'r', sizeof(rec));
    for (;;) {
        if ((s->rc = wfile_append(w, rec, sizeof(rec))) || (s->rc = wfile_sync(w))) break;
        atomic_store(&s->acked, wfile_size(w));
        /* An unsynced tail, which the power cut must drop. */
        if ((s->rc = wfile_append(w, rec, 10)) || (s->rc = wfile_flush(w))) break;
    }
    wfile_close(w);
    return NULL;
}

Test(fault, power_loss_stops_concurrent_writers_at_one_moment)
{
    enum { N = 3 };
    struct sync_writer s[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "w%d.log", i);
        cr_assert_eq(put_file(name, ""), 0);
        in_dir(s[i].path, name);
        atomic_init(&s[i].acked, 0);
        s[i].rc = 0;
    }
    cr_assert_eq(dir_sync(dir), 0);
    fault_track(1);
    for (int i = 0; i < N; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, sync_writer_run, &s[i]), 0);
    /* Cut while every writer is between syncs or inside one. */
    for (int i = 0; i < N; i++)
        while (atomic_load(&s[i].acked) < 1000 && s[i].rc == 0)
            sched_yield();
    cr_assert_eq(fault_power_loss(), 0, "%s", err_message());
    for (int i = 0; i < N; i++)
        cr_assert_eq(pthread_join(t[i], NULL), 0);
    fault_clear();
    for (int i = 0; i < N; i++) {
        cr_assert_eq(s[i].rc, LAMINA_EIO, "writer %d stopped by the freeze", i);
        uint64_t size, acked = atomic_load(&s[i].acked);
        cr_assert_eq(file_size(s[i].path, &size), 0);
        cr_assert_eq(size, acked, "writer %d: %llu bytes on disk, %llu acknowledged", i,
                     (unsigned long long)size, (unsigned long long)acked);
    }
}

/* ---- Crash points ------------------------------------------------------------------------ */

/* Forks a child that arms a crash point (by name and nth, or from the environment when env is
 * set) and passes name up to limit times, reporting each pass through a pipe. Returns the
 * passes it reported; *status gets its wait status. */
static int run_crash_child(const char *env, const char *arm, uint64_t nth, const char *name,
                           int limit, int *status)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        if (env) {
            setenv("LAMINA_CRASH_POINT", env, 1);
            if (fault_from_env() != 0) _exit(3);
        } else {
            fault_arm_crash_point(arm, nth);
        }
        for (int i = 0; i < limit; i++) {
            FAULT_CRASH_POINT("other:point");
            FAULT_CRASH_POINT(name);
            if (write(fds[1], "p", 1) != 1) _exit(4);
        }
        _exit(0);
    }
    close(fds[1]);
    int passes = 0;
    char c;
    while (read(fds[0], &c, 1) == 1)
        passes++;
    close(fds[0]);
    cr_assert_eq(waitpid(pid, status, 0), pid);
    return passes;
}

static int killed(int status)
{
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

Test(fault, crash_point_kills_at_its_nth_pass)
{
    int status;
    int passes = run_crash_child(NULL, "flush:table-synced", 3, "flush:table-synced", 10, &status);
    cr_assert(killed(status), "status %d", status);
    cr_assert_eq(passes, 2, "killed at the third pass, not before");
}

Test(fault, crash_point_disarmed_or_other_name_does_nothing)
{
    int status;
    int passes = run_crash_child(NULL, "manifest:edit-synced", 1, "flush:table-synced", 5, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    cr_assert_eq(passes, 5);
    passes = run_crash_child(NULL, NULL, 1, "flush:table-synced", 5, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    cr_assert_eq(passes, 5);
}

Test(fault, crash_point_from_environment_keeps_colons_in_its_name)
{
    int status;
    int passes =
        run_crash_child("flush:table-synced:4", NULL, 0, "flush:table-synced", 10, &status);
    cr_assert(killed(status), "status %d", status);
    cr_assert_eq(passes, 3);
    passes = run_crash_child("flush:table-synced", NULL, 0, "flush:table-synced", 10, &status);
    cr_assert(killed(status), "no count: the first pass");
    cr_assert_eq(passes, 0);
}

Test(fault, crash_point_environment_with_bad_count_is_einval)
{
    setenv("LAMINA_CRASH_POINT", "flush:0", 1);
    cr_assert_eq(fault_from_env(), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "LAMINA_CRASH_POINT"), "%s", err_message());
    setenv("LAMINA_CRASH_POINT", "flush:2x", 1);
    cr_assert_eq(fault_from_env(), LAMINA_EINVAL);
    cr_assert_eq(atomic_load(&fault_crash_armed), 0, "nothing armed");
    unsetenv("LAMINA_CRASH_POINT");
    cr_assert_eq(fault_from_env(), 0);
}
