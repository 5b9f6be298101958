/* test_model.c — a randomized model test of the public API (the LevelDB/SQLite practice of
 * checking an engine against an obviously correct model): random puts, deletes, range deletes,
 * batches, gets, multi_gets, bounded scans both ways, seeks, snapshots, flushes, compactions and
 * reopens, each checked against an in-memory reference at every step. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lamina.h"
#include "test_options.h"
#include "tdir.h"

#define NKEYS 2000
#define MAX_SNAPS 4
#define MAX_VALUE 5000

/* ---- Keys: a fixed space of byte strings, some empty, some with NUL or 0xff bytes ------- */

struct key {
    uint8_t b[400];
    size_t n;
};

static struct key keys[NKEYS];
static int order[NKEYS]; /* key indices in bytewise order */

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

static int order_cmp(const void *a, const void *b)
{
    const struct key *x = &keys[*(const int *)a], *y = &keys[*(const int *)b];
    return bytes_cmp(x->b, x->n, y->b, y->n);
}

static void make_keys(void)
{
    for (int i = 0; i < NKEYS; i++) {
        struct key *k = &keys[i];
        char digits[16];
        int d = snprintf(digits, sizeof(digits), "%d", i);
        k->n = 0;
        if (i == 0) {
            /* the empty key */
        } else if (i % 10 == 3) {
            k->b[k->n++] = 'n';
            k->b[k->n++] = 0;
            memcpy(k->b + k->n, digits, (size_t)d);
            k->n += (size_t)d;
            k->b[k->n++] = 0;
        } else if (i % 13 == 7) {
            k->b[k->n++] = 0xff;
            memcpy(k->b + k->n, digits, (size_t)d);
            k->n += (size_t)d;
        } else if (i % 97 == 5) {
            k->b[k->n++] = 'L';
            memcpy(k->b + k->n, digits, (size_t)d);
            k->n += (size_t)d;
            memset(k->b + k->n, 'z', 300);
            k->n += 300;
        } else {
            k->b[k->n++] = 'k';
            memcpy(k->b + k->n, digits, (size_t)d);
            k->n += (size_t)d;
        }
        order[i] = i;
    }
    qsort(order, NKEYS, sizeof(order[0]), order_cmp);
}

/* ---- The reference: per key, present or not, and which value ----------------------------- */

/* A value is named by a version id and a length; its bytes are a pure function of both, so
 * the reference (and a snapshot of it) is a small array. */
struct slot {
    int present;
    uint64_t vid;
    size_t len;
};

struct view {
    struct slot s[NKEYS];
};

static void value_bytes(uint64_t vid, size_t len, uint8_t *dst)
{
    uint64_t x = vid * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 32;
        dst[i] = (uint8_t)x; /* NUL bytes included */
    }
}

/* ---- Test state ------------------------------------------------------------------------- */

struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(struct rng *r, size_t n)
{
    return (size_t)(rnd(r) % n);
}

struct snap {
    const lamina_snapshot *s;
    struct view *v;
};

struct model {
    uint64_t seed;
    long step;
    const char *op;
    char dir[64];
    char path[128];
    lamina_options opts;
    lamina_db *db;
    struct rng rng;
    struct view ref;
    uint64_t next_vid;
    struct snap snaps[MAX_SNAPS];
    int nsnaps;
    uint8_t expect[MAX_VALUE];
    long counts[16];
    int vary_options; /* change table and compaction options at each reopen */
};

#define OK(m, rc, what)                                                                            \
    cr_assert_eq((rc), LAMINA_OK, "seed %llu step %ld (%s): %s: %s [%s]",                          \
                 (unsigned long long)(m)->seed, (m)->step, (m)->op, (what), lamina_strerror(rc),   \
                 lamina_errmsg(NULL))

#define FAIL_AT(m, ...)                                                                            \
    cr_assert_fail("seed %llu step %ld (%s): %s", (unsigned long long)(m)->seed, (m)->step,        \
                   (m)->op, __VA_ARGS__)

static size_t pick_value_len(struct model *m)
{
    size_t p = below(&m->rng, 100);
    if (p < 10) return 0;
    if (p < 90) return 1 + below(&m->rng, 100);
    if (p < 99) return 100 + below(&m->rng, 900);
    return 1000 + below(&m->rng, MAX_VALUE - 1000);
}

/* Checks that a value read for key i in view v is what v holds. */
static void check_value(struct model *m, const struct view *v, int i, int rc, const void *val,
                        size_t len)
{
    const struct slot *s = &v->s[i];
    if (!s->present) {
        cr_assert_eq(rc, LAMINA_NOTFOUND, "seed %llu step %ld (%s): key %d: want NOTFOUND, got %s",
                     (unsigned long long)m->seed, m->step, m->op, i, lamina_strerror(rc));
        return;
    }
    cr_assert_eq(rc, LAMINA_OK, "seed %llu step %ld (%s): key %d: want its value, got %s [%s]",
                 (unsigned long long)m->seed, m->step, m->op, i, lamina_strerror(rc),
                 lamina_errmsg(NULL));
    value_bytes(s->vid, s->len, m->expect);
    if (len != s->len || (len && memcmp(val, m->expect, len)))
        cr_assert_fail("seed %llu step %ld (%s): key %d: value of %zu bytes, want %zu (vid %llu)",
                       (unsigned long long)m->seed, m->step, m->op, i, len, s->len,
                       (unsigned long long)s->vid);
}

/* ---- Opening and closing ---------------------------------------------------------------- */

static void model_open(struct model *m)
{
    int rc = lamina_open(m->path, &m->opts, &m->db);
    OK(m, rc, "lamina_open");
}

static void release_snaps(struct model *m)
{
    for (int i = 0; i < m->nsnaps; i++) {
        lamina_snapshot_release(m->db, m->snaps[i].s);
        free(m->snaps[i].v);
    }
    m->nsnaps = 0;
}

/* ---- Operations ------------------------------------------------------------------------- */

static void op_put(struct model *m, const lamina_write_options *wo)
{
    int i = (int)below(&m->rng, NKEYS);
    uint64_t vid = ++m->next_vid;
    size_t len = pick_value_len(m);
    value_bytes(vid, len, m->expect);
    int rc = lamina_put(m->db, wo, keys[i].b, keys[i].n, len ? m->expect : NULL, len);
    OK(m, rc, "lamina_put");
    m->ref.s[i] = (struct slot){1, vid, len};
}

static void op_delete(struct model *m, const lamina_write_options *wo)
{
    int i = (int)below(&m->rng, NKEYS);
    int rc = lamina_delete(m->db, wo, keys[i].b, keys[i].n);
    OK(m, rc, "lamina_delete");
    m->ref.s[i].present = 0;
}

/* A range [lo, hi) to delete: mostly a few neighbouring keys, sometimes hundreds or most of
 * the key space; its ends are keys, sometimes cut short or extended to fall between keys. */
struct range {
    uint8_t lo[410], hi[410];
    size_t lo_n, hi_n;
};

static void pick_end(struct model *m, int r, uint8_t *b, size_t *n)
{
    const struct key *k = &keys[order[r]];
    memcpy(b, k->b, k->n);
    *n = k->n;
    size_t p = below(&m->rng, 6);
    if (p == 0 && *n > 0) (*n)--;
    if (p == 1) b[(*n)++] = (uint8_t)below(&m->rng, 256);
}

static void pick_range(struct model *m, struct range *rg)
{
    size_t p = below(&m->rng, 100);
    size_t width = p < 80   ? below(&m->rng, 20)
                   : p < 95 ? below(&m->rng, 200)
                            : below(&m->rng, NKEYS);
    int r = (int)below(&m->rng, NKEYS);
    int e = r + (int)width < NKEYS ? r + (int)width : NKEYS - 1;
    pick_end(m, r, rg->lo, &rg->lo_n);
    pick_end(m, e, rg->hi, &rg->hi_n);
    if (bytes_cmp(rg->lo, rg->lo_n, rg->hi, rg->hi_n) > 0) {
        struct range t = *rg;
        memcpy(rg->lo, t.hi, t.hi_n);
        rg->lo_n = t.hi_n;
        memcpy(rg->hi, t.lo, t.lo_n);
        rg->hi_n = t.lo_n;
    }
}

/* Applies the range deletion [lo, hi) to view v. */
static void range_apply(struct view *v, const struct range *rg)
{
    for (int i = 0; i < NKEYS; i++)
        if (bytes_cmp(keys[i].b, keys[i].n, rg->lo, rg->lo_n) >= 0 &&
            bytes_cmp(keys[i].b, keys[i].n, rg->hi, rg->hi_n) < 0)
            v->s[i].present = 0;
}

static void op_delete_range(struct model *m, const lamina_write_options *wo)
{
    struct range rg;
    pick_range(m, &rg);
    if (below(&m->rng, 20) == 0 && bytes_cmp(rg.lo, rg.lo_n, rg.hi, rg.hi_n) < 0) {
        /* Swapped ends are refused and delete nothing. */
        int rc = lamina_delete_range(m->db, wo, rg.hi, rg.hi_n, rg.lo, rg.lo_n);
        cr_assert_eq(rc, LAMINA_EINVAL, "seed %llu step %ld: delete_range with begin > end: %s",
                     (unsigned long long)m->seed, m->step, lamina_strerror(rc));
        return;
    }
    int rc = lamina_delete_range(m->db, wo, rg.lo, rg.lo_n, rg.hi, rg.hi_n);
    OK(m, rc, "lamina_delete_range");
    range_apply(&m->ref, &rg);
}

static void op_batch(struct model *m, const lamina_write_options *wo)
{
    lamina_batch *b = NULL;
    int rc = lamina_batch_create(&b);
    OK(m, rc, "lamina_batch_create");
    static struct view next;
    next = m->ref;
    size_t n = below(&m->rng, 13), empty = 0; /* empty batches too */
    for (size_t j = 0; j < n; j++) {
        /* Keys close together, so one batch often touches a key twice (the later wins). */
        int i = (int)below(&m->rng, NKEYS);
        if (j > 0 && below(&m->rng, 3) == 0) i = (i % 50);
        if (below(&m->rng, 12) == 0) {
            /* Before and after puts of the same batch: order decides. */
            struct range rg;
            pick_range(m, &rg);
            rc = lamina_batch_delete_range(b, rg.lo, rg.lo_n, rg.hi, rg.hi_n);
            OK(m, rc, "lamina_batch_delete_range");
            if (bytes_cmp(rg.lo, rg.lo_n, rg.hi, rg.hi_n) == 0) empty++; /* nothing added */
            range_apply(&next, &rg);
        } else if (below(&m->rng, 4) == 0) {
            rc = lamina_batch_delete(b, keys[i].b, keys[i].n);
            OK(m, rc, "lamina_batch_delete");
            next.s[i].present = 0;
        } else {
            uint64_t vid = ++m->next_vid;
            size_t len = pick_value_len(m);
            value_bytes(vid, len, m->expect);
            rc = lamina_batch_put(b, keys[i].b, keys[i].n, len ? m->expect : NULL, len);
            OK(m, rc, "lamina_batch_put");
            next.s[i] = (struct slot){1, vid, len};
        }
    }
    cr_assert_eq(lamina_batch_count(b), n - empty, "seed %llu step %ld: batch count",
                 (unsigned long long)m->seed, m->step);
    rc = lamina_write(m->db, wo, b);
    OK(m, rc, "lamina_write");
    m->ref = next;
    lamina_batch_destroy(b);
}

/* A read view: the latest (snap NULL) or one of the live snapshots. */
static const struct view *pick_view(struct model *m, const lamina_snapshot **snap)
{
    *snap = NULL;
    if (m->nsnaps > 0 && below(&m->rng, 3) == 0) {
        struct snap *s = &m->snaps[below(&m->rng, (size_t)m->nsnaps)];
        *snap = s->s;
        return s->v;
    }
    return &m->ref;
}

static void op_get(struct model *m)
{
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    const struct view *v = pick_view(m, &ro.snapshot);
    int i = (int)below(&m->rng, NKEYS);
    if (below(&m->rng, 5) == 0) {
        /* get_into with a buffer that may be too small: the length is still the full one. */
        static uint8_t into[MAX_VALUE];
        size_t cap = below(&m->rng, 64), len = (size_t)-1;
        int rc = lamina_get_into(m->db, &ro, keys[i].b, keys[i].n, into, cap, &len);
        if (!v->s[i].present) {
            check_value(m, v, i, rc, NULL, 0);
            return;
        }
        OK(m, rc, "lamina_get_into");
        cr_assert_eq(len, v->s[i].len, "seed %llu step %ld: get_into length of key %d",
                     (unsigned long long)m->seed, m->step, i);
        value_bytes(v->s[i].vid, v->s[i].len, m->expect);
        size_t n = len < cap ? len : cap;
        cr_assert(n == 0 || !memcmp(into, m->expect, n),
                  "seed %llu step %ld: get_into bytes of key %d", (unsigned long long)m->seed,
                  m->step, i);
        return;
    }
    void *val = NULL;
    size_t len = 0;
    int rc = lamina_get(m->db, &ro, keys[i].b, keys[i].n, &val, &len);
    if (rc == LAMINA_NOTFOUND)
        cr_assert_null(val, "seed %llu step %ld: NOTFOUND leaves *value NULL",
                       (unsigned long long)m->seed, m->step);
    check_value(m, v, i, rc, val, len);
    if (rc == LAMINA_OK) cr_assert_eq(((uint8_t *)val)[len], 0, "a NUL byte follows the value");
    lamina_free(val);
}

/* Up to 16 keys (some repeated) read together, at the latest or a snapshot. */
static void op_multi_get(struct model *m)
{
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    const struct view *v = pick_view(m, &ro.snapshot);
    const void *k[16];
    size_t kl[16], vl[16], n = below(&m->rng, 17);
    void *vals[16];
    int st[16], idx[16];
    for (size_t j = 0; j < n; j++) {
        idx[j] = j > 0 && below(&m->rng, 8) == 0 ? idx[j - 1] : (int)below(&m->rng, NKEYS);
        k[j] = keys[idx[j]].b;
        kl[j] = keys[idx[j]].n;
    }
    int rc = lamina_multi_get(m->db, &ro, n, k, kl, vals, vl, st);
    OK(m, rc, "lamina_multi_get");
    for (size_t j = 0; j < n; j++) {
        check_value(m, v, idx[j], st[j], vals[j], vl[j]);
        lamina_free(vals[j]);
    }
}

/* A bound: the bytes of a random key, sometimes cut short or extended so that it falls
 * between keys. */
struct bound {
    uint8_t b[410];
    size_t n;
    int set;
};

static void pick_bound(struct model *m, struct bound *bd)
{
    const struct key *k = &keys[below(&m->rng, NKEYS)];
    memcpy(bd->b, k->b, k->n);
    bd->n = k->n;
    bd->set = 1;
    size_t p = below(&m->rng, 4);
    if (p == 0 && bd->n > 0) bd->n--;
    if (p == 1) bd->b[bd->n++] = (uint8_t)below(&m->rng, 256);
}

/* The keys of view v inside [lo, hi), in order, into out; returns their number. */
static int expected_keys(const struct view *v, const struct bound *lo, const struct bound *hi,
                         int *out)
{
    int n = 0;
    for (int r = 0; r < NKEYS; r++) {
        int i = order[r];
        if (!v->s[i].present) continue;
        if (lo->set && bytes_cmp(keys[i].b, keys[i].n, lo->b, lo->n) < 0) continue;
        if (hi->set && bytes_cmp(keys[i].b, keys[i].n, hi->b, hi->n) >= 0) continue;
        out[n++] = i;
    }
    return n;
}

/* Checks that the iterator stands on expected entry pos of want[0..n) (or is not valid when
 * pos is outside). */
static void check_position(struct model *m, lamina_iter *it, const struct view *v, const int *want,
                           int n, int pos)
{
    cr_assert_eq(lamina_iter_status(it), LAMINA_OK, "seed %llu step %ld (%s): iterator: %s",
                 (unsigned long long)m->seed, m->step, m->op,
                 lamina_strerror(lamina_iter_status(it)));
    if (pos < 0 || pos >= n) {
        if (lamina_iter_valid(it)) FAIL_AT(m, "iterator valid past the end of the expected range");
        return;
    }
    if (!lamina_iter_valid(it))
        cr_assert_fail("seed %llu step %ld (%s): iterator ended at %d of %d entries",
                       (unsigned long long)m->seed, m->step, m->op, pos, n);
    size_t kl, vl;
    const void *k = lamina_iter_key(it, &kl);
    const void *val = lamina_iter_value(it, &vl);
    int i = want[pos];
    if (bytes_cmp(k, kl, keys[i].b, keys[i].n) != 0)
        cr_assert_fail("seed %llu step %ld (%s): entry %d of %d: key of %zu bytes, want key %d",
                       (unsigned long long)m->seed, m->step, m->op, pos, n, kl, i);
    check_value(m, v, i, LAMINA_OK, val, vl);
}

static int want_buf[NKEYS];

static lamina_iter *make_iter(struct model *m, const struct view **v, struct bound *lo,
                              struct bound *hi)
{
    lamina_read_options ro;
    lamina_read_options_init(&ro);
    *v = pick_view(m, &ro.snapshot);
    lo->set = hi->set = 0;
    size_t p = below(&m->rng, 4);
    if (p == 1 || p == 3) pick_bound(m, lo);
    if (p == 2 || p == 3) pick_bound(m, hi);
    if (lo->set) {
        ro.lower_bound = lo->b;
        ro.lower_bound_len = lo->n;
    }
    if (hi->set) {
        ro.upper_bound = hi->b;
        ro.upper_bound_len = hi->n;
    }
    lamina_iter *it = NULL;
    int rc = lamina_iter_create(m->db, &ro, &it);
    OK(m, rc, "lamina_iter_create");
    return it;
}

/* A whole scan of a (maybe bounded) range, forward or backward; sometimes with writes made
 * after the iterator was created, which it must not see. */
static void op_scan(struct model *m, const lamina_write_options *wo)
{
    static struct view before;
    const struct view *v;
    struct bound lo, hi;
    lamina_iter *it = make_iter(m, &v, &lo, &hi);
    if (v == &m->ref && below(&m->rng, 5) == 0) {
        before = m->ref;
        v = &before;
        for (int j = 0; j < 5; j++) {
            if (below(&m->rng, 2))
                op_put(m, wo);
            else
                op_delete(m, wo);
        }
    }
    int n = expected_keys(v, &lo, &hi, want_buf);
    int rc;
    if (below(&m->rng, 2)) {
        m->op = "scan forward";
        rc = lamina_iter_seek_to_first(it);
        OK(m, rc, "seek_to_first");
        for (int pos = 0; pos <= n; pos++) {
            check_position(m, it, v, want_buf, n, pos);
            if (pos < n) {
                rc = lamina_iter_next(it);
                OK(m, rc, "next");
            }
        }
    } else {
        m->op = "scan backward";
        rc = lamina_iter_seek_to_last(it);
        OK(m, rc, "seek_to_last");
        for (int pos = n - 1; pos >= -1; pos--) {
            check_position(m, it, v, want_buf, n, pos);
            if (pos >= 0) {
                rc = lamina_iter_prev(it);
                OK(m, rc, "prev");
            }
        }
    }
    lamina_iter_destroy(it);
}

/* Seeks or seek_for_prevs to random targets on one iterator, each followed by a random walk
 * mixing next and prev. */
static void op_seek(struct model *m)
{
    const struct view *v;
    struct bound lo, hi, target;
    lamina_iter *it = make_iter(m, &v, &lo, &hi);
    int n = expected_keys(v, &lo, &hi, want_buf);
    int seeks = 1 + (int)below(&m->rng, 3);
    for (int s = 0; s < seeks; s++) {
        pick_bound(m, &target);
        int pos, rc;
        if (below(&m->rng, 2)) {
            m->op = "seek";
            for (pos = 0; pos < n; pos++) {
                const struct key *k = &keys[want_buf[pos]];
                if (bytes_cmp(k->b, k->n, target.b, target.n) >= 0) break;
            }
            rc = lamina_iter_seek(it, target.b, target.n);
        } else {
            m->op = "seek_for_prev";
            for (pos = n - 1; pos >= 0; pos--) {
                const struct key *k = &keys[want_buf[pos]];
                if (bytes_cmp(k->b, k->n, target.b, target.n) <= 0) break;
            }
            rc = lamina_iter_seek_for_prev(it, target.b, target.n);
        }
        OK(m, rc, m->op);
        check_position(m, it, v, want_buf, n, pos);
        m->op = "walk after seek";
        for (int j = 0; j < 24 && pos >= 0 && pos < n; j++) {
            if (below(&m->rng, 2)) {
                rc = lamina_iter_next(it);
                pos++;
            } else {
                rc = lamina_iter_prev(it);
                pos--;
            }
            OK(m, rc, "next/prev");
            check_position(m, it, v, want_buf, n, pos);
        }
    }
    lamina_iter_destroy(it);
}

static void op_snapshot(struct model *m)
{
    if (m->nsnaps == MAX_SNAPS || (m->nsnaps > 0 && below(&m->rng, 2) == 0)) {
        int j = (int)below(&m->rng, (size_t)m->nsnaps);
        lamina_snapshot_release(m->db, m->snaps[j].s);
        free(m->snaps[j].v);
        m->snaps[j] = m->snaps[--m->nsnaps];
        return;
    }
    struct snap *s = &m->snaps[m->nsnaps];
    s->v = malloc(sizeof(*s->v));
    cr_assert_not_null(s->v);
    int rc = lamina_snapshot_create(m->db, &s->s);
    OK(m, rc, "lamina_snapshot_create");
    *s->v = m->ref;
    m->nsnaps++;
}

static void op_compact(struct model *m)
{
    struct bound lo = {.set = 0}, hi = {.set = 0};
    if (below(&m->rng, 2)) {
        pick_bound(m, &lo);
        pick_bound(m, &hi);
    }
    int rc = lamina_compact_range(m->db, lo.set ? lo.b : NULL, lo.n, hi.set ? hi.b : NULL, hi.n);
    OK(m, rc, "lamina_compact_range");
}

/* Every key by get, and the whole database by a forward scan. */
static void check_everything(struct model *m)
{
    const char *op = m->op;
    for (int i = 0; i < NKEYS; i++) {
        void *val = NULL;
        size_t len = 0;
        int rc = lamina_get(m->db, NULL, keys[i].b, keys[i].n, &val, &len);
        check_value(m, &m->ref, i, rc, val, len);
        lamina_free(val);
    }
    struct bound none = {.set = 0};
    int n = expected_keys(&m->ref, &none, &none, want_buf);
    lamina_iter *it = NULL;
    int rc = lamina_iter_create(m->db, NULL, &it);
    OK(m, rc, "lamina_iter_create");
    rc = lamina_iter_seek_to_first(it);
    OK(m, rc, "seek_to_first");
    for (int pos = 0; pos <= n; pos++) {
        check_position(m, it, &m->ref, want_buf, n, pos);
        if (pos < n) {
            rc = lamina_iter_next(it);
            OK(m, rc, "next");
        }
    }
    lamina_iter_destroy(it);
    m->op = op;
}

static void set_option(struct model *m, const char *name, const char *value);

/* Table and compaction options may change between opens of one database: tables record their
 * own format, and the policy takes the tree's shape as it finds it. */
static void vary_options(struct model *m)
{
    static const char *policies[] = {"leveled", "tiered", "dostoevsky"};
    static const char *compressions[] = {"none", "zstd"};
    static const char *block_sizes[] = {"256", "1024", "4096"};
    static const char *bloom_bits[] = {"0", "6", "10"};
    static const char *size_ratios[] = {"2", "3", "4", "10"};
    set_option(m, "compaction_policy", policies[below(&m->rng, 3)]);
    set_option(m, "compression_type", compressions[below(&m->rng, 2)]);
    set_option(m, "block_size", block_sizes[below(&m->rng, 3)]);
    set_option(m, "bloom_bits", bloom_bits[below(&m->rng, 3)]);
    set_option(m, "size_ratio", size_ratios[below(&m->rng, 4)]);
}

static void op_reopen(struct model *m)
{
    if (m->nsnaps > 0) {
        int rc = lamina_close(m->db);
        cr_assert_eq(rc, LAMINA_EBUSY, "seed %llu step %ld: close with live snapshots: %s",
                     (unsigned long long)m->seed, m->step, lamina_strerror(rc));
        release_snaps(m);
    }
    int rc = lamina_close(m->db);
    m->db = NULL;
    OK(m, rc, "lamina_close");
    if (m->vary_options) vary_options(m);
    model_open(m);
    check_everything(m);
}

/* ---- The driver ------------------------------------------------------------------------- */

enum {
    OP_PUT,
    OP_DELETE,
    OP_DELETE_RANGE,
    OP_BATCH,
    OP_GET,
    OP_MULTI_GET,
    OP_SCAN,
    OP_SEEK,
    OP_SNAPSHOT,
    OP_FLUSH,
    OP_COMPACT,
    OP_REOPEN,
    OP_COUNT
};

static const char *op_names[OP_COUNT] = {"put",      "delete",    "delete_range",  "batch",
                                         "get",      "multi_get", "scan",          "seek",
                                         "snapshot", "flush",     "compact_range", "reopen"};

/* Weights out of 10,000. */
static int pick_op(struct model *m)
{
    static const int weights[OP_COUNT] = {3000, 1000, 60,  800, 2740, 200,
                                          500,  1500, 150, 20,  10,   20};
    int r = (int)below(&m->rng, 10000);
    for (int op = 0; op < OP_COUNT; op++) {
        if (r < weights[op]) return op;
        r -= weights[op];
    }
    return OP_GET;
}

struct config {
    uint64_t seed;
    long steps;
    const char *policy;
    const char *size_ratio;
    const char *num_levels;
    const char *compression;
    const char *block_size;
    const char *bloom_bits;
    const char *cache_size;
    int vary_options;
};

static void set_option(struct model *m, const char *name, const char *value)
{
    int rc = lamina_options_set(&m->opts, name, value);
    cr_assert_eq(rc, LAMINA_OK, "lamina_options_set(%s, %s): %s [%s]", name, value,
                 lamina_strerror(rc), lamina_errmsg(NULL));
}

static struct model model;

/* Runs after each test, also after a failed assertion, so no temporary database is left. */
static void model_cleanup(void)
{
    if (model.dir[0]) tdir_remove(model.dir);
}

TestSuite(model, .fini = model_cleanup);

static void run_model(const struct config *c)
{
    struct model *m = &model;
    memset(m, 0, sizeof(*m));
    make_keys();
    m->seed = c->seed;
    m->rng.s = c->seed;
    m->vary_options = c->vary_options;
    m->op = "setup";
    tdir_make(m->dir, sizeof(m->dir), "model");
    snprintf(m->path, sizeof(m->path), "%.63s/db", m->dir); /* dir[64] holds at most 63 */

    lamina_options_init(&m->opts);
    test_options_apply(&m->opts);
    set_option(m, "create_if_missing", "1");
    set_option(m, "write_buffer_size", "64k");
    /* Small tables, several background jobs and a table cache smaller than the table count,
     * so parallel compactions, trivial moves and reader eviction are all exercised. */
    set_option(m, "target_file_size_base", "16k");
    set_option(m, "max_background_jobs", "3");
    set_option(m, "max_open_files", "20");
    set_option(m, "level0_file_num_compaction_trigger", "2");
    set_option(m, "compaction_policy", c->policy);
    set_option(m, "size_ratio", c->size_ratio);
    set_option(m, "num_levels", c->num_levels);
    set_option(m, "compression_type", c->compression);
    set_option(m, "block_size", c->block_size);
    set_option(m, "bloom_bits", c->bloom_bits);
    set_option(m, "cache_size", c->cache_size);
    model_open(m);

    lamina_write_options wo;
    lamina_write_options_init(&wo);
    for (m->step = 0; m->step < c->steps; m->step++) {
        int op = pick_op(m);
        m->op = op_names[op];
        m->counts[op]++;
        switch (op) {
        case OP_PUT:
            op_put(m, &wo);
            break;
        case OP_DELETE:
            op_delete(m, &wo);
            break;
        case OP_DELETE_RANGE:
            op_delete_range(m, &wo);
            break;
        case OP_BATCH:
            op_batch(m, &wo);
            break;
        case OP_GET:
            op_get(m);
            break;
        case OP_MULTI_GET:
            op_multi_get(m);
            break;
        case OP_SCAN:
            op_scan(m, &wo);
            break;
        case OP_SEEK:
            op_seek(m);
            break;
        case OP_SNAPSHOT:
            op_snapshot(m);
            break;
        case OP_FLUSH:
            OK(m, lamina_flush(m->db), "lamina_flush");
            break;
        case OP_COMPACT:
            op_compact(m);
            break;
        case OP_REOPEN:
            op_reopen(m);
            break;
        }
    }
    m->op = "final check";
    check_everything(m);
    release_snaps(m);

    uint64_t levels = 0;
    OK(m, lamina_property_int(m->db, "lamina.num-levels", &levels), "num-levels");
    cr_log_info("seed %llu (%s): %ld steps, %ld puts, %ld deletes, %ld range deletes, %ld batches, "
                "%ld gets, %ld scans, %ld seeks, %ld reopens; %llu levels hold data",
                (unsigned long long)c->seed, c->policy, c->steps, m->counts[OP_PUT],
                m->counts[OP_DELETE], m->counts[OP_DELETE_RANGE], m->counts[OP_BATCH],
                m->counts[OP_GET], m->counts[OP_SCAN], m->counts[OP_SEEK], m->counts[OP_REOPEN],
                (unsigned long long)levels);
    OK(m, lamina_close(m->db), "lamina_close");
    m->db = NULL;
    cr_expect_eq(lamina_destroy(m->path), LAMINA_OK);
}

Test(model, leveled_matches_the_reference, .timeout = 600)
{
    struct config c = {1, 60000, "leveled", "4", "7", "none", "4096", "10", "8m", 0};
    run_model(&c);
}

Test(model, tiered_matches_the_reference, .timeout = 600)
{
    struct config c = {2, 60000, "tiered", "4", "7", "zstd", "4096", "10", "1m", 0};
    run_model(&c);
}

Test(model, dostoevsky_matches_the_reference, .timeout = 600)
{
    struct config c = {3, 60000, "dostoevsky", "3", "4", "zstd", "1024", "0", "8m", 0};
    run_model(&c);
}

Test(model, small_blocks_no_cache_match_the_reference, .timeout = 600)
{
    struct config c = {4, 60000, "leveled", "10", "3", "none", "256", "4", "0", 0};
    run_model(&c);
}

Test(model, options_changed_at_each_reopen_match_the_reference, .timeout = 600)
{
    struct config c = {5, 40000, "tiered", "3", "5", "zstd", "1024", "10", "64k", 1};
    run_model(&c);
}
