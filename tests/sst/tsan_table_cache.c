/* tsan_table_cache.c — the table cache's concurrency scenario as a plain program, for builds
 * with -Db_sanitize=thread, where Criterion cannot start (Snaipe/Criterion issue 274): four
 * readers over ten tables through a cache of two readers and a small block cache (meta blocks
 * evicted and reloaded, some readers pinning them), a fifth thread evicting tables in use, and
 * eight threads missing the same table at once. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lamina.h"
#include "sst/table.h"
#include "util/err.h"
#include "util/file.h"
#include "util/ikey.h"
#include "util/rng.h"

#include "tsan_tables.h"

#define TABLES 10
#define KEYS 400 /* per table; the even ones are present */

static char g_dir[64];
static atomic_int g_failures;
static atomic_int g_stop;

static void fail(const char *what, uint64_t file, int i)
{
    fprintf(stderr, "FAIL: %s (table %llu, key %d): %s\n", what, (unsigned long long)file, i,
            err_message());
    atomic_fetch_add(&g_failures, 1);
}

static size_t user_key(char *dst, uint64_t file, int i)
{
    return (size_t)sprintf(dst, "key/%03llu/%05d", (unsigned long long)file, i);
}

static size_t value_of(char *dst, uint64_t file, int i)
{
    return (size_t)sprintf(dst, "value of %d in table %llu", i, (unsigned long long)file);
}

static int write_table(uint64_t file)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%06llu.sst", g_dir, (unsigned long long)file);
    struct table_options o = {256, 16, LAMINA_COMPRESSION_NONE, 1, 10, 0, 0};
    return tsan_write_table(path, file, &o, KEYS, 2, user_key, value_of);
}

/* Checks key i of table file through t. */
static void check(table *t, uint64_t file, int i)
{
    char uk[64], want[64];
    uint8_t k[80];
    size_t ulen = user_key(uk, file, i);
    ikey_encode(k, uk, ulen, IKEY_MAX_SEQ, IKEY_VALUE);
    buf v = {0};
    int type = -1;
    int rc = table_get(t, NULL, k, ulen + IKEY_TRAILER, table_key_hash(k, ulen), &type, &v);
    if (i % 2) {
        if (rc != LAMINA_NOTFOUND) fail("absent key answered", file, i);
    } else {
        size_t wlen = value_of(want, file, i);
        if (rc != 0 || type != IKEY_VALUE || v.len != wlen || memcmp(v.data, want, wlen) != 0)
            fail("present key answered wrong", file, i);
    }
    buf_free(&v);
}

struct reader_arg {
    table_cache *tc;
    int seed;
};

static void *reader(void *p)
{
    struct reader_arg *a = p;
    rng r;
    rng_seed(&r, (uint64_t)a->seed);
    for (int q = 0; q < 3000; q++) {
        uint64_t f = 1 + rng_uniform(&r, TABLES);
        table *t;
        if (table_cache_get(a->tc, f, f % 3 == 0, &t) != 0) {
            fail("table_cache_get", f, -1);
            continue;
        }
        check(t, f, (int)rng_uniform(&r, KEYS));
        if (q % 100 == 0) {
            iter *it = table_iter_create(t, NULL);
            int n = 0;
            for (iter_seek_to_first(it); iter_valid(it); iter_next(it))
                n++;
            if (n != KEYS / 2 || iter_status(it)) fail("scan", f, n);
            iter_destroy(it);
        }
        table_unref(t);
    }
    return NULL;
}

static void *evicter(void *p)
{
    table_cache *tc = p;
    rng r;
    rng_seed(&r, 99);
    while (!atomic_load(&g_stop))
        table_cache_evict(tc, 1 + rng_uniform(&r, TABLES));
    return NULL;
}

struct same_arg {
    table_cache *tc;
    pthread_barrier_t *start;
    table *got;
};

static void *get_same(void *p)
{
    struct same_arg *s = p;
    pthread_barrier_wait(s->start);
    if (table_cache_get(s->tc, 4, 0, &s->got) != 0) s->got = NULL;
    return NULL;
}

int main(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/lamina-tsan-sst-XXXXXX");
    if (!mkdtemp(g_dir)) return 2;
    for (uint64_t f = 1; f <= TABLES; f++)
        if (write_table(f)) {
            fprintf(stderr, "cannot write table %llu: %s\n", (unsigned long long)f, err_message());
            return 2;
        }

    block_cache *bc = block_cache_create(64 << 10, 4);
    table_cache *tc = table_cache_create(g_dir, 2, bc, 0);
    pthread_t th[5];
    struct reader_arg ra[4];
    for (int i = 0; i < 4; i++) {
        ra[i] = (struct reader_arg){tc, i + 1};
        pthread_create(&th[i], NULL, reader, &ra[i]);
    }
    pthread_create(&th[4], NULL, evicter, tc);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    atomic_store(&g_stop, 1);
    pthread_join(th[4], NULL);
    table_cache_destroy(tc);

    for (int round = 0; round < 20; round++) {
        tc = table_cache_create(g_dir, 10, bc, 0);
        enum { T = 8 };
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, T);
        pthread_t st[T];
        struct same_arg sa[T];
        for (int i = 0; i < T; i++) {
            sa[i] = (struct same_arg){tc, &start, NULL};
            pthread_create(&st[i], NULL, get_same, &sa[i]);
        }
        for (int i = 0; i < T; i++)
            pthread_join(st[i], NULL);
        for (int i = 0; i < T; i++) {
            if (!sa[i].got || sa[i].got != sa[0].got) fail("shared open", 4, i);
            table_unref(sa[i].got);
        }
        uint64_t opens;
        table_cache_stats(tc, NULL, NULL, &opens, NULL);
        if (opens != 1) fail("one open for concurrent misses", 4, (int)opens);
        pthread_barrier_destroy(&start);
        table_cache_destroy(tc);
    }
    block_cache_destroy(bc);

    char **names;
    size_t n;
    if (dir_list(g_dir, &names, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            char path[128];
            snprintf(path, sizeof(path), "%s/%s", g_dir, names[i]);
            file_remove(path);
        }
        dir_list_free(names, n);
    }
    dir_remove(g_dir);
    int failures = atomic_load(&g_failures);
    printf("table cache concurrency: %d failed checks\n", failures);
    return failures == 0 ? 0 : 1;
}
