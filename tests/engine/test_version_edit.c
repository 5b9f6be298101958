/* test_version_edit.c — MANIFEST records: every field round trips (the WAL-tracking, identity
 * and skipped-number fields too), safe tags are skipped, the new fields are ones an older
 * reader skips, unknown tags and damaged records are refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/version_edit.h"
#include "util/err.h"

static void make_key(uint8_t *k, const char *user, uint64_t seq)
{
    size_t n = strlen(user);
    memcpy(k, user, n);
    coding_put_fixed64(k + n, seq << 8 | 1);
}

static void full_edit(struct version_edit *e)
{
    version_edit_init(e);
    e->has_log_number = 1;
    e->log_number = 12;
    e->has_next_file = 1;
    e->next_file_number = 300;
    e->has_last_seq = 1;
    e->last_sequence = (UINT64_C(1) << 56) - 1;
    e->has_next_run = 1;
    e->next_run = 77;
    cr_assert_eq(version_edit_delete_file(e, 0, 5), 0);
    cr_assert_eq(version_edit_delete_file(e, 3, UINT64_MAX), 0);
    for (int i = 0; i < 5; i++) {
        uint8_t lo[64], hi[64];
        char a[48], b[48];
        snprintf(a, sizeof(a), "apple%d", i);
        snprintf(b, sizeof(b), "zebra%d-with-a-longer-key", i);
        make_key(lo, a, 100 + (uint64_t)i);
        make_key(hi, b, 200 + (uint64_t)i);
        struct edit_file f = {
            .level = i,
            .run = 1000 + (uint64_t)i,
            .file_number = 40 + (uint64_t)i,
            .file_size = (uint64_t)1 << (20 + i),
            .entries = 12345 * (uint64_t)i,
            .smallest = lo,
            .smallest_len = strlen(a) + 8,
            .largest = hi,
            .largest_len = strlen(b) + 8,
            .smallest_seq = 100 + (uint64_t)i,
            .largest_seq = 200 + (uint64_t)i,
            .range_dels = i % 2, /* every other table holds range tombstones (tag 7) */
        };
        cr_assert_eq(version_edit_add_file(e, &f), 0);
    }
}

static void assert_edits_equal(const struct version_edit *a, const struct version_edit *b)
{
    cr_assert_eq(a->has_log_number, b->has_log_number);
    cr_assert_eq(a->log_number, b->log_number);
    cr_assert_eq(a->has_next_file, b->has_next_file);
    cr_assert_eq(a->next_file_number, b->next_file_number);
    cr_assert_eq(a->has_last_seq, b->has_last_seq);
    cr_assert_eq(a->last_sequence, b->last_sequence);
    cr_assert_eq(a->has_next_run, b->has_next_run);
    cr_assert_eq(a->next_run, b->next_run);
    cr_assert_eq(a->ndeleted, b->ndeleted);
    for (size_t i = 0; i < a->ndeleted; i++) {
        cr_assert_eq(a->deleted[i].level, b->deleted[i].level);
        cr_assert_eq(a->deleted[i].file_number, b->deleted[i].file_number);
    }
    cr_assert_eq(a->nadded, b->nadded);
    for (size_t i = 0; i < a->nadded; i++) {
        const struct edit_file *x = &a->added[i], *y = &b->added[i];
        cr_assert_eq(x->range_dels, y->range_dels);
        cr_assert_eq(x->level, y->level);
        cr_assert_eq(x->run, y->run);
        cr_assert_eq(x->file_number, y->file_number);
        cr_assert_eq(x->file_size, y->file_size);
        cr_assert_eq(x->entries, y->entries);
        cr_assert_eq(x->smallest_len, y->smallest_len);
        cr_assert_eq(memcmp(x->smallest, y->smallest, x->smallest_len), 0);
        cr_assert_eq(x->largest_len, y->largest_len);
        cr_assert_eq(memcmp(x->largest, y->largest, x->largest_len), 0);
        cr_assert_eq(x->smallest_seq, y->smallest_seq);
        cr_assert_eq(x->largest_seq, y->largest_seq);
    }
    cr_assert_eq(a->has_identity, b->has_identity);
    cr_assert_eq(a->wals_tracked, b->wals_tracked);
    cr_assert_eq(a->nwals_added, b->nwals_added);
    for (size_t i = 0; i < a->nwals_added; i++)
        cr_assert_eq(a->wals_added[i], b->wals_added[i]);
    cr_assert_eq(a->nskipped, b->nskipped);
    for (size_t i = 0; i < a->nskipped; i++)
        cr_assert_eq(a->skipped[i], b->skipped[i]);
}

/* The fields of a snapshot beyond full_edit's: identity, WALs tracked, WALs, skipped numbers. */
static void snapshot_fields(struct version_edit *e)
{
    e->has_identity = 1;
    e->wals_tracked = 1;
    const uint64_t wals[] = {7, 300, UINT64_MAX, 0};
    for (size_t i = 0; i < sizeof(wals) / sizeof(wals[0]); i++)
        cr_assert_eq(version_edit_add_wal(e, wals[i]), 0);
    cr_assert_eq(version_edit_add_skipped(e, 20240101), 0);
    cr_assert_eq(version_edit_add_skipped(e, 777), 0);
}

Test(version_edit, every_field_round_trips)
{
    struct version_edit e, d;
    buf out = {0};
    full_edit(&e);
    cr_assert_eq(version_edit_encode(&e, &out), 0);
    cr_assert_eq(version_edit_decode(&d, out.data, out.len), 0, "%s", err_message());
    assert_edits_equal(&e, &d);
    version_edit_free(&e);
    version_edit_free(&d);
    buf_free(&out);
}

Test(version_edit, empty_edit_round_trips)
{
    struct version_edit e, d;
    buf out = {0};
    version_edit_init(&e);
    cr_assert_eq(version_edit_encode(&e, &out), 0);
    cr_assert_eq(out.len, 0);
    cr_assert_eq(version_edit_decode(&d, out.data, 0), 0);
    assert_edits_equal(&e, &d);
    version_edit_free(&d);
}

Test(version_edit, wal_identity_and_skipped_fields_round_trip)
{
    struct version_edit e, d;
    buf out = {0};
    full_edit(&e);
    snapshot_fields(&e);
    cr_assert_eq(version_edit_encode(&e, &out), 0);
    cr_assert_eq(version_edit_decode(&d, out.data, out.len), 0, "%s", err_message());
    assert_edits_equal(&e, &d);
    version_edit_free(&e);
    version_edit_free(&d);
    buf_free(&out);
}

/* An older reader knows tags 1..6 and skips any tag >= 64 by its length: the new fields must
 * all be such tags, each payload exactly as long as it says. */
Test(version_edit, new_fields_are_safe_tags_an_older_reader_skips)
{
    struct version_edit e;
    buf out = {0};
    version_edit_init(&e);
    snapshot_fields(&e);
    cr_assert_eq(version_edit_encode(&e, &out), 0);
    const uint8_t *p = out.data, *end = out.data + out.len;
    int fields = 0;
    while (p < end) {
        uint64_t tag, len;
        p = coding_get_varint64(p, end, &tag);
        cr_assert_not_null(p);
        cr_assert_geq(tag, 64, "tag %llu is not safe to ignore", (unsigned long long)tag);
        p = coding_get_varint64(p, end, &len);
        cr_assert(p && len <= (uint64_t)(end - p));
        p += len;
        fields++;
    }
    cr_assert_eq(fields, 2 + 4 + 2, "identity, tracked, 4 WALs, 2 skipped numbers");
    /* The identity is the ASCII bytes "lamina". */
    cr_assert_eq(memcmp(out.data, "\x40\x06lamina", 8), 0);
    version_edit_free(&e);
    buf_free(&out);
}

Test(version_edit, malformed_known_safe_fields_are_refused)
{
    struct version_edit d;
    const uint8_t rocks[] = {64, 7, 'r', 'o', 'c', 'k', 's', 'd', 'b'};
    cr_assert_eq(version_edit_decode(&d, rocks, sizeof(rocks)), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(err_message(), "identity"), "%s", err_message());
    const uint8_t two_numbers[] = {65, 2, 5, 6};
    cr_assert_eq(version_edit_decode(&d, two_numbers, sizeof(two_numbers)), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(err_message(), "added WAL number"), "%s", err_message());
    const uint8_t cut[] = {67, 1, 0x80};
    cr_assert_eq(version_edit_decode(&d, cut, sizeof(cut)), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(err_message(), "skipped number"), "%s", err_message());
    const uint8_t tracked[] = {66, 1, 0};
    cr_assert_eq(version_edit_decode(&d, tracked, sizeof(tracked)), LAMINA_ECORRUPT);
    const uint8_t past_end[] = {65, 5, 1};
    cr_assert_eq(version_edit_decode(&d, past_end, sizeof(past_end)), LAMINA_ECORRUPT);
    cr_assert_eq(d.nwals_added, 0);
}

Test(version_edit, unknown_safe_tag_is_skipped)
{
    struct version_edit a, b, d;
    buf out = {0};
    version_edit_init(&a);
    a.has_log_number = 1;
    a.log_number = 9;
    cr_assert_eq(version_edit_encode(&a, &out), 0);
    /* A field from a newer writer: tag 70, 3 bytes. */
    const uint8_t safe[] = {70, 3, 0xde, 0xad, 0xbe};
    cr_assert_eq(buf_append(&out, safe, sizeof(safe)), 0);
    full_edit(&b);
    b.has_log_number = 0;
    cr_assert_eq(version_edit_encode(&b, &out), 0);
    cr_assert_eq(version_edit_decode(&d, out.data, out.len), 0, "%s", err_message());
    b.has_log_number = 1;
    b.log_number = 9;
    assert_edits_equal(&b, &d);
    version_edit_free(&b);
    version_edit_free(&d);
    buf_free(&out);
}

Test(version_edit, safe_tag_longer_than_the_record_is_refused)
{
    struct version_edit d;
    const uint8_t rec[] = {200, 1, 10, 1, 2};
    cr_assert_eq(version_edit_decode(&d, rec, sizeof(rec)), LAMINA_ECORRUPT);
    cr_assert_eq(d.nadded, 0);
}

Test(version_edit, unknown_unsafe_tag_is_refused)
{
    struct version_edit d;
    const uint8_t rec[] = {1, 5, 8, 1};
    cr_assert_eq(version_edit_decode(&d, rec, sizeof(rec)), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(err_message(), "unknown version edit tag 8"), "%s", err_message());
    /* tag 7 (range-deletion table) must name a table the record added */
    const uint8_t rec7[] = {1, 5, 7, 1};
    cr_assert_eq(version_edit_decode(&d, rec7, sizeof(rec7)), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(err_message(), "range-deletion table"), "%s", err_message());
    const uint8_t rec63[] = {63, 0};
    cr_assert_eq(version_edit_decode(&d, rec63, sizeof(rec63)), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(err_message(), "unknown version edit tag 63"));
}

/* Every prefix of a record either fails, or is a whole number of fields and decodes to exactly
 * those fields (so re-encoding gives the prefix back). */
Test(version_edit, truncated_edits_are_refused)
{
    struct version_edit e, d;
    buf out = {0}, again = {0};
    full_edit(&e);
    cr_assert_eq(version_edit_encode(&e, &out), 0);
    size_t whole = 0;
    for (size_t n = 0; n < out.len; n++) {
        int rc = version_edit_decode(&d, out.data, n);
        if (rc == 0) {
            buf_clear(&again);
            cr_assert_eq(version_edit_encode(&d, &again), 0);
            cr_assert_eq(again.len, n, "prefix %zu decoded as %zu bytes", n, again.len);
            cr_assert(n == 0 || memcmp(again.data, out.data, n) == 0);
            whole++;
        } else {
            cr_assert_eq(rc, LAMINA_ECORRUPT);
            cr_assert_eq(d.nadded, 0);
            cr_assert_null(d.added);
        }
        version_edit_free(&d);
    }
    /* Empty + after each of 4 numbers and 2 deletions + after the first 4 added files, and
     * after the tag 7 of the two of them that hold range tombstones (files 1 and 3). */
    cr_assert_eq(whole, 1 + 4 + 2 + 4 + 2);
    version_edit_free(&e);
    buf_free(&out);
    buf_free(&again);
}

Test(version_edit, fields_out_of_bounds_are_refused)
{
    struct version_edit d;
    /* Deleted file at level 64. */
    const uint8_t lvl[] = {5, 64, 1};
    cr_assert_eq(version_edit_decode(&d, lvl, sizeof(lvl)), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(err_message(), "deleted file level"), "%s", err_message());
    /* Added file whose smallest key is shorter than an internal key's trailer. */
    const uint8_t shortkey[] = {6, 1, 1, 2, 3, 4, 3, 'a', 'b', 'c', 0, 0, 0};
    cr_assert_eq(version_edit_decode(&d, shortkey, sizeof(shortkey)), LAMINA_ECORRUPT);
    cr_assert_not_null(strstr(err_message(), "smallest key"), "%s", err_message());
    /* A key length past the end of the record. */
    const uint8_t longkey[] = {6, 1, 1, 2, 3, 4, 100, 'a'};
    cr_assert_eq(version_edit_decode(&d, longkey, sizeof(longkey)), LAMINA_ECORRUPT);
    /* A varint that never ends. */
    const uint8_t endless[] = {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1};
    cr_assert_eq(version_edit_decode(&d, endless, sizeof(endless)), LAMINA_ECORRUPT);
    /* A last sequence above 56 bits. */
    uint8_t seq[16] = {3};
    size_t n = 1 + coding_put_varint64(seq + 1, UINT64_C(1) << 56);
    cr_assert_eq(version_edit_decode(&d, seq, n), LAMINA_ECORRUPT);
}

Test(version_edit, random_damage_never_reads_out_of_bounds)
{
    struct version_edit e, d;
    buf out = {0};
    full_edit(&e);
    snapshot_fields(&e);
    cr_assert_eq(version_edit_encode(&e, &out), 0);
    uint8_t *copy = malloc(out.len);
    uint32_t x = 5;
    for (int round = 0; round < 3000; round++) {
        memcpy(copy, out.data, out.len);
        for (int k = 0; k < 1 + round % 4; k++) {
            x = x * 1103515245u + 12345u;
            copy[(x >> 8) % out.len] ^= (uint8_t)(1u << (x % 8));
        }
        x = x * 1103515245u + 12345u;
        size_t n = out.len - (round % 2 ? 0 : (x >> 8) % out.len);
        int rc = version_edit_decode(&d, copy, n);
        cr_assert(rc == 0 || rc == LAMINA_ECORRUPT, "round %d: rc %d", round, rc);
        if (rc) cr_assert(d.nwals_added == 0 && d.wals_added == NULL);
        version_edit_free(&d);
    }
    free(copy);
    version_edit_free(&e);
    buf_free(&out);
}
