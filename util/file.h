/* file.h — the I/O layer: every file access of the engine goes through here, so tests can
 * inject faults. Reads use pread, or io_uring (liburing) for batched reads when the kernel
 * grants a ring. Every function that can fail returns 0 or a LAMINA_E* code with the message
 * set (util/err.h) naming the path and the errno text. */
#ifndef UTIL_FILE_H
#define UTIL_FILE_H

#include "util/alloc.h"
#include <stddef.h>
#include <stdint.h>

/* A file opened for random reads. */
typedef struct rfile rfile;
/* A file opened for appending, buffered in memory until wfile_flush/sync. */
typedef struct wfile wfile;

/* rfile_open_ex flags. */
/* Read with O_DIRECT, bypassing the page cache. Every read of such a file (rfile_read and the
 * batched reads) goes through an aligned bounce buffer covering the aligned superset of the
 * range (alignment: statx's direct-I/O alignment, else st_blksize, else 4096), then copies
 * out, so callers pass any offset, length and buffer. A read whose offset, length and buffer
 * are already aligned lands in the caller's buffer directly. Bounce buffers are allocated per
 * call and freed before it returns: their memory is bounded by the bytes the call reads.
 * A filesystem that refuses O_DIRECT at open (EINVAL: tmpfs on older kernels, some FUSE and
 * network filesystems) gets buffered reads instead; rfile_is_direct tells which. */
#define RFILE_DIRECT 0x1
/* Batched reads of this file use pread, never the ring. */
#define RFILE_NO_URING 0x2

/* rfile_open_ex with flags 0. */
int rfile_open(const char *path, rfile **out);
/* Opens path for random reads with RFILE_* flags (LAMINA_EINVAL for unknown bits). */
int rfile_open_ex(const char *path, int flags, rfile **out);
/* 1 if reads of f bypass the page cache (RFILE_DIRECT granted), else 0. */
int rfile_is_direct(const rfile *f);
/* Reads exactly n bytes at offset into dst; a short read (file too small) is LAMINA_ECORRUPT. */
int rfile_read(rfile *f, uint64_t offset, void *dst, size_t n);
uint64_t rfile_size(const rfile *f);
const char *rfile_path(const rfile *f);
/* Reads issued to the device for f (requests that reached a system call or the ring, by any
 * path) and the bytes they delivered to callers (a direct read's alignment padding is not
 * counted), since open. Safe to call while other threads read. */
void rfile_io_stats(const rfile *f, uint64_t *reads, uint64_t *bytes);
void rfile_close(rfile *f);

/* One read of a batch. */
struct file_read {
    rfile *f; /* the file; a batch may mix files */
    uint64_t offset;
    size_t len;
    void *dst; /* len bytes, any alignment (see RFILE_DIRECT) */
    int rc;    /* out: 0 or LAMINA_E*; a read past the end of the file is LAMINA_ECORRUPT */
};
/* Reads all n requests, of any files. Through the calling thread's io_uring, in chunks of its
 * depth (128): each chunk is submitted at once and reaped together, so the device sees the
 * whole chunk in flight; requests of RFILE_NO_URING files are read by pread while the chunk's
 * ring reads run. Without a ring (refused by the kernel, or file_force_pread) every request
 * uses pread. A short read through the ring is completed by pread (which reports the end of
 * the file as LAMINA_ECORRUPT). The fault hook sees "read" once per request, before it is
 * issued; a request it fails is not issued. Returns 0 if every read succeeded, else the first
 * failed request's rc (each request's rc tells; the thread's message names one failed read,
 * not necessarily the first). */
int file_read_multi(struct file_read *reqs, size_t n);
/* file_read_multi with every request's f set to f. */
int rfile_read_batch(rfile *f, struct file_read *reqs, size_t n);

/* Creates (truncating) path for appending. */
int wfile_create(const char *path, wfile **out);
/* Opens an existing file for appending at its end. */
int wfile_open_append(const char *path, wfile **out);
int wfile_append(wfile *f, const void *p, size_t n);
/* Writes the buffer out to the kernel (write(2)). A failed write poisons the file like a
 * failed sync: how much of the buffer reached the file is unknown. */
int wfile_flush(wfile *f);
/* Flushes and fdatasyncs. After a failed sync the file is poisoned: every later call fails,
 * with the first failure's code and errno text (a full disk stays LAMINA_ENOSPC). */
int wfile_sync(wfile *f);
/* Bytes appended so far (the file's logical size). */
uint64_t wfile_size(const wfile *f);
/* Flushes and closes; returns the first error (the file is closed in every case). */
int wfile_close(wfile *f);

/* Whole-file and directory operations. */
int file_exists(const char *path); /* 1 or 0 */
int file_size(const char *path, uint64_t *size);
int file_remove(const char *path);
int file_rename(const char *from, const char *to);
int file_read_all(const char *path, uint8_t **data, size_t *len); /* *data freed with mem_free() */
int file_write_all(const char *path, const void *p, size_t n, int sync);
int dir_create(const char *path); /* ok if it exists */
int dir_sync(const char *path);   /* fsync the directory */
/* Lists the names in dir (not "." or ".."): *names is an array of n malloc'ed strings, freed
 * with dir_list_free. */
int dir_list(const char *path, char ***names, size_t *n);
void dir_list_free(char **names, size_t n);
int dir_remove(const char *path); /* rmdir */
/* Hard-links from to the new name to (op "link"). On failure *unsupported is 1 when a copy
 * would do instead (EXDEV: another filesystem; EPERM, EOPNOTSUPP, EMLINK: no more links). */
int file_link(const char *from, const char *to, int *unsupported);
/* mkdir that refuses an existing path (LAMINA_EEXIST) and a missing parent (LAMINA_ENOENT). */
int dir_create_new(const char *path);

/* LOCK file: an exclusive flock. LAMINA_EBUSY if another handle holds it. */
typedef struct file_lock file_lock;
int file_lock_acquire(const char *path, file_lock **out);
void file_lock_release(file_lock *l);

/* "io_uring" or "pread": the read back-end in use. */
const char *file_io_backend(void);
/* Non-zero makes batched reads use pread even when io_uring is available (tests, and
 * benchmarks comparing back-ends); 0 restores the probed choice. Set it while no reads run. */
void file_force_pread(int on);
/* Read requests issued since the process started, process-wide: through the ring, and by
 * pread (rfile_read, and the batched requests that did not use the ring). A ring request
 * completed by pread after a short read counts once, as a ring request. */
void file_io_stats(uint64_t *uring_reads, uint64_t *pread_reads);

/* ---- Fault injection (tests) ---------------------------------------------------------- */
/* When set, the hook is called before each operation with its name ("read", "write", "sync",
 * "create", "rename", "remove", ...) and path; a non-zero return is the errno the operation
 * fails with. NULL (the default) disables injection. Not thread-safe to change while
 * the engine runs. The op names: "open" (rfile_open, wfile_open_append, file_read_all),
 * "create" (wfile_create, file_write_all), "read" (rfile_read, and once per request of a
 * batch), "write" (each write(2) of a flush), "sync", "rename" (path is the source),
 * "remove" (file_remove, dir_remove), "mkdir", "dir_sync", "list", "lock". */
typedef int (*file_fault_hook)(const char *op, const char *path, void *ctx);
void file_set_fault_hook(file_fault_hook hook, void *ctx);

/* ---- The fault layer's entry points (util/fault.c only) ---------------------------------- */
/* One operation as the fault layer sees it. file.c fills the inputs, calls enter before the
 * system call and leave after it, always both (leave also after enter failed it), so the layer
 * can hold a lock across the call and learn what succeeded. The hook above is asked first; an
 * operation it fails never reaches the layer. */
struct file_op {
    const char *op;   /* hook name, as above */
    const char *path; /* the file; a rename's source; dir_sync's directory */
    const char *to;   /* a rename's target, else NULL */
    size_t len;       /* "write": bytes the call writes */
    uint64_t synced;  /* "write", "sync", "open": the file's length at its last successful
                       * sync (its size at open for an append file), as of leave */
    /* Set by enter: */
    size_t partial; /* "write" failed by enter: bytes written before the failure (torn) */
    int skip;       /* "sync", "dir_sync": succeed without the system call */
    int locked;     /* enter took the layer's lock; leave releases it */
    int existed;    /* "create": the path existed before the call */
    void *state;    /* the layer's own, from enter to leave */
    const struct file_layer *layer;
};
struct file_layer {
    /* Returns the errno the operation fails with, or 0 to let it run. */
    int (*enter)(struct file_op *op);
    /* ok: the operation succeeded. */
    void (*leave)(struct file_op *op, int ok);
};
/* Installs (NULL: removes) the layer. With none installed, each operation costs one load and
 * branch. Operations already past enter finish with the layer they entered. */
void file_set_layer(const struct file_layer *layer);

#endif
