/* merge.c — the merge job shared by flush and compaction: it walks merged input in internal-key
 * order, keeps per user key the newest version of each snapshot stripe (the garbage rule of
 * LevelDB/RocksDB compaction), and writes the survivors as tables cut at a target size. */
#include <stdlib.h>
#include <string.h>

#include "compaction/compaction.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* The output table being written. */
struct merge_out {
    wfile *f;
    table_builder *b;
    uint64_t file_number;
    uint64_t smallest_seq, largest_seq;
};

/* Stripe of a sequence number: the index of the oldest snapshot that sees it, or nsnapshots
 * when no snapshot does. Two versions of a key in one stripe are indistinguishable to every
 * reader, so only the newer one is kept. */
static size_t merge_stripe(const struct merge_job *job, uint64_t seq)
{
    size_t lo = 0, hi = job->nsnapshots;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (job->snapshots[mid] >= seq)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Whether a range tombstone of the inputs deletes the point entry (k, seq) for every reader:
 * one newer than seq in seq's snapshot stripe covers k (RocksDB's rule). */
static int merge_covered(const struct merge_job *job, const uint8_t *k, size_t ulen, uint64_t seq,
                         size_t stripe)
{
    const struct range_del_frag *f = range_del_find(job->range_dels, k, ulen);
    if (!f) return 0;
    /* seqs are newest first: the oldest one above seq is in the lowest stripe that can match. */
    size_t i = 0;
    while (i < f->nseqs && f->seqs[i] > seq)
        i++;
    return i > 0 && merge_stripe(job, f->seqs[i - 1]) == stripe;
}

/* Where the range tombstones stand: the next fragment to write and the user key from which
 * the current output owns the key space (NULL: from the job's lower bound). */
struct merge_rd {
    size_t next;
    buf from;
    int has_from;
};

/* Adds to builder b the tombstones of fragments in [from, limit) (limit NULL: to the end),
 * clipped to that range, keeping per fragment the newest sequence number of each snapshot
 * stripe, none of stripe 0 when drop_tombstones. With b NULL, only says (1) whether there is
 * one to add. Leaves rd->next at the first fragment reaching past limit. */
static int merge_add_range_dels(struct merge_job *job, struct merge_rd *rd, table_builder *b,
                                const uint8_t *limit, size_t limit_len)
{
    const range_del_list *l = job->range_dels;
    const uint8_t *from = rd->has_from ? rd->from.data : job->lower;
    size_t from_len = rd->has_from ? rd->from.len : job->lower_len;
    size_t i = rd->next;
    if (from && i == 0) i = range_del_lower_bound(l, from, from_len);
    for (; l && i < l->n; i++) {
        const struct range_del_frag *f = &l->frags[i];
        if (limit && ikey_user_cmp(f->begin, f->begin_len, limit, limit_len) >= 0) break;
        const uint8_t *lo = f->begin, *hi = f->end;
        size_t lo_len = f->begin_len, hi_len = f->end_len;
        if (from && ikey_user_cmp(lo, lo_len, from, from_len) < 0) {
            lo = from;
            lo_len = from_len;
        }
        int past = limit && ikey_user_cmp(hi, hi_len, limit, limit_len) > 0;
        if (past) {
            hi = limit;
            hi_len = limit_len;
        }
        if (ikey_user_cmp(lo, lo_len, hi, hi_len) < 0) {
            size_t last_stripe = SIZE_MAX;
            for (size_t s = 0; s < f->nseqs; s++) {
                size_t st = merge_stripe(job, f->seqs[s]);
                if (st == last_stripe || (job->drop_tombstones && st == 0)) continue;
                last_stripe = st;
                if (!b) return 1;
                int rc = table_builder_add_range_del(b, lo, lo_len, hi, hi_len, f->seqs[s]);
                if (rc) return rc;
            }
        }
        if (past) break;
    }
    if (b) rd->next = i;
    return 0;
}

/* The current output is closed before user key n (NULL: at the job's end): it takes the
 * tombstones up to n, and the next output owns the key space from n. */
static int merge_output_range_dels(struct merge_job *job, struct merge_rd *rd, table_builder *b,
                                   const uint8_t *n, size_t n_len)
{
    if (!job->range_dels) return 0;
    const uint8_t *limit = n ? n : job->upper;
    size_t limit_len = n ? n_len : job->upper_len;
    int rc = merge_add_range_dels(job, rd, b, limit, limit_len);
    if (rc || !n) return rc;
    buf_clear(&rd->from);
    rd->has_from = 1;
    return buf_append(&rd->from, n, n_len) ? err_set(LAMINA_ENOMEM, "merge: out of memory") : 0;
}

static int merge_outputs_push(struct merge_job *job, const struct table_meta *m)
{
    struct table_meta *o = mem_realloc(job->outputs, (job->noutputs + 1) * sizeof(*o));
    if (!o) return err_set(LAMINA_ENOMEM, "merge: growing the output list");
    job->outputs = o;
    job->outputs[job->noutputs++] = *m;
    return 0;
}

static int merge_open_output(struct merge_job *job, struct merge_out *out)
{
    int rc = job->new_file(job->ctx, &out->file_number, &out->f);
    if (rc) return rc;
    out->b = table_builder_create(out->f, out->file_number, &job->table_opts);
    if (!out->b) {
        wfile_close(out->f);
        out->f = NULL;
        /* The caller allocated the file: list it so that it is deleted. */
        struct table_meta m = {.file_number = out->file_number};
        merge_outputs_push(job, &m);
        return err_set(LAMINA_ENOMEM, "merge: table builder for file %llu",
                       (unsigned long long)out->file_number);
    }
    out->smallest_seq = UINT64_MAX;
    out->largest_seq = 0;
    return 0;
}

static int merge_copy_key(uint8_t **dst, size_t *dst_len, const uint8_t *k, size_t n)
{
    *dst = mem_alloc(n ? n : 1);
    if (!*dst) return err_set(LAMINA_ENOMEM, "merge: copying a fence key");
    memcpy(*dst, k, n);
    *dst_len = n;
    return 0;
}

/* Finishes, syncs and closes the current output and lists it. The file is listed even when
 * this fails, so that the caller deletes it. */
static int merge_close_output(struct merge_job *job, struct merge_out *out, const uint8_t *first,
                              size_t first_len, const uint8_t *last, size_t last_len)
{
    struct table_meta m;
    memset(&m, 0, sizeof(m));
    int rc = table_builder_finish(out->b, &m);
    table_builder_destroy(out->b);
    out->b = NULL;
    if (!rc) rc = wfile_sync(out->f);
    int crc = wfile_close(out->f);
    out->f = NULL;
    if (!rc) rc = crc;
    m.file_number = out->file_number;
    if (!rc) {
        if (!m.smallest) rc = merge_copy_key(&m.smallest, &m.smallest_len, first, first_len);
        if (!rc && !m.largest) rc = merge_copy_key(&m.largest, &m.largest_len, last, last_len);
        /* The builder's figures count the range tombstones too. */
        if (out->smallest_seq < m.smallest_seq) m.smallest_seq = out->smallest_seq;
        if (out->largest_seq > m.largest_seq) m.largest_seq = out->largest_seq;
        job->bytes_written += m.file_size;
    }
    int prc = merge_outputs_push(job, &m);
    if (prc) table_meta_free(&m);
    return rc ? rc : prc;
}

/* Where the output stands against the grandparents (LevelDB's ShouldStopBefore). */
struct merge_gp {
    size_t idx;       /* first grandparent whose largest key is >= the current key */
    uint64_t overlap; /* grandparent bytes the current output overlaps */
};

/* Advances past the grandparents that end before user key k, counting those the current
 * output overlaps; 1 when it has overlapped more than the job allows, so the output is cut
 * before k. */
static int merge_grandparent_full(const struct merge_job *job, struct merge_gp *gp,
                                  const uint8_t *k, size_t ulen, int have_output)
{
    while (gp->idx < job->ngp &&
           ikey_user_cmp(k, ulen, job->gp_largest[gp->idx], job->gp_largest_len[gp->idx]) > 0) {
        if (have_output) gp->overlap += job->gp_size[gp->idx];
        gp->idx++;
    }
    return job->max_grandparent_overlap && gp->overlap > job->max_grandparent_overlap;
}

int merge_job_run(struct merge_job *job)
{
    struct merge_out out = {0};
    struct merge_gp gp = {0, 0};
    uint64_t checked = 0;
    buf ukey = {0};  /* user key of the group being read */
    buf first = {0}; /* first internal key of the current output */
    buf last = {0};  /* last internal key added to the current output */
    size_t prev_stripe = 0;
    int dropping = 0; /* the rest of this user key is shadowed by a dropped tombstone */
    int in_group = 0;
    struct merge_rd rd = {0, {0}, 0};
    int rc;

    job->outputs = NULL;
    job->noutputs = 0;
    job->bytes_read = job->bytes_written = job->entries_dropped = 0;

    if (job->lower) {
        /* The lower bound's user key with the largest trailer: before all its versions. */
        if (buf_reserve(&ukey, job->lower_len + IKEY_TRAILER)) {
            rc = err_set(LAMINA_ENOMEM, "merge: out of memory");
            goto out;
        }
        ikey_encode(ukey.data, job->lower, job->lower_len, IKEY_MAX_SEQ, IKEY_VALUE);
        rc = iter_seek(job->input, ukey.data, job->lower_len + IKEY_TRAILER);
        buf_clear(&ukey);
    } else {
        rc = iter_seek_to_first(job->input);
    }
    if (rc) goto out;
    for (; rc == 0 && iter_valid(job->input); rc = iter_next(job->input)) {
        /* Every 1024 entries from the first, kept or dropped: a flag raised before the run
         * stops it at once, and a run dropping all it reads still stops. */
        if (job->cancel && (checked++ & 1023) == 0 && atomic_load(job->cancel)) {
            rc = MERGE_CANCELLED;
            goto out;
        }
        size_t klen, vlen;
        const uint8_t *k = iter_key(job->input, &klen);
        const uint8_t *v = iter_value(job->input, &vlen);
        if (klen < IKEY_TRAILER) {
            rc = err_set(LAMINA_ECORRUPT, "merge: internal key of %zu bytes in the input", klen);
            goto out;
        }
        size_t ulen = ikey_user_len(klen);
        if (job->upper && ikey_user_cmp(k, ulen, job->upper, job->upper_len) >= 0) break;
        job->bytes_read += klen + vlen;
        uint64_t seq = ikey_seq(k, klen);
        size_t stripe = merge_stripe(job, seq);

        int new_key = !in_group || ikey_user_cmp(k, ulen, ukey.data, ukey.len) != 0;
        if (new_key) {
            buf_clear(&ukey);
            rc = buf_append(&ukey, k, ulen);
            if (rc) goto out;
            in_group = 1;
            dropping = 0;
        } else if (dropping || stripe == prev_stripe) {
            /* Shadowed by a newer version that every reader of this stripe sees first. */
            prev_stripe = stripe;
            job->entries_dropped++;
            continue;
        }
        prev_stripe = stripe;

        if (job->range_dels && merge_covered(job, k, ulen, seq, stripe)) {
            /* Deleted by a range tombstone for every reader that sees it: older versions of
             * the stripe go with it (prev_stripe), older stripes are judged on their own. */
            job->entries_dropped++;
            continue;
        }

        if (job->drop_tombstones && stripe == 0 && ikey_type(k, klen) == IKEY_DELETION) {
            /* The newest version visible to the oldest reader is a deletion and nothing older
             * exists below the output: the tombstone and all it shadows can go. */
            dropping = 1;
            job->entries_dropped++;
            continue;
        }

        /* Cut only between user keys, so that one key's versions never span two tables. */
        int gp_full = new_key && merge_grandparent_full(job, &gp, k, ulen, out.b != NULL);
        if (out.b && new_key && (gp_full || table_builder_size(out.b) >= job->target_file_size)) {
            rc = merge_output_range_dels(job, &rd, out.b, k, ulen);
            if (rc == 0)
                rc = merge_close_output(job, &out, first.data, first.len, last.data, last.len);
            if (rc) goto out;
            gp.overlap = 0;
        }
        if (!out.b) {
            rc = merge_open_output(job, &out);
            if (rc) goto out;
            buf_clear(&first);
            rc = buf_append(&first, k, klen);
            if (rc) goto out;
        }
        rc = table_builder_add(out.b, k, klen, v, vlen);
        if (rc) goto out;
        buf_clear(&last);
        rc = buf_append(&last, k, klen);
        if (rc) goto out;
        if (seq < out.smallest_seq) out.smallest_seq = seq;
        if (seq > out.largest_seq) out.largest_seq = seq;
    }
    if (rc) goto out;
    rc = iter_status(job->input);
    if (rc) goto out;
    /* Tombstones past the last point entry (or with none at all) still need a table. */
    if (!out.b && job->range_dels &&
        (rc = merge_add_range_dels(job, &rd, NULL, job->upper, job->upper_len)) == 1)
        rc = merge_open_output(job, &out);
    if (rc) goto out;
    if (out.b) rc = merge_output_range_dels(job, &rd, out.b, NULL, 0);
    if (rc == 0 && out.b)
        rc = merge_close_output(job, &out, first.data, first.len, last.data, last.len);

out:
    if (out.b) {
        /* Abandoned mid-table: list the file so that the caller deletes it. */
        struct table_meta m = {.file_number = out.file_number, .file_size = wfile_size(out.f)};
        table_builder_destroy(out.b);
        wfile_close(out.f);
        merge_outputs_push(job, &m);
    }
    buf_free(&ukey);
    buf_free(&first);
    buf_free(&last);
    buf_free(&rd.from);
    return rc;
}

void merge_job_free(struct merge_job *job)
{
    for (size_t i = 0; i < job->noutputs; i++)
        table_meta_free(&job->outputs[i]);
    mem_free(job->outputs);
    job->outputs = NULL;
    job->noutputs = 0;
}
