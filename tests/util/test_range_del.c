/* test_range_del.c — the range tombstone fragmenter (util/range_del.h): fragments of
 * overlapping, nested, adjacent and empty ranges, and lookups checked against a brute-force
 * reading of the raw tombstones. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "lamina.h"
#include "util/range_del.h"

static range_del_list *build(const char *const (*r)[2], const uint64_t *seqs, size_t n)
{
    range_del_builder b;
    range_del_builder_init(&b);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(
            range_del_builder_add(&b, r[i][0], strlen(r[i][0]), r[i][1], strlen(r[i][1]), seqs[i]),
            0);
    range_del_list *l = NULL;
    cr_assert_eq(range_del_builder_finish(&b, &l), 0);
    range_del_builder_free(&b);
    cr_assert_not_null(l);
    return l;
}

static void expect_frag(const range_del_list *l, size_t i, const char *begin, const char *end,
                        const uint64_t *seqs, size_t nseqs)
{
    cr_assert_lt(i, l->n, "fragment %zu of %zu", i, l->n);
    const struct range_del_frag *f = &l->frags[i];
    cr_assert(f->begin_len == strlen(begin) && !memcmp(f->begin, begin, f->begin_len),
              "fragment %zu begins at %.*s, want %s", i, (int)f->begin_len, f->begin, begin);
    cr_assert(f->end_len == strlen(end) && !memcmp(f->end, end, f->end_len),
              "fragment %zu ends at %.*s, want %s", i, (int)f->end_len, f->end, end);
    cr_assert_eq(f->nseqs, nseqs, "fragment %zu has %zu seqs, want %zu", i, f->nseqs, nseqs);
    for (size_t s = 0; s < nseqs; s++)
        cr_assert_eq(f->seqs[s], seqs[s], "fragment %zu seq %zu", i, s);
}

Test(range_del, overlapping_ranges_split_into_fragments_with_every_covering_seq)
{
    const char *const r[][2] = {{"a", "e"}, {"c", "g"}};
    const uint64_t s[] = {5, 7};
    range_del_list *l = build(r, s, 2);
    cr_assert_eq(l->n, 3);
    expect_frag(l, 0, "a", "c", (uint64_t[]){5}, 1);
    expect_frag(l, 1, "c", "e", (uint64_t[]){7, 5}, 2);
    expect_frag(l, 2, "e", "g", (uint64_t[]){7}, 1);
    cr_assert_eq(l->ntombstones, 2);
    range_del_list_free(l);
}

Test(range_del, nested_range_cuts_the_outer_one_in_three)
{
    const char *const r[][2] = {{"m", "n"}, {"a", "z"}};
    const uint64_t s[] = {9, 3};
    range_del_list *l = build(r, s, 2);
    cr_assert_eq(l->n, 3);
    expect_frag(l, 0, "a", "m", (uint64_t[]){3}, 1);
    expect_frag(l, 1, "m", "n", (uint64_t[]){9, 3}, 2);
    expect_frag(l, 2, "n", "z", (uint64_t[]){3}, 1);
    range_del_list_free(l);
}

Test(range_del, adjacent_pieces_of_one_tombstone_join_and_duplicates_go)
{
    /* One tombstone split across two tables reads back as two pieces: one fragment again. */
    const char *const r[][2] = {{"a", "c"}, {"c", "e"}, {"a", "e"}};
    const uint64_t s[] = {4, 4, 4};
    range_del_list *l = build(r, s, 3);
    cr_assert_eq(l->n, 1);
    expect_frag(l, 0, "a", "e", (uint64_t[]){4}, 1);
    range_del_list_free(l);
}

Test(range_del, empty_ranges_are_skipped_and_the_empty_key_can_begin_one)
{
    const char *const r[][2] = {{"k", "k"}, {"q", "b"}, {"", "b"}};
    const uint64_t s[] = {1, 2, 3};
    range_del_list *l = build(r, s, 3);
    cr_assert_eq(l->n, 1);
    cr_assert_eq(l->ntombstones, 1);
    expect_frag(l, 0, "", "b", (uint64_t[]){3}, 1);
    cr_assert_eq(range_del_max_seq(l, "", 0, 10), 3);
    cr_assert_eq(range_del_max_seq(l, "a\xff", 2, 10), 3);
    cr_assert_eq(range_del_max_seq(l, "b", 1, 10), 0);
    range_del_list_free(l);
}

Test(range_del, lookups_see_begin_inclusive_end_exclusive_and_only_visible_seqs)
{
    const char *const r[][2] = {{"b", "d"}, {"c", "f"}};
    const uint64_t s[] = {10, 20};
    range_del_list *l = build(r, s, 2);
    cr_assert_eq(range_del_max_seq(l, "a", 1, 100), 0);
    cr_assert_eq(range_del_max_seq(l, "b", 1, 100), 10);
    cr_assert_eq(range_del_max_seq(l, "c", 1, 100), 20);
    cr_assert_eq(range_del_max_seq(l, "c", 1, 15), 10, "a reader at 15 does not see seq 20");
    cr_assert_eq(range_del_max_seq(l, "c", 1, 5), 0);
    cr_assert_eq(range_del_max_seq(l, "e", 1, 100), 20);
    cr_assert_eq(range_del_max_seq(l, "f", 1, 100), 0);
    cr_assert_null(range_del_find(l, "f", 1));
    cr_assert_null(range_del_find(NULL, "c", 1));
    range_del_list_free(l);
}

Test(range_del, nothing_added_gives_an_empty_list)
{
    range_del_builder b;
    range_del_builder_init(&b);
    range_del_list *l = NULL;
    cr_assert_eq(range_del_builder_finish(&b, &l), 0);
    cr_assert_eq(l->n, 0);
    cr_assert_eq(range_del_max_seq(l, "x", 1, 100), 0);
    range_del_list_free(l);
    range_del_builder_free(&b);
}

/* Random tombstones over two-byte keys: every key's answer at every read seq equals the
 * brute-force maximum over the raw tombstones, fragments are sorted and disjoint, and a list
 * rebuilt from a list's own fragments gives the same answers. */
Test(range_del, random_tombstones_match_a_brute_force_reading)
{
    uint64_t x = 12345;
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + round % 40;
        uint8_t lo[64][2], hi[64][2];
        uint64_t seq[64];
        range_del_builder b;
        range_del_builder_init(&b);
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            lo[i][0] = (uint8_t)(x >> 33) % 8;
            lo[i][1] = (uint8_t)(x >> 41) % 4;
            hi[i][0] = (uint8_t)(x >> 49) % 8;
            hi[i][1] = (uint8_t)(x >> 57) % 4;
            seq[i] = 1 + (x >> 20) % 50;
            cr_assert_eq(range_del_builder_add(&b, lo[i], 2, hi[i], 2, seq[i]), 0);
        }
        range_del_list *l = NULL, *again = NULL;
        cr_assert_eq(range_del_builder_finish(&b, &l), 0);
        cr_assert_eq(range_del_builder_add_list(&b, l), 0);
        cr_assert_eq(range_del_builder_finish(&b, &again), 0);
        range_del_builder_free(&b);
        for (size_t i = 0; i + 1 < l->n; i++)
            cr_assert(memcmp(l->frags[i].end, l->frags[i + 1].begin, 2) <= 0, "fragments overlap");
        for (int k0 = 0; k0 < 8; k0++)
            for (int k1 = 0; k1 < 4; k1++) {
                uint8_t k[2] = {(uint8_t)k0, (uint8_t)k1};
                for (uint64_t rs = 0; rs <= 51; rs += 3) {
                    uint64_t want = 0;
                    for (size_t i = 0; i < n; i++)
                        if (memcmp(lo[i], k, 2) <= 0 && memcmp(k, hi[i], 2) < 0 && seq[i] <= rs &&
                            seq[i] > want)
                            want = seq[i];
                    cr_assert_eq(range_del_max_seq(l, k, 2, rs), want, "round %d key %d.%d at %llu",
                                 round, k0, k1, (unsigned long long)rs);
                    cr_assert_eq(range_del_max_seq(again, k, 2, rs), want, "rebuilt list");
                }
            }
        range_del_list_free(l);
        range_del_list_free(again);
    }
}
