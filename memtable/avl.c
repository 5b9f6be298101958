/* avl.c — the AVL memtable (Adelson-Velsky & Landis, 1962): a height-balanced binary search
 * tree of internal keys with parent links, each entry one arena allocation (node ‖ ikey ‖
 * value) and each link a 32-bit arena reference. The single writer searches unlocked and holds
 * the write lock only to link and rebalance; readers hold the read lock per lookup or per
 * iterator step. */
#include <stddef.h>
#include <stdlib.h>

#include "memtable/memtable_int.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* 21 bytes of header: links as arena references (half a pointer each) keep the node, its key
 * and the first key bytes a search compares in one cache line for short keys. */
struct avl_node {
    arena_ref left, right, parent;
    uint32_t klen; /* internal key length (user key + 8-byte trailer) */
    uint32_t vlen;
    uint8_t height; /* a leaf has height 1; 255 levels is far beyond 2^32 nodes */
    uint8_t data[]; /* internal key, then value */
};

struct avl_tree {
    arena *arena;
    arena_ref root;
};

/* The node of a reference (NULL for 0). */
static inline struct avl_node *avl_at(const struct avl_tree *t, arena_ref r)
{
    return arena_ptr(t->arena, r);
}

struct avl_iter {
    iter base;
    memtable *m;
    const struct avl_tree *t;
    arena_ref ref;         /* the node's reference, 0 when not valid */
    struct avl_node *node; /* avl_at(ref): NULL when not valid */
};

/* Order of a node against (ukey, trailer): internal-key order without encoding the probe. */
static inline int avl_cmp(const struct avl_node *n, const void *ukey, size_t ulen, uint64_t trailer)
{
    size_t nlen = n->klen - IKEY_TRAILER;
    int c = ikey_user_cmp(n->data, nlen, ukey, ulen);
    if (c) return c;
    uint64_t t = coding_get_fixed64(n->data + nlen);
    return t > trailer ? -1 : t < trailer;
}

static inline int avl_h(const struct avl_tree *t, arena_ref r)
{
    return r ? avl_at(t, r)->height : 0;
}

static inline void avl_update_height(const struct avl_tree *t, struct avl_node *n)
{
    int hl = avl_h(t, n->left), hr = avl_h(t, n->right);
    n->height = (uint8_t)(1 + (hl > hr ? hl : hr));
}

/* Makes new_child (reference nr) take old's (reference or_) place under parent pr. */
static void avl_replace_child(struct avl_tree *t, arena_ref pr, arena_ref or_, arena_ref nr)
{
    struct avl_node *p = avl_at(t, pr);
    if (!p)
        t->root = nr;
    else if (p->left == or_)
        p->left = nr;
    else
        p->right = nr;
    avl_at(t, nr)->parent = pr;
}

/* Each node records its own reference nowhere, so rotations take the subtree root's reference
 * (xr) and find the others through the links. */
static void avl_rotate_left(struct avl_tree *t, arena_ref xr)
{
    struct avl_node *x = avl_at(t, xr);
    arena_ref yr = x->right;
    struct avl_node *y = avl_at(t, yr);
    x->right = y->left;
    if (y->left) avl_at(t, y->left)->parent = xr;
    avl_replace_child(t, x->parent, xr, yr);
    y->left = xr;
    x->parent = yr;
    avl_update_height(t, x);
    avl_update_height(t, y);
}

static void avl_rotate_right(struct avl_tree *t, arena_ref xr)
{
    struct avl_node *x = avl_at(t, xr);
    arena_ref yr = x->left;
    struct avl_node *y = avl_at(t, yr);
    x->left = y->right;
    if (y->right) avl_at(t, y->right)->parent = xr;
    avl_replace_child(t, x->parent, xr, yr);
    y->right = xr;
    x->parent = yr;
    avl_update_height(t, x);
    avl_update_height(t, y);
}

/* Walks up from the new leaf's parent fixing heights. An insertion needs at most one single
 * or double rotation, after which the subtree has its old height and the walk stops. */
static void avl_rebalance(struct avl_tree *t, arena_ref pr)
{
    while (pr) {
        struct avl_node *p = avl_at(t, pr);
        int hl = avl_h(t, p->left), hr = avl_h(t, p->right);
        if (hl - hr > 1) {
            struct avl_node *l = avl_at(t, p->left);
            if (avl_h(t, l->left) < avl_h(t, l->right)) avl_rotate_left(t, p->left);
            avl_rotate_right(t, pr);
            return;
        }
        if (hr - hl > 1) {
            struct avl_node *r = avl_at(t, p->right);
            if (avl_h(t, r->right) < avl_h(t, r->left)) avl_rotate_right(t, p->right);
            avl_rotate_left(t, pr);
            return;
        }
        int h = 1 + (hl > hr ? hl : hr);
        if (h == p->height) return;
        p->height = (uint8_t)h;
        pr = p->parent;
    }
}

static int avl_init(memtable *m)
{
    struct avl_tree *t = arena_alloc(m->arena, sizeof *t);
    if (!t) return LAMINA_ENOMEM;
    t->arena = m->arena;
    t->root = 0;
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
    arena_ref nr;
    struct avl_node *n = arena_alloc_ref(m->arena, size, 4, &nr);
    if (!n) return err_set(LAMINA_ENOMEM, "memtable: cannot allocate %zu bytes for an entry", size);
    n->left = n->right = 0;
    n->klen = (uint32_t)klen;
    n->vlen = (uint32_t)vlen;
    n->height = 1;
    if (ulen) memcpy(n->data, ukey, ulen);
    coding_put_fixed64(n->data + ulen, trailer);
    if (vlen) memcpy(n->data + klen, value, vlen);

    /* Only this thread changes links, so it may read them without the lock. */
    arena_ref pr = 0, *link = &t->root;
    while (*link) {
        pr = *link;
        struct avl_node *p = avl_at(t, pr);
        link = avl_cmp(p, ukey, ulen, trailer) > 0 ? &p->left : &p->right;
    }
    memtable_write_lock(m);
    n->parent = pr;
    *link = nr;
    avl_rebalance(t, pr);
    memtable_write_unlock(m);
    return 0;
}
/* First node >= (ukey, trailer), or 0. Caller holds the read lock if mutable. */
static arena_ref avl_lower_bound(const struct avl_tree *t, const void *ukey, size_t ulen,
                                 uint64_t trailer)
{
    arena_ref r = t->root, best = 0;
    while (r) {
        const struct avl_node *n = avl_at(t, r);
        if (avl_cmp(n, ukey, ulen, trailer) >= 0) {
            best = r;
            r = n->left;
        } else {
            r = n->right;
        }
    }
    return best;
}

/* Last node <= (ukey, trailer), or 0. */
static arena_ref avl_upper_floor(const struct avl_tree *t, const void *ukey, size_t ulen,
                                 uint64_t trailer)
{
    arena_ref r = t->root, best = 0;
    while (r) {
        const struct avl_node *n = avl_at(t, r);
        if (avl_cmp(n, ukey, ulen, trailer) <= 0) {
            best = r;
            r = n->right;
        } else {
            r = n->left;
        }
    }
    return best;
}

static arena_ref avl_leftmost(const struct avl_tree *t, arena_ref r)
{
    if (r)
        for (arena_ref l; (l = avl_at(t, r)->left);)
            r = l;
    return r;
}

static arena_ref avl_rightmost(const struct avl_tree *t, arena_ref r)
{
    if (r)
        for (arena_ref l; (l = avl_at(t, r)->right);)
            r = l;
    return r;
}

static arena_ref avl_successor(const struct avl_tree *t, arena_ref r)
{
    const struct avl_node *n = avl_at(t, r);
    if (n->right) return avl_leftmost(t, n->right);
    arena_ref p = n->parent;
    while (p && r == avl_at(t, p)->right) {
        r = p;
        p = avl_at(t, p)->parent;
    }
    return p;
}

static arena_ref avl_predecessor(const struct avl_tree *t, arena_ref r)
{
    const struct avl_node *n = avl_at(t, r);
    if (n->left) return avl_rightmost(t, n->left);
    arena_ref p = n->parent;
    while (p && r == avl_at(t, p)->left) {
        r = p;
        p = avl_at(t, p)->parent;
    }
    return p;
}

static int avl_get(memtable *m, const void *ukey, size_t ulen, uint64_t trailer, uint64_t *found,
                   const uint8_t **value, size_t *vlen)
{
    bool locked = memtable_read_lock(m);
    struct avl_node *n = avl_at(m->tree, avl_lower_bound(m->tree, ukey, ulen, trailer));
    memtable_read_unlock(m, locked);
    /* Node contents never change after linking, so they are read outside the lock. */
    if (!n || ikey_user_cmp(n->data, n->klen - IKEY_TRAILER, ukey, ulen) != 0)
        return LAMINA_NOTFOUND;
    *found = ikey_trailer(n->data, n->klen);
    *value = n->data + n->klen;
    *vlen = n->vlen;
    return 0;
}

int avl_height(memtable *m)
{
    bool locked = memtable_read_lock(m);
    const struct avl_tree *t = m->tree;
    int h = avl_h(t, t->root);
    memtable_read_unlock(m, locked);
    return h;
}

static inline void avl_iter_set(struct avl_iter *it, arena_ref r)
{
    it->ref = r;
    it->node = avl_at(it->t, r);
}

static int avl_iter_seek(iter *base, const uint8_t *ik, size_t len)
{
    struct avl_iter *it = (struct avl_iter *)base;
    size_t ulen;
    uint64_t trailer;
    memtable_split_probe(ik, len, &ulen, &trailer);
    bool locked = memtable_read_lock(it->m);
    avl_iter_set(it, avl_lower_bound(it->t, ik, ulen, trailer));
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_seek_for_prev(iter *base, const uint8_t *ik, size_t len)
{
    struct avl_iter *it = (struct avl_iter *)base;
    size_t ulen;
    uint64_t trailer;
    memtable_split_probe(ik, len, &ulen, &trailer);
    /* A bare user key sorts before its versions, so "<=" means strictly before them all. */
    bool locked = memtable_read_lock(it->m);
    if (len < IKEY_TRAILER) {
        arena_ref r = avl_lower_bound(it->t, ik, ulen, trailer);
        avl_iter_set(it, r ? avl_predecessor(it->t, r) : avl_rightmost(it->t, it->t->root));
    } else {
        avl_iter_set(it, avl_upper_floor(it->t, ik, ulen, trailer));
    }
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_seek_to_first(iter *base)
{
    struct avl_iter *it = (struct avl_iter *)base;
    bool locked = memtable_read_lock(it->m);
    avl_iter_set(it, avl_leftmost(it->t, it->t->root));
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_seek_to_last(iter *base)
{
    struct avl_iter *it = (struct avl_iter *)base;
    bool locked = memtable_read_lock(it->m);
    avl_iter_set(it, avl_rightmost(it->t, it->t->root));
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_next(iter *base)
{
    struct avl_iter *it = (struct avl_iter *)base;
    if (!it->node) return 0;
    bool locked = memtable_read_lock(it->m);
    avl_iter_set(it, avl_successor(it->t, it->ref));
    memtable_read_unlock(it->m, locked);
    return 0;
}

static int avl_iter_prev(iter *base)
{
    struct avl_iter *it = (struct avl_iter *)base;
    if (!it->node) return 0;
    bool locked = memtable_read_lock(it->m);
    avl_iter_set(it, avl_predecessor(it->t, it->ref));
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
    it->t = m->tree;
    it->ref = 0;
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
