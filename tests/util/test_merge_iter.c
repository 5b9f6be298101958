/* Tests of the merging iterator (util/iter.h) against a sorted reference array: forward,
 * backward, direction switches, seeks, ties between children, errors; and the empty iterator. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>

#include "lamina.h"
#include "util/ikey.h"
#include "util/iter.h"
#include "util/rng.h"

/* One entry: an internal key and the child that holds it (the value names the child). */
struct ent {
    uint8_t key[24];
    size_t klen;
    int child;
};

static int ent_cmp(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    int c = ikey_cmp(x->key, x->klen, y->key, y->klen);
    if (c) return c;
    return x->child - y->child;
}

/* ---- A vector-backed child iterator ------------------------------------------------------ */

struct vec_iter {
    iter base;
    struct ent *e; /* sorted by internal key, no duplicates */
    size_t n;
    long pos;    /* -1 or n: not valid */
    int fail_at; /* a move landing on this position fails with LAMINA_EIO (-1: never) */
    int err;
};

static int vec_land(struct vec_iter *v)
{
    if (v->fail_at >= 0 && v->pos == v->fail_at) {
        v->err = LAMINA_EIO;
        v->pos = (long)v->n;
    }
    return v->err;
}

static long vec_lower_bound(struct vec_iter *v, const uint8_t *k, size_t len)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ikey_cmp(v->e[mid].key, v->e[mid].klen, k, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo;
}

static int vec_seek(iter *it, const uint8_t *k, size_t len)
{
    struct vec_iter *v = (struct vec_iter *)it;
    v->pos = vec_lower_bound(v, k, len);
    return vec_land(v);
}

static int vec_seek_for_prev(iter *it, const uint8_t *k, size_t len)
{
    struct vec_iter *v = (struct vec_iter *)it;
    long p = vec_lower_bound(v, k, len);
    if (p < (long)v->n && ikey_cmp(v->e[p].key, v->e[p].klen, k, len) == 0)
        v->pos = p;
    else
        v->pos = p - 1;
    return vec_land(v);
}

static int vec_first(iter *it)
{
    struct vec_iter *v = (struct vec_iter *)it;
    v->pos = 0;
    if (!v->n) v->pos = 0;
    return vec_land(v);
}

static int vec_last(iter *it)
{
    struct vec_iter *v = (struct vec_iter *)it;
    v->pos = (long)v->n - 1;
    return vec_land(v);
}

static int vec_next(iter *it)
{
    struct vec_iter *v = (struct vec_iter *)it;
    v->pos++;
    return vec_land(v);
}

static int vec_prev(iter *it)
{
    struct vec_iter *v = (struct vec_iter *)it;
    v->pos--;
    return vec_land(v);
}

static int vec_valid(const iter *it)
{
    const struct vec_iter *v = (const struct vec_iter *)it;
    return !v->err && v->pos >= 0 && v->pos < (long)v->n;
}

static const uint8_t *vec_key(const iter *it, size_t *len)
{
    const struct vec_iter *v = (const struct vec_iter *)it;
    cr_assert(vec_valid(it), "key() on a child that is not valid");
    *len = v->e[v->pos].klen;
    return v->e[v->pos].key;
}

static const uint8_t *vec_value(const iter *it, size_t *len)
{
    const struct vec_iter *v = (const struct vec_iter *)it;
    *len = sizeof(v->e[v->pos].child);
    return (const uint8_t *)&v->e[v->pos].child;
}

static int vec_status(const iter *it)
{
    return ((const struct vec_iter *)it)->err;
}

static void vec_destroy(iter *it)
{
    struct vec_iter *v = (struct vec_iter *)it;
    free(v->e);
    free(v);
}

static const struct iter_ops vec_ops = {
    vec_seek,  vec_seek_for_prev, vec_first, vec_last,   vec_next,    vec_prev,
    vec_valid, vec_key,           vec_value, vec_status, vec_destroy,
};

static struct vec_iter *vec_create(const struct ent *e, size_t n)
{
    struct vec_iter *v = calloc(1, sizeof(*v));
    v->base.ops = &vec_ops;
    v->e = malloc((n ? n : 1) * sizeof(*e));
    if (n) memcpy(v->e, e, n * sizeof(*e));
    v->n = n;
    v->pos = -1;
    v->fail_at = -1;
    return v;
}

/* ---- Fixture: random children and their merged reference --------------------------------- */

static void ent_make(struct ent *e, uint64_t ukey, uint64_t seq, int child)
{
    char u[16];
    int n = snprintf(u, sizeof(u), "k%05llu", (unsigned long long)ukey);
    ikey_encode(e->key, u, (size_t)n, seq, IKEY_VALUE);
    e->klen = (size_t)n + IKEY_TRAILER;
    e->child = child;
}

#define MAX_CHILDREN 6
#define MAX_PER_CHILD 400

struct fixture {
    int nchildren;
    struct ent ref[MAX_CHILDREN * MAX_PER_CHILD];
    size_t nref;
    iter *m;
};

/* Children draw from a small key space, and some entries are copied into several children, so
 * equal user keys with different sequence numbers and identical internal keys both occur. */
static void fixture_build(struct fixture *f, uint64_t seed, int nchildren, size_t max_per_child)
{
    rng r;
    rng_seed(&r, seed);
    f->nchildren = nchildren;
    f->nref = 0;
    iter *children[MAX_CHILDREN];
    struct ent shared[16];
    for (int s = 0; s < 16; s++)
        ent_make(&shared[s], rng_uniform(&r, 200), rng_uniform(&r, 4), 0);
    for (int c = 0; c < nchildren; c++) {
        struct ent es[MAX_PER_CHILD + 16];
        size_t n = 0, want = rng_uniform(&r, max_per_child + 1);
        for (size_t i = 0; i < want; i++)
            ent_make(&es[n++], rng_uniform(&r, 200), rng_uniform(&r, 4), c);
        for (int s = 0; s < 16; s++) {
            if (rng_uniform(&r, 2)) {
                es[n] = shared[s];
                es[n++].child = c;
            }
        }
        qsort(es, n, sizeof(es[0]), ent_cmp);
        size_t u = 0; /* a child holds each internal key once */
        for (size_t i = 0; i < n; i++)
            if (u == 0 || ikey_cmp(es[u - 1].key, es[u - 1].klen, es[i].key, es[i].klen) != 0)
                es[u++] = es[i];
        memcpy(f->ref + f->nref, es, u * sizeof(es[0]));
        f->nref += u;
        children[c] = &vec_create(es, u)->base;
    }
    qsort(f->ref, f->nref, sizeof(f->ref[0]), ent_cmp);
    f->m = merge_iter_create(children, (size_t)nchildren);
    cr_assert_not_null(f->m);
}

/* Asserts the merge stands on reference entry pos (or is not valid when pos is out of range). */
static void expect_at(const struct fixture *f, long pos, const char *what)
{
    if (pos < 0 || pos >= (long)f->nref) {
        cr_assert_not(iter_valid(f->m), "%s: valid past the end (pos %ld)", what, pos);
        return;
    }
    cr_assert(iter_valid(f->m), "%s: not valid at %ld of %zu", what, pos, f->nref);
    size_t kl, vl;
    const uint8_t *k = iter_key(f->m, &kl);
    const uint8_t *v = iter_value(f->m, &vl);
    cr_assert_eq(kl, f->ref[pos].klen, "%s at %ld", what, pos);
    cr_assert_eq(memcmp(k, f->ref[pos].key, kl), 0, "%s at %ld", what, pos);
    int child;
    memcpy(&child, v, sizeof(child));
    cr_assert_eq(child, f->ref[pos].child, "%s at %ld: wrong child", what, pos);
}

static long ref_lower_bound(const struct fixture *f, const uint8_t *k, size_t len)
{
    long i = 0;
    while (i < (long)f->nref && ikey_cmp(f->ref[i].key, f->ref[i].klen, k, len) < 0)
        i++;
    return i;
}

static long ref_last_le(const struct fixture *f, const uint8_t *k, size_t len)
{
    long i = (long)f->nref - 1;
    while (i >= 0 && ikey_cmp(f->ref[i].key, f->ref[i].klen, k, len) > 0)
        i--;
    return i;
}

static struct fixture fx;

Test(merge_iter, forward_scan_yields_reference_order)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        fixture_build(&fx, seed, 1 + (int)(seed % MAX_CHILDREN), MAX_PER_CHILD);
        cr_assert_eq(iter_seek_to_first(fx.m), 0);
        for (long i = 0; i < (long)fx.nref; i++) {
            expect_at(&fx, i, "forward");
            cr_assert_eq(iter_next(fx.m), 0);
        }
        expect_at(&fx, (long)fx.nref, "forward end");
        cr_assert_eq(iter_status(fx.m), 0);
        iter_destroy(fx.m);
    }
}

Test(merge_iter, backward_scan_is_reverse_of_forward)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        fixture_build(&fx, seed, 1 + (int)(seed % MAX_CHILDREN), MAX_PER_CHILD);
        cr_assert_eq(iter_seek_to_last(fx.m), 0);
        for (long i = (long)fx.nref - 1; i >= 0; i--) {
            expect_at(&fx, i, "backward");
            cr_assert_eq(iter_prev(fx.m), 0);
        }
        expect_at(&fx, -1, "backward end");
        iter_destroy(fx.m);
    }
}

Test(merge_iter, equal_internal_keys_come_from_lower_child_first)
{
    struct ent a[2], b[2];
    ent_make(&a[0], 1, 5, 0);
    ent_make(&a[1], 2, 5, 0);
    ent_make(&b[0], 1, 5, 1);
    ent_make(&b[1], 1, 3, 1);
    iter *ch[2] = {&vec_create(b, 2)->base, &vec_create(a, 2)->base};
    /* Child 0 here holds b (values say 1), child 1 holds a (values say 0). */
    iter *m = merge_iter_create(ch, 2);
    cr_assert_eq(iter_seek_to_first(m), 0);
    int want[] = {1, 0, 1, 0}; /* k1@5 from child 0, k1@5 from child 1, k1@3, k2@5 */
    uint64_t seqs[] = {5, 5, 3, 5};
    for (int i = 0; i < 4; i++) {
        cr_assert(iter_valid(m));
        size_t kl, vl;
        const uint8_t *k = iter_key(m, &kl);
        int v;
        memcpy(&v, iter_value(m, &vl), sizeof(v));
        cr_assert_eq(v, want[i], "entry %d", i);
        cr_assert_eq(ikey_seq(k, kl), seqs[i], "entry %d", i);
        iter_next(m);
    }
    cr_assert_not(iter_valid(m));
    iter_destroy(m);
}

Test(merge_iter, random_walk_with_direction_switches_matches_reference)
{
    for (uint64_t seed = 100; seed < 130; seed++) {
        fixture_build(&fx, seed, 2 + (int)(seed % (MAX_CHILDREN - 1)), 60);
        rng r;
        rng_seed(&r, seed * 7);
        long pos = -1;
        cr_assert_eq(iter_seek_to_first(fx.m), 0);
        pos = 0;
        for (int step = 0; step < 2000; step++) {
            uint64_t op = rng_uniform(&r, 20);
            if (pos < 0 || pos >= (long)fx.nref || op == 0) {
                /* Off the end (or now and then anyway): reposition. */
                switch (rng_uniform(&r, 4)) {
                case 0:
                    iter_seek_to_first(fx.m);
                    pos = 0;
                    break;
                case 1:
                    iter_seek_to_last(fx.m);
                    pos = (long)fx.nref - 1;
                    break;
                default: {
                    struct ent t;
                    ent_make(&t, rng_uniform(&r, 210), rng_uniform(&r, 5), 0);
                    if (rng_uniform(&r, 2)) {
                        cr_assert_eq(iter_seek(fx.m, t.key, t.klen), 0);
                        pos = ref_lower_bound(&fx, t.key, t.klen);
                    } else {
                        cr_assert_eq(iter_seek_for_prev(fx.m, t.key, t.klen), 0);
                        pos = ref_last_le(&fx, t.key, t.klen);
                    }
                }
                }
                if (fx.nref == 0) pos = -1;
            } else if (op < 10) {
                cr_assert_eq(iter_next(fx.m), 0);
                pos++;
            } else {
                cr_assert_eq(iter_prev(fx.m), 0);
                pos--;
            }
            expect_at(&fx, pos, "walk");
        }
        iter_destroy(fx.m);
    }
}

Test(merge_iter, seek_to_existing_key_lands_on_lowest_child_and_prev_on_highest)
{
    fixture_build(&fx, 77, MAX_CHILDREN, 100);
    for (size_t i = 0; i < fx.nref; i++) {
        const struct ent *t = &fx.ref[i];
        cr_assert_eq(iter_seek(fx.m, t->key, t->klen), 0);
        expect_at(&fx, ref_lower_bound(&fx, t->key, t->klen), "seek");
        cr_assert_eq(iter_seek_for_prev(fx.m, t->key, t->klen), 0);
        expect_at(&fx, ref_last_le(&fx, t->key, t->klen), "seek_for_prev");
    }
    iter_destroy(fx.m);
}

Test(merge_iter, child_error_stops_iteration_and_shows_in_status)
{
    struct ent a[10], b[10];
    for (int i = 0; i < 10; i++) {
        ent_make(&a[i], (uint64_t)(2 * i), 1, 0);
        ent_make(&b[i], (uint64_t)(2 * i + 1), 1, 1);
    }
    struct vec_iter *vb = vec_create(b, 10);
    vb->fail_at = 4;
    iter *ch[2] = {&vec_create(a, 10)->base, &vb->base};
    iter *m = merge_iter_create(ch, 2);
    cr_assert_eq(iter_seek_to_first(m), 0);
    int rc = 0, steps = 0;
    while (iter_valid(m) && !rc) {
        rc = iter_next(m);
        steps++;
    }
    cr_assert_eq(rc, LAMINA_EIO);
    cr_assert_lt(steps, 20, "stopped before the end");
    cr_assert_not(iter_valid(m));
    cr_assert_eq(iter_status(m), LAMINA_EIO);
    iter_destroy(m);
}

Test(merge_iter, no_children_and_empty_children_are_not_valid)
{
    iter *m = merge_iter_create(NULL, 0);
    cr_assert_not_null(m);
    cr_assert_eq(iter_seek_to_first(m), 0);
    cr_assert_not(iter_valid(m));
    cr_assert_eq(iter_seek_to_last(m), 0);
    cr_assert_not(iter_valid(m));
    iter_destroy(m);

    iter *ch[2] = {&vec_create(NULL, 0)->base, iter_empty_create(0)};
    m = merge_iter_create(ch, 2);
    cr_assert_eq(iter_seek_to_first(m), 0);
    cr_assert_not(iter_valid(m));
    cr_assert_eq(iter_status(m), 0);
    iter_destroy(m);
}

Test(merge_iter, empty_iterator_reports_its_error)
{
    iter *e = iter_empty_create(LAMINA_ECORRUPT);
    cr_assert_eq(iter_seek_to_first(e), LAMINA_ECORRUPT);
    cr_assert_not(iter_valid(e));
    cr_assert_eq(iter_status(e), LAMINA_ECORRUPT);
    iter *ch[1] = {e};
    iter *m = merge_iter_create(ch, 1);
    cr_assert_eq(iter_seek_to_first(m), LAMINA_ECORRUPT);
    cr_assert_not(iter_valid(m));
    cr_assert_eq(iter_status(m), LAMINA_ECORRUPT);
    iter_destroy(m);
}
