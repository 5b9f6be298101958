/* workload.h — the fault suite's workload, free of Criterion (the TSan program uses it too):
 * small-buffer options that make flushes and compactions happen within a few thousand keys,
 * and keys and values derived from a counter, so a check needs no record of what was written
 * but the counter. */
#ifndef TESTS_FAULT_WORKLOAD_H
#define TESTS_FAULT_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lamina.h"
#include "test_options.h"

#define WL_MAX_VALUE 400

/* 64 KiB memtables and 16 KiB tables: a few thousand keys flush several times and compact
 * (the policy varies with round, so leveled, tiered and lazy-leveled merges all get cut). */
static inline lamina_options wl_options(int round)
{
    lamina_options o;
    lamina_options_init(&o);
    test_options_apply(&o);
    o.create_if_missing = 1;
    o.compaction_policy = round % 3 == 0   ? LAMINA_COMPACTION_LEVELED
                          : round % 3 == 1 ? LAMINA_COMPACTION_TIERED
                                           : LAMINA_COMPACTION_DOSTOEVSKY;
    o.write_buffer_size = 64 << 10;
    o.target_file_size_base = 16 << 10;
    o.level0_file_num_compaction_trigger = 2;
    o.max_bytes_for_level_base = 128 << 10;
    o.size_ratio = 4;
    o.block_size = 1024;
    o.max_background_jobs = 2;
    o.max_open_files = 20;
    return o;
}

static inline uint64_t wl_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Key number c of round r; keys of a round sort in counter order. */
static inline size_t wl_key(char *dst, int r, uint64_t c)
{
    return (size_t)sprintf(dst, "r%03d-%010llu", r, (unsigned long long)c);
}

/* The value of key c of round r: 20..WL_MAX_VALUE bytes of its hash. */
static inline size_t wl_value(uint8_t *dst, int r, uint64_t c)
{
    uint64_t x = wl_mix(((uint64_t)r << 40) ^ c);
    size_t len = 20 + (size_t)(x % (WL_MAX_VALUE - 20));
    for (size_t i = 0; i < len; i++) {
        x = wl_mix(x + i);
        dst[i] = (uint8_t)x;
    }
    return len;
}

static inline int wl_put(lamina_db *db, int r, uint64_t c, int sync)
{
    char k[32];
    uint8_t v[WL_MAX_VALUE];
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    wo.sync = sync;
    size_t kl = wl_key(k, r, c), vl = wl_value(v, r, c);
    return lamina_put(db, &wo, k, kl, v, vl);
}

/* Looks key c of round r up: 1 present with its own value, 0 absent, WL_WRONG for another
 * value, or the get's error code. */
#define WL_WRONG 1000
static inline int wl_lookup(lamina_db *db, int r, uint64_t c)
{
    char k[32];
    uint8_t want[WL_MAX_VALUE];
    size_t kl = wl_key(k, r, c), wl = wl_value(want, r, c);
    void *got = NULL;
    size_t gl = 0;
    int rc = lamina_get(db, NULL, k, kl, &got, &gl);
    if (rc == LAMINA_NOTFOUND) return 0;
    if (rc) return rc;
    int same = gl == wl && memcmp(got, want, wl) == 0;
    lamina_free(got);
    return same ? 1 : WL_WRONG;
}

#endif
