/* experiments_tune.c — the compaction-tuning experiments over the public API: `experiments
 * tune` measures each (policy, size ratio) configuration of the Fluid LSM-tree (Dayan & Idreos,
 * SIGMOD 2018) on a fresh database — ingest, write and space amplification, runs per level,
 * lookup and scan latencies, blocks read per zero-result lookup — and `experiments growth`
 * samples put, get and scan throughput while a database grows, one curve per policy. Both write
 * a CSV, a Markdown table and gnuplot plots (PNG and SVG). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compaction/model.h"
#include "experiments.h"
#include "lamina.h"

#define TUNE_KEY 16
#define TUNE_VALUE 100
#define TUNE_MAX_CONFIGS 64
#define TUNE_MAX_LEVELS 12

__extension__ typedef unsigned __int128 tune_u128;

/* One configuration: a preset, or fluid K:Z (leveled's preset with K and Z set), at a size
 * ratio. */
typedef struct tune_config {
    char name[48];
    int preset; /* LAMINA_COMPACTION_* */
    int k, z;   /* 0: the preset's */
    int t;
} tune_config;

typedef struct tune_flags {
    const char *out, *db;
    int64_t num, reads, scans, long_scan, samples;
    double overwrite;
    uint64_t seed;
    lamina_options opts;
    tune_config configs[TUNE_MAX_CONFIGS];
    int nconfigs;
} tune_flags;

/* ---- keys, values, progress ------------------------------------------------------------- */

/* db_bench's key shape (bench_index_key). */
static void tune_key(char *k, uint64_t index)
{
    bench_index_key(k, TUNE_KEY, index);
}

static void tune_value(char *v, uint64_t *s)
{
    for (int i = 0; i < TUNE_VALUE; i += 8) {
        uint64_t r = bench_rand(s);
        memcpy(v + i, &r, TUNE_VALUE - i < 8 ? (size_t)(TUNE_VALUE - i) : 8);
    }
}

static uint64_t tune_gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The load order: j -> (j * m + off) mod n with m coprime to n, a bijection of [0, n), so every
 * key is written once, in an order without locality. */
typedef struct tune_perm {
    uint64_t n, m, off;
} tune_perm;

static void tune_perm_init(tune_perm *p, uint64_t n, uint64_t seed)
{
    p->n = n;
    p->m = n > 2 ? 1 + bench_rand(&seed) % (n - 1) : 1;
    while (tune_gcd(p->m, n) != 1)
        p->m = p->m + 1 < n ? p->m + 1 : 1;
    p->off = bench_rand(&seed) % n;
}

static uint64_t tune_perm_at(const tune_perm *p, uint64_t j)
{
    return (uint64_t)(((tune_u128)j * p->m + p->off) % p->n);
}

/* A one-line progress report on stderr when it is a terminal; nothing otherwise (logs stay
 * clean). No Debian package offers a C progress bar, so this is the small one kvctl load has. */
typedef struct tune_progress {
    int tty;
    char what[160];
    int last;
} tune_progress;

static void tune_progress_set(tune_progress *p, const char *what)
{
    snprintf(p->what, sizeof p->what, "%s", what);
    p->last = -1;
}

static void tune_progress_show(tune_progress *p, uint64_t done, uint64_t total)
{
    int pct = total ? (int)(done * 100 / total) : 100;
    if (!p->tty || pct == p->last) return;
    p->last = pct;
    char bar[21];
    for (int i = 0; i < 20; i++)
        bar[i] = i < pct / 5 ? '#' : '.';
    bar[20] = '\0';
    fprintf(stderr, "\r\033[K%s [%s] %3d%%", p->what, bar, pct);
    fflush(stderr);
}

static void tune_progress_clear(tune_progress *p)
{
    if (p->tty) fprintf(stderr, "\r\033[K");
}

/* ---- measuring ---------------------------------------------------------------------------- */

static int tune_fail(lamina_db *db, const char *what, int rc)
{
    fprintf(stderr, "experiments: %s: %s%s%s\n", what, lamina_strerror(rc), db ? ": " : "",
            db ? lamina_errmsg(db) : "");
    return EXIT_DBERR;
}

static uint64_t tune_prop(lamina_db *db, const char *name)
{
    uint64_t v = 0;
    return lamina_property_int(db, name, &v) == LAMINA_OK ? v : 0;
}

static double tune_prop_double(lamina_db *db, const char *name)
{
    char *text = NULL;
    if (lamina_property(db, name, &text) != LAMINA_OK) return 0.0;
    double v = strtod(text, NULL);
    lamina_free(text);
    return v;
}

/* The sum over every level of a per-level property ("lamina.io-reads-at-level": reads of table
 * files; "lamina.lookup-blocks-at-level": data blocks point lookups searched, cached or not). */
static uint64_t tune_level_sum(lamina_db *db, const char *prefix)
{
    uint64_t levels = tune_prop(db, "lamina.num-levels"), sum = 0;
    char name[96];
    for (uint64_t l = 0; l < levels; l++) {
        snprintf(name, sizeof name, "%s%" PRIu64, prefix, l);
        sum += tune_prop(db, name);
    }
    return sum;
}

static int tune_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile q (0..1) of n samples, sorting them in place. */
static double tune_percentile(double *s, size_t n, double q)
{
    if (n == 0) return 0.0;
    qsort(s, n, sizeof *s, tune_cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return s[i];
}

enum { OP_GET, OP_GET_ABSENT, OP_SCAN_SHORT, OP_SCAN_LONG, OP_KINDS };
static const char *const tune_op_names[OP_KINDS] = {"get", "get_absent", "scan10", "scan_long"};

typedef struct tune_result {
    double ingest_ops, w_amp, space_amp, stall_s;
    int levels;
    int runs[TUNE_MAX_LEVELS];
    double p50[OP_KINDS], p99[OP_KINDS], ops[OP_KINDS];
    double blocks_absent;     /* data blocks searched per zero-result lookup (cached or not) */
    double reads_absent;      /* reads of table files per zero-result lookup */
    struct model_shape model; /* the Fluid LSM model's prediction for this T, K, Z and size */
    int model_ok;
} tune_result;

/* Runs n operations of one kind, recording each one's latency; *ops_s gets the throughput. */
static int tune_ops(lamina_db *db, const tune_flags *f, int kind, uint64_t n, uint64_t keys,
                    uint64_t *rng, double *lat, double *ops_s, tune_progress *prog)
{
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    char key[TUNE_KEY], vbuf[TUNE_VALUE];
    size_t vlen;
    int rc = LAMINA_OK;
    double t0 = bench_now();
    for (uint64_t i = 0; i < n && rc == LAMINA_OK; i++) {
        uint64_t idx = bench_rand(rng) % keys;
        /* An absent key sorts right after a present one (its padding differs), so it falls
         * inside the tables' key ranges and reaches their filters, as the model assumes. */
        tune_key(key, idx);
        if (kind == OP_GET_ABSENT) key[TUNE_KEY - 1] = '1';
        double s = bench_now();
        if (kind == OP_GET || kind == OP_GET_ABSENT) {
            rc = lamina_get_into(db, &ro, key, TUNE_KEY, vbuf, sizeof vbuf, &vlen);
            if (rc == LAMINA_NOTFOUND && kind == OP_GET_ABSENT) rc = LAMINA_OK;
        } else {
            lamina_iter *it = NULL;
            if ((rc = lamina_iter_create(db, &ro, &it)) != LAMINA_OK) break;
            int64_t len = kind == OP_SCAN_SHORT ? 10 : f->long_scan;
            lamina_iter_seek(it, key, TUNE_KEY);
            for (int64_t j = 1; j < len && lamina_iter_valid(it); j++)
                lamina_iter_next(it);
            rc = lamina_iter_status(it);
            lamina_iter_destroy(it);
        }
        lat[i] = bench_now() - s;
        if ((i & 255) == 0) tune_progress_show(prog, i, n);
    }
    *ops_s = (double)n / (bench_now() - t0);
    return rc == LAMINA_OK ? 0 : tune_fail(db, tune_op_names[kind], rc);
}

/* Writes keys [from, to) of the load order; *elapsed gets the seconds. */
static int tune_put_range(lamina_db *db, const tune_perm *perm, uint64_t from, uint64_t to,
                          uint64_t *vrng, tune_progress *prog, uint64_t total)
{
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    char key[TUNE_KEY], val[TUNE_VALUE];
    for (uint64_t j = from; j < to; j++) {
        tune_key(key, tune_perm_at(perm, j));
        tune_value(val, vrng);
        int rc = lamina_put(db, &wo, key, TUNE_KEY, val, TUNE_VALUE);
        if (rc != LAMINA_OK) return tune_fail(db, "put", rc);
        if ((j & 1023) == 0) tune_progress_show(prog, j, total);
    }
    return 0;
}

/* What the Fluid LSM model predicts for these options and n live entries taking live_bytes in
 * tables: the engine's own level-1 capacity rule (policy_init), the model's levels. */
static int tune_model(const lamina_options *o, uint64_t n, uint64_t live_bytes,
                      struct model_shape *out)
{
    uint64_t l1 = (uint64_t)o->max_bytes_for_level_base;
    if (l1 == 0)
        l1 = (uint64_t)o->write_buffer_size * (uint64_t)o->level0_file_num_compaction_trigger;
    struct policy p;
    policy_init(&p, o->compaction_policy, (int)o->size_ratio, (int)o->runs_per_level,
                (int)o->runs_last_level, (int)o->level0_file_num_compaction_trigger, l1,
                (int)o->num_levels);
    struct model_params in = {0};
    model_params_from_policy(&p, &in);
    in.entries = n;
    in.entry_bytes = live_bytes && n ? (live_bytes + n - 1) / n : TUNE_KEY + TUNE_VALUE;
    in.block_bytes = (uint64_t)o->block_size;
    in.bits_per_key = (double)o->bloom_bits;
    in.monkey = o->bloom_allocation == LAMINA_BLOOM_MONKEY;
    return model_predict(&in, out);
}

static void tune_config_options(const tune_flags *f, const tune_config *c, lamina_options *o)
{
    *o = f->opts;
    o->compaction_policy = c->preset;
    o->size_ratio = c->t;
    o->runs_per_level = c->k;
    o->runs_last_level = c->z;
}

static int tune_open_fresh(const char *path, const lamina_options *o, lamina_db **db)
{
    int rc = lamina_destroy(path);
    if (rc != LAMINA_OK) return tune_fail(NULL, "destroy", rc);
    if ((rc = lamina_open(path, o, db)) != LAMINA_OK) return tune_fail(NULL, "open", rc);
    return 0;
}

/* One configuration of `tune`: load, overwrite, settle, then the four read workloads. */
static int tune_run_config(const tune_flags *f, const tune_config *c, tune_result *r,
                           tune_progress *prog, const char *label)
{
    lamina_options o;
    tune_config_options(f, c, &o);
    lamina_db *db = NULL;
    int status = tune_open_fresh(f->db, &o, &db);
    if (status) return status;
    uint64_t n = (uint64_t)f->num, vrng = f->seed ^ 0x5eed, rng = f->seed;
    tune_perm perm;
    tune_perm_init(&perm, n, f->seed);
    char what[160];
    snprintf(what, sizeof what, "%.100s: load", label);
    tune_progress_set(prog, what);
    double t0 = bench_now();
    if ((status = tune_put_range(db, &perm, 0, n, &vrng, prog, n))) goto out;
    r->ingest_ops = (double)n / (bench_now() - t0);
    /* Overwrites: a random fraction of the keys again (new values), as updates arrive. */
    uint64_t over = (uint64_t)(f->overwrite * (double)n);
    tune_perm over_perm;
    tune_perm_init(&over_perm, n, f->seed + 1);
    snprintf(what, sizeof what, "%.100s: overwrite", label);
    tune_progress_set(prog, what);
    if ((status = tune_put_range(db, &over_perm, 0, over, &vrng, prog, over))) goto out;
    int rc = lamina_wait_for_compactions(db);
    if (rc != LAMINA_OK) {
        status = tune_fail(db, "wait for compactions", rc);
        goto out;
    }
    r->w_amp = tune_prop_double(db, "lamina.write-amp");
    r->model_ok = tune_model(&o, n, tune_prop(db, "lamina.live-bytes"), &r->model) == 0;
    r->space_amp = tune_prop_double(db, "lamina.space-amp");
    r->stall_s = (double)tune_prop(db, "lamina.stall-micros") / 1e6;
    r->levels = (int)tune_prop(db, "lamina.num-levels");
    if (r->levels > TUNE_MAX_LEVELS) r->levels = TUNE_MAX_LEVELS;
    for (int l = 0; l < r->levels; l++) {
        char name[64];
        snprintf(name, sizeof name, "lamina.num-runs-at-level%d", l);
        r->runs[l] = (int)tune_prop(db, name);
    }
    double *lat = malloc((size_t)(f->reads > f->scans ? f->reads : f->scans) * sizeof *lat);
    if (!lat) {
        status = EXIT_DBERR;
        goto out;
    }
    for (int k = 0; k < OP_KINDS && status == 0; k++) {
        uint64_t ops = (uint64_t)(k <= OP_GET_ABSENT ? f->reads : f->scans);
        snprintf(what, sizeof what, "%.100s: %s", label, tune_op_names[k]);
        tune_progress_set(prog, what);
        uint64_t reads0 = tune_level_sum(db, "lamina.io-reads-at-level");
        uint64_t blocks0 = tune_level_sum(db, "lamina.lookup-blocks-at-level");
        status = tune_ops(db, f, k, ops, n, &rng, lat, &r->ops[k], prog);
        if (k == OP_GET_ABSENT) {
            r->reads_absent =
                (double)(tune_level_sum(db, "lamina.io-reads-at-level") - reads0) / (double)ops;
            r->blocks_absent =
                (double)(tune_level_sum(db, "lamina.lookup-blocks-at-level") - blocks0) /
                (double)ops;
        }
        r->p50[k] = tune_percentile(lat, ops, 0.50) * 1e6;
        r->p99[k] = tune_percentile(lat, ops, 0.99) * 1e6;
    }
    free(lat);
out:
    tune_progress_clear(prog);
    rc = lamina_close(db);
    if (rc != LAMINA_OK && status == 0) status = tune_fail(NULL, "close", rc);
    return status;
}

/* ---- output ------------------------------------------------------------------------------ */

static FILE *tune_create(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp) fprintf(stderr, "experiments: cannot create %s: %s\n", path, strerror(errno));
    return fp;
}

static int tune_close_file(FILE *fp, const char *dir, const char *name)
{
    if (fclose(fp) != 0) {
        fprintf(stderr, "experiments: writing %s/%s: %s\n", dir, name, strerror(errno));
        return EXIT_DBERR;
    }
    return 0;
}

/* Runs gnuplot on DIR/NAME (a script that writes its PNG and SVG beside it). No gnuplot on the
 * PATH is not an error: the script stays for later, and the run says so. */
static int tune_plot(const char *dir, const char *name)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "experiments: gnuplot not found: %s/%s left unplotted\n", dir, name);
        return 0;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s'", dir, name);
    if (system(cmd) != 0) {
        fprintf(stderr, "experiments: gnuplot failed on %s/%s\n", dir, name);
        return EXIT_DBERR;
    }
    return 0;
}

/* Writes the same plot commands once for PNG and once for SVG. */
static void tune_plot_both(FILE *gp, const char *base, const char *body)
{
    fprintf(gp, "set terminal pngcairo size 900,600 noenhanced\nset output '%s.png'\n%s\n", base,
            body);
    fprintf(gp, "set terminal svg size 900,600 noenhanced\nset output '%s.svg'\n%s\n", base, body);
}

static int tune_write(const tune_flags *f, const tune_result *res)
{
    FILE *csv = tune_create(f->out, "tune.csv"), *md = csv ? tune_create(f->out, "tune.md") : NULL;
    if (!md) {
        if (csv) fclose(csv);
        return EXIT_DBERR;
    }
    fprintf(csv, "config,policy,T,K,Z,ingest_ops,w_amp,space_amp,stall_s,runs_per_level,"
                 "blocks_per_absent_get,reads_per_absent_get,model_levels,model_w_amp,"
                 "model_blocks_per_absent_get,model_space_amp");
    for (int k = 0; k < OP_KINDS; k++)
        fprintf(csv, ",%s_ops,%s_p50_us,%s_p99_us", tune_op_names[k], tune_op_names[k],
                tune_op_names[k]);
    fprintf(csv, "\n");
    fprintf(md,
            "| config | T | ingest ops/s | w_amp (model) | space_amp (model) | runs per level "
            "| blocks / absent get (model) | get p50/p99 µs | absent p50/p99 µs | scan10 p50/p99 "
            "µs | long scan p50/p99 µs |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < f->nconfigs; i++) {
        const tune_config *c = &f->configs[i];
        const tune_result *r = &res[i];
        char runs[128] = "";
        for (int l = 0, at = 0; l < r->levels && at < (int)sizeof runs - 8; l++)
            at += snprintf(runs + at, sizeof runs - (size_t)at, "%s%d", l ? " " : "", r->runs[l]);
        const struct model_shape *m = &r->model;
        fprintf(csv, "%s,%d,%d,%d,%d,%.0f,%.3f,%.3f,%.3f,%s,%.4f,%.4f", c->name, c->preset, c->t,
                c->k, c->z, r->ingest_ops, r->w_amp, r->space_amp, r->stall_s, runs,
                r->blocks_absent, r->reads_absent);
        if (r->model_ok)
            fprintf(csv, ",%d,%.3f,%.4f,%.3f", m->levels, m->write_amp, m->zero_lookup_cost,
                    m->space_amp);
        else
            fprintf(csv, ",,,,");
        for (int k = 0; k < OP_KINDS; k++)
            fprintf(csv, ",%.0f,%.1f,%.1f", r->ops[k], r->p50[k], r->p99[k]);
        fprintf(csv, "\n");
        fprintf(md, "| %s | %d | %.0f | %.2f (%.2f) | %.2f (%.2f) | %s | %.4f (%.4f)", c->name,
                c->t, r->ingest_ops, r->w_amp, r->model_ok ? m->write_amp : 0.0, r->space_amp,
                r->model_ok ? m->space_amp : 0.0, runs, r->blocks_absent,
                r->model_ok ? m->zero_lookup_cost : 0.0);
        for (int k = 0; k < OP_KINDS; k++)
            fprintf(md, " | %.1f / %.1f", r->p50[k], r->p99[k]);
        fprintf(md, " |\n");
    }
    int status = tune_close_file(csv, f->out, "tune.csv");
    int st2 = tune_close_file(md, f->out, "tune.md");
    if (status || st2) return status ? status : st2;

    FILE *gp = tune_create(f->out, "tune.gp");
    if (!gp) return EXIT_DBERR;
    /* Columns of tune.csv: 3 T, 6 ingest, 7 w_amp, 11 blocks per absent get, 14 the model's
     * w_amp, 15 its blocks per absent get. */
    fprintf(gp, "set datafile separator ','\nset key outside right\nset grid\n"
                "policies = system(\"tail -n +2 tune.csv | cut -d, -f1 | sed 's/-T[0-9]*$//' | "
                "sort -u | tr '\\\\n' ' '\")\n");
    tune_plot_both(gp, "tune-wamp-lookup",
                   "set title 'write amplification against zero-result lookup cost'\n"
                   "set xlabel 'data blocks per zero-result lookup'\n"
                   "set ylabel 'write amplification'\nset logscale x\n"
                   "plot for [i=1:words(policies)] sprintf('< grep \"^%s-T\" tune.csv', "
                   "word(policies, i)) using 11:7 with linespoints lc i title word(policies, i), "
                   "for [i=1:words(policies)] sprintf('< grep \"^%s-T\" tune.csv', "
                   "word(policies, i)) using 15:14 with lines dashtype 2 lc i "
                   "title word(policies, i).' (model)'\nunset logscale x");
    tune_plot_both(gp, "tune-ingest-T",
                   "set title 'ingest throughput against size ratio T'\n"
                   "set xlabel 'size ratio T'\nset ylabel 'puts per second'\n"
                   "plot for [p in policies] sprintf('< grep \"^%s-T\" tune.csv', p) "
                   "using 3:6 with linespoints title p");
    if ((status = tune_close_file(gp, f->out, "tune.gp"))) return status;
    return tune_plot(f->out, "tune.gp");
}

/* ---- flags -------------------------------------------------------------------------------- */

static const char tune_help[] =
    "usage: experiments tune [flags] [--<option>=<value>...]\n"
    "       experiments growth [flags] [--<option>=<value>...]\n"
    "tune: for each policy and size ratio, on a fresh database: load --num random keys\n"
    "(16-byte keys, 100-byte values), overwrite a fraction, wait for compactions, then\n"
    "existing-key lookups, zero-result lookups, 10-key scans and long scans. growth: for each\n"
    "policy, load --num keys and every num/samples keys measure put, get and scan throughput.\n"
    "Both write CSV, Markdown and gnuplot plots (PNG, SVG) into --out.\n"
    "  --policies=LIST     leveled,tiered,dostoevsky,fluid:K:Z (default "
    "leveled,tiered,dostoevsky)\n"
    "  --size_ratios=LIST  size ratios T, tune only (default 2,4,6,8,10; growth uses size_ratio)\n"
    "  --num=N             keys to load (default 2000000)\n"
    "  --reads=N           lookups of each kind (default min(num, 100000))\n"
    "  --scans=N           scans of each kind (default min(num, 10000))\n"
    "  --long_scan=N       keys read by a long scan (default 1000)\n"
    "  --overwrite=F       fraction of the keys written again after the load (default 0.2)\n"
    "  --samples=N         growth: measurements while loading (default 20)\n"
    "  --seed=N            seed of keys and values (default 301)\n"
    "  --db=DIR            the database (default /tmp/lamina-tune; destroyed per configuration)\n"
    "  --out=DIR           results (required; created if absent)\n"
    "Other --name=value flags are engine options (experiments --help lists them).\n";

static int tune_parse_list_int(const char *s, int *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 2 || v > 100 || (*end && *end != ',')) return -1;
        out[n++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return *s ? -1 : n;
}

/* One policy name: a preset, or fluid:K:Z. */
static int tune_parse_policy(const char *s, size_t len, tune_config *c)
{
    static const struct {
        const char *name;
        int preset;
    } presets[] = {{"leveled", LAMINA_COMPACTION_LEVELED},
                   {"tiered", LAMINA_COMPACTION_TIERED},
                   {"dostoevsky", LAMINA_COMPACTION_DOSTOEVSKY}};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strlen(presets[i].name) == len && memcmp(s, presets[i].name, len) == 0) {
            c->preset = presets[i].preset;
            c->k = c->z = 0;
            snprintf(c->name, sizeof c->name, "%s", presets[i].name);
            return 0;
        }
    int k, z, used = 0;
    if (len < 48 && sscanf(s, "fluid:%d:%d%n", &k, &z, &used) == 2 && (size_t)used == len &&
        k >= 1 && k <= 100 && z >= 1 && z <= 100) {
        c->preset = LAMINA_COMPACTION_LEVELED;
        c->k = k;
        c->z = z;
        snprintf(c->name, sizeof c->name, "fluid_%d_%d", k, z);
        return 0;
    }
    return -1;
}

static int tune_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "experiments: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(experiments tune --help)\n");
    return EXIT_USAGE;
}

/* A count flag: an integer >= lo (bench_flag_int's message names the flag, value and range). */
static int tune_int(const char *name, const char *v, int64_t lo, int64_t *out)
{
    return bench_flag_int(name, v, lo, INT64_MAX, out);
}

static int tune_parse(int argc, char **argv, int growth, tune_flags *f)
{
    const char *policies = "leveled,tiered,dostoevsky", *ratios = "2,4,6,8,10";
    int reads_given = 0, scans_given = 0, status = 0;
    *f = (tune_flags){.db = "/tmp/lamina-tune",
                      .num = 2000000,
                      .reads = 100000,
                      .scans = 10000,
                      .long_scan = 1000,
                      .samples = 20,
                      .overwrite = 0.2,
                      .seed = 301};
    lamina_options_init(&f->opts);
    f->opts.create_if_missing = 1;
    for (int i = 2; i < argc && status == 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(tune_help, stdout);
            return -1;
        }
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) != 0 || !eq) return tune_usage("unexpected argument '%s'", a);
        char name[64];
        size_t nl = (size_t)(eq - a - 2);
        if (nl >= sizeof name) return tune_usage("unknown flag '%s'", a);
        memcpy(name, a + 2, nl);
        name[nl] = '\0';
        const char *v = eq + 1;
        int64_t x;
        if (strcmp(name, "policies") == 0) {
            policies = v;
        } else if (strcmp(name, "size_ratios") == 0) {
            ratios = v;
        } else if (strcmp(name, "num") == 0) {
            status = tune_int(name, v, 1, &f->num);
        } else if (strcmp(name, "reads") == 0) {
            status = tune_int(name, v, 1, &f->reads);
            reads_given = 1;
        } else if (strcmp(name, "scans") == 0) {
            status = tune_int(name, v, 1, &f->scans);
            scans_given = 1;
        } else if (strcmp(name, "long_scan") == 0) {
            status = tune_int(name, v, 1, &f->long_scan);
        } else if (strcmp(name, "samples") == 0) {
            status = tune_int(name, v, 1, &f->samples);
        } else if (strcmp(name, "seed") == 0) {
            if ((status = tune_int(name, v, 0, &x)) == 0) f->seed = (uint64_t)x;
        } else if (strcmp(name, "overwrite") == 0) {
            status = bench_flag_real(name, v, 0.0, 1.0, 0, 0, &f->overwrite);
        } else if (strcmp(name, "db") == 0) {
            f->db = v;
        } else if (strcmp(name, "out") == 0) {
            f->out = v;
        } else if (lamina_options_set(&f->opts, name, v) != LAMINA_OK) {
            status = tune_usage("unknown flag or bad value '%s'", a);
        }
    }
    if (status) return status;
    if (!f->out) return tune_usage("%s needs --out=DIR", growth ? "growth" : "tune");
    if (!reads_given && f->reads > f->num) f->reads = f->num;
    if (!scans_given && f->scans > f->num) f->scans = f->num;
    int ts[TUNE_MAX_CONFIGS], nt = 1;
    ts[0] = (int)f->opts.size_ratio;
    if (!growth && (nt = tune_parse_list_int(ratios, ts, TUNE_MAX_CONFIGS)) <= 0)
        return tune_usage("bad --size_ratios '%s' (integers 2..100, comma-separated)", ratios);
    for (const char *p = policies; *p;) {
        size_t len = strcspn(p, ",");
        tune_config c;
        if (tune_parse_policy(p, len, &c) != 0)
            return tune_usage("unknown policy in '%s' (leveled, tiered, dostoevsky, fluid:K:Z)",
                              policies);
        for (int i = 0; i < nt; i++) {
            if (f->nconfigs == TUNE_MAX_CONFIGS) return tune_usage("%s", "too many configurations");
            c.t = ts[i];
            tune_config *d = &f->configs[f->nconfigs++];
            *d = c;
            snprintf(d->name, sizeof d->name, "%.32s-T%d", c.name, c.t);
        }
        p += len + (p[len] == ',');
    }
    if (f->nconfigs == 0) return tune_usage("%s", "--policies names no policy");
    if (mkdir(f->out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "experiments: cannot create %s: %s\n", f->out, strerror(errno));
        return EXIT_USAGE;
    }
    return 0;
}

/* ---- the two experiments ----------------------------------------------------------------- */

int bench_tune(int argc, char **argv)
{
    tune_flags *f = malloc(sizeof *f);
    if (!f) return EXIT_DBERR;
    int status = tune_parse(argc, argv, 0, f);
    tune_result *res = status ? NULL : calloc((size_t)f->nconfigs, sizeof *res);
    if (status || !res) goto out;
    tune_progress prog = {.tty = isatty(STDERR_FILENO)};
    printf("tune: %d configurations, %" PRId64 " keys, overwrite %.2f, %" PRId64
           " lookups and %" PRId64 " scans of each kind -> %s\n",
           f->nconfigs, f->num, f->overwrite, f->reads, f->scans, f->out);
    for (int i = 0; i < f->nconfigs && status == 0; i++) {
        char label[96];
        snprintf(label, sizeof label, "[%d/%d] %s", i + 1, f->nconfigs, f->configs[i].name);
        status = tune_run_config(f, &f->configs[i], &res[i], &prog, label);
        if (status) break;
        const tune_result *r = &res[i];
        printf("%-22s : ingest %.0f ops/s w_amp %.2f (model %.2f) space_amp %.2f (model %.2f) "
               "blocks/absent %.4f (model %.4f) get p50 %.1f us scan10 p50 %.1f us\n",
               f->configs[i].name, r->ingest_ops, r->w_amp, r->model.write_amp, r->space_amp,
               r->model.space_amp, r->blocks_absent, r->model.zero_lookup_cost, r->p50[OP_GET],
               r->p50[OP_SCAN_SHORT]);
        fflush(stdout);
    }
    if (status == 0) status = tune_write(f, res);
out:
    if (!res && status == 0) status = EXIT_DBERR;
    free(res);
    free(f);
    return status < 0 ? 0 : status;
}

int bench_growth(int argc, char **argv)
{
    tune_flags *f = malloc(sizeof *f);
    if (!f) return EXIT_DBERR;
    int status = tune_parse(argc, argv, 1, f);
    FILE *csv = status ? NULL : tune_create(f->out, "growth.csv");
    if (status || !csv) goto out;
    fprintf(csv, "config,keys,bytes,put_ops,get_ops,scan10_ops\n");
    tune_progress prog = {.tty = isatty(STDERR_FILENO)};
    uint64_t n = (uint64_t)f->num, step = n / (uint64_t)f->samples;
    if (step == 0) step = 1;
    double *lat = malloc((size_t)(f->reads > f->scans ? f->reads : f->scans) * sizeof *lat);
    if (!lat) {
        status = EXIT_DBERR;
        goto out;
    }
    for (int i = 0; i < f->nconfigs && status == 0; i++) {
        const tune_config *c = &f->configs[i];
        lamina_options o;
        tune_config_options(f, c, &o);
        lamina_db *db = NULL;
        if ((status = tune_open_fresh(f->db, &o, &db))) break;
        tune_perm perm;
        tune_perm_init(&perm, n, f->seed);
        uint64_t vrng = f->seed ^ 0x5eed, rng = f->seed;
        char label[96];
        snprintf(label, sizeof label, "[%d/%d] %s", i + 1, f->nconfigs, c->name);
        tune_progress_set(&prog, label);
        for (uint64_t at = 0; at < n && status == 0;) {
            uint64_t to = at + step < n ? at + step : n;
            double t0 = bench_now();
            if ((status = tune_put_range(db, &perm, at, to, &vrng, &prog, n))) break;
            double put_ops = (double)(to - at) / (bench_now() - t0), get_ops, scan_ops = 0;
            at = to;
            /* Lookups and scans of keys loaded so far: the first `at` of the load order are
             * the indexes perm(0..at), so draw j and look up perm(j). */
            uint64_t reads = (uint64_t)f->reads / (uint64_t)f->samples + 1;
            lamina_read_options ro;
            lamina_read_options_init(&ro);
            char key[TUNE_KEY], vbuf[TUNE_VALUE];
            size_t vlen;
            double g0 = bench_now();
            for (uint64_t r = 0; r < reads && status == 0; r++) {
                tune_key(key, tune_perm_at(&perm, bench_rand(&rng) % at));
                int rc = lamina_get_into(db, &ro, key, TUNE_KEY, vbuf, sizeof vbuf, &vlen);
                if (rc != LAMINA_OK) status = tune_fail(db, "get", rc);
            }
            get_ops = (double)reads / (bench_now() - g0);
            uint64_t scans = (uint64_t)f->scans / (uint64_t)f->samples + 1;
            if (status == 0)
                status = tune_ops(db, f, OP_SCAN_SHORT, scans, n, &rng, lat, &scan_ops, &prog);
            fprintf(csv, "%s,%" PRIu64 ",%" PRIu64 ",%.0f,%.0f,%.0f\n", c->name, at,
                    at * (TUNE_KEY + TUNE_VALUE), put_ops, get_ops, scan_ops);
        }
        tune_progress_clear(&prog);
        int rc = lamina_close(db);
        if (rc != LAMINA_OK && status == 0) status = tune_fail(NULL, "close", rc);
        printf("%-22s : grew to %" PRIu64 " keys in %" PRId64 " samples\n", c->name, n, f->samples);
    }
    free(lat);
    if ((status = status ? status : tune_close_file(csv, f->out, "growth.csv")) != 0) {
        csv = NULL;
        goto out;
    }
    csv = NULL;
    FILE *gp = tune_create(f->out, "growth.gp");
    if (!gp) {
        status = EXIT_DBERR;
        goto out;
    }
    fprintf(gp,
            "set datafile separator ','\nset key outside right\nset grid\n"
            "configs = system(\"tail -n +2 growth.csv | cut -d, -f1 | sort -u | tr '\\\\n' ' '\")\n"
            "set xlabel 'data inserted (MB)'\n");
    static const char *const what[3][2] = {{"4", "put"}, {"5", "get"}, {"6", "scan10"}};
    for (int k = 0; k < 3; k++) {
        char base[32], body[512];
        snprintf(base, sizeof base, "growth-%s", what[k][1]);
        snprintf(body, sizeof body,
                 "set title '%s throughput while the database grows'\nset ylabel 'ops per second'\n"
                 "plot for [c in configs] sprintf('< grep \"^%%s,\" growth.csv', c) "
                 "using ($3/1e6):%s with linespoints title c",
                 what[k][1], what[k][0]);
        tune_plot_both(gp, base, body);
    }
    if ((status = tune_close_file(gp, f->out, "growth.gp")) == 0)
        status = tune_plot(f->out, "growth.gp");
out:
    if (csv) fclose(csv);
    free(f);
    return status < 0 ? 0 : status;
}

/* ---- experiments plot: the interval report of --report_interval_seconds ------------------ */

int bench_plot(int argc, char **argv)
{
    const char *report = NULL, *out = NULL;
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "--report_file=", 14) == 0) {
            report = argv[i] + 14;
        } else if (strncmp(argv[i], "--out=", 6) == 0) {
            out = argv[i] + 6;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: experiments plot --report_file=PATH [--out=DIR]\n"
                   "Plots the CSV of experiments --report_interval_seconds: operations per "
                   "second, p99\nlatency and stall time per interval, one line per benchmark, "
                   "into DIR/report-*.png\nand .svg (DIR: the CSV's directory) through "
                   "gnuplot; DIR/report.gp stays.\n");
            return 0;
        } else {
            fprintf(stderr, "experiments: plot: unknown flag '%s' (experiments plot --help)\n",
                    argv[i]);
            return EXIT_USAGE;
        }
    }
    if (report == NULL) {
        fprintf(stderr, "experiments: plot needs --report_file=PATH\n");
        return EXIT_USAGE;
    }
    /* gnuplot runs in DIR, so the script names the CSV by its absolute path */
    char path[4096], dir[3072];
    if (realpath(report, path) == NULL) {
        fprintf(stderr, "experiments: --report_file=%s: %s\n", report, strerror(errno));
        return EXIT_USAGE;
    }
    if (strpbrk(path, "'\"\\") != NULL) {
        fprintf(stderr, "experiments: --report_file=%s: a path with quotes or backslashes\n",
                report);
        return EXIT_USAGE;
    }
    const char *d = out ? out : path;
    size_t dlen = out ? strlen(out) : (size_t)(strrchr(path, '/') - path); /* realpath's has one */
    if (dlen >= sizeof dir) {
        fprintf(stderr, "experiments: plot: the directory %s is too long a path\n", d);
        return EXIT_USAGE;
    }
    memcpy(dir, d, dlen);
    dir[dlen] = '\0';
    if (dir[0] == '\0') snprintf(dir, sizeof dir, "/");
    if (out != NULL && mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "experiments: --out=%s: %s\n", out, strerror(errno));
        return EXIT_USAGE;
    }
    FILE *gp = tune_create(dir, "report.gp");
    if (gp == NULL) return EXIT_DBERR;
    /* the benchmarks in the order they ran; the rows of one are those ending in ",name" */
    fprintf(gp,
            "set datafile separator ','\nset key outside right\nset grid\nreport = '%s'\n"
            "benchmarks = system(\"tail -n +2 '\" . report . \"' | cut -d, -f5 | "
            "awk '!seen[$0]++' | tr '\\\\n' ' '\")\n"
            "set xlabel 'seconds into the benchmark'\n",
            path);
    static const char *const what[3][4] = {
        {"qps", "2", "operations per second", "unset logscale y\nset yrange [0:1<*]"},
        {"p99", "3", "p99 latency (microseconds)", "set logscale y\nset yrange [*:*]"},
        {"stall", "4", "write stall (microseconds)", "unset logscale y\nset yrange [0:1<*]"}};
    for (int k = 0; k < 3; k++) {
        char base[32], body[512];
        snprintf(base, sizeof base, "report-%s", what[k][0]);
        snprintf(body, sizeof body,
                 "set title '%s in each interval'\nset ylabel '%s'\n%s\n"
                 "plot for [b in benchmarks] sprintf('< grep \",%%s$\" \"%%s\"', b, report) "
                 "using 1:%s with linespoints title b",
                 what[k][2], what[k][2], what[k][3], what[k][1]);
        tune_plot_both(gp, base, body);
    }
    int status = tune_close_file(gp, dir, "report.gp");
    return status ? status : tune_plot(dir, "report.gp");
}
