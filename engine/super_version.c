/* super_version.c — what a reader pins: the memtables and version of one moment (RocksDB's
 * SuperVersion), installed by the writer and background threads, acquired by readers; and the
 * per-thread cache of it that gets use (RocksDB's ThreadLocalSuperVersion), so that a get takes
 * no lock and writes no cache line another thread writes.
 *
 * Each thread that gets from a database has a slot for it, holding a referenced super version.
 * A get swaps the slot to SV_IN_USE, checks that what it took is still current, and swaps it
 * back afterwards; an install empties every slot of its database (dropping their references)
 * so old versions and the tables only they hold go promptly. Slots live in two lists: the
 * thread's (its TLS, walked only by that thread) and the database's (under sv_registry_mu).
 * A thread's slots are freed when it exits; a database that closes first detaches its slots,
 * so the exiting thread never touches a freed handle. */
#include <pthread.h>

#include "engine/db_impl.h"
#include "util/alloc.h"

/* A slot's state besides a referenced super version: in use by its thread's get, or emptied
 * (NULL) by an install or the database's close. */
static char sv_in_use_marker;
#define SV_IN_USE ((struct super_version *)&sv_in_use_marker)

struct sv_slot {
    /* The thread's side, read by every get. */
    _Atomic(struct super_version *) sv; /* referenced, SV_IN_USE or NULL (emptied) */
    struct super_version *held;         /* what db_sv_get handed out from here (thread only) */
    uint64_t db_id;                     /* the database's sv_id; never changes */
    struct sv_slot *thread_next;        /* the thread's list (thread only) */
    /* The database's side (sv_registry_mu). */
    lamina_db *db; /* NULL once the database closed */
    struct sv_slot *db_prev, *db_next;
};

/* Slots are cache-line aligned, so that one thread's get does not share a line with another's. */
#define SV_SLOT_ALIGN 64

/* Guards every database's slot list and every slot's db field. Taken by installs, by a thread's
 * first get from a database, by thread exit and by close: never by a get itself. */
static pthread_mutex_t sv_registry_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t sv_next_id;
static pthread_key_t sv_tls_key; /* the thread's list of slots */
static pthread_once_t sv_tls_once = PTHREAD_ONCE_INIT;

/* Removes s from its database's list (sv_registry_mu held) and drops its reference. */
static void sv_slot_detach(struct sv_slot *s)
{
    if (s->db_prev)
        s->db_prev->db_next = s->db_next;
    else
        s->db->sv_slots = s->db_next;
    if (s->db_next) s->db_next->db_prev = s->db_prev;
    s->db = NULL;
    s->db_prev = s->db_next = NULL;
    struct super_version *sv = atomic_exchange_explicit(&s->sv, NULL, memory_order_acq_rel);
    if (sv && sv != SV_IN_USE) db_sv_release(sv);
}

/* Thread exit: releases the thread's slots. References are dropped under sv_registry_mu, so a
 * closing database cannot be freed meanwhile. */
static void sv_thread_exit(void *head)
{
    pthread_mutex_lock(&sv_registry_mu);
    for (struct sv_slot *s = head, *next; s; s = next) {
        next = s->thread_next;
        if (s->db) sv_slot_detach(s);
        mem_free(s);
    }
    pthread_mutex_unlock(&sv_registry_mu);
}

static void sv_tls_init(void)
{
    (void)pthread_key_create(&sv_tls_key, sv_thread_exit);
}

/* The calling thread's slot for db, or NULL if it has none. */
static struct sv_slot *sv_slot_find(const lamina_db *db)
{
    pthread_once(&sv_tls_once, sv_tls_init);
    struct sv_slot *s = pthread_getspecific(sv_tls_key);
    while (s && s->db_id != db->sv_id)
        s = s->thread_next;
    return s;
}

/* Gives the calling thread a slot for db (empty), and frees its slots of closed databases.
 * NULL when out of memory: the get then pins the plain way. */
static struct sv_slot *sv_slot_create(lamina_db *db)
{
    struct sv_slot *head = pthread_getspecific(sv_tls_key);
    struct sv_slot *s = mem_aligned_alloc(SV_SLOT_ALIGN, sizeof(*s));
    if (!s) return NULL;
    atomic_init(&s->sv, NULL);
    s->held = NULL;
    s->db_id = db->sv_id;
    s->thread_next = head;
    s->db_prev = NULL;
    pthread_mutex_lock(&sv_registry_mu);
    s->db = db;
    s->db_next = db->sv_slots;
    if (s->db_next) s->db_next->db_prev = s;
    db->sv_slots = s;
    pthread_mutex_unlock(&sv_registry_mu);
    if (pthread_setspecific(sv_tls_key, s)) {
        pthread_mutex_lock(&sv_registry_mu);
        sv_slot_detach(s);
        pthread_mutex_unlock(&sv_registry_mu);
        mem_free(s);
        return NULL;
    }
    pthread_mutex_lock(&sv_registry_mu);
    for (struct sv_slot *prev = s, *x = s->thread_next; x; x = prev->thread_next) {
        if (x->db) {
            prev = x;
            continue;
        }
        prev->thread_next = x->thread_next;
        mem_free(x);
    }
    pthread_mutex_unlock(&sv_registry_mu);
    return s;
}

struct super_version *db_install_super_version(lamina_db *db)
{
    struct super_version *sv = mem_alloc(sizeof(*sv));
    memtable **imm = db->nimm ? mem_alloc(db->nimm * sizeof(*imm)) : NULL;
    if (!sv || (db->nimm && !imm)) {
        mem_free(sv);
        mem_free(imm);
        return NULL;
    }
    atomic_init(&sv->refs, 1);
    sv->mem = db->mem;
    memtable_ref(sv->mem);
    sv->nimm = db->nimm;
    sv->imm = imm;
    for (size_t i = 0; i < db->nimm; i++) {
        imm[i] = db->imm[db->nimm - 1 - i].mem;
        memtable_ref(imm[i]);
    }
    sv->v = db->vs.current;
    version_ref(sv->v);
    /* The first install (at open, before any reader) numbers the handle for the slots. */
    if (!db->sv_id) db->sv_id = atomic_fetch_add(&sv_next_id, 1) + 1;
    pthread_mutex_lock(&db->sv_mu);
    struct super_version *old = db->sv;
    db->sv = sv;
    /* Before any write into a memtable of sv publishes its sequence number (see db_sv_get). */
    atomic_store_explicit(&db->sv_current, sv, memory_order_release);
    pthread_mutex_unlock(&db->sv_mu);
    /* Empty every thread's slot. A slot in use is emptied too: its put then finds it empty and
     * releases what it took. A slot can only hold old, or sv itself (put back by a get between
     * the swap and this loop): the caller still holds old and db->sv holds sv, so nothing is
     * freed here under the db mutex. */
    pthread_mutex_lock(&sv_registry_mu);
    for (struct sv_slot *s = db->sv_slots; s; s = s->db_next) {
        struct super_version *x = atomic_exchange_explicit(&s->sv, NULL, memory_order_acq_rel);
        if (x && x != SV_IN_USE) db_sv_release(x);
    }
    pthread_mutex_unlock(&sv_registry_mu);
    return old;
}

struct super_version *db_sv_acquire(lamina_db *db, uint64_t *seq)
{
    /* sv_mu, not mu: readers never queue behind writers or background work. The sequence
     * number is read under it too: a write into a memtable newer than this super version can
     * only be published after that memtable's super version is installed (under sv_mu). */
    pthread_mutex_lock(&db->sv_mu);
    struct super_version *sv = db->sv;
    atomic_fetch_add_explicit(&sv->refs, 1, memory_order_relaxed);
    *seq = atomic_load_explicit(&db->last_sequence, memory_order_acquire);
    pthread_mutex_unlock(&db->sv_mu);
    return sv;
}

void db_sv_release(struct super_version *sv)
{
    if (!sv || atomic_fetch_sub_explicit(&sv->refs, 1, memory_order_acq_rel) != 1) return;
    memtable_unref(sv->mem);
    for (size_t i = 0; i < sv->nimm; i++)
        memtable_unref(sv->imm[i]);
    version_unref(sv->v);
    mem_free(sv->imm);
    mem_free(sv);
}

struct super_version *db_sv_get(lamina_db *db, uint64_t *seq)
{
    struct sv_slot *s = sv_slot_find(db);
    if (!s) s = sv_slot_create(db);
    /* No slot, or (never in the engine's own use) a second get before the first's put. */
    if (!s || s->held) return db_sv_acquire(db, seq);
    struct super_version *sv = atomic_exchange_explicit(&s->sv, SV_IN_USE, memory_order_acquire);
    /* The sequence number first, then the check that sv is still current. A write into a
     * memtable that sv lacks is published (release) only after the super version holding that
     * memtable was made current, so a sequence number that covers such a write makes the check
     * below see the newer super version and fail. */
    *seq = atomic_load_explicit(&db->last_sequence, memory_order_acquire);
    if (!sv || sv != atomic_load_explicit(&db->sv_current, memory_order_acquire)) {
        db_sv_release(sv);
        sv = db_sv_acquire(db, seq);
    }
    s->held = sv;
    return sv;
}

void db_sv_put(lamina_db *db, struct super_version *sv)
{
    struct sv_slot *s = sv_slot_find(db);
    if (s && s->held == sv) {
        s->held = NULL;
        struct super_version *expected = SV_IN_USE;
        /* Fails when an install emptied the slot meanwhile: sv is then no longer current. */
        if (atomic_compare_exchange_strong_explicit(&s->sv, &expected, sv, memory_order_release,
                                                    memory_order_relaxed))
            return;
    }
    db_sv_release(sv);
}

void db_sv_close(lamina_db *db)
{
    pthread_mutex_lock(&sv_registry_mu);
    while (db->sv_slots)
        sv_slot_detach(db->sv_slots);
    pthread_mutex_unlock(&sv_registry_mu);
    db_sv_release(db->sv);
    db->sv = NULL;
}

size_t db_sv_slot_count(lamina_db *db)
{
    size_t n = 0;
    pthread_mutex_lock(&sv_registry_mu);
    for (const struct sv_slot *s = db->sv_slots; s; s = s->db_next)
        n++;
    pthread_mutex_unlock(&sv_registry_mu);
    return n;
}
