/* Tests of util/file.h: append files, reads, batched reads (io_uring or pread), whole-file and
 * directory operations, the LOCK file, and fault injection. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lamina.h"
#include "tdir.h"
#include "util/err.h"
#include "util/file.h"
#include "util/rng.h"

static char tmpdir[256];

static void dir_setup(void)
{
    tdir_make(tmpdir, sizeof(tmpdir), "util");
}

static void dir_teardown(void)
{
    file_set_fault_hook(NULL, NULL);
    tdir_remove(tmpdir);
}

static const char *path_in(char *dst, const char *name)
{
    snprintf(dst, 512, "%s/%s", tmpdir, name);
    return dst;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng_next(&r);
}

/* Writes n bytes of data (no sync) to the file name in tmpdir, whose path is left in path,
 * and opens it for reading. */
static rfile *open_written(char *path, const char *name, const void *data, size_t n)
{
    path_in(path, name);
    cr_assert_eq(file_write_all(path, data, n, 0), 0);
    rfile *r;
    cr_assert_eq(rfile_open(path, &r), 0);
    return r;
}

/* Asserts that the whole file at path is the n bytes of want. */
static void expect_contents(const char *path, const char *want, size_t n)
{
    uint8_t *d;
    size_t got;
    cr_assert_eq(file_read_all(path, &d, &got), 0);
    cr_assert(got == n && memcmp(d, want, n) == 0);
    free(d);
}

TestSuite(file, .init = dir_setup, .fini = dir_teardown);

Test(file, appended_bytes_read_back_after_close)
{
    char path[512];
    path_in(path, "a.log");
    size_t total = 300000;
    uint8_t *data = malloc(total), *back = malloc(total);
    fill(data, total, 1);
    wfile *w;
    cr_assert_eq(wfile_create(path, &w), 0, "%s", err_message());
    /* Mixed sizes: small appends stay in the buffer, big ones bypass it. */
    size_t off = 0, step = 1;
    while (off < total) {
        size_t n = step < total - off ? step : total - off;
        cr_assert_eq(wfile_append(w, data + off, n), 0);
        off += n;
        step = step * 3 + 1;
        cr_assert_eq(wfile_size(w), off);
    }
    cr_assert_eq(wfile_sync(w), 0, "%s", err_message());
    cr_assert_eq(wfile_close(w), 0);

    uint64_t sz;
    cr_assert_eq(file_size(path, &sz), 0);
    cr_assert_eq(sz, total);
    rfile *r;
    cr_assert_eq(rfile_open(path, &r), 0);
    cr_assert_eq(rfile_size(r), total);
    cr_assert_str_eq(rfile_path(r), path);
    cr_assert_eq(rfile_read(r, 0, back, total), 0);
    cr_assert_eq(memcmp(back, data, total), 0);
    cr_assert_eq(rfile_read(r, 12345, back, 10), 0);
    cr_assert_eq(memcmp(back, data + 12345, 10), 0);
    rfile_close(r);
    free(data);
    free(back);
}

Test(file, flush_makes_bytes_visible_to_readers)
{
    char path[512];
    path_in(path, "b.log");
    wfile *w;
    cr_assert_eq(wfile_create(path, &w), 0);
    cr_assert_eq(wfile_append(w, "hello", 5), 0);
    uint64_t sz;
    cr_assert_eq(file_size(path, &sz), 0);
    cr_assert_eq(sz, 0u);
    cr_assert_eq(wfile_flush(w), 0);
    cr_assert_eq(file_size(path, &sz), 0);
    cr_assert_eq(sz, 5u);
    cr_assert_eq(wfile_close(w), 0);
}

Test(file, open_append_continues_at_end)
{
    char path[512];
    path_in(path, "c.log");
    cr_assert_eq(file_write_all(path, "abc", 3, 1), 0);
    wfile *w;
    cr_assert_eq(wfile_open_append(path, &w), 0);
    cr_assert_eq(wfile_size(w), 3u);
    cr_assert_eq(wfile_append(w, "def", 3), 0);
    cr_assert_eq(wfile_size(w), 6u);
    cr_assert_eq(wfile_close(w), 0);
    expect_contents(path, "abcdef", 6);
}

Test(file, read_past_end_is_corruption)
{
    char path[512];
    rfile *r = open_written(path, "d", "0123456789", 10);
    uint8_t b[16];
    cr_assert_eq(rfile_read(r, 5, b, 6), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(err_message(), "short read"));
    cr_assert_not_null(strstr(err_message(), path));
    cr_assert_eq(rfile_read(r, 100, b, 1), LAMINA_ECORRUPT);
    cr_assert_eq(rfile_read(r, 5, b, 5), 0);
    cr_assert_eq(memcmp(b, "56789", 5), 0);
    cr_assert_eq(rfile_read(r, 10, b, 0), 0);
    rfile_close(r);
}

Test(file, missing_file_fails_with_path_in_message)
{
    char path[512];
    path_in(path, "nope");
    rfile *r;
    cr_assert_eq(rfile_open(path, &r), LAMINA_EIO);
    cr_assert_null(r);
    cr_assert_not_null(strstr(err_message(), path));
    cr_assert_not_null(strstr(err_message(), "No such file"));
    cr_assert_eq(file_exists(path), 0);
    uint8_t *d;
    size_t n;
    cr_assert_eq(file_read_all(path, &d, &n), LAMINA_EIO);
}

Test(file, rename_remove_exists_and_list)
{
    char a[512], b[512], sub[512];
    path_in(a, "x.tmp");
    path_in(b, "x");
    path_in(sub, "sub");
    cr_assert_eq(file_write_all(a, "v1", 2, 1), 0);
    cr_assert_eq(file_rename(a, b), 0);
    cr_assert_eq(file_exists(a), 0);
    cr_assert_eq(file_exists(b), 1);
    cr_assert_eq(dir_create(sub), 0);
    cr_assert_eq(dir_create(sub), 0, "creating an existing directory is fine");
    cr_assert_eq(dir_sync(tmpdir), 0);

    char **names;
    size_t n;
    cr_assert_eq(dir_list(tmpdir, &names, &n), 0);
    cr_assert_eq(n, 2u);
    int seen_x = 0, seen_sub = 0;
    for (size_t i = 0; i < n; i++) {
        seen_x |= strcmp(names[i], "x") == 0;
        seen_sub |= strcmp(names[i], "sub") == 0;
    }
    cr_assert(seen_x && seen_sub);
    dir_list_free(names, n);

    cr_assert_eq(file_remove(b), 0);
    cr_assert_eq(file_exists(b), 0);
    cr_assert_eq(file_remove(b), LAMINA_EIO);
    cr_assert_eq(dir_remove(sub), 0);
    cr_assert_eq(dir_list(tmpdir, &names, &n), 0);
    cr_assert_eq(n, 0u);
    dir_list_free(names, n);
}

Test(file, write_all_replaces_contents)
{
    char p[512];
    path_in(p, "CURRENT");
    cr_assert_eq(file_write_all(p, "a long first version", 20, 1), 0);
    cr_assert_eq(file_write_all(p, "short", 5, 0), 0);
    expect_contents(p, "short", 5);
    cr_assert_eq(file_write_all(p, NULL, 0, 1), 0);
    uint8_t *d;
    size_t n;
    cr_assert_eq(file_read_all(p, &d, &n), 0);
    cr_assert_eq(n, 0u);
    free(d);
}

Test(file, second_lock_on_same_file_is_busy)
{
    char p[512];
    path_in(p, "LOCK");
    file_lock *l1, *l2;
    cr_assert_eq(file_lock_acquire(p, &l1), 0, "%s", err_message());
    cr_assert_eq(file_lock_acquire(p, &l2), LAMINA_EBUSY);
    cr_assert_null(l2);
    cr_assert_not_null(strstr(err_message(), p));
    file_lock_release(l1);
    cr_assert_eq(file_lock_acquire(p, &l2), 0, "released lock can be taken again");
    file_lock_release(l2);
}

/* ---- Fault injection ------------------------------------------------------------------- */

struct fault_plan {
    const char *op; /* inject on this op only */
    int errnum;
    int calls; /* hook calls seen for op */
    int after; /* let this many calls through first */
};

static int fault_hook(const char *op, const char *path, void *ctx)
{
    struct fault_plan *f = ctx;
    if (strcmp(op, f->op) != 0) return 0;
    return f->calls++ >= f->after ? f->errnum : 0;
}

/* Creates name in tmpdir (its path left in p), appends to it and fails its flush with plan's
 * errno; the hook is off again on return. */
static wfile *poison_by_write(char *p, const char *name, struct fault_plan *plan, int code)
{
    path_in(p, name);
    wfile *w;
    cr_assert_eq(wfile_create(p, &w), 0);
    file_set_fault_hook(fault_hook, plan);
    cr_assert_eq(wfile_append(w, "data", 4), 0, "appends stay in the buffer");
    cr_assert_eq(wfile_flush(w), code);
    cr_assert_not_null(strstr(err_message(), "injected"));
    cr_assert_eq(plan->calls, 1);
    file_set_fault_hook(NULL, NULL);
    return w;
}

Test(file, injected_write_failure_is_eio_and_poisons)
{
    char p[512];
    struct fault_plan plan = {"write", EIO, 0, 0};
    wfile *w = poison_by_write(p, "w.log", &plan, LAMINA_EIO);
    cr_assert_eq(wfile_append(w, "more", 4), LAMINA_EIO);
    cr_assert_eq(wfile_sync(w), LAMINA_EIO);
    cr_assert_eq(wfile_close(w), LAMINA_EIO);
}

Test(file, injected_enospc_is_reported_as_enospc)
{
    char p[512];
    path_in(p, "full");
    struct fault_plan plan = {"write", ENOSPC, 0, 0};
    file_set_fault_hook(fault_hook, &plan);
    cr_assert_eq(file_write_all(p, "abc", 3, 1), LAMINA_ENOSPC);
    cr_assert_not_null(strstr(err_message(), "No space left"));
    cr_assert_eq(plan.calls, 1);
}

Test(file, poisoned_file_restates_the_first_failure_cause)
{
    char p[512], first[600];
    struct fault_plan plan = {"write", ENOSPC, 0, 0};
    wfile *w = poison_by_write(p, "full.log", &plan, LAMINA_ENOSPC);
    snprintf(first, sizeof(first), "%s", err_message());
    cr_assert_not_null(strstr(first, "No space left on device"), "%s", first);
    cr_assert_eq(wfile_sync(w), LAMINA_ENOSPC, "still a full disk, not a vaguer EIO");
    cr_assert_not_null(strstr(err_message(), first), "restates \"%s\": %s", first, err_message());
    cr_assert_not_null(strstr(err_message(), "earlier failure"), "%s", err_message());
    cr_assert_eq(wfile_close(w), LAMINA_ENOSPC);
    cr_assert_not_null(strstr(err_message(), first), "close too: %s", err_message());
}

Test(file, failed_sync_poisons_file_and_is_never_retried)
{
    char p[512];
    path_in(p, "s.log");
    struct fault_plan plan = {"sync", EIO, 0, 1};
    wfile *w;
    cr_assert_eq(wfile_create(p, &w), 0);
    file_set_fault_hook(fault_hook, &plan);
    cr_assert_eq(wfile_append(w, "one", 3), 0);
    cr_assert_eq(wfile_sync(w), 0, "first sync passes");
    cr_assert_eq(wfile_append(w, "two", 3), 0);
    cr_assert_eq(wfile_sync(w), LAMINA_EIO);
    cr_assert_eq(plan.calls, 2);
    /* Even with injection off, the file stays failed and no further sync is attempted. */
    file_set_fault_hook(NULL, NULL);
    cr_assert_eq(wfile_sync(w), LAMINA_EIO);
    cr_assert_eq(wfile_append(w, "three", 5), LAMINA_EIO);
    cr_assert_eq(wfile_flush(w), LAMINA_EIO);
    cr_assert_eq(wfile_close(w), LAMINA_EIO);
}

Test(file, hook_covers_open_create_read_rename_remove_lock_dir_sync)
{
    char p[512], q[512];
    path_in(p, "f");
    path_in(q, "g");
    cr_assert_eq(file_write_all(p, "abc", 3, 0), 0);
    const char *ops[] = {"open", "create", "read", "rename", "remove", "lock", "dir_sync"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        struct fault_plan plan = {ops[i], EIO, 0, 0};
        file_set_fault_hook(fault_hook, &plan);
        rfile *r = NULL;
        wfile *w = NULL;
        file_lock *l = NULL;
        int rc;
        if (!strcmp(ops[i], "open")) {
            rc = rfile_open(p, &r);
        } else if (!strcmp(ops[i], "create")) {
            rc = wfile_create(q, &w);
        } else if (!strcmp(ops[i], "read")) {
            file_set_fault_hook(NULL, NULL);
            cr_assert_eq(rfile_open(p, &r), 0);
            file_set_fault_hook(fault_hook, &plan);
            uint8_t b[3];
            rc = rfile_read(r, 0, b, 3);
            struct file_read req = {r, 0, 3, b, 1};
            cr_assert_eq(rfile_read_batch(r, &req, 1), LAMINA_EIO, "batched reads too");
            cr_assert_eq(req.rc, LAMINA_EIO);
            rfile_close(r);
            r = NULL;
        } else if (!strcmp(ops[i], "rename")) {
            rc = file_rename(p, q);
        } else if (!strcmp(ops[i], "remove")) {
            rc = file_remove(p);
        } else if (!strcmp(ops[i], "lock")) {
            rc = file_lock_acquire(q, &l);
        } else {
            rc = dir_sync(tmpdir);
        }
        cr_assert_eq(rc, LAMINA_EIO, "op %s", ops[i]);
        cr_assert_geq(plan.calls, 1, "op %s", ops[i]);
        cr_assert_not_null(strstr(err_message(), "injected"), "op %s: %s", ops[i], err_message());
        cr_assert_null(r);
        cr_assert_null(w);
        cr_assert_null(l);
        file_set_fault_hook(NULL, NULL);
    }
    cr_assert_eq(file_exists(p), 1, "injected rename/remove left the file alone");
    cr_assert_eq(file_exists(q), 0);
}

/* ---- Batched reads ----------------------------------------------------------------------- */

static void batch_reads_match_single_reads(int force_pread)
{
    file_force_pread(force_pread);
    char p[512];
    size_t total = 1 << 20;
    uint8_t *data = malloc(total);
    fill(data, total, 9);
    rfile *r = open_written(p, "batch", data, total);
    const char *backend = file_io_backend();
    cr_assert(!strcmp(backend, "io_uring") || !strcmp(backend, "pread"), "%s", backend);
    if (force_pread) cr_assert_str_eq(backend, "pread");

    rng g;
    rng_seed(&g, 11);
    enum { N = 300 };
    struct file_read reqs[N];
    uint8_t *bufs[N];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < N; i++) {
            size_t len = rng_uniform(&g, 9000);
            uint64_t off = rng_uniform(&g, total - len + 1);
            bufs[i] = malloc(len ? len : 1);
            reqs[i] = (struct file_read){r, off, len, bufs[i], 1};
        }
        cr_assert_eq(rfile_read_batch(r, reqs, N), 0, "%s", err_message());
        for (int i = 0; i < N; i++) {
            cr_assert_eq(reqs[i].rc, 0);
            uint8_t *one = malloc(reqs[i].len ? reqs[i].len : 1);
            cr_assert_eq(rfile_read(r, reqs[i].offset, one, reqs[i].len), 0);
            cr_assert_eq(memcmp(one, bufs[i], reqs[i].len), 0, "request %d", i);
            cr_assert_eq(memcmp(data + reqs[i].offset, bufs[i], reqs[i].len), 0);
            free(one);
            free(bufs[i]);
        }
    }
    rfile_close(r);
    free(data);
    file_force_pread(0);
}

Test(file, batch_reads_match_single_reads_with_probed_backend)
{
    batch_reads_match_single_reads(0);
}

Test(file, batch_reads_match_single_reads_with_pread_forced)
{
    batch_reads_match_single_reads(1);
}

/* A batch runs on another thread's ring too, and that ring is released at thread exit. */
static void *batch_thread(void *arg)
{
    rfile *r = arg;
    uint8_t b[4];
    struct file_read req = {r, 2, 4, b, 1};
    int rc = rfile_read_batch(r, &req, 1);
    return (void *)(intptr_t)(rc == 0 && memcmp(b, "2345", 4) == 0);
}

Test(file, batch_reads_work_from_several_threads)
{
    char p[512];
    rfile *r = open_written(p, "threads", "0123456789", 10);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, batch_thread, r), 0);
    for (int i = 0; i < 4; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        cr_assert_eq(ok, (void *)1);
    }
    rfile_close(r);
}

Test(file, batch_read_past_end_fails_only_that_request)
{
    char p[512];
    rfile *r = open_written(p, "small", "0123456789", 10);
    uint8_t a[4], b[8], c[2];
    struct file_read reqs[3] = {{r, 0, 4, a, 1}, {r, 6, 8, b, 1}, {r, 8, 2, c, 1}};
    cr_assert_eq(rfile_read_batch(r, reqs, 3), LAMINA_ECORRUPT);
    cr_assert_eq(reqs[0].rc, 0);
    cr_assert_eq(reqs[1].rc, LAMINA_ECORRUPT);
    cr_assert_eq(reqs[2].rc, 0);
    cr_assert_eq(memcmp(a, "0123", 4), 0);
    cr_assert_eq(memcmp(c, "89", 2), 0);
    cr_assert_eq(rfile_read_batch(r, NULL, 0), 0);
    rfile_close(r);
}

/* ---- Batches across files, direct reads, counters ------------------------------------------ */

/* Several files of different sizes, some with RFILE_NO_URING, written with known bytes. */
enum { MF_FILES = 5 };
static const size_t mf_sizes[MF_FILES] = {1000, 5000, 65539, 1 << 20, 3 << 20};

struct multi_files {
    rfile *f[MF_FILES];
    uint8_t *data[MF_FILES];
};

/* Opens the files in dir with flags per file (flags_of(i)); path names end in tag. */
static void multi_open(struct multi_files *m, const char *dir, const char *tag,
                       int (*flags_of)(int))
{
    for (int i = 0; i < MF_FILES; i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s-%d", dir, tag, i);
        m->data[i] = malloc(mf_sizes[i]);
        fill(m->data[i], mf_sizes[i], 100 + (uint64_t)i);
        cr_assert_eq(file_write_all(p, m->data[i], mf_sizes[i], 0), 0);
        cr_assert_eq(rfile_open_ex(p, flags_of(i), &m->f[i]), 0, "%s", err_message());
    }
}

static void multi_close(struct multi_files *m)
{
    for (int i = 0; i < MF_FILES; i++) {
        rfile_close(m->f[i]);
        free(m->data[i]);
    }
}

static int flags_mixed(int i)
{
    return i % 2 ? RFILE_NO_URING : 0;
}

/* n random requests over m's files (some of length 0, some past the end when past_end), checked
 * against the files' bytes; returns how many went to files without RFILE_NO_URING. */
static size_t multi_check(struct multi_files *m, size_t n, uint64_t seed, int past_end)
{
    rng g;
    rng_seed(&g, seed);
    struct file_read *reqs = calloc(n, sizeof(*reqs));
    int *which = calloc(n, sizeof(*which));
    int *bad = calloc(n, sizeof(*bad));
    uint64_t reads0[MF_FILES], bytes0[MF_FILES], want_reads[MF_FILES] = {0},
                                                 want_bytes[MF_FILES] = {0};
    for (int i = 0; i < MF_FILES; i++)
        rfile_io_stats(m->f[i], &reads0[i], &bytes0[i]);
    size_t ringable = 0;
    int any_bad = 0;
    for (size_t i = 0; i < n; i++) {
        int w = (int)rng_uniform(&g, MF_FILES);
        size_t size = mf_sizes[w];
        size_t len = i % 17 == 0 ? 0 : rng_uniform(&g, size < 20000 ? size : 20000) + 1;
        uint64_t off = rng_uniform(&g, size - len + 1);
        if (past_end && i % 13 == 5) {
            off = size - len / 2; /* the second half lies past the end */
            bad[i] = len / 2 + (len & 1) > 0 && len > 0;
        }
        which[i] = w;
        reqs[i] = (struct file_read){m->f[w], off, len, malloc(len ? len : 1), 1};
        if (len) {
            want_reads[w]++;
            if (!bad[i]) want_bytes[w] += len;
            if (!(w % 2)) ringable++;
        }
        any_bad |= bad[i];
    }
    int rc = file_read_multi(reqs, n);
    cr_assert_eq(rc, any_bad ? LAMINA_ECORRUPT : 0, "%s", err_message());
    for (size_t i = 0; i < n; i++) {
        if (bad[i]) {
            cr_assert_eq(reqs[i].rc, LAMINA_ECORRUPT, "request %zu past the end", i);
        } else {
            cr_assert_eq(reqs[i].rc, 0, "request %zu: %d", i, reqs[i].rc);
            cr_assert_eq(memcmp(reqs[i].dst, m->data[which[i]] + reqs[i].offset, reqs[i].len), 0,
                         "request %zu", i);
        }
        free(reqs[i].dst);
    }
    for (int i = 0; i < MF_FILES; i++) {
        uint64_t reads, bytes;
        rfile_io_stats(m->f[i], &reads, &bytes);
        cr_assert_eq(reads - reads0[i], want_reads[i], "file %d", i);
        cr_assert_eq(bytes - bytes0[i], want_bytes[i], "file %d", i);
    }
    free(reqs);
    free(which);
    free(bad);
    return ringable;
}

static void multi_reads_across_files(int force_pread)
{
    file_force_pread(force_pread);
    struct multi_files m;
    multi_open(&m, tmpdir, "multi", flags_mixed);
    uint64_t ring0, pread0, ring1, pread1;
    file_io_stats(&ring0, &pread0);
    /* 1000 requests: several chunks of the ring's depth. */
    size_t ringable = multi_check(&m, 1000, 5, 0);
    file_io_stats(&ring1, &pread1);
    if (force_pread || strcmp(file_io_backend(), "io_uring") != 0) {
        cr_assert_eq(ring1 - ring0, 0, "no ring reads without a ring");
    } else {
        cr_assert_eq(ring1 - ring0, ringable, "every request of a ring file used the ring");
        cr_assert_gt(pread1 - pread0, 0, "RFILE_NO_URING files used pread");
    }
    multi_close(&m);
    file_force_pread(0);
}

Test(file, multi_reads_across_files_match_with_probed_backend)
{
    multi_reads_across_files(0);
}

Test(file, multi_reads_across_files_match_with_pread_forced)
{
    multi_reads_across_files(1);
}

/* Requests past the end of their file fail alone, through the ring and by pread. */
Test(file, multi_reads_past_end_fail_only_those_requests)
{
    struct multi_files m;
    multi_open(&m, tmpdir, "short", flags_mixed);
    for (int forced = 0; forced < 2; forced++) {
        file_force_pread(forced);
        multi_check(&m, 300, 17 + (uint64_t)forced, 1);
    }
    file_force_pread(0);
    multi_close(&m);
}

/* Fails the nth "read" the hook sees (counting from 0). */
struct nth_fault {
    int nth, calls;
};

static int nth_read_hook(const char *op, const char *path, void *ctx)
{
    struct nth_fault *f = ctx;
    if (strcmp(op, "read") != 0) return 0;
    return f->calls++ == f->nth ? EIO : 0;
}

Test(file, fault_hook_fails_one_request_of_a_batch)
{
    struct multi_files m;
    multi_open(&m, tmpdir, "fault", flags_mixed);
    enum { N = 200 };
    for (int forced = 0; forced < 2; forced++) {
        file_force_pread(forced);
        struct file_read reqs[N];
        uint8_t bufs[N][64];
        for (int i = 0; i < N; i++)
            reqs[i] = (struct file_read){m.f[i % MF_FILES], (uint64_t)i * 3, 64, bufs[i], 1};
        struct nth_fault plan = {150, 0}; /* in the second chunk */
        file_set_fault_hook(nth_read_hook, &plan);
        cr_assert_eq(file_read_multi(reqs, N), LAMINA_EIO);
        file_set_fault_hook(NULL, NULL);
        cr_assert_eq(plan.calls, N, "the hook saw each request once");
        cr_assert_not_null(strstr(err_message(), "injected"), "%s", err_message());
        for (int i = 0; i < N; i++) {
            cr_assert_eq(reqs[i].rc, i == 150 ? LAMINA_EIO : 0, "request %d", i);
            if (i != 150)
                cr_assert_eq(memcmp(bufs[i], m.data[i % MF_FILES] + i * 3, 64), 0, "request %d", i);
        }
    }
    file_force_pread(0);
    multi_close(&m);
}

Test(file, open_ex_refuses_unknown_flags)
{
    char p[512];
    path_in(p, "flags");
    cr_assert_eq(file_write_all(p, "x", 1, 0), 0);
    rfile *r;
    cr_assert_eq(rfile_open_ex(p, 0x100, &r), LAMINA_EINVAL);
    cr_assert_null(r);
    cr_assert_eq(rfile_open_ex(p, RFILE_NO_URING, &r), 0);
    cr_assert_eq(rfile_is_direct(r), 0);
    rfile_close(r);
}

/* Direct reads need a filesystem that grants O_DIRECT: tmpfs (a common /tmp) may refuse it, so
 * these files live under the build directory (LAMINA_BUILD_ROOT) or /var/tmp. */
static void direct_dir_make(char *dst, size_t cap)
{
    const char *root = getenv("LAMINA_BUILD_ROOT");
    snprintf(dst, cap, "%s/lamina-direct-XXXXXX", root && *root ? root : "/var/tmp");
    cr_assert_not_null(mkdtemp(dst), "mkdtemp %s: %s", dst, strerror(errno));
}

static int flags_direct_mixed(int i)
{
    return i == 3 ? 0 : RFILE_DIRECT | (i % 2 ? RFILE_NO_URING : 0);
}

static void direct_reads(int force_pread)
{
    file_force_pread(force_pread);
    char dir[512];
    direct_dir_make(dir, sizeof(dir));
    struct multi_files m;
    multi_open(&m, dir, "direct", flags_direct_mixed);
    int direct = rfile_is_direct(m.f[0]);
    if (!direct) cr_log_warn("%s refuses O_DIRECT: buffered fallback tested", dir);
    cr_assert_eq(rfile_is_direct(m.f[3]), 0);
    for (int i = 0; i < MF_FILES; i++)
        cr_assert_eq(rfile_is_direct(m.f[i]), i == 3 ? 0 : direct);

    /* Single reads: unaligned, aligned into an aligned buffer, ending at the unaligned end. */
    rfile *f = m.f[2];
    size_t size = mf_sizes[2];
    uint8_t *one = malloc(size);
    cr_assert_eq(rfile_read(f, 4095, one, 3), 0);
    cr_assert_eq(memcmp(one, m.data[2] + 4095, 3), 0);
    uint8_t *aligned = aligned_alloc(4096, 8192);
    cr_assert_eq(rfile_read(f, 4096, aligned, 8192), 0);
    cr_assert_eq(memcmp(aligned, m.data[2] + 4096, 8192), 0);
    cr_assert_eq(rfile_read(f, 1, one, size - 1), 0);
    cr_assert_eq(memcmp(one, m.data[2] + 1, size - 1), 0);
    cr_assert_eq(rfile_read(f, 60000, one, size - 60000 + 1), LAMINA_ECORRUPT, "past the end");
    cr_assert_eq(rfile_read(f, 65536, aligned, 8192), LAMINA_ECORRUPT, "aligned, past the end");
    free(aligned);
    free(one);

    multi_check(&m, 600, 23, 0);
    multi_check(&m, 300, 29, 1);
    multi_close(&m);
    tdir_remove(dir);
    file_force_pread(0);
}

Test(file, direct_reads_match_with_probed_backend)
{
    direct_reads(0);
}

Test(file, direct_reads_match_with_pread_forced)
{
    direct_reads(1);
}
