/* sst_file.c — the public read-only table-file API (lamina_sst_*): one table opened on its own,
 * outside any database, for kvctl sst-dump (RocksDB's sst_dump). It wraps the table reader of
 * sst/table.h; the file format is docs/format.md's. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/check.h"
#include "engine/filename.h"
#include "sst/table.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* The footer format: a table whose name carries no number is opened with its footer's. */
#include "sst/format.h"
#include "util/file.h"

struct lamina_sst {
    table *t;
    char *path;
    int have_props;         /* props and the key range below are loaded */
    lamina_sst_props props; /* the full figures, keys pointing into smallest / largest */
    buf smallest, largest;
};

/* Reads path's footer into *footer. 0 or a LAMINA_E* code with the message set. */
static int sst_file_read_footer(const char *path, struct table_footer *footer)
{
    rfile *f;
    int rc = rfile_open(path, &f);
    if (rc) return rc;
    uint64_t size = rfile_size(f);
    uint8_t raw[TABLE_FOOTER_SIZE];
    if (size < TABLE_FOOTER_SIZE) {
        rc = err_set(LAMINA_ECORRUPT,
                     "%s: not a Lamina table (%llu bytes, shorter than the footer at offset 0)",
                     path, (unsigned long long)size);
        goto out;
    }
    rc = rfile_read(f, size - TABLE_FOOTER_SIZE, raw, sizeof(raw));
    if (rc) goto out;
    rc = table_footer_decode(raw, path, footer);
    if (rc == LAMINA_ECORRUPT) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", err_message());
        rc = err_set(rc, "%s (footer at offset %llu)", msg,
                     (unsigned long long)(size - TABLE_FOOTER_SIZE));
    }
out:
    rfile_close(f);
    return rc;
}


/* The file number to open path with: NNNNNN.sst's number, else the footer's. */
static int sst_file_number(const char *path, uint64_t *number)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char kind;
    if (db_parse_file_name(base, number, &kind) && kind == 't') return 0;
    struct table_footer footer;
    int rc = sst_file_read_footer(path, &footer);
    if (rc == 0) *number = footer.file_number;
    return rc;
}

LAMINA_API int lamina_sst_open(const char *path, lamina_sst **out)
{
    if (!out) return err_set(LAMINA_EINVAL, "lamina_sst_open: NULL out");
    *out = NULL;
    if (!path) return err_set(LAMINA_EINVAL, "lamina_sst_open: NULL path");
    lamina_sst *s = mem_calloc(1, sizeof(*s));
    if (!s) return err_set(LAMINA_ENOMEM, "%s: out of memory opening a table", path);
    int rc;
    uint64_t number = 0;
    s->path = mem_strdup(path);
    if (!s->path) {
        rc = err_set(LAMINA_ENOMEM, "%s: out of memory opening a table", path);
        goto fail;
    }
    rc = sst_file_number(path, &number);
    if (rc == 0) rc = table_open(path, number, NULL, 0, &s->t);
    if (rc) goto fail;
    *out = s;
    return 0;
fail:
    lamina_sst_close(s);
    return rc;
}

LAMINA_API void lamina_sst_close(lamina_sst *sst)
{
    if (!sst) return;
    table_unref(sst->t);
    buf_free(&sst->smallest);
    buf_free(&sst->largest);
    mem_free(sst->path);
    mem_free(sst);
}

static const struct table_read_options sst_file_read_options = {.verify_checksums = 1,
                                                                .fill_cache = 0};

/* 0 when k (n bytes) is an internal key of a value or a tombstone, else LAMINA_ECORRUPT. */
static int sst_file_check_key(const lamina_sst *s, const uint8_t *k, size_t n)
{
    if (n < IKEY_TRAILER)
        return err_set(LAMINA_ECORRUPT, "%s: an entry's key of %zu bytes has no sequence number",
                       s->path, n);
    int type = ikey_type(k, n);
    if (type != IKEY_VALUE && type != IKEY_DELETION)
        return err_set(LAMINA_ECORRUPT, "%s: an entry of unknown type %d", s->path, type);
    return 0;
}

/* Copies the user key of it's current entry into b. */
static int sst_file_user_key(const lamina_sst *s, const iter *it, buf *b)
{
    size_t n;
    const uint8_t *k = iter_key(it, &n);
    int rc = sst_file_check_key(s, k, n);
    if (rc) return rc;
    buf_clear(b);
    if (buf_append(b, k, ikey_user_len(n)))
        return err_set(LAMINA_ENOMEM, "%s: out of memory for a %zu-byte key", s->path, n);
    return 0;
}

/* Reads the first and last entry's user keys into the handle. */
static int sst_file_key_range(lamina_sst *s, int *empty)
{
    iter *it = table_iter_create(s->t, &sst_file_read_options);
    if (!it) return err_set(LAMINA_ENOMEM, "%s: out of memory for an iterator", s->path);
    int rc = iter_seek_to_first(it);
    *empty = rc == 0 && !iter_valid(it);
    if (rc == 0 && !*empty) rc = sst_file_user_key(s, it, &s->smallest);
    if (rc == 0 && !*empty) rc = iter_seek_to_last(it);
    if (rc == 0 && !*empty && iter_valid(it)) rc = sst_file_user_key(s, it, &s->largest);
    if (rc == 0) rc = iter_status(it);
    iter_destroy(it);
    return rc;
}

#define SST_FILE_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The properties block records the builder's LAMINA_COMPRESSION_* and LAMINA_INDEX_* choices. */
static const char *const sst_file_compressions[] = {
    [LAMINA_COMPRESSION_NONE] = "none", [LAMINA_COMPRESSION_ZSTD] = "zstd"};
static const char *const sst_file_indexes[] = {
    [LAMINA_INDEX_BTREE] = "btree", [LAMINA_INDEX_FST] = "fst"};

/* names[v] with *code = v, or "unknown" with *code = -1 for a value this library does not know. */
static const char *sst_file_choice(uint64_t v, const char *const *names, size_t n, int *code)
{
    if (v >= n || !names[v]) {
        *code = -1;
        return "unknown";
    }
    *code = (int)v;
    return names[v];
}

/* Loads the full figures into s->props once. */
static int sst_file_load(lamina_sst *s)
{
    struct table_props p;
    int empty = 0;
    int rc = table_props_get(s->t, &p);
    if (rc == 0) rc = sst_file_key_range(s, &empty);
    if (rc) return rc;
    lamina_sst_props *o = &s->props;
    *o = (lamina_sst_props){
        .struct_size = sizeof(*o),
        .file_number = table_file_number(s->t),
        .file_size = table_file_size(s->t),
        .entries = p.entries,
        .deletions = p.deletions,
        .data_blocks = p.data_blocks,
        .data_bytes = p.data_bytes,
        .raw_key_bytes = p.raw_key_bytes,
        .raw_value_bytes = p.raw_value_bytes,
        .index_bytes = p.index_bytes,
        .index_levels = p.index_levels,
        .filter_bytes = p.filter_bytes,
        .bloom_bits = p.bloom_bits,
        .block_size = p.block_size,
        .restart_interval = p.restart_interval,
        .format_version = p.format_version,
        .smallest_seq = p.smallest_seq,
        .largest_seq = p.largest_seq,
        .range_deletions = p.range_deletions,
    };
    o->compression_name = sst_file_choice(p.compression, sst_file_compressions,
                                          SST_FILE_COUNT(sst_file_compressions), &o->compression);
    o->index_name = sst_file_choice(p.index_type, sst_file_indexes,
                                    SST_FILE_COUNT(sst_file_indexes), &o->index_type);
    if (!empty) {
        o->smallest_key = s->smallest.data;
        o->smallest_key_len = s->smallest.len;
        o->largest_key = s->largest.data;
        o->largest_key_len = s->largest.len;
    }
    s->have_props = 1;
    return 0;
}

LAMINA_API int lamina_sst_properties(lamina_sst *sst, lamina_sst_props *out)
{
    if (!sst || !out) return err_set(LAMINA_EINVAL, "lamina_sst_properties: NULL argument");
    if (out->struct_size < offsetof(lamina_sst_props, file_number) + sizeof(uint64_t))
        return err_set(LAMINA_EINVAL,
                       "lamina_sst_properties: struct_size %zu is too small (set it to "
                       "sizeof(lamina_sst_props))",
                       out->struct_size);
    int rc = sst->have_props ? 0 : sst_file_load(sst);
    if (rc) return rc;
    check_copy_stats(out, &sst->props, sizeof(sst->props));
    return 0;
}

LAMINA_API int lamina_sst_verify(lamina_sst *sst, uint64_t *entries)
{
    if (!sst) return err_set(LAMINA_EINVAL, "lamina_sst_verify: NULL table");
    uint64_t n = 0;
    int rc = table_verify(sst->t, &n);
    if (rc == 0 && entries) *entries = n;
    return rc;
}

LAMINA_API int lamina_sst_scan(lamina_sst *sst, const void *from, size_t from_len,
                               lamina_sst_entry_fn fn, void *ctx)
{
    if (!sst || !fn) return err_set(LAMINA_EINVAL, "lamina_sst_scan: NULL argument");
    if (from && from_len > LAMINA_MAX_KEY_LEN)
        return err_set(LAMINA_EINVAL, "lamina_sst_scan: a from key of %zu bytes", from_len);
    uint8_t *lookup = NULL;
    iter *it = table_iter_create(sst->t, &sst_file_read_options);
    if (!it) return err_set(LAMINA_ENOMEM, "%s: out of memory for an iterator", sst->path);
    int rc;
    if (from) {
        lookup = mem_alloc(from_len + IKEY_TRAILER);
        if (!lookup) {
            rc = err_set(LAMINA_ENOMEM, "%s: out of memory for a seek key", sst->path);
            goto out;
        }
        /* The newest version sorts first, so this finds the first entry of from or after. */
        ikey_encode(lookup, from, from_len, IKEY_SEEK_SEQ, IKEY_VALUE);
        rc = iter_seek(it, lookup, from_len + IKEY_TRAILER);
    } else {
        rc = iter_seek_to_first(it);
    }
    while (rc == 0 && iter_valid(it)) {
        size_t kn, vn;
        const uint8_t *k = iter_key(it, &kn), *v = iter_value(it, &vn);
        rc = sst_file_check_key(sst, k, kn);
        if (rc) break;
        int kind = ikey_type(k, kn) == IKEY_VALUE ? LAMINA_SST_VALUE : LAMINA_SST_DELETION;
        if (fn(ctx, k, ikey_user_len(kn), ikey_seq(k, kn), kind, v, vn) != 0) break;
        rc = iter_next(it);
    }
    if (rc == 0) rc = iter_status(it);
out:
    mem_free(lookup);
    iter_destroy(it);
    return rc;
}
