/* compaction.h — the Fluid LSM compaction mechanism (Idreos, Dayan et al.: "Dostoevsky: Better
 * Space-Time Trade-Offs for LSM-Tree Based Key-Value Stores via Adaptive Removal of
 * Superfluous Merging", SIGMOD 2018): levels grow by size ratio T, a level holds up to K
 * sorted runs (the last level up to Z), and presets are parameter choices of this one
 * mechanism. The policy decides what to merge from a summary of the LSM's shape; the merge job
 * writes the merged runs as new tables. Neither knows the engine's version set. */
#ifndef COMPACTION_COMPACTION_H
#define COMPACTION_COMPACTION_H

#include <stddef.h>
#include <stdint.h>

#include "sst/table.h"
#include "util/iter.h"

#define COMPACTION_MAX_LEVELS 20

struct policy {
    int size_ratio;        /* T */
    int runs_per_level;    /* K, levels 1..L-1 */
    int runs_last_level;   /* Z */
    int l0_trigger;        /* level-0 runs that start a merge into level 1 */
    uint64_t level1_bytes; /* capacity of level 1; level i holds level1_bytes * T^(i-1) */
    int num_levels;        /* levels including level 0 */
    int disabled;          /* preset none: flushes only */
};

/* Fills *p from a preset (LAMINA_COMPACTION_*) and T; K and Z given as 0 take the preset's
 * values. */
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
    int level;           /* source level */
    int output_level;    /* level + 1 */
    int include_output;  /* 1: the output level's runs are inputs too (leveling it) */
    double score;        /* > 1 means over its bound; the largest wins */
};

/* Picks the most urgent merge. Returns 1 and fills *out, or 0 if no level is over its bound. */
int policy_pick(const struct policy *p, const struct lsm_shape *shape, struct compaction_pick *out);

/* Capacity in bytes of level i >= 1. */
uint64_t policy_level_capacity(const struct policy *p, int level);

/* ---- Merge job (flush and compaction both run it) ------------------------------------- */

/* Creates the next output table file: the engine allocates a file number and opens the file.
 * Returns 0 or a LAMINA_E* code. */
typedef int (*merge_new_file_fn)(void *ctx, uint64_t *file_number, wfile **f);

struct merge_job {
    iter *input;                  /* merged input in internal-key order (borrowed) */
    const uint64_t *snapshots;    /* live snapshot seqs, ascending (borrowed) */
    size_t nsnapshots;
    int drop_tombstones;          /* output is the last level holding data: drop deletions
                                     no snapshot needs */
    uint64_t target_file_size;    /* cut output tables at this size */
    struct table_options table_opts;
    merge_new_file_fn new_file;
    void *ctx;
    /* out: the tables written (synced and closed), owned by the job until merge_job_free */
    struct table_meta *outputs;
    size_t noutputs;
    uint64_t bytes_read, bytes_written, entries_dropped;
};

/* Runs the merge: keeps, for each user key, the newest version plus the newest version
 * visible to each snapshot; drops tombstones (and what they shadow) per drop_tombstones.
 * Each output file is synced and closed. On error, files already written are left to the
 * caller (listed in outputs) to delete. Returns 0 or a LAMINA_E* code. */
int merge_job_run(struct merge_job *job);
void merge_job_free(struct merge_job *job);

#endif
