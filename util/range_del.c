/* range_del.c — range tombstones and their fragmentation (RocksDB's RangeDelAggregator and
 * FragmentedRangeTombstoneList, simplified): the boundaries of all tombstones cut the key space
 * into pieces, and each piece covered by some tombstone becomes a fragment carrying every
 * covering sequence number. */
#include "util/range_del.h"

#include <stdlib.h>
#include <string.h>

#include "lamina.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

void range_del_builder_init(range_del_builder *b)
{
    memset(b, 0, sizeof(*b));
}

void range_del_builder_free(range_del_builder *b)
{
    mem_free(b->v);
    buf_free(&b->keys);
    memset(b, 0, sizeof(*b));
}

int range_del_builder_add(range_del_builder *b, const void *begin, size_t begin_len,
                          const void *end, size_t end_len, uint64_t seq)
{
    if (ikey_user_cmp(begin, begin_len, end, end_len) >= 0) return 0;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        struct range_del_raw *v = mem_realloc(b->v, cap * sizeof(*v));
        if (!v) return err_set(LAMINA_ENOMEM, "range tombstones: out of memory");
        b->v = v;
        b->cap = cap;
    }
    size_t off = b->keys.len;
    if ((begin_len && buf_append(&b->keys, begin, begin_len)) ||
        (end_len && buf_append(&b->keys, end, end_len))) {
        b->keys.len = off;
        return err_set(LAMINA_ENOMEM, "range tombstones: out of memory");
    }
    b->v[b->n++] = (struct range_del_raw){off, begin_len, off + begin_len, end_len, seq};
    return 0;
}

int range_del_builder_add_list(range_del_builder *b, const range_del_list *l)
{
    for (size_t i = 0; l && i < l->n; i++) {
        const struct range_del_frag *f = &l->frags[i];
        for (size_t s = 0; s < f->nseqs; s++) {
            int rc =
                range_del_builder_add(b, f->begin, f->begin_len, f->end, f->end_len, f->seqs[s]);
            if (rc) return rc;
        }
    }
    return 0;
}

void range_del_list_free(range_del_list *l)
{
    if (!l) return;
    mem_free(l->frags);
    mem_free(l->seqs);
    mem_free(l->keys);
    mem_free(l);
}

struct rd_key {
    const uint8_t *p;
    size_t n;
};

struct rd_tomb {
    struct rd_key begin, end;
    uint64_t seq;
};

static int rd_key_cmp(const void *a, const void *b)
{
    const struct rd_key *x = a, *y = b;
    return ikey_user_cmp(x->p, x->n, y->p, y->n);
}

static int rd_tomb_cmp(const void *a, const void *b)
{
    const struct rd_tomb *x = a, *y = b;
    return ikey_user_cmp(x->begin.p, x->begin.n, y->begin.p, y->begin.n);
}

static int rd_seq_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

/* Fragment records before the pointers are fixed: offsets into the list's arrays. */
struct rd_frag {
    size_t begin, end; /* boundary indices */
    size_t seq_off, nseqs;
};

int range_del_builder_finish(range_del_builder *b, range_del_list **out)
{
    *out = NULL;
    size_t n = b->n, nb = 0, nf = 0, nseq = 0, cap_seq = 0, nactive = 0;
    struct rd_key *bd = mem_alloc((2 * n + 1) * sizeof(*bd));
    struct rd_tomb *t = mem_alloc((n + 1) * sizeof(*t));
    struct rd_frag *fr = mem_alloc((2 * n + 1) * sizeof(*fr));
    size_t *active = mem_alloc((n + 1) * sizeof(*active));
    size_t *bdoff = mem_alloc((2 * n + 1) * sizeof(*bdoff));
    uint64_t *seqs = NULL;
    range_del_list *l = mem_calloc(1, sizeof(*l));
    int rc = 0;
    if (!bd || !t || !fr || !active || !bdoff || !l) goto nomem;
    for (size_t i = 0; i < n; i++) {
        const struct range_del_raw *r = &b->v[i];
        t[i] = (struct rd_tomb){{b->keys.data + r->begin_off, r->begin_len},
                                {b->keys.data + r->end_off, r->end_len},
                                r->seq};
        bd[2 * i] = t[i].begin;
        bd[2 * i + 1] = t[i].end;
    }
    qsort(bd, 2 * n, sizeof(*bd), rd_key_cmp);
    for (size_t i = 0; i < 2 * n; i++)
        if (nb == 0 || rd_key_cmp(&bd[nb - 1], &bd[i]) != 0) bd[nb++] = bd[i];
    qsort(t, n, sizeof(*t), rd_tomb_cmp);
    /* Sweep the boundaries: the tombstones active on [bd[i], bd[i + 1]) begin at or before
     * bd[i] and end after it. */
    for (size_t i = 0, j = 0; i + 1 < nb; i++) {
        size_t keep = 0;
        for (size_t a = 0; a < nactive; a++)
            if (rd_key_cmp(&t[active[a]].end, &bd[i]) > 0) active[keep++] = active[a];
        nactive = keep;
        while (j < n && rd_key_cmp(&t[j].begin, &bd[i]) <= 0)
            active[nactive++] = j++;
        if (nactive == 0) continue;
        if (nseq + nactive > cap_seq) {
            size_t c = cap_seq ? 2 * cap_seq : 64;
            while (c < nseq + nactive)
                c *= 2;
            uint64_t *s = mem_realloc(seqs, c * sizeof(*s));
            if (!s) goto nomem;
            seqs = s;
            cap_seq = c;
        }
        uint64_t *s = seqs + nseq;
        for (size_t a = 0; a < nactive; a++)
            s[a] = t[active[a]].seq;
        qsort(s, nactive, sizeof(*s), rd_seq_desc);
        size_t ns = 0;
        for (size_t a = 0; a < nactive; a++)
            if (ns == 0 || s[ns - 1] != s[a]) s[ns++] = s[a];
        /* A piece that continues the previous fragment with the same tombstones joins it. */
        if (nf && fr[nf - 1].end == i && fr[nf - 1].nseqs == ns &&
            memcmp(seqs + fr[nf - 1].seq_off, s, ns * sizeof(*s)) == 0) {
            fr[nf - 1].end = i + 1;
            continue;
        }
        fr[nf++] = (struct rd_frag){i, i + 1, nseq, ns};
        nseq += ns;
    }
    /* Own copies of the boundaries fragments use, and the final fragment array. */
    size_t kbytes = 0;
    for (size_t i = 0; i < nb; i++) {
        bdoff[i] = kbytes;
        kbytes += bd[i].n;
    }
    l->keys = mem_alloc(kbytes ? kbytes : 1);
    l->frags = mem_alloc((nf ? nf : 1) * sizeof(*l->frags));
    if (!l->keys || !l->frags) goto nomem;
    for (size_t i = 0; i < nb; i++)
        if (bd[i].n) memcpy(l->keys + bdoff[i], bd[i].p, bd[i].n);
    l->seqs = seqs;
    seqs = NULL;
    for (size_t i = 0; i < nf; i++)
        l->frags[i] = (struct range_del_frag){l->keys + bdoff[fr[i].begin],
                                              l->keys + bdoff[fr[i].end],
                                              bd[fr[i].begin].n,
                                              bd[fr[i].end].n,
                                              l->seqs ? l->seqs + fr[i].seq_off : NULL,
                                              fr[i].nseqs};
    l->n = nf;
    l->ntombstones = n;
    *out = l;
    l = NULL;
    b->n = 0;
    buf_clear(&b->keys);
    goto out;
nomem:
    rc = err_set(LAMINA_ENOMEM, "range tombstones: out of memory fragmenting %zu", n);
out:
    range_del_list_free(l);
    mem_free(seqs);
    mem_free(bd);
    mem_free(t);
    mem_free(fr);
    mem_free(active);
    mem_free(bdoff);
    return rc;
}

size_t range_del_lower_bound(const range_del_list *l, const void *k, size_t klen)
{
    size_t lo = 0, hi = l ? l->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct range_del_frag *f = &l->frags[mid];
        if (ikey_user_cmp(f->end, f->end_len, k, klen) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct range_del_frag *range_del_find(const range_del_list *l, const void *k, size_t klen)
{
    if (!l || l->n == 0) return NULL;
    size_t i = range_del_lower_bound(l, k, klen);
    if (i == l->n) return NULL;
    const struct range_del_frag *f = &l->frags[i];
    return ikey_user_cmp(f->begin, f->begin_len, k, klen) <= 0 ? f : NULL;
}

uint64_t range_del_max_seq(const range_del_list *l, const void *k, size_t klen, uint64_t read_seq)
{
    const struct range_del_frag *f = range_del_find(l, k, klen);
    if (!f) return 0;
    for (size_t s = 0; s < f->nseqs; s++)
        if (f->seqs[s] <= read_seq) return f->seqs[s];
    return 0;
}
