/* db_iter.c — the public iterator: a merge of every memtable and sorted run of a pinned super
 * version, seen at a snapshot, hiding newer entries, shadowed versions and tombstones; forward
 * and backward with direction switches (LevelDB's DBIter), with bounds applied inside. Range
 * tombstones of all sources are gathered and fragmented once, at creation (RocksDB's
 * RangeDelAggregator): an entry older than the newest visible tombstone covering it reads as a
 * deletion. */
#include <stdlib.h>
#include <string.h>

#include "engine/db_impl.h"
#include "engine/options.h"
#include "engine/range_del.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

enum { DIR_FORWARD, DIR_REVERSE };

struct lamina_iter {
    lamina_db *db;
    struct super_version *sv;
    iter *it;     /* merged internal iterator */
    uint64_t seq; /* entries newer than this are invisible */
    int dir;
    int valid;
    int status;
    /* Forward: the current entry is it's. Reverse: it sits before every entry of the current
     * key, whose key and value are saved here. Also the key to skip past in forward moves. */
    buf saved_key, saved_value;
    buf scratch; /* internal keys for seeks */
    /* The effective bounds: the caller's, narrowed to the prefix's range [prefix, successor) */
    buf lower, upper;
    int has_lower, has_upper;
    buf prefix; /* the caller's prefix, copied; empty: none */
    buf succ;   /* the prefix's successor; empty: none (no prefix, or only 0xff bytes) */
    range_del_list *range_dels; /* NULL: no range tombstone in any source */
};

/* The entry's type as this iterator sees it: a deletion when a range tombstone visible at the
 * iterator's seq and newer than the entry covers its key. */
static int dbi_type(const lamina_iter *di, const uint8_t *k, size_t klen)
{
    int type = ikey_type(k, klen);
    if (di->range_dels && type == IKEY_VALUE &&
        range_del_max_seq(di->range_dels, k, ikey_user_len(klen), di->seq) > ikey_seq(k, klen))
        return IKEY_DELETION;
    return type;
}

static int dbi_fail(lamina_iter *di, int rc)
{
    di->valid = 0;
    if (!di->status) di->status = rc;
    return rc;
}

/* Checks the internal iterator after a move. */
static int dbi_check(lamina_iter *di)
{
    int rc = iter_status(di->it);
    return rc ? dbi_fail(di, rc) : 0;
}

static int dbi_above_upper(const lamina_iter *di, const uint8_t *ukey, size_t n)
{
    return di->has_upper && ikey_user_cmp(ukey, n, di->upper.data, di->upper.len) >= 0;
}

static int dbi_below_lower(const lamina_iter *di, const uint8_t *ukey, size_t n)
{
    return di->has_lower && ikey_user_cmp(ukey, n, di->lower.data, di->lower.len) < 0;
}

static int dbi_save(buf *b, const void *p, size_t n)
{
    buf_clear(b);
    return buf_append(b, p, n) ? err_set(LAMINA_ENOMEM, "iterator: out of memory") : 0;
}

/* Internal key (ukey, seq, type) in scratch. */
static int dbi_ikey(lamina_iter *di, const void *ukey, size_t n, uint64_t seq, int type)
{
    buf_clear(&di->scratch);
    if (buf_reserve(&di->scratch, n + IKEY_TRAILER))
        return err_set(LAMINA_ENOMEM, "iterator: out of memory");
    ikey_encode(di->scratch.data, ukey, n, seq, type);
    di->scratch.len = n + IKEY_TRAILER;
    return 0;
}

/* Moves forward to the next visible entry; with skipping, hides entries of keys <= saved_key. */
static int dbi_find_next(lamina_iter *di, int skipping)
{
    int rc;
    while (iter_valid(di->it)) {
        size_t klen;
        const uint8_t *k = iter_key(di->it, &klen);
        if (klen < IKEY_TRAILER)
            return dbi_fail(di, err_set(LAMINA_ECORRUPT, "iterator: short internal key"));
        size_t ulen = ikey_user_len(klen);
        if (dbi_above_upper(di, k, ulen)) break;
        /* Hidden: newer than the snapshot, or shadowed by a newer version or a tombstone. */
        int hidden =
            ikey_seq(k, klen) > di->seq ||
            (skipping && ikey_user_cmp(k, ulen, di->saved_key.data, di->saved_key.len) <= 0);
        if (!hidden && dbi_type(di, k, klen) == IKEY_DELETION) {
            if ((rc = dbi_save(&di->saved_key, k, ulen))) return dbi_fail(di, rc);
            skipping = 1;
        } else if (!hidden) {
            di->valid = 1;
            return 0;
        }
        if ((rc = iter_next(di->it))) return dbi_fail(di, rc);
    }
    di->valid = 0;
    return dbi_check(di);
}

/* Moves backward to the previous visible key, saving its key and newest visible value. */
static int dbi_find_prev(lamina_iter *di)
{
    int type = IKEY_DELETION, rc;
    buf_clear(&di->saved_key);
    while (iter_valid(di->it)) {
        size_t klen, vlen;
        const uint8_t *k = iter_key(di->it, &klen);
        if (klen < IKEY_TRAILER)
            return dbi_fail(di, err_set(LAMINA_ECORRUPT, "iterator: short internal key"));
        size_t ulen = ikey_user_len(klen);
        if (dbi_below_lower(di, k, ulen)) break;
        if (ikey_seq(k, klen) <= di->seq) {
            if (type != IKEY_DELETION &&
                ikey_user_cmp(k, ulen, di->saved_key.data, di->saved_key.len) < 0)
                break; /* an older key: the saved one is the answer */
            type = dbi_type(di, k, klen);
            if (type == IKEY_DELETION) {
                buf_clear(&di->saved_key);
                buf_clear(&di->saved_value);
            } else {
                const uint8_t *v = iter_value(di->it, &vlen);
                if ((rc = dbi_save(&di->saved_key, k, ulen))) return dbi_fail(di, rc);
                if ((rc = dbi_save(&di->saved_value, v, vlen))) return dbi_fail(di, rc);
            }
        }
        if ((rc = iter_prev(di->it))) return dbi_fail(di, rc);
    }
    if ((rc = dbi_check(di))) return rc;
    if (type == IKEY_DELETION) {
        di->valid = 0;
        buf_clear(&di->saved_key);
        buf_clear(&di->saved_value);
        di->dir = DIR_FORWARD;
    } else {
        di->valid = 1;
    }
    return 0;
}

static int dbi_seek_internal(lamina_iter *di, const void *key, size_t n)
{
    int rc = dbi_ikey(di, key, n, di->seq, IKEY_VALUE);
    if (rc == 0) rc = iter_seek(di->it, di->scratch.data, di->scratch.len);
    return rc ? dbi_fail(di, rc) : 0;
}

/* Positions it at the last entry below the upper bound (or the last entry). */
static int dbi_seek_last_internal(lamina_iter *di)
{
    int rc;
    if (di->has_upper) {
        rc = dbi_ikey(di, di->upper.data, di->upper.len, IKEY_MAX_SEQ, IKEY_VALUE);
        if (rc == 0) rc = iter_seek_for_prev(di->it, di->scratch.data, di->scratch.len);
    } else {
        rc = iter_seek_to_last(di->it);
    }
    return rc ? dbi_fail(di, rc) : 0;
}

static void dbi_reset(lamina_iter *di)
{
    di->status = 0;
    di->valid = 0;
    buf_clear(&di->saved_key);
    buf_clear(&di->saved_value);
}

LAMINA_API int lamina_iter_seek(lamina_iter *di, const void *key, size_t key_len)
{
    if (!di || (!key && key_len)) return err_set(LAMINA_EINVAL, "lamina_iter_seek: NULL argument");
    dbi_reset(di);
    di->dir = DIR_FORWARD;
    if (dbi_below_lower(di, key, key_len)) {
        key = di->lower.data;
        key_len = di->lower.len;
    }
    int rc = dbi_seek_internal(di, key, key_len);
    if (rc) return rc;
    return dbi_find_next(di, 0);
}

LAMINA_API int lamina_iter_seek_to_first(lamina_iter *di)
{
    if (!di) return err_set(LAMINA_EINVAL, "lamina_iter_seek_to_first: NULL iterator");
    dbi_reset(di);
    di->dir = DIR_FORWARD;
    int rc = di->has_lower ? dbi_seek_internal(di, di->lower.data, di->lower.len)
                           : iter_seek_to_first(di->it);
    if (rc) return dbi_fail(di, rc);
    return dbi_find_next(di, 0);
}

LAMINA_API int lamina_iter_seek_to_last(lamina_iter *di)
{
    if (!di) return err_set(LAMINA_EINVAL, "lamina_iter_seek_to_last: NULL iterator");
    dbi_reset(di);
    di->dir = DIR_REVERSE;
    int rc = dbi_seek_last_internal(di);
    if (rc) return rc;
    return dbi_find_prev(di);
}

LAMINA_API int lamina_iter_seek_for_prev(lamina_iter *di, const void *key, size_t key_len)
{
    if (!di || (!key && key_len))
        return err_set(LAMINA_EINVAL, "lamina_iter_seek_for_prev: NULL argument");
    dbi_reset(di);
    di->dir = DIR_REVERSE;
    int rc;
    if (dbi_above_upper(di, key, key_len)) {
        rc = dbi_seek_last_internal(di);
    } else {
        /* (key, 0, DELETION) sorts after every version of key. */
        rc = dbi_ikey(di, key, key_len, 0, IKEY_DELETION);
        if (rc == 0) rc = iter_seek_for_prev(di->it, di->scratch.data, di->scratch.len);
        if (rc) rc = dbi_fail(di, rc);
    }
    if (rc) return rc;
    return dbi_find_prev(di);
}

LAMINA_API int lamina_iter_next(lamina_iter *di)
{
    if (!di || !di->valid) return err_set(LAMINA_EINVAL, "lamina_iter_next: iterator not valid");
    int rc;
    if (di->dir == DIR_REVERSE) {
        /* it sits before the current key's entries: step onto them, then past them. */
        di->dir = DIR_FORWARD;
        if (!iter_valid(di->it)) {
            rc = di->has_lower ? dbi_seek_internal(di, di->lower.data, di->lower.len)
                               : iter_seek_to_first(di->it);
        } else {
            rc = iter_next(di->it);
        }
        if (rc) return dbi_fail(di, rc);
    } else {
        size_t klen;
        const uint8_t *k = iter_key(di->it, &klen);
        if ((rc = dbi_save(&di->saved_key, k, ikey_user_len(klen)))) return dbi_fail(di, rc);
        if ((rc = iter_next(di->it))) return dbi_fail(di, rc);
    }
    return dbi_find_next(di, 1);
}

LAMINA_API int lamina_iter_prev(lamina_iter *di)
{
    if (!di || !di->valid) return err_set(LAMINA_EINVAL, "lamina_iter_prev: iterator not valid");
    int rc;
    if (di->dir == DIR_FORWARD) {
        /* Step back before every entry of the current key. */
        size_t klen;
        const uint8_t *k = iter_key(di->it, &klen);
        if ((rc = dbi_save(&di->saved_key, k, ikey_user_len(klen)))) return dbi_fail(di, rc);
        for (;;) {
            if ((rc = iter_prev(di->it))) return dbi_fail(di, rc);
            if (!iter_valid(di->it)) {
                di->valid = 0;
                buf_clear(&di->saved_key);
                buf_clear(&di->saved_value);
                return dbi_check(di);
            }
            k = iter_key(di->it, &klen);
            if (ikey_user_cmp(k, ikey_user_len(klen), di->saved_key.data, di->saved_key.len) < 0)
                break;
        }
        di->dir = DIR_REVERSE;
    }
    return dbi_find_prev(di);
}

LAMINA_API int lamina_iter_valid(const lamina_iter *di)
{
    return di && di->valid && !di->status;
}

LAMINA_API const void *lamina_iter_key(const lamina_iter *di, size_t *len)
{
    if (!lamina_iter_valid(di)) {
        if (len) *len = 0;
        return NULL;
    }
    if (di->dir == DIR_REVERSE) {
        if (len) *len = di->saved_key.len;
        return di->saved_key.data;
    }
    size_t klen;
    const uint8_t *k = iter_key(di->it, &klen);
    if (len) *len = ikey_user_len(klen);
    return k;
}

LAMINA_API const void *lamina_iter_value(const lamina_iter *di, size_t *len)
{
    if (!lamina_iter_valid(di)) {
        if (len) *len = 0;
        return NULL;
    }
    if (di->dir == DIR_REVERSE) {
        if (len) *len = di->saved_value.len;
        return di->saved_value.data;
    }
    size_t vlen;
    const uint8_t *v = iter_value(di->it, &vlen);
    if (len) *len = vlen;
    return v;
}

LAMINA_API int lamina_iter_status(const lamina_iter *di)
{
    return di ? di->status : LAMINA_EINVAL;
}

static int dbi_copy_bound(buf *b, int *has, const void *p, size_t n)
{
    if (!p) return 0;
    *has = 1;
    /* A zero-length bound still needs a non-NULL pointer for comparisons. */
    if (buf_reserve(b, n + 1) || buf_append(b, p, n))
        return err_set(LAMINA_ENOMEM, "iterator: out of memory");
    return 0;
}

/* Narrows the bounds to the keys starting with prefix (plen > 0): those are exactly the keys in
 * [prefix, successor), the successor being the prefix with its last non-0xff byte incremented
 * and the 0xff bytes after it dropped; a prefix of only 0xff bytes has none (no upper bound). */
static int dbi_apply_prefix(lamina_iter *di, const uint8_t *p, size_t plen)
{
    if (buf_reserve(&di->prefix, plen + 1) || buf_append(&di->prefix, p, plen))
        return err_set(LAMINA_ENOMEM, "iterator: out of memory");
    p = di->prefix.data; /* the copy: the caller's bytes may go once the iterator exists */
    if (!di->has_lower || ikey_user_cmp(di->lower.data, di->lower.len, p, plen) < 0) {
        buf_clear(&di->lower);
        int rc = dbi_copy_bound(&di->lower, &di->has_lower, p, plen);
        if (rc) return rc;
    }
    size_t n = plen;
    while (n > 0 && p[n - 1] == 0xff)
        n--;
    if (n == 0) return 0;
    /* The successor: p[0..n) with its last byte incremented. */
    int rc = dbi_save(&di->succ, p, n);
    if (rc) return rc;
    di->succ.data[n - 1]++;
    if (di->has_upper && ikey_user_cmp(di->upper.data, di->upper.len, di->succ.data, n) <= 0)
        return 0;
    buf_clear(&di->upper);
    return dbi_copy_bound(&di->upper, &di->has_upper, di->succ.data, n);
}

LAMINA_API int lamina_iter_create(lamina_db *db, const lamina_read_options *ro, lamina_iter **out)
{
    if (!db || !out) return err_set(LAMINA_EINVAL, "lamina_iter_create: NULL argument");
    *out = NULL;
    lamina_iter *di = mem_calloc(1, sizeof(*di));
    iter **children = NULL;
    size_t n = 0;
    int rc = 0;
    if (!di) return err_set(LAMINA_ENOMEM, "lamina_iter_create: out of memory");
    di->db = db;
    lamina_read_options o;
    if ((rc = options_read_copy(&o, ro, "lamina_iter_create"))) goto fail;
    if ((rc = dbi_copy_bound(&di->lower, &di->has_lower, o.lower_bound, o.lower_bound_len)))
        goto fail;
    if ((rc = dbi_copy_bound(&di->upper, &di->has_upper, o.upper_bound, o.upper_bound_len)))
        goto fail;
    if (!o.prefix && o.prefix_len) {
        rc = err_set(LAMINA_EINVAL, "lamina_iter_create: NULL prefix of %zu bytes", o.prefix_len);
        goto fail;
    }
    if (o.prefix_len && (rc = dbi_apply_prefix(di, o.prefix, o.prefix_len))) goto fail;
    di->sv = db_sv_acquire(db, &di->seq);
    if (o.snapshot) di->seq = o.snapshot->seq;
    struct super_version *sv = di->sv;
    const struct version *v = sv->v;
    size_t cap = 1 + sv->nimm;
    for (int l = 0; l < v->num_levels; l++)
        cap += v->levels[l].nruns;
    children = mem_alloc(cap * sizeof(*children));
    if (!children) goto nomem;
    /* The bounds travel down to the runs and tables (borrowed from di, which outlives them). */
    struct table_read_options tro = {
        .verify_checksums = o.verify_checksums,
        .fill_cache = o.fill_cache,
        .readahead_max = (size_t)db->opts.max_auto_readahead_size,
        .lower = di->has_lower ? di->lower.data : NULL,
        .lower_len = di->lower.len,
        .upper = di->has_upper ? di->upper.data : NULL,
        .upper_len = di->upper.len,
    };
    /* Nothing lies in an empty range: no source at all. */
    int empty = di->has_lower && di->has_upper &&
                ikey_user_cmp(di->lower.data, di->lower.len, di->upper.data, di->upper.len) >= 0;
    /* An empty memtable holds nothing visible at seq (later inserts are newer), and a single
     * source needs no merging: both matter to long scans of a compacted tree. A prefix iterator
     * visits only the prefix's part of a memtable (the whole of it for an empty prefix). */
    if (!empty && memtable_count(sv->mem)) {
        if (!(children[n] = memtable_prefix_iter_create(sv->mem, di->prefix.data, di->prefix.len)))
            goto nomem;
        n++;
    }
    for (size_t i = 0; !empty && i < sv->nimm; i++) {
        if (!(children[n] = memtable_prefix_iter_create(sv->imm[i], di->prefix.data,
                                                        di->prefix.len)))
            goto nomem;
        n++;
    }
    /* A run with no table in the bounds adds no source (run_bounded_files: decided from the
     * version's key ranges, so such tables are never opened). */
    for (int l = 0; !empty && l < v->num_levels; l++) {
        tro.io = &db->io_levels[l];
        for (size_t r = 0; r < v->levels[l].nruns; r++) {
            size_t first, end;
            run_bounded_files(&v->levels[l].runs[r], &tro, &first, &end);
            if (first == end) continue;
            if (!(children[n] = run_iter_create(&v->levels[l].runs[r], &tro))) goto nomem;
            n++;
        }
    }
    if (!empty && (rc = db_range_dels_iter(sv, &tro, &di->range_dels))) goto fail;
    di->it = n == 1 ? children[0] : n == 0 ? iter_empty_create(0) : merge_iter_create(children, n);
    n = 0;
    if (!di->it) goto nomem;
    mem_free(children);
    atomic_fetch_add(&db->live_iters, 1);
    *out = di;
    return 0;
nomem:
    rc = err_set(LAMINA_ENOMEM, "lamina_iter_create: out of memory");
fail:
    for (size_t i = 0; i < n; i++)
        iter_destroy(children[i]);
    mem_free(children);
    db_sv_release(di->sv);
    range_del_list_free(di->range_dels);
    buf_free(&di->lower);
    buf_free(&di->upper);
    buf_free(&di->prefix);
    buf_free(&di->succ);
    buf_free(&di->scratch);
    mem_free(di);
    return rc;
}

LAMINA_API void lamina_iter_destroy(lamina_iter *di)
{
    if (!di) return;
    iter_destroy(di->it);
    db_sv_release(di->sv);
    range_del_list_free(di->range_dels);
    atomic_fetch_sub(&di->db->live_iters, 1);
    buf_free(&di->saved_key);
    buf_free(&di->saved_value);
    buf_free(&di->scratch);
    buf_free(&di->lower);
    buf_free(&di->upper);
    buf_free(&di->prefix);
    buf_free(&di->succ);
    mem_free(di);
}
