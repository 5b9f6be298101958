/* fault.c — fault injection behind util/file.h's layer: rules that fail calls, torn writes,
 * a power-loss model (per file, the length at its last fsync; per directory, the entries no
 * directory fsync covered) and named crash points. After LevelDB's FaultInjectionTestEnv and
 * RocksDB's FaultInjectionTestFS. */
#include "util/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/err.h"
#include "util/file.h"
#include "util/rng.h"

#define FAULT_MAX_RULES 16
/* A rename's old target is kept as a copy up to this size (CURRENT and OPTIONS are tiny). */
#define FAULT_KEEP_MAX (1u << 20)
/* A tracked file whose synced length is unknown (never seen written): left as it is. */
#define FAULT_LEN_UNKNOWN UINT64_MAX

struct fault_slot {
    struct fault_rule rule; /* op and path_part point into the copies below */
    char *op, *path_part;
    uint64_t calls; /* matching calls so far */
    int fired;      /* a sticky rule has failed a call */
};

/* A file the engine touched while tracking. */
struct fault_file {
    char *path;
    uint64_t synced; /* length at the last successful fsync, or FAULT_LEN_UNKNOWN */
    int pending;     /* its directory entry was created and no dir_sync covered it yet */
};

/* A rename no dir_sync of its target's directory covered yet. */
struct fault_rename {
    char *from, *to;
    int from_pending; /* the source's own entry was not durable either */
    int had_old;      /* the target had durable contents, kept in old */
    uint8_t *old;
    size_t old_len;
};

/* What enter captured for leave (a rename's old target). */
struct fault_capture {
    int had_old;
    uint8_t *old;
    size_t old_len;
};

static pthread_mutex_t fault_mu = PTHREAD_MUTEX_INITIALIZER;
/* Shared by each file operation while tracking or frozen, exclusive in fault_power_loss.
 * Writer-preferring: a steady stream of operations cannot starve the power cut. */
static pthread_rwlock_t fault_rw;
static pthread_once_t fault_rw_once = PTHREAD_ONCE_INIT;

/* Under fault_mu: */
static struct fault_slot fault_rules[FAULT_MAX_RULES];
static size_t fault_nrules;
static rng fault_rng;
static int fault_rng_seeded;
static struct fault_file *fault_files;
static size_t fault_nfiles, fault_cap_files;
static struct fault_rename *fault_renames;
static size_t fault_nrenames, fault_cap_renames;
static char *fault_crash_name;
static uint64_t fault_crash_nth, fault_crash_passes;

/* Read by enter without fault_mu: */
static atomic_int fault_tracking;
static atomic_int fault_frozen;
static atomic_int fault_sync_off;
static atomic_uint_fast64_t fault_count;
atomic_int fault_crash_armed;

static int fault_enter(struct file_op *op);
static void fault_leave(struct file_op *op, int ok);
static const struct file_layer fault_layer = {fault_enter, fault_leave};

static void fault_rw_init(void)
{
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&fault_rw, &a);
    pthread_rwlockattr_destroy(&a);
}

/* Under fault_mu: installs the layer while anything is armed, removes it otherwise, so that a
 * process with nothing armed pays one branch per file operation. */
static void fault_update_layer(void)
{
    int active = fault_nrules || atomic_load(&fault_tracking) || atomic_load(&fault_frozen) ||
                 atomic_load(&fault_sync_off);
    file_set_layer(active ? &fault_layer : NULL);
}

/* ---- Rules ---------------------------------------------------------------------------------- */

int fault_add(const struct fault_rule *rule)
{
    int rc = -1;
    pthread_mutex_lock(&fault_mu);
    if (fault_nrules == FAULT_MAX_RULES) goto out;
    struct fault_slot *s = &fault_rules[fault_nrules];
    memset(s, 0, sizeof(*s));
    s->rule = *rule;
    if ((rule->op && !(s->op = mem_strdup(rule->op))) ||
        (rule->path_part && !(s->path_part = mem_strdup(rule->path_part)))) {
        mem_free(s->op);
        goto out;
    }
    s->rule.op = s->op;
    s->rule.path_part = s->path_part;
    if (s->rule.err == 0) s->rule.err = EIO;
    fault_nrules++;
    fault_update_layer();
    rc = 0;
out:
    pthread_mutex_unlock(&fault_mu);
    return rc;
}

void fault_seed(uint64_t seed)
{
    pthread_mutex_lock(&fault_mu);
    rng_seed(&fault_rng, seed);
    fault_rng_seeded = 1;
    pthread_mutex_unlock(&fault_mu);
}

uint64_t fault_injected(void)
{
    return atomic_load(&fault_count);
}

/* Under fault_mu: does this matching call of s fail? */
static int fault_rule_fires(struct fault_slot *s)
{
    const struct fault_rule *r = &s->rule;
    uint64_t call = ++s->calls;
    if (s->fired && r->sticky) return 1;
    int fire;
    if (r->nth)
        fire = call == r->nth;
    else if (r->one_in) {
        if (!fault_rng_seeded) {
            rng_seed(&fault_rng, 0x6c616d696e61ull);
            fault_rng_seeded = 1;
        }
        fire = rng_uniform(&fault_rng, r->one_in) == 0;
    } else
        fire = 1;
    if (fire) s->fired = 1;
    return fire;
}

/* Under fault_mu: the errno the rules give op, or 0; sets a torn write's partial length. */
static int fault_rules_check(struct file_op *op)
{
    for (size_t i = 0; i < fault_nrules; i++) {
        struct fault_slot *s = &fault_rules[i];
        if (s->op && strcmp(s->op, op->op) != 0) continue;
        if (s->path_part && !strstr(op->path, s->path_part)) continue;
        if (!fault_rule_fires(s)) continue;
        if (s->rule.short_write && !strcmp(op->op, "write")) op->partial = op->len / 2;
        atomic_fetch_add(&fault_count, 1);
        return s->rule.err;
    }
    return 0;
}

/* ---- Tracking: files and pending directory entries ---------------------------------------- */

/* Under fault_mu: the tracked file at path, or NULL. */
static struct fault_file *fault_file_find(const char *path)
{
    for (size_t i = 0; i < fault_nfiles; i++)
        if (!strcmp(fault_files[i].path, path)) return &fault_files[i];
    return NULL;
}

/* Under fault_mu: the tracked file at path, added (a durable entry of unknown synced length)
 * when new; NULL when out of memory, which only weakens the simulation. */
static struct fault_file *fault_file_get(const char *path)
{
    struct fault_file *f = fault_file_find(path);
    if (f) return f;
    if (fault_nfiles == fault_cap_files) {
        size_t cap = fault_cap_files ? fault_cap_files * 2 : 32;
        struct fault_file *v = mem_realloc(fault_files, cap * sizeof(*v));
        if (!v) return NULL;
        fault_files = v;
        fault_cap_files = cap;
    }
    char *p = mem_strdup(path);
    if (!p) return NULL;
    f = &fault_files[fault_nfiles++];
    *f = (struct fault_file){p, FAULT_LEN_UNKNOWN, 0};
    return f;
}

/* Under fault_mu. */
static void fault_file_drop(struct fault_file *f)
{
    mem_free(f->path);
    *f = fault_files[--fault_nfiles];
}

static void fault_rename_free(struct fault_rename *r)
{
    mem_free(r->from);
    mem_free(r->to);
    mem_free(r->old);
}

/* Under fault_mu: drops pending rename i, keeping the order of the others (undone newest
 * first). */
static void fault_rename_drop(size_t i)
{
    fault_rename_free(&fault_renames[i]);
    memmove(&fault_renames[i], &fault_renames[i + 1],
            (fault_nrenames - i - 1) * sizeof(*fault_renames));
    fault_nrenames--;
}

/* Under fault_mu: the pending rename whose target is path, or NULL. */
static struct fault_rename *fault_rename_to(const char *path)
{
    for (size_t i = 0; i < fault_nrenames; i++)
        if (!strcmp(fault_renames[i].to, path)) return &fault_renames[i];
    return NULL;
}

/* Under fault_mu: forgets everything tracked. */
static void fault_track_reset(void)
{
    for (size_t i = 0; i < fault_nfiles; i++)
        mem_free(fault_files[i].path);
    mem_free(fault_files);
    fault_files = NULL;
    fault_nfiles = fault_cap_files = 0;
    for (size_t i = 0; i < fault_nrenames; i++)
        fault_rename_free(&fault_renames[i]);
    mem_free(fault_renames);
    fault_renames = NULL;
    fault_nrenames = fault_cap_renames = 0;
}

/* Is path's directory dir? Compared as strings, trailing slashes of dir ignored; a path
 * without a slash lives in ".". */
static int fault_in_dir(const char *path, const char *dir)
{
    const char *slash = strrchr(path, '/');
    size_t dn = strlen(dir);
    while (dn > 1 && dir[dn - 1] == '/')
        dn--;
    if (!slash) return dn == 1 && dir[0] == '.';
    size_t pn = (size_t)(slash - path);
    if (pn == 0) pn = 1; /* "/x" lives in "/" */
    return pn == dn && !memcmp(path, dir, dn);
}

/* Reads the whole file at path (at most max bytes, cut to keep bytes) with plain system
 * calls, past the layer. 0, or -1 when it cannot. */
static int fault_read_copy(const char *path, uint64_t keep, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    uint8_t *p = NULL;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > FAULT_KEEP_MAX) goto fail;
    size_t n = (size_t)st.st_size;
    if (keep < n) n = (size_t)keep;
    if (!(p = mem_alloc(n ? n : 1))) goto fail;
    for (size_t done = 0; done < n;) {
        ssize_t r = pread(fd, p + done, n - done, (off_t)done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) goto fail;
        done += (size_t)r;
    }
    close(fd);
    *out = p;
    *len = n;
    return 0;
fail:
    mem_free(p);
    close(fd);
    return -1;
}

/* Under fault_mu (enter of a rename): the durable contents the target would show after a
 * power cut, if it has any and they are small enough to keep. */
static void fault_capture_target(const char *to, struct fault_capture *c)
{
    c->had_old = 0;
    struct fault_file *f = fault_file_find(to);
    /* A target that is itself new or an unsynced rename's has no durable contents of its
     * own; the older record restores the oldest ones. */
    if ((f && f->pending) || fault_rename_to(to)) return;
    uint64_t keep = f ? f->synced : FAULT_LEN_UNKNOWN;
    if (access(to, F_OK) != 0) return;
    c->had_old = fault_read_copy(to, keep, &c->old, &c->old_len) == 0;
}

/* Under fault_mu (leave of a successful rename): the tracked file moves to its new name, and
 * the rename is pending until its target's directory is synced. */
static void fault_track_rename(const char *from, const char *to, struct fault_capture *c)
{
    if (fault_nrenames == fault_cap_renames) {
        size_t cap = fault_cap_renames ? fault_cap_renames * 2 : 8;
        struct fault_rename *v = mem_realloc(fault_renames, cap * sizeof(*v));
        if (!v) return;
        fault_renames = v;
        fault_cap_renames = cap;
    }
    struct fault_file *old = fault_file_find(to);
    if (old) fault_file_drop(old);
    struct fault_file *f = fault_file_get(from);
    struct fault_rename r = {mem_strdup(from), mem_strdup(to), f && f->pending,
                             c->had_old,       c->old,         c->old_len};
    char *to_copy = mem_strdup(to);
    if (!f || !r.from || !r.to || !to_copy) {
        mem_free(to_copy);
        fault_rename_free(&r);
        c->old = NULL;
        return;
    }
    mem_free(f->path);
    f->path = to_copy;
    f->pending = 0; /* the rename record decides what becomes of the name */
    fault_renames[fault_nrenames++] = r;
    c->old = NULL; /* the record owns it */
}

/* Under fault_mu (leave of a successful dir_sync): every entry of dir is durable. */
static void fault_track_dir_sync(const char *dir)
{
    for (size_t i = 0; i < fault_nfiles; i++)
        if (fault_in_dir(fault_files[i].path, dir)) fault_files[i].pending = 0;
    for (size_t i = fault_nrenames; i-- > 0;)
        if (fault_in_dir(fault_renames[i].to, dir)) fault_rename_drop(i);
}

/* Under fault_mu (leave of a successful remove): the file is gone for good. */
static void fault_track_remove(const char *path)
{
    struct fault_file *f = fault_file_find(path);
    if (f) fault_file_drop(f);
    for (size_t i = fault_nrenames; i-- > 0;)
        if (!strcmp(fault_renames[i].to, path)) fault_rename_drop(i);
}

/* Under fault_mu: what a finished operation tells the tracker. */
static void fault_track_op(struct file_op *op, int ok)
{
    const char *name = op->op;
    struct fault_file *f;
    if (!strcmp(name, "write")) {
        /* A file first seen here (opened before tracking, or for appending) starts at the
         * synced length file.c knows; even a failed write, as part of it may have landed. */
        if (!fault_file_find(op->path) && (f = fault_file_get(op->path))) f->synced = op->synced;
        return;
    }
    if (!ok) return;
    if (!strcmp(name, "create")) {
        if (!(f = fault_file_get(op->path))) return;
        f->synced = 0;
        if (!op->existed) f->pending = 1;
    } else if (!strcmp(name, "sync")) {
        if (!op->skip && (f = fault_file_get(op->path))) f->synced = op->synced;
    } else if (!strcmp(name, "dir_sync")) {
        if (!op->skip) fault_track_dir_sync(op->path);
    } else if (!strcmp(name, "rename")) {
        struct fault_capture none = {0, NULL, 0}; /* the capture's allocation failed */
        fault_track_rename(op->path, op->to, op->state ? op->state : &none);
    } else if (!strcmp(name, "remove")) {
        fault_track_remove(op->path);
    }
}

/* ---- The layer --------------------------------------------------------------------------- */

static int fault_enter(struct file_op *op)
{
    int guarded = atomic_load(&fault_tracking) || atomic_load(&fault_frozen);
    if (guarded) {
        pthread_once(&fault_rw_once, fault_rw_init);
        pthread_rwlock_rdlock(&fault_rw);
        op->locked = 1;
        if (atomic_load(&fault_frozen)) return EIO;
    }
    pthread_mutex_lock(&fault_mu);
    int e = fault_rules_check(op);
    if (!e && atomic_load(&fault_sync_off) &&
        (!strcmp(op->op, "sync") || !strcmp(op->op, "dir_sync")))
        op->skip = 1;
    if (!e && op->locked && atomic_load(&fault_tracking)) {
        if (!strcmp(op->op, "create")) {
            op->existed = access(op->path, F_OK) == 0;
        } else if (!strcmp(op->op, "rename")) {
            struct fault_capture *c = mem_calloc(1, sizeof(*c));
            if (c) fault_capture_target(op->to, c);
            op->state = c;
        }
    }
    pthread_mutex_unlock(&fault_mu);
    return e;
}

static void fault_leave(struct file_op *op, int ok)
{
    if (!op->locked) return;
    /* Also while frozen: an operation in flight at the power cut finished before it (the cut
     * waits for the shared lock), so a sync it acknowledged is durable. */
    pthread_mutex_lock(&fault_mu);
    if (atomic_load(&fault_tracking)) fault_track_op(op, ok);
    pthread_mutex_unlock(&fault_mu);
    if (!strcmp(op->op, "rename") && op->state) {
        struct fault_capture *c = op->state;
        mem_free(c->old);
        mem_free(c);
    }
    pthread_rwlock_unlock(&fault_rw);
}

/* ---- Power loss ----------------------------------------------------------------------------- */

void fault_track(int on)
{
    pthread_once(&fault_rw_once, fault_rw_init);
    pthread_mutex_lock(&fault_mu);
    if (!on) fault_track_reset();
    atomic_store(&fault_tracking, on != 0);
    fault_update_layer();
    pthread_mutex_unlock(&fault_mu);
}

void fault_disable_sync(int on)
{
    pthread_mutex_lock(&fault_mu);
    atomic_store(&fault_sync_off, on != 0);
    fault_update_layer();
    pthread_mutex_unlock(&fault_mu);
}

/* Keeps the first error of the undo. */
static void fault_note(int *first, int rc)
{
    if (rc && !*first) *first = rc;
}

/* Under both locks: undoes pending rename r (the newest first). */
static int fault_undo_rename(const struct fault_rename *r)
{
    int rc = 0;
    if (rename(r->to, r->from) == 0) {
        struct fault_file *f = fault_file_find(r->to);
        char *p = mem_strdup(r->from);
        if (f && p) {
            mem_free(f->path);
            f->path = p;
            f->pending = r->from_pending;
        } else {
            mem_free(p);
        }
    } else if (errno != ENOENT) {
        rc = err_errno(errno, "power loss: undo rename %s to %s", r->from, r->to);
    }
    if (!r->had_old) return rc;
    int fd = open(r->to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return rc ? rc : err_errno(errno, "power loss: restore %s", r->to);
    for (size_t done = 0; done < r->old_len;) {
        ssize_t w = write(fd, r->old + done, r->old_len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            fault_note(&rc, err_errno(errno, "power loss: restore %s", r->to));
            break;
        }
        done += (size_t)w;
    }
    close(fd);
    return rc;
}

/* Under both locks: the entry of a tracked file as a power cut leaves it. */
static int fault_cut_file(const struct fault_file *f)
{
    if (f->pending) {
        if (unlink(f->path) < 0 && errno != ENOENT)
            return err_errno(errno, "power loss: remove %s", f->path);
        return 0;
    }
    struct stat st;
    if (f->synced == FAULT_LEN_UNKNOWN || stat(f->path, &st) < 0) return 0;
    if ((uint64_t)st.st_size > f->synced && truncate(f->path, (off_t)f->synced) < 0)
        return err_errno(errno, "power loss: truncate %s to %llu", f->path,
                         (unsigned long long)f->synced);
    return 0;
}

int fault_power_loss(void)
{
    pthread_once(&fault_rw_once, fault_rw_init);
    /* Frozen first, so that an operation entering from now on takes the shared lock and
     * fails; the exclusive lock then waits out those already in flight. */
    pthread_mutex_lock(&fault_mu);
    atomic_store(&fault_frozen, 1);
    fault_update_layer();
    pthread_mutex_unlock(&fault_mu);
    pthread_rwlock_wrlock(&fault_rw);
    pthread_mutex_lock(&fault_mu);
    int rc = 0;
    if (atomic_load(&fault_tracking)) {
        for (size_t i = fault_nrenames; i-- > 0;)
            fault_note(&rc, fault_undo_rename(&fault_renames[i]));
        for (size_t i = 0; i < fault_nfiles; i++)
            fault_note(&rc, fault_cut_file(&fault_files[i]));
        fault_track_reset();
    }
    pthread_mutex_unlock(&fault_mu);
    pthread_rwlock_unlock(&fault_rw);
    return rc;
}

void fault_clear(void)
{
    pthread_once(&fault_rw_once, fault_rw_init);
    /* Exclusive: no operation is between its enter and leave while the state goes. */
    pthread_rwlock_wrlock(&fault_rw);
    pthread_mutex_lock(&fault_mu);
    for (size_t i = 0; i < fault_nrules; i++) {
        mem_free(fault_rules[i].op);
        mem_free(fault_rules[i].path_part);
    }
    fault_nrules = 0;
    fault_track_reset();
    atomic_store(&fault_tracking, 0);
    atomic_store(&fault_frozen, 0);
    atomic_store(&fault_sync_off, 0);
    atomic_store(&fault_count, 0);
    mem_free(fault_crash_name);
    fault_crash_name = NULL;
    atomic_store(&fault_crash_armed, 0);
    fault_update_layer();
    pthread_mutex_unlock(&fault_mu);
    pthread_rwlock_unlock(&fault_rw);
}

/* ---- Crash points ------------------------------------------------------------------------- */

void fault_arm_crash_point(const char *name, uint64_t nth)
{
    char *copy = name ? mem_strdup(name) : NULL;
    pthread_mutex_lock(&fault_mu);
    mem_free(fault_crash_name);
    fault_crash_name = copy;
    fault_crash_nth = nth ? nth : 1;
    fault_crash_passes = 0;
    atomic_store(&fault_crash_armed, copy != NULL);
    pthread_mutex_unlock(&fault_mu);
}

void fault_crash_point_pass(const char *name)
{
    pthread_mutex_lock(&fault_mu);
    int die = fault_crash_name && !strcmp(fault_crash_name, name) &&
              ++fault_crash_passes == fault_crash_nth;
    pthread_mutex_unlock(&fault_mu);
    /* SIGKILL cannot be caught: nothing of the process runs after it, as at a real crash. */
    if (die) raise(SIGKILL);
}

int fault_from_env(void)
{
    const char *v = getenv("LAMINA_CRASH_POINT");
    if (!v || !*v) return 0;
    /* Names hold colons themselves ("flush:table-synced"): the count follows the last one. */
    const char *colon = strrchr(v, ':');
    size_t name_len = strlen(v);
    uint64_t nth = 1;
    if (colon && colon[1] >= '0' && colon[1] <= '9') {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(colon + 1, &end, 10);
        if (*end || errno || n == 0)
            return err_set(LAMINA_EINVAL,
                           "LAMINA_CRASH_POINT=%s: the pass after ':' must be a "
                           "number from 1",
                           v);
        nth = n;
        name_len = (size_t)(colon - v);
    }
    char *name = mem_alloc(name_len + 1);
    if (!name) return err_set(LAMINA_ENOMEM, "LAMINA_CRASH_POINT: out of memory");
    memcpy(name, v, name_len);
    name[name_len] = 0;
    fault_arm_crash_point(name, nth);
    mem_free(name);
    return 0;
}
