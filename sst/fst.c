/* fst.c — the FST table index: a minimal acyclic transducer built incrementally (Daciuk,
 * Mihov, Watson & Watson 2000) with outputs pushed toward the root (Mihov & Maurel 2001), laid
 * out like Lucene's FST (children before parents, packed arcs) and read in place.
 *
 * Layout (docs/format.md, "FST index"; integers little-endian, varints LEB128):
 *   header  magic 0xF5 | version 1 | varint total bytes | varint keys | varint root offset
 *   area    one pad byte (offset 0 stands for the final state without arcs), then the nodes,
 *           each written after every node it points to; offsets are within the area.
 *   node    header byte: bits 0-1 kind, the rest per kind:
 *     CHAIN  (0) a run of non-final single-arc states: bit 2 first arc has an output, bit 3
 *            target has a skip, bits 4-7 labels-1 (15: varint labels-16 follows); labels;
 *            [varint output]; varint target delta; [varint skip]
 *     LIST   (1) bit 2 final, bit 3 final output follows, bits 4-7 arcs (0: varint follows);
 *            [varint final output]; [varint arcs]; per arc: label, varint (delta << 2 |
 *            has output << 1 | has skip), [varint skip], [varint output]
 *     ARRAY  (2) bits 2-3 as LIST, bits 4-7 skip width; [final output]; arcs-1 (byte);
 *            widths byte (output bytes << 4 | delta bytes); per arc: label, output, delta,
 *            skip in those fixed widths: binary search over the labels
 *     BITMAP (3) as ARRAY but a 32-byte label set instead of the count and labels: rank finds
 *            the arc
 *   A target is (delta, skip): the node at (this node's offset - delta), delta 0 meaning the
 *   final state without arcs; skip > 0 enters a chain at its skip-th label. Deltas are at least
 *   1 and below the node's offset, so every path runs toward offset 0 and ends. */
#include <string.h>

#include "sst/fst.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/hash.h"

#define FST_MAGIC 0xF5
#define FST_VERSION 1

enum { FST_NODE_CHAIN = 0, FST_NODE_LIST = 1, FST_NODE_ARRAY = 2, FST_NODE_BITMAP = 3 };
/* A decoded state that is not a node: the final state without arcs (offset 0). */
#define FST_NODE_LEAF 4

/* States with more arcs than this are written with fixed-width arcs (ARRAY or BITMAP). */
#define FST_LIST_MAX 8

/* A reference to a state: node offset << 16 | skip (the label index inside a chain). Chains
 * hold at most FST_MAX_KEY labels, so skip fits in 16 bits. */
#define FST_REF(off, skip) ((uint64_t)(off) << 16 | (uint64_t)(skip))
#define FST_REF_OFF(r) ((r) >> 16)
#define FST_REF_SKIP(r) ((uint32_t)((r)&0xffff))
#define FST_REF_LEAF 0

struct fst_uarc {
    uint64_t out;
    uint64_t target; /* a reference, once the state it leads to is frozen */
    uint8_t label;
};

struct fst_reg_slot {
    uint64_t ref; /* 0: empty (the leaf is never registered) */
    uint64_t hash;
};

/* A decoded arc. */
struct fst_arc {
    uint8_t label;
    uint64_t out;
    uint64_t target; /* reference */
};

/* ---- Decoding (reader and builder's register share it) --------------------------------- */

static int fst_corrupt(const struct fst *f, uint64_t off, const char *what)
{
    return err_set(LAMINA_ECORRUPT, "fst: %s at offset %llu", what,
                   (unsigned long long)(off + (uint64_t)(f->area - f->data)));
}

static uint64_t fst_get_le(const uint8_t *p, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static unsigned fst_width(uint64_t v)
{
    unsigned w = 0;
    while (v) {
        w++;
        v >>= 8;
    }
    return w;
}

/* The reference of target (delta, skip) of the node at off, or -1 if it does not point to an
 * earlier node. */
static int fst_target(uint64_t off, uint64_t delta, uint64_t skip, uint64_t *ref)
{
    if (skip > FST_MAX_KEY) return -1;
    if (delta == 0) {
        if (skip) return -1;
        *ref = FST_REF_LEAF;
        return 0;
    }
    if (delta >= off) return -1;
    *ref = FST_REF(off - delta, skip);
    return 0;
}

/* Decodes the state at ref into n, checking that its fixed parts fit in the area. */
static int fst_node_read(const struct fst *f, uint64_t ref, struct fst_node *n)
{
    uint64_t off = FST_REF_OFF(ref), v;
    uint32_t skip = FST_REF_SKIP(ref);
    memset(n, 0, sizeof(*n));
    n->off = off;
    n->skip = skip;
    if (off == 0) {
        if (skip) return fst_corrupt(f, off, "skip into the final state");
        n->kind = FST_NODE_LEAF;
        n->final = 1;
        return 0;
    }
    if (off >= f->area_size) return fst_corrupt(f, off, "node beyond the end");
    const uint8_t *p = f->area + off, *end = f->area + f->area_size;
    uint8_t h = *p++;
    n->kind = h & 3;
    if (n->kind == FST_NODE_CHAIN) {
        uint64_t len = (h >> 4) + 1u;
        if (len == 16) {
            if (!(p = coding_get_varint64(p, end, &v)) || v > FST_MAX_KEY - 16)
                return fst_corrupt(f, off, "bad chain length");
            len = 16 + v;
        }
        if (len > (uint64_t)(end - p)) return fst_corrupt(f, off, "chain beyond the end");
        if (skip >= len) return fst_corrupt(f, off, "skip past the chain");
        n->len = (uint32_t)len;
        n->p = p;
        p += len;
        if ((h & 4) && !(p = coding_get_varint64(p, end, &n->chain_out)))
            return fst_corrupt(f, off, "bad chain output");
        uint64_t delta, s = 0;
        if (!(p = coding_get_varint64(p, end, &delta)) ||
            ((h & 8) && !(p = coding_get_varint64(p, end, &s))) ||
            fst_target(off, delta, s, &n->chain_tgt))
            return fst_corrupt(f, off, "bad chain target");
        n->narcs = 1;
        return 0;
    }
    if (skip) return fst_corrupt(f, off, "skip into a node that is not a chain");
    n->final = (h >> 2) & 1;
    if (h & 8) {
        if (!n->final) return fst_corrupt(f, off, "final output of a state that is not final");
        if (!(p = coding_get_varint64(p, end, &n->final_out)))
            return fst_corrupt(f, off, "bad final output");
    }
    if (n->kind == FST_NODE_LIST) {
        v = h >> 4;
        if (!v && (!(p = coding_get_varint64(p, end, &v)) || v > 256))
            return fst_corrupt(f, off, "bad arc count");
        n->narcs = (uint32_t)v;
        n->p = p;
    } else {
        n->ws = h >> 4;
        if (end - p < 2) return fst_corrupt(f, off, "node beyond the end");
        uint32_t count = 0;
        if (n->kind == FST_NODE_ARRAY) count = *p++ + 1u;
        n->wo = *p >> 4;
        n->wt = *p & 15;
        p++;
        if (n->wo > 8 || n->wt > 8 || n->ws > 2) return fst_corrupt(f, off, "bad arc widths");
        if (n->kind == FST_NODE_BITMAP) {
            if (end - p < 32) return fst_corrupt(f, off, "bitmap beyond the end");
            n->bitmap = p;
            for (int i = 0; i < 4; i++)
                count += (uint32_t)__builtin_popcountll(coding_get_fixed64(p + 8 * i));
            p += 32;
        }
        uint64_t stride = (n->kind == FST_NODE_ARRAY) + n->wo + n->wt + n->ws;
        if (count * stride > (uint64_t)(end - p)) return fst_corrupt(f, off, "arcs beyond the end");
        n->narcs = count;
        n->p = p;
    }
    if (!n->narcs && !n->final) return fst_corrupt(f, off, "state without arcs that is not final");
    return 0;
}

/* Decodes the LIST arc at *p and advances *p. */
static int fst_list_arc(const struct fst *f, const struct fst_node *n, const uint8_t **p,
                        struct fst_arc *a)
{
    const uint8_t *q = *p, *end = f->area + f->area_size;
    uint64_t x, skip = 0;
    a->out = 0;
    if (q >= end) return fst_corrupt(f, n->off, "arc beyond the end");
    a->label = *q++;
    if (!(q = coding_get_varint64(q, end, &x)) ||
        ((x & 1) && !(q = coding_get_varint64(q, end, &skip))) ||
        ((x & 2) && !(q = coding_get_varint64(q, end, &a->out))) ||
        fst_target(n->off, x >> 2, skip, &a->target))
        return fst_corrupt(f, n->off, "bad arc");
    *p = q;
    return 0;
}

/* The label of the i-th set bit of a bitmap node (i < narcs). */
static uint8_t fst_bitmap_select(const struct fst_node *n, uint32_t i)
{
    for (unsigned w = 0; w < 4; w++) {
        uint64_t bits = coding_get_fixed64(n->bitmap + 8 * w);
        unsigned c = (unsigned)__builtin_popcountll(bits);
        if (i < c) {
            for (; i; i--)
                bits &= bits - 1;
            return (uint8_t)(64 * w + (unsigned)__builtin_ctzll(bits));
        }
        i -= c;
    }
    return 0; /* not reached: narcs is the bitmap's population */
}

/* Decodes the fixed-width arc i of an ARRAY or BITMAP node. */
static int fst_fixed_arc(const struct fst *f, const struct fst_node *n, uint32_t i,
                         struct fst_arc *a)
{
    unsigned has_label = n->kind == FST_NODE_ARRAY;
    const uint8_t *q = n->p + (size_t)i * (has_label + n->wo + n->wt + n->ws);
    a->label = has_label ? *q : fst_bitmap_select(n, i);
    q += has_label;
    a->out = fst_get_le(q, n->wo);
    uint64_t delta = fst_get_le(q + n->wo, n->wt), skip = fst_get_le(q + n->wo + n->wt, n->ws);
    if (fst_target(n->off, delta, skip, &a->target)) return fst_corrupt(f, n->off, "bad arc");
    return 0;
}

/* Decodes arc i (< n->narcs) of n. */
static int fst_node_arc(const struct fst *f, const struct fst_node *n, uint32_t i,
                        struct fst_arc *a)
{
    switch (n->kind) {
    case FST_NODE_CHAIN:
        a->label = n->p[n->skip];
        a->out = n->skip ? 0 : n->chain_out;
        a->target = n->skip + 1 < n->len ? FST_REF(n->off, n->skip + 1) : n->chain_tgt;
        return 0;
    case FST_NODE_LIST: {
        const uint8_t *p = n->p;
        for (uint32_t k = 0;; k++) {
            int rc = fst_list_arc(f, n, &p, a);
            if (rc || k == i) return rc;
        }
    }
    default:
        return fst_fixed_arc(f, n, i, a);
    }
}

/* Finds the first arc of n whose label is >= label: sets *idx (n->narcs if none), *exact, and
 * *a to that arc when there is one. */
static int fst_node_find(const struct fst *f, const struct fst_node *n, uint8_t label,
                         uint32_t *idx, int *exact, struct fst_arc *a)
{
    uint32_t lo = 0, hi = n->narcs;
    *exact = 0;
    switch (n->kind) {
    case FST_NODE_LEAF:
        *idx = 0;
        return 0;
    case FST_NODE_CHAIN:
        if (label > n->p[n->skip]) {
            *idx = 1;
            return 0;
        }
        *idx = 0;
        *exact = label == n->p[n->skip];
        return fst_node_arc(f, n, 0, a);
    case FST_NODE_LIST: {
        const uint8_t *p = n->p;
        for (uint32_t k = 0; k < n->narcs; k++) {
            int rc = fst_list_arc(f, n, &p, a);
            if (rc) return rc;
            if (a->label >= label) {
                *idx = k;
                *exact = a->label == label;
                return 0;
            }
        }
        *idx = n->narcs;
        return 0;
    }
    case FST_NODE_ARRAY: {
        size_t stride = 1u + n->wo + n->wt + n->ws;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (n->p[mid * stride] < label)
                lo = mid + 1;
            else
                hi = mid;
        }
        break;
    }
    default: { /* BITMAP: rank of label among the set bits */
        unsigned w = label >> 6, b = label & 63;
        for (unsigned k = 0; k < w; k++)
            lo += (uint32_t)__builtin_popcountll(coding_get_fixed64(n->bitmap + 8 * k));
        uint64_t bits = coding_get_fixed64(n->bitmap + 8 * w);
        lo += (uint32_t)__builtin_popcountll(bits & ((UINT64_C(1) << b) - 1));
        break;
    }
    }
    *idx = lo;
    if (lo == n->narcs) return 0;
    int rc = fst_fixed_arc(f, n, lo, a);
    if (rc) return rc;
    *exact = a->label == label;
    return 0;
}

/* ---- Builder: writing nodes ------------------------------------------------------------ */

static int fst_oom(struct fst_builder *b)
{
    b->failed = 1;
    return err_set(LAMINA_ENOMEM, "fst builder: out of memory");
}

/* The delta and skip that a node at off stores for target ref. */
static void fst_delta(uint64_t off, uint64_t ref, uint64_t *delta, uint64_t *skip)
{
    *delta = ref == FST_REF_LEAF ? 0 : off - FST_REF_OFF(ref);
    *skip = FST_REF_SKIP(ref);
}

static void fst_put_le(uint8_t *p, uint64_t v, unsigned w)
{
    for (unsigned i = 0; i < w; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Bytes of s written as a LIST node at off. */
static size_t fst_list_size(const struct fst_ustate *s, uint64_t off)
{
    size_t n = 1 + (s->final_out ? coding_varint_len(s->final_out) : 0);
    if (s->narcs == 0 || s->narcs > 15) n += coding_varint_len(s->narcs);
    for (uint32_t i = 0; i < s->narcs; i++) {
        uint64_t delta, skip;
        fst_delta(off, s->arcs[i].target, &delta, &skip);
        n += 1 + coding_varint_len(delta << 2) + (skip ? coding_varint_len(skip) : 0) +
             (s->arcs[i].out ? coding_varint_len(s->arcs[i].out) : 0);
    }
    return n;
}

/* Writes s (not a chain) as a node and sets *ref to it. */
static int fst_write_state(struct fst_builder *b, const struct fst_ustate *s, uint64_t *ref)
{
    uint64_t off = b->nodes.len, maxo = 0, maxd = 0, maxs = 0;
    for (uint32_t i = 0; i < s->narcs; i++) {
        uint64_t delta, skip;
        fst_delta(off, s->arcs[i].target, &delta, &skip);
        maxo = s->arcs[i].out > maxo ? s->arcs[i].out : maxo;
        maxd = delta > maxd ? delta : maxd;
        maxs = skip > maxs ? skip : maxs;
    }
    unsigned wo = fst_width(maxo), wt = fst_width(maxd), ws = fst_width(maxs);
    size_t fo = s->final_out ? coding_varint_len(s->final_out) : 0;
    size_t list = fst_list_size(s, off);
    size_t array = 1 + fo + 2 + (size_t)s->narcs * (1 + wo + wt + ws);
    size_t bitmap = 1 + fo + 1 + 32 + (size_t)s->narcs * (wo + wt + ws);
    int kind = s->narcs <= FST_LIST_MAX ? FST_NODE_LIST
               : bitmap <= array        ? FST_NODE_BITMAP
                                        : FST_NODE_ARRAY;
    size_t size = kind == FST_NODE_LIST ? list : kind == FST_NODE_ARRAY ? array : bitmap;
    if (buf_reserve(&b->nodes, size)) return fst_oom(b);
    uint8_t *p = b->nodes.data + off;
    uint8_t h = (uint8_t)(kind | (s->final ? 4 : 0) | (s->final_out ? 8 : 0));
    if (kind == FST_NODE_LIST) {
        *p++ = (uint8_t)(h | (s->narcs >= 1 && s->narcs <= 15 ? s->narcs << 4 : 0));
        if (s->final_out) p += coding_put_varint64(p, s->final_out);
        if (s->narcs == 0 || s->narcs > 15) p += coding_put_varint64(p, s->narcs);
        for (uint32_t i = 0; i < s->narcs; i++) {
            uint64_t delta, skip, o = s->arcs[i].out;
            fst_delta(off, s->arcs[i].target, &delta, &skip);
            *p++ = s->arcs[i].label;
            p += coding_put_varint64(p, delta << 2 | (o ? 2u : 0u) | (skip ? 1u : 0u));
            if (skip) p += coding_put_varint64(p, skip);
            if (o) p += coding_put_varint64(p, o);
        }
    } else {
        *p++ = (uint8_t)(h | ws << 4);
        if (s->final_out) p += coding_put_varint64(p, s->final_out);
        if (kind == FST_NODE_ARRAY) *p++ = (uint8_t)(s->narcs - 1);
        *p++ = (uint8_t)(wo << 4 | wt);
        if (kind == FST_NODE_BITMAP) {
            memset(p, 0, 32);
            for (uint32_t i = 0; i < s->narcs; i++)
                p[s->arcs[i].label >> 3] |= (uint8_t)(1u << (s->arcs[i].label & 7));
            p += 32;
        }
        for (uint32_t i = 0; i < s->narcs; i++) {
            uint64_t delta, skip;
            fst_delta(off, s->arcs[i].target, &delta, &skip);
            if (kind == FST_NODE_ARRAY) *p++ = s->arcs[i].label;
            fst_put_le(p, s->arcs[i].out, wo);
            fst_put_le(p + wo, delta, wt);
            fst_put_le(p + wo + wt, skip, ws);
            p += wo + wt + ws;
        }
    }
    b->nodes.len = (size_t)(p - b->nodes.data);
    b->nstates++;
    *ref = FST_REF(off, 0);
    return 0;
}

/* Writes the states path[j..i] (non-final, one arc each, no output below path[j]) as one
 * CHAIN node; sets *off to it. */
static int fst_write_chain(struct fst_builder *b, size_t j, size_t i, uint64_t *off)
{
    size_t len = i - j + 1;
    uint64_t o = b->path[j].arcs[0].out, delta, skip;
    *off = b->nodes.len;
    fst_delta(*off, b->path[i].arcs[0].target, &delta, &skip);
    if (buf_reserve(&b->nodes, 1 + 10 + len + 30)) return fst_oom(b);
    uint8_t *p = b->nodes.data + *off;
    *p++ = (uint8_t)(FST_NODE_CHAIN | (o ? 4 : 0) | (skip ? 8 : 0) |
                     (len >= 16 ? 15u << 4 : (unsigned)(len - 1) << 4));
    if (len >= 16) p += coding_put_varint64(p, len - 16);
    for (size_t k = j; k <= i; k++)
        *p++ = b->path[k].arcs[0].label;
    if (o) p += coding_put_varint64(p, o);
    p += coding_put_varint64(p, delta);
    if (skip) p += coding_put_varint64(p, skip);
    b->nodes.len = (size_t)(p - b->nodes.data);
    b->nstates += len;
    return 0;
}

/* ---- Builder: the register ------------------------------------------------------------- */

static uint64_t fst_state_hash(const struct fst_ustate *s)
{
    uint64_t h = hash_mix64((uint64_t)s->final << 32 ^ s->narcs);
    h = hash_mix64(h ^ s->final_out);
    for (uint32_t i = 0; i < s->narcs; i++) {
        h = hash_mix64(h ^ s->arcs[i].label ^ (s->arcs[i].out << 8));
        h = hash_mix64(h ^ s->arcs[i].target);
    }
    return h;
}

/* Does the written state at ref equal the unchecked state s? */
static int fst_state_equal(const struct fst_builder *b, uint64_t ref, const struct fst_ustate *s)
{
    struct fst f = {b->nodes.data, b->nodes.len, b->nodes.data, b->nodes.len, 0, 0};
    struct fst_node n;
    struct fst_arc a;
    if (fst_node_read(&f, ref, &n)) return 0;
    if (n.final != s->final || n.final_out != s->final_out || n.narcs != s->narcs) return 0;
    const uint8_t *p = n.p;
    for (uint32_t i = 0; i < s->narcs; i++) {
        int rc =
            n.kind == FST_NODE_LIST ? fst_list_arc(&f, &n, &p, &a) : fst_node_arc(&f, &n, i, &a);
        if (rc || a.label != s->arcs[i].label || a.out != s->arcs[i].out ||
            a.target != s->arcs[i].target)
            return 0;
    }
    return 1;
}

static uint64_t fst_register_find(const struct fst_builder *b, const struct fst_register *r,
                                  const struct fst_ustate *s, uint64_t hash)
{
    if (!r->cap) return 0;
    for (size_t i = hash & (r->cap - 1);; i = (i + 1) & (r->cap - 1)) {
        const struct fst_reg_slot *sl = &r->slot[i];
        if (!sl->ref) return 0;
        if (sl->hash == hash && fst_state_equal(b, sl->ref, s)) return sl->ref;
    }
}

static int fst_register_put(struct fst_builder *b, uint64_t ref, uint64_t hash)
{
    struct fst_register *r = &b->reg[0];
    if (r->count &&
        r->count >= b->register_max) { /* the newer barrel is full: drop the older one */
        mem_free(b->reg[1].slot);
        b->reg[1] = *r;
        r->slot = mem_calloc(r->cap, sizeof(*r->slot));
        if (!r->slot) {
            r->cap = r->count = 0;
            return fst_oom(b);
        }
        r->count = 0;
    }
    if (2 * (r->count + 1) > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1024;
        struct fst_reg_slot *t = mem_calloc(cap, sizeof(*t));
        if (!t) return fst_oom(b);
        for (size_t k = 0; k < r->cap; k++) {
            if (!r->slot[k].ref) continue;
            size_t i = r->slot[k].hash & (cap - 1);
            while (t[i].ref)
                i = (i + 1) & (cap - 1);
            t[i] = r->slot[k];
        }
        mem_free(r->slot);
        r->slot = t;
        r->cap = cap;
    }
    size_t i = hash & (r->cap - 1);
    while (r->slot[i].ref)
        i = (i + 1) & (r->cap - 1);
    r->slot[i].ref = ref;
    r->slot[i].hash = hash;
    r->count++;
    return 0;
}

/* The registered state equal to s (0 if none); a hit in the older barrel moves to the newer. */
static int fst_register_lookup(struct fst_builder *b, const struct fst_ustate *s, uint64_t *ref)
{
    uint64_t hash = fst_state_hash(s);
    *ref = fst_register_find(b, &b->reg[0], s, hash);
    if (*ref) return 0;
    *ref = fst_register_find(b, &b->reg[1], s, hash);
    if (*ref) return fst_register_put(b, *ref, hash);
    return 0;
}

/* ---- Builder: the unchecked path ------------------------------------------------------- */

static int fst_chainable(const struct fst_ustate *s)
{
    return !s->final && s->narcs == 1;
}

/* Writes the new states path[top..bot] (each one's last arc already points to its frozen
 * child) bottom-up, runs of single-arc states as chains, registers each, and sets *ref to
 * path[top]. None of them can equal a registered state: path[bot] was looked up, and the
 * others lead to it. */
static int fst_write_segment(struct fst_builder *b, size_t top, size_t bot, uint64_t *ref)
{
    size_t i = bot + 1;
    while (i-- > top) {
        int rc;
        if (fst_chainable(&b->path[i])) {
            size_t j = i;
            while (j > top && fst_chainable(&b->path[j - 1]) && b->path[j].arcs[0].out == 0)
                j--;
            uint64_t off;
            if ((rc = fst_write_chain(b, j, i, &off))) return rc;
            for (size_t k = j; k <= i; k++) {
                if (k < i) b->path[k].arcs[0].target = FST_REF(off, k - j + 1);
                if ((rc = fst_register_put(b, FST_REF(off, k - j), fst_state_hash(&b->path[k]))))
                    return rc;
            }
            *ref = FST_REF(off, 0);
            i = j;
        } else {
            if ((rc = fst_write_state(b, &b->path[i], ref)) ||
                (rc = fst_register_put(b, *ref, fst_state_hash(&b->path[i]))))
                return rc;
        }
        if (i > top) b->path[i - 1].arcs[b->path[i - 1].narcs - 1].target = *ref;
    }
    return 0;
}

/* Freezes the states of the last key deeper than depth p (Daciuk et al.'s replace_or_register,
 * deepest first) and points path[p]'s last arc at the result. */
static int fst_freeze(struct fst_builder *b, size_t p)
{
    size_t m = b->last.len, d = m;
    uint64_t child = FST_REF_LEAF; /* path[m]: final, no arcs, no output */
    if (m <= p) return 0;
    while (--d > p) {
        struct fst_ustate *s = &b->path[d];
        s->arcs[s->narcs - 1].target = child;
        uint64_t found;
        int rc = fst_register_lookup(b, s, &found);
        if (rc) return rc;
        if (!found) {
            rc = fst_write_segment(b, p + 1, d, &child);
            if (rc) return rc;
            break;
        }
        child = found;
    }
    b->path[p].arcs[b->path[p].narcs - 1].target = child;
    return 0;
}

static int fst_arc_add(struct fst_builder *b, struct fst_ustate *s, uint8_t label, uint64_t out)
{
    if (s->narcs == s->cap) {
        uint32_t cap = s->cap ? 2 * s->cap : 2;
        struct fst_uarc *a = mem_realloc(s->arcs, cap * sizeof(*a));
        if (!a) return fst_oom(b);
        s->arcs = a;
        s->cap = cap;
    }
    s->arcs[s->narcs++] = (struct fst_uarc){out, FST_REF_LEAF, label};
    return 0;
}

int fst_builder_init(struct fst_builder *b)
{
    memset(b, 0, sizeof(*b));
    b->register_max = FST_REGISTER_MAX_DEFAULT;
    return 0;
}

void fst_builder_free(struct fst_builder *b)
{
    for (size_t d = 0; d < b->path_cap; d++)
        mem_free(b->path[d].arcs);
    mem_free(b->path);
    mem_free(b->reg[0].slot);
    mem_free(b->reg[1].slot);
    buf_free(&b->nodes);
    buf_free(&b->last);
    memset(b, 0, sizeof(*b));
}

static int fst_path_reserve(struct fst_builder *b, size_t states)
{
    if (states <= b->path_cap) return 0;
    size_t cap = b->path_cap ? b->path_cap : 16;
    while (cap < states)
        cap *= 2;
    struct fst_ustate *p = mem_realloc(b->path, cap * sizeof(*p));
    if (!p) return fst_oom(b);
    memset(p + b->path_cap, 0, (cap - b->path_cap) * sizeof(*p));
    b->path = p;
    b->path_cap = cap;
    return 0;
}

int fst_builder_add(struct fst_builder *b, const uint8_t *key, size_t len, uint64_t out)
{
    if (b->failed) return err_set(LAMINA_EINVAL, "fst builder: used after finish or a failure");
    if (len > FST_MAX_KEY)
        return err_set(LAMINA_EINVAL, "fst builder: key of %zu bytes (at most %d)", len,
                       FST_MAX_KEY);
    size_t m = b->last.len, p = 0, n = m < len ? m : len;
    while (p < n && b->last.data[p] == key[p])
        p++;
    if (b->nkeys) {
        if (p == len || (p < m && b->last.data[p] > key[p]))
            return err_set(LAMINA_EINVAL, "fst builder: key %llu is not greater than the last",
                           (unsigned long long)b->nkeys);
        if (out < b->last_out)
            return err_set(LAMINA_EINVAL, "fst builder: output of key %llu decreases",
                           (unsigned long long)b->nkeys);
    }
    int rc = fst_path_reserve(b, len + 1);
    if (rc) return rc;
    if (!b->nodes.len && buf_append(&b->nodes, "", 1)) return fst_oom(b); /* the pad byte */
    if (b->nkeys && (rc = fst_freeze(b, p))) return rc;
    /* Outputs never decrease, so the output already on the common prefix is that of the first
     * key through it, at most out: Mihov & Maurel's push toward the root moves nothing down,
     * and the rest of out goes on the new arc (or on the root, for the empty key). */
    uint64_t acc = 0;
    for (size_t d = 0; d < p; d++)
        acc += b->path[d].arcs[b->path[d].narcs - 1].out;
    if (len == p) {
        b->path[0].final = 1;
        b->path[0].final_out = out;
    } else {
        if ((rc = fst_arc_add(b, &b->path[p], key[p], out - acc))) return rc;
        for (size_t d = p + 1; d <= len; d++) {
            struct fst_ustate *s = &b->path[d];
            s->narcs = 0;
            s->final = d == len;
            s->final_out = 0;
            if (d < len && (rc = fst_arc_add(b, s, key[d], 0))) return rc;
        }
    }
    buf_clear(&b->last);
    if (buf_append(&b->last, key, len)) return fst_oom(b);
    b->nkeys++;
    b->last_out = out;
    return 0;
}

int fst_builder_finish(struct fst_builder *b, buf *dst)
{
    if (b->failed) return err_set(LAMINA_EINVAL, "fst builder: used after finish or a failure");
    b->failed = 1; /* only free may follow */
    uint64_t root = 0;
    int rc;
    if (!b->nodes.len && buf_append(&b->nodes, "", 1)) return fst_oom(b);
    if (b->nkeys) {
        if ((rc = fst_freeze(b, 0))) return rc;
        if ((rc = fst_write_state(b, &b->path[0], &root))) return rc;
        root = FST_REF_OFF(root);
    }
    size_t body = 2 + coding_varint_len(b->nkeys) + coding_varint_len(root) + b->nodes.len, l = 1;
    while (coding_varint_len(body + l) != l)
        l++;
    if (buf_reserve(dst, 2 + 30 + b->nodes.len))
        return err_set(LAMINA_ENOMEM, "fst builder: out of memory");
    uint8_t *p = dst->data + dst->len;
    *p++ = FST_MAGIC;
    *p++ = FST_VERSION;
    p += coding_put_varint64(p, body + l);
    p += coding_put_varint64(p, b->nkeys);
    p += coding_put_varint64(p, root);
    memcpy(p, b->nodes.data, b->nodes.len);
    dst->len = (size_t)(p - dst->data) + b->nodes.len;
    return 0;
}

/* ---- Reader ---------------------------------------------------------------------------- */

int fst_open(struct fst *f, const uint8_t *data, size_t size)
{
    uint64_t total, nkeys, root;
    memset(f, 0, sizeof(*f));
    if (size < 2 || data[0] != FST_MAGIC || data[1] != FST_VERSION)
        return err_set(LAMINA_ECORRUPT, "fst: bad magic or version at offset 0");
    const uint8_t *p = data + 2, *end = data + size;
    if (!(p = coding_get_varint64(p, end, &total)) || !(p = coding_get_varint64(p, end, &nkeys)) ||
        !(p = coding_get_varint64(p, end, &root)))
        return err_set(LAMINA_ECORRUPT, "fst: header beyond the end at offset 2");
    size_t hdr = (size_t)(p - data);
    if (total > size || total <= hdr)
        return err_set(LAMINA_ECORRUPT, "fst: total size %llu outside %zu bytes at offset 2",
                       (unsigned long long)total, size);
    if (nkeys ? (root == 0 || root >= total - hdr) : root != 0)
        return err_set(LAMINA_ECORRUPT, "fst: root %llu outside the nodes at offset %zu",
                       (unsigned long long)root, hdr);
    f->data = data;
    f->size = (size_t)total;
    f->area = p;
    f->area_size = total - hdr;
    f->nkeys = nkeys;
    f->root = FST_REF(root, 0);
    return 0;
}

int fst_get(const struct fst *f, const uint8_t *key, size_t len, uint64_t *out)
{
    uint64_t ref = f->root, acc = 0;
    size_t d = 0;
    struct fst_node n;
    struct fst_arc a;
    if (!f->nkeys) return LAMINA_NOTFOUND;
    for (;;) {
        int rc = fst_node_read(f, ref, &n), exact;
        if (rc) return rc;
        if (d == len) {
            if (!n.final) return LAMINA_NOTFOUND;
            *out = acc + n.final_out;
            return 0;
        }
        if (n.kind == FST_NODE_CHAIN) { /* the chain's states in one compare */
            size_t rest = n.len - n.skip;
            if (len - d < rest || memcmp(key + d, n.p + n.skip, rest)) return LAMINA_NOTFOUND;
            acc += n.skip ? 0 : n.chain_out;
            d += rest;
            ref = n.chain_tgt;
            continue;
        }
        uint32_t idx;
        if ((rc = fst_node_find(f, &n, key[d], &idx, &exact, &a))) return rc;
        if (!exact) return LAMINA_NOTFOUND;
        acc += a.out;
        ref = a.target;
        d++;
    }
}

/* ---- Cursor ---------------------------------------------------------------------------- */

void fst_cursor_init(struct fst_cursor *c, const struct fst *f)
{
    memset(c, 0, sizeof(*c));
    c->f = f;
}

void fst_cursor_free(struct fst_cursor *c)
{
    mem_free(c->stack);
    buf_free(&c->key);
    fst_cursor_init(c, c->f);
}

/* Pushes the state at ref, reached with output out, onto the path. */
static int fst_cursor_push(struct fst_cursor *c, uint64_t ref, uint64_t out)
{
    if (c->depth > FST_MAX_KEY)
        return fst_corrupt(c->f, FST_REF_OFF(ref), "path longer than the longest key");
    if (c->depth == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        struct fst_frame *s = mem_realloc(c->stack, cap * sizeof(*s));
        if (!s) return err_set(LAMINA_ENOMEM, "fst cursor: out of memory");
        c->stack = s;
        c->cap = cap;
    }
    struct fst_frame *fr = &c->stack[c->depth];
    int rc = fst_node_read(c->f, ref, &fr->node);
    if (rc) return rc;
    fr->out = out;
    fr->arc = -1;
    c->depth++;
    return 0;
}

/* Takes arc i (decoded in a) of the top state and pushes its target. */
static int fst_cursor_follow(struct fst_cursor *c, uint32_t i, const struct fst_arc *a)
{
    struct fst_frame *fr = &c->stack[c->depth - 1];
    fr->arc = (int32_t)i;
    c->key.len = c->depth - 1;
    if (buf_append(&c->key, &a->label, 1))
        return err_set(LAMINA_ENOMEM, "fst cursor: out of memory");
    return fst_cursor_push(c, a->target, fr->out + a->out);
}

static int fst_cursor_take(struct fst_cursor *c, uint32_t i)
{
    struct fst_arc a;
    int rc = fst_node_arc(c->f, &c->stack[c->depth - 1].node, i, &a);
    return rc ? rc : fst_cursor_follow(c, i, &a);
}

/* Stops at the top state, which is final. */
static int fst_cursor_stop(struct fst_cursor *c)
{
    c->stack[c->depth - 1].arc = -1;
    c->key.len = c->depth - 1;
    c->valid = 1;
    return 0;
}

/* Goes down to the smallest key at or below the top state. */
static int fst_cursor_descend_first(struct fst_cursor *c)
{
    for (;;) {
        const struct fst_node *n = &c->stack[c->depth - 1].node;
        if (n->final) return fst_cursor_stop(c);
        int rc = fst_cursor_take(c, 0);
        if (rc) return rc;
    }
}

/* Goes down to the largest key at or below the top state. */
static int fst_cursor_descend_last(struct fst_cursor *c)
{
    for (;;) {
        const struct fst_node *n = &c->stack[c->depth - 1].node;
        if (!n->narcs) return fst_cursor_stop(c); /* final: fst_node_read checks it */
        int rc = fst_cursor_take(c, n->narcs - 1);
        if (rc) return rc;
    }
}

/* Moves to the smallest key after every key reached through the arcs the path has taken so
 * far (the top state's arcs up to its arc index included). */
static int fst_cursor_advance(struct fst_cursor *c)
{
    while (c->depth) {
        struct fst_frame *fr = &c->stack[c->depth - 1];
        uint32_t i = (uint32_t)(fr->arc + 1);
        if (i < fr->node.narcs) {
            int rc = fst_cursor_take(c, i);
            return rc ? rc : fst_cursor_descend_first(c);
        }
        c->depth--;
    }
    c->valid = 0;
    c->key.len = 0;
    return 0;
}

/* Moves to the largest key before the current position of the path. */
static int fst_cursor_retreat(struct fst_cursor *c)
{
    while (c->depth) {
        struct fst_frame *fr = &c->stack[c->depth - 1];
        if (fr->arc > 0) {
            int rc = fst_cursor_take(c, (uint32_t)fr->arc - 1);
            return rc ? rc : fst_cursor_descend_last(c);
        }
        if (fr->arc == 0 && fr->node.final) return fst_cursor_stop(c);
        c->depth--;
    }
    c->valid = 0;
    c->key.len = 0;
    return 0;
}

/* Ends a move: on an error the cursor is not valid. */
static int fst_cursor_done(struct fst_cursor *c, int rc)
{
    if (rc) {
        c->valid = 0;
        c->depth = 0;
        c->key.len = 0;
    }
    return rc;
}

/* Empties the path and pushes the root; 1 if there is no root (no keys). */
static int fst_cursor_reset(struct fst_cursor *c, int *empty)
{
    c->valid = 0;
    c->depth = 0;
    c->key.len = 0;
    *empty = !c->f->nkeys;
    return *empty ? 0 : fst_cursor_push(c, c->f->root, 0);
}

int fst_cursor_seek_to_first(struct fst_cursor *c)
{
    int empty, rc = fst_cursor_reset(c, &empty);
    if (!rc && !empty) rc = fst_cursor_descend_first(c);
    return fst_cursor_done(c, rc);
}

int fst_cursor_seek_to_last(struct fst_cursor *c)
{
    int empty, rc = fst_cursor_reset(c, &empty);
    if (!rc && !empty) rc = fst_cursor_descend_last(c);
    return fst_cursor_done(c, rc);
}

int fst_cursor_seek(struct fst_cursor *c, const uint8_t *key, size_t len)
{
    int empty, rc = fst_cursor_reset(c, &empty);
    if (rc || empty) return fst_cursor_done(c, rc);
    for (size_t d = 0; d < len; d++) {
        struct fst_frame *fr = &c->stack[c->depth - 1];
        struct fst_arc a;
        uint32_t idx;
        int exact;
        if ((rc = fst_node_find(c->f, &fr->node, key[d], &idx, &exact, &a)))
            return fst_cursor_done(c, rc);
        if (idx == fr->node.narcs) { /* every key below is smaller: the next subtree's first */
            fr->arc = (int32_t)fr->node.narcs - 1;
            return fst_cursor_done(c, fst_cursor_advance(c));
        }
        if ((rc = fst_cursor_follow(c, idx, &a))) return fst_cursor_done(c, rc);
        if (!exact) return fst_cursor_done(c, fst_cursor_descend_first(c));
    }
    return fst_cursor_done(c, fst_cursor_descend_first(c));
}

int fst_cursor_next(struct fst_cursor *c)
{
    if (!c->valid) return 0;
    return fst_cursor_done(c, fst_cursor_advance(c));
}

int fst_cursor_prev(struct fst_cursor *c)
{
    if (!c->valid) return 0;
    return fst_cursor_done(c, fst_cursor_retreat(c));
}
