/* tsan_fetch.c — the block-fetch path under concurrency, as a plain program for builds with
 * -Db_sanitize=thread (Criterion cannot start there): four threads share four tables (one
 * opened RFILE_DIRECT, one RFILE_NO_URING) and a block cache small enough to evict, each
 * running batches with duplicates (block_fetch_batch), read-ahead scans and raw batches
 * across the files (file_read_multi), checking every block against a reference read first. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lamina.h"
#include "sst/fetch.h"
#include "sst/index.h"
#include "sst/table.h"
#include "util/err.h"
#include "util/file.h"
#include "util/rng.h"

#include "tsan_tables.h"

#define TABLES 4
#define KEYS 3000
#define THREADS 4

struct tbl {
    char path[128];
    rfile *f;
    struct block_source src;
    struct block_handle *h;
    struct cache_block **want; /* each block as block_read returns it */
    size_t n;
};

static char g_dir[64];
static struct tbl g_t[TABLES];
static block_cache *g_cache;
static atomic_int g_failures;

static void fail(const char *what, int thread)
{
    fprintf(stderr, "FAIL: %s (thread %d): %s\n", what, thread, err_message());
    atomic_fetch_add(&g_failures, 1);
}

static size_t key_of(char *dst, uint64_t number, int i)
{
    return (size_t)sprintf(dst, "key/%05d", i);
}

static size_t value_of(char *dst, uint64_t number, int i)
{
    return (size_t)sprintf(dst, "value %d of table %llu", i, (unsigned long long)number);
}

/* Opens table k (flags per table) and reads its data blocks' handles and contents. */
static int open_table(int k)
{
    struct tbl *t = &g_t[k];
    uint64_t number = (uint64_t)k + 1;
    snprintf(t->path, sizeof(t->path), "%s/%06llu.sst", g_dir, (unsigned long long)number);
    struct table_options o = {256, 16, number % 2 ? LAMINA_COMPRESSION_ZSTD : 0, 1, 10, 0, 0};
    if (tsan_write_table(t->path, number, &o, KEYS, 1, key_of, value_of)) return -1;
    int flags = k == 0 ? RFILE_DIRECT : k == 1 ? RFILE_NO_URING : 0;
    if (rfile_open_ex(t->path, flags, &t->f)) return -1;
    uint64_t size = rfile_size(t->f);
    uint8_t footer[TABLE_FOOTER_SIZE];
    struct table_footer ft;
    if (rfile_read(t->f, size - TABLE_FOOTER_SIZE, footer, sizeof(footer)) ||
        table_footer_decode(footer, t->path, &ft))
        return -1;
    t->src = (struct block_source){t->f, t->path, number, size - TABLE_FOOTER_SIZE};
    struct index_reader r;
    if (index_open(&r, &t->src, NULL, &ft, 0)) return -1;
    struct index_cursor c;
    index_cursor_init(&c, &r, 0);
    size_t cap = 0;
    int rc = index_cursor_seek_to_first(&c);
    while (rc == 0 && c.valid) {
        if (t->n == cap) {
            cap = cap ? cap * 2 : 64;
            t->h = realloc(t->h, cap * sizeof(*t->h));
            t->want = realloc(t->want, cap * sizeof(*t->want));
        }
        t->h[t->n] = index_cursor_handle(&c);
        rc = block_read(&t->src, t->h[t->n], 1, &t->want[t->n]);
        if (rc == 0) t->n++;
        if (rc == 0) rc = index_cursor_next(&c);
    }
    index_cursor_release(&c);
    index_close(&r);
    return rc;
}

static int same(const struct cache_block *a, const struct cache_block *b)
{
    return a && b && a->size == b->size && memcmp(a->data, b->data, a->size) == 0;
}

enum { BATCH = 48 };

static void run_batches(rng *g, int id)
{
    struct block_fetch reqs[BATCH];
    const struct cache_block *want[BATCH];
    for (int round = 0; round < 60; round++) {
        for (int i = 0; i < BATCH; i++) {
            int k = (int)rng_uniform(g, TABLES);
            size_t b = rng_uniform(g, g_t[k].n);
            if (i > 0 && i % 6 == 0) { /* a duplicate of an earlier request */
                reqs[i] = reqs[i - 3];
                want[i] = want[i - 3];
                continue;
            }
            reqs[i] = (struct block_fetch){
                .src = &g_t[k].src, .h = g_t[k].h[b], .verify = 1, .fill = (int)(b % 2)};
            want[i] = g_t[k].want[b];
        }
        if (block_fetch_batch(g_cache, reqs, BATCH)) fail("block_fetch_batch", id);
        for (int i = 0; i < BATCH; i++) {
            if (!same(reqs[i].block, want[i])) fail("batch block differs", id);
            cache_block_release(reqs[i].block);
        }
    }
}

static void run_readahead(int id)
{
    for (int k = 0; k < TABLES; k++) {
        struct readahead ra;
        readahead_init(&ra, 1024, 16 * 1024);
        for (size_t i = 0; i < g_t[k].n; i++) {
            struct cache_block *b;
            if (readahead_block(&ra, &g_t[k].src, g_t[k].h[i], 1, &b)) {
                fail("readahead_block", id);
                break;
            }
            if (!same(b, g_t[k].want[i])) fail("read-ahead block differs", id);
            cache_block_release(b);
        }
        readahead_free(&ra);
    }
}

/* Raw batches over the stored blocks (contents + trailer) of every table. */
static void run_raw(rng *g, int id)
{
    enum { N = 200 };
    struct file_read reqs[N];
    static _Thread_local uint8_t bufs[N][64];
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < N; i++) {
            int k = (int)rng_uniform(g, TABLES);
            uint64_t off = rng_uniform(g, g_t[k].src.limit - 64);
            reqs[i] = (struct file_read){g_t[k].f, off, 64, bufs[i], 0};
        }
        if (file_read_multi(reqs, N)) fail("file_read_multi", id);
        for (int i = 0; i < N; i++) {
            uint8_t one[64];
            if (rfile_read(reqs[i].f, reqs[i].offset, one, 64) || memcmp(one, bufs[i], 64))
                fail("raw batch differs", id);
        }
    }
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    rng g;
    rng_seed(&g, 1000 + (uint64_t)id);
    run_batches(&g, id);
    run_readahead(id);
    run_raw(&g, id);
    return NULL;
}

int main(void)
{
    snprintf(g_dir, sizeof(g_dir), "/var/tmp/lamina-tsan-fetch-XXXXXX");
    if (!mkdtemp(g_dir)) return 2;
    int rc = 0;
    for (int k = 0; k < TABLES && rc == 0; k++) {
        if (open_table(k)) {
            fprintf(stderr, "cannot set up table %d: %s\n", k, err_message());
            rc = 2;
        }
    }
    if (rc == 0) {
        g_cache = block_cache_create(32 << 10, 4);
        pthread_t th[THREADS];
        for (int i = 0; i < THREADS; i++)
            pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
        for (int i = 0; i < THREADS; i++)
            pthread_join(th[i], NULL);
        block_cache_destroy(g_cache);
        rc = atomic_load(&g_failures) ? 1 : 0;
        printf("%s: %d failures (table 0 direct: %d)\n", rc ? "FAIL" : "OK",
               atomic_load(&g_failures), g_t[0].f ? rfile_is_direct(g_t[0].f) : -1);
    }
    for (int k = 0; k < TABLES; k++) {
        for (size_t i = 0; i < g_t[k].n; i++)
            cache_block_release(g_t[k].want[i]);
        free(g_t[k].h);
        free(g_t[k].want);
        if (g_t[k].f) rfile_close(g_t[k].f);
        file_remove(g_t[k].path);
    }
    dir_remove(g_dir);
    return rc;
}
