/* write.c — the write path: a queue of writers whose leader commits a group of batches, one WAL
 * record per batch written in place and synced once, then memtable inserts (LevelDB's
 * DBImpl::Write group commit, without its merged copy of the batches), memtable switches, and
 * the slowdown / stop of writes while flushes and compactions catch up. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/db_impl.h"
#include "engine/options.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/fault.h"
#include "util/ikey.h"

/* Group commit stops adding batches past this many bytes (LevelDB's 1 MiB). */
#define WRITE_GROUP_MAX (1u << 20)

static uint64_t now_micros(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Freezes the active memtable and starts a new one with a new WAL. Called by the leader with
 * mu held; drops mu while creating the WAL (no other thread switches memtables). */
static int write_switch_memtable(lamina_db *db, int resume)
{
    uint64_t number = version_set_new_file_number(&db->vs);
    wfile *old_file = db->wal_file;
    log_writer *old_log = db->wal;
    wfile *nf = NULL;
    log_writer *nl = NULL;
    memtable *nm = memtable_create((enum memtable_kind)db->opts.memtable_type);
    if (!nm) return err_set(LAMINA_ENOMEM, "memtable: out of memory");
    pthread_mutex_unlock(&db->mu);
    int rc = db_wal_create(db, number, &nf, &nl);
    FAULT_CRASH_POINT("wal:switched");
    pthread_mutex_lock(&db->mu);
    if (rc) {
        memtable_unref(nm);
        db_set_bg_error(db, rc, "memtable switch");
        return rc;
    }
    if (db->nimm == db->cap_imm) {
        size_t cap = db->cap_imm ? db->cap_imm * 2 : 4;
        struct imm_entry *p = mem_realloc(db->imm, cap * sizeof(*p));
        if (!p) {
            log_writer_destroy(nl);
            (void)wfile_close(nf);
            memtable_unref(nm);
            return err_set(LAMINA_ENOMEM, "memtable switch: out of memory");
        }
        db->imm = p;
        db->cap_imm = cap;
    }
    memtable_freeze(db->mem);
    /* The old WAL is synced and closed later, by the flush or by the next synced write; after
     * a background error (resume) it may have seen a failed write, so it is closed unsynced:
     * the flush that lamina_resume waits for makes its records durable in a table. */
    if (resume && old_file) {
        log_writer_destroy(old_log);
        (void)wfile_close(old_file);
        old_file = NULL;
        old_log = NULL;
    }
    db->imm[db->nimm++] =
        (struct imm_entry){db->mem, db->wal_number, ++db->switches, old_file, old_log};
    db->mem = nm;
    db->wal_number = number;
    db->wal_file = nf;
    db->wal = nl;
    struct super_version *old = db_install_super_version(db);
    pthread_cond_broadcast(&db->bg_cv);
    if (!old) {
        /* Readers would not see the new memtable: stop writing rather than hide writes. */
        rc = err_set(LAMINA_ENOMEM, "memtable switch: out of memory for a super version");
        db_set_bg_error(db, rc, "memtable switch");
        return rc;
    }
    pthread_mutex_unlock(&db->mu);
    db_sv_release(old);
    pthread_mutex_lock(&db->mu);
    return 0;
}

/* Makes room for the leader's write: slows down, stops, or switches the memtable.
 * Called with mu held. */
static int write_make_room(lamina_db *db, int force, int resume)
{
    int delayed = 0;
    for (;;) {
        /* lamina_resume cleared the error before its switch: any error now is a new one. */
        if (db->bg_error || (db->resuming && !resume)) return db_readonly_error(db);
        const struct version *v = db->vs.current;
        size_t l0 = v->levels[0].nruns;
        int l0_limits = !db->policy.disabled;
        if (!force && !delayed && l0_limits &&
            l0 >= (size_t)db->opts.level0_slowdown_writes_trigger) {
            /* One 1 ms delay per write spreads the stall over many writes. */
            pthread_mutex_unlock(&db->mu);
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            atomic_fetch_add(&db->stats.stall_micros, 1000);
            pthread_mutex_lock(&db->mu);
            delayed = 1;
            continue;
        }
        if (!force && memtable_memory(db->mem) < (size_t)db->opts.write_buffer_size) return 0;
        if (force && !resume && memtable_count(db->mem) == 0) return 0;
        if (db->nimm >= (size_t)db->opts.max_write_buffer_number - 1 ||
            (l0_limits && l0 >= (size_t)db->opts.level0_stop_writes_trigger)) {
            uint64_t t0 = now_micros();
            pthread_cond_broadcast(&db->bg_cv);
            pthread_cond_wait(&db->done_cv, &db->mu);
            atomic_fetch_add(&db->stats.stall_micros, now_micros() - t0);
            continue;
        }
        return write_switch_memtable(db, resume);
    }
}

struct insert_ctx {
    memtable *mem;
    uint64_t seq;
    uint64_t bytes;
};

static int write_insert_one(void *ctx, int type, const uint8_t *k, size_t kl, const uint8_t *v,
                            size_t vl)
{
    struct insert_ctx *c = ctx;
    c->bytes += kl + vl;
    return memtable_add(c->mem, c->seq++, type, k, kl, v, vl);
}

/* Picks the writers queued behind the leader whose batches join its group; returns the last
 * writer of the group. A non-sync leader does not take sync writers (their fsync would be
 * skipped), and WAL and no-WAL writes do not mix. */
static struct writer *write_pick_group(struct writer *leader)
{
    struct writer *last = leader;
    size_t size = batch_len(leader->batch);
    size_t max = size <= (128u << 10) ? size + (128u << 10) : WRITE_GROUP_MAX;
    for (struct writer *w = leader->next; w; w = w->next) {
        if (w->force_switch || (w->sync && !leader->sync) || w->disable_wal != leader->disable_wal)
            break;
        size += batch_len(w->batch);
        if (size > max) break;
        last = w;
    }
    return last;
}

/* Writes the group's batches [first, last] to the WAL, one record per batch, and syncs once.
 * Each record is the batch's own bytes behind a header carrying its sequence number, so the
 * caller's batch is neither copied nor changed, and each batch is all-or-nothing after a crash
 * (a torn last record is dropped at recovery). */
static int write_group_to_wal(lamina_db *db, log_writer *wal, struct writer *first,
                              struct writer *last, uint64_t seq, int sync)
{
    uint8_t header[BATCH_HEADER_SIZE];
    for (struct writer *x = first;; x = x->next) {
        const lamina_batch *b = x->batch;
        uint32_t count = batch_count(b);
        coding_put_fixed64(header, seq);
        coding_put_fixed32(header + 8, count);
        int rc = log_writer_append(wal, header, sizeof(header), batch_rep(b) + BATCH_HEADER_SIZE,
                                   batch_len(b) - BATCH_HEADER_SIZE);
        if (rc) return rc;
        atomic_fetch_add(&db->stats.wal_bytes, batch_len(b));
        seq += count;
        if (x == last) break;
    }
    return log_writer_flush(wal, sync);
}

/* Inserts the group's batches into mem with consecutive sequence numbers from seq. */
static int write_group_to_memtable(lamina_db *db, memtable *mem, struct writer *first,
                                   struct writer *last, uint64_t seq)
{
    struct insert_ctx ctx = {mem, seq, 0};
    int rc = 0;
    /* ctx.seq runs on from one batch to the next, as the WAL records' headers do. */
    for (struct writer *x = first; rc == 0; x = x->next) {
        rc = batch_iterate(batch_rep(x->batch), batch_len(x->batch), write_insert_one, &ctx);
        if (x == last) break;
    }
    atomic_fetch_add(&db->stats.user_bytes, ctx.bytes);
    return rc;
}

int db_write_impl(lamina_db *db, struct writer *w)
{
    pthread_cond_init(&w->cv, NULL);
    w->done = 0;
    w->rc = 0;
    w->next = NULL;
    pthread_mutex_lock(&db->mu);
    if (db->wq_tail)
        db->wq_tail->next = w;
    else
        db->wq_head = w;
    db->wq_tail = w;
    while (!w->done && db->wq_head != w)
        pthread_cond_wait(&w->cv, &db->mu);
    if (w->done) {
        int rc = w->rc;
        if (rc) err_set(rc, "write failed in a group commit: %s", db->bg_msg);
        pthread_mutex_unlock(&db->mu);
        pthread_cond_destroy(&w->cv);
        return rc;
    }

    /* Leader. */
    int rc = write_make_room(db, w->force_switch || w->resume, w->resume);
    if (rc == 0 && w->sync && !w->disable_wal) rc = db_sync_old_wals(db);
    struct writer *last = w;
    if (rc == 0 && w->batch) {
        last = write_pick_group(w);
        uint64_t seq = db->next_seq + 1, count = 0;
        for (struct writer *x = w;; x = x->next) {
            count += batch_count(x->batch);
            if (x == last) break;
        }
        db->next_seq += count;
        memtable *mem = db->mem;
        if (w->disable_wal) db->unlogged_writes = 1;
        log_writer *wal = db->wal;
        /* Only the leader touches the WAL and adds to the memtable; readers go on. The group's
         * writers wait on their cv, so their batches stay put meanwhile. */
        pthread_mutex_unlock(&db->mu);
        if (!w->disable_wal) rc = write_group_to_wal(db, wal, w, last, seq, w->sync);
        if (rc == 0) rc = write_group_to_memtable(db, mem, w, last, seq);
        pthread_mutex_lock(&db->mu);
        if (rc == 0) {
            atomic_store_explicit(&db->last_sequence, db->next_seq, memory_order_release);
        } else {
            /* A failed WAL write or sync may have left a partial record, a failed insert a
             * partial batch: either way the database goes read-only. */
            db_set_bg_error(db, rc, "write");
        }
    }
    /* Wake the group (leader included) and hand the queue to the next writer. */
    for (;;) {
        struct writer *x = db->wq_head;
        db->wq_head = x->next;
        if (!db->wq_head) db->wq_tail = NULL;
        if (x != w) {
            x->rc = rc;
            x->done = 1;
            pthread_cond_signal(&x->cv);
        }
        if (x == last) break;
    }
    if (db->wq_head) pthread_cond_signal(&db->wq_head->cv);
    pthread_mutex_unlock(&db->mu);
    pthread_cond_destroy(&w->cv);
    return rc;
}

/* A per-thread batch for lamina_put / lamina_delete, so they allocate nothing per call; it
 * gives back what a large value made it grow past DB_THREAD_BUFFER_KEEP. */
static pthread_key_t write_tls_key;
static pthread_once_t write_tls_once = PTHREAD_ONCE_INIT;

static void write_tls_free(void *p)
{
    lamina_batch *b = p;
    batch_free(b);
    mem_free(b);
}

static void write_tls_init(void)
{
    (void)pthread_key_create(&write_tls_key, write_tls_free);
}

static lamina_batch *write_tls_batch(void)
{
    pthread_once(&write_tls_once, write_tls_init);
    lamina_batch *b = pthread_getspecific(write_tls_key);
    if (b) {
        lamina_batch_clear(b);
        return b;
    }
    b = mem_alloc(sizeof(*b));
    if (!b) return NULL;
    if (batch_init(b)) {
        mem_free(b);
        return NULL;
    }
    if (pthread_setspecific(write_tls_key, b)) {
        write_tls_free(b);
        return NULL;
    }
    return b;
}

size_t db_write_buffer_bytes(void)
{
    pthread_once(&write_tls_once, write_tls_init);
    const lamina_batch *b = pthread_getspecific(write_tls_key);
    return b ? b->rep.cap : 0;
}

/* Runs batch b through the writer queue with the caller's write options (struct_size rules of
 * options_write_copy). */
static int write_one(lamina_db *db, const lamina_write_options *wo, const lamina_batch *b,
                     const char *fn)
{
    lamina_write_options o;
    int rc = options_write_copy(&o, wo, fn);
    if (rc) return rc;
    struct writer w = {0};
    w.batch = b;
    w.sync = o.sync;
    w.disable_wal = o.disable_wal;
    return db_write_impl(db, &w);
}

LAMINA_API int lamina_put(lamina_db *db, const lamina_write_options *wo, const void *key,
                          size_t key_len, const void *value, size_t value_len)
{
    if (!db || (!key && key_len) || (!value && value_len))
        return err_set(LAMINA_EINVAL, "lamina_put: NULL argument");
    if (!db_check_sizes(key_len, value_len))
        return err_set(LAMINA_EINVAL,
                       "lamina_put: key of %zu bytes or value of %zu bytes over "
                       "the limits (%u, %u)",
                       key_len, value_len, LAMINA_MAX_KEY_LEN, LAMINA_MAX_VALUE_LEN);
    lamina_batch *b = write_tls_batch();
    if (!b) return err_set(LAMINA_ENOMEM, "lamina_put: out of memory");
    int rc = lamina_batch_put(b, key, key_len, value, value_len);
    if (rc == 0) rc = write_one(db, wo, b, "lamina_put");
    batch_shrink(b, DB_THREAD_BUFFER_KEEP);
    return rc;
}

LAMINA_API int lamina_delete(lamina_db *db, const lamina_write_options *wo, const void *key,
                             size_t key_len)
{
    if (!db || (!key && key_len)) return err_set(LAMINA_EINVAL, "lamina_delete: NULL argument");
    if (!db_check_sizes(key_len, 0))
        return err_set(LAMINA_EINVAL, "lamina_delete: key of %zu bytes over the limit (%u)",
                       key_len, LAMINA_MAX_KEY_LEN);
    lamina_batch *b = write_tls_batch();
    if (!b) return err_set(LAMINA_ENOMEM, "lamina_delete: out of memory");
    int rc = lamina_batch_delete(b, key, key_len);
    if (rc == 0) rc = write_one(db, wo, b, "lamina_delete");
    batch_shrink(b, DB_THREAD_BUFFER_KEEP);
    return rc;
}

LAMINA_API int lamina_delete_range(lamina_db *db, const lamina_write_options *wo, const void *begin,
                                   size_t begin_len, const void *end, size_t end_len)
{
    if (!db || (!begin && begin_len) || (!end && end_len))
        return err_set(LAMINA_EINVAL, "lamina_delete_range: NULL argument");
    if (!db_check_sizes(begin_len, 0) || !db_check_sizes(end_len, 0))
        return err_set(LAMINA_EINVAL, "lamina_delete_range: key of %zu bytes over the limit (%u)",
                       begin_len > end_len ? begin_len : end_len, LAMINA_MAX_KEY_LEN);
    lamina_batch *b = write_tls_batch();
    if (!b) return err_set(LAMINA_ENOMEM, "lamina_delete_range: out of memory");
    int rc = lamina_batch_delete_range(b, begin, begin_len, end, end_len);
    if (rc == 0 && batch_count(b) == 0) {
        /* An empty range: nothing to write, but the options are still checked. */
        lamina_write_options o;
        rc = options_write_copy(&o, wo, "lamina_delete_range");
    } else if (rc == 0) {
        rc = write_one(db, wo, b, "lamina_delete_range");
    }
    batch_shrink(b, DB_THREAD_BUFFER_KEEP);
    return rc;
}

LAMINA_API int lamina_write(lamina_db *db, const lamina_write_options *wo, const lamina_batch *b)
{
    if (!db || !b) return err_set(LAMINA_EINVAL, "lamina_write: NULL argument");
    if (batch_count(b) == 0) {
        /* Nothing to write, but the options are still checked. */
        lamina_write_options o;
        return options_write_copy(&o, wo, "lamina_write");
    }
    return write_one(db, wo, b, "lamina_write");
}

/* ---- Holding the queue (lamina_ingest) ------------------------------------------------- */

void db_writers_hold(lamina_db *db, struct writer *w)
{
    memset(w, 0, sizeof(*w));
    /* A force_switch writer joins no leader's group, so only its own release dequeues it. */
    w->force_switch = 1;
    pthread_cond_init(&w->cv, NULL);
    pthread_mutex_lock(&db->mu);
    if (db->wq_tail)
        db->wq_tail->next = w;
    else
        db->wq_head = w;
    db->wq_tail = w;
    while (db->wq_head != w)
        pthread_cond_wait(&w->cv, &db->mu);
}

int db_writers_switch_memtable(lamina_db *db)
{
    return write_make_room(db, 1, 0);
}

void db_writers_release(lamina_db *db, struct writer *w)
{
    db->wq_head = w->next;
    if (!db->wq_head) db->wq_tail = NULL;
    if (db->wq_head) pthread_cond_signal(&db->wq_head->cv);
    pthread_mutex_unlock(&db->mu);
    pthread_cond_destroy(&w->cv);
}
