/* test_policies.c — every compaction preset (leveled, tiered, dostoevsky, none) keeps exactly
 * the data a simple model says, through random puts and deletes, background flushes and
 * compactions, and a reopen. */
#include "helpers.h"
#include "util/rng.h"

TestSuite(policies, .init = tdb_setup, .fini = tdb_teardown);

#define KEYS 1500
#define OPS 30000

static void check_model(lamina_db *db, const int *model)
{
    char k[32], v[96];
    for (int i = 0; i < KEYS; i++) {
        size_t kl = tdb_key(k, (uint64_t)i);
        size_t vl = model[i] >= 0 ? tdb_value(v, (uint64_t)i, (uint64_t)model[i]) : 0;
        tdb_expect(db, NULL, k, kl, model[i] >= 0 ? v : NULL, vl);
    }
    size_t live = 0;
    for (int i = 0; i < KEYS; i++)
        live += model[i] >= 0;
    cr_assert_eq(tdb_count(db, NULL), live);
}

static void run_policy(int policy)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = policy;
    o.size_ratio = 3;
    o.max_bytes_for_level_base = 128 << 10;
    lamina_db *db = tdb_open(T.path, &o);
    int *model = malloc(KEYS * sizeof(*model));
    for (int i = 0; i < KEYS; i++)
        model[i] = -1;
    rng r;
    rng_seed(&r, 42 + (uint64_t)policy);
    for (int op = 0; op < OPS; op++)
        tdb_random_write(db, &r, model, KEYS, 5, op);
    check_model(db, model);
    if (policy != LAMINA_COMPACTION_NONE)
        cr_assert_gt(tdb_prop(db, "lamina.num-levels"), 1, "compactions moved data down");
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    check_model(db, model);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    check_model(db, model);
    cr_assert_eq(tdb_prop(db, "lamina.total-runs"), 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    free(model);
}

Test(policies, leveled_keeps_the_model)
{
    run_policy(LAMINA_COMPACTION_LEVELED);
}
Test(policies, tiered_keeps_the_model)
{
    run_policy(LAMINA_COMPACTION_TIERED);
}
Test(policies, dostoevsky_keeps_the_model)
{
    run_policy(LAMINA_COMPACTION_DOSTOEVSKY);
}
Test(policies, none_keeps_the_model_without_stalling)
{
    run_policy(LAMINA_COMPACTION_NONE);
}

/* After lamina_wait_for_compactions the leveled tree is within every bound of the policy:
 * level 0 below its trigger and each level 1..L-1 within its capacity (base * T^(i-1)). */
Test(policies, wait_for_compactions_leaves_every_level_within_its_bound)
{
    lamina_options o = tdb_small_options();
    o.size_ratio = 4;
    lamina_db *db = tdb_open(T.path, &o);
    char k[32], v[96];
    for (uint64_t i = 0; i < 30000; i++)
        tdb_put(db, k, tdb_key(k, (i * 7919) % 20000), v, tdb_value(v, i, 0));
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK, "%s", lamina_errmsg(db));

    uint64_t levels = 0, runs0 = 0;
    cr_assert_eq(lamina_property_int(db, "lamina.num-levels", &levels), LAMINA_OK);
    cr_assert_eq(lamina_property_int(db, "lamina.num-runs-at-level0", &runs0), LAMINA_OK);
    cr_expect_lt(runs0, (uint64_t)o.level0_file_num_compaction_trigger);
    cr_expect_geq(levels, 3, "30,000 writes over 256 KiB level 1 reach level 2");
    uint64_t cap = (uint64_t)o.max_bytes_for_level_base;
    for (uint64_t l = 1; l + 1 < levels; l++, cap *= (uint64_t)o.size_ratio) {
        char name[64];
        uint64_t bytes = 0, nruns = 0;
        snprintf(name, sizeof(name), "lamina.bytes-at-level%llu", (unsigned long long)l);
        cr_assert_eq(lamina_property_int(db, name, &bytes), LAMINA_OK);
        snprintf(name, sizeof(name), "lamina.num-runs-at-level%llu", (unsigned long long)l);
        cr_assert_eq(lamina_property_int(db, name, &nruns), LAMINA_OK);
        cr_expect_leq(bytes, cap, "level %llu holds %llu bytes over its capacity %llu",
                      (unsigned long long)l, (unsigned long long)bytes, (unsigned long long)cap);
        cr_expect_leq(nruns, 1, "leveled: one run per level");
    }
    for (uint64_t i = 0; i < 20000; i += 997) {
        uint64_t last = 0; /* the last write of key i is the largest j < 30000 with j*7919 = i */
        for (uint64_t j = 0; j < 30000; j++)
            if ((j * 7919) % 20000 == i) last = j;
        tdb_expect(db, NULL, k, tdb_key(k, i), v, tdb_value(v, last, 0));
    }
    cr_expect_eq(lamina_close(db), LAMINA_OK);
}
