/* test_ownership.c — Lamina touches only its own files: files it did not make survive create,
 * writes, flushes, compactions, reopen and destroy; a RocksDB or LevelDB directory is refused
 * with every byte and timestamp unchanged; WALs are replayed exactly as the MANIFEST records
 * them (a recorded one missing is damage, an unrecorded one is left alone), and a MANIFEST from
 * before WAL tracking falls back to the directory scan. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/batch.h"
#include "engine/log.h"
#include "engine/version_edit.h"
#include "helpers.h"
#include "util/file.h"

static void teardown(void)
{
    file_set_fault_hook(NULL, NULL);
    tdb_teardown();
}

TestSuite(ownership, .init = tdb_setup, .fini = teardown);

/* ---- Files and directory snapshots ------------------------------------------------------ */

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", T.path, name);
}

static void write_file(const char *name, const void *data, size_t n)
{
    char p[600];
    path_in(p, sizeof(p), name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "%s", p);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static void write_text(const char *name, const char *text)
{
    write_file(name, text, strlen(text));
}

static int exists(const char *name)
{
    char p[600];
    path_in(p, sizeof(p), name);
    return access(p, F_OK) == 0;
}

/* One directory entry as it was: name, contents, modification time. */
struct entry {
    char name[256];
    uint8_t *data;
    size_t len;
    struct timespec mtime;
};

struct snapshot {
    struct entry e[32];
    size_t n;
};

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static void take_snapshot(struct snapshot *s)
{
    memset(s, 0, sizeof(*s));
    DIR *d = opendir(T.path);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        cr_assert_lt(s->n, 32u);
        struct entry *e = &s->e[s->n++];
        snprintf(e->name, sizeof(e->name), "%s", de->d_name);
        char p[600];
        path_in(p, sizeof(p), e->name);
        struct stat st;
        cr_assert_eq(stat(p, &st), 0);
        e->mtime = st.st_mtim;
        e->len = (size_t)st.st_size;
        e->data = malloc(e->len + 1);
        FILE *f = fopen(p, "rb");
        cr_assert_not_null(f);
        cr_assert_eq(fread(e->data, 1, e->len, f), e->len);
        fclose(f);
    }
    closedir(d);
    qsort(s->e, s->n, sizeof(s->e[0]), entry_cmp);
}

static void free_snapshot(struct snapshot *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].data);
}

/* The directory holds exactly the entries of s, byte for byte, with the same mtimes. */
static void expect_unchanged(const struct snapshot *s, int check_mtime)
{
    struct snapshot now;
    take_snapshot(&now);
    for (size_t i = 0; i < now.n; i++)
        cr_assert(i < s->n && strcmp(now.e[i].name, s->e[i].name) == 0,
                  "unexpected file %s in the directory", now.e[i].name);
    cr_assert_eq(now.n, s->n, "%zu files instead of %zu", now.n, s->n);
    for (size_t i = 0; i < s->n; i++) {
        cr_assert_eq(now.e[i].len, s->e[i].len, "%s changed size", s->e[i].name);
        cr_assert_eq(memcmp(now.e[i].data, s->e[i].data, s->e[i].len), 0, "%s changed",
                     s->e[i].name);
        if (check_mtime)
            cr_assert(now.e[i].mtime.tv_sec == s->e[i].mtime.tv_sec &&
                          now.e[i].mtime.tv_nsec == s->e[i].mtime.tv_nsec,
                      "%s was modified", s->e[i].name);
    }
    free_snapshot(&now);
}

/* Sets every file's mtime to a fixed past time, so a rewrite of the same bytes shows too. */
static void age_files(void)
{
    DIR *d = opendir(T.path);
    struct dirent *de;
    struct timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        cr_assert_eq(utimensat(dirfd(d), de->d_name, past, 0), 0);
    }
    closedir(d);
}

static int count_suffix(const char *suffix)
{
    DIR *d = opendir(T.path);
    cr_assert_not_null(d);
    struct dirent *de;
    int n = 0;
    size_t m = strlen(suffix);
    while ((de = readdir(d))) {
        size_t k = strlen(de->d_name);
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n += k >= m && strcmp(de->d_name + k - m, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* Name of the only file ending with suffix (fails the test otherwise). */
static void only_file(const char *suffix, char *out, size_t cap)
{
    DIR *d = opendir(T.path);
    struct dirent *de;
    int n = 0;
    size_t m = strlen(suffix);
    while ((de = readdir(d))) {
        size_t k = strlen(de->d_name);
        if (k >= m && strcmp(de->d_name + k - m, suffix) == 0) {
            snprintf(out, cap, "%s", de->d_name);
            n++;
        }
    }
    closedir(d);
    cr_assert_eq(n, 1, "%d files end with %s", n, suffix);
}

static int log_contains(const char *text)
{
    char p[600];
    path_in(p, sizeof(p), "LOG");
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, text) != NULL;
}

/* A valid Lamina WAL: one batch putting key -> value at sequence seq. */
static void write_wal(const char *name, const char *key, const char *value, uint64_t seq)
{
    char p[600];
    path_in(p, sizeof(p), name);
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), LAMINA_OK);
    cr_assert_eq(lamina_batch_put(b, key, strlen(key), value, strlen(value)), LAMINA_OK);
    batch_set_sequence(b, seq);
    wfile *f;
    cr_assert_eq(wfile_create(p, &f), 0);
    log_writer *w = log_writer_create(f, 0);
    cr_assert_eq(log_writer_add(w, batch_rep(b), batch_len(b), 1), 0);
    log_writer_destroy(w);
    cr_assert_eq(wfile_close(f), 0);
    lamina_batch_destroy(b);
}

static const char junk[] = "these bytes are nobody's log records \x01\x02\x03\xff\xfe";

/* ---- Files that are not Lamina's -------------------------------------------------------- */

static void make_foreign_files(void)
{
    cr_assert_eq(mkdir(T.path, 0755), 0);
    write_text("README", "This directory holds a Lamina database.\n");
    write_text("notes.tmp", "scratch notes\n");
    write_file("20240101.log", junk, sizeof(junk));
    write_file("data.sst", junk, sizeof(junk));
}

Test(ownership, foreign_files_survive_create_writes_compaction_reopen_and_destroy)
{
    make_foreign_files();
    age_files();
    struct snapshot before;
    take_snapshot(&before);

    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    for (int r = 0; r < 4; r++) {
        tdb_put_range(db, NULL, 0, 1500, r);
        cr_assert_eq(lamina_flush(db), LAMINA_OK);
    }
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    tdb_put_range(db, NULL, 0, 300, 4); /* left in the WAL */
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 300, 4);
    tdb_expect_range(db, 300, 1500, 3);
    tdb_put_range(db, NULL, 0, 1500, 5);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 1500, 5);
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    cr_assert_eq(lamina_destroy(T.path), LAMINA_OK, "%s", lamina_errmsg(NULL));
    /* Only the foreign files are left, untouched, so the directory stays. */
    expect_unchanged(&before, 1);
    free_snapshot(&before);
}

Test(ownership, creating_a_database_beside_unrelated_files_touches_none_of_them)
{
    make_foreign_files();
    age_files();
    struct snapshot before;
    take_snapshot(&before);
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    for (size_t i = 0; i < before.n; i++) {
        char p[600];
        struct stat st;
        path_in(p, sizeof(p), before.e[i].name);
        cr_assert_eq(stat(p, &st), 0, "%s survives", before.e[i].name);
        cr_assert_eq(st.st_mtim.tv_sec, before.e[i].mtime.tv_sec, "%s untouched", before.e[i].name);
    }
    free_snapshot(&before);
}

/* ---- Another engine's database ---------------------------------------------------------- */

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
    }
    return ~c;
}

/* A MANIFEST as LevelDB and RocksDB write it: one FULL record framed with a masked CRC32C,
 * holding a VersionEdit that names the comparator. */
static void write_leveldb_manifest(const char *name)
{
    static const char cmp[] = "leveldb.BytewiseComparator";
    uint8_t rec[128];
    size_t n = 0;
    rec[7 + n++] = 1; /* kComparator */
    rec[7 + n++] = (uint8_t)(sizeof(cmp) - 1);
    memcpy(rec + 7 + n, cmp, sizeof(cmp) - 1);
    n += sizeof(cmp) - 1;
    const uint8_t tail[] = {2, 0, 3, 2, 4, 0}; /* log number 0, next file 2, last seq 0 */
    memcpy(rec + 7 + n, tail, sizeof(tail));
    n += sizeof(tail);
    rec[4] = (uint8_t)n;
    rec[5] = 0;
    rec[6] = 1; /* FULL */
    uint32_t crc = crc32c(rec + 6, n + 1);
    uint32_t masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    for (int i = 0; i < 4; i++)
        rec[i] = (uint8_t)(masked >> (8 * i));
    write_file(name, rec, 7 + n);
}

/* Opening (with and without create_if_missing) and destroying are refused with EINVAL, and
 * the directory is exactly as it was: no LOCK, no LOG.old, not a byte or an mtime changed. */
static void expect_refused_untouched(void)
{
    age_files();
    struct snapshot before;
    take_snapshot(&before);
    for (int create = 0; create < 2; create++) {
        lamina_options o = tdb_small_options();
        o.create_if_missing = create;
        lamina_db *db = NULL;
        cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_EINVAL);
        cr_assert_null(db);
        const char *msg = lamina_errmsg(NULL);
        cr_assert_not_null(strstr(msg, "holds a RocksDB or LevelDB database, not Lamina's"), "%s",
                           msg);
        cr_assert_not_null(strstr(msg, T.path), "%s", msg);
    }
    cr_assert_eq(lamina_destroy(T.path), LAMINA_EINVAL);
    expect_unchanged(&before, 1);
    free_snapshot(&before);
}

Test(ownership, rocksdb_directory_is_refused_without_touching_a_file)
{
    cr_assert_eq(mkdir(T.path, 0755), 0);
    write_text("CURRENT", "MANIFEST-000005\n");
    write_leveldb_manifest("MANIFEST-000005");
    write_text("IDENTITY", "7d3a8c2e-1f4b-4c6e-9a1d-2b3c4d5e6f70\n");
    write_text("LOG", "2024/01/01-00:00:00.000000 7f RocksDB version: 8.10.0\n");
    write_text("OPTIONS-000007", "# This is a RocksDB option file.\n[Version]\n");
    write_file("000004.log", junk, sizeof(junk));
    write_file("000006.sst", junk, sizeof(junk));
    write_text("LOCK", "");
    expect_refused_untouched();
}

Test(ownership, rocksdb_manifest_alone_is_recognised_by_its_crc32c_framing)
{
    cr_assert_eq(mkdir(T.path, 0755), 0);
    write_text("CURRENT", "MANIFEST-000005\n");
    write_leveldb_manifest("MANIFEST-000005");
    write_text("LOG", "RocksDB log lines\n");
    write_file("000004.log", junk, sizeof(junk));
    expect_refused_untouched();
}

Test(ownership, rocksdb_options_file_alone_is_recognised)
{
    cr_assert_eq(mkdir(T.path, 0755), 0);
    write_text("OPTIONS-000007", "# This is a RocksDB option file.\n[Version]\n");
    write_text("LOG", "RocksDB log lines\n");
    expect_refused_untouched();
}

Test(ownership, leveldb_directory_with_ldb_tables_is_refused_without_touching_a_file)
{
    cr_assert_eq(mkdir(T.path, 0755), 0);
    uint8_t random_bytes[300];
    for (size_t i = 0; i < sizeof(random_bytes); i++)
        random_bytes[i] = (uint8_t)(i * 131 + 7);
    write_text("CURRENT", "MANIFEST-000002\n");
    write_file("MANIFEST-000002", random_bytes, sizeof(random_bytes));
    write_file("000003.log", junk, sizeof(junk));
    write_file("000005.ldb", junk, sizeof(junk));
    write_text("LOG", "2024/01/01-00:00:00.000000 7f Recovering log #3\n");
    write_text("LOCK", "");
    expect_refused_untouched();
}

Test(ownership, damaged_lamina_manifest_is_ecorrupt_not_foreign)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 100, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char p[600] = "";
    DIR *d = opendir(T.path);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "MANIFEST-", 9) == 0) path_in(p, sizeof(p), de->d_name);
    closedir(d);
    FILE *f = fopen(p, "r+b");
    cr_assert_not_null(f, "the MANIFEST");
    fseek(f, 20, SEEK_SET); /* inside its first record, the snapshot */
    int c = fgetc(f);
    fseek(f, 20, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_ECORRUPT);
    cr_assert_null(strstr(lamina_errmsg(NULL), "RocksDB"), "%s", lamina_errmsg(NULL));
}

/* ---- WALs the MANIFEST records ---------------------------------------------------------- */

static lamina_options wal_options(void)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 8 << 20; /* everything stays in the WAL */
    return o;
}

Test(ownership, wal_named_by_the_manifest_but_missing_is_ecorrupt)
{
    lamina_options o = wal_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 200, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char wal[256], p[600];
    only_file(".log", wal, sizeof(wal));
    path_in(p, sizeof(p), wal);
    cr_assert_eq(unlink(p), 0);
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_ECORRUPT);
    const char *msg = lamina_errmsg(NULL);
    cr_assert_not_null(strstr(msg, wal), "the message names %s: %s", wal, msg);
    cr_assert_not_null(strstr(msg, "missing"), "%s", msg);
}

/* Rule: an unrecorded NNNNNN.log is never replayed nor removed, unless it is empty and its
 * number is one Lamina allocated (the leftover of a crash between a WAL's creation and its
 * record: no write reaches a WAL before its record). One that holds valid records under an
 * allocated number means MANIFEST records were lost: the open fails (LAMINA_ECORRUPT) rather
 * than come up at an older version, and touches nothing. Any other is left alone. */
Test(ownership, unrecorded_wal_with_records_is_neither_replayed_nor_removed)
{
    lamina_options o = wal_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 100, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    /* A valid Lamina WAL whose number lies below the next file number (the headroom puts it
     * above 1000 after one open), and a junk one. */
    write_wal("000777.log", "ghost", "boo", 1u << 20);
    write_file("000778.log", junk, sizeof(junk));
    age_files();
    struct stat st777, st778;
    char p777[600], p778[600];
    path_in(p777, sizeof(p777), "000777.log");
    path_in(p778, sizeof(p778), "000778.log");
    cr_assert_eq(stat(p777, &st777), 0);
    cr_assert_eq(stat(p778, &st778), 0);

    lamina_options small = tdb_small_options();
    db = NULL;
    cr_assert_eq(lamina_open(T.path, &small, &db), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(lamina_errmsg(NULL), "000777.log"), "%s", lamina_errmsg(NULL));
    struct stat now;
    cr_assert_eq(stat(p777, &now), 0, "000777.log survives");
    cr_assert_eq(now.st_mtim.tv_sec, st777.st_mtim.tv_sec);
    cr_assert_eq(now.st_size, st777.st_size);
    /* Its owner takes it away; the junk one stays through writes, compaction and reopen. */
    cr_assert_eq(unlink(p777), 0);
    db = tdb_open(T.path, &small);
    tdb_expect(db, NULL, "ghost", 5, NULL, 0);
    tdb_expect_range(db, 0, 100, 0);
    tdb_put_range(db, NULL, 0, 2000, 1);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &small);
    tdb_expect_range(db, 0, 2000, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    cr_assert_eq(stat(p778, &now), 0, "000778.log survives");
    cr_assert_eq(now.st_size, st778.st_size);
    cr_assert_eq(lamina_destroy(T.path), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert(exists("000778.log"), "destroy leaves it too");
    cr_assert_eq(count_suffix(""), 1, "and nothing else");
}

Test(ownership, empty_unrecorded_wal_with_an_allocated_number_is_removed)
{
    lamina_options o = wal_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, 100, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    write_file("000900.log", "", 0);     /* below the next file number */
    write_file("5000000000.log", "", 0); /* far above it: not Lamina's */
    db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 100, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    cr_assert(!exists("000900.log"), "an empty WAL Lamina numbered is a crash's leftover");
    cr_assert(exists("5000000000.log"), "a number Lamina never allocated is not Lamina's");
}

/* The real crash: the process dies after creating a WAL, before its MANIFEST record. */
static int created_wal;

static int die_before_recording_a_wal(const char *op, const char *path, void *ctx)
{
    (void)ctx;
    size_t n = strlen(path);
    if (strcmp(op, "create") == 0 && n > 4 && strcmp(path + n - 4, ".log") == 0) created_wal = 1;
    if (created_wal && strcmp(op, "write") == 0 && strstr(path, "/MANIFEST-")) _exit(0);
    return 0;
}

Test(ownership, crash_between_wal_creation_and_its_record_loses_nothing_and_leaves_nothing)
{
    lamina_options o = wal_options();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        lamina_db *db = NULL;
        if (lamina_open(T.path, &o, &db)) _exit(2);
        char k[32], v[96];
        for (int i = 0; i < 300; i++) {
            size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 0);
            if (lamina_put(db, NULL, k, kl, v, vl)) _exit(3);
        }
        file_set_fault_hook(die_before_recording_a_wal, NULL);
        (void)lamina_flush(db); /* switches to a new WAL: dies before recording it */
        _exit(4);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    cr_assert_eq(count_suffix(".log"), 2, "the old WAL and the unrecorded new one");
    lamina_db *db = tdb_open(T.path, &o);
    tdb_expect_range(db, 0, 300, 0);
    cr_assert_eq(count_suffix(".log"), 1, "only the new open's WAL is left");
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- MANIFESTs from before WAL tracking ------------------------------------------------- */

/* A database as Lamina wrote it before WAL tracking: a MANIFEST without WAL records (log
 * number 5), and WAL 000005.log holding key "old". */
static void make_pre_tracking_database(void)
{
    char p[600];
    cr_assert_eq(mkdir(T.path, 0755), 0);
    struct version_edit e;
    version_edit_init(&e);
    e.has_log_number = 1;
    e.log_number = 5;
    e.has_next_file = 1;
    e.next_file_number = 6;
    e.has_last_seq = 1;
    e.last_sequence = 0;
    e.has_next_run = 1;
    e.next_run = 1;
    buf rec = {0};
    cr_assert_eq(version_edit_encode(&e, &rec), 0);
    path_in(p, sizeof(p), "MANIFEST-000004");
    wfile *f;
    cr_assert_eq(wfile_create(p, &f), 0);
    log_writer *w = log_writer_create(f, 0);
    cr_assert_eq(log_writer_add(w, rec.data, rec.len, 1), 0);
    log_writer_destroy(w);
    cr_assert_eq(wfile_close(f), 0);
    buf_free(&rec);
    write_text("CURRENT", "MANIFEST-000004\n");
    write_wal("000005.log", "old", "value", 1);
    /* An obsolete WAL it allocated, left by a crash before its deletion. */
    write_wal("000003.log", "older", "gone", 1);
}

Test(ownership, manifest_without_wal_records_falls_back_to_the_directory_scan)
{
    make_pre_tracking_database();
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_expect(db, NULL, "old", 3, "value", 5);
    tdb_expect(db, NULL, "older", 5, NULL, 0);
    cr_assert(log_contains("predates WAL tracking"), "the LOG says which mode recovery used");
    cr_assert(!exists("000005.log") && !exists("000003.log"), "both WALs were Lamina's");
    tdb_put(db, "new", 3, "v", 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    cr_assert(log_contains("tracks WALs"), "the rewritten MANIFEST records its WALs");
    tdb_expect(db, NULL, "old", 3, "value", 5);
    tdb_expect(db, NULL, "new", 3, "v", 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- Temporary files -------------------------------------------------------------------- */

#define TRACE_MAX 512
static char trace_op[TRACE_MAX][16], trace_name[TRACE_MAX][64];
static int trace_n;

static int trace_hook(const char *op, const char *path, void *ctx)
{
    (void)ctx;
    const char *slash = strrchr(path, '/');
    if (trace_n < TRACE_MAX) {
        snprintf(trace_op[trace_n], sizeof(trace_op[0]), "%s", op);
        snprintf(trace_name[trace_n], sizeof(trace_name[0]), "%s", slash ? slash + 1 : path);
        trace_n++;
    }
    return 0;
}

Test(ownership, current_and_options_are_written_under_numbered_temp_names)
{
    lamina_options o = tdb_small_options();
    file_set_fault_hook(trace_hook, NULL);
    lamina_db *db = tdb_open(T.path, &o);
    file_set_fault_hook(NULL, NULL);
    int renames = 0;
    for (int i = 0; i < trace_n; i++) {
        const char *name = trace_name[i];
        size_t n = strlen(name);
        if (strcmp(trace_op[i], "create") == 0) {
            cr_assert(strcmp(name, "CURRENT") && strncmp(name, "OPTIONS-", 8),
                      "%s is written in place", name);
            cr_assert(n < 4 || strcmp(name + n - 4, ".tmp"), "%s: not a name of Lamina's", name);
        }
        if (strcmp(trace_op[i], "rename") == 0) {
            uint64_t num = 0;
            cr_assert(n > 6 && strcmp(name + n - 6, ".dbtmp") == 0 &&
                          sscanf(name, "%" SCNu64, &num) == 1 && num > 0,
                      "renamed from %s", name);
            renames++;
        }
    }
    cr_assert_eq(renames, 2, "CURRENT and OPTIONS");
    cr_assert_eq(count_suffix(".dbtmp"), 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
