/* log.h — the log format shared by the WAL and the MANIFEST (LevelDB's log format with XXH3
 * checksums): 32 KiB blocks; a record is split into FULL / FIRST / MIDDLE / LAST fragments,
 * each with a 7-byte header (checksum 4, length 2, type 1); a block's tail shorter than a
 * header is zero-filled. */
#ifndef ENGINE_LOG_H
#define ENGINE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "util/coding.h"
#include "util/file.h"

#define LOG_BLOCK_SIZE 32768
#define LOG_HEADER_SIZE 7

typedef struct log_writer log_writer;

/* Writes records to f (borrowed; the caller closes it after log_writer_destroy). dest_size is
 * f's current length, so appending to an existing log continues its block layout. */
log_writer *log_writer_create(wfile *f, uint64_t dest_size);
/* Appends one record and hands it to the kernel; with sync, also fdatasyncs. */
int log_writer_add(log_writer *w, const void *rec, size_t n, int sync);
/* Appends one record whose bytes are a[0..na) ‖ b[0..nb) (either may be empty), read in place:
 * the same bytes on disk as log_writer_add of the concatenation. The bytes stay in the file's
 * buffer (written out early only when it fills) until log_writer_flush, so several records
 * share one write and one sync. */
int log_writer_append(log_writer *w, const void *a, size_t na, const void *b, size_t nb);
/* Hands the appended records to the kernel; with sync, also fdatasyncs. */
int log_writer_flush(log_writer *w, int sync);
void log_writer_destroy(log_writer *w);

typedef struct log_reader log_reader;

/* Reads the log file at path. NULL sets *rc (LAMINA_EIO, LAMINA_ENOMEM). */
int log_reader_open(const char *path, log_reader **out);

/* Why a reader stopped before the end of the file. */
enum log_damage_kind {
    LOG_INTACT,    /* it did not */
    LOG_TORN_TAIL, /* the last record is cut short by the end of the file (its header's length
                    * runs past it, or a FIRST/MIDDLE fragment is the last), or only zeros
                    * follow: what a writer that died mid-append leaves */
    LOG_CORRUPT,   /* a complete record fails its checksum, or a length or type inside the file
                    * is impossible, or a record's fragments are out of order */
};
struct log_damage {
    enum log_damage_kind kind;
    uint64_t offset;      /* file offset of the damaged record's first fragment */
    uint64_t bytes;       /* bytes from offset to the end of the file */
    uint64_t next_record; /* LOG_CORRUPT: offset of the next valid record start, or UINT64_MAX */
    const char *why;      /* static text */
};

/* Reads the next record into rec (cleared first). Returns 1 with a record; 0 at the end of the
 * log, which may be a torn tail (log_reader_damage tells, and the record is dropped); or
 * LAMINA_ECORRUPT for damage to a complete record (the message names the file, the offset and
 * why). After LAMINA_ECORRUPT every later call repeats it, unless log_reader_skip_damage. */
int log_reader_next(log_reader *r, buf *rec);
/* The torn tail or corruption that stopped the reader, or NULL. Owned by r. */
const struct log_damage *log_reader_damage(const log_reader *r);
/* After LAMINA_ECORRUPT: continues at the next valid record start after the damage (the end of
 * the log when there is none). 0 or the reader's sticky I/O error. */
int log_reader_skip_damage(log_reader *r);
/* Offset just past the last record returned: where a writer may continue. */
uint64_t log_reader_end_offset(const log_reader *r);
void log_reader_close(log_reader *r);

#endif
