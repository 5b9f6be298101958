/* reader.h — private interface between the table reader (sst/table_reader.c) and the table
 * cache (sst/table_cache.c): the cache counts its open readers by being told when each one
 * closes, which may be after the cache dropped it (a reader in use closes at its last unref). */
#ifndef SST_READER_H
#define SST_READER_H

#include "sst/table.h"

/* Arranges for fn(ctx) to be called once t has closed (file closed, memory freed), from the
 * thread that drops its last reference. Set before t is shared; replaces an earlier hook. */
void table_on_close(table *t, void (*fn)(void *ctx), void *ctx);

#endif
