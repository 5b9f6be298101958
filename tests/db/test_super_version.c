/* test_super_version.c — the per-thread cached super versions of gets: a get sees every install
 * at once, an install releases what idle threads cached (obsolete tables are deleted without
 * waiting for their next get), exited threads give their slots back, and a thread's slot of a
 * closed handle never serves a later one. */
#include <dirent.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "engine/db_impl.h"
#include "helpers.h"

TestSuite(super_version, .init = tdb_setup, .fini = tdb_teardown);

/* Options under which nothing flushes or compacts unless the test asks. */
static lamina_options quiet_options(void)
{
    lamina_options o = tdb_small_options();
    o.write_buffer_size = 4 << 20;
    o.level0_file_num_compaction_trigger = 20;
    o.level0_slowdown_writes_trigger = 30;
    o.level0_stop_writes_trigger = 40;
    return o;
}

static void put_gen(lamina_db *db, int n, int gen)
{
    char k[32], v[96];
    for (int i = 0; i < n; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)gen);
        tdb_put(db, k, kl, v, vl);
    }
}

static void expect_gen(lamina_db *db, int n, int gen)
{
    char k[32], v[96];
    for (int i = 0; i < n; i++) {
        size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)gen);
        tdb_expect(db, NULL, k, kl, v, vl);
    }
}

Test(super_version, gets_see_each_memtable_switch_and_flush_at_once)
{
    lamina_options o = quiet_options();
    lamina_db *db = tdb_open(T.path, &o);
    for (int gen = 0; gen < 6; gen++) {
        put_gen(db, 20, gen);
        expect_gen(db, 20, gen); /* the cached super version of the previous round is stale */
        if (gen % 2 == 0) cr_assert_eq(lamina_flush(db), LAMINA_OK);
        expect_gen(db, 20, gen);
    }
    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    expect_gen(db, 20, 5);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

struct getter {
    lamina_db *db;
    int gets, failures;
};

static void *getter_main(void *arg)
{
    struct getter *g = arg;
    char k[32];
    for (int i = 0; i < g->gets; i++) {
        size_t kl = tdb_key(k, (uint64_t)(i % 20));
        void *v = NULL;
        size_t vl;
        if (lamina_get(g->db, NULL, k, kl, &v, &vl) != LAMINA_OK) g->failures++;
        lamina_free(v);
    }
    return NULL;
}

Test(super_version, exited_threads_give_their_slots_back)
{
    lamina_options o = quiet_options();
    lamina_db *db = tdb_open(T.path, &o);
    put_gen(db, 20, 0);
    cr_assert_eq(db_sv_slot_count(db), 0);
    pthread_t t[8];
    struct getter g[8];
    for (int i = 0; i < 8; i++) {
        g[i] = (struct getter){db, 100, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, getter_main, &g[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(g[i].failures, 0);
    }
    cr_assert_eq(db_sv_slot_count(db), 0, "%zu slots left by exited threads", db_sv_slot_count(db));
    expect_gen(db, 1, 0);
    cr_assert_eq(db_sv_slot_count(db), 1, "this thread's slot");
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* Numbers of the database's tables, ascending (at most cap). */
static size_t table_numbers(unsigned long *out, size_t cap)
{
    DIR *d = opendir(T.path);
    cr_assert_not_null(d);
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".sst") == 0 && n < cap)
            out[n++] = strtoul(e->d_name, NULL, 10);
    }
    closedir(d);
    return n;
}

static int table_exists(unsigned long number)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/%06lu.sst", T.path, number);
    return access(p, F_OK) == 0;
}

/* A reader thread that gets once, then sleeps until released: its slot keeps the super version
 * of that get unless an install empties it. */
struct idle_reader {
    lamina_db *db;
    int released, failures;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int got;
};

static void *idle_reader_main(void *arg)
{
    struct idle_reader *r = arg;
    char k[32];
    size_t kl = tdb_key(k, 3);
    void *v = NULL;
    size_t vl;
    if (lamina_get(r->db, NULL, k, kl, &v, &vl) != LAMINA_OK) r->failures++;
    lamina_free(v);
    pthread_mutex_lock(&r->mu);
    r->got = 1;
    pthread_cond_broadcast(&r->cv);
    while (!r->released)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

Test(super_version, idle_readers_do_not_keep_obsolete_tables)
{
    lamina_options o = quiet_options();
    lamina_db *db = tdb_open(T.path, &o);
    /* Two overlapping level-0 tables, so that compaction rewrites them (no trivial move). */
    put_gen(db, 50, 0);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    put_gen(db, 50, 1);
    cr_assert_eq(lamina_flush(db), LAMINA_OK);
    unsigned long before[8];
    cr_assert_eq(table_numbers(before, 8), 2);

    struct idle_reader r = {.db = db};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, idle_reader_main, &r), 0);
    pthread_mutex_lock(&r.mu);
    while (!r.got)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    cr_assert_eq(db_sv_slot_count(db), 1);

    cr_assert_eq(lamina_compact_range(db, NULL, 0, NULL, 0), LAMINA_OK);
    /* The compaction's install emptied the idle thread's slot: the inputs go as soon as the
     * installing thread drops its own reference, without another get. */
    int gone = 0;
    for (int i = 0; i < 500 && !gone; i++) {
        gone = !table_exists(before[0]) && !table_exists(before[1]);
        if (!gone) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    cr_assert(gone, "tables %06lu / %06lu still exist while a reader idles", before[0], before[1]);

    pthread_mutex_lock(&r.mu);
    r.released = 1;
    pthread_cond_broadcast(&r.cv);
    pthread_mutex_unlock(&r.mu);
    pthread_join(t, NULL);
    cr_assert_eq(r.failures, 0);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    expect_gen(db, 50, 1);
    cr_assert_eq(lamina_close(db), LAMINA_OK);
}

/* Threads that read one handle after another: each handle is a fresh database holding other
 * values under the same keys, so a slot of a closed handle serving a new one would show. */
struct hopper {
    lamina_db *db;
    int round, done_round, failures, quit;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
};

static void *hopper_main(void *arg)
{
    struct hopper *h = arg;
    int seen = 0;
    for (;;) {
        pthread_mutex_lock(h->mu);
        while (h->round == seen && !h->quit)
            pthread_cond_wait(h->cv, h->mu);
        if (h->quit) {
            pthread_mutex_unlock(h->mu);
            return NULL;
        }
        seen = h->round;
        lamina_db *db = h->db;
        pthread_mutex_unlock(h->mu);
        char k[32], v[96];
        for (int i = 0; i < 10; i++) {
            size_t kl = tdb_key(k, (uint64_t)i), vl = tdb_value(v, (uint64_t)i, (uint64_t)seen);
            void *got = NULL;
            size_t gl;
            if (lamina_get(db, NULL, k, kl, &got, &gl) != LAMINA_OK || gl != vl ||
                memcmp(got, v, vl) != 0)
                h->failures++;
            lamina_free(got);
        }
        pthread_mutex_lock(h->mu);
        h->done_round = seen;
        pthread_cond_broadcast(h->cv);
        pthread_mutex_unlock(h->mu);
    }
}

Test(super_version, slots_of_a_closed_handle_never_serve_the_next)
{
    lamina_options o = quiet_options();
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    struct hopper h[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        h[i] = (struct hopper){.mu = &mu, .cv = &cv};
        cr_assert_eq(pthread_create(&t[i], NULL, hopper_main, &h[i]), 0);
    }
    for (int round = 1; round <= 6; round++) {
        lamina_db *db = tdb_open(T.path, &o);
        put_gen(db, 10, round);
        pthread_mutex_lock(&mu);
        for (int i = 0; i < 3; i++) {
            h[i].db = db;
            h[i].round = round;
        }
        pthread_cond_broadcast(&cv);
        for (int i = 0; i < 3; i++)
            while (h[i].done_round != round)
                pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        cr_assert_eq(db_sv_slot_count(db), 3);
        /* The threads keep their slots of this handle past its close. */
        cr_assert_eq(lamina_close(db), LAMINA_OK);
        cr_assert_eq(lamina_destroy(T.path), LAMINA_OK);
    }
    pthread_mutex_lock(&mu);
    for (int i = 0; i < 3; i++)
        h[i].quit = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(h[i].failures, 0, "thread %d read a closed handle's data", i);
    }
}
