/* experiments_latency.c — the latencies of the experiments binary: a per-thread histogram
 * (log-linear buckets, 128 per power of two, as HdrHistogram's, plus every sample when asked) whose
 * report has db_bench's shape and exact percentiles, and the interval reporter of db_bench's
 * --report_interval_seconds, which samples the histograms while the workers run. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "experiments.h"
#include "lamina.h"

/* Bucket i < HIST_SUB holds i ns; above, the power of two 2^lg (lg >= HIST_SUB_BITS) is cut into
 * HIST_SUB buckets of 2^(lg - HIST_SUB_BITS) ns, so a bucket is under 1/128 of its values. */
#define HIST_SUB_BITS 7
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

static int hist_bucket(uint64_t ns)
{
    if (ns < HIST_SUB) return (int)ns;
    int lg = 63 - __builtin_clzll(ns);
    return (lg - HIST_SUB_BITS + 1) * HIST_SUB +
           (int)((ns >> (lg - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The middle of bucket idx, in nanoseconds. */
static double hist_bucket_mid(int idx)
{
    if (idx < HIST_SUB) return idx;
    int lg = idx / HIST_SUB + HIST_SUB_BITS - 1, sub = idx % HIST_SUB;
    double width = ldexp(1.0, lg - HIST_SUB_BITS);
    return (double)(HIST_SUB + sub) * width + width / 2.0;
}

int bench_hist_init(bench_hist *h, size_t max_samples)
{
    *h = (bench_hist){.min = UINT64_MAX, .max_samples = max_samples};
    h->bucket = calloc(HIST_BUCKETS, sizeof *h->bucket);
    return h->bucket ? 0 : -1;
}

void bench_hist_free(bench_hist *h)
{
    free((void *)h->bucket);
    free(h->sample);
    h->bucket = NULL;
    h->sample = NULL;
}

void bench_hist_add(bench_hist *h, double seconds, uint64_t ops)
{
    uint64_t ns = seconds > 0 ? (uint64_t)(seconds * 1e9 + 0.5) : 0;
    /* one writer per histogram: a relaxed load and store, no read-modify-write, keep the
     * reporter's reads race-free at the cost of a plain add */
    _Atomic uint64_t *b = &h->bucket[hist_bucket(ns)];
    atomic_store_explicit(b, atomic_load_explicit(b, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&h->ops, atomic_load_explicit(&h->ops, memory_order_relaxed) + ops,
                          memory_order_relaxed);
    h->count++;
    h->sum += (double)ns;
    h->sumsq += (double)ns * (double)ns;
    if (ns < h->min) h->min = ns;
    if (ns > h->max) h->max = ns;
    if (h->max_samples == 0 || h->overflow) return;
    if (h->nsample == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4096;
        if (cap > h->max_samples) cap = h->max_samples;
        uint64_t *p = cap > h->cap ? realloc(h->sample, cap * sizeof *p) : NULL;
        if (p == NULL) {
            /* past the bound (or out of memory): the buckets answer instead */
            h->overflow = 1;
            return;
        }
        h->sample = p;
        h->cap = cap;
    }
    h->sample[h->nsample++] = ns;
}

/* The value of rank (1-based) among total counted in counts, from the buckets. */
static double hist_rank_bucket(const uint64_t *counts, uint64_t rank)
{
    uint64_t seen = 0;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        seen += counts[b];
        if (seen >= rank) return hist_bucket_mid(b);
    }
    return hist_bucket_mid(HIST_BUCKETS - 1);
}

/* Nearest rank of percentile pct among n: ceil(pct / 100 * n), at least 1. */
static uint64_t hist_rank(double pct, uint64_t n)
{
    uint64_t r = (uint64_t)ceil(pct / 100.0 * (double)n - 1e-9);
    return r < 1 ? 1 : r > n ? n : r;
}

static int hist_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void bench_hist_print(bench_hist *const *hs, int n)
{
    static const double pcts[] = {50.0, 75.0, 99.0, 99.9, 99.99};
    enum { NPCT = sizeof pcts / sizeof pcts[0] };
    uint64_t count = 0, min = UINT64_MAX, max = 0, nsample = 0;
    double sum = 0.0, sumsq = 0.0;
    int exact = 1;
    for (int i = 0; i < n; i++) {
        count += hs[i]->count;
        sum += hs[i]->sum;
        sumsq += hs[i]->sumsq;
        if (hs[i]->min < min) min = hs[i]->min;
        if (hs[i]->max > max) max = hs[i]->max;
        nsample += hs[i]->nsample;
        exact &= hs[i]->max_samples > 0 && !hs[i]->overflow;
    }
    double value[NPCT] = {0};
    uint64_t *all = exact && count > 0 ? malloc(nsample * sizeof *all) : NULL;
    if (all != NULL) {
        size_t at = 0;
        for (int i = 0; i < n; i++) {
            memcpy(all + at, hs[i]->sample, hs[i]->nsample * sizeof *all);
            at += hs[i]->nsample;
        }
        qsort(all, nsample, sizeof *all, hist_cmp);
        for (int p = 0; p < NPCT; p++)
            value[p] = (double)all[hist_rank(pcts[p], nsample) - 1];
        free(all);
    } else if (count > 0) {
        exact = 0;
        uint64_t *sumb = calloc(HIST_BUCKETS, sizeof *sumb);
        for (int i = 0; sumb != NULL && i < n; i++)
            for (int b = 0; b < HIST_BUCKETS; b++)
                sumb[b] += atomic_load_explicit(&hs[i]->bucket[b], memory_order_relaxed);
        for (int p = 0; sumb != NULL && p < NPCT; p++) {
            value[p] = hist_rank_bucket(sumb, hist_rank(pcts[p], count));
            if (value[p] < (double)min) value[p] = (double)min;
            if (value[p] > (double)max) value[p] = (double)max;
        }
        free(sumb);
    }
    if (count == 0) min = 0;
    double avg = count ? sum / (double)count : 0.0;
    double var = count ? sumsq / (double)count - avg * avg : 0.0;
    /* db_bench's Histogram::ToString, in microseconds */
    printf("Microseconds per op:\n");
    printf("Count: %" PRIu64 " Average: %.4f  StdDev: %.2f\n", count, avg / 1e3,
           var > 0 ? sqrt(var) / 1e3 : 0.0);
    printf("Min: %.3f  Median: %.4f  Max: %.3f\n", (double)min / 1e3, value[0] / 1e3,
           (double)max / 1e3);
    printf("Percentiles:");
    for (int p = 0; p < NPCT; p++)
        printf(" P%g: %.2f", pcts[p], value[p] / 1e3);
    printf("\n");
    if (!exact && count > 0)
        printf("(percentiles from %d buckets per power of two, within 1%%: more than %zu samples "
               "per thread)\n",
               HIST_SUB, hs[0]->max_samples);
}

/* ---- the interval reporter ------------------------------------------------------------ */

struct bench_reporter {
    FILE *csv;
    const char *name;
    double interval;
    bench_hist *const *hs;
    int n;
    lamina_db *db;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    double start, last;
    uint64_t last_ops, last_stall;
    uint64_t *last_counts, *counts; /* HIST_BUCKETS each */
};

/* Writes one row for the time since the last row. */
static void reporter_row(bench_reporter *r, double now)
{
    uint64_t ops = 0, total = 0;
    memset(r->counts, 0, HIST_BUCKETS * sizeof *r->counts);
    for (int i = 0; i < r->n; i++) {
        ops += atomic_load_explicit(&r->hs[i]->ops, memory_order_relaxed);
        for (int b = 0; b < HIST_BUCKETS; b++)
            r->counts[b] += atomic_load_explicit(&r->hs[i]->bucket[b], memory_order_relaxed);
    }
    for (int b = 0; b < HIST_BUCKETS; b++) {
        uint64_t c = r->counts[b];
        r->counts[b] -= r->last_counts[b];
        r->last_counts[b] = c;
        total += r->counts[b];
    }
    uint64_t stall = 0;
    if (lamina_property_int(r->db, "lamina.stall-micros", &stall) != LAMINA_OK)
        stall = r->last_stall;
    double secs = now - r->last > 1e-9 ? now - r->last : 1e-9;
    double p99 = total ? hist_rank_bucket(r->counts, hist_rank(99.0, total)) / 1e3 : 0.0;
    fprintf(r->csv, "%.3f,%.0f,%.2f,%" PRIu64 ",%s\n", now - r->start,
            (double)(ops - r->last_ops) / secs, p99,
            stall >= r->last_stall ? stall - r->last_stall : 0, r->name);
    fflush(r->csv);
    r->last = now;
    r->last_ops = ops;
    r->last_stall = stall;
}

static void *reporter_main(void *arg)
{
    bench_reporter *r = arg;
    pthread_mutex_lock(&r->mu);
    double next = r->start + r->interval;
    while (!r->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double wait = next - bench_now();
        if (wait > 0) {
            double whole = floor(wait);
            ts.tv_sec += (time_t)whole;
            ts.tv_nsec += (long)((wait - whole) * 1e9);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
            continue;
        }
        reporter_row(r, bench_now());
        next += r->interval;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int bench_reporter_start(bench_reporter **out, FILE *csv, double interval, const char *name,
                         bench_hist *const *hs, int n, lamina_db *db)
{
    bench_reporter *r = calloc(1, sizeof *r);
    *out = NULL;
    if (r == NULL) return -1;
    *r = (bench_reporter){
        .csv = csv, .name = name, .interval = interval, .hs = hs, .n = n, .db = db};
    r->last_counts = calloc(HIST_BUCKETS, sizeof *r->last_counts);
    r->counts = calloc(HIST_BUCKETS, sizeof *r->counts);
    if (lamina_property_int(db, "lamina.stall-micros", &r->last_stall) != LAMINA_OK)
        r->last_stall = 0;
    pthread_condattr_t ca;
    int ok = r->last_counts && r->counts && pthread_condattr_init(&ca) == 0;
    if (ok) {
        /* the waits are against CLOCK_MONOTONIC, as bench_now */
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&r->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (ok && pthread_mutex_init(&r->mu, NULL) != 0) {
        pthread_cond_destroy(&r->cv);
        ok = 0;
    }
    if (ok) {
        r->start = r->last = bench_now();
        if (pthread_create(&r->tid, NULL, reporter_main, r) != 0) {
            pthread_mutex_destroy(&r->mu);
            pthread_cond_destroy(&r->cv);
            ok = 0;
        }
    }
    if (!ok) {
        free(r->last_counts);
        free(r->counts);
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void bench_reporter_stop(bench_reporter *r)
{
    if (r == NULL) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->tid, NULL);
    /* the part of an interval since the last row, so a short benchmark has a row too; a
     * sliver of an interval is left out, its rate being mostly noise */
    double now = bench_now();
    if (now - r->last >= r->interval / 10 || r->last == r->start) reporter_row(r, now);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->last_counts);
    free(r->counts);
    free(r);
}
