/* compaction.h — the Fluid LSM compaction mechanism (Idreos, Dayan et al.: "Dostoevsky: Better
 * Space-Time Trade-Offs for LSM-Tree Based Key-Value Stores via Adaptive Removal of
 * Superfluous Merging", SIGMOD 2018): levels grow by size ratio T, a level holds up to K
 * sorted runs (the last level up to Z), and presets are parameter choices of this one
 * mechanism. The policy decides what to merge from a summary of the LSM's shape; the merge job
 * writes the merged runs as new tables. Neither knows the engine's version set. */
#ifndef COMPACTION_COMPACTION_H
#define COMPACTION_COMPACTION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sst/table.h"
#include "util/iter.h"
#include "util/range_del.h"

#define COMPACTION_MAX_LEVELS 20

struct policy {
    int size_ratio;            /* T */
    int runs_per_level;        /* K, levels 1..L-1 */
    int runs_last_level;       /* Z */
    int l0_trigger;            /* level-0 runs that start a merge into level 1 */
    uint64_t level1_bytes;     /* capacity of level 1; level i holds level1_bytes * T^(i-1) */
    int num_levels;            /* levels including level 0 */
    int disabled;              /* preset none: flushes only */
    int min_level_to_compress; /* outputs above this level are written uncompressed */
    uint64_t level0_bytes;     /* what one level-0 merge writes (level1_bytes as given) */
};

/* Fills *p from a preset (LAMINA_COMPACTION_*) and T; K and Z given as 0 take the preset's
 * values. level1_bytes is level 1's capacity when level 1 is leveled (K = 1); a tiered level 1
 * (K > 1) collects runs of that size and holds T of them, so its capacity is T * level1_bytes. */
void policy_init(struct policy *p, int preset, int size_ratio, int runs_per_level,
                 int runs_last_level, int l0_trigger, uint64_t level1_bytes, int num_levels);

/* The LSM's shape as the policy sees it: per level, its sorted runs and bytes. */
struct lsm_shape {
    int num_levels;
    int runs[COMPACTION_MAX_LEVELS];
    uint64_t bytes[COMPACTION_MAX_LEVELS];
};

/* A decision: merge every run of level `level` (and, when into_next, the runs of level+1
 * that the output must merge with, as the engine's K/Z bound asks) into level `output_level`. */
struct compaction_pick {
    int level;          /* source level */
    int output_level;   /* level + 1 */
    int include_output; /* 1: the output level's runs are inputs too (leveling it) */
    double score;       /* > 1 means over its bound; the largest wins */
};

/* Picks the most urgent merge. Returns 1 and fills *out, or 0 if no level is over its bound. */
int policy_pick(const struct policy *p, const struct lsm_shape *shape, struct compaction_pick *out);

/* Score of level i under the decision rule of policy_pick (due from 1.0), and the output
 * level's part in the merge: sets *output_level and *include_output as policy_pick would. */
double policy_score(const struct policy *p, const struct lsm_shape *shape, int level,
                    int *output_level, int *include_output);
/* Run bound of level i for this shape: Z for the largest level, K above it. */
int policy_level_run_bound(const struct policy *p, const struct lsm_shape *shape, int level);

/* ---- Compaction jobs ------------------------------------------------------------------- */

/* The tables of a version as the picker sees them. Keys are user keys, borrowed from the
 * engine's version, which stays pinned while the view lives. */
struct lsm_table {
    uint64_t number, size;
    const uint8_t *smallest, *largest;
    size_t smallest_len, largest_len;
    int busy; /* input of a running job */
};

struct lsm_run {
    uint64_t id;
    struct lsm_table *tables; /* sorted by key, non-overlapping */
    size_t ntables;
    uint64_t bytes;
};

struct lsm_view {
    struct lsm_shape shape;
    struct lsm_run *runs[COMPACTION_MAX_LEVELS]; /* per level, newest run first */
    size_t nruns[COMPACTION_MAX_LEVELS];
};

/* Tables [first, first + count) of run `run` (an index into the view's runs of `level`). */
struct compaction_input {
    int level;
    size_t run;
    size_t first, count;
};

/* A compaction job: which tables go in, where their merge goes, and how its tables are cut.
 * Jobs whose inputs are disjoint run in parallel (the picker never hands out a busy table). */
struct compaction_job {
    int level, output_level;
    struct compaction_input *inputs; /* newest first: source level's runs, then output's */
    size_t ninputs;
    int whole_runs;    /* tiered: whole runs merge into a new run of output_level */
    int trivial_move;  /* one table (or level-0 run) overlapping nothing below: re-linked
                          into output_level by a MANIFEST edit, no I/O */
    size_t output_run; /* !whole_runs: index of the output level's run the outputs join,
                          or SIZE_MAX when that level has none yet */
    const uint8_t *smallest, *largest; /* user-key range of all inputs (borrowed) */
    size_t smallest_len, largest_len;
    const uint8_t *source_largest; /* largest user key of the source level's inputs: */
    size_t source_largest_len;     /* where the level's cursor goes next (borrowed) */
    uint64_t input_bytes;
    double score;
    /* Output tables: cut at target_file_size, and before their overlap with the level below
     * the output (the grandparents) passes max_grandparent_overlap bytes, so that a later
     * compaction of any output table reads at most about (T + 2) tables (LevelDB's rule). */
    struct table_options table_opts;
    uint64_t target_file_size, max_grandparent_overlap;
};

/* Per-level round-robin cursors (LevelDB's compact pointers): the largest user key of the
 * last table compacted out of each level; the next leveled job starts after it. */
struct compaction_cursors {
    uint8_t *key[COMPACTION_MAX_LEVELS];
    size_t len[COMPACTION_MAX_LEVELS];
    int set[COMPACTION_MAX_LEVELS];
};

/* Picks the most urgent job the view allows: levels in decreasing score (policy_score), each
 * tried until one yields a job whose tables are all free. A level whose output is leveled (run
 * bound 1, at most one run there) and that holds one run is compacted a table at a time: the
 * first free table after the level's cursor, with the tables of its run that share a boundary
 * user key, merges with the overlapping tables of the output run, or moves if none overlap.
 * Level 0 merges all its runs with the overlapping output tables. Other levels merge whole
 * runs, as the tiered model says; a tiered level with K < T - 1 that exceeds its bound before
 * it holds about T arrivals merges only its newest runs, in place (output_level == level).
 * base (table options, target size) is copied into the job.
 * Returns 1 with *job filled (free with compaction_job_free), 0 when nothing is due or
 * everything due is busy, or LAMINA_ENOMEM. */
int compaction_pick_job(const struct policy *p, const struct lsm_view *v,
                        const struct compaction_cursors *cur, const struct table_options *topts,
                        uint64_t target_file_size, struct compaction_job *job);
void compaction_job_free(struct compaction_job *job);
/* Moves level's cursor to key (copied). LAMINA_ENOMEM leaves it where it was. */
int compaction_cursor_set(struct compaction_cursors *cur, int level, const uint8_t *key,
                          size_t len);
void compaction_cursors_free(struct compaction_cursors *cur);

/* Capacity in bytes of level i >= 1 (level1_bytes * T^(i-1)); of level 0, level0_bytes. */
uint64_t policy_level_capacity(const struct policy *p, int level);

/* ---- Merge job (flush and compaction both run it) ------------------------------------- */

/* Creates the next output table file: the engine allocates a file number and opens the file.
 * Returns 0 or a LAMINA_E* code. */
typedef int (*merge_new_file_fn)(void *ctx, uint64_t *file_number, wfile **f);

struct merge_job {
    iter *input;               /* merged input in internal-key order (borrowed) */
    const uint64_t *snapshots; /* live snapshot seqs, ascending (borrowed) */
    size_t nsnapshots;
    int drop_tombstones;       /* output is the last level holding data: drop deletions
                                  no snapshot needs */
    uint64_t target_file_size; /* cut output tables at this size */
    /* Grandparent tables (the level below the output), in key order: output tables are cut
     * at a user-key change once they overlap more than max_grandparent_overlap bytes of them
     * (0: no such cut). Borrowed. */
    const uint8_t *const *gp_largest; /* user keys */
    const size_t *gp_largest_len;
    const uint64_t *gp_size;
    size_t ngp;
    uint64_t max_grandparent_overlap;
    const atomic_int *cancel; /* non-zero: stop soon with MERGE_CANCELLED (may be NULL) */
    /* The user-key range [lower, upper) of the input this job merges (a subcompaction's
     * part); NULL is open on that side. Borrowed. */
    const uint8_t *lower, *upper;
    size_t lower_len, upper_len;
    struct table_options table_opts;
    merge_new_file_fn new_file;
    void *ctx;
    /* The range tombstones of every input, fragmented (NULL: none). Borrowed; subcompactions
     * share one. Point entries a newer tombstone covers in the same snapshot stripe are dropped;
     * the fragments in [lower, upper) go to the outputs, each table taking those in the key
     * range it owns (from its first key, or lower, up to the next table's first key, or upper),
     * so the tables of a run do not overlap. */
    const struct range_del_list *range_dels;
    /* out: the tables written (synced and closed), owned by the job until merge_job_free */
    struct table_meta *outputs;
    size_t noutputs;
    uint64_t bytes_read, bytes_written, entries_dropped;
};

/* Runs the merge: keeps, for each user key, the newest version plus the newest version
 * visible to each snapshot; drops tombstones (and what they shadow) per drop_tombstones, range
 * tombstones too (those no snapshot needs at the last level, and those a newer one of the same
 * stripe makes redundant).
 * Each output file is synced and closed. On error, files already written are left to the
 * caller (listed in outputs) to delete. Returns 0 or a LAMINA_E* code. */
int merge_job_run(struct merge_job *job);
/* merge_job_run's return when job->cancel was raised (the database is closing): not an error;
 * the outputs written so far are listed for the caller to delete. */
#define MERGE_CANCELLED 1
void merge_job_free(struct merge_job *job);

#endif
