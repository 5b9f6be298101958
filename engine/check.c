/* check.c — lamina_check: a read-only check of a database directory (after LevelDB's
 * `leveldbutil dump` and SQLite's PRAGMA integrity_check): CURRENT, every MANIFEST record, every
 * block of every live table, every live WAL record, the OPTIONS file and the directory's
 * accounting, each finding reported with file and offset; and the readers it shares with
 * repair.c (engine/check.h). It takes no LOCK and writes nothing. */
#include "engine/check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/batch.h"
#include "engine/filename.h"
#include "engine/log.h"
#include "engine/manifest.h"
#include "engine/options.h"
#include "engine/range_del.h"
#include "engine/version.h"
#include "memtable/memtable.h"
#include "sst/table.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/file.h"
#include "util/ikey.h"

/* ---- Findings --------------------------------------------------------------------------- */

void check_reporter_init(struct check_reporter *r, const char *dir, lamina_report_fn fn, void *ctx)
{
    memset(r, 0, sizeof(*r));
    r->dir = dir;
    r->fn = fn;
    r->ctx = ctx;
}

static void check_vreport(struct check_reporter *r, const char *file, uint64_t offset, int code,
                          const char *fmt, va_list ap)
{
    char what[512];
    vsnprintf(what, sizeof(what), fmt, ap);
    if (code) {
        /* Damage outranks what kept a file from being read: it is what the call returns. */
        if (!r->problems || (code == LAMINA_ECORRUPT && r->first_code != LAMINA_ECORRUPT)) {
            r->first_code = code;
            if (!file[0])
                snprintf(r->first, sizeof(r->first), "%s: %s", r->dir, what);
            else if (offset == UINT64_MAX)
                snprintf(r->first, sizeof(r->first), "%s/%s: %s", r->dir, file, what);
            else
                snprintf(r->first, sizeof(r->first), "%s/%s: offset %" PRIu64 ": %s", r->dir, file,
                         offset, what);
        }
        r->problems++;
    } else {
        r->notes++;
    }
    if (r->fn) r->fn(r->ctx, file, offset, code, what);
}

void check_report(struct check_reporter *r, const char *file, uint64_t offset, int code,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_vreport(r, file, offset, code, fmt, ap);
    va_end(ap);
}

/* The number after "offset " in msg, if any. */
static int check_message_offset(const char *msg, uint64_t *offset)
{
    const char *p = strstr(msg, "offset ");
    if (!p) return 0;
    p += 7;
    size_t n = strspn(p, "0123456789");
    return n > 0 && db_parse_number(p, n, offset);
}

void check_report_error(struct check_reporter *r, const char *file, uint64_t offset, int code)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", err_message());
    const char *what = msg;
    /* Lower layers start their messages with the file's path: the finding names it already. */
    size_t dl = strlen(r->dir), fl = strlen(file);
    if (strncmp(what, r->dir, dl) == 0 && what[dl] == '/' &&
        strncmp(what + dl + 1, file, fl) == 0 && what[dl + 1 + fl] == ':')
        what += dl + fl + 2 + (what[dl + fl + 2] == ' ');
    if (offset == UINT64_MAX) (void)check_message_offset(what, &offset);
    check_report(r, file, offset, code, "%s", what);
}

int check_reporter_status(const struct check_reporter *r)
{
    if (!r->problems) return 0;
    return err_set(r->first_code, "%s", r->first);
}

int check_has_number(const uint64_t *a, size_t n, uint64_t number)
{
    return n && bsearch(&number, a, n, sizeof(*a), file_number_cmp) != NULL;
}

/* Sorts a[0..*n) ascending and drops repeats. */
static void check_sort_unique(uint64_t *a, size_t *n)
{
    if (!*n) return;
    qsort(a, *n, sizeof(*a), file_number_cmp);
    size_t k = 1;
    for (size_t i = 1; i < *n; i++)
        if (a[i] != a[k - 1]) a[k++] = a[i];
    *n = k;
}

static int check_push(uint64_t **a, size_t *n, size_t *cap, uint64_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        uint64_t *p = mem_realloc(*a, c * sizeof(*p));
        if (!p) return err_set(LAMINA_ENOMEM, "check: out of memory");
        *a = p;
        *cap = c;
    }
    (*a)[(*n)++] = v;
    return 0;
}

/* ---- Logs ------------------------------------------------------------------------------- */

/* The damage the reader stopped at, as a span up to the next record start or the end. */
static void check_log_damage(const struct check_log_ops *ops, void *ctx, const struct log_damage *d)
{
    int at_end = d->kind == LOG_TORN_TAIL || d->next_record == UINT64_MAX;
    struct check_damage cd = {
        .offset = d->offset,
        .len = at_end ? d->bytes : d->next_record - d->offset,
        .at_end = at_end,
        .torn = d->kind == LOG_TORN_TAIL,
        .why = d->why,
    };
    if (ops->damage) ops->damage(ctx, &cd);
}

int check_log_walk(const char *path, const struct check_log_ops *ops, void *ctx)
{
    log_reader *lr = NULL;
    buf rec = {0};
    int rc = log_reader_open(path, &lr);
    while (rc == 0) {
        /* Where the record starts: just past the previous one, or past a block's padding. */
        uint64_t off = log_reader_end_offset(lr);
        if (LOG_BLOCK_SIZE - off % LOG_BLOCK_SIZE < LOG_HEADER_SIZE)
            off += LOG_BLOCK_SIZE - off % LOG_BLOCK_SIZE;
        rc = log_reader_next(lr, &rec);
        if (rc == 1) {
            rc = ops->record ? ops->record(ctx, off, rec.data, rec.len) : 0;
        } else if (rc == 0) {
            const struct log_damage *d = log_reader_damage(lr);
            if (d) check_log_damage(ops, ctx, d);
            break;
        } else if (rc == LAMINA_ECORRUPT && log_reader_damage(lr)) {
            check_log_damage(ops, ctx, log_reader_damage(lr));
            rc = log_reader_skip_damage(lr);
        }
    }
    log_reader_close(lr);
    buf_free(&rec);
    return rc;
}

/* ---- MANIFEST --------------------------------------------------------------------------- */

/* One add or delete of a table, in record order (adds after the deletes of their record). */
struct mf_event {
    uint64_t number, order;
    size_t add; /* index into the adds, or SIZE_MAX for a delete */
};

struct mf_read {
    struct check_reporter *r;
    struct check_manifest *m;
    char name[32];
    struct version_edit adds;
    struct mf_event *ev;
    size_t nev, cap_ev, cap_wals, cap_skipped;
};

static int mf_event(struct mf_read *c, uint64_t number, uint64_t order, size_t add)
{
    if (c->nev == c->cap_ev) {
        size_t cap = c->cap_ev ? c->cap_ev * 2 : 64;
        struct mf_event *p = mem_realloc(c->ev, cap * sizeof(*p));
        if (!p) return err_set(LAMINA_ENOMEM, "check: out of memory");
        c->ev = p;
        c->cap_ev = cap;
    }
    c->ev[c->nev++] = (struct mf_event){number, order, add};
    return 0;
}

static int mf_fold(struct mf_read *c, const struct version_edit *e)
{
    struct check_manifest *m = c->m;
    uint64_t order = m->records * 2;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < e->ndeleted; i++)
        rc = mf_event(c, e->deleted[i].file_number, order, SIZE_MAX);
    for (size_t i = 0; rc == 0 && i < e->nadded; i++)
        if ((rc = version_edit_add_file(&c->adds, &e->added[i])) == 0)
            rc = mf_event(c, e->added[i].file_number, order + 1, c->adds.nadded - 1);
    for (size_t i = 0; rc == 0 && i < e->nwals_added; i++)
        rc = check_push(&m->wals, &m->nwals, &c->cap_wals, e->wals_added[i]);
    for (size_t i = 0; rc == 0 && i < e->nskipped; i++)
        rc = check_push(&m->skipped, &m->nskipped, &c->cap_skipped, e->skipped[i]);
    if (rc) return rc;
    if (e->has_log_number) {
        m->has_log_number = 1;
        m->log_number = e->log_number;
    }
    if (e->has_next_file) {
        m->has_next_file = 1;
        if (e->next_file_number > m->next_file) m->next_file = e->next_file_number;
    }
    if (e->has_last_seq && e->last_sequence > m->last_seq) m->last_seq = e->last_sequence;
    if (e->has_next_run && e->next_run > m->next_run) m->next_run = e->next_run;
    if (e->wals_tracked || e->nwals_added) m->wals_tracked = 1;
    return 0;
}

static int mf_record(void *ctx, uint64_t off, const uint8_t *rec, size_t n)
{
    struct mf_read *c = ctx;
    struct version_edit e;
    int rc = version_edit_decode(&e, rec, n);
    if (rc == LAMINA_ENOMEM) return rc;
    if (rc) {
        c->m->damaged++;
        check_report_error(c->r, c->name, off, LAMINA_ECORRUPT);
        return 0;
    }
    rc = mf_fold(c, &e);
    version_edit_free(&e);
    if (rc == 0) c->m->records++;
    return rc;
}

/* Says what a damaged log span means: reason, extent, and what a reader would have done. */
static void check_span_text(char *out, size_t cap, const struct check_damage *d)
{
    snprintf(out, cap, "%s: %" PRIu64 " bytes (one or more records) skipped%s", d->why, d->len,
             d->at_end ? " to the end of the file" : " up to the next valid record");
}

static void mf_damage(void *ctx, const struct check_damage *d)
{
    struct mf_read *c = ctx;
    char text[256];
    check_span_text(text, sizeof(text), d);
    if (d->torn) {
        check_report(c->r, c->name, d->offset, LAMINA_OK,
                     "torn tail (an edit whose write never completed): %s", text);
        return;
    }
    c->m->damaged++;
    check_report(c->r, c->name, d->offset, LAMINA_ECORRUPT, "damaged record: %s", text);
}

static int mf_event_cmp(const void *a, const void *b)
{
    const struct mf_event *x = a, *y = b;
    if (x->number != y->number) return x->number < y->number ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int edit_file_number_cmp(const void *a, const void *b)
{
    const struct edit_file *x = a, *y = b;
    return x->file_number < y->file_number ? -1 : x->file_number > y->file_number;
}

int check_manifest_has_table(const struct check_manifest *m, uint64_t number)
{
    struct edit_file key = {.file_number = number};
    return m->live.nadded &&
           bsearch(&key, m->live.added, m->live.nadded, sizeof(key), edit_file_number_cmp) != NULL;
}

int check_manifest_read(const char *dir, uint64_t number, struct check_reporter *r,
                        struct check_manifest *m)
{
    char path[DB_PATH_MAX + 32];
    struct mf_read c = {.r = r, .m = m};
    memset(m, 0, sizeof(*m));
    version_edit_init(&m->live);
    version_edit_init(&c.adds);
    m->number = number;
    snprintf(c.name, sizeof(c.name), "MANIFEST-%06" PRIu64, number);
    snprintf(path, sizeof(path), "%s/%s", dir, c.name);
    static const struct check_log_ops ops = {mf_record, mf_damage};
    int rc = check_log_walk(path, &ops, &c);
    if (rc && rc != LAMINA_ENOMEM) check_report_error(r, c.name, UINT64_MAX, rc);
    if (rc == 0) {
        if (c.nev) qsort(c.ev, c.nev, sizeof(*c.ev), mf_event_cmp);
        for (size_t i = 0; rc == 0 && i < c.nev; i++)
            if ((i + 1 == c.nev || c.ev[i + 1].number != c.ev[i].number) && c.ev[i].add != SIZE_MAX)
                rc = version_edit_add_file(&m->live, &c.adds.added[c.ev[i].add]);
        check_sort_unique(m->wals, &m->nwals);
        check_sort_unique(m->skipped, &m->nskipped);
        if (m->live.nadded)
            qsort(m->live.added, m->live.nadded, sizeof(*m->live.added), edit_file_number_cmp);
    }
    version_edit_free(&c.adds);
    mem_free(c.ev);
    return rc;
}

void check_manifest_free(struct check_manifest *m)
{
    version_edit_free(&m->live);
    mem_free(m->wals);
    mem_free(m->skipped);
    m->wals = m->skipped = NULL;
    m->nwals = m->nskipped = 0;
}

uint64_t check_pick_manifest(const char *dir, char **names, size_t n, struct check_reporter *r,
                             int *current_ok)
{
    char path[DB_PATH_MAX + 32];
    uint8_t *text = NULL;
    size_t len = 0;
    uint64_t newest = 0, named = 0, num;
    char kind;
    *current_ok = 0;
    for (size_t i = 0; i < n; i++)
        if (db_parse_file_name(names[i], &num, &kind) && kind == 'm' && num > newest) newest = num;
    snprintf(path, sizeof(path), "%s/CURRENT", dir);
    if (!file_exists(path)) {
        check_report(r, "CURRENT", UINT64_MAX, LAMINA_ECORRUPT, "missing");
    } else if (file_read_all(path, &text, &len)) {
        check_report_error(r, "CURRENT", UINT64_MAX, LAMINA_EIO);
    } else {
        size_t l = len;
        if (l && text[l - 1] == '\n') l--;
        if (l < 10 || memcmp(text, "MANIFEST-", 9) != 0 ||
            !db_parse_number((const char *)text + 9, l - 9, &named) || l != len - 1) {
            check_report(r, "CURRENT", 0, LAMINA_ECORRUPT,
                         "does not hold \"MANIFEST-NNNNNN\" and a newline (%zu bytes)", len);
            named = 0;
        } else {
            char mname[40];
            snprintf(mname, sizeof(mname), "MANIFEST-%06" PRIu64, named);
            snprintf(path, sizeof(path), "%s/%s", dir, mname);
            if (file_exists(path)) {
                *current_ok = 1;
            } else {
                check_report(r, mname, UINT64_MAX, LAMINA_ECORRUPT, "missing (named by CURRENT)");
                named = 0;
            }
        }
    }
    mem_free(text);
    if (*current_ok) return named;
    if (newest)
        check_report(r, "CURRENT", UINT64_MAX, LAMINA_OK,
                     "reading MANIFEST-%06" PRIu64 ", the newest in the directory, instead",
                     newest);
    return newest;
}

/* LAMINA_EINVAL when names hold a RocksDB or LevelDB marker or CURRENT names a MANIFEST in
 * their log checksum (lamina_open's message), else 0. */
static int check_refuse_foreign(const char *dir, char **names, size_t n)
{
    const char *why = NULL;
    for (size_t i = 0; i < n && !why; i++)
        if (db_is_foreign_marker(names[i])) why = names[i];
    if (!why && manifest_probe(dir) == MANIFEST_FOREIGN) why = "the MANIFEST named by CURRENT";
    if (why)
        return err_set(LAMINA_EINVAL, "%s: holds a RocksDB or LevelDB database, not Lamina's (%s)",
                       dir, why);
    return 0;
}

int check_list_database(const char *dir, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    if (!file_exists(dir))
        return err_set(LAMINA_ENOENT, "%s: no database (the directory does not exist)", dir);
    int rc = dir_list(dir, names, n);
    if (rc == 0) rc = check_refuse_foreign(dir, *names, *n);
    int any = 0;
    for (size_t i = 0; rc == 0 && i < *n && !any; i++) {
        uint64_t num;
        char kind;
        any =
            strcmp((*names)[i], "CURRENT") == 0 || (db_parse_file_name((*names)[i], &num, &kind) &&
                                                    (kind == 'm' || kind == 't' || kind == 'l'));
    }
    if (rc == 0 && !any)
        rc = err_set(LAMINA_ENOENT, "%s: no database (no CURRENT, MANIFEST, table or WAL)", dir);
    if (rc) {
        dir_list_free(*names, *n);
        *names = NULL;
        *n = 0;
    }
    return rc;
}

int check_args(const char *fn, const char *path, const void *stats)
{
    size_t size = 0;
    if (!path) return err_set(LAMINA_EINVAL, "%s: NULL path", fn);
    if (strlen(path) >= DB_PATH_MAX - 64) return err_set(LAMINA_EINVAL, "%s: path too long", fn);
    if (stats) memcpy(&size, stats, sizeof(size));
    if (stats && size < sizeof(size_t) + sizeof(uint64_t))
        return err_set(LAMINA_EINVAL,
                       "%s: stats struct_size %zu is too small (set it to the struct's sizeof)", fn,
                       size);
    return 0;
}

void check_copy_stats(void *out, const void *in, size_t in_size)
{
    size_t n;
    memcpy(&n, out, sizeof(n));
    if (n > in_size) n = in_size;
    memcpy((char *)out + sizeof(size_t), (const char *)in + sizeof(size_t), n - sizeof(size_t));
}

/* ---- OPTIONS ---------------------------------------------------------------------------- */

int check_options_text(const uint8_t *text, size_t len, uint64_t *offset)
{
    size_t hlen = sizeof(OPTIONS_FILE_HEADER) - 1, i = 0;
    while (i < hlen && i < len && text[i] == (uint8_t)OPTIONS_FILE_HEADER[i])
        i++;
    if (i < hlen) {
        *offset = i;
        return err_set(LAMINA_ECORRUPT, "%s",
                       i < len ? "not Lamina's header line" : "cut short in its header line");
    }
    lamina_options scratch;
    lamina_options_init(&scratch);
    for (size_t p = hlen; p < len;) {
        const uint8_t *nl = memchr(text + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - text) : len;
        if (options_parse_text(&scratch, text + p, e - p)) {
            char msg[300];
            /* The parser counts lines of the text it was given: one. */
            const char *m = err_message();
            const char *colon = strstr(m, ": ");
            snprintf(msg, sizeof(msg), "%s", colon ? colon + 2 : m);
            *offset = p;
            return err_set(LAMINA_ECORRUPT, "bad line: %s", msg);
        }
        p = nl ? e + 1 : len;
    }
    return 0;
}

/* ---- lamina_check ----------------------------------------------------------------------- */

/* check_run's answer when it met a writer's change half made before reporting anything; and
 * how often lamina_check reads again, with what pause. */
#define CHECK_RACED (-1)
#define CHECK_ATTEMPTS 50
#define CHECK_PAUSE_MS 10

struct check_state {
    char dir[DB_PATH_MAX];
    struct check_reporter r;
    lamina_options opts;
    char **names;
    size_t nnames;
    struct check_manifest m;
    /* The MANIFEST's live version with its tables opened at once (check_pin): the rest of the
     * check reads those open files, so a writer's compaction deleting them meanwhile does not
     * look like damage. */
    struct version_set vs;
    struct version *v;
    table **pinned;
    size_t npinned;
    /* The MANIFEST this run read and its size then, to tell whether a writer moved on. */
    uint64_t mnum, msize;
    /* This run's findings, held until the run is known not to have raced a writer. */
    struct check_finding *found;
    size_t nfound, cap_found;
    int found_oom;
    memtable *mem;
    /* figures */
    uint64_t tables, table_entries, wals, wal_records;
    /* the WAL being read */
    char wal_name[32];
    int wal_newest;
};

struct check_finding {
    char *file, *what;
    uint64_t offset;
    int code;
};

/* The reporter's callback during a run: keeps a copy of the finding. */
static void check_keep_finding(void *ctx, const char *file, uint64_t offset, int code,
                               const char *what)
{
    struct check_state *s = ctx;
    if (s->nfound == s->cap_found) {
        size_t cap = s->cap_found ? 2 * s->cap_found : 16;
        struct check_finding *a = mem_realloc(s->found, cap * sizeof(*a));
        if (!a) {
            s->found_oom = 1;
            return;
        }
        s->found = a;
        s->cap_found = cap;
    }
    struct check_finding *f = &s->found[s->nfound];
    f->file = mem_strdup(file);
    f->what = mem_strdup(what);
    if (!f->file || !f->what) {
        mem_free(f->file);
        mem_free(f->what);
        s->found_oom = 1;
        return;
    }
    f->offset = offset;
    f->code = code;
    s->nfound++;
}

static void check_drop_findings(struct check_state *s)
{
    for (size_t i = 0; i < s->nfound; i++) {
        mem_free(s->found[i].file);
        mem_free(s->found[i].what);
    }
    s->nfound = 0;
}

/* The code a failed read is reported with: what the I/O layer said, else damage. */
static int check_code(int rc)
{
    return rc == LAMINA_EIO || rc == LAMINA_ENOMEM ? rc : LAMINA_ECORRUPT;
}

/* Verifies one table the MANIFEST names. */
static void check_table(struct check_state *s, const struct edit_file *f)
{
    char name[32], path[DB_PATH_MAX + 32];
    uint64_t size = 0, entries = 0;
    table *t = NULL;
    snprintf(name, sizeof(name), "%06" PRIu64 ".sst", f->file_number);
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    s->tables++;
    if (f->level >= s->opts.num_levels) {
        check_report(&s->r, name, UINT64_MAX, LAMINA_EINVAL,
                     "at level %d: open with num_levels above %d", f->level, f->level);
    }
    /* A table pinned by check_pin comes from the cache, open; any other is opened now. */
    int rc = s->vs.tables ? table_cache_get(s->vs.tables, f->file_number, 0, &t)
                          : table_open(path, f->file_number, NULL, 0, &t);
    if (rc && !file_exists(path)) {
        check_report(&s->r, name, UINT64_MAX, LAMINA_ECORRUPT,
                     "missing (named by MANIFEST-%06" PRIu64 " at level %d)", s->m.number,
                     f->level);
        return;
    }
    if (rc == 0) size = table_file_size(t);
    if (rc == 0) rc = table_verify(t, &entries);
    if (t) table_unref(t);
    if (rc == 0 && size != f->file_size) rc = err_set(LAMINA_ECORRUPT, "its blocks read clean");
    if (rc && size != f->file_size) {
        /* Cut short or grown: where the two sizes part is the offset that matters. */
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", err_message());
        err_set(check_code(rc),
                "%s (%" PRIu64 " bytes, but MANIFEST-%06" PRIu64 " records %" PRIu64 ")", msg, size,
                s->m.number, f->file_size);
        check_report_error(&s->r, name, size < f->file_size ? size : f->file_size, check_code(rc));
        return;
    }
    if (rc) {
        check_report_error(&s->r, name, UINT64_MAX, check_code(rc));
        return;
    }
    if (f->entries && entries != f->entries) {
        check_report(&s->r, name, UINT64_MAX, LAMINA_ECORRUPT,
                     "%" PRIu64 " entries, but MANIFEST-%06" PRIu64 " records %" PRIu64, entries,
                     s->m.number, f->entries);
        return;
    }
    s->table_entries += entries;
}

int check_wal_batch(struct check_reporter *r, const char *file, uint64_t off, const uint8_t *rec,
                    size_t n, uint64_t *seq, uint32_t *count)
{
    int rc = batch_rep_check(rec, n, seq, count);
    if (rc) check_report_error(r, file, off, LAMINA_ECORRUPT);
    return rc == 0;
}

static int check_wal_record(void *ctx, uint64_t off, const uint8_t *rec, size_t n)
{
    struct check_state *s = ctx;
    uint64_t seq;
    uint32_t count;
    int ok = check_wal_batch(&s->r, s->wal_name, off, rec, n, &seq, &count);
    if (ok <= 0) return ok;
    s->wal_records++;
    /* Only a clean database's keys are counted: damage makes the count meaningless. */
    return s->r.problems ? 0 : batch_rep_insert(rec, n, s->mem, seq);
}

static void check_wal_damage(void *ctx, const struct check_damage *d)
{
    struct check_state *s = ctx;
    char text[256];
    check_span_text(text, sizeof(text), d);
    if (d->torn && s->wal_newest)
        check_report(&s->r, s->wal_name, d->offset, LAMINA_OK,
                     "torn tail (a write that never completed; open drops it): %s", text);
    else if (d->torn)
        check_report(&s->r, s->wal_name, d->offset, LAMINA_ECORRUPT,
                     "%s, but a newer WAL follows this one", text);
    else
        check_report(&s->r, s->wal_name, d->offset, LAMINA_ECORRUPT, "damaged record: %s", text);
}

static int check_wal(struct check_state *s, uint64_t number, int newest)
{
    char path[DB_PATH_MAX + 32];
    snprintf(s->wal_name, sizeof(s->wal_name), "%06" PRIu64 ".log", number);
    snprintf(path, sizeof(path), "%s/%s", s->dir, s->wal_name);
    s->wal_newest = newest;
    if (!file_exists(path)) {
        check_report(&s->r, s->wal_name, UINT64_MAX, LAMINA_ECORRUPT,
                     "missing (MANIFEST-%06" PRIu64 " records it as live)", s->m.number);
        return 0;
    }
    s->wals++;
    static const struct check_log_ops ops = {check_wal_record, check_wal_damage};
    int rc = check_log_walk(path, &ops, s);
    if (rc && rc != LAMINA_ENOMEM) {
        check_report_error(&s->r, s->wal_name, UINT64_MAX, rc);
        rc = 0;
    }
    return rc;
}

/* The WALs a recovery would replay: those the MANIFEST records at or above its log number,
 * or, for a MANIFEST from before WAL tracking, those in the directory. Ascending. */
static int check_live_wals(struct check_state *s, uint64_t **out, size_t *n)
{
    size_t cap = 0;
    uint64_t num;
    char kind;
    *out = NULL;
    *n = 0;
    int rc = 0;
    if (s->m.wals_tracked) {
        for (size_t i = 0; rc == 0 && i < s->m.nwals; i++)
            if (s->m.wals[i] >= s->m.log_number) rc = check_push(out, n, &cap, s->m.wals[i]);
        return rc;
    }
    for (size_t i = 0; rc == 0 && i < s->nnames; i++)
        if (db_parse_file_name(s->names[i], &num, &kind) && kind == 'l' && num >= s->m.log_number &&
            !check_has_number(s->m.skipped, s->m.nskipped, num))
            rc = check_push(out, n, &cap, num);
    check_sort_unique(*out, n);
    return rc;
}

/* Whether dir/name holds any byte. */
static int check_file_not_empty(const char *dir, const char *name)
{
    char path[DB_PATH_MAX + 300];
    uint64_t size = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return file_size(path, &size) == 0 && size > 0;
}

/* Accounts for every entry of the directory the checks above did not read. */
static void check_directory(struct check_state *s, const uint64_t *live_wals, size_t nlive_wals,
                            uint64_t newest_options)
{
    struct check_manifest *m = &s->m;
    /* Without a next file number every numbered name may be Lamina's. */
    uint64_t next = m->has_next_file ? m->next_file : UINT64_MAX;
    for (size_t i = 0; i < s->nnames; i++) {
        const char *name = s->names[i];
        uint64_t num;
        char kind;
        if (db_is_fixed_name(name)) continue;
        if (strcmp(name, DB_LOST_DIR) == 0) {
            char path[DB_PATH_MAX + 32], **lost = NULL;
            size_t nlost = 0;
            snprintf(path, sizeof(path), "%s/%s", s->dir, DB_LOST_DIR);
            if (dir_list(path, &lost, &nlost) == 0) {
                check_report(&s->r, name, UINT64_MAX, LAMINA_OK,
                             "%zu file(s) set aside by recovery or repair", nlost);
                dir_list_free(lost, nlost);
            }
            continue;
        }
        if (!db_parse_file_name(name, &num, &kind)) {
            check_report(&s->r, name, UINT64_MAX, LAMINA_OK, "not a Lamina file: ignored");
            continue;
        }
        if (num >= next || check_has_number(m->skipped, m->nskipped, num)) {
            if (!(kind == 'm' && num == m->number))
                check_report(&s->r, name, UINT64_MAX, LAMINA_OK,
                             "not Lamina's (its number was never allocated): left alone");
            continue;
        }
        switch (kind) {
        case 't':
            if (!check_manifest_has_table(m, num))
                check_report(&s->r, name, UINT64_MAX, LAMINA_OK,
                             "unaccounted: a table the MANIFEST does not name (left by an "
                             "interrupted flush or compaction)");
            break;
        case 'l':
            if (check_has_number(live_wals, nlive_wals, num)) break;
            if (m->wals_tracked && !check_has_number(m->wals, m->nwals, num) &&
                check_file_not_empty(s->dir, name))
                check_report(&s->r, name, UINT64_MAX, LAMINA_ECORRUPT,
                             "holds data, but MANIFEST-%06" PRIu64
                             " does not record it (records of the MANIFEST were lost)",
                             m->number);
            else
                check_report(&s->r, name, UINT64_MAX, LAMINA_OK,
                             "unaccounted: an obsolete or empty WAL (the next open deletes it)");
            break;
        case 'm':
            if (num != m->number)
                check_report(&s->r, name, UINT64_MAX, LAMINA_OK,
                             "unaccounted: not the MANIFEST CURRENT names");
            break;
        case 'o':
            if (num != newest_options)
                check_report(&s->r, name, UINT64_MAX, LAMINA_OK,
                             "unaccounted: an older OPTIONS file");
            break;
        default:
            check_report(&s->r, name, UINT64_MAX, LAMINA_OK,
                         "unaccounted: a temporary file (the next open deletes it)");
            break;
        }
    }
}

static void check_options_file(struct check_state *s, uint64_t number)
{
    char name[40], path[DB_PATH_MAX + 48];
    uint8_t *text = NULL;
    size_t len = 0;
    uint64_t off = UINT64_MAX;
    snprintf(name, sizeof(name), "OPTIONS-%06" PRIu64, number);
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    int rc = file_read_all(path, &text, &len);
    if (rc == 0) rc = check_options_text(text, len, &off);
    if (rc) check_report_error(&s->r, name, off, check_code(rc));
    mem_free(text);
}

/* Counts the live keys of a merged iterator in one direction: per user key, its newest
 * version (the first one forward, the last one backward) decides. */
static int check_count_dir(iter *it, const range_del_list *rd, int backward, uint64_t *keys)
{
    buf prev = {0};
    int rc, have = 0, live = 0;
    *keys = 0;
    for (rc = backward ? iter_seek_to_last(it) : iter_seek_to_first(it); rc == 0 && iter_valid(it);
         rc = backward ? iter_prev(it) : iter_next(it)) {
        size_t kl;
        const uint8_t *k = iter_key(it, &kl);
        size_t ul = ikey_user_len(kl);
        int same = have && ikey_user_cmp(k, ul, prev.data, prev.len) == 0;
        if (same && !backward) continue;
        if (!same) {
            *keys += (uint64_t)live;
            have = 1;
            buf_clear(&prev);
            if (buf_append(&prev, k, ul)) {
                rc = err_set(LAMINA_ENOMEM, "check: out of memory counting keys");
                break;
            }
        }
        /* A value a newer range tombstone covers is not live either. */
        live = ikey_type(k, kl) == IKEY_VALUE &&
               range_del_max_seq(rd, k, ul, IKEY_MAX_SEQ) < ikey_seq(k, kl);
    }
    *keys += (uint64_t)live;
    if (rc == 0) rc = iter_status(it);
    buf_free(&prev);
    return rc;
}

/* Counts the live keys: the newest version of each user key over the WALs' records and every
 * run of every level, merged by internal key, forward and backward (which must agree). */
static int check_count_keys(struct check_state *s, uint64_t *keys)
{
    struct version *v = s->v;
    iter **children = NULL, *it = NULL;
    range_del_list *rd = NULL;
    size_t n = 0;
    int rc = 0;
    *keys = 0;
    size_t cap = 1;
    for (int l = 0; l < v->num_levels; l++)
        cap += v->levels[l].nruns;
    if (!(children = mem_alloc(cap * sizeof(*children)))) goto nomem;
    if (!(children[n++] = memtable_iter_create(s->mem))) goto nomem;
    struct table_read_options ro = {.verify_checksums = 1, .fill_cache = 0};
    for (int l = 0; l < v->num_levels; l++)
        for (size_t r = 0; r < v->levels[l].nruns; r++)
            if (!(children[n++] = run_iter_create(&v->levels[l].runs[r], &ro))) goto nomem;
    it = merge_iter_create(children, n);
    n = 0;
    if (!it) goto nomem;
    uint64_t back = 0;
    range_del_builder rb;
    range_del_builder_init(&rb);
    rc = memtable_range_dels(s->mem, &rb);
    for (int l = 0; rc == 0 && l < v->num_levels; l++)
        for (size_t r = 0; rc == 0 && r < v->levels[l].nruns; r++) {
            range_del_list *one = NULL;
            rc = db_range_dels_runs(&v->levels[l].runs[r], 1, &one);
            if (rc == 0) rc = range_del_builder_add_list(&rb, one);
            range_del_list_free(one);
        }
    if (rc == 0) rc = range_del_builder_finish(&rb, &rd);
    range_del_builder_free(&rb);
    if (rc) goto out;
    if ((rc = check_count_dir(it, rd, 0, keys)) == 0 &&
        (rc = check_count_dir(it, rd, 1, &back)) == 0 && back != *keys)
        rc = err_set(LAMINA_ECORRUPT, "%" PRIu64 " keys forward but %" PRIu64 " backward", *keys,
                     back);
    goto out;
nomem:
    rc = err_set(LAMINA_ENOMEM, "check: out of memory counting keys");
out:
    for (size_t i = 0; i < n; i++)
        iter_destroy(children[i]);
    mem_free(children);
    iter_destroy(it);
    range_del_list_free(rd);
    return rc;
}

/* The highest OPTIONS number among Lamina's (0: none). */
static uint64_t check_newest_options(const struct check_state *s)
{
    uint64_t best = 0, num;
    char kind;
    for (size_t i = 0; i < s->nnames; i++)
        if (db_parse_file_name(s->names[i], &num, &kind) && kind == 'o' && num > best &&
            !check_has_number(s->m.skipped, s->m.nskipped, num))
            best = num;
    return best;
}

/* Builds the MANIFEST's live version and opens every table of it at once, so the check reads
 * one moment of the database even while a writer in another process compacts: a table it
 * deletes later stays readable through the open file. The tables are bounded by
 * max_open_files, as a read-only open's are: past it, they are opened one at a time later.
 * *gone: tables already missing now. 0, or LAMINA_ENOMEM (a table that fails to open is left
 * for check_table to report). */
static int check_pin(struct check_state *s, size_t *gone)
{
    size_t total = s->m.live.nadded;
    int64_t max_open = s->opts.max_open_files;
    int pin = max_open < 0 || total <= (size_t)max_open;
    *gone = 0;
    version_set_init(&s->vs, s->dir, NULL, COMPACTION_MAX_LEVELS);
    if (max_open >= 0 && max_open < 20) max_open = 20;
    if (pin && total > (size_t)max_open) max_open = (int64_t)total;
    if (!(s->vs.tables = table_cache_create(s->dir, max_open, NULL, 0)))
        return err_set(LAMINA_ENOMEM, "check: out of memory");
    int rc = version_set_create_empty(&s->vs);
    if (rc == 0) rc = version_apply(s->vs.current, &s->m.live, 0, &s->v);
    if (rc || !pin || !total) return rc;
    if (!(s->pinned = mem_calloc(total, sizeof(*s->pinned))))
        return err_set(LAMINA_ENOMEM, "check: out of memory");
    for (size_t i = 0; i < total; i++) {
        uint64_t number = s->m.live.added[i].file_number;
        if (table_cache_get(s->vs.tables, number, 0, &s->pinned[s->npinned]) == 0) {
            s->npinned++;
            continue;
        }
        char path[DB_PATH_MAX + 32];
        db_file_name(path, sizeof(path), s->dir, number, "sst");
        if (!file_exists(path)) (*gone)++;
    }
    return 0;
}

static void check_unpin(struct check_state *s)
{
    for (size_t i = 0; i < s->npinned; i++)
        table_unref(s->pinned[i]);
    mem_free(s->pinned);
    s->pinned = NULL;
    s->npinned = 0;
    version_unref(s->v);
    s->v = NULL;
    version_set_close(&s->vs);
    if (s->vs.tables) table_cache_destroy(s->vs.tables);
    s->vs.tables = NULL;
}

/* Whether CURRENT still names MANIFEST-number and that file is still `size` bytes: if not, a
 * writer moved on while the check read. */
static int check_manifest_moved(const struct check_state *s, uint64_t size)
{
    struct check_reporter quiet;
    check_reporter_init(&quiet, s->dir, NULL, NULL);
    int current_ok;
    uint64_t now = 0;
    char path[DB_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/MANIFEST-%06" PRIu64, s->dir, s->m.number);
    return check_pick_manifest(s->dir, s->names, s->nnames, &quiet, &current_ok) != s->m.number ||
           !current_ok || file_size(path, &now) != 0 || now != size;
}

/* Whether a WAL the MANIFEST records as live is gone. */
static int check_wal_gone(const struct check_state *s, const uint64_t *wals, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char path[DB_PATH_MAX + 32];
        db_file_name(path, sizeof(path), s->dir, wals[i], "log");
        if (!file_exists(path)) return 1;
    }
    return 0;
}

static int check_run(struct check_state *s, lamina_check_stats *st)
{
    int current_ok, rc;
    uint64_t *live_wals = NULL;
    size_t nlive = 0;
    uint64_t mnum = check_pick_manifest(s->dir, s->names, s->nnames, &s->r, &current_ok);
    uint64_t msize = 0;
    if (mnum) {
        char mpath[DB_PATH_MAX + 32];
        snprintf(mpath, sizeof(mpath), "%s/MANIFEST-%06" PRIu64, s->dir, mnum);
        (void)file_size(mpath, &msize);
        s->mnum = mnum;
        s->msize = msize;
        if ((rc = check_manifest_read(s->dir, mnum, &s->r, &s->m)) == LAMINA_ENOMEM) return rc;
        char name[40];
        snprintf(name, sizeof(name), "MANIFEST-%06" PRIu64, mnum);
        if (rc == 0 && (!s->m.has_log_number || !s->m.has_next_file))
            check_report(
                &s->r, name, UINT64_MAX, LAMINA_ECORRUPT, "%s (%" PRIu64 " records read clean)",
                s->m.records ? "no log number or next file number recorded" : "holds no edit",
                s->m.records);
    } else {
        memset(&s->m, 0, sizeof(s->m));
        check_report(&s->r, "CURRENT", UINT64_MAX, LAMINA_ECORRUPT,
                     "no MANIFEST in the directory: the tables cannot be accounted for");
    }
    st->manifest_records = s->m.records;
    size_t gone = 0;
    if ((rc = check_pin(s, &gone))) return rc;
    if ((rc = check_live_wals(s, &live_wals, &nlive))) return rc;
    /* A file the MANIFEST names but a writer already removed, with the MANIFEST moved on since:
     * this read raced the writer, not damage. Nothing reported yet: the caller reads again. */
    if ((gone || check_wal_gone(s, live_wals, nlive)) && !s->r.problems && !s->r.notes &&
        mnum && check_manifest_moved(s, msize)) {
        mem_free(live_wals);
        return CHECK_RACED;
    }
    /* The WALs first, while they are surely there; then the tables, pinned. */
    if (!(s->mem = memtable_create(MEMTABLE_AVL)))
        return err_set(LAMINA_ENOMEM, "check: out of memory");
    for (size_t i = 0; rc == 0 && i < nlive; i++)
        rc = check_wal(s, live_wals[i], i + 1 == nlive);
    /* Tables in file-number order: the order they were written. */
    for (size_t i = 0; rc == 0 && i < s->m.live.nadded; i++)
        check_table(s, &s->m.live.added[i]);
    uint64_t options = check_newest_options(s);
    if (rc == 0 && options) check_options_file(s, options);
    if (rc == 0) check_directory(s, live_wals, nlive, options);
    mem_free(live_wals);
    if (rc) return rc;
    if (!s->r.problems && (rc = check_count_keys(s, &st->keys))) {
        if (rc == LAMINA_ENOMEM) return rc;
        check_report_error(&s->r, "", UINT64_MAX, rc);
    }
    return 0;
}

LAMINA_API int lamina_check(const char *path, const lamina_options *opts, lamina_report_fn report,
                            void *ctx, lamina_check_stats *stats)
{
    int rc = check_args("lamina_check", path, stats);
    if (rc) return rc;
    struct check_state *s = mem_calloc(1, sizeof(*s));
    if (!s) return err_set(LAMINA_ENOMEM, "lamina_check: out of memory");
    lamina_check_stats st;
    memset(&st, 0, sizeof(st));
    snprintf(s->dir, sizeof(s->dir), "%s", path);
    if ((rc = options_copy(&s->opts, opts))) goto out;
    /* A run that met a table or WAL a writer had already replaced, or found problems while the
     * MANIFEST moved on under it, may have seen a change half made: it is run again from the
     * directory listing, and its findings are reported only from the run that stands. Real
     * damage is found by every run. */
    for (int attempt = 1;; attempt++) {
        check_reporter_init(&s->r, s->dir, check_keep_finding, s);
        if ((rc = check_list_database(path, &s->names, &s->nnames))) goto out;
        rc = check_run(s, &st);
        int raced = rc == CHECK_RACED ||
                    (rc == 0 && s->r.problems && s->mnum && check_manifest_moved(s, s->msize));
        if (!raced || attempt == CHECK_ATTEMPTS) break;
        check_drop_findings(s);
        check_unpin(s);
        if (s->mem) memtable_unref(s->mem);
        s->mem = NULL;
        check_manifest_free(&s->m);
        memset(&s->m, 0, sizeof(s->m));
        dir_list_free(s->names, s->nnames);
        s->names = NULL;
        s->nnames = 0;
        memset(&st, 0, sizeof(st));
        s->tables = s->table_entries = s->wals = s->wal_records = 0;
        s->mnum = s->msize = 0;
        struct timespec pause = {0, CHECK_PAUSE_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (rc == CHECK_RACED) {
        rc = err_set(LAMINA_EBUSY,
                     "%s: a writer changed the database during each of %d attempts to read it",
                     path, CHECK_ATTEMPTS);
        goto out;
    }
    if (s->found_oom && rc == 0) rc = err_set(LAMINA_ENOMEM, "lamina_check: out of memory");
    if (report)
        for (size_t i = 0; i < s->nfound; i++)
            report(ctx, s->found[i].file, s->found[i].offset, s->found[i].code,
                   s->found[i].what);
    if (rc) goto out;
    st.tables = s->tables;
    st.table_entries = s->table_entries;
    st.wals = s->wals;
    st.wal_records = s->wal_records;
    st.problems = s->r.problems;
    st.notes = s->r.notes;
    rc = check_reporter_status(&s->r);
out:
    if (stats) check_copy_stats(stats, &st, sizeof(st));
    if (s->mem) memtable_unref(s->mem);
    check_drop_findings(s);
    mem_free(s->found);
    check_unpin(s);
    check_manifest_free(&s->m);
    dir_list_free(s->names, s->nnames);
    mem_free(s);
    return rc;
}
