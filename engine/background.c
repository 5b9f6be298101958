/* background.c — flush and compaction on max_background_jobs threads, flush first (LevelDB's
 * BackgroundCall / CompactMemTable / DoCompactionWork, with the Fluid LSM policy of
 * compaction/compaction.h choosing what to merge); lamina_flush and lamina_compact_range. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db_impl.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* ---- Output files ----------------------------------------------------------------------- */

/* Every table file a job creates, so a failed job can delete them all. */
struct job_files {
    lamina_db *db;
    uint64_t *numbers;
    size_t n, cap;
};

static int job_new_file(void *ctx, uint64_t *file_number, wfile **f)
{
    struct job_files *jf = ctx;
    if (jf->n == jf->cap) {
        size_t cap = jf->cap ? jf->cap * 2 : 8;
        uint64_t *p = mem_realloc(jf->numbers, cap * sizeof(*p));
        if (!p) return err_set(LAMINA_ENOMEM, "compaction output: out of memory");
        jf->numbers = p;
        jf->cap = cap;
    }
    char path[DB_PATH_MAX + 32];
    uint64_t num = version_set_new_file_number(&jf->db->vs);
    db_file_name(path, sizeof(path), jf->db->path, num, "sst");
    int rc = wfile_create(path, f);
    if (rc) return rc;
    jf->numbers[jf->n++] = num;
    *file_number = num;
    return 0;
}

static void job_files_remove(struct job_files *jf)
{
    char path[DB_PATH_MAX + 32];
    for (size_t i = 0; i < jf->n; i++) {
        db_file_name(path, sizeof(path), jf->db->path, jf->numbers[i], "sst");
        (void)file_remove(path);
    }
}

/* Runs a merge job over input into new tables at (level, run), adding them to edit. */
static int job_merge(lamina_db *db, iter *input, const uint64_t *snapshots, size_t nsnapshots,
                     int drop_tombstones, int level, uint64_t run, struct version_edit *edit,
                     uint64_t *bytes_read, uint64_t *bytes_written)
{
    struct job_files jf = {db, NULL, 0, 0};
    struct merge_job job;
    memset(&job, 0, sizeof(job));
    job.input = input;
    job.snapshots = snapshots;
    job.nsnapshots = nsnapshots;
    job.drop_tombstones = drop_tombstones;
    job.target_file_size = (uint64_t)db->opts.target_file_size_base;
    job.table_opts = db->topts;
    job.new_file = job_new_file;
    job.ctx = &jf;
    int rc = merge_job_run(&job);
    for (size_t i = 0; rc == 0 && i < job.noutputs; i++) {
        const struct table_meta *m = &job.outputs[i];
        struct edit_file ef = {
            .level = level,
            .run = run,
            .file_number = m->file_number,
            .file_size = m->file_size,
            .entries = m->entries,
            .smallest = m->smallest,
            .smallest_len = m->smallest_len,
            .largest = m->largest,
            .largest_len = m->largest_len,
            .smallest_seq = m->smallest_seq,
            .largest_seq = m->largest_seq,
        };
        rc = version_edit_add_file(edit, &ef);
    }
    if (bytes_read) *bytes_read = job.bytes_read;
    if (bytes_written) *bytes_written = job.bytes_written;
    if (rc) job_files_remove(&jf);
    merge_job_free(&job);
    mem_free(jf.numbers);
    return rc;
}

int db_write_level0(lamina_db *db, memtable *mem, uint64_t run, const uint64_t *snapshots,
                    size_t nsnapshots, struct version_edit *edit)
{
    iter *it = memtable_iter_create(mem);
    if (!it) return err_set(LAMINA_ENOMEM, "flush: out of memory");
    uint64_t written = 0;
    int rc = job_merge(db, it, snapshots, nsnapshots, 0, 0, run, edit, NULL, &written);
    iter_destroy(it);
    if (rc == 0) {
        atomic_fetch_add(&db->stats.level_bytes_written[0], written);
        atomic_fetch_add(&db->stats.flushes, 1);
    }
    return rc;
}

/* ---- Installing edits ------------------------------------------------------------------- */

int db_log_and_apply(lamina_db *db, struct version_edit *edit, int pop_imm)
{
    struct version *old = NULL, *nv = NULL;
    struct super_version *old_sv = NULL;
    memtable *popped = NULL;
    int rc = 0;
    pthread_mutex_lock(&db->vs.manifest_mu);
    /* The new tables' directory entries must be durable before the MANIFEST names them. */
    if (edit->nadded) rc = dir_sync(db->path);
    if (rc == 0) rc = version_set_log_edit(&db->vs, edit, atomic_load(&db->last_sequence));
    pthread_mutex_lock(&db->mu);
    if (rc == 0) rc = version_apply(db->vs.current, edit, 1, &nv);
    if (rc) {
        db_set_bg_error(db, rc, "MANIFEST update");
        pthread_mutex_unlock(&db->mu);
        pthread_mutex_unlock(&db->vs.manifest_mu);
        return rc;
    }
    if (edit->has_log_number) db->vs.log_number = edit->log_number;
    old = db->vs.current;
    db->vs.current = nv;
    if (pop_imm) {
        popped = db->imm[0].mem;
        db->flushed_upto = db->imm[0].id;
        memmove(db->imm, db->imm + 1, (db->nimm - 1) * sizeof(*db->imm));
        db->nimm--;
    }
    old_sv = db_install_super_version(db);
    if (!old_sv && db->sv->v != nv)
        db_set_bg_error(db, err_set(LAMINA_ENOMEM, "out of memory"), "installing a version");
    pthread_cond_broadcast(&db->done_cv);
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    pthread_mutex_unlock(&db->vs.manifest_mu);
    db_sv_release(old_sv);
    version_unref(old);
    if (popped) memtable_unref(popped);
    return 0;
}

/* Copies the live snapshots' sequence numbers (ascending). Called with mu held. */
static uint64_t *bg_snapshots(lamina_db *db, size_t *n)
{
    *n = 0;
    if (!db->nsnapshots) return NULL;
    uint64_t *s = mem_alloc(db->nsnapshots * sizeof(*s));
    if (!s) return NULL;
    for (struct lamina_snapshot *p = db->snapshots.next; p != &db->snapshots; p = p->next)
        s[(*n)++] = p->seq;
    return s;
}

/* ---- Flush ------------------------------------------------------------------------------ */

/* Flushes the oldest immutable memtable. Called with mu held and flush_running set; drops mu
 * while it works. */
static void bg_flush(lamina_db *db)
{
    /* Close the memtables' WALs first: their data will be in a table, and a synced write
     * must not find them unsynced. */
    if (db_sync_old_wals(db)) return;
    struct imm_entry e = db->imm[0];
    memtable_ref(e.mem);
    uint64_t run = db->vs.next_run++;
    size_t nsnap;
    uint64_t *snaps = bg_snapshots(db, &nsnap);
    int snap_fail = db->nsnapshots && !snaps;
    /* The next memtable's WAL is the oldest one still needed once this flush is logged. */
    uint64_t log_number = db->nimm > 1 ? db->imm[1].wal_number : db->wal_number;
    pthread_mutex_unlock(&db->mu);

    struct version_edit edit;
    version_edit_init(&edit);
    edit.has_log_number = 1;
    edit.log_number = log_number;
    int rc = snap_fail ? err_set(LAMINA_ENOMEM, "flush: out of memory") : 0;
    if (rc == 0) rc = db_write_level0(db, e.mem, run, snaps, nsnap, &edit);
    if (rc == 0) rc = db_log_and_apply(db, &edit, 1);
    if (rc == 0) {
        char path[DB_PATH_MAX + 32];
        db_file_name(path, sizeof(path), db->path, e.wal_number, "log");
        (void)file_remove(path);
        uint64_t bytes = 0;
        for (size_t i = 0; i < edit.nadded; i++)
            bytes += edit.added[i].file_size;
        db_log(db,
               "flush: memtable of WAL %06" PRIu64 " -> %zu table(s), %" PRIu64
               " bytes, level-0 run %" PRIu64,
               e.wal_number, edit.nadded, bytes, run);
    }
    version_edit_free(&edit);
    mem_free(snaps);
    memtable_unref(e.mem);
    pthread_mutex_lock(&db->mu);
    if (rc) db_set_bg_error(db, rc, "flush");
}

/* ---- Compaction ------------------------------------------------------------------------- */

/* The merged input of the given runs, newest first. */
static iter *bg_input(struct run **runs, size_t n, int *rc)
{
    struct table_read_options ro = {.verify_checksums = 1, .fill_cache = 0};
    iter **children = mem_alloc((n ? n : 1) * sizeof(*children));
    if (!children) goto nomem;
    for (size_t i = 0; i < n; i++) {
        if (!(children[i] = run_iter_create(runs[i], &ro))) {
            for (size_t k = 0; k < i; k++)
                iter_destroy(children[k]);
            mem_free(children);
            goto nomem;
        }
    }
    iter *m = merge_iter_create(children, n);
    mem_free(children);
    if (!m) goto nomem;
    return m;
nomem:
    *rc = err_set(LAMINA_ENOMEM, "compaction: out of memory");
    return NULL;
}

/* Merges the given runs (newest first) into one run at out_level, replacing them in one
 * version edit. Called without mu; their version is pinned by the caller. */
static int bg_merge_runs(lamina_db *db, struct run **runs, size_t nruns, int out_level,
                         int drop_tombstones, uint64_t run_id, const uint64_t *snaps, size_t nsnap,
                         const char *why)
{
    struct version_edit edit;
    version_edit_init(&edit);
    int rc = 0;
    uint64_t in_bytes = 0, read = 0, written = 0;
    size_t in_files = 0;
    for (size_t r = 0; r < nruns && rc == 0; r++)
        for (size_t i = 0; i < runs[r]->nfiles && rc == 0; i++) {
            struct file_meta *f = runs[r]->files[i];
            rc = version_edit_delete_file(&edit, f->level, f->number);
            in_bytes += f->size;
            in_files++;
        }
    iter *input = rc ? NULL : bg_input(runs, nruns, &rc);
    if (input) {
        rc = job_merge(db, input, snaps, nsnap, drop_tombstones, out_level, run_id, &edit, &read,
                       &written);
        iter_destroy(input);
    }
    if (rc == 0) rc = db_log_and_apply(db, &edit, 0);
    if (rc == 0) {
        atomic_fetch_add(&db->stats.level_bytes_written[out_level], written);
        atomic_fetch_add(&db->stats.compaction_bytes_read, read ? read : in_bytes);
        atomic_fetch_add(&db->stats.compactions, 1);
        db_log(db,
               "compaction (%s): %zu runs, %zu files, %" PRIu64 " bytes -> level %d: %zu "
               "files, %" PRIu64 " bytes%s",
               why, nruns, in_files, in_bytes, out_level, edit.nadded, written,
               drop_tombstones ? ", tombstones dropped" : "");
    }
    version_edit_free(&edit);
    return rc;
}

/* Whether nothing lies below out_level, and no other run of out_level is older than the
 * output: then tombstones the output holds shadow nothing and may go. */
static int bg_is_bottom(const struct version *v, int out_level, int includes_out_level)
{
    for (int l = out_level + 1; l < v->num_levels; l++)
        if (v->levels[l].nruns) return 0;
    return includes_out_level || v->levels[out_level].nruns == 0;
}

/* Whether the policy has a merge due on v, filling *pick. Called with mu held. */
static int bg_pick(const lamina_db *db, const struct version *v, struct compaction_pick *pick)
{
    struct lsm_shape shape;
    if (db->policy.disabled) return 0;
    version_shape(v, &shape);
    if (!policy_pick(&db->policy, &shape, pick)) return 0;
    return pick->level >= 0 && pick->level < v->num_levels && pick->output_level >= pick->level &&
           pick->output_level < v->num_levels && v->levels[pick->level].nruns > 0;
}

/* Runs one compaction if the policy asks for one. Called with mu held and no compaction
 * running; returns 1 if it ran one. */
static int bg_compact(lamina_db *db)
{
    struct version *v = db->vs.current;
    struct compaction_pick pick;
    if (!bg_pick(db, v, &pick)) return 0;
    db->compaction_running = 1;
    version_ref(v);
    uint64_t run_id = db->vs.next_run++;
    size_t nsnap;
    uint64_t *snaps = bg_snapshots(db, &nsnap);
    int snap_fail = db->nsnapshots && !snaps;
    int with_out = pick.include_output && pick.output_level != pick.level;
    const struct level *src = &v->levels[pick.level], *dst = &v->levels[pick.output_level];
    size_t nruns = src->nruns + (with_out ? dst->nruns : 0);
    int drop = bg_is_bottom(v, pick.output_level, with_out || pick.output_level == pick.level);
    pthread_mutex_unlock(&db->mu);

    int rc = 0;
    struct run **runs = mem_alloc(nruns * sizeof(*runs));
    if (!runs || snap_fail) rc = err_set(LAMINA_ENOMEM, "compaction: out of memory");
    if (rc == 0) {
        size_t n = 0;
        for (size_t r = 0; r < src->nruns; r++)
            runs[n++] = &src->runs[r];
        for (size_t r = 0; with_out && r < dst->nruns; r++)
            runs[n++] = &dst->runs[r];
        char why[64];
        snprintf(why, sizeof(why), "level %d, score %.2f", pick.level, pick.score);
        rc = bg_merge_runs(db, runs, nruns, pick.output_level, drop, run_id, snaps, nsnap, why);
    }
    mem_free(runs);
    mem_free(snaps);
    version_unref(v);
    pthread_mutex_lock(&db->mu);
    if (rc) db_set_bg_error(db, rc, "compaction");
    db->compaction_running = 0;
    pthread_cond_broadcast(&db->done_cv);
    return 1;
}

/* Whether a table of v overlaps the user-key range [begin, end] (NULL: unbounded). */
static int bg_overlaps(const struct version *v, const void *begin, size_t begin_len,
                       const void *end, size_t end_len)
{
    for (int l = 0; l < v->num_levels; l++)
        for (size_t r = 0; r < v->levels[l].nruns; r++)
            for (size_t i = 0; i < v->levels[l].runs[r].nfiles; i++) {
                const struct file_meta *f = v->levels[l].runs[r].files[i];
                if (begin &&
                    ikey_user_cmp(f->largest, ikey_user_len(f->largest_len), begin, begin_len) < 0)
                    continue;
                if (end &&
                    ikey_user_cmp(f->smallest, ikey_user_len(f->smallest_len), end, end_len) > 0)
                    continue;
                return 1;
            }
    return 0;
}

int db_compact_all(lamina_db *db, const void *begin, size_t begin_len, const void *end,
                   size_t end_len)
{
    pthread_mutex_lock(&db->mu);
    db->manual_compaction++;
    while (db->compaction_running && !db->bg_error)
        pthread_cond_wait(&db->done_cv, &db->mu);
    int rc = db->bg_error;
    if (rc) {
        err_set(LAMINA_EREADONLY, "compaction: database is read-only: %s", db->bg_msg);
        rc = LAMINA_EREADONLY;
        db->manual_compaction--;
        pthread_mutex_unlock(&db->mu);
        return rc;
    }
    db->compaction_running = 1;
    struct version *v = db->vs.current;
    version_ref(v);
    int deepest = version_deepest_level(v);
    int out_level = deepest < 1 ? 1 : deepest;
    size_t nruns = 0;
    for (int l = 0; l < v->num_levels; l++)
        nruns += v->levels[l].nruns;
    int needed = (nruns > 1 || (nruns == 1 && deepest != out_level)) &&
                 bg_overlaps(v, begin, begin_len, end, end_len);
    uint64_t run_id = needed ? db->vs.next_run++ : 0;
    size_t nsnap;
    uint64_t *snaps = needed ? bg_snapshots(db, &nsnap) : NULL;
    int snap_fail = needed && db->nsnapshots && !snaps;
    pthread_mutex_unlock(&db->mu);

    struct run **runs = NULL;
    if (snap_fail) rc = err_set(LAMINA_ENOMEM, "compaction: out of memory");
    if (needed && rc == 0 && !(runs = mem_alloc(nruns * sizeof(*runs))))
        rc = err_set(LAMINA_ENOMEM, "compaction: out of memory");
    if (needed && rc == 0) {
        size_t n = 0;
        for (int l = 0; l < v->num_levels; l++)
            for (size_t r = 0; r < v->levels[l].nruns; r++)
                runs[n++] = &v->levels[l].runs[r];
        rc = bg_merge_runs(db, runs, nruns, out_level, 1, run_id, snaps, nsnap, "manual");
    }
    mem_free(runs);
    mem_free(snaps);
    version_unref(v);
    pthread_mutex_lock(&db->mu);
    if (rc && rc != LAMINA_EREADONLY) db_set_bg_error(db, rc, "manual compaction");
    db->compaction_running = 0;
    db->manual_compaction--;
    pthread_cond_broadcast(&db->done_cv);
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

/* ---- Threads ---------------------------------------------------------------------------- */

static void *bg_main(void *arg)
{
    lamina_db *db = arg;
    pthread_mutex_lock(&db->mu);
    while (!db->shutdown) {
        if (!db->bg_error && db->nimm && !db->flush_running) {
            db->flush_running = 1;
            bg_flush(db);
            db->flush_running = 0;
            pthread_cond_broadcast(&db->done_cv);
            continue;
        }
        if (!db->bg_error && !db->compaction_running && !db->manual_compaction && bg_compact(db))
            continue;
        pthread_cond_wait(&db->bg_cv, &db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

int db_bg_start(lamina_db *db)
{
    int n = (int)db->opts.max_background_jobs;
    db->threads = mem_calloc((size_t)n, sizeof(*db->threads));
    if (!db->threads) return err_set(LAMINA_ENOMEM, "background threads: out of memory");
    for (int i = 0; i < n; i++) {
        int e = pthread_create(&db->threads[i], NULL, bg_main, db);
        if (e) {
            db_bg_stop(db);
            return err_errno(e, "starting background thread %d", i);
        }
        db->nthreads++;
    }
    return 0;
}

void db_bg_stop(lamina_db *db)
{
    pthread_mutex_lock(&db->mu);
    db->shutdown = 1;
    pthread_cond_broadcast(&db->bg_cv);
    pthread_cond_broadcast(&db->done_cv);
    pthread_mutex_unlock(&db->mu);
    for (int i = 0; i < db->nthreads; i++)
        pthread_join(db->threads[i], NULL);
    db->nthreads = 0;
}

int db_wait_flushed(lamina_db *db, uint64_t upto)
{
    pthread_mutex_lock(&db->mu);
    while (db->flushed_upto < upto && !db->bg_error && !db->shutdown)
        pthread_cond_wait(&db->done_cv, &db->mu);
    int rc = db->bg_error ? db_readonly_error(db) : 0;
    pthread_mutex_unlock(&db->mu);
    return rc;
}

LAMINA_API int lamina_wait_for_compactions(lamina_db *db)
{
    if (!db) return err_set(LAMINA_EINVAL, "lamina_wait_for_compactions: NULL handle");
    struct compaction_pick pick;
    pthread_mutex_lock(&db->mu);
    pthread_cond_broadcast(&db->bg_cv);
    while (!db->bg_error && !db->shutdown &&
           (db->nimm || db->flush_running || db->compaction_running || db->manual_compaction ||
            bg_pick(db, db->vs.current, &pick)))
        pthread_cond_wait(&db->done_cv, &db->mu);
    int rc = db->bg_error ? db_readonly_error(db) : 0;
    pthread_mutex_unlock(&db->mu);
    return rc;
}

LAMINA_API int lamina_flush(lamina_db *db)
{
    if (!db) return err_set(LAMINA_EINVAL, "lamina_flush: NULL handle");
    struct writer w = {0};
    w.force_switch = 1;
    int rc = db_write_impl(db, &w);
    if (rc) return rc;
    pthread_mutex_lock(&db->mu);
    uint64_t upto = db->switches;
    pthread_mutex_unlock(&db->mu);
    return db_wait_flushed(db, upto);
}

LAMINA_API int lamina_compact_range(lamina_db *db, const void *begin, size_t begin_len,
                                    const void *end, size_t end_len)
{
    if (!db || (!begin && begin_len) || (!end && end_len))
        return err_set(LAMINA_EINVAL, "lamina_compact_range: NULL argument");
    int rc = lamina_flush(db);
    if (rc) return rc;
    /* When any table overlaps the range, the whole tree is merged into one run at the bottom
     * (a superset of RocksDB's CompactRange, which leaves the range fully compacted). */
    return db_compact_all(db, begin, begin_len, end, end_len);
}
