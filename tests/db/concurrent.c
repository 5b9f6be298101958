/* concurrent.c — the concurrency scenarios of the db suite: writers (puts and two-key batches),
 * readers (gets, and snapshot scans checking batch atomicity) and background flushes and
 * compactions on one handle. Shared by the Criterion suite and the plain TSan program
 * (Criterion does not start under ThreadSanitizer). Returns the number of failures seen. */
#include "concurrent.h"
#include "fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITERS 4
#define PER_WRITER 3000

struct worker {
    lamina_db *db;
    int id;
    int failures;
    atomic_int *stop;
};

static void *writer_main(void *arg)
{
    struct worker *w = arg;
    char k[32], v[96];
    lamina_batch *b;
    if (lamina_batch_create(&b)) {
        w->failures++;
        return NULL;
    }
    for (int i = 0; i < PER_WRITER; i++) {
        uint64_t key = (uint64_t)i * WRITERS + (uint64_t)w->id;
        size_t kl = tdb_key(k, key), vl = tdb_value(v, key, 0);
        int rc;
        if (i % 10 == 0) {
            /* A batch of two: the key and a marker that must appear with it. */
            lamina_batch_clear(b);
            lamina_batch_put(b, k, kl, v, vl);
            k[0] = 'm';
            lamina_batch_put(b, k, kl, v, vl);
            rc = lamina_write(w->db, NULL, b);
        } else {
            /* Some synced writes, which sync the WALs of memtables waiting for their flush. */
            lamina_write_options wo;
            lamina_write_options_init(&wo);
            wo.sync = i % 97 == 0;
            rc = lamina_put(w->db, &wo, k, kl, v, vl);
        }
        if (rc) w->failures++;
    }
    lamina_batch_destroy(b);
    return NULL;
}

static void *reader_main(void *arg)
{
    struct worker *w = arg;
    char k[32], v[96];
    uint64_t round = 0;
    while (!atomic_load(w->stop)) {
        uint64_t key = (round * 7919u) % (WRITERS * PER_WRITER);
        size_t kl = tdb_key(k, key), vl = tdb_value(v, key, 0);
        void *got = NULL;
        size_t gl;
        int rc = lamina_get(w->db, NULL, k, kl, &got, &gl);
        if (rc == LAMINA_OK) {
            if (gl != vl || memcmp(got, v, vl)) w->failures++;
            lamina_free(got);
        } else if (rc != LAMINA_NOTFOUND) {
            w->failures++;
        }
        if (round % 200 == 0) {
            char *text = NULL;
            if (lamina_property(w->db, "lamina.stats", &text) != LAMINA_OK) w->failures++;
            lamina_free(text);
        }
        if (round % 50 == 0) {
            /* Under a snapshot, every batch's marker comes with its key. */
            const lamina_snapshot *s;
            if (lamina_snapshot_create(w->db, &s)) {
                w->failures++;
                continue;
            }
            lamina_read_options ro;
            lamina_read_options_init(&ro);
            ro.snapshot = s;
            lamina_iter *it;
            if (lamina_iter_create(w->db, &ro, &it) == LAMINA_OK) {
                size_t keys = 0, markers = 0;
                for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it)) {
                    size_t n;
                    const char *ik = lamina_iter_key(it, &n);
                    if (ik[0] == 'm') {
                        markers++;
                        memcpy(k, ik, n);
                        k[0] = 'k';
                        void *x = NULL;
                        size_t xl;
                        if (lamina_get(w->db, &ro, k, n, &x, &xl) != LAMINA_OK) w->failures++;
                        lamina_free(x);
                    } else {
                        keys++;
                    }
                }
                if (lamina_iter_status(it)) w->failures++;
                if (markers > keys) w->failures++;
                lamina_iter_destroy(it);
            } else {
                w->failures++;
            }
            lamina_snapshot_release(w->db, s);
        }
        round++;
    }
    return NULL;
}

lamina_options conc_options(void)
{
    lamina_options o = tdb_small_options();
    o.max_background_jobs = 2;
    return o;
}

static size_t conc_count(lamina_db *db, int *failures)
{
    lamina_iter *it;
    size_t n = 0;
    if (lamina_iter_create(db, NULL, &it)) {
        (*failures)++;
        return 0;
    }
    for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it))
        n++;
    if (lamina_iter_status(it)) (*failures)++;
    lamina_iter_destroy(it);
    return n;
}

int conc_writers_and_readers(lamina_db *db)
{
    atomic_int stop = 0;
    pthread_t wt[WRITERS], rt[2];
    struct worker ws[WRITERS], rs[2];
    int failures = 0;
    for (int i = 0; i < 2; i++) {
        rs[i] = (struct worker){db, i, 0, &stop};
        pthread_create(&rt[i], NULL, reader_main, &rs[i]);
    }
    for (int i = 0; i < WRITERS; i++) {
        ws[i] = (struct worker){db, i, 0, &stop};
        pthread_create(&wt[i], NULL, writer_main, &ws[i]);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(wt[i], NULL);
    if (lamina_flush(db)) failures++;
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(rt[i], NULL);
    for (int i = 0; i < WRITERS; i++)
        failures += ws[i].failures;
    for (int i = 0; i < 2; i++)
        failures += rs[i].failures;
    char k[32], v[96];
    for (uint64_t key = 0; key < WRITERS * PER_WRITER; key += 13) {
        size_t kl = tdb_key(k, key), vl = tdb_value(v, key, 0);
        void *got = NULL;
        size_t gl;
        if (lamina_get(db, NULL, k, kl, &got, &gl) || gl != vl || memcmp(got, v, vl)) failures++;
        lamina_free(got);
    }
    if (conc_count(db, &failures) != WRITERS * PER_WRITER + WRITERS * PER_WRITER / 10) failures++;
    return failures;
}

int conc_compact_beside_writers(lamina_db *db)
{
    atomic_int stop = 0;
    pthread_t wt[2];
    struct worker ws[2];
    int failures = 0;
    for (int i = 0; i < 2; i++) {
        ws[i] = (struct worker){db, i, 0, &stop};
        pthread_create(&wt[i], NULL, writer_main, &ws[i]);
    }
    for (int r = 0; r < 3; r++)
        if (lamina_compact_range(db, NULL, 0, NULL, 0)) failures++;
    for (int i = 0; i < 2; i++)
        pthread_join(wt[i], NULL);
    for (int i = 0; i < 2; i++)
        failures += ws[i].failures;
    if (conc_count(db, &failures) != 2 * PER_WRITER + 2 * PER_WRITER / 10) failures++;
    return failures;
}
