/* db_impl.h — the private struct lamina_db shared by the engine's files (db.c open/close and
 * recovery, write.c writer queue, read.c get, db_iter.c, background.c flush and compaction,
 * properties.c), and the few internal calls they make of each other. */
#ifndef ENGINE_DB_IMPL_H
#define ENGINE_DB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "compaction/compaction.h"
#include "engine/batch.h"
#include "engine/filename.h"
#include "engine/log.h"
#include "engine/manifest.h"
#include "engine/version.h"
#include "lamina.h"
#include "memtable/memtable.h"
#include "sst/table.h"
#include "util/file.h"

/* What a reader pins: the memtables and the version of one moment (RocksDB's SuperVersion).
 * Replaced, under the db mutex, whenever one of them changes. */
struct super_version {
    atomic_int refs;
    memtable *mem;
    memtable **imm; /* newest first */
    size_t nimm;
    struct version *v;
};

/* An immutable memtable waiting for its flush, and the WAL that holds its data. The WAL
 * stays open until someone syncs and closes it (db_sync_old_wals), off the writers' path. */
struct imm_entry {
    memtable *mem;
    uint64_t wal_number;
    uint64_t id; /* switch number: flushes finish in this order */
    wfile *wal_file;
    log_writer *wal_log;
};

struct lamina_snapshot {
    uint64_t seq;
    struct lamina_snapshot *prev, *next;
};

/* A writer waiting in the queue (on its own stack). batch NULL with force_switch: the
 * memtable switch of lamina_flush. */
struct writer {
    const lamina_batch *batch;
    int sync, disable_wal, force_switch;
    int resume; /* lamina_resume's switch: passes "resuming", switches even when empty */
    int done, rc;
    pthread_cond_t cv;
    struct writer *next;
};

enum { DB_STAT_MAX_LEVELS = COMPACTION_MAX_LEVELS };

struct db_stats {
    atomic_uint_fast64_t user_bytes; /* key + value bytes of puts and deletes */
    atomic_uint_fast64_t wal_bytes;
    atomic_uint_fast64_t stall_micros;
    atomic_uint_fast64_t level_bytes_written[DB_STAT_MAX_LEVELS]; /* flush: 0, compaction */
    atomic_uint_fast64_t compaction_bytes_read;
    atomic_uint_fast64_t flushes, compactions, trivial_moves;
    /* Largest input of one compaction not from level 0, in bytes. */
    atomic_uint_fast64_t max_compaction_input;
};

/* A thread's cached super version of one handle (super_version.c). */
struct sv_slot;

struct lamina_db {
    char path[DB_PATH_MAX];
    lamina_options opts;
    file_lock *lock;
    wfile *info_log;
    pthread_mutex_t info_mu;
    block_cache *cache;
    /* Data block reads and bytes from table files per level (gets, iterators, compaction
     * inputs), for lamina_property's io figures. */
    struct io_counters io_levels[COMPACTION_MAX_LEVELS];
    /* Point lookups that searched the tables (each such key of a multi_get counts), and per
     * level what they cost: runs probed, filter probes, false positives, data blocks (Monkey's
     * measure), for the lamina.lookup-* properties. Relaxed atomic adds. */
    _Atomic uint64_t lookups;
    struct lookup_counters lookup_levels[COMPACTION_MAX_LEVELS];
    struct version_set vs;
    struct policy policy;
    struct table_options topts;
    uint64_t target_file_size; /* target_file_size_base, or its default from level 1 */

    pthread_mutex_t mu;
    pthread_mutex_t sv_mu;  /* guards the sv pointer swap (taken inside mu) and reader pins */
    pthread_cond_t bg_cv;   /* background work may be available */
    pthread_cond_t done_cv; /* a flush or compaction finished, or an error was set */

    /* Write side (mu). */
    struct writer *wq_head, *wq_tail;
    memtable *mem;
    uint64_t wal_number; /* WAL of mem */
    wfile *wal_file;
    log_writer *wal;
    struct imm_entry *imm; /* oldest first */
    size_t nimm, cap_imm;
    uint64_t switches, flushed_upto;
    int wal_closing; /* old WALs being synced outside mu */
    struct super_version *sv;
    uint64_t next_seq;                  /* last sequence number assigned (writer) */
    atomic_uint_fast64_t last_sequence; /* last sequence number visible to readers */

    /* Snapshots (mu) and iterators. */
    struct lamina_snapshot snapshots; /* sentinel of a list ordered by seq */
    size_t nsnapshots;
    atomic_size_t live_iters;

    /* Background (mu). */
    pthread_t *threads;
    int nthreads;
    int shutdown;
    atomic_int cancel; /* raised at close: running compactions stop soon */
    int flush_running, compactions_running, manual_compaction;
    int max_compactions; /* max_background_jobs - 1 (at least 1): one thread kept for flushes */
    struct compaction_cursors cursors;
    /* Tables whose last reference went, waiting for a background thread to delete them
     * (obsolete_mu, which any thread may take, holding mu or not). */
    pthread_mutex_t obsolete_mu;
    uint64_t *obsolete;
    size_t nobsolete, cap_obsolete;
    int deleting; /* threads deleting a batch taken from the queue */
    table_cache *tables;
    int unlogged_writes; /* a disable_wal write happened: close flushes it */
    int bg_error;
    char bg_msg[512];
    int resuming; /* lamina_resume is at work: writes are refused until it ends */
    /* What WAL recovery dropped at open (point_in_time, skip_any), for lamina_errmsg and the
     * lamina.recovery property; "" when nothing. The WALs it dropped records of, and every
     * table the MANIFEST does not name, are moved to lost/ instead of being deleted. */
    char recovery_note[1024];
    uint64_t lost_wals[64];
    size_t nlost_wals;
    int recovery_keep_all_wals; /* more than lost_wals holds: keep every obsolete WAL */

    struct db_stats stats;

    /* Per-thread cached super versions (super_version.c), so that a get takes no lock. */
    uint64_t sv_id;                             /* this handle's number, unique in the process */
    _Atomic(struct super_version *) sv_current; /* sv, for gets to check their cached one */
    struct sv_slot *sv_slots;                   /* every thread's slot for this handle */

    /* Opened with lamina_open_read_only: no LOCK, LOG, WAL or background thread; bg_error
     * holds LAMINA_EREADONLY from the open on, so every write path refuses. */
    int read_only;
    /* A read-only handle's references to every table of its version (when they number at most
     * max_open_files), taken at open: a table a writer deletes later stays readable through
     * its open descriptor. Released at close. */
    table **pinned_tables;
    size_t npinned_tables;
};

/* db.c */
/* LAMINA_EREADONLY with the background error's message (or saying the handle was opened
 * read-only). */
int db_readonly_error(lamina_db *db);
void db_log(lamina_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the first background error (db read-only from then on) and wakes waiters.
 * Call with mu held; the thread's err message is kept. */
void db_set_bg_error(lamina_db *db, int rc, const char *what);
/* Builds a new super version from db->mem, imm and vs.current and swaps it in. Call with mu
 * held; returns the old one for the caller to release after unlocking. NULL on ENOMEM (the
 * old one stays). */
struct super_version *db_install_super_version(lamina_db *db);
/* Pins / releases the current super version (without taking mu), and reads the last
 * published sequence number consistently with it. A plain reference, for holders that keep it
 * a while or hand it to another thread (iterators, background work, properties). */
struct super_version *db_sv_acquire(lamina_db *db, uint64_t *seq);
void db_sv_release(struct super_version *sv);
/* The same through the calling thread's cached super version, taking no lock and writing only
 * the thread's own slot when nothing was installed since its last get: for short reads that
 * put it back on the same thread before their next db_sv_get (lamina_get). */
struct super_version *db_sv_get(lamina_db *db, uint64_t *seq);
void db_sv_put(lamina_db *db, struct super_version *sv);
/* At close, after the readers are gone: releases every thread's cached super version of db
 * (their slots stay with the threads, detached) and db->sv. */
void db_sv_close(lamina_db *db);
/* Threads holding a slot for db (for tests). */
size_t db_sv_slot_count(lamina_db *db);
/* Creates WAL number (its directory entry synced) and records it in the MANIFEST, setting
 * *file and *log. LAMINA_EREADONLY (the database turns read-only) if the record fails. */
int db_wal_create(lamina_db *db, uint64_t number, wfile **file, log_writer **log);

/* Syncs and closes the WALs of immutable memtables, oldest first, and waits for those other
 * threads are syncing, so that a synced write in the current WAL never outlives unsynced data
 * before it. Called with mu held (dropped meanwhile); a failed sync sets the bg error. */
int db_sync_old_wals(lamina_db *db);

/* write.c */
/* Runs the writer w through the queue (group commit). */
int db_write_impl(lamina_db *db, struct writer *w);
/* Makes w (initialised here) the head of the writer queue and returns with mu held: no write
 * runs until db_writers_release(db, w), called with mu held (it unlocks). lamina_ingest holds
 * the queue so that no write slips between its memtable check and its version edit. */
void db_writers_hold(lamina_db *db, struct writer *w);
void db_writers_release(lamina_db *db, struct writer *w);
/* While holding the queue (mu held): freezes a non-empty active memtable for its flush, as a
 * leader's switch does (it may wait while flushes or level-0 compactions catch up). */
int db_writers_switch_memtable(lamina_db *db);

/* Per-thread buffers (write.c's batch of lamina_put / lamina_delete, read.c's value and key
 * buffers) give their memory back after a call that made them grow past this. */
#define DB_THREAD_BUFFER_KEEP ((size_t)1 << 20)
/* Bytes the calling thread's lamina_put / lamina_delete batch holds now (for tests). */
size_t db_write_buffer_bytes(void);

/* read.c */
/* Bytes the calling thread's lamina_get_into / long-key buffers hold now (for tests). */
size_t db_read_buffer_bytes(void);

/* background.c */
int db_bg_start(lamina_db *db);
/* Stops the threads: running compactions are cancelled (their outputs deleted), a running
 * flush finishes; then deletes the queued obsolete files. */
void db_bg_stop(lamina_db *db);
/* The version set's on_obsolete hook: queues table file_number for deletion (any thread). */
void db_queue_obsolete(void *db, uint64_t file_number);
/* Deletes the queued obsolete tables (evicting their readers). Called without mu. */
void db_delete_queued(lamina_db *db);
/* Writes mem to level 0 as one run (its tables added to edit), keeping the versions the
 * snapshots need. */
int db_write_level0(lamina_db *db, memtable *mem, uint64_t run, const uint64_t *snapshots,
                    size_t nsnapshots, struct version_edit *edit);
/* Waits until every memtable switched so far is flushed. 0 or the background error. */
int db_wait_flushed(lamina_db *db, uint64_t upto);
/* When a table overlaps the user-key range [begin, end] (NULL: unbounded), merges every run
 * of every level into one run at the last level holding data (>= 1), after the running
 * compactions finish (no new one starts meanwhile). */
int db_compact_all(lamina_db *db, const void *begin, size_t begin_len, const void *end,
                   size_t end_len);
/* Logs edit to the MANIFEST and installs current + edit as the current version (with
 * pop_imm, also dropping the oldest immutable memtable, which the edit flushed). */
int db_log_and_apply(lamina_db *db, struct version_edit *edit, int pop_imm);
/* At close: logs the user bytes written since the last edit in a statistics-only edit, so
 * lamina.user-bytes-written keeps the writes a session leaves in its memtable (the WAL replay at
 * the next open does not count them). 0 or the MANIFEST write's error. */
int db_log_user_bytes(lamina_db *db);

/* Key and value size limits of the public API. */
static inline int db_check_sizes(size_t klen, size_t vlen)
{
    return klen <= LAMINA_MAX_KEY_LEN && vlen <= LAMINA_MAX_VALUE_LEN;
}

#endif
