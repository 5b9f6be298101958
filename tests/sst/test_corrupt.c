/* test_corrupt.c — damage is reported, never served or overrun: a bit flip anywhere in a data
 * block fails get, iterator and verify with LAMINA_ECORRUPT naming file and offset; truncated
 * and foreign files fail table_open with a clear message; a valid block copied to another
 * offset or file fails its checksum. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "lamina.h"
#include "sst/btree.h"
#include "sst/index.h"
#include "sst/format.h"
#include "util/err.h"

static char *g_dir;
static struct model g_model;

static void setup(void)
{
    g_dir = tmpdir_create();
    model_build(&g_model, 400, 9);
}

static void teardown(void)
{
    model_free(&g_model);
    tmpdir_remove(g_dir);
}

TestSuite(corrupt, .init = setup, .fini = teardown, .timeout = 300);

/* The handle of the table's data block number idx, found through its index. */
static struct block_handle data_block(const char *path, uint64_t number, int idx)
{
    table *t;
    cr_assert_eq(table_open(path, number, NULL, 0, &t), 0, "%s", err_message());
    struct index_file x;
    index_file_open(&x, path, number);
    struct index_cursor c;
    index_cursor_init(&c, &x.r, 0);
    cr_assert_eq(index_cursor_seek_to_first(&c), 0);
    for (int i = 0; i < idx; i++)
        cr_assert_eq(index_cursor_next(&c), 0);
    cr_assert(c.valid);
    struct block_handle h = index_cursor_handle(&c);
    index_cursor_release(&c);
    index_file_close(&x);
    table_unref(t);
    return h;
}

static struct block_handle first_data_block(const char *path, uint64_t number)
{
    return data_block(path, number, 0);
}

static void write_model(const char *name, uint64_t number, int compression, size_t block_size,
                        char *path)
{
    struct table_options o = test_table_options(block_size, compression, 10);
    snprintf(path, 4096, "%s", path_join(g_dir, name));
    struct table_meta meta;
    model_write_table(&g_model, path, number, &o, &meta);
    table_meta_free(&meta);
}

static void expect_corrupt_message(const char *path, uint64_t offset)
{
    char want[64];
    snprintf(want, sizeof(want), "offset %llu", (unsigned long long)offset);
    cr_assert(strstr(err_message(), path), "message names the file: %s", err_message());
    cr_assert(strstr(err_message(), want), "message names offset %llu: %s",
              (unsigned long long)offset, err_message());
}

/* table_verify fails with LAMINA_ECORRUPT, naming path and the damaged block's offset. */
static void expect_verify_corrupt(table *t, const char *path, uint64_t offset)
{
    uint64_t n;
    cr_assert_eq(table_verify(t, &n), LAMINA_ECORRUPT);
    expect_corrupt_message(path, offset);
}

/* Writes orig (len bytes) to bad with the byte at pos XORed with mask; orig is left as it was. */
static void spit_flipped(const char *bad, uint8_t *orig, size_t len, uint64_t pos, uint8_t mask)
{
    orig[pos] ^= mask;
    file_spit(bad, orig, len);
    orig[pos] ^= mask;
}

static void bit_flips_in_first_block(int compression)
{
    char path[4096], bad[4096];
    write_model("000021.sst", 21, compression, 512, path);
    snprintf(bad, sizeof(bad), "%s", path_join(g_dir, "000021.bad"));
    struct block_handle h = first_data_block(path, 21);
    size_t len;
    uint8_t *orig = file_slurp(path, &len);
    struct table_read_options ro = {.verify_checksums = 1, .fill_cache = 0};
    buf v = {0};
    /* Every byte of the stored block, trailer included, one bit each. */
    for (uint64_t pos = h.offset; pos < h.offset + h.size + BLOCK_TRAILER_SIZE; pos++) {
        spit_flipped(bad, orig, len, pos, (uint8_t)(1u << (pos % 8)));
        table *t;
        cr_assert_eq(table_open(bad, 21, NULL, 0, &t), 0, "data blocks are not read at open");
        int type;
        cr_assert_eq(table_get_key(t, &ro, g_model.e[0].ikey, g_model.e[0].ilen, &type, &v),
                     LAMINA_ECORRUPT, "get, flip at %llu", (unsigned long long)pos);
        expect_corrupt_message(bad, h.offset);
        iter *it = table_iter_create(t, &ro);
        cr_assert_eq(iter_seek_to_first(it), LAMINA_ECORRUPT);
        cr_assert(!iter_valid(it));
        cr_assert_eq(iter_status(it), LAMINA_ECORRUPT);
        iter_destroy(it);
        uint64_t n;
        cr_assert_eq(table_verify(t, &n), LAMINA_ECORRUPT, "verify, flip at %llu",
                     (unsigned long long)pos);
        expect_corrupt_message(bad, h.offset);
        table_unref(t);
    }
    buf_free(&v);
    free(orig);
}

/* A block in the middle: flips at every 7th byte; a scan and verify stop there, and the
 * gets of the keys it holds fail. */
static void bit_flips_in_middle_block(int compression)
{
    char path[4096], bad[4096];
    write_model("000031.sst", 31, compression, 512, path);
    snprintf(bad, sizeof(bad), "%s", path_join(g_dir, "000031.bad"));
    struct block_handle h = data_block(path, 31, 5);
    size_t len;
    uint8_t *orig = file_slurp(path, &len);
    struct table_read_options ro = {.verify_checksums = 1, .fill_cache = 0};
    buf v = {0};
    for (uint64_t pos = h.offset; pos < h.offset + h.size + BLOCK_TRAILER_SIZE; pos += 7) {
        spit_flipped(bad, orig, len, pos, (uint8_t)(0x80u >> (pos % 8)));
        table *t;
        cr_assert_eq(table_open(bad, 31, NULL, 0, &t), 0);
        iter *it = table_iter_create(t, &ro);
        int rc = iter_seek_to_first(it);
        while (rc == 0 && iter_valid(it))
            rc = iter_next(it);
        cr_assert_eq(rc, LAMINA_ECORRUPT, "scan, flip at %llu", (unsigned long long)pos);
        expect_corrupt_message(bad, h.offset);
        rc = iter_seek_to_last(it);
        while (rc == 0 && iter_valid(it))
            rc = iter_prev(it);
        cr_assert_eq(rc, LAMINA_ECORRUPT, "reverse scan, flip at %llu", (unsigned long long)pos);
        iter_destroy(it);
        size_t bad_gets = 0;
        for (size_t i = 0; i < g_model.n; i++) {
            int type;
            rc = table_get_key(t, &ro, g_model.e[i].ikey, g_model.e[i].ilen, &type, &v);
            cr_assert(rc == 0 || rc == LAMINA_ECORRUPT);
            bad_gets += rc == LAMINA_ECORRUPT;
        }
        cr_assert_gt(bad_gets, 0, "gets into the damaged block fail");
        expect_verify_corrupt(t, bad, h.offset);
        table_unref(t);
    }
    buf_free(&v);
    free(orig);
}

Test(corrupt, bit_flip_in_a_middle_block_is_caught_by_scans_gets_and_verify)
{
    bit_flips_in_middle_block(LAMINA_COMPRESSION_NONE);
    bit_flips_in_middle_block(LAMINA_COMPRESSION_ZSTD);
}

Test(corrupt, bit_flip_anywhere_in_an_uncompressed_data_block_is_caught)
{
    bit_flips_in_first_block(LAMINA_COMPRESSION_NONE);
}

Test(corrupt, bit_flip_anywhere_in_a_zstd_data_block_is_caught)
{
    bit_flips_in_first_block(LAMINA_COMPRESSION_ZSTD);
}

/* Without checksum verification damage may go unnoticed, but every read stays inside the
 * block (ASan watches) and answers with a status. */
Test(corrupt, unverified_reads_of_damaged_blocks_stay_in_bounds)
{
    int comps[] = {LAMINA_COMPRESSION_NONE, LAMINA_COMPRESSION_ZSTD};
    for (int c = 0; c < 2; c++) {
        char path[4096], bad[4096];
        write_model("000022.sst", 22, comps[c], 512, path);
        snprintf(bad, sizeof(bad), "%s", path_join(g_dir, "000022.bad"));
        struct block_handle h = first_data_block(path, 22);
        size_t len;
        uint8_t *orig = file_slurp(path, &len);
        struct table_read_options ro = {.verify_checksums = 0, .fill_cache = 0};
        buf v = {0};
        for (uint64_t pos = h.offset; pos < h.offset + h.size; pos++) {
            uint8_t saved = orig[pos];
            orig[pos] = (uint8_t)(saved * 7 + 0x5b);
            file_spit(bad, orig, len);
            orig[pos] = saved;
            table *t;
            cr_assert_eq(table_open(bad, 22, NULL, 0, &t), 0);
            int type;
            for (size_t i = 0; i < 40; i++) {
                int rc = table_get_key(t, &ro, g_model.e[i].ikey, g_model.e[i].ilen, &type, &v);
                cr_assert(rc == 0 || rc == LAMINA_NOTFOUND || rc == LAMINA_ECORRUPT);
            }
            iter *it = table_iter_create(t, &ro);
            int steps = 0;
            for (iter_seek_to_first(it); iter_valid(it) && steps < 100; iter_next(it))
                steps++;
            for (iter_seek_to_last(it); iter_valid(it) && steps < 1000; iter_prev(it))
                steps++;
            iter_destroy(it);
            table_unref(t);
        }
        buf_free(&v);
        free(orig);
    }
}

Test(corrupt, truncated_table_is_refused_at_open)
{
    char path[4096], bad[4096];
    write_model("000023.sst", 23, LAMINA_COMPRESSION_ZSTD, 4096, path);
    snprintf(bad, sizeof(bad), "%s", path_join(g_dir, "000023.bad"));
    size_t len;
    uint8_t *orig = file_slurp(path, &len);
    size_t cuts[] = {0, 1, 10, TABLE_FOOTER_SIZE - 1, TABLE_FOOTER_SIZE, len / 2, len - 8, len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        file_spit(bad, orig, cuts[i]);
        table *t = (table *)1;
        cr_assert_eq(table_open(bad, 23, NULL, 0, &t), LAMINA_ECORRUPT, "cut at %zu", cuts[i]);
        cr_assert_null(t);
        cr_assert(strstr(err_message(), bad) && strstr(err_message(), "not a Lamina table"),
                  "cut at %zu: %s", cuts[i], err_message());
    }
    free(orig);
}

Test(corrupt, foreign_file_is_not_a_lamina_table)
{
    const char *text = "This is a plain text file, long enough to hold a footer's worth of "
                       "bytes, but it is certainly not a Lamina table at all.\n";
    char bad[4096];
    snprintf(bad, sizeof(bad), "%s", path_join(g_dir, "000024.sst"));
    file_spit(bad, (const uint8_t *)text, strlen(text));
    table *t;
    cr_assert_eq(table_open(bad, 24, NULL, 0, &t), LAMINA_ECORRUPT);
    char want[4200];
    snprintf(want, sizeof(want), "%s: not a Lamina table (bad magic) (footer at offset %zu)", bad,
             strlen(text) - TABLE_FOOTER_SIZE);
    cr_assert_str_eq(err_message(), want);
}

Test(corrupt, damaged_footer_fails_its_checksum)
{
    char path[4096];
    write_model("000025.sst", 25, LAMINA_COMPRESSION_NONE, 4096, path);
    size_t len;
    uint8_t *p = file_slurp(path, &len);
    p[len - TABLE_FOOTER_SIZE + 3] ^= 0x10; /* the filter handle's offset */
    file_spit(path, p, len);
    free(p);
    table *t;
    cr_assert_eq(table_open(path, 25, NULL, 0, &t), LAMINA_ECORRUPT);
    cr_assert(strstr(err_message(), "footer checksum"), "%s", err_message());
}

Test(corrupt, table_opened_under_another_file_number_is_refused)
{
    char path[4096];
    write_model("000026.sst", 26, LAMINA_COMPRESSION_NONE, 4096, path);
    table *t;
    cr_assert_eq(table_open(path, 27, NULL, 0, &t), LAMINA_ECORRUPT);
    cr_assert(strstr(err_message(), "file 26"), "%s", err_message());
}

/* Fixed-size entries and restart interval 1 make every data block the same size, so one
 * block can be pasted over another: a block valid elsewhere fails here. */
Test(corrupt, block_copied_to_another_offset_fails_its_checksum)
{
    struct model m = {0};
    m.n = 200;
    m.e = calloc(m.n, sizeof(*m.e));
    for (size_t i = 0; i < m.n; i++) {
        char uk[32];
        sprintf(uk, "k%06zu", i);
        m.e[i].ilen = 7 + 8;
        m.e[i].ikey = malloc(m.e[i].ilen);
        ikey_encode(m.e[i].ikey, uk, 7, 100 + i, IKEY_VALUE);
        m.e[i].vlen = 40;
        m.e[i].val = malloc(40);
        memset(m.e[i].val, (int)i, 40);
    }
    struct table_options o = test_table_options(512, LAMINA_COMPRESSION_NONE, 10);
    o.restart_interval = 1;
    o.index_type = LAMINA_INDEX_BTREE; /* this test damages the B-tree's inner blocks */
    char path[4096];
    snprintf(path, sizeof(path), "%s", path_join(g_dir, "000028.sst"));
    struct table_meta meta;
    model_write_table(&m, path, 28, &o, &meta);
    table_meta_free(&meta);
    struct block_handle h0 = first_data_block(path, 28);
    size_t len;
    uint8_t *p = file_slurp(path, &len);
    uint64_t off1 = h0.offset + h0.size + BLOCK_TRAILER_SIZE;
    memcpy(p + off1, p + h0.offset, h0.size + BLOCK_TRAILER_SIZE); /* block 0 over block 1 */
    file_spit(path, p, len);
    free(p);
    table *t;
    cr_assert_eq(table_open(path, 28, NULL, 0, &t), 0);
    struct table_read_options ro = {.verify_checksums = 1, .fill_cache = 0};
    /* The first key of block 1 is the first one that block 0 does not hold. */
    iter *it = table_iter_create(t, &ro);
    cr_assert_eq(iter_seek_to_first(it), 0, "block 0 is intact");
    int rc = 0;
    while (rc == 0 && iter_valid(it))
        rc = iter_next(it);
    cr_assert_eq(rc, LAMINA_ECORRUPT, "block 1 holds block 0's bytes");
    expect_corrupt_message(path, off1);
    cr_assert(strstr(err_message(), "checksum"), "%s", err_message());
    iter_destroy(it);
    uint64_t n;
    cr_assert_eq(table_verify(t, &n), LAMINA_ECORRUPT);
    table_unref(t);
    model_free(&m);
}

/* Index blocks are read at first use, not at open: damage in the root fails every lookup,
 * scan and verify; damage in a lower index block fails the lookups and scans that reach it,
 * and verify. */
Test(corrupt, damaged_index_blocks_are_caught_at_first_use)
{
    char path[4096], bad[4096];
    write_model("000032.sst", 32, LAMINA_COMPRESSION_NONE, 256, path);
    snprintf(bad, sizeof(bad), "%s", path_join(g_dir, "000032.bad"));
    size_t len;
    uint8_t *orig = file_slurp(path, &len);
    struct table_footer f;
    cr_assert_eq(table_footer_decode(orig + len - TABLE_FOOTER_SIZE, path, &f), 0);
    int btree = f.index_kind == LAMINA_INDEX_BTREE; /* an FST index is one block: its root */
    if (btree) cr_assert_geq(f.index_levels, 2);
    int type;
    buf v = {0};

    uint64_t pos = f.index.offset + f.index.size / 2;
    spit_flipped(bad, orig, len, pos, 0x04);
    table *t;
    cr_assert_eq(table_open(bad, 32, NULL, 0, &t), 0, "only the footer is read at open");
    cr_assert_eq(table_get_key(t, NULL, g_model.e[0].ikey, g_model.e[0].ilen, &type, &v),
                 LAMINA_ECORRUPT);
    expect_corrupt_message(bad, f.index.offset);
    iter *it = table_iter_create(t, NULL);
    cr_assert_eq(iter_seek_to_first(it), LAMINA_ECORRUPT);
    expect_corrupt_message(bad, f.index.offset);
    iter_destroy(it);
    expect_verify_corrupt(t, bad, f.index.offset);
    table_unref(t);

    if (!btree) {
        buf_free(&v);
        free(orig);
        return;
    }
    /* The root's first child, an index block one level down. */
    rfile *rf;
    cr_assert_eq(rfile_open(path, &rf), 0);
    struct block_source src = {rf, path, 32, len - TABLE_FOOTER_SIZE};
    struct btree_reader r;
    cr_assert_eq(btree_open(&r, &src, NULL, f.index, f.index_levels, f.format_version >= 2, 0), 0,
                 "%s", err_message());
    struct btree_cursor c;
    btree_cursor_init(&c, &r, 0);
    cr_assert_eq(btree_cursor_seek_to_first(&c), 0, "%s", err_message());
    struct block_handle child = c.path[f.index_levels - 1].node->ent[0].h;
    btree_cursor_release(&c);
    btree_close(&r);
    rfile_close(rf);

    orig[child.offset + 1] ^= 0x01;
    file_spit(bad, orig, len);
    cr_assert_eq(table_open(bad, 32, NULL, 0, &t), 0);
    cr_assert_eq(table_get_key(t, NULL, g_model.e[0].ikey, g_model.e[0].ilen, &type, &v),
                 LAMINA_ECORRUPT);
    expect_corrupt_message(bad, child.offset);
    it = table_iter_create(t, NULL);
    cr_assert_eq(iter_seek_to_first(it), LAMINA_ECORRUPT);
    cr_assert(!iter_valid(it));
    iter_destroy(it);
    expect_verify_corrupt(t, bad, child.offset);
    table_unref(t);
    buf_free(&v);
    free(orig);
}

/* Filter and properties blocks too are read at first use: a damaged filter fails the gets
 * that consult it, a damaged properties block fails table_properties, and verify names both. */
Test(corrupt, damaged_filter_and_properties_blocks_are_caught_at_first_use)
{
    char path[4096], bad[4096];
    write_model("000033.sst", 33, LAMINA_COMPRESSION_NONE, 4096, path);
    snprintf(bad, sizeof(bad), "%s", path_join(g_dir, "000033.bad"));
    size_t len;
    uint8_t *orig = file_slurp(path, &len);
    struct table_footer f;
    cr_assert_eq(table_footer_decode(orig + len - TABLE_FOOTER_SIZE, path, &f), 0);
    cr_assert_gt(f.filter.size, 0);
    int type;
    buf v = {0};
    uint64_t n;

    spit_flipped(bad, orig, len, f.filter.offset + 3, 0x01);
    table *t;
    cr_assert_eq(table_open(bad, 33, NULL, 0, &t), 0);
    cr_assert_eq(table_get_key(t, NULL, g_model.e[0].ikey, g_model.e[0].ilen, &type, &v),
                 LAMINA_ECORRUPT);
    expect_corrupt_message(bad, f.filter.offset);
    cr_assert_eq(table_properties(t, &n, NULL, NULL, NULL, NULL), 0);
    cr_assert_eq(n, g_model.n);
    expect_verify_corrupt(t, bad, f.filter.offset);
    table_unref(t);

    spit_flipped(bad, orig, len, f.properties.offset + 2, 0x01);
    cr_assert_eq(table_open(bad, 33, NULL, 0, &t), 0);
    cr_assert_eq(table_get_key(t, NULL, g_model.e[0].ikey, g_model.e[0].ilen, &type, &v), 0);
    cr_assert_eq(table_properties(t, &n, NULL, NULL, NULL, NULL), LAMINA_ECORRUPT);
    expect_corrupt_message(bad, f.properties.offset);
    expect_verify_corrupt(t, bad, f.properties.offset);
    table_unref(t);
    buf_free(&v);
    free(orig);
}
