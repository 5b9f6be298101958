/* inspect.c — reading a database's metadata for inspection (kvctl files, manifest-dump,
 * wal-dump): the live tables of the current version (RocksDB's GetLiveFilesMetaData), and every
 * edit of a MANIFEST and every record of a WAL decoded from the files alone, taking no LOCK and
 * writing nothing (RocksDB's ldb manifest_dump and dump_wal). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/check.h"
#include "engine/db_impl.h"
#include "engine/filename.h"
#include "engine/log.h"
#include "engine/version_edit.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/file.h"
#include "util/ikey.h"

/* ---- Live tables ------------------------------------------------------------------------- */

/* A table's public description; keys are the user keys of f's internal keys (borrowed). */
static void inspect_table_info(lamina_table_info *t, int level, uint64_t run, uint64_t number,
                               uint64_t size, uint64_t entries, uint64_t smallest_seq,
                               uint64_t largest_seq, const uint8_t *smallest, size_t smallest_len,
                               const uint8_t *largest, size_t largest_len)
{
    memset(t, 0, sizeof(*t));
    t->struct_size = sizeof(*t);
    t->level = level;
    t->run = run;
    t->file_number = number;
    t->file_size = size;
    t->entries = entries;
    t->smallest_seq = smallest_seq;
    t->largest_seq = largest_seq;
    /* Internal keys shorter than a trailer never reach a version; guard anyway. */
    t->smallest_key = smallest;
    t->smallest_key_len = smallest_len >= IKEY_TRAILER ? ikey_user_len(smallest_len) : 0;
    t->largest_key = largest;
    t->largest_key_len = largest_len >= IKEY_TRAILER ? ikey_user_len(largest_len) : 0;
}

LAMINA_API int lamina_live_tables(lamina_db *db, lamina_table_fn fn, void *ctx)
{
    if (!db || !fn) return err_set(LAMINA_EINVAL, "lamina_live_tables: NULL argument");
    uint64_t seq;
    struct super_version *sv = db_sv_acquire(db, &seq);
    const struct version *v = sv->v;
    int stop = 0;
    for (int l = 0; !stop && l < v->num_levels; l++) {
        for (size_t r = 0; !stop && r < v->levels[l].nruns; r++) {
            const struct run *run = &v->levels[l].runs[r];
            for (size_t i = 0; !stop && i < run->nfiles; i++) {
                const struct file_meta *f = run->files[i];
                lamina_table_info t;
                inspect_table_info(&t, l, run->id, f->number, f->size, f->entries, f->smallest_seq,
                                   f->largest_seq, f->smallest, f->smallest_len, f->largest,
                                   f->largest_len);
                stop = fn(ctx, &t);
            }
        }
    }
    db_sv_release(sv);
    return LAMINA_OK;
}

/* ---- Reading a log file record by record ---------------------------------------------------- */

/* Calls record(ctx, offset, bytes, len) for each record of the log at path, in order, until it
 * returns non-zero (returned). A torn tail ends the walk with 0; damage to a complete record is
 * LAMINA_ECORRUPT with the log reader's message (file, offset, why). */
static int inspect_log_walk(const char *path,
                            int (*record)(void *ctx, uint64_t off, const uint8_t *rec, size_t n),
                            void *ctx)
{
    if (!file_exists(path)) return err_set(LAMINA_ENOENT, "%s: no such file", path);
    log_reader *lr = NULL;
    buf rec = {0};
    int rc = log_reader_open(path, &lr);
    while (rc == 0) {
        /* Where the record starts: just past the previous one, or past a block's padding. */
        uint64_t off = log_reader_end_offset(lr);
        if (LOG_BLOCK_SIZE - off % LOG_BLOCK_SIZE < LOG_HEADER_SIZE)
            off += LOG_BLOCK_SIZE - off % LOG_BLOCK_SIZE;
        rc = log_reader_next(lr, &rec);
        if (rc == 1)
            rc = record(ctx, off, rec.data, rec.len);
        else if (rc == 0)
            break;
    }
    log_reader_close(lr);
    buf_free(&rec);
    return rc;
}

/* Re-raises the thread's message (a decoder's, which names no file) as rc about path at off. */
static int inspect_error_at(int rc, const char *path, uint64_t off)
{
    char why[512];
    snprintf(why, sizeof(why), "%s", err_message());
    return err_set(rc, "%s: offset %" PRIu64 ": %s", path, off, why);
}

/* The file number in a path's last component ("dir/000012.log" -> 12), or 0. */
static uint64_t inspect_file_number(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    uint64_t number;
    char kind;
    return db_parse_file_name(base, &number, &kind) ? number : 0;
}

/* ---- MANIFEST ------------------------------------------------------------------------------ */

struct inspect_manifest {
    lamina_manifest_fn fn;
    void *ctx;
    const char *path;
    uint64_t number, index;
};

/* Builds the public edit from e (arrays allocated here, freed by the caller) and calls fn. */
static int inspect_manifest_edit(struct inspect_manifest *m, uint64_t off,
                                 const struct version_edit *e)
{
    lamina_manifest_edit pe;
    lamina_level_work levels[EDIT_STATS_LEVELS];
    memset(&pe, 0, sizeof(pe));
    pe.struct_size = sizeof(pe);
    pe.manifest_number = m->number;
    pe.offset = off;
    pe.index = m->index;
    pe.has_log_number = e->has_log_number;
    pe.log_number = e->log_number;
    pe.has_next_file = e->has_next_file;
    pe.next_file_number = e->next_file_number;
    pe.has_last_sequence = e->has_last_seq;
    pe.last_sequence = e->last_sequence;
    pe.has_next_run = e->has_next_run;
    pe.next_run = e->next_run;
    pe.has_identity = e->has_identity;
    pe.wals_tracked = e->wals_tracked;
    pe.wals_added = e->wals_added;
    pe.nwals_added = e->nwals_added;
    pe.skipped = e->skipped;
    pe.nskipped = e->nskipped;
    lamina_table_info *added = e->nadded ? mem_calloc(e->nadded, sizeof(*added)) : NULL;
    int *dl = e->ndeleted ? mem_calloc(e->ndeleted, sizeof(*dl)) : NULL;
    uint64_t *dn = e->ndeleted ? mem_calloc(e->ndeleted, sizeof(*dn)) : NULL;
    if ((e->nadded && !added) || (e->ndeleted && (!dl || !dn))) {
        mem_free(added);
        mem_free(dl);
        mem_free(dn);
        return err_set(LAMINA_ENOMEM, "%s: out of memory", m->path);
    }
    for (size_t i = 0; i < e->nadded; i++) {
        const struct edit_file *f = &e->added[i];
        inspect_table_info(&added[i], f->level, f->run, f->file_number, f->file_size, f->entries,
                           f->smallest_seq, f->largest_seq, f->smallest, f->smallest_len,
                           f->largest, f->largest_len);
    }
    for (size_t i = 0; i < e->ndeleted; i++) {
        dl[i] = e->deleted[i].level;
        dn[i] = e->deleted[i].file_number;
    }
    pe.added = added;
    pe.nadded = e->nadded;
    pe.deleted_levels = dl;
    pe.deleted_numbers = dn;
    pe.ndeleted = e->ndeleted;
    pe.has_stats = e->has_stats;
    if (e->has_stats) {
        pe.user_bytes = e->stats.user_bytes;
        pe.flush_bytes = e->stats.flush_bytes;
        pe.flush_count = e->stats.flush_count;
        pe.flush_micros = e->stats.flush_micros;
        /* Levels up to the deepest one with work, so a reader sees no trail of zero rows. */
        size_t n = 0;
        for (size_t l = 0; l < EDIT_STATS_LEVELS; l++) {
            const struct edit_level_stats *s = &e->stats.level[l];
            levels[l] = (lamina_level_work){s->bytes_read, s->bytes_written, s->count, s->micros};
            if (s->bytes_read || s->bytes_written || s->count || s->micros) n = l + 1;
        }
        pe.levels = levels;
        pe.nlevels = n;
    }
    int rc = m->fn(m->ctx, &pe);
    mem_free(added);
    mem_free(dl);
    mem_free(dn);
    return rc;
}

static int inspect_manifest_record(void *ctx, uint64_t off, const uint8_t *rec, size_t n)
{
    struct inspect_manifest *m = ctx;
    struct version_edit e;
    int rc = version_edit_decode(&e, rec, n);
    if (rc == LAMINA_ECORRUPT) return inspect_error_at(rc, m->path, off);
    if (rc == 0) rc = inspect_manifest_edit(m, off, &e);
    version_edit_free(&e);
    m->index++;
    return rc;
}

/* The MANIFEST CURRENT names in dir: its path in out and its number. */
static int inspect_current(const char *dir, char *out, size_t cap, uint64_t *number)
{
    char path[DB_PATH_MAX + 32];
    uint8_t *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/CURRENT", dir);
    if (!file_exists(path)) return err_set(LAMINA_ENOENT, "%s: no database (no CURRENT file)", dir);
    int rc = file_read_all(path, &text, &len);
    if (rc) return rc;
    size_t l = len && text[len - 1] == '\n' ? len - 1 : len;
    if (l < 10 || memcmp(text, "MANIFEST-", 9) != 0 ||
        !db_parse_number((const char *)text + 9, l - 9, number))
        rc = err_set(LAMINA_ECORRUPT, "%s: does not hold \"MANIFEST-NNNNNN\"", path);
    else
        snprintf(out, cap, "%s/MANIFEST-%06" PRIu64, dir, *number);
    mem_free(text);
    return rc;
}

LAMINA_API int lamina_manifest_read(const char *path, const char *file, lamina_manifest_fn fn,
                                    void *ctx)
{
    if ((!path && !file) || !fn)
        return err_set(LAMINA_EINVAL, "lamina_manifest_read: NULL path and file, or NULL fn");
    if (path && strlen(path) >= DB_PATH_MAX - 64)
        return err_set(LAMINA_EINVAL, "lamina_manifest_read: path too long");
    char name[DB_PATH_MAX + 32];
    struct inspect_manifest m = {.fn = fn, .ctx = ctx, .path = name};
    if (file) {
        snprintf(name, sizeof(name), "%s", file);
        m.number = inspect_file_number(file);
    } else {
        int rc = inspect_current(path, name, sizeof(name), &m.number);
        if (rc) return rc;
    }
    return inspect_log_walk(name, inspect_manifest_record, &m);
}

/* ---- WAL ----------------------------------------------------------------------------------- */

struct inspect_wal {
    lamina_wal_fn fn;
    void *ctx;
    const char *path;
    uint64_t number;
    lamina_wal_op *ops;
    size_t nops, cap_ops;
    uint64_t seq;
};

static int inspect_wal_op(void *ctx, int type, const uint8_t *k, size_t kl, const uint8_t *v,
                          size_t vl)
{
    struct inspect_wal *w = ctx;
    if (w->nops == w->cap_ops)
        return err_set(LAMINA_ECORRUPT, "%s: more records than counted", w->path);
    /* On-disk record types are their own constants; map them to the public kinds. */
    w->ops[w->nops] = (lamina_wal_op){
        .type = type == IKEY_VALUE            ? LAMINA_SST_VALUE
                : type == IKEY_RANGE_DELETION ? LAMINA_SST_RANGE_DELETION
                                              : LAMINA_SST_DELETION,
        .seq = w->seq + w->nops,
        .key = k,
        .key_len = kl,
        .value = v,
        .value_len = vl,
    };
    w->nops++;
    return 0;
}

static int inspect_wal_record(void *ctx, uint64_t off, const uint8_t *rec, size_t n)
{
    struct inspect_wal *w = ctx;
    uint64_t seq;
    uint32_t count;
    int rc = batch_rep_check(rec, n, &seq, &count);
    if (rc) return inspect_error_at(rc, w->path, off);
    if (count > w->cap_ops) {
        lamina_wal_op *p = mem_realloc(w->ops, count * sizeof(*p));
        if (!p) return err_set(LAMINA_ENOMEM, "%s: out of memory", w->path);
        w->ops = p;
        w->cap_ops = count;
    }
    w->nops = 0;
    w->seq = seq;
    rc = batch_iterate(rec, n, inspect_wal_op, w);
    if (rc) return rc;
    lamina_wal_record r = {
        .struct_size = sizeof(r),
        .wal_number = w->number,
        .offset = off,
        .sequence = seq,
        .count = count,
        .bytes = n,
        .ops = w->ops,
    };
    return w->fn(w->ctx, &r);
}

static int inspect_wal_file(struct inspect_wal *w, const char *path, uint64_t number)
{
    w->path = path;
    w->number = number;
    return inspect_log_walk(path, inspect_wal_record, w);
}

static int inspect_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The WALs an open of dir would replay, ascending, into *out (mem_free): those the MANIFEST
 * records at or above its log number, or, for a MANIFEST from before WAL tracking, the WALs in
 * the directory at or above it. */
static int inspect_live_wals(const char *dir, uint64_t **out, size_t *n)
{
    char mpath[DB_PATH_MAX + 32];
    char **names = NULL;
    size_t nnames = 0;
    uint64_t number, num;
    char kind;
    *out = NULL;
    *n = 0;
    int rc = inspect_current(dir, mpath, sizeof(mpath), &number);
    if (rc) return rc;
    struct check_reporter r;
    struct check_manifest m;
    check_reporter_init(&r, dir, NULL, NULL);
    rc = check_manifest_read(dir, number, &r, &m);
    if (rc == 0 && m.damaged)
        rc =
            err_set(LAMINA_ECORRUPT, "%s: damaged (lamina_check or kvctl check tell where)", mpath);
    if (rc == 0 && !m.wals_tracked) rc = dir_list(dir, &names, &nnames);
    size_t cap = m.wals_tracked ? m.nwals : nnames;
    if (rc == 0 && cap && !(*out = mem_calloc(cap, sizeof(**out))))
        rc = err_set(LAMINA_ENOMEM, "%s: out of memory", dir);
    for (size_t i = 0; rc == 0 && m.wals_tracked && i < m.nwals; i++)
        if (m.wals[i] >= m.log_number) (*out)[(*n)++] = m.wals[i];
    for (size_t i = 0; rc == 0 && !m.wals_tracked && i < nnames; i++)
        if (db_parse_file_name(names[i], &num, &kind) && kind == 'l' && num >= m.log_number &&
            !check_has_number(m.skipped, m.nskipped, num))
            (*out)[(*n)++] = num;
    if (rc == 0 && *n) qsort(*out, *n, sizeof(**out), inspect_u64_cmp);
    if (rc) {
        mem_free(*out);
        *out = NULL;
        *n = 0;
    }
    if (names) dir_list_free(names, nnames);
    check_manifest_free(&m);
    return rc;
}

LAMINA_API int lamina_wal_read(const char *path, const char *file, lamina_wal_fn fn, void *ctx)
{
    if ((!path && !file) || !fn)
        return err_set(LAMINA_EINVAL, "lamina_wal_read: NULL path and file, or NULL fn");
    if (path && strlen(path) >= DB_PATH_MAX - 64)
        return err_set(LAMINA_EINVAL, "lamina_wal_read: path too long");
    struct inspect_wal w = {.fn = fn, .ctx = ctx};
    int rc;
    if (file) {
        rc = inspect_wal_file(&w, file, inspect_file_number(file));
    } else {
        uint64_t *wals;
        size_t n;
        char wpath[DB_PATH_MAX + 32];
        rc = inspect_live_wals(path, &wals, &n);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            db_file_name(wpath, sizeof(wpath), path, wals[i], "log");
            /* A live database deletes a WAL once its data is in a table: skip it then. */
            if (file_exists(wpath)) rc = inspect_wal_file(&w, wpath, wals[i]);
        }
        mem_free(wals);
    }
    mem_free(w.ops);
    return rc;
}
