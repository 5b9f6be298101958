/* db.c — opening, recovering and closing a database (LevelDB's DBImpl::Open / Recover):
 * LOCK, CURRENT -> MANIFEST replay, WAL replay into level 0, a fresh MANIFEST, obsolete-file
 * removal; plus super versions (RocksDB), snapshots, the LOG info log and lamina_destroy. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "engine/db_impl.h"
#include "engine/options.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* ---- Info log, errors ------------------------------------------------------------------- */

void db_log(lamina_db *db, const char *fmt, ...)
{
    if (!db->info_log) return;
    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    line[len++] = '\n';
    pthread_mutex_lock(&db->info_mu);
    /* The info log is best effort: its own failures must not fail the database. */
    if (wfile_append(db->info_log, line, len) == 0) (void)wfile_flush(db->info_log);
    pthread_mutex_unlock(&db->info_mu);
}

void db_set_bg_error(lamina_db *db, int rc, const char *what)
{
    if (db->bg_error) return;
    db->bg_error = rc;
    snprintf(db->bg_msg, sizeof(db->bg_msg), "%s: %s", what, err_message());
    pthread_cond_broadcast(&db->done_cv);
    pthread_cond_broadcast(&db->bg_cv);
    db_log(db, "error (database now read-only): %s", db->bg_msg);
}

int db_sync_old_wals(lamina_db *db)
{
    int rc = 0;
    while (rc == 0 && !db->bg_error) {
        struct imm_entry *e = NULL;
        for (size_t i = 0; i < db->nimm && !e; i++)
            if (db->imm[i].wal_file) e = &db->imm[i];
        if (!e) break;
        wfile *f = e->wal_file;
        log_writer *l = e->wal_log;
        e->wal_file = NULL;
        e->wal_log = NULL;
        db->wal_closing++;
        pthread_mutex_unlock(&db->mu);
        rc = wfile_sync(f);
        log_writer_destroy(l);
        int crc = wfile_close(f);
        if (rc == 0) rc = crc;
        pthread_mutex_lock(&db->mu);
        db->wal_closing--;
        pthread_cond_broadcast(&db->done_cv);
        if (rc) db_set_bg_error(db, rc, "WAL sync");
    }
    while (db->wal_closing && !db->bg_error)
        pthread_cond_wait(&db->done_cv, &db->mu);
    if (rc == 0 && db->bg_error) rc = db_readonly_error(db);
    return rc;
}

int db_readonly_error(lamina_db *db)
{
    return err_set(LAMINA_EREADONLY, "database is read-only after a background error: %s",
                   db->bg_msg);
}

int db_wal_create(lamina_db *db, uint64_t number, wfile **file, log_writer **log)
{
    char path[DB_PATH_MAX + 32];
    db_file_name(path, sizeof(path), db->path, number, "log");
    int rc = wfile_create(path, file);
    if (rc) return rc;
    /* The new WAL's directory entry must be durable before a synced write in it is
     * acknowledged. */
    if ((rc = dir_sync(db->path)) == 0 && !(*log = log_writer_create(*file, 0)))
        rc = err_set(LAMINA_ENOMEM, "%s: out of memory", path);
    if (rc) {
        (void)wfile_close(*file);
        *file = NULL;
    }
    return rc;
}

/* ---- Recovery --------------------------------------------------------------------------- */

struct replay_ctx {
    memtable *mem;
    uint64_t seq;
};

static int replay_one(void *ctx, int type, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct replay_ctx *c = ctx;
    return memtable_add(c->mem, c->seq++, type, k, kl, v, vl);
}

/* Replays one WAL into *mem, writing level-0 runs into edit whenever the memtable fills. */
static int db_replay_wal(lamina_db *db, uint64_t number, memtable **mem, uint64_t *last_seq,
                         struct version_edit *edit)
{
    char path[DB_PATH_MAX + 32], msg[512];
    log_reader *lr = NULL;
    buf rec = {0};
    int rc;
    uint64_t records = 0;
    db_file_name(path, sizeof(path), db->path, number, "log");
    if ((rc = log_reader_open(path, &lr))) return rc;
    for (;;) {
        uint64_t off = log_reader_end_offset(lr);
        rc = log_reader_next(lr, &rec);
        if (rc <= 0) break;
        uint64_t seq;
        uint32_t count;
        if ((rc = batch_rep_header(rec.data, rec.len, &seq, &count)) == 0)
            rc = batch_iterate(rec.data, rec.len, NULL, NULL);
        if (rc) {
            snprintf(msg, sizeof(msg), "%s", err_message());
            rc = err_set(LAMINA_ECORRUPT, "%s: record at offset %" PRIu64 ": %s", path, off, msg);
            break;
        }
        struct replay_ctx ctx = {*mem, seq};
        if ((rc = batch_iterate(rec.data, rec.len, replay_one, &ctx))) break;
        if (count && seq + count - 1 > *last_seq) *last_seq = seq + count - 1;
        records++;
        if (memtable_memory(*mem) >= (size_t)db->opts.write_buffer_size) {
            if ((rc = db_write_level0(db, *mem, db->vs.next_run++, NULL, 0, edit))) break;
            memtable_unref(*mem);
            if (!(*mem = memtable_create((enum memtable_kind)db->opts.memtable_type))) {
                rc = err_set(LAMINA_ENOMEM, "memtable: out of memory");
                break;
            }
        }
    }
    buf_free(&rec);
    log_reader_close(lr);
    if (rc == 0) db_log(db, "recovered %" PRIu64 " records from %s", records, path);
    return rc;
}

/* Replays every WAL numbered >= log_number into level 0 and logs a fresh MANIFEST whose
 * log number is the new WAL's (*new_wal). Until that MANIFEST is named by CURRENT the old WALs
 * and MANIFEST stay valid, so a crash during open loses nothing. */
static int db_recover_wals(lamina_db *db, uint64_t *last_seq, uint64_t *new_wal)
{
    char **names = NULL;
    size_t nnames = 0, nwals = 0;
    uint64_t *wals = NULL;
    memtable *mem = NULL;
    struct version_edit edit;
    int rc;
    version_edit_init(&edit);
    if ((rc = dir_list(db->path, &names, &nnames))) return rc;
    wals = mem_alloc((nnames + 1) * sizeof(*wals));
    if (!wals) {
        rc = err_set(LAMINA_ENOMEM, "open: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nnames; i++) {
        uint64_t num;
        char kind;
        if (!db_parse_file_name(names[i], &num, &kind)) continue;
        version_set_mark_file_used(&db->vs, num);
        if (kind == 'l' && num >= db->vs.log_number) wals[nwals++] = num;
    }
    qsort(wals, nwals, sizeof(*wals), file_number_cmp);
    /* Numbered only now: WALs of memtable switches since the MANIFEST's last edit lie above its
     * next file number, and the new log number must be above them all, or they would be kept
     * and replayed again, after newer data, at the next open. */
    *new_wal = version_set_new_file_number(&db->vs);
    if (!(mem = memtable_create((enum memtable_kind)db->opts.memtable_type))) {
        rc = err_set(LAMINA_ENOMEM, "memtable: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nwals; i++)
        if ((rc = db_replay_wal(db, wals[i], &mem, last_seq, &edit))) goto out;
    if (memtable_count(mem) && (rc = db_write_level0(db, mem, db->vs.next_run++, NULL, 0, &edit)))
        goto out;
    struct version *nv;
    if ((rc = version_apply(db->vs.current, &edit, 0, &nv))) goto out;
    version_unref(db->vs.current);
    db->vs.current = nv;
    db->vs.log_number = *new_wal;
    rc = version_set_new_manifest(&db->vs, *last_seq);
out:
    memtable_unref(mem);
    version_edit_free(&edit);
    mem_free(wals);
    dir_list_free(names, nnames);
    return rc;
}

/* With paranoid_checks, every table the MANIFEST names must exist (LevelDB checks the same
 * at open): a missing one is damage, better reported now than at some later read. */
static int db_check_tables(lamina_db *db)
{
    const struct version *v = db->vs.current;
    char path[DB_PATH_MAX + 32];
    for (int l = 0; l < v->num_levels; l++)
        for (size_t r = 0; r < v->levels[l].nruns; r++)
            for (size_t f = 0; f < v->levels[l].runs[r].nfiles; f++) {
                uint64_t num = v->levels[l].runs[r].files[f]->number;
                db_file_name(path, sizeof(path), db->path, num, "sst");
                if (!file_exists(path))
                    return err_set(LAMINA_ECORRUPT,
                                   "%s: named by MANIFEST-%06" PRIu64 " (level %d) but missing",
                                   path, db->vs.manifest_number, l);
            }
    return 0;
}

/* Deletes what the current state does not need: tables in no version, WALs older than the
 * log number, other MANIFESTs and OPTIONS files, temporary files. */
static void db_delete_obsolete(lamina_db *db, uint64_t options_number)
{
    char **names = NULL;
    size_t n = 0;
    if (dir_list(db->path, &names, &n)) return;
    const struct version *v = db->vs.current;
    for (size_t i = 0; i < n; i++) {
        uint64_t num;
        char kind;
        if (!db_parse_file_name(names[i], &num, &kind)) continue;
        int keep = 1;
        switch (kind) {
        case 'l':
            keep = num >= db->vs.log_number;
            break;
        case 'm':
            keep = num == db->vs.manifest_number;
            break;
        case 'o':
            keep = num == options_number;
            break;
        case 'x':
            keep = 0;
            break;
        case 't':
            keep = 0;
            for (int l = 0; l < v->num_levels && !keep; l++)
                for (size_t r = 0; r < v->levels[l].nruns && !keep; r++)
                    for (size_t f = 0; f < v->levels[l].runs[r].nfiles && !keep; f++)
                        keep = v->levels[l].runs[r].files[f]->number == num;
            break;
        }
        if (keep) continue;
        char path[DB_PATH_MAX + 300];
        snprintf(path, sizeof(path), "%s/%s", db->path, names[i]);
        if (file_remove(path) == 0) db_log(db, "deleted obsolete file %s", names[i]);
    }
    dir_list_free(names, n);
}

static int db_write_options_file(lamina_db *db, uint64_t *number)
{
    char path[DB_PATH_MAX + 32];
    buf text = {0};
    *number = version_set_new_file_number(&db->vs);
    snprintf(path, sizeof(path), "%s/OPTIONS-%06" PRIu64, db->path, *number);
    int rc = buf_append(&text, "# Lamina options in force (name=value)\n", 39);
    if (rc == 0) rc = options_format(&db->opts, &text);
    if (rc == 0) rc = file_write_all(path, text.data, text.len, 1);
    buf_free(&text);
    return rc;
}

static void db_free(lamina_db *db)
{
    db_sv_close(db);
    if (db->mem) memtable_unref(db->mem);
    for (size_t i = 0; i < db->nimm; i++) {
        memtable_unref(db->imm[i].mem);
        /* Not synced: like the active WAL, its bytes already reached the kernel. */
        if (db->imm[i].wal_log) log_writer_destroy(db->imm[i].wal_log);
        if (db->imm[i].wal_file) (void)wfile_close(db->imm[i].wal_file);
    }
    mem_free(db->imm);
    if (db->wal) log_writer_destroy(db->wal);
    if (db->wal_file) (void)wfile_close(db->wal_file);
    version_set_close(&db->vs);
    if (db->cache) block_cache_destroy(db->cache);
    batch_free(&db->group);
    if (db->info_log) (void)wfile_close(db->info_log);
    if (db->lock) file_lock_release(db->lock);
    pthread_mutex_destroy(&db->info_mu);
    pthread_mutex_destroy(&db->mu);
    pthread_mutex_destroy(&db->sv_mu);
    pthread_cond_destroy(&db->bg_cv);
    pthread_cond_destroy(&db->done_cv);
    mem_free(db->threads);
    mem_free(db);
}

/* Syncs the directory holding path, so that a directory the open just created survives a
 * crash with the database inside it. */
static int db_sync_parent(const char *path)
{
    char parent[DB_PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", path);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = 0;
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof(parent), ".");
    else if (slash == parent)
        parent[1] = 0;
    else
        *slash = 0;
    return dir_sync(parent);
}

static void db_init_policy(lamina_db *db)
{
    const lamina_options *o = &db->opts;
    uint64_t l1 = o->max_bytes_for_level_base ? (uint64_t)o->max_bytes_for_level_base
                                              : (uint64_t)o->write_buffer_size *
                                                    (uint64_t)o->level0_file_num_compaction_trigger;
    policy_init(&db->policy, o->compaction_policy, (int)o->size_ratio, (int)o->runs_per_level,
                (int)o->runs_last_level, (int)o->level0_file_num_compaction_trigger, l1,
                (int)o->num_levels);
    db->topts = (struct table_options){
        .block_size = (size_t)o->block_size,
        .restart_interval = (int)o->block_restart_interval,
        .compression = o->compression_type,
        .zstd_level = (int)o->zstd_level,
        .bloom_bits = (int)o->bloom_bits,
        .index_type = o->index_type,
    };
}

LAMINA_API int lamina_open(const char *path, const lamina_options *opts, lamina_db **out)
{
    char file[DB_PATH_MAX + 32];
    int rc;
    if (!path || !out) return err_set(LAMINA_EINVAL, "lamina_open: NULL argument");
    *out = NULL;
    if (strlen(path) >= DB_PATH_MAX - 32)
        return err_set(LAMINA_EINVAL, "lamina_open: path too long");
    lamina_db *db = mem_calloc(1, sizeof(*db));
    if (!db) return err_set(LAMINA_ENOMEM, "lamina_open: out of memory");
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->sv_mu, NULL);
    pthread_mutex_init(&db->info_mu, NULL);
    pthread_cond_init(&db->bg_cv, NULL);
    pthread_cond_init(&db->done_cv, NULL);
    db->snapshots.next = db->snapshots.prev = &db->snapshots;
    snprintf(db->path, sizeof(db->path), "%s", path);
    version_set_init(&db->vs, path, NULL, 0);
    if ((rc = options_copy(&db->opts, opts))) goto fail;
    if ((rc = batch_init(&db->group))) goto fail;
    db_init_policy(db);
    if (!(db->cache = block_cache_create((size_t)db->opts.cache_size, 16))) {
        rc = err_set(LAMINA_ENOMEM, "block cache: out of memory");
        goto fail;
    }
    db->vs.cache = db->cache;
    db->vs.num_levels = (int)db->opts.num_levels;

    /* Without create_if_missing, a directory holding no database is left untouched (no LOCK
     * file); the check is repeated under the lock below. */
    snprintf(file, sizeof(file), "%s/CURRENT", path);
    if (!db->opts.create_if_missing && !file_exists(file)) {
        rc = err_set(LAMINA_ENOENT, "%s: no database (create_if_missing is off)", path);
        goto fail;
    }
    if (!file_exists(path) && ((rc = dir_create(path)) || (rc = db_sync_parent(path)))) goto fail;
    snprintf(file, sizeof(file), "%s/LOCK", path);
    if ((rc = file_lock_acquire(file, &db->lock))) goto fail;
    snprintf(file, sizeof(file), "%s/CURRENT", path);
    int exists = file_exists(file);
    if (exists && db->opts.error_if_exists) {
        rc = err_set(LAMINA_EEXIST, "%s: database exists (error_if_exists is on)", path);
        goto fail;
    }
    if (!exists && !db->opts.create_if_missing) {
        rc = err_set(LAMINA_ENOENT, "%s: no database (create_if_missing is off)", path);
        goto fail;
    }
    /* The previous run's info log is kept as LOG.old (as LevelDB does). */
    char old_log[DB_PATH_MAX + 32];
    snprintf(file, sizeof(file), "%s/LOG", path);
    snprintf(old_log, sizeof(old_log), "%s/LOG.old", path);
    if (file_exists(file)) (void)file_rename(file, old_log);
    if (wfile_create(file, &db->info_log)) db->info_log = NULL;
    db_log(db, "opening %s (%s)", path, exists ? "existing" : "new");

    uint64_t last_seq = 0;
    if (exists)
        rc = version_set_recover(&db->vs, &last_seq);
    else
        rc = version_set_create_empty(&db->vs);
    if (rc == 0 && db->opts.paranoid_checks) rc = db_check_tables(db);
    if (rc) goto fail;
    uint64_t new_wal = 0;
    if ((rc = db_recover_wals(db, &last_seq, &new_wal))) goto fail;
    db->next_seq = last_seq;
    atomic_store(&db->last_sequence, last_seq);
    if ((rc = db_wal_create(db, new_wal, &db->wal_file, &db->wal))) goto fail;
    db->wal_number = new_wal;
    if (!(db->mem = memtable_create((enum memtable_kind)db->opts.memtable_type))) {
        rc = err_set(LAMINA_ENOMEM, "memtable: out of memory");
        goto fail;
    }
    uint64_t options_number;
    if ((rc = db_write_options_file(db, &options_number))) goto fail;
    db_delete_obsolete(db, options_number);
    if (!db_install_super_version(db) && !db->sv) {
        rc = err_set(LAMINA_ENOMEM, "lamina_open: out of memory");
        goto fail;
    }
    if ((rc = db_bg_start(db))) goto fail;
    const struct version *v = db->vs.current;
    db_log(db,
           "opened: last sequence %" PRIu64 ", WAL %06" PRIu64 ", MANIFEST-%06" PRIu64
           ", %d levels with data, I/O %s",
           last_seq, new_wal, db->vs.manifest_number, version_deepest_level(v) + 1,
           file_io_backend());
    *out = db;
    return 0;
fail : {
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", err_message());
    db_log(db, "open failed: %s", msg);
    db_free(db);
    err_set(rc, "%s", msg);
}
    return rc;
}

LAMINA_API int lamina_close(lamina_db *db)
{
    if (!db) return 0;
    pthread_mutex_lock(&db->mu);
    size_t iters = atomic_load(&db->live_iters);
    if (db->nsnapshots || iters) {
        int rc = err_set(LAMINA_EBUSY, "lamina_close: %zu snapshots and %zu iterators still live",
                         db->nsnapshots, iters);
        pthread_mutex_unlock(&db->mu);
        return rc;
    }
    int unlogged = db->unlogged_writes && !db->bg_error;
    pthread_mutex_unlock(&db->mu);
    /* Writes that skipped the WAL live only in memtables: flush them (as RocksDB does). */
    if (unlogged) (void)lamina_flush(db);
    db_bg_stop(db);
    int rc = db->bg_error;
    if (rc) err_set(rc, "%s", db->bg_msg);
    /* Unsynced WAL bytes still reach the kernel; a later crash of the machine may lose them,
     * as with any write that did not ask for sync. */
    if (db->wal_file && wfile_flush(db->wal_file) && !rc) rc = LAMINA_EIO;
    db_log(db, "closed");
    db_free(db);
    return rc;
}

LAMINA_API int lamina_destroy(const char *path)
{
    char file[DB_PATH_MAX + 300];
    file_lock *lock = NULL;
    char **names = NULL;
    size_t n = 0;
    if (!path) return err_set(LAMINA_EINVAL, "lamina_destroy: NULL path");
    if (!file_exists(path)) return 0;
    snprintf(file, sizeof(file), "%s/LOCK", path);
    int rc = file_lock_acquire(file, &lock);
    if (rc) return rc;
    if ((rc = dir_list(path, &names, &n))) goto out;
    for (size_t i = 0; i < n; i++) {
        uint64_t num;
        char kind;
        const char *name = names[i];
        if (!db_parse_file_name(name, &num, &kind) && strcmp(name, "CURRENT") != 0 &&
            strcmp(name, "LOG") != 0 && strcmp(name, "LOG.old") != 0)
            continue;
        snprintf(file, sizeof(file), "%s/%s", path, name);
        int r = file_remove(file);
        if (r && !rc) rc = r;
    }
out:
    dir_list_free(names, n);
    snprintf(file, sizeof(file), "%s/LOCK", path);
    int r = file_remove(file);
    if (r && !rc) rc = r;
    file_lock_release(lock);
    if (rc == 0 && dir_list(path, &names, &n) == 0) {
        size_t left = n;
        dir_list_free(names, n);
        if (left == 0) rc = dir_remove(path);
    }
    return rc;
}

/* ---- Snapshots -------------------------------------------------------------------------- */

LAMINA_API int lamina_snapshot_create(lamina_db *db, const lamina_snapshot **out)
{
    if (!db || !out) return err_set(LAMINA_EINVAL, "lamina_snapshot_create: NULL argument");
    struct lamina_snapshot *s = mem_alloc(sizeof(*s));
    if (!s) return err_set(LAMINA_ENOMEM, "lamina_snapshot_create: out of memory");
    pthread_mutex_lock(&db->mu);
    s->seq = atomic_load(&db->last_sequence);
    /* Sequence numbers only grow, so appending keeps the list sorted. */
    s->prev = db->snapshots.prev;
    s->next = &db->snapshots;
    s->prev->next = s;
    db->snapshots.prev = s;
    db->nsnapshots++;
    pthread_mutex_unlock(&db->mu);
    *out = s;
    return 0;
}

LAMINA_API void lamina_snapshot_release(lamina_db *db, const lamina_snapshot *snap)
{
    if (!db || !snap) return;
    struct lamina_snapshot *s = (struct lamina_snapshot *)snap;
    pthread_mutex_lock(&db->mu);
    s->prev->next = s->next;
    s->next->prev = s->prev;
    db->nsnapshots--;
    pthread_mutex_unlock(&db->mu);
    mem_free(s);
}
