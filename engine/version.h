/* version.h — the version set: which tables make up the database (per level, sorted runs,
 * newest first; each run is tables sorted by key, non-overlapping), reference-counted versions
 * swapped atomically, and the MANIFEST that logs version edits (LevelDB's VersionSet). */
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

/* One table file. Shared by every version that holds it; the table reader is opened lazily on
 * first use and closed when the last version lets go. A file an edit removed (obsolete) is
 * deleted from disk, and erased from the block cache, when its last reference goes. */
struct file_meta {
    atomic_int refs;
    atomic_int obsolete;
    int level;
    uint64_t run, number, size, entries;
    uint64_t smallest_seq, largest_seq;
    uint8_t *smallest, *largest; /* internal keys */
    size_t smallest_len, largest_len;
    _Atomic(table *) tbl;
    pthread_mutex_t open_mu;
    struct version_set *vs;
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

struct version {
    atomic_int refs;
    struct version_set *vs;
    int num_levels;
    struct level levels[COMPACTION_MAX_LEVELS];
};

struct version_set {
    char dbpath[DB_PATH_MAX];
    block_cache *cache;
    int num_levels;
    struct version *current; /* swapped under the db mutex */
    /* Logged state; changed only by the holder of manifest_mu (or during open). */
    uint64_t log_number;
    atomic_uint_fast64_t next_run;
    uint64_t manifest_number;
    atomic_uint_fast64_t next_file;
    wfile *manifest_file;
    log_writer *manifest;
    pthread_mutex_t manifest_mu;
};

/* "dir/000012.sst" and friends. */
void db_file_name(char *out, size_t cap, const char *dir, uint64_t number, const char *ext);
/* Parses a directory entry: returns 1 and sets *number and *kind for "NNNNNN.log" (kind 'l'),
 * "NNNNNN.sst" ('t'), "MANIFEST-NNNNNN" ('m'), "OPTIONS-NNNNNN" ('o'), names ending ".tmp" ('x');
 * 0 for other names. */
int db_parse_file_name(const char *name, uint64_t *number, char *kind);

void version_set_init(struct version_set *vs, const char *dbpath, block_cache *cache,
                      int num_levels);
/* Releases the current version and closes the MANIFEST. */
void version_set_close(struct version_set *vs);
static inline uint64_t version_set_new_file_number(struct version_set *vs)
{
    return atomic_fetch_add(&vs->next_file, 1);
}
/* Raises next_file so that it is above number. */
void version_set_mark_file_used(struct version_set *vs, uint64_t number);

/* Reads CURRENT and replays the MANIFEST it names into vs->current, log_number, next_file,
 * next_run; *last_seq gets the recorded last sequence number. LAMINA_ECORRUPT names the file
 * and offset. */
int version_set_recover(struct version_set *vs, uint64_t *last_seq);
/* Creates an empty version (new database). */
int version_set_create_empty(struct version_set *vs);
/* Starts a new MANIFEST holding the current version as one edit (plus log_number, next_file,
 * last_seq, next_run), syncs it, points CURRENT at it (temp + fsync + rename + dir fsync) and
 * deletes the previous MANIFEST. */
int version_set_new_manifest(struct version_set *vs, uint64_t last_seq);
/* Appends one edit (next_file/next_run/last_seq filled in here) to the MANIFEST and syncs it.
 * Call with manifest_mu held. */
int version_set_log_edit(struct version_set *vs, struct version_edit *e, uint64_t last_seq);

/* Builds the version base + edit in *out (one reference). With mark_obsolete, files the edit
 * deletes are marked so their last release deletes them. */
int version_apply(const struct version *base, const struct version_edit *e, int mark_obsolete,
                  struct version **out);
void version_ref(struct version *v);
void version_unref(struct version *v);

/* qsort/bsearch order of file numbers (uint64_t), ascending. */
int file_number_cmp(const void *a, const void *b);

/* The table reader of f, opened on first use (borrowed while f is referenced). */
int file_meta_table(struct file_meta *f, table **out);

/* Looks up lookup (an internal key at the reader's seq) through every run of v, newest
 * first; the first entry found decides. 0 with *type (value in *value for IKEY_VALUE),
 * LAMINA_NOTFOUND, or an error. */
int version_get(struct version *v, const struct table_read_options *ro, const uint8_t *lookup,
                size_t lookup_len, int *type, buf *value);

/* The shape the compaction policy sees; the deepest level holding data (-1 when empty). */
void version_shape(const struct version *v, struct lsm_shape *shape);
int version_deepest_level(const struct version *v);

/* A concatenating iterator over one sorted run's tables (opened lazily, in order). The run's
 * version must stay pinned while it lives. NULL on allocation failure. */
iter *run_iter_create(const struct run *r, const struct table_read_options *ro);

#endif
