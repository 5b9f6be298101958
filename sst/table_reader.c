/* table_reader.c — serves a table: opens it with one read (the footer), loads its filter,
 * index and properties blocks on first need through the block cache (or pins the filter and the
 * index root, RocksDB's pin_l0_filter_and_index_blocks_in_cache), answers point lookups (Bloom
 * filter, the table's index through sst/index.h, block cache, block seek), iterates it with a
 * two-level iterator (index cursor -> data block) and verifies every block on demand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bloom/bloom.h"
#include "lamina.h"
#include "sst/block.h"
#include "sst/cache.h"
#include "sst/format.h"
#include "sst/index.h"
#include "sst/lookup.h"
#include "sst/reader.h"
#include "sst/table.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"
#include "util/range_del.h"

struct table {
    atomic_int refs;
    rfile *f;
    char *path;
    uint64_t file_number, file_size;
    block_cache *cache; /* borrowed, may be NULL */
    struct block_source src;
    struct table_footer footer;
    struct index_reader index;
    int pin_meta;
    _Atomic(struct cache_block *) filter_pin; /* the pinned filter once loaded (pin_meta) */
    /* The fragmented range tombstones once loaded (table_no_range_dels when none). */
    _Atomic(range_del_list *) rdel;
    void (*on_close)(void *ctx); /* told after the reader closed (table cache) */
    void *close_ctx;
};

static const struct table_read_options table_read_defaults = {.verify_checksums = 1,
                                                              .fill_cache = 1};

/* The list of every table without range tombstones. */
static range_del_list table_no_range_dels;

static void table_free(table *t)
{
    void (*on_close)(void *) = t->on_close;
    void *ctx = t->close_ctx;
    range_del_list *rd = atomic_load_explicit(&t->rdel, memory_order_acquire);
    if (rd != &table_no_range_dels) range_del_list_free(rd);
    index_close(&t->index);
    cache_block_release(atomic_load_explicit(&t->filter_pin, memory_order_acquire));
    if (t->f) rfile_close(t->f);
    mem_free(t->path);
    mem_free(t);
    if (on_close) on_close(ctx);
}

void table_ref(table *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void table_unref(table *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) table_free(t);
}

void table_on_close(table *t, void (*fn)(void *ctx), void *ctx)
{
    t->on_close = fn;
    t->close_ctx = ctx;
}

uint64_t table_key_hash(const uint8_t *user_key, size_t n)
{
    return bloom_hash(user_key, n);
}

int table_open(const char *path, uint64_t file_number, block_cache *cache, int pin_meta,
               table **out)
{
    return table_open_ex(path, file_number, cache, pin_meta, 0, out);
}

int table_open_ex(const char *path, uint64_t file_number, block_cache *cache, int pin_meta,
                  int file_flags, table **out)
{
    *out = NULL;
    table *t = mem_calloc(1, sizeof(*t));
    if (!t) return err_set(LAMINA_ENOMEM, "%s: out of memory opening a table", path);
    atomic_init(&t->refs, 1);
    atomic_init(&t->filter_pin, NULL);
    atomic_init(&t->rdel, NULL);
    t->file_number = file_number;
    t->cache = cache;
    t->pin_meta = pin_meta;
    int rc;
    t->path = mem_strdup(path);
    if (!t->path) {
        rc = err_set(LAMINA_ENOMEM, "%s: out of memory opening a table", path);
        goto fail;
    }
    rc = rfile_open_ex(path, file_flags, &t->f);
    if (rc) goto fail;
    t->file_size = rfile_size(t->f);
    if (t->file_size < TABLE_FOOTER_SIZE) {
        rc = err_set(LAMINA_ECORRUPT,
                     "%s: not a Lamina table (%llu bytes, shorter than the footer at offset 0)",
                     path, (unsigned long long)t->file_size);
        goto fail;
    }
    uint8_t footer[TABLE_FOOTER_SIZE];
    uint64_t footer_off = t->file_size - TABLE_FOOTER_SIZE;
    rc = rfile_read(t->f, footer_off, footer, sizeof(footer));
    if (rc) goto fail;
    rc = table_footer_decode(footer, path, &t->footer);
    if (rc == 0 && t->footer.file_number != file_number)
        rc = err_set(LAMINA_ECORRUPT, "%s: table was written as file %llu, opened as file %llu",
                     path, (unsigned long long)t->footer.file_number,
                     (unsigned long long)file_number);
    if (rc == LAMINA_ECORRUPT) {
        /* Every footer complaint names where the footer is, as block errors name theirs. */
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", err_message());
        rc = err_set(rc, "%s (footer at offset %llu)", msg, (unsigned long long)footer_off);
    }
    if (rc) goto fail;
    t->src = (struct block_source){t->f, t->path, file_number, footer_off};
    rc = index_open(&t->index, &t->src, cache, &t->footer, pin_meta);
    if (rc) goto fail;
    *out = t;
    return 0;
fail:
    table_free(t);
    return rc;
}

uint64_t table_file_size(const table *t)
{
    return t->file_size;
}
uint64_t table_file_number(const table *t)
{
    return t->file_number;
}

/* The meta block (filter or properties) at h with a new reference: from the block cache, else
 * read with its checksum verified and (with fill) offered to the cache. */
static int table_meta_block(const table *t, struct block_handle h, int fill,
                            struct cache_block **out)
{
    struct cache_block *cb = block_cache_lookup(t->cache, t->file_number, h.offset);
    if (!cb) {
        int rc = block_read(&t->src, h, 1, &cb);
        if (rc) return rc;
        if (fill) block_cache_insert(t->cache, t->file_number, h.offset, cb);
    }
    *out = cb;
    return 0;
}

/* The filter block, with *owned set when the caller holds a reference to release; a pinned
 * filter is lent without one (the reader keeps it until it closes). */
static int table_filter(table *t, int fill, struct cache_block **out, int *owned)
{
    struct cache_block *cb = atomic_load_explicit(&t->filter_pin, memory_order_acquire);
    *owned = 0;
    if (cb) {
        *out = cb;
        return 0;
    }
    int rc = table_meta_block(t, t->footer.filter, fill, &cb);
    if (rc) return rc;
    if (!t->pin_meta) {
        *owned = 1;
        *out = cb;
        return 0;
    }
    struct cache_block *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&t->filter_pin, &expected, cb,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        cache_block_release(cb); /* another reader pinned it first */
        cb = expected;
    }
    *out = cb;
    return 0;
}

int table_sample_keys(table *t, size_t n, buf *keys, size_t *got)
{
    *got = 0;
    struct table_props p;
    int rc = table_props_get(t, &p);
    if (rc || n == 0 || p.data_blocks < 2) return rc;
    struct index_cursor c;
    index_cursor_init(&c, &t->index, 0);
    rc = index_cursor_seek_to_first(&c);
    for (uint64_t b = 0; rc == 0 && c.valid && *got < n; b++) {
        /* Block b's separator closes part *got when b reaches that part's share of blocks. */
        if (b + 1 >= (*got + 1) * p.data_blocks / (n + 1)) {
            size_t len;
            const uint8_t *k = index_cursor_key(&c, &len);
            if (!t->index.user_keys) len = ikey_user_len(len);
            buf_clear(&keys[*got]);
            if (buf_append(&keys[*got], k, len))
                rc = err_set(LAMINA_ENOMEM, "%s: out of memory sampling keys", t->path);
            else
                (*got)++;
        }
        if (rc == 0) rc = index_cursor_next(&c);
    }
    index_cursor_release(&c);
    return rc;
}

int table_props_get(const table *t, struct table_props *out)
{
    struct cache_block *pb;
    int rc = table_meta_block(t, t->footer.properties, 1, &pb);
    if (rc) return rc;
    rc = table_props_decode(pb->data, pb->size, t->path, t->footer.properties.offset, out);
    cache_block_release(pb);
    return rc;
}

int table_properties(const table *t, uint64_t *entries, uint64_t *deletions, uint64_t *data_bytes,
                     uint64_t *index_bytes, uint64_t *filter_bytes)
{
    struct table_props p;
    int rc = table_props_get(t, &p);
    if (rc) return rc;
    if (entries) *entries = p.entries;
    if (deletions) *deletions = p.deletions;
    if (data_bytes) *data_bytes = p.data_bytes;
    if (index_bytes) *index_bytes = p.index_bytes;
    if (filter_bytes) *filter_bytes = p.filter_bytes;
    return 0;
}

/* Parses the range-deletion block at h (contents cb) into builder rb, checking that its entries
 * are range tombstones in order with begin < end. *n gets their count. */
static int table_parse_range_dels(const table *t, const struct cache_block *cb,
                                  struct block_handle h, range_del_builder *rb, uint64_t *n)
{
    struct block b;
    unsigned long long off = (unsigned long long)h.offset;
    if (block_parse(&b, cb->data, cb->size))
        return err_set(LAMINA_ECORRUPT,
                       "%s: range-deletion block at offset %llu: bad restart array", t->path, off);
    struct block_iter it;
    buf prev = {0};
    block_iter_init(&it);
    block_iter_reset(&it, &b, BLOCK_KEYS_INTERNAL, t->path, h.offset);
    *n = 0;
    int rc = block_iter_seek_to_first(&it);
    while (rc == 0 && block_iter_valid(&it)) {
        if (it.key_len < IKEY_TRAILER || ikey_type(it.key, it.key_len) != IKEY_RANGE_DELETION ||
            ikey_user_cmp(it.key, ikey_user_len(it.key_len), it.val, it.val_len) >= 0 ||
            (prev.len && ikey_cmp(prev.data, prev.len, it.key, it.key_len) >= 0)) {
            rc = err_set(LAMINA_ECORRUPT,
                         "%s: range-deletion block at offset %llu (+%u): bad range tombstone",
                         t->path, off, (unsigned)it.cur);
            break;
        }
        buf_clear(&prev);
        rc = buf_append(&prev, it.key, it.key_len);
        if (rc == 0 && rb)
            rc = range_del_builder_add(rb, it.key, ikey_user_len(it.key_len), it.val, it.val_len,
                                       ikey_seq(it.key, it.key_len));
        if (rc) {
            rc = err_set(LAMINA_ENOMEM, "%s: out of memory reading range tombstones", t->path);
            break;
        }
        (*n)++;
        rc = block_iter_next(&it);
    }
    block_iter_free(&it);
    buf_free(&prev);
    return rc;
}

int table_range_dels(table *t, const range_del_list **out)
{
    range_del_list *l = atomic_load_explicit(&t->rdel, memory_order_acquire);
    if (l) {
        *out = l;
        return 0;
    }
    struct table_props p;
    int rc = 0;
    /* The footer says whether there is a block to look for (most tables have none). */
    if (t->footer.flags & TABLE_FOOTER_RANGE_DELS) rc = table_props_get(t, &p);
    if (rc) return rc;
    if (!(t->footer.flags & TABLE_FOOTER_RANGE_DELS) || p.range_del_size == 0) {
        l = &table_no_range_dels;
    } else {
        struct block_handle h = {p.range_del_offset, p.range_del_size};
        struct cache_block *cb;
        range_del_builder rb;
        uint64_t n;
        rc = table_meta_block(t, h, 1, &cb);
        if (rc) return rc;
        range_del_builder_init(&rb);
        rc = table_parse_range_dels(t, cb, h, &rb, &n);
        cache_block_release(cb);
        if (rc == 0) rc = range_del_builder_finish(&rb, &l);
        range_del_builder_free(&rb);
        if (rc) return rc;
    }
    range_del_list *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&t->rdel, &expected, l, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        if (l != &table_no_range_dels) range_del_list_free(l); /* another reader won */
        l = expected;
    }
    *out = l;
    return 0;
}

/* The newest range tombstone of t covering lookup's user key at lookup's seq, or 0. */
static int table_covering(table *t, const uint8_t *lookup, size_t lookup_len, uint64_t *tomb)
{
    const range_del_list *l;
    int rc = table_range_dels(t, &l);
    *tomb =
        rc ? 0
           : range_del_max_seq(l, lookup, ikey_user_len(lookup_len), ikey_seq(lookup, lookup_len));
    return rc;
}

static void table_count_read(const struct table_read_options *ro, struct block_handle h)
{
    if (!ro->io) return;
    atomic_fetch_add_explicit(&ro->io->reads, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ro->io->bytes, h.size + BLOCK_TRAILER_SIZE, memory_order_relaxed);
}

/* Parses the restart array of data block cb (at h) into *b. */
static int table_block_parse(const table *t, const struct cache_block *cb, struct block_handle h,
                             struct block *b)
{
    if (block_parse(b, cb->data, cb->size))
        return err_set(LAMINA_ECORRUPT, "%s: data block at offset %llu: bad restart array", t->path,
                       (unsigned long long)h.offset);
    return 0;
}

/* Returns the data block at h with a reference: from the cache when it holds it, else read
 * (through ra when given, and offered to the cache when fill_cache). */
static int table_block(table *t, const struct table_read_options *ro, struct readahead *ra,
                       struct block_handle h, struct cache_block **out)
{
    struct cache_block *cb = block_cache_lookup(t->cache, t->file_number, h.offset);
    if (!cb) {
        int rc = ra ? readahead_block(ra, &t->src, h, ro->verify_checksums, &cb)
                    : block_read(&t->src, h, ro->verify_checksums, &cb);
        if (rc) return rc;
        table_count_read(ro, h);
        if (ro->fill_cache) block_cache_insert(t->cache, t->file_number, h.offset, cb);
    }
    *out = cb;
    return 0;
}

/* A point lookup's count at its level (ro->lookup), relaxed: figures, not synchronisation. */
static inline void table_count_lookup(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void table_lookup_missed(const table *t, const struct table_read_options *ro)
{
    if (ro && ro->lookup && t->footer.filter.size > 0)
        table_count_lookup(&ro->lookup->false_positives);
}

void table_block_request(table *t, const struct table_read_options *ro, struct block_handle h,
                         struct block_fetch *req)
{
    if (!ro) ro = &table_read_defaults;
    if (ro->lookup) table_count_lookup(&ro->lookup->blocks);
    memset(req, 0, sizeof(*req));
    req->src = &t->src;
    req->h = h;
    req->verify = ro->verify_checksums;
    req->fill = ro->fill_cache;
}

int table_get_in_block(table *t, const struct cache_block *cb, struct block_handle h,
                       const uint8_t *lookup, size_t lookup_len, int *type, buf *value)
{
    struct block b;
    int rc = table_block_parse(t, cb, h, &b);
    if (rc) return rc;
    struct block_iter it;
    block_iter_init(&it);
    block_iter_reset(&it, &b, BLOCK_KEYS_INTERNAL, t->path, h.offset);
    uint64_t tomb = 0;
    rc = table_covering(t, lookup, lookup_len, &tomb);
    if (rc == 0) rc = block_iter_seek(&it, lookup, lookup_len);
    if (rc == 0) {
        /* The separator shortening guarantees the first entry >= lookup, if any of lookup's
         * user key is visible here, lies in this block. */
        if (!block_iter_valid(&it) || ikey_user_cmp(it.key, ikey_user_len(it.key_len), lookup,
                                                    ikey_user_len(lookup_len)) != 0) {
            rc = LAMINA_NOTFOUND;
        } else if (ikey_seq(it.key, it.key_len) < tomb) {
            *type = IKEY_DELETION; /* a newer range tombstone of this table covers it */
        } else {
            *type = ikey_type(it.key, it.key_len);
            if (*type == IKEY_VALUE) {
                buf_clear(value);
                if (buf_append(value, it.val, it.val_len))
                    rc = err_set(LAMINA_ENOMEM, "table_get: out of memory for a %zu-byte value",
                                 it.val_len);
            } else if (*type != IKEY_DELETION) {
                rc = err_set(LAMINA_ECORRUPT, "%s: data block at offset %llu: entry of type %d",
                             t->path, (unsigned long long)h.offset, *type);
            }
        }
    }
    block_iter_free(&it);
    if (rc == LAMINA_NOTFOUND && tomb) {
        *type = IKEY_DELETION;
        rc = 0;
    }
    return rc;
}

int table_get_locate(table *t, const struct table_read_options *ro, const uint8_t *lookup,
                     size_t lookup_len, uint64_t hash, struct block_handle *h)
{
    if (!ro) ro = &table_read_defaults;
    if (lookup_len < IKEY_TRAILER)
        return err_set(LAMINA_EINVAL, "table_get: lookup key of %zu bytes", lookup_len);
    uint64_t tomb;
    int rc = table_covering(t, lookup, lookup_len, &tomb);
    if (rc) return rc;
    if (t->footer.filter.size > 0) {
        struct cache_block *fb;
        int owned;
        rc = table_filter(t, ro->fill_cache, &fb, &owned);
        if (rc) return rc;
        /* A filter that does not parse answers "may contain" for every key: it costs reads
         * but never hides a key, so the table stays readable. */
        int may = bloom_may_contain(fb->data, fb->size, hash);
        if (owned) cache_block_release(fb);
        if (ro->lookup) table_count_lookup(&ro->lookup->filter_probes);
        if (!may) return tomb ? TABLE_GET_DELETED : LAMINA_NOTFOUND;
    }
    struct index_cursor c;
    index_cursor_init(&c, &t->index, ro->fill_cache);
    rc = index_cursor_seek(&c, lookup, lookup_len);
    if (rc == 0 && !c.valid) {
        rc = tomb ? TABLE_GET_DELETED : LAMINA_NOTFOUND;
        if (!tomb) table_lookup_missed(t, ro); /* past the last key: the filter let it through */
    }
    if (rc == 0) *h = index_cursor_handle(&c);
    index_cursor_release(&c);
    return rc;
}

int table_get(table *t, const struct table_read_options *ro, const uint8_t *lookup,
              size_t lookup_len, uint64_t hash, int *type, buf *value)
{
    if (!ro) ro = &table_read_defaults;
    struct block_handle h;
    int rc = table_get_locate(t, ro, lookup, lookup_len, hash, &h);
    if (rc == TABLE_GET_DELETED) {
        *type = IKEY_DELETION;
        return 0;
    }
    if (rc) return rc;
    if (ro->lookup) table_count_lookup(&ro->lookup->blocks);
    struct cache_block *cb;
    rc = table_block(t, ro, NULL, h, &cb);
    if (rc) return rc;
    rc = table_get_in_block(t, cb, h, lookup, lookup_len, type, value);
    cache_block_release(cb);
    if (rc == LAMINA_NOTFOUND) table_lookup_missed(t, ro);
    return rc;
}

/* ---- Two-level iterator --------------------------------------------------------------- */

struct table_iter {
    iter base;
    table *t;
    struct table_read_options ro;
    struct index_cursor ic;
    struct cache_block *cb; /* the data block bi walks, NULL if none */
    uint64_t cb_offset;
    struct block_iter bi;
    struct readahead ra; /* used when ro.readahead_max > 0 */
    uint64_t next_off;   /* where the last data block read ended */
    int run;             /* data blocks read one after another so far */
    int status;
};

/* Like RocksDB's auto read-ahead, an iterator reads ahead only once it has read two data blocks
 * in a row (a seek with a few nexts never does); a compaction (initial == max) from the start.
 * "In a row" allows the index blocks a B-tree writes between data blocks. */
#define TABLE_ITER_RUN_FOR_READAHEAD 2
#define TABLE_ITER_RUN_GAP (64u << 10)

static struct readahead *table_iter_readahead(struct table_iter *ti, struct block_handle h)
{
    if (ti->ro.readahead_max == 0) return NULL;
    if (h.offset >= ti->next_off && h.offset - ti->next_off <= TABLE_ITER_RUN_GAP)
        ti->run++;
    else
        ti->run = 0;
    ti->next_off = h.offset + h.size + BLOCK_TRAILER_SIZE;
    if (ti->ro.readahead_initial >= ti->ro.readahead_max) return &ti->ra;
    return ti->run >= TABLE_ITER_RUN_FOR_READAHEAD ? &ti->ra : NULL;
}

static const struct block table_iter_no_block = {NULL, 0, 0};

static int table_iter_fail(struct table_iter *ti, int rc)
{
    ti->status = rc;
    cache_block_release(ti->cb);
    ti->cb = NULL;
    block_iter_reset(&ti->bi, &table_iter_no_block, BLOCK_KEYS_INTERNAL, NULL, 0);
    return rc;
}

/* Points bi at the data block under the index cursor (keeping it if it is already there). */
static int table_iter_load(struct table_iter *ti)
{
    if (!ti->ic.valid) {
        cache_block_release(ti->cb);
        ti->cb = NULL;
        block_iter_reset(&ti->bi, &table_iter_no_block, BLOCK_KEYS_INTERNAL, NULL, 0);
        return 0;
    }
    struct block_handle h = index_cursor_handle(&ti->ic);
    struct block b;
    if (ti->cb && ti->cb_offset == h.offset) {
        block_parse(&b, ti->cb->data, ti->cb->size);
    } else {
        cache_block_release(ti->cb);
        ti->cb = NULL;
        int rc = table_block(ti->t, &ti->ro, table_iter_readahead(ti, h), h, &ti->cb);
        if (rc == 0) rc = table_block_parse(ti->t, ti->cb, h, &b);
        if (rc) return table_iter_fail(ti, rc);
        ti->cb_offset = h.offset;
    }
    block_iter_reset(&ti->bi, &b, BLOCK_KEYS_INTERNAL, ti->t->path, h.offset);
    return 0;
}

static int table_iter_check(struct table_iter *ti, int rc)
{
    if (rc == 0) rc = ti->bi.status;
    return rc ? table_iter_fail(ti, rc) : 0;
}

/* The user-key part of the separator under the index cursor. */
static const uint8_t *table_iter_sep_user(const struct table_iter *ti, size_t *len)
{
    const uint8_t *sep = index_cursor_key(&ti->ic, len);
    if (!ti->ic.r->user_keys) *len = *len >= IKEY_TRAILER ? *len - IKEY_TRAILER : 0;
    return sep;
}

/* Whether the blocks after the cursor's lie at or above the upper bound: their keys follow
 * the separator, whose user key is then >= upper. Stops a bounded scan before it reads them. */
static int table_iter_past_upper(const struct table_iter *ti)
{
    if (!ti->ro.upper) return 0;
    size_t n;
    const uint8_t *sep = table_iter_sep_user(ti, &n);
    return ikey_user_cmp(sep, n, ti->ro.upper, ti->ro.upper_len) >= 0;
}

/* Whether the block under the cursor lies below the lower bound: its keys are at most its
 * separator, whose user key is then < lower. */
static int table_iter_below_lower(const struct table_iter *ti)
{
    if (!ti->ro.lower || !ti->ic.valid) return 0;
    size_t n;
    const uint8_t *sep = table_iter_sep_user(ti, &n);
    return ikey_user_cmp(sep, n, ti->ro.lower, ti->ro.lower_len) < 0;
}

/* Leaves the iterator not valid at the edge of its bounds, holding no block. */
static int table_iter_stop(struct table_iter *ti)
{
    index_cursor_release(&ti->ic);
    return table_iter_load(ti);
}

/* Moves forward past empty blocks until bi holds an entry or the index ends. */
static int table_iter_skip_forward(struct table_iter *ti)
{
    while (!block_iter_valid(&ti->bi)) {
        if (ti->bi.status) return table_iter_fail(ti, ti->bi.status);
        if (!ti->ic.valid) return 0;
        if (table_iter_past_upper(ti)) return table_iter_stop(ti);
        int rc = index_cursor_next(&ti->ic);
        if (rc == 0) rc = table_iter_load(ti);
        if (rc == 0 && ti->ic.valid) rc = block_iter_seek_to_first(&ti->bi);
        if (rc) return table_iter_check(ti, rc);
    }
    return 0;
}

static int table_iter_skip_backward(struct table_iter *ti)
{
    while (!block_iter_valid(&ti->bi)) {
        if (ti->bi.status) return table_iter_fail(ti, ti->bi.status);
        if (!ti->ic.valid) return 0;
        int rc = index_cursor_prev(&ti->ic);
        if (rc == 0 && table_iter_below_lower(ti)) return table_iter_stop(ti);
        if (rc == 0) rc = table_iter_load(ti);
        if (rc == 0 && ti->ic.valid) rc = block_iter_seek_to_last(&ti->bi);
        if (rc) return table_iter_check(ti, rc);
    }
    return 0;
}

static int table_iter_seek(iter *it, const uint8_t *k, size_t n)
{
    struct table_iter *ti = (struct table_iter *)it;
    ti->status = 0;
    if (n < IKEY_TRAILER)
        return table_iter_fail(ti, err_set(LAMINA_EINVAL, "seek: key of %zu bytes", n));
    int rc = index_cursor_seek(&ti->ic, k, n);
    if (rc == 0) rc = table_iter_load(ti);
    if (rc == 0 && ti->ic.valid) rc = block_iter_seek(&ti->bi, k, n);
    if (rc) return table_iter_check(ti, rc);
    return table_iter_skip_forward(ti);
}

static int table_iter_seek_to_first(iter *it)
{
    struct table_iter *ti = (struct table_iter *)it;
    ti->status = 0;
    int rc = index_cursor_seek_to_first(&ti->ic);
    if (rc == 0) rc = table_iter_load(ti);
    if (rc == 0 && ti->ic.valid) rc = block_iter_seek_to_first(&ti->bi);
    if (rc) return table_iter_check(ti, rc);
    return table_iter_skip_forward(ti);
}

static int table_iter_seek_to_last(iter *it)
{
    struct table_iter *ti = (struct table_iter *)it;
    ti->status = 0;
    int rc = index_cursor_seek_to_last(&ti->ic);
    if (rc == 0) rc = table_iter_load(ti);
    if (rc == 0 && ti->ic.valid) rc = block_iter_seek_to_last(&ti->bi);
    if (rc) return table_iter_check(ti, rc);
    return table_iter_skip_backward(ti);
}

static int table_iter_next(iter *it)
{
    struct table_iter *ti = (struct table_iter *)it;
    if (ti->status || !block_iter_valid(&ti->bi)) return ti->status;
    int rc = block_iter_next(&ti->bi);
    if (rc) return table_iter_check(ti, rc);
    return table_iter_skip_forward(ti);
}

static int table_iter_prev(iter *it)
{
    struct table_iter *ti = (struct table_iter *)it;
    if (ti->status || !block_iter_valid(&ti->bi)) return ti->status;
    int rc = block_iter_prev(&ti->bi);
    if (rc) return table_iter_check(ti, rc);
    return table_iter_skip_backward(ti);
}

static int table_iter_valid(const iter *it)
{
    const struct table_iter *ti = (const struct table_iter *)it;
    return ti->status == 0 && block_iter_valid(&ti->bi);
}

/* The last entry <= k is in the block the index names for k (its separator is the first >= k)
 * or before it: never in a later block, so a bounded scan reads none. */
static int table_iter_seek_for_prev(iter *it, const uint8_t *k, size_t n)
{
    struct table_iter *ti = (struct table_iter *)it;
    ti->status = 0;
    if (n < IKEY_TRAILER)
        return table_iter_fail(ti, err_set(LAMINA_EINVAL, "seek: key of %zu bytes", n));
    int rc = index_cursor_seek(&ti->ic, k, n);
    if (rc) return table_iter_check(ti, rc);
    if (!ti->ic.valid) return table_iter_seek_to_last(it);
    rc = table_iter_load(ti);
    if (rc == 0 && ti->ic.valid) rc = block_iter_seek_for_prev(&ti->bi, k, n);
    if (rc) return table_iter_check(ti, rc);
    return table_iter_skip_backward(ti);
}

static const uint8_t *table_iter_key(const iter *it, size_t *len)
{
    const struct table_iter *ti = (const struct table_iter *)it;
    *len = ti->bi.key_len;
    return ti->bi.key;
}

static const uint8_t *table_iter_value(const iter *it, size_t *len)
{
    const struct table_iter *ti = (const struct table_iter *)it;
    *len = ti->bi.val_len;
    return ti->bi.val;
}

static int table_iter_status(const iter *it)
{
    return ((const struct table_iter *)it)->status;
}

static void table_iter_destroy(iter *it)
{
    struct table_iter *ti = (struct table_iter *)it;
    index_cursor_release(&ti->ic);
    cache_block_release(ti->cb);
    block_iter_free(&ti->bi);
    readahead_free(&ti->ra);
    table_unref(ti->t);
    mem_free(ti);
}

static const struct iter_ops table_iter_ops = {
    .seek = table_iter_seek,
    .seek_for_prev = table_iter_seek_for_prev,
    .seek_to_first = table_iter_seek_to_first,
    .seek_to_last = table_iter_seek_to_last,
    .next = table_iter_next,
    .prev = table_iter_prev,
    .valid = table_iter_valid,
    .key = table_iter_key,
    .value = table_iter_value,
    .status = table_iter_status,
    .destroy = table_iter_destroy,
};

iter *table_iter_create(table *t, const struct table_read_options *ro)
{
    struct table_iter *ti = mem_alloc(sizeof(*ti));
    if (!ti) return NULL;
    ti->base.ops = &table_iter_ops;
    ti->t = t;
    ti->ro = ro ? *ro : table_read_defaults;
    index_cursor_init(&ti->ic, &t->index, ti->ro.fill_cache);
    ti->cb = NULL;
    ti->cb_offset = 0;
    ti->next_off = UINT64_MAX;
    ti->run = 0;
    ti->status = 0;
    block_iter_init(&ti->bi);
    block_iter_reset(&ti->bi, &table_iter_no_block, BLOCK_KEYS_INTERNAL, NULL, 0);
    readahead_init(&ti->ra, ti->ro.readahead_initial ? ti->ro.readahead_initial : 8192,
                   ti->ro.readahead_max);
    table_ref(t);
    return &ti->base;
}

/* ---- Verification --------------------------------------------------------------------- */

struct table_verify_ctx {
    table *t;
    uint64_t entries;
    buf prev_key; /* last key of the previous data block */
    buf prev_sep;
    int have_sep; /* prev_sep holds the previous block's separator (it may be empty) */
    int user_keys;
    struct block_iter bi;
};

static int table_verify_block(void *ctx, const uint8_t *sep, size_t slen, struct block_handle h)
{
    struct table_verify_ctx *v = ctx;
    table *t = v->t;
    struct cache_block *cb;
    int rc = block_read(&t->src, h, 1, &cb);
    if (rc) return rc;
    struct block b;
    unsigned long long off = (unsigned long long)h.offset;
    if (block_parse(&b, cb->data, cb->size)) {
        rc = err_set(LAMINA_ECORRUPT, "%s: data block at offset %llu: bad restart array", t->path,
                     off);
        goto out;
    }
    block_iter_reset(&v->bi, &b, BLOCK_KEYS_INTERNAL, t->path, h.offset);
    rc = block_iter_seek_to_first(&v->bi);
    if (rc == 0 && !block_iter_valid(&v->bi)) {
        rc = err_set(LAMINA_ECORRUPT, "%s: data block at offset %llu is empty", t->path, off);
        goto out;
    }
    if (rc == 0 && v->have_sep &&
        index_sep_cmp(v->user_keys, v->bi.key, v->bi.key_len, v->prev_sep.data, v->prev_sep.len) <=
            0) {
        rc = err_set(LAMINA_ECORRUPT,
                     "%s: data block at offset %llu: first key not after the "
                     "previous separator",
                     t->path, off);
        goto out;
    }
    while (rc == 0 && block_iter_valid(&v->bi)) {
        if (v->prev_key.len &&
            ikey_cmp(v->prev_key.data, v->prev_key.len, v->bi.key, v->bi.key_len) >= 0) {
            rc = err_set(LAMINA_ECORRUPT, "%s: data block at offset %llu (+%u): keys out of order",
                         t->path, off, (unsigned)v->bi.cur);
            goto out;
        }
        int type = ikey_type(v->bi.key, v->bi.key_len);
        if (type != IKEY_VALUE && type != IKEY_DELETION) {
            rc = err_set(LAMINA_ECORRUPT, "%s: data block at offset %llu (+%u): entry of type %d",
                         t->path, off, (unsigned)v->bi.cur, type);
            goto out;
        }
        buf_clear(&v->prev_key);
        if (buf_append(&v->prev_key, v->bi.key, v->bi.key_len)) {
            rc = err_set(LAMINA_ENOMEM, "table_verify: out of memory");
            goto out;
        }
        v->entries++;
        rc = block_iter_next(&v->bi);
    }
    if (rc) goto out;
    if (index_sep_cmp(v->user_keys, v->prev_key.data, v->prev_key.len, sep, slen) > 0) {
        rc = err_set(LAMINA_ECORRUPT, "%s: data block at offset %llu: last key after its separator",
                     t->path, off);
        goto out;
    }
    buf_clear(&v->prev_sep);
    v->have_sep = 1;
    if (buf_append(&v->prev_sep, sep, slen))
        rc = err_set(LAMINA_ENOMEM, "table_verify: out of memory");
out:
    cache_block_release(cb);
    return rc;
}

int table_verify(table *t, uint64_t *entries)
{
    struct table_verify_ctx v = {.t = t, .user_keys = t->index.user_keys};
    struct table_props props;
    block_iter_init(&v.bi);
    if (entries) *entries = 0;
    int rc = 0;
    if (t->footer.filter.size > 0) {
        struct cache_block *fb;
        rc = block_read(&t->src, t->footer.filter, 1, &fb);
        if (rc) goto out;
        cache_block_release(fb);
    }
    struct cache_block *pb;
    rc = block_read(&t->src, t->footer.properties, 1, &pb);
    if (rc) goto out;
    rc = table_props_decode(pb->data, pb->size, t->path, t->footer.properties.offset, &props);
    cache_block_release(pb);
    if (rc) goto out;
    if (props.range_del_size) {
        struct block_handle h = {props.range_del_offset, props.range_del_size};
        uint64_t n = 0;
        struct cache_block *rb;
        rc = block_read(&t->src, h, 1, &rb);
        if (rc) goto out;
        rc = table_parse_range_dels(t, rb, h, NULL, &n);
        cache_block_release(rb);
        if (rc == 0 && n != props.range_deletions)
            rc = err_set(LAMINA_ECORRUPT, "%s: %llu range tombstones found, properties record %llu",
                         t->path, (unsigned long long)n, (unsigned long long)props.range_deletions);
        if (rc) goto out;
    }
    rc = index_verify(&t->src, &t->footer, table_verify_block, &v);
    if (rc) goto out;
    if (v.entries != props.entries) {
        rc = err_set(LAMINA_ECORRUPT, "%s: %llu entries found, properties record %llu", t->path,
                     (unsigned long long)v.entries, (unsigned long long)props.entries);
        goto out;
    }
    if (entries) *entries = v.entries;
out:
    block_iter_free(&v.bi);
    buf_free(&v.prev_key);
    buf_free(&v.prev_sep);
    return rc;
}
