/* fetch.c — reading stored blocks (docs/format.md, Part 2: contents | compression byte | fixed32
 * checksum32 seeded with file number and offset) one at a time, in batches across tables, and
 * by sequential read-ahead; see sst/fetch.h. Decoding is one function for all three, so every
 * path makes the same checks. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "lamina.h"
#include "sst/fetch.h"
#include "util/err.h"
#include "util/hash.h"

/* ---- Decoding ------------------------------------------------------------------------- */

/* One decompression context per thread: a read takes it without a lock, and the memory grows
 * with the threads that read, not with the tables open. The key's destructor frees it when the
 * thread exits; the thread-local pointer spares the key lookup on every read. */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static int dctx_key_ok;
static _Thread_local ZSTD_DCtx *dctx_mine;

static void dctx_destroy(void *d)
{
    ZSTD_freeDCtx(d);
}

static void dctx_key_create(void)
{
    dctx_key_ok = pthread_key_create(&dctx_key, dctx_destroy) == 0;
}

/* The calling thread's context, created on first use; NULL on allocation failure. */
static ZSTD_DCtx *dctx_get(void)
{
    if (dctx_mine) return dctx_mine;
    pthread_once(&dctx_once, dctx_key_create);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) return NULL;
    if (!dctx_key_ok || pthread_setspecific(dctx_key, d) != 0) {
        ZSTD_freeDCtx(d);
        return NULL;
    }
    dctx_mine = d;
    return d;
}

static int block_corrupt(const struct block_source *src, struct block_handle h, const char *what)
{
    return err_set(LAMINA_ECORRUPT, "%s: block at offset %llu (%llu bytes): %s", src->path,
                   (unsigned long long)h.offset, (unsigned long long)h.size, what);
}

int block_check_handle(const struct block_source *src, struct block_handle h)
{
    if (h.size > BLOCK_MAX_CONTENTS || h.offset > src->limit ||
        h.size + BLOCK_TRAILER_SIZE > src->limit - h.offset)
        return block_corrupt(src, h, "handle points outside the table's blocks");
    return 0;
}

/* block_decode of stored; raw, when not NULL, is the cache_block holding stored, which this
 * consumes: an uncompressed block keeps it as its result instead of a copy. */
static int block_decode_from(const struct block_source *src, struct block_handle h,
                             const uint8_t *stored, struct cache_block *raw, int verify,
                             struct cache_block **out)
{
    *out = NULL;
    size_t n = (size_t)h.size;
    uint8_t type = stored[n];
    int rc = 0;
    struct cache_block *b = NULL;
    if (verify) {
        uint32_t want = coding_get_fixed32(stored + n + 1);
        uint32_t got = checksum32(stored, n + 1, checksum_block_seed(src->file_number, h.offset));
        if (want != got) {
            rc = block_corrupt(src, h, "checksum mismatch");
            goto out;
        }
    }
    if (type == BLOCK_TYPE_NONE) {
        if (raw) {
            b = raw;
            raw = NULL;
        } else if ((b = cache_block_alloc(n)) != NULL) {
            memcpy(b->data, stored, n);
        } else {
            rc = err_set(LAMINA_ENOMEM, "%s: out of memory reading a block", src->path);
            goto out;
        }
        b->size = n;
        *out = b;
        goto out;
    }
    if (type != BLOCK_TYPE_ZSTD) {
        rc = block_corrupt(src, h, "unknown compression type");
        goto out;
    }
    unsigned long long usize = ZSTD_getFrameContentSize(stored, n);
    if (usize == ZSTD_CONTENTSIZE_UNKNOWN || usize == ZSTD_CONTENTSIZE_ERROR ||
        usize > BLOCK_MAX_CONTENTS) {
        rc = block_corrupt(src, h, "bad zstd frame header");
        goto out;
    }
    b = cache_block_alloc((size_t)usize);
    ZSTD_DCtx *d = b ? dctx_get() : NULL;
    if (!d) {
        cache_block_release(b);
        rc = err_set(LAMINA_ENOMEM, "%s: out of memory decompressing a block", src->path);
        goto out;
    }
    size_t got = ZSTD_decompressDCtx(d, b->data, (size_t)usize, stored, n);
    if (ZSTD_isError(got) || got != usize) {
        cache_block_release(b);
        rc = block_corrupt(src, h, "zstd decompression failed");
        goto out;
    }
    b->size = (size_t)usize;
    *out = b;
out:
    cache_block_release(raw);
    return rc;
}

int block_decode(const struct block_source *src, struct block_handle h, const uint8_t *stored,
                 int verify, struct cache_block **out)
{
    return block_decode_from(src, h, stored, NULL, verify, out);
}

int block_read(const struct block_source *src, struct block_handle h, int verify,
               struct cache_block **out)
{
    *out = NULL;
    int rc = block_check_handle(src, h);
    if (rc) return rc;
    struct cache_block *raw = cache_block_alloc((size_t)h.size + BLOCK_TRAILER_SIZE);
    if (!raw) return err_set(LAMINA_ENOMEM, "%s: out of memory reading a block", src->path);
    rc = rfile_read(src->f, h.offset, raw->data, (size_t)h.size + BLOCK_TRAILER_SIZE);
    if (rc) {
        cache_block_release(raw);
        return rc;
    }
    return block_decode_from(src, h, raw->data, raw, verify, out);
}

/* ---- Batches ---------------------------------------------------------------------------- */

/* A miss, ordered by (file, offset, size) so that requests for one block sit together, the
 * earliest request first. */
struct fetch_miss {
    uint64_t file, offset, size;
    size_t i; /* index of the request */
};

static int fetch_miss_cmp(const void *pa, const void *pb)
{
    const struct fetch_miss *a = pa, *b = pb;
    if (a->file != b->file) return a->file < b->file ? -1 : 1;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    if (a->size != b->size) return a->size < b->size ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The requests misses[first..end) that share one block, and the read that fetches it. */
struct fetch_group {
    size_t first, end;
    struct cache_block *raw; /* the stored block as read; NULL if it could not be allocated */
};

/* Decodes a group's block, offers it to the cache and hands each request a reference. */
static void fetch_group_finish(block_cache *cache, struct block_fetch *reqs,
                               const struct fetch_miss *misses, struct fetch_group *g, int rc)
{
    struct block_fetch *lead = &reqs[misses[g->first].i];
    int verify = 0, fill = 0;
    for (size_t k = g->first; k < g->end; k++) {
        verify |= reqs[misses[k].i].verify;
        fill |= reqs[misses[k].i].fill;
    }
    struct cache_block *b = NULL;
    if (rc)
        cache_block_release(g->raw);
    else
        rc = block_decode_from(lead->src, lead->h, g->raw->data, g->raw, verify, &b);
    g->raw = NULL;
    if (!rc && fill && cache) block_cache_insert(cache, lead->src->file_number, lead->h.offset, b);
    for (size_t k = g->first; k < g->end; k++) {
        struct block_fetch *r = &reqs[misses[k].i];
        r->rc = rc;
        if (rc) continue;
        cache_block_ref(b);
        r->block = b;
    }
    cache_block_release(b);
}

/* Reads the misses (sorted) together and finishes every request they stand for. */
static int fetch_misses(block_cache *cache, struct block_fetch *reqs, struct fetch_miss *misses,
                        size_t n)
{
    struct fetch_group *groups = mem_alloc(n * sizeof(*groups));
    struct file_read *reads = mem_alloc(n * sizeof(*reads));
    size_t *read_of = mem_alloc(n * sizeof(*read_of));
    int rc = 0;
    if (!groups || !reads || !read_of) {
        rc = err_set(LAMINA_ENOMEM, "block fetch: out of memory for %zu reads", n);
        goto out;
    }
    size_t ng = 0, nr = 0;
    for (size_t k = 0; k < n;) {
        size_t end = k + 1;
        while (end < n && misses[end].file == misses[k].file &&
               misses[end].offset == misses[k].offset && misses[end].size == misses[k].size)
            end++;
        const struct block_fetch *lead = &reqs[misses[k].i];
        size_t len = (size_t)lead->h.size + BLOCK_TRAILER_SIZE;
        struct fetch_group *g = &groups[ng];
        *g = (struct fetch_group){k, end, cache_block_alloc(len)};
        read_of[ng++] = g->raw ? nr : SIZE_MAX;
        if (g->raw)
            reads[nr++] = (struct file_read){lead->src->f, lead->h.offset, len, g->raw->data, 0};
        k = end;
    }
    file_read_multi(reads, nr);
    for (size_t k = 0; k < ng; k++) {
        int grc = read_of[k] == SIZE_MAX
                      ? err_set(LAMINA_ENOMEM, "%s: out of memory reading a block",
                                reqs[misses[groups[k].first].i].src->path)
                      : reads[read_of[k]].rc;
        fetch_group_finish(cache, reqs, misses, &groups[k], grc);
    }
out:
    if (rc)
        for (size_t k = 0; k < n; k++)
            reqs[misses[k].i].rc = rc;
    mem_free(groups);
    mem_free(reads);
    mem_free(read_of);
    return rc;
}

int block_fetch_batch(block_cache *cache, struct block_fetch *reqs, size_t n)
{
    size_t nmiss = 0;
    for (size_t i = 0; i < n; i++) {
        struct block_fetch *r = &reqs[i];
        r->block = NULL;
        r->from_cache = 0;
        r->rc = block_check_handle(r->src, r->h);
        if (r->rc) continue;
        if (cache && (r->block = block_cache_lookup(cache, r->src->file_number, r->h.offset))) {
            r->from_cache = 1;
            continue;
        }
        nmiss++;
    }
    if (nmiss) {
        struct fetch_miss *misses = mem_alloc(nmiss * sizeof(*misses));
        if (!misses) {
            int rc = err_set(LAMINA_ENOMEM, "block fetch: out of memory for %zu reads", nmiss);
            for (size_t i = 0; i < n; i++)
                if (!reqs[i].rc && !reqs[i].block) reqs[i].rc = rc;
        } else {
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (!reqs[i].rc && !reqs[i].block)
                    misses[k++] = (struct fetch_miss){reqs[i].src->file_number, reqs[i].h.offset,
                                                      reqs[i].h.size, i};
            qsort(misses, nmiss, sizeof(*misses), fetch_miss_cmp);
            fetch_misses(cache, reqs, misses, nmiss);
            mem_free(misses);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (reqs[i].rc) return reqs[i].rc;
    return 0;
}

/* ---- Read-ahead ------------------------------------------------------------------------- */

/* A refill reads at most this many chunks together; a longer window gets longer chunks. */
#define READAHEAD_MAX_CHUNKS 64

void readahead_init(struct readahead *ra, size_t initial, size_t max)
{
    memset(ra, 0, sizeof(*ra));
    if (initial < 1) initial = 1;
    if (initial > max) initial = max;
    ra->initial = initial;
    ra->max = max;
    ra->window = initial;
    ra->next = UINT64_MAX;
}

size_t readahead_window(const struct readahead *ra)
{
    return ra->window;
}

void readahead_free(struct readahead *ra)
{
    mem_free(ra->buf);
    ra->buf = NULL;
    ra->buf_cap = ra->buf_len = 0;
}

/* Doubles the window, up to max. */
static void readahead_grow(struct readahead *ra)
{
    ra->window = ra->window > ra->max / 2 ? ra->max : ra->window * 2;
}

/* Reads [off, off + window) clipped to src's blocks into the buffer, as chunks submitted
 * together, and doubles the window for the next refill. */
static int readahead_fill(struct readahead *ra, const struct block_source *src, uint64_t off)
{
    size_t len = ra->window;
    if (len > src->limit - off) len = (size_t)(src->limit - off);
    ra->buf_len = 0;
    if (len > ra->buf_cap) {
        mem_free(ra->buf);
        ra->buf_cap = 0;
        if (!(ra->buf = mem_alloc(len)))
            return err_set(LAMINA_ENOMEM, "%s: out of memory for %zu bytes of read-ahead",
                           src->path, len);
        ra->buf_cap = len;
    }
    size_t chunk = READAHEAD_CHUNK;
    if ((len + chunk - 1) / chunk > READAHEAD_MAX_CHUNKS)
        chunk = (len + READAHEAD_MAX_CHUNKS - 1) / READAHEAD_MAX_CHUNKS;
    struct file_read reads[READAHEAD_MAX_CHUNKS];
    size_t nr = 0;
    for (size_t at = 0; at < len; at += chunk) {
        size_t n = len - at < chunk ? len - at : chunk;
        reads[nr++] = (struct file_read){src->f, off + at, n, ra->buf + at, 0};
    }
    int rc = file_read_multi(reads, nr);
    if (rc) return rc;
    ra->buf_off = off;
    ra->buf_len = len;
    ra->buf_file = src->file_number;
    ra->refills++;
    readahead_grow(ra);
    return 0;
}

int readahead_block(struct readahead *ra, const struct block_source *src, struct block_handle h,
                    int verify, struct cache_block **out)
{
    *out = NULL;
    int rc = block_check_handle(src, h);
    if (rc) return rc;
    uint64_t stored = h.size + BLOCK_TRAILER_SIZE, end = h.offset + stored;
    if (ra->buf_len && ra->buf_file != src->file_number) ra->buf_len = 0;
    int buffered = ra->buf_len && h.offset >= ra->buf_off && end <= ra->buf_off + ra->buf_len;
    if (!buffered) {
        /* Index blocks sit between a table's data blocks: a block that starts within one
         * window of where the last one ended continues the scan. */
        int sequential =
            ra->next == UINT64_MAX || (h.offset >= ra->next && h.offset - ra->next <= ra->window);
        if (!sequential) ra->window = ra->initial;
        if (!sequential || stored > ra->window) {
            /* A sequential block too large for the window still grows it, so that a window
             * smaller than a block does not stop read-ahead for good. */
            if (sequential) readahead_grow(ra);
            rc = block_read(src, h, verify, out);
            goto out;
        }
        rc = readahead_fill(ra, src, h.offset);
        if (rc) return rc;
    }
    rc = block_decode(src, h, ra->buf + (h.offset - ra->buf_off), verify, out);
out:
    if (!rc) {
        ra->next = end;
        ra->blocks++;
    }
    return rc;
}
