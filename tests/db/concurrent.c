/* concurrent.c — the concurrency scenarios of the db suite: writers (puts and two-key batches),
 * readers (gets, multi_gets and snapshot scans checking batch atomicity) and background flushes and
 * compactions on one handle; gets through thread-cached super versions while installs, thread
 * exits and a close and reopen happen. Shared by the Criterion suite and the plain TSan program
 * (Criterion does not start under ThreadSanitizer). Returns the number of failures seen. */
#include "concurrent.h"
#include "engine/db_impl.h"
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

/* One lamina_multi_get of 8 keys from first and their batch markers: every value is the one
 * written, and (one snapshot for the whole call) a marker found means its key is found too.
 * Returns the number of failures. */
static int conc_multi_get(struct worker *w, uint64_t first)
{
    enum { N = 8 };
    char kb[2 * N][32], v[96];
    const void *keys[2 * N];
    size_t lens[2 * N], vlens[2 * N];
    void *vals[2 * N];
    int st[2 * N], failures = 0;
    for (int j = 0; j < N; j++) {
        uint64_t key = (first + (uint64_t)j * WRITERS * 10) % (WRITERS * PER_WRITER);
        lens[j] = lens[N + j] = tdb_key(kb[j], key);
        memcpy(kb[N + j], kb[j], lens[j]);
        kb[N + j][0] = 'm';
        keys[j] = kb[j];
        keys[N + j] = kb[N + j];
    }
    if (lamina_multi_get(w->db, NULL, 2 * N, keys, lens, vals, vlens, st) != LAMINA_OK)
        failures++;
    for (int j = 0; j < 2 * N; j++) {
        if (st[j] == LAMINA_OK) {
            uint64_t key = strtoull(kb[j] + 3, NULL, 10);
            size_t vl = tdb_value(v, key, 0);
            if (vlens[j] != vl || memcmp(vals[j], v, vl)) failures++;
        } else if (st[j] != LAMINA_NOTFOUND) {
            failures++;
        }
        if (j >= N && st[j] == LAMINA_OK && st[j - N] != LAMINA_OK) failures++;
        lamina_free(vals[j]);
    }
    return failures;
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
        if (round % 10 == 0 && conc_multi_get(w, key)) w->failures++;
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

/* ---- Thread-cached super versions ------------------------------------------------------- */

#define SV_KEYS 64
#define SV_WRITES 6000

struct sv_shared {
    lamina_db *db, *other;
    atomic_int stop;
    atomic_int acked[SV_KEYS]; /* generation of the last acknowledged put of key i, or -1 */
    atomic_int failures;
};

/* The generation a value holds ("gen-<g>"), or -2 for a value of another shape. */
static int sv_gen(const void *v, size_t n)
{
    char text[32];
    if (n < 5 || n >= sizeof(text) || memcmp(v, "gen-", 4) != 0) return -2;
    memcpy(text, v, n);
    text[n] = 0;
    return atoi(text + 4);
}

/* One get of key i that must see its last acknowledged put or a later one: a cached super
 * version older than the sequence number read with it would miss a memtable and fail this. */
static void sv_check_get(struct sv_shared *sh, lamina_db *db, int i)
{
    char k[32];
    size_t kl = (size_t)sprintf(k, "sv-key-%02d", i);
    int want = atomic_load(&sh->acked[i]);
    void *v = NULL;
    size_t vl;
    int rc = lamina_get(db, NULL, k, kl, &v, &vl);
    if (rc == LAMINA_NOTFOUND ? want >= 0 : rc != LAMINA_OK || sv_gen(v, vl) < want)
        atomic_fetch_add(&sh->failures, 1);
    lamina_free(v);
}

static void *sv_writer(void *arg)
{
    struct sv_shared *sh = arg;
    char k[32], v[32];
    for (int g = 0; g < SV_WRITES; g++) {
        int i = g % SV_KEYS;
        size_t kl = (size_t)sprintf(k, "sv-key-%02d", i), vl = (size_t)sprintf(v, "gen-%d", g);
        if (lamina_put(sh->db, NULL, k, kl, v, vl)) atomic_fetch_add(&sh->failures, 1);
        atomic_store(&sh->acked[i], g);
        /* Memtable switches and flushes: a super version install each, many per second. */
        if (g % 150 == 149 && lamina_flush(sh->db)) atomic_fetch_add(&sh->failures, 1);
    }
    return NULL;
}

static void *sv_reader(void *arg)
{
    struct sv_shared *sh = arg;
    for (unsigned r = 0; !atomic_load(&sh->stop); r++)
        sv_check_get(sh, sh->db, (int)(r * 7u % SV_KEYS));
    return NULL;
}

/* A thread that lives for a few gets, so that threads exit while installs run. */
static void sv_check_other(struct sv_shared *sh)
{
    void *v = NULL;
    size_t vl;
    if (lamina_get(sh->other, NULL, "other", 5, &v, &vl) || sv_gen(v, vl) != 0)
        atomic_fetch_add(&sh->failures, 1);
    lamina_free(v);
}

/* A thread that lives for a few gets from both databases, so that threads exit while installs
 * run, each with two slots. */
static void *sv_short_reader(void *arg)
{
    struct sv_shared *sh = arg;
    for (int r = 0; r < 40; r++) {
        sv_check_get(sh, sh->db, r % SV_KEYS);
        if (r % 8 == 0) sv_check_other(sh);
    }
    return NULL;
}

/* A thread that gets from a database, waits while it is closed and reopened, gets from the new
 * handle and exits: its slot of the closed handle must neither serve the new one nor be
 * touched after the close. */
struct sv_linger {
    struct sv_shared *sh;
    lamina_db *reopened;
    int phase; /* 0 started, 1 got from the first handle, 2 the second handle is ready */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *sv_lingerer(void *arg)
{
    struct sv_linger *l = arg;
    sv_check_get(l->sh, l->sh->db, 1);
    pthread_mutex_lock(&l->mu);
    l->phase = 1;
    pthread_cond_broadcast(&l->cv);
    while (l->phase != 2)
        pthread_cond_wait(&l->cv, &l->mu);
    lamina_db *db = l->reopened;
    pthread_mutex_unlock(&l->mu);
    void *v = NULL;
    size_t vl;
    if (lamina_get(db, NULL, "after", 5, &v, &vl) != LAMINA_OK || vl != 6 ||
        memcmp(v, "reopen", 6) != 0)
        atomic_fetch_add(&l->sh->failures, 1);
    lamina_free(v);
    sv_check_get(l->sh, db, 1);
    return NULL;
}

int conc_super_version_churn(const char *path, const char *other_path)
{
    struct sv_shared sh;
    memset(&sh, 0, sizeof(sh));
    for (int i = 0; i < SV_KEYS; i++)
        atomic_init(&sh.acked[i], -1);
    lamina_options o = conc_options();
    if (lamina_open(path, &o, &sh.db)) return 1;
    /* A second database in the process: threads hold a slot for each. */
    if (lamina_open(other_path, &o, &sh.other) ||
        lamina_put(sh.other, NULL, "other", 5, "gen-0", 5)) {
        lamina_close(sh.db);
        lamina_close(sh.other);
        return 1;
    }

    pthread_t w, rd[2], shorts[2];
    pthread_create(&w, NULL, sv_writer, &sh);
    for (int i = 0; i < 2; i++)
        pthread_create(&rd[i], NULL, sv_reader, &sh);
    for (int round = 0; round < 12; round++) {
        for (int i = 0; i < 2; i++)
            pthread_create(&shorts[i], NULL, sv_short_reader, &sh);
        sv_check_other(&sh);
        for (int i = 0; i < 2; i++)
            pthread_join(shorts[i], NULL);
    }
    pthread_join(w, NULL);
    atomic_store(&sh.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(rd[i], NULL);
    /* Exited threads gave their slots back. */
    if (db_sv_slot_count(sh.db) != 0 || db_sv_slot_count(sh.other) != 1)
        atomic_fetch_add(&sh.failures, 1);

    struct sv_linger l = {.sh = &sh};
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    pthread_t lt;
    pthread_create(&lt, NULL, sv_lingerer, &l);
    pthread_mutex_lock(&l.mu);
    while (l.phase != 1)
        pthread_cond_wait(&l.cv, &l.mu);
    pthread_mutex_unlock(&l.mu);
    if (lamina_close(sh.db)) atomic_fetch_add(&sh.failures, 1);
    lamina_db *db = NULL;
    if (lamina_open(path, &o, &db) || lamina_put(db, NULL, "after", 5, "reopen", 6)) {
        atomic_fetch_add(&sh.failures, 1);
    }
    sh.db = db;
    pthread_mutex_lock(&l.mu);
    l.reopened = db;
    l.phase = 2;
    pthread_cond_broadcast(&l.cv);
    pthread_mutex_unlock(&l.mu);
    pthread_join(lt, NULL);
    pthread_mutex_destroy(&l.mu);
    pthread_cond_destroy(&l.cv);
    if (db) {
        if (db_sv_slot_count(db) != 0) atomic_fetch_add(&sh.failures, 1);
        for (int i = 0; i < SV_KEYS; i++)
            sv_check_get(&sh, db, i);
        if (lamina_close(db)) atomic_fetch_add(&sh.failures, 1);
    }
    if (lamina_close(sh.other)) atomic_fetch_add(&sh.failures, 1);
    return atomic_load(&sh.failures);
}

/* ---- Range deletions beside readers ------------------------------------------------------ */

#define RD_WINDOWS 40
#define RD_WINDOW 50
#define RD_ROUNDS 400

struct rd_shared {
    lamina_db *db;
    atomic_int stop;
    atomic_int failures;
};

/* Deletes a window with one range deletion, then puts it back with one batch, again and again. */
static void *rd_writer(void *arg)
{
    struct rd_shared *sh = arg;
    char a[32], b[32], v[96];
    lamina_batch *batch;
    if (lamina_batch_create(&batch)) {
        atomic_fetch_add(&sh->failures, 1);
        return NULL;
    }
    for (int r = 0; r < RD_ROUNDS; r++) {
        uint64_t w = ((uint64_t)r * 7u) % RD_WINDOWS, first = w * RD_WINDOW;
        size_t al = tdb_key(a, first), bl = tdb_key(b, first + RD_WINDOW);
        if (lamina_delete_range(sh->db, NULL, a, al, b, bl)) atomic_fetch_add(&sh->failures, 1);
        /* The writer reads its own range deletion at once (a key in the middle of it). */
        void *got = NULL;
        size_t gl, ml = tdb_key(v, first + (uint64_t)r % RD_WINDOW);
        if (lamina_get(sh->db, NULL, v, ml, &got, &gl) != LAMINA_NOTFOUND)
            atomic_fetch_add(&sh->failures, 1);
        lamina_free(got);
        lamina_batch_clear(batch);
        for (uint64_t k = first; k < first + RD_WINDOW; k++) {
            size_t kl = tdb_key(a, k), vl = tdb_value(v, k, 0);
            lamina_batch_put(batch, a, kl, v, vl);
        }
        if (lamina_write(sh->db, NULL, batch)) atomic_fetch_add(&sh->failures, 1);
    }
    lamina_batch_destroy(batch);
    return NULL;
}

/* Gets see a key's value or nothing; a scan under a snapshot sees each window whole or not at
 * all (one range deletion, one batch). */
static void *rd_reader(void *arg)
{
    struct rd_shared *sh = arg;
    char k[32], v[96];
    for (uint64_t round = 0; !atomic_load(&sh->stop); round++) {
        uint64_t key = (round * 7919u) % (RD_WINDOWS * RD_WINDOW);
        size_t kl = tdb_key(k, key), vl = tdb_value(v, key, 0);
        void *got = NULL;
        size_t gl;
        int rc = lamina_get(sh->db, NULL, k, kl, &got, &gl);
        if ((rc == LAMINA_OK && (gl != vl || memcmp(got, v, vl))) ||
            (rc != LAMINA_OK && rc != LAMINA_NOTFOUND))
            atomic_fetch_add(&sh->failures, 1);
        lamina_free(got);
        if (round % 20) continue;
        lamina_iter *it;
        if (lamina_iter_create(sh->db, NULL, &it)) {
            atomic_fetch_add(&sh->failures, 1);
            continue;
        }
        int count[RD_WINDOWS] = {0};
        for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it)) {
            size_t n;
            const char *ik = lamina_iter_key(it, &n);
            uint64_t i = strtoull(ik + 3, NULL, 10);
            if (i < RD_WINDOWS * RD_WINDOW) count[i / RD_WINDOW]++;
        }
        if (lamina_iter_status(it)) atomic_fetch_add(&sh->failures, 1);
        lamina_iter_destroy(it);
        for (int w = 0; w < RD_WINDOWS; w++)
            if (count[w] != 0 && count[w] != RD_WINDOW) atomic_fetch_add(&sh->failures, 1);
    }
    return NULL;
}

int conc_range_deletes_beside_readers(lamina_db *db)
{
    struct rd_shared sh = {.db = db};
    atomic_init(&sh.stop, 0);
    atomic_init(&sh.failures, 0);
    char k[32], v[96];
    for (uint64_t i = 0; i < RD_WINDOWS * RD_WINDOW; i++) {
        size_t kl = tdb_key(k, i), vl = tdb_value(v, i, 0);
        if (lamina_put(db, NULL, k, kl, v, vl)) atomic_fetch_add(&sh.failures, 1);
    }
    pthread_t wt, rt[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&rt[i], NULL, rd_reader, &sh);
    pthread_create(&wt, NULL, rd_writer, &sh);
    pthread_join(wt, NULL);
    if (lamina_compact_range(db, NULL, 0, NULL, 0)) atomic_fetch_add(&sh.failures, 1);
    atomic_store(&sh.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(rt[i], NULL);
    int failures = atomic_load(&sh.failures);
    if (conc_count(db, &failures) != RD_WINDOWS * RD_WINDOW) failures++;
    return failures;
}

/* ---- Read-only handles beside a writer ------------------------------------------------- */

#define RO_KEYS 3000
#define RO_READERS 3

struct ro_reader {
    const char *path;
    lamina_db *shared; /* a read-only handle all readers use, besides their own */
    int failures, opens;
    atomic_int *stop;
};

/* Whether a get's answer is one the writer could have made: absent, or the key's own value. */
static int ro_answer_ok(uint64_t key, int rc, const char *v, size_t vl)
{
    char want[48];
    if (rc == LAMINA_NOTFOUND) return 1;
    if (rc != LAMINA_OK) return 0;
    int n = snprintf(want, sizeof(want), "value-%llu-", (unsigned long long)key);
    return vl > (size_t)n && memcmp(v, want, (size_t)n) == 0;
}

static void *ro_reader_main(void *arg)
{
    struct ro_reader *r = arg;
    lamina_options o = conc_options();
    char k[32];
    uint64_t key = 0;
    while (!atomic_load(r->stop)) {
        lamina_db *own = NULL;
        if (lamina_open_read_only(r->path, &o, &own) != LAMINA_OK) {
            r->failures++;
            continue;
        }
        r->opens++;
        for (int i = 0; i < 200; i++) {
            key = (key * 7 + 13) % RO_KEYS;
            size_t kl = tdb_key(k, key), vl = 0;
            void *v = NULL;
            lamina_db *db = i % 2 ? own : r->shared;
            int rc = lamina_get(db, NULL, k, kl, &v, &vl);
            if (!ro_answer_ok(key, rc, v, vl)) r->failures++;
            lamina_free(v);
        }
        lamina_iter *it;
        if (lamina_iter_create(own, NULL, &it) == LAMINA_OK) {
            for (lamina_iter_seek_to_first(it); lamina_iter_valid(it); lamina_iter_next(it)) {
                size_t kl, vl;
                const char *kp = lamina_iter_key(it, &kl);
                const char *vp = lamina_iter_value(it, &vl);
                char digits[32];
                snprintf(digits, sizeof(digits), "%.*s", (int)(kl > 3 ? kl - 3 : 0), kp + 3);
                if (!ro_answer_ok(strtoull(digits, NULL, 10), LAMINA_OK, vp, vl)) r->failures++;
            }
            if (lamina_iter_status(it) != LAMINA_OK) r->failures++;
            lamina_iter_destroy(it);
        } else {
            r->failures++;
        }
        if (lamina_close(own) != LAMINA_OK) r->failures++;
    }
    return NULL;
}

int conc_read_only_beside_writer(const char *path)
{
    lamina_options o = conc_options();
    lamina_db *w = NULL, *shared = NULL;
    int failures = 0;
    char k[32], v[96];
    if (lamina_open(path, &o, &w) != LAMINA_OK) return 1;
    for (uint64_t i = 0; i < RO_KEYS; i++) {
        size_t kl = tdb_key(k, i), vl = tdb_value(v, i, 0);
        if (lamina_put(w, NULL, k, kl, v, vl)) failures++;
    }
    if (lamina_open_read_only(path, &o, &shared) != LAMINA_OK) {
        lamina_close(w);
        return failures + 1;
    }
    atomic_int stop = 0;
    pthread_t t[RO_READERS];
    struct ro_reader r[RO_READERS];
    for (int i = 0; i < RO_READERS; i++) {
        r[i] = (struct ro_reader){.path = path, .shared = shared, .stop = &stop};
        pthread_create(&t[i], NULL, ro_reader_main, &r[i]);
    }
    for (uint64_t gen = 1; gen <= 6; gen++) {
        for (uint64_t i = 0; i < RO_KEYS; i++) {
            size_t kl = tdb_key(k, i), vl = tdb_value(v, i, gen);
            if (lamina_put(w, NULL, k, kl, v, vl)) failures++;
        }
        if (gen % 3 == 0 && lamina_compact_range(w, NULL, 0, NULL, 0)) failures++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < RO_READERS; i++) {
        pthread_join(t[i], NULL);
        failures += r[i].failures;
        if (!r[i].opens) failures++;
    }
    /* The shared handle still reads its own version: generation 0 everywhere. */
    for (uint64_t i = 0; i < RO_KEYS; i += 101) {
        size_t kl = tdb_key(k, i), vl = tdb_value(v, i, 0), gl = 0;
        void *got = NULL;
        if (lamina_get(shared, NULL, k, kl, &got, &gl) != LAMINA_OK || gl != vl ||
            memcmp(got, v, vl) != 0)
            failures++;
        lamina_free(got);
    }
    if (lamina_put(shared, NULL, "x", 1, "y", 1) != LAMINA_EREADONLY) failures++;
    if (lamina_close(shared)) failures++;
    if (lamina_close(w)) failures++;
    return failures;
}
