/* sst_writer.c — lamina_sst_writer_*: one table file written outside any database from keys
 * given in increasing order (RocksDB's SstFileWriter), through the same table builder as
 * flushes and compactions (sst/table.h; layout in docs/format.md). */
#include <stdio.h>
#include <string.h>

#include "engine/db_impl.h"
#include "engine/filename.h"
#include "engine/options.h"
#include "sst/table.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/file.h"
#include "util/ikey.h"

struct lamina_sst_writer {
    char *path;
    wfile *f;
    table_builder *b;
    buf last;  /* the previous user key */
    buf ikey;  /* the internal key being added */
    int added; /* an entry was added (last holds its key) */
    int state; /* 0 open, 1 finished, or the LAMINA_E* code that failed it */
};

/* The file number a table named path is written with: NNNNNN for NNNNNN.sst (lamina_sst_open
 * then finds it from the name), else 0 (it reads the footer's). */
static uint64_t sst_writer_number(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    uint64_t number;
    char kind;
    return db_parse_file_name(base, &number, &kind) && kind == 't' ? number : 0;
}

LAMINA_API int lamina_sst_writer_create(const char *path, const lamina_options *opts,
                                        lamina_sst_writer **out)
{
    if (!out) return err_set(LAMINA_EINVAL, "lamina_sst_writer_create: NULL out");
    *out = NULL;
    if (!path) return err_set(LAMINA_EINVAL, "lamina_sst_writer_create: NULL path");
    lamina_options o;
    int rc = options_copy(&o, opts);
    if (rc) return rc;
    if (file_exists(path))
        return err_set(LAMINA_EEXIST, "lamina_sst_writer_create: %s already exists", path);
    lamina_sst_writer *w = mem_calloc(1, sizeof(*w));
    if (!w || !(w->path = mem_strdup(path))) {
        mem_free(w);
        return err_set(LAMINA_ENOMEM, "%s: out of memory for a table writer", path);
    }
    struct table_options to = {
        .block_size = (size_t)o.block_size,
        .restart_interval = (int)o.block_restart_interval,
        .compression = o.compression_type,
        .zstd_level = (int)o.zstd_level,
        .bloom_bits = (int)o.bloom_bits,
        .index_type = o.index_type,
        .format_version = (int)o.format_version,
    };
    if ((rc = wfile_create(path, &w->f))) {
        mem_free(w->path);
        mem_free(w);
        return rc;
    }
    err_clear();
    if (!(w->b = table_builder_create(w->f, sst_writer_number(path), &to))) {
        /* An option the builder refuses (an FST index in format 1) set its message. */
        rc = err_message()[0] ? LAMINA_EINVAL : err_set(LAMINA_ENOMEM, "%s: out of memory", path);
        w->state = rc;
        lamina_sst_writer_destroy(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* Adds one entry of type (IKEY_VALUE / IKEY_DELETION) after the checks every add makes. */
static int sst_writer_add(lamina_sst_writer *w, int type, const void *key, size_t key_len,
                          const void *value, size_t value_len, const char *fn)
{
    if (!w || (!key && key_len) || (!value && value_len))
        return err_set(LAMINA_EINVAL, "%s: NULL argument", fn);
    if (w->state == 1) return err_set(LAMINA_EINVAL, "%s: %s is already finished", fn, w->path);
    if (w->state)
        return err_set(LAMINA_EINVAL, "%s: %s failed earlier (%s)", fn, w->path,
                       lamina_strerror(w->state));
    if (!db_check_sizes(key_len, value_len))
        return err_set(LAMINA_EINVAL,
                       "%s: key of %zu bytes or value of %zu bytes over the limits (%u, %u)", fn,
                       key_len, value_len, LAMINA_MAX_KEY_LEN, LAMINA_MAX_VALUE_LEN);
    if (w->added && ikey_user_cmp(key, key_len, w->last.data, w->last.len) <= 0)
        return err_set(LAMINA_EINVAL,
                       "%s: %s: keys must be added in strictly increasing order (a key of %zu "
                       "bytes is not greater than the previous one)",
                       fn, w->path, key_len);
    buf_clear(&w->ikey);
    int rc = buf_reserve(&w->ikey, key_len + IKEY_TRAILER);
    if (rc) return err_set(LAMINA_ENOMEM, "%s: out of memory", fn);
    ikey_encode(w->ikey.data, key, key_len, 0, type);
    w->ikey.len = key_len + IKEY_TRAILER;
    rc = table_builder_add(w->b, w->ikey.data, w->ikey.len, value, value_len);
    if (rc) {
        w->state = rc;
        return rc;
    }
    buf_clear(&w->last);
    if (buf_append(&w->last, key, key_len)) {
        /* The order check needs the key: without it the writer cannot go on. */
        w->state = err_set(LAMINA_ENOMEM, "%s: out of memory", fn);
        return w->state;
    }
    w->added = 1;
    return 0;
}

LAMINA_API int lamina_sst_writer_put(lamina_sst_writer *w, const void *key, size_t key_len,
                                     const void *value, size_t value_len)
{
    return sst_writer_add(w, IKEY_VALUE, key, key_len, value, value_len, "lamina_sst_writer_put");
}

LAMINA_API int lamina_sst_writer_delete(lamina_sst_writer *w, const void *key, size_t key_len)
{
    return sst_writer_add(w, IKEY_DELETION, key, key_len, NULL, 0, "lamina_sst_writer_delete");
}

/* The directory holding path ("." for a bare name), for the directory sync. */
static void sst_writer_dir(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

LAMINA_API int lamina_sst_writer_finish(lamina_sst_writer *w, uint64_t *entries)
{
    if (!w) return err_set(LAMINA_EINVAL, "lamina_sst_writer_finish: NULL writer");
    if (w->state == 1)
        return err_set(LAMINA_EINVAL, "lamina_sst_writer_finish: %s is already finished", w->path);
    if (w->state)
        return err_set(LAMINA_EINVAL, "lamina_sst_writer_finish: %s failed earlier (%s)", w->path,
                       lamina_strerror(w->state));
    if (!w->added) {
        w->state =
            err_set(LAMINA_EINVAL, "lamina_sst_writer_finish: %s: no entry was added", w->path);
        return w->state;
    }
    struct table_meta meta;
    memset(&meta, 0, sizeof(meta));
    char dir[4096];
    int rc = table_builder_finish(w->b, &meta);
    if (rc == 0) rc = wfile_sync(w->f);
    wfile *f = w->f;
    w->f = NULL;
    int crc = wfile_close(f);
    if (rc == 0) rc = crc;
    if (rc == 0) {
        sst_writer_dir(w->path, dir, sizeof(dir));
        rc = dir_sync(dir);
    }
    uint64_t n = meta.entries;
    table_meta_free(&meta);
    if (rc) {
        w->state = rc;
        return rc;
    }
    if (entries) *entries = n;
    w->state = 1;
    return 0;
}

LAMINA_API void lamina_sst_writer_destroy(lamina_sst_writer *w)
{
    if (!w) return;
    if (w->b) table_builder_destroy(w->b);
    if (w->f) (void)wfile_close(w->f);
    /* A table not finished is incomplete: remove what this writer created. */
    if (w->state != 1) (void)file_remove(w->path);
    buf_free(&w->last);
    buf_free(&w->ikey);
    mem_free(w->path);
    mem_free(w);
}
