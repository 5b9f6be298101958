/* test_options_persist.c — options persist with the database (lamina_options_load reads the
 * newest OPTIONS file, the caller's changes override it, the open logs and records a changed
 * structural option), and the info log keeps a dated history (LOG.old.<microseconds>, at most
 * keep_log_file_num of them). */
#include <sys/stat.h>

#include "helpers.h"

TestSuite(options_persist, .init = tdb_setup, .fini = tdb_teardown);

static void open_close(const lamina_options *o)
{
    lamina_db *db = tdb_open(T.path, o);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

static lamina_options loaded(void)
{
    lamina_options o;
    lamina_options_init(&o);
    int rc = lamina_options_load(T.path, &o);
    cr_assert_eq(rc, LAMINA_OK, "load: %s: %s", lamina_strerror(rc), lamina_errmsg(NULL));
    return o;
}

/* Whether some file of the directory whose name starts with prefix holds text. */
static int dir_file_holds(const char *prefix, const char *text)
{
    DIR *d = opendir(T.path);
    cr_assert_not_null(d);
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        char p[600], line[2048];
        snprintf(p, sizeof(p), "%s/%s", T.path, e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        while (!found && fgets(line, sizeof(line), f))
            found = strstr(line, text) != NULL;
        fclose(f);
    }
    closedir(d);
    return found;
}

/* Replaces the line of option name in the newest OPTIONS file with "name=value". */
static void damage_options_file(const char *name, const char *value)
{
    char path[600], text[8192], out[8192];
    tdb_find_file(T.path, "OPTIONS-", 1, path, sizeof(path));
    cr_assert(path[0]);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f), len = 0;
    fclose(f);
    text[n] = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == '=')
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s=%s\n", name, value);
        else
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s\n", line);
    }
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(out, f);
    fclose(f);
}

/* Another valid value of option d than its default: the next one up, else the next one down,
 * else (booleans) the other; text into out. */
static void other_value(const lamina_option_desc *d, char *out, size_t cap)
{
    int64_t v = d->def < d->max ? d->def + 1 : d->def - 1;
    lamina_options o;
    lamina_options_init(&o);
    if (d->kind == LAMINA_OPT_BOOL) v = !d->def;
    snprintf(out, cap, "%lld", (long long)v);
    /* An enum goes through its number; the text form read back is its name. */
    cr_assert_eq(lamina_options_set(&o, d->name, out), LAMINA_OK, "%s=%s: %s", d->name, out,
                 lamina_errmsg(NULL));
    cr_assert_eq(lamina_options_get(&o, d->name, out, cap), LAMINA_OK);
}

Test(options_persist, every_option_of_the_table_round_trips_through_the_options_file)
{
    size_t n = lamina_options_count();
    cr_assert_gt(n, 30);
    for (size_t i = 0; i < n; i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        /* create_if_missing and error_if_exists describe one open, not the database. */
        if (!strcmp(d->name, "create_if_missing") || !strcmp(d->name, "error_if_exists")) continue;
        lamina_options o;
        lamina_options_init(&o);
        o.create_if_missing = 1;
        char want[64], got[64];
        other_value(d, want, sizeof(want));
        cr_assert_eq(lamina_options_set(&o, d->name, want), LAMINA_OK, "%s", lamina_errmsg(NULL));
        /* format_version 1 does not take an FST index (the default is a B-tree). */
        open_close(&o);
        lamina_options back = loaded();
        for (size_t j = 0; j < n; j++) {
            const lamina_option_desc *e = lamina_options_describe(j);
            char a[64];
            cr_assert_eq(lamina_options_get(&o, e->name, a, sizeof(a)), LAMINA_OK);
            cr_assert_eq(lamina_options_get(&back, e->name, got, sizeof(got)), LAMINA_OK);
            if (!strcmp(e->name, "create_if_missing")) {
                cr_assert_str_eq(got, "false", "create_if_missing is never loaded");
                continue;
            }
            cr_assert_str_eq(got, a, "after setting %s=%s: %s reads back %s, not %s", d->name, want,
                             e->name, got, a);
        }
    }
}

Test(options_persist, get_and_set_are_inverse_and_get_refuses_bad_arguments)
{
    lamina_options o, p;
    lamina_options_init(&o);
    lamina_options_init(&p);
    o.compaction_policy = LAMINA_COMPACTION_DOSTOEVSKY;
    o.write_buffer_size = 3 << 20;
    o.use_io_uring = 0;
    char v[64];
    for (size_t i = 0; i < lamina_options_count(); i++) {
        const lamina_option_desc *d = lamina_options_describe(i);
        cr_assert_eq(lamina_options_get(&o, d->name, v, sizeof(v)), LAMINA_OK);
        cr_assert_eq(lamina_options_set(&p, d->name, v), LAMINA_OK, "%s=%s", d->name, v);
    }
    cr_assert_eq(memcmp(&o, &p, sizeof(o)), 0);
    cr_assert_eq(lamina_options_get(&o, "compaction_policy", v, sizeof(v)), LAMINA_OK);
    cr_assert_str_eq(v, "dostoevsky");
    cr_assert_eq(lamina_options_get(&o, "no_such_option", v, sizeof(v)), LAMINA_EINVAL);
    cr_assert_eq(lamina_options_get(&o, "compaction_policy", v, 4), LAMINA_EINVAL);
    cr_assert_eq(lamina_options_get(NULL, "size_ratio", v, sizeof(v)), LAMINA_EINVAL);
}

Test(options_persist, a_tiered_database_stays_tiered_across_reopens_that_load)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = LAMINA_COMPACTION_TIERED;
    o.size_ratio = 4;
    o.memtable_type = LAMINA_MEMTABLE_AVL;
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 3000, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    for (int round = 0; round < 3; round++) {
        /* What a plain reopen does: the defaults, the database's own, then the caller's. */
        lamina_options p = loaded();
        cr_assert_eq(p.compaction_policy, LAMINA_COMPACTION_TIERED);
        cr_assert_eq(p.size_ratio, 4);
        cr_assert_eq(p.memtable_type, LAMINA_MEMTABLE_AVL);
        cr_assert_eq(p.write_buffer_size, 64 << 10, "every option persists, sizes included");
        cr_assert_eq(p.create_if_missing, 0, "create_if_missing is the caller's");
        db = tdb_open(T.path, &p);
        tdb_put_range(db, NULL, 0, 1000, round + 2);
        cr_assert_eq(lamina_close(db), LAMINA_OK);
    }
    cr_assert(!dir_file_holds("LOG", "changed"), "a reopen with the loaded options changes none");
    cr_assert_eq(loaded().compaction_policy, LAMINA_COMPACTION_TIERED);
}

Test(options_persist, overriding_a_structural_option_is_logged_and_recorded)
{
    lamina_options o = tdb_small_options();
    o.compaction_policy = LAMINA_COMPACTION_TIERED;
    open_close(&o);
    lamina_options p = loaded();
    p.compaction_policy = LAMINA_COMPACTION_LEVELED;
    p.bloom_bits = 6;
    open_close(&p);
    cr_assert(dir_file_holds("LOG", "option compaction_policy changed (structural: the tree "
                                    "reshapes from here): tiered in OPTIONS-"),
              "the LOG tells of the structural change");
    cr_assert(dir_file_holds("LOG", "option bloom_bits changed: 10 in OPTIONS-"),
              "other changes are logged too");
    cr_assert(dir_file_holds("OPTIONS-", "compaction_policy=leveled"), "recorded");
    lamina_options q = loaded();
    cr_assert_eq(q.compaction_policy, LAMINA_COMPACTION_LEVELED);
    cr_assert_eq(q.bloom_bits, 6);
}

Test(options_persist, load_refuses_a_missing_or_damaged_options_file_and_leaves_opts_unchanged)
{
    lamina_options o, before;
    lamina_options_init(&o);
    o.size_ratio = 7;
    before = o;
    cr_assert_eq(lamina_options_load(T.path, &o), LAMINA_ENOENT);
    cr_assert_eq(memcmp(&o, &before, sizeof(o)), 0);
    cr_assert_eq(lamina_options_load(NULL, &o), LAMINA_EINVAL);
    lamina_options small = o;
    small.struct_size = 8;
    cr_assert_eq(lamina_options_load(T.path, &small), LAMINA_EINVAL);

    lamina_options c = tdb_small_options();
    open_close(&c);
    damage_options_file("size_ratio", "banana");
    cr_assert_eq(lamina_options_load(T.path, &o), LAMINA_ECORRUPT);
    const char *msg = lamina_errmsg(NULL);
    cr_assert_not_null(strstr(msg, "OPTIONS-"), "%s", msg);
    cr_assert_not_null(strstr(msg, "size_ratio"), "%s", msg);
    cr_assert_eq(memcmp(&o, &before, sizeof(o)), 0, "a damaged file changes nothing");
}

/* ---- The info log's history ----------------------------------------------------------- */

/* The LOG.old.<micros> files in the directory, their numbers ascending in micros (up to cap);
 * returns how many; *legacy: whether a bare LOG.old is there. */
static size_t old_logs(uint64_t *micros, size_t cap, int *legacy)
{
    DIR *d = opendir(T.path);
    cr_assert_not_null(d);
    struct dirent *de;
    size_t n = 0;
    *legacy = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, "LOG.old")) *legacy = 1;
        if (strncmp(de->d_name, "LOG.old.", 8) || n == cap) continue;
        char *end;
        micros[n++] = strtoull(de->d_name + 8, &end, 10);
        cr_assert_eq(*end, 0, "%s", de->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && micros[j - 1] > micros[j]; j--) {
            uint64_t t = micros[j];
            micros[j] = micros[j - 1];
            micros[j - 1] = t;
        }
    return n;
}

Test(options_persist, each_writer_open_keeps_the_previous_log_as_log_old_micros_up_to_the_limit)
{
    lamina_options o = tdb_small_options();
    o.keep_log_file_num = 3;
    open_close(&o);
    /* An older Lamina's single LOG.old counts as the oldest. */
    char p[400];
    snprintf(p, sizeof(p), "%s/LOG.old", T.path);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("an older Lamina's log\n", f);
    fclose(f);
    uint64_t m[16], first = 0;
    int legacy;
    for (int i = 0; i < 5; i++) {
        open_close(&o);
        size_t n = old_logs(m, 16, &legacy);
        if (i == 0) {
            cr_assert_eq(n, 1);
            cr_assert(legacy);
            first = m[0];
            cr_assert_gt(first, 1500000000ull * 1000000ull, "microseconds since the epoch");
        }
        cr_assert_leq(n + (size_t)legacy, 3, "at most keep_log_file_num earlier logs");
    }
    size_t n = old_logs(m, 16, &legacy);
    cr_assert_eq(n, 3);
    cr_assert(!legacy, "the oldest, LOG.old, went first");
    cr_assert_gt(m[0], first, "the oldest dated ones went next");
    cr_assert(dir_file_holds("LOG.old.", "opened:"), "the earlier logs hold the earlier opens");
    /* A read-only open rotates nothing. */
    lamina_db *r;
    cr_assert_eq(lamina_open_read_only(T.path, &o, &r), LAMINA_OK);
    cr_assert_eq(lamina_close(r), LAMINA_OK);
    uint64_t m2[16];
    cr_assert_eq(old_logs(m2, 16, &legacy), 3);
    cr_assert_eq(memcmp(m, m2, sizeof(m[0]) * 3), 0);
    /* keep_log_file_num = 0: no history at all. */
    o.keep_log_file_num = 0;
    open_close(&o);
    cr_assert_eq(old_logs(m, 16, &legacy), 0);
    /* lamina_destroy removes the history with the rest. */
    o.keep_log_file_num = 10;
    open_close(&o);
    open_close(&o);
    cr_assert_eq(lamina_destroy(T.path), LAMINA_OK);
    struct stat st;
    cr_assert_neq(stat(T.path, &st), 0, "the directory went with every file of Lamina's");
}
