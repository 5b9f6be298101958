/* block.c — table blocks as in LevelDB's table format: entries (shared prefix length, unshared
 * length, value length as varints, unshared key bytes, value) with a restart point every
 * restart_interval entries, then a fixed32 restart array and a fixed32 count. */
#include <stdlib.h>
#include <string.h>

#include "sst/block.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* ---- Builder -------------------------------------------------------------------------- */

void block_builder_init(struct block_builder *b, int restart_interval)
{
    memset(b, 0, sizeof(*b));
    b->restart_interval = restart_interval > 0 ? restart_interval : 1;
    b->nrestarts = 1; /* offset 0, written at finish */
}

void block_builder_free(struct block_builder *b)
{
    buf_free(&b->data);
    buf_free(&b->last_key);
    mem_free(b->restarts);
    b->restarts = NULL;
}

void block_builder_reset(struct block_builder *b)
{
    buf_clear(&b->data);
    buf_clear(&b->last_key);
    b->nrestarts = 1;
    b->counter = 0;
    b->entries = 0;
    b->finished = 0;
}

int block_builder_add(struct block_builder *b, const uint8_t *key, size_t klen, const void *val,
                      size_t vlen)
{
    size_t shared = 0;
    if (b->counter < b->restart_interval) {
        size_t n = b->last_key.len < klen ? b->last_key.len : klen;
        while (shared < n && b->last_key.data[shared] == key[shared])
            shared++;
    } else {
        if (b->nrestarts >= b->restarts_cap) {
            size_t cap = b->restarts_cap ? 2 * b->restarts_cap : 64;
            uint32_t *r = mem_realloc(b->restarts, cap * sizeof(*r));
            if (!r) return err_set(LAMINA_ENOMEM, "block builder: out of memory");
            b->restarts = r;
            b->restarts_cap = cap;
        }
        /* restarts[0] is implicit (offset 0); slot i holds restart point i. */
        b->restarts[b->nrestarts++] = (uint32_t)b->data.len;
        b->counter = 0;
    }
    size_t unshared = klen - shared;
    if (buf_reserve(&b->data, 30 + unshared + vlen))
        return err_set(LAMINA_ENOMEM, "block builder: out of memory");
    uint8_t *p = b->data.data + b->data.len;
    p += coding_put_varint64(p, shared);
    p += coding_put_varint64(p, unshared);
    p += coding_put_varint64(p, vlen);
    if (unshared) memcpy(p, key + shared, unshared); /* an empty key may be NULL */
    p += unshared;
    if (vlen) memcpy(p, val, vlen);
    p += vlen;
    b->data.len = (size_t)(p - b->data.data);
    buf_clear(&b->last_key);
    if (buf_append(&b->last_key, key, klen))
        return err_set(LAMINA_ENOMEM, "block builder: out of memory");
    b->counter++;
    b->entries++;
    return 0;
}

int block_builder_finish(struct block_builder *b)
{
    if (buf_reserve(&b->data, 4 * b->nrestarts + 4))
        return err_set(LAMINA_ENOMEM, "block builder: out of memory");
    uint8_t *p = b->data.data + b->data.len;
    coding_put_fixed32(p, 0);
    for (size_t i = 1; i < b->nrestarts; i++)
        coding_put_fixed32(p + 4 * i, b->restarts[i]);
    coding_put_fixed32(p + 4 * b->nrestarts, (uint32_t)b->nrestarts);
    b->data.len += 4 * b->nrestarts + 4;
    b->finished = 1;
    return 0;
}

/* ---- Reader --------------------------------------------------------------------------- */

int block_parse(struct block *b, const uint8_t *data, size_t size)
{
    if (size < 4 || size > UINT32_MAX) return -1;
    uint32_t n = coding_get_fixed32(data + size - 4);
    if (n > (size - 4) / 4) return -1;
    uint32_t roff = (uint32_t)(size - 4 - 4 * (size_t)n);
    if (n == 0 && roff != 0) return -1; /* entries without a restart point cannot be searched */
    b->data = data;
    b->restarts_off = roff;
    b->nrestarts = n;
    return 0;
}

void block_iter_init(struct block_iter *it)
{
    memset(it, 0, offsetof(struct block_iter, inline_key));
    it->key = it->inline_key;
    it->key_cap = sizeof(it->inline_key);
}

void block_iter_free(struct block_iter *it)
{
    if (it->key != it->inline_key) mem_free(it->key);
    it->key = it->inline_key;
    it->key_cap = sizeof(it->inline_key);
}

void block_iter_reset(struct block_iter *it, const struct block *b, int keys, const char *path,
                      uint64_t block_offset)
{
    it->b = *b;
    it->keys = keys;
    it->path = path;
    it->block_offset = block_offset;
    it->cur = it->next_off = b->restarts_off;
    it->restart_idx = b->nrestarts;
    it->key_len = 0;
    it->val = NULL;
    it->val_len = 0;
    it->status = 0;
}

static int block_iter_corrupt(struct block_iter *it, uint32_t at, const char *what)
{
    it->cur = it->next_off = it->b.restarts_off;
    it->status = LAMINA_ECORRUPT;
    return err_set(LAMINA_ECORRUPT, "%s: corrupt block at offset %llu (+%u): %s",
                   it->path ? it->path : "(block)", (unsigned long long)it->block_offset,
                   (unsigned)at, what);
}

static inline int block_iter_cmp(const struct block_iter *it, const uint8_t *a, size_t alen,
                                 const uint8_t *b, size_t blen)
{
    if (it->keys == BLOCK_KEYS_INTERNAL) return ikey_cmp(a, alen, b, blen);
    return ikey_user_cmp(a, alen, b, blen);
}

/* Bytes of a restart interval a seek fetches ahead of its scan. */
#define BLOCK_PREFETCH_MAX 4096

static inline uint32_t block_restart_point(const struct block *b, uint32_t i)
{
    return coding_get_fixed32(b->data + b->restarts_off + 4 * (size_t)i);
}

/* Decodes the three lengths of the entry at p; returns its key bytes, or NULL if the entry
 * does not fit before limit. */
static inline const uint8_t *block_decode_entry(const uint8_t *p, const uint8_t *limit,
                                                uint32_t *shared, uint32_t *unshared,
                                                uint32_t *vlen)
{
    if (limit - p < 3) return NULL;
    if ((p[0] | p[1] | p[2]) < 0x80) {
        *shared = p[0];
        *unshared = p[1];
        *vlen = p[2];
        p += 3;
    } else {
        if (!(p = coding_get_varint32(p, limit, shared))) return NULL;
        if (!(p = coding_get_varint32(p, limit, unshared))) return NULL;
        if (!(p = coding_get_varint32(p, limit, vlen))) return NULL;
    }
    if ((size_t)(limit - p) < (size_t)*unshared + *vlen) return NULL;
    return p;
}

int block_entry_at(const struct block *b, uint32_t off, uint32_t *shared, const uint8_t **key,
                   size_t *klen, const uint8_t **val, size_t *vlen, uint32_t *next)
{
    if (off >= b->restarts_off) return -1;
    uint32_t unshared, vl;
    const uint8_t *q =
        block_decode_entry(b->data + off, b->data + b->restarts_off, shared, &unshared, &vl);
    if (!q) return -1;
    *key = q;
    *klen = unshared;
    *val = q + unshared;
    *vlen = vl;
    *next = (uint32_t)(q + unshared + vl - b->data);
    return 0;
}

static int block_iter_key_reserve(struct block_iter *it, size_t n)
{
    if (n <= it->key_cap) return 0;
    size_t cap = it->key_cap * 2 > n ? it->key_cap * 2 : n;
    uint8_t *k;
    if (it->key == it->inline_key) {
        k = mem_alloc(cap);
        if (k) memcpy(k, it->key, it->key_len);
    } else {
        k = mem_realloc(it->key, cap);
    }
    if (!k) {
        it->status = LAMINA_ENOMEM;
        return err_set(LAMINA_ENOMEM, "block iterator: out of memory for a %zu-byte key", n);
    }
    it->key = k;
    it->key_cap = cap;
    return 0;
}

/* Decodes the entry at next_off into key/value, or leaves the iterator at the end. */
static int block_iter_parse_next(struct block_iter *it)
{
    const struct block *b = &it->b;
    uint32_t p = it->next_off;
    if (p >= b->restarts_off) {
        it->cur = b->restarts_off;
        it->restart_idx = b->nrestarts;
        return 0;
    }
    it->cur = p;
    uint32_t shared, unshared, vlen;
    const uint8_t *q =
        block_decode_entry(b->data + p, b->data + b->restarts_off, &shared, &unshared, &vlen);
    if (!q) return block_iter_corrupt(it, p, "entry runs past the block");
    if (shared > it->key_len) return block_iter_corrupt(it, p, "shared prefix longer than key");
    size_t klen = (size_t)shared + unshared;
    if (it->keys == BLOCK_KEYS_INTERNAL && klen < IKEY_TRAILER)
        return block_iter_corrupt(it, p, "key shorter than its trailer");
    if (block_iter_key_reserve(it, klen)) return it->status;
    memcpy(it->key + shared, q, unshared);
    it->key_len = klen;
    it->val = q + unshared;
    it->val_len = vlen;
    it->next_off = (uint32_t)(it->val + vlen - b->data);
    while (it->restart_idx + 1 < b->nrestarts && block_restart_point(b, it->restart_idx + 1) < p)
        it->restart_idx++;
    return 0;
}

static int block_iter_seek_restart(struct block_iter *it, uint32_t i)
{
    uint32_t off = block_restart_point(&it->b, i);
    if (off > it->b.restarts_off) return block_iter_corrupt(it, off, "restart point out of range");
    it->key_len = 0;
    it->restart_idx = i;
    it->next_off = off;
    return 0;
}

int block_iter_seek_to_first(struct block_iter *it)
{
    if (it->status) return it->status;
    if (it->b.nrestarts == 0) return 0;
    int rc = block_iter_seek_restart(it, 0);
    return rc ? rc : block_iter_parse_next(it);
}

int block_iter_seek_to_last(struct block_iter *it)
{
    if (it->status) return it->status;
    if (it->b.nrestarts == 0) return 0;
    int rc = block_iter_seek_restart(it, it->b.nrestarts - 1);
    if (rc) return rc;
    do {
        rc = block_iter_parse_next(it);
    } while (rc == 0 && block_iter_valid(it) && it->next_off < it->b.restarts_off);
    return rc;
}

int block_iter_seek(struct block_iter *it, const uint8_t *target, size_t tlen)
{
    if (it->status) return it->status;
    const struct block *b = &it->b;
    if (b->nrestarts == 0) return 0;
    /* Binary search for the last restart point whose key is < target: keys at restart points
     * are stored whole (shared == 0), so they are compared in place. */
    uint32_t left = 0, right = b->nrestarts - 1;
    while (left < right) {
        uint32_t mid = left + (right - left + 1) / 2;
        uint32_t off = block_restart_point(b, mid);
        if (off >= b->restarts_off)
            return block_iter_corrupt(it, off, "restart point out of range");
        uint32_t shared, unshared, vlen;
        const uint8_t *q =
            block_decode_entry(b->data + off, b->data + b->restarts_off, &shared, &unshared, &vlen);
        if (!q || shared != 0) return block_iter_corrupt(it, off, "bad entry at restart point");
        if (it->keys == BLOCK_KEYS_INTERNAL && unshared < IKEY_TRAILER)
            return block_iter_corrupt(it, off, "key shorter than its trailer");
        if (block_iter_cmp(it, q, unshared, target, tlen) < 0)
            left = mid;
        else
            right = mid - 1;
    }
    int rc = block_iter_seek_restart(it, left);
    if (rc) return rc;
    /* Each entry's place follows from the previous entry's lengths, so a scan over a cold
     * block is a chain of cache misses: fetch the restart interval's lines up front. */
    uint32_t end = left + 1 < b->nrestarts ? block_restart_point(b, left + 1) : b->restarts_off;
    if (end > b->restarts_off) end = b->restarts_off;
    if (end > it->next_off + BLOCK_PREFETCH_MAX) end = it->next_off + BLOCK_PREFETCH_MAX;
    for (uint32_t off = it->next_off; off < end; off += 64)
        __builtin_prefetch(b->data + off);
    for (;;) {
        rc = block_iter_parse_next(it);
        if (rc || !block_iter_valid(it)) return rc;
        if (block_iter_cmp(it, it->key, it->key_len, target, tlen) >= 0) return 0;
    }
}

int block_iter_seek_for_prev(struct block_iter *it, const uint8_t *target, size_t tlen)
{
    int rc = block_iter_seek(it, target, tlen);
    if (rc) return rc;
    if (!block_iter_valid(it)) return block_iter_seek_to_last(it);
    if (block_iter_cmp(it, it->key, it->key_len, target, tlen) > 0) return block_iter_prev(it);
    return 0;
}

int block_iter_next(struct block_iter *it)
{
    if (!block_iter_valid(it)) return it->status;
    return block_iter_parse_next(it);
}

int block_iter_prev(struct block_iter *it)
{
    if (!block_iter_valid(it)) return it->status;
    /* Entries only decode forwards: back up to the restart point before the current entry
     * and scan up to the entry just before it. */
    uint32_t original = it->cur;
    while (block_restart_point(&it->b, it->restart_idx) >= original) {
        if (it->restart_idx == 0) {
            it->cur = it->next_off = it->b.restarts_off;
            it->restart_idx = it->b.nrestarts;
            return 0;
        }
        it->restart_idx--;
    }
    int rc = block_iter_seek_restart(it, it->restart_idx);
    if (rc) return rc;
    do {
        rc = block_iter_parse_next(it);
    } while (rc == 0 && block_iter_valid(it) && it->next_off < original);
    return rc;
}
