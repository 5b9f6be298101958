/* test_merge.c — the merge job's garbage rules (newest version per snapshot stripe, tombstones
 * at the last level), its output tables and their cuts (target size, grandparent overlap as
 * LevelDB's ShouldStopBefore), and cancellation, fed by vector-backed iterators and read back
 * with the table reader. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compaction/compaction.h"
#include "lamina.h"
#include "tdir.h"
#include "util/ikey.h"

/* ---- A vector-backed iterator over sorted internal keys --------------------------------- */

struct ventry {
    uint8_t *ikey;
    size_t ilen;
    uint8_t *value;
    size_t vlen;
};

struct vec_iter {
    iter base;
    struct ventry *e;
    size_t n, cap;
    size_t pos;     /* == n: not valid */
    size_t fail_at; /* moving onto this index fails with LAMINA_EIO (SIZE_MAX: never) */
    int status;
};

static int vec_place(struct vec_iter *v, size_t pos)
{
    if (pos != SIZE_MAX && pos < v->n && pos == v->fail_at) {
        v->pos = v->n;
        v->status = LAMINA_EIO;
        return v->status;
    }
    v->pos = pos;
    return 0;
}

static int vec_seek(iter *it, const uint8_t *k, size_t n)
{
    struct vec_iter *v = (struct vec_iter *)it;
    size_t i = 0;
    while (i < v->n && ikey_cmp(v->e[i].ikey, v->e[i].ilen, k, n) < 0)
        i++;
    return vec_place(v, i);
}

static int vec_seek_for_prev(iter *it, const uint8_t *k, size_t n)
{
    struct vec_iter *v = (struct vec_iter *)it;
    size_t i = v->n;
    while (i > 0 && ikey_cmp(v->e[i - 1].ikey, v->e[i - 1].ilen, k, n) > 0)
        i--;
    return vec_place(v, i == 0 ? v->n : i - 1);
}

static int vec_first(iter *it)
{
    return vec_place((struct vec_iter *)it, 0);
}

static int vec_last(iter *it)
{
    struct vec_iter *v = (struct vec_iter *)it;
    return vec_place(v, v->n ? v->n - 1 : 0);
}

static int vec_next(iter *it)
{
    struct vec_iter *v = (struct vec_iter *)it;
    return vec_place(v, v->pos + 1);
}

static int vec_prev(iter *it)
{
    struct vec_iter *v = (struct vec_iter *)it;
    return vec_place(v, v->pos == 0 ? v->n : v->pos - 1);
}

static int vec_valid(const iter *it)
{
    const struct vec_iter *v = (const struct vec_iter *)it;
    return v->status == 0 && v->pos < v->n;
}

static const uint8_t *vec_key(const iter *it, size_t *n)
{
    const struct vec_iter *v = (const struct vec_iter *)it;
    *n = v->e[v->pos].ilen;
    return v->e[v->pos].ikey;
}

static const uint8_t *vec_value(const iter *it, size_t *n)
{
    const struct vec_iter *v = (const struct vec_iter *)it;
    *n = v->e[v->pos].vlen;
    return v->e[v->pos].value;
}

static int vec_status(const iter *it)
{
    return ((const struct vec_iter *)it)->status;
}

static void vec_destroy(iter *it)
{
    struct vec_iter *v = (struct vec_iter *)it;
    for (size_t i = 0; i < v->n; i++) {
        free(v->e[i].ikey);
        free(v->e[i].value);
    }
    free(v->e);
    free(v);
}

static const struct iter_ops vec_ops = {
    vec_seek,  vec_seek_for_prev, vec_first, vec_last,   vec_next,    vec_prev,
    vec_valid, vec_key,           vec_value, vec_status, vec_destroy,
};

/* One version of a key, as tests write them. */
struct version {
    const char *key;
    uint64_t seq;
    int type;
    const char *value;
};

static int ventry_cmp(const void *a, const void *b)
{
    const struct ventry *x = a, *y = b;
    return ikey_cmp(x->ikey, x->ilen, y->ikey, y->ilen);
}

static void vec_add(struct vec_iter *v, const void *ukey, size_t ulen, uint64_t seq, int type,
                    const void *value, size_t vlen)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 16;
        v->e = realloc(v->e, v->cap * sizeof(*v->e));
        cr_assert_not_null(v->e);
    }
    struct ventry *e = &v->e[v->n++];
    e->ilen = ulen + IKEY_TRAILER;
    e->ikey = malloc(e->ilen);
    cr_assert_not_null(e->ikey);
    ikey_encode(e->ikey, ukey, ulen, seq, type);
    e->vlen = vlen;
    e->value = malloc(vlen ? vlen : 1);
    cr_assert_not_null(e->value);
    if (vlen) memcpy(e->value, value, vlen);
}

static struct vec_iter *vec_create(const struct version *vs, size_t n)
{
    struct vec_iter *v = calloc(1, sizeof(*v));
    cr_assert_not_null(v);
    v->base.ops = &vec_ops;
    v->fail_at = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const char *val = vs[i].value ? vs[i].value : "";
        vec_add(v, vs[i].key, strlen(vs[i].key), vs[i].seq, vs[i].type, val, strlen(val));
    }
    if (v->n) qsort(v->e, v->n, sizeof(*v->e), ventry_cmp);
    v->pos = v->n;
    return v;
}

/* ---- Running a job into a temporary directory ------------------------------------------ */

static char tmpdir[64];
static uint64_t next_file = 1;

static void setup_dir(void)
{
    tdir_make(tmpdir, sizeof(tmpdir), "merge");
}

static void remove_dir(void)
{
    tdir_remove(tmpdir);
}

TestSuite(merge, .init = setup_dir, .fini = remove_dir);

static void table_path(char *dst, size_t cap, uint64_t number)
{
    snprintf(dst, cap, "%s/%06llu.sst", tmpdir, (unsigned long long)number);
}

static int new_file(void *ctx, uint64_t *number, wfile **f)
{
    int *calls = ctx;
    char path[512];
    (*calls)++;
    *number = next_file++;
    table_path(path, sizeof(path), *number);
    return wfile_create(path, f);
}

static struct table_options small_tables(void)
{
    struct table_options o = {
        .block_size = 512,
        .restart_interval = 4,
        .compression = LAMINA_COMPRESSION_NONE,
        .zstd_level = 1,
        .bloom_bits = 10,
        .index_type = LAMINA_INDEX_BTREE,
    };
    return o;
}

static int file_calls;

static void job_init(struct merge_job *job, iter *input, const uint64_t *snaps, size_t nsnaps,
                     int drop_tombstones, uint64_t target)
{
    memset(job, 0, sizeof(*job));
    job->input = input;
    job->snapshots = snaps;
    job->nsnapshots = nsnaps;
    job->drop_tombstones = drop_tombstones;
    job->target_file_size = target;
    job->table_opts = small_tables();
    job->new_file = new_file;
    file_calls = 0;
    job->ctx = &file_calls;
}

/* Every entry of the job's output tables, in order, as versions (strings owned here). */
struct readback {
    struct ventry *e;
    size_t n;
    size_t *file_of; /* output index of each entry */
};

static void readback_free(struct readback *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->e[i].ikey);
        free(r->e[i].value);
    }
    free(r->e);
    free(r->file_of);
}

static struct readback read_outputs(const struct merge_job *job)
{
    struct readback r = {0};
    struct table_read_options ro = {.verify_checksums = 1, .fill_cache = 0};
    for (size_t f = 0; f < job->noutputs; f++) {
        const struct table_meta *m = &job->outputs[f];
        char path[512];
        table_path(path, sizeof(path), m->file_number);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0, "output %s exists", path);
        cr_expect_eq((uint64_t)st.st_size, m->file_size, "file_size is the file's size");

        table *t = NULL;
        int rc = table_open(path, m->file_number, NULL, 0, &t);
        cr_assert_eq(rc, 0, "table_open %s: %s", path, lamina_strerror(rc));
        iter *it = table_iter_create(t, &ro);
        cr_assert_not_null(it);
        size_t first = r.n;
        for (rc = iter_seek_to_first(it); rc == 0 && iter_valid(it); rc = iter_next(it)) {
            size_t kl, vl;
            const uint8_t *k = iter_key(it, &kl);
            const uint8_t *v = iter_value(it, &vl);
            r.e = realloc(r.e, (r.n + 1) * sizeof(*r.e));
            r.file_of = realloc(r.file_of, (r.n + 1) * sizeof(*r.file_of));
            cr_assert(r.e && r.file_of);
            r.e[r.n].ikey = malloc(kl);
            r.e[r.n].value = malloc(vl ? vl : 1);
            memcpy(r.e[r.n].ikey, k, kl);
            if (vl) memcpy(r.e[r.n].value, v, vl);
            r.e[r.n].ilen = kl;
            r.e[r.n].vlen = vl;
            r.file_of[r.n] = f;
            r.n++;
        }
        cr_assert_eq(rc, 0);
        cr_assert_eq(iter_status(it), 0);
        iter_destroy(it);
        table_unref(t);

        cr_assert_gt(r.n, first, "no empty output tables");
        cr_expect_eq(m->entries, r.n - first, "entries counts what the table holds");
        const struct ventry *lo = &r.e[first], *hi = &r.e[r.n - 1];
        cr_assert_not_null(m->smallest);
        cr_assert_not_null(m->largest);
        cr_expect(m->smallest_len == lo->ilen && !memcmp(m->smallest, lo->ikey, lo->ilen),
                  "smallest is the first key");
        cr_expect(m->largest_len == hi->ilen && !memcmp(m->largest, hi->ikey, hi->ilen),
                  "largest is the last key");
    }
    return r;
}

/* Asserts that the output is exactly `want` (in internal-key order). */
static void expect_output(const struct merge_job *job, const struct version *want, size_t n)
{
    struct readback r = read_outputs(job);
    cr_assert_eq(r.n, n, "output holds %zu entries, want %zu", r.n, n);
    for (size_t i = 0; i < n; i++) {
        size_t ulen = ikey_user_len(r.e[i].ilen);
        const char *val = want[i].value ? want[i].value : "";
        cr_expect(ulen == strlen(want[i].key) && !memcmp(r.e[i].ikey, want[i].key, ulen),
                  "entry %zu has key %s", i, want[i].key);
        cr_expect_eq(ikey_seq(r.e[i].ikey, r.e[i].ilen), want[i].seq, "entry %zu seq", i);
        cr_expect_eq(ikey_type(r.e[i].ikey, r.e[i].ilen), want[i].type, "entry %zu type", i);
        if (want[i].type == IKEY_VALUE)
            cr_expect(r.e[i].vlen == strlen(val) && !memcmp(r.e[i].value, val, r.e[i].vlen),
                      "entry %zu value %s", i, val);
    }
    readback_free(&r);
}

#define V(k, s, v)                                                                                 \
    {                                                                                              \
        k, s, IKEY_VALUE, v                                                                        \
    }
#define D(k, s)                                                                                    \
    {                                                                                              \
        k, s, IKEY_DELETION, NULL                                                                  \
    }
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Tests ------------------------------------------------------------------------------ */

Test(merge, shadowed_versions_are_dropped)
{
    struct version in[] = {V("a", 5, "a5"), V("a", 3, "a3"), D("b", 4), V("b", 2, "b2"),
                           V("c", 1, "c1")};
    struct vec_iter *v = vec_create(in, N(in));
    struct merge_job job;
    job_init(&job, &v->base, NULL, 0, 0, 1 << 20);
    cr_assert_eq(merge_job_run(&job), 0, "%s", lamina_errmsg(NULL));
    struct version want[] = {V("a", 5, "a5"), D("b", 4), V("c", 1, "c1")};
    expect_output(&job, want, N(want));
    cr_expect_eq(job.noutputs, 1);
    cr_expect_eq(job.outputs[0].deletions, 1);
    cr_expect_eq(job.entries_dropped, 2);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, tombstones_are_kept_above_the_last_level)
{
    struct version in[] = {D("a", 9), V("a", 3, "a3"), D("z", 2)};
    struct vec_iter *v = vec_create(in, N(in));
    struct merge_job job;
    job_init(&job, &v->base, NULL, 0, 0, 1 << 20);
    cr_assert_eq(merge_job_run(&job), 0);
    struct version want[] = {D("a", 9), D("z", 2)};
    expect_output(&job, want, N(want));
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, tombstones_and_what_they_shadow_go_at_the_last_level)
{
    struct version in[] = {V("a", 5, "a5"), V("a", 3, "a3"), D("b", 4),
                           V("b", 2, "b2"), V("c", 1, "c1"), D("d", 7)};
    struct vec_iter *v = vec_create(in, N(in));
    struct merge_job job;
    job_init(&job, &v->base, NULL, 0, 1, 1 << 20);
    cr_assert_eq(merge_job_run(&job), 0);
    struct version want[] = {V("a", 5, "a5"), V("c", 1, "c1")};
    expect_output(&job, want, N(want));
    cr_expect_eq(job.entries_dropped, 4);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, snapshot_stripes_keep_their_newest_version)
{
    struct version in[] = {V("a", 8, "a8"), V("a", 7, "a7"), V("a", 6, "a6"), V("a", 4, "a4"),
                           V("a", 3, "a3"), V("a", 1, "a1"), V("b", 2, "b2")};
    uint64_t snaps[] = {3, 6};
    struct vec_iter *v = vec_create(in, N(in));
    struct merge_job job;
    job_init(&job, &v->base, snaps, N(snaps), 0, 1 << 20);
    cr_assert_eq(merge_job_run(&job), 0);
    /* a8: the latest; a6: what snapshot 6 sees; a3: what snapshot 3 sees. */
    struct version want[] = {V("a", 8, "a8"), V("a", 6, "a6"), V("a", 3, "a3"), V("b", 2, "b2")};
    expect_output(&job, want, N(want));
    cr_expect_eq(job.entries_dropped, 3);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, tombstone_a_snapshot_needs_is_kept)
{
    /* a: the deletion at 7 is newer than snapshot 5, which still sees a3.
     * b: the deletion at 4 is what snapshot 5 and every later reader see: it goes, with b1.
     * c: snapshot 5 sees the deletion at 2, i.e. no c; dropping it with c1 keeps that answer. */
    struct version in[] = {D("a", 7),       V("a", 3, "a3"), V("b", 9, "b9"), D("b", 4),
                           V("b", 1, "b1"), V("c", 9, "c9"), D("c", 2),       V("c", 1, "c1")};
    uint64_t snaps[] = {5};
    struct vec_iter *v = vec_create(in, N(in));
    struct merge_job job;
    job_init(&job, &v->base, snaps, N(snaps), 1, 1 << 20);
    cr_assert_eq(merge_job_run(&job), 0);
    struct version want[] = {D("a", 7), V("a", 3, "a3"), V("b", 9, "b9"), V("c", 9, "c9")};
    expect_output(&job, want, N(want));
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, tombstones_are_kept_without_drop_even_under_snapshots)
{
    struct version in[] = {D("a", 4), V("a", 3, "a3")};
    uint64_t snaps[] = {5};
    struct vec_iter *v = vec_create(in, N(in));
    struct merge_job job;
    job_init(&job, &v->base, snaps, N(snaps), 0, 1 << 20);
    cr_assert_eq(merge_job_run(&job), 0);
    struct version want[] = {D("a", 4)};
    expect_output(&job, want, N(want));
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, newer_source_wins_through_merge_iter)
{
    struct version newer[] = {V("a", 4, "new-a"), D("c", 5)};
    struct version older[] = {V("a", 2, "old-a"), V("b", 1, "old-b"), V("c", 3, "old-c")};
    iter *children[2] = {&vec_create(newer, N(newer))->base, &vec_create(older, N(older))->base};
    iter *m = merge_iter_create(children, 2);
    cr_assert_not_null(m);
    struct merge_job job;
    job_init(&job, m, NULL, 0, 0, 1 << 20);
    cr_assert_eq(merge_job_run(&job), 0);
    struct version want[] = {V("a", 4, "new-a"), V("b", 1, "old-b"), D("c", 5)};
    expect_output(&job, want, N(want));
    merge_job_free(&job);
    iter_destroy(m);
}

Test(merge, empty_input_writes_no_table)
{
    struct vec_iter *v = vec_create(NULL, 0);
    struct merge_job job;
    job_init(&job, &v->base, NULL, 0, 1, 1 << 20);
    cr_assert_eq(merge_job_run(&job), 0);
    cr_expect_eq(job.noutputs, 0);
    cr_expect_eq(file_calls, 0);
    cr_expect_eq(job.bytes_written, 0);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, all_dropped_writes_no_table)
{
    struct version in[] = {D("a", 4), V("a", 3, "a3"), D("b", 2)};
    struct vec_iter *v = vec_create(in, N(in));
    struct merge_job job;
    job_init(&job, &v->base, NULL, 0, 1, 1 << 20);
    cr_assert_eq(merge_job_run(&job), 0);
    cr_expect_eq(job.noutputs, 0);
    cr_expect_eq(file_calls, 0);
    cr_expect_eq(job.entries_dropped, 3);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, empty_values_and_keys_with_nul_bytes_survive)
{
    struct vec_iter *v = calloc(1, sizeof(*v));
    cr_assert_not_null(v);
    v->base.ops = &vec_ops;
    v->fail_at = SIZE_MAX;
    vec_add(v, "", 0, 3, IKEY_VALUE, "empty-key", 9);
    vec_add(v, "k\0a", 3, 2, IKEY_VALUE, "", 0);
    vec_add(v, "k\0a", 3, 1, IKEY_VALUE, "old", 3);
    vec_add(v, "k\0b", 3, 4, IKEY_VALUE, "\0\0", 2);
    v->pos = v->n;
    struct merge_job job;
    job_init(&job, &v->base, NULL, 0, 0, 1 << 20);
    cr_assert_eq(merge_job_run(&job), 0);
    struct readback r = read_outputs(&job);
    cr_assert_eq(r.n, 3);
    cr_expect_eq(r.e[0].ilen, IKEY_TRAILER);
    cr_expect(r.e[1].ilen == 3 + IKEY_TRAILER && !memcmp(r.e[1].ikey, "k\0a", 3));
    cr_expect_eq(r.e[1].vlen, 0);
    cr_expect(r.e[2].vlen == 2 && !memcmp(r.e[2].value, "\0\0", 2));
    readback_free(&r);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, files_are_cut_at_target_size_between_user_keys)
{
    /* 300 keys of 8 versions each; every version is kept (one snapshot per version). */
    uint64_t snaps[8];
    for (int i = 0; i < 8; i++)
        snaps[i] = (uint64_t)(i + 1) * 1000;
    struct vec_iter *v = calloc(1, sizeof(*v));
    cr_assert_not_null(v);
    v->base.ops = &vec_ops;
    v->fail_at = SIZE_MAX;
    uint64_t in_bytes = 0;
    char key[32], val[64];
    for (int k = 0; k < 300; k++) {
        snprintf(key, sizeof(key), "key%05d", k);
        for (int s = 0; s < 8; s++) {
            int vl = snprintf(val, sizeof(val), "value-%d-%d-padding-padding", k, s);
            vec_add(v, key, strlen(key), (uint64_t)(s + 1) * 1000 - 1, IKEY_VALUE, val, (size_t)vl);
            in_bytes += strlen(key) + IKEY_TRAILER + (uint64_t)vl;
        }
    }
    qsort(v->e, v->n, sizeof(*v->e), ventry_cmp);
    v->pos = v->n;
    struct merge_job job;
    job_init(&job, &v->base, snaps, N(snaps), 1, 4096);
    cr_assert_eq(merge_job_run(&job), 0, "%s", lamina_errmsg(NULL));
    cr_expect_eq(job.bytes_read, in_bytes, "bytes_read counts every input entry");
    cr_expect_eq(job.entries_dropped, 0);
    cr_assert_gt(job.noutputs, 3, "outputs cut at 4 KiB: %zu", job.noutputs);
    cr_expect_eq((size_t)file_calls, job.noutputs);

    struct readback r = read_outputs(&job);
    cr_assert_eq(r.n, 300 * 8);
    uint64_t written = 0;
    for (size_t f = 0; f < job.noutputs; f++)
        written += job.outputs[f].file_size;
    cr_expect_eq(job.bytes_written, written);
    for (size_t i = 1; i < r.n; i++) {
        cr_assert_lt(ikey_cmp(r.e[i - 1].ikey, r.e[i - 1].ilen, r.e[i].ikey, r.e[i].ilen), 0);
        int same_user = !ikey_user_cmp(r.e[i - 1].ikey, ikey_user_len(r.e[i - 1].ilen), r.e[i].ikey,
                                       ikey_user_len(r.e[i].ilen));
        if (same_user)
            cr_assert_eq(r.file_of[i - 1], r.file_of[i], "versions of one key share a table");
    }
    for (size_t f = 0; f + 1 < job.noutputs; f++)
        cr_expect_geq(job.outputs[f].file_size, 4096 / 2, "cut near the target, not early");
    readback_free(&r);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, input_error_fails_the_job_and_lists_its_files)
{
    struct vec_iter *v = calloc(1, sizeof(*v));
    cr_assert_not_null(v);
    v->base.ops = &vec_ops;
    char key[32];
    for (int k = 0; k < 100; k++) {
        snprintf(key, sizeof(key), "key%05d", k);
        vec_add(v, key, strlen(key), 1, IKEY_VALUE, "v", 1);
    }
    v->pos = v->n;
    v->fail_at = 50;
    struct merge_job job;
    job_init(&job, &v->base, NULL, 0, 0, 1 << 20);
    cr_expect_eq(merge_job_run(&job), LAMINA_EIO);
    cr_expect_eq(job.noutputs, (size_t)file_calls, "every file it created is listed");
    cr_expect_eq(job.noutputs, 1);
    merge_job_free(&job);
    cr_expect_null(job.outputs);
    iter_destroy(&v->base);
}

/* ---- Cuts by grandparent overlap ------------------------------------------------------- */

/* Ten grandparent tables of 100 bytes ending at key00010, key00020, ..., key00100. */
static char gp_keys[10][16];
static const uint8_t *gp_largest[10];
static size_t gp_len[10];
static uint64_t gp_size[10];

static void with_grandparents(struct merge_job *job, uint64_t max_overlap)
{
    for (int i = 0; i < 10; i++) {
        gp_len[i] = (size_t)snprintf(gp_keys[i], sizeof(gp_keys[i]), "key%05d", (i + 1) * 10);
        gp_largest[i] = (const uint8_t *)gp_keys[i];
        gp_size[i] = 100;
    }
    job->gp_largest = gp_largest;
    job->gp_largest_len = gp_len;
    job->gp_size = gp_size;
    job->ngp = 10;
    job->max_grandparent_overlap = max_overlap;
}

/* Keys key<from>..key<to - 1>, `versions` versions each (seqs 3, 2, 1 ...), each kept by a
 * snapshot. */
static struct vec_iter *numbered_keys(int from, int to, int versions)
{
    struct vec_iter *v = calloc(1, sizeof(*v));
    cr_assert_not_null(v);
    v->base.ops = &vec_ops;
    v->fail_at = SIZE_MAX;
    char key[32];
    for (int k = from; k < to; k++) {
        snprintf(key, sizeof(key), "key%05d", k);
        for (int s = versions; s >= 1; s--)
            vec_add(v, key, strlen(key), (uint64_t)s, IKEY_VALUE, "v", 1);
    }
    v->pos = v->n;
    return v;
}

static const uint64_t every_version[] = {1, 2, 3};

/* Asserts that output f holds user keys key<lo>..key<hi>. */
static void expect_output_range(const struct merge_job *job, size_t f, int lo, int hi)
{
    char want[32];
    const struct table_meta *m = &job->outputs[f];
    snprintf(want, sizeof(want), "key%05d", lo);
    cr_expect(ikey_user_len(m->smallest_len) == strlen(want) &&
                  !memcmp(m->smallest, want, strlen(want)),
              "output %zu starts at %s, not %.*s", f, want, (int)ikey_user_len(m->smallest_len),
              (const char *)m->smallest);
    snprintf(want, sizeof(want), "key%05d", hi);
    cr_expect(ikey_user_len(m->largest_len) == strlen(want) &&
                  !memcmp(m->largest, want, strlen(want)),
              "output %zu ends at %s, not %.*s", f, want, (int)ikey_user_len(m->largest_len),
              (const char *)m->largest);
}

static void expect_user_keys_within_one_table(const struct merge_job *job)
{
    struct readback r = read_outputs(job);
    for (size_t i = 1; i < r.n; i++) {
        int same_user = !ikey_user_cmp(r.e[i - 1].ikey, ikey_user_len(r.e[i - 1].ilen), r.e[i].ikey,
                                       ikey_user_len(r.e[i].ilen));
        if (same_user)
            cr_expect_eq(r.file_of[i - 1], r.file_of[i], "versions of one key share a table");
    }
    readback_free(&r);
}

Test(merge, output_is_cut_once_its_grandparent_overlap_passes_the_limit)
{
    /* Each output passes the limit (250) on its third grandparent (300 bytes), so it is cut
     * before the first key beyond that grandparent. */
    struct vec_iter *v = numbered_keys(0, 100, 3);
    struct merge_job job;
    job_init(&job, &v->base, every_version, N(every_version), 0, 1 << 20);
    with_grandparents(&job, 250);
    cr_assert_eq(merge_job_run(&job), 0, "%s", lamina_errmsg(NULL));
    cr_assert_eq(job.noutputs, 4);
    expect_output_range(&job, 0, 0, 30);
    expect_output_range(&job, 1, 31, 60);
    expect_output_range(&job, 2, 61, 90);
    expect_output_range(&job, 3, 91, 99);
    expect_user_keys_within_one_table(&job);
    struct readback r = read_outputs(&job);
    cr_expect_eq(r.n, 300, "every version written once");
    readback_free(&r);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, grandparents_before_the_first_output_do_not_count)
{
    /* Keys from key00050: the grandparents ending at 10..40 lie before the first output. With
     * a limit of 300, an overlap of exactly 300 (at key00071) is allowed; 400 is not. */
    struct vec_iter *v = numbered_keys(50, 100, 2);
    struct merge_job job;
    job_init(&job, &v->base, every_version, N(every_version), 0, 1 << 20);
    with_grandparents(&job, 300);
    cr_assert_eq(merge_job_run(&job), 0);
    cr_assert_eq(job.noutputs, 2);
    expect_output_range(&job, 0, 50, 80);
    expect_output_range(&job, 1, 81, 99);
    expect_user_keys_within_one_table(&job);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, cut_by_overlap_never_splits_a_user_keys_versions)
{
    /* key00031, the first key past the third grandparent, has 40 versions: all of them open
     * the second output. */
    struct vec_iter *v = numbered_keys(0, 100, 1);
    for (uint64_t s = 2; s <= 40; s++)
        vec_add(v, "key00031", 8, s, IKEY_VALUE, "v", 1);
    qsort(v->e, v->n, sizeof(*v->e), ventry_cmp);
    uint64_t snaps[40];
    for (size_t i = 0; i < 40; i++)
        snaps[i] = i + 1;
    struct merge_job job;
    job_init(&job, &v->base, snaps, N(snaps), 0, 1 << 20);
    with_grandparents(&job, 250);
    cr_assert_eq(merge_job_run(&job), 0);
    cr_assert_eq(job.noutputs, 4);
    expect_output_range(&job, 0, 0, 30);
    expect_output_range(&job, 1, 31, 60);
    cr_expect_eq(ikey_seq(job.outputs[1].smallest, job.outputs[1].smallest_len), 40,
                 "the newest version of key00031 opens the second output");
    cr_expect_eq(job.outputs[1].entries, 30 + 39);
    expect_user_keys_within_one_table(&job);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, zero_grandparent_limit_cuts_nothing)
{
    struct vec_iter *v = numbered_keys(0, 100, 3);
    struct merge_job job;
    job_init(&job, &v->base, every_version, N(every_version), 0, 1 << 20);
    with_grandparents(&job, 0);
    cr_assert_eq(merge_job_run(&job), 0);
    cr_assert_eq(job.noutputs, 1);
    expect_output_range(&job, 0, 0, 99);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

/* ---- Cancellation ------------------------------------------------------------------------ */

static void expect_outputs_listed(const struct merge_job *job)
{
    cr_expect_eq(job->noutputs, (size_t)file_calls, "every file it created is listed");
    for (size_t f = 0; f < job->noutputs; f++) {
        char path[512];
        struct stat st;
        table_path(path, sizeof(path), job->outputs[f].file_number);
        cr_expect_eq(stat(path, &st), 0, "listed output %s is there to delete", path);
    }
}

Test(merge, cancel_raised_before_the_run_stops_it)
{
    struct vec_iter *v = numbered_keys(0, 100, 1);
    atomic_int cancel = 1;
    struct merge_job job;
    job_init(&job, &v->base, NULL, 0, 0, 1 << 20);
    job.cancel = &cancel;
    cr_expect_eq(merge_job_run(&job), MERGE_CANCELLED);
    expect_outputs_listed(&job);
    cr_expect_eq(job.bytes_written, 0);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

Test(merge, lowered_cancel_lets_the_run_finish)
{
    struct vec_iter *v = numbered_keys(0, 3000, 1);
    atomic_int cancel = 0;
    struct merge_job job;
    job_init(&job, &v->base, NULL, 0, 0, 1 << 20);
    job.cancel = &cancel;
    cr_assert_eq(merge_job_run(&job), 0);
    cr_expect_eq(job.noutputs, 1);
    merge_job_free(&job);
    iter_destroy(&v->base);
}

/* Wraps an iterator: moving onto entry gate_at announces it (reached) and waits until *open
 * is raised by another thread, so that a test knows where the run stands. */
struct gate_iter {
    iter base;
    iter *inner;
    size_t pos, gate_at;
    atomic_int reached;
    const atomic_int *open;
};

static int gate_wait(struct gate_iter *g, int rc)
{
    if (rc || g->pos != g->gate_at) return rc;
    atomic_store(&g->reached, 1);
    for (int i = 0; i < 10000 && !atomic_load(g->open); i++)
        usleep(1000);
    return 0;
}

static int gate_seek(iter *it, const uint8_t *k, size_t n)
{
    (void)it, (void)k, (void)n;
    return LAMINA_EINVAL;
}

static int gate_first(iter *it)
{
    struct gate_iter *g = (struct gate_iter *)it;
    g->pos = 0;
    return gate_wait(g, iter_seek_to_first(g->inner));
}

static int gate_last(iter *it)
{
    (void)it;
    return LAMINA_EINVAL;
}

static int gate_next(iter *it)
{
    struct gate_iter *g = (struct gate_iter *)it;
    g->pos++;
    return gate_wait(g, iter_next(g->inner));
}

static int gate_valid(const iter *it)
{
    return iter_valid(((const struct gate_iter *)it)->inner);
}

static const uint8_t *gate_key(const iter *it, size_t *n)
{
    return iter_key(((const struct gate_iter *)it)->inner, n);
}

static const uint8_t *gate_value(const iter *it, size_t *n)
{
    return iter_value(((const struct gate_iter *)it)->inner, n);
}

static int gate_status(const iter *it)
{
    return iter_status(((const struct gate_iter *)it)->inner);
}

static void gate_destroy(iter *it)
{
    struct gate_iter *g = (struct gate_iter *)it;
    iter_destroy(g->inner);
    free(g);
}

static const struct iter_ops gate_ops = {
    gate_seek,  gate_seek, gate_first, gate_last,   gate_next,    gate_last,
    gate_valid, gate_key,  gate_value, gate_status, gate_destroy,
};

static struct gate_iter *gate_create(iter *inner, size_t gate_at, const atomic_int *open)
{
    struct gate_iter *g = calloc(1, sizeof(*g));
    cr_assert_not_null(g);
    g->base.ops = &gate_ops;
    g->inner = inner;
    g->gate_at = gate_at;
    g->open = open;
    return g;
}

struct canceller {
    struct gate_iter *gate;
    atomic_int *cancel;
};

static void *cancel_at_gate(void *arg)
{
    struct canceller *c = arg;
    for (int i = 0; i < 10000 && !atomic_load(&c->gate->reached); i++)
        usleep(1000);
    atomic_store(c->cancel, 1);
    return NULL;
}

/* Runs job (input: a gate at entry 5000 of v) while another thread raises the cancel flag
 * once the run reaches the gate; expects the run to stop within a few thousand entries. */
static void run_cancelled_mid_way(struct merge_job *job, struct vec_iter *v, int drop)
{
    size_t total = v->n;
    atomic_int cancel = 0;
    struct gate_iter *g = gate_create(&v->base, 5000, &cancel);
    job_init(job, &g->base, NULL, 0, drop, 1 << 20);
    job->cancel = &cancel;
    struct canceller c = {g, &cancel};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, cancel_at_gate, &c), 0);
    int rc = merge_job_run(job);
    pthread_join(th, NULL);
    cr_expect_eq(atomic_load(&g->reached), 1);
    cr_expect_eq(rc, MERGE_CANCELLED);
    cr_expect_lt(g->pos, (size_t)5000 + 2048, "stopped at entry %zu of %zu", g->pos, total);
    expect_outputs_listed(job);
    iter_destroy(&g->base);
}

Test(merge, cancel_from_another_thread_stops_a_large_run_early)
{
    struct vec_iter *v = numbered_keys(0, 20000, 1);
    struct merge_job job;
    run_cancelled_mid_way(&job, v, 0);
    cr_expect_eq(job.noutputs, 1, "the table it began is listed for deletion");
    cr_expect_lt(job.bytes_read, (uint64_t)20000 * (8 + IKEY_TRAILER + 1));
    merge_job_free(&job);
}

Test(merge, cancel_is_seen_while_every_entry_is_dropped)
{
    /* Deletions at the last level: nothing is written, but the run still stops. */
    struct vec_iter *v = calloc(1, sizeof(*v));
    cr_assert_not_null(v);
    v->base.ops = &vec_ops;
    v->fail_at = SIZE_MAX;
    char key[32];
    for (int k = 0; k < 20000; k++) {
        snprintf(key, sizeof(key), "key%05d", k);
        vec_add(v, key, strlen(key), 1, IKEY_DELETION, "", 0);
    }
    v->pos = v->n;
    struct merge_job job;
    run_cancelled_mid_way(&job, v, 1);
    cr_expect_eq(job.noutputs, 0);
    merge_job_free(&job);
}
