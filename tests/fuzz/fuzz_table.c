/* fuzz_table.c — libFuzzer target for the table reader (sst/table.h). The first byte is
 * flags (bit 0: reseal the footer's and every reachable block's checksum so that mutations
 * reach the block, index, filter and properties decoders; bit 1: verify data block checksums;
 * bit 2: pin_meta), the rest a table file. The file is opened with table_open, iterated both
 * ways, probed with table_get for the keys the iterator saw and for keys of the input, and
 * checked with table_verify and table_properties: every call must return 0, LAMINA_NOTFOUND or
 * a LAMINA_E* code, never crash, hang or leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sst/table.h"
#include "util/err.h"
#include "util/ikey.h"

/* Keys kept from the iteration for gets, and steps taken in each direction, at most. */
#define KEYS_KEPT 32
#define STEPS 20000

static void check_rc(int rc)
{
    FUZZ_CHECK(rc == 0 || rc == LAMINA_NOTFOUND || rc == LAMINA_ECORRUPT || rc == LAMINA_EIO ||
               rc == LAMINA_ENOMEM);
}

/* A lookup of user key uk at the newest sequence number. */
static void get(table *t, const struct table_read_options *ro, const uint8_t *uk, size_t ul)
{
    uint8_t *lookup = malloc(ul + IKEY_TRAILER);
    if (!lookup) return;
    ikey_encode(lookup, uk, ul, IKEY_SEEK_SEQ, IKEY_VALUE);
    buf v = {0};
    int type;
    check_rc(table_get(t, ro, lookup, ul + IKEY_TRAILER, table_key_hash(uk, ul), &type, &v));
    buf_free(&v);
    free(lookup);
}

static void exercise(table *t, const struct table_read_options *ro, const uint8_t *data,
                     size_t size)
{
    uint8_t *keys[KEYS_KEPT];
    size_t lens[KEYS_KEPT], nkeys = 0;
    iter *it = table_iter_create(t, ro);
    if (!it) return;
    int steps = 0;
    for (check_rc(iter_seek_to_first(it)); iter_valid(it) && steps < STEPS; steps++) {
        size_t kl;
        const uint8_t *k = iter_key(it, &kl);
        FUZZ_CHECK(kl >= IKEY_TRAILER);
        if (nkeys < KEYS_KEPT && (steps % 7) == 0 && (keys[nkeys] = malloc(kl))) {
            memcpy(keys[nkeys], k, kl);
            lens[nkeys++] = kl;
        }
        check_rc(iter_next(it));
    }
    check_rc(iter_status(it));
    steps = 0;
    for (check_rc(iter_seek_to_last(it)); iter_valid(it) && steps < STEPS; steps++)
        check_rc(iter_prev(it));
    for (size_t i = 0; i < nkeys; i++) {
        check_rc(iter_seek(it, keys[i], lens[i]));
        if (iter_valid(it)) check_rc(iter_next(it));
        check_rc(iter_seek_for_prev(it, keys[i], lens[i]));
        if (iter_valid(it)) check_rc(iter_prev(it));
        get(t, ro, keys[i], lens[i] - IKEY_TRAILER);
    }
    iter_destroy(it);
    /* Keys no entry need hold: windows of the input. */
    for (size_t i = 0; i < 8 && size; i++) {
        size_t off = (i * 4099) % size, len = i * 5;
        get(t, ro, data + off, off + len > size ? size - off : len);
    }
    for (size_t i = 0; i < nkeys; i++)
        free(keys[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *dir = fuzz_dir();
    uint8_t *file = malloc(size);
    if (!dir || !file) goto out;
    uint8_t flags = data[0];
    memcpy(file, data + 1, size - 1);
    /* The footer names the file number that the block checksums mix in; a raw input keeps
     * its bytes and is opened as the file its footer names, so it gets past that check. */
    uint64_t number = fuzz_table_walk(file, size - 1, flags & 1, NULL, NULL);
    if (number == 0) number = 7;
    char path[512];
    snprintf(path, sizeof(path), "%s/table.sst", dir);
    if (fuzz_write(dir, "table.sst", file, size - 1)) goto out;
    block_cache *cache = block_cache_create(64 << 10, 1);
    if (!cache) goto out;
    table *t;
    int rc = table_open(path, number, cache, flags & 4, &t);
    check_rc(rc);
    if (rc == 0) {
        struct table_read_options ro = {.verify_checksums = flags & 2 ? 1 : 0, .fill_cache = 1};
        exercise(t, &ro, data, size);
        uint64_t entries, deletions, db, ib, fb;
        check_rc(table_properties(t, &entries, &deletions, &db, &ib, &fb));
        check_rc(table_verify(t, &entries));
        table_unref(t);
    }
    block_cache_destroy(cache);
out:
    free(file);
    err_clear();
    return 0;
}
