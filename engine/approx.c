/* approx.c — lamina_approximate_sizes: the bytes a key range takes in the tables, from their
 * key ranges and index blocks (RocksDB's GetApproximateSizes, LevelDB's ApproximateOffsetOf),
 * and optionally in the memtables. */
#include <string.h>

#include "engine/db_impl.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* A bound of a range as a user key, or absent (open on that side). */
struct approx_bound {
    const uint8_t *p;
    size_t n;
    int set;
};

static int approx_cmp(struct approx_bound b, const uint8_t *ikey, size_t ilen)
{
    return ikey_user_cmp(b.p, b.n, ikey, ikey_user_len(ilen));
}

/* Bytes of table f in [start, limit): the whole file when the range holds all its keys, else
 * the span between the data blocks the bounds fall in, through the end of the file when limit
 * lies past its last key. Offsets come from the same index for both ends, so adjacent ranges
 * add up exactly. */
static int approx_table(struct file_meta *f, struct approx_bound start, struct approx_bound limit,
                        uint64_t *size)
{
    if (limit.set && approx_cmp(limit, f->smallest, f->smallest_len) <= 0) return 0;
    if (start.set && approx_cmp(start, f->largest, f->largest_len) > 0) return 0;
    int from_first = !start.set || approx_cmp(start, f->smallest, f->smallest_len) <= 0;
    int to_end = !limit.set || approx_cmp(limit, f->largest, f->largest_len) > 0;
    if (from_first && to_end) {
        *size += f->size;
        return 0;
    }
    table *t;
    int rc = file_meta_table(f, &t);
    if (rc) return rc;
    uint64_t begin = 0, end = f->size;
    if (!from_first) rc = table_approximate_offset(t, start.p, start.n, &begin);
    if (rc == 0 && !to_end) rc = table_approximate_offset(t, limit.p, limit.n, &end);
    table_unref(t);
    if (rc == 0 && end > begin) *size += end - begin;
    return rc;
}

/* Bytes of m's entries (internal key and value) whose user key lies in [start, limit). */
static int approx_memtable(memtable *m, struct approx_bound start, struct approx_bound limit,
                           uint64_t *size)
{
    iter *it = memtable_iter_create(m);
    if (!it) return err_set(LAMINA_ENOMEM, "lamina_approximate_sizes: out of memory");
    int rc;
    if (start.set) {
        uint8_t *ik = mem_alloc(start.n + IKEY_TRAILER);
        if (!ik) {
            iter_destroy(it);
            return err_set(LAMINA_ENOMEM, "lamina_approximate_sizes: out of memory");
        }
        ikey_encode(ik, start.p, start.n, IKEY_SEEK_SEQ, IKEY_VALUE);
        rc = iter_seek(it, ik, start.n + IKEY_TRAILER);
        mem_free(ik);
    } else {
        rc = iter_seek_to_first(it);
    }
    while (rc == 0 && iter_valid(it)) {
        size_t kn, vn;
        const uint8_t *k = iter_key(it, &kn);
        if (limit.set && approx_cmp(limit, k, kn) <= 0) break;
        iter_value(it, &vn);
        *size += kn + vn;
        rc = iter_next(it);
    }
    if (rc == 0) rc = iter_status(it);
    iter_destroy(it);
    return rc;
}

LAMINA_API int lamina_approximate_sizes(lamina_db *db, size_t n, const lamina_range *ranges,
                                        unsigned flags, uint64_t *sizes)
{
    if (!db || (n && (!ranges || !sizes)))
        return err_set(LAMINA_EINVAL, "lamina_approximate_sizes: NULL argument");
    if (!(flags & (LAMINA_SIZE_FILES | LAMINA_SIZE_MEMTABLES)) ||
        (flags & ~(unsigned)(LAMINA_SIZE_FILES | LAMINA_SIZE_MEMTABLES)))
        return err_set(LAMINA_EINVAL,
                       "lamina_approximate_sizes: flags %u name neither LAMINA_SIZE_FILES nor "
                       "LAMINA_SIZE_MEMTABLES, or unknown bits",
                       flags);
    uint64_t seq;
    struct super_version *sv = db_sv_acquire(db, &seq);
    struct version *v = sv->v;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct approx_bound start = {ranges[i].start, ranges[i].start_len, ranges[i].start != NULL};
        struct approx_bound limit = {ranges[i].limit, ranges[i].limit_len, ranges[i].limit != NULL};
        uint64_t size = 0;
        if (start.set && limit.set && ikey_user_cmp(start.p, start.n, limit.p, limit.n) >= 0) {
            sizes[i] = 0;
            continue;
        }
        for (int l = 0; rc == 0 && (flags & LAMINA_SIZE_FILES) && l < v->num_levels; l++)
            for (size_t r = 0; rc == 0 && r < v->levels[l].nruns; r++)
                for (size_t f = 0; rc == 0 && f < v->levels[l].runs[r].nfiles; f++)
                    rc = approx_table(v->levels[l].runs[r].files[f], start, limit, &size);
        if (rc == 0 && (flags & LAMINA_SIZE_MEMTABLES)) {
            rc = approx_memtable(sv->mem, start, limit, &size);
            for (size_t m = 0; rc == 0 && m < sv->nimm; m++)
                rc = approx_memtable(sv->imm[m], start, limit, &size);
        }
        if (rc == 0) sizes[i] = size;
    }
    db_sv_release(sv);
    return rc;
}
