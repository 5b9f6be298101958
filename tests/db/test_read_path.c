/* test_read_path.c — what a read checks: verify_checksums alone decides whether a table block
 * read from a file is verified (paranoid_checks no longer forces it), and read options honour
 * struct_size (older, newer and unfilled structs). */
#include <dirent.h>

#include "helpers.h"

TestSuite(read_path, .init = tdb_setup, .fini = tdb_teardown);

#define KEYS 100
#define DAMAGED 50

static lamina_options uncompressed_options(int paranoid)
{
    lamina_options o = tdb_small_options();
    o.compression_type = LAMINA_COMPRESSION_NONE; /* values lie in the file as written */
    o.paranoid_checks = paranoid;
    return o;
}

/* A database with keys [0, KEYS) in one table, in which one byte of key DAMAGED's value is
 * flipped ('p' of its padding becomes 'P'); want gets that value as the damaged block holds it. */
static void write_damaged_table(char *want, size_t *want_len)
{
    lamina_options o = uncompressed_options(1);
    lamina_db *db = tdb_open(T.path, &o);
    char k[32], v[96];
    for (int i = 0; i < KEYS; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 0);
        tdb_put(db, k, kl, v, vl);
    }
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    char sst[600] = "";
    DIR *d = opendir(T.path);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".sst") == 0) {
            cr_assert_eq(sst[0], 0, "more than one table");
            snprintf(sst, sizeof(sst), "%s/%s", T.path, e->d_name);
        }
    }
    closedir(d);
    cr_assert_neq(sst[0], 0);
    FILE *f = fopen(sst, "r+b");
    cr_assert_not_null(f);
    static char data[1 << 20];
    size_t len = fread(data, 1, sizeof(data), f);
    *want_len = tdb_value(want, DAMAGED, 0);
    char *at = memmem(data, len, want, *want_len);
    cr_assert_not_null(at, "value of key %d not found in %s", DAMAGED, sst);
    cr_assert_null(memmem(at + 1, len - (size_t)(at + 1 - data), want, *want_len));
    char *p = strstr(want, "padding");
    cr_assert_not_null(p);
    *p = 'P';
    cr_assert_eq(fseek(f, (long)(at - data) + (long)(p - want), SEEK_SET), 0);
    cr_assert_eq(fputc('P', f), 'P');
    cr_assert_eq(fclose(f), 0);
}

static lamina_read_options read_opts(int verify)
{
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.verify_checksums = verify;
    ro.fill_cache = 0; /* an unverified damaged block must not reach the cache */
    return ro;
}

/* Checks gets and a scan of the damaged table under verify_checksums on and off. */
static void expect_verify_decides(lamina_db *db, const char *want, size_t want_len)
{
    char k[32];
    size_t kl = tdb_key(k, DAMAGED);
    void *got = NULL;
    size_t gl;
    lamina_read_options on = read_opts(1), off = read_opts(0);

    cr_assert_eq(lamina_get(db, &on, k, kl, &got, &gl), LAMINA_ECORRUPT);
    cr_assert_null(got);
    cr_assert_eq(lamina_get(db, NULL, k, kl, &got, &gl), LAMINA_ECORRUPT, "the default verifies");
    cr_assert_eq(lamina_get(db, &off, k, kl, &got, &gl), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(gl, want_len);
    cr_assert_eq(memcmp(got, want, gl), 0, "the value as the damaged block holds it");
    lamina_free(got);

    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, &on, &it), LAMINA_OK);
    lamina_iter_seek_to_first(it);
    while (lamina_iter_valid(it))
        lamina_iter_next(it);
    cr_assert_eq(lamina_iter_status(it), LAMINA_ECORRUPT);
    lamina_iter_destroy(it);

    cr_assert_eq(lamina_iter_create(db, &off, &it), LAMINA_OK);
    size_t n = 0;
    for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it), n++) {
        size_t ikl, ivl;
        const void *ik = lamina_iter_key(it, &ikl);
        const void *iv = lamina_iter_value(it, &ivl);
        if (ikl == kl && memcmp(ik, k, kl) == 0)
            cr_assert(ivl == want_len && memcmp(iv, want, want_len) == 0);
    }
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(n, KEYS);
    lamina_iter_destroy(it);
}

Test(read_path, paranoid_checks_no_longer_force_verification_of_reads)
{
    char want[96];
    size_t want_len;
    write_damaged_table(want, &want_len);
    lamina_options o = uncompressed_options(1);
    lamina_db *db = tdb_open(T.path, &o);
    expect_verify_decides(db, want, want_len);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(read_path, reads_that_ask_are_verified_without_paranoid_checks)
{
    char want[96];
    size_t want_len;
    write_damaged_table(want, &want_len);
    lamina_options o = uncompressed_options(0);
    lamina_db *db = tdb_open(T.path, &o);
    expect_verify_decides(db, want, want_len);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* A caller built against a header whose read options ended before verify_checksums gets its
 * default (verify), whatever lies past its struct. */
Test(read_path, older_read_options_get_defaults_for_the_fields_they_lack)
{
    char want[96];
    size_t want_len;
    write_damaged_table(want, &want_len);
    lamina_options o = uncompressed_options(1);
    lamina_db *db = tdb_open(T.path, &o);
    char k[32];
    size_t kl = tdb_key(k, DAMAGED);
    void *got = NULL;
    size_t gl;
    lamina_read_options ro = read_opts(0);
    ro.struct_size = offsetof(lamina_read_options, verify_checksums);
    cr_assert_eq(lamina_get(db, &ro, k, kl, &got, &gl), LAMINA_ECORRUPT);
    char buf[96];
    cr_assert_eq(lamina_get_into(db, &ro, k, kl, buf, sizeof(buf), &gl), LAMINA_ECORRUPT);

    /* Bounds past an older struct are not applied either. */
    char lo[32];
    size_t lol = tdb_key(lo, KEYS - 10);
    ro = read_opts(1);
    ro.lower_bound = lo;
    ro.lower_bound_len = lol;
    cr_assert_eq(tdb_count(db, &ro), 10);
    ro.struct_size = offsetof(lamina_read_options, lower_bound);
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, &ro, &it), LAMINA_OK);
    lamina_iter_seek_to_first(it);
    cr_assert(lamina_iter_valid(it));
    size_t ikl;
    const void *ik = lamina_iter_key(it, &ikl);
    char first[32];
    cr_assert_eq(ikl, tdb_key(first, 0));
    cr_assert_eq(memcmp(ik, first, ikl), 0, "the lower bound of an older struct was applied");
    lamina_iter_destroy(it);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(read_path, newer_read_options_are_read_as_far_as_known)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    char k[32], v[96];
    for (int i = 0; i < 20; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 0);
        tdb_put(db, k, kl, v, vl);
    }
    struct {
        lamina_read_options ro;
        uint64_t later_fields[4];
    } newer;
    memset(&newer, 0xff, sizeof(newer));
    lamina_read_options_init(&newer.ro);
    newer.ro.struct_size = sizeof(newer);
    char hi[32];
    newer.ro.upper_bound = hi;
    newer.ro.upper_bound_len = tdb_key(hi, 5);
    cr_assert_eq(tdb_count(db, &newer.ro), 5);
    size_t kl = tdb_key(k, 7), vl = tdb_value(v, 7, 0);
    tdb_expect(db, &newer.ro, k, kl, v, vl);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(read_path, read_options_without_struct_size_are_refused)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put(db, "k", 1, "v", 1);
    lamina_read_options ro;
    memset(&ro, 0, sizeof(ro));
    void *got = (void *)1;
    size_t gl;
    char buf[8];
    lamina_iter *it = NULL;
    cr_assert_eq(lamina_get(db, &ro, "k", 1, &got, &gl), LAMINA_EINVAL);
    cr_assert_null(got);
    cr_assert_not_null(strstr(lamina_errmsg(db), "struct_size"), "%s", lamina_errmsg(db));
    cr_assert_not_null(strstr(lamina_errmsg(db), "lamina_get"), "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_get_into(db, &ro, "k", 1, buf, sizeof(buf), &gl), LAMINA_EINVAL);
    cr_assert_eq(lamina_iter_create(db, &ro, &it), LAMINA_EINVAL);
    cr_assert_null(it);
    /* Too small for snapshot, the first field. */
    ro.struct_size = offsetof(lamina_read_options, snapshot) + 4;
    cr_assert_eq(lamina_get(db, &ro, "k", 1, &got, &gl), LAMINA_EINVAL);
    /* Just large enough for snapshot: everything else defaults. */
    ro.struct_size = offsetof(lamina_read_options, snapshot) + sizeof(ro.snapshot);
    tdb_expect(db, &ro, "k", 1, "v", 1);
    cr_assert_eq(tdb_count(db, &ro), 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
