/* checkpoint.c — lamina_checkpoint: an openable copy of a live database in a new directory
 * (RocksDB's Checkpoint): flush, pin the current version, hard-link its tables, and write a
 * MANIFEST holding that version as one snapshot, CURRENT and OPTIONS (docs/design.md). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine/db_impl.h"
#include "engine/filename.h"
#include "engine/manifest.h"
#include "engine/options.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/file.h"

/* What the checkpoint created in its directory, so a failure removes exactly that. */
struct checkpoint {
    char dir[DB_PATH_MAX];
    char **names;
    size_t n, cap;
};

static int checkpoint_note(struct checkpoint *cp, const char *name)
{
    if (cp->n == cp->cap) {
        size_t cap = cp->cap ? cp->cap * 2 : 32;
        char **p = mem_realloc(cp->names, cap * sizeof(*p));
        if (!p) return err_set(LAMINA_ENOMEM, "checkpoint: out of memory");
        cp->names = p;
        cp->cap = cap;
    }
    if (!(cp->names[cp->n] = mem_strdup(name)))
        return err_set(LAMINA_ENOMEM, "checkpoint: out of memory");
    cp->n++;
    return 0;
}

/* Removes what the checkpoint created (files, then the directory), keeping the thread's
 * message about the failure. */
static void checkpoint_undo(struct checkpoint *cp)
{
    char msg[512], path[DB_PATH_MAX + 64];
    snprintf(msg, sizeof(msg), "%s", err_message());
    for (size_t i = 0; i < cp->n; i++) {
        snprintf(path, sizeof(path), "%s/%s", cp->dir, cp->names[i]);
        if (file_exists(path)) (void)file_remove(path);
    }
    /* Names the MANIFEST writer created and removed again are not in the list: a directory
     * still holding a file stays. */
    (void)dir_remove(cp->dir);
    err_set(LAMINA_OK, "%s", msg);
}

static void checkpoint_free(struct checkpoint *cp)
{
    for (size_t i = 0; i < cp->n; i++)
        mem_free(cp->names[i]);
    mem_free(cp->names);
}

/* Copies the table from -> to (a link across filesystems), synced. */
static int checkpoint_copy(const char *from, const char *to)
{
    rfile *in = NULL;
    wfile *out = NULL;
    uint8_t *chunk = NULL;
    const size_t chunk_size = 1u << 20;
    int rc = rfile_open(from, &in);
    if (rc) return rc;
    if ((rc = wfile_create(to, &out))) goto out;
    if (!(chunk = mem_alloc(chunk_size))) {
        rc = err_set(LAMINA_ENOMEM, "checkpoint: out of memory copying %s", from);
        goto out;
    }
    uint64_t size = rfile_size(in);
    for (uint64_t off = 0; off < size && rc == 0;) {
        size_t n = size - off < chunk_size ? (size_t)(size - off) : chunk_size;
        rc = rfile_read(in, off, chunk, n);
        if (rc == 0) rc = wfile_append(out, chunk, n);
        off += n;
    }
    if (rc == 0) rc = wfile_sync(out);
out:
    if (out) {
        int crc = wfile_close(out);
        if (rc == 0) rc = crc;
    }
    rfile_close(in);
    mem_free(chunk);
    return rc;
}

/* Links (or copies) every table of v into the checkpoint. */
static int checkpoint_tables(lamina_db *db, struct checkpoint *cp, const struct version *v)
{
    char from[DB_PATH_MAX + 32], to[DB_PATH_MAX + 32], name[32];
    for (int l = 0; l < v->num_levels; l++)
        for (size_t r = 0; r < v->levels[l].nruns; r++)
            for (size_t i = 0; i < v->levels[l].runs[r].nfiles; i++) {
                uint64_t num = v->levels[l].runs[r].files[i]->number;
                snprintf(name, sizeof(name), "%06" PRIu64 ".sst", num);
                db_file_name(from, sizeof(from), db->path, num, "sst");
                db_file_name(to, sizeof(to), cp->dir, num, "sst");
                int unsupported = 0;
                int rc = checkpoint_note(cp, name);
                if (rc) return rc;
                /* A table is never changed once written and was synced before any MANIFEST
                 * named it, so a link shares durable bytes; only the directory entry is new. */
                rc = file_link(from, to, &unsupported);
                if (rc && unsupported) rc = checkpoint_copy(from, to);
                if (rc) return rc;
            }
    return 0;
}

/* Writes OPTIONS-<number> holding the options in force, under a temporary name first. */
static int checkpoint_options(lamina_db *db, struct checkpoint *cp, struct version_set *cvs)
{
    char path[DB_PATH_MAX + 64], tmp[DB_PATH_MAX + 64], name[48], tmp_name[48];
    uint64_t number = version_set_new_file_number(cvs);
    uint64_t tmp_num = version_set_new_file_number(cvs);
    snprintf(name, sizeof(name), "OPTIONS-%06" PRIu64, number);
    snprintf(tmp_name, sizeof(tmp_name), "%06" PRIu64 "." DB_TEMP_EXT, tmp_num);
    snprintf(path, sizeof(path), "%s/%s", cp->dir, name);
    snprintf(tmp, sizeof(tmp), "%s/%s", cp->dir, tmp_name);
    buf text = {0};
    int rc = checkpoint_note(cp, tmp_name);
    if (rc == 0) rc = checkpoint_note(cp, name);
    if (rc == 0) rc = buf_append(&text, OPTIONS_FILE_HEADER, sizeof(OPTIONS_FILE_HEADER) - 1);
    if (rc == 0) rc = options_format(&db->opts, &text);
    if (rc == LAMINA_ENOMEM) rc = err_set(rc, "checkpoint: out of memory");
    if (rc == 0) rc = file_write_all(tmp, text.data, text.len, 1);
    if (rc == 0) rc = file_rename(tmp, path);
    buf_free(&text);
    return rc;
}

/* The parent directory of path (path without trailing slashes, cut at its last slash). */
static void checkpoint_parent(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s", path);
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = 0;
    char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == out)
        out[1] = 0;
    else
        *slash = 0;
}

LAMINA_API int lamina_checkpoint(lamina_db *db, const char *dir)
{
    if (!db || !dir || !*dir) return err_set(LAMINA_EINVAL, "lamina_checkpoint: NULL argument");
    if (strlen(dir) >= DB_PATH_MAX - 64)
        return err_set(LAMINA_EINVAL, "lamina_checkpoint: directory name of %zu bytes is too long",
                       strlen(dir));
    struct checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    snprintf(cp.dir, sizeof(cp.dir), "%s", dir);
    /* Refuse an existing directory before the flush, so that refusal changes nothing. */
    if (file_exists(dir))
        return err_set(LAMINA_EEXIST, "lamina_checkpoint: %s already exists", dir);
    char parent[DB_PATH_MAX];
    checkpoint_parent(cp.dir, parent, sizeof(parent));
    if (!file_exists(parent))
        return err_set(LAMINA_ENOENT, "lamina_checkpoint: the parent directory %s does not exist",
                       parent);
    /* Every write acknowledged before the call is in a memtable that this flush writes to
     * level 0; what the version holds afterwards is every write up to some sequence number,
     * since memtables are frozen and flushed in sequence-number order. */
    int rc = lamina_flush(db);
    if (rc) return rc;
    if ((rc = dir_create_new(dir))) return rc;

    struct version_set cvs;
    struct version *v;
    uint64_t last_seq, next_file, next_run;
    struct edit_stats stats;
    /* vs.current changes only under manifest_mu; the pin keeps its tables from deletion. */
    pthread_mutex_lock(&db->vs.manifest_mu);
    v = db->vs.current;
    version_ref(v);
    last_seq = atomic_load(&db->last_sequence);
    next_file = atomic_load(&db->vs.next_file);
    next_run = atomic_load(&db->vs.next_run);
    stats = db->vs.stats;
    pthread_mutex_unlock(&db->vs.manifest_mu);

    version_set_init(&cvs, cp.dir, NULL, v->num_levels);
    rc = checkpoint_tables(db, &cp, v);
    if (rc == 0) {
        cvs.current = v;
        /* The copy has no WAL: every number below the next file number is an obsolete one. */
        cvs.log_number = next_file;
        atomic_store(&cvs.next_file, next_file);
        atomic_store(&cvs.next_run, next_run);
        cvs.stats = stats;
        rc = checkpoint_options(db, &cp, &cvs);
    }
    if (rc == 0) {
        /* The MANIFEST and CURRENT (with its temporary file) take the next numbers. */
        char name[48];
        uint64_t first = atomic_load(&cvs.next_file);
        snprintf(name, sizeof(name), "MANIFEST-%06" PRIu64, first);
        rc = checkpoint_note(&cp, name);
        if (rc == 0) rc = checkpoint_note(&cp, "CURRENT");
        /* Writes the snapshot, syncs it and dir, points CURRENT at it and syncs dir again. */
        if (rc == 0) rc = version_set_new_manifest(&cvs, last_seq);
    }
    if (rc == 0) rc = dir_sync(parent);
    cvs.current = NULL;
    version_set_close(&cvs);
    version_unref(v);
    if (rc) {
        checkpoint_undo(&cp);
        db_log(db, "checkpoint %s failed: %s", cp.dir, err_message());
    } else {
        db_log(db, "checkpoint %s: sequence %" PRIu64, cp.dir, last_seq);
    }
    checkpoint_free(&cp);
    return rc;
}
