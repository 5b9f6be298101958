/* memtable.h — the memtable interface: a sorted in-memory map of internal keys (util/ikey.h)
 * to values, allocating from an arena. Kinds (AVL now, ART later) sit behind one table of
 * function pointers chosen at creation. One writer at a time (the engine's writer queue);
 * readers (get, iterators) run concurrently with that writer. */
#ifndef MEMTABLE_MEMTABLE_H
#define MEMTABLE_MEMTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/iter.h"

typedef struct memtable memtable;

enum memtable_kind { MEMTABLE_AVL = 0, MEMTABLE_ART = 1 };

/* Creates an empty memtable with reference count 1. Returns NULL on allocation failure. */
memtable *memtable_create(enum memtable_kind kind);
void memtable_ref(memtable *m);
/* Drops a reference; the last one frees the memtable and its arena. */
void memtable_unref(memtable *m);

/* Inserts (user key, seq, type) -> value; key and value are copied into the arena.
 * (key, seq) pairs are unique (the engine never reuses a sequence number). Type
 * IKEY_RANGE_DELETION adds the range tombstone [ukey, value) to the memtable's tombstone list
 * instead (begin < end: the batch checked it).
 * Returns 0 or LAMINA_ENOMEM. Only one thread may add at a time. */
int memtable_add(memtable *m, uint64_t seq, int type, const void *ukey, size_t ulen,
                 const void *value, size_t vlen);

/* Finds the newest entry of ukey with seq <= snapshot_seq. Returns 0 and sets *type
 * (IKEY_VALUE with *value, *vlen borrowed for the memtable's lifetime, or IKEY_DELETION);
 * returns LAMINA_NOTFOUND if the memtable holds no such entry. A range tombstone of the
 * memtable that covers ukey, visible at snapshot_seq and newer than that entry (or with no
 * entry at all), answers IKEY_DELETION. */
int memtable_get(memtable *m, const void *ukey, size_t ulen, uint64_t snapshot_seq, int *type,
                 const uint8_t **value, size_t *vlen);

/* Range tombstones in the memtable. */
size_t memtable_range_del_count(const memtable *m);
/* Adds every range tombstone of m (all sequence numbers) to b. 0 or LAMINA_ENOMEM. */
struct range_del_builder;
int memtable_range_dels(memtable *m, struct range_del_builder *b);

/* Bytes of memory used (arena), compared with write_buffer_size. */
size_t memtable_memory(const memtable *m);
/* Number of entries, range tombstones included. */
size_t memtable_count(const memtable *m);

/* Marks the memtable immutable: no more adds; readers then skip synchronisation. */
void memtable_freeze(memtable *m);

/* An iterator over every entry (internal keys, all versions, tombstones included), in
 * internal-key order. Takes a reference on m, dropped on destroy. NULL on allocation failure. */
iter *memtable_iter_create(memtable *m);

/* Like memtable_iter_create, but the iterator holds only the entries whose user key starts
 * with prefix[0..plen) (copied): seek_to_first/seek_to_last go to the first/last of them, and
 * every move that would leave them makes the iterator not valid. Kinds that can visit only the
 * prefix's subtree (ART) do so. plen 0 is the whole memtable. NULL on allocation failure. */
iter *memtable_prefix_iter_create(memtable *m, const void *prefix, size_t plen);

#endif
