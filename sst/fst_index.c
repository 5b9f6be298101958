/* fst_index.c — the FST kind of table index. One index block:
 *
 *   fst bytes (sst/fst.h: separator -> data block ordinal) | samples | sizes | tail
 *   tail = width (1 byte) | bits (1 byte) | n (fixed32) | min_size (fixed32)
 *
 * Data blocks are contiguous from the file's start, so block i is placed by its stored size
 * (contents + trailer). sizes packs size - min_size of each of the n blocks in bits bits
 * (little-endian bit order); samples holds the offset of every FST_INDEX_SAMPLE-th block as a
 * width-byte little-endian integer, so block i's offset is its sample plus at most
 * FST_INDEX_SAMPLE - 1 sizes: about one byte per block where absolute offsets took four. The
 * block is read through the block cache like any other, checked once when it is read (sizes
 * and samples agree, blocks inside the table), and searched in place: a lookup walks the FST's
 * states on the cached bytes and sums a few sizes. */
#include <string.h>

#include "lamina.h"
#include "sst/fetch.h"
#include "sst/index.h"
#include "util/alloc.h"
#include "util/err.h"

#define FST_INDEX_TAIL 10  /* width, bits, fixed32 n, fixed32 min_size */
#define FST_INDEX_SAMPLE 32 /* blocks per sampled offset */

/* Bits to hold v. */
static uint32_t fst_index_bits(uint64_t v)
{
    uint32_t b = 0;
    while (b < 64 && (v >> b) != 0)
        b++;
    return b;
}

/* The i-th bits-wide value of the packed array p (bits <= 32). */
static uint64_t fst_index_unpack(const uint8_t *p, uint32_t bits, uint64_t i)
{
    uint64_t bit = i * bits, v = 0;
    for (uint32_t k = 0; k < bits;) {
        uint64_t byte = (bit + k) >> 3;
        uint32_t shift = (uint32_t)((bit + k) & 7), take = 8 - shift;
        if (take > bits - k) take = bits - k;
        v |= (uint64_t)((p[byte] >> shift) & ((1u << take) - 1)) << k;
        k += take;
    }
    return v;
}

/* ---- Builder -------------------------------------------------------------------------- */

static int fst_ib_add(struct index_builder *ib, const uint8_t *sep, size_t len,
                      struct block_handle h)
{
    struct fst_index_builder *b = &ib->u.fst;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        uint64_t *o = mem_realloc(b->offsets, cap * sizeof(*o));
        if (!o) return err_set(LAMINA_ENOMEM, "table builder: out of memory for the FST index");
        b->offsets = o;
        b->cap = cap;
    }
    if (h.offset != b->end)
        return err_set(LAMINA_EINVAL, "table builder: data block at %llu does not follow the "
                                      "previous one (FST index needs contiguous blocks)",
                       (unsigned long long)h.offset);
    int rc = fst_builder_add(&b->fst, sep, len, b->n);
    if (rc) return rc;
    b->offsets[b->n++] = h.offset;
    b->end = h.offset + h.size + BLOCK_TRAILER_SIZE;
    return 0;
}

static int fst_ib_finish(struct index_builder *ib, struct table_footer *ft)
{
    struct fst_index_builder *b = &ib->u.fst;
    buf out = {0};
    int rc = fst_builder_finish(&b->fst, &out);
    uint32_t width = (fst_index_bits(b->end) + 7) / 8;
    if (width == 0) width = 1;
    uint64_t min_size = UINT64_MAX, max_size = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t s = (i + 1 < b->n ? b->offsets[i + 1] : b->end) - b->offsets[i];
        if (s < min_size) min_size = s;
        if (s > max_size) max_size = s;
    }
    if (b->n == 0) min_size = max_size = 0;
    if (max_size > UINT32_MAX)
        rc = err_set(LAMINA_EINVAL, "table builder: a data block over 4 GiB");
    uint32_t bits = fst_index_bits(max_size - min_size);
    for (size_t i = 0; rc == 0 && i < b->n; i += FST_INDEX_SAMPLE) {
        uint8_t le[8];
        for (uint32_t k = 0; k < width; k++)
            le[k] = (uint8_t)(b->offsets[i] >> (8 * k));
        if (buf_append(&out, le, width))
            rc = err_set(LAMINA_ENOMEM, "table builder: out of memory for the FST index");
    }
    size_t packed = ((size_t)b->n * bits + 7) / 8, at = out.len;
    if (rc == 0 && buf_reserve(&out, packed))
        rc = err_set(LAMINA_ENOMEM, "table builder: out of memory for the FST index");
    if (rc == 0) {
        memset(out.data + at, 0, packed);
        for (size_t i = 0; i < b->n; i++) {
            uint64_t v = (i + 1 < b->n ? b->offsets[i + 1] : b->end) - b->offsets[i] - min_size;
            uint64_t bit = (uint64_t)i * bits;
            for (uint32_t k = 0; k < bits; k++, bit++)
                if ((v >> k) & 1) out.data[at + (bit >> 3)] |= (uint8_t)(1u << (bit & 7));
        }
        out.len += packed;
    }
    uint8_t tail[FST_INDEX_TAIL];
    tail[0] = (uint8_t)width;
    tail[1] = (uint8_t)bits;
    coding_put_fixed32(tail + 2, (uint32_t)b->n);
    coding_put_fixed32(tail + 6, (uint32_t)min_size);
    if (rc == 0 && buf_append(&out, tail, sizeof(tail)))
        rc = err_set(LAMINA_ENOMEM, "table builder: out of memory for the FST index");
    if (rc == 0) rc = block_writer_write(b->w, &out, 1, &ft->index);
    if (rc == 0) {
        ft->index_levels = 1;
        ib->bytes = ft->index.size + BLOCK_TRAILER_SIZE;
    }
    buf_free(&out);
    return rc;
}

static void fst_ib_free(struct index_builder *ib)
{
    fst_builder_free(&ib->u.fst.fst);
    mem_free(ib->u.fst.offsets);
}

const struct index_builder_ops fst_index_builder_ops = {
    .kind = LAMINA_INDEX_FST,
    .free = fst_ib_free,
    .add = fst_ib_add,
    .finish = fst_ib_finish,
};

int fst_index_builder_init(struct index_builder *ib, struct block_writer *w)
{
    ib->ops = &fst_index_builder_ops;
    ib->u.fst.w = w;
    return fst_builder_init(&ib->u.fst.fst);
}

/* ---- Reading the block ------------------------------------------------------------------ */

static int fst_index_corrupt(const struct block_source *src, struct block_handle h,
                             const char *what)
{
    return err_set(LAMINA_ECORRUPT, "%s: FST index block at offset %llu: %s", src->path,
                   (unsigned long long)h.offset, what);
}

/* Block i's stored size, trailer included. */
static uint64_t fst_index_size(const struct fst_index_cursor *c, uint64_t i)
{
    return c->min_size + fst_index_unpack(c->sizes, c->bits, i);
}

/* Block i's offset: its sample plus the sizes after the sample. */
static uint64_t fst_index_offset(const struct fst_index_cursor *c, uint64_t i)
{
    const uint8_t *p = c->samples + (i / FST_INDEX_SAMPLE) * c->width;
    uint64_t v = 0;
    for (uint32_t k = 0; k < c->width; k++)
        v |= (uint64_t)p[k] << (8 * k);
    for (uint64_t j = i - i % FST_INDEX_SAMPLE; j < i; j++)
        v += fst_index_size(c, j);
    return v;
}

/* Points c's views (fst, offsets) at block cb's contents; with check, also checks the
 * offsets (increasing by at least a trailer, inside the table's blocks). */
static int fst_index_parse(const struct block_source *src, struct block_handle h,
                           const struct cache_block *cb, int check, struct fst_index_cursor *c)
{
    if (cb->size < FST_INDEX_TAIL) return fst_index_corrupt(src, h, "shorter than its tail");
    const uint8_t *tail = cb->data + cb->size - FST_INDEX_TAIL;
    c->width = tail[0];
    c->bits = tail[1];
    c->n = coding_get_fixed32(tail + 2);
    c->min_size = coding_get_fixed32(tail + 6);
    if (c->width < 1 || c->width > 8) return fst_index_corrupt(src, h, "bad offset width");
    if (c->bits > 32) return fst_index_corrupt(src, h, "bad size width");
    uint64_t sample_bytes = (c->n + FST_INDEX_SAMPLE - 1) / FST_INDEX_SAMPLE * c->width;
    uint64_t size_bytes = (c->n * c->bits + 7) / 8;
    if (sample_bytes + size_bytes > cb->size - FST_INDEX_TAIL)
        return fst_index_corrupt(src, h, "block table larger than the block");
    size_t fst_size = cb->size - FST_INDEX_TAIL - (size_t)(sample_bytes + size_bytes);
    c->samples = cb->data + fst_size;
    c->sizes = c->samples + sample_bytes;
    int rc = fst_open(&c->fst, cb->data, fst_size);
    if (rc) return rc;
    if (c->fst.nkeys != c->n) return fst_index_corrupt(src, h, "FST and block table disagree");
    if (!check) return 0;
    /* Every block fits a stored block, the samples agree with the sizes, and the blocks end
     * before the table's meta blocks. */
    uint64_t off = 0;
    for (uint64_t i = 0; i < c->n; i++) {
        if (i % FST_INDEX_SAMPLE == 0 && fst_index_offset(c, i) != off)
            return fst_index_corrupt(src, h, "sampled offset disagrees with the sizes");
        uint64_t s = fst_index_size(c, i);
        if (s < BLOCK_TRAILER_SIZE || s - BLOCK_TRAILER_SIZE > BLOCK_MAX_CONTENTS)
            return fst_index_corrupt(src, h, "bad data block size");
        off += s;
        if (off > src->limit) return fst_index_corrupt(src, h, "data blocks past the index");
    }
    return 0;
}

/* The index block with a new reference: from the cache (a block of kind CACHE_BLOCK_FST was
 * checked when read), else read, checked and (with fill) offered to the cache. */
static int fst_index_fetch(struct fst_index_reader *r, int fill, struct cache_block **out)
{
    struct cache_block *cb = block_cache_lookup(r->cache, r->src.file_number, r->h.offset);
    if (cb && cb->kind == CACHE_BLOCK_FST) {
        *out = cb;
        return 0;
    }
    int cached = cb != NULL;
    if (!cb) {
        int rc = block_read(&r->src, r->h, 1, &cb);
        if (rc) return rc;
    }
    struct fst_index_cursor probe;
    int rc = fst_index_parse(&r->src, r->h, cb, 1, &probe);
    if (rc) {
        cache_block_release(cb);
        return rc;
    }
    /* A block cached as another kind (a damaged index pointed a data handle here) is used as
     * is and left alone; one read here is marked checked and offered to the cache. */
    if (!cached) {
        cb->kind = CACHE_BLOCK_FST;
        if (fill) block_cache_insert(r->cache, r->src.file_number, r->h.offset, cb);
    }
    *out = cb;
    return 0;
}

/* ---- Reader --------------------------------------------------------------------------- */

static int fst_open_reader(struct index_reader *r, const struct block_source *src,
                           block_cache *cache, const struct table_footer *ft, int pin)
{
    struct fst_index_reader *f = &r->u.fst;
    f->src = *src;
    f->cache = cache;
    f->h = ft->index;
    f->pin = pin;
    atomic_init(&f->pinned, NULL);
    if (!r->user_keys)
        return fst_index_corrupt(src, ft->index, "an FST index in a format 1 table");
    return 0;
}

static void fst_close_reader(struct index_reader *r)
{
    cache_block_release(atomic_exchange_explicit(&r->u.fst.pinned, NULL, memory_order_acq_rel));
}

static void fst_cursor_init_(struct index_cursor *c, int fill_cache)
{
    struct fst_index_cursor *fc = &c->u.fst;
    fc->blk = NULL;
    fc->owned = 0;
    fst_cursor_init(&fc->cur, &fc->fst);
}

static void fst_cursor_release_(struct index_cursor *c)
{
    struct fst_index_cursor *fc = &c->u.fst;
    if (fc->blk && fc->owned) cache_block_release(fc->blk);
    fc->blk = NULL;
    fst_cursor_free(&fc->cur);
    fst_cursor_init(&fc->cur, &fc->fst);
}

/* Makes the cursor hold the index block (once per cursor; a pinned block is lent). */
static int fst_cursor_load(struct index_cursor *c)
{
    struct fst_index_cursor *fc = &c->u.fst;
    if (fc->blk) return 0;
    struct fst_index_reader *r = &c->r->u.fst;
    struct cache_block *cb = atomic_load_explicit(&r->pinned, memory_order_acquire);
    int owned = 0;
    if (!cb) {
        int rc = fst_index_fetch(r, c->fill_cache, &cb);
        if (rc) return rc;
        owned = 1;
        if (r->pin) {
            struct cache_block *expected = NULL;
            if (atomic_compare_exchange_strong_explicit(&r->pinned, &expected, cb,
                                                        memory_order_acq_rel,
                                                        memory_order_acquire)) {
                owned = 0; /* the reader keeps our reference until it closes */
            } else {
                cache_block_release(cb); /* another cursor pinned it first */
                cb = expected;
                owned = 0;
            }
        }
    }
    int rc = fst_index_parse(&r->src, r->h, cb, 0, fc);
    if (rc) {
        if (owned) cache_block_release(cb);
        return rc;
    }
    fc->blk = cb;
    fc->owned = owned;
    return 0;
}

static int fst_moved(struct index_cursor *c, int rc)
{
    c->valid = rc == 0 && fst_cursor_valid(&c->u.fst.cur);
    return rc;
}

static int fst_seek(struct index_cursor *c, const uint8_t *key, size_t len)
{
    int rc = fst_cursor_load(c);
    if (rc == 0) rc = fst_cursor_seek(&c->u.fst.cur, key, len);
    return fst_moved(c, rc);
}

static int fst_seek_to_first(struct index_cursor *c)
{
    int rc = fst_cursor_load(c);
    if (rc == 0) rc = fst_cursor_seek_to_first(&c->u.fst.cur);
    return fst_moved(c, rc);
}

static int fst_seek_to_last(struct index_cursor *c)
{
    int rc = fst_cursor_load(c);
    if (rc == 0) rc = fst_cursor_seek_to_last(&c->u.fst.cur);
    return fst_moved(c, rc);
}

static int fst_next(struct index_cursor *c)
{
    if (!c->valid) return 0;
    return fst_moved(c, fst_cursor_next(&c->u.fst.cur));
}

static int fst_prev(struct index_cursor *c)
{
    if (!c->valid) return 0;
    return fst_moved(c, fst_cursor_prev(&c->u.fst.cur));
}

/* The handle of the current separator's block. An ordinal outside the offset table (a damaged
 * FST) gives a handle no table holds, which the block read reports as damage. */
static struct block_handle fst_handle(const struct index_cursor *c)
{
    const struct fst_index_cursor *fc = &c->u.fst;
    uint64_t i = fst_cursor_value(&fc->cur);
    if (i >= fc->n) return (struct block_handle){UINT64_MAX, 0};
    return (struct block_handle){fst_index_offset(fc, i),
                                 fst_index_size(fc, i) - BLOCK_TRAILER_SIZE};
}

static const uint8_t *fst_key(const struct index_cursor *c, size_t *len)
{
    return fst_cursor_key(&c->u.fst.cur, len);
}

/* Reads the block afresh, checks it, and walks every separator in order: their ordinals must
 * be 0, 1, ..., n - 1. */
static int fst_verify(const struct block_source *src, const struct table_footer *ft, int user_keys,
                      int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h),
                      void *ctx)
{
    if (!user_keys) return fst_index_corrupt(src, ft->index, "an FST index in a format 1 table");
    struct cache_block *cb;
    int rc = block_read(src, ft->index, 1, &cb);
    if (rc) return rc;
    struct index_reader r = {.ops = &fst_index_ops, .user_keys = 1};
    struct index_cursor c = {.r = &r};
    fst_cursor_init_(&c, 0);
    rc = fst_index_parse(src, ft->index, cb, 1, &c.u.fst);
    if (rc == 0) {
        c.u.fst.blk = cb;
        c.u.fst.owned = 0;
        rc = fst_cursor_seek_to_first(&c.u.fst.cur);
    }
    uint64_t want = 0;
    while (rc == 0 && fst_cursor_valid(&c.u.fst.cur)) {
        if (fst_cursor_value(&c.u.fst.cur) != want) {
            rc = fst_index_corrupt(src, ft->index, "block ordinals out of sequence");
            break;
        }
        size_t len;
        const uint8_t *k = fst_cursor_key(&c.u.fst.cur, &len);
        rc = fn(ctx, k, len, fst_handle(&c));
        want++;
        if (rc == 0) rc = fst_cursor_next(&c.u.fst.cur);
    }
    if (rc == 0 && want != c.u.fst.n)
        rc = fst_index_corrupt(src, ft->index, "fewer separators than data blocks");
    fst_cursor_free(&c.u.fst.cur);
    cache_block_release(cb);
    return rc;
}

const struct index_ops fst_index_ops = {
    .kind = LAMINA_INDEX_FST,
    .name = "fst",
    .open = fst_open_reader,
    .close = fst_close_reader,
    .cursor_init = fst_cursor_init_,
    .cursor_release = fst_cursor_release_,
    .seek = fst_seek,
    .seek_to_first = fst_seek_to_first,
    .seek_to_last = fst_seek_to_last,
    .next = fst_next,
    .prev = fst_prev,
    .handle = fst_handle,
    .key = fst_key,
    .verify = fst_verify,
};
