/* test_fst.c — the FST index: random key sets (small alphabets for shared prefixes and
 * suffixes, prefixes of other keys, the empty key) and real key sets round-trip through get,
 * seek, next and prev exactly as a sorted array answers; damaged bytes give an error or some
 * answer, never a crash or a hang; bad input to the builder is refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lamina.h"
#include "sst/block.h"
#include "sst/fst.h"
#include "util/rng.h"

/* ---- Key sets and their reference answers --------------------------------------------- */

struct key {
    uint8_t *p;
    size_t len;
};

struct keyset {
    struct key *k;
    uint64_t *out;
    size_t n, cap;
};

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = al && bl ? memcmp(a, b, al < bl ? al : bl) : 0;
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

static int key_qsort_cmp(const void *x, const void *y)
{
    const struct key *a = x, *b = y;
    return key_cmp(a->p, a->len, b->p, b->len);
}

static void keyset_push(struct keyset *ks, const uint8_t *p, size_t len)
{
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? 2 * ks->cap : 64;
        ks->k = realloc(ks->k, ks->cap * sizeof(*ks->k));
        cr_assert_not_null(ks->k);
    }
    ks->k[ks->n].p = malloc(len ? len : 1);
    cr_assert_not_null(ks->k[ks->n].p);
    if (len) memcpy(ks->k[ks->n].p, p, len);
    ks->k[ks->n++].len = len;
}

/* Sorts, drops repeats, and gives key i the output i. */
static void keyset_seal(struct keyset *ks)
{
    if (ks->n) qsort(ks->k, ks->n, sizeof(*ks->k), key_qsort_cmp);
    size_t w = 0;
    for (size_t i = 0; i < ks->n; i++) {
        if (w && !key_cmp(ks->k[w - 1].p, ks->k[w - 1].len, ks->k[i].p, ks->k[i].len)) {
            free(ks->k[i].p);
            continue;
        }
        ks->k[w++] = ks->k[i];
    }
    ks->n = w;
    ks->out = realloc(ks->out, (ks->n + 1) * sizeof(*ks->out));
    cr_assert_not_null(ks->out);
    for (size_t i = 0; i < ks->n; i++)
        ks->out[i] = i;
}

static void keyset_free(struct keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        free(ks->k[i].p);
    free(ks->k);
    free(ks->out);
    memset(ks, 0, sizeof(*ks));
}

/* Index of the first key >= probe (n if none). */
static size_t keyset_lower_bound(const struct keyset *ks, const uint8_t *p, size_t len)
{
    size_t lo = 0, hi = ks->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(ks->k[mid].p, ks->k[mid].len, p, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* n random keys of 0..maxlen bytes over an alphabet of `alpha` letters starting at `base`. */
static void keyset_random(struct keyset *ks, rng *r, size_t n, size_t maxlen, unsigned alpha,
                          unsigned base)
{
    uint8_t k[64];
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)rng_uniform(r, maxlen + 1);
        for (size_t j = 0; j < len; j++)
            k[j] = (uint8_t)(base + rng_uniform(r, alpha));
        keyset_push(ks, k, len);
    }
    keyset_seal(ks);
}

/* ---- Building and checking ------------------------------------------------------------- */

static void fst_build(const struct keyset *ks, size_t register_max, buf *dst)
{
    struct fst_builder b;
    cr_assert_eq(fst_builder_init(&b), 0);
    if (register_max) b.register_max = register_max;
    for (size_t i = 0; i < ks->n; i++)
        cr_assert_eq(fst_builder_add(&b, ks->k[i].p, ks->k[i].len, ks->out[i]), 0,
                     "add key %zu: %s", i, lamina_errmsg(NULL));
    cr_assert_eq(fst_builder_finish(&b, dst), 0);
    fst_builder_free(&b);
}

static void expect_at(const struct fst_cursor *c, const struct keyset *ks, size_t i,
                      const char *what)
{
    if (i == ks->n) {
        cr_assert(!fst_cursor_valid(c), "%s: expected the end, cursor valid", what);
        return;
    }
    cr_assert(fst_cursor_valid(c), "%s: expected key %zu, cursor not valid", what, i);
    size_t len;
    const uint8_t *k = fst_cursor_key(c, &len);
    cr_assert(!key_cmp(k, len, ks->k[i].p, ks->k[i].len), "%s: key %zu differs", what, i);
    cr_assert_eq(fst_cursor_value(c), ks->out[i], "%s: value of key %zu", what, i);
}

/* A probe from key i: itself, a prefix, an extension, one with its last byte moved, or
 * random bytes. */
static size_t probe_make(const struct keyset *ks, rng *r, uint8_t *p)
{
    size_t len = 0;
    const struct key *k = ks->n ? &ks->k[rng_uniform(r, ks->n)] : NULL;
    unsigned kind = (unsigned)rng_uniform(r, k ? 6 : 1);
    if (kind == 0) { /* random */
        len = (size_t)rng_uniform(r, 12);
        for (size_t j = 0; j < len; j++)
            p[j] = (uint8_t)rng_uniform(r, 256);
        return len;
    }
    len = k->len;
    memcpy(p, k->p, len);
    switch (kind) {
    case 1: /* present */
        break;
    case 2: /* prefix */
        len = (size_t)rng_uniform(r, len + 1);
        break;
    case 3: /* extension */
        for (size_t e = 1 + (size_t)rng_uniform(r, 3); e; e--)
            p[len++] = (uint8_t)rng_uniform(r, 256);
        break;
    case 4: /* last byte one up (between keys) */
        if (len) p[len - 1]++;
        break;
    default: /* last byte one down, with a tail */
        if (len) p[len - 1]--;
        p[len++] = 0xff;
        break;
    }
    return len;
}

/* Every check of the header's promise against the sorted array. */
static void fst_verify(const struct keyset *ks, const buf *bytes, uint64_t seed, size_t nprobes)
{
    struct fst f;
    cr_assert_eq(fst_open(&f, bytes->data, bytes->len), 0, "open: %s", lamina_errmsg(NULL));
    cr_assert_eq(f.nkeys, ks->n);
    for (size_t i = 0; i < ks->n; i++) {
        uint64_t out = ~0ull;
        cr_assert_eq(fst_get(&f, ks->k[i].p, ks->k[i].len, &out), 0, "get key %zu", i);
        cr_assert_eq(out, ks->out[i], "output of key %zu", i);
    }
    struct fst_cursor c;
    fst_cursor_init(&c, &f);
    cr_assert_eq(fst_cursor_seek_to_first(&c), 0);
    for (size_t i = 0; i <= ks->n; i++) {
        expect_at(&c, ks, i, "forward");
        if (i < ks->n) cr_assert_eq(fst_cursor_next(&c), 0);
    }
    cr_assert_eq(fst_cursor_seek_to_last(&c), 0);
    for (size_t i = ks->n; i-- > 0;) {
        expect_at(&c, ks, i, "backward");
        cr_assert_eq(fst_cursor_prev(&c), 0);
    }
    cr_assert(!fst_cursor_valid(&c), "backward: valid before the first key");

    rng r;
    rng_seed(&r, seed);
    uint8_t *p = malloc(FST_MAX_KEY + 8); /* probes extend keys by up to 3 bytes */
    cr_assert_not_null(p);
    static const uint8_t high[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    for (size_t t = 0; t < nprobes; t++) {
        size_t len = t == 0 ? 0 : t == 1 ? sizeof(high) : probe_make(ks, &r, p);
        const uint8_t *q = t == 1 ? high : p;
        size_t lb = keyset_lower_bound(ks, q, len);
        uint64_t out;
        int rc = fst_get(&f, q, len, &out);
        int present = lb < ks->n && !key_cmp(ks->k[lb].p, ks->k[lb].len, q, len);
        cr_assert_eq(rc, present ? 0 : LAMINA_NOTFOUND, "get of probe %zu", t);
        if (present) cr_assert_eq(out, ks->out[lb]);
        cr_assert_eq(fst_cursor_seek(&c, q, len), 0);
        expect_at(&c, ks, lb, "seek");
        /* a few steps either way from there */
        size_t at = lb;
        for (int s = (int)rng_uniform(&r, 6); s > 0 && at < ks->n; s--) {
            if (rng_uniform(&r, 2) && at > 0) {
                cr_assert_eq(fst_cursor_prev(&c), 0);
                at--;
            } else {
                cr_assert_eq(fst_cursor_next(&c), 0);
                at++;
            }
            expect_at(&c, ks, at, "step after seek");
            if (at == ks->n) break;
        }
    }
    fst_cursor_free(&c);
    free(p);
}

static void check_random(size_t n, size_t maxlen, unsigned alpha, unsigned base, uint64_t seed,
                         size_t register_max)
{
    struct keyset ks = {0};
    rng r;
    rng_seed(&r, seed);
    keyset_random(&ks, &r, n, maxlen, alpha, base);
    buf bytes = {0};
    fst_build(&ks, register_max, &bytes);
    fst_verify(&ks, &bytes, seed + 1, 2000 + ks.n / 4);
    cr_log_info("random n=%zu (distinct %zu) maxlen=%zu alphabet=%u: %zu bytes, %.2f per key", n,
                ks.n, maxlen, alpha, bytes.len, ks.n ? (double)bytes.len / (double)ks.n : 0.0);
    buf_free(&bytes);
    keyset_free(&ks);
}

Test(fst, empty_set_is_valid_and_finds_nothing)
{
    check_random(0, 10, 2, 'a', 1, 0);
}

Test(fst, one_and_two_keys_round_trip)
{
    for (uint64_t seed = 1; seed <= 40; seed++) {
        check_random(1, 6, 2, 'a', seed, 0);
        check_random(2, 6, 2, 'a', seed, 0);
    }
}

Test(fst, the_empty_key_alone_and_with_others)
{
    struct keyset ks = {0};
    keyset_push(&ks, (const uint8_t *)"", 0);
    keyset_seal(&ks);
    ks.out[0] = 77;
    buf bytes = {0};
    fst_build(&ks, 0, &bytes);
    fst_verify(&ks, &bytes, 5, 100);
    buf_free(&bytes);
    keyset_push(&ks, (const uint8_t *)"a", 1);
    keyset_push(&ks, (const uint8_t *)"ab", 2);
    keyset_push(&ks, (const uint8_t *)"b", 1);
    keyset_seal(&ks);
    fst_build(&ks, 0, &bytes);
    fst_verify(&ks, &bytes, 6, 200);
    buf_free(&bytes);
    keyset_free(&ks);
}

Test(fst, random_sets_of_1000_keys_over_small_alphabets)
{
    check_random(1000, 40, 2, 'a', 11, 0);
    check_random(1000, 40, 3, 'a', 12, 0);
    check_random(1000, 12, 4, 0, 13, 0);    /* NUL and low bytes */
    check_random(1000, 8, 256, 0, 14, 0);   /* wide states: arrays and bitmaps */
    check_random(1000, 3, 256, 0, 15, 0);   /* dense, many prefixes of others */
    check_random(1000, 40, 2, 0xfe, 16, 0); /* 0xfe/0xff bytes */
}

Test(fst, random_sets_of_50000_keys)
{
    check_random(50000, 40, 2, 'a', 21, 0);
    check_random(50000, 40, 4, 'a', 22, 0);
    check_random(50000, 10, 256, 0, 23, 0);
}

Test(fst, a_small_register_still_gives_a_correct_fst)
{
    check_random(3000, 30, 3, 'a', 31, 4);
    check_random(3000, 30, 3, 'a', 32, 64);
}

Test(fst, general_non_decreasing_outputs_round_trip)
{
    struct keyset ks = {0};
    rng r;
    rng_seed(&r, 41);
    keyset_random(&ks, &r, 5000, 20, 3, 'a');
    uint64_t o = 0;
    for (size_t i = 0; i < ks.n; i++) {
        unsigned step = (unsigned)rng_uniform(&r, 4);
        o += step == 0 ? 0 : step == 1 ? 1 : step == 2 ? rng_uniform(&r, 1000) : (1ull << 40);
        ks.out[i] = o;
    }
    ks.out[ks.n - 1] = UINT64_MAX;
    buf bytes = {0};
    fst_build(&ks, 0, &bytes);
    fst_verify(&ks, &bytes, 42, 3000);
    buf_free(&bytes);
    keyset_free(&ks);
}

Test(fst, keys_of_60000_bytes_round_trip)
{
    struct keyset ks = {0};
    size_t big = 60000;
    uint8_t *k = malloc(big + 1);
    cr_assert_not_null(k);
    memset(k, 'x', big);
    keyset_push(&ks, k, big);
    keyset_push(&ks, k, big / 2);
    k[big - 1] = 'y';
    keyset_push(&ks, k, big);
    k[100] = 'a';
    keyset_push(&ks, k, big);
    keyset_push(&ks, k, 101);
    keyset_seal(&ks);
    buf bytes = {0};
    fst_build(&ks, 0, &bytes);
    fst_verify(&ks, &bytes, 51, 200);
    cr_log_info("5 keys of up to %zu bytes: %zu bytes", big, bytes.len);
    buf_free(&bytes);
    keyset_free(&ks);
    free(k);
}

/* ---- Builder errors -------------------------------------------------------------------- */

Test(fst, builder_refuses_unsorted_repeated_and_decreasing_then_goes_on)
{
    struct fst_builder b;
    buf bytes = {0};
    cr_assert_eq(fst_builder_init(&b), 0);
    cr_assert_eq(fst_builder_add(&b, (const uint8_t *)"b", 1, 5), 0);
    cr_assert_eq(fst_builder_add(&b, (const uint8_t *)"a", 1, 6), LAMINA_EINVAL);
    cr_assert_eq(fst_builder_add(&b, (const uint8_t *)"b", 1, 6), LAMINA_EINVAL);
    cr_assert_eq(fst_builder_add(&b, (const uint8_t *)"", 0, 6), LAMINA_EINVAL);
    cr_assert_eq(fst_builder_add(&b, (const uint8_t *)"c", 1, 4), LAMINA_EINVAL);
    uint8_t *huge = calloc(FST_MAX_KEY + 1, 1);
    cr_assert_not_null(huge);
    huge[0] = 'z';
    cr_assert_eq(fst_builder_add(&b, huge, FST_MAX_KEY + 1, 9), LAMINA_EINVAL);
    free(huge);
    cr_assert_eq(fst_builder_add(&b, (const uint8_t *)"bc", 2, 5), 0);
    cr_assert_eq(fst_builder_add(&b, (const uint8_t *)"c", 1, 7), 0);
    cr_assert_eq(fst_builder_finish(&b, &bytes), 0);
    cr_assert_eq(fst_builder_add(&b, (const uint8_t *)"d", 1, 8), LAMINA_EINVAL,
                 "add after finish");
    fst_builder_free(&b);

    struct fst f;
    uint64_t out;
    cr_assert_eq(fst_open(&f, bytes.data, bytes.len), 0);
    cr_assert_eq(f.nkeys, 3);
    cr_assert_eq(fst_get(&f, (const uint8_t *)"b", 1, &out), 0);
    cr_assert_eq(out, 5);
    cr_assert_eq(fst_get(&f, (const uint8_t *)"bc", 2, &out), 0);
    cr_assert_eq(out, 5);
    cr_assert_eq(fst_get(&f, (const uint8_t *)"c", 1, &out), 0);
    cr_assert_eq(out, 7);
    cr_assert_eq(fst_get(&f, (const uint8_t *)"a", 1, &out), LAMINA_NOTFOUND);
    buf_free(&bytes);
}

/* ---- Damage ---------------------------------------------------------------------------- */

/* Uses the FST at [p, p + n) every way the API allows; any answer but a crash or a hang. */
static void fst_exercise(const uint8_t *p, size_t n, const struct keyset *ks, rng *r)
{
    struct fst f;
    int rc = fst_open(&f, p, n);
    if (rc) {
        cr_assert_eq(rc, LAMINA_ECORRUPT);
        return;
    }
    for (size_t i = 0; i < ks->n; i += 7) {
        uint64_t out;
        rc = fst_get(&f, ks->k[i].p, ks->k[i].len, &out);
        cr_assert(rc == 0 || rc == LAMINA_NOTFOUND || rc == LAMINA_ECORRUPT, "get: %d", rc);
    }
    struct fst_cursor c;
    fst_cursor_init(&c, &f);
    size_t steps = 0, cap = 4 * ks->n + 100; /* a damaged DAG may hold far more paths */
    rc = fst_cursor_seek_to_first(&c);
    while (!rc && fst_cursor_valid(&c) && steps++ < cap)
        rc = fst_cursor_next(&c);
    cr_assert(rc == 0 || rc == LAMINA_ECORRUPT);
    steps = 0;
    rc = fst_cursor_seek_to_last(&c);
    while (!rc && fst_cursor_valid(&c) && steps++ < cap)
        rc = fst_cursor_prev(&c);
    cr_assert(rc == 0 || rc == LAMINA_ECORRUPT);
    static uint8_t probe[FST_MAX_KEY + 8];
    for (int t = 0; t < 20; t++) {
        size_t len = probe_make(ks, r, probe);
        rc = fst_cursor_seek(&c, probe, len);
        for (int s = 0; !rc && fst_cursor_valid(&c) && s < 5; s++)
            rc = s & 1 ? fst_cursor_prev(&c) : fst_cursor_next(&c);
        cr_assert(rc == 0 || rc == LAMINA_ECORRUPT);
    }
    fst_cursor_free(&c);
}

/* Rewrites the header of the FST in full to claim n bytes of its node area, so the truncated
 * nodes are read (not refused by the header's size check). */
static size_t fst_rehead(const struct fst *f, size_t n, uint8_t *dst)
{
    uint8_t *p = dst;
    *p++ = f->data[0];
    *p++ = f->data[1];
    size_t hl = 2 + coding_varint_len(f->nkeys) + coding_varint_len(f->root >> 16), l = 1;
    while (coding_varint_len(hl + l + n) != l)
        l++;
    p += coding_put_varint64(p, hl + l + n);
    p += coding_put_varint64(p, f->nkeys);
    p += coding_put_varint64(p, f->root >> 16);
    memcpy(p, f->area, n);
    return (size_t)(p - dst) + n;
}

Test(fst, damaged_bytes_give_an_error_or_an_answer_never_a_crash)
{
    struct keyset ks = {0};
    rng r;
    rng_seed(&r, 61);
    keyset_random(&ks, &r, 400, 16, 3, 'a');
    for (int i = 0; i < 30; i++) { /* and some wide states */
        uint8_t k[3] = {'b', (uint8_t)(i * 7), (uint8_t)i};
        keyset_push(&ks, k, 3);
    }
    keyset_seal(&ks);
    buf bytes = {0};
    fst_build(&ks, 0, &bytes);
    struct fst f;
    cr_assert_eq(fst_open(&f, bytes.data, bytes.len), 0);
    uint8_t *copy = malloc(bytes.len + 64);
    cr_assert_not_null(copy);

    for (size_t n = 0; n < bytes.len; n++) { /* truncated: the header's size refuses it */
        memcpy(copy, bytes.data, n);
        struct fst g;
        cr_assert_eq(fst_open(&g, copy, n), LAMINA_ECORRUPT, "truncated to %zu opened", n);
    }
    for (size_t n = 1; n < f.area_size; n++) { /* truncated node area under a fitting header */
        size_t len = fst_rehead(&f, n, copy);
        fst_exercise(copy, len, &ks, &r);
    }
    for (int t = 0; t < 3000; t++) { /* flipped bytes */
        memcpy(copy, bytes.data, bytes.len);
        for (int k = 1 + (int)rng_uniform(&r, 3); k > 0; k--)
            copy[rng_uniform(&r, bytes.len)] ^= (uint8_t)(1 + rng_uniform(&r, 255));
        fst_exercise(copy, bytes.len, &ks, &r);
    }
    for (int t = 0; t < 300; t++) { /* random node bytes under the real header */
        memcpy(copy, bytes.data, bytes.len);
        for (size_t i = (size_t)(f.area - f.data); i < bytes.len; i++)
            copy[i] = (uint8_t)rng_next(&r);
        fst_exercise(copy, bytes.len, &ks, &r);
    }
    free(copy);
    buf_free(&bytes);
    keyset_free(&ks);
}

/* ---- Real key sets ---------------------------------------------------------------------- */

/* Bytes a B-tree leaf level takes for the same keys: whole keys (restart interval 1, so a
 * 4-byte restart each) with a block handle of two varints, in 4 KiB index blocks. */
static size_t btree_bytes(const struct keyset *ks)
{
    struct block_builder bb;
    size_t total = 0;
    block_builder_init(&bb, 1);
    for (size_t i = 0; i < ks->n; i++) {
        uint8_t h[20];
        size_t hl = coding_put_varint64(h, (uint64_t)i * 4100);
        hl += coding_put_varint64(h + hl, 4000 + i % 200);
        cr_assert_eq(block_builder_add(&bb, ks->k[i].p, ks->k[i].len, h, hl), 0);
        if (block_builder_size(&bb) >= 4096) {
            total += block_builder_size(&bb);
            block_builder_reset(&bb);
        }
    }
    if (!block_builder_empty(&bb)) total += block_builder_size(&bb);
    block_builder_free(&bb);
    return total;
}

/* Lines of dir/name: every step-th (from the first), at most max of them; when dir lacks it,
 * the repository's compressed copy ($LAMINA_SOURCE_ROOT/data/name.xz). 0 if neither is there. */
static size_t load_lines(struct keyset *ks, const char *dir, const char *name, size_t step,
                         size_t max)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *in = fopen(path, "r");
    int piped = 0;
    if (!in) {
        const char *root = getenv("LAMINA_SOURCE_ROOT");
        snprintf(path, sizeof(path), "%s/data/%s.xz", root ? root : ".", name);
        FILE *probe = fopen(path, "r");
        if (!probe) return 0;
        fclose(probe);
        char cmd[1100];
        snprintf(cmd, sizeof(cmd), "xz -dc '%s' 2>/dev/null", path);
        in = popen(cmd, "r");
        piped = 1;
    }
    if (!in) return 0;
    static char line[70000];
    size_t lineno = 0;
    while (ks->n < max && fgets(line, sizeof(line), in)) {
        if (lineno++ % step) continue;
        size_t len = strcspn(line, "\n");
        keyset_push(ks, (const uint8_t *)line, len);
    }
    if (piped) {
        /* stop reading early: the rest of the pipe is not wanted */
        while (fgets(line, sizeof(line), in))
            ;
        pclose(in);
    } else {
        fclose(in);
    }
    keyset_seal(ks);
    return ks->n;
}

/* LevelDB's shortest separator on plain keys: s with a <= s < b, as short as one byte past
 * their common prefix. */
static void keyset_separators(const struct keyset *in, struct keyset *out)
{
    for (size_t i = 0; i + 1 < in->n; i++) {
        const struct key *a = &in->k[i], *b = &in->k[i + 1];
        size_t n = a->len < b->len ? a->len : b->len, d = 0;
        while (d < n && a->p[d] == b->p[d])
            d++;
        if (d < n && a->p[d] < 0xff && a->p[d] + 1 < b->p[d]) {
            uint8_t s[4096];
            if (d + 1 > sizeof(s)) continue;
            memcpy(s, a->p, d + 1);
            s[d]++;
            keyset_push(out, s, d + 1);
        } else {
            keyset_push(out, a->p, a->len);
        }
    }
    keyset_seal(out);
}

static void measure(const char *name, const struct keyset *ks)
{
    buf bytes = {0};
    fst_build(ks, 0, &bytes);
    fst_verify(ks, &bytes, 71, 5000);
    size_t bt = btree_bytes(ks), kb = 0;
    for (size_t i = 0; i < ks->n; i++)
        kb += ks->k[i].len;
    cr_log_info("%-40s keys %7zu  key bytes/key %6.2f  fst %9zu B %6.2f B/key  btree %9zu B "
                "%6.2f B/key  fst/btree %.3f",
                name, ks->n, (double)kb / (double)ks->n, bytes.len,
                (double)bytes.len / (double)ks->n, bt, (double)bt / (double)ks->n,
                (double)bytes.len / (double)bt);
    buf_free(&bytes);
}

Test(fst, real_key_sets_round_trip_and_report_bytes_per_key)
{
    static const char *const files[] = {"paths-1m.txt", "npm-names-1m.txt", "words.txt"};
    const char *dir = getenv("LAMINA_DATA");
    if (!dir) dir = "/work/shared/data";
    size_t found = 0;
    for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
        char name[96];
        struct keyset every50 = {0}, first = {0}, seps = {0};
        if (!load_lines(&every50, dir, files[i], 50, SIZE_MAX)) {
            cr_log_warn("%s/%s absent (nor in the repository's data/): skipped; LAMINA_DATA "
                        "names the key set directory",
                        dir, files[i]);
            continue;
        }
        found++;
        snprintf(name, sizeof(name), "%s every 50th", files[i]);
        measure(name, &every50);
        keyset_separators(&every50, &seps);
        snprintf(name, sizeof(name), "%s separators of every 50th", files[i]);
        measure(name, &seps);
        load_lines(&first, dir, files[i], 1, 100000);
        snprintf(name, sizeof(name), "%s first 100000", files[i]);
        measure(name, &first);
        keyset_free(&every50);
        keyset_free(&first);
        keyset_free(&seps);
    }
    if (!found) cr_skip_test("no real key set under %s", dir);
}
