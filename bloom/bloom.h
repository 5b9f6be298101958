/* bloom.h — blocked Bloom filter over XXH3 (Putze, Sanders & Singler, "Cache-, Hash- and
 * Space-Efficient Bloom Filters", WEA 2007): each key sets k bits within one 512-bit
 * (cache-line) block chosen by its hash. Filters are built from 64-bit key hashes. */
#ifndef BLOOM_BLOOM_H
#define BLOOM_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#include "util/coding.h"

/* The hash of a user key used by both build and probe (XXH3-64). */
uint64_t bloom_hash(const void *key, size_t len);

/* Appends to out a serialized filter over n key hashes at bits_per_key (1..64): the bit
 * blocks followed by a small trailer recording k and the block count, so a reader needs no
 * options. Returns 0 or LAMINA_ENOMEM. */
int bloom_build(const uint64_t *hashes, size_t n, int bits_per_key, buf *out);

/* Probes a serialized filter: 0 if the key is certainly absent, 1 if it may be present.
 * A filter that does not parse (bad trailer) answers 1, so corruption never hides a key. */
int bloom_may_contain(const uint8_t *filter, size_t len, uint64_t hash);

/* A parsed filter, for probing one filter many times without re-reading its trailer: each
 * probe then touches only the key's block. The filter bytes stay borrowed by the caller. */
typedef struct bloom_reader {
    const uint8_t *blocks;
    uint32_t nblocks; /* 0: the filter did not parse, and every probe answers 1 */
    unsigned k;
} bloom_reader;

/* Parses filter[0..len). Returns 0, or LAMINA_ECORRUPT (with a message) if the trailer does
 * not parse; the reader is usable either way and then answers 1 for every key. */
int bloom_reader_init(bloom_reader *r, const uint8_t *filter, size_t len);
/* 0 if the key is certainly absent, 1 if it may be present. */
int bloom_reader_may_contain(const bloom_reader *r, uint64_t hash);

/* Theoretical false-positive rate of this blocked filter for bits_per_key and its k (the
 * Poisson mixture over block loads of Putze et al.), for tests and tuning. */
double bloom_fpr_theory(int bits_per_key);

/* ---- Monkey: filter bits per level (bloom/monkey.c) ------------------------------------ */
/* Dayan, Athanassoulis & Idreos, "Monkey", SIGMOD 2017: with the same total filter memory as
 * bits_per_key on every key, a lookup's expected false positives (summed over the runs it
 * probes) are least when each run's false-positive rate is proportional to its size: deeper,
 * larger levels get fewer bits per key, upper levels more. Level i holds keys[i] keys in
 * runs[i] runs of equal size (a level with no keys or runs is skipped and gets bits_per_key). */
#define MONKEY_MAX_LEVELS 20
#define MONKEY_MAX_BITS 64
/* The continuous optimum: bits[i] = bits_per_key + (H - ln s_i) / (ln 2)^2, s_i = keys[i] /
 * runs[i] and H the key-weighted mean of ln s over the levels, with levels below 0 bits (no
 * filter) or above MONKEY_MAX_BITS pinned there and the rest solved again. */
void monkey_bits_exact(int nlevels, const uint64_t *keys, const int *runs, double bits_per_key,
                       double *bits);
/* Whole bits per key per level: the optimum rounded down, then the rest of the budget given a
 * bit at a time where it lowers the summed false-positive rate most per bit of memory.
 * sum keys[i] * bits[i] <= bits_per_key * sum keys[i]. */
void monkey_bits(int nlevels, const uint64_t *keys, const int *runs, int bits_per_key, int *bits);

#endif
