/* monkey.c — Bloom filter bits per level (Dayan, Athanassoulis & Idreos, "Monkey: Optimal
 * Navigable Key-Value Store", SIGMOD 2017): for a fixed total of filter memory, the sum of
 * false-positive rates over the runs a lookup probes is least when each run's rate is
 * proportional to its size, so deeper (larger) levels get fewer bits per key. */
#include <math.h>

#include "bloom/bloom.h"

#define MONKEY_LN2_SQ 0.48045301391820142467 /* (ln 2)^2 */

/* False-positive rate of a standard Bloom filter at b bits per key and its optimal k,
 * e^(-b (ln 2)^2); no filter (b = 0) answers "maybe" always. */
static double monkey_fpr(int b)
{
    return b <= 0 ? 1.0 : exp(-(double)b * MONKEY_LN2_SQ);
}

/* Continuous optimum (section 4 of the paper). A run of s keys gets rate p = c s; the memory
 * of level i is n_i ln(1/p_i) / (ln 2)^2; solving sum_i n_i ln(1/(c s_i)) = M (ln 2)^2 for c
 * gives bits_i = (ln(1/c) - ln s_i) / (ln 2)^2 with
 *   ln(1/c) = (M (ln 2)^2 + sum_{i in A} n_i ln s_i) / sum_{i in A} n_i
 * over the levels A still free. A level whose bits fall below 0 (rate above 1: no filter) or
 * above MONKEY_MAX_BITS is pinned there, its memory taken out of M, and the rest solved again. */
void monkey_bits_exact(int nlevels, const uint64_t *keys, const int *runs, double bits_per_key,
                       double *bits)
{
    int pinned[MONKEY_MAX_LEVELS] = {0};
    double total = 0.0;
    if (nlevels > MONKEY_MAX_LEVELS) nlevels = MONKEY_MAX_LEVELS;
    for (int i = 0; i < nlevels; i++) {
        bits[i] = bits_per_key;
        if (keys[i] == 0 || runs[i] <= 0) pinned[i] = 1;
        total += (double)keys[i] * !pinned[i];
    }
    double budget = bits_per_key * total;
    for (int changed = 1; changed;) {
        changed = 0;
        double n = 0.0, weighted = 0.0;
        for (int i = 0; i < nlevels; i++) {
            if (pinned[i]) continue;
            double s = (double)keys[i] / runs[i];
            n += (double)keys[i];
            weighted += (double)keys[i] * log(s);
        }
        if (n == 0.0) break;
        double log_inv_c = (budget * MONKEY_LN2_SQ + weighted) / n;
        for (int i = 0; i < nlevels; i++) {
            if (pinned[i]) continue;
            double s = (double)keys[i] / runs[i];
            bits[i] = (log_inv_c - log(s)) / MONKEY_LN2_SQ;
        }
        /* Pin the worst offender only, then solve again: pinning one level moves the rest. */
        int worst = -1;
        double excess = 0.0;
        for (int i = 0; i < nlevels; i++) {
            if (pinned[i]) continue;
            double e = bits[i] < 0.0 ? -bits[i] : bits[i] - MONKEY_MAX_BITS;
            if (e > excess) {
                excess = e;
                worst = i;
            }
        }
        if (worst >= 0) {
            bits[worst] = bits[worst] < 0.0 ? 0.0 : MONKEY_MAX_BITS;
            budget -= bits[worst] * (double)keys[worst];
            pinned[worst] = 1;
            changed = 1;
        }
    }
}

void monkey_bits(int nlevels, const uint64_t *keys, const int *runs, int bits_per_key, int *bits)
{
    double exact[MONKEY_MAX_LEVELS];
    if (nlevels > MONKEY_MAX_LEVELS) nlevels = MONKEY_MAX_LEVELS;
    monkey_bits_exact(nlevels, keys, runs, bits_per_key, exact);
    /* Whole bits (a table records an integer): round down, then spend what is left of the
     * budget a bit at a time where it lowers the summed rate most per bit of memory, while
     * it fits. The total never exceeds bits_per_key times the keys. */
    double left = 0.0;
    for (int i = 0; i < nlevels; i++) {
        bits[i] = (int)floor(exact[i] + 1e-9);
        if (keys[i] == 0 || runs[i] <= 0) {
            bits[i] = bits_per_key;
            continue;
        }
        left += ((double)bits_per_key - bits[i]) * (double)keys[i];
    }
    for (;;) {
        int best = -1;
        double best_gain = 0.0;
        for (int i = 0; i < nlevels; i++) {
            if (keys[i] == 0 || runs[i] <= 0 || bits[i] >= MONKEY_MAX_BITS ||
                (double)keys[i] > left)
                continue;
            double gain = runs[i] * (monkey_fpr(bits[i]) - monkey_fpr(bits[i] + 1)) / keys[i];
            if (gain > best_gain) {
                best_gain = gain;
                best = i;
            }
        }
        if (best < 0) break;
        bits[best]++;
        left -= (double)keys[best];
    }
}
