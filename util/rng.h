/* rng.h — a small deterministic PRNG (splitmix64 seeding xoshiro256**, Blackman & Vigna 2018)
 * for tests, benchmarks and the experiments binary. Not for anything secret. */
#ifndef UTIL_RNG_H
#define UTIL_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform in [0, n), n > 0. */
uint64_t rng_uniform(rng *r, uint64_t n);

#endif
