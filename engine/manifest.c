/* manifest.c — the version set's logged state: the MANIFEST (a log of version edits) named by
 * CURRENT, its replay at open and the snapshots that start a new one (LevelDB's VersionSet
 * recovery and LogAndApply's write half). */
#include "engine/manifest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/filename.h"
#include "util/alloc.h"
#include "util/err.h"

/* ---- Version set and MANIFEST ----------------------------------------------------------- */

void version_set_init(struct version_set *vs, const char *dbpath, block_cache *cache,
                      int num_levels)
{
    memset(vs, 0, sizeof(*vs));
    snprintf(vs->dbpath, sizeof(vs->dbpath), "%s", dbpath);
    vs->cache = cache;
    vs->num_levels = num_levels;
    vs->next_run = 1;
    atomic_init(&vs->next_file, 2);
    pthread_mutex_init(&vs->manifest_mu, NULL);
}

void version_set_close(struct version_set *vs)
{
    version_unref(vs->current);
    vs->current = NULL;
    if (vs->manifest) log_writer_destroy(vs->manifest);
    if (vs->manifest_file) (void)wfile_close(vs->manifest_file);
    vs->manifest = NULL;
    vs->manifest_file = NULL;
    pthread_mutex_destroy(&vs->manifest_mu);
}

void version_set_mark_file_used(struct version_set *vs, uint64_t number)
{
    uint64_t cur = atomic_load(&vs->next_file);
    while (cur <= number && !atomic_compare_exchange_weak(&vs->next_file, &cur, number + 1)) {
    }
}

int version_set_create_empty(struct version_set *vs)
{
    struct version *v = mem_calloc(1, sizeof(*v));
    if (!v) return err_set(LAMINA_ENOMEM, "version: out of memory");
    atomic_init(&v->refs, 1);
    v->vs = vs;
    v->num_levels = vs->num_levels;
    vs->current = v;
    return 0;
}

/* Copies the thread's message, so a new one can quote it. */
static void err_copy(char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", err_message());
}

int version_set_recover(struct version_set *vs, uint64_t *last_seq)
{
    char path[DB_PATH_MAX + 32], mpath[DB_PATH_MAX + 32], msg[512];
    uint8_t *cur = NULL;
    size_t cur_len = 0;
    log_reader *lr = NULL;
    buf rec = {0};
    int rc;
    snprintf(path, sizeof(path), "%s/CURRENT", vs->dbpath);
    if ((rc = file_read_all(path, &cur, &cur_len))) return rc;
    while (cur_len && (cur[cur_len - 1] == '\n' || cur[cur_len - 1] == '\r'))
        cur_len--;
    uint64_t mnum;
    if (cur_len < 10 || memcmp(cur, "MANIFEST-", 9) != 0 ||
        !db_parse_number((const char *)cur + 9, cur_len - 9, &mnum)) {
        mem_free(cur);
        return err_set(LAMINA_ECORRUPT, "%s: does not name a MANIFEST", path);
    }
    mem_free(cur);
    snprintf(mpath, sizeof(mpath), "%s/MANIFEST-%06" PRIu64, vs->dbpath, mnum);
    if ((rc = log_reader_open(mpath, &lr))) {
        if (!file_exists(mpath))
            rc = err_set(LAMINA_ECORRUPT, "%s names %s, which is missing", path, mpath);
        return rc;
    }
    if ((rc = version_set_create_empty(vs))) goto out;
    vs->manifest_number = mnum;
    version_set_mark_file_used(vs, mnum);
    int have_log = 0, have_next = 0, nrec = 0;
    *last_seq = 0;
    for (;;) {
        uint64_t off = log_reader_end_offset(lr);
        rc = log_reader_next(lr, &rec);
        if (rc == 0) break;
        if (rc < 0) goto out;
        struct version_edit e;
        rc = version_edit_decode(&e, rec.data, rec.len);
        if (rc) {
            err_copy(msg, sizeof(msg));
            rc = err_set(LAMINA_ECORRUPT, "%s: record at offset %" PRIu64 ": %s", mpath, off, msg);
            goto out;
        }
        struct version *nv;
        rc = version_apply(vs->current, &e, 0, &nv);
        if (rc == 0) {
            version_unref(vs->current);
            vs->current = nv;
        }
        if (e.has_log_number) {
            vs->log_number = e.log_number;
            have_log = 1;
        }
        if (e.has_next_file && e.next_file_number > 0) {
            version_set_mark_file_used(vs, e.next_file_number - 1);
            have_next = 1;
        }
        if (e.has_last_seq && e.last_sequence > *last_seq) *last_seq = e.last_sequence;
        if (e.has_next_run && e.next_run > vs->next_run) vs->next_run = e.next_run;
        for (size_t i = 0; i < e.nadded; i++) {
            if (e.added[i].run >= vs->next_run) vs->next_run = e.added[i].run + 1;
            version_set_mark_file_used(vs, e.added[i].file_number);
        }
        version_edit_free(&e);
        if (rc) {
            err_copy(msg, sizeof(msg));
            rc = err_set(rc, "%s: record at offset %" PRIu64 ": %s", mpath, off, msg);
            goto out;
        }
        nrec++;
    }
    if (!have_log || !have_next)
        rc = err_set(LAMINA_ECORRUPT, "%s: %s (%d records)", mpath,
                     nrec ? "no log number or next file number recorded" : "holds no edit", nrec);
out:
    buf_free(&rec);
    log_reader_close(lr);
    return rc;
}

static int version_edit_snapshot(const struct version *v, struct version_edit *e)
{
    for (int l = 0; l < v->num_levels; l++) {
        const struct level *lv = &v->levels[l];
        for (size_t r = 0; r < lv->nruns; r++)
            for (size_t i = 0; i < lv->runs[r].nfiles; i++) {
                const struct file_meta *f = lv->runs[r].files[i];
                struct edit_file ef = {
                    .level = l,
                    .run = f->run,
                    .file_number = f->number,
                    .file_size = f->size,
                    .entries = f->entries,
                    .smallest = f->smallest,
                    .smallest_len = f->smallest_len,
                    .largest = f->largest,
                    .largest_len = f->largest_len,
                    .smallest_seq = f->smallest_seq,
                    .largest_seq = f->largest_seq,
                };
                int rc = version_edit_add_file(e, &ef);
                if (rc) return rc;
            }
    }
    return 0;
}

/* Fills the counters every edit carries, encodes it and appends it, synced. */
static int manifest_append(struct version_set *vs, log_writer *w, struct version_edit *e,
                           uint64_t last_seq)
{
    e->has_next_file = 1;
    e->next_file_number = atomic_load(&vs->next_file);
    e->has_next_run = 1;
    e->next_run = vs->next_run;
    e->has_last_seq = 1;
    e->last_sequence = last_seq;
    buf rec = {0};
    int rc = version_edit_encode(e, &rec);
    if (rc == 0) rc = log_writer_add(w, rec.data, rec.len, 1);
    buf_free(&rec);
    return rc;
}

int version_set_log_edit(struct version_set *vs, struct version_edit *e, uint64_t last_seq)
{
    if (!vs->manifest) return err_set(LAMINA_EIO, "%s: MANIFEST is not open", vs->dbpath);
    return manifest_append(vs, vs->manifest, e, last_seq);
}

int version_set_new_manifest(struct version_set *vs, uint64_t last_seq)
{
    char mpath[DB_PATH_MAX + 32], tmp[DB_PATH_MAX + 32], cur[DB_PATH_MAX + 32],
        old[DB_PATH_MAX + 32];
    char text[64];
    struct version_edit e;
    wfile *f = NULL;
    log_writer *w = NULL;
    uint64_t num = version_set_new_file_number(vs);
    int rc, renamed = 0;
    version_edit_init(&e);
    snprintf(mpath, sizeof(mpath), "%s/MANIFEST-%06" PRIu64, vs->dbpath, num);
    if ((rc = wfile_create(mpath, &f))) goto out;
    if (!(w = log_writer_create(f, 0))) {
        rc = err_set(LAMINA_ENOMEM, "%s: out of memory", mpath);
        goto out;
    }
    e.has_log_number = 1;
    e.log_number = vs->log_number;
    if ((rc = version_edit_snapshot(vs->current, &e))) goto out;
    if ((rc = manifest_append(vs, w, &e, last_seq))) goto out;
    /* The MANIFEST's directory entry (and those of the tables it names) must be durable before
     * CURRENT can name it. */
    if ((rc = dir_sync(vs->dbpath))) goto out;
    snprintf(tmp, sizeof(tmp), "%s/CURRENT.tmp", vs->dbpath);
    snprintf(cur, sizeof(cur), "%s/CURRENT", vs->dbpath);
    int n = snprintf(text, sizeof(text), "MANIFEST-%06" PRIu64 "\n", num);
    if ((rc = file_write_all(tmp, text, (size_t)n, 1))) goto out;
    if ((rc = file_rename(tmp, cur))) goto out;
    /* From here CURRENT may name the new MANIFEST (a failed dir sync does not undo the
     * rename), so it must not be removed on failure. */
    renamed = 1;
    if ((rc = dir_sync(vs->dbpath))) goto out;
    uint64_t old_num = vs->manifest_number;
    int had_old = vs->manifest_file != NULL || old_num != 0;
    if (vs->manifest) log_writer_destroy(vs->manifest);
    if (vs->manifest_file) (void)wfile_close(vs->manifest_file);
    vs->manifest = w;
    vs->manifest_file = f;
    vs->manifest_number = num;
    w = NULL;
    f = NULL;
    if (had_old && old_num != num) {
        snprintf(old, sizeof(old), "%s/MANIFEST-%06" PRIu64, vs->dbpath, old_num);
        (void)file_remove(old);
    }
out:
    version_edit_free(&e);
    if (w) log_writer_destroy(w);
    if (f) {
        (void)wfile_close(f);
        if (rc && !renamed) (void)file_remove(mpath);
    }
    return rc;
}

