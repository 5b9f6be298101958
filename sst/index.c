/* index.c — the table index interface (sst/index.h): separator choice for both table formats,
 * and the choice of index kind from a table's footer. */
#include <string.h>

#include "lamina.h"
#include "sst/index.h"
#include "util/err.h"
#include "util/ikey.h"

/* ---- Separators ----------------------------------------------------------------------- */

/* Sets out to the separator whose user key is u (ulen bytes; its last byte plus bump): in
 * internal-key form, with the largest trailer so that it sorts before every version of u. */
static int index_put(buf *out, int user_keys, const uint8_t *u, size_t ulen, int bump)
{
    buf_clear(out);
    if (buf_append(out, u, ulen)) return err_set(LAMINA_ENOMEM, "table builder: out of memory");
    out->data[ulen - 1] = (uint8_t)(out->data[ulen - 1] + bump);
    if (!user_keys) {
        uint8_t t[IKEY_TRAILER];
        coding_put_fixed64(t, ikey_pack(IKEY_MAX_SEQ, IKEY_VALUE));
        if (buf_append(out, t, sizeof(t)))
            return err_set(LAMINA_ENOMEM, "table builder: out of memory");
    }
    return 0;
}

/* last itself, in the separator form. */
static int index_put_last(buf *out, int user_keys, const uint8_t *last, size_t llen)
{
    buf_clear(out);
    size_t n = user_keys ? ikey_user_len(llen) : llen;
    if (buf_append(out, last, n)) return err_set(LAMINA_ENOMEM, "table builder: out of memory");
    return 0;
}

/* The shortest key s > last's user key (lu bytes) made by bumping one byte of it at or after
 * from and cutting it there; returns 0 (out unchanged) when every such byte is 0xff. */
static int index_bump_from(buf *out, int user_keys, const uint8_t *last, size_t lu, size_t from,
                           int *done)
{
    *done = 0;
    for (size_t i = from; i < lu; i++) {
        if (last[i] != 0xff) {
            if (i + 1 == lu) return 0; /* no shorter than last itself */
            *done = 1;
            return index_put(out, user_keys, last, i + 1, 1);
        }
    }
    return 0;
}

int index_separator(buf *out, int user_keys, const uint8_t *last, size_t llen,
                    const uint8_t *next, size_t nlen)
{
    size_t lu = ikey_user_len(llen), nu = ikey_user_len(nlen);
    size_t n = lu < nu ? lu : nu, diff = 0;
    while (diff < n && last[diff] == next[diff])
        diff++;
    /* Any s with last.user <= s < next.user separates the blocks; the shortest has diff + 1
     * bytes: next's prefix when it is a proper one (next[diff] > last[diff]), else last's
     * prefix with its byte at diff bumped when that stays below next's. A user key s > last's
     * sorts after every version of last, and the largest trailer puts it before every version
     * of s (format 1). */
    if (diff < lu) {
        if (diff + 1 < nu) return index_put(out, user_keys, next, diff + 1, 0);
        if (last[diff] + 1 < next[diff]) return index_put(out, user_keys, last, diff + 1, 1);
        int done, rc = index_bump_from(out, user_keys, last, lu, diff + 1, &done);
        if (rc || done) return rc;
    }
    return index_put_last(out, user_keys, last, llen);
}

int index_successor(buf *out, int user_keys, const uint8_t *last, size_t llen)
{
    int done, rc = index_bump_from(out, user_keys, last, ikey_user_len(llen), 0, &done);
    if (rc || done) return rc;
    return index_put_last(out, user_keys, last, llen);
}

int index_sep_cmp(int user_keys, const uint8_t *ikey, size_t len, const uint8_t *sep, size_t slen)
{
    if (user_keys) return ikey_user_cmp(ikey, ikey_user_len(len), sep, slen);
    return ikey_cmp(ikey, len, sep, slen);
}

/* ---- Kinds ---------------------------------------------------------------------------- */

static const struct index_ops *index_kind_ops(unsigned kind)
{
    switch (kind) {
    case LAMINA_INDEX_BTREE: return &btree_index_ops;
    case LAMINA_INDEX_FST: return &fst_index_ops;
    default: return NULL;
    }
}

int index_builder_init(struct index_builder *ib, int kind, struct block_writer *w,
                       size_t block_size)
{
    memset(ib, 0, sizeof(*ib));
    switch (kind) {
    case LAMINA_INDEX_BTREE:
        ib->ops = &btree_index_builder_ops;
        btree_builder_init(&ib->u.bt, w, block_size);
        return 0;
    case LAMINA_INDEX_FST: return fst_index_builder_init(ib, w);
    default: return err_set(LAMINA_EINVAL, "table builder: unknown index kind %d", kind);
    }
}

int index_builder_finish(struct index_builder *ib, struct table_footer *ft)
{
    ft->index_kind = (uint8_t)ib->ops->kind;
    return ib->ops->finish(ib, ft);
}

void index_builder_free(struct index_builder *ib)
{
    if (ib->ops) ib->ops->free(ib);
}

int index_open(struct index_reader *r, const struct block_source *src, block_cache *cache,
               const struct table_footer *ft, int pin)
{
    memset(r, 0, sizeof(*r));
    r->ops = index_kind_ops(ft->index_kind);
    if (!r->ops)
        return err_set(LAMINA_ECORRUPT, "%s: unknown index kind %u", src->path,
                       (unsigned)ft->index_kind);
    r->user_keys = ft->format_version >= 2;
    return r->ops->open(r, src, cache, ft, pin);
}

void index_close(struct index_reader *r)
{
    if (r->ops) r->ops->close(r);
}

int index_verify(const struct block_source *src, const struct table_footer *ft,
                 int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h),
                 void *ctx)
{
    const struct index_ops *ops = index_kind_ops(ft->index_kind);
    if (!ops)
        return err_set(LAMINA_ECORRUPT, "%s: unknown index kind %u", src->path,
                       (unsigned)ft->index_kind);
    return ops->verify(src, ft, ft->format_version >= 2, fn, ctx);
}
