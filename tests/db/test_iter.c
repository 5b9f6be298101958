/* test_iter.c — iterators and snapshots: bounds, reverse scans, direction switches,
 * seek_for_prev, and a consistent view while writes, flushes and compactions go on. Each
 * scan is checked against a model (an array of the expected keys). */
#include "helpers.h"

TestSuite(iter, .init = tdb_setup, .fini = tdb_teardown);

#define N 3000

/* Keys 0..N-1 with even keys live (value gen 1) and odd keys deleted, spread over tables,
 * level 0 and the active memtable. */
static lamina_db *fill(void)
{
    lamina_options o = tdb_small_options();
    lamina_db *db = tdb_open(T.path, &o);
    char k[32], v[96];
    for (int i = 0; i < N; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 0);
        tdb_put(db, k, kl, v, vl);
    }
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK, "%s", lamina_errmsg(db));
    for (int i = 0; i < N; i += 2) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 1);
        tdb_put(db, k, kl, v, vl);
    }
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    for (int i = 1; i < N; i += 2) {
        size_t kl = tdb_key(k, (uint64_t)i);
        cr_assert_eq(lamina_delete(db, NULL, k, kl), LAMINA_OK);
    }
    return db;
}

static void expect_at(lamina_iter *it, int i)
{
    char k[32], v[96];
    size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, 1), n;
    cr_assert(lamina_iter_valid(it), "expected key %d, iterator not valid (status %d)", i,
              lamina_iter_status(it));
    const void *got = lamina_iter_key(it, &n);
    cr_assert(n == kl && memcmp(got, k, kl) == 0, "expected key %s, got %.*s", k, (int)n,
              (const char *)got);
    got = lamina_iter_value(it, &n);
    cr_assert(n == vl && memcmp(got, v, vl) == 0, "value of %s", k);
}

static lamina_iter *new_iter(lamina_db *db, const lamina_read_options *ro)
{
    lamina_iter *it;
    cr_assert_eq(lamina_iter_create(db, ro, &it), LAMINA_OK);
    return it;
}

/* A forward scan from the first key that expects the even keys from i on; returns the key
 * after the last one seen. */
static int expect_forward_from(lamina_iter *it, int i)
{
    for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it), i += 2)
        expect_at(it, i);
    return i;
}

/* A reverse scan from the last key that expects the even keys from i down; returns the key
 * before the last one seen. */
static int expect_backward_from(lamina_iter *it, int i)
{
    for (lamina_iter_seek_to_last(it); lamina_iter_valid(it); lamina_iter_prev(it), i -= 2)
        expect_at(it, i);
    return i;
}

static void seek_to(lamina_iter *it, int i)
{
    char k[32];
    lamina_iter_seek(it, k, tdb_key(k, (uint64_t)i));
}

static void seek_for_prev_to(lamina_iter *it, int i)
{
    char k[32];
    lamina_iter_seek_for_prev(it, k, tdb_key(k, (uint64_t)i));
}

/* Deletes every key j < N with j % mod == 0 and overwrites the others with generation gen. */
static void rewrite_all(lamina_db *db, int mod, int gen)
{
    char k[32], v[96];
    for (int j = 0; j < N; j++) {
        size_t kl = tdb_key(k, (uint64_t)j), vl = tdb_value(v, (uint64_t)j, (uint64_t)gen);
        if (j % mod == 0)
            cr_assert_eq(lamina_delete(db, NULL, k, kl), LAMINA_OK);
        else
            tdb_put(db, k, kl, v, vl);
    }
}

Test(iter, forward_and_reverse_scans_hide_tombstones_and_old_versions)
{
    lamina_db *db = fill();
    lamina_iter *it = new_iter(db, NULL);
    cr_assert_eq(expect_forward_from(it, 0), N);
    cr_assert_eq(expect_backward_from(it, N - 2), -2);
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK);
    lamina_iter_destroy(it);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(iter, direction_switches_step_one_key)
{
    lamina_db *db = fill();
    lamina_iter *it = new_iter(db, NULL);
    seek_to(it, 1001);
    expect_at(it, 1002);
    lamina_iter_prev(it);
    expect_at(it, 1000);
    lamina_iter_next(it);
    expect_at(it, 1002);
    lamina_iter_next(it);
    expect_at(it, 1004);
    lamina_iter_prev(it);
    lamina_iter_prev(it);
    expect_at(it, 1000);
    lamina_iter_next(it);
    expect_at(it, 1002);
    /* Zig-zag over many steps. */
    for (int s = 0; s < 200; s++) {
        lamina_iter_next(it);
        lamina_iter_next(it);
        lamina_iter_prev(it);
    }
    expect_at(it, 1002 + 2 * 200);
    /* Off the front, then back on with next. */
    lamina_iter_seek_to_first(it);
    expect_at(it, 0);
    lamina_iter_prev(it);
    cr_assert_not(lamina_iter_valid(it));
    lamina_iter_seek_to_last(it);
    expect_at(it, N - 2);
    lamina_iter_next(it);
    cr_assert_not(lamina_iter_valid(it));
    lamina_iter_destroy(it);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(iter, seek_for_prev_finds_last_key_at_or_before)
{
    lamina_db *db = fill();
    lamina_iter *it = new_iter(db, NULL);
    seek_for_prev_to(it, 1001); /* deleted: the answer is 1000 */
    expect_at(it, 1000);
    seek_for_prev_to(it, 1000);
    expect_at(it, 1000);
    lamina_iter_next(it);
    expect_at(it, 1002);
    lamina_iter_seek_for_prev(it, "a", 1); /* before every key */
    cr_assert_not(lamina_iter_valid(it));
    lamina_iter_seek_for_prev(it, "zzz", 3);
    expect_at(it, N - 2);
    lamina_iter_seek(it, "zzz", 3);
    cr_assert_not(lamina_iter_valid(it));
    lamina_iter_destroy(it);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(iter, bounds_limit_every_move)
{
    lamina_db *db = fill();
    char lo[32], hi[32];
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.lower_bound = lo;
    ro.lower_bound_len = tdb_key(lo, 101);
    ro.upper_bound = hi;
    ro.upper_bound_len = tdb_key(hi, 200);
    lamina_iter *it = new_iter(db, &ro);
    cr_assert_eq(expect_forward_from(it, 102), 200, "the upper bound is exclusive");
    cr_assert_eq(expect_backward_from(it, 198), 100, "the lower bound stops reverse scans");
    seek_to(it, 10);
    expect_at(it, 102);
    seek_for_prev_to(it, 5000);
    expect_at(it, 198);
    seek_to(it, 5000);
    cr_assert_not(lamina_iter_valid(it));
    /* Switching direction at the lower bound. */
    lamina_iter_seek_to_first(it);
    lamina_iter_prev(it);
    cr_assert_not(lamina_iter_valid(it));
    lamina_iter_seek_to_last(it);
    lamina_iter_next(it);
    cr_assert_not(lamina_iter_valid(it));
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK);
    lamina_iter_destroy(it);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(iter, iterator_view_is_stable_across_writes_flush_and_compaction)
{
    lamina_db *db = fill();
    lamina_iter *it = new_iter(db, NULL);
    lamina_iter_seek_to_first(it);
    int i = 0;
    for (int step = 0; lamina_iter_valid(it); lamina_iter_next(it), i += 2, step++) {
        expect_at(it, i);
        if (step == 100) {
            /* Overwrite and delete what the iterator has yet to reach, and move it to tables. */
            rewrite_all(db, 3, 7);
            cr_assert_eq(lamina_flush(db), LAMINA_OK);
            cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
        }
    }
    cr_assert_eq(i, N);
    /* Backwards, with a switch of direction, the pinned view is unchanged too. */
    i = N - 2;
    for (lamina_iter_seek_to_last(it); lamina_iter_valid(it); lamina_iter_prev(it), i -= 2) {
        expect_at(it, i);
        if (i == N / 2) {
            lamina_iter_next(it);
            expect_at(it, i + 2);
            lamina_iter_prev(it);
            expect_at(it, i);
        }
    }
    cr_assert_eq(i, -2);
    lamina_iter_destroy(it);
    /* A new iterator sees the new state. */
    size_t expect = 0;
    for (int j = 0; j < N; j++)
        expect += j % 3 != 0;
    cr_assert_eq(tdb_count(db, NULL), expect);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

Test(iter, snapshot_isolation_across_flush_and_compaction)
{
    lamina_db *db = fill();
    const lamina_snapshot *snap;
    cr_assert_eq(lamina_snapshot_create(db, &snap), LAMINA_OK);
    rewrite_all(db, 2, 9);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.snapshot = snap;
    char k[32], v[96];
    for (int j = 0; j < N; j += 11) {
        size_t kl = tdb_key(k, (uint64_t)j), vl = tdb_value(v, (uint64_t)j, 1);
        tdb_expect(db, &ro, k, kl, j % 2 == 0 ? v : NULL, vl);
        vl = tdb_value(v, (uint64_t)j, 9);
        tdb_expect(db, NULL, k, kl, j % 2 == 1 ? v : NULL, vl);
    }
    lamina_iter *it = new_iter(db, &ro);
    cr_assert_eq(expect_forward_from(it, 0), N);
    lamina_iter_destroy(it);
    lamina_snapshot_release(db, snap);
    cr_assert_eq(tdb_count(db, NULL), N / 2);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* ---- Randomized: the iterator against a model ----------------------------------------------- */


#define MK 400

/* Model position helpers over model[] (value generation, or -1 when absent). */
static int model_next(const int *m, int from) /* first live index >= from, or MK */
{
    while (from < MK && m[from] < 0)
        from++;
    return from;
}

static int model_prev(const int *m, int from) /* last live index <= from, or -1 */
{
    while (from >= 0 && m[from] < 0)
        from--;
    return from;
}

static void expect_model_at(lamina_iter *it, const int *m, int i)
{
    if (i < 0 || i >= MK) {
        cr_assert_not(lamina_iter_valid(it), "expected the end");
        cr_assert_eq(lamina_iter_status(it), LAMINA_OK);
        return;
    }
    char k[32], v[96];
    size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)m[i]), n;
    cr_assert(lamina_iter_valid(it), "expected %s, iterator at the end", k);
    const void *got = lamina_iter_key(it, &n);
    cr_assert(n == kl && memcmp(got, k, kl) == 0, "expected %s, got %.*s", k, (int)n,
              (const char *)got);
    got = lamina_iter_value(it, &n);
    cr_assert(n == vl && memcmp(got, v, vl) == 0, "value of %s", k);
}

/* Random moves of one iterator, each checked against the model. */
static void walk(lamina_iter *it, const int *m, rng *r)
{
    int pos = -1; /* model index of the iterator (-1 or MK: not valid) */
    char k[40];
    for (int step = 0; step < 3000; step++) {
        int op = (int)rng_uniform(r, 8);
        int target = (int)rng_uniform(r, MK);
        size_t kl = tdb_key(k, (uint64_t)target);
        int between = rng_uniform(r, 2) == 0; /* a probe just after the key */
        if (between) k[kl++] = '!';
        if (op == 0) {
            lamina_iter_seek(it, k, kl);
            pos = model_next(m, between ? target + 1 : target);
        } else if (op == 1) {
            lamina_iter_seek_for_prev(it, k, kl);
            pos = model_prev(m, target);
        } else if (op == 2) {
            lamina_iter_seek_to_first(it);
            pos = model_next(m, 0);
        } else if (op == 3) {
            lamina_iter_seek_to_last(it);
            pos = model_prev(m, MK - 1);
        } else if (pos >= 0 && pos < MK) {
            if (op < 6) {
                lamina_iter_next(it);
                pos = model_next(m, pos + 1);
            } else {
                lamina_iter_prev(it);
                pos = model_prev(m, pos - 1);
            }
        }
        expect_model_at(it, m, pos);
    }
}

/* walk() with a new iterator over db as ro sees it. */
static void walk_new_iter(lamina_db *db, const lamina_read_options *ro, const int *m, rng *r)
{
    lamina_iter *it = new_iter(db, ro);
    walk(it, m, r);
    lamina_iter_destroy(it);
}

Test(iter, random_moves_agree_with_a_model_at_two_snapshots)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 64 << 10;
    lamina_db *db = tdb_open(T.path, &o);
    int model[MK], old[MK];
    for (int i = 0; i < MK; i++)
        model[i] = -1;
    rng r;
    rng_seed(&r, 7);
    const lamina_snapshot *snap = NULL;
    for (int op = 0; op < 6000; op++) {
        tdb_random_write(db, &r, model, MK, 3, op);
        if (op == 3000) {
            cr_assert_eq(lamina_snapshot_create(db, &snap), LAMINA_OK);
            memcpy(old, model, sizeof(model));
        }
        if (op % 1500 == 0) cr_assert_eq(lamina_flush(db), LAMINA_OK);
    }
    walk_new_iter(db, NULL, model, &r);
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    ro.snapshot = snap;
    walk_new_iter(db, &ro, old, &r);
    /* The same after everything is compacted into one run. */
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    walk_new_iter(db, &ro, old, &r);
    lamina_snapshot_release(db, snap);
    walk_new_iter(db, NULL, model, &r);
    /* Bounds: the model with everything outside [100, 300) removed. */
    char lo[32], hi[32];
    lamina_read_options_init(&ro);
    ro.lower_bound = lo;
    ro.lower_bound_len = tdb_key(lo, 100);
    ro.upper_bound = hi;
    ro.upper_bound_len = tdb_key(hi, 300);
    for (int i = 0; i < MK; i++)
        old[i] = i >= 100 && i < 300 ? model[i] : -1;
    walk_new_iter(db, &ro, old, &r);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}
