/* test_write_path.c — the write path's bytes and memory: a batch written alone is one WAL record
 * byte-equal to a hand-built one, a group commit writes one record per batch with consecutive
 * sequence numbers, a 16 MiB value leaves no large per-thread buffer behind, and write options
 * honour struct_size (older, newer and unfilled structs). */
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "engine/batch.h"
#include "engine/db_impl.h"
#include "engine/log.h"
#include "helpers.h"

TestSuite(write_path, .init = tdb_setup, .fini = tdb_teardown);

/* Path of the database's only WAL (the test fails if there is not exactly one). */
static void wal_path(char *out, size_t cap)
{
    DIR *d = opendir(T.path);
    cr_assert_not_null(d);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".log") == 0) {
            snprintf(out, cap, "%s/%s", T.path, e->d_name);
            found++;
        }
    }
    closedir(d);
    cr_assert_eq(found, 1, "%d WAL files", found);
}

static size_t wal_size(void)
{
    char path[600];
    wal_path(path, sizeof(path));
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return (size_t)st.st_size;
}

static lamina_options big_buffer_options(void)
{
    lamina_options o;
    lamina_options_init(&o);
    o.create_if_missing = 1;
    o.write_buffer_size = 8 << 20; /* everything stays in one WAL */
    return o;
}

Test(write_path, batch_written_alone_is_one_wal_record_equal_to_a_hand_built_one)
{
    lamina_options o = big_buffer_options();
    lamina_db *db = tdb_open(T.path, &o);
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), LAMINA_OK);
    cr_assert_eq(lamina_batch_put(b, "alpha", 5, "one", 3), LAMINA_OK);
    cr_assert_eq(lamina_batch_delete(b, "beta", 4), LAMINA_OK);
    cr_assert_eq(lamina_batch_put(b, "gamma", 5, NULL, 0), LAMINA_OK);
    cr_assert_eq(lamina_write(db, NULL, b), LAMINA_OK);
    lamina_batch_destroy(b);
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    /* docs/format.md: sequence 1 (a new database), count 3, then the operations; one FULL
     * fragment whose checksum is XXH3_64bits_withSeed(type ‖ payload, 0). */
    static const uint8_t payload[] = {
        1, 0, 0,   0,   0,   0,   0,   0, 3,   0,   0,   0, /* header */
        1, 5, 'a', 'l', 'p', 'h', 'a', 3, 'o', 'n', 'e',    /* put alpha one */
        0, 4, 'b', 'e', 't', 'a',                           /* delete beta */
        1, 5, 'g', 'a', 'm', 'm', 'a', 0,                   /* put gamma "" */
    };
    uint8_t typed[1 + sizeof(payload)];
    typed[0] = 1;
    memcpy(typed + 1, payload, sizeof(payload));
    uint32_t crc = (uint32_t)XXH3_64bits_withSeed(typed, sizeof(typed), 0);
    uint8_t want[LOG_HEADER_SIZE + sizeof(payload)] = {(uint8_t)crc,
                                                       (uint8_t)(crc >> 8),
                                                       (uint8_t)(crc >> 16),
                                                       (uint8_t)(crc >> 24),
                                                       (uint8_t)sizeof(payload),
                                                       0,
                                                       1};
    memcpy(want + LOG_HEADER_SIZE, payload, sizeof(payload));

    char path[600];
    wal_path(path, sizeof(path));
    uint8_t *got;
    size_t len;
    cr_assert_eq(file_read_all(path, &got, &len), 0);
    cr_assert_eq(len, sizeof(want), "WAL of %zu bytes, want %zu", len, sizeof(want));
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(got[i], want[i], "byte %zu: %02x, want %02x", i, got[i], want[i]);
    lamina_free(got);
}

#define GROUP_THREADS 4
#define GROUP_BATCHES 300

static void *group_writer(void *arg)
{
    lamina_db *db = arg;
    lamina_batch *b;
    if (lamina_batch_create(&b)) return (void *)1;
    intptr_t failures = 0;
    for (int i = 0; i < GROUP_BATCHES; i++) {
        char k[32];
        int n = snprintf(k, sizeof(k), "%p-%d", (void *)b, i);
        lamina_batch_clear(b);
        for (int j = 0; j < 3; j++) {
            k[0] = (char)('a' + j);
            failures += lamina_batch_put(b, k, (size_t)n, k, (size_t)n) != LAMINA_OK;
        }
        /* Some synced writes keep the leader busy, so that followers queue behind it. */
        lamina_write_options wo;
        lamina_write_options_init(&wo);
        wo.sync = i % 16 == 0;
        failures += lamina_write(db, &wo, b) != LAMINA_OK;
    }
    lamina_batch_destroy(b);
    return (void *)failures;
}

Test(write_path, group_commit_writes_one_record_per_batch_with_consecutive_sequences)
{
    lamina_options o = big_buffer_options();
    lamina_db *db = tdb_open(T.path, &o);
    pthread_t t[GROUP_THREADS];
    for (int i = 0; i < GROUP_THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, group_writer, db), 0);
    for (int i = 0; i < GROUP_THREADS; i++) {
        void *failures;
        pthread_join(t[i], &failures);
        cr_assert_null(failures, "writer %d failed", i);
    }
    cr_assert_eq(lamina_close(db), LAMINA_OK);

    char path[600];
    wal_path(path, sizeof(path));
    log_reader *r;
    cr_assert_eq(log_reader_open(path, &r), 0);
    buf rec = {0};
    uint64_t next = 1, records = 0;
    int rc;
    while ((rc = log_reader_next(r, &rec)) == 1) {
        uint64_t seq;
        uint32_t count;
        cr_assert_eq(batch_rep_header(rec.data, rec.len, &seq, &count), 0);
        cr_assert_eq(batch_iterate(rec.data, rec.len, NULL, NULL), 0, "record %llu",
                     (unsigned long long)records);
        cr_assert_eq(count, 3, "record %llu holds %u operations, not one batch",
                     (unsigned long long)records, count);
        cr_assert_eq(seq, next, "record %llu starts at %llu, want %llu",
                     (unsigned long long)records, (unsigned long long)seq,
                     (unsigned long long)next);
        next += count;
        records++;
    }
    cr_assert_eq(rc, 0);
    cr_assert_eq(records, GROUP_THREADS * GROUP_BATCHES);
    buf_free(&rec);
    log_reader_close(r);

    db = tdb_open(T.path, &o);
    cr_assert_eq(tdb_count(db, NULL), GROUP_THREADS * GROUP_BATCHES * 3);
    cr_assert_eq(tdb_prop(db, "lamina.sequence"), GROUP_THREADS * GROUP_BATCHES * 3);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(write_path, large_value_put_and_get_leave_thread_buffers_small, .timeout = 120)
{
    const size_t n = 16u << 20;
    uint8_t *value = malloc(n), *dst = malloc(n);
    cr_assert(value && dst);
    for (size_t i = 0; i < n; i++)
        value[i] = (uint8_t)((i * 2654435761u) >> 13);
    lamina_options o;
    lamina_options_init(&o);
    o.create_if_missing = 1;
    lamina_db *db = tdb_open(T.path, &o);

    tdb_put(db, "big", 3, value, n);
    cr_assert_leq(db_write_buffer_bytes(), DB_THREAD_BUFFER_KEEP, "write batch keeps %zu bytes",
                  db_write_buffer_bytes());
    for (int flushed = 0; flushed < 2; flushed++) {
        /* From the memtable, then from a table. */
        size_t len = 0;
        memset(dst, 0, n);
        cr_assert_eq(lamina_get_into(db, NULL, "big", 3, dst, n, &len), LAMINA_OK);
        cr_assert_eq(len, n);
        cr_assert_eq(memcmp(dst, value, n), 0);
        cr_assert_leq(db_read_buffer_bytes(), DB_THREAD_BUFFER_KEEP, "read buffers keep %zu bytes",
                      db_read_buffer_bytes());
        void *got = NULL;
        cr_assert_eq(lamina_get(db, NULL, "big", 3, &got, &len), LAMINA_OK);
        cr_assert_eq(len, n);
        cr_assert_eq(memcmp(got, value, n), 0);
        lamina_free(got);
        if (!flushed) cr_assert_eq(lamina_flush(db), LAMINA_OK);
    }
    /* Small writes and reads after it still work with the shrunk buffers. */
    tdb_put(db, "small", 5, "v", 1);
    tdb_expect(db, NULL, "small", 5, "v", 1);
    cr_assert_eq(lamina_delete(db, NULL, "big", 3), LAMINA_OK);
    tdb_expect(db, NULL, "big", 3, NULL, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    free(value);
    free(dst);
}

/* A caller built against a header whose write options ended before disable_wal gets its
 * default (write to the WAL), whatever lies past its struct. */
Test(write_path, older_write_options_get_defaults_for_the_fields_they_lack)
{
    lamina_options o = big_buffer_options();
    lamina_db *db = tdb_open(T.path, &o);
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    wo.disable_wal = 1;
    tdb_put(db, "k0", 2, "v", 1);
    size_t before = wal_size();
    cr_assert_eq(lamina_put(db, &wo, "k1", 2, "v", 1), LAMINA_OK);
    cr_assert_eq(wal_size(), before, "a disable_wal write reached the WAL");
    wo.struct_size = offsetof(lamina_write_options, disable_wal);
    cr_assert_eq(lamina_put(db, &wo, "k2", 2, "v", 1), LAMINA_OK);
    cr_assert_gt(wal_size(), before, "the older struct's write skipped the WAL");
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(write_path, newer_write_options_are_read_as_far_as_known)
{
    lamina_options o = big_buffer_options();
    lamina_db *db = tdb_open(T.path, &o);
    struct {
        lamina_write_options wo;
        uint64_t later_fields[4];
    } newer;
    memset(&newer, 0xff, sizeof(newer));
    lamina_write_options_init(&newer.wo);
    newer.wo.struct_size = sizeof(newer);
    newer.wo.disable_wal = 1;
    tdb_put(db, "k0", 2, "v", 1);
    size_t before = wal_size();
    cr_assert_eq(lamina_put(db, &newer.wo, "k1", 2, "v", 1), LAMINA_OK, "%s", lamina_errmsg(db));
    cr_assert_eq(wal_size(), before, "disable_wal of the newer struct was not honoured");
    tdb_expect(db, NULL, "k1", 2, "v", 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(write_path, write_options_without_struct_size_are_refused)
{
    lamina_options o = big_buffer_options();
    lamina_db *db = tdb_open(T.path, &o);
    lamina_write_options wo;
    memset(&wo, 0, sizeof(wo));
    wo.sync = 1;
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), LAMINA_OK);
    cr_assert_eq(lamina_put(db, &wo, "k", 1, "v", 1), LAMINA_EINVAL);
    cr_assert_not_null(strstr(lamina_errmsg(db), "struct_size"), "%s", lamina_errmsg(db));
    cr_assert_not_null(strstr(lamina_errmsg(db), "lamina_put"), "%s", lamina_errmsg(db));
    cr_assert_eq(lamina_delete(db, &wo, "k", 1), LAMINA_EINVAL);
    cr_assert_eq(lamina_write(db, &wo, b), LAMINA_EINVAL, "an empty batch checks options too");
    cr_assert_eq(lamina_batch_put(b, "k", 1, "v", 1), LAMINA_OK);
    cr_assert_eq(lamina_write(db, &wo, b), LAMINA_EINVAL);
    /* Too small for sync, the first field. */
    wo.struct_size = offsetof(lamina_write_options, sync) + 1;
    cr_assert_eq(lamina_write(db, &wo, b), LAMINA_EINVAL);
    tdb_expect(db, NULL, "k", 1, NULL, 0);
    /* Just large enough for sync. */
    wo.struct_size = offsetof(lamina_write_options, sync) + sizeof(int);
    cr_assert_eq(lamina_write(db, &wo, b), LAMINA_OK, "%s", lamina_errmsg(db));
    tdb_expect(db, NULL, "k", 1, "v", 1);
    lamina_batch_destroy(b);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
