/* file.c — the I/O layer: buffered append files, pread/io_uring (liburing) reads, whole-file
 * and directory operations, the LOCK file, and the fault-injection hook and fault layer
 * (util/fault.c) every call passes. */
#include "util/file.h"
#include "util/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"

#define WFILE_BUF_CAP (64u * 1024u)
#define FILE_RING_DEPTH 64u

static file_fault_hook file_hook;
static void *file_hook_ctx;
static _Atomic(const struct file_layer *) file_layer;

void file_set_fault_hook(file_fault_hook hook, void *ctx)
{
    file_hook = hook;
    file_hook_ctx = ctx;
}

void file_set_layer(const struct file_layer *layer)
{
    atomic_store_explicit(&file_layer, layer, memory_order_release);
}

#define FILE_OP(name, p)                                                                           \
    {                                                                                              \
        .op = (name), .path = (p)                                                                  \
    }

/* The errno the hook or the fault layer injects for op, or 0. Always paired with file_leave.
 * The hook runs first, outside the layer's lock, so that it may itself touch files. */
static int file_enter(struct file_op *op)
{
    int e = file_hook ? file_hook(op->op, op->path, file_hook_ctx) : 0;
    if (e) return e;
    op->layer = atomic_load_explicit(&file_layer, memory_order_acquire);
    return op->layer ? op->layer->enter(op) : 0;
}

static void file_leave(struct file_op *op, int rc)
{
    if (op->layer) op->layer->leave(op, rc == 0);
}

static int file_injected(int errnum, const struct file_op *op)
{
    if (op->to) return err_errno(errnum, "%s %s to %s (injected)", op->op, op->path, op->to);
    return err_errno(errnum, "%s %s (injected)", op->op, op->path);
}

/* file_enter, with an injected errno turned into the operation's error: 0 lets it run. */
static int file_begin(struct file_op *op)
{
    int e = file_enter(op);
    return e ? file_injected(e, op) : 0;
}

static char *file_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = mem_alloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Reads exactly n bytes at off, retrying EINTR and short reads; EOF first is LAMINA_ECORRUPT. */
static int file_pread_full(int fd, const char *path, uint64_t off, void *dst, size_t n)
{
    uint8_t *p = dst;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, p + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return err_errno(errno, "read %s at %llu", path, (unsigned long long)(off + done));
        }
        if (r == 0)
            return err_set(LAMINA_ECORRUPT, "read %s at %llu: short read (%zu of %zu bytes)", path,
                           (unsigned long long)off, done, n);
        done += (size_t)r;
    }
    return 0;
}

static int file_write_full(int fd, const char *path, const void *src, size_t n)
{
    const uint8_t *p = src;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return err_errno(errno, "write %s", path);
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- rfile -------------------------------------------------------------------------------- */

struct rfile {
    int fd;
    uint64_t size;
    char *path;
};

static int rfile_open_fd(const char *path, rfile **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_errno(errno, "open %s", path);
    int rc = 0;
    struct stat st;
    rfile *f = NULL;
    if (fstat(fd, &st) < 0) {
        rc = err_errno(errno, "stat %s", path);
        goto fail;
    }
    f = mem_alloc(sizeof(*f));
    if (!f || !(f->path = file_strdup(path))) {
        rc = err_set(LAMINA_ENOMEM, "open %s: out of memory", path);
        goto fail;
    }
    f->fd = fd;
    f->size = (uint64_t)st.st_size;
    *out = f;
    return 0;
fail:
    mem_free(f);
    close(fd);
    return rc;
}

int rfile_open(const char *path, rfile **out)
{
    *out = NULL;
    struct file_op op = FILE_OP("open", path);
    int rc = file_begin(&op);
    if (!rc) rc = rfile_open_fd(path, out);
    file_leave(&op, rc);
    return rc;
}

int rfile_read(rfile *f, uint64_t offset, void *dst, size_t n)
{
    struct file_op op = FILE_OP("read", f->path);
    int rc = file_begin(&op);
    if (!rc) rc = file_pread_full(f->fd, f->path, offset, dst, n);
    file_leave(&op, rc);
    return rc;
}

uint64_t rfile_size(const rfile *f)
{
    return f->size;
}

const char *rfile_path(const rfile *f)
{
    return f->path;
}

void rfile_close(rfile *f)
{
    if (!f) return;
    close(f->fd);
    mem_free(f->path);
    mem_free(f);
}

/* ---- Batched reads: one io_uring per thread, released when the thread exits -------------- */

enum { FILE_BACKEND_UNKNOWN, FILE_BACKEND_URING, FILE_BACKEND_PREAD };

static atomic_int file_backend = FILE_BACKEND_UNKNOWN;
static atomic_int file_pread_forced;
static pthread_once_t file_ring_once = PTHREAD_ONCE_INIT;
static pthread_key_t file_ring_key;
static int file_ring_key_ok;

static void file_ring_free(void *p)
{
    struct io_uring *ring = p;
    io_uring_queue_exit(ring);
    mem_free(ring);
}

static void file_ring_setup(void)
{
    file_ring_key_ok = pthread_key_create(&file_ring_key, file_ring_free) == 0;
    /* Probe once: sandboxes and some kernels refuse rings (EPERM, ENOSYS). */
    struct io_uring ring;
    if (file_ring_key_ok && io_uring_queue_init(FILE_RING_DEPTH, &ring, 0) == 0) {
        io_uring_queue_exit(&ring);
        atomic_store(&file_backend, FILE_BACKEND_URING);
    } else {
        atomic_store(&file_backend, FILE_BACKEND_PREAD);
    }
}

void file_force_pread(int on)
{
    atomic_store(&file_pread_forced, on != 0);
}

const char *file_io_backend(void)
{
    pthread_once(&file_ring_once, file_ring_setup);
    if (atomic_load(&file_pread_forced)) return "pread";
    return atomic_load(&file_backend) == FILE_BACKEND_URING ? "io_uring" : "pread";
}

/* The calling thread's ring, created on first use; NULL means use pread. */
static struct io_uring *file_thread_ring(void)
{
    pthread_once(&file_ring_once, file_ring_setup);
    if (atomic_load(&file_backend) != FILE_BACKEND_URING || atomic_load(&file_pread_forced))
        return NULL;
    struct io_uring *ring = pthread_getspecific(file_ring_key);
    if (ring) return ring;
    ring = mem_alloc(sizeof(*ring));
    if (!ring) return NULL;
    if (io_uring_queue_init(FILE_RING_DEPTH, ring, 0) != 0) {
        mem_free(ring);
        return NULL;
    }
    if (pthread_setspecific(file_ring_key, ring) != 0) {
        file_ring_free(ring);
        return NULL;
    }
    return ring;
}

/* Drops the thread's ring after a submission failure, so the next batch starts clean. */
static void file_thread_ring_drop(struct io_uring *ring)
{
    pthread_setspecific(file_ring_key, NULL);
    file_ring_free(ring);
}

static int file_read_one(rfile *f, struct file_read *r)
{
    r->rc = rfile_read(f, r->offset, r->dst, r->len);
    return r->rc;
}

/* Reads up to FILE_RING_DEPTH requests through the ring; requests it could not complete are
 * finished with pread, and a ring in an unknown state is dropped. */
static void file_uring_chunk(rfile *f, struct io_uring *ring, struct file_read *reqs, size_t n)
{
    unsigned char pending[FILE_RING_DEPTH];
    size_t queued = 0;
    for (size_t i = 0; i < n; i++) {
        pending[i] = 0;
        struct file_read *r = &reqs[i];
        /* The layer's lock is not held across the ring: a read changes nothing on disk. */
        struct file_op op = FILE_OP("read", f->path);
        int rc = file_begin(&op);
        file_leave(&op, rc);
        if (rc) {
            r->rc = rc;
            continue;
        }
        /* One SQE reads at most UINT_MAX bytes; empty reads need no I/O. */
        if (r->len == 0 || r->len > (1u << 30)) {
            r->rc = r->len ? file_pread_full(f->fd, f->path, r->offset, r->dst, r->len) : 0;
            continue;
        }
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        if (!sqe) {
            r->rc = file_pread_full(f->fd, f->path, r->offset, r->dst, r->len);
            continue;
        }
        io_uring_prep_read(sqe, f->fd, r->dst, (unsigned)r->len, r->offset);
        io_uring_sqe_set_data64(sqe, i);
        pending[i] = 1;
        queued++;
    }
    if (queued == 0) return;
    int submitted = io_uring_submit(ring);
    while (submitted == -EINTR)
        submitted = io_uring_submit(ring);
    size_t waiting = submitted > 0 ? (size_t)submitted : 0;
    int broken = waiting != queued;
    while (waiting) {
        struct io_uring_cqe *cqe;
        int w = io_uring_wait_cqe(ring, &cqe);
        if (w == -EINTR) continue;
        if (w < 0) {
            broken = 1;
            break;
        }
        uint64_t i = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(ring, cqe);
        waiting--;
        if (i >= n || !pending[i]) continue;
        struct file_read *r = &reqs[i];
        pending[i] = 0;
        if (res == -EINTR || res == -EAGAIN) {
            r->rc = file_pread_full(f->fd, f->path, r->offset, r->dst, r->len);
        } else if (res < 0) {
            r->rc = err_errno(-res, "read %s at %llu", f->path, (unsigned long long)r->offset);
        } else if ((size_t)res < r->len) {
            /* Short read: the rest by pread, which reports EOF as corruption. */
            r->rc = file_pread_full(f->fd, f->path, r->offset + (size_t)res,
                                    (uint8_t *)r->dst + res, r->len - (size_t)res);
        } else {
            r->rc = 0;
        }
    }
    if (broken) {
        /* Unknown state (unsubmitted or unreaped entries): drop the ring, finish by pread. */
        file_thread_ring_drop(ring);
        for (size_t i = 0; i < n; i++)
            if (pending[i])
                reqs[i].rc =
                    file_pread_full(f->fd, f->path, reqs[i].offset, reqs[i].dst, reqs[i].len);
    }
}

int rfile_read_batch(rfile *f, struct file_read *reqs, size_t n)
{
    for (size_t done = 0; done < n;) {
        size_t chunk = n - done < FILE_RING_DEPTH ? n - done : FILE_RING_DEPTH;
        struct io_uring *ring = file_thread_ring();
        if (ring) {
            file_uring_chunk(f, ring, reqs + done, chunk);
        } else {
            for (size_t i = 0; i < chunk; i++)
                file_read_one(f, &reqs[done + i]);
        }
        done += chunk;
    }
    /* The thread's message names one failed read, not necessarily the first. */
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].rc) {
            first = reqs[i].rc;
            break;
        }
    }
    return first;
}

/* ---- wfile -------------------------------------------------------------------------------- */

struct wfile {
    int fd;
    int poisoned;     /* the LAMINA_E* code of a failed write or sync: the durable state of the
                       * file is unknown */
    char *poison_msg; /* that failure's message, restated by every later call */
    char *path;
    uint8_t *buf;
    size_t len;
    uint64_t size;
    uint64_t synced; /* size at the last successful sync (the fault layer's power loss) */
};

static int wfile_open_fd(const char *path, int flags, const char *op, wfile **out)
{
    int fd = open(path, flags | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return err_errno(errno, "%s %s", op, path);
    int rc = 0;
    wfile *f = mem_calloc(1, sizeof(*f));
    if (!f || !(f->path = file_strdup(path)) || !(f->buf = mem_alloc(WFILE_BUF_CAP))) {
        rc = err_set(LAMINA_ENOMEM, "%s %s: out of memory", op, path);
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = err_errno(errno, "stat %s", path);
        goto fail;
    }
    f->fd = fd;
    f->size = (uint64_t)st.st_size;
    f->synced = f->size;
    *out = f;
    return 0;
fail:
    if (f) {
        mem_free(f->path);
        mem_free(f->buf);
        mem_free(f);
    }
    close(fd);
    return rc;
}

static int wfile_make(const char *path, int flags, const char *name, wfile **out)
{
    *out = NULL;
    struct file_op op = FILE_OP(name, path);
    int rc = file_begin(&op);
    if (!rc) rc = wfile_open_fd(path, flags, name, out);
    if (!rc) op.synced = (*out)->synced;
    file_leave(&op, rc);
    return rc;
}

int wfile_create(const char *path, wfile **out)
{
    return wfile_make(path, O_CREAT | O_TRUNC, "create", out);
}

int wfile_open_append(const char *path, wfile **out)
{
    return wfile_make(path, O_APPEND, "open", out);
}

/* Later calls on a poisoned file restate the first failure, code and message (a full disk
 * stays LAMINA_ENOSPC, naming the write that hit it), so that a caller's cleanup (closing the
 * file) cannot replace the cause with a vaguer error. */
static int wfile_poisoned(const wfile *f)
{
    if (f->poison_msg)
        return err_set(f->poisoned, "%s (an earlier failure: the file is unusable)", f->poison_msg);
    return err_set(f->poisoned, "write %s: an earlier write or sync failed; the file is unusable",
                   f->path);
}

/* Poisons f after the failure rc, whose message is the thread's. */
static void wfile_poison(wfile *f, int rc)
{
    if (f->poisoned) return;
    f->poisoned = rc;
    f->poison_msg = mem_strdup(err_message()); /* NULL: the plain restatement */
}

/* Writes p[0..n) to the kernel; a failure poisons the file (how much reached it is unknown).
 * An injected failure may first write part of the bytes, as a torn write does. */
static int wfile_write_out(wfile *f, const void *p, size_t n)
{
    struct file_op op = FILE_OP("write", f->path);
    op.len = n;
    int rc, e = file_enter(&op);
    if (e) {
        if (op.partial) (void)file_write_full(f->fd, f->path, p, op.partial < n ? op.partial : n);
        rc = file_injected(e, &op);
    } else {
        rc = file_write_full(f->fd, f->path, p, n);
    }
    if (rc) wfile_poison(f, rc);
    op.synced = f->synced;
    file_leave(&op, rc);
    return rc;
}

int wfile_append(wfile *f, const void *p, size_t n)
{
    if (f->poisoned) return wfile_poisoned(f);
    if (n > WFILE_BUF_CAP - f->len) {
        int rc = wfile_flush(f);
        if (rc) return rc;
        if (n >= WFILE_BUF_CAP) {
            rc = wfile_write_out(f, p, n);
            if (rc) return rc;
            f->size += n;
            return 0;
        }
    }
    if (n) memcpy(f->buf + f->len, p, n);
    f->len += n;
    f->size += n;
    return 0;
}

int wfile_flush(wfile *f)
{
    if (f->poisoned) return wfile_poisoned(f);
    if (f->len == 0) return 0;
    int rc = wfile_write_out(f, f->buf, f->len);
    if (rc) return rc;
    f->len = 0;
    return 0;
}

int wfile_sync(wfile *f)
{
    int rc = wfile_flush(f);
    if (rc) return rc;
    /* Never retry a failed fsync: the kernel may have dropped the dirty pages (fsyncgate). */
    struct file_op op = FILE_OP("sync", f->path);
    rc = file_begin(&op);
    if (!rc && !op.skip && fdatasync(f->fd) < 0) rc = err_errno(errno, "sync %s", f->path);
    if (rc)
        wfile_poison(f, rc);
    else if (!op.skip)
        f->synced = f->size;
    op.synced = f->synced;
    file_leave(&op, rc);
    return rc;
}

uint64_t wfile_size(const wfile *f)
{
    return f->size;
}

/* Closes without flushing; report = 0 keeps the thread's message (an earlier error's). */
static int wfile_release(wfile *f, int report)
{
    int rc = 0;
    if (close(f->fd) < 0 && report) rc = err_errno(errno, "close %s", f->path);
    mem_free(f->poison_msg);
    mem_free(f->path);
    mem_free(f->buf);
    mem_free(f);
    return rc;
}

int wfile_close(wfile *f)
{
    if (!f) return 0;
    int rc = wfile_flush(f);
    if (rc) {
        wfile_release(f, 0);
        return rc;
    }
    return wfile_release(f, 1);
}

/* ---- Whole files and directories ----------------------------------------------------------- */

int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int file_size(const char *path, uint64_t *size)
{
    struct stat st;
    if (stat(path, &st) < 0) return err_errno(errno, "stat %s", path);
    *size = (uint64_t)st.st_size;
    return 0;
}

int file_remove(const char *path)
{
    struct file_op op = FILE_OP("remove", path);
    int rc = file_begin(&op);
    if (!rc && unlink(path) < 0) rc = err_errno(errno, "remove %s", path);
    file_leave(&op, rc);
    return rc;
}

int file_rename(const char *from, const char *to)
{
    struct file_op op = FILE_OP("rename", from);
    op.to = to;
    int rc = file_begin(&op);
    if (!rc && rename(from, to) < 0) rc = err_errno(errno, "rename %s to %s", from, to);
    file_leave(&op, rc);
    return rc;
}

int file_read_all(const char *path, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    rfile *f;
    int rc = rfile_open(path, &f);
    if (rc) return rc;
    size_t n = (size_t)f->size;
    /* One spare byte so text files can be NUL-terminated by callers without a copy. */
    uint8_t *p = mem_alloc(n + 1);
    if (!p) {
        rc = err_set(LAMINA_ENOMEM, "read %s: out of memory for %zu bytes", path, n);
        goto out;
    }
    rc = rfile_read(f, 0, p, n);
    if (rc) {
        mem_free(p);
        goto out;
    }
    p[n] = 0;
    *data = p;
    *len = n;
out:
    rfile_close(f);
    return rc;
}

int file_write_all(const char *path, const void *p, size_t n, int sync)
{
    wfile *f;
    int rc = wfile_create(path, &f);
    if (rc) return rc;
    rc = wfile_append(f, p, n);
    if (!rc) rc = sync ? wfile_sync(f) : wfile_flush(f);
    if (rc) {
        /* Keep the failure's message: closing a poisoned file would restate it vaguely. */
        wfile_release(f, 0);
        return rc;
    }
    return wfile_release(f, 1);
}

int dir_create(const char *path)
{
    struct file_op op = FILE_OP("mkdir", path);
    int rc = file_begin(&op);
    if (!rc && mkdir(path, 0755) < 0 && errno != EEXIST) rc = err_errno(errno, "mkdir %s", path);
    file_leave(&op, rc);
    return rc;
}

static int dir_fsync(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return err_errno(errno, "open directory %s", path);
    int rc = 0;
    if (fsync(fd) < 0) rc = err_errno(errno, "dir_sync %s", path);
    close(fd);
    return rc;
}

int dir_sync(const char *path)
{
    struct file_op op = FILE_OP("dir_sync", path);
    int rc = file_begin(&op);
    if (!rc && !op.skip) rc = dir_fsync(path);
    file_leave(&op, rc);
    return rc;
}

static int dir_list_names(const char *path, char ***names, size_t *n)
{
    DIR *d = opendir(path);
    if (!d) return err_errno(errno, "list %s", path);
    char **v = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nv = mem_realloc(v, ncap * sizeof(*nv));
            if (!nv) {
                rc = err_set(LAMINA_ENOMEM, "list %s: out of memory", path);
                goto fail;
            }
            v = nv;
            cap = ncap;
        }
        if (!(v[len] = file_strdup(de->d_name))) {
            rc = err_set(LAMINA_ENOMEM, "list %s: out of memory", path);
            goto fail;
        }
        len++;
        errno = 0;
    }
    if (errno) {
        rc = err_errno(errno, "list %s", path);
        goto fail;
    }
    closedir(d);
    *names = v;
    *n = len;
    return 0;
fail:
    closedir(d);
    dir_list_free(v, len);
    return rc;
}

int dir_list(const char *path, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    struct file_op op = FILE_OP("list", path);
    int rc = file_begin(&op);
    if (!rc) rc = dir_list_names(path, names, n);
    file_leave(&op, rc);
    return rc;
}

void dir_list_free(char **names, size_t n)
{
    if (!names) return;
    for (size_t i = 0; i < n; i++)
        mem_free(names[i]);
    mem_free(names);
}

int dir_remove(const char *path)
{
    struct file_op op = FILE_OP("remove", path);
    int rc = file_begin(&op);
    if (!rc && rmdir(path) < 0) rc = err_errno(errno, "rmdir %s", path);
    file_leave(&op, rc);
    return rc;
}

/* ---- LOCK file ------------------------------------------------------------------------------ */

struct file_lock {
    int fd;
};

static int file_lock_take(const char *path, file_lock **out)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return err_errno(errno, "lock %s", path);
    int rc = 0;
    /* flock locks belong to the open file description, so a second open in this process
     * conflicts too: one handle per database even within a process. */
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK)
            rc = err_set(LAMINA_EBUSY, "lock %s: held by another handle (database in use)", path);
        else
            rc = err_errno(errno, "lock %s", path);
        goto fail;
    }
    file_lock *l = mem_alloc(sizeof(*l));
    if (!l) {
        rc = err_set(LAMINA_ENOMEM, "lock %s: out of memory", path);
        goto fail;
    }
    l->fd = fd;
    *out = l;
    return 0;
fail:
    close(fd);
    return rc;
}

int file_lock_acquire(const char *path, file_lock **out)
{
    *out = NULL;
    struct file_op op = FILE_OP("lock", path);
    int rc = file_begin(&op);
    if (!rc) rc = file_lock_take(path, out);
    file_leave(&op, rc);
    return rc;
}

void file_lock_release(file_lock *l)
{
    if (!l) return;
    flock(l->fd, LOCK_UN);
    close(l->fd);
    mem_free(l);
}
