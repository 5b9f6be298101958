/* version.h — versions: which tables make up the database (per level, sorted runs, newest
 * first; each run is tables sorted by key, non-overlapping), reference-counted and swapped
 * atomically; point lookups and run iterators over them. The version set and its MANIFEST are
 * in engine/manifest.h, file names in engine/filename.h. */
#ifndef ENGINE_VERSION_H
#define ENGINE_VERSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "compaction/compaction.h"
#include "engine/log.h"
#include "engine/version_edit.h"
#include "sst/table.h"
#include "util/coding.h"

#define DB_PATH_MAX 4096

/* One table file. Shared by every version that holds it; its reader lives in the table cache.
 * When the last reference to a file an edit removed (obsolete) goes, the version set's
 * on_obsolete hook queues the file for deletion by a background thread. */
struct file_meta {
    atomic_int refs;
    atomic_int obsolete;
    int level;
    uint64_t run, number, size, entries;
    uint64_t smallest_seq, largest_seq;
    uint8_t *smallest, *largest; /* internal keys */
    size_t smallest_len, largest_len;
    int being_compacted; /* an input of a running compaction job (db mutex) */
    /* For a table a trivial move re-linked: its entry in the version before the move (one
     * reference), so the file is deleted only once every version that names it is gone. */
    struct file_meta *moved_from;
    struct version_set *vs;
    int range_dels; /* the table holds range tombstones (tables without are never opened to
                       gather them) */
};

struct run {
    uint64_t id;
    struct file_meta **files;
    size_t nfiles;
    uint64_t bytes;
};

struct level {
    struct run *runs; /* newest (largest id) first */
    size_t nruns, nfiles;
    uint64_t bytes;
};

struct version_set;

struct version {
    atomic_int refs;
    struct version_set *vs;
    int num_levels;
    struct level levels[COMPACTION_MAX_LEVELS];
};

/* Builds the version base + edit in *out (one reference). With mark_obsolete, files the edit
 * deletes are marked so their last release deletes them. */
int version_apply(const struct version *base, const struct version_edit *e, int mark_obsolete,
                  struct version **out);
void version_ref(struct version *v);
void version_unref(struct version *v);

/* qsort/bsearch order of file numbers (uint64_t), ascending. */
int file_number_cmp(const void *a, const void *b);

/* Whether f's user keys meet the range [lo, hi] (a NULL bound is open on that side). */
int file_overlaps(const struct file_meta *f, const void *lo, size_t lo_len, const void *hi,
                  size_t hi_len);

/* Adds f to e as a table of (level, run), keys copied by the edit. 0 or LAMINA_ENOMEM. */
int file_meta_add_to_edit(const struct file_meta *f, int level, uint64_t run,
                          struct version_edit *e);

/* The table reader of f from the table cache, with a reference the caller drops with
 * table_unref. Errors as table_open. */
int file_meta_table(struct file_meta *f, table **out);

/* Looks up lookup (an internal key at the reader's seq) through every run of v, newest
 * first; the first entry found decides. 0 with *type (value in *value for IKEY_VALUE),
 * LAMINA_NOTFOUND, or an error. ro->io, when set, points at num_levels counters: level l's
 * data block reads are counted in ro->io[l]; ro->lookup likewise, per level: the runs probed
 * (a run whose key range holds the key), filter probes, false positives and data blocks. */
int version_get(struct version *v, const struct table_read_options *ro, const uint8_t *lookup,
                size_t lookup_len, int *type, buf *value);

/* One lookup of version_multi_get: the internal key (in), the answer (out). */
struct version_lookup {
    const uint8_t *ikey; /* borrowed */
    size_t ikey_len;
    int rc;   /* out: 0 (with type), LAMINA_NOTFOUND or an error */
    int type; /* out: IKEY_VALUE (value in *value) or IKEY_DELETION */
    buf *value;
};
/* n lookups as n version_get calls would answer them, but in rounds: each round asks every
 * unanswered lookup's next table for the data block that may hold it (filter and index), then
 * reads all those blocks together through cache (sst/fetch.h block_fetch_batch: one io_uring
 * submission), then searches them. A lookup takes one round per table whose filter and index
 * let it through. ro as in version_get. Returns 0, or LAMINA_ENOMEM (nothing answered); each
 * lookup's rc tells its answer. */
int version_multi_get(struct version *v, block_cache *cache, const struct table_read_options *ro,
                      struct version_lookup *lk, size_t n);

/* The shape the compaction policy sees; the deepest level holding data (-1 when empty). */
void version_shape(const struct version *v, struct lsm_shape *shape);
int version_deepest_level(const struct version *v);

/* The run's tables whose user keys meet the bounds [lower, upper) of ro (NULL: open on that
 * side): they are files[*first .. *end), an empty range when *first == *end. Decided from the
 * version's smallest and largest keys alone, so no table is opened or read. */
void run_bounded_files(const struct run *r, const struct table_read_options *ro, size_t *first,
                       size_t *end);

/* A concatenating iterator over one sorted run's tables (opened lazily, in order). The run's
 * version must stay pinned while it lives. With bounds in ro (borrowed, as long as the
 * iterator lives), it opens only the tables of run_bounded_files, positions nowhere when a
 * seek's target lies past upper (seek_for_prev: below lower), and passes the bounds on to the
 * table iterators. NULL on allocation failure. */
iter *run_iter_create(const struct run *r, const struct table_read_options *ro);

#endif
