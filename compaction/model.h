/* model.h — the cost model of the Fluid LSM-tree (Dayan & Idreos, "Dostoevsky", SIGMOD 2018,
 * sections 3-4, with the filter allocation of Monkey, SIGMOD 2017): from T, K, Z and the data
 * volume, the shape a tree reaches and what its writes and zero-result lookups cost. Pure
 * arithmetic, no engine state: experiments print it beside measurements, tests check shapes
 * against it. */
#ifndef COMPACTION_MODEL_H
#define COMPACTION_MODEL_H

#include <stdint.h>

#include "compaction/compaction.h"

/* What the model is asked about. */
struct model_params {
    int size_ratio;        /* T >= 2 */
    int runs_per_level;    /* K >= 1, levels 1..L-1 */
    int runs_last_level;   /* Z >= 1, level L */
    uint64_t level1_bytes; /* C_1, capacity of level 1 (policy.level1_bytes) */
    uint64_t entries;      /* N, live entries */
    uint64_t entry_bytes;  /* E, bytes one entry takes in a table (key + value + overhead) */
    uint64_t block_bytes;  /* bytes per block: B = block_bytes / entry_bytes entries */
    double bits_per_key;   /* Bloom filter memory, bits per entry over the whole tree */
    int monkey;            /* 0: the same bits per key at every level; 1: Monkey's */
    int levels;            /* L: levels >= 1 holding data; 0 lets the model derive it */
};

/* What the model predicts. Levels are numbered 1..levels; index 0 is unused. */
struct model_shape {
    int levels;                               /* L */
    int max_runs[COMPACTION_MAX_LEVELS];      /* run bound: K above level L, Z at L */
    uint64_t capacity[COMPACTION_MAX_LEVELS]; /* C_i = C_1 * T^(i-1) */
    uint64_t bytes[COMPACTION_MAX_LEVELS];    /* steady state: C_i above L, the rest at L */
    double fpr[COMPACTION_MAX_LEVELS];        /* false-positive rate of a run's filter */
    double merges_per_entry;                  /* (T-1)/(K+1) * (L-1) + (T-1)/(Z+1) */
    double write_amp;        /* 1 + merges_per_entry: the flush, then every merge */
    double update_cost;      /* merges_per_entry / B: block writes per inserted entry */
    double zero_lookup_cost; /* sum over levels of max_runs_i * fpr_i: blocks per lookup */
    double space_amp;        /* Z + 1/(T-1): bytes stored / live bytes, every key updated */
    int runs_total;          /* K * (L-1) + Z: runs a zero-result lookup probes */
};

/* Fills *out from *in. Returns 0, or LAMINA_EINVAL (T < 2, K or Z < 1, C_1 or E zero, or more
 * than COMPACTION_MAX_LEVELS - 1 levels). */
int model_predict(const struct model_params *in, struct model_shape *out);

/* The model's parameters for a policy (T, K, Z, C_1): the rest of *in is left to the caller. */
void model_params_from_policy(const struct policy *p, struct model_params *in);

#endif
