/* db.c — opening, recovering and closing a database (LevelDB's DBImpl::Open / Recover), and
 * opening it read-only (RocksDB's OpenForReadOnly): refusing another engine's directory, LOCK,
 * CURRENT -> MANIFEST replay, replay of the WALs the MANIFEST records (RocksDB's
 * track_and_verify_wals_in_manifest) into level 0, a fresh MANIFEST, removal of the obsolete
 * files Lamina made (and of nothing else); WAL creation, snapshots, the LOG info log and its
 * history, the OPTIONS file read back (lamina_options_load) and lamina_destroy. */
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
    /* The info log is best effort: its own failures must neither fail the database nor
     * replace the message of the error being logged (often the same full disk). */
    char saved[512];
    snprintf(saved, sizeof(saved), "%s", err_message());
    pthread_mutex_lock(&db->info_mu);
    int rc = wfile_append(db->info_log, line, len);
    if (rc == 0) rc = wfile_flush(db->info_log);
    pthread_mutex_unlock(&db->info_mu);
    if (rc) err_set(0, "%s", saved);
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
    if (db->read_only)
        return err_set(LAMINA_EREADONLY,
                       "%s: opened read-only (lamina_open_read_only): writes, flushes and "
                       "compactions are refused",
                       db->path);
    return err_set(LAMINA_EREADONLY, "database is read-only after a background error: %s",
                   db->bg_msg);
}

/* ---- WALs ------------------------------------------------------------------------------- */

/* Creates WAL number, makes its directory entry durable and records it in the MANIFEST before
 * any write can reach it, so the MANIFEST names every WAL that may hold data. running: the
 * database is open, and a failed MANIFEST record makes it read-only (as a failed flush edit
 * does); the empty WAL then stays, since the record may have reached the MANIFEST. */
static int db_wal_create_impl(lamina_db *db, uint64_t number, wfile **file, log_writer **log,
                              int running)
{
    char path[DB_PATH_MAX + 32], msg[512];
    db_file_name(path, sizeof(path), db->path, number, "log");
    *log = NULL;
    int rc = wfile_create(path, file);
    if (rc) return rc;
    /* The new WAL's directory entry must be durable before the MANIFEST names it, and before a
     * synced write in it is acknowledged. */
    if ((rc = dir_sync(db->path)) == 0 && !(*log = log_writer_create(*file, 0)))
        rc = err_set(LAMINA_ENOMEM, "%s: out of memory", path);
    if (rc == 0) {
        pthread_mutex_lock(&db->vs.manifest_mu);
        rc = version_set_log_wal(&db->vs, number, atomic_load(&db->last_sequence));
        pthread_mutex_unlock(&db->vs.manifest_mu);
        if (rc == 0) return 0;
        log_writer_destroy(*log);
        *log = NULL;
        if (running) {
            pthread_mutex_lock(&db->mu);
            db_set_bg_error(db, rc, "recording a new WAL in the MANIFEST");
            rc = db_readonly_error(db);
            pthread_mutex_unlock(&db->mu);
        }
    }
    snprintf(msg, sizeof(msg), "%s", err_message());
    (void)wfile_close(*file);
    *file = NULL;
    return err_set(rc, "%s", msg);
}

int db_wal_create(lamina_db *db, uint64_t number, wfile **file, log_writer **log)
{
    return db_wal_create_impl(db, number, file, log, 1);
}

/* ---- Recovery --------------------------------------------------------------------------- */

/* What WAL recovery has met so far (wal_recovery_mode decides what damage does). A torn tail is
 * taken for the end of the log only while no later record exists: a record after it, in the
 * same WAL or a later one, makes it a hole, which is damage. */
struct wal_recovery {
    int mode;         /* LAMINA_WAL_* */
    int stopped;      /* point_in_time met damage: nothing after it is replayed */
    int torn_pending; /* a torn tail was seen; a later record turns it into a hole */
    uint64_t torn_wal, torn_offset;
};

static const char *wal_mode_name(int mode)
{
    static const char *const names[] = {"tolerate_corrupted_tail", "absolute_consistency",
                                        "point_in_time", "skip_any"};
    return mode >= 0 && mode < 4 ? names[mode] : "?";
}

/* Records what recovery dropped: a LOG line, and db->recovery_note for lamina_errmsg and the
 * lamina.recovery property. The WAL goes to lost/ rather than being deleted. */
static void db_recovery_dropped(lamina_db *db, uint64_t wal, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void db_recovery_dropped(lamina_db *db, uint64_t wal, const char *fmt, ...)
{
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    db_log(db, "WAL recovery (%s): %s", wal_mode_name(db->opts.wal_recovery_mode), line);
    size_t used = strlen(db->recovery_note);
    if (used + 3 < sizeof(db->recovery_note))
        snprintf(db->recovery_note + used, sizeof(db->recovery_note) - used, "%s%s",
                 used ? "; " : "", line);
    for (size_t i = 0; i < db->nlost_wals; i++)
        if (db->lost_wals[i] == wal) return;
    if (db->nlost_wals < sizeof(db->lost_wals) / sizeof(db->lost_wals[0]))
        db->lost_wals[db->nlost_wals++] = wal;
    else
        db->recovery_keep_all_wals = 1;
}

/* Damage to a complete record, or a hole: fails the open unless the mode drops it. Returns 0
 * when recovery goes on (skip_any) or stops here (point_in_time), else the error. */
static int db_wal_damage(lamina_db *db, struct wal_recovery *wr, uint64_t wal, const char *what)
{
    switch (wr->mode) {
    case LAMINA_WAL_POINT_IN_TIME:
        wr->stopped = 1;
        db_recovery_dropped(db, wal, "%s; dropped it and every later record", what);
        return 0;
    case LAMINA_WAL_SKIP_ANY:
        db_recovery_dropped(db, wal, "%s; skipped it", what);
        return 0;
    default:
        return err_set(LAMINA_ECORRUPT,
                       "%s (wal_recovery_mode=%s fails on it; point_in_time or "
                       "skip_any open anyway, kvctl repair rebuilds)",
                       what, wal_mode_name(wr->mode));
    }
}

/* Appends mem (the reference passes to db) to the immutable memtables, newest last. */
static int db_push_immutable(lamina_db *db, memtable *mem, uint64_t wal_number)
{
    if (db->nimm == db->cap_imm) {
        size_t cap = db->cap_imm ? db->cap_imm * 2 : 4;
        struct imm_entry *n = mem_realloc(db->imm, cap * sizeof(*n));
        if (!n) return err_set(LAMINA_ENOMEM, "open: out of memory");
        db->imm = n;
        db->cap_imm = cap;
    }
    db->imm[db->nimm++] = (struct imm_entry){.mem = mem, .wal_number = wal_number};
    return 0;
}

/* Replays one WAL into *mem, writing level-0 runs into edit whenever the memtable fills (a
 * read-only open keeps them as immutable memtables instead);
 * *records gets the number of records replayed. */
static int db_replay_wal(lamina_db *db, uint64_t number, memtable **mem, uint64_t *last_seq,
                         struct version_edit *edit, uint64_t *records, struct wal_recovery *wr)
{
    char path[DB_PATH_MAX + 32], what[700];
    log_reader *lr = NULL;
    buf rec = {0};
    int rc;
    *records = 0;
    db_file_name(path, sizeof(path), db->path, number, "log");
    if ((rc = log_reader_open(path, &lr))) return rc;
    while (!wr->stopped) {
        uint64_t off = log_reader_end_offset(lr);
        rc = log_reader_next(lr, &rec);
        if (rc == 0) {
            const struct log_damage *d = log_reader_damage(lr);
            if (!d) break;
            if (wr->mode == LAMINA_WAL_ABSOLUTE_CONSISTENCY) {
                rc = err_set(LAMINA_ECORRUPT,
                             "%s: torn tail at offset %" PRIu64 " (%s; wal_recovery_mode="
                             "absolute_consistency fails on it)",
                             path, d->offset, d->why);
                break;
            }
            db_log(db, "%s: torn tail at offset %" PRIu64 " (%s): %" PRIu64 " bytes dropped", path,
                   d->offset, d->why, d->bytes);
            wr->torn_pending = 1;
            wr->torn_wal = number;
            wr->torn_offset = d->offset;
            break;
        }
        if (rc == LAMINA_ECORRUPT && log_reader_damage(lr)) {
            snprintf(what, sizeof(what), "%.500s", err_message());
            if ((rc = db_wal_damage(db, wr, number, what))) break;
            if (!wr->stopped && (rc = log_reader_skip_damage(lr))) break;
            continue;
        }
        if (rc < 0) break;
        if (wr->torn_pending) {
            /* The torn tail was a hole: records follow it. */
            snprintf(what, sizeof(what),
                     "%.300s/%06" PRIu64 ".log: torn record at offset %" PRIu64
                     " followed by the record at offset %" PRIu64 " of %.300s",
                     db->path, wr->torn_wal, wr->torn_offset, off, path);
            wr->torn_pending = 0;
            if ((rc = db_wal_damage(db, wr, wr->torn_wal, what))) break;
            if (wr->stopped) {
                db_recovery_dropped(db, number, "%s: dropped from offset %" PRIu64, path, off);
                break;
            }
        }
        uint64_t seq;
        uint32_t count;
        if ((rc = batch_rep_check(rec.data, rec.len, &seq, &count))) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s", err_message());
            snprintf(what, sizeof(what), "%.300s: record at offset %" PRIu64 ": %.300s", path, off,
                     msg);
            rc = err_set(LAMINA_ECORRUPT, "%s", what);
            if ((rc = db_wal_damage(db, wr, number, what))) break;
            continue;
        }
        if ((rc = batch_rep_insert(rec.data, rec.len, *mem, seq))) break;
        if (count && seq + count - 1 > *last_seq) *last_seq = seq + count - 1;
        (*records)++;
        if (memtable_memory(*mem) >= (size_t)db->opts.write_buffer_size) {
            /* A read-only open writes no table: the full memtable waits in memory, immutable. */
            if (db->read_only)
                rc = db_push_immutable(db, *mem, number);
            else if ((rc = db_write_level0(db, *mem, db->vs.next_run++, NULL, 0, edit)) == 0)
                memtable_unref(*mem);
            if (rc) break;
            if (!(*mem = memtable_create((enum memtable_kind)db->opts.memtable_type))) {
                rc = err_set(LAMINA_ENOMEM, "memtable: out of memory");
                break;
            }
        }
    }
    buf_free(&rec);
    log_reader_close(lr);
    if (rc == 0) db_log(db, "recovered %" PRIu64 " records from %s", *records, path);
    return rc;
}

/* Whether the file dir/name exists and is empty. */
static int db_file_is_empty(const char *dir, const char *name)
{
    char path[DB_PATH_MAX + 300];
    uint64_t size;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return file_size(path, &size) == 0 && size == 0;
}

/* Whether WAL number's first record reads (a file of other bytes is not ours to judge). */
static int db_wal_holds_records(const char *dir, uint64_t number)
{
    char path[DB_PATH_MAX + 32];
    log_reader *lr;
    buf rec = {0};
    db_file_name(path, sizeof(path), dir, number, "log");
    if (log_reader_open(path, &lr)) return 0;
    int found = log_reader_next(lr, &rec) == 1;
    buf_free(&rec);
    log_reader_close(lr);
    return found;
}

/* The WALs to replay, ascending, into out (room for vs->nwals + nlogs). With a MANIFEST that
 * tracks WALs: exactly those it records at or above the log number, each of which must exist
 * (a WAL is created before it is recorded, so a missing one is damage); obsolete records whose
 * files are gone are forgotten. With an older MANIFEST: every NNNNNN.log at or above the log
 * number in the directory (logs: their numbers, ascending), as before WAL tracking. */
static int db_wals_to_replay(lamina_db *db, const uint64_t *logs, size_t nlogs, uint64_t *out,
                             size_t *n)
{
    struct version_set *vs = &db->vs;
    *n = 0;
    if (!vs->wals_tracked) {
        for (size_t i = 0; i < nlogs; i++)
            if (logs[i] >= vs->log_number) out[(*n)++] = logs[i];
        db_log(db,
               "WAL recovery: MANIFEST-%06" PRIu64 " predates WAL tracking: replaying the %zu "
               "WAL(s) numbered from %06" PRIu64 " found in the directory",
               vs->manifest_number, *n, vs->log_number);
        return 0;
    }
    size_t kept = 0;
    for (size_t i = 0; i < vs->nwals; i++) {
        uint64_t w = vs->wals[i];
        int present = nlogs && bsearch(&w, logs, nlogs, sizeof(*logs), file_number_cmp) != NULL;
        if (w >= vs->log_number) {
            if (!present) {
                char path[DB_PATH_MAX + 32];
                db_file_name(path, sizeof(path), db->path, w, "log");
                return err_set(LAMINA_ECORRUPT, "%s: named by MANIFEST-%06" PRIu64 " but missing",
                               path, vs->manifest_number);
            }
            out[(*n)++] = w;
        }
        if (present || w >= vs->log_number) vs->wals[kept++] = w;
    }
    vs->nwals = kept;
    /* A WAL is recorded before any write reaches it, so one of our numbers holding a valid
     * record but not recorded means MANIFEST records were lost (a MANIFEST cut at a record boundary
     * reads clean): opening at that older version would sweep tables that hold data. */
    uint64_t next = atomic_load(&vs->next_file);
    for (size_t i = 0; i < nlogs; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%06" PRIu64 ".log", logs[i]);
        if (logs[i] < next && !version_set_wal_recorded(vs, logs[i]) &&
            !version_set_skipped(vs, logs[i]) && db_wal_holds_records(db->path, logs[i]))
            return err_set(LAMINA_ECORRUPT,
                           "%s/%s: holds data but MANIFEST-%06" PRIu64
                           " does not record it (MANIFEST records lost?); kvctl repair rebuilds",
                           db->path, name, vs->manifest_number);
    }
    db_log(db,
           "WAL recovery: MANIFEST-%06" PRIu64 " tracks WALs: replaying the %zu it records "
           "from %06" PRIu64,
           vs->manifest_number, *n, vs->log_number);
    return 0;
}

/* Lists the directory (names), its WALs' numbers ascending (logs) and the WALs to replay
 * (replay, db_wals_to_replay), each allocated here and freed by the caller (dir_list_free,
 * mem_free), on error too. */
static int db_scan_wals(lamina_db *db, char ***names, size_t *nnames, uint64_t **logs,
                        size_t *nlogs, uint64_t **replay, size_t *nreplay)
{
    int rc = dir_list(db->path, names, nnames);
    if (rc) return rc;
    *logs = mem_alloc((*nnames + 1) * sizeof(**logs));
    *replay = mem_alloc((*nnames + db->vs.nwals + 1) * sizeof(**replay));
    if (!*logs || !*replay) return err_set(LAMINA_ENOMEM, "open: out of memory");
    for (size_t i = 0; i < *nnames; i++) {
        uint64_t num;
        char kind;
        if (db_parse_file_name((*names)[i], &num, &kind) && kind == 'l') (*logs)[(*nlogs)++] = num;
    }
    qsort(*logs, *nlogs, sizeof(**logs), file_number_cmp);
    return db_wals_to_replay(db, *logs, *nlogs, *replay, nreplay);
}

/* Rebuilds vs->skip: numbers at or above next_file in names of Lamina's patterns are not
 * Lamina's (it never allocated them), and recorded ones stay skipped while such a file is
 * there. From here no new file takes them and no sweep removes their files. */
static int db_collect_skipped(lamina_db *db, char **names, size_t n)
{
    struct version_set *vs = &db->vs;
    uint64_t next = atomic_load(&vs->next_file);
    uint64_t *old = vs->skip;
    size_t nold = vs->nskip;
    int rc = 0;
    vs->skip = NULL;
    vs->nskip = vs->cap_skip = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t num;
        char kind;
        if (!db_parse_file_name(names[i], &num, &kind)) continue;
        if (num >= next || (nold && bsearch(&num, old, nold, sizeof(*old), file_number_cmp))) {
            rc = version_set_add_skip(vs, num);
            if (rc == 0 && num >= next)
                db_log(db, "%s is not Lamina's (number above %06" PRIu64 "): left alone", names[i],
                       next);
        }
    }
    mem_free(old);
    return rc;
}

/* Replays the WALs (db_wals_to_replay) into level 0 and logs a fresh MANIFEST whose log number
 * is the new WAL's (*new_wal). Until that MANIFEST is named by CURRENT the old WALs and
 * MANIFEST stay valid, so a crash during open loses nothing. */
static int db_recover_wals(lamina_db *db, uint64_t *last_seq, uint64_t *new_wal)
{
    struct version_set *vs = &db->vs;
    char **names = NULL;
    size_t nnames = 0, nlogs = 0, nreplay = 0;
    uint64_t *logs = NULL, *replay = NULL;
    memtable *mem = NULL;
    struct version_edit edit;
    int rc, tracked = vs->wals_tracked;
    uint64_t allocated = atomic_load(&vs->next_file);
    version_edit_init(&edit);
    if ((rc = db_scan_wals(db, &names, &nnames, &logs, &nlogs, &replay, &nreplay))) goto out;
    if (!tracked) {
        /* WALs of memtable switches since the MANIFEST's last edit lie above its next file
         * number; the new log number must be above them all, or they would be replayed again,
         * after newer data, at the next open. */
        for (size_t i = 0; i < nreplay; i++)
            version_set_mark_file_used(vs, replay[i]);
        /* Obsolete WALs with numbers it allocated are Lamina's too: the sweep removes them. */
        for (size_t i = 0; i < nlogs && rc == 0; i++)
            if (logs[i] < vs->log_number && logs[i] < allocated)
                rc = version_set_add_wal(vs, logs[i]);
        if (rc) goto out;
    }
    if ((rc = db_collect_skipped(db, names, nnames))) goto out;
    *new_wal = version_set_new_file_number(vs);
    if (!(mem = memtable_create((enum memtable_kind)db->opts.memtable_type))) {
        rc = err_set(LAMINA_ENOMEM, "memtable: out of memory");
        goto out;
    }
    struct wal_recovery wr = {.mode = db->opts.wal_recovery_mode};
    for (size_t i = 0; i < nreplay; i++) {
        uint64_t records = 0;
        if (wr.stopped) {
            char p[DB_PATH_MAX + 32];
            db_file_name(p, sizeof(p), db->path, replay[i], "log");
            db_recovery_dropped(db, replay[i], "%s: not replayed (after the damage)", p);
        } else if ((rc = db_replay_wal(db, replay[i], &mem, last_seq, &edit, &records, &wr))) {
            goto out;
        }
        /* Before WAL tracking, a scanned WAL is taken for Lamina's (and removed once its data
         * is in a table) if it held records or nothing: a file of other bytes is left alone. */
        if (!tracked) {
            char name[32];
            snprintf(name, sizeof(name), "%06" PRIu64 ".log", replay[i]);
            if ((records || db_file_is_empty(db->path, name)) &&
                (rc = version_set_add_wal(vs, replay[i])))
                goto out;
        }
    }
    if (memtable_count(mem) && (rc = db_write_level0(db, mem, vs->next_run++, NULL, 0, &edit)))
        goto out;
    struct version *nv;
    if ((rc = version_apply(vs->current, &edit, 0, &nv))) goto out;
    version_unref(vs->current);
    vs->current = nv;
    vs->log_number = *new_wal;
    /* What recovery flushed counts as flushes: the new MANIFEST's snapshot carries it. */
    if (edit.has_stats) edit_stats_add(&vs->stats, &edit.stats);
    rc = version_set_new_manifest(vs, *last_seq);
out:
    if (mem) memtable_unref(mem);
    version_edit_free(&edit);
    mem_free(logs);
    mem_free(replay);
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

/* ---- Which files are Lamina's ----------------------------------------------------------- */

/* The numbers of v's tables, ascending, in *out (NULL when there are none). */
static int db_live_tables(const struct version *v, uint64_t **out, size_t *n)
{
    size_t total = 0;
    *out = NULL;
    *n = 0;
    for (int l = 0; l < v->num_levels; l++)
        total += v->levels[l].nfiles;
    if (!total) return 0;
    if (!(*out = mem_alloc(total * sizeof(**out))))
        return err_set(LAMINA_ENOMEM, "open: out of memory");
    for (int l = 0; l < v->num_levels; l++)
        for (size_t r = 0; r < v->levels[l].nruns; r++)
            for (size_t f = 0; f < v->levels[l].runs[r].nfiles; f++)
                (*out)[(*n)++] = v->levels[l].runs[r].files[f]->number;
    qsort(*out, *n, sizeof(**out), file_number_cmp);
    return 0;
}

/* Deletes the files Lamina made that the current state no longer needs, and nothing else. A
 * file is Lamina's only with a number Lamina allocated (below next_file, not skipped); then
 * tables in no version, other MANIFESTs and OPTIONS files and temporary files go, and WALs
 * below the log number the MANIFEST records — or empty unrecorded ones, left by a crash
 * between a WAL's creation and its record (no write reaches a WAL before its record). After
 * WAL recovery dropped records, the WALs that held them and every table no version names are
 * moved to lost/ instead: recovery cannot account for what they hold. */
static int db_keep_in_lost(const lamina_db *db, char kind, uint64_t num)
{
    if (!db->nlost_wals && !db->recovery_keep_all_wals) return 0;
    if (kind == 't') return 1;
    if (kind != 'l') return 0;
    if (db->recovery_keep_all_wals) return 1;
    for (size_t i = 0; i < db->nlost_wals; i++)
        if (db->lost_wals[i] == num) return 1;
    return 0;
}

static void db_delete_obsolete(lamina_db *db, uint64_t options_number)
{
    struct version_set *vs = &db->vs;
    char **names = NULL;
    size_t n = 0, nlive = 0;
    uint64_t *live = NULL;
    if (db_live_tables(vs->current, &live, &nlive) || dir_list(db->path, &names, &n)) {
        mem_free(live);
        return;
    }
    uint64_t next = atomic_load(&vs->next_file);
    for (size_t i = 0; i < n; i++) {
        uint64_t num;
        char kind;
        if (!db_parse_file_name(names[i], &num, &kind)) continue;
        if (num >= next || version_set_skipped(vs, num)) continue;
        int remove = 0;
        switch (kind) {
        case 'l':
            remove = num < vs->log_number &&
                     (version_set_wal_recorded(vs, num) || db_file_is_empty(db->path, names[i]));
            break;
        case 't':
            remove = !nlive || !bsearch(&num, live, nlive, sizeof(*live), file_number_cmp);
            break;
        case 'm':
            remove = num != vs->manifest_number;
            break;
        case 'o':
            remove = num != options_number;
            break;
        case 'x':
            remove = 1;
            break;
        }
        if (!remove) continue;
        if (db_keep_in_lost(db, kind, num)) {
            if (db_move_to_lost(db->path, names[i]) == 0)
                db_log(db, "moved %s to " DB_LOST_DIR "/", names[i]);
            else
                db_log(db, "could not move %s to " DB_LOST_DIR "/ (left in place): %s", names[i],
                       err_message());
            continue;
        }
        char path[DB_PATH_MAX + 300];
        snprintf(path, sizeof(path), "%s/%s", db->path, names[i]);
        if (file_remove(path) == 0) db_log(db, "deleted obsolete file %s", names[i]);
    }
    version_set_prune_wals(vs);
    mem_free(live);
    dir_list_free(names, n);
}

/* Whether dir/name (an OPTIONS-NNNNNN) is Lamina's: it starts with Lamina's header, or is a
 * prefix of it. An unreadable file is no evidence either way. */
static int db_options_file_is_lamina(const char *dir, const char *name)
{
    char path[DB_PATH_MAX + 300];
    uint8_t *data = NULL;
    size_t len = 0, hlen = sizeof(OPTIONS_FILE_HEADER) - 1;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (file_read_all(path, &data, &len)) return 1;
    int ours = memcmp(data, OPTIONS_FILE_HEADER, len < hlen ? len : hlen) == 0;
    mem_free(data);
    return ours;
}

/* Refuses a directory that holds a RocksDB or LevelDB database, reading only: RocksDB's
 * IDENTITY, LevelDB's *.ldb tables, an OPTIONS file without Lamina's header, or a MANIFEST
 * (named by CURRENT) whose first fragment verifies with their masked CRC32C instead of
 * Lamina's XXH3. LAMINA_EINVAL. */
static int db_check_foreign(const char *path)
{
    char **names = NULL;
    size_t n = 0;
    char why[300] = "";
    int rc = dir_list(path, &names, &n);
    if (rc) return rc;
    /* A MANIFEST that verifies with Lamina's checksum settles it: an OPTIONS file without
     * Lamina's header is then a damaged one of ours (replaced at open), not another engine's. */
    enum manifest_owner owner = manifest_probe(path);
    for (size_t i = 0; i < n && !why[0]; i++) {
        uint64_t num;
        char kind;
        if (db_is_foreign_marker(names[i]) ||
            (owner != MANIFEST_LAMINA && db_parse_file_name(names[i], &num, &kind) && kind == 'o' &&
             !db_options_file_is_lamina(path, names[i])))
            snprintf(why, sizeof(why), "%s", names[i]);
    }
    dir_list_free(names, n);
    if (!why[0] && owner == MANIFEST_FOREIGN)
        snprintf(why, sizeof(why), "the MANIFEST named by CURRENT");
    if (why[0])
        return err_set(LAMINA_EINVAL, "%s: holds a RocksDB or LevelDB database, not Lamina's (%s)",
                       path, why);
    return 0;
}

static int db_write_options_file(lamina_db *db, uint64_t *number)
{
    char path[DB_PATH_MAX + 32], tmp[DB_PATH_MAX + 32], msg[512];
    buf text = {0};
    *number = version_set_new_file_number(&db->vs);
    uint64_t tmp_num = version_set_new_file_number(&db->vs);
    snprintf(path, sizeof(path), "%s/OPTIONS-%06" PRIu64, db->path, *number);
    db_file_name(tmp, sizeof(tmp), db->path, tmp_num, DB_TEMP_EXT);
    int rc = buf_append(&text, OPTIONS_FILE_HEADER, sizeof(OPTIONS_FILE_HEADER) - 1);
    if (rc == 0) rc = options_format(&db->opts, &text);
    /* Written whole under a temporary name, then renamed: a partial OPTIONS file could not be
     * told from another engine's. */
    if (rc == 0 && (rc = file_write_all(tmp, text.data, text.len, 1)) == 0)
        rc = file_rename(tmp, path);
    if (rc && file_exists(tmp)) {
        snprintf(msg, sizeof(msg), "%s", err_message());
        (void)file_remove(tmp);
        err_set(rc, "%s", msg);
    }
    buf_free(&text);
    return rc;
}

static void db_unpin_tables(lamina_db *db);

static void db_free(lamina_db *db)
{
    db_sv_close(db);
    db_unpin_tables(db);
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
    db_delete_queued(db);
    mem_free(db->obsolete);
    compaction_cursors_free(&db->cursors);
    table_cache_destroy(db->tables);
    if (db->cache) block_cache_destroy(db->cache);
    if (db->info_log) (void)wfile_close(db->info_log);
    if (db->lock) file_lock_release(db->lock);
    pthread_mutex_destroy(&db->info_mu);
    pthread_mutex_destroy(&db->obsolete_mu);
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
    uint64_t target = (uint64_t)o->target_file_size_base;
    if (target == 0) {
        target = l1 / 4;
        if (target > (64u << 20)) target = 64u << 20;
        if (target < (64u << 10)) target = 64u << 10;
    }
    db->target_file_size = target;
    policy_init(&db->policy, o->compaction_policy, (int)o->size_ratio, (int)o->runs_per_level,
                (int)o->runs_last_level, (int)o->level0_file_num_compaction_trigger, l1,
                (int)o->num_levels);
    db->policy.min_level_to_compress = (int)o->min_level_to_compress;
    db->topts = (struct table_options){
        .block_size = (size_t)o->block_size,
        .restart_interval = (int)o->block_restart_interval,
        .compression = o->compression_type,
        .zstd_level = (int)o->zstd_level,
        .bloom_bits = (int)o->bloom_bits,
        .index_type = o->index_type,
        .format_version = (int)o->format_version,
    };
}

/* ---- Info log history ------------------------------------------------------------------ */

struct old_log {
    uint64_t micros;
    char name[64];
};

static int old_log_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct old_log *)a)->micros, y = ((const struct old_log *)b)->micros;
    return x < y ? -1 : x > y;
}

/* Keeps the previous LOG as LOG.old.<microseconds since the epoch> (RocksDB's naming; a name
 * taken already gets the next microsecond) and deletes the oldest earlier logs beyond
 * keep_log_file_num ("LOG.old" of an older Lamina counts as the oldest). Best effort: the info
 * log must never fail an open. Called under the LOCK. */
static void db_rotate_info_log(const char *path, int64_t keep)
{
    char file[DB_PATH_MAX + 80], old[DB_PATH_MAX + 80];
    struct timeval tv;
    char **names = NULL;
    size_t n = 0, nold = 0;
    snprintf(file, sizeof(file), "%s/LOG", path);
    if (file_exists(file)) {
        gettimeofday(&tv, NULL);
        uint64_t micros = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
        do
            snprintf(old, sizeof(old), "%s/" DB_OLD_LOG ".%" PRIu64, path, micros++);
        while (file_exists(old));
        if (keep > 0)
            (void)file_rename(file, old);
        else
            (void)file_remove(file);
    }
    if (dir_list(path, &names, &n)) return;
    struct old_log *logs = mem_alloc((n + 1) * sizeof(*logs));
    for (size_t i = 0; logs && i < n; i++) {
        uint64_t micros;
        if (strlen(names[i]) < sizeof(logs[0].name) && db_parse_old_log(names[i], &micros)) {
            logs[nold].micros = micros;
            snprintf(logs[nold++].name, sizeof(logs[0].name), "%s", names[i]);
        }
    }
    if (logs) qsort(logs, nold, sizeof(*logs), old_log_cmp);
    for (size_t i = 0; logs && nold > (uint64_t)keep && i < nold - (size_t)keep; i++) {
        snprintf(old, sizeof(old), "%s/%s", path, logs[i].name);
        (void)file_remove(old);
    }
    mem_free(logs);
    dir_list_free(names, n);
}

/* ---- Options that persist ------------------------------------------------------------- */

/* The name of the newest Lamina OPTIONS file in path into name (cap bytes): the highest
 * number, among those below below (UINT64_MAX: any) that vs (NULL: none) does not skip.
 * 0, LAMINA_ENOENT when there is none, or the error of listing the directory. */
static int db_newest_options(const char *path, const struct version_set *vs, uint64_t below,
                             char *name, size_t cap)
{
    char **names = NULL;
    size_t n = 0;
    uint64_t best = 0;
    int found = 0;
    int rc = dir_list(path, &names, &n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        uint64_t num;
        char kind;
        if (!db_parse_file_name(names[i], &num, &kind) || kind != 'o' || num >= below ||
            (vs && version_set_skipped(vs, num)) || (found && num < best))
            continue;
        best = num;
        found = 1;
        snprintf(name, cap, "%s", names[i]);
    }
    dir_list_free(names, n);
    return found ? 0 : err_set(LAMINA_ENOENT, "%s: no OPTIONS file", path);
}

LAMINA_API int lamina_options_load(const char *path, lamina_options *opts)
{
    char file[DB_PATH_MAX + 300], name[256];
    if (!path || !opts) return err_set(LAMINA_EINVAL, "lamina_options_load: NULL argument");
    if (strlen(path) >= DB_PATH_MAX - 32)
        return err_set(LAMINA_EINVAL, "lamina_options_load: path too long");
    if (opts->struct_size < OPTIONS_MIN_STRUCT_SIZE)
        return err_set(LAMINA_EINVAL,
                       "lamina_options_load: struct_size %zu is smaller than %zu (fill the "
                       "struct with lamina_options_init)",
                       opts->struct_size, (size_t)OPTIONS_MIN_STRUCT_SIZE);
    snprintf(file, sizeof(file), "%s/CURRENT", path);
    if (!file_exists(path) || !file_exists(file))
        return err_set(LAMINA_ENOENT, "%s: no database", path);
    int rc = db_check_foreign(path);
    if (rc == 0) rc = db_newest_options(path, NULL, UINT64_MAX, name, sizeof(name));
    if (rc) return rc;
    snprintf(file, sizeof(file), "%s/%s", path, name);
    return options_load_file(file, opts);
}

/* Logs every option of the open that differs from the previous OPTIONS file (a structural one
 * says so): the new OPTIONS file records them, the LOG keeps when they changed. */
static void db_log_option_changes(lamina_db *db)
{
    char name[256], file[DB_PATH_MAX + 300];
    if (db_newest_options(db->path, &db->vs, atomic_load(&db->vs.next_file), name, sizeof(name)))
        return;
    snprintf(file, sizeof(file), "%s/%s", db->path, name);
    lamina_options prev = db->opts;
    if (options_load_file(file, &prev)) {
        db_log(db, "previous options not read: %s", err_message());
        return;
    }
    for (size_t i = 0; i < lamina_options_count(); i++) {
        if (options_is_per_open(i) || !options_differ(&prev, &db->opts, i)) continue;
        char was[64], now[64];
        options_value_text(&prev, i, was, sizeof(was));
        options_value_text(&db->opts, i, now, sizeof(now));
        db_log(db, "option %s changed%s: %s in %s, now %s", lamina_options_describe(i)->name,
               options_is_structural(i) ? " (structural: the tree reshapes from here)" : "", was,
               name, now);
    }
}

/* ---- Open --------------------------------------------------------------------------------- */

/* The handle's version set, its tables read through db's table cache. A read-only handle
 * deletes nothing: a table whose last version goes is not queued for deletion. */
static void db_vs_init(lamina_db *db)
{
    version_set_init(&db->vs, db->path, NULL, 0);
    db->vs.max_manifest_size = (uint64_t)db->opts.max_manifest_file_size;
    db->vs.cache = db->cache;
    db->vs.num_levels = (int)db->opts.num_levels;
    db->vs.tables = db->tables;
    db->vs.pin_l0_meta = db->opts.pin_l0_filter_and_index_blocks_in_cache;
    db->vs.pin_meta = !db->opts.cache_index_and_filter_blocks;
    db->vs.on_obsolete = db->read_only ? NULL : db_queue_obsolete;
    db->vs.obsolete_ctx = db;
}

/* A handle for path with opts, its caches made and nothing read: what both opens share. */
static int db_handle_create(const char *path, const lamina_options *opts, int read_only,
                            lamina_db **out)
{
    int rc;
    *out = NULL;
    if (strlen(path) >= DB_PATH_MAX - 32) return err_set(LAMINA_EINVAL, "path too long");
    lamina_db *db = mem_calloc(1, sizeof(*db));
    if (!db) return err_set(LAMINA_ENOMEM, "out of memory");
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->sv_mu, NULL);
    pthread_mutex_init(&db->info_mu, NULL);
    pthread_mutex_init(&db->obsolete_mu, NULL);
    pthread_cond_init(&db->bg_cv, NULL);
    pthread_cond_init(&db->done_cv, NULL);
    db->snapshots.next = db->snapshots.prev = &db->snapshots;
    db->read_only = read_only;
    snprintf(db->path, sizeof(db->path), "%s", path);
    rc = options_copy(&db->opts, opts);
    if (rc == 0) {
        db_init_policy(db);
        if (!(db->cache = block_cache_create((size_t)db->opts.cache_size, 16)))
            rc = err_set(LAMINA_ENOMEM, "block cache: out of memory");
    }
    if (rc == 0) {
        /* A handful of readers at least, or every get would reopen its tables. */
        int64_t max_open = db->opts.max_open_files;
        if (max_open >= 0 && max_open < 20) max_open = 20;
        int file_flags = (db->opts.use_direct_reads ? RFILE_DIRECT : 0) |
                         (db->opts.use_io_uring ? 0 : RFILE_NO_URING);
        if (!(db->tables = table_cache_create(path, max_open, db->cache, file_flags)))
            rc = err_set(LAMINA_ENOMEM, "table cache: out of memory");
    }
    db_vs_init(db);
    if (rc) {
        db_free(db);
        return rc;
    }
    *out = db;
    return 0;
}

LAMINA_API int lamina_open(const char *path, const lamina_options *opts, lamina_db **out)
{
    char file[DB_PATH_MAX + 32];
    int rc;
    if (!path || !out) return err_set(LAMINA_EINVAL, "lamina_open: NULL argument");
    *out = NULL;
    lamina_db *db;
    if ((rc = db_handle_create(path, opts, 0, &db))) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", err_message());
        return err_set(rc, "lamina_open: %s", msg);
    }

    /* Another engine's database is refused before LOCK or LOG is touched. */
    if (file_exists(path) && (rc = db_check_foreign(path))) goto fail;
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
    db_rotate_info_log(path, db->opts.keep_log_file_num);
    snprintf(file, sizeof(file), "%s/LOG", path);
    if (wfile_create(file, &db->info_log)) db->info_log = NULL;
    db_log(db, "opening %s (%s)", path, exists ? "existing" : "new");

    uint64_t last_seq = 0;
    if (exists)
        rc = version_set_recover(&db->vs, &last_seq);
    else if ((rc = version_set_create_empty(&db->vs)) == 0)
        db->vs.wals_tracked = 1; /* it records every WAL it makes: none to look for here */
    if (rc == 0 && db->opts.paranoid_checks) rc = db_check_tables(db);
    if (rc) goto fail;
    uint64_t new_wal = 0;
    if ((rc = db_recover_wals(db, &last_seq, &new_wal))) goto fail;
    db->next_seq = last_seq;
    atomic_store(&db->last_sequence, last_seq);
    if ((rc = db_wal_create_impl(db, new_wal, &db->wal_file, &db->wal, 0))) goto fail;
    db->wal_number = new_wal;
    if (!(db->mem = memtable_create((enum memtable_kind)db->opts.memtable_type))) {
        rc = err_set(LAMINA_ENOMEM, "memtable: out of memory");
        goto fail;
    }
    uint64_t options_number;
    db_log_option_changes(db);
    if ((rc = db_write_options_file(db, &options_number))) goto fail;
    db_delete_obsolete(db, options_number);
    if (!db_install_super_version(db) && !db->sv) {
        rc = err_set(LAMINA_ENOMEM, "lamina_open: out of memory");
        goto fail;
    }
    /* Logged before the background threads start: from then on the version is theirs. */
    db_log(db,
           "opened: last sequence %" PRIu64 ", WAL %06" PRIu64 ", MANIFEST-%06" PRIu64
           ", %d levels with data, I/O %s",
           last_seq, new_wal, db->vs.manifest_number, version_deepest_level(db->vs.current) + 1,
           file_io_backend());
    if ((rc = db_bg_start(db))) goto fail;
    *out = db;
    if (db->recovery_note[0])
        return err_set(0, "lamina_open: recovery dropped data: %s", db->recovery_note);
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

/* ---- Read-only open ----------------------------------------------------------------------- */

/* Opens every table of the read-only handle's version and keeps a reference to each (when
 * they number at most max_open_files, -1: any number), so that a writer deleting one later
 * (a compaction replaced it) does not take it from this handle: the open descriptor still
 * reads it. A table already gone fails the attempt, and the open reads the MANIFEST again. */
static int db_pin_tables(lamina_db *db)
{
    struct version *v = db->vs.current;
    size_t total = 0;
    for (int l = 0; l < v->num_levels; l++)
        total += v->levels[l].nfiles;
    if (!total || (db->opts.max_open_files >= 0 && total > (size_t)db->opts.max_open_files))
        return 0;
    if (!(db->pinned_tables = mem_calloc(total, sizeof(*db->pinned_tables))))
        return err_set(LAMINA_ENOMEM, "open: out of memory");
    for (int l = 0; l < v->num_levels; l++)
        for (size_t r = 0; r < v->levels[l].nruns; r++)
            for (size_t f = 0; f < v->levels[l].runs[r].nfiles; f++) {
                struct file_meta *meta = v->levels[l].runs[r].files[f];
                int rc = file_meta_table(meta, &db->pinned_tables[db->npinned_tables]);
                if (rc == 0) {
                    db->npinned_tables++;
                    continue;
                }
                /* Gone: a writer deleted it after the MANIFEST read. A damaged table stays
                 * unpinned; reads that need it report the damage, as on a writer's handle. */
                char path[DB_PATH_MAX + 32];
                db_file_name(path, sizeof(path), db->path, meta->number, "sst");
                if (!file_exists(path)) return rc;
            }
    return 0;
}

static void db_unpin_tables(lamina_db *db)
{
    for (size_t i = 0; i < db->npinned_tables; i++)
        table_unref(db->pinned_tables[i]);
    mem_free(db->pinned_tables);
    db->pinned_tables = NULL;
    db->npinned_tables = 0;
}

/* One attempt of the read-only recovery: the MANIFEST, then the WALs it records replayed into
 * memtables (db->imm and db->mem), reading only. */
static int db_recover_read_only(lamina_db *db)
{
    struct version_set *vs = &db->vs;
    char **names = NULL;
    size_t nnames = 0, nlogs = 0, nreplay = 0;
    uint64_t *logs = NULL, *replay = NULL, last_seq = 0;
    memtable *mem = NULL;
    struct version_edit edit; /* stays empty: nothing is written */
    version_edit_init(&edit);
    int rc = version_set_recover(vs, &last_seq);
    if (rc == 0 && db->opts.paranoid_checks) rc = db_check_tables(db);
    if (rc == 0) rc = db_pin_tables(db);
    if (rc == 0) rc = db_scan_wals(db, &names, &nnames, &logs, &nlogs, &replay, &nreplay);
    if (rc) goto out;
    if (!(mem = memtable_create((enum memtable_kind)db->opts.memtable_type))) {
        rc = err_set(LAMINA_ENOMEM, "memtable: out of memory");
        goto out;
    }
    struct wal_recovery wr = {.mode = db->opts.wal_recovery_mode};
    for (size_t i = 0; i < nreplay && !wr.stopped; i++) {
        uint64_t records = 0;
        if ((rc = db_replay_wal(db, replay[i], &mem, &last_seq, &edit, &records, &wr))) goto out;
    }
    db->mem = mem;
    mem = NULL;
    db->next_seq = last_seq;
    atomic_store(&db->last_sequence, last_seq);
out:
    if (mem) memtable_unref(mem);
    version_edit_free(&edit);
    mem_free(logs);
    mem_free(replay);
    dir_list_free(names, nnames);
    return rc;
}

/* Drops what a failed read-only recovery built, for the next attempt. */
static void db_reset_read_only(lamina_db *db)
{
    if (db->mem) memtable_unref(db->mem);
    db->mem = NULL;
    for (size_t i = 0; i < db->nimm; i++)
        memtable_unref(db->imm[i].mem);
    db->nimm = 0;
    db_unpin_tables(db);
    version_set_close(&db->vs);
    db_vs_init(db);
    db->recovery_note[0] = 0;
    db->nlost_wals = 0;
}

/* Attempts of a read-only open that met a writer's change half made, and the pause between. */
#define DB_READ_ONLY_ATTEMPTS 5
#define DB_READ_ONLY_PAUSE_MS 20

LAMINA_API int lamina_open_read_only(const char *path, const lamina_options *opts, lamina_db **out)
{
    char file[DB_PATH_MAX + 32], msg[512];
    int rc;
    if (!path || !out) return err_set(LAMINA_EINVAL, "lamina_open_read_only: NULL argument");
    *out = NULL;
    lamina_db *db;
    if ((rc = db_handle_create(path, opts, 1, &db))) {
        snprintf(msg, sizeof(msg), "%s", err_message());
        return err_set(rc, "lamina_open_read_only: %s", msg);
    }
    snprintf(file, sizeof(file), "%s/CURRENT", path);
    if (!file_exists(path) || !file_exists(file)) {
        rc = err_set(LAMINA_ENOENT, "%s: no database", path);
        goto fail;
    }
    if ((rc = db_check_foreign(path))) goto fail;
    /* A writer may delete a WAL or table between the MANIFEST read and the file's, or record a
     * WAL after it: the change is then half seen, and a fresh read sees it whole. */
    for (int attempt = 1;; attempt++) {
        rc = db_recover_read_only(db);
        if (rc == 0 || attempt == DB_READ_ONLY_ATTEMPTS ||
            (rc != LAMINA_ECORRUPT && rc != LAMINA_EIO && rc != LAMINA_ENOENT))
            break;
        db_reset_read_only(db);
        struct timespec ts = {0, DB_READ_ONLY_PAUSE_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (rc) goto fail;
    db->bg_error = LAMINA_EREADONLY;
    snprintf(db->bg_msg, sizeof(db->bg_msg), "opened read-only");
    if (!db_install_super_version(db) && !db->sv) {
        rc = err_set(LAMINA_ENOMEM, "lamina_open_read_only: out of memory");
        goto fail;
    }
    *out = db;
    if (db->recovery_note[0])
        return err_set(0, "lamina_open_read_only: recovery dropped data: %s", db->recovery_note);
    return 0;
fail:
    snprintf(msg, sizeof(msg), "%s", err_message());
    db_free(db);
    return err_set(rc, "%s", msg);
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
    int rc = db->read_only ? 0 : db->bg_error;
    /* A statistic only: if it cannot be logged, no data is lost, so close still succeeds. A
     * read-only handle writes no file. */
    if (!rc && !db->read_only) (void)db_log_user_bytes(db);
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", rc ? db->bg_msg : "");
    /* Unsynced WAL bytes still reach the kernel; a later crash of the machine may lose them,
     * as with any write that did not ask for sync. */
    if (db->wal_file && !rc && (rc = wfile_flush(db->wal_file)))
        snprintf(msg, sizeof(msg), "%s", err_message());
    db_log(db, "closed");
    db_free(db);
    /* The first error's own message ("No space left on device"), not what its aftermath said
     * while closing. */
    return rc ? err_set(rc, "%s", msg) : 0;
}

/* Whether lamina_destroy removes name: Lamina's fixed names, and numbered names the MANIFEST
 * accounts for (vs, read as far as it goes; complete: to its end). */
static int db_destroy_owns(const struct version_set *vs, int complete, const char *dir,
                           const char *name)
{
    uint64_t num, next = atomic_load(&vs->next_file);
    char kind;
    if (db_is_fixed_name(name)) return 1;
    if (!db_parse_file_name(name, &num, &kind) || version_set_skipped(vs, num)) return 0;
    switch (kind) {
    case 'l':
        if (version_set_wal_recorded(vs, num)) return 1;
        /* Unrecorded: with WAL tracking only an empty one can be Lamina's; before it, every
         * WAL the open would replay or had numbered. */
        if (vs->wals_tracked) return num < next && db_file_is_empty(dir, name);
        return num < next || (complete && num >= vs->log_number);
    case 'm':
        return num < next || (vs->manifest_number && num == vs->manifest_number);
    default:
        return num < next;
    }
}

LAMINA_API int lamina_destroy(const char *path)
{
    char file[DB_PATH_MAX + 300], msg[512] = "";
    file_lock *lock = NULL;
    int first = 0;
    char **names = NULL;
    size_t n = 0;
    struct version_set vs;
    if (!path) return err_set(LAMINA_EINVAL, "lamina_destroy: NULL path");
    if (strlen(path) >= DB_PATH_MAX - 32)
        return err_set(LAMINA_EINVAL, "lamina_destroy: path too long");
    if (!file_exists(path)) return 0;
    /* Another engine's database is refused before LOCK is created. */
    int rc = db_check_foreign(path);
    if (rc) return rc;
    snprintf(file, sizeof(file), "%s/LOCK", path);
    if ((rc = file_lock_acquire(file, &lock))) return rc;
    version_set_init(&vs, path, NULL, COMPACTION_MAX_LEVELS);
    /* Without CURRENT no number is known to be Lamina's: only the fixed names go. */
    atomic_store(&vs.next_file, 0);
    int complete = 0;
    snprintf(file, sizeof(file), "%s/CURRENT", path);
    if (file_exists(file)) {
        uint64_t last_seq;
        rc = version_set_recover(&vs, &last_seq);
        complete = rc == 0;
        /* A damaged MANIFEST still accounts for what its readable records say. */
        if (rc == LAMINA_ECORRUPT) rc = 0;
    }
    if (rc == 0) rc = dir_list(path, &names, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *name = names[i];
        if (strcmp(name, "LOCK") == 0 || !db_destroy_owns(&vs, complete, path, name)) continue;
        snprintf(file, sizeof(file), "%s/%s", path, name);
        int r = file_remove(file);
        if (r && !first) {
            first = r;
            snprintf(msg, sizeof(msg), "%s", err_message());
        }
    }
    dir_list_free(names, n);
    if (rc) snprintf(msg, sizeof(msg), "%s", err_message());
    if (!rc) rc = first;
    version_set_close(&vs);
    snprintf(file, sizeof(file), "%s/LOCK", path);
    int r = file_remove(file);
    if (r && !rc) {
        rc = r;
        snprintf(msg, sizeof(msg), "%s", err_message());
    }
    file_lock_release(lock);
    if (rc) return err_set(rc, "%s", msg);
    if ((rc = dir_list(path, &names, &n))) return rc;
    dir_list_free(names, n);
    return n == 0 ? dir_remove(path) : 0;
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
