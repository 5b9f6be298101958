/* batch.c — write batches (lamina_batch_*) and their encoding, which is also the WAL record:
 * LevelDB's WriteBatch layout (sequence fixed64 | count fixed32 | records). Byte layout in
 * docs/format.md, Part 1. */
#include "engine/batch.h"
#include "memtable/memtable.h"
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/ikey.h"

int batch_init(lamina_batch *b)
{
    memset(&b->rep, 0, sizeof(b->rep));
    if (buf_reserve(&b->rep, BATCH_HEADER_SIZE))
        return err_set(LAMINA_ENOMEM, "batch: no memory for the header");
    memset(b->rep.data, 0, BATCH_HEADER_SIZE);
    b->rep.len = BATCH_HEADER_SIZE;
    return 0;
}

void batch_free(lamina_batch *b)
{
    buf_free(&b->rep);
}

uint64_t batch_sequence(const lamina_batch *b)
{
    return coding_get_fixed64(b->rep.data);
}

void batch_set_sequence(lamina_batch *b, uint64_t seq)
{
    coding_put_fixed64(b->rep.data, seq);
}

uint32_t batch_count(const lamina_batch *b)
{
    return coding_get_fixed32(b->rep.data + 8);
}

static void batch_set_count(lamina_batch *b, uint32_t n)
{
    coding_put_fixed32(b->rep.data + 8, n);
}

int batch_rep_header(const uint8_t *rep, size_t len, uint64_t *seq, uint32_t *count)
{
    if (len < BATCH_HEADER_SIZE)
        return err_set(LAMINA_ECORRUPT, "batch: %zu bytes, shorter than its %d-byte header", len,
                       BATCH_HEADER_SIZE);
    if (seq) *seq = coding_get_fixed64(rep);
    if (count) *count = coding_get_fixed32(rep + 8);
    return 0;
}

/* One pass over the records; fn == NULL only checks. */
static int batch_walk(const uint8_t *rep, size_t len,
                      int (*fn)(void *, int, const uint8_t *, size_t, const uint8_t *, size_t),
                      void *ctx)
{
    uint32_t count = 0;
    int rc = batch_rep_header(rep, len, NULL, &count);
    if (rc) return rc;
    const uint8_t *p = rep + BATCH_HEADER_SIZE, *end = rep + len;
    uint64_t seen = 0;
    while (p < end) {
        size_t at = (size_t)(p - rep);
        int type = *p++;
        const uint8_t *k, *v = NULL;
        size_t kl, vl = 0;
        if (type != IKEY_VALUE && type != IKEY_DELETION && type != IKEY_RANGE_DELETION)
            return err_set(LAMINA_ECORRUPT, "batch: unknown record type %d at byte %zu", type, at);
        if (coding_get_lenbytes(&p, end, &k, &kl) || kl > LAMINA_MAX_KEY_LEN)
            return err_set(LAMINA_ECORRUPT, "batch: bad key in the record at byte %zu", at);
        if (type == IKEY_VALUE &&
            (coding_get_lenbytes(&p, end, &v, &vl) || vl > LAMINA_MAX_VALUE_LEN))
            return err_set(LAMINA_ECORRUPT, "batch: bad value in the record at byte %zu", at);
        /* A range deletion's end key is its value; an empty range is never written. */
        if (type == IKEY_RANGE_DELETION &&
            (coding_get_lenbytes(&p, end, &v, &vl) || vl > LAMINA_MAX_KEY_LEN ||
             ikey_user_cmp(k, kl, v, vl) >= 0))
            return err_set(LAMINA_ECORRUPT, "batch: bad range end in the record at byte %zu", at);
        seen++;
        if (fn && (rc = fn(ctx, type, k, kl, v, vl))) return rc;
    }
    if (seen != count)
        return err_set(LAMINA_ECORRUPT, "batch: header counts %u records, found %llu", count,
                       (unsigned long long)seen);
    return 0;
}

int batch_iterate(const uint8_t *rep, size_t len,
                  int (*fn)(void *ctx, int type, const uint8_t *k, size_t kl, const uint8_t *v,
                            size_t vl),
                  void *ctx)
{
    int rc = batch_walk(rep, len, NULL, NULL);
    if (rc || !fn) return rc;
    return batch_walk(rep, len, fn, ctx);
}

int batch_set_rep(lamina_batch *b, const uint8_t *rep, size_t len)
{
    int rc = batch_iterate(rep, len, NULL, NULL);
    if (rc) return rc;
    buf_clear(&b->rep);
    if (buf_append(&b->rep, rep, len)) {
        /* The old allocation (at least a header) is still there: leave an empty batch. */
        lamina_batch_clear(b);
        return err_set(LAMINA_ENOMEM, "batch: no memory for %zu bytes", len);
    }
    return 0;
}

void batch_shrink(lamina_batch *b, size_t keep)
{
    lamina_batch_clear(b);
    if (b->rep.cap <= keep) return;
    /* Shrinking in place; should the allocator refuse, the large buffer stays for now. */
    uint8_t *p = mem_realloc(b->rep.data, BATCH_HEADER_SIZE);
    if (!p) return;
    b->rep.data = p;
    b->rep.cap = BATCH_HEADER_SIZE;
}

/* Appends one record; on failure the batch is left as it was. */
static int batch_add(lamina_batch *b, int type, const void *key, size_t key_len, const void *value,
                     size_t value_len)
{
    const char *what = type == IKEY_VALUE      ? "lamina_batch_put"
                       : type == IKEY_DELETION ? "lamina_batch_delete"
                                               : "lamina_batch_delete_range";
    if (!b) return err_set(LAMINA_EINVAL, "%s: batch is NULL", what);
    if (key_len > LAMINA_MAX_KEY_LEN)
        return err_set(LAMINA_EINVAL, "%s: key of %zu bytes exceeds LAMINA_MAX_KEY_LEN (%u)", what,
                       key_len, LAMINA_MAX_KEY_LEN);
    if (value_len > LAMINA_MAX_VALUE_LEN)
        return err_set(LAMINA_EINVAL, "%s: value of %zu bytes exceeds LAMINA_MAX_VALUE_LEN (%u)",
                       what, value_len, LAMINA_MAX_VALUE_LEN);
    if ((!key && key_len) || (!value && value_len))
        return err_set(LAMINA_EINVAL, "%s: NULL pointer with a non-zero length", what);
    if (batch_count(b) == UINT32_MAX)
        return err_set(LAMINA_EINVAL, "%s: more than %u records", what, (unsigned)UINT32_MAX);
    if (!key) key = "";
    if (!value) value = "";
    size_t old = b->rep.len;
    uint8_t t = (uint8_t)type;
    if (buf_append(&b->rep, &t, 1) || buf_append_lenbytes(&b->rep, key, key_len) ||
        (type != IKEY_DELETION && buf_append_lenbytes(&b->rep, value, value_len))) {
        b->rep.len = old;
        return err_set(LAMINA_ENOMEM, "%s: no memory for %zu bytes", what, key_len + value_len);
    }
    batch_set_count(b, batch_count(b) + 1);
    return 0;
}

LAMINA_API int lamina_batch_create(lamina_batch **out)
{
    if (!out) return err_set(LAMINA_EINVAL, "lamina_batch_create: out is NULL");
    *out = NULL;
    lamina_batch *b = mem_alloc(sizeof(*b));
    if (!b) return err_set(LAMINA_ENOMEM, "lamina_batch_create: no memory");
    int rc = batch_init(b);
    if (rc) {
        mem_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

LAMINA_API int lamina_batch_put(lamina_batch *b, const void *key, size_t key_len, const void *value,
                                size_t value_len)
{
    return batch_add(b, IKEY_VALUE, key, key_len, value, value_len);
}

LAMINA_API int lamina_batch_delete(lamina_batch *b, const void *key, size_t key_len)
{
    return batch_add(b, IKEY_DELETION, key, key_len, NULL, 0);
}

LAMINA_API int lamina_batch_delete_range(lamina_batch *b, const void *begin, size_t begin_len,
                                         const void *end, size_t end_len)
{
    if (end_len > LAMINA_MAX_KEY_LEN)
        return err_set(LAMINA_EINVAL,
                       "lamina_batch_delete_range: end key of %zu bytes exceeds "
                       "LAMINA_MAX_KEY_LEN (%u)",
                       end_len, LAMINA_MAX_KEY_LEN);
    if ((!begin && begin_len) || (!end && end_len))
        return err_set(LAMINA_EINVAL,
                       "lamina_batch_delete_range: NULL pointer with a non-zero length");
    if (!b) return err_set(LAMINA_EINVAL, "lamina_batch_delete_range: batch is NULL");
    /* As RocksDB's DeleteRange: begin == end is an empty range (nothing added), begin > end is
     * refused so that swapped arguments are noticed. */
    int c = ikey_user_cmp(begin ? begin : "", begin_len, end ? end : "", end_len);
    if (c > 0)
        return err_set(LAMINA_EINVAL, "lamina_batch_delete_range: begin key is above end key");
    if (c == 0) return 0;
    return batch_add(b, IKEY_RANGE_DELETION, begin, begin_len, end, end_len);
}

LAMINA_API void lamina_batch_clear(lamina_batch *b)
{
    if (!b) return;
    b->rep.len = BATCH_HEADER_SIZE;
    memset(b->rep.data, 0, BATCH_HEADER_SIZE);
}

LAMINA_API size_t lamina_batch_count(const lamina_batch *b)
{
    return b ? batch_count(b) : 0;
}

LAMINA_API void lamina_batch_destroy(lamina_batch *b)
{
    if (!b) return;
    batch_free(b);
    mem_free(b);
}

int batch_rep_check(const uint8_t *rep, size_t len, uint64_t *seq, uint32_t *count)
{
    uint64_t s = 0;
    uint32_t n = 0;
    int rc = batch_rep_header(rep, len, &s, &n);
    if (rc == 0) rc = batch_iterate(rep, len, NULL, NULL);
    /* Out-of-range numbers would spill into the internal key's type byte. */
    if (rc == 0 && (s == 0 || s > IKEY_MAX_SEQ || n > IKEY_MAX_SEQ - s + 1))
        rc = err_set(LAMINA_ECORRUPT, "sequence numbers %llu (+%u) beyond 2^56",
                     (unsigned long long)s, (unsigned)n);
    if (seq) *seq = s;
    if (count) *count = n;
    return rc;
}

struct batch_insert {
    memtable *mem;
    uint64_t seq;
};

static int batch_insert_one(void *ctx, int type, const uint8_t *k, size_t kl, const uint8_t *v,
                            size_t vl)
{
    struct batch_insert *c = ctx;
    return memtable_add(c->mem, c->seq++, type, k, kl, v, vl);
}

int batch_rep_insert(const uint8_t *rep, size_t len, struct memtable *mem, uint64_t seq)
{
    struct batch_insert c = {mem, seq};
    return batch_iterate(rep, len, batch_insert_one, &c);
}
