/* concurrent.c — the concurrency scenario of the memtable tests: one writer inserting while
 * reader threads iterate (whole and by prefix) and get; readers must always see a sorted
 * sequence and every entry the writer has published, before and after the memtable is frozen.
 * The writer then adds newer versions of some keys, so version lists change under readers too.
 * Plain C (no Criterion), so the same scenario also runs as a standalone program under
 * ThreadSanitizer, for every memtable kind. */
#include "concurrent.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "memtable/memtable.h"
#include "util/ikey.h"

#define CONC_ENTRIES 20000
#define CONC_READERS 3
#define CONC_VERSIONS 5000 /* keys 0..CONC_VERSIONS-1 get a second version after the rest */
#define CONC_ADDS (CONC_ENTRIES + CONC_VERSIONS)

struct conc {
    memtable *m;
    atomic_size_t published; /* adds 0..published-1 are in the memtable */
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
    /* Add j < CONC_ENTRIES inserts key j; later adds are newer versions (same value) of the
     * first keys. */
    for (size_t j = 0; j < CONC_ADDS; j++) {
        if (j % 256 == 0) sched_yield(); /* let readers in between batches */
        size_t i = j < CONC_ENTRIES ? j : j - CONC_ENTRIES;
        uint8_t k[8], v[8];
        conc_key(i, k);
        coding_put_fixed64(v, i);
        if (memtable_add(c->m, j + 1, IKEY_VALUE, k, 8, v, 8) != 0)
            atomic_fetch_add(&c->failures, 1);
        atomic_store_explicit(&c->published, j + 1, memory_order_release);
    }
    memtable_freeze(c->m);
    atomic_store(&c->done, 1);
    return NULL;
}

/* Adds before `before` whose key starts with byte b (any byte when whole). */
static size_t conc_expected(size_t before, int whole, uint8_t b)
{
    if (whole) return before;
    size_t n = 0;
    for (size_t j = 0; j < before; j++) {
        uint8_t k[8];
        conc_key(j < CONC_ENTRIES ? j : j - CONC_ENTRIES, k);
        n += k[0] == b;
    }
    return n;
}

/* One full scan (or one of the keys starting with byte b): internal keys strictly ascending,
 * and at least as many as were published at the start. */
static int conc_scan(struct conc *c, int whole, uint8_t b)
{
    size_t before = atomic_load_explicit(&c->published, memory_order_acquire), seen = 0;
    iter *it = whole ? memtable_iter_create(c->m) : memtable_prefix_iter_create(c->m, &b, 1);
    if (!it) return -1;
    uint8_t last[8 + IKEY_TRAILER];
    int bad = 0;
    for (iter_seek_to_first(it); iter_valid(it); iter_next(it), seen++) {
        size_t klen;
        const uint8_t *k = iter_key(it, &klen);
        if (klen != sizeof last || (seen && ikey_cmp(last, klen, k, klen) >= 0)) bad = 1;
        if (!whole && k[0] != b) bad = 1;
        memcpy(last, k, sizeof last);
    }
    /* Backwards from the end over a few steps. */
    iter_seek_to_last(it);
    for (int s = 0; s < 50 && iter_valid(it); s++) {
        size_t klen;
        const uint8_t *k = iter_key(it, &klen);
        if (klen != sizeof last || (s && ikey_cmp(k, klen, last, klen) >= 0)) bad = 1;
        memcpy(last, k, sizeof last);
        iter_prev(it);
    }
    bad |= iter_status(it) != 0;
    iter_destroy(it);
    return bad || seen < conc_expected(before, whole, b) ? -1 : 0;
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
        if (conc_scan(c, 1, 0) != 0) atomic_fetch_add(&c->failures, 1);
        x = x * 6364136223846793005u + 1442695040888963407u;
        if (conc_scan(c, 0, (uint8_t)(x >> 56)) != 0) atomic_fetch_add(&c->failures, 1);
        for (int q = 0; q < 2000; q++) {
            size_t pub = atomic_load_explicit(&c->published, memory_order_acquire);
            if (pub > CONC_ENTRIES) pub = CONC_ENTRIES;
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

int memtable_concurrent_run(enum memtable_kind kind, int *overlapped)
{
    struct conc c = {.m = memtable_create(kind)};
    pthread_t w, r[CONC_READERS];
    int started = 0, failures = -1;
    if (!c.m) return -1;
    for (; started < CONC_READERS; started++)
        if (pthread_create(&r[started], NULL, conc_reader, &c) != 0) goto out;
    if (pthread_create(&w, NULL, conc_writer, &c) != 0) goto out;
    pthread_join(w, NULL);
    failures = memtable_count(c.m) != CONC_ADDS;

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
