/* Tests of util/coding.h: varints, fixed widths, length-prefixed bytes and buf growth. */
#include <criterion/criterion.h>

#include "lamina.h"
#include "util/coding.h"
#include "util/rng.h"

static const uint64_t edge_values[] = {
    0,
    1,
    127,
    128,
    255,
    256,
    16383,
    16384,
    (1u << 21) - 1,
    1u << 21,
    UINT32_MAX - 1,
    UINT32_MAX,
    (uint64_t)UINT32_MAX + 1,
    (UINT64_C(1) << 56) - 1,
    UINT64_C(1) << 63,
    UINT64_MAX - 1,
    UINT64_MAX,
};

Test(coding, varint64_round_trips_edge_and_random_values)
{
    uint8_t b[10];
    rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < 10000; i++) {
        uint64_t v;
        if (i < sizeof(edge_values) / sizeof(edge_values[0]))
            v = edge_values[i];
        else
            v = rng_next(&r) >> rng_uniform(&r, 64);
        size_t n = coding_put_varint64(b, v);
        cr_assert_eq(n, coding_varint_len(v));
        cr_assert(n >= 1 && n <= 10);
        uint64_t got = ~v;
        const uint8_t *end = coding_get_varint64(b, b + n, &got);
        cr_assert_eq(end, b + n);
        cr_assert_eq(got, v, "value %llu", (unsigned long long)v);
    }
}

Test(coding, truncated_varint_is_rejected)
{
    uint8_t b[10];
    for (size_t i = 0; i < sizeof(edge_values) / sizeof(edge_values[0]); i++) {
        size_t n = coding_put_varint64(b, edge_values[i]);
        uint64_t v;
        for (size_t cut = 0; cut < n; cut++)
            cr_assert_null(coding_get_varint64(b, b + cut, &v), "cut %zu of %zu", cut, n);
    }
}

Test(coding, overlong_varint_is_rejected)
{
    uint8_t b[12];
    memset(b, 0x80, sizeof(b));
    b[11] = 0x01;
    uint64_t v;
    cr_assert_null(coding_get_varint64(b, b + sizeof(b), &v));
}

Test(coding, varint32_rejects_values_above_32_bits)
{
    uint8_t b[10];
    uint32_t v;
    size_t n = coding_put_varint64(b, UINT32_MAX);
    cr_assert_eq(coding_get_varint32(b, b + n, &v), b + n);
    cr_assert_eq(v, UINT32_MAX);
    n = coding_put_varint64(b, (uint64_t)UINT32_MAX + 1);
    cr_assert_null(coding_get_varint32(b, b + n, &v));
}

Test(coding, fixed_widths_are_little_endian_and_be64_big_endian)
{
    uint8_t b[8];
    coding_put_fixed32(b, 0x04030201u);
    cr_assert(b[0] == 1 && b[1] == 2 && b[2] == 3 && b[3] == 4);
    cr_assert_eq(coding_get_fixed32(b), 0x04030201u);
    coding_put_fixed64(b, UINT64_C(0x0807060504030201));
    cr_assert(b[0] == 1 && b[7] == 8);
    cr_assert_eq(coding_get_fixed64(b), UINT64_C(0x0807060504030201));
    coding_put_be64(b, UINT64_C(0x0102030405060708));
    cr_assert(b[0] == 1 && b[7] == 8);
    cr_assert_eq(coding_get_be64(b), UINT64_C(0x0102030405060708));
}

Test(coding, buf_grows_by_doubling_and_keeps_contents)
{
    buf b = {0};
    size_t prev_cap = 0, growths = 0;
    for (uint32_t i = 0; i < 100000; i++) {
        cr_assert_eq(buf_append_fixed32(&b, i), 0);
        if (b.cap != prev_cap) {
            if (prev_cap) cr_assert_eq(b.cap, prev_cap * 2);
            prev_cap = b.cap;
            growths++;
        }
    }
    cr_assert_eq(b.len, 400000u);
    cr_assert(growths < 20, "%zu growths", growths);
    for (uint32_t i = 0; i < 100000; i++)
        cr_assert_eq(coding_get_fixed32(b.data + 4 * i), i);
    buf_clear(&b);
    cr_assert_eq(b.len, 0u);
    cr_assert_eq(b.cap, prev_cap);
    buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.cap, 0u);
}

Test(coding, buf_reserve_beyond_address_space_is_enomem)
{
    buf b = {0};
    cr_assert_eq(buf_append(&b, "x", 1), 0);
    cr_assert_eq(buf_reserve(&b, SIZE_MAX), LAMINA_ENOMEM);
    cr_assert_eq(b.len, 1u);
    buf_free(&b);
}

Test(coding, buf_records_decode_in_order)
{
    buf b = {0};
    cr_assert_eq(buf_append_varint(&b, 300), 0);
    cr_assert_eq(buf_append_lenbytes(&b, "hello", 5), 0);
    cr_assert_eq(buf_append_lenbytes(&b, NULL, 0), 0);
    cr_assert_eq(buf_append_fixed64(&b, UINT64_MAX), 0);
    cr_assert_eq(buf_append(&b, "\0z", 2), 0);

    const uint8_t *p = b.data, *end = b.data + b.len, *s = NULL;
    uint64_t v;
    size_t n;
    p = coding_get_varint64(p, end, &v);
    cr_assert(p && v == 300);
    cr_assert_eq(coding_get_lenbytes(&p, end, &s, &n), 0);
    cr_assert(n == 5 && memcmp(s, "hello", 5) == 0);
    cr_assert_eq(coding_get_lenbytes(&p, end, &s, &n), 0);
    cr_assert_eq(n, 0u);
    cr_assert_eq(coding_get_fixed64(p), UINT64_MAX);
    p += 8;
    cr_assert(end - p == 2 && p[0] == 0 && p[1] == 'z');
    buf_free(&b);
}

Test(coding, lenbytes_longer_than_input_is_rejected)
{
    buf b = {0};
    cr_assert_eq(buf_append_lenbytes(&b, "hello", 5), 0);
    for (size_t cut = 0; cut < b.len; cut++) {
        const uint8_t *p = b.data, *s;
        size_t n;
        cr_assert_eq(coding_get_lenbytes(&p, b.data + cut, &s, &n), -1, "cut %zu", cut);
        cr_assert_eq(p, b.data);
    }
    buf_free(&b);
}
