/* range_del.h — range tombstones (RocksDB's DeleteRange): a tombstone (begin, end, seq) deletes
 * every user key k with begin <= k < end written before seq. A set of them is fragmented into
 * a sorted list of non-overlapping fragments, each with the sequence numbers of every tombstone
 * covering it (RocksDB's FragmentedRangeTombstoneList), so that "which tombstones cover k" is
 * one binary search. */
#ifndef UTIL_RANGE_DEL_H
#define UTIL_RANGE_DEL_H

#include <stddef.h>
#include <stdint.h>

#include "util/coding.h"

/* [begin, end) of user keys, covered by the tombstones seqs[0..nseqs), newest first. */
struct range_del_frag {
    const uint8_t *begin, *end;
    size_t begin_len, end_len;
    const uint64_t *seqs;
    size_t nseqs;
};

/* Fragments in user-key order, non-overlapping; owned keys and sequence numbers. Read-only once
 * built, so any number of threads may read one. */
typedef struct range_del_list {
    struct range_del_frag *frags;
    size_t n;
    uint64_t *seqs;
    uint8_t *keys;
    size_t ntombstones; /* tombstones added to the builder (empty ranges not counted) */
} range_del_list;

/* Collects tombstones in any order, then fragments them. Zero-initialise, or
 * range_del_builder_init. */
struct range_del_raw {
    size_t begin_off, begin_len, end_off, end_len;
    uint64_t seq;
};
typedef struct range_del_builder {
    struct range_del_raw *v;
    size_t n, cap;
    buf keys;
} range_del_builder;

void range_del_builder_init(range_del_builder *b);
/* Adds the tombstone [begin, end) at seq (bytes copied). An empty range (begin >= end) covers
 * nothing and is skipped. 0 or LAMINA_ENOMEM. */
int range_del_builder_add(range_del_builder *b, const void *begin, size_t begin_len,
                          const void *end, size_t end_len, uint64_t seq);
/* Adds every tombstone of list l (its fragments, one per sequence number). */
int range_del_builder_add_list(range_del_builder *b, const range_del_list *l);
/* Fragments what was added into *out (freed with range_del_list_free; an empty list when
 * nothing was added) and empties the builder. 0 or LAMINA_ENOMEM. */
int range_del_builder_finish(range_del_builder *b, range_del_list **out);
void range_del_builder_free(range_del_builder *b);

void range_del_list_free(range_del_list *l);

/* The fragment holding user key k, or NULL. l may be NULL. */
const struct range_del_frag *range_del_find(const range_del_list *l, const void *k, size_t klen);
/* Index of the first fragment whose end is > k (l->n when none). */
size_t range_del_lower_bound(const range_del_list *l, const void *k, size_t klen);
/* The newest tombstone covering k that a reader at read_seq sees (seq <= read_seq), or 0. */
uint64_t range_del_max_seq(const range_del_list *l, const void *k, size_t klen, uint64_t read_seq);

#endif
