/* version_edit.h — a version edit: the change one flush or compaction makes to the set of
 * tables, or the creation of one WAL, stored as one MANIFEST record of tagged fields. Tags
 * below 64 must be understood; a reader skips unknown tags >= 64 (they carry a varint length)
 * and refuses unknown tags < 64, so the format can grow. Byte layout in docs/format.md. */
#ifndef ENGINE_VERSION_EDIT_H
#define ENGINE_VERSION_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "util/coding.h"

/* A table added to (level, run). Keys are internal keys owned by the edit. */
struct edit_file {
    int level;
    uint64_t run; /* run id: tables of one sorted run share it; newer runs larger */
    uint64_t file_number, file_size, entries;
    uint8_t *smallest;
    size_t smallest_len;
    uint8_t *largest;
    size_t largest_len;
    uint64_t smallest_seq, largest_seq;
    int range_dels; /* the table holds range tombstones (EDIT_RANGE_DEL_FILE, tag 69) */
};

struct edit_deleted {
    int level;
    uint64_t file_number;
};

/* Levels whose compaction statistics an edit can carry (num_levels is at most 20). */
#define EDIT_STATS_LEVELS 20

/* Work done into one level: by compaction jobs whose output is the level (and, at level 0, the
 * memtable flushes, which read no table). */
struct edit_level_stats {
    uint64_t bytes_read, bytes_written, count, micros;
};

/* Statistics a tuner needs, kept across reopen. In an edit they are deltas: what this flush or
 * compaction did (a MANIFEST's first record, which replays from zero, carries the totals). */
struct edit_stats {
    uint64_t user_bytes;  /* key + value bytes of puts and deletes */
    uint64_t flush_bytes; /* table bytes written by memtable flushes (included in level 0) */
    uint64_t flush_count, flush_micros;
    struct edit_level_stats level[EDIT_STATS_LEVELS];
};

/* Adds d into *total. */
void edit_stats_add(struct edit_stats *total, const struct edit_stats *d);
/* Whether every counter is 0. */
int edit_stats_empty(const struct edit_stats *s);

struct version_edit {
    int has_log_number;
    uint64_t log_number; /* WALs older than this are obsolete */
    int has_next_file;
    uint64_t next_file_number;
    int has_last_seq;
    uint64_t last_sequence;
    int has_next_run;
    uint64_t next_run;
    struct edit_file *added;
    size_t nadded, cap_added;
    struct edit_deleted *deleted;
    size_t ndeleted, cap_deleted;
    /* Safe-to-ignore fields (tags >= 64), so older readers still open the MANIFEST. */
    int has_identity;     /* "lamina": a MANIFEST's first record says whose it is */
    int wals_tracked;     /* this MANIFEST records every WAL created (RocksDB's
                             track_and_verify_wals_in_manifest): replay exactly those */
    uint64_t *wals_added; /* WALs created, recorded before any write reaches them */
    size_t nwals_added, cap_wals_added;
    uint64_t *skipped; /* numbers never allocated: files not Lamina's bore them first */
    size_t nskipped, cap_skipped;
    int has_stats; /* stats below are recorded (EDIT_STATS, tag 68) */
    struct edit_stats stats;
};

void version_edit_init(struct version_edit *e);
void version_edit_free(struct version_edit *e);
/* Copies the keys. 0 or LAMINA_ENOMEM. */
int version_edit_add_file(struct version_edit *e, const struct edit_file *f);
int version_edit_delete_file(struct version_edit *e, int level, uint64_t file_number);
/* Records "WAL number created". 0 or LAMINA_ENOMEM. */
int version_edit_add_wal(struct version_edit *e, uint64_t number);
/* Records "number is skipped (a file not Lamina's bears it)". 0 or LAMINA_ENOMEM. */
int version_edit_add_skipped(struct version_edit *e, uint64_t number);
/* Removes added[i] (its keys freed); the last added file takes its place. */
void version_edit_remove_added(struct version_edit *e, size_t i);
/* Appends the encoding to out. 0 or LAMINA_ENOMEM. */
int version_edit_encode(const struct version_edit *e, buf *out);
/* Decodes a record into *e (initialised by the call). 0, or LAMINA_ECORRUPT with the message
 * saying which field failed. */
int version_edit_decode(struct version_edit *e, const uint8_t *p, size_t n);

#endif
