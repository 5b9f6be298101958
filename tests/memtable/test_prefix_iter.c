/* test_prefix_iter.c — prefix iterators of every memtable kind against a filtered sorted
 * reference: keys share long runs of bytes so prefixes of 8 bytes and more (the length where a
 * probe stops reading as a bare user key) select real subsets; both directions, seeks inside
 * and outside the prefix's range, bare and internal probes. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "memtable/memtable.h"
#include "util/ikey.h"
#include "util/rng.h"

#define KMAX 20

struct entry {
    uint8_t k[KMAX + IKEY_TRAILER];
    size_t len; /* internal key length */
};

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return ikey_cmp(x->k, x->len, y->k, y->len);
}

/* Keys over {0, 'a', 0xff}, mostly 'a', of 0..KMAX bytes: long shared prefixes, NUL and 0xff
 * bytes, keys that are prefixes of others, the empty key. */
static size_t random_key(rng *g, uint8_t *k)
{
    static const uint8_t alphabet[] = {'a', 'a', 'a', 'a', 0, 0xff};
    size_t len = rng_uniform(g, KMAX + 1);
    for (size_t i = 0; i < len; i++)
        k[i] = alphabet[rng_uniform(g, sizeof alphabet)];
    return len;
}

static int has_prefix(const struct entry *e, const uint8_t *p, size_t plen)
{
    return e->len - IKEY_TRAILER >= plen && memcmp(e->k, p, plen) == 0;
}

/* A probe as the iterators read it: below 8 bytes a bare user key, before all its versions. */
static int probe_cmp(const struct entry *e, const uint8_t *probe, size_t len)
{
    if (len >= IKEY_TRAILER) return ikey_cmp(e->k, e->len, probe, len);
    int c = ikey_user_cmp(e->k, e->len - IKEY_TRAILER, probe, len);
    return c ? c : 1;
}

static void assert_at(iter *it, const struct entry *e, const char *what)
{
    if (!e) {
        cr_assert_not(iter_valid(it), "%s: valid, expected the end", what);
        return;
    }
    cr_assert(iter_valid(it), "%s: not valid, expected an entry", what);
    size_t len;
    const uint8_t *k = iter_key(it, &len);
    cr_assert(len == e->len && memcmp(k, e->k, len) == 0, "%s: wrong entry", what);
}

static void check_kind(enum memtable_kind kind, uint64_t seed)
{
    memtable *m = memtable_create(kind);
    cr_assert_not_null(m);
    rng g;
    rng_seed(&g, seed);
    enum { N = 4000 };
    struct entry *e = calloc(N, sizeof *e);
    for (size_t i = 0; i < N; i++) {
        size_t ulen = random_key(&g, e[i].k);
        int type = rng_uniform(&g, 5) == 0 ? IKEY_DELETION : IKEY_VALUE;
        cr_assert_eq(memtable_add(m, 1 + i, type, e[i].k, ulen, "v", 1), 0);
        coding_put_fixed64(e[i].k + ulen, ikey_pack(1 + i, type));
        e[i].len = ulen + IKEY_TRAILER;
    }
    qsort(e, N, sizeof *e, entry_cmp);
    for (int round = 0; round < 300; round++) {
        uint8_t p[KMAX];
        size_t plen = round == 0 ? 0 : random_key(&g, p);
        if (round % 3 == 1) plen = plen < 12 ? plen : 12; /* often present, often >= 8 bytes */
        size_t lo = 0, hi;
        while (lo < N && !has_prefix(&e[lo], p, plen))
            lo++;
        for (hi = lo; hi < N && has_prefix(&e[hi], p, plen); hi++)
            ;
        iter *it = memtable_prefix_iter_create(m, p, plen);
        cr_assert_not_null(it);
        iter_seek_to_first(it);
        for (size_t i = lo; i < hi; i++, iter_next(it))
            assert_at(it, &e[i], "forward");
        assert_at(it, NULL, "forward end");
        iter_seek_to_last(it);
        for (size_t i = hi; i-- > lo; iter_prev(it))
            assert_at(it, &e[i], "backward");
        assert_at(it, NULL, "backward end");
        for (int s = 0; s < 20; s++) {
            uint8_t probe[KMAX + IKEY_TRAILER];
            size_t len = random_key(&g, probe);
            if (s % 2) {
                coding_put_fixed64(probe + len, ikey_pack(rng_uniform(&g, N + 2), IKEY_VALUE));
                len += IKEY_TRAILER;
            } else if (len >= IKEY_TRAILER) {
                len = IKEY_TRAILER - 1;
            }
            const struct entry *want = NULL;
            for (size_t i = lo; i < hi && !want; i++)
                if (probe_cmp(&e[i], probe, len) >= 0) want = &e[i];
            iter_seek(it, probe, len);
            assert_at(it, want, "seek");
            want = NULL;
            for (size_t i = hi; i-- > lo && !want;)
                if (probe_cmp(&e[i], probe, len) < 0 ||
                    (len >= IKEY_TRAILER && probe_cmp(&e[i], probe, len) == 0))
                    want = &e[i];
            iter_seek_for_prev(it, probe, len);
            assert_at(it, want, "seek_for_prev");
        }
        cr_assert_eq(iter_status(it), 0);
        iter_destroy(it);
    }
    free(e);
    memtable_unref(m);
}

Test(memtable_prefix, avl_prefix_iterator_holds_exactly_the_prefixed_entries)
{
    check_kind(MEMTABLE_AVL, 41);
}

Test(memtable_prefix, art_prefix_iterator_holds_exactly_the_prefixed_entries)
{
    check_kind(MEMTABLE_ART, 42);
}
