/* test_art.c — the ART memtable against the AVL one as the model: the same random operations
 * on both, then full scans both ways, gets at snapshots, seeks and prefix iterators compared
 * step by step; real key sets; node growth through every node type. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lamina.h"
#include "memtable/memtable.h"
#include "util/ikey.h"
#include "util/rng.h"

#define MAXKEY 64

struct pair {
    memtable *avl, *art;
};

static struct pair pair_create(void)
{
    struct pair p = {memtable_create(MEMTABLE_AVL), memtable_create(MEMTABLE_ART)};
    cr_assert(p.avl && p.art);
    return p;
}

static void pair_unref(struct pair *p)
{
    memtable_unref(p->avl);
    memtable_unref(p->art);
}

static void pair_add(struct pair *p, uint64_t seq, int type, const void *k, size_t klen,
                     const void *v, size_t vlen)
{
    cr_assert_eq(memtable_add(p->avl, seq, type, k, klen, v, vlen), 0);
    cr_assert_eq(memtable_add(p->art, seq, type, k, klen, v, vlen), 0);
}

/* Both iterators at the same entry, or both not valid. */
static void same_place(iter *want, iter *got, const char *what, int step)
{
    cr_assert_eq(iter_status(got), 0, "%s, step %d: status", what, step);
    cr_assert_eq(!!iter_valid(got), !!iter_valid(want), "%s, step %d: valid %d, want %d", what,
                 step, iter_valid(got), iter_valid(want));
    if (!iter_valid(want)) return;
    size_t wl, gl, wvl, gvl;
    const uint8_t *wk = iter_key(want, &wl), *gk = iter_key(got, &gl);
    cr_assert(wl == gl && memcmp(wk, gk, wl) == 0, "%s, step %d: key differs", what, step);
    const uint8_t *wv = iter_value(want, &wvl), *gv = iter_value(got, &gvl);
    cr_assert(wvl == gvl && (wvl == 0 || memcmp(wv, gv, wvl) == 0), "%s, step %d: value differs",
              what, step);
}

/* Walks both from where they stand: `steps` moves one way, then back twice as far. */
static void same_steps(iter *want, iter *got, int forward, int steps, const char *what)
{
    same_place(want, got, what, 0);
    int s = 1;
    for (; s <= steps && iter_valid(want); s++) {
        forward ? iter_next(want) : iter_prev(want);
        forward ? iter_next(got) : iter_prev(got);
        same_place(want, got, what, s);
    }
    if (!iter_valid(want)) return;
    for (int b = 0; b < 2 * steps && iter_valid(want); b++, s++) {
        forward ? iter_prev(want) : iter_next(want);
        forward ? iter_prev(got) : iter_next(got);
        same_place(want, got, what, s);
    }
}

static void same_scans(iter *want, iter *got, const char *what)
{
    iter_seek_to_first(want);
    iter_seek_to_first(got);
    int s = 0;
    for (; iter_valid(want); s++) {
        same_place(want, got, what, s);
        iter_next(want);
        iter_next(got);
    }
    same_place(want, got, what, s);
    iter_seek_to_last(want);
    iter_seek_to_last(got);
    for (s = 0; iter_valid(want); s++) {
        same_place(want, got, what, s);
        iter_prev(want);
        iter_prev(got);
    }
    same_place(want, got, what, s);
}

static void same_get(struct pair *p, const uint8_t *k, size_t klen, uint64_t snap)
{
    int wt = -1, gt = -1;
    const uint8_t *wv = NULL, *gv = NULL;
    size_t wvl = 0, gvl = 0;
    int wrc = memtable_get(p->avl, k, klen, snap, &wt, &wv, &wvl);
    int grc = memtable_get(p->art, k, klen, snap, &gt, &gv, &gvl);
    cr_assert_eq(grc, wrc, "get of a %zu-byte key at %llu: rc %d, want %d", klen,
                 (unsigned long long)snap, grc, wrc);
    if (wrc) return;
    cr_assert_eq(gt, wt, "get: type");
    if (wt == IKEY_VALUE)
        cr_assert(gvl == wvl && (wvl == 0 || memcmp(gv, wv, wvl) == 0), "get: value");
}

/* Seeks both ways at probe (an internal key, or a bare user key under 8 bytes). */
static void same_seeks(iter *want, iter *got, const uint8_t *probe, size_t plen, int steps)
{
    cr_assert_eq(iter_seek(want, probe, plen), 0);
    cr_assert_eq(iter_seek(got, probe, plen), 0);
    same_steps(want, got, 1, steps, "seek");
    cr_assert_eq(iter_seek(want, probe, plen), 0);
    cr_assert_eq(iter_seek(got, probe, plen), 0);
    same_steps(want, got, 0, steps, "seek, then back");
    cr_assert_eq(iter_seek_for_prev(want, probe, plen), 0);
    cr_assert_eq(iter_seek_for_prev(got, probe, plen), 0);
    same_steps(want, got, 0, steps, "seek_for_prev");
    cr_assert_eq(iter_seek_for_prev(want, probe, plen), 0);
    cr_assert_eq(iter_seek_for_prev(got, probe, plen), 0);
    same_steps(want, got, 1, steps, "seek_for_prev, then on");
}

/* A key over a tiny alphabet (NUL and 0xff included), short or behind one of a few long stems
 * (longer than the bytes a node stores, so paths are checked at the leaves). */
static size_t random_key(rng *g, uint8_t *k)
{
    static const uint8_t alphabet[] = {0, 1, 'a', 'b', 0xff};
    static const char *stems[] = {"0123456789abcdefghij", "0123456789abcdefghik",
                                  "0123456789abXdefghijklmnopqrstuvwxyz",
                                  "\xff\xff\xff\xff\xff"
                                  "\xff\xff\xff\xff\xff"};
    size_t len = 0;
    if (rng_uniform(g, 4) == 0) {
        const char *s = stems[rng_uniform(g, 4)];
        len = strlen(s);
        len = len - rng_uniform(g, 3); /* sometimes a proper prefix of the stem */
        memcpy(k, s, len);
    }
    size_t tail = rng_uniform(g, 6);
    for (size_t i = 0; i < tail; i++)
        k[len++] = alphabet[rng_uniform(g, sizeof alphabet)];
    return len;
}

/* A probe: an internal key of a random user key, or (sometimes) a bare user key under 8 bytes. */
static size_t random_probe(rng *g, uint8_t *probe)
{
    uint8_t k[MAXKEY];
    size_t klen = random_key(g, k);
    if (klen < IKEY_TRAILER && rng_uniform(g, 3) == 0) {
        memcpy(probe, k, klen);
        return klen;
    }
    uint64_t seq = rng_uniform(g, 4000);
    ikey_encode(probe, k, klen, seq, (int)rng_uniform(g, 2));
    return klen + IKEY_TRAILER;
}

static void compare_all(struct pair *p, rng *g, int queries)
{
    iter *want = memtable_iter_create(p->avl), *got = memtable_iter_create(p->art);
    cr_assert(want && got);
    same_scans(want, got, "full scan");
    for (int q = 0; q < queries; q++) {
        uint8_t probe[MAXKEY + IKEY_TRAILER];
        size_t plen = random_probe(g, probe);
        same_seeks(want, got, probe, plen, 3);
        uint8_t k[MAXKEY];
        size_t klen = random_key(g, k);
        same_get(p, k, klen, rng_uniform(g, 4000));
        same_get(p, k, klen, UINT64_MAX);
    }
    iter_destroy(want);
    iter_destroy(got);

    /* Prefix iterators: the AVL kind has no subtree walk, so it is the generic wrapper. */
    for (int q = 0; q < queries / 8 + 1; q++) {
        uint8_t pre[MAXKEY];
        size_t prelen = random_key(g, pre);
        if (prelen == 0) prelen = 1, pre[0] = 'a';
        if (rng_uniform(g, 2)) prelen = 1 + rng_uniform(g, prelen);
        want = memtable_prefix_iter_create(p->avl, pre, prelen);
        got = memtable_prefix_iter_create(p->art, pre, prelen);
        cr_assert(want && got);
        same_scans(want, got, "prefix scan");
        for (int s = 0; s < 8; s++) {
            uint8_t probe[MAXKEY + IKEY_TRAILER];
            size_t plen = random_probe(g, probe);
            if (s % 2 && plen >= IKEY_TRAILER && plen - IKEY_TRAILER + prelen <= MAXKEY) {
                /* a probe inside the range: the prefix, then a random key */
                uint8_t in[2 * MAXKEY + IKEY_TRAILER];
                memcpy(in, pre, prelen);
                memcpy(in + prelen, probe, plen);
                same_seeks(want, got, in, prelen + plen, 3);
            } else {
                same_seeks(want, got, probe, plen, 3);
            }
        }
        iter_destroy(want);
        iter_destroy(got);
    }
}

Test(memtable_art, random_operations_match_the_avl_model)
{
    for (uint64_t seed = 1; seed <= 6; seed++) {
        struct pair p = pair_create();
        rng g;
        rng_seed(&g, seed);
        size_t n = seed <= 3 ? 600 : 3000; /* few keys: many versions each */
        for (size_t i = 0; i < n; i++) {
            uint8_t k[MAXKEY], v[300];
            size_t klen = random_key(&g, k);
            /* distinct sequence numbers, not inserted in order */
            uint64_t seq = 1 + (i * 2654435761u) % 4001;
            int type = rng_uniform(&g, 100) < 15 ? IKEY_DELETION : IKEY_VALUE;
            size_t vlen = type == IKEY_VALUE ? rng_uniform(&g, 40) : 0;
            if (vlen == 39) vlen = 300;
            for (size_t j = 0; j < vlen; j++)
                v[j] = (uint8_t)(seq * 31 + j);
            pair_add(&p, seq, type, k, klen, v, vlen);
            if (i == 10 || i == 100 || i == n / 2) compare_all(&p, &g, 100);
        }
        cr_assert_eq(memtable_count(p.art), n);
        compare_all(&p, &g, 1500);
        pair_unref(&p);
    }
}

/* The first n lines of a data file, NULL (with a message) when absent. */
static char **load_lines(const char *name, size_t want, size_t *n)
{
    const char *root = getenv("LAMINA_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/../shared/data/%s", root ? root : ".", name);
    FILE *f = fopen(path, "r");
    if (!f) {
        cr_log_warn("skipping %s: %s not found", name, path);
        return NULL;
    }
    char **lines = calloc(want, sizeof *lines);
    char line[4096];
    *n = 0;
    while (*n < want && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        lines[(*n)++] = strdup(line);
    }
    fclose(f);
    return lines;
}

Test(memtable_art, real_key_sets_match_the_avl_model)
{
    static const char *files[] = {"paths-1m.txt", "npm-names-1m.txt", "words.txt"};
    for (size_t f = 0; f < 3; f++) {
        size_t n;
        char **lines = load_lines(files[f], 50000, &n);
        if (!lines) continue;
        rng g;
        rng_seed(&g, 100 + f);
        for (size_t i = n - 1; i > 0; i--) { /* shuffled */
            size_t j = rng_uniform(&g, i + 1);
            char *t = lines[i];
            lines[i] = lines[j];
            lines[j] = t;
        }
        struct pair p = pair_create();
        uint64_t seq = 1;
        for (size_t i = 0; i < n; i++) {
            pair_add(&p, seq++, IKEY_VALUE, lines[i], strlen(lines[i]), &i, sizeof i);
            if (i % 16 == 0) /* a newer version or tombstone of an earlier key */
                pair_add(&p, seq++, i % 32 ? IKEY_DELETION : IKEY_VALUE, lines[i / 2],
                         strlen(lines[i / 2]), &seq, i % 32 ? 0 : sizeof seq);
        }
        iter *want = memtable_iter_create(p.avl), *got = memtable_iter_create(p.art);
        same_scans(want, got, files[f]);
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(lines[i]);
            same_get(&p, (const uint8_t *)lines[i], len, UINT64_MAX);
            if (i % 8) continue;
            same_get(&p, (const uint8_t *)lines[i], len, rng_uniform(&g, seq));
            same_get(&p, (const uint8_t *)lines[i], len - 1, UINT64_MAX);
            uint8_t probe[4096 + IKEY_TRAILER];
            size_t cut = rng_uniform(&g, len + 1); /* a prefix of a key, maybe changed */
            memcpy(probe, lines[i], cut);
            if (cut && rng_uniform(&g, 2)) probe[cut - 1]++;
            if (cut < IKEY_TRAILER && rng_uniform(&g, 2)) {
                same_seeks(want, got, probe, cut, 2);
            } else {
                ikey_encode(probe, lines[i], cut, rng_uniform(&g, seq), IKEY_VALUE);
                same_seeks(want, got, probe, cut + IKEY_TRAILER, 2);
            }
            if (i % 64 || cut == 0) continue;
            if (cut > MAXKEY) cut = MAXKEY;
            iter *pw = memtable_prefix_iter_create(p.avl, probe, cut);
            iter *pg = memtable_prefix_iter_create(p.art, probe, cut);
            same_scans(pw, pg, "real prefix scan");
            ikey_encode(probe + cut, lines[i] + cut, len - cut, seq, IKEY_VALUE);
            same_seeks(pw, pg, probe, len + IKEY_TRAILER, 3);
            iter_destroy(pw);
            iter_destroy(pg);
        }
        iter_destroy(want);
        iter_destroy(got);
        pair_unref(&p);
        for (size_t i = 0; i < n; i++)
            free(lines[i]);
        free(lines);
    }
}

/* 256 children under one node, inserted in a scrambled order: the node grows from Node4 to
 * Node16, Node48 and Node256, and every key stays found after each step. */
static void fan_out(const uint8_t *stem, size_t stemlen)
{
    struct pair p = pair_create();
    uint8_t k[64];
    memcpy(k, stem, stemlen);
    pair_add(&p, 1000, IKEY_VALUE, k, stemlen, "end", 3); /* the key ending at the node */
    for (unsigned i = 0; i < 256; i++) {
        k[stemlen] = (uint8_t)(i * 167 + 13); /* 167 is odd: a permutation of the bytes */
        pair_add(&p, i + 1, IKEY_VALUE, k, stemlen + 1, &i, sizeof i);
        for (unsigned j = 0; j <= i; j++) {
            k[stemlen] = (uint8_t)(j * 167 + 13);
            int type;
            const uint8_t *v;
            size_t vlen;
            cr_assert_eq(memtable_get(p.art, k, stemlen + 1, UINT64_MAX, &type, &v, &vlen), 0,
                         "child %u missing after %u inserts", j, i + 1);
            cr_assert(vlen == sizeof j && memcmp(v, &j, vlen) == 0);
        }
        k[stemlen] = (uint8_t)((i + 1) * 167 + 13);
        int type;
        const uint8_t *v;
        size_t vlen;
        if (i < 255)
            cr_assert_eq(memtable_get(p.art, k, stemlen + 1, UINT64_MAX, &type, &v, &vlen),
                         LAMINA_NOTFOUND);
        if (i == 2 || i == 3 || i == 4 || i == 15 || i == 16 || i == 47 || i == 48 || i == 255) {
            iter *want = memtable_iter_create(p.avl), *got = memtable_iter_create(p.art);
            same_scans(want, got, "fan-out scan");
            iter_destroy(want);
            iter_destroy(got);
            rng g;
            rng_seed(&g, i);
            compare_all(&p, &g, 50);
        }
    }
    pair_unref(&p);
}

Test(memtable_art, nodes_grow_through_every_type)
{
    fan_out((const uint8_t *)"", 0);
    fan_out((const uint8_t *)"ab", 2);
    fan_out((const uint8_t *)"a long shared path of the node", 30);
}

Test(memtable_art, odd_keys_and_versions)
{
    struct pair p = pair_create();
    static const struct {
        const char *k;
        size_t len;
    } keys[] = {{"", 0},
                {"\0", 1},
                {"\0\0", 2},
                {"\0a", 2},
                {"a\0b", 3},
                {"a", 1},
                {"a\0", 2},
                {"\xff", 1},
                {"\xff\xff", 2},
                {"abcdefghijklmnop", 16},
                {"abcdefghijklmnoq", 16},
                {"abcdefghij", 10},
                {"abcdefghijklmnopqrstuvwxyz", 26}};
    size_t n = sizeof keys / sizeof keys[0];
    uint64_t seq = 1;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < n; i++, seq++)
            pair_add(&p, round == 1 ? 1000 - seq : seq, round == 2 ? IKEY_DELETION : IKEY_VALUE,
                     keys[i].k, keys[i].len, &seq, round == 2 ? 0 : sizeof seq);
    /* types other than value and deletion are kept as they come */
    pair_add(&p, 5000, 7, "a", 1, "seven", 5);
    pair_add(&p, 5001, 0xff, "zz", 2, "ff", 2);
    rng g;
    rng_seed(&g, 5);
    compare_all(&p, &g, 500);
    for (size_t i = 0; i < n; i++)
        for (uint64_t s = 0; s < 5010; s += 7)
            same_get(&p, (const uint8_t *)keys[i].k, keys[i].len, s);
    pair_unref(&p);
}

Test(memtable_art, empty_and_frozen)
{
    memtable *m = memtable_create(MEMTABLE_ART);
    iter *it = memtable_iter_create(m), *pi = memtable_prefix_iter_create(m, "a", 1);
    iter_seek_to_first(it);
    cr_assert_not(iter_valid(it));
    iter_seek_to_last(pi);
    cr_assert_not(iter_valid(pi));
    iter_seek(it, (const uint8_t *)"", 0);
    cr_assert_not(iter_valid(it));
    int type;
    const uint8_t *v;
    size_t vlen;
    cr_assert_eq(memtable_get(m, "", 0, 5, &type, &v, &vlen), LAMINA_NOTFOUND);
    cr_assert_eq(memtable_add(m, 1, IKEY_VALUE, "k", 1, "v", 1), 0);
    memtable_freeze(m);
    iter_destroy(pi);
    memtable_unref(m); /* the iterator still holds a reference */
    iter_seek_to_first(it);
    cr_assert(iter_valid(it));
    cr_assert_eq(memcmp(iter_value(it, &vlen), "v", 1), 0);
    iter_next(it);
    cr_assert_not(iter_valid(it));
    iter_destroy(it);
}

/* Defined in memtable/art.c for this test only: inner nodes an ART iterator stepped onto. */
size_t art_iter_visits(const iter *it);

/* A prefix iterator finds its subtree once per seek and never steps out of it: moving past
 * either end of the prefix's keys touches no node, where a whole-tree iterator (and the
 * generic wrapper over one) walks into the neighbouring keys' subtrees. */
Test(memtable_art, prefix_iterator_stays_in_its_subtree)
{
    memtable *m = memtable_create(MEMTABLE_ART);
    rng g;
    rng_seed(&g, 9);
    char k[64];
    uint64_t seq = 1;
    for (int i = 0; i < 20000; i++) { /* neighbours on both sides, with deep subtrees */
        int len =
            snprintf(k, sizeof k, "%c/%llx", i % 2 ? 'a' : 'c', (unsigned long long)rng_next(&g));
        cr_assert_eq(memtable_add(m, seq++, IKEY_VALUE, k, (size_t)len, NULL, 0), 0);
    }
    for (int i = 0; i < 100; i++) {
        int len = snprintf(k, sizeof k, "b/%03d", i);
        cr_assert_eq(memtable_add(m, seq++, IKEY_VALUE, k, (size_t)len, NULL, 0), 0);
    }
    iter *it = memtable_prefix_iter_create(m, "b/", 2);
    cr_assert_not_null(it);
    iter_seek_to_last(it);
    cr_assert(iter_valid(it));
    size_t before = art_iter_visits(it);
    iter_next(it);
    cr_assert_not(iter_valid(it));
    cr_assert_eq(art_iter_visits(it), before, "next past the last key left the subtree");

    iter_seek_to_first(it);
    int n = 0;
    for (; iter_valid(it); iter_next(it))
        n++;
    cr_assert_eq(n, 100);
    /* The subtree of 100 keys "b/000".."b/099" has one node per shared digit prefix (1 + 10
     * nodes at most); the whole scan, with the descent to it, stays in that order. */
    cr_assert_leq(art_iter_visits(it) - before, 30, "%zu nodes visited",
                  art_iter_visits(it) - before);

    before = art_iter_visits(it);
    iter_seek_to_first(it);
    iter_prev(it);
    cr_assert_not(iter_valid(it));
    cr_assert_leq(art_iter_visits(it) - before, 6, "prev past the first key left the subtree");
    iter_destroy(it);

    /* A whole-tree iterator moving past "b/099" descends into the "c/" keys. */
    it = memtable_iter_create(m);
    iter_seek(it, (const uint8_t *)"b/099", 5);
    before = art_iter_visits(it);
    iter_next(it);
    cr_assert(iter_valid(it));
    cr_assert_gt(art_iter_visits(it), before);
    iter_destroy(it);
    memtable_unref(m);
}
