/* test_model.c — the Fluid LSM cost model (Dostoevsky, SIGMOD 2018; Monkey, SIGMOD 2017)
 * against numbers computed by hand: levels, capacities, write amplification, space
 * amplification and zero-result lookup cost for leveled, tiered, Dostoevsky and Monkey. */
#include <criterion/criterion.h>
#include <math.h>

#include "compaction/model.h"
#include "lamina.h"

#define MB UINT64_C(1048576)

Test(model, leveled_t10_hand_computed)
{
    struct model_params in = {.size_ratio = 10,
                              .runs_per_level = 1,
                              .runs_last_level = 1,
                              .level1_bytes = MB,
                              .entries = 1000000,
                              .entry_bytes = 100,
                              .block_bytes = 4096,
                              .bits_per_key = 10};
    struct model_shape m;
    cr_assert_eq(model_predict(&in, &m), 0);
    /* 10^8 bytes: 1 + 10 MiB is too little, 1 + 10 + 100 MiB holds it. */
    cr_expect_eq(m.levels, 3);
    cr_expect_eq(m.capacity[1], MB);
    cr_expect_eq(m.capacity[3], 100 * MB);
    cr_expect_eq(m.bytes[2], 10 * MB);
    cr_expect_eq(m.bytes[3], 100000000 - 11 * MB);
    cr_expect_eq(m.max_runs[1], 1);
    cr_expect_eq(m.max_runs[3], 1);
    /* (T-1)/(K+1) * (L-1) + (T-1)/(Z+1) = 4.5 * 2 + 4.5 */
    cr_expect_float_eq(m.merges_per_entry, 13.5, 1e-12);
    cr_expect_float_eq(m.write_amp, 14.5, 1e-12);
    cr_expect_float_eq(m.update_cost, 13.5 / 40.96, 1e-12);
    cr_expect_float_eq(m.space_amp, 1.0 + 1.0 / 9.0, 1e-12);
    cr_expect_eq(m.runs_total, 3);
    /* e^(-10 ln^2 2) per run, three runs */
    cr_expect_float_eq(m.fpr[2], 0.008192549468178961, 1e-12);
    cr_expect_float_eq(m.zero_lookup_cost, 0.024577648404536884, 1e-12);
}

Test(model, tiered_t4_hand_computed)
{
    struct model_params in = {.size_ratio = 4,
                              .runs_per_level = 3,
                              .runs_last_level = 3,
                              .level1_bytes = 1000,
                              .entries = 100,
                              .entry_bytes = 100};
    struct model_shape m;
    cr_assert_eq(model_predict(&in, &m), 0);
    /* 10,000 bytes over capacities 1,000, 4,000, 16,000 */
    cr_expect_eq(m.levels, 3);
    cr_expect_eq(m.bytes[1], 1000);
    cr_expect_eq(m.bytes[2], 4000);
    cr_expect_eq(m.bytes[3], 5000);
    cr_expect_eq(m.max_runs[2], 3);
    cr_expect_float_eq(m.merges_per_entry, 0.75 * 2 + 0.75, 1e-12);
    cr_expect_float_eq(m.write_amp, 3.25, 1e-12);
    cr_expect_float_eq(m.space_amp, 3.0 + 1.0 / 3.0, 1e-12);
    cr_expect_eq(m.runs_total, 9);
    cr_expect_float_eq(m.zero_lookup_cost, 9.0, 1e-12, "no filter: every run is read");
}

Test(model, dostoevsky_sits_between_tiered_and_leveled)
{
    struct model_params in = {.size_ratio = 4,
                              .runs_per_level = 3,
                              .runs_last_level = 1,
                              .level1_bytes = 1000,
                              .entries = 100,
                              .entry_bytes = 100,
                              .bits_per_key = 10,
                              .levels = 3};
    struct model_shape d, t, l;
    cr_assert_eq(model_predict(&in, &d), 0);
    cr_expect_float_eq(d.merges_per_entry, 0.75 * 2 + 1.5, 1e-12);
    cr_expect_float_eq(d.space_amp, 1.0 + 1.0 / 3.0, 1e-12);
    cr_expect_eq(d.runs_total, 7);
    in.runs_last_level = 3;
    cr_assert_eq(model_predict(&in, &t), 0);
    in.runs_per_level = in.runs_last_level = 1;
    cr_assert_eq(model_predict(&in, &l), 0);
    cr_expect_lt(t.write_amp, d.write_amp);
    cr_expect_lt(d.write_amp, l.write_amp);
    cr_expect_lt(l.space_amp, t.space_amp);
    cr_expect_leq(l.space_amp, d.space_amp);
    cr_expect_lt(l.zero_lookup_cost, d.zero_lookup_cost);
    cr_expect_lt(d.zero_lookup_cost, t.zero_lookup_cost);
}

Test(model, monkey_gives_deeper_levels_higher_false_positive_rates_for_the_same_memory)
{
    /* Two leveled levels of 1,000 and 10,000 one-byte entries, 10 bits per key. Monkey:
     * p_i = c * n_i, ln c = -(M ln^2 2 + sum n_i ln n_i) / N. */
    struct model_params in = {.size_ratio = 10,
                              .runs_per_level = 1,
                              .runs_last_level = 1,
                              .level1_bytes = 1000,
                              .entries = 11000,
                              .entry_bytes = 1,
                              .bits_per_key = 10,
                              .monkey = 1};
    struct model_shape m, u;
    cr_assert_eq(model_predict(&in, &m), 0);
    cr_expect_eq(m.levels, 2);
    cr_expect_float_eq(m.fpr[1], 0.0010100157899562276, 1e-12);
    cr_expect_float_eq(m.fpr[2], 0.010100157899562276, 1e-12);
    cr_expect_float_eq(m.zero_lookup_cost, 0.011110173689518502, 1e-12);
    in.monkey = 0;
    cr_assert_eq(model_predict(&in, &u), 0);
    cr_expect_lt(m.zero_lookup_cost, u.zero_lookup_cost);
    /* The same memory: sum n_i * bits_i with bits_i = -ln p_i / ln^2 2. */
    double l2 = log(2.0) * log(2.0);
    double bits = 1000 * -log(m.fpr[1]) / l2 + 10000 * -log(m.fpr[2]) / l2;
    cr_expect_float_eq(bits, 110000.0, 1e-6);
}

Test(model, monkey_drops_the_filter_of_a_level_too_small_to_need_one)
{
    /* At 0.3 bits per key the last level's p would pass 1: it gets none, the others share. */
    struct model_params in = {.size_ratio = 10,
                              .runs_per_level = 1,
                              .runs_last_level = 1,
                              .level1_bytes = 1000,
                              .entries = 111000,
                              .entry_bytes = 1,
                              .bits_per_key = 0.3,
                              .monkey = 1};
    struct model_shape m;
    cr_assert_eq(model_predict(&in, &m), 0);
    cr_expect_eq(m.levels, 3);
    for (int i = 1; i <= 3; i++)
        cr_expect_leq(m.fpr[i], 1.0);
    cr_expect_eq(m.fpr[3], 1.0);
    cr_expect_lt(m.fpr[1], m.fpr[2]);
}

Test(model, model_follows_the_policy_presets)
{
    struct policy p;
    struct model_params in = {.entries = 1000, .entry_bytes = 100};
    struct model_shape m;
    policy_init(&p, LAMINA_COMPACTION_DOSTOEVSKY, 6, 0, 0, 4, 1000, 7);
    model_params_from_policy(&p, &in);
    cr_expect_eq(in.runs_per_level, 5);
    cr_expect_eq(in.runs_last_level, 1);
    cr_expect_eq(in.level1_bytes, 6000, "a tiered level 1 holds T level-0 merges");
    cr_assert_eq(model_predict(&in, &m), 0);
    cr_expect_eq(m.levels, 3, "100,000 bytes over 6,000 + 36,000 + 216,000");
}

Test(model, bad_parameters_are_refused)
{
    struct model_params in = {.size_ratio = 1,
                              .runs_per_level = 1,
                              .runs_last_level = 1,
                              .level1_bytes = 1,
                              .entry_bytes = 1};
    struct model_shape m;
    cr_expect_eq(model_predict(&in, &m), LAMINA_EINVAL);
    in.size_ratio = 2;
    in.runs_per_level = 0;
    cr_expect_eq(model_predict(&in, &m), LAMINA_EINVAL);
    in.runs_per_level = 1;
    in.entry_bytes = 0;
    cr_expect_eq(model_predict(&in, &m), LAMINA_EINVAL);
    in.entry_bytes = 1;
    in.levels = COMPACTION_MAX_LEVELS;
    cr_expect_eq(model_predict(&in, &m), LAMINA_EINVAL);
}
