/* concurrent.c — the concurrency scenario of the memtable tests: one writer inserting while
 * reader threads iterate and get; readers must always see a sorted sequence and every entry the
 * writer has published, before and after the memtable is frozen. Plain C (no Criterion), so
 * the same scenario also runs as a standalone program under ThreadSanitizer. */
#include "concurrent.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "memtable/memtable.h"
#include "util/ikey.h"

#define CONC_ENTRIES 20000
#define CONC_READERS 3

struct conc {
    memtable *m;
    atomic_size_t published; /* entries 0..published-1 are in the memtable */
    atomic_int done;         /* writer finished and froze the memtable */
    atomic_int failures;
    atomic_int readers_started;
    atomic_int overlapped_scans; /* scans that began before the writer finished */
};

/* Entry i: a scrambled 8-byte big-endian key (so inserts land all over the tree) whose value
 * is its index. */
static void conc_key(size_t i, uint8_t k[8])
{
    coding_put_be64(k, (uint64_t)i * UINT64_C(0x9E3779B97F4A7C15));
}

static void *conc_writer(void *arg)
{
    struct conc *c = arg;
    while (atomic_load(&c->readers_started) < CONC_READERS)
        sched_yield();
    for (size_t i = 0; i < CONC_ENTRIES; i++) {
        if (i % 256 == 0) sched_yield(); /* let readers in between batches */
        uint8_t k[8], v[8];
        conc_key(i, k);
        coding_put_fixed64(v, i);
        if (memtable_add(c->m, i + 1, IKEY_VALUE, k, 8, v, 8) != 0)
            atomic_fetch_add(&c->failures, 1);
        atomic_store_explicit(&c->published, i + 1, memory_order_release);
    }
    memtable_freeze(c->m);
    atomic_store(&c->done, 1);
    return NULL;
}

/* One full scan: keys strictly ascending, and at least as many as were published at start. */
static int conc_scan(struct conc *c)
{
    size_t before = atomic_load_explicit(&c->published, memory_order_acquire), seen = 0;
    iter *it = memtable_iter_create(c->m);
    if (!it) return -1;
    uint8_t last[8];
    int bad = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), seen++) {
        size_t klen;
        const uint8_t *k = iter_key(it, &klen);
        if (klen != 8 + IKEY_TRAILER || (seen && memcmp(last, k, 8) >= 0)) bad = 1;
        memcpy(last, k, 8);
    }
    /* Backwards from the end over a few steps. */
    iter_seek_to_last(it);
    for (int s = 0; s < 50 && iter_valid(it); s++) {
        size_t klen;
        const uint8_t *k = iter_key(it, &klen);
        if (s && memcmp(k, last, 8) >= 0) bad = 1;
        memcpy(last, k, 8);
        iter_prev(it);
    }
    iter_destroy(it);
    return bad || seen < before ? -1 : 0;
}

static void *conc_reader(void *arg)
{
    struct conc *c = arg;
    uint64_t x = 1 + (uint64_t)atomic_fetch_add(&c->readers_started, 1); /* per-reader stream */
    int rounds_after_done = 0;
    while (rounds_after_done < 2) {
        if (atomic_load(&c->done))
            rounds_after_done++;
        else
            atomic_fetch_add(&c->overlapped_scans, 1);
        if (conc_scan(c) != 0) atomic_fetch_add(&c->failures, 1);
        for (int q = 0; q < 2000; q++) {
            size_t pub = atomic_load_explicit(&c->published, memory_order_acquire);
            if (pub == 0) continue;
            x = x * 6364136223846793005u + 1442695040888963407u;
            size_t i = (size_t)((x >> 33) % pub);
            uint8_t k[8];
            conc_key(i, k);
            int type;
            const uint8_t *v;
            size_t vlen;
            if (memtable_get(c->m, k, 8, UINT64_MAX, &type, &v, &vlen) != 0 || type != IKEY_VALUE ||
                vlen != 8 || coding_get_fixed64(v) != i)
                atomic_fetch_add(&c->failures, 1);
        }
    }
    return NULL;
}

int memtable_concurrent_run(int *overlapped)
{
    struct conc c = {.m = memtable_create(MEMTABLE_AVL)};
    pthread_t w, r[CONC_READERS];
    int started = 0, failures = -1;
    if (!c.m) return -1;
    for (; started < CONC_READERS; started++)
        if (pthread_create(&r[started], NULL, conc_reader, &c) != 0) goto out;
    if (pthread_create(&w, NULL, conc_writer, &c) != 0) goto out;
    pthread_join(w, NULL);
    failures = memtable_count(c.m) != CONC_ENTRIES;

out:
    if (failures < 0) { /* let readers already started finish */
        atomic_store(&c.readers_started, CONC_READERS);
        memtable_freeze(c.m);
        atomic_store(&c.done, 1);
    }
    for (int i = 0; i < started; i++)
        pthread_join(r[i], NULL);
    if (failures >= 0) failures += atomic_load(&c.failures);
    *overlapped = atomic_load(&c.overlapped_scans);
    memtable_unref(c.m);
    return failures;
}
