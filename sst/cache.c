/* cache.c — the block cache: power-of-two shards chosen by XXH3 of (file number, offset), each
 * a chained hash table plus an LRU list under one mutex, bounded by the bytes charged.
 * Blocks are reference counted so an evicted block stays alive while a reader pins it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "sst/cache.h"
#include "util/hash.h"

/* Bookkeeping charged per block on top of its bytes. */
#define CACHE_OVERHEAD (sizeof(struct cache_block) + 2 * sizeof(void *))

struct cache_shard {
    pthread_mutex_t mu;
    struct cache_block **buckets;
    size_t nbuckets, count;
    struct cache_lru lru; /* sentinel: lru.next is the most recent */
    size_t capacity;
    atomic_size_t usage;
    atomic_uint_least64_t hits, misses;
} __attribute__((aligned(64)));

struct block_cache {
    size_t capacity;
    unsigned shard_bits;
    struct cache_shard *shards;
};

struct cache_block *cache_block_alloc(size_t cap)
{
    struct cache_block *b = mem_alloc(sizeof(*b) + cap);
    if (!b) return NULL;
    memset(b, 0, sizeof(*b));
    atomic_init(&b->refs, 1);
    b->cap = cap;
    return b;
}

void cache_block_ref(struct cache_block *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void cache_block_release(struct cache_block *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) mem_free(b);
}

static uint64_t cache_hash(uint64_t file_number, uint64_t offset)
{
    uint64_t k[2] = {file_number, offset};
    return hash64(k, sizeof(k));
}

static struct cache_shard *cache_shard_of(const block_cache *c, uint64_t h)
{
    return &c->shards[c->shard_bits ? h >> (64 - c->shard_bits) : 0];
}

block_cache *block_cache_create(size_t capacity_bytes, int shards)
{
    unsigned bits = 0;
    if (shards <= 0) shards = 16;
    while ((1 << bits) < shards && bits < 12)
        bits++;
    block_cache *c = mem_calloc(1, sizeof(*c));
    if (!c) return NULL;
    size_t n = (size_t)1 << bits;
    c->shards = mem_aligned_alloc(64, n * sizeof(struct cache_shard));
    if (!c->shards) {
        mem_free(c);
        return NULL;
    }
    c->capacity = capacity_bytes;
    c->shard_bits = bits;
    for (size_t i = 0; i < n; i++) {
        struct cache_shard *s = &c->shards[i];
        memset(s, 0, sizeof(*s));
        pthread_mutex_init(&s->mu, NULL);
        s->lru.next = s->lru.prev = &s->lru;
        s->capacity = capacity_bytes / n;
        atomic_init(&s->usage, 0);
        atomic_init(&s->hits, 0);
        atomic_init(&s->misses, 0);
    }
    return c;
}

static void lru_unlink(struct cache_block *b)
{
    b->lru.prev->next = b->lru.next;
    b->lru.next->prev = b->lru.prev;
}

static void lru_push_front(struct cache_shard *s, struct cache_block *b)
{
    b->lru.next = s->lru.next;
    b->lru.prev = &s->lru;
    b->lru.next->prev = &b->lru;
    s->lru.next = &b->lru;
}

static struct cache_block **shard_find(struct cache_shard *s, uint64_t h, uint64_t file_number,
                                       uint64_t offset)
{
    struct cache_block **p = &s->buckets[h & (s->nbuckets - 1)];
    while (*p && ((*p)->file_number != file_number || (*p)->offset != offset))
        p = &(*p)->hnext;
    return p;
}

/* Removes b from the shard's table and list; the caller drops the cache's reference after
 * unlocking. */
static void shard_remove(struct cache_shard *s, struct cache_block **slot)
{
    struct cache_block *b = *slot;
    *slot = b->hnext;
    lru_unlink(b);
    b->in_cache = 0;
    s->count--;
    atomic_store_explicit(&s->usage,
                          atomic_load_explicit(&s->usage, memory_order_relaxed) - b->charge,
                          memory_order_relaxed);
}

/* Doubles the bucket array when the load passes 1; a failed allocation keeps the old one. */
static void shard_grow(struct cache_shard *s)
{
    size_t n = s->nbuckets ? s->nbuckets * 2 : 64;
    struct cache_block **nb = mem_calloc(n, sizeof(*nb));
    if (!nb) return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct cache_block *b = s->buckets[i];
        while (b) {
            struct cache_block *next = b->hnext;
            b->hnext = nb[b->hash & (n - 1)];
            nb[b->hash & (n - 1)] = b;
            b = next;
        }
    }
    mem_free(s->buckets);
    s->buckets = nb;
    s->nbuckets = n;
}

struct cache_block *block_cache_lookup(block_cache *c, uint64_t file_number, uint64_t offset)
{
    if (!c) return NULL;
    uint64_t h = cache_hash(file_number, offset);
    struct cache_shard *s = cache_shard_of(c, h);
    struct cache_block *b = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->nbuckets) {
        b = *shard_find(s, h, file_number, offset);
        if (b) {
            cache_block_ref(b);
            lru_unlink(b);
            lru_push_front(s, b);
        }
    }
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add_explicit(b ? &s->hits : &s->misses, 1, memory_order_relaxed);
    return b;
}

void block_cache_insert(block_cache *c, uint64_t file_number, uint64_t offset,
                        struct cache_block *b)
{
    if (!c) return;
    uint64_t h = cache_hash(file_number, offset);
    struct cache_shard *s = cache_shard_of(c, h);
    size_t charge = b->cap + CACHE_OVERHEAD;
    if (charge > s->capacity) return;
    /* Blocks dropped under the lock are released after it, so mem_free() runs unlocked. */
    struct cache_block *drop = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->count >= s->nbuckets) shard_grow(s);
    if (!s->nbuckets || b->in_cache) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    struct cache_block **slot = shard_find(s, h, file_number, offset);
    if (*slot) {
        struct cache_block *old = *slot;
        shard_remove(s, slot);
        old->hnext = drop;
        drop = old;
        slot = shard_find(s, h, file_number, offset);
    }
    b->file_number = file_number;
    b->offset = offset;
    b->hash = h;
    b->charge = charge;
    b->in_cache = 1;
    cache_block_ref(b);
    b->hnext = *slot;
    *slot = b;
    lru_push_front(s, b);
    s->count++;
    size_t usage = atomic_load_explicit(&s->usage, memory_order_relaxed) + charge;
    atomic_store_explicit(&s->usage, usage, memory_order_relaxed);
    while (usage > s->capacity && s->lru.prev != &b->lru) {
        struct cache_block *victim = (struct cache_block *)s->lru.prev;
        shard_remove(s, shard_find(s, victim->hash, victim->file_number, victim->offset));
        victim->hnext = drop;
        drop = victim;
        usage = atomic_load_explicit(&s->usage, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->mu);
    while (drop) {
        struct cache_block *next = drop->hnext;
        cache_block_release(drop);
        drop = next;
    }
}

void block_cache_erase_file(block_cache *c, uint64_t file_number)
{
    if (!c) return;
    for (size_t i = 0; i < ((size_t)1 << c->shard_bits); i++) {
        struct cache_shard *s = &c->shards[i];
        struct cache_block *drop = NULL;
        pthread_mutex_lock(&s->mu);
        for (size_t j = 0; j < s->nbuckets; j++) {
            struct cache_block **p = &s->buckets[j];
            while (*p) {
                if ((*p)->file_number != file_number) {
                    p = &(*p)->hnext;
                    continue;
                }
                struct cache_block *b = *p;
                shard_remove(s, p);
                b->hnext = drop;
                drop = b;
            }
        }
        pthread_mutex_unlock(&s->mu);
        while (drop) {
            struct cache_block *next = drop->hnext;
            cache_block_release(drop);
            drop = next;
        }
    }
}

void block_cache_stats(const block_cache *c, uint64_t *hits, uint64_t *misses, uint64_t *bytes)
{
    uint64_t h = 0, m = 0, u = 0;
    if (c) {
        for (size_t i = 0; i < ((size_t)1 << c->shard_bits); i++) {
            struct cache_shard *s = &c->shards[i];
            h += atomic_load_explicit(&s->hits, memory_order_relaxed);
            m += atomic_load_explicit(&s->misses, memory_order_relaxed);
            u += atomic_load_explicit(&s->usage, memory_order_relaxed);
        }
    }
    if (hits) *hits = h;
    if (misses) *misses = m;
    if (bytes) *bytes = u;
}

void block_cache_destroy(block_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < ((size_t)1 << c->shard_bits); i++) {
        struct cache_shard *s = &c->shards[i];
        for (size_t j = 0; j < s->nbuckets; j++) {
            struct cache_block *b = s->buckets[j];
            while (b) {
                struct cache_block *next = b->hnext;
                b->in_cache = 0;
                cache_block_release(b);
                b = next;
            }
        }
        mem_free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    mem_free(c->shards);
    mem_free(c);
}
