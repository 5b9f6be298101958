/* lookup.h — table_get split at its data block read, so that the reads of many lookups go
 * out together (lamina_multi_get through sst/fetch.h's block_fetch_batch): locate answers from
 * the filter and the index, the caller fetches the block the handle names, and
 * table_get_in_block searches it. table_get is the three in a row. */
#ifndef SST_LOOKUP_H
#define SST_LOOKUP_H

#include "sst/cache.h"
#include "sst/fetch.h"
#include "sst/format.h"
#include "sst/table.h"

/* table_get_locate's answer when no block needs reading but a range tombstone of the table
 * covers the key: the lookup's answer is IKEY_DELETION. */
#define TABLE_GET_DELETED 1

/* The data block of t that can hold lookup's visible version (its handle in *h), or
 * LAMINA_NOTFOUND (the filter rules the key out, or it lies past the last separator), or
 * TABLE_GET_DELETED, or an error. Arguments as table_get. table_get_in_block applies the
 * table's range tombstones to what the block holds. */
int table_get_locate(table *t, const struct table_read_options *ro, const uint8_t *lookup,
                     size_t lookup_len, uint64_t hash, struct block_handle *h);
/* Fills req to fetch t's data block at h with ro's verify and fill choices (counting the block
 * in ro->lookup); t must outlive the fetch. */
void table_block_request(table *t, const struct table_read_options *ro, struct block_handle h,
                         struct block_fetch *req);
/* Counts a filter false positive in ro->lookup (when t has a filter): the data block the
 * filter let a lookup read did not hold the key. */
void table_lookup_missed(const table *t, const struct table_read_options *ro);
/* table_get's answer from the data block at h, whose contents cb holds (borrowed). */
int table_get_in_block(table *t, const struct cache_block *cb, struct block_handle h,
                       const uint8_t *lookup, size_t lookup_len, int *type, buf *value);

#endif
