/* test_memtable.c — the AVL memtable against a sorted reference (qsort by ikey_cmp): order,
 * snapshot reads and tombstones, seeks in both directions, balance, and odd keys. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "lamina.h"
#include "memtable/memtable.h"
#include "memtable/memtable_int.h"
#include "util/ikey.h"
#include "util/rng.h"

struct ref_entry {
    uint8_t *ikey;
    size_t klen;
    uint8_t *value;
    size_t vlen;
};

struct ref {
    struct ref_entry *e;
    size_t n;
};

static int ref_cmp(const void *a, const void *b)
{
    const struct ref_entry *x = a, *y = b;
    return ikey_cmp(x->ikey, x->klen, y->ikey, y->klen);
}

static void ref_free(struct ref *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->e[i].ikey);
        free(r->e[i].value);
    }
    free(r->e);
}

/* A random user key over a tiny alphabet with NUL bytes, so keys share prefixes, repeat, and
 * differ only in length. */
static size_t random_ukey(rng *g, uint8_t *k)
{
    static const uint8_t alphabet[] = {0, 1, 'a', 'b', 0xff};
    size_t len = rng_uniform(g, 7);
    for (size_t i = 0; i < len; i++)
        k[i] = alphabet[rng_uniform(g, sizeof alphabet)];
    return len;
}

/* Fills m and r with n entries: random keys (many repeats) under distinct sequence numbers,
 * ~15% tombstones, values of 0..40 bytes naming their sequence number. */
static void fill_random(memtable *m, struct ref *r, size_t n, uint64_t seed)
{
    rng g;
    rng_seed(&g, seed);
    r->e = calloc(n, sizeof *r->e);
    r->n = n;
    cr_assert_not_null(r->e);
    for (size_t i = 0; i < n; i++) {
        uint8_t k[8], v[48];
        size_t ulen = random_ukey(&g, k);
        uint64_t seq = 1 + i * 3; /* gaps, so snapshots can fall between versions */
        int type = rng_uniform(&g, 100) < 15 ? IKEY_DELETION : IKEY_VALUE;
        size_t vlen = type == IKEY_VALUE ? rng_uniform(&g, 41) : 0;
        for (size_t j = 0; j < vlen; j++)
            v[j] = (uint8_t)(seq + j);
        cr_assert_eq(memtable_add(m, seq, type, k, ulen, vlen ? v : NULL, vlen), 0);
        struct ref_entry *e = &r->e[i];
        e->klen = ulen + IKEY_TRAILER;
        e->ikey = malloc(e->klen);
        e->vlen = vlen;
        e->value = malloc(vlen + 1);
        ikey_encode(e->ikey, k, ulen, seq, type);
        if (vlen) memcpy(e->value, v, vlen);
    }
    qsort(r->e, n, sizeof *r->e, ref_cmp);
}

static void assert_at(iter *it, const struct ref *r, size_t i)
{
    cr_assert(iter_valid(it), "iterator ended before reference entry %zu", i);
    size_t klen, vlen;
    const uint8_t *k = iter_key(it, &klen), *v = iter_value(it, &vlen);
    cr_assert_eq(klen, r->e[i].klen, "key length at %zu", i);
    cr_assert_eq(memcmp(k, r->e[i].ikey, klen), 0, "key at %zu", i);
    cr_assert_eq(vlen, r->e[i].vlen, "value length at %zu", i);
    cr_assert(vlen == 0 || memcmp(v, r->e[i].value, vlen) == 0, "value at %zu", i);
}

Test(memtable, entries_come_out_in_internal_key_order)
{
    memtable *m = memtable_create(MEMTABLE_AVL);
    cr_assert_not_null(m);
    struct ref r;
    fill_random(m, &r, 20000, 1);
    cr_assert_eq(memtable_count(m), r.n);

    iter *it = memtable_iter_create(m);
    cr_assert_not_null(it);
    cr_assert_eq(iter_seek_to_first(it), 0);
    for (size_t i = 0; i < r.n; i++, iter_next(it))
        assert_at(it, &r, i);
    cr_assert_not(iter_valid(it));
    cr_assert_eq(iter_seek_to_last(it), 0);
    for (size_t i = r.n; i-- > 0; iter_prev(it))
        assert_at(it, &r, i);
    cr_assert_not(iter_valid(it));
    cr_assert_eq(iter_status(it), 0);
    iter_destroy(it);
    memtable_unref(m);
    ref_free(&r);
}

/* The reference answer to get: the first entry >= (ukey, snapshot, IKEY_VALUE). */
static const struct ref_entry *ref_get(const struct ref *r, const uint8_t *ukey, size_t ulen,
                                       uint64_t snapshot)
{
    uint8_t probe[16];
    ikey_encode(probe, ukey, ulen, snapshot, IKEY_VALUE);
    for (size_t i = 0; i < r->n; i++) {
        if (ikey_cmp(r->e[i].ikey, r->e[i].klen, probe, ulen + IKEY_TRAILER) >= 0) {
            const struct ref_entry *e = &r->e[i];
            if (ikey_user_cmp(e->ikey, e->klen - IKEY_TRAILER, ukey, ulen) != 0) return NULL;
            return e;
        }
    }
    return NULL;
}

Test(memtable, get_matches_reference_at_random_snapshots)
{
    memtable *m = memtable_create(MEMTABLE_AVL);
    struct ref r;
    fill_random(m, &r, 3000, 2);
    rng g;
    rng_seed(&g, 22);
    for (int q = 0; q < 4000; q++) {
        uint8_t k[8];
        size_t ulen = random_ukey(&g, k);
        uint64_t snap = rng_uniform(&g, 3 * 3000 + 10);
        const struct ref_entry *want = ref_get(&r, k, ulen, snap);
        int type = -1;
        const uint8_t *v = NULL;
        size_t vlen = 0;
        int rc = memtable_get(m, k, ulen, snap, &type, &v, &vlen);
        if (!want) {
            cr_assert_eq(rc, LAMINA_NOTFOUND, "query %d: found an entry the reference lacks", q);
            continue;
        }
        cr_assert_eq(rc, 0, "query %d: missed an entry", q);
        cr_assert_eq(type, ikey_type(want->ikey, want->klen));
        if (type == IKEY_VALUE) {
            cr_assert_eq(vlen, want->vlen);
            cr_assert(vlen == 0 || memcmp(v, want->value, vlen) == 0);
        }
    }
    memtable_unref(m);
    ref_free(&r);
}

Test(memtable, get_respects_snapshot_and_tombstones)
{
    memtable *m = memtable_create(MEMTABLE_AVL);
    cr_assert_eq(memtable_add(m, 1, IKEY_VALUE, "a", 1, "v1", 2), 0);
    cr_assert_eq(memtable_add(m, 5, IKEY_DELETION, "a", 1, NULL, 0), 0);
    cr_assert_eq(memtable_add(m, 8, IKEY_VALUE, "a", 1, "v8", 2), 0);
    cr_assert_eq(memtable_add(m, 3, IKEY_VALUE, "ab", 2, "x", 1), 0);
    cr_assert_eq(memtable_add(m, 4, IKEY_VALUE, "", 0, "empty", 5), 0);

    int type;
    const uint8_t *v;
    size_t vlen;
    cr_assert_eq(memtable_get(m, "a", 1, 0, &type, &v, &vlen), LAMINA_NOTFOUND);
    for (uint64_t s = 1; s <= 12; s++) {
        cr_assert_eq(memtable_get(m, "a", 1, s, &type, &v, &vlen), 0, "snapshot %llu",
                     (unsigned long long)s);
        if (s < 5) {
            cr_assert(type == IKEY_VALUE && vlen == 2 && memcmp(v, "v1", 2) == 0);
        } else if (s < 8) {
            cr_assert_eq(type, IKEY_DELETION, "snapshot %llu sees the tombstone",
                         (unsigned long long)s);
        } else {
            cr_assert(type == IKEY_VALUE && vlen == 2 && memcmp(v, "v8", 2) == 0);
        }
    }
    cr_assert_eq(memtable_get(m, "a", 1, UINT64_MAX, &type, &v, &vlen), 0);
    cr_assert(type == IKEY_VALUE && memcmp(v, "v8", 2) == 0);
    cr_assert_eq(memtable_get(m, "ab", 2, 2, &type, &v, &vlen), LAMINA_NOTFOUND);
    cr_assert_eq(memtable_get(m, "ab", 2, 3, &type, &v, &vlen), 0);
    cr_assert_eq(memtable_get(m, "b", 1, 100, &type, &v, &vlen), LAMINA_NOTFOUND);
    cr_assert_eq(memtable_get(m, "", 0, 100, &type, &v, &vlen), 0);
    cr_assert(vlen == 5 && memcmp(v, "empty", 5) == 0);
    cr_assert_eq(memtable_get(m, "\0", 1, 100, &type, &v, &vlen), LAMINA_NOTFOUND);
    memtable_unref(m);
}

/* Reference positions: first index >= probe (n if none), last index <= probe (-1 if none). */
static long ref_lower(const struct ref *r, const uint8_t *p, size_t plen)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ikey_cmp(r->e[mid].ikey, r->e[mid].klen, p, plen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo;
}

static long ref_floor(const struct ref *r, const uint8_t *p, size_t plen)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ikey_cmp(r->e[mid].ikey, r->e[mid].klen, p, plen) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

/* Walks up to 5 steps each way from index at and checks every position. */
static void assert_steps(iter *it, const struct ref *r, long at)
{
    long i = at;
    for (int s = 0; s < 5 && i < (long)r->n; s++, i++, iter_next(it))
        assert_at(it, r, (size_t)i);
    if (i == (long)r->n) {
        cr_assert_not(iter_valid(it));
        return;
    }
    for (int s = 0; s < 8 && i >= 0; s++, i--, iter_prev(it))
        assert_at(it, r, (size_t)i);
    if (i < 0) cr_assert_not(iter_valid(it));
}

Test(memtable, iterator_seeks_match_reference)
{
    memtable *m = memtable_create(MEMTABLE_AVL);
    struct ref r;
    fill_random(m, &r, 5000, 3);
    iter *it = memtable_iter_create(m);
    rng g;
    rng_seed(&g, 33);
    for (int q = 0; q < 3000; q++) {
        uint8_t probe[16];
        size_t plen;
        if (q % 3 == 0) { /* an existing internal key exactly */
            const struct ref_entry *e = &r.e[rng_uniform(&g, r.n)];
            memcpy(probe, e->ikey, e->klen);
            plen = e->klen;
        } else {
            uint8_t k[8];
            size_t ulen = random_ukey(&g, k);
            ikey_encode(probe, k, ulen, rng_uniform(&g, 3 * 5000 + 5), (int)rng_uniform(&g, 2));
            plen = ulen + IKEY_TRAILER;
        }
        long lo = ref_lower(&r, probe, plen);
        cr_assert_eq(iter_seek(it, probe, plen), 0);
        if (lo == (long)r.n)
            cr_assert_not(iter_valid(it), "seek %d should run off the end", q);
        else
            assert_steps(it, &r, lo);

        long fl = ref_floor(&r, probe, plen);
        cr_assert_eq(iter_seek_for_prev(it, probe, plen), 0);
        if (fl < 0)
            cr_assert_not(iter_valid(it), "seek_for_prev %d should run off the front", q);
        else
            assert_steps(it, &r, fl);
    }
    iter_destroy(it);
    memtable_unref(m);
    ref_free(&r);
}

Test(memtable, seek_past_either_end_is_not_valid)
{
    memtable *m = memtable_create(MEMTABLE_AVL);
    iter *it = memtable_iter_create(m);
    cr_assert_eq(iter_seek_to_first(it), 0);
    cr_assert_not(iter_valid(it)); /* empty */
    cr_assert_eq(iter_seek_to_last(it), 0);
    cr_assert_not(iter_valid(it));
    cr_assert_eq(memtable_add(m, 1, IKEY_VALUE, "m", 1, "v", 1), 0);
    uint8_t p[9];
    ikey_encode(p, "z", 1, 1, IKEY_VALUE);
    iter_seek(it, p, sizeof p);
    cr_assert_not(iter_valid(it));
    ikey_encode(p, "a", 1, 1, IKEY_VALUE);
    iter_seek_for_prev(it, p, sizeof p);
    cr_assert_not(iter_valid(it));
    iter_seek(it, p, sizeof p);
    cr_assert(iter_valid(it));
    iter_prev(it);
    cr_assert_not(iter_valid(it));
    size_t n = 99;
    cr_assert_null(iter_key(it, &n));
    cr_assert_eq(n, 0);
    iter_destroy(it);
    memtable_unref(m);
}

static void assert_avl_balanced(memtable *m, size_t n)
{
    double bound = 1.44 * log2((double)n + 2.0);
    int h = avl_height(m);
    cr_assert(h <= bound, "height %d over %zu entries exceeds %.2f", h, n, bound);
    cr_assert(h >= (int)ceil(log2((double)n + 1.0)), "height %d too small for %zu", h, n);
}

Test(memtable, avl_height_stays_within_bound)
{
    /* Ascending, descending and random insertion orders: the first two degenerate an
     * unbalanced tree into a list. */
    for (int order = 0; order < 3; order++) {
        memtable *m = memtable_create(MEMTABLE_AVL);
        rng g;
        rng_seed(&g, 44);
        cr_assert_eq(avl_height(m), 0);
        const size_t n = 100000;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = order == 0 ? i : order == 1 ? n - i : rng_next(&g);
            uint8_t k[8];
            coding_put_be64(k, x);
            cr_assert_eq(memtable_add(m, i + 1, IKEY_VALUE, k, 8, NULL, 0), 0);
            if ((i & (i + 1)) == 0 || i + 1 == n) assert_avl_balanced(m, i + 1);
        }
        memtable_unref(m);
    }
}

Test(memtable, keys_with_nul_bytes_and_empty_values_work)
{
    memtable *m = memtable_create(MEMTABLE_AVL);
    static const struct {
        const char *k;
        size_t len;
    } keys[] = {{"", 0}, {"\0", 1}, {"\0\0", 2}, {"\0a", 2}, {"a\0b", 3}, {"a", 1}, {"a\0", 2}};
    size_t n = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(memtable_add(m, 10 + i, IKEY_VALUE, keys[i].k, keys[i].len, NULL, 0), 0);
    for (size_t i = 0; i < n; i++) {
        int type = -1;
        const uint8_t *v;
        size_t vlen = 99;
        cr_assert_eq(memtable_get(m, keys[i].k, keys[i].len, 100, &type, &v, &vlen), 0, "key %zu",
                     i);
        cr_assert_eq(type, IKEY_VALUE);
        cr_assert_eq(vlen, 0);
    }
    /* Bytewise order, the shorter first: "", "\0", "\0\0", "\0a", "a", "a\0", "a\0b". */
    static const size_t order[] = {0, 1, 2, 3, 5, 6, 4};
    iter *it = memtable_iter_create(m);
    iter_seek_to_first(it);
    for (size_t i = 0; i < n; i++, iter_next(it)) {
        size_t klen;
        const uint8_t *k = iter_key(it, &klen);
        cr_assert_eq(klen, keys[order[i]].len + IKEY_TRAILER, "position %zu", i);
        cr_assert_eq(memcmp(k, keys[order[i]].k, keys[order[i]].len), 0, "position %zu", i);
    }
    cr_assert_not(iter_valid(it));
    iter_destroy(it);
    memtable_unref(m);
}

Test(memtable, memory_counts_arena_bytes)
{
    memtable *m = memtable_create(MEMTABLE_AVL);
    size_t start = memtable_memory(m);
    static uint8_t value[1000];
    for (uint64_t i = 0; i < 10000; i++) {
        uint8_t k[16];
        coding_put_be64(k, i * 7919);
        coding_put_be64(k + 8, i);
        cr_assert_eq(memtable_add(m, i + 1, IKEY_VALUE, k, 16, value, sizeof value), 0);
    }
    size_t used = memtable_memory(m) - start, payload = 10000 * (16 + 8 + sizeof value);
    cr_assert(used >= payload, "memory %zu below the %zu payload bytes", used, payload);
    cr_assert(used < payload + payload / 4, "memory %zu far above %zu payload bytes", used,
              payload);
    cr_assert_eq(memtable_count(m), 10000);
    memtable_unref(m);
}

Test(memtable, iterator_keeps_memtable_alive_and_frozen_reads_work)
{
    memtable *m = memtable_create(MEMTABLE_AVL);
    cr_assert_eq(memtable_add(m, 1, IKEY_VALUE, "k", 1, "v", 1), 0);
    memtable_freeze(m);
    iter *it = memtable_iter_create(m);
    memtable_unref(m); /* the iterator still holds a reference */
    iter_seek_to_first(it);
    cr_assert(iter_valid(it));
    size_t vlen;
    cr_assert_eq(memcmp(iter_value(it, &vlen), "v", 1), 0);
    iter_next(it);
    cr_assert_not(iter_valid(it));
    iter_destroy(it);
}
