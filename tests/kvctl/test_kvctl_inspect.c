/* test_kvctl_inspect.c — kvctl's inspection commands run as child processes on a small
 * database (the binary found through LAMINA_BUILD_ROOT, as in tests/e2e): files, property,
 * approx-size, manifest-dump and wal-dump, their --json parsed with jansson and checked against
 * each other and the properties; stats names the policy, says each figure once, and keeps the
 * persisted counters across reopening while the counters since open restart. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tdir.h"

extern char **environ;

static char tmpdir[64];
static char dbdir[128];

static void kv_setup(void)
{
    tdir_make(tmpdir, sizeof(tmpdir), "kvctl-inspect");
    snprintf(dbdir, sizeof dbdir, "%s/db", tmpdir);
}

static void kv_teardown(void)
{
    if (tmpdir[0] != '\0') tdir_remove(tmpdir);
}

TestSuite(kvctl_inspect, .init = kv_setup, .fini = kv_teardown, .timeout = 300);

typedef struct proc_out {
    int status;
    char *out;
    size_t out_len;
    char *err;
} proc_out;

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
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

/* Runs kvctl with the NULL-terminated arguments, stdin from in_path (NULL: /dev/null). */
static proc_out kvctl_run(const char *in_path, char *const *args)
{
    char tool[4096], out_path[128], err_path[128];
    const char *root = getenv("LAMINA_BUILD_ROOT");
    cr_assert_not_null(root, "LAMINA_BUILD_ROOT is not set (run through meson test)");
    snprintf(tool, sizeof tool, "%s/tools/kvctl", root);
    cr_assert_eq(access(tool, X_OK), 0, "%s is not built", tool);
    char *argv[32];
    int n = 0;
    argv[n++] = "kvctl";
    for (; args[n - 1] != NULL && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path ? in_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, tool, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn kvctl: %s", strerror(rc));
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    proc_out r = {0};
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r.out = read_all(out_path, &r.out_len);
    r.err = read_all(err_path, NULL);
    return r;
}

#define kvctl(...) kvctl_run(NULL, (char *[]){__VA_ARGS__, NULL})

static void proc_free(proc_out *r)
{
    free(r->out);
    free(r->err);
}

/* Runs kvctl with --json output and parses it; the test fails unless it exits 0 with JSON. */
#define kvctl_json(...) kvctl_json_run((char *[]){__VA_ARGS__, NULL})
static json_t *kvctl_json_run(char *const *args)
{
    proc_out r = kvctl_run(NULL, args);
    cr_assert_eq(r.status, 0, "kvctl %s: exit %d: %s", args[1], r.status, r.err);
    json_error_t jerr;
    json_t *root = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(root, "kvctl %s --json does not parse: %s\n%s", args[1], jerr.text, r.out);
    proc_free(&r);
    return root;
}

static uint64_t json_u64(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_integer(v), "\"%s\" is missing or not an integer", key);
    return (uint64_t)json_integer_value(v);
}

/* The integer property NAME, through `kvctl property --json NAME`. */
static uint64_t property(const char *name)
{
    char db[160];
    snprintf(db, sizeof db, "--db=%s", dbdir);
    json_t *root = kvctl_json(db, "property", "--json", (char *)name);
    cr_expect_str_eq(json_string_value(json_object_get(root, "name")), name);
    uint64_t v = json_u64(root, "value");
    json_decref(root);
    return v;
}

/* A database over two levels or more: 4,000 keys loaded in 64 KiB memtables. */
static void fill(void)
{
    char path[160], db[160];
    snprintf(path, sizeof path, "%s/load.txt", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 4000; i++)
        fprintf(f, "key%06d\tvalue-%06d-padding-padding-padding-padding\n", i, i);
    cr_assert_eq(fclose(f), 0);
    snprintf(db, sizeof db, "--db=%s", dbdir);
    proc_out r = kvctl(db, "--write_buffer_size=65536", "--target_file_size_base=65536",
                       "--level0_file_num_compaction_trigger=2", "load", path);
    cr_assert_eq(r.status, 0, "load: %s", r.err);
    proc_free(&r);
}

static const char *db_flag(void)
{
    static char db[160];
    snprintf(db, sizeof db, "--db=%s", dbdir);
    return db;
}
#define DB ((char *)db_flag())

Test(kvctl_inspect, files_lists_the_tables_the_properties_count)
{
    fill();
    json_t *root = kvctl_json(DB, "files", "--json");
    json_t *tables = json_object_get(root, "tables");
    cr_assert(json_is_array(tables));
    uint64_t per_level[8] = {0}, bytes = 0;
    for (size_t i = 0; i < json_array_size(tables); i++) {
        json_t *t = json_array_get(tables, i);
        uint64_t level = json_u64(t, "level");
        cr_assert_lt(level, 8);
        per_level[level]++;
        bytes += json_u64(t, "file_size");
        cr_expect_gt(json_u64(t, "entries"), 0);
        const char *lo = json_string_value(json_object_get(t, "smallest_key"));
        const char *hi = json_string_value(json_object_get(t, "largest_key"));
        cr_assert(lo && hi);
        cr_expect_leq(strcmp(lo, hi), 0, "%s .. %s", lo, hi);
        char name[32];
        snprintf(name, sizeof name, "%06" PRIu64 ".sst", json_u64(t, "file_number"));
        cr_expect_str_eq(json_string_value(json_object_get(t, "file_name")), name);
    }
    cr_expect_eq(json_u64(root, "count"), json_array_size(tables));
    cr_expect_eq(json_u64(root, "bytes"), bytes);
    cr_expect_eq(bytes, property("lamina.live-bytes"));
    int with_data = 0;
    for (int l = 0; l < 7; l++) {
        char name[64];
        snprintf(name, sizeof name, "lamina.num-files-at-level%d", l);
        cr_expect_eq(per_level[l], property(name), "level %d", l);
        with_data += per_level[l] > 0;
    }
    cr_expect_geq(with_data, 2, "the load should reach level 1");
    cr_expect_eq((uint64_t)with_data, property("lamina.levels-with-data"));
    size_t ntables = json_array_size(tables);
    json_decref(root);
    /* The text form: a header, one line per table, a total. */
    proc_out r = kvctl(DB, "files");
    cr_assert_eq(r.status, 0, "%s", r.err);
    size_t lines = 0;
    for (const char *p = r.out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    cr_expect_eq(lines, ntables + 2, "%s", r.out);
    cr_expect_not_null(strstr(r.out, "total: "), "%s", r.out);
    proc_free(&r);
}

Test(kvctl_inspect, manifest_dump_edits_leave_the_live_tables)
{
    fill();
    json_t *files = kvctl_json(DB, "files", "--json");
    /* Without FILE it reads the MANIFEST --db's CURRENT names. */
    json_t *root = kvctl_json(DB, "manifest-dump", "--json");
    json_t *edits = json_object_get(root, "edits");
    cr_assert(json_is_array(edits) && json_array_size(edits) > 0);
    json_t *first = json_array_get(edits, 0);
    cr_expect(json_is_true(json_object_get(first, "identity")));
    uint64_t live[512];
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(edits); i++) {
        json_t *e = json_array_get(edits, i);
        cr_expect_eq(json_u64(e, "index"), i);
        json_t *del = json_object_get(e, "deleted"), *add = json_object_get(e, "added");
        for (size_t d = 0; d < json_array_size(del); d++) {
            uint64_t num = json_u64(json_array_get(del, d), "file_number");
            size_t k = 0;
            while (k < n && live[k] != num)
                k++;
            cr_assert_lt(k, n, "edit %zu deletes table %" PRIu64 " never added", i, num);
            live[k] = live[--n];
        }
        for (size_t a = 0; a < json_array_size(add); a++) {
            cr_assert_lt(n, 512);
            live[n++] = json_u64(json_array_get(add, a), "file_number");
        }
    }
    json_t *tables = json_object_get(files, "tables");
    cr_expect_eq(n, json_array_size(tables));
    for (size_t i = 0; i < json_array_size(tables); i++) {
        uint64_t num = json_u64(json_array_get(tables, i), "file_number");
        int found = 0;
        for (size_t k = 0; k < n; k++)
            found |= live[k] == num;
        cr_expect(found, "live table %" PRIu64 " is not left by the edits", num);
    }
    json_decref(root);
    json_decref(files);
    /* The text form names the fields once per group. */
    proc_out r = kvctl(DB, "manifest-dump");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(strncmp(r.out, "edit 0 at offset 0\n  identity lamina", 36), 0, "%s", r.out);
    cr_expect_not_null(strstr(r.out, "  add level "), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "  stats user_bytes "), "%s", r.out);
    proc_free(&r);
}

Test(kvctl_inspect, manifest_dump_without_a_database_fails_cleanly)
{
    proc_out r = kvctl(DB, "manifest-dump");
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect_not_null(strstr(r.err, "LAMINA_ENOENT"), "%s", r.err);
    proc_free(&r);
    r = kvctl("manifest-dump");
    cr_expect_eq(r.status, 2, "no --db and no FILE is a usage error: %s", r.err);
    proc_free(&r);
}

Test(kvctl_inspect, wal_dump_shows_the_last_session_writes)
{
    /* Each kvctl run is a session; the WAL of the last one is live until the next open. */
    proc_out r = kvctl(DB, "put", "k\001", "v\tv");
    cr_assert_eq(r.status, 0, "%s", r.err);
    proc_free(&r);
    uint64_t seq = property("lamina.sequence"); /* this open replayed the put into a table */
    r = kvctl(DB, "del", "gone");
    cr_assert_eq(r.status, 0, "%s", r.err);
    proc_free(&r);
    r = kvctl(DB, "put", "k2", "v2");
    cr_assert_eq(r.status, 0, "%s", r.err);
    proc_free(&r);
    /* Only the last session's put: the del's WAL was replayed by the put's open. */
    json_t *root = kvctl_json(DB, "wal-dump", "--json");
    json_t *recs = json_object_get(root, "records");
    cr_assert_eq(json_array_size(recs), 1, "%s", json_dumps(root, 0));
    json_t *rec = json_array_get(recs, 0);
    cr_expect_eq(json_u64(rec, "sequence"), seq + 2);
    cr_expect_eq(json_u64(rec, "count"), 1);
    json_t *op = json_array_get(json_object_get(rec, "ops"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(op, "type")), "put");
    cr_expect_str_eq(json_string_value(json_object_get(op, "key")), "k2");
    cr_expect_str_eq(json_string_value(json_object_get(op, "value")), "v2");
    cr_expect_eq(json_u64(op, "seq"), seq + 2);
    json_decref(root);
    /* A delete and escaped bytes, in the text form and from the file named directly. */
    r = kvctl(DB, "del", "k\001");
    cr_assert_eq(r.status, 0, "%s", r.err);
    proc_free(&r);
    root = kvctl_json(DB, "wal-dump", "--json");
    rec = json_array_get(json_object_get(root, "records"), 0);
    cr_assert_not_null(rec);
    char wal[256], want[128];
    snprintf(wal, sizeof wal, "%s/%06" PRIu64 ".log", dbdir, json_u64(rec, "wal_number"));
    json_decref(root);
    snprintf(want, sizeof want, "\tdelete\t%" PRIu64 "\tk\\x01\n", seq + 3);
    r = kvctl(DB, "wal-dump");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, want), "want %s in:\n%s", want, r.out);
    cr_expect_not_null(strstr(r.out, " count 1 bytes "), "%s", r.out);
    proc_free(&r);
    r = kvctl("wal-dump", wal);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, want), "want %s in:\n%s", want, r.out);
    proc_free(&r);
}

Test(kvctl_inspect, approx_size_grows_with_the_range_and_covers_the_tables)
{
    fill();
    json_t *root = kvctl_json(DB, "approx-size", "--json", "key000000", "key001000", "key000000",
                              "key002000", "key000000", "key004000", "zzz", "zzzz", "", "");
    json_t *ranges = json_object_get(root, "ranges");
    cr_assert_eq(json_array_size(ranges), 5);
    uint64_t s1 = json_u64(json_array_get(ranges, 0), "bytes");
    uint64_t s2 = json_u64(json_array_get(ranges, 1), "bytes");
    uint64_t s4 = json_u64(json_array_get(ranges, 2), "bytes");
    cr_expect_lt(s1, s2);
    cr_expect_lt(s2, s4);
    cr_expect_eq(json_u64(json_array_get(ranges, 3), "bytes"), 0, "no key past zzz");
    uint64_t live = property("lamina.live-bytes");
    cr_expect_eq(json_u64(json_array_get(ranges, 4), "bytes"), live, "\"\" \"\" is every key");
    cr_expect_eq(s4, live, "every key is below key004000");
    cr_expect_eq(json_u64(root, "total"), s1 + s2 + s4 + live);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(ranges, 0), "from")),
                     "key000000");
    json_decref(root);
    proc_out r = kvctl(DB, "approx-size", "a");
    cr_expect_eq(r.status, 2, "an odd number of keys is a usage error");
    proc_free(&r);
}

Test(kvctl_inspect, property_prints_one_figure_and_lists_the_names)
{
    fill();
    proc_out r = kvctl(DB, "property", "--list");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, "lamina.levels-with-data "), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "lamina.bytes-at-level<N> "), "%s", r.out);
    proc_free(&r);
    json_t *list = kvctl_json(DB, "property", "--list", "--json");
    cr_assert(json_is_array(list) && json_array_size(list) > 20);
    /* Every name listed is one lamina_property answers. */
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *p = json_array_get(list, i);
        char name[128];
        snprintf(name, sizeof name, "%s", json_string_value(json_object_get(p, "name")));
        char *lt = strstr(name, "<N>");
        if (lt) strcpy(lt, "0");
        r = kvctl(DB, "property", name);
        cr_expect_eq(r.status, 0, "property %s: %s", name, r.err);
        proc_free(&r);
    }
    json_decref(list);
    json_t *root = kvctl_json(DB, "property", "--json", "lamina.w-amp");
    cr_expect(json_is_real(json_object_get(root, "value")));
    json_decref(root);
    root = kvctl_json(DB, "property", "--json", "lamina.compaction-policy");
    cr_expect_str_eq(json_string_value(json_object_get(root, "value")), "leveled");
    json_decref(root);
    r = kvctl(DB, "property", "lamina.no-such-figure");
    cr_expect_eq(r.status, 3);
    cr_expect_not_null(strstr(r.err, "unknown property"), "%s", r.err);
    proc_free(&r);
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

Test(kvctl_inspect, stats_names_the_policy_and_says_each_figure_once)
{
    fill();
    proc_out r = kvctl(DB, "--compaction_policy=dostoevsky", "stats");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, "compaction_policy dostoevsky"), "%s", r.out);
    cr_expect_null(strstr(r.out, "policy 2"), "%s", r.out);
    /* Every label of the table's lines after the level rows appears once. */
    const char *t = strstr(r.out, "\ntotal ");
    cr_assert_not_null(t, "%s", r.out);
    t = strchr(t + 1, '\n');
    char label[64];
    int checked = 0;
    for (const char *p = t; *p; p++) {
        if (!(p == t || p[-1] == ' ' || p[-1] == '\n') || !(isalpha((unsigned char)*p))) continue;
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_0123456789");
        if (n == 0 || n >= sizeof label || (p[n] != ' ' && p[n] != ':')) continue;
        memcpy(label, p, n);
        label[n] = '\0';
        cr_expect_eq(count_word(r.out, label), 1, "\"%s\" appears %d times in:\n%s", label,
                     count_word(r.out, label), r.out);
        checked++;
    }
    cr_expect_gt(checked, 15, "%s", r.out);
    cr_expect_eq(count_word(r.out, "since open"), 1, "%s", r.out);
    proc_free(&r);
    json_t *root = kvctl_json(DB, "stats", "--json");
    cr_expect_str_eq(json_string_value(json_object_get(root, "compaction_policy")), "leveled");
    cr_expect_eq(json_u64(root, "levels_with_data"), property("lamina.levels-with-data"));
    json_t *since = json_object_get(root, "since_open");
    cr_assert(json_is_object(since));
    (void)json_u64(since, "cache_hits");
    cr_expect_null(json_object_get(root, "cache_hits"), "a figure is said once");
    json_decref(root);
}

Test(kvctl_inspect, persisted_counters_survive_a_reopen_and_since_open_ones_restart)
{
    fill();
    json_t *a = kvctl_json(DB, "stats", "--json");
    /* A session that reads: lookups count in it, and are gone at the next open. */
    proc_out r = kvctl(DB, "get", "key000123");
    cr_assert_eq(r.status, 0, "%s", r.err);
    proc_free(&r);
    json_t *b = kvctl_json(DB, "stats", "--json");
    const char *kept[] = {"flushes", "bytes_flushed", "user_bytes_written", "flush_micros"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        cr_expect_gt(json_u64(a, kept[i]), 0, "%s", kept[i]);
        cr_expect_eq(json_u64(b, kept[i]), json_u64(a, kept[i]), "%s", kept[i]);
    }
    cr_expect_geq(json_u64(b, "compactions"), json_u64(a, "compactions"));
    cr_expect_gt(json_u64(b, "compactions"), 0);
    cr_expect_eq(json_u64(json_object_get(b, "since_open"), "lookups"), 0,
                 "lookups count since open");
    /* A session that writes and never flushes: its user bytes are logged at close. */
    r = kvctl(DB, "put", "newkey", "newvalue");
    cr_assert_eq(r.status, 0, "%s", r.err);
    proc_free(&r);
    json_t *c = kvctl_json(DB, "stats", "--json");
    cr_expect_eq(json_u64(c, "user_bytes_written"), json_u64(b, "user_bytes_written") + 14);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}
