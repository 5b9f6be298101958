/* art.c — the adaptive radix tree memtable (Leis, Kemper & Neumann, ICDE 2013): Node4/16/48/256
 * with path compression and lazy expansion, one leaf per user key holding its versions, kept
 * in the arena behind 32-bit references and synchronised by ROWEX (Leis et al., DaMoN 2016). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "memtable/memtable_int.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/ikey.h"

/* Synchronisation: ROWEX with one writer. Readers (get, iterators) never lock and never wait;
 * the writer (memtable_add is never concurrent with itself) changes the tree only by
 *   (1) filling a new object (node, leaf, version) completely and publishing it with one
 *       release store of its reference into a slot (root, child, end leaf, version link), or
 *   (2) appending a child to a node with room: Node4/16 write the child and its key byte past
 *       the published count, then release-store count + 1 (entries stay unsorted; ordered
 *       walks pick the next byte by scanning); Node48 writes the child, then release-stores
 *       the index byte naming it; Node256 release-stores the child slot. An end leaf takes
 *       the next slot the same way, its slot number (endpos) stored before the count.
 * Readers load references, counts, endpos and index bytes with acquire, so they see either
 * the old or the new state, each complete. Every field a reader may read while the writer
 * writes it is a C11 atomic; the others (type, prefix, end depth, leaf contents) are immutable
 * once published. A full node grows by copying into the next node type and swapping the
 * parent's reference; a one-version leaf gains a version by becoming a new multi-version
 * leaf; the old node or leaf stays in the arena (a reader may be inside it) as dead weight
 * counted in the memtable's memory, and holds a complete earlier state. A version joins a
 * multi-version leaf's list by one release store of the link before it.
 *
 * Prefix changes need no in-place update at all: a node stores its end depth (the key position
 * of the byte its children are chosen by) and the last up-to-ART_PREFIX_MAX bytes of its
 * compressed path, right-aligned to that end. Its prefix length is not stored: a reader
 * derives it as end - the depth it entered the node at. A split inside a node's prefix
 * inserts a new parent above it; the node itself is unchanged, and its effective prefix
 * simply starts later for readers that come through the new parent, while readers that came
 * through the old path still read the old, equally valid, longer prefix. Prefix bytes not
 * stored (a path longer than ART_PREFIX_MAX, the optimistic case) are read from any leaf of
 * the node's subtree: every key under a node shares its whole path, at any time.
 *
 * Iterators hold a stack of the nodes on the path to their entry. A node on that stack may be
 * replaced by the writer; the iterator then continues over the old copy, which holds every
 * entry present when the iterator reached it, so a scan sees at least every entry added
 * before it started, in order. Seeks start again from the root. */

#define ART_PREFIX_MAX 8

/* The first byte of every node and leaf says what it is: an inner node type, a multi-version
 * leaf, or (top bit set) a one-version leaf's header. */
enum { ART_N4 = 1, ART_N16 = 2, ART_N48 = 3, ART_N256 = 4, ART_MLEAF = 5, ART_LEAF = 0x80 };
#define ART_IS_LEAF(b) ((b) >= ART_MLEAF)

typedef _Atomic(uint32_t) art_slot;

struct art_inner {
    uint8_t type;
    uint8_t nprefix; /* prefix bytes stored (at creation: min(path length, ART_PREFIX_MAX)) */
    _Atomic(uint8_t) count; /* Node4/16/48: child slots in use, the end leaf's included */
    /* Node4/16/48: 1 + the child slot holding the end leaf (the key equal to the whole path,
     * which sorts before every child), 0 if none; the slot's key byte is meaningless. An end
     * leaf takes a slot only in the nodes that have one, instead of a field in every node. */
    _Atomic(uint8_t) endpos;
    uint32_t end; /* depth of the byte that selects a child; keys of length end: the end leaf */
    /* after the children: nprefix bytes, the key bytes [end - nprefix, end) */
};

struct art_node4 {
    struct art_inner h;
    _Atomic(uint32_t) keys; /* key byte i in bits 8i..8i+7, appended unsorted */
    art_slot child[4];
};

struct art_node16 {
    struct art_inner h;
    _Atomic(uint32_t) keys[4];
    art_slot child[16];
};

struct art_node48 {
    struct art_inner h;
    _Atomic(uint32_t) index[64]; /* byte b: child index + 1 in bits 8(b%4).. of word b/4 */
    art_slot child[48];
};

struct art_node256 {
    struct art_inner h;
    art_slot child[256];
    art_slot end_leaf;
};

/* A leaf of one version, 4-aligned and without padding inside:
 *   header byte: 0x80 | type (0 or 1) << 6 | 0x20 if a type byte follows | value length if
 *                under 31, else 31 and a varint value length follows
 *   varint user key length, user key, varint zigzag(seq - the tree's base seq),
 *   [type byte], [varint value length], value.
 * The trailer takes 2-4 bytes instead of 8: the sequence numbers of one memtable lie close to
 * the first one it saw. Iterators assemble the internal key in a buffer of their own. */
#define ART_LEAF_TYPE_BIT 0x40
#define ART_LEAF_TYPE_BYTE 0x20
#define ART_LEAF_VLEN_MAX 31

/* A leaf of several versions: the user key once and a list of versions newest first. */
struct art_mleaf {
    uint8_t type;
    uint8_t unused[3];
    art_slot head;
    uint32_t ulen;
    uint8_t key[];
};

struct art_version {
    art_slot next;
    uint32_t vlen;
    uint8_t trailer[8];
    uint8_t value[];
};

struct art_tree {
    art_slot root;
    uint64_t base_seq; /* set before the first leaf is published, then immutable */
};

/* A one-version leaf's entry, decoded. */
struct art_entry {
    const uint8_t *ukey, *value;
    size_t ulen, vlen;
    uint64_t trailer;
};

static inline uint32_t art_load(const art_slot *s)
{
    return atomic_load_explicit((art_slot *)s, memory_order_acquire);
}

static inline void art_publish(art_slot *s, uint32_t ref)
{
    atomic_store_explicit(s, ref, memory_order_release);
}

static inline void *art_ptr(const memtable *m, uint32_t ref)
{
    return arena_ptr(m->arena, ref);
}

static inline uint32_t art_varint(const uint8_t **p)
{
    const uint8_t *q = *p;
    uint32_t v = q[0];
    if (v < 0x80) {
        *p = q + 1;
        return v;
    }
    v &= 0x7f;
    for (unsigned shift = 7, i = 1;; shift += 7, i++) {
        v |= (uint32_t)(q[i] & 0x7f) << shift;
        if (!(q[i] & 0x80)) {
            *p = q + i + 1;
            return v;
        }
    }
}

static inline uint64_t art_varint64(const uint8_t **p)
{
    const uint8_t *q = *p;
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        uint8_t b = *q++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
    }
    *p = q;
    return v;
}

/* The user key of a leaf of either kind. */
static inline const uint8_t *art_leaf_key(const uint8_t *leaf, size_t *ulen)
{
    if (leaf[0] == ART_MLEAF) {
        const struct art_mleaf *ml = (const struct art_mleaf *)leaf;
        *ulen = ml->ulen;
        return ml->key;
    }
    const uint8_t *p = leaf + 1;
    *ulen = art_varint(&p);
    return p;
}

/* Decodes a one-version leaf. */
static inline void art_leaf_entry(const memtable *m, const uint8_t *leaf, struct art_entry *e)
{
    uint8_t h = leaf[0];
    const uint8_t *p = leaf + 1;
    e->ulen = art_varint(&p);
    e->ukey = p;
    p += e->ulen;
    uint64_t z = art_varint64(&p);
    uint64_t seq = ((const struct art_tree *)m->tree)->base_seq + ((z >> 1) ^ -(z & 1));
    unsigned type = h & ART_LEAF_TYPE_BYTE ? *p++ : (h & ART_LEAF_TYPE_BIT) != 0;
    e->trailer = seq << 8 | type;
    e->vlen = h & ART_LEAF_VLEN_MAX;
    if (e->vlen == ART_LEAF_VLEN_MAX) e->vlen = art_varint(&p);
    e->value = p;
}

/* ---- child lookup and ordered neighbours (readers and the writer) ----------------------- */

static const size_t art_node_size[] = {
    [ART_N4] = sizeof(struct art_node4),
    [ART_N16] = sizeof(struct art_node16),
    [ART_N48] = sizeof(struct art_node48),
    [ART_N256] = sizeof(struct art_node256),
};

static inline uint8_t *art_prefix(struct art_inner *n)
{
    return (uint8_t *)n + art_node_size[n->type];
}

static inline unsigned art_n4_count(const struct art_inner *n)
{
    return atomic_load_explicit((_Atomic(uint8_t) *)&n->count, memory_order_acquire);
}

/* The child slots of a Node4, 16 or 48. */
static inline art_slot *art_slots(struct art_inner *n)
{
    switch (n->type) {
    case ART_N4:
        return ((struct art_node4 *)n)->child;
    case ART_N16:
        return ((struct art_node16 *)n)->child;
    default:
        return ((struct art_node48 *)n)->child;
    }
}

/* The end leaf's slot number + 1 (0: none). Loaded after the count, which is published after
 * it, so a reader never takes the end leaf's slot for a child under some byte. */
static inline unsigned art_endpos(const struct art_inner *n)
{
    return atomic_load_explicit((_Atomic(uint8_t) *)&n->endpos, memory_order_acquire);
}

/* The slot holding n's end leaf, or NULL. */
static inline art_slot *art_end_slot(struct art_inner *n)
{
    if (n->type == ART_N256) {
        art_slot *s = &((struct art_node256 *)n)->end_leaf;
        return art_load(s) ? s : NULL;
    }
    unsigned e = art_endpos(n);
    return e ? &art_slots(n)[e - 1] : NULL;
}

static inline uint32_t art_end_leaf(struct art_inner *n)
{
    art_slot *s = art_end_slot(n);
    return s ? art_load(s) : 0;
}

/* The slot of the child under byte b, or NULL. */
static art_slot *art_find_child(struct art_inner *n, uint8_t b)
{
    switch (n->type) {
    case ART_N4: {
        struct art_node4 *n4 = (struct art_node4 *)n;
        unsigned cnt = art_n4_count(n), e = art_endpos(n);
        uint32_t keys = atomic_load_explicit(&n4->keys, memory_order_relaxed);
        /* the top bit of each byte of keys equal to b (SWAR, no branch per byte) */
        uint32_t x = keys ^ (0x01010101u * b);
        uint32_t z = ~(((x & 0x7f7f7f7fu) + 0x7f7f7f7fu) | x) & 0x80808080u;
        z &= cnt >= 4 ? ~0u : (1u << (8 * cnt)) - 1;
        if (e) z &= ~(0xffu << (8 * (e - 1)));
        return z ? &n4->child[__builtin_ctz(z) / 8] : NULL;
    }
    case ART_N16: {
        struct art_node16 *n16 = (struct art_node16 *)n;
        unsigned cnt = art_n4_count(n), e = art_endpos(n);
        uint32_t w[4];
        for (int i = 0; i < 4; i++)
            w[i] = atomic_load_explicit(&n16->keys[i], memory_order_relaxed);
#ifdef __SSE2__
        __m128i k = _mm_set_epi32((int)w[3], (int)w[2], (int)w[1], (int)w[0]);
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(k, _mm_set1_epi8((char)b)));
        mask &= ((1u << cnt) - 1) & ~(e ? 1u << (e - 1) : 0u);
        return mask ? &n16->child[__builtin_ctz(mask)] : NULL;
#else
        for (unsigned i = 0; i < cnt; i++)
            if ((uint8_t)(w[i / 4] >> (8 * (i % 4))) == b && i + 1 != e) return &n16->child[i];
        return NULL;
#endif
    }
    case ART_N48: {
        struct art_node48 *n48 = (struct art_node48 *)n;
        uint32_t w = atomic_load_explicit(&n48->index[b / 4], memory_order_acquire);
        unsigned i = (w >> (8 * (b % 4))) & 0xff;
        return i ? &n48->child[i - 1] : NULL;
    }
    default: {
        struct art_node256 *n256 = (struct art_node256 *)n;
        return art_load(&n256->child[b]) ? &n256->child[b] : NULL;
    }
    }
}

/* The published key bytes of a Node4 or Node16 into keys, their count returned and the end
 * leaf's endpos in *e (the count loaded first: see art_endpos). */
static inline unsigned art_small_keys(struct art_inner *n, uint8_t keys[16], unsigned *e)
{
    unsigned cnt = art_n4_count(n);
    *e = art_endpos(n);
    _Atomic(uint32_t) *kw =
        n->type == ART_N4 ? &((struct art_node4 *)n)->keys : ((struct art_node16 *)n)->keys;
    for (unsigned j = 0; j * 4 < cnt; j++) {
        uint32_t w = atomic_load_explicit(&kw[j], memory_order_relaxed);
        for (unsigned i = 0; i < 4; i++)
            keys[4 * j + i] = (uint8_t)(w >> (8 * i));
    }
    return cnt;
}

/* The child with the smallest key byte > after (after in -1..255), its byte in *b; 0 if none. */
static uint32_t art_next_child(struct art_inner *n, int after, int *b)
{
    switch (n->type) {
    case ART_N4:
    case ART_N16: {
        uint8_t keys[16];
        unsigned e, cnt = art_small_keys(n, keys, &e);
        art_slot *child = art_slots(n);
        int best = 256;
        unsigned bi = 0;
        for (unsigned i = 0; i < cnt; i++) {
            if (i + 1 == e) continue;
            int k = keys[i];
            if (k > after && k < best) {
                best = k;
                bi = i;
            }
        }
        if (best == 256) return 0;
        *b = best;
        return art_load(&child[bi]);
    }
    case ART_N48: {
        struct art_node48 *n48 = (struct art_node48 *)n;
        for (int c = after + 1; c < 256;) {
            uint32_t w = atomic_load_explicit(&n48->index[c / 4], memory_order_acquire);
            if (w == 0) {
                c = (c / 4 + 1) * 4;
                continue;
            }
            unsigned i = (w >> (8 * (c % 4))) & 0xff;
            if (i) {
                *b = c;
                return art_load(&n48->child[i - 1]);
            }
            c++;
        }
        return 0;
    }
    default: {
        struct art_node256 *n256 = (struct art_node256 *)n;
        for (int c = after + 1; c < 256; c++) {
            uint32_t r = art_load(&n256->child[c]);
            if (r) {
                *b = c;
                return r;
            }
        }
        return 0;
    }
    }
}

/* The child with the largest key byte < before (before in 0..256), its byte in *b; 0 if none. */
static uint32_t art_prev_child(struct art_inner *n, int before, int *b)
{
    switch (n->type) {
    case ART_N4:
    case ART_N16: {
        uint8_t keys[16];
        unsigned e, cnt = art_small_keys(n, keys, &e);
        art_slot *child = art_slots(n);
        int best = -1;
        unsigned bi = 0;
        for (unsigned i = 0; i < cnt; i++) {
            if (i + 1 == e) continue;
            int k = keys[i];
            if (k < before && k > best) {
                best = k;
                bi = i;
            }
        }
        if (best < 0) return 0;
        *b = best;
        return art_load(&child[bi]);
    }
    case ART_N48: {
        struct art_node48 *n48 = (struct art_node48 *)n;
        for (int c = before - 1; c >= 0;) {
            uint32_t w = atomic_load_explicit(&n48->index[c / 4], memory_order_acquire);
            if (w == 0) {
                c = (c / 4) * 4 - 1;
                continue;
            }
            unsigned i = (w >> (8 * (c % 4))) & 0xff;
            if (i) {
                *b = c;
                return art_load(&n48->child[i - 1]);
            }
            c--;
        }
        return 0;
    }
    default: {
        struct art_node256 *n256 = (struct art_node256 *)n;
        for (int c = before - 1; c >= 0; c--) {
            uint32_t r = art_load(&n256->child[c]);
            if (r) {
                *b = c;
                return r;
            }
        }
        return 0;
    }
    }
}

/* Any leaf under n (its smallest): its key holds n's whole path. */
static const uint8_t *art_any_leaf(const memtable *m, struct art_inner *n)
{
    for (;;) {
        uint32_t r = art_end_leaf(n);
        int b;
        if (!r) r = art_next_child(n, -1, &b);
        const uint8_t *p = art_ptr(m, r);
        if (ART_IS_LEAF(p[0])) return p;
        n = (struct art_inner *)p;
    }
}

/* Compares key[d..min(klen, end)) with the path of n entered at depth d: the sign of the first
 * differing byte (key against path), 0 if all compared bytes are equal. */
static int art_prefix_cmp(const memtable *m, struct art_inner *n, size_t d, const uint8_t *key,
                          size_t klen)
{
    size_t end = n->end, stop = klen < end ? klen : end;
    if (d >= stop) return 0;
    size_t stored = n->nprefix < end - d ? n->nprefix : end - d, from = end - stored;
    const uint8_t *full = NULL;
    if (d < from) {
        size_t ll;
        full = art_leaf_key(art_any_leaf(m, n), &ll);
    }
    for (size_t i = d; i < stop; i++) {
        uint8_t pb = i >= from ? art_prefix(n)[n->nprefix - (end - i)] : full[i];
        if (key[i] != pb) return key[i] < pb ? -1 : 1;
    }
    return 0;
}

/* ---- writer ------------------------------------------------------------------------------ */

/* A zeroed node with room for nprefix path bytes after its children. */
static struct art_inner *art_node_new(memtable *m, int type, size_t nprefix, uint32_t *ref)
{
    size_t size = art_node_size[type] + nprefix;
    struct art_inner *n = arena_alloc_ref(m->arena, size, 4, ref);
    if (!n) return NULL;
    memset(n, 0, size);
    n->type = (uint8_t)type;
    n->nprefix = (uint8_t)nprefix;
    return n;
}

/* A new Node4 ending at depth end whose path was entered at depth d; key supplies its bytes. */
static struct art_inner *art_node4_new(memtable *m, const uint8_t *key, size_t d, size_t end,
                                       uint32_t *ref)
{
    size_t stored = end - d < ART_PREFIX_MAX ? end - d : ART_PREFIX_MAX;
    struct art_inner *n = art_node_new(m, ART_N4, stored, ref);
    if (!n) return NULL;
    n->end = (uint32_t)end;
    memcpy(art_prefix(n), key + end - stored, stored);
    return n;
}

/* Adds child under byte b (b < 0: as the end leaf) to an unpublished node or publishes it in
 * place; the node has room. */
static void art_node_put(struct art_inner *n, int b, uint32_t child)
{
    unsigned cnt = atomic_load_explicit(&n->count, memory_order_relaxed);
    if (b < 0) {
        if (n->type == ART_N256) {
            art_publish(&((struct art_node256 *)n)->end_leaf, child);
            return;
        }
        /* slot, then endpos (for readers going straight to the end leaf), then count */
        atomic_store_explicit(&art_slots(n)[cnt], child, memory_order_relaxed);
        atomic_store_explicit(&n->endpos, (uint8_t)(cnt + 1), memory_order_release);
        atomic_store_explicit(&n->count, (uint8_t)(cnt + 1), memory_order_release);
        return;
    }
    switch (n->type) {
    case ART_N4: {
        struct art_node4 *n4 = (struct art_node4 *)n;
        atomic_store_explicit(&n4->child[cnt], child, memory_order_relaxed);
        uint32_t k = atomic_load_explicit(&n4->keys, memory_order_relaxed);
        atomic_store_explicit(&n4->keys, k | (uint32_t)b << (8 * cnt), memory_order_relaxed);
        atomic_store_explicit(&n->count, (uint8_t)(cnt + 1), memory_order_release);
        break;
    }
    case ART_N16: {
        struct art_node16 *n16 = (struct art_node16 *)n;
        atomic_store_explicit(&n16->child[cnt], child, memory_order_relaxed);
        uint32_t k = atomic_load_explicit(&n16->keys[cnt / 4], memory_order_relaxed);
        atomic_store_explicit(&n16->keys[cnt / 4], k | (uint32_t)b << (8 * (cnt % 4)),
                              memory_order_relaxed);
        atomic_store_explicit(&n->count, (uint8_t)(cnt + 1), memory_order_release);
        break;
    }
    case ART_N48: {
        struct art_node48 *n48 = (struct art_node48 *)n;
        atomic_store_explicit(&n48->child[cnt], child, memory_order_relaxed);
        uint32_t w = atomic_load_explicit(&n48->index[b / 4], memory_order_relaxed);
        atomic_store_explicit(&n48->index[b / 4], w | (cnt + 1) << (8 * (b % 4)),
                              memory_order_release);
        atomic_store_explicit(&n->count, (uint8_t)(cnt + 1), memory_order_relaxed);
        break;
    }
    default:
        art_publish(&((struct art_node256 *)n)->child[b], child);
        break;
    }
}

static bool art_node_full(const struct art_inner *n)
{
    unsigned cnt = atomic_load_explicit((_Atomic(uint8_t) *)&n->count, memory_order_relaxed);
    switch (n->type) {
    case ART_N4:
        return cnt == 4;
    case ART_N16:
        return cnt == 16;
    case ART_N48:
        return cnt == 48;
    default:
        return false;
    }
}

/* Adds child under byte b (b < 0: the end leaf) to the node n held in slot: in place when it
 * has room, else into a copy of the next size published in its place. */
static int art_add_child(memtable *m, art_slot *slot, struct art_inner *n, int b, uint32_t child)
{
    if (!art_node_full(n)) {
        art_node_put(n, b, child);
        return 0;
    }
    uint32_t ref;
    struct art_inner *g = art_node_new(m, n->type + 1, n->nprefix, &ref);
    if (!g) return LAMINA_ENOMEM;
    g->end = n->end;
    memcpy(art_prefix(g), art_prefix(n), n->nprefix);
    uint32_t e = art_end_leaf(n);
    if (e) art_node_put(g, -1, e);
    for (int c = -1;;) {
        uint32_t r = art_next_child(n, c, &c);
        if (!r) break;
        art_node_put(g, c, r);
    }
    art_node_put(g, b, child);
    art_publish(slot, ref);
    return 0;
}

static int art_leaf_new(memtable *m, const uint8_t *ukey, size_t ulen, uint64_t trailer,
                        const void *value, size_t vlen, uint32_t *ref)
{
    struct art_tree *t = m->tree;
    uint64_t seq = trailer >> 8, type = trailer & 0xff;
    int64_t delta = (int64_t)(seq - t->base_seq);
    uint64_t z = (uint64_t)delta << 1 ^ (uint64_t)(delta >> 63);
    uint8_t h = ART_LEAF;
    if (type > 1)
        h |= ART_LEAF_TYPE_BYTE;
    else if (type)
        h |= ART_LEAF_TYPE_BIT;
    h |= vlen < ART_LEAF_VLEN_MAX ? (uint8_t)vlen : ART_LEAF_VLEN_MAX;
    size_t size = 1 + coding_varint_len(ulen) + ulen + coding_varint_len(z) + (type > 1) +
                  (vlen >= ART_LEAF_VLEN_MAX ? coding_varint_len(vlen) : 0) + vlen;
    uint8_t *p = arena_alloc_ref(m->arena, size, 4, ref);
    if (!p) return LAMINA_ENOMEM;
    p[0] = h;
    size_t o = 1 + coding_put_varint64(p + 1, ulen);
    if (ulen) memcpy(p + o, ukey, ulen);
    o += ulen;
    o += coding_put_varint64(p + o, z);
    if (type > 1) p[o++] = (uint8_t)type;
    if (vlen >= ART_LEAF_VLEN_MAX) o += coding_put_varint64(p + o, vlen);
    if (vlen) memcpy(p + o, value, vlen);
    return 0;
}

static struct art_version *art_version_new(memtable *m, uint64_t trailer, const void *value,
                                           size_t vlen, uint32_t *ref)
{
    struct art_version *v = arena_alloc_ref(m->arena, sizeof(struct art_version) + vlen, 4, ref);
    if (!v) return NULL;
    atomic_init(&v->next, 0);
    v->vlen = (uint32_t)vlen;
    coding_put_fixed64(v->trailer, trailer);
    if (vlen) memcpy(v->value, value, vlen);
    return v;
}

/* Adds a version to the leaf in slot, whose user key is the new entry's. A one-version leaf
 * becomes a multi-version leaf published in its place; a multi-version leaf gets the version
 * linked into its list (after versions with equal or larger trailers, as the AVL does). */
static int art_add_version(memtable *m, art_slot *slot, uint8_t *leaf, uint64_t trailer,
                           const void *value, size_t vlen)
{
    uint32_t vref;
    struct art_version *v = art_version_new(m, trailer, value, vlen, &vref);
    if (!v) return LAMINA_ENOMEM;
    if (leaf[0] == ART_MLEAF) {
        struct art_mleaf *ml = (struct art_mleaf *)leaf;
        art_slot *link = &ml->head;
        for (;;) {
            uint32_t r = atomic_load_explicit(link, memory_order_relaxed);
            if (!r) break;
            struct art_version *c = art_ptr(m, r);
            if (coding_get_fixed64(c->trailer) < trailer) break;
            link = &c->next;
        }
        atomic_store_explicit(&v->next, atomic_load_explicit(link, memory_order_relaxed),
                              memory_order_relaxed);
        art_publish(link, vref);
        return 0;
    }
    struct art_entry e;
    art_leaf_entry(m, leaf, &e);
    const uint8_t *ukey = e.ukey;
    size_t ulen = e.ulen;
    uint64_t ot = e.trailer;
    uint32_t oref, mref;
    struct art_version *o = art_version_new(m, ot, e.value, e.vlen, &oref);
    if (!o) return LAMINA_ENOMEM;
    struct art_mleaf *ml = arena_alloc_ref(m->arena, sizeof *ml + ulen, 4, &mref);
    if (!ml) return LAMINA_ENOMEM;
    ml->type = ART_MLEAF;
    ml->ulen = (uint32_t)ulen;
    if (ulen) memcpy(ml->key, ukey, ulen);
    if (trailer > ot) {
        atomic_init(&v->next, oref);
        atomic_init(&ml->head, vref);
    } else {
        atomic_init(&o->next, vref);
        atomic_init(&ml->head, oref);
    }
    art_publish(slot, mref);
    return 0;
}

static size_t art_lcp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen, i = 0;
    while (i + 8 <= n) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        if (x != y) return i + (size_t)__builtin_clzll(x ^ y) / 8;
#else
        if (x != y) return i + (size_t)__builtin_ctzll(x ^ y) / 8;
#endif
        i += 8;
    }
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Replaces what slot holds (a node entered at depth d, or a leaf) by a new Node4 ending at p,
 * with the old contents under its byte old_key[p] (or as its end leaf) and the new leaf. */
static int art_split(memtable *m, art_slot *slot, uint32_t old, const uint8_t *old_key,
                     size_t old_len, const uint8_t *ukey, size_t ulen, size_t d, size_t p,
                     uint32_t leaf)
{
    uint32_t ref;
    struct art_inner *n = art_node4_new(m, ukey, d, p, &ref);
    if (!n) return LAMINA_ENOMEM;
    if (old_len == p)
        art_node_put(n, -1, old);
    else
        art_node_put(n, old_key[p], old);
    if (ulen == p)
        art_node_put(n, -1, leaf);
    else
        art_node_put(n, ukey[p], leaf);
    art_publish(slot, ref);
    return 0;
}

static int art_init(memtable *m)
{
    struct art_tree *t = arena_alloc(m->arena, sizeof *t);
    if (!t) return LAMINA_ENOMEM;
    atomic_init(&t->root, 0);
    m->tree = t;
    return 0;
}

/* Insertion descends optimistically (by the bytes at node ends only) to a leaf, or to any
 * leaf under the node where the descent stops; the longest common prefix p of the new key and
 * that leaf's key then says where the key leaves the tree: inside some node's path (a split
 * above that node), at the end of the last node (a new child or end leaf), or at the leaf. */
static int art_add(memtable *m, uint64_t trailer, const void *ukeyv, size_t ulen, const void *value,
                   size_t vlen)
{
    const uint8_t *ukey = ukeyv;
    struct art_tree *t = m->tree;
    if (ulen > UINT32_MAX - IKEY_TRAILER || vlen > UINT32_MAX)
        return err_set(LAMINA_EINVAL, "memtable: entry too large (key %zu, value %zu bytes)", ulen,
                       vlen);
    art_slot *slot = &t->root, *last_slot = NULL;
    struct art_inner *last = NULL;
    size_t d = 0, last_d = 0;
    const uint8_t *leaf = NULL, *lkey;
    enum { AT_LEAF, NO_END_LEAF, NO_CHILD, SHORT } stop;
    uint32_t ref;
    for (;;) {
        ref = atomic_load_explicit(slot, memory_order_relaxed);
        if (!ref) { /* the empty tree */
            uint32_t lref;
            t->base_seq = trailer >> 8;
            if (art_leaf_new(m, ukey, ulen, trailer, value, vlen, &lref) != 0) goto nomem;
            art_publish(slot, lref);
            return 0;
        }
        uint8_t *p = art_ptr(m, ref);
        if (ART_IS_LEAF(p[0])) {
            leaf = p;
            stop = AT_LEAF;
            break;
        }
        struct art_inner *n = (struct art_inner *)p;
        last = n;
        last_slot = slot;
        last_d = d;
        if (ulen < n->end) {
            stop = SHORT;
            break;
        }
        if (ulen == n->end) {
            art_slot *es = art_end_slot(n);
            if (es) {
                slot = es;
                d = n->end;
                continue;
            }
            stop = NO_END_LEAF;
            break;
        }
        art_slot *c = art_find_child(n, ukey[n->end]);
        if (!c) {
            stop = NO_CHILD;
            break;
        }
        slot = c;
        d = n->end + 1;
    }
    if (!leaf) leaf = art_any_leaf(m, last);
    size_t llen;
    lkey = art_leaf_key(leaf, &llen);
    size_t p = art_lcp(ukey, ulen, lkey, llen);
    if (stop == AT_LEAF && p == ulen && p == llen) {
        if (art_add_version(m, slot, (uint8_t *)leaf, trailer, value, vlen) != 0) goto nomem;
        return 0;
    }

    uint32_t lref;
    if (art_leaf_new(m, ukey, ulen, trailer, value, vlen, &lref) != 0) goto nomem;
    if (last && p < last->end) {
        /* The key leaves the tree inside a node's path: the last node's, or (rarely) an
         * ancestor's, found by descending again. */
        art_slot *s = last_slot;
        struct art_inner *n = last;
        size_t nd = last_d;
        if (p < last_d) {
            s = &t->root;
            nd = 0;
            for (;;) {
                n = art_ptr(m, atomic_load_explicit(s, memory_order_relaxed));
                if (p < n->end) break;
                s = art_find_child(n, ukey[n->end]);
                nd = n->end + 1;
            }
        }
        if (art_split(m, s, atomic_load_explicit(s, memory_order_relaxed), lkey, llen, ukey, ulen,
                      nd, p, lref) != 0)
            goto nomem;
        return 0;
    }
    switch (stop) {
    case AT_LEAF:
        if (art_split(m, slot, ref, lkey, llen, ukey, ulen, d, p, lref) != 0) goto nomem;
        return 0;
    case NO_END_LEAF:
        if (art_add_child(m, last_slot, last, -1, lref) != 0) goto nomem;
        return 0;
    case NO_CHILD:
        if (art_add_child(m, last_slot, last, ukey[last->end], lref) != 0) goto nomem;
        return 0;
    case SHORT:
        break; /* p <= ulen < last->end: handled above */
    }
    return 0;
nomem:
    return err_set(LAMINA_ENOMEM, "memtable: cannot allocate an ART node or leaf");
}

/* ---- readers ------------------------------------------------------------------------------ */

/* Descends by the bytes at node ends only; the leaf's full key is compared instead of the
 * paths on the way (the optimistic lookup of the paper, here for every node). */
static const uint8_t *art_find_leaf(const memtable *m, const uint8_t *ukey, size_t ulen)
{
    uint32_t ref = art_load(&((struct art_tree *)m->tree)->root);
    while (ref) {
        const uint8_t *p = art_ptr(m, ref);
        if (ART_IS_LEAF(p[0])) {
            size_t llen;
            const uint8_t *lkey = art_leaf_key(p, &llen);
            return llen == ulen && memcmp(lkey, ukey, ulen) == 0 ? p : NULL;
        }
        struct art_inner *n = (struct art_inner *)p;
        if (ulen <= n->end) {
            if (ulen < n->end) return NULL;
            ref = art_end_leaf(n);
            continue;
        }
        art_slot *c = art_find_child(n, ukey[n->end]);
        if (!c) return NULL;
        ref = art_load(c);
    }
    return NULL;
}

static int art_get(memtable *m, const void *ukey, size_t ulen, uint64_t trailer, uint64_t *found,
                   const uint8_t **value, size_t *vlen)
{
    const uint8_t *leaf = art_find_leaf(m, ukey, ulen);
    if (!leaf) return LAMINA_NOTFOUND;
    if (leaf[0] != ART_MLEAF) {
        struct art_entry e;
        art_leaf_entry(m, leaf, &e);
        if (e.trailer > trailer) return LAMINA_NOTFOUND;
        *found = e.trailer;
        *value = e.value;
        *vlen = e.vlen;
        return 0;
    }
    /* Versions are newest first: the first with trailer <= the probe's is the answer. */
    const struct art_mleaf *ml = (const struct art_mleaf *)leaf;
    for (uint32_t r = art_load(&ml->head); r;) {
        const struct art_version *v = art_ptr(m, r);
        uint64_t t = coding_get_fixed64(v->trailer);
        if (t <= trailer) {
            *found = t;
            *value = v->value;
            *vlen = v->vlen;
            return 0;
        }
        r = art_load(&v->next);
    }
    return LAMINA_NOTFOUND;
}

/* ---- iterators ---------------------------------------------------------------------------- */

struct art_frame {
    struct art_inner *n;
    int pos; /* key byte of the child on the path, or -1 for the end leaf */
};

struct art_iter {
    iter base;
    memtable *m;
    int status;
    const uint8_t *leaf;      /* the entry's leaf; NULL when not valid */
    struct art_version *ver;  /* the entry's version in a multi-version leaf */
    const uint8_t *key, *val; /* the entry's internal key (in the leaf or kbuf) and value */
    size_t klen, vlen;
    struct art_frame *stack; /* nodes from the iteration root to the entry */
    size_t depth, cap;
    uint8_t *kbuf;
    size_t kcap;
    size_t visits; /* inner nodes stepped onto, for tests (art_iter_visits) */
    size_t plen;   /* a prefix iterator's prefix (0: the whole tree) */
    uint8_t prefix[];
};

static int art_iter_fail(struct art_iter *it, int rc)
{
    it->status = rc;
    it->leaf = NULL;
    return rc;
}

static int art_push(struct art_iter *it, struct art_inner *n, int pos)
{
    if (it->depth == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 16;
        struct art_frame *s = mem_realloc(it->stack, cap * sizeof *s);
        if (!s) return art_iter_fail(it, err_set(LAMINA_ENOMEM, "memtable: iterator stack"));
        it->stack = s;
        it->cap = cap;
    }
    it->visits++;
    it->stack[it->depth].n = n;
    it->stack[it->depth].pos = pos;
    it->depth++;
    return 0;
}

/* Makes version v of leaf (NULL for a one-version leaf) the entry. */
static int art_set_entry(struct art_iter *it, const uint8_t *leaf, struct art_version *v)
{
    it->leaf = leaf;
    it->ver = v;
    struct art_entry e;
    if (!v) {
        art_leaf_entry(it->m, leaf, &e);
    } else {
        const struct art_mleaf *ml = (const struct art_mleaf *)leaf;
        e.ukey = ml->key;
        e.ulen = ml->ulen;
        e.trailer = coding_get_fixed64(v->trailer);
        e.value = v->value;
        e.vlen = v->vlen;
    }
    size_t klen = e.ulen + IKEY_TRAILER;
    if (klen > it->kcap) {
        size_t cap = klen < 64 ? 64 : klen * 2;
        uint8_t *b = mem_realloc(it->kbuf, cap);
        if (!b) return art_iter_fail(it, err_set(LAMINA_ENOMEM, "memtable: iterator key buffer"));
        it->kbuf = b;
        it->kcap = cap;
    }
    if (e.ulen) memcpy(it->kbuf, e.ukey, e.ulen);
    coding_put_fixed64(it->kbuf + e.ulen, e.trailer);
    it->key = it->kbuf;
    it->klen = klen;
    it->val = e.value;
    it->vlen = e.vlen;
    return 0;
}

static int art_leaf_first(struct art_iter *it, const uint8_t *leaf)
{
    if (leaf[0] != ART_MLEAF) return art_set_entry(it, leaf, NULL);
    const struct art_mleaf *ml = (const struct art_mleaf *)leaf;
    return art_set_entry(it, leaf, art_ptr(it->m, art_load(&ml->head)));
}

static int art_leaf_last(struct art_iter *it, const uint8_t *leaf)
{
    if (leaf[0] != ART_MLEAF) return art_set_entry(it, leaf, NULL);
    const struct art_mleaf *ml = (const struct art_mleaf *)leaf;
    struct art_version *v = art_ptr(it->m, art_load(&ml->head));
    for (uint32_t r; (r = art_load(&v->next));)
        v = art_ptr(it->m, r);
    return art_set_entry(it, leaf, v);
}

/* The smallest entry under ref (a node or a leaf), pushing the nodes on the way. */
static int art_descend_first(struct art_iter *it, uint32_t ref)
{
    for (;;) {
        const uint8_t *p = art_ptr(it->m, ref);
        if (ART_IS_LEAF(p[0])) return art_leaf_first(it, p);
        struct art_inner *n = (struct art_inner *)p;
        uint32_t e = art_end_leaf(n);
        if (e) {
            if (art_push(it, n, -1)) return it->status;
            return art_leaf_first(it, art_ptr(it->m, e));
        }
        int b;
        ref = art_next_child(n, -1, &b);
        if (art_push(it, n, b)) return it->status;
    }
}

/* The largest entry under ref, pushing the nodes on the way. */
static int art_descend_last(struct art_iter *it, uint32_t ref)
{
    for (;;) {
        const uint8_t *p = art_ptr(it->m, ref);
        if (ART_IS_LEAF(p[0])) return art_leaf_last(it, p);
        struct art_inner *n = (struct art_inner *)p;
        int b;
        uint32_t c = art_prev_child(n, 256, &b);
        if (!c) {
            if (art_push(it, n, -1)) return it->status;
            return art_leaf_last(it, art_ptr(it->m, art_end_leaf(n)));
        }
        if (art_push(it, n, b)) return it->status;
        ref = c;
    }
}

/* Moves to the first entry after the subtree the top frame's position leads to. */
static int art_ascend_next(struct art_iter *it)
{
    while (it->depth > 0) {
        struct art_frame *f = &it->stack[it->depth - 1];
        int b;
        uint32_t c = art_next_child(f->n, f->pos, &b);
        if (c) {
            f->pos = b;
            return art_descend_first(it, c);
        }
        it->depth--;
    }
    it->leaf = NULL;
    return 0;
}

static int art_ascend_prev(struct art_iter *it)
{
    while (it->depth > 0) {
        struct art_frame *f = &it->stack[it->depth - 1];
        if (f->pos >= 0) {
            int b;
            uint32_t c = art_prev_child(f->n, f->pos, &b);
            if (c) {
                f->pos = b;
                return art_descend_last(it, c);
            }
            uint32_t e = art_end_leaf(f->n);
            if (e) {
                f->pos = -1;
                return art_leaf_last(it, art_ptr(it->m, e));
            }
        }
        it->depth--;
    }
    it->leaf = NULL;
    return 0;
}

/* The first entry >= (ukey, trailer) under ref, a node entered at depth d (or a leaf). */
static int art_lower_bound(struct art_iter *it, uint32_t ref, size_t d, const uint8_t *ukey,
                           size_t ulen, uint64_t trailer)
{
    for (;;) {
        const uint8_t *p = art_ptr(it->m, ref);
        if (ART_IS_LEAF(p[0])) {
            size_t llen;
            const uint8_t *lkey = art_leaf_key(p, &llen);
            int c = ikey_user_cmp(lkey, llen, ukey, ulen);
            if (c > 0) return art_leaf_first(it, p);
            if (c < 0) return art_ascend_next(it);
            if (p[0] != ART_MLEAF) {
                struct art_entry e;
                art_leaf_entry(it->m, p, &e);
                if (e.trailer <= trailer) return art_set_entry(it, p, NULL);
                return art_ascend_next(it);
            }
            const struct art_mleaf *ml = (const struct art_mleaf *)p;
            for (uint32_t r = art_load(&ml->head); r;) {
                struct art_version *v = art_ptr(it->m, r);
                if (coding_get_fixed64(v->trailer) <= trailer) return art_set_entry(it, p, v);
                r = art_load(&v->next);
            }
            return art_ascend_next(it);
        }
        struct art_inner *n = (struct art_inner *)p;
        int c = art_prefix_cmp(it->m, n, d, ukey, ulen);
        if (c < 0 || (c == 0 && ulen < n->end)) return art_descend_first(it, ref);
        if (c > 0) return art_ascend_next(it);
        if (ulen == n->end) {
            if (art_push(it, n, -1)) return it->status;
            uint32_t e = art_end_leaf(n);
            if (!e) return art_ascend_next(it);
            ref = e;
            d = n->end;
            continue;
        }
        uint8_t b = ukey[n->end];
        if (art_push(it, n, b)) return it->status;
        art_slot *s = art_find_child(n, b);
        if (!s) return art_ascend_next(it);
        ref = art_load(s);
        d = n->end + 1;
    }
}

/* The iteration root: the tree's root, or the node or leaf covering a prefix iterator's
 * prefix (0 when nothing starts with it), resolved again at every seek. */
static uint32_t art_iter_root(struct art_iter *it, size_t *depth)
{
    uint32_t ref = art_load(&((struct art_tree *)it->m->tree)->root);
    size_t d = 0;
    *depth = 0;
    if (!it->plen) return ref;
    while (ref) {
        const uint8_t *p = art_ptr(it->m, ref);
        if (ART_IS_LEAF(p[0])) {
            size_t llen;
            const uint8_t *lkey = art_leaf_key(p, &llen);
            if (llen < it->plen || memcmp(lkey, it->prefix, it->plen) != 0) return 0;
            *depth = d;
            return ref;
        }
        struct art_inner *n = (struct art_inner *)p;
        it->visits++;
        if (art_prefix_cmp(it->m, n, d, it->prefix, it->plen) != 0) return 0;
        if (it->plen <= n->end) {
            *depth = d;
            return ref;
        }
        art_slot *s = art_find_child(n, it->prefix[n->end]);
        if (!s) return 0;
        ref = art_load(s);
        d = n->end + 1;
    }
    return 0;
}

static int art_iter_start(struct art_iter *it, uint32_t *ref, size_t *d)
{
    it->depth = 0;
    it->leaf = NULL;
    it->status = 0;
    *ref = art_iter_root(it, d);
    return *ref != 0;
}

static int art_iter_seek_to_first(iter *base)
{
    struct art_iter *it = (struct art_iter *)base;
    uint32_t ref;
    size_t d;
    if (!art_iter_start(it, &ref, &d)) return 0;
    return art_descend_first(it, ref);
}

static int art_iter_seek_to_last(iter *base)
{
    struct art_iter *it = (struct art_iter *)base;
    uint32_t ref;
    size_t d;
    if (!art_iter_start(it, &ref, &d)) return 0;
    return art_descend_last(it, ref);
}

static int art_iter_seek(iter *base, const uint8_t *k, size_t len)
{
    struct art_iter *it = (struct art_iter *)base;
    if (it->plen) {
        int place = memtable_prefix_place(it->prefix, it->plen, k, len);
        if (place < 0) return art_iter_seek_to_first(base);
        if (place > 0) {
            it->leaf = NULL;
            it->status = 0;
            return 0;
        }
    }
    uint32_t ref;
    size_t d, ulen;
    uint64_t trailer;
    if (!art_iter_start(it, &ref, &d)) return 0;
    memtable_split_probe(k, len, &ulen, &trailer);
    return art_lower_bound(it, ref, d, k, ulen, trailer);
}

static int art_iter_next(iter *base);
static int art_iter_prev(iter *base);

static int art_iter_seek_for_prev(iter *base, const uint8_t *k, size_t len)
{
    struct art_iter *it = (struct art_iter *)base;
    if (it->plen) {
        int place = memtable_prefix_place(it->prefix, it->plen, k, len);
        if (place > 0) return art_iter_seek_to_last(base);
        if (place < 0) {
            it->leaf = NULL;
            it->status = 0;
            return 0;
        }
    }
    uint32_t ref;
    size_t d, ulen;
    uint64_t trailer;
    if (!art_iter_start(it, &ref, &d)) return 0;
    memtable_split_probe(k, len, &ulen, &trailer);
    /* The last entry <= probe is the first >= it when equal, else the one before that. The
     * writer may add entries between the two steps, so step back past any that is now after
     * the probe (a bare user key is after every version of keys >= it). */
    int rc = art_lower_bound(it, ref, d, k, ulen, trailer);
    if (rc) return rc;
    if (!it->leaf)
        rc = art_descend_last(it, ref);
    else if (len >= IKEY_TRAILER && it->klen == len && memcmp(it->key, k, len) == 0)
        return 0;
    else
        rc = art_iter_prev(base);
    while (rc == 0 && it->leaf) {
        int c = len < IKEY_TRAILER ? (ikey_user_cmp(it->key, it->klen - IKEY_TRAILER, k, len) >= 0)
                                   : ikey_cmp(it->key, it->klen, k, len) > 0;
        if (!c) break;
        rc = art_iter_prev(base);
    }
    return rc;
}

static int art_iter_next(iter *base)
{
    struct art_iter *it = (struct art_iter *)base;
    if (!it->leaf) return 0;
    if (it->ver) {
        uint32_t r = art_load(&it->ver->next);
        if (r) return art_set_entry(it, it->leaf, art_ptr(it->m, r));
    }
    return art_ascend_next(it);
}

static int art_iter_prev(iter *base)
{
    struct art_iter *it = (struct art_iter *)base;
    if (!it->leaf) return 0;
    if (it->ver) {
        /* Versions are singly linked: find the one before, as the list reads now. */
        const struct art_mleaf *ml = (const struct art_mleaf *)it->leaf;
        struct art_version *prev = NULL;
        for (uint32_t r = art_load(&ml->head); r;) {
            struct art_version *v = art_ptr(it->m, r);
            if (v == it->ver) break;
            prev = v;
            r = art_load(&v->next);
        }
        if (prev) return art_set_entry(it, it->leaf, prev);
    }
    return art_ascend_prev(it);
}

static int art_iter_valid(const iter *base)
{
    return ((const struct art_iter *)base)->leaf != NULL;
}

static const uint8_t *art_iter_key(const iter *base, size_t *len)
{
    const struct art_iter *it = (const struct art_iter *)base;
    if (!it->leaf) {
        *len = 0;
        return NULL;
    }
    *len = it->klen;
    return it->key;
}

static const uint8_t *art_iter_value(const iter *base, size_t *len)
{
    const struct art_iter *it = (const struct art_iter *)base;
    if (!it->leaf) {
        *len = 0;
        return NULL;
    }
    *len = it->vlen;
    return it->val;
}

static int art_iter_status(const iter *base)
{
    return ((const struct art_iter *)base)->status;
}

static void art_iter_destroy(iter *base)
{
    struct art_iter *it = (struct art_iter *)base;
    memtable_unref(it->m);
    mem_free(it->stack);
    mem_free(it->kbuf);
    mem_free(it);
}

static const struct iter_ops art_iter_ops = {
    .seek = art_iter_seek,
    .seek_for_prev = art_iter_seek_for_prev,
    .seek_to_first = art_iter_seek_to_first,
    .seek_to_last = art_iter_seek_to_last,
    .next = art_iter_next,
    .prev = art_iter_prev,
    .valid = art_iter_valid,
    .key = art_iter_key,
    .value = art_iter_value,
    .status = art_iter_status,
    .destroy = art_iter_destroy,
};

/* Inner nodes an ART iterator has stepped onto since its creation, so a test can check that
 * a prefix iterator never leaves its subtree. Tests declare it; it is no interface. */
size_t art_iter_visits(const iter *it);
size_t art_iter_visits(const iter *it)
{
    return ((const struct art_iter *)it)->visits;
}

static iter *art_prefix_iter_create(memtable *m, const void *prefix, size_t plen)
{
    struct art_iter *it = mem_calloc(1, sizeof *it + plen);
    if (!it) {
        err_set(LAMINA_ENOMEM, "memtable: cannot allocate an iterator");
        return NULL;
    }
    it->base.ops = &art_iter_ops;
    it->m = m;
    it->plen = plen;
    if (plen) memcpy(it->prefix, prefix, plen);
    memtable_ref(m);
    return &it->base;
}

static iter *art_iter_create(memtable *m)
{
    return art_prefix_iter_create(m, NULL, 0);
}

const struct memtable_ops memtable_art_ops = {
    .init = art_init,
    .add = art_add,
    .get = art_get,
    .iter_create = art_iter_create,
    .prefix_iter_create = art_prefix_iter_create,
};
