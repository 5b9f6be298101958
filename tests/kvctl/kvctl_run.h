/* kvctl_run.h — what the kvctl suite's tests share: the built kvctl (found through
 * LAMINA_BUILD_ROOT) run as a child process with a given standard input, its exit status,
 * standard output and standard error captured; a temporary directory per test. */
#ifndef TESTS_KVCTL_RUN_H
#define TESTS_KVCTL_RUN_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tdir.h"

extern char **environ;

/* The temporary directory of the running test (kvrun_setup / kvrun_teardown) and a database
 * path inside it. */
static char kvrun_dir[64];
static char kvrun_db[128];

static inline void kvrun_setup(void)
{
    tdir_make(kvrun_dir, sizeof kvrun_dir, "kvctl");
    snprintf(kvrun_db, sizeof kvrun_db, "%s/db", kvrun_dir);
}

static inline void kvrun_teardown(void)
{
    if (kvrun_dir[0] != '\0') tdir_remove(kvrun_dir);
}

/* One finished kvctl: exit status (-1 if it did not exit), standard output and error (each
 * NUL-terminated; out_len counts the output's bytes, NULs included). */
typedef struct kvrun {
    int status;
    char *out;
    size_t out_len;
    char *err;
} kvrun;

static inline char *kvrun_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    cr_assert_not_null(buf);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            cr_assert_not_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL) *len = n;
    return buf;
}

static inline void kvrun_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "create %s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* A path in the test's directory: name is a file name; the result is static (one at a time
 * per call site: copy it to keep it). */
static inline const char *kvrun_path(const char *name)
{
    static char path[4][192];
    static int next;
    char *p = path[next++ & 3];
    snprintf(p, sizeof path[0], "%s/%s", kvrun_dir, name);
    return p;
}

static inline const char *kvrun_kvctl(void)
{
    static char path[4096];
    const char *root = getenv("LAMINA_BUILD_ROOT");
    cr_assert_not_null(root, "LAMINA_BUILD_ROOT is not set (run through meson test)");
    snprintf(path, sizeof path, "%s/tools/kvctl", root);
    cr_assert_eq(access(path, X_OK), 0, "%s is not built", path);
    return path;
}

/* Runs kvctl with argv (NULL-terminated, without the program name), stdin from in_path (NULL:
 * /dev/null). */
static inline kvrun kvrun_argv(const char *in_path, char *const *args)
{
    kvrun r = {0};
    char *argv[64];
    int n = 0;
    argv[n++] = "kvctl";
    for (; args[n - 1] != NULL && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    char out_path[192], err_path[192];
    snprintf(out_path, sizeof out_path, "%s/.stdout", kvrun_dir);
    snprintf(err_path, sizeof err_path, "%s/.stderr", kvrun_dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path ? in_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, kvrun_kvctl(), &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn kvctl: %s", strerror(rc));
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r.out = kvrun_read_file(out_path, &r.out_len);
    r.err = kvrun_read_file(err_path, NULL);
    return r;
}

/* kvctl with standard input `in` (n bytes; NULL: none) and the arguments that follow,
 * NULL-terminated. */
static inline kvrun kvrun_in(const void *in, size_t n, ...)
{
    char *args[64];
    int k = 0;
    va_list ap;
    va_start(ap, n);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && k < 63)
        args[k++] = a;
    va_end(ap);
    args[k] = NULL;
    const char *in_path = NULL;
    if (in != NULL) {
        in_path = kvrun_path(".stdin");
        kvrun_write_file(in_path, in, n);
    }
    return kvrun_argv(in_path, args);
}

/* kvctl with no input; kvctl_text: with the string s as input. */
#define kvctl(...) kvrun_in(NULL, 0, __VA_ARGS__, (char *)NULL)
#define kvctl_text(s, ...) kvrun_in((s), strlen(s), __VA_ARGS__, (char *)NULL)

static inline void kvrun_free(kvrun *r)
{
    free(r->out);
    free(r->err);
}

/* Runs kvctl and expects exit status 0; returns its output (the caller frees it). */
#define kvctl_ok(...) kvrun_ok(kvrun_in(NULL, 0, __VA_ARGS__, (char *)NULL))
static inline char *kvrun_ok(kvrun r)
{
    cr_assert_eq(r.status, 0, "kvctl exit status %d, stderr: %s", r.status, r.err);
    free(r.err);
    return r.out;
}

#endif
