/* test_sst_file.c — the public read-only table-file API (lamina_sst_*): a table written by a
 * flush opens on its own, reports the figures and key range it was built with, yields every
 * version and tombstone in internal-key order, and names damage with its offset; files that
 * are missing, not tables or renamed are refused with a clear error. */
#include <stddef.h>
#include <sys/stat.h>

#include "helpers.h"

TestSuite(sst_file, .init = tdb_setup, .fini = tdb_teardown);

#define NKEYS 500

/* Keys 0..NKEYS-1 of generation 0 in one table with index kind index_type; its path goes to
 * path. */
static void one_table_of(int index_type, char *path, size_t cap)
{
    lamina_options o;
    lamina_options_init(&o);
    o.create_if_missing = 1;
    o.index_type = index_type;
    o.block_size = 1024;
    o.compression_type = LAMINA_COMPRESSION_NONE;
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put_range(db, NULL, 0, NKEYS, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK, "flush: %s", lamina_errmsg(db));
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    tdb_find_file(T.path, ".sst", 0, path, cap);
    cr_assert(path[0], "no table in %s", T.path);
}

static void one_table(char *path, size_t cap)
{
    one_table_of(LAMINA_INDEX_BTREE, path, cap);
}

static lamina_sst *sst_open(const char *path)
{
    lamina_sst *sst = NULL;
    int rc = lamina_sst_open(path, &sst);
    cr_assert_eq(rc, LAMINA_OK, "open %s: %s: %s", path, lamina_strerror(rc), lamina_errmsg(NULL));
    return sst;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out, "copy %s to %s", from, to);
    char b[4096];
    size_t n;
    while ((n = fread(b, 1, sizeof(b), in)) > 0)
        cr_assert_eq(fwrite(b, 1, n, out), n);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
}

Test(sst_file, properties_and_key_range_match_what_the_flush_wrote)
{
    char path[512], k[32], v[96];
    one_table(path, sizeof(path));
    lamina_sst *sst = sst_open(path);
    lamina_sst_props p = {.struct_size = sizeof(p)};
    cr_assert_eq(lamina_sst_properties(sst, &p), LAMINA_OK, "%s", lamina_errmsg(NULL));
    uint64_t raw_values = 0;
    for (uint64_t i = 0; i < NKEYS; i++)
        raw_values += tdb_value(v, i, 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(p.file_size, (uint64_t)st.st_size);
    cr_expect_eq(p.entries, NKEYS);
    cr_expect_eq(p.deletions, 0);
    cr_expect_gt(p.data_blocks, 1, "1 KiB blocks: %llu", (unsigned long long)p.data_blocks);
    cr_expect_gt(p.data_bytes, raw_values);
    cr_expect_eq(p.raw_key_bytes, NKEYS * (tdb_key(k, 0) + 8));
    cr_expect_eq(p.raw_value_bytes, raw_values);
    cr_expect_eq(p.index_type, LAMINA_INDEX_BTREE);
    cr_expect_str_eq(p.index_name, "btree");
    cr_expect_gt(p.index_bytes, 0);
    cr_expect_geq(p.index_levels, 1);
    cr_expect_eq(p.bloom_bits, 10);
    cr_expect_gt(p.filter_bytes * 8, NKEYS * 8, "a 10-bit filter of %llu bytes",
                 (unsigned long long)p.filter_bytes);
    cr_expect_eq(p.compression, LAMINA_COMPRESSION_NONE);
    cr_expect_str_eq(p.compression_name, "none");
    cr_expect_eq(p.block_size, 1024);
    cr_expect_eq(p.restart_interval, 16);
    cr_expect_geq(p.format_version, 1);
    cr_expect_eq(p.smallest_seq, 1);
    cr_expect_eq(p.largest_seq, NKEYS);
    size_t kl = tdb_key(k, 0);
    cr_expect(p.smallest_key_len == kl && memcmp(p.smallest_key, k, kl) == 0);
    kl = tdb_key(k, NKEYS - 1);
    cr_expect(p.largest_key_len == kl && memcmp(p.largest_key, k, kl) == 0);
    uint64_t n = 0;
    cr_expect_eq(lamina_sst_verify(sst, &n), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_expect_eq(n, NKEYS);
    lamina_sst_close(sst);
}

/* The figures a caller built against an older, shorter lamina_sst_props gets. */
struct props_v0 {
    size_t struct_size;
    uint64_t file_number, file_size;
};

Test(sst_file, properties_fill_only_what_struct_size_covers)
{
    char path[512];
    one_table(path, sizeof(path));
    lamina_sst *sst = sst_open(path);
    lamina_sst_props p;
    memset(&p, 0xab, sizeof(p));
    p.struct_size = offsetof(lamina_sst_props, entries);
    cr_assert_eq(lamina_sst_properties(sst, &p), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_expect_gt(p.file_number, 0);
    cr_expect_gt(p.file_size, 0);
    cr_expect_eq(p.entries, UINT64_C(0xabababababababab), "a field past struct_size was written");
    struct props_v0 old = {.struct_size = sizeof(old)};
    cr_assert_eq(lamina_sst_properties(sst, (lamina_sst_props *)&old), LAMINA_OK);
    cr_expect_eq(old.file_number, p.file_number);
    p.struct_size = 0;
    cr_expect_eq(lamina_sst_properties(sst, &p), LAMINA_EINVAL);
    cr_expect_eq(lamina_sst_properties(sst, NULL), LAMINA_EINVAL);
    lamina_sst_close(sst);
}

struct entry {
    char key[32];
    uint64_t seq;
    int type;
    char value[32];
};

struct scan_ctx {
    struct entry e[16];
    int n, stop_after;
};

static int collect(void *ctx, const void *key, size_t key_len, uint64_t seq, int type,
                   const void *value, size_t value_len)
{
    struct scan_ctx *s = ctx;
    cr_assert_lt(s->n, 16);
    struct entry *e = &s->e[s->n++];
    snprintf(e->key, sizeof(e->key), "%.*s", (int)key_len, (const char *)key);
    snprintf(e->value, sizeof(e->value), "%.*s", (int)value_len, (const char *)value);
    e->seq = seq;
    e->type = type;
    return s->stop_after && s->n >= s->stop_after;
}

static void expect_entry(const struct entry *e, const char *key, uint64_t seq, int type,
                         const char *value)
{
    cr_expect_str_eq(e->key, key);
    cr_expect_eq(e->seq, seq, "%s: seq %llu, want %llu", key, (unsigned long long)e->seq,
                 (unsigned long long)seq);
    cr_expect_eq(e->type, type, "%s: type %d", key, e->type);
    cr_expect_str_eq(e->value, value);
}

Test(sst_file, an_fst_table_reports_its_index_kind_and_reads_like_a_btree_one)
{
    char path[512], k[32];
    one_table_of(LAMINA_INDEX_FST, path, sizeof(path));
    lamina_sst *sst = sst_open(path);
    lamina_sst_props p = {.struct_size = sizeof(p)};
    cr_assert_eq(lamina_sst_properties(sst, &p), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_expect_eq(p.index_type, LAMINA_INDEX_FST);
    cr_expect_str_eq(p.index_name, "fst");
    cr_expect_gt(p.index_bytes, 0);
    cr_expect_eq(p.entries, NKEYS);
    size_t kl = tdb_key(k, NKEYS - 1);
    cr_expect(p.largest_key_len == kl && memcmp(p.largest_key, k, kl) == 0);
    uint64_t n = 0;
    cr_expect_eq(lamina_sst_verify(sst, &n), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_expect_eq(n, NKEYS);
    struct scan_ctx s = {.stop_after = 2};
    kl = tdb_key(k, 123);
    cr_assert_eq(lamina_sst_scan(sst, k, kl, collect, &s), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_eq(s.n, 2);
    cr_expect_str_eq(s.e[0].key, k);
    cr_expect_eq(s.e[0].seq, 124);
    lamina_sst_close(sst);
}

Test(sst_file, scan_yields_every_version_and_tombstone_in_internal_key_order)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    const lamina_snapshot *snap[2];
    tdb_put(db, "a", 1, "a1", 2);
    cr_assert_eq(lamina_snapshot_create(db, &snap[0]), LAMINA_OK); /* keeps a1 */
    tdb_put(db, "a", 1, "a2", 2);
    tdb_put(db, "b", 1, "b1", 2);
    cr_assert_eq(lamina_snapshot_create(db, &snap[1]), LAMINA_OK); /* keeps b1 */
    cr_assert_eq(lamina_delete(db, NULL, "b", 1), LAMINA_OK);
    tdb_put(db, "c", 1, "c1", 2);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    lamina_snapshot_release(db, snap[0]);
    lamina_snapshot_release(db, snap[1]);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char path[512];
    tdb_find_file(T.path, ".sst", 0, path, sizeof(path));
    lamina_sst *sst = sst_open(path);

    struct scan_ctx s = {0};
    cr_assert_eq(lamina_sst_scan(sst, NULL, 0, collect, &s), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_assert_eq(s.n, 5, "entries: %d", s.n);
    expect_entry(&s.e[0], "a", 2, LAMINA_SST_VALUE, "a2");
    expect_entry(&s.e[1], "a", 1, LAMINA_SST_VALUE, "a1");
    expect_entry(&s.e[2], "b", 4, LAMINA_SST_DELETION, "");
    expect_entry(&s.e[3], "b", 3, LAMINA_SST_VALUE, "b1");
    expect_entry(&s.e[4], "c", 5, LAMINA_SST_VALUE, "c1");

    struct scan_ctx from = {0};
    cr_assert_eq(lamina_sst_scan(sst, "b", 1, collect, &from), LAMINA_OK);
    cr_assert_eq(from.n, 3);
    expect_entry(&from.e[0], "b", 4, LAMINA_SST_DELETION, "");
    struct scan_ctx between = {.stop_after = 1};
    cr_assert_eq(lamina_sst_scan(sst, "bb", 2, collect, &between), LAMINA_OK);
    cr_assert_eq(between.n, 1, "a callback's non-zero return stops the scan");
    expect_entry(&between.e[0], "c", 5, LAMINA_SST_VALUE, "c1");
    struct scan_ctx past = {0};
    cr_assert_eq(lamina_sst_scan(sst, "d", 1, collect, &past), LAMINA_OK);
    cr_expect_eq(past.n, 0);

    lamina_sst_props p = {.struct_size = sizeof(p)};
    cr_assert_eq(lamina_sst_properties(sst, &p), LAMINA_OK);
    cr_expect_eq(p.entries, 5);
    cr_expect_eq(p.deletions, 1);
    cr_expect_eq(p.smallest_seq, 1);
    cr_expect_eq(p.largest_seq, 5);
    cr_expect(p.smallest_key_len == 1 && memcmp(p.smallest_key, "a", 1) == 0);
    cr_expect(p.largest_key_len == 1 && memcmp(p.largest_key, "c", 1) == 0);
    cr_expect_eq(lamina_sst_scan(sst, NULL, 0, NULL, NULL), LAMINA_EINVAL);
    lamina_sst_close(sst);
}

Test(sst_file, verify_and_scan_name_the_offset_of_a_damaged_block)
{
    char path[512], copy[600];
    one_table(path, sizeof(path));
    snprintf(copy, sizeof(copy), "%s/damaged.sst", T.dir);
    copy_file(path, copy);
    tdb_flip(copy, 100, 0x20); /* inside the first data block */
    lamina_sst *sst = sst_open(copy);
    uint64_t n = 7;
    int rc = lamina_sst_verify(sst, &n);
    cr_expect_eq(rc, LAMINA_ECORRUPT, "verify: %s", lamina_strerror(rc));
    cr_expect_eq(n, 7, "entries set on failure");
    cr_expect(strstr(lamina_errmsg(NULL), "damaged.sst") && strstr(lamina_errmsg(NULL), "offset 0"),
              "message: %s", lamina_errmsg(NULL));
    struct scan_ctx s = {0};
    cr_expect_eq(lamina_sst_scan(sst, NULL, 0, collect, &s), LAMINA_ECORRUPT);
    cr_expect_eq(s.n, 0);
    lamina_sst_props p = {.struct_size = sizeof(p)};
    cr_expect_eq(lamina_sst_properties(sst, &p), LAMINA_ECORRUPT, "the first block is read");
    lamina_sst_close(sst);

    /* the original still reads clean */
    sst = sst_open(path);
    cr_expect_eq(lamina_sst_verify(sst, NULL), LAMINA_OK, "%s", lamina_errmsg(NULL));
    lamina_sst_close(sst);
}

Test(sst_file, open_refuses_missing_files_non_tables_and_a_wrong_file_number)
{
    char path[512], other[600];
    one_table(path, sizeof(path));
    lamina_sst *sst = (lamina_sst *)&sst;
    snprintf(other, sizeof(other), "%s/missing.sst", T.dir);
    cr_expect_eq(lamina_sst_open(other, &sst), LAMINA_EIO);
    cr_expect_null(sst, "*out is NULL on failure");
    cr_expect(strstr(lamina_errmsg(NULL), "No such file"), "%s", lamina_errmsg(NULL));

    snprintf(other, sizeof(other), "%s/notes.txt", T.dir);
    FILE *f = fopen(other, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 20; i++)
        fputs("these are notes, not a Lamina table\n", f);
    fclose(f);
    cr_expect_eq(lamina_sst_open(other, &sst), LAMINA_ECORRUPT);
    cr_expect(strstr(lamina_errmsg(NULL), "not a Lamina table") &&
                  strstr(lamina_errmsg(NULL), "footer at offset"),
              "%s", lamina_errmsg(NULL));
    f = fopen(other, "w");
    cr_assert_not_null(f);
    fputs("short", f);
    fclose(f);
    cr_expect_eq(lamina_sst_open(other, &sst), LAMINA_ECORRUPT);

    /* NNNNNN.sst must be the table's number; any other name takes the footer's */
    snprintf(other, sizeof(other), "%s/999999.sst", T.dir);
    copy_file(path, other);
    cr_expect_eq(lamina_sst_open(other, &sst), LAMINA_ECORRUPT);
    cr_expect(strstr(lamina_errmsg(NULL), "opened as file 999999"), "%s", lamina_errmsg(NULL));
    snprintf(other, sizeof(other), "%s/copy-of-a-table", T.dir);
    copy_file(path, other);
    sst = sst_open(other);
    lamina_sst_props p = {.struct_size = sizeof(p)};
    cr_assert_eq(lamina_sst_properties(sst, &p), LAMINA_OK, "%s", lamina_errmsg(NULL));
    cr_expect_eq(p.entries, NKEYS);
    const char *base = strrchr(path, '/') + 1;
    cr_expect_eq(p.file_number, strtoull(base, NULL, 10));
    cr_expect_eq(lamina_sst_verify(sst, NULL), LAMINA_OK, "%s", lamina_errmsg(NULL));
    lamina_sst_close(sst);

    cr_expect_eq(lamina_sst_open(NULL, &sst), LAMINA_EINVAL);
    cr_expect_eq(lamina_sst_open(path, NULL), LAMINA_EINVAL);
    lamina_sst_close(NULL);
}
