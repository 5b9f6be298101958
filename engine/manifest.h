/* manifest.h — the version set (LevelDB's VersionSet): the current version, the counters that
 * are logged (file numbers, run ids, log number), the WALs the MANIFEST records, and the
 * MANIFEST that logs version edits, named by CURRENT. */
#ifndef ENGINE_MANIFEST_H
#define ENGINE_MANIFEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine/log.h"
#include "engine/version.h"
#include "engine/version_edit.h"
#include "sst/table.h"

/* Every logged next file number is the counter plus this much, so that files a job creates
 * after the last edit (tables of a flush or compaction cut short by a crash) still have numbers
 * below the recorded one: the MANIFEST then accounts for them, and the next open removes them. */
#define MANIFEST_FILE_NUMBER_HEADROOM 1000

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
    /* WALs the MANIFEST records (ascending): the live ones (>= log_number) and obsolete ones
     * whose file may still exist. wals_tracked: the MANIFEST read at open records every WAL
     * (else it predates WAL tracking, and open falls back to a directory scan). */
    uint64_t *wals;
    size_t nwals, cap_wals;
    int wals_tracked;
    /* The MANIFEST is rolled when an edit leaves it above max_manifest_size (0: never) and
     * above twice manifest_base_size, its size right after its opening snapshot. */
    uint64_t max_manifest_size;
    uint64_t manifest_base_size;
    /* Numbers never allocated (ascending): those of files found at open with Lamina's name
     * patterns but numbers Lamina had not reached, so not Lamina's; no new file overwrites
     * them and no sweep removes them. Recorded in every snapshot; fixed after open. */
    uint64_t *skip;
    size_t nskip, cap_skip;
    /* The table cache (engine-owned) and the hook told when an obsolete table's last
     * reference goes (the engine deletes the file in the background). */
    table_cache *tables;
    int pin_l0_meta; /* pin_l0_filter_and_index_blocks_in_cache */
    int pin_meta;    /* !cache_index_and_filter_blocks: every reader pins its meta blocks */
    void (*on_obsolete)(void *ctx, uint64_t file_number);
    void *obsolete_ctx;
    /* Statistics totals: what the MANIFEST's records carry, summed at replay and raised by
     * each edit logged, so a snapshot always carries what the log before it held. Changed and
     * read under manifest_mu. user_bytes_logged: how much of the session's user-bytes counter
     * (db_stats.user_bytes, which starts at 0 at open) edits have carried so far. */
    struct edit_stats stats;
    uint64_t user_bytes_logged;
};

void version_set_init(struct version_set *vs, const char *dbpath, block_cache *cache,
                      int num_levels);
/* Releases the current version and closes the MANIFEST. */
void version_set_close(struct version_set *vs);
/* Whether number is in vs->skip. */
int version_set_skipped(const struct version_set *vs, uint64_t number);
static inline uint64_t version_set_new_file_number(struct version_set *vs)
{
    uint64_t n = atomic_fetch_add(&vs->next_file, 1);
    while (vs->nskip && version_set_skipped(vs, n))
        n = atomic_fetch_add(&vs->next_file, 1);
    return n;
}
/* Raises next_file so that it is above number. */
void version_set_mark_file_used(struct version_set *vs, uint64_t number);

/* Reads CURRENT and replays the MANIFEST it names into vs->current, log_number, next_file,
 * next_run, wals, wals_tracked, skip and stats; *last_seq gets the recorded last sequence number.
 * The records are merged into one edit, applied to an empty version once at the end. Errors:
 * LAMINA_ECORRUPT naming the file and the record's offset, LAMINA_EINVAL for a table at a level
 * >= num_levels; on failure the counters and wals hold what the records before it said. */
int version_set_recover(struct version_set *vs, uint64_t *last_seq);
/* Creates an empty version (new database). */
int version_set_create_empty(struct version_set *vs);
/* Starts a new MANIFEST holding the current version as one snapshot edit (identity, "WALs
 * tracked", log_number, next_file, last_seq, next_run, the recorded WALs still needed or on
 * disk, the skipped numbers, the statistics totals), syncs it, points CURRENT at it (NNNNNN.dbtmp +
 * fsync + rename + dir fsync) and deletes the previous MANIFEST. Call with manifest_mu held (or
 * during open). */
int version_set_new_manifest(struct version_set *vs, uint64_t last_seq);
/* Appends one edit (next_file/next_run/last_seq filled in here) to the MANIFEST and syncs it;
 * takes over its log number, WAL records and statistics deltas (added to vs->stats). When that
 * leaves the MANIFEST above the size limit, rolls it: a new MANIFEST holding a snapshot of the
 * current version with e applied (it is applied to vs->current by the caller afterwards). Rolling
 * writes, renames and deletes files, so this is for background flush and compaction only, never for
 * a caller's write path. Call with manifest_mu held. */
int version_set_log_edit(struct version_set *vs, struct version_edit *e, uint64_t last_seq);
/* Records "WAL number created" in the MANIFEST (synced) and in vs->wals. Never rolls the
 * MANIFEST: it runs on the writer's path at a memtable switch. Call with manifest_mu held,
 * after the WAL's directory entry is durable and before any write reaches it. */
int version_set_log_wal(struct version_set *vs, uint64_t number, uint64_t last_seq);
/* Whether the MANIFEST records WAL number. */
int version_set_wal_recorded(const struct version_set *vs, uint64_t number);
/* Adds number to vs->wals without logging it (open: WALs a pre-tracking MANIFEST owns; the
 * next snapshot records them). 0 or LAMINA_ENOMEM. */
int version_set_add_wal(struct version_set *vs, uint64_t number);
/* Drops from vs->wals the obsolete WALs (below log_number) whose files are gone. */
void version_set_prune_wals(struct version_set *vs);
/* Adds number to vs->skip (open only). 0 or LAMINA_ENOMEM. */
int version_set_add_skip(struct version_set *vs, uint64_t number);

/* What the first record of the MANIFEST named by <dbpath>/CURRENT says about its writer. */
enum manifest_owner {
    MANIFEST_NONE,    /* no CURRENT, or it names no MANIFEST file that can be read */
    MANIFEST_LAMINA,  /* the first fragment verifies with Lamina's XXH3 checksum */
    MANIFEST_FOREIGN, /* it verifies with LevelDB's / RocksDB's masked CRC32C instead */
    MANIFEST_UNKNOWN, /* neither: damaged (recovery reports it) */
};
/* Reads CURRENT and the first log fragment of the MANIFEST it names, without writing. */
enum manifest_owner manifest_probe(const char *dbpath);

#endif
