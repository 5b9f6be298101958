/* coding.h — little-endian fixed-width and LEB128 varint encoding, and a growable byte
 * buffer. Header-only: these sit on every hot path (block builder, WAL, memtable). */
#ifndef UTIL_CODING_H
#define UTIL_CODING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void coding_put_fixed32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static inline void coding_put_fixed64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static inline uint32_t coding_get_fixed32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t coding_get_fixed64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
/* Eight bytes at p as a big-endian number, so that word order is byte order. */
static inline uint64_t coding_get_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#elif !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
    v = (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
        (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 | p[7];
#endif
    return v;
}
static inline void coding_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Writes v as a varint at p (at most 10 bytes); returns the bytes written. */
static inline size_t coding_put_varint64(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}
static inline size_t coding_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
/* Reads a varint from [p, end) into *v; returns the byte after it, or NULL if it is
 * truncated or longer than 10 bytes (corrupt input is never read past end). */
static inline const uint8_t *coding_get_varint64(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift <= 63 && p < end; shift += 7) {
        uint64_t b = *p++;
        r |= (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return p;
        }
    }
    return NULL;
}
static inline const uint8_t *coding_get_varint32(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
    uint64_t r;
    p = coding_get_varint64(p, end, &r);
    if (!p || r > UINT32_MAX) return NULL;
    *v = (uint32_t)r;
    return p;
}

/* A growable byte buffer. Zero-initialise ({0}) to start; buf_free releases it. The
 * functions that grow it return 0 or LAMINA_ENOMEM. */
typedef struct buf {
    uint8_t *data;
    size_t len, cap;
} buf;

int buf_reserve(buf *b, size_t extra); /* ensure cap >= len + extra */
int buf_append(buf *b, const void *p, size_t n);
int buf_append_varint(buf *b, uint64_t v);
int buf_append_fixed32(buf *b, uint32_t v);
int buf_append_fixed64(buf *b, uint64_t v);
/* Appends varint length + bytes. */
int buf_append_lenbytes(buf *b, const void *p, size_t n);
static inline void buf_clear(buf *b)
{
    b->len = 0;
}
void buf_free(buf *b);

/* Reads varint length + bytes from [*p, end): sets *out and *n to the borrowed bytes and advances
 * *p. Returns 0, or -1 if truncated. */
static inline int coding_get_lenbytes(const uint8_t **p, const uint8_t *end, const uint8_t **out,
                                      size_t *n)
{
    uint64_t len;
    const uint8_t *q = coding_get_varint64(*p, end, &len);
    if (!q || len > (uint64_t)(end - q)) return -1;
    *out = q;
    *n = (size_t)len;
    *p = q + len;
    return 0;
}

#endif
