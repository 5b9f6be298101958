/* background.c — flush and compaction on max_background_jobs threads, flush first (LevelDB's
 * BackgroundCall / CompactMemTable / DoCompactionWork, with the Fluid LSM policy of
 * compaction/compaction.h choosing what to merge); lamina_flush and lamina_compact_range. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bloom/bloom.h"
#include "engine/db_impl.h"
#include "engine/range_del.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/fault.h"
#include "util/ikey.h"

/* A job's output level always has a slot in the statistics an edit carries. */
_Static_assert(EDIT_STATS_LEVELS >= COMPACTION_MAX_LEVELS, "statistics levels");

static uint64_t bg_now_micros(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

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

/* Adds the tables a merge wrote to edit at (level, run). */
static int job_outputs_to_edit(const struct merge_job *job, int level, uint64_t run,
                               struct version_edit *edit)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < job->noutputs; i++) {
        const struct table_meta *m = &job->outputs[i];
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
            .range_dels = m->range_deletions > 0,
        };
        rc = version_edit_add_file(edit, &ef);
    }
    return rc;
}

/* ---- Filter bits per level (bloom_allocation) ------------------------------------------ */

_Static_assert(MONKEY_MAX_LEVELS >= COMPACTION_MAX_LEVELS, "monkey_bits covers every level");

/* Keys (table entries) and sorted runs per level of v. */
static void bg_level_keys(const struct version *v, uint64_t *keys, int *runs)
{
    for (int l = 0; l < COMPACTION_MAX_LEVELS; l++) {
        keys[l] = 0;
        runs[l] = l < v->num_levels ? (int)v->levels[l].nruns : 0;
    }
    for (int l = 0; l < v->num_levels; l++)
        for (size_t r = 0; r < v->levels[l].nruns; r++)
            for (size_t i = 0; i < v->levels[l].runs[r].nfiles; i++)
                keys[l] += v->levels[l].runs[r].files[i]->entries;
}

/* Bloom bits per key of the tables a job writes into level, for a tree of keys/runs per level
 * as it will be once the job is done: bloom_bits under uniform; under monkey, that level's
 * share of the same total (bloom/monkey.c), which may be 0 (no filter) for a large last level
 * when bloom_bits is small. */
static int bg_bloom_bits(const lamina_db *db, const uint64_t *keys, const int *runs, int level)
{
    int b = db->topts.bloom_bits;
    if (db->opts.bloom_allocation != LAMINA_BLOOM_MONKEY || b <= 0) return b;
    int bits[COMPACTION_MAX_LEVELS];
    monkey_bits(COMPACTION_MAX_LEVELS, keys, runs, b, bits);
    return bits[level];
}

/* The bits for a flush of mem on top of v (level 0 gains a run of mem's entries). Call with
 * v pinned or mu held. */
static int bg_flush_bloom_bits(const lamina_db *db, const struct version *v, memtable *mem)
{
    uint64_t keys[COMPACTION_MAX_LEVELS];
    int runs[COMPACTION_MAX_LEVELS];
    bg_level_keys(v, keys, runs);
    keys[0] += memtable_count(mem);
    runs[0]++;
    return bg_bloom_bits(db, keys, runs, 0);
}

/* The bits for job's outputs on v: its inputs leave their levels and their entries arrive at
 * the output level, as a new run unless they join one there. */
static int bg_job_bloom_bits(const lamina_db *db, const struct version *v,
                             const struct compaction_job *job)
{
    uint64_t keys[COMPACTION_MAX_LEVELS], moved = 0;
    int runs[COMPACTION_MAX_LEVELS];
    bg_level_keys(v, keys, runs);
    for (size_t i = 0; i < job->ninputs; i++) {
        const struct compaction_input *in = &job->inputs[i];
        const struct run *r = &v->levels[in->level].runs[in->run];
        uint64_t e = 0;
        for (size_t k = in->first; k < in->first + in->count; k++)
            e += r->files[k]->entries;
        keys[in->level] -= e < keys[in->level] ? e : keys[in->level];
        moved += e;
        /* A run wholly taken leaves, unless the outputs go back into it (leveled output). */
        if (in->count == r->nfiles && (job->whole_runs || in->level != job->output_level))
            runs[in->level]--;
    }
    keys[job->output_level] += moved;
    if (job->whole_runs || job->output_run == SIZE_MAX) runs[job->output_level]++;
    return bg_bloom_bits(db, keys, runs, job->output_level);
}

/* Writes a memtable's entries as new tables at (level 0, run) with bloom_bits bits per key,
 * adding them to edit. */
static int job_flush(lamina_db *db, iter *input, const range_del_list *range_dels,
                     const uint64_t *snapshots, size_t nsnapshots, uint64_t run, int bloom_bits,
                     struct version_edit *edit, uint64_t *bytes_written)
{
    struct job_files jf = {db, NULL, 0, 0};
    struct merge_job job;
    memset(&job, 0, sizeof(job));
    job.input = input;
    job.range_dels = range_dels;
    job.snapshots = snapshots;
    job.nsnapshots = nsnapshots;
    job.target_file_size = db->target_file_size;
    job.table_opts = db->topts;
    job.table_opts.bloom_bits = bloom_bits;
    if (db->policy.min_level_to_compress > 0) job.table_opts.compression = LAMINA_COMPRESSION_NONE;
    job.new_file = job_new_file;
    job.ctx = &jf;
    int rc = merge_job_run(&job);
    if (rc == 0) rc = job_outputs_to_edit(&job, 0, run, edit);
    *bytes_written = job.bytes_written;
    if (rc) job_files_remove(&jf);
    merge_job_free(&job);
    mem_free(jf.numbers);
    return rc;
}

/* db_write_level0 with the filter bits chosen by the caller. */
static int bg_write_level0(lamina_db *db, memtable *mem, uint64_t run, const uint64_t *snapshots,
                           size_t nsnapshots, int bloom_bits, struct version_edit *edit)
{
    range_del_list *rd;
    int rc = db_range_dels_memtable(mem, &rd);
    if (rc) return rc;
    iter *it = memtable_iter_create(mem);
    if (!it) {
        range_del_list_free(rd);
        return err_set(LAMINA_ENOMEM, "flush: out of memory");
    }
    uint64_t written = 0, t0 = bg_now_micros();
    rc = job_flush(db, it, rd, snapshots, nsnapshots, run, bloom_bits, edit, &written);
    iter_destroy(it);
    range_del_list_free(rd);
    if (rc == 0) {
        atomic_fetch_add(&db->stats.level_bytes_written[0], written);
        atomic_fetch_add(&db->stats.flushes, 1);
        /* Persisted with the edit (recovery may flush several memtables into one edit). */
        uint64_t micros = bg_now_micros() - t0;
        edit->has_stats = 1;
        edit->stats.flush_bytes += written;
        edit->stats.flush_count++;
        edit->stats.flush_micros += micros;
        edit->stats.level[0].bytes_written += written;
        edit->stats.level[0].count++;
        edit->stats.level[0].micros += micros;
    }
    return rc;
}

/* Recovery's flushes (no background thread yet, so vs.current holds still). */
int db_write_level0(lamina_db *db, memtable *mem, uint64_t run, const uint64_t *snapshots,
                    size_t nsnapshots, struct version_edit *edit)
{
    return bg_write_level0(db, mem, run, snapshots, nsnapshots,
                           bg_flush_bloom_bits(db, db->vs.current, mem), edit);
}

/* ---- Installing edits ------------------------------------------------------------------- */

int db_log_user_bytes(lamina_db *db)
{
    int rc = 0;
    pthread_mutex_lock(&db->vs.manifest_mu);
    uint64_t user_bytes = atomic_load(&db->stats.user_bytes);
    if (user_bytes > db->vs.user_bytes_logged && db->vs.manifest) {
        struct version_edit e;
        version_edit_init(&e);
        e.has_stats = 1;
        e.stats.user_bytes = user_bytes - db->vs.user_bytes_logged;
        rc = version_set_log_edit(&db->vs, &e, atomic_load(&db->last_sequence));
        if (rc == 0) db->vs.user_bytes_logged = user_bytes;
        version_edit_free(&e);
    }
    pthread_mutex_unlock(&db->vs.manifest_mu);
    return rc;
}

int db_log_and_apply(lamina_db *db, struct version_edit *edit, int pop_imm)
{
    struct version *old = NULL, *nv = NULL;
    struct super_version *old_sv = NULL;
    memtable *popped = NULL;
    int rc = 0;
    /* manifest_mu orders the edits; vs.current changes only under it, so the new version is
     * built outside mu, which writers need (LevelDB's LogAndApply releases it likewise). */
    pthread_mutex_lock(&db->vs.manifest_mu);
    /* The new tables' directory entries must be durable before the MANIFEST names them. */
    if (edit->nadded) rc = dir_sync(db->path);
    FAULT_CRASH_POINT(pop_imm ? "flush:before-edit" : "compaction:before-edit");
    /* The user bytes written since the last edit ride with this one (under manifest_mu, so
     * each byte is carried once). */
    uint64_t user_bytes = atomic_load(&db->stats.user_bytes);
    if (user_bytes > db->vs.user_bytes_logged) {
        edit->has_stats = 1;
        edit->stats.user_bytes = user_bytes - db->vs.user_bytes_logged;
    }
    if (rc == 0) rc = version_set_log_edit(&db->vs, edit, atomic_load(&db->last_sequence));
    if (rc == 0) db->vs.user_bytes_logged = user_bytes;
    if (rc == 0) rc = version_apply(db->vs.current, edit, 1, &nv);
    pthread_mutex_lock(&db->mu);
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
    int bloom_bits = bg_flush_bloom_bits(db, db->vs.current, e.mem);
    pthread_mutex_unlock(&db->mu);

    struct version_edit edit;
    version_edit_init(&edit);
    edit.has_log_number = 1;
    edit.log_number = log_number;
    int rc = snap_fail ? err_set(LAMINA_ENOMEM, "flush: out of memory") : 0;
    if (rc == 0) rc = bg_write_level0(db, e.mem, run, snaps, nsnap, bloom_bits, &edit);
    FAULT_CRASH_POINT("flush:table-synced");
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

/* The merged input of the job's runs (runs[i] is a slice of inputs[i]'s run), newest first.
 * Each input table is read ahead by compaction_readahead_size bytes at a time. */
static iter *bg_input(lamina_db *db, const struct compaction_job *job, struct run *runs, int *rc)
{
    size_t n = job->ninputs;
    size_t ra = (size_t)db->opts.compaction_readahead_size;
    struct table_read_options ro = {
        .verify_checksums = 1,
        .fill_cache = 0,
        .readahead_initial = ra,
        .readahead_max = ra,
    };
    iter **children = mem_alloc((n ? n : 1) * sizeof(*children));
    if (!children) goto nomem;
    for (size_t i = 0; i < n; i++) {
        ro.io = &db->io_levels[job->inputs[i].level];
        if (!(children[i] = run_iter_create(&runs[i], &ro))) {
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

/* The picker's view of v: its runs and tables, user keys borrowed from v, busy flags from the
 * running jobs. Called with mu held. */
struct bg_view {
    struct lsm_view view;
    struct lsm_table *tables;
};

static int bg_view_build(const struct version *v, struct bg_view *bv)
{
    memset(bv, 0, sizeof(*bv));
    size_t ntables = 0, nruns = 0;
    for (int l = 0; l < v->num_levels; l++) {
        ntables += v->levels[l].nfiles;
        nruns += v->levels[l].nruns;
    }
    bv->tables = mem_alloc((ntables ? ntables : 1) * sizeof(*bv->tables));
    struct lsm_run *runs = mem_alloc((nruns ? nruns : 1) * sizeof(*runs));
    if (!bv->tables || !runs) {
        mem_free(bv->tables);
        mem_free(runs);
        return err_set(LAMINA_ENOMEM, "compaction pick: out of memory");
    }
    version_shape(v, &bv->view.shape);
    struct lsm_table *t = bv->tables;
    for (int l = 0; l < v->num_levels; l++) {
        bv->view.runs[l] = runs;
        bv->view.nruns[l] = v->levels[l].nruns;
        for (size_t r = 0; r < v->levels[l].nruns; r++) {
            const struct run *run = &v->levels[l].runs[r];
            *runs++ = (struct lsm_run){run->id, t, run->nfiles, run->bytes};
            for (size_t i = 0; i < run->nfiles; i++) {
                const struct file_meta *f = run->files[i];
                *t++ = (struct lsm_table){
                    .number = f->number,
                    .size = f->size,
                    .smallest = f->smallest,
                    .smallest_len = ikey_user_len(f->smallest_len),
                    .largest = f->largest,
                    .largest_len = ikey_user_len(f->largest_len),
                    .busy = f->being_compacted,
                };
            }
        }
    }
    return 0;
}

static void bg_view_free(struct bg_view *bv)
{
    mem_free(bv->tables);
    if (bv->view.shape.num_levels > 0) mem_free(bv->view.runs[0]);
}

static void bg_mark_inputs(const struct version *v, const struct compaction_job *job, int busy)
{
    for (size_t i = 0; i < job->ninputs; i++) {
        const struct compaction_input *in = &job->inputs[i];
        const struct run *r = &v->levels[in->level].runs[in->run];
        for (size_t k = in->first; k < in->first + in->count; k++)
            r->files[k]->being_compacted = busy;
    }
}

/* Whether table i of run r at level l is one of the job's inputs. */
static int bg_is_input(const struct compaction_job *job, int l, size_t r, size_t i)
{
    for (size_t k = 0; k < job->ninputs; k++) {
        const struct compaction_input *in = &job->inputs[k];
        if (in->level == l && in->run == r && i >= in->first && i < in->first + in->count) return 1;
    }
    return 0;
}

/* Whether no table outside the job's inputs, at the output level or below, overlaps its key
 * range: then its tombstones shadow nothing older and may go (with the snapshot rule). */
static int bg_is_bottom(const struct version *v, const struct compaction_job *job)
{
    for (int l = job->output_level; l < v->num_levels; l++)
        for (size_t r = 0; r < v->levels[l].nruns; r++) {
            const struct run *run = &v->levels[l].runs[r];
            for (size_t i = 0; i < run->nfiles; i++)
                if (!bg_is_input(job, l, r, i) &&
                    file_overlaps(run->files[i], job->smallest, job->smallest_len, job->largest,
                                  job->largest_len))
                    return 0;
        }
    return 1;
}

/* Adds the input tables' deletions to edit (and, for a trivial move, their re-addition at the
 * output level). */
static int bg_edit_inputs(const struct version *v, const struct compaction_job *job,
                          uint64_t run_id, struct version_edit *edit)
{
    int rc = 0;
    for (size_t i = 0; i < job->ninputs && rc == 0; i++) {
        const struct compaction_input *in = &job->inputs[i];
        const struct run *r = &v->levels[in->level].runs[in->run];
        for (size_t k = in->first; k < in->first + in->count && rc == 0; k++) {
            const struct file_meta *f = r->files[k];
            rc = version_edit_delete_file(edit, f->level, f->number);
            if (rc || !job->trivial_move) continue;
            rc = file_meta_add_to_edit(f, job->output_level, run_id, edit);
        }
    }
    return rc;
}

/* The grandparents of a job into level out: the tables of level out + 1 when it is one run
 * (a tiered level's runs overlap each other, and its merges are whole-run anyway). */
static void bg_grandparents(const struct version *v, int out, struct merge_job *mj,
                            const uint8_t ***keys, size_t **lens, uint64_t **sizes)
{
    *keys = NULL;
    *lens = NULL;
    *sizes = NULL;
    if (out + 1 >= v->num_levels || v->levels[out + 1].nruns != 1) return;
    const struct run *r = &v->levels[out + 1].runs[0];
    *keys = mem_alloc(r->nfiles * sizeof(**keys));
    *lens = mem_alloc(r->nfiles * sizeof(**lens));
    *sizes = mem_alloc(r->nfiles * sizeof(**sizes));
    if (!*keys || !*lens || !*sizes) return; /* no cuts by overlap: still correct */
    for (size_t i = 0; i < r->nfiles; i++) {
        (*keys)[i] = r->files[i]->largest;
        (*lens)[i] = ikey_user_len(r->files[i]->largest_len);
        (*sizes)[i] = r->files[i]->size;
    }
    mj->gp_largest = *keys;
    mj->gp_largest_len = *lens;
    mj->gp_size = *sizes;
    mj->ngp = r->nfiles;
}

/* ---- Subcompactions ------------------------------------------------------------------------ */

/* One part of a compaction: its user-key range, its own input iterator (so its own table
 * readers and read-ahead), its merge and its output files. */
struct subcompaction {
    lamina_db *db;
    const struct compaction_job *job;
    struct run *runs;
    struct job_files jf;
    struct merge_job mj;
    int threaded; /* it runs on a thread of its own */
    int rc;
    char msg[512]; /* the error message, which is per thread */
};

static void *subcompaction_main(void *arg)
{
    struct subcompaction *sc = arg;
    sc->mj.input = bg_input(sc->db, sc->job, sc->runs, &sc->rc);
    if (sc->mj.input) {
        sc->rc = merge_job_run(&sc->mj);
        iter_destroy(sc->mj.input);
        sc->mj.input = NULL;
    }
    if (sc->rc && sc->rc != MERGE_CANCELLED) snprintf(sc->msg, sizeof(sc->msg), "%s", err_message());
    return NULL;
}

/* A key of an input table with the bytes of input it closes. */
struct bg_sample {
    const uint8_t *key; /* user key (borrowed) */
    size_t len;
    uint64_t bytes;
};

#define BG_SAMPLES_PER_PART 4 /* keys sampled per input table, per part wanted */

static int bg_sample_cmp(const void *a, const void *b)
{
    const struct bg_sample *x = a, *y = b;
    return ikey_user_cmp(x->key, x->len, y->key, y->len);
}

/* Up to max - 1 user keys splitting the job's input into parts of about equal bytes, as
 * RocksDB picks subcompaction boundaries from its input files: each input table gives keys at
 * evenly spaced data blocks (table_sample_keys) and its largest key, each weighted with the
 * bytes it closes; ordered, they are cut where the running bytes pass each 1/max of the total.
 * Sampled keys go to store (nfiles * BG_SAMPLES_PER_PART * max bufs, the caller frees them);
 * bounds point into store or the version. Returns how many bounds. */
static size_t bg_split_points(const struct version *v, const struct compaction_job *job,
                              size_t max, buf *store, struct bg_sample *smp,
                              const uint8_t **bounds, size_t *bound_lens)
{
    size_t per = BG_SAMPLES_PER_PART * max, n = 0, fi = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < job->ninputs; i++) {
        const struct compaction_input *in = &job->inputs[i];
        const struct run *r = &v->levels[in->level].runs[in->run];
        for (size_t f = 0; f < in->count; f++, fi++) {
            struct file_meta *fm = r->files[in->first + f];
            size_t got = 0;
            table *t;
            /* A table that cannot be sampled still bounds with its largest key. */
            if (file_meta_table(fm, &t) == 0) {
                if (table_sample_keys(t, per, store + fi * per, &got)) got = 0;
                table_unref(t);
            }
            uint64_t share = fm->size / (got + 1);
            for (size_t k = 0; k < got; k++)
                smp[n++] = (struct bg_sample){store[fi * per + k].data, store[fi * per + k].len,
                                              share};
            smp[n++] = (struct bg_sample){fm->largest, ikey_user_len(fm->largest_len),
                                          fm->size - share * got};
            total += fm->size;
        }
    }
    qsort(smp, n, sizeof(*smp), bg_sample_cmp);
    size_t nb = 0;
    uint64_t acc = 0;
    /* The last key bounds nothing: no part would follow it. */
    for (size_t i = 0; i + 1 < n && nb + 1 < max; i++) {
        acc += smp[i].bytes;
        if (acc * max < total * (nb + 1)) continue;
        /* Bounds must grow (equal keys would make an empty part). */
        if (nb && ikey_user_cmp(smp[i].key, smp[i].len, bounds[nb - 1], bound_lens[nb - 1]) <= 0)
            continue;
        bounds[nb] = smp[i].key;
        bound_lens[nb++] = smp[i].len;
    }
    return nb;
}

/* Runs the merge of a non-trivial job: in one thread, or split at key bounds into
 * max_subcompactions parts merged by parallel threads, their outputs added to edit in key
 * order. Returns 0, an error or MERGE_CANCELLED; on failure every output file is removed. */
static int bg_merge(lamina_db *db, const struct version *v, const struct compaction_job *job,
                    struct run *runs, const struct merge_job *proto, uint64_t run_id,
                    struct version_edit *edit, uint64_t *written)
{
    size_t nfiles = 0;
    for (size_t i = 0; i < job->ninputs; i++)
        nfiles += job->inputs[i].count;
    size_t max = (size_t)db->opts.max_subcompactions;
    size_t nstore = max > 1 ? nfiles * BG_SAMPLES_PER_PART * max : 0;
    buf *store = mem_calloc(nstore ? nstore : 1, sizeof(*store));
    struct bg_sample *smp = mem_alloc((nstore + nfiles + 1) * sizeof(*smp));
    const uint8_t **bounds = mem_alloc(max * sizeof(*bounds));
    size_t *bound_lens = mem_alloc(max * sizeof(*bound_lens));
    struct subcompaction *sc = NULL;
    pthread_t *threads = NULL;
    int rc = 0;
    size_t nb = 0, nparts = 1;
    if (!store || !smp || !bounds || !bound_lens) {
        rc = err_set(LAMINA_ENOMEM, "compaction: out of memory");
        goto out;
    }
    if (max > 1) nb = bg_split_points(v, job, max, store, smp, bounds, bound_lens);
    nparts = nb + 1;
    sc = mem_calloc(nparts, sizeof(*sc));
    threads = mem_calloc(nparts, sizeof(*threads));
    if (!sc || !threads) {
        rc = err_set(LAMINA_ENOMEM, "compaction: out of memory");
        goto out;
    }
    for (size_t p = 0; p < nparts; p++) {
        sc[p] = (struct subcompaction){.db = db, .job = job, .runs = runs};
        sc[p].jf = (struct job_files){db, NULL, 0, 0};
        sc[p].mj = *proto;
        sc[p].mj.ctx = &sc[p].jf;
        sc[p].mj.lower = p ? bounds[p - 1] : NULL;
        sc[p].mj.lower_len = p ? bound_lens[p - 1] : 0;
        sc[p].mj.upper = p < nb ? bounds[p] : NULL;
        sc[p].mj.upper_len = p < nb ? bound_lens[p] : 0;
    }
    if (nparts > 1)
        db_log(db, "compaction: level %d -> %d in %zu subcompactions", job->level,
               job->output_level, nparts);
    /* Parts 1.. on their own threads, part 0 on this one; a part whose thread cannot start
     * runs here after part 0. */
    for (size_t p = 1; p < nparts; p++)
        sc[p].threaded = pthread_create(&threads[p], NULL, subcompaction_main, &sc[p]) == 0;
    subcompaction_main(&sc[0]);
    for (size_t p = 1; p < nparts; p++) {
        if (sc[p].threaded)
            pthread_join(threads[p], NULL);
        else
            subcompaction_main(&sc[p]);
    }
    for (size_t p = 0; p < nparts && rc == 0; p++) {
        rc = sc[p].rc;
        if (rc && rc != MERGE_CANCELLED) err_set(rc, "%s", sc[p].msg);
    }
    for (size_t p = 0; p < nparts && rc == 0; p++)
        rc = job_outputs_to_edit(&sc[p].mj, job->output_level, run_id, edit);
    for (size_t p = 0; p < nparts; p++) {
        *written += sc[p].mj.bytes_written;
        if (rc) job_files_remove(&sc[p].jf);
    }
out:
    for (size_t p = 0; sc && p < nparts; p++) {
        merge_job_free(&sc[p].mj);
        mem_free(sc[p].jf.numbers);
    }
    mem_free(sc);
    mem_free(threads);
    for (size_t i = 0; store && i < nstore; i++)
        buf_free(&store[i]);
    mem_free(store);
    mem_free(smp);
    mem_free(bounds);
    mem_free(bound_lens);
    return rc;
}

/* Runs a picked job on version v (pinned by the caller) without mu. Returns 0, an error, or
 * MERGE_CANCELLED. */
static int bg_run_job(lamina_db *db, const struct version *v, const struct compaction_job *job,
                      uint64_t run_id, int drop, const uint64_t *snaps, size_t nsnap)
{
    struct version_edit edit;
    version_edit_init(&edit);
    struct run *runs = NULL;
    const uint8_t **gk = NULL;
    size_t *gl = NULL;
    uint64_t *gs = NULL, written = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t in_files = 0;
    int rc = bg_edit_inputs(v, job, run_id, &edit);
    for (size_t i = 0; i < job->ninputs; i++)
        in_files += job->inputs[i].count;
    if (rc == 0 && !job->trivial_move) {
        /* Each input is a slice of one run: iterate it like a run. */
        runs = mem_calloc(job->ninputs, sizeof(*runs));
        if (!runs) rc = err_set(LAMINA_ENOMEM, "compaction: out of memory");
        for (size_t i = 0; rc == 0 && i < job->ninputs; i++) {
            const struct compaction_input *in = &job->inputs[i];
            const struct run *r = &v->levels[in->level].runs[in->run];
            runs[i] = (struct run){r->id, r->files + in->first, in->count, 0};
        }
        if (rc == 0) {
            struct merge_job mj;
            memset(&mj, 0, sizeof(mj));
            mj.snapshots = snaps;
            mj.nsnapshots = nsnap;
            mj.drop_tombstones = drop;
            mj.target_file_size = job->target_file_size;
            mj.table_opts = job->table_opts;
            mj.max_grandparent_overlap = job->max_grandparent_overlap;
            mj.cancel = &db->cancel;
            mj.new_file = job_new_file;
            bg_grandparents(v, job->output_level, &mj, &gk, &gl, &gs);
            range_del_list *rd = NULL;
            rc = db_range_dels_runs(runs, job->ninputs, &rd);
            mj.range_dels = rd;
            if (rc == 0) rc = bg_merge(db, v, job, runs, &mj, run_id, &edit, &written);
            range_del_list_free(rd);
            FAULT_CRASH_POINT("compaction:outputs-synced");
        }
    }
    if (rc == 0 && !job->trivial_move) {
        struct edit_level_stats *ls = &edit.stats.level[job->output_level];
        clock_gettime(CLOCK_MONOTONIC, &t1);
        edit.has_stats = 1;
        ls->bytes_read = job->input_bytes;
        ls->bytes_written = written;
        ls->count = 1;
        ls->micros = (uint64_t)((int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
                                (int64_t)(t1.tv_nsec - t0.tv_nsec) / 1000);
    }
    if (rc == 0) rc = db_log_and_apply(db, &edit, 0);
    if (rc == 0) {
        atomic_fetch_add(&db->stats.level_bytes_written[job->output_level], written);
        if (job->trivial_move) {
            atomic_fetch_add(&db->stats.trivial_moves, 1);
        } else {
            atomic_fetch_add(&db->stats.compaction_bytes_read, job->input_bytes);
            atomic_fetch_add(&db->stats.compactions, 1);
        }
        if (job->level > 0 && !job->trivial_move) {
            uint64_t m = atomic_load(&db->stats.max_compaction_input);
            while (m < job->input_bytes &&
                   !atomic_compare_exchange_weak(&db->stats.max_compaction_input, &m,
                                                 job->input_bytes)) {
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        db_log(db,
               "%s: level %d -> %d, score %.2f, %zu input run slice(s), %zu files, read %" PRIu64
               " bytes -> %zu files, %" PRIu64 " bytes%s, %.3f s",
               job->trivial_move ? "trivial move" : "compaction", job->level, job->output_level,
               job->score, job->ninputs, in_files, job->input_bytes,
               job->trivial_move ? in_files : edit.nadded, written,
               drop ? ", tombstones dropped" : "", secs);
    }
    version_edit_free(&edit);
    mem_free(runs);
    mem_free(gk);
    mem_free(gl);
    mem_free(gs);
    return rc;
}

/* Picks and runs one compaction job if one is due and its tables are free. Called with mu
 * held; returns 1 if it ran one. */
static int bg_compact(lamina_db *db)
{
    if (db->policy.disabled) return 0;
    struct version *v = db->vs.current;
    struct bg_view bv;
    struct compaction_job job;
    if (bg_view_build(v, &bv)) return 0;
    int picked = compaction_pick_job(&db->policy, &bv.view, &db->cursors, &db->topts,
                                     db->target_file_size, &job);
    bg_view_free(&bv);
    if (picked <= 0) return 0;
    if (!job.trivial_move) job.table_opts.bloom_bits = bg_job_bloom_bits(db, v, &job);
    version_ref(v);
    db->compactions_running++;
    uint64_t run_id;
    if (job.whole_runs || job.output_run == SIZE_MAX)
        run_id = db->vs.next_run++;
    else
        run_id = v->levels[job.output_level].runs[job.output_run].id;
    /* Cursor and key range first, while the version holds the keys. */
    if (job.source_largest)
        (void)compaction_cursor_set(&db->cursors, job.level, job.source_largest,
                                    job.source_largest_len);
    int drop = !job.trivial_move && bg_is_bottom(v, &job);
    bg_mark_inputs(v, &job, 1);
    size_t nsnap;
    uint64_t *snaps = bg_snapshots(db, &nsnap);
    int snap_fail = db->nsnapshots && !snaps;
    pthread_mutex_unlock(&db->mu);

    int rc = snap_fail ? err_set(LAMINA_ENOMEM, "compaction: out of memory")
                       : bg_run_job(db, v, &job, run_id, drop, snaps, nsnap);

    mem_free(snaps);
    pthread_mutex_lock(&db->mu);
    bg_mark_inputs(v, &job, 0);
    if (rc == MERGE_CANCELLED)
        db_log(db, "compaction: level %d cancelled (closing)", job.level);
    else if (rc)
        db_set_bg_error(db, rc, "compaction");
    compaction_job_free(&job);
    /* Before the job counts as done, so that a waiter sees the files it obsoleted queued. */
    version_unref(v);
    db->compactions_running--;
    pthread_cond_broadcast(&db->done_cv);
    pthread_cond_broadcast(&db->bg_cv);
    return 1;
}

/* Whether a table of v overlaps the user-key range [begin, end] (NULL: unbounded). */
static int bg_overlaps(const struct version *v, const void *begin, size_t begin_len,
                       const void *end, size_t end_len)
{
    for (int l = 0; l < v->num_levels; l++)
        for (size_t r = 0; r < v->levels[l].nruns; r++)
            for (size_t i = 0; i < v->levels[l].runs[r].nfiles; i++)
                if (file_overlaps(v->levels[l].runs[r].files[i], begin, begin_len, end, end_len))
                    return 1;
    return 0;
}

int db_compact_all(lamina_db *db, const void *begin, size_t begin_len, const void *end,
                   size_t end_len)
{
    pthread_mutex_lock(&db->mu);
    db->manual_compaction++;
    while (db->compactions_running && !db->bg_error && !db->shutdown)
        pthread_cond_wait(&db->done_cv, &db->mu);
    if (db->bg_error || db->shutdown) {
        int rc = db->bg_error ? db_readonly_error(db)
                              : err_set(LAMINA_EBUSY, "compaction: the database is closing");
        db->manual_compaction--;
        pthread_cond_broadcast(&db->bg_cv);
        pthread_mutex_unlock(&db->mu);
        return rc;
    }
    db->compactions_running++;
    struct version *v = db->vs.current;
    version_ref(v);
    int deepest = version_deepest_level(v);
    struct compaction_job job;
    memset(&job, 0, sizeof(job));
    job.output_level = deepest < 1 ? 1 : deepest;
    job.whole_runs = 1;
    job.table_opts = db->topts;
    if (job.output_level < db->policy.min_level_to_compress)
        job.table_opts.compression = LAMINA_COMPRESSION_NONE;
    job.target_file_size = db->target_file_size;
    size_t nruns = 0;
    for (int l = 0; l < v->num_levels; l++)
        nruns += v->levels[l].nruns;
    int needed = (nruns > 1 || (nruns == 1 && deepest != job.output_level)) &&
                 bg_overlaps(v, begin, begin_len, end, end_len);
    int rc = 0;
    uint64_t run_id = 0;
    size_t nsnap = 0;
    uint64_t *snaps = NULL;
    if (needed) {
        run_id = db->vs.next_run++;
        snaps = bg_snapshots(db, &nsnap);
        if ((db->nsnapshots && !snaps) || !(job.inputs = mem_alloc(nruns * sizeof(*job.inputs))))
            rc = err_set(LAMINA_ENOMEM, "compaction: out of memory");
        for (int l = 0; rc == 0 && l < v->num_levels; l++)
            for (size_t r = 0; r < v->levels[l].nruns; r++) {
                const struct run *run = &v->levels[l].runs[r];
                job.inputs[job.ninputs++] = (struct compaction_input){l, r, 0, run->nfiles};
                job.input_bytes += run->bytes;
                for (size_t i = 0; i < run->nfiles; i++) {
                    const struct file_meta *f = run->files[i];
                    if (!job.smallest || ikey_user_cmp(f->smallest, ikey_user_len(f->smallest_len),
                                                       job.smallest, job.smallest_len) < 0) {
                        job.smallest = f->smallest;
                        job.smallest_len = ikey_user_len(f->smallest_len);
                    }
                    if (!job.largest || ikey_user_cmp(f->largest, ikey_user_len(f->largest_len),
                                                      job.largest, job.largest_len) > 0) {
                        job.largest = f->largest;
                        job.largest_len = ikey_user_len(f->largest_len);
                    }
                }
            }
        if (rc == 0) job.table_opts.bloom_bits = bg_job_bloom_bits(db, v, &job);
        if (rc == 0) bg_mark_inputs(v, &job, 1);
    }
    pthread_mutex_unlock(&db->mu);

    /* Everything is an input, so the output is the bottom: tombstones may go. */
    if (needed && rc == 0) rc = bg_run_job(db, v, &job, run_id, 1, snaps, nsnap);
    mem_free(snaps);
    pthread_mutex_lock(&db->mu);
    if (needed && job.inputs) bg_mark_inputs(v, &job, 0);
    if (rc == MERGE_CANCELLED) {
        db_log(db, "manual compaction cancelled (closing)");
        rc = err_set(LAMINA_EBUSY, "compaction: cancelled, the database is closing");
    } else if (rc && rc != LAMINA_EREADONLY)
        db_set_bg_error(db, rc, "manual compaction");
    compaction_job_free(&job);
    version_unref(v);
    db->compactions_running--;
    db->manual_compaction--;
    pthread_cond_broadcast(&db->done_cv);
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

/* ---- Obsolete files --------------------------------------------------------------------- */

void db_queue_obsolete(void *ctx, uint64_t file_number)
{
    lamina_db *db = ctx;
    pthread_mutex_lock(&db->obsolete_mu);
    if (db->nobsolete == db->cap_obsolete) {
        size_t cap = db->cap_obsolete ? db->cap_obsolete * 2 : 64;
        uint64_t *p = mem_realloc(db->obsolete, cap * sizeof(*p));
        if (!p) {
            /* The file stays as an orphan; the sweep at the next open deletes it. */
            pthread_mutex_unlock(&db->obsolete_mu);
            return;
        }
        db->obsolete = p;
        db->cap_obsolete = cap;
    }
    db->obsolete[db->nobsolete++] = file_number;
    pthread_mutex_unlock(&db->obsolete_mu);
    /* Without mu (the caller may hold it): a wake-up lost to a thread just about to wait only
     * delays the deletion to the next background event or to close. */
    pthread_cond_signal(&db->bg_cv);
}

static int db_has_queued(lamina_db *db)
{
    pthread_mutex_lock(&db->obsolete_mu);
    int n = db->nobsolete > 0 || db->deleting > 0;
    pthread_mutex_unlock(&db->obsolete_mu);
    return n;
}

void db_delete_queued(lamina_db *db)
{
    pthread_mutex_lock(&db->obsolete_mu);
    uint64_t *list = db->obsolete;
    size_t n = db->nobsolete;
    db->obsolete = NULL;
    db->nobsolete = db->cap_obsolete = 0;
    db->deleting += n > 0;
    pthread_mutex_unlock(&db->obsolete_mu);
    if (n == 0) {
        mem_free(list);
        return;
    }
    char path[DB_PATH_MAX + 32];
    for (size_t i = 0; i < n; i++) {
        table_cache_evict(db->tables, list[i]);
        db_file_name(path, sizeof(path), db->path, list[i], "sst");
        /* A failed unlink leaves an orphan that the next open's sweep deletes. */
        if (file_remove(path) == 0) db_log(db, "deleted obsolete table %06" PRIu64, list[i]);
    }
    mem_free(list);
    pthread_mutex_lock(&db->obsolete_mu);
    db->deleting--;
    pthread_mutex_unlock(&db->obsolete_mu);
}

/* ---- Threads ---------------------------------------------------------------------------- */

/* pthread_cond_wait with a timeout of ms milliseconds. */
static void bg_wait(pthread_cond_t *cv, pthread_mutex_t *mu, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    (void)pthread_cond_timedwait(cv, mu, &ts);
}

static void *bg_main(void *arg)
{
    lamina_db *db = arg;
    pthread_mutex_lock(&db->mu);
    while (!db->shutdown) {
        if (db_has_queued(db)) {
            pthread_mutex_unlock(&db->mu);
            db_delete_queued(db);
            pthread_mutex_lock(&db->mu);
            pthread_cond_broadcast(&db->done_cv);
            continue;
        }
        if (!db->bg_error && db->nimm && !db->flush_running) {
            db->flush_running = 1;
            bg_flush(db);
            db->flush_running = 0;
            pthread_cond_broadcast(&db->done_cv);
            continue;
        }
        if (!db->bg_error && !db->manual_compaction &&
            db->compactions_running < db->max_compactions && bg_compact(db))
            continue;
        /* Timed: db_queue_obsolete signals without mu, so a wake-up can be lost. */
        bg_wait(&db->bg_cv, &db->mu, 1000);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

int db_bg_start(lamina_db *db)
{
    int n = (int)db->opts.max_background_jobs;
    /* Compactions that may run at once: one thread stays free for flushes when there are two
     * or more, so a flush never waits behind long merges. Set before any thread reads it. */
    db->max_compactions = n > 1 ? n - 1 : 1;
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
    atomic_store(&db->cancel, 1);
    pthread_cond_broadcast(&db->bg_cv);
    pthread_cond_broadcast(&db->done_cv);
    pthread_mutex_unlock(&db->mu);
    for (int i = 0; i < db->nthreads; i++)
        pthread_join(db->threads[i], NULL);
    db->nthreads = 0;
    /* A lamina_compact_range still running on another thread sees the cancel and returns. */
    pthread_mutex_lock(&db->mu);
    while (db->manual_compaction)
        pthread_cond_wait(&db->done_cv, &db->mu);
    pthread_mutex_unlock(&db->mu);
    db_delete_queued(db);
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

/* Whether the policy has a merge due on v. Called with mu held. */
static int bg_due(const lamina_db *db, const struct version *v)
{
    struct lsm_shape shape;
    struct compaction_pick pick;
    if (db->policy.disabled) return 0;
    version_shape(v, &shape);
    return policy_pick(&db->policy, &shape, &pick);
}

LAMINA_API int lamina_wait_for_compactions(lamina_db *db)
{
    if (!db) return err_set(LAMINA_EINVAL, "lamina_wait_for_compactions: NULL handle");
    pthread_mutex_lock(&db->mu);
    pthread_cond_broadcast(&db->bg_cv);
    while (!db->bg_error && !db->shutdown &&
           (db->nimm || db->flush_running || db->compactions_running || db->manual_compaction ||
            bg_due(db, db->vs.current) || db_has_queued(db))) {
        pthread_cond_broadcast(&db->bg_cv);
        bg_wait(&db->done_cv, &db->mu, 100);
    }
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

/* Ends lamina_resume: on failure the database is read-only again with this error. */
static int bg_resume_end(lamina_db *db, int rc, const char *what)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", err_message());
    pthread_mutex_lock(&db->mu);
    if (rc && !db->bg_error) {
        err_set(rc, "%s", msg);
        db_set_bg_error(db, rc, what);
    }
    db->resuming = 0;
    pthread_cond_broadcast(&db->done_cv);
    pthread_mutex_unlock(&db->mu);
    if (rc) return err_set(rc, "lamina_resume: %s: %s", what, msg);
    db_log(db, "resumed after the background error");
    return 0;
}

LAMINA_API int lamina_resume(lamina_db *db)
{
    if (!db) return err_set(LAMINA_EINVAL, "lamina_resume: NULL handle");
    if (db->read_only) return db_readonly_error(db);
    pthread_mutex_lock(&db->mu);
    if (!db->bg_error || db->resuming || db->shutdown) {
        int rc = db->resuming ? err_set(LAMINA_EBUSY, "lamina_resume: already resuming") : 0;
        pthread_mutex_unlock(&db->mu);
        return rc;
    }
    db->resuming = 1;
    /* Jobs that were running when the error came end (failing or not) before anything moves. */
    while (db->flush_running || db->compactions_running || db->manual_compaction || db->wal_closing)
        bg_wait(&db->done_cv, &db->mu, 100);
    db_log(db, "resuming after: %s", db->bg_msg);
    uint64_t last_seq = atomic_load(&db->last_sequence);
    pthread_mutex_unlock(&db->mu);

    /* A failed edit leaves the MANIFEST's tail in doubt: continue in a fresh one. */
    pthread_mutex_lock(&db->vs.manifest_mu);
    int rc = version_set_new_manifest(&db->vs, last_seq);
    pthread_mutex_unlock(&db->vs.manifest_mu);
    if (rc) return bg_resume_end(db, rc, "writing a new MANIFEST");

    /* The WALs of the memtables may have failed writes: their data goes to tables now, so they
     * are closed unsynced, and the active memtable moves on to a new WAL. Writers stay refused
     * (resuming) until every memtable is flushed, so no synced write is acknowledged ahead of
     * older data that only a damaged WAL holds. */
    pthread_mutex_lock(&db->mu);
    db->bg_error = 0;
    for (size_t i = 0; i < db->nimm; i++)
        if (db->imm[i].wal_file) {
            log_writer_destroy(db->imm[i].wal_log);
            (void)wfile_close(db->imm[i].wal_file);
            db->imm[i].wal_file = NULL;
            db->imm[i].wal_log = NULL;
        }
    pthread_mutex_unlock(&db->mu);
    struct writer w = {0};
    w.resume = 1;
    if ((rc = db_write_impl(db, &w))) return bg_resume_end(db, rc, "switching to a new WAL");
    pthread_mutex_lock(&db->mu);
    uint64_t upto = db->switches;
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    rc = db_wait_flushed(db, upto);
    return bg_resume_end(db, rc, "flushing the memtables");
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
