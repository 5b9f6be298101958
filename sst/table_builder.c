/* table_builder.c — writes a table from internal keys in increasing order, in one pass:
 * data blocks (LevelDB block format), then the Bloom filter over the user keys, the index (of
 * the kind the options name), the properties block and the fixed footer (docs/format.md). */
#include <stdlib.h>
#include <string.h>

#include "bloom/bloom.h"
#include "lamina.h"
#include "sst/block.h"
#include "sst/format.h"
#include "sst/index.h"
#include "sst/table.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

struct table_builder {
    struct table_options o;
    struct block_writer w;
    struct block_builder data;
    struct index_builder index;
    buf first_key, last_key;
    buf sep;        /* separator scratch */
    int user_keys;  /* format 2: user-key separators, a user key's versions in one block */
    int block_full; /* the data block reached block_size; format 2 cuts it at the next user key */
    int pending;    /* a data block was written and awaits its index entry */
    struct block_handle pending_handle;
    uint64_t *hashes; /* bloom_hash of each distinct user key */
    size_t nhashes, hashes_cap;
    struct table_props props;
    /* Range tombstones: their block, the last one added (internal key), the first one (the
     * smallest internal key among them) and the largest end key. */
    struct block_builder rdel;
    buf rdel_last, rdel_first, rdel_end;
    int status; /* first error; every later call returns it */
    int finished;
};

void table_meta_free(struct table_meta *m)
{
    if (!m) return;
    mem_free(m->smallest);
    mem_free(m->largest);
    m->smallest = m->largest = NULL;
    m->smallest_len = m->largest_len = 0;
}

table_builder *table_builder_create(wfile *f, uint64_t file_number, const struct table_options *o)
{
    table_builder *b = mem_calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->o = *o;
    if (b->o.block_size < 64) b->o.block_size = 64;
    if (b->o.restart_interval < 1) b->o.restart_interval = 1;
    if (b->o.bloom_bits < 0) b->o.bloom_bits = 0;
    if (b->o.bloom_bits > 64) b->o.bloom_bits = 64;
    if (b->o.compression != LAMINA_COMPRESSION_ZSTD) b->o.compression = LAMINA_COMPRESSION_NONE;
    if (b->o.format_version == 0) b->o.format_version = TABLE_FORMAT_VERSION;
    if (b->o.format_version < TABLE_FORMAT_MIN_VERSION ||
        b->o.format_version > TABLE_FORMAT_VERSION ||
        (b->o.index_type == LAMINA_INDEX_FST && b->o.format_version < 2)) {
        err_set(LAMINA_EINVAL, "table builder: format version %d with index kind %d",
                b->o.format_version, b->o.index_type);
        mem_free(b);
        return NULL;
    }
    b->user_keys = b->o.format_version >= 2;
    if (block_writer_init(&b->w, f, file_number, b->o.compression, b->o.zstd_level)) {
        mem_free(b);
        return NULL;
    }
    if (index_builder_init(&b->index, b->o.index_type, &b->w, b->o.block_size)) {
        block_writer_free(&b->w);
        mem_free(b);
        return NULL;
    }
    block_builder_init(&b->data, b->o.restart_interval);
    block_builder_init(&b->rdel, b->o.restart_interval);
    b->props.block_size = b->o.block_size;
    b->props.bloom_bits = (uint64_t)b->o.bloom_bits;
    b->props.compression = (uint64_t)b->o.compression;
    b->props.restart_interval = (uint64_t)b->o.restart_interval;
    b->props.index_type = (uint64_t)b->o.index_type;
    b->props.format_version = (uint64_t)b->o.format_version;
    b->props.smallest_seq = UINT64_MAX;
    return b;
}

void table_builder_destroy(table_builder *b)
{
    if (!b) return;
    block_writer_free(&b->w);
    block_builder_free(&b->data);
    block_builder_free(&b->rdel);
    buf_free(&b->rdel_last);
    buf_free(&b->rdel_first);
    buf_free(&b->rdel_end);
    index_builder_free(&b->index);
    buf_free(&b->first_key);
    buf_free(&b->last_key);
    buf_free(&b->sep);
    mem_free(b->hashes);
    mem_free(b);
}

static int table_builder_fail(table_builder *b, int rc)
{
    if (b->status == 0) b->status = rc;
    return rc;
}

static int table_builder_flush(table_builder *b)
{
    if (block_builder_empty(&b->data)) return 0;
    int rc = block_builder_finish(&b->data);
    if (rc) return rc;
    rc = block_writer_write(&b->w, &b->data.data, b->o.compression == LAMINA_COMPRESSION_ZSTD,
                            &b->pending_handle);
    if (rc) return rc;
    b->pending = 1;
    b->props.data_blocks++;
    b->props.data_bytes += b->pending_handle.size + BLOCK_TRAILER_SIZE;
    block_builder_reset(&b->data);
    b->block_full = 0;
    return 0;
}

static int table_builder_add_hash(table_builder *b, const uint8_t *ukey, size_t ulen)
{
    if (b->nhashes == b->hashes_cap) {
        size_t cap = b->hashes_cap ? 2 * b->hashes_cap : 1024;
        uint64_t *h = mem_realloc(b->hashes, cap * sizeof(*h));
        if (!h) return err_set(LAMINA_ENOMEM, "table builder: out of memory for filter hashes");
        b->hashes = h;
        b->hashes_cap = cap;
    }
    b->hashes[b->nhashes++] = bloom_hash(ukey, ulen);
    return 0;
}

int table_builder_add(table_builder *b, const uint8_t *ikey, size_t ilen, const void *value,
                      size_t vlen)
{
    if (b->status) return b->status;
    if (b->finished) return err_set(LAMINA_EINVAL, "table builder: add after finish");
    if (ilen < IKEY_TRAILER)
        return err_set(LAMINA_EINVAL, "table builder: internal key of %zu bytes", ilen);
    int first = b->props.entries == 0;
    if (!first && ikey_cmp(b->last_key.data, b->last_key.len, ikey, ilen) >= 0)
        return err_set(LAMINA_EINVAL, "table builder: keys out of order");
    int rc = 0;
    size_t ulen = ikey_user_len(ilen);
    int new_user_key =
        first || ikey_user_cmp(b->last_key.data, ikey_user_len(b->last_key.len), ikey, ulen) != 0;
    /* A full block is cut before this key, unless (format 2) the key continues its block's
     * last user key: a user key's versions stay in one block, so its block is the one the
     * first separator >= the user key names. */
    if (b->block_full && (new_user_key || !b->user_keys)) {
        rc = table_builder_flush(b);
        if (rc) return table_builder_fail(b, rc);
    }
    if (b->pending) {
        /* The block before this key is complete: its separator can now be shortened. */
        rc = index_separator(&b->sep, b->user_keys, b->last_key.data, b->last_key.len, ikey, ilen);
        if (rc == 0) rc = index_builder_add(&b->index, b->sep.data, b->sep.len, b->pending_handle);
        if (rc) return table_builder_fail(b, rc);
        b->pending = 0;
    }
    if (b->o.bloom_bits > 0 && new_user_key) {
        rc = table_builder_add_hash(b, ikey, ulen);
        if (rc) return table_builder_fail(b, rc);
    }
    buf_clear(&b->last_key);
    if (buf_append(&b->last_key, ikey, ilen) || (first && buf_append(&b->first_key, ikey, ilen)))
        return table_builder_fail(b, err_set(LAMINA_ENOMEM, "table builder: out of memory"));
    rc = block_builder_add(&b->data, ikey, ilen, value, vlen);
    if (rc) return table_builder_fail(b, rc);
    uint64_t seq = ikey_seq(ikey, ilen);
    if (seq < b->props.smallest_seq) b->props.smallest_seq = seq;
    if (seq > b->props.largest_seq) b->props.largest_seq = seq;
    b->props.entries++;
    if (ikey_type(ikey, ilen) == IKEY_DELETION) b->props.deletions++;
    b->props.raw_key_bytes += ilen;
    b->props.raw_value_bytes += vlen;
    b->block_full = block_builder_size(&b->data) >= b->o.block_size;
    return 0;
}

int table_builder_add_range_del(table_builder *b, const uint8_t *begin, size_t begin_len,
                                const uint8_t *end, size_t end_len, uint64_t seq)
{
    if (b->status) return b->status;
    if (b->finished) return err_set(LAMINA_EINVAL, "table builder: add after finish");
    if (ikey_user_cmp(begin, begin_len, end, end_len) >= 0)
        return err_set(LAMINA_EINVAL, "table builder: empty range tombstone");
    size_t old = b->rdel_last.len;
    int first = b->props.range_deletions == 0;
    if (buf_reserve(&b->rdel_last, begin_len + IKEY_TRAILER))
        return table_builder_fail(b, err_set(LAMINA_ENOMEM, "table builder: out of memory"));
    uint8_t *ik = b->rdel_last.data + old;
    ikey_encode(ik, begin, begin_len, seq, IKEY_RANGE_DELETION);
    size_t ilen = begin_len + IKEY_TRAILER;
    if (!first && ikey_cmp(b->rdel_last.data, old, ik, ilen) >= 0)
        return err_set(LAMINA_EINVAL, "table builder: range tombstones out of order");
    memmove(b->rdel_last.data, ik, ilen);
    b->rdel_last.len = ilen;
    int rc = block_builder_add(&b->rdel, b->rdel_last.data, ilen, end, end_len);
    if (rc == 0 && first && buf_append(&b->rdel_first, b->rdel_last.data, ilen))
        rc = err_set(LAMINA_ENOMEM, "table builder: out of memory");
    if (rc == 0 && (first || ikey_user_cmp(end, end_len, b->rdel_end.data, b->rdel_end.len) > 0)) {
        buf_clear(&b->rdel_end);
        if (buf_reserve(&b->rdel_end, end_len + IKEY_TRAILER) ||
            (end_len && buf_append(&b->rdel_end, end, end_len)))
            rc = err_set(LAMINA_ENOMEM, "table builder: out of memory");
    }
    if (rc) return table_builder_fail(b, rc);
    if (seq < b->props.smallest_seq) b->props.smallest_seq = seq;
    if (seq > b->props.largest_seq) b->props.largest_seq = seq;
    b->props.range_deletions++;
    return 0;
}

uint64_t table_builder_size(const table_builder *b)
{
    return b->w.offset + (block_builder_empty(&b->data) ? 0 : block_builder_size(&b->data));
}

uint64_t table_builder_entries(const table_builder *b)
{
    return b->props.entries;
}

static int table_builder_write_meta(table_builder *b, struct table_footer *ft)
{
    buf tmp = {0};
    int rc = 0;
    ft->filter.offset = ft->filter.size = 0;
    if (b->props.range_deletions) {
        struct block_handle h;
        rc = block_builder_finish(&b->rdel);
        if (rc == 0)
            rc = block_writer_write(&b->w, &b->rdel.data,
                                    b->o.compression == LAMINA_COMPRESSION_ZSTD, &h);
        if (rc) goto out;
        b->props.range_del_offset = h.offset;
        b->props.range_del_size = h.size;
        ft->flags |= TABLE_FOOTER_RANGE_DELS;
    }
    if (b->o.bloom_bits > 0 && b->nhashes > 0) {
        rc = bloom_build(b->hashes, b->nhashes, b->o.bloom_bits, &tmp);
        if (rc == 0) rc = block_writer_write(&b->w, &tmp, 0, &ft->filter);
        if (rc) goto out;
        b->props.filter_bytes = ft->filter.size + BLOCK_TRAILER_SIZE;
    }
    rc = index_builder_finish(&b->index, ft);
    if (rc) goto out;
    b->props.index_levels = ft->index_levels;
    b->props.index_bytes = b->index.bytes;
    if (b->props.entries == 0 && b->props.range_deletions == 0) b->props.smallest_seq = 0;
    buf_clear(&tmp);
    rc = table_props_encode(&b->props, &tmp);
    if (rc == 0) rc = block_writer_write(&b->w, &tmp, 0, &ft->properties);
out:
    buf_free(&tmp);
    return rc;
}

int table_builder_finish(table_builder *b, struct table_meta *meta)
{
    memset(meta, 0, sizeof(*meta));
    if (b->status) return b->status;
    if (b->finished) return err_set(LAMINA_EINVAL, "table builder: finished twice");
    int rc = table_builder_flush(b);
    if (rc == 0 && b->pending) {
        rc = index_successor(&b->sep, b->user_keys, b->last_key.data, b->last_key.len);
        if (rc == 0) rc = index_builder_add(&b->index, b->sep.data, b->sep.len, b->pending_handle);
        b->pending = 0;
    }
    struct table_footer ft = {0};
    if (rc == 0) rc = table_builder_write_meta(b, &ft);
    if (rc) return table_builder_fail(b, rc);
    ft.file_number = b->w.file_number;
    ft.format_version = (uint32_t)b->o.format_version;
    uint8_t footer[TABLE_FOOTER_SIZE];
    table_footer_encode(footer, &ft);
    rc = wfile_append(b->w.f, footer, sizeof(footer));
    if (rc) return table_builder_fail(b, rc);
    b->w.offset += sizeof(footer);

    meta->file_number = b->w.file_number;
    meta->file_size = b->w.offset;
    meta->entries = b->props.entries;
    meta->deletions = b->props.deletions;
    meta->smallest_seq = b->props.smallest_seq;
    meta->largest_seq = b->props.largest_seq;
    meta->range_deletions = b->props.range_deletions;
    if (b->props.entries || b->props.range_deletions) {
        /* The key range covers the tombstones too: (largest end, IKEY_MAX_SEQ,
         * IKEY_RANGE_DELETION) sorts before every entry of that end key, which they spare. */
        const buf *lo = &b->first_key, *hi = &b->last_key;
        if (b->props.range_deletions) {
            size_t n = b->rdel_end.len;
            ikey_encode(b->rdel_end.data + n, NULL, 0, IKEY_MAX_SEQ, IKEY_RANGE_DELETION);
            b->rdel_end.len = n + IKEY_TRAILER;
            if (!b->props.entries ||
                ikey_cmp(b->rdel_first.data, b->rdel_first.len, lo->data, lo->len) < 0)
                lo = &b->rdel_first;
            if (!b->props.entries ||
                ikey_cmp(b->rdel_end.data, b->rdel_end.len, hi->data, hi->len) > 0)
                hi = &b->rdel_end;
        }
        meta->smallest = mem_alloc(lo->len);
        meta->largest = mem_alloc(hi->len);
        if (!meta->smallest || !meta->largest) {
            table_meta_free(meta);
            return table_builder_fail(b, err_set(LAMINA_ENOMEM, "table builder: out of memory"));
        }
        memcpy(meta->smallest, lo->data, lo->len);
        meta->smallest_len = lo->len;
        memcpy(meta->largest, hi->data, hi->len);
        meta->largest_len = hi->len;
    }
    b->finished = 1;
    return 0;
}
