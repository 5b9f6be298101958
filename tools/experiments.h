/* experiments.h — what the files of the experiments binary share: a key set, the prefix rule of
 * the prefix-scan benchmarks, db_bench's report line, and the bare-memtable benchmark
 * (experiments_memtable.c), the one part of experiments below the public API. */
#ifndef TOOLS_EXPERIMENTS_H
#define TOOLS_EXPERIMENTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lamina.h"

/* Exit statuses: 2 a bad command line, 3 a failure of the database (or memtable) under test. */
enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_DBERR = 3 };

/* n keys, key[i] of len[i] bytes; borrowed from the caller for the benchmark's run. */
typedef struct bench_keyset {
    const char *const *key;
    const size_t *len;
    size_t n;
} bench_keyset;

/* The prefix a prefix scan takes from a key: its first prefix_size bytes (the whole key when it
 * is shorter) when prefix_size > 0; else the key up to and including its last '/', '@' or '-'
 * that is not the key's final byte (a path's directory, an npm scope, a name's stem); else, with
 * no such separator, its first half rounded up. Never 0 for a key of 1 byte or more. */
size_t bench_prefix_len(const char *key, size_t len, size_t prefix_size);

/* Prints db_bench's report line "name : X micros/op Y ops/sec S seconds N operations; extra":
 * busy is the time the workers spent (micros/op), elapsed the wall time (ops/sec). */
void bench_print_line(const char *name, double busy, double elapsed, uint64_t ops,
                      const char *extra);

/* splitmix64 (Steele, Lea, Flood 2014): the seeded generator of every benchmark. */
static inline uint64_t bench_rand(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* db_bench's generated key of index: the index big-endian in the first 8 bytes and '0' padding
 * after, or its last key_size bytes when key_size < 8. Writes key_size bytes to key. */
static inline void bench_index_key(char *key, size_t key_size, uint64_t index)
{
    unsigned char be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)(index >> (56 - 8 * i));
    if (key_size >= 8) {
        memcpy(key, be, 8);
        memset(key + 8, '0', key_size - 8);
    } else {
        memcpy(key, be + 8 - key_size, key_size);
    }
}

/* The value of a numeric flag --name: an integer in [lo, hi] (hi INT64_MAX: no upper end), or
 * a number in [lo, hi] with either end open (open_lo, open_hi). 0 and *out set, or EXIT_USAGE
 * with "experiments: bad value 'V' for --name (the range)" on stderr. */
int bench_flag_int(const char *name, const char *value, int64_t lo, int64_t hi, int64_t *out);
int bench_flag_real(const char *name, const char *value, double lo, double hi, int open_lo,
                    int open_hi, double *out);

/* Seconds of a monotonic clock. */
double bench_now(void);

/* The latencies of one worker thread (experiments_latency.c): log-linear buckets in
 * nanoseconds (128 per power of two, so a bucket spans under 1% of its values), exact count,
 * sum, min and max, and with max_samples > 0 every sample up to that many, which makes the
 * percentiles exact. Written by its thread only; bucket and ops are atomics because the interval
 * reporter reads them while the thread runs. */
typedef struct bench_hist {
    _Atomic uint64_t *bucket;
    _Atomic uint64_t ops; /* operations done: a sample may stand for a batch of them */
    uint64_t count, min, max;
    double sum, sumsq;
    uint64_t *sample;
    size_t nsample, cap, max_samples;
    int overflow; /* more samples than max_samples came: the percentiles come from buckets */
} bench_hist;

/* 0, or -1 when out of memory. Release with bench_hist_free. */
int bench_hist_init(bench_hist *h, size_t max_samples);
void bench_hist_free(bench_hist *h);
/* One sample of seconds that did ops operations. */
void bench_hist_add(bench_hist *h, double seconds, uint64_t ops);
/* db_bench's histogram block of the n histograms merged: "Count: ... Average: ... StdDev: ...",
 * "Min: ... Median: ... Max: ...", "Percentiles: P50: ... P75: ... P99: ... P99.9: ...
 * P99.99: ...", in microseconds. Percentiles are nearest-rank over every sample when all were
 * kept, else from the buckets (a line then says so). */
void bench_hist_print(bench_hist *const *hs, int n);

/* db_bench's --report_interval_seconds: a thread that appends to csv, every interval seconds
 * and once at stop for the part interval left, the row "secs_elapsed,interval_qps,
 * interval_p99_us,interval_stall_micros,benchmark" over the operations of the n histograms and
 * the stall time of db. The histograms, db and name are borrowed until stop. */
typedef struct bench_reporter bench_reporter;
int bench_reporter_start(bench_reporter **out, FILE *csv, double interval, const char *name,
                         bench_hist *const *hs, int n, lamina_db *db);
void bench_reporter_stop(bench_reporter *r);
/* The report file's header line. */
#define BENCH_REPORT_HEADER                                                                        \
    "secs_elapsed,interval_qps,interval_p99_us,interval_stall_micros,benchmark"

typedef struct bench_memtable_config {
    bench_keyset keys;
    const char *source; /* where the keys come from, for the header */
    int art;            /* the ART memtable, else the AVL one */
    int shuffle;        /* insert in a seeded random order instead of the key set's */
    uint64_t seed;
    size_t prefix_size; /* 0: bench_prefix_len's separator rule */
    uint64_t scans;     /* prefix scans */
} bench_memtable_config;

/* The memtable benchmark: inserts, present and absent point lookups, a full iteration and
 * prefix scans on a bare memtable, then the memtable's bytes per key beyond the raw keys and
 * values. Prints its own header and report lines; returns 0 or an exit status (message
 * printed). */
int bench_memtable(const bench_memtable_config *c);

/* `experiments tune ...` and `experiments growth ...` (experiments_tune.c): argv as main's,
 * argv[1] the subcommand. Return 0 or an exit status (message printed). */
int bench_tune(int argc, char **argv);
int bench_growth(int argc, char **argv);
/* `experiments plot --report_file=PATH [--out=DIR]` (experiments_tune.c): gnuplot plots of the
 * interval report, one line per benchmark. Returns 0 or an exit status (message printed). */
int bench_plot(int argc, char **argv);

#endif
