/* test_policy.c — the Fluid LSM policy's decisions (Dostoevsky, SIGMOD 2018) for every preset on
 * hand-built LSM shapes: which level merges, into which level, and whether the output level's
 * runs join the merge. */
#include <criterion/criterion.h>
#include <string.h>

#include "compaction/compaction.h"
#include "lamina.h"

#define MB (UINT64_C(1) << 20)

/* T = 10, level-0 trigger 4, level 1 holds 1 MiB, 7 levels. */
static struct policy make_policy(int preset, int k, int z)
{
    struct policy p;
    policy_init(&p, preset, 10, k, z, 4, MB, 7);
    return p;
}

/* A shape of n levels from runs[] and bytes[] (missing entries are 0). */
static struct lsm_shape make_shape(int n, const int *runs, const uint64_t *bytes, int count)
{
    struct lsm_shape s;
    memset(&s, 0, sizeof(s));
    s.num_levels = n;
    for (int i = 0; i < count; i++) {
        s.runs[i] = runs[i];
        s.bytes[i] = bytes[i];
    }
    return s;
}

/* Asserts that policy p picks a merge on shape s (left in *pick) of level into output_level,
 * with (include_output = 1) or without the output level's runs. */
static void expect_pick(const struct policy *p, const struct lsm_shape *s,
                        struct compaction_pick *pick, int level, int output_level,
                        int include_output)
{
    cr_assert_eq(policy_pick(p, s, pick), 1, "expected a merge from level %d", level);
    cr_expect_eq(pick->level, level);
    cr_expect_eq(pick->output_level, output_level, "output level of level %d", level);
    cr_expect_eq(pick->include_output, include_output, "include_output of level %d", level);
}

Test(policy, presets_choose_k_and_z)
{
    struct policy p = make_policy(LAMINA_COMPACTION_LEVELED, 0, 0);
    cr_expect_eq(p.runs_per_level, 1);
    cr_expect_eq(p.runs_last_level, 1);
    cr_expect_eq(p.disabled, 0);
    cr_expect_eq(p.size_ratio, 10);

    p = make_policy(LAMINA_COMPACTION_TIERED, 0, 0);
    cr_expect_eq(p.runs_per_level, 9);
    cr_expect_eq(p.runs_last_level, 9);

    p = make_policy(LAMINA_COMPACTION_DOSTOEVSKY, 0, 0);
    cr_expect_eq(p.runs_per_level, 9);
    cr_expect_eq(p.runs_last_level, 1);

    p = make_policy(LAMINA_COMPACTION_NONE, 0, 0);
    cr_expect_eq(p.disabled, 1);
}

Test(policy, explicit_k_and_z_override_the_preset)
{
    struct policy p = make_policy(LAMINA_COMPACTION_LEVELED, 3, 2);
    cr_expect_eq(p.runs_per_level, 3);
    cr_expect_eq(p.runs_last_level, 2);
    p = make_policy(LAMINA_COMPACTION_DOSTOEVSKY, 0, 4);
    cr_expect_eq(p.runs_per_level, 9);
    cr_expect_eq(p.runs_last_level, 4);
    p = make_policy(LAMINA_COMPACTION_TIERED, 5, 0);
    cr_expect_eq(p.runs_per_level, 5);
    cr_expect_eq(p.runs_last_level, 9);
}

Test(policy, level_capacity_grows_by_size_ratio)
{
    struct policy p = make_policy(LAMINA_COMPACTION_LEVELED, 0, 0);
    cr_expect_eq(policy_level_capacity(&p, 1), MB);
    cr_expect_eq(policy_level_capacity(&p, 2), 10 * MB);
    cr_expect_eq(policy_level_capacity(&p, 4), 1000 * MB);
    policy_init(&p, LAMINA_COMPACTION_LEVELED, 100, 0, 0, 4, MB, 20);
    cr_expect_eq(policy_level_capacity(&p, 19), UINT64_MAX, "capacity saturates, never wraps");
}

Test(policy, empty_lsm_picks_nothing)
{
    int presets[] = {LAMINA_COMPACTION_LEVELED, LAMINA_COMPACTION_TIERED,
                     LAMINA_COMPACTION_DOSTOEVSKY, LAMINA_COMPACTION_NONE};
    struct lsm_shape s = make_shape(7, NULL, NULL, 0);
    for (size_t i = 0; i < 4; i++) {
        struct policy p = make_policy(presets[i], 0, 0);
        struct compaction_pick pick;
        cr_expect_eq(policy_pick(&p, &s, &pick), 0, "preset %d", presets[i]);
    }
}

Test(policy, level0_merges_from_its_trigger)
{
    struct policy p = make_policy(LAMINA_COMPACTION_LEVELED, 0, 0);
    struct compaction_pick pick;
    int runs[] = {3};
    uint64_t bytes[] = {3 * MB};
    struct lsm_shape s = make_shape(7, runs, bytes, 1);
    cr_expect_eq(policy_pick(&p, &s, &pick), 0, "3 runs are below the trigger of 4");

    s.runs[0] = 4;
    cr_assert_eq(policy_pick(&p, &s, &pick), 1, "the trigger's run count starts a merge");
    cr_expect_eq(pick.level, 0);
    cr_expect_eq(pick.output_level, 1);
    cr_expect_eq(pick.include_output, 0, "level 1 is empty: nothing to merge with");
    cr_expect_float_eq(pick.score, 1.0, 1e-9);
}

Test(policy, leveled_merges_level0_with_the_level1_run)
{
    struct policy p = make_policy(LAMINA_COMPACTION_LEVELED, 0, 0);
    struct compaction_pick pick;
    int runs[] = {5, 1, 1};
    uint64_t bytes[] = {MB, MB / 2, 5 * MB};
    struct lsm_shape s = make_shape(7, runs, bytes, 3);
    expect_pick(&p, &s, &pick, 0, 1, 1);
}

Test(policy, leveled_level_over_capacity_merges_into_next)
{
    struct policy p = make_policy(LAMINA_COMPACTION_LEVELED, 0, 0);
    struct compaction_pick pick;
    int runs[] = {1, 1, 1};
    uint64_t bytes[] = {MB, 3 * MB, 5 * MB};
    struct lsm_shape s = make_shape(7, runs, bytes, 3);
    expect_pick(&p, &s, &pick, 1, 2, 1);
    cr_expect_float_eq(pick.score, 3.0, 1e-9);

    /* The largest level growing past its capacity moves down to an empty level. */
    s.bytes[1] = MB / 2;
    s.bytes[2] = 25 * MB;
    expect_pick(&p, &s, &pick, 2, 3, 0);
}

Test(policy, tiered_stacks_runs_until_the_bound)
{
    struct policy p = make_policy(LAMINA_COMPACTION_TIERED, 0, 0);
    struct compaction_pick pick;
    int runs[] = {5, 3, 2};
    uint64_t bytes[] = {MB, MB / 2, 5 * MB};
    struct lsm_shape s = make_shape(7, runs, bytes, 3);
    cr_assert_eq(policy_pick(&p, &s, &pick), 1);
    cr_expect_eq(pick.level, 0);
    cr_expect_eq(pick.output_level, 1);
    cr_expect_eq(pick.include_output, 0, "level 1 has room for a fourth run");

    /* At its bound (K = 9) level 1 still takes the arrival as a tenth run... */
    s.runs[1] = 9;
    s.bytes[1] = 50 * MB;
    expect_pick(&p, &s, &pick, 0, 1, 0);
    cr_expect_float_eq(policy_score(&p, &s, 1, &pick.output_level, &pick.include_output), 1.0, 1e-9,
                       "bytes (5 x C_1) never trigger a tiered level");

    /* ...and past it merges its runs into level 2 while level 0 waits. */
    s.runs[1] = 10;
    expect_pick(&p, &s, &pick, 1, 2, 0);
    int o, inc;
    cr_expect_float_eq(policy_score(&p, &s, 0, &o, &inc), 0.0, 1e-9);

    /* Level 2 is the largest level: its bound is Z = 9 as well. */
    s.runs[0] = 0;
    s.runs[2] = 9;
    expect_pick(&p, &s, &pick, 1, 2, 0);
    s.runs[2] = 10;
    expect_pick(&p, &s, &pick, 2, 3, 0);
}

Test(policy, tiered_level_over_its_run_bound_merges)
{
    struct policy p = make_policy(LAMINA_COMPACTION_TIERED, 0, 0);
    struct compaction_pick pick;
    int runs[] = {0, 12, 1};
    uint64_t bytes[] = {0, MB / 2, 5 * MB};
    struct lsm_shape s = make_shape(7, runs, bytes, 3);
    expect_pick(&p, &s, &pick, 1, 2, 0);
    cr_expect_float_eq(pick.score, 12.0 / 9.0, 1e-9);
}

Test(policy, dostoevsky_levels_the_largest_level_and_tiers_the_rest)
{
    struct policy p = make_policy(LAMINA_COMPACTION_DOSTOEVSKY, 0, 0);
    struct compaction_pick pick;

    /* Level 1 is the largest level: Z = 1, so level 0 merges with its run. */
    int runs[] = {5, 1};
    uint64_t bytes[] = {MB, MB / 2};
    struct lsm_shape s = make_shape(7, runs, bytes, 2);
    cr_assert_eq(policy_pick(&p, &s, &pick), 1);
    cr_expect_eq(pick.level, 0);
    cr_expect_eq(pick.include_output, 1);

    /* Once level 2 holds data, level 1 is tiered (K = 9). */
    s.runs[1] = 4;
    s.runs[2] = 1;
    s.bytes[2] = 5 * MB;
    expect_pick(&p, &s, &pick, 0, 1, 0);

    /* Level 1 past K merges all its runs into the largest level, which stays one run. */
    s.runs[0] = 0;
    s.runs[1] = 10;
    expect_pick(&p, &s, &pick, 1, 2, 1);

    /* Level 2 over C_2 = 10 MiB (tiered level 1) * T with level 3 empty: level 3 becomes the
     * largest, one run. */
    s.runs[1] = 4;
    s.bytes[2] = 300 * MB;
    expect_pick(&p, &s, &pick, 2, 3, 0);
}

Test(policy, largest_score_wins)
{
    struct policy p = make_policy(LAMINA_COMPACTION_LEVELED, 0, 0);
    struct compaction_pick pick;
    int runs[] = {5, 1, 1, 1};
    uint64_t bytes[] = {MB, MB / 2, 30 * MB, 50 * MB};
    struct lsm_shape s = make_shape(7, runs, bytes, 4);
    cr_assert_eq(policy_pick(&p, &s, &pick), 1);
    cr_expect_eq(pick.level, 2);
    cr_expect_float_eq(pick.score, 3.0, 1e-9);
}

Test(policy, ties_prefer_the_shallower_level)
{
    struct policy p = make_policy(LAMINA_COMPACTION_LEVELED, 0, 0);
    struct compaction_pick pick;
    int runs[] = {8, 1, 1};
    uint64_t bytes[] = {MB, 2 * MB, 20 * MB};
    struct lsm_shape s = make_shape(7, runs, bytes, 3);
    cr_assert_eq(policy_pick(&p, &s, &pick), 1);
    cr_expect_eq(pick.level, 0, "levels 0, 1 and 2 all score 2");
    s.runs[0] = 0;
    cr_assert_eq(policy_pick(&p, &s, &pick), 1);
    cr_expect_eq(pick.level, 1);
}

Test(policy, last_level_over_its_run_bound_merges_into_itself)
{
    struct policy p;
    policy_init(&p, LAMINA_COMPACTION_LEVELED, 10, 0, 0, 4, MB, 3);
    struct compaction_pick pick;
    int runs[] = {0, 0, 3};
    uint64_t bytes[] = {0, 0, 5 * MB};
    struct lsm_shape s = make_shape(3, runs, bytes, 3);
    cr_assert_eq(policy_pick(&p, &s, &pick), 1);
    cr_expect_eq(pick.level, 2);
    cr_expect_eq(pick.output_level, 2, "never past num_levels - 1");
    cr_expect_eq(pick.include_output, 1);
    cr_expect_float_eq(pick.score, 3.0, 1e-9);
}

Test(policy, last_level_past_capacity_alone_does_not_merge)
{
    struct policy p;
    policy_init(&p, LAMINA_COMPACTION_LEVELED, 10, 0, 0, 4, MB, 3);
    struct compaction_pick pick;
    int runs[] = {0, 0, 1};
    uint64_t bytes[] = {0, 0, 500 * MB};
    struct lsm_shape s = make_shape(3, runs, bytes, 3);
    cr_expect_eq(policy_pick(&p, &s, &pick), 0, "its bytes have nowhere to go");
}

Test(policy, level1_feeding_the_last_level_of_a_short_tree)
{
    struct policy p;
    policy_init(&p, LAMINA_COMPACTION_DOSTOEVSKY, 4, 0, 0, 2, MB, 3);
    struct compaction_pick pick;
    int runs[] = {1, 3, 1};
    uint64_t bytes[] = {MB, 2 * MB, 3 * MB};
    struct lsm_shape s = make_shape(3, runs, bytes, 3);
    cr_expect_eq(policy_pick(&p, &s, &pick), 0, "level 1 within K = 3");
    s.runs[1] = 4;
    cr_assert_eq(policy_pick(&p, &s, &pick), 1);
    cr_expect_eq(pick.level, 1);
    cr_expect_eq(pick.output_level, 2);
    cr_expect_eq(pick.include_output, 1, "the last level keeps Z = 1 run");
}

Test(policy, none_preset_never_merges)
{
    struct policy p = make_policy(LAMINA_COMPACTION_NONE, 0, 0);
    struct compaction_pick pick;
    int runs[] = {100, 50, 1};
    uint64_t bytes[] = {100 * MB, 100 * MB, 100 * MB};
    struct lsm_shape s = make_shape(7, runs, bytes, 3);
    cr_expect_eq(policy_pick(&p, &s, &pick), 0);
}

Test(policy, explicit_k_tiers_the_upper_levels)
{
    struct policy p = make_policy(LAMINA_COMPACTION_LEVELED, 3, 0);
    struct compaction_pick pick;
    int runs[] = {5, 2, 1};
    uint64_t bytes[] = {MB, MB / 2, 5 * MB};
    struct lsm_shape s = make_shape(7, runs, bytes, 3);
    expect_pick(&p, &s, &pick, 0, 1, 0);
    s.runs[1] = 3;
    expect_pick(&p, &s, &pick, 0, 1, 0);
    s.runs[1] = 4;
    expect_pick(&p, &s, &pick, 1, 2, 1);
}

Test(policy, tiered_level1_capacity_is_t_level0_merges)
{
    struct policy p = make_policy(LAMINA_COMPACTION_TIERED, 0, 0);
    cr_expect_eq(policy_level_capacity(&p, 0), MB);
    cr_expect_eq(policy_level_capacity(&p, 1), 10 * MB);
    cr_expect_eq(policy_level_capacity(&p, 3), 1000 * MB);
    p = make_policy(LAMINA_COMPACTION_LEVELED, 0, 0);
    cr_expect_eq(policy_level_capacity(&p, 1), MB);
    cr_expect_eq(policy_level_capacity(&p, 3), 100 * MB);
}
