/* avl.c — the AVL memtable (Adelson-Velsky & Landis, 1962): a height-balanced binary search
 * tree of internal keys with parent pointers, each entry one arena allocation (node ‖ ikey ‖
 * value). The single writer searches unlocked and holds the write lock only to link and
 * rebalance; readers hold the read lock per lookup or per iterator step. */
#include <stddef.h>
#include <stdlib.h>

#include "memtable/memtable_int.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* The fields a search reads (children, key prefix) come first, so a step down the tree
 * usually costs one cache line. */
struct avl_node {
    struct avl_node *left, *right;
    uint64_t prefix; /* first 8 user-key bytes, big-endian, zero-padded */
    struct avl_node *parent;
    uint32_t klen; /* internal key length (user key + 8-byte trailer) */
    uint32_t vlen;
    int32_t height; /* a leaf has height 1 */
    uint8_t data[]; /* internal key, then value */
};

struct avl_tree {
    struct avl_node *root;
};

struct avl_iter {
    iter base;
    memtable *m;
    struct avl_node *node; /* NULL when not valid */
};

/* Zero padding keeps prefix order consistent with bytewise order: differing prefixes decide
 * the comparison, equal ones defer to the full keys. */
static inline uint64_t avl_prefix(const void *ukey, size_t ulen)
{
    uint8_t p[8] = {0};
    if (ulen) memcpy(p, ukey, ulen < 8 ? ulen : 8);
    return coding_get_be64(p);
}

/* Order of a node against (ukey, trailer, its prefix): internal-key order without encoding
 * the probe. */
static inline int avl_cmp(const struct avl_node *n, const void *ukey, size_t ulen, uint64_t trailer,
                          uint64_t prefix)
{
    if (n->prefix != prefix) return n->prefix < prefix ? -1 : 1;
    size_t nlen = n->klen - IKEY_TRAILER;
    int c = ikey_user_cmp(n->data, nlen, ukey, ulen);
    if (c) return c;
    uint64_t t = coding_get_fixed64(n->data + nlen);
    return t > trailer ? -1 : t < trailer;
}

static inline int32_t avl_h(const struct avl_node *n)
{
    return n ? n->height : 0;
}

static inline void avl_update_height(struct avl_node *n)
{
    int32_t hl = avl_h(n->left), hr = avl_h(n->right);
    n->height = 1 + (hl > hr ? hl : hr);
}

static void avl_replace_child(struct avl_tree *t, struct avl_node *parent, struct avl_node *old,
                              struct avl_node *new_child)
{
    if (!parent)
        t->root = new_child;
    else if (parent->left == old)
        parent->left = new_child;
    else
        parent->right = new_child;
    new_child->parent = parent;
}

static struct avl_node *avl_rotate_left(struct avl_tree *t, struct avl_node *x)
{
    struct avl_node *y = x->right;
    x->right = y->left;
    if (y->left) y->left->parent = x;
    avl_replace_child(t, x->parent, x, y);
    y->left = x;
    x->parent = y;
    avl_update_height(x);
    avl_update_height(y);
    return y;
}

static struct avl_node *avl_rotate_right(struct avl_tree *t, struct avl_node *x)
{
    struct avl_node *y = x->left;
    x->left = y->right;
    if (y->right) y->right->parent = x;
    avl_replace_child(t, x->parent, x, y);
    y->right = x;
    x->parent = y;
    avl_update_height(x);
    avl_update_height(y);
    return y;
}

/* Walks up from the new leaf's parent fixing heights. An insertion needs at most one single
 * or double rotation, after which the subtree has its old height and the walk stops. */
static void avl_rebalance(struct avl_tree *t, struct avl_node *p)
{
    while (p) {
        int32_t hl = avl_h(p->left), hr = avl_h(p->right);
        if (hl - hr > 1) {
            if (avl_h(p->left->left) < avl_h(p->left->right)) avl_rotate_left(t, p->left);
            avl_rotate_right(t, p);
            return;
        }
        if (hr - hl > 1) {
            if (avl_h(p->right->right) < avl_h(p->right->left)) avl_rotate_right(t, p->right);
            avl_rotate_left(t, p);
            return;
        }
        int32_t h = 1 + (hl > hr ? hl : hr);
        if (h == p->height) return;
        p->height = h;
        p = p->parent;
    }
}

static int avl_init(memtable *m)
{
    struct avl_tree *t = arena_alloc(m->arena, sizeof *t);
    if (!t) return LAMINA_ENOMEM;
    t->root = NULL;
    m->tree = t;
    return 0;
}

static int avl_add(memtable *m, uint64_t trailer, const void *ukey, size_t ulen, const void *value,
                   size_t vlen)
{
    struct avl_tree *t = m->tree;
    size_t klen = ulen + IKEY_TRAILER;
    if (ulen > UINT32_MAX - IKEY_TRAILER || vlen > UINT32_MAX)
        return err_set(LAMINA_EINVAL, "memtable: entry too large (key %zu, value %zu bytes)", ulen,
                       vlen);
    size_t size = offsetof(struct avl_node, data) + klen + vlen;
    struct avl_node *n = arena_alloc(m->arena, size);
    if (!n) return err_set(LAMINA_ENOMEM, "memtable: cannot allocate %zu bytes for an entry", size);
    n->left = n->right = NULL;
    n->prefix = avl_prefix(ukey, ulen);
    n->klen = (uint32_t)klen;
    n->vlen = (uint32_t)vlen;
    n->height = 1;
    if (ulen) memcpy(n->data, ukey, ulen);
    coding_put_fixed64(n->data + ulen, trailer);
    if (vlen) memcpy(n->data + klen, value, vlen);

    /* Only this thread changes links, so it may read them without the lock. */
    struct avl_node *parent = NULL, **link = &t->root;
    while (*link) {
        parent = *link;
        link = avl_cmp(parent, ukey, ulen, trailer, n->prefix) > 0 ? &parent->left : &parent->right;
    }
    memtable_write_lock(m);
    n->parent = parent;
    *link = n;
    avl_rebalance(t, parent);
    memtable_write_unlock(m);
    return 0;
}

/* First node >= (ukey, trailer), or NULL. Caller holds the read lock if mutable. */
static struct avl_node *avl_lower_bound(const struct avl_tree *t, const void *ukey, size_t ulen,
                                        uint64_t trailer)
{
    struct avl_node *n = t->root, *best = NULL;
    uint64_t prefix = avl_prefix(ukey, ulen);
    while (n) {
        if (avl_cmp(n, ukey, ulen, trailer, prefix) >= 0) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}

/* Last node <= (ukey, trailer), or NULL. */
static struct avl_node *avl_upper_floor(const struct avl_tree *t, const void *ukey, size_t ulen,
                                        uint64_t trailer)
{
    struct avl_node *n = t->root, *best = NULL;
    uint64_t prefix = avl_prefix(ukey, ulen);
    while (n) {
        if (avl_cmp(n, ukey, ulen, trailer, prefix) <= 0) {
            best = n;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    return best;
}

static struct avl_node *avl_leftmost(struct avl_node *n)
{
    if (n)
        while (n->left)
            n = n->left;
    return n;
}

static struct avl_node *avl_rightmost(struct avl_node *n)
{
    if (n)
        while (n->right)
            n = n->right;
    return n;
}

static struct avl_node *avl_successor(struct avl_node *n)
{
    if (n->right) return avl_leftmost(n->right);
    while (n->parent && n == n->parent->right)
        n = n->parent;
    return n->parent;
}

static struct avl_node *avl_predecessor(struct avl_node *n)
{
    if (n->left) return avl_rightmost(n->left);
    while (n->parent && n == n->parent->left)
        n = n->parent;
    return n->parent;
}

static int avl_get(memtable *m, const void *ukey, size_t ulen, uint64_t trailer, int *type,
                   const uint8_t **value, size_t *vlen)
{
    bool locked = memtable_read_lock(m);
    struct avl_node *n = avl_lower_bound(m->tree, ukey, ulen, trailer);
    memtable_read_unlock(m, locked);
    /* Node contents never change after linking, so they are read outside the lock. */
    if (!n || ikey_user_cmp(n->data, n->klen - IKEY_TRAILER, ukey, ulen) != 0)
        return LAMINA_NOTFOUND;
    *type = ikey_type(n->data, n->klen);
    *value = n->data + n->klen;
    *vlen = n->vlen;
    return 0;
}

int avl_height(memtable *m)
{
    bool locked = memtable_read_lock(m);
    int h = avl_h(((struct avl_tree *)m->tree)->root);
    memtable_read_unlock(m, locked);
    return h;
}

/* Splits a probe internal key; a probe shorter than a trailer is taken as a bare user key
 * positioned before all of its versions. */
static void avl_split_probe(const uint8_t *ik, size_t len, size_t *ulen, uint64_t *trailer)
{
    if (len < IKEY_TRAILER) {
        *ulen = len;
        *trailer = UINT64_MAX;
    } else {
        *ulen = len - IKEY_TRAILER;
        *trailer = ikey_trailer(ik, len);
    }
}

static int avl_iter_seek(iter *base, const uint8_t *ik, size_t len)
{
    struct avl_iter *it = (struct avl_iter *)base;
    size_t ulen;
    uint64_t trailer;
    avl_split_probe(ik, len, &ulen, &trailer);
    bool locked = memtable_read_lock(it->m);
    it->node = avl_lower_bound(it->m->tree, ik, ulen, trailer);
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_seek_for_prev(iter *base, const uint8_t *ik, size_t len)
{
    struct avl_iter *it = (struct avl_iter *)base;
    size_t ulen;
    uint64_t trailer;
    avl_split_probe(ik, len, &ulen, &trailer);
    /* A bare user key sorts before its versions, so "<=" means strictly before them all. */
    bool locked = memtable_read_lock(it->m);
    if (len < IKEY_TRAILER) {
        struct avl_node *n = avl_lower_bound(it->m->tree, ik, ulen, trailer);
        it->node = n ? avl_predecessor(n) : avl_rightmost(((struct avl_tree *)it->m->tree)->root);
    } else {
        it->node = avl_upper_floor(it->m->tree, ik, ulen, trailer);
    }
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_seek_to_first(iter *base)
{
    struct avl_iter *it = (struct avl_iter *)base;
    bool locked = memtable_read_lock(it->m);
    it->node = avl_leftmost(((struct avl_tree *)it->m->tree)->root);
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_seek_to_last(iter *base)
{
    struct avl_iter *it = (struct avl_iter *)base;
    bool locked = memtable_read_lock(it->m);
    it->node = avl_rightmost(((struct avl_tree *)it->m->tree)->root);
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_next(iter *base)
{
    struct avl_iter *it = (struct avl_iter *)base;
    if (!it->node) return 0;
    bool locked = memtable_read_lock(it->m);
    it->node = avl_successor(it->node);
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_prev(iter *base)
{
    struct avl_iter *it = (struct avl_iter *)base;
    if (!it->node) return 0;
    bool locked = memtable_read_lock(it->m);
    it->node = avl_predecessor(it->node);
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_valid(const iter *base)
{
    return ((const struct avl_iter *)base)->node != NULL;
}

static const uint8_t *avl_iter_key(const iter *base, size_t *len)
{
    const struct avl_node *n = ((const struct avl_iter *)base)->node;
    if (!n) {
        *len = 0;
        return NULL;
    }
    *len = n->klen;
    return n->data;
}

static const uint8_t *avl_iter_value(const iter *base, size_t *len)
{
    const struct avl_node *n = ((const struct avl_iter *)base)->node;
    if (!n) {
        *len = 0;
        return NULL;
    }
    *len = n->vlen;
    return n->data + n->klen;
}

static int avl_iter_status(const iter *base)
{
    return 0;
}

static void avl_iter_destroy(iter *base)
{
    struct avl_iter *it = (struct avl_iter *)base;
    memtable_unref(it->m);
    mem_free(it);
}

static const struct iter_ops avl_iter_ops = {
    .seek = avl_iter_seek,
    .seek_for_prev = avl_iter_seek_for_prev,
    .seek_to_first = avl_iter_seek_to_first,
    .seek_to_last = avl_iter_seek_to_last,
    .next = avl_iter_next,
    .prev = avl_iter_prev,
    .valid = avl_iter_valid,
    .key = avl_iter_key,
    .value = avl_iter_value,
    .status = avl_iter_status,
    .destroy = avl_iter_destroy,
};

static iter *avl_iter_create(memtable *m)
{
    struct avl_iter *it = mem_alloc(sizeof *it);
    if (!it) {
        err_set(LAMINA_ENOMEM, "memtable: cannot allocate an iterator");
        return NULL;
    }
    it->base.ops = &avl_iter_ops;
    it->m = m;
    it->node = NULL;
    memtable_ref(m);
    return &it->base;
}

const struct memtable_ops memtable_avl_ops = {
    .init = avl_init,
    .add = avl_add,
    .get = avl_get,
    .iter_create = avl_iter_create,
};
