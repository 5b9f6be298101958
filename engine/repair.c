/* repair.c — lamina_repair: rebuilds a database from what still reads clean (LevelDB's
 * RepairDB, SQLite's .recover): tables that verify are kept, the others moved to lost/; WAL
 * records that read clean become new level-0 tables; a new MANIFEST names every table as its
 * own level-0 run; a full compaction then merges the runs by sequence number. It moves what it
 * cannot use to lost/ and deletes nothing. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/check.h"
#include "engine/filename.h"
#include "engine/manifest.h"
#include "engine/options.h"
#include "engine/range_del.h"
#include "engine/version.h"
#include "memtable/memtable.h"
#include "sst/table.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/file.h"
#include "util/ikey.h"

struct repair {
    char dir[DB_PATH_MAX];
    lamina_options opts;
    struct table_options topts;
    struct check_reporter r;
    lamina_repair_stats st;
    char **names;
    size_t nnames;
    struct check_manifest m; /* what the old MANIFEST's clean records say */
    uint64_t *skip;          /* numbers left alone: not Lamina's (ascending) */
    size_t nskip, cap_skip;
    uint64_t max_number; /* highest number of Lamina's files, or the old MANIFEST's counter */
    uint64_t next_table; /* number of the next table written from the WALs */
    uint64_t last_seq;
    int trust; /* the old MANIFEST says which tables are live (repair_trust_manifest) */
    struct version_edit kept; /* every table of the new MANIFEST (level 0) */
    memtable *mem;            /* WAL records not yet in a table */
    char wal_name[32];
    uint64_t wal_records; /* of the WAL being replayed */
};

static int repair_push_skip(struct repair *rp, uint64_t number)
{
    if (rp->nskip == rp->cap_skip) {
        size_t cap = rp->cap_skip ? rp->cap_skip * 2 : 16;
        uint64_t *p = mem_realloc(rp->skip, cap * sizeof(*p));
        if (!p) return err_set(LAMINA_ENOMEM, "repair: out of memory");
        rp->skip = p;
        rp->cap_skip = cap;
    }
    size_t i = rp->nskip;
    while (i > 0 && rp->skip[i - 1] > number)
        i--;
    if (i > 0 && rp->skip[i - 1] == number) return 0;
    memmove(rp->skip + i + 1, rp->skip + i, (rp->nskip - i) * sizeof(*rp->skip));
    rp->skip[i] = number;
    rp->nskip++;
    return 0;
}

/* Moves name to lost/ and counts it; a failure ends the repair. */
static int repair_move_to_lost(struct repair *rp, const char *name)
{
    int rc = db_move_to_lost(rp->dir, name);
    if (rc == 0) rp->st.files_moved_to_lost++;
    return rc;
}

/* Numbers the old MANIFEST says are not Lamina's — recorded as skipped, or at or above its next
 * file number — are left alone and stay skipped; without a MANIFEST every name is taken. */
static int repair_collect_numbers(struct repair *rp)
{
    int rc = 0;
    rp->max_number = rp->m.has_next_file && rp->m.next_file ? rp->m.next_file - 1 : 0;
    for (size_t i = 0; rc == 0 && i < rp->m.nskipped; i++)
        rc = repair_push_skip(rp, rp->m.skipped[i]);
    for (size_t i = 0; rc == 0 && i < rp->nnames; i++) {
        uint64_t num;
        char kind;
        if (!db_parse_file_name(rp->names[i], &num, &kind)) continue;
        if (rp->m.has_next_file && num >= rp->m.next_file) {
            rc = repair_push_skip(rp, num);
            if (rc == 0)
                check_report(&rp->r, rp->names[i], UINT64_MAX, LAMINA_OK,
                             "not Lamina's (its number was never allocated): left alone");
        } else if (num > rp->max_number && !check_has_number(rp->skip, rp->nskip, num)) {
            rp->max_number = num;
        }
    }
    rp->next_table = rp->max_number + 1;
    return rc;
}

static int repair_skipped(const struct repair *rp, uint64_t number)
{
    return check_has_number(rp->skip, rp->nskip, number);
}

/* Whether the old MANIFEST can be taken at its word about which tables are live: CURRENT names
 * it, every record reads clean, and the WALs agree with it (each one it expects is there, none
 * it does not record holds data). A table it does not name is then obsolete, or the output of
 * a flush or compaction that never completed, whose data lives on in a WAL or in the inputs:
 * keeping it could bring back keys deleted since (LevelDB's repairer keeps it). */
static int repair_trust_manifest(const struct repair *rp, int current_ok)
{
    const struct check_manifest *m = &rp->m;
    char path[DB_PATH_MAX + 300];
    uint64_t num, size;
    char kind;
    if (!current_ok || m->damaged || !m->has_log_number || !m->has_next_file || !m->wals_tracked)
        return 0;
    for (size_t i = 0; i < m->nwals; i++) {
        db_file_name(path, sizeof(path), rp->dir, m->wals[i], "log");
        if (m->wals[i] >= m->log_number && !file_exists(path)) return 0;
    }
    for (size_t i = 0; i < rp->nnames; i++) {
        if (!db_parse_file_name(rp->names[i], &num, &kind) || kind != 'l' || num >= m->next_file ||
            check_has_number(m->wals, m->nwals, num))
            continue;
        snprintf(path, sizeof(path), "%s/%s", rp->dir, rp->names[i]);
        if (file_size(path, &size) == 0 && size > 0) return 0;
    }
    return 1;
}

/* ---- Tables ----------------------------------------------------------------------------- */

/* Reads a table that verified: its key range, sequence range and entries into *f. */
static int repair_scan_table(table *t, struct edit_file *f, buf *first, buf *last)
{
    struct table_read_options ro = {.verify_checksums = 1, .fill_cache = 0};
    iter *it = table_iter_create(t, &ro);
    if (!it) return err_set(LAMINA_ENOMEM, "repair: out of memory");
    int rc;
    f->smallest_seq = UINT64_MAX;
    for (rc = iter_seek_to_first(it); rc == 0 && iter_valid(it); rc = iter_next(it)) {
        size_t kl;
        const uint8_t *k = iter_key(it, &kl);
        uint64_t seq = ikey_seq(k, kl);
        if (!f->entries && (rc = buf_append(first, k, kl))) break;
        if (seq < f->smallest_seq) f->smallest_seq = seq;
        if (seq > f->largest_seq) f->largest_seq = seq;
        f->entries++;
        buf_clear(last);
        if ((rc = buf_append(last, k, kl))) break;
    }
    if (rc == 0) rc = iter_status(it);
    iter_destroy(it);
    /* The table's key range covers its range tombstones (sst/table.h). */
    const range_del_list *l = NULL;
    if (rc == 0) rc = table_range_dels(t, &l);
    if (rc == 0 && l->n) {
        const struct range_del_frag *lo = &l->frags[0], *hi = &l->frags[l->n - 1];
        uint8_t *k =
            mem_alloc((lo->begin_len > hi->end_len ? lo->begin_len : hi->end_len) + IKEY_TRAILER);
        if (!k) rc = err_set(LAMINA_ENOMEM, "repair: out of memory");
        for (size_t i = 0; rc == 0 && i < l->n; i++)
            for (size_t s = 0; s < l->frags[i].nseqs; s++) {
                uint64_t seq = l->frags[i].seqs[s];
                if (seq < f->smallest_seq) f->smallest_seq = seq;
                if (seq > f->largest_seq) f->largest_seq = seq;
            }
        if (rc == 0) {
            ikey_encode(k, lo->begin, lo->begin_len, lo->seqs[0], IKEY_RANGE_DELETION);
            size_t kl = lo->begin_len + IKEY_TRAILER;
            if (!f->entries || ikey_cmp(k, kl, first->data, first->len) < 0) {
                buf_clear(first);
                rc = buf_append(first, k, kl);
            }
        }
        if (rc == 0) {
            ikey_encode(k, hi->end, hi->end_len, IKEY_MAX_SEQ, IKEY_RANGE_DELETION);
            size_t kl = hi->end_len + IKEY_TRAILER;
            if (!f->entries || ikey_cmp(k, kl, last->data, last->len) > 0) {
                buf_clear(last);
                rc = buf_append(last, k, kl);
            }
        }
        mem_free(k);
        f->range_dels = 1;
    }
    f->smallest = first->data;
    f->smallest_len = first->len;
    f->largest = last->data;
    f->largest_len = last->len;
    return rc;
}

/* Keeps a table that reads clean; moves any other to lost/. */
static int repair_table(struct repair *rp, const char *name, uint64_t number)
{
    char path[DB_PATH_MAX + 300];
    table *t = NULL;
    buf first = {0}, last = {0};
    uint64_t entries = 0;
    struct edit_file f = {.level = 0, .file_number = number};
    if (rp->trust && !check_manifest_has_table(&rp->m, number)) {
        check_report(&rp->r, name, UINT64_MAX, LAMINA_OK,
                     "not named by MANIFEST-%06" PRIu64 ", which reads clean: obsolete, or left "
                     "by a flush or compaction that never completed; moved to lost/",
                     rp->m.number);
        rp->st.tables_lost++;
        return repair_move_to_lost(rp, name);
    }
    snprintf(path, sizeof(path), "%s/%s", rp->dir, name);
    int rc = file_size(path, &f.file_size);
    if (rc == 0) rc = table_open(path, number, NULL, 0, &t);
    if (rc == 0) rc = table_verify(t, &entries);
    if (rc == 0) rc = repair_scan_table(t, &f, &first, &last);
    if (t) table_unref(t);
    if (rc == 0 && f.entries != entries)
        rc = err_set(LAMINA_ECORRUPT, "%s: %" PRIu64 " entries verified, %" PRIu64 " scanned", path,
                     entries, f.entries);
    if (rc == LAMINA_ENOMEM) goto out;
    if (rc == 0 && (f.entries || f.range_dels)) {
        if ((rc = version_edit_add_file(&rp->kept, &f))) goto out;
        if (f.largest_seq > rp->last_seq) rp->last_seq = f.largest_seq;
        rp->st.tables_kept++;
        rp->st.table_entries += f.entries;
        check_report(&rp->r, name, UINT64_MAX, LAMINA_OK,
                     "kept: %" PRIu64 " entries, sequence numbers %" PRIu64 "..%" PRIu64, f.entries,
                     f.smallest_seq, f.largest_seq);
        goto out;
    }
    if (rc)
        check_report_error(&rp->r, name, UINT64_MAX, rc == LAMINA_EIO ? rc : LAMINA_ECORRUPT);
    else
        check_report(&rp->r, name, UINT64_MAX, LAMINA_OK, "holds no entry");
    rp->st.tables_lost++;
    rc = repair_move_to_lost(rp, name);
out:
    buf_free(&first);
    buf_free(&last);
    return rc;
}

/* Writes the memtable's entries to a new table (level 0 of the new MANIFEST), synced. */
static int repair_write_table(struct repair *rp)
{
    char name[32], path[DB_PATH_MAX + 32];
    struct table_meta meta;
    wfile *f = NULL;
    table_builder *b = NULL;
    iter *it = NULL;
    buf prev = {0};
    int rc = 0;
    memset(&meta, 0, sizeof(meta));
    if (!memtable_count(rp->mem)) return 0;
    while (repair_skipped(rp, rp->next_table))
        rp->next_table++;
    uint64_t number = rp->next_table++;
    snprintf(name, sizeof(name), "%06" PRIu64 ".sst", number);
    snprintf(path, sizeof(path), "%s/%s", rp->dir, name);
    if ((rc = wfile_create(path, &f))) goto out;
    if (!(b = table_builder_create(f, number, &rp->topts)) ||
        !(it = memtable_iter_create(rp->mem))) {
        rc = err_set(LAMINA_ENOMEM, "repair: out of memory");
        goto out;
    }
    for (rc = iter_seek_to_first(it); rc == 0 && iter_valid(it); rc = iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = iter_key(it, &kl), *v = iter_value(it, &vl);
        /* One operation twice (two WALs holding one record): kept once. */
        if (prev.len == kl && memcmp(prev.data, k, kl) == 0) continue;
        buf_clear(&prev);
        if ((rc = buf_append(&prev, k, kl)) || (rc = table_builder_add(b, k, kl, v, vl))) break;
    }
    if (rc == 0) {
        /* The WALs' range deletions go into the table too. */
        range_del_list *rd = NULL;
        rc = db_range_dels_memtable(rp->mem, &rd);
        if (rc == 0) rc = db_range_dels_to_table(rd, b);
        range_del_list_free(rd);
    }
    if (rc == 0) rc = table_builder_finish(b, &meta);
    if (rc == 0) rc = wfile_sync(f);
    if (rc == 0) {
        struct edit_file ef = {
            .level = 0,
            .file_number = number,
            .file_size = meta.file_size,
            .entries = meta.entries,
            .smallest = meta.smallest,
            .smallest_len = meta.smallest_len,
            .largest = meta.largest,
            .largest_len = meta.largest_len,
            .smallest_seq = meta.smallest_seq,
            .largest_seq = meta.largest_seq,
            .range_dels = meta.range_deletions > 0,
        };
        rc = version_edit_add_file(&rp->kept, &ef);
    }
    if (rc == 0) {
        rp->st.tables_written++;
        check_report(&rp->r, name, UINT64_MAX, LAMINA_OK,
                     "written from WAL records: %" PRIu64 " entries, sequence numbers %" PRIu64
                     "..%" PRIu64,
                     meta.entries, meta.smallest_seq, meta.largest_seq);
    }
out:
    iter_destroy(it);
    table_builder_destroy(b);
    if (f) {
        int crc = wfile_close(f);
        if (rc == 0) rc = crc;
    }
    table_meta_free(&meta);
    buf_free(&prev);
    memtable_unref(rp->mem);
    rp->mem = memtable_create(MEMTABLE_AVL);
    if (rc == 0 && !rp->mem) rc = err_set(LAMINA_ENOMEM, "repair: out of memory");
    return rc;
}

/* ---- WALs ------------------------------------------------------------------------------- */

static int repair_wal_record(void *ctx, uint64_t off, const uint8_t *rec, size_t n)
{
    struct repair *rp = ctx;
    uint64_t seq;
    uint32_t count;
    int rc = check_wal_batch(&rp->r, rp->wal_name, off, rec, n, &seq, &count);
    if (rc < 0) return rc;
    if (rc == 0) {
        rp->st.wal_damaged++;
        rp->st.wal_bytes_dropped += n;
        return 0;
    }
    if ((rc = batch_rep_insert(rec, n, rp->mem, seq))) return rc;
    if (count && seq + count - 1 > rp->last_seq) rp->last_seq = seq + count - 1;
    rp->wal_records++;
    rp->st.wal_records++;
    rp->st.wal_entries += count;
    if (memtable_memory(rp->mem) >= (size_t)rp->opts.write_buffer_size)
        return repair_write_table(rp);
    return 0;
}

static void repair_wal_damage(void *ctx, const struct check_damage *d)
{
    struct repair *rp = ctx;
    rp->st.wal_bytes_dropped += d->len;
    if (d->torn) {
        check_report(&rp->r, rp->wal_name, d->offset, LAMINA_OK,
                     "torn tail dropped (%s: %" PRIu64 " bytes, a write that never completed)",
                     d->why, d->len);
        return;
    }
    rp->st.wal_damaged++;
    check_report(&rp->r, rp->wal_name, d->offset, LAMINA_ECORRUPT,
                 "damaged: %s; %" PRIu64 " bytes (one or more records) dropped", d->why, d->len);
}

static int repair_wal(struct repair *rp, const char *name)
{
    char path[DB_PATH_MAX + 300];
    static const struct check_log_ops ops = {repair_wal_record, repair_wal_damage};
    snprintf(rp->wal_name, sizeof(rp->wal_name), "%s", name);
    snprintf(path, sizeof(path), "%s/%s", rp->dir, name);
    rp->wal_records = 0;
    int rc = check_log_walk(path, &ops, rp);
    if (rc == 0)
        check_report(&rp->r, name, UINT64_MAX, LAMINA_OK, "%" PRIu64 " records replayed",
                     rp->wal_records);
    return rc;
}

/* ---- The new MANIFEST ------------------------------------------------------------------- */

static int repair_run_order(const void *a, const void *b)
{
    const struct edit_file *x = a, *y = b;
    if (x->largest_seq != y->largest_seq) return x->largest_seq < y->largest_seq ? -1 : 1;
    return x->file_number < y->file_number ? -1 : x->file_number > y->file_number;
}

/* Writes a MANIFEST naming every kept table as its own level-0 run (the newest data the
 * highest run id), with the counters above every number and sequence seen, and points CURRENT
 * at it. *number gets its number. */
static int repair_write_manifest(struct repair *rp, uint64_t *number)
{
    struct version_set vs;
    struct version *v = NULL;
    version_set_init(&vs, rp->dir, NULL, (int)rp->opts.num_levels);
    int rc = version_set_create_empty(&vs);
    if (rp->kept.nadded)
        qsort(rp->kept.added, rp->kept.nadded, sizeof(*rp->kept.added), repair_run_order);
    for (size_t i = 0; i < rp->kept.nadded; i++) {
        rp->kept.added[i].run = i + 1;
        version_set_mark_file_used(&vs, rp->kept.added[i].file_number);
    }
    vs.next_run = rp->kept.nadded + 1;
    version_set_mark_file_used(&vs, rp->max_number);
    for (size_t i = 0; rc == 0 && i < rp->nskip; i++)
        rc = version_set_add_skip(&vs, rp->skip[i]);
    if (rc == 0) rc = version_apply(vs.current, &rp->kept, 0, &v);
    if (rc == 0) {
        version_unref(vs.current);
        vs.current = v;
        /* No WAL is live: the open that follows starts a new one. */
        vs.log_number = atomic_load(&vs.next_file);
        rc = version_set_new_manifest(&vs, rp->last_seq);
    }
    *number = vs.manifest_number;
    version_set_close(&vs);
    return rc;
}

/* ---- lamina_repair ---------------------------------------------------------------------- */

static int repair_name_cmp(const void *a, const void *b)
{
    uint64_t x = 0, y = 0;
    char k;
    db_parse_file_name(*(char *const *)a, &x, &k);
    db_parse_file_name(*(char *const *)b, &y, &k);
    return x < y ? -1 : x > y;
}

/* Tables, then WALs (oldest first), each by name. */
static int repair_files(struct repair *rp, char want)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rp->nnames; i++) {
        uint64_t num;
        char kind;
        if (!db_parse_file_name(rp->names[i], &num, &kind) || kind != want ||
            repair_skipped(rp, num))
            continue;
        rc = want == 't' ? repair_table(rp, rp->names[i], num) : repair_wal(rp, rp->names[i]);
    }
    return rc;
}

/* Moves to lost/ the files of kind `want` that the new MANIFEST replaces (keep: its number). */
static int repair_retire(struct repair *rp, char want, uint64_t keep, const char *why)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rp->nnames; i++) {
        uint64_t num;
        char kind;
        if (!db_parse_file_name(rp->names[i], &num, &kind) || kind != want || num == keep ||
            repair_skipped(rp, num))
            continue;
        if ((rc = repair_move_to_lost(rp, rp->names[i])) == 0)
            check_report(&rp->r, rp->names[i], UINT64_MAX, LAMINA_OK, "moved to lost/ (%s)", why);
    }
    return rc;
}

/* OPTIONS files that would make the open refuse the directory go to lost/. */
static int repair_options_files(struct repair *rp)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rp->nnames; i++) {
        char path[DB_PATH_MAX + 300];
        uint8_t *text = NULL;
        size_t len = 0;
        uint64_t num, off = UINT64_MAX;
        char kind;
        if (!db_parse_file_name(rp->names[i], &num, &kind) || kind != 'o' ||
            repair_skipped(rp, num))
            continue;
        snprintf(path, sizeof(path), "%s/%s", rp->dir, rp->names[i]);
        rc = file_read_all(path, &text, &len);
        if (rc == 0 && check_options_text(text, len, &off)) {
            check_report_error(&rp->r, rp->names[i], off, LAMINA_ECORRUPT);
            rc = repair_move_to_lost(rp, rp->names[i]);
        }
        mem_free(text);
    }
    return rc;
}

/* Rebuilds the files under the LOCK: everything up to a database the open can read. */
static int repair_rebuild(struct repair *rp)
{
    int current_ok, rc;
    uint64_t mnum = check_pick_manifest(rp->dir, rp->names, rp->nnames, &rp->r, &current_ok);
    if (mnum && (rc = check_manifest_read(rp->dir, mnum, &rp->r, &rp->m)) == LAMINA_ENOMEM)
        return rc;
    if (!mnum) check_report(&rp->r, "CURRENT", UINT64_MAX, LAMINA_OK, "no MANIFEST to read");
    rp->last_seq = rp->m.last_seq;
    rp->trust = repair_trust_manifest(rp, current_ok);
    if (rp->nnames) qsort(rp->names, rp->nnames, sizeof(*rp->names), repair_name_cmp);
    if ((rc = repair_collect_numbers(rp))) return rc;
    if ((rc = repair_files(rp, 't'))) return rc;
    if ((rc = repair_files(rp, 'l'))) return rc;
    if ((rc = repair_write_table(rp))) return rc;
    if ((rc = repair_options_files(rp))) return rc;
    char cur[DB_PATH_MAX + 32];
    snprintf(cur, sizeof(cur), "%s/CURRENT", rp->dir);
    if (!current_ok && file_exists(cur) && (rc = repair_move_to_lost(rp, "CURRENT"))) return rc;
    uint64_t new_manifest;
    if ((rc = repair_write_manifest(rp, &new_manifest))) return rc;
    check_report(&rp->r, "CURRENT", UINT64_MAX, LAMINA_OK,
                 "names MANIFEST-%06" PRIu64 ": %" PRIu64 " table(s) as level-0 runs, last "
                 "sequence number %" PRIu64,
                 new_manifest, (uint64_t)rp->kept.nadded, rp->last_seq);
    if ((rc = repair_retire(rp, 'm', new_manifest, "replaced by the new MANIFEST"))) return rc;
    if ((rc = repair_retire(rp, 'l', 0, "its records are in tables"))) return rc;
    return repair_retire(rp, 'x', 0, "a temporary file");
}

/* Opens the rebuilt database and merges its runs into one. */
static int repair_compact(struct repair *rp)
{
    char msg[512];
    lamina_db *db = NULL;
    rp->opts.create_if_missing = 0;
    rp->opts.error_if_exists = 0;
    int rc = lamina_open(rp->dir, &rp->opts, &db);
    if (rc == 0) rc = lamina_compact_range(db, NULL, 0, NULL, 0);
    snprintf(msg, sizeof(msg), "%s", err_message());
    int crc = db ? lamina_close(db) : 0;
    if (rc) return err_set(rc, "repair: the rebuilt database: %s", msg);
    return crc;
}

LAMINA_API int lamina_repair(const char *path, const lamina_options *opts, lamina_report_fn report,
                             void *ctx, lamina_repair_stats *stats)
{
    int rc = check_args("lamina_repair", path, stats);
    if (rc) return rc;
    struct repair *rp = mem_calloc(1, sizeof(*rp));
    if (!rp) return err_set(LAMINA_ENOMEM, "lamina_repair: out of memory");
    char lock_path[DB_PATH_MAX + 32];
    file_lock *lock = NULL;
    snprintf(rp->dir, sizeof(rp->dir), "%s", path);
    check_reporter_init(&rp->r, rp->dir, report, ctx);
    version_edit_init(&rp->kept);
    if ((rc = options_copy(&rp->opts, opts))) goto out;
    const lamina_options *o = &rp->opts;
    /* Level 0 is written uncompressed unless every level is to be compressed. */
    rp->topts = (struct table_options){
        .block_size = (size_t)o->block_size,
        .restart_interval = (int)o->block_restart_interval,
        .compression = o->min_level_to_compress > 0 ? LAMINA_COMPRESSION_NONE : o->compression_type,
        .zstd_level = (int)o->zstd_level,
        .bloom_bits = (int)o->bloom_bits,
        .index_type = o->index_type,
        .format_version = (int)o->format_version,
    };
    if ((rc = check_list_database(path, &rp->names, &rp->nnames))) goto out;
    snprintf(lock_path, sizeof(lock_path), "%s/LOCK", path);
    if ((rc = file_lock_acquire(lock_path, &lock))) goto out;
    if (!(rp->mem = memtable_create(MEMTABLE_AVL))) {
        rc = err_set(LAMINA_ENOMEM, "lamina_repair: out of memory");
        goto out;
    }
    rc = repair_rebuild(rp);
    file_lock_release(lock);
    lock = NULL;
    if (rc == 0) rc = repair_compact(rp);
out:
    if (lock) file_lock_release(lock);
    rp->st.problems = rp->r.problems;
    rp->st.notes = rp->r.notes;
    if (stats) check_copy_stats(stats, &rp->st, sizeof(rp->st));
    if (rp->mem) memtable_unref(rp->mem);
    version_edit_free(&rp->kept);
    check_manifest_free(&rp->m);
    mem_free(rp->skip);
    dir_list_free(rp->names, rp->nnames);
    mem_free(rp);
    return rc;
}
