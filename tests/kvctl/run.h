/* run.h — running the built kvctl from the kvctl suite: spawned (posix_spawn) with its
 * standard output and error captured in files of the test's directory, waited for at once or
 * later (to run several side by side), and the directory's database path. */
#ifndef TESTS_KVCTL_KVR_H
#define TESTS_KVCTL_KVR_H

#include <criterion/criterion.h>
#include <dirent.h>
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

/* The test's directory (mkdtemp) and the database inside it. */
static char kvr_dir[64], kvr_db[128];

static inline void kvr_setup(void)
{
    tdir_make(kvr_dir, sizeof(kvr_dir), "kvctl");
    snprintf(kvr_db, sizeof(kvr_db), "%s/db", kvr_dir);
}

static inline void kvr_teardown(void)
{
    if (kvr_dir[0]) tdir_remove(kvr_dir);
}

/* One finished kvctl: its exit status (-1 if killed) and what it printed (NUL-terminated,
 * freed by kvr_free). */
typedef struct kvr_result {
    int status;
    char *out, *err;
} kvr_result;

/* A kvctl started by kvr_start: its pid and the slot of its output files. */
typedef struct kvr_proc {
    pid_t pid;
    int slot;
} kvr_proc;

static inline char *kvr_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap + 1);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap) buf = realloc(buf, (cap *= 2) + 1);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static inline void kvr_paths(int slot, char *out, char *err, size_t cap)
{
    snprintf(out, cap, "%s/out.%d", kvr_dir, slot);
    snprintf(err, cap, "%s/err.%d", kvr_dir, slot);
}

/* Starts kvctl --db=<kvr_db> with the NULL-terminated arguments in ap; slot names its output
 * files (distinct for processes that run at once). */
static inline kvr_proc kvr_start_va(int slot, va_list ap)
{
    static char path[4096], dbflag[160];
    const char *root = getenv("LAMINA_BUILD_ROOT");
    cr_assert_not_null(root, "LAMINA_BUILD_ROOT is not set (run through meson test)");
    snprintf(path, sizeof(path), "%s/tools/kvctl", root);
    snprintf(dbflag, sizeof(dbflag), "--db=%s", kvr_db);
    char *argv[40];
    int n = 0;
    argv[n++] = "kvctl";
    argv[n++] = dbflag;
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 39)
        argv[n++] = a;
    argv[n] = NULL;
    char out[128], err[128];
    kvr_paths(slot, out, err, sizeof(out));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    kvr_proc p = {0, slot};
    int rc = posix_spawn(&p.pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", path, strerror(rc));
    return p;
}

static inline kvr_proc kvr_start_(int slot, ...)
{
    va_list ap;
    va_start(ap, slot);
    kvr_proc p = kvr_start_va(slot, ap);
    va_end(ap);
    return p;
}
#define kvr_start(slot, ...) kvr_start_(slot, __VA_ARGS__, (char *)NULL)

static inline kvr_result kvr_wait(kvr_proc p)
{
    int ws;
    cr_assert_eq(waitpid(p.pid, &ws, 0), p.pid);
    kvr_result r;
    char out[128], err[128];
    kvr_paths(p.slot, out, err, sizeof(out));
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r.out = kvr_read_file(out);
    r.err = kvr_read_file(err);
    return r;
}

/* Runs kvctl --db=<kvr_db> ARGS... to its end. */
#define kvr(...) kvr_wait(kvr_start(0, __VA_ARGS__))

static inline void kvr_free(kvr_result *r)
{
    free(r->out);
    free(r->err);
}

/* Runs kvctl and expects exit status 0; returns its standard output (caller frees). */
#define kvr_ok(...) kvr_ok_(kvr(__VA_ARGS__))
static inline char *kvr_ok_(kvr_result r)
{
    cr_assert_eq(r.status, 0, "kvctl exited %d: %s", r.status, r.err);
    free(r.err);
    return r.out;
}

/* Writes text to <kvr_dir>/name and returns its path (static buffer). */
static inline const char *kvr_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", kvr_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The path of the database's file whose name starts with prefix (the largest such name) into
 * out; fails the test when there is none. */
static inline void kvr_db_file(const char *prefix, char *out, size_t cap)
{
    DIR *d = opendir(kvr_db);
    cr_assert_not_null(d, "%s", kvr_db);
    char best[256] = "";
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof(best), "%s", e->d_name);
    closedir(d);
    cr_assert(best[0], "no %s* in %s", prefix, kvr_db);
    snprintf(out, cap, "%s/%s", kvr_db, best);
}

/* Rewrites the line "name=..." of the database's newest OPTIONS file as "name=value". */
static inline void kvr_edit_options(const char *name, const char *value)
{
    char path[400];
    kvr_db_file("OPTIONS-", path, sizeof(path));
    char *text = kvr_read_file(path);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == '=')
            fprintf(f, "%s=%s\n", name, value);
        else
            fprintf(f, "%s\n", line);
    }
    fclose(f);
    free(text);
}

#endif
