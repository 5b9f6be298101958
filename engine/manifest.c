/* manifest.c — the version set's logged state: the MANIFEST (a log of version edits) named by
 * CURRENT, its replay at open, the WALs it records (RocksDB's track_and_verify_wals_in_manifest),
 * the snapshots that start a new one at open or when it outgrows max_manifest_file_size, and
 * telling a Lamina MANIFEST from a LevelDB / RocksDB one (LevelDB's VersionSet recovery and
 * LogAndApply's write half). */
#include "engine/manifest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/filename.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/fault.h"
#include "util/hash.h"

/* ---- Version set ------------------------------------------------------------------------ */

void version_set_init(struct version_set *vs, const char *dbpath, block_cache *cache,
                      int num_levels)
{
    memset(vs, 0, sizeof(*vs));
    snprintf(vs->dbpath, sizeof(vs->dbpath), "%s", dbpath);
    vs->cache = cache;
    vs->num_levels = num_levels;
    vs->next_run = 1;
    atomic_init(&vs->next_file, 2);
    pthread_mutex_init(&vs->manifest_mu, NULL);
}

void version_set_close(struct version_set *vs)
{
    version_unref(vs->current);
    vs->current = NULL;
    if (vs->manifest) log_writer_destroy(vs->manifest);
    if (vs->manifest_file) (void)wfile_close(vs->manifest_file);
    vs->manifest = NULL;
    vs->manifest_file = NULL;
    mem_free(vs->wals);
    mem_free(vs->skip);
    vs->wals = vs->skip = NULL;
    vs->nwals = vs->cap_wals = vs->nskip = vs->cap_skip = 0;
    pthread_mutex_destroy(&vs->manifest_mu);
}

int version_set_skipped(const struct version_set *vs, uint64_t number)
{
    return vs->nskip &&
           bsearch(&number, vs->skip, vs->nskip, sizeof(*vs->skip), file_number_cmp) != NULL;
}

void version_set_mark_file_used(struct version_set *vs, uint64_t number)
{
    uint64_t cur = atomic_load(&vs->next_file);
    while (cur <= number && !atomic_compare_exchange_weak(&vs->next_file, &cur, number + 1)) {
    }
}

int version_set_create_empty(struct version_set *vs)
{
    struct version *v = mem_calloc(1, sizeof(*v));
    if (!v) return err_set(LAMINA_ENOMEM, "version: out of memory");
    atomic_init(&v->refs, 1);
    v->vs = vs;
    v->num_levels = vs->num_levels;
    vs->current = v;
    return 0;
}

/* Copies the thread's message, so a new one can quote it. */
static void err_copy(char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", err_message());
}

/* ---- Recorded WALs ---------------------------------------------------------------------- */

/* Sorted sets of file numbers (vs->wals, vs->skip). */
static int numbers_reserve(uint64_t **arr, size_t n, size_t *cap, size_t extra)
{
    if (n + extra <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < n + extra)
        c *= 2;
    uint64_t *p = mem_realloc(*arr, c * sizeof(*p));
    if (!p) return err_set(LAMINA_ENOMEM, "MANIFEST: no memory for %zu file numbers", c);
    *arr = p;
    *cap = c;
    return 0;
}

/* Inserts v in order (room reserved); numbers come mostly in ascending order. */
static void numbers_insert(uint64_t *arr, size_t *n, uint64_t v)
{
    size_t i = *n;
    while (i > 0 && arr[i - 1] > v)
        i--;
    if (i > 0 && arr[i - 1] == v) return;
    memmove(arr + i + 1, arr + i, (*n - i) * sizeof(*arr));
    arr[i] = v;
    (*n)++;
}

static int wals_reserve(struct version_set *vs, size_t extra)
{
    return numbers_reserve(&vs->wals, vs->nwals, &vs->cap_wals, extra);
}

static void wals_insert(struct version_set *vs, uint64_t number)
{
    numbers_insert(vs->wals, &vs->nwals, number);
}

int version_set_add_skip(struct version_set *vs, uint64_t number)
{
    int rc = numbers_reserve(&vs->skip, vs->nskip, &vs->cap_skip, 1);
    if (rc == 0) numbers_insert(vs->skip, &vs->nskip, number);
    return rc;
}

int version_set_add_wal(struct version_set *vs, uint64_t number)
{
    int rc = wals_reserve(vs, 1);
    if (rc == 0) wals_insert(vs, number);
    return rc;
}

int version_set_wal_recorded(const struct version_set *vs, uint64_t number)
{
    return vs->nwals &&
           bsearch(&number, vs->wals, vs->nwals, sizeof(*vs->wals), file_number_cmp) != NULL;
}

void version_set_prune_wals(struct version_set *vs)
{
    char path[DB_PATH_MAX + 32];
    size_t n = 0;
    for (size_t i = 0; i < vs->nwals; i++) {
        uint64_t w = vs->wals[i];
        if (w < vs->log_number) {
            db_file_name(path, sizeof(path), vs->dbpath, w, "log");
            if (!file_exists(path)) continue;
        }
        vs->wals[n++] = w;
    }
    vs->nwals = n;
}

/* ---- Replay ----------------------------------------------------------------------------- */

/* The MANIFEST's records merged into one edit: since replay starts from an empty version, the
 * merge is the set of live tables (adds only). A record's deletes remove earlier adds, then its
 * adds join (a trivial move deletes and adds the same number in one record). An index from
 * file number to slot in live.added (open addressing, linear probing) keeps each step O(1). */
struct replay {
    struct version_edit live;
    uint64_t *keys;
    size_t *slots; /* SIZE_MAX: empty */
    size_t cap, n; /* cap: 0 or a power of two */
};

static size_t replay_home(const struct replay *r, uint64_t k)
{
    return (size_t)((k * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (r->cap - 1);
}

/* Position of k in the index, or SIZE_MAX. */
static size_t replay_find(const struct replay *r, uint64_t k)
{
    if (!r->cap) return SIZE_MAX;
    for (size_t i = replay_home(r, k);; i = (i + 1) & (r->cap - 1)) {
        if (r->slots[i] == SIZE_MAX) return SIZE_MAX;
        if (r->keys[i] == k) return i;
    }
}

static void replay_place(struct replay *r, uint64_t k, size_t slot)
{
    size_t i = replay_home(r, k);
    while (r->slots[i] != SIZE_MAX)
        i = (i + 1) & (r->cap - 1);
    r->keys[i] = k;
    r->slots[i] = slot;
    r->n++;
}

static int replay_index_put(struct replay *r, uint64_t k, size_t slot)
{
    if ((r->n + 1) * 2 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        uint64_t *keys = mem_alloc(cap * sizeof(*keys));
        size_t *slots = mem_alloc(cap * sizeof(*slots));
        if (!keys || !slots) {
            mem_free(keys);
            mem_free(slots);
            return err_set(LAMINA_ENOMEM, "MANIFEST replay: no memory for %zu tables", cap / 2);
        }
        uint64_t *old_keys = r->keys;
        size_t *old_slots = r->slots, old_cap = r->cap;
        r->keys = keys;
        r->slots = slots;
        r->cap = cap;
        r->n = 0;
        for (size_t i = 0; i < cap; i++)
            slots[i] = SIZE_MAX;
        for (size_t i = 0; i < old_cap; i++)
            if (old_slots[i] != SIZE_MAX) replay_place(r, old_keys[i], old_slots[i]);
        mem_free(old_keys);
        mem_free(old_slots);
    }
    replay_place(r, k, slot);
    return 0;
}

/* Empties position i, shifting later entries of its probe chain back (no tombstones). */
static void replay_index_erase(struct replay *r, size_t i)
{
    size_t mask = r->cap - 1;
    for (size_t j = (i + 1) & mask; r->slots[j] != SIZE_MAX; j = (j + 1) & mask) {
        size_t h = replay_home(r, r->keys[j]);
        int h_in_hole_to_j = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (h_in_hole_to_j) continue;
        r->keys[i] = r->keys[j];
        r->slots[i] = r->slots[j];
        i = j;
    }
    r->slots[i] = SIZE_MAX;
    r->n--;
}

static void replay_remove(struct replay *r, uint64_t number)
{
    size_t pos = replay_find(r, number);
    if (pos == SIZE_MAX) return;
    size_t slot = r->slots[pos], last = r->live.nadded - 1;
    replay_index_erase(r, pos);
    version_edit_remove_added(&r->live, slot);
    if (slot != last) r->slots[replay_find(r, r->live.added[slot].file_number)] = slot;
}

static int replay_add(struct replay *r, const struct edit_file *f)
{
    replay_remove(r, f->file_number);
    int rc = version_edit_add_file(&r->live, f);
    if (rc) return rc;
    if ((rc = replay_index_put(r, f->file_number, r->live.nadded - 1)))
        version_edit_remove_added(&r->live, r->live.nadded - 1);
    return rc;
}

static void replay_free(struct replay *r)
{
    version_edit_free(&r->live);
    mem_free(r->keys);
    mem_free(r->slots);
}

/* Folds one record into the replay and the version set's counters. */
static int replay_record(struct version_set *vs, struct replay *r, const struct version_edit *e,
                         uint64_t *last_seq, int *have_log, int *have_next)
{
    int rc;
    for (size_t i = 0; i < e->ndeleted; i++)
        replay_remove(r, e->deleted[i].file_number);
    for (size_t i = 0; i < e->nadded; i++) {
        const struct edit_file *f = &e->added[i];
        if (f->level >= vs->num_levels)
            return err_set(LAMINA_EINVAL,
                           "table %06" PRIu64 " is at level %d: open with num_levels above %d",
                           f->file_number, f->level, f->level);
        if (f->run >= vs->next_run) vs->next_run = f->run + 1;
        version_set_mark_file_used(vs, f->file_number);
        if ((rc = replay_add(r, f))) return rc;
    }
    if (e->has_log_number) {
        vs->log_number = e->log_number;
        *have_log = 1;
    }
    if (e->has_next_file && e->next_file_number > 0) {
        version_set_mark_file_used(vs, e->next_file_number - 1);
        *have_next = 1;
    }
    if (e->has_last_seq && e->last_sequence > *last_seq) *last_seq = e->last_sequence;
    if (e->has_next_run && e->next_run > vs->next_run) vs->next_run = e->next_run;
    if (e->wals_tracked || e->nwals_added) vs->wals_tracked = 1;
    if ((rc = wals_reserve(vs, e->nwals_added))) return rc;
    for (size_t i = 0; i < e->nwals_added; i++) {
        wals_insert(vs, e->wals_added[i]);
        version_set_mark_file_used(vs, e->wals_added[i]);
    }
    for (size_t i = 0; i < e->nskipped; i++)
        if ((rc = version_set_add_skip(vs, e->skipped[i]))) return rc;
    /* Deltas since the MANIFEST began; its first record (a snapshot) carries the totals. */
    if (e->has_stats) edit_stats_add(&vs->stats, &e->stats);
    return 0;
}

/* Reads CURRENT: the number of the MANIFEST it names. */
static int manifest_current(const char *dbpath, uint64_t *number)
{
    char path[DB_PATH_MAX + 32];
    uint8_t *cur = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/CURRENT", dbpath);
    int rc = file_read_all(path, &cur, &len);
    if (rc) return rc;
    while (len && (cur[len - 1] == '\n' || cur[len - 1] == '\r'))
        len--;
    if (len < 10 || memcmp(cur, "MANIFEST-", 9) != 0 ||
        !db_parse_number((const char *)cur + 9, len - 9, number))
        rc = err_set(LAMINA_ECORRUPT, "%s: does not name a MANIFEST", path);
    mem_free(cur);
    return rc;
}

int version_set_recover(struct version_set *vs, uint64_t *last_seq)
{
    char mpath[DB_PATH_MAX + 32], msg[512];
    log_reader *lr = NULL;
    buf rec = {0};
    struct replay r;
    uint64_t mnum;
    memset(&r, 0, sizeof(r));
    version_edit_init(&r.live);
    int rc = manifest_current(vs->dbpath, &mnum);
    if (rc) return rc;
    snprintf(mpath, sizeof(mpath), "%s/MANIFEST-%06" PRIu64, vs->dbpath, mnum);
    if ((rc = log_reader_open(mpath, &lr))) {
        if (!file_exists(mpath))
            rc = err_set(LAMINA_ECORRUPT, "%s/CURRENT names %s, which is missing", vs->dbpath,
                         mpath);
        return rc;
    }
    if ((rc = version_set_create_empty(vs))) goto out;
    vs->manifest_number = mnum;
    version_set_mark_file_used(vs, mnum);
    int have_log = 0, have_next = 0, nrec = 0;
    *last_seq = 0;
    for (;;) {
        uint64_t off = log_reader_end_offset(lr);
        rc = log_reader_next(lr, &rec);
        if (rc == 0) break;
        if (rc < 0) goto out;
        struct version_edit e;
        rc = version_edit_decode(&e, rec.data, rec.len);
        if (rc == 0) {
            rc = replay_record(vs, &r, &e, last_seq, &have_log, &have_next);
            version_edit_free(&e);
        }
        if (rc) {
            err_copy(msg, sizeof(msg));
            rc = err_set(rc == LAMINA_ENOMEM || rc == LAMINA_EINVAL ? rc : LAMINA_ECORRUPT,
                         "%s: record at offset %" PRIu64 ": %s", mpath, off, msg);
            goto out;
        }
        nrec++;
    }
    if (!have_log || !have_next) {
        rc = err_set(LAMINA_ECORRUPT, "%s: %s (%d records)", mpath,
                     nrec ? "no log number or next file number recorded" : "holds no edit", nrec);
        goto out;
    }
    struct version *nv;
    if ((rc = version_apply(vs->current, &r.live, 0, &nv))) {
        err_copy(msg, sizeof(msg));
        rc = err_set(rc, "%s: %s", mpath, msg);
        goto out;
    }
    version_unref(vs->current);
    vs->current = nv;
out:
    replay_free(&r);
    buf_free(&rec);
    log_reader_close(lr);
    return rc;
}

/* ---- Writing ---------------------------------------------------------------------------- */

/* The first record of a new MANIFEST: every table of v, less the deletes and plus the adds of
 * pending (an edit logged but not yet applied to v, or NULL), the recorded WALs still live or
 * on disk, the skipped numbers, the identity, the "WALs tracked" flag and the statistics
 * totals (vs->stats, which already hold pending's deltas). */
static int manifest_snapshot(struct version_set *vs, const struct version *v,
                             const struct version_edit *pending, struct version_edit *e)
{
    uint64_t *del = NULL;
    size_t ndel = pending ? pending->ndeleted : 0;
    int rc = 0;
    e->has_identity = 1;
    e->wals_tracked = 1;
    e->has_log_number = 1;
    e->log_number = vs->log_number;
    e->has_stats = !edit_stats_empty(&vs->stats);
    e->stats = vs->stats;
    if (ndel) {
        if (!(del = mem_alloc(ndel * sizeof(*del))))
            return err_set(LAMINA_ENOMEM, "MANIFEST snapshot: out of memory");
        for (size_t i = 0; i < ndel; i++)
            del[i] = pending->deleted[i].file_number;
        qsort(del, ndel, sizeof(*del), file_number_cmp);
    }
    for (int l = 0; l < v->num_levels && rc == 0; l++) {
        const struct level *lv = &v->levels[l];
        for (size_t r = 0; r < lv->nruns && rc == 0; r++)
            for (size_t i = 0; i < lv->runs[r].nfiles && rc == 0; i++) {
                const struct file_meta *f = lv->runs[r].files[i];
                if (del && ndel && bsearch(&f->number, del, ndel, sizeof(*del), file_number_cmp))
                    continue;
                rc = file_meta_add_to_edit(f, l, f->run, e);
            }
    }
    mem_free(del);
    for (size_t i = 0; pending && i < pending->nadded && rc == 0; i++)
        rc = version_edit_add_file(e, &pending->added[i]);
    version_set_prune_wals(vs);
    for (size_t i = 0; i < vs->nwals && rc == 0; i++)
        rc = version_edit_add_wal(e, vs->wals[i]);
    for (size_t i = 0; i < vs->nskip && rc == 0; i++)
        rc = version_edit_add_skipped(e, vs->skip[i]);
    return rc;
}

/* Fills the counters every edit carries, encodes it and appends it, synced. The next file
 * number recorded leads the counter by MANIFEST_FILE_NUMBER_HEADROOM. */
static int manifest_append(struct version_set *vs, log_writer *w, struct version_edit *e,
                           uint64_t last_seq)
{
    e->has_next_file = 1;
    e->next_file_number = atomic_load(&vs->next_file) + MANIFEST_FILE_NUMBER_HEADROOM;
    e->has_next_run = 1;
    e->next_run = vs->next_run;
    /* An edit may carry a larger sequence number of its own: an ingested table's, logged
     * before the number is published to readers. */
    if (!e->has_last_seq || e->last_sequence < last_seq) e->last_sequence = last_seq;
    e->has_last_seq = 1;
    buf rec = {0};
    int rc = version_edit_encode(e, &rec);
    if (rc == 0) rc = log_writer_add(w, rec.data, rec.len, 1);
    buf_free(&rec);
    return rc;
}

/* Writes a new MANIFEST whose first record is snap, points CURRENT at it, makes it the live
 * one and deletes the previous one. Until CURRENT is renamed a failure leaves the previous
 * MANIFEST live and removes what it wrote; after, CURRENT may name either. */
static int manifest_write_new(struct version_set *vs, struct version_edit *snap, uint64_t last_seq)
{
    char mpath[DB_PATH_MAX + 32], tmp[DB_PATH_MAX + 32], cur[DB_PATH_MAX + 32],
        old[DB_PATH_MAX + 32], msg[512];
    char text[64];
    wfile *f = NULL;
    log_writer *w = NULL;
    /* Both numbers are taken before the snapshot, so the next file number it records
     * accounts for them. */
    uint64_t num = version_set_new_file_number(vs), tmp_num = version_set_new_file_number(vs);
    int rc, renamed = 0, tmp_written = 0;
    snprintf(mpath, sizeof(mpath), "%s/MANIFEST-%06" PRIu64, vs->dbpath, num);
    db_file_name(tmp, sizeof(tmp), vs->dbpath, tmp_num, DB_TEMP_EXT);
    snprintf(cur, sizeof(cur), "%s/CURRENT", vs->dbpath);
    if ((rc = wfile_create(mpath, &f))) goto out;
    if (!(w = log_writer_create(f, 0))) {
        rc = err_set(LAMINA_ENOMEM, "%s: out of memory", mpath);
        goto out;
    }
    if ((rc = manifest_append(vs, w, snap, last_seq))) goto out;
    /* The MANIFEST's directory entry (and those of the tables and WALs it names) must be
     * durable before CURRENT can name it. */
    if ((rc = dir_sync(vs->dbpath))) goto out;
    int n = snprintf(text, sizeof(text), "MANIFEST-%06" PRIu64 "\n", num);
    tmp_written = 1;
    if ((rc = file_write_all(tmp, text, (size_t)n, 1))) goto out;
    if ((rc = file_rename(tmp, cur))) goto out;
    /* From here CURRENT may name the new MANIFEST (a failed dir sync does not undo the
     * rename), so it must not be removed on failure. */
    renamed = 1;
    FAULT_CRASH_POINT("manifest:current-renamed");
    if ((rc = dir_sync(vs->dbpath))) goto out;
    uint64_t old_num = vs->manifest_number;
    int had_old = vs->manifest_file != NULL || old_num != 0;
    if (vs->manifest) log_writer_destroy(vs->manifest);
    if (vs->manifest_file) (void)wfile_close(vs->manifest_file);
    vs->manifest = w;
    vs->manifest_file = f;
    vs->manifest_number = num;
    vs->manifest_base_size = wfile_size(f);
    vs->wals_tracked = 1;
    w = NULL;
    f = NULL;
    if (had_old && old_num != num) {
        snprintf(old, sizeof(old), "%s/MANIFEST-%06" PRIu64, vs->dbpath, old_num);
        (void)file_remove(old);
    }
out:
    if (rc) err_copy(msg, sizeof(msg));
    if (w) log_writer_destroy(w);
    if (f) {
        (void)wfile_close(f);
        if (rc && !renamed) (void)file_remove(mpath);
    }
    if (rc && !renamed && tmp_written && file_exists(tmp)) (void)file_remove(tmp);
    if (rc) err_set(rc, "%s", msg);
    return rc;
}

int version_set_new_manifest(struct version_set *vs, uint64_t last_seq)
{
    struct version_edit e;
    version_edit_init(&e);
    int rc = manifest_snapshot(vs, vs->current, NULL, &e);
    if (rc == 0) rc = manifest_write_new(vs, &e, last_seq);
    version_edit_free(&e);
    return rc;
}

/* Whether the live MANIFEST should be rolled: above the limit, and at least twice its opening
 * snapshot (a version whose snapshot alone exceeds the limit must not roll at every edit). */
static int manifest_over_limit(const struct version_set *vs)
{
    uint64_t size = wfile_size(vs->manifest_file);
    return vs->max_manifest_size && size > vs->max_manifest_size &&
           size > 2 * vs->manifest_base_size;
}

int version_set_log_edit(struct version_set *vs, struct version_edit *e, uint64_t last_seq)
{
    if (!vs->manifest) return err_set(LAMINA_EIO, "%s: MANIFEST is not open", vs->dbpath);
    int rc = wals_reserve(vs, e->nwals_added);
    if (rc == 0) rc = manifest_append(vs, vs->manifest, e, last_seq);
    if (rc) return rc;
    FAULT_CRASH_POINT("manifest:edit-synced");
    if (e->has_stats) edit_stats_add(&vs->stats, &e->stats);
    for (size_t i = 0; i < e->nwals_added; i++)
        wals_insert(vs, e->wals_added[i]);
    if (e->has_log_number) {
        vs->log_number = e->log_number;
        version_set_prune_wals(vs);
    }
    if (!manifest_over_limit(vs)) return 0;
    struct version_edit snap;
    version_edit_init(&snap);
    rc = manifest_snapshot(vs, vs->current, e, &snap);
    /* e->last_sequence: the larger of last_seq and the edit's own (manifest_append). */
    if (rc == 0) rc = manifest_write_new(vs, &snap, e->last_sequence);
    version_edit_free(&snap);
    return rc;
}

int version_set_log_wal(struct version_set *vs, uint64_t number, uint64_t last_seq)
{
    if (!vs->manifest) return err_set(LAMINA_EIO, "%s: MANIFEST is not open", vs->dbpath);
    struct version_edit e;
    version_edit_init(&e);
    int rc = wals_reserve(vs, 1);
    if (rc == 0) rc = version_edit_add_wal(&e, number);
    if (rc == 0) rc = manifest_append(vs, vs->manifest, &e, last_seq);
    if (rc == 0) wals_insert(vs, number);
    version_edit_free(&e);
    return rc;
}

/* ---- Whose MANIFEST --------------------------------------------------------------------- */

/* CRC-32C (Castagnoli), bitwise: it runs over one fragment, once per open. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
    }
    return ~c;
}

enum manifest_owner manifest_probe(const char *dbpath)
{
    char path[DB_PATH_MAX + 32];
    uint64_t mnum;
    rfile *f = NULL;
    snprintf(path, sizeof(path), "%s/CURRENT", dbpath);
    if (!file_exists(path) || manifest_current(dbpath, &mnum)) return MANIFEST_NONE;
    snprintf(path, sizeof(path), "%s/MANIFEST-%06" PRIu64, dbpath, mnum);
    if (!file_exists(path) || rfile_open(path, &f)) return MANIFEST_NONE;
    uint64_t size = rfile_size(f);
    size_t n = size < LOG_BLOCK_SIZE ? (size_t)size : LOG_BLOCK_SIZE;
    uint8_t *head = mem_alloc(n ? n : 1);
    int rc = head ? rfile_read(f, 0, head, n) : LAMINA_ENOMEM;
    rfile_close(f);
    enum manifest_owner owner = rc ? MANIFEST_NONE : MANIFEST_UNKNOWN;
    if (rc == 0 && n >= LOG_HEADER_SIZE) {
        uint32_t stored = coding_get_fixed32(head);
        size_t len = (size_t)head[4] | (size_t)head[5] << 8;
        int type = head[6];
        /* LevelDB and RocksDB: masked CRC-32C over type + payload, and for RocksDB's
         * recyclable types (5..8) an 11-byte header whose log number the CRC covers too. */
        size_t header = type >= 5 && type <= 8 ? 11 : LOG_HEADER_SIZE;
        /* Lamina: XXH3 over type + payload (docs/format.md, Part 1 §1). */
        if (LOG_HEADER_SIZE + len <= n && checksum32(head + 6, len + 1, 0) == stored) {
            owner = MANIFEST_LAMINA;
        } else if (header + len <= n) {
            uint32_t crc = crc32c(head + 6, header - 6 + len);
            if (((crc >> 15) | (crc << 17)) + 0xa282ead8u == stored) owner = MANIFEST_FOREIGN;
        }
    }
    mem_free(head);
    return owner;
}
