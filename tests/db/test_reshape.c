/* test_reshape.c — reopening a populated database with another compaction policy or size ratio
 * (Fluid LSM presets, Dostoevsky SIGMOD 2018): the tree reshapes itself over the following
 * compactions, or at once through lamina_compact_range (kvctl compact), and keeps every key. */
#include "helpers.h"
#include "util/rng.h"

TestSuite(reshape, .init = tdb_setup, .fini = tdb_teardown);

#define KEYS 8000

static void check_model(lamina_db *db, const int *model)
{
    char k[32], v[96];
    size_t live = 0;
    for (int i = 0; i < KEYS; i++) {
        size_t kl = tdb_key(k, (uint64_t)i);
        size_t vl = model[i] >= 0 ? tdb_value(v, (uint64_t)i, (uint64_t)model[i]) : 0;
        tdb_expect(db, NULL, k, kl, model[i] >= 0 ? v : NULL, vl);
        live += model[i] >= 0;
    }
    cr_assert_eq(tdb_count(db, NULL), live);
}

static lamina_options reshape_options(int preset, int t)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = preset;
    o.size_ratio = t;
    o.max_bytes_for_level_base = 0;
    return o;
}

/* Writes ops random puts and deletes (one in 7) over the model, then waits for compactions. */
static void load(lamina_db *db, rng *r, int *model, int ops, int gen)
{
    for (int op = 0; op < ops; op++)
        tdb_random_write(db, r, model, KEYS, 7, gen + op);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK, "%s", lamina_errmsg(db));
}

/* Most runs on a level >= 1 of the open database. */
static uint64_t most_runs_below_level0(lamina_db *db)
{
    uint64_t most = 0, levels = tdb_prop(db, "lamina.num-levels");
    char name[64];
    for (uint64_t l = 1; l < levels; l++) {
        snprintf(name, sizeof(name), "lamina.num-runs-at-level%llu", (unsigned long long)l);
        uint64_t n = tdb_prop(db, name);
        if (n > most) most = n;
    }
    return most;
}

Test(reshape, leveled_tiered_leveled_keeps_every_key)
{
    int *model = malloc(KEYS * sizeof(*model));
    for (int i = 0; i < KEYS; i++)
        model[i] = -1;
    rng r;
    rng_seed(&r, 99);

    lamina_options o = reshape_options(LAMINA_COMPACTION_LEVELED, 4);
    lamina_db *db = tdb_open(T.path, &o);
    load(db, &r, model, 40000, 0);
    cr_assert_geq(tdb_prop(db, "lamina.num-levels"), 3, "a leveled tree of 3+ levels");
    cr_expect_eq(most_runs_below_level0(db), 1);
    check_model(db, model);
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    /* Tiered, T = 4: the leveled runs stay as they are and new runs stack beside them. */
    o = reshape_options(LAMINA_COMPACTION_TIERED, 4);
    db = tdb_open(T.path, &o);
    check_model(db, model);
    load(db, &r, model, 40000, 100000);
    check_model(db, model);
    uint64_t tiered_runs = most_runs_below_level0(db);
    cr_expect_leq(tiered_runs, 3, "K = Z = T - 1 = 3 at rest");
    cr_expect_gt(tiered_runs, 1, "the tiered tree stacked runs on a level");
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    /* Back to leveled with another size ratio: every level with several runs is due (runs / 1)
     * and merges them, with no write needed to start it. */
    o = reshape_options(LAMINA_COMPACTION_LEVELED, 6);
    db = tdb_open(T.path, &o);
    check_model(db, model);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_expect_eq(most_runs_below_level0(db), 1, "reshaped to one run per level (was %llu)",
                 (unsigned long long)tiered_runs);
    check_model(db, model);
    load(db, &r, model, 10000, 200000);
    check_model(db, model);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    free(model);
}

Test(reshape, compact_range_reshapes_at_once)
{
    int *model = malloc(KEYS * sizeof(*model));
    for (int i = 0; i < KEYS; i++)
        model[i] = -1;
    rng r;
    rng_seed(&r, 5);
    lamina_options o = reshape_options(LAMINA_COMPACTION_TIERED, 4);
    lamina_db *db = tdb_open(T.path, &o);
    load(db, &r, model, 40000, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    o = reshape_options(LAMINA_COMPACTION_DOSTOEVSKY, 3);
    db = tdb_open(T.path, &o);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_expect_eq(tdb_prop(db, "lamina.total-runs"), 1);
    check_model(db, model);
    load(db, &r, model, 20000, 100000);
    check_model(db, model);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    check_model(db, model);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    free(model);
}
