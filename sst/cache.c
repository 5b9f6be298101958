/* cache.c — the block cache: power-of-two shards chosen by a mix of (file number, offset), each
 * an open-addressing hash table (linear probing, stored hashes, backward-shift deletion) plus a
 * recency list under one mutex, bounded by the bytes charged. Recency is LRU approximated by
 * second chance (CLOCK): a hit only marks the block, and eviction moves marked blocks back to
 * the front, so a hit costs no list surgery on cold neighbours. Blocks are reference counted so
 * an evicted block stays alive while a reader pins it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sst/cache.h"
#include "util/alloc.h"
#include "util/hash.h"

/* Least capacity of a shard: room for a large table's filter block (about 1.4 MB for a
 * 64 MiB table of 1.1M entries at 10 bits per key) with space to spare. */
#define BLOCK_CACHE_MIN_SHARD ((size_t)4 << 20)

/* Bookkeeping charged per block on top of its bytes. */
#define CACHE_OVERHEAD (sizeof(struct cache_block) + 2 * sizeof(void *))

/* A probe compares the stored hash bits first, so a miss touches no block header. The block's
 * size lets a hit start fetching the block's end (its restart array, which every reader
 * parses first) while the header is still on its way. */
struct cache_slot {
    uint32_t tag;  /* low 32 bits of the hash: the home slot, as tables stay below 2^32 slots */
    uint32_t size; /* of the block's contents, capped */
    struct cache_block *b; /* NULL: empty */
};

struct cache_shard {
    pthread_mutex_t mu;
    struct cache_slot *slots;
    size_t nslots, count; /* nslots is 0 or a power of two; count <= nslots / 2 */
    struct cache_lru lru; /* sentinel: lru.next is the most recent */
    size_t capacity;
    atomic_size_t usage;
    atomic_uint_least64_t hits, misses; /* written under mu */
    atomic_uint_least64_t inserts, evictions;
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

/* A 64-bit mix (MurmurHash3's finalizer) of the two numbers: inline and well spread in both
 * the top bits (shard) and the low bits (slot). */
static inline uint64_t cache_hash(uint64_t file_number, uint64_t offset)
{
    return hash_mix64(file_number * UINT64_C(0x9E3779B97F4A7C15) ^ offset);
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
    /* A block larger than its shard is never kept, and a shard mostly taken by one table's
     * filter thrashes every other block that hashes to it: fewer shards for a small cache. */
    while (bits > 0 && capacity_bytes >> bits < BLOCK_CACHE_MIN_SHARD)
        bits--;
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
        atomic_init(&s->inserts, 0);
        atomic_init(&s->evictions, 0);
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

/* Slot of (file_number, offset), or the empty slot where it would go. */
static size_t shard_find(const struct cache_shard *s, uint64_t h, uint64_t file_number,
                         uint64_t offset)
{
    size_t mask = s->nslots - 1, i = h & mask;
    for (;; i = (i + 1) & mask) {
        const struct cache_slot *sl = &s->slots[i];
        if (!sl->b) return i;
        if (sl->tag == (uint32_t)h) {
            if (sl->size) __builtin_prefetch(sl->b->data + sl->size - 1);
            if (sl->b->file_number == file_number && sl->b->offset == offset) return i;
        }
    }
}

/* Removes the block in slot i from the shard's table and list; the caller drops the cache's
 * reference after unlocking. Later entries of the probe run shift back over the hole, so
 * no tombstones are needed. */
static void shard_remove(struct cache_shard *s, size_t i)
{
    struct cache_block *b = s->slots[i].b;
    size_t mask = s->nslots - 1;
    for (size_t j = (i + 1) & mask; s->slots[j].b; j = (j + 1) & mask) {
        size_t home = s->slots[j].tag & mask;
        /* The entry at j may fill the hole at i unless its home lies cyclically in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        s->slots[i] = s->slots[j];
        i = j;
    }
    s->slots[i].b = NULL;
    lru_unlink(b);
    b->in_cache = 0;
    s->count--;
    atomic_store_explicit(&s->usage,
                          atomic_load_explicit(&s->usage, memory_order_relaxed) - b->charge,
                          memory_order_relaxed);
}

/* Doubles the slot array; a failed allocation keeps the old one (the caller then checks the
 * load again). */
static void shard_grow(struct cache_shard *s)
{
    size_t n = s->nslots ? s->nslots * 2 : 64;
    if (n - 1 > UINT32_MAX) return; /* homes come from 32-bit tags */
    struct cache_slot *ns = mem_calloc(n, sizeof(*ns));
    if (!ns) return;
    for (size_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i].b) continue;
        size_t j = s->slots[i].tag & (n - 1);
        while (ns[j].b)
            j = (j + 1) & (n - 1);
        ns[j] = s->slots[i];
    }
    mem_free(s->slots);
    s->slots = ns;
    s->nslots = n;
}

struct cache_block *block_cache_lookup(block_cache *c, uint64_t file_number, uint64_t offset)
{
    if (!c) return NULL;
    uint64_t h = cache_hash(file_number, offset);
    struct cache_shard *s = cache_shard_of(c, h);
    struct cache_block *b = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->nslots) {
        b = s->slots[shard_find(s, h, file_number, offset)].b;
        if (b) {
            cache_block_ref(b);
            if (!b->referenced) b->referenced = 1;
        }
    }
    /* Counted under the lock, so a plain load and store suffice (no locked add); the atomics
     * only let block_cache_stats read them without the lock. */
    atomic_uint_least64_t *n = b ? &s->hits : &s->misses;
    atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    pthread_mutex_unlock(&s->mu);
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
    if (2 * (s->count + 1) > s->nslots) shard_grow(s);
    if (2 * (s->count + 1) > s->nslots || b->in_cache) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    size_t i = shard_find(s, h, file_number, offset);
    if (s->slots[i].b) {
        struct cache_block *old = s->slots[i].b;
        shard_remove(s, i);
        old->hnext = drop;
        drop = old;
        i = shard_find(s, h, file_number, offset);
    }
    b->file_number = file_number;
    b->offset = offset;
    b->hash = h;
    b->charge = charge;
    b->in_cache = 1;
    b->referenced = 0;
    cache_block_ref(b);
    s->slots[i].tag = (uint32_t)h;
    s->slots[i].size = b->size < UINT32_MAX ? (uint32_t)b->size : 0;
    s->slots[i].b = b;
    lru_push_front(s, b);
    s->count++;
    atomic_store_explicit(&s->inserts, atomic_load_explicit(&s->inserts, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    size_t usage = atomic_load_explicit(&s->usage, memory_order_relaxed) + charge;
    atomic_store_explicit(&s->usage, usage, memory_order_relaxed);
    /* Each pass evicts a block or clears a mark, so the loop ends; b itself stays. */
    while (usage > s->capacity && s->count > 1) {
        struct cache_lru *l = s->lru.prev;
        if (l == &b->lru) l = l->prev;
        struct cache_block *victim = (struct cache_block *)l;
        if (victim->referenced) {
            victim->referenced = 0;
            lru_unlink(victim);
            lru_push_front(s, victim);
            continue;
        }
        shard_remove(s, shard_find(s, victim->hash, victim->file_number, victim->offset));
        victim->hnext = drop;
        drop = victim;
        atomic_store_explicit(&s->evictions,
                              atomic_load_explicit(&s->evictions, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        usage = atomic_load_explicit(&s->usage, memory_order_relaxed);
    }
    /* Unlinking the next victim writes to its list neighbour, a block untouched for a whole
     * cache turnover: start fetching it now rather than stall on it at the next eviction. */
    if (s->lru.prev != &s->lru) __builtin_prefetch(s->lru.prev->prev, 1);
    pthread_mutex_unlock(&s->mu);
    while (drop) {
        struct cache_block *next = drop->hnext;
        cache_block_release(drop);
        drop = next;
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

void block_cache_counts(const block_cache *c, uint64_t *inserts, uint64_t *evictions)
{
    uint64_t ins = 0, ev = 0;
    for (size_t i = 0; c && i < ((size_t)1 << c->shard_bits); i++) {
        ins += atomic_load_explicit(&c->shards[i].inserts, memory_order_relaxed);
        ev += atomic_load_explicit(&c->shards[i].evictions, memory_order_relaxed);
    }
    if (inserts) *inserts = ins;
    if (evictions) *evictions = ev;
}

void block_cache_destroy(block_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < ((size_t)1 << c->shard_bits); i++) {
        struct cache_shard *s = &c->shards[i];
        for (size_t j = 0; j < s->nslots; j++) {
            struct cache_block *b = s->slots[j].b;
            if (!b) continue;
            b->in_cache = 0;
            cache_block_release(b);
        }
        mem_free(s->slots);
        pthread_mutex_destroy(&s->mu);
    }
    mem_free(c->shards);
    mem_free(c);
}
