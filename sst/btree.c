/* btree.c — the B-tree table index: leaf index blocks map separators to data block handles;
 * when the leaf level outgrows one block, inner levels map each child block's last separator
 * to its handle. Built in one pass with one open block per level (O(levels x fanout) memory),
 * like the bottom-up bulk loading of a B+-tree; searched through decoded nodes that the block
 * cache holds (each node shares its cache block with the index block's contents). */
#include <stdlib.h>
#include <string.h>

#include "sst/btree.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* Index entries are whole keys (restart interval 1), so a node's keys are used in place. */
#define INDEX_RESTART_INTERVAL 1

/* ---- Separators ----------------------------------------------------------------------- */

static int index_short_key(buf *out, const uint8_t *ukey, size_t ulen)
{
    uint8_t t[IKEY_TRAILER];
    coding_put_fixed64(t, ikey_pack(IKEY_MAX_SEQ, IKEY_VALUE));
    buf_clear(out);
    if (buf_append(out, ukey, ulen) || buf_append(out, t, sizeof(t)))
        return err_set(LAMINA_ENOMEM, "table builder: out of memory");
    return 0;
}

static int index_copy_key(buf *out, const uint8_t *k, size_t len)
{
    buf_clear(out);
    if (buf_append(out, k, len)) return err_set(LAMINA_ENOMEM, "table builder: out of memory");
    return 0;
}

int index_separator(buf *out, const uint8_t *last, size_t llen, const uint8_t *next, size_t nlen)
{
    size_t lu = ikey_user_len(llen), nu = ikey_user_len(nlen);
    size_t n = lu < nu ? lu : nu, diff = 0;
    while (diff < n && last[diff] == next[diff])
        diff++;
    /* A shorter user key u with last.user < u < next.user exists when the first differing
     * byte of last can grow by one and stay below next's byte; u then sorts after every
     * version of last's user key, and the max trailer keeps u before every version of u. */
    if (diff < n && last[diff] < 0xff && last[diff] + 1 < next[diff] && diff + 1 < lu) {
        int rc = index_short_key(out, last, diff + 1);
        if (rc) return rc;
        out->data[diff]++;
        return 0;
    }
    return index_copy_key(out, last, llen);
}

int index_successor(buf *out, const uint8_t *last, size_t llen)
{
    size_t lu = ikey_user_len(llen);
    for (size_t i = 0; i < lu; i++) {
        if (last[i] != 0xff) {
            if (i + 1 == lu) break; /* no shorter: keep the key as it is */
            int rc = index_short_key(out, last, i + 1);
            if (rc) return rc;
            out->data[i]++;
            return 0;
        }
    }
    return index_copy_key(out, last, llen);
}

/* ---- Builder -------------------------------------------------------------------------- */

void index_builder_init(struct index_builder *ib, struct block_writer *w, size_t block_size)
{
    memset(ib, 0, sizeof(*ib));
    ib->w = w;
    ib->block_size = block_size;
    ib->nlevels = 1;
    for (int i = 0; i < INDEX_MAX_LEVELS; i++)
        block_builder_init(&ib->level[i].bb, INDEX_RESTART_INTERVAL);
}

void index_builder_free(struct index_builder *ib)
{
    for (int i = 0; i < INDEX_MAX_LEVELS; i++)
        block_builder_free(&ib->level[i].bb);
}

static int index_level_add(struct index_builder *ib, int lvl, const uint8_t *key, size_t len,
                           struct block_handle h);

/* Writes level lvl's open block and pushes its last separator + handle one level up. */
static int index_level_flush(struct index_builder *ib, int lvl)
{
    struct block_builder *bb = &ib->level[lvl].bb;
    struct block_handle h;
    int rc = block_builder_finish(bb);
    if (rc) return rc;
    rc = block_writer_write(ib->w, &bb->data, 1, &h);
    if (rc) return rc;
    ib->bytes += h.size + BLOCK_TRAILER_SIZE;
    ib->level[lvl].emitted = 1;
    rc = index_level_add(ib, lvl + 1, bb->last_key.data, bb->last_key.len, h);
    if (rc) return rc;
    block_builder_reset(bb);
    return 0;
}

static int index_level_add(struct index_builder *ib, int lvl, const uint8_t *key, size_t len,
                           struct block_handle h)
{
    if (lvl >= INDEX_MAX_LEVELS)
        return err_set(LAMINA_EINVAL, "table builder: index deeper than %d levels",
                       INDEX_MAX_LEVELS);
    if (lvl >= ib->nlevels) ib->nlevels = lvl + 1;
    struct block_builder *bb = &ib->level[lvl].bb;
    /* Two entries at least per block, so each level is at most half the one below and the
     * tree ends in one root even for keys longer than a block. */
    if (bb->entries >= 2 && block_builder_size(bb) + len + BLOCK_HANDLE_MAX + 3 > ib->block_size) {
        int rc = index_level_flush(ib, lvl);
        if (rc) return rc;
    }
    uint8_t v[BLOCK_HANDLE_MAX];
    size_t vlen = block_handle_encode(v, h);
    return block_builder_add(bb, key, len, v, vlen);
}

int index_builder_add(struct index_builder *ib, const uint8_t *sep, size_t len,
                      struct block_handle h)
{
    return index_level_add(ib, 0, sep, len, h);
}

int index_builder_finish(struct index_builder *ib, struct block_handle *root, int *levels)
{
    for (int lvl = 0; lvl < INDEX_MAX_LEVELS; lvl++) {
        struct block_builder *bb = &ib->level[lvl].bb;
        if (!ib->level[lvl].emitted && lvl == ib->nlevels - 1) {
            int rc = block_builder_finish(bb);
            if (rc) return rc;
            rc = block_writer_write(ib->w, &bb->data, 1, root);
            if (rc) return rc;
            ib->bytes += root->size + BLOCK_TRAILER_SIZE;
            *levels = lvl + 1;
            return 0;
        }
        if (!block_builder_empty(bb)) {
            int rc = index_level_flush(ib, lvl);
            if (rc) return rc;
        }
    }
    return err_set(LAMINA_EINVAL, "table builder: index deeper than %d levels", INDEX_MAX_LEVELS);
}

/* ---- Nodes ---------------------------------------------------------------------------- */

static int index_corrupt(const struct block_source *src, struct block_handle h, const char *what)
{
    return err_set(LAMINA_ECORRUPT, "%s: index block at offset %llu: %s", src->path,
                   (unsigned long long)h.offset, what);
}

/* The 8 bytes of user key k (ulen bytes) from offset from on, big-endian, zero padded. */
static inline uint64_t index_key_word(const uint8_t *k, size_t ulen, size_t from)
{
    if (ulen >= from + 8) return coding_get_be64(k + from);
    uint64_t w = 0;
    for (size_t i = from; i < from + 8; i++)
        w = (w << 8) | (i < ulen ? k[i] : 0);
    return w;
}

/* Fills prefix_len and pfx (see struct index_node): sorted keys all share the common prefix
 * of the first and the last. */
static void index_node_prefixes(struct index_node *nd)
{
    nd->prefix_len = 0;
    if (nd->n == 0) return;
    size_t l0, l1;
    const uint8_t *k0 = index_node_key(nd, 0, &l0), *k1 = index_node_key(nd, nd->n - 1, &l1);
    size_t u0 = ikey_user_len(l0), u1 = ikey_user_len(l1), m = u0 < u1 ? u0 : u1, cp = 0;
    while (cp < m && k0[cp] == k1[cp])
        cp++;
    nd->prefix_len = (uint32_t)cp;
    memcpy(nd->prefix_head, k0, cp < INDEX_PREFIX_HEAD ? cp : INDEX_PREFIX_HEAD);
    for (uint32_t i = 0; i < nd->n; i++) {
        size_t len;
        const uint8_t *k = index_node_key(nd, i, &len);
        nd->ent[i].pfx = index_key_word(k, ikey_user_len(len), cp);
    }
}

/* Decodes the index block at h, whose contents are raw->data[0..raw->size), into a new cache
 * block of kind CACHE_BLOCK_INDEX (one reference, in no cache) that holds a copy of the
 * contents followed by the node, so the cache charges both. */
static int index_node_decode(const struct block_source *src, struct block_handle h,
                             const struct cache_block *raw, struct cache_block **out)
{
    *out = NULL;
    struct block b;
    if (block_parse(&b, raw->data, raw->size)) return index_corrupt(src, h, "bad restart array");
    uint32_t n = b.restarts_off == 0 ? 0 : b.nrestarts; /* an empty block keeps restart 0 */
    size_t off = index_node_offset(raw->size);
    size_t cap = off + sizeof(struct index_node) +
                 (size_t)n * (sizeof(struct index_entry) + 2 * sizeof(uint32_t));
    struct cache_block *cb = cache_block_alloc(cap);
    if (!cb) return err_set(LAMINA_ENOMEM, "%s: out of memory loading an index block", src->path);
    memcpy(cb->data, raw->data, raw->size);
    cb->size = raw->size;
    cb->kind = CACHE_BLOCK_INDEX;
    block_parse(&b, cb->data, cb->size); /* the same shape, over the copy */
    struct index_node *nd = (struct index_node *)(void *)(cb->data + off);
    memset(nd, 0, sizeof(*nd));
    nd->n = n;
    nd->data = cb->data;
    uint8_t *p = (uint8_t *)(nd + 1);
    nd->ent = (struct index_entry *)(void *)p;
    p += (size_t)n * sizeof(struct index_entry);
    nd->key_off = (uint32_t *)(void *)p;
    nd->key_len = nd->key_off + n;
    /* Entries must be whole keys at consecutive restart points, in increasing order. */
    int rc = 0;
    uint32_t koff = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t shared, next;
        const uint8_t *k, *v;
        size_t klen, vlen;
        if (coding_get_fixed32(b.data + b.restarts_off + 4 * (size_t)i) != koff ||
            block_entry_at(&b, koff, &shared, &k, &klen, &v, &vlen, &next) || shared != 0 ||
            klen < IKEY_TRAILER || block_handle_decode(v, v + vlen, &nd->ent[i].h)) {
            rc = index_corrupt(src, h, "bad index entry");
            goto fail;
        }
        nd->key_off[i] = (uint32_t)(k - b.data);
        nd->key_len[i] = (uint32_t)klen;
        if (i > 0) {
            size_t plen;
            const uint8_t *pk = index_node_key(nd, i - 1, &plen);
            if (ikey_cmp(pk, plen, k, klen) >= 0) {
                rc = index_corrupt(src, h, "separators out of order");
                goto fail;
            }
        }
        koff = next;
    }
    if (koff != b.restarts_off) {
        rc = index_corrupt(src, h, "bytes after the last entry");
        goto fail;
    }
    index_node_prefixes(nd);
    *out = cb;
    return 0;
fail:
    cache_block_release(cb);
    return rc;
}

/* Reads the index block at h afresh (checksum verified) and decodes it; not cached. */
static int index_node_read(const struct block_source *src, struct block_handle h,
                           struct cache_block **out)
{
    struct cache_block *raw;
    int rc = block_read(src, h, 1, &raw);
    if (rc) return rc;
    rc = index_node_decode(src, h, raw, out);
    cache_block_release(raw);
    return rc;
}

/* The decoded index block at h with a new reference: from the block cache, else read, decoded
 * and (with fill) offered to it. */
static int index_fetch(struct index_reader *r, struct block_handle h, int fill,
                       struct cache_block **out)
{
    struct cache_block *cb = block_cache_lookup(r->cache, r->src.file_number, h.offset);
    if (cb && cb->kind == CACHE_BLOCK_INDEX) {
        *out = cb;
        return 0;
    }
    int rc;
    if (cb) {
        /* The cache holds these contents as another kind (a damaged index pointed a data
         * handle here): decode a private copy and leave the cache's block alone. */
        rc = index_node_decode(&r->src, h, cb, out);
        cache_block_release(cb);
        return rc;
    }
    rc = index_node_read(&r->src, h, &cb);
    if (rc) return rc;
    if (fill) block_cache_insert(r->cache, r->src.file_number, h.offset, cb);
    *out = cb;
    return 0;
}

/* The root, with *owned set when the caller holds a reference to release; a pinned root is
 * lent without one (the reader keeps it until index_close). */
static int index_root(struct index_reader *r, int fill, struct cache_block **out, int *owned)
{
    struct cache_block *cb = atomic_load_explicit(&r->pinned, memory_order_acquire);
    *owned = 0;
    if (cb) {
        *out = cb;
        return 0;
    }
    int rc = index_fetch(r, r->root, fill, &cb);
    if (rc) return rc;
    if (!r->pin_root) {
        *owned = 1;
        *out = cb;
        return 0;
    }
    struct cache_block *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&r->pinned, &expected, cb, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        cache_block_release(cb); /* another reader pinned it first */
        cb = expected;
    }
    *out = cb;
    return 0;
}

int index_open(struct index_reader *r, const struct block_source *src, block_cache *cache,
               struct block_handle root, int levels, int pin_root)
{
    r->src = *src;
    r->cache = cache;
    r->root = root;
    r->levels = levels;
    r->pin_root = pin_root;
    atomic_init(&r->pinned, NULL);
    if (levels < 1 || levels > INDEX_MAX_LEVELS)
        return index_corrupt(src, root, "bad number of index levels");
    return 0;
}

void index_close(struct index_reader *r)
{
    cache_block_release(atomic_exchange_explicit(&r->pinned, NULL, memory_order_acq_rel));
}

/* ---- Cursor --------------------------------------------------------------------------- */

/* First i with key[i] >= target, or n. The shared prefix settles targets outside it; inside,
 * the pfx words order most keys without reading them. */
static uint32_t index_node_lower_bound(const struct index_node *nd, const uint8_t *target,
                                       size_t len)
{
    if (nd->n == 0) return 0;
    size_t tu = ikey_user_len(len), cp = nd->prefix_len;
    if (cp) {
        /* The node's own copy of the prefix head spares a read of key 0's bytes. */
        size_t m = tu < cp ? tu : cp, h = m < INDEX_PREFIX_HEAD ? m : INDEX_PREFIX_HEAD;
        int c = ikey_user_cmp(target, h, nd->prefix_head, h);
        if (c == 0 && m > h) {
            size_t k0len;
            const uint8_t *k0 = index_node_key(nd, 0, &k0len);
            c = memcmp(target + h, k0 + h, m - h);
        }
        if (c < 0 || (c == 0 && tu < cp)) return 0;
        if (c > 0) return nd->n;
    }
    uint64_t tw = index_key_word(target, tu, cp);
    uint32_t lo = 0, hi = nd->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        /* Each probe is likely a cache miss: start fetching both possible next probes so
         * the misses overlap instead of forming one chain. */
        __builtin_prefetch(&nd->ent[lo + (mid - lo) / 2]);
        __builtin_prefetch(&nd->ent[mid + 1 + (hi - mid - 1) / 2]);
        uint64_t w = nd->ent[mid].pfx;
        int below;
        if (w != tw) {
            below = w < tw;
        } else {
            size_t klen;
            const uint8_t *k = index_node_key(nd, mid, &klen);
            below = ikey_cmp(k, klen, target, len) < 0;
        }
        if (below)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void index_cursor_drop(struct index_cursor *c, int lvl)
{
    if (c->path[lvl].blk && c->path[lvl].owned) cache_block_release(c->path[lvl].blk);
    c->path[lvl].blk = NULL;
}

void index_cursor_release(struct index_cursor *c)
{
    for (int i = 0; i < c->r->levels; i++)
        index_cursor_drop(c, i);
    c->valid = 0;
}

static int index_cursor_fail(struct index_cursor *c, int rc)
{
    c->valid = 0;
    return rc;
}

/* Damage found in the child of the entry the cursor holds at level lvl + 1. */
static int index_cursor_damage(struct index_cursor *c, int lvl, const char *what)
{
    struct block_handle h = c->path[lvl + 1].node->ent[c->path[lvl + 1].idx].h;
    return index_cursor_fail(c, index_corrupt(&c->r->src, h, what));
}

/* Makes path[lvl] hold the node of the index block at h (the root at the top level), keeping
 * the one it holds when that is the same block. */
static int index_cursor_load(struct index_cursor *c, int lvl, struct block_handle h)
{
    if (c->path[lvl].blk && c->path[lvl].offset == h.offset) return 0;
    index_cursor_drop(c, lvl);
    struct cache_block *cb;
    int owned = 1, rc;
    if (lvl == c->r->levels - 1)
        rc = index_root(c->r, c->fill_cache, &cb, &owned);
    else
        rc = index_fetch(c->r, h, c->fill_cache, &cb);
    if (rc) return rc;
    c->path[lvl].blk = cb;
    c->path[lvl].node = index_node_of(cb);
    c->path[lvl].offset = h.offset;
    c->path[lvl].owned = owned;
    return 0;
}

/* Descends from the index block at h on level lvl to the leaf, taking each node's first
 * (last) entry. */
static int index_cursor_descend(struct index_cursor *c, int lvl, struct block_handle h, int last)
{
    int top = c->r->levels - 1;
    for (;; lvl--) {
        int rc = index_cursor_load(c, lvl, h);
        if (rc) return index_cursor_fail(c, rc);
        const struct index_node *nd = c->path[lvl].node;
        if (nd->n == 0) {
            if (lvl == top) return index_cursor_fail(c, 0); /* empty table */
            return index_cursor_damage(c, lvl, "empty inner child");
        }
        c->path[lvl].idx = last ? nd->n - 1 : 0;
        if (lvl == 0) break;
        h = nd->ent[c->path[lvl].idx].h;
    }
    c->valid = 1;
    return 0;
}

int index_cursor_seek_to_first(struct index_cursor *c)
{
    return index_cursor_descend(c, c->r->levels - 1, c->r->root, 0);
}

int index_cursor_seek_to_last(struct index_cursor *c)
{
    return index_cursor_descend(c, c->r->levels - 1, c->r->root, 1);
}

int index_cursor_seek(struct index_cursor *c, const uint8_t *target, size_t len)
{
    int top = c->r->levels - 1;
    struct block_handle h = c->r->root;
    for (int lvl = top;; lvl--) {
        int rc = index_cursor_load(c, lvl, h);
        if (rc) return index_cursor_fail(c, rc);
        const struct index_node *nd = c->path[lvl].node;
        uint32_t i = index_node_lower_bound(nd, target, len);
        if (i == nd->n) {
            if (lvl == top) return index_cursor_fail(c, 0); /* past the end */
            /* A child's last separator equals its parent's, so this means damage. */
            return index_cursor_damage(c, lvl, "child ends before its separator");
        }
        c->path[lvl].idx = i;
        if (lvl == 0) break;
        h = nd->ent[i].h;
    }
    c->valid = 1;
    return 0;
}

int index_cursor_next(struct index_cursor *c)
{
    if (!c->valid) return 0;
    int lvl = 0;
    while (lvl < c->r->levels && c->path[lvl].idx + 1 >= c->path[lvl].node->n)
        lvl++;
    if (lvl == c->r->levels) return index_cursor_fail(c, 0);
    c->path[lvl].idx++;
    if (lvl == 0) return 0;
    return index_cursor_descend(c, lvl - 1, c->path[lvl].node->ent[c->path[lvl].idx].h, 0);
}

int index_cursor_prev(struct index_cursor *c)
{
    if (!c->valid) return 0;
    int lvl = 0;
    while (lvl < c->r->levels && c->path[lvl].idx == 0)
        lvl++;
    if (lvl == c->r->levels) return index_cursor_fail(c, 0);
    c->path[lvl].idx--;
    if (lvl == 0) return 0;
    return index_cursor_descend(c, lvl - 1, c->path[lvl].node->ent[c->path[lvl].idx].h, 1);
}

/* ---- Verification --------------------------------------------------------------------- */

struct index_verify_ctx {
    const struct block_source *src;
    int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h);
    void *ctx;
};

static int index_verify_node(struct index_verify_ctx *v, struct block_handle h, int level,
                             const uint8_t *parent_sep, size_t parent_len)
{
    struct cache_block *cb;
    int rc = index_node_read(v->src, h, &cb);
    if (rc) return rc;
    const struct index_node *nd = index_node_of(cb);
    if (parent_sep) {
        size_t klen;
        const uint8_t *k = nd->n ? index_node_key(nd, nd->n - 1, &klen) : NULL;
        if (!k || ikey_cmp(k, klen, parent_sep, parent_len) != 0) {
            rc = index_corrupt(v->src, h, "last separator differs from its parent's");
            goto done;
        }
    }
    for (uint32_t i = 0; i < nd->n && rc == 0; i++) {
        size_t klen;
        const uint8_t *k = index_node_key(nd, i, &klen);
        if (level > 0)
            rc = index_verify_node(v, nd->ent[i].h, level - 1, k, klen);
        else
            rc = v->fn(v->ctx, k, klen, nd->ent[i].h);
    }
done:
    cache_block_release(cb);
    return rc;
}

int index_verify(const struct block_source *src, struct block_handle root, int levels,
                 int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h),
                 void *ctx)
{
    struct index_verify_ctx v = {src, fn, ctx};
    if (levels < 1 || levels > INDEX_MAX_LEVELS)
        return index_corrupt(src, root, "bad number of index levels");
    return index_verify_node(&v, root, levels - 1, NULL, 0);
}
