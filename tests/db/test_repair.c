/* test_repair.c — lamina_check reads a database without writing a byte and reports every
 * damaged or missing file with its offset (every damaged table, every damaged WAL record, a
 * torn tail as a note, unaccounted files as notes); lamina_repair rebuilds a database from
 * what reads clean, moves the rest to lost/, never deletes, and resolves overlapping tables by
 * sequence number. */
#include <dirent.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "sst/table.h"
#include "util/file.h"
#include "util/ikey.h"

TestSuite(repair, .init = tdb_setup, .fini = tdb_teardown);

/* ---- The database every test starts from ------------------------------------------------ */

/* Keys 0..999 of generation 0 in one table (T1); every 3rd key of generation 1 and a
 * tombstone for every 7th key in a second table (T2); keys 500..599 and the new keys
 * 1000..1049 of generation 2 in the WAL only, one record per key (150 records). */
#define NKEYS 1050
#define WAL_RECORDS 150

static lamina_options fixture_options(void)
{
    lamina_options o;
    lamina_options_init(&o);
    o.create_if_missing = 1;
    o.write_buffer_size = 4 << 20; /* only the explicit flushes make tables */
    o.block_size = 1024;
    o.compression_type = LAMINA_COMPRESSION_NONE;
    return o;
}

static void build_fixture(void)
{
    lamina_options o = fixture_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 1000, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    for (int i = 0; i < 1000; i += 3)
        tdb_put_range(db, NULL, i, i + 1, 1);
    char k[32];
    for (int i = 0; i < 1000; i += 7)
        cr_assert_eq(lamina_delete(db, NULL, k, tdb_key(k, (uint64_t)i)), LAMINA_OK);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    tdb_put_range(db, NULL, 500, 600, 2);
    tdb_put_range(db, NULL, 1000, 1050, 2);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* What survives: every table and WAL record, or less. */
enum { LOST_T1 = 1, LOST_T2 = 2 };

/* Generation key i holds (-1: absent) when the tables in `lost` and the WAL record of key
 * `dropped` (-1: none) are gone. */
static int fixture_gen(int i, int lost, int dropped)
{
    if (i >= 1000) return i == dropped ? -1 : 2;
    if (i >= 500 && i < 600 && i != dropped) return 2;
    if (!(lost & LOST_T2)) {
        if (i % 7 == 0) return -1;
        if (i % 3 == 0) return 1;
    }
    return lost & LOST_T1 ? -1 : 0;
}

static void expect_fixture(lamina_db *db, int lost, int dropped)
{
    for (int i = 0; i < NKEYS; i++)
        tdb_expect_range(db, i, i + 1, fixture_gen(i, lost, dropped));
}

/* Entries of the two tables: T1's 1000, and T2's puts and tombstones (a key put and deleted
 * before the flush leaves only its tombstone). */
static uint64_t fixture_table_entries(void)
{
    uint64_t n = 1000;
    for (int i = 0; i < 1000; i++)
        n += i % 3 == 0 || i % 7 == 0;
    return n;
}

static uint64_t fixture_live_keys(void)
{
    uint64_t n = 0;
    for (int i = 0; i < NKEYS; i++)
        n += fixture_gen(i, 0, -1) >= 0;
    return n;
}

/* ---- Files -------------------------------------------------------------------------------- */

/* Name of the n-th (0-based, ascending by name) file in dir ending with suffix or starting
 * with prefix; fails the test when there is none. */
static void nth_file(const char *dir, const char *affix, int prefix, int n, char *out, size_t cap)
{
    struct dirent **list;
    int m = scandir(dir, &list, NULL, alphasort), seen = 0;
    cr_assert_geq(m, 0, "%s", dir);
    out[0] = 0;
    for (int i = 0; i < m; i++) {
        const char *name = list[i]->d_name;
        size_t l = strlen(name), a = strlen(affix);
        int match =
            prefix ? strncmp(name, affix, a) == 0 : l > a && strcmp(name + l - a, affix) == 0;
        if (match && seen++ == n) snprintf(out, cap, "%.63s", name);
        free(list[i]);
    }
    free(list);
    cr_assert_neq(out[0], 0, "no file %s number %d in %s", affix, n, dir);
}

static void path_of(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void flip(const char *dir, const char *name, long off)
{
    char p[600];
    path_of(p, sizeof(p), dir, name);
    tdb_flip(p, off, 0x20);
}

static long size_of(const char *dir, const char *name)
{
    char p[600];
    struct stat st;
    path_of(p, sizeof(p), dir, name);
    cr_assert_eq(stat(p, &st), 0, "%s", p);
    return (long)st.st_size;
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[600];
    path_of(path, sizeof(path), dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* The whole file's bytes (malloc'd) and length. */
static char *slurp(const char *dir, const char *name, size_t *n)
{
    char p[600];
    path_of(p, sizeof(p), dir, name);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "%s", p);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    rewind(f);
    char *b = malloc((size_t)len + 1);
    cr_assert_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Offsets of the records of a log whose records each fit in one fragment (FULL), as the
 * fixture's WAL records do (docs/format.md, Part 1 §1). */
static size_t log_records(const char *dir, const char *name, long *offs, size_t cap)
{
    size_t len, n = 0, pos = 0;
    char *b = slurp(dir, name, &len);
    while (pos + 7 <= len && n < cap) {
        size_t left = 32768 - pos % 32768;
        if (left < 7) {
            pos += left;
            continue;
        }
        size_t flen = (size_t)(unsigned char)b[pos + 4] | (size_t)(unsigned char)b[pos + 5] << 8;
        cr_assert_eq(b[pos + 6], 1, "%s: fragment at %zu is not FULL", name, pos);
        offs[n++] = (long)pos;
        pos += 7 + flen;
    }
    free(b);
    return n;
}

/* A listing of dir: "name size mtime" per entry, sorted. */
static void snapshot_dir(const char *dir, char *out, size_t cap)
{
    struct dirent **list;
    struct stat ds;
    int m = scandir(dir, &list, NULL, alphasort);
    cr_assert_geq(m, 0);
    cr_assert_eq(stat(dir, &ds), 0);
    size_t used = (size_t)snprintf(out, cap, ". %lld.%09ld\n", (long long)ds.st_mtim.tv_sec,
                                   ds.st_mtim.tv_nsec);
    for (int i = 0; i < m; i++) {
        char p[600];
        struct stat st;
        path_of(p, sizeof(p), dir, list[i]->d_name);
        if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..") && stat(p, &st) == 0)
            used += (size_t)snprintf(out + used, cap - used, "%s %lld %lld.%09ld\n",
                                     list[i]->d_name, (long long)st.st_size,
                                     (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        free(list[i]);
        cr_assert_lt(used, cap);
    }
    free(list);
}

/* ---- Findings ----------------------------------------------------------------------------- */

struct finding {
    char file[64];
    uint64_t offset;
    int code;
    char what[400];
};

struct findings {
    int n;
    struct finding f[256];
};

static void collect(void *ctx, const char *file, uint64_t offset, int code, const char *what)
{
    struct findings *fs = ctx;
    cr_assert_not_null(file);
    cr_assert_not_null(what);
    if (fs->n == 256) return;
    struct finding *f = &fs->f[fs->n++];
    snprintf(f->file, sizeof(f->file), "%s", file);
    snprintf(f->what, sizeof(f->what), "%s", what);
    f->offset = offset;
    f->code = code;
}

/* The first finding about file with the code (0 for a note, or any non-zero code when code is
 * 1), or NULL. */
static const struct finding *find(const struct findings *fs, const char *file, int code)
{
    for (int i = 0; i < fs->n; i++)
        if (strcmp(fs->f[i].file, file) == 0 &&
            (code == 1 ? fs->f[i].code != 0 : fs->f[i].code == code))
            return &fs->f[i];
    return NULL;
}

static int count_problems(const struct findings *fs)
{
    int n = 0;
    for (int i = 0; i < fs->n; i++)
        n += fs->f[i].code != 0;
    return n;
}

static void dump(const struct findings *fs)
{
    for (int i = 0; i < fs->n; i++)
        cr_log_info("%s:%" PRIu64 ": [%d] %s", fs->f[i].file, fs->f[i].offset, fs->f[i].code,
                    fs->f[i].what);
}

static int run_check(struct findings *fs, lamina_check_stats *st)
{
    memset(fs, 0, sizeof(*fs));
    memset(st, 0, sizeof(*st));
    st->struct_size = sizeof(*st);
    int rc = lamina_check(T.path, NULL, collect, fs, st);
    dump(fs);
    return rc;
}

static int run_repair(struct findings *fs, lamina_repair_stats *st)
{
    memset(fs, 0, sizeof(*fs));
    memset(st, 0, sizeof(*st));
    st->struct_size = sizeof(*st);
    lamina_options o = fixture_options();
    int rc = lamina_repair(T.path, &o, collect, fs, st);
    dump(fs);
    cr_assert_eq(rc, LAMINA_OK, "repair: %s: %s", lamina_strerror(rc), lamina_errmsg(NULL));
    return rc;
}

static lamina_db *open_fixture(void)
{
    lamina_options o = fixture_options();
    o.create_if_missing = 0;
    return tdb_open(T.path, &o);
}

/* ---- Check -------------------------------------------------------------------------------- */

Test(repair, check_of_a_sound_database_finds_nothing_and_counts_the_live_keys)
{
    build_fixture();
    struct findings fs;
    lamina_check_stats st;
    int rc = run_check(&fs, &st);
    cr_assert_eq(rc, LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_eq(count_problems(&fs), 0);
    cr_assert_eq(st.problems, 0);
    cr_assert_eq(st.tables, 2);
    cr_assert_eq(st.wals, 1);
    cr_assert_eq(st.wal_records, WAL_RECORDS);
    cr_assert_eq(st.table_entries, fixture_table_entries());
    cr_assert_eq(st.keys, fixture_live_keys());
    cr_assert_gt(st.manifest_records, 0);
}

Test(repair, check_writes_nothing_takes_no_lock_and_runs_beside_an_open_handle)
{
    build_fixture();
    char lock[600];
    path_of(lock, sizeof(lock), T.path, "LOCK");
    cr_assert_eq(unlink(lock), 0);
    char wal[64];
    nth_file(T.path, ".log", 0, 0, wal, sizeof(wal));
    flip(T.path, wal, 40); /* damage, so that an open would have had something to "fix" */
    static char before[8192], after[8192];
    snapshot_dir(T.path, before, sizeof(before));
    struct findings fs;
    lamina_check_stats st;
    cr_assert_eq(run_check(&fs, &st), LAMINA_ECORRUPT);
    snapshot_dir(T.path, after, sizeof(after));
    cr_assert_str_eq(after, before, "the directory changed:\n%s\nwas:\n%s", after, before);
    cr_assert_eq(access(lock, F_OK), -1, "check created LOCK");

    /* A handle holding the LOCK does not stop a check. */
    flip(T.path, wal, 40);
    lamina_db *db = open_fixture();
    cr_assert_eq(run_check(&fs, &st), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_eq(st.keys, fixture_live_keys());
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(repair, check_reports_each_damaged_table_with_an_offset)
{
    build_fixture();
    char t1[64], t2[64];
    nth_file(T.path, ".sst", 0, 0, t1, sizeof(t1));
    nth_file(T.path, ".sst", 0, 1, t2, sizeof(t2));
    flip(T.path, t1, 2000);
    flip(T.path, t2, size_of(T.path, t2) - 100);
    struct findings fs;
    lamina_check_stats st;
    cr_assert_eq(run_check(&fs, &st), LAMINA_ECORRUPT);
    const struct finding *a = find(&fs, t1, LAMINA_ECORRUPT), *b = find(&fs, t2, LAMINA_ECORRUPT);
    cr_assert_not_null(a, "%s is not reported", t1);
    cr_assert_not_null(b, "%s is not reported", t2);
    cr_assert_leq(a->offset, 2000, "%s: offset %" PRIu64, t1, a->offset);
    cr_assert_neq(b->offset, UINT64_MAX);
    cr_assert_eq(st.problems, 2);
    cr_assert_eq(st.keys, 0, "keys are counted only when nothing is wrong");
    cr_assert_not_null(strstr(lamina_errmsg(NULL), t1), "%s", lamina_errmsg(NULL));
}

Test(repair, check_reports_a_missing_table_and_a_missing_wal)
{
    build_fixture();
    char t1[64], wal[64], p[600];
    nth_file(T.path, ".sst", 0, 0, t1, sizeof(t1));
    nth_file(T.path, ".log", 0, 0, wal, sizeof(wal));
    path_of(p, sizeof(p), T.path, t1);
    cr_assert_eq(unlink(p), 0);
    path_of(p, sizeof(p), T.path, wal);
    cr_assert_eq(unlink(p), 0);
    struct findings fs;
    lamina_check_stats st;
    cr_assert_eq(run_check(&fs, &st), LAMINA_ECORRUPT);
    const struct finding *a = find(&fs, t1, LAMINA_ECORRUPT), *b = find(&fs, wal, LAMINA_ECORRUPT);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_not_null(strstr(a->what, "missing"), "%s", a->what);
    cr_assert_not_null(strstr(b->what, "missing"), "%s", b->what);
    cr_assert_eq(a->offset, UINT64_MAX);
}

Test(repair, check_reports_each_damaged_wal_record_and_reads_on)
{
    build_fixture();
    char wal[64];
    long offs[WAL_RECORDS + 1];
    nth_file(T.path, ".log", 0, 0, wal, sizeof(wal));
    cr_assert_eq(log_records(T.path, wal, offs, WAL_RECORDS + 1), WAL_RECORDS);
    flip(T.path, wal, offs[20] + 10);
    flip(T.path, wal, offs[90] + 3); /* the checksum */
    struct findings fs;
    lamina_check_stats st;
    cr_assert_eq(run_check(&fs, &st), LAMINA_ECORRUPT);
    cr_assert_eq(count_problems(&fs), 2);
    cr_assert_eq(fs.f[0].offset, (uint64_t)offs[20], "%" PRIu64, fs.f[0].offset);
    cr_assert_eq(fs.f[1].offset, (uint64_t)offs[90], "%" PRIu64, fs.f[1].offset);
    cr_assert_str_eq(fs.f[0].file, wal);
    cr_assert_eq(st.wal_records, WAL_RECORDS - 2);
}

Test(repair, check_takes_a_torn_wal_tail_for_a_note)
{
    build_fixture();
    char wal[64], p[600];
    long offs[WAL_RECORDS + 1];
    nth_file(T.path, ".log", 0, 0, wal, sizeof(wal));
    cr_assert_eq(log_records(T.path, wal, offs, WAL_RECORDS + 1), WAL_RECORDS);
    path_of(p, sizeof(p), T.path, wal);
    cr_assert_eq(truncate(p, offs[WAL_RECORDS - 1] + 12), 0);
    struct findings fs;
    lamina_check_stats st;
    cr_assert_eq(run_check(&fs, &st), LAMINA_OK, "%s", lamina_errmsg(NULL));
    const struct finding *n = find(&fs, wal, 0);
    cr_assert_not_null(n, "no note about the torn tail");
    cr_assert_eq(n->offset, (uint64_t)offs[WAL_RECORDS - 1]);
    cr_assert_not_null(strstr(n->what, "torn"), "%s", n->what);
    cr_assert_eq(st.wal_records, WAL_RECORDS - 1);
    cr_assert_eq(st.keys, fixture_live_keys() - 1);
}

Test(repair, check_takes_zeros_after_the_last_record_for_a_torn_tail)
{
    build_fixture();
    char wal[64], p[600];
    nth_file(T.path, ".log", 0, 0, wal, sizeof(wal));
    path_of(p, sizeof(p), T.path, wal);
    long size = size_of(T.path, wal);
    cr_assert_eq(truncate(p, size + 4096), 0); /* a preallocated page never written */
    struct findings fs;
    lamina_check_stats st;
    cr_assert_eq(run_check(&fs, &st), LAMINA_OK, "%s", lamina_errmsg(NULL));
    const struct finding *n = find(&fs, wal, 0);
    cr_assert_not_null(n, "no note about the zeroed tail");
    cr_assert_eq(n->offset, (uint64_t)size);
    cr_assert_eq(st.wal_records, WAL_RECORDS);
    cr_assert_eq(st.keys, fixture_live_keys());
}

Test(repair, check_reports_a_damaged_current_and_still_checks_the_tables)
{
    build_fixture();
    char t2[64];
    nth_file(T.path, ".sst", 0, 1, t2, sizeof(t2));
    write_file(T.path, "CURRENT", "MANIFEST-0x\n", 12);
    flip(T.path, t2, 100);
    struct findings fs;
    lamina_check_stats st;
    cr_assert_eq(run_check(&fs, &st), LAMINA_ECORRUPT);
    const struct finding *c = find(&fs, "CURRENT", LAMINA_ECORRUPT);
    cr_assert_not_null(c);
    cr_assert_eq(c->offset, 0);
    cr_assert_not_null(find(&fs, t2, LAMINA_ECORRUPT), "the table is checked all the same");
    cr_assert_eq(st.tables, 2);

    char cur[600];
    path_of(cur, sizeof(cur), T.path, "CURRENT");
    cr_assert_eq(unlink(cur), 0);
    cr_assert_eq(run_check(&fs, &st), LAMINA_ECORRUPT);
    c = find(&fs, "CURRENT", LAMINA_ECORRUPT);
    cr_assert_not_null(c);
    cr_assert_not_null(strstr(c->what, "missing"), "%s", c->what);
}

Test(repair, check_lists_what_the_manifest_does_not_account_for_as_notes)
{
    build_fixture();
    write_file(T.path, "README", "notes\n", 6);
    write_file(T.path, "000003.sst", "", 0);    /* a number Lamina gave out */
    write_file(T.path, "99999999.sst", "x", 1); /* one it never did */
    char lost[600];
    path_of(lost, sizeof(lost), T.path, "lost");
    cr_assert_eq(mkdir(lost, 0755), 0);
    write_file(lost, "000002.log", "x", 1);
    struct findings fs;
    lamina_check_stats st;
    cr_assert_eq(run_check(&fs, &st), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_not_null(find(&fs, "README", 0));
    cr_assert_not_null(find(&fs, "000003.sst", 0));
    cr_assert_not_null(find(&fs, "99999999.sst", 0));
    cr_assert_not_null(find(&fs, "lost", 0));
    cr_assert_eq(st.notes, 4);
}

Test(repair, check_reports_a_wal_whose_manifest_record_was_lost)
{
    build_fixture();
    char man[64], wal[64], p[600];
    long offs[16];
    nth_file(T.path, "MANIFEST-", 1, 0, man, sizeof(man));
    nth_file(T.path, ".log", 0, 0, wal, sizeof(wal));
    size_t n = log_records(T.path, man, offs, 16);
    cr_assert_geq(n, 4);
    /* Cut at a record boundary: what remains reads clean, but no longer records the WAL. The
     * last records are the WAL's creation, the flush's edit and close's statistics edit. */
    path_of(p, sizeof(p), T.path, man);
    cr_assert_eq(truncate(p, offs[n - 3]), 0);
    struct findings fs;
    lamina_check_stats st;
    cr_assert_eq(run_check(&fs, &st), LAMINA_ECORRUPT);
    const struct finding *w = find(&fs, wal, LAMINA_ECORRUPT);
    cr_assert_not_null(w, "the WAL holding data the MANIFEST does not record is not reported");
}

Test(repair, check_refuses_what_is_not_a_lamina_database)
{
    lamina_check_stats st = {.struct_size = sizeof(st)};
    cr_assert_eq(lamina_check(T.path, NULL, NULL, NULL, &st), LAMINA_ENOENT);
    cr_assert_eq(mkdir(T.path, 0755), 0);
    write_file(T.path, "README", "x", 1);
    cr_assert_eq(lamina_check(T.path, NULL, NULL, NULL, NULL), LAMINA_ENOENT);
    cr_assert_eq(lamina_repair(T.path, NULL, NULL, NULL, NULL), LAMINA_ENOENT);
    write_file(T.path, "IDENTITY", "x", 1);
    write_file(T.path, "000005.log", "", 0);
    cr_assert_eq(lamina_check(T.path, NULL, NULL, NULL, NULL), LAMINA_EINVAL);
    cr_assert_eq(lamina_repair(T.path, NULL, NULL, NULL, NULL), LAMINA_EINVAL);
    cr_assert_not_null(strstr(lamina_errmsg(NULL), "RocksDB or LevelDB"));
    cr_assert_eq(access(T.path, F_OK), 0);
    char p[600];
    path_of(p, sizeof(p), T.path, "LOCK");
    cr_assert_eq(access(p, F_OK), -1, "a refused directory gets no LOCK");
    st.struct_size = 0;
    cr_assert_eq(lamina_check(T.path, NULL, NULL, NULL, &st), LAMINA_EINVAL);
    cr_assert_eq(lamina_check(NULL, NULL, NULL, NULL, NULL), LAMINA_EINVAL);
}

/* ---- Repair ------------------------------------------------------------------------------- */

/* Files in dir/lost (0 when it does not exist). */
static int lost_count(void)
{
    char lost[600];
    path_of(lost, sizeof(lost), T.path, "lost");
    DIR *d = opendir(lost);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* After a repair: the database opens, holds what the model says, and checks clean. */
static void expect_repaired(int lost, int dropped)
{
    lamina_db *db = open_fixture();
    expect_fixture(db, lost, dropped);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    struct findings fs;
    lamina_check_stats st;
    cr_assert_eq(run_check(&fs, &st), LAMINA_OK, "%s", lamina_errmsg(NULL));
}

Test(repair, repair_of_a_sound_database_keeps_every_key)
{
    build_fixture();
    struct findings fs;
    lamina_repair_stats st;
    run_repair(&fs, &st);
    cr_assert_eq(st.problems, 0);
    cr_assert_eq(st.tables_kept, 2);
    cr_assert_eq(st.tables_lost, 0);
    cr_assert_eq(st.table_entries, fixture_table_entries());
    cr_assert_eq(st.wal_records, WAL_RECORDS);
    cr_assert_eq(st.wal_entries, WAL_RECORDS);
    cr_assert_eq(st.tables_written, 1);
    cr_assert_eq(st.files_moved_to_lost, 2, "the old MANIFEST and the replayed WAL");
    cr_assert_eq(lost_count(), 2);
    expect_repaired(0, -1);
}

Test(repair, repair_moves_a_damaged_table_to_lost_and_keeps_the_others)
{
    build_fixture();
    char t1[64], lostp[600];
    nth_file(T.path, ".sst", 0, 0, t1, sizeof(t1));
    flip(T.path, t1, 3000);
    size_t n0;
    char *was = slurp(T.path, t1, &n0);
    struct findings fs;
    lamina_repair_stats st;
    run_repair(&fs, &st);
    cr_assert_eq(st.tables_kept, 1);
    cr_assert_eq(st.tables_lost, 1);
    const struct finding *f = find(&fs, t1, LAMINA_ECORRUPT);
    cr_assert_not_null(f);
    cr_assert_neq(f->offset, UINT64_MAX);
    path_of(lostp, sizeof(lostp), T.path, "lost");
    size_t n1;
    char *is = slurp(lostp, t1, &n1);
    cr_assert(n0 == n1 && memcmp(was, is, n0) == 0, "lost/%s is not the damaged table as it was",
              t1);
    free(was);
    free(is);
    /* The second table's tombstones still hide what they deleted. */
    expect_repaired(LOST_T1, -1);
}

Test(repair, repair_without_the_newer_table_brings_back_only_what_it_held)
{
    build_fixture();
    char t2[64];
    nth_file(T.path, ".sst", 0, 1, t2, sizeof(t2));
    flip(T.path, t2, 10);
    struct findings fs;
    lamina_repair_stats st;
    run_repair(&fs, &st);
    cr_assert_eq(st.tables_lost, 1);
    expect_repaired(LOST_T2, -1);
}

Test(repair, repair_drops_only_the_damaged_wal_record)
{
    build_fixture();
    char wal[64];
    long offs[WAL_RECORDS + 1];
    nth_file(T.path, ".log", 0, 0, wal, sizeof(wal));
    cr_assert_eq(log_records(T.path, wal, offs, WAL_RECORDS + 1), WAL_RECORDS);
    flip(T.path, wal, offs[120] + 20); /* the record of key 1020 */
    struct findings fs;
    lamina_repair_stats st;
    run_repair(&fs, &st);
    cr_assert_eq(st.wal_records, WAL_RECORDS - 1);
    cr_assert_eq(st.wal_damaged, 1);
    const struct finding *f = find(&fs, wal, LAMINA_ECORRUPT);
    cr_assert_not_null(f);
    cr_assert_eq(f->offset, (uint64_t)offs[120]);
    expect_repaired(0, 1020);
}

Test(repair, repair_rebuilds_a_database_without_current_or_manifest)
{
    build_fixture();
    char man[64], p[600];
    nth_file(T.path, "MANIFEST-", 1, 0, man, sizeof(man));
    path_of(p, sizeof(p), T.path, man);
    cr_assert_eq(unlink(p), 0);
    path_of(p, sizeof(p), T.path, "CURRENT");
    cr_assert_eq(unlink(p), 0);
    struct findings fs;
    lamina_repair_stats st;
    run_repair(&fs, &st);
    cr_assert_eq(st.tables_kept, 2);
    cr_assert_eq(st.wal_records, WAL_RECORDS);
    expect_repaired(0, -1);
}

Test(repair, repair_rebuilds_a_database_whose_manifest_and_current_are_damaged)
{
    build_fixture();
    char man[64];
    nth_file(T.path, "MANIFEST-", 1, 0, man, sizeof(man));
    flip(T.path, man, 20);
    write_file(T.path, "CURRENT", "garbage", 7);
    lamina_db *db = NULL;
    cr_assert_neq(lamina_open(T.path, NULL, &db), LAMINA_OK);
    struct findings fs;
    lamina_repair_stats st;
    run_repair(&fs, &st);
    cr_assert_not_null(find(&fs, "CURRENT", LAMINA_ECORRUPT));
    expect_repaired(0, -1);
    char lostp[600];
    path_of(lostp, sizeof(lostp), T.path, "lost");
    size_t n;
    char *cur = slurp(lostp, "CURRENT", &n);
    cr_assert(n == 7 && memcmp(cur, "garbage", 7) == 0, "the damaged CURRENT is kept in lost/");
    free(cur);
    free(slurp(lostp, man, &n));
}

/* Writes table number with the given (key, seq, value) entries, in internal-key order. */
static void raw_table(uint64_t number, const char *const *keys, const uint64_t *seqs,
                      const char *const *values, size_t n)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%06" PRIu64 ".sst", T.path, number);
    wfile *f;
    cr_assert_eq(wfile_create(path, &f), 0);
    struct table_options to = {.block_size = 1024, .restart_interval = 16, .bloom_bits = 10};
    table_builder *b = table_builder_create(f, number, &to);
    cr_assert_not_null(b);
    for (size_t i = 0; i < n; i++) {
        uint8_t ik[64];
        size_t kl = strlen(keys[i]);
        ikey_encode(ik, keys[i], kl, seqs[i], IKEY_VALUE);
        cr_assert_eq(table_builder_add(b, ik, kl + IKEY_TRAILER, values[i], strlen(values[i])), 0);
    }
    struct table_meta m;
    cr_assert_eq(table_builder_finish(b, &m), 0);
    table_meta_free(&m);
    table_builder_destroy(b);
    cr_assert_eq(wfile_close(f), 0);
}

Test(repair, repair_merges_overlapping_tables_by_sequence_number)
{
    cr_assert_eq(mkdir(T.path, 0755), 0);
    /* Table 10's largest sequence number is the highest, so it is the newest run; but its
     * version of "k" is older than table 11's. Only a merge by sequence number gets it right. */
    const char *k10[] = {"a", "k", "z"}, *v10[] = {"a@90", "k@5", "z@100"};
    const uint64_t s10[] = {90, 5, 100};
    const char *k11[] = {"k", "m"}, *v11[] = {"k@50", "m@40"};
    const uint64_t s11[] = {50, 40};
    raw_table(10, k10, s10, v10, 3);
    raw_table(11, k11, s11, v11, 2);
    struct findings fs;
    lamina_repair_stats st;
    run_repair(&fs, &st);
    cr_assert_eq(st.tables_kept, 2);
    lamina_db *db = open_fixture();
    tdb_expect(db, NULL, "k", 1, "k@50", 4);
    cr_assert_eq(tdb_prop(db, "lamina.num-files-at-level0"), 0, "compacted into one run");
    tdb_expect(db, NULL, "a", 1, "a@90", 4);
    tdb_expect(db, NULL, "m", 1, "m@40", 4);
    tdb_expect(db, NULL, "z", 1, "z@100", 5);
    /* Later writes get sequence numbers above every one found. */
    tdb_put(db, "k", 1, "k@new", 5);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = open_fixture();
    tdb_expect(db, NULL, "k", 1, "k@new", 5);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(repair, repair_sets_aside_an_obsolete_table_instead_of_reviving_deleted_keys)
{
    build_fixture();
    char t1[64];
    nth_file(T.path, ".sst", 0, 0, t1, sizeof(t1));
    size_t n;
    char *was = slurp(T.path, t1, &n);
    /* The merge drops the tombstones of every 7th key with what they deleted, and T1 goes. */
    lamina_db *db = open_fixture();
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char p[600];
    path_of(p, sizeof(p), T.path, t1);
    cr_assert_eq(access(p, F_OK), -1, "%s is obsolete and deleted", t1);
    /* A crash before the deletion would leave it behind. */
    write_file(T.path, t1, was, n);
    free(was);
    struct findings fs;
    lamina_repair_stats st;
    run_repair(&fs, &st);
    const struct finding *f = find(&fs, t1, 0);
    cr_assert_not_null(f);
    cr_assert_not_null(strstr(f->what, "not named"), "%s", f->what);
    cr_assert_eq(st.tables_lost, 1);
    expect_repaired(0, -1);
}

Test(repair, repair_sets_aside_a_damaged_options_file)
{
    build_fixture();
    char opt[64];
    nth_file(T.path, "OPTIONS-", 1, 0, opt, sizeof(opt));
    flip(T.path, opt, 2); /* the header line (the MANIFEST still says whose database it is) */
    struct findings fs;
    lamina_check_stats cst;
    cr_assert_eq(run_check(&fs, &cst), LAMINA_ECORRUPT);
    const struct finding *f = find(&fs, opt, LAMINA_ECORRUPT);
    cr_assert_not_null(f);
    cr_assert_eq(f->offset, 2);
    lamina_repair_stats st;
    run_repair(&fs, &st);
    cr_assert_not_null(find(&fs, opt, LAMINA_ECORRUPT));
    expect_repaired(0, -1);
}

Test(repair, repair_refuses_an_open_database)
{
    build_fixture();
    lamina_db *db = open_fixture();
    cr_assert_eq(lamina_repair(T.path, NULL, NULL, NULL, NULL), LAMINA_EBUSY);
    cr_assert_eq(lost_count(), 0);
    expect_fixture(db, 0, -1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(repair, repair_leaves_files_that_are_not_lamina_alone)
{
    build_fixture();
    write_file(T.path, "README", "notes\n", 6);
    write_file(T.path, "99999999.sst", "not a table", 11);
    write_file(T.path, "99999998.log", "not a log", 9);
    struct findings fs;
    lamina_repair_stats st;
    run_repair(&fs, &st);
    cr_assert_eq(st.tables_lost, 0);
    expect_repaired(0, -1);
    size_t n;
    free(slurp(T.path, "README", &n));
    char *t = slurp(T.path, "99999999.sst", &n);
    cr_assert(n == 11 && memcmp(t, "not a table", 11) == 0);
    free(t);
    free(slurp(T.path, "99999998.log", &n));
    cr_assert_eq(n, 9);
}

Test(repair, a_second_repair_keeps_everything_the_first_kept)
{
    build_fixture();
    char t1[64];
    nth_file(T.path, ".sst", 0, 0, t1, sizeof(t1));
    flip(T.path, t1, 500);
    struct findings fs;
    lamina_repair_stats st;
    run_repair(&fs, &st);
    run_repair(&fs, &st);
    cr_assert_eq(st.problems, 0);
    cr_assert_eq(st.tables_lost, 0);
    cr_assert_eq(lost_count(), 3 + 2, "the first repair's three and the second's MANIFEST and WAL");
    expect_repaired(LOST_T1, -1);
}
