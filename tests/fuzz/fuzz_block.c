/* fuzz_block.c — libFuzzer target for the block format (sst/block.h). The first byte picks:
 *   bit 0 clear: the rest is a block's contents, read by a block iterator (bit 1: internal
 *                keys, else plain bytes): forward, backward, and seeks to keys of the block
 *                and to bytes of the input; every move must return 0 or LAMINA_ECORRUPT;
 *   bit 0 set:   the rest is a list of (key, value) pieces built into a block with restart
 *                interval 1 + (byte >> 4), which must read back exactly (forward, backward,
 *                and a seek to each key). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sst/block.h"
#include "util/err.h"

/* Seeks of the raw mode, at most. */
#define RAW_SEEKS 16
/* Entries the raw mode walks at most in either direction (a block holds at most ~size/3). */
#define RAW_STEPS 100000

static void check_rc(int rc)
{
    FUZZ_CHECK(rc == 0 || rc == LAMINA_ECORRUPT || rc == LAMINA_ENOMEM);
}

static void fuzz_raw(const uint8_t *data, size_t size, int keys)
{
    struct block b;
    if (block_parse(&b, data, size)) return;
    struct block_iter it;
    block_iter_init(&it);
    block_iter_reset(&it, &b, keys, "fuzz", 0);
    int steps = 0;
    for (check_rc(block_iter_seek_to_first(&it)); block_iter_valid(&it) && steps < RAW_STEPS;
         steps++)
        check_rc(block_iter_next(&it));
    block_iter_reset(&it, &b, keys, "fuzz", 0);
    steps = 0;
    for (check_rc(block_iter_seek_to_last(&it)); block_iter_valid(&it) && steps < RAW_STEPS;
         steps++)
        check_rc(block_iter_prev(&it));
    /* Seek targets: windows of the input itself, at least a trailer long for internal keys. */
    size_t tl = keys == BLOCK_KEYS_INTERNAL ? IKEY_TRAILER : 0;
    for (size_t i = 0; i < RAW_SEEKS && size >= tl; i++) {
        size_t off = (i * 7919) % (size - tl + 1), len = tl + (i % 5) * 3;
        if (off + len > size) len = size - off;
        block_iter_reset(&it, &b, keys, "fuzz", 0);
        int rc = i & 1 ? block_iter_seek_for_prev(&it, data + off, len)
                       : block_iter_seek(&it, data + off, len);
        check_rc(rc);
        if (block_iter_valid(&it)) check_rc(i & 2 ? block_iter_prev(&it) : block_iter_next(&it));
    }
    block_iter_free(&it);
}

/* One entry of the round-trip mode: a key, and a value borrowed from the input. */
struct kv {
    const uint8_t *k, *v;
    size_t kl, vl;
};

static int kv_cmp(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    size_t n = x->kl < y->kl ? x->kl : y->kl;
    int c = n ? memcmp(x->k, y->k, n) : 0;
    return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

static int iter_at(const struct block_iter *it, const struct kv *e)
{
    return block_iter_valid(it) && it->key_len == e->kl && !memcmp(it->key, e->k, e->kl) &&
           it->val_len == e->vl && (e->vl == 0 || !memcmp(it->val, e->v, e->vl));
}

static void fuzz_roundtrip(const uint8_t *data, size_t size, int restart_interval)
{
    struct kv *e = malloc(sizeof(*e) * (size / 2 + 1));
    if (!e) return;
    size_t n = 0;
    const uint8_t *k, *v;
    size_t kl, vl;
    while (fuzz_next_piece(&data, &size, &k, &kl)) {
        if (!fuzz_next_piece(&data, &size, &v, &vl)) v = NULL, vl = 0;
        e[n++] = (struct kv){k, v, kl, vl};
    }
    /* Plain byte keys: sorted and unique, as the builder requires. */
    qsort(e, n, sizeof(*e), kv_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || kv_cmp(&e[u - 1], &e[i])) e[u++] = e[i];
    n = u;
    struct block_builder bb;
    block_builder_init(&bb, restart_interval);
    for (size_t i = 0; i < n; i++)
        if (block_builder_add(&bb, e[i].k, e[i].kl, e[i].v, e[i].vl)) goto out;
    size_t predicted = block_builder_size(&bb);
    if (block_builder_finish(&bb)) goto out;
    FUZZ_CHECK(bb.data.len == predicted);
    struct block b;
    FUZZ_CHECK(block_parse(&b, bb.data.data, bb.data.len) == 0);
    struct block_iter it;
    block_iter_init(&it);
    block_iter_reset(&it, &b, BLOCK_KEYS_BYTES, "fuzz", 0);
    size_t i = 0;
    for (FUZZ_CHECK(block_iter_seek_to_first(&it) == 0); i < n; i++) {
        FUZZ_CHECK(iter_at(&it, &e[i]));
        FUZZ_CHECK(block_iter_next(&it) == 0);
    }
    FUZZ_CHECK(!block_iter_valid(&it));
    for (FUZZ_CHECK(block_iter_seek_to_last(&it) == 0); i > 0; i--) {
        FUZZ_CHECK(iter_at(&it, &e[i - 1]));
        FUZZ_CHECK(block_iter_prev(&it) == 0);
    }
    FUZZ_CHECK(!block_iter_valid(&it));
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(block_iter_seek(&it, e[i].k, e[i].kl) == 0 && iter_at(&it, &e[i]));
        FUZZ_CHECK(block_iter_seek_for_prev(&it, e[i].k, e[i].kl) == 0 && iter_at(&it, &e[i]));
    }
    block_iter_free(&it);
out:
    block_builder_free(&bb);
    free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0];
    if (mode & 1)
        fuzz_roundtrip(data + 1, size - 1, 1 + (mode >> 4));
    else
        fuzz_raw(data + 1, size - 1, mode & 2 ? BLOCK_KEYS_INTERNAL : BLOCK_KEYS_BYTES);
    err_clear();
    return 0;
}
