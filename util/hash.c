/* hash.c — XXH3 (xxHash, Collet) 64-bit hashes for Bloom filters, the block cache and
 * checksums. */
#include "util/hash.h"

#include <xxhash.h>

uint64_t hash64(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

uint64_t hash64_seed(const void *p, size_t n, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, n, seed);
}
