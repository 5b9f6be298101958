/* test_batch.c — write batches: the public calls, the encoding that is also the WAL record, size
 * limits, group-commit merging, and refusal of malformed records. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "util/err.h"
#include "util/ikey.h"

struct seen {
    int n;
    int types[16];
    char keys[16][32];
    char values[16][32];
    size_t vlens[16];
    int stop_at; /* return non-zero at this record (-1: never) */
};

static int collect(void *ctx, int type, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct seen *s = ctx;
    if (s->n == s->stop_at) return 42;
    cr_assert_lt(s->n, 16);
    size_t kc = kl < 31 ? kl : 31, vc = vl < 31 ? vl : 31; /* damaged lengths may be longer */
    s->types[s->n] = type;
    if (kc) memcpy(s->keys[s->n], k, kc);
    s->keys[s->n][kc] = 0;
    if (type == IKEY_DELETION) {
        cr_assert_null(v);
        cr_assert_eq(vl, 0);
    }
    if (vc) memcpy(s->values[s->n], v, vc);
    s->values[s->n][vc] = 0;
    s->vlens[s->n] = vl;
    s->n++;
    return 0;
}

static struct seen walk(const lamina_batch *b)
{
    struct seen s = {.stop_at = -1};
    cr_assert_eq(batch_iterate(batch_rep(b), batch_len(b), collect, &s), 0, "%s", err_message());
    return s;
}

Test(batch, operations_come_back_in_order)
{
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), 0);
    cr_assert_eq(lamina_batch_count(b), 0);
    cr_assert_eq(lamina_batch_put(b, "k1", 2, "v1", 2), 0);
    cr_assert_eq(lamina_batch_delete(b, "k2", 2), 0);
    cr_assert_eq(lamina_batch_put(b, NULL, 0, NULL, 0), 0); /* empty key and value */
    cr_assert_eq(lamina_batch_put(b, "k\0x", 3, "v\0y", 3), 0);
    cr_assert_eq(lamina_batch_count(b), 4);
    struct seen s = walk(b);
    cr_assert_eq(s.n, 4);
    cr_assert_eq(s.types[0], IKEY_VALUE);
    cr_assert_str_eq(s.keys[0], "k1");
    cr_assert_str_eq(s.values[0], "v1");
    cr_assert_eq(s.types[1], IKEY_DELETION);
    cr_assert_str_eq(s.keys[1], "k2");
    cr_assert_eq(s.types[2], IKEY_VALUE);
    cr_assert_str_eq(s.keys[2], "");
    cr_assert_eq(s.vlens[2], 0);
    cr_assert_eq(memcmp(s.values[3], "v\0y", 3), 0);
    cr_assert_eq(s.vlens[3], 3);
    lamina_batch_destroy(b);
}

Test(batch, a_range_deletion_comes_back_as_begin_and_end)
{
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), 0);
    cr_assert_eq(lamina_batch_put(b, "k1", 2, "v1", 2), 0);
    cr_assert_eq(lamina_batch_delete_range(b, "a", 1, "m", 1), 0);
    cr_assert_eq(lamina_batch_delete_range(b, NULL, 0, "b", 1), 0); /* from the empty key */
    cr_assert_eq(lamina_batch_delete_range(b, "x", 1, "x", 1), 0);  /* empty: not added */
    cr_assert_eq(lamina_batch_count(b), 3);
    struct seen s = walk(b);
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.types[1], IKEY_RANGE_DELETION);
    cr_assert_str_eq(s.keys[1], "a");
    cr_assert_str_eq(s.values[1], "m");
    cr_assert_eq(s.types[2], IKEY_RANGE_DELETION);
    cr_assert_str_eq(s.keys[2], "");
    cr_assert_str_eq(s.values[2], "b");
    lamina_batch_destroy(b);
}

Test(batch, clear_empties_and_the_batch_is_reusable)
{
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), 0);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(lamina_batch_put(b, "key", 3, "value", 5), 0);
    batch_set_sequence(b, 99);
    lamina_batch_clear(b);
    cr_assert_eq(lamina_batch_count(b), 0);
    cr_assert_eq(batch_len(b), BATCH_HEADER_SIZE);
    cr_assert_eq(batch_sequence(b), 0);
    cr_assert_eq(walk(b).n, 0);
    cr_assert_eq(lamina_batch_delete(b, "x", 1), 0);
    struct seen s = walk(b);
    cr_assert_eq(s.n, 1);
    cr_assert_str_eq(s.keys[0], "x");
    lamina_batch_destroy(b);
    lamina_batch_destroy(NULL);
}

Test(batch, encoding_is_header_then_records)
{
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), 0);
    batch_set_sequence(b, 0x0102030405060708ull);
    cr_assert_eq(lamina_batch_put(b, "ab", 2, "xyz", 3), 0);
    cr_assert_eq(lamina_batch_delete(b, "c", 1), 0);
    const uint8_t want[] = {8, 7, 6,   5,   4, 3,   2,   1,   2, 0, 0,  0,
                            1, 2, 'a', 'b', 3, 'x', 'y', 'z', 0, 1, 'c'};
    cr_assert_eq(batch_len(b), sizeof(want));
    cr_assert_eq(memcmp(batch_rep(b), want, sizeof(want)), 0);
    uint64_t seq;
    uint32_t count;
    cr_assert_eq(batch_rep_header(want, sizeof(want), &seq, &count), 0);
    cr_assert_eq(seq, 0x0102030405060708ull);
    cr_assert_eq(count, 2);
    cr_assert_eq(batch_count(b), 2);
    lamina_batch_destroy(b);
}

Test(batch, size_limits_are_enforced)
{
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), 0);
    size_t big = LAMINA_MAX_VALUE_LEN + 1;
    char *mem = calloc(1, big);
    cr_assert_not_null(mem);
    cr_assert_eq(lamina_batch_put(b, mem, LAMINA_MAX_KEY_LEN + 1, "v", 1), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "LAMINA_MAX_KEY_LEN"));
    cr_assert_eq(lamina_batch_delete(b, mem, LAMINA_MAX_KEY_LEN + 1), LAMINA_EINVAL);
    cr_assert_eq(lamina_batch_put(b, "k", 1, mem, big), LAMINA_EINVAL);
    cr_assert_not_null(strstr(err_message(), "LAMINA_MAX_VALUE_LEN"));
    cr_assert_eq(lamina_batch_put(b, "k", 1, NULL, 5), LAMINA_EINVAL);
    cr_assert_eq(lamina_batch_count(b), 0);
    cr_assert_eq(batch_len(b), BATCH_HEADER_SIZE);
    /* The limits themselves are allowed and survive a check of the encoding. */
    cr_assert_eq(lamina_batch_put(b, mem, LAMINA_MAX_KEY_LEN, mem, LAMINA_MAX_VALUE_LEN), 0);
    cr_assert_eq(lamina_batch_count(b), 1);
    cr_assert_eq(batch_iterate(batch_rep(b), batch_len(b), NULL, NULL), 0);
    free(mem);
    lamina_batch_destroy(b);
}

Test(batch, stack_batch_and_set_rep_round_trip)
{
    lamina_batch a, b;
    cr_assert_eq(batch_init(&a), 0);
    cr_assert_eq(batch_init(&b), 0);
    batch_set_sequence(&a, 123);
    cr_assert_eq(lamina_batch_put(&a, "k", 1, "v", 1), 0);
    cr_assert_eq(batch_set_rep(&b, batch_rep(&a), batch_len(&a)), 0);
    cr_assert_eq(batch_len(&b), batch_len(&a));
    cr_assert_eq(memcmp(batch_rep(&b), batch_rep(&a), batch_len(&a)), 0);
    cr_assert_eq(batch_sequence(&b), 123);
    const uint8_t bad[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 1, 'k'};
    cr_assert_eq(batch_set_rep(&b, bad, sizeof(bad)), LAMINA_ECORRUPT);
    batch_free(&a);
    batch_free(&b);
}

Test(batch, callback_error_stops_the_walk)
{
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(lamina_batch_delete(b, "k", 1), 0);
    struct seen s = {.stop_at = 2};
    cr_assert_eq(batch_iterate(batch_rep(b), batch_len(b), collect, &s), 42);
    cr_assert_eq(s.n, 2);
    lamina_batch_destroy(b);
}

static void assert_refused(const uint8_t *rep, size_t len, const char *what)
{
    struct seen s = {.stop_at = -1};
    int rc = batch_iterate(rep, len, collect, &s);
    cr_assert_eq(rc, LAMINA_ECORRUPT, "%s: rc %d", what, rc);
    cr_assert_eq(s.n, 0, "%s: %d records applied before the error", what, s.n);
}

Test(batch, malformed_records_are_refused_before_any_is_applied)
{
    const uint8_t hdr1[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    uint8_t r[64];
    assert_refused(hdr1, 11, "short header");
    assert_refused(hdr1, 12, "count 1, no records");
    const uint8_t badtype[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 1, 'k'};
    assert_refused(badtype, sizeof(badtype), "type 3");
    /* A range deletion needs an end key above its begin key. */
    const uint8_t noend[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 1, 'k'};
    assert_refused(noend, sizeof(noend), "range deletion without end");
    const uint8_t emptyrange[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 1, 'k', 1, 'k'};
    assert_refused(emptyrange, sizeof(emptyrange), "range deletion with begin == end");
    const uint8_t inverted[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 1, 'k', 1, 'a'};
    assert_refused(inverted, sizeof(inverted), "range deletion with begin > end");
    const uint8_t shortkey[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 5, 'k'};
    assert_refused(shortkey, sizeof(shortkey), "key cut short");
    const uint8_t novalue[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 'k'};
    assert_refused(novalue, sizeof(novalue), "put without value");
    /* Two good records but the header says one; then one good record and a trailing byte. */
    const uint8_t two[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 1, 'b'};
    assert_refused(two, sizeof(two), "count too small");
    const uint8_t trail[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 'a', 1};
    assert_refused(trail, sizeof(trail), "trailing byte");
    /* An oversized key length in an otherwise well-formed record. */
    size_t n = 12;
    memcpy(r, hdr1, 12);
    r[n++] = IKEY_DELETION;
    n += coding_put_varint64(r + n, (uint64_t)LAMINA_MAX_KEY_LEN + 1);
    assert_refused(r, n, "key over the limit");
    /* Every proper prefix of a good batch is refused. */
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), 0);
    cr_assert_eq(lamina_batch_put(b, "key1", 4, "value1", 6), 0);
    cr_assert_eq(lamina_batch_delete(b, "key2", 4), 0);
    cr_assert_eq(lamina_batch_put(b, "key3", 4, "", 0), 0);
    for (size_t i = 0; i < batch_len(b); i++)
        assert_refused(batch_rep(b), i, "prefix");
    lamina_batch_destroy(b);
}

Test(batch, random_damage_never_reads_out_of_bounds)
{
    lamina_batch *b;
    cr_assert_eq(lamina_batch_create(&b), 0);
    for (int i = 0; i < 6; i++) {
        char k[8] = {'k', (char)('0' + i)};
        if (i % 3 == 1)
            cr_assert_eq(lamina_batch_delete(b, k, 2), 0);
        else
            cr_assert_eq(lamina_batch_put(b, k, 2, "value", (size_t)i), 0);
    }
    size_t len = batch_len(b);
    uint8_t *copy = malloc(len);
    uint32_t x = 17;
    for (int round = 0; round < 3000; round++) {
        memcpy(copy, batch_rep(b), len);
        x = x * 1103515245u + 12345u;
        size_t at = BATCH_HEADER_SIZE + (x >> 8) % (len - BATCH_HEADER_SIZE);
        copy[at] ^= (uint8_t)(1u << (x % 8));
        struct seen s = {.stop_at = -1};
        int rc = batch_iterate(copy, len, collect, &s);
        cr_assert(rc == 0 || rc == LAMINA_ECORRUPT, "round %d: rc %d", round, rc);
        if (rc) cr_assert_eq(s.n, 0);
    }
    free(copy);
    lamina_batch_destroy(b);
}
