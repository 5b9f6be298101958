/* ikey.h — internal keys: user key ‖ 8-byte little-endian trailer (seq << 8) | type, ordered
 * by user key ascending (memcmp, shorter first), then sequence number descending. */
#ifndef UTIL_IKEY_H
#define UTIL_IKEY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/coding.h"

/* IKEY_RANGE_DELETION: a range tombstone, keyed by its begin key with the (exclusive) end key
 * as value. It lives in a memtable's tombstone list and a table's range-deletion block, never
 * among point entries. As a table's largest key, (end, IKEY_MAX_SEQ, IKEY_RANGE_DELETION) is the
 * exclusive end of its tombstones: it sorts before every real entry of the user key end. */
enum ikey_type { IKEY_DELETION = 0, IKEY_VALUE = 1, IKEY_RANGE_DELETION = 2 };

#define IKEY_TRAILER 8
#define IKEY_MAX_SEQ ((UINT64_C(1) << 56) - 1)
/* Seeking to (user key, IKEY_SEEK_SEQ, IKEY_VALUE) finds the newest entry of that key. */
#define IKEY_SEEK_SEQ IKEY_MAX_SEQ

static inline uint64_t ikey_pack(uint64_t seq, int type)
{
    return (seq << 8) | (uint64_t)type;
}

/* Writes user key + trailer to dst (ulen + 8 bytes). */
static inline void ikey_encode(uint8_t *dst, const void *ukey, size_t ulen, uint64_t seq, int type)
{
    if (ulen) memcpy(dst, ukey, ulen);
    coding_put_fixed64(dst + ulen, ikey_pack(seq, type));
}
static inline size_t ikey_user_len(size_t ilen)
{
    return ilen - IKEY_TRAILER;
}
static inline uint64_t ikey_trailer(const uint8_t *ik, size_t ilen)
{
    return coding_get_fixed64(ik + ilen - IKEY_TRAILER);
}
static inline uint64_t ikey_seq(const uint8_t *ik, size_t ilen)
{
    return ikey_trailer(ik, ilen) >> 8;
}
static inline int ikey_type(const uint8_t *ik, size_t ilen)
{
    return (int)(ikey_trailer(ik, ilen) & 0xff);
}

/* Bytewise order of user keys: negative, 0 or positive. Compared eight bytes at a time as
 * big-endian words: short keys cost two or three word compares and no call. */
static inline int ikey_user_cmp(const void *av, size_t alen, const void *bv, size_t blen)
{
    const uint8_t *a = av, *b = bv;
    size_t n = alen < blen ? alen : blen, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = coding_get_be64(a + i), y = coding_get_be64(b + i);
        if (x != y) return x < y ? -1 : 1;
    }
    for (; i < n; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return alen < blen ? -1 : alen > blen;
}

/* Internal key order. Both keys must be at least 8 bytes. */
static inline int ikey_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = ikey_user_cmp(a, alen - IKEY_TRAILER, b, blen - IKEY_TRAILER);
    if (c) return c;
    uint64_t ta = ikey_trailer(a, alen), tb = ikey_trailer(b, blen);
    return ta > tb ? -1 : ta < tb;
}

#endif
