/* test_experiments.c — the built experiments binary as a child process (posix_spawn) on a
 * database in a fresh /tmp directory: its db_bench flags take effect (--writes, --duration,
 * --batch_size, --readwritepercent, --benchmark_write_rate_limit, --disable_wal), the interval
 * report file, the histogram block in the shape compare.sh and db_bench users read, --version,
 * and bad flags named with their value and range. Speed is never asserted. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tdir.h"

extern char **environ;

static char tmpdir[64];
static char dbflag[160];

static void exp_setup(void)
{
    tdir_make(tmpdir, sizeof tmpdir, "tools");
    snprintf(dbflag, sizeof dbflag, "--db=%s/db", tmpdir);
}

static void exp_teardown(void)
{
    if (tmpdir[0] != '\0') tdir_remove(tmpdir);
}

TestSuite(experiments, .init = exp_setup, .fini = exp_teardown, .timeout = 300);

typedef struct proc_out {
    int status; /* exit status, or -1 if it did not exit normally */
    char *out, *err;
    double seconds; /* wall time of the run */
} proc_out;

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    cr_assert_not_null(buf);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            cr_assert_not_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs build/tools/experiments with the NULL-terminated arguments, the database flag added
 * after them, capturing stdout and stderr. */
static proc_out run_exp(const char *const *args)
{
    const char *root = getenv("LAMINA_BUILD_ROOT");
    cr_assert_not_null(root, "LAMINA_BUILD_ROOT is not set (run through meson test)");
    char path[4096], out_path[128], err_path[128];
    snprintf(path, sizeof path, "%s/tools/experiments", root);
    cr_assert_eq(access(path, X_OK), 0, "%s is not built", path);
    char *argv[40];
    int n = 0;
    argv[n++] = "experiments";
    for (int i = 0; args[i] != NULL && n < 38; i++)
        argv[n++] = (char *)args[i];
    argv[n++] = dbflag; /* last, so that a subcommand (tune) stays argv[1] */
    argv[n] = NULL;
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    proc_out r = {0};
    double t0 = now_seconds();
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    r.seconds = now_seconds() - t0;
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r.out = read_all(out_path);
    r.err = read_all(err_path);
    return r;
}

#define EXP(...) run_exp((const char *const[]){__VA_ARGS__, NULL})

static void proc_free(proc_out *r)
{
    free(r->out);
    free(r->err);
}

/* The report line of benchmark name: its seconds and operations; fails the test without one. */
static const char *report_line(const char *out, const char *name, double *seconds, long *ops)
{
    char head[64], fmt[128];
    snprintf(head, sizeof head, "\n%-12s : ", name);
    const char *line = strstr(out, head);
    cr_assert_not_null(line, "no %s line:\n%s", name, out);
    snprintf(fmt, sizeof fmt, "%s%%*f micros/op %%*d ops/sec %%lf seconds %%ld operations;", head);
    double s;
    long n;
    cr_assert_eq(sscanf(line, fmt, &s, &n), 2, "%.300s", line);
    if (seconds) *seconds = s;
    if (ops) *ops = n;
    return line + 1;
}

static long ops_of(const char *out, const char *name)
{
    long n;
    report_line(out, name, NULL, &n);
    return n;
}

static int count_substr(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

Test(experiments, writes_sets_the_operations_of_write_benchmarks)
{
    proc_out r =
        EXP("--benchmarks=fillrandom,overwrite,fillseq,readrandom", "--num=2000", "--writes=500");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(ops_of(r.out, "fillrandom"), 500);
    cr_expect_eq(ops_of(r.out, "overwrite"), 500);
    cr_expect_eq(ops_of(r.out, "fillseq"), 500);
    cr_expect_eq(ops_of(r.out, "readrandom"), 2000, "reads stay at --num");
    proc_free(&r);

    r = EXP("--benchmarks=fillseq,readseq", "--num=300", "--writes=-1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(ops_of(r.out, "fillseq"), 300, "-1 means --num");
    cr_expect_eq(ops_of(r.out, "readseq"), 300);
    proc_free(&r);
}

Test(experiments, duration_runs_the_random_benchmarks_for_that_time)
{
    /* 10^11 operations would take hours: only the time limit can end these */
    proc_out r = EXP("--benchmarks=fillrandom,readrandom", "--num=100000000000", "--duration=1",
                     "--write_buffer_size=1048576");
    cr_assert_eq(r.status, 0, "%s", r.err);
    double secs;
    long ops;
    report_line(r.out, "fillrandom", &secs, &ops);
    cr_expect(ops > 0 && ops < 100000000000L, "fillrandom ops %ld", ops);
    cr_expect(secs < 20.0, "fillrandom ran %.1f s", secs);
    report_line(r.out, "readrandom", &secs, &ops);
    cr_expect(ops > 0 && ops < 100000000000L, "readrandom ops %ld", ops);
    cr_expect(r.seconds < 40.0, "the run took %.1f s", r.seconds);
    proc_free(&r);

    /* db_bench: the duration, not the count, ends a random benchmark; fillseq keeps its count */
    r = EXP("--benchmarks=fillseq,readrandom", "--num=200", "--duration=2");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(ops_of(r.out, "fillseq"), 200);
    cr_expect_gt(ops_of(r.out, "readrandom"), 200, "readrandom ran past its count for 2 s");
    cr_expect(r.seconds < 60.0, "the run took %.1f s", r.seconds);
    proc_free(&r);
}

Test(experiments, report_file_is_a_csv_with_a_header_and_rows)
{
    char path[128], flag[160];
    snprintf(path, sizeof path, "%s/report.csv", tmpdir);
    snprintf(flag, sizeof flag, "--report_file=%s", path);
    proc_out r = EXP("--benchmarks=fillrandom,readrandom", "--num=100000000000", "--duration=2",
                     "--report_interval_seconds=1", flag);
    cr_assert_eq(r.status, 0, "%s", r.err);
    proc_free(&r);
    char *csv = read_all(path);
    const char *header =
        "secs_elapsed,interval_qps,interval_p99_us,interval_stall_micros,benchmark\n";
    cr_assert_eq(strncmp(csv, header, strlen(header)), 0, "%s", csv);
    int rows[2] = {0, 0};
    for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        double secs, qps, p99;
        unsigned long long stall;
        char name[32];
        cr_assert_eq(sscanf(line + 1, "%lf,%lf,%lf,%llu,%31[a-z]", &secs, &qps, &p99, &stall, name),
                     5, "row: %.80s", line + 1);
        cr_expect(secs > 0 && secs < 20, "secs_elapsed %g", secs);
        cr_expect(qps > 0 && p99 > 0, "an interval of a running benchmark did nothing: %.80s",
                  line + 1);
        if (strcmp(name, "fillrandom") == 0)
            rows[0]++;
        else if (strcmp(name, "readrandom") == 0)
            rows[1]++;
        else
            cr_expect_fail("row of %s", name);
    }
    cr_expect_geq(rows[0], 1, "%s", csv);
    cr_expect_geq(rows[1], 1, "%s", csv);
    free(csv);

    /* a report file without an interval is a mistake, not silence */
    r = EXP("--benchmarks=fillseq", "--num=10", flag);
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, "--report_interval_seconds"), "%s", r.err);
    proc_free(&r);
}

Test(experiments, readrandomwriterandom_reports_reads_and_writes_in_its_proportion)
{
    proc_out r = EXP("--benchmarks=fillseq,readrandomwriterandom", "--num=1000",
                     "--readwritepercent=70", "--threads=2");
    cr_assert_eq(r.status, 0, "%s", r.err);
    long ops;
    const char *line = report_line(r.out, "readrandomwriterandom", NULL, &ops);
    cr_expect_eq(ops, 2000, "two threads of --num operations each");
    unsigned long reads, writes, total, found;
    const char *m = strstr(line, "( reads:");
    cr_assert_not_null(m, "%.300s", line);
    cr_assert_eq(
        sscanf(m, "( reads:%lu writes:%lu total:%lu found:%lu)", &reads, &writes, &total, &found),
        4, "%.300s", line);
    cr_expect_eq(reads, 1400);
    cr_expect_eq(writes, 600);
    cr_expect_eq(total, 2000);
    cr_expect_eq(found, reads, "fillseq wrote every key read: %lu of %lu", found, reads);
    cr_expect_not_null(strstr(r.out, "\ncache        : hits="), "a read benchmark's cache line");
    proc_free(&r);

    r = EXP("--benchmarks=readrandomwriterandom", "--num=500", "--readwritepercent=0");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, "( reads:0 writes:500 total:500 found:0)"), "%s", r.out);
    proc_free(&r);

    /* the larger of --reads and --writes, as db_bench's readwrites */
    r = EXP("--benchmarks=readrandomwriterandom", "--num=500", "--reads=100", "--writes=300");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(ops_of(r.out, "readrandomwriterandom"), 300);
    proc_free(&r);
}

Test(experiments, batch_size_writes_every_key_in_batches)
{
    proc_out r = EXP("--benchmarks=fillseq,readseq,readrandom", "--num=1000", "--batch_size=64",
                     "--histogram=1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(ops_of(r.out, "fillseq"), 1000);
    cr_expect_eq(ops_of(r.out, "readseq"), 1000, "every key is in the database");
    /* one latency sample per lamina_write: ceil(1000 / 64) */
    const char *fill = strstr(r.out, "\nfillseq ");
    cr_assert_not_null(fill);
    cr_expect_not_null(strstr(fill, "\nCount: 16 "), "%s", fill);
    proc_free(&r);

    /* multireadrandom keeps --batch_size as keys per lamina_multi_get */
    r = EXP("--benchmarks=fillseq,multireadrandom", "--num=500", "--batch_size=7", "--reads=70",
            "--histogram=1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    const char *multi = report_line(r.out, "multireadrandom", NULL, NULL);
    cr_expect_not_null(strstr(multi, "(70 of 70 found)"), "%.300s", multi);
    cr_expect_not_null(strstr(multi, "\nCount: 10 "), "%.300s", multi);
    proc_free(&r);

    /* deletes in batches remove what fillseq wrote: the scan afterwards finds fewer keys */
    r = EXP("--benchmarks=fillseq,deleterandom,readseq", "--num=1000", "--batch_size=50");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(ops_of(r.out, "deleterandom"), 1000);
    long left = ops_of(r.out, "readseq");
    cr_expect(left > 0 && left < 1000, "readseq after deletes: %ld", left);
    proc_free(&r);
}

Test(experiments, histogram_prints_db_bench_block_and_one_report_line_per_benchmark)
{
    proc_out r =
        EXP("--benchmarks=fillrandom,readrandom,seekrandom", "--num=2000", "--histogram=1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    /* compare.sh takes every line with "micros/op": only the report lines may have it */
    cr_expect_eq(count_substr(r.out, "micros/op"), 3, "%s", r.out);
    cr_expect_eq(count_substr(r.out, "\nMicroseconds per op:\n"), 3, "%s", r.out);
    const char *read = report_line(r.out, "readrandom", NULL, NULL);
    unsigned long long count;
    double avg, sd, min, med, max, p[5];
    const char *c = strstr(read, "\nCount: ");
    cr_assert_not_null(c);
    cr_assert_eq(sscanf(c,
                        "\nCount: %llu Average: %lf StdDev: %lf\nMin: %lf Median: %lf Max: %lf"
                        "\nPercentiles: P50: %lf P75: %lf P99: %lf P99.9: %lf P99.99: %lf",
                        &count, &avg, &sd, &min, &med, &max, &p[0], &p[1], &p[2], &p[3], &p[4]),
                 11, "%.500s", c);
    cr_expect_eq(count, 2000);
    cr_expect(min <= avg && avg <= max && sd >= 0, "%.500s", c);
    /* the percentiles print with 2 decimals, min, median and max with more: allow rounding */
    const double r2 = 0.005 + 1e-9;
    cr_expect(fabs(med - p[0]) <= r2, "%.500s", c);
    cr_expect(min <= p[0] + r2 && p[0] <= p[1] && p[1] <= p[2] && p[2] <= p[3] && p[3] <= p[4] &&
                  p[4] <= max + r2,
              "%.500s", c);
    proc_free(&r);
}

Test(experiments, write_rate_limit_paces_the_writers)
{
    /* 500 writes of 116 bytes at 58,000 bytes/s: the last is due after 499 * 116 / 58000 s;
     * pacing only ever adds time, so this lower bound holds on any machine */
    proc_out r = EXP("--benchmarks=fillrandom", "--num=500", "--benchmark_write_rate_limit=58000",
                     "--threads=2", "--writes=250");
    cr_assert_eq(r.status, 0, "%s", r.err);
    double secs;
    long ops;
    report_line(r.out, "fillrandom", &secs, &ops);
    cr_expect_eq(ops, 500);
    cr_expect_geq(secs, 0.9, "500 paced writes took %.3f s", secs);
    proc_free(&r);
}

Test(experiments, disable_wal_writes_are_read_back)
{
    proc_out r = EXP("--benchmarks=fillseq,readrandom", "--num=1000", "--disable_wal=1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    const char *read = report_line(r.out, "readrandom", NULL, NULL);
    cr_expect_not_null(strstr(read, "(1000 of 1000 found)"), "%.300s", read);
    proc_free(&r);
}

Test(experiments, version_prints_experiments_and_liblamina_versions)
{
    proc_out r = EXP("--version");
    cr_assert_eq(r.status, 0, "%s", r.err);
    char a[32], b[32];
    cr_assert_eq(sscanf(r.out, "experiments %31s\nliblamina %31s\n", a, b), 2, "%s", r.out);
    cr_expect_str_eq(a, b, "one build, one version");
    cr_expect_eq(count_substr(r.out, "\n"), 2, "%s", r.out);
    proc_free(&r);
}

Test(experiments, bad_flags_exit_2_naming_the_flag_the_value_and_the_range)
{
    static const char *const cases[][2] = {
        {"--sync=2", "'2' for --sync (an integer in [0, 1]"},
        {"--key_size=70000", "'70000' for --key_size (an integer in [1, 65535]"},
        {"--value_size=600000", "'600000' for --value_size (an integer in [0, 524288]"},
        {"--num=0", "'0' for --num (an integer >= 1"},
        {"--duration=-1", "'-1' for --duration (an integer in [0, "},
        {"--writes=-2", "'-2' for --writes (an integer >= -1"},
        {"--readwritepercent=101", "'101' for --readwritepercent (an integer in [0, 100]"},
        {"--disable_wal=yes", "'yes' for --disable_wal (an integer in [0, 1]"},
        {"--benchmark_write_rate_limit=-5", "'-5' for --benchmark_write_rate_limit"},
        {"--report_interval_seconds=1.5", "'1.5' for --report_interval_seconds"},
        {"--batch_size=0", "'0' for --batch_size (an integer in [1, "},
        {"--compression_ratio=0", "'0' for --compression_ratio (a number in (0, 1]"},
        /* an option of the database options table: its own message gives the range */
        {"--bloom_bits=1000", "'1000' for --bloom_bits: option bloom_bits: \"1000\" is out of "
                              "range; allowed 0..64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proc_out r = EXP("--benchmarks=fillseq", "--num=10", cases[i][0]);
        cr_expect_eq(r.status, 2, "%s: exit %d", cases[i][0], r.status);
        cr_expect_not_null(strstr(r.err, "bad value "), "%s: %s", cases[i][0], r.err);
        cr_expect_not_null(strstr(r.err, cases[i][1]), "%s: %s", cases[i][0], r.err);
        cr_expect_eq(r.out[0], '\0', "%s: ran anyway: %s", cases[i][0], r.out);
        proc_free(&r);
    }
    proc_out u = EXP("--benchmarks=fillseq", "--no_such_flag=1");
    cr_expect_eq(u.status, 2);
    cr_expect_not_null(strstr(u.err, "unknown flag '--no_such_flag=1'"), "%s", u.err);
    proc_free(&u);
    /* tune's counts go through the same check */
    char oflag[160];
    snprintf(oflag, sizeof oflag, "--out=%s/tune", tmpdir);
    proc_out t = EXP("tune", oflag, "--num=0");
    cr_expect_eq(t.status, 2, "tune --num=0: exit %d", t.status);
    cr_expect_not_null(strstr(t.err, "bad value '0' for --num (an integer >= 1"), "%s", t.err);
    proc_free(&t);
    t = EXP("tune", oflag, "--overwrite=1.5");
    cr_expect_eq(t.status, 2, "tune --overwrite=1.5: exit %d", t.status);
    cr_expect_not_null(strstr(t.err, "bad value '1.5' for --overwrite (a number in [0, 1]"), "%s",
                       t.err);
    proc_free(&t);
    proc_out r = EXP("--benchmarks=readrandomwriterandom,nosuch");
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, "'nosuch'"), "%s", r.err);
    proc_free(&r);
}

/* experiments plot: a gnuplot script over the report file (and its images when gnuplot is
 * installed), one line per benchmark. */
Test(experiments, plot_writes_a_gnuplot_script_of_the_report_file)
{
    char csv[128], rflag[160], out[128], oflag[160], gp[160], png[160];
    snprintf(csv, sizeof csv, "%s/report.csv", tmpdir);
    snprintf(rflag, sizeof rflag, "--report_file=%s", csv);
    snprintf(out, sizeof out, "%s/plots", tmpdir);
    snprintf(oflag, sizeof oflag, "--out=%s", out);
    FILE *f = fopen(csv, "w");
    cr_assert_not_null(f);
    fputs("secs_elapsed,interval_qps,interval_p99_us,interval_stall_micros,benchmark\n"
          "1.000,1000,5.00,0,fillrandom\n2.000,1200,6.00,300,fillrandom\n"
          "1.000,9000,2.00,0,readrandom\n",
          f);
    fclose(f);
    /* plot is a subcommand: argv[1], before the database flag run_exp adds */
    const char *root = getenv("LAMINA_BUILD_ROOT");
    cr_assert_not_null(root);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/tools/experiments' plot '%s' '%s' 2>/dev/null", root, rflag,
             oflag);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(gp, sizeof gp, "%s/report.gp", out);
    char *script = read_all(gp);
    cr_expect_not_null(strstr(script, csv), "%s", script);
    cr_expect_not_null(strstr(script, "using 1:2"), "%s", script);
    cr_expect_not_null(strstr(script, "using 1:3"), "%s", script);
    free(script);
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        snprintf(png, sizeof png, "%s/report-qps.png", out);
        cr_expect_eq(access(png, R_OK), 0, "%s not drawn", png);
    }
    snprintf(cmd, sizeof cmd, "'%s/tools/experiments' plot 2>/dev/null", root);
    int ws = system(cmd);
    cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 2, "plot without --report_file: %d", ws);
}
