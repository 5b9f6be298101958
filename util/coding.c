/* coding.c — the growable byte buffer of coding.h (capacity grows by doubling).
 * Varints are LEB128 (as in LevelDB's coding and protobuf); fixed widths are little-endian. */
#include "util/coding.h"
#include "util/alloc.h"

#include <stdlib.h>

#include "lamina.h"

int buf_reserve(buf *b, size_t extra)
{
    if (extra <= b->cap - b->len) return 0;
    if (extra > SIZE_MAX - b->len) return LAMINA_ENOMEM;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = mem_realloc(b->data, cap);
    if (!p) return LAMINA_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_append_varint(buf *b, uint64_t v)
{
    int rc = buf_reserve(b, 10);
    if (rc) return rc;
    b->len += coding_put_varint64(b->data + b->len, v);
    return 0;
}

int buf_append_fixed32(buf *b, uint32_t v)
{
    int rc = buf_reserve(b, 4);
    if (rc) return rc;
    coding_put_fixed32(b->data + b->len, v);
    b->len += 4;
    return 0;
}

int buf_append_fixed64(buf *b, uint64_t v)
{
    int rc = buf_reserve(b, 8);
    if (rc) return rc;
    coding_put_fixed64(b->data + b->len, v);
    b->len += 8;
    return 0;
}

int buf_append_lenbytes(buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, 10 + n);
    if (rc) return rc;
    b->len += coding_put_varint64(b->data + b->len, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void buf_free(buf *b)
{
    mem_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
