/* test_monkey.c — Monkey's bits per level (Dayan et al., SIGMOD 2017) against values worked by
 * hand, and the whole-bit allocation's budget and order on many shapes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "bloom/bloom.h"

/* (ln 2)^2: one more bit per key divides a standard filter's rate by e^0.4805. */
#define LN2_SQ 0.4804530139182014

/* T = 4, levels of 1, 4, 16 and 64 keys, one run each, 10 bits per key. H = (4 ln 4 +
 * 16 ln 16 + 64 ln 64) / 85 = 3.7186; bits_i = 10 + (H - ln n_i) / (ln 2)^2 gives 17.740 for
 * the top level and ln 4 / (ln 2)^2 = 2.885 bits less for each level down. */
Test(monkey, leveled_t4_matches_the_closed_form)
{
    uint64_t keys[4] = {1000, 4000, 16000, 64000};
    int runs[4] = {1, 1, 1, 1};
    double bits[4];
    monkey_bits_exact(4, keys, runs, 10.0, bits);
    const double want[4] = {17.7396, 14.8542, 11.9689, 9.0835};
    for (int i = 0; i < 4; i++)
        cr_expect(fabs(bits[i] - want[i]) < 1e-3, "level %d: %f, want %f", i, bits[i], want[i]);
    cr_expect(fabs(bits[0] - bits[1] - log(4.0) / LN2_SQ) < 1e-9);
    double mem = 0;
    for (int i = 0; i < 4; i++)
        mem += bits[i] * (double)keys[i];
    cr_expect(fabs(mem / 85000.0 - 10.0) < 1e-9, "memory %f bits per key", mem / 85000.0);
}

/* Rounded down: 17, 14, 11, 9 use 825 of the 850 bits (per 1,000 keys). The marginal gains
 * per bit of memory, (p(b) - p(b+1)) / n with p(b) = e^(-0.4805 b): level 2 (16: 1.21e-4)
 * first, then level 1 (4: 1.14e-4), level 0 (1: 1.08e-4), level 1 again (7.0e-5 beats level
 * 0's 6.7e-5 and fits the 4 left): 18, 16, 12, 9, exactly 850. */
Test(monkey, whole_bits_spend_the_budget_where_it_gains_most)
{
    uint64_t keys[4] = {1000, 4000, 16000, 64000};
    int runs[4] = {1, 1, 1, 1};
    int bits[4];
    monkey_bits(4, keys, runs, 10, bits);
    cr_expect_eq(bits[0], 18);
    cr_expect_eq(bits[1], 16);
    cr_expect_eq(bits[2], 12);
    cr_expect_eq(bits[3], 9);
}

/* Tiering: level 0 holds 4 runs of 1 key, level 1 one run of 16 (s = 1 and 16). H = 16 ln 16 /
 * 20 = 2.2181; bits = 10 + 2.2181 / 0.4805 = 14.617 and 10 + (2.2181 - 2.7726) / 0.4805 =
 * 8.846: a run's rate follows its size, not its level's. */
Test(monkey, runs_of_a_tiered_level_are_sized_by_run)
{
    uint64_t keys[2] = {4, 16};
    int runs[2] = {4, 1};
    double bits[2];
    monkey_bits_exact(2, keys, runs, 10.0, bits);
    cr_expect(fabs(bits[0] - 14.6166) < 1e-3, "%f", bits[0]);
    cr_expect(fabs(bits[1] - 8.8458) < 1e-3, "%f", bits[1]);
}

/* Levels of 1 and 2 keys at 0.2 bits per key: the free solution gives the larger level
 * 0.2 + (2 ln 2 / 3 - ln 2) / 0.4805 = -0.281 bits, so it gets no filter and the whole budget
 * (0.6 bits) goes to the single key above: 0.6 bits. */
Test(monkey, a_level_below_zero_bits_gets_no_filter)
{
    uint64_t keys[2] = {1, 2};
    int runs[2] = {1, 1};
    double bits[2];
    monkey_bits_exact(2, keys, runs, 0.2, bits);
    cr_expect(fabs(bits[0] - 0.6) < 1e-9, "%f", bits[0]);
    cr_expect_eq(bits[1], 0.0);
}

Test(monkey, one_level_or_equal_levels_stay_uniform)
{
    uint64_t keys[3] = {5000, 5000, 0};
    int runs[3] = {1, 1, 0};
    int bits[3];
    monkey_bits(1, keys, runs, 10, bits);
    cr_expect_eq(bits[0], 10);
    monkey_bits(3, keys, runs, 7, bits);
    cr_expect_eq(bits[0], 7);
    cr_expect_eq(bits[1], 7);
    cr_expect_eq(bits[2], 7, "an empty level keeps the uniform figure");
}

/* Random shapes: the whole-bit allocation never spends more than the uniform budget, leaves
 * less than one more bit of any level below the cap, and only adds to the rounded-down
 * optimum; the optimum never gives a larger run more bits than a smaller one. (Whole bits
 * may: a small budget left can fit a small level and not a larger one.) */
Test(monkey, whole_bits_stay_within_budget_and_optimum_follows_run_size)
{
    srand(9);
    for (int trial = 0; trial < 2000; trial++) {
        int n = 1 + rand() % 8, b = 1 + rand() % 20, runs[8], bits[8];
        uint64_t keys[8], total = 0, used = 0, smallest = UINT64_MAX;
        for (int i = 0; i < n; i++) {
            keys[i] = (uint64_t)(rand() % 4 ? 1 + rand() % 100000 : rand() % 3);
            runs[i] = rand() % 5;
            if (keys[i] && runs[i]) total += keys[i];
        }
        monkey_bits(n, keys, runs, b, bits);
        for (int i = 0; i < n; i++) {
            cr_assert(bits[i] >= 0 && bits[i] <= MONKEY_MAX_BITS);
            if (!keys[i] || !runs[i]) continue;
            used += keys[i] * (uint64_t)bits[i];
            /* what is left is less than one more bit for any level below the cap */
            if (bits[i] < MONKEY_MAX_BITS && keys[i] < smallest) smallest = keys[i];
        }
        cr_assert_leq(used, total * (uint64_t)b, "trial %d: %llu bits over %llu", trial,
                      (unsigned long long)used, (unsigned long long)(total * (uint64_t)b));
        if (smallest != UINT64_MAX)
            cr_assert_lt(total * (uint64_t)b - used, smallest, "trial %d left bits", trial);
        double exact[8];
        monkey_bits_exact(n, keys, runs, b, exact);
        for (int i = 0; i < n; i++) {
            if (!keys[i] || !runs[i]) continue;
            cr_assert_geq(bits[i], (int)floor(exact[i] + 1e-9), "trial %d level %d", trial, i);
            for (int j = 0; j < n; j++) {
                if (!keys[j] || !runs[j]) continue;
                /* s_i < s_j compared without division: keys_i * runs_j < keys_j * runs_i */
                if (keys[i] * (uint64_t)runs[j] < keys[j] * (uint64_t)runs[i])
                    cr_assert_geq(exact[i], exact[j], "trial %d: levels %d, %d", trial, i, j);
            }
        }
    }
}
