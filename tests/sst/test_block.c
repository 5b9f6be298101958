/* test_block.c — the data block format: entries round-trip through builder and iterator at
 * every restart interval (shared prefixes, empty values, NUL bytes in keys), seeks agree with
 * a reference, and damaged blocks are refused without reading past them. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "lamina.h"
#include "sst/block.h"
#include "util/rng.h"

/* Builds a block from the first n model entries. */
static void build_block(struct block_builder *bb, const struct model *m, size_t n, int interval)
{
    block_builder_init(bb, interval);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(block_builder_add(bb, m->e[i].ikey, m->e[i].ilen, m->e[i].val, m->e[i].vlen),
                     0);
    cr_assert_eq(block_builder_finish(bb), 0);
}

static void expect_at(const struct block_iter *it, const struct model *m, size_t i)
{
    cr_assert(block_iter_valid(it), "expected entry %zu, iterator not valid", i);
    cr_assert_eq(it->key_len, m->e[i].ilen, "entry %zu key length", i);
    cr_assert(memcmp(it->key, m->e[i].ikey, it->key_len) == 0, "entry %zu key", i);
    cr_assert_eq(it->val_len, m->e[i].vlen, "entry %zu value length", i);
    cr_assert(it->val_len == 0 || memcmp(it->val, m->e[i].val, it->val_len) == 0, "entry %zu value",
              i);
}

/* Parses the finished block of bb into b and points it, a fresh iterator, at b. */
static void open_block_iter(const struct block_builder *bb, struct block *b, struct block_iter *it)
{
    cr_assert_eq(block_parse(b, bb->data.data, bb->data.len), 0);
    block_iter_init(it);
    block_iter_reset(it, b, BLOCK_KEYS_INTERNAL, "mem", 0);
}

Test(block, entries_round_trip_at_every_restart_interval)
{
    struct model m;
    model_build(&m, 600, 1);
    int intervals[] = {1, 2, 3, 16, 100, 1000};
    for (size_t k = 0; k < sizeof(intervals) / sizeof(intervals[0]); k++) {
        struct block_builder bb;
        build_block(&bb, &m, m.n, intervals[k]);
        struct block b;
        struct block_iter it;
        open_block_iter(&bb, &b, &it);
        cr_assert_eq(b.nrestarts, (m.n + intervals[k] - 1) / intervals[k]);
        size_t i = 0;
        cr_assert_eq(block_iter_seek_to_first(&it), 0);
        while (block_iter_valid(&it)) {
            expect_at(&it, &m, i++);
            cr_assert_eq(block_iter_next(&it), 0);
        }
        cr_assert_eq(i, m.n);
        cr_assert_eq(block_iter_seek_to_last(&it), 0);
        while (block_iter_valid(&it)) {
            expect_at(&it, &m, --i);
            cr_assert_eq(block_iter_prev(&it), 0);
        }
        cr_assert_eq(i, 0);
        block_iter_free(&it);
        block_builder_free(&bb);
    }
    model_free(&m);
}

Test(block, shared_prefixes_shrink_the_block)
{
    struct model m;
    model_build(&m, 500, 2);
    struct block_builder b1, b16;
    build_block(&b1, &m, m.n, 1);
    build_block(&b16, &m, m.n, 16);
    cr_assert_lt(b16.data.len, b1.data.len * 3 / 4, "prefix compression saved too little");
    block_builder_free(&b1);
    block_builder_free(&b16);
    model_free(&m);
}

Test(block, seeks_agree_with_the_reference)
{
    struct model m;
    model_build(&m, 700, 3);
    rng r;
    rng_seed(&r, 3);
    int intervals[] = {1, 4, 16};
    for (size_t k = 0; k < 3; k++) {
        struct block_builder bb;
        build_block(&bb, &m, m.n, intervals[k]);
        struct block b;
        struct block_iter it;
        open_block_iter(&bb, &b, &it);
        for (int q = 0; q < 3000; q++) {
            uint8_t key[80];
            size_t len;
            char uk[64];
            size_t ulen = q % 2 ? model_user_key(uk, rng_uniform(&r, 400))
                                : model_absent_key(uk, rng_uniform(&r, 400));
            ikey_encode(key, uk, ulen, rng_uniform(&r, 1100000), IKEY_VALUE);
            len = ulen + IKEY_TRAILER;
            size_t lb = model_lower_bound(&m, key, len);
            cr_assert_eq(block_iter_seek(&it, key, len), 0);
            if (lb == m.n)
                cr_assert(!block_iter_valid(&it));
            else
                expect_at(&it, &m, lb);
            /* seek_for_prev: the last entry <= key. */
            size_t le =
                lb < m.n && ikey_cmp(m.e[lb].ikey, m.e[lb].ilen, key, len) == 0 ? lb + 1 : lb;
            cr_assert_eq(block_iter_seek_for_prev(&it, key, len), 0);
            if (le == 0)
                cr_assert(!block_iter_valid(&it));
            else
                expect_at(&it, &m, le - 1);
            /* Exact seeks to present entries. */
            size_t j = rng_uniform(&r, m.n);
            cr_assert_eq(block_iter_seek(&it, m.e[j].ikey, m.e[j].ilen), 0);
            expect_at(&it, &m, j);
            cr_assert_eq(block_iter_seek_for_prev(&it, m.e[j].ikey, m.e[j].ilen), 0);
            expect_at(&it, &m, j);
            if (j > 0) {
                cr_assert_eq(block_iter_prev(&it), 0);
                expect_at(&it, &m, j - 1);
            }
        }
        block_iter_free(&it);
        block_builder_free(&bb);
    }
    model_free(&m);
}

Test(block, nul_bytes_empty_values_and_long_keys_round_trip)
{
    struct block_builder bb;
    block_builder_init(&bb, 2);
    uint8_t keys[5][300];
    size_t lens[5] = {9, 10, 11, 200, 300};
    for (int i = 0; i < 5; i++) {
        memset(keys[i], 0, sizeof(keys[i]));
        keys[i][0] = (uint8_t)i; /* increasing, the rest NUL (trailer included) */
        cr_assert_eq(block_builder_add(&bb, keys[i], lens[i], "", 0), 0);
    }
    cr_assert_eq(block_builder_finish(&bb), 0);
    struct block b;
    struct block_iter it;
    open_block_iter(&bb, &b, &it);
    int i = 0;
    for (block_iter_seek_to_first(&it); block_iter_valid(&it); block_iter_next(&it), i++) {
        cr_assert_eq(it.key_len, lens[i]);
        cr_assert(memcmp(it.key, keys[i], lens[i]) == 0);
        cr_assert_eq(it.val_len, 0);
    }
    cr_assert_eq(i, 5);
    cr_assert_eq(block_iter_seek(&it, keys[4], lens[4]), 0);
    cr_assert_eq(it.key_len, 300, "a key longer than the inline buffer is kept whole");
    block_iter_free(&it);
    block_builder_free(&bb);
}

Test(block, empty_block_has_no_entries)
{
    struct block_builder bb;
    block_builder_init(&bb, 16);
    cr_assert_eq(block_builder_finish(&bb), 0);
    struct block b;
    struct block_iter it;
    open_block_iter(&bb, &b, &it);
    cr_assert_eq(block_iter_seek_to_first(&it), 0);
    cr_assert(!block_iter_valid(&it));
    cr_assert_eq(block_iter_seek_to_last(&it), 0);
    cr_assert(!block_iter_valid(&it));
    uint8_t k[8] = {0};
    cr_assert_eq(block_iter_seek(&it, k, 8), 0);
    cr_assert(!block_iter_valid(&it));
    block_iter_free(&it);
    block_builder_free(&bb);
}

Test(block, restart_array_that_does_not_fit_is_refused)
{
    uint8_t small[3] = {0};
    struct block b;
    cr_assert_eq(block_parse(&b, small, sizeof(small)), -1);
    uint8_t big[8];
    coding_put_fixed32(big + 4, 1000);
    cr_assert_eq(block_parse(&b, big, sizeof(big)), -1);
}

/* Every byte of a block overwritten with random values: moves either succeed or report
 * LAMINA_ECORRUPT, and (under ASan) never read outside the block's copy. */
Test(block, damaged_entries_are_reported_not_overrun)
{
    struct model m;
    model_build(&m, 120, 4);
    struct block_builder bb;
    build_block(&bb, &m, m.n, 4);
    rng r;
    rng_seed(&r, 4);
    size_t corrupt = 0;
    for (size_t pos = 0; pos < bb.data.len; pos++) {
        for (int t = 0; t < 3; t++) {
            uint8_t *copy = malloc(bb.data.len);
            memcpy(copy, bb.data.data, bb.data.len);
            copy[pos] = (uint8_t)rng_next(&r);
            struct block b;
            if (block_parse(&b, copy, bb.data.len)) {
                free(copy);
                continue;
            }
            struct block_iter it;
            block_iter_init(&it);
            block_iter_reset(&it, &b, BLOCK_KEYS_INTERNAL, "mem", 0);
            int rc = block_iter_seek_to_first(&it);
            for (int steps = 0; rc == 0 && block_iter_valid(&it) && steps < 1000; steps++)
                rc = block_iter_next(&it);
            cr_assert(rc == 0 || rc == LAMINA_ECORRUPT || rc == LAMINA_ENOMEM);
            int rc2 = block_iter_seek_to_last(&it);
            for (int steps = 0; rc2 == 0 && block_iter_valid(&it) && steps < 1000; steps++)
                rc2 = block_iter_prev(&it);
            if (!rc2) {
                block_iter_reset(&it, &b, BLOCK_KEYS_INTERNAL, "mem", 0);
                rc2 = block_iter_seek(&it, m.e[60].ikey, m.e[60].ilen);
            }
            corrupt += rc == LAMINA_ECORRUPT || rc2 == LAMINA_ECORRUPT;
            block_iter_free(&it);
            free(copy);
        }
    }
    cr_assert_gt(corrupt, 0, "some damage must be detected");
    block_builder_free(&bb);
    model_free(&m);
}
