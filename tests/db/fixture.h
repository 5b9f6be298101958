/* fixture.h — the Criterion-free fixtures of the db suite: small-buffer options and key and
 * value formatting, shared by helpers.h (Criterion tests) and concurrent.c (also the TSan run). */
#ifndef TESTS_DB_FIXTURE_H
#define TESTS_DB_FIXTURE_H

#include <stdint.h>
#include <stdio.h>

#include "lamina.h"
#include "test_options.h"

/* Options with small buffers so that flushes and compactions happen in small tests. */
static inline lamina_options tdb_small_options(void)
{
    lamina_options o;
    lamina_options_init(&o);
    o.create_if_missing = 1;
    o.write_buffer_size = 64 << 10;
    o.target_file_size_base = 64 << 10;
    o.level0_file_num_compaction_trigger = 2;
    o.level0_slowdown_writes_trigger = 4;
    o.level0_stop_writes_trigger = 6;
    o.max_bytes_for_level_base = 256 << 10;
    o.block_size = 1024;
    test_options_apply(&o);
    return o;
}

static inline size_t tdb_key(char *buf, uint64_t i)
{
    return (size_t)sprintf(buf, "key%012llu", (unsigned long long)i);
}
static inline size_t tdb_value(char *buf, uint64_t i, uint64_t gen)
{
    return (size_t)sprintf(buf, "value-%llu-%llu-padding-padding-padding-padding-padding",
                           (unsigned long long)i, (unsigned long long)gen);
}

#endif
