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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "experiments.h"
#include "lamina.h"

/* Bytes of the ring of value data, as db_bench's RandomGenerator (1 MiB). */
#define VALUE_RING_BYTES (1u << 20)
/* Latency samples kept for exact percentiles, over all threads of a benchmark (64 MiB). */
#define HIST_MAX_SAMPLES (UINT64_C(1) << 23)

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

/* Every numeric flag is an int64_t or a double field named as the flag (bench_num_flags). */
typedef struct bench_flags {
    const char *benchmarks;
    const char *db;
    const char *key_file;
    const char *key_file_flag; /* its spelling on the command line: key_file or keys_file */
    const char *report_file;
    int64_t num, reads, writes, key_size, value_size, seek_nexts, threads, batch_size, prefix_size;
    int64_t seed, use_existing_db, sync, histogram, shuffle, disable_wal, readwritepercent;
    int64_t duration, benchmark_write_rate_limit, report_interval_seconds;
    int key_dist;
    int num_given, reads_given, writes_given, batch_size_given; /* on the command line */
    uint64_t given; /* bit i: bench_num_flags[i] was on the command line */
    double compression_ratio, read_random_exp_range, zipf_theta;
    lamina_options opts;
} bench_flags;

/* A numeric flag and its allowed range: integers in [lo, hi], or numbers in [dlo, dhi] with
 * either end open (open_lo, open_hi). One table, so every flag is checked the same way. */
typedef struct bench_num_flag {
    const char *name;
    size_t offset;
    int real;
    int64_t lo, hi;
    double dlo, dhi;
    int open_lo, open_hi;
} bench_num_flag;

#define FLAG_INT(field, lo, hi)                                                                    \
    {                                                                                              \
#field, offsetof(bench_flags, field), 0, lo, hi, 0.0, 0.0, 0, 0                            \
    }
#define FLAG_REAL(field, lo, hi, open_lo, open_hi)                                                 \
    {                                                                                              \
#field, offsetof(bench_flags, field), 1, 0, 0, lo, hi, open_lo, open_hi                    \
    }

static const bench_num_flag bench_num_flags[] = {
    FLAG_INT(num, 1, INT64_MAX),
    FLAG_INT(reads, -1, INT64_MAX),
    FLAG_INT(writes, -1, INT64_MAX),
    FLAG_INT(key_size, 1, LAMINA_MAX_KEY_LEN),
    FLAG_INT(value_size, 0, VALUE_RING_BYTES / 2),
    FLAG_INT(seek_nexts, 0, INT64_MAX),
    FLAG_INT(prefix_size, 0, LAMINA_MAX_KEY_LEN),
    FLAG_INT(threads, 1, 1024),
    FLAG_INT(seed, 0, INT64_MAX),
    FLAG_INT(batch_size, 1, 1 << 20),
    FLAG_INT(use_existing_db, 0, 1),
    FLAG_INT(sync, 0, 1),
    FLAG_INT(disable_wal, 0, 1),
    FLAG_INT(histogram, 0, 1),
    FLAG_INT(shuffle, 0, 1),
    FLAG_INT(readwritepercent, 0, 100),
    FLAG_INT(duration, 0, INT32_MAX),
    FLAG_INT(benchmark_write_rate_limit, 0, INT64_MAX),
    FLAG_INT(report_interval_seconds, 0, 86400),
    FLAG_REAL(compression_ratio, 0.0, 1.0, 1, 0),
    FLAG_REAL(read_random_exp_range, 0.0, 1e6, 0, 0),
    FLAG_REAL(zipf_theta, 0.0, 1.0, 1, 1),
};
#define BENCH_NUM_FLAGS (sizeof bench_num_flags / sizeof bench_num_flags[0])

static const char bench_help[] =
    "Usage: experiments [--flag=value ...]\n"
    "       experiments tune|growth [--flag=value ...]   (experiments tune --help)\n"
    "       experiments plot --report_file=PATH [--out=DIR]\n"
    "Benchmarks in db_bench's language; each prints one db_bench report line and a stats line\n"
    "(read benchmarks also a cache line: block-cache hits and misses during the benchmark).\n"
    "\n"
    "  --benchmarks=a,b,...   fillseq fillrandom fillsync overwrite readrandom\n"
    "                         multireadrandom readseq readreverse seekrandom seekprefix\n"
    "                         deleterandom readwhilewriting readrandomwriterandom memtable\n"
    "                         (default fillseq,fillrandom,readrandom)\n"
    "                         seekprefix: per op, the prefix of a random key (see\n"
    "                         --prefix_size), an iterator with read option prefix, a seek to\n"
    "                         it and every entry under it (at most --seek_nexts if given);\n"
    "                         reports entries per scan\n"
    "                         readrandomwriterandom: per thread, of every 100 operations\n"
    "                         --readwritepercent are reads, then the rest writes\n"
    "                         memtable: no database; the keys (every line of --keys_file, or\n"
    "                         --num generated keys) into a bare memtable of --memtable_type:\n"
    "                         inserts, lookups of present and of absent keys (each key with a\n"
    "                         byte 0x00 appended), a full scan, --reads prefix scans (default\n"
    "                         min(keys, 10000)) and memtable_overhead in bytes per key beyond\n"
    "                         the keys and 8-byte values; repeated keys are inserted again as\n"
    "                         newer versions\n"
    "  --num=N                keys (default 1000000)\n"
    "  --reads=N              read operations per thread (default -1: num)\n"
    "  --writes=N             write operations per thread of fillseq, fillrandom, overwrite,\n"
    "                         deleterandom (fillsync: N/1000) (default -1: num)\n"
    "  --duration=S           run each benchmark S seconds instead of its operation count\n"
    "                         (db_bench; fillseq, readseq, readreverse keep their count;\n"
    "                         default 0: the count)\n"
    "  --key_size=N           bytes per key, 1..65535 (default 16)\n";

/* The rest of the help (one string would pass C's 4095-byte guarantee). */
static const char bench_help_more[] =
    "  --key_file=PATH        use the file's lines as the keys (a real key set, e.g.\n"
    "                         ../shared/data/paths-1m.txt): key i is line i, --num defaults to\n"
    "                         the line count and --key_size is ignored (--keys_file: the same)\n"
    "  --shuffle=0|1          memtable: insert in a seeded random order (default: file order)\n"
    "  --prefix_size=N        seekprefix and memtable: a prefix is a key's first N bytes;\n"
    "                         0 (default): the key up to its last '/', '@' or '-', else its\n"
    "                         first half\n"
    "  --value_size=N         bytes per value, 0..524288 (default 100)\n"
    "  --compression_ratio=R  values compress to this fraction (default 0.5)\n"
    "  --db=DIR               database directory (default /tmp/laminabench-UID)\n"
    "  --use_existing_db=0|1  fill* keep the existing database instead of destroying it\n"
    "  --seed=N               seed of the key order and the value data (default 301)\n"
    "  --seek_nexts=N         nexts after each seek of seekrandom (default 0); entries read\n"
    "                         per scan of seekprefix (default 0: all under the prefix)\n"
    "  --batch_size=N         keys per lamina_multi_get of multireadrandom (default 8); when\n"
    "                         given, also puts (deletes) per lamina_write batch of fillseq,\n"
    "                         fillrandom, fillsync, overwrite, deleterandom (default 1)\n"
    "  --read_random_exp_range=R  skew the read keys as db_bench does: index exp(-U*R)*num,\n"
    "                         scattered by a large multiplier (default 0: uniform)\n"
    "  --key_dist=uniform|zipf  read keys of readrandom, multireadrandom, seekrandom,\n"
    "                         readrandomwriterandom and the readers of readwhilewriting:\n"
    "                         uniform, or Zipfian ranks (Gray et al. 1994, as YCSB) spread over\n"
    "                         the keys by a bijection (default uniform)\n"
    "  --zipf_theta=T         Zipf exponent, 0 < T < 1 (default 0.99, YCSB's)\n"
    "  --readwritepercent=P   readrandomwriterandom: P% reads, the rest writes (default 90)\n"
    "  --sync=0|1             sync every write (fillsync always does)\n"
    "  --disable_wal=0|1      write without the WAL (lost on a crash before their flush)\n"
    "  --benchmark_write_rate_limit=B  pace all writers together to B bytes (keys and\n"
    "                         values) per second (default 0: unlimited)\n"
    "  --threads=N            threads per benchmark; readers of readwhilewriting (default 1)\n"
    "  --histogram=0|1        print latency count, min, max, average, standard deviation and\n"
    "                         percentiles per benchmark (exact up to 8388608 samples)\n"
    "  --report_interval_seconds=S  every S seconds append a row to --report_file (default 0:\n"
    "                         none)\n"
    "  --report_file=PATH     the CSV of the interval rows (default report.csv):\n"
    "                         " BENCH_REPORT_HEADER "\n"
    "  --version              experiments' and liblamina's versions\n"
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

int bench_flag_real(const char *name, const char *value, double lo, double hi, int open_lo,
                    int open_hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno == 0 && end != value && *end == '\0' && (open_lo ? v > lo : v >= lo) &&
        (open_hi ? v < hi : v <= hi)) {
        *out = v;
        return 0;
    }
    fprintf(stderr, "experiments: bad value '%s' for --%s (a number in %c%g, %g%c)\n", value, name,
            open_lo ? '(' : '[', lo, hi, open_hi ? ')' : ']');
    return EXIT_USAGE;
}

int bench_flag_int(const char *name, const char *value, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno == 0 && end != value && *end == '\0' && v >= lo && v <= hi) {
        *out = v;
        return 0;
    }
    if (hi == INT64_MAX)
        fprintf(stderr,
                "experiments: bad value '%s' for --%s (an integer >= %" PRId64 " is expected)\n",
                value, name, lo);
    else
        fprintf(stderr,
                "experiments: bad value '%s' for --%s (an integer in [%" PRId64 ", %" PRId64
                "] is expected)\n",
                value, name, lo, hi);
    return EXIT_USAGE;
}

/* Parses value into the field of flag d; 0, or EXIT_USAGE (message printed). */
static int bench_parse_num(bench_flags *f, const bench_num_flag *d, const char *value)
{
    void *field = (char *)f + d->offset;
    if (d->real)
        return bench_flag_real(d->name, value, d->dlo, d->dhi, d->open_lo, d->open_hi, field);
    return bench_flag_int(d->name, value, d->lo, d->hi, field);
}

/* Whether name is an option of the database options table. */
static int bench_is_option(const char *name)
{
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        if (d != NULL && strcmp(d->name, name) == 0) return 1;
    }
    return 0;
}

static int bench_given(const bench_flags *f, const char *name)
{
    for (size_t i = 0; i < BENCH_NUM_FLAGS; i++)
        if (strcmp(bench_num_flags[i].name, name) == 0) return (f->given >> i) & 1;
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
                       .writes = -1,
                       .key_size = 16,
                       .value_size = 100,
                       .threads = 1,
                       .seed = 301,
                       .batch_size = 8,
                       .readwritepercent = 90,
                       .compression_ratio = 0.5,
                       .zipf_theta = 0.99};
    lamina_options_init(&f->opts);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(bench_help, stdout);
            fputs(bench_help_more, stdout);
            bench_print_options();
            return -1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("experiments %s\nliblamina %s\n", EXPERIMENTS_VERSION, lamina_version());
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
        int rc = 0;
        size_t k = 0;
        while (k < BENCH_NUM_FLAGS && strcmp(bench_num_flags[k].name, name) != 0)
            k++;
        if (k < BENCH_NUM_FLAGS) {
            rc = bench_parse_num(f, &bench_num_flags[k], value);
            f->given |= UINT64_C(1) << k;
        } else if (strcmp(name, "benchmarks") == 0) {
            f->benchmarks = value;
        } else if (strcmp(name, "db") == 0) {
            f->db = value;
        } else if (strcmp(name, "report_file") == 0) {
            f->report_file = value;
        } else if (strcmp(name, "key_file") == 0 || strcmp(name, "keys_file") == 0) {
            f->key_file = value;
            f->key_file_flag = name[3] == 's' ? "keys_file" : "key_file";
        } else if (strcmp(name, "key_dist") == 0) {
            if (strcmp(value, "uniform") == 0 || strcmp(value, "zipf") == 0) {
                f->key_dist = value[0] == 'z' ? KEY_DIST_ZIPF : KEY_DIST_UNIFORM;
            } else {
                fprintf(stderr, "experiments: bad value '%s' for --key_dist (uniform|zipf)\n",
                        value);
                rc = EXIT_USAGE;
            }
        } else if (lamina_options_set(&f->opts, name, value) != LAMINA_OK) {
            /* the options table's message names the option, the value and the range */
            if (bench_is_option(name))
                fprintf(stderr, "experiments: bad value '%s' for --%s: %s\n", value, name,
                        lamina_errmsg(NULL));
            else
                fprintf(stderr, "experiments: unknown flag '%s' (experiments --help lists them)\n",
                        arg);
            rc = EXIT_USAGE;
        }
        if (rc != 0) return rc;
    }
    f->num_given = bench_given(f, "num");
    f->reads_given = f->reads >= 0;
    f->writes_given = f->writes >= 0;
    f->batch_size_given = bench_given(f, "batch_size");
    /* --key_file may lower num: main lowers reads and writes too */
    if (f->reads < 0) f->reads = f->num;
    if (f->writes < 0) f->writes = f->num;
    if (f->key_dist == KEY_DIST_ZIPF && f->read_random_exp_range != 0.0) {
        fprintf(stderr, "experiments: --key_dist=zipf and --read_random_exp_range are two "
                        "skews; give one\n");
        return EXIT_USAGE;
    }
    if (f->report_file != NULL && f->report_interval_seconds == 0) {
        fprintf(stderr, "experiments: --report_file=%s needs --report_interval_seconds\n",
                f->report_file);
        return EXIT_USAGE;
    }
    if (f->report_file == NULL) f->report_file = "report.csv"; /* db_bench's default */
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
    BENCH_READRANDOMWRITERANDOM,
    BENCH_MEMTABLE,
} bench_kind;

static const struct {
    const char *name;
    bench_kind kind;
    int fresh; /* starts from an empty database */
} bench_table[] = {
    {"fillseq", BENCH_FILLSEQ, 1},
    {"fillrandom", BENCH_FILLRANDOM, 1},
    {"fillsync", BENCH_FILLSYNC, 1},
    {"overwrite", BENCH_OVERWRITE, 0},
    {"readrandom", BENCH_READRANDOM, 0},
    {"multireadrandom", BENCH_MULTIREADRANDOM, 0},
    {"readseq", BENCH_READSEQ, 0},
    {"readreverse", BENCH_READREVERSE, 0},
    {"seekrandom", BENCH_SEEKRANDOM, 0},
    {"seekprefix", BENCH_SEEKPREFIX, 0},
    {"deleterandom", BENCH_DELETERANDOM, 0},
    {"readwhilewriting", BENCH_READWHILEWRITING, 0},
    {"readrandomwriterandom", BENCH_READRANDOMWRITERANDOM, 0},
    {"memtable", BENCH_MEMTABLE, 0}, /* no database: a bare memtable (experiments_memtable.c) */
};

typedef struct bench_run {
    const bench_flags *f;
    const bench_keys *keys;
    lamina_db *db;
    const char *ring;
    FILE *report; /* --report_file, open with --report_interval_seconds only */
    bench_kind kind;
    uint64_t threads_before; /* threads of earlier benchmarks: each run draws its own keys */
    atomic_int readers_left; /* readwhilewriting: the writer stops when it reaches 0 */
    /* --benchmark_write_rate_limit: bytes granted to writers since pace_start; a write is due
     * when the bytes before it have had their time at the rate */
    _Atomic uint64_t paced_bytes;
    double pace_start;
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
    uint64_t entries;               /* seekprefix: entries read under the prefixes */
    uint64_t reads, writes;         /* readrandomwriterandom: operations of each kind */
    int get_weight, put_weight;     /* readrandomwriterandom: what is left of this 100 */
    uint64_t polls;                 /* of the time limit: the clock is read every 16th */
    double start, finish, deadline; /* deadline 0: no --duration */
    int timed;                      /* latencies into lat (--histogram, --report_interval) */
    double op_start;                /* when the timed operation began */
    bench_hist lat;
    int rc;
    char msg[512];
} bench_thread;

/* Whether the worker goes on after done operations out of ops: not past ops, nor past the
 * deadline of --duration. */
static int bench_more(bench_thread *t, uint64_t ops)
{
    if (t->done >= ops) return 0;
    return t->deadline == 0.0 || (t->polls++ & 15) != 0 || bench_now() < t->deadline;
}

/* --benchmark_write_rate_limit: waits until bytes more may be written; all writers of the run
 * share the rate. The wait is not part of the operation's latency. */
static void bench_pace(bench_thread *t, uint64_t bytes)
{
    bench_run *run = t->run;
    int64_t rate = run->f->benchmark_write_rate_limit;
    if (rate == 0) return;
    uint64_t before = atomic_fetch_add(&run->paced_bytes, bytes);
    double now = bench_now(), wait = run->pace_start + (double)before / (double)rate - now;
    if (t->deadline > 0.0 && wait > t->deadline - now) wait = t->deadline - now;
    if (wait <= 0) return;
    struct timespec ts = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - floor(wait)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    if (t->timed) t->op_start = bench_now();
}

static void bench_write_options(const bench_run *run, lamina_write_options *wo)
{
    lamina_write_options_init(wo);
    wo->sync = run->f->sync || run->kind == BENCH_FILLSYNC;
    wo->disable_wal = (int)run->f->disable_wal;
}

static const char *bench_value(bench_thread *t, size_t len)
{
    if (t->ring_pos + len > VALUE_RING_BYTES) t->ring_pos = 0;
    const char *v = t->run->ring + t->ring_pos;
    t->ring_pos += len;
    return v;
}

static int bench_fail(bench_thread *t, int rc)
{
    t->rc = rc;
    snprintf(t->msg, sizeof t->msg, "%s: %s", lamina_strerror(rc), lamina_errmsg(t->run->db));
    return rc;
}

/* readrandomwriterandom as db_bench's: of each 100 operations, first --readwritepercent reads,
 * then the writes. Returns the kind of this operation. */
static bench_kind bench_mixed_kind(bench_thread *t)
{
    if (t->get_weight == 0 && t->put_weight == 0) {
        t->get_weight = (int)t->run->f->readwritepercent;
        t->put_weight = 100 - t->get_weight;
    }
    if (t->get_weight > 0) {
        t->get_weight--;
        t->reads++;
        return BENCH_READRANDOM;
    }
    t->put_weight--;
    t->writes++;
    return BENCH_OVERWRITE;
}

/* One operation of a point workload; returns 0 or an error code (recorded). */
static int bench_point_op(bench_thread *t, char *key, char *vbuf, size_t vcap)
{
    const bench_flags *f = t->run->f;
    lamina_db *db = t->run->db;
    size_t ks = (size_t)f->key_size, vs = (size_t)f->value_size;
    lamina_write_options wo;
    bench_write_options(t->run, &wo);
    int rc = LAMINA_OK;
    bench_kind kind = t->is_writer ? BENCH_OVERWRITE : t->run->kind;
    if (kind == BENCH_READRANDOMWRITERANDOM) kind = bench_mixed_kind(t);
    switch (kind) {
    case BENCH_FILLSEQ:
        ks = bench_make_key(key, f->key_size, t->done);
        bench_pace(t, ks + vs);
        rc = lamina_put(db, &wo, key, ks, bench_value(t, vs), vs);
        t->bytes += ks + vs;
        break;
    case BENCH_FILLRANDOM:
    case BENCH_FILLSYNC:
    case BENCH_OVERWRITE:
        ks = bench_make_key(key, f->key_size, prng_below(&t->rng, (uint64_t)f->num));
        bench_pace(t, ks + vs);
        rc = lamina_put(db, &wo, key, ks, bench_value(t, vs), vs);
        t->bytes += ks + vs;
        break;
    case BENCH_DELETERANDOM:
        ks = bench_make_key(key, f->key_size, prng_below(&t->rng, (uint64_t)f->num));
        bench_pace(t, ks);
        rc = lamina_delete(db, &wo, key, ks);
        break;
    default: { /* readrandom, the reads of readrandomwriterandom, the readers of readwhilewriting */
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

/* The write benchmarks with --batch_size: --batch_size puts (deletes) per lamina_write, as
 * db_bench's entries_per_batch; each key counts as one operation, each batch as one latency
 * sample. */
static void bench_batch_ops(bench_thread *t, uint64_t ops, char *key)
{
    const bench_flags *f = t->run->f;
    bench_kind kind = t->run->kind;
    size_t vs = (size_t)f->value_size;
    lamina_write_options wo;
    bench_write_options(t->run, &wo);
    lamina_batch *b = NULL;
    int rc = lamina_batch_create(&b);
    while (rc == LAMINA_OK && bench_more(t, ops)) {
        uint64_t n =
            ops - t->done < (uint64_t)f->batch_size ? ops - t->done : (uint64_t)f->batch_size;
        uint64_t bytes = 0;
        lamina_batch_clear(b);
        for (uint64_t i = 0; rc == LAMINA_OK && i < n; i++) {
            uint64_t index =
                kind == BENCH_FILLSEQ ? t->done + i : prng_below(&t->rng, (uint64_t)f->num);
            size_t ks = bench_make_key(key, f->key_size, index);
            if (kind == BENCH_DELETERANDOM) {
                rc = lamina_batch_delete(b, key, ks);
                bytes += ks;
            } else {
                rc = lamina_batch_put(b, key, ks, bench_value(t, vs), vs);
                bytes += ks + vs;
            }
        }
        if (rc != LAMINA_OK) break;
        if (t->timed) t->op_start = bench_now();
        bench_pace(t, bytes);
        rc = lamina_write(t->run->db, &wo, b);
        if (t->timed) bench_hist_add(&t->lat, bench_now() - t->op_start, n);
        if (kind != BENCH_DELETERANDOM) t->bytes += bytes;
        if (rc == LAMINA_OK) t->done += n;
    }
    if (rc != LAMINA_OK) bench_fail(t, rc);
    lamina_batch_destroy(b);
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
    while (rc == LAMINA_OK && bench_more(t, ops)) {
        double t0 = t->timed ? bench_now() : 0.0;
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
        if (t->timed) bench_hist_add(&t->lat, bench_now() - t0, 1);
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
    while (rc == LAMINA_OK && bench_more(t, ops)) {
        double t0 = t->timed ? bench_now() : 0.0;
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
        if (t->timed) bench_hist_add(&t->lat, bench_now() - t0, 1);
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
    while (bench_more(t, ops)) {
        size_t n = ops - t->done < batch ? (size_t)(ops - t->done) : batch;
        for (size_t i = 0; i < n; i++)
            key_lens[i] = bench_make_key(keybuf + i * ks, f->key_size,
                                         bench_key_index(t->run->keys, &t->rng));
        double t0 = t->timed ? bench_now() : 0.0;
        int rc =
            lamina_multi_get(t->run->db, NULL, n, keys, key_lens, values, value_lens, statuses);
        if (t->timed) bench_hist_add(&t->lat, bench_now() - t0, n);
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

/* Whether --duration bounds the run's benchmark: as in db_bench, every benchmark but the
 * sequential ones (fillseq, readseq, readreverse), which always run their count. */
static int bench_timed_by_duration(const bench_run *run)
{
    bench_kind k = run->kind;
    return run->f->duration > 0 && k != BENCH_FILLSEQ && k != BENCH_READSEQ &&
           k != BENCH_READREVERSE;
}

/* The operations one thread of the run's benchmark does: with --duration, as many as fit in
 * it; otherwise --writes for writes, --reads for reads, db_bench's larger of the two given
 * for readrandomwriterandom (--num when neither is). */
static uint64_t bench_thread_ops(const bench_run *run)
{
    const bench_flags *f = run->f;
    if (bench_timed_by_duration(run)) return UINT64_MAX; /* db_bench: the time, not the count */
    switch (run->kind) {
    case BENCH_FILLSYNC:
        return (uint64_t)(f->writes / 1000 > 0 ? f->writes / 1000 : 1);
    case BENCH_FILLSEQ:
    case BENCH_FILLRANDOM:
    case BENCH_OVERWRITE:
    case BENCH_DELETERANDOM:
        return (uint64_t)f->writes;
    case BENCH_READRANDOMWRITERANDOM: {
        int64_t r = f->reads_given ? f->reads : -1, w = f->writes_given ? f->writes : -1;
        int64_t most = r > w ? r : w;
        return (uint64_t)(most < 0 ? f->num : most);
    }
    default:
        return (uint64_t)f->reads;
    }
}

/* The write benchmarks that --batch_size turns into lamina_write batches. */
static int bench_batched(const bench_run *run)
{
    bench_kind k = run->kind;
    return run->f->batch_size_given &&
           (k == BENCH_FILLSEQ || k == BENCH_FILLRANDOM || k == BENCH_FILLSYNC ||
            k == BENCH_OVERWRITE || k == BENCH_DELETERANDOM);
}

static void *bench_thread_main(void *arg)
{
    bench_thread *t = arg;
    bench_run *run = t->run;
    const bench_flags *f = run->f;
    size_t vcap = (size_t)f->value_size + 1;
    char *key = malloc((size_t)f->key_size), *vbuf = malloc(vcap);
    uint64_t ops = bench_thread_ops(run);
    pthread_barrier_wait(&run->start);
    t->start = bench_now();
    if (bench_timed_by_duration(run)) t->deadline = t->start + (double)f->duration;
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
    } else if (bench_batched(run)) {
        bench_batch_ops(t, ops, key);
    } else {
        while (t->is_writer ? atomic_load(&run->readers_left) > 0 : bench_more(t, ops)) {
            if (t->timed) t->op_start = bench_now();
            if (bench_point_op(t, key, vbuf, vcap) != 0) break;
            t->done++;
            if (t->timed) bench_hist_add(&t->lat, bench_now() - t->op_start, 1);
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

/* Prints the report line in db_bench's format and, with hs (--histogram), the latencies of
 * the nh histograms. */
static void bench_report(const char *name, bench_kind kind, bench_thread *ts, int n,
                         bench_hist *const *hs, int nh)
{
    uint64_t done = 0, found = 0, bytes = 0, entries = 0, reads = 0, writes = 0;
    double seconds = 0.0, start = 0.0, finish = 0.0;
    for (int i = 0; i < n; i++) {
        if (ts[i].is_writer) continue;
        done += ts[i].done;
        found += ts[i].found;
        bytes += ts[i].bytes;
        entries += ts[i].entries;
        reads += ts[i].reads;
        writes += ts[i].writes;
        seconds += ts[i].finish - ts[i].start;
        if (start == 0.0 || ts[i].start < start) start = ts[i].start;
        if (ts[i].finish > finish) finish = ts[i].finish;
    }
    uint64_t ops = done;
    if (done < 1) done = 1;
    double elapsed = finish - start > 1e-9 ? finish - start : 1e-9;
    char extra[200] = "";
    size_t at = 0;
    if (bytes > 0)
        at += (size_t)snprintf(extra, sizeof extra, "%6.1f MB/s",
                               (double)bytes / 1048576.0 / elapsed);
    if (kind == BENCH_READRANDOMWRITERANDOM) /* db_bench's message */
        at += (size_t)snprintf(extra + at, sizeof extra - at,
                               "%s( reads:%" PRIu64 " writes:%" PRIu64 " total:%" PRIu64
                               " found:%" PRIu64 ")",
                               at ? " " : "", reads, writes, ops, found);
    else if (kind == BENCH_READRANDOM || kind == BENCH_MULTIREADRANDOM ||
             kind == BENCH_SEEKRANDOM || kind == BENCH_SEEKPREFIX || kind == BENCH_READWHILEWRITING)
        at += (size_t)snprintf(extra + at, sizeof extra - at,
                               "%s(%" PRIu64 " of %" PRIu64 " found)", at ? " " : "", found, ops);
    if (kind == BENCH_SEEKPREFIX)
        snprintf(extra + at, sizeof extra - at, " %.2f entries/scan",
                 (double)entries / (double)done);
    bench_print_line(name, seconds, elapsed, ops, extra);
    if (hs != NULL && nh > 0) bench_hist_print(hs, nh);
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
           kind == BENCH_READWHILEWRITING || kind == BENCH_READRANDOMWRITERANDOM;
}

/* Runs one benchmark on the open database; 0 or EXIT_DBERR (reported). */
static int bench_run_one(bench_run *run, const char *name)
{
    const bench_flags *f = run->f;
    int readers = (int)f->threads;
    int n = readers + (run->kind == BENCH_READWHILEWRITING);
    bench_thread *ts = calloc((size_t)n, sizeof *ts);
    bench_hist **hs = calloc((size_t)n, sizeof *hs);
    bench_reporter *reporter = NULL;
    int status = 0, started = 0, nh = 0;
    if (ts == NULL || hs == NULL) goto nomem;
    for (int i = 0; i < readers; i++) {
        /* the writer of readwhilewriting is not measured, as it is not reported */
        if (!f->histogram && f->report_interval_seconds == 0) break;
        size_t keep = f->histogram ? (size_t)(HIST_MAX_SAMPLES / (uint64_t)readers) : 0;
        if (bench_hist_init(&ts[i].lat, keep) != 0) goto nomem;
        ts[i].timed = 1;
        hs[nh++] = &ts[i].lat;
    }
    atomic_store(&run->readers_left, readers);
    atomic_store(&run->paced_bytes, 0);
    if (pthread_barrier_init(&run->start, NULL, (unsigned)n) != 0) goto nomem;
    for (int i = 0; i < n; i++) {
        bench_thread *t = &ts[i];
        t->run = run;
        t->id = i;
        t->is_writer = i == readers;
        /* as db_bench: seed + a thread number never used before, so readrandom does not
         * replay fillrandom's keys */
        t->rng = (uint64_t)f->seed + run->threads_before + (uint64_t)i;
        t->ring_pos = (size_t)i * 4099u % VALUE_RING_BYTES;
    }
    uint64_t hits0 = 0, misses0 = 0;
    bench_cache_counts(run->db, &hits0, &misses0);
    if (run->report != NULL &&
        bench_reporter_start(&reporter, run->report, (double)f->report_interval_seconds, name, hs,
                             nh, run->db) != 0) {
        pthread_barrier_destroy(&run->start);
        goto nomem;
    }
    run->pace_start = bench_now();
    for (; started < n; started++)
        if (pthread_create(&ts[started].tid, NULL, bench_thread_main, &ts[started]) != 0) break;
    if (started < n) {
        /* release the threads already waiting at the barrier: abandon this run */
        fprintf(stderr, "experiments: cannot start %d threads\n", n);
        exit(EXIT_DBERR);
    }
    for (int i = 0; i < n; i++)
        pthread_join(ts[i].tid, NULL);
    bench_reporter_stop(reporter);
    pthread_barrier_destroy(&run->start);
    run->threads_before += (uint64_t)n;
    for (int i = 0; i < n; i++)
        if (ts[i].rc != 0 && status == 0) {
            fprintf(stderr, "experiments: %s: %s\n", name, ts[i].msg);
            status = EXIT_DBERR;
        }
    if (status == 0) {
        bench_report(name, run->kind, ts, n, f->histogram ? hs : NULL, nh);
        bench_stats_line(run->db);
        if (bench_reads(run->kind)) bench_cache_line(run->db, hits0, misses0);
    }
    for (int i = 0; i < nh; i++)
        bench_hist_free(hs[i]);
    free(hs);
    free(ts);
    return status;
nomem:
    for (int i = 0; i < nh; i++)
        bench_hist_free(hs[i]);
    free(hs);
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
    /* what shapes each benchmark's run, so a saved log says how it was made */
    printf("Run:        threads=%" PRId64 " writes=%" PRId64 " reads=%" PRId64 " duration=%" PRId64
           " batch_size=%" PRId64 "%s sync=%" PRId64 " disable_wal=%" PRId64
           " write_rate_limit=%" PRId64 "\n",
           f->threads, f->writes, f->reads, f->duration, f->batch_size,
           f->batch_size_given ? "" : " (multireadrandom only)", f->sync, f->disable_wal,
           f->benchmark_write_rate_limit);
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
    if (argc > 1 && strcmp(argv[1], "plot") == 0) return bench_plot(argc, argv);
    bench_flags f;
    int status = bench_parse_flags(argc, argv, &f);
    if (status != 0) return status < 0 ? EXIT_OK : status;
    if (f.key_file) {
        if ((status = bench_load_key_file(&f, f.num_given)) != 0) return status;
        if (f.reads > f.num && !f.reads_given) f.reads = f.num;
        if (f.writes > f.num && !f.writes_given) f.writes = f.num;
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
    if (f.report_interval_seconds > 0 && ndb > 0) {
        run.report = fopen(f.report_file, "w");
        if (run.report == NULL) {
            fprintf(stderr, "experiments: --report_file=%s: %s\n", f.report_file, strerror(errno));
            free((void *)run.ring);
            return EXIT_USAGE;
        }
        fprintf(run.report, "%s\n", BENCH_REPORT_HEADER);
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
    if (run.report != NULL && fclose(run.report) != 0 && status == 0) {
        fprintf(stderr, "experiments: writing %s: %s\n", f.report_file, strerror(errno));
        status = EXIT_DBERR;
    }
    free(list);
    free((void *)run.ring);
    free(bench_file_keys.data);
    free(bench_file_keys.key);
    free(bench_file_keys.len);
    return status;
}
