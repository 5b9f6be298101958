/* ingest.c — lamina_ingest: external table files added to a live database in one version
 * edit (RocksDB's IngestExternalFile). Each file is verified, rewritten under a new table
 * number with one new sequence number, and placed at the deepest level its key range fits;
 * docs/design.md, "Ingesting tables", says why it rewrites. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db_impl.h"
#include "engine/filename.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/file.h"
#include "util/ikey.h"

struct ingest_file {
    const char *path; /* the caller's, borrowed */
    lamina_sst *sst;
    lamina_sst_props props; /* key range borrowed from sst */
    uint64_t number;        /* the database's table, once written (0: none) */
    struct table_meta meta;
    int level;
    uint64_t run;
};

/* Opens and verifies one file: every block's checksum, the entries' order and count. */
static int ingest_open(struct ingest_file *f)
{
    int rc = lamina_sst_open(f->path, &f->sst);
    if (rc) return rc;
    if ((rc = lamina_sst_verify(f->sst, NULL))) return rc;
    f->props.struct_size = sizeof(f->props);
    if ((rc = lamina_sst_properties(f->sst, &f->props))) return rc;
    if (f->props.entries == 0 || !f->props.smallest_key)
        return err_set(LAMINA_EINVAL, "lamina_ingest: %s holds no entry", f->path);
    return 0;
}

static int ingest_file_cmp(const void *a, const void *b)
{
    const struct ingest_file *x = a, *y = b;
    return ikey_user_cmp(x->props.smallest_key, x->props.smallest_key_len, y->props.smallest_key,
                         y->props.smallest_key_len);
}

/* Whether m holds a key within any file's [smallest, largest]. 0 or LAMINA_ENOMEM. */
static int ingest_mem_overlaps(memtable *m, const struct ingest_file *files, size_t n, int *out)
{
    *out = 0;
    if (memtable_count(m) == 0) return 0;
    iter *it = memtable_iter_create(m);
    if (!it) return err_set(LAMINA_ENOMEM, "lamina_ingest: out of memory");
    buf target = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0 && !*out; i++) {
        const lamina_sst_props *p = &files[i].props;
        buf_clear(&target);
        if ((rc = buf_reserve(&target, p->smallest_key_len + IKEY_TRAILER))) {
            rc = err_set(LAMINA_ENOMEM, "lamina_ingest: out of memory");
            break;
        }
        ikey_encode(target.data, p->smallest_key, p->smallest_key_len, IKEY_SEEK_SEQ, IKEY_VALUE);
        target.len = p->smallest_key_len + IKEY_TRAILER;
        if ((rc = iter_seek(it, target.data, target.len))) break;
        if (iter_valid(it)) {
            size_t kl;
            const uint8_t *k = iter_key(it, &kl);
            *out = ikey_user_cmp(k, ikey_user_len(kl), p->largest_key, p->largest_key_len) <= 0;
        }
    }
    buf_free(&target);
    iter_destroy(it);
    return rc;
}

/* Holding the writer queue (mu held): makes sure no memtable holds a key of the files' ranges,
 * by freezing the active memtable if it does and waiting for the flushes of those that do. */
static int ingest_flush_overlapping(lamina_db *db, const struct ingest_file *files, size_t n)
{
    int overlaps;
    int rc = ingest_mem_overlaps(db->mem, files, n, &overlaps);
    if (rc == 0 && overlaps) rc = db_writers_switch_memtable(db);
    uint64_t upto = 0;
    for (size_t i = 0; rc == 0 && i < db->nimm; i++) {
        rc = ingest_mem_overlaps(db->imm[i].mem, files, n, &overlaps);
        if (rc == 0 && overlaps) upto = db->imm[i].id;
    }
    if (rc || !upto) return rc;
    pthread_cond_broadcast(&db->bg_cv);
    while (db->flushed_upto < upto && !db->bg_error && !db->shutdown)
        pthread_cond_wait(&db->done_cv, &db->mu);
    if (db->bg_error) return db_readonly_error(db);
    if (db->shutdown) return err_set(LAMINA_EBUSY, "lamina_ingest: the database is closing");
    return 0;
}

/* Rewriting one file: its newest entry of each key, at sequence number seq. */
struct ingest_rewrite {
    table_builder *b;
    uint64_t seq;
    buf prev, ikey;
    int have_prev;
    int rc;
    const char *path;
};

static int ingest_rewrite_entry(void *ctx, const void *key, size_t key_len, uint64_t seq, int type,
                                const void *value, size_t value_len)
{
    struct ingest_rewrite *rw = ctx;
    (void)seq;
    /* Versions of a key come newest first: the first one is the one kept. */
    if (rw->have_prev && ikey_user_cmp(key, key_len, rw->prev.data, rw->prev.len) == 0) return 0;
    if (!db_check_sizes(key_len, value_len)) {
        rw->rc = err_set(LAMINA_EINVAL,
                         "lamina_ingest: %s holds a key of %zu bytes or a value of %zu bytes over "
                         "the limits (%u, %u)",
                         rw->path, key_len, value_len, LAMINA_MAX_KEY_LEN, LAMINA_MAX_VALUE_LEN);
        return 1;
    }
    buf_clear(&rw->prev);
    buf_clear(&rw->ikey);
    if (buf_append(&rw->prev, key, key_len) || buf_reserve(&rw->ikey, key_len + IKEY_TRAILER)) {
        rw->rc = err_set(LAMINA_ENOMEM, "lamina_ingest: out of memory");
        return 1;
    }
    rw->have_prev = 1;
    ikey_encode(rw->ikey.data, key, key_len, rw->seq,
                type == LAMINA_SST_DELETION ? IKEY_DELETION : IKEY_VALUE);
    rw->ikey.len = key_len + IKEY_TRAILER;
    rw->rc = table_builder_add(rw->b, rw->ikey.data, rw->ikey.len, value, value_len);
    return rw->rc != 0;
}

/* Writes f's entries at seq into the database's new table f->number, synced, with the
 * source table's own format choices (block size, compression, filter bits, index kind). */
static int ingest_rewrite(lamina_db *db, struct ingest_file *f, uint64_t seq)
{
    char path[DB_PATH_MAX + 32];
    const lamina_sst_props *p = &f->props;
    struct table_options to = db->topts;
    to.block_size = (size_t)p->block_size;
    to.restart_interval = (int)p->restart_interval;
    if (p->compression >= 0) to.compression = p->compression;
    to.bloom_bits = (int)p->bloom_bits;
    if (p->index_type >= 0) to.index_type = p->index_type;
    to.format_version = (int)p->format_version;
    struct ingest_rewrite rw = {.seq = seq, .path = f->path};
    wfile *out = NULL;
    f->number = version_set_new_file_number(&db->vs);
    db_file_name(path, sizeof(path), db->path, f->number, "sst");
    int rc = wfile_create(path, &out);
    if (rc) {
        f->number = 0;
        return rc;
    }
    err_clear();
    if (!(rw.b = table_builder_create(out, f->number, &to))) {
        rc = err_message()[0] ? LAMINA_EINVAL
                              : err_set(LAMINA_ENOMEM, "lamina_ingest: out of memory");
        goto out;
    }
    rc = lamina_sst_scan(f->sst, NULL, 0, ingest_rewrite_entry, &rw);
    if (rc == 0) rc = rw.rc;
    if (rc == 0) rc = table_builder_finish(rw.b, &f->meta);
    if (rc == 0) rc = wfile_sync(out);
out:
    if (rw.b) table_builder_destroy(rw.b);
    int crc = wfile_close(out);
    if (rc == 0) rc = crc;
    buf_free(&rw.prev);
    buf_free(&rw.ikey);
    return rc;
}

/* Whether a table of level l of v overlaps f's key range. */
static int ingest_level_overlaps(const struct version *v, int l, const struct ingest_file *f)
{
    const lamina_sst_props *p = &f->props;
    for (size_t r = 0; r < v->levels[l].nruns; r++)
        for (size_t i = 0; i < v->levels[l].runs[r].nfiles; i++)
            if (file_overlaps(v->levels[l].runs[r].files[i], p->smallest_key, p->smallest_key_len,
                              p->largest_key, p->largest_key_len))
                return 1;
    return 0;
}

/* Places each file (mu held, compactions stopped): the deepest level such that neither it nor
 * a level above holds a table overlapping the file's range; level 0 (a new run) when level 0
 * does. A file joins the newest run of a level that has runs (no table of the level overlaps
 * it, so the run stays sorted and disjoint); the files going to a level without runs, or to
 * level 0, form one new run there. */
static void ingest_place(lamina_db *db, struct ingest_file *files, size_t n)
{
    const struct version *v = db->vs.current;
    uint64_t new_run[COMPACTION_MAX_LEVELS] = {0};
    for (size_t i = 0; i < n; i++) {
        int level = 0;
        for (int l = 0; l < v->num_levels && !ingest_level_overlaps(v, l, &files[i]); l++)
            level = l;
        files[i].level = level;
        if (level > 0 && v->levels[level].nruns) {
            files[i].run = v->levels[level].runs[0].id;
        } else {
            if (!new_run[level]) new_run[level] = db->vs.next_run++;
            files[i].run = new_run[level];
        }
    }
}

static int ingest_edit(const struct ingest_file *files, size_t n, uint64_t seq,
                       struct version_edit *e)
{
    e->has_last_seq = 1;
    e->last_sequence = seq;
    for (size_t i = 0; i < n; i++) {
        const struct table_meta *m = &files[i].meta;
        struct edit_file ef = {
            .level = files[i].level,
            .run = files[i].run,
            .file_number = files[i].number,
            .file_size = m->file_size,
            .entries = m->entries,
            .smallest = m->smallest,
            .smallest_len = m->smallest_len,
            .largest = m->largest,
            .largest_len = m->largest_len,
            .smallest_seq = m->smallest_seq,
            .largest_seq = m->largest_seq,
        };
        if (version_edit_add_file(e, &ef))
            return err_set(LAMINA_ENOMEM, "lamina_ingest: out of memory");
    }
    return 0;
}

LAMINA_API int lamina_ingest(lamina_db *db, const char *const *paths, size_t n, unsigned flags)
{
    if (!db || (!paths && n)) return err_set(LAMINA_EINVAL, "lamina_ingest: NULL argument");
    if (flags & ~(unsigned)LAMINA_INGEST_MOVE)
        return err_set(LAMINA_EINVAL, "lamina_ingest: unknown flags 0x%x", flags);
    for (size_t i = 0; i < n; i++)
        if (!paths[i]) return err_set(LAMINA_EINVAL, "lamina_ingest: paths[%zu] is NULL", i);
    if (n == 0) return 0;
    struct ingest_file *files = mem_calloc(n, sizeof(*files));
    if (!files) return err_set(LAMINA_ENOMEM, "lamina_ingest: out of memory");
    struct version_edit edit;
    version_edit_init(&edit);
    struct writer w;
    int rc = 0, holding = 0, stopped = 0, logged = 0;
    uint64_t seq = 0;
    char path[DB_PATH_MAX + 32];

    for (size_t i = 0; i < n && rc == 0; i++) {
        files[i].path = paths[i];
        rc = ingest_open(&files[i]);
    }
    if (rc) goto out;
    qsort(files, n, sizeof(*files), ingest_file_cmp);
    for (size_t i = 1; i < n; i++)
        if (ikey_user_cmp(files[i - 1].props.largest_key, files[i - 1].props.largest_key_len,
                          files[i].props.smallest_key, files[i].props.smallest_key_len) >= 0) {
            rc = err_set(LAMINA_EINVAL, "lamina_ingest: the key ranges of %s and %s overlap",
                         files[i - 1].path, files[i].path);
            goto out;
        }

    /* No write may take a sequence number, or reach a memtable, between the overlap check and
     * the edit: the files' entries must read as newer than every write before them and older
     * than every write after. */
    db_writers_hold(db, &w);
    holding = 1;
    if (db->bg_error || db->resuming) {
        rc = db_readonly_error(db);
        goto out;
    }
    if (db->shutdown) {
        rc = err_set(LAMINA_EBUSY, "lamina_ingest: the database is closing");
        goto out;
    }
    if ((rc = ingest_flush_overlapping(db, files, n))) goto out;
    /* A running compaction could write a table across the files' ranges at the level chosen
     * for them: wait for those running, and start none until the edit is in. */
    db->manual_compaction++;
    stopped = 1;
    while (db->compactions_running && !db->bg_error && !db->shutdown)
        pthread_cond_wait(&db->done_cv, &db->mu);
    if (db->bg_error) {
        rc = db_readonly_error(db);
        goto out;
    }
    if (db->shutdown) {
        rc = err_set(LAMINA_EBUSY, "lamina_ingest: the database is closing");
        goto out;
    }
    seq = db->next_seq + 1;
    pthread_mutex_unlock(&db->mu);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = ingest_rewrite(db, &files[i], seq);
    pthread_mutex_lock(&db->mu);
    if (rc) goto out;
    ingest_place(db, files, n);
    pthread_mutex_unlock(&db->mu);
    rc = ingest_edit(files, n, seq, &edit);
    /* The MANIFEST records seq as the last sequence number before any reader can use it. */
    if (rc == 0) {
        logged = 1;
        rc = db_log_and_apply(db, &edit, 0);
    }
    pthread_mutex_lock(&db->mu);
    if (rc == 0) {
        /* Published only now that the tables are in the current version: a reader whose
         * sequence number covers them finds the super version holding them. */
        db->next_seq = seq;
        atomic_store_explicit(&db->last_sequence, seq, memory_order_release);
    }

out:
    if (rc && !logged) {
        /* Tables no MANIFEST names: removed (a failed edit leaves them to the next open's
         * sweep, since a record that failed its sync may still have reached the disk). */
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", err_message());
        for (size_t i = 0; i < n; i++)
            if (files[i].number) {
                db_file_name(path, sizeof(path), db->path, files[i].number, "sst");
                (void)file_remove(path);
            }
        err_set(rc, "%s", msg);
    }
    if (stopped) {
        db->manual_compaction--;
        pthread_cond_broadcast(&db->bg_cv);
        pthread_cond_broadcast(&db->done_cv);
    }
    if (holding) db_writers_release(db, &w);
    if (rc == 0) {
        db_log(db, "ingested %zu table(s) at sequence %" PRIu64, n, seq);
        for (size_t i = 0; i < n; i++)
            db_log(db, "ingested %s as table %06" PRIu64 " at level %d", files[i].path,
                   files[i].number, files[i].level);
    }
    for (size_t i = 0; i < n; i++) {
        lamina_sst_close(files[i].sst);
        table_meta_free(&files[i].meta);
    }
    if (rc == 0 && (flags & LAMINA_INGEST_MOVE))
        for (size_t i = 0; i < n; i++)
            (void)file_remove(paths[i]);
    version_edit_free(&edit);
    mem_free(files);
    return rc;
}
