/* tsan_tables.h — table writing for the sst suite's plain ThreadSanitizer programs
 * (tsan_*.c), which cannot use helpers.c: it is built on Criterion. */
#ifndef TESTS_SST_TSAN_TABLES_H
#define TESTS_SST_TSAN_TABLES_H

#include <stdint.h>

#include "sst/table.h"
#include "util/file.h"
#include "util/ikey.h"

/* Writes table number at path with options o: the keys i = 0, step, 2 step, ... below keys,
 * whose user key and value key(dst, number, i) and value(dst, number, i) write into 64-byte
 * buffers and return the lengths of, all at sequence 1. Returns 0, or non-zero with the
 * thread's message set. */
static inline int tsan_write_table(const char *path, uint64_t number, const struct table_options *o,
                                   int keys, int step, size_t (*key)(char *, uint64_t, int),
                                   size_t (*value)(char *, uint64_t, int))
{
    wfile *f;
    if (wfile_create(path, &f)) return -1;
    table_builder *b = table_builder_create(f, number, o);
    int rc = b ? 0 : -1;
    for (int i = 0; rc == 0 && i < keys; i += step) {
        char uk[64], v[64];
        uint8_t k[64 + IKEY_TRAILER];
        size_t ulen = key(uk, number, i), vlen = value(v, number, i);
        ikey_encode(k, uk, ulen, 1, IKEY_VALUE);
        rc = table_builder_add(b, k, ulen + IKEY_TRAILER, v, vlen);
    }
    struct table_meta m;
    if (rc == 0) rc = table_builder_finish(b, &m);
    if (rc == 0) table_meta_free(&m);
    table_builder_destroy(b);
    if (wfile_close(f)) rc = -1;
    return rc;
}

#endif
