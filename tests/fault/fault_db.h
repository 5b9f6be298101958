/* fault_db.h — shared fixtures of the fault suite: a temporary database directory, small-buffer
 * options that make flushes and compactions happen within a few thousand keys, keys and values
 * derived from a counter (so a check needs no record of what was written but the counter), and
 * the reopen-and-verify step every scenario ends with. */
#ifndef TESTS_FAULT_FAULT_DB_H
#define TESTS_FAULT_FAULT_DB_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lamina.h"
#include "tdir.h"
#include "util/fault.h"

#define FDB_MAX_VALUE 400

/* The running test's directory; the database is <dir>/db. */
static char fdb_dir[256], fdb_path[300];

static inline void fdb_setup(void)
{
    tdir_make(fdb_dir, sizeof(fdb_dir), "fault");
    snprintf(fdb_path, sizeof(fdb_path), "%s/db", fdb_dir);
}

static inline void fdb_teardown(void)
{
    fault_clear();
    tdir_remove(fdb_dir);
}

/* 64 KiB memtables and 16 KiB tables: a few thousand keys flush several times and compact
 * (the policy varies with round, so leveled, tiered and lazy-leveled merges all get cut). */
static inline lamina_options fdb_options(int round)
{
    lamina_options o;
    lamina_options_init(&o);
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

static inline uint64_t fdb_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Key number c of round r; keys of a round sort in counter order. */
static inline size_t fdb_key(char *dst, int r, uint64_t c)
{
    return (size_t)sprintf(dst, "r%03d-%010llu", r, (unsigned long long)c);
}

/* The value of key c of round r: 20..FDB_MAX_VALUE bytes of its hash. */
static inline size_t fdb_value(uint8_t *dst, int r, uint64_t c)
{
    uint64_t x = fdb_mix(((uint64_t)r << 40) ^ c);
    size_t len = 20 + (size_t)(x % (FDB_MAX_VALUE - 20));
    for (size_t i = 0; i < len; i++) {
        x = fdb_mix(x + i);
        dst[i] = (uint8_t)x;
    }
    return len;
}

static inline int fdb_put(lamina_db *db, int r, uint64_t c, int sync)
{
    char k[32];
    uint8_t v[FDB_MAX_VALUE];
    lamina_write_options wo;
    lamina_write_options_init(&wo);
    wo.sync = sync;
    size_t kl = fdb_key(k, r, c), vl = fdb_value(v, r, c);
    return lamina_put(db, &wo, k, kl, v, vl);
}

/* Whether key c of round r is present: 1 with its own value, 0 absent; a wrong value or an
 * error fails the test (a damaged database must never answer with wrong data). */
static inline int fdb_present(lamina_db *db, int r, uint64_t c)
{
    char k[32];
    uint8_t want[FDB_MAX_VALUE];
    size_t kl = fdb_key(k, r, c), wl = fdb_value(want, r, c);
    void *got = NULL;
    size_t gl = 0;
    int rc = lamina_get(db, NULL, k, kl, &got, &gl);
    if (rc == LAMINA_NOTFOUND) return 0;
    cr_assert_eq(rc, LAMINA_OK, "get %s: %s: %s", k, lamina_strerror(rc), lamina_errmsg(db));
    int same = gl == wl && memcmp(got, want, wl) == 0;
    lamina_free(got);
    cr_assert(same, "get %s: a wrong value (%zu bytes, want %zu)", k, gl, wl);
    return 1;
}

static inline lamina_db *fdb_open(int round)
{
    lamina_options o = fdb_options(round);
    lamina_db *db = NULL;
    int rc = lamina_open(fdb_path, &o, &db);
    cr_assert_eq(rc, LAMINA_OK, "reopen: %s: %s", lamina_strerror(rc), lamina_errmsg(NULL));
    return db;
}

#endif
