/* e2e.c — end-to-end tests of the built kvctl and experiments programs, run as child
 * processes (posix_spawn) on a database in a fresh /tmp directory: the demo's load-and-verify
 * job on 20,000 real (or generated) paths, exit codes, escaping, and db_bench output. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "tdir.h"

extern char **environ;

/* The real key set shipped in data/ (975,425 sorted paths): every 48th line gives a slice
 * of 20,000 that spans the whole file, /usr/share/doc/ included. */
#define PATHS_FILE "data/paths-1m.txt.xz"
#define SLICE 20000
#define SLICE_STEP 48

static char tmpdir[64];
static char dbdir[128];

/* The output of one child process. */
typedef struct proc_out {
    int status; /* exit status, or -1 if it did not exit normally */
    char *out;
    size_t out_len;
    char *err;
} proc_out;

static void e2e_setup(void)
{
    tdir_make(tmpdir, sizeof(tmpdir), "e2e");
    snprintf(dbdir, sizeof dbdir, "%s/db", tmpdir);
}

static void e2e_teardown(void)
{
    if (tmpdir[0] != '\0') tdir_remove(tmpdir);
}

TestSuite(e2e, .init = e2e_setup, .fini = e2e_teardown, .timeout = 600);

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
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
    if (len) *len = n;
    return buf;
}

static void write_all(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "create %s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static const char *tool_path(const char *name)
{
    static char path[4096];
    const char *root = getenv("LAMINA_BUILD_ROOT");
    cr_assert_not_null(root, "LAMINA_BUILD_ROOT is not set (run through meson test)");
    snprintf(path, sizeof path, "%s/tools/%s", root, name);
    cr_assert_eq(access(path, X_OK), 0, "%s is not built", path);
    return path;
}

/* Runs the tool with argv (NULL-terminated, argv[0] is the tool's name), stdin from in_path
 * (NULL: /dev/null), capturing stdout and stderr. */
static proc_out run_argv(char *const argv[], const char *in_path)
{
    proc_out r = {0};
    char out_path[128], err_path[128];
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path ? in_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, tool_path(argv[0]), &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", argv[0], strerror(rc));
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r.out = read_all(out_path, &r.out_len);
    r.err = read_all(err_path, NULL);
    return r;
}

/* kvctl with stdin from in_path and the NULL-terminated arguments in ap. */
static proc_out kvctl_va(const char *in_path, va_list ap)
{
    char *argv[32];
    int n = 0;
    argv[n++] = "kvctl";
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 31)
        argv[n++] = a;
    argv[n] = NULL;
    return run_argv(argv, in_path);
}

/* kvctl with stdin from in_path; the arguments follow, NULL-terminated. */
static proc_out kvctl_in(const char *in_path, ...)
{
    va_list ap;
    va_start(ap, in_path);
    proc_out r = kvctl_va(in_path, ap);
    va_end(ap);
    return r;
}

#define kvctl(...) kvctl_in(NULL, __VA_ARGS__, (char *)NULL)

static void proc_free(proc_out *r)
{
    free(r->out);
    free(r->err);
}

/* Runs kvctl with the NULL-terminated arguments and expects want on its standard output. */
static void kvctl_expect_out(const char *want, ...)
{
    va_list ap;
    va_start(ap, want);
    proc_out r = kvctl_va(NULL, ap);
    va_end(ap);
    cr_expect_str_eq(r.out, want);
    proc_free(&r);
}

#define expect_kvctl_out(want, ...) kvctl_expect_out(want, __VA_ARGS__, (char *)NULL)

/* Writes text to <tmpdir>/kv.txt, whose path is left in path (cap bytes). */
static void write_kv_file(char *path, size_t cap, const char *text)
{
    snprintf(path, cap, "%s/kv.txt", tmpdir);
    write_all(path, text, strlen(text));
}

/* A usage error: exit status 2 and a message on stderr. */
static void expect_usage_error(proc_out r, const char *what)
{
    cr_expect_eq(r.status, 2, "%s: exit status %d, want 2 (stderr: %s)", what, r.status, r.err);
    cr_expect_gt(strlen(r.err), 0, "%s: no message on stderr", what);
    cr_expect_eq(r.out_len, 0, "%s: unexpected output: %s", what, r.out);
    proc_free(&r);
}

static uint64_t test_rng(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The key slice: the first SLICE lines of the paths file, or generated path-like keys when it
 * is missing; returned shuffled with a fixed seed. */
static char **slice_keys(void)
{
    char **keys = calloc(SLICE, sizeof *keys);
    const char *root = getenv("LAMINA_SOURCE_ROOT");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "xz -dc '%s/%s' 2>/dev/null", root ? root : ".", PATHS_FILE);
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    if (f != NULL) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t got;
        for (size_t lineno = 0; n < SLICE && (got = getline(&line, &cap, f)) > 0; lineno++) {
            if (lineno % SLICE_STEP) continue;
            if (line[got - 1] == '\n') line[got - 1] = '\0';
            keys[n++] = strdup(line);
        }
        free(line);
        pclose(f);
    }
    static const char *const dirs[] = {"/usr/bin/", "/usr/share/doc/", "/etc/", "/usr/lib/x86_64/"};
    for (uint64_t s = 7; n < SLICE; n++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%spkg%04u/file-%06zu", dirs[n % 4],
                 (unsigned)(test_rng(&s) % 5000), n);
        keys[n] = strdup(buf);
    }
    uint64_t seed = 42;
    for (size_t i = SLICE - 1; i > 0; i--) {
        size_t j = test_rng(&seed) % (i + 1);
        char *t = keys[i];
        keys[i] = keys[j];
        keys[j] = t;
    }
    return keys;
}

static void hex_append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    while (*len + 2 * n + 2 > *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        *buf = realloc(*buf, *cap);
    }
    for (size_t i = 0; i < n; i++)
        *len += (size_t)sprintf(*buf + *len, "%02x", (unsigned char)s[i]);
    (*buf)[(*len)++] = '\n';
    (*buf)[*len] = '\0';
}

Test(e2e, loaded_paths_survive_reopen_with_counts_gets_prefix_scan_check_and_levels)
{
    char **keys = slice_keys();
    char keys_path[128];
    snprintf(keys_path, sizeof keys_path, "%s/keys.txt", tmpdir);
    FILE *f = fopen(keys_path, "w");
    cr_assert_not_null(f);
    for (size_t i = 0; i < SLICE; i++)
        fprintf(f, "%s\n", keys[i]);
    cr_assert_eq(fclose(f), 0);

    proc_out r = kvctl("--db", dbdir, "--write_buffer_size=65536", "load", "--keys", keys_path);
    cr_assert_eq(r.status, 0, "load: %s", r.err);
    cr_expect(strstr(r.err, "loaded 20000 records") != NULL, "load said: %s", r.err);
    proc_free(&r);

    r = kvctl("--db", dbdir, "count");
    cr_assert_eq(r.status, 0, "count: %s", r.err);
    cr_expect_str_eq(r.out, "20000\n");
    proc_free(&r);

    /* the value of each key is its line number in the shuffled file */
    for (size_t i = 0; i < SLICE; i += 3331) {
        char want[32];
        snprintf(want, sizeof want, "%zu\n", i + 1);
        char hexkey[1024] = "";
        for (size_t j = 0; keys[i][j] && j < 500; j++)
            sprintf(hexkey + 2 * j, "%02x", (unsigned char)keys[i][j]);
        r = kvctl("--db", dbdir, "--hex", "get", hexkey);
        cr_assert_eq(r.status, 0, "get %s: %s", keys[i], r.err);
        char wanthex[64] = "";
        for (size_t j = 0; want[j] != '\n'; j++)
            sprintf(wanthex + 2 * j, "%02x", (unsigned char)want[j]);
        strcat(wanthex, "\n");
        cr_expect_str_eq(r.out, wanthex, "get %s", keys[i]);
        proc_free(&r);
    }

    /* a prefix scan equals the sorted matching lines */
    const char *prefix = "/usr/bin/";
    qsort(keys, SLICE, sizeof *keys, cmp_str);
    size_t wlen = 0, wcap = 1, matches = 0;
    char *want = calloc(1, wcap);
    for (size_t i = 0; i < SLICE; i++)
        if (strncmp(keys[i], prefix, strlen(prefix)) == 0) {
            hex_append(&want, &wlen, &wcap, keys[i]);
            matches++;
        }
    cr_assert_gt(matches, 100, "the slice has too few keys under %s", prefix);
    r = kvctl("--db", dbdir, "--hex", "scan", "--prefix=2f7573722f62696e2f", "--keys-only");
    cr_assert_eq(r.status, 0, "scan: %s", r.err);
    cr_expect_eq(r.out_len, wlen, "scan --prefix printed %zu bytes, want %zu", r.out_len, wlen);
    cr_expect(r.out_len == wlen && memcmp(r.out, want, wlen) == 0,
              "scan --prefix differs from the sorted matching keys");
    proc_free(&r);
    free(want);

    r = kvctl("--db", dbdir, "check");
    cr_assert_eq(r.status, 0, "check: %s", r.err);
    cr_expect(strncmp(r.out, "ok: 20000 keys (", 16) == 0, "%s", r.out);
    proc_free(&r);

    r = kvctl("--db", dbdir, "stats");
    cr_assert_eq(r.status, 0, "stats: %s", r.err);
    int with_data = 0;
    for (char *line = r.out; line != NULL && *line; line = strchr(line, '\n')) {
        if (*line == '\n') line++;
        int level;
        unsigned long runs, tables;
        /* the table's level rows: level, runs, tables, ... */
        if (sscanf(line, "%d %lu %lu", &level, &runs, &tables) == 3 && tables > 0) with_data++;
    }
    cr_expect_geq(with_data, 2, "stats shows %d levels with data:\n%s", with_data, r.out);
    proc_free(&r);

    for (size_t i = 0; i < SLICE; i++)
        free(keys[i]);
    free(keys);
}

/* How many times word occurs in text as a whole word (not inside a longer name). */
static int count_word(const char *text, const char *word)
{
    int n = 0;
    size_t len = strlen(word);
    for (const char *p = text; (p = strstr(p, word)) != NULL; p += len) {
        int before = p > text && (p[-1] == '_' || p[-1] == '-' || isalnum((unsigned char)p[-1]));
        int after = p[len] == '_' || p[len] == '-' || isalnum((unsigned char)p[len]);
        if (!before && !after) n++;
    }
    return n;
}

static uint64_t json_u64(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_integer(v), "stats --json: \"%s\" is missing or not an integer", key);
    return (uint64_t)json_integer_value(v);
}

Test(e2e, stats_prints_each_figure_once_and_json_that_parses_after_reopen)
{
    /* 60,000 keys in 64 KiB memtables: flushes and compactions into levels 1 and 2. */
    char path[256];
    snprintf(path, sizeof path, "%s/load.txt", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    uint64_t seed = 9;
    for (int i = 0; i < 60000; i++)
        fprintf(f, "key%012llu\tvalue-%d-%016llx\n",
                (unsigned long long)(test_rng(&seed) % 1000000000000ull), i,
                (unsigned long long)test_rng(&seed));
    cr_assert_eq(fclose(f), 0);
    proc_out r = kvctl("--db", dbdir, "--write_buffer_size=65536", "--target_file_size_base=65536",
                       "load", path);
    cr_assert_eq(r.status, 0, "load: %s", r.err);
    proc_free(&r);

    /* Each kvctl run is a reopen: the figures come from the MANIFEST. */
    r = kvctl("--db", dbdir, "stats");
    cr_assert_eq(r.status, 0, "stats: %s", r.err);
    const char *once[] = {"level",
                          "runs",
                          "tables",
                          "bytes",
                          "read",
                          "written",
                          "jobs",
                          "micros",
                          "total",
                          "levels_with_data",
                          "user_bytes_written",
                          "w_amp",
                          "space_amp",
                          "wal_bytes",
                          "stall_micros",
                          "cache_hits",
                          "trivial_moves",
                          "memtable_bytes"};
    for (size_t i = 0; i < sizeof once / sizeof once[0]; i++)
        cr_expect_eq(count_word(r.out, once[i]), 1, "\"%s\" appears %d times in:\n%s", once[i],
                     count_word(r.out, once[i]), r.out);
    double text_w_amp = -1;
    const char *w = strstr(r.out, "w_amp ");
    cr_assert_not_null(w, "%s", r.out);
    cr_assert_eq(sscanf(w, "w_amp %lf", &text_w_amp), 1);
    unsigned long long text_total_written = 0, ignored[4];
    const char *t = strstr(r.out, "\ntotal ");
    cr_assert_not_null(t, "%s", r.out);
    cr_assert_eq(sscanf(t + 1, "total %llu %llu %llu %llu %llu", &ignored[0], &ignored[1],
                        &ignored[2], &ignored[3], &text_total_written),
                 5, "%s", r.out);
    proc_free(&r);

    r = kvctl("--db", dbdir, "stats", "--json");
    cr_assert_eq(r.status, 0, "stats --json: %s", r.err);
    json_error_t jerr;
    json_t *root = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(root, "stats --json does not parse: %s (line %d)\n%s", jerr.text, jerr.line,
                       r.out);
    json_t *levels = json_object_get(root, "levels");
    cr_assert(json_is_array(levels) && json_array_size(levels) >= 3, "%s", r.out);
    uint64_t written = 0, read = 0, tables = 0, deep_count = 0;
    for (size_t i = 0; i < json_array_size(levels); i++) {
        json_t *row = json_array_get(levels, i);
        cr_expect_eq(json_u64(row, "level"), i);
        written += json_u64(row, "compaction_bytes_written");
        read += json_u64(row, "compaction_bytes_read");
        tables += json_u64(row, "tables");
        (void)json_u64(row, "runs");
        (void)json_u64(row, "bytes");
        (void)json_u64(row, "compaction_micros");
        if (i > 0) deep_count += json_u64(row, "compaction_count");
    }
    json_t *l0 = json_array_get(levels, 0);
    uint64_t flushed = json_u64(root, "bytes_flushed");
    cr_expect_gt(flushed, 0);
    cr_expect_eq(json_u64(l0, "compaction_bytes_written"), flushed, "level 0's work is flushes");
    cr_expect_eq(json_u64(l0, "compaction_count"), json_u64(root, "flushes"));
    cr_expect_gt(deep_count, 0, "no compaction ran: %s", r.out);
    cr_expect_eq(deep_count, json_u64(root, "compactions"));
    cr_expect_eq(written, json_u64(root, "bytes_written"));
    cr_expect_eq(written, (uint64_t)text_total_written, "the table's total differs");
    cr_expect_eq(read, json_u64(root, "compaction_bytes_read"));
    cr_expect_eq(written - flushed, json_u64(root, "compaction_bytes_written"));
    cr_expect_gt(tables, 0);
    cr_expect_geq(json_u64(root, "user_bytes_written"), 60000 * 40);
    json_t *wa = json_object_get(root, "w_amp"), *sa = json_object_get(root, "space_amp");
    cr_assert(json_is_real(wa) && json_is_real(sa), "%s", r.out);
    double w_amp = json_real_value(wa);
    cr_expect_geq(w_amp, 1.0);
    cr_expect(fabs(w_amp - (double)written / (double)flushed) < 0.001, "w_amp %f, counters %f",
              w_amp, (double)written / (double)flushed);
    cr_expect(fabs(w_amp - text_w_amp) < 0.001, "json w_amp %f, table %f", w_amp, text_w_amp);
    cr_expect_geq(json_real_value(sa), 1.0);
    json_decref(root);
    proc_free(&r);
}

Test(e2e, bad_arguments_exit_2_with_a_message)
{
    expect_usage_error(kvctl("--db", dbdir, "frobnicate"), "unknown command");
    expect_usage_error(kvctl("--db", dbdir, "--no_such_option=1", "count"), "unknown option");
    expect_usage_error(kvctl("--db", dbdir, "--bloom_bits=1000", "count"), "out of range");
    expect_usage_error(kvctl("--db", dbdir, "--compression_type=lz4", "count"), "bad enum");
    expect_usage_error(kvctl("--db", dbdir, "--write_buffer_size=abc", "count"), "bad size");
    expect_usage_error(kvctl("--db", dbdir, "put", "onlykey"), "missing value");
    expect_usage_error(kvctl("--db", dbdir, "get"), "missing key");
    expect_usage_error(kvctl("--db", dbdir, "count", "extra"), "extra argument");
    expect_usage_error(kvctl("--db", dbdir, "scan", "--limit=-3"), "bad limit");
    expect_usage_error(kvctl("--db", dbdir, "scan", "--nope"), "unknown scan flag");
    expect_usage_error(kvctl("--db", dbdir, "--hex", "get", "abc"), "odd hex");
    expect_usage_error(kvctl("count"), "no --db");
    expect_usage_error(kvctl("--db", dbdir), "no command");
    struct stat st;
    cr_expect_neq(stat(dbdir, &st), 0, "a usage error created the database directory");
}

Test(e2e, help_lists_commands_and_table_options)
{
    proc_out r = kvctl("--help");
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "scan") && strstr(r.out, "--write_buffer_size=") &&
                  strstr(r.out, "--compression_type=none|zstd"),
              "help: %s", r.out);
    proc_free(&r);
    r = kvctl("get", "--help");
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "get KEY") && strstr(r.out, "--bloom_bits="), "get --help: %s", r.out);
    proc_free(&r);
}

Test(e2e, missing_key_exits_1_and_missing_database_exits_3)
{
    proc_out r = kvctl("--db", dbdir, "count");
    cr_expect_eq(r.status, 3, "count on a missing database: %d", r.status);
    cr_expect(strncmp(r.err, "kvctl: ", 7) == 0 && strlen(r.err) > 10, "message: %s", r.err);
    proc_free(&r);
    r = kvctl("--db", dbdir, "get", "k");
    cr_expect_eq(r.status, 3);
    proc_free(&r);

    r = kvctl("--db", dbdir, "put", "k", "v");
    cr_assert_eq(r.status, 0, "put: %s", r.err);
    proc_free(&r);
    r = kvctl("--db", dbdir, "get", "absent");
    cr_expect_eq(r.status, 1);
    cr_expect_eq(r.out_len, 0);
    proc_free(&r);
    r = kvctl("--db", dbdir, "get", "k");
    cr_expect_eq(r.status, 0);
    cr_expect_str_eq(r.out, "v\n");
    proc_free(&r);
    r = kvctl("--db", dbdir, "del", "k");
    cr_expect_eq(r.status, 0);
    proc_free(&r);
    r = kvctl("--db", dbdir, "get", "k");
    cr_expect_eq(r.status, 1, "a deleted key is found");
    proc_free(&r);
}

Test(e2e, tab_newline_backslash_and_binary_round_trip_through_hex)
{
    /* key "a\tb\nc\\" NUL 0xff, value "t\t" */
    proc_out r = kvctl("--db", dbdir, "--hex", "put", "6109620a635c00ff", "7409");
    cr_assert_eq(r.status, 0, "put: %s", r.err);
    proc_free(&r);
    r = kvctl("--db", dbdir, "--hex", "get", "6109620A635C00FF");
    cr_expect_eq(r.status, 0);
    cr_expect_str_eq(r.out, "7409\n");
    proc_free(&r);
    r = kvctl("--db", dbdir, "dump");
    cr_expect_eq(r.status, 0);
    cr_expect_str_eq(r.out, "a\\tb\\nc\\\\\\x00\\xff\tt\\t\n");
    proc_free(&r);
    expect_kvctl_out("6109620a635c00ff\t7409\n", "--db", dbdir, "--hex", "dump");
    expect_kvctl_out("6109620a635c00ff\n", "--db", dbdir, "--hex", "scan", "--prefix=6109",
                     "--keys-only");
}

Test(e2e, scan_bounds_limit_and_reverse)
{
    char path[128];
    write_kv_file(path, sizeof path, "a\t1\nb\t2\nba\t3\nbb\t4\nc\t5\n");
    proc_out r = kvctl_in(path, "--db", dbdir, "load", "-", (char *)NULL);
    cr_assert_eq(r.status, 0, "load: %s", r.err);
    proc_free(&r);
    expect_kvctl_out("b\t2\nba\t3\n", "--db", dbdir, "scan", "--from=b", "--to=bb");
    expect_kvctl_out("bb\nba\nb\n", "--db", dbdir, "scan", "--prefix=b", "--reverse",
                     "--keys-only");
    expect_kvctl_out("a\t1\nb\t2\n", "--db", dbdir, "scan", "--limit=2");
    expect_kvctl_out("", "--db", dbdir, "scan", "--from=bz", "--prefix=b");
    expect_kvctl_out("ba\t3\n", "--db", dbdir, "scan", "--prefix=b", "--from=ba", "--to=bb");
    expect_kvctl_out("b\t2\n", "--db", dbdir, "scan", "--prefix=b", "--to=ba", "--reverse");
    expect_kvctl_out("", "--db", dbdir, "scan", "--prefix=bc");
}

Test(e2e, load_stops_at_a_malformed_line_keeping_the_lines_before)
{
    char path[128];
    write_kv_file(path, sizeof path, "k1\tv1\nk2\tv2\nno tab here\nk4\tv4\n");
    proc_out r = kvctl("--db", dbdir, "load", path);
    cr_expect_eq(r.status, 2, "malformed load: %d", r.status);
    cr_expect(strstr(r.err, "line 3") != NULL, "message: %s", r.err);
    proc_free(&r);
    expect_kvctl_out("k1\tv1\nk2\tv2\n", "--db", dbdir, "dump");
}

Test(e2e, experiments_prints_db_bench_lines_and_a_stats_line)
{
    char dbflag[160];
    snprintf(dbflag, sizeof dbflag, "--db=%s", dbdir);
    char *argv[] = {"experiments", "--benchmarks=fillrandom,readrandom", "--num=2000",
                    dbflag,        "--write_buffer_size=65536",          NULL};
    proc_out r = run_argv(argv, NULL);
    cr_assert_eq(r.status, 0, "experiments: %s", r.err);
    cr_expect(strstr(r.out, "Keys:       16 bytes each") != NULL, "header: %s", r.out);
    const char *fill = strstr(r.out, "\nfillrandom   : ");
    const char *read = strstr(r.out, "\nreadrandom   : ");
    cr_assert(fill && read, "report lines missing:\n%s", r.out);
    double us;
    long ops, found, total;
    double secs;
    long n;
    cr_expect_eq(sscanf(fill,
                        "\nfillrandom   : %lf micros/op %ld ops/sec %lf seconds %ld operations;",
                        &us, &ops, &secs, &n),
                 4);
    cr_expect_eq(n, 2000);
    char mbs[16];
    cr_expect_eq(
        sscanf(read,
               "\nreadrandom   : %lf micros/op %ld ops/sec %*f seconds %*d operations; %*f %15s "
               "(%ld of %ld "
               "found)",
               &us, &ops, mbs, &found, &total),
        5, "%s", read);
    cr_expect_eq(total, 2000);
    cr_expect(found > 1000 && found <= 2000, "found %ld", found); /* ~63% of 2000 are distinct */
    int stats_lines = 0;
    for (const char *p = r.out; (p = strstr(p, "\nstats        : w_amp=")) != NULL; p++) {
        cr_expect(strstr(p, "space_amp=") && strstr(p, "stall_seconds=") && strstr(p, "levels=") &&
                  strstr(p, "runs="));
        stats_lines++;
    }
    cr_expect_eq(stats_lines, 2, "stats lines: %d\n%s", stats_lines, r.out);
    proc_free(&r);

    char *bad[] = {"experiments", "--benchmarks=nosuch", dbflag, NULL};
    r = run_argv(bad, NULL);
    cr_expect_eq(r.status, 2);
    proc_free(&r);
}

/* The largest table in the database directory, into path; its size is returned. */
static long largest_table(char *path, size_t cap)
{
    DIR *d = opendir(dbdir);
    cr_assert_not_null(d, "opendir %s: %s", dbdir, strerror(errno));
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".sst") != 0) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dbdir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && st.st_size > best) {
            best = st.st_size;
            snprintf(path, cap, "%s", p);
        }
    }
    closedir(d);
    cr_assert_gt(best, 0, "no table in %s", dbdir);
    return best;
}

/* Loads n keys "/usr/share/doc/package-NNNNN/copyright" (shuffled; the value is the line
 * number) uncompressed, with a write buffer of wbs_flag ("--write_buffer_size=..."), and
 * flushes, so the data is in tables. */
static void load_paths(int n, const char *wbs_flag)
{
    char keys[128];
    snprintf(keys, sizeof keys, "%s/keys.txt", tmpdir);
    FILE *f = fopen(keys, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "/usr/share/doc/package-%05d/copyright\n", i * 7919 % n);
    fclose(f);
    proc_out r = kvctl("--db", dbdir, wbs_flag, "--compression_type=none", "load", "--keys", keys);
    cr_assert_eq(r.status, 0, "load: %s", r.err);
    proc_free(&r);
    r = kvctl("--db", dbdir, "flush");
    cr_assert_eq(r.status, 0, "flush: %s", r.err);
    proc_free(&r);
}

/* Loads 5,000 keys with small memtables and flushes, so the data is in tables. */
static void load_into_tables(void)
{
    load_paths(5000, "--write_buffer_size=65536");
    proc_out r = kvctl("--db", dbdir, "check");
    cr_assert_eq(r.status, 0, "check of an intact database: %s", r.err);
    cr_expect(strstr(r.out, "ok: 5000 keys") != NULL, "%s", r.out);
    proc_free(&r);
}

Test(e2e, check_names_a_bit_flipped_table_and_exits_3)
{
    load_into_tables();
    char path[512];
    long size = largest_table(path, sizeof path);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, size / 3, SEEK_SET), 0);
    int c = fgetc(f);
    cr_assert_eq(fseek(f, size / 3, SEEK_SET), 0);
    fputc(c ^ 0x10, f);
    fclose(f);
    proc_out r = kvctl("--db", dbdir, "check");
    cr_expect_eq(r.status, 3, "check exit %d: %s", r.status, r.err);
    const char *base = strrchr(path, '/') + 1;
    cr_expect(strstr(r.err, base) != NULL, "the message names %s: %s", base, r.err);
    proc_free(&r);
}

Test(e2e, check_refuses_a_file_that_is_not_a_table_and_exits_3)
{
    load_into_tables();
    char path[512];
    largest_table(path, sizeof path);
    const char text[] = "this is not a Lamina table, just some text that took its name\n";
    write_all(path, text, sizeof text - 1);
    proc_out r = kvctl("--db", dbdir, "check");
    cr_expect_eq(r.status, 3, "check exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "not a Lamina table") != NULL, "%s", r.err);
    proc_free(&r);
}

/* Loads n keys (load_paths) into one table (the default 64 MiB write buffer); its path goes
 * to path. */
static void load_one_table(int n, char *path, size_t cap)
{
    load_paths(n, "--write_buffer_size=64m");
    largest_table(path, cap);
}

/* The number after "name: " on its own line of out, or -1. */
static long long figure(const char *out, const char *name)
{
    char want[64];
    snprintf(want, sizeof want, "\n%s: ", name);
    const char *p = strstr(out, want);
    return p ? strtoll(p + strlen(want), NULL, 10) : -1;
}

Test(e2e, sst_dump_prints_properties_key_range_entries_and_verifies_without_db)
{
    char path[512];
    load_one_table(5000, path, sizeof path);
    proc_out r = kvctl("sst-dump", path);
    cr_assert_eq(r.status, 0, "sst-dump: %s", r.err);
    cr_expect(strstr(r.out, "\nindex: btree\n") != NULL, "%s", r.out);
    cr_expect_gt(figure(r.out, "index_bytes"), 0, "%s", r.out);
    cr_expect_eq(figure(r.out, "entries"), 5000, "%s", r.out);
    cr_expect_eq(figure(r.out, "deletions"), 0);
    cr_expect_gt(figure(r.out, "data_blocks"), 1);
    cr_expect_gt(figure(r.out, "filter_bytes"), 0);
    cr_expect_eq(figure(r.out, "smallest_seq"), 1);
    cr_expect_eq(figure(r.out, "largest_seq"), 5000);
    cr_expect(strstr(r.out, "\ncompression: none\n") && strstr(r.out, "\nfilter_bits_per_key: ") &&
                  strstr(r.out, "\nformat_version: "),
              "%s", r.out);
    cr_expect(strstr(r.out, "\nsmallest_key: /usr/share/doc/package-00000/copyright\n") &&
                  strstr(r.out, "\nlargest_key: /usr/share/doc/package-04999/copyright\n"),
              "key range: %s", r.out);
    proc_free(&r);

    r = kvctl("sst-dump", "--verify", path);
    cr_expect_eq(r.status, 0, "--verify: %s", r.err);
    cr_expect(strstr(r.out, "\nverify: ok (5000 entries)\n") != NULL, "%s", r.out);
    proc_free(&r);

    /* every entry: key, sequence number, kind, value (the load's line number) */
    r = kvctl("sst-dump", "--scan", path);
    cr_expect_eq(r.status, 0, "--scan: %s", r.err);
    size_t lines = 0;
    for (const char *p = r.out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    cr_expect_eq(lines, 5000);
    cr_expect(strncmp(r.out, "/usr/share/doc/package-00000/copyright\t1\tvalue\t1\n", 48) == 0,
              "first entry: %.80s", r.out);
    proc_free(&r);
    expect_kvctl_out("/usr/share/doc/package-00001/copyright\t2680\tvalue\t2680\n"
                     "/usr/share/doc/package-00002/copyright\t359\tvalue\t359\n",
                     "sst-dump", "--scan", "--from=/usr/share/doc/package-00001", "--limit=2",
                     path);
    expect_kvctl_out("2f7573722f73686172652f646f632f7061636b6167652d30303030302f636f70797269676874"
                     "\t1\tvalue\t31\n",
                     "--hex", "sst-dump", "--scan", "--limit=1", path);
}

Test(e2e, sst_dump_names_the_index_kind_each_table_records)
{
    proc_out r = kvctl("--db", dbdir, "--index_type=fst", "put", "apple", "red");
    cr_assert_eq(r.status, 0, "put: %s", r.err);
    proc_free(&r);
    r = kvctl("--db", dbdir, "--index_type=fst", "flush");
    cr_assert_eq(r.status, 0, "flush: %s", r.err);
    proc_free(&r);
    char path[512];
    largest_table(path, sizeof path);
    r = kvctl("sst-dump", "--verify", path);
    cr_expect_eq(r.status, 0, "sst-dump: %s", r.err);
    cr_expect(strstr(r.out, "\nindex: fst\n") && strstr(r.out, "\nverify: ok (1 entries)\n") &&
                  strstr(r.out, "\nsmallest_key: apple\nlargest_key: apple\n"),
              "%s", r.out);
    cr_expect_gt(figure(r.out, "index_bytes"), 0, "%s", r.out);
    proc_free(&r);
    expect_kvctl_out("apple\t1\tvalue\tred\n", "sst-dump", "--scan", path);
}

Test(e2e, sst_dump_names_damage_and_refuses_what_is_not_a_table)
{
    char path[512], copy[600];
    size_t size = 0;
    load_one_table(5000, path, sizeof path);
    snprintf(copy, sizeof copy, "%s/copy.sst", tmpdir);
    char *data = read_all(path, &size);
    data[size / 3] ^= 0x10; /* inside a data block */
    write_all(copy, data, size);
    free(data);
    proc_out r = kvctl("sst-dump", "--verify", copy);
    cr_expect_eq(r.status, 3, "--verify of a damaged copy: exit %d", r.status);
    cr_expect(strstr(r.err, "copy.sst") && strstr(r.err, "offset "), "message: %s", r.err);
    cr_expect(strstr(r.out, "verify: ok") == NULL, "%s", r.out);
    proc_free(&r);
    r = kvctl("sst-dump", "--verify", path);
    cr_expect_eq(r.status, 0, "the original still verifies: %s", r.err);
    proc_free(&r);

    char text[600];
    snprintf(text, sizeof text, "%s/notes.sst", tmpdir);
    const char notes[] = "this is not a Lamina table, just some text that took its name\n";
    write_all(text, notes, sizeof notes - 1);
    r = kvctl("sst-dump", text);
    cr_expect_eq(r.status, 3, "not a table: exit %d", r.status);
    cr_expect(strstr(r.err, "not a Lamina table") != NULL, "%s", r.err);
    cr_expect_eq(r.out_len, 0, "%s", r.out);
    proc_free(&r);

    snprintf(text, sizeof text, "%s/absent.sst", tmpdir);
    r = kvctl("sst-dump", text);
    cr_expect_eq(r.status, 3, "missing file: exit %d", r.status);
    cr_expect(strstr(r.err, "absent.sst") && strstr(r.err, "No such file"), "%s", r.err);
    proc_free(&r);

    expect_usage_error(kvctl("sst-dump"), "sst-dump without FILE");
    expect_usage_error(kvctl("sst-dump", "--limit=x", path), "sst-dump bad limit");
    expect_usage_error(kvctl("sst-dump", path, path), "sst-dump two files");
}

/* The report line of benchmark name in out: its operations and "(F of N found)". */
static void expect_found_line(const char *out, const char *name, long want_ops, long want_found)
{
    char head[64];
    snprintf(head, sizeof head, "\n%-12s : ", name);
    const char *line = strstr(out, head);
    cr_assert_not_null(line, "no %s line:\n%s", name, out);
    long ops = -1, found = -1, total = -1;
    double us, secs;
    long rate;
    char fmt[128];
    snprintf(fmt, sizeof fmt, "%s%%lf micros/op %%ld ops/sec %%lf seconds %%ld operations;", head);
    cr_expect_eq(sscanf(line, fmt, &us, &rate, &secs, &ops), 4, "%s", line);
    const char *f = strstr(line, "(");
    cr_assert(f && f < strchr(line + 1, '\n'), "no found count: %.200s", line);
    cr_expect_eq(sscanf(f, "(%ld of %ld found)", &found, &total), 2, "%.200s", line);
    cr_expect_eq(ops, want_ops, "%s operations: %ld", name, ops);
    cr_expect_eq(total, want_ops);
    cr_expect_eq(found, want_found, "%s found %ld, want %ld", name, found, want_found);
}

static int count_lines_starting(const char *out, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = out; p; p = strchr(p, '\n')) {
        if (*p == '\n') p++;
        if (strncmp(p, prefix, len) == 0) n++;
    }
    return n;
}

/* --key_file: the file's lines are the keys (of any length), --num defaults to their count,
 * and every key written is found by point reads, batched reads and seeks. */
Test(e2e, experiments_reads_keys_from_a_file)
{
    char keys[128], dbflag[160], kflag[160];
    snprintf(keys, sizeof keys, "%s/keys.txt", tmpdir);
    FILE *f = fopen(keys, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 300; i++)
        fprintf(f, "/usr/share/doc/package-%d/%.*s\n", i * 7919 % 1000, i % 40,
                "changelog.Debian.gz-and-more-bytes-to-vary-length");
    fclose(f);
    snprintf(dbflag, sizeof dbflag, "--db=%s", dbdir);
    snprintf(kflag, sizeof kflag, "--key_file=%s", keys);
    char *argv[] = {"experiments", "--benchmarks=fillseq,readrandom,multireadrandom,seekrandom",
                    kflag,         "--index_type=fst",
                    dbflag,        NULL};
    proc_out r = run_argv(argv, NULL);
    cr_assert_eq(r.status, 0, "experiments: %s", r.err);
    cr_expect(strstr(r.out, "\nKeys:       300 lines of ") != NULL, "%s", r.out);
    expect_found_line(r.out, "readrandom", 300, 300);
    expect_found_line(r.out, "multireadrandom", 300, 300);
    expect_found_line(r.out, "seekrandom", 300, 300);
    proc_free(&r);
    char bad[200];
    snprintf(bad, sizeof bad, "--key_file=%s/missing.txt", tmpdir);
    char *argv2[] = {"experiments", "--benchmarks=fillseq", bad, dbflag, NULL};
    r = run_argv(argv2, NULL);
    cr_expect_eq(r.status, 2, "a missing key file is a usage error: %s", r.err);
    cr_expect(strstr(r.err, "missing.txt") != NULL, "%s", r.err);
    proc_free(&r);
}

Test(e2e, experiments_multireadrandom_skewed_keys_and_cache_lines)
{
    char dbflag[160];
    snprintf(dbflag, sizeof dbflag, "--db=%s", dbdir);
    /* 1000 keys in batches of 7: the last batch holds 6; every key exists after fillseq */
    char *argv[] = {"experiments", "--benchmarks=fillseq,multireadrandom,readrandom,seekrandom",
                    "--num=1000",  "--batch_size=7",
                    dbflag,        NULL};
    proc_out r = run_argv(argv, NULL);
    cr_assert_eq(r.status, 0, "experiments: %s", r.err);
    expect_found_line(r.out, "multireadrandom", 1000, 1000);
    expect_found_line(r.out, "readrandom", 1000, 1000);
    expect_found_line(r.out, "seekrandom", 1000, 1000);
    cr_expect(strstr(r.out, "\nReadKeys:   uniform\n") != NULL, "%s", r.out);
    /* one cache line after each read benchmark, none after the fill */
    cr_expect_eq(count_lines_starting(r.out, "cache        : hits="), 3, "%s", r.out);
    const char *cache = strstr(r.out, "\ncache        : ");
    cr_assert_not_null(cache);
    unsigned long long hits, misses;
    double rate;
    cr_expect_eq(
        sscanf(cache, "\ncache        : hits=%llu misses=%llu hit_rate=%lf", &hits, &misses, &rate),
        3, "%.100s", cache);
    proc_free(&r);

    /* skewed reads, and the I/O and table-format options pass through to the database (small
     * memtables, so the reads go through tables of each index kind and format) */
    char *zipf[] = {"experiments",
                    "--benchmarks=fillseq,readrandom,multireadrandom",
                    "--num=1000",
                    "--key_dist=zipf",
                    "--zipf_theta=0.9",
                    "--use_direct_reads=1",
                    "--use_io_uring=0",
                    "--index_type=fst",
                    "--write_buffer_size=65536",
                    dbflag,
                    NULL};
    r = run_argv(zipf, NULL);
    cr_assert_eq(r.status, 0, "zipf: %s", r.err);
    cr_expect(strstr(r.out, "\nReadKeys:   zipf theta=0.9") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, " index_type=1 format_version=2 use_direct_reads=1 use_io_uring=0") !=
                  NULL,
              "%s", r.out);
    expect_found_line(r.out, "readrandom", 1000, 1000);
    expect_found_line(r.out, "multireadrandom", 1000, 1000);
    proc_free(&r);
    char *exp[] = {"experiments",
                   "--benchmarks=fillseq,multireadrandom",
                   "--num=1000",
                   "--read_random_exp_range=5",
                   "--format_version=1",
                   "--write_buffer_size=65536",
                   dbflag,
                   NULL};
    r = run_argv(exp, NULL);
    cr_assert_eq(r.status, 0, "exp range: %s", r.err);
    cr_expect(strstr(r.out, " index_type=0 format_version=1 ") != NULL, "%s", r.out);
    expect_found_line(r.out, "multireadrandom", 1000, 1000);
    proc_free(&r);

    static const char *const bad[] = {
        "--batch_size=0", "--key_dist=pareto",          "--zipf_theta=1",
        "--zipf_theta=0", "--read_random_exp_range=-1", "--read_random_exp_range=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *args[] = {"experiments", "--benchmarks=multireadrandom", (char *)bad[i], dbflag,
                        NULL};
        r = run_argv(args, NULL);
        cr_expect_eq(r.status, 2, "%s: exit %d", bad[i], r.status);
        cr_expect(strstr(r.err, "bad value") != NULL, "%s: %s", bad[i], r.err);
        proc_free(&r);
    }
    char *both[] = {"experiments", "--key_dist=zipf", "--read_random_exp_range=2", dbflag, NULL};
    r = run_argv(both, NULL);
    cr_expect_eq(r.status, 2, "zipf and exp range together: exit %d", r.status);
    proc_free(&r);
}

/* Writes 400 keys "dNN/fMMM" (20 directories of 20) to tmpdir/name, then line 0 again; long
 * selects keys "/usr/share/doc/pkg-NN/file-MMM" instead. The path is returned in path. */
static void write_dir_keys(char *path, size_t cap, const char *name, int long_keys)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    const char *fmt = long_keys ? "/usr/share/doc/pkg-%02d/file-%03d\n" : "d%02d/f%03d\n";
    for (int i = 0; i < 400; i++)
        fprintf(f, fmt, i % 20, i * 7 % 400);
    fprintf(f, fmt, 0, 0);
    fclose(f);
}

/* The number after `after` on the line "name : ...", or after "name : " when after is "" (NAN
 * when the line or `after` is missing). */
static double line_value(const char *out, const char *name, const char *after)
{
    char head[64];
    snprintf(head, sizeof head, "\n%-12s : ", name);
    const char *line = strstr(out, head);
    if (line == NULL) return NAN;
    line += strlen(head);
    const char *end = strchr(line, '\n');
    const char *at = strstr(line, after);
    if (at == NULL || (end && at > end)) return NAN;
    return strtod(at + strlen(after), NULL);
}

/* The memtable benchmark's lines on write_dir_keys' 401 lines (400 distinct keys). */
static void expect_memtable_lines(const char *out)
{
    expect_found_line(out, "memtable_get", 401, 401);
    cr_expect(strstr(out, "found) 400 distinct keys\n") != NULL, "%s", out);
    expect_found_line(out, "memtable_get_absent", 401, 0);
    /* every version is an entry of the full scan */
    cr_expect_eq(line_value(out, "memtable_iterate", "seconds "), 401.0, "%s", out);
    cr_expect(strstr(out, "\nmemtable_insert : ") != NULL, "%s", out);
    /* each prefix is a directory of 20 keys (21 entries for the repeated key's) */
    double per_scan = line_value(out, "memtable_prefix_scan", "operations; ");
    cr_expect(per_scan >= 20.0 && per_scan <= 21.0, "entries per scan %g\n%s", per_scan, out);
    cr_expect(strstr(out, "disagree") == NULL, "%s", out);
    double overhead = line_value(out, "memtable_overhead", "");
    cr_expect(isfinite(overhead) && overhead > 0.0, "overhead %g\n%s", overhead, out);
    cr_expect(strstr(out, " bytes/key (memory ") != NULL, "%s", out);
}

/* --benchmarks=memtable: the key file into a bare memtable; every key is found, no key with a
 * byte appended is, the scan visits every version, each prefix scan visits its directory, and
 * the overhead per key is positive. */
Test(e2e, experiments_memtable_finds_every_key_and_reports_its_overhead)
{
    char keys[128], kflag[160];
    write_dir_keys(keys, sizeof keys, "keys.txt", 0);
    snprintf(kflag, sizeof kflag, "--keys_file=%s", keys);
    char *argv[] = {"experiments", "--benchmarks=memtable", kflag,
                    "--shuffle",   "--memtable_type=avl",   NULL};
    proc_out r = run_argv(argv, NULL);
    cr_assert_eq(r.status, 0, "experiments: %s", r.err);
    cr_expect(strstr(r.out, "\nMemtable:   avl, 401 keys (lines of ") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "shuffled order (seed 301)") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "DB path:") == NULL, "no database header: %s", r.out);
    expect_memtable_lines(r.out);
    proc_free(&r);

    /* the other spelling, file order, fixed-length prefixes: "dN" holds 10 directories of 20
     * keys, and "d0" the repeated key too */
    snprintf(kflag, sizeof kflag, "--key_file=%s", keys);
    char *fixed[] = {"experiments", "--benchmarks=memtable", kflag, "--prefix_size=2", "--reads=50",
                     NULL};
    r = run_argv(fixed, NULL);
    cr_assert_eq(r.status, 0, "experiments: %s", r.err);
    cr_expect(strstr(r.out, "file order, values 8 bytes") != NULL, "%s", r.out);
    double per_scan = line_value(r.out, "memtable_prefix_scan", "operations; ");
    cr_expect(per_scan >= 200.0 && per_scan <= 201.0, "entries per scan %g", per_scan);
    cr_expect_eq(line_value(r.out, "memtable_prefix_scan", "seconds "), 50.0, "%s", r.out);
    proc_free(&r);

    /* the ART memtable: the same figures, or (until that kind exists) a clean failure */
    char *art[] = {"experiments", "--benchmarks=memtable", kflag, "--memtable_type=art", NULL};
    r = run_argv(art, NULL);
    if (r.status == 0) {
        cr_expect(strstr(r.out, "\nMemtable:   art, 401 keys") != NULL, "%s", r.out);
        expect_memtable_lines(r.out);
    } else {
        cr_expect_eq(r.status, 3, "art: exit %d: %s", r.status, r.err);
        cr_expect(strstr(r.err, "experiments: memtable: ") != NULL, "%s", r.err);
    }
    proc_free(&r);

    char bad[200];
    snprintf(bad, sizeof bad, "--keys_file=%s/missing.txt", tmpdir);
    char *missing[] = {"experiments", "--benchmarks=memtable", bad, NULL};
    r = run_argv(missing, NULL);
    cr_expect_eq(r.status, 2, "a missing key file is a usage error: exit %d", r.status);
    cr_expect(strstr(r.err, "--keys_file=") && strstr(r.err, "missing.txt: No such file"), "%s",
              r.err);
    cr_expect(strstr(r.out, "memtable_insert") == NULL, "%s", r.out);
    proc_free(&r);
    char *type[] = {"experiments", "--benchmarks=memtable", "--memtable_type=btree", NULL};
    r = run_argv(type, NULL);
    cr_expect_eq(r.status, 2, "an unknown memtable type: exit %d", r.status);
    proc_free(&r);
}

/* Prefixes of 8 bytes or more ("/usr/share/doc/pkg-NN/file-"): a probe that long is an
 * internal key to the memtables, so the prefix iterators must seek with full internal keys
 * (the first version of the wrapper did not, and these scans came back short). */
Test(e2e, experiments_memtable_prefix_scans_of_long_prefixes)
{
    char keys[128], kflag[160];
    write_dir_keys(keys, sizeof keys, "keys.txt", 1);
    snprintf(kflag, sizeof kflag, "--keys_file=%s", keys);
    char *argv[] = {"experiments", "--benchmarks=memtable", kflag, "--shuffle", NULL};
    proc_out r = run_argv(argv, NULL);
    cr_expect_eq(r.status, 0, "experiments: %s", r.err);
    expect_memtable_lines(r.out);
    proc_free(&r);
}

/* seekprefix: every key exists after fillseq, so every scan reads at least its own key; the
 * prefixes are directories of 20 keys, or with --seek_nexts=1 one entry each. */
Test(e2e, experiments_seekprefix_reads_the_keys_under_each_prefix)
{
    char keys[128], kflag[160], dbflag[160];
    write_dir_keys(keys, sizeof keys, "keys.txt", 1);
    snprintf(kflag, sizeof kflag, "--key_file=%s", keys);
    snprintf(dbflag, sizeof dbflag, "--db=%s", dbdir);
    char *argv[] = {"experiments", "--benchmarks=fillseq,seekprefix", kflag,
                    "--reads=300", "--write_buffer_size=65536",       dbflag,
                    NULL};
    proc_out r = run_argv(argv, NULL);
    cr_assert_eq(r.status, 0, "experiments: %s", r.err);
    expect_found_line(r.out, "seekprefix", 300, 300);
    const char *line = strstr(r.out, "\nseekprefix   : ");
    cr_assert_not_null(line);
    const char *found = strstr(line, "found) ");
    cr_assert_not_null(found, "%s", line);
    double per_scan = strtod(found + 7, NULL);
    cr_expect(per_scan >= 20.0 && per_scan <= 21.0, "entries per scan %g: %.200s", per_scan, line);
    cr_expect(strstr(found, " entries/scan\n") != NULL, "%.200s", line);
    proc_free(&r);

    char *nexts[] = {"experiments",    "--benchmarks=seekprefix", kflag,  "--reads=100",
                     "--seek_nexts=1", "--prefix_size=5",         dbflag, NULL};
    r = run_argv(nexts, NULL);
    cr_assert_eq(r.status, 0, "experiments: %s", r.err);
    expect_found_line(r.out, "seekprefix", 100, 100);
    cr_expect(strstr(r.out, "found) 1.00 entries/scan\n") != NULL, "%s", r.out);
    proc_free(&r);
}

/* Lines of a text file (0 when it cannot be read). */
static size_t count_lines(const char *path)
{
    size_t len = 0, n = 0;
    char *text = read_all(path, &len);
    for (size_t i = 0; text && i < len; i++)
        n += text[i] == '\n';
    free(text);
    return n;
}

/* tune: one CSV row and one Markdown row per (policy, T), with the figures filled in; the
 * plots exist when gnuplot is installed (scripts/setup.sh installs it). */
Test(e2e, experiments_tune_measures_every_configuration)
{
    char out[128], oflag[160], dflag[160], path[256];
    snprintf(out, sizeof out, "%s/tune", tmpdir);
    snprintf(oflag, sizeof oflag, "--out=%s", out);
    snprintf(dflag, sizeof dflag, "--db=%s", dbdir);
    char *argv[] = {"experiments", "tune", "--policies=leveled,tiered,fluid:2:1",
                    "--size_ratios=3,4", "--num=5000", "--reads=500", "--scans=100",
                    "--long_scan=50", "--write_buffer_size=65536", oflag, dflag, NULL};
    proc_out r = run_argv(argv, NULL);
    cr_assert_eq(r.status, 0, "experiments tune: %s", r.err);
    snprintf(path, sizeof path, "%s/tune.csv", out);
    cr_expect_eq(count_lines(path), 7u, "header + 3 policies x 2 ratios");
    char *csv = read_all(path, NULL);
    cr_assert_not_null(csv);
    cr_expect_not_null(strstr(csv, "\nfluid_2_1-T4,0,4,2,1,"), "%s", csv);
    /* Every configuration wrote and compacted: w_amp of at least 1 in each row. */
    for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char *f = line + 1;
        for (int col = 0; col < 6 && f; col++)
            f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
        cr_assert_not_null(f);
        cr_expect_geq(strtod(f, NULL), 1.0, "w_amp in row %.40s", line + 1);
    }
    free(csv);
    snprintf(path, sizeof path, "%s/tune.md", out);
    cr_expect_eq(count_lines(path), 8u, "header, rule and 6 rows");
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        snprintf(path, sizeof path, "%s/tune-wamp-lookup.png", out);
        cr_expect_eq(access(path, R_OK), 0, "%s", path);
        snprintf(path, sizeof path, "%s/tune-ingest-T.svg", out);
        cr_expect_eq(access(path, R_OK), 0, "%s", path);
    }
    proc_free(&r);
}

Test(e2e, experiments_growth_samples_each_policy)
{
    char out[128], oflag[160], dflag[160], path[256];
    snprintf(out, sizeof out, "%s/growth", tmpdir);
    snprintf(oflag, sizeof oflag, "--out=%s", out);
    snprintf(dflag, sizeof dflag, "--db=%s", dbdir);
    char *argv[] = {"experiments", "growth", "--policies=leveled,dostoevsky", "--num=4000",
                    "--samples=4", "--reads=400", "--scans=40", "--write_buffer_size=65536",
                    oflag, dflag, NULL};
    proc_out r = run_argv(argv, NULL);
    cr_assert_eq(r.status, 0, "experiments growth: %s", r.err);
    snprintf(path, sizeof path, "%s/growth.csv", out);
    cr_expect_eq(count_lines(path), 9u, "header + 2 policies x 4 samples");
    char *csv = read_all(path, NULL);
    cr_assert_not_null(csv);
    cr_expect_not_null(strstr(csv, "\ndostoevsky-T10,4000,464000,"), "%s", csv);
    free(csv);
    proc_free(&r);
}

Test(e2e, experiments_tune_refuses_bad_flags)
{
    char *bad_policy[] = {"experiments", "tune", "--policies=lazy", "--out=/tmp/x", NULL};
    proc_out r = run_argv(bad_policy, NULL);
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, "unknown policy"), "%s", r.err);
    proc_free(&r);
    char *bad_ratio[] = {"experiments", "tune", "--size_ratios=1,4", "--out=/tmp/x", NULL};
    r = run_argv(bad_ratio, NULL);
    cr_expect_eq(r.status, 2);
    proc_free(&r);
    char *no_out[] = {"experiments", "growth", NULL};
    r = run_argv(no_out, NULL);
    cr_expect_eq(r.status, 2);
    cr_expect_not_null(strstr(r.err, "--out"), "%s", r.err);
    proc_free(&r);
}
