/* format.c — writing stored blocks, and the footer and properties block of the table format
 * (docs/format.md, Part 2): each block is contents | compression byte | fixed32
 * checksum32(contents + byte, seed of file number and offset); zstd blocks are kept raw unless
 * compression saves at least 12.5%. Reading blocks is sst/fetch.c. */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "lamina.h"
#include "sst/block.h"
#include "sst/format.h"
#include "util/err.h"
#include "util/hash.h"

/* ---- Footer --------------------------------------------------------------------------- */

void table_footer_encode(uint8_t dst[TABLE_FOOTER_SIZE], const struct table_footer *f)
{
    memset(dst, 0, TABLE_FOOTER_SIZE);
    coding_put_fixed64(dst + 0, f->filter.offset);
    coding_put_fixed64(dst + 8, f->filter.size);
    coding_put_fixed64(dst + 16, f->index.offset);
    coding_put_fixed64(dst + 24, f->index.size);
    coding_put_fixed64(dst + 32, f->properties.offset);
    coding_put_fixed64(dst + 40, f->properties.size);
    coding_put_fixed64(dst + 48, f->file_number);
    dst[56] = f->index_levels;
    dst[57] = f->index_kind;
    dst[58] = f->flags;
    coding_put_fixed32(dst + 60, f->format_version);
    coding_put_fixed32(dst + 64, checksum32(dst, 64, 0));
    memcpy(dst + 68, TABLE_MAGIC, 8);
}

int table_footer_decode(const uint8_t src[TABLE_FOOTER_SIZE], const char *path,
                        struct table_footer *f)
{
    if (memcmp(src + 68, TABLE_MAGIC, 8) != 0)
        return err_set(LAMINA_ECORRUPT, "%s: not a Lamina table (bad magic)", path);
    if (coding_get_fixed32(src + 64) != checksum32(src, 64, 0))
        return err_set(LAMINA_ECORRUPT, "%s: footer checksum mismatch", path);
    f->filter.offset = coding_get_fixed64(src + 0);
    f->filter.size = coding_get_fixed64(src + 8);
    f->index.offset = coding_get_fixed64(src + 16);
    f->index.size = coding_get_fixed64(src + 24);
    f->properties.offset = coding_get_fixed64(src + 32);
    f->properties.size = coding_get_fixed64(src + 40);
    f->file_number = coding_get_fixed64(src + 48);
    f->index_levels = src[56];
    f->index_kind = src[57];
    f->flags = src[58];
    f->format_version = coding_get_fixed32(src + 60);
    if (f->format_version < TABLE_FORMAT_MIN_VERSION || f->format_version > TABLE_FORMAT_VERSION)
        return err_set(LAMINA_ECORRUPT,
                       "%s: unsupported table format version %u (this build reads %d to %d)", path,
                       (unsigned)f->format_version, TABLE_FORMAT_MIN_VERSION, TABLE_FORMAT_VERSION);
    return 0;
}

/* ---- Properties ----------------------------------------------------------------------- */

/* In bytewise name order, as a block's keys must be. */
static const struct {
    const char *name;
    size_t off;
} table_prop_fields[] = {
    {"block.size", offsetof(struct table_props, block_size)},
    {"bloom.bits", offsetof(struct table_props, bloom_bits)},
    {"compression", offsetof(struct table_props, compression)},
    {"data.blocks", offsetof(struct table_props, data_blocks)},
    {"data.bytes", offsetof(struct table_props, data_bytes)},
    {"deletions", offsetof(struct table_props, deletions)},
    {"entries", offsetof(struct table_props, entries)},
    {"filter.bytes", offsetof(struct table_props, filter_bytes)},
    {"format.version", offsetof(struct table_props, format_version)},
    {"index.bytes", offsetof(struct table_props, index_bytes)},
    {"index.levels", offsetof(struct table_props, index_levels)},
    {"index.type", offsetof(struct table_props, index_type)},
    {"range.del.offset", offsetof(struct table_props, range_del_offset)},
    {"range.del.size", offsetof(struct table_props, range_del_size)},
    {"range.deletions", offsetof(struct table_props, range_deletions)},
    {"raw.key.bytes", offsetof(struct table_props, raw_key_bytes)},
    {"raw.value.bytes", offsetof(struct table_props, raw_value_bytes)},
    {"restart.interval", offsetof(struct table_props, restart_interval)},
    {"seq.largest", offsetof(struct table_props, largest_seq)},
    {"seq.smallest", offsetof(struct table_props, smallest_seq)},
};
#define TABLE_PROP_COUNT (sizeof(table_prop_fields) / sizeof(table_prop_fields[0]))

int table_props_encode(const struct table_props *p, buf *out)
{
    struct block_builder bb;
    block_builder_init(&bb, 1);
    int rc = 0;
    for (size_t i = 0; i < TABLE_PROP_COUNT && rc == 0; i++) {
        uint64_t v;
        uint8_t enc[10];
        memcpy(&v, (const uint8_t *)p + table_prop_fields[i].off, sizeof(v));
        rc = block_builder_add(&bb, (const uint8_t *)table_prop_fields[i].name,
                               strlen(table_prop_fields[i].name), enc, coding_put_varint64(enc, v));
    }
    if (rc == 0) rc = block_builder_finish(&bb);
    if (rc == 0 && buf_append(out, bb.data.data, bb.data.len))
        rc = err_set(LAMINA_ENOMEM, "table builder: out of memory");
    block_builder_free(&bb);
    return rc;
}

int table_props_decode(const uint8_t *data, size_t size, const char *path, uint64_t offset,
                       struct table_props *p)
{
    struct block b;
    struct block_iter it;
    memset(p, 0, sizeof(*p));
    if (block_parse(&b, data, size))
        return err_set(LAMINA_ECORRUPT, "%s: properties block at offset %llu: bad restart array",
                       path, (unsigned long long)offset);
    block_iter_init(&it);
    block_iter_reset(&it, &b, BLOCK_KEYS_BYTES, path, offset);
    int rc = block_iter_seek_to_first(&it);
    while (rc == 0 && block_iter_valid(&it)) {
        for (size_t i = 0; i < TABLE_PROP_COUNT; i++) {
            const char *name = table_prop_fields[i].name;
            if (strlen(name) != it.key_len || memcmp(name, it.key, it.key_len) != 0) continue;
            uint64_t v = 0;
            if (coding_get_varint64(it.val, it.val + it.val_len, &v) != it.val + it.val_len) {
                rc =
                    err_set(LAMINA_ECORRUPT, "%s: properties block at offset %llu: bad value of %s",
                            path, (unsigned long long)offset, name);
                break;
            }
            memcpy((uint8_t *)p + table_prop_fields[i].off, &v, sizeof(v));
            break;
        }
        if (rc == 0) rc = block_iter_next(&it);
    }
    block_iter_free(&it);
    return rc;
}

/* ---- Writing -------------------------------------------------------------------------- */

int block_writer_init(struct block_writer *w, wfile *f, uint64_t file_number, int compression,
                      int zstd_level)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    w->file_number = file_number;
    w->offset = wfile_size(f);
    w->compression = compression;
    w->zstd_level = zstd_level;
    if (compression == LAMINA_COMPRESSION_ZSTD) {
        w->cctx = ZSTD_createCCtx();
        if (!w->cctx) return err_set(LAMINA_ENOMEM, "table builder: cannot create a zstd context");
    }
    return 0;
}

void block_writer_free(struct block_writer *w)
{
    ZSTD_freeCCtx(w->cctx);
    w->cctx = NULL;
    buf_free(&w->scratch);
}

/* Appends the trailer to b (whose last byte-to-be is the type) and writes it at w->offset. */
static int block_writer_emit(struct block_writer *w, buf *b, uint8_t type, struct block_handle *h)
{
    size_t n = b->len;
    if (buf_reserve(b, BLOCK_TRAILER_SIZE))
        return err_set(LAMINA_ENOMEM, "table builder: out of memory");
    b->data[n] = type;
    coding_put_fixed32(b->data + n + 1,
                       checksum32(b->data, n + 1, checksum_block_seed(w->file_number, w->offset)));
    b->len = n + BLOCK_TRAILER_SIZE;
    int rc = wfile_append(w->f, b->data, b->len);
    b->len = n;
    if (rc) return rc;
    h->offset = w->offset;
    h->size = n;
    w->offset += n + BLOCK_TRAILER_SIZE;
    return 0;
}

int block_writer_write(struct block_writer *w, buf *contents, int compress, struct block_handle *h)
{
    if (compress && w->cctx && contents->len > 0) {
        size_t bound = ZSTD_compressBound(contents->len);
        buf_clear(&w->scratch);
        if (buf_reserve(&w->scratch, bound + BLOCK_TRAILER_SIZE))
            return err_set(LAMINA_ENOMEM, "table builder: out of memory");
        size_t n = ZSTD_compressCCtx(w->cctx, w->scratch.data, bound, contents->data, contents->len,
                                     w->zstd_level);
        /* Keep the raw block unless zstd saves at least an eighth. */
        if (!ZSTD_isError(n) && n <= contents->len - contents->len / 8) {
            w->scratch.len = n;
            return block_writer_emit(w, &w->scratch, BLOCK_TYPE_ZSTD, h);
        }
    }
    return block_writer_emit(w, contents, BLOCK_TYPE_NONE, h);
}
