/* version_edit.c — encoding of a version edit as one MANIFEST record of tagged fields (after
 * LevelDB's VersionEdit, with a "safe to ignore" tag range so the format can grow, as RocksDB's
 * kTagSafeIgnoreMask). Byte layout in docs/format.md, Part 1 §3. */
#include "engine/version_edit.h"
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/ikey.h"

enum {
    EDIT_LOG_NUMBER = 1,
    EDIT_NEXT_FILE = 2,
    EDIT_LAST_SEQ = 3,
    EDIT_NEXT_RUN = 4,
    EDIT_DELETED_FILE = 5,
    EDIT_ADDED_FILE = 6,
    EDIT_FIRST_SAFE_TAG = 64, /* tags from here on carry a varint length and may be skipped */
    EDIT_IDENTITY = 64,       /* lenbytes "lamina" */
    EDIT_WAL_ADDED = 65,      /* lenbytes holding one varint: the WAL's number */
    EDIT_WALS_TRACKED = 66,   /* lenbytes, empty */
    EDIT_SKIPPED = 67,        /* lenbytes holding one varint: a number never allocated */
    EDIT_STATS = 68,          /* lenbytes: statistics deltas (edit_stats_encode) */
    EDIT_RANGE_DEL_FILE = 69, /* lenbytes holding one varint: an added table that holds range
                                 tombstones (after its EDIT_ADDED_FILE) */
};

static const char edit_identity[] = "lamina";
#define EDIT_IDENTITY_LEN (sizeof(edit_identity) - 1)

/* Levels beyond this are corrupt (num_levels is at most 20). */
#define EDIT_MAX_LEVEL 64

void version_edit_init(struct version_edit *e)
{
    memset(e, 0, sizeof(*e));
}

void version_edit_free(struct version_edit *e)
{
    for (size_t i = 0; i < e->nadded; i++) {
        mem_free(e->added[i].smallest);
        mem_free(e->added[i].largest);
    }
    mem_free(e->added);
    mem_free(e->deleted);
    mem_free(e->wals_added);
    mem_free(e->skipped);
    version_edit_init(e);
}

void edit_stats_add(struct edit_stats *total, const struct edit_stats *d)
{
    total->user_bytes += d->user_bytes;
    total->flush_bytes += d->flush_bytes;
    total->flush_count += d->flush_count;
    total->flush_micros += d->flush_micros;
    for (int l = 0; l < EDIT_STATS_LEVELS; l++) {
        total->level[l].bytes_read += d->level[l].bytes_read;
        total->level[l].bytes_written += d->level[l].bytes_written;
        total->level[l].count += d->level[l].count;
        total->level[l].micros += d->level[l].micros;
    }
}

static int edit_level_stats_empty(const struct edit_level_stats *s)
{
    return !s->bytes_read && !s->bytes_written && !s->count && !s->micros;
}

int edit_stats_empty(const struct edit_stats *s)
{
    if (s->user_bytes || s->flush_bytes || s->flush_count || s->flush_micros) return 0;
    for (int l = 0; l < EDIT_STATS_LEVELS; l++)
        if (!edit_level_stats_empty(&s->level[l])) return 0;
    return 1;
}

static int edit_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = mem_realloc(*arr, ncap * elem);
    if (!p) return err_set(LAMINA_ENOMEM, "version edit: no memory for %zu entries", ncap);
    *arr = p;
    *cap = ncap;
    return 0;
}

static uint8_t *edit_dup(const uint8_t *p, size_t n)
{
    uint8_t *d = mem_alloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

int version_edit_add_file(struct version_edit *e, const struct edit_file *f)
{
    void *arr = e->added;
    int rc = edit_grow(&arr, &e->cap_added, e->nadded, sizeof(*e->added));
    e->added = arr;
    if (rc) return rc;
    struct edit_file c = *f;
    c.smallest = edit_dup(f->smallest, f->smallest_len);
    c.largest = edit_dup(f->largest, f->largest_len);
    if (!c.smallest || !c.largest) {
        mem_free(c.smallest);
        mem_free(c.largest);
        return err_set(LAMINA_ENOMEM, "version edit: no memory for the keys of table %llu",
                       (unsigned long long)f->file_number);
    }
    e->added[e->nadded++] = c;
    return 0;
}

int version_edit_delete_file(struct version_edit *e, int level, uint64_t file_number)
{
    void *arr = e->deleted;
    int rc = edit_grow(&arr, &e->cap_deleted, e->ndeleted, sizeof(*e->deleted));
    e->deleted = arr;
    if (rc) return rc;
    e->deleted[e->ndeleted].level = level;
    e->deleted[e->ndeleted].file_number = file_number;
    e->ndeleted++;
    return 0;
}

static int edit_push_number(uint64_t **arr, size_t *n, size_t *cap, uint64_t v)
{
    void *p = *arr;
    int rc = edit_grow(&p, cap, *n, sizeof(**arr));
    *arr = p;
    if (rc) return rc;
    (*arr)[(*n)++] = v;
    return 0;
}

int version_edit_add_wal(struct version_edit *e, uint64_t number)
{
    return edit_push_number(&e->wals_added, &e->nwals_added, &e->cap_wals_added, number);
}

int version_edit_add_skipped(struct version_edit *e, uint64_t number)
{
    return edit_push_number(&e->skipped, &e->nskipped, &e->cap_skipped, number);
}

/* A safe-range field holding one varint. */
static int edit_put_number_field(buf *out, uint64_t tag, uint64_t v)
{
    uint8_t b[10];
    size_t n = coding_put_varint64(b, v);
    int rc = buf_append_varint(out, tag);
    return rc ? rc : buf_append_lenbytes(out, b, n);
}

void version_edit_remove_added(struct version_edit *e, size_t i)
{
    mem_free(e->added[i].smallest);
    mem_free(e->added[i].largest);
    e->added[i] = e->added[--e->nadded];
}

static int edit_put_field(buf *out, uint64_t tag, uint64_t v)
{
    int rc = buf_append_varint(out, tag);
    return rc ? rc : buf_append_varint(out, v);
}

/* The EDIT_STATS payload: user bytes, flush bytes, flush count, flush micros, then for each
 * level with work: level, bytes read, bytes written, count, micros (all varints). */
static int edit_put_stats(buf *out, const struct edit_stats *s)
{
    buf p = {0};
    int rc = buf_append_varint(&p, s->user_bytes);
    if (rc == 0) rc = buf_append_varint(&p, s->flush_bytes);
    if (rc == 0) rc = buf_append_varint(&p, s->flush_count);
    if (rc == 0) rc = buf_append_varint(&p, s->flush_micros);
    for (int l = 0; rc == 0 && l < EDIT_STATS_LEVELS; l++) {
        const struct edit_level_stats *ls = &s->level[l];
        if (edit_level_stats_empty(ls)) continue;
        if ((rc = buf_append_varint(&p, (uint64_t)l)) ||
            (rc = buf_append_varint(&p, ls->bytes_read)) ||
            (rc = buf_append_varint(&p, ls->bytes_written)) ||
            (rc = buf_append_varint(&p, ls->count)) || (rc = buf_append_varint(&p, ls->micros)))
            break;
    }
    if (rc == 0) rc = buf_append_varint(out, EDIT_STATS);
    if (rc == 0) rc = buf_append_lenbytes(out, p.data, p.len);
    buf_free(&p);
    return rc;
}

int version_edit_encode(const struct version_edit *e, buf *out)
{
    int rc = 0;
    if (e->has_log_number && (rc = edit_put_field(out, EDIT_LOG_NUMBER, e->log_number))) goto nomem;
    if (e->has_next_file && (rc = edit_put_field(out, EDIT_NEXT_FILE, e->next_file_number)))
        goto nomem;
    if (e->has_last_seq && (rc = edit_put_field(out, EDIT_LAST_SEQ, e->last_sequence))) goto nomem;
    if (e->has_next_run && (rc = edit_put_field(out, EDIT_NEXT_RUN, e->next_run))) goto nomem;
    for (size_t i = 0; i < e->ndeleted; i++) {
        const struct edit_deleted *d = &e->deleted[i];
        if ((rc = edit_put_field(out, EDIT_DELETED_FILE, (uint64_t)d->level)) ||
            (rc = buf_append_varint(out, d->file_number)))
            goto nomem;
    }
    for (size_t i = 0; i < e->nadded; i++) {
        const struct edit_file *f = &e->added[i];
        if ((rc = edit_put_field(out, EDIT_ADDED_FILE, (uint64_t)f->level)) ||
            (rc = buf_append_varint(out, f->run)) ||
            (rc = buf_append_varint(out, f->file_number)) ||
            (rc = buf_append_varint(out, f->file_size)) ||
            (rc = buf_append_varint(out, f->entries)) ||
            (rc = buf_append_lenbytes(out, f->smallest, f->smallest_len)) ||
            (rc = buf_append_lenbytes(out, f->largest, f->largest_len)) ||
            (rc = buf_append_varint(out, f->smallest_seq)) ||
            (rc = buf_append_varint(out, f->largest_seq)))
            goto nomem;
    }
    if (e->has_identity && ((rc = buf_append_varint(out, EDIT_IDENTITY)) ||
                            (rc = buf_append_lenbytes(out, edit_identity, EDIT_IDENTITY_LEN))))
        goto nomem;
    if (e->wals_tracked && (rc = edit_put_field(out, EDIT_WALS_TRACKED, 0))) goto nomem;
    for (size_t i = 0; i < e->nwals_added; i++)
        if ((rc = edit_put_number_field(out, EDIT_WAL_ADDED, e->wals_added[i]))) goto nomem;
    for (size_t i = 0; i < e->nskipped; i++)
        if ((rc = edit_put_number_field(out, EDIT_SKIPPED, e->skipped[i]))) goto nomem;
    if (e->has_stats && (rc = edit_put_stats(out, &e->stats))) goto nomem;
    for (size_t i = 0; i < e->nadded; i++)
        if (e->added[i].range_dels &&
            (rc = edit_put_number_field(out, EDIT_RANGE_DEL_FILE, e->added[i].file_number)))
            goto nomem;
    return 0;
nomem:
    return err_set(LAMINA_ENOMEM, "version edit: no memory to encode");
}

/* A decoding cursor: every read is bounded by end, and the first failure names the field. */
struct edit_cursor {
    const uint8_t *p, *start, *end;
    const char *failed;
};

static int edit_get_varint(struct edit_cursor *c, uint64_t *v, const char *field)
{
    const uint8_t *q = coding_get_varint64(c->p, c->end, v);
    if (!q) {
        c->failed = field;
        return -1;
    }
    c->p = q;
    return 0;
}

static int edit_get_level(struct edit_cursor *c, int *level, const char *field)
{
    uint64_t v;
    if (edit_get_varint(c, &v, field)) return -1;
    if (v >= EDIT_MAX_LEVEL) {
        c->failed = field;
        return -1;
    }
    *level = (int)v;
    return 0;
}

/* An internal key: at least the 8-byte trailer, so comparisons never read outside it. */
static int edit_get_key(struct edit_cursor *c, const uint8_t **k, size_t *n, const char *field)
{
    if (coding_get_lenbytes(&c->p, c->end, k, n) || *n < IKEY_TRAILER) {
        c->failed = field;
        return -1;
    }
    return 0;
}

static int edit_get_added(struct edit_cursor *c, struct version_edit *e)
{
    struct edit_file f;
    const uint8_t *smallest, *largest;
    memset(&f, 0, sizeof(f));
    if (edit_get_level(c, &f.level, "added file level") ||
        edit_get_varint(c, &f.run, "added file run") ||
        edit_get_varint(c, &f.file_number, "added file number") ||
        edit_get_varint(c, &f.file_size, "added file size") ||
        edit_get_varint(c, &f.entries, "added file entries") ||
        edit_get_key(c, &smallest, &f.smallest_len, "added file smallest key") ||
        edit_get_key(c, &largest, &f.largest_len, "added file largest key") ||
        edit_get_varint(c, &f.smallest_seq, "added file smallest sequence") ||
        edit_get_varint(c, &f.largest_seq, "added file largest sequence"))
        return LAMINA_ECORRUPT;
    f.smallest = (uint8_t *)smallest;
    f.largest = (uint8_t *)largest;
    return version_edit_add_file(e, &f);
}

/* An EDIT_STATS payload, which must parse exactly. */
static int edit_get_stats(struct edit_cursor *c, const uint8_t *data, size_t len,
                          struct version_edit *e)
{
    struct edit_cursor s = {data, data, data + len, NULL};
    struct edit_stats *st = &e->stats;
    if (edit_get_varint(&s, &st->user_bytes, "stats user bytes") ||
        edit_get_varint(&s, &st->flush_bytes, "stats flush bytes") ||
        edit_get_varint(&s, &st->flush_count, "stats flush count") ||
        edit_get_varint(&s, &st->flush_micros, "stats flush micros"))
        goto corrupt;
    while (s.p < s.end) {
        uint64_t level, v[4];
        if (edit_get_varint(&s, &level, "stats level") ||
            edit_get_varint(&s, &v[0], "stats bytes read") ||
            edit_get_varint(&s, &v[1], "stats bytes written") ||
            edit_get_varint(&s, &v[2], "stats count") || edit_get_varint(&s, &v[3], "stats micros"))
            goto corrupt;
        if (level >= EDIT_STATS_LEVELS) {
            s.failed = "stats level";
            goto corrupt;
        }
        struct edit_level_stats *ls = &st->level[level];
        ls->bytes_read += v[0];
        ls->bytes_written += v[1];
        ls->count += v[2];
        ls->micros += v[3];
    }
    e->has_stats = 1;
    return 0;
corrupt:
    c->failed = s.failed;
    return LAMINA_ECORRUPT;
}

/* A safe-range tag this reader knows: its length-prefixed payload must parse exactly. */
static int edit_get_safe_known(struct edit_cursor *c, uint64_t tag, struct version_edit *e)
{
    const uint8_t *data;
    size_t len;
    if (coding_get_lenbytes(&c->p, c->end, &data, &len)) {
        c->failed = "safe tag field";
        return LAMINA_ECORRUPT;
    }
    switch (tag) {
    case EDIT_IDENTITY:
        if (len != EDIT_IDENTITY_LEN || memcmp(data, edit_identity, len) != 0) {
            c->failed = "identity";
            return LAMINA_ECORRUPT;
        }
        e->has_identity = 1;
        return 0;
    case EDIT_WALS_TRACKED:
        if (len != 0) {
            c->failed = "WALs tracked flag";
            return LAMINA_ECORRUPT;
        }
        e->wals_tracked = 1;
        return 0;
    case EDIT_STATS:
        return edit_get_stats(c, data, len, e);
    default: { /* EDIT_WAL_ADDED, EDIT_SKIPPED, EDIT_RANGE_DEL_FILE: exactly one varint */
        uint64_t number;
        const uint8_t *q = coding_get_varint64(data, data + len, &number);
        if (!q || q != data + len) {
            c->failed = tag == EDIT_WAL_ADDED ? "added WAL number" : "skipped number";
            return LAMINA_ECORRUPT;
        }
        if (tag == EDIT_RANGE_DEL_FILE) {
            for (size_t i = 0; i < e->nadded; i++)
                if (e->added[i].file_number == number) {
                    e->added[i].range_dels = 1;
                    return 0;
                }
            c->failed = "range-deletion table not added by the edit";
            return LAMINA_ECORRUPT;
        }
        return tag == EDIT_WAL_ADDED ? version_edit_add_wal(e, number)
                                     : version_edit_add_skipped(e, number);
    }
    }
}

int version_edit_decode(struct version_edit *e, const uint8_t *p, size_t n)
{
    static const uint8_t empty[1];
    if (!p) p = empty; /* an empty record may come with no bytes at all: NULL + 0 is UB */
    struct edit_cursor c = {p, p, p + n, NULL};
    int rc = 0;
    version_edit_init(e);
    while (c.p < c.end) {
        uint64_t tag, v;
        const uint8_t *tag_at = c.p;
        if (edit_get_varint(&c, &tag, "tag")) goto corrupt;
        switch (tag) {
        case EDIT_LOG_NUMBER:
            if (edit_get_varint(&c, &e->log_number, "log number")) goto corrupt;
            e->has_log_number = 1;
            break;
        case EDIT_NEXT_FILE:
            if (edit_get_varint(&c, &e->next_file_number, "next file number")) goto corrupt;
            e->has_next_file = 1;
            break;
        case EDIT_LAST_SEQ:
            if (edit_get_varint(&c, &e->last_sequence, "last sequence")) goto corrupt;
            if (e->last_sequence > IKEY_MAX_SEQ) {
                c.failed = "last sequence";
                goto corrupt;
            }
            e->has_last_seq = 1;
            break;
        case EDIT_NEXT_RUN:
            if (edit_get_varint(&c, &e->next_run, "next run")) goto corrupt;
            e->has_next_run = 1;
            break;
        case EDIT_DELETED_FILE: {
            int level;
            if (edit_get_level(&c, &level, "deleted file level") ||
                edit_get_varint(&c, &v, "deleted file number"))
                goto corrupt;
            rc = version_edit_delete_file(e, level, v);
            if (rc) goto fail;
            break;
        }
        case EDIT_ADDED_FILE:
            rc = edit_get_added(&c, e);
            if (rc == LAMINA_ECORRUPT) goto corrupt;
            if (rc) goto fail;
            break;
        case EDIT_IDENTITY:
        case EDIT_WAL_ADDED:
        case EDIT_WALS_TRACKED:
        case EDIT_SKIPPED:
        case EDIT_STATS:
        case EDIT_RANGE_DEL_FILE:
            rc = edit_get_safe_known(&c, tag, e);
            if (rc == LAMINA_ECORRUPT) goto corrupt;
            if (rc) goto fail;
            break;
        default:
            if (tag < EDIT_FIRST_SAFE_TAG) {
                rc = err_set(LAMINA_ECORRUPT,
                             "version edit: unknown version edit tag %llu at byte %zu",
                             (unsigned long long)tag, (size_t)(tag_at - c.start));
                goto fail;
            }
            if (edit_get_varint(&c, &v, "safe tag length")) goto corrupt;
            if (v > (uint64_t)(c.end - c.p)) {
                c.failed = "safe tag field";
                goto corrupt;
            }
            c.p += v;
            break;
        }
    }
    return 0;
corrupt:
    rc = err_set(LAMINA_ECORRUPT, "version edit: bad or truncated %s at byte %zu of %zu", c.failed,
                 (size_t)(c.p - c.start), n);
fail:
    version_edit_free(e);
    return rc;
}
