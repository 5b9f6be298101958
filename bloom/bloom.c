/* bloom.c — blocked Bloom filter (Putze, Sanders & Singler, WEA 2007): a key's k bits all fall
 * in one 512-bit block, so a probe touches one cache line. Layout: docs/format.md, Part 3. */
#include "bloom/bloom.h"

#include <math.h>

#include "util/err.h"
#include "util/hash.h"

#define BLOOM_BLOCK_BITS 512
#define BLOOM_BLOCK_BYTES 64
#define BLOOM_TRAILER 6
#define BLOOM_FORMAT 1
#define BLOOM_MAX_K 30
/* Golden-ratio multiplier: each probe remixes the 32-bit in-block hash by one multiply and
 * takes the top 9 bits, so probe positions are multiply-shift hashes of the low word. */
#define BLOOM_PROBE_MUL UINT32_C(0x9E3779B9)

uint64_t bloom_hash(const void *key, size_t len)
{
    return hash64(key, len);
}

static int bloom_clamp_bits(int bits_per_key)
{
    return bits_per_key < 1 ? 1 : bits_per_key > 64 ? 64 : bits_per_key;
}

/* k = round(bits_per_key * ln 2), the optimum of a standard Bloom filter, kept in 1..30. */
static int bloom_k(int bits_per_key)
{
    int k = (int)lround(bits_per_key * 0.69314718055994530942);
    return k < 1 ? 1 : k > BLOOM_MAX_K ? BLOOM_MAX_K : k;
}

/* The high word picks the block by multiply-shift (uniform without a division); the low word
 * drives the probes, so block and bit choices use disjoint hash bits. */
static inline uint32_t bloom_block_index(uint64_t hash, uint32_t nblocks)
{
    return (uint32_t)(((hash >> 32) * (uint64_t)nblocks) >> 32);
}

int bloom_build(const uint64_t *hashes, size_t n, int bits_per_key, buf *out)
{
    int bpk = bloom_clamp_bits(bits_per_key);
    int k = bloom_k(bpk);
    uint64_t bits = (uint64_t)n * (uint64_t)bpk;
    uint64_t nblocks = (bits + BLOOM_BLOCK_BITS - 1) / BLOOM_BLOCK_BITS;
    if (nblocks == 0) nblocks = 1;
    if (n > UINT64_MAX / 64 || nblocks > UINT32_MAX)
        return err_set(LAMINA_ENOMEM, "bloom filter over %zu keys exceeds 2^32 blocks", n);

    size_t size = (size_t)nblocks * BLOOM_BLOCK_BYTES;
    if (buf_reserve(out, size + BLOOM_TRAILER) != 0)
        return err_set(LAMINA_ENOMEM, "bloom filter: cannot allocate %zu bytes",
                       size + BLOOM_TRAILER);
    uint8_t *blocks = out->data + out->len;
    memset(blocks, 0, size);
    for (size_t i = 0; i < n; i++) {
        uint8_t *b =
            blocks + (size_t)bloom_block_index(hashes[i], (uint32_t)nblocks) * BLOOM_BLOCK_BYTES;
        uint32_t h = (uint32_t)hashes[i];
        for (int j = 0; j < k; j++) {
            h *= BLOOM_PROBE_MUL;
            uint32_t pos = h >> 23;
            b[pos >> 3] |= (uint8_t)(1u << (pos & 7));
        }
    }
    uint8_t *t = blocks + size;
    coding_put_fixed32(t, (uint32_t)nblocks);
    t[4] = (uint8_t)k;
    t[5] = BLOOM_FORMAT;
    out->len += size + BLOOM_TRAILER;
    return 0;
}

/* Fills r from the trailer; on a bad trailer leaves nblocks = 0 (answer 1) and returns -1. */
static int bloom_parse(bloom_reader *r, const uint8_t *filter, size_t len)
{
    r->blocks = filter;
    r->nblocks = 0;
    r->k = 0;
    if (!filter || len < BLOOM_TRAILER + BLOOM_BLOCK_BYTES) return -1;
    const uint8_t *t = filter + len - BLOOM_TRAILER;
    uint32_t nblocks = coding_get_fixed32(t);
    unsigned k = t[4];
    if (t[5] != BLOOM_FORMAT || k < 1 || k > BLOOM_MAX_K || nblocks == 0 ||
        (uint64_t)nblocks * BLOOM_BLOCK_BYTES != len - BLOOM_TRAILER)
        return -1;
    r->nblocks = nblocks;
    r->k = k;
    return 0;
}

int bloom_reader_init(bloom_reader *r, const uint8_t *filter, size_t len)
{
    if (bloom_parse(r, filter, len) != 0)
        return err_set(LAMINA_ECORRUPT,
                       "bloom filter of %zu bytes: trailer (block count, k, format) does not parse",
                       len);
    return 0;
}

int bloom_reader_may_contain(const bloom_reader *r, uint64_t hash)
{
    if (r->nblocks == 0) return 1;
    const uint8_t *b = r->blocks + (size_t)bloom_block_index(hash, r->nblocks) * BLOOM_BLOCK_BYTES;
    uint32_t h = (uint32_t)hash;
    /* No early exit: a fixed-trip loop of loads and ANDs, all within the block's line. */
    unsigned hit = 1;
    for (unsigned j = 0; j < r->k; j++) {
        h *= BLOOM_PROBE_MUL;
        uint32_t pos = h >> 23;
        hit &= (unsigned)(b[pos >> 3] >> (pos & 7));
    }
    return (int)(hit & 1);
}

int bloom_may_contain(const uint8_t *filter, size_t len, uint64_t hash)
{
    /* No message on a bad trailer: a probe does not fail, it answers 1. */
    bloom_reader r;
    bloom_parse(&r, filter, len);
    return bloom_reader_may_contain(&r, hash);
}

double bloom_fpr_theory(int bits_per_key)
{
    int bpk = bloom_clamp_bits(bits_per_key);
    int k = bloom_k(bpk);
    /* Block loads are Poisson with mean 512 / bits_per_key; a block holding j keys answers a
     * false positive with the standard Bloom rate for j keys in 512 bits. */
    double lambda = (double)BLOOM_BLOCK_BITS / bpk;
    double log_lambda = log(lambda);
    double miss = log1p(-1.0 / BLOOM_BLOCK_BITS); /* ln(1 - 1/512) */
    double fpr = 0.0, log_p = -lambda;            /* ln P(load = 0) */
    int jmax = (int)(lambda + 40.0 * sqrt(lambda) + 100.0);
    for (int j = 0; j <= jmax; j++) {
        if (j > 0) log_p += log_lambda - log((double)j);
        double one = -expm1(miss * k * j); /* 1 - (1 - 1/512)^(k j) */
        fpr += exp(log_p) * pow(one, k);
    }
    return fpr;
}
