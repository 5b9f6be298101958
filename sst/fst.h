/* fst.h — private interface of the FST table index (sst/fst.c): a minimal acyclic finite state
 * transducer from byte-string keys to uint64 outputs, built in one pass from sorted input and
 * searched in place on its serialized bytes.
 *
 * Conventions of this header:
 * - Keys are byte strings of 0..FST_MAX_KEY bytes in bytewise order (memcmp, shorter first on
 *   a common prefix). Outputs are uint64 that never decrease with the key order (the table
 *   index stores data block ordinals 0..n-1).
 * - Functions that can fail return 0 or a negative LAMINA_* code and set err_message().
 *   LAMINA_NOTFOUND is a status, not an error.
 * - Inputs are borrowed for the call. An fst and its cursors borrow the serialized bytes given
 *   to fst_open, which must outlive them and stay unchanged.
 * - The reader never trusts the bytes: every read is bounds-checked, every arc goes to a state
 *   written earlier, and damage is reported as LAMINA_ECORRUPT with the offset within the FST;
 *   every call ends (no crash, no loop) whatever the bytes hold.
 *
 * Construction: Daciuk, Mihov, Watson & Watson, "Incremental construction of minimal acyclic
 * finite-state automata", Computational Linguistics 26(1), 2000 (the unchecked path and the
 * register of frozen states), with outputs pushed toward the root as in Mihov & Maurel, "Direct
 * construction of minimal acyclic subsequential transducers", 2001, and Lucene's FST. Layout:
 * docs/format.md ("FST index") and the comment at the top of sst/fst.c. */
#ifndef SST_FST_H
#define SST_FST_H

#include <stddef.h>
#include <stdint.h>

#include "util/coding.h"

#define FST_MAX_KEY 65535 /* bytes */
/* Default bound on the states one register barrel holds (the builder keeps two). */
#define FST_REGISTER_MAX_DEFAULT ((size_t)1 << 18)

/* ---- Builder -------------------------------------------------------------------------- */

struct fst_uarc; /* an arc of an unchecked state (fst.c) */

/* A state on the unchecked path: the states of the last key that may still get arcs. */
struct fst_ustate {
    struct fst_uarc *arcs;
    uint32_t narcs, cap;
    int final;
    uint64_t final_out;
};

/* One barrel of the register: frozen states by hash, each a reference into the node bytes. */
struct fst_register {
    struct fst_reg_slot *slot;
    size_t cap, count; /* cap is 0 or a power of two */
};

/* Builds an FST from keys added in strictly increasing order. Zero-initialise is not enough:
 * call fst_builder_init. Memory: the serialized nodes plus the register, which is bounded by
 * two barrels of register_max states each (when the newer barrel fills, the older one is
 * dropped, as in Lucene's double-barrel node hash: suffixes seen recently or often stay
 * shared; past the bound the FST stays correct but may be slightly larger than minimal). */
struct fst_builder {
    buf nodes;               /* node area: states, children before parents */
    struct fst_ustate *path; /* path[d]: unchecked state at depth d (0: the root) */
    size_t path_cap;         /* states allocated in path */
    buf last;                /* the last key added */
    uint64_t nkeys, last_out;
    struct fst_register reg[2]; /* reg[0] newer, reg[1] older */
    size_t register_max;        /* states per barrel; may be set after init, before adds */
    int failed;                 /* an allocation failed mid-add: only free is allowed */
    uint64_t nstates;           /* states written (chain states counted one each) */
};

/* Prepares b for the first key; holds no memory until the first add. Returns 0 (it cannot
 * fail; int for the house rule that init may one day allocate). */
int fst_builder_init(struct fst_builder *b);
/* Adds key [key, key + len) with output out. key is borrowed for the call (NULL allowed when
 * len is 0). Errors: LAMINA_EINVAL when len > FST_MAX_KEY, when key is not greater than the
 * previous key, or when out is smaller than the previous output (the builder is unchanged
 * and may go on); LAMINA_ENOMEM (the builder is then unusable: free it). */
int fst_builder_add(struct fst_builder *b, const uint8_t *key, size_t len, uint64_t out);
/* Freezes the last key's states and appends the whole serialized FST (header included) to
 * dst, which the caller owns. No key at all gives a valid empty FST. After finish only
 * fst_builder_free is allowed. Errors: LAMINA_ENOMEM; LAMINA_EINVAL after a failed add. */
int fst_builder_finish(struct fst_builder *b, buf *dst);
/* Releases everything b holds (also after a failure); b may be initialised again. */
void fst_builder_free(struct fst_builder *b);

/* ---- Reader --------------------------------------------------------------------------- */

/* An opened FST: a view of borrowed bytes (no allocation, nothing to free). */
struct fst {
    const uint8_t *data; /* the FST's first byte (its header) */
    size_t size;         /* bytes of the FST (total size from its header) */
    const uint8_t *area; /* node area: data + header length */
    uint64_t area_size;  /* bytes of the node area */
    uint64_t nkeys;      /* keys, as the header says */
    uint64_t root;       /* reference of the root state (0 when there are no keys) */
};

/* Checks the header of the FST at [data, data + size) and fills f. size may exceed the FST
 * (the header's total size must fit in it). Returns 0 or LAMINA_ECORRUPT (bad magic or
 * version, total size beyond size, root outside the node area). */
int fst_open(struct fst *f, const uint8_t *data, size_t size);
/* Looks up the exact key: sets *out to its output and returns 0, or returns LAMINA_NOTFOUND,
 * or LAMINA_ECORRUPT. O(len) node reads (binary search or bitmap rank in wide states). */
int fst_get(const struct fst *f, const uint8_t *key, size_t len, uint64_t *out);

/* A decoded state (fst.c); cursors keep one per depth. */
struct fst_node {
    uint64_t off;        /* node offset in the area (0: the final state without arcs) */
    uint32_t skip;       /* chain nodes: which of its labels this state is */
    uint8_t kind, final; /* kind: FST_NODE_* in fst.c */
    uint8_t wo, wt, ws;  /* fixed-width arcs: bytes of output, target delta, skip */
    uint32_t narcs;
    uint64_t final_out;
    const uint8_t *p;      /* first arc (chain: first label) */
    const uint8_t *bitmap; /* bitmap nodes: the 32-byte label set */
    uint32_t len;          /* chain: labels */
    uint64_t chain_out;    /* chain: output of its first arc */
    uint64_t chain_tgt;    /* chain: reference of the state after its last label */
};

/* One step of a cursor's path: the state at this depth, the output accumulated before it and
 * the arc taken from it (-1: the cursor stops at this state, which is final). */
struct fst_frame {
    struct fst_node node;
    uint64_t out;
    int32_t arc;
};

/* A position at one key of an FST, with the path from the root to it, so next and prev cost
 * O(depth) amortized. Borrows the fst (and its bytes) given to init. */
struct fst_cursor {
    const struct fst *f;
    struct fst_frame *stack;
    size_t depth, cap; /* frames in use (key length + 1 when valid), allocated */
    buf key;           /* the current key's bytes */
    int valid;
};

/* Starts a cursor over f that is not valid; holds no memory until a move. */
void fst_cursor_init(struct fst_cursor *c, const struct fst *f);
/* Releases the cursor's memory; it is then not valid (init it again to reuse it). */
void fst_cursor_free(struct fst_cursor *c);
/* Moves return 0 (the cursor valid or not: past either end it is not valid), LAMINA_ECORRUPT
 * or LAMINA_ENOMEM (the cursor is then not valid). next and prev need a valid cursor.
 * seek positions at the first key >= [key, key + len) (lower bound; key borrowed). */
int fst_cursor_seek(struct fst_cursor *c, const uint8_t *key, size_t len);
int fst_cursor_seek_to_first(struct fst_cursor *c);
int fst_cursor_seek_to_last(struct fst_cursor *c);
int fst_cursor_next(struct fst_cursor *c);
int fst_cursor_prev(struct fst_cursor *c);
static inline int fst_cursor_valid(const struct fst_cursor *c)
{
    return c->valid;
}
/* The current key, borrowed until the cursor moves or is freed (valid cursor only). */
static inline const uint8_t *fst_cursor_key(const struct fst_cursor *c, size_t *len)
{
    *len = c->key.len;
    return c->key.data ? c->key.data : (const uint8_t *)"";
}
/* The current key's output (valid cursor only). */
static inline uint64_t fst_cursor_value(const struct fst_cursor *c)
{
    const struct fst_frame *t = &c->stack[c->depth - 1];
    return t->out + t->node.final_out;
}

#endif
