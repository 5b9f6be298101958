/* manifest.h — the version set (LevelDB's VersionSet): the current version, the counters that
 * are logged (file numbers, run ids, log number), and the MANIFEST that logs version edits,
 * named by CURRENT. */
#ifndef ENGINE_MANIFEST_H
#define ENGINE_MANIFEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine/log.h"
#include "engine/version.h"
#include "engine/version_edit.h"
#include "sst/table.h"

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
    /* The table cache (engine-owned) and the hook told when an obsolete table's last
     * reference goes (the engine deletes the file in the background). */
    table_cache *tables;
    int pin_l0_meta; /* pin_l0_filter_and_index_blocks_in_cache */
    void (*on_obsolete)(void *ctx, uint64_t file_number);
    void *obsolete_ctx;
};

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

#endif
