/* test_basic.c — the database's basic contract through the public API: puts, gets, deletes,
 * batches, byte-string keys and values, size limits, LOCK, open flags, close with live
 * handles, properties. */
#include "helpers.h"

TestSuite(basic, .init = tdb_setup, .fini = tdb_teardown);

Test(basic, put_get_delete_overwrite)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put(db, "a", 1, "1", 1);
    tdb_put(db, "b", 1, "2", 1);
    tdb_expect(db, NULL, "a", 1, "1", 1);
    tdb_expect(db, NULL, "b", 1, "2", 1);
    tdb_expect(db, NULL, "c", 1, NULL, 0);
    tdb_put(db, "a", 1, "one", 3);
    tdb_expect(db, NULL, "a", 1, "one", 3);
    cr_assert_eq(lamina_delete(db, NULL, "a", 1), LAMINA_OK);
    tdb_expect(db, NULL, "a", 1, NULL, 0);
    cr_assert_eq(lamina_delete(db, NULL, "never", 5), LAMINA_OK, "deleting an absent key is ok");
    tdb_put(db, "a", 1, "again", 5);
    tdb_expect(db, NULL, "a", 1, "again", 5);

    char buf[8];
    size_t len = 0;
    cr_assert_eq(lamina_get_into(db, NULL, "again", 5, buf, sizeof(buf), &len), LAMINA_NOTFOUND);
    cr_assert_eq(lamina_get_into(db, NULL, "a", 1, buf, 3, &len), LAMINA_OK);
    cr_assert_eq(len, 5, "get_into reports the full length");
    cr_assert_eq(memcmp(buf, "aga", 3), 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(basic, values_survive_flush_and_overwrite_in_tables)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    char k[32], v[96];
    for (int gen = 0; gen < 3; gen++) {
        for (int i = 0; i < 2000; i++) {
            size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)gen);
            tdb_put(db, k, kl, v, vl);
        }
        cr_assert_eq(lamina_flush(db), LAMINA_OK, "%s", lamina_errmsg(db));
    }
    for (int i = 0; i < 2000; i += 7) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 2);
        tdb_expect(db, NULL, k, kl, v, vl);
    }
    for (int i = 0; i < 2000; i += 2) {
        size_t kl = tdb_key(k, (uint64_t)i);
        cr_assert_eq(lamina_delete(db, NULL, k, kl), LAMINA_OK);
    }
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    for (int i = 0; i < 20; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 2);
        tdb_expect(db, NULL, k, kl, i % 2 ? v : NULL, vl);
    }
    cr_assert_eq(tdb_count(db, NULL), 1000);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(basic, batch_applies_all_operations_in_order)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put(db, "gone", 4, "x", 1);
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), LAMINA_OK);
    cr_assert_eq(lamina_batch_put(b, "k1", 2, "v1", 2), LAMINA_OK);
    cr_assert_eq(lamina_batch_put(b, "k2", 2, "v2", 2), LAMINA_OK);
    cr_assert_eq(lamina_batch_put(b, "k1", 2, "v1b", 3), LAMINA_OK);
    cr_assert_eq(lamina_batch_delete(b, "gone", 4), LAMINA_OK);
    uint64_t seq0 = tdb_prop(db, "lamina.sequence");
    cr_assert_eq(lamina_write(db, NULL, b), LAMINA_OK);
    cr_assert_eq(tdb_prop(db, "lamina.sequence"), seq0 + 4, "one sequence number per operation");
    tdb_expect(db, NULL, "k1", 2, "v1b", 3);
    tdb_expect(db, NULL, "k2", 2, "v2", 2);
    tdb_expect(db, NULL, "gone", 4, NULL, 0);
    lamina_batch_destroy(b);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    /* Atomic across a reopen too: the batch is one WAL record. */
    db = tdb_open(T.path, &o);
    tdb_expect(db, NULL, "k1", 2, "v1b", 3);
    tdb_expect(db, NULL, "gone", 4, NULL, 0);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(basic, empty_values_and_nul_byte_keys_are_kept)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    const char k1[] = {'a', 0, 'b'}, k2[] = {'a', 0, 'c'}, k3[] = {'a'};
    tdb_put(db, k1, 3, "x", 1);
    tdb_put(db, k2, 3, NULL, 0);
    tdb_put(db, k3, 1, "short", 5);
    tdb_put(db, "", 0, "empty key", 9);
    for (int round = 0; round < 2; round++) {
        tdb_expect(db, NULL, k1, 3, "x", 1);
        tdb_expect(db, NULL, k2, 3, "", 0);
        tdb_expect(db, NULL, k3, 1, "short", 5);
        tdb_expect(db, NULL, "", 0, "empty key", 9);
        tdb_expect(db, NULL, "a\0d", 3, NULL, 0);
        cr_assert_eq(lamina_flush(db), LAMINA_OK);
    }
    /* Order: "" < "a" < "a\0b" < "a\0c". */
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, NULL, &it), LAMINA_OK);
    lamina_iter_seek_to_first(it);
    size_t n;
    const char *k = lamina_iter_key(it, &n);
    cr_assert_eq(n, 0);
    lamina_iter_next(it);
    k = lamina_iter_key(it, &n);
    cr_assert(n == 1 && k[0] == 'a');
    lamina_iter_next(it);
    k = lamina_iter_key(it, &n);
    cr_assert(n == 3 && memcmp(k, k1, 3) == 0);
    lamina_iter_next(it);
    k = lamina_iter_key(it, &n);
    cr_assert(n == 3 && memcmp(k, k2, 3) == 0);
    lamina_iter_value(it, &n);
    cr_assert_eq(n, 0);
    lamina_iter_next(it);
    cr_assert_not(lamina_iter_valid(it));
    lamina_iter_destroy(it);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(basic, oversized_keys_and_values_are_einval)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    size_t big = LAMINA_MAX_KEY_LEN + 1;
    char *k = calloc(1, big);
    cr_assert_eq(lamina_put(db, NULL, k, big, "v", 1), LAMINA_EINVAL);
    cr_assert_neq(strlen(lamina_errmsg(db)), 0, "the message explains");
    cr_assert_eq(lamina_delete(db, NULL, k, big), LAMINA_EINVAL);
    void *v;
    size_t vl;
    cr_assert_eq(lamina_get(db, NULL, k, big, &v, &vl), LAMINA_EINVAL);
    cr_assert_eq(lamina_put(db, NULL, k, LAMINA_MAX_KEY_LEN, "v", 1), LAMINA_OK,
                 "a key of exactly the limit is accepted: %s", lamina_errmsg(db));
    tdb_expect(db, NULL, k, LAMINA_MAX_KEY_LEN, "v", 1);
    /* A value over the limit is refused without reading it. */
    cr_assert_eq(lamina_put(db, NULL, "k", 1, k, (size_t)LAMINA_MAX_VALUE_LEN + 1), LAMINA_EINVAL);
    free(k);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(basic, second_open_gets_ebusy_from_lock)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o), *db2 = NULL;
    cr_assert_eq(lamina_open(T.path, &o, &db2), LAMINA_EBUSY);
    cr_assert_null(db2);
    cr_assert_eq(lamina_destroy(T.path), LAMINA_EBUSY, "destroy refuses an open database");
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(basic, open_flags_missing_and_existing)
{
    lamina_options o = tdb_small_options();
    o.create_if_missing = 0;
    lamina_db *db = NULL;
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_ENOENT);
    cr_assert_neq(strlen(lamina_errmsg(NULL)), 0);
    cr_assert_null(fopen(T.path, "r"), "nothing was created");
    cr_assert_eq(lamina_open(T.dir, &o, &db), LAMINA_ENOENT, "a directory without a database");
    o.create_if_missing = 1;
    db = tdb_open(T.path, &o);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    o.error_if_exists = 1;
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_EEXIST);
    o.error_if_exists = 0;
    o.write_buffer_size = 1; /* below the table's minimum */
    cr_assert_eq(lamina_open(T.path, &o, &db), LAMINA_EINVAL);
}

Test(basic, close_with_live_iterator_or_snapshot_is_ebusy)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    lamina_iter *it;
    const lamina_snapshot *s;
    cr_assert_eq(lamina_iter_create(db, NULL, &it), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_EBUSY);
    lamina_iter_destroy(it);
    cr_assert_eq(lamina_snapshot_create(db, &s), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_EBUSY);
    lamina_snapshot_release(db, s);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(basic, destroy_removes_every_file)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put(db, "k", 1, "v", 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    cr_assert_eq(lamina_destroy(T.path), LAMINA_OK, "%s", lamina_errmsg(NULL));
    FILE *f = fopen(T.path, "r");
    cr_assert_null(f, "the directory is gone");
    cr_assert_eq(lamina_destroy(T.path), LAMINA_OK, "a missing directory is ok");
}

Test(basic, properties_report_levels_and_stats)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    cr_assert_eq(tdb_prop(db, "lamina.num-levels"), 0);
    char k[32], v[96];
    for (int i = 0; i < 500; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 0);
        tdb_put(db, k, kl, v, vl);
    }
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_geq(tdb_prop(db, "lamina.num-levels"), 1);
    cr_assert_gt(tdb_prop(db, "lamina.live-bytes"), 0);
    cr_assert_geq(tdb_prop(db, "lamina.total-runs"), 1);
    cr_assert_eq(tdb_prop(db, "lamina.sequence"), 500);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    (void)tdb_prop(db, "lamina.allocated-bytes"); /* sanitizer builds use malloc: no count */
#else
    cr_assert_gt(tdb_prop(db, "lamina.allocated-bytes"), 0);
#endif
    char *text = NULL;
    cr_assert_eq(lamina_property(db, "lamina.stats", &text), LAMINA_OK);
    cr_assert_not_null(strstr(text, "w_amp"));
    cr_assert_not_null(strstr(text, "level"));
    lamina_free(text);
    cr_assert_eq(lamina_property(db, "lamina.write-amp", &text), LAMINA_OK);
    cr_assert_gt(atof(text), 0.0);
    lamina_free(text);
    cr_assert_eq(lamina_property(db, "lamina.num-files-at-level0", &text), LAMINA_OK);
    lamina_free(text);
    cr_assert_eq(lamina_property(db, "lamina.no-such-thing", &text), LAMINA_EINVAL);
    cr_assert_eq(lamina_property(db, "lamina.num-files-at-level99", &text), LAMINA_EINVAL);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(basic, unlogged_writes_survive_a_clean_close)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    wo.disable_wal = 1;
    cr_assert_eq(lamina_put(db, &wo, "nowal", 5, "v", 1), LAMINA_OK);
    tdb_expect(db, NULL, "nowal", 5, "v", 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    tdb_expect(db, NULL, "nowal", 5, "v", 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(basic, options_file_and_info_log_are_written)
{
    lamina_options o = tdb_small_options();
    o.bloom_bits = 7;
    lamina_db *db = tdb_open(T.path, &o);
    tdb_put(db, "k", 1, "v", 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    char cmd[1400], line[256];
    snprintf(cmd, sizeof(cmd),
             "cat %s/OPTIONS-* | grep -c '^bloom_bits=7$'; ls %s | grep -c OPTIONS-;"
             " grep -c 'flush:' %s/LOG.old.*; grep -c opened %s/LOG",
             T.path, T.path, T.path, T.path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    int counts[4] = {0};
    for (int i = 0; i < 4 && fgets(line, sizeof(line), p); i++)
        counts[i] = atoi(line);
    pclose(p);
    cr_assert_eq(counts[0], 1, "the OPTIONS file holds the options in force");
    cr_assert_eq(counts[1], 1, "only the newest OPTIONS file is kept");
    cr_assert_eq(counts[2], 1, "the previous LOG (kept as LOG.old.<micros>) tells of the flush");
    cr_assert_eq(counts[3], 1, "the LOG tells of the open");
}

Test(basic, large_keys_and_values_survive_flush_and_reopen)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    size_t vlen = 5u << 20, klen = LAMINA_MAX_KEY_LEN;
    char *v = malloc(vlen), *k = malloc(klen);
    for (size_t i = 0; i < vlen; i++) v[i] = (char)(i * 31 + 7);
    memset(k, 'k', klen);
    tdb_put(db, "big", 3, v, vlen);
    tdb_put(db, k, klen, "long key", 8);
    tdb_put(db, "small", 5, "s", 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
    db = tdb_open(T.path, &o); /* from the WAL */
    tdb_expect(db, NULL, "big", 3, v, vlen);
    tdb_expect(db, NULL, k, klen, "long key", 8);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    tdb_expect(db, NULL, "big", 3, v, vlen); /* from a table */
    tdb_expect(db, NULL, k, klen, "long key", 8);
    tdb_expect(db, NULL, "small", 5, "s", 1);
    cr_assert_eq(tdb_count(db, NULL), 3);
    free(v);
    free(k);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
