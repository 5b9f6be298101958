/* version.c — the version set: reference-counted versions of the table set (per level, sorted
 * runs newest first), built by applying version edits, logged in the MANIFEST and named by
 * CURRENT (LevelDB's VersionSet, with sorted runs per level as in Dostoevsky's Fluid LSM). */
#include "engine/version.h"
#include "engine/filename.h"
#include "engine/manifest.h"
#include "sst/lookup.h"
#include "util/alloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/ikey.h"

/* ---- Files ------------------------------------------------------------------------------ */

static struct file_meta *file_meta_create(struct version_set *vs, const struct edit_file *ef)
{
    struct file_meta *f = mem_calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->smallest = mem_alloc(ef->smallest_len ? ef->smallest_len : 1);
    f->largest = mem_alloc(ef->largest_len ? ef->largest_len : 1);
    if (!f->smallest || !f->largest) {
        mem_free(f->smallest);
        mem_free(f->largest);
        mem_free(f);
        return NULL;
    }
    memcpy(f->smallest, ef->smallest, ef->smallest_len);
    memcpy(f->largest, ef->largest, ef->largest_len);
    f->smallest_len = ef->smallest_len;
    f->largest_len = ef->largest_len;
    atomic_init(&f->refs, 1);
    atomic_init(&f->obsolete, 0);
    f->being_compacted = 0;
    f->moved_from = NULL;
    f->level = ef->level;
    f->run = ef->run;
    f->number = ef->file_number;
    f->size = ef->file_size;
    f->entries = ef->entries;
    f->smallest_seq = ef->smallest_seq;
    f->largest_seq = ef->largest_seq;
    f->range_dels = ef->range_dels;
    f->vs = vs;
    return f;
}

static void file_meta_unref(struct file_meta *f)
{
    while (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
        struct file_meta *prev = f->moved_from;
        if (atomic_load(&f->obsolete)) {
            /* A moved table's file is also the file of its entries in older versions: the
             * deletion waits for the last of them. Deleting is background work: the engine
             * queues it, whichever thread (a reader among them) let go of the last version. */
            if (prev)
                atomic_store(&prev->obsolete, 1);
            else if (f->vs->on_obsolete)
                f->vs->on_obsolete(f->vs->obsolete_ctx, f->number);
        }
        mem_free(f->smallest);
        mem_free(f->largest);
        mem_free(f);
        f = prev;
    }
}

/* The base version's entry of table number, or NULL. */
static struct file_meta *version_find_file(const struct version *v, uint64_t number)
{
    for (int l = 0; l < v->num_levels; l++)
        for (size_t r = 0; r < v->levels[l].nruns; r++)
            for (size_t i = 0; i < v->levels[l].runs[r].nfiles; i++)
                if (v->levels[l].runs[r].files[i]->number == number)
                    return v->levels[l].runs[r].files[i];
    return NULL;
}

int file_overlaps(const struct file_meta *f, const void *lo, size_t lo_len, const void *hi,
                  size_t hi_len)
{
    if (lo && ikey_user_cmp(f->largest, ikey_user_len(f->largest_len), lo, lo_len) < 0) return 0;
    if (hi && ikey_user_cmp(f->smallest, ikey_user_len(f->smallest_len), hi, hi_len) > 0) return 0;
    return 1;
}

int file_meta_add_to_edit(const struct file_meta *f, int level, uint64_t run,
                          struct version_edit *e)
{
    struct edit_file ef = {
        .level = level,
        .run = run,
        .file_number = f->number,
        .file_size = f->size,
        .entries = f->entries,
        .smallest = f->smallest,
        .smallest_len = f->smallest_len,
        .largest = f->largest,
        .largest_len = f->largest_len,
        .smallest_seq = f->smallest_seq,
        .largest_seq = f->largest_seq,
        .range_dels = f->range_dels,
    };
    return version_edit_add_file(e, &ef);
}

int file_meta_table(struct file_meta *f, table **out)
{
    return table_cache_get(f->vs->tables, f->number,
                           f->vs->pin_meta || (f->level == 0 && f->vs->pin_l0_meta), out);
}

/* ---- Versions --------------------------------------------------------------------------- */

void version_ref(struct version *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

static void version_free(struct version *v)
{
    for (int l = 0; l < v->num_levels; l++) {
        struct level *lv = &v->levels[l];
        for (size_t r = 0; r < lv->nruns; r++) {
            for (size_t i = 0; i < lv->runs[r].nfiles; i++)
                file_meta_unref(lv->runs[r].files[i]);
            mem_free(lv->runs[r].files);
        }
        mem_free(lv->runs);
    }
    mem_free(v);
}

void version_unref(struct version *v)
{
    if (!v) return;
    if (atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1) version_free(v);
}

static int file_order(const void *a, const void *b)
{
    const struct file_meta *x = *(struct file_meta *const *)a, *y = *(struct file_meta *const *)b;
    if (x->run != y->run) return x->run > y->run ? -1 : 1; /* newest run first */
    return ikey_cmp(x->smallest, x->smallest_len, y->smallest, y->smallest_len);
}

int file_number_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Groups a level's files (sorted by run, then key) into runs. Takes over the references. */
static int level_build(struct level *lv, struct file_meta **files, size_t n)
{
    qsort(files, n, sizeof(*files), file_order);
    size_t nruns = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || files[i]->run != files[i - 1]->run) nruns++;
    lv->runs = nruns ? mem_calloc(nruns, sizeof(*lv->runs)) : NULL;
    if (nruns && !lv->runs) return LAMINA_ENOMEM;
    lv->nruns = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && files[j]->run == files[i]->run)
            j++;
        struct run *r = &lv->runs[lv->nruns];
        r->files = mem_alloc((j - i) * sizeof(*r->files));
        if (!r->files) return LAMINA_ENOMEM;
        memcpy(r->files, files + i, (j - i) * sizeof(*r->files));
        r->nfiles = j - i;
        r->id = files[i]->run;
        for (size_t k = i; k < j; k++)
            r->bytes += files[k]->size;
        lv->nruns++;
        lv->bytes += r->bytes;
        lv->nfiles += r->nfiles;
        i = j;
    }
    return 0;
}

/* Whether e adds file number (a trivial move deletes and adds the same file). */
static int version_edit_adds(const struct version_edit *e, uint64_t number)
{
    for (size_t i = 0; i < e->nadded; i++)
        if (e->added[i].file_number == number) return 1;
    return 0;
}

int version_apply(const struct version *base, const struct version_edit *e, int mark_obsolete,
                  struct version **out)
{
    struct version *v = mem_calloc(1, sizeof(*v));
    uint64_t *del = NULL;
    struct file_meta **files = NULL;
    int rc = LAMINA_ENOMEM;
    if (!v) return err_set(LAMINA_ENOMEM, "version: out of memory");
    atomic_init(&v->refs, 1);
    v->vs = base->vs;
    v->num_levels = base->num_levels;
    if (e->ndeleted) {
        del = mem_alloc(e->ndeleted * sizeof(*del));
        if (!del) goto out;
        for (size_t i = 0; i < e->ndeleted; i++)
            del[i] = e->deleted[i].file_number;
        qsort(del, e->ndeleted, sizeof(*del), file_number_cmp);
    }
    for (int l = 0; l < v->num_levels; l++) {
        const struct level *bl = &base->levels[l];
        size_t cap = bl->nfiles, n = 0;
        for (size_t i = 0; i < e->nadded; i++)
            cap += e->added[i].level == l;
        if (cap == 0) continue;
        files = mem_alloc(cap * sizeof(*files));
        if (!files) goto out;
        for (size_t r = 0; r < bl->nruns; r++) {
            for (size_t i = 0; i < bl->runs[r].nfiles; i++) {
                struct file_meta *f = bl->runs[r].files[i];
                if (del && bsearch(&f->number, del, e->ndeleted, sizeof(*del), file_number_cmp))
                    continue;
                atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
                files[n++] = f;
            }
        }
        for (size_t i = 0; i < e->nadded; i++) {
            if (e->added[i].level != l) continue;
            struct file_meta *f = file_meta_create(base->vs, &e->added[i]);
            if (!f) {
                for (size_t k = 0; k < n; k++)
                    file_meta_unref(files[k]);
                goto out;
            }
            /* A trivial move: the new entry keeps the old one alive (see file_meta_unref). */
            if (del && bsearch(&f->number, del, e->ndeleted, sizeof(*del), file_number_cmp) &&
                (f->moved_from = version_find_file(base, f->number)))
                atomic_fetch_add_explicit(&f->moved_from->refs, 1, memory_order_relaxed);
            files[n++] = f;
        }
        if (level_build(&v->levels[l], files, n)) {
            /* Files already placed in runs are released with v; release the rest. */
            size_t placed = 0;
            for (size_t r = 0; r < v->levels[l].nruns; r++)
                placed += v->levels[l].runs[r].nfiles;
            for (size_t k = placed; k < n; k++)
                file_meta_unref(files[k]);
            goto out;
        }
        mem_free(files);
        files = NULL;
    }
    for (size_t i = 0; i < e->nadded; i++) {
        if (e->added[i].level < 0 || e->added[i].level >= v->num_levels) {
            rc = e->added[i].level < 0
                     ? err_set(LAMINA_ECORRUPT, "version edit adds table %06" PRIu64 " at level %d",
                               e->added[i].file_number, e->added[i].level)
                     : err_set(LAMINA_EINVAL,
                               "table %06" PRIu64 " is at level %d: open with "
                               "num_levels above %d",
                               e->added[i].file_number, e->added[i].level, e->added[i].level);
            goto out;
        }
    }
    if (mark_obsolete) {
        for (int l = 0; l < base->num_levels; l++) {
            const struct level *bl = &base->levels[l];
            for (size_t r = 0; r < bl->nruns; r++)
                for (size_t i = 0; i < bl->runs[r].nfiles; i++) {
                    struct file_meta *f = bl->runs[r].files[i];
                    if (del &&
                        bsearch(&f->number, del, e->ndeleted, sizeof(*del), file_number_cmp) &&
                        !version_edit_adds(e, f->number))
                        atomic_store(&f->obsolete, 1);
                }
        }
    }
    mem_free(del);
    *out = v;
    return 0;
out:
    mem_free(files);
    mem_free(del);
    version_free(v);
    if (rc == LAMINA_ENOMEM) err_set(LAMINA_ENOMEM, "version: out of memory");
    return rc;
}

void version_shape(const struct version *v, struct lsm_shape *shape)
{
    memset(shape, 0, sizeof(*shape));
    shape->num_levels = v->num_levels;
    for (int l = 0; l < v->num_levels; l++) {
        shape->runs[l] = (int)v->levels[l].nruns;
        shape->bytes[l] = v->levels[l].bytes;
    }
}

int version_deepest_level(const struct version *v)
{
    for (int l = v->num_levels - 1; l >= 0; l--)
        if (v->levels[l].nruns) return l;
    return -1;
}

/* ---- Point lookups ---------------------------------------------------------------------- */

/* First file of the run whose largest internal key is >= lookup. */
static size_t run_find(const struct run *r, const uint8_t *lookup, size_t len)
{
    size_t lo = 0, hi = r->nfiles;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct file_meta *f = r->files[mid];
        if (ikey_cmp(f->largest, f->largest_len, lookup, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Where a lookup stands in a version: the run (level l, run r) and file i to ask next. */
struct version_probe {
    int l;
    size_t r, i; /* i: SIZE_MAX until the run is searched */
    int asked;   /* files[i] was returned and answered LAMINA_NOTFOUND */
    int new_run; /* the file returned last is the first asked of its run */
};
#define VERSION_PROBE_INIT {0, 0, SIZE_MAX, 0, 0}

/* The next file whose key range may hold lookup's user key, newest run first, or NULL when
 * none remains. Each call after the first means the file it returned last did not hold it. */
static struct file_meta *version_probe_next(const struct version *v, struct version_probe *p,
                                            const uint8_t *lookup, size_t lookup_len)
{
    size_t ulen = ikey_user_len(lookup_len);
    if (p->asked) {
        /* Versions of one user key may continue into the next table of the run. */
        const struct file_meta *f = v->levels[p->l].runs[p->r].files[p->i];
        p->asked = 0;
        if (ikey_user_cmp(f->largest, ikey_user_len(f->largest_len), lookup, ulen) == 0) {
            p->i++;
        } else {
            p->r++;
            p->i = SIZE_MAX;
        }
    }
    for (; p->l < v->num_levels; p->l++, p->r = 0, p->i = SIZE_MAX) {
        const struct level *lv = &v->levels[p->l];
        for (; p->r < lv->nruns; p->r++, p->i = SIZE_MAX) {
            const struct run *run = &lv->runs[p->r];
            int fresh = p->i == SIZE_MAX;
            if (fresh) p->i = run_find(run, lookup, lookup_len);
            if (p->i >= run->nfiles) continue;
            struct file_meta *f = run->files[p->i];
            if (ikey_user_cmp(f->smallest, ikey_user_len(f->smallest_len), lookup, ulen) > 0)
                continue;
            p->asked = 1;
            p->new_run = fresh;
            return f;
        }
    }
    return NULL;
}

/* ro with its I/O and lookup counters pointed at level l's. */
static inline struct table_read_options version_level_ro(const struct table_read_options *ro,
                                                         int l)
{
    struct table_read_options o = *ro;
    if (o.io) o.io += l;
    if (o.lookup) o.lookup += l;
    return o;
}

/* Counts a run a lookup probes (its first table asked), at the level lro counts for. */
static inline void version_count_run(const struct version_probe *p,
                                     const struct table_read_options *lro)
{
    if (p->new_run && lro->lookup)
        atomic_fetch_add_explicit(&lro->lookup->runs, 1, memory_order_relaxed);
}

int version_get(struct version *v, const struct table_read_options *ro, const uint8_t *lookup,
                size_t lookup_len, int *type, buf *value)
{
    uint64_t hash = table_key_hash(lookup, ikey_user_len(lookup_len));
    struct version_probe p = VERSION_PROBE_INIT;
    struct file_meta *f;
    while ((f = version_probe_next(v, &p, lookup, lookup_len))) {
        table *t;
        int rc = file_meta_table(f, &t);
        if (rc) return rc;
        struct table_read_options lro = version_level_ro(ro, p.l);
        version_count_run(&p, &lro);
        rc = table_get(t, &lro, lookup, lookup_len, hash, type, value);
        table_unref(t);
        if (rc != LAMINA_NOTFOUND) return rc;
    }
    return LAMINA_NOTFOUND;
}

/* A lookup's state across the rounds of version_multi_get. */
struct version_mg {
    struct version_probe p;
    uint64_t hash;
    table *t; /* the table whose block is being fetched, with a reference */
    struct block_handle h;
    int done;
};

int version_multi_get(struct version *v, block_cache *cache, const struct table_read_options *ro,
                      struct version_lookup *lk, size_t n)
{
    struct version_mg *st = mem_calloc(n ? n : 1, sizeof(*st));
    struct block_fetch *reqs = mem_alloc((n ? n : 1) * sizeof(*reqs));
    size_t *owner = mem_alloc((n ? n : 1) * sizeof(*owner));
    if (!st || !reqs || !owner) {
        mem_free(st);
        mem_free(reqs);
        mem_free(owner);
        return err_set(LAMINA_ENOMEM, "multi_get: out of memory for %zu lookups", n);
    }
    for (size_t k = 0; k < n; k++) {
        st[k].p = (struct version_probe)VERSION_PROBE_INIT;
        st[k].hash = table_key_hash(lk[k].ikey, ikey_user_len(lk[k].ikey_len));
        lk[k].rc = LAMINA_NOTFOUND;
    }
    for (;;) {
        /* Each unanswered lookup finds the next block that may hold it. */
        size_t nreq = 0;
        for (size_t k = 0; k < n; k++) {
            struct version_mg *m = &st[k];
            while (!m->done) {
                struct file_meta *f = version_probe_next(v, &m->p, lk[k].ikey, lk[k].ikey_len);
                if (!f) {
                    m->done = 1;
                    break;
                }
                int rc = file_meta_table(f, &m->t);
                if (rc == 0) {
                    struct table_read_options lro = version_level_ro(ro, m->p.l);
                    version_count_run(&m->p, &lro);
                    rc = table_get_locate(m->t, &lro, lk[k].ikey, lk[k].ikey_len, m->hash, &m->h);
                    if (rc == TABLE_GET_DELETED) { /* a range tombstone of the table */
                        lk[k].type = IKEY_DELETION;
                        rc = 0;
                        table_unref(m->t);
                        m->t = NULL;
                        lk[k].rc = 0;
                        m->done = 1;
                        break;
                    }
                    if (rc == 0) {
                        table_block_request(m->t, &lro, m->h, &reqs[nreq]);
                        owner[nreq++] = k;
                        break;
                    }
                    table_unref(m->t);
                    m->t = NULL;
                }
                if (rc != LAMINA_NOTFOUND) {
                    lk[k].rc = rc;
                    m->done = 1;
                }
            }
        }
        if (nreq == 0) break;
        /* All their blocks at once; then each lookup searches its own. */
        block_fetch_batch(cache, reqs, nreq);
        for (size_t q = 0; q < nreq; q++) {
            size_t k = owner[q];
            struct version_mg *m = &st[k];
            int rc = reqs[q].rc;
            if (rc == 0) {
                struct table_read_options lro = version_level_ro(ro, m->p.l);
                if (!reqs[q].from_cache && lro.io) {
                    atomic_fetch_add_explicit(&lro.io->reads, 1, memory_order_relaxed);
                    atomic_fetch_add_explicit(&lro.io->bytes, m->h.size + BLOCK_TRAILER_SIZE,
                                              memory_order_relaxed);
                }
                rc = table_get_in_block(m->t, reqs[q].block, m->h, lk[k].ikey, lk[k].ikey_len,
                                        &lk[k].type, lk[k].value);
                if (rc == LAMINA_NOTFOUND) table_lookup_missed(m->t, &lro);
            }
            cache_block_release(reqs[q].block);
            table_unref(m->t);
            m->t = NULL;
            if (rc != LAMINA_NOTFOUND) {
                lk[k].rc = rc;
                m->done = 1;
            }
        }
    }
    mem_free(st);
    mem_free(reqs);
    mem_free(owner);
    return 0;
}

/* ---- Run iterator ----------------------------------------------------------------------- */

void run_bounded_files(const struct run *r, const struct table_read_options *ro, size_t *first,
                       size_t *end)
{
    size_t lo = 0, hi = r->nfiles;
    if (ro->lower) { /* first table whose largest user key is >= lower */
        size_t a = 0, b = r->nfiles;
        while (a < b) {
            size_t mid = a + (b - a) / 2;
            const struct file_meta *f = r->files[mid];
            if (ikey_user_cmp(f->largest, ikey_user_len(f->largest_len), ro->lower, ro->lower_len) <
                0)
                a = mid + 1;
            else
                b = mid;
        }
        lo = a;
    }
    if (ro->upper) { /* first table whose smallest user key is >= upper */
        size_t a = lo, b = r->nfiles;
        while (a < b) {
            size_t mid = a + (b - a) / 2;
            const struct file_meta *f = r->files[mid];
            if (ikey_user_cmp(f->smallest, ikey_user_len(f->smallest_len), ro->upper,
                              ro->upper_len) < 0)
                a = mid + 1;
            else
                b = mid;
        }
        hi = a;
    }
    *first = lo;
    *end = hi > lo ? hi : lo;
}

struct run_iter {
    iter base;
    const struct run *run;
    struct table_read_options ro;
    size_t first, end; /* the tables within the bounds: files[first .. end) */
    size_t idx;        /* file of cur; end when none */
    iter *cur;
    int status;
};

static void run_iter_close_cur(struct run_iter *it)
{
    iter_destroy(it->cur);
    it->cur = NULL;
    it->idx = it->end;
}

/* Opens the table iterator of file i (closing the previous one); none outside the bounds. */
static int run_iter_open(struct run_iter *it, size_t i)
{
    if (it->cur && it->idx == i) return 0;
    run_iter_close_cur(it);
    if (i < it->first || i >= it->end) return 0;
    table *t;
    int rc = file_meta_table(it->run->files[i], &t);
    if (rc) return it->status = rc;
    it->cur = table_iter_create(t, &it->ro); /* takes its own reference */
    table_unref(t);
    if (!it->cur) return it->status = err_set(LAMINA_ENOMEM, "run iterator: out of memory");
    it->idx = i;
    return 0;
}

static int run_iter_valid(const iter *base)
{
    const struct run_iter *it = (const struct run_iter *)base;
    return it->status == 0 && it->cur && iter_valid(it->cur);
}

/* Moves forward past exhausted tables, never onto one past the upper bound. */
static int run_iter_skip_forward(struct run_iter *it)
{
    while (it->cur && !iter_valid(it->cur)) {
        int rc = iter_status(it->cur);
        if (rc) return it->status = rc;
        size_t next = it->idx + 1;
        if (next >= it->end) {
            run_iter_close_cur(it);
            return 0;
        }
        if ((rc = run_iter_open(it, next))) return rc;
        if ((rc = iter_seek_to_first(it->cur))) return it->status = rc;
    }
    return 0;
}

static int run_iter_skip_backward(struct run_iter *it)
{
    while (it->cur && !iter_valid(it->cur)) {
        int rc = iter_status(it->cur);
        if (rc) return it->status = rc;
        if (it->idx <= it->first) {
            run_iter_close_cur(it);
            return 0;
        }
        if ((rc = run_iter_open(it, it->idx - 1))) return rc;
        if ((rc = iter_seek_to_last(it->cur))) return it->status = rc;
    }
    return 0;
}

static int run_iter_seek(iter *base, const uint8_t *k, size_t n)
{
    struct run_iter *it = (struct run_iter *)base;
    it->status = 0;
    size_t i = run_find(it->run, k, n);
    if (i < it->first) i = it->first;
    if (i >= it->end ||
        (it->ro.upper && ikey_user_cmp(k, ikey_user_len(n), it->ro.upper, it->ro.upper_len) >= 0)) {
        run_iter_close_cur(it);
        return 0;
    }
    int rc = run_iter_open(it, i);
    if (rc) return rc;
    if ((rc = iter_seek(it->cur, k, n))) return it->status = rc;
    return run_iter_skip_forward(it);
}

static int run_iter_seek_for_prev(iter *base, const uint8_t *k, size_t n)
{
    struct run_iter *it = (struct run_iter *)base;
    it->status = 0;
    size_t i = run_find(it->run, k, n);
    if (i >= it->end) i = it->end - 1;
    if (it->first >= it->end || i < it->first ||
        (it->ro.lower && ikey_user_cmp(k, ikey_user_len(n), it->ro.lower, it->ro.lower_len) < 0)) {
        run_iter_close_cur(it);
        return 0;
    }
    int rc = run_iter_open(it, i);
    if (rc) return rc;
    if ((rc = iter_seek_for_prev(it->cur, k, n))) return it->status = rc;
    return run_iter_skip_backward(it);
}

static int run_iter_seek_to_first(iter *base)
{
    struct run_iter *it = (struct run_iter *)base;
    it->status = 0;
    if (it->first >= it->end) return 0;
    int rc = run_iter_open(it, it->first);
    if (rc) return rc;
    if ((rc = iter_seek_to_first(it->cur))) return it->status = rc;
    return run_iter_skip_forward(it);
}

static int run_iter_seek_to_last(iter *base)
{
    struct run_iter *it = (struct run_iter *)base;
    it->status = 0;
    if (it->first >= it->end) return 0;
    int rc = run_iter_open(it, it->end - 1);
    if (rc) return rc;
    if ((rc = iter_seek_to_last(it->cur))) return it->status = rc;
    return run_iter_skip_backward(it);
}
static int run_iter_next(iter *base)
{
    struct run_iter *it = (struct run_iter *)base;
    int rc = iter_next(it->cur);
    if (rc) return it->status = rc;
    return run_iter_skip_forward(it);
}

static int run_iter_prev(iter *base)
{
    struct run_iter *it = (struct run_iter *)base;
    int rc = iter_prev(it->cur);
    if (rc) return it->status = rc;
    return run_iter_skip_backward(it);
}

static const uint8_t *run_iter_key(const iter *base, size_t *n)
{
    return iter_key(((const struct run_iter *)base)->cur, n);
}

static const uint8_t *run_iter_value(const iter *base, size_t *n)
{
    return iter_value(((const struct run_iter *)base)->cur, n);
}

static int run_iter_status(const iter *base)
{
    return ((const struct run_iter *)base)->status;
}

static void run_iter_destroy(iter *base)
{
    struct run_iter *it = (struct run_iter *)base;
    iter_destroy(it->cur);
    mem_free(it);
}

static const struct iter_ops run_iter_ops = {
    run_iter_seek,  run_iter_seek_for_prev, run_iter_seek_to_first, run_iter_seek_to_last,
    run_iter_next,  run_iter_prev,          run_iter_valid,         run_iter_key,
    run_iter_value, run_iter_status,        run_iter_destroy,
};

iter *run_iter_create(const struct run *r, const struct table_read_options *ro)
{
    struct run_iter *it = mem_calloc(1, sizeof(*it));
    if (!it) return NULL;
    it->base.ops = &run_iter_ops;
    it->run = r;
    it->ro = *ro;
    run_bounded_files(r, ro, &it->first, &it->end);
    it->idx = it->end;
    return &it->base;
}
