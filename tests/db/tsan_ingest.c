/* tsan_ingest.c — ingestion and checkpoints beside writers, readers and background jobs, as a
 * plain program for ThreadSanitizer builds (Criterion does not start under TSan). Two writers
 * put keys, a reader gets them, while the main thread ingests tables over the same keys and
 * takes checkpoints; then every checkpoint must open and hold only whole values. Exits
 * non-zero on any failure. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concurrent.h"
#include "fixture.h"

#define KEYS 4000
#define ROUNDS 4

static atomic_int stop;
static atomic_int failures;

static void fail(const char *what, int rc)
{
    fprintf(stderr, "tsan_ingest: %s: %s: %s\n", what, lamina_strerror(rc), lamina_errmsg(NULL));
    atomic_fetch_add(&failures, 1);
}

struct worker {
    lamina_db *db;
    int id;
};

static void *write_loop(void *arg)
{
    struct worker *w = arg;
    char k[32], v[96];
    for (uint64_t n = 0; !atomic_load(&stop); n++) {
        uint64_t i = (n * 7 + (uint64_t)w->id) % KEYS;
        size_t kl = tdb_key(k, i), vl = tdb_value(v, i, 100 + (uint64_t)w->id);
        int rc = lamina_put(w->db, NULL, k, kl, v, vl);
        if (rc) {
            fail("put", rc);
            break;
        }
    }
    return NULL;
}

static void *read_loop(void *arg)
{
    struct worker *w = arg;
    char k[32];
    for (uint64_t n = 0; !atomic_load(&stop); n++) {
        size_t kl = tdb_key(k, n % KEYS);
        void *v = NULL;
        size_t vl;
        int rc = lamina_get(w->db, NULL, k, kl, &v, &vl);
        if (rc != LAMINA_OK && rc != LAMINA_NOTFOUND) {
            fail("get", rc);
            break;
        }
        if (rc == LAMINA_OK && (vl < 6 || memcmp(v, "value-", 6) != 0)) {
            fprintf(stderr, "tsan_ingest: key %llu: a torn value\n",
                    (unsigned long long)(n % KEYS));
            atomic_fetch_add(&failures, 1);
        }
        lamina_free(v);
    }
    return NULL;
}

/* Writes keys [from, to) of generation gen to a new table at path. */
static int write_table(const char *path, int from, int to, int gen)
{
    lamina_sst_writer *w;
    int rc = lamina_sst_writer_create(path, NULL, &w);
    char k[32], v[96];
    for (int i = from; rc == 0 && i < to; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)gen);
        rc = lamina_sst_writer_put(w, k, kl, v, vl);
    }
    if (rc == 0) rc = lamina_sst_writer_finish(w, NULL);
    lamina_sst_writer_destroy(w);
    return rc;
}

/* Every value in the checkpoint at path is whole. */
static int check_copy(const char *path)
{
    lamina_options o = conc_options();
    o.create_if_missing = 0;
    lamina_db *db;
    int rc = lamina_open(path, &o, &db);
    if (rc) return rc;
    lamina_iter *it = NULL;
    rc = lamina_iter_create(db, NULL, &it);
    for (rc = rc ? rc : lamina_iter_seek_to_first(it); rc == 0 && lamina_iter_valid(it);
         rc = lamina_iter_next(it)) {
        size_t vl;
        const char *v = lamina_iter_value(it, &vl);
        if (vl < 6 || memcmp(v, "value-", 6) != 0) rc = LAMINA_ECORRUPT;
    }
    if (it) lamina_iter_destroy(it);
    int crc = lamina_close(db);
    return rc ? rc : crc;
}

int main(void)
{
    char dir[] = "/tmp/lamina-tsan-ingest-XXXXXX", path[96], file[96], cp[ROUNDS][96];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof(path), "%s/db", dir);
    lamina_options o = conc_options();
    lamina_db *db;
    int rc = lamina_open(path, &o, &db);
    if (rc) {
        fail("open", rc);
        return 1;
    }
    pthread_t th[3];
    struct worker w[3] = {{db, 0}, {db, 1}, {db, 2}};
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, write_loop, &w[i]);
    pthread_create(&th[2], NULL, read_loop, &w[2]);
    for (int r = 0; r < ROUNDS; r++) {
        snprintf(file, sizeof(file), "%s/ext%d.sst", dir, r);
        if ((rc = write_table(file, r * 500, r * 500 + 1000, r))) fail("write table", rc);
        const char *paths[] = {file};
        if (rc == 0 && (rc = lamina_ingest(db, paths, 1, LAMINA_INGEST_MOVE))) fail("ingest", rc);
        snprintf(cp[r], sizeof(cp[r]), "%s/cp%d", dir, r);
        if ((rc = lamina_checkpoint(db, cp[r]))) fail("checkpoint", rc);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    if ((rc = lamina_close(db))) fail("close", rc);
    for (int r = 0; r < ROUNDS; r++)
        if ((rc = check_copy(cp[r]))) fail("checkpoint contents", rc);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd)) atomic_fetch_add(&failures, 1);
    int bad = atomic_load(&failures);
    printf("ingest_and_checkpoints_beside_writers: %s (%d failures)\n", bad ? "FAIL" : "ok", bad);
    return bad ? 1 : 0;
}
