/* policy.c — the Fluid LSM compaction policy: presets as choices of T, K and Z, level
 * capacities, and the pick of the most urgent merge from the LSM's shape (Dayan & Idreos,
 * "Dostoevsky", SIGMOD 2018, section 4: Fluid LSM-tree). */
#include <stdint.h>

#include "compaction/compaction.h"
#include "lamina.h"

void policy_init(struct policy *p, int preset, int size_ratio, int runs_per_level,
                 int runs_last_level, int l0_trigger, uint64_t level1_bytes, int num_levels)
{
    int t = size_ratio < 2 ? 2 : size_ratio;
    int k = 1, z = 1;

    switch (preset) {
    case LAMINA_COMPACTION_TIERED:
        k = t - 1;
        z = t - 1;
        break;
    case LAMINA_COMPACTION_DOSTOEVSKY:
        k = t - 1;
        z = 1;
        break;
    default: /* leveled, and none (whose K and Z are never consulted) */
        break;
    }
    if (runs_per_level > 0) k = runs_per_level;
    if (runs_last_level > 0) z = runs_last_level;
    if (num_levels < 2) num_levels = 2;
    if (num_levels > COMPACTION_MAX_LEVELS) num_levels = COMPACTION_MAX_LEVELS;
    if (level1_bytes == 0) level1_bytes = 1;

    p->size_ratio = t;
    p->runs_per_level = k;
    p->runs_last_level = z;
    p->l0_trigger = l0_trigger < 1 ? 1 : l0_trigger;
    p->level0_bytes = level1_bytes;
    /* A leveled level 1 is one run of about what a level-0 merge writes (RocksDB's sizing). A
     * tiered level 1 collects runs of that size, one per level-0 merge, and is full at T of
     * them, as every tiered level i is full at T runs of the level above's capacity. */
    p->level1_bytes = level1_bytes;
    if (k > 1 && level1_bytes <= UINT64_MAX / (uint64_t)t)
        p->level1_bytes = level1_bytes * (uint64_t)t;
    p->num_levels = num_levels;
    p->disabled = preset == LAMINA_COMPACTION_NONE;
    p->min_level_to_compress = 0;
}

uint64_t policy_level_capacity(const struct policy *p, int level)
{
    if (level < 1) return p->level0_bytes;
    uint64_t cap = p->level1_bytes;
    for (int i = 1; i < level; i++) {
        if (cap > UINT64_MAX / (uint64_t)p->size_ratio) return UINT64_MAX;
        cap *= (uint64_t)p->size_ratio;
    }
    return cap;
}

/* The deepest level >= 1 holding data; num_levels - 1 when only level 0 (or nothing) does. */
static int policy_last_level(const struct lsm_shape *shape, int num_levels)
{
    for (int i = num_levels - 1; i >= 1; i--)
        if (shape->runs[i] > 0 || shape->bytes[i] > 0) return i;
    return num_levels - 1;
}

/* Run bound of level i: Z for the largest level (the last one holding data, or the last one
 * there is), K for the levels above it. */
static int policy_run_bound(const struct policy *p, int level, int last, int num_levels)
{
    return (level >= last || level == num_levels - 1) ? p->runs_last_level : p->runs_per_level;
}

/* Decision rule (Fluid LSM, Dostoevsky section 4), with C_i = level1_bytes * T^(i-1):
 *   level 0 scores runs / l0_trigger and is due from a score of 1 (l0_trigger runs start a
 *     merge, as in LevelDB and RocksDB); its runs merge into one run pushed to level 1;
 *   a tiered level i >= 1 (run bound b = K, or Z for the largest level, above 1) scores
 *     runs / b: a run arriving from above is one run, and the level is due when it holds
 *     b + 1, the arrival that would exceed its bound. Its runs then merge into one run pushed
 *     to level i + 1 (at T runs of C_(i-1) that run is C_i); the very last level (num_levels
 *     - 1) merges them into itself. Bytes never trigger a tiered level;
 *   a leveled level i >= 1 (b = 1) scores max(bytes / C_i, runs): it is due when over its
 *     capacity (and moves a table at a time into i + 1) or when it holds several runs (after a
 *     reopen with another policy); the very last level scores by runs only, since its bytes
 *     have nowhere further to go;
 *   the output level's runs join the merge when it is leveled (b = 1) and holds a run; a tiered
 *     output takes the merged run as one more run, and while it is already past its bound the
 *     level above waits (score 0) so that no level ever holds more than b + 1 runs;
 *   the largest due score wins (deeper levels are due above 1), the shallower level on a tie.
 * When K < T - 1 a tiered level reaches b + 1 runs before it holds T arrivals; the picker then
 * merges its newest runs in place instead of pushing (compaction_pick_job). */
double policy_score(const struct policy *p, const struct lsm_shape *shape, int level,
                    int *output_level, int *include_output)
{
    int n = shape->num_levels < p->num_levels ? shape->num_levels : p->num_levels;
    *output_level = level;
    *include_output = 0;
    if (p->disabled || n < 2 || level < 0 || level >= n) return 0.0;
    int last = policy_last_level(shape, n);
    double score;
    if (level == 0) {
        score = (double)shape->runs[0] / (double)p->l0_trigger;
    } else {
        int bound = policy_run_bound(p, level, last, n);
        score = (double)shape->runs[level] / (double)bound;
        if (bound == 1 && level < n - 1) {
            double by_bytes = (double)shape->bytes[level] / (double)policy_level_capacity(p, level);
            if (by_bytes > score) score = by_bytes;
        }
    }
    if (level == n - 1) {
        *include_output = 1;
        return score;
    }
    int o = level + 1;
    int out_bound = policy_run_bound(p, o, last, n);
    *output_level = o;
    if (out_bound == 1) {
        *include_output = shape->runs[o] > 0;
    } else if (shape->runs[o] > out_bound) {
        return 0.0; /* the tiered output merges its own runs first */
    }
    return score;
}

int policy_level_run_bound(const struct policy *p, const struct lsm_shape *shape, int level)
{
    int n = shape->num_levels < p->num_levels ? shape->num_levels : p->num_levels;
    if (level == 0) return p->l0_trigger;
    return policy_run_bound(p, level, policy_last_level(shape, n), n);
}

int policy_pick(const struct policy *p, const struct lsm_shape *shape, struct compaction_pick *out)
{
    if (p->disabled) return 0;
    int n = shape->num_levels < p->num_levels ? shape->num_levels : p->num_levels;
    if (n < 2) return 0;
    int best = -1;
    double best_score = 1.0;
    for (int i = 0; i < n; i++) {
        int o, inc;
        double score = policy_score(p, shape, i, &o, &inc);
        if (score > best_score || (i == 0 && score >= 1.0)) {
            best_score = score;
            best = i;
        }
    }
    if (best < 0) return 0;
    out->level = best;
    out->score = policy_score(p, shape, best, &out->output_level, &out->include_output);
    return 1;
}
