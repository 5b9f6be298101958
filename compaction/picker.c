/* picker.c — turns the Fluid LSM policy's decision into a compaction job: which tables go in,
 * where they go, how the output is cut. Leveled levels go a table at a time behind a
 * round-robin cursor (LevelDB's PickCompaction with compact pointers), with trivial moves;
 * tiered levels merge whole runs (Dayan & Idreos, SIGMOD 2018). */
#include <stdint.h>
#include <string.h>

#include "compaction/compaction.h"
#include "lamina.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return ikey_user_cmp(a, an, b, bn);
}

/* Whether table t overlaps the user-key range [lo, hi]. */
static int table_overlaps(const struct lsm_table *t, const uint8_t *lo, size_t lo_len,
                          const uint8_t *hi, size_t hi_len)
{
    return key_cmp(t->largest, t->largest_len, lo, lo_len) >= 0 &&
           key_cmp(t->smallest, t->smallest_len, hi, hi_len) <= 0;
}

/* The tables of run r overlapping [lo, hi]: [*first, *first + *count). */
static void run_overlap(const struct lsm_run *r, const uint8_t *lo, size_t lo_len,
                        const uint8_t *hi, size_t hi_len, size_t *first, size_t *count)
{
    size_t a = 0, b = r->ntables;
    while (a < b) { /* first table whose largest >= lo */
        size_t mid = a + (b - a) / 2;
        if (key_cmp(r->tables[mid].largest, r->tables[mid].largest_len, lo, lo_len) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    size_t e = a;
    while (e < r->ntables && table_overlaps(&r->tables[e], lo, lo_len, hi, hi_len))
        e++;
    *first = a;
    *count = e - a;
}

static int range_busy(const struct lsm_run *r, size_t first, size_t count)
{
    for (size_t i = first; i < first + count; i++)
        if (r->tables[i].busy) return 1;
    return 0;
}

static uint64_t range_bytes(const struct lsm_run *r, size_t first, size_t count)
{
    uint64_t b = 0;
    for (size_t i = first; i < first + count; i++)
        b += r->tables[i].size;
    return b;
}

/* Widens the job's key range by tables [first, first + count) of run r. */
static void job_widen(struct compaction_job *job, const struct lsm_run *r, size_t first,
                      size_t count)
{
    for (size_t i = first; i < first + count; i++) {
        const struct lsm_table *t = &r->tables[i];
        if (!job->smallest ||
            key_cmp(t->smallest, t->smallest_len, job->smallest, job->smallest_len) < 0) {
            job->smallest = t->smallest;
            job->smallest_len = t->smallest_len;
        }
        if (!job->largest ||
            key_cmp(t->largest, t->largest_len, job->largest, job->largest_len) > 0) {
            job->largest = t->largest;
            job->largest_len = t->largest_len;
        }
    }
}

static void job_add(struct compaction_job *job, int level, size_t run, const struct lsm_run *r,
                    size_t first, size_t count)
{
    if (count == 0) return;
    job->inputs[job->ninputs++] = (struct compaction_input){level, run, first, count};
    job->input_bytes += range_bytes(r, first, count);
    job_widen(job, r, first, count);
}

/* Bytes of the grandparent level (below out) overlapping the job's range. */
static uint64_t job_grandparent_bytes(const struct lsm_view *v, int out,
                                      const struct compaction_job *job)
{
    uint64_t b = 0;
    if (out + 1 >= v->shape.num_levels) return 0;
    for (size_t r = 0; r < v->nruns[out + 1]; r++) {
        size_t f, c;
        run_overlap(&v->runs[out + 1][r], job->smallest, job->smallest_len, job->largest,
                    job->largest_len, &f, &c);
        b += range_bytes(&v->runs[out + 1][r], f, c);
    }
    return b;
}

/* Adds the output run's tables overlapping the job's range; 0 if one of them is busy. */
static int job_add_output_overlap(struct compaction_job *job, const struct lsm_view *v, int out)
{
    job->output_run = v->nruns[out] ? 0 : SIZE_MAX;
    if (!v->nruns[out]) return 1;
    const struct lsm_run *r = &v->runs[out][0];
    size_t f, c;
    run_overlap(r, job->smallest, job->smallest_len, job->largest, job->largest_len, &f, &c);
    if (range_busy(r, f, c)) return 0;
    /* Range of the inputs above, before the output tables widen it: the overlap is computed
     * once (the output tables of one run do not overlap each other). */
    job_add(job, out, 0, r, f, c);
    return 1;
}

/* Level-0 (or a leveled source with several runs) into a leveled output: every run of the
 * source, plus the overlapping output tables. */
static int pick_all_runs_into_leveled(const struct lsm_view *v, int level, int out,
                                      struct compaction_job *job)
{
    for (size_t r = 0; r < v->nruns[level]; r++)
        if (range_busy(&v->runs[level][r], 0, v->runs[level][r].ntables)) return 0;
    for (size_t r = 0; r < v->nruns[level]; r++)
        job_add(job, level, r, &v->runs[level][r], 0, v->runs[level][r].ntables);
    size_t src_inputs = job->ninputs;
    if (!job_add_output_overlap(job, v, out)) return 0;
    /* One source run overlapping nothing below (and little two levels down) moves as it is. */
    job->trivial_move = src_inputs == 1 && job->ninputs == 1 && level != out &&
                        job_grandparent_bytes(v, out, job) <= job->max_grandparent_overlap;
    return job->ninputs > 0;
}

/* One table of a leveled source (and its neighbours sharing a boundary user key) into the
 * leveled output, starting after the cursor. */
static int pick_one_table(const struct lsm_view *v, int level, int out,
                          const struct compaction_cursors *cur, struct compaction_job *job)
{
    const struct lsm_run *r = &v->runs[level][0];
    size_t n = r->ntables, start = 0;
    if (n == 0) return 0;
    if (cur->set[level]) {
        while (start < n && key_cmp(r->tables[start].largest, r->tables[start].largest_len,
                                    cur->key[level], cur->len[level]) <= 0)
            start++;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n, first = i, last = i;
        /* Versions of one user key may span tables of a run (older table formats): they move
         * together, or a newer version would sink below an older one. */
        while (first > 0 && key_cmp(r->tables[first - 1].largest, r->tables[first - 1].largest_len,
                                    r->tables[first].smallest, r->tables[first].smallest_len) == 0)
            first--;
        while (last + 1 < n &&
               key_cmp(r->tables[last].largest, r->tables[last].largest_len,
                       r->tables[last + 1].smallest, r->tables[last + 1].smallest_len) == 0)
            last++;
        if (range_busy(r, first, last - first + 1)) continue;
        job->ninputs = 0;
        job->input_bytes = 0;
        job->smallest = job->largest = NULL;
        job_add(job, level, 0, r, first, last - first + 1);
        job->source_largest = job->largest;
        job->source_largest_len = job->largest_len;
        if (!job_add_output_overlap(job, v, out)) continue;
        job->trivial_move = job->ninputs == 1 && level != out &&
                            job_grandparent_bytes(v, out, job) <= job->max_grandparent_overlap;
        return 1;
    }
    return 0;
}

/* Whole runs: every run of the source level, plus (include_output) every run of the output. */
static int pick_whole_runs(const struct lsm_view *v, int level, int out, int include_output,
                           struct compaction_job *job)
{
    int with_out = include_output && out != level;
    for (size_t r = 0; r < v->nruns[level]; r++)
        if (range_busy(&v->runs[level][r], 0, v->runs[level][r].ntables)) return 0;
    for (size_t r = 0; with_out && r < v->nruns[out]; r++)
        if (range_busy(&v->runs[out][r], 0, v->runs[out][r].ntables)) return 0;
    for (size_t r = 0; r < v->nruns[level]; r++)
        job_add(job, level, r, &v->runs[level][r], 0, v->runs[level][r].ntables);
    for (size_t r = 0; with_out && r < v->nruns[out]; r++)
        job_add(job, out, r, &v->runs[out][r], 0, v->runs[out][r].ntables);
    job->whole_runs = 1;
    job->output_run = SIZE_MAX;
    /* A single run merging with nothing moves down as it is (a new run there, newer than
     * the output level's others, as its data is). */
    job->trivial_move = job->ninputs == 1 && level != out;
    return job->ninputs > 0;
}

/* Whether a due tiered level should merge its newest runs in place rather than push all its
 * runs down: with K < T - 1 it exceeds its bound before it holds T arrivals. An arrival is
 * about the size of the level's newest run (the one whose arrival made the level due); the
 * level is full from (T - 1/2) arrivals, so that a push carries about T of them, as the model's
 * capacity C_i = T * C_(i-1) says. */
static int tiered_in_place(const struct policy *p, const struct lsm_view *v, int level, int out)
{
    int bound = policy_level_run_bound(p, &v->shape, level);
    if (level == 0 || out != level + 1 || bound <= 1 || bound + 1 >= p->size_ratio) return 0;
    if (v->nruns[level] < 2 || v->runs[level][0].bytes == 0) return 0;
    double arrivals = (double)v->shape.bytes[level] / (double)v->runs[level][0].bytes;
    return arrivals < (double)p->size_ratio - 0.5;
}

/* The newest runs of a tiered level merge into one run that stays in the level (as the
 * newest), leaving it at its bound: the active run of the Fluid LSM-tree grows by arrivals. */
static int pick_newest_runs(const struct policy *p, const struct lsm_view *v, int level,
                            struct compaction_job *job)
{
    size_t bound = (size_t)policy_level_run_bound(p, &v->shape, level);
    size_t m = v->nruns[level] - bound + 1;
    for (size_t r = 0; r < m; r++)
        if (range_busy(&v->runs[level][r], 0, v->runs[level][r].ntables)) return 0;
    for (size_t r = 0; r < m; r++)
        job_add(job, level, r, &v->runs[level][r], 0, v->runs[level][r].ntables);
    job->output_level = level;
    job->whole_runs = 1;
    job->output_run = SIZE_MAX;
    return job->ninputs > 0;
}

static int pick_level(const struct policy *p, const struct lsm_view *v,
                      const struct compaction_cursors *cur, int level, int out, int include_output,
                      struct compaction_job *job)
{
    if (tiered_in_place(p, v, level, out)) return pick_newest_runs(p, v, level, job);
    int leveled_out =
        out != level && policy_level_run_bound(p, &v->shape, out) == 1 && v->nruns[out] <= 1;
    /* The largest level of a tree with tiered upper levels (K > 1) grows a new level: its run
     * moves down whole, as the new largest level's one run, and the level left empty takes
     * tiered runs again; a table at a time would strand it as one oversized run of a tier. */
    int grows = out == level + 1 && v->nruns[out] == 0 && p->runs_per_level > 1;
    if (grows) return pick_whole_runs(v, level, out, 0, job);
    if (leveled_out && level >= 1 && v->nruns[level] == 1)
        return pick_one_table(v, level, out, cur, job);
    if (leveled_out && level == 0) return pick_all_runs_into_leveled(v, level, out, job);
    return pick_whole_runs(v, level, out, include_output, job);
}

int compaction_pick_job(const struct policy *p, const struct lsm_view *v,
                        const struct compaction_cursors *cur, const struct table_options *topts,
                        uint64_t target_file_size, struct compaction_job *job)
{
    memset(job, 0, sizeof(*job));
    if (p->disabled) return 0;
    int n = v->shape.num_levels < p->num_levels ? v->shape.num_levels : p->num_levels;
    double score[COMPACTION_MAX_LEVELS];
    int out[COMPACTION_MAX_LEVELS], inc[COMPACTION_MAX_LEVELS], tried[COMPACTION_MAX_LEVELS];
    size_t most_runs = 0;
    for (int i = 0; i < n; i++) {
        score[i] = v->nruns[i] ? policy_score(p, &v->shape, i, &out[i], &inc[i]) : 0.0;
        tried[i] = 0;
        size_t runs = v->nruns[i] + (i + 1 < n ? v->nruns[i + 1] : 0);
        if (runs > most_runs) most_runs = runs;
    }
    if (most_runs == 0) return 0;
    job->inputs = mem_alloc(most_runs * sizeof(*job->inputs));
    if (!job->inputs) return err_set(LAMINA_ENOMEM, "compaction pick: out of memory");
    for (;;) {
        /* The most urgent level not yet tried; level 0 is due from 1.0, others above it, the
         * shallower one on a tie (as policy_pick). */
        int best = -1;
        for (int i = 0; i < n; i++) {
            if (tried[i]) continue;
            int due = i == 0 ? score[i] >= 1.0 : score[i] > 1.0;
            if (due && (best < 0 || score[i] > score[best])) best = i;
        }
        if (best < 0) break;
        tried[best] = 1;
        struct compaction_input *inputs = job->inputs;
        memset(job, 0, sizeof(*job));
        job->inputs = inputs;
        job->level = best;
        job->output_level = out[best];
        job->score = score[best];
        job->table_opts = *topts;
        job->target_file_size = target_file_size;
        /* (T - 1) targets of grandparent overlap, plus the table itself and the two
         * grandparents cut at the ends: (T + 2) x target_file_size read by a later job. */
        job->max_grandparent_overlap = (uint64_t)(p->size_ratio - 1) * target_file_size;
        if (pick_level(p, v, cur, best, out[best], inc[best], job)) {
            if (job->output_level < p->min_level_to_compress)
                job->table_opts.compression = LAMINA_COMPRESSION_NONE;
            return 1;
        }
    }
    compaction_job_free(job);
    return 0;
}

void compaction_job_free(struct compaction_job *job)
{
    mem_free(job->inputs);
    job->inputs = NULL;
    job->ninputs = 0;
}

int compaction_cursor_set(struct compaction_cursors *cur, int level, const uint8_t *key, size_t len)
{
    uint8_t *k = mem_alloc(len ? len : 1);
    if (!k) return err_set(LAMINA_ENOMEM, "compaction cursor: out of memory");
    memcpy(k, key, len);
    mem_free(cur->key[level]);
    cur->key[level] = k;
    cur->len[level] = len;
    cur->set[level] = 1;
    return 0;
}

void compaction_cursors_free(struct compaction_cursors *cur)
{
    for (int i = 0; i < COMPACTION_MAX_LEVELS; i++)
        mem_free(cur->key[i]);
    memset(cur, 0, sizeof(*cur));
}
