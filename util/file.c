/* file.c — the I/O layer: buffered append files, pread/io_uring (liburing) reads (batched
 * across files, O_DIRECT through aligned bounce buffers), whole-file and directory operations, the
 * LOCK file, and the fault-injection hook and fault layer (util/fault.c) every call passes. */
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
#define FILE_RING_DEPTH 128u

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
    int flags;      /* RFILE_NO_URING as asked; RFILE_DIRECT only when O_DIRECT was granted */
    uint32_t align; /* a direct file's offset, length and memory alignment; 1 otherwise */
    uint64_t size;
    char *path;
    _Atomic uint64_t reads, bytes;
};

/* Requests issued by the ring and by pread, process-wide (file_io_stats). */
static _Atomic uint64_t file_uring_reads, file_pread_reads;

/* The alignment direct reads of fd need: statx's direct-I/O alignment when the kernel reports
 * it (offset and memory, the larger), else the filesystem's block size, which is a multiple of
 * the device's logical block size; 4096 when neither is a sane power of two. */
static uint32_t rfile_direct_align(int fd, const struct stat *st)
{
    uint32_t a = 0;
#ifdef STATX_DIOALIGN
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN))
        a = sx.stx_dio_offset_align > sx.stx_dio_mem_align ? sx.stx_dio_offset_align
                                                           : sx.stx_dio_mem_align;
#endif
    if (a == 0) a = (uint32_t)st->st_blksize;
    if (a < 512 || a > 65536 || (a & (a - 1))) a = 4096;
    return a;
}

static int rfile_open_fd(const char *path, int flags, rfile **out)
{
    int direct = (flags & RFILE_DIRECT) != 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
    if (fd < 0 && direct && errno == EINVAL) {
        /* The filesystem refuses O_DIRECT: buffered reads, which rfile_is_direct reports. */
        direct = 0;
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
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
    f->flags = (flags & RFILE_NO_URING) | (direct ? RFILE_DIRECT : 0);
    f->align = direct ? rfile_direct_align(fd, &st) : 1;
    f->size = (uint64_t)st.st_size;
    atomic_init(&f->reads, 0);
    atomic_init(&f->bytes, 0);
    *out = f;
    return 0;
fail:
    mem_free(f);
    close(fd);
    return rc;
}

int rfile_open_ex(const char *path, int flags, rfile **out)
{
    *out = NULL;
    if (flags & ~(RFILE_DIRECT | RFILE_NO_URING))
        return err_set(LAMINA_EINVAL, "open %s: unknown flags 0x%x", path, (unsigned)flags);
    struct file_op op = FILE_OP("open", path);
    int rc = file_begin(&op);
    if (!rc) rc = rfile_open_fd(path, flags, out);
    file_leave(&op, rc);
    return rc;
}

int rfile_open(const char *path, rfile **out)
{
    return rfile_open_ex(path, 0, out);
}

int rfile_is_direct(const rfile *f)
{
    return (f->flags & RFILE_DIRECT) != 0;
}

/* One request as the device sees it: a direct file's request widened to its aligned superset
 * in a bounce buffer, any other request as it is, in the caller's buffer. */
struct file_span {
    rfile *f;
    struct file_read *r;
    uint8_t *buf; /* where the bytes land: r->dst or a bounce buffer */
    uint64_t off; /* file offset of buf[0] */
    size_t len;   /* bytes asked of the device */
    size_t need;  /* bytes from buf[0] that must arrive to cover the request */
    size_t done;  /* bytes arrived */
};

/* Bytes of bounce buffer r needs on f: 0 when it reads straight into r->dst. */
static size_t file_bounce_len(const rfile *f, const struct file_read *r)
{
    uint64_t a = f->align;
    if (a == 1 || (((uintptr_t)r->dst | r->offset | r->len) & (a - 1)) == 0) return 0;
    uint64_t start = r->offset & ~(a - 1);
    uint64_t end = (r->offset + r->len + a - 1) & ~(a - 1);
    return (size_t)(end - start);
}

/* Sets s up for r on f; bounce (file_bounce_len(f, r) bytes, aligned to f->align) is NULL when
 * that length is 0. */
static void file_span_init(struct file_span *s, rfile *f, struct file_read *r, uint8_t *bounce)
{
    s->f = f;
    s->r = r;
    s->done = 0;
    if (bounce) {
        s->buf = bounce;
        s->off = r->offset & ~((uint64_t)f->align - 1);
        s->len = file_bounce_len(f, r);
    } else {
        s->buf = r->dst;
        s->off = r->offset;
        s->len = r->len;
    }
    s->need = (size_t)(r->offset + r->len - s->off);
}

/* Reads the rest of s (from s->done) by pread, retrying EINTR and short reads. A direct read
 * that stopped at an unaligned length met the end of the file; so does a read of 0 bytes: both
 * are LAMINA_ECORRUPT. */
static int file_span_pread(struct file_span *s)
{
    const rfile *f = s->f;
    while (s->done < s->need) {
        if (s->done & (f->align - 1)) break;
        ssize_t r = pread(f->fd, s->buf + s->done, s->len - s->done, (off_t)(s->off + s->done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return err_errno(errno, "read %s at %llu", f->path,
                             (unsigned long long)(s->off + s->done));
        }
        if (r == 0) break;
        s->done += (size_t)r;
    }
    if (s->done >= s->need) return 0;
    size_t head = (size_t)(s->r->offset - s->off);
    return err_set(LAMINA_ECORRUPT, "read %s at %llu: short read (%zu of %zu bytes)", f->path,
                   (unsigned long long)s->r->offset, s->done > head ? s->done - head : 0,
                   s->r->len);
}

/* Completes r from a span that has all its bytes: copies a bounce buffer out, counts. */
static void file_span_finish(struct file_span *s)
{
    struct file_read *r = s->r;
    if (s->buf != r->dst) memcpy(r->dst, s->buf + (r->offset - s->off), r->len);
    atomic_fetch_add_explicit(&s->f->bytes, r->len, memory_order_relaxed);
}

/* Reads the rest of s by pread and completes its request: sets and returns its rc. */
static int file_span_complete(struct file_span *s)
{
    int rc = file_span_pread(s);
    if (!rc) file_span_finish(s);
    return s->r->rc = rc;
}

/* A whole request by pread, with a bounce buffer of its own when f is direct. */
static int rfile_pread(rfile *f, struct file_read *r)
{
    size_t blen = file_bounce_len(f, r);
    uint8_t *bounce = NULL;
    if (blen && !(bounce = mem_aligned_alloc(f->align, blen)))
        return r->rc =
                   err_set(LAMINA_ENOMEM, "read %s: out of memory for %zu bytes", f->path, blen);
    struct file_span s;
    file_span_init(&s, f, r, bounce);
    atomic_fetch_add_explicit(&f->reads, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&file_pread_reads, 1, memory_order_relaxed);
    int rc = file_span_complete(&s);
    mem_free(bounce);
    return rc;
}

int rfile_read(rfile *f, uint64_t offset, void *dst, size_t n)
{
    struct file_op op = FILE_OP("read", f->path);
    int rc = file_begin(&op);
    if (!rc && n) {
        struct file_read r = {f, offset, n, dst, 0};
        rc = rfile_pread(f, &r);
    }
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

void rfile_io_stats(const rfile *f, uint64_t *reads, uint64_t *bytes)
{
    *reads = atomic_load_explicit(&f->reads, memory_order_relaxed);
    *bytes = atomic_load_explicit(&f->bytes, memory_order_relaxed);
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

void file_io_stats(uint64_t *uring_reads, uint64_t *pread_reads)
{
    *uring_reads = atomic_load_explicit(&file_uring_reads, memory_order_relaxed);
    *pread_reads = atomic_load_explicit(&file_pread_reads, memory_order_relaxed);
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

/* What becomes of one request of a chunk. */
enum { FILE_REQ_DONE, FILE_REQ_RING, FILE_REQ_PREAD };

/* One SQE reads at most UINT_MAX bytes: longer requests use pread. */
#define FILE_RING_MAX_LEN (1u << 30)

/* The bounce buffers of a chunk's direct requests: one aligned allocation, each request's
 * part aligned for its file. NULL with *total 0 when none needs one; on allocation failure
 * the requests that needed one fail with LAMINA_ENOMEM and *mode says done. */
static uint8_t *file_chunk_bounce(struct file_read *reqs, size_t n, unsigned char *mode,
                                  size_t *off)
{
    size_t total = 0, align = sizeof(void *);
    for (size_t i = 0; i < n; i++) {
        off[i] = SIZE_MAX;
        if (mode[i] == FILE_REQ_DONE) continue;
        size_t blen = file_bounce_len(reqs[i].f, &reqs[i]);
        if (!blen) continue;
        size_t a = reqs[i].f->align;
        total = (total + a - 1) & ~(a - 1);
        off[i] = total;
        total += blen;
        if (a > align) align = a;
    }
    if (total == 0) return NULL;
    uint8_t *bounce = mem_aligned_alloc(align, total);
    if (bounce) return bounce;
    for (size_t i = 0; i < n; i++) {
        if (off[i] == SIZE_MAX) continue;
        reqs[i].rc =
            err_set(LAMINA_ENOMEM, "read %s: out of memory for a direct read", reqs[i].f->path);
        mode[i] = FILE_REQ_DONE;
    }
    return NULL;
}

/* Reaps the chunk's ring reads; returns how many are still in flight (non-zero: the ring is
 * in an unknown state). */
static size_t file_chunk_reap(struct io_uring *ring, struct file_span *spans, size_t n,
                              unsigned char *mode, size_t waiting)
{
    while (waiting) {
        struct io_uring_cqe *cqe;
        int w = io_uring_wait_cqe(ring, &cqe);
        if (w == -EINTR) continue;
        if (w < 0) break;
        uint64_t i = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(ring, cqe);
        waiting--;
        if (i >= n || mode[i] != FILE_REQ_RING) continue;
        mode[i] = FILE_REQ_DONE;
        struct file_span *s = &spans[i];
        if (res < 0 && res != -EINTR && res != -EAGAIN) {
            s->r->rc =
                err_errno(-res, "read %s at %llu", s->f->path, (unsigned long long)s->r->offset);
            continue;
        }
        /* A short read (or an interrupted one) is finished by pread. */
        if (res > 0) s->done = (size_t)res;
        file_span_complete(s);
    }
    return waiting;
}

/* Reads up to FILE_RING_DEPTH requests: the ring's requests are submitted together, the
 * pread-only ones read while they run, then the ring's are reaped. A ring in an unknown state
 * (a failed submit or wait) is dropped and its unfinished requests are read by pread. */
static void file_read_chunk(struct file_read *reqs, size_t n)
{
    unsigned char mode[FILE_RING_DEPTH];
    size_t boff[FILE_RING_DEPTH];
    struct file_span spans[FILE_RING_DEPTH];
    struct io_uring *ring = file_thread_ring();
    for (size_t i = 0; i < n; i++) {
        struct file_read *r = &reqs[i];
        /* The layer's lock is not held across the ring: a read changes nothing on disk. */
        struct file_op op = FILE_OP("read", r->f->path);
        r->rc = file_begin(&op);
        file_leave(&op, r->rc);
        if (r->rc || r->len == 0)
            mode[i] = FILE_REQ_DONE;
        else if (ring && !(r->f->flags & RFILE_NO_URING) && r->len <= FILE_RING_MAX_LEN)
            mode[i] = FILE_REQ_RING;
        else
            mode[i] = FILE_REQ_PREAD;
    }
    uint8_t *bounce = file_chunk_bounce(reqs, n, mode, boff);
    size_t queued = 0;
    for (size_t i = 0; i < n; i++) {
        if (mode[i] == FILE_REQ_DONE) continue;
        struct file_span *s = &spans[i];
        file_span_init(s, reqs[i].f, &reqs[i], boff[i] == SIZE_MAX ? NULL : bounce + boff[i]);
        atomic_fetch_add_explicit(&s->f->reads, 1, memory_order_relaxed);
        if (mode[i] != FILE_REQ_RING) continue;
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        if (!sqe) {
            mode[i] = FILE_REQ_PREAD;
            continue;
        }
        io_uring_prep_read(sqe, s->f->fd, s->buf, (unsigned)s->len, s->off);
        io_uring_sqe_set_data64(sqe, i);
        queued++;
    }
    size_t waiting = 0;
    if (queued) {
        int submitted = io_uring_submit(ring);
        while (submitted == -EINTR)
            submitted = io_uring_submit(ring);
        waiting = submitted > 0 ? (size_t)submitted : 0;
        atomic_fetch_add_explicit(&file_uring_reads, queued, memory_order_relaxed);
    }
    for (size_t i = 0; i < n; i++) {
        if (mode[i] != FILE_REQ_PREAD) continue;
        mode[i] = FILE_REQ_DONE;
        atomic_fetch_add_explicit(&file_pread_reads, 1, memory_order_relaxed);
        file_span_complete(&spans[i]);
    }
    if (queued && file_chunk_reap(ring, spans, n, mode, waiting) + (queued - waiting)) {
        file_thread_ring_drop(ring);
        for (size_t i = 0; i < n; i++) {
            if (mode[i] != FILE_REQ_RING) continue;
            spans[i].done = 0;
            file_span_complete(&spans[i]);
        }
    }
    mem_free(bounce);
}

int file_read_multi(struct file_read *reqs, size_t n)
{
    for (size_t done = 0; done < n;) {
        size_t chunk = n - done < FILE_RING_DEPTH ? n - done : FILE_RING_DEPTH;
        file_read_chunk(reqs + done, chunk);
        done += chunk;
    }
    for (size_t i = 0; i < n; i++)
        if (reqs[i].rc) return reqs[i].rc;
    return 0;
}

int rfile_read_batch(rfile *f, struct file_read *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        reqs[i].f = f;
    return file_read_multi(reqs, n);
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

int file_link(const char *from, const char *to, int *unsupported)
{
    struct file_op op = FILE_OP("link", from);
    op.to = to;
    *unsupported = 0;
    int rc = file_begin(&op);
    if (!rc && link(from, to) < 0) {
        int e = errno;
        /* Another filesystem, or one without hard links: the caller copies instead. */
        *unsupported = e == EXDEV || e == EPERM || e == EOPNOTSUPP || e == EMLINK;
        rc = err_errno(e, "link %s to %s", from, to);
    }
    file_leave(&op, rc);
    return rc;
}

int dir_create_new(const char *path)
{
    struct file_op op = FILE_OP("mkdir", path);
    int rc = file_begin(&op);
    if (!rc && mkdir(path, 0755) < 0) {
        if (errno == EEXIST)
            rc = err_set(LAMINA_EEXIST, "mkdir %s: it already exists", path);
        else if (errno == ENOENT)
            rc = err_set(LAMINA_ENOENT, "mkdir %s: its parent directory does not exist", path);
        else
            rc = err_errno(errno, "mkdir %s", path);
    }
    file_leave(&op, rc);
    return rc;
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
