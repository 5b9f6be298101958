/* hash.h — XXH3 hashes and checksums. Checksums are the low 32 bits of XXH3-64 with a seed,
 * so a block's checksum can mix in the file's number and the block's offset. */
#ifndef UTIL_HASH_H
#define UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash64(const void *p, size_t n);                     /* XXH3_64bits */
uint64_t hash64_seed(const void *p, size_t n, uint64_t seed); /* XXH3_64bits_withSeed */
/* 32-bit checksum of p[0..n) under seed (0 where no identity is mixed in). */
static inline uint32_t checksum32(const void *p, size_t n, uint64_t seed)
{
    return (uint32_t)hash64_seed(p, n, seed);
}
/* Seed for a table block: file number and block offset mixed so that a valid block read from
 * another file or offset fails its checksum. */
static inline uint64_t checksum_block_seed(uint64_t file_number, uint64_t offset)
{
    return (file_number * UINT64_C(0x9E3779B97F4A7C15)) ^ (offset + UINT64_C(0x632BE59BD9B4E019));
}

/* MurmurHash3's 64-bit finalizer (Appleby): spreads consecutive numbers over every bit, so both
 * the top bits (a shard) and the low bits (a bucket) of the result can be used. */
static inline uint64_t hash_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

#endif
