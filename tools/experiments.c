/* experiments.c — the benchmark binary over the public API (include/lamina.h only; its memtable
 * benchmark, on a bare memtable, is experiments_memtable.c). It speaks RocksDB db_bench's
 * language: its flags, key and value shapes, workload names and report lines, plus one "stats"
 * line of Lamina's amplification figures after each benchmark and a "cache" line of block-cache
 * hits and misses after each read benchmark. Read keys are drawn uniformly, by db_bench's
 * --read_random_exp_range, or Zipfian (Gray et al., "Quickly generating billion-record
 * synthetic databases", SIGMOD 1994, as YCSB draws them). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "experiments.h"
#include "lamina.h"

/* Bytes of the ring of value data, as db_bench's RandomGenerator (1 MiB). */
#define VALUE_RING_BYTES (1u << 20)
/* Latency histogram: 8 sub-buckets per power of two of nanoseconds, up to 2^40 ns. */
#define HIST_SUB 8
#define HIST_BUCKETS (41 * HIST_SUB)

/* ---- the seeded PRNG (bench_rand, experiments.h) ------------------------------------ */

/* Uniform in [0, n); the modulo bias is below n / 2^64, far under anything measured. */
static uint64_t prng_below(uint64_t *state, uint64_t n)
{
    return bench_rand(state) % n;
}

/* Uniform in [0, 1), from the top 53 bits. */
static double prng_unit(uint64_t *state)
{
    return (double)(bench_rand(state) >> 11) * 0x1.0p-53;
}

/* ---- flags ---------------------------------------------------------------------------- */

enum { KEY_DIST_UNIFORM, KEY_DIST_ZIPF };

typedef struct bench_flags {
    const char *benchmarks;
    const char *db;
    const char *key_file;
    const char *key_file_flag; /* its spelling on the command line: key_file or keys_file */
    int64_t num, reads, key_size, value_size, seek_nexts, threads, batch_size, prefix_size;
    uint64_t seed;
    int use_existing_db, sync, histogram, key_dist, shuffle;
    int num_given, reads_given; /* --num, --reads were on the command line */
    double compression_ratio, read_random_exp_range, zipf_theta;
    lamina_options opts;
} bench_flags;

static const char bench_help[] =
    "Usage: experiments [--flag=value ...]\n"
    "Benchmarks in db_bench's language; each prints one db_bench report line and a stats line\n"
    "(read benchmarks also a cache line: block-cache hits and misses during the benchmark).\n"
    "\n"
    "  --benchmarks=a,b,...   fillseq fillrandom fillsync overwrite readrandom\n"
    "                         multireadrandom readseq readreverse seekrandom seekprefix\n"
    "                         deleterandom readwhilewriting memtable\n"
    "                         (default fillseq,fillrandom,readrandom)\n"
    "                         seekprefix: per op, the prefix of a random key (see\n"
    "                         --prefix_size), an iterator with read option prefix, a seek to\n"
    "                         it and every entry under it (at most --seek_nexts if given);\n"
    "                         reports entries per scan\n"
    "                         memtable: no database; the keys (every line of --keys_file, or\n"
    "                         --num generated keys) into a bare memtable of --memtable_type:\n"
    "                         inserts, lookups of present and of absent keys (each key with a\n"
    "                         byte 0x00 appended), a full scan, --reads prefix scans (default\n"
    "                         min(keys, 10000)) and memtable_overhead in bytes per key beyond\n"
    "                         the keys and 8-byte values; repeated keys are inserted again as\n"
    "                         newer versions\n"
    "  --num=N                keys (default 1000000)\n"
    "  --reads=N              read operations (default: num)\n"
    "  --key_size=N           bytes per key (default 16)\n"
    "  --key_file=PATH        use the file's lines as the keys (a real key set, e.g.\n"
    "                         ../shared/data/paths-1m.txt): key i is line i, --num defaults to\n"
    "                         the line count and --key_size is ignored (--keys_file: the same)\n"
    "  --shuffle=0|1          memtable: insert in a seeded random order (default: file order)\n"
    "  --prefix_size=N        seekprefix and memtable: a prefix is a key's first N bytes;\n"
    "                         0 (default): the key up to its last '/', '@' or '-', else its\n"
    "                         first half\n"
    "  --value_size=N         bytes per value (default 100)\n"
    "  --compression_ratio=R  values compress to this fraction (default 0.5)\n"
    "  --db=DIR               database directory (default /tmp/laminabench-UID)\n"
    "  --use_existing_db=0|1  fill* keep the existing database instead of destroying it\n"
    "  --seed=N               seed of the key order and the value data (default 301)\n"
    "  --seek_nexts=N         nexts after each seek of seekrandom (default 0); entries read\n"
    "                         per scan of seekprefix (default 0: all under the prefix)\n"
    "  --batch_size=N         keys per lamina_multi_get of multireadrandom (default 8)\n"
    "  --read_random_exp_range=R  skew the read keys as db_bench does: index exp(-U*R)*num,\n"
    "                         scattered by a large multiplier (default 0: uniform)\n"
    "  --key_dist=uniform|zipf  read keys of readrandom, multireadrandom, seekrandom and the\n"
    "                         readers of readwhilewriting: uniform, or Zipfian ranks (Gray et\n"
    "                         al. 1994, as YCSB) spread over the keys by a bijection (default\n"
    "                         uniform)\n"
    "  --zipf_theta=T         Zipf exponent, 0 < T < 1 (default 0.99, YCSB's)\n"
    "  --sync=0|1             sync every write (fillsync always does)\n"
    "  --threads=N            threads per benchmark; readers of readwhilewriting (default 1)\n"
    "  --histogram=0|1        print latency percentiles per benchmark\n"
    "\n"
    "Every option of the database options table is also a flag (--name=value), among them\n"
    "compression_type, bloom_bits, cache_size and write_buffer_size:\n";

static void bench_print_options(void)
{
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        if (d == NULL) break;
        printf("  --%-36s %s\n", d->name, d->doc);
    }
}

static int bench_parse_int(const char *name, const char *value, int64_t lo, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < lo) {
        fprintf(stderr,
                "experiments: bad value '%s' for --%s (an integer >= %" PRId64 " is expected)\n",
                value, name, lo);
        return EXIT_USAGE;
    }
    *out = v;
    return 0;
}

/* A floating-point flag in [lo, hi] (lo or hi excluded when open_lo / open_hi). */
static int bench_parse_double(const char *name, const char *value, double lo, double hi,
                              int open_lo, int open_hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !(open_lo ? v > lo : v >= lo) ||
        !(open_hi ? v < hi : v <= hi)) {
        fprintf(stderr, "experiments: bad value '%s' for --%s (a number in %c%g, %g%c)\n", value,
                name, open_lo ? '(' : '[', lo, hi, open_hi ? ')' : ']');
        return EXIT_USAGE;
    }
    *out = v;
    return 0;
}

static int bench_parse_flags(int argc, char **argv, bench_flags *f)
{
    static char default_db[64];
    snprintf(default_db, sizeof default_db, "/tmp/laminabench-%u", (unsigned)getuid());
    *f = (bench_flags){.benchmarks = "fillseq,fillrandom,readrandom",
                       .db = default_db,
                       .num = 1000000,
                       .reads = -1,
                       .key_size = 16,
                       .value_size = 100,
                       .threads = 1,
                       .seed = 301,
                       .batch_size = 8,
                       .compression_ratio = 0.5,
                       .zipf_theta = 0.99};
    lamina_options_init(&f->opts);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(bench_help, stdout);
            bench_print_options();
            return -1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "experiments: unexpected argument '%s' (flags are --name=value)\n",
                    arg);
            return EXIT_USAGE;
        }
        char name[128];
        const char *eq = strchr(arg + 2, '=');
        size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (n >= sizeof name) {
            fprintf(stderr, "experiments: unknown flag '%s'\n", arg);
            return EXIT_USAGE;
        }
        memcpy(name, arg + 2, n);
        name[n] = '\0';
        const char *value = eq ? eq + 1 : "1"; /* a bare --flag means 1, as in gflags */
        int64_t v = 0;
        int rc = 0;
        if (strcmp(name, "benchmarks") == 0) {
            f->benchmarks = value;
        } else if (strcmp(name, "db") == 0) {
            f->db = value;
        } else if (strcmp(name, "num") == 0) {
            rc = bench_parse_int(name, value, 1, &f->num);
            f->num_given = 1;
        } else if (strcmp(name, "reads") == 0) {
            rc = bench_parse_int(name, value, -1, &f->reads);
            f->reads_given = f->reads >= 0;
        } else if (strcmp(name, "key_file") == 0 || strcmp(name, "keys_file") == 0) {
            f->key_file = value;
            f->key_file_flag = name[3] == 's' ? "keys_file" : "key_file";
        } else if (strcmp(name, "key_size") == 0) {
            rc = bench_parse_int(name, value, 1, &f->key_size);
            if (rc == 0 && f->key_size > (int64_t)LAMINA_MAX_KEY_LEN)
                rc = bench_parse_int(name, "-1", 1, &v);
        } else if (strcmp(name, "value_size") == 0) {
            rc = bench_parse_int(name, value, 0, &f->value_size);
            if (rc == 0 && f->value_size > (int64_t)(VALUE_RING_BYTES / 2))
                rc = bench_parse_int(name, "-1", 0, &v);
        } else if (strcmp(name, "seek_nexts") == 0) {
            rc = bench_parse_int(name, value, 0, &f->seek_nexts);
        } else if (strcmp(name, "prefix_size") == 0) {
            rc = bench_parse_int(name, value, 0, &f->prefix_size);
        } else if (strcmp(name, "threads") == 0) {
            rc = bench_parse_int(name, value, 1, &f->threads);
        } else if (strcmp(name, "seed") == 0) {
            rc = bench_parse_int(name, value, 0, &v);
            f->seed = (uint64_t)v;
        } else if (strcmp(name, "use_existing_db") == 0 || strcmp(name, "sync") == 0 ||
                   strcmp(name, "histogram") == 0 || strcmp(name, "shuffle") == 0) {
            rc = bench_parse_int(name, value, 0, &v);
            if (rc == 0 && v > 1) rc = bench_parse_int(name, "-1", 0, &v);
            int *dst = name[0] == 'u'   ? &f->use_existing_db
                       : name[1] == 'y' ? &f->sync
                       : name[1] == 'h' ? &f->shuffle
                                        : &f->histogram;
            *dst = (int)v;
        } else if (strcmp(name, "batch_size") == 0) {
            rc = bench_parse_int(name, value, 1, &f->batch_size);
        } else if (strcmp(name, "compression_ratio") == 0) {
            rc = bench_parse_double(name, value, 0.0, 1.0, 1, 0, &f->compression_ratio);
        } else if (strcmp(name, "read_random_exp_range") == 0) {
            rc = bench_parse_double(name, value, 0.0, 1e6, 0, 0, &f->read_random_exp_range);
        } else if (strcmp(name, "zipf_theta") == 0) {
            rc = bench_parse_double(name, value, 0.0, 1.0, 1, 1, &f->zipf_theta);
        } else if (strcmp(name, "key_dist") == 0) {
            if (strcmp(value, "uniform") == 0 || strcmp(value, "zipf") == 0) {
                f->key_dist = value[0] == 'z' ? KEY_DIST_ZIPF : KEY_DIST_UNIFORM;
            } else {
                fprintf(stderr, "experiments: bad value '%s' for --key_dist (uniform|zipf)\n",
                        value);
                rc = EXIT_USAGE;
            }
        } else if (lamina_options_set(&f->opts, name, value) != LAMINA_OK) {
            fprintf(stderr, "experiments: unknown flag or bad value '%s': %s\n", arg,
                    lamina_errmsg(NULL));
            rc = EXIT_USAGE;
        }
        if (rc != 0) return rc;
    }
    if (f->reads < 0) f->reads = f->num; /* --key_file may lower num: main lowers reads too */
    if (f->key_dist == KEY_DIST_ZIPF && f->read_random_exp_range != 0.0) {
        fprintf(stderr, "experiments: --key_dist=zipf and --read_random_exp_range are two "
                        "skews; give one\n");
        return EXIT_USAGE;
    }
    f->opts.create_if_missing = 1;
    return 0;
}

/* ---- read key choice ------------------------------------------------------------------ */

/* How read benchmarks draw key indexes in [0, num). The Zipfian generator is Gray et al.'s
 * (SIGMOD 1994) as YCSB implements it: rank r has probability proportional to 1 / (r+1)^theta,
 * drawn in O(1) from zeta(num, theta), computed once (O(num)). */
typedef struct bench_keys {
    int dist;
    uint64_t num;
    double exp_range;
    double theta, alpha, zetan, eta, half_pow_theta;
} bench_keys;

static void bench_keys_init(bench_keys *k, const bench_flags *f)
{
    *k = (bench_keys){.dist = f->key_dist,
                      .num = (uint64_t)f->num,
                      .exp_range = f->read_random_exp_range,
                      .theta = f->zipf_theta};
    if (k->dist != KEY_DIST_ZIPF) return;
    double zeta2 = 1.0 + pow(0.5, k->theta);
    for (uint64_t i = 1; i <= k->num; i++)
        k->zetan += 1.0 / pow((double)i, k->theta);
    k->alpha = 1.0 / (1.0 - k->theta);
    k->half_pow_theta = pow(0.5, k->theta);
    k->eta = (1.0 - pow(2.0 / (double)k->num, 1.0 - k->theta)) / (1.0 - zeta2 / k->zetan);
}

/* Rank r's key index: r times the prime 2^61 - 1, modulo num. A bijection of [0, num) (the
 * prime divides no smaller num), so every key keeps its rank's probability, while ranks next to
 * each other land far apart. YCSB scrambles with a hash instead, which merges ranks that
 * collide and leaves about a third of the keys never read. */
__extension__ typedef unsigned __int128 bench_u128; /* GCC and Clang; the product needs 128 bits */

static uint64_t bench_zipf_scatter(uint64_t rank, uint64_t num)
{
    const uint64_t prime = (UINT64_C(1) << 61) - 1;
    return (uint64_t)((bench_u128)rank * (prime % num) % num);
}

static uint64_t bench_key_index(const bench_keys *k, uint64_t *rng)
{
    if (k->dist == KEY_DIST_ZIPF) {
        double u = prng_unit(rng), uz = u * k->zetan;
        uint64_t rank;
        if (uz < 1.0)
            rank = 0;
        else if (uz < 1.0 + k->half_pow_theta)
            rank = 1;
        else
            rank = (uint64_t)((double)k->num * pow(k->eta * u - k->eta + 1.0, k->alpha));
        if (rank >= k->num) rank = k->num - 1;
        /* scattered, so the hot keys do not share a few blocks */
        return bench_zipf_scatter(rank, k->num);
    }
    if (k->exp_range == 0.0) return prng_below(rng, k->num);
    /* db_bench's GetRandomKey: exp(-U * range) * num concentrates near 0; the product with a
     * large odd constant (mod 2^64, then mod num) spreads the hot indexes over the keys. */
    const uint64_t big = UINT64_C(1) << 62;
    long double order = -(long double)(bench_rand(rng) % big) / (long double)big * k->exp_range;
    uint64_t n = (uint64_t)(expl(order) * (long double)k->num);
    return n * UINT64_C(0x5bd1e995) % k->num;
}

/* ---- keys, values, clocks ------------------------------------------------------------- */

/* The keys of --key_file: line i is key i (NULL n 0 without the flag). Read once at start. */
static struct {
    char *data;       /* the file, each line's newline turned into a NUL */
    const char **key; /* n keys */
    size_t *len;
    size_t n, max_len;
} bench_file_keys;

/* Loads path's lines as the keys; sets f->num to their count unless --num asked for fewer,
 * and f->key_size to the longest (for buffer sizes and the header). 0 or an exit status. */
static int bench_load_key_file(bench_flags *f, int num_given)
{
    FILE *in = fopen(f->key_file, "rb");
    if (!in) {
        fprintf(stderr, "experiments: --%s=%s: %s\n", f->key_file_flag, f->key_file,
                strerror(errno));
        return EXIT_USAGE;
    }
    size_t cap = 0, len = 0;
    char *data = NULL, chunk[1 << 16];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, in)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            char *p = realloc(data, cap);
            if (!p) break;
            data = p;
        }
        memcpy(data + len, chunk, got);
        len += got;
    }
    int bad = ferror(in) || (len && !data);
    fclose(in);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += data[i] == '\n';
    if (len && data[len - 1] != '\n') n++;
    const char **key = malloc((n ? n : 1) * sizeof *key);
    size_t *klen = malloc((n ? n : 1) * sizeof *klen);
    if (bad || !key || !klen || n == 0) {
        fprintf(stderr, "experiments: --%s=%s: %s\n", f->key_file_flag, f->key_file,
                n == 0 && !bad ? "no lines" : "cannot read it");
        free(data);
        free(key);
        free(klen);
        return bad ? EXIT_DBERR : EXIT_USAGE;
    }
    data[len] = '\n';
    size_t k = 0, max = 0;
    for (size_t at = 0; k < n && at <= len; k++) {
        char *nl = memchr(data + at, '\n', len + 1 - at);
        *nl = 0;
        key[k] = data + at;
        klen[k] = (size_t)(nl - (data + at));
        if (klen[k] > LAMINA_MAX_KEY_LEN) klen[k] = LAMINA_MAX_KEY_LEN;
        if (klen[k] > max) max = klen[k];
        at = (size_t)(nl - data) + 1;
    }
    bench_file_keys.data = data;
    bench_file_keys.key = key;
    bench_file_keys.len = klen;
    bench_file_keys.n = n;
    bench_file_keys.max_len = max;
    if (!num_given || (uint64_t)f->num > n) f->num = (int64_t)n;
    f->key_size = max ? (int64_t)max : 1;
    return 0;
}

/* db_bench's key: the index as 8 big-endian bytes, padded with '0' to key_size (shorter keys
 * keep the low-order bytes); with --key_file, line index of the file. Returns the key's
 * length (key holds key_size bytes). */
static size_t bench_make_key(char *key, int64_t key_size, uint64_t index)
{
    if (bench_file_keys.n) {
        size_t i = (size_t)(index % bench_file_keys.n), l = bench_file_keys.len[i];
        memcpy(key, bench_file_keys.key[i], l);
        return l;
    }
    bench_index_key(key, (size_t)key_size, index);
    return (size_t)key_size;
}

/* db_bench's value ring: pieces of 100 bytes, each a random printable prefix of
 * ratio * 100 bytes repeated, so zstd squeezes values to about ratio of their size. */
static char *bench_value_ring(uint64_t seed, double ratio)
{
    char *ring = malloc(VALUE_RING_BYTES);
    if (ring == NULL) return NULL;
    uint64_t st = seed ^ UINT64_C(0x5eed5eed);
    size_t raw = (size_t)(100 * ratio);
    if (raw == 0) raw = 1;
    for (size_t at = 0; at < VALUE_RING_BYTES; at += 100) {
        size_t piece = VALUE_RING_BYTES - at < 100 ? VALUE_RING_BYTES - at : 100;
        for (size_t i = 0; i < piece; i++)
            ring[at + i] = i < raw ? (char)(' ' + prng_below(&st, 95)) : ring[at + i % raw];
    }
    return ring;
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t bench_prefix_len(const char *key, size_t len, size_t prefix_size)
{
    if (prefix_size > 0) return prefix_size < len ? prefix_size : len;
    for (size_t i = len > 1 ? len - 1 : 0; i-- > 0;)
        if (key[i] == '/' || key[i] == '@' || key[i] == '-') return i + 1;
    return (len + 1) / 2;
}

/* ---- benchmarks ----------------------------------------------------------------------- */

typedef enum bench_kind {
    BENCH_FILLSEQ,
    BENCH_FILLRANDOM,
    BENCH_FILLSYNC,
    BENCH_OVERWRITE,
    BENCH_READRANDOM,
    BENCH_MULTIREADRANDOM,
    BENCH_READSEQ,
    BENCH_READREVERSE,
    BENCH_SEEKRANDOM,
    BENCH_SEEKPREFIX,
    BENCH_DELETERANDOM,
    BENCH_READWHILEWRITING,
    BENCH_MEMTABLE,
} bench_kind;

static const struct {
    const char *name;
    bench_kind kind;
    int fresh; /* starts from an empty database */
} bench_table[] = {
    {"fillseq", BENCH_FILLSEQ, 1},           {"fillrandom", BENCH_FILLRANDOM, 1},
    {"fillsync", BENCH_FILLSYNC, 1},         {"overwrite", BENCH_OVERWRITE, 0},
    {"readrandom", BENCH_READRANDOM, 0},     {"multireadrandom", BENCH_MULTIREADRANDOM, 0},
    {"readseq", BENCH_READSEQ, 0},           {"readreverse", BENCH_READREVERSE, 0},
    {"seekrandom", BENCH_SEEKRANDOM, 0},     {"seekprefix", BENCH_SEEKPREFIX, 0},
    {"deleterandom", BENCH_DELETERANDOM, 0}, {"readwhilewriting", BENCH_READWHILEWRITING, 0},
    {"memtable", BENCH_MEMTABLE, 0}, /* no database: a bare memtable (experiments_memtable.c) */
};

typedef struct bench_run {
    const bench_flags *f;
    const bench_keys *keys;
    lamina_db *db;
    const char *ring;
    bench_kind kind;
    uint64_t threads_before; /* threads of earlier benchmarks: each run draws its own keys */
    atomic_int readers_left; /* readwhilewriting: the writer stops when it reaches 0 */
    pthread_barrier_t start;
} bench_run;

typedef struct bench_thread {
    bench_run *run;
    int id;
    int is_writer; /* the writer of readwhilewriting, left out of the report */
    pthread_t tid;
    uint64_t rng;
    size_t ring_pos;
    uint64_t done, found, bytes;
    uint64_t entries; /* seekprefix: entries read under the prefixes */
    double start, finish;
    uint64_t *hist;
    int rc;
    char msg[512];
} bench_thread;

static const char *bench_value(bench_thread *t, size_t len)
{
    if (t->ring_pos + len > VALUE_RING_BYTES) t->ring_pos = 0;
    const char *v = t->run->ring + t->ring_pos;
    t->ring_pos += len;
    return v;
}

static void bench_hist_add(uint64_t *hist, double seconds)
{
    uint64_t ns = seconds > 0 ? (uint64_t)(seconds * 1e9) : 0;
    int idx;
    if (ns < HIST_SUB) {
        idx = (int)ns;
    } else {
        int lg = 63 - __builtin_clzll(ns);
        idx = lg * HIST_SUB + (int)((ns >> (lg - 3)) & (HIST_SUB - 1));
        if (idx >= HIST_BUCKETS) idx = HIST_BUCKETS - 1;
    }
    hist[idx]++;
}

/* The lower edge of a histogram bucket, in nanoseconds. */
static double bench_hist_floor(int idx)
{
    if (idx < HIST_SUB) return idx;
    int lg = idx / HIST_SUB, sub = idx % HIST_SUB;
    return (double)(UINT64_C(1) << lg) * (1.0 + sub / (double)HIST_SUB);
}

static int bench_fail(bench_thread *t, int rc)
{
    t->rc = rc;
    snprintf(t->msg, sizeof t->msg, "%s: %s", lamina_strerror(rc), lamina_errmsg(t->run->db));
    return rc;
}

/* One operation of a point workload; returns 0 or an error code (recorded). */
static int bench_point_op(bench_thread *t, char *key, char *vbuf, size_t vcap)
{
    const bench_flags *f = t->run->f;
    lamina_db *db = t->run->db;
    size_t ks = (size_t)f->key_size, vs = (size_t)f->value_size;
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    wo.sync = f->sync || t->run->kind == BENCH_FILLSYNC;
    int rc = LAMINA_OK;
    switch (t->is_writer ? BENCH_OVERWRITE : t->run->kind) {
    case BENCH_FILLSEQ:
        ks = bench_make_key(key, f->key_size, t->done);
        rc = lamina_put(db, &wo, key, ks, bench_value(t, vs), vs);
        t->bytes += ks + vs;
        break;
    case BENCH_FILLRANDOM:
    case BENCH_FILLSYNC:
    case BENCH_OVERWRITE:
        ks = bench_make_key(key, f->key_size, prng_below(&t->rng, (uint64_t)f->num));
        rc = lamina_put(db, &wo, key, ks, bench_value(t, vs), vs);
        t->bytes += ks + vs;
        break;
    case BENCH_DELETERANDOM:
        ks = bench_make_key(key, f->key_size, prng_below(&t->rng, (uint64_t)f->num));
        rc = lamina_delete(db, &wo, key, ks);
        break;
    default: { /* readrandom and the readers of readwhilewriting */
        size_t vlen = 0;
        ks = bench_make_key(key, f->key_size, bench_key_index(t->run->keys, &t->rng));
        rc = lamina_get_into(db, NULL, key, ks, vbuf, vcap, &vlen);
        if (rc == LAMINA_OK) {
            t->found++;
            t->bytes += ks + vlen;
        } else if (rc == LAMINA_NOTFOUND) {
            rc = LAMINA_OK;
        }
        break;
    }
    }
    return rc == LAMINA_OK ? 0 : bench_fail(t, rc);
}

/* readseq, readreverse and seekrandom: iterator workloads. */
static void bench_iter_ops(bench_thread *t, uint64_t ops, char *key)
{
    const bench_flags *f = t->run->f;
    bench_kind kind = t->run->kind;
    lamina_iter *it = NULL;
    int rc = lamina_iter_create(t->run->db, NULL, &it);
    if (rc != LAMINA_OK) {
        bench_fail(t, rc);
        return;
    }
    if (kind == BENCH_READSEQ)
        rc = lamina_iter_seek_to_first(it);
    else if (kind == BENCH_READREVERSE)
        rc = lamina_iter_seek_to_last(it);
    while (rc == LAMINA_OK && t->done < ops) {
        double t0 = t->hist ? bench_now() : 0.0;
        size_t kn, vn;
        if (kind == BENCH_SEEKRANDOM) {
            size_t ks = bench_make_key(key, f->key_size, bench_key_index(t->run->keys, &t->rng));
            rc = lamina_iter_seek(it, key, ks);
            if (rc == LAMINA_OK && lamina_iter_valid(it)) {
                const void *k = lamina_iter_key(it, &kn);
                if (kn == ks && memcmp(k, key, kn) == 0) t->found++;
            }
            for (int64_t j = 0; rc == LAMINA_OK && lamina_iter_valid(it) && j < f->seek_nexts;
                 j++) {
                lamina_iter_key(it, &kn);
                lamina_iter_value(it, &vn);
                t->bytes += kn + vn;
                rc = lamina_iter_next(it);
            }
        } else {
            if (!lamina_iter_valid(it)) break;
            lamina_iter_key(it, &kn);
            lamina_iter_value(it, &vn);
            t->bytes += kn + vn;
            rc = kind == BENCH_READSEQ ? lamina_iter_next(it) : lamina_iter_prev(it);
        }
        t->done++;
        if (t->hist) bench_hist_add(t->hist, bench_now() - t0);
    }
    if (rc == LAMINA_OK) rc = lamina_iter_status(it);
    if (rc != LAMINA_OK) bench_fail(t, rc);
    lamina_iter_destroy(it);
}

/* seekprefix: per op, the prefix of a random key (bench_prefix_len), an iterator limited to it
 * by lamina_read_options.prefix, a seek to the prefix and the entries under it (all, or the
 * first --seek_nexts). The loop also stops at the first key outside the prefix itself, so the
 * count is the same whether or not the engine applies the read option. found counts the scans
 * that read at least one entry. */
static void bench_prefix_ops(bench_thread *t, uint64_t ops, char *key)
{
    const bench_flags *f = t->run->f;
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    int rc = LAMINA_OK;
    while (rc == LAMINA_OK && t->done < ops) {
        double t0 = t->hist ? bench_now() : 0.0;
        size_t ks = bench_make_key(key, f->key_size, bench_key_index(t->run->keys, &t->rng));
        size_t plen = bench_prefix_len(key, ks, (size_t)f->prefix_size);
        ro.prefix = key;
        ro.prefix_len = plen;
        lamina_iter *it = NULL;
        if ((rc = lamina_iter_create(t->run->db, &ro, &it)) != LAMINA_OK) break;
        rc = lamina_iter_seek(it, key, plen);
        uint64_t n = 0;
        while (rc == LAMINA_OK && lamina_iter_valid(it) &&
               (f->seek_nexts == 0 || n < (uint64_t)f->seek_nexts)) {
            size_t kn, vn;
            const void *k = lamina_iter_key(it, &kn);
            if (kn < plen || memcmp(k, key, plen) != 0) break;
            lamina_iter_value(it, &vn);
            t->bytes += kn + vn;
            n++;
            rc = lamina_iter_next(it);
        }
        if (rc == LAMINA_OK) rc = lamina_iter_status(it);
        lamina_iter_destroy(it);
        t->entries += n;
        t->found += n > 0;
        t->done++;
        if (t->hist) bench_hist_add(t->hist, bench_now() - t0);
    }
    if (rc != LAMINA_OK) bench_fail(t, rc);
}

/* multireadrandom: ops keys looked up batch_size at a time with lamina_multi_get (the last
 * batch cut to what is left); one histogram sample per batch. */
static void bench_multiread_ops(bench_thread *t, uint64_t ops)
{
    const bench_flags *f = t->run->f;
    size_t batch = (size_t)f->batch_size, ks = (size_t)f->key_size;
    char *keybuf = malloc(batch * ks);
    const void **keys = malloc(batch * sizeof *keys);
    size_t *key_lens = malloc(batch * sizeof *key_lens);
    void **values = calloc(batch, sizeof *values);
    size_t *value_lens = malloc(batch * sizeof *value_lens);
    int *statuses = malloc(batch * sizeof *statuses);
    if (!keybuf || !keys || !key_lens || !values || !value_lens || !statuses) {
        t->rc = LAMINA_ENOMEM;
        snprintf(t->msg, sizeof t->msg, "out of memory for a batch of %zu keys", batch);
        goto out;
    }
    for (size_t i = 0; i < batch; i++) {
        keys[i] = keybuf + i * ks;
        key_lens[i] = ks;
    }
    while (t->done < ops) {
        size_t n = ops - t->done < batch ? (size_t)(ops - t->done) : batch;
        for (size_t i = 0; i < n; i++)
            key_lens[i] = bench_make_key(keybuf + i * ks, f->key_size,
                                         bench_key_index(t->run->keys, &t->rng));
        double t0 = t->hist ? bench_now() : 0.0;
        int rc =
            lamina_multi_get(t->run->db, NULL, n, keys, key_lens, values, value_lens, statuses);
        if (t->hist) bench_hist_add(t->hist, bench_now() - t0);
        for (size_t i = 0; i < n; i++) {
            if (statuses[i] == LAMINA_OK) {
                t->found++;
                t->bytes += key_lens[i] + value_lens[i];
            }
            lamina_free(values[i]);
            values[i] = NULL;
        }
        if (rc != LAMINA_OK) {
            bench_fail(t, rc);
            break;
        }
        t->done += n;
    }
out:
    free(keybuf);
    free(keys);
    free(key_lens);
    free(values);
    free(value_lens);
    free(statuses);
}

static void *bench_thread_main(void *arg)
{
    bench_thread *t = arg;
    bench_run *run = t->run;
    const bench_flags *f = run->f;
    size_t vcap = (size_t)f->value_size + 1;
    char *key = malloc((size_t)f->key_size), *vbuf = malloc(vcap);
    uint64_t ops;
    switch (run->kind) {
    case BENCH_FILLSYNC:
        ops = (uint64_t)(f->num / 1000 > 0 ? f->num / 1000 : 1);
        break;
    case BENCH_READRANDOM:
    case BENCH_MULTIREADRANDOM:
    case BENCH_READSEQ:
    case BENCH_READREVERSE:
    case BENCH_SEEKRANDOM:
    case BENCH_SEEKPREFIX:
    case BENCH_READWHILEWRITING:
        ops = (uint64_t)f->reads;
        break;
    default:
        ops = (uint64_t)f->num;
        break;
    }
    pthread_barrier_wait(&run->start);
    t->start = bench_now();
    if (key == NULL || vbuf == NULL) {
        t->rc = LAMINA_ENOMEM;
        snprintf(t->msg, sizeof t->msg, "out of memory");
    } else if (run->kind == BENCH_READSEQ || run->kind == BENCH_READREVERSE ||
               run->kind == BENCH_SEEKRANDOM) {
        bench_iter_ops(t, ops, key);
    } else if (run->kind == BENCH_SEEKPREFIX) {
        bench_prefix_ops(t, ops, key);
    } else if (run->kind == BENCH_MULTIREADRANDOM) {
        bench_multiread_ops(t, ops);
    } else {
        while (t->is_writer ? atomic_load(&run->readers_left) > 0 : t->done < ops) {
            double t0 = t->hist ? bench_now() : 0.0;
            if (bench_point_op(t, key, vbuf, vcap) != 0) break;
            t->done++;
            if (t->hist) bench_hist_add(t->hist, bench_now() - t0);
        }
    }
    t->finish = bench_now();
    if (!t->is_writer) atomic_fetch_sub(&run->readers_left, 1);
    free(key);
    free(vbuf);
    return NULL;
}

void bench_print_line(const char *name, double busy, double elapsed, uint64_t ops,
                      const char *extra)
{
    double ops_d = ops > 0 ? (double)ops : 1.0;
    if (elapsed < 1e-9) elapsed = 1e-9;
    /* db_bench 7.8's line: "name : X micros/op Y ops/sec S seconds N operations; ..." */
    printf("%-12s : %11.3f micros/op %ld ops/sec %.3f seconds %" PRIu64 " operations;%s%s\n", name,
           busy * 1e6 / ops_d, (long)((double)ops / elapsed), elapsed, ops, extra[0] ? " " : "",
           extra);
}

/* Prints the report line in db_bench's format and, with --histogram, the percentiles. */
static void bench_report(const char *name, bench_kind kind, bench_thread *ts, int n, int hist)
{
    uint64_t done = 0, found = 0, bytes = 0, entries = 0;
    double seconds = 0.0, start = 0.0, finish = 0.0;
    for (int i = 0; i < n; i++) {
        if (ts[i].is_writer) continue;
        done += ts[i].done;
        found += ts[i].found;
        bytes += ts[i].bytes;
        entries += ts[i].entries;
        seconds += ts[i].finish - ts[i].start;
        if (start == 0.0 || ts[i].start < start) start = ts[i].start;
        if (ts[i].finish > finish) finish = ts[i].finish;
    }
    if (done < 1) done = 1;
    double elapsed = finish - start > 1e-9 ? finish - start : 1e-9;
    char extra[160] = "";
    size_t at = 0;
    if (bytes > 0)
        at += (size_t)snprintf(extra, sizeof extra, "%6.1f MB/s",
                               (double)bytes / 1048576.0 / elapsed);
    if (kind == BENCH_READRANDOM || kind == BENCH_MULTIREADRANDOM || kind == BENCH_SEEKRANDOM ||
        kind == BENCH_SEEKPREFIX || kind == BENCH_READWHILEWRITING)
        at += (size_t)snprintf(extra + at, sizeof extra - at,
                               "%s(%" PRIu64 " of %" PRIu64 " found)", at ? " " : "", found, done);
    if (kind == BENCH_SEEKPREFIX)
        snprintf(extra + at, sizeof extra - at, " %.2f entries/scan",
                 (double)entries / (double)done);
    bench_print_line(name, seconds, elapsed, done, extra);
    if (!hist) return;
    uint64_t total = 0, sum[HIST_BUCKETS] = {0};
    for (int i = 0; i < n; i++)
        for (int b = 0; b < HIST_BUCKETS && !ts[i].is_writer; b++) {
            sum[b] += ts[i].hist[b];
            total += ts[i].hist[b];
        }
    static const double pcts[] = {50.0, 75.0, 99.0, 99.9, 99.99};
    printf("Microseconds per op:\nCount: %" PRIu64 " Average: %.4f\nPercentiles:", total,
           seconds * 1e6 / (double)done);
    for (size_t p = 0; p < sizeof pcts / sizeof pcts[0]; p++) {
        uint64_t want = (uint64_t)((double)total * pcts[p] / 100.0), seen = 0;
        int b = 0;
        while (b < HIST_BUCKETS - 1 && seen + sum[b] < want)
            seen += sum[b++];
        printf(" P%g: %.2f", pcts[p], bench_hist_floor(b) / 1000.0);
    }
    printf("\n");
}

/* The amplification figures after a benchmark, through the public properties. */
static void bench_stats_line(lamina_db *db)
{
    static const char *const names[] = {"lamina.write-amp", "lamina.space-amp",
                                        "lamina.stall-micros", "lamina.num-levels",
                                        "lamina.total-runs"};
    char *text[5] = {0};
    for (int i = 0; i < 5; i++) {
        if (lamina_property(db, names[i], &text[i]) != LAMINA_OK)
            text[i] = NULL;
        else
            text[i][strcspn(text[i], "\n")] = '\0';
    }
    double stall = text[2] ? strtod(text[2], NULL) / 1e6 : 0.0;
    printf("%-12s : w_amp=%s space_amp=%s stall_seconds=%.3f levels=%s runs=%s\n", "stats",
           text[0] ? text[0] : "?", text[1] ? text[1] : "?", stall, text[3] ? text[3] : "?",
           text[4] ? text[4] : "?");
    for (int i = 0; i < 5; i++)
        lamina_free(text[i]);
    fflush(stdout);
}

/* The block cache's hit and miss counts so far (0 when a property cannot be read). */
static void bench_cache_counts(lamina_db *db, uint64_t *hits, uint64_t *misses)
{
    if (lamina_property_int(db, "lamina.cache-hits", hits) != LAMINA_OK) *hits = 0;
    if (lamina_property_int(db, "lamina.cache-misses", misses) != LAMINA_OK) *misses = 0;
}

/* After a read benchmark: the block cache's hits and misses during it (data, index and filter
 * blocks), as db_bench's rocksdb.block.cache.hit / .miss counters. */
static void bench_cache_line(lamina_db *db, uint64_t hits0, uint64_t misses0)
{
    uint64_t hits, misses;
    bench_cache_counts(db, &hits, &misses);
    hits -= hits < hits0 ? hits : hits0;
    misses -= misses < misses0 ? misses : misses0;
    double rate = hits + misses ? (double)hits / (double)(hits + misses) : 0.0;
    printf("%-12s : hits=%" PRIu64 " misses=%" PRIu64 " hit_rate=%.4f\n", "cache", hits, misses,
           rate);
    fflush(stdout);
}

static int bench_reads(bench_kind kind)
{
    return kind == BENCH_READRANDOM || kind == BENCH_MULTIREADRANDOM || kind == BENCH_READSEQ ||
           kind == BENCH_READREVERSE || kind == BENCH_SEEKRANDOM || kind == BENCH_SEEKPREFIX ||
           kind == BENCH_READWHILEWRITING;
}

/* Runs one benchmark on the open database; 0 or EXIT_DBERR (reported). */
static int bench_run_one(bench_run *run, const char *name)
{
    const bench_flags *f = run->f;
    int readers = (int)f->threads;
    int n = readers + (run->kind == BENCH_READWHILEWRITING);
    bench_thread *ts = calloc((size_t)n, sizeof *ts);
    int status = 0, started = 0;
    if (ts == NULL) goto nomem;
    for (int i = 0; i < n; i++)
        if (f->histogram && (ts[i].hist = calloc(HIST_BUCKETS, sizeof *ts[i].hist)) == NULL)
            goto nomem;
    atomic_store(&run->readers_left, readers);
    if (pthread_barrier_init(&run->start, NULL, (unsigned)n) != 0) goto nomem;
    for (int i = 0; i < n; i++) {
        bench_thread *t = &ts[i];
        t->run = run;
        t->id = i;
        t->is_writer = i == readers;
        /* as db_bench: seed + a thread number never used before, so readrandom does not
         * replay fillrandom's keys */
        t->rng = f->seed + run->threads_before + (uint64_t)i;
        t->ring_pos = (size_t)i * 4099u % VALUE_RING_BYTES;
    }
    uint64_t hits0 = 0, misses0 = 0;
    bench_cache_counts(run->db, &hits0, &misses0);
    for (; started < n; started++)
        if (pthread_create(&ts[started].tid, NULL, bench_thread_main, &ts[started]) != 0) break;
    if (started < n) {
        /* release the threads already waiting at the barrier: abandon this run */
        fprintf(stderr, "experiments: cannot start %d threads\n", n);
        exit(EXIT_DBERR);
    }
    for (int i = 0; i < n; i++)
        pthread_join(ts[i].tid, NULL);
    pthread_barrier_destroy(&run->start);
    run->threads_before += (uint64_t)n;
    for (int i = 0; i < n; i++)
        if (ts[i].rc != 0 && status == 0) {
            fprintf(stderr, "experiments: %s: %s\n", name, ts[i].msg);
            status = EXIT_DBERR;
        }
    if (status == 0) {
        bench_report(name, run->kind, ts, n, f->histogram);
        bench_stats_line(run->db);
        if (bench_reads(run->kind)) bench_cache_line(run->db, hits0, misses0);
    }
    for (int i = 0; i < n; i++)
        free(ts[i].hist);
    free(ts);
    return status;
nomem:
    for (int i = 0; ts != NULL && i < n; i++)
        free(ts[i].hist);
    free(ts);
    fprintf(stderr, "experiments: out of memory\n");
    return EXIT_DBERR;
}

/* The header's first lines, printed before any benchmark. */
static void bench_header_common(void)
{
    time_t now = time(NULL);
    char date[64];
    struct tm tm;
    strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", localtime_r(&now, &tm));
    printf("Lamina:     version %s\n", lamina_version());
    printf("Date:       %s\n", date);
    printf("CPU:        %ld cores\n", sysconf(_SC_NPROCESSORS_ONLN));
}

/* The rest of the header, when a benchmark runs on a database. */
static void bench_header(const bench_flags *f)
{
    const lamina_option_desc *comp = NULL;
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        if (d != NULL && strcmp(d->name, "compression_type") == 0) comp = d;
    }
    int zstd = f->opts.compression_type == LAMINA_COMPRESSION_ZSTD;
    double ratio = zstd ? f->compression_ratio : 1.0;
    double raw = (double)(f->key_size + f->value_size) * (double)f->num / 1048576.0;
    double file =
        ((double)f->key_size + (double)f->value_size * ratio) * (double)f->num / 1048576.0;
    printf("DB path:    [%s]\n", f->db);
    if (f->key_file)
        printf("Keys:       %zu lines of %s, up to %" PRId64 " bytes\n", bench_file_keys.n,
               f->key_file, f->key_size);
    else
        printf("Keys:       %" PRId64 " bytes each\n", f->key_size);
    printf("Values:     %" PRId64 " bytes each (%" PRId64 " bytes after compression)\n",
           f->value_size, (int64_t)((double)f->value_size * ratio + 0.5));
    printf("Entries:    %" PRId64 "\n", f->num);
    printf("RawSize:    %.1f MB (estimated)\n", raw);
    printf("FileSize:   %.1f MB (estimated)\n", file);
    printf("Compression: %s\n", comp && zstd ? "zstd" : "none");
    printf("Options:    write_buffer_size=%" PRId64 " bloom_bits=%" PRId64 " cache_size=%" PRId64
           " compaction_policy=%d size_ratio=%" PRId64 " index_type=%d format_version=%" PRId64
           " use_direct_reads=%d use_io_uring=%d\n",
           f->opts.write_buffer_size, f->opts.bloom_bits, f->opts.cache_size,
           f->opts.compaction_policy, f->opts.size_ratio, f->opts.index_type,
           f->opts.format_version, f->opts.use_direct_reads, f->opts.use_io_uring);
    if (f->key_dist == KEY_DIST_ZIPF)
        printf("ReadKeys:   zipf theta=%g (scrambled)\n", f->zipf_theta);
    else if (f->read_random_exp_range != 0.0)
        printf("ReadKeys:   read_random_exp_range=%g\n", f->read_random_exp_range);
    else
        printf("ReadKeys:   uniform\n");
    printf("------------------------------------------------\n");
    fflush(stdout);
}

static int bench_db_error(const char *what, int rc)
{
    fprintf(stderr, "experiments: %s: %s: %s\n", what, lamina_strerror(rc), lamina_errmsg(NULL));
    return EXIT_DBERR;
}

/* The memtable benchmark: the keys of --key_file (the first --num of its lines), or --num keys
 * made as db_bench makes them (in index order, which is sorted). */
static int bench_run_memtable(const bench_flags *f)
{
    size_t n = (size_t)f->num;
    const char **key = malloc(n * sizeof *key);
    size_t *len = malloc(n * sizeof *len);
    char *made = bench_file_keys.n ? NULL : malloc(n * (size_t)f->key_size);
    int status = EXIT_DBERR;
    if (key == NULL || len == NULL || (bench_file_keys.n == 0 && made == NULL)) {
        fprintf(stderr, "experiments: memtable: out of memory for %zu keys\n", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (bench_file_keys.n) {
            key[i] = bench_file_keys.key[i];
            len[i] = bench_file_keys.len[i];
        } else {
            char *k = made + i * (size_t)f->key_size;
            len[i] = bench_make_key(k, f->key_size, i);
            key[i] = k;
        }
    }
    char source[600];
    if (f->key_file)
        snprintf(source, sizeof source, "lines of %s", f->key_file);
    else
        snprintf(source, sizeof source, "%" PRId64 " bytes each, generated", f->key_size);
    int art = f->opts.memtable_type == LAMINA_MEMTABLE_ART;
    uint64_t scans = (uint64_t)(f->reads_given ? f->reads : (n < 10000 ? (int64_t)n : 10000));
    bench_memtable_config c = {.keys = {.key = key, .len = len, .n = n},
                               .source = source,
                               .art = art,
                               .shuffle = f->shuffle,
                               .seed = f->seed,
                               .prefix_size = (size_t)f->prefix_size,
                               .scans = scans};
    status = bench_memtable(&c);
out:
    free(key);
    free(len);
    free(made);
    return status;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "tune") == 0) return bench_tune(argc, argv);
    if (argc > 1 && strcmp(argv[1], "growth") == 0) return bench_growth(argc, argv);
    bench_flags f;
    int status = bench_parse_flags(argc, argv, &f);
    if (status != 0) return status < 0 ? EXIT_OK : status;
    if (f.key_file) {
        if ((status = bench_load_key_file(&f, f.num_given)) != 0) return status;
        if (f.reads > f.num && !f.reads_given) f.reads = f.num;
    }
    /* every name is checked before anything runs */
    char *list = strdup(f.benchmarks);
    if (list == NULL) return EXIT_DBERR;
    size_t nnames = 0, ndb = 0;
    for (char *save = NULL, *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < sizeof bench_table / sizeof bench_table[0] && strcmp(bench_table[i].name, s))
            i++;
        if (i == sizeof bench_table / sizeof bench_table[0]) {
            fprintf(stderr, "experiments: unknown benchmark '%s'\n", s);
            free(list);
            return EXIT_USAGE;
        }
        nnames++;
        ndb += bench_table[i].kind != BENCH_MEMTABLE;
    }
    free(list);
    if (nnames == 0) {
        fprintf(stderr, "experiments: --benchmarks names no benchmark\n");
        return EXIT_USAGE;
    }
    bench_keys keys;
    bench_keys_init(&keys, &f);
    bench_run run = {.f = &f, .keys = &keys, .ring = bench_value_ring(f.seed, f.compression_ratio)};
    if (run.ring == NULL) {
        fprintf(stderr, "experiments: out of memory\n");
        return EXIT_DBERR;
    }
    bench_header_common();
    if (ndb > 0)
        bench_header(&f);
    else
        fflush(stdout);
    list = strdup(f.benchmarks);
    int rc;
    for (char *save = NULL, *s = list ? strtok_r(list, ",", &save) : NULL; s && status == 0;
         s = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (strcmp(bench_table[i].name, s) != 0)
            i++;
        if (bench_table[i].kind == BENCH_MEMTABLE) {
            status = bench_run_memtable(&f);
            continue;
        }
        if (bench_table[i].fresh && !f.use_existing_db) {
            if (run.db != NULL && (rc = lamina_close(run.db)) != LAMINA_OK) {
                run.db = NULL;
                status = bench_db_error("close", rc);
                break;
            }
            run.db = NULL;
            if ((rc = lamina_destroy(f.db)) != LAMINA_OK) {
                status = bench_db_error("destroy", rc);
                break;
            }
        }
        if (run.db == NULL && (rc = lamina_open(f.db, &f.opts, &run.db)) != LAMINA_OK) {
            run.db = NULL;
            status = bench_db_error("open", rc);
            break;
        }
        run.kind = bench_table[i].kind;
        status = bench_run_one(&run, s);
    }
    if (run.db != NULL && (rc = lamina_close(run.db)) != LAMINA_OK && status == 0)
        status = bench_db_error("close", rc);
    free(list);
    free((void *)run.ring);
    free(bench_file_keys.data);
    free(bench_file_keys.key);
    free(bench_file_keys.len);
    return status;
}
