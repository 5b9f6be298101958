/* btree.c — the B-tree table index: leaf index blocks map separators to data block handles;
 * when the leaf level outgrows one block, inner levels map each child block's last separator
 * to its handle. Built in one pass with one open block per level (O(levels x fanout) memory),
 * like the bottom-up bulk loading of a B+-tree; searched through decoded nodes that the block
 * cache holds (each node shares its cache block with the index block's contents). */
#include <stdlib.h>
#include <string.h>

#include "sst/btree.h"
#include "sst/index.h"
#include "lamina.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* Index entries are whole keys (restart interval 1), so a node's keys are used in place. */
#define BTREE_RESTART_INTERVAL 1

/* Separator order: internal-key order when they carry a trailer of tl bytes (format 1), else
 * bytewise (format 2's user keys). */
static inline int btree_key_cmp(uint32_t tl, const uint8_t *a, size_t al, const uint8_t *b,
                                size_t bl)
{
    return tl ? ikey_cmp(a, al, b, bl) : ikey_user_cmp(a, al, b, bl);
}

/* ---- Builder -------------------------------------------------------------------------- */

void btree_builder_init(struct btree_builder *ib, struct block_writer *w, size_t block_size)
{
    memset(ib, 0, sizeof(*ib));
    ib->w = w;
    ib->block_size = block_size;
    ib->nlevels = 1;
    for (int i = 0; i < BTREE_MAX_LEVELS; i++)
        block_builder_init(&ib->level[i].bb, BTREE_RESTART_INTERVAL);
}

void btree_builder_free(struct btree_builder *ib)
{
    for (int i = 0; i < BTREE_MAX_LEVELS; i++)
        block_builder_free(&ib->level[i].bb);
}

static int btree_level_add(struct btree_builder *ib, int lvl, const uint8_t *key, size_t len,
                           struct block_handle h);

/* Writes level lvl's open block and pushes its last separator + handle one level up. */
static int btree_level_flush(struct btree_builder *ib, int lvl)
{
    struct block_builder *bb = &ib->level[lvl].bb;
    struct block_handle h;
    int rc = block_builder_finish(bb);
    if (rc) return rc;
    rc = block_writer_write(ib->w, &bb->data, 1, &h);
    if (rc) return rc;
    ib->bytes += h.size + BLOCK_TRAILER_SIZE;
    ib->level[lvl].emitted = 1;
    rc = btree_level_add(ib, lvl + 1, bb->last_key.data, bb->last_key.len, h);
    if (rc) return rc;
    block_builder_reset(bb);
    return 0;
}

static int btree_level_add(struct btree_builder *ib, int lvl, const uint8_t *key, size_t len,
                           struct block_handle h)
{
    if (lvl >= BTREE_MAX_LEVELS)
        return err_set(LAMINA_EINVAL, "table builder: index deeper than %d levels",
                       BTREE_MAX_LEVELS);
    if (lvl >= ib->nlevels) ib->nlevels = lvl + 1;
    struct block_builder *bb = &ib->level[lvl].bb;
    /* Two entries at least per block, so each level is at most half the one below and the
     * tree ends in one root even for keys longer than a block. */
    if (bb->entries >= 2 && block_builder_size(bb) + len + BLOCK_HANDLE_MAX + 3 > ib->block_size) {
        int rc = btree_level_flush(ib, lvl);
        if (rc) return rc;
    }
    uint8_t v[BLOCK_HANDLE_MAX];
    size_t vlen = block_handle_encode(v, h);
    return block_builder_add(bb, key, len, v, vlen);
}

int btree_builder_add(struct btree_builder *ib, const uint8_t *sep, size_t len,
                      struct block_handle h)
{
    return btree_level_add(ib, 0, sep, len, h);
}

int btree_builder_finish(struct btree_builder *ib, struct block_handle *root, int *levels)
{
    for (int lvl = 0; lvl < BTREE_MAX_LEVELS; lvl++) {
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
            int rc = btree_level_flush(ib, lvl);
            if (rc) return rc;
        }
    }
    return err_set(LAMINA_EINVAL, "table builder: index deeper than %d levels", BTREE_MAX_LEVELS);
}

/* ---- Nodes ---------------------------------------------------------------------------- */

static int btree_corrupt(const struct block_source *src, struct block_handle h, const char *what)
{
    return err_set(LAMINA_ECORRUPT, "%s: index block at offset %llu: %s", src->path,
                   (unsigned long long)h.offset, what);
}

/* The 8 bytes of user key k (ulen bytes) from offset from on, big-endian, zero padded. */
static inline uint64_t btree_key_word(const uint8_t *k, size_t ulen, size_t from)
{
    if (ulen >= from + 8) return coding_get_be64(k + from);
    uint64_t w = 0;
    for (size_t i = from; i < from + 8; i++)
        w = (w << 8) | (i < ulen ? k[i] : 0);
    return w;
}

/* Fills prefix_len and pfx (see struct btree_node): sorted keys all share the common prefix
 * of the first and the last. */
static void btree_node_prefixes(struct btree_node *nd)
{
    nd->prefix_len = 0;
    if (nd->n == 0) return;
    size_t l0, l1;
    const uint8_t *k0 = btree_node_key(nd, 0, &l0), *k1 = btree_node_key(nd, nd->n - 1, &l1);
    size_t u0 = l0 - nd->tl, u1 = l1 - nd->tl, m = u0 < u1 ? u0 : u1, cp = 0;
    while (cp < m && k0[cp] == k1[cp])
        cp++;
    nd->prefix_len = (uint32_t)cp;
    memcpy(nd->prefix_head, k0, cp < BTREE_PREFIX_HEAD ? cp : BTREE_PREFIX_HEAD);
    for (uint32_t i = 0; i < nd->n; i++) {
        size_t len;
        const uint8_t *k = btree_node_key(nd, i, &len);
        nd->ent[i].pfx = btree_key_word(k, len - nd->tl, cp);
    }
}

/* Decodes the index block at h, whose contents are raw->data[0..raw->size), into a new cache
 * block of kind CACHE_BLOCK_INDEX (one reference, in no cache) that holds a copy of the
 * contents followed by the node, so the cache charges both. */
static int btree_node_decode(const struct block_source *src, uint32_t tl, struct block_handle h,
                             const struct cache_block *raw, struct cache_block **out)
{
    *out = NULL;
    struct block b;
    if (block_parse(&b, raw->data, raw->size)) return btree_corrupt(src, h, "bad restart array");
    uint32_t n = b.restarts_off == 0 ? 0 : b.nrestarts; /* an empty block keeps restart 0 */
    size_t off = btree_node_offset(raw->size);
    size_t cap = off + sizeof(struct btree_node) +
                 (size_t)n * (sizeof(struct btree_entry) + 2 * sizeof(uint32_t));
    struct cache_block *cb = cache_block_alloc(cap);
    if (!cb) return err_set(LAMINA_ENOMEM, "%s: out of memory loading an index block", src->path);
    memcpy(cb->data, raw->data, raw->size);
    cb->size = raw->size;
    cb->kind = CACHE_BLOCK_INDEX;
    block_parse(&b, cb->data, cb->size); /* the same shape, over the copy */
    struct btree_node *nd = (struct btree_node *)(void *)(cb->data + off);
    memset(nd, 0, sizeof(*nd));
    nd->n = n;
    nd->tl = tl;
    nd->data = cb->data;
    uint8_t *p = (uint8_t *)(nd + 1);
    nd->ent = (struct btree_entry *)(void *)p;
    p += (size_t)n * sizeof(struct btree_entry);
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
            klen < tl || block_handle_decode(v, v + vlen, &nd->ent[i].h)) {
            rc = btree_corrupt(src, h, "bad index entry");
            goto fail;
        }
        nd->key_off[i] = (uint32_t)(k - b.data);
        nd->key_len[i] = (uint32_t)klen;
        if (i > 0) {
            size_t plen;
            const uint8_t *pk = btree_node_key(nd, i - 1, &plen);
            if (btree_key_cmp(tl, pk, plen, k, klen) >= 0) {
                rc = btree_corrupt(src, h, "separators out of order");
                goto fail;
            }
        }
        koff = next;
    }
    if (koff != b.restarts_off) {
        rc = btree_corrupt(src, h, "bytes after the last entry");
        goto fail;
    }
    btree_node_prefixes(nd);
    *out = cb;
    return 0;
fail:
    cache_block_release(cb);
    return rc;
}

/* Reads the index block at h afresh (checksum verified) and decodes it; not cached. */
static int btree_node_read(const struct block_source *src, uint32_t tl, struct block_handle h,
                           struct cache_block **out)
{
    struct cache_block *raw;
    int rc = block_read(src, h, 1, &raw);
    if (rc) return rc;
    rc = btree_node_decode(src, tl, h, raw, out);
    cache_block_release(raw);
    return rc;
}

/* The decoded index block at h with a new reference: from the block cache, else read, decoded
 * and (with fill) offered to it. */
static int btree_fetch(struct btree_reader *r, struct block_handle h, int fill,
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
        rc = btree_node_decode(&r->src, r->tl, h, cb, out);
        cache_block_release(cb);
        return rc;
    }
    rc = btree_node_read(&r->src, r->tl, h, &cb);
    if (rc) return rc;
    if (fill) block_cache_insert(r->cache, r->src.file_number, h.offset, cb);
    *out = cb;
    return 0;
}

/* The root, with *owned set when the caller holds a reference to release; a pinned root is
 * lent without one (the reader keeps it until btree_close). */
static int btree_root(struct btree_reader *r, int fill, struct cache_block **out, int *owned)
{
    struct cache_block *cb = atomic_load_explicit(&r->pinned, memory_order_acquire);
    *owned = 0;
    if (cb) {
        *out = cb;
        return 0;
    }
    int rc = btree_fetch(r, r->root, fill, &cb);
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

int btree_open(struct btree_reader *r, const struct block_source *src, block_cache *cache,
               struct block_handle root, int levels, int user_keys, int pin_root)
{
    r->src = *src;
    r->tl = user_keys ? 0 : IKEY_TRAILER;
    r->cache = cache;
    r->root = root;
    r->levels = levels;
    r->pin_root = pin_root;
    atomic_init(&r->pinned, NULL);
    if (levels < 1 || levels > BTREE_MAX_LEVELS)
        return btree_corrupt(src, root, "bad number of index levels");
    return 0;
}

void btree_close(struct btree_reader *r)
{
    cache_block_release(atomic_exchange_explicit(&r->pinned, NULL, memory_order_acq_rel));
}

/* ---- Cursor --------------------------------------------------------------------------- */

/* First i with key[i] >= target, or n. The shared prefix settles targets outside it; inside,
 * the pfx words order most keys without reading them. */
static uint32_t btree_node_lower_bound(const struct btree_node *nd, const uint8_t *target,
                                       size_t len)
{
    if (nd->n == 0) return 0;
    size_t tu = len - nd->tl, cp = nd->prefix_len;
    if (cp) {
        /* The node's own copy of the prefix head spares a read of key 0's bytes. */
        size_t m = tu < cp ? tu : cp, h = m < BTREE_PREFIX_HEAD ? m : BTREE_PREFIX_HEAD;
        int c = ikey_user_cmp(target, h, nd->prefix_head, h);
        if (c == 0 && m > h) {
            size_t k0len;
            const uint8_t *k0 = btree_node_key(nd, 0, &k0len);
            c = memcmp(target + h, k0 + h, m - h);
        }
        if (c < 0 || (c == 0 && tu < cp)) return 0;
        if (c > 0) return nd->n;
    }
    uint64_t tw = btree_key_word(target, tu, cp);
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
            const uint8_t *k = btree_node_key(nd, mid, &klen);
            below = btree_key_cmp(nd->tl, k, klen, target, len) < 0;
        }
        if (below)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void btree_cursor_drop(struct btree_cursor *c, int lvl)
{
    if (c->path[lvl].blk && c->path[lvl].owned) cache_block_release(c->path[lvl].blk);
    c->path[lvl].blk = NULL;
}

void btree_cursor_release(struct btree_cursor *c)
{
    for (int i = 0; i < c->r->levels; i++)
        btree_cursor_drop(c, i);
    c->valid = 0;
}

static int btree_cursor_fail(struct btree_cursor *c, int rc)
{
    c->valid = 0;
    return rc;
}

/* Damage found in the child of the entry the cursor holds at level lvl + 1. */
static int btree_cursor_damage(struct btree_cursor *c, int lvl, const char *what)
{
    struct block_handle h = c->path[lvl + 1].node->ent[c->path[lvl + 1].idx].h;
    return btree_cursor_fail(c, btree_corrupt(&c->r->src, h, what));
}

/* Makes path[lvl] hold the node of the index block at h (the root at the top level), keeping
 * the one it holds when that is the same block. */
static int btree_cursor_load(struct btree_cursor *c, int lvl, struct block_handle h)
{
    if (c->path[lvl].blk && c->path[lvl].offset == h.offset) return 0;
    btree_cursor_drop(c, lvl);
    struct cache_block *cb;
    int owned = 1, rc;
    if (lvl == c->r->levels - 1)
        rc = btree_root(c->r, c->fill_cache, &cb, &owned);
    else
        rc = btree_fetch(c->r, h, c->fill_cache, &cb);
    if (rc) return rc;
    c->path[lvl].blk = cb;
    c->path[lvl].node = btree_node_of(cb);
    c->path[lvl].offset = h.offset;
    c->path[lvl].owned = owned;
    return 0;
}

/* Descends from the index block at h on level lvl to the leaf, taking each node's first
 * (last) entry. */
static int btree_cursor_descend(struct btree_cursor *c, int lvl, struct block_handle h, int last)
{
    int top = c->r->levels - 1;
    for (;; lvl--) {
        int rc = btree_cursor_load(c, lvl, h);
        if (rc) return btree_cursor_fail(c, rc);
        const struct btree_node *nd = c->path[lvl].node;
        if (nd->n == 0) {
            if (lvl == top) return btree_cursor_fail(c, 0); /* empty table */
            return btree_cursor_damage(c, lvl, "empty inner child");
        }
        c->path[lvl].idx = last ? nd->n - 1 : 0;
        if (lvl == 0) break;
        h = nd->ent[c->path[lvl].idx].h;
    }
    c->valid = 1;
    return 0;
}

int btree_cursor_seek_to_first(struct btree_cursor *c)
{
    return btree_cursor_descend(c, c->r->levels - 1, c->r->root, 0);
}

int btree_cursor_seek_to_last(struct btree_cursor *c)
{
    return btree_cursor_descend(c, c->r->levels - 1, c->r->root, 1);
}

int btree_cursor_seek(struct btree_cursor *c, const uint8_t *target, size_t len)
{
    int top = c->r->levels - 1;
    struct block_handle h = c->r->root;
    for (int lvl = top;; lvl--) {
        int rc = btree_cursor_load(c, lvl, h);
        if (rc) return btree_cursor_fail(c, rc);
        const struct btree_node *nd = c->path[lvl].node;
        uint32_t i = btree_node_lower_bound(nd, target, len);
        if (i == nd->n) {
            if (lvl == top) return btree_cursor_fail(c, 0); /* past the end */
            /* A child's last separator equals its parent's, so this means damage. */
            return btree_cursor_damage(c, lvl, "child ends before its separator");
        }
        c->path[lvl].idx = i;
        if (lvl == 0) break;
        h = nd->ent[i].h;
    }
    c->valid = 1;
    return 0;
}

int btree_cursor_next(struct btree_cursor *c)
{
    if (!c->valid) return 0;
    int lvl = 0;
    while (lvl < c->r->levels && c->path[lvl].idx + 1 >= c->path[lvl].node->n)
        lvl++;
    if (lvl == c->r->levels) return btree_cursor_fail(c, 0);
    c->path[lvl].idx++;
    if (lvl == 0) return 0;
    return btree_cursor_descend(c, lvl - 1, c->path[lvl].node->ent[c->path[lvl].idx].h, 0);
}

int btree_cursor_prev(struct btree_cursor *c)
{
    if (!c->valid) return 0;
    int lvl = 0;
    while (lvl < c->r->levels && c->path[lvl].idx == 0)
        lvl++;
    if (lvl == c->r->levels) return btree_cursor_fail(c, 0);
    c->path[lvl].idx--;
    if (lvl == 0) return 0;
    return btree_cursor_descend(c, lvl - 1, c->path[lvl].node->ent[c->path[lvl].idx].h, 1);
}

/* ---- Verification --------------------------------------------------------------------- */

struct btree_verify_ctx {
    const struct block_source *src;
    uint32_t tl;
    int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h);
    void *ctx;
};

static int btree_verify_node(struct btree_verify_ctx *v, struct block_handle h, int level,
                             const uint8_t *parent_sep, size_t parent_len)
{
    struct cache_block *cb;
    int rc = btree_node_read(v->src, v->tl, h, &cb);
    if (rc) return rc;
    const struct btree_node *nd = btree_node_of(cb);
    if (parent_sep) {
        size_t klen;
        const uint8_t *k = nd->n ? btree_node_key(nd, nd->n - 1, &klen) : NULL;
        if (!k || btree_key_cmp(v->tl, k, klen, parent_sep, parent_len) != 0) {
            rc = btree_corrupt(v->src, h, "last separator differs from its parent's");
            goto done;
        }
    }
    for (uint32_t i = 0; i < nd->n && rc == 0; i++) {
        size_t klen;
        const uint8_t *k = btree_node_key(nd, i, &klen);
        if (level > 0)
            rc = btree_verify_node(v, nd->ent[i].h, level - 1, k, klen);
        else
            rc = v->fn(v->ctx, k, klen, nd->ent[i].h);
    }
done:
    cache_block_release(cb);
    return rc;
}

int btree_verify(const struct block_source *src, struct block_handle root, int levels,
                 int user_keys,
                 int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h),
                 void *ctx)
{
    struct btree_verify_ctx v = {src, user_keys ? 0 : IKEY_TRAILER, fn, ctx};
    if (levels < 1 || levels > BTREE_MAX_LEVELS)
        return btree_corrupt(src, root, "bad number of index levels");
    return btree_verify_node(&v, root, levels - 1, NULL, 0);
}

/* ---- The index interface (sst/index.h) -------------------------------------------------- */

static void bt_builder_free(struct index_builder *ib)
{
    btree_builder_free(&ib->u.bt);
}

static int bt_builder_add(struct index_builder *ib, const uint8_t *sep, size_t len,
                          struct block_handle h)
{
    return btree_builder_add(&ib->u.bt, sep, len, h);
}

static int bt_builder_finish(struct index_builder *ib, struct table_footer *ft)
{
    int levels;
    int rc = btree_builder_finish(&ib->u.bt, &ft->index, &levels);
    if (rc) return rc;
    ft->index_levels = (uint8_t)levels;
    ib->bytes = ib->u.bt.bytes;
    return 0;
}

const struct index_builder_ops btree_index_builder_ops = {
    .kind = LAMINA_INDEX_BTREE,
    .free = bt_builder_free,
    .add = bt_builder_add,
    .finish = bt_builder_finish,
};

static int bt_open(struct index_reader *r, const struct block_source *src, block_cache *cache,
                   const struct table_footer *ft, int pin)
{
    return btree_open(&r->u.bt, src, cache, ft->index, ft->index_levels, r->user_keys, pin);
}

static void bt_close(struct index_reader *r)
{
    btree_close(&r->u.bt);
}

static void bt_cursor_init(struct index_cursor *c, int fill_cache)
{
    btree_cursor_init(&c->u.bt, &c->r->u.bt, fill_cache);
}

static void bt_cursor_release(struct index_cursor *c)
{
    btree_cursor_release(&c->u.bt);
}

/* Each move leaves the generic cursor's valid flag equal to the B-tree cursor's. */
static int bt_moved(struct index_cursor *c, int rc)
{
    c->valid = c->u.bt.valid;
    return rc;
}

static int bt_seek(struct index_cursor *c, const uint8_t *key, size_t len)
{
    return bt_moved(c, btree_cursor_seek(&c->u.bt, key, len));
}
static int bt_seek_to_first(struct index_cursor *c)
{
    return bt_moved(c, btree_cursor_seek_to_first(&c->u.bt));
}
static int bt_seek_to_last(struct index_cursor *c)
{
    return bt_moved(c, btree_cursor_seek_to_last(&c->u.bt));
}
static int bt_next(struct index_cursor *c)
{
    return bt_moved(c, btree_cursor_next(&c->u.bt));
}
static int bt_prev(struct index_cursor *c)
{
    return bt_moved(c, btree_cursor_prev(&c->u.bt));
}
static struct block_handle bt_handle(const struct index_cursor *c)
{
    return btree_cursor_handle(&c->u.bt);
}
static const uint8_t *bt_key(const struct index_cursor *c, size_t *len)
{
    return btree_cursor_key(&c->u.bt, len);
}

static int bt_verify(const struct block_source *src, const struct table_footer *ft, int user_keys,
                     int (*fn)(void *ctx, const uint8_t *sep, size_t len, struct block_handle h),
                     void *ctx)
{
    return btree_verify(src, ft->index, ft->index_levels, user_keys, fn, ctx);
}

const struct index_ops btree_index_ops = {
    .kind = LAMINA_INDEX_BTREE,
    .name = "btree",
    .open = bt_open,
    .close = bt_close,
    .cursor_init = bt_cursor_init,
    .cursor_release = bt_cursor_release,
    .seek = bt_seek,
    .seek_to_first = bt_seek_to_first,
    .seek_to_last = bt_seek_to_last,
    .next = bt_next,
    .prev = bt_prev,
    .handle = bt_handle,
    .key = bt_key,
    .verify = bt_verify,
};
