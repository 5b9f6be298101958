/* table_cache.c — open table readers keyed by file number, bounded by max_open_files (LevelDB's
 * and RocksDB's TableCache): power-of-two shards chosen by a hash of the file number, each a
 * chained hash table plus an LRU list under one mutex; readers open outside the lock. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "lamina.h"
#include "sst/reader.h"
#include "sst/table.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/hash.h"

#define TC_MAX_SHARDS 16
/* Fewer shards for a small bound, so that each shard's share stays at least this many readers
 * and the LRU order stays close to a global one. */
#define TC_MIN_PER_SHARD 8

/* One cached file. t is NULL while one thread opens it; others that want it wait. */
struct tc_entry {
    uint64_t file_number;
    table *t;                     /* the cache's reference */
    struct tc_entry *hnext;       /* bucket chain */
    struct tc_entry *prev, *next; /* recency list, ready entries only (next: older) */
    int doomed;                   /* evicted while being opened: not to be kept */
};

struct tc_shard {
    pthread_mutex_t mu;
    pthread_cond_t opened; /* an entry being opened became ready or went away */
    struct tc_entry **buckets;
    size_t nbuckets, count; /* count: every entry, ready or being opened */
    size_t ready;           /* entries holding a reader (on the list) */
    size_t capacity;        /* of ready entries; SIZE_MAX: no bound */
    struct tc_entry lru;    /* sentinel: lru.next is the most recent */
    atomic_uint_least64_t opens, hits;
} __attribute__((aligned(64)));

/* The count of open readers, shared with the readers so that it outlives the cache when a
 * reader in use outlives table_cache_destroy. */
struct tc_counter {
    atomic_int refs; /* the cache's, plus one per open reader */
    atomic_uint_least64_t open;
};

struct table_cache {
    char *dir;
    block_cache *cache;
    int file_flags; /* RFILE_* of every table it opens */
    int64_t max_open;
    unsigned shard_bits;
    struct tc_counter *counter;
    struct tc_shard *shards;
};

/* File numbers are consecutive: the mix spreads them over the shard and bucket bits. */
static inline uint64_t tc_hash(uint64_t file_number)
{
    return hash_mix64(file_number);
}

static struct tc_shard *tc_shard_of(const table_cache *tc, uint64_t h)
{
    return &tc->shards[tc->shard_bits ? h >> (64 - tc->shard_bits) : 0];
}

static void tc_counter_unref(struct tc_counter *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) mem_free(c);
}

/* Called by a reader of this cache once it has closed. */
static void tc_reader_closed(void *ctx)
{
    struct tc_counter *c = ctx;
    atomic_fetch_sub_explicit(&c->open, 1, memory_order_relaxed);
    tc_counter_unref(c);
}

table_cache *table_cache_create(const char *dir, int64_t max_open, block_cache *cache,
                                int file_flags)
{
    table_cache *tc = mem_calloc(1, sizeof(*tc));
    if (!tc) return NULL;
    unsigned bits = 0;
    while (bits < 4 && (max_open < 0 || max_open >> (bits + 1) >= TC_MIN_PER_SHARD))
        bits++;
    size_t n = (size_t)1 << bits;
    tc->dir = mem_strdup(dir);
    tc->counter = mem_calloc(1, sizeof(*tc->counter));
    tc->shards = mem_aligned_alloc(64, n * sizeof(struct tc_shard));
    if (!tc->dir || !tc->counter || !tc->shards) {
        mem_free(tc->dir);
        mem_free(tc->counter);
        mem_free(tc->shards);
        mem_free(tc);
        return NULL;
    }
    atomic_init(&tc->counter->refs, 1);
    atomic_init(&tc->counter->open, 0);
    tc->cache = cache;
    tc->file_flags = file_flags;
    tc->max_open = max_open < 0 ? -1 : max_open;
    tc->shard_bits = bits;
    for (size_t i = 0; i < n; i++) {
        struct tc_shard *s = &tc->shards[i];
        memset(s, 0, sizeof(*s));
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->opened, NULL);
        s->lru.next = s->lru.prev = &s->lru;
        /* The shares add up to max_open exactly. */
        s->capacity = max_open < 0
                          ? SIZE_MAX
                          : (size_t)(max_open >> bits) + (i < ((uint64_t)max_open & (n - 1)));
        atomic_init(&s->opens, 0);
        atomic_init(&s->hits, 0);
    }
    return tc;
}

static void lru_unlink(struct tc_entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void lru_push_front(struct tc_shard *s, struct tc_entry *e)
{
    e->next = s->lru.next;
    e->prev = &s->lru;
    e->next->prev = e;
    s->lru.next = e;
}

/* The bucket slot holding the entry of file_number, or the empty end of its chain. */
static struct tc_entry **tc_slot(struct tc_shard *s, uint64_t h, uint64_t file_number)
{
    struct tc_entry **p = &s->buckets[h & (s->nbuckets - 1)];
    while (*p && (*p)->file_number != file_number)
        p = &(*p)->hnext;
    return p;
}

/* Doubles the bucket array; a failed allocation keeps the old one (chains grow longer). */
static void tc_grow(struct tc_shard *s)
{
    size_t n = s->nbuckets ? s->nbuckets * 2 : 16;
    struct tc_entry **nb = mem_calloc(n, sizeof(*nb));
    if (!nb) return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct tc_entry *e = s->buckets[i];
        while (e) {
            struct tc_entry *next = e->hnext;
            size_t j = tc_hash(e->file_number) & (n - 1);
            e->hnext = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    mem_free(s->buckets);
    s->buckets = nb;
    s->nbuckets = n;
}

/* Takes e out of the shard's table (and its list if ready); the caller frees it and drops its
 * reader after unlocking. */
static void tc_remove(struct tc_shard *s, struct tc_entry *e)
{
    struct tc_entry **p = tc_slot(s, tc_hash(e->file_number), e->file_number);
    *p = e->hnext;
    s->count--;
    if (e->t) {
        lru_unlink(e);
        s->ready--;
    }
}

/* Opens the reader of file_number and counts it among the open ones. */
static int tc_open(table_cache *tc, uint64_t file_number, int pin_meta, table **out)
{
    size_t cap = strlen(tc->dir) + 32;
    char *path = mem_alloc(cap);
    if (!path) return err_set(LAMINA_ENOMEM, "table cache: out of memory");
    snprintf(path, cap, "%s/%06" PRIu64 ".sst", tc->dir, file_number);
    int rc = table_open_ex(path, file_number, tc->cache, pin_meta, tc->file_flags, out);
    mem_free(path);
    if (rc) return rc;
    atomic_fetch_add_explicit(&tc->counter->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&tc->counter->open, 1, memory_order_relaxed);
    table_on_close(*out, tc_reader_closed, tc->counter);
    return 0;
}

/* Drops the readers of a list of removed entries (linked by hnext): closing files happens
 * here, outside the shard's lock. */
static void tc_release(struct tc_entry *drop)
{
    while (drop) {
        struct tc_entry *next = drop->hnext;
        table_unref(drop->t);
        mem_free(drop);
        drop = next;
    }
}

int table_cache_get(table_cache *tc, uint64_t file_number, int pin_meta, table **out)
{
    *out = NULL;
    uint64_t h = tc_hash(file_number);
    struct tc_shard *s = tc_shard_of(tc, h);
    int rc;
    if (s->capacity == 0) { /* max_open 0: every get opens, nothing is kept */
        atomic_fetch_add_explicit(&s->opens, 1, memory_order_relaxed);
        return tc_open(tc, file_number, pin_meta, out);
    }
    pthread_mutex_lock(&s->mu);
    struct tc_entry *e = NULL;
    while (s->nbuckets && (e = *tc_slot(s, h, file_number)) && !e->t)
        pthread_cond_wait(&s->opened, &s->mu); /* another thread is opening it */
    if (e) {
        if (s->lru.next != e) {
            lru_unlink(e);
            lru_push_front(s, e);
        }
        table_ref(e->t);
        *out = e->t;
        pthread_mutex_unlock(&s->mu);
        atomic_fetch_add_explicit(&s->hits, 1, memory_order_relaxed);
        return 0;
    }
    /* A miss: leave a placeholder so that others wanting this file wait for this open. */
    if (s->count + 1 > s->nbuckets) tc_grow(s);
    e = s->nbuckets ? mem_calloc(1, sizeof(*e)) : NULL;
    if (!e) {
        pthread_mutex_unlock(&s->mu);
        return err_set(LAMINA_ENOMEM, "table cache: out of memory");
    }
    e->file_number = file_number;
    *tc_slot(s, h, file_number) = e;
    s->count++;
    pthread_mutex_unlock(&s->mu);

    table *t;
    rc = tc_open(tc, file_number, pin_meta, &t);
    atomic_fetch_add_explicit(&s->opens, 1, memory_order_relaxed);

    struct tc_entry *drop = NULL;
    pthread_mutex_lock(&s->mu);
    if (rc || e->doomed) {
        tc_remove(s, e);
        mem_free(e);
    } else {
        e->t = t;
        table_ref(t); /* the caller's; the cache keeps the one open returned */
        lru_push_front(s, e);
        s->ready++;
        while (s->ready > s->capacity) {
            /* The least recently used reader goes; one in use stays open until its last
             * table_unref, so the bound holds for the readers the cache keeps. */
            struct tc_entry *victim = s->lru.prev;
            tc_remove(s, victim);
            victim->hnext = drop;
            drop = victim;
        }
    }
    pthread_cond_broadcast(&s->opened);
    pthread_mutex_unlock(&s->mu);
    tc_release(drop);
    if (rc) return rc;
    *out = t;
    return 0;
}

void table_cache_evict(table_cache *tc, uint64_t file_number)
{
    uint64_t h = tc_hash(file_number);
    struct tc_shard *s = tc_shard_of(tc, h);
    struct tc_entry *drop = NULL;
    pthread_mutex_lock(&s->mu);
    struct tc_entry *e = s->nbuckets ? *tc_slot(s, h, file_number) : NULL;
    if (e && e->t) {
        tc_remove(s, e);
        e->hnext = NULL;
        drop = e;
    } else if (e) {
        e->doomed = 1; /* being opened: its opener hands it out but does not keep it */
    }
    pthread_mutex_unlock(&s->mu);
    tc_release(drop);
}

void table_cache_stats(table_cache *tc, uint64_t *open, int64_t *capacity, uint64_t *opens,
                       uint64_t *hits)
{
    uint64_t o = 0, h = 0;
    for (size_t i = 0; i < ((size_t)1 << tc->shard_bits); i++) {
        o += atomic_load_explicit(&tc->shards[i].opens, memory_order_relaxed);
        h += atomic_load_explicit(&tc->shards[i].hits, memory_order_relaxed);
    }
    if (open) *open = atomic_load_explicit(&tc->counter->open, memory_order_relaxed);
    if (capacity) *capacity = tc->max_open;
    if (opens) *opens = o;
    if (hits) *hits = h;
}

void table_cache_destroy(table_cache *tc)
{
    if (!tc) return;
    for (size_t i = 0; i < ((size_t)1 << tc->shard_bits); i++) {
        struct tc_shard *s = &tc->shards[i];
        struct tc_entry *drop = NULL;
        for (size_t b = 0; b < s->nbuckets; b++) {
            struct tc_entry *e = s->buckets[b];
            while (e) {
                struct tc_entry *next = e->hnext;
                e->hnext = drop;
                drop = e;
                e = next;
            }
        }
        tc_release(drop);
        mem_free(s->buckets);
        pthread_cond_destroy(&s->opened);
        pthread_mutex_destroy(&s->mu);
    }
    tc_counter_unref(tc->counter);
    mem_free(tc->shards);
    mem_free(tc->dir);
    mem_free(tc);
}
