/* test_wal_recovery.c — wal_recovery_mode at open: a torn tail is dropped (absolute_consistency
 * refuses it), damage to a complete WAL record fails the open by default, point_in_time keeps
 * what precedes the damage and skip_any skips the damaged record, both reporting what they
 * dropped and moving what recovery cannot account for to lost/; the MANIFEST is strict. */
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(wal_recovery, .init = tdb_setup, .fini = tdb_teardown);

#define NKEYS 2000

static lamina_options wal_options(int mode)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 8 << 20; /* everything stays in the WAL */
    o.wal_recovery_mode = mode;
    return o;
}

static void newest(const char *pattern, int prefix, char *out, size_t cap)
{
    tdb_find_file(T.path, pattern, prefix, out, cap);
    cr_assert_neq(out[0], 0, "no file matching %s", pattern);
}

static long length_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return (long)st.st_size;
}

/* Writes keys [0, NKEYS), one WAL record each, closes, and damages the WAL at off (negative:
 * from its end) unless off == 0; the WAL's path in wal. */
static void damaged_wal(long off, char *wal, size_t cap)
{
    lamina_options o = wal_options(LAMINA_WAL_TOLERATE_CORRUPTED_TAIL);
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, NKEYS, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    newest(".log", 0, wal, cap);
    if (off) tdb_flip(wal, off < 0 ? length_of(wal) + off : off, 0x20);
}

static int present(lamina_db *db, int i)
{
    char k[32];
    size_t kl = tdb_key(k, (uint64_t)i), vl;
    void *v = NULL;
    int rc = lamina_get(db, NULL, k, kl, &v, &vl);
    cr_assert(rc == LAMINA_OK || rc == LAMINA_NOTFOUND, "get: %s", lamina_errmsg(db));
    lamina_free(v);
    return v != NULL;
}

static void expect_open_fails(int mode, const char *what)
{
    lamina_options o = wal_options(mode);
    lamina_db *db = NULL;
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_ECORRUPT);
    const char *msg = lamina_errmsg(NULL);
    cr_assert_not_null(strstr(msg, ".log"), "%s", msg);
    cr_assert_not_null(strstr(msg, what), "%s", msg);
}

static int in_lost(const char *name)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/lost/%s", T.path, name);
    return access(p, F_OK) == 0;
}

Test(wal_recovery, damaged_last_record_fails_the_open_by_default)
{
    char wal[600];
    damaged_wal(-3, wal, sizeof(wal));
    expect_open_fails(LAMINA_WAL_TOLERATE_CORRUPTED_TAIL, "checksum mismatch");
    expect_open_fails(LAMINA_WAL_ABSOLUTE_CONSISTENCY, "offset");
    /* The failed opens changed nothing: the damage is still there to be seen. */
    expect_open_fails(LAMINA_WAL_TOLERATE_CORRUPTED_TAIL, "checksum mismatch");
}

Test(wal_recovery, torn_tail_fails_only_absolute_consistency)
{
    char wal[600];
    damaged_wal(0, wal, sizeof(wal));
    cr_assert_eq(truncate(wal, length_of(wal) - 5), 0);
    expect_open_fails(LAMINA_WAL_ABSOLUTE_CONSISTENCY, "torn tail");
    lamina_options o = wal_options(LAMINA_WAL_TOLERATE_CORRUPTED_TAIL);
    lamina_db *db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, NKEYS - 1, 0);
    tdb_expect_range(db, NKEYS - 1, NKEYS, -1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(wal_recovery, point_in_time_keeps_what_precedes_the_damage_and_says_what_it_dropped)
{
    char wal[600];
    damaged_wal(40000, wal, sizeof(wal)); /* in the second 32 KiB block */
    const char *name = strrchr(wal, '/') + 1;
    lamina_options o = wal_options(LAMINA_WAL_POINT_IN_TIME);
    lamina_db *db = NULL;
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_not_null(strstr(lamina_errmsg(NULL), "dropped"), "%s", lamina_errmsg(NULL));
    cr_assert_not_null(strstr(lamina_errmsg(NULL), name), "%s", lamina_errmsg(NULL));
    char *note = NULL;
    cr_assert_eq(lamina_property(db, "lamina.recovery", &note), LAMINA_OK);
    cr_assert_not_null(strstr(note, "offset"), "%s", note);
    lamina_free(note);
    int first_missing = 0;
    while (first_missing < NKEYS && present(db, first_missing))
        first_missing++;
    cr_assert_gt(first_missing, 100, "records before the damage are kept");
    cr_assert_lt(first_missing, NKEYS - 100);
    for (int i = first_missing; i < NKEYS; i++)
        cr_assert(!present(db, i), "key %d after the damage must be dropped", i);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    cr_assert(in_lost(name), "the damaged WAL is kept in lost/");
    /* The next open, in the strict default mode, is clean and sees the same data. */
    o.wal_recovery_mode = LAMINA_WAL_TOLERATE_CORRUPTED_TAIL;
    db = tdb_open(T.path, &o);
    cr_assert_eq(lamina_property(db, "lamina.recovery", &note), LAMINA_OK);
    cr_assert_str_empty(note);
    lamina_free(note);
    tdb_expect_range(db, 0, first_missing, 0);
    cr_assert(!present(db, first_missing));
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(wal_recovery, skip_any_drops_only_the_damaged_record)
{
    char wal[600];
    damaged_wal(40000, wal, sizeof(wal));
    lamina_options o = wal_options(LAMINA_WAL_SKIP_ANY);
    lamina_db *db = NULL;
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_not_null(strstr(lamina_errmsg(NULL), "skipped"), "%s", lamina_errmsg(NULL));
    int missing = 0;
    for (int i = 0; i < NKEYS; i++)
        missing += !present(db, i);
    cr_assert_eq(missing, 1, "%d keys missing", missing);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* A table no version names: kept in lost/ after recovery dropped records, deleted otherwise. */
static void unaccounted_table(int damage, int expect_lost)
{
    lamina_options o = wal_options(LAMINA_WAL_POINT_IN_TIME);
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 500, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char wal[600];
    damaged_wal(damage ? 40000 : 0, wal, sizeof(wal));
    /* A copy of the table under a number below the next file number that no version names
     * (MANIFEST_FILE_NUMBER_HEADROOM keeps 999 below it). */
    char table[600], copy[700];
    newest(".sst", 0, table, sizeof(table));
    snprintf(copy, sizeof(copy), "%s/000999.sst", T.path);
    FILE *in = fopen(table, "rb"), *out = fopen(copy, "wb");
    cr_assert(in && out);
    char b[4096];
    for (size_t n; (n = fread(b, 1, sizeof(b), in)) > 0;)
        cr_assert_eq(fwrite(b, 1, n, out), n);
    fclose(in);
    fclose(out);
    db = NULL;
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    cr_assert_eq(access(copy, F_OK), -1, "the unaccounted table left the directory");
    cr_assert_eq(in_lost("000999.sst"), expect_lost);
}

Test(wal_recovery, unaccounted_tables_go_to_lost_after_dropped_records)
{
    unaccounted_table(1, 1);
}

Test(wal_recovery, unaccounted_tables_are_deleted_after_a_clean_recovery)
{
    unaccounted_table(0, 0);
}

Test(wal_recovery, any_flip_in_the_last_manifest_record_fails_the_open)
{
    lamina_options o = wal_options(LAMINA_WAL_TOLERATE_CORRUPTED_TAIL);
    lamina_db *db = tdb_open(T.path, &o);
    for (int i = 0; i < 3; i++) {
        tdb_put_range(db, NULL, i * 100, i * 100 + 100, 0);
        cr_assert_eq(lamina_flush(db), LAMINA_OK);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char man[600];
    newest("MANIFEST-", 1, man, sizeof(man));
    long len = length_of(man);
    for (long at = len - 24; at < len; at++)
        for (int bit = 0; bit < 8; bit += 3) {
            tdb_flip(man, at, 1 << bit);
            db = NULL;
            int rc = lamina_open(T.path, &o, &db);
            cr_assert_eq(rc, LAMINA_ECORRUPT, "flip of bit %d at %ld of %ld: rc %d", bit, at, len,
                         rc);
            cr_assert_not_null(strstr(lamina_errmsg(NULL), "MANIFEST"), "%s", lamina_errmsg(NULL));
            tdb_flip(man, at, 1 << bit);
        }
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 300, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
