/* test_shapes.c — the shapes the engine reaches under each Fluid LSM policy (Dostoevsky,
 * SIGMOD 2018) checked against the model's (compaction/model.h): runs per level within K (Z at
 * the largest level), tiered levels really collecting several runs, and bytes per level within
 * the model's capacities. Not timed. */
#include "compaction/compaction.h"
#include "compaction/model.h"
#include "helpers.h"

TestSuite(shapes, .init = tdb_setup, .fini = tdb_teardown);

#define KEYS 60000
#define SAMPLE_EVERY 250

struct shape {
    int levels; /* lamina.num-levels: deepest level holding data + 1 */
    uint64_t runs[COMPACTION_MAX_LEVELS], bytes[COMPACTION_MAX_LEVELS];
};

static void shape_read(lamina_db *db, struct shape *s)
{
    char name[64];
    s->levels = (int)tdb_prop(db, "lamina.num-levels");
    for (int l = 0; l < s->levels; l++) {
        snprintf(name, sizeof(name), "lamina.num-runs-at-level%d", l);
        s->runs[l] = tdb_prop(db, name);
        snprintf(name, sizeof(name), "lamina.bytes-at-level%d", l);
        s->bytes[l] = tdb_prop(db, name);
    }
}

/* Options: T = 4, 64 KiB write buffers, level 0 merging at 2 runs (128 KiB per merge: level
 * 1's size when leveled), no compression so that bytes are the entries' bytes. */
static lamina_options shape_options(int preset, int k, int z)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = preset;
    o.size_ratio = 4;
    o.runs_per_level = k;
    o.runs_last_level = z;
    o.max_bytes_for_level_base = 0;
    o.compression_type = LAMINA_COMPRESSION_NONE;
    o.level0_slowdown_writes_trigger = 3;
    o.level0_stop_writes_trigger = 4;
    return o;
}

static void run_shape(int preset, int k, int z)
{
    lamina_options o = shape_options(preset, k, z);
    struct policy p;
    policy_init(&p, preset, (int)o.size_ratio, k, z, (int)o.level0_file_num_compaction_trigger,
                (uint64_t)o.write_buffer_size * (uint64_t)o.level0_file_num_compaction_trigger,
                (int)o.num_levels);
    int K = p.runs_per_level, Z = p.runs_last_level, bound_max = K > Z ? K : Z;
    lamina_db *db = tdb_open(T.path, &o);
    uint64_t most_runs[COMPACTION_MAX_LEVELS] = {0};
    char key[32], v[96];
    struct shape s;
    for (int i = 0; i < KEYS; i++) {
        /* distinct keys in random order: no overwrite shrinks a merge */
        uint64_t id = ((uint64_t)i * 2654435761u) % 1000003u;
        tdb_put(db, key, tdb_key(key, id), v, tdb_value(v, id, 0));
        if (i % SAMPLE_EVERY) continue;
        shape_read(db, &s);
        for (int l = 1; l < s.levels; l++) {
            if (s.runs[l] > most_runs[l]) most_runs[l] = s.runs[l];
            /* While running, a level past its bound holds the one arrival that made it due,
             * never more: the level above waits for it (policy_score). */
            cr_assert_leq(s.runs[l], (uint64_t)bound_max + 1, "level %d holds %llu runs", l,
                          (unsigned long long)s.runs[l]);
        }
    }
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK, "%s", lamina_errmsg(db));
    shape_read(db, &s);

    uint64_t data = 0;
    for (int l = 0; l < s.levels; l++)
        data += s.bytes[l];
    struct model_params in = {.entries = data / 90, .entry_bytes = 90, .levels = s.levels - 1};
    model_params_from_policy(&p, &in);
    struct model_shape m;
    cr_assert_eq(model_predict(&in, &m), 0);

    cr_assert_geq(s.levels, 4, "%d keys reach level 3", KEYS);
    cr_expect_lt(s.runs[0], (uint64_t)o.level0_file_num_compaction_trigger);
    int last = s.levels - 1;
    for (int l = 1; l <= last; l++) {
        cr_log_info("policy %d K=%d Z=%d level %d: %llu runs (most %llu, bound %d), %llu bytes, "
                    "capacity %llu",
                    preset, K, Z, l, (unsigned long long)s.runs[l],
                    (unsigned long long)most_runs[l], m.max_runs[l], (unsigned long long)s.bytes[l],
                    (unsigned long long)m.capacity[l]);
        cr_expect_leq(s.runs[l], (uint64_t)m.max_runs[l], "level %d: %llu runs over its bound %d",
                      l, (unsigned long long)s.runs[l], m.max_runs[l]);
        /* No tolerance is needed on the bytes: a leveled level over C_i is due (score
         * bytes / C_i > 1), so at rest it is within it, and the largest level of a tree with
         * tiered levels moves down whole when over it. A tiered level holds up to K runs of
         * about C_(i-1) each, (K/T) C_i; a level-0 merge may carry up to
         * level0_stop_writes_trigger / level0_file_num_compaction_trigger = 2 times its
         * nominal size when level 1 lags, so 2K/T C_i, which for K = 2 or 3 at T = 4 is at
         * least C_i: C_i is the bound the model guarantees. */
        if (l < (int)o.num_levels - 1)
            cr_expect_leq(s.bytes[l], m.capacity[l], "level %d: %llu bytes over capacity %llu", l,
                          (unsigned long long)s.bytes[l], (unsigned long long)m.capacity[l]);
    }
    if (K > 1) {
        /* Tiered levels use their K runs: level 1 (fed by every level-0 merge) and level 2
         * held several at once. */
        cr_expect_geq(most_runs[1], 2, "level 1 never held more than %llu run",
                      (unsigned long long)most_runs[1]);
        cr_expect_geq(most_runs[2], 2, "level 2 never held more than %llu run",
                      (unsigned long long)most_runs[2]);
        if (K + 1 >= p.size_ratio)
            cr_expect_geq(most_runs[1], (uint64_t)K, "level 1 reached K = %d runs", K);
    }
    for (int i = 0; i < KEYS; i += 97) {
        uint64_t id = ((uint64_t)i * 2654435761u) % 1000003u;
        tdb_expect(db, NULL, key, tdb_key(key, id), v, tdb_value(v, id, 0));
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(shapes, leveled_t4_keeps_one_run_per_level_within_capacity)
{
    run_shape(LAMINA_COMPACTION_LEVELED, 0, 0);
}

Test(shapes, tiered_t4_collects_k_runs_per_level)
{
    run_shape(LAMINA_COMPACTION_TIERED, 0, 0);
}

Test(shapes, dostoevsky_t4_tiers_upper_levels_and_levels_the_last)
{
    run_shape(LAMINA_COMPACTION_DOSTOEVSKY, 0, 0);
}

Test(shapes, fluid_k2_z1_t4_keeps_two_runs_per_upper_level)
{
    run_shape(LAMINA_COMPACTION_LEVELED, 2, 1);
}
