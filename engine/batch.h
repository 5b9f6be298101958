/* batch.h — write batches: the public lamina_batch and its encoding, which is also the WAL
 * record of one group commit (LevelDB's WriteBatch layout; byte layout in docs/format.md, Part 1).
 *   header:  sequence number (fixed64) | count (fixed32)
 *   records: type (1 byte: IKEY_VALUE / IKEY_DELETION / IKEY_RANGE_DELETION) | key (lenbytes) |
 *            value (lenbytes, puts; the end key of a range deletion, whose key is its begin) */
#ifndef ENGINE_BATCH_H
#define ENGINE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "lamina.h"
#include "util/coding.h"

#define BATCH_HEADER_SIZE 12

/* Visible so the engine can keep a batch on the stack (lamina_put) or in its writer queue.
 * rep always holds at least the header once the batch is initialised. */
struct lamina_batch {
    buf rep;
};

/* Initialises an empty batch in place (sequence 0, count 0). 0 or LAMINA_ENOMEM. */
int batch_init(lamina_batch *b);
/* Releases what batch_init allocated (not b itself). */
void batch_free(lamina_batch *b);

/* The encoded bytes (header included), borrowed until the batch changes. */
static inline const uint8_t *batch_rep(const lamina_batch *b)
{
    return b->rep.data;
}
static inline size_t batch_len(const lamina_batch *b)
{
    return b->rep.len;
}

/* Header fields of an initialised batch. */
uint64_t batch_sequence(const lamina_batch *b);
void batch_set_sequence(lamina_batch *b, uint64_t seq);
uint32_t batch_count(const lamina_batch *b);

/* Header fields of an encoded batch (e.g. a WAL record): 0, or LAMINA_ECORRUPT when len is
 * shorter than the header. Either out pointer may be NULL. */
int batch_rep_header(const uint8_t *rep, size_t len, uint64_t *seq, uint32_t *count);

/* Checks an encoded batch read back (a WAL record) once, for every reader of one: the header,
 * every record (batch_iterate's rules) and its sequence numbers [seq, seq + count) lying in
 * 1..IKEY_MAX_SEQ. Sets *seq and *count (either may be NULL). 0 or LAMINA_ECORRUPT. */
int batch_rep_check(const uint8_t *rep, size_t len, uint64_t *seq, uint32_t *count);

/* Adds the records of a checked encoded batch to mem, numbered on from seq (WAL replay, check,
 * repair). 0, LAMINA_ECORRUPT or LAMINA_ENOMEM. */
struct memtable;
int batch_rep_insert(const uint8_t *rep, size_t len, struct memtable *mem, uint64_t seq);

/* Replaces b's contents with a copy of an encoded batch (WAL replay), after checking it with
 * batch_iterate's rules. 0, LAMINA_ECORRUPT or LAMINA_ENOMEM. */
int batch_set_rep(lamina_batch *b, const uint8_t *rep, size_t len);

/* Calls fn for each record of an encoded batch, in order; type is IKEY_VALUE, IKEY_DELETION or
 * IKEY_RANGE_DELETION (k the begin key, v the end key, begin < end), pointers borrow from rep
 * (v is NULL with vl 0 for deletions). The whole batch is checked
 * before fn is first called, so a malformed batch is never half applied: LAMINA_ECORRUPT (the
 * message names the byte offset) for a short header, an unknown type, a truncated or oversized
 * key/value, trailing bytes, or a record count different from the header's. A non-zero return
 * of fn stops the walk and is returned. fn may be NULL to only check. */
int batch_iterate(const uint8_t *rep, size_t len,
                  int (*fn)(void *ctx, int type, const uint8_t *k, size_t kl, const uint8_t *v,
                            size_t vl),
                  void *ctx);

/* Empties b and, when its buffer holds more than keep bytes, gives the memory back (a
 * per-thread batch that once carried a large value does not keep it). */
void batch_shrink(lamina_batch *b, size_t keep);

#endif
