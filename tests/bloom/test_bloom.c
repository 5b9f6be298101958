/* test_bloom.c — the blocked Bloom filter: no false negatives, a measured false-positive rate
 * that matches Putze et al.'s formula, the trailer layout, and corrupt filters answering 1. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "bloom/bloom.h"
#include "lamina.h"
#include "util/coding.h"

/* Key i as 8 bytes; absent keys live at i + 2^40 so they never meet present ones. */
static uint64_t key_hash(uint64_t i)
{
    uint8_t k[8];
    coding_put_fixed64(k, i);
    return bloom_hash(k, sizeof k);
}

#define ABSENT_BASE (UINT64_C(1) << 40)

static buf build_filter(size_t n, int bits_per_key)
{
    uint64_t *h = malloc(n * sizeof *h);
    cr_assert_not_null(h);
    for (size_t i = 0; i < n; i++)
        h[i] = key_hash(i);
    buf b = {0};
    cr_assert_eq(bloom_build(h, n, bits_per_key, &b), 0);
    free(h);
    return b;
}

static double measured_fpr(const buf *f, size_t probes)
{
    size_t fp = 0;
    for (size_t i = 0; i < probes; i++)
        fp += (size_t)bloom_may_contain(f->data, f->len, key_hash(ABSENT_BASE + i));
    return (double)fp / (double)probes;
}

Test(bloom, no_false_negatives_for_100k_keys)
{
    const size_t n = 100000;
    for (int bpk = 1; bpk <= 64; bpk = bpk < 4 ? bpk + 1 : bpk * 2) {
        buf f = build_filter(n, bpk);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(bloom_may_contain(f.data, f.len, key_hash(i)), 1,
                         "key %zu missing at %d bits/key", i, bpk);
        buf_free(&f);
    }
}

Test(bloom, theory_at_10_bits_per_key_is_about_one_percent)
{
    double t = bloom_fpr_theory(10);
    cr_assert(t > 0.008 && t < 0.013, "theory %g", t);
    /* Blocking costs accuracy: worse than an unblocked filter's 0.82%, better with more bits. */
    cr_assert(t > 0.0082);
    cr_assert(bloom_fpr_theory(5) > t && bloom_fpr_theory(20) < t);
}

static void check_fpr_matches_theory(int bpk, size_t probes)
{
    buf f = build_filter(100000, bpk);
    double got = measured_fpr(&f, probes), want = bloom_fpr_theory(bpk);
    cr_assert(got > want * 0.8 && got < want * 1.2, "%d bits/key: measured %g, theory %g", bpk, got,
              want);
    buf_free(&f);
}

Test(bloom, fpr_at_10_bits_per_key_matches_theory)
{
    check_fpr_matches_theory(10, 1000000);
}
Test(bloom, fpr_at_5_bits_per_key_matches_theory)
{
    check_fpr_matches_theory(5, 1000000);
}
/* ~1.5e-4 expected: 8M probes give ~1,200 false positives, a 3% standard error. */
Test(bloom, fpr_at_20_bits_per_key_matches_theory)
{
    check_fpr_matches_theory(20, 8000000);
}

Test(bloom, trailer_records_block_count_k_and_format)
{
    buf f = build_filter(1000, 10); /* 10,000 bits -> 20 blocks of 512 */
    cr_assert_eq(f.len, 20 * 64 + 6);
    const uint8_t *t = f.data + f.len - 6;
    cr_assert_eq(coding_get_fixed32(t), 20);
    cr_assert_eq(t[4], 7); /* round(10 ln 2) */
    cr_assert_eq(t[5], 1);
    buf_free(&f);
}

Test(bloom, build_appends_after_existing_bytes)
{
    buf b = {0};
    cr_assert_eq(buf_append(&b, "hdr", 3), 0);
    uint64_t h = key_hash(7);
    cr_assert_eq(bloom_build(&h, 1, 10, &b), 0);
    cr_assert_eq(b.len, 3 + 64 + 6);
    cr_assert_eq(memcmp(b.data, "hdr", 3), 0);
    cr_assert_eq(bloom_may_contain(b.data + 3, b.len - 3, h), 1);
    buf_free(&b);
}

Test(bloom, empty_filter_rejects_every_key)
{
    buf f = {0};
    cr_assert_eq(bloom_build(NULL, 0, 10, &f), 0);
    cr_assert_eq(f.len, 64 + 6);
    for (uint64_t i = 0; i < 1000; i++)
        cr_assert_eq(bloom_may_contain(f.data, f.len, key_hash(i)), 0);
    buf_free(&f);
}

/* Count of absent keys (out of 1000) a filter rejects. */
static int rejected(const uint8_t *f, size_t len)
{
    int r = 0;
    for (uint64_t i = 0; i < 1000; i++)
        r += !bloom_may_contain(f, len, key_hash(ABSENT_BASE + i));
    return r;
}

Test(bloom, corrupt_or_short_filter_answers_maybe)
{
    buf f = build_filter(1000, 10);
    cr_assert_gt(rejected(f.data, f.len), 900); /* the intact filter does reject */

    cr_assert_eq(rejected(NULL, 0), 0);
    cr_assert_eq(rejected(f.data, 0), 0);
    cr_assert_eq(rejected(f.data, 5), 0);
    cr_assert_eq(rejected(f.data + f.len - 6, 6), 0);   /* trailer alone, no blocks */
    cr_assert_eq(rejected(f.data, f.len - 1), 0);       /* truncated */
    cr_assert_eq(rejected(f.data + 64, f.len - 64), 0); /* a block lost at the front */

    uint8_t *t = f.data + f.len - 6;
    t[5] = 2; /* unknown format */
    cr_assert_eq(rejected(f.data, f.len), 0);
    t[5] = 1;
    t[4] = 0; /* k out of range */
    cr_assert_eq(rejected(f.data, f.len), 0);
    t[4] = 31;
    cr_assert_eq(rejected(f.data, f.len), 0);
    t[4] = 7;
    coding_put_fixed32(t, 21); /* block count disagrees with the length */
    cr_assert_eq(rejected(f.data, f.len), 0);
    coding_put_fixed32(t, 0);
    cr_assert_eq(rejected(f.data, f.len), 0);
    coding_put_fixed32(t, 20);
    cr_assert_gt(rejected(f.data, f.len), 900); /* restored */
    buf_free(&f);
}

Test(bloom, out_of_range_bits_per_key_is_clamped)
{
    buf lo = build_filter(1000, 0), hi = build_filter(1000, 500);
    cr_assert_eq(lo.len, 2 * 64 + 6);      /* 1 bit/key */
    cr_assert_eq(hi.len, 125 * 64 + 6);    /* 64 bits/key */
    cr_assert_eq(hi.data[hi.len - 2], 30); /* k capped at 30 */
    for (uint64_t i = 0; i < 1000; i++) {
        cr_assert_eq(bloom_may_contain(lo.data, lo.len, key_hash(i)), 1);
        cr_assert_eq(bloom_may_contain(hi.data, hi.len, key_hash(i)), 1);
    }
    buf_free(&lo);
    buf_free(&hi);
}

Test(bloom, parsed_reader_agrees_with_one_shot_probe)
{
    buf f = build_filter(5000, 10);
    bloom_reader r;
    cr_assert_eq(bloom_reader_init(&r, f.data, f.len), 0);
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t h = key_hash(i < 5000 ? i : ABSENT_BASE + i);
        cr_assert_eq(bloom_reader_may_contain(&r, h), bloom_may_contain(f.data, f.len, h));
    }
    buf_free(&f);
}

Test(bloom, reader_on_corrupt_filter_reports_and_answers_maybe)
{
    buf f = build_filter(1000, 10);
    f.data[f.len - 1] = 9; /* unknown format */
    bloom_reader r;
    cr_assert_eq(bloom_reader_init(&r, f.data, f.len), LAMINA_ECORRUPT);
    for (uint64_t i = 0; i < 1000; i++)
        cr_assert_eq(bloom_reader_may_contain(&r, key_hash(ABSENT_BASE + i)), 1);
    cr_assert_eq(bloom_reader_init(&r, NULL, 0), LAMINA_ECORRUPT);
    cr_assert_eq(bloom_reader_may_contain(&r, key_hash(1)), 1);
    buf_free(&f);
}
