/* lamina.h — the public API of Lamina, a persistent LSM-tree key-value storage engine.
 *
 * Conventions (they hold for every function below unless its comment says otherwise):
 *
 * - Errors. Functions return int: LAMINA_OK (0) or a negative LAMINA_E* code, never a raw
 *   errno. LAMINA_NOTFOUND is a status, not an error. lamina_strerror(code) names a code;
 *   lamina_errmsg() gives the calling thread's detail (file, offset, what failed, errno text)
 *   for its last failed call.
 * - Bytes. Keys and values are byte strings given as pointer + length: they may hold NUL bytes,
 *   values may be empty (length 0, pointer may then be NULL), keys may be empty. Keys are
 *   ordered bytewise (memcmp, the shorter first on a tie). Keys longer than
 *   LAMINA_MAX_KEY_LEN or values longer than LAMINA_MAX_VALUE_LEN are refused with
 *   LAMINA_EINVAL.
 * - Ownership. Inputs are borrowed for the duration of the call only. Memory the library
 *   returns (lamina_get values, property text) is released with lamina_free(), not free():
 *   the library allocates with jemalloc. Iterator key/value pointers are borrowed until the
 *   iterator moves or is destroyed. Snapshots and iterators must be released before
 *   lamina_close(), which otherwise returns LAMINA_EBUSY and closes nothing.
 * - Threads. A lamina_db handle is thread-safe. An iterator or a batch belongs to one thread
 *   at a time.
 * - Options structs carry struct_size and are filled with defaults by their _init function,
 *   so fields can be added without breaking callers.
 */
#ifndef LAMINA_H
#define LAMINA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LAMINA_VERSION_MAJOR 0
#define LAMINA_VERSION_MINOR 1
#define LAMINA_VERSION_PATCH 0

#if defined(__GNUC__)
#define LAMINA_API __attribute__((visibility("default")))
#else
#define LAMINA_API
#endif

/* Largest key and value accepted, in bytes. */
#define LAMINA_MAX_KEY_LEN (64u * 1024u - 1u)
#define LAMINA_MAX_VALUE_LEN (64u * 1024u * 1024u)

/* Return codes. */
enum {
    LAMINA_OK = 0,
    LAMINA_NOTFOUND = -1,  /* key absent: a status, not an error */
    LAMINA_EINVAL = -2,    /* bad argument, option value or size limit */
    LAMINA_EIO = -3,       /* an I/O call failed (the errno text is in lamina_errmsg) */
    LAMINA_ECORRUPT = -4,  /* a file's contents fail a checksum or do not parse */
    LAMINA_ENOSPC = -5,    /* the disk is full */
    LAMINA_ENOMEM = -6,    /* an allocation failed */
    LAMINA_EBUSY = -7,     /* database locked by another handle, or handles still live */
    LAMINA_EREADONLY = -8, /* a background error made the database read-only, or the handle
                            * was opened with lamina_open_read_only */
    LAMINA_EEXIST = -9,    /* the database exists and error_if_exists was set */
    LAMINA_ENOENT = -10,   /* the database does not exist and create_if_missing is off */
};

typedef struct lamina_db lamina_db;
typedef struct lamina_iter lamina_iter;
typedef struct lamina_batch lamina_batch;
typedef struct lamina_snapshot lamina_snapshot;

/* ---- Options -------------------------------------------------------------------------- */

/* Kinds of option values, for lamina_option_desc.kind. */
enum { LAMINA_OPT_BOOL, LAMINA_OPT_INT, LAMINA_OPT_SIZE, LAMINA_OPT_ENUM };

/* Enumerated option values. */
enum { LAMINA_COMPRESSION_NONE = 0, LAMINA_COMPRESSION_ZSTD = 1 };
enum {
    LAMINA_COMPACTION_LEVELED = 0,
    LAMINA_COMPACTION_TIERED = 1,
    LAMINA_COMPACTION_DOSTOEVSKY = 2,
    LAMINA_COMPACTION_NONE = 3,
};
/* wal_recovery_mode (the names of RocksDB's WALRecoveryMode). A torn tail is a record cut short
 * by the end of a WAL: the writer died mid-append, so it was never acknowledged as synced. */
enum {
    LAMINA_WAL_TOLERATE_CORRUPTED_TAIL = 0, /* drop torn tails; damage to a complete record
                                             * fails the open (LAMINA_ECORRUPT) */
    LAMINA_WAL_ABSOLUTE_CONSISTENCY = 1,    /* any damage fails the open, a torn tail too */
    LAMINA_WAL_POINT_IN_TIME = 2,           /* stop at the first damage; open with what precedes
                                             * it, reporting what was dropped */
    LAMINA_WAL_SKIP_ANY = 3,                /* skip each damaged record, reporting it */
};
enum { LAMINA_INDEX_BTREE = 0, LAMINA_INDEX_FST = 1 };
enum { LAMINA_MEMTABLE_AVL = 0, LAMINA_MEMTABLE_ART = 1 };
enum { LAMINA_BLOOM_UNIFORM = 0, LAMINA_BLOOM_MONKEY = 1 };

/* The options table: the single source for struct lamina_options, its defaults,
 * lamina_options_set(), the OPTIONS file, the --name=value flags of kvctl and experiments,
 * and the option list in docs/tuning.md.
 * X(kind, ctype, name, default, min, max, enum names ("a|b|c" or NULL), doc) */
#define LAMINA_OPTIONS_TABLE(X)                                                                   \
    X(LAMINA_OPT_BOOL, int, create_if_missing, 0, 0, 1, NULL,                                     \
      "create the database if the directory holds none")                                           \
    X(LAMINA_OPT_BOOL, int, error_if_exists, 0, 0, 1, NULL,                                       \
      "fail with LAMINA_EEXIST if the database already exists")                                    \
    X(LAMINA_OPT_BOOL, int, paranoid_checks, 1, 0, 1, NULL,                                       \
      "stricter checks at open: every table the MANIFEST names must exist (reads verify block "   \
      "checksums when lamina_read_options.verify_checksums asks, whatever this says)")             \
    X(LAMINA_OPT_ENUM, int, wal_recovery_mode, LAMINA_WAL_TOLERATE_CORRUPTED_TAIL, 0, 3,          \
      "tolerate_corrupted_tail|absolute_consistency|point_in_time|skip_any",                       \
      "damaged WALs at open: tolerate_corrupted_tail drops only a record cut short by the end "   \
      "of a WAL and fails on damage to a complete one; point_in_time and skip_any open anyway, "  \
      "report what they dropped (LOG, lamina_errmsg, lamina.recovery) and move the WALs to lost/") \
    X(LAMINA_OPT_SIZE, int64_t, write_buffer_size, 64ll << 20, 64ll << 10, 1ll << 30, NULL,       \
      "bytes of memtable before it becomes immutable and is flushed to a table")                  \
    X(LAMINA_OPT_INT, int64_t, max_write_buffer_number, 2, 2, 64, NULL,                           \
      "memtables (active + immutable) before writes stop until a flush finishes")                 \
    X(LAMINA_OPT_INT, int64_t, level0_file_num_compaction_trigger, 4, 1, 1000, NULL,             \
      "level-0 runs that start a compaction into level 1")                                         \
    X(LAMINA_OPT_INT, int64_t, level0_slowdown_writes_trigger, 20, 1, 1000, NULL,                 \
      "level-0 runs at which each write is delayed by 1 ms")                                      \
    X(LAMINA_OPT_INT, int64_t, level0_stop_writes_trigger, 36, 1, 1000, NULL,                     \
      "level-0 runs at which writes wait for compaction")                                          \
    X(LAMINA_OPT_ENUM, int, compaction_policy, LAMINA_COMPACTION_LEVELED, 0, 3,                   \
      "leveled|tiered|dostoevsky|none",                                                            \
      "Fluid LSM preset: leveled K=Z=1, tiered K=Z=T-1, dostoevsky K=T-1 Z=1, none")              \
    X(LAMINA_OPT_INT, int64_t, size_ratio, 10, 2, 100, NULL,                                      \
      "T: capacity ratio between adjacent levels")                                                 \
    X(LAMINA_OPT_INT, int64_t, runs_per_level, 0, 0, 100, NULL,                                   \
      "K: sorted runs allowed in levels 1..L-1 (0: from compaction_policy)")                       \
    X(LAMINA_OPT_INT, int64_t, runs_last_level, 0, 0, 100, NULL,                                  \
      "Z: sorted runs allowed in the last level (0: from compaction_policy)")                      \
    X(LAMINA_OPT_SIZE, int64_t, max_bytes_for_level_base, 0, 0, 1ll << 40, NULL,                  \
      "level 1's capacity in bytes when K = 1; with K > 1 the size of one run arriving there, "  \
      "level 1 holding T of them (0: write_buffer_size * level0_file_num_compaction_trigger)")     \
    X(LAMINA_OPT_SIZE, int64_t, target_file_size_base, 0, 0, 1ll << 32, NULL,                     \
      "size at which flush and compaction output is cut into a new table (0: a quarter of "       \
      "level 1's capacity, at most 64 MiB, at least 64 KiB)")                                     \
    X(LAMINA_OPT_INT, int64_t, num_levels, 7, 2, 20, NULL, "levels including level 0")            \
    X(LAMINA_OPT_INT, int64_t, max_background_jobs, 2, 1, 64, NULL,                               \
      "background threads for flush and compaction")                                               \
    X(LAMINA_OPT_SIZE, int64_t, block_size, 4096, 256, 1ll << 24, NULL,                           \
      "uncompressed bytes of entries per data block")                                              \
    X(LAMINA_OPT_INT, int64_t, block_restart_interval, 16, 1, 1024, NULL,                         \
      "entries between restart points in a data block")                                            \
    X(LAMINA_OPT_ENUM, int, compression_type, LAMINA_COMPRESSION_ZSTD, 0, 1, "none|zstd",         \
      "per-block compression of new tables")                                                       \
    X(LAMINA_OPT_INT, int64_t, zstd_level, 1, -7, 22, NULL, "zstd compression level")             \
    X(LAMINA_OPT_INT, int64_t, min_level_to_compress, 2, 0, 20, NULL,                             \
      "levels above this one are written uncompressed (flush output and the small, most often "   \
      "rewritten levels)")                                                                         \
    X(LAMINA_OPT_INT, int64_t, bloom_bits, 10, 0, 64, NULL,                                       \
      "Bloom filter bits per key of new tables (0: no filter)")                                    \
    X(LAMINA_OPT_ENUM, int, index_type, LAMINA_INDEX_BTREE, 0, 1, "btree|fst",                    \
      "index of new tables: a B-tree of separator blocks, or a finite state transducer (FST) "    \
      "over the separators; each table records its own, so a database may hold both")             \
    X(LAMINA_OPT_ENUM, int, memtable_type, LAMINA_MEMTABLE_ART, 0, 1, "avl|art",                  \
      "memtable kind: an AVL tree, or an adaptive radix tree (ART); readers see the same data")   \
    X(LAMINA_OPT_SIZE, int64_t, cache_size, 8ll << 20, 0, 1ll << 40, NULL,                        \
      "block cache capacity in bytes (0: no cache); holds data, index and filter blocks")        \
    X(LAMINA_OPT_INT, int64_t, max_open_files, 1000, -1, 1ll << 30, NULL,                        \
      "table files kept open (LRU table cache, at least 20; -1: keep every table open)")         \
    X(LAMINA_OPT_BOOL, int, cache_index_and_filter_blocks, 0, 0, 1, NULL,                         \
      "index and filter blocks live in the block cache, charged to cache_size (0: each open "     \
      "table pins its filter and index root, bounded by max_open_files)")                         \
    X(LAMINA_OPT_BOOL, int, pin_l0_filter_and_index_blocks_in_cache, 0, 0, 1, NULL,               \
      "keep level-0 tables' filter and index blocks pinned while the table is open")             \
    X(LAMINA_OPT_SIZE, int64_t, max_manifest_file_size, 64ll << 20, 64ll << 10, 1ll << 40, NULL, \
      "MANIFEST size at which it is rolled to a fresh snapshot of the version")                     \
    X(LAMINA_OPT_INT, int64_t, format_version, 2, 1, 2, NULL,                                     \
      "table format of new tables: 2 byte-comparable user-key separators (a key's versions "      \
      "never split across data blocks), 1 internal-key separators (B-tree only); both read")      \
    X(LAMINA_OPT_BOOL, int, use_direct_reads, 0, 0, 1, NULL,                                      \
      "read tables with O_DIRECT into aligned buffers, bypassing the page cache (measures the "   \
      "device; the block cache still serves hits)")                                                \
    X(LAMINA_OPT_BOOL, int, use_io_uring, 1, 0, 1, NULL,                                          \
      "issue batched block reads (multi_get, read-ahead) through io_uring when the kernel grants " \
      "a ring; 0 forces the pread fallback")                                                       \
    X(LAMINA_OPT_SIZE, int64_t, max_auto_readahead_size, 256ll << 10, 0, 1ll << 30, NULL,         \
      "iterators read ahead while their access stays sequential, the window doubling from one "  \
      "block up to this many bytes (0: no read-ahead)")                                            \
    X(LAMINA_OPT_SIZE, int64_t, compaction_readahead_size, 2ll << 20, 0, 1ll << 30, NULL,         \
      "bytes compaction reads ahead in each input table (0: one block at a time)")                \
    X(LAMINA_OPT_INT, int64_t, max_subcompactions, 1, 1, 64, NULL,                                \
      "parts a compaction's key range is split into, merged by that many threads at once "        \
      "(RocksDB's max_subcompactions; 1: one thread per compaction)")                          \
    X(LAMINA_OPT_ENUM, int, bloom_allocation, LAMINA_BLOOM_UNIFORM, 0, 1, "uniform|monkey",      \
      "Bloom filter bits per level: uniform gives every table bloom_bits per key; monkey spends " \
      "the same total (bloom_bits times the keys) with false-positive rates proportional to run " \
      "size (Monkey, SIGMOD 2017): deeper levels fewer bits per key, upper levels more")       \
    X(LAMINA_OPT_INT, int64_t, keep_log_file_num, 10, 0, 100000, NULL,                            \
      "info logs of earlier opens kept beside LOG, each renamed LOG.old.<microseconds since "     \
      "the epoch> when a writer opens (RocksDB's naming); the oldest beyond this are deleted")

#define LAMINA_OPTIONS_FIELD_(kind, ctype, name, def, lo, hi, names, doc) ctype name;

/* Options of lamina_open. Fill with lamina_options_init() before setting fields. */
typedef struct lamina_options {
    size_t struct_size; /* sizeof(lamina_options), set by lamina_options_init */
    LAMINA_OPTIONS_TABLE(LAMINA_OPTIONS_FIELD_)
} lamina_options;

/* Description of one option, for listings (kvctl --help, docs). */
typedef struct lamina_option_desc {
    const char *name;
    int kind;            /* LAMINA_OPT_* */
    const char *choices; /* "a|b|c" for LAMINA_OPT_ENUM, else NULL */
    int64_t def, min, max;
    const char *doc;
} lamina_option_desc;

/* Fills *opts with the defaults of the options table and sets struct_size. */
LAMINA_API void lamina_options_init(lamina_options *opts);

/* Sets the option called `name` from its text form `value` (decimal integers with optional
 * k/m/g suffix for sizes; 0/1/true/false for booleans; a choice name for enums).
 * Errors: LAMINA_EINVAL for an unknown name, a malformed value or one out of range (the
 * message names the option and its range). Both strings are borrowed. */
LAMINA_API int lamina_options_set(lamina_options *opts, const char *name, const char *value);

/* The text form of the option called `name` in *opts, as the OPTIONS file and kvctl options
 * print it (an enum's choice name, "true"/"false", a decimal number), into out: cap bytes,
 * NUL-terminated; 32 bytes always suffice. lamina_options_set() reads the text back.
 * Errors: LAMINA_EINVAL for NULL arguments, an unknown name, an opts->struct_size that does
 * not hold the option, or a cap too small (out then holds a truncated text). */
LAMINA_API int lamina_options_get(const lamina_options *opts, const char *name, char *out,
                                  size_t cap);

/* Options persist with the database: every lamina_open writes the options in force to a new
 * OPTIONS-NNNNNN file (docs/format.md). lamina_options_load reads the newest one of the
 * database in directory `path` into *opts, so that a caller opens with what the database was
 * built with and changes only what it means to change:
 *     lamina_options_init(&o); lamina_options_load(path, &o); o.size_ratio = 8; lamina_open(...)
 * The open itself never reads the file: the struct it is given is what is in force, and the
 * open logs (LOG) every option that differs from the previous OPTIONS file — a structural one
 * (compaction_policy, size_ratio, runs_per_level, runs_last_level, max_bytes_for_level_base,
 * num_levels, index_type, memtable_type, format_version) as "structural", since the tree
 * reshapes itself from then on — and records the new values in its OPTIONS file.
 * Every option is loaded but create_if_missing and error_if_exists (they describe one open
 * call, not the database), which keep their values in *opts; opts->struct_size must be at
 * least sizeof(lamina_options) of this library (lamina_options_init sets it). Reads only.
 * Errors: LAMINA_ENOENT (no database in path, or no OPTIONS file; *opts unchanged),
 * LAMINA_EINVAL (NULL arguments, a small struct_size, or a RocksDB or LevelDB database),
 * LAMINA_ECORRUPT (an OPTIONS file that does not parse; *opts unchanged, the message names
 * the file and line), LAMINA_EIO, LAMINA_ENOMEM. */
LAMINA_API int lamina_options_load(const char *path, lamina_options *opts);

/* Number of options in the table, and the i-th option's description (static storage;
 * NULL when i >= lamina_options_count()). */
LAMINA_API size_t lamina_options_count(void);
LAMINA_API const lamina_option_desc *lamina_options_describe(size_t i);

/* Options of one read. Fill with lamina_read_options_init() before setting fields.
 *
 * struct_size is the struct's size as the caller's header declares it, and a field is read only
 * when it lies wholly within struct_size: a caller built against an older header (a smaller
 * struct) gets the defaults for the fields it lacks, one built against a newer header (a larger
 * struct) is read as far as this library knows. Fields are only ever appended. A struct_size of
 * 0, or too small to hold `snapshot`, makes every call taking the struct fail with
 * LAMINA_EINVAL. The same rules hold for lamina_write_options (whose first field is `sync`). */
typedef struct lamina_read_options {
    size_t struct_size;              /* sizeof(lamina_read_options), set by _init */
    const lamina_snapshot *snapshot; /* read as of this snapshot; NULL: the latest */
    int verify_checksums;            /* check each table block read from a file (default 1);
                                        0 skips it, whatever paranoid_checks says; blocks
                                        found in the block cache are not checked again */
    int fill_cache;                  /* insert blocks read into the block cache (default 1) */
    const void *lower_bound;         /* iterators: first key allowed (inclusive), or NULL */
    size_t lower_bound_len;
    const void *upper_bound;         /* iterators: keys must be < upper_bound, or NULL */
    size_t upper_bound_len;
    const void *prefix;              /* iterators: only keys starting with these prefix_len
                                        bytes, or NULL (or prefix_len 0): every key */
    size_t prefix_len;               /* Both directions and every seek keep to the prefix: a
                                        seek before its keys lands on the first, one past them
                                        is not valid (seek_for_prev mirrors this). With bounds,
                                        both apply (the intersection). The bytes are copied at
                                        lamina_iter_create, as the bounds are: the caller may
                                        free them at once. A table whose [smallest,
                                        largest] key range lies outside the prefix (and the
                                        bounds) is never opened or read. LAMINA_EINVAL: a
                                        NULL prefix with prefix_len > 0. */
} lamina_read_options;

/* Options of one write. Fill with lamina_write_options_init(); struct_size rules as for
 * lamina_read_options. */
typedef struct lamina_write_options {
    size_t struct_size; /* sizeof(lamina_write_options), set by _init */
    int sync;        /* fdatasync the WAL before the write returns (default 0) */
    int disable_wal; /* skip the WAL: the write is lost on a crash before its flush */
} lamina_write_options;

/* Fill read/write options with their defaults. */
LAMINA_API void lamina_read_options_init(lamina_read_options *ro);
LAMINA_API void lamina_write_options_init(lamina_write_options *wo);

/* ---- Database ------------------------------------------------------------------------- */

/* Opens (or with create_if_missing creates) the database in directory `path`, replaying the
 * WALs its MANIFEST records. opts may be NULL for the defaults. On success *out is a handle the
 * caller releases with lamina_close().
 * Files: it creates or rewrites only LOCK, LOG (the previous one renamed LOG.old.<microseconds
 * since the epoch>, at most keep_log_file_num of them kept, the oldest deleted), CURRENT,
 * a new MANIFEST-NNNNNN, a new NNNNNN.log, OPTIONS-NNNNNN, NNNNNN.sst tables of the replayed
 * WALs and NNNNNN.dbtmp temporary files, and deletes only obsolete files of those kinds whose
 * numbers Lamina allocated (docs/format.md, "Which files are Lamina's"). Other files in the
 * directory (a README, notes.tmp, a number Lamina never gave out) are never touched, and a
 * directory holding a RocksDB or LevelDB database is refused before anything in it changes.
 * Errors: LAMINA_ENOENT (no database and create_if_missing off), LAMINA_EEXIST
 * (error_if_exists), LAMINA_EBUSY (another handle holds the LOCK), LAMINA_ECORRUPT (damage to
 * a complete MANIFEST record; damage to a complete WAL record unless wal_recovery_mode is
 * point_in_time or skip_any; a WAL or table the MANIFEST records missing; the message names
 * file and offset), LAMINA_EIO, LAMINA_EINVAL (bad options, or "holds a RocksDB or LevelDB
 * database, not Lamina's"), LAMINA_ENOMEM. A record cut short by the end of a WAL (the writer
 * died mid-append) is dropped. When point_in_time or skip_any drop complete records, the open
 * succeeds and lamina_errmsg() (and the "lamina.recovery" property) say what was dropped; the
 * WALs that held it and the tables no version names are moved to lost/, never deleted. */
LAMINA_API int lamina_open(const char *path, const lamina_options *opts, lamina_db **out);

/* Opens the database in directory `path` for reading only (RocksDB's OpenForReadOnly), for
 * inspection beside a writer or other readers. It never creates, writes, renames or deletes a
 * file: no LOCK is taken, no LOG written, no WAL created, nothing flushed; the WALs the
 * MANIFEST records are replayed into memtables in memory. So any number of read-only handles
 * may coexist, with each other and with one writer (lamina_open) in this or another process.
 * A handle sees the database as of its open: gets, multi_gets, iterators, snapshots,
 * properties and lamina_verify work as on a writer's handle. The open opens every table of
 * that version and holds it open until lamina_close (when there are at most max_open_files of
 * them; -1: any number), so a table a writer deletes later (a compaction replaced it) stays
 * readable through its descriptor. Beyond max_open_files, a read that needs a table deleted
 * since the open fails with LAMINA_EIO and a message naming the file ("No such file or
 * directory"); it never returns other data. A damaged table does not fail the open: reads
 * that need it report the damage (LAMINA_ECORRUPT), as on a writer's handle. Writes
 * (put, delete, write), lamina_flush, lamina_compact_range, lamina_wait_for_compactions and
 * lamina_resume return LAMINA_EREADONLY ("opened read-only"). No background thread runs.
 * opts as for lamina_open (NULL: the defaults; create_if_missing and error_if_exists are
 * ignored); lamina_options_load gives the database's own. An open that meets a writer's
 * change half made (a WAL or table deleted, or a WAL not yet recorded, between its reads)
 * reads again, a few times, before it reports the error. On success *out is released with
 * lamina_close(). Errors: LAMINA_ENOENT (no database), LAMINA_EINVAL (bad options, or a
 * RocksDB or LevelDB database: refused before any file is read past its name and header),
 * LAMINA_ECORRUPT, LAMINA_EIO, LAMINA_ENOMEM, as lamina_open. */
LAMINA_API int lamina_open_read_only(const char *path, const lamina_options *opts,
                                     lamina_db **out);

/* Stops background work, releases the LOCK and frees the handle. A running compaction is
 * cancelled (its partial output deleted; its inputs stay live), a running flush finishes, and
 * queued obsolete tables are deleted, so close returns promptly even during a large merge.
 * Unsynced WAL bytes are handed to the kernel, not synced. Returns LAMINA_EBUSY (and closes
 * nothing) while snapshots or iterators are live; otherwise returns the first background error
 * seen, if any, and the handle is freed in every case. */
LAMINA_API int lamina_close(lamina_db *db);

/* Removes the database in `path`: only Lamina's files — CURRENT, LOCK, LOG, LOG.old.*, the
 * MANIFEST and OPTIONS files, the tables and WALs the MANIFEST records or whose numbers it
 * allocated, and Lamina's NNNNNN.dbtmp temporary files — then the directory if that left it
 * empty. Files Lamina did not make stay, and with them the directory. A directory holding a
 * RocksDB or LevelDB database is refused (LAMINA_EINVAL) without touching a file.
 * Errors: LAMINA_EBUSY if it is open, LAMINA_EINVAL, LAMINA_EIO. A missing directory is
 * LAMINA_OK. */
LAMINA_API int lamina_destroy(const char *path);

/* Stores key -> value. wo may be NULL for the defaults. Blocks while the write queue is ahead
 * of it, is delayed 1 ms once level 0 holds level0_slowdown_writes_trigger runs, and waits
 * while max_write_buffer_number memtables or level0_stop_writes_trigger level-0 runs wait for
 * background work (as LevelDB and RocksDB stall writes); never fails for that reason.
 * Errors: LAMINA_EINVAL (size limits), LAMINA_EIO / LAMINA_ENOSPC (WAL write),
 * LAMINA_EREADONLY. */
LAMINA_API int lamina_put(lamina_db *db, const lamina_write_options *wo, const void *key,
                          size_t key_len, const void *value, size_t value_len);

/* Removes key (writes a tombstone; deleting an absent key is not an error). Errors as
 * lamina_put. */
LAMINA_API int lamina_delete(lamina_db *db, const lamina_write_options *wo, const void *key,
                             size_t key_len);

/* Looks key up. On LAMINA_OK, *value is a new buffer of *value_len bytes (plus a NUL byte after
 * them, not counted) that the caller releases with lamina_free(). Returns LAMINA_NOTFOUND if
 * absent (*value set to NULL); errors: LAMINA_EINVAL, LAMINA_ECORRUPT, LAMINA_EIO,
 * LAMINA_ENOMEM. ro may be NULL. */
LAMINA_API int lamina_get(lamina_db *db, const lamina_read_options *ro, const void *key,
                          size_t key_len, void **value, size_t *value_len);

/* Like lamina_get, but copies up to `cap` bytes of the value into the caller's `buf` and sets
 * *value_len to the value's full length (larger than cap means it was cut short). */
LAMINA_API int lamina_get_into(lamina_db *db, const lamina_read_options *ro, const void *key,
                               size_t key_len, void *buf, size_t cap, size_t *value_len);

/* Looks up n keys as of one snapshot (ro->snapshot, else the latest at the call), as n calls
 * of lamina_get would, but after the memtables and the Bloom filters the block reads of all n
 * keys are issued together (through io_uring when use_io_uring and the kernel allow) and
 * awaited together. keys[i] (key_lens[i] bytes) are borrowed; duplicates are allowed. For each
 * i, statuses[i] is LAMINA_OK with values[i] a new buffer of value_lens[i] bytes (plus a NUL
 * byte, not counted) that the caller releases with lamina_free(), or LAMINA_NOTFOUND or an
 * error code with values[i] = NULL and value_lens[i] = 0. Returns LAMINA_OK when every status
 * is LAMINA_OK or LAMINA_NOTFOUND, else the first error in key order (lamina_errmsg() names
 * one failure); LAMINA_EINVAL for NULL arrays, or as the status of a key over
 * LAMINA_MAX_KEY_LEN.
 * n = 0 is allowed. ro may be NULL. */
LAMINA_API int lamina_multi_get(lamina_db *db, const lamina_read_options *ro, size_t n,
                                const void *const *keys, const size_t *key_lens, void **values,
                                size_t *value_lens, int *statuses);

/* Releases memory returned by the library. NULL is allowed. */
LAMINA_API void lamina_free(void *p);

/* ---- Write batches -------------------------------------------------------------------- */

/* Creates an empty batch in *out; release with lamina_batch_destroy(). Errors: LAMINA_ENOMEM. */
LAMINA_API int lamina_batch_create(lamina_batch **out);
/* Appends a put / a delete to the batch (key and value are copied). Errors: LAMINA_EINVAL
 * (size limits), LAMINA_ENOMEM. */
LAMINA_API int lamina_batch_put(lamina_batch *b, const void *key, size_t key_len,
                                const void *value, size_t value_len);
LAMINA_API int lamina_batch_delete(lamina_batch *b, const void *key, size_t key_len);
/* Empties the batch, keeping its memory for reuse. */
LAMINA_API void lamina_batch_clear(lamina_batch *b);
/* Number of operations in the batch. */
LAMINA_API size_t lamina_batch_count(const lamina_batch *b);
/* Frees the batch. NULL is allowed. */
LAMINA_API void lamina_batch_destroy(lamina_batch *b);

/* Applies every operation of the batch atomically (all or none survive a crash), in order,
 * with consecutive sequence numbers. The batch is borrowed and left unchanged. Errors as
 * lamina_put. */
LAMINA_API int lamina_write(lamina_db *db, const lamina_write_options *wo, const lamina_batch *b);

/* Deletes every key k with begin <= k < end (bytewise order; end is exclusive), as RocksDB's
 * DeleteRange: one record (a range tombstone) whatever the number of keys, so a replication or
 * sharding layer can drop a key range cheaply. Keys written later are not affected; snapshots
 * taken before still see the old keys. Gets, multi_gets and iterators honour it at once; the
 * deleted entries' space is reclaimed by compaction. begin == end is an empty range: nothing is
 * written and 0 is returned. begin and end are borrowed for the call. wo may be NULL. Errors:
 * LAMINA_EINVAL (NULL db, NULL pointer with a non-zero length, a key over LAMINA_MAX_KEY_LEN,
 * begin above end), otherwise as lamina_put. */
LAMINA_API int lamina_delete_range(lamina_db *db, const lamina_write_options *wo, const void *begin,
                                   size_t begin_len, const void *end, size_t end_len);
/* Appends a range deletion of [begin, end) to the batch (keys copied), applied in batch order
 * with the batch's other operations: a put before it in the batch is deleted, one after it
 * stays. begin == end adds nothing and returns 0. Errors: LAMINA_EINVAL (NULL batch, NULL
 * pointer with a non-zero length, size limit, begin above end), LAMINA_ENOMEM. */
LAMINA_API int lamina_batch_delete_range(lamina_batch *b, const void *begin, size_t begin_len,
                                         const void *end, size_t end_len);

/* ---- Snapshots ------------------------------------------------------------------------ */

/* Takes a snapshot of the current state in *out; reads given it see exactly the writes
 * acknowledged before it. Release with lamina_snapshot_release() before lamina_close().
 * Errors: LAMINA_ENOMEM. */
LAMINA_API int lamina_snapshot_create(lamina_db *db, const lamina_snapshot **out);
LAMINA_API void lamina_snapshot_release(lamina_db *db, const lamina_snapshot *snap);

/* ---- Iterators ------------------------------------------------------------------------ */

/* Creates an iterator over a consistent view (ro->snapshot, or the state at creation) in *out;
 * it starts unpositioned (not valid). ro may be NULL; its bound and prefix buffers are copied.
 * Release with lamina_iter_destroy() before lamina_close(). Errors: LAMINA_ENOMEM, LAMINA_EIO,
 * LAMINA_EINVAL (a NULL prefix with prefix_len > 0). */
LAMINA_API int lamina_iter_create(lamina_db *db, const lamina_read_options *ro,
                                  lamina_iter **out);
LAMINA_API void lamina_iter_destroy(lamina_iter *it);

/* Moves the iterator. seek: to the first key >= key; seek_for_prev: to the last key <= key;
 * seek_to_first / seek_to_last: to the first / last key within the bounds and prefix; a seek
 * outside them lands on the nearest key inside, or leaves the iterator not valid when none lies
 * in the direction of the move; next / prev: one
 * step (the iterator must be valid). Each returns LAMINA_OK, also when the move leaves the
 * iterator not valid at an end, or the error that made it not valid (kept by _status). */
LAMINA_API int lamina_iter_seek(lamina_iter *it, const void *key, size_t key_len);
LAMINA_API int lamina_iter_seek_for_prev(lamina_iter *it, const void *key, size_t key_len);
LAMINA_API int lamina_iter_seek_to_first(lamina_iter *it);
LAMINA_API int lamina_iter_seek_to_last(lamina_iter *it);
LAMINA_API int lamina_iter_next(lamina_iter *it);
LAMINA_API int lamina_iter_prev(lamina_iter *it);
/* 1 when positioned at an entry; 0 at an end or after an error. */
LAMINA_API int lamina_iter_valid(const lamina_iter *it);
/* The current key / value (the iterator must be valid); the pointer is borrowed until the
 * iterator moves or is destroyed; its length goes to *len. */
LAMINA_API const void *lamina_iter_key(const lamina_iter *it, size_t *len);
LAMINA_API const void *lamina_iter_value(const lamina_iter *it, size_t *len);
/* LAMINA_OK, or the error that stopped the iterator. */
LAMINA_API int lamina_iter_status(const lamina_iter *it);

/* ---- Maintenance and figures ---------------------------------------------------------- */

/* Writes the active memtable to a level-0 table and waits until it and every older immutable
 * memtable are in tables. Errors: LAMINA_EIO, LAMINA_ENOSPC, LAMINA_EREADONLY. */
LAMINA_API int lamina_flush(lamina_db *db);

/* Flushes, then, when any table overlaps [begin, end] (NULL: unbounded on that side), merges
 * every run of every level into one run at the deepest level holding data (at least level 1),
 * so the range ends fully compacted (a superset of RocksDB's CompactRange). Waits for running
 * compactions first (no new one starts meanwhile) and for its own merge, which reads and
 * rewrites the whole database. Errors as lamina_flush; LAMINA_EBUSY if the database is being
 * closed. */
LAMINA_API int lamina_compact_range(lamina_db *db, const void *begin, size_t begin_len,
                                    const void *end, size_t end_len);

/* Waits until the background threads are idle: no immutable memtable waits for its flush, no
 * compaction runs or is due by the compaction policy, and every obsolete table is deleted
 * (RocksDB's WaitForCompact). Writes from other threads may keep it waiting.
 * Errors: LAMINA_EREADONLY after a background error. */
LAMINA_API int lamina_wait_for_compactions(lamina_db *db);

/* ---- Check and repair ----------------------------------------------------------------- */

/* One finding of lamina_check or lamina_repair, called in the order the files are read.
 * file: the file's name relative to the database directory ("000012.sst", "MANIFEST-000005",
 * "CURRENT", "lost"); offset: the byte offset in that file the finding is about, or UINT64_MAX
 * when none applies (a missing file); code: LAMINA_OK for a note (a torn WAL tail, a file no
 * MANIFEST accounts for, something repair kept), else the code of a problem (LAMINA_ECORRUPT: a
 * file damaged or missing; LAMINA_EIO: a file that could not be read; LAMINA_EINVAL: a file
 * the given options cannot open, such as a table at a level >= num_levels); what: one line
 * saying what was found, without the file's name. Every pointer is borrowed for the call. */
typedef void (*lamina_report_fn)(void *ctx, const char *file, uint64_t offset, int code,
                                 const char *what);

/* Figures of lamina_check. The caller sets struct_size to sizeof(lamina_check_stats); the
 * library fills the fields that lie wholly within it (fields are only ever appended). */
typedef struct lamina_check_stats {
    size_t struct_size;
    uint64_t problems;         /* findings reported with a non-zero code */
    uint64_t notes;            /* findings reported with LAMINA_OK */
    uint64_t manifest_records; /* MANIFEST records that read and decoded clean */
    uint64_t tables;           /* tables the MANIFEST names */
    uint64_t table_entries;    /* entries (all versions, tombstones) of the tables that verified */
    uint64_t wals;             /* live WALs read */
    uint64_t wal_records;      /* WAL records (write batches) that read clean */
    uint64_t keys;             /* live keys (newest version a value) over tables and WALs;
                                  counted only when no problem was found, else 0 */
} lamina_check_stats;

/* Checks the database in directory `path` without opening it: it takes no LOCK and writes,
 * renames or deletes no file (no LOG, no MANIFEST, no WAL replay into tables), so it may run
 * on a damaged database without changing the evidence. Beside a writer (another handle or
 * process) it checks one moment of the database: it opens every table of the version the
 * MANIFEST names at once (up to max_open_files; the writer's compactions may delete them
 * after), and when it finds a table or live WAL already gone with the MANIFEST moved on since,
 * it reads again from the directory listing, before reporting anything (up to 50 times, 10 ms
 * apart; then LAMINA_EBUSY). It reads CURRENT, every record of the
 * MANIFEST CURRENT names (or, when CURRENT is missing or damaged, of the newest MANIFEST),
 * every block of every table the MANIFEST names, every record of every live WAL, the newest
 * OPTIONS file, and lists the directory; then, when nothing was found wrong, merges tables
 * and WALs to count the live keys. Every finding goes to report (may be NULL, ctx is passed
 * through): damaged or missing CURRENT; each MANIFEST record that fails its checksum or does
 * not decode (offset of the record); each table the MANIFEST names that is missing, of
 * another size than recorded, or fails a block checksum, decoding or key order (data,
 * index, filter, properties blocks and footer; every damaged table, not only the first); each
 * live WAL that is missing; each damaged WAL record (a record cut short by the end of the
 * newest WAL is a torn tail: a note); a WAL holding records that the MANIFEST does not record
 * (its records were lost); a damaged OPTIONS file; and, as notes, every other file with
 * Lamina's name patterns that the MANIFEST does not account for (obsolete files the next open
 * deletes, files whose numbers Lamina never allocated), the files set aside in lost/ and files
 * that are not Lamina's. opts may be NULL (num_levels, for the level check, and
 * max_open_files, for the tables held open, are read). stats may be NULL.
 * Returns LAMINA_OK when no problem was found, LAMINA_ECORRUPT when something is damaged or
 * missing (lamina_errmsg names the first: file, offset, what), else the code of the first
 * problem (LAMINA_EIO: a file could not be read; LAMINA_EINVAL: a table the options cannot
 * open); or, before anything is read: LAMINA_ENOENT (no database in path), LAMINA_EINVAL (bad
 * arguments or options, a stats->struct_size too small, or a RocksDB or LevelDB database),
 * LAMINA_EBUSY (a writer changed the database during every attempt), LAMINA_EIO,
 * LAMINA_ENOMEM. */
LAMINA_API int lamina_check(const char *path, const lamina_options *opts, lamina_report_fn report,
                            void *ctx, lamina_check_stats *stats);

/* Figures of lamina_repair; struct_size rules as for lamina_check_stats. */
typedef struct lamina_repair_stats {
    size_t struct_size;
    uint64_t problems;            /* findings reported with a non-zero code */
    uint64_t notes;               /* findings reported with LAMINA_OK */
    uint64_t tables_kept;         /* tables that read clean, kept as they are */
    uint64_t table_entries;       /* entries of the kept tables */
    uint64_t tables_lost;         /* tables moved to lost/: not read clean, or not named by a
                                     MANIFEST that reads clean (obsolete) */
    uint64_t wal_records;         /* WAL records replayed */
    uint64_t wal_entries;         /* operations in them (puts and deletes) */
    uint64_t wal_damaged;         /* damaged WAL spans skipped (each one or more records) */
    uint64_t wal_bytes_dropped;   /* bytes in those spans */
    uint64_t tables_written;      /* new tables holding the replayed WAL records */
    uint64_t files_moved_to_lost; /* every file moved to lost/: tables, WALs, MANIFESTs, ... */
} lamina_repair_stats;

/* Rebuilds the database in directory `path` from what still reads clean, as LevelDB's
 * RepairDB and SQLite's .recover do; for a database whose CURRENT or MANIFEST is missing or
 * damaged, or that lamina_open refuses. It takes the LOCK; checks every table file (by name)
 * with every block's checksum and keeps those that read clean, moving the others to lost/ —
 * and, when the old MANIFEST reads clean and agrees with the WALs, also the tables it no
 * longer names (obsolete ones could bring deleted keys back; their data is elsewhere);
 * replays every WAL record that reads clean (damaged ones are skipped and reported) into new
 * level-0 tables; writes a new MANIFEST naming every kept and new table as its own level-0
 * run, ordered by largest sequence number, with the next file number and last sequence above
 * every one seen, and points CURRENT at it; moves the old MANIFESTs, the replayed WALs and a
 * damaged CURRENT or OPTIONS file to lost/; then releases the LOCK, opens the database with
 * opts (create_if_missing and error_if_exists ignored) and compacts it whole
 * (lamina_compact_range), which merges the overlapping runs by sequence number, and closes it.
 * It never deletes a file: what it cannot use is in lost/ (an existing name there gets a ".N"
 * suffix). Files whose numbers the old MANIFEST shows Lamina never allocated (not Lamina's)
 * are left alone. What was kept and what was not goes to report (may be NULL): each kept
 * table, replayed WAL, obsolete table set aside and torn WAL tail as a note, each table that
 * did not read clean and each damaged WAL span as a problem (LAMINA_ECORRUPT), with the file
 * and offset. A write in a damaged table or WAL record is
 * lost (an older version of its key, or a key it deleted, may then come back); a write that a
 * table and a WAL both hold is kept once. opts and stats may be NULL.
 * Returns LAMINA_OK when the database was rebuilt and opens (the report says what was
 * dropped); errors: LAMINA_ENOENT (no Lamina file in path), LAMINA_EBUSY (a handle has it
 * open), LAMINA_EINVAL (bad arguments or options, or a RocksDB or LevelDB database),
 * LAMINA_EIO, LAMINA_ENOSPC, LAMINA_ENOMEM, or the error of the final open or compaction. */
LAMINA_API int lamina_repair(const char *path, const lamina_options *opts, lamina_report_fn report,
                             void *ctx, lamina_repair_stats *stats);

/* Reads every block of every live table — data, index, filter and properties — checking each
 * checksum, that every entry decodes and that keys are in order (memtables and the WAL were
 * checked when they were read at open). On LAMINA_OK, *entries (may be NULL) gets the number of
 * table entries (all versions and tombstones). Errors: LAMINA_ECORRUPT naming the file and
 * offset of the first damage, LAMINA_EIO, LAMINA_ENOMEM. */
LAMINA_API int lamina_verify(lamina_db *db, uint64_t *entries);

/* Leaves the read-only state a background error (a failed flush, compaction, MANIFEST or WAL
 * write or sync: "No space left on device", an I/O error) put the database in, once its cause
 * is gone, as RocksDB's DB::Resume. Writes are refused (LAMINA_EREADONLY) while it works: it
 * waits for running jobs, continues in a new MANIFEST and a new WAL, and flushes every memtable
 * to tables, so nothing acknowledged depends on a WAL that saw a failed write. Returns LAMINA_OK
 * when there was no error or the database is writable again; otherwise the new error (the
 * database stays read-only, with this error's message), or LAMINA_EBUSY while another
 * lamina_resume runs. Reads go on throughout. Closing and reopening recovers as well. */
LAMINA_API int lamina_resume(lamina_db *db);

/* Reads a figure of the engine as text in *out (NUL-terminated, released with lamina_free()).
 * lamina_property_describe lists every name with its kind and a line of doc.
 * Names: "lamina.stats" (a multi-line summary: per level shape and work, totals, the state now,
 * then the counters since open), "lamina.num-levels" (the deepest level holding
 * data plus one, so level 0 and empty levels above the deepest are counted; 0 when empty),
 * "lamina.levels-with-data" (levels holding at least one table), "lamina.compaction-policy"
 * (text: the compaction_policy in force by name, "leveled"), "lamina.num-files-at-level<N>", "lamina.bytes-at-level<N>", "lamina.num-runs-at-level<N>",
 * "lamina.total-runs", "lamina.write-amp", "lamina.space-amp", "lamina.memtable-bytes",
 * "lamina.cache-hits", "lamina.cache-misses", "lamina.cache-inserts", "lamina.cache-evictions",
 * "lamina.cache-bytes" (bytes the block cache holds: data, index and filter blocks),
 * "lamina.io-reads-at-level<N>" and "lamina.io-bytes-at-level<N>" (data block reads from level
 * N's table files, by gets, multi_gets, iterators and compaction inputs; "lamina.stats" names
 * the read back-end, io_uring or pread, and +direct for use_direct_reads), "lamina.open-tables" (table readers open, at most
 * max_open_files plus those in use), "lamina.table-opens", "lamina.compactions",
 * "lamina.trivial-moves", "lamina.max-compaction-input-bytes" (largest input of one compaction
 * not from level 0), "lamina.running-compactions", "lamina.stall-micros", "lamina.live-bytes"
 * (table bytes), "lamina.allocated-bytes" (jemalloc stats.allocated), "lamina.sequence",
 * "lamina.recovery" (text: what WAL recovery dropped at open under wal_recovery_mode
 * point_in_time or skip_any, each with its file and offset; empty when nothing).
 * The counters among these (cache hits, misses, inserts and evictions, io reads and bytes,
 * table opens, trivial moves, max compaction input, stall micros) count since the handle was
 * opened: they start at 0 at every lamina_open.
 * Work since the database was created, kept in the MANIFEST across reopening:
 * "lamina.compaction-bytes-read-at-level<N>", "...-written-at-level<N>", "...-count-at-level<N>",
 * "...-micros-at-level<N>" (jobs whose output is level N; level 0: flushes),
 * "lamina.user-bytes-written", "lamina.bytes-flushed", "lamina.flushes", "lamina.flush-micros",
 * "lamina.compactions", "lamina.compaction-bytes-read", "lamina.compaction-bytes-written"
 * (flushes excluded), "lamina.bytes-written" (included), "lamina.w-amp" (= "lamina.write-amp":
 * bytes written / bytes flushed, RocksDB's W-Amp). User bytes reach the MANIFEST with the next
 * flush or compaction edit, or at lamina_close; a crash loses the count of the writes since the
 * last of those (the writes themselves are replayed from the WAL, but not counted again).
 * Point lookups (lamina_get, lamina_get_into, each key of lamina_multi_get) that searched the
 * tables, since open: "lamina.lookups", and per level "lamina.lookup-runs-at-level<N>" (sorted
 * runs whose key range held the key), "lamina.filter-probes-at-level<N>",
 * "lamina.filter-false-positives-at-level<N>" (the filter let the key through and the table
 * held no visible version of it), "lamina.lookup-blocks-at-level<N>" (data blocks searched,
 * from the block cache or a file); "lamina.lookup-stats" (text) tabulates them per level with
 * their rates per lookup.
 * Errors: LAMINA_EINVAL for an unknown name, LAMINA_ENOMEM. */
LAMINA_API int lamina_property(lamina_db *db, const char *name, char **out);

/* The same figure as a number, for the integer-valued names (ratios are truncated: use the
 * text form for them). Errors as lamina_property. */
LAMINA_API int lamina_property_int(lamina_db *db, const char *name, uint64_t *out);

/* ---- Errors and version --------------------------------------------------------------- */

/* Static name of a return code ("LAMINA_EIO: I/O error"); never NULL. */
LAMINA_API const char *lamina_strerror(int code);

/* The calling thread's detail message for its last failed call into the library (per thread,
 * since a per-handle buffer would race). db may be NULL. The string is borrowed until the
 * thread's next call into the library; "" if none. */
LAMINA_API const char *lamina_errmsg(const lamina_db *db);

/* "MAJOR.MINOR.PATCH", static. */
LAMINA_API const char *lamina_version(void);

/* ---- Table files (read-only) ---------------------------------------------------------- */

/* One table file (NNNNNN.sst) opened on its own, outside any database, for inspection
 * (kvctl sst-dump, as RocksDB's sst_dump): its recorded properties, its key range, a check of
 * every block, and its entries with their sequence numbers and tombstones. Nothing is written
 * and no LOCK is taken, so it may read a table of a database another handle has open, or a
 * copy. A handle belongs to one thread at a time. */
typedef struct lamina_sst lamina_sst;

/* Kinds of table entries, for lamina_sst_entry_fn, and of WAL operations (lamina_wal_op): a
 * range deletion's key is its begin key and its value the (exclusive) end key. */
enum { LAMINA_SST_DELETION = 0, LAMINA_SST_VALUE = 1, LAMINA_SST_RANGE_DELETION = 2 };

/* Opens the table file at `path` (borrowed) in *out; release with lamina_sst_close(). Reads
 * only its footer. The table's file number (its block checksums are seeded with it) comes
 * from the name when the name is NNNNNN.sst, and must then match the one the footer records;
 * any other name takes the footer's. Errors: LAMINA_ECORRUPT (not a Lamina table, a damaged
 * footer, a name whose number is not the table's: the message names the file and the
 * footer's offset), LAMINA_EIO (cannot open or read the file, a missing file included: the
 * message carries the errno text), LAMINA_EINVAL (NULL arguments), LAMINA_ENOMEM. */
LAMINA_API int lamina_sst_open(const char *path, lamina_sst **out);
/* Closes the table; pointers lamina_sst_properties() returned become invalid. NULL is
 * allowed. */
LAMINA_API void lamina_sst_close(lamina_sst *sst);

/* What a table records about itself (its properties block, written by the builder), and its
 * key range. The caller sets struct_size to sizeof(lamina_sst_props); the library fills the
 * fields that lie wholly within it (fields are only ever appended). Sizes are bytes. */
typedef struct lamina_sst_props {
    size_t struct_size;
    uint64_t file_number;      /* the number the table was written as */
    uint64_t file_size;        /* bytes of the file */
    uint64_t entries;          /* all versions, tombstones included */
    uint64_t deletions;        /* tombstones */
    uint64_t data_blocks;      /* data blocks */
    uint64_t data_bytes;       /* stored bytes of the data blocks (compressed, with trailers) */
    uint64_t raw_key_bytes;    /* bytes of the keys added, each with its 8-byte sequence trailer */
    uint64_t raw_value_bytes;  /* bytes of the values added */
    uint64_t index_bytes;      /* stored bytes of the index */
    uint64_t index_levels;     /* B-tree levels (1: one index block) */
    uint64_t filter_bytes;     /* stored bytes of the Bloom filter block; 0: no filter */
    uint64_t bloom_bits;       /* filter bits per key the table was built with (0: none) */
    uint64_t block_size;       /* target uncompressed bytes per data block */
    uint64_t restart_interval; /* entries between restart points in a data block */
    uint64_t format_version;   /* table format version (the format_version option) */
    uint64_t smallest_seq;     /* smallest and largest sequence number of the entries */
    uint64_t largest_seq;
    int compression; /* LAMINA_COMPRESSION_* the table was built with, or -1 if unknown */
    int index_type;  /* LAMINA_INDEX_*, or -1 if unknown */
    const char *compression_name; /* "none", "zstd" or "unknown"; static */
    const char *index_name;       /* "btree", "fst" or "unknown"; static */
    /* The smallest and largest user key (first and last entry; NULL and 0 for a table with no
     * entries), borrowed until lamina_sst_close(). */
    const void *smallest_key;
    size_t smallest_key_len;
    const void *largest_key;
    size_t largest_key_len;
    uint64_t range_deletions; /* range tombstones (lamina_delete_range), not among entries */
} lamina_sst_props;

/* Fills *out (see lamina_sst_props). Reads the properties block (checksum verified) and the
 * first and last data blocks on the first call; later calls copy what it read. Errors:
 * LAMINA_EINVAL (NULL arguments, or out->struct_size smaller than its first figure),
 * LAMINA_ECORRUPT naming the file and the offset of the damaged block, LAMINA_EIO,
 * LAMINA_ENOMEM; *out's figures are then unchanged. */
LAMINA_API int lamina_sst_properties(lamina_sst *sst, lamina_sst_props *out);

/* Reads every block of the table afresh (data, index, filter, properties), checking each
 * checksum, that every entry decodes, that keys are in order and that the entry count matches
 * the properties (lamina_verify's check of one table). On LAMINA_OK, *entries (may be NULL)
 * gets the entries read. Errors: LAMINA_ECORRUPT with lamina_errmsg() naming the file and
 * the offset of the first damage, LAMINA_EIO, LAMINA_ENOMEM. */
LAMINA_API int lamina_sst_verify(lamina_sst *sst, uint64_t *entries);

/* One entry of lamina_sst_scan: the user key, its sequence number, its kind
 * (LAMINA_SST_VALUE or LAMINA_SST_DELETION; a tombstone's value is empty) and value. Every
 * pointer is borrowed for the call. Return 0 to go on, non-zero to stop the scan. */
typedef int (*lamina_sst_entry_fn)(void *ctx, const void *key, size_t key_len, uint64_t seq,
                                   int type, const void *value, size_t value_len);

/* Calls fn (ctx passed through) for each entry of the table in internal-key order (user key
 * ascending, then sequence number descending: every version and tombstone, as stored),
 * starting at the first entry whose user key is >= from (from_len bytes; NULL: the first
 * entry). Each data block read is checked against its checksum. Returns LAMINA_OK at the end
 * or when fn stops it; errors: LAMINA_EINVAL (NULL sst or fn), LAMINA_ECORRUPT (naming the
 * file and the block's offset; the entries before the damage were passed to fn), LAMINA_EIO,
 * LAMINA_ENOMEM. */
LAMINA_API int lamina_sst_scan(lamina_sst *sst, const void *from, size_t from_len,
                               lamina_sst_entry_fn fn, void *ctx);

/* ---- Writing table files, ingesting them, checkpoints ---------------------------------- */

/* A table file written outside any database (RocksDB's SstFileWriter): entries are added in
 * strictly increasing key order and written as a normal Lamina table, which lamina_ingest
 * then adds to a database, and lamina_sst_open reads. A handle belongs to one thread at a
 * time. */
typedef struct lamina_sst_writer lamina_sst_writer;

/* Creates the table file `path` (borrowed; it must not exist) in *out; release with
 * lamina_sst_writer_destroy(). The table is built with opts' block_size,
 * block_restart_interval, compression_type, zstd_level, bloom_bits, index_type and
 * format_version (other fields are ignored; opts may be NULL for the defaults). Its file
 * number (block checksums are seeded with it) is NNNNNN for a name NNNNNN.sst, else 0; every
 * entry carries sequence number 0 (lamina_ingest assigns its own). Errors: LAMINA_EINVAL
 * (NULL arguments, bad options), LAMINA_EEXIST (path exists), LAMINA_EIO (cannot create it),
 * LAMINA_ENOMEM. */
LAMINA_API int lamina_sst_writer_create(const char *path, const lamina_options *opts,
                                        lamina_sst_writer **out);

/* Adds key -> value (put) or a tombstone for key (delete: it hides the key's older versions
 * once ingested). Each key must be greater than the previous one (bytewise, as the database
 * orders keys); bytes are copied. Errors: LAMINA_EINVAL (NULL arguments, size limits, a key
 * not greater than the previous one, or a writer already finished or failed: nothing is
 * added, and the writer may go on with a greater key unless it failed), LAMINA_EIO /
 * LAMINA_ENOSPC (write error: the writer has failed, destroy it), LAMINA_ENOMEM. */
LAMINA_API int lamina_sst_writer_put(lamina_sst_writer *w, const void *key, size_t key_len,
                                     const void *value, size_t value_len);
LAMINA_API int lamina_sst_writer_delete(lamina_sst_writer *w, const void *key, size_t key_len);

/* Writes the table's filter, index, properties and footer, syncs the file and its directory
 * entry, and closes it. On LAMINA_OK, *entries (may be NULL) gets the entries written. A table
 * with no entry is refused (LAMINA_EINVAL, and the file is removed). Errors as
 * lamina_sst_writer_put. */
LAMINA_API int lamina_sst_writer_finish(lamina_sst_writer *w, uint64_t *entries);

/* Frees the writer. A table not finished (or whose finish failed) is removed; a finished one
 * stays. NULL is allowed. */
LAMINA_API void lamina_sst_writer_destroy(lamina_sst_writer *w);

/* lamina_ingest flags. */
enum {
    LAMINA_INGEST_MOVE = 1, /* remove the caller's files once the ingestion is durable */
};

/* Adds the n table files paths[i] (borrowed; written by lamina_sst_writer or any Lamina table)
 * to the database atomically, in one MANIFEST edit, as RocksDB's IngestExternalFile does.
 * Each file is read whole first: every block's checksum, the entries' order and count. The
 * files' key ranges must not overlap one another. Each file's entries are rewritten into a new
 * table of the database (a table's number is part of its block checksums) with one new
 * sequence number for the whole ingestion, so they read as newer than every version of the
 * same keys written before the call; a file holding several versions of a key contributes
 * its newest (value or tombstone). Each table goes to the deepest level at which neither that
 * level nor any above it holds a table overlapping its key range (level 0, as a new sorted
 * run, when level 0 does); a memtable overlapping the range is flushed first. Writes from
 * other threads wait while the ingestion runs (they would otherwise race its sequence
 * number): while the running compactions finish (none starts until the end), the overlapping
 * memtables are flushed and the files are rewritten. The new data is visible to lamina_get and new iterators
 * when the call returns, survives reopen and crash (the MANIFEST edit is synced), and is not
 * seen through snapshots taken before. The caller's files are left unchanged, or with
 * LAMINA_INGEST_MOVE removed after success (a failed removal is ignored). n = 0 does nothing.
 * Errors (the database is then unchanged): LAMINA_EINVAL (NULL arguments, unknown flags,
 * overlapping files, a file with no entry or a key over LAMINA_MAX_KEY_LEN), LAMINA_ECORRUPT
 * (a damaged file, or not a Lamina table: lamina_errmsg names the file and offset),
 * LAMINA_EIO (a missing or unreadable file), LAMINA_EREADONLY, LAMINA_EBUSY (closing),
 * LAMINA_ENOSPC, LAMINA_ENOMEM. */
LAMINA_API int lamina_ingest(lamina_db *db, const char *const *paths, size_t n, unsigned flags);

/* Makes an openable copy of the database in the new directory `dir` (borrowed), as RocksDB's
 * Checkpoint: it flushes the memtables first (so the copy needs no WAL), then, with the
 * current version pinned so that compaction cannot delete its tables meanwhile, hard-links
 * every live table into dir (copying when the link fails across filesystems), and writes a
 * fresh MANIFEST holding that version as one snapshot edit, CURRENT and an OPTIONS file with
 * the options in force. Files, dir and its parent directory are synced before it returns. It
 * may run while other threads write: the copy holds every write acknowledged before the call
 * and, of those that run during it, a prefix in sequence-number order (whole batches only).
 * The source's files are not changed (a linked table is shared, never rewritten). Open the copy
 * with lamina_open. Errors: LAMINA_EINVAL (NULL arguments, a path too long), LAMINA_EEXIST (dir
 * exists), LAMINA_ENOENT (dir's parent does not exist), LAMINA_EREADONLY, LAMINA_EIO,
 * LAMINA_ENOSPC, LAMINA_ENOMEM; on error, what it created in dir is removed with dir. */
LAMINA_API int lamina_checkpoint(lamina_db *db, const char *dir);

/* ---- Inspection: property names, approximate sizes, live tables, MANIFEST and WAL ---- */

/* Kinds of property values, for lamina_property_desc.kind. */
enum { LAMINA_PROP_INT = 0, LAMINA_PROP_RATIO = 1, LAMINA_PROP_TEXT = 2 };

/* One name lamina_property accepts. per_level: the name takes a level number at its end
 * ("lamina.bytes-at-level" + "2"). doc: one line, saying "(persisted)" for the figures kept in
 * the MANIFEST across reopening and "(since open)" for counters that start at 0 at every open. */
typedef struct lamina_property_desc {
    const char *name;
    int kind; /* LAMINA_PROP_INT (lamina_property_int reads it), _RATIO ("1.234"), _TEXT */
    int per_level;
    const char *doc;
} lamina_property_desc;

/* Number of property names, and the i-th one's description (static storage; NULL when
 * i >= lamina_property_count()). */
LAMINA_API size_t lamina_property_count(void);
LAMINA_API const lamina_property_desc *lamina_property_describe(size_t i);

/* A key range [start, limit): start inclusive, limit exclusive, both user keys (borrowed).
 * start NULL: from the first key; limit NULL: to the last key (start_len / limit_len are then
 * ignored). */
typedef struct lamina_range {
    const void *start;
    size_t start_len;
    const void *limit;
    size_t limit_len;
} lamina_range;

/* What lamina_approximate_sizes counts (RocksDB's SizeApproximationFlags); OR them. */
enum { LAMINA_SIZE_FILES = 1, LAMINA_SIZE_MEMTABLES = 2 };

/* Estimates, for each of the n ranges, the bytes the database spends on keys in it (RocksDB's
 * GetApproximateSizes), into sizes[i]. With LAMINA_SIZE_FILES, the bytes of table files in the
 * current version: a table wholly inside the range counts its whole file size; a table the range
 * cuts counts the bytes between the data blocks where the range's ends would fall, found in its
 * index (the block a bound falls in counts whole, so the estimate is off by at most a block per
 * cut table; a bound past a table's last key counts through the file's end, meta blocks
 * included). Adjacent ranges add up: [a, b) + [b, c) = [a, c). Nothing is read but index
 * blocks (through the block cache). With LAMINA_SIZE_MEMTABLES, also the bytes of the
 * memtables' entries in the range (each entry's key, its 8-byte sequence trailer and its value;
 * found by walking them, so at most write_buffer_size x max_write_buffer_number bytes are
 * visited). An empty range (limit <= start) gives 0. ranges (n entries) and their keys are
 * borrowed; sizes holds n figures (unspecified after an error). n = 0 is allowed.
 * Errors: LAMINA_EINVAL (NULL db, NULL ranges or sizes with n > 0, flags naming neither kind
 * or unknown bits), LAMINA_EIO / LAMINA_ECORRUPT (an index block could not be read),
 * LAMINA_ENOMEM. */
LAMINA_API int lamina_approximate_sizes(lamina_db *db, size_t n, const lamina_range *ranges,
                                        unsigned flags, uint64_t *sizes);

/* One table: a live table of lamina_live_tables, or a table a MANIFEST edit adds. struct_size
 * is set by the library to the size it fills (fields are only ever appended: a caller reads a
 * field only when it lies wholly within struct_size). Keys are user keys; every pointer is
 * borrowed for the callback. */
typedef struct lamina_table_info {
    size_t struct_size;
    int level;             /* 0 .. num_levels-1 */
    uint64_t run;          /* sorted run id: the tables of one run share it; newer runs larger */
    uint64_t file_number;  /* the file is NNNNNN.sst with this number, in the database dir */
    uint64_t file_size;    /* bytes */
    uint64_t entries;      /* entries, every version and tombstone */
    uint64_t smallest_seq; /* smallest and largest sequence number of its entries */
    uint64_t largest_seq;
    const void *smallest_key; /* first user key */
    size_t smallest_key_len;
    const void *largest_key; /* last user key */
    size_t largest_key_len;
} lamina_table_info;

/* Called once per table; return 0 to go on, non-zero to stop. */
typedef int (*lamina_table_fn)(void *ctx, const lamina_table_info *t);

/* Calls fn (ctx passed through) for each live table of the current version (RocksDB's
 * GetLiveFilesMetaData), level by level from 0, within a level newest run first, within a run
 * in key order. The version is pinned for the walk, so its tables stay on disk until it
 * returns, even if a compaction replaces them meanwhile; fn must not call lamina_close.
 * Returns LAMINA_OK (also when fn stops the walk), or LAMINA_EINVAL for NULL db or fn. */
LAMINA_API int lamina_live_tables(lamina_db *db, lamina_table_fn fn, void *ctx);

/* Work an edit records into one level (tag 68, "stats"): bytes read and written, jobs and
 * microseconds of the flushes (level 0) or compactions whose output is that level. */
typedef struct lamina_level_work {
    uint64_t bytes_read, bytes_written, count, micros;
} lamina_level_work;

/* One version edit, a record of a MANIFEST, as lamina_manifest_read decodes it. struct_size as
 * for lamina_table_info. A has_* flag says whether the edit carries the field after it. Arrays
 * and their contents are borrowed for the callback. */
typedef struct lamina_manifest_edit {
    size_t struct_size;
    uint64_t manifest_number; /* the MANIFEST-NNNNNN being read */
    uint64_t offset;          /* file offset of the record's first fragment */
    uint64_t index;           /* 0 for the first record, then 1, 2, ... */
    int has_log_number;
    uint64_t log_number; /* WALs below this number are obsolete */
    int has_next_file;
    uint64_t next_file_number;
    int has_last_sequence;
    uint64_t last_sequence;
    int has_next_run;
    uint64_t next_run;
    int has_identity;               /* the record says it is Lamina's (a MANIFEST's first record) */
    int wals_tracked;               /* the MANIFEST records every WAL it creates */
    const lamina_table_info *added; /* tables added (level, run, number, size, keys, ...) */
    size_t nadded;
    const int *deleted_levels; /* tables removed: deleted_numbers[i] from deleted_levels[i] */
    const uint64_t *deleted_numbers;
    size_t ndeleted;
    const uint64_t *wals_added; /* WAL numbers created */
    size_t nwals_added;
    const uint64_t *skipped; /* file numbers never allocated (files not Lamina's bore them) */
    size_t nskipped;
    int has_stats; /* the statistics below are recorded: deltas of this flush or compaction, or
                      the totals in a MANIFEST's first record */
    uint64_t user_bytes;  /* key + value bytes of puts and deletes */
    uint64_t flush_bytes; /* table bytes written by flushes */
    uint64_t flush_count, flush_micros;
    const lamina_level_work *levels; /* per level, levels[0 .. nlevels) */
    size_t nlevels;
} lamina_manifest_edit;

typedef int (*lamina_manifest_fn)(void *ctx, const lamina_manifest_edit *e);

/* Reads the MANIFEST of the database in directory `path`: the one CURRENT names, or with
 * `file` (not NULL) that file instead (a path, borrowed). Calls fn (ctx passed through) once
 * per record, in file order, with the edit decoded; a non-zero return of fn stops the read.
 * It only reads: it takes no LOCK and opens nothing for writing, so it may read a database
 * another handle has open (it sees the records written so far). A record cut short by the end
 * of the file (a torn tail, or an edit being appended right now) ends the read with LAMINA_OK.
 * Errors: LAMINA_ENOENT (no CURRENT in path, or the file is missing), LAMINA_ECORRUPT (CURRENT
 * does not name a MANIFEST; a complete record fails its checksum or does not decode: the
 * message names the file and offset, the records before it were passed to fn), LAMINA_EIO,
 * LAMINA_EINVAL (NULL path and file, or NULL fn), LAMINA_ENOMEM; or fn's non-zero return. */
LAMINA_API int lamina_manifest_read(const char *path, const char *file, lamina_manifest_fn fn,
                                    void *ctx);

/* One operation of a WAL record: kind LAMINA_SST_VALUE (a put), LAMINA_SST_DELETION (a
 * delete: value NULL, value_len 0) or LAMINA_SST_RANGE_DELETION (lamina_delete_range: key is
 * the begin key, value the exclusive end key), its sequence number, its key and value. */
typedef struct lamina_wal_op {
    int type;
    uint64_t seq;
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
} lamina_wal_op;

/* One WAL record: the write batch of one group commit. struct_size as for lamina_table_info;
 * pointers borrowed for the callback. */
typedef struct lamina_wal_record {
    size_t struct_size;
    uint64_t wal_number;      /* the NNNNNN.log file's number (0 if the name has none) */
    uint64_t offset;          /* file offset of the record's first fragment */
    uint64_t sequence;        /* sequence number of the first operation */
    uint32_t count;           /* operations */
    uint64_t bytes;           /* bytes of the encoded batch */
    const lamina_wal_op *ops; /* ops[0 .. count), in order: op i has sequence + i */
} lamina_wal_record;

typedef int (*lamina_wal_fn)(void *ctx, const lamina_wal_record *r);

/* Reads WAL records (RocksDB's ldb dump_wal): with `file` NULL, every live WAL of the database
 * in directory `path` (those its MANIFEST records at or above its log number, oldest first:
 * what an open would replay); else the one file `file` (a path; `path` may then be NULL).
 * Calls fn (ctx passed through) once per record, in order; a non-zero return stops the read.
 * It only reads (no LOCK, nothing opened for writing), so it may read the WALs of a database
 * another handle has open. A record cut short by the end of a WAL (torn tail, or a write being
 * appended) ends that WAL's read. Errors: LAMINA_ENOENT (no database in path, or a file
 * missing), LAMINA_ECORRUPT (a complete record fails its checksum or its batch does not
 * decode; the message names the file and offset, the records before it were passed to fn),
 * LAMINA_EIO, LAMINA_EINVAL (NULL path and file, NULL fn), LAMINA_ENOMEM; or fn's non-zero
 * return. */
LAMINA_API int lamina_wal_read(const char *path, const char *file, lamina_wal_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* LAMINA_H */
