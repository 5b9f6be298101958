/* test_fetch.c — the block-fetch path (sst/fetch.h): a batch over several real tables returns
 * what block_read returns, serves cached blocks from the cache, reads duplicates once, fills
 * the cache when asked, and fails only the requests whose block is damaged or whose handle
 * is out of bounds; read-ahead over a whole table returns the same blocks, grows its window on
 * sequential access and resets it on a jump. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "lamina.h"
#include "sst/fetch.h"
#include "sst/index.h"
#include "util/err.h"
#include "util/rng.h"

static char *g_dir;
static struct model g_model;

static void setup(void)
{
    g_dir = tmpdir_create();
    model_build(&g_model, 3000, 77);
}

static void teardown(void)
{
    model_free(&g_model);
    tmpdir_remove(g_dir);
}

TestSuite(fetch, .init = setup, .fini = teardown, .timeout = 300);

/* One table on disk, open for block reads, with the handles of its data blocks in order. */
struct tbl {
    char path[4096];
    rfile *f;
    struct block_source src;
    struct block_handle *blocks;
    size_t nblocks;
};

/* Writes the model as table number with compression and block size, and lists its data
 * blocks through its index. */
static void tbl_make(struct tbl *t, uint64_t number, int compression, size_t block_size)
{
    snprintf(t->path, sizeof(t->path), "%s/%06llu.sst", g_dir, (unsigned long long)number);
    struct table_options o = test_table_options(block_size, compression, 10);
    struct table_meta meta;
    model_write_table(&g_model, t->path, number, &o, &meta);
    table_meta_free(&meta);
    size_t len;
    uint8_t *p = file_slurp(t->path, &len);
    struct table_footer ft;
    cr_assert_eq(table_footer_decode(p + len - TABLE_FOOTER_SIZE, t->path, &ft), 0);
    free(p);
    cr_assert_eq(rfile_open(t->path, &t->f), 0);
    t->src = (struct block_source){t->f, t->path, number, len - TABLE_FOOTER_SIZE};
    struct index_reader r;
    cr_assert_eq(index_open(&r, &t->src, NULL, &ft, 0), 0, "%s", err_message());
    struct index_cursor c;
    index_cursor_init(&c, &r, 0);
    size_t cap = 64;
    t->blocks = malloc(cap * sizeof(*t->blocks));
    t->nblocks = 0;
    cr_assert_eq(index_cursor_seek_to_first(&c), 0);
    while (c.valid) {
        if (t->nblocks == cap) t->blocks = realloc(t->blocks, (cap *= 2) * sizeof(*t->blocks));
        t->blocks[t->nblocks++] = index_cursor_handle(&c);
        cr_assert_eq(index_cursor_next(&c), 0);
    }
    index_cursor_release(&c);
    index_close(&r);
    cr_assert_gt(t->nblocks, 20, "enough blocks to batch and read ahead over");
}

static void tbl_free(struct tbl *t)
{
    rfile_close(t->f);
    free(t->blocks);
}

/* Asserts that b holds what block_read returns for h of src. */
static void expect_block(const struct block_source *src, struct block_handle h,
                         const struct cache_block *b)
{
    struct cache_block *want;
    cr_assert_eq(block_read(src, h, 1, &want), 0, "%s", err_message());
    cr_assert_not_null(b);
    cr_assert_eq(b->size, want->size, "block at %llu", (unsigned long long)h.offset);
    cr_assert_eq(memcmp(b->data, want->data, b->size), 0, "block at %llu",
                 (unsigned long long)h.offset);
    cache_block_release(want);
}

static uint64_t reads_of(const rfile *f)
{
    uint64_t reads, bytes;
    rfile_io_stats(f, &reads, &bytes);
    return reads;
}

static struct block_fetch fetch_req(const struct block_source *src, struct block_handle h,
                                    int verify, int fill)
{
    return (struct block_fetch){.src = src, .h = h, .verify = verify, .fill = fill};
}

static void release_all(struct block_fetch *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cache_block_release(reqs[i].block);
}

enum { TABLES = 3 };

static void fetch_batch_across_tables(int force_pread)
{
    file_force_pread(force_pread);
    struct tbl t[TABLES];
    tbl_make(&t[0], 11, LAMINA_COMPRESSION_NONE, 512);
    tbl_make(&t[1], 12, LAMINA_COMPRESSION_ZSTD, 512);
    tbl_make(&t[2], 13, LAMINA_COMPRESSION_ZSTD, 2048);
    block_cache *cache = block_cache_create(64u << 20, 4);

    /* Every third block of each table is cached beforehand. */
    for (int k = 0; k < TABLES; k++) {
        for (size_t i = 0; i < t[k].nblocks; i += 3) {
            struct cache_block *b;
            cr_assert_eq(block_read(&t[k].src, t[k].blocks[i], 1, &b), 0);
            block_cache_insert(cache, t[k].src.file_number, t[k].blocks[i].offset, b);
            cache_block_release(b);
        }
    }
    /* Every block of every table, interleaved, plus a duplicate of every fifth request. */
    size_t total = 0;
    for (int k = 0; k < TABLES; k++)
        total += t[k].nblocks;
    size_t n = total + total / 5;
    struct block_fetch *reqs = calloc(n, sizeof(*reqs));
    size_t m = 0, next[TABLES] = {0};
    while (m < total) {
        for (int k = 0; k < TABLES; k++) {
            if (next[k] == t[k].nblocks) continue;
            reqs[m++] = fetch_req(&t[k].src, t[k].blocks[next[k]++], 1, 1);
        }
    }
    for (size_t i = 0; m < n; i += 5)
        reqs[m++] = reqs[i];
    uint64_t reads0[TABLES];
    for (int k = 0; k < TABLES; k++)
        reads0[k] = reads_of(t[k].f);

    cr_assert_eq(block_fetch_batch(cache, reqs, n), 0, "%s", err_message());
    /* One read per block missing from the cache: duplicates were read once. */
    for (int k = 0; k < TABLES; k++)
        cr_assert_eq(reads_of(t[k].f) - reads0[k], t[k].nblocks - (t[k].nblocks + 2) / 3,
                     "table %d", k);
    for (size_t i = 0; i < n; i++) {
        struct block_fetch *r = &reqs[i];
        cr_assert_eq(r->rc, 0);
        const struct tbl *tk = &t[r->src->file_number - 11];
        size_t idx = 0;
        while (tk->blocks[idx].offset != r->h.offset)
            idx++;
        cr_assert_eq(r->from_cache, idx % 3 == 0, "request %zu (block %zu)", i, idx);
        expect_block(r->src, r->h, r->block);
    }
    release_all(reqs, n);

    /* The batch filled the cache: the same batch again is all hits, with no read. */
    for (int k = 0; k < TABLES; k++)
        reads0[k] = reads_of(t[k].f);
    cr_assert_eq(block_fetch_batch(cache, reqs, n), 0);
    for (int k = 0; k < TABLES; k++)
        cr_assert_eq(reads_of(t[k].f), reads0[k]);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(reqs[i].from_cache, 1, "request %zu", i);
        expect_block(reqs[i].src, reqs[i].h, reqs[i].block);
    }
    release_all(reqs, n);
    free(reqs);
    block_cache_destroy(cache);
    for (int k = 0; k < TABLES; k++)
        tbl_free(&t[k]);
    file_force_pread(0);
}

Test(fetch, batch_across_tables_matches_block_read_with_probed_backend)
{
    fetch_batch_across_tables(0);
}

Test(fetch, batch_across_tables_matches_block_read_with_pread_forced)
{
    fetch_batch_across_tables(1);
}

/* Without fill the cache is left alone; without a cache every request reads. */
Test(fetch, batch_without_fill_or_cache_leaves_the_cache_alone)
{
    struct tbl t;
    tbl_make(&t, 21, LAMINA_COMPRESSION_ZSTD, 512);
    block_cache *cache = block_cache_create(16u << 20, 2);
    struct block_fetch reqs[8];
    for (int i = 0; i < 8; i++)
        reqs[i] = fetch_req(&t.src, t.blocks[i], 1, 0);
    cr_assert_eq(block_fetch_batch(cache, reqs, 8), 0);
    release_all(reqs, 8);
    for (int i = 0; i < 8; i++)
        cr_assert_null(block_cache_lookup(cache, 21, t.blocks[i].offset));
    uint64_t r0 = reads_of(t.f);
    cr_assert_eq(block_fetch_batch(NULL, reqs, 8), 0);
    cr_assert_eq(reads_of(t.f) - r0, 8);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(reqs[i].from_cache, 0);
        expect_block(&t.src, t.blocks[i], reqs[i].block);
    }
    release_all(reqs, 8);
    cr_assert_eq(block_fetch_batch(cache, NULL, 0), 0);
    block_cache_destroy(cache);
    tbl_free(&t);
}

/* A table copied to bad with one byte of data block idx flipped, open for block reads. */
static void tbl_damaged(struct tbl *bad, const struct tbl *good, size_t idx)
{
    *bad = *good;
    int n = snprintf(bad->path, sizeof(bad->path), "%s.bad", good->path);
    cr_assert_lt((size_t)n, sizeof(bad->path));
    size_t len;
    uint8_t *p = file_slurp(good->path, &len);
    p[good->blocks[idx].offset + good->blocks[idx].size / 2] ^= 0x10;
    file_spit(bad->path, p, len);
    free(p);
    cr_assert_eq(rfile_open(bad->path, &bad->f), 0);
    bad->src.f = bad->f;
    bad->src.path = bad->path;
    bad->blocks = NULL;
}

Test(fetch, damaged_block_fails_only_its_request)
{
    struct tbl t, bad;
    tbl_make(&t, 31, LAMINA_COMPRESSION_NONE, 512);
    tbl_damaged(&bad, &t, 4);
    enum { N = 12 };
    struct block_fetch reqs[N];
    for (int verify = 0; verify < 2; verify++) {
        for (int i = 0; i < N; i++)
            reqs[i] = fetch_req(&bad.src, t.blocks[i], verify, 0);
        /* A handle past the table's blocks fails alone, at any verify. */
        reqs[N - 1].h = (struct block_handle){bad.src.limit - 3, 10};
        cr_assert_eq(block_fetch_batch(NULL, reqs, N), LAMINA_ECORRUPT);
        for (int i = 0; i < N; i++) {
            int want = i == N - 1 || (verify && i == 4) ? LAMINA_ECORRUPT : 0;
            cr_assert_eq(reqs[i].rc, want, "verify %d, request %d: %d", verify, i, reqs[i].rc);
            if (want) {
                cr_assert_null(reqs[i].block);
                continue;
            }
            if (i == 4) {
                /* Unverified, the damaged bytes come back as they are on disk. */
                struct cache_block *good;
                cr_assert_eq(block_read(&t.src, t.blocks[4], 1, &good), 0);
                cr_assert_neq(memcmp(good->data, reqs[i].block->data, good->size), 0);
                cache_block_release(good);
            } else {
                expect_block(&t.src, t.blocks[i], reqs[i].block);
            }
        }
        release_all(reqs, N);
    }
    /* The damaged block's message names the file and its offset. */
    struct block_fetch one = fetch_req(&bad.src, t.blocks[4], 1, 0);
    cr_assert_eq(block_fetch_batch(NULL, &one, 1), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(err_message(), bad.path), "%s", err_message());
    cr_assert_not_null(strstr(err_message(), "checksum"), "%s", err_message());
    rfile_close(bad.f);
    tbl_free(&t);
}

Test(fetch, damaged_zstd_block_fails_even_unverified)
{
    struct tbl t, bad;
    tbl_make(&t, 32, LAMINA_COMPRESSION_ZSTD, 4096);
    tbl_damaged(&bad, &t, 2);
    struct block_fetch reqs[4];
    for (int i = 0; i < 4; i++)
        reqs[i] = fetch_req(&bad.src, t.blocks[i], 1, 0);
    cr_assert_eq(block_fetch_batch(NULL, reqs, 4), LAMINA_ECORRUPT);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(reqs[i].rc, i == 2 ? LAMINA_ECORRUPT : 0);
    release_all(reqs, 4);
    rfile_close(bad.f);
    tbl_free(&t);
}

/* ---- Read-ahead ---------------------------------------------------------------------------- */

/* Reads every block of t in order through ra, checking each against block_read, and returns
 * the largest window seen. */
static size_t readahead_scan(struct readahead *ra, const struct tbl *t, size_t from, size_t to)
{
    size_t widest = readahead_window(ra);
    size_t last = widest;
    for (size_t i = from; i < to; i++) {
        struct cache_block *b;
        cr_assert_eq(readahead_block(ra, &t->src, t->blocks[i], 1, &b), 0, "%s", err_message());
        expect_block(&t->src, t->blocks[i], b);
        cache_block_release(b);
        size_t w = readahead_window(ra);
        cr_assert_geq(w, last, "the window only grows on a sequential scan");
        last = w;
        if (w > widest) widest = w;
    }
    return widest;
}

static void readahead_whole_table(int compression)
{
    struct tbl t;
    tbl_make(&t, 41, compression, 1024);
    struct readahead ra;
    readahead_init(&ra, 8192, 128 * 1024);
    cr_assert_eq(readahead_window(&ra), 8192);
    uint64_t r0 = reads_of(t.f);
    size_t widest = readahead_scan(&ra, &t, 0, t.nblocks);
    cr_assert_eq(widest, 128 * 1024, "the window doubled up to max");
    cr_assert_eq(ra.blocks, t.nblocks);
    cr_assert_lt(ra.refills, t.nblocks / 4, "%llu refills for %zu blocks",
                 (unsigned long long)ra.refills, t.nblocks);
    /* Reads: the refills' chunks, plus the block_read of every check. */
    uint64_t reads = reads_of(t.f) - r0 - t.nblocks;
    cr_assert_geq(reads, ra.refills);
    cr_assert_lt(reads, t.nblocks / 2);
    readahead_free(&ra);
    tbl_free(&t);
}

Test(fetch, readahead_over_a_table_returns_the_blocks_of_block_read)
{
    readahead_whole_table(LAMINA_COMPRESSION_NONE);
    readahead_whole_table(LAMINA_COMPRESSION_ZSTD);
}

Test(fetch, readahead_jump_resets_the_window)
{
    struct tbl t;
    tbl_make(&t, 42, LAMINA_COMPRESSION_NONE, 512);
    cr_assert_gt(t.nblocks, 100);
    struct readahead ra;
    readahead_init(&ra, 4096, 16 * 1024);
    readahead_scan(&ra, &t, 0, 30);
    cr_assert_gt(readahead_window(&ra), 4096);
    /* Back inside the buffer: no read, no reset. */
    size_t w = readahead_window(&ra);
    uint64_t r0 = reads_of(t.f), refills = ra.refills;
    struct cache_block *b;
    cr_assert_eq(readahead_block(&ra, &t.src, t.blocks[29], 1, &b), 0);
    cr_assert_eq(reads_of(t.f), r0, "served from the buffer");
    cr_assert_eq(readahead_window(&ra), w);
    cache_block_release(b);
    /* A jump ahead past the buffer and its window: one read of just the block, and the
     * window back to initial. */
    size_t j = 30;
    while (j < t.nblocks && t.blocks[j].offset <= ra.buf_off + ra.buf_len + readahead_window(&ra))
        j++;
    cr_assert_lt(j + 10, t.nblocks);
    r0 = reads_of(t.f);
    cr_assert_eq(readahead_block(&ra, &t.src, t.blocks[j], 1, &b), 0);
    cr_assert_eq(reads_of(t.f) - r0, 1, "the block alone");
    expect_block(&t.src, t.blocks[j], b);
    cache_block_release(b);
    cr_assert_eq(readahead_window(&ra), 4096);
    cr_assert_eq(ra.refills, refills);
    /* Sequential again from there: refills resume and the window grows again. */
    readahead_scan(&ra, &t, j + 1, t.nblocks);
    cr_assert_gt(ra.refills, refills);
    cr_assert_gt(readahead_window(&ra), 4096);
    readahead_free(&ra);
    tbl_free(&t);
}

/* A compaction's read-ahead starts at max; a window smaller than a block reads it alone and
 * grows; a window that would pass the table's blocks is clipped to them. */
Test(fetch, readahead_window_bounds)
{
    struct tbl t;
    tbl_make(&t, 43, LAMINA_COMPRESSION_NONE, 4096);
    struct readahead ra;
    readahead_init(&ra, 1 << 20, 1 << 20);
    uint64_t r0 = reads_of(t.f);
    struct cache_block *b;
    cr_assert_eq(readahead_block(&ra, &t.src, t.blocks[0], 1, &b), 0);
    cache_block_release(b);
    cr_assert_eq(ra.refills, 1);
    cr_assert_eq(ra.buf_len, t.src.limit, "the whole table, clipped to its blocks");
    cr_assert_eq(reads_of(t.f) - r0, (t.src.limit + READAHEAD_CHUNK - 1) / READAHEAD_CHUNK,
                 "read as 64 KiB chunks");
    readahead_scan(&ra, &t, 1, t.nblocks);
    cr_assert_eq(ra.refills, 1);
    readahead_free(&ra);

    readahead_init(&ra, 512, 64 * 1024);
    cr_assert_eq(readahead_block(&ra, &t.src, t.blocks[0], 1, &b), 0);
    cache_block_release(b);
    cr_assert_eq(ra.refills, 0, "a block larger than the window is read alone");
    cr_assert_eq(readahead_window(&ra), 1024);
    readahead_scan(&ra, &t, 1, t.nblocks);
    cr_assert_gt(ra.refills, 0, "the window grew past the block size");
    readahead_free(&ra);

    readahead_init(&ra, 8192, 0);
    readahead_scan(&ra, &t, 0, 5);
    cr_assert_eq(ra.refills, 0, "max 0: no read-ahead");
    readahead_free(&ra);
    tbl_free(&t);
}
