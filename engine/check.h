/* check.h — what lamina_check (check.c) and lamina_repair (repair.c) share: a reporter that
 * counts findings and keeps the first problem for lamina_errmsg, a log walker that reports
 * every damaged span and goes on at the next valid record (log_reader_skip_damage), a
 * lenient MANIFEST replay that keeps what its clean records say, and the choice of MANIFEST
 * when CURRENT is missing or damaged. Everything here only reads. */
#ifndef ENGINE_CHECK_H
#define ENGINE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "engine/version_edit.h"
#include "lamina.h"
#include "memtable/memtable.h"
#include "util/coding.h"

/* ---- Findings --------------------------------------------------------------------------- */

struct check_reporter {
    const char *dir;
    lamina_report_fn fn; /* may be NULL */
    void *ctx;
    uint64_t problems, notes;
    int first_code;   /* code of the problem in first (0: none yet) */
    char first[1024]; /* "<dir>/<file>: offset N: what" of the first damage, or of the first
                         problem while nothing is damaged */
};

void check_reporter_init(struct check_reporter *r, const char *dir, lamina_report_fn fn, void *ctx);
/* Reports a finding (code 0: a note) about file at offset (UINT64_MAX: none). */
void check_report(struct check_reporter *r, const char *file, uint64_t offset, int code,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Reports the thread's error message (err_message) as a problem about file: a leading
 * "<path>: " is dropped (the finding names the file), and when offset is UINT64_MAX the
 * message's own "offset N", if any, gives it. */
void check_report_error(struct check_reporter *r, const char *file, uint64_t offset, int code);
/* The return of lamina_check: 0 with no problem, else LAMINA_ECORRUPT when something is
 * damaged or missing, else the first problem's code; first is the thread's message. */
int check_reporter_status(const struct check_reporter *r);

/* ---- Logs ------------------------------------------------------------------------------- */

/* A damaged span of a log: bytes [offset, offset + len) hold no record that reads clean.
 * torn: what a writer dying mid-append leaves at the end of the file (engine/log.h,
 * LOG_TORN_TAIL); anything else is damage to a complete record. */
struct check_damage {
    uint64_t offset, len;
    int at_end; /* no valid record follows: the span runs to the end of the file */
    int torn;
    const char *why;
};

struct check_log_ops {
    /* A record that reads clean; off is the offset of its first fragment. A non-zero return
     * stops the walk and is returned by check_log_walk. */
    int (*record)(void *ctx, uint64_t off, const uint8_t *rec, size_t n);
    void (*damage)(void *ctx, const struct check_damage *d);
};

/* Walks the log at path through the log reader (engine/log.h), giving every record that
 * reads clean to ops->record and every damaged span to ops->damage; after damage to a complete
 * record it goes on at the next valid record start (log_reader_skip_damage), so every damaged
 * record is seen, not only the first. Errors: LAMINA_EIO, LAMINA_ENOMEM, or what ops->record
 * returned. */
int check_log_walk(const char *path, const struct check_log_ops *ops, void *ctx);

/* Checks a WAL record at offset off of file with batch_rep_check. Returns 1 for a sound record
 * (*seq and *count set), 0 for a damaged one (reported as a problem). */
int check_wal_batch(struct check_reporter *r, const char *file, uint64_t off, const uint8_t *rec,
                    size_t n, uint64_t *seq, uint32_t *count);

/* ---- MANIFEST --------------------------------------------------------------------------- */

/* What the records of a MANIFEST that read clean say, folded in order. */
struct check_manifest {
    uint64_t number;          /* MANIFEST-number */
    struct version_edit live; /* the tables they leave live (adds only, keys owned), by number */
    int has_log_number, has_next_file, wals_tracked;
    uint64_t log_number, next_file, last_seq, next_run;
    uint64_t *wals; /* recorded WALs, ascending, unique */
    size_t nwals;
    uint64_t *skipped; /* numbers never allocated, ascending, unique */
    size_t nskipped;
    uint64_t records; /* records that read and decoded clean */
    uint64_t damaged; /* damaged spans and records that did not decode (torn tail excluded) */
};

/* Reads MANIFEST-number in dir, reporting each damaged span (a torn tail as a note) and each
 * record that does not decode, and keeps going. *m is initialised by the call and released
 * with check_manifest_free. Errors: LAMINA_EIO (the file cannot be read; reported),
 * LAMINA_ENOMEM. */
int check_manifest_read(const char *dir, uint64_t number, struct check_reporter *r,
                        struct check_manifest *m);
void check_manifest_free(struct check_manifest *m);
/* Whether m's live tables include table number. */
int check_manifest_has_table(const struct check_manifest *m, uint64_t number);

/* Which MANIFEST to read: the one CURRENT names, or, when CURRENT is missing, does not name a
 * MANIFEST or names one that is missing (each reported as a problem, offset 0 for damage),
 * the highest-numbered MANIFEST among names (a note says so). *current_ok says whether
 * CURRENT was sound. Returns the number, or 0 when there is none. */
uint64_t check_pick_manifest(const char *dir, char **names, size_t n, struct check_reporter *r,
                             int *current_ok);

/* The arguments lamina_check and lamina_repair share: path (set, not too long) and stats
 * (NULL, or a struct whose first field, struct_size, covers at least its first figure).
 * 0, or LAMINA_EINVAL naming fn. */
int check_args(const char *fn, const char *path, const void *stats);
/* Copies the figures of in (in_size bytes, struct_size first) to the caller's out, as far as
 * out's struct_size reaches. */
void check_copy_stats(void *out, const void *in, size_t in_size);

/* Lists the directory of a database to read: *names (dir_list_free) when it holds a file only
 * Lamina makes (CURRENT, a MANIFEST, a table or a WAL) and is not another engine's. Errors:
 * LAMINA_ENOENT (no such directory, or no database in it), LAMINA_EINVAL (a RocksDB or LevelDB
 * marker, or CURRENT naming a MANIFEST in their log checksum: lamina_open's message),
 * LAMINA_EIO, LAMINA_ENOMEM. */
int check_list_database(const char *dir, char ***names, size_t *n);

/* Whether number is in the ascending array a[0..n). */
int check_has_number(const uint64_t *a, size_t n, uint64_t number);

/* Checks an OPTIONS file's text: Lamina's header line, then lines lamina_options_set accepts.
 * 0, or LAMINA_ECORRUPT with *offset the offset of the first bad line and the message set. */
int check_options_text(const uint8_t *text, size_t len, uint64_t *offset);

#endif
