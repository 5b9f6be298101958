/* test_experiments_hist.c — the latency histogram of experiments (tools/experiments_latency.c)
 * linked in directly: db_bench's histogram block with exact nearest-rank percentiles while every
 * sample is kept, and bucket estimates within 1% (and a line saying so) past the bound. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "experiments.h"

/* experiments.c's clock, which the reporter in experiments_latency.c uses. */
double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What bench_hist_print writes for the n histograms (the caller frees it). */
static char *print_to_string(bench_hist *const *hs, int n)
{
    char path[] = "/tmp/lamina-hist-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    fflush(stdout);
    int saved = dup(1);
    cr_assert_geq(saved, 0);
    cr_assert_eq(dup2(fd, 1), 1);
    bench_hist_print(hs, n);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char *buf = calloc(1, 8192);
    size_t got = fread(buf, 1, 8191, f);
    buf[got] = '\0';
    fclose(f);
    close(fd);
    unlink(path);
    return buf;
}

typedef struct parsed {
    unsigned long long count;
    double avg, sd, min, median, max, p[5];
} parsed;

static parsed parse_block(const char *text)
{
    parsed r;
    const char *c = strstr(text, "Count: ");
    cr_assert_not_null(c, "%s", text);
    cr_assert_eq(sscanf(c, "Count: %llu Average: %lf StdDev: %lf", &r.count, &r.avg, &r.sd), 3,
                 "%s", text);
    const char *m = strstr(text, "\nMin: ");
    cr_assert_not_null(m, "%s", text);
    cr_assert_eq(sscanf(m, "\nMin: %lf Median: %lf Max: %lf", &r.min, &r.median, &r.max), 3, "%s",
                 text);
    const char *p = strstr(text, "\nPercentiles: ");
    cr_assert_not_null(p, "%s", text);
    cr_assert_eq(sscanf(p, "\nPercentiles: P50: %lf P75: %lf P99: %lf P99.9: %lf P99.99: %lf",
                        &r.p[0], &r.p[1], &r.p[2], &r.p[3], &r.p[4]),
                 5, "%s", text);
    return r;
}

/* 1..n microseconds, in a scrambled order, split over two threads' histograms. */
static void fill_two(bench_hist h[2], uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = i * 7919 % n + 1; /* 7919 is prime: a permutation of 1..n */
        bench_hist_add(&h[i % 2], (double)v * 1e-6, 1);
    }
}

Test(experiments_hist, kept_samples_give_exact_nearest_rank_percentiles)
{
    bench_hist h[2];
    cr_assert_eq(bench_hist_init(&h[0], 1 << 20), 0);
    cr_assert_eq(bench_hist_init(&h[1], 1 << 20), 0);
    fill_two(h, 10000);
    bench_hist *hs[2] = {&h[0], &h[1]};
    char *text = print_to_string(hs, 2);
    parsed r = parse_block(text);
    cr_expect_eq(r.count, 10000);
    cr_expect_float_eq(r.min, 1.0, 1e-9, "%s", text);
    cr_expect_float_eq(r.max, 10000.0, 1e-9, "%s", text);
    cr_expect_float_eq(r.avg, 5000.5, 1e-3, "%s", text);
    /* the population standard deviation of 1..n: sqrt((n^2 - 1) / 12) */
    cr_expect_float_eq(r.sd, sqrt((1e8 - 1) / 12.0), 0.01, "%s", text);
    /* nearest rank: the ceil(p/100 * n)-th smallest */
    static const double want[5] = {5000, 7500, 9900, 9990, 9999};
    for (int i = 0; i < 5; i++)
        cr_expect_float_eq(r.p[i], want[i], 1e-9, "percentile %d: %s", i, text);
    cr_expect_float_eq(r.median, 5000.0, 1e-9, "%s", text);
    cr_expect_null(strstr(text, "buckets"), "%s", text);
    free(text);
    bench_hist_free(&h[0]);
    bench_hist_free(&h[1]);
}

Test(experiments_hist, past_the_sample_bound_percentiles_come_from_buckets_within_one_percent)
{
    bench_hist h[2];
    cr_assert_eq(bench_hist_init(&h[0], 100), 0);
    cr_assert_eq(bench_hist_init(&h[1], 100), 0);
    fill_two(h, 10000);
    bench_hist *hs[2] = {&h[0], &h[1]};
    char *text = print_to_string(hs, 2);
    parsed r = parse_block(text);
    cr_expect_eq(r.count, 10000);
    cr_expect_float_eq(r.min, 1.0, 1e-9, "%s", text); /* min, max, mean stay exact */
    cr_expect_float_eq(r.max, 10000.0, 1e-9, "%s", text);
    cr_expect_float_eq(r.avg, 5000.5, 1e-3, "%s", text);
    static const double want[5] = {5000, 7500, 9900, 9990, 9999};
    for (int i = 0; i < 5; i++)
        cr_expect(fabs(r.p[i] - want[i]) <= want[i] * 0.01, "percentile %d: %g, want %g: %s", i,
                  r.p[i], want[i], text);
    cr_expect_not_null(strstr(text, "buckets per power of two"), "%s", text);
    free(text);
    bench_hist_free(&h[0]);
    bench_hist_free(&h[1]);
}

Test(experiments_hist, a_batch_sample_counts_its_operations_and_one_sample)
{
    bench_hist h;
    cr_assert_eq(bench_hist_init(&h, 16), 0);
    bench_hist_add(&h, 2e-6, 64);
    bench_hist_add(&h, 4e-6, 36);
    cr_expect_eq(atomic_load(&h.ops), 100);
    cr_expect_eq(h.count, 2);
    bench_hist *hs[1] = {&h};
    char *text = print_to_string(hs, 1);
    parsed r = parse_block(text);
    cr_expect_eq(r.count, 2);
    cr_expect_float_eq(r.avg, 3.0, 1e-9, "%s", text);
    cr_expect_float_eq(r.p[0], 2.0, 1e-9, "%s", text);
    cr_expect_float_eq(r.p[1], 4.0, 1e-9, "%s", text);
    free(text);
    bench_hist_free(&h);
}

Test(experiments_hist, an_empty_histogram_prints_zeros)
{
    bench_hist h;
    cr_assert_eq(bench_hist_init(&h, 16), 0);
    bench_hist *hs[1] = {&h};
    char *text = print_to_string(hs, 1);
    parsed r = parse_block(text);
    cr_expect_eq(r.count, 0);
    cr_expect_float_eq(r.max, 0.0, 1e-12);
    cr_expect_float_eq(r.p[4], 0.0, 1e-12);
    free(text);
    bench_hist_free(&h);
}
