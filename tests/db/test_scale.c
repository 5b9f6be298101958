/* test_scale.c — the structures that let the engine grow: a bounded table cache under a small
 * file-descriptor limit, compaction jobs whose input is bounded, and a close that cancels a
 * large merge. */
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(scale, .init = tdb_setup, .fini = tdb_teardown);

static uint64_t total_files(lamina_db *db)
{
    uint64_t n = 0;
    for (int l = 0; l < 7; l++) {
        char name[64];
        snprintf(name, sizeof(name), "lamina.num-files-at-level%d", l);
        n += tdb_prop(db, name);
    }
    return n;
}

static size_t scale_key(char *buf, uint64_t i)
{
    /* Spread over the key space, so every flush overlaps every level. */
    return (size_t)snprintf(buf, 32, "k%016llx", (unsigned long long)(i * 0x9E3779B97F4A7C15ull));
}

static void put_keys(lamina_db *db, uint64_t from, uint64_t to, int version)
{
    char k[32], v[128];
    for (uint64_t i = from; i < to; i++) {
        size_t kl = scale_key(k, i);
        int vl = snprintf(v, sizeof(v), "value-%llu-%d-%080d", (unsigned long long)i, version, 0);
        tdb_put(db, k, kl, v, (size_t)vl);
    }
}

static void check_keys(lamina_db *db, uint64_t from, uint64_t to, int version)
{
    char k[32], v[128];
    for (uint64_t i = from; i < to; i++) {
        size_t kl = scale_key(k, i);
        int vl = snprintf(v, sizeof(v), "value-%llu-%d-%080d", (unsigned long long)i, version, 0);
        tdb_expect(db, NULL, k, kl, v, (size_t)vl);
    }
}

static void check_keys_every(lamina_db *db, uint64_t from, uint64_t to, uint64_t step, int version)
{
    for (uint64_t i = from; i < to; i += step)
        check_keys(db, i, i + 1, version);
}

/* A full scan finds exactly keys 0..n-1 of the given version, in order. */
static void check_scan(lamina_db *db, uint64_t n, int version)
{
    char *want = calloc(n, 1);
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, NULL, &it), LAMINA_OK);
    uint64_t seen = 0;
    for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it)) {
        size_t kl, vl;
        const char *v = lamina_iter_value(it, &vl);
        (void)lamina_iter_key(it, &kl);
        unsigned long long i;
        int ver;
        cr_assert_eq(sscanf(v, "value-%llu-%d-", &i, &ver), 2);
        cr_assert_lt(i, n);
        cr_assert_eq(ver, version);
        char k[32];
        size_t want_kl = scale_key(k, i);
        cr_assert_eq(kl, want_kl);
        cr_assert_eq(memcmp(lamina_iter_key(it, &kl), k, kl), 0);
        cr_assert_eq(want[i], 0, "key %llu twice", i);
        want[i] = 1;
        seen++;
    }
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK, "scan: %s", lamina_errmsg(db));
    lamina_iter_destroy(it);
    free(want);
    cr_assert_eq(seen, n);
}

static uint64_t count_by_scan(lamina_db *db)
{
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, NULL, &it), LAMINA_OK);
    uint64_t n = 0;
    for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it))
        n++;
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK, "scan: %s", lamina_errmsg(db));
    lamina_iter_destroy(it);
    return n;
}

Test(scale, thousands_of_tables_work_under_a_small_descriptor_limit)
{
    struct rlimit rl = {256, 256};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 256 << 10;
    o.target_file_size_base = 1536; /* tiny tables: thousands of them */
    o.max_open_files = 100;
    o.level0_slowdown_writes_trigger = 20;
    o.level0_stop_writes_trigger = 36;
    o.compression_type = LAMINA_COMPRESSION_NONE;
    o.max_background_jobs = 3;
    lamina_db *db = tdb_open(T.path, &o);
    const uint64_t n = 30000;
    put_keys(db, 0, n, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK, "%s", lamina_errmsg(db));
    uint64_t files = total_files(db);
    cr_assert_geq(files, 2000, "%llu tables", (unsigned long long)files);
    /* Gets (of every 7th key: each may open several tables) and a full scan that checks
     * every value answer, with at most max_open_files idle readers. */
    check_keys_every(db, 0, n, 7, 1);
    check_scan(db, n, 1);
    cr_assert_leq(tdb_prop(db, "lamina.open-tables"), 100);
    cr_assert_gt(tdb_prop(db, "lamina.table-opens"), files, "readers were evicted and reopened");
    /* Writes go on: new WALs and tables still find descriptors. */
    put_keys(db, 0, n / 4, 2);
    cr_assert_eq(lamina_flush(db), LAMINA_OK, "%s", lamina_errmsg(db));
    check_keys_every(db, 0, n / 4, 7, 2);
    check_keys_every(db, n / 4, n, 7, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK, "%s", lamina_errmsg(NULL));
    db = tdb_open(T.path, &o);
    check_keys_every(db, 0, n / 4, 7, 2);
    cr_assert_eq(count_by_scan(db), n);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(scale, leveled_compactions_read_at_most_t_plus_2_tables)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 128 << 10;
    o.target_file_size_base = 32 << 10;
    o.max_bytes_for_level_base = 64 << 10;
    o.size_ratio = 4;
    o.level0_slowdown_writes_trigger = 20;
    o.level0_stop_writes_trigger = 36;
    o.compression_type = LAMINA_COMPRESSION_NONE;
    lamina_db *db = tdb_open(T.path, &o);
    put_keys(db, 0, 24000, 1);
    put_keys(db, 0, 12000, 2); /* overwrites: merges that drop versions */
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    cr_assert_geq(tdb_prop(db, "lamina.num-levels"), 4, "a tree deep enough to matter");
    cr_assert_gt(tdb_prop(db, "lamina.compactions"), 10);
    uint64_t max_in = tdb_prop(db, "lamina.max-compaction-input-bytes");
    /* (T + 2) targets, with a block of slack per table for where cuts fall. */
    uint64_t bound = (uint64_t)(o.size_ratio + 2) * (uint64_t)(o.target_file_size_base + 1024);
    cr_assert_gt(max_in, 0);
    cr_assert_leq(max_in, bound, "largest compaction read %llu bytes, bound %llu",
                  (unsigned long long)max_in, (unsigned long long)bound);
    check_keys(db, 0, 12000, 2);
    check_keys(db, 12000, 24000, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

struct compact_arg {
    lamina_db *db;
    int rc;
};

static void *compact_thread(void *p)
{
    struct compact_arg *a = p;
    a->rc = lamina_compact_range(a->db, NULL, 0, NULL, 0);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(scale, close_cancels_a_large_merge_and_loses_nothing)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 4 << 20;
    o.target_file_size_base = 0;
    o.max_bytes_for_level_base = 0;
    o.level0_file_num_compaction_trigger = 4;
    o.level0_slowdown_writes_trigger = 20;
    o.level0_stop_writes_trigger = 36;
    o.compression_type = LAMINA_COMPRESSION_ZSTD;
    lamina_db *db = tdb_open(T.path, &o);
    const uint64_t n = 250000;
    put_keys(db, 0, n, 1);
    cr_assert_eq(lamina_wait_for_compactions(db), LAMINA_OK);
    /* A merge of the whole database on another thread; close while it runs. */
    struct compact_arg a = {db, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, compact_thread, &a), 0);
    int seen = 0;
    for (int i = 0; i < 2000 && !seen; i++) {
        seen = tdb_prop(db, "lamina.running-compactions") > 0;
        if (!seen) usleep(1000);
    }
    cr_assert(seen, "the merge started");
    usleep(20000);
    double t0 = now_s();
    cr_assert_eq(lamina_close(db), LAMINA_OK, "%s", lamina_errmsg(NULL));
    double took = now_s() - t0;
    pthread_join(t, NULL);
    cr_assert_eq(a.rc, LAMINA_EBUSY, "the merge was cancelled: %s", lamina_strerror(a.rc));
    cr_assert_lt(took, 1.0, "close took %.3f s", took);
    db = tdb_open(T.path, &o);
    check_keys(db, 0, n, 1);
    cr_assert_eq(count_by_scan(db), n);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
