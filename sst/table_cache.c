/* table_cache.c — PLACEHOLDER until the sst room's table cache lands: every reader stays open
 * (max_open is ignored). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lamina.h"
#include "sst/table.h"
#include "util/alloc.h"
#include "util/err.h"

struct tc_entry {
    uint64_t number;
    table *t;
};

struct table_cache {
    char *dir;
    block_cache *cache;
    pthread_mutex_t mu;
    struct tc_entry *e;
    size_t n, cap;
    uint64_t opens, hits;
};

table_cache *table_cache_create(const char *dir, int64_t max_open, block_cache *cache)
{
    table_cache *tc = mem_calloc(1, sizeof(*tc));
    if (!tc) return NULL;
    tc->dir = mem_strdup(dir);
    tc->cache = cache;
    pthread_mutex_init(&tc->mu, NULL);
    return tc;
}

void table_cache_destroy(table_cache *tc)
{
    if (!tc) return;
    for (size_t i = 0; i < tc->n; i++)
        table_unref(tc->e[i].t);
    mem_free(tc->e);
    mem_free(tc->dir);
    pthread_mutex_destroy(&tc->mu);
    mem_free(tc);
}

int table_cache_get(table_cache *tc, uint64_t number, int pin_meta, table **out)
{
    pthread_mutex_lock(&tc->mu);
    for (size_t i = 0; i < tc->n; i++)
        if (tc->e[i].number == number) {
            table_ref(tc->e[i].t);
            *out = tc->e[i].t;
            tc->hits++;
            pthread_mutex_unlock(&tc->mu);
            return 0;
        }
    char path[4200];
    snprintf(path, sizeof(path), "%s/%06llu.sst", tc->dir, (unsigned long long)number);
    table *t;
    int rc = table_open(path, number, tc->cache, &t);
    if (rc == 0 && tc->n == tc->cap) {
        size_t cap = tc->cap ? tc->cap * 2 : 64;
        struct tc_entry *e = mem_realloc(tc->e, cap * sizeof(*e));
        if (!e) {
            table_unref(t);
            rc = err_set(LAMINA_ENOMEM, "table cache: out of memory");
        } else {
            tc->e = e;
            tc->cap = cap;
        }
    }
    if (rc == 0) {
        tc->e[tc->n++] = (struct tc_entry){number, t};
        tc->opens++;
        table_ref(t);
        *out = t;
    }
    pthread_mutex_unlock(&tc->mu);
    return rc;
}

void table_cache_evict(table_cache *tc, uint64_t number)
{
    pthread_mutex_lock(&tc->mu);
    for (size_t i = 0; i < tc->n; i++)
        if (tc->e[i].number == number) {
            table_unref(tc->e[i].t);
            tc->e[i] = tc->e[--tc->n];
            break;
        }
    pthread_mutex_unlock(&tc->mu);
}

void table_cache_stats(table_cache *tc, uint64_t *open, int64_t *capacity, uint64_t *opens,
                       uint64_t *hits)
{
    pthread_mutex_lock(&tc->mu);
    *open = tc->n;
    *capacity = -1;
    *opens = tc->opens;
    *hits = tc->hits;
    pthread_mutex_unlock(&tc->mu);
}
